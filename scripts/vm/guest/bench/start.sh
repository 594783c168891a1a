# Start-to-exit of /bin/true in a pod (--net=host) and with crun on the
# same rootfs, here on cgroup v2 only; prints the medians and the ratio
# (bench/cgroup-v2.sh runs this in the VM).
. "$GUEST/lib.sh"
runs=${BENCH_RUNS:-20}
mkimage true '{"exec": ["/bin/true"], "user": "0", "group": "0"}'
rkti fetch "$IMAGES/true.aci" > /dev/null
rkt run --net=host --pull-policy=never example.com/true > /dev/null
bundle=$(mktemp -d)
mkdir -p "$bundle/rootfs"
tar -xf "$IMAGES/true.aci" -C "$bundle" rootfs
(cd "$bundle" && crun spec && sed -i 's/"sh"/"\/bin\/true"/; s/"terminal": true/"terminal": false/' config.json)
hyperfine -N --warmup 3 --runs "$runs" --export-json /tmp/h.json \
  -n rkt "rkt run --net=host --pull-policy=never example.com/true" \
  -n crun "crun run --bundle $bundle bench-crun" > /dev/null
median() { grep -o "\"command\": *\"$1\"[^}]*\"median\": *[0-9.e-]*" /tmp/h.json | grep -o '[0-9.e-]*$'; }
m_rkt=$(awk -v s="$(median rkt)" 'BEGIN {printf "%.1f", s * 1000}')
m_crun=$(awk -v s="$(median crun)" 'BEGIN {printf "%.1f", s * 1000}')
echo "v2 start-to-exit of /bin/true, median of $runs (ms): rkt $m_rkt, crun $m_crun"
echo "v2 ratio rkt / crun: $(awk -v a="$m_rkt" -v b="$m_crun" 'BEGIN {printf "%.2f", a / b}')"
rkt gc --grace-period=0s > /dev/null
