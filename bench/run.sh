#!/usr/bin/env bash
# Benchmark of pod start: start-to-exit of /bin/true from a busybox image
# already in the store (--net=host), with the default and the fly stage1,
# side by side with `crun run` and `runc run` on the same rootfs; the same
# on the default CNI network and with --net=none (what networking adds, and
# where), and 20 pods started at once on the default network; the RSS
# of the stage1 supervisor and pod init while a pod runs; `rkt list` with
# 500 pods and `rkt gc` of them. Prints medians and ratios.
#
#   bench/run.sh [RUNS]      (needs root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-30}
"$here/scripts/setup.sh"
for p in crun runc hyperfine; do
  command -v "$p" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool -p rkt -p stage1
bin="$here/target/release"
work=$(mktemp -d /var/tmp/run-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
rkt() { "$bin/rkt" --dir="$work/data" --local-config="$work/etc" --system-config="$work/lib" --insecure-options=image "$@"; }

"$here/scripts/make-hello-layout.sh" "$work/hello"
"$bin/actool" build "$work/hello" "$work/hello.aci"
rkt fetch "$work/hello.aci" >/dev/null
# First runs import the stage1 images.
rkt run --net=host example.com/hello:1.0.0 --exec=/bin/true
rkt run --net=host --stage1-name=coreos.com/rkt/stage1-fly-rs example.com/hello:1.0.0 --exec=/bin/true

# An OCI bundle with the same rootfs, for crun and runc.
mkdir -p "$work/bundle"
cp -a "$work/hello/rootfs" "$work/bundle/rootfs"
(cd "$work/bundle" && crun spec && sed -i 's/"sh"/"\/bin\/true"/; s/"terminal": true/"terminal": false/' config.json)
touch "$work/empty"
# crun refuses hybrid cgroups, so the runs happen in a private mount
# namespace where cgroup v2's controllers are hidden (rkt reads them only
# for limits on the unified hierarchy): crun's figure is then crun's own,
# not that of a wrapper around each run (unshare, sh and mount, about 5 ms).
hidden_v2() {
  unshare -m --propagation private sh -c \
    'mount --bind "$0" /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"' "$work/empty" "$@"
}
crun_cmd="crun run --bundle $work/bundle bench-crun"
runc_cmd="runc run --bundle $work/bundle bench-runc"

hidden_v2 hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" \
  -n rkt "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib run --net=host --pull-policy=never example.com/hello:1.0.0 --exec=/bin/true" \
  -n rkt-fly "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib run --net=host --pull-policy=never --stage1-name=coreos.com/rkt/stage1-fly-rs example.com/hello:1.0.0 --exec=/bin/true" \
  -n rkt-default "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib run --pull-policy=never example.com/hello:1.0.0 --exec=/bin/true" \
  -n rkt-none "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib run --net=none --pull-policy=never example.com/hello:1.0.0 --exec=/bin/true" \
  -n crun "$crun_cmd" -n runc "$runc_cmd" >/dev/null
median() { python3 -c "import json,sys; d={r['command']: r['median'] for r in json.load(open('$work/h.json'))['results']}; print('%.1f' % (d['$1']*1000))"; }
m_rkt=$(median rkt); m_fly=$(median rkt-fly); m_crun=$(median crun); m_runc=$(median runc)
m_default=$(median rkt-default); m_none=$(median rkt-none)
rkt gc --grace-period=0s >/dev/null

# 20 pods started at once on the default network: wall time until all exited.
t0=$(date +%s%N)
for _ in $(seq 20); do rkt run --pull-policy=never example.com/hello:1.0.0 --exec=/bin/true & done
wait
t1=$(date +%s%N)
t_twenty=$(( (t1 - t0) / 1000000 ))
rkt gc --grace-period=0s >/dev/null

# Memory of supervisor + init while a pod runs, median of 5 pods: VmRSS
# (which counts the pages of libc and of the stage1 executable the two
# share in each), and their private memory (pages no other process maps).
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
private() { awk '/^Private_(Clean|Dirty)/ {n += $2} END {print n}' "/proc/$1/smaps_rollup"; }
samples=()
for _ in 1 2 3 4 5; do
  rkt run --net=host --uuid-file-save="$work/uuid" example.com/hello:1.0.0 --exec=/bin/sleep -- 2 &
  run_pid=$!
  sleep 1
  pod="$work/data/pods/run/$(cat "$work/uuid")"
  sup=$(cat "$pod/ppid"); init=$(cat "$pod/pid")
  samples+=("$(( $(rss "$sup") + $(rss "$init") )) $(rss "$sup") $(rss "$init") $(( $(private "$sup") + $(private "$init") ))")
  wait "$run_pid"
done
read -r rss_sum rss_sup rss_init priv_sum < <(printf '%s\n' "${samples[@]}" | sort -n | sed -n 3p)

# 500 pods: list, then gc.
for _ in $(seq 500); do rkt run --net=host --pull-policy=never example.com/hello:1.0.0 --exec=/bin/true; done
pods=$(rkt list --no-legend | wc -l)
list_ms=()
for _ in $(seq 10); do t0=$(date +%s%N); rkt list >/dev/null; t1=$(date +%s%N); list_ms+=("$(( (t1 - t0) / 1000000 ))"); done
t_list=$(printf '%s\n' "${list_ms[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
t0=$(date +%s%N); rkt gc --grace-period=0s >/dev/null; t1=$(date +%s%N)
t_gc=$(( (t1 - t0) / 1000000 ))

# A stored 400 MB image run by path: recognising it costs one read of the
# file (what sha512sum does); the target is sha512sum plus a run of the
# stored image by name (no file at all).
big="$work/big"
"$here/scripts/make-hello-layout.sh" "$big"
sed -i 's|example.com/hello|example.com/big|' "$big/manifest"
head -c 400M /dev/urandom > "$big/rootfs/data"
"$bin/actool" build "$big" "$work/big.aci"
rkt fetch "$work/big.aci" >/dev/null
hyperfine -N --warmup 1 --runs 5 --export-json "$work/big.json" \
  -n sha512sum "sha512sum $work/big.aci" \
  -n by-path "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib --insecure-options=image run --net=host $work/big.aci --exec=/bin/true" \
  -n by-id "$bin/rkt --dir=$work/data --local-config=$work/etc --system-config=$work/lib run --net=host --pull-policy=never example.com/big:1.0.0 --exec=/bin/true" >/dev/null
big_median() { python3 -c "import json; d={r['command']: r['median'] for r in json.load(open('$work/big.json'))['results']}; print('%.1f' % (d['$1']*1000))"; }
m_sum=$(big_median sha512sum); m_path=$(big_median by-path); m_id=$(big_median by-id)

ratio() { echo "scale=2; $1 / $2" | bc -l; }
echo "start-to-exit of /bin/true, median of $runs (ms): rkt $m_rkt, rkt fly $m_fly, crun $m_crun, runc $m_runc"
echo "ratio rkt / crun:       $(ratio "$m_rkt" "$m_crun")   (target <= 1.5)"
echo "ratio rkt fly / crun:   $(ratio "$m_fly" "$m_crun")   (target <= 1.0)"
echo "ratio rkt / runc:       $(ratio "$m_rkt" "$m_runc")"
minus() { echo "scale=1; $1 - $2" | bc -l; }
echo "default network:        ${m_default} ms, +$(minus "$m_default" "$m_rkt") ms over --net=host   (target <= +60)"
echo "  of which:             own namespace + lo (--net=none, ${m_none} ms) +$(minus "$m_none" "$m_rkt") ms;"
echo "                        ptp + host-local + masquerading (ADD, and DEL at exit) +$(minus "$m_default" "$m_none") ms"
echo "20 pods at once on default: ${t_twenty} ms until all exited"
echo "RSS while a pod runs:   supervisor ${rss_sup} KiB + init ${rss_init} KiB = ${rss_sum} KiB, median of 5   (target <= 4096 KiB together)"
echo "  of which private:     ${priv_sum} KiB"
echo "stored 400 MB image:    run by path ${m_path} ms, sha512sum ${m_sum} ms, run by name ${m_id} ms"
echo "ratio path / (sha512sum + by name): $(ratio "$m_path" "$(echo "$m_sum + $m_id" | bc -l)")   (target <= 1.0)"
echo "rkt list, $pods pods:   ${t_list} ms median of 10   (target <= 150)"
echo "rkt gc of $pods pods:   ${t_gc} ms   (target: 200 pods in <= 10000)"
