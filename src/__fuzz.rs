//! Entry points for the fuzz targets in `fuzz/` — NOT a public API.
//!
//! Only built with the `fuzzing` cargo feature, hidden from the docs, and free to change
//! in any release. Each function is a thin wrapper over a crate-private one.

use std::path::Path;

use crate::image::unpack::{self, UnpackOptions, Whiteouts};

/// Decompressed input is cut at this size: a few KiB of zstd can expand to gigabytes,
/// which tells the fuzzer nothing and fills the disk.
pub const MAX_TAR: u64 = 16 << 20;

/// Decompresses `layer` (gzip, zstd or plain, sniffed; at most [`MAX_TAR`] bytes) and
/// unpacks it into `root`: overlay-form whiteouts when `overlay` is set, else applied
/// ones (a flatten).
///
/// # Errors
/// Whatever [`unpack::unpack`] returns for the input.
pub fn unpack_layer(layer: &[u8], root: &Path, overlay: bool) -> crate::Result<()> {
    let opts = if overlay {
        UnpackOptions {
            whiteouts: Whiteouts::Overlay {
                opaque_xattr: unpack::opaque_xattr(),
            },
            ..UnpackOptions::for_layer()
        }
    } else {
        UnpackOptions::flatten()
    };
    let tar = unpack::decompress(layer).map_err(|e| crate::Error::InvalidImage {
        subject: "layer sha256:fuzz".into(),
        reason: format!("decompressing: {e}"),
    })?;
    unpack::unpack(std::io::Read::take(tar, MAX_TAR), root, opts, "sha256:fuzz").map(|_| ())
}
