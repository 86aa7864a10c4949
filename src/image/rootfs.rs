//! Images as root filesystems: their layers unpacked once per chain id (the overlay lower
//! dirs of containers), a flattened copy, and the size `docker images` shows.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;

use super::unpack::{self, UnpackOptions};
use super::{Image, Images, Reference};
use crate::store::{chain_ids, HashingReader, LayerMeta};
use crate::{Error, Result};

impl<'e> Images<'e> {
    /// The unpacked layer directories of `reference`, **base layer first**, unpacking those
    /// not yet unpacked. Each holds overlayfs whiteouts; mount them read-only as lower dirs
    /// (overlayfs wants the top layer first in `lowerdir=`, so reverse them). For writers
    /// of runtimes and bundles; containers of the engine get theirs by themselves.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], or the error of unpacking a layer (its digest named).
    pub fn rootfs_layers(&self, reference: &Reference) -> Result<Vec<PathBuf>> {
        let img = self.inspect(reference)?;
        self.layer_dirs(&img, reference)
    }

    /// The unpacked layer directories of `img` (named `subject` in errors), base first,
    /// unpacking those not yet unpacked; see [`Self::rootfs_layers`].
    pub(crate) fn layer_dirs(
        &self,
        img: &Image,
        subject: &dyn std::fmt::Display,
    ) -> Result<Vec<PathBuf>> {
        let diffs = img.diff_ids();
        let layers = img.manifest().layers();
        if diffs.len() != layers.len() {
            return Err(Error::InvalidImage {
                subject: subject.to_string(),
                reason: "config diff_ids and manifest layers differ in number".into(),
            });
        }
        let chains = chain_ids(&diffs);
        let mut out = Vec::with_capacity(layers.len());
        for (i, layer) in layers.iter().enumerate() {
            let parent = i.checked_sub(1).map(|p| chains[p].clone());
            out.push(self.unpack_layer(layer.digest(), &diffs[i], &chains[i], parent)?);
        }
        Ok(out)
    }

    /// The size `docker images` shows: bytes of the image's uncompressed layers (as
    /// recorded when they were unpacked; a layer not unpacked yet counts as stored) plus
    /// its config. The same content has the same size however it came in (pulled gzip,
    /// loaded, imported). [`Image::size`] is what a registry transfers instead.
    pub fn size(&self, image: &Image) -> u64 {
        let chains = chain_ids(&image.diff_ids());
        image
            .manifest()
            .layers()
            .iter()
            .zip(chains.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(layer, chain)| {
                chain
                    .and_then(|c| self.store.layer_meta(c))
                    .map(|m| m.size)
                    .filter(|s| *s > 0)
                    .unwrap_or_else(|| layer.size())
            })
            .sum::<u64>()
            + image.manifest().config().size()
    }

    /// Unpacks the blob `blob` as layer `chain_id` unless it already is; checks its diff id.
    pub(crate) fn unpack_layer(
        &self,
        blob: &Digest,
        diff_id: &Digest,
        chain_id: &Digest,
        parent: Option<Digest>,
    ) -> Result<PathBuf> {
        self.store.ensure_layer(chain_id, |dir| {
            let file = self.store.open_blob(blob)?;
            let opts = UnpackOptions::for_layer();
            let size = self.unpack_stream(file, dir, (blob, diff_id), opts, blob.as_ref())?;
            Ok(LayerMeta {
                chain_id: chain_id.clone(),
                diff_id: diff_id.clone(),
                parent,
                blob: Some(blob.clone()),
                opaque_xattr: unpack::opaque_xattr().to_owned(),
                size,
            })
        })
    }

    /// Decompresses and unpacks a blob stream into `dir`, verifying the diff id; returns
    /// the size of the uncompressed tar. `subject` names the layer in errors (its digest,
    /// or more).
    pub(crate) fn unpack_stream(
        &self,
        blob_stream: impl Read,
        dir: &Path,
        (blob, diff_id): (&Digest, &Digest),
        opts: UnpackOptions,
        subject: &str,
    ) -> Result<u64> {
        let io = |e| Error::Blob {
            op: "decompressing".into(),
            digest: blob.to_string(),
            source: e,
        };
        let mut hashing = HashingReader::new(unpack::decompress(blob_stream).map_err(io)?);
        unpack::unpack(&mut hashing, dir, opts, subject)?;
        let (actual, size) = hashing.finish().map_err(io)?;
        if actual != *diff_id {
            return Err(Error::DigestMismatch {
                digest: diff_id.to_string(),
                actual: format!("{actual} (uncompressed layer {subject})"),
            });
        }
        Ok(size)
    }

    /// Applies every layer of `reference` in order into `dest` (created if missing),
    /// whiteouts applied: a flattened rootfs, for runtimes without overlayfs.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], or the error of applying a layer (its digest named).
    pub fn flatten(&self, reference: &Reference, dest: impl AsRef<Path>) -> Result<()> {
        let dest = dest.as_ref();
        fs::create_dir_all(dest).map_err(|e| Error::os("creating rootfs", dest, e))?;
        let img = self.inspect(reference)?;
        let diffs = img.diff_ids();
        for (layer, diff) in img.manifest().layers().iter().zip(&diffs) {
            let file = self.store.open_blob(layer.digest())?;
            let blob = layer.digest();
            self.unpack_stream(
                file,
                dest,
                (blob, diff),
                UnpackOptions::flatten(),
                blob.as_ref(),
            )?;
        }
        Ok(())
    }
}
