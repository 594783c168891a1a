#!/usr/bin/env bash
# Benchmark: build and validate an ACI from a large tree (default: a copy of
# /usr/share and /usr/bin, about 1 GB), side by side with the reference
# actool (/usr/bin/actool) and `tar -czf`. Prints medians and ratios.
#
#   bench/aci.sh [RUNS]        (BENCH_TREE=DIR to use another tree)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool
ours="$here/target/release/actool"
ref=/usr/bin/actool

work=$(mktemp -d /var/tmp/aci-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
layout="$work/layout"
mkdir -p "$layout/rootfs"
cp "$here/examples/hello/manifest" "$layout/manifest"
if [ -n "${BENCH_TREE:-}" ]; then
  cp -a "$BENCH_TREE" "$layout/rootfs/tree"
else
  mkdir -p "$layout/rootfs/usr"
  cp -a /usr/share /usr/bin "$layout/rootfs/usr/"
fi
size=$(du -sm "$layout/rootfs" | cut -f1)
files=$(find "$layout/rootfs" | wc -l)
echo "tree: ${size} MB, ${files} entries; ${runs} runs each; medians in seconds"

# median_time CMD...: runs CMD $runs times (output discarded), prints the median.
median_time() {
  local times=()
  for _ in $(seq "$runs"); do
    sync
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m}'
}

t_ours=$(median_time "$ours" build --overwrite "$layout" "$work/ours.aci")
t_ref=$(median_time "$ref" build --overwrite "$layout" "$work/ref.aci")
t_tar=$(median_time tar -czf "$work/tar.tgz" -C "$layout" manifest rootfs)
v_ours=$(median_time "$ours" validate "$work/ref.aci")
v_ours_own=$(median_time "$ours" validate "$work/ours.aci")
v_ref=$(median_time "$ref" validate "$work/ref.aci")

ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '%-34s %8s\n' "build: ours" "$t_ours" "build: reference actool" "$t_ref" "build: tar -czf" "$t_tar" \
  "validate: ours (reference's ACI)" "$v_ours" "validate: ours (our ACI)" "$v_ours_own" \
  "validate: reference (its ACI)" "$v_ref"
echo "sizes: ours $(du -m "$work/ours.aci" | cut -f1) MB, reference $(du -m "$work/ref.aci" | cut -f1) MB, tar -czf $(du -m "$work/tar.tgz" | cut -f1) MB"
echo "ratio build ours/reference:     $(ratio "$t_ours" "$t_ref")   (target <= 0.5)"
echo "ratio build ours/tar -czf:      $(ratio "$t_ours" "$t_tar")   (target <= 1.0)"
echo "ratio validate ours/reference:  $(ratio "$v_ours" "$v_ref")   (target <= 0.5)"
