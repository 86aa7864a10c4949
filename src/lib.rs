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
pub mod runtime;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;

pub use container::{
    Container, ContainerBuilder, ExecBuilder, ExitStatus, Output, RunningContainer, Stdio,
};
pub use engine::{Containers, Engine};
pub use error::{Error, Result};
pub use image::{Image, Reference};
pub use oci_spec;
