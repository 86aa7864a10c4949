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
#   run  `docker run --rm --network none --ulimit … busybox true` (target: ours <= 0.25x
#        dockerd; the ulimits, the same for all, because podman's crun cannot raise them here)
#   ps   `docker ps -a` with COUNT (default 100) created containers (target <= 0.25x)
#   psapi  the same list request (`GET /containers/json?all=1`) sent by the harness
#        itself over the socket: the server's part alone, without the client's start
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
# crun (podman's runtime) refuses a cgroup v1/v2 hybrid host: in this private mount
# namespace the unified hierarchy shows no controllers (as compose-compare.sh does)
if [ -n "$PODMAN" ] && [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
    : >"$work/no-controllers"
    mount --bind "$work/no-controllers" /sys/fs/cgroup/unified/cgroup.controllers
fi

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
    # its compat import leaves api_load.tar* files in TMPDIR: keep them in the work dir
    mkdir -p "$work/podman/tmp"
    TMPDIR=$work/podman/tmp "$PODMAN" --root "$work/podman/root" --runroot "$work/podman/run" \
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
import http.client, os, random, socket, statistics, subprocess, sys, time
from stats import row


class UnixConnection(http.client.HTTPConnection):
    """HTTP over a unix socket: the server's own time for a request, no client start."""

    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def api_get(sock, url):
    conn = UnixConnection(sock)
    conn.request("GET", url)
    r = conn.getresponse()
    r.read()
    conn.close()
    return r.status
docker, work, n, warmup, seed = sys.argv[1:6]
n, warmup = int(n), int(warmup)
rng = random.Random(int(seed))
socks = [s.split("|", 1) for s in sys.argv[6:]]
env = dict(os.environ, DOCKER_CONFIG=f"{work}/config")
sides = []
for name, sock in socks:
    base = [docker, "-H", f"unix://{sock}"]
    # the same ulimits for every side: podman's crun cannot raise them here (no
    # CAP_SYS_RESOURCE) and would fail the run without them
    sides.append((f"{name}-run", base + ["run", "--rm", "--network", "none",
                                         "--ulimit", "nofile=1024:1024",
                                         "--ulimit", "nproc=4096:4096",
                                         "busybox:latest", "true"]))
    sides.append((f"{name}-ps", base + ["ps", "-a"]))
    sides.append((f"{name}-psapi", sock))
samples = {name: [] for name, _ in sides}
failed = {}
for it in range(warmup + n):
    order = [s for s in sides if s[0] not in failed]
    rng.shuffle(order)
    for name, argv in order:
        t0 = time.perf_counter_ns()
        if isinstance(argv, str):
            # the list request alone, as the server answers it (`docker ps -a`'s request)
            code = api_get(argv, "/v1.41/containers/json?all=1")
            r = subprocess.CompletedProcess(argv, 0 if code == 200 else code, b"", b"")
        else:
            r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if r.returncode != 0:
            # ours failing is a bug: stop; a peer failing is reported and left out
            why = f"exit {r.returncode}: {r.stderr.decode().strip()[-300:]}"
            if name.startswith("ours-"):
                sys.exit(f"{name}: {why}")
            failed[name] = why
            print(f"   {name} failed, left out: {why}", file=sys.stderr)
            continue
        if it >= warmup:
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)
print("| side | median ms | p99 ms | min | max |")
print("| --- | --- | --- | --- | --- |")
for name, xs in samples.items():
    print(f"| {name} | failed: {failed[name]} | | | |" if name in failed else row(name, xs))
print()
for what in ["run", "ps", "psapi"]:
    o = statistics.median(samples[f"ours-{what}"])
    for other in [s for s, _ in socks if s != "ours" and f"{s}-{what}" not in failed]:
        r = o / statistics.median(samples[f"{other}-{what}"])
        target = ""
        if other == "dockerd" and what != "psapi":
            target = f" (target <= 0.25x: {'met' if r <= 0.25 else 'MISSED'})"
        print(f"{what}: ours/{other} median {r:.3f}x{target}")
PY
