//! How a container's process ended.

use std::fmt;
use std::os::unix::process::ExitStatusExt;

/// How a container's process ended: [`std::process::ExitStatus`] plus whether the kernel's
/// OOM killer killed a process of the container.
///
/// [`Runtime::run`](super::Runtime::run) and [`Container::wait`](super::Container::wait)
/// return it, and so do the engine's containers
/// ([`RunningContainer::wait`](crate::RunningContainer::wait)): one type from the
/// runtime up.
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use cargohold::runtime::ExitStatus;
///
/// let killed = ExitStatus::from(std::process::ExitStatus::from_raw(libc::SIGKILL));
/// assert_eq!((killed.code(), killed.signal()), (None, Some(9)));
/// assert_eq!(killed.docker_code(), 137);
/// let exited = ExitStatus::from(std::process::ExitStatus::from_raw(3 << 8));
/// assert_eq!((exited.code(), exited.success()), (Some(3), false));
/// assert_eq!(exited.to_string(), "exit status: 3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus {
    status: std::process::ExitStatus,
    oom_killed: bool,
}

impl ExitStatus {
    /// A status from std's and the OOM flag.
    pub(crate) fn new(status: std::process::ExitStatus, oom_killed: bool) -> Self {
        ExitStatus { status, oom_killed }
    }

    /// Exited with code 0 (see [`std::process::ExitStatus::success`]).
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The signal that killed it.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// The OOM killer killed a process of the container (Docker's `OOMKilled`). Always
    /// `false` for a process started by [`Runtime::exec`](super::Runtime::exec): the count
    /// is the container's, not the process's.
    pub fn oom_killed(&self) -> bool {
        self.oom_killed
    }

    /// The code as Docker (and a shell) reports it: the exit code, or 128 + the signal.
    pub fn docker_code(&self) -> i32 {
        self.code()
            .unwrap_or_else(|| 128 + self.signal().unwrap_or(0))
    }

    /// The std form.
    pub fn as_std(&self) -> std::process::ExitStatus {
        self.status
    }
}

/// A status that says nothing of the OOM killer ([`ExitStatus::oom_killed`] is `false`).
impl From<std::process::ExitStatus> for ExitStatus {
    fn from(status: std::process::ExitStatus) -> Self {
        ExitStatus::new(status, false)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.status.fmt(f)?;
        if self.oom_killed {
            f.write_str(" (OOM killed)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_signals_and_oom() {
        let raw = |r| std::process::ExitStatus::from_raw(r);
        let s = ExitStatus::new(raw(libc::SIGKILL), true);
        assert_eq!(
            (s.code(), s.signal(), s.oom_killed()),
            (None, Some(9), true)
        );
        assert_eq!(s.docker_code(), 137);
        assert_eq!(s.to_string(), "signal: 9 (SIGKILL) (OOM killed)");
        assert_eq!(s.as_std(), raw(libc::SIGKILL));
        let ok = ExitStatus::from(raw(0));
        assert!(ok.success() && !ok.oom_killed());
        assert_eq!(
            (ok.docker_code(), ok.to_string().as_str()),
            (0, "exit status: 0")
        );
    }
}
