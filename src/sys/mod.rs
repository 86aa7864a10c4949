//! Low-level, documented primitives over the kernel, for writers of runtimes.
//!
//! Everything `unsafe` in cargohold lives under this module. Functions here are thin: they
//! take typed arguments, make the system calls and report failures naming the call and the
//! path; policy (what the OCI runtime spec asks for, and how it maps to these calls) lives
//! in the runtime layer. This module imports nothing else of the crate: most functions
//! return [`std::io::Result`], the cgroup and seccomp ones the richer [`Error`].

pub mod cgroup;
mod error;
pub mod file;
pub mod netlink;
pub mod netns;
pub mod overlay;
pub mod process;
pub mod raw;
pub mod sealed;
pub mod seccomp;
pub mod tty;

pub use error::{Error, Result};
