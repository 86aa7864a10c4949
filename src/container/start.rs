//! Start: run a created or exited container again, detached through a monitor
//! (`docker start`).

use std::io;
use std::path::PathBuf;

use super::monitor::{self, MonitorStatus};
use super::record::{self, Record};
use super::store::ContainerStore;
use super::{rootfs, Container, Status};
use crate::store::now_rfc3339;
use crate::{Error, Result};

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
        match self.monitor_status(&rec) {
            Some(MonitorStatus::Exited(r)) => {
                self.release_exited_detached(id, Some(&r))?;
                rec = load()?;
            }
            Some(MonitorStatus::ExitedUnknown) => {
                self.release_exited_detached(id, None)?;
                rec = load()?;
            }
            _ => {}
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
        let lower: Vec<PathBuf> = rec
            .info
            .graph_driver
            .data
            .get("LowerDir")
            .map(|l| l.split(':').map(PathBuf::from).collect())
            .unwrap_or_default();
        rootfs::mount(&dir, &lower, rec.info.host_config.auto_remove)?;
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
                let e = super::map_spawn_error(e, rec.name(), &rec.info.path);
                rec.info.state.error = e.to_string();
                let _ = rec.save(&dir);
                return Err(e);
            }
        };
        let st = &mut rec.info.state;
        st.status = Status::Running;
        st.running = true;
        st.paused = false;
        st.dead = false;
        st.oom_killed = false;
        st.pid = handle.container_pid;
        st.exit_code = 0;
        st.error.clear();
        st.started_at = now_rfc3339();
        rec.detached = true;
        rec.standby = false;
        rec.owner = self.owner();
        if let Err(e) = rec.save(&dir) {
            // Not recorded as running: it must not run unrecorded.
            let _ = monitor::request_stop(record::exit_path(&dir));
            let _ = self.runtime().kill(id, libc::SIGKILL, true);
            return Err(e);
        }
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
    /// [`Error::ContainerNotFound`] once removed; the failure of its start (as
    /// [`ContainerBuilder::spawn`](super::ContainerBuilder::spawn) reports it), which is
    /// also recorded in its state's `Error`. A failed start leaves it as it was.
    pub fn start(&self) -> Result<()> {
        self.store.start_container(self.id())
    }
}
