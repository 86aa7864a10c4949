//! Docker's background healthchecks: a container's [`Healthcheck`] (the image's
//! `HEALTHCHECK`, or [`ContainerBuilder::healthcheck`](super::ContainerBuilder::healthcheck)),
//! run by the monitor of a detached container for as long as the container runs, and the
//! [`Health`] it keeps (`State.Health` of `docker inspect`).
//!
//! # Semantics (moby's `daemon/health.go`)
//! - The status is `starting` from each start (a restart starts over, the log is kept)
//!   until the first probe that exits 0 (`healthy`, failing streak 0), or until `retries`
//!   failures in a row have counted (`unhealthy`).
//! - A probe fails when it exits non-zero (1 is "unhealthy", other codes are treated the
//!   same), cannot be run, or outlives `timeout`: it is then killed with SIGKILL and logged
//!   with exit code -1 and Docker's "Health check exceeded timeout (30s)".
//! - While the container is `starting` and the probe began within `start_period` of the
//!   start, a failure does not count; a success does.
//! - The first probe runs one `interval` after the start, each next one an `interval`
//!   after the previous ended; during the start period, while `starting`, every
//!   `start_interval` instead; never later than the end of the start period.
//! - The log keeps the last 5 probes, each with its output (stdout and stderr together)
//!   cut at 4096 bytes (`...` appended when cut).
//! - A paused container is not probed. When the container stops, its health stays as it
//!   was last (`docker inspect` shows it) until it starts again.
//!
//! # Where it lives
//! The monitor writes [`Health`] to `health.json` beside the container's record after
//! every probe, atomically (temp file + rename), so `inspect` and `ps` in any process read
//! it; a status change is also an event (`health_status: healthy`). The file goes with the
//! container's directory.
//!
//! Attached containers (children of the calling program, no monitor) are not probed in
//! the background; [`WaitFor::healthcheck`](super::WaitFor::healthcheck) runs their check
//! on demand.

use std::ffi::OsString;
use std::fmt;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::exec::ExecBuilder;
use super::logs;
use super::record::{Container, Record};
use super::Stdio;
use crate::runtime::Runtime;
use crate::{Error, Result};

/// Time between probes when the healthcheck sets none (Docker's default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// A probe's time limit when the healthcheck sets none (Docker's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time between probes during the start period when the healthcheck sets none.
pub const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
/// Failures in a row that make a container unhealthy when the healthcheck sets none.
pub const DEFAULT_RETRIES: u32 = 3;
/// How many probes [`Health::log`] keeps.
pub const MAX_LOG_ENTRIES: usize = 5;
/// The most bytes of a probe's output [`HealthProbe::output`] keeps.
pub const MAX_OUTPUT: usize = 4096;

/// The file beside the record that holds the container's [`Health`].
const FILE: &str = "health.json";

/// A container's healthcheck, in the shape of Docker's `Config.Healthcheck` (and of an
/// image's `HEALTHCHECK`): the test and how often, how long and how many times to run it.
///
/// A duration of zero (and `retries` 0) means "not set": the image's value when the
/// healthcheck overrides one (as `docker run --health-interval` alone keeps the image's
/// command), else Docker's default (interval 30 s, timeout 30 s, start interval 5 s,
/// retries 3, no start period). An empty `test`
/// keeps the image's test.
///
/// Serialises as Docker does: `Test`, `Interval`, `Timeout`, `StartPeriod`,
/// `StartInterval` (nanoseconds) and `Retries`, unset fields left out.
///
/// ```
/// use std::time::Duration;
/// use cargohold::Healthcheck;
///
/// // docker run --health-cmd 'test -f /tmp/ok' --health-interval 1s --health-retries 2
/// let hc = Healthcheck::shell("test -f /tmp/ok")
///     .interval(Duration::from_secs(1))
///     .retries(2);
/// assert_eq!(hc.test, ["CMD-SHELL", "test -f /tmp/ok"]);
/// // docker run --no-healthcheck
/// assert!(Healthcheck::none().is_disabled());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Healthcheck {
    /// `["CMD", program, args…]` (run as is), `["CMD-SHELL", command]` (run through
    /// `/bin/sh -c`), `["NONE"]` (no healthcheck, not even the image's), or empty (the
    /// image's test).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Time between probes.
    #[serde(default, with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub interval: Duration,
    /// A probe's time limit.
    #[serde(default, with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub timeout: Duration,
    /// Time after the start during which failures do not count.
    #[serde(default, with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub start_period: Duration,
    /// Time between probes during the start period.
    #[serde(default, with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub start_interval: Duration,
    /// Failures in a row that make the container unhealthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Durations as Docker's JSON has them: integer nanoseconds.
mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        // Docker writes int64; a negative value (refused at create) reads as unset.
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(u64::try_from(n).unwrap_or(0)))
    }
}

impl Healthcheck {
    /// A check that runs `args` as is (`HEALTHCHECK CMD ["prog", "arg"]`).
    pub fn cmd<I, S>(args: I) -> Healthcheck
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut test = vec!["CMD".to_owned()];
        test.extend(args.into_iter().map(Into::into));
        Healthcheck {
            test,
            ..Healthcheck::default()
        }
    }

    /// A check that runs `command` through `/bin/sh -c` (`HEALTHCHECK CMD command`,
    /// `docker run --health-cmd`).
    pub fn shell(command: impl Into<String>) -> Healthcheck {
        Healthcheck {
            test: vec!["CMD-SHELL".to_owned(), command.into()],
            ..Healthcheck::default()
        }
    }

    /// No healthcheck, not even the image's (`HEALTHCHECK NONE`, `docker run
    /// --no-healthcheck`).
    pub fn none() -> Healthcheck {
        Healthcheck {
            test: vec!["NONE".to_owned()],
            ..Healthcheck::default()
        }
    }

    setters! {
        /// Sets the time between probes.
        fn interval(mut self, d: Duration) {
            self.interval = d;
        }

        /// Sets a probe's time limit.
        fn timeout(mut self, d: Duration) {
            self.timeout = d;
        }

        /// Sets the time after the start during which failures do not count.
        fn start_period(mut self, d: Duration) {
            self.start_period = d;
        }

        /// Sets the time between probes during the start period.
        fn start_interval(mut self, d: Duration) {
            self.start_interval = d;
        }

        /// Sets how many failures in a row make the container unhealthy.
        fn retries(mut self, n: u32) {
            self.retries = n;
        }
    }

    /// Whether it disables health checking (`NONE`).
    pub fn is_disabled(&self) -> bool {
        self.test.first().is_some_and(|t| t == "NONE")
    }

    /// The command a probe runs: the test's program and arguments (through `/bin/sh -c`
    /// for `CMD-SHELL`); `None` for `NONE`, an empty or an unknown test.
    pub(crate) fn command(&self) -> Option<Vec<String>> {
        let (kind, rest) = self.test.split_first()?;
        match kind.as_str() {
            "CMD" if !rest.is_empty() => Some(rest.to_vec()),
            "CMD-SHELL" if !rest.is_empty() => {
                let mut c = vec!["/bin/sh".to_owned(), "-c".to_owned()];
                c.extend(rest.iter().cloned());
                Some(c)
            }
            _ => None,
        }
    }

    /// `self` over `image`'s as Docker merges a container's healthcheck with its image's:
    /// an empty test and every unset field come from the image.
    pub(crate) fn over(&self, image: Option<&Healthcheck>) -> Healthcheck {
        let Some(image) = image else {
            return self.clone();
        };
        let pick = |mine: Duration, theirs: Duration| if mine.is_zero() { theirs } else { mine };
        Healthcheck {
            test: if self.test.is_empty() {
                image.test.clone()
            } else {
                self.test.clone()
            },
            interval: pick(self.interval, image.interval),
            timeout: pick(self.timeout, image.timeout),
            start_period: pick(self.start_period, image.start_period),
            start_interval: pick(self.start_interval, image.start_interval),
            retries: if self.retries == 0 {
                image.retries
            } else {
                self.retries
            },
        }
    }

    /// Docker's checks at create: a known test with a command, durations of at least 1 ms
    /// when set. The reason when it fails.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        match self.test.first().map(String::as_str) {
            None | Some("NONE") => {}
            Some("CMD" | "CMD-SHELL") if self.test.len() > 1 => {}
            Some("CMD" | "CMD-SHELL") => return Err(format!("{:?} has no command", self.test)),
            Some(other) => {
                return Err(format!(
                    "unknown test type {other:?} (expected CMD, CMD-SHELL or NONE)"
                ))
            }
        }
        for (name, d) in [
            ("Interval", self.interval),
            ("Timeout", self.timeout),
            ("StartPeriod", self.start_period),
            ("StartInterval", self.start_interval),
        ] {
            if !d.is_zero() && d < Duration::from_millis(1) {
                return Err(format!("{name} in Healthcheck cannot be less than 1ms"));
            }
        }
        Ok(())
    }

    fn interval_or_default(&self) -> Duration {
        or(self.interval, DEFAULT_INTERVAL)
    }

    pub(crate) fn timeout_or_default(&self) -> Duration {
        or(self.timeout, DEFAULT_TIMEOUT)
    }

    fn start_interval_or_default(&self) -> Duration {
        or(self.start_interval, DEFAULT_START_INTERVAL)
    }

    fn retries_or_default(&self) -> u32 {
        if self.retries == 0 {
            DEFAULT_RETRIES
        } else {
            self.retries
        }
    }
}

fn or(d: Duration, default: Duration) -> Duration {
    if d.is_zero() {
        default
    } else {
        d
    }
}

/// The healthcheck of an image's config blob (Docker's `config.Healthcheck`; oci-spec's
/// image `Config` has no such field); `None` when it has none.
///
/// # Errors
/// The blob is not JSON of an image config.
pub(crate) fn of_image_config(blob: &[u8]) -> serde_json::Result<Option<Healthcheck>> {
    #[derive(Deserialize)]
    struct Blob {
        #[serde(default)]
        config: Option<Cfg>,
    }
    #[derive(Deserialize)]
    struct Cfg {
        #[serde(default, rename = "Healthcheck")]
        healthcheck: Option<Healthcheck>,
    }
    let b: Blob = serde_json::from_slice(blob)?;
    Ok(b.config.and_then(|c| c.healthcheck))
}

/// A container's health status, as Docker words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Not healthy yet: no probe has succeeded since the start, and failures have not (or
    /// not yet) made it unhealthy.
    Starting,
    /// The last probe succeeded.
    Healthy,
    /// `retries` probes in a row have failed.
    Unhealthy,
}

impl HealthStatus {
    /// `starting`, `healthy` or `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for HealthStatus {
    type Err = Error;

    /// `starting`, `healthy` or `unhealthy`.
    fn from_str(s: &str) -> Result<HealthStatus> {
        match s {
            "starting" => Ok(HealthStatus::Starting),
            "healthy" => Ok(HealthStatus::Healthy),
            "unhealthy" => Ok(HealthStatus::Unhealthy),
            _ => Err(Error::InvalidFilter {
                filter: s.to_owned(),
                reason: "a health status is one of starting, healthy, unhealthy".to_owned(),
            }),
        }
    }
}

/// One probe of a healthcheck (`State.Health.Log[]` of `docker inspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct HealthProbe {
    /// When it started, RFC 3339.
    pub start: String,
    /// When it ended, RFC 3339.
    pub end: String,
    /// Its exit code; -1 when it timed out or could not be run.
    pub exit_code: i32,
    /// Its stdout and stderr, at most 4096 bytes (`...` appended when cut); why
    /// it failed when it timed out or could not be run.
    pub output: String,
}

/// A container's health (`State.Health` of `docker inspect`), as its monitor last wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Health {
    /// starting, healthy or unhealthy.
    pub status: HealthStatus,
    /// Failures in a row that counted.
    pub failing_streak: u32,
    /// The last probes, oldest first (at most 5).
    pub log: Vec<HealthProbe>,
}

impl Health {
    /// Health at a (re)start: `starting`, no failures, the earlier log kept (as Docker).
    pub(crate) fn restarted(earlier: Option<Health>) -> Health {
        Health {
            status: HealthStatus::Starting,
            failing_streak: 0,
            log: earlier.map(|h| h.log).unwrap_or_default(),
        }
    }

    /// Takes a probe's result into account, as Docker's `handleProbeResult` does:
    /// `started` is when the container started, `probe_start` when the probe did. Returns
    /// the new status when it changed.
    pub(crate) fn record(
        &mut self,
        probe: HealthProbe,
        probe_start: SystemTime,
        started: SystemTime,
        check: &Healthcheck,
    ) -> Option<HealthStatus> {
        let old = self.status;
        let healthy = probe.exit_code == 0;
        self.log.push(probe);
        if self.log.len() > MAX_LOG_ENTRIES {
            let extra = self.log.len() - MAX_LOG_ENTRIES;
            self.log.drain(..extra);
        }
        if healthy {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else {
            // A clock that went back reads as still in the period.
            let in_start_period = self.status == HealthStatus::Starting
                && match probe_start.duration_since(started) {
                    Ok(since) => since < check.start_period,
                    Err(_) => !check.start_period.is_zero(),
                };
            if !in_start_period {
                self.failing_streak = self.failing_streak.saturating_add(1);
                if self.failing_streak >= check.retries_or_default() {
                    self.status = HealthStatus::Unhealthy;
                }
            }
        }
        (self.status != old).then_some(self.status)
    }
}

/// How long to wait before the next probe, `elapsed` after the start with `status`:
/// the interval, or during the start period (while starting) the start interval; never
/// past the end of the start period.
pub(crate) fn next_delay(check: &Healthcheck, elapsed: Duration, status: HealthStatus) -> Duration {
    let interval = check.interval_or_default();
    let Some(left) = check
        .start_period
        .checked_sub(elapsed)
        .filter(|l| !l.is_zero())
    else {
        return interval;
    };
    let wanted = if status == HealthStatus::Starting {
        check.start_interval_or_default()
    } else {
        interval
    };
    wanted.min(left)
}

pub(crate) use crate::godur::format as go_duration;

/// `health.json` in the container directory `dir`.
pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The health its monitor last wrote for the container in `dir`; `None` without one.
pub(crate) fn read(dir: &Path) -> Option<Health> {
    let data = std::fs::read(path(dir)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// Writes the health of the container in `dir` atomically (temp file + rename; no fsync:
/// it is rewritten at every probe and starts over at every start).
fn write(dir: &Path, h: &Health) -> Result<()> {
    let data = serde_json::to_vec(h).map_err(|e| Error::os("serialising", path(dir), e.into()))?;
    crate::store::write_replace(&path(dir), &data, false)
}

/// The health of the container of `rec` (in `dir`): `None` when it has no healthcheck
/// (or `NONE`), or has not been started with one.
pub(crate) fn of_record(rec: &Record, dir: &Path) -> Option<Health> {
    let hc = rec.info.config.healthcheck.as_ref()?;
    hc.command()?;
    read(dir)
}

impl Container {
    /// Its health, as the background healthcheck of its monitor last recorded it
    /// (Docker's `State.Health`): `None` when it has no healthcheck (none in its image and
    /// none set, or [`Healthcheck::none`]) or has never been started detached with one.
    /// Once it stops, the health stays as it was last; a start begins again at
    /// [`HealthStatus::Starting`].
    ///
    /// ```no_run
    /// # fn f(c: &cargohold::Container) -> cargohold::Result<()> {
    /// use cargohold::HealthStatus;
    /// if let Some(h) = c.health()? {
    ///     println!("{} (failing streak {})", h.status, h.failing_streak);
    ///     assert!(h.status != HealthStatus::Unhealthy || h.failing_streak > 0);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] once it has been removed.
    pub fn health(&self) -> Result<Option<Health>> {
        let rec = Record::load(&self.dir).map_err(|_| Error::ContainerNotFound {
            id: self.name().to_owned(),
        })?;
        Ok(of_record(&rec, &self.dir))
    }

    /// Its healthcheck as created (the image's merged with the one set), if any
    /// (`Config.Healthcheck` of `docker inspect`).
    pub fn healthcheck(&self) -> Option<&Healthcheck> {
        self.record.info.config.healthcheck.as_ref()
    }
}

// ---------------------------------------------------------------------------------------
// The prober, in the monitor process.

/// Probes in flight in this process: while one runs, the monitor's reaper leaves children
/// other than the container's init alone, so that the probe's own wait gets its status.
static PROBING: AtomicUsize = AtomicUsize::new(0);

/// Whether a probe is running in this process (see [`PROBING`]).
pub(crate) fn probing() -> bool {
    PROBING.load(Ordering::SeqCst) > 0
}

/// What a prober needs: the container, its healthcheck, where its events go.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub runtime: Runtime,
    /// The container's directory (its bundle, with its record).
    pub dir: PathBuf,
    pub id: String,
    pub check: Healthcheck,
    /// The engine root, for events.
    pub events_root: Option<PathBuf>,
}

/// The background healthcheck of one run of a container: a thread that probes until
/// [`stop`](Prober::stop)ped.
#[derive(Debug)]
pub(crate) struct Prober {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Prober {
    /// Starts probing a container that has just started: its health is reset to starting
    /// (written before this returns, so a reader right after the start sees it). `None`
    /// when its healthcheck has no command.
    pub(crate) fn start(t: Target) -> Option<Prober> {
        let command = t.check.command()?;
        let started = SystemTime::now();
        let clock = Instant::now();
        let mut health = Health::restarted(read(&t.dir));
        if let Err(e) = write(&t.dir, &health) {
            eprintln!("cargohold-monitor {}: writing health: {e}", t.id);
        }
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::spawn(move || loop {
            let delay = next_delay(&t.check, clock.elapsed(), health.status);
            match stopped.recv_timeout(delay) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            // A probe in a frozen cgroup would hang; Docker stops probing while paused.
            if paused(&t) {
                continue;
            }
            let probe_start = SystemTime::now();
            let probe = run_probe(&t, &command, probe_start);
            if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                // Stopped meanwhile: the container is gone, the result means nothing.
                return;
            }
            let changed = health.record(probe, probe_start, started, &t.check);
            if let Err(e) = write(&t.dir, &health) {
                eprintln!("cargohold-monitor {}: writing health: {e}", t.id);
            }
            if let Some(status) = changed {
                super::events::monitored(
                    t.events_root.as_deref(),
                    &t.dir,
                    &format!("health_status: {status}"),
                    &[],
                );
            }
        });
        Some(Prober { stop, thread })
    }

    /// Stops probing and waits for the thread: call it once the container's processes are
    /// gone (a probe in flight died with them).
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn paused(t: &Target) -> bool {
    t.runtime
        .state(&t.id)
        .is_ok_and(|s| s.status == crate::runtime::Status::Paused)
}

/// Runs one probe: the command through exec, killed at the timeout, its stdout and
/// stderr collected together (at most [`MAX_OUTPUT`] bytes).
fn run_probe(t: &Target, command: &[String], start: SystemTime) -> HealthProbe {
    let timeout = t.check.timeout_or_default();
    PROBING.fetch_add(1, Ordering::SeqCst);
    let clock = Instant::now();
    let result = exec_collecting(t, command, timeout);
    let took = clock.elapsed();
    PROBING.fetch_sub(1, Ordering::SeqCst);
    let (exit_code, output) = match result {
        Ok((status, out)) if status.signal() == Some(libc::SIGKILL) && took >= timeout => {
            let limit = go_duration(timeout);
            let msg = if out.is_empty() {
                format!("Health check exceeded timeout ({limit})")
            } else {
                format!("Health check exceeded timeout ({limit}): {out}")
            };
            (-1, msg)
        }
        Ok((status, out)) => (status.docker_code(), out),
        Err(e) => (-1, e.to_string()),
    };
    HealthProbe {
        start: logs::format_time(start, false),
        end: logs::format_time(SystemTime::now(), false),
        exit_code,
        output,
    }
}

/// Execs `command` with stdout and stderr into one pipe, read on a thread; output a
/// process left behind holds open is given up on after a short grace.
fn exec_collecting(
    t: &Target,
    command: &[String],
    timeout: Duration,
) -> Result<(super::ExitStatus, String)> {
    let (r, w) = io::pipe().map_err(|e| Error::os("creating probe output pipe", "", e))?;
    let w2 = w
        .try_clone()
        .map_err(|e| Error::os("duplicating probe output pipe", "", e))?;
    let collected = Arc::new(Mutex::new((Vec::new(), false)));
    let (done_tx, done) = mpsc::channel::<()>();
    {
        let collected = Arc::clone(&collected);
        let mut r = r;
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut c = collected.lock().unwrap_or_else(|p| p.into_inner());
                let room = MAX_OUTPUT.saturating_sub(c.0.len());
                c.0.extend_from_slice(&buf[..n.min(room)]);
                c.1 |= n > room;
            }
            let _ = done_tx.send(());
        });
    }
    let args: Vec<OsString> = command.iter().map(OsString::from).collect();
    let status = {
        let mut b = ExecBuilder::in_dir(&t.runtime, t.dir.clone(), &t.id, &t.id, args);
        b.timeout(timeout)
            .stdin(Stdio::null())
            .stdout(Stdio::from(OwnedFd::from(w)))
            .stderr(Stdio::from(OwnedFd::from(w2)));
        b.output().map(|o| o.status)
        // The builder and our write ends go here: the reader sees end-of-file once the
        // probe (and anything it left) is gone.
    };
    let _ = done.recv_timeout(Duration::from_millis(100));
    let c = collected.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::from_utf8_lossy(&c.0).into_owned();
    if c.1 {
        out.push_str("...");
    }
    Ok((status?, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn probe(code: i32) -> HealthProbe {
        HealthProbe {
            start: "2024-05-01T12:00:00Z".into(),
            end: "2024-05-01T12:00:00.1Z".into(),
            exit_code: code,
            output: format!("code {code}"),
        }
    }

    /// Feeds `codes` at `at` seconds after a start at `t0`; the statuses after each.
    fn run(check: &Healthcheck, probes: &[(u64, i32)]) -> (Health, Vec<HealthStatus>) {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut h = Health::restarted(None);
        let mut seen = Vec::new();
        for &(at, code) in probes {
            h.record(probe(code), t0 + S * at as u32, t0, check);
            seen.push(h.status);
        }
        (h, seen)
    }

    #[test]
    fn success_makes_healthy_and_resets_the_streak() {
        let hc = Healthcheck::shell("x");
        let (h, seen) = run(&hc, &[(30, 1), (60, 0)]);
        use HealthStatus::*;
        assert_eq!(seen, [Starting, Healthy]);
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.log.len(), 2);
    }

    #[test]
    fn retries_failures_in_a_row_make_unhealthy() {
        use HealthStatus::*;
        let hc = Healthcheck::shell("x").retries(2);
        let (h, seen) = run(&hc, &[(1, 0), (2, 1), (3, 2), (4, 1)]);
        // Any non-zero exit (2 too, which Docker reserves) is a failure.
        assert_eq!(seen, [Healthy, Healthy, Unhealthy, Unhealthy]);
        assert_eq!(h.failing_streak, 3);
        // Default retries: 3.
        let (_, seen) = run(&Healthcheck::shell("x"), &[(1, 1), (2, 1), (3, 1)]);
        assert_eq!(seen, [Starting, Starting, Unhealthy]);
        // A success recovers.
        let (h, seen) = run(&hc, &[(1, 1), (2, 1), (3, 0)]);
        assert_eq!(seen, [Starting, Unhealthy, Healthy]);
        assert_eq!(h.failing_streak, 0);
    }

    #[test]
    fn failures_in_the_start_period_do_not_count_successes_do() {
        use HealthStatus::*;
        let hc = Healthcheck::shell("x").retries(1).start_period(S * 10);
        let (h, seen) = run(&hc, &[(1, 1), (5, 1), (9, 1)]);
        assert_eq!(seen, [Starting, Starting, Starting]);
        assert_eq!(h.failing_streak, 0);
        assert_eq!(h.log.len(), 3, "logged all the same");
        // After the period, they count.
        let (h, seen) = run(&hc, &[(9, 1), (10, 1)]);
        assert_eq!(seen, [Starting, Unhealthy]);
        assert_eq!(h.failing_streak, 1);
        // A success in the period counts, and after it failures count even in the period.
        let hc = Healthcheck::shell("x").retries(2).start_period(S * 10);
        let (h, seen) = run(&hc, &[(1, 0), (2, 1), (3, 1)]);
        assert_eq!(seen, [Healthy, Healthy, Unhealthy]);
        assert_eq!(h.failing_streak, 2);
    }

    #[test]
    fn the_log_keeps_the_last_five() {
        let (h, _) = run(
            &Healthcheck::shell("x"),
            &[(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 6)],
        );
        let codes: Vec<i32> = h.log.iter().map(|p| p.exit_code).collect();
        assert_eq!(codes, [2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_restart_starts_over_and_keeps_the_log() {
        let (h, _) = run(&Healthcheck::shell("x").retries(1), &[(1, 1)]);
        assert_eq!(h.status, HealthStatus::Unhealthy);
        let again = Health::restarted(Some(h));
        assert_eq!(again.status, HealthStatus::Starting);
        assert_eq!(again.failing_streak, 0);
        assert_eq!(again.log.len(), 1);
    }

    #[test]
    fn status_changes_are_reported_once() {
        let t0 = SystemTime::UNIX_EPOCH;
        let hc = Healthcheck::shell("x").retries(1);
        let mut h = Health::restarted(None);
        assert_eq!(h.record(probe(0), t0, t0, &hc), Some(HealthStatus::Healthy));
        assert_eq!(h.record(probe(0), t0, t0, &hc), None);
        assert_eq!(
            h.record(probe(1), t0, t0, &hc),
            Some(HealthStatus::Unhealthy)
        );
        assert_eq!(h.record(probe(1), t0, t0, &hc), None);
    }

    #[test]
    fn delays_follow_interval_start_interval_and_start_period() {
        use HealthStatus::*;
        let hc = Healthcheck::shell("x");
        assert_eq!(next_delay(&hc, Duration::ZERO, Starting), DEFAULT_INTERVAL);
        let hc = Healthcheck::shell("x")
            .interval(S * 30)
            .start_period(S * 60)
            .start_interval(S * 2);
        assert_eq!(next_delay(&hc, S, Starting), S * 2);
        assert_eq!(next_delay(&hc, S, Healthy), S * 30);
        // Never past the end of the period.
        assert_eq!(next_delay(&hc, S * 59, Starting), S);
        assert_eq!(next_delay(&hc, S * 45, Healthy), S * 15);
        assert_eq!(next_delay(&hc, S * 60, Starting), S * 30);
        // The default start interval.
        let hc = Healthcheck::shell("x").start_period(S * 60);
        assert_eq!(next_delay(&hc, S, Starting), DEFAULT_START_INTERVAL);
    }

    #[test]
    fn durations_as_go_writes_them() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::from_micros(2500)), "2.5ms");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(3725)), "1h2m5s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_duration(Duration::from_nanos(7)), "7ns");
    }

    #[test]
    fn healthchecks_serialise_as_docker() {
        let hc = Healthcheck::shell("test -f /ok").interval(S).retries(3);
        let v = serde_json::to_value(&hc).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Test": ["CMD-SHELL", "test -f /ok"], "Interval": 1_000_000_000u64, "Retries": 3})
        );
        let back: Healthcheck = serde_json::from_value(v).unwrap();
        assert_eq!(back, hc);
        let blob = br#"{"config":{"Healthcheck":{"Test":["CMD","true"],"Timeout":2000000000,"StartPeriod":0}}}"#;
        let img = of_image_config(blob).unwrap().unwrap();
        assert_eq!(img.command().unwrap(), ["true"]);
        assert_eq!(img.timeout_or_default(), S * 2);
        assert_eq!(of_image_config(br#"{"config":{}}"#).unwrap(), None);
        assert_eq!(
            Healthcheck::shell("a b").command().unwrap(),
            ["/bin/sh", "-c", "a b"]
        );
        assert_eq!(Healthcheck::none().command(), None);
        assert_eq!(Healthcheck::default().command(), None);
    }

    #[test]
    fn a_container_healthcheck_over_the_images() {
        let image = Healthcheck::cmd(["true"]).interval(S * 5).retries(2);
        // --health-interval alone: the image's test, our interval.
        let hc = Healthcheck::default().interval(S).over(Some(&image));
        assert_eq!(hc.test, ["CMD", "true"]);
        assert_eq!((hc.interval, hc.retries), (S, 2));
        assert!(Healthcheck::none().over(Some(&image)).is_disabled());
        assert_eq!(Healthcheck::shell("x").over(None), Healthcheck::shell("x"));
    }

    #[test]
    fn checks_as_docker_makes_them() {
        assert!(Healthcheck::shell("x").check().is_ok());
        assert!(Healthcheck::none().check().is_ok());
        assert!(Healthcheck::default().check().is_ok());
        let e = Healthcheck::shell("x")
            .interval(Duration::from_micros(10))
            .check()
            .unwrap_err();
        assert_eq!(e, "Interval in Healthcheck cannot be less than 1ms");
        assert!(Healthcheck::cmd(Vec::<String>::new()).check().is_err());
        let odd = Healthcheck {
            test: vec!["HTTP".into(), "x".into()],
            ..Healthcheck::default()
        };
        assert!(odd.check().unwrap_err().contains("unknown test type"));
        assert_eq!(
            "healthy".parse::<HealthStatus>().unwrap(),
            HealthStatus::Healthy
        );
        assert!("sick".parse::<HealthStatus>().is_err());
    }
}
