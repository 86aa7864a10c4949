//! Images in the local store: the [`Image`] record; create from a directory, list,
//! inspect, tag, remove, prune, and the holds containers keep on images. Turning an image
//! into a rootfs is in [`rootfs`](super::rootfs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Arch, Config, Descriptor, Digest, History, ImageConfiguration, ImageIndex, ImageManifest,
    ImageManifestBuilder, MediaType, Os, RootFs,
};

use super::layer::TarWriter;
use super::{Images, Reference};
use crate::store::{self, chain_ids, ref_name};
use crate::{Error, Result};

/// An image in the store, as `docker image inspect` shows it: plain data, read from the
/// store by [`Engine::image`](crate::Engine::image) or [`Images`](crate::Images).
///
/// ```no_run
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let image = engine.image("busybox")?;
/// println!("{} ({} layers)", image.id(), image.diff_ids().len());
/// for r in image.references() {
///     println!("  {r}");
/// }
/// let cmd = image.config().config().as_ref().and_then(|c| c.cmd().clone());
/// println!("runs {cmd:?} unless told otherwise");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Image {
    id: Digest,
    pub(super) references: Vec<Reference>,
    repo_digests: Vec<Reference>,
    manifest_digest: Digest,
    manifest: ImageManifest,
    config: ImageConfiguration,
}

impl Image {
    /// Its references and repository digests, from its index entries.
    fn set_references(&mut self, entries: &[Descriptor]) {
        self.references = entries
            .iter()
            .filter_map(|e| ref_name(e).and_then(|n| n.parse().ok()))
            .collect();
        let mut digests: Vec<Reference> = entries
            .iter()
            .filter_map(|e| {
                let r: Reference = ref_name(e)?.parse().ok()?;
                let digest = e
                    .annotations()
                    .as_ref()?
                    .get(super::registry::DISTRIBUTION_DIGEST)?;
                format!("{}@{digest}", r.name()).parse().ok()
            })
            .collect();
        digests.sort_by_key(ToString::to_string);
        digests.dedup();
        self.repo_digests = digests;
    }

    /// The image id: the digest of its config, as Docker uses.
    pub fn id(&self) -> &Digest {
        &self.id
    }

    /// The references (tags) that name it.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// The references by digest of the repositories it was pulled from or pushed to
    /// (`127.0.0.1:5000/app@sha256:…`): the digest each registry knows its manifest by,
    /// which differs from [`manifest_digest`](Self::manifest_digest) when the store keeps
    /// a converted copy (Docker's `RepoDigests`). Sorted, without repeats.
    pub fn repo_digests(&self) -> &[Reference] {
        &self.repo_digests
    }

    /// The digest of its manifest (what a registry knows it by).
    pub fn manifest_digest(&self) -> &Digest {
        &self.manifest_digest
    }

    /// Its manifest.
    pub fn manifest(&self) -> &ImageManifest {
        &self.manifest
    }

    /// Its configuration (entrypoint, env, history, diff ids…).
    pub fn config(&self) -> &ImageConfiguration {
        &self.config
    }

    /// Its history, base layer first.
    pub fn history(&self) -> &[History] {
        self.config.history().as_deref().unwrap_or_default()
    }

    /// Bytes of its layers as stored (compressed or not, as they came) plus its config:
    /// what a registry transfers. `docker images` shows the uncompressed size instead:
    /// [`Images::size`](crate::Images::size).
    pub fn size(&self) -> u64 {
        self.manifest
            .layers()
            .iter()
            .map(Descriptor::size)
            .sum::<u64>()
            + self.manifest.config().size()
    }

    /// The diff ids (digests of the uncompressed layer tars), base first.
    pub fn diff_ids(&self) -> Vec<Digest> {
        diff_ids(&self.config)
    }
}

/// One entry of an image's history as `docker history` shows it; see
/// [`Image::layer_history`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The image id for the newest entry; `None` (Docker's `<missing>`) for the others,
    /// whose intermediate images are not stored.
    pub id: Option<Digest>,
    /// When the entry was made (RFC 3339, as the image config records it).
    pub created: Option<String>,
    /// The command that made it (`/bin/sh -c #(nop)  CMD ["sh"]`, `sh -c make`); empty if
    /// none is recorded.
    pub created_by: String,
    /// Bytes of the uncompressed layer the entry made; 0 for an entry that made none.
    pub size: u64,
    /// The comment (`docker commit -m`); empty if none.
    pub comment: String,
    /// Whether the entry made no layer (a config-only step such as `CMD` or `ENV`).
    pub empty_layer: bool,
}

impl Image {
    /// The image's history as `docker history` shows it: **newest first**, each entry with
    /// the size of the layer it made. Entries that are not `empty_layer` are matched to the
    /// image's layers in order, base first; a layer's size is that of its uncompressed tar,
    /// as recorded when it was unpacked into `images`' store, else found by decompressing
    /// its blob. [`Image::history`] has the raw OCI entries, base first.
    ///
    /// ```no_run
    /// # fn main() -> cargohold::Result<()> {
    /// let engine = cargohold::Engine::open_default()?;
    /// let image = engine.image("busybox")?;
    /// for h in image.layer_history(&engine.images())? {
    ///     let id = h.id.map_or("<missing>".to_owned(), |d| d.to_string());
    ///     println!("{id} {} {} bytes {}", h.created_by, h.size, h.comment);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::Blob`] if a layer's blob cannot be read or decompressed.
    pub fn layer_history(&self, images: &Images<'_>) -> Result<Vec<HistoryEntry>> {
        let chains = chain_ids(&self.diff_ids());
        let layers = self.manifest.layers();
        let mut layer = 0;
        let mut out = Vec::with_capacity(self.history().len());
        for h in self.history() {
            let empty_layer = h.empty_layer().unwrap_or(false);
            let size = if empty_layer {
                0
            } else {
                layer += 1;
                layer_size(images, layers.get(layer - 1), chains.get(layer - 1))?
            };
            out.push(HistoryEntry {
                id: None,
                created: h.created().clone(),
                created_by: h.created_by().clone().unwrap_or_default(),
                size,
                comment: h.comment().clone().unwrap_or_default(),
                empty_layer,
            });
        }
        out.reverse();
        if let Some(top) = out.first_mut() {
            top.id = Some(self.id.clone());
        }
        Ok(out)
    }
}

/// Bytes of a layer's uncompressed tar: as recorded when it was unpacked, else counted by
/// decompressing its blob; 0 for a history entry past the image's layers.
fn layer_size(
    images: &Images<'_>,
    layer: Option<&Descriptor>,
    chain: Option<&Digest>,
) -> Result<u64> {
    let Some(layer) = layer else { return Ok(0) };
    if let Some(meta) = chain.and_then(|c| images.store.layer_meta(c)) {
        if meta.size > 0 {
            return Ok(meta.size);
        }
    }
    if *layer.media_type() == MediaType::ImageLayer {
        return Ok(layer.size());
    }
    let digest = layer.digest();
    let err = |e| Error::Blob {
        op: "measuring".into(),
        digest: digest.to_string(),
        source: e,
    };
    let blob = images.store.open_blob(digest)?;
    let mut tar = super::unpack::decompress(blob).map_err(err)?;
    io::copy(&mut tar, &mut io::sink()).map_err(err)
}

/// The diff ids an image configuration lists, base first (malformed ones left out).
fn diff_ids(config: &ImageConfiguration) -> Vec<Digest> {
    let ids = config.rootfs().diff_ids().iter();
    ids.filter_map(|d| d.parse().ok()).collect()
}

/// The manifest `digest` names, with blobs from `read`; an index resolves to its
/// linux/amd64 entry.
pub(super) fn resolve_manifest(
    read: &dyn Fn(&Digest) -> Result<Vec<u8>>,
    digest: &Digest,
    media_type: &MediaType,
) -> Result<(Digest, ImageManifest)> {
    let bytes = read(digest)?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| invalid(digest, e.to_string()))?;
    let is_index = matches!(media_type, MediaType::ImageIndex) || v.get("manifests").is_some();
    if is_index {
        let index: ImageIndex =
            serde_json::from_value(v).map_err(|e| invalid(digest, e.to_string()))?;
        let pick = index
            .manifests()
            .iter()
            .find(|m| {
                m.platform()
                    .as_ref()
                    .is_none_or(|p| *p.os() == Os::Linux && *p.architecture() == Arch::Amd64)
            })
            .ok_or_else(|| invalid(digest, "index has no linux/amd64 manifest"))?;
        return resolve_manifest(read, pick.digest(), pick.media_type());
    }
    let m: ImageManifest = serde_json::from_value(v).map_err(|e| invalid(digest, e.to_string()))?;
    Ok((digest.clone(), m))
}

/// A holder's use of an image (`<root>/holds/<owner>.json`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Hold {
    pub(super) reference: String,
    pub(super) manifest: Digest,
    /// A build cache entry's hold: a root for garbage collection that does not keep
    /// [`Images::remove`] from removing the image's last reference.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) weak: bool,
}

pub(super) fn check_owner(owner: &str) -> Result<()> {
    const REASON: &str = "holder ids are letters, digits, '_', '.', '-'";
    store::check_id(owner, REASON)?;
    if owner.len() > 128 {
        return Err(Error::InvalidId {
            id: owner.to_owned(),
            reason: REASON,
        });
    }
    Ok(())
}

fn invalid(subject: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidImage {
        subject: subject.to_string(),
        reason: reason.into(),
    }
}

/// Appends the tree under `dir` (itself as `./`) to `tar`, sorted by name; see
/// [`Images::import_dir`] for what is kept.
fn append_tree<W: Write>(tar: &mut TarWriter<W>, dir: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    tar.append(dir, Path::new("./"), &meta)?;
    append_children(tar, dir, Path::new(""))
}

fn append_children<W: Write>(tar: &mut TarWriter<W>, base: &Path, rel: &Path) -> io::Result<()> {
    let mut names = fs::read_dir(base.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    for name in names {
        let rel = rel.join(name);
        let path = base.join(&rel);
        let meta = fs::symlink_metadata(&path)?;
        tar.append(&path, &rel, &meta)?;
        if meta.is_dir() {
            append_children(tar, base, &rel)?;
        }
    }
    Ok(())
}

pub(super) fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    rel: &Path,
    meta: &fs::Metadata,
    links: &mut HashMap<(u64, u64), PathBuf>,
    owner: Option<(u32, u32)>,
) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let ft = meta.file_type();
    if ft.is_socket() {
        return Ok(());
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    h.set_size(0);
    let (uid, gid) = owner.unwrap_or_else(|| crate::paths::image_owner(meta.uid(), meta.gid()));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    let xattrs = read_xattrs(path)?;
    if !xattrs.is_empty() {
        append_pax(tar, &xattrs)?;
    }
    if !ft.is_dir() && meta.nlink() > 1 {
        match links.get(&(meta.dev(), meta.ino())) {
            Some(first) => {
                h.set_entry_type(tar::EntryType::Link);
                return tar.append_link(&mut h, rel, first);
            }
            None => {
                links.insert((meta.dev(), meta.ino()), rel.to_owned());
            }
        }
    }
    if ft.is_symlink() {
        tar.append_link(&mut h, rel, fs::read_link(path)?)
    } else if ft.is_file() {
        h.set_size(meta.len());
        tar.append_data(&mut h, rel, fs::File::open(path)?.take(meta.len()))
    } else if ft.is_dir() {
        tar.append_data(&mut h, rel, io::empty())
    } else {
        // character and block devices, fifos
        h.set_device_major(rustix::fs::major(meta.rdev()))?;
        h.set_device_minor(rustix::fs::minor(meta.rdev()))?;
        tar.append_data(&mut h, rel, io::empty())
    }
}

/// The extended attributes of `path` (not following a symlink), overlayfs's own left out;
/// none where the filesystem has none.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 64 << 10];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => 0,
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::new();
    let mut value = vec![0u8; 64 << 10];
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.contains(".overlay.") || name.starts_with("overlay.") {
            continue;
        }
        match rustix::fs::lgetxattr(path, name, &mut value[..]) {
            Ok(len) => out.push((name.to_owned(), value[..len].to_vec())),
            Err(rustix::io::Errno::NODATA) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// A pax extended header carrying `xattrs` as `SCHILY.xattr.<name>` records, for the entry
/// that follows it.
fn append_pax<W: Write>(tar: &mut tar::Builder<W>, xattrs: &[(String, Vec<u8>)]) -> io::Result<()> {
    let mut data = Vec::new();
    for (name, value) in xattrs {
        // "<len> SCHILY.xattr.<name>=<value>\n", where <len> counts the whole record
        let rest = format!(" SCHILY.xattr.{name}=").len() + value.len() + 1;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        data.extend_from_slice(format!("{len} SCHILY.xattr.{name}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::XHeader);
    h.set_path("PaxHeaders/xattrs")?;
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    h.set_cksum();
    tar.append(&h, &data[..])
}

/// The descriptor of a committed blob.
pub(super) fn desc(media_type: MediaType, (digest, size): (Digest, u64)) -> Descriptor {
    Descriptor::new(media_type, size, digest)
}

impl<'e> Images<'e> {
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
        let dir = dir.as_ref();
        let mut writer = self.layer_writer()?;
        append_tree(writer.tar(), dir).map_err(|e| Error::os("archiving", dir, e))?;
        let layer = writer.finish(dir)?;
        let mut history = History::default();
        history.set_created(Some(crate::store::now_rfc3339_seconds()));
        history.set_created_by(Some(format!("cargohold import_dir {}", dir.display())));
        self.commit_image(
            config,
            vec![(layer.desc.clone(), layer.diff_id.clone())],
            vec![history],
            reference,
        )
    }

    /// Writes config and manifest for `layers` (blob descriptor, diff id) and tags it.
    pub(crate) fn commit_image(
        &self,
        config: &Config,
        layers: Vec<(Descriptor, Digest)>,
        history: Vec<History>,
        reference: &Reference,
    ) -> Result<Image> {
        let mut rootfs = RootFs::default();
        rootfs.set_diff_ids(layers.iter().map(|(_, d)| d.to_string()).collect());
        let mut image_config = ImageConfiguration::default();
        image_config.set_created(Some(crate::store::now_rfc3339_seconds()));
        image_config.set_architecture(Arch::Amd64);
        image_config.set_os(Os::Linux);
        image_config.set_config(Some(config.clone()));
        image_config.set_rootfs(rootfs);
        image_config.set_history(Some(history));
        let config_bytes = serde_json::to_vec(&image_config).expect("config serialises");
        let config_desc = desc(
            MediaType::ImageConfig,
            self.store.put_blob(&config_bytes, None)?,
        );
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .config(config_desc)
            .layers(layers.into_iter().map(|(d, _)| d).collect::<Vec<_>>())
            .build()
            .map_err(|e| invalid(reference, e.to_string()))?;
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
        let manifest_desc = desc(
            MediaType::ImageManifest,
            self.store.put_blob(&manifest_bytes, None)?,
        );
        self.store.set_ref(&reference.to_string(), &manifest_desc)?;
        self.inspect(reference)
    }

    /// Every image, one per manifest, with all its references (`docker image ls -a`).
    ///
    /// # Errors
    /// [`Error::InvalidImage`] if the index or a manifest is unreadable.
    pub fn list(&self) -> Result<Vec<Image>> {
        let index = self.store.index()?;
        let mut by_manifest: BTreeMap<String, (Descriptor, Vec<Descriptor>)> = BTreeMap::new();
        for d in index.manifests() {
            let e = by_manifest
                .entry(d.digest().to_string())
                .or_insert_with(|| (d.clone(), Vec::new()));
            e.1.push(d.clone());
        }
        let mut out = Vec::new();
        for (_, (d, entries)) in by_manifest {
            if let Ok(mut img) = self.load_image(&d) {
                img.set_references(&entries);
                out.push(img);
            }
        }
        Ok(out)
    }

    /// The image `reference` names, with all its references (`docker image inspect`).
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if no image has that reference.
    pub fn inspect(&self, reference: &Reference) -> Result<Image> {
        let d = self.find(reference)?;
        let mut img = self.load_image(&d)?;
        let index = self.store.index()?;
        let entries: Vec<Descriptor> = index
            .manifests()
            .iter()
            .filter(|e| e.digest() == d.digest())
            .cloned()
            .collect();
        img.set_references(&entries);
        Ok(img)
    }

    /// The index entry for `reference`: by name, else (digest references) by manifest digest.
    pub(crate) fn find(&self, reference: &Reference) -> Result<Descriptor> {
        let index = self.store.index()?;
        let name = reference.to_string();
        if let Some(d) = index
            .manifests()
            .iter()
            .find(|d| ref_name(d) == Some(name.as_str()))
        {
            return Ok(d.clone());
        }
        if let Some(dig) = reference.digest() {
            let registry_digest = |d: &Descriptor| {
                d.annotations()
                    .as_ref()
                    .and_then(|a| a.get(super::registry::DISTRIBUTION_DIGEST))
                    .map(String::as_str)
                    == Some(dig.as_ref())
            };
            if let Some(d) = index
                .manifests()
                .iter()
                .find(|d| *d.digest() == dig || registry_digest(d))
            {
                return Ok(d.clone());
            }
        }
        if let Some(dig) = reference.digest() {
            // An image a build step made: no index entry, held by its manifest digest.
            let untagged = reference.path() == format!("library/{}", super::snapshot::UNTAGGED);
            if untagged && self.store.has_blob(&dig) {
                let size = fs::metadata(self.store.blob_path(&dig)).map_or(0, |m| m.len());
                return Ok(Descriptor::new(MediaType::ImageManifest, size, dig));
            }
        }
        Err(Error::ImageNotFound { reference: name })
    }

    /// The image behind an index entry, without its references.
    pub(crate) fn image_by_manifest(&self, d: &Descriptor) -> Result<Image> {
        self.load_image(d)
    }

    /// Reads manifest and config behind an index entry (following a one-platform index).
    pub(super) fn load_image(&self, d: &Descriptor) -> Result<Image> {
        self.image_at(d.digest(), d.media_type())
    }

    /// Reads manifest (following a one-platform index) and config behind `digest`, an
    /// image with no references yet.
    fn image_at(&self, digest: &Digest, media_type: &MediaType) -> Result<Image> {
        let (manifest_digest, manifest) = self.resolve_manifest(digest, media_type)?;
        let config: ImageConfiguration = self.store.read_json(manifest.config().digest())?;
        Ok(Image {
            id: manifest.config().digest().clone(),
            references: Vec::new(),
            repo_digests: Vec::new(),
            manifest_digest,
            manifest,
            config,
        })
    }

    /// The manifest a descriptor points at; an index resolves to its linux/amd64 entry.
    pub(crate) fn resolve_manifest(
        &self,
        digest: &Digest,
        media_type: &MediaType,
    ) -> Result<(Digest, ImageManifest)> {
        resolve_manifest(&|d| self.store.read_blob(d), digest, media_type)
    }

    /// Gives the image `source` names the extra reference `target` (`docker tag`).
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if `source` is not in the store.
    pub fn tag(&self, source: &Reference, target: &Reference) -> Result<()> {
        let mut d = self.find(source)?;
        d.set_annotations(None);
        self.store.set_ref(&target.to_string(), &d)?;
        let id = self.id_of(&d);
        crate::container::events::image(self.store, "tag", &id, &target.to_string());
        Ok(())
    }

    /// The image id (its config's digest) of the manifest `d`, as events name images;
    /// the manifest's digest if it cannot be read.
    fn id_of(&self, d: &Descriptor) -> String {
        self.image_by_manifest(d)
            .map_or_else(|_| d.digest().to_string(), |i| i.id().to_string())
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
        let name = reference.to_string();
        let found = self.find(reference)?;
        let id = self.id_of(&found);
        let mut gone = false;
        let holders: Vec<String> = self
            .holds()?
            .into_iter()
            .filter(|(_, h)| h.manifest == *found.digest() && !h.weak)
            .map(|(owner, _)| owner)
            .collect();
        self.store.update_index(|m| {
            let by_name = m.iter().any(|d| ref_name(d) == Some(name.as_str()));
            let n = m.iter().filter(|d| d.digest() == found.digest()).count();
            let last = !by_name || n == 1;
            if last && !force {
                if let Some(h) = holders.first() {
                    return Err(Error::ImageInUse {
                        reference: name.clone(),
                        user: format!("container {h}"),
                    });
                }
            }
            if by_name {
                m.retain(|d| ref_name(d) != Some(name.as_str()));
                gone = !m.iter().any(|d| d.digest() == found.digest());
            } else {
                if n > 1 && !force {
                    return Err(Error::ImageInUse {
                        reference: name.clone(),
                        user: format!("{n} tags"),
                    });
                }
                m.retain(|d| d.digest() != found.digest());
                gone = true;
            }
            Ok(())
        })?;
        crate::container::events::image(self.store, "untag", &id, &name);
        if gone {
            // Docker's `delete` names the image by itself.
            crate::container::events::image(self.store, "delete", &id, &id);
        }
        self.gc()?;
        Ok(())
    }

    /// Records that `owner` (a container id: letters, digits, `_`, `.`, `-`) uses the image
    /// `reference`: while held, [`Self::remove`] refuses to remove its last reference
    /// without `force`, and garbage collection keeps its blobs and unpacked layers (which
    /// may be mounted as lower dirs). Holding again replaces the previous hold. With
    /// `durable` the hold survives a power loss (file and directory fsynced); a container
    /// removed when it exits needs no such hold, as it needs no such record (the repair
    /// after a crash removes it and its hold alike).
    ///
    /// # Errors
    /// [`Error::InvalidId`] for a bad owner, [`Error::ImageNotFound`].
    pub(crate) fn hold(&self, owner: &str, reference: &Reference, durable: bool) -> Result<()> {
        check_owner(owner)?;
        let d = self.find(reference)?;
        let hold = Hold {
            reference: reference.to_string(),
            manifest: d.digest().clone(),
            weak: false,
        };
        let json = serde_json::to_vec(&hold).expect("hold serialises");
        let path = self.store.holds_dir().join(format!("{owner}.json"));
        store::write_replace(&path, &json, durable)
    }

    /// Drops `owner`'s hold (a missing hold is not an error). Blobs and layers it kept
    /// alive go at the next [`Self::prune`] or [`Self::remove`].
    ///
    /// # Errors
    /// [`Error::InvalidId`] for a bad owner, [`Error::Os`] if the hold cannot be removed.
    pub(crate) fn release(&self, owner: &str) -> Result<()> {
        check_owner(owner)?;
        let p = self.store.holds_dir().join(format!("{owner}.json"));
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::os("removing hold", &p, e)),
            _ => Ok(()),
        }
    }

    /// The image `owner` holds (see [`Self::hold`]), found by its manifest even when its
    /// reference has been removed since (a forced `rmi`).
    ///
    /// # Errors
    /// [`Error::ImageNotFound`] if `owner` holds nothing, [`Error::Blob`] or
    /// [`Error::InvalidImage`] if its manifest cannot be read.
    pub(crate) fn held_image(&self, owner: &str) -> Result<Image> {
        check_owner(owner)?;
        let p = self.store.holds_dir().join(format!("{owner}.json"));
        let hold: Hold = fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Error::ImageNotFound {
                reference: format!("held by {owner}"),
            })?;
        self.image_at(&hold.manifest, &MediaType::ImageManifest)
    }

    fn holds(&self) -> Result<Vec<(String, Hold)>> {
        let dir = self.store.holds_dir();
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::os("reading holds", &dir, e)),
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(owner) = name.strip_suffix(".json") else {
                continue;
            };
            if let Ok(h) = serde_json::from_slice::<Hold>(&fs::read(e.path()).unwrap_or_default()) {
                out.push((owner.to_owned(), h));
            }
        }
        Ok(out)
    }

    /// Removes images without a reference (dangling), then every blob and unpacked layer
    /// no image or container uses (`docker image prune`). Returns the bytes freed: the
    /// blobs and the unpacked layers (as their uncompressed size).
    ///
    /// # Errors
    /// [`Error::Os`]/[`Error::Blob`] if something cannot be removed.
    pub fn prune(&self) -> Result<u64> {
        self.store.update_index(|m| {
            m.retain(|d| ref_name(d).is_some());
            Ok(())
        })?;
        self.gc()
    }

    /// Removes every image no container uses, tagged or dangling (`docker image prune
    /// -a`), then every blob and unpacked layer nothing uses; returns the bytes freed, as
    /// [`Self::prune`]. An image a container was made from stays, with all its tags, even
    /// when the container is stopped; the build cache's entries do not count as users
    /// (their step results stay cached until [`Engine::prune_build_cache`]).
    ///
    /// [`Engine::prune_build_cache`]: crate::Engine::prune_build_cache
    ///
    /// # Errors
    /// [`Error::Os`]/[`Error::Blob`] if something cannot be removed.
    pub fn prune_unused(&self) -> Result<u64> {
        let used: HashSet<Digest> = self
            .holds()?
            .into_iter()
            .filter(|(_, h)| !h.weak)
            .map(|(_, h)| h.manifest)
            .collect();
        self.store.update_index(|m| {
            m.retain(|d| used.contains(d.digest()));
            Ok(())
        })?;
        self.gc()
    }

    /// How many holds have an owner starting with `prefix`, the bytes of the blobs and
    /// unpacked layers they keep, and of those only they keep (what garbage collection
    /// would free without them).
    ///
    /// # Errors
    /// [`Error::Os`] if the index or the holds cannot be read.
    pub(crate) fn held_only_by(&self, prefix: &str) -> Result<(usize, u64, u64)> {
        let index = self.index_digests()?;
        let (mine, others): (Vec<_>, Vec<_>) = self
            .holds()?
            .into_iter()
            .partition(|(owner, _)| owner.starts_with(prefix));
        let n = mine.len();
        let (kept_blobs, kept_layers) = self.reachable(
            index
                .into_iter()
                .chain(others.into_iter().map(|(_, h)| h.manifest))
                .collect(),
        );
        let (blobs, layers) = self.reachable(mine.into_iter().map(|(_, h)| h.manifest).collect());
        let (mut total, mut only) = (0, 0);
        for d in &blobs {
            let size = fs::metadata(self.store.blob_path(d)).map_or(0, |m| m.len());
            total += size;
            if !kept_blobs.contains(d) {
                only += size;
            }
        }
        for l in &layers {
            let size = self.store.layer_meta(l).map_or(0, |m| m.size);
            total += size;
            if !kept_layers.contains(l) {
                only += size;
            }
        }
        Ok((n, total, only))
    }

    /// The digests of the manifests the index lists.
    fn index_digests(&self) -> Result<Vec<Digest>> {
        Ok(self
            .store
            .index()?
            .manifests()
            .iter()
            .map(|d| d.digest().clone())
            .collect())
    }

    /// Deletes blobs and layers unreachable from the index, holding the gc lock so no
    /// import or pull is half-way.
    pub(super) fn gc(&self) -> Result<u64> {
        let _gc = self.store.lock("gc")?;
        let mut todo = self.index_digests()?;
        todo.extend(self.holds()?.into_iter().map(|(_, h)| h.manifest));
        let (blobs, layers) = self.reachable(todo);
        let mut freed = 0;
        for d in self.store.blob_digests()? {
            if !blobs.contains(&d) {
                freed += fs::metadata(self.store.blob_path(&d)).map_or(0, |m| m.len());
                self.store.remove_blob(&d)?;
            }
        }
        for l in self.store.layer_ids()? {
            if !layers.contains(&l) {
                freed += self.store.layer_meta(&l).map_or(0, |m| m.size);
                self.store.remove_layer(&l)?;
            }
        }
        Ok(freed)
    }

    /// The blobs and unpacked layers (chain ids) the manifests and indexes `todo` reach.
    fn reachable(&self, mut todo: Vec<Digest>) -> (HashSet<Digest>, HashSet<Digest>) {
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut layers: HashSet<Digest> = HashSet::new();
        while let Some(d) = todo.pop() {
            if !blobs.insert(d.clone()) {
                continue;
            }
            let Ok(v) = self.store.read_json::<serde_json::Value>(&d) else {
                continue;
            };
            if let Some(ms) = v.get("manifests").and_then(|m| m.as_array()) {
                todo.extend(ms.iter().filter_map(|m| m["digest"].as_str()?.parse().ok()));
                continue;
            }
            let Ok(m) = serde_json::from_value::<ImageManifest>(v) else {
                continue;
            };
            blobs.insert(m.config().digest().clone());
            blobs.extend(m.layers().iter().map(|l| l.digest().clone()));
            let config = self
                .store
                .read_json::<ImageConfiguration>(m.config().digest());
            if let Ok(c) = config {
                layers.extend(chain_ids(&diff_ids(&c)));
            }
        }
        (blobs, layers)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::Store;
    use oci_spec::image::ConfigBuilder;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};

    fn r(s: &str) -> Reference {
        s.parse().unwrap()
    }

    /// The image config's Cmd.
    pub(crate) fn cmd_of(img: &Image) -> &[String] {
        img.config()
            .config()
            .as_ref()
            .unwrap()
            .cmd()
            .as_ref()
            .unwrap()
    }

    pub(crate) fn sample_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        fs::create_dir_all(p.join("bin")).unwrap();
        fs::create_dir_all(p.join("etc")).unwrap();
        fs::write(p.join("bin/app"), b"#!/bin/sh\necho hi\n").unwrap();
        fs::set_permissions(p.join("bin/app"), fs::Permissions::from_mode(0o755)).unwrap();
        symlink("app", p.join("bin/sh")).unwrap();
        fs::write(p.join("etc/conf"), b"k=v\n").unwrap();
        d
    }

    /// A store in a temporary root holding the sample directory imported as `reference`.
    fn imported(reference: &str) -> (tempfile::TempDir, Store, Image) {
        let root = tempfile::tempdir().unwrap();
        let s = Store::open(root.path()).unwrap();
        let src = sample_dir();
        let img = Images::new(&s)
            .import_dir(src.path(), &config(), &r(reference))
            .unwrap();
        (root, s, img)
    }

    fn config() -> Config {
        ConfigBuilder::default()
            .cmd(vec!["/bin/app".to_owned()])
            .env(vec!["PATH=/bin".to_owned()])
            .working_dir("/")
            .exposed_ports(vec!["80/tcp".to_owned()])
            .labels(
                [("a".to_owned(), "b".to_owned())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .user("0:0")
            .build()
            .unwrap()
    }

    #[test]
    fn rfc3339_dates() {
        let t = crate::store::now_rfc3339_seconds();
        assert_eq!(t.len(), "2020-09-13T12:26:40Z".len(), "{t}");
        assert!(t.ends_with('Z'));
    }

    /// Hard links stay links (not copies), xattrs and fifos survive, and entries are sorted.
    #[test]
    fn import_dir_keeps_hard_links_xattrs_and_fifos() {
        let root = tempfile::tempdir().unwrap();
        let s_store = Store::open(root.path()).unwrap();
        let s = Images::new(&s_store);
        let src = sample_dir();
        let p = src.path();
        fs::hard_link(p.join("etc/conf"), p.join("etc/conf.link")).unwrap();
        let fifo = rustix::fs::FileType::Fifo;
        let mode = rustix::fs::Mode::from_raw_mode(0o640);
        rustix::fs::mknodat(rustix::fs::CWD, p.join("etc/fifo"), fifo, mode, 0).unwrap();
        // not every filesystem under a tempdir has user xattrs (tmpfs before 6.6)
        let xattr = rustix::fs::setxattr(
            p.join("bin/app").as_path(),
            "user.k",
            b"v\0w",
            rustix::fs::XattrFlags::empty(),
        )
        .is_ok();
        let img = s.import_dir(p, &config(), &r("links:1")).unwrap();

        let blob = fs::File::open(s.store.blob_path(img.manifest().layers()[0].digest())).unwrap();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
        let mut names = Vec::new();
        for e in tar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            if path == Path::new("etc/conf.link") {
                assert_eq!(e.header().entry_type(), tar::EntryType::Link);
                assert_eq!(e.link_name().unwrap().unwrap(), Path::new("etc/conf"));
            }
            if path == Path::new("bin/app") && xattr {
                let pax: Vec<_> = e
                    .pax_extensions()
                    .unwrap()
                    .unwrap()
                    .flatten()
                    .map(|x| (x.key().unwrap().to_owned(), x.value_bytes().to_vec()))
                    .collect();
                assert_eq!(pax, [("SCHILY.xattr.user.k".to_owned(), b"v\0w".to_vec())]);
            }
            names.push(path);
        }
        assert_eq!(names[0], Path::new("./"));
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "name order");

        let flat = tempfile::tempdir().unwrap();
        s.flatten(&r("links:1"), flat.path()).unwrap();
        let a = fs::metadata(flat.path().join("etc/conf")).unwrap();
        let b = fs::metadata(flat.path().join("etc/conf.link")).unwrap();
        assert_eq!((a.ino(), a.nlink()), (b.ino(), 2), "one file, two names");
        use std::os::unix::fs::FileTypeExt;
        let f = fs::symlink_metadata(flat.path().join("etc/fifo")).unwrap();
        assert!(f.file_type().is_fifo());
        assert_eq!(f.mode() & 0o777, 0o640);
        if xattr {
            let mut v = [0u8; 16];
            let n =
                rustix::fs::getxattr(flat.path().join("bin/app").as_path(), "user.k", &mut v[..])
                    .unwrap();
            assert_eq!(&v[..n], b"v\0w");
        }
    }

    #[test]
    fn import_inspect_rootfs_tag_remove_prune() {
        let (_root, s_store, img) = imported("app:1");
        let s = Images::new(&s_store);
        assert_eq!(img.references(), &[r("app:1")]);
        assert_eq!(cmd_of(&img), &["/bin/app"]);
        assert_eq!(img.manifest().layers().len(), 1);
        assert_eq!(img.history().len(), 1);
        let c = img.config().config().clone().unwrap();
        assert_eq!(c.exposed_ports().as_ref().unwrap(), &["80/tcp"]);
        assert_eq!(c.user().as_deref(), Some("0:0"));

        // the blob is gzip and its content hashes to the diff id
        let layer = img.manifest().layers()[0].clone();
        assert_eq!(*layer.media_type(), MediaType::ImageLayerGzip);
        let blob = fs::read(s.store.blob_path(layer.digest())).unwrap();
        assert_eq!(&blob[..2], &[0x1f, 0x8b]);

        let dirs = s.rootfs_layers(&r("app:1")).unwrap();
        assert_eq!(dirs.len(), 1);
        assert_eq!(fs::read(dirs[0].join("etc/conf")).unwrap(), b"k=v\n");
        assert_eq!(
            fs::read_link(dirs[0].join("bin/sh")).unwrap(),
            Path::new("app")
        );
        assert_eq!(
            fs::metadata(dirs[0].join("bin/app")).unwrap().mode() & 0o777,
            0o755
        );
        // unpacked once: a second call returns the same dir, same inode
        let ino = fs::metadata(dirs[0].join("etc/conf")).unwrap().ino();
        let again = s.rootfs_layers(&r("app:1")).unwrap();
        assert_eq!(fs::metadata(again[0].join("etc/conf")).unwrap().ino(), ino);

        // flattened copy
        let flat = tempfile::tempdir().unwrap();
        s.flatten(&r("app:1"), flat.path()).unwrap();
        assert_eq!(
            fs::read(flat.path().join("bin/app")).unwrap(),
            b"#!/bin/sh\necho hi\n"
        );

        // tag shares everything
        s.tag(&r("app:1"), &r("localhost:5000/app:2")).unwrap();
        let imgs = s.list().unwrap();
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].references().len(), 2);
        s.remove(&r("app:1"), false).unwrap();
        assert!(
            s.store.has_blob(layer.digest()),
            "still referenced by the other tag"
        );
        assert!(dirs[0].exists());
        assert!(matches!(
            s.inspect(&r("app:1")),
            Err(Error::ImageNotFound { .. })
        ));
        s.remove(&r("localhost:5000/app:2"), false).unwrap();
        assert!(!s.store.has_blob(layer.digest()));
        assert!(!dirs[0].exists(), "layer removed with its last image");
        assert_eq!(s.list().unwrap().len(), 0);
        assert_eq!(s.store.blob_digests().unwrap().len(), 0);
        assert!(s.remove(&r("app:1"), false).is_err());

        // prune frees an unreferenced blob
        let (_d, n) = s.store.put_blob(b"orphan", None).unwrap();
        assert_eq!(s.prune().unwrap(), n);
    }

    #[test]
    fn shared_layers_survive_removal_of_one_image() {
        let (_root, s_store, a) = imported("a");
        let s = Images::new(&s_store);
        // same layer, different config
        let layer = a.manifest().layers()[0].clone();
        let mut c2 = config();
        c2.set_cmd(Some(vec!["other".into()]));
        let b = s
            .commit_image(
                &c2,
                vec![(layer.clone(), a.diff_ids()[0].clone())],
                vec![],
                &r("b"),
            )
            .unwrap();
        assert_ne!(a.id(), b.id());
        let la = s.rootfs_layers(&r("a")).unwrap();
        let lb = s.rootfs_layers(&r("b")).unwrap();
        assert_eq!(la, lb, "one unpacked layer per chain id");
        s.remove(&r("a"), false).unwrap();
        assert!(s.store.has_blob(layer.digest()));
        assert!(lb[0].exists());
        assert!(!s.store.has_blob(a.id()));
    }

    #[test]
    fn a_corrupt_layer_is_refused_and_leaves_nothing() {
        let (_root, s_store, a) = imported("a");
        let s = Images::new(&s_store);
        // claim another diff id: unpack must notice
        let layer = a.manifest().layers()[0].clone();
        let wrong = store::digest_of(b"not it");
        let b = s
            .commit_image(&config(), vec![(layer, wrong.clone())], vec![], &r("b"))
            .unwrap();
        let e = s.rootfs_layers(&r("b")).unwrap_err();
        assert!(e.to_string().contains(wrong.digest()), "{e}");
        assert!(s.store.layer_meta(&b.diff_ids()[0]).is_none());
        let leftovers: Vec<_> = fs::read_dir(s.store.layers_dir()).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn held_images_are_kept() {
        let (_root, s_store, img) = imported("held:1");
        let s = Images::new(&s_store);
        let lower = s.rootfs_layers(&r("held:1")).unwrap();
        s.hold("ctr-1", &r("held:1"), true).unwrap();
        assert!(s.hold("../evil", &r("held:1"), true).is_err());
        let e = s.remove(&r("held:1"), false).unwrap_err();
        assert!(e.to_string().contains("container ctr-1"), "{e}");
        // another tag can go: the image keeps a name
        s.tag(&r("held:1"), &r("held:2")).unwrap();
        s.remove(&r("held:2"), false).unwrap();
        // forced: the name goes, the content stays while held
        s.remove(&r("held:1"), true).unwrap();
        assert!(s.inspect(&r("held:1")).is_err());
        assert!(lower[0].join("etc/conf").exists());
        assert!(s.store.has_blob(img.id()));
        s.release("ctr-1").unwrap();
        s.release("ctr-1").unwrap();
        s.prune().unwrap();
        assert!(!lower[0].exists());
        assert!(!s.store.has_blob(img.id()));
    }
}
