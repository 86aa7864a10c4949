#!/bin/sh
# Side by side: the full lifecycle of /bin/true in one busybox bundle through
#   (a) the cargohold library in-process (Runtime::run),
#   (b) our runc-compatible CLI (examples/runtime) as a whole process,
#   (c) crun run, (d) runc run, as whole processes,
#   plus the bare cost of spawning a static /bin/true from the harness,
# N interleaved iterations (shuffled order per iteration), then a table of min, median,
# p90, p99, max, mean and ratios against crun's median, and the issue's targets.
#
#   sudo benches/compare.sh            # N=200 WARMUP=10
#   N=500 benches/compare.sh
#   CLI=/path/to/runtime benches/compare.sh   # a CLI built elsewhere
#
# Env: N, WARMUP, CLI, CRUN, RUNC (binaries; empty string skips a side), OUT (samples dir,
# default a temp dir that is kept), SEED.
#
# crun 1.8 refuses cgroup v1/v2 hybrid hosts; the whole harness therefore runs in a
# private mount namespace with an empty file over /sys/fs/cgroup/unified/cgroup.controllers
# (every side in the same namespace, so none pays for the workaround per run).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-200}
WARMUP=${WARMUP:-10}
SEED=${SEED:-11400714819323198485}

if [ "$(id -u)" != 0 ]; then
    echo "compare.sh: needs root (containers); try sudo" >&2
    exit 2
fi

cd "$top"
echo "== building (release)" >&2
libloop=$(cargo build --release --bench libloop --message-format=json \
    | jq -r 'select(.reason=="compiler-artifact" and .target.name=="libloop") | .executable' \
    | tail -n1)
[ -x "$libloop" ] || { echo "compare.sh: building benches/libloop.rs failed" >&2; exit 1; }

if [ -z "${CLI+x}" ]; then
    if [ -f examples/runtime.rs ]; then
        # as it is installed (README): static-pie
        cargo rustc --release --example runtime -- -C target-feature=+crt-static >&2
        CLI=$top/target/release/examples/runtime
    else
        echo "== examples/runtime.rs not on this branch: the CLI side is skipped (set CLI=...)" >&2
        CLI=
    fi
fi
CRUN=${CRUN-$(command -v crun || true)}
RUNC=${RUNC-$(command -v runc || true)}

work=$(mktemp -d /run/cargohold-compare.XXXXXX)
OUT=${OUT:-$(mktemp -d /tmp/cargohold-compare-out.XXXXXX)}
bundle=$work/bundle
empty=$work/empty
: >"$empty"

cleanup() {
    # Anything a failed run left behind: containers in each side's root, then cgroups.
    for side in cli crun runc; do
        root=$OUT/roots/$side
        bin=
        case $side in cli) bin=$CLI ;; crun) bin=$CRUN ;; runc) bin=$RUNC ;; esac
        [ -n "$bin" ] && [ -d "$root" ] || continue
        for d in "$root"/chb-*; do
            [ -e "$d" ] || continue
            id=$(basename "$d")
            echo "compare.sh: leftover $side container $id, deleting" >&2
            "$bin" --root "$root" delete -f "$id" >/dev/null 2>&1 || true
        done
    done
    rm -rf "$work" "$OUT/roots"
}
trap cleanup EXIT INT TERM

echo "== bundle" >&2
"$here/make-bundle.sh" "$bundle" "$libloop --print-spec"

echo "== $N iterations x {library${CLI:+, cli}${CRUN:+, crun}${RUNC:+, runc}, bare-true}, $WARMUP warm-up" >&2
echo "   $(uname -r), $(nproc) cpus; crun: ${CRUN:+$($CRUN --version | head -n1)}; runc: ${RUNC:+$($RUNC --version | head -n1)}" >&2
# shellcheck disable=SC2016
unshare -m sh -c '
    mount --bind "$1" /sys/fs/cgroup/unified/cgroup.controllers
    shift
    exec "$@"
' sh "$empty" "$libloop" compare --bundle "$bundle" -n "$N" --warmup "$WARMUP" \
    --out "$OUT" --seed "$SEED" \
    ${CLI:+--cli "$CLI"} ${CRUN:+--crun "$CRUN"} ${RUNC:+--runc "$RUNC"}

# Leak check: cgroups and mounts of our ids (prefix chb-<harness pid>-).
leaks=$(find /sys/fs/cgroup -maxdepth 4 -name 'chb-*' 2>/dev/null || true)
mleaks=$(grep -c 'chb-' /proc/self/mountinfo || true)
if [ -n "$leaks" ] || [ "$mleaks" != 0 ]; then
    echo "LEAK: cgroups:" $leaks "mounts: $mleaks" >&2
    for d in $leaks; do rmdir "$d" 2>/dev/null || true; done
    exit 1
fi
echo "no cgroup or mount left behind; raw samples (ns) in $OUT/*.ns" >&2

# The kernel's floor (benches/floor.c): this bundle's namespaces, cgroups, mounts, devices,
# state and exec done by a minimal C program with no runtime around them, in the same
# sitting, against the targets. Skipped without a C compiler or v1 hierarchies.
if command -v cc >/dev/null 2>&1 && [ -n "$CRUN" ] &&
    grep -q ' - cgroup cgroup ' /proc/self/mountinfo; then
    cc -O2 -static -o "$work/floor" "$here/floor.c" 2>/dev/null ||
        cc -O2 -o "$work/floor" "$here/floor.c"
    "$work/floor" "$bundle/rootfs" "$N" >"$OUT/floor.ns"
    FLOOR_NO_NET=1 "$work/floor" "$bundle/rootfs" "$N" >"$OUT/floor-no-netns.ns"
    python3 - "$OUT" <<'PY'
import statistics as st, sys
out = sys.argv[1]
ms = lambda f: [int(l) / 1e6 for l in open(f"{out}/{f}.ns")]
crun = st.median(ms("crun"))
for name in ("floor", "floor-no-netns"):
    v = sorted(ms(name))
    print(f"{name:15s} median {st.median(v):6.3f} ms  p99 {v[int(len(v) * 0.99) - 1]:6.3f} ms"
          f"  = {st.median(v) / crun:.2f}x crun's median")
print(f"(benches/floor.c: this bundle's kernel work alone; the library target 0.3x = {0.3 * crun:.3f} ms,"
      f" the CLI's 0.5x = {0.5 * crun:.3f} ms)")
PY
fi
