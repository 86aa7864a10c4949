#!/bin/sh
# Side by side (issue 14): `compose up -d` and `compose down` of a three-service
# application without health gates (db, api depending on db, web depending on api with a
# port published on 127.0.0.1; each service a shell that exits on SIGTERM), the same
# compose file for every tool:
#   ours            the release build of examples/engine (`engine compose`), a process per
#                   command, engine root on disk
#   docker-compose  Debian's docker-compose 1.29 against a private dockerd 20.10
#                   (benches/lib.sh: its own data root, exec root, socket and containerd;
#                   its defaults otherwise: bridge, iptables, userland proxy)
#   podman-compose  Debian's podman-compose (1.0) with podman 4.3 in a private --root and
#                   --runroot (overlay, cgroupfs; rlimits lowered as engine-compare.sh
#                   explains: this VM has no CAP_SYS_RESOURCE)
# N interleaved iterations (default 20, after WARMUP=2): per iteration, each side in a
# shuffled order brings the app up (`up -d`, timed) and down (`down`, timed). The first
# iteration checks every side: 3 containers of the project running after `up -d`, none
# left after `down`. Then median and p99 (linear interpolation) per side and command, and
# ours/docker-compose against the issue's targets (both <= 0.25x).
#
#   benches/compose-compare.sh               # as root
#   N=30 benches/compose-compare.sh
#   SIDES=ours,docker-compose benches/compose-compare.sh
#
# Env: N, WARMUP, SEED, SIDES (default ours,docker-compose,podman-compose; a side whose
# tool is missing is skipped with a note), OURS (engine binary; default: cargo build
# --release --example engine), DOCKERD, DOCKER, DOCKER_COMPOSE, PODMAN, PODMAN_COMPOSE,
# PODMAN_ULIMITS, OUT (raw samples; default a kept temp dir), WORK_PARENT (default
# /var/tmp).
# Prerequisites (Debian): apt-get install docker.io docker-compose podman podman-compose
#   busybox-static python3
#
# Isolation: the script re-executes itself in `unshare -n -m` (loopback only, a private
# mount namespace in which crun, under podman, is shown no cgroup2 controllers: crun 1.8
# refuses hybrid hosts otherwise; every side sees the same). On exit, also on failure or
# Ctrl-C: every side's containers are removed, dockerd is stopped by its pid, anything
# still running from the work dir is killed by pid, mounts under the work dir go, the
# work dir and podman's libpod_parent cgroups are removed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

. "$here/lib.sh"
bench_enter compose-compare.sh CPCMP_NETNS "$@"

N=${N:-20}
WARMUP=${WARMUP:-2}
SEED=${SEED:-14}
SIDES=${SIDES:-ours,docker-compose,podman-compose}
DOCKER_COMPOSE=${DOCKER_COMPOSE:-docker-compose}
PODMAN=${PODMAN:-podman}
PODMAN_COMPOSE=${PODMAN_COMPOSE:-podman-compose}
PODMAN_ULIMITS=${PODMAN_ULIMITS:---ulimit nofile=1024:1024 --ulimit nproc=4096:4096}
ip link set lo up

work=$(mktemp -d "${WORK_PARENT:-/var/tmp}/ch-cpcmp.XXXXXX")
OUT=${OUT:-$(mktemp -d /tmp/cargohold-compose-compare-out.XXXXXX)}
eroot=$work/engine
proot=$work/pm
prun=$work/pr
app=$work/app
mkdir -p "$eroot" "$app"
libpod_before=$(libpod_cgroups)

has() { echo ",$SIDES," | grep -q ",$1,"; }
eng() { "$OURS" --root "$eroot" "$@"; }
# podman's global flags: a private store (paths without spaces), cgroupfs
pargs="--root $proot --runroot $prun --storage-driver overlay --cgroup-manager cgroupfs"
# shellcheck disable=SC2086 # pargs is split on purpose
pm() { "$PODMAN" $pargs "$@"; }

cleanup() {
    set +e
    has ours && eng compose -p bench -f "$app/compose.yaml" down -t 1 >/dev/null 2>&1
    if [ -n "$dockerd_pid" ]; then
        (cd "$app" && DOCKER_HOST=unix://$dockerd_dir/docker.sock \
            "$DOCKER_COMPOSE" -p bench down -t 1 >/dev/null 2>&1)
        dockerd_stop
    fi
    if has podman-compose && [ -d "$proot" ]; then
        pm rm -af >/dev/null 2>&1
        pm pod rm -af >/dev/null 2>&1
        pm rmi -af >/dev/null 2>&1
    fi
    work_cleanup
    libpod_cgroups_remove
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# crun (podman) and hybrid cgroups, see the header
if [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
    : >"$work/no-controllers"
    mount --bind "$work/no-controllers" /sys/fs/cgroup/unified/cgroup.controllers
fi

for tool in "$DOCKER_COMPOSE:docker-compose" "$PODMAN_COMPOSE:podman-compose"; do
    bin=${tool%%:*}
    side=${tool#*:}
    if has "$side" && ! command -v "$bin" >/dev/null; then
        echo "compose-compare.sh: no $bin, leaving out $side" >&2
        SIDES=$(echo ",$SIDES," | sed "s/,$side,/,/; s/^,//; s/,\$//")
    fi
done

echo "== the image (busybox, localhost/compose-bench:latest) and the app" >&2
"$here/make-bundle.sh" "$work/bundle" "echo {}" >/dev/null
tar -C "$work/bundle/rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/base.tar" .
cat >"$app/compose.yaml" <<'YAML'
services:
  db:
    image: localhost/compose-bench:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
  api:
    image: localhost/compose-bench:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on: [db]
  web:
    image: localhost/compose-bench:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 1000 & wait"]
    depends_on: [api]
    ports: ["127.0.0.1:18580:80"]
YAML

sides=$work/sides
: >"$sides"
if has ours; then
    eng import "$work/base.tar" localhost/compose-bench:latest >/dev/null
    o="$OURS --root $eroot compose -p bench"
    echo "ours|$o up -d|$o down|$OURS --root $eroot ps -q --filter label=com.docker.compose.project=bench|$OURS --root $eroot ps -aq --filter label=com.docker.compose.project=bench" >>"$sides"
fi
if has docker-compose; then
    dockerd_start "$work/docker"
    dk import "$work/base.tar" localhost/compose-bench:latest >/dev/null
    d="env DOCKER_HOST=unix://$dockerd_dir/docker.sock DOCKER_CONFIG=$dockerd_dir/config $DOCKER_COMPOSE -p bench"
    echo "docker-compose|$d up -d|$d down|$(dk_cmd) ps -q --filter label=com.docker.compose.project=bench|$(dk_cmd) ps -aq --filter label=com.docker.compose.project=bench" >>"$sides"
fi
if has podman-compose; then
    pm import "$work/base.tar" localhost/compose-bench:latest >/dev/null
    p="$PODMAN_COMPOSE -p bench --podman-args=\"$pargs\" --podman-run-args=\"$PODMAN_ULIMITS\""
    echo "podman-compose|$p up -d|$p down|$PODMAN $pargs ps -q --filter label=io.podman.compose.project=bench|$PODMAN $pargs ps -aq --filter label=io.podman.compose.project=bench" >>"$sides"
fi

echo "== $N iterations (+$WARMUP warm-up) of {$SIDES}; $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cd "$app"
PYTHONPATH=$here python3 - "$sides" "$OUT" "$N" "$WARMUP" "$SEED" <<'PY'
import os, random, shlex, statistics, subprocess, sys, time
from stats import row
sides_file, out, n, warmup, seed = sys.argv[1:6]
n, warmup = int(n), int(warmup)
rng = random.Random(int(seed))
sides = []
for line in open(sides_file):
    name, up, down, running, listed = line.rstrip("\n").split("|")
    sides.append((name, shlex.split(up), shlex.split(down), shlex.split(running),
                  shlex.split(listed)))

def run(argv):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError(f"{argv}: exit {r.returncode}: {r.stderr.decode()[-800:]}")
    return r.stdout.decode()

def count(argv):
    return len(run(argv).split())

samples = {(name, what): [] for name, *_ in sides for what in ("up", "down")}
for it in range(warmup + n):
    order = sides[:]
    rng.shuffle(order)
    for name, up, down, running, listed in order:
        t0 = time.perf_counter_ns()
        run(up)
        t1 = time.perf_counter_ns()
        if it == 0:
            got = count(running)
            print(f"   check {name}: {got} running after up -d (want 3)", file=sys.stderr)
            if got != 3:
                sys.exit(f"{name}: {got} containers running, not 3")
        t2 = time.perf_counter_ns()
        run(down)
        t3 = time.perf_counter_ns()
        if it == 0:
            left = count(listed)
            print(f"   check {name}: {left} left after down (want 0)", file=sys.stderr)
            if left:
                sys.exit(f"{name}: {left} containers left after down")
        if it >= warmup:
            samples[(name, "up")].append((t1 - t0) / 1e6)
            samples[(name, "down")].append((t3 - t2) / 1e6)

print("| side | command | median ms | p99 ms | min | max |")
print("| --- | --- | --- | --- | --- | --- |")
for (name, what), xs in samples.items():
    with open(os.path.join(out, f"{name}-{what}.ms"), "w") as f:
        f.write("".join(f"{x:.3f}\n" for x in xs))
    print(row(f"{name} | {what}", xs))
print()
names = {name for name, *_ in sides}
for what in ("up", "down"):
    if {"ours", "docker-compose"} <= names:
        r = statistics.median(samples[("ours", what)]) / statistics.median(samples[("docker-compose", what)])
        print(f"{what}: ours/docker-compose median {r:.3f}x (target <= 0.25x: {'met' if r <= 0.25 else 'MISSED'})")
    if {"ours", "podman-compose"} <= names:
        r = statistics.median(samples[("ours", what)]) / statistics.median(samples[("podman-compose", what)])
        print(f"{what}: ours/podman-compose median {r:.3f}x")
PY
echo "   load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "   raw samples: $OUT" >&2
