//! Images made step by step, as a Dockerfile build makes them: each step's result is an
//! image written as blobs (config and manifest) without an entry in the index, so
//! `docker images` does not list it; a container can still run on it (it is held by its
//! manifest digest, as `untagged@sha256:…`); a *weak* hold (a build cache entry) keeps
//! its blobs and unpacked layers from garbage collection without stopping `rmi` of an
//! image that shares them. The last step's image is indexed: tagged, or untagged
//! (dangling) when the build has no tag.

use std::fs;
use std::io;

use oci_spec::image::{Descriptor, Digest, ImageManifestBuilder, MediaType};

use super::layer::NewLayer;
use super::local::{desc, Hold};
use super::{Image, Images, Reference};
use crate::store;
use crate::{Error, Result};

/// The repository name of the reference an image without a tag is held by
/// (`untagged@sha256:<manifest digest>`): [`Images::find`] resolves it by the manifest
/// blob alone.
pub(crate) const UNTAGGED: &str = "untagged";

impl<'e> Images<'e> {
    /// Writes `config` (an image config blob: Docker's extensions such as `Healthcheck`
    /// are kept as they are) and a manifest of `layers` as blobs and returns the image;
    /// the index is not touched. The config's `rootfs.diff_ids` must list the layers'
    /// diff ids.
    ///
    /// # Errors
    /// [`Error::Blob`] if a blob cannot be written, [`Error::InvalidImage`] if the
    /// manifest cannot be built.
    pub(crate) fn put_image(&self, config: &[u8], layers: Vec<Descriptor>) -> Result<Image> {
        let config_desc = desc(MediaType::ImageConfig, self.store.put_blob(config, None)?);
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(config_desc)
            .layers(layers)
            .build()
            .map_err(|e| Error::InvalidImage {
                subject: "image of a build step".into(),
                reason: e.to_string(),
            })?;
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
        let manifest_desc = desc(
            MediaType::ImageManifest,
            self.store.put_blob(&manifest_bytes, None)?,
        );
        self.load_image(&manifest_desc)
    }

    /// The descriptor of a layer just written, for [`Self::put_image`], and its diff id.
    pub(crate) fn new_layer_parts(layer: &NewLayer) -> (Descriptor, Digest) {
        (layer.desc.clone(), layer.diff_id.clone())
    }

    /// Puts `image` in the index under each of `tags`, or untagged (dangling) when there
    /// are none; returns it as the store now reads it (with its references).
    ///
    /// # Errors
    /// An index error.
    pub(crate) fn index_image(&self, image: &Image, tags: &[Reference]) -> Result<Image> {
        let path = self.store.blob_path(image.manifest_digest());
        let size = fs::metadata(&path)
            .map_err(|e| Error::os("reading manifest", &path, e))?
            .len();
        let manifest = Descriptor::new(
            MediaType::ImageManifest,
            size,
            image.manifest_digest().clone(),
        );
        if tags.is_empty() {
            self.store.update_index(|m| {
                if !m.iter().any(|e| e.digest() == manifest.digest()) {
                    m.push(manifest.clone());
                }
                Ok(())
            })?;
            let mut img = image.clone();
            img.references = Vec::new();
            return Ok(img);
        }
        for t in tags {
            self.store.set_ref(&t.to_string(), &manifest)?;
            let id = image.id().as_ref();
            crate::container::events::image(self.store, "tag", id, &t.to_string());
        }
        self.inspect(&tags[0])
    }

    /// Records the weak hold `owner` on `image`: garbage collection keeps its blobs and
    /// layers, [`Self::remove`] ignores it. Replaces an earlier hold of `owner`.
    ///
    /// # Errors
    /// [`Error::InvalidId`] for a bad owner, [`Error::Os`] if it cannot be written.
    pub(crate) fn keep(&self, owner: &str, image: &Image) -> Result<()> {
        super::local::check_owner(owner)?;
        let hold = Hold {
            reference: format!("{UNTAGGED}@{}", image.manifest_digest()),
            manifest: image.manifest_digest().clone(),
            weak: true,
        };
        let json = serde_json::to_vec(&hold).expect("hold serialises");
        store::write_atomic(&self.store.holds_dir().join(format!("{owner}.json")), &json)
    }

    /// The image `owner` keeps (weakly or not), if any and its blobs are all there.
    pub(crate) fn kept(&self, owner: &str) -> Option<Image> {
        let img = self.held_image(owner).ok()?;
        let all_there = img
            .manifest()
            .layers()
            .iter()
            .chain(std::iter::once(img.manifest().config()))
            .all(|d| self.store.has_blob(d.digest()));
        all_there.then_some(img)
    }

    /// Drops every hold whose owner starts with `prefix`; returns how many.
    ///
    /// # Errors
    /// [`Error::Os`] if the holds cannot be read or one cannot be removed.
    pub(crate) fn release_all(&self, prefix: &str) -> Result<usize> {
        let dir = self.store.holds_dir();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::os("reading holds", &dir, e)),
        };
        let mut n = 0;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && name.ends_with(".json") {
                let p = e.path();
                fs::remove_file(&p).map_err(|e| Error::os("removing hold", &p, e))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes what no image, container or kept build step uses (as [`Self::prune`]
    /// does, without dropping dangling images); returns the bytes freed.
    ///
    /// # Errors
    /// As [`Self::prune`].
    pub(crate) fn collect_garbage(&self) -> Result<u64> {
        self.gc()
    }
}
