//! Containers: an image's layers as an overlay root, a runtime spec built by Docker's
//! rules, and the runtime running it.
//!
//! [`ContainerBuilder`] (from [`Engine::container`](crate::Engine::container)) configures
//! and starts one, like [`std::process::Command`]; [`RunningContainer`] is the live handle,
//! like [`std::process::Child`]; [`Container`] is the persisted record (what `docker ps -a`
//! lists and `docker inspect` shows) and [`Inspect`] its serde form.
//!
//! A container lives in `<root>/containers/<id>/`, a valid OCI bundle:
//! ```text
//! config.json      the runtime spec (runc and crun can run the directory too)
//! container.json   our record: id, name, image, created, config, state (the Inspect form)
//! rootfs/          the overlay mount point (lower: image layers, upper/work below)
//! upper/ work/     the container's writable layer and overlayfs's work dir
//! hosts hostname resolv.conf   bind-mounted over /etc/… in the container
//! ```
//! The runtime's own state is under `<root>/runtime/<id>/` while the process exists.

mod attach;
mod builder;
pub(crate) mod changes;
mod commit;
mod cp;
mod create;
mod detach;
pub(crate) mod events;
mod exec;
mod filter;
pub(crate) mod health;
mod init;
mod limits;
pub(crate) mod logs;
pub(crate) mod monitor;
mod net;
pub(crate) mod ready;
pub(crate) mod record;
mod release;
mod remove;
mod rename;
mod repair;
mod restart;
pub(crate) mod rootfs;
pub(crate) mod spec;
mod start;
mod stats;
mod store;
mod ulimit;
mod update;

use std::fs::File;
use std::io::{self, PipeReader, PipeWriter, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use attach::ContainerStdin;
pub use builder::ContainerBuilder;
pub use builder::SeccompProfile;
pub use builder::CONFIG_HASH_LABEL;
pub(crate) use builder::{random_name, validate_name, SpecEdit, BUILD_STEP_LABEL};
pub use changes::{Change, ChangeKind};
pub use commit::CommitOptions;
pub(crate) use commit::{archive_changes, serve_archive, serve_export};
pub(crate) use cp::serve_cp;
pub use cp::PathStat;
pub use detach::DetachKeys;
pub use events::{Actor, Event, EventOptions, Events};
pub use exec::ExecBuilder;
pub use filter::ContainerFilter;
pub use health::{Health, HealthProbe, HealthStatus, Healthcheck};
pub(crate) use net::attach as attach_networks;
pub use net::{EndpointSettings, NetworkSettings, PortMapping};
pub use ready::WaitFor;
pub use record::{
    human_duration, Config, Container, GraphDriver, HostConfig, Inspect, MountPoint,
    RestartPolicyInfo, State, Status,
};
pub use stats::{
    host_memory, BlockIoStats, CpuStats, MemoryStats, NetworkStats, PidsStats, Stats, Top,
    TopProcess,
};
pub(crate) use store::ContainerStore;
pub use store::Containers;
pub use ulimit::Ulimit;
pub use update::UpdateOptions;

use crate::sys::file;
use crate::{Error, Result};

/// Where a container's stdin, stdout or stderr goes; the shape of [`std::process::Stdio`].
#[derive(Debug)]
pub struct Stdio(StdioKind);

#[derive(Debug)]
enum StdioKind {
    Inherit,
    Null,
    Piped,
    Fd(OwnedFd),
}

impl Stdio {
    /// The caller's own stream (the container writes to our stdout, reads our stdin).
    pub fn inherit() -> Stdio {
        Stdio(StdioKind::Inherit)
    }

    /// `/dev/null`.
    pub fn null() -> Stdio {
        Stdio(StdioKind::Null)
    }

    /// A new pipe; the caller's end is taken from the [`RunningContainer`].
    pub fn piped() -> Stdio {
        Stdio(StdioKind::Piped)
    }

    fn try_clone(&self) -> io::Result<Stdio> {
        Ok(Stdio(match &self.0 {
            StdioKind::Inherit => StdioKind::Inherit,
            StdioKind::Null => StdioKind::Null,
            StdioKind::Piped => StdioKind::Piped,
            StdioKind::Fd(fd) => StdioKind::Fd(fd.try_clone()?),
        }))
    }
}

impl From<OwnedFd> for Stdio {
    fn from(fd: OwnedFd) -> Stdio {
        Stdio(StdioKind::Fd(fd))
    }
}

impl From<File> for Stdio {
    fn from(f: File) -> Stdio {
        Stdio(StdioKind::Fd(f.into()))
    }
}

impl From<PipeWriter> for Stdio {
    fn from(p: PipeWriter) -> Stdio {
        Stdio(StdioKind::Fd(p.into()))
    }
}

impl From<PipeReader> for Stdio {
    fn from(p: PipeReader) -> Stdio {
        Stdio(StdioKind::Fd(p.into()))
    }
}

pub use crate::runtime::ExitStatus;

/// What [`ContainerBuilder::output`], [`RunningContainer::wait_with_output`] and
/// [`RunningContainer::output_timeout`] return, as [`std::process::Output`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// How the process ended.
    pub status: ExitStatus,
    /// What it wrote to stdout (when piped).
    pub stdout: Vec<u8>,
    /// What it wrote to stderr (when piped).
    pub stderr: Vec<u8>,
    /// [`RunningContainer::output_timeout`]'s time ran out and killed it.
    pub timed_out: bool,
}

/// A started container: the live handle, like [`std::process::Child`]. Either this
/// program is attached to it (its init is our child), or it is detached
/// ([`ContainerBuilder::detach`]): its monitor runs it, and the handle reads the monitor's
/// exit record.
///
/// **Drop policy**: dropping it neither waits nor kills, as `Child`; the container runs on,
/// and its runtime state and overlay stay until the process is reaped by
/// [`wait`](Self::wait) or, once this program has exited, [`Engine::open`](crate::Engine::open) repairs them.
/// With [`kill_on_drop(true)`](Self::kill_on_drop) a drop kills it with SIGKILL, reaps it and
/// frees everything (what test harnesses want). [`wait`](Self::wait) reaps and frees the
/// runtime container (cgroup, state) and the overlay mount; the record stays for
/// [`Container::remove`] unless the builder asked for `auto_remove`.
///
/// ```no_run
/// use cargohold::Stdio;
/// use std::io::Read;
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let image = engine.image("busybox")?;
/// let mut c = engine
///     .container(&image)
///     .args(["sh", "-c", "echo started; sleep 60"])
///     .stdout(Stdio::piped())
///     .spawn()?;
/// c.kill_on_drop(true); // a test harness's choice: gone when the handle drops
/// let out = c.exec(["cat", "/etc/hostname"]).output()?;
/// println!("{} is {}", c.id(), String::from_utf8_lossy(&out.stdout).trim());
/// let mut first = [0; 8];
/// c.take_stdout().expect("piped").read_exact(&mut first).ok();
/// let status = c.stop(std::time::Duration::from_secs(5))?;
/// assert!(!status.success()); // ended by SIGTERM
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "dropping a RunningContainer neither waits nor kills: call wait(), or kill_on_drop(true)"]
pub struct RunningContainer {
    store: ContainerStore,
    id: String,
    name: String,
    inner: Process,
    pidfd: Option<OwnedFd>,
    stdin: Option<PipeWriter>,
    stdout: Option<PipeReader>,
    stderr: Option<PipeReader>,
    status: Option<ExitStatus>,
    kill_on_drop: bool,
    stop_signal: i32,
    /// The embedded DNS server this process serves for it (attached, on a user-defined
    /// network); stopped when it is waited for.
    resolver: Option<crate::network::dns::Resolver>,
}

impl RunningContainer {
    /// The container's id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host pid of the container's init process (its pid 1).
    pub fn pid(&self) -> u32 {
        self.inner.pid() as u32
    }

    /// Started detached, through a monitor ([`ContainerBuilder::detach`]).
    pub fn is_detached(&self) -> bool {
        matches!(self.inner, Process::Detached { .. })
    }

    /// The caller's end of a piped stdin ([`Stdio::piped`]); drop it to send EOF.
    pub fn take_stdin(&mut self) -> Option<PipeWriter> {
        self.stdin.take()
    }

    /// The caller's end of a piped stdout.
    pub fn take_stdout(&mut self) -> Option<PipeReader> {
        self.stdout.take()
    }

    /// The caller's end of a piped stderr.
    pub fn take_stderr(&mut self) -> Option<PipeReader> {
        self.stderr.take()
    }

    /// The pty master of a container started with `tty(true)`.
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        match &mut self.inner {
            Process::Attached(c) => c.take_console(),
            Process::Detached { .. } => None,
        }
    }

    /// Kill it with SIGKILL, reap it and free everything when the handle drops (off by
    /// default, as std's `Child`).
    pub fn kill_on_drop(&mut self, yes: bool) -> &mut Self {
        self.kill_on_drop = yes;
        self
    }

    /// Sends `signal` (a `libc::SIG*` number) to the container's init process. For a
    /// detached container, SIGKILL and its stop signal count as a manual stop, as with
    /// [`Container::signal`]: its restart policy does not start it again.
    ///
    /// # Errors
    /// [`Error::Os`] if it cannot be sent (it has exited and been reaped).
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.status.is_some() {
            return Err(Error::InvalidState {
                id: self.name.clone(),
                op: "signal",
                status: "exited".into(),
            });
        }
        if let Process::Detached { exit, .. } = &self.inner {
            if is_manual_stop(signal, self.stop_signal) {
                monitor::request_stop(exit)?;
            }
        }
        self.send(signal)
    }

    fn send(&self, signal: i32) -> Result<()> {
        match &self.inner {
            Process::Attached(c) => c.signal(signal),
            Process::Detached { .. } => self.store.runtime().kill(&self.id, signal, false),
        }
    }

    /// A further process in the container (`docker exec`), configured like a
    /// [`std::process::Command`]: `c.exec(["cat", "/etc/hostname"]).output()?`.
    pub fn exec<I, S>(&self, args: I) -> ExecBuilder<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        ExecBuilder::new(&self.store, &self.id, &self.name, args)
    }

    /// Freezes every process of the container (`docker pause`; the cgroup freezer).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it runs; a cgroup error.
    pub fn pause(&self) -> Result<()> {
        self.store.runtime().pause(&self.id)
    }

    /// Thaws a paused container (`docker unpause`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it is paused; a cgroup error.
    pub fn resume(&self) -> Result<()> {
        self.store.runtime().resume(&self.id)
    }

    /// Kills it with SIGKILL (as [`std::process::Child::kill`]); does not wait.
    ///
    /// # Errors
    /// As [`signal`](Self::signal); killing an already exited container is not an error.
    pub fn kill(&mut self) -> Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        if let Process::Detached { exit, .. } = &self.inner {
            monitor::request_stop(exit)?;
        }
        match self.send(libc::SIGKILL) {
            Err(Error::Os { source, .. }) if source.raw_os_error() == Some(libc::ESRCH) => Ok(()),
            // A detached container whose monitor has already deleted it.
            Err(Error::ContainerNotFound { .. } | Error::InvalidState { .. })
                if self.is_detached() =>
            {
                Ok(())
            }
            r => r,
        }
    }

    /// Stops it as `docker stop` does: the image's stop signal (SIGTERM by default), then
    /// SIGKILL once `timeout` has passed; then [`wait`](Self::wait)s.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn stop(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let signal = crate::runtime::Signal::from_raw(self.stop_signal);
        self.stop_with(signal.unwrap_or(crate::runtime::Signal::TERM), timeout)
    }

    /// Stops it with `signal` instead of its stop signal (`docker stop --signal`), then
    /// SIGKILL once `timeout` has passed; then [`wait`](Self::wait)s. A manual stop, as
    /// [`stop`](Self::stop): a detached container's restart policy does not start it again.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn stop_with(
        &mut self,
        signal: crate::runtime::Signal,
        timeout: Duration,
    ) -> Result<ExitStatus> {
        if self.status.is_none() {
            if let Process::Detached { exit, .. } = &self.inner {
                monitor::request_stop(exit)?;
            }
            let _ = self.send(signal.as_raw());
            if !self.exited_within(timeout) {
                let _ = self.send(libc::SIGKILL);
            }
        }
        self.wait()
    }

    fn exited_within(&self, timeout: Duration) -> bool {
        if let Process::Detached { exit, .. } = &self.inner {
            return monitor::wait_exit(exit, timeout).is_some();
        }
        match &self.pidfd {
            Some(fd) => file::pidfd_wait(
                fd.as_raw_fd(),
                timeout.as_millis().min(i32::MAX as u128) as i32,
            )
            .unwrap_or(false),
            None => {
                std::thread::sleep(timeout);
                false
            }
        }
    }

    /// Waits for it to exit (as [`std::process::Child::wait`]), then frees its runtime
    /// state, cgroup and overlay mount and records the exit; with `auto_remove` the
    /// container is removed. Closes our end of a piped stdin first. Calling it again
    /// returns the same status.
    ///
    /// # Errors
    /// Freeing a resource failed (the error names it); the status is recorded anyway.
    pub fn wait(&mut self) -> Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        drop(self.stdin.take());
        let inner = match &self.inner {
            Process::Attached(c) => c,
            Process::Detached { exit, .. } => {
                let exit = exit.clone();
                let record = wait_detached(&self.store, &self.id, &exit);
                return self.finish_detached(record.as_ref());
            }
        };
        // A forced remove from elsewhere in this process may have reaped it already: it was
        // killed with SIGKILL then.
        let raw = inner.wait().map_or_else(
            |_| std::process::ExitStatus::from_raw(libc::SIGKILL),
            |s| s.as_std(),
        );
        self.finish(raw)
    }

    /// Records the exit of a detached container (`None`: its monitor died without saying).
    fn finish_detached(&mut self, record: Option<&monitor::ExitRecord>) -> Result<ExitStatus> {
        let status = exit_status(record);
        self.status = Some(status);
        self.pidfd = None;
        self.store
            .release(&self.id, &release::Ending::monitored(record))?;
        Ok(status)
    }

    /// Like [`wait`](Self::wait) without blocking: `None` while it runs.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if let Some(s) = self.status {
            return Ok(Some(s));
        }
        if let Process::Detached { exit, .. } = &self.inner {
            let exit = exit.clone();
            return match monitor::status(self.store.runtime().root(), &self.id, &exit)? {
                monitor::MonitorStatus::Running { .. } => Ok(None),
                monitor::MonitorStatus::Exited(r) => self.finish_detached(Some(&r)).map(Some),
                monitor::MonitorStatus::ExitedUnknown => self.finish_detached(None).map(Some),
            };
        }
        match file::try_wait_child(self.inner.pid()) {
            Ok(None) => Ok(None),
            Ok(Some(raw)) => self
                .finish(std::process::ExitStatus::from_raw(raw))
                .map(Some),
            Err(_) => self
                .finish(std::process::ExitStatus::from_raw(libc::SIGKILL))
                .map(Some),
        }
    }

    fn finish(&mut self, raw: std::process::ExitStatus) -> Result<ExitStatus> {
        let oom = self.store.runtime().oom_killed(&self.id);
        let status = ExitStatus::new(raw, oom);
        self.status = Some(status);
        self.pidfd = None;
        // Its sockets go before its network namespace does.
        if let Some(r) = self.resolver.take() {
            r.stop();
        }
        self.store
            .release(&self.id, &release::Ending::reaped(Some(status)))?;
        Ok(status)
    }

    /// Waits for it to exit, collecting its piped stdout and stderr (as
    /// [`std::process::Child::wait_with_output`]); stdin is closed first.
    ///
    /// # Errors
    /// As [`wait`](Self::wait), or reading a pipe failed.
    pub fn wait_with_output(mut self) -> Result<Output> {
        drop(self.stdin.take());
        let err_pipe = self.stderr.take();
        let err_thread = err_pipe.map(|mut p| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                p.read_to_end(&mut v).map(|_| v)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut p) = self.stdout.take() {
            p.read_to_end(&mut stdout).map_err(|e| Error::Io {
                op: format!("reading stdout of container {}", self.name),
                source: e,
            })?;
        }
        let stderr = match err_thread {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Ok(Vec::new()))
                .map_err(|e| Error::Io {
                    op: format!("reading stderr of container {}", self.name),
                    source: e,
                })?,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
            timed_out: false,
        })
    }

    /// Waits up to `timeout` for it to exit: its status (then as [`wait`](Self::wait)), or
    /// `None` when it still runs — it is left running.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_wait()? {
                return Ok(Some(s));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // the pidfd turns readable when the init exits; a detached container's end is
            // its monitor's record, looked at every 10 ms
            match &self.pidfd {
                Some(fd) if !self.is_detached() => {
                    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
                    let t = rustix::event::Timespec::try_from(left).unwrap_or(
                        rustix::event::Timespec {
                            tv_sec: i64::MAX,
                            tv_nsec: 0,
                        },
                    );
                    let _ = rustix::event::poll(&mut fds, Some(&t));
                }
                _ => std::thread::sleep(left.min(Duration::from_millis(10))),
            }
        }
    }

    /// [`wait_with_output`](Self::wait_with_output) with a time limit: past `timeout` the
    /// container is killed (SIGKILL) and what it wrote until then is returned, with
    /// [`Output::timed_out`] set.
    ///
    /// # Errors
    /// As [`wait_with_output`](Self::wait_with_output).
    pub fn output_timeout(mut self, timeout: Duration) -> Result<Output> {
        drop(self.stdin.take());
        let read = |p: Option<PipeReader>| {
            p.map(|mut p| {
                std::thread::spawn(move || {
                    let mut v = Vec::new();
                    let _ = p.read_to_end(&mut v);
                    v
                })
            })
        };
        let (out, err) = (read(self.stdout.take()), read(self.stderr.take()));
        let timed_out = match self.wait_timeout(timeout)? {
            Some(_) => false,
            None => {
                self.kill()?;
                true
            }
        };
        let status = self.wait()?;
        let join = |t: Option<std::thread::JoinHandle<Vec<u8>>>| {
            t.map(|t| t.join().unwrap_or_default()).unwrap_or_default()
        };
        Ok(Output {
            status,
            stdout: join(out),
            stderr: join(err),
            timed_out,
        })
    }
}

impl Drop for RunningContainer {
    fn drop(&mut self) {
        if self.kill_on_drop && self.status.is_none() {
            let _ = self.kill();
            let _ = self.wait();
        }
        if let Some(r) = self.resolver.take() {
            if self.status.is_none() {
                // Still running without a handle: its DNS server serves on until its init
                // exits.
                r.detach();
            }
        }
    }
}

/// The process behind a [`RunningContainer`].
#[derive(Debug)]
pub(crate) enum Process {
    /// Our child, through the runtime.
    Attached(crate::runtime::Container),
    /// Its monitor's child; `exit` is the monitor's exit record.
    Detached { pid: i32, exit: PathBuf },
}

impl Process {
    fn pid(&self) -> i32 {
        match self {
            Process::Attached(c) => c.pid(),
            Process::Detached { pid, .. } => *pid,
        }
    }
}

/// Whether sending `signal` to a container whose stop signal is `stop_signal` stops it for
/// good: Docker's rule for `docker kill`, under which SIGKILL and the stop signal are a
/// manual stop that the restart policy leaves alone.
pub(crate) fn is_manual_stop(signal: i32, stop_signal: i32) -> bool {
    signal == libc::SIGKILL || signal == stop_signal
}

/// How a detached container ended, from its monitor's record; a record-less end (the
/// monitor was killed) is reported as code 255, as Docker reports a container whose daemon
/// vanished.
pub(crate) fn exit_status(record: Option<&monitor::ExitRecord>) -> ExitStatus {
    let raw = match record.map(|r| (r.code, r.signal)) {
        Some((Some(c), _)) => (c & 0xff) << 8,
        Some((None, Some(s))) => s & 0x7f,
        _ => 255 << 8,
    };
    ExitStatus::new(
        std::process::ExitStatus::from_raw(raw),
        record.is_some_and(|r| r.oom_killed),
    )
}

/// Waits until the monitor of a detached container has recorded its exit; when the monitor
/// is gone without a record, until the runtime no longer sees the container run.
pub(crate) fn wait_detached(
    store: &ContainerStore,
    id: &str,
    exit: &Path,
) -> Option<monitor::ExitRecord> {
    loop {
        if let Some(r) = monitor::wait_exit(exit, Duration::from_secs(60)) {
            return Some(r);
        }
        if !monitor::monitor_alive(exit) {
            match monitor::status(store.runtime().root(), id, exit) {
                Ok(monitor::MonitorStatus::Running { .. }) => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(monitor::MonitorStatus::Exited(r)) => return Some(r),
                Ok(monitor::MonitorStatus::ExitedUnknown) | Err(_) => return None,
            }
        }
    }
}

/// Runs `f` on this process's spawner thread and returns its result.
///
/// `PR_SET_PDEATHSIG` fires when the thread that cloned a process exits, not the process:
/// an ephemeral container cloned from a test's thread or a pool's worker would be killed
/// when that thread ends. The spawner thread is started on first use and never exits, so
/// a process cloned from it is signalled exactly when this process ends.
pub(crate) fn on_spawner_thread<T, F>(f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    use std::sync::mpsc;
    use std::sync::{Mutex, OnceLock};
    type Job = Box<dyn FnOnce() + Send>;
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("cargohold-spawner".to_owned())
            .spawn(move || {
                // The sender lives in a static: this loop ends only with the process.
                for job in rx {
                    job();
                }
            })
            .expect("starting the cargohold spawner thread");
        Mutex::new(tx)
    });
    let (done_tx, done_rx) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = done_tx.send(f());
    });
    tx.lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(job)
        .expect("the spawner thread lives as long as the process");
    done_rx
        .recv()
        .expect("the spawner thread answers every job")
}

/// Our ends of a container's piped stdin, stdout and stderr.
pub(crate) type PipeEnds = (Option<PipeWriter>, Option<PipeReader>, Option<PipeReader>);

impl RunningContainer {
    /// The handle of container `id` (`name`) of `store`, whose process is `inner`.
    pub(crate) fn new(
        store: ContainerStore,
        (id, name): (String, String),
        inner: Process,
        (stdin, stdout, stderr): PipeEnds,
        stop_signal: i32,
    ) -> Self {
        let pidfd = file::pidfd_open(inner.pid()).ok();
        RunningContainer {
            store,
            id,
            name,
            inner,
            pidfd,
            stdin,
            stdout,
            stderr,
            status: None,
            kill_on_drop: false,
            stop_signal,
            resolver: None,
        }
    }

    /// Hands it the embedded DNS server this process serves for it.
    pub(crate) fn set_resolver(&mut self, r: crate::network::dns::Resolver) {
        self.resolver = Some(r);
    }
}
