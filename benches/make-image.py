#!/usr/bin/env python3
"""Builds the benchmark image as an OCI layout: 4 gzip layers of real files from /usr
(shared libraries, executables, python + share, compilers), ~150 MB compressed.

    make-image.py <layout-dir> <tag>

Deterministic for a given machine; nothing here is committed.
"""
import gzip, hashlib, json, os, subprocess, sys, tarfile
from concurrent.futures import ThreadPoolExecutor

LAYERS = [  # (sources, uncompressed budget in MB)
    (["/usr/lib/x86_64-linux-gnu"], 100),
    (["/usr/bin", "/usr/sbin"], 110),
    (["/usr/lib/python3.11", "/usr/lib/python3", "/usr/share/perl", "/usr/share/doc"], 80),
    (["/usr/lib/gcc", "/usr/lib/llvm-14"], 110),
]

def build_tar(path, sources, budget):
    left = budget << 20
    seen = set()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for src in sources:
            if not os.path.isdir(src):
                continue
            for dirpath, dirs, files in os.walk(src):
                dirs.sort()
                if left <= 0:
                    break
                t.add(dirpath, arcname=dirpath.lstrip("/"), recursive=False)
                for f in sorted(files):
                    p = os.path.join(dirpath, f)
                    try:
                        st = os.lstat(p)
                    except OSError:
                        continue
                    if not (os.path.islink(p) or os.path.isfile(p)) or left <= 0:
                        continue
                    if os.path.isfile(p) and not os.path.islink(p):
                        if not os.access(p, os.R_OK) or st.st_size > (48 << 20):
                            continue
                        left -= st.st_size
                    info = t.gettarinfo(p, arcname=p.lstrip("/"))
                    info.uid = info.gid = 0
                    info.uname = info.gname = "root"
                    if info.isfile():
                        with open(p, "rb") as fh:
                            t.addfile(info, fh)
                    else:
                        t.addfile(info)

def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(1 << 20):
            h.update(b)
    return h.hexdigest()

def layer(i, out):
    sources, budget = LAYERS[i]
    tar = os.path.join(out, f"layer{i}.tar")
    build_tar(tar, sources, budget)
    diff = sha(tar)
    subprocess.run(["gzip", "-6", "-n", "-f", tar], check=True)  # docker's level
    gz = tar + ".gz"
    return diff, gz

def put_blob(layout, data=None, path=None):
    if path:
        d = sha(path)
        dst = os.path.join(layout, "blobs/sha256", d)
        os.replace(path, dst)
        return d, os.path.getsize(dst)
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs/sha256", d), "wb").write(data)
    return d, len(data)

def main():
    layout, tag = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(layout, "blobs/sha256"), exist_ok=True)
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: layer(i, layout), range(len(LAYERS))))
    layers, diffs = [], []
    for diff, gz in results:
        d, n = put_blob(layout, path=gz)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + d, "size": n})
        diffs.append("sha256:" + diff)
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers", "diff_ids": diffs}, "history": [{"created_by": "make-image.py"}] * len(diffs)}
    cd, cn = put_blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd, "size": cn},
                "layers": layers}
    md, mn = put_blob(layout, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": "sha256:" + md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": tag}}]}
    json.dump(index, open(os.path.join(layout, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
    for l in layers:
        print(l["digest"], l["size"])

main()
