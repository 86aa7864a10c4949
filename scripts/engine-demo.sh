#!/usr/bin/env bash
# examples/engine end to end, no registry needed: an image made from Debian's
# busybox-static, run twice with a named volume. Needs root. Uses a temporary engine
# root, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# not -q: the first build compiles the crate and its dependencies (a few minutes), and
# cargo's progress says so
echo "==> building the engine example (cargo build --example engine; the first build takes a few minutes)" >&2
cargo build --example engine
ENGINE="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/engine"

work=$(mktemp -d /tmp/engine-demo.XXXXXX)
root="$work/root"
cleanup() {
    "$ENGINE" --root "$root" rm -f demo-reader >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# a busybox image as a rootfs tarball (from Debian's busybox-static)
echo "==> making a busybox image from Debian's busybox-static" >&2
./scripts/busybox-image.sh "$work/busybox.tar" >/dev/null

set -x
"$ENGINE" --root "$root" import "$work/busybox.tar" localhost/busybox:latest
"$ENGINE" --root "$root" images
"$ENGINE" --root "$root" run --rm -v demo-data:/data localhost/busybox:latest \
    sh -c 'echo hello > /data/greeting; cat /data/greeting; hostname'
"$ENGINE" --root "$root" run --name demo-reader -v demo-data:/data localhost/busybox:latest \
    cat /data/greeting
"$ENGINE" --root "$root" ps -a
"$ENGINE" --root "$root" rm demo-reader
"$ENGINE" --root "$root" volume ls
