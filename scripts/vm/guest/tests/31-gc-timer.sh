# The example gc timer fires and its service collects exited pods (with
# the grace period shortened by a drop-in, the only change).
. "$GUEST/lib.sh"
mkimage quick "$(app_json 'true')"
rkti run "$IMAGES/quick.aci"
uuid=$(rkt list --no-legend --full | awk '{print $1}' | head -1)
[ -n "$uuid" ]
sed 's|/usr/bin/rkt|/usr/local/bin/rkt|' "$GUEST/../units/rkt-gc.service" > /etc/systemd/system/rkt-gc.service
cp "$GUEST/../units/rkt-gc.timer" /etc/systemd/system/
mkdir -p /etc/systemd/system/rkt-gc.service.d
cat > /etc/systemd/system/rkt-gc.service.d/grace.conf <<'UNIT'
[Service]
ExecStart=
ExecStart=/usr/local/bin/rkt gc --grace-period=0s
ExecStart=/usr/local/bin/rkt image gc --grace-period=0s
UNIT
systemd-analyze verify /etc/systemd/system/rkt-gc.service /etc/systemd/system/rkt-gc.timer
systemctl daemon-reload
systemctl start rkt-gc.timer
wait_for 180 sh -c '[ "$(systemctl show -p Result --value rkt-gc.service)" = success ] && [ "$(systemctl show -p ExecMainExitTimestampMonotonic --value rkt-gc.service)" != 0 ]'
journalctl -u rkt-gc.service -o cat | grep -q "Garbage collecting pod \"$uuid\""
[ -z "$(rkt list --no-legend)" ]
systemctl stop rkt-gc.timer
