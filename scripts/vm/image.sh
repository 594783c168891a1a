#!/usr/bin/env bash
# Builds (once) the guest disk image of the VM tests: Debian bookworm with
# systemd as PID 1, the packages the guest tests use, and the host's own
# kernel modules (the VM boots the host's kernel and initrd). The image
# holds no project binaries: those reach the guest through a 9p share at
# each run, so a rebuild of the project does not rebuild the image.
#
#   scripts/vm/image.sh CACHE_DIR      prints the image's path
#
# The image is cached under CACHE_DIR by a hash of this script and the
# kernel's version; it is booted read-only (qemu's snapshot=on).
set -euo pipefail
cache=${1:?usage: image.sh CACHE_DIR}
kver=$(cd /boot && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
[ -n "$kver" ] || { echo "vm: no kernel in /boot (install linux-image-amd64)" >&2; exit 1; }
key=$( (cat "$0"; echo "$kver") | sha256sum | cut -c1-16)
image="$cache/guest-$key.img"
if [ -f "$image" ]; then
  echo "$image"
  exit 0
fi
mkdir -p "$cache"
rm -f "$cache"/guest-*.img
work=$(mktemp -d "$cache/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

packages=(
  systemd systemd-sysv systemd-container udev dbus   # PID 1, machined
  kmod procps util-linux iproute2 iptables           # what stage1 and the tests use
  libseccomp2 libssl3                                # the project binaries' libraries
  containernetworking-plugins                        # the default network
  busybox-static curl python3-minimal               # test images, connections
  crun                                               # the benchmark's reference
)
echo "vm: building the guest image (Debian bookworm, once)" >&2
mmdebstrap --quiet --variant=minbase --mode=root \
  --include="$(IFS=,; echo "${packages[*]}")" \
  bookworm "$root" >&2

mkdir -p "$root/lib/modules"
cp -a "/lib/modules/$kver" "$root/lib/modules/"
echo rkt-vm > "$root/etc/hostname"
cat > "$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 rw,noatime 0 1
share /share 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0
FSTAB
mkdir -p "$root/share"
# No login prompt on the console: the harness reads it as the guest's log.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
# The guest tests: started once the system is up, then the VM powers off.
cat > "$root/etc/systemd/system/vm-tests.service" <<'UNIT'
[Unit]
Description=The project's guest tests
After=multi-user.target share.mount
Requires=share.mount

[Service]
Type=oneshot
ExecStart=/bin/bash /share/guest/run.sh /share
StandardOutput=journal+console
StandardError=journal+console
ExecStopPost=/bin/systemctl --no-block poweroff
UNIT
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sf ../vm-tests.service "$root/etc/systemd/system/multi-user.target.wants/vm-tests.service"
passwd -R "$root" -d root >/dev/null

size=$(( $(du -sm "$root" | cut -f1) + 1536 ))
truncate -s "${size}M" "$work/guest.img"
mkfs.ext4 -q -L root -d "$root" "$work/guest.img"
mv "$work/guest.img" "$image"
echo "$image"
