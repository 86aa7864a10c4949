//! [`Images`]: the images of an engine (`docker image ls`, `tag`, `rm`, `save`, `load`…).
//!
//! The handle is defined here; its verbs are `impl Images` blocks next to what they do:
//! lookup, tag, remove, prune, holds and import from a directory in
//! [`local`](super::local), rootfs (unpacked layers, flatten) in [`rootfs`](super::rootfs),
//! archives (save, load, import of a tarball, export) in [`archive`](super::archive),
//! committed layers in [`layer`](super::layer), pull and push in
//! [`registry`](super::registry). Under them all is the store (`crate::store`): blobs,
//! the index, unpacked layers and locks.

use std::path::Path;

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
    pub(super) store: &'e Store,
}

impl<'e> Images<'e> {
    pub(crate) fn new(store: &'e Store) -> Self {
        Images { store }
    }

    /// The store under the handle: blobs, the index, unpacked layers, locks.
    pub(crate) fn store(&self) -> &'e Store {
        self.store
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

    /// The [OCI image layout] directory (`<root>/images`), for tools like skopeo
    /// (`oci:<dir>:<reference>`) and umoci. Read it; write to it only through this handle.
    ///
    /// [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
    pub fn layout_dir(&self) -> &'e Path {
        self.store.layout_dir()
    }
}
