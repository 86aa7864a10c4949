#!/usr/bin/env bash
# Writes a busybox image as a plain rootfs tarball, from Debian's busybox-static (installed
# if missing; needs root for that), for examples and quickstarts that need no registry:
#
#   ./scripts/busybox-image.sh /tmp/busybox.tar
#
# The tarball holds /bin/busybox, a link per applet, /etc/passwd and /etc/group with root,
# and /www/index.html (so `httpd -h /www` serves a page). Import
# it with `engine.images().import(...)` or `examples/engine import FILE busybox:latest`.
set -euo pipefail
out=${1:?usage: busybox-image.sh OUT.tar}
if [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi
work=$(mktemp -d /tmp/busybox-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{bin,etc,tmp,proc,sys,dev,www}
cp /bin/busybox "$rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
    [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$rootfs/etc/passwd"
echo 'root:x:0:' > "$rootfs/etc/group"
echo '<h1>hello from cargohold</h1>' > "$rootfs/www/index.html"
tar -C "$rootfs" -cf "$out" .
echo "$out"
