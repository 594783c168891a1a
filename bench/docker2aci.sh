#!/usr/bin/env bash
# Benchmark: convert a multi-layer image of about 240 MB (4 layers: /usr
# trees, and random data) from a docker save archive with our
# docker2aci, side by side with `umoci unpack` of the same image (OCI
# layout) plus the reference actool's `build` of the unpacked tree, as the
# issue measures. Prints medians, the ratio and our peak RSS.
#
#   bench/docker2aci.sh [RUNS]      (needs root, for umoci unpack)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
"$here/scripts/setup.sh"
command -v skopeo >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq skopeo >/dev/null
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p docker2aci
ours="$here/target/release/docker2aci"
ref=/usr/bin/actool

work=$(mktemp -d /var/tmp/d2a-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
umoci init --layout oci >/dev/null
umoci new --image oci:bench >/dev/null
# Four layers: three system trees, then random (incompressible) data.
for src in /usr/lib/gcc /usr/lib/python3.11 /usr/share/perl random; do
  rm -rf bundle
  umoci unpack --image oci:bench bundle >/dev/null
  if [ "$src" = random ]; then
    mkdir -p bundle/rootfs/random
    for i in $(seq 6); do head -c 8M /dev/urandom > "bundle/rootfs/random/blob$i"; done
  else
    mkdir -p "bundle/rootfs$(dirname "$src")"
    cp -a "$src" "bundle/rootfs$src" 2>/dev/null || true
  fi
  umoci repack --image oci:bench bundle >/dev/null
done
umoci config --image oci:bench --config.cmd /bin/true >/dev/null
skopeo copy -q oci:oci:bench docker-archive:image.tar:example.com/bench:1.0
size=$(du -m image.tar | cut -f1)
layers=$(tar -xOf image.tar manifest.json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["Layers"]))')
echo "image: ${size} MB docker archive, ${layers} layers; ${runs} runs each; medians in seconds"

median_time() {
  local times=()
  for _ in $(seq "$runs"); do
    rm -rf out bundle-ref; mkdir out
    sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m}'
}

reference() {
  umoci unpack --image oci:bench bundle-ref
  mkdir bundle-ref/layout
  mv bundle-ref/rootfs bundle-ref/layout/
  cp "$here/examples/hello/manifest" bundle-ref/layout/manifest
  "$ref" build --overwrite bundle-ref/layout out/ref.aci
}

t_ours=$(median_time "$ours" image.tar -o out/ours.aci)
t_ref=$(median_time reference)
rm -rf out; mkdir out
rss=$(/usr/bin/time -f %M "$ours" image.tar -o out/ours.aci 2>&1 >/dev/null | tail -1)
echo "docker2aci (ours), docker archive: $t_ours"
echo "umoci unpack + reference actool build: $t_ref"
echo "ratio ours/(umoci + actool): $(echo "scale=2; $t_ours / $t_ref" | bc -l)   (target <= 0.3)"
echo "peak RSS ours: $(( rss / 1024 )) MiB   (target <= 64)"
