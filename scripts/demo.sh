#!/usr/bin/env bash
# The main job, end to end, on the built-in example: build the example
# image with our actool, validate it with ours and with the reference
# actool, and print its manifest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml" -p actool
actool="$here/target/release/actool"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/scripts/make-hello-layout.sh" "$work/hello"

echo "+ actool build hello/ hello.aci"
"$actool" build "$work/hello" "$work/hello.aci"
echo "+ actool --debug validate hello.aci"
"$actool" --debug validate "$work/hello.aci"
echo "+ /usr/bin/actool --debug validate hello.aci   (the reference implementation)"
/usr/bin/actool --debug validate "$work/hello.aci"
echo "+ actool cat-manifest --pretty-print hello.aci"
"$actool" cat-manifest --pretty-print "$work/hello.aci"
