//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in cargohold.
///
/// Each variant names the operation that failed and the thing it failed on (a path, an id,
/// a field of `config.json`); an OS failure is carried as the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call or file operation failed.
    #[error("{op} {}", path.display())]
    Os {
        /// What was being done ("mounting proc", "opening cgroup.procs").
        op: String,
        /// The path it was done on.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The container's init process failed before it could exec the user's process.
    #[error("container setup failed while {stage}")]
    Spawn {
        /// The step that failed, with the path or value it failed on.
        stage: String,
        /// The errno the step returned.
        #[source]
        source: io::Error,
    },
    /// A field of the runtime spec (`config.json`) is malformed or unsupported.
    #[error("invalid runtime spec: {field}: {reason}")]
    InvalidSpec {
        /// The field, as a JSON path (`linux.namespaces[2].type`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A container id is not acceptable.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A container with this id already exists.
    #[error("container {id:?} already exists")]
    ContainerExists {
        /// The id.
        id: String,
    },
    /// No container with this id exists.
    #[error("container {id:?} does not exist")]
    ContainerNotFound {
        /// The id.
        id: String,
    },
    /// The operation is not allowed in the container's current state.
    #[error("cannot {op} container {id:?}: it is {status}")]
    InvalidState {
        /// The id.
        id: String,
        /// The operation refused ("start", "delete").
        op: &'static str,
        /// The state it is in ("running", "stopped").
        status: String,
    },
    /// A cgroup operation failed.
    #[error("cgroup {op} at {}", path.display())]
    Cgroup {
        /// What was being done ("setting memory.limit_in_bytes").
        op: String,
        /// The cgroup directory or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A seccomp filter could not be built or loaded.
    #[error("seccomp: {reason}")]
    Seccomp {
        /// What is wrong.
        reason: String,
    },
    /// A lifecycle hook failed or timed out.
    #[error("{kind} hook {} failed: {reason}", path.display())]
    Hook {
        /// Which hook list it belongs to ("prestart", "poststop").
        kind: &'static str,
        /// The hook's executable.
        path: PathBuf,
        /// Exit status, signal or timeout.
        reason: String,
    },
    /// The host lacks a feature the spec insists on.
    #[error("{what} is not supported on this host: {reason}")]
    Unsupported {
        /// The feature ("AppArmor profile", "time namespace").
        what: String,
        /// Why.
        reason: String,
    },
}

/// `Result` with [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Os`] from an operation, a path and the OS error.
    pub(crate) fn os(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Os {
            op: op.into(),
            path: path.into(),
            source,
        }
    }

    /// An [`Error::InvalidSpec`] for a field.
    pub(crate) fn spec(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSpec {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
