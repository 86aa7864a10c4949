//! Escape regressions (issue 10): each test tries an attack from inside a container and
//! asserts that it fails, with a control (where one is harmless) showing that the probe
//! would see the attack succeed.
//!
//! Covered elsewhere, not repeated here: the private store and the sealed binary
//! (tests/it/security.rs); `mount`, `unshare -U -n`, `clone(CLONE_NEWUSER|CLONE_NEWNET)`,
//! `keyctl`, `io_uring_setup` and `socket(AF_ALG)` under Docker's profile on the runtime
//! (tests/it/seccomp.rs); user and mount namespaces and `mount` from a default engine
//! container, and setuid escalation with and without `no_new_privileges`
//! (tests/it/security_opts.rs). Hostile tar layers are the image layer's tests.
//!
//! Raw syscalls busybox has no applet for are made by the host's perl (`syscall()`), with
//! the host's `/usr` bound read-only into the container (as tests/it/seccomp.rs does); the
//! 32-bit and x32 entry points by tiny static ELF programs made here, byte by byte.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use cargohold::oci_spec::runtime::MountBuilder;
use cargohold::{Image, Mount, SeccompProfile};

use crate::common::{self, stdout, Bundle, RuntimeCli, TestEngine};

/// A host directory outside every rootfs holding `marker` with a secret in it.
struct HostMarker {
    dir: tempfile::TempDir,
    secret: String,
}

impl HostMarker {
    fn new() -> HostMarker {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-host-marker")
            .tempdir()
            .unwrap();
        let secret = common::unique("host-secret");
        fs::write(dir.path().join("marker"), &secret).unwrap();
        HostMarker { dir, secret }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("marker")
    }

    /// A script that tries to read the marker through the working directory (`..` climbs
    /// past the container's root when the cwd lies outside it) and through
    /// `/proc/self/cwd`, then lists the container's open fds with their targets.
    fn probe(&self) -> String {
        let up = "../".repeat(40);
        let m = self.path().display().to_string();
        format!(
            "cat {up}{m} 2>/dev/null; cat /proc/self/cwd/{up}{m} 2>/dev/null; \
             echo cwd=$(readlink /proc/self/cwd); \
             for f in /proc/self/fd/*; do echo \"fd $f $(readlink $f)\"; done"
        )
    }

    /// Asserts that a probe's output shows no escape: no secret, a cwd inside the
    /// container, no fd but stdio (and the shell's own fd of `/proc/self/fd`).
    fn assert_contained(&self, out: &str, what: &str) {
        assert!(
            !out.contains(&self.secret),
            "{what}: read the host marker: {out}"
        );
        let cwd = out
            .lines()
            .find_map(|l| l.strip_prefix("cwd="))
            .unwrap_or_else(|| panic!("{what}: no cwd in {out}"));
        assert!(
            !cwd.contains("cargohold") && !cwd.contains("cgroup") && cwd.starts_with('/'),
            "{what}: cwd {cwd:?} outside the container: {out}"
        );
        for l in out.lines().filter(|l| l.starts_with("fd ")) {
            let mut parts = l.split(' ');
            let (_, fd, target) = (parts.next(), parts.next().unwrap(), parts.next());
            let n: u32 = fd.rsplit('/').next().unwrap().parse().unwrap_or(u32::MAX);
            let target = target.unwrap_or("");
            let stdio = n < 3
                && (target.starts_with("pipe:") || target == "/dev/null" || target.is_empty());
            assert!(
                stdio || target.ends_with("/fd") || target.is_empty(),
                "{what}: fd {n} -> {target:?} open in the container: {out}"
            );
        }
    }
}

/// A busybox `sleep 300` run detached through the runtime CLI under an id made from
/// `prefix`; the bundle must outlive the container.
fn run_sleeping(cli: &RuntimeCli, prefix: &str) -> (Bundle, String) {
    let b = Bundle::new(&["sleep", "300"]);
    let id = common::unique(prefix);
    let o = cli.out(&[
        "run",
        "--detach",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert!(o.status.success(), "{o:?}");
    (b, id)
}

fn set_cwd(b: &mut Bundle, cwd: &str) {
    let cwd = cwd.to_owned();
    b.edit(move |s| {
        let mut p = s.process().clone().unwrap();
        p.set_cwd(cwd.into());
        s.set_process(Some(p));
    });
}

/// CVE-2024-21626: `process.cwd` = `/proc/self/fd/N` names a directory fd the runtime
/// leaked into the container (runc's was the host's `/sys/fs/cgroup`), and `..` from there
/// walks the host. Through the library, the runtime CLI's `run`, and its `exec`.
#[test]
#[ignore = "requires root"]
fn runtime_cwd_in_a_leaked_fd_stays_in_the_container() {
    let marker = HostMarker::new();
    let rt = common::runtime();
    let cli = RuntimeCli::new("cargohold-escape-cli");
    for n in 3..=10 {
        let cwd = format!("/proc/self/fd/{n}");
        let mut b = Bundle::new(&["sh", "-c", &marker.probe()]);
        set_cwd(&mut b, &cwd);
        // The library: refused, or run inside the container.
        match common::run(&rt, &b) {
            Ok(ran) => marker.assert_contained(&ran.stdout, &format!("run, cwd {cwd}")),
            Err(e) => assert!(e.to_string().contains("working directory"), "{e}"),
        }
        // The CLI's run.
        let id = common::unique("esc-cwd");
        let o = cli.out(&["run", "--bundle", b.path().to_str().unwrap(), &id]);
        let out = String::from_utf8_lossy(&o.stdout);
        if o.status.success() {
            marker.assert_contained(&out, &format!("runtime run, cwd {cwd}"));
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("working directory"), "{err}");
        }
        let _ = cli.out(&["delete", "--force", &id]);
    }

    // exec into a running container with that cwd.
    let (_b, id) = run_sleeping(&cli, "esc-exec");
    let mut escaped = Vec::new();
    for n in 3..=10 {
        let cwd = format!("/proc/self/fd/{n}");
        let o = cli.out(&["exec", "--cwd", &cwd, &id, "sh", "-c", &marker.probe()]);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            if std::panic::catch_unwind(|| marker.assert_contained(&out, &cwd)).is_err() {
                escaped.push(format!("exec cwd {cwd}: {out}"));
            }
        } else {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("working directory"), "{err}");
        }
    }
    let _ = cli.out(&["delete", "--force", &id]);
    assert!(escaped.is_empty(), "{escaped:#?}");
}

/// The attack with a directory fd certainly open: `runtime exec --preserve-fds 1` from a
/// shell that opened fd 3 on the host directory of the marker (what a leaked cgroup
/// directory fd is on a cgroup v2 host), cwd `/proc/self/fd/3`. The preserved fd itself is
/// the caller's to give; the cwd through it must not lead out. The control, with cwd `/`,
/// reads the marker through the fd: the probe sees what it looks for.
#[test]
#[ignore = "requires root"]
fn runtime_exec_cwd_in_a_preserved_host_dir_fd_is_refused() {
    let marker = HostMarker::new();
    let cli = RuntimeCli::new("cargohold-escape-cli");
    let (_b, id) = run_sleeping(&cli, "esc-pfd");
    let exec = |cwd: &str, script: &str| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(r#"exec 3<"$0"; exec "$@""#)
            .arg(marker.dir.path())
            .arg(common::example_bin("runtime"))
            .arg("--root")
            .arg(cli.root.path())
            .args([
                "exec",
                "--preserve-fds",
                "1",
                "--cwd",
                cwd,
                &id,
                "sh",
                "-c",
                script,
            ])
            .stdin(Stdio::null());
        common::output_via_files(&mut c)
    };
    let control = exec("/", "cat /proc/self/fd/3/marker");
    assert_eq!(
        String::from_utf8_lossy(&control.stdout),
        marker.secret,
        "{control:?}"
    );
    let o = exec("/proc/self/fd/3", &marker.probe());
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let _ = cli.out(&["delete", "--force", &id]);
    assert!(!out.contains(&marker.secret), "escaped: {out}");
    assert!(!o.status.success(), "{out}");
    assert!(err.contains("outside the container's root"), "{err}");
}

fn busybox_env() -> TestEngine {
    common::busybox().engine("cargohold-escape")
}

/// The same attack on the engine: a container and an exec whose working directory is
/// `/proc/self/fd/N`.
#[test]
#[ignore = "requires root"]
fn engine_cwd_in_a_leaked_fd_stays_in_the_container() {
    let marker = HostMarker::new();
    let e = busybox_env();
    for n in 3..=10 {
        let cwd = format!("/proc/self/fd/{n}");
        match e
            .sh(&marker.probe())
            .current_dir(&cwd)
            .auto_remove(true)
            .output()
        {
            Ok(out) => marker.assert_contained(&stdout(&out), &format!("run, cwd {cwd}")),
            Err(err) => assert!(err.to_string().contains("working directory"), "{err}"),
        }
    }
    let mut c = e.cmd(["sleep", "300"]).spawn().unwrap();
    c.kill_on_drop(true);
    for n in 3..=10 {
        let cwd = format!("/proc/self/fd/{n}");
        match c
            .exec(["sh", "-c", &marker.probe()])
            .current_dir(&cwd)
            .output()
        {
            Ok(out) => marker.assert_contained(&stdout(&out), &format!("exec, cwd {cwd}")),
            Err(err) => assert!(err.to_string().contains("working directory"), "{err}"),
        }
    }
}

/// Host mounts (our mount namespace) at or under `path`.
fn host_mounts_under(path: &Path) -> Vec<String> {
    let p = path.display().to_string();
    common::mounts_with(&p)
}

/// Runs the bundle, asserting first that the run (failed or not) made nothing in `host`
/// (which holds only `host-file`).
fn run_writing_nothing_on(
    rt: &cargohold::runtime::Runtime,
    b: &Bundle,
    host: &Path,
) -> common::Ran {
    let ran = common::run(rt, b);
    assert_eq!(
        names_in(host),
        ["host-file"],
        "the runtime wrote on the host"
    );
    ran.unwrap()
}

/// The names in a directory.
fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}

/// A bind mount of `source` at `dest` for a bundle.
fn bind(source: &Path, dest: &str) -> cargohold::oci_spec::runtime::Mount {
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(vec!["rbind".to_string(), "rw".into()])
        .build()
        .unwrap()
}

fn add_mounts(b: &mut Bundle, extra: Vec<cargohold::oci_spec::runtime::Mount>) {
    b.edit(|s| {
        let mut m = s.mounts().clone().unwrap();
        m.extend(extra);
        s.set_mounts(Some(m));
    });
}

/// A host directory the container must not reach (holding `host-file`) and a volume
/// directory holding `volume-file` with `content`.
fn host_target_and_volume(content: &str) -> (tempfile::TempDir, tempfile::TempDir) {
    let target = tempfile::Builder::new()
        .prefix("cargohold-host-target")
        .tempdir()
        .unwrap();
    fs::write(target.path().join("host-file"), "host").unwrap();
    let volume = tempfile::tempdir().unwrap();
    fs::write(volume.path().join("volume-file"), content).unwrap();
    (target, volume)
}

/// A mount destination that is a symlink out of the rootfs (absolute or climbing with
/// `..`) is resolved inside the rootfs: the volume shows up in the container, nothing
/// lands on the host path.
#[test]
#[ignore = "requires root"]
fn symlinked_mount_destinations_stay_in_the_rootfs() {
    let rt = common::runtime();
    let (target, volume) = host_target_and_volume("from the volume");
    let t = target.path().display().to_string();
    for d in ["rel", "tmp"] {
        fs::create_dir(target.path().join(d)).unwrap();
    }
    let script = "cat /etc/abs/volume-file; echo; cat /etc/rel/volume-file; echo; \
                  ls /etc/tmp; touch /etc/abs/written /etc/rel/written /etc/tmp/written; \
                  echo done";
    let mut b = Bundle::new(&["sh", "-c", script]);
    let etc = b.rootfs().join("etc");
    // Three host directories: the host's paths exist, so a runtime following the links
    // on the host would mount (and the container write) there.
    symlink(&t, etc.join("abs")).unwrap();
    symlink(
        format!("{}{}/rel", "../".repeat(20), &t[1..]),
        etc.join("rel"),
    )
    .unwrap();
    symlink(format!("{t}/tmp"), etc.join("tmp")).unwrap();
    let tmpfs = MountBuilder::default()
        .destination("/etc/tmp")
        .typ("tmpfs")
        .source("tmpfs")
        .build()
        .unwrap();
    add_mounts(
        &mut b,
        vec![
            bind(volume.path(), "/etc/abs"),
            bind(volume.path(), "/etc/rel"),
            tmpfs,
        ],
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    assert_eq!(
        ran.stdout, "from the volume\nfrom the volume\ndone\n",
        "{}",
        ran.stderr
    );
    // The symlinks' targets were made inside the rootfs, the host's was left alone.
    assert!(b.rootfs().join(&t[1..]).is_dir());
    let mut host: Vec<_> = fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    host.sort();
    assert_eq!(host, ["host-file", "rel", "tmp"]);
    for d in ["rel", "tmp"] {
        assert_eq!(fs::read_dir(target.path().join(d)).unwrap().count(), 0);
    }
    assert!(host_mounts_under(target.path()).is_empty());
}

/// A file bind mount whose destination is a dangling symlink to a host path that does not
/// exist (its directory does): the file the mount needs is made inside the rootfs, at
/// the link's target resolved there, never on the host.
#[test]
#[ignore = "requires root"]
fn a_file_mount_onto_a_dangling_symlink_creates_nothing_on_the_host() {
    let rt = common::runtime();
    let (target, volume) = host_target_and_volume("from the volume");
    let t = target.path().display().to_string();
    let mut b = Bundle::new(&["sh", "-c", "cat /etc/linked; echo; echo done"]);
    for link in ["linked", "climbing"] {
        let to = match link {
            "linked" => format!("{t}/made-by-the-runtime"),
            _ => format!("{}{}/made-by-the-runtime-too", "../".repeat(20), &t[1..]),
        };
        symlink(to, b.rootfs().join("etc").join(link)).unwrap();
    }
    let file = volume.path().join("volume-file");
    add_mounts(
        &mut b,
        vec![bind(&file, "/etc/linked"), bind(&file, "/etc/climbing")],
    );
    let ran = run_writing_nothing_on(&rt, &b, target.path());
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    assert_eq!(ran.stdout, "from the volume\ndone\n", "{}", ran.stderr);
    assert!(b
        .rootfs()
        .join(&t[1..])
        .join("made-by-the-runtime")
        .is_file());
    assert!(host_mounts_under(target.path()).is_empty());
}

/// In a user namespace the default devices are bind mounts of the host's: an image whose
/// `/dev/null` (no `/dev` tmpfs in the spec) is a dangling symlink to a host path gets a
/// real `/dev/null` in its place; nothing is made on the host.
#[test]
#[ignore = "requires root"]
fn a_device_bound_over_a_dangling_symlink_creates_nothing_on_the_host() {
    let rt = common::runtime();
    let (target, _volume) = host_target_and_volume("unused");
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo x > /dev/null && test -c /dev/null && echo ok",
    ]);
    b.edit(|s| {
        let mut mounts = s.mounts().clone().unwrap();
        mounts.retain(|m| !m.destination().starts_with("/dev"));
        s.set_mounts(Some(mounts));
    });
    let dev = b.rootfs().join("dev");
    symlink(target.path().join("made-by-the-runtime"), dev.join("null")).unwrap();
    b.map_root_to(100_000);
    let ran = run_writing_nothing_on(&rt, &b, target.path());
    assert_eq!(ran.stdout, "ok\n", "{}", ran.stderr);
}

/// CVE-2021-30465 class: while containers start, a thread swaps their mount destination
/// between a directory and a symlink to a host directory. Every container that starts
/// sees its volume (the mount landed inside its rootfs), and the host directory is never
/// written or mounted over.
#[test]
#[ignore = "requires root"]
fn mount_destination_swapped_for_a_symlink_while_starting() {
    let rt = common::runtime();
    let (target, volume) = host_target_and_volume("from the volume\n");
    // The mount is at /data, or, when /data was a symlink at that moment, at the link's
    // target resolved in the rootfs; the swapping goes on while the container runs, so the
    // script gets into the volume first.
    let script = format!(
        "if cd /data 2>/dev/null && [ -f volume-file ]; then :; else cd {}; fi; \
         cat volume-file && touch written-$(cat /proc/sys/kernel/random/uuid) && echo ok",
        target.path().display()
    );
    let mut b = Bundle::new(&["sh", "-c", &script]);
    let tmpfs = MountBuilder::default()
        .destination("/tmpdata")
        .typ("tmpfs")
        .source("tmpfs")
        .build()
        .unwrap();
    add_mounts(&mut b, vec![bind(volume.path(), "/data"), tmpfs]);
    let rootfs = b.rootfs();
    let (data, tmpdata) = (rootfs.join("data"), rootfs.join("tmpdata"));
    fs::create_dir(&data).unwrap();
    fs::create_dir(&tmpdata).unwrap();

    let stop = AtomicBool::new(false);
    let (mut started, mut lost, mut refused, mut swaps) = (0, 0, 0, 0u64);
    std::thread::scope(|s| {
        // Stops the swapper however this scope ends (a failed assertion too).
        let _stop = StopOnDrop(&stop);
        let swapper = s.spawn(|| {
            let t = target.path();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for p in [&data, &tmpdata] {
                    let link = p.with_extension("link");
                    let _ = symlink(t, &link);
                    let _ = fs::remove_dir(p);
                    let _ = fs::rename(&link, p);
                    std::thread::yield_now();
                    let _ = fs::remove_file(p);
                    let _ = fs::create_dir(p);
                }
                n += 1;
            }
            n
        });
        for _ in 0..40 {
            match common::run(&rt, &b) {
                Ok(ran) if ran.status.success() => {
                    assert_eq!(ran.stdout, "from the volume\nok\n", "{}", ran.stderr);
                    started += 1;
                }
                // The swapper's rmdir of the mount point on the host detached the mount in
                // the container's namespace (Linux >= 3.18): the volume is gone, nothing
                // else took its place.
                Ok(ran) => {
                    assert!(
                        ran.stderr.contains("can't open 'volume-file'"),
                        "{}",
                        ran.stderr
                    );
                    lost += 1;
                }
                // A spawn error (the destination changed under the runtime): refused.
                Err(_) => refused += 1,
            }
            assert!(host_mounts_under(target.path()).is_empty());
        }
        stop.store(true, Ordering::Relaxed);
        swaps = swapper.join().unwrap();
    });
    assert!(
        started > 0,
        "no container saw its volume ({lost} lost it, {refused} refused)"
    );
    assert!(swaps > 40, "{swaps} swaps");
    let host: Vec<_> = fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(host, ["host-file"]);
    assert!(host_mounts_under(target.path()).is_empty());
    // The volume got every write (the mount always landed on it).
    let written = fs::read_dir(volume.path()).unwrap().count() - 1;
    assert_eq!(written, started);
}

/// Sets its flag when dropped.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Writes to `/proc/sys`, `/proc/sysrq-trigger` and `/sys` fail in a default container
/// (read-only mounts, as Docker's); a privileged one (the control) may write.
#[test]
#[ignore = "requires root"]
fn proc_sys_sysrq_and_sys_are_read_only() {
    let e = busybox_env();
    let overcommit = fs::read_to_string("/proc/sys/vm/overcommit_memory").unwrap();
    let overcommit = overcommit.trim();
    let probe =
        |path: &str, value: &str| format!("(echo {value} > {path}) 2>&1; echo \"{path}=$?\"; ");
    let script = [
        probe("/proc/sys/kernel/hostname", "pwned"),
        probe("/proc/sys/vm/overcommit_memory", overcommit),
        // 'h' only prints the help to the kernel log, were it ever allowed.
        probe("/proc/sysrq-trigger", "h"),
        probe("/sys/kernel/mm/ksm/run", "0"),
        probe("/sys/fs/cgroup/pids/pids.max", "max"),
        "mount -o remount,rw /proc/sys 2>&1; echo remount=$?; hostname".to_owned(),
    ]
    .concat();
    let out = e.sh(&script).auto_remove(true).output().unwrap();
    let s = stdout(&out);
    for path in [
        "/proc/sys/kernel/hostname",
        "/proc/sys/vm/overcommit_memory",
        "/proc/sysrq-trigger",
        "/sys/kernel/mm/ksm/run",
    ] {
        let status = s
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{path}=")))
            .unwrap_or_else(|| panic!("no {path} in {s}"));
        assert_ne!(status, "0", "{path} was written: {s}");
    }
    assert!(s.contains("Read-only file system"), "{s}");
    assert!(!s.contains("remount=0"), "{s}");
    assert!(!s.contains("pwned"), "{s}");

    // The control: a privileged container's /proc/sys is writable (its own hostname).
    let out = e
        .sh(&script)
        .privileged(true)
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(
        s.contains("/proc/sys/kernel/hostname=0") && s.contains("pwned"),
        "{s}"
    );
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "pwned"
    );
}

/// `mknod` of the host's root disk (major:minor of `/`'s mount in mountinfo) works with
/// Docker's CAP_MKNOD, but opening it (for reading or writing) is refused by the device
/// cgroup, and no host disk is in `/dev`. The control: a node of `/dev/kmsg` (1:11), which
/// the device cgroup refuses too, opens in a privileged container (all devices allowed).
/// (A privileged container cannot open the mounted root disk either, with EPERM from the
/// kernel whatever the cgroup says, so the disk itself makes no control.) Opens copy
/// nothing (`count=0`).
#[test]
#[ignore = "requires root"]
fn host_disk_cannot_be_opened() {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dev = mountinfo
        .lines()
        .find(|l| l.split(' ').nth(4) == Some("/"))
        .and_then(|l| l.split(' ').nth(2))
        .unwrap()
        .to_owned();
    let (major, minor) = dev.split_once(':').unwrap();
    let kind = if Path::new(&format!("/sys/dev/block/{dev}")).exists() {
        "b"
    } else {
        "c"
    };
    let script = format!(
        "ls /dev; busybox mknod /tmp/disk {kind} {major} {minor} 2>&1; echo mknod=$?; \
         busybox mknod /dev/disk {kind} {major} {minor} 2>&1; echo devmknod=$?; \
         busybox mknod /tmp/kmsg c 1 11 2>&1; echo kmsgmknod=$?; \
         dd if=/tmp/disk of=/dev/null count=0 2>&1; echo open=$?; \
         dd if=/dev/disk of=/dev/null count=0 2>&1; echo devopen=$?; \
         dd if=/dev/zero of=/tmp/disk count=0 conv=notrunc 2>&1; echo write=$?; \
         dd if=/tmp/kmsg of=/dev/null count=0 2>&1; echo kmsg=$?"
    );
    let e = busybox_env();
    let out = e.sh(&script).auto_remove(true).output().unwrap();
    let s = stdout(&out);
    assert_eq!(probe_value(&s, "mknod"), "0", "CAP_MKNOD, as Docker: {s}");
    for open in ["open", "devopen", "write", "kmsg"] {
        assert_ne!(probe_value(&s, open), "0", "{open}: {s}");
    }
    assert!(s.contains("Operation not permitted"), "{s}");
    for name in ["vda", "sda", "nvme0n1", "xvda", "kmsg", "mem"] {
        assert!(!s.lines().any(|l| l == name), "{name} in /dev: {s}");
    }
    // The control.
    let out = e
        .sh(&script)
        .privileged(true)
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert_eq!(probe_value(&s, "kmsg"), "0", "{s}");
}

const PERL: &str = "/usr/bin/perl";

/// An image with `lib`/`lib64` links into `/usr` (bound from the host at run time) and the
/// 32-bit/x32 probes at `/probe-NAME`.
fn probe_image(e: &TestEngine) -> Image {
    let image = common::busybox();
    let src = image.rootfs();
    let root = src.path();
    fs::create_dir_all(root.join("usr")).unwrap();
    symlink("usr/lib", root.join("lib")).unwrap();
    symlink("usr/lib64", root.join("lib64")).unwrap();
    for (name, code) in compat_probes() {
        let p = root.join(format!("probe-{name}"));
        fs::write(&p, elf(&code)).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    e.engine
        .images()
        .import_dir(
            root,
            &image.image_config(),
            &common::unique("busybox:probes").parse().unwrap(),
        )
        .unwrap()
}

/// A perl one-liner printing `name=ok` or `name=<errno>` for each raw syscall the default
/// profile or capability set refuses and tests/it/seccomp.rs does not try.
fn perl_probes() -> String {
    let script = format!(
        r#"$| = 1;
sub probe {{ my ($n, $r) = @_; print "$n=", ($r < 0 ? 0 + $! : "ok"), "\n"; }}
my ($b120, $b64, $b128, $b16) = ("\0" x 120, "\0" x 64, "\0" x 128, "\0" x 16);
my ($user, $k, $v, $x, $empty) = ("user", "k", "v", "/x", "");
my $handle = "\x08\0\0\0\x01\0\0\0\x02\0\0\0\0\0\0\0";
probe("unshare_net", syscall({unshare}, 0x40000000));
probe("unshare_user", syscall({unshare}, 0x10000000));
probe("unshare_mnt", syscall({unshare}, 0x00020000));
probe("keyctl", syscall({keyctl}, 0, -3, 0));
probe("add_key", syscall({add_key}, $user, $k, $v, 1, -3));
probe("io_uring", syscall({io_uring}, 1, $b120));
probe("bpf", syscall({bpf}, 0, $b64, 64));
probe("perf_event_open", syscall({perf}, $b128, 0, -1, -1, 0));
probe("open_by_handle_at", syscall({obh}, -100, $handle, 0));
probe("setns", syscall({setns}, 0, 0));
probe("swapoff", syscall({swapoff}, $x));
probe("syslog", syscall({syslog}, 3, $b64, 64));
probe("userfaultfd", syscall({uffd}, 0));
probe("init_module", syscall({init_module}, 0, 0, $empty));
probe("kexec_load", syscall({kexec}, 0, 0, 0, 0));
probe("settimeofday", syscall({settimeofday}, $b16, 0));
my $victim = fork();
if ($victim == 0) {{ $( = $) = 1000; $< = $> = 1000; sleep 30; exit 0 }}
sleep 1;
probe("ptrace_other_uid", syscall({ptrace}, 16, $victim, 0, 0));
kill 9, $victim; waitpid($victim, 0);
"#,
        unshare = libc::SYS_unshare,
        keyctl = libc::SYS_keyctl,
        add_key = libc::SYS_add_key,
        io_uring = libc::SYS_io_uring_setup,
        bpf = libc::SYS_bpf,
        perf = libc::SYS_perf_event_open,
        obh = libc::SYS_open_by_handle_at,
        setns = libc::SYS_setns,
        swapoff = libc::SYS_swapoff,
        syslog = libc::SYS_syslog,
        uffd = libc::SYS_userfaultfd,
        init_module = libc::SYS_init_module,
        kexec = libc::SYS_kexec_load,
        settimeofday = libc::SYS_settimeofday,
        ptrace = libc::SYS_ptrace,
    );
    format!("{PERL} -e '{}'", script.replace('\'', r"'\''"))
}

fn probe_value<'a>(out: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=");
    out.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

/// Namespaces, keys, io_uring, bpf, perf, `open_by_handle_at` (the "shocker" escape),
/// module loading and ptrace of another user's process all fail from a default engine
/// container; with `seccomp=unconfined` plus the capabilities (the control) the probes
/// that need nothing else succeed.
#[test]
#[ignore = "requires root"]
fn default_container_refuses_dangerous_syscalls() {
    assert!(fs::metadata(PERL).is_ok(), "{PERL} makes the raw syscalls");
    let e = busybox_env();
    let image = probe_image(&e);
    let run = |f: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let mut b = e.engine.container(&image);
        b.args(["sh", "-c", &perl_probes()])
            .mount(Mount::bind("/usr", "/usr").read_only())
            .auto_remove(true);
        f(&mut b);
        let out = b.output().unwrap();
        common::assert_success(&out);
        stdout(&out)
    };
    let s = run(&|_| {});
    for denied in [
        "unshare_net",
        "unshare_user",
        "unshare_mnt",
        "keyctl",
        "add_key",
        "io_uring",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
        "setns",
        "swapoff",
        "syslog",
        "userfaultfd",
        "init_module",
        "kexec_load",
        "settimeofday",
        "ptrace_other_uid",
    ] {
        assert_eq!(probe_value(&s, denied), "1", "{denied}: {s}"); // EPERM
    }

    // The control: no filter and the capabilities.
    let s = run(&|b| {
        b.seccomp(SeccompProfile::Unconfined)
            .cap_add("SYS_ADMIN")
            .cap_add("SYS_PTRACE");
    });
    for allowed in [
        "unshare_net",
        "unshare_user",
        "unshare_mnt",
        "keyctl",
        "io_uring",
        "ptrace_other_uid",
    ] {
        assert_eq!(probe_value(&s, allowed), "ok", "{allowed}: {s}");
    }
}

/// A static x86-64 ELF executable running `code` (which must end by exiting).
fn elf(code: &[u8]) -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const HEADERS: u64 = 64 + 56;
    let len = HEADERS + code.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&0x3eu16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&(BASE + HEADERS).to_le_bytes()); // entry
    f.extend_from_slice(&64u64.to_le_bytes()); // phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // flags
    for v in [64u16, 56, 1, 64, 0, 0] {
        f.extend_from_slice(&v.to_le_bytes()); // ehsize phentsize phnum shentsize shnum shstrndx
    }
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, len, len, 0x1000u64] {
        f.extend_from_slice(&v.to_le_bytes()); // offset vaddr paddr filesz memsz align
    }
    f.extend_from_slice(code);
    f
}

/// Machine code: set `regs` (x86 register number, value) with `mov r32, imm32`, enter the
/// kernel through `entry` (`int 0x80` or `syscall`), and exit with the errno (0 on
/// success).
fn syscall_code(regs: &[(u8, u32)], entry: [u8; 2]) -> Vec<u8> {
    let mut c = Vec::new();
    for &(r, v) in regs {
        c.push(0xb8 + r);
        c.extend_from_slice(&v.to_le_bytes());
    }
    c.extend_from_slice(&entry);
    c.extend_from_slice(&[
        0x31, 0xff, // xor edi, edi
        0x85, 0xc0, // test eax, eax
        0x79, 0x04, // jns exit
        0x89, 0xc7, // mov edi, eax
        0xf7, 0xdf, // neg edi
        0xb8, 60, 0, 0, 0, // exit: mov eax, 60 (exit)
        0x0f, 0x05, // syscall
    ]);
    c
}

/// (name, machine code) of each compat entry-point probe: unshare(CLONE_NEWUSER),
/// mount(NULL, NULL, NULL) and keyctl(GET_KEYRING_ID, SESSION) through the i386 ABI
/// (`int 0x80`) and the x32 ABI (`syscall` with `nr | 0x40000000`), and unshare through
/// the native one.
fn compat_probes() -> Vec<(&'static str, Vec<u8>)> {
    const EAX: u8 = 0;
    const ECX: u8 = 1;
    const EDX: u8 = 2;
    const EBX: u8 = 3;
    const ESI: u8 = 6;
    const EDI: u8 = 7;
    const INT80: [u8; 2] = [0xcd, 0x80];
    const SYSCALL: [u8; 2] = [0x0f, 0x05];
    const X32: u32 = 0x4000_0000;
    const NEWUSER: u32 = 0x1000_0000;
    let session = (-3i32) as u32;
    vec![
        (
            "i386-unshare",
            syscall_code(&[(EAX, 310), (EBX, NEWUSER)], INT80),
        ),
        (
            "i386-mount",
            syscall_code(&[(EAX, 21), (EBX, 0), (ECX, 0), (EDX, 0)], INT80),
        ),
        (
            "i386-keyctl",
            syscall_code(&[(EAX, 288), (EBX, 0), (ECX, session), (EDX, 0)], INT80),
        ),
        (
            "x32-unshare",
            syscall_code(&[(EAX, X32 | 272), (EDI, NEWUSER)], SYSCALL),
        ),
        (
            "x32-mount",
            syscall_code(&[(EAX, X32 | 165), (EDI, 0), (ESI, 0), (EDX, 0)], SYSCALL),
        ),
        (
            "x32-keyctl",
            syscall_code(&[(EAX, X32 | 250), (EDI, 0), (ESI, session)], SYSCALL),
        ),
        (
            "x64-unshare",
            syscall_code(&[(EAX, 272), (EDI, NEWUSER)], SYSCALL),
        ),
    ]
}

/// The i386 (`int 0x80`) and x32 entry points do not get round Docker's profile: unshare,
/// mount and keyctl fail with EPERM (or ENOSYS where the kernel lacks the ABI) through
/// them, as through the native one. The control: unconfined, the i386 and native
/// unshare work (so the probes do reach the kernel).
#[cfg(target_arch = "x86_64")]
#[test]
#[ignore = "requires root"]
fn compat_syscall_entry_points_are_filtered() {
    let e = busybox_env();
    let image = probe_image(&e);
    let script: String = compat_probes()
        .iter()
        .map(|(name, _)| format!("/probe-{name}; echo {name}=$?; "))
        .collect();
    let run = |unconfined: bool| {
        let mut b = e.engine.container(&image);
        b.args(["sh", "-c", &script]).auto_remove(true);
        if unconfined {
            b.seccomp(SeccompProfile::Unconfined);
        }
        let out = b.output().unwrap();
        common::assert_success(&out);
        stdout(&out)
    };
    let s = run(false);
    for (name, _) in compat_probes() {
        let v = probe_value(&s, name);
        // x32 syscalls hit the filter's bad-architecture action, SIGSYS (128 + 31), as
        // with libseccomp and no x32 table (src/runtime/seccomp.rs says why).
        let sigsys = name.starts_with("x32") && v == "159";
        assert!(
            v == "1" || v == "38" || sigsys,
            "{name}={v} (want EPERM, ENOSYS or SIGSYS): {s}"
        );
    }
    assert_eq!(probe_value(&s, "x64-unshare"), "1", "{s}");
    let ia32 = Path::new("/proc/sys/abi/vsyscall32").exists();

    let s = run(true);
    assert_eq!(probe_value(&s, "x64-unshare"), "0", "{s}");
    if ia32 {
        assert_eq!(probe_value(&s, "i386-unshare"), "0", "{s}");
    }
}

/// The processes whose command line is a monitor's for container `id`
/// (`cargohold-monitor <id>`).
fn monitors_of(id: &str) -> Vec<u32> {
    let want = format!("cargohold-monitor\0{id}\0");
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(want.as_bytes()))
        })
        .collect()
}

/// `rm -f` of one detached container from several places at once (not an escape, but
/// the same issue): two threads through the API and two engine CLI processes, 20 rounds.
/// Each either removes it or finds it gone; afterwards nothing of it is left (record,
/// directory, name, cgroup, mount, monitor) and it never comes back.
#[test]
#[ignore = "requires root"]
fn parallel_forced_removes_remove_once() {
    let e = busybox_env();
    let root = e.engine.root().to_owned();
    let cli = |args: &[&str]| {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root").arg(&root).args(args).stdin(Stdio::null());
        common::output_via_files(&mut c)
    };
    let (mut removed, mut gone) = (0, 0);
    for round in 0..20 {
        let name = common::unique("rmrace");
        let o = cli(&["run", "-d", "--name", &name, &e.reference, "sleep", "300"]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let id = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        assert_eq!(id.len(), 64, "{id}");
        assert_eq!(monitors_of(&id).len(), 1, "round {round}: no monitor");
        let outcomes: Vec<Result<(), String>> = std::thread::scope(|s| {
            let api = |key: String| {
                let engine = &e.engine;
                move || match engine.containers().get(&key).and_then(|c| c.remove(true)) {
                    Ok(()) => Ok(()),
                    Err(cargohold::Error::ContainerNotFound { .. }) => Err("gone".to_owned()),
                    Err(err) => panic!("round {round}: API rm: {err}"),
                }
            };
            let process = |key: String| {
                let cli = &cli;
                move || {
                    let o = cli(&["rm", "-f", &key]);
                    let err = String::from_utf8_lossy(&o.stderr).into_owned();
                    if o.status.success() {
                        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), key);
                        Ok(())
                    } else {
                        assert!(
                            err.contains("does not exist"),
                            "round {round}: CLI rm: {err}"
                        );
                        Err("gone".to_owned())
                    }
                }
            };
            let handles = [
                s.spawn(api(name.clone())),
                s.spawn(process(id.clone())),
                s.spawn(api(id.clone())),
                s.spawn(process(name.clone())),
            ];
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {outcomes:?}");
        removed += ok;
        gone += outcomes.len() - ok;
        std::thread::sleep(std::time::Duration::from_millis(50));
        common::assert_no_containers(&e.engine);
        common::assert_container_gone(&e.engine, &id);
        assert!(monitors_of(&id).is_empty(), "round {round}: monitor left");
        let o = cli(&["ps", "-a", "-q"]);
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).trim(),
            "",
            "round {round}"
        );
    }
    assert_eq!((removed, gone), (20, 60));
}

/// Limits are checked with Docker's rules and messages, on the builder (errors naming the
/// setting; nothing is made) and on the engine CLI (errors naming the flag for what does
/// not parse); Docker's "no limit" values are taken.
#[test]
#[ignore = "requires root"]
fn limits_are_range_checked_as_docker() {
    let e = busybox_env();
    let ncpu = std::thread::available_parallelism().unwrap().get();
    type Set = fn(&mut cargohold::ContainerBuilder<'_>);
    let refused: [(Set, &str, String); 9] = [
        (
            |b| {
                b.memory_limit(1 << 20);
            },
            "memory limit",
            "Minimum memory limit allowed is 6MB".into(),
        ),
        (
            |b| {
                b.memory_limit(u64::MAX);
            },
            "memory limit",
            "out of range".into(),
        ),
        (
            |b| {
                b.cpu_quota(999);
            },
            "cpu quota",
            "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
        ),
        (
            |b| {
                b.cpu_quota(u64::MAX);
            },
            "cpu quota",
            "out of range".into(),
        ),
        (
            |b| {
                b.cpu_quota(50_000).cpu_period(999);
            },
            "cpu period",
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s \
             (i.e. 1000000)"
                .into(),
        ),
        (
            |b| {
                b.cpu_period(1_000_001);
            },
            "cpu period",
            "larger than 1s".into(),
        ),
        (
            |b| {
                b.cpus(0.001);
            },
            "cpus",
            format!("Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs"),
        ),
        (
            |b| {
                b.cpus(1000.0);
            },
            "cpus",
            "Range of CPUs".into(),
        ),
        (
            |b| {
                b.cpus(0.5).cpu_period(50_000);
            },
            "cpus",
            "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
        ),
    ];
    for (set, field, why) in &refused {
        let mut b = e.cmd(["true"]);
        set(&mut b);
        match b.create() {
            Err(cargohold::Error::InvalidContainerConfig {
                field: f, reason, ..
            }) => {
                assert_eq!(f, *field, "{reason}");
                assert!(reason.contains(why.as_str()), "{field}: {reason}");
            }
            other => panic!("{field} ({why}): {other:?}"),
        }
    }
    common::assert_no_containers(&e.engine);

    // Docker's "no limit" values, and limits in range, run; the cgroup says what was set.
    let show = "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us \
                /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.limit_in_bytes";
    let limits = |set: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let mut b = e.sh(show);
        b.auto_remove(true);
        set(&mut b);
        let out = b.output().unwrap();
        common::assert_success(&out);
        stdout(&out).lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let v1 = Path::new("/sys/fs/cgroup/pids/pids.max").exists()
        || Path::new("/sys/fs/cgroup/pids").is_dir();
    let none = limits(&|b| {
        b.memory_limit(0).cpu_quota(0).cpu_period(0).pids_limit(0);
    });
    let set = limits(&|b| {
        b.memory_limit(6 << 20)
            .cpu_quota(1000)
            .cpu_period(1_000_000)
            .pids_limit(7);
    });
    let cpus = limits(&|b| {
        b.cpus(0.01);
    });
    if v1 {
        assert_eq!(none[..3], ["max", "-1", "100000"], "{none:?}");
        assert_ne!(none[3], (6 << 20).to_string());
        assert_eq!(set, ["7", "1000", "1000000", &(6 << 20).to_string()]);
        assert_eq!(cpus[1..3], ["1000", "100000"], "{cpus:?}");
    }

    // The engine CLI: flags that do not parse are named; range errors name the setting.
    let root = e.engine.root().to_owned();
    let cli = |args: &[&str]| {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root").arg(&root).arg("run").arg("--rm");
        c.args(args)
            .arg(&e.reference)
            .arg("true")
            .stdin(Stdio::null());
        common::output_via_files(&mut c)
    };
    for (args, want) in [
        (
            &["--memory", "99999999999999999999g"][..],
            r#"invalid argument "99999999999999999999g" for "-m, --memory" flag: value out of range"#,
        ),
        (&["-m", "lots"], r#"for "-m, --memory" flag"#),
        (&["--memory", "1m"], "Minimum memory limit allowed is 6MB"),
        (
            &["--cpu-quota", "-100"],
            r#"invalid argument "-100" for "--cpu-quota" flag: must not be negative"#,
        ),
        (
            &["--cpu-quota", "100"],
            "CPU cfs quota can not be less than 1ms",
        ),
        (
            &["--cpu-period", "0x10"],
            r#"for "--cpu-period" flag: invalid digit"#,
        ),
        (
            &["--cpu-period", "-1"],
            r#"for "--cpu-period" flag: must not be negative"#,
        ),
        (
            &["--cpu-period", "100"],
            "CPU cfs period can not be less than 1ms",
        ),
        (&["--cpus", "-1"], r#"for "--cpus" flag"#),
        (&["--cpus", "100000"], "Range of CPUs is from 0.01"),
        (
            &["--pids-limit", "99999999999"],
            r#"for "--pids-limit" flag: value out of range"#,
        ),
    ] {
        let o = cli(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    for args in [
        &["--pids-limit", "-1"][..],
        &["--pids-limit", "0"],
        &["--cpu-quota", "-1"],
        &["--cpu-period", "0"],
        &["--cpus", "0"],
        &["--memory", "0"],
        &[
            "--memory",
            "6m",
            "--cpu-quota",
            "50000",
            "--cpu-period",
            "100000",
        ],
        &["--cpus", "0.5", "--pids-limit", "10"],
    ] {
        let o = cli(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    common::assert_no_containers(&e.engine);
}
