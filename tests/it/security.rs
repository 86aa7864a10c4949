//! Escape regressions (issue 10), each reproducing an attack and asserting that it fails.
//!
//! - The store is private: a setuid-root binary of an image, or one that container root
//!   wrote into its upper directory or a volume, cannot be run by another local user from
//!   the host (it would read the host's `/etc/shadow`), while setuid binaries keep working
//!   inside containers.
//! - The sealed binary (CVE-2019-5736): a container process waits for a foreign process
//!   in its `/proc` (the runtime's init before `start`, an exec'd process before and after
//!   its execve), opens its `/proc/<pid>/exe` and, once every host process running the
//!   binary has exited, writes through it. The binary (a copy of the runtime or engine
//!   example, as an upgrade would leave it) must be byte-for-byte unchanged — with the
//!   default capabilities (the non-dumpable child and the sealed copy) and with
//!   `CAP_SYS_PTRACE` (the sealed copy alone).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let image = engine.images().import_dir(src.path(), &cfg, &r).unwrap();
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
    // the container's root (not nosuid) while it runs: an attached container's overlay is
    // mounted in its own mount namespace only, reached from the host through its init
    assert!(!dir.join("rootfs/suidcat").exists());
    assert_unusable_from_host(&PathBuf::from(format!("/proc/{}/root/suidcat", c.pid())));
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

// ---------------------------------------------------------------------------------------
// The sealed binary.

/// The attacker, run in the container with `$R` a directory the test also sees: it opens
/// the `exe` of the first process in its `/proc` that is not busybox (retrying every pid
/// until one opens, or until `$R/go`), says so in `$R/opened`, then, once the test has
/// created `$R/go` (no host process runs the binary any more, so it is no longer busy),
/// truncates and writes it through `/proc/self/fd/3` and reports `WROTE`, `REFUSED` or
/// `NOOPEN` in `$R/result`. `$R/scanned` appears after each pass over `/proc`.
const ATTACK: &str = r#"
me=$$
opened=
while [ -z "$opened" ] && [ ! -e $R/go ]; do
  for d in /proc/[0-9]*; do
    [ "$d" = /proc/$me ] && continue
    if command exec 3<"$d/exe" 2>/dev/null; then
      if [ /proc/self/fd/3 -ef /bin/busybox ]; then exec 3<&-; continue; fi
      opened="${d#/proc/} $(readlink /proc/self/fd/3)"
      break
    fi
  done
  : >$R/scanned
done
echo "$opened" >$R/opened.tmp && mv $R/opened.tmp $R/opened
while [ ! -e $R/go ]; do sleep 0.05; done
if [ -z "$opened" ]; then r=NOOPEN
elif (echo pwned >/proc/self/fd/3) 2>$R/write.err; then r=WROTE
else r=REFUSED; fi
echo $r >$R/result.tmp && mv $R/result.tmp $R/result
exec sleep 60
"#;

/// Waits until `path` exists (or `timeout` passes); whether it does.
fn wait_for(path: &Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A copy of the example binary `name` in a directory of its own (as an upgrade leaves the
/// binary that started a container beside a new one), and its bytes.
fn copied_example(name: &str) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::Builder::new()
        .prefix("cargohold-sealed")
        .tempdir()
        .unwrap();
    let bin = dir.path().join(name);
    fs::copy(common::example_bin(name), &bin).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let bytes = fs::read(&bin).unwrap();
    (dir, bin, bytes)
}

/// Prepares `rootfs` for the CVE's trick: `/bin/victim` is a `#!/proc/self/exe` script,
/// which makes whoever execs it run its own binary inside the container; the libraries
/// `bin` needs are there for it to start.
fn add_victim(rootfs: &Path, bin: &Path) {
    for lib in libraries(bin) {
        let to = rootfs.join(lib.strip_prefix("/").unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&lib, &to).unwrap();
    }
    let victim = rootfs.join("bin/victim");
    fs::write(&victim, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Lets the attacker write (every host process running the binary has exited), and
/// asserts that it did not: `bin` is what it was. Returns what the attacker reported.
fn verdict(report: &Path, bin: &Path, before: &[u8], log: &Path) -> String {
    fs::write(report.join("go"), "").unwrap();
    assert!(
        wait_for(&report.join("result"), Duration::from_secs(60)),
        "no result from the attacker"
    );
    let opened = fs::read_to_string(report.join("opened")).unwrap_or_default();
    let result = fs::read_to_string(report.join("result")).unwrap();
    let err = fs::read_to_string(report.join("write.err")).unwrap_or_default();
    let what = format!("opened {opened:?}, result {result:?}, write error {err:?}");
    assert_ne!(
        result.trim(),
        "WROTE",
        "the container wrote the binary: {what}"
    );
    // The exec'd binary is always there to open (dumpable after its execve): an attacker
    // that found nothing did not test anything.
    assert_ne!(
        result.trim(),
        "NOOPEN",
        "the attacker found no foreign process: {}",
        fs::read_to_string(log).unwrap_or_default()
    );
    assert!(
        fs::read(bin).unwrap() == before,
        "{} changed: {what}",
        bin.display()
    );
    what
}

/// Runs `cmd` (its output to `log`) and asserts success.
fn ok(cmd: &mut Command, log: &Path) {
    let st = cmd.status().unwrap();
    assert!(
        st.success(),
        "{cmd:?}: {st:?}\n{}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

/// A command whose stdin is /dev/null and whose output is appended to `log` (never a
/// pipe: a container's process may inherit it and keep it open).
fn logged(bin: &Path, log: &Path) -> Command {
    let f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut c = Command::new(bin);
    c.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    c
}

/// The exec of `/bin/victim`: the program itself runs as the container's process, kept
/// waiting on its stdin (in monitor mode: `CARGOHOLD_MONITOR` is in its environment) until
/// the attacker has opened something (or 10 s passed), so that the test does not race.
fn exec_self(mut cmd: Command, report: &Path) {
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    wait_for(&report.join("opened"), Duration::from_secs(10));
    drop(child.stdin.take());
    child.wait().unwrap();
}

/// Deletes the runtime CLI's container when dropped.
struct RuntimeGuard<'a>(&'a Path, &'a Path, &'a str);

impl Drop for RuntimeGuard<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.0)
            .arg("--root")
            .arg(self.1)
            .args(["delete", "--force", self.2])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The runtime CLI: `create` (its init waits for `start` in the runtime's binary, pid 1 of
/// the container), `exec -d` of the attacker, `exec` of `/bin/victim`, `start`.
///
/// `rootless`: all of it as the unprivileged test user, from a copy of the binary that
/// user owns (so that the container's root, the user, could write it but for the seal),
/// the container in a user namespace mapping root to the user.
fn runtime_binary_survives(ptrace: bool, rootless: bool) {
    let (bin_dir, bin, before) = copied_example("runtime");
    let state = bin_dir.path().join("state");
    let log = bin_dir.path().join("log");
    let mut bundle = common::Bundle::new(&["sleep", "60"]);
    add_victim(&bundle.rootfs(), &bin);
    if rootless {
        let u = common::rootless::user();
        bundle.edit(|spec| {
            let mut v = serde_json::to_value(&*spec).unwrap();
            v["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"type": "user"}));
            v["linux"]["uidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": u.uid, "size": 1}]);
            v["linux"]["gidMappings"] =
                serde_json::json!([{"containerID": 0, "hostID": u.gid, "size": 1}]);
            for m in v["mounts"].as_array_mut().unwrap() {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| !o.as_str().unwrap_or("").starts_with("gid="));
                }
            }
            *spec = serde_json::from_value(v).unwrap();
        });
        for d in [bin_dir.path(), bundle.path()] {
            common::rootless::chown_tree(d);
        }
        fs::write(&log, "").unwrap();
        common::rootless::chown_tree(&log);
    }
    if ptrace {
        bundle.edit(|spec| {
            let mut v = serde_json::to_value(&*spec).unwrap();
            for set in ["bounding", "effective", "permitted"] {
                v["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push("CAP_SYS_PTRACE".into());
            }
            *spec = serde_json::from_value(v).unwrap();
        });
    }
    let report = bundle.rootfs().join("tmp");
    let rt = |args: &[&str]| {
        let mut c = if rootless {
            let mut c = logged(Path::new("runuser"), &log);
            c.args(["-u", common::rootless::NAME, "--"]).arg(&bin);
            c
        } else {
            logged(&bin, &log)
        };
        c.arg("--root").arg(&state).args(args);
        c
    };
    // Each variant its own id: the default cgroup is `/cargohold-<id>`, shared by two
    // containers of one id in different state roots, and one test's `delete --force`
    // would kill the other's processes.
    let id = match (ptrace, rootless) {
        (_, true) => "sealed-rootless",
        (true, false) => "sealed-ptrace",
        (false, false) => "sealed",
    };
    let _guard = RuntimeGuard(&bin, &state, id);
    let b = bundle.path().to_str().unwrap();
    ok(&mut rt(&["create", "--bundle", b, id]), &log);
    if rootless {
        // its init (the runtime, not dumpable) cannot be entered by its user before it
        // starts: refused, saying so, rather than run outside the container
        let st = rt(&["exec", id, "true"]).status().unwrap();
        assert!(!st.success());
        let said = fs::read_to_string(&log).unwrap();
        assert!(said.contains("before it starts"), "{said}");
        ok(&mut rt(&["start", id]), &log);
    }
    ok(
        &mut rt(&["exec", "-d", "--env", "R=/tmp", id, "sh", "-c", ATTACK]),
        &log,
    );
    assert!(wait_for(&report.join("scanned"), Duration::from_secs(10)));
    exec_self(
        rt(&[
            "exec",
            "--env",
            "CARGOHOLD_MONITOR=1",
            id,
            "/bin/victim",
            // The runtime CLI enters cargohold::init() (so monitor mode) only for the
            // commands that enter containers: an argument that names one.
            "exec",
        ]),
        &report,
    );
    if !rootless {
        ok(&mut rt(&["start", id]), &log);
    }
    let what = verdict(&report, &bin, &before, &log);
    eprintln!("runtime, ptrace {ptrace}, rootless {rootless}: {what}");
}

#[test]
#[ignore = "requires root"]
fn runtime_binary_cannot_be_overwritten_from_a_container() {
    runtime_binary_survives(false, false);
}

#[test]
#[ignore = "requires root"]
fn runtime_binary_cannot_be_overwritten_with_cap_sys_ptrace() {
    runtime_binary_survives(true, false);
}

/// CVE-2019-5736 rootless (issue 15): the runtime run by an unprivileged user from a
/// binary the user owns, attacked from the container whose root is that user.
#[test]
#[ignore = "requires root (to make the test user)"]
fn rootless_runtime_binary_cannot_be_overwritten_from_a_container() {
    runtime_binary_survives(false, true);
}

/// Removes the engine CLI's container when dropped.
struct EngineGuard<'a>(&'a Path, &'a Path);

impl Drop for EngineGuard<'_> {
    fn drop(&mut self) {
        let _ = Command::new(self.0)
            .arg("--root")
            .arg(self.1)
            .args(["rm", "-f", "sealed"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The engine CLI: one copy runs the attacker detached (its monitor keeps that copy busy),
/// a second copy (the upgrade) execs `/bin/victim` into it.
fn engine_binary_survives(ptrace: bool) {
    let (dir_a, bin_a, before_a) = copied_example("engine");
    let (dir_b, bin_b, before_b) = copied_example("engine");
    let root = dir_a.path().join("root");
    let log = dir_a.path().join("log");
    let report = dir_b.path().join("report");
    fs::create_dir(&report).unwrap();
    let rootfs = dir_b.path().join("rootfs");
    common::make_rootfs(&rootfs);
    add_victim(&rootfs, &bin_b);
    let tarball = dir_b.path().join("image.tar");
    common::tar_create(&rootfs, &tarball);
    let engine = |bin: &Path, args: &[&str]| {
        let mut c = logged(bin, &log);
        c.arg("--root").arg(&root).args(args);
        c
    };
    let _guard = EngineGuard(&bin_a, &root);
    ok(
        &mut engine(
            &bin_a,
            &["import", tarball.to_str().unwrap(), "localhost/sealed:1"],
        ),
        &log,
    );
    let volume = format!("{}:/report", report.display());
    let mut run = vec!["run", "-d", "--name", "sealed", "-v", &volume];
    run.extend(["-e", "R=/report"]);
    if ptrace {
        run.extend(["--cap-add", "SYS_PTRACE"]);
    }
    run.extend(["localhost/sealed:1", "sh", "-c", ATTACK]);
    ok(&mut engine(&bin_a, &run), &log);
    assert!(wait_for(&report.join("scanned"), Duration::from_secs(10)));
    exec_self(
        engine(
            &bin_b,
            &[
                "exec",
                "-i",
                "-e",
                "CARGOHOLD_MONITOR=1",
                "sealed",
                "/bin/victim",
            ],
        ),
        &report,
    );
    let what = verdict(&report, &bin_b, &before_b, &log);
    eprintln!("engine, ptrace {ptrace}: {what}");
    assert!(fs::read(&bin_a).unwrap() == before_a);
}

#[test]
#[ignore = "requires root"]
fn engine_binary_cannot_be_overwritten_from_a_container() {
    engine_binary_survives(false);
}

#[test]
#[ignore = "requires root"]
fn engine_binary_cannot_be_overwritten_with_cap_sys_ptrace() {
    engine_binary_survives(true);
}
