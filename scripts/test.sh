#!/usr/bin/env bash
# Every test: formatting, lints, unit, conformance and end-to-end tests.
# Ends with the total: "tests: N passed, N failed, N skipped".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings

# Pod networks leave two host-wide things behind by design: the CNI portmap
# plugin's shared chains and host-local's lease directories. What this run
# made of them goes at the end (scripts/net-leftovers.sh).
net_state=$(mktemp)
./scripts/net-leftovers.sh record "$net_state"

log=$(mktemp)
# Tests that cannot run here say so in this file (appc::testing::skipped);
# the harness counts them as passed, so they are taken back out.
export TEST_SKIP_LOG
TEST_SKIP_LOG=$(mktemp)
trap './scripts/net-leftovers.sh clean "$net_state"; rm -f "$log" "$TEST_SKIP_LOG" "$net_state"' EXIT
set +e
cargo test --workspace --quiet --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Then the same binaries under a real systemd on a cgroup-v2-only host.
./scripts/vm/test.sh 2>&1 | tee -a "$log"
vm_status=${PIPESTATUS[0]}
set -e
[ "$vm_status" -eq 0 ] || status=$vm_status
sum() { grep -oE "[0-9]+ $1" "$log" | awk '{s += $1} END {print s + 0}'; }
cargo_skipped=$(wc -l < "$TEST_SKIP_LOG")
vm_skipped=$(awk '/^vm tests: / {print $(NF - 1)}' "$log" | tail -1)
skipped=$(( cargo_skipped + ${vm_skipped:-0} ))
echo "tests: $(( $(sum passed) - cargo_skipped )) passed, $(sum failed) failed, $skipped skipped"
exit "$status"
