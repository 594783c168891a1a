# Pods run on a cgroup-v2-only host: exit statuses, the pod's cgroup below
# the caller's, nothing left after the pod.
. "$GUEST/lib.sh"
mkimage hello "$(app_json 'echo hello from the pod; cat /proc/self/cgroup')"
mkimage exit7 "$(app_json 'exit 7')"

out=$(rkti run "$IMAGES/hello.aci")
echo "$out"
grep -q 'hello from the pod' <<< "$out"
status=0; rkti run "$IMAGES/exit7.aci" || status=$?
[ "$status" -eq 7 ]
# A pod too short for machined's registration says nothing of it.
mkimage true "$(app_json 'true')"
err=$(rkt --insecure-options=image run "$IMAGES/true.aci" 2>&1 > /dev/null)
[ -z "$err" ] || { echo "stderr: $err"; false; }

# Inside a delegated unit, the pod's cgroup is the unit's child.
out=$(in_unit hello -- rkt --insecure-options=image run "$IMAGES/hello.aci")
echo "$out"
grep -q '^0::/system.slice/hello.service/rkt-.*/hello$' <<< "$out"
no_pod_cgroups
rkt gc --grace-period=0s
no_pod_cgroups
