//! The build cache: step results kept across builds and processes.
//!
//! A step's cache key chains everything its result depends on: the key of the step before
//! it (a stage's first key is its base: an image's manifest digest, or the key of the
//! stage it starts from), the image config as it stands (so ENV, ARG values, USER and
//! WORKDIR count), and what the step itself reads — RUN its command, mounts and network,
//! COPY and ADD the digest of their sources' content and metadata (never mtimes), their
//! flags and destination. The result of a step is an image of the store (see
//! `image::snapshot`); the entry is a weak hold on it named `build-<key>`, so garbage
//! collection keeps it and `rmi` is not stopped by it. A build's final image is an entry
//! too, so a fully cached rebuild gives the same image id.
//!
//! `RUN --mount=type=cache` directories live beside, under `<root>/build/cache-mounts/`,
//! one per cache id, and so do the remembered content hashes of context files
//! (`build/file-hashes.json`, see `hashes`). [`prune`] empties all three.

use std::fs;
use std::io;
use std::path::PathBuf;

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

use crate::container::ContainerStore;
use crate::image::{Image, Images};
use crate::{Error, Result};

/// The prefix of the owners of cache entries' holds.
const OWNER_PREFIX: &str = "build-";

/// What [`Engine::prune_build_cache`](crate::Engine::prune_build_cache) removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CachePruned {
    /// Cached step results dropped.
    pub entries: usize,
    /// Cache mount directories removed.
    pub cache_mounts: usize,
    /// Bytes freed: blobs nothing else uses, and the cache mounts' files.
    pub bytes: u64,
}

/// What the build cache holds ([`Engine::build_cache_usage`](crate::Engine::build_cache_usage)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheUsage {
    /// Cached step results.
    pub entries: usize,
    /// Cache mount directories (`RUN --mount=type=cache`).
    pub cache_mounts: usize,
    /// Bytes the cache uses: the blobs and unpacked layers of its entries (shared with
    /// images or not) and the cache mounts' files.
    pub bytes: u64,
    /// Bytes [`Engine::prune_build_cache`](crate::Engine::prune_build_cache) would free:
    /// the blobs and layers only the entries keep, and the cache mounts' files.
    pub reclaimable: u64,
}

/// What the build cache holds and how much pruning it would free.
pub(crate) fn usage(store: &ContainerStore) -> Result<CacheUsage> {
    let (entries, mut bytes, mut reclaimable) = store.images().held_only_by(OWNER_PREFIX)?;
    let mounts = store.root().join("build").join("cache-mounts");
    let mut cache_mounts = 0;
    match fs::read_dir(&mounts) {
        Ok(rd) => {
            for e in rd.flatten() {
                let size = crate::store::tree_size(&e.path());
                bytes += size;
                reclaimable += size;
                cache_mounts += 1;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::os("reading cache mounts", &mounts, e)),
    }
    Ok(CacheUsage {
        entries,
        cache_mounts,
        bytes,
        reclaimable,
    })
}

/// A cache key being built: fields go in with their lengths, so no two sequences of
/// fields hash alike.
#[derive(Clone)]
pub(crate) struct KeyHasher(Sha256);

impl KeyHasher {
    /// A key that starts from `parent` (a step's key, a manifest digest, `scratch`).
    pub(crate) fn new(parent: &str) -> KeyHasher {
        KeyHasher(Sha256::new()).field(parent.as_bytes())
    }

    /// Adds one field.
    pub(crate) fn field(mut self, bytes: &[u8]) -> Self {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The key: 64 hex digits.
    pub(crate) fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The build cache of one engine.
pub(crate) struct Cache<'e> {
    images: Images<'e>,
    mounts: PathBuf,
}

impl<'e> Cache<'e> {
    pub(crate) fn new(store: &'e ContainerStore) -> Cache<'e> {
        Cache {
            images: store.images(),
            mounts: store.root().join("build").join("cache-mounts"),
        }
    }

    /// The image kept under `key`, if there is one and its blobs are all there.
    pub(crate) fn get(&self, key: &str) -> Option<Image> {
        self.images.kept(&owner(key))
    }

    /// Keeps `image` under `key`.
    ///
    /// # Errors
    /// [`Error::Os`] if the entry cannot be written.
    pub(crate) fn put(&self, key: &str, image: &Image) -> Result<()> {
        self.images.keep(&owner(key), image)
    }

    /// The directory of the cache mount `id` (made, mode 0755, when missing).
    ///
    /// # Errors
    /// [`Error::Os`] if it cannot be made.
    pub(crate) fn mount_dir(&self, id: &str) -> Result<PathBuf> {
        let name = KeyHasher::new("cache-mount").field(id.as_bytes()).finish();
        let dir = self.mounts.join(name);
        crate::store::private_dir(&self.mounts, "creating the build cache mounts directory")?;
        match fs::create_dir(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(dir),
            Err(e) => Err(Error::os("creating cache mount", &dir, e)),
        }
    }
}

fn owner(key: &str) -> String {
    format!("{OWNER_PREFIX}{key}")
}

/// Empties the build cache of `store` (see [`CachePruned`]).
///
/// # Errors
/// [`Error::Os`] if an entry or a cache mount cannot be removed.
pub(crate) fn prune(store: &ContainerStore) -> Result<CachePruned> {
    let images = store.images();
    let entries = images.release_all(OWNER_PREFIX)?;
    let mut bytes = images.collect_garbage()?;
    let mounts = store.root().join("build").join("cache-mounts");
    let mut cache_mounts = 0;
    match fs::read_dir(&mounts) {
        Ok(rd) => {
            for e in rd.flatten() {
                let p = e.path();
                bytes += crate::store::tree_size(&p);
                crate::store::remove_any(&p)?;
                cache_mounts += 1;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::os("reading cache mounts", &mounts, e)),
    }
    // The remembered file hashes go too: the next build reads every file again.
    let hashes = store.root().join("build").join("file-hashes.json");
    match fs::remove_file(&hashes) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(Error::os("removing", &hashes, e))
        }
        _ => {}
    }
    Ok(CachePruned {
        entries,
        cache_mounts,
        bytes,
    })
}

/// A manifest digest as a key's starting point.
pub(crate) fn base_key(manifest: &Digest) -> String {
    KeyHasher::new("image")
        .field(manifest.as_ref().as_bytes())
        .finish()
}
