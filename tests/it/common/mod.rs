//! Fixtures shared by the integration tests (tests/it) and tests/monitor.rs: busybox
//! bundles and runtime roots (here), engines with busybox images (`engine`), image
//! archives (`archive`), the example binaries, tools and an HTTP client (`tools`), test
//! hosts in network namespaces (here) and a fake DNS upstream (`fake_dns`).

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cargohold::oci_spec::runtime::Spec;
use cargohold::runtime::{CreateOptions, Runtime};

/// The static busybox from Debian's busybox-static.
pub const BUSYBOX: &str = "/bin/busybox";

/// Applets linked into every test rootfs.
const APPLETS: &[&str] = &[
    "sh",
    "echo",
    "cat",
    "id",
    "hostname",
    "ls",
    "sleep",
    "true",
    "false",
    "ps",
    "mount",
    "touch",
    "mkdir",
    "rm",
    "grep",
    "head",
    "wc",
    "dd",
    "kill",
    "env",
    "pwd",
    "stat",
    "readlink",
    "test",
    "nproc",
    "umask",
    "domainname",
    "ulimit",
    "awk",
    "tr",
    "seq",
    "yes",
    "tail",
    "nc",
    "wget",
];

/// A unique name for this process and call (container ids, cgroups).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bundle directory: `rootfs/` with busybox and its applets, and a `config.json`.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub spec: Spec,
}

impl Bundle {
    /// A bundle whose spec is the runtime's default with `args` as the process.
    pub fn new(args: &[&str]) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-bundle")
            .tempdir()
            .unwrap();
        make_rootfs(&dir.path().join("rootfs"));
        let mut spec = cargohold::runtime::default_spec();
        let mut process = spec.process().clone().unwrap();
        process.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        process.set_terminal(Some(false));
        spec.set_process(Some(process));
        let mut root = spec.root().clone().unwrap();
        root.set_readonly(Some(false));
        spec.set_root(Some(root));
        let mut b = Bundle { dir, spec };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// Edits the spec and writes config.json again.
    pub fn edit(&mut self, f: impl FnOnce(&mut Spec)) {
        f(&mut self.spec);
        self.save();
    }

    /// A new user namespace mapping ids 0..65536 to `host_id..`, the cgroup mounts dropped
    /// (a user namespace may not mount the host's hierarchies) and the rootfs chowned to
    /// the mapped root. Call after the rootfs is laid out: files made later stay the host
    /// root's.
    pub fn map_root_to(&mut self, host_id: u32) {
        use cargohold::oci_spec::runtime::{
            LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType,
        };
        self.edit(|s| {
            let mut linux = s.linux().clone().unwrap();
            let mut ns = linux.namespaces().clone().unwrap();
            let user = LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User);
            ns.push(user.build().unwrap());
            linux.set_namespaces(Some(ns));
            let map = || {
                let m = LinuxIdMappingBuilder::default()
                    .container_id(0u32)
                    .host_id(host_id);
                vec![m.size(65536u32).build().unwrap()]
            };
            linux.set_uid_mappings(Some(map()));
            linux.set_gid_mappings(Some(map()));
            s.set_linux(Some(linux));
            let mut mounts = s.mounts().clone().unwrap();
            mounts.retain(|m| m.typ().as_deref() != Some("cgroup"));
            s.set_mounts(Some(mounts));
        });
        let chown = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{host_id}:{host_id}"))
            .arg(self.rootfs())
            .status()
            .unwrap();
        assert!(chown.success());
    }

    pub fn save(&mut self) {
        let data = serde_json::to_vec_pretty(&self.spec).unwrap();
        fs::write(self.dir.path().join("config.json"), data).unwrap();
    }
}

/// Lays out a busybox rootfs.
pub fn make_rootfs(root: &Path) {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy(BUSYBOX, root.join("bin/busybox")).unwrap();
    for a in APPLETS {
        symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
}

/// A runtime with its own root directory.
pub struct TestRuntime {
    pub rt: Runtime,
    _root: tempfile::TempDir,
}

impl std::ops::Deref for TestRuntime {
    type Target = Runtime;
    fn deref(&self) -> &Runtime {
        &self.rt
    }
}

pub fn runtime() -> TestRuntime {
    let root = tempfile::Builder::new()
        .prefix("cargohold-root")
        .tempdir()
        .unwrap();
    TestRuntime {
        rt: Runtime::open(root.path()).unwrap(),
        _root: root,
    }
}

/// What a container printed, and how it ended.
pub struct Ran {
    pub status: std::process::ExitStatus,
    pub oom_killed: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a bundle to completion with stdout and stderr captured.
pub fn run(rt: &Runtime, bundle: &Bundle) -> cargohold::Result<Ran> {
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let (mut err_r, err_w) = std::io::pipe().unwrap();
    let mut opts = CreateOptions::default();
    opts.stdout = Some(OwnedFd::from(out_w));
    opts.stderr = Some(OwnedFd::from(err_w));
    let id = unique("run");
    let result = rt.run(&id, bundle.path(), &opts);
    drop(opts);
    let exit = result?;
    let mut stdout = String::new();
    let mut stderr = String::new();
    out_r.read_to_string(&mut stdout).unwrap();
    err_r.read_to_string(&mut stderr).unwrap();
    Ok(Ran {
        status: exit.as_std(),
        oom_killed: exit.oom_killed(),
        stdout,
        stderr,
    })
}

/// The cgroup directories (any hierarchy) whose name contains `needle`.
pub fn cgroups_named(needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        walk(&entry.path(), needle, 0, &mut out);
    }
    out
}

fn walk(dir: &Path, needle: &str, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > 4 {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(needle))
            {
                out.push(p.clone());
            }
            walk(&p, needle, depth + 1, out);
        }
    }
}

/// Mount points (from our mountinfo) that mention `needle`.
pub fn mounts_with(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_owned)
        .collect()
}

/// Deletes a container (forced) when dropped, so a failing test leaves nothing behind.
pub struct Cleanup<'a> {
    pub rt: &'a Runtime,
    pub id: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.rt.delete(&self.id, true);
    }
}

/// A unique id whose container is deleted when the guard drops.
pub fn guarded<'a>(rt: &'a Runtime, prefix: &str) -> (String, Cleanup<'a>) {
    let id = unique(prefix);
    (id.clone(), Cleanup { rt, id })
}

/// Runs `f` on a thread of its own in a fresh network namespace with loopback up (a "test
/// host": links, routes and firewall rules made there never touch the machine's), and
/// returns what it returns; a panic in `f` is passed on.
pub fn in_new_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            cargohold::sys::raw::unshare(libc::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            let mut nl = cargohold::sys::netlink::Netlink::open().unwrap();
            let lo = nl.link("lo").unwrap().unwrap();
            nl.set_up(lo.index).unwrap();
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Runs `f` on a "test host" (see [`in_new_netns`]) with `setup()`'s fixture. Then, even
/// if `f` panicked, `teardown` removes what the test made and returns its checks of what is
/// left; they run after a panic of `f` has been passed on (so a failing test reports its
/// own failure first).
pub fn in_test_host<H, T: Send, C: FnOnce()>(
    setup: impl FnOnce() -> H + Send,
    f: impl FnOnce(&H) -> T + Send,
    teardown: impl FnOnce(&H) -> C + Send,
) -> T {
    in_new_netns(|| {
        let host = setup();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&host)));
        let checks = teardown(&host);
        let out = out.unwrap_or_else(|p| std::panic::resume_unwind(p));
        checks();
        out
    })
}

/// The names of the calling thread's network namespace's links, sorted.
pub fn link_names() -> Vec<String> {
    let mut v: Vec<String> = cargohold::sys::netlink::Netlink::open()
        .unwrap()
        .links()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect();
    v.sort();
    v
}

/// How many network namespace mounts are left under an engine root's `netns/`.
pub fn netns_mounts_left(root: &Path) -> usize {
    fs::read_dir(root.join("netns"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Nothing of container `id` remains in `engine`'s root or on the host: no directory,
/// overlay mount, cgroup or runtime state.
pub fn assert_container_gone(engine: &cargohold::Engine, id: &str) {
    assert!(!engine.root().join("containers").join(id).exists());
    assert!(mounts_with(id).is_empty(), "{:?}", mounts_with(id));
    assert!(cgroups_named(id).is_empty(), "{:?}", cgroups_named(id));
    assert!(!engine.root().join("runtime").join(id).exists());
}

#[cfg(feature = "api")]
pub mod api;
pub mod archive;
pub mod cli;
pub mod dockerd;
pub mod engine;
pub mod fake_dns;
pub mod registry;
pub mod rootless;
pub mod tools;

// Flat names for the tests (`common::docker_archive`). Binaries that include only a part
// of the fixtures (tests/monitor.rs, the benches) leave some of these re-exports unused.
#[allow(unused_imports)]
pub use archive::*;
#[allow(unused_imports)]
pub use cli::RuntimeCli;
#[allow(unused_imports)]
pub use engine::*;
#[allow(unused_imports)]
pub use tools::*;

/// A minimal busybox rootfs (not [`make_rootfs`]'s): /bin/busybox, /bin/sh and
/// /etc/hostname, for the image-format tests.
pub fn minimal_busybox_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let bin = d.path().join("bin");
    fs::create_dir(&bin).unwrap();
    fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    symlink("busybox", bin.join("sh")).unwrap();
    fs::create_dir(d.path().join("etc")).unwrap();
    fs::write(d.path().join("etc/hostname"), "cargohold\n").unwrap();
    d
}

/// Imports `rootfs` (or, with `None`, a fresh busybox rootfs) into `engine`'s store as
/// `reference`, with `sh` as its command and a standard PATH (the bench loops' image).
#[allow(dead_code)]
pub fn import_rootfs(
    engine: &cargohold::Engine,
    rootfs: Option<&Path>,
    reference: &str,
) -> cargohold::Image {
    let made;
    let dir = match rootfs {
        Some(d) => d,
        None => {
            made = tempfile::Builder::new()
                .prefix("cargohold-rootfs")
                .tempdir()
                .expect("rootfs dir");
            make_rootfs(made.path());
            made.path()
        }
    };
    let config = cargohold::oci_spec::image::ConfigBuilder::default()
        .cmd(vec!["sh".to_owned()])
        .env(vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        ])
        .build()
        .expect("image config");
    let r = reference.parse().expect("image reference");
    engine
        .images()
        .import_dir(dir, &config, &r)
        .unwrap_or_else(|e| panic!("importing {}: {e}", dir.display()))
}
