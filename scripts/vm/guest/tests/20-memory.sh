# resource/memory on v2: memory.max and memory.swap.max are set; an app
# over its limit is OOM-killed, all of it (memory.oom.group), and the pod
# says so.
. "$GUEST/lib.sh"
mem='[{"name": "resource/memory", "value": {"limit": "32Mi"}}]'
mkimage hog "$(app_json 'echo started; head -c 200000000 /dev/zero | tail -n 1 > /dev/null; echo survived' "$mem")"
mkimage idle "$(app_json 'sleep 60' "$mem")"

pod_unit idle idle
[ "$(cat "$dir/memory.max")" = 33554432 ]
[ "$(cat "$dir/memory.swap.max")" = 0 ]
[ "$(cat "$dir/memory.oom.group")" = 1 ]
# The controllers are the pod's and its apps', and no process is in a
# cgroup that hands them down.
grep -qw memory "$(dirname "$dir")/cgroup.subtree_control"
[ -z "$(cat "$(dirname "$dir")/cgroup.procs")" ]
systemctl stop idle.service

status=0
out=$(in_unit hog -- rkt --insecure-options=image run "$IMAGES/hog.aci" 2>&1) || status=$?
echo "$out"
echo "status $status"
[ "$status" -eq 137 ]
grep -q started <<< "$out"
refute grep -q survived <<< "$out"
grep -q 'app hog: killed by the kernel for going over its memory limit' <<< "$out"
no_pod_cgroups
