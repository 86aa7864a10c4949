//! Remove: delete a container (`docker rm`), killing it first when forced.

use std::time::Duration;

use super::monitor::{self, MonitorStatus};
use super::record::{self, Record};
use super::store::ContainerStore;
use super::{rootfs, Container, Status};
use crate::{Error, Result};

impl ContainerStore {
    pub(super) fn remove_dir(&self, rec: &Record) -> Result<()> {
        let dir = self.dir(&rec.info.id);
        self.networks().detach(&rec.info.id)?;
        rootfs::unmount(&dir)?;
        self.release_name(rec.name(), &rec.info.id);
        // what the container wrote as another user of the image is the rootless
        // helper's to remove (see crate::userns)
        crate::store::remove_any(&dir)?;
        super::events::container(self.root(), rec, "destroy", &[]);
        let released = self.volumes().release_all(&rec.info.id);
        if rec.info.host_config.auto_remove {
            // `--rm` removes the container's anonymous volumes too, as Docker does.
            for name in released.iter().flatten() {
                if self.volumes().get(name).is_ok_and(|v| v.is_anonymous()) {
                    match self.volumes().remove(name, true) {
                        Ok(()) | Err(Error::VolumeInUse { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        released?;
        self.images().release(&rec.info.id)
    }

    /// Removes the container of `rec` (`docker rm [-f]`). Removes of one container, from
    /// any thread or process, go one at a time (the directory's lock, see
    /// [`lock`](ContainerStore::lock)): the first removes it, the others then find it
    /// gone ([`Error::ContainerNotFound`]), and no release records an exit into a directory
    /// being removed.
    pub(crate) fn remove_container(&self, rec: &Record, force: bool) -> Result<()> {
        let id = &rec.info.id;
        let dir = self.dir(id);
        let not_found = || Error::ContainerNotFound {
            id: rec.name().to_owned(),
        };
        let _lock = self.lock(id).map_err(|e| match e {
            Error::ContainerNotFound { .. } => not_found(),
            e => e,
        })?;
        let rec = Record::load(&dir).map_err(|_| not_found())?;
        let state = self.live_state(&rec);
        let busy = match state.status {
            Status::Running | Status::Paused => true,
            // `docker rm` takes a created container without `-f`; one being set up by
            // its owner is busy.
            Status::Created => !rec.standby,
            _ => false,
        };
        if busy && !force {
            return Err(Error::InvalidState {
                id: rec.name().to_owned(),
                op: "remove",
                status: state.status.to_string(),
            });
        }
        self.kill_monitored(&rec)?;
        match self.runtime().delete(id, true) {
            Err(Error::ContainerNotFound { .. }) | Ok(()) => {}
            Err(e) => return Err(e),
        }
        self.remove_dir(&rec)
    }
}

impl ContainerStore {
    /// Kills a detached container through its monitor, if the monitor says it runs: asks
    /// the monitor not to restart it, kills it with SIGKILL and waits (up to 10 s) for the
    /// monitor to record the exit — the monitor must be done with the directory (its log,
    /// exit record and lock are in it) before the directory goes. Any other container is
    /// left alone.
    ///
    /// # Errors
    /// The stop request cannot be written, or the runtime cannot kill it (the kill is
    /// tried either way).
    pub(super) fn kill_monitored(&self, rec: &Record) -> Result<()> {
        let Some(MonitorStatus::Running { monitored, .. }) = self.monitor_status(rec) else {
            return Ok(());
        };
        let exit = record::exit_path(&self.dir(&rec.info.id));
        let stop = monitor::request_stop(&exit);
        let killed = match self.runtime().kill(&rec.info.id, libc::SIGKILL, true) {
            Ok(()) | Err(Error::ContainerNotFound { .. }) | Err(Error::InvalidState { .. }) => {
                Ok(())
            }
            Err(e) => Err(e),
        };
        if monitored && killed.is_ok() {
            let _ = monitor::wait_exit(&exit, Duration::from_secs(10));
        }
        stop.and(killed)
    }
}

impl Container {
    /// Removes the container: its directory, upper layer and hold on the image. A running
    /// (or paused) container is refused unless `force`, which kills it first (`docker rm -f`).
    ///
    /// Removes of one container from several threads or processes at once are safe: they
    /// go one at a time, the first removes it and the others return
    /// [`Error::ContainerNotFound`].
    ///
    /// # Errors
    /// [`Error::InvalidState`] when it runs and `force` is false;
    /// [`Error::ContainerNotFound`] when it was removed meanwhile; the error of a step that
    /// failed (unmounting, deleting the runtime state, removing the directory).
    pub fn remove(self, force: bool) -> Result<()> {
        self.store.remove_container(&self.record, force)
    }
}
