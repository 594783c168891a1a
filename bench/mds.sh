#!/usr/bin/env bash
# Benchmark of the metadata service: requests per second for /pod/uuid
# from inside a pod on the default network (a Go client, one request
# after the other on one connection, a bounded count), and the service's
# RSS with 100 pods registered. Targets: >= 5000 requests/s, <= 16 MiB.
#
#   bench/mds.sh [REQUESTS]      (needs root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
requests=${1:-20000}
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool -p rkt -p stage1
bin="$here/target/release"
work=$(mktemp -d /var/tmp/mds-bench.XXXXXX)
export RKT_METADATA_SOCKET="$work/mds.sock"
service=
cleanup() {
  [ -z "$service" ] || { kill "$service"; wait "$service" || true; }
  "$bin/rkt" --dir="$work/data" gc --grace-period=0s >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rkt() { "$bin/rkt" --dir="$work/data" --local-config="$work/etc" --system-config="$work/lib" --insecure-options=image "$@"; }

# The client, static, in a busybox image.
"$here/scripts/make-hello-layout.sh" "$work/client"
(cd "$here/bench/mds-client" && GO111MODULE=off GOCACHE="$work/go-cache" CGO_ENABLED=0 \
  go build -o "$work/client/rootfs/bin/mds-client" main.go)
cat > "$work/client/manifest" <<JSON
{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/mds-client",
 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}],
 "app": {"exec": ["/bin/mds-client", "$requests"], "user": "0", "group": "0"}}
JSON
"$bin/actool" build "$work/client" "$work/client.aci"

"$bin/rkt" metadata-service --listen-port=0 2> "$work/service.log" &
service=$!
for _ in $(seq 100); do [ -S "$RKT_METADATA_SOCKET" ] && break; sleep 0.1; done
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$service/status"; }
rss_idle=$(rss)

# 100 pods registered, each with a manifest and an image manifest of the
# size a small real pod has.
image='{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/app",
  "labels": [{"name": "version", "value": "1.0.0"}, {"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}],
  "app": {"exec": ["/bin/app", "--serve"], "user": "0", "group": "0",
          "environment": [{"name": "MODE", "value": "production"}],
          "ports": [{"name": "http", "protocol": "tcp", "port": 80}]},
  "annotations": [{"name": "authors", "value": "Example <dev@example.com>"}]}'
for i in $(seq 100); do
  uuid=$(printf '6ba7b810-9dad-41d1-80b4-%012d' "$i")
  token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  body="{\"token\": \"$token\", \"images\": {\"app\": $image},
    \"podManifest\": {\"acVersion\": \"0.8.11\", \"acKind\": \"PodManifest\",
      \"apps\": [{\"name\": \"app\", \"image\": {\"id\": \"sha512-$(printf '%0128d' "$i")\"}}]}}"
  code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$RKT_METADATA_SOCKET" \
    -X PUT --data-binary "$body" "http://mds/pods/$uuid")
  [ "$code" = 201 ] || { echo "registration $i: HTTP $code" >&2; exit 1; }
done
rss_100=$(rss)

out=$(rkt run --mds-register "$work/client.aci")
echo "$out"
rate=$(sed -n 's/^requests\/s: \([0-9]*\).*/\1/p' <<< "$out")
[ -n "$rate" ] || { echo "bench: no rate" >&2; exit 1; }
rss_after=$(rss)

echo "service RSS: idle ${rss_idle} MiB, 100 pods ${rss_100} MiB, after the run ${rss_after} MiB   (target <= 16)"
echo "/pod/uuid from a pod: $rate requests/s   (target >= 5000)"
