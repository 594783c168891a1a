# A limit the host cannot enforce for us is refused, naming the controller
# and how to delegate it; nothing runs unlimited.
. "$GUEST/lib.sh"
mkimage limited "$(app_json 'echo ran' '[{"name": "resource/memory", "value": {"limit": "64Mi"}}]')"
mkimage cpulimited "$(app_json 'echo ran' '[{"name": "resource/cpu", "value": {"limit": "100m"}}]')"

# This test's own service holds this shell: its cgroup cannot hand
# controllers down.
status=0
out=$(rkti run "$IMAGES/limited.aci" 2>&1) || status=$?
echo "$out"
[ "$status" -eq 254 ]
refute grep -q '^ran' <<< "$out"
grep -q 'cannot hand the cgroup memory controller to the pod: .* holds other processes (run rkt in its own systemd unit with Delegate=yes' <<< "$out"

# A cgroup that was handed the memory controller only: a CPU limit is
# refused there.
base=/sys/fs/cgroup/refuse-test
mkdir -p "$base/leaf"
trap 'rmdir "$base/leaf" "$base" 2>/dev/null || true' EXIT
echo +memory > "$base/cgroup.subtree_control"
status=0
out=$(sh -c "echo \$\$ > $base/leaf/cgroup.procs && exec rkt --insecure-options=image run $IMAGES/cpulimited.aci" 2>&1) || status=$?
echo "$out"
[ "$status" -eq 254 ]
refute grep -q '^ran' <<< "$out"
grep -q "the cgroup cpu controller is not delegated to $base/leaf (run rkt in its own systemd unit with Delegate=yes" <<< "$out"
[ -z "$(find "$base" -mindepth 2 -type d)" ]
rkt gc --grace-period=0s
no_pod_cgroups
