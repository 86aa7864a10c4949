//! Integration tests: one binary. Root-only tests are `#[ignore = "requires root"]`;
//! run everything with `cargo test -- --include-ignored`.
//!
//! Modules:
//! - `image_interop`: our store read by skopeo and umoci, their archives read by us
//! - `image_overlay`: multi-layer images, whiteouts through overlayfs, umoci-made images
//! - `image_registry`: push and pull against a local `docker-registry`

mod image_interop;
mod image_overlay;
mod image_registry;
