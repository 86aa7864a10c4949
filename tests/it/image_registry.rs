//! Push and pull against a real registry (Debian's `docker-registry`) on 127.0.0.1.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use cargohold::{Engine, Progress, PullOptions, PushOptions, Reference};

use crate::common;
use crate::common::registry::Registry;

fn tree(root: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let what = if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                format!("dir {:o}", m.mode() & 0o7777)
            } else {
                format!(
                    "file {:o} {}",
                    m.mode() & 0o7777,
                    cargohold_digest(&fs::read(&p).unwrap())
                )
            };
            out.push((rel, what));
        }
    }
    out.sort();
    out
}

fn cargohold_digest(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[test]
fn push_remove_pull_round_trip() {
    let Some(reg) = Registry::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path().join("a")).unwrap();
    let store = store_engine.images();
    let src = common::minimal_busybox_dir();
    let r = reg.reference("test/busybox:1");
    let img = store
        .import_dir(src.path(), &common::busybox().image_config(), &r)
        .unwrap();

    let events = Mutex::new(Vec::new());
    let progress = |p: &Progress| events.lock().unwrap().push(p.clone());
    let digest = store_engine
        .push_with(&r.to_string(), &PushOptions::new(), &progress)
        .unwrap();
    assert_eq!(&digest, img.manifest_digest());
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Progress::LayerDone { mounted: false, .. })));

    // a second push moves nothing
    events.lock().unwrap().clear();
    store_engine
        .push_with(&r.to_string(), &PushOptions::new(), &progress)
        .unwrap();
    let n_exists = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Progress::LayerExists { .. }))
        .count();
    assert_eq!(n_exists, 2, "layer and config already there");

    store.remove(&r, false).unwrap();
    assert!(store.list().unwrap().is_empty());

    events.lock().unwrap().clear();
    let pulled = store_engine
        .pull_with(&r.to_string(), &PullOptions::new(), &progress)
        .unwrap();
    assert_eq!(pulled.manifest_digest(), img.manifest_digest());
    assert_eq!(pulled.id(), img.id());
    let layers = store.rootfs_layers(&r).unwrap();
    assert_eq!(
        tree(&layers[0]),
        tree(src.path()),
        "run-ready rootfs equals the original"
    );
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Progress::Resolved { layers: 1, .. })));

    // pulling again fetches nothing
    events.lock().unwrap().clear();
    store_engine
        .pull_with(&r.to_string(), &PullOptions::new(), &progress)
        .unwrap();
    assert!(events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Progress::LayerExists { .. })));
    assert!(!events
        .lock()
        .unwrap()
        .iter()
        .any(|e| matches!(e, Progress::LayerBytes { .. })));

    // pull by digest into a fresh store
    let other_engine = Engine::open(root.path().join("b")).unwrap();
    let by_digest: Reference = format!("{}/test/busybox@{digest}", reg.host())
        .parse()
        .unwrap();
    let p2 = other_engine
        .pull_with(&by_digest.to_string(), &PullOptions::new(), &|_| {})
        .unwrap();
    assert_eq!(p2.id(), img.id());
}

#[test]
fn chunked_upload_and_cross_repo_mount() {
    let Some(reg) = Registry::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let a = reg.reference("src/bb:1");
    store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &a,
        )
        .unwrap();
    store_engine
        .push_with(
            &a.to_string(),
            PushOptions::new().chunk_size(256 << 10),
            &|_| {},
        )
        .unwrap();

    let b = reg.reference("dst/bb:1");
    store.tag(&a, &b).unwrap();
    let mounted = Mutex::new(0);
    store_engine
        .push_with(
            &b.to_string(),
            PushOptions::new().mount_from("src/bb"),
            &|p| {
                if matches!(p, Progress::LayerDone { mounted: true, .. }) {
                    *mounted.lock().unwrap() += 1;
                }
            },
        )
        .unwrap();
    assert_eq!(
        *mounted.lock().unwrap(),
        2,
        "layer and config mounted, not uploaded"
    );

    // what we pushed reads back with skopeo
    if common::tool("skopeo") {
        let v: serde_json::Value =
            serde_json::from_str(&common::run_tool(Command::new("skopeo").args([
                "inspect",
                "--tls-verify=false",
                &format!("docker://{b}"),
            ])))
            .unwrap();
        assert_eq!(
            v["Digest"],
            store.inspect(&b).unwrap().manifest_digest().to_string()
        );
    }
}

#[test]
fn registry_errors_name_the_image() {
    let Some(reg) = Registry::start() else { return };
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path()).unwrap();
    let store = store_engine.images();
    let missing = reg.reference("no/such:tag");
    let e = store_engine
        .pull_with(&missing.to_string(), &PullOptions::new(), &|_| {})
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("no/such:tag") && msg.contains("404"), "{msg}");
    assert!(store.list().unwrap().is_empty());
    // nothing listening: a transport error, named
    let dead: Reference = "127.0.0.1:1/x:y".parse().unwrap();
    let e = store_engine
        .pull_with(&dead.to_string(), &PullOptions::new(), &|_| {})
        .unwrap_err();
    assert!(e.to_string().contains("127.0.0.1:1/x:y"), "{e}");
}

#[test]
fn skopeo_pushed_images_pull() {
    let Some(reg) = Registry::start() else { return };
    if !common::tool("skopeo") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let store_engine = Engine::open(root.path().join("a")).unwrap();
    let store = store_engine.images();
    let r: Reference = "busybox:src".parse().unwrap();
    store
        .import_dir(
            common::minimal_busybox_dir().path(),
            &common::busybox().image_config(),
            &r,
        )
        .unwrap();
    // skopeo pushes as Docker schema 2, recompressing the layer
    let dest = reg.reference("skopeo/bb:v2");
    common::run_tool(Command::new("skopeo").args([
        "copy",
        "--dest-tls-verify=false",
        "--format=v2s2",
        &format!("oci:{}:{r}", store.layout_dir().display()),
        &format!("docker://{dest}"),
    ]));
    let other_engine = Engine::open(root.path().join("b")).unwrap();
    let other = other_engine.images();
    let img = other_engine
        .pull_with(&dest.to_string(), &PullOptions::new(), &|_| {})
        .unwrap();
    // stored converted to OCI, the registry digest kept for digest references
    assert_eq!(
        img.manifest().media_type().as_ref().unwrap().to_string(),
        "application/vnd.oci.image.manifest.v1+json"
    );
    let remote = String::from_utf8(
        Command::new("skopeo")
            .args([
                "inspect",
                "--tls-verify=false",
                "--format",
                "{{.Digest}}",
                &format!("docker://{dest}"),
            ])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let by_digest: Reference = format!("{}@{}", dest.name(), remote.trim())
        .parse()
        .unwrap();
    assert_eq!(other.inspect(&by_digest).unwrap().id(), img.id());
    let flat = root.path().join("flat");
    other.flatten(&dest, &flat).unwrap();
    assert_eq!(
        fs::read(flat.join("bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );
    let _ = std::io::stdout().flush();
    // and the pulled Docker-schema-2 image stays readable by skopeo from our layout
    common::run_tool(Command::new("skopeo").args([
        "inspect",
        &format!("oci:{}:{dest}", other.layout_dir().display()),
    ]));
}

/// The engine facade: push an image to a registry, remove it, pull it back by reference
/// (`Engine::push`/`pull`), and run a container from what was pulled.
#[test]
#[ignore = "requires root"]
fn engine_push_pull_and_run() {
    let Some(reg) = Registry::start() else { return };
    let (_root, engine) = common::temp_engine("cargohold-registry");
    let src = common::minimal_busybox_dir();
    let r = reg.reference("facade/busybox:2");
    let img = engine
        .images()
        .import_dir(src.path(), &common::busybox().image_config(), &r)
        .unwrap();
    let digest = engine.push(&r.to_string()).unwrap();
    assert_eq!(&digest, img.manifest_digest());
    engine.images().remove(&r, false).unwrap();
    assert!(engine.image(&r.to_string()).is_err());
    let pulled = engine.pull(&r.to_string()).unwrap();
    assert_eq!(pulled.id(), img.id());
    assert_eq!(pulled.references(), std::slice::from_ref(&r));
    let out = engine
        .container(&pulled)
        .args(["sh", "-c", "echo pulled"])
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled\n");
    // Docker's image events: the short reference as the id, the repository as `name`
    let opts = cargohold::EventOptions {
        filters: vec![("type".into(), "image".into())],
        ..Default::default()
    };
    let evs: Vec<cargohold::Event> = engine
        .events(&opts)
        .unwrap()
        .collect::<cargohold::Result<_>>()
        .unwrap();
    let transfers: Vec<(&str, &str, &str)> = evs
        .iter()
        .filter(|e| e.action == "push" || e.action == "pull")
        .map(|e| {
            let name = e.actor.attributes["name"].as_str();
            (e.action.as_str(), e.actor.id.as_str(), name)
        })
        .collect();
    let short = r.familiar();
    let repo = short.trim_end_matches(":2");
    assert_eq!(
        transfers,
        [
            ("push", short.as_str(), repo),
            ("pull", short.as_str(), repo)
        ]
    );
    let err = engine.pull("127.0.0.1:1/nothing/here:1").unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    assert!(matches!(
        engine.pull("UPPER/Case"),
        Err(cargohold::Error::InvalidReference { .. })
    ));
}
