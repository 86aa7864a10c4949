//! Readiness waits for test harnesses: [`WaitFor`] a log line, a TCP port, an HTTP status,
//! the image's `HEALTHCHECK` or a command, with a timeout, as testcontainers does — without
//! a daemon.
//!
//! See [`WaitFor`] for how each condition is checked.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::exec::ExecBuilder;
use super::logs::{self, LogEntry, LogOptions, LogStream};
use super::record::{self, Record};
use super::store::ContainerStore;
use crate::sys::netns;
use crate::{Error, Result};

/// How many log lines an [`Error::NotReady`] carries.
pub const LAST_LOG_LINES: usize = 20;
/// The first and the longest pause between two attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(200));
/// A healthcheck probe's time limit when the image sets none (Docker's default).
const HEALTHCHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A condition a container is ready when it holds (testcontainers' wait strategies,
/// without a daemon). Build one with the constructors: `WaitFor::log("ready").times(2)`,
/// `WaitFor::tcp(5432)`, `WaitFor::http(80, "/health").status(204)`,
/// `WaitFor::healthcheck()`, `WaitFor::exec(["test", "-f", "/ready"])`.
///
/// [`RunningContainer::wait_for`](super::RunningContainer::wait_for) and
/// [`Container::wait_for`](super::Container::wait_for) check the condition, then poll it
/// with a backoff (10 ms doubling to 200 ms) until it holds, the container exits (an error
/// at once, not at the timeout) or the timeout passes. The error,
/// [`Error::NotReady`], names the container and the condition, says why (the last failed
/// attempt) and carries the last 20 lines of the container's log.
///
/// # How each condition is checked
/// - **Log line**: the container's json-file log is read from its start as it grows; each
///   entry (one line of output) holding `pattern` as a substring counts once. Only
///   detached containers have that log (their monitor writes it): an attached container's
///   output goes to the caller's pipes, and a wait must not steal them, so a log wait on
///   an attached container is an error that says so. Read the piped stdout of an attached
///   container yourself instead.
/// - **TCP** and **HTTP**: a connection to `127.0.0.1:<port>` from inside the container's
///   network namespace (a container has a private one by default, with only loopback,
///   which must be up for a connection to succeed). A
///   short-lived thread enters the namespace of the container's init
///   ([`crate::sys::netns::in_netns_of`]), connects, and ends. HTTP sends a minimal
///   `HTTP/1.0` `GET` and compares the status code of the reply.
/// - **Healthcheck**: the container's Docker `Healthcheck` (the image's, merged with
///   [`ContainerBuilder::healthcheck`](super::ContainerBuilder::healthcheck); `Test` of
///   `["CMD", …]` or `["CMD-SHELL", "…"]`), run through exec until it exits 0. A detached
///   container whose monitor runs the check in the background is ready as soon as that
///   says healthy ([`Container::health`](super::Container::health)); until then the
///   check is run on demand as well, so a wait does not sit out the background interval.
///   Each probe is killed after the healthcheck's `Timeout` (default 30 s) or when the
///   wait's time is up. `Interval`, `Retries` and `StartPeriod` pace the background
///   healthcheck, which a wait is not: a shorter `Interval` than the backoff's 200 ms shortens the pause between
///   probes, and a wait ends at the first success or at its own timeout (it does not give
///   up after `Retries` failures — that would take a fraction of a second at this pace).
/// - **Exec**: the command, run through exec until it exits 0 (each run limited by the
///   time left).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitFor {
    /// `times` lines of the container's log (of `stream`, or either) contain `pattern`.
    LogLine {
        /// The text a line must contain (a plain substring, not a regular expression).
        pattern: String,
        /// Only this stream; `None` for both.
        stream: Option<LogStream>,
        /// How many lines must contain it (at least 1).
        times: usize,
    },
    /// A TCP connection to this port on the container's loopback is accepted.
    Tcp(u16),
    /// An HTTP `GET` of `path` on this port of the container's loopback answers `status`.
    Http {
        /// The port.
        port: u16,
        /// The path requested (`/` when empty).
        path: String,
        /// The status code wanted.
        status: u16,
    },
    /// The image's `HEALTHCHECK` command succeeds.
    Healthcheck,
    /// This command, run in the container, exits 0.
    Exec(Vec<String>),
}

impl WaitFor {
    /// A line containing `pattern` on stdout or stderr, once ([`times`](Self::times) for
    /// more).
    pub fn log(pattern: impl Into<String>) -> WaitFor {
        WaitFor::LogLine {
            pattern: pattern.into(),
            stream: None,
            times: 1,
        }
    }

    /// A line containing `pattern` on stdout.
    pub fn stdout(pattern: impl Into<String>) -> WaitFor {
        WaitFor::LogLine {
            pattern: pattern.into(),
            stream: Some(LogStream::Stdout),
            times: 1,
        }
    }

    /// A line containing `pattern` on stderr.
    pub fn stderr(pattern: impl Into<String>) -> WaitFor {
        WaitFor::LogLine {
            pattern: pattern.into(),
            stream: Some(LogStream::Stderr),
            times: 1,
        }
    }

    /// For a log-line wait: `n` lines must match (0 counts as 1). Other conditions are
    /// returned unchanged.
    pub fn times(self, n: usize) -> WaitFor {
        match self {
            WaitFor::LogLine {
                pattern, stream, ..
            } => WaitFor::LogLine {
                pattern,
                stream,
                times: n.max(1),
            },
            other => other,
        }
    }

    /// A TCP port accepting connections.
    pub fn tcp(port: u16) -> WaitFor {
        WaitFor::Tcp(port)
    }

    /// An HTTP `GET` of `path` answering 200 ([`status`](Self::status) for another code).
    pub fn http(port: u16, path: impl Into<String>) -> WaitFor {
        WaitFor::Http {
            port,
            path: path.into(),
            status: 200,
        }
    }

    /// For an HTTP wait: the status code wanted. Other conditions are returned unchanged.
    pub fn status(self, code: u16) -> WaitFor {
        match self {
            WaitFor::Http { port, path, .. } => WaitFor::Http {
                port,
                path,
                status: code,
            },
            other => other,
        }
    }

    /// The image's `HEALTHCHECK`.
    pub fn healthcheck() -> WaitFor {
        WaitFor::Healthcheck
    }

    /// A command exiting 0 in the container.
    pub fn exec<I, S>(args: I) -> WaitFor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        WaitFor::Exec(args.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for WaitFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitFor::LogLine {
                pattern,
                stream,
                times,
            } => {
                write!(f, "log line {pattern:?}")?;
                if let Some(s) = stream {
                    write!(f, " on {}", s.as_str())?;
                }
                if *times > 1 {
                    write!(f, " {times} times")?;
                }
                Ok(())
            }
            WaitFor::Tcp(port) => write!(f, "tcp port {port}"),
            WaitFor::Http { port, path, status } => {
                write!(f, "http GET :{port}{} answering {status}", http_path(path))
            }
            WaitFor::Healthcheck => f.write_str("the image's healthcheck"),
            WaitFor::Exec(args) => write!(f, "exec {args:?}"),
        }
    }
}

fn http_path(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// Whether the container can be checked now.
#[derive(Debug)]
pub(crate) enum Liveness {
    /// Created, its process not started yet.
    Starting,
    /// Its init runs with this host pid.
    Running(i32),
    /// It has ended; how, in words ("exited with code 3").
    Exited(String),
}

/// What a wait needs of a container; made by [`RunningContainer`](super::RunningContainer)
/// and [`Container`](super::Container) alike.
pub(crate) struct Subject<'a> {
    pub store: &'a ContainerStore,
    pub id: &'a str,
    pub name: &'a str,
    /// It has a json-file log (it was started detached).
    pub detached: bool,
    /// Whether it runs, and its init's pid.
    pub liveness: &'a dyn Fn() -> Result<Liveness>,
}

impl Subject<'_> {
    fn dir(&self) -> PathBuf {
        self.store.dir(self.id)
    }

    fn log_path(&self) -> PathBuf {
        record::log_path(&self.dir(), self.id)
    }

    /// The last lines of its log, for the error (empty without a log).
    fn last_logs(&self) -> Vec<String> {
        if !self.detached {
            return Vec::new();
        }
        let opts = LogOptions {
            tail: Some(LAST_LOG_LINES),
            ..LogOptions::default()
        };
        let Ok(entries) = logs::read(self.log_path(), record::exit_path(&self.dir()), &opts) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .map(|e| {
                let s = String::from_utf8_lossy(&e.log);
                s.strip_suffix('\n').unwrap_or(&s).to_owned()
            })
            .collect()
    }

    fn paused(&self) -> bool {
        self.store
            .runtime()
            .state(self.id)
            .is_ok_and(|st| st.status == crate::runtime::Status::Paused)
    }

    fn not_ready(&self, cond: &WaitFor, reason: String) -> Error {
        Error::NotReady {
            container: self.name.to_owned(),
            condition: cond.to_string(),
            reason,
            last_logs: self.last_logs(),
        }
    }
}

/// Waits until `cond` holds for the container; see the module docs.
pub(crate) fn wait(s: &Subject<'_>, cond: &WaitFor, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut check = Check::new(s, cond).map_err(|reason| s.not_ready(cond, reason))?;
    let mut pause = BACKOFF.0;
    let mut last = "not checked yet".to_owned();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match (s.liveness)()? {
            Liveness::Starting => last = "its process has not started".into(),
            // A probe in a frozen cgroup would hang, unkillable, until it thaws.
            Liveness::Running(_) if s.paused() => last = "it is paused".into(),
            Liveness::Running(pid) => match check.attempt(s, pid, left) {
                Attempt::Ready => return Ok(()),
                Attempt::Failed(why) => last = why,
                Attempt::Fatal(why) => return Err(s.not_ready(cond, why)),
            },
            Liveness::Exited(how) => {
                // A line logged just before the end still counts.
                if let Check::Log(_) = check {
                    if let Attempt::Ready = check.attempt(s, 0, left) {
                        return Ok(());
                    }
                }
                return Err(s.not_ready(
                    cond,
                    format!("the container {how} before it was ready (last attempt: {last})"),
                ));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(s.not_ready(
                cond,
                format!("timed out after {timeout:?} (last attempt: {last})"),
            ));
        }
        std::thread::sleep(pause.min(left).min(check.max_pause()));
        pause = (pause * 2).min(BACKOFF.1);
    }
}

enum Attempt {
    Ready,
    /// Not yet; why.
    Failed(String),
    /// It never will be (a command not in the image…); why.
    Fatal(String),
}

/// A condition, prepared for repeated attempts.
enum Check<'w> {
    Log(LogScan<'w>),
    Tcp(u16),
    Http {
        port: u16,
        path: String,
        status: u16,
    },
    Exec {
        args: Vec<String>,
        /// Each run's own limit (a healthcheck's `Timeout`).
        timeout: Option<Duration>,
        /// The longest pause between runs (a healthcheck's `Interval`).
        interval: Option<Duration>,
        /// A healthcheck the monitor also runs in the background: ready as soon as its
        /// status is healthy.
        background: bool,
    },
}

impl<'w> Check<'w> {
    fn new(s: &Subject<'_>, cond: &'w WaitFor) -> std::result::Result<Check<'w>, String> {
        Ok(match cond {
            WaitFor::LogLine {
                pattern,
                stream,
                times,
            } => {
                if !s.detached {
                    return Err(
                        "a log-line wait reads the container's json-file log, which only a \
                         detached container has (its monitor writes it); start it with \
                         detach(true), or read the attached container's piped stdout/stderr"
                            .into(),
                    );
                }
                Check::Log(LogScan {
                    path: s.log_path(),
                    pattern,
                    stream: *stream,
                    times: (*times).max(1),
                    seen: 0,
                    reader: None,
                    pending: Vec::new(),
                })
            }
            WaitFor::Tcp(port) => Check::Tcp(*port),
            WaitFor::Http { port, path, status } => Check::Http {
                port: *port,
                path: http_path(path).to_owned(),
                status: *status,
            },
            WaitFor::Exec(args) => {
                if args.is_empty() {
                    return Err("the command is empty".into());
                }
                Check::Exec {
                    args: args.clone(),
                    timeout: None,
                    interval: None,
                    background: false,
                }
            }
            WaitFor::Healthcheck => {
                let hc = healthcheck(s)?;
                Check::Exec {
                    args: hc.command,
                    timeout: Some(hc.timeout),
                    interval: hc.interval,
                    background: s.detached,
                }
            }
        })
    }

    fn max_pause(&self) -> Duration {
        match self {
            Check::Exec {
                interval: Some(i), ..
            } => (*i).max(BACKOFF.0),
            _ => BACKOFF.1,
        }
    }

    fn attempt(&mut self, s: &Subject<'_>, pid: i32, left: Duration) -> Attempt {
        // A connection or a probe gets the time left, but at least a moment.
        let limit = left.max(Duration::from_millis(50));
        match self {
            Check::Log(scan) => scan.scan(),
            Check::Tcp(port) => {
                let port = *port;
                let r = netns::in_netns_of(pid, move || {
                    TcpStream::connect_timeout(&loopback(port), limit).map(drop)
                });
                match r {
                    Ok(Ok(())) => Attempt::Ready,
                    Ok(Err(e)) => Attempt::Failed(format!("connecting to port {port}: {e}")),
                    Err(e) => Attempt::Failed(format!("entering its network namespace: {e}")),
                }
            }
            Check::Http { port, path, status } => {
                let (port, want) = (*port, *status);
                let p = path.clone();
                match netns::in_netns_of(pid, move || http_status(port, &p, limit)) {
                    Ok(Ok(got)) if got == want => Attempt::Ready,
                    Ok(Ok(got)) => Attempt::Failed(format!("GET {path} answered {got}")),
                    Ok(Err(e)) => Attempt::Failed(format!("GET {path} on port {port}: {e}")),
                    Err(e) => Attempt::Failed(format!("entering its network namespace: {e}")),
                }
            }
            Check::Exec {
                args,
                timeout,
                background,
                ..
            } => {
                let healthy = |h: super::Health| h.status == super::HealthStatus::Healthy;
                if *background && super::health::read(&s.dir()).is_some_and(healthy) {
                    return Attempt::Ready;
                }
                let limit = timeout.map_or(limit, |t| t.min(limit));
                let out =
                    ExecBuilder::new(s.store, s.id, s.name, args.iter().map(Into::into).collect())
                        .timeout(limit)
                        .output();
                match out {
                    Ok(o) if o.status.success() => Attempt::Ready,
                    Ok(o) => {
                        let mut text = String::from_utf8_lossy(&o.stderr).into_owned();
                        text.push_str(&String::from_utf8_lossy(&o.stdout));
                        let text = text.trim();
                        let how = match (o.status.code(), o.status.signal()) {
                            (_, Some(libc::SIGKILL)) => format!("killed after {limit:?}"),
                            (Some(c), _) => format!("exit code {c}"),
                            (None, sig) => format!("killed by signal {}", sig.unwrap_or(0)),
                        };
                        Attempt::Failed(if text.is_empty() {
                            how
                        } else {
                            format!("{how}: {}", truncate(text, 200))
                        })
                    }
                    // It stopped meanwhile: the next liveness check tells how.
                    Err(e @ (Error::InvalidState { .. } | Error::ContainerNotFound { .. })) => {
                        Attempt::Failed(e.to_string())
                    }
                    Err(e) => Attempt::Fatal(e.to_string()),
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// A minimal `HTTP/1.0` `GET`: the status code of the reply.
fn http_status(port: u16, path: &str, limit: Duration) -> io::Result<u16> {
    let mut conn = TcpStream::connect_timeout(&loopback(port), limit)?;
    conn.set_read_timeout(Some(limit))?;
    conn.set_write_timeout(Some(limit))?;
    write!(
        conn,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: cargohold\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut line = Vec::new();
    BufReader::new(conn.take(8192)).read_until(b'\n', &mut line)?;
    parse_status_line(&line).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not an HTTP status line: {:?}",
                String::from_utf8_lossy(&line).trim_end()
            ),
        )
    })
}

/// `HTTP/1.1 404 Not Found` → 404.
fn parse_status_line(line: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// Reads a json-file log from its start as it grows, counting matching entries.
struct LogScan<'w> {
    path: PathBuf,
    pattern: &'w str,
    stream: Option<LogStream>,
    times: usize,
    seen: usize,
    reader: Option<BufReader<File>>,
    /// A line the monitor has not finished writing.
    pending: Vec<u8>,
}

impl LogScan<'_> {
    fn scan(&mut self) -> Attempt {
        if self.reader.is_none() {
            match File::open(&self.path) {
                Ok(f) => self.reader = Some(BufReader::new(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Attempt::Failed("no log yet".into())
                }
                Err(e) => return Attempt::Failed(format!("opening {}: {e}", self.path.display())),
            }
        }
        let reader = self.reader.as_mut().expect("opened above");
        loop {
            match reader.read_until(b'\n', &mut self.pending) {
                Ok(0) => break,
                Ok(_) if self.pending.last() != Some(&b'\n') => break,
                Ok(_) => {
                    let line = std::mem::take(&mut self.pending);
                    if let Some(e) = LogEntry::from_json_line(&line) {
                        if matches(self.stream, self.pattern, &e) {
                            self.seen += 1;
                        }
                    }
                }
                Err(e) => return Attempt::Failed(format!("reading {}: {e}", self.path.display())),
            }
        }
        if self.seen >= self.times {
            Attempt::Ready
        } else {
            Attempt::Failed(format!(
                "{} of {} matching lines logged",
                self.seen, self.times
            ))
        }
    }
}

fn matches(stream: Option<LogStream>, pattern: &str, e: &LogEntry) -> bool {
    stream.is_none_or(|s| s == e.stream) && String::from_utf8_lossy(&e.log).contains(pattern)
}

/// An image's Docker `HEALTHCHECK`, as a wait runs it.
#[derive(Debug, PartialEq, Eq)]
struct Healthcheck {
    command: Vec<String>,
    timeout: Duration,
    interval: Option<Duration>,
}

/// The container's healthcheck (its `Config.Healthcheck`: the image's merged with the one
/// set), else, for a container made before it was recorded, its image's from the raw
/// config blob (oci-spec's image `Config` has no field for Docker's `Healthcheck`).
fn healthcheck(s: &Subject<'_>) -> std::result::Result<Healthcheck, String> {
    let rec = Record::load(&s.dir()).map_err(|e| e.to_string())?;
    let image = rec.info.image.clone();
    let digest = image
        .parse()
        .map_err(|e| format!("image id {image:?} is not a digest: {e}"))?;
    let blob = s
        .store
        .images()
        .store()
        .read_blob(&digest)
        .map_err(|e| format!("reading the config of image {}: {e}", rec.reference))?;
    let of_image = parse_healthcheck(&blob, &rec.reference);
    match &rec.info.config.healthcheck {
        Some(hc) => match hc.command() {
            Some(command) => Ok(Healthcheck {
                command,
                timeout: hc.timeout_or_default(),
                interval: (!hc.interval.is_zero()).then_some(hc.interval),
            }),
            // The image's own NONE (or none at all) says so in its words.
            None => of_image.and(Err(format!(
                "container {} disables its image's HEALTHCHECK (NONE)",
                rec.name()
            ))),
        },
        None => of_image,
    }
}

fn parse_healthcheck(config: &[u8], image: &str) -> std::result::Result<Healthcheck, String> {
    #[derive(serde::Deserialize)]
    struct Blob {
        #[serde(default)]
        config: Option<Cfg>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Cfg {
        #[serde(default)]
        healthcheck: Option<Hc>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Hc {
        #[serde(default)]
        test: Vec<String>,
        #[serde(default)]
        interval: u64,
        #[serde(default)]
        timeout: u64,
    }
    let blob: Blob = serde_json::from_slice(config)
        .map_err(|e| format!("parsing the config of image {image}: {e}"))?;
    let none = || format!("image {image} has no HEALTHCHECK");
    let hc = blob.config.and_then(|c| c.healthcheck).ok_or_else(none)?;
    let command = match hc.test.split_first() {
        None => return Err(none()),
        Some((kind, rest)) => match kind.as_str() {
            "NONE" => return Err(format!("image {image} disables its HEALTHCHECK (NONE)")),
            "CMD" if !rest.is_empty() => rest.to_vec(),
            "CMD-SHELL" if rest.len() == 1 => {
                vec!["/bin/sh".to_owned(), "-c".to_owned(), rest[0].clone()]
            }
            _ => {
                return Err(format!(
                    "image {image} has a HEALTHCHECK test Docker does not know: {:?}",
                    hc.test
                ))
            }
        },
    };
    let ns = |n: u64| (n > 0).then(|| Duration::from_nanos(n));
    Ok(Healthcheck {
        command,
        timeout: ns(hc.timeout).unwrap_or(HEALTHCHECK_TIMEOUT),
        interval: ns(hc.interval),
    })
}

impl super::RunningContainer {
    /// Waits until `cond` holds for this container, as testcontainers' wait strategies do
    /// (see [`WaitFor`] for how each condition is checked).
    /// Returns as soon as the container exits without being ready.
    ///
    /// ```no_run
    /// # fn f(web: &cargohold::RunningContainer) -> cargohold::Result<()> {
    /// use std::time::Duration;
    /// use cargohold::WaitFor;
    /// web.wait_for(&WaitFor::http(80, "/").status(200), Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::NotReady`], naming the container and condition, saying why (timed out,
    /// exited, no healthcheck in the image, a log wait on an attached container, a command
    /// not in the image) and carrying the last lines of its log.
    pub fn wait_for(&self, cond: &WaitFor, timeout: Duration) -> Result<()> {
        let liveness = || self.liveness();
        let subject = Subject {
            store: &self.store,
            id: &self.id,
            name: &self.name,
            detached: self.is_detached(),
            liveness: &liveness,
        };
        wait(&subject, cond, timeout)
    }

    /// Whether it runs, and its init's current pid (a restarted detached container has a
    /// new one).
    pub(crate) fn liveness(&self) -> Result<Liveness> {
        if let Some(s) = self.status {
            return Ok(Liveness::Exited(describe(s.code(), s.signal())));
        }
        match &self.inner {
            super::Process::Attached(c) => {
                // Our child: peek at its end without reaping it (wait() does that).
                match crate::sys::raw::peek_child_exit(c.pid()) {
                    Ok(None) => Ok(Liveness::Running(c.pid())),
                    Ok(Some((code, sig))) => Ok(Liveness::Exited(describe(code, sig))),
                    Err(_) => Ok(Liveness::Exited("exited".into())),
                }
            }
            super::Process::Detached { exit, .. } => {
                match super::monitor::status(self.store.runtime().root(), &self.id, exit)? {
                    super::monitor::MonitorStatus::Running { pid, .. } => {
                        Ok(Liveness::Running(pid))
                    }
                    super::monitor::MonitorStatus::Exited(r) => {
                        Ok(Liveness::Exited(describe(r.code, r.signal)))
                    }
                    super::monitor::MonitorStatus::ExitedUnknown => Ok(Liveness::Exited(
                        "exited (its monitor died without recording how)".into(),
                    )),
                }
            }
        }
    }
}

impl super::Container {
    /// Waits until `cond` holds for this container, as
    /// [`RunningContainer::wait_for`](super::RunningContainer::wait_for) does; for a
    /// container another program started (a detached one has the log a log-line wait reads).
    ///
    /// # Errors
    /// As [`RunningContainer::wait_for`](super::RunningContainer::wait_for);
    /// [`Error::NotReady`] also when the container is removed meanwhile.
    pub fn wait_for(&self, cond: &WaitFor, timeout: Duration) -> Result<()> {
        let liveness = || self.liveness();
        let subject = Subject {
            store: self.store(),
            id: self.id(),
            name: self.name(),
            detached: self.is_detached(),
            liveness: &liveness,
        };
        wait(&subject, cond, timeout)
    }

    /// Whether it runs, and its init's pid, from its live state.
    pub(crate) fn liveness(&self) -> Result<Liveness> {
        match self.inspect() {
            Err(Error::ContainerNotFound { .. }) => Ok(Liveness::Exited("was removed".into())),
            Err(e) => Err(e),
            Ok(info) => Ok(match info.state.status {
                super::Status::Running | super::Status::Paused if info.state.pid > 0 => {
                    Liveness::Running(info.state.pid)
                }
                super::Status::Running
                | super::Status::Paused
                | super::Status::Created
                | super::Status::Restarting => Liveness::Starting,
                super::Status::Exited | super::Status::Dead | super::Status::Removing => {
                    Liveness::Exited(format!("exited with code {}", info.state.exit_code))
                }
            }),
        }
    }
}

/// "exited with code 3", "was killed by signal 9".
fn describe(code: Option<i32>, signal: Option<i32>) -> String {
    match (code, signal) {
        (Some(c), _) => format!("exited with code {c}"),
        (None, Some(s)) => format!("was killed by signal {s}"),
        (None, None) => "exited".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_and_display() {
        assert_eq!(
            WaitFor::log("ready").times(2),
            WaitFor::LogLine {
                pattern: "ready".into(),
                stream: None,
                times: 2
            }
        );
        assert_eq!(WaitFor::log("x").times(0).to_string(), "log line \"x\"");
        assert_eq!(
            WaitFor::stderr("up").times(3).to_string(),
            "log line \"up\" on stderr 3 times"
        );
        assert_eq!(WaitFor::tcp(80), WaitFor::Tcp(80));
        assert_eq!(WaitFor::tcp(80).times(3), WaitFor::Tcp(80));
        assert_eq!(
            WaitFor::http(8080, "").status(404).to_string(),
            "http GET :8080/ answering 404"
        );
        assert_eq!(
            WaitFor::exec(["test", "-f", "/ready"]).to_string(),
            "exec [\"test\", \"-f\", \"/ready\"]"
        );
        assert_eq!(WaitFor::log("a").status(3), WaitFor::log("a"));
    }

    #[test]
    fn status_lines() {
        assert_eq!(parse_status_line(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(parse_status_line(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(parse_status_line(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b"HTTP/1.1 20 OK\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }

    #[test]
    fn healthchecks_from_config_json() {
        let cfg =
            |hc: &str| format!(r#"{{"architecture":"amd64","config":{{"Healthcheck":{hc}}}}}"#);
        let hc = parse_healthcheck(
            cfg(r#"{"Test":["CMD-SHELL","test -f /ok"],"Interval":50000000,"Timeout":2000000000,"Retries":3}"#)
                .as_bytes(),
            "img",
        )
        .unwrap();
        assert_eq!(
            hc,
            Healthcheck {
                command: vec!["/bin/sh".into(), "-c".into(), "test -f /ok".into()],
                timeout: Duration::from_secs(2),
                interval: Some(Duration::from_millis(50)),
            }
        );
        let hc = parse_healthcheck(cfg(r#"{"Test":["CMD","true"]}"#).as_bytes(), "img").unwrap();
        assert_eq!(hc.command, ["true"]);
        assert_eq!(hc.timeout, HEALTHCHECK_TIMEOUT);
        assert_eq!(hc.interval, None);
        let err = parse_healthcheck(cfg(r#"{"Test":["NONE"]}"#).as_bytes(), "img").unwrap_err();
        assert!(err.contains("disables"), "{err}");
        let err = parse_healthcheck(br#"{"config":{"Cmd":["sh"]}}"#, "img").unwrap_err();
        assert_eq!(err, "image img has no HEALTHCHECK");
        let err = parse_healthcheck(br#"{}"#, "img").unwrap_err();
        assert_eq!(err, "image img has no HEALTHCHECK");
        let err = parse_healthcheck(cfg(r#"{"Test":["CMD"]}"#).as_bytes(), "img").unwrap_err();
        assert!(err.contains("does not know"), "{err}");
    }

    #[test]
    fn not_ready_names_container_condition_and_logs() {
        let e = Error::NotReady {
            container: "web".into(),
            condition: WaitFor::tcp(80).to_string(),
            reason: "timed out after 1s (last attempt: connection refused)".into(),
            last_logs: vec!["starting".into(), "listening on :81".into()],
        };
        assert_eq!(
            e.to_string(),
            "container web is not ready: tcp port 80: timed out after 1s (last attempt: \
             connection refused); last 2 log lines:\n    starting\n    listening on :81"
        );
        let e = Error::NotReady {
            container: "web".into(),
            condition: "x".into(),
            reason: "y".into(),
            last_logs: vec![],
        };
        assert_eq!(e.to_string(), "container web is not ready: x: y");
    }
}
