#!/bin/sh
# The cost of the sealed re-exec (issue 10, src/sys/sealed.rs): our runc-compatible CLI
# (examples/runtime, release) side by side
#   off    CARGOHOLD_SEALING=off: no re-exec (the binary as before)
#   mount  the default: re-exec from a read-only detached mount of the binary
#   memfd  CARGOHOLD_SEALING=memfd: re-exec from a sealed memfd copy of the binary
#   bound  the default, run from a read-only bind mount of the binary on itself (made once
#          by the script, as an administrator would at install): no re-exec
# for two workloads, N interleaved iterations each (order shuffled per iteration):
#   start      `runtime exec no-such-container true`: the program start alone (what the
#              re-exec adds; the CLI re-executes for create, run and exec only), failing
#              at once on the missing container
#   lifecycle  `runtime run ID` of a busybox bundle running /bin/true (create, start,
#              wait, delete: what a user of the CLI sees)
# then min, median, p90, p99, max per side and the medians' difference to `off`, and the
# median CPU time (user + system, from wait4: the CLI's and that of the children it reaped,
# the container's init under `run`) with its difference to `off`.
#
#   sudo benches/sealed.sh            # N=300 WARMUP=10
#   N=1000 CLI=/path/to/runtime benches/sealed.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
N=${N:-300}
WARMUP=${WARMUP:-10}

if [ "$(id -u)" != 0 ]; then
    echo "sealed.sh: needs root (containers, open_tree); try sudo" >&2
    exit 2
fi
if [ -z "${CLI:-}" ]; then
    # as it is installed (README): static-pie
    (cd "$top" && cargo rustc --release --example runtime -- -C target-feature=+crt-static >&2)
    CLI=$top/target/release/examples/runtime
fi
work=$(mktemp -d /run/cargohold-sealed.XXXXXX)
bound=$work/runtime-bound
trap 'umount "$bound" 2>/dev/null; rm -rf "$work"' EXIT INT TERM
cp "$CLI" "$bound"
mount --bind "$bound" "$bound"
mount -o remount,bind,ro "$bound"
"$here/make-bundle.sh" "$work/bundle" >/dev/null
rm -f "$work/bundle/config.json"
"$CLI" spec --bundle "$work/bundle"
python3 - "$work/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"))
PY

echo "== $CLI ($(stat -c %s "$CLI") bytes), $(uname -r), $(nproc) cpus, N=$N" >&2
python3 - "$CLI" "$work" "$N" "$WARMUP" "$bound" <<'PY'
import os, random, subprocess, sys, time
cli, work, n, warmup, bound = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
sides = {"off": "off", "mount": None, "memfd": "memfd", "bound": None}
binary = {s: cli for s in sides}
binary["bound"] = bound
root = os.path.join(work, "root")
bundle = os.path.join(work, "bundle")

def env_for(method):
    env = dict(os.environ)
    env.pop("CARGOHOLD_SEALING", None)
    if method:
        env["CARGOHOLD_SEALING"] = method
    return env

def run(argv, env, want):
    """Wall time (ns) and the process's CPU time (user + system, ms, from wait4: less
    sensitive than wall time to other work on a shared machine)."""
    t = time.perf_counter_ns()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter_ns() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != want:
        sys.exit(f"{argv}: exit {p.returncode}: {err.decode()}")
    return dt, (ru.ru_utime + ru.ru_stime) * 1e3

workloads = {
    "start": lambda side, i: [binary[side], "--root", root, "exec", "no-such-container", "true"],
    "lifecycle": lambda side, i: [binary[side], "--root", root, "run", "--bundle", bundle,
                                  f"sealed-{side}-{i}"],
}

def q(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]

rng = random.Random(7)
for wname, argv_of in workloads.items():
    samples = {s: [] for s in sides}
    cpu = {s: [] for s in sides}
    for i in range(warmup + n):
        order = list(sides)
        rng.shuffle(order)
        for s in order:
            dt, c = run(argv_of(s, i), env_for(sides[s]), 1 if wname == "start" else 0)
            if i >= warmup:
                samples[s].append(dt / 1e6)
                cpu[s].append(c)
    base = q(samples["off"], 0.5)
    with open(f"/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"\n{wname} (ms, N={n}, load {load} at the end)")
    cbase = q(cpu["off"], 0.5)
    print(f"{'side':8} {'min':>8} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8} {'+median':>8}"
          f" {'cpu med':>8} {'+cpu':>8}")
    for s, xs in samples.items():
        m = q(xs, 0.5)
        c = q(cpu[s], 0.5)
        print(f"{s:8} {min(xs):8.3f} {m:8.3f} {q(xs, 0.9):8.3f} {q(xs, 0.99):8.3f} "
              f"{max(xs):8.3f} {m - base:+8.3f} {c:8.3f} {c - cbase:+8.3f}")
PY
