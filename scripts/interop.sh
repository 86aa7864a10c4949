#!/usr/bin/env bash
# Proves that containerd (ctr, through the runc shim) and podman (through conmon) can drive
# cargohold's runc-compatible CLI, examples/runtime.rs. No network: the test image is a
# docker-archive tarball built here from /bin/busybox.
#
#   scripts/interop.sh [containerd|podman|all]      (as root; default: all)
#
# Prints a PASS/FAIL line per check and exits non-zero if any check failed. A part whose
# engine is not installed is skipped with a SKIP line. Everything it starts (containerd,
# containers, mounts, cgroups, state) lives under one temp dir and is removed on exit.
# RUNTIME=/path/to/runtime overrides the binary (default: target/debug/examples/runtime,
# built if missing). KEEP_ARGV=FILE copies the log of every runtime invocation there.
#
# What the engines call (argv logged on this machine: containerd 1.6.20 with the
# io.containerd.runc.v2 shim, podman 4.3.1 with conmon; the script prints the log at the end):
#   containerd: every call starts `--root <runc-root>/<namespace> --log <bundle>/log.json
#     --log-format json` (plus --systemd-cgroup with --runc-systemd-cgroup), then
#     create --bundle B --pid-file B/init.pid [--console-socket /tmp/ptyN/pty.sock] ID
#     start ID | exec --process /tmp/runc-processN --detach --pid-file B/EXEC.pid ID
#     ps --format json ID | pause ID | resume ID | kill ID 9 | delete ID | delete --force ID
#     (delete --force of an id that failed to create: it expects "does not exist" then).
#   podman (through conmon, which clears the environment; no global flags at all):
#     create --bundle B --pid-file P [--console-socket /tmp/conmon-term.X] ID | start ID
#     exec --pid-file P --process F --detach [--tty --console-socket S] ID
#     kill ID 15 | kill ID 9 | pause ID | resume ID | delete --force ID
#   Neither calls state, list, features or --version in these flows.
set -euo pipefail

PART=${1:-all}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNTIME=${RUNTIME:-$REPO/target/debug/examples/runtime}
if [[ ! -x $RUNTIME ]]; then
    (cd "$REPO" && cargo build --quiet --example runtime)
fi
RUNTIME=$(realpath "$RUNTIME")
[[ $(id -u) == 0 ]] || { echo "FAIL interop: must run as root"; exit 1; }

WORK=$(mktemp -d /tmp/ch-interop.XXXXXX)
export CARGOHOLD_RUNTIME_ARGV_LOG=$WORK/argv.log
IMAGE=localhost/cargohold-busybox:latest
FAILS=0
CONTAINERD_PID=

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
# check NAME EXPECTED ACTUAL
check() {
    if [[ $2 == "$3" ]]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
# expect_ok NAME CMD... : passes when CMD exits 0
expect_ok() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then pass "$name"; else fail "$name: $* failed: $out"; fi
}

cleanup() {
    set +e
    if [[ -n ${PODMAN_READY:-} ]]; then
        "${PODMAN[@]}" rm -af -t 0 >/dev/null 2>&1
        "${PODMAN[@]}" rmi -af >/dev/null 2>&1
    fi
    if [[ -n $CONTAINERD_PID ]]; then
        for id in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s SIGKILL "$id"; ctr_ task delete -f "$id"; done >/dev/null 2>&1
        for id in $(ctr_ c ls -q 2>/dev/null); do ctr_ c rm "$id"; done >/dev/null 2>&1
        kill "$CONTAINERD_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$CONTAINERD_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    # Mounts left under the work dir (overlay snapshots, shm), deepest first.
    awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/self/mounts | sort -r | while read -r m; do
        umount -l "$m"
    done
    if [[ -n ${KEEP_ARGV:-} && -f $WORK/argv.log ]]; then cp "$WORK/argv.log" "$KEEP_ARGV"; fi
    rm -rf "$WORK"
    # The parent cgroups the engines asked for (containerd: /<namespace>/<id>, podman with
    # cgroupfs: /libpod_parent/…) outlive their containers, as with runc: remove them when empty.
    for d in /sys/fs/cgroup/*/chinterop /sys/fs/cgroup/*/libpod_parent /sys/fs/cgroup/unified/chinterop; do
        [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    done
    return 0
}
trap cleanup EXIT

# --- a busybox image as a docker-archive tarball (docker save format) -----------------
make_image() {
    local d=$WORK/img
    mkdir -p "$d/rootfs" "$d/out"
    (
        cd "$d/rootfs"
        mkdir -p bin etc tmp proc sys dev root
        cp /bin/busybox bin/busybox
        for a in $(/bin/busybox --list); do
            [[ $a == busybox ]] || ln -sf busybox "bin/$a"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >etc/passwd
        printf 'root:x:0:\nnogroup:x:65534:\n' >etc/group
    )
    tar --numeric-owner --owner=0 --group=0 -C "$d/rootfs" -cf "$d/layer.tar" .
    local diff arch cfg
    diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
    case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
    printf '{"architecture":"%s","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
        "$arch" "$diff" >"$d/config.json"
    cfg=$(sha256sum "$d/config.json" | cut -d' ' -f1)
    mkdir -p "$d/out/$diff"
    mv "$d/layer.tar" "$d/out/$diff/layer.tar"
    mv "$d/config.json" "$d/out/$cfg.json"
    printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' \
        "$cfg" "$IMAGE" "$diff" >"$d/out/manifest.json"
    tar -C "$d/out" -cf "$WORK/image.tar" manifest.json "$cfg.json" "$diff"
}

# --- containerd ------------------------------------------------------------------------
ctr_() { ctr -a "$WORK/ctd/c.sock" -n chinterop "$@"; }
RUNC_OPTS=()

# Waits until `ctr task ls` shows STATUS for the task.
wait_task_status() {
    local id=$1 want=$2 st=
    for _ in $(seq 100); do
        st=$(ctr_ task ls 2>/dev/null | awk -v id="$id" '$1 == id {print $3}')
        [[ $st == "$want" ]] && break
        sleep 0.1
    done
    echo "$st"
}

test_containerd() {
    if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null \
        || ! command -v containerd-shim-runc-v2 >/dev/null; then
        echo "SKIP containerd: containerd, ctr or containerd-shim-runc-v2 not installed"
        return 0
    fi
    local c=$WORK/ctd
    mkdir -p "$c"
    cat >"$c/config.toml" <<EOF
version = 2
root = "$c/root"
state = "$c/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$c/c.sock"
[ttrpc]
  address = "$c/c.sock.ttrpc"
[debug]
  address = ""
EOF
    containerd --config "$c/config.toml" >"$c/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    for _ in $(seq 100); do ctr_ version >/dev/null 2>&1 && break; sleep 0.1; done
    if ! ctr_ version >/dev/null 2>&1; then
        fail "containerd: did not start: $(tail -5 "$c/containerd.log")"
        return 0
    fi
    RUNC_OPTS=(--runc-binary "$RUNTIME" --runc-root "$c/runc")
    expect_ok "containerd: import image" ctr_ images import "$WORK/image.tar"

    local out
    out=$(ctr_ run --rm "${RUNC_OPTS[@]}" "$IMAGE" ch-hello echo hello 2>&1) || true
    check "containerd: ctr run --rm echo hello" hello "$out"

    out=$(ctr_ run --rm "${RUNC_OPTS[@]}" "$IMAGE" ch-exit sh -c 'exit 3' 2>&1; echo "rc=$?") || true
    check "containerd: ctr run exit code" "rc=3" "$(tail -1 <<<"$out")"

    # A terminal (ctr -t needs one itself: script(1) gives it a pty); the shim passes
    # --console-socket.
    if command -v script >/dev/null; then
        out=$(script -qec "ctr -a $c/c.sock -n chinterop run --rm -t ${RUNC_OPTS[*]} $IMAGE ch-tty tty" /dev/null </dev/null 2>&1 | tr -d '\r') || true
        # (the pty echoes script's EOF on stdin as ^@: look for the line, not an exact match)
        if grep -q '/dev/pts/0$' <<<"$out"; then pass "containerd: ctr run -t (console socket)"; else fail "containerd: ctr run -t: $out"; fi
    fi

    local id=ch-detached
    expect_ok "containerd: ctr run -d" ctr_ run -d "${RUNC_OPTS[@]}" "$IMAGE" "$id" sleep 300
    check "containerd: task running" RUNNING "$(wait_task_status "$id" RUNNING)"
    out=$(ctr_ task exec --exec-id x1 "$id" echo hi 2>&1) || true
    check "containerd: ctr task exec echo hi" hi "$out"
    out=$(ctr_ task exec --exec-id x2 "$id" sh -c 'exit 5' 2>&1; echo "rc=$?") || true
    check "containerd: ctr task exec exit code" "rc=5" "$(tail -1 <<<"$out")"
    out=$(ctr_ task ps "$id" 2>&1) || true
    local pid
    pid=$(ctr_ task ls | awk -v id="$id" '$1 == id {print $2}')
    if grep -qw "$pid" <<<"$out"; then pass "containerd: ctr task ps lists the init"; else fail "containerd: ctr task ps: $out (init $pid)"; fi
    expect_ok "containerd: ctr task pause" ctr_ task pause "$id"
    check "containerd: task paused" PAUSED "$(wait_task_status "$id" PAUSED)"
    expect_ok "containerd: ctr task resume" ctr_ task resume "$id"
    check "containerd: task resumed" RUNNING "$(wait_task_status "$id" RUNNING)"
    expect_ok "containerd: ctr task kill" ctr_ task kill -s SIGKILL "$id"
    check "containerd: task stopped" STOPPED "$(wait_task_status "$id" STOPPED)"
    expect_ok "containerd: ctr task delete" ctr_ task delete "$id"
    expect_ok "containerd: ctr container delete" ctr_ container delete "$id"
    # The runtime's own state is gone too.
    out=$("$RUNTIME" --root "$c/runc/chinterop" list -q 2>&1) || true
    check "containerd: runtime state removed" "" "$out"

    # A failure in create reaches ctr through --log/--log-format json.
    out=$(ctr_ run --rm "${RUNC_OPTS[@]}" "$IMAGE" ch-bad /no/such/binary 2>&1) && fail "containerd: bad command accepted" \
        || { if grep -q "no/such/binary\|No such file" <<<"$out"; then pass "containerd: create error reported"; else fail "containerd: create error not reported: $out"; fi; }
    ctr_ c rm ch-bad >/dev/null 2>&1 || true
}

# --- podman ----------------------------------------------------------------------------
test_podman() {
    if ! command -v podman >/dev/null || ! command -v conmon >/dev/null; then
        echo "SKIP podman: podman or conmon not installed"
        return 0
    fi
    local p=$WORK/p
    mkdir -p "$p"
    # conmon clears the environment: a wrapper keeps the argv log.
    printf '#!/bin/sh\nCARGOHOLD_RUNTIME_ARGV_LOG=%s exec %s "$@"\n' "$WORK/argv.log" "$RUNTIME" >"$p/runtime"
    chmod +x "$p/runtime"
    PODMAN=(podman --runtime "$p/runtime" --root "$p/root" --runroot "$p/run" --tmpdir "$p/tmp"
        --cgroup-manager cgroupfs --events-backend file --storage-driver overlay)
    PODMAN_READY=1
    # CAP_SYS_RESOURCE may be missing (it is on the development VM): fixed ulimits.
    local run_opts=(--pull never --ulimit nofile=20000:20000 --ulimit nproc=1024:1024 --network none)
    expect_ok "podman: load image" "${PODMAN[@]}" load -q -i "$WORK/image.tar"

    local out
    out=$("${PODMAN[@]}" run --rm "${run_opts[@]}" "$IMAGE" echo hello 2>&1) || true
    check "podman: run --rm echo hello" hello "$out"
    out=$("${PODMAN[@]}" run --rm "${run_opts[@]}" "$IMAGE" sh -c 'exit 4' 2>&1; echo "rc=$?") || true
    check "podman: run exit code" "rc=4" "$(tail -1 <<<"$out")"

    # A terminal: the pty master travels over conmon's --console-socket.
    out=$("${PODMAN[@]}" run --rm -t "${run_opts[@]}" "$IMAGE" sh -c 'tty; echo hi' 2>&1 | tr -d '\r') || true
    check "podman: run -t (console socket)" "$(printf '/dev/pts/0\nhi')" "$out"

    local name=ch-podman
    expect_ok "podman: run -d" "${PODMAN[@]}" run -d --name "$name" "${run_opts[@]}" "$IMAGE" sleep 300
    out=$("${PODMAN[@]}" inspect -f '{{.State.Status}}' "$name" 2>&1) || true
    check "podman: container running" running "$out"
    out=$("${PODMAN[@]}" exec "$name" echo hi 2>&1) || true
    check "podman: exec echo hi" hi "$out"
    out=$("${PODMAN[@]}" exec "$name" sh -c 'exit 6' 2>&1; echo "rc=$?") || true
    check "podman: exec exit code" "rc=6" "$(tail -1 <<<"$out")"
    out=$("${PODMAN[@]}" exec -t "$name" tty 2>&1 | tr -d '\r') || true
    check "podman: exec -t (console socket)" /dev/pts/0 "$out"
    out=$("${PODMAN[@]}" top "$name" pid 2>&1) || true
    if grep -q '^ *1$' <<<"$out"; then pass "podman: top"; else echo "NOTE podman top: $out"; fi
    expect_ok "podman: pause" "${PODMAN[@]}" pause "$name"
    out=$("${PODMAN[@]}" inspect -f '{{.State.Status}}' "$name" 2>&1) || true
    check "podman: container paused" paused "$out"
    expect_ok "podman: unpause" "${PODMAN[@]}" unpause "$name"
    expect_ok "podman: stop" "${PODMAN[@]}" stop -t 1 "$name"
    out=$("${PODMAN[@]}" inspect -f '{{.State.Status}}' "$name" 2>&1) || true
    check "podman: container exited" exited "$out"
    expect_ok "podman: rm" "${PODMAN[@]}" rm "$name"
    out=$("$RUNTIME" list -q 2>&1) || true
    if grep -q "$name" <<<"$out"; then fail "podman: runtime state left: $out"; else pass "podman: runtime state removed"; fi
}

make_image
case $PART in
containerd) test_containerd ;;
podman) test_podman ;;
all) test_containerd; test_podman ;;
*) echo "usage: $0 [containerd|podman|all]"; exit 2 ;;
esac
echo "--- runtime invocations (argv) ---"
sed -E -e "s#$WORK#<work>#g" -e "s#$RUNTIME#runtime#" -e 's/[0-9a-f]{64}/<id>/g' -e 's#(/tmp/runc-process)[0-9]+#\1N#' "$WORK/argv.log" 2>/dev/null | sort | uniq -c | sort -rn | head -40 || true
if ((FAILS > 0)); then
    echo "FAIL interop ($PART): $FAILS check(s) failed"
    exit 1
fi
echo "PASS interop ($PART)"
