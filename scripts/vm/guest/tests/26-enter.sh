# rkt enter on v2: the entered command joins the app's cgroup (and so its
# limits and device program); rkt gc removes the pod's cgroups after a
# supervisor killed with SIGKILL could not.
. "$GUEST/lib.sh"
mkimage entered "$(app_json 'sleep 120' '[{"name": "resource/memory", "value": {"limit": "48Mi"}}]')"
pod_unit entered entered
uuid=$(basename "$(dirname "$dir")"); uuid=${uuid#rkt-}
out=$(rkt enter "$uuid" /bin/sh -c 'cat /proc/self/cgroup; head -c 1 /dev/urandom > /dev/null && echo urandom opens')
echo "$out"
grep -q "^0::/system.slice/entered.service/rkt-$uuid/entered$" <<< "$out"
grep -q 'urandom opens' <<< "$out"
systemctl stop entered.service
no_pod_cgroups

# A supervisor killed outright leaves its pod's cgroup to rkt gc.
mkimage sleeper "$(app_json 'sleep 120')"
rkt --insecure-options=image run "$IMAGES/sleeper.aci" > /dev/null 2>&1 &
supervisor=$!
pod_found() { [ -n "$(find /sys/fs/cgroup/system.slice/vm-tests.service -maxdepth 2 -type d -path '*/rkt-*/sleeper')" ]; }
wait_for 180 pod_found
kill -KILL "$supervisor"
wait "$supervisor" || true
[ -n "$(pod_cgroups)" ]
wait_for 60 sh -c '! rkt list --no-legend | grep -q running'
rkt gc --grace-period=0s
no_pod_cgroups
