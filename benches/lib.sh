# Shared pieces of the side-by-side scripts (sourced, POSIX sh): entering a network and
# mount namespace of their own, a private dockerd, and the cleanup of a work directory
# (the caller sets `work`) and of podman's cgroups.

# bench_enter NAME MARKER ARGS...: needs root; unless $MARKER is set (we are re-executed
# already), builds the release engine example as $OURS (unless OURS is set, even empty)
# and re-executes the calling script ($0 ARGS) in `unshare -n -m` (loopback only, a
# private mount namespace) with MARKER=1.
bench_enter() {
    _name=$1
    _marker=$2
    shift 2
    if [ "$(id -u)" != 0 ]; then
        echo "$_name: needs root; try sudo" >&2
        exit 2
    fi
    eval "_inside=\${$_marker:-}"
    [ -n "$_inside" ] && return 0
    _top=$(cd "$(dirname "$0")/.." && pwd)
    cd "$_top"
    if [ -z "${OURS+x}" ]; then
        echo "== building examples/engine (release)" >&2
        cargo build --release --example engine >&2
        OURS=$_top/target/release/examples/engine
    fi
    export OURS
    exec unshare -n -m env "$_marker=1" "$0" "$@"
}

# The libpod_parent cgroups podman (cgroupfs manager) leaves, deepest first, if there were
# none before the script ($libpod_before, set from `libpod_cgroups` at its start).
libpod_cgroups() {
    find /sys/fs/cgroup -maxdepth 2 -name libpod_parent 2>/dev/null | head -n1
}
libpod_cgroups_remove() {
    [ -n "${libpod_before:-}" ] && return 0
    find /sys/fs/cgroup -maxdepth 3 -type d -path '*/libpod_parent*' 2>/dev/null \
        | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- \
        | while read -r _d; do rmdir "$_d" 2>/dev/null; done
}

dockerd_pid=

# dockerd_start DIR [DOCKERD FLAGS...]: Debian's dockerd ($DOCKERD) with everything under
# DIR (data-root, exec-root, pidfile, socket DIR/docker.sock, an empty daemon.json, the
# client's config), overlay2, cgroupfs, its own containerd (a tmpfs hides /run/containerd,
# so it never talks to a system one); waits until it answers. Sets dockerd_pid and
# dockerd_dir; `dk` is its client ($DOCKER).
dockerd_start() {
    dockerd_dir=$1
    shift
    mkdir -p "$dockerd_dir/data" "$dockerd_dir/exec" "$dockerd_dir/config"
    if [ -d /run/containerd ] && ! grep -q " /run/containerd .* - tmpfs bench-containerd " /proc/self/mountinfo; then
        mount -t tmpfs -o mode=0700 bench-containerd /run/containerd
    fi
    echo '{}' >"$dockerd_dir/daemon.json"
    "${DOCKERD:-/usr/sbin/dockerd}" --config-file "$dockerd_dir/daemon.json" \
        --data-root "$dockerd_dir/data" --exec-root "$dockerd_dir/exec" \
        --pidfile "$dockerd_dir/dockerd.pid" -H "unix://$dockerd_dir/docker.sock" \
        --storage-driver overlay2 --exec-opt native.cgroupdriver=cgroupfs \
        --log-level warn "$@" >"$dockerd_dir/dockerd.log" 2>&1 &
    dockerd_pid=$!
    _i=0
    until dk version >/dev/null 2>&1; do
        _i=$((_i + 1))
        if [ $_i -gt 300 ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then
            echo "dockerd did not come up:" >&2
            tail -n 20 "$dockerd_dir/dockerd.log" >&2
            exit 1
        fi
        sleep 0.1
    done
}

# The docker client ($DOCKER) against the dockerd of dockerd_start.
dk() {
    DOCKER_CONFIG=$dockerd_dir/config "${DOCKER:-/usr/bin/docker}" \
        -H "unix://$dockerd_dir/docker.sock" "$@"
}

# The client's command line, for harnesses that run it themselves.
dk_cmd() {
    echo "env DOCKER_CONFIG=$dockerd_dir/config ${DOCKER:-/usr/bin/docker} -H unix://$dockerd_dir/docker.sock"
}

# Stops the dockerd of dockerd_start by its pid: SIGTERM, 20 s, then SIGKILL.
dockerd_stop() {
    if [ -n "$dockerd_pid" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
        kill -TERM "$dockerd_pid"
        _i=0
        while kill -0 "$dockerd_pid" 2>/dev/null && [ $_i -lt 200 ]; do
            sleep 0.1
            _i=$((_i + 1))
        done
        kill -0 "$dockerd_pid" 2>/dev/null && kill -KILL "$dockerd_pid"
    fi
    dockerd_pid=
}

# work_cleanup: whatever still runs from $work (dockerd's containerd, a shim, a monitor)
# killed by pid, every mount under $work (deepest first), then $work itself.
work_cleanup() {
    for _p in /proc/[0-9]*; do
        _pid=${_p#/proc/}
        [ "$_pid" = $$ ] && continue
        if { tr '\0' ' ' <"$_p/cmdline"; } 2>/dev/null | grep -qF "$work/"; then
            echo "killing leftover $_pid: $(tr '\0' ' ' <"$_p/cmdline" 2>/dev/null | cut -c1-100)" >&2
            kill -KILL "$_pid" 2>/dev/null
        fi
    done
    grep -F " $work/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r _m; do
        umount "$_m" 2>/dev/null || umount -l "$_m"
    done
    rm -rf "$work"
}
