//! [`ExecBuilder`]: a further process in a running container, as `docker exec`.

use std::ffi::{OsStr, OsString};
use std::io::{PipeReader, Read};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use oci_spec::runtime::{Process, User};

use super::builder::{set_env, stdio_fd};
use super::record::Record;
use super::store::ContainerStore;
use super::{rootfs, spec, ExitStatus, Output, Stdio, StdioKind};
use crate::runtime::{ExecOptions, ExecProcess, Runtime};
use crate::sys::file;
use crate::{Error, Result};

/// Configures a process to run in a running container (`docker exec`), like
/// [`std::process::Command`]. Get one from [`RunningContainer::exec`](super::RunningContainer::exec).
///
/// By Docker's rules the process gets the container's environment (plus [`env`](Self::env)
/// overrides), user and working directory unless set here, and the container's
/// capabilities, seccomp filter and namespaces.
#[derive(Debug)]
pub struct ExecBuilder<'c> {
    runtime: &'c Runtime,
    /// The container's directory (its bundle and record).
    dir: PathBuf,
    id: &'c str,
    name: &'c str,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    user: Option<String>,
    cwd: Option<String>,
    tty: bool,
    privileged: bool,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    /// Kill the process with SIGKILL once this has passed (readiness probes).
    timeout: Option<Duration>,
}

impl<'c> ExecBuilder<'c> {
    pub(crate) fn new(
        store: &'c ContainerStore,
        id: &'c str,
        name: &'c str,
        args: Vec<OsString>,
    ) -> Self {
        ExecBuilder::in_dir(store.runtime(), store.dir(id), id, name, args)
    }

    /// An exec in the container `id` whose directory is `dir`, run by `runtime` (what a
    /// monitor has, without the engine's stores).
    pub(crate) fn in_dir(
        runtime: &'c Runtime,
        dir: PathBuf,
        id: &'c str,
        name: &'c str,
        args: Vec<OsString>,
    ) -> Self {
        ExecBuilder {
            runtime,
            dir,
            id,
            name,
            args,
            env: Vec::new(),
            user: None,
            cwd: None,
            tty: false,
            privileged: false,
            stdin: None,
            stdout: None,
            stderr: None,
            timeout: None,
        }
    }

    /// Kills the process with SIGKILL once `timeout` has passed (what a healthcheck's
    /// `Timeout` does); its status then reads as killed by SIGKILL.
    pub(crate) fn timeout(&mut self, timeout: Duration) -> &mut Self {
        self.timeout = Some(timeout);
        self
    }

    /// Appends an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Sets an environment variable (over the container's).
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Self {
        set_env(&mut self.env, key.as_ref(), val.as_ref());
        self
    }

    setters! {
        /// The user (`uid`, `uid:gid`, `name`, `name:group`), instead of the container's.
        fn user(&mut self, user: impl Into<String>) { self.user = Some(user.into()) }

        /// The working directory, instead of the container's.
        fn current_dir(&mut self, dir: impl Into<String>) { self.cwd = Some(dir.into()) }

        /// A pty for the process (`docker exec -t`): its stdout and stderr both come through
        /// the terminal (so [`output`](Self::output) returns them together as stdout), and
        /// [`status`](Self::status) with an inherited stdin copies this program's stdin to it,
        /// sizing the pty as this program's terminal if it has one.
        fn tty(&mut self, yes: bool) { self.tty = yes }

        /// Every capability (`docker exec --privileged`), whatever the container's: the
        /// bounding, effective, permitted and inheritable sets hold all that this program
        /// can give. As Docker's, the container's seccomp filter still applies.
        fn privileged(&mut self, yes: bool) { self.privileged = yes }

        /// Its stdin (default: null for `output`, inherit for `status`). A piped stdin is
        /// closed at once (the process reads EOF): these verbs run to completion.
        fn stdin(&mut self, cfg: impl Into<Stdio>) { self.stdin = Some(cfg.into()) }

        /// Its stdout (default: piped for `output`, inherit for `status`).
        fn stdout(&mut self, cfg: impl Into<Stdio>) { self.stdout = Some(cfg.into()) }

        /// Its stderr (default: piped for `output`, inherit for `status`).
        fn stderr(&mut self, cfg: impl Into<Stdio>) { self.stderr = Some(cfg.into()) }
    }

    /// Runs it to completion (stdio inherited by default), as
    /// [`std::process::Command::status`].
    ///
    /// # Errors
    /// The container is not running ([`Error::InvalidState`]), the command is not in it
    /// ([`Error::Command`]), the user is unknown, or the process could not be set up.
    pub fn status(&mut self) -> Result<ExitStatus> {
        self.run(Stdio::inherit, Stdio::inherit).map(|o| o.status)
    }

    /// Runs it to completion collecting stdout and stderr (stdin null), as
    /// [`std::process::Command::output`].
    ///
    /// # Errors
    /// As [`status`](Self::status).
    pub fn output(&mut self) -> Result<Output> {
        self.run(Stdio::null, Stdio::piped)
    }

    /// Starts it without waiting (the API's exec start): with [`tty`](Self::tty) the
    /// process's stdio is a pty whose master is the returned process's console (`stdin`,
    /// `stdout` and `stderr` unused), else it gets the three given here (a
    /// [`Stdio::piped`] reads as null: pass pipe ends).
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    pub(crate) fn spawn(&self, stdin: Stdio, stdout: Stdio, stderr: Stdio) -> Result<ExecProcess> {
        let process = self.process()?;
        let args = process.args().clone().unwrap_or_default();
        if self.tty {
            return self.runtime_exec(&process, &ExecOptions::default(), &args[0]);
        }
        let null = |s: Stdio| match s.0 {
            StdioKind::Piped => Stdio::null(),
            _ => s,
        };
        let name: &str = self.name;
        let io_err = move |e| Error::Io {
            op: format!("preparing stdio of exec in container {name}"),
            source: e,
        };
        let opts = ExecOptions {
            stdin: stdio_fd(null(stdin), true, &mut None, &mut None).map_err(io_err)?,
            stdout: stdio_fd(null(stdout), false, &mut None, &mut None).map_err(io_err)?,
            stderr: stdio_fd(null(stderr), false, &mut None, &mut None).map_err(io_err)?,
            ..ExecOptions::default()
        };
        self.runtime_exec(&process, &opts, &args[0])
    }

    fn run(&self, in_default: fn() -> Stdio, out_default: fn() -> Stdio) -> Result<Output> {
        let process = self.process()?;
        let args = process.args().clone().unwrap_or_default();
        let dup = |s: &Option<Stdio>, d: fn() -> Stdio| -> Result<Stdio> {
            s.as_ref()
                .map(Stdio::try_clone)
                .transpose()
                .map_err(|e| Error::Io {
                    op: format!("duplicating stdio of exec in container {}", self.name),
                    source: e,
                })
                .map(|s| s.unwrap_or_else(d))
        };
        let (stdin, stdout, stderr) = (
            dup(&self.stdin, in_default)?,
            dup(&self.stdout, out_default)?,
            dup(&self.stderr, out_default)?,
        );
        if self.tty {
            return self.run_tty(&process, &args[0], stdin, stdout);
        }
        self.run_piped(&process, &args[0], (stdin, stdout, stderr))
    }

    /// The process to run: the container's, with the arguments, environment, user and
    /// working directory set here, its command checked.
    fn process(&self) -> Result<Process> {
        let invalid = |field, reason: String| Error::InvalidContainerConfig {
            container: self.name.to_owned(),
            field,
            reason,
        };
        let utf8 = |field, s: &OsStr| {
            s.to_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(field, format!("{s:?} is not UTF-8")))
        };
        let args = self
            .args
            .iter()
            .map(|a| utf8("argument", a))
            .collect::<Result<Vec<_>>>()?;
        if args.is_empty() {
            return Err(invalid("command", "no command specified".to_owned()));
        }
        let spec = self
            .runtime
            .spec(self.id)
            .map_err(|e| self.not_running(e))?;
        let mut process = spec.process().clone().unwrap_or_default();
        let dir = &self.dir;
        let init = self.runtime.state(self.id).ok().map(|s| s.pid);
        let merged = rootfs::merged(dir, init);
        let mut env = process.env().clone().unwrap_or_default();
        for (k, v) in &self.env {
            let (k, v) = (
                utf8("environment variable", k)?,
                utf8("environment variable", v)?,
            );
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != k);
            env.push(format!("{k}={v}"));
        }
        if let Some(u) = &self.user {
            let reference = Record::load(dir).map(|r| r.reference).unwrap_or_default();
            let user = spec::resolve_user(
                u,
                &rootfs::read_in(&merged, "/etc/passwd"),
                &rootfs::read_in(&merged, "/etc/group"),
            )
            .map_err(|(kind, name, file)| Error::UserNotFound {
                kind,
                name,
                image: reference,
                file,
            })?;
            let mut pu = User::default();
            pu.set_uid(user.uid);
            pu.set_gid(user.gid);
            pu.set_additional_gids(Some(user.additional_gids));
            process.set_user(pu);
        }
        let cwd = self
            .cwd
            .clone()
            .unwrap_or_else(|| process.cwd().display().to_string());
        let path_env = env.iter().find_map(|e| e.strip_prefix("PATH="));
        if let Some((reason, code)) = rootfs::check_command(&merged, &args[0], path_env, &cwd) {
            return Err(Error::Command {
                container: self.name.to_owned(),
                command: args[0].clone(),
                reason,
                code,
            });
        }
        process.set_args(Some(args.clone()));
        process.set_env(Some(env));
        process.set_cwd(cwd.into());
        process.set_terminal(Some(self.tty));
        if self.privileged {
            process.set_capabilities(Some(spec::privileged_capabilities()));
        }
        Ok(process)
    }

    /// The runtime's exec; a container the runtime no longer has is one that is not
    /// running (Docker: "container … is not running"), not one that does not exist.
    fn runtime_exec(
        &self,
        process: &Process,
        opts: &ExecOptions,
        arg0: &str,
    ) -> Result<crate::runtime::ExecProcess> {
        self.runtime
            .exec(self.id, process, opts)
            .map_err(|e| super::builder::map_spawn_error(self.not_running(e), self.name, arg0))
    }

    /// The runtime's "no such container" (or "stopped") for a container the engine has: it
    /// is not running.
    fn not_running(&self, e: Error) -> Error {
        match e {
            Error::ContainerNotFound { .. } | Error::InvalidState { .. } => Error::InvalidState {
                id: self.name.to_owned(),
                op: "exec in",
                status: "not running".into(),
            },
            e => e,
        }
    }

    /// Runs `process` with its stdio as given (piped streams collected).
    fn run_piped(
        &self,
        process: &Process,
        arg0: &str,
        (stdin, stdout, stderr): (Stdio, Stdio, Stdio),
    ) -> Result<Output> {
        let mut opts = ExecOptions::default();
        let (mut w_in, mut r_out, mut r_err) = (None, None, None);
        let name: &str = self.name;
        let io_err = |what: &'static str| {
            move |e| Error::Io {
                op: format!("{what} container {name}"),
                source: e,
            }
        };
        opts.stdin = stdio_fd(stdin, true, &mut w_in, &mut None)
            .map_err(io_err("preparing stdin of exec in"))?;
        opts.stdout = stdio_fd(stdout, false, &mut None, &mut r_out)
            .map_err(io_err("preparing stdout of exec in"))?;
        opts.stderr = stdio_fd(stderr, false, &mut None, &mut r_err)
            .map_err(io_err("preparing stderr of exec in"))?;
        let child = self.runtime_exec(process, &opts, arg0)?;
        drop(opts);
        drop(w_in);
        if let Some(timeout) = self.timeout {
            return timed(child, r_out, r_err, timeout);
        }
        let err_thread = r_err.map(|mut p| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                p.read_to_end(&mut v).map(|_| v)
            })
        });
        let mut out = Vec::new();
        if let Some(mut p) = r_out {
            p.read_to_end(&mut out)
                .map_err(io_err("reading stdout of exec in"))?;
        }
        let err = match err_thread {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Ok(Vec::new()))
                .map_err(io_err("reading stderr of exec in"))?,
            None => Vec::new(),
        };
        let status = child.wait()?;
        Ok(Output {
            status,
            stdout: out,
            stderr: err,
            timed_out: false,
        })
    }
}

impl ExecBuilder<'_> {
    /// Runs `process` (which asks for a terminal) with the pty master kept here: input from
    /// an inherited stdin, output to stdout (piped: collected).
    fn run_tty(
        &self,
        process: &Process,
        arg0: &str,
        stdin: Stdio,
        stdout: Stdio,
    ) -> Result<Output> {
        use std::io::Write;
        use std::os::fd::AsFd;
        let name = self.name;
        let mut child = self.runtime_exec(process, &ExecOptions::default(), arg0)?;
        let master = child
            .take_console()
            .map(std::fs::File::from)
            .ok_or_else(|| {
                Error::os(
                    "opening the terminal of exec in",
                    name,
                    std::io::ErrorKind::NotFound.into(),
                )
            })?;
        let host_in = matches!(stdin.0, StdioKind::Inherit);
        if host_in {
            let ours = std::io::stdin();
            if let Ok((rows, cols)) = crate::sys::tty::window_size(ours.as_fd()) {
                let _ = crate::sys::tty::set_window_size(master.as_fd(), rows, cols);
            }
            if let Ok(mut w) = master.try_clone() {
                // Ends with our stdin, or when the pty goes (the write fails).
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut std::io::stdin().lock(), &mut w);
                });
            }
        }
        let collect = matches!(stdout.0, StdioKind::Piped);
        let to_host = matches!(stdout.0, StdioKind::Inherit);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut reader = master;
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 8192];
            // EIO once every holder of the pty's other side has gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if collect {
                    out.extend_from_slice(&buf[..n]);
                } else if to_host {
                    let mut o = std::io::stdout().lock();
                    if o.write_all(&buf[..n]).and_then(|()| o.flush()).is_err() {
                        break;
                    }
                }
            }
            let _ = tx.send(out);
        });
        let status = child.wait()?;
        // A process it left behind may hold the terminal open: do not wait for it long.
        let out = rx
            .recv_timeout(std::time::Duration::from_millis(500))
            .unwrap_or_default();
        Ok(Output {
            status,
            stdout: out,
            stderr: Vec::new(),
            timed_out: false,
        })
    }
}

/// Waits for an exec'd process at most `timeout`, then kills it with SIGKILL; collects its
/// piped output. Output still held open by a process it left behind is given up on after a
/// short grace (its reader thread ends when that process closes the pipe).
fn timed(
    child: ExecProcess,
    r_out: Option<PipeReader>,
    r_err: Option<PipeReader>,
    timeout: Duration,
) -> Result<Output> {
    fn reader(p: Option<PipeReader>) -> Option<JoinHandle<Vec<u8>>> {
        p.map(|mut p| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = p.read_to_end(&mut v);
                v
            })
        })
    }
    let (out, err) = (reader(r_out), reader(r_err));
    let exited = match file::pidfd_open(child.pid()) {
        Ok(fd) => file::pidfd_wait(
            fd.as_raw_fd(),
            timeout.as_millis().min(i32::MAX as u128) as i32,
        )
        .unwrap_or(false),
        // Gone already (and so a zombie we are about to reap).
        Err(_) => true,
    };
    if !exited {
        // Its children too (a shell's): a probe that hangs leaves nothing behind.
        kill_tree(child.pid());
    }
    let status = child.wait()?;
    let grace = Instant::now() + Duration::from_millis(100);
    let collect = |h: Option<JoinHandle<Vec<u8>>>| {
        let h = h?;
        while !h.is_finished() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(5));
        }
        if h.is_finished() {
            h.join().ok()
        } else {
            None
        }
    };
    Ok(Output {
        status,
        stdout: collect(out).unwrap_or_default(),
        stderr: collect(err).unwrap_or_default(),
        timed_out: false,
    })
}

/// SIGKILLs `pid` and every process descending from it (by the parent pids in `/proc`),
/// twice over, so that a child forked while the first pass ran goes too.
fn kill_tree(pid: i32) {
    for _ in 0..2 {
        let mut tree = vec![pid];
        let parents = parent_pids();
        let mut i = 0;
        while let Some(&p) = tree.get(i) {
            tree.extend(
                parents
                    .iter()
                    .filter(|&&(_, ppid)| ppid == p)
                    .map(|&(child, _)| child),
            );
            i += 1;
        }
        for p in tree {
            let _ = file::kill(p, libc::SIGKILL);
        }
    }
}

/// Every process in `/proc` with its parent's pid.
fn parent_pids() -> Vec<(i32, i32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: i32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // After the command in parentheses: state, then the parent's pid.
        let rest = stat.get(stat.rfind(')')? + 2..)?;
        let ppid = rest.split(' ').nth(1)?.parse().ok()?;
        Some((pid, ppid))
    })
    .collect()
}
