# Type=notify: the unit becomes active when the pod's apps have started,
# which the supervisor (the unit's main process) tells systemd.
. "$GUEST/lib.sh"
mkimage ready "$(app_json 'echo up; sleep 120')"
trap 'systemctl stop ready.service 2>/dev/null || true' EXIT
systemd-run --quiet --unit=ready --service-type=notify -p Delegate=yes -p TimeoutStartSec=240 \
  rkt --insecure-options=image run "$IMAGES/ready.aci"
# systemd-run returns once the unit is active, that is, once READY=1 came.
[ "$(systemctl show -p ActiveState --value ready.service)" = active ]
wait_for 30 sh -c 'journalctl -u ready.service -o cat | grep -q up'
systemctl stop ready.service
no_pod_cgroups
