#!/usr/bin/env bash
# A first image without a registry: makes `busybox:latest` (docker.io/library/busybox:latest,
# what `engine run busybox …` looks for) in an engine root from Debian's busybox-static
# (installed if missing; needs root for that), by `engine import`:
#
#   ./scripts/engine-busybox.sh [--root DIR] [REFERENCE]    # default busybox:latest
#   target/debug/examples/engine [--root DIR] run --rm busybox echo hello
#
# The root is --root, else $CARGOHOLD_ROOT, else /var/lib/cargohold (the engine's default).
# Unlike Docker Hub's busybox the image has no default command: name one (`sh`, `echo hi`).
set -euo pipefail
cd "$(dirname "$0")/.."
root_args=()
if [ "${1:-}" = "--root" ]; then
    root_args=(--root "${2:?--root needs a directory}")
    shift 2
fi
reference=${1:-busybox:latest}

echo "==> building the engine example (cargo build --example engine; the first build takes a few minutes)" >&2
cargo build --example engine
ENGINE="${CARGO_TARGET_DIR:-$PWD/target}/debug/examples/engine"

work=$(mktemp -d /tmp/engine-busybox.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "==> making a busybox rootfs from Debian's busybox-static" >&2
./scripts/busybox-image.sh "$work/busybox.tar" >/dev/null
echo "==> importing it as $reference" >&2
"$ENGINE" "${root_args[@]}" import "$work/busybox.tar" "$reference"
