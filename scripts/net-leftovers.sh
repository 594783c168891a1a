#!/usr/bin/env bash
# The host-wide state pod networks leave by design: the CNI portmap
# plugin's shared iptables chains (CNI-HOSTPORT-*) and host-local's lease
# directories (/var/lib/cni/networks/<network>).
#   net-leftovers.sh record FILE   notes which of them exist now
#   net-leftovers.sh clean FILE    removes those made since, when unused
set -uo pipefail
leases=/var/lib/cni/networks
case "${1:-}" in
record)
  {
    iptables-save -t nat 2>/dev/null | grep -q '^:CNI-HOSTPORT-DNAT' && echo chains
    [ -d "$leases" ] && echo leases
    [ -d /var/lib/cni ] && echo cni
    ls "$leases" 2>/dev/null | sed 's/^/net /'
  } >"$2"
  ;;
clean)
  if ! grep -qx chains "$2" && iptables-save -t nat 2>/dev/null | grep -q '^:CNI-HOSTPORT-DNAT'; then
    # Only when no pod forwards a port any more (no per-pod chains).
    if ! iptables-save -t nat | grep -q '^:CNI-DN-'; then
      while iptables -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null; do :; done
      while iptables -t nat -D OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT 2>/dev/null; do :; done
      while iptables -t nat -D POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ 2>/dev/null; do :; done
      for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-MASQ CNI-HOSTPORT-SETMARK; do
        iptables -t nat -F "$c" 2>/dev/null
        iptables -t nat -X "$c" 2>/dev/null
      done
    fi
  fi
  for d in "$leases"/*; do
    [ -d "$d" ] || continue
    name=$(basename "$d")
    grep -qx "net $name" "$2" && continue
    # Only host-local's own files: no address is leased.
    if ! ls "$d" | grep -qvE '^(lock|last_reserved_ip\..*)$'; then
      rm -rf "$d"
    fi
  done
  grep -qx leases "$2" || rmdir "$leases" 2>/dev/null
  grep -qx cni "$2" || rmdir /var/lib/cni 2>/dev/null
  ;;
*)
  echo "usage: $0 record|clean FILE" >&2
  exit 2
  ;;
esac
exit 0
