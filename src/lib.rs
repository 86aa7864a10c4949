//! # cargohold
//!
//! The whole container lifecycle, embedded in a Rust program: what Docker does from a
//! daemon, as a library. This release holds the foundation: the [`runtime`] layer that runs
//! an OCI bundle the way runc does, and the [`sys`] primitives under it.
//!
//! ```no_run
//! use cargohold::runtime::{Runtime, CreateOptions};
//!
//! # fn main() -> cargohold::Result<()> {
//! let rt = Runtime::open("/run/cargohold")?;
//! // `bundle` holds a config.json (OCI runtime spec) and its rootfs
//! let status = rt.run("hello", "/srv/bundle", &CreateOptions::default())?;
//! println!("exited with {status:?}");
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]

mod container;
mod error;
pub mod image;
pub mod runtime;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;
mod volume;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

pub use error::{Error, Result};
pub use image::{Image, Reference};
pub use oci_spec;
pub use volume::{
    Mount, MountType, Propagation, Pruned, Volume, VolumeInspect, VolumeStore, ANONYMOUS_LABEL,
};

pub use container::logs::{LogEntry, LogOptions, LogStream};

/// The monitor of detached containers, its exit records, and the log reader.
///
/// Not a stable API: the engine drives these; they are exported for the crate's own
/// tests and examples until it does.
#[doc(hidden)]
pub mod __private {
    pub use crate::container::logs;
    pub use crate::container::monitor;
}

/// Hands this process over to cargohold when it was started as one of its helper
/// processes; returns at once (a flag store and one environment lookup) otherwise.
///
/// **Call it first thing in `main`** of any program that starts detached containers,
/// before threads, async runtimes or argument parsing:
///
/// ```no_run
/// fn main() {
///     cargohold::init();
///     // the program proper
/// }
/// ```
///
/// The monitor that keeps a detached container running (logging its output, reaping it,
/// recording its exit) is this very program re-executed (`/proc/self/exe`), as runc's
/// nsexec hooks its own start: a fresh, single-threaded process, so starting it is safe
/// from a multi-threaded host (a forked copy of such a host may not run ordinary code).
/// When the environment variable `CARGOHOLD_MONITOR` is set, `init` runs the monitor
/// and never returns; the variable is removed before anything else runs.
///
/// Starting a detached container from a program that has not called `init` is an error,
/// never a second copy of the program running its `main`.
#[allow(clippy::needless_doctest_main)] // the point is where the call goes
pub fn init() {
    container::monitor::enter();
}
