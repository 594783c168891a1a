#!/usr/bin/env bash
# The main job, end to end, on the built-in example: build the example image
# with our actool (and have the reference actool validate it), sign it with
# the test key, trust that key, fetch the image (signature checked) and run
# it in a pod, printing its output. Everything lives in a temporary
# directory; nothing of /var/lib/rkt or /etc/rkt is touched.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool -p rkt -p stage1
bin="$here/target/release"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rkt() { "$bin/rkt" --dir="$work/data" --local-config="$work/etc" --system-config="$work/lib" "$@"; }
"$here/scripts/make-hello-layout.sh" "$work/hello"

echo "+ actool build hello/ hello.aci"
"$bin/actool" build "$work/hello" "$work/hello.aci"
echo "+ /usr/bin/actool --debug validate hello.aci   (the reference implementation)"
/usr/bin/actool --debug validate "$work/hello.aci"

echo "+ gpg --detach-sign hello.aci   (with the TEST-ONLY key in keys/)"
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
gpg --batch --quiet --import "$here/keys/test-signer.sec.asc"
gpg --batch --quiet --yes --armor --detach-sign --local-user signer@rkt-rs.test --output "$work/hello.aci.asc" "$work/hello.aci"

echo "+ rkt trust --prefix example.com/hello keys/test-signer.pub.asc   (answering yes)"
echo yes | rkt trust --prefix example.com/hello "$here/keys/test-signer.pub.asc"
echo "+ rkt fetch hello.aci   (signature checked)"
rkt fetch "$work/hello.aci"
echo "+ rkt run --net=host hello.aci"
rkt run --net=host "$work/hello.aci"
echo "+ rkt list"
rkt list
echo "+ rkt gc --grace-period=0s"
rkt gc --grace-period=0s
