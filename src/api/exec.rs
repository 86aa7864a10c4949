//! The exec routes: `POST /containers/{id}/exec` (create), `POST /exec/{id}/start`,
//! `POST /exec/{id}/resize`, `GET /exec/{id}/json`.
//!
//! Exec instances live in this process's memory, as in Docker's daemon: a registry shared
//! by every connection, keyed by engine root and exec id. A finished instance is kept for
//! its `json` (the CLI reads the exit code there) and dropped once the registry holds
//! more than [`KEEP_FINISHED`] of them, oldest first.
//!
//! A started exec runs with its stdio copied to the client: over the hijacked connection
//! (stdin in, output out; framed unless it has a terminal) or, without `Upgrade: tcp`, as
//! a streamed reply of its output. As in Docker, a client that goes away ends the copy
//! (the process's stdin closes, its output is read and dropped) but not the process; the
//! threads of an exec end with its process, and the readers of its output never wait for
//! long on a pipe that a process it left behind holds open.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::container_io::{detach_keys, forward_stdin, size, Output};
use super::http::{self, ApiError, Call, Reply};
use crate::{DetachKeys, Engine, Status, Stdio};

/// Finished instances kept for inspection.
const KEEP_FINISHED: usize = 256;

/// How long the readers of a finished exec's output wait for what is left.
const GRACE: Duration = Duration::from_millis(200);

/// Routes `POST /containers/{id}/exec` and the calls under `/exec`.
pub(super) async fn route(mut call: Call) -> Reply {
    let method = call.method().clone();
    let segs = call.segs.clone();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = match (&method, segs.as_slice()) {
        (&Method::POST, ["containers", id, "exec"]) => create(&mut call, id.to_string()).await,
        (&Method::POST, ["exec", id, "start"]) => start(&mut call, id).await,
        (&Method::POST, ["exec", id, "resize"]) => resize(&call, id),
        (&Method::GET, ["exec", id, "json"]) => inspect(&call, id),
        _ => return http::not_found(),
    };
    result.unwrap_or_else(ApiError::reply)
}

/// The body of exec create.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    working_dir: String,
    user: String,
    privileged: bool,
    detach_keys: String,
    console_size: Option<Vec<u16>>,
}

/// The body of exec start.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    #[allow(dead_code)]
    tty: bool,
    console_size: Option<Vec<u16>>,
}

/// One exec instance.
#[derive(Debug)]
struct Exec {
    id: String,
    container_id: String,
    cfg: CreateBody,
    /// What detaches a client from its terminal.
    keys: DetachKeys,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    started: bool,
    running: bool,
    exit_code: Option<i32>,
    pid: i32,
    /// The terminal's master while it runs with one (for resize).
    console: Option<Arc<File>>,
    /// A size asked for before the terminal existed.
    size: Option<(u16, u16)>,
    finished: Option<Instant>,
}

type Registry = Mutex<HashMap<(PathBuf, String), Arc<Exec>>>;

fn registry() -> &'static Registry {
    static EXECS: OnceLock<Registry> = OnceLock::new();
    EXECS.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The exec `id` of `engine` (Docker's 404 when there is none).
fn find(engine: &Engine, id: &str) -> Result<Arc<Exec>, ApiError> {
    lock(registry())
        .get(&(engine.root().to_owned(), id.to_owned()))
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

/// Adds `exec`, dropping the oldest finished instances past [`KEEP_FINISHED`].
fn register(engine: &Engine, exec: Arc<Exec>) {
    let mut reg = lock(registry());
    let mut finished: Vec<((PathBuf, String), Instant)> = reg
        .iter()
        .filter_map(|(k, e)| lock(&e.state).finished.map(|t| (k.clone(), t)))
        .collect();
    if finished.len() >= KEEP_FINISHED {
        finished.sort_by_key(|(_, t)| *t);
        for (k, _) in &finished[..=finished.len() - KEEP_FINISHED] {
            reg.remove(k);
        }
    }
    reg.insert((engine.root().to_owned(), exec.id.clone()), exec);
}

/// A new id: 64 hex digits, as Docker's.
fn new_id() -> Result<String, ApiError> {
    let mut b = [0u8; 32];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| ApiError::internal(format!("making an exec id: {e}")))?;
    Ok(hex::encode(b))
}

/// `POST /containers/{id}/exec`: 201 `{"Id"}`; 409 unless the container runs.
async fn create(call: &mut Call, id: String) -> Result<Reply, ApiError> {
    let cfg: CreateBody = call.json().await?;
    if cfg.cmd.as_ref().is_none_or(Vec::is_empty) {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let keys = detach_keys(&cfg.detach_keys, "escape")?;
    let engine = call.engine.clone();
    let exec_id = http::blocking(move || {
        let c = engine.containers().get(&id)?;
        match c.status() {
            Status::Running => {}
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "Container {id} is paused, unpause the container before exec"
                )))
            }
            _ => return Err(ApiError::conflict(format!("Container {id} is not running"))),
        }
        let exec = Arc::new(Exec {
            id: new_id()?,
            container_id: c.id().to_owned(),
            cfg,
            keys,
            state: Mutex::default(),
        });
        let exec_id = exec.id.clone();
        register(&engine, exec);
        Ok(exec_id)
    })
    .await?;
    Ok(http::json(StatusCode::CREATED, &json!({ "Id": exec_id })))
}

/// `GET /exec/{id}/json`.
fn inspect(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let exec = find(&call.engine, id)?;
    let st = lock(&exec.state);
    let cmd = exec.cfg.cmd.clone().unwrap_or_default();
    let v = json!({
        "ID": exec.id,
        "Running": st.running,
        "ExitCode": st.exit_code,
        "ProcessConfig": {
            "tty": exec.cfg.tty,
            "entrypoint": cmd.first(),
            "arguments": cmd.get(1..).unwrap_or_default(),
            "privileged": exec.cfg.privileged,
            "user": exec.cfg.user,
        },
        "OpenStdin": exec.cfg.attach_stdin,
        "OpenStderr": exec.cfg.attach_stderr,
        "OpenStdout": exec.cfg.attach_stdout,
        "CanRemove": false,
        "ContainerID": exec.container_id,
        "DetachKeys": exec.cfg.detach_keys,
        "Pid": st.pid,
    });
    Ok(http::json(StatusCode::OK, &v))
}

/// `POST /exec/{id}/resize?h=&w=`: the terminal's size (kept for the start when it does
/// not run yet).
fn resize(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (h, w) = size(call)?;
    let exec = find(&call.engine, id)?;
    let mut st = lock(&exec.state);
    match &st.console {
        Some(master) => crate::sys::tty::set_window_size(master.as_fd(), h, w)
            .map_err(|e| ApiError::internal(format!("resizing the terminal of exec {id}: {e}")))?,
        None if st.finished.is_some() => {
            return Err(ApiError::conflict(format!("exec {id} is not running")))
        }
        None => st.size = Some((h, w)),
    }
    Ok(http::status(StatusCode::OK))
}

/// `POST /exec/{id}/start`.
async fn start(call: &mut Call, id: &str) -> Result<Reply, ApiError> {
    let body: StartBody = call.json().await?;
    let exec = find(&call.engine, id)?;
    {
        let mut st = lock(&exec.state);
        if st.exit_code.is_some() || st.finished.is_some() {
            return Err(ApiError::conflict(format!(
                "exec command {id} has already run"
            )));
        }
        if st.started {
            return Err(ApiError::conflict(format!(
                "exec command {id} is already running"
            )));
        }
        st.started = true;
        if let Some([h, w]) = body
            .console_size
            .as_deref()
            .or(exec.cfg.console_size.as_deref())
            .and_then(|s| <[u16; 2]>::try_from(s).ok())
        {
            if h > 0 && w > 0 && st.size.is_none() {
                st.size = Some((h, w));
            }
        }
    }
    let engine = call.engine.clone();
    let cid = exec.container_id.clone();
    let running = http::blocking(move || Ok(engine.containers().get(&cid)?.status())).await;
    match running {
        Ok(Status::Running) => {}
        other => {
            lock(&exec.state).started = false;
            return Err(other.err().unwrap_or_else(|| {
                ApiError::conflict(format!("Container {} is not running", exec.container_id))
            }));
        }
    }
    let engine = call.engine.clone();
    let tty = exec.cfg.tty;
    if body.detach {
        let spawned = http::blocking(move || spawn(&engine, &exec, None, false)).await?;
        std::thread::spawn(move || spawned.run(None));
        return Ok(http::status(StatusCode::OK));
    }
    if call.wants_upgrade() {
        return Ok(http::hijack(call, move |sock| {
            let input = sock.try_clone().ok();
            let shut = sock.try_clone().ok();
            let out = Output::socket(sock, !tty);
            match spawn(&engine, &exec, input, true) {
                Ok(s) => s.run(Some(out)),
                // the client reads it as the output, as Docker writes it
                Err(e) => {
                    let _ = out.put(1, format!("{}\r\n", e.message).as_bytes());
                }
            }
            if let Some(s) = shut {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }));
    }
    let spawned = http::blocking(move || spawn(&engine, &exec, None, true)).await?;
    let content = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    let (reply, stream) = http::streamed(content);
    tokio::task::spawn_blocking(move || spawned.run(Some(Output::reply(stream, !tty))));
    Ok(reply)
}

/// A started exec and the ends of its stdio kept here.
struct Spawned {
    exec: Arc<Exec>,
    process: crate::runtime::ExecProcess,
    /// The terminal's master (with a tty).
    console: Option<Arc<File>>,
    /// Its stdout and stderr pipes (without a tty), when attached.
    outputs: Vec<(u8, std::io::PipeReader)>,
    /// Writes to its stdin, and where the client's bytes come from.
    stdin: Option<(Box<dyn Write + Send>, UnixStream)>,
}

/// Starts `exec`'s process: `input` (the hijacked connection) feeds its stdin when it
/// attached stdin; `attached`: its output is read here (else it goes to /dev/null, or
/// its terminal is drained). On failure the exec is recorded as exited 126 (127 for a
/// command not found), as Docker does.
fn spawn(
    engine: &Engine,
    exec: &Arc<Exec>,
    input: Option<UnixStream>,
    attached: bool,
) -> Result<Spawned, ApiError> {
    let fail = |e: ApiError, code: i32| {
        let mut st = lock(&exec.state);
        st.exit_code = Some(code);
        st.finished = Some(Instant::now());
        e
    };
    let c = engine
        .containers()
        .get(&exec.container_id)
        .map_err(|e| fail(e.into(), 126))?;
    let cfg = &exec.cfg;
    let cmd = cfg.cmd.clone().unwrap_or_default();
    let mut b = c.exec(&cmd);
    for e in cfg.env.iter().flatten() {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        b.env(k, v);
    }
    if !cfg.user.is_empty() {
        b.user(cfg.user.clone());
    }
    if !cfg.working_dir.is_empty() {
        b.current_dir(cfg.working_dir.clone());
    }
    b.tty(cfg.tty).privileged(cfg.privileged);
    let pipe = || {
        std::io::pipe().map_err(|e| fail(ApiError::internal(format!("making a pipe: {e}")), 126))
    };
    let mut outputs = Vec::new();
    let mut stdin = None;
    let (mut p_in, mut p_out, mut p_err) = (Stdio::null(), Stdio::null(), Stdio::null());
    let input = input.filter(|_| cfg.attach_stdin);
    if !cfg.tty {
        if let Some(input) = input.as_ref() {
            let (r, w) = pipe()?;
            p_in = r.into();
            let from = input
                .try_clone()
                .map_err(|e| fail(ApiError::internal(format!("stdin of exec: {e}")), 126))?;
            stdin = Some((Box::new(w) as Box<dyn Write + Send>, from));
        }
        if attached && cfg.attach_stdout {
            let (r, w) = pipe()?;
            p_out = w.into();
            outputs.push((1, r));
        }
        if attached && cfg.attach_stderr {
            let (r, w) = pipe()?;
            p_err = w.into();
            outputs.push((2, r));
        }
    }
    let mut process = b.spawn(p_in, p_out, p_err).map_err(|e| {
        let code = match &e {
            crate::Error::Command { code, .. } => *code,
            _ => 126,
        };
        fail(e.into(), code)
    })?;
    let console = process
        .take_console()
        .map(|fd: OwnedFd| Arc::new(File::from(fd)));
    if let (Some(master), Some(input)) = (&console, input) {
        if let Ok(w) = master.try_clone() {
            stdin = Some((Box::new(w), input));
        }
    }
    let mut st = lock(&exec.state);
    st.running = true;
    st.pid = process.pid();
    if let Some(master) = &console {
        if let Some((h, w)) = st.size.take() {
            let _ = crate::sys::tty::set_window_size(master.as_fd(), h, w);
        }
        st.console = Some(Arc::clone(master));
    }
    drop(st);
    Ok(Spawned {
        exec: Arc::clone(exec),
        process,
        console,
        outputs,
        stdin,
    })
}

impl Spawned {
    /// Copies its stdio until it exits, then records its exit code (before the output
    /// ends, so that a client reading `json` once its stream ends sees it).
    fn run(self, out: Option<Output>) {
        let Spawned {
            exec,
            process,
            console,
            outputs,
            stdin,
        } = self;
        let tty = exec.cfg.tty;
        let out = out.map(Arc::new);
        let done = Arc::new(AtomicBool::new(false));
        if let Some((to, from)) = stdin {
            // ends with the client's stdin, the connection, or the process's input
            let keys = tty.then(|| exec.keys.clone());
            std::thread::spawn(move || forward_stdin(from, to, keys));
        }
        let mut readers = Vec::new();
        let mut sources: Vec<(u8, File)> = outputs
            .into_iter()
            .map(|(n, r)| (n, File::from(OwnedFd::from(r))))
            .collect();
        if let Some(master) = &console {
            if let Ok(m) = master.try_clone() {
                sources.push((1, m));
            }
        }
        for (n, src) in sources {
            let out = out.clone();
            let done = Arc::clone(&done);
            readers.push(std::thread::spawn(move || copy_out(src, n, out, &done)));
        }
        let code = process.wait().map_or(126, |s| s.docker_code());
        done.store(true, Ordering::SeqCst);
        for r in readers {
            let _ = r.join();
        }
        let mut st = lock(&exec.state);
        st.running = false;
        st.exit_code = Some(code);
        st.console = None;
        st.finished = Some(Instant::now());
        drop(st);
        drop(console);
        drop(out);
    }
}

/// Copies `src` (a pipe, or a terminal's master) to `out` as stream `n` until its end
/// or, once `done` (the process exited), until nothing more comes for a moment; output
/// the client no longer takes is read and dropped, so that the process never blocks on
/// it.
fn copy_out(mut src: File, n: u8, out: Option<Arc<Output>>, done: &AtomicBool) {
    let mut buf = vec![0u8; 32 * 1024];
    let mut taken = out.is_some();
    let mut quiet_since: Option<Instant> = None;
    loop {
        let mut fds = [libc::pollfd {
            fd: src.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        match crate::sys::file::poll(&mut fds, 50) {
            Ok(0) => {
                if done.load(Ordering::SeqCst) {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= GRACE {
                        return;
                    }
                }
                continue;
            }
            Ok(_) => quiet_since = None,
            Err(_) => return,
        }
        // EIO from a terminal once every holder of its other side has gone
        let got = match src.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(got) => got,
        };
        if taken {
            if let Some(out) = &out {
                taken = out.put(n, &buf[..got]);
            }
        }
    }
}
