//! Images: references, the [`Images`] handle over the engine's image store, layers,
//! archives and registries.
//!
//! The on-disk side (blobs, index, unpacked layers, locks) lives in `crate::store`; this
//! module holds what acts on images: parsing [`Reference`]s, creating images from a
//! directory or a tarball, tag/list/inspect/remove/prune, unpacking layers with the OCI
//! rules into overlay lower dirs or a flattened rootfs, docker-archive and OCI archive
//! save/load, and pull/push (`registry`). Users reach all of it through
//! [`Engine::images`](crate::Engine::images) and [`Engine::pull`](crate::Engine::pull).

mod archive;
mod images;
pub(crate) mod layer;
mod load;
mod local;
mod reference;
pub(crate) mod registry;
mod rootfs;
mod snapshot;
pub(crate) mod unpack;

pub use images::Images;
pub use local::{HistoryEntry, Image};
pub use reference::Reference;
pub(crate) use snapshot::UNTAGGED;
pub(crate) use unpack::unsafe_reason;
