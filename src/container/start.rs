//! Start: run a prepared [`Bundle`] attached (our child) or detached (its monitor's), or
//! a created or exited container again, detached (`docker start`).

use std::io;

use super::builder::{map_spawn_error, stdio_fd};
use super::create::{Bundle, Plan};
use super::monitor;
use super::record::{self, Record};
use super::release::Ending;
use super::store::ContainerStore;
use super::{net, rootfs, Container, PipeEnds, Process, RunningContainer, Status, Stdio};
use crate::runtime::CreateOptions;
use crate::store::now_rfc3339;
use crate::{Error, Result};

/// Records that the container runs with `pid` as its init, started now: the one place a
/// record comes to say running.
fn record_running(rec: &mut Record, pid: i32) {
    let st = &mut rec.info.state;
    st.status = Status::Running;
    st.running = true;
    st.paused = false;
    st.dead = false;
    st.oom_killed = false;
    st.pid = pid;
    st.exit_code = 0;
    st.error.clear();
    st.started_at = now_rfc3339();
}

impl Bundle<'_> {
    /// Starts it detached (`docker run -d`): its networks attached, its monitor started
    /// (which runs the container and restarts it by `plan.restart`), recorded as running.
    ///
    /// # Errors
    /// The network layer's, or the start's (as [`map_spawn_error`] words it).
    pub(super) fn start_detached(&mut self, plan: &Plan) -> Result<RunningContainer> {
        let mut cfg = record::monitor_config(self.store, &self.rec, &self.dir, plan.restart);
        if plan.ephemeral {
            cfg.owner = Some(std::process::id() as i32);
        }
        self.attaching_networks();
        net::attach(self.store, &self.rec, &self.dir)?;
        self.starting_runtime();
        let handle =
            monitor::start(&cfg).map_err(|e| map_spawn_error(e, &self.name, &plan.argv[0]))?;
        let inner = Process::Detached {
            pid: handle.container_pid,
            exit: cfg.exit_path,
        };
        self.running(plan, inner, (None, None, None))
    }

    /// Starts it as this program's child with `stdio` (ignored with a tty): its networks
    /// attached, its embedded DNS server (if any) served by this process, recorded as
    /// running.
    ///
    /// # Errors
    /// Preparing the stdio, the network layer's, or the start's (as [`map_spawn_error`]
    /// words it).
    pub(super) fn start_attached(
        &mut self,
        plan: &Plan,
        stdio: (Stdio, Stdio, Stdio),
    ) -> Result<RunningContainer> {
        let mut opts = CreateOptions::default();
        let (mut w_in, mut r_out, mut r_err) = (None, None, None);
        if !plan.tty {
            let name = &self.name;
            let (stdin, stdout, stderr) = stdio;
            opts.stdin = stdio_fd(stdin, true, &mut w_in, &mut None).map_err(|e| Error::Io {
                op: format!("preparing stdin of container {name}"),
                source: e,
            })?;
            opts.stdout =
                stdio_fd(stdout, false, &mut None, &mut r_out).map_err(|e| Error::Io {
                    op: format!("preparing stdout of container {name}"),
                    source: e,
                })?;
            opts.stderr =
                stdio_fd(stderr, false, &mut None, &mut r_err).map_err(|e| Error::Io {
                    op: format!("preparing stderr of container {name}"),
                    source: e,
                })?;
        }
        self.attaching_networks();
        net::attach(self.store, &self.rec, &self.dir)?;
        // rootless on a network: pasta connects it before it runs, and dies with this
        // process (it is spawned from the spawner thread, as the init is)
        opts.before_start = net::before_start_hook(
            self.store.root(),
            &self.id,
            true,
            net::dns_upstreams(&self.rec),
        );
        // Bound before the container runs, so its first queries wait in the socket.
        let dns = net::bind_dns(self.store, &self.rec)?;
        self.starting_runtime();
        let runtime = self.store.runtime();
        // An attached container dies with this process, however it ends (its output and
        // its reaping are this process's): SIGKILL as the parent-death signal, cloned from a
        // thread that lives as long as the process (the kernel watches the cloning thread).
        opts.parent_death_signal = Some(libc::SIGKILL);
        // The spawner thread works in the calling thread's network namespace: a container
        // in `host` mode shares the namespace of the thread that clones it, and callers
        // (tests, a program serving several namespaces) keep threads in namespaces of
        // their own.
        let netns = std::fs::File::open("/proc/thread-self/ns/net")
            .map_err(|e| Error::os("opening the network namespace of", "this thread", e))?;
        let (rt, cid, bundle) = (runtime.clone(), self.id.clone(), self.dir.clone());
        let inner = super::on_spawner_thread(move || {
            use std::os::fd::AsRawFd;
            use std::os::unix::fs::MetadataExt;
            // already there (the common case, and the only one rootless: setns needs
            // CAP_SYS_ADMIN even into the namespace one is in)
            let same = match (
                netns.metadata(),
                std::fs::metadata("/proc/thread-self/ns/net"),
            ) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                crate::sys::raw::setns(netns.as_raw_fd(), libc::CLONE_NEWNET).map_err(|e| {
                    Error::os(
                        "joining the network namespace of",
                        "the spawning thread",
                        std::io::Error::from_raw_os_error(e),
                    )
                })?;
            }
            let r = rt.spawn(&cid, &bundle, &opts);
            drop(opts);
            r
        })
        .map_err(|e| map_spawn_error(e, &self.name, &plan.argv[0]))?;
        // It runs, its own copy of the overlay in its mount namespace: none stays on the
        // host, so nothing is left mounted whatever ends this program.
        super::rootfs::detach_from_host(&self.dir);
        let mut running = self.running(plan, Process::Attached(inner), (w_in, r_out, r_err))?;
        if let Some(bound) = dns {
            // Served by this process until the container's init exits.
            let pidfd = crate::sys::file::pidfd_open(running.pid() as i32).ok();
            match net::serve_dns(self.store, &self.rec, bound, pidfd) {
                Ok(r) => running.set_resolver(r),
                Err(e) => {
                    running.kill_on_drop(true);
                    return Err(e);
                }
            }
        }
        Ok(running)
    }

    /// Records it as running `inner` and makes its handle (killed on drop if it is
    /// ephemeral, or if the record could not be saved: it must not run unrecorded).
    fn running(
        &mut self,
        plan: &Plan,
        inner: Process,
        pipes: PipeEnds,
    ) -> Result<RunningContainer> {
        record_running(&mut self.rec, inner.pid());
        let saved = self.rec.save(&self.dir);
        if saved.is_ok() {
            super::events::container(self.store.root(), &self.rec, "start", &[])
        }
        let mut running = RunningContainer::new(
            self.store.clone(),
            (self.id.clone(), self.name.clone()),
            inner,
            pipes,
            plan.stop_signo,
        );
        if plan.ephemeral {
            running.kill_on_drop(true);
        }
        if let Err(e) = saved {
            running.kill_on_drop(true);
            return Err(e);
        }
        Ok(running)
    }
}

impl ContainerStore {
    /// Starts a container made by `create`, or one that has exited, detached through a
    /// monitor (`docker start`); see [`Container::start`].
    pub(crate) fn start_container(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        // One start at a time: flock on the container's directory (gone with it).
        let _lock = crate::store::lock_dir(&dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::ContainerNotFound { id: id.to_owned() },
            _ => Error::os("locking container directory", &dir, e),
        })?;
        let load =
            || Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() });
        let mut rec = load()?;
        // A detached run that has ended but was not released yet.
        if let Some(end) = self
            .monitor_status(&rec)
            .as_ref()
            .and_then(Ending::of_monitor)
        {
            self.release_locked(id, &end)?;
            rec = load()?;
        }
        let startable = match rec.info.state.status {
            Status::Created => rec.standby,
            Status::Exited | Status::Dead => true,
            _ => false,
        };
        if !startable {
            return Err(Error::InvalidState {
                id: rec.name().to_owned(),
                op: "start",
                status: self.live_state(&rec).status.to_string(),
            });
        }
        let lower = rec.lower_dirs();
        rootfs::mount(&dir, &lower, rec.info.host_config.auto_remove)?;
        // `create` left the lookup of the command to the start, as Docker does.
        let info = &rec.info;
        if let Err(e) = super::create::check_command(
            &rootfs::rootfs(&dir),
            rec.name(),
            &info.path,
            &info.config.env,
            &info.config.working_dir,
        ) {
            let _ = rootfs::unmount(&dir);
            rec.info.state.error = e.to_string();
            let _ = rec.save(&dir);
            return Err(e);
        }
        let cfg = record::monitor_config(
            self,
            &rec,
            &dir,
            rec.info.host_config.restart_policy.policy(),
        );
        if let Err(e) = super::attach_networks(self, &rec, &dir) {
            let _ = rootfs::unmount(&dir);
            return Err(e);
        }
        let handle = match monitor::start(&cfg) {
            Ok(h) => h,
            Err(e) => {
                let _ = self.networks().detach(id);
                let _ = rootfs::unmount(&dir);
                let e = map_spawn_error(e, rec.name(), &rec.info.path);
                rec.info.state.error = e.to_string();
                let _ = rec.save(&dir);
                return Err(e);
            }
        };
        record_running(&mut rec, handle.container_pid);
        rec.detached = true;
        rec.standby = false;
        rec.owner = self.owner();
        if let Err(e) = rec.save(&dir) {
            // Not recorded as running: it must not run unrecorded.
            let _ = monitor::request_stop(record::exit_path(&dir));
            let _ = self.runtime().kill(id, libc::SIGKILL, true);
            return Err(e);
        }
        super::events::container(self.root(), &rec, "start", &[]);
        Ok(())
    }
}

impl Container {
    /// Starts it (`docker start`): a container made by
    /// [`ContainerBuilder::create`](super::ContainerBuilder::create), or one that has
    /// exited, which then runs again with the same upper layer, volumes and settings. It
    /// runs detached, through a monitor (this program re-executed: `cargohold::init()` must
    /// be called at the top of `main`), with its output appended to its log, and its
    /// restart policy applies.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when it runs (or is being set up by its owner);
    /// [`Error::ContainerNotFound`] once removed; [`Error::Command`] (exit code 127 or 126)
    /// when its command is not in its file system; the failure of its start (as
    /// [`ContainerBuilder::spawn`](super::ContainerBuilder::spawn) reports it), which is
    /// also recorded in its state's `Error`. A failed start leaves it as it was.
    pub fn start(&self) -> Result<()> {
        self.store.start_container(self.id())
    }
}
