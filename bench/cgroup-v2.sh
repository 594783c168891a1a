#!/usr/bin/env bash
# The cgroup-v2 path against the v1 path: start-to-exit of /bin/true in a
# pod, as a ratio to crun in the same place and run, on a cgroup-v2-only
# host (the VM of scripts/vm, systemd as PID 1) and here (hybrid, v1
# controllers). The v2 ratio should be no worse than the v1 one.
#
#   bench/cgroup-v2.sh [RUNS]      (needs root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
v1=$("$here/bench/run.sh" "$runs" | grep 'ratio rkt / crun:' | awk '{print $5}')
out=$(VM_BENCH=$runs "$here/scripts/vm/test.sh" 2>&1) || { echo "$out" >&2; exit 1; }
log="$here/target/vm/last-run/start.log"
grep '^v2 ' "$log"
v2=$(grep '^v2 ratio' "$log" | awk '{print $NF}')
echo "v1 ratio rkt / crun (here): $v1"
echo "v2 / v1: $(awk -v a="$v2" -v b="$v1" 'BEGIN {printf "%.2f", a / b}')   (target <= 1.0)"
