#!/usr/bin/env bash
# The README's first command: the runtime example runs a busybox container from a bundle it
# prepares itself. Needs root (namespaces, cgroups) and Debian's busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq busybox-static >/dev/null
fi
echo "==> building the runtime example (cargo build --example runtime; the first build takes a few minutes)" >&2
cargo build --example runtime
rt="${CARGO_TARGET_DIR:-target}/debug/examples/runtime"
bundle=$(mktemp -d /tmp/cargohold-quickstart.XXXXXX)
root=$(mktemp -d /tmp/cargohold-quickstart-root.XXXXXX)
trap 'rm -rf "$bundle" "$root"' EXIT
mkdir -p "$bundle/rootfs/bin"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for applet in sh echo id hostname cat ls; do ln -s busybox "$bundle/rootfs/bin/$applet"; done
"$rt" spec --bundle "$bundle"
# A non-interactive process: no terminal, a greeting from inside the container.
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["sh", "-c", "echo hello from $(hostname): pid $$, $(id)"]
json.dump(spec, open(path, "w"), indent=2)
PY
"$rt" --root "$root" run --bundle "$bundle" "quickstart-$$"
