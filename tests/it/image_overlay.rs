//! Multi-layer images: whiteouts as the kernel's overlayfs sees them, and images made by umoci.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use crate::common::{docker_archive, layer};
use cargohold::{Engine, Images, Reference};

fn two_layer_image(store: &Images<'_>) -> Reference {
    let l1 = layer(&[
        ("a/", None),
        ("a/keep", Some(b"k")),
        ("a/gone", Some(b"g")),
        ("o/", None),
        ("o/old", Some(b"o")),
        ("o/sub/x", Some(b"x")),
    ]);
    let l2 = layer(&[
        ("a/.wh.gone", Some(b"")),
        ("o/", None),
        ("o/.wh..wh..opq", Some(b"")),
        ("o/new", Some(b"n")),
    ]);
    let loaded = store
        .load(&docker_archive(serde_json::json!({}), &[l1, l2], "ovl:1")[..])
        .unwrap();
    assert_eq!(loaded.len(), 1);
    "ovl:1".parse().unwrap()
}

fn check_tree(root: &Path) {
    assert_eq!(fs::read(root.join("a/keep")).unwrap(), b"k");
    assert!(
        !root.join("a/gone").exists(),
        "whiteout hides the lower file"
    );
    assert!(
        !root.join("o/old").exists(),
        "opaque dir hides the lower dir's content"
    );
    assert!(!root.join("o/sub").exists());
    assert_eq!(fs::read(root.join("o/new")).unwrap(), b"n");
}

#[test]
fn flattened_rootfs_applies_whiteouts() {
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let r = two_layer_image(&store);
    let flat = root.path().join("flat");
    store.flatten(&r, &flat).unwrap();
    check_tree(&flat);
    // export is the same tree as a tar
    let mut tar = Vec::new();
    store.export(&r, &mut tar).unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut e = e.unwrap();
        let mut s = String::new();
        let n = e.path().unwrap().display().to_string();
        e.read_to_string(&mut s).ok();
        names.push(n);
    }
    assert!(names.iter().any(|n| n.ends_with("o/new")));
    assert!(!names
        .iter()
        .any(|n| n.ends_with("a/gone") || n.ends_with("o/old")));
}

#[test]
#[ignore = "requires root"]
fn overlay_of_the_layer_dirs_applies_whiteouts() {
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let r = two_layer_image(&store);
    let lowers = store.rootfs_layers(&r).unwrap();
    assert_eq!(lowers.len(), 2);
    let target = root.path().join("mnt");
    fs::create_dir(&target).unwrap();
    // overlayfs wants the top layer first
    let lowerdir: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| p.display().to_string())
        .collect();
    let st = Command::new("mount")
        .args([
            "-t",
            "overlay",
            "overlay",
            "-o",
            &format!("lowerdir={}", lowerdir.join(":")),
        ])
        .arg(&target)
        .status()
        .unwrap();
    assert!(st.success());
    let result = std::panic::catch_unwind(|| check_tree(&target));
    assert!(Command::new("umount")
        .arg(&target)
        .status()
        .unwrap()
        .success());
    result.unwrap();
}

#[test]
#[ignore = "requires root"]
fn images_made_by_umoci_load() {
    if Command::new("umoci").arg("--version").output().is_err() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let layout = root.path().join("layout");
    let bundle = root.path().join("bundle");
    let run = |args: &[&str]| {
        let out = Command::new("umoci").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "umoci {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let l = layout.to_str().unwrap();
    run(&["init", "--layout", l]);
    run(&["new", "--image", &format!("{l}:made")]);
    run(&[
        "unpack",
        "--image",
        &format!("{l}:made"),
        bundle.to_str().unwrap(),
    ]);
    fs::create_dir(bundle.join("rootfs/etc")).unwrap();
    fs::write(bundle.join("rootfs/etc/made-by"), b"umoci\n").unwrap();
    run(&[
        "repack",
        "--image",
        &format!("{l}:made"),
        bundle.to_str().unwrap(),
    ]);
    run(&[
        "config",
        "--image",
        &format!("{l}:made"),
        "--config.cmd",
        "/bin/true",
    ]);

    // an OCI archive is a tarred layout
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &layout).unwrap();
    let archive = b.into_inner().unwrap();
    let store_engine = Engine::open(root.path().join("store")).unwrap();
    let store = store_engine.images();
    let loaded = store.load(&archive[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert!(
        loaded[0].references().is_empty(),
        "a bare tag names no repository: loaded untagged"
    );
    let by_digest: Reference = format!("umoci@{}", loaded[0].manifest_digest())
        .parse()
        .unwrap();
    let named: Reference = "umoci:made".parse().unwrap();
    store.tag(&by_digest, &named).unwrap();
    let img = store.inspect(&named).unwrap();
    assert_eq!(
        img.config()
            .config()
            .as_ref()
            .unwrap()
            .cmd()
            .as_ref()
            .unwrap(),
        &["/bin/true"]
    );
    let flat = root.path().join("flat");
    store.flatten(&named, &flat).unwrap();
    assert_eq!(fs::read(flat.join("etc/made-by")).unwrap(), b"umoci\n");
    // untagged leftovers go with prune; the tagged image stays
    store.prune().unwrap();
    assert!(store.inspect(&named).is_ok());
}

/// A full disk: the import fails with an error naming the blob or path, and nothing
/// partial is left in the store.
#[test]
#[ignore = "requires root"]
fn a_full_disk_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(st.success());
    let result = std::panic::catch_unwind(|| {
        let store_engine = Engine::open(&mnt).unwrap();
        let store = store_engine.images();
        let src = crate::common::minimal_busybox_dir(); // ~1 MB compressed: does not fit
        let r: Reference = "full:1".parse().unwrap();
        let e = store
            .import_dir(src.path(), &crate::common::busybox().image_config(), &r)
            .unwrap_err();
        let msg = format!("{e}: {:?}", std::error::Error::source(&e));
        assert!(
            msg.contains("No space left") || msg.contains("os error 28"),
            "{msg}"
        );
        let blobs: Vec<_> = fs::read_dir(store.layout_dir().join("blobs/sha256"))
            .unwrap()
            .flatten()
            .collect();
        assert!(blobs.is_empty(), "no blob or temp file left: {blobs:?}");
        assert!(store.list().unwrap().is_empty());
        // and the store still works once there is room
        let small = tempfile::tempdir().unwrap();
        fs::write(small.path().join("f"), b"tiny").unwrap();
        store
            .import_dir(small.path(), &crate::common::busybox().image_config(), &r)
            .unwrap();
    });
    assert!(Command::new("umount").arg(&mnt).status().unwrap().success());
    result.unwrap();
}
