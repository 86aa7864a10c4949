//! Docker's COPY/ADD rules, each asserted on the layer read back from the tar.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// One entry of a layer, read back.
#[derive(Debug, Clone)]
struct E {
    path: String,
    kind: tar::EntryType,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    data: Vec<u8>,
    link: Option<String>,
}

fn read_layer(buf: &[u8]) -> Vec<E> {
    let mut ar = tar::Archive::new(buf);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            E {
                path: e.path().unwrap().display().to_string(),
                kind: h.entry_type(),
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                mtime: h.mtime().unwrap(),
                data,
                link: e.link_name().unwrap().map(|l| l.display().to_string()),
            }
        })
        .collect()
}

fn input(sources: &[&str], dest: &str) -> CopyInput {
    CopyInput {
        sources: sources
            .iter()
            .map(|s| CopySource::Path(s.to_string()))
            .collect(),
        dest: dest.into(),
        workdir: "/".into(),
        ..CopyInput::default()
    }
}

/// Writes the layer; its entries and stats.
fn layer(input: &CopyInput, from: &CopyFrom<'_>, root: &Stack) -> Result<(Vec<E>, Copied)> {
    let mut tar = TarWriter::new(Vec::new());
    let mut last = 0;
    let copied = write_layer(input, from, root, &mut tar, &mut |b| {
        assert!(b >= last, "progress only grows");
        last = b;
    })?;
    assert_eq!(last, copied.bytes, "progress reports every byte");
    Ok((read_layer(&tar.into_inner().unwrap()), copied))
}

fn paths(es: &[E]) -> Vec<&str> {
    es.iter().map(|e| e.path.as_str()).collect()
}

fn get<'a>(es: &'a [E], path: &str) -> &'a E {
    es.iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("no {path} in {:?}", paths(es)))
}

fn write(root: &Path, rel: &str, content: &str, mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

fn mkdir(root: &Path, rel: &str, mode: u32) {
    let p = root.join(rel);
    fs::create_dir_all(&p).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        },
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &t,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A build context: `a.txt` (0640), `b.txt`, `run.sh` (0755), `dir/` with a file, a
/// subdirectory, a symlink and a log, `x/a.txt`, `x/y/{a,b}.txt`, a `.dockerignore`
/// leaving out `secret`.
fn context() -> (tempfile::TempDir, Context) {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    write(r, "a.txt", "A", 0o640);
    write(r, "b.txt", "BB", 0o644);
    write(r, "run.sh", "#!/bin/sh\n", 0o755);
    write(r, "dir/f", "f", 0o600);
    write(r, "dir/sub/g", "g", 0o644);
    write(r, "dir/app.log", "log", 0o644);
    write(r, "dir/keep.log", "keep", 0o644);
    symlink("sub/g", r.join("dir/link")).unwrap();
    mkdir(r, "dir/sub", 0o750);
    set_mtime(&r.join("dir"), 1_000_000);
    write(r, "x/a.txt", "xa", 0o644);
    write(r, "x/y/a.txt", "xya", 0o644);
    write(r, "x/y/b.txt", "xyb", 0o644);
    write(r, "secret", "s", 0o600);
    write(r, ".dockerignore", "secret\n", 0o644);
    let ctx = Context::open(r).unwrap();
    (d, ctx)
}

/// A root file system of one layer: `/etc/passwd` and `/etc/group` with `app` (1000:1001)
/// and `staff` (50), `/opt` (0700), `/usr/local` (0700), `/bin` -> `usr/bin`, a file at
/// `/data/file`.
fn rootfs() -> (tempfile::TempDir, Stack) {
    let d = tempfile::tempdir().unwrap();
    let l = d.path().join("layer");
    write(
        &l,
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
        0o644,
    );
    write(&l, "etc/group", "root:x:0:\nstaff:x:50:app\n", 0o644);
    mkdir(&l, "opt", 0o700);
    mkdir(&l, "usr/bin", 0o755);
    mkdir(&l, "usr/local", 0o700);
    set_mtime(&l.join("usr"), 2_000_000);
    symlink("usr/bin", l.join("bin")).unwrap();
    write(&l, "data/file", "x", 0o644);
    (d, Stack::new(vec![l]))
}

fn empty_root() -> Stack {
    Stack::new(Vec::new())
}

/// The context of [`context`] and the root of [`rootfs`], kept with their directories.
struct Fixture {
    ctx: Context,
    root: Stack,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Fixture {
    fn new() -> Self {
        let (ctx_dir, ctx) = context();
        let (root_dir, root) = rootfs();
        Fixture {
            ctx,
            root,
            _dirs: (ctx_dir, root_dir),
        }
    }

    /// Writes the layer of `input` from the context onto the root.
    fn layer(&self, input: &CopyInput) -> Result<(Vec<E>, Copied)> {
        layer(input, &CopyFrom::Context(&self.ctx), &self.root)
    }
}

/// `COPY sources dest` from the context `ctx` onto an empty root.
fn copy_onto_empty(ctx: &Context, sources: &[&str], dest: &str) -> (Vec<E>, Copied) {
    layer(
        &input(sources, dest),
        &CopyFrom::Context(ctx),
        &empty_root(),
    )
    .unwrap()
}

fn err_text(r: Result<(Vec<E>, Copied)>) -> String {
    match r {
        Ok((es, _)) => panic!("expected an error, got {:?}", paths(&es)),
        Err(e) => e.to_string(),
    }
}

#[test]
fn file_to_a_new_name_creates_its_parents() {
    let (_d, ctx) = context();
    let (es, copied) = copy_onto_empty(&ctx, &["a.txt"], "/x/b.txt");
    assert_eq!(paths(&es), ["x", "x/b.txt"]);
    let x = get(&es, "x");
    assert_eq!(
        (x.kind, x.mode, x.uid, x.gid),
        (tar::EntryType::Directory, 0o755, 0, 0)
    );
    let f = get(&es, "x/b.txt");
    assert_eq!(
        (f.mode, f.uid, f.gid, &f.data[..]),
        (0o640, 0, 0, &b"A"[..])
    );
    let src = fs::metadata(ctx.root().join("a.txt")).unwrap();
    assert_eq!(f.mtime, src.mtime() as u64, "mtime kept");
    assert_eq!(copied, Copied { files: 1, bytes: 1 });
}

#[test]
fn file_into_a_directory_by_slash_or_by_existence() {
    let fx = Fixture::new();
    let (es, _) = fx.layer(&input(&["a.txt"], "/new/")).unwrap();
    assert_eq!(paths(&es), ["new", "new/a.txt"]);
    // /opt exists: the file goes in, and /opt is in the layer with its own metadata
    let (es, _) = fx.layer(&input(&["a.txt"], "/opt")).unwrap();
    assert_eq!(paths(&es), ["opt", "opt/a.txt"]);
    assert_eq!(get(&es, "opt").mode, 0o700);
    // a relative destination joins the workdir; `.` is a directory
    let mut i = input(&["a.txt"], ".");
    i.workdir = "/app/src".into();
    let (es, _) = fx.layer(&i).unwrap();
    assert_eq!(paths(&es), ["app", "app/src", "app/src/a.txt"]);
    let mut i = input(&["a.txt"], "rel/n");
    i.workdir = "/w".into();
    assert_eq!(paths(&fx.layer(&i).unwrap().0), ["w", "w/rel", "w/rel/n"]);
}

#[test]
fn parents_carry_their_metadata_and_symlinks_in_the_destination_are_followed() {
    let fx = Fixture::new();
    let (es, _) = fx.layer(&input(&["a.txt"], "/usr/local/bin/")).unwrap();
    assert_eq!(
        paths(&es),
        ["usr", "usr/local", "usr/local/bin", "usr/local/bin/a.txt"]
    );
    assert_eq!(
        (get(&es, "usr").mode, get(&es, "usr").mtime),
        (0o755, 2_000_000)
    );
    assert_eq!(get(&es, "usr/local").mode, 0o700);
    assert_eq!(get(&es, "usr/local/bin").mode, 0o755);
    // /bin is a symlink to usr/bin: the file lands in /usr/bin
    let (es, _) = fx.layer(&input(&["run.sh"], "/bin/")).unwrap();
    assert_eq!(paths(&es), ["usr", "usr/bin", "usr/bin/run.sh"]);
    assert_eq!(get(&es, "usr/bin/run.sh").mode, 0o755);
}

#[test]
fn a_directory_copies_its_contents() {
    let (_d, ctx) = context();
    let (es, copied) = copy_onto_empty(&ctx, &["dir"], "/d");
    assert_eq!(
        paths(&es),
        [
            "d",
            "d/app.log",
            "d/f",
            "d/keep.log",
            "d/link",
            "d/sub",
            "d/sub/g"
        ]
    );
    let d = get(&es, "d");
    assert_eq!(
        (d.mode, d.mtime),
        (0o755, 1_000_000),
        "made 0755, the source's mtime"
    );
    assert_eq!(get(&es, "d/sub").mode, 0o750);
    assert_eq!(get(&es, "d/f").mode, 0o600);
    let link = get(&es, "d/link");
    assert_eq!(
        (link.kind, link.link.as_deref()),
        (tar::EntryType::Symlink, Some("sub/g"))
    );
    assert_eq!(copied.files, 5);
    assert_eq!(copied.bytes, 3 + 1 + 4 + 1);

    // an existing destination directory keeps its mode and takes the source's mtime
    let (_r, root) = rootfs();
    let (es, _) = layer(&input(&["dir"], "/opt/"), &CopyFrom::Context(&ctx), &root).unwrap();
    let opt = get(&es, "opt");
    assert_eq!((opt.mode, opt.mtime), (0o700, 1_000_000));
    // the whole context, less .dockerignore's
    let (es, _) = layer(&input(&["."], "/all/"), &CopyFrom::Context(&ctx), &root).unwrap();
    assert!(paths(&es).contains(&"all/x/y/b.txt"));
    assert!(!paths(&es).contains(&"all/secret"));
}

#[test]
fn wildcards_and_several_sources_need_a_directory() {
    let (_d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let root = empty_root();
    let (es, _) = layer(&input(&["*.txt"], "/g/"), &from, &root).unwrap();
    assert_eq!(paths(&es), ["g", "g/a.txt", "g/b.txt"]);
    let (es, _) = layer(&input(&["a.txt", "run.sh"], "/g/"), &from, &root).unwrap();
    assert_eq!(paths(&es), ["g", "g/a.txt", "g/run.sh"]);
    // a wildcard with one match may name a file
    let (es, _) = layer(&input(&["a.*"], "/one"), &from, &root).unwrap();
    assert_eq!(paths(&es), ["one"]);
    for i in [input(&["a.txt", "b.txt"], "/g"), input(&["*.txt"], "/g")] {
        let e = err_text(layer(&i, &from, &root));
        assert!(
            e.contains("When using COPY with more than one source file, the destination must be a directory and end with a /"),
            "{e}"
        );
    }
    let e = err_text(layer(&input(&["nope.*"], "/g/"), &from, &root));
    assert!(e.contains("no files match"), "{e}");
    let e = err_text(layer(&input(&["../etc/passwd"], "/g/"), &from, &root));
    assert!(e.contains("outside the build context"), "{e}");
    let e = err_text(layer(&input(&["secret"], "/g/"), &from, &root));
    assert!(e.contains("source \"secret\""), "{e}");
}

#[test]
fn chown_by_name_or_id() {
    let fx = Fixture::new();
    for (spec, ids) in [
        ("app", (1000, 1001)),
        ("app:staff", (1000, 50)),
        ("7", (7, 7)),
        ("7:staff", (7, 50)),
        (":staff", (0, 50)),
        ("root:9", (0, 9)),
    ] {
        let mut i = input(&["dir"], "/new/dst/");
        i.chown = Some(spec.into());
        let (es, _) = fx.layer(&i).unwrap();
        for e in &es {
            assert_eq!((e.uid, e.gid), ids, "{spec}: {}", e.path);
        }
    }
    for (spec, name) in [("nobody", "\"nobody\""), ("app:wheel", "\"wheel\"")] {
        let mut i = input(&["a.txt"], "/x");
        i.chown = Some(spec.into());
        let e = err_text(fx.layer(&i));
        assert!(
            e.contains(&format!("--chown={spec}")) && e.contains(name),
            "{e}"
        );
    }
}

#[test]
fn chmod_octal_and_symbolic() {
    let (_d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let root = empty_root();
    let mut i = input(&["dir"], "/n/d/");
    i.chmod = Some("0640".into());
    let (es, _) = layer(&i, &from, &root).unwrap();
    assert_eq!(
        get(&es, "n").mode,
        0o640,
        "created directories take the octal mode"
    );
    assert_eq!(get(&es, "n/d/sub").mode, 0o640);
    assert_eq!(get(&es, "n/d/f").mode, 0o640);
    assert_eq!(get(&es, "n/d/link").kind, tar::EntryType::Symlink);

    let mut i = input(&["dir", "run.sh"], "/s/");
    i.chmod = Some("u=rwX,go=rX".into());
    let (es, _) = layer(&i, &from, &root).unwrap();
    assert_eq!(get(&es, "s").mode, 0o755);
    assert_eq!(get(&es, "s/sub").mode, 0o755);
    assert_eq!(get(&es, "s/f").mode, 0o644);
    assert_eq!(get(&es, "s/run.sh").mode, 0o755);

    for (spec, from_mode, is_dir, want) in [
        ("+x", 0o644, false, 0o755),
        ("g=u", 0o640, false, 0o660),
        ("go-w", 0o666, false, 0o644),
        ("u+s,o+t", 0o755, true, 0o5755),
        ("a=r,u+w", 0o777, false, 0o644),
        ("4755", 0o644, false, 0o4755),
    ] {
        assert_eq!(
            Chmod::parse(spec).unwrap().apply(from_mode, is_dir),
            want,
            "{spec}"
        );
    }
    for bad in ["999", "17777", "u+q", "rw", ""] {
        let mut i = input(&["a.txt"], "/x");
        i.chmod = Some(bad.into());
        let e = layer(&i, &from, &root).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidBuild { subject, .. } if subject == &format!("--chmod={bad}")),
            "{bad}: {e}"
        );
    }
}

#[test]
fn exclude_filters_below_the_source() {
    let (_d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let mut i = input(&["dir"], "/d/");
    i.exclude = vec!["*.log".into(), "!keep.log".into(), "sub".into()];
    let (es, _) = layer(&i, &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["d", "d/f", "d/keep.log", "d/link"]);
    let mut i = input(&["dir"], "/d/");
    i.exclude = vec!["[".into()];
    assert!(err_text(layer(&i, &from, &empty_root())).contains("--exclude=["));
}

#[test]
fn parents_keep_the_source_path() {
    let (_d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let mut i = input(&["x/a.txt", "x/y/a.txt"], "/p/");
    i.parents = true;
    let (es, _) = layer(&i, &from, &empty_root()).unwrap();
    assert_eq!(
        paths(&es),
        ["p", "p/x", "p/x/a.txt", "p/x/y", "p/x/y/a.txt"]
    );
    let src = fs::metadata(ctx.root().join("x")).unwrap();
    assert_eq!(
        get(&es, "p/x").mtime,
        src.mtime() as u64,
        "parents keep their metadata"
    );
    let mut i = input(&["x/./y/*.txt"], "/p/");
    i.parents = true;
    let (es, _) = layer(&i, &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["p", "p/y", "p/y/a.txt", "p/y/b.txt"]);
    let mut i = input(&["x/**/b.txt"], "/p/");
    i.parents = true;
    let (es, _) = layer(&i, &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["p", "p/x", "p/x/y", "p/x/y/b.txt"]);
    let mut i = input(&["x/none.txt"], "/p/");
    i.parents = true;
    assert!(err_text(layer(&i, &from, &empty_root())).contains("not found"));
}

#[test]
fn heredocs_are_files_of_mode_0644() {
    let fx = Fixture::new();
    let heredoc = |dest: &str| CopyInput {
        sources: vec![CopySource::Heredoc {
            name: "EOF".into(),
            content: "hello\n".into(),
        }],
        dest: dest.into(),
        workdir: "/".into(),
        ..CopyInput::default()
    };
    let (es, _) = fx.layer(&heredoc("/etc/motd")).unwrap();
    assert_eq!(paths(&es), ["etc", "etc/motd"]);
    let f = get(&es, "etc/motd");
    assert_eq!((f.mode, f.uid, &f.data[..]), (0o644, 0, &b"hello\n"[..]));
    let (es, _) = fx.layer(&heredoc("/opt")).unwrap();
    assert_eq!(paths(&es), ["opt", "opt/EOF"]);
    let mut i = heredoc("/h/");
    i.add = true;
    i.chown = Some("app".into());
    i.chmod = Some("u+x".into());
    let (es, _) = fx.layer(&i).unwrap();
    let f = get(&es, "h/EOF");
    assert_eq!((f.mode, f.uid, f.gid), (0o744, 1000, 1001));
}

/// A tar holding `top/` (0700), `top/f` (0640, uid 42), a symlink, a hard link and a
/// whiteout-looking file.
fn archive() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o700);
    h.set_mtime(1234);
    h.set_size(0);
    b.append_data(&mut h, "./top/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o640);
    h.set_uid(42);
    h.set_gid(43);
    h.set_mtime(5678);
    h.set_size(5);
    b.append_data(&mut h, "top/f", &b"hello"[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_size(0);
    b.append_link(&mut h, "top/l", "f").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_mode(0o640);
    h.set_size(0);
    b.append_link(&mut h, "top/hard", "top/f").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o600);
    h.set_size(0);
    b.append_data(&mut h, "deep/.wh.gone", std::io::empty())
        .unwrap();
    b.into_inner().unwrap()
}

#[test]
fn add_extracts_archives_in_every_compression() {
    let (d, ctx) = context();
    let raw = archive();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let xz = {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let bz = {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let zst = zstd::encode_all(&raw[..], 1).unwrap();
    let (_r, root) = rootfs();
    for (name, bytes) in [
        ("a.tar", &raw),
        ("a.tar.gz", &gz),
        ("a.tar.xz", &xz),
        ("a.tar.bz2", &bz),
        ("a.tar.zst", &zst),
    ] {
        fs::write(d.path().join(name), bytes).unwrap();
        let mut i = input(&[name], "/ex");
        i.add = true;
        let (es, copied) = layer(&i, &CopyFrom::Context(&ctx), &root).unwrap();
        assert_eq!(
            paths(&es),
            [
                "ex",
                "ex/top",
                "ex/top/f",
                "ex/top/l",
                "ex/top/hard",
                "ex/deep",
                "ex/deep/.wh.gone"
            ],
            "{name}"
        );
        let top = get(&es, "ex/top");
        assert_eq!((top.mode, top.mtime), (0o700, 1234));
        let f = get(&es, "ex/top/f");
        assert_eq!(
            (f.mode, f.uid, f.gid, f.mtime, &f.data[..]),
            (0o640, 42, 43, 5678, &b"hello"[..])
        );
        assert_eq!(get(&es, "ex/top/l").link.as_deref(), Some("f"));
        let hard = get(&es, "ex/top/hard");
        assert_eq!(
            (hard.kind, hard.link.as_deref()),
            (tar::EntryType::Link, Some("ex/top/f"))
        );
        let deep = get(&es, "ex/deep");
        assert_eq!(
            (deep.mode, deep.uid),
            (0o755, 0),
            "missing parents: 0755 root"
        );
        assert_eq!(get(&es, "ex/deep/.wh.gone").kind, tar::EntryType::Regular);
        assert_eq!(copied.bytes, 5);

        // --chown applies to every entry; COPY never extracts
        let mut i = input(&[name], "/ex/");
        i.add = true;
        i.chown = Some("app".into());
        let (es, _) = layer(&i, &CopyFrom::Context(&ctx), &root).unwrap();
        assert_eq!(
            (get(&es, "ex/top/f").uid, get(&es, "ex/top").gid),
            (1000, 1001)
        );
        let (es, _) = layer(&input(&[name], "/c/"), &CopyFrom::Context(&ctx), &root).unwrap();
        assert_eq!(paths(&es), ["c".to_string(), format!("c/{name}")]);
    }
    // a text file is copied, not extracted
    let mut i = input(&["a.txt"], "/t/");
    i.add = true;
    assert_eq!(
        paths(&layer(&i, &CopyFrom::Context(&ctx), &root).unwrap().0),
        ["t", "t/a.txt"]
    );
}

#[test]
fn add_refuses_archives_that_climb_out() {
    let (d, ctx) = context();
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(1);
    // tar::Builder refuses `..` in paths: write the name into the header by hand
    h.as_old_mut().name[..9].copy_from_slice(b"../escape");
    h.set_cksum();
    b.append(&h, &b"x"[..]).unwrap();
    fs::write(d.path().join("bad.tar"), b.into_inner().unwrap()).unwrap();
    let mut i = input(&["bad.tar"], "/ex/");
    i.add = true;
    let e = err_text(layer(&i, &CopyFrom::Context(&ctx), &empty_root()));
    assert!(e.contains("leads outside the destination"), "{e}");
}

#[test]
fn remote_sources_are_refused() {
    let (_d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let mut i = input(&["https://example.com/a.tar.gz"], "/x/");
    i.add = true;
    let e = layer(&i, &from, &empty_root()).unwrap_err();
    match &e {
        Error::InvalidBuild { subject, reason } => {
            assert_eq!(subject, "ADD source \"https://example.com/a.tar.gz\"");
            assert!(reason.contains("no network"), "{reason}");
        }
        e => panic!("{e}"),
    }
    assert!(source_digest(&i, &from, &no_cache_hashes()).is_err());
    let mut i = input(&["git@github.com:a/b.git"], "/x/");
    i.add = true;
    assert!(err_text(layer(&i, &from, &empty_root())).contains("no network"));
    let i = input(&["http://example.com/f"], "/x/");
    assert!(err_text(layer(&i, &from, &empty_root())).contains("can't be a URL for COPY"));
    let mut i = input(&["a.txt"], "/x/");
    i.checksum = Some("sha256:00".into());
    assert!(
        err_text(layer(&i, &from, &empty_root())).contains("checksum can't be specified for COPY")
    );
    i.add = true;
    assert!(err_text(layer(&i, &from, &empty_root()))
        .contains("checksum requires HTTP(S) or Git sources"));
}

/// A stage's root file system: `/app/bin/tool` (0750), `/app/conf`, a symlink that climbs
/// out, a symlink to a directory.
fn stage() -> (tempfile::TempDir, Stack, (u64, u64)) {
    let d = tempfile::tempdir().unwrap();
    let l = d.path().join("l");
    write(&l, "app/bin/tool", "tool", 0o750);
    write(&l, "app/conf", "c", 0o644);
    symlink("../../../../../../etc/hostname", l.join("app/esc")).unwrap();
    symlink("/app/bin", l.join("binlink")).unwrap();
    let path = l.join("app/bin/tool");
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::lchown(&path, Some(1234), Some(5678)).unwrap();
    }
    let m = fs::metadata(&path).unwrap();
    (
        d,
        Stack::new(vec![l]),
        (u64::from(m.uid()), u64::from(m.gid())),
    )
}

#[test]
fn from_a_stage_keeps_ids_and_stays_inside() {
    let (_s, stack, ids) = stage();
    let from = CopyFrom::Rootfs(&stack);
    let (es, _) = layer(&input(&["/app/bin"], "/out/"), &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["out", "out/tool"]);
    let t = get(&es, "out/tool");
    assert_eq!(
        (t.uid, t.gid, t.mode, &t.data[..]),
        (ids.0, ids.1, 0o750, &b"tool"[..])
    );
    // a symlink source is followed inside the stage; wildcards match its directories
    let (es, _) = layer(&input(&["binlink"], "/o2/"), &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["o2", "o2/tool"]);
    let (es, _) = layer(&input(&["/app/*/t*"], "/o3/"), &from, &empty_root()).unwrap();
    assert_eq!(paths(&es), ["o3", "o3/tool"]);
    let mut i = input(&["/app/bin/tool"], "/o4");
    i.chown = Some("3:4".into());
    let (es, _) = layer(&i, &from, &empty_root()).unwrap();
    assert_eq!((get(&es, "o4").uid, get(&es, "o4").gid), (3, 4));
    // a missing path, and a symlink whose target would be the host's /etc/hostname
    for source in ["/nope", "/app/esc"] {
        match layer(&input(&[source], "/o/"), &from, &empty_root()).unwrap_err() {
            Error::BuildContext { subject, reason } => {
                assert_eq!(subject, format!("source {source:?}"));
                assert!(reason.contains("not found"), "{reason}");
            }
            e => panic!("{e}"),
        }
    }
}

#[test]
fn link_ignores_the_destination_root() {
    let fx = Fixture::new();
    let mut i = input(&["a.txt"], "/opt");
    i.link = true;
    let (es, _) = fx.layer(&i).unwrap();
    assert_eq!(
        paths(&es),
        ["opt"],
        "/opt is a file here: the layer does not look"
    );
    let mut i = input(&["a.txt"], "/bin/");
    i.link = true;
    let (es, _) = fx.layer(&i).unwrap();
    assert_eq!(paths(&es), ["bin", "bin/a.txt"]);
    assert_eq!(get(&es, "bin").mode, 0o755);
}

#[test]
fn conflicts_with_the_destination_are_errors() {
    let fx = Fixture::new();
    // a file of the copied directory onto a directory of the root
    write(fx.ctx.root(), "c/bin", "b", 0o644);
    let e = err_text(fx.layer(&input(&["c"], "/usr/")));
    assert!(
        e.contains("\"/usr/bin\": cannot replace a directory with a file"),
        "{e}"
    );
    // a directory's contents into a file of the root
    let e = err_text(fx.layer(&input(&["dir"], "/data/file/")));
    assert!(e.contains("non-directory"), "{e}");
}

#[test]
fn source_digest_follows_content_and_metadata_not_times() {
    let (d, ctx) = context();
    let from = CopyFrom::Context(&ctx);
    let i = input(&["dir", "a.txt"], "/d/");
    let key = source_digest(&i, &from, &no_cache_hashes()).unwrap();
    set_mtime(&d.path().join("dir/f"), 42);
    set_mtime(&d.path().join("a.txt"), 43);
    assert_eq!(
        source_digest(&i, &from, &no_cache_hashes()).unwrap(),
        key,
        "touch keeps the key"
    );
    fs::write(d.path().join("dir/f"), "F").unwrap();
    let edited = source_digest(&i, &from, &no_cache_hashes()).unwrap();
    assert_ne!(edited, key, "an edit changes it");
    fs::set_permissions(d.path().join("a.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    let chmodded = source_digest(&i, &from, &no_cache_hashes()).unwrap();
    assert_ne!(chmodded, edited, "a chmod changes it");
    // what --exclude leaves out does not count
    let mut ex = input(&["dir"], "/d/");
    ex.exclude = vec!["*.log".into()];
    let key = source_digest(&ex, &from, &no_cache_hashes()).unwrap();
    fs::write(d.path().join("dir/app.log"), "more").unwrap();
    assert_eq!(source_digest(&ex, &from, &no_cache_hashes()).unwrap(), key);
    fs::write(d.path().join("dir/new"), "n").unwrap();
    assert_ne!(source_digest(&ex, &from, &no_cache_hashes()).unwrap(), key);

    let (_s, stack, _) = stage();
    let from = CopyFrom::Rootfs(&stack);
    let i = input(&["/app"], "/d/");
    assert_eq!(
        source_digest(&i, &from, &no_cache_hashes()).unwrap(),
        source_digest(&i, &from, &no_cache_hashes()).unwrap()
    );
    assert_ne!(
        source_digest(&i, &from, &no_cache_hashes()).unwrap(),
        source_digest(&input(&["/app/bin"], "/d/"), &from, &no_cache_hashes()).unwrap()
    );
}

#[test]
fn hard_links_within_a_copy_stay_links() {
    let (d, ctx) = context();
    write(d.path(), "h/one", "same", 0o644);
    fs::hard_link(d.path().join("h/one"), d.path().join("h/two")).unwrap();
    let (es, copied) = copy_onto_empty(&ctx, &["h"], "/h/");
    assert_eq!(paths(&es), ["h", "h/one", "h/two"]);
    assert_eq!(get(&es, "h/two").kind, tar::EntryType::Link);
    assert_eq!(get(&es, "h/two").link.as_deref(), Some("h/one"));
    assert_eq!(copied.bytes, 4);
}

#[test]
fn from_a_stage_sees_the_merged_layers() {
    let d = tempfile::tempdir().unwrap();
    let (top, base) = (d.path().join("top"), d.path().join("base"));
    write(&base, "app/old", "old", 0o644);
    write(&base, "app/kept", "base", 0o644);
    write(&top, "app/kept", "top", 0o644);
    // overlayfs's whiteout: a 0/0 character device (needs root)
    let made = rustix::fs::mknodat(
        rustix::fs::CWD,
        top.join("app/old"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        0,
    )
    .is_ok();
    let stack = Stack::new(vec![top, base]);
    let from = CopyFrom::Rootfs(&stack);
    let (es, _) = layer(&input(&["/app"], "/o/"), &from, &empty_root()).unwrap();
    assert_eq!(get(&es, "o/kept").data, b"top", "the top layer wins");
    if made {
        assert_eq!(paths(&es), ["o", "o/kept"], "the whiteout hides /app/old");
        let e = err_text(layer(&input(&["/app/old"], "/o/"), &from, &empty_root()));
        assert!(e.contains("not found"), "{e}");
    }
}

/// A hash table in a fresh directory: every file is read.
fn no_cache_hashes() -> crate::build::hashes::FileHashes {
    let dir = tempfile::tempdir().unwrap();
    crate::build::hashes::FileHashes::open(dir.path())
}
