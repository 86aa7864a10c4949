//! An [`Error`] on the wire: what the monitor and the rootless store helper (processes of
//! their own) send back to the program that started them, as JSON. The variants a caller
//! matches on keep their form; any other is carried as its message with its causes.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Error;

/// An [`Error`] in a form that serialises (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireError {
    Spawn {
        stage: String,
        source: WireIo,
    },
    Os {
        op: String,
        path: PathBuf,
        source: WireIo,
    },
    Cgroup {
        op: String,
        path: PathBuf,
        source: WireIo,
    },
    InvalidSpec {
        field: String,
        reason: String,
    },
    ContainerExists {
        id: String,
    },
    ContainerNotFound {
        id: String,
    },
    Unsupported {
        what: String,
        reason: String,
    },
    Unpack {
        digest: String,
        entry: PathBuf,
        source: WireIo,
    },
    UnsafeLayerEntry {
        digest: String,
        entry: PathBuf,
        reason: String,
    },
    InvalidImage {
        subject: String,
        reason: String,
    },
    BuildContext {
        subject: String,
        reason: String,
    },
    InvalidBuild {
        subject: String,
        reason: String,
    },
    Io {
        op: String,
        source: WireIo,
    },
    Other {
        message: String,
    },
}

/// An [`io::Error`] on the wire: the OS error number, else the message.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireIo {
    errno: Option<i32>,
    message: String,
}

impl From<&io::Error> for WireIo {
    fn from(e: &io::Error) -> WireIo {
        WireIo {
            errno: e.raw_os_error(),
            message: e.to_string(),
        }
    }
}

impl From<WireIo> for io::Error {
    fn from(w: WireIo) -> io::Error {
        match w.errno {
            Some(n) => io::Error::from_raw_os_error(n),
            None => io::Error::other(w.message),
        }
    }
}

impl WireError {
    pub(crate) fn from_error(e: &Error) -> WireError {
        match e {
            Error::Spawn { stage, source } => WireError::Spawn {
                stage: stage.clone(),
                source: source.into(),
            },
            Error::Os { op, path, source } => WireError::Os {
                op: op.clone(),
                path: path.clone(),
                source: source.into(),
            },
            Error::Cgroup { op, path, source } => WireError::Cgroup {
                op: op.clone(),
                path: path.clone(),
                source: source.into(),
            },
            Error::InvalidSpec { field, reason } => WireError::InvalidSpec {
                field: field.clone(),
                reason: reason.clone(),
            },
            Error::ContainerExists { id } => WireError::ContainerExists { id: id.clone() },
            Error::ContainerNotFound { id } => WireError::ContainerNotFound { id: id.clone() },
            Error::Unsupported { what, reason } => WireError::Unsupported {
                what: what.clone(),
                reason: reason.clone(),
            },
            Error::Unpack {
                digest,
                entry,
                source,
            } => WireError::Unpack {
                digest: digest.clone(),
                entry: entry.clone(),
                source: source.into(),
            },
            Error::UnsafeLayerEntry {
                digest,
                entry,
                reason,
            } => WireError::UnsafeLayerEntry {
                digest: digest.clone(),
                entry: entry.clone(),
                reason: (*reason).to_owned(),
            },
            Error::InvalidImage { subject, reason } => WireError::InvalidImage {
                subject: subject.clone(),
                reason: reason.clone(),
            },
            Error::BuildContext { subject, reason } => WireError::BuildContext {
                subject: subject.clone(),
                reason: reason.clone(),
            },
            Error::InvalidBuild { subject, reason } => WireError::InvalidBuild {
                subject: subject.clone(),
                reason: reason.clone(),
            },
            Error::Io { op, source } => WireError::Io {
                op: op.clone(),
                source: source.into(),
            },
            other => {
                // The whole chain: the variant has no wire form of its own.
                let mut message = other.to_string();
                let mut source = std::error::Error::source(other);
                while let Some(s) = source {
                    message.push_str(": ");
                    message.push_str(&s.to_string());
                    source = s.source();
                }
                WireError::Other { message }
            }
        }
    }

    /// The error again; `other` makes one of a message without a wire form of its own.
    pub(crate) fn into_error(self, other: impl FnOnce(String) -> Error) -> Error {
        match self {
            WireError::Spawn { stage, source } => Error::Spawn {
                stage,
                source: source.into(),
            },
            WireError::Os { op, path, source } => Error::Os {
                op,
                path,
                source: source.into(),
            },
            WireError::Cgroup { op, path, source } => Error::Cgroup {
                op,
                path,
                source: source.into(),
            },
            WireError::InvalidSpec { field, reason } => Error::InvalidSpec { field, reason },
            WireError::ContainerExists { id } => Error::ContainerExists { id },
            WireError::ContainerNotFound { id } => Error::ContainerNotFound { id },
            WireError::Unsupported { what, reason } => Error::Unsupported { what, reason },
            WireError::Unpack {
                digest,
                entry,
                source,
            } => Error::Unpack {
                digest,
                entry,
                source: source.into(),
            },
            WireError::UnsafeLayerEntry {
                digest,
                entry,
                reason,
            } => Error::UnsafeLayerEntry {
                digest,
                entry,
                reason: crate::image::unsafe_reason(&reason),
            },
            WireError::InvalidImage { subject, reason } => Error::InvalidImage { subject, reason },
            WireError::BuildContext { subject, reason } => Error::BuildContext { subject, reason },
            WireError::InvalidBuild { subject, reason } => Error::InvalidBuild { subject, reason },
            WireError::Io { op, source } => Error::Io {
                op,
                source: source.into(),
            },
            WireError::Other { message } => other(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `e` sent over the wire and read back.
    fn round_trip(e: &Error) -> Error {
        let json = serde_json::to_string(&WireError::from_error(e)).unwrap();
        serde_json::from_str::<WireError>(&json)
            .unwrap()
            .into_error(|m| panic!("{m:?} came back without its kind"))
    }

    #[test]
    fn build_errors_keep_their_kind_and_subject() {
        let e = round_trip(&Error::BuildContext {
            subject: "source \"/app/f\"".into(),
            reason: "not found in the stage's root file system".into(),
        });
        assert!(matches!(e, Error::BuildContext { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "build context: source \"/app/f\": not found in the stage's root file system"
        );
        let e = round_trip(&Error::InvalidBuild {
            subject: "--chown=app".into(),
            reason: "no user \"app\" in /etc/passwd".into(),
        });
        assert!(matches!(e, Error::InvalidBuild { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "build: --chown=app: no user \"app\" in /etc/passwd"
        );
        let e = round_trip(&Error::os(
            "reading stage directory",
            "/app",
            io::Error::from_raw_os_error(libc::EACCES),
        ));
        assert_eq!(
            format!("{e:?}"),
            "reading stage directory /app: Permission denied (os error 13)"
        );
        let e = round_trip(&Error::Io {
            op: "writing the layer entries".into(),
            source: io::Error::from_raw_os_error(libc::EPIPE),
        });
        assert!(
            matches!(&e, Error::Io { source, .. } if source.raw_os_error() == Some(libc::EPIPE)),
            "{e:?}"
        );
    }
}
