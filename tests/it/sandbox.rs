//! `Sandbox` (issue 15): a command over a read-only view of a host directory, its
//! limits, timeout and output cap, and nothing left when its owner is killed.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cargohold::Sandbox;

/// A directory with a static busybox as `bin/` (the host's `/bin/busybox`) and a data file.
fn small_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("bin")).unwrap();
    fs::copy("/bin/busybox", d.path().join("bin/busybox")).unwrap();
    for applet in [
        "sh", "cat", "echo", "ls", "touch", "sleep", "yes", "head", "tail", "true",
    ] {
        std::os::unix::fs::symlink("busybox", d.path().join("bin").join(applet)).unwrap();
    }
    fs::create_dir(d.path().join("data")).unwrap();
    fs::write(d.path().join("data/in.txt"), "from the host\n").unwrap();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
    d
}

/// Names under `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
#[ignore = "requires root"]
fn a_command_over_a_read_only_view_with_stdin_and_no_network() {
    let root = small_root();
    let before = names(root.path());
    let out = Sandbox::new(root.path())
        .command([
            "sh",
            "-c",
            "cat /data/in.txt; cat; busybox awk 'NR>2{print $1}' /proc/net/dev; \
             touch /data/x 2>/dev/null || echo ro; \
             echo w > /tmp/f && cat /tmp/f; echo err >&2; exit 3",
        ])
        .stdin("fed\n")
        .run()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "from the host\nfed\nlo:\nro\nw\n"
    );
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    assert!(!out.timed_out && !out.oom_killed() && !out.success());
    // nothing was made in the host directory, not even a mount point
    assert_eq!(names(root.path()), before);
    // the state (a bundle holds the command line and environment) is root's alone
    let mode = fs::metadata(Sandbox::state_dir())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    assert!(!root.path().join("data/x").exists());
}

#[test]
#[ignore = "requires root"]
fn the_timeout_kills_and_says_so() {
    let root = small_root();
    let t0 = Instant::now();
    let out = Sandbox::new(root.path())
        .command(["sh", "-c", "echo started; sleep 100 & sleep 100"])
        .timeout(Duration::from_millis(500))
        .run()
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));
    assert_eq!(out.stdout, b"started\n");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
}

#[test]
#[ignore = "requires root"]
fn memory_pids_cpu_and_output_limits() {
    let root = small_root();
    // memory: `tail` of an endless line keeps it all
    let out = Sandbox::new(root.path())
        .command(["tail", "/dev/zero"])
        .memory(32 << 20)
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(out.oom_killed() && !out.timed_out, "{:?}", out.status);
    // output: the first bytes kept, the rest read and dropped
    let out = Sandbox::new(root.path())
        .command(["sh", "-c", "yes | head -c 100000; echo done >&2"])
        .output_limit(1000)
        .run()
        .unwrap();
    assert_eq!(out.stdout.len(), 1000);
    assert!(out.stdout_truncated && !out.stderr_truncated);
    assert_eq!(out.stderr, b"done\n");
    assert!(out.success());
    // pids: past the limit, forks fail (the shell says so and goes on)
    let out = Sandbox::new(root.path())
        .command([
            "sh",
            "-c",
            "n=0; while [ $n -lt 20 ]; do sleep 5 & n=$((n+1)); done; echo tried $n",
        ])
        .pids(5)
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fork"), "{err} / {:?}", out.status);
    // CPU time: SIGXCPU past the limit
    let out = Sandbox::new(root.path())
        .command(["sh", "-c", "while :; do :; done"])
        .cpu_time(Duration::from_secs(1))
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert!(!out.timed_out);
    assert!(
        matches!(out.status.signal(), Some(libc::SIGXCPU | libc::SIGKILL)),
        "{:?}",
        out.status
    );
}

#[test]
#[ignore = "requires root"]
fn bad_input_is_named() {
    let err = Sandbox::new("/nonexistent-dir")
        .command(["true"])
        .run()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent-dir is not a directory"),
        "{err}"
    );
    let root = small_root();
    let err = Sandbox::new(root.path())
        .command(["no-such-command"])
        .run()
        .unwrap_err();
    assert!(err.to_string().contains("no-such-command"), "{err}");
}

/// The example program, killed with SIGKILL while its sandbox runs: no process of the
/// sandbox is left, no mount names it, and the next sandbox run removes its state.
#[test]
#[ignore = "requires root"]
fn nothing_outlives_a_killed_owner() {
    let root = small_root();
    let marker = format!("marker{}", std::process::id());
    let mut owner = Command::new(crate::common::example_bin("sandbox"))
        .arg(root.path())
        .args(["sh", "-c", &format!("sleep 1000 & wait; : {marker}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // the sandbox's processes: the marker on their command line (the owner's has it too)
    let owner_pid = owner.id().to_string();
    let sleeping = || {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name().to_string_lossy() != owner_pid.as_str()
                    && fs::read(e.path().join("cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while sleeping() == 0 {
        assert!(Instant::now() < deadline, "the sandbox never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let bundles = Sandbox::state_dir().join("bundles");
    let id = format!("sandbox-{}-0", owner.id());
    assert!(bundles.join(&id).exists());
    owner.kill().unwrap();
    owner.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sleeping() > 0 {
        assert!(Instant::now() < deadline, "the sandbox outlived its owner");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&id), "{mounts}");
    // the next run (of any program) removes what only a later process can — once the
    // orphaned init has been reaped by pid 1 (its cgroup is busy until then): a clean-up
    // that cannot finish leaves the bundle for the next one
    Sandbox::new(root.path()).command(["true"]).run().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while bundles.join(&id).exists() || !crate::common::cgroups_named(&id).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left: bundle {} cgroups {:?}",
            bundles.join(&id).exists(),
            crate::common::cgroups_named(&id)
        );
        std::thread::sleep(Duration::from_millis(100));
        Sandbox::clean_up().unwrap();
    }
}

/// A sandbox over an image's files: read-only, no network, a tmpfs, the sandbox's user,
/// stdin fed; the timeout; nothing of it left in the engine afterwards.
#[test]
#[ignore = "requires root"]
fn over_an_image() {
    let e = crate::common::busybox().engine("cargohold-sandbox-image");
    let image = e.engine.image(&e.reference).unwrap();
    let out = Sandbox::image(&e.engine, &image)
        .command([
            "sh",
            "-c",
            "cat; echo w > /tmp/f && cat /tmp/f; touch /x 2>/dev/null || echo ro; \
             busybox awk 'NR>2{print $1}' /proc/net/dev; busybox id -u",
        ])
        .stdin("fed\n")
        .user(1000, 1000)
        .timeout(Duration::from_secs(30))
        .run()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "fed\nw\nro\nlo:\n1000\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.success());
    let out = Sandbox::image(&e.engine, &image)
        .command(["sleep", "100"])
        .timeout(Duration::from_millis(300))
        .run()
        .unwrap();
    assert!(out.timed_out);
    assert_eq!(out.status.signal(), Some(libc::SIGKILL));
    assert!(e.engine.containers().list().unwrap().is_empty());
}
