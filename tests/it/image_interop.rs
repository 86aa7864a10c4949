//! The store is an OCI layout that skopeo and umoci read as is.

use std::fs;
use std::path::Path;
use std::process::Command;

use cargohold::{Engine, Reference};

use crate::common::{self, run_tool, tool};

#[test]
fn skopeo_inspects_our_layout() {
    if !tool("skopeo") {
        eprintln!("skipping: no skopeo");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:interop".parse().unwrap();
    let img = store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    let layout = store.layout_dir().to_str().unwrap().to_owned();
    let out = run_tool(Command::new("skopeo").args(["inspect", &format!("oci:{layout}:{r}")]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], img.manifest_digest().to_string());
    assert_eq!(
        v["Layers"][0],
        img.manifest().layers()[0].digest().to_string()
    );
    assert_eq!(v["Os"], "linux");
    assert_eq!(v["Architecture"], "amd64");
    let cfg = run_tool(Command::new("skopeo").args([
        "inspect",
        "--config",
        &format!("oci:{layout}:{r}"),
    ]));
    let cfg: serde_json::Value = serde_json::from_str(&cfg).unwrap();
    assert_eq!(cfg["config"]["Cmd"][0], "/bin/sh");
}

#[test]
#[ignore = "requires root"]
fn umoci_unpacks_our_layout() {
    if !tool("umoci") {
        eprintln!("skipping: no umoci");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:umoci".parse().unwrap();
    store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    let bundle = root.path().join("bundle");
    let layout = store.layout_dir().to_str().unwrap().to_owned();
    run_tool(Command::new("umoci").args([
        "unpack",
        "--image",
        &format!("{layout}:{r}"),
        bundle.to_str().unwrap(),
    ]));
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        fs::read(rootfs.join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    assert_eq!(
        fs::read_link(rootfs.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["process"]["args"][0], "/bin/sh");
}

#[test]
fn skopeo_docker_archive_loads_and_ours_reads_back() {
    if !tool("skopeo") {
        eprintln!("skipping: no skopeo");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path().join("a")).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:archive".parse().unwrap();
    let img = store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    let layout = store.layout_dir().to_str().unwrap().to_owned();

    // skopeo writes a docker-archive from our layout; we load it
    let archive = root.path().join("skopeo.tar");
    run_tool(Command::new("skopeo").args([
        "copy",
        &format!("oci:{layout}:{r}"),
        &format!("docker-archive:{}:busybox:fromskopeo", archive.display()),
    ]));
    let other_engine = Engine::open(root.path().join("b")).unwrap();
    let other = other_engine.images();
    let loaded = other.load(fs::File::open(&archive).unwrap()).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].diff_ids(), img.diff_ids());
    let r2: Reference = "busybox:fromskopeo".parse().unwrap();
    let flat = root.path().join("flat");
    other.flatten(&r2, &flat).unwrap();
    assert_eq!(
        fs::read(flat.join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );

    // skopeo reads the docker-archive we write
    let ours = root.path().join("ours.tar");
    other
        .save_docker_archive(std::slice::from_ref(&r2), fs::File::create(&ours).unwrap())
        .unwrap();
    let out = run_tool(
        Command::new("skopeo").args(["inspect", &format!("docker-archive:{}", ours.display())]),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Os"], "linux");
    let layers = v["Layers"].as_array().unwrap();
    assert_eq!(
        layers[0],
        img.diff_ids()[0].to_string(),
        "uncompressed layer: digest = diff id"
    );
}

/// skopeo untars an oci-archive keeping ownership (uid 0 in ours), so it needs root.
#[test]
#[ignore = "requires root"]
fn skopeo_reads_our_oci_archive() {
    if !tool("skopeo") {
        eprintln!("skipping: no skopeo");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path().join("a")).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:ociarchive".parse().unwrap();
    let img = store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    let oci = root.path().join("ours-oci.tar");
    store
        .save_oci_archive(std::slice::from_ref(&r), fs::File::create(&oci).unwrap())
        .unwrap();
    let out = run_tool(
        Command::new("skopeo").args(["inspect", &format!("oci-archive:{}:{r}", oci.display())]),
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Digest"], img.manifest_digest().to_string());
}

#[test]
fn images_written_by_skopeo_are_read() {
    if !tool("skopeo") {
        eprintln!("skipping: no skopeo");
        return;
    }
    // skopeo copies our image into a fresh layout of its own (recompressing nothing);
    // then we load that layout tarred up as an OCI archive
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path().join("a")).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:skopeo".parse().unwrap();
    store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    let layout = store.layout_dir().to_str().unwrap().to_owned();
    let theirs = root.path().join("theirs.tar");
    run_tool(Command::new("skopeo").args([
        "copy",
        &format!("oci:{layout}:{r}"),
        &format!(
            "oci-archive:{}:docker.io/library/busybox:theirs",
            theirs.display()
        ),
    ]));
    let other_engine = Engine::open(root.path().join("b")).unwrap();
    let other = other_engine.images();
    let loaded = other.load(fs::File::open(&theirs).unwrap()).unwrap();
    assert_eq!(
        loaded[0].references()[0].to_string(),
        "docker.io/library/busybox:theirs"
    );
    let r2: Reference = "busybox:theirs".parse().unwrap();
    let layers = other.rootfs_layers(&r2).unwrap();
    assert_eq!(
        fs::read(layers[0].join("etc/hostname")).unwrap(),
        b"cargohold\n"
    );
}

/// buildah (vfs storage of its own in a tempdir) builds an image from scratch with two
/// layers — the second deleting a file of the first — and writes an OCI archive we load.
#[test]
#[ignore = "requires root"]
fn images_written_by_buildah_are_read() {
    if !tool("buildah") {
        eprintln!("skipping: no buildah");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let storage = root.path().join("buildah");
    let buildah = |args: &[&str]| {
        let mut c = Command::new("buildah");
        c.arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(storage.join("run"));
        c.args(["--storage-driver", "vfs"]).args(args);
        run_tool(&mut c)
    };
    let src = common::minimal_busybox_dir();
    let ctr = buildah(&["from", "scratch"]).trim().to_owned();
    buildah(&["copy", &ctr, src.path().to_str().unwrap(), "/"]);
    buildah(&["config", "--cmd", "/bin/sh", "--env", "PATH=/bin", &ctr]);
    buildah(&["commit", "--format", "oci", &ctr, "localhost/base:1"]);
    let ctr2 = buildah(&["from", "localhost/base:1"]).trim().to_owned();
    let mnt = buildah(&["mount", &ctr2]).trim().to_owned();
    fs::remove_file(Path::new(&mnt).join("etc/hostname")).unwrap();
    fs::write(Path::new(&mnt).join("etc/motd"), "from buildah\n").unwrap();
    buildah(&["umount", &ctr2]);
    let archive = root.path().join("buildah.tar");
    buildah(&[
        "commit",
        "--format",
        "oci",
        &ctr2,
        &format!("oci-archive:{}:localhost/fromb:2", archive.display()),
    ]);
    buildah(&["rm", "--all"]);
    let _ = Command::new("buildah")
        .arg("--root")
        .arg(storage.join("root"))
        .arg("--runroot")
        .arg(storage.join("run"))
        .args(["--storage-driver", "vfs", "rmi", "--all", "--force"])
        .output();

    let store_engine = Engine::open(root.path().join("store")).unwrap();

    let store = store_engine.images();
    let loaded = store.load(fs::File::open(&archive).unwrap()).unwrap();
    let r: Reference = "localhost/fromb:2".parse().unwrap();
    assert_eq!(loaded[0].references(), std::slice::from_ref(&r));
    assert_eq!(loaded[0].manifest().layers().len(), 2);
    assert_eq!(
        loaded[0]
            .config()
            .config()
            .as_ref()
            .unwrap()
            .cmd()
            .as_deref(),
        Some(&["/bin/sh".to_owned()][..])
    );
    let flat = tempfile::tempdir().unwrap();
    store.flatten(&r, flat.path()).unwrap();
    assert_eq!(
        fs::read(flat.path().join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    assert_eq!(
        fs::read_link(flat.path().join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    assert_eq!(
        fs::read(flat.path().join("etc/motd")).unwrap(),
        b"from buildah\n"
    );
    assert!(
        !flat.path().join("etc/hostname").exists(),
        "the second layer's whiteout applied"
    );
}
