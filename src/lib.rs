//! # cargohold
//!
//! The whole container lifecycle, embedded in a Rust program: what Docker does from a
//! daemon, as a library.
//!
//! The everyday types, and how data flows between them:
//! - an [`Image`] sits in the [`store`] of an [`Engine`] (imported, loaded or pulled);
//! - [`Engine::container`] turns it into a [`ContainerBuilder`], shaped like
//!   [`std::process::Command`]: its layers become an overlay root, its config a runtime
//!   spec by Docker's rules;
//! - [`ContainerBuilder::spawn`] starts it and hands back a [`RunningContainer`] (like
//!   [`std::process::Child`]), or [`output`](ContainerBuilder::output) /
//!   [`status`](ContainerBuilder::status) run it to completion;
//! - the persisted [`Container`] record (`docker ps -a`, `docker inspect`, `docker rm`)
//!   outlives the process, found through [`Engine::containers`].
//!
//! ```no_run
//! use cargohold::{Engine, Stdio};
//! use std::time::Duration;
//!
//! # fn main() -> cargohold::Result<()> {
//! let engine = Engine::open("/var/lib/cargohold")?;
//! let image = engine.image("busybox:latest")?;
//! let out = engine
//!     .container(&image)
//!     .args(["sh", "-c", "echo hello from $HOSTNAME"])
//!     .env("MODE", "test")
//!     .memory_limit(64 << 20)
//!     .auto_remove(true)
//!     .output()?;
//! assert!(out.status.success());
//!
//! let mut web = engine.container(&image).name("web").args(["sleep", "60"]).spawn()?;
//! web.stop(Duration::from_secs(10))?;
//! engine.containers().get("web")?.remove(false)?;
//! # Ok(()) }
//! ```
//!
//! Below the engine, the [`runtime`] layer runs an OCI bundle the way runc does, and [`sys`]
//! holds the kernel primitives under it, for writers of runtimes:
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

pub mod container;
mod engine;
mod error;
pub mod image;
mod network;
pub mod runtime;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;
mod volume;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

pub use container::Containers;
pub use container::SeccompProfile;
pub use container::{
    Container, ContainerBuilder, ExecBuilder, ExitStatus, Output, RunningContainer, Stdio,
};
pub use engine::Engine;
pub use error::{Error, Result};
pub use image::{Image, Reference};
pub use network::{
    Driver, EndpointConfig, EndpointInfo, InspectEndpoint, Ipam, IpamConfig, Network,
    NetworkBuilder, NetworkInspect, NetworkMode, NetworkStore, PortBinding, Protocol, Sandbox,
    SandboxConfig, Subnet, DEFAULT_NETWORK,
};
pub use oci_spec;
pub use volume::{
    Mount, MountType, Propagation, Pruned, Volume, VolumeInspect, VolumeStore, ANONYMOUS_LABEL,
};

pub use container::logs::{LogEntry, LogOptions, LogStream, Logs};
pub use container::monitor::RestartPolicy;
pub use container::{Stats, Top, WaitFor};

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
