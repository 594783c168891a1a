# A pod per unit, as examples/systemd has it: the app's output in the
# unit's journal, `systemctl stop` graceful (the app sees SIGTERM) with no
# process or cgroup left, the pod's exit status as the unit's, Restart=.
. "$GUEST/lib.sh"
mkimage svc "$(app_json 'trap "echo got SIGTERM; exit 0" TERM; echo serving; while :; do sleep 1; done')"
mkimage fails "$(app_json 'echo failing; exit 3')"
unit() {
  cat > "/etc/systemd/system/$1.service" <<UNIT
[Service]
ExecStart=/usr/local/bin/rkt --insecure-options=image run $2
KillMode=mixed
Delegate=yes
$3
UNIT
}
unit svc "$IMAGES/svc.aci" "Restart=no"
unit fails "$IMAGES/fails.aci" "Restart=on-failure
RestartSec=2"
systemctl daemon-reload
trap 'systemctl stop svc.service fails.service 2>/dev/null || true' EXIT

systemctl start svc.service
wait_for 180 sh -c 'journalctl -u svc.service -o cat | grep -q serving'
main=$(systemctl show -p MainPID --value svc.service)
grep -q "^0::/system.slice/svc.service/rkt-.*/_stage1$\|^0::/system.slice/svc.service$" "/proc/$main/cgroup"
cgroup=/sys/fs/cgroup/system.slice/svc.service
systemctl stop svc.service
journalctl -u svc.service -o cat | grep -q 'got SIGTERM'
[ "$(systemctl show -p Result --value svc.service)" = success ]
[ ! -d "$cgroup" ] || [ -z "$(find "$cgroup" -name cgroup.procs -exec cat {} +)" ]
refute kill -0 "$main" 2>/dev/null

# The app's exit status is the unit's; Restart= restarts the pod.
systemctl start fails.service || true
restarted() {
  [ "$(systemctl show -p NRestarts --value fails.service)" -ge 1 ] &&
    [ "$(systemctl show -p SubState --value fails.service)" = auto-restart ] &&
    [ "$(systemctl show -p ExecMainStatus --value fails.service)" = 3 ]
}
wait_for 180 restarted
systemctl stop fails.service
journalctl -u fails.service -o cat | grep -q failing
rkt gc --grace-period=0s
no_pod_cgroups
