//! `load` and `import_tar` validate what they take (issue 10): a layer the unpacker would
//! refuse when a container starts is refused at load, naming the image, the layer and the
//! entry, and a non-tar is an error; either way the store is left as it was. Then the
//! escape regressions for hostile layers (writes through symlinks, `..`, absolute paths,
//! hard links to host files): loaded and run, nothing outside the store changes on the host.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cargohold::oci_spec::image::Config;
use cargohold::{Engine, Reference};

use crate::common::{self, assert_success, stdout};

/// One entry of a hand-made layer tar; names and link targets are written as given (the
/// tar crate's setters refuse `..`).
enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    Block(&'a str, u32, u32),
}

/// A layer tar of `entries`, with raw header names.
fn raw_layer(entries: &[E<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mtime(1_700_000_000);
        h.set_mode(0o644);
        h.set_size(0);
        let (name, data, link): (&str, &[u8], Option<&str>) = match e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                (n, d, None)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, b"", None)
            }
            E::Symlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                (n, b"", Some(t))
            }
            E::HardLink(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                (n, b"", Some(t))
            }
            E::Block(n, major, minor) => {
                h.set_entry_type(tar::EntryType::Block);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                h.set_mode(0o666);
                (n, b"", None)
            }
        };
        let raw = h.as_ustar_mut().unwrap();
        raw.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            raw.linkname[..t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// An OCI archive (a tarred OCI layout) of one image of `layers`, named `reference`.
fn oci_archive(layers: &[Vec<u8>], reference: &str) -> Vec<u8> {
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": common::sh_config(),
        "rootfs": {"type": "layers",
                   "diff_ids": layers.iter().map(|l| common::sha256(l)).collect::<Vec<_>>()}
    }))
    .unwrap();
    let desc = |media: &str, b: &[u8]| serde_json::json!({"mediaType": media, "digest": common::sha256(b), "size": b.len()});
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": layers.iter()
            .map(|l| desc("application/vnd.oci.image.layer.v1.tar", l))
            .collect::<Vec<_>>(),
    }))
    .unwrap();
    let mut entry = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    entry["annotations"] = serde_json::json!({"io.containerd.image.name": reference});
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "manifests": [entry]
    }))
    .unwrap();
    let blob = |b: &[u8]| format!("blobs/sha256/{}", &common::sha256(b)[7..]);
    let mut files: Vec<(String, &[u8])> =
        vec![("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#)];
    files.extend(layers.iter().map(|l| (blob(l), &l[..])));
    files.push((blob(&config), &config));
    files.push((blob(&manifest), &manifest));
    files.push(("index.json".into(), &index));
    let entries: Vec<(&str, Option<&[u8]>)> =
        files.iter().map(|(n, d)| (n.as_str(), Some(*d))).collect();
    common::layer(&entries)
}

/// What a refused load or import must leave as it was: the images with their references,
/// and every name under the layout (blobs, staging dirs) and under `layers/`.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    images: BTreeSet<String>,
    files: BTreeSet<PathBuf>,
}

fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<PathBuf>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        out.insert(p.strip_prefix(base).unwrap().to_owned());
        if e.file_type().unwrap().is_dir() {
            walk(&p, base, out);
        }
    }
}

fn snapshot(root: &Path, engine: &Engine) -> Snapshot {
    let images = engine
        .images()
        .list()
        .unwrap()
        .iter()
        .map(|i| format!("{} {:?}", i.id(), i.references()))
        .collect();
    let mut files = BTreeSet::new();
    walk(
        &engine.images().layout_dir().join("blobs"),
        root,
        &mut files,
    );
    for top in fs::read_dir(engine.images().layout_dir())
        .unwrap()
        .flatten()
    {
        files.insert(top.path().strip_prefix(root).unwrap().to_owned());
    }
    for top in fs::read_dir(root.join("layers")).unwrap().flatten() {
        files.insert(top.path().strip_prefix(root).unwrap().to_owned());
    }
    Snapshot { images, files }
}

/// An engine holding one good image (`good:1`), so a refused load has something to keep.
fn engine_with_an_image() -> (tempfile::TempDir, Engine) {
    let (root, engine) = common::temp_engine("cargohold-validate");
    let good = raw_layer(&[E::Dir("etc/"), E::File("etc/motd", b"hello\n")]);
    let archive = common::docker_archive(common::sh_config(), &[good], "good:1");
    engine.images().load(&archive[..]).unwrap();
    (root, engine)
}

/// Loads `archive` into an engine with one image, expects an error whose text has every
/// one of `needles`, and checks that the store did not change.
fn refused_load(archive: &[u8], needles: &[&str]) -> String {
    let (root, engine) = engine_with_an_image();
    let before = snapshot(root.path(), &engine);
    let e = engine.images().load(archive).unwrap_err().to_string();
    for n in needles {
        assert!(e.contains(n), "{n:?} not in {e:?}");
    }
    assert_eq!(snapshot(root.path(), &engine), before, "after {e}");
    e
}

fn refused_import(input: &[u8], needles: &[&str]) -> String {
    let (root, engine) = engine_with_an_image();
    let before = snapshot(root.path(), &engine);
    let r: Reference = "imported:1".parse().unwrap();
    let e = engine
        .images()
        .import_tar(input, &Config::default(), &r)
        .unwrap_err()
        .to_string();
    for n in needles {
        assert!(e.contains(n), "{n:?} not in {e:?}");
    }
    assert_eq!(snapshot(root.path(), &engine), before, "after {e}");
    e
}

fn good_layer() -> Vec<u8> {
    raw_layer(&[E::Dir("bin/"), E::File("bin/app", b"app\n")])
}

#[test]
fn load_refuses_a_layer_entry_climbing_out_with_dotdot() {
    let bad = raw_layer(&[E::Dir("etc/"), E::File("etc/../../escape", b"x")]);
    let archive = common::docker_archive(common::sh_config(), &[bad], "evil:dotdot");
    let e = refused_load(
        &archive,
        &[
            "etc/../../escape",
            "l0/layer.tar",
            "evil:dotdot",
            "leaves the layer root",
        ],
    );
    assert!(e.starts_with("unsafe entry"), "{e}");
}

#[test]
fn load_refuses_links_out_of_the_layer() {
    for (entry, reason) in [
        (
            E::Symlink("up", "../../../../etc"),
            "symlink points outside",
        ),
        (
            E::HardLink("hl", "../../etc/passwd"),
            "hard link points outside",
        ),
        (E::HardLink("hl", "hl"), "hard link to itself"),
        (E::Symlink("nothing", ""), "symlink without a target"),
    ] {
        let bad = raw_layer(&[E::Dir("etc/"), entry]);
        let archive = common::docker_archive(common::sh_config(), &[bad], "evil:link");
        refused_load(&archive, &[reason, "l0/layer.tar", "evil:link"]);
    }
}

#[test]
fn load_refuses_a_hard_link_to_a_host_file() {
    // absolute link targets resolve inside the layer, where there is no such file
    let bad = raw_layer(&[E::HardLink("passwd", "/etc/passwd")]);
    let archive = common::docker_archive(common::sh_config(), &[bad], "evil:hostlink");
    refused_load(&archive, &["passwd", "l0/layer.tar", "evil:hostlink"]);
}

#[test]
fn load_refuses_a_bad_upper_layer_and_keeps_nothing_of_the_good_one() {
    let bad = raw_layer(&[E::File("../x", b"x")]);
    let archive = common::docker_archive(common::sh_config(), &[good_layer(), bad], "two:1");
    refused_load(&archive, &["l1/layer.tar", "two:1", "../x"]);
}

#[test]
fn load_refuses_layers_that_are_not_tars() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[0x5a; 4096]).unwrap();
    let garbage_gz = gz.finish().unwrap();
    let mut cut = good_layer();
    cut.truncate(700);
    for layer in [vec![0x5a; 3000], garbage_gz, cut] {
        let archive = common::docker_archive(common::sh_config(), &[layer], "junk:1");
        refused_load(&archive, &["l0/layer.tar", "junk:1", "reading tar"]);
    }
}

#[test]
fn load_refuses_a_layer_whose_content_is_not_its_diff_id() {
    let mut archive = common::docker_archive(common::sh_config(), &[good_layer()], "lying:1");
    // same length, other content: the config's diff id no longer matches
    let at = archive
        .windows(4)
        .position(|w| w == b"app\n")
        .expect("layer content in the archive");
    archive[at] = b'A';
    refused_load(&archive, &["lying:1", "l0/layer.tar"]);
}

#[test]
fn oci_archive_load_refuses_hostile_layers_too() {
    let bad = raw_layer(&[E::Dir("a/"), E::Symlink("a/b", "../../..")]);
    let digest = common::sha256(&bad);
    let archive = oci_archive(&[good_layer(), bad], "docker.io/library/evil:oci");
    refused_load(
        &archive,
        &[
            "symlink points outside",
            &format!("blobs/sha256/{}", &digest[7..]),
            "evil:oci",
            "a/b",
        ],
    );
    // the same layout with good layers loads
    let (_root, engine) = common::temp_engine("cargohold-validate");
    let ok = oci_archive(&[good_layer()], "docker.io/library/fine:oci");
    let loaded = engine.images().load(&ok[..]).unwrap();
    assert_eq!(
        loaded[0].references()[0].to_string(),
        "docker.io/library/fine:oci"
    );
}

#[test]
fn a_good_archive_still_loads_and_unpacks_nothing_until_asked() {
    let (root, engine) = engine_with_an_image();
    let layers_before = fs::read_dir(root.path().join("layers")).unwrap().count();
    let archive = common::docker_archive(common::sh_config(), &[good_layer()], "fine:1");
    let img = engine.images().load(&archive[..]).unwrap().remove(0);
    assert_eq!(img.references()[0].to_string(), "docker.io/library/fine:1");
    assert_eq!(
        fs::read_dir(root.path().join("layers")).unwrap().count(),
        layers_before,
        "the check leaves no layer behind"
    );
    let dirs = engine
        .images()
        .rootfs_layers(&"fine:1".parse().unwrap())
        .unwrap();
    assert_eq!(fs::read(dirs[0].join("bin/app")).unwrap(), b"app\n");
}

#[test]
fn import_of_a_non_tar_is_an_error_and_writes_nothing() {
    let e = refused_import(b"", &["imported:1", "empty"]);
    assert!(e.contains("not a tar"), "{e}");
    refused_import(&[0x5a; 5000], &["imported:1", "reading tar"]);
    refused_import(&[0x5a; 100], &["imported:1", "reading tar"]);
    let mut cut = good_layer();
    cut.truncate(700);
    refused_import(&cut, &["imported:1", "reading tar"]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[0x5a; 4096]).unwrap();
    refused_import(&gz.finish().unwrap(), &["imported:1", "reading tar"]);
    // gzip magic, then no gzip stream
    let mut fake = vec![0x1f, 0x8b];
    fake.extend_from_slice(&[0x5a; 600]);
    refused_import(&fake, &["imported:1"]);
}

#[test]
fn import_refuses_what_the_unpacker_refuses() {
    let bad = raw_layer(&[
        E::Dir("etc/"),
        E::HardLink("etc/shadow", "../../etc/shadow"),
    ]);
    refused_import(
        &bad,
        &["etc/shadow", "imported:1", "hard link points outside"],
    );
}

#[test]
fn import_of_a_good_tar_and_of_an_empty_archive_still_work() {
    let (_root, engine) = common::temp_engine("cargohold-validate");
    let r: Reference = "imported:ok".parse().unwrap();
    let img = engine
        .images()
        .import_tar(&good_layer()[..], &Config::default(), &r)
        .unwrap();
    assert_eq!(img.diff_ids()[0].to_string(), common::sha256(&good_layer()));
    // an archive of no entries (just the end blocks) is a tar: an empty rootfs
    let empty = raw_layer(&[]);
    let r: Reference = "imported:empty".parse().unwrap();
    engine
        .images()
        .import_tar(&empty[..], &Config::default(), &r)
        .unwrap();
}

// ---- escape regressions: hostile layers, loaded and run ----

/// A directory standing for the host: a file a layer must not reach, and its listing.
struct Host {
    dir: tempfile::TempDir,
}

impl Host {
    fn new() -> Host {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-host")
            .tempdir()
            .unwrap();
        fs::write(dir.path().join("secret"), b"original\n").unwrap();
        Host { dir }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    fn assert_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secret"], "new files in the host dir");
        let secret = self.dir.path().join("secret");
        assert_eq!(fs::read(&secret).unwrap(), b"original\n");
        assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1, "hard-linked");
    }
}

/// A busybox base layer and the hostile `top` layer, as a docker-archive tagged `tag`.
fn busybox_with(top: Vec<u8>, tag: &str) -> Vec<u8> {
    let base = common::dir_layer(common::minimal_busybox_dir().path());
    common::docker_archive(common::sh_config(), &[base, top], tag)
}

#[test]
#[ignore = "requires root"]
fn contained_hostile_layers_load_run_and_leave_the_host_alone() {
    let host = Host::new();
    let h = host.path().trim_start_matches('/');
    let abs_file = format!("/{h}/abs");
    let through = "escape/secret".to_owned();
    let through_new = "escape/new".to_owned();
    let top = raw_layer(&[
        // an absolute symlink to the host dir, then writes through it
        E::Symlink("escape", host.path()),
        E::File(&through, b"pwned\n"),
        E::File(&through_new, b"new\n"),
        // an absolute path naming the host dir
        E::File(&abs_file, b"abs\n"),
        // a dotdot that stays inside
        E::File("tmp/../etc/inside", b"inside\n"),
    ]);
    let (root, engine) = common::temp_engine("cargohold-hostile");
    let img = engine
        .images()
        .load(&busybox_with(top, "hostile:contained")[..])
        .unwrap()
        .remove(0);
    host.assert_untouched();
    // in the container, all of it landed inside its rootfs; and it writes through the
    // link at run time too
    let script = format!(
        "cat /escape/secret /{h}/secret /{h}/abs /etc/inside; echo more > /escape/new2; \
         ln /escape/secret /escape/hl 2>/dev/null; true"
    );
    let out = engine
        .container(&img)
        .args(["sh", "-c", &script])
        .output()
        .unwrap();
    assert_success(&out);
    assert_eq!(stdout(&out), "pwned\npwned\nabs\ninside\n");
    host.assert_untouched();
    // the store holds the layer's files, not links to the host's
    let dirs = engine
        .images()
        .rootfs_layers(&"hostile:contained".parse().unwrap())
        .unwrap();
    let inside = dirs[1].join(h).join("secret");
    assert_eq!(fs::read(inside).unwrap(), b"pwned\n");
    drop(root);
    host.assert_untouched();
}

#[test]
#[ignore = "requires root"]
fn escaping_hostile_layers_are_refused_at_load_and_cannot_run() {
    let host = Host::new();
    let h = host.path().trim_start_matches('/');
    let up = format!("../../../../../../../../{h}");
    let up_secret = format!("{up}/secret");
    let up_new = format!("{up}/new");
    let host_secret = format!("{}/secret", host.path());
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "dotdot",
            raw_layer(&[E::File(&up_new, b"x\n")]),
            "leaves the layer root",
        ),
        (
            "dotdot-over",
            raw_layer(&[E::File(&up_secret, b"pwned\n")]),
            "leaves the layer root",
        ),
        (
            "relative-symlink",
            raw_layer(&[E::Symlink("up", &up), E::File("up/new", b"x\n")]),
            "symlink points outside",
        ),
        (
            "hardlink-up",
            raw_layer(&[E::HardLink("s", &up_secret)]),
            "hard link points outside",
        ),
        (
            "hardlink-host",
            raw_layer(&[E::HardLink("s", &host_secret)]),
            "unpacking s",
        ),
    ];
    let (_root, engine) = common::temp_engine("cargohold-hostile");
    for (name, top, why) in cases {
        let tag = format!("hostile:{name}");
        let e = engine
            .images()
            .load(&busybox_with(top, &tag)[..])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(why) && e.contains(&tag) && e.contains("l1/layer.tar"),
            "{e}"
        );
        host.assert_untouched();
        // `run` starts with the lookup, which finds nothing
        let run = engine.image(&tag).unwrap_err();
        assert!(run.to_string().contains(&tag), "{run}");
        host.assert_untouched();
    }
    assert!(engine.images().list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn a_block_device_of_a_layer_stays_in_the_private_store() {
    // the unpacker keeps device nodes as root (a container gets its own /dev); the node
    // lands in the store, whose layers/ no other user reaches
    let host = Host::new();
    let top = raw_layer(&[E::Dir("dev/"), E::Block("dev/disk", 7, 0)]);
    let (root, engine) = common::temp_engine("cargohold-hostile");
    engine
        .images()
        .load(&busybox_with(top, "hostile:dev")[..])
        .unwrap();
    let dirs = engine
        .images()
        .rootfs_layers(&"hostile:dev".parse().unwrap())
        .unwrap();
    let mode = fs::metadata(root.path().join("layers")).unwrap().mode();
    assert_eq!(mode & 0o077, 0, "layers/ is private: {mode:o}");
    assert!(dirs[1].join("dev/disk").exists());
    host.assert_untouched();
}
