//! Escape regressions (issue 10), each reproducing an attack and asserting that it fails.
//!
//! - The store is private: a setuid-root binary of an image, or one that container root
//!   wrote into its upper directory or a volume, cannot be run by another local user from
//!   the host (it would read the host's `/etc/shadow`), while setuid binaries keep working
//!   inside containers.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargohold::oci_spec::image::ConfigBuilder;
use cargohold::{Engine, Image};

use crate::common;

/// The host's shared libraries `bin` needs (its ELF interpreter too), from `ldd`.
fn libraries(bin: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(bin).output().expect("running ldd");
    assert!(out.status.success(), "ldd {}", bin.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// Copies the host binary `bin` to `dest` (a path inside `rootfs`) with `mode`, and the
/// libraries it needs to the same paths in `rootfs`, so that it runs in a container.
fn add_host_binary(rootfs: &Path, bin: &Path, dest: &str, mode: u32) {
    for lib in libraries(bin) {
        let to = rootfs.join(lib.strip_prefix("/").unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&lib, &to).unwrap();
    }
    let to = rootfs.join(dest.trim_start_matches('/'));
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(bin, &to).unwrap();
    fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `argv` on the host as `nobody`. (Not `setpriv --reuid`: it keeps its capabilities
/// until the execve, whose path lookup then passes any directory.)
fn as_nobody(argv: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(argv)
        .output()
        .expect("running runuser")
}

/// An engine whose root's parent is open to everyone (as `/var/lib` is), so that only the
/// store's own modes keep other users out, and an image whose `/suidcat` is a setuid-root
/// copy of the host's `cat` (its libraries included), with a root-only `/etc/shadow`.
struct Store {
    engine: Engine,
    image: Image,
    _parent: tempfile::TempDir,
}

fn store() -> Store {
    let parent = tempfile::Builder::new()
        .prefix("cargohold-sec")
        .tempdir()
        .unwrap();
    fs::set_permissions(parent.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let engine = Engine::open(parent.path().join("root")).unwrap();
    let src = tempfile::tempdir().unwrap();
    common::make_rootfs(src.path());
    add_host_binary(src.path(), Path::new("/bin/cat"), "/suidcat", 0o4755);
    fs::write(src.path().join("etc/shadow"), "secret-of-the-image\n").unwrap();
    fs::set_permissions(
        src.path().join("etc/shadow"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let cfg = ConfigBuilder::default()
        .cmd(vec!["/bin/sh".to_owned()])
        .env(vec!["PATH=/bin".to_owned()])
        .build()
        .unwrap();
    let r = format!("busybox:{}", common::unique("suid"))
        .parse()
        .unwrap();
    let image = engine.store().import_dir(src.path(), &cfg, &r).unwrap();
    Store {
        engine,
        image,
        _parent: parent,
    }
}

/// The setuid binary at `path` (as root: it is there and setuid root, so the attack is
/// real) cannot be run by `nobody` from the host to read the host's `/etc/shadow`.
fn assert_unusable_from_host(path: &Path) {
    let m = fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o4755,
        "{}",
        path.display()
    );
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&m), 0);
    let out = as_nobody(&[path.to_str().unwrap(), "/etc/shadow"]);
    assert!(
        !out.status.success() && out.stdout.is_empty(),
        "nobody ran {} and read the host's /etc/shadow: {:?}",
        path.display(),
        out
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied"),
        "{}: {err}",
        path.display()
    );
}

/// The one directory under `containers/` (the container's).
fn container_dir(engine: &Engine) -> PathBuf {
    let dirs: Vec<PathBuf> = fs::read_dir(engine.root().join("containers"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

#[test]
#[ignore = "requires root"]
fn setuid_files_of_the_store_cannot_be_used_from_the_host() {
    let s = store();
    let root = s.engine.root().to_owned();
    for d in ["", "layers", "containers", "volumes"] {
        assert_eq!(mode(&root.join(d)), 0o700, "{d:?}");
    }
    // container root writes setuid-root binaries into its upper dir and into a volume
    let vol = s
        .engine
        .volumes()
        .create("suid-vol", [("", ""); 0])
        .unwrap();
    let mut c = s
        .engine
        .container(&s.image)
        .args([
            "sh",
            "-c",
            "cp /suidcat /up-suid && chmod 4755 /up-suid && \
             cp /suidcat /data/vol-suid && chmod 4755 /data/vol-suid && \
             echo ready && exec sleep 30",
        ])
        .volume("suid-vol", "/data")
        .stdout(cargohold::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(c.take_stdout().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "ready\n");
    // the layer's copy (unpacked by the run)
    let layers: Vec<PathBuf> = fs::read_dir(root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("diff/suidcat"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(layers.len(), 1);
    assert_unusable_from_host(&layers[0]);
    let dir = container_dir(&s.engine);
    assert_unusable_from_host(&dir.join("upper/up-suid"));
    // the container's root, mounted (not nosuid) while it runs
    assert_unusable_from_host(&dir.join("rootfs/suidcat"));
    assert_unusable_from_host(&vol.mountpoint().join("vol-suid"));
    c.kill().unwrap();
    c.wait().unwrap();
}

#[test]
#[ignore = "requires root"]
fn setuid_binaries_still_work_inside_containers() {
    // Docker mounts container roots without nosuid and does not set no_new_privs by
    // default: uid 1000 becomes euid 0 through the image's setuid-root cat.
    let s = store();
    let out = s
        .engine
        .container(&s.image)
        .args(["sh", "-c", "id -u && /suidcat /etc/shadow"])
        .user("1000")
        .auto_remove(true)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "1000\nsecret-of-the-image\n"
    );
}

#[test]
#[ignore = "requires root"]
fn a_root_made_by_an_older_version_is_made_private_on_open() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("root");
    for (d, m) in [
        ("", 0o755),
        ("layers", 0o755),
        ("containers", 0o755),
        ("volumes", 0o701),
    ] {
        fs::create_dir_all(root.join(d)).unwrap();
        fs::set_permissions(root.join(d), fs::Permissions::from_mode(m)).unwrap();
    }
    let engine = Engine::open(&root).unwrap();
    for d in ["", "layers", "containers", "volumes"] {
        assert_eq!(mode(&engine.root().join(d)), 0o700, "{d:?}");
    }
}
