#!/bin/sh
# Lays out a busybox OCI bundle for the benchmarks: DIR/rootfs with the static busybox
# (Debian's busybox-static) and its applets as symlinks, plus DIR/config.json.
#
#   benches/make-bundle.sh DIR [SPEC_CMD]
#
# config.json: if SPEC_CMD is given it is run and its stdout becomes config.json (the
# benches pass `libloop --print-spec`, which prints cargohold's `default_spec()` with
# args ["/bin/true"] and terminal false); without it an existing DIR/config.json is kept,
# else `runc spec` is used and patched the same way (python3).
set -eu
dir=${1:?usage: make-bundle.sh DIR [SPEC_CMD]}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "make-bundle: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/rootfs"
root=$dir/rootfs
for d in bin proc sys dev etc tmp root; do mkdir -p "$root/$d"; done
cp -f "$busybox" "$root/bin/busybox"
for a in true false sh echo cat ls id hostname sleep env; do
    ln -sf busybox "$root/bin/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
if [ $# -ge 2 ]; then
    sh -c "$2" >"$dir/config.json.tmp"
    mv "$dir/config.json.tmp" "$dir/config.json"
elif [ ! -s "$dir/config.json" ]; then
    (cd "$dir" && rm -f config.json && runc spec)
    python3 - "$dir/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=2)
PY
fi
