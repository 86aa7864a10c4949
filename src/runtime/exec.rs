//! `exec`: a further process in a running container.

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use oci_spec::runtime::Process;

use super::plan::{self, Context};
use super::state::Status;
use super::{dup_stdio, recv_from, send_console, wait_for, write_pid_file, ExitStatus, Runtime};
use crate::sys::file;
use crate::sys::process::{self as proc, ChildMessage, InitPlan, Spawned};
use crate::{Error, Result};

/// Options of [`Runtime::exec`]: [`ExecOptions::new`] (or [`Default`]) and setters.
///
/// ```
/// use cargohold::runtime::ExecOptions;
///
/// let mut opts = ExecOptions::new();
/// opts.preserve_fds(2).pid_file("/run/exec.pid");
/// assert_eq!(opts.preserve_fds, 2);
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Send the pty master to this unix socket when the process asks for a terminal.
    pub console_socket: Option<PathBuf>,
    /// Write the process's pid here.
    pub pid_file: Option<PathBuf>,
    /// Pass fds 3..3+N to the process.
    pub preserve_fds: u32,
    /// The process's stdin (None: inherit ours).
    pub stdin: Option<OwnedFd>,
    /// The process's stdout (None: inherit ours).
    pub stdout: Option<OwnedFd>,
    /// The process's stderr (None: inherit ours).
    pub stderr: Option<OwnedFd>,
}

impl ExecOptions {
    /// Options with nothing set: what [`Default`] gives.
    pub fn new() -> Self {
        Self::default()
    }

    process_setters!();
}

/// A process started by [`Runtime::exec`].
#[derive(Debug)]
#[must_use]
pub struct ExecProcess {
    pid: i32,
    console: Option<OwnedFd>,
}

impl ExecProcess {
    /// Its pid on the host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The pty master, when the process asked for a terminal and no console socket was given.
    pub fn take_console(&mut self) -> Option<OwnedFd> {
        self.console.take()
    }

    /// Waits for it to exit.
    ///
    /// # Errors
    /// waitpid failed.
    pub fn wait(&self) -> Result<ExitStatus> {
        wait_for(self.pid, "waiting for exec process").map(ExitStatus::from)
    }
}

impl Runtime {
    /// Runs a further process in a running container: it joins the init's namespaces and
    /// cgroup, and gets the container's seccomp filter and LSM labels unless `process`
    /// sets its own.
    ///
    /// # Errors
    /// The container is not running; the process is invalid or cannot be executed; without
    /// root, a container that has not started yet ([`Error::Unsupported`]: its init cannot
    /// be entered by its user until then).
    pub fn exec(&self, id: &str, process: &Process, opts: &ExecOptions) -> Result<ExecProcess> {
        let (dir, rec) = self.load(id)?;
        let status = rec.status(&dir);
        if !matches!(status, Status::Running | Status::Created) {
            return Err(Error::InvalidState {
                id: id.to_owned(),
                op: "exec in",
                status: status.to_string(),
            });
        }
        let pid = rec.pid;
        // Join the namespaces the init has and we do not share, the user namespace first.
        let mut ctx = Context::default();
        let (mut join, mut join_pid) = namespaces_to_join(id, pid, &mut ctx)?;
        // rootless containers may have none (see `create_cgroup`)
        let cg = super::open_cgroup(&rec.cgroup_path)?;
        // HOME from the container's /etc/passwd when the process has none, as create does.
        let process = plan::with_home(process, &PathBuf::from(format!("/proc/{pid}/root")));
        let denied = super::idmap::setgroups_denied_in(pid);
        let mut pplan = plan::process_plan(&process, "process", denied, &mut ctx)?;
        for w in &ctx.warnings {
            self.warn(w);
        }
        pplan.stdio = dup_stdio([&opts.stdin, &opts.stdout, &opts.stderr])?;
        pplan.preserve_fds = opts.preserve_fds;
        pplan.seccomp = match rec.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            // a record written before the profile moved out of state.json
            Some(s) => Some(super::seccomp::compile(s)?),
            None if rec.seccomp => Some(super::state::load_seccomp_program(&dir)?),
            None => None,
        };
        let chroot = if rec.no_mount_ns {
            let root = PathBuf::from(format!("/proc/{pid}/root"));
            Some(
                file::open(&root, libc::O_PATH | libc::O_DIRECTORY)
                    .map_err(|e| Error::os("opening container root", &root, e))?,
            )
        } else {
            None
        };
        let mut plan = InitPlan::new(pplan);
        // Joining the container's user namespace (rootless): its pid namespace can only be
        // entered from inside it, by the child after the others, and a second fork puts
        // the process in it.
        let joins_user = join.iter().any(|(_, f)| *f == libc::CLONE_NEWUSER);
        if joins_user {
            if let Some(fd) = join_pid.take() {
                join.push((fd, libc::CLONE_NEWPID));
                plan.second_fork = true;
            }
        }
        plan.join = join;
        if let Some(cg) = &cg {
            plan.cgroup_procs = cg.procs_fds()?;
            plan.cgroup_dir = cg.v2_dir_fd()?;
        }
        plan.chroot = chroot;
        let spawned =
            proc::spawn_in_pid_ns(&mut plan, join_pid.as_ref()).map_err(|e| Error::Spawn {
                stage: "cloning the exec process".into(),
                source: e,
            })?;
        let (exec_pid, console) = exec_handshake(&spawned, opts, &ctx)?;
        if let Some(p) = &opts.pid_file {
            write_pid_file(p, exec_pid)?;
        }
        Ok(ExecProcess {
            pid: exec_pid,
            console,
        })
    }
}

/// A namespace to join: its fd and its CLONE_NEW* type, as [`InitPlan::join`] holds them.
type NsJoin = (OwnedFd, libc::c_int);

/// The namespaces of the container's init (`pid`) that we do not share, opened to be
/// joined, the user namespace first: the others as `(fd, CLONE_NEW*)`, and the pid
/// namespace apart (the clone must happen from inside it). Each is named in `ctx` for the
/// child's errors. Without root, a container whose init cannot be looked at yet (not
/// started) is [`Error::Unsupported`] rather than a process outside its namespaces.
fn namespaces_to_join(
    id: &str,
    pid: i32,
    ctx: &mut Context,
) -> Result<(Vec<NsJoin>, Option<OwnedFd>)> {
    let mut join = Vec::new();
    let mut join_pid = None;
    for (name, flag) in [
        ("user", libc::CLONE_NEWUSER),
        ("mnt", libc::CLONE_NEWNS),
        ("cgroup", libc::CLONE_NEWCGROUP),
        ("ipc", libc::CLONE_NEWIPC),
        ("uts", libc::CLONE_NEWUTS),
        ("net", libc::CLONE_NEWNET),
        ("pid", libc::CLONE_NEWPID),
    ] {
        let theirs = PathBuf::from(format!("/proc/{pid}/ns/{name}"));
        let ours = PathBuf::from(format!("/proc/self/ns/{name}"));
        // a kernel without this namespace kind: nothing to join
        let Ok(o) = fs::metadata(&ours) else {
            continue;
        };
        // Never run the process outside a namespace it cannot see: without root, the
        // init of a container that has not started yet (still the runtime, not
        // dumpable) cannot be looked at through /proc by its user.
        let t = fs::metadata(&theirs).map_err(|e| {
            if super::rootless() && e.kind() == std::io::ErrorKind::PermissionDenied {
                Error::Unsupported {
                    what: format!("exec into rootless container {id} before it starts"),
                    reason: "its init is the runtime until then, which its user may not \
                             enter; start it first"
                        .into(),
                }
            } else {
                Error::os(
                    "looking at the namespace of the container's init",
                    &theirs,
                    e,
                )
            }
        })?;
        if t.ino() == o.ino() && t.dev() == o.dev() {
            continue;
        }
        let fd = file::open(&theirs, libc::O_RDONLY)
            .map_err(|e| Error::os("opening namespace", &theirs, e))?;
        ctx.join.push(theirs.display().to_string());
        if flag == libc::CLONE_NEWPID {
            join_pid = Some(fd);
        } else {
            join.push((fd, flag));
        }
    }
    Ok((join, join_pid))
}

/// Answers the exec process during its setup until it has exec'd: takes the pid of a
/// second fork (reaping the intermediate child) and its pty master (sent to the console
/// socket if there is one); a failure it reports is reaped and turned into the error
/// `ctx` names. Returns the process's pid and the pty master kept for the caller.
fn exec_handshake(
    spawned: &Spawned,
    opts: &ExecOptions,
    ctx: &Context,
) -> Result<(i32, Option<OwnedFd>)> {
    let mut console = None;
    let mut exec_pid = spawned.pid;
    loop {
        let (msg, fd) = recv_from(spawned, "exec")?;
        match msg {
            ChildMessage::Pid(p) => {
                // the intermediate child exits at once; the process is its child
                let _ = file::wait_child(spawned.pid);
                exec_pid = p;
            }
            ChildMessage::Console => {
                if let Some(master) = fd {
                    match &opts.console_socket {
                        Some(sock) => send_console(sock, &master)?,
                        None => console = Some(master),
                    }
                }
            }
            ChildMessage::Execed => break,
            ChildMessage::Failed(f) => {
                let _ = file::wait_child(exec_pid);
                return Err(ctx.error(&f));
            }
            _ => {}
        }
    }
    Ok((exec_pid, console))
}
