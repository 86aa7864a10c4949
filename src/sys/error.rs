//! The error type of the `sys` layer.

use std::io;
use std::path::PathBuf;

/// What went wrong in a `sys` call that has more to say than an [`io::Error`]: the
/// operation, the path it was done on and the OS error as the
/// [`source`](std::error::Error::source).
///
/// `cargohold::Error` converts from it (`?` works in code returning `cargohold::Result`),
/// keeping the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A cgroupfs operation (mkdir, write of a control file, read, rmdir) failed.
    #[error("cgroup {op} at {}", path.display())]
    Cgroup {
        /// What was being done ("setting memory.limit_in_bytes to \"1024\"", "creating").
        op: String,
        /// The cgroup directory or control file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A cgroup path (the runtime spec's `linux.cgroupsPath` syntax) is not acceptable.
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidCgroupPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A seccomp program is not acceptable to the kernel (too long, empty).
    #[error("seccomp: {reason}")]
    Seccomp {
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with the `sys` [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;
