# Limits set on the unit bound the whole pod, whose cgroup is below the
# unit's: a fork bomb stops at TasksMax (pids.max), an app over MemoryMax
# is OOM-killed, a CPU-bound app gets no more than CPUQuota.
. "$GUEST/lib.sh"
mkimage bomb "$(app_json 'n=0; while [ $n -lt 200 ]; do sleep 30 & n=$((n + 1)); done; echo all 200 started')"
status=0
out=$(in_unit bomb -p TasksMax=40 -- rkt --insecure-options=image run "$IMAGES/bomb.aci" 2>&1) || status=$?
echo "$out"
refute grep -q 'all 200 started' <<< "$out"
grep -qi "can't fork\|resource temporarily unavailable" <<< "$out"

mkimage unithog "$(app_json 'echo started; head -c 200000000 /dev/zero | tail -n 1 > /dev/null && echo survived')"
status=0
out=$(in_unit unithog -p MemoryMax=32M -p MemorySwapMax=0 -- rkt --insecure-options=image run "$IMAGES/unithog.aci" 2>&1) || status=$?
echo "$out"
echo "status $status"
[ "$status" -ne 0 ]
grep -q started <<< "$out"
refute grep -q survived <<< "$out"

mkimage unitspin "$(app_json 'while :; do :; done')"
pod_unit unitspin unitspin -p CPUQuota=20%
share=$(cpu_share "$dir")
echo "cpu used under CPUQuota=20%: $share% of one CPU"
[ "$share" -le 25 ]
systemctl stop unitspin.service
no_pod_cgroups
