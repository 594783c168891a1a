#!/usr/bin/env bash
# Assembles the example image layout in DIR: examples/hello/manifest plus a
# rootfs holding Debian's busybox-static and a few applet links.
set -euo pipefail
dir=${1:?usage: make-hello-layout.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$dir"
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/tmp"
cp "$here/examples/hello/manifest" "$dir/manifest"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in sh echo cat ls ps true false sleep; do
  ln -s busybox "$dir/rootfs/bin/$applet"
done
echo "root:x:0:0:root:/:/bin/sh" > "$dir/rootfs/etc/passwd"
echo "root:x:0:" > "$dir/rootfs/etc/group"
