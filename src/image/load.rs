//! Loading image archives (`docker load`): docker-archives (`docker save`, `skopeo copy …
//! docker-archive:`, also the OCI-layout flavour Docker 25+ writes) and OCI archives.
//!
//! A load is all or nothing. Every file of the archive is staged as a verified blob in a
//! temporary directory of the layout (`images/.tmp-…`), the images in it are planned
//! from `manifest.json` or `index.json`, and every layer goes through the unpacker run
//! time uses (into a scratch directory under `layers/`, removed afterwards): an entry it
//! would refuse (`..` out of the root, a link out of it, a malformed tar, a diff id that
//! does not match) refuses the whole load, naming the image, the layer and the entry.
//! Only then are the blobs moved into the store and the images tagged; a refused load
//! leaves the store as it was.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
};

use super::archive::DockerManifestEntry;
use super::local::resolve_manifest;
use super::unpack::{self, Compression, UnpackOptions};
use super::{Image, Images, Reference};
use crate::store::{self, digest_of, ref_name, BlobWriter, Store, CONTAINERD_NAME, REF_NAME};
use crate::{Error, Result};

/// Largest metadata file (manifest.json, index.json, repositories) read into memory.
const MAX_META: u64 = 16 << 20;

fn invalid(subject: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidImage {
        subject: subject.to_string(),
        reason: reason.into(),
    }
}

/// An I/O error on the blob `digest` while `op`.
fn blob_err<'a>(op: &'a str, digest: &'a Digest) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Blob {
        op: op.to_owned(),
        digest: digest.to_string(),
        source,
    }
}

/// The files of an archive being loaded, staged as verified blobs in a temporary
/// directory of the layout until the load commits; the directory goes when this drops.
struct Staging<'s> {
    store: &'s Store,
    dir: PathBuf,
    /// Archive path → blob digest and size (links resolved).
    files: HashMap<String, (Digest, u64)>,
    /// `manifest.json`, `index.json`, `repositories`, `oci-layout`.
    meta: HashMap<String, Vec<u8>>,
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        let _ = store::remove_any(&self.dir);
    }
}

impl<'s> Staging<'s> {
    /// Reads the archive `input` into a new staging directory of `store`.
    fn read(store: &'s Store, input: impl Read) -> Result<Staging<'s>> {
        let subject = "archive";
        let dir = store::tmp_path(store.layout_dir());
        fs::create_dir(&dir).map_err(|e| Error::os("creating staging directory", &dir, e))?;
        let mut staging = Staging {
            store,
            dir,
            files: HashMap::new(),
            meta: HashMap::new(),
        };
        let mut links: Vec<(String, String)> = Vec::new();
        let mut ar = tar::Archive::new(input);
        let mut first = true;
        for entry in ar.entries().map_err(|e| invalid(subject, e.to_string()))? {
            let mut entry = entry.map_err(|e| invalid(subject, tar_reason(&e, first)))?;
            first = false;
            let path = entry.path().map_err(|e| invalid(subject, e.to_string()))?;
            let Some(name) = unpack::clean(&path).map(|p| p.to_string_lossy().into_owned()) else {
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Ok(Some(t)) = entry.link_name() {
                        let t = if entry.header().entry_type() == tar::EntryType::Symlink {
                            Path::new(&name).parent().unwrap_or(Path::new("")).join(t)
                        } else {
                            t.into_owned()
                        };
                        if let Some(t) = unpack::clean(&t) {
                            links.push((name, t.to_string_lossy().into_owned()));
                        }
                    }
                    continue;
                }
                t if !t.is_file() => continue,
                _ => {}
            }
            if matches!(
                name.as_str(),
                "manifest.json" | "repositories" | "index.json" | "oci-layout"
            ) {
                let mut buf = Vec::new();
                entry
                    .by_ref()
                    .take(MAX_META)
                    .read_to_end(&mut buf)
                    .map_err(|e| invalid(subject, e.to_string()))?;
                staging.meta.insert(name, buf);
                continue;
            }
            if name.ends_with("/json") || name.ends_with("VERSION") {
                continue; // legacy v1 metadata
            }
            let expected: Option<Digest> = name
                .strip_prefix("blobs/")
                .map(|r| r.replacen('/', ":", 1))
                .and_then(|d| d.parse().ok());
            let size = entry.header().size().ok();
            let got = staging.stage(&mut entry, expected.as_ref(), size)?;
            staging.files.insert(name, got);
        }
        for (name, target) in links {
            if let Some(v) = staging.files.get(&target).cloned() {
                staging.files.insert(name, v);
            }
        }
        Ok(staging)
    }

    /// Copies `r` into the staging directory as a blob verified against `expected`.
    fn stage(
        &self,
        mut r: impl Read,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        let mut w = BlobWriter::create(&self.dir)?;
        io::copy(&mut r, &mut w).map_err(|e| Error::Blob {
            op: "writing".into(),
            digest: expected.map_or_else(|| "new blob".to_owned(), ToString::to_string),
            source: e,
        })?;
        w.commit(expected, size)
    }

    /// The blob at archive path `name`.
    fn get(&self, name: &str) -> Result<(Digest, u64)> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| invalid("manifest.json", format!("archive lacks {name}")))
    }

    fn staged(&self, digest: &Digest) -> Option<PathBuf> {
        let p = self.dir.join(digest.digest());
        (store::check_sha256(digest).is_ok() && p.is_file()).then_some(p)
    }

    /// Whether the archive or the store has the blob.
    fn has(&self, digest: &Digest) -> bool {
        self.staged(digest).is_some() || self.store.has_blob(digest)
    }

    /// Opens a blob of the archive, else of the store.
    fn open(&self, digest: &Digest) -> Result<File> {
        match self.staged(digest) {
            Some(p) => File::open(&p).map_err(blob_err("opening", digest)),
            None => self.store.open_blob(digest),
        }
    }

    /// Reads a whole (small) blob of the archive, else of the store.
    fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        match self.staged(digest) {
            Some(p) => fs::read(&p).map_err(blob_err("reading", digest)),
            None => self.store.read_blob(digest),
        }
    }

    /// Moves a staged blob into the store (unless it is there already).
    fn commit(&self, digest: &Digest) -> Result<()> {
        if self.store.has_blob(digest) {
            return Ok(());
        }
        let Some(from) = self.staged(digest) else {
            return Ok(());
        };
        // verified and fsynced when staged; the rename is what makes it visible
        fs::rename(&from, self.store.blob_path(digest))
            .map_err(blob_err("moving into the store", digest))
    }
}

/// One image of an archive, checked and ready to be recorded.
struct Planned {
    /// The image in errors: its first tag, else its config or manifest digest.
    name: String,
    tags: Vec<Reference>,
    /// The index entry to record.
    desc: Descriptor,
    /// The manifest's bytes when the archive has none (docker-archive): a new blob.
    manifest: Option<Vec<u8>>,
    /// The blobs it needs.
    blobs: Vec<Digest>,
    /// Its layers as run time unpacks them: blob, diff id, archive path.
    layers: Vec<(Digest, Digest, String)>,
}

/// Every blob a manifest (or index) `top` needs, itself included, read with `read`;
/// [`Error::InvalidImage`] if one is missing (`has`).
fn blobs_of(
    top: &Digest,
    read: &dyn Fn(&Digest) -> Result<Vec<u8>>,
    has: &dyn Fn(&Digest) -> bool,
) -> Result<Vec<Digest>> {
    let mut out = vec![top.clone()];
    let v: serde_json::Value =
        serde_json::from_slice(&read(top)?).map_err(|e| invalid(top, e.to_string()))?;
    if let Some(ms) = v.get("manifests").and_then(|m| m.as_array()) {
        for m in ms {
            if let Some(d) = m["digest"].as_str().and_then(|d| d.parse().ok()) {
                if has(&d) {
                    out.extend(blobs_of(&d, read, has)?);
                }
            }
        }
        return Ok(out);
    }
    let m: ImageManifest = serde_json::from_value(v).map_err(|e| invalid(top, e.to_string()))?;
    out.push(m.config().digest().clone());
    out.extend(m.layers().iter().map(|l| l.digest().clone()));
    for d in &out {
        if !has(d) {
            return Err(invalid(
                top,
                format!("manifest references missing blob {d}"),
            ));
        }
    }
    Ok(out)
}

fn parse_digest(subject: &Digest, d: &str) -> Result<Digest> {
    d.parse()
        .map_err(|_| invalid(subject, format!("malformed diff id {d:?}")))
}

impl<'e> Images<'e> {
    /// Loads a docker-archive (`docker save`, `skopeo copy … docker-archive:`, also the
    /// OCI-layout flavour Docker 25+ writes) or an OCI archive (`docker load`); returns the
    /// images loaded. Images without a name are loaded untagged (removed by
    /// [`prune`](Self::prune)).
    ///
    /// Every layer is checked as a container's start would unpack it: an archive with a
    /// layer the unpacker refuses (an entry whose path or link leaves the root, a
    /// malformed tar, content that does not match its diff id) is refused as a whole,
    /// the error naming the image, the layer and the entry, and the store is left as it
    /// was.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] for a malformed archive or a manifest naming a blob the
    /// archive lacks, [`Error::DigestMismatch`] for a blob whose content is not its name,
    /// [`Error::UnsafeLayerEntry`] or [`Error::Unpack`] for a layer entry the unpacker
    /// refuses.
    pub fn load(&self, input: impl Read) -> Result<Vec<Image>> {
        let _gc = self.store.lock_shared("gc")?;
        let staging = Staging::read(self.store, input)?;
        let planned = if let Some(m) = staging.meta.get("manifest.json") {
            self.plan_docker(m, &staging)?
        } else if let Some(i) = staging.meta.get("index.json") {
            self.plan_oci(i, &staging)?
        } else {
            return Err(invalid(
                "archive",
                "neither manifest.json nor index.json in the archive",
            ));
        };
        let mut checked = HashSet::new();
        for p in &planned {
            for (blob, diff, path) in &p.layers {
                if checked.insert((blob, diff)) {
                    self.check_layer(&staging, (blob, diff), &format!("{path} of {}", p.name))?;
                }
            }
        }
        // all checked: from here on the store changes
        for d in planned.iter().flat_map(|p| &p.blobs) {
            staging.commit(d)?;
        }
        if let Some(d) = planned.iter().flat_map(|p| &p.blobs).next() {
            store::fsync_dir(self.store.blob_path(d).parent().unwrap_or(Path::new(".")))?;
        }
        let mut out = Vec::new();
        for p in planned {
            if let Some(bytes) = &p.manifest {
                self.store.put_blob(bytes, Some(p.desc.digest()))?;
            }
            out.push(self.add_loaded(&p.desc, &p.tags)?);
        }
        for i in &out {
            crate::container::events::images(self.store, "load", i.references());
        }
        Ok(out)
    }

    /// Unpacks a layer blob into a scratch directory as a container's start would, and
    /// removes it: the unpacker's refusal, if any. `what` names the layer in errors.
    fn check_layer(
        &self,
        staging: &Staging<'_>,
        (blob, diff): (&Digest, &Digest),
        what: &str,
    ) -> Result<()> {
        let scratch = store::tmp_path(self.store.layers_dir());
        fs::create_dir(&scratch).map_err(|e| Error::os("creating layer directory", &scratch, e))?;
        let subject = format!("{blob} ({what})");
        let r = staging.open(blob).and_then(|f| {
            let opts = UnpackOptions::for_layer();
            self.unpack_stream(f, &scratch, (blob, diff), opts, &subject)
        });
        let _ = store::remove_any(&scratch);
        r.map(|_| ())
    }

    /// The images of a docker-archive's `manifest.json`.
    fn plan_docker(&self, manifest: &[u8], staging: &Staging<'_>) -> Result<Vec<Planned>> {
        let entries: Vec<DockerManifestEntry> = serde_json::from_slice(manifest)
            .map_err(|e| invalid("manifest.json", e.to_string()))?;
        let mut out = Vec::new();
        for e in entries {
            let (config_digest, config_size) = staging.get(&e.config)?;
            let config: ImageConfiguration =
                serde_json::from_slice(&staging.read_blob(&config_digest)?)
                    .map_err(|err| invalid(&config_digest, err.to_string()))?;
            let want = config.rootfs().diff_ids();
            if want.len() != e.layers.len() {
                return Err(invalid(
                    &config_digest,
                    "config diff_ids and archive layers differ in number",
                ));
            }
            let tags: Vec<Reference> = e
                .repo_tags
                .unwrap_or_default()
                .iter()
                .map(|t| t.parse())
                .collect::<Result<_>>()?;
            let mut descs = Vec::new();
            let mut layers = Vec::new();
            for (path, want) in e.layers.iter().zip(want) {
                let (digest, size) = staging.get(path)?;
                let media =
                    match Compression::sniff(&mut io::BufReader::new(staging.open(&digest)?))
                        .map_err(blob_err("reading layer", &digest))?
                    {
                        Compression::None => MediaType::ImageLayer,
                        Compression::Gzip => MediaType::ImageLayerGzip,
                        Compression::Zstd => MediaType::ImageLayerZstd,
                    };
                descs.push(Descriptor::new(media, size, digest.clone()));
                layers.push((digest, parse_digest(&config_digest, want)?, path.clone()));
            }
            let manifest = oci_spec::image::ImageManifestBuilder::default()
                .schema_version(2u32)
                .media_type(MediaType::ImageManifest)
                .config(Descriptor::new(
                    MediaType::ImageConfig,
                    config_size,
                    config_digest.clone(),
                ))
                .layers(descs)
                .build()
                .map_err(|err| invalid(&config_digest, err.to_string()))?;
            let bytes = serde_json::to_vec(&manifest).expect("manifest serialises");
            let desc = Descriptor::new(
                MediaType::ImageManifest,
                bytes.len() as u64,
                digest_of(&bytes),
            );
            let name = tags.first().map_or_else(
                || format!("image {config_digest}"),
                |t| format!("image {t}"),
            );
            let mut blobs = vec![config_digest];
            blobs.extend(layers.iter().map(|(d, _, _)| d.clone()));
            out.push(Planned {
                name,
                tags,
                desc,
                manifest: Some(bytes),
                blobs,
                layers,
            });
        }
        Ok(out)
    }

    /// The images of an OCI layout's `index.json`.
    fn plan_oci(&self, index: &[u8], staging: &Staging<'_>) -> Result<Vec<Planned>> {
        let index: ImageIndex =
            serde_json::from_slice(index).map_err(|e| invalid("index.json", e.to_string()))?;
        let read = |d: &Digest| staging.read_blob(d);
        let mut out = Vec::new();
        for d in index.manifests() {
            let blobs = blobs_of(d.digest(), &read, &|d| staging.has(d))?;
            let ann = d.annotations().clone().unwrap_or_default();
            // a full reference, else nothing: a bare tag names no repository
            let tag = ann
                .get(CONTAINERD_NAME)
                .or_else(|| {
                    ann.get(REF_NAME)
                        .filter(|n| n.contains('/') || n.contains(':'))
                })
                .and_then(|n| n.parse::<Reference>().ok());
            let name = tag
                .as_ref()
                .map_or_else(|| format!("image {}", d.digest()), |t| format!("image {t}"));
            // the layers a container of it runs on (an index without a manifest for this
            // platform has none to check, and cannot run)
            let mut layers = Vec::new();
            if let Ok((_, m)) = resolve_manifest(&read, d.digest(), d.media_type()) {
                let config: ImageConfiguration =
                    serde_json::from_slice(&read(m.config().digest())?)
                        .map_err(|e| invalid(m.config().digest(), e.to_string()))?;
                let diffs = config.rootfs().diff_ids();
                if diffs.len() != m.layers().len() {
                    return Err(invalid(
                        m.config().digest(),
                        "config diff_ids and manifest layers differ in number",
                    ));
                }
                for (l, diff) in m.layers().iter().zip(diffs) {
                    let path = format!("blobs/sha256/{}", l.digest().digest());
                    let diff = parse_digest(m.config().digest(), diff)?;
                    layers.push((l.digest().clone(), diff, path));
                }
            }
            let mut plain = Descriptor::new(d.media_type().clone(), d.size(), d.digest().clone());
            plain.set_platform(d.platform().clone());
            out.push(Planned {
                name,
                tags: tag.into_iter().collect(),
                desc: plain,
                manifest: None,
                blobs,
                layers,
            });
        }
        Ok(out)
    }

    /// Every blob a manifest (or index) in the store needs, itself included.
    pub(crate) fn blobs_of(&self, top: &Digest) -> Result<Vec<Digest>> {
        let store = self.store;
        blobs_of(top, &|d| store.read_blob(d), &|d| store.has_blob(d))
    }

    /// Records a loaded manifest under its tags (or untagged) and returns the image.
    fn add_loaded(&self, desc: &Descriptor, tags: &[Reference]) -> Result<Image> {
        if tags.is_empty() {
            self.store.update_index(|m| {
                if !m
                    .iter()
                    .any(|e| e.digest() == desc.digest() && ref_name(e).is_none())
                {
                    m.push(desc.clone());
                }
                Ok(())
            })?;
            return self.image_by_manifest(desc);
        }
        for t in tags {
            self.store.set_ref(&t.to_string(), desc)?;
        }
        self.inspect(&tags[0])
    }
}

/// Why a tar archive could not be read, without the bytes the tar reader quotes (a text
/// file given as an archive would have its lines printed): "not a tar archive" when its
/// very first header is bad, else the reader's first line, control characters escaped.
fn tar_reason(e: &std::io::Error, first: bool) -> String {
    if first {
        return "not a tar archive".into();
    }
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    let clean: String = line
        .chars()
        .take(120)
        .flat_map(char::escape_default)
        .collect();
    format!("reading tar: {clean}")
}
