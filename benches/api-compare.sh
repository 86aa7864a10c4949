#!/bin/sh
# Side by side (issue 16): the Docker Engine API as a docker client sees it, the same
# client (Debian's docker.io 20.10, DOCKER) against three servers in one run:
#   ours     `engine system service --time 0 unix://…` (the release engine example built
#            with `--features api`), its own root
#   dockerd  Debian's dockerd 20.10: its own data root, exec root, socket and containerd,
#            overlay2, cgroupfs, --bridge=none --iptables=false
#   podman   `podman system service --time 0 unix://…` with its own --root/--runroot,
#            overlay, cgroupfs (skipped with PODMAN= or when podman is missing)
# Two measures, N interleaved iterations each (after WARMUP), order shuffled per iteration:
#   run  `docker run --rm --network none busybox true` (target: ours <= 0.25x dockerd)
#   ps   `docker ps -a` with COUNT (default 100) created containers (target <= 0.25x)
# Median, p99, min, max per side and the ratios.
#
#   benches/api-compare.sh                   # as root; N=30 WARMUP=3 COUNT=100
#
# Env: N, WARMUP, COUNT, SEED, OURS (engine binary; default: cargo build --release
# --example engine --features api), DOCKERD, DOCKER, PODMAN, WORK_PARENT.
# Isolation: re-executed in `unshare -n -m` (loopback only, a private mount namespace); on
# exit the servers are stopped by pid, what still runs from the work dir is killed by pid,
# mounts under it go, and it is removed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

if [ -z "${ACMP_NETNS:-}" ] && [ -z "${OURS+x}" ] && [ "$(id -u)" = 0 ]; then
    echo "== building examples/engine (release, --features api)" >&2
    (cd "$top" && cargo build --release --example engine --features api >&2)
    OURS=$top/target/release/examples/engine
    export OURS
fi
. "$here/lib.sh"
bench_enter api-compare.sh ACMP_NETNS "$@"

N=${N:-30}
WARMUP=${WARMUP:-3}
COUNT=${COUNT:-100}
SEED=${SEED:-16}
DOCKER=${DOCKER:-/usr/bin/docker}
PODMAN=${PODMAN-$(command -v podman || true)}
ip link set lo up

work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-acmp.XXXXXX")
ours_pid=
podman_pid=
cleanup() {
    set +e
    [ -n "$ours_pid" ] && kill "$ours_pid" 2>/dev/null && wait "$ours_pid" 2>/dev/null
    [ -n "$podman_pid" ] && kill "$podman_pid" 2>/dev/null && wait "$podman_pid" 2>/dev/null
    dockerd_stop
    work_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/make-bundle.sh" "$work/bundle" "true" >/dev/null
tar -C "$work/bundle/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/busybox.tar" .

wait_sock() {
    _i=0
    until DOCKER_CONFIG=$work/config "$DOCKER" -H "unix://$1" version >/dev/null 2>&1; do
        _i=$((_i + 1))
        [ $_i -gt 300 ] && { echo "no server on $1" >&2; exit 1; }
        sleep 0.1
    done
}
mkdir -p "$work/config"
"$OURS" --root "$work/ours" system service --time 0 "unix://$work/ours.sock" \
    >"$work/ours.log" 2>&1 &
ours_pid=$!
wait_sock "$work/ours.sock"
dockerd_start "$work/docker" --bridge=none --iptables=false --ip6tables=false \
    --ip-masq=false --userland-proxy=false
sockets="ours|$work/ours.sock dockerd|$work/docker/docker.sock"
if [ -n "$PODMAN" ]; then
    "$PODMAN" --root "$work/podman/root" --runroot "$work/podman/run" \
        --cgroup-manager cgroupfs system service --time 0 "unix://$work/podman.sock" \
        >"$work/podman.log" 2>&1 &
    podman_pid=$!
    wait_sock "$work/podman.sock"
    sockets="$sockets podman|$work/podman.sock"
fi

for s in $sockets; do
    name=${s%%|*}
    sock=${s#*|}
    c() { DOCKER_CONFIG=$work/config "$DOCKER" -H "unix://$sock" "$@"; }
    c import "$work/busybox.tar" busybox:latest >/dev/null
    i=1
    while [ $i -le "$COUNT" ]; do
        c create --network none --name "c$i" busybox:latest sleep 1000 >/dev/null
        i=$((i + 1))
    done
    echo "   $name: $(c ps -aq | wc -l) containers" >&2
done

echo "== $N iterations (+$WARMUP warm-up); $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
PYTHONPATH=$here python3 - "$DOCKER" "$work" "$N" "$WARMUP" "$SEED" $sockets <<'PY'
import os, random, statistics, subprocess, sys, time
from stats import row
docker, work, n, warmup, seed = sys.argv[1:6]
n, warmup = int(n), int(warmup)
rng = random.Random(int(seed))
socks = [s.split("|", 1) for s in sys.argv[6:]]
env = dict(os.environ, DOCKER_CONFIG=f"{work}/config")
sides = []
for name, sock in socks:
    base = [docker, "-H", f"unix://{sock}"]
    sides.append((f"{name}-run", base + ["run", "--rm", "--network", "none", "busybox:latest", "true"]))
    sides.append((f"{name}-ps", base + ["ps", "-a"]))
samples = {name: [] for name, _ in sides}
for it in range(warmup + n):
    order = sides[:]
    rng.shuffle(order)
    for name, argv in order:
        t0 = time.perf_counter_ns()
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"{name}: exit {r.returncode}: {r.stderr.decode()[-400:]}")
        if it >= warmup:
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)
print("| side | median ms | p99 ms | min | max |")
print("| --- | --- | --- | --- | --- |")
for name, xs in samples.items():
    print(row(name, xs))
print()
for what in ["run", "ps"]:
    o = statistics.median(samples[f"ours-{what}"])
    for other in [s for s, _ in socks if s != "ours"]:
        r = o / statistics.median(samples[f"{other}-{what}"])
        target = f" (target <= 0.25x: {'met' if r <= 0.25 else 'MISSED'})" if other == "dockerd" else ""
        print(f"{what}: ours/{other} median {r:.3f}x{target}")
PY
