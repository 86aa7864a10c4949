//! Containers at the engine level. This branch holds the monitor of detached containers
//! and their logs; the builder and handles join them from the `engine` branch.

pub mod logs;
pub mod monitor;
