#!/bin/sh
# Side by side (issue 12): Dockerfile builds, cold (build cache empty) and fully cached, by
#   (a) ours      `examples/engine --root R build --progress=quiet --network none -t T CTX`
#                 (release build of the example, engine root on disk under the work dir),
#   (b) buildkit  `DOCKER_BUILDKIT=1 /usr/bin/docker -H unix://S build -q --network none
#                 -t T CTX` against a private dockerd (Debian's docker.io 20.10: its own
#                 --data-root, --exec-root, pidfile and socket under the work dir, overlay2,
#                 cgroupfs, --bridge=none --iptables=false --ip-masq=false, and the managed
#                 containerd it starts itself — /run/containerd is hidden by a tmpfs, so it
#                 never uses another containerd of the host),
#   (c) buildah   `buildah --root R --runroot RR --storage-driver overlay bud --layers -q
#                 --network none --runtime runc -t T CTX` (its own root in the work dir).
# The base image is present for all three: one busybox rootfs (benches/make-bundle.sh:
# Debian's busybox-static) packed once as a docker-archive tarball and loaded into each
# (`engine load`, `docker load`, `buildah pull docker-archive:`), as localhost/busybox-bench.
#
# The Dockerfile (case "small"): two stages, two RUNs, a COPY of 200 small files (100 B to
# 4 kB of random text in a tree of 10 directories) and a COPY --from:
#     FROM localhost/busybox-bench:latest AS build
#     RUN busybox mkdir -p /out && echo built > /out/artifact
#     COPY files/ /src/
#     RUN busybox find /src -type f | busybox wc -l > /out/count
#     FROM localhost/busybox-bench:latest
#     COPY --from=build /out /out
#     CMD ["cat", "/out/count"]
# LARGE=1 adds case "large": `COPY big/ /big/` of 20 files of 10 MB of random data (200 MB).
#
# Modes: cold — before each timed build (untimed) the result and the whole build cache go:
# ours `rmi -f T` + `builder prune -f`; buildkit `rmi -f T` + `builder prune -af`; buildah
# `rmi -f T` + `rmi --prune` (its --layers intermediates are dangling images) + `rm -a`;
# cached — one untimed build first, then every build hits the cache for every step.
# N iterations (default 10) per case and mode, after WARMUP (default 1) untimed ones; in each
# iteration every tool builds once, in an order shuffled per iteration (python3 harness: one
# sample per tool per iteration under the same conditions, which hyperfine's one-command-
# at-a-time runs would not give on a shared machine). Then per tool: median, p99 (linear
# interpolation), min, max in ms; and ours/buildkit against the issue's targets: cold <=
# 0.5x, cached <= 0.25x. Each tool's image is checked once: the result runs and counts 200.
#
#   benches/build-compare.sh                 # as root; N=10, small case
#   N=30 LARGE=1 benches/build-compare.sh    # and the 200 MB COPY
#   OURS= benches/build-compare.sh           # an empty OURS/DOCKERD/BUILDAH skips that side
#
# Env: N, WARMUP, LARGE, SEED, OURS (engine binary; default: cargo build --release
# --example engine), DOCKERD, DOCKER (default /usr/sbin/dockerd, /usr/bin/docker), BUILDAH,
# RUNC, OUT (raw samples, default a kept temp dir), WORK_PARENT (default /var/tmp, on disk).
#
# Prerequisites (Debian; not installed by this script):
#   apt-get install docker.io buildah runc busybox-static python3
# (docker.io's package scripts do not start a daemon where policy-rc.d forbids it; this
# script never uses a system dockerd.)
#
# Isolation: the script re-executes itself in a new network namespace with only loopback
# (`unshare -n -m`): dockerd, its containerd, buildah's and our RUN steps have no route out
# (and --network none on top); the private mount namespace holds every mount the tools make
# and the tmpfs over /run/containerd. On exit — also on failure or Ctrl-C — dockerd is
# stopped by its pid (SIGTERM, then SIGKILL after 20 s) and any process still running from
# the work dir is killed by pid, buildah's containers and images are removed, every mount
# under the work dir is unmounted and the work dir removed; then a leak check.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

. "$here/lib.sh"
bench_enter build-compare.sh BCMP_NETNS "$@"

N=${N:-10}
WARMUP=${WARMUP:-1}
LARGE=${LARGE:-0}
SEED=${SEED:-12}
DOCKERD=${DOCKERD-/usr/sbin/dockerd}
export DOCKER_BUILDKIT=1
BUILDAH=${BUILDAH-$(command -v buildah || true)}
RUNC=${RUNC:-$(command -v runc || echo /usr/sbin/runc)}
BASE=localhost/busybox-bench:latest
TAG=localhost/build-bench:latest

# the network namespace: loopback only
ip link set lo up
if [ "$(ip -o link show | grep -vc ': lo:')" != 0 ]; then
    echo "build-compare.sh: the network namespace has more than lo" >&2
    exit 1
fi

work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-bcmp.XXXXXX")
OUT=${OUT:-$(mktemp -d /tmp/cargohold-build-compare-out.XXXXXX)}
eroot=$work/engine
broot=$work/buildah
mkdir -p "$eroot" "$broot/root" "$broot/run" "$broot/tmp" "$work/cases"

bah() {
    TMPDIR=$broot/tmp "$BUILDAH" --root "$broot/root" --runroot "$broot/run" \
        --storage-driver overlay "$@"
}

cleanup() {
    set +e
    dockerd_stop
    if [ -n "$BUILDAH" ] && [ -d "$broot/root" ]; then
        bah rm -a >/dev/null 2>&1
        bah rmi -a -f >/dev/null 2>&1
    fi
    work_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== base image and contexts" >&2
"$here/make-bundle.sh" "$work/bundle" "echo {}" >/dev/null
PYTHONPATH=$here python3 - "$work" "$SEED" "$LARGE" <<'PY'
import hashlib, io, json, os, random, subprocess, sys, tarfile
work, seed, large = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
rootfs = os.path.join(work, "bundle", "rootfs")

# the base image as a docker-archive (docker save's layout), for every tool
layer = subprocess.run(["tar", "-C", rootfs, "--numeric-owner", "--owner=0", "--group=0",
                        "--sort=name", "--mtime=@0", "-cf", "-", "."],
                       check=True, stdout=subprocess.PIPE).stdout
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Cmd": ["sh"]},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "busybox-static rootfs"}],
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": config_name, "RepoTags": ["localhost/busybox-bench:latest"],
                        "Layers": ["layer/layer.tar"]}]).encode()
with tarfile.open(os.path.join(work, "busybox.tar"), "w") as t:
    for name, data in [(config_name, config), ("layer/layer.tar", layer),
                       ("manifest.json", manifest)]:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))

rng = random.Random(seed)
def words(n):
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz \n") for _ in range(n))

small = os.path.join(work, "cases", "small")
for i in range(200):
    d = os.path.join(small, "files", f"dir{i % 10}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:03}.txt"), "w") as f:
        f.write(words(rng.randint(100, 4096)))
with open(os.path.join(small, "Dockerfile"), "w") as f:
    f.write("""FROM localhost/busybox-bench:latest AS build
RUN busybox mkdir -p /out && echo built > /out/artifact
COPY files/ /src/
RUN busybox find /src -type f | busybox wc -l > /out/count

FROM localhost/busybox-bench:latest
COPY --from=build /out /out
CMD ["cat", "/out/count"]
""")
if large:
    big = os.path.join(work, "cases", "large")
    os.makedirs(os.path.join(big, "big"))
    for i in range(20):
        with open(os.path.join(big, "big", f"blob{i:02}.bin"), "wb") as f:
            f.write(rng.randbytes(10 << 20))
    with open(os.path.join(big, "Dockerfile"), "w") as f:
        f.write("""FROM localhost/busybox-bench:latest
COPY big/ /big/
CMD ["sh", "-c", "busybox ls /big | busybox wc -l"]
""")
PY

# Each side: "name|build command|cold preparation (untimed)|check command"; CTX stands for
# the case's context directory.
sides=$work/sides
: >"$sides"
if [ -n "$OURS" ]; then
    "$OURS" --root "$eroot" load -q -i "$work/busybox.tar" >/dev/null
    o="$OURS --root $eroot"
    echo "ours|$o build --progress=quiet --network none -t $TAG CTX|$o rmi -f $TAG;$o builder prune -f|$o run --rm $TAG" >>"$sides"
fi
if [ -n "$DOCKERD" ]; then
    # its own containerd, under --exec-root (benches/lib.sh)
    dockerd_start "$work/docker" --bridge=none --iptables=false --ip6tables=false \
        --ip-masq=false --userland-proxy=false
    dk load -q -i "$work/busybox.tar" >/dev/null
    d="env DOCKER_BUILDKIT=1 $(dk_cmd | sed 's/^env //')"
    echo "buildkit|$d build -q --network none -t $TAG CTX|$d rmi -f $TAG;$d builder prune -af|$d run --rm --network none $TAG" >>"$sides"
fi
if [ -n "$BUILDAH" ]; then
    id=$(bah pull -q "docker-archive:$work/busybox.tar")
    bah tag "$id" "$BASE"
    b="env TMPDIR=$broot/tmp $BUILDAH --root $broot/root --runroot $broot/run --storage-driver overlay"
    # the check: what the image's CMD prints in either case (buildah has no `run IMAGE`)
    cat >"$broot/check.sh" <<EOF
c=\$($b from -q --pull-never $TAG) || exit 1
$b run --network none --runtime $RUNC "\$c" -- sh -c 'cat /out/count 2>/dev/null || busybox ls /big | busybox wc -l'
st=\$?
$b rm "\$c" >/dev/null
exit \$st
EOF
    echo "buildah|$b bud --layers -q --network none --runtime $RUNC -t $TAG CTX|$b rmi -f $TAG;$b rmi --prune -f;$b rm -a|sh $broot/check.sh" >>"$sides"
fi

cases=small
[ "$LARGE" = 1 ] && cases="small large"
echo "== $N iterations (+$WARMUP warm-up) x {$(cut -d'|' -f1 "$sides" | paste -sd, -)} x {cold, cached} x {$cases}" >&2
echo "   $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); $(dk version -f 'docker {{.Server.Version}}' 2>/dev/null || true); $([ -n "$BUILDAH" ] && "$BUILDAH" --version)" >&2
PYTHONPATH=$here python3 - "$sides" "$work/cases" "$OUT" "$N" "$WARMUP" "$SEED" $cases <<'PY'
import os, random, shlex, statistics, subprocess, sys, time
from stats import row
sides_file, cases_dir, out, n, warmup, seed = sys.argv[1:7]
cases = sys.argv[7:]
n, warmup = int(n), int(warmup)
rng = random.Random(int(seed))
sides = []
for line in open(sides_file):
    name, build, prep, check = line.rstrip("\n").split("|")
    sides.append({"name": name, "build": build, "prep": [c for c in prep.split(";") if c],
                  "check": check})

def run(cmd, ctx, quiet_fail=False):
    argv = [ctx if a == "CTX" else a for a in shlex.split(cmd)]
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0 and not quiet_fail:
        raise RuntimeError(f"{cmd}: exit {r.returncode}\n{r.stderr.decode(errors='replace')[-2000:]}")
    return r

def cold_prep(side, ctx):
    for c in side["prep"]:
        run(c, ctx, quiet_fail=True)  # rmi of an image not there yet fails: fine

results = {}
dead = set()
for case in cases:
    ctx = os.path.join(cases_dir, case)
    # each side's result once: it must run and hold what the Dockerfile made
    for s in sides:
        try:
            cold_prep(s, ctx)
            run(s["build"], ctx)
            out_ = run(s["check"], ctx).stdout.decode().strip()
            print(f"   check {case} {s['name']}: {out_[:60]!r}", file=sys.stderr)
        except Exception as e:
            print(f"   {s['name']} fails, left out: {e}", file=sys.stderr)
            dead.add(s["name"])
    live = [s for s in sides if s["name"] not in dead]
    for mode in ["cold", "cached"]:
        samples = {s["name"]: [] for s in live}
        for it in range(warmup + n):
            order = live[:]
            rng.shuffle(order)
            for s in order:
                if mode == "cold":
                    cold_prep(s, ctx)
                t0 = time.perf_counter_ns()
                run(s["build"], ctx)
                ms = (time.perf_counter_ns() - t0) / 1e6
                if it >= warmup:
                    samples[s["name"]].append(ms)
        for name, xs in samples.items():
            results[(case, mode, name)] = xs
            with open(os.path.join(out, f"{case}-{mode}-{name}.ms"), "w") as f:
                f.write("".join(f"{x:.3f}\n" for x in xs))

print()
print("| case | mode | tool | median ms | p99 ms | min | max |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (case, mode, name), xs in results.items():
    print(row(f"{case} | {mode} | {name}", xs))
print()
targets = {"cold": 0.5, "cached": 0.25}
for case in cases:
    for mode in ["cold", "cached"]:
        bk = results.get((case, mode, "buildkit"))
        if not bk:
            continue
        for name in ["ours", "buildah"]:
            xs = results.get((case, mode, name))
            if not xs:
                continue
            r = statistics.median(xs) / statistics.median(bk)
            t = f" (target <= {targets[mode]}x: {'met' if r <= targets[mode] else 'MISSED'})" \
                if name == "ours" else ""
            print(f"{case} {mode}: {name}/buildkit median {r:.3f}x{t}")
PY
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

cleanup
trap - EXIT
mleaks=$(grep -cF "$work" /proc/self/mountinfo || true)
if [ "$mleaks" != 0 ] || [ -e "$work" ]; then
    echo "LEAK: mounts: $mleaks, work dir $work" >&2
    exit 1
fi
echo "nothing left behind; raw samples (ms) in $OUT/*.ms" >&2
