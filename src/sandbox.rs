//! [`Sandbox`]: the commonest case of embedding (one untrusted command, read-only host
//! files, no network, limits, a timeout, captured output), on the runtime layer
//! ([`crate::runtime`]) directly: a bundle of its own under [`Sandbox::state_dir`] whose
//! root is a directory of mount points with the host directory's top-level entries bound
//! on it read-only (links copied as links; kept under `views/` for the next sandbox over
//! the same directory), runc's default spec with every capability dropped,
//! Docker's default seccomp profile, `RLIMIT_CPU` for the CPU time and the cgroup for
//! memory and pids. The init gets SIGKILL as its parent-death signal; what only a later
//! process can remove is found by its `owner` file (pid and start time, written first and
//! removed last) and removed by [`Sandbox::clean_up`].

use std::ffi::OsStr;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oci_spec::runtime::{
    LinuxCapabilities, LinuxMemory, LinuxPids, LinuxResources, Mount, PosixRlimitBuilder,
    PosixRlimitType, Spec,
};

use crate::container::record::{owner_alive, this_process};
use crate::runtime::{CreateOptions, ExitStatus, Runtime};
use crate::{Error, Result};

/// Entries of the host directory a sandbox never sees: its own ones stand there.
const OWN: &[&str] = &["proc", "sys", "dev", "tmp"];

/// The default cap of each captured stream (1 MiB).
const DEFAULT_OUTPUT_LIMIT: usize = 1 << 20;

/// One untrusted command over a read-only view of a host directory, with no network, a
/// tmpfs on `/tmp` for its writes, memory, pids and CPU-time limits, a wall-clock timeout
/// and its output captured up to a cap — without an image store:
///
/// ```no_run
/// use std::time::Duration;
/// let out = cargohold::Sandbox::new("/")
///     .command(["python3", "-c", "print(6 * 7)"])
///     .memory(256 << 20)
///     .timeout(Duration::from_secs(10))
///     .run()?;
/// assert_eq!(out.stdout, b"42\n");
/// # Ok::<(), cargohold::Error>(())
/// ```
///
/// The view: each top-level entry of the directory bound read-only on a root of the
/// sandbox's own (so nothing is ever created in the directory); `proc`, `sys`, `dev`
/// and `tmp` are the sandbox's. No capability, `no_new_privileges`, Docker's default
/// seccomp profile, new pid, mount, network (loopback only), ipc, uts and cgroup
/// namespaces. Without root the same runs in a user namespace that maps the sandbox's user
/// to the caller (memory and pids limits then need a cgroup delegated to the user).
///
/// Nothing outlives the program: the sandbox is killed (SIGKILL, with every process of its
/// pid namespace) when the thread that called [`run`](Self::run) ends, however it ends;
/// its mounts live in its own mount namespace. Its runtime state, empty cgroup and bundle
/// under [`state_dir`](Self::state_dir) are removed by the next `run` of any program, or
/// [`clean_up`](Self::clean_up).
#[derive(Debug, Clone)]
pub struct Sandbox {
    root: Root,
    argv: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    cwd: PathBuf,
    user: (u32, u32),
    tmpfs_size: Option<u64>,
    memory: Option<i64>,
    pids: Option<i64>,
    cpu_time: Option<Duration>,
    timeout: Option<Duration>,
    stdin: Vec<u8>,
    output_limit: usize,
}

/// What a sandbox sees as its files.
#[derive(Debug, Clone)]
enum Root {
    /// A view of this host directory.
    Dir(PathBuf),
    /// An image's files, through the engine.
    Image(Box<(crate::Engine, crate::Image)>),
}

/// How a sandboxed command ended, and what it wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SandboxOutput {
    /// Its exit status (a signal when it was killed; [`ExitStatus::oom_killed`] when the
    /// memory limit's OOM killer killed a process of it).
    pub status: ExitStatus,
    /// The wall-clock timeout killed it.
    pub timed_out: bool,
    /// Its standard output, up to the cap.
    pub stdout: Vec<u8>,
    /// Its standard error, up to the cap.
    pub stderr: Vec<u8>,
    /// It wrote more to standard output than the cap; the rest was read and dropped.
    pub stdout_truncated: bool,
    /// The same for standard error.
    pub stderr_truncated: bool,
    /// How long it ran.
    pub duration: Duration,
}

impl SandboxOutput {
    /// It exited with code 0 within its time.
    pub fn success(&self) -> bool {
        self.status.success() && !self.timed_out
    }

    /// The memory limit's OOM killer killed a process of it.
    pub fn oom_killed(&self) -> bool {
        self.status.oom_killed()
    }
}

impl Sandbox {
    /// A sandbox over a read-only view of the host directory `root` (`"/"` for the host's
    /// own programs), running `sh` until [`command`](Self::command) says otherwise.
    pub fn new(root: impl AsRef<Path>) -> Sandbox {
        Sandbox {
            root: Root::Dir(root.as_ref().to_owned()),
            argv: vec!["sh".into()],
            env: vec![("PATH".into(), crate::runtime::plan::DEFAULT_PATH.into())],
            cwd: PathBuf::from("/"),
            user: (
                rustix::process::getuid().as_raw(),
                rustix::process::getgid().as_raw(),
            ),
            tmpfs_size: None,
            memory: None,
            pids: None,
            cpu_time: None,
            timeout: None,
            stdin: Vec::new(),
            output_limit: DEFAULT_OUTPUT_LIMIT,
        }
    }

    /// A sandbox over the files of `image` (read-only, as [`new`](Self::new)'s view), run
    /// through `engine` as an ephemeral container with the same settings: no network, a
    /// tmpfs on `/tmp`, no capability, `no_new_privileges`, the limits. The command runs
    /// as given (not through the image's entrypoint), with the sandbox's environment (not
    /// the image's) and as the sandbox's user.
    pub fn image(engine: &crate::Engine, image: &crate::Image) -> Sandbox {
        let mut s = Sandbox::new("/");
        s.root = Root::Image(Box::new((engine.clone(), image.clone())));
        s
    }

    /// The command and its arguments (looked up in the sandbox's `PATH`).
    pub fn command<I, S>(&mut self, argv: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.argv = argv.into_iter().map(Into::into).collect();
        self
    }

    setters! {
        /// An environment variable (the sandbox starts with `PATH` alone).
        fn env(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) {
            let key = key.into();
            self.env.retain(|(k, _)| *k != key);
            self.env.push((key, value.into()))
        }

        /// The working directory inside (default `/`).
        fn current_dir(&mut self, dir: impl AsRef<Path>) {
            self.cwd = dir.as_ref().to_owned()
        }

        /// The user and group it runs as (default: the caller's), without any capability.
        fn user(&mut self, uid: u32, gid: u32) {
            self.user = (uid, gid)
        }

        /// The size of the tmpfs on `/tmp`, its only writable place (default: the kernel's,
        /// half of the RAM, counted against the memory limit).
        fn tmpfs_size(&mut self, bytes: u64) {
            self.tmpfs_size = Some(bytes)
        }

        /// The memory limit in bytes (the cgroup's; past it the OOM killer kills).
        fn memory(&mut self, bytes: i64) {
            self.memory = Some(bytes)
        }

        /// The most processes and threads at once.
        fn pids(&mut self, max: i64) {
            self.pids = Some(max)
        }

        /// The CPU time each process may use (whole seconds, rounded up): SIGXCPU then, SIGKILL
        /// a second later.
        fn cpu_time(&mut self, limit: Duration) {
            self.cpu_time = Some(limit)
        }

        /// The wall-clock time it may run; then it is killed (and
        /// [`SandboxOutput::timed_out`] says so).
        fn timeout(&mut self, limit: Duration) {
            self.timeout = Some(limit)
        }

        /// What it reads on its standard input (default: nothing, end of file at once).
        fn stdin(&mut self, input: impl Into<Vec<u8>>) {
            self.stdin = input.into()
        }

        /// The most bytes kept of each of standard output and error (default 1 MiB).
        fn output_limit(&mut self, bytes: usize) {
            self.output_limit = bytes
        }
    }

    /// Where sandboxes keep their runtime state and bundles while they run:
    /// `/run/cargohold/sandbox` as root, `$XDG_RUNTIME_DIR/cargohold/sandbox` rootless
    /// (mode 0700: a bundle holds the command line and the environment).
    pub fn state_dir() -> PathBuf {
        crate::paths::runtime_dir().join("cargohold/sandbox")
    }

    /// Removes what sandboxes of programs that have died left (their runtime state,
    /// cgroups and bundles); [`run`](Self::run) does it first, so this is for programs
    /// that want it done at another time.
    ///
    /// # Errors
    /// [`Error::Os`] if the state directory cannot be read.
    pub fn clean_up() -> Result<()> {
        let dir = Sandbox::state_dir();
        // views of directories that are gone
        for e in fs::read_dir(dir.join("views"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "root") {
                let viewed = fs::read(&p).unwrap_or_default();
                if !Path::new(OsStr::from_bytes(&viewed)).exists() {
                    let _ = fs::remove_dir_all(p.with_extension(""));
                    let _ = fs::remove_file(&p);
                }
            }
        }
        let bundles = dir.join("bundles");
        let rd = match fs::read_dir(&bundles) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::os("reading", &bundles, e)),
        };
        let runtime = shared_runtime(&dir)?;
        for e in rd.flatten() {
            let owner = fs::read_to_string(e.path().join("owner")).unwrap_or_default();
            let mut words = owner.split_whitespace().map(str::parse::<u64>);
            let alive = match (words.next(), words.next()) {
                (Some(Ok(pid)), Some(Ok(start))) => owner_alive((pid as i32, start)),
                // being written by a live program, or never: young ones are left alone
                _ => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t.elapsed().unwrap_or_default() < Duration::from_secs(60)),
            };
            if !alive {
                let id = e.file_name().to_string_lossy().into_owned();
                let deleted = runtime.delete(&id, true);
                // a start cut short may have made the cgroup before the runtime's state:
                // the default cgroup goes by its path (its processes died with the owner)
                let freed = match crate::sys::cgroup::Cgroup::open(
                    &crate::runtime::default_cgroup_path(&id),
                ) {
                    Ok(cg) => cg
                        .kill_all(libc::SIGKILL)
                        .and_then(|()| cg.remove())
                        .is_ok(),
                    // in no hierarchy: nothing to free
                    Err(_) => true,
                };
                let deleted = matches!(deleted, Ok(()) | Err(Error::ContainerNotFound { .. }));
                if deleted && freed {
                    remove_bundle(&e.path());
                }
                // otherwise tried again by the next clean-up
            }
        }
        Ok(())
    }

    /// Runs it to its end (or its timeout) and returns how it ended and what it wrote.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a memory or pids limit without root where no cgroup is
    /// delegated to the user (saying what to delegate);
    /// [`Error::InvalidContainerConfig`] for an empty command or a root that is not a
    /// directory; the runtime's errors for a command that cannot be started (not found in
    /// the view: [`Error::Spawn`]); [`Error::Os`] for the state directory.
    pub fn run(&self) -> Result<SandboxOutput> {
        self.check()?;
        match &self.root {
            Root::Dir(root) => self.run_dir(root),
            Root::Image(image) => self.run_image(&image.0, &image.1),
        }
    }

    /// [`run`](Self::run) over a view of the host directory `root`, on the runtime.
    fn run_dir(&self, root: &Path) -> Result<SandboxOutput> {
        let dir = Sandbox::state_dir();
        // private: a bundle's config.json holds the command line and environment
        crate::store::private_dir(&dir, "creating the sandbox state directory")?;
        Sandbox::clean_up()?;
        let runtime = shared_runtime(&dir)?;
        let id = sandbox_id();
        let bundle = dir.join("bundles").join(&id);
        let made = self.make_bundle(&bundle, root);
        let out = made.and_then(|()| self.run_in(runtime, &id, &bundle));
        match runtime.delete(&id, true) {
            Ok(()) | Err(Error::ContainerNotFound { .. }) => remove_bundle(&bundle),
            // kept for the clean-up after this program (its owner file names it)
            Err(_) => {}
        }
        out
    }

    /// An error about the setting `field`, naming the sandbox.
    fn invalid(&self, field: &'static str, reason: String) -> Error {
        let over = match &self.root {
            Root::Dir(root) => root.display().to_string(),
            Root::Image(image) => format!("image {}", image.1.id()),
        };
        Error::InvalidContainerConfig {
            container: format!("sandbox over {over}"),
            field,
            reason,
        }
    }

    fn check(&self) -> Result<()> {
        let invalid = |field, reason| self.invalid(field, reason);
        if self.argv.is_empty() {
            return Err(invalid("command", "no command given".into()));
        }
        if let Root::Dir(root) = &self.root {
            if !root.is_dir() {
                return Err(invalid(
                    "root",
                    format!("{} is not a directory", root.display()),
                ));
            }
        }
        if !self.cwd.is_absolute() {
            return Err(invalid(
                "working directory",
                format!("{} is not absolute", self.cwd.display()),
            ));
        }
        Ok(())
    }

    /// The bundle: the owner file, the empty root with the host directory's links, and
    /// `config.json`.
    fn make_bundle(&self, bundle: &Path, root: &Path) -> Result<()> {
        fs::create_dir_all(bundle).map_err(|e| Error::os("creating", bundle, e))?;
        let (pid, start) = this_process();
        let owner = format!("{pid} {start}\n");
        let owner_file = bundle.join("owner");
        fs::write(&owner_file, owner).map_err(|e| Error::os("writing", &owner_file, e))?;
        let (rootfs, mut mounts) = self.view(root)?;
        let spec = self.spec(&rootfs, &mut mounts);
        let config = bundle.join("config.json");
        let data = serde_json::to_vec(&spec).expect("a spec always serialises");
        fs::write(&config, data).map_err(|e| Error::os("writing", &config, e))
    }

    /// The root of the view of the host directory, and its binds: an empty directory under
    /// the state directory's `views/`, named after the directory and its top-level entries
    /// and kept for every later sandbox over the same (it holds only mount points and
    /// links; removing mount points of a container just gone costs the kernel an RCU
    /// grace period each, milliseconds a run). The host directory's directories and files
    /// are bound read-only on their mount points, its links copied as links.
    fn view(&self, root: &Path) -> Result<(PathBuf, Vec<Mount>)> {
        use sha2::Digest;
        let rd = fs::read_dir(root).map_err(|e| Error::os("reading", root, e))?;
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        // (name, None: a directory | Some(None): a file | Some(Some(target)): a link)
        let mut kept: Vec<(OsString, Option<Option<PathBuf>>)> = Vec::new();
        for e in entries {
            let name = e.file_name();
            if OWN.iter().any(|o| name.as_bytes() == o.as_bytes()) {
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() {
                let target =
                    fs::read_link(e.path()).map_err(|err| Error::os("reading", e.path(), err))?;
                kept.push((name, Some(Some(target))));
            } else if ft.is_dir() {
                kept.push((name, None));
            } else if ft.is_file() {
                kept.push((name, Some(None)));
            }
        }
        let mut h = sha2::Sha256::new();
        h.update(root.as_os_str().as_bytes());
        for (name, kind) in &kept {
            h.update(b"\0");
            h.update(name.as_bytes());
            h.update(format!("\0{kind:?}").as_bytes());
        }
        let key: String = h.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let views = Sandbox::state_dir().join("views");
        let view = views.join(&key);
        if !view.is_dir() {
            make_view(&views, &view, &kept)?;
            // which directory it views, for `clean_up` once that is gone
            let _ = fs::write(
                views.join(format!("{key}.root")),
                root.as_os_str().as_bytes(),
            );
        }
        let mounts = kept
            .iter()
            .filter(|(_, kind)| !matches!(kind, Some(Some(_))))
            .map(|(name, _)| bind(&root.join(name), &Path::new("/").join(name)))
            .collect();
        Ok((view, mounts))
    }

    /// The runtime spec: runc's defaults, with the view, the tmpfs, no capability, the
    /// default seccomp profile and the limits.
    fn spec(&self, rootfs: &Path, view: &mut Vec<Mount>) -> Spec {
        let mut spec = Spec::default();
        spec.set_hostname(Some("sandbox".into()));
        if let Some(root) = spec.root_mut() {
            root.set_path(rootfs.to_owned());
            root.set_readonly(Some(true));
        }
        // no sysfs and no POSIX message queues: a sandboxed command needs neither (bwrap
        // mounts neither by default)
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        mounts.retain(|m| !matches!(m.destination().to_str(), Some("/sys" | "/dev/mqueue")));
        let mut tmp = vec![
            "nosuid".to_owned(),
            "nodev".to_owned(),
            "mode=1777".to_owned(),
        ];
        if let Some(size) = self.tmpfs_size {
            tmp.push(format!("size={size}"));
        }
        let mut tmpfs = Mount::default();
        tmpfs
            .set_destination(PathBuf::from("/tmp"))
            .set_typ(Some("tmpfs".into()))
            .set_source(Some(PathBuf::from("tmpfs")))
            .set_options(Some(tmp));
        mounts.push(tmpfs);
        mounts.append(view);
        spec.set_mounts(Some(mounts));
        if let Some(p) = spec.process_mut() {
            p.set_terminal(Some(false));
            p.set_args(Some(
                self.argv
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            ));
            p.set_env(Some(
                self.env
                    .iter()
                    .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
                    .collect(),
            ));
            p.set_cwd(self.cwd.clone());
            p.user_mut().set_uid(self.user.0).set_gid(self.user.1);
            p.set_no_new_privileges(Some(true));
            let none = || Some(Default::default());
            let mut caps = LinuxCapabilities::default();
            caps.set_bounding(none())
                .set_effective(none())
                .set_permitted(none())
                .set_inheritable(none())
                .set_ambient(none());
            p.set_capabilities(Some(caps));
            if let Some(limit) = self.cpu_time {
                let secs = limit.as_secs() + u64::from(limit.subsec_nanos() > 0);
                let mut rl = p.rlimits().clone().unwrap_or_default();
                rl.retain(|r| r.typ() != PosixRlimitType::RlimitCpu);
                let cpu = PosixRlimitBuilder::default()
                    .typ(PosixRlimitType::RlimitCpu)
                    .soft(secs)
                    .hard(secs + 1)
                    .build()
                    .expect("every field of the limit is set");
                rl.push(cpu);
                p.set_rlimits(Some(rl));
            }
        }
        if crate::paths::rootless() {
            // the sandbox's user is the caller's outside
            crate::runtime::make_rootless(&mut spec, self.user);
        }
        if let Some(linux) = spec.linux_mut() {
            let mut res = LinuxResources::default();
            if let Some(m) = self.memory {
                let mut mem = LinuxMemory::default();
                mem.set_limit(Some(m)).set_swap(Some(m));
                res.set_memory(Some(mem));
            }
            if let Some(n) = self.pids {
                let mut pids = LinuxPids::default();
                pids.set_limit(n);
                res.set_pids(Some(pids));
            }
            linux.set_resources(Some(res));
            linux.set_seccomp(Some(
                crate::runtime::seccomp_profile::default_profile::<&str>(&[]),
            ));
        }
        spec
    }

    /// [`run`](Self::run) over an image: an ephemeral, attached container of the engine.
    fn run_image(&self, engine: &crate::Engine, image: &crate::Image) -> Result<SandboxOutput> {
        use crate::{Mount as VolumeMount, Stdio, Ulimit};
        let mut b = engine.container(image);
        b.entrypoint([&self.argv[0]])
            .args(&self.argv[1..])
            .env_clear()
            .network("none")
            .read_only(true)
            .current_dir(&self.cwd)
            .user({
                // rootless, root inside is the caller outside: the caller's own user is
                // root there
                let own = (
                    rustix::process::geteuid().as_raw(),
                    rustix::process::getegid().as_raw(),
                );
                let (uid, gid) = if crate::paths::rootless() && self.user == own {
                    (0, 0)
                } else {
                    self.user
                };
                format!("{uid}:{gid}")
            })
            .cap_drop("ALL")
            .no_new_privileges(true)
            .ephemeral(true)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            b.env(k, v);
        }
        let mut tmp = VolumeMount::tmpfs("/tmp");
        if let Some(size) = self.tmpfs_size {
            tmp = tmp.size(size);
        }
        b.mount(tmp);
        if let Some(m) = self.memory {
            b.memory_limit(u64::try_from(m).unwrap_or(0));
        }
        if let Some(n) = self.pids {
            b.pids_limit(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(limit) = self.cpu_time {
            let secs = (limit.as_secs() + u64::from(limit.subsec_nanos() > 0)) as i64;
            let cpu = Ulimit::new("cpu", secs, secs + 1)
                .map_err(|reason| self.invalid("cpu time", reason))?;
            b.ulimit(cpu);
        }
        let started = Instant::now();
        let mut c = b.spawn()?;
        let pipes = (c.take_stdin(), c.take_stdout(), c.take_stderr());
        self.exchange(started, pipes, || {
            let mut ended = || -> Result<(ExitStatus, bool)> {
                let timed_out = match self.timeout {
                    Some(t) => c.wait_timeout(t)?.is_none(),
                    None => false,
                };
                if timed_out {
                    c.kill()?;
                }
                Ok((c.wait()?, timed_out))
            };
            let r = ended();
            if r.is_err() {
                // the readers end only when it does
                let _ = c.kill();
                let _ = c.wait();
            }
            r
        })
    }

    /// Feeds the sandbox's stdin to `pipes.0` and reads `pipes.1` and `pipes.2` up to the
    /// cap, each on a thread of its own, while `wait` waits for the end (status, timed
    /// out); then the output of a run that started at `started`.
    fn exchange(
        &self,
        started: Instant,
        pipes: (
            Option<std::io::PipeWriter>,
            Option<std::io::PipeReader>,
            Option<std::io::PipeReader>,
        ),
        wait: impl FnOnce() -> Result<(ExitStatus, bool)>,
    ) -> Result<SandboxOutput> {
        let (mut stdin_w, out_r, err_r) = pipes;
        let limit = self.output_limit;
        let (ended, out, err) = std::thread::scope(|s| {
            s.spawn(|| {
                if let Some(w) = stdin_w.as_mut() {
                    let _ = w.write_all(&self.stdin);
                }
                drop(stdin_w.take());
            });
            let read = |r: Option<std::io::PipeReader>| {
                s.spawn(move || r.map(|mut r| capped(&mut r, limit)).unwrap_or_default())
            };
            let (out, err) = (read(out_r), read(err_r));
            let ended = wait();
            (
                ended,
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            )
        });
        let (status, timed_out) = ended?;
        Ok(SandboxOutput {
            status,
            timed_out,
            stdout: out.0,
            stderr: err.0,
            stdout_truncated: out.1,
            stderr_truncated: err.1,
            duration: started.elapsed(),
        })
    }

    /// Starts it, feeds its stdin, reads its output up to the cap and waits for its end
    /// or its timeout.
    fn run_in(&self, runtime: &Runtime, id: &str, bundle: &Path) -> Result<SandboxOutput> {
        let (stdin_r, stdin_w) = std::io::pipe().map_err(|e| io_error("making a pipe", e))?;
        let (out_r, out_w) = std::io::pipe().map_err(|e| io_error("making a pipe", e))?;
        let (err_r, err_w) = std::io::pipe().map_err(|e| io_error("making a pipe", e))?;
        let mut opts = CreateOptions::new();
        opts.stdin(stdin_r)
            .stdout(out_w)
            .stderr(err_w)
            .parent_death_signal(crate::runtime::Signal::KILL);
        let started = Instant::now();
        let container = runtime.spawn(id, bundle, &opts)?;
        // our copies of the child's ends: the reads end when the sandbox's processes close
        // theirs
        drop(opts);
        let pipes = (Some(stdin_w), Some(out_r), Some(err_r));
        self.exchange(started, pipes, || {
            let timed_out = AtomicBool::new(false);
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let status = std::thread::scope(|s| {
                if let Some(t) = self.timeout {
                    let (container, timed_out) = (&container, &timed_out);
                    s.spawn(move || {
                        if done_rx.recv_timeout(t) == Err(mpsc::RecvTimeoutError::Timeout) {
                            timed_out.store(true, Ordering::SeqCst);
                            let _ = container.signal(libc::SIGKILL);
                        }
                    });
                }
                let status = container.wait();
                let _ = done_tx.send(());
                status
            });
            Ok((status?, timed_out.load(Ordering::SeqCst)))
        })
    }
}

/// Makes the view root `view` (see [`Sandbox::view`]): its mount points and links made in
/// a directory of its own first, then renamed into place (a concurrent sandbox making the
/// same view wins or loses the rename, never sees half of it).
fn make_view(
    views: &Path,
    view: &Path,
    kept: &[(OsString, Option<Option<PathBuf>>)],
) -> Result<()> {
    let tmp = views.join(format!(".{}", sandbox_id()));
    let made = (|| -> std::io::Result<()> {
        fs::create_dir_all(&tmp)?;
        for name in OWN {
            fs::create_dir(tmp.join(name))?;
        }
        for (name, kind) in kept {
            let at = tmp.join(name);
            match kind {
                None => fs::create_dir(&at)?,
                Some(None) => drop(fs::File::create(&at)?),
                Some(Some(target)) => std::os::unix::fs::symlink(target, &at)?,
            }
        }
        fs::rename(&tmp, view)
    })();
    if made.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    match made {
        Ok(()) => Ok(()),
        Err(_) if view.is_dir() => Ok(()),
        Err(e) => Err(Error::os("making the sandbox view", view, e)),
    }
}

/// Removes a bundle, its `owner` file last: a removal cut short (the program killed in
/// the middle) leaves a bundle that [`Sandbox::clean_up`] still knows as dead.
fn remove_bundle(bundle: &Path) {
    let _ = fs::remove_file(bundle.join("config.json"));
    let _ = fs::remove_file(bundle.join("owner"));
    let _ = fs::remove_dir(bundle);
}

/// A read-only bind of `source` at `dest`: non-recursive as root (mounts below the
/// directory are not seen); rootless recursive, read-only through (`rro`), since a user
/// namespace may not bind a directory without the mounts below it (they could hide what
/// the caller must not see).
fn bind(source: &Path, dest: &Path) -> Mount {
    let opts: &[&str] = if crate::paths::rootless() {
        &["rbind", "ro", "nosuid", "nodev", "rro", "rnosuid", "rnodev"]
    } else {
        &["bind", "ro", "nosuid", "nodev"]
    };
    let mut m = Mount::default();
    m.set_destination(dest.to_owned())
        .set_typ(Some("bind".into()))
        .set_source(Some(source.to_owned()))
        .set_options(Some(opts.iter().map(|o| o.to_string()).collect()));
    m
}

/// Reads `r` to its end, keeping the first `limit` bytes; whether more came.
fn capped(r: &mut impl Read, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut truncated = false;
    let mut buf = [0u8; 16 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    (kept, truncated)
}

/// The runtime every sandbox of this program runs on: one, so that it keeps a network
/// namespace made ahead for the next sandbox (the dearest step of a start, see
/// [`Runtime::keep_network_namespace_ready`]).
fn shared_runtime(dir: &Path) -> Result<&'static Runtime> {
    static RUNTIME: std::sync::OnceLock<Runtime> = std::sync::OnceLock::new();
    if let Some(r) = RUNTIME.get() {
        return Ok(r);
    }
    let r = Runtime::open(dir.join("runtime"))?;
    Ok(RUNTIME.get_or_init(|| r))
}

/// `sandbox-<pid>-<n>`: unique among this program's sandboxes, and another program's
/// have another pid.
fn sandbox_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "sandbox-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn io_error(op: &str, source: std::io::Error) -> Error {
    Error::Io {
        op: op.to_owned(),
        source,
    }
}
