//! The routes that move a container's bytes: logs, attach (and resize), top, stats,
//! changes, export, archive.
//!
//! Output streams (logs, attach) are Docker's: the 8-byte multiplexed framing of
//! [`http::frame`] for a container without a terminal, the raw bytes for one with. A
//! following reader ends when the container exits or when the client has gone (checked as
//! it waits for more), so no thread outlives its client for long.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::http::{self, ApiError, Call, Reply, Stream};
use crate::container::logs::{format_time, parse_time, LogEntry, LogStream};
use crate::{
    ChangeKind, Container, ContainerState, DetachKeys, Engine, LogOptions, Logs, PathStat, Stats,
    Status,
};

/// Routes `/containers/{id}/{logs,attach,resize,top,stats,changes,export,archive}`.
pub(super) async fn route(mut call: Call) -> Reply {
    let id = call.segs[1].clone();
    let verb = call.segs[2].clone();
    let method = call.method().clone();
    let result = match (&method, verb.as_str()) {
        (&Method::GET, "logs") => logs(&call, id).await,
        (&Method::POST, "attach") => attach(&mut call, id).await,
        (&Method::POST, "resize") => resize(&call, id).await,
        (&Method::GET, "top") => top(&call, id).await,
        (&Method::GET, "stats") => stats(&call, id).await,
        (&Method::GET, "changes") => changes(&call, id).await,
        (&Method::GET, "export") => export(&call, id).await,
        (&Method::GET | &Method::HEAD, "archive") => archive_get(&call, id).await,
        (&Method::PUT, "archive") => archive_put(&mut call, id).await,
        _ => return http::not_found(),
    };
    result.unwrap_or_else(ApiError::reply)
}

/// The container `id` of `engine` (404 as Docker's when missing).
fn container(engine: &Engine, id: &str) -> Result<Container, ApiError> {
    Ok(engine.containers().get(id)?)
}

/// Docker's 409 for a container that must run.
fn not_running(id: &str) -> ApiError {
    ApiError::conflict(format!("Container {id} is not running"))
}

/// Where a reply's output goes: the hijacked connection or a streamed reply, framed
/// (no terminal) or raw.
pub(super) struct Output {
    to: Sink,
    framed: bool,
}

enum Sink {
    Socket(std::sync::Mutex<UnixStream>),
    Reply(Stream),
}

impl Output {
    pub(super) fn socket(s: UnixStream, framed: bool) -> Output {
        Output {
            to: Sink::Socket(std::sync::Mutex::new(s)),
            framed,
        }
    }

    pub(super) fn reply(s: Stream, framed: bool) -> Output {
        Output {
            to: Sink::Reply(s),
            framed,
        }
    }

    /// Writes `data` of `stream` (1 stdout, 2 stderr); false once the client is gone.
    pub(super) fn put(&self, stream: u8, data: &[u8]) -> bool {
        if data.is_empty() {
            return true;
        }
        let bytes = if self.framed {
            http::frame(stream, data)
        } else {
            data.to_vec()
        };
        match &self.to {
            Sink::Reply(s) => s.send(bytes),
            Sink::Socket(s) => {
                let mut s = s.lock().unwrap_or_else(|p| p.into_inner());
                s.write_all(&bytes).is_ok()
            }
        }
    }

    /// Whether the client has gone: a streamed reply's receiver dropped, or the
    /// hijacked connection closed (not only its sending side: the CLI closes that once
    /// it has no more input).
    pub(super) fn gone(&self) -> bool {
        match &self.to {
            Sink::Reply(s) => s.closed(),
            Sink::Socket(s) => {
                let s = s.lock().unwrap_or_else(|p| p.into_inner());
                socket_closed(&s)
            }
        }
    }
}

/// Whether the peer of `s` has closed, without reading from it.
fn socket_closed(s: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut fds = [libc::pollfd {
        fd: s.as_raw_fd(),
        events: 0,
        revents: 0,
    }];
    match crate::sys::file::poll(&mut fds, 0) {
        Ok(0) => false,
        Ok(_) => fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0,
        Err(_) => true,
    }
}

/// A time of `since`/`until`: Docker's client sends seconds since the epoch with an
/// optional fraction (`1700000000.5`); RFC 3339 is taken too. 0 or absent is none.
fn query_time(call: &Call, key: &str) -> Result<Option<SystemTime>, ApiError> {
    let Some(v) = call.query.get(key).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || ApiError::bad_request(format!("invalid value for {key}: {v:?}"));
    if let Some(t) = parse_time(v) {
        return Ok(Some(t));
    }
    let (secs, frac) = v.split_once('.').unwrap_or((v, ""));
    let secs: u64 = secs.parse().map_err(|_| bad())?;
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits.parse().map_err(|_| bad())?
    };
    if secs == 0 && nanos == 0 {
        return Ok(None);
    }
    Ok(Some(UNIX_EPOCH + Duration::new(secs, nanos)))
}

/// The content type of a container's output stream.
fn stream_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

fn stream_no(s: LogStream) -> u8 {
    match s {
        LogStream::Stdout => 1,
        LogStream::Stderr => 2,
    }
}

/// `GET /containers/{id}/logs`.
async fn logs(call: &Call, id: String) -> Result<Reply, ApiError> {
    let q = &call.query;
    let (stdout, stderr) = (q.flag("stdout"), q.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let tail = match q.get("tail") {
        None | Some("" | "all") => None,
        Some(n) => match n.parse::<i64>() {
            Ok(n) if n < 0 => None,
            Ok(n) => Some(n as usize),
            Err(_) => {
                return Err(ApiError::bad_request(format!(
                    "invalid value for tail: {n:?}"
                )))
            }
        },
    };
    let opts = LogOptions {
        tail,
        since: query_time(call, "since")?,
        until: query_time(call, "until")?,
        timestamps: q.flag("timestamps"),
        follow: q.flag("follow"),
        stdout,
        stderr,
    };
    let engine = call.engine.clone();
    let (c, tty) = http::blocking(move || {
        let c = container(&engine, &id)?;
        let tty = c.inspect()?.config.tty;
        Ok((c, tty))
    })
    .await?;
    let (reply, stream) = http::streamed(stream_type(tty));
    let out = Output::reply(stream, !tty);
    tokio::task::spawn_blocking(move || {
        let watch = Arc::new(out);
        let w = Arc::clone(&watch);
        let Ok(entries) = c.logs(&opts) else { return };
        for entry in entries.stop_when(move || w.gone()) {
            let Ok(entry) = entry else { break };
            if !watch.put(stream_no(entry.stream), &entry.to_bytes(opts.timestamps)) {
                break;
            }
        }
    });
    Ok(reply)
}

/// `POST /containers/{id}/attach`: with `Upgrade: tcp` the connection is hijacked (the
/// client's bytes go to the container's stdin when `stdin` is asked and it was created
/// with open stdin), else the output is a streamed reply. `logs` sends what it wrote
/// before; `stream` follows what it writes from now until it exits. A container that does
/// not run is waited for (`docker run` and `docker start -a` attach before they start
/// it); a paused or restarting one is a 409, as dockerd's.
async fn attach(call: &mut Call, id: String) -> Result<Reply, ApiError> {
    let q = &call.query;
    let (logs, follow) = (q.flag("logs"), q.flag("stream"));
    // no output asked (`stdin` alone): no log to read
    let any = logs || follow;
    let (stdout, stderr, stdin) = (q.flag("stdout"), q.flag("stderr"), q.flag("stdin"));
    let keys = detach_keys(q.get("detachKeys").unwrap_or_default(), "detach")?;
    let engine = call.engine.clone();
    let opts = LogOptions {
        follow,
        stdout,
        stderr,
        // what it wrote before is skipped unless `logs`
        tail: (!logs).then_some(0),
        ..LogOptions::default()
    };
    let (c, info, entries) = http::blocking(move || {
        let c = container(&engine, &id)?;
        let info = c.inspect()?;
        // dockerd's refusals
        if info.state.paused {
            return Err(ApiError::conflict(
                "container is paused, unpause the container before attach",
            ));
        }
        if info.state.restarting {
            return Err(ApiError::conflict(
                "cannot attach to a restarting container",
            ));
        }
        // Opened now, before `docker run` starts it: the log stays readable when the
        // container is removed as soon as it exits (`--rm`).
        let entries = if any { Some(c.logs(&opts)?) } else { None };
        Ok((c, info, entries))
    })
    .await?;
    // as it was before the client could start it
    let state = info.state;
    let config = info.config;
    let tty = config.tty;
    let keys = tty.then_some(keys);
    let stdin = stdin && config.open_stdin;
    if call.wants_upgrade() {
        return Ok(http::hijack(call, move |sock| {
            let input = if stdin { sock.try_clone().ok() } else { None };
            let shut = sock.try_clone().ok();
            let out = Output::socket(sock, !tty);
            attach_stream(&c, &state, out, entries, input, keys);
            if let Some(s) = shut {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }));
    }
    let (reply, stream) = http::streamed(stream_type(tty));
    tokio::task::spawn_blocking(move || {
        attach_stream(&c, &state, Output::reply(stream, !tty), entries, None, None);
    });
    Ok(reply)
}

/// Copies `entries` of the log of `c` (in `state` when attached) to `out` (when asked), and
/// `input` to its stdin once it runs (until `keys` are typed).
fn attach_stream(
    c: &Container,
    state: &ContainerState,
    out: Output,
    entries: Option<Logs>,
    input: Option<UnixStream>,
    keys: Option<DetachKeys>,
) {
    let out = Arc::new(out);
    if entries.as_ref().is_some_and(Logs::follows) && !started(c, state, &out) {
        return;
    }
    if let Some(input) = input {
        if let Ok(to) = c.attach_stdin() {
            std::thread::spawn(move || forward_stdin(input, to, keys));
        }
    }
    let Some(entries) = entries else { return };
    let w = Arc::clone(&out);
    for entry in entries.stop_when(move || w.gone()) {
        let Ok(entry) = entry else { break };
        let entry: LogEntry = entry;
        if !out.put(stream_no(entry.stream), &entry.log) {
            break;
        }
    }
}

/// Waits until `c`, in state `first` when attached, runs: at once when it did, else until
/// it is started (`docker run` and `docker start -a` attach first, then start it) or
/// removed. As dockerd, a following attach to a container that does not run is for its
/// next run. False when the client has gone first.
fn started(c: &Container, first: &ContainerState, out: &Output) -> bool {
    if first.running {
        return true;
    }
    loop {
        if out.gone() {
            return false;
        }
        match c.inspect() {
            Ok(now) if now.state.started_at == first.started_at => {}
            // a new start, or removed (what it wrote is in the log held open)
            _ => return true,
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Copies the client's bytes into the container's stdin until the client closes it (the
/// container's stdin closes then, as Docker's `StdinOnce`) or until it types `keys` (with
/// a terminal: Docker's detach keys), which end the connection and leave the container
/// running.
pub(super) fn forward_stdin(mut from: UnixStream, mut to: impl Write, keys: Option<DetachKeys>) {
    match keys {
        Some(keys) => {
            if keys.copy(&mut from, &mut to).unwrap_or(false) {
                let _ = from.shutdown(std::net::Shutdown::Both);
            }
        }
        None => {
            let _ = io::copy(&mut from, &mut to);
        }
    }
}

/// The detach keys of an attach or an exec (Docker's spec; empty: ctrl-p,ctrl-q), or a
/// 400 in Docker's words (`what`: "detach" for attach, "escape" for exec).
pub(super) fn detach_keys(spec: &str, what: &str) -> Result<DetachKeys, ApiError> {
    if spec.is_empty() {
        return Ok(DetachKeys::default());
    }
    spec.parse()
        .map_err(|_| ApiError::bad_request(format!("Invalid {what} keys ({spec}) provided")))
}

/// `h` and `w` of a resize, both required.
pub(super) fn size(call: &Call) -> Result<(u16, u16), ApiError> {
    let h = call.query.int::<u16>("h")?;
    let w = call.query.int::<u16>("w")?;
    match (h, w) {
        (Some(h), Some(w)) => Ok((h, w)),
        _ => Err(ApiError::bad_request("resize needs h and w")),
    }
}

/// `POST /containers/{id}/resize?h=&w=`.
async fn resize(call: &Call, id: String) -> Result<Reply, ApiError> {
    let (h, w) = size(call)?;
    let engine = call.engine.clone();
    http::blocking(move || {
        let c = container(&engine, &id)?;
        if c.status() != Status::Running {
            return Err(not_running(&id));
        }
        c.resize_tty(h, w)?;
        Ok(())
    })
    .await?;
    Ok(http::status(StatusCode::OK))
}

/// `GET /containers/{id}/top?ps_args=`: as dockerd, the host's `ps` run with `ps_args`
/// (default `-ef`) for the container's processes: its header, and the rows whose `PID` is
/// one of them. A `ps` that fails is a 500 with its first line of error.
async fn top(call: &Call, id: String) -> Result<Reply, ApiError> {
    let engine = call.engine.clone();
    let ps_args = call
        .query
        .get("ps_args")
        .filter(|a| !a.is_empty())
        .unwrap_or("-ef")
        .to_owned();
    let v = http::blocking(move || {
        let c = container(&engine, &id)?;
        if !matches!(c.status(), Status::Running | Status::Paused) {
            return Err(not_running(&id));
        }
        let pids: Vec<i32> = c.top()?.processes.iter().map(|p| p.pid).collect();
        ps(&ps_args, &pids)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// Runs `ps ARGS -q PIDS` (and, as dockerd, `ps ARGS` when that fails: some options do
/// not go with `-q`), keeping the rows of `pids`: `{"Titles", "Processes"}`.
fn ps(ps_args: &str, pids: &[i32]) -> Result<Value, ApiError> {
    let args: Vec<&str> = ps_args.split(' ').filter(|a| !a.is_empty()).collect();
    let list = pids
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let run = |more: &[&str]| {
        std::process::Command::new("ps")
            .args(&args)
            .args(more)
            .output()
    };
    let mut out = run(&["-q", &list]);
    if !out.as_ref().is_ok_and(|o| o.status.success()) {
        out = run(&[]);
    }
    let out = out.map_err(|e| ApiError::internal(format!("ps: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or_default();
        return Err(ApiError::internal(format!("ps: {first}")));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let titles: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let pid_at = titles
        .iter()
        .position(|t| *t == "PID")
        .ok_or_else(|| ApiError::internal("Couldn't find PID field in ps output"))?;
    let mut rows = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_at).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if fields.len() < titles.len() || !pids.contains(&pid) {
            continue;
        }
        // the last column takes the rest of the line (a command with its arguments)
        let last = titles.len() - 1;
        let mut row: Vec<String> = fields[..last].iter().map(|f| (*f).to_owned()).collect();
        row.push(fields[last..].join(" "));
        rows.push(row);
    }
    Ok(json!({ "Titles": titles, "Processes": rows }))
}

/// `GET /containers/{id}/stats`: Docker's stats JSON, one a second while `stream` (the
/// default) until the client goes or the container stops; with `stream=false` one, whose
/// `precpu_stats` is a second earlier unless `one-shot`.
async fn stats(call: &Call, id: String) -> Result<Reply, ApiError> {
    let stream = call
        .query
        .get("stream")
        .is_none_or(|_| call.query.flag("stream"));
    let one_shot = call.query.flag("one-shot");
    let engine = call.engine.clone();
    let c = http::blocking(move || container(&engine, &id)).await?;
    if !stream {
        let v = http::blocking(move || {
            let first = c.stats().ok();
            if first.is_none() || one_shot {
                return Ok(stats_json(&c, first.as_ref(), None));
            }
            std::thread::sleep(Duration::from_secs(1));
            let now = c.stats().ok();
            Ok(stats_json(&c, now.as_ref(), first.as_ref()))
        })
        .await?;
        return Ok(http::json(StatusCode::OK, &v));
    }
    let (reply, out) = http::streamed("application/json");
    tokio::task::spawn_blocking(move || {
        let mut pre: Option<Stats> = None;
        loop {
            let now = c.stats().ok();
            if !out.send_json(&stats_json(&c, now.as_ref(), pre.as_ref())) || now.is_none() {
                return;
            }
            pre = now;
            // a second, in steps that notice the client going
            for _ in 0..10 {
                std::thread::sleep(Duration::from_millis(100));
                if out.closed() {
                    return;
                }
            }
        }
    });
    Ok(reply)
}

/// The host's CPU time (all CPUs, all modes) in nanoseconds, from `/proc/stat`.
fn system_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let jiffies: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // USER_HZ is 100 on Linux
    jiffies * 10_000_000
}

fn cpu_json(s: Option<&Stats>) -> Value {
    let Some(s) = s else {
        return json!({
            "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 }
        });
    };
    json!({
        "cpu_usage": {
            "total_usage": s.cpu.total_ns,
            "usage_in_kernelmode": s.cpu.system_ns,
            "usage_in_usermode": s.cpu.user_ns,
        },
        "system_cpu_usage": system_cpu_ns(),
        "online_cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 }
    })
}

/// Docker's stats JSON of `now` (zeros when `None`: the container does not run), with
/// `pre` as its `precpu_stats`.
fn stats_json(c: &Container, now: Option<&Stats>, pre: Option<&Stats>) -> Value {
    let zero_time = "0001-01-01T00:00:00Z";
    let time =
        |s: Option<&Stats>| s.map_or_else(|| zero_time.to_owned(), |s| format_time(s.read, false));
    let memory = now.map_or_else(
        || json!({}),
        |s| {
            json!({
                "usage": s.memory.usage,
                "max_usage": s.memory.max_usage,
                "stats": { "cache": s.memory.cache },
                "limit": s.memory.limit.or_else(crate::host_memory).unwrap_or(0),
            })
        },
    );
    let networks: serde_json::Map<String, Value> = now
        .map(|s| {
            s.networks
                .iter()
                .map(|(name, n)| {
                    (
                        name.clone(),
                        json!({
                            "rx_bytes": n.rx_bytes, "rx_packets": n.rx_packets,
                            "rx_errors": n.rx_errors, "rx_dropped": n.rx_dropped,
                            "tx_bytes": n.tx_bytes, "tx_packets": n.tx_packets,
                            "tx_errors": n.tx_errors, "tx_dropped": n.tx_dropped,
                        }),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let blkio = now.and_then(|s| s.block_io).map(|b| {
        json!([
            { "major": 0, "minor": 0, "op": "read", "value": b.read_bytes },
            { "major": 0, "minor": 0, "op": "write", "value": b.write_bytes },
        ])
    });
    let mut v = json!({
        "read": time(now),
        "preread": time(pre),
        "name": format!("/{}", c.name()),
        "id": c.id(),
        "num_procs": 0,
        "pids_stats": now.map_or_else(|| json!({}), |s| {
            let mut p = json!({ "current": s.pids.current });
            if let Some(l) = s.pids.limit {
                p["limit"] = json!(l);
            }
            p
        }),
        "blkio_stats": {
            "io_service_bytes_recursive": blkio,
            "io_serviced_recursive": null, "io_queue_recursive": null,
            "io_service_time_recursive": null, "io_wait_time_recursive": null,
            "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null,
        },
        "storage_stats": {},
        "cpu_stats": cpu_json(now),
        "precpu_stats": cpu_json(pre),
        "memory_stats": memory,
    });
    if now.is_some() {
        v["networks"] = Value::Object(networks);
    }
    v
}

/// `GET /containers/{id}/changes`: `[{"Path", "Kind"}]`, Kind 0 changed, 1 added, 2
/// deleted.
async fn changes(call: &Call, id: String) -> Result<Reply, ApiError> {
    let engine = call.engine.clone();
    let v = http::blocking(move || {
        let list: Vec<Value> = container(&engine, &id)?
            .diff()?
            .into_iter()
            .map(|ch| {
                let kind = match ch.kind {
                    ChangeKind::Changed => 0,
                    ChangeKind::Added => 1,
                    ChangeKind::Deleted => 2,
                };
                json!({ "Path": ch.path.to_string_lossy(), "Kind": kind })
            })
            .collect();
        Ok(list)
    })
    .await?;
    Ok(http::json(StatusCode::OK, &v))
}

/// A [`Write`] into a streamed reply: fails with `BrokenPipe` once the client is gone.
struct StreamWriter(Stream);

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.0.send(bytes::Bytes::copy_from_slice(buf)) {
            Ok(buf.len())
        } else {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `GET /containers/{id}/export`: its file system as a tar stream.
async fn export(call: &Call, id: String) -> Result<Reply, ApiError> {
    let engine = call.engine.clone();
    let c = http::blocking(move || container(&engine, &id)).await?;
    let (reply, stream) = http::streamed("application/x-tar");
    tokio::task::spawn_blocking(move || {
        let w = io::BufWriter::with_capacity(64 * 1024, StreamWriter(stream));
        let _ = c.export(w);
    });
    Ok(reply)
}

/// The `path` of an archive call (400 when missing).
fn archive_path(call: &Call) -> Result<String, ApiError> {
    match call.query.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_owned()),
        _ => Err(ApiError::bad_request("bad parameter: path cannot be empty")),
    }
}

/// The mode bits as Go's `os.FileMode` (what Docker's clients read from the path stat).
fn go_mode(mode: u32) -> u32 {
    let mut m = mode & 0o777;
    let kind = mode & libc::S_IFMT;
    m |= match kind {
        libc::S_IFDIR => 1 << 31,
        libc::S_IFLNK => 1 << 27,
        libc::S_IFBLK => 1 << 26,
        libc::S_IFCHR => (1 << 26) | (1 << 21),
        libc::S_IFIFO => 1 << 25,
        libc::S_IFSOCK => 1 << 24,
        _ => 0,
    };
    if mode & libc::S_ISUID != 0 {
        m |= 1 << 23;
    }
    if mode & libc::S_ISGID != 0 {
        m |= 1 << 22;
    }
    if mode & libc::S_ISVTX != 0 {
        m |= 1 << 20;
    }
    m
}

/// The `X-Docker-Container-Path-Stat` header: base64 of `{name, size, mode, mtime,
/// linkTarget}`.
fn path_stat_header(st: &PathStat) -> HeaderValue {
    use base64::Engine as _;
    let mtime = UNIX_EPOCH + Duration::from_secs(st.mtime.max(0) as u64);
    let v = json!({
        "name": st.name,
        "size": st.size,
        "mode": go_mode(st.mode),
        "mtime": format_time(mtime, false),
        "linkTarget": st.link_target,
    });
    let b64 = base64::engine::general_purpose::STANDARD.encode(v.to_string());
    HeaderValue::from_str(&b64).expect("base64 is a header value")
}

/// Docker's 404 for a path missing in a container.
fn no_path(path: &str, id: &str) -> ApiError {
    ApiError::not_found(format!("Could not find the file {path} in container {id}"))
}

/// `GET|HEAD /containers/{id}/archive?path=`: the tar of the path (GET) with its stat in
/// `X-Docker-Container-Path-Stat`.
async fn archive_get(call: &Call, id: String) -> Result<Reply, ApiError> {
    let path = archive_path(call)?;
    let head = call.method() == Method::HEAD;
    let engine = call.engine.clone();
    let (c, st) = http::blocking(move || {
        let c = container(&engine, &id)?;
        let st = c
            .path_stat(&path, false)?
            .ok_or_else(|| no_path(&path, &id))?;
        Ok((c, (st, path)))
    })
    .await?;
    let (st, path) = st;
    let header = path_stat_header(&st);
    let mut reply = if head {
        http::status(StatusCode::OK)
    } else {
        let (reply, stream) = http::streamed("application/x-tar");
        tokio::task::spawn_blocking(move || {
            let w = io::BufWriter::with_capacity(64 * 1024, StreamWriter(stream));
            let _ = c.copy_from(&path, false, w);
        });
        reply
    };
    if head {
        reply.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/x-tar"),
        );
    }
    reply
        .headers_mut()
        .insert("x-docker-container-path-stat", header);
    Ok(reply)
}

/// The first entry of a tar stream: its name and whether it is a directory, with the
/// bytes read to find out (to be replayed); `None` for an empty or unreadable header.
fn first_entry(r: &mut impl Read) -> (Option<(String, bool)>, Vec<u8>) {
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < 512 {
        match r.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head.truncate(got);
    if got < 512 {
        return (None, head);
    }
    let field = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let mut name = field(&head[..100]);
    if &head[257..262] == b"ustar" {
        let prefix = field(&head[345..500]);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
    }
    let dir = head[156] == b'5' || name.ends_with('/');
    (Some((name, dir)), head)
}

/// `PUT /containers/{id}/archive?path=`: extracts the tar body into the directory `path`;
/// `noOverwriteDirNonDir` refuses to replace a directory with a non-directory or the
/// reverse (checked for the archive's first entry, the one `docker cp` sends);
/// `copyUIDGID` keeps the archive's owners.
async fn archive_put(call: &mut Call, id: String) -> Result<Reply, ApiError> {
    let path = archive_path(call)?;
    let no_overwrite = call.query.flag("noOverwriteDirNonDir");
    let same_owner = call.query.flag("copyUIDGID");
    let engine = call.engine.clone();
    let mut body = call.body_reader()?;
    http::blocking(move || {
        let c = container(&engine, &id)?;
        let st = c
            .path_stat(&path, true)?
            .ok_or_else(|| no_path(&path, &id))?;
        if !st.is_dir() {
            return Err(ApiError::bad_request("extraction point is not a directory"));
        }
        let (first, head) = first_entry(&mut body);
        if let (true, Some((name, dir))) = (no_overwrite, first) {
            let top = name.trim_start_matches("./").trim_end_matches('/');
            if !top.is_empty() && top != "." {
                let target = format!("{}/{top}", path.trim_end_matches('/'));
                if let Some(there) = c.path_stat(&target, false)? {
                    if there.is_dir() && !dir {
                        return Err(ApiError::bad_request(format!(
                            "cannot overwrite directory {target:?} with non-directory {top:?}"
                        )));
                    }
                    if !there.is_dir() && dir {
                        return Err(ApiError::bad_request(format!(
                            "cannot overwrite non-directory {target:?} with directory {top:?}"
                        )));
                    }
                }
            }
        }
        c.copy_to(&path, io::Cursor::new(head).chain(body), same_owner)?;
        Ok(())
    })
    .await?;
    Ok(http::status(StatusCode::OK))
}
