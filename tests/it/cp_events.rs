//! Issue 13, the library side: `create` of an image without its command (checked at
//! start), `Container::copy_from`/`copy_to`/`path_stat` on created, running and stopped
//! containers (never leaving the container's root), `ulimit` and `init` (zombies reaped,
//! SIGTERM forwarded).

use std::io::Read;
use std::time::{Duration, Instant};

use cargohold::{Error, Ulimit};

use crate::common::{self, busybox};

/// A tar of `(path, content)` regular files; paths are written as given (`..` too).
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// The entries of a tar, as `path` or `path -> target`.
fn entries(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = e.path().unwrap().display().to_string();
            match e.link_name().unwrap() {
                Some(t) => format!("{p} -> {}", t.display()),
                None => p,
            }
        })
        .collect()
}

/// The content of `name` in a tar.
fn content(tar: &[u8], name: &str) -> Option<String> {
    let mut a = tar::Archive::new(tar);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_str() == Some(name) {
            let mut s = String::new();
            e.read_to_string(&mut s).unwrap();
            return Some(s);
        }
    }
    None
}

#[test]
#[ignore = "requires root"]
fn create_defers_the_command_check_to_start() {
    let e = busybox().engine("cp-create");
    let c = e.cmd(["/no/such/tool"]).create().unwrap();
    // The files are there to take out before anything ran.
    let mut tar = Vec::new();
    c.copy_from("/etc/passwd", false, &mut tar).unwrap();
    assert!(content(&tar, "passwd").unwrap().starts_with("root:"));
    match c.start().unwrap_err() {
        Error::Command { command, code, .. } => {
            assert_eq!(command, "/no/such/tool");
            assert_eq!(code, 127);
        }
        other => panic!("{other:?}"),
    }
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status.to_string(), "created");
    assert!(
        info.state.error.contains("/no/such/tool"),
        "{:?}",
        info.state.error
    );
    c.remove(false).unwrap();
    let root = e.root.path().to_str().unwrap();
    assert!(common::mounts_with(root).is_empty());
    // spawn still checks at once.
    assert!(matches!(
        e.cmd(["/no/such/tool"]).spawn().unwrap_err(),
        Error::Command { code: 127, .. }
    ));
}

#[test]
#[ignore = "requires root"]
fn copy_from_and_to_a_stopped_container() {
    let e = busybox().engine("cp-stopped");
    let c = e
        .sh("mkdir -p /d/sub; echo one > /d/a; echo two > /d/sub/b; ln -s /etc /d/link")
        .spawn()
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(c.code(), Some(0));
    // (this test binary has no monitor: containers run attached; `start` is the CLI test's)
    let c = e.engine.containers().list().unwrap().remove(0);
    // A directory: its base name on top, symlinks kept as links.
    let mut tar = Vec::new();
    c.copy_from("/d", false, &mut tar).unwrap();
    let mut names = entries(&tar);
    names.sort();
    assert_eq!(names, ["d", "d/a", "d/link -> /etc", "d/sub", "d/sub/b"]);
    assert_eq!(content(&tar, "d/sub/b").as_deref(), Some("two\n"));
    // -L: the link's target, in the container (not the host's /etc), under its name.
    let mut tar = Vec::new();
    c.copy_from("/d/link", true, &mut tar).unwrap();
    assert!(content(&tar, "link/passwd").unwrap().contains("nobody"));
    assert!(content(&tar, "link/shadow").is_none());
    let st = c.path_stat("/d/link", false).unwrap().unwrap();
    assert!(st.is_symlink() && st.link_target == "/etc");
    assert!(c.path_stat("/d/link", true).unwrap().unwrap().is_dir());
    assert!(c.path_stat("/nope", false).unwrap().is_none());
    // Into a directory; through an absolute link, which stays inside the container.
    c.copy_to("/d", &tar_of(&[("new", b"x")])[..], false)
        .unwrap();
    c.copy_to("/d/link", &tar_of(&[("via-link", b"y")])[..], false)
        .unwrap();
    assert!(!std::path::Path::new("/etc/via-link").exists());
    // `..` out of the directory is refused.
    let err = c
        .copy_to("/d", &tar_of(&[("../../../escaped", b"z")])[..], false)
        .unwrap_err();
    assert!(matches!(err, Error::UnsafeLayerEntry { .. }), "{err:?}");
    // Not a directory.
    assert!(c
        .copy_to("/d/a", &tar_of(&[("f", b"")])[..], false)
        .is_err());
    let mut tar = Vec::new();
    c.copy_from("/etc/via-link", false, &mut tar).unwrap();
    assert_eq!(content(&tar, "via-link").as_deref(), Some("y"));
    let mut tar = Vec::new();
    c.copy_from("/", false, &mut tar).unwrap();
    assert!(
        entries(&tar).iter().any(|n| n == "d/new"),
        "{:?}",
        entries(&tar)
    );
    assert!(!entries(&tar).iter().any(|n| n.contains("escaped")));
    c.remove(false).unwrap();
    let root = e.root.path().to_str().unwrap();
    assert!(
        common::mounts_with(root).is_empty(),
        "{:?}",
        common::mounts_with(root)
    );
}

#[test]
#[ignore = "requires root"]
fn copy_from_and_to_a_running_container_and_its_volume() {
    let e = busybox().engine("cp-running");
    let vol = common::unique("cpvol");
    let mut c = e
        .sh("echo v > /data/x; ln -s /etc /data/etc; echo ready > /tmp/ready; sleep 30")
        .volume(&vol, "/data")
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let h = e.engine.containers().get(c.id()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while h.path_stat("/tmp/ready", false).unwrap().is_none() {
        assert!(Instant::now() < deadline, "not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut tar = Vec::new();
    h.copy_from("/data/x", false, &mut tar).unwrap();
    assert_eq!(content(&tar, "x").as_deref(), Some("v\n"));
    h.copy_to("/data", &tar_of(&[("in-vol", b"1")])[..], false)
        .unwrap();
    // A link in the volume to /etc leads to the container's /etc.
    h.copy_to("/data/etc", &tar_of(&[("in-etc", b"2")])[..], false)
        .unwrap();
    assert_eq!(
        common::exec_stdout(&c, &["cat", "/data/in-vol", "/etc/in-etc"]),
        "12"
    );
    // Still running: the copy froze and thawed it.
    assert_eq!(h.status().to_string(), "running");
    c.kill().unwrap();
    c.wait().unwrap();
    h.remove(false).unwrap();
    e.engine.volumes().remove(&vol, false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn ulimits_reach_the_process_and_the_record() {
    let e = busybox().engine("ulimit");
    let out = e
        .sh("ulimit -n; ulimit -Hn")
        .ulimit("nofile=64:128".parse::<Ulimit>().unwrap())
        .output()
        .unwrap();
    assert_eq!(common::stdout(&out), "64\n128\n");
    let c = e
        .sh("true")
        .ulimit(Ulimit::new("core", -1, -1).unwrap())
        .create()
        .unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(
        info.host_config.ulimits,
        [Ulimit::new("core", -1, -1).unwrap()]
    );
    assert_eq!(info.host_config.init, None);
    c.remove(false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn init_reaps_zombies_and_forwards_sigterm() {
    if !std::path::Path::new("/usr/bin/tini-static").exists()
        && std::env::var_os("CARGOHOLD_INIT").is_none()
    {
        panic!("needs Debian's tini package (/usr/bin/tini-static)");
    }
    let e = busybox().engine("init");
    // An orphan that exits is re-parented to pid 1; the command then becomes `sleep`,
    // which never waits: only an init reaps the orphan.
    let states = |init: bool| {
        let mut c = e
            .sh("sh -c 'sleep 0.1 & exit 0'; exec sleep 30")
            .init(init)
            .spawn()
            .unwrap();
        c.kill_on_drop(true);
        std::thread::sleep(Duration::from_millis(800));
        let script = "for s in /proc/[0-9]*/stat; do read -r l < $s; set -- $l; echo $3; done; \
                      echo; cat /proc/1/cmdline";
        common::exec_stdout(&c, &["sh", "-c", script])
    };
    let with = states(true);
    assert!(!with.lines().any(|l| l == "Z"), "{with}");
    assert!(with.contains("/sbin/docker-init"), "{with}");
    let without = states(false);
    assert!(
        without.lines().any(|l| l == "Z"),
        "the test must see a zombie without init: {without}"
    );
    // SIGTERM to the container (its pid 1, the init) reaches the command, whose trap
    // decides the exit code.
    let mut c = e
        .sh("trap 'exit 7' TERM; echo up; while true; do sleep 0.1; done")
        .init(true)
        .stdout(cargohold::Stdio::piped())
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let mut first = [0u8; 3];
    c.take_stdout().unwrap().read_exact(&mut first).unwrap();
    c.signal(libc::SIGTERM).unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(7));
}
