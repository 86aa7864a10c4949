//! An unprivileged user for the rootless tests (issue 15): `cargohold-rl`, made once with
//! ranges in `/etc/subuid` and `/etc/subgid`, and commands run as it through `runuser`
//! (which drops every capability before the exec, unlike `setpriv --reuid`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The test user's name.
pub const NAME: &str = "cargohold-rl";

/// The test user: its ids and its first subordinate uid and gid.
#[derive(Debug, Clone, Copy)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub subuid: u32,
    pub subgid: u32,
}

/// The test user, made on first use.
pub fn user() -> User {
    static USER: OnceLock<User> = OnceLock::new();
    *USER.get_or_init(|| {
        if id("-u").is_none() {
            let st = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", NAME])
                .status()
                .expect("running useradd");
            assert!(st.success(), "useradd {NAME} failed");
        }
        let (subuid, subgid) = match (sub("/etc/subuid"), sub("/etc/subgid")) {
            (Some(u), Some(g)) => (u, g),
            _ => {
                let st = Command::new("usermod")
                    .args([
                        "--add-subuids",
                        "400000-465535",
                        "--add-subgids",
                        "400000-465535",
                        NAME,
                    ])
                    .status()
                    .expect("running usermod");
                assert!(st.success(), "usermod --add-subuids {NAME} failed");
                (400000, 400000)
            }
        };
        User {
            uid: id("-u").expect("the user exists"),
            gid: id("-g").expect("the user exists"),
            subuid,
            subgid,
        }
    })
}

fn id(flag: &str) -> Option<u32> {
    id_of(NAME, flag)
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A second test user, without subordinate ids.
pub const PLAIN: &str = "cargohold-rl0";

/// The user [`PLAIN`] (uid, gid), made on first use; it has no range in `/etc/subuid` or
/// `/etc/subgid`.
pub fn plain_user() -> (u32, u32) {
    static USER: OnceLock<(u32, u32)> = OnceLock::new();
    *USER.get_or_init(|| {
        if id_of(PLAIN, "-u").is_none() {
            let st = Command::new("useradd")
                .args(["--no-create-home", "--shell", "/bin/sh", PLAIN])
                .status()
                .expect("running useradd");
            assert!(st.success(), "useradd {PLAIN} failed");
        }
        // useradd gives a new user a range where the files exist: taken away again
        for file in ["/etc/subuid", "/etc/subgid"] {
            let text = fs::read_to_string(file).unwrap_or_default();
            let others: String = text
                .lines()
                .filter(|l| l.split(':').next() != Some(PLAIN))
                .map(|l| format!("{l}\n"))
                .collect();
            if others != text {
                let tmp = format!("{file}.cargohold-test");
                fs::write(&tmp, others).unwrap();
                fs::rename(&tmp, file).unwrap();
            }
        }
        (
            id_of(PLAIN, "-u").expect("the user exists"),
            id_of(PLAIN, "-g").expect("the user exists"),
        )
    })
}

/// The start of the user's range in `/etc/subuid` or `/etc/subgid`.
fn sub(file: &str) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == NAME).then(|| f.next()?.parse().ok())?
    })
}

/// A directory owned by the test user (mode 0700 unless said otherwise) inside a temporary
/// directory that anyone may enter; removed at drop.
pub struct UserDir {
    _tmp: tempfile::TempDir,
    pub path: PathBuf,
}

impl UserDir {
    /// A directory of [`PLAIN`]'s.
    pub fn plain(mode: u32) -> UserDir {
        let (uid, gid) = plain_user();
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let path = tmp.path().join("d");
        fs::create_dir(&path).unwrap();
        std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        UserDir { _tmp: tmp, path }
    }

    pub fn new(mode: u32) -> UserDir {
        let tmp = tempfile::tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let path = tmp.path().join("d");
        fs::create_dir(&path).unwrap();
        chown_tree(&path);
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        UserDir { _tmp: tmp, path }
    }
}

/// Gives `path` and everything under it to the test user (links themselves).
pub fn chown_tree(path: &Path) {
    let u = user();
    let st = Command::new("chown")
        .args(["-hR", &format!("{}:{}", u.uid, u.gid)])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Runs `argv` as the test user with `XDG_RUNTIME_DIR` (and `HOME`) set to `xdg`, a
/// directory of the user's; stdout and stderr through files (a container keeps pipes).
pub fn run_as(xdg: &Path, argv: &[&str]) -> Output {
    run_as_user(NAME, xdg, argv)
}

/// [`run_as`] as the user `name`.
pub fn run_as_user(name: &str, xdg: &Path, argv: &[&str]) -> Output {
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", name, "--", "env"])
        .arg(format!("XDG_RUNTIME_DIR={}", xdg.display()))
        .arg(format!("XDG_DATA_HOME={}", xdg.join("data").display()))
        .arg(format!("HOME={}", xdg.display()))
        .args(argv);
    super::output_via_files(&mut cmd)
}

/// A bundle for the test user: a rootfs of busybox (its applets as links in `bin/`).
pub fn busybox_rootfs(dir: &Path) {
    let bin = dir.join("rootfs/bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
    for applet in [
        "sh", "cat", "id", "ls", "echo", "grep", "awk", "sort", "touch", "sleep", "hostname",
        "true",
    ] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
}
