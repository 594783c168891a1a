# Socket activation: a .socket unit's listener reaches the app whose image
# declares a socket-activated port, with LISTEN_FDS and LISTEN_PID as the
# app sees them; the app answers a connection made before it ran.
. "$GUEST/lib.sh"
mkimage sock '{"exec": ["/bin/accept"], "user": "0", "group": "0",
  "ports": [{"name": "http", "protocol": "tcp", "port": 80, "socketActivated": true}]}' \
  "$GUEST/accept"
cat > /etc/systemd/system/podsock.socket <<'UNIT'
[Socket]
ListenStream=127.0.0.1:8123
UNIT
cat > /etc/systemd/system/podsock.service <<UNIT
[Service]
ExecStart=/usr/local/bin/rkt --insecure-options=image run --net=host $IMAGES/sock.aci
KillMode=mixed
Delegate=yes
UNIT
systemctl daemon-reload
trap 'systemctl stop podsock.socket podsock.service 2>/dev/null || true' EXIT
systemctl start podsock.socket
answer=$(curl -s --max-time 240 telnet://127.0.0.1:8123 < /dev/null || true)
journalctl -u podsock.service -o cat
[ "$answer" = activated ]
wait_for 60 sh -c 'journalctl -u podsock.service -o cat | grep -q "answered one connection"'
