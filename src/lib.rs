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

pub mod container;
mod engine;
mod error;
pub mod image;
pub mod runtime;
pub mod store;
#[allow(unsafe_code)]
pub mod sys;

pub use container::{Container, ContainerBuilder, ExitStatus, Output, RunningContainer, Stdio};
pub use engine::{Containers, Engine};
pub use error::{Error, Result};
pub use image::{Image, Reference};
pub use oci_spec;
