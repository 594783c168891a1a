#!/usr/bin/env bash
# Every test: formatting, lints, unit, conformance and end-to-end tests.
# Ends with the total: "tests: N passed, N failed".
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
./scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --quiet --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
sum() { grep -oE "[0-9]+ $1" "$log" | awk '{s += $1} END {print s + 0}'; }
echo "tests: $(sum passed) passed, $(sum failed) failed"
exit "$status"
