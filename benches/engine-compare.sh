#!/bin/sh
# Side by side (issue 4): `docker run --rm busybox true` and its equivalents, one busybox
# rootfs (benches/make-bundle.sh: Debian's busybox-static) shared by every side:
#   (a) engine     the cargohold engine in-process, through the public API
#                  (benches/engineloop.rs: image looked up by reference, then
#                  engine.container(&image).args(["true"]).auto_remove(true)
#                  .stdin(Stdio::null()).status()),
#   (b) podman     `podman run --rm --network none localhost/busybox-bench true`, the rootfs
#                  `podman import`ed into a private --root/--runroot under the work dir,
#                  overlay storage driver, cgroupfs cgroup manager,
#   (c) crun       `crun run` of an OCI bundle of the same rootfs (no image, no overlay:
#                  the runtime alone),
#   (d) engine-cli `examples/engine --root R run --rm localhost/busybox-bench true`, the
#                  docker-like CLI as a whole process (same engine root as (a)),
#   plus bare-true: spawning the static busybox `true` from the harness (the floor).
# N interleaved iterations (after WARMUP), the order of the sides shuffled per iteration;
# then a table of min, median, p90, p99, max, mean and the ratio to podman's median, and
# the target: engine median <= 0.1x podman's median.
#
# How the in-process side is interleaved: the harness is the loop binary itself
# (`engineloop compare`), a long-lived process that keeps one Engine open and, in every
# iteration, times its own in-process run and spawns (and times) each other side as a
# whole process, in shuffled order. So every side gets one sample per iteration under the
# same conditions, and the engine side pays no process start (as a library user's program
# would not); running `engineloop run -n N` in batches between the others would have put
# minutes between the engine's samples and the others'.
#
#   benches/engine-compare.sh                  # as root; N=200 WARMUP=10, engine root on disk
#   ENGINE_TMPFS=1 benches/engine-compare.sh   # the engine root on a tmpfs
#   ENGINE_SECCOMP=unconfined benches/engine-compare.sh  # both engine sides without the default seccomp profile
#   N=50 PODMAN= benches/engine-compare.sh     # an empty PODMAN/CRUN/CLI skips that side
#
# Env: N, WARMUP, SEED, ENGINE_TMPFS, PODMAN, CRUN, CLI (binaries), OUT (raw samples,
# default a temp dir that is kept), WORK_PARENT (default /var/tmp, on disk).
#
# The 100-container scale run is `engineloop scale`. Figures measured on the development
# VM (engine 0.087-0.093x podman with the root on ext4, 0.03-0.04x on tmpfs): see
# benches/README.md.
#
# Host quirks handled here:
# - crun 1.8 refuses cgroup v1/v2 hybrid hosts ("drop all controllers from cgroupv2"), and
#   podman runs crun: the whole harness runs in a private mount namespace with an empty
#   file over /sys/fs/cgroup/unified/cgroup.controllers (as benches/compare.sh), so every
#   side runs there and none pays for the workaround per run.
# - This sandbox has no CAP_SYS_RESOURCE, so podman's rootful default rlimits (nofile
#   1048576, nproc 4194304) cannot be set ("setrlimit RLIMIT_NOFILE: Operation not
#   permitted"); podman gets `--ulimit nofile=1024:1024 --ulimit nproc=4096:4096`
#   (PODMAN_ULIMITS) — setting rlimits costs nothing measurable either way.
# - podman leaves libpod_parent/conmon cgroups behind (cgroupfs manager); they are removed
#   at the end if they were not there before.
#
# Cleanup (also on failure or Ctrl-C): podman rm -af and rmi -af in the private root, every
# mount under the work dir unmounted, leftover crun containers deleted, the engine root
# (engineloop removes its containers) and the work dir removed; then a leak check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-200}
WARMUP=${WARMUP:-10}
SEED=${SEED:-11400714819323198485}
ENGINE_TMPFS=${ENGINE_TMPFS:-0}
PODMAN_ULIMITS=${PODMAN_ULIMITS:---ulimit nofile=1024:1024 --ulimit nproc=4096:4096}
REF=localhost/busybox-bench:latest

if [ "$(id -u)" != 0 ]; then
    echo "engine-compare.sh: needs root (containers); try sudo" >&2
    exit 2
fi

cd "$top"
echo "== building (release)" >&2
loop=$(cargo build --release --bench engineloop --message-format=json \
    | jq -r 'select(.reason=="compiler-artifact" and .target.name=="engineloop") | .executable' \
    | tail -n1)
[ -x "$loop" ] || { echo "engine-compare.sh: building benches/engineloop.rs failed" >&2; exit 1; }
if [ -z "${CLI+x}" ]; then
    cargo build --release --example engine >&2
    CLI=$top/target/release/examples/engine
fi
PODMAN=${PODMAN-$(command -v podman || true)}
CRUN=${CRUN-$(command -v crun || true)}

# Short: podman refuses a --runroot longer than 50 characters.
work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-ecmp.XXXXXX")
OUT=${OUT:-$(mktemp -d /tmp/cargohold-engine-compare-out.XXXXXX)}
bundle=$work/bundle
eroot=$work/engine
proot=$work/podman
prun=$work/prun
croot=$work/crun
empty=$work/empty
: >"$empty"
mkdir -p "$eroot" "$croot"
. "$here/lib.sh"
libpod_before=$(libpod_cgroups)
# The engine names its cgroups cargohold-<container id>. engineloop checks exactly that no
# cgroup or mount of a container it ran is left (and fails otherwise); the CLI's container
# ids are not known here and other programs on the host may make such cgroups meanwhile,
# so for those the check below only warns about new ones.
ours_before=$(find /sys/fs/cgroup -maxdepth 2 -name 'cargohold-*' 2>/dev/null | sort)

pm() {
    "$PODMAN" --root "$proot" --runroot "$prun" --storage-driver overlay \
        --cgroup-manager cgroupfs "$@"
}

cleanup() {
    set +e
    if [ -n "$CRUN" ] && [ -d "$croot" ]; then
        for id in $("$CRUN" --root "$croot" list -q 2>/dev/null); do
            echo "engine-compare.sh: leftover crun container $id, deleting" >&2
            "$CRUN" --root "$croot" delete -f "$id" >/dev/null 2>&1
        done
    fi
    if [ -n "$PODMAN" ] && [ -d "$proot" ]; then
        pm rm -af >/dev/null 2>&1
        pm rmi -af >/dev/null 2>&1
    fi
    # Deepest first: podman's overlay home bind mount, the engine's tmpfs, anything left.
    grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
        umount "$m" 2>/dev/null || umount -l "$m"
    done
    rm -rf "$work"
    libpod_cgroups_remove
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== bundle and images" >&2
"$here/make-bundle.sh" "$bundle" "$loop --print-spec"
if [ "$ENGINE_TMPFS" = 1 ]; then
    mount -t tmpfs cargohold-engine-compare "$eroot"
    where="engine root on tmpfs"
else
    where="engine root on $(findmnt -n -o FSTYPE -T "$eroot") ($eroot)"
fi
if [ -n "$PODMAN" ]; then
    tar -C "$bundle/rootfs" -c . | pm import -q - "$REF" >/dev/null
fi

# ENGINE_SECCOMP=unconfined: both engine sides without Docker's default seccomp profile.
secopt=
[ "${ENGINE_SECCOMP:-}" = unconfined ] && secopt="--security-opt seccomp=unconfined"
set -- --side "engine-cli=$CLI --root $eroot run --rm $secopt $REF true"
[ -n "$CLI" ] || set --
if [ -n "$PODMAN" ]; then
    # shellcheck disable=SC2086
    set -- "$@" --side "podman=$PODMAN --root $proot --runroot $prun --storage-driver overlay --cgroup-manager cgroupfs run --rm --network none $PODMAN_ULIMITS $REF true"
fi
if [ -n "$CRUN" ]; then
    set -- "$@" --side "crun=$CRUN --root $croot run --bundle $bundle {id}"
fi

echo "== $N iterations x {engine${CLI:+, engine-cli}${PODMAN:+, podman}${CRUN:+, crun}, bare-true}, $WARMUP warm-up; $where" >&2
echo "   $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); ${PODMAN:+$($PODMAN --version)}; ${CRUN:+$($CRUN --version | head -n1)}" >&2
# shellcheck disable=SC2016
unshare -m sh -c '
    mount --bind "$1" /sys/fs/cgroup/unified/cgroup.controllers
    shift
    exec "$@"
' sh "$empty" "$loop" --root "$eroot" --rootfs "$bundle/rootfs" --image "$REF" \
    compare -n "$N" --warmup "$WARMUP" --out "$OUT" --seed "$SEED" "$@"
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# Leak check: mounts under the work dir, crun's and podman's cgroups, new engine cgroups.
cleanup
trap - EXIT
new=
for d in $(find /sys/fs/cgroup -maxdepth 2 -name 'cargohold-*' 2>/dev/null); do
    case " $(echo $ours_before) " in *" $d "*) ;; *) new="$new $d" ;; esac
done
[ -z "$new" ] || echo "warning: new cargohold-* cgroups (ours, or another program's):$new" >&2
leaks=$(find /sys/fs/cgroup -maxdepth 4 \( -name 'ebc-*' -o -name 'libpod-*' \) 2>/dev/null || true)
mleaks=$(grep -cF "$work" /proc/self/mountinfo || true)
if [ -n "$leaks" ] || [ "$mleaks" != 0 ] || [ -e "$work" ]; then
    echo "LEAK: cgroups:" $leaks "mounts: $mleaks" >&2
    exit 1
fi
echo "nothing left behind; raw samples (ms) in $OUT/*.ms" >&2
