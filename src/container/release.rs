//! Release: after a container's init has exited (reaped by its owner, or recorded by its
//! monitor), free its runtime container, networks and overlay, record the exit, and remove
//! it when it was made with `auto_remove`.

use super::monitor::ExitRecord;
use super::record::Record;
use super::store::ContainerStore;
use super::{exit_status, rootfs, ExitStatus, State, Status};
use crate::store::now_rfc3339;
use crate::{Error, Result};

impl ContainerStore {
    /// After the init was reaped: free the runtime container and the overlay, record the
    /// exit, and remove the container if it was made with `auto_remove`.
    pub(crate) fn release_exited(&self, id: &str, status: Option<ExitStatus>) -> Result<()> {
        let dir = self.dir(id);
        let deleted = match self.runtime().delete(id, true) {
            Err(Error::ContainerNotFound { .. }) => Ok(()),
            r => r,
        };
        let deleted = deleted.and(self.networks().detach(id));
        let unmounted = rootfs::unmount(&dir);
        let Ok(mut rec) = Record::load(&dir) else {
            // removed meanwhile (a forced remove): nothing to record
            return deleted.and(unmounted);
        };
        let st = &mut rec.info.state;
        st.status = Status::Exited;
        st.running = false;
        st.paused = false;
        st.pid = 0;
        st.finished_at = now_rfc3339();
        match status {
            Some(s) => {
                st.exit_code = s.docker_code();
                st.oom_killed = s.oom_killed();
            }
            None => {
                st.exit_code = 255;
                st.error = "the program attached to the container exited".to_owned();
            }
        }
        if rec.info.host_config.auto_remove {
            deleted?;
            unmounted?;
            return self.remove_dir(&rec);
        }
        let saved = rec.save(&dir);
        deleted.and(unmounted).and(saved)
    }

    /// After the monitor of a detached container recorded its exit (`None`: the monitor
    /// died without recording it): free the runtime container and the overlay, record the
    /// exit as the monitor saw it, and remove the container if it was made with
    /// `auto_remove`.
    pub(crate) fn release_exited_detached(
        &self,
        id: &str,
        exit: Option<&ExitRecord>,
    ) -> Result<()> {
        let dir = self.dir(id);
        let deleted = match self.runtime().delete(id, true) {
            Err(Error::ContainerNotFound { .. }) => Ok(()),
            r => r,
        };
        let deleted = deleted.and(self.networks().detach(id));
        let unmounted = rootfs::unmount(&dir);
        let Ok(mut rec) = Record::load(&dir) else {
            return deleted.and(unmounted);
        };
        exited_detached(&mut rec.info.state, exit);
        if rec.info.host_config.auto_remove {
            deleted?;
            unmounted?;
            return self.remove_dir(&rec);
        }
        let saved = rec.save(&dir);
        deleted.and(unmounted).and(saved)
    }
}

/// Fills in the state of a detached container that has exited, from its monitor's record
/// (`None`: the monitor died before recording it).
pub(super) fn exited_detached(st: &mut State, exit: Option<&ExitRecord>) {
    st.status = Status::Exited;
    st.running = false;
    st.paused = false;
    st.pid = 0;
    st.exit_code = exit_status(exit).docker_code();
    match exit {
        Some(r) => {
            st.oom_killed = r.oom_killed;
            if !r.started_at.is_empty() {
                st.started_at = r.started_at.clone();
            }
            st.finished_at = r.finished_at.clone();
        }
        None => {
            st.finished_at = now_rfc3339();
            st.error = "the monitor of the container died before recording its exit".to_owned();
        }
    }
}
