#!/usr/bin/env bash
# Benchmark of goaci: the tests' HTTP server (goaci/tests/data/web) into
# an ACI by goaci, against `go build` plus `actool build` by hand, with
# Go's build cache warm for both. Prints medians and the ratio (target
# <= 1.1).
#
#   bench/goaci.sh [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
"$here/scripts/setup.sh"
command -v hyperfine >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool -p goaci
bin="$here/target/release"
work=$(mktemp -d /var/tmp/goaci-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export GOCACHE="$work/go-cache" GOPATH="$work/gopath" GOPROXY=off GOFLAGS= XDG_CACHE_HOME="$work/cache"
cp -r "$here/goaci/tests/data/web" "$work/web"
# By hand: the same binary, manifest and asset in a layout, then actool.
mkdir -p "$work/layout/rootfs/srv"
cp -r "$work/web/static" "$work/layout/rootfs/srv/"
cat > "$work/layout/manifest" <<'JSON'
{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/web",
 "labels": [{"name": "version", "value": "latest"}, {"name": "os", "value": "linux"},
            {"name": "arch", "value": "amd64"}],
 "app": {"exec": ["/web"], "user": "0", "group": "0",
         "ports": [{"name": "http", "protocol": "tcp", "port": 8080}]}}
JSON
by_hand="cd $work/web && CGO_ENABLED=0 go build -trimpath -o $work/layout/rootfs/web . && $bin/actool build --overwrite --owner-root $work/layout $work/hand.aci"
with_goaci="cd $work/web && $bin/goaci --port=http:tcp:8080 --asset='<PROJPATH>/static:/srv/static' -o $work/goaci.aci ."
hyperfine --warmup 2 --runs "$runs" --export-json "$work/h.json" \
  -n goaci "$with_goaci" -n by-hand "$by_hand" >/dev/null
median() { python3 -c "import json; d={r['command']: r['median'] for r in json.load(open('$work/h.json'))['results']}; print('%.1f' % (d['$1']*1000))"; }
m_goaci=$(median goaci); m_hand=$(median by-hand)
echo "goaci of the test's HTTP server: goaci $m_goaci ms, go build + actool build $m_hand ms"
echo "ratio goaci / by hand: $(awk -v a="$m_goaci" -v b="$m_hand" 'BEGIN {printf "%.2f", a / b}')   (target <= 1.1)"
