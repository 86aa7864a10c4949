//! An [`Error`] on the wire: what the monitor and the rootless store helper (processes of
//! their own) send back to the program that started them, as JSON. The variants a caller
//! matches on keep their form; any other is carried as its message with its causes.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Error;

/// Declares [`WireError`] with a variant of the same name and fields for each listed
/// [`Error`] variant (each field in its wire type, converted by [`Wire`]) and `Other`, and
/// its conversions from and back into an [`Error`].
macro_rules! wire_errors {
    ($($variant:ident { $($field:ident: $ty:ty),* },)*) => {
        /// An [`Error`] in a form that serialises (see the module docs).
        #[derive(Debug, Serialize, Deserialize)]
        pub(crate) enum WireError {
            $($variant { $($field: $ty),* },)*
            Other { message: String },
        }

        impl WireError {
            pub(crate) fn from_error(e: &Error) -> WireError {
                match e {
                    $(Error::$variant { $($field),* } => WireError::$variant {
                        $($field: Wire::to_wire($field)),*
                    },)*
                    other => WireError::Other { message: chain(other) },
                }
            }

            /// The error again; `other` makes one of a message without a wire form of its
            /// own.
            pub(crate) fn into_error(self, other: impl FnOnce(String) -> Error) -> Error {
                match self {
                    $(WireError::$variant { $($field),* } => Error::$variant {
                        $($field: Wire::from_wire($field)),*
                    },)*
                    WireError::Other { message } => other(message),
                }
            }
        }
    };
}

wire_errors! {
    Spawn { stage: String, source: WireIo },
    Os { op: String, path: PathBuf, source: WireIo },
    Cgroup { op: String, path: PathBuf, source: WireIo },
    InvalidSpec { field: String, reason: String },
    ContainerExists { id: String },
    ContainerNotFound { id: String },
    Unsupported { what: String, reason: String },
    Unpack { digest: String, entry: PathBuf, source: WireIo },
    UnsafeLayerEntry { digest: String, entry: PathBuf, reason: String },
    InvalidImage { subject: String, reason: String },
    BuildContext { subject: String, reason: String },
    InvalidBuild { subject: String, reason: String },
    Io { op: String, source: WireIo },
}

/// A field of an [`Error`] variant and its form on the wire (`W`).
trait Wire<W> {
    fn to_wire(&self) -> W;
    fn from_wire(w: W) -> Self;
}

/// A field that travels as it is (a name, a path).
impl<T: Clone> Wire<T> for T {
    fn to_wire(&self) -> T {
        self.clone()
    }
    fn from_wire(w: T) -> T {
        w
    }
}

impl Wire<WireIo> for io::Error {
    fn to_wire(&self) -> WireIo {
        self.into()
    }
    fn from_wire(w: WireIo) -> io::Error {
        w.into()
    }
}

/// An unsafe layer entry's reason, one of a fixed set.
impl Wire<String> for &'static str {
    fn to_wire(&self) -> String {
        (*self).to_owned()
    }
    fn from_wire(w: String) -> &'static str {
        crate::image::unsafe_reason(&w)
    }
}

/// The error's message with its causes: the whole chain.
fn chain(e: &Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
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
        for (e, want) in [
            (
                Error::BuildContext {
                    subject: "source \"/app/f\"".into(),
                    reason: "not found in the stage's root file system".into(),
                },
                "build context: source \"/app/f\": not found in the stage's root file system",
            ),
            (
                Error::InvalidBuild {
                    subject: "--chown=app".into(),
                    reason: "no user \"app\" in /etc/passwd".into(),
                },
                "build: --chown=app: no user \"app\" in /etc/passwd",
            ),
        ] {
            let back = round_trip(&e);
            let same_kind = std::mem::discriminant(&back) == std::mem::discriminant(&e);
            assert!(same_kind, "{back:?}");
            assert_eq!(back.to_string(), want);
        }
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
