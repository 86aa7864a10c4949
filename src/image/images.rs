//! [`Images`]: the images of an engine (`docker image ls`, `tag`, `rm`, `save`, `load`…).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::Config;

use super::{Image, Reference};
use crate::store::Store;
use crate::{Error, Result};

/// The images of an [`Engine`](crate::Engine), from [`Engine::images`](crate::Engine::images):
/// list, look up, tag, remove, prune, import, save and load them.
///
/// The store under it is a plain [OCI image layout] (see [`layout_dir`](Self::layout_dir)),
/// which skopeo and umoci read as is; several processes may share it.
///
/// ```no_run
/// use cargohold::{Engine, Reference};
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = Engine::open("/var/lib/cargohold")?;
/// let images = engine.images();
/// let busybox = images.get("busybox")?; // a reference, or an id (prefix)
/// images.tag(&"busybox".parse()?, &"mine:1".parse()?)?;
/// for image in images.list()? {
///     println!("{} {} bytes", image.id(), images.size(&image));
/// }
/// let mut archive = Vec::new();
/// images.save_docker_archive(&["mine:1".parse::<Reference>()?], &mut archive)?;
/// images.remove(&"mine:1".parse()?, false)?;
/// images.load(&archive[..])?; // back again
/// # let _ = busybox;
/// # Ok(()) }
/// ```
///
/// [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
#[derive(Debug, Clone, Copy)]
pub struct Images<'e> {
    store: &'e Store,
}

impl<'e> Images<'e> {
    pub(crate) fn new(store: &'e Store) -> Self {
        Images { store }
    }

    /// Every image, one per manifest, with all its references (`docker image ls -a`).
    ///
    /// # Errors
    /// [`Error::InvalidImage`] if the index or a manifest is unreadable.
    pub fn list(&self) -> Result<Vec<Image>> {
        self.store.images()
    }

    /// The image named `reference` (`busybox`, `docker.io/library/busybox:1.36`), or else
    /// the one whose id (`sha256:` optional) starts with it, as Docker resolves names.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] for neither a reference nor an id,
    /// [`Error::ImageNotFound`].
    pub fn get(&self, reference: &str) -> Result<Image> {
        let parsed = reference.parse::<Reference>();
        let found = match &parsed {
            Ok(r) => self.inspect(r),
            Err(_) => Err(Error::ImageNotFound {
                reference: reference.to_owned(),
            }),
        };
        match found {
            Err(Error::ImageNotFound { .. }) => {}
            r => return r,
        }
        // An image id (`sha256:` optional) or a unique prefix of one, as Docker resolves.
        let hex = reference.strip_prefix("sha256:").unwrap_or(reference);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hex = hex.to_ascii_lowercase();
            let mut hits: Vec<Image> = self
                .list()?
                .into_iter()
                .filter(|i| i.id().digest().starts_with(&hex))
                .collect();
            if hits.len() == 1 {
                return Ok(hits.remove(0));
            }
            if hits.len() > 1 && hits.iter().all(|i| i.id() == hits[0].id()) {
                return Ok(hits.remove(0));
            }
        }
        parsed?;
        Err(Error::ImageNotFound {
            reference: reference.to_owned(),
        })
    }

    /// The image `reference` names, with all its references (`docker image inspect`).
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if no image has that reference.
    pub fn inspect(&self, reference: &Reference) -> Result<Image> {
        self.store.inspect(reference)
    }

    /// Gives the image `source` names the extra reference `target` (`docker tag`).
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if `source` is not in the store.
    pub fn tag(&self, source: &Reference, target: &Reference) -> Result<()> {
        self.store.tag(source, target)
    }

    /// Removes the reference `reference`, then the blobs and unpacked layers no other
    /// image (and no container) uses (`docker rmi`).
    ///
    /// Removing the last reference of an image a container uses is refused with
    /// [`Error::ImageInUse`] unless `force`; forced, the reference goes but the image's
    /// blobs and layers stay until the container is removed. A digest reference naming an
    /// image with several tags removes them all, and only with `force`.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if no image has that reference, [`Error::ImageInUse`].
    pub fn remove(&self, reference: &Reference, force: bool) -> Result<()> {
        self.store.remove(reference, force)
    }

    /// Removes images without a reference (dangling), then every blob and unpacked layer
    /// no image or container uses (`docker image prune`). Returns the bytes freed (blobs
    /// only).
    ///
    /// # Errors
    /// [`Error::Os`]/[`Error::Blob`] if something cannot be removed.
    pub fn prune(&self) -> Result<u64> {
        self.store.prune()
    }

    /// Tars and gzips `dir` into one layer and writes an image with `config` (Cmd,
    /// Entrypoint, Env, WorkingDir, ExposedPorts, Labels, User…) named `reference`.
    /// Ownership, modes, mtimes, symlinks, hard links (as links), device nodes and xattrs
    /// (`SCHILY.xattr.*`, as Docker writes them) are kept; `dir`'s own symlinks are not
    /// followed; sockets are left out, as Docker does. Entries go in name order.
    ///
    /// # Errors
    /// [`Error::Os`] if `dir` cannot be read, [`Error::Blob`] if a blob cannot be written.
    pub fn import_dir(
        &self,
        dir: impl AsRef<Path>,
        config: &Config,
        reference: &Reference,
    ) -> Result<Image> {
        self.store.import_dir(dir, config, reference)
    }

    /// Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image (`docker
    /// import`); the layer is stored gzip-compressed.
    ///
    /// # Errors
    /// [`Error::Blob`] if the stream cannot be read or decompressed.
    pub fn import_tar(
        &self,
        input: impl Read,
        config: &Config,
        reference: &Reference,
    ) -> Result<Image> {
        self.store.import_tar(input, config, reference)
    }

    /// Loads a docker-archive (`docker save`, `skopeo copy … docker-archive:`, also the
    /// OCI-layout flavour Docker 25+ writes) or an OCI archive (`docker load`); returns the
    /// images loaded. Images without a name are loaded untagged (removed by
    /// [`prune`](Self::prune)).
    ///
    /// # Errors
    /// [`Error::InvalidImage`] for a malformed archive or a manifest naming a blob the
    /// archive lacks, [`Error::DigestMismatch`] for a blob whose content is not its name.
    pub fn load(&self, input: impl Read) -> Result<Vec<Image>> {
        self.store.load(input)
    }

    /// Writes `references` as a docker-archive (what `docker save` writes and
    /// `docker load` / `skopeo copy docker-archive:` read): `manifest.json`,
    /// `repositories`, `<config hex>.json` and one uncompressed `<diff id hex>.tar` per
    /// layer.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], [`Error::Blob`] when a blob cannot be read, [`Error::Os`]
    /// when `out` fails.
    pub fn save_docker_archive(&self, references: &[Reference], out: impl Write) -> Result<()> {
        self.store.save_docker_archive(references, out)
    }

    /// Writes `references` as an OCI archive: a tarred OCI image layout whose index.json
    /// names each image by its full reference (`org.opencontainers.image.ref.name`).
    ///
    /// # Errors
    /// As [`save_docker_archive`](Self::save_docker_archive).
    pub fn save_oci_archive(&self, references: &[Reference], out: impl Write) -> Result<()> {
        self.store.save_oci_archive(references, out)
    }

    /// Writes the flattened rootfs of `reference` as a tar to `out` (an image's `docker
    /// export`).
    ///
    /// # Errors
    /// As [`flatten`](Self::flatten), and [`Error::Os`] if the tar cannot be written.
    pub fn export(&self, reference: &Reference, out: impl Write) -> Result<()> {
        self.store.export(reference, out)
    }

    /// Applies every layer of `reference` in order into `dest` (created if missing),
    /// whiteouts applied: a flattened rootfs, for runtimes without overlayfs.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], or the error of applying a layer (its digest named).
    pub fn flatten(&self, reference: &Reference, dest: impl AsRef<Path>) -> Result<()> {
        self.store.flatten(reference, dest)
    }

    /// The unpacked layer directories of `reference`, **base layer first**, unpacking those
    /// not yet unpacked. Each holds overlayfs whiteouts; mount them read-only as lower dirs
    /// (overlayfs wants the top layer first in `lowerdir=`, so reverse them). For writers
    /// of runtimes and bundles; containers of the engine get theirs by themselves.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], or the error of unpacking a layer (its digest named).
    pub fn rootfs_layers(&self, reference: &Reference) -> Result<Vec<PathBuf>> {
        self.store.rootfs_layers(reference)
    }

    /// The size `docker images` shows: bytes of the image's uncompressed layers (as
    /// recorded when they were unpacked; a layer not unpacked yet counts as stored) plus
    /// its config. The same content has the same size however it came in (pulled gzip,
    /// loaded, imported). [`Image::size`] is what a registry transfers instead.
    pub fn size(&self, image: &Image) -> u64 {
        self.store.image_size(image)
    }

    /// The [OCI image layout] directory (`<root>/images`), for tools like skopeo
    /// (`oci:<dir>:<reference>`) and umoci. Read it; write to it only through this handle.
    ///
    /// [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
    pub fn layout_dir(&self) -> &'e Path {
        self.store.layout_dir()
    }
}
