#!/bin/sh
# Network benchmark (issue 5), in network namespaces of its own, side by side with podman:
#   (1) start latency of `run --rm true` with bridge networking vs `none`:
#       engine-none / engine-bridge   the cargohold engine in-process, through the public API
#                                     (benches/netloop.rs: image looked up by reference, then
#                                     engine.container(&image).network("none"|"bridge")
#                                     .args(["true"]).auto_remove(true)...),
#       podman-none / podman-bridge   `podman run --rm --network none|bridge REF true` as whole
#                                     processes (netavark, podman's default `podman` network),
#       N interleaved iterations (order shuffled per iteration); median/p90/p99 per side,
#       bridge − none for each, and the target: bridge adds at most 25 ms to the engine's run;
#       twice: "fresh", where the only container on a bridge is the one measured, so the
#       engine and netavark make the bridge (and its firewall rules) for each run and remove
#       it after, and "kept", where a detached `sleep` container of each keeps its bridge up
#       (as Docker's docker0 always is; netloop --keep-bridge);
#   (2) TCP throughput: BYTES (1 GiB) from netloop to a busybox nc/dd receiver on the host
#       (loopback, no container), in an engine container through a published port on
#       127.0.0.1 and at its bridge address, the same for podman, and to a Rust receiver on
#       loopback; REPS interleaved repetitions, MB/s and ratios.
#
#   benches/net-compare.sh                 # as root; N=100 WARMUP=5 BYTES=1GiB REPS=10
#   N=50 PODMAN= benches/net-compare.sh    # an empty PODMAN skips podman's sides
#
# Env: N, WARMUP, BYTES, REPS, SEED, PODMAN (binary), LATENCY_MODES ("fresh kept", either or
# both), OUT (raw latency samples, OUT/MODE/SIDE.ms, default a temp dir that is kept), WORK_PARENT (default /var/tmp), MAX_LOAD (1.5) and LOAD_WAIT (10):
# before measuring, wait (30 s at a time, up to LOAD_WAIT times) while the 1-minute load
# average is above MAX_LOAD; the load is printed with the figures either way.
#
# Isolation: everything runs in `unshare -m -n` (a private mount namespace and a network
# namespace of its own, so even podman's cleanup never sees the machine's interfaces), and
# netloop moves itself into a fresh network namespace before anything else (lo up): the
# engine's and podman's bridges, veths, addresses, routes and nftables/iptables rules are all
# made there, and vanish with it; no packet leaves the machine. In that mount namespace:
# - tmpfs over /run/netns (podman's netns bind mounts) and /run/containers/networks
#   (rootful netavark keeps its IPAM database there whatever --runroot says), so podman's
#   network state never reaches the machine's; those two directories are created on the
#   host if missing (an empty mount point) and removed again at the end;
# - an empty file over /sys/fs/cgroup/unified/cgroup.controllers: crun 1.8 (podman's
#   runtime) refuses cgroup v1/v2 hybrid hosts otherwise (as benches/compare.sh does).
# podman: private --root/--runroot/--tmpdir under the work dir, overlay, cgroupfs cgroup
# manager, events off, the image `podman import`ed from the same busybox rootfs the engine
# imports (benches/make-bundle.sh); rlimits as in benches/engine-compare.sh (no
# CAP_SYS_RESOURCE here: PODMAN_ULIMITS).
#
# Cleanup (also on failure or Ctrl-C): podman rm -af / rmi -af in the private root (inside
# the namespaces), every mount under the work dir unmounted, the engine root (netloop
# removes its containers and checks that no cgroup, mount, link or nft table of its is
# left) and the work dir removed, libpod_parent cgroups removed if they were not there
# before; then a leak check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-100}
WARMUP=${WARMUP:-5}
BYTES=${BYTES:-1073741824}
REPS=${REPS:-10}
SEED=${SEED:-11400714819323198485}
LATENCY_MODES=${LATENCY_MODES:-fresh kept}
MAX_LOAD=${MAX_LOAD:-1.5}
LOAD_WAIT=${LOAD_WAIT:-10}
PODMAN_ULIMITS=${PODMAN_ULIMITS:---ulimit nofile=1024:1024 --ulimit nproc=4096:4096}
REF=localhost/busybox-netbench:latest

if [ "$(id -u)" != 0 ]; then
    echo "net-compare.sh: needs root (namespaces, containers); try sudo" >&2
    exit 2
fi

cd "$top"
echo "== building (release)" >&2
loop=$(cargo build --release --bench netloop --message-format=json \
    | jq -r 'select(.reason=="compiler-artifact" and .target.name=="netloop") | .executable' \
    | tail -n1)
[ -x "$loop" ] || { echo "net-compare.sh: building benches/netloop.rs failed" >&2; exit 1; }
PODMAN=${PODMAN-$(command -v podman || true)}

# Short: podman refuses a --runroot longer than 50 characters.
work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-ncmp.XXXXXX")
OUT=${OUT:-$(mktemp -d /tmp/cargohold-net-compare-out.XXXXXX)}
bundle=$work/bundle
eroot=$work/engine
empty=$work/empty
: >"$empty"
mkdir -p "$eroot"
pglobal="$PODMAN --root $work/podman --runroot $work/prun --tmpdir $work/ptmp --storage-driver overlay --cgroup-manager cgroupfs --events-backend none"
. "$here/lib.sh"
libpod_before=$(libpod_cgroups)
made_dirs=
for d in /run/netns /run/containers /run/containers/networks; do
    [ -e "$d" ] || made_dirs="$d $made_dirs"
done

cleanup() {
    set +e
    # Deepest first: whatever a killed inner session left mounted under the work dir.
    grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    rm -rf "$work"
    # Made here as mount points (deepest first, as listed); only if still empty.
    for d in $made_dirs; do rmdir "$d" 2>/dev/null; done
    libpod_cgroups_remove
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== busybox rootfs (config.json unused)" >&2
"$here/make-bundle.sh" "$bundle" "echo {}"
mkdir -p /run/netns /run/containers/networks

tries=0
while [ "$(awk -v m="$MAX_LOAD" '{print ($1 > m)}' /proc/loadavg)" = 1 ] && [ "$tries" -lt "$LOAD_WAIT" ]; do
    echo "   load $(cut -d' ' -f1-3 /proc/loadavg) > $MAX_LOAD, waiting 30 s ($tries/$LOAD_WAIT)" >&2
    sleep 30
    tries=$((tries + 1))
done
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $(uname -r), $(nproc) cpus, load $load_before; ${PODMAN:+$($PODMAN --version)}" >&2

export N WARMUP BYTES REPS SEED REF OUT PODMAN_ULIMITS LATENCY_MODES
# The inner session: private mounts, a throwaway network namespace (netloop makes its own
# below it), podman's state kept there; removes podman's containers and images on its way
# out.
# shellcheck disable=SC2016
unshare -m -n sh -c '
    set -eu
    empty=$1 bundle=$2 pglobal=$3 loop=$4; shift 4
    mount -t tmpfs ch-ncmp /run/netns
    mount -t tmpfs ch-ncmp /run/containers/networks
    mount --bind "$empty" /sys/fs/cgroup/unified/cgroup.controllers
    if [ -n "$pglobal" ]; then
        trap "$pglobal rm -af -t 0 >/dev/null 2>&1; $pglobal rmi -af >/dev/null 2>&1" EXIT
        tar -C "$bundle/rootfs" -c . | $pglobal import -q - "$REF" >/dev/null
        set -- --podman "$pglobal" --podman-run-args "$PODMAN_ULIMITS" "$@"
    fi
    rc=0
    for mode in $LATENCY_MODES; do
        case $mode in
            fresh) keep= ;;
            kept) keep=--keep-bridge ;;
            *) echo "net-compare.sh: LATENCY_MODES: fresh or kept, not $mode" >&2; exit 2 ;;
        esac
        echo "== (1) start latency: run --rm true, bridge vs none; bridges $mode" >&2
        "$loop" "$@" latency -n "$N" --warmup "$WARMUP" --out "$OUT/$mode" --seed "$SEED" $keep || rc=1
        echo "   load now: $(cut -d" " -f1-3 /proc/loadavg)" >&2
    done
    echo "== (2) throughput: $BYTES bytes per transfer" >&2
    "$loop" "$@" throughput --bytes "$BYTES" --reps "$REPS" --seed "$SEED" || rc=1
    exit $rc
' sh "$empty" "$bundle" "${PODMAN:+$pglobal}" "$loop" \
    --root "$eroot" --rootfs "$bundle/rootfs" --image "$REF" &&
    rc=0 || rc=$?
echo "   load before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Leak check: mounts under the work dir, podman's cgroups, the directories made here.
cleanup
trap - EXIT
# libpod_parent is shared by every podman on the machine (cgroupfs manager): a container
# cgroup in it may be another user's, so that is a warning, not a failure.
others=$(find /sys/fs/cgroup -maxdepth 4 -name 'libpod-*' 2>/dev/null || true)
[ -z "$others" ] || echo "warning: podman container cgroups (ours, or another podman user's): $others" >&2
leaks=
[ -n "$libpod_before" ] || [ -n "$others" ] || leaks=$(find /sys/fs/cgroup -maxdepth 3 -name libpod_parent 2>/dev/null || true)
mleaks=$(grep -cF "$work" /proc/self/mountinfo || true)
dleft=
for d in $made_dirs; do [ ! -e "$d" ] || dleft="$dleft $d"; done
if [ -n "$leaks" ] || [ "$mleaks" != 0 ] || [ -e "$work" ] || [ -n "$dleft" ]; then
    echo "LEAK: cgroups: $leaks; mounts: $mleaks; dirs:$dleft" >&2
    exit 1
fi
echo "nothing left behind; raw latency samples (ms) in $OUT/MODE/SIDE.ms" >&2
exit "$rc"
