//! The monitor of a detached container (DESIGN.md, decision 3): a small process per
//! container, like podman's conmon, that keeps the container going after the program that
//! started it exits.
//!
//! # How it starts
//! The monitor is the host program itself, re-executed in a monitor mode:
//!
//! 1. [`start`] (in the host, which may have any number of threads) runs
//!    `/proc/self/exe` through [`std::process::Command`], which execs at once after its
//!    fork and allocates nothing in between, with `CARGOHOLD_MONITOR=1` in the environment,
//!    the [`MonitorConfig`] as JSON on stdin, a readiness pipe as stdout and `/dev/null`
//!    (or [`MonitorConfig::monitor_log`]) as stderr. The monitor moves the pipe to a
//!    close-on-exec fd at once and points stdout at stderr, so hooks it runs can neither
//!    write into the pipe nor hold it open. Nothing else of the host is inherited:
//!    the monitor marks every other fd close-on-exec and never holds the host's terminal or
//!    output pipes.
//! 2. In the new process, `cargohold::init()` — which the host calls first thing in
//!    `main`, as runc's nsexec hooks its own start — sees the variable and runs the monitor
//!    instead of the host's `main`: a fresh single-threaded process where ordinary Rust is
//!    fine. It reads the config, forks, and the first process exits (the host reaps it at
//!    once), so the monitor is reparented away from the host; it calls `setsid` (no
//!    terminal, no signals from the host's process group) and becomes a child subreaper.
//! 3. It takes the lock `<exit_path>.lock` for its whole life, creates pipes for the
//!    container's stdout and stderr, and calls [`Runtime::spawn`]: the container's init is
//!    its child. It reports the container's pid, or the error (a command not found, a bad
//!    spec), on the readiness pipe, and [`start`] returns it.
//! 4. It logs each stream ([`super::logs`]), reaps the init, waits for the output to end,
//!    notes an OOM kill, deletes the runtime's state (frees the cgroup), writes the [`ExitRecord`] atomically (temp file,
//!    fsync, rename) and exits — or, by the [`RestartPolicy`], starts the container again.
//!
//! # When the monitor is gone
//! Whether a monitor runs is told by its lock (flock dies with the process, whatever
//! killed it), never by a pid that may have been reused. If it was SIGKILLed, the container
//! runs on unmonitored: its output pipes have no reader, so a write fails rather than
//! blocking forever (SIGPIPE ends the writer, unless it is the pid namespace's init, which
//! the kernel shields from it: that one sees EPIPE), and [`status`] reports it as
//! running but unmonitored, or, once its init is dead, as exited with an unknown status.
//! [`wait_exit`] and a following log reader stop waiting as soon as the lock is free.
//!
//! # Limits
//! A host that sets SIGCHLD to `SIG_IGN` passes that to the monitor through exec; the
//! monitor then cannot collect the exit status, and records none (`code` and `signal` are
//! `None`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::logs::{self, LogStream, LogWriter, Splitter};
use crate::error::WireError;
use crate::runtime::{CreateOptions, Runtime, Status};
use crate::sys::{file, raw};
use crate::{Error, Result};

/// The environment variable that puts a re-executed host into monitor mode.
pub const ENV: &str = "CARGOHOLD_MONITOR";

/// The process name the monitor runs under (its argv\[0\]; argv\[1\] is the container id).
pub const PROCESS_NAME: &str = "cargohold-monitor";

static INIT_CALLED: AtomicBool = AtomicBool::new(false);

/// How the container's stdin is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MonitorStdin {
    /// `/dev/null`.
    #[default]
    Null,
    /// A fifo at this path (created if missing): whoever opens it for writing feeds the
    /// container (`docker run -di`). The container never sees end-of-file on it, unless
    /// [`MonitorConfig::stdin_once`] is set.
    Fifo(PathBuf),
}

/// When the monitor starts an exited container again, as Docker's `--restart`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestartPolicy {
    /// Never (`no`).
    #[default]
    No,
    /// After a non-zero exit, at most `max_retries` times if set (`on-failure[:N]`).
    OnFailure {
        /// The most restarts; `None` (or `Some(0)`, as Docker reads `on-failure:0`) is no
        /// limit.
        max_retries: Option<u32>,
    },
    /// After any exit, unless the container was stopped by hand (`always`).
    Always,
    /// As `Always`; the two differ only in what an engine does when it opens its root
    /// after a reboot (`unless-stopped`).
    UnlessStopped,
}

impl RestartPolicy {
    /// Whether to start again after `exit`, the `restarts`th restart so far.
    fn restarts_after(self, exit: &ExitRecord, restarts: u32, stop_requested: bool) -> bool {
        if stop_requested {
            return false;
        }
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure { max_retries } => {
                exit.exit_code() != 0 && max_retries.filter(|&m| m > 0).is_none_or(|m| restarts < m)
            }
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

impl std::str::FromStr for RestartPolicy {
    type Err = crate::Error;

    /// Docker's `--restart` syntax: `no`, `on-failure[:N]`, `always`, `unless-stopped`.
    fn from_str(s: &str) -> crate::Result<Self> {
        let bad = |reason: &str| crate::Error::InvalidRestartPolicy {
            policy: s.to_owned(),
            reason: reason.to_owned(),
        };
        match s.split_once(':') {
            None => match s {
                "no" | "" => Ok(RestartPolicy::No),
                "on-failure" => Ok(RestartPolicy::OnFailure { max_retries: None }),
                "always" => Ok(RestartPolicy::Always),
                "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
                _ => Err(bad("not one of no, on-failure[:N], always, unless-stopped")),
            },
            Some(("on-failure", n)) => n
                .parse()
                .map(|n| RestartPolicy::OnFailure {
                    max_retries: Some(n),
                })
                .map_err(|_| bad("the retry count is not a number")),
            Some((p, _)) => Err(bad(&format!(
                "only on-failure takes a retry count, not {p}"
            ))),
        }
    }
}

/// What [`start`] needs: where the container is, and where its log and exit record go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MonitorConfig {
    /// The [`Runtime`]'s root directory.
    pub runtime_root: PathBuf,
    /// The container id.
    pub id: String,
    /// The OCI bundle (config.json + rootfs).
    pub bundle: PathBuf,
    /// The json-file log ([`super::logs`]); its directory must exist.
    pub log_path: PathBuf,
    /// The exit record; its directory must exist. The monitor's lock is this path with
    /// `.lock` appended, and a stop request ([`request_stop`]) with `.stop`.
    pub exit_path: PathBuf,
    /// The container's stdin.
    pub stdin: MonitorStdin,
    /// Whether to start the container again when it exits.
    pub restart: RestartPolicy,
    /// The program to run as the monitor; `None` is `/proc/self/exe`, which needs
    /// `cargohold::init()` at the top of `main`. Another program must call it too.
    pub program: Option<PathBuf>,
    /// Where the monitor writes its own diagnostics (appended); `None` is `/dev/null`.
    pub monitor_log: Option<PathBuf>,
    /// The pid of the program the container is tied to (an ephemeral container): when that
    /// process exits, the monitor kills the container (no restart) and records its exit.
    /// It must be alive when [`start`] is called (it is watched through a pidfd).
    #[serde(default)]
    pub owner: Option<i32>,
    /// The engine root whose network store attached the container's networks: once the
    /// container has exited for good (no restart), the monitor detaches them, so that its
    /// published ports and addresses are free again at once.
    #[serde(default)]
    pub networks_root: Option<PathBuf>,
    /// Serve the container's embedded DNS server (127.0.0.11 in the network namespace that
    /// the store of [`networks_root`](Self::networks_root) made for it) for as long as the
    /// monitor runs, forwarding what is not a container's name to these servers. `None`:
    /// no DNS server (the container is not on a user-defined network).
    #[serde(default)]
    pub embedded_dns: Option<Vec<std::net::SocketAddr>>,
    /// With a [`MonitorStdin::Fifo`]: the container's stdin ends (end-of-file, as Docker's
    /// `StdinOnce`) when the first writer of the fifo, and every other one, has closed it;
    /// until a writer comes, the container waits for input.
    #[serde(default)]
    pub stdin_once: bool,
    /// Run this healthcheck in the background while the container runs (from each start,
    /// stopped at each exit), writing its health beside the record in
    /// [`bundle`](Self::bundle) (see [`super::health`]). `None`: no healthcheck.
    #[serde(default)]
    pub health: Option<super::Healthcheck>,
}

impl MonitorConfig {
    /// A config with the defaults: stdin `/dev/null`, state deleted on exit, no restart,
    /// this program as the monitor, no monitor log.
    pub fn new(
        runtime_root: impl Into<PathBuf>,
        id: impl Into<String>,
        bundle: impl Into<PathBuf>,
        log_path: impl Into<PathBuf>,
        exit_path: impl Into<PathBuf>,
    ) -> MonitorConfig {
        MonitorConfig {
            runtime_root: runtime_root.into(),
            id: id.into(),
            bundle: bundle.into(),
            log_path: log_path.into(),
            exit_path: exit_path.into(),
            stdin: MonitorStdin::Null,
            restart: RestartPolicy::No,
            program: None,
            monitor_log: None,
            owner: None,
            networks_root: None,
            embedded_dns: None,
            stdin_once: false,
            health: None,
        }
    }
}

/// A started monitor and its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorHandle {
    /// The monitor's pid (not our child: it was reparented).
    pub monitor_pid: i32,
    /// The container's init process on the host.
    pub container_pid: i32,
}

/// How a monitored container ended, as its monitor recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The init's pid on the host.
    pub pid: i32,
    /// The exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that killed it, when one did.
    pub signal: Option<i32>,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
    /// When the (last) run started, RFC 3339.
    pub started_at: String,
    /// When the init was reaped, RFC 3339.
    pub finished_at: String,
    /// How many times the restart policy started it again.
    pub restarts: u32,
}

impl ExitRecord {
    /// The exit code as a shell (and `docker wait`) reports it: the code, 128 + the
    /// signal, or -1 when unknown.
    pub fn exit_code(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => -1,
        }
    }

    /// When the init was reaped.
    pub fn finished(&self) -> Option<SystemTime> {
        logs::parse_time(&self.finished_at)
    }
}

/// What became of a detached container, as far as its files and the kernel tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorStatus {
    /// The init runs (or is created or paused); `monitored` is false when its monitor is
    /// gone (killed): nobody logs its output or will record its exit.
    Running {
        /// The init's pid on the host.
        pid: i32,
        /// Its monitor is alive.
        monitored: bool,
    },
    /// The monitor recorded the exit.
    Exited(ExitRecord),
    /// The container is gone and its monitor died before it could record how.
    ExitedUnknown,
}

/// What the monitor sends on the readiness pipe: one JSON line.
#[derive(Debug, Serialize, Deserialize)]
enum Report {
    Ready {
        monitor_pid: i32,
        container_pid: i32,
    },
    Failed(WireError),
}

fn monitor_error(id: &str, reason: impl Into<String>) -> Error {
    Error::Monitor {
        id: id.to_owned(),
        reason: reason.into(),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The monitor's lock file: held (flock) for as long as the monitor lives.
pub fn lock_path(exit_path: &Path) -> PathBuf {
    with_suffix(exit_path, ".lock")
}

fn stop_path(exit_path: &Path) -> PathBuf {
    with_suffix(exit_path, ".stop")
}

/// How many times the monitor has restarted the container so far (a decimal number,
/// rewritten at each restart, removed when a new monitor starts).
fn restarts_path(exit_path: &Path) -> PathBuf {
    with_suffix(exit_path, ".restarts")
}

/// How many times the restart policy has started the container again since its monitor
/// started (Docker's `RestartCount`): the exit record's count once it has exited for good,
/// else what the monitor noted at its last restart.
pub(crate) fn restart_count(exit_path: &Path) -> u32 {
    read_exit(exit_path).map_or_else(
        || {
            fs::read_to_string(restarts_path(exit_path))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0)
        },
        |r| r.restarts,
    )
}

/// The fifo through which the window size of a container's terminal is set: lines of
/// `<rows> <columns>` that the monitor applies to the pty it holds (Docker's resize).
pub(crate) fn resize_path(exit_path: &Path) -> PathBuf {
    with_suffix(exit_path, ".resize")
}

/// `<rows> <columns>`, both non-zero.
fn parse_size(line: &str) -> Option<(u16, u16)> {
    let (rows, cols) = line.trim().split_once(' ')?;
    let (rows, cols) = (rows.parse().ok()?, cols.parse().ok()?);
    (rows > 0 && cols > 0).then_some((rows, cols))
}

/// Starts a monitor, which starts the container, and waits until the container runs (its
/// process was executed) or failed to start.
///
/// Safe to call from a multi-threaded host: the only fork is [`std::process::Command`]'s,
/// which execs at once.
///
/// # Errors
/// `cargohold::init()` was not called in this program (and no other
/// [`program`](MonitorConfig::program) was given); the monitor could not be started or
/// died before reporting; or the container failed to start — the runtime's error, as
/// [`Runtime::spawn`] returns it (a command not found is an [`Error::Spawn`] with
/// `ENOENT`). Nothing is left behind then: no monitor, container or lock.
pub fn start(cfg: &MonitorConfig) -> Result<MonitorHandle> {
    let id = cfg.id.as_str();
    if cfg.program.is_none() && !INIT_CALLED.load(Ordering::Relaxed) {
        return Err(monitor_error(
            id,
            "cargohold::init() must be called at the top of main: the monitor is this program \
             re-executed",
        ));
    }
    let program = cfg
        .program
        .clone()
        .unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
    let (ready_r, ready_w) =
        io::pipe().map_err(|e| Error::os("creating the monitor's readiness pipe", "", e))?;
    let stderr = match &cfg.monitor_log {
        Some(p) => Stdio::from(
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(p)
                .map_err(|e| Error::os("opening monitor log", p, e))?,
        ),
        None => Stdio::null(),
    };
    let config = serde_json::to_vec(cfg).expect("a config always serialises");
    let mut cmd = Command::new(&program);
    cmd.arg0(PROCESS_NAME)
        .arg(id)
        .env(ENV, "1")
        .stdin(Stdio::piped())
        .stdout(ready_w)
        .stderr(stderr)
        .current_dir("/");
    if cfg.program.is_none() {
        // The monitor runs from this program's sealed copy (see crate::sys::sealed).
        cmd.envs(crate::sys::sealed::inherited_env());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::os("starting the container monitor", &program, e))?;
    // The Command holds our copy of the pipe's write end: without it, the read below sees
    // end-of-file as soon as the monitor is gone.
    drop(cmd);
    if let Some(mut stdin) = child.stdin.take() {
        // A monitor that died early shows as a missing report below.
        let _ = stdin.write_all(&config);
    }
    // The first monitor process exits as soon as it has forked the real one.
    let _ = child.wait();
    let mut line = String::new();
    BufReader::new(ready_r)
        .read_line(&mut line)
        .map_err(|e| Error::os("reading the monitor's report", "", e))?;
    match serde_json::from_str::<Report>(line.trim_end()) {
        Ok(Report::Ready {
            monitor_pid,
            container_pid,
        }) => Ok(MonitorHandle {
            monitor_pid,
            container_pid,
        }),
        Ok(Report::Failed(e)) => Err(e.into_error(|reason| monitor_error(id, reason))),
        Err(_) if line.is_empty() => Err(monitor_error(
            id,
            "the monitor exited before reporting (see its monitor_log)",
        )),
        Err(e) => Err(monitor_error(
            id,
            format!("unreadable report {line:?}: {e}"),
        )),
    }
}

/// Reads a container's exit record; `None` while there is none (or it is unreadable).
pub fn read_exit(exit_path: impl AsRef<Path>) -> Option<ExitRecord> {
    let data = fs::read(exit_path).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Whether the monitor that writes `exit_path` is alive (holds its lock).
pub fn monitor_alive(exit_path: impl AsRef<Path>) -> bool {
    let Ok(f) = File::open(lock_path(exit_path.as_ref())) else {
        return false;
    };
    matches!(
        rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK
    )
}

/// Whether nothing more will be logged: the exit is recorded, or the monitor is gone.
pub(crate) fn finished(exit_path: &Path) -> bool {
    exit_path.exists() || !monitor_alive(exit_path)
}

/// Waits for the monitor to record the container's exit, up to `timeout`.
///
/// Returns `None` on timeout, or at once when the monitor is gone without a record (it was
/// killed: see [`status`]); never waits for a dead monitor.
pub fn wait_exit(exit_path: impl AsRef<Path>, timeout: Duration) -> Option<ExitRecord> {
    let exit_path = exit_path.as_ref();
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(r) = read_exit(exit_path) {
            return Some(r);
        }
        if !monitor_alive(exit_path) {
            // It may have written the record just before it exited.
            return read_exit(exit_path);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        // A look costs two small reads: 5 ms between them keeps a waiter's latency (a
        // `docker run --rm`'s exit code) low for no measurable load.
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// Asks the monitor not to restart the container when it next exits (write this before
/// signalling the container to stop, as `docker stop` does).
///
/// # Errors
/// The marker cannot be written.
pub fn request_stop(exit_path: impl AsRef<Path>) -> Result<()> {
    let p = stop_path(exit_path.as_ref());
    fs::write(&p, b"").map_err(|e| Error::os("writing stop request", p, e))
}

/// What became of a detached container: its exit record, else its monitor's lock and the
/// runtime's view of its init.
///
/// # Errors
/// The runtime root cannot be opened.
pub fn status(
    runtime_root: impl AsRef<Path>,
    id: &str,
    exit_path: impl AsRef<Path>,
) -> Result<MonitorStatus> {
    let exit_path = exit_path.as_ref();
    if let Some(r) = read_exit(exit_path) {
        return Ok(MonitorStatus::Exited(r));
    }
    let monitored = monitor_alive(exit_path);
    let rt = Runtime::open(runtime_root)?;
    // A create that its monitor did not live through never finishes: that is no run.
    let running = rt.state(id).ok().filter(|s| match s.status {
        Status::Running | Status::Paused | Status::Created => true,
        Status::Creating => monitored,
        Status::Stopped => false,
    });
    match running {
        Some(s) => Ok(MonitorStatus::Running {
            pid: s.pid,
            monitored,
        }),
        // The monitor may have recorded the exit between the two looks, or be about to: it
        // deletes the runtime's state before it writes the record.
        None if monitored => Ok(wait_exit(exit_path, Duration::from_secs(5))
            .map_or(MonitorStatus::ExitedUnknown, MonitorStatus::Exited)),
        None => {
            Ok(read_exit(exit_path).map_or(MonitorStatus::ExitedUnknown, MonitorStatus::Exited))
        }
    }
}

/// Marks `init()` as called; runs the monitor (never returning) when this process was
/// started as one.
pub(crate) fn enter() {
    INIT_CALLED.store(true, Ordering::Relaxed);
    if std::env::var_os(ENV).is_some() {
        run_monitor()
    }
}

// ---------------------------------------------------------------------------------------
// The monitor process.

/// The readiness pipe, moved off fd 1 (to a close-on-exec fd) so that nothing the monitor
/// runs — hooks inherit its stdout — can write into it or keep it open.
static READY: Mutex<Option<File>> = Mutex::new(None);

fn report(r: &Report) {
    let mut line = serde_json::to_vec(r).expect("a report always serialises");
    line.push(b'\n');
    let mut ready = READY.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(f) = ready.as_mut() {
        // The host may be gone: then nobody needs the report (SIGPIPE is ignored by std).
        let _ = f.write_all(&line);
    }
    // One report only; closing it lets the host see the end.
    *ready = None;
}

fn fail(e: &Error) -> ! {
    report(&Report::Failed(WireError::from_error(e)));
    raw::exit(1)
}

/// Points fd `target` at /dev/null.
fn to_dev_null(target: i32) {
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        let _ = raw::dup3(null.as_raw_fd(), target, 0);
    }
}

fn run_monitor() -> ! {
    // Single-threaded here, so changing the environment is sound; hooks and the container
    // must not see the marker.
    std::env::remove_var(ENV);
    // Whatever the host leaked without CLOEXEC stays out of the container and hooks.
    let _ = raw::cloexec_from(3);
    // The readiness pipe moves to a close-on-exec fd; stdout becomes what stderr is (the
    // monitor log or /dev/null), where hooks' output then goes.
    if let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() {
        *READY.lock().unwrap_or_else(|p| p.into_inner()) = Some(File::from(fd));
    }
    let _ = raw::dup3(2, 1, 0);
    let mut config = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut config) {
        fail(&Error::os("reading the monitor config", "stdin", e));
    }
    let cfg: MonitorConfig = match serde_json::from_slice(&config) {
        Ok(c) => c,
        Err(e) => fail(&monitor_error("", format!("invalid monitor config: {e}"))),
    };
    to_dev_null(0);
    // Leave the host: the first process exits at once (the host reaps it), the second is
    // reparented to the nearest subreaper or init.
    match raw::fork_with(0) {
        Err(e) => fail(&Error::os(
            "forking the monitor",
            "",
            io::Error::from_raw_os_error(e),
        )),
        Ok(0) => {}
        Ok(_) => raw::exit(0),
    }
    let _ = raw::setsid();
    // Orphans of the container (and its init, when the runtime forks twice) are ours.
    let _ = file::set_child_subreaper();
    let mut monitor = match Monitor::new(cfg) {
        Ok(m) => m,
        Err(e) => fail(&e),
    };
    if let Err(e) = monitor.start_dns() {
        monitor.release();
        fail(&e)
    }
    let run = match monitor.spawn() {
        Ok(r) => r,
        Err(e) => {
            monitor.release();
            fail(&e)
        }
    };
    if let Some(owner) = monitor.cfg.owner {
        // Opened before the report, while the owner is sure to be alive (it waits for it).
        watch_owner(owner, &monitor.cfg);
    }
    report(&Report::Ready {
        monitor_pid: std::process::id() as i32,
        container_pid: run.pid,
    });
    let code = monitor.supervise(run);
    std::process::exit(code)
}

struct Monitor {
    cfg: MonitorConfig,
    rt: Runtime,
    log: Arc<Mutex<LogWriter>>,
    /// Held for the monitor's life.
    _lock: Option<File>,
    /// The container's embedded DNS server, stopped before its networks are detached.
    dns: Option<crate::network::dns::Resolver>,
    /// The pty master of the current run, when the container has a terminal: what the
    /// resize fifo's lines apply to (a restart brings a new one).
    console: Option<Arc<Mutex<Option<File>>>>,
}

/// One run of the container.
struct Run {
    pid: i32,
    started_at: String,
    pumps: Receiver<()>,
    /// Its background healthcheck, if it has one.
    health: Option<super::health::Prober>,
}

impl Monitor {
    fn new(cfg: MonitorConfig) -> Result<Monitor> {
        let lock_file = lock_path(&cfg.exit_path);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .mode(0o600)
            .open(&lock_file)
            .map_err(|e| Error::os("creating monitor lock", &lock_file, e))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |e| {
                Error::os(
                    "locking (is another monitor running?)",
                    &lock_file,
                    e.into(),
                )
            },
        )?;
        let _ = lock.set_len(0);
        let _ = (&lock).write_all(format!("{}\n", std::process::id()).as_bytes());
        let setup = || -> Result<(LogWriter, Runtime)> {
            // A record of an earlier run would end readers' waits at once.
            for stale in [
                cfg.exit_path.clone(),
                stop_path(&cfg.exit_path),
                restarts_path(&cfg.exit_path),
            ] {
                match fs::remove_file(&stale) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::os("removing old exit record", stale, e)),
                }
            }
            Ok((
                LogWriter::open(&cfg.log_path)?,
                Runtime::open(&cfg.runtime_root)?,
            ))
        };
        let (log, rt) = setup().inspect_err(|_| {
            let _ = fs::remove_file(&lock_file);
        })?;
        Ok(Monitor {
            cfg,
            rt,
            log: Arc::new(Mutex::new(log)),
            _lock: Some(lock),
            dns: None,
            console: None,
        })
    }

    /// Serves the container's embedded DNS server when asked to
    /// ([`MonitorConfig::embedded_dns`]), before the container runs.
    fn start_dns(&mut self) -> Result<()> {
        let (Some(upstreams), Some(root)) = (&self.cfg.embedded_dns, &self.cfg.networks_root)
        else {
            return Ok(());
        };
        if crate::paths::rootless() {
            // the container's sidecar serves it (`net::before_start_hook`)
            return Ok(());
        }
        let store = crate::network::NetworkStore::open(root)?;
        let netns = store.netns_path(&self.cfg.id);
        self.dns = Some(crate::network::dns::Resolver::start(
            store,
            &self.cfg.id,
            &netns,
            upstreams.clone(),
        )?);
        Ok(())
    }

    /// Drops the lock and its file (a failed start leaves nothing behind).
    fn release(&mut self) {
        let _ = fs::remove_file(lock_path(&self.cfg.exit_path));
        self._lock = None;
    }

    fn stdin(&self) -> Result<OwnedFd> {
        match &self.cfg.stdin {
            MonitorStdin::Null => File::open("/dev/null")
                .map(OwnedFd::from)
                .map_err(|e| Error::os("opening", "/dev/null", e)),
            MonitorStdin::Fifo(p) => {
                match file::mkfifo(p, 0o600) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(Error::os("creating stdin fifo", p, e)),
                }
                if self.cfg.stdin_once {
                    return stdin_once(p);
                }
                // Read-write: the open does not wait for a writer, and the container sees
                // no end-of-file between writers.
                file::open(p, libc::O_RDWR).map_err(|e| Error::os("opening stdin fifo", p, e))
            }
        }
    }

    /// Starts the container with pipes for its output, and the threads that log them.
    fn spawn(&mut self) -> Result<Run> {
        let pipe = || io::pipe().map_err(|e| Error::os("creating output pipe", "", e));
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let stdin = self.stdin()?;
        let opts = CreateOptions {
            stdin: Some(
                stdin
                    .try_clone()
                    .map_err(|e| Error::os("duplicating stdin", "", e))?,
            ),
            stdout: Some(out_w.into()),
            stderr: Some(err_w.into()),
            // rootless on a network: pasta connects it before it runs
            before_start: self.cfg.networks_root.as_deref().and_then(|root| {
                let dns = self.cfg.embedded_dns.clone();
                super::net::before_start_hook(root, &self.cfg.id, false, dns)
            }),
            ..Default::default()
        };
        let started_at = logs::format_time(SystemTime::now(), false);
        let mut container = self.rt.spawn(&self.cfg.id, &self.cfg.bundle, &opts)?;
        // Only the container may hold the write ends, or the pipes never reach end-of-file.
        drop(opts);
        let (tx, pumps) = mpsc::channel();
        let mut sources: Vec<(File, LogStream)> = vec![
            (File::from(OwnedFd::from(out_r)), LogStream::Stdout),
            (File::from(OwnedFd::from(err_r)), LogStream::Stderr),
        ];
        if let Some(master) = container.take_console() {
            // A terminal (`run -dt`): everything comes through the pty, logged as stdout
            // (as Docker does); stdin is copied into it.
            let master = File::from(master);
            if let Ok(mut w) = master.try_clone() {
                let mut input = File::from(stdin);
                std::thread::spawn(move || {
                    let _ = io::copy(&mut input, &mut w);
                });
            }
            self.serve_resize(&master);
            sources.push((master, LogStream::Stdout));
        }
        for (r, stream) in sources {
            let log = Arc::clone(&self.log);
            let tx: Sender<()> = tx.clone();
            std::thread::spawn(move || pump(r, stream, &log, tx));
        }
        let health = self.cfg.health.clone().and_then(|check| {
            super::health::Prober::start(super::health::Target {
                runtime: self.rt.clone(),
                dir: self.cfg.bundle.clone(),
                id: self.cfg.id.clone(),
                check,
                events_root: self.cfg.networks_root.clone(),
            })
        });
        Ok(Run {
            pid: container.pid(),
            started_at,
            pumps,
            health,
        })
    }

    /// Makes `master` the pty that resize requests apply to; the first time, makes the
    /// resize fifo and the thread that reads it (for the monitor's life). Best effort: a
    /// container whose fifo cannot be made runs with the size it started with.
    fn serve_resize(&mut self, master: &File) {
        let Ok(m) = master.try_clone() else { return };
        if let Some(current) = &self.console {
            if let Ok(mut c) = current.lock() {
                *c = Some(m);
            }
            return;
        }
        let path = resize_path(&self.cfg.exit_path);
        let _ = fs::remove_file(&path);
        if file::mkfifo(&path, 0o600).is_err() {
            return;
        }
        // Read-write: the open does not wait for a writer, and no end-of-file between them.
        let Ok(fifo) = file::open(&path, libc::O_RDWR) else {
            return;
        };
        let current = Arc::new(Mutex::new(Some(m)));
        self.console = Some(Arc::clone(&current));
        std::thread::spawn(move || {
            for line in BufReader::new(File::from(fifo)).lines() {
                let Ok(line) = line else { return };
                let Some((rows, cols)) = parse_size(&line) else {
                    continue;
                };
                if let Ok(Some(pty)) = current.lock().as_deref() {
                    let _ = crate::sys::tty::set_window_size(pty.as_fd(), rows, cols);
                }
            }
        });
    }

    /// Logs, reaps, records and restarts until the container is done; returns the exit
    /// code of the monitor.
    fn supervise(&mut self, mut run: Run) -> i32 {
        let mut restarts = 0u32;
        loop {
            let status = reap(run.pid);
            let finished_at = logs::format_time(SystemTime::now(), false);
            // In a pid namespace everything died with the init and the pipes are closed;
            // processes of a container without one are killed by delete below.
            wait_pumps(&run.pumps, Duration::from_secs(1));
            let oom_killed = self.rt.oom_killed(&self.cfg.id);
            let (code, signal) = match status {
                Some(s) if libc::WIFEXITED(s) => (Some(libc::WEXITSTATUS(s)), None),
                Some(s) if libc::WIFSIGNALED(s) => (None, Some(libc::WTERMSIG(s))),
                _ => (None, None),
            };
            let record = ExitRecord {
                pid: run.pid,
                code,
                signal,
                oom_killed,
                started_at: std::mem::take(&mut run.started_at),
                finished_at,
                restarts,
            };
            super::events::monitored(
                self.cfg.networks_root.as_deref(),
                &self.cfg.bundle,
                "die",
                &[("exitCode", record.exit_code().to_string())],
            );
            let stop_requested = stop_path(&self.cfg.exit_path).exists();
            let again = self
                .cfg
                .restart
                .restarts_after(&record, restarts, stop_requested);
            if let Err(e) = self.rt.delete(&self.cfg.id, true) {
                eprintln!(
                    "{PROCESS_NAME} {}: deleting the container: {e}",
                    self.cfg.id
                );
            }
            // Its processes are gone (a probe in flight with them): the healthcheck ends
            // before the exit is recorded, so nothing writes its health afterwards.
            if let Some(h) = run.health.take() {
                h.stop();
            }
            wait_pumps(&run.pumps, Duration::from_secs(1));
            if again {
                // Docker's back-off: 100 ms, doubling, at most a minute; a run of ten
                // seconds or more starts the count afresh.
                let ran = record
                    .finished()
                    .zip(logs::parse_time(&record.started_at))
                    .and_then(|(f, s)| f.duration_since(s).ok())
                    .unwrap_or_default();
                let delay = if ran >= Duration::from_secs(10) {
                    Duration::from_millis(100)
                } else {
                    Duration::from_millis(100)
                        .saturating_mul(1 << restarts.min(10))
                        .min(Duration::from_secs(60))
                };
                std::thread::sleep(delay);
                restarts += 1;
                let _ = fs::write(restarts_path(&self.cfg.exit_path), format!("{restarts}\n"));
                match self.spawn() {
                    Ok(r) => {
                        super::events::monitored(
                            self.cfg.networks_root.as_deref(),
                            &self.cfg.bundle,
                            "start",
                            &[],
                        );
                        run = r;
                        continue;
                    }
                    Err(e) => {
                        eprintln!("{PROCESS_NAME} {}: restarting: {e}", self.cfg.id);
                    }
                }
            }
            // Its sockets go before the network namespace does.
            if let Some(dns) = self.dns.take() {
                dns.stop();
            }
            if let Some(root) = &self.cfg.networks_root {
                let detached =
                    crate::network::NetworkStore::open(root).and_then(|n| n.detach(&self.cfg.id));
                if let Err(e) = detached {
                    eprintln!("{PROCESS_NAME} {}: detaching networks: {e}", self.cfg.id);
                }
            }
            // The veth deletion detaching started in the background ends before the record
            // says the container is done (and before this process ends).
            crate::network::join_deletions();
            let written = write_record(&self.cfg.exit_path, &record);
            if let Err(e) = written {
                eprintln!("{PROCESS_NAME} {}: {e}", self.cfg.id);
                return 1;
            }
            return 0;
        }
    }
}

/// The container's stdin for a fifo at `fifo` that ends with its writers: a pipe fed by a
/// thread from the fifo (opened read-only: a reader sees end-of-file once the writers that
/// came have all gone, and waits in `poll` until the first one comes). The thread ends at
/// that end-of-file (closing the pipe: the container reads end-of-file) or when the
/// container has closed its end.
fn stdin_once(fifo: &Path) -> Result<OwnedFd> {
    let src = File::from(
        file::open(fifo, libc::O_RDONLY | libc::O_NONBLOCK)
            .map_err(|e| Error::os("opening stdin fifo", fifo, e))?,
    );
    let (r, w) = io::pipe().map_err(|e| Error::os("creating stdin pipe", "", e))?;
    std::thread::spawn(move || {
        let mut w = w;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut fds = [
                libc::pollfd {
                    fd: src.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                // POLLERR once the container's end is closed.
                libc::pollfd {
                    fd: w.as_raw_fd(),
                    events: 0,
                    revents: 0,
                },
            ];
            match file::poll(&mut fds, -1) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
            if fds[1].revents != 0 {
                return;
            }
            if fds[0].revents == 0 {
                continue;
            }
            match (&src).read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if w.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
                    _ => return,
                },
            }
        }
    });
    Ok(r.into())
}

/// Kills the container (and stops restarts) once the process `owner` has exited: at once
/// when it is already gone.
fn watch_owner(owner: i32, cfg: &MonitorConfig) {
    let kill = {
        let (exit, root, id) = (
            cfg.exit_path.clone(),
            cfg.runtime_root.clone(),
            cfg.id.clone(),
        );
        move || {
            let _ = request_stop(&exit);
            if let Ok(rt) = Runtime::open(&root) {
                if let Err(e) = rt.kill(&id, libc::SIGKILL, true) {
                    eprintln!("{PROCESS_NAME} {id}: killing after its owner exited: {e}");
                }
            }
        }
    };
    match file::pidfd_open(owner) {
        Ok(fd) => {
            std::thread::spawn(move || {
                loop {
                    match file::pidfd_wait(fd.as_raw_fd(), -1) {
                        Ok(true) => break,
                        Ok(false) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                kill();
            });
        }
        Err(_) => kill(),
    }
}

/// Copies one output stream into the log until it closes.
fn pump(mut r: File, stream: LogStream, log: &Mutex<LogWriter>, done: Sender<()>) {
    let mut splitter = Splitter::new(stream);
    let mut buf = vec![0u8; logs::MAX_MESSAGE];
    let write = |entries: &[logs::LogEntry]| {
        let mut w = log.lock().unwrap_or_else(|p| p.into_inner());
        for e in entries {
            // A full disk loses log lines, never blocks the container.
            let _ = w.write(e);
        }
    };
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => write(&splitter.feed(&buf[..n], SystemTime::now())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    if let Some(e) = splitter.finish(SystemTime::now()) {
        write(&[e]);
    }
    let _ = done.send(());
}

/// Waits (up to `timeout` in all) for both output streams to end.
fn wait_pumps(pumps: &Receiver<()>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match pumps.recv_timeout(left) {
            Ok(()) => {}
            // Both senders gone: every stream ended.
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            Err(mpsc::RecvTimeoutError::Timeout) => return,
        }
    }
}

/// Reaps children until the init is among them; its raw wait status. Other children
/// (orphans this subreaper inherits) are reaped too, except while a healthcheck probe
/// runs: a probe's process is a child of this process that its own thread waits for.
fn reap(pid: i32) -> Option<i32> {
    loop {
        // Which child has ended, without reaping it.
        match raw::wait_any_nowait() {
            Ok(p) if p == pid => {
                return raw::waitpid(pid, 0).ok().map(|(_, status)| status);
            }
            Ok(p) => {
                if super::health::probing() {
                    // Perhaps the probe's: its thread reaps it, soon.
                    std::thread::sleep(Duration::from_millis(5));
                } else {
                    let _ = raw::waitpid(p, libc::WNOHANG);
                }
            }
            Err(_) => {
                // Not our child after all (or SIGCHLD is ignored): wait for it to go.
                if let Ok(fd) = file::pidfd_open(pid) {
                    while !file::pidfd_wait(fd.as_raw_fd(), 1000).unwrap_or(true) {}
                }
                return None;
            }
        }
    }
}

/// Writes the exit record: temp file, fsync, rename.
fn write_record(path: &Path, record: &ExitRecord) -> Result<()> {
    let tmp = with_suffix(path, &format!(".tmp{}", std::process::id()));
    let data = serde_json::to_vec(record).expect("a record always serialises");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::os("writing exit record", path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn record(code: Option<i32>, signal: Option<i32>) -> ExitRecord {
        ExitRecord {
            pid: 1,
            code,
            signal,
            oom_killed: false,
            started_at: "2024-05-01T12:00:00Z".into(),
            finished_at: "2024-05-01T12:00:01.5Z".into(),
            restarts: 0,
        }
    }

    #[test]
    fn restart_policies_parse_as_docker_writes_them() {
        assert_eq!("no".parse::<RestartPolicy>().unwrap(), RestartPolicy::No);
        assert_eq!(
            "always".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::Always
        );
        assert_eq!(
            "unless-stopped".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::UnlessStopped
        );
        assert_eq!(
            "on-failure:3".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnFailure {
                max_retries: Some(3)
            }
        );
        assert_eq!(
            "on-failure".parse::<RestartPolicy>().unwrap(),
            RestartPolicy::OnFailure { max_retries: None }
        );
        for bad in ["sometimes", "always:2", "on-failure:x"] {
            let e = bad.parse::<RestartPolicy>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn exit_codes_read_as_a_shell_does() {
        assert_eq!(record(Some(3), None).exit_code(), 3);
        assert_eq!(record(None, Some(9)).exit_code(), 137);
        assert_eq!(record(None, None).exit_code(), -1);
        assert!(record(None, None).finished().is_some());
    }

    #[test]
    fn restart_policies() {
        let ok = record(Some(0), None);
        let bad = record(Some(1), None);
        assert!(!RestartPolicy::No.restarts_after(&bad, 0, false));
        assert!(RestartPolicy::Always.restarts_after(&ok, 5, false));
        assert!(!RestartPolicy::Always.restarts_after(&ok, 5, true));
        let on_failure = RestartPolicy::OnFailure {
            max_retries: Some(2),
        };
        assert!(!on_failure.restarts_after(&ok, 0, false));
        assert!(on_failure.restarts_after(&bad, 1, false));
        assert!(!on_failure.restarts_after(&bad, 2, false));
        // `on-failure:0` is no limit, as Docker reads it and as the record keeps it.
        let zero: RestartPolicy = "on-failure:0".parse().unwrap();
        assert!(zero.restarts_after(&bad, 100, false));
        assert!(!zero.restarts_after(&ok, 0, false));
        let kept = crate::container::RestartPolicyInfo::from(zero);
        assert_eq!(kept.maximum_retry_count, 0);
        assert!(kept.policy().restarts_after(&bad, 100, false));
    }

    #[test]
    fn errors_cross_the_pipe() {
        let e = Error::Spawn {
            stage: "executing /nope".into(),
            source: io::Error::from_raw_os_error(libc::ENOENT),
        };
        let wire = serde_json::to_string(&Report::Failed(WireError::from_error(&e))).unwrap();
        let Report::Failed(back) = serde_json::from_str(&wire).unwrap() else {
            panic!("not a failure")
        };
        match back.into_error(|r| monitor_error("c", r)) {
            Error::Spawn { stage, source } => {
                assert_eq!(stage, "executing /nope");
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("{other:?}"),
        }
        let hook = Error::Hook {
            kind: "prestart",
            path: "/h".into(),
            reason: "exit status 1".into(),
        };
        match WireError::from_error(&hook).into_error(|r| monitor_error("c", r)) {
            Error::Monitor { id, reason } => {
                assert_eq!(id, "c");
                assert!(reason.contains("prestart hook /h failed"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn starting_without_init_is_refused() {
        // Unit tests never call `cargohold::init()`: a re-executed test binary would run
        // the tests again instead of a monitor.
        let cfg = MonitorConfig::new("/nonexistent", "x", "/b", "/l", "/e");
        match start(&cfg) {
            Err(Error::Monitor { reason, .. }) => {
                assert!(reason.contains("cargohold::init()"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// A monitor's config with everything in `dir`.
    fn config_in(dir: &Path) -> MonitorConfig {
        MonitorConfig::new(
            dir.join("runtime"),
            "c",
            dir.join("bundle"),
            dir.join("ctr.log"),
            dir.join("exit.json"),
        )
    }

    #[test]
    fn a_program_that_is_not_a_monitor() {
        // It exits without a report: the start fails, and says so.
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config_in(dir.path());
        cfg.program = Some("/bin/true".into());
        match start(&cfg) {
            Err(Error::Monitor { id, reason }) => {
                assert_eq!(id, "c");
                assert!(reason.contains("before reporting"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(!monitor_alive(&cfg.exit_path));
        assert!(read_exit(&cfg.exit_path).is_none());
        assert!(!cfg.runtime_root.exists(), "no runtime touched");
    }

    #[test]
    fn stdin_fifo_feeds_the_container_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("stdin");
        let mut cfg = config_in(dir.path());
        cfg.stdin = MonitorStdin::Fifo(fifo.clone());
        let mut m = Monitor::new(cfg).unwrap();
        assert!(
            monitor_alive(dir.path().join("exit.json")),
            "holds its lock"
        );
        // What the container gets as stdin; opening it does not wait for a writer.
        let mut stdin = File::from(m.stdin().unwrap());
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        // One writer, then another: the reader sees both, with no end-of-file between.
        for line in [&b"hello\n"[..], b"again\n"] {
            let mut w = OpenOptions::new().write(true).open(&fifo).unwrap();
            w.write_all(line).unwrap();
            drop(w);
            let mut got = vec![0; line.len()];
            stdin.read_exact(&mut got).unwrap();
            assert_eq!(got, line);
        }
        // A fifo left by an earlier run is reused.
        drop(stdin);
        let again = m.stdin().unwrap();
        let mut w = OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b"third\n").unwrap();
        let mut got = [0; 6];
        File::from(again).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"third\n");
        m.release();
        assert!(!monitor_alive(dir.path().join("exit.json")));
        assert!(!lock_path(&dir.path().join("exit.json")).exists());
        // Without a fifo, stdin is /dev/null: end-of-file at once.
        let m = Monitor::new(config_in(dir.path())).unwrap();
        let mut null = Vec::new();
        File::from(m.stdin().unwrap())
            .read_to_end(&mut null)
            .unwrap();
        assert!(null.is_empty());
    }

    #[test]
    fn a_missing_monitor_is_not_alive() {
        let dir = tempfile::tempdir().unwrap();
        let exit = dir.path().join("exit.json");
        assert!(!monitor_alive(&exit));
        assert!(finished(&exit));
        // A lock file nobody holds.
        fs::write(lock_path(&exit), b"1\n").unwrap();
        assert!(!monitor_alive(&exit));
        // Held by an open file description of ours. Blocking: a child that another test
        // forks meanwhile holds monitor_alive's probe descriptor until it execs.
        let held = File::open(lock_path(&exit)).unwrap();
        rustix::fs::flock(&held, rustix::fs::FlockOperation::LockExclusive).unwrap();
        assert!(monitor_alive(&exit));
        assert!(wait_exit(&exit, Duration::from_millis(30)).is_none());
        write_record(&exit, &record(Some(0), None)).unwrap();
        assert_eq!(
            wait_exit(&exit, Duration::from_secs(1)),
            Some(record(Some(0), None))
        );
    }
}
