#!/usr/bin/env python3
"""Writes starting corpora for the fuzz targets into fuzz/corpus/ (git-ignored).

    python3 fuzz/make-seeds.py && cd fuzz && cargo fuzz run unpack
"""
import gzip, io, os, shutil, subprocess, tarfile

here = os.path.dirname(os.path.abspath(__file__))

def tar(entries, fmt=tarfile.PAX_FORMAT):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=fmt) as t:
        for name, kind, arg in entries:
            i = tarfile.TarInfo(name)
            i.mtime = 1_600_000_000
            data = b""
            if kind == "dir":
                i.type, i.mode = tarfile.DIRTYPE, 0o755
            elif kind == "file":
                i.mode, data = 0o644, arg
                i.size = len(data)
            elif kind == "sym":
                i.type, i.linkname = tarfile.SYMTYPE, arg
            elif kind == "hard":
                i.type, i.linkname = tarfile.LNKTYPE, arg
            elif kind == "fifo":
                i.type = tarfile.FIFOTYPE
            elif kind == "chr":
                i.type, i.devmajor, i.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "xattr":
                i.mode, i.pax_headers = 0o600, {"SCHILY.xattr.user.k": "v", "uid": "1000"}
            t.addfile(i, io.BytesIO(data))
    return b.getvalue()

layers = {
    "kinds": [("d/", "dir", None), ("d/f", "file", b"data"), ("d/s", "sym", "../d/f"),
              ("d/h", "hard", "d/f"), ("p", "fifo", None), ("c", "chr", None), ("x", "xattr", None)],
    "whiteouts": [("a/", "dir", None), ("a/.wh.b", "file", b""), ("a/.wh..wh..opq", "file", b""),
                  (".wh.gone", "file", b"")],
    "symlinks": [("abs", "sym", "/"), ("abs/through", "file", b"t"), ("up", "sym", "a/../../x"),
                 ("dangling", "sym", "/nowhere/deep"), ("dangling/f", "file", b"x")],
    "escape": [("../evil", "file", b"x"), ("/abs/file", "file", b"y"), ("h", "hard", "../../etc/passwd")],
    "replace": [("a", "file", b"1"), ("a", "dir", None), ("a/b", "file", b"2"), ("a", "sym", "b")],
}

refs = ["busybox", "busybox:1.36", "library/busybox@sha256:" + "a" * 64, "localhost:5000/a/b:tag",
        "quay.io/org/app:v1.2_3-x@sha256:" + "0123456789abcdef" * 4, "[::1]:5000/x", "docker.io/library/a/b",
        "Upper/case", "a" * 64, "host.example.com/a__b/c-d.e:t"]

# seccomp: Docker-format profiles (the module docs' example, podman's copy of moby's
# default profile when installed) and plain OCI `linux.seccomp` objects
seccomp_docs = {
    "doc-example": {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "clone", "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}],
             "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8", "arches": ["amd64"]}},
        ],
    },
    "oci-deny": {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 38, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 1, "op": "SCMP_CMP_GT"}]},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["uname"], "action": "SCMP_ACT_TRACE", "errnoRet": 3},
            {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
        ],
    },
    "empty": {},
}

# config: an OCI runtime config.json with most of what the plan reads
config = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": False, "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 6]},
        "args": ["/bin/sh", "-c", "true"], "env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
        "capabilities": {s: ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                         for s in ("bounding", "effective", "inheritable", "permitted", "ambient")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True, "oomScoreAdj": 100,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "fuzz",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]},
        {"destination": "/data", "type": "bind", "source": "/tmp", "options": ["rbind", "rprivate", "ro"]},
    ],
    "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "timeout": 5}],
              "poststop": [{"path": "/bin/true"}]},
    "linux": {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}],
        "resources": {"devices": [{"allow": False, "access": "rwm"}], "memory": {"limit": 1048576},
                      "pids": {"limit": 10}},
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
        "rootfsPropagation": "private",
        "seccomp": seccomp_docs["oci-deny"],
    },
}

compose_docs = {
    "app": ("services:\n  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: secret}\n"
            "    ports: ['5432']\n    volumes: ['data:/var/lib/postgresql/data']\n"
            "    healthcheck: {test: [CMD, pg_isready], interval: 5s, retries: 5}\n"
            "  web:\n    build: ./web\n    command: [serve, --port, '80']\n    ports: ['8080:80']\n"
            "    depends_on: {db: {condition: service_healthy}}\n    volumes: ['./site:/www:ro']\n"
            "    mem_limit: 64m\n    deploy: {replicas: 2}\nvolumes: {data: }\n", ""),
    "interpolated": ("services:\n  web:\n    image: ${IMAGE:-busybox}:${TAG?need a tag}\n"
                     "    environment: [PRICE=$$5, HOME_DIR=${HOME}]\n    stop_grace_period: 1m30s\n"
                     "    configs: [{source: c, mode: 0440}]\n    profiles: [debug]\n"
                     "    networks: {front: {aliases: [w]}}\nconfigs: {c: {file: ./c.txt}}\n"
                     "networks: {front: {driver: bridge}}\n", "TAG=1\nHOME='/home/u'\nexport IMAGE=\"alpine\"\n"),
    "anchors": ("x-common: &c\n  restart: unless-stopped\n  labels: {a: b}\nservices:\n"
                "  a: {<<: *c, image: busybox, command: sleep 1, extends: {service: b}}\n"
                "  b: {image: busybox, ulimits: {nofile: {soft: 10, hard: 20}}, tmpfs: /run}\n", ""),
}

def main():
    import json
    d = os.path.join(here, "corpus", "compose")
    os.makedirs(d, exist_ok=True)
    for name, (doc, env) in compose_docs.items():
        open(os.path.join(d, name), "wb").write(doc.encode() + (b"\0" + env.encode() if env else b""))
    for name, doc in seccomp_docs.items():
        d = os.path.join(here, "corpus", "seccomp")
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, name), "w").write(json.dumps(doc))
    if os.path.exists("/usr/share/containers/seccomp.json"):
        shutil.copy("/usr/share/containers/seccomp.json", os.path.join(here, "corpus", "seccomp", "moby-default"))
    d = os.path.join(here, "corpus", "config")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "full"), "w").write(json.dumps(config))
    minimal = {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}
    open(os.path.join(d, "minimal"), "w").write(json.dumps(minimal))
    unknown = json.loads(json.dumps(config))
    unknown["process"]["capabilities"]["bounding"].append("CAP_FROM_THE_FUTURE")
    open(os.path.join(d, "unknown-cap"), "w").write(json.dumps(unknown))
    for target in ("unpack", "reference"):
        d = os.path.join(here, "corpus", target)
        os.makedirs(d, exist_ok=True)
    for name, entries in layers.items():
        for fmt_name, fmt in (("pax", tarfile.PAX_FORMAT), ("gnu", tarfile.GNU_FORMAT)):
            t = tar(entries, fmt)
            out = os.path.join(here, "corpus", "unpack", f"{name}-{fmt_name}")
            # first byte: bit 0 picks overlay (0) or applied (1) whiteouts
            open(out + "-tar", "wb").write(b"\0" + t)
            open(out + "-flat", "wb").write(b"\1" + t)
            open(out + "-gz", "wb").write(b"\0" + gzip.compress(t))
            if shutil.which("zstd"):
                z = subprocess.run(["zstd", "-q", "-c"], input=t, capture_output=True, check=True).stdout
                open(out + "-zst", "wb").write(b"\1" + z)
    for i, r in enumerate(refs):
        open(os.path.join(here, "corpus", "reference", f"seed-{i}"), "w").write(r)

main()
