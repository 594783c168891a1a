# The device allow-list on v2 is a cgroup device program: apps get
# CAP_MKNOD back, and may make and open only the safe nodes.
. "$GUEST/lib.sh"
disk=$(cat /sys/block/vda/dev)
mkimage dev "$(app_json "
grep CapBnd /proc/self/status
mknod /tmp/disk b ${disk%%:*} ${disk##*:} && echo made the node
if head -c 512 /tmp/disk > /dev/null; then echo read the disk; fi
if echo x > /dev/null && head -c 1 /dev/urandom > /dev/null; then echo safe devices open; fi
mknod /tmp/mem c 1 1 && if head -c 1 /tmp/mem > /dev/null; then echo read kernel memory; fi
mknod /tmp/null c 1 3 && echo x > /tmp/null && echo made a safe node
true")"
out=$(in_unit dev -- rkt --insecure-options=image run "$IMAGES/dev.aci" 2>&1)
echo "$out"
# CAP_MKNOD is capability 27.
bnd=$(awk '/CapBnd/ {print $2}' <<< "$out")
[ $(( 0x$bnd >> 27 & 1 )) -eq 1 ]
refute grep -q 'made the node' <<< "$out"
grep -q 'made a safe node' <<< "$out"
grep -q 'safe devices open' <<< "$out"
refute grep -q 'read the disk' <<< "$out"
refute grep -q 'read kernel memory' <<< "$out"
no_pod_cgroups
