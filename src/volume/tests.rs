use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

use super::mount::parse_size;
use super::*;

fn store() -> (tempfile::TempDir, VolumeStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = VolumeStore::open(dir.path()).unwrap();
    (dir, s)
}

const NONE: [(&str, &str); 0] = [];

/// A directory as a volume's source.
fn dir(p: impl AsRef<Path>) -> Source {
    Source::Dir(p.as_ref().to_owned())
}

#[test]
fn names_follow_dockers_rules() {
    for ok in ["ab", "data", "my_vol.1-x", "0a", "A9"] {
        check_name(ok).unwrap();
    }
    for bad in [
        "", "a", "_ab", ".ab", "-ab", "a/b", "a b", "a:b", "..", "é1",
    ] {
        assert!(
            matches!(check_name(bad), Err(Error::InvalidVolumeName { .. })),
            "{bad:?} accepted"
        );
    }
    let anon = Volume::anonymous_name().unwrap();
    assert_eq!(anon.len(), 64);
    assert!(anon.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(anon, Volume::anonymous_name().unwrap());
}

#[test]
fn create_get_inspect_and_meta_round_trip() {
    let (_d, s) = store();
    let v = s.create("data", [("team", "a"), ("tier", "db")]).unwrap();
    assert_eq!(v.name(), "data");
    assert_eq!(v.mountpoint(), s.dir().join("data/_data"));
    assert!(v.mountpoint().is_dir());
    humantime::parse_rfc3339(v.created_at()).unwrap();
    // Creating again returns the existing one, labels untouched (as Docker).
    let again = s.create("data", [("other", "x")]).unwrap();
    assert_eq!(again, v);
    assert_eq!(s.get("data").unwrap(), v);
    let i = s.inspect("data").unwrap();
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["Name"], "data");
    assert_eq!(json["Driver"], "local");
    assert_eq!(json["Scope"], "local");
    assert_eq!(json["Labels"]["tier"], "db");
    assert_eq!(json["Mountpoint"], v.mountpoint().to_str().unwrap());
    assert_eq!(json["CreatedAt"], v.created_at());
    assert!(json["Options"].is_object());
    let back: VolumeInspect = serde_json::from_value(json).unwrap();
    assert_eq!(back, i);
    // A second store on the same root sees it.
    let s2 = VolumeStore::open(_d.path()).unwrap();
    assert_eq!(s2.get("data").unwrap(), v);
    assert!(matches!(s.get("nope"), Err(Error::VolumeNotFound { .. })));
    assert!(matches!(
        s.create("-bad", NONE),
        Err(Error::InvalidVolumeName { .. })
    ));
}

#[test]
fn list_filters_by_label() {
    let (_d, s) = store();
    s.create("aa", [("env", "prod")]).unwrap();
    s.create("bb", [("env", "dev"), ("x", "")]).unwrap();
    s.create("cc", NONE).unwrap();
    let names = |f: &[&str]| -> Vec<String> {
        s.list(f)
            .unwrap()
            .iter()
            .map(|v| v.name().to_owned())
            .collect()
    };
    assert_eq!(names(&[]), ["aa", "bb", "cc"]);
    assert_eq!(names(&["env"]), ["aa", "bb"]);
    assert_eq!(names(&["env=dev"]), ["bb"]);
    assert_eq!(names(&["env=dev", "x"]), ["bb"]);
    assert!(names(&["env=qa"]).is_empty());
    let anon = s.create_anonymous().unwrap();
    assert!(anon.is_anonymous());
    assert_eq!(names(&[ANONYMOUS_LABEL]), [anon.name()]);
}

#[test]
fn in_use_volumes_are_refused_until_released() {
    let (_d, s) = store();
    s.create("data", NONE).unwrap();
    s.acquire("data", "c1").unwrap();
    s.acquire("data", "c2").unwrap();
    s.acquire("data", "c2").unwrap();
    assert_eq!(s.users("data").unwrap(), ["c1", "c2"]);
    for force in [false, true] {
        match s.remove("data", force) {
            Err(Error::VolumeInUse { name, users }) => {
                assert_eq!(name, "data");
                assert_eq!(users, ["c1", "c2"]);
            }
            r => panic!("{r:?}"),
        }
    }
    let e = s.remove("data", false).unwrap_err().to_string();
    assert_eq!(e, "volume \"data\" is in use by container(s) c1, c2");
    s.release("data", "c1").unwrap();
    s.release("data", "c1").unwrap();
    assert_eq!(s.release_all("c2").unwrap(), ["data"]);
    assert!(s.users("data").unwrap().is_empty());
    s.remove("data", false).unwrap();
    assert!(!s.dir().join("data").exists());
    assert!(matches!(
        s.remove("data", false),
        Err(Error::VolumeNotFound { .. })
    ));
    s.remove("data", true).unwrap();
    assert!(matches!(
        s.acquire("data", "c1"),
        Err(Error::VolumeNotFound { .. })
    ));
    s.release("data", "c1").unwrap();
    s.create("data", NONE).unwrap();
    for bad in ["", "../x", "a/b", ".hidden"] {
        assert!(
            matches!(s.acquire("data", bad), Err(Error::InvalidId { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn prune_removes_unused_and_counts_bytes() {
    let (_d, s) = store();
    let a = s.create("used", NONE).unwrap();
    let b = s.create("idle", NONE).unwrap();
    let c = s.create("idle2", NONE).unwrap();
    fs::write(a.mountpoint().join("f"), [0u8; 100]).unwrap();
    fs::write(b.mountpoint().join("f"), [0u8; 1000]).unwrap();
    fs::create_dir(b.mountpoint().join("d")).unwrap();
    fs::write(b.mountpoint().join("d/g"), [0u8; 24]).unwrap();
    fs::hard_link(b.mountpoint().join("d/g"), b.mountpoint().join("h")).unwrap();
    symlink("/etc/passwd", c.mountpoint().join("l")).unwrap();
    s.acquire("used", "ctr").unwrap();
    let p = s.prune().unwrap();
    assert_eq!(p.volumes, ["idle", "idle2"]);
    assert_eq!(p.reclaimed, 1000 + 24 + "/etc/passwd".len() as u64);
    assert_eq!(s.list(&[]).unwrap(), vec![a]);
    assert!(
        fs::metadata("/etc/passwd").is_ok(),
        "links are not followed"
    );
    assert_eq!(s.prune().unwrap(), Pruned::default());
}

#[test]
fn open_removes_leftovers_of_dead_writers() {
    let (d, s) = store();
    s.create("keep", NONE).unwrap();
    // pid 0 never runs a writer
    let dead = s.dir().join(".tmp-0-1-ff");
    fs::create_dir_all(dead.join("_data")).unwrap();
    let live = tmp_path(s.dir());
    fs::create_dir(&live).unwrap();
    VolumeStore::open(d.path()).unwrap();
    assert!(!dead.exists());
    assert!(live.exists(), "a live writer's temp dir is spared");
    assert!(s.dir().join("keep/meta.json").exists());
}

/// A crafted image directory: files, a dir, modes, mtimes, a hard link, a fifo, and
/// symlinks (one absolute and one relative, both pointing outside).
fn image_dir(outside: &Path) -> tempfile::TempDir {
    let src = tempfile::tempdir().unwrap();
    let p = src.path();
    fs::write(p.join("hello.txt"), "hi\n").unwrap();
    fs::set_permissions(p.join("hello.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    fs::create_dir(p.join("sub")).unwrap();
    fs::write(p.join("sub/run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(p.join("sub/run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::hard_link(p.join("sub/run.sh"), p.join("run-link.sh")).unwrap();
    symlink(outside, p.join("escape")).unwrap();
    symlink("../../../../../../etc", p.join("sub/up")).unwrap();
    crate::sys::file::mkfifo(&p.join("fifo"), 0o600).unwrap();
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    let f = fs::File::options()
        .write(true)
        .open(p.join("hello.txt"))
        .unwrap();
    f.set_modified(old).unwrap();
    fs::set_permissions(p.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(0o711)).unwrap();
    src
}

#[test]
fn populate_copies_once_and_never_follows_links() {
    let (_d, s) = store();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "host secret").unwrap();
    let src = image_dir(outside.path());
    let v = s.create("data", NONE).unwrap();
    let data = v.mountpoint();

    assert!(s.populate("data", &dir(src.path())).unwrap());
    assert_eq!(fs::read_to_string(data.join("hello.txt")).unwrap(), "hi\n");
    let m = fs::symlink_metadata(data.join("hello.txt")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!(m.mtime(), 1_000_000_000);
    assert_eq!(
        fs::symlink_metadata(data.join("sub")).unwrap().mode() & 0o7777,
        0o750
    );
    assert_eq!(
        fs::symlink_metadata(data.join("sub/run.sh"))
            .unwrap()
            .mode()
            & 0o7777,
        0o755
    );
    // hard links stay links
    assert_eq!(
        fs::metadata(data.join("sub/run.sh")).unwrap().ino(),
        fs::metadata(data.join("run-link.sh")).unwrap().ino()
    );
    // symlinks are copied as symlinks, not followed
    let esc = fs::symlink_metadata(data.join("escape")).unwrap();
    assert!(esc.file_type().is_symlink());
    assert_eq!(fs::read_link(data.join("escape")).unwrap(), outside.path());
    assert!(fs::symlink_metadata(data.join("sub/up"))
        .unwrap()
        .file_type()
        .is_symlink());
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(data.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    // _data takes the mode of the image's directory
    assert_eq!(fs::metadata(data).unwrap().mode() & 0o7777, 0o711);
    // nothing was written outside
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    assert!(s.get("data").unwrap().is_populated());

    // Only once: not again after the content changed or even vanished.
    fs::remove_file(data.join("hello.txt")).unwrap();
    assert!(!s.populate("data", &dir(src.path())).unwrap());
    assert!(!data.join("hello.txt").exists());

    // A volume that already has content is not filled.
    let w = s.create("full", NONE).unwrap();
    fs::write(w.mountpoint().join("mine"), "x").unwrap();
    assert!(!s.populate("full", &dir(src.path())).unwrap());
    assert!(!w.mountpoint().join("hello.txt").exists());
    // An empty or missing source, or a symlink as the source, copies nothing.
    s.create("empty", NONE).unwrap();
    let empty = tempfile::tempdir().unwrap();
    assert!(!s.populate("empty", &dir(empty.path())).unwrap());
    assert!(!s
        .populate("empty", &dir(empty.path().join("nope")))
        .unwrap());
    symlink(src.path(), empty.path().join("link")).unwrap();
    assert!(!s
        .populate("empty", &dir(empty.path().join("link")))
        .unwrap());
    assert!(!s.get("empty").unwrap().is_populated());
    assert!(matches!(
        s.populate("nope", &dir(src.path())),
        Err(Error::VolumeNotFound { .. })
    ));
}

/// Overlay layers of an image at a mount point, top first, as the store unpacks them: a
/// whiteout is a 0/0 character device, an opaque directory has the opaque xattr (skipped
/// where the file system takes no such xattr).
#[test]
fn populate_merges_layers_as_overlayfs() {
    use std::os::unix::fs::FileTypeExt;
    let (_d, s) = store();
    let l = tempfile::tempdir().unwrap();
    let (top, mid, base) = (
        l.path().join("top"),
        l.path().join("mid"),
        l.path().join("base"),
    );
    for (dir, files) in [
        (&base, &["a", "gone", "sub/s", "opq/old", "f2d", "lnk"][..]),
        (&mid, &["a", "b", "sub/m", "opq/new", "f2d/inner"][..]),
        (&top, &["c", "sub/t"][..]),
    ] {
        for f in files {
            let p = dir.join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            if *f != "lnk" {
                fs::write(
                    &p,
                    format!("{f} from {}\n", dir.file_name().unwrap().to_string_lossy()),
                )
                .unwrap();
            }
        }
    }
    // base: `f2d` a file, made a directory above; a link, copied as one
    fs::remove_file(base.join("lnk")).ok();
    symlink("/etc/passwd", base.join("lnk")).unwrap();
    // top deletes `gone` (and `b`, of the middle layer)
    for w in ["gone", "b"] {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            top.join(w),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .unwrap();
    }
    // mid makes `opq` opaque: base's `old` does not show
    let opaque = rustix::fs::setxattr(
        mid.join("opq"),
        crate::image::unpack::opaque_xattr(),
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok();
    fs::set_permissions(&top, fs::Permissions::from_mode(0o751)).unwrap();
    // the copy itself (`populate` gives it to the store's helper for a user with a
    // subordinate range, which a unit test has not: no `cargohold::init`)
    let v = s.create("layered", NONE).unwrap();
    let data = v.mountpoint();
    let src = Source::Layers(vec![top.clone(), mid.clone(), base.clone()]);
    assert!(populate::copy(&src, data).unwrap());
    let read = |p: &str| fs::read_to_string(data.join(p)).unwrap();
    assert_eq!(read("a"), "a from mid\n");
    assert_eq!(read("c"), "c from top\n");
    assert_eq!(read("sub/s"), "sub/s from base\n");
    assert_eq!(read("sub/m"), "sub/m from mid\n");
    assert_eq!(read("sub/t"), "sub/t from top\n");
    assert_eq!(read("f2d/inner"), "f2d/inner from mid\n");
    assert_eq!(read("opq/new"), "opq/new from mid\n");
    assert_eq!(data.join("opq/old").exists(), !opaque);
    for gone in ["gone", "b"] {
        assert!(
            fs::symlink_metadata(data.join(gone)).is_err(),
            "{gone} copied"
        );
    }
    assert!(!fs::symlink_metadata(data.join("a"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        fs::read_link(data.join("lnk")).unwrap(),
        Path::new("/etc/passwd")
    );
    // _data takes the mode of the top layer's directory
    assert_eq!(fs::metadata(data).unwrap().mode() & 0o7777, 0o751);
    // nothing from missing layers, or from a file where the directory should be
    let blank = s.create("blank", NONE).unwrap();
    let only = Source::Layers(vec![top.join("nope"), base.join("opq/old")]);
    assert!(!populate::copy(&only, blank.mountpoint()).unwrap());
    assert_eq!(fs::read_dir(blank.mountpoint()).unwrap().count(), 0);
}

fn opts(m: &oci_spec::runtime::Mount) -> Vec<&str> {
    m.options()
        .as_ref()
        .unwrap()
        .iter()
        .map(String::as_str)
        .collect()
}

#[test]
fn mounts_convert_as_docker_hands_them_to_runc() {
    let (_d, s) = store();
    let host = tempfile::tempdir().unwrap();
    let b = Mount::bind(host.path(), "/www")
        .read_only()
        .propagation(Propagation::Rshared)
        .to_oci(&s)
        .unwrap();
    assert_eq!(b.typ().as_deref(), Some("bind"));
    assert_eq!(b.source().as_deref(), Some(host.path()));
    assert_eq!(b.destination(), Path::new("/www"));
    assert_eq!(opts(&b), ["rbind", "ro", "rshared"]);
    let b = Mount::bind(host.path(), "/www").to_oci(&s).unwrap();
    assert_eq!(opts(&b), ["rbind", "rw", "rprivate"]);

    let v = Mount::volume("data", "/var/lib/data").to_oci(&s).unwrap();
    assert_eq!(v.typ().as_deref(), Some("bind"));
    assert_eq!(v.source().as_deref(), Some(&*s.dir().join("data/_data")));
    assert_eq!(opts(&v), ["rbind", "rw", "rprivate"]);
    assert!(s.get("data").is_ok(), "created on first use");

    let t = Mount::tmpfs("/run")
        .size(64 << 20)
        .mode(0o1777)
        .to_oci(&s)
        .unwrap();
    assert_eq!(t.typ().as_deref(), Some("tmpfs"));
    assert_eq!(t.source().as_deref(), Some(Path::new("tmpfs")));
    assert_eq!(
        opts(&t),
        [
            "rw",
            "noexec",
            "nosuid",
            "nodev",
            "size=67108864",
            "mode=1777"
        ]
    );
    let t = Mount::tmpfs("/run").exec().read_only().to_oci(&s).unwrap();
    assert_eq!(opts(&t), ["ro", "nosuid", "nodev"]);

    // bind sources: missing is an error naming it, unless created as -v does
    let missing = host.path().join("not/here");
    match Mount::bind(&missing, "/x").to_oci(&s) {
        Err(e @ Error::BindSourceNotFound { .. }) => {
            assert!(e.to_string().contains("not/here"), "{e}")
        }
        r => panic!("{r:?}"),
    }
    Mount::bind(&missing, "/x")
        .create_source()
        .to_oci(&s)
        .unwrap();
    assert!(missing.is_dir());

    // what the setters could not refuse, to_oci does
    for (m, want) in [
        (Mount::tmpfs("rel"), "not an absolute path"),
        (Mount::tmpfs("/"), "can't be '/'"),
        (Mount::tmpfs("/a/../b"), "'..'"),
        (Mount::bind("rel", "/x"), "not an absolute path"),
        (Mount::volume("data", "/x").size(1), "tmpfs mounts only"),
        (
            Mount::volume("data", "/x").propagation(Propagation::Shared),
            "bind mounts only",
        ),
    ] {
        let e = m.to_oci(&s).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
    assert!(matches!(
        Mount::volume("x", "/x").to_oci(&s),
        Err(Error::InvalidVolumeName { .. })
    ));
}

#[test]
fn attach_creates_acquires_and_populates() {
    let (_d, s) = store();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("seed"), "seed").unwrap();
    let (m, name) = s
        .attach(&Mount::volume("web", "/app"), "c1", Some(&dir(src.path())))
        .unwrap();
    assert_eq!(name.as_deref(), Some("web"));
    assert_eq!(s.users("web").unwrap(), ["c1"]);
    let data = m.source().clone().unwrap();
    assert_eq!(fs::read_to_string(data.join("seed")).unwrap(), "seed");
    // nocopy: filled never
    let (_, n) = s
        .attach(
            &Mount::volume("bare", "/app").no_copy(),
            "c1",
            Some(&dir(src.path())),
        )
        .unwrap();
    assert!(!s
        .get(n.as_deref().unwrap())
        .unwrap()
        .mountpoint()
        .join("seed")
        .exists());
    // anonymous: a fresh one each time
    let (_, a) = s.attach(&Mount::anonymous("/x"), "c2", None).unwrap();
    let a = a.unwrap();
    assert!(s.get(&a).unwrap().is_anonymous());
    assert_eq!(s.users(&a).unwrap(), ["c2"]);
    assert_eq!(s.release_all("c1").unwrap(), ["bare", "web"]);
    // bind and tmpfs mounts take no volume
    let (t, none) = s.attach(&Mount::tmpfs("/t"), "c3", None).unwrap();
    assert!(none.is_none());
    assert_eq!(t.typ().as_deref(), Some("tmpfs"));
}

#[test]
fn volume_flag_parses_like_docker() {
    let m: Mount = "data:/var/lib/data:ro".parse().unwrap();
    assert_eq!(m, Mount::volume("data", "/var/lib/data").read_only());
    let m = Mount::from_volume_flag("/host/dir:/in:ro,rshared").unwrap();
    assert_eq!(
        m,
        Mount::bind("/host/dir", "/in")
            .create_source()
            .read_only()
            .propagation(Propagation::Rshared)
    );
    assert_eq!(
        Mount::from_volume_flag("/only").unwrap(),
        Mount::anonymous("/only")
    );
    assert_eq!(
        Mount::from_volume_flag("data:/d:nocopy,z").unwrap(),
        Mount::volume("data", "/d").no_copy()
    );
    assert_eq!(
        Mount::from_volume_flag("/h:/d:rw").unwrap(),
        Mount::bind("/h", "/d").create_source()
    );
    for (spec, want) in [
        ("a:b:c:d", "too many colons"),
        ("data:rel", "not an absolute path"),
        ("data:/", "can't be '/'"),
        ("./rel:/d", "host directories must be absolute"),
        ("data:/d:rshared", "bind mounts only"),
        ("/h:/d:ro,rw", "more than once"),
        ("/h:/d:bogus", "invalid mode \"bogus\""),
        ("/h:/d:nocopy", "invalid mode"),
        (":/d", "source is empty"),
        ("data:", "destination is empty"),
    ] {
        let e = Mount::from_volume_flag(spec).unwrap_err().to_string();
        assert!(e.contains(want), "{spec}: {e}");
        assert!(e.contains(&format!("{spec:?}")), "names the spec: {e}");
    }
    assert!(matches!(
        Mount::from_volume_flag("_bad:/d"),
        Err(Error::InvalidVolumeName { .. })
    ));
}

#[test]
fn tmpfs_flag_parses_like_docker() {
    let m = Mount::from_tmpfs_flag("/run:size=64m,mode=1777").unwrap();
    assert_eq!(m, Mount::tmpfs("/run").size(64 << 20).mode(0o1777));
    assert_eq!(Mount::from_tmpfs_flag("/t").unwrap(), Mount::tmpfs("/t"));
    assert_eq!(
        Mount::from_tmpfs_flag("/t:ro,exec,nosuid").unwrap(),
        Mount::tmpfs("/t").read_only().exec()
    );
    let (_d, s) = store();
    let o = Mount::from_tmpfs_flag("/t:uid=1000,size=1k")
        .unwrap()
        .to_oci(&s)
        .unwrap();
    assert_eq!(
        opts(&o),
        ["rw", "noexec", "nosuid", "nodev", "size=1024", "uid=1000"]
    );
    for (spec, want) in [
        ("/t:size=lots", "invalid size"),
        ("/t:mode=999", "invalid mode"),
        ("/t:mode=17777", "invalid mode"),
        ("/t:suid", "unknown tmpfs option \"suid\""),
        ("rel", "not an absolute path"),
    ] {
        let e = Mount::from_tmpfs_flag(spec).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains(spec), "{spec}: {e}");
    }
}

#[test]
fn mount_flag_parses_like_docker() {
    let m: Mount = "type=bind,source=/h,target=/d,readonly,bind-propagation=rslave"
        .parse()
        .unwrap();
    assert_eq!(
        m,
        Mount::bind("/h", "/d")
            .read_only()
            .propagation(Propagation::Rslave)
    );
    let m: Mount = "source=data,target=/d,volume-nocopy".parse().unwrap();
    assert_eq!(m, Mount::volume("data", "/d").no_copy());
    let m: Mount = "type=volume,dst=/d,ro=false".parse().unwrap();
    assert_eq!(m, Mount::anonymous("/d"));
    let m =
        Mount::from_mount_flag("type=tmpfs,destination=/t,tmpfs-size=1g,tmpfs-mode=700").unwrap();
    assert_eq!(m, Mount::tmpfs("/t").size(1 << 30).mode(0o700));
    let m = Mount::from_mount_flag("type=volume,src=lab,dst=/d,volume-label=a=b").unwrap();
    let (_d, s) = store();
    m.to_oci(&s).unwrap();
    assert_eq!(s.get("lab").unwrap().labels()["a"], "b");
    // --mount never creates a bind source
    let e = Mount::from_mount_flag("type=bind,src=/definitely/not/here,dst=/d")
        .unwrap()
        .to_oci(&s)
        .unwrap_err();
    assert!(matches!(e, Error::BindSourceNotFound { .. }), "{e}");
    for (spec, want) in [
        ("type=bind,target=/d", "source is required"),
        ("type=bind,src=/h", "target is required"),
        ("type=nfs,target=/d", "unknown type"),
        ("type=tmpfs,src=x,target=/d", "takes no source"),
        (
            "type=tmpfs,target=/d,bind-propagation=shared",
            "bind mounts only",
        ),
        (
            "type=bind,src=/h,target=/d,tmpfs-size=1m",
            "tmpfs mounts only",
        ),
        (
            "type=bind,src=/h,target=/d,volume-nocopy",
            "volume mounts only",
        ),
        ("type=bind,src=/h,target=/d,readonly=maybe", "invalid value"),
        (
            "type=bind,src=/h,target=/d,colour=red",
            "unexpected key \"colour\"",
        ),
        (
            "type=volume,src=x,target=/d,volume-driver=nfs",
            "local volume driver",
        ),
        ("type=bind,src=/h,target=rel", "not an absolute path"),
    ] {
        let e = Mount::from_mount_flag(spec).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains(spec), "{spec}: {e}");
    }
}

#[test]
fn sizes_parse_as_docker_ram_in_bytes() {
    assert_eq!(parse_size("4096"), Ok(4096));
    assert_eq!(parse_size("64m"), Ok(64 << 20));
    assert_eq!(parse_size("64M"), Ok(64 << 20));
    assert_eq!(parse_size("65536k"), Ok(64 << 20));
    assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
    assert_eq!(parse_size("2gb"), Ok(2 << 30));
    for bad in ["", "m", "1x", "-1", "1..2m", "10%"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}
