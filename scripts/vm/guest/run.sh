#!/bin/bash
# Runs in the guest (vm-tests.service): installs the shared binaries and
# runs every test in tests/, each with a deadline, writing "ok NAME",
# "FAILED NAME" or "skipped NAME" to out/results and its output to
# out/NAME.log.
set -u
share=$1
out=$share/out
install -m 0755 "$share"/bin/* /usr/local/bin/
export PATH=/usr/local/bin:$PATH
export GUEST=$share/guest
# With a bench flag in the share, the benchmarks run instead of the tests.
suite=tests
[ -f "$share/bench" ] && suite=bench
export BENCH_RUNS
[ -f "$share/bench" ] && BENCH_RUNS=$(cat "$share/bench")
cd "$share/guest/$suite"
for t in *.sh; do
  name=${t%.sh}
  if [ -s "$share/only" ] && ! grep -qx "$name" "$share/only"; then
    continue
  fi
  echo "vm: $name" > /dev/console
  start=$SECONDS
  timeout --kill-after=10 300 bash -xeuo pipefail "$t" > "$out/$name.log" 2>&1
  rc=$?
  took="$((SECONDS - start)) s"
  case $rc in
    0) echo "ok $name ($took)" ;;
    77) echo "skipped $name ($took)" ;;
    *) echo "FAILED $name (exit $rc, $took)" ;;
  esac >> "$out/results"
done
journalctl -b --no-pager > "$out/journal.txt" 2>&1
echo done > "$out/status"
