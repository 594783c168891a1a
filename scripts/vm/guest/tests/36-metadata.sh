# The example metadata service units: the socket unit starts the service
# on the first registration, a pod on the default network reads its own
# UUID from it, and both units stop with nothing left behind.
. "$GUEST/lib.sh"
mkimage whoami "$(app_json 'busybox wget -q -O - "$AC_METADATA_URL/acMetadata/v1/pod/uuid"; echo')"
for u in rkt-metadata.socket rkt-metadata.service; do
  sed 's|/usr/bin/rkt|/usr/local/bin/rkt|' "$GUEST/../units/$u" > "/etc/systemd/system/$u"
done
trap 'systemctl stop rkt-metadata.service rkt-metadata.socket 2>/dev/null || true' EXIT
systemd-analyze verify /etc/systemd/system/rkt-metadata.socket /etc/systemd/system/rkt-metadata.service
systemctl daemon-reload
systemctl start rkt-metadata.socket
[ -S /run/rkt/metadata-svc.sock ]
[ "$(stat -c %a /run/rkt/metadata-svc.sock)" = 600 ]
[ "$(systemctl is-active rkt-metadata.service)" = inactive ]
out=$(rkti run --mds-register --uuid-file-save=/tmp/whoami.uuid "$IMAGES/whoami.aci")
[ "$(systemctl is-active rkt-metadata.service)" = active ]
uuid=$(cat /tmp/whoami.uuid)
grep -qx "$uuid" <<< "$out"
journalctl -u rkt-metadata.service -o cat | grep -q "registered pod $uuid"
journalctl -u rkt-metadata.service -o cat | grep -q "unregistered pod $uuid"
systemctl stop rkt-metadata.service rkt-metadata.socket
[ ! -e /run/rkt/metadata-svc.sock ]
rkt gc --grace-period=0s
no_pod_cgroups
