//! Images: references, unpacking layers, archives and registries.
//!
//! The on-disk side (blobs, index, unpacked layers) lives in [`crate::store`]; this module
//! holds what acts on images: parsing [`Reference`]s, applying layer tars
//! ([`unpack`]), reading and writing archives, talking to registries.

mod archive;
mod local;
mod reference;
pub mod registry;
pub(crate) mod unpack;

pub use local::Image;
pub use reference::Reference;
