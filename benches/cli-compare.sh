#!/bin/sh
# Side by side (issue 13): listing a busy engine, `engine ps -a` and `engine images` against
# `docker ps -a` and `docker images` with the same counts: COUNT containers (default 200,
# created, not started) and IMAGES images (default 50, each its own one-file layer imported
# from a tarball, tagged localhost/cli-bench-N:latest).
#   ours    the release build of examples/engine, a whole process per listing, root on disk
#   docker  Debian's docker.io (20.10) client against a private dockerd: its own --data-root,
#           --exec-root, pidfile and socket under the work dir, overlay2, cgroupfs,
#           --bridge=none --iptables=false, and its own containerd (a tmpfs hides
#           /run/containerd)
# N interleaved iterations (default 30, after WARMUP=3), every listing once per iteration in
# a shuffled order (python3 harness); median and p99 (linear interpolation) per listing and
# ours/docker against the issue's target (<= 0.25x). Each listing is checked once: it must
# show COUNT containers (+ header) or IMAGES images (+ the base, + header).
#
#   benches/cli-compare.sh                     # as root
#   N=50 COUNT=200 IMAGES=50 benches/cli-compare.sh
#
# Env: N, WARMUP, COUNT, IMAGES, SEED, OURS (engine binary; default: cargo build --release
# --example engine), DOCKERD, DOCKER (default /usr/sbin/dockerd, /usr/bin/docker), OUT (raw
# samples; default a kept temp dir), WORK_PARENT (default /var/tmp).
# Prerequisites (Debian): apt-get install docker.io busybox-static python3
#
# Isolation: the script re-executes itself in `unshare -n -m` (loopback only, a private
# mount namespace). On exit, also on failure or Ctrl-C, dockerd is stopped by its pid and
# anything still running from the work dir is killed by pid, mounts under the work dir go,
# the work dir is removed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

. "$here/lib.sh"
bench_enter cli-compare.sh CCMP_NETNS "$@"

N=${N:-30}
WARMUP=${WARMUP:-3}
COUNT=${COUNT:-200}
IMAGES=${IMAGES:-50}
SEED=${SEED:-13}
ip link set lo up

work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-ccmp.XXXXXX")
OUT=${OUT:-$(mktemp -d /tmp/cargohold-cli-compare-out.XXXXXX)}
eroot=$work/engine
mkdir -p "$eroot" "$work/img"

eng() { "$OURS" --root "$eroot" "$@"; }

cleanup() {
    set +e
    dockerd_stop
    work_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== images: a busybox base and $IMAGES one-file images, for both" >&2
"$here/make-bundle.sh" "$work/bundle" "echo {}" >/dev/null
tar -C "$work/bundle/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/base.tar" .
i=1
while [ $i -le "$IMAGES" ]; do
    mkdir -p "$work/img/$i"
    echo "image $i" >"$work/img/$i/id"
    tar -C "$work/img/$i" -cf "$work/img/$i.tar" id
    i=$((i + 1))
done

dockerd_start "$work/docker" --bridge=none --iptables=false --ip6tables=false \
    --ip-masq=false --userland-proxy=false

eng import "$work/base.tar" localhost/cli-bench-base:latest >/dev/null
dk import "$work/base.tar" localhost/cli-bench-base:latest >/dev/null
i=1
while [ $i -le "$IMAGES" ]; do
    eng import "$work/img/$i.tar" "localhost/cli-bench-$i:latest" >/dev/null
    dk import "$work/img/$i.tar" "localhost/cli-bench-$i:latest" >/dev/null
    i=$((i + 1))
done
echo "== $COUNT containers for both (created, not started)" >&2
i=1
while [ $i -le "$COUNT" ]; do
    eng create --network none --name "c$i" localhost/cli-bench-base:latest sleep 1000 >/dev/null
    dk create --network none --name "c$i" localhost/cli-bench-base:latest sleep 1000 >/dev/null
    i=$((i + 1))
done

sides=$work/sides
cat >"$sides" <<EOF
ours-ps|$OURS --root $eroot ps -a|$COUNT
docker-ps|$(dk_cmd) ps -a|$COUNT
ours-images|$OURS --root $eroot images|$((IMAGES + 1))
docker-images|$(dk_cmd) images|$((IMAGES + 1))
EOF
echo "== $N iterations (+$WARMUP warm-up); $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); $(dk version -f 'docker {{.Server.Version}}')" >&2
PYTHONPATH=$here python3 - "$sides" "$OUT" "$N" "$WARMUP" "$SEED" <<'PY'
import os, random, shlex, statistics, subprocess, sys, time
from stats import row
sides_file, out, n, warmup, seed = sys.argv[1:6]
n, warmup = int(n), int(warmup)
rng = random.Random(int(seed))
sides = []
for line in open(sides_file):
    name, cmd, rows = line.rstrip("\n").split("|")
    sides.append((name, shlex.split(cmd), int(rows)))

def run(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: exit {r.returncode}: {r.stderr.decode()[-500:]}")
    return r.stdout.decode()

for name, argv, rows in sides:
    got = len(run(argv).splitlines()) - 1
    print(f"   check {name}: {got} rows (want {rows})", file=sys.stderr)
    if got != rows:
        sys.exit(f"{name} lists {got} rows, not {rows}")

samples = {name: [] for name, _, _ in sides}
for it in range(warmup + n):
    order = sides[:]
    rng.shuffle(order)
    for name, argv, _ in order:
        t0 = time.perf_counter_ns()
        run(argv)
        if it >= warmup:
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)

print("| listing | median ms | p99 ms | min | max |")
print("| --- | --- | --- | --- | --- |")
for name, xs in samples.items():
    with open(os.path.join(out, f"{name}.ms"), "w") as f:
        f.write("".join(f"{x:.3f}\n" for x in xs))
    print(row(name, xs))
print()
for what in ["ps", "images"]:
    o, d = statistics.median(samples[f"ours-{what}"]), statistics.median(samples[f"docker-{what}"])
    r = o / d
    print(f"{what}: ours/docker median {r:.3f}x (target <= 0.25x: {'met' if r <= 0.25 else 'MISSED'})")
PY
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "raw samples (ms) in $OUT/*.ms" >&2
