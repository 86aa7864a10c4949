//! Images: references, the local images of a [`Store`](crate::store::Store), layers,
//! archives and registries.
//!
//! The on-disk side (blobs, index, unpacked layers, locks) lives in [`crate::store`]; this
//! module holds what acts on images: parsing [`Reference`]s, creating images from a
//! directory or a tarball, tag/list/inspect/remove/prune, unpacking layers with the OCI
//! rules into overlay lower dirs or a flattened rootfs, docker-archive and OCI archive
//! save/load, and pull/push ([`registry`]).
//!
//! ```no_run
//! use cargohold::image::registry::{self, PullOptions};
//! use cargohold::store::Store;
//!
//! # fn main() -> cargohold::Result<()> {
//! let store = Store::open("/var/lib/cargohold")?;
//! let busybox = "busybox".parse()?; // docker.io/library/busybox:latest
//! registry::pull(&store, &busybox, &PullOptions::new(), &|p| eprintln!("{p:?}"))?;
//! let lower_dirs = store.rootfs_layers(&busybox)?; // base layer first
//! # Ok(()) }
//! ```

mod archive;
pub(crate) mod layer;
mod local;
mod reference;
pub mod registry;
pub(crate) mod unpack;

pub use local::Image;
pub use reference::Reference;
