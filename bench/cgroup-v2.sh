#!/usr/bin/env bash
# The cgroup-v2 path against the v1 path: start-to-exit of /bin/true in a
# pod, as a ratio to crun in the same place and run, in the VM of
# scripts/vm (systemd as PID 1) booted cgroup-v2-only and booted with v1
# controllers (systemd's hybrid layout), and here (v1 controllers, no
# emulation). The target: the v2 ratio in the VM no worse than the v1
# ratio here. The v1 ratio in the VM is printed beside it: both under
# emulation, where crun gains more from v2 than rkt does.
#
#   bench/cgroup-v2.sh [RUNS]      (needs root)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-40}
here_v1=$("$here/bench/run.sh" "$runs" | grep 'ratio rkt / crun:' | awk '{print $5}')
vm() {
  local out
  out=$(VM_CGROUP=$1 VM_BENCH=$runs "$here/scripts/vm/test.sh" 2>&1) || { echo "$out" >&2; exit 1; }
  grep "^$1 " "$here/target/vm/last-run/start.log"
}
vm_v2=$(vm v2)
vm_v1=$(vm v1)
printf '%s\n%s\n' "$vm_v2" "$vm_v1"
ratio() { grep "^$1 ratio" <<< "$2" | awk '{print $NF}'; }
v2=$(ratio v2 "$vm_v2"); v1=$(ratio v1 "$vm_v1")
[ -n "$here_v1" ] && [ -n "$v2" ] && [ -n "$v1" ] || { echo "bench: a ratio is missing" >&2; exit 1; }
echo "v1 ratio rkt / crun here (no emulation): $here_v1"
echo "v2 (VM) / v1 (here): $(awk -v a="$v2" -v b="$here_v1" 'BEGIN {printf "%.2f", a / b}')   (target <= 1.0)"
echo "VM: v2 / v1: $(awk -v a="$v2" -v b="$v1" 'BEGIN {printf "%.2f", a / b}')   (both under emulation)"
