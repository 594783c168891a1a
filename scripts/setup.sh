#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine.
# Idempotent and quiet: does nothing when everything is already there.
set -euo pipefail

packages=(
  gcc libc6-dev pkg-config libssl-dev liblzma-dev libseccomp-dev   # building (xz, seccomp; the tests' TLS servers)
  appc-spec                               # the reference actool, for cross-checks
  gnupg                                   # signing test images
  libcap2-bin                             # capsh: callers with inheritable capabilities
  busybox-static                          # the example image's rootfs
  systemd                                 # systemd-analyze verify of the example units
  etcd-server etcd-client                 # the headline test: etcd in a pod
  bc time                                 # benchmarks: arithmetic, peak RSS
  openssl                                 # test certificate authorities
  containernetworking-plugins iptables    # pod networks (CNI plugins, masquerading, ports)
  umoci                                   # docker2aci: the unpacked tree compared with ours
  skopeo docker-registry apache2-utils    # docker2aci: images pushed to a local registry (htpasswd)
  buildah                                 # docker2aci: images built from Dockerfiles
  qemu-system-x86 mmdebstrap linux-image-amd64  # the VM tests (systemd, cgroup v2 only)
  golang-go golang-github-appc-spec-dev   # the ACE validator, built from the appc spec's source
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  for c in "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo; do
    [ -x "$c" ] && { echo "setup: add $(dirname "$c") to PATH" >&2; exit 1; }
  done
  echo "setup: a Rust toolchain (cargo) is required: https://rustup.rs" >&2
  exit 1
fi
