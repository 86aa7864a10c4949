#!/usr/bin/env bash
# examples/engine end to end, no registry needed: an image made from Debian's
# busybox-static, run twice with a named volume. Needs root. Uses a temporary engine
# root, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s busybox-static >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq busybox-static
fi

cargo build -q --example engine
ENGINE="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/engine"

work=$(mktemp -d /tmp/engine-demo.XXXXXX)
root="$work/root"
cleanup() {
    "$ENGINE" --root "$root" rm -f demo-reader >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# a busybox rootfs: the static binary and its applet links
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,data}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"
tar -C "$rootfs" -cf "$work/busybox.tar" .

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
