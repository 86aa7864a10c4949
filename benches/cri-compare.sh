#!/bin/sh
# Side by side: a CRI pod start (RunPodSandbox + CreateContainer + StartContainer, as the
# kubelet makes it) with the runtime example as containerd's runtime handler vs runc's, in
# one private containerd (Debian's 1.6, configured with the README's snippet), N interleaved
# iterations; prints min, median, p99 and max of each and the ratios (issue 11's target:
# median <= 0.8x runc's).
#
#   sudo benches/cri-compare.sh           # N=20 WARMUP=2
#   N=100 benches/cri-compare.sh
#   CLI=/path/to/runtime benches/cri-compare.sh   # a runtime built elsewhere
#
# Env: N, WARMUP, CLI, OUT (raw samples dir, default a temp dir that is kept).
# Needs root, containerd, ctr, containerd-shim-runc-v2, runc and busybox-static.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-20}
WARMUP=${WARMUP:-2}

if [ "$(id -u)" != 0 ]; then
    echo "cri-compare.sh: needs root (containerd); try sudo" >&2
    exit 2
fi
for b in containerd ctr containerd-shim-runc-v2 runc; do
    command -v "$b" >/dev/null || { echo "cri-compare.sh: $b not installed" >&2; exit 2; }
done

cd "$top"
echo "== building (release)" >&2
criloop=$(cargo build --release --bench criloop --message-format=json \
    | jq -r 'select(.reason=="compiler-artifact" and .target.name=="criloop") | .executable' \
    | tail -n1)
[ -x "$criloop" ] || { echo "cri-compare.sh: building benches/criloop.rs failed" >&2; exit 1; }
if [ -z "${CLI:-}" ]; then
    # as it is installed (README): static-pie
    cargo rustc --release --example runtime -- -C target-feature=+crt-static >&2
    CLI=$top/target/release/examples/runtime
fi
OUT=${OUT:-$(mktemp -d /tmp/cargohold-cri-compare.XXXXXX)}

echo "== runtime: $CLI; runc: $(runc --version | head -1); $(containerd --version)" >&2
CARGOHOLD_RUNTIME_BIN=$CLI "$criloop" -n "$N" --warmup "$WARMUP" --out "$OUT"
echo "raw samples: $OUT" >&2
