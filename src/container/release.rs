//! Release: after a container's init has exited — reaped by its owner (attached), or
//! recorded by its monitor (detached) — free its runtime container, networks and overlay,
//! record how it ended, and remove it when it was made with `auto_remove`. One path for
//! both; only where the [`Ending`] comes from differs.

use super::monitor::{ExitRecord, MonitorStatus};
use super::record::Record;
use super::store::ContainerStore;
use super::{exit_status, rootfs, ExitStatus, State, Status};
use crate::store::now_rfc3339;
use crate::{Error, Result};

/// How a container's run ended, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ending {
    /// Docker's exit code (128 + signal when killed).
    code: i32,
    /// Whether the OOM killer struck (`None`: unknown, the record's stays).
    oom_killed: Option<bool>,
    /// When the run began, when its monitor knows better than the record.
    started_at: Option<String>,
    finished_at: String,
    /// Why it ended unseen.
    error: Option<&'static str>,
}

impl Ending {
    /// Reaped by its owner, the program attached to it (`None`: the owner vanished first).
    pub(crate) fn reaped(status: Option<ExitStatus>) -> Ending {
        match status {
            Some(s) => Ending::of(s),
            None => Ending::unseen("the program attached to the container exited"),
        }
    }

    /// Recorded by the monitor of a detached container (`None`: the monitor died before
    /// recording it).
    pub(crate) fn monitored(exit: Option<&ExitRecord>) -> Ending {
        match exit {
            Some(r) => Ending {
                started_at: (!r.started_at.is_empty()).then(|| r.started_at.clone()),
                finished_at: r.finished_at.clone(),
                ..Ending::of(exit_status(exit))
            },
            None => Ending::unseen("the monitor of the container died before recording its exit"),
        }
    }

    /// How a detached container ended, from what its monitor says; `None` while it runs.
    pub(crate) fn of_monitor(status: &MonitorStatus) -> Option<Ending> {
        match status {
            MonitorStatus::Running { .. } => None,
            MonitorStatus::Exited(r) => Some(Ending::monitored(Some(r))),
            MonitorStatus::ExitedUnknown => Some(Ending::monitored(None)),
        }
    }

    fn of(s: ExitStatus) -> Ending {
        Ending {
            code: s.docker_code(),
            oom_killed: Some(s.oom_killed()),
            started_at: None,
            finished_at: now_rfc3339(),
            error: None,
        }
    }

    /// Nobody saw it end: code 255, as Docker records a container whose daemon vanished.
    fn unseen(why: &'static str) -> Ending {
        Ending {
            code: 255,
            oom_killed: None,
            started_at: None,
            finished_at: now_rfc3339(),
            error: Some(why),
        }
    }

    /// Writes it into `st`: exited.
    pub(crate) fn record(&self, st: &mut State) {
        st.status = Status::Exited;
        st.running = false;
        st.paused = false;
        st.pid = 0;
        st.exit_code = self.code;
        if let Some(oom) = self.oom_killed {
            st.oom_killed = oom;
        }
        if let Some(t) = &self.started_at {
            st.started_at = t.clone();
        }
        st.finished_at = self.finished_at.clone();
        if let Some(why) = self.error {
            st.error = why.to_owned();
        }
    }
}

impl ContainerStore {
    /// After the init of the container `id` has exited: free the runtime container, the
    /// networks and the overlay, record `end`, and remove the container if it was made
    /// with `auto_remove`.
    ///
    /// # Errors
    /// The first step that failed (every one is tried).
    pub(crate) fn release(&self, id: &str, end: &Ending) -> Result<()> {
        // Under the container's lock, so that a remove elsewhere never finds an exit being
        // recorded into the directory it removes; a directory already gone needs none.
        let _lock = match self.lock(id) {
            Err(Error::ContainerNotFound { .. }) => None,
            r => Some(r?),
        };
        self.release_locked(id, end)
    }

    /// [`release`](Self::release) for a caller holding the container's lock.
    pub(crate) fn release_locked(&self, id: &str, end: &Ending) -> Result<()> {
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
        if !rec.detached && rec.info.state.status != Status::Exited {
            super::events::container(
                self.root(),
                &rec,
                "die",
                &[("exitCode", end.code.to_string())],
            )
        }
        end.record(&mut rec.info.state);
        if rec.info.host_config.auto_remove {
            deleted?;
            unmounted?;
            return self.remove_dir(&rec);
        }
        let saved = rec.save(&dir);
        deleted.and(unmounted).and(saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    /// A monitor's record of an init killed by SIGKILL, the OOM killer at work.
    fn killed() -> ExitRecord {
        serde_json::from_str(
            r#"{"pid": 1, "code": null, "signal": 9, "oom_killed": true, "restarts": 0,
                "started_at": "2024-05-01T12:00:00Z", "finished_at": "2024-05-01T12:00:01Z"}"#,
        )
        .unwrap()
    }

    #[test]
    fn endings_of_both_paths_record_alike() {
        let mut reaped = State::created();
        let status = ExitStatus::new(std::process::ExitStatus::from_raw(libc::SIGKILL), true);
        Ending::reaped(Some(status)).record(&mut reaped);
        let mut monitored = State::created();
        Ending::monitored(Some(&killed())).record(&mut monitored);
        for st in [&reaped, &monitored] {
            assert_eq!(st.status, Status::Exited);
            assert_eq!(
                (st.exit_code, st.oom_killed, st.running),
                (137, true, false)
            );
            assert!(st.error.is_empty());
        }
        assert_eq!(monitored.started_at, "2024-05-01T12:00:00Z");
        assert_eq!(monitored.finished_at, "2024-05-01T12:00:01Z");
        assert_eq!(reaped.started_at, super::super::record::ZERO_TIME);
    }

    #[test]
    fn unseen_endings_are_255_with_a_reason() {
        for end in [Ending::reaped(None), Ending::monitored(None)] {
            let mut st = State::created();
            st.oom_killed = true;
            end.record(&mut st);
            assert_eq!(st.exit_code, 255);
            assert!(st.oom_killed, "an unseen end keeps what was known");
            assert!(!st.error.is_empty());
        }
    }
}
