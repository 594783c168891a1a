#!/usr/bin/env bash
# Benchmark of `rkt fetch` (including rendering) of a large gzip ACI, from a
# local file and from loopback HTTP, against the lower bound
# `gzip -dc IMG | tar -x` into the same disk; peak RSS of rkt fetch; and
# `rkt image list` with 1,000 images. Prints medians and ratios.
#
#   bench/fetch.sh [RUNS]       (BENCH_TREE=DIR to use another tree)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool -p rkt
actool="$here/target/release/actool"
rkt="$here/target/release/rkt"

work=$(mktemp -d /var/tmp/fetch-bench.XXXXXX)
httpd_pid=
cleanup() {
  [ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

layout="$work/layout"
mkdir -p "$layout/rootfs/usr" "$work/www"
cp "$here/examples/hello/manifest" "$layout/manifest"
if [ -n "${BENCH_TREE:-}" ]; then cp -a "$BENCH_TREE" "$layout/rootfs/tree"; else cp -a /usr/share /usr/bin "$layout/rootfs/usr/"; fi
"$actool" build "$layout" "$work/www/big.aci"
rm -rf "$layout"
img="$work/www/big.aci"
echo "image: $(du -m "$img" | cut -f1) MB gzip, $(gzip -dc "$img" | wc -c | awk '{printf "%d", $1/1048576}') MB uncompressed; ${runs} runs; medians in seconds"

# median CMD...: runs CMD $runs times, each into a fresh $work/out after the
# previous run's files are gone and written back; prints the median elapsed
# time (user and system times of each run go to $work/times.log).
median() {
  local times=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"; mkdir -p "$work/out"; sync; echo 3 > /proc/sys/vm/drop_caches
    cat "$img" > /dev/null
    /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1
    echo "$* -> $(cat "$work/t") (elapsed user sys)" >> "$work/times.log"
    times+=("$(cut -d' ' -f1 "$work/t")")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f\n", m}'
}

port=$((20000 + RANDOM % 20000))
busybox httpd -f -p "127.0.0.1:$port" -h "$work/www" & httpd_pid=$!
sleep 0.5

t_base=$(median sh -c 'gzip -dc "$0" | tar -x -C "$1"' "$img" "$work/out")
t_file=$(median "$rkt" --dir="$work/out" --insecure-options=image fetch "$img")
t_http=$(median "$rkt" --dir="$work/out" --insecure-options=image,http fetch "http://127.0.0.1:$port/big.aci")
rm -rf "$work/out"; mkdir -p "$work/out"
/usr/bin/time -f '%M' -o "$work/rss" "$rkt" --dir="$work/out" --insecure-options=image fetch "$img" >/dev/null 2>&1
rss_kib=$(tail -1 "$work/rss")

# 1,000 small images, fetched 100 at a time.
rm -rf "$work/out" "$work/many"; mkdir -p "$work/out" "$work/many"
for i in $(seq 1000); do
  d="$work/many/l$i"; mkdir -p "$d/rootfs"
  printf '{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/many-%d"}' "$i" > "$d/manifest"
  echo "$i" > "$d/rootfs/id"
  "$actool" build "$d" "$work/many/$i.aci"
done
(cd "$work/many" && ls ./*.aci | xargs -n 100 "$rkt" --dir="$work/out" --insecure-options=image fetch >/dev/null 2>&1)
listed=$("$rkt" --dir="$work/out" image list --no-legend | wc -l)
list_times=()
for _ in $(seq 20); do
  t0=$(date +%s%N); "$rkt" --dir="$work/out" image list >/dev/null; t1=$(date +%s%N)
  list_times+=("$(( (t1 - t0) / 1000000 ))")
done
t_list=$(printf '%s\n' "${list_times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')

ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '%-44s %8s\n' "gzip -dc | tar -x (lower bound)" "$t_base" "rkt fetch FILE" "$t_file" "rkt fetch http://127.0.0.1 (loopback)" "$t_http"
echo "ratio fetch file / lower bound:   $(ratio "$t_file" "$t_base")   (target <= 1.0)"
echo "ratio fetch http / lower bound:   $(ratio "$t_http" "$t_base")   (target <= 1.0)"
echo "peak RSS of rkt fetch:            $((rss_kib / 1024)) MiB   (target <= 64)"
echo "rkt image list, ${listed} images:    ${t_list} ms median of 20   (target <= 100)"
echo "per run (elapsed user sys):"; sed 's|^|  |' "$work/times.log"
