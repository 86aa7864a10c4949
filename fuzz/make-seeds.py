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

def main():
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
