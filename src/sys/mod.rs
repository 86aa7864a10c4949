//! Low-level, documented primitives over the kernel, for writers of runtimes.
//!
//! Everything `unsafe` in cargohold lives under this module. Functions here are thin: they
//! take typed arguments, make the system calls and report failures naming the call and the
//! path; policy lives in [`crate::runtime`].

pub mod cgroup;
pub mod file;
pub mod netlink;
pub mod netns;
pub mod overlay;
pub mod process;
pub mod raw;
pub mod sealed;
pub mod seccomp;
pub mod tty;
