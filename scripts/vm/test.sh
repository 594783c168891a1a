#!/usr/bin/env bash
# The VM tests: boots the host's Debian kernel under qemu with a Debian
# guest (systemd as PID 1, cgroup v2 only), runs scripts/vm/guest/tests/*
# there as a systemd service against this checkout's binaries, and prints
# each result. Ends with "vm tests: N passed, N failed, N skipped"; on a
# failure, the failed tests' output and the guest's journal follow.
#
#   scripts/vm/test.sh [TEST_NAME...]
#   VM_BENCH=RUNS scripts/vm/test.sh   the benchmarks (guest/bench), with
#                                      release binaries
#   VM_CGROUP=v1 ...                   boots the guest with v1 controllers
#                                      (systemd's hybrid layout), for the
#                                      benchmark's comparison
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
./scripts/setup.sh
if [ -n "${VM_BENCH:-}" ]; then
  cargo build --quiet --release -p rkt -p stage1 -p actool
  profile_dir="$here/target/release"
else
  cargo build --quiet -p rkt -p stage1 -p actool
  profile_dir="$here/target/debug"
fi
kver=$(cd /boot && ls vmlinuz-* | sed 's/^vmlinuz-//' | sort -V | tail -1)
image=$(scripts/vm/image.sh "$here/target/vm")

share=$(mktemp -d /tmp/rkt-vm.XXXXXX)
qemu_pid=
# The guest's output stays in target/vm/last-run until the next run.
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
  rm -rf "$here/target/vm/last-run"
  cp -r "$share/out" "$here/target/vm/last-run" 2>/dev/null || true
  cp "$share/console.log" "$here/target/vm/last-run/" 2>/dev/null || true
  rm -rf "$share"
}
trap cleanup EXIT
mkdir -p "$share/bin" "$share/out"
# Stripped: the guest runs them under emulation, where every byte hashed
# (the stage1 image is made from the stage1 executable) costs.
for b in rkt stage1 actool; do
  strip -o "$share/bin/$b" "$profile_dir/$b"
done
cp -r scripts/vm/guest "$share/guest"
for helper in accept notify; do
  gcc -static -O2 -o "$share/guest/$helper" "scripts/vm/guest/$helper.c"
done
cp -r examples/systemd "$share/units"
[ -z "${VM_BENCH:-}" ] || echo "$VM_BENCH" > "$share/bench"
[ $# -eq 0 ] || printf '%s\n' "$@" > "$share/only"

# KVM where a short probe boot reaches the initramfs (on some hosts
# /dev/kvm is a module on which stock kernels do not boot), else TCG.
accel=tcg,thread=multi
cpu=max
if [ -w /dev/kvm ]; then
  # (In a subshell: where qemu aborts, the shell's own report goes too.)
  (timeout --kill-after=5 30 qemu-system-x86_64 -machine q35 -accel kvm -cpu host -smp 1 -m 512 \
    -kernel "/boot/vmlinuz-$kver" -initrd "/boot/initrd.img-$kver" \
    -append "console=ttyS0 panic=-1 root=/dev/nonexistent rootdelay=1" \
    -nic none -display none -monitor none -serial "file:$share/probe.log" -no-reboot || true) \
    >/dev/null 2>&1
  if grep -q 'Run /init as init process' "$share/probe.log" 2>/dev/null; then
    accel=kvm
    cpu=host
  fi
fi
unified=1
[ "${VM_CGROUP:-v2}" = v1 ] && unified=0
echo "vm: booting with $accel, systemd.unified_cgroup_hierarchy=$unified" >&2
budget=${VM_TIMEOUT:-1200}
set +e
timeout --kill-after=10 "$budget" qemu-system-x86_64 \
  -machine q35 -accel "$accel" -cpu "$cpu" -smp 2 -m 2048 \
  -kernel "/boot/vmlinuz-$kver" -initrd "/boot/initrd.img-$kver" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1 quiet systemd.unified_cgroup_hierarchy=$unified systemd.show_status=false" \
  -drive "file=$image,if=virtio,format=raw,snapshot=on" \
  -virtfs "local,path=$share,mount_tag=share,security_model=none,id=share" \
  -nic none -display none -monitor none -serial "file:$share/console.log" -no-reboot &
qemu_pid=$!
wait "$qemu_pid"
status=$?
qemu_pid=
set -e

results="$share/out/results"
if [ ! -s "$results" ]; then
  echo "vm: the guest reported no results (qemu exit $status); its console:" >&2
  tail -n 80 "$share/console.log" >&2 || true
  [ -f "$share/out/journal.txt" ] && tail -n 200 "$share/out/journal.txt" >&2
  echo "vm tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
cat "$results"
passed=$(grep -c '^ok ' "$results" || true)
failed=$(grep -c '^FAILED ' "$results" || true)
skipped=$(grep -c '^skipped ' "$results" || true)
if [ "$failed" -gt 0 ] || ! grep -q '^done$' "$share/out/status" 2>/dev/null; then
  for name in $(awk '$1 == "FAILED" {print $2}' "$results"); do
    echo "---- $name" >&2
    cat "$share/out/$name.log" >&2
  done
  grep -q '^done$' "$share/out/status" 2>/dev/null || { echo "vm: the guest did not finish its tests" >&2; failed=$((failed + 1)); }
  echo "---- guest journal (last 300 lines)" >&2
  tail -n 300 "$share/out/journal.txt" >&2 || true
fi
echo "vm tests: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
