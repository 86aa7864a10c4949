#!/usr/bin/env bash
# Side-by-side pull+unpack and push of one multi-layer image against a local registry:
# cargohold (examples/pull.rs) vs skopeo+umoci, podman, and the floor (curl | sha256sum +
# gzip -d | tar -x, one layer after another on one core). Root, Linux; needs
# docker-registry, skopeo, umoci, podman, curl, gzip, python3, taskset, /usr/bin/time.
#
#   benches/pull.sh            # N=5 runs of each, interleaved
#   N=3 WORK=/tmp/x benches/pull.sh
#
# The image (4 gzip layers of /usr files, ~150 MB) is generated under $WORK by
# benches/make-image.py and reused across runs; nothing is committed. Every registry this
# script starts is killed by its pid on exit. Prints median/min/max seconds, ratios and
# whether the targets of issue 3 hold (pull+unpack <= floor and <= 0.6x podman; push <= skopeo).
set -euo pipefail

N=${N:-5}
WORK=${WORK:-/tmp/cargohold-bench}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PODMAN_DRIVER=${PODMAN_DRIVER:-overlay}
mkdir -p "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_registry <dir>: starts a docker-registry storing under <dir>; sets RPORT, RPID
start_registry() {
    local dir=$1 port
    port=$(free_port)
    rm -rf "$dir" && mkdir -p "$dir"
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$dir" "$port" > "$dir/config.yml"
    docker-registry serve "$dir/config.yml" >/dev/null 2>&1 &
    RPID=$!
    RPORT=$port
    PIDS+=("$RPID")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
}

ms() { date +%s%N; }
# timed <name> <cmd...>: runs cmd (its output to $WORK/log), appends seconds to $WORK/t.<name>
timed() {
    local name=$1 s e
    shift
    sync
    s=$(ms)
    if ! "$@" >>"$WORK/log" 2>&1; then echo "FAILED ($name): $*; see $WORK/log" >&2; exit 1; fi
    e=$(ms)
    echo "scale=3; ($e - $s) / 1000000000" | bc >> "$WORK/t.$name"
}

echo "building examples/pull (release)…" >&2
(cd "$HERE" && cargo build --release --example pull -q)
BIN=$HERE/target/release/examples/pull

IMG=$WORK/image
if [ ! -f "$IMG/index.json" ]; then
    echo "generating the image under $IMG…" >&2
    python3 "$HERE/benches/make-image.py" "$IMG" bench >/dev/null
fi
: > "$WORK/log"
rm -f "$WORK"/t.* "$WORK/rss"

start_registry "$WORK/registry"
REG=127.0.0.1:$RPORT
skopeo copy -q --dest-tls-verify=false "oci:$IMG:bench" "docker://$REG/bench:1" >>"$WORK/log" 2>&1
MANIFEST=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/bench/manifests/1")
LAYERS=$(echo "$MANIFEST" | python3 -c 'import json,sys; print(" ".join(l["digest"] for l in json.load(sys.stdin)["layers"]))')
GZ=$(echo "$MANIFEST" | python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
echo "image: $(echo $LAYERS | wc -w) layers, $((GZ / 1000000)) MB gzip, registry at $REG" >&2

floor() {
    local dst=$1 d
    mkdir -p "$dst"
    for d in $LAYERS; do
        curl -sf "http://$REG/v2/bench/blobs/$d" | tee >(sha256sum >/dev/null) | gzip -d | tar -x -C "$dst"
    done
}
export -f floor
export REG LAYERS

for i in $(seq "$N"); do
    echo "run $i/$N…" >&2
    D=$WORK/run; rm -rf "$D"; mkdir -p "$D"

    timed ours /usr/bin/time -o "$D/rss" -f %M "$BIN" pull "$D/ours" "$REG/bench:1"
    cat "$D/rss" >> "$WORK/rss"

    timed skopeo_umoci bash -c "skopeo copy -q --src-tls-verify=false docker://$REG/bench:1 oci:$D/sk:bench && umoci unpack --image $D/sk:bench $D/bundle"

    timed podman podman --root "$D/podman" --runroot "$D/podman-run" --storage-driver "$PODMAN_DRIVER" \
        pull -q --tls-verify=false "$REG/bench:1"
    podman --root "$D/podman" --runroot "$D/podman-run" --storage-driver "$PODMAN_DRIVER" rmi -af >/dev/null 2>&1 || true

    timed floor taskset -c 0 bash -c "floor $D/floor"
    timed floor_mc bash -c "floor $D/floor-mc"

    # push: each tool into a fresh, empty registry (no blob is there, none can be mounted)
    start_registry "$D/reg-ours"; P1=$RPORT; PID1=$RPID
    start_registry "$D/reg-skopeo"; P2=$RPORT; PID2=$RPID
    timed push_ours "$BIN" push "$D/ours" "$REG/bench:1" "127.0.0.1:$P1/bench:1"
    timed push_skopeo skopeo copy -q --dest-tls-verify=false "oci:$D/sk:bench" "docker://127.0.0.1:$P2/bench:1"
    kill "$PID1" "$PID2"; wait "$PID1" "$PID2" 2>/dev/null || true
    findmnt -rn -o TARGET | grep -q "^$D" && umount -R $(findmnt -rn -o TARGET | grep "^$D" | sort -r) 2>/dev/null || true
    rm -rf "$D"
done

python3 - "$WORK" "$PODMAN_DRIVER" <<'PY'
import statistics, sys
work, driver = sys.argv[1], sys.argv[2]
def t(name):
    return [float(x) for x in open(f"{work}/t.{name}").read().split()]
rows = [("ours", "cargohold pull+unpack"), ("skopeo_umoci", "skopeo copy + umoci unpack"),
        ("podman", f"podman pull ({driver})"), ("floor", "floor: curl|sha256sum+gzip -d|tar -x, 1 core"),
        ("floor_mc", "same floor, not pinned (pipeline on all cores)"),
        ("push_ours", "cargohold push"), ("push_skopeo", "skopeo copy oci: -> docker://")]
med = {k: statistics.median(t(k)) for k, _ in rows}
print(f"{'':46} {'median':>7} {'min':>7} {'max':>7} {'/podman':>8} {'/floor':>7}")
for k, label in rows:
    v = t(k)
    extra = f"{med[k]/med['podman']:8.2f} {med[k]/med['floor']:7.2f}" if not k.startswith("push") else f"{'':8} {'':7}"
    print(f"{label:46} {med[k]:7.2f} {min(v):7.2f} {max(v):7.2f} {extra}")
print(f"{'push ours / skopeo':46} {med['push_ours']/med['push_skopeo']:7.2f}")
rss = [int(x) for x in open(f"{work}/rss").read().split()]
print(f"peak RSS of cargohold pull: max {max(rss)/1024:.0f} MiB (median {statistics.median(rss)/1024:.0f} MiB)")
ok = lambda b: "PASS" if b else "MISS"
print(f"target pull+unpack <= floor:        {ok(med['ours'] <= med['floor'])}")
print(f"target pull+unpack <= 0.6x podman:  {ok(med['ours'] <= 0.6 * med['podman'])}")
print(f"target push <= skopeo:              {ok(med['push_ours'] <= med['push_skopeo'])}")
PY
