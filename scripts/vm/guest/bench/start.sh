# Start-to-exit of /bin/true in a pod (--net=host) and with crun on the
# same rootfs, in the guest as booted (cgroup v2 only, or v1 controllers);
# prints the medians and the ratio (bench/cgroup-v2.sh runs this).
. "$GUEST/lib.sh"
runs=${BENCH_RUNS:-20}
mkimage true '{"exec": ["/bin/true"], "user": "0", "group": "0"}'
rkti fetch "$IMAGES/true.aci" > /dev/null
rkt run --net=host --pull-policy=never example.com/true > /dev/null
bundle=$(mktemp -d)
mkdir -p "$bundle/rootfs"
tar -xf "$IMAGES/true.aci" -C "$bundle" rootfs
(cd "$bundle" && crun spec && sed -i 's/"sh"/"\/bin\/true"/; s/"terminal": true/"terminal": false/' config.json)
hyperfine -N --warmup 3 --runs "$runs" --export-csv /tmp/h.csv \
  -n rkt "rkt run --net=host --pull-policy=never example.com/true" \
  -n crun "crun run --bundle $bundle bench-crun" > /dev/null
# command,mean,stddev,median,... in seconds.
median() { awk -F, -v c="$1" '$1 == c {printf "%.1f", $4 * 1000}' /tmp/h.csv; }
m_rkt=$(median rkt)
m_crun=$(median crun)
[ -n "$m_rkt" ] && [ -n "$m_crun" ]
v=v1
[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && v=v2
echo "$v start-to-exit of /bin/true, median of $runs (ms): rkt $m_rkt, crun $m_crun"
echo "$v ratio rkt / crun: $(awk -v a="$m_rkt" -v b="$m_crun" 'BEGIN {printf "%.2f", a / b}')"
rkt gc --grace-period=0s > /dev/null
