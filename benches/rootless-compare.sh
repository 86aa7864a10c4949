#!/bin/sh
# Side by side (issue 15): the engine rootless against the engine as root, in one run.
#   run --rm     `engine --root R run --rm localhost/rl-bench true`, as root (its own
#                root) and as an unprivileged user (RL_USER, default cargohold-rl, made by
#                the tests; a root of its own), N interleaved iterations, order shuffled.
#                Target: rootless median <= 1.5x root's.
#   throughput   1 GiB over TCP into `busybox nc -l` in a rootless container through a
#                published port — on the default network (pasta) and on a user-defined
#                network (the network keeper's bridge, forwarded by the container's
#                sidecar) — against the same into `busybox nc -l` on the host over
#                loopback; M rounds each, interleaved. Target: >= 0.5x loopback.
# Everything runs in a network namespace of the script's own (loopback plus a veth pair
# leading nowhere, which pasta needs as a template interface), so nothing leaves it.
#
#   benches/rootless-compare.sh            # as root; N=100, M=5
#   N=30 M=3 benches/rootless-compare.sh
#
# Env: N, M, RL_USER, OURS (the engine binary; default: built in release).
# /dev/net/tun must be usable by the user (pasta); Debian makes it 0666, this script
# does too if it is not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-100}
M=${M:-5}
RL_USER=${RL_USER:-cargohold-rl}

if [ "$(id -u)" != 0 ]; then
    echo "rootless-compare.sh: needs root (to run both sides); try sudo" >&2
    exit 2
fi
if [ -z "${RL_INSIDE:-}" ]; then
    id "$RL_USER" >/dev/null 2>&1 || useradd --no-create-home --shell /bin/sh "$RL_USER"
    if [ -z "${OURS:-}" ]; then
        (cd "$top" && cargo build --release --example engine >&2)
        OURS=$top/target/release/examples/engine
    fi
    export OURS
    chmod 0666 /dev/net/tun
    exec unshare -n -m env RL_INSIDE=1 "$0" "$@"
fi
ip link set lo up
ip link add rlb0 type veth peer name rlb1
ip addr add 10.254.1.1/24 dev rlb0
ip link set rlb0 up
ip link set rlb1 up
ip route add default via 10.254.1.2

work=$(mktemp -d /var/tmp/rootless-bench.XXXXXX)
chmod 0755 "$work"
cleanup() {
    runuser -u "$RL_USER" -- env XDG_RUNTIME_DIR="$work/xdg" "$OURS" --root "$work/user" \
        rm -f rl-sink rl-sink-net >/dev/null 2>&1 || true
    kill "${host_nc:-}" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

mkdir -p "$work/rootfs/bin" "$work/xdg" "$work/user"
cp /bin/busybox "$work/rootfs/bin/busybox"
for a in sh true nc; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .
chown -R "$RL_USER:" "$work/xdg" "$work/user" "$work/rootfs.tar"
chmod 0700 "$work/xdg"
"$OURS" --root "$work/root" import "$work/rootfs.tar" localhost/rl-bench >/dev/null
user_engine() {
    runuser -u "$RL_USER" -- env XDG_RUNTIME_DIR="$work/xdg" HOME="$work/xdg" \
        "$OURS" --root "$work/user" "$@"
}
user_engine import "$work/rootfs.tar" localhost/rl-bench >/dev/null

echo "== run --rm true: root vs rootless, N=$N interleaved" >&2
PYTHONPATH=$here OURS=$OURS WORK=$work RL_USER=$RL_USER N=$N M=$M python3 - <<'EOF'
import os, random, socket, statistics, subprocess, time
from stats import row

ours, work, user = os.environ["OURS"], os.environ["WORK"], os.environ["RL_USER"]
n, m = int(os.environ["N"]), int(os.environ["M"])
env_user = ["runuser", "-u", user, "--", "env", f"XDG_RUNTIME_DIR={work}/xdg",
            f"HOME={work}/xdg"]
sides = {
    "root": [ours, "--root", f"{work}/root", "run", "--rm", "localhost/rl-bench", "true"],
    "rootless": env_user + [ours, "--root", f"{work}/user", "run", "--rm",
                            "localhost/rl-bench", "true"],
    # runuser's own cost, to tell it from the engine's
    "runuser-true": env_user + ["/bin/true"],
}
samples = {k: [] for k in sides}
for i in range(n + 3):
    order = list(sides)
    random.shuffle(order)
    for k in order:
        t = time.perf_counter()
        subprocess.run(sides[k], check=True, stdout=subprocess.DEVNULL)
        if i >= 3:
            samples[k].append((time.perf_counter() - t) * 1000)
print("| side | median ms | p99 | min | max |\n|---|---|---|---|---|")
for k, xs in samples.items():
    print(row(k, xs))
ratio = (statistics.median(samples["rootless"]) - statistics.median(samples["runuser-true"])) \
    / statistics.median(samples["root"])
print(f"rootless/root (runuser's cost taken off): {ratio:.2f}x (target <= 1.5x)")

# throughput: a rootless container's published port (pasta) vs host loopback
size = 1 << 30
def send(port):
    s = socket.create_connection(("127.0.0.1", port))
    buf = b"\0" * (1 << 20)
    t = time.perf_counter()
    for _ in range(size // len(buf)):
        s.sendall(buf)
    s.shutdown(socket.SHUT_WR)
    while s.recv(65536):
        pass
    s.close()
    return size / (time.perf_counter() - t) / 1e6

user = lambda *a: subprocess.run(env_user + [ours, "--root", f"{work}/user", *a],
                                  check=True, stdout=subprocess.DEVNULL)
user("network", "create", "rl-bench-net")
sink = ["localhost/rl-bench", "sh", "-c", "while true; do nc -l -p 5001 > /dev/null; done"]
pasta, sidecar, loop = [], [], []
for r in range(m):
    # the default network (pasta), a user-defined one (the keeper's bridge, the sidecar)
    user("run", "-d", "--name", "rl-sink", "-p", "127.0.0.1:25001:5001", *sink)
    user("run", "-d", "--name", "rl-sink-net", "--network", "rl-bench-net",
         "-p", "127.0.0.1:25003:5001", *sink)
    time.sleep(0.3)
    host = subprocess.Popen(["busybox", "nc", "-l", "-p", "25002"], stdout=subprocess.DEVNULL)
    time.sleep(0.2)
    for k in random.sample(["pasta", "sidecar", "loop"], 3):
        if k == "pasta":
            pasta.append(send(25001))
        elif k == "sidecar":
            sidecar.append(send(25003))
        else:
            loop.append(send(25002))
    host.kill(); host.wait()
    user("rm", "-f", "rl-sink", "rl-sink-net")
user("network", "rm", "rl-bench-net")
print(f"\n| path | median MB/s | min | max |\n|---|---|---|---|")
for k, xs in (("published port, default network (pasta)", pasta),
              ("published port, user-defined network (sidecar)", sidecar), ("loopback", loop)):
    print(f"| {k} | {statistics.median(xs):.0f} | {min(xs):.0f} | {max(xs):.0f} |")
print(f"sidecar/loopback: {statistics.median(sidecar) / statistics.median(loop):.2f}x (target >= 0.5x)")
print(f"pasta/loopback: {statistics.median(pasta) / statistics.median(loop):.2f}x (target >= 0.5x)")
EOF
