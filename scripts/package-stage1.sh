#!/usr/bin/env bash
# Packages both stage1 flavours as images, for installing beside rkt or in
# the stage1-images directory of paths.d (as rkt's packages did):
# DIR/stage1-rs.aci (namespaces, cgroups, isolators) and
# DIR/stage1-fly-rs.aci (chroot only).
#
#   scripts/package-stage1.sh DIR
set -euo pipefail
out=${1:?usage: package-stage1.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p rkt -p stage1
bin="$here/target/release"
# An image packaged earlier beside rkt would be taken instead of the
# freshly built executable.
rm -f "$bin/stage1-rs.aci" "$bin/stage1-fly-rs.aci"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rkt() { "$bin/rkt" --dir="$work/data" --local-config="$work/etc" --system-config="$work/lib" "$@"; }
mkdir -p "$out"
for name in stage1-rs stage1-fly-rs; do
  rkt fetch "coreos.com/rkt/$name" >/dev/null
  rkt image export --overwrite "coreos.com/rkt/$name" "$out/$name.aci"
  echo "$out/$name.aci"
done
