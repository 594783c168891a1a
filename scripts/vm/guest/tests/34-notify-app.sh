# Type=notify with an app that notifies systemd itself (its image says
# appc.io/executor/supports-systemd-notify=true): the unit becomes active
# when the app says READY=1, not before; its status is relayed, a
# MAINPID= it sends is not.
. "$GUEST/lib.sh"
ANNOTATIONS='[{"name": "appc.io/executor/supports-systemd-notify", "value": "true"}]' \
  mkimage selfnotify '{"exec": ["/bin/notify"], "user": "0", "group": "0"}' "$GUEST/notify"
actool cat-manifest "$IMAGES/selfnotify.aci" | grep -q supports-systemd-notify
trap 'systemctl stop selfnotify.service 2>/dev/null || true' EXIT
systemd-run --quiet --unit=selfnotify --service-type=notify -p Delegate=yes -p TimeoutStartSec=240 \
  rkt --insecure-options=image run "$IMAGES/selfnotify.aci"
[ "$(systemctl show -p ActiveState --value selfnotify.service)" = active ]
wait_for 30 sh -c "journalctl -u selfnotify.service -o cat | grep -q 'sending READY from /run/systemd/notify'"
# Active only after the app said it was about to be ready.
said=$(journalctl -u selfnotify.service -o json | grep 'sending READY' \
  | grep -o '"__MONOTONIC_TIMESTAMP":"[0-9]*"' | grep -o '[0-9]*')
active=$(systemctl show -p ActiveEnterTimestampMonotonic --value selfnotify.service)
echo "said at $said, active at $active"
[ "$said" -lt "$active" ]
[ "$(systemctl show -p StatusText --value selfnotify.service)" = "app ready" ]
main=$(systemctl show -p MainPID --value selfnotify.service)
[ "$main" -gt 1 ]
grep -q selfnotify.service "/proc/$main/cgroup"
systemctl stop selfnotify.service
no_pod_cgroups
