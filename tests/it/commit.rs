//! `docker diff`, `docker commit` and `docker export` of containers: the committed image
//! runs with the container's changes (files added, deleted, a directory replaced), skopeo
//! and umoci read it, and the export is the merged root file system.

use std::fs;
use std::path::Path;
use std::process::Command;

use cargohold::{ChangeKind, CommitOptions, Status};
use cargohold::{Error, Image, Stdio};

use crate::common::{self, TestEngine as Env};

/// An engine in its own temp root with a busybox image holding `/etc/from-image` and a
/// directory `/tree` (`/tree/old`, `/tree/sub/deep`) to replace.
fn env() -> Env {
    common::busybox()
        .env(&["FROM_IMAGE=yes"])
        .file("etc/from-image", "layer\n")
        .file("tree/old", "old\n")
        .file("tree/sub/deep", "deep\n")
        .engine("cargohold-commit")
}

/// What container A does: a file added, one deleted, `/tree` removed and made again with
/// other content (an opaque directory), a new directory.
const CHANGES: &str = "echo new > /etc/added; rm /etc/from-image; rm -rf /tree; \
                       mkdir -p /tree/sub; echo fresh > /tree/only; mkdir /newdir";

/// Runs `script` to completion in a container named `name` (kept after it exits).
fn run_named(e: &Env, image: &Image, name: &str, script: &str) -> cargohold::Container {
    let out = e
        .engine
        .container(image)
        .name(name)
        .args(["sh", "-c", script])
        .output()
        .unwrap();
    common::assert_success(&out);
    e.engine.containers().get(name).unwrap()
}

fn output(e: &Env, image: &Image, script: &str) -> String {
    let out = e
        .engine
        .container(image)
        .args(["sh", "-c", script])
        .auto_remove(true)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn diff_lines(c: &cargohold::Container) -> Vec<String> {
    c.diff().unwrap().iter().map(ToString::to_string).collect()
}

#[test]
#[ignore = "requires root"]
fn diff_lists_added_changed_deleted_as_docker() {
    let e = env();
    let c = run_named(&e, &e.image, &common::unique("diff"), CHANGES);
    assert_eq!(c.status(), Status::Exited);
    assert_eq!(
        diff_lines(&c),
        [
            "C /etc",
            "A /etc/added",
            "D /etc/from-image",
            "A /newdir",
            "C /tree",
            "D /tree/old",
            "A /tree/only",
            "C /tree/sub",
            "D /tree/sub/deep",
        ],
        "the runtime's mount points (/proc, /sys, /dev, /etc/hosts…) are not changes"
    );
    let typed = c.diff().unwrap();
    let added = typed
        .iter()
        .find(|ch| ch.path == Path::new("/etc/added"))
        .unwrap();
    assert_eq!((added.kind, added.kind.letter()), (ChangeKind::Added, 'A'));
    // a container that changed nothing has no changes
    let quiet = run_named(&e, &e.image, &common::unique("quiet"), "cat /etc/hostname");
    assert_eq!(quiet.diff().unwrap(), []);
    let id = c.id().to_owned();
    c.clone().remove(false).unwrap();
    assert!(matches!(c.diff(), Err(Error::ContainerNotFound { .. })));
    quiet.remove(false).unwrap();
    assert!(common::mounts_with(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn committed_image_runs_with_the_change() {
    let e = env();
    let name = common::unique("a");
    let script = format!(
        "{CHANGES}; busybox ln /etc/added /etc/added.link; busybox chmod 0640 /etc/added; \
         busybox chown 12:34 /etc/added; echo m > /etc/mtime; \
         touch -d '2020-01-02 03:04:05' /etc/mtime"
    );
    let a = run_named(&e, &e.image, &name, &script);
    let mut opts = CommitOptions {
        reference: Some("localhost/committed:v1".to_owned()),
        author: Some("Jane <jane@example.com>".to_owned()),
        message: Some("add a file".to_owned()),
        ..CommitOptions::default()
    };
    opts.changes = vec![
        "ENV COMMITTED=yes".to_owned(),
        r#"CMD ["cat", "/etc/added"]"#.to_owned(),
        "LABEL stage=two".to_owned(),
    ];
    let img = a.commit(&opts).unwrap();

    // one layer more than the image, the history says who and why
    assert_eq!(img.references().len(), 1);
    assert_eq!(
        img.manifest().layers().len(),
        e.image.manifest().layers().len() + 1
    );
    assert_eq!(img.diff_ids()[..1], e.image.diff_ids()[..]);
    let last = img.history().last().unwrap();
    assert_eq!(last.comment().as_deref(), Some("add a file"));
    assert_eq!(last.author().as_deref(), Some("Jane <jane@example.com>"));
    assert_eq!(
        last.created_by().as_deref(),
        Some(format!("sh -c {script}").as_str())
    );
    assert_eq!(img.history().len(), e.image.history().len() + 1);
    assert_eq!(
        img.config().author().as_deref(),
        Some("Jane <jane@example.com>")
    );
    let cfg = img.config().config().clone().unwrap();
    let env = cfg.env().clone().unwrap();
    assert!(env.contains(&"FROM_IMAGE=yes".to_owned()), "{env:?}");
    assert!(env.contains(&"COMMITTED=yes".to_owned()), "{env:?}");
    assert!(!env.iter().any(|v| v.starts_with("HOSTNAME=")), "{env:?}");
    assert_eq!(cfg.labels().as_ref().unwrap()["stage"], "two");

    // the layer holds the whiteout and the opaque marker, as Docker writes them
    let blob = e
        .engine
        .images()
        .layout_dir()
        .join("blobs/sha256")
        .join(img.manifest().layers().last().unwrap().digest().digest());
    let listing = Command::new("tar").arg("-tzf").arg(&blob).output().unwrap();
    let names = String::from_utf8(listing.stdout).unwrap();
    let names: Vec<&str> = names.lines().collect();
    for want in [
        "etc",
        "etc/.wh.from-image",
        "etc/added",
        "newdir",
        "tree",
        "tree/.wh..wh..opq",
        "tree/only",
        "tree/sub",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("proc") || *n == "etc/hosts"),
        "{names:?}"
    );

    // a container of the committed image sees the change
    let committed = e.engine.image("localhost/committed:v1").unwrap();
    assert_eq!(committed.id(), img.id());
    let out = output(
        &e,
        &committed,
        "cat /etc/added; test -e /etc/from-image || echo deleted; ls /tree; \
         ls /tree/sub | wc -l; test -d /newdir && echo dir; echo $COMMITTED $FROM_IMAGE",
    );
    assert_eq!(out, "new\ndeleted\nonly\nsub\n0\ndir\nyes yes\n");
    // hard links, modes, owners and mtimes survive
    let out = output(
        &e,
        &committed,
        "stat -c '%a %u %g %h %i' /etc/added; stat -c '%h %i' /etc/added.link; \
         stat -c %Y /etc/mtime",
    );
    let lines: Vec<&str> = out.lines().collect();
    let added: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(added[..4], ["640", "12", "34", "2"], "{out}");
    assert_eq!(lines[1], format!("2 {}", added[4]), "one inode: {out}");
    assert_eq!(lines[2], "1577934245");
    // its command is the one the change set
    let out = e
        .engine
        .container(&committed)
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "new\n");

    // a commit of a container of the committed image stacks one layer more
    let b = run_named(&e, &committed, &common::unique("b"), "echo b > /tree/only");
    assert_eq!(diff_lines(&b), ["C /tree", "C /tree/only"]);
    let img2 = b.commit(&CommitOptions::default()).unwrap();
    assert!(img2.references().is_empty(), "untagged without a reference");
    assert_eq!(
        img2.manifest().layers().len(),
        img.manifest().layers().len() + 1
    );
    assert!(e
        .engine
        .images()
        .list()
        .unwrap()
        .iter()
        .any(|i| i.id() == img2.id()));
    // an untagged image runs, found by a prefix of its id as Docker finds it
    let prefix = &img2.id().digest()[..12];
    let img2 = e.engine.image(prefix).unwrap();
    assert!(img2.references().is_empty());
    assert_eq!(e.engine.image(img2.id().as_ref()).unwrap().id(), img2.id());
    assert!(matches!(
        e.engine.image("0000000000"),
        Err(cargohold::Error::ImageNotFound { .. })
    ));
    assert_eq!(
        output(
            &e,
            &img2,
            "cat /tree/only; test -e /etc/from-image || echo deleted"
        ),
        "b\ndeleted\n"
    );
    a.remove(false).unwrap();
    b.remove(false).unwrap();
    assert!(e.engine.containers().list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn committing_a_running_container_pauses_and_resumes_it() {
    let e = env();
    let name = common::unique("live");
    let mut live = e
        .sh("echo live > /live; exec sleep 60")
        .name(&name)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    live.kill_on_drop(true);
    let c = e.engine.containers().get(&name).unwrap();
    let mut tries = 0;
    while !diff_lines(&c).contains(&"A /live".to_owned()) {
        tries += 1;
        assert!(tries < 500, "the container never wrote /live");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(c.status(), Status::Running);
    let img = c
        .commit(&CommitOptions {
            reference: Some("localhost/live:1".to_owned()),
            ..CommitOptions::default()
        })
        .unwrap();
    assert_eq!(c.status(), Status::Running, "resumed after the commit");
    // the container's command is the committed image's
    assert_eq!(
        img.config()
            .config()
            .clone()
            .unwrap()
            .cmd()
            .clone()
            .unwrap(),
        ["sh", "-c", "echo live > /live; exec sleep 60"]
    );
    assert_eq!(output(&e, &img, "cat /live"), "live\n");
    live.kill().unwrap();
    live.wait().unwrap();
    c.remove(false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn a_bad_commit_writes_nothing() {
    let e = env();
    let c = run_named(&e, &e.image, &common::unique("bad"), "echo x > /x");
    let blobs = e.engine.images().layout_dir().join("blobs/sha256");
    let count = || fs::read_dir(&blobs).unwrap().count();
    let before = count();
    let images = e.engine.images().list().unwrap().len();
    let bad = |changes: &[&str]| CommitOptions {
        changes: changes.iter().map(|s| s.to_string()).collect(),
        ..CommitOptions::default()
    };
    let err = c.commit(&bad(&["RUN rm -rf /"])).unwrap_err();
    assert!(matches!(err, Error::InvalidContainerConfig { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("RUN is not a valid change command"),
        "{err}"
    );
    let err = c.commit(&bad(&["EXPOSE eighty"])).unwrap_err();
    assert!(err.to_string().contains("eighty"), "{err}");
    let err = c
        .commit(&CommitOptions {
            reference: Some("not a reference!".to_owned()),
            ..CommitOptions::default()
        })
        .unwrap_err();
    assert!(matches!(err, Error::InvalidReference { .. }), "{err}");
    assert_eq!(count(), before, "no blob written");
    assert_eq!(e.engine.images().list().unwrap().len(), images);
    let leftovers: Vec<_> = fs::read_dir(&blobs)
        .unwrap()
        .flatten()
        .filter(|f| f.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    c.clone().remove(false).unwrap();
    assert!(matches!(
        c.commit(&CommitOptions::default()),
        Err(Error::ContainerNotFound { .. })
    ));
}

#[test]
#[ignore = "requires root"]
fn export_is_the_merged_rootfs() {
    let e = env();
    let c = run_named(&e, &e.image, &common::unique("exp"), CHANGES);
    let mut tarball = Vec::new();
    c.export(&mut tarball).unwrap();
    assert!(common::mounts_with(c.id()).is_empty(), "nothing mounted");
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("export.tar");
    fs::write(&file, &tarball).unwrap();
    let dir = out.path().join("rootfs");
    fs::create_dir(&dir).unwrap();
    common::tar_extract(&file, &dir);
    assert_eq!(fs::read_to_string(dir.join("etc/added")).unwrap(), "new\n");
    assert!(!dir.join("etc/from-image").exists());
    assert_eq!(
        fs::read_to_string(dir.join("tree/only")).unwrap(),
        "fresh\n"
    );
    assert!(!dir.join("tree/old").exists(), "hidden by the opaque dir");
    assert_eq!(fs::read_dir(dir.join("tree/sub")).unwrap().count(), 0);
    assert_eq!(
        fs::read(dir.join("bin/busybox")).unwrap(),
        fs::read(common::BUSYBOX).unwrap()
    );
    assert_eq!(
        fs::read_link(dir.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert!(dir.join("etc/passwd").is_file());
    let names = String::from_utf8(
        Command::new("tar")
            .arg("-tf")
            .arg(&file)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(!names.contains(".wh."), "no whiteouts: {names}");
    c.remove(false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn skopeo_and_umoci_read_a_committed_image() {
    let e = env();
    let c = run_named(&e, &e.image, &common::unique("interop"), CHANGES);
    let img = c
        .commit(&CommitOptions {
            reference: Some("localhost/interop:1".to_owned()),
            author: Some("cargohold".to_owned()),
            ..CommitOptions::default()
        })
        .unwrap();
    let layout = e.engine.images().layout_dir().to_str().unwrap().to_owned();
    let reference = img.references()[0].to_string();
    if common::tool("skopeo") {
        let out = common::run_tool(
            Command::new("skopeo").args(["inspect", &format!("oci:{layout}:{reference}")]),
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Digest"], img.manifest_digest().to_string());
        assert_eq!(v["Layers"].as_array().unwrap().len(), 2);
        let cfg = common::run_tool(Command::new("skopeo").args([
            "inspect",
            "--config",
            &format!("oci:{layout}:{reference}"),
        ]));
        let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
        assert_eq!(cfg["author"], "cargohold");
        assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    } else {
        eprintln!("skipping skopeo: not installed");
    }
    if common::tool("umoci") {
        let bundle = e.root.path().join("umoci-bundle");
        common::run_tool(Command::new("umoci").args([
            "unpack",
            "--image",
            &format!("{layout}:{reference}"),
            bundle.to_str().unwrap(),
        ]));
        let rootfs = bundle.join("rootfs");
        assert_eq!(
            fs::read_to_string(rootfs.join("etc/added")).unwrap(),
            "new\n"
        );
        assert!(!rootfs.join("etc/from-image").exists());
        assert!(rootfs.join("tree/only").exists());
        assert!(!rootfs.join("tree/old").exists());
        assert!(!rootfs.join("tree/sub/deep").exists());
        assert!(rootfs.join("bin/busybox").exists());
    } else {
        eprintln!("skipping umoci: not installed");
    }
    c.remove(false).unwrap();
}
