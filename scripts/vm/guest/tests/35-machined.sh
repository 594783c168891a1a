# Registration with systemd-machined: `machinectl list` shows a running
# pod as rkt-<uuid>, with the pod's init as its leader, until it ends.
. "$GUEST/lib.sh"
mkimage machine "$(app_json 'sleep 120')"
trap 'systemctl stop machine.service 2>/dev/null || true' EXIT
systemd-run --quiet --unit=machine -p Delegate=yes rkt --insecure-options=image run "$IMAGES/machine.aci"
registered() { machinectl list --no-legend | grep -q '^rkt-'; }
wait_for 180 registered
machinectl list --no-legend
name=$(machinectl list --no-legend | awk '/^rkt-/ {print $1}')
uuid=${name#rkt-}
[ "$(machinectl show "$name" -p Class --value)" = container ]
wait_for 60 test -s /var/lib/rkt/pods/run/"$uuid"/pid
leader=$(machinectl show "$name" -p Leader --value)
[ "$leader" = "$(cat /var/lib/rkt/pods/run/"$uuid"/pid)" ]
systemctl stop machine.service
wait_for 60 sh -c '! machinectl list --no-legend | grep -q "^rkt-"'
no_pod_cgroups
# A pod that ends while its unit (this test's) goes on is unregistered
# by the pod itself: machined would keep it until the unit stops.
mkimage brief "$(app_json 'sleep 15')"
rkt --insecure-options=image run "$IMAGES/brief.aci" > /tmp/brief.log 2>&1 &
brief=$!
wait_for 180 registered
wait "$brief"
if grep -i machined /tmp/brief.log; then exit 1; fi
wait_for 30 sh -c '! machinectl list --no-legend | grep -q "^rkt-"'
no_pod_cgroups
