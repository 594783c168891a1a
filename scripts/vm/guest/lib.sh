# Helpers the guest tests source. The guest is thrown away after the run,
# so the tests use rkt's default directories, as the example units do.
IMAGES=/var/tmp/images
mkdir -p "$IMAGES"

# refute CMD...: fails (ending the test, under set -e) if CMD succeeds. A
# bare `! CMD` would end nothing: set -e leaves negated commands alone.
refute() {
  if "$@"; then
    echo "refuted: $*" >&2
    return 1
  fi
}

# rkt with unsigned test images.
rkti() { rkt --insecure-options=image "$@"; }

# mkimage NAME APP_JSON [FILE...]: an ACI of busybox (and FILEs, in
# /bin) whose app is APP_JSON, at $IMAGES/NAME.aci; with $ANNOTATIONS
# (JSON) as the image's annotations.
mkimage() {
  local -
  set +x
  local name=$1 app=$2 dir
  dir=$(mktemp -d)
  # One busybox tree per boot, copied by one process per image (a link at
  # a time costs seconds under emulation).
  local base=/var/tmp/busybox-rootfs
  if [ ! -d "$base" ]; then
    mkdir -p "$base.tmp/bin" "$base.tmp/tmp"
    cp /bin/busybox "$base.tmp/bin/"
    for a in $(/bin/busybox --list); do
      [ "$a" = busybox ] || ln -s busybox "$base.tmp/bin/$a"
    done
    mv "$base.tmp" "$base"
  fi
  cp -a "$base" "$dir/rootfs"
  [ $# -le 2 ] || cp "${@:3}" "$dir/rootfs/bin/"
  cat > "$dir/manifest" <<MANIFEST
{"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/$name",
 "labels": [{"name": "os", "value": "linux"}, {"name": "arch", "value": "amd64"}],
 "annotations": ${ANNOTATIONS:-[]},
 "app": $app}
MANIFEST
  actool build --overwrite "$dir" "$IMAGES/$name.aci"
  rm -rf "$dir"
}

# app_json SCRIPT [ISOLATORS_JSON]: an app running `sh -c SCRIPT` as root.
app_json() {
  printf '{"exec": ["/bin/sh", "-c", %s], "user": "0", "group": "0", "isolators": %s}' \
    "$(json_string "$1")" "${2:-[]}"
}

# json_string TEXT: TEXT as a JSON string.
json_string() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# The pod cgroups (rkt-UUID) anywhere in the hierarchy.
pod_cgroups() { find /sys/fs/cgroup -type d -name 'rkt-*' 2>/dev/null; }

no_pod_cgroups() {
  local left
  left=$(pod_cgroups)
  [ -z "$left" ] || { echo "cgroups left: $left"; return 1; }
}

# wait_for TIMEOUT_S COMMAND...: until COMMAND succeeds, trying twice a
# second (processes are dear under emulation: polling takes from the pod).
wait_for() {
  local -
  set +x
  local n=$(( $1 * 2 )); shift
  until "$@"; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || { echo "timed out waiting for: $*"; return 1; }
    sleep 0.5
  done
}

# in_unit NAME [systemd-run options...] -- COMMAND...: COMMAND as a
# transient service with a delegated cgroup, waited for; its output on
# this one's; its exit status returned.
in_unit() {
  local name=$1; shift
  systemd-run --quiet --wait --pipe --collect --unit="$name" -p Delegate=yes "$@"
}

# The app cgroup of the running pod of unit NAME, app APP.
app_cgroup() {
  local dir
  dir=$(find "/sys/fs/cgroup/system.slice/$1.service" -maxdepth 1 -type d -name 'rkt-*' 2>/dev/null | head -1)
  [ -n "$dir" ] && [ -d "$dir/$2" ] && echo "$dir/$2"
}

# pod_unit UNIT APP [systemd-run options...]: runs the pod of image
# $IMAGES/APP.aci as the transient service UNIT (delegated; stopped when
# the test exits) and sets $dir to the app's cgroup once the app is in it.
pod_unit() {
  local unit=$1 app=$2
  shift 2
  trap "systemctl stop $unit.service 2>/dev/null || true" EXIT
  systemd-run --quiet --unit="$unit" -p Delegate=yes "$@" \
    rkt --insecure-options=image run "$IMAGES/$app.aci"
  wait_for 180 app_cgroup "$unit" "$app"
  dir=$(app_cgroup "$unit" "$app")
  wait_for 60 grep -q . "$dir/cgroup.procs"
}

# cpu_share DIR: the percentage of one CPU the cgroup DIR used over 3 s.
cpu_share() {
  local before after start end
  before=$(awk '$1 == "usage_usec" {print $2}' "$1/cpu.stat"); start=$(date +%s%N)
  sleep 3
  after=$(awk '$1 == "usage_usec" {print $2}' "$1/cpu.stat"); end=$(date +%s%N)
  echo $(( (after - before) * 1000 * 100 / (end - start) ))
}
