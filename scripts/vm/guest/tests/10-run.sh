# Pods run on a cgroup-v2-only host: exit statuses, the pod's cgroup below
# the caller's, nothing left after the pod.
. "$GUEST/lib.sh"
mkimage hello "$(app_json 'echo hello from the pod; cat /proc/self/cgroup')"
mkimage exit7 "$(app_json 'exit 7')"

out=$(rkti run "$IMAGES/hello.aci")
echo "$out"
grep -q 'hello from the pod' <<< "$out"
# The first process of a pod starts in its cgroup from a directory the
# init holds only until then: nothing in the pod holds a directory of the
# host's cgroup hierarchy, even an app allowed to trace the init.
ptrace='[{"name": "os/linux/capabilities-retain-set", "value": {"set": ["CAP_SYS_PTRACE"]}}]'
mkimage fds "$(app_json 'ls /proc/1/fd > /dev/null && echo listed; for fd in /proc/1/fd/* /proc/self/fd/*; do [ -d "$fd" ] && echo "holds $fd: $(readlink "$fd")"; done; cat /proc/self/cgroup' "$ptrace")"
out=$(rkti run "$IMAGES/fds.aci" --caps-retain=CAP_SYS_PTRACE)
echo "$out"
grep -q '^listed' <<< "$out"
refute grep -q '^holds' <<< "$out"
grep -q '^0::/.*/rkt-.*/fds$' <<< "$out"
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
