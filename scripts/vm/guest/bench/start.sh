# Start-to-exit of /bin/true in a pod (--net=host) and with crun on the
# same rootfs, in the guest as booted (cgroup v2 only, or v1 controllers);
# prints the medians and the ratio (bench/cgroup-v2.sh runs this).
#
# The two alternate run by run, each first in every other round: the
# guest is just booted, and whatever it still does in the background
# would otherwise weigh on whichever command ran its runs first.
. "$GUEST/lib.sh"
runs=${BENCH_RUNS:-20}
mkimage true '{"exec": ["/bin/true"], "user": "0", "group": "0"}'
rkti fetch "$IMAGES/true.aci" > /dev/null
bundle=$(mktemp -d)
mkdir -p "$bundle/rootfs"
tar -xf "$IMAGES/true.aci" -C "$bundle" rootfs
(cd "$bundle" && crun spec && sed -i 's/"sh"/"\/bin\/true"/; s/"terminal": true/"terminal": false/' config.json)
# Both without address randomisation, in this harness only: under
# emulation, code loaded at a new address is translated again at every
# run, which would measure qemu rather than either runtime (what users
# run keeps its randomisation).
rkt_true() { setarch -R rkt run --net=host --pull-policy=never example.com/true > /dev/null; }
crun_true() { setarch -R crun run --bundle "$bundle" bench-crun > /dev/null; }
# ms FUNC: runs FUNC (rkt_true or crun_true), adding its wall time in ms to
# rkt_ms or crun_ms.
declare -a rkt_ms crun_ms
ms() {
  local start=$EPOCHREALTIME
  "$1"
  local end=$EPOCHREALTIME
  local -n times=${1%_true}_ms
  times+=("$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", (b - a) * 1000}')")
}
for _ in 1 2 3 4 5; do rkt_true; crun_true; done
for i in $(seq "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then ms rkt_true; ms crun_true; else ms crun_true; ms rkt_true; fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
m_rkt=$(median "${rkt_ms[@]}")
m_crun=$(median "${crun_ms[@]}")
echo "rkt (ms): ${rkt_ms[*]}"
echo "crun (ms): ${crun_ms[*]}"
v=v1
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && v=v2
echo "$v start-to-exit of /bin/true, median of $runs (ms): rkt $m_rkt, crun $m_crun"
echo "$v ratio rkt / crun: $(awk -v a="$m_rkt" -v b="$m_crun" 'BEGIN {printf "%.2f", a / b}')"
rkt gc --grace-period=0s > /dev/null
