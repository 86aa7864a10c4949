//! The on-disk store under one root directory.
//!
//! ```text
//! <root>/images/   OCI image layout: oci-layout, index.json, blobs/sha256/<hex>
//! <root>/layers/   <chain id hex>/diff (an unpacked layer), <chain id hex>/meta.json
//! <root>/locks/    flock files
//! <root>/holds/    <owner>.json: an image a container uses (kept by gc, guarded by remove)
//! ```
//!
//! # Permissions
//! The store is private to its owner (DESIGN.md, decision 11), as Docker's
//! `/var/lib/docker` is: the root and `layers/` are `0700` (the engine makes `containers/`
//! and `volumes/` so too, through [`private_dir`]). Unpacked layers keep their setuid
//! binaries and device nodes — containers need them, and their roots are not mounted
//! `nosuid` — so what keeps another local user from running a setuid-root binary of an
//! image (or one that container root wrote into its upper directory) is that no path
//! reaches them. [`Store::open`] also takes group and other access away from a root that
//! an older version created `0755`.
//!
//! `images/` is a plain [OCI image layout]: skopeo (`oci:<root>/images:<name>`) and umoci
//! read it as is. Each tag is one entry of `index.json` whose
//! `org.opencontainers.image.ref.name` annotation holds the **full normalised reference**
//! (`docker.io/library/busybox:latest`): a bare tag (`latest`) would be ambiguous in a store
//! holding many repositories. The same name is written to `io.containerd.image.name`, as
//! containerd does. The OCI ref-name grammar admits these names, so
//! `skopeo inspect oci:/var/lib/cargohold/images:docker.io/library/busybox:latest` works.
//!
//! Every file is written to a temp name (`.tmp-…`) in its final directory, fsynced and
//! renamed; a layer is unpacked into `layers/.tmp-…` and renamed once complete.
//! [`Store::open`] removes what a crash left behind. Writers of `index.json` and unpackers
//! of a layer hold an exclusive `flock` on a file under `locks/`, so several processes can
//! share a store.
//!
//! This is the low-level layer under the `Engine`; image operations (import,
//! tag, remove, pull, archives) are methods added by [`crate::image`].
//!
//! [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md

mod blobs;
mod layers;

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageIndexBuilder, MediaType};

pub(crate) use blobs::BlobWriter;
pub(crate) use blobs::{check_sha256, digest_of, sha256_digest, HashingReader};
pub(crate) use layers::{chain_ids, LayerMeta};

use crate::{Error, Result};

/// The annotation holding an index entry's reference.
pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's annotation for the same.
pub(crate) const CONTAINERD_NAME: &str = "io.containerd.image.name";
/// Prefix of every temp file and directory; [`Store::open`] removes them.
pub(crate) const TMP_PREFIX: &str = ".tmp-";

/// An image store rooted at one directory. See the [module docs](self) for the layout.
///
/// `Store` is cheap to share between threads (`&Store` is all operations need); several
/// processes may open the same root.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
    images: PathBuf,
    blobs: PathBuf,
    layers: PathBuf,
    locks: PathBuf,
}

/// Held while a lock is taken (an flock); dropping it releases the lock.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

impl Lock {
    /// The locked file (or directory).
    pub(crate) fn file(&self) -> &File {
        &self._file
    }
}

/// Takes `op` (shared or exclusive) on the lock file `path`, created if missing, waiting
/// for it.
pub(crate) fn lock_file(path: &Path, op: rustix::fs::FlockOperation) -> Result<Lock> {
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::os("opening lock file", path, e))?;
    rustix::fs::flock(&file, op).map_err(|e| Error::os("locking", path, e.into()))?;
    Ok(Lock { _file: file })
}

/// Creates `dir` `0700` (its missing parents as `create_dir_all` does), or, when it
/// exists, takes group and other access away from it (a root made `0755` by an older
/// version): a directory that holds unpacked layers, upper dirs or volumes must not be
/// reachable by other users. `op` names the operation in an error.
pub(crate) fn private_dir(dir: &Path, op: &'static str) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::os(op, parent, e))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::os(op, dir, e)),
    }
    let mode = fs::metadata(dir)
        .map_err(|e| Error::os(op, dir, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode & 0o7700))
            .map_err(|e| Error::os("making directory private", dir, e))?;
    }
    Ok(())
}

/// Takes an exclusive flock on the directory `dir` itself (so the lock goes with the
/// directory), waiting for it.
pub(crate) fn lock_dir(dir: &Path) -> io::Result<Lock> {
    let file = File::open(dir)?;
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(Lock { _file: file })
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and repairs what a crash left:
    /// temp files and half-unpacked layers are removed.
    ///
    /// # Errors
    /// [`Error::Os`] if the directories cannot be created or read,
    /// [`Error::InvalidImage`] if `index.json` or `oci-layout` is malformed.
    pub(crate) fn open(root: impl AsRef<Path>) -> Result<Store> {
        let root = root.as_ref().to_owned();
        let images = root.join("images");
        let store = Store {
            blobs: images.join("blobs").join("sha256"),
            layers: root.join("layers"),
            locks: root.join("locks"),
            images,
            root,
        };
        private_dir(&store.root, "creating store directory")?;
        private_dir(&store.layers, "creating store directory")?;
        for d in [&store.blobs, &store.locks, &store.root.join("holds")] {
            fs::create_dir_all(d).map_err(|e| Error::os("creating store directory", d, e))?;
        }
        let _lock = store.lock("index")?;
        let layout = store.images.join("oci-layout");
        if !layout.exists() {
            write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        }
        let index = store.images.join("index.json");
        if !index.exists() {
            store.write_index(&empty_index())?;
        } else {
            store.index()?;
        }
        store.repair()?;
        Ok(store)
    }

    /// The OCI image layout directory (`<root>/images`), for tools like skopeo and umoci.
    pub(crate) fn layout_dir(&self) -> &Path {
        &self.images
    }

    /// Removes temp files and directories (the store's, and the scratch of build steps in
    /// `build/tmp`) and layers without `meta.json`.
    fn repair(&self) -> Result<()> {
        let build_tmp = self.root.join("build").join("tmp");
        let mut dirs = vec![&self.blobs, &self.images, &self.layers];
        if build_tmp.is_dir() {
            dirs.push(&build_tmp);
        }
        for dir in dirs {
            let entries =
                fs::read_dir(dir).map_err(|e| Error::os("reading store directory", dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::os("reading store directory", dir, e))?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let path = entry.path();
                let stale_layer = *dir == self.layers && !path.join("meta.json").exists();
                if name.starts_with(TMP_PREFIX) && writer_alive(&name) {
                    // Another process (or thread) is writing it right now.
                    continue;
                }
                if name.starts_with(TMP_PREFIX) || stale_layer {
                    // a half-unpacked layer: take its lock so a live unpacker is not disturbed
                    let _l = if *dir == self.layers {
                        Some(self.lock(&format!("layer-{name}"))?)
                    } else {
                        None
                    };
                    remove_any(&path)?;
                }
            }
        }
        Ok(())
    }

    /// Takes the exclusive lock `name`, waiting for it.
    pub(crate) fn lock(&self, name: &str) -> Result<Lock> {
        self.lock_with(name, rustix::fs::FlockOperation::LockExclusive)
    }

    /// Takes the lock `name` shared (many holders, no exclusive one), waiting for it.
    /// Writers of new blobs hold `gc` shared; garbage collection takes it exclusively.
    pub(crate) fn lock_shared(&self, name: &str) -> Result<Lock> {
        self.lock_with(name, rustix::fs::FlockOperation::LockShared)
    }

    fn lock_with(&self, name: &str, op: rustix::fs::FlockOperation) -> Result<Lock> {
        lock_file(&self.locks.join(format!("{name}.lock")), op)
    }

    // ---- blobs ----

    /// The path of a blob (which may not exist).
    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.digest())
    }

    /// Whether the store holds the blob.
    pub(crate) fn has_blob(&self, digest: &Digest) -> bool {
        check_sha256(digest).is_ok() && self.blob_path(digest).is_file()
    }

    /// Starts writing a blob; see [`BlobWriter::commit`].
    ///
    /// # Errors
    /// [`Error::Os`] if the temp file cannot be created.
    pub(crate) fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::create(&self.blobs)
    }

    /// Writes `bytes` as a blob (verified against `expected` if given).
    pub(crate) fn put_blob(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
    ) -> Result<(Digest, u64)> {
        let d = digest_of(bytes);
        if let Some(want) = expected {
            if *want != d {
                return Err(Error::DigestMismatch {
                    digest: want.to_string(),
                    actual: d.to_string(),
                });
            }
        }
        if self.has_blob(&d) {
            return Ok((d, bytes.len() as u64));
        }
        let mut w = self.blob_writer()?;
        w.write_all(bytes).map_err(|e| Error::Blob {
            op: "writing".into(),
            digest: d.to_string(),
            source: e,
        })?;
        w.commit(Some(&d), None)
    }

    /// Copies a stream into the store as a blob, verifying it against `expected`.
    pub(crate) fn put_blob_from(
        &self,
        mut r: impl Read,
        expected: Option<&Digest>,
        size: Option<u64>,
    ) -> Result<(Digest, u64)> {
        let mut w = self.blob_writer()?;
        let what = expected.map_or_else(|| "new blob".to_owned(), ToString::to_string);
        io::copy(&mut r, &mut w).map_err(|e| Error::Blob {
            op: "writing".into(),
            digest: what,
            source: e,
        })?;
        w.commit(expected, size)
    }

    /// Opens a blob for reading.
    ///
    /// # Errors
    /// [`Error::Blob`] if it is missing or unreadable.
    pub(crate) fn open_blob(&self, digest: &Digest) -> Result<File> {
        check_sha256(digest)?;
        File::open(self.blob_path(digest)).map_err(|e| Error::Blob {
            op: "opening".into(),
            digest: digest.to_string(),
            source: e,
        })
    }

    /// Reads a whole (small) blob, checking its digest.
    pub(crate) fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open_blob(digest)?
            .read_to_end(&mut buf)
            .map_err(|e| Error::Blob {
                op: "reading".into(),
                digest: digest.to_string(),
                source: e,
            })?;
        let actual = digest_of(&buf);
        if actual != *digest {
            return Err(Error::DigestMismatch {
                digest: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(buf)
    }

    /// Reads a JSON blob.
    pub(crate) fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let buf = self.read_blob(digest)?;
        serde_json::from_slice(&buf).map_err(|e| Error::InvalidImage {
            subject: digest.to_string(),
            reason: e.to_string(),
        })
    }

    /// Every blob in the store.
    pub(crate) fn blob_digests(&self) -> Result<Vec<Digest>> {
        let mut out = Vec::new();
        let entries =
            fs::read_dir(&self.blobs).map_err(|e| Error::os("reading blobs", &self.blobs, e))?;
        for entry in entries.flatten() {
            if let Ok(d) =
                format!("sha256:{}", entry.file_name().to_string_lossy()).parse::<Digest>()
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Removes a blob; a missing blob is not an error.
    pub(crate) fn remove_blob(&self, digest: &Digest) -> Result<()> {
        match fs::remove_file(self.blob_path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::Blob {
                op: "removing".into(),
                digest: digest.to_string(),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    // ---- index.json ----

    /// Reads `index.json`.
    pub(crate) fn index(&self) -> Result<ImageIndex> {
        let path = self.images.join("index.json");
        let bytes = fs::read(&path).map_err(|e| Error::os("reading", &path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::InvalidImage {
            subject: path.display().to_string(),
            reason: e.to_string(),
        })
    }

    fn write_index(&self, index: &ImageIndex) -> Result<()> {
        let bytes = serde_json::to_vec(index).expect("an index serialises");
        write_atomic(&self.images.join("index.json"), &bytes)
    }

    /// Changes the index entries under the index lock and writes them back atomically.
    pub(crate) fn update_index<R>(
        &self,
        f: impl FnOnce(&mut Vec<Descriptor>) -> Result<R>,
    ) -> Result<R> {
        let _lock = self.lock("index")?;
        let mut index = self.index()?;
        let mut manifests = index.manifests().clone();
        let r = f(&mut manifests)?;
        index.set_manifests(manifests);
        self.write_index(&index)?;
        Ok(r)
    }

    /// Points the ref name `name` at `manifest` (replacing what it named before).
    pub(crate) fn set_ref(&self, name: &str, manifest: &Descriptor) -> Result<()> {
        let mut desc = manifest.clone();
        let mut ann = desc.annotations().clone().unwrap_or_default();
        ann.insert(REF_NAME.to_owned(), name.to_owned());
        ann.insert(CONTAINERD_NAME.to_owned(), name.to_owned());
        desc.set_annotations(Some(ann));
        self.update_index(|m| {
            m.retain(|d| ref_name(d) != Some(name));
            m.push(desc);
            Ok(())
        })
    }

    // ---- layers ----

    /// The directory of the unpacked layer with this chain id (`layers/<hex>/diff`).
    pub(crate) fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layers.join(chain_id.digest()).join("diff")
    }

    pub(crate) fn layers_dir(&self) -> &Path {
        &self.layers
    }

    /// `<root>/holds`: who uses which image (see `Store::hold`).
    pub(crate) fn holds_dir(&self) -> PathBuf {
        self.root.join("holds")
    }
}

/// The ref name of an index entry.
pub(crate) fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations().as_ref()?.get(REF_NAME).map(String::as_str)
}

fn empty_index() -> ImageIndex {
    ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()
        .expect("an empty index builds")
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temp path in `dir`.
pub(crate) fn tmp_path(dir: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    dir.join(format!("{TMP_PREFIX}{}-{n}-{nanos:x}", std::process::id()))
}

/// Whether the process that made temp entry `name` (`.tmp-<pid>-…`) still runs: ours,
/// or another live one. Repair must not pull a file from under a live writer.
fn writer_alive(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix(TMP_PREFIX)
        .and_then(|r| r.split('-').next())
    else {
        return false;
    };
    match pid.parse::<u32>() {
        Ok(pid) => pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// fsyncs a directory so a rename in it is durable.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::os("syncing directory", dir, e))
}

/// Reads and parses the JSON file at `path`, `Ok(None)` when there is none; `what` names
/// the file in errors ("reading {what}", "parsing {what}").
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
) -> Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::os(format!("reading {what}"), path, e)),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Error::os(
            format!("parsing {what}"),
            path,
            io::Error::new(io::ErrorKind::InvalidData, e),
        )
    })
}

/// Writes `path` atomically: temp file in the same directory, fsync, rename, fsync dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_replace(path, bytes, true)
}

/// Replaces `path` with `bytes` atomically (temp file + rename): readers see the old or the
/// new content, never a mix. With `durable`, file and directory are fsynced, so the new
/// content survives a power loss; without, it may be lost then (for what a crash makes
/// worthless anyway: the record of a container removed when it exits).
pub(crate) fn write_replace(path: &Path, bytes: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().expect("a file in a directory");
    let tmp = tmp_path(dir);
    let r = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if let Err(e) = r {
        let _ = fs::remove_file(&tmp);
        return Err(Error::os("writing", path, e));
    }
    if durable {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// The identity of one version of a file: device, inode, size, mtime and ctime (seconds
/// and nanoseconds). Caches of what was read from a file key on it.
pub(crate) type FileVersion = [i64; 7];

/// The [`FileVersion`] of a file from its metadata.
pub(crate) fn file_version(m: &fs::Metadata) -> FileVersion {
    use std::os::unix::fs::MetadataExt;
    [
        m.dev() as i64,
        m.ino() as i64,
        m.size() as i64,
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ]
}

/// Whether the file's ctime is at least `age` old: only then may a cache trust its
/// [`FileVersion`] (timestamps are as coarse as the kernel's clock tick, so a file
/// changed again within it could keep its times: git calls such entries "racily clean").
pub(crate) fn settled(m: &fs::Metadata, age: std::time::Duration) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .is_ok_and(|now| now.as_secs() as i64 >= m.ctime() + age.as_secs() as i64)
}

/// `n` bytes from `/dev/urandom` (ids, names).
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0; n];
    File::open("/dev/urandom")
        .and_then(|mut f| io::Read::read_exact(&mut f, &mut buf))
        .map_err(|e| Error::os("reading", "/dev/urandom", e))?;
    Ok(buf)
}

/// Now as RFC 3339 in UTC with nanoseconds, as Docker writes container and network times.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

/// Now as RFC 3339 in UTC to the second, as Docker writes image and volume times.
pub(crate) fn now_rfc3339_seconds() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Whether `s` is 1 to `max` bytes of `[a-zA-Z0-9_.-]`: a name that can stand as a file name
/// of ours (ids here, network names in the network store).
pub(crate) fn is_plain_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks that `id` can name a file of ours ([`is_plain_name`], at most 255 bytes, not
/// starting with `.`); `reason` says what it must be in the error.
pub(crate) fn check_id(id: &str, reason: &'static str) -> Result<()> {
    if is_plain_name(id, 255) && !id.starts_with('.') {
        return Ok(());
    }
    Err(Error::InvalidId {
        id: id.into(),
        reason,
    })
}

/// The bytes of the regular files under `p` (symlinks not followed, hard links counted
/// each time).
pub(crate) fn tree_size(p: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Removes a file or a directory tree, making read-only directories writable first.
pub(crate) fn remove_any(path: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::os("removing", path, e)),
    };
    if meta.is_dir() {
        let r = fs::remove_dir_all(path);
        if r.is_err() {
            make_writable(path);
            if let Err(e) = fs::remove_dir_all(path) {
                let denied = matches!(e.raw_os_error(), Some(libc::EACCES | libc::EPERM));
                if !(denied && crate::userns::IdMap::current().keeps_owners()) {
                    return Err(Error::os("removing", path, e));
                }
                // rootless: what a container wrote as another user of the image; the
                // helper is root of the namespace that owns it
                let job = crate::userns::Job::Remove {
                    path: path.to_owned(),
                };
                crate::userns::run(&job, None, None)?;
            }
        }
        Ok(())
    } else {
        fs::remove_file(path).map_err(|e| Error::os("removing", path, e))
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&e.path());
            }
        }
    }
}

/// docker/go-units' `RAMInBytes`, as Docker parses sizes (`--tmpfs size=`, `RUN --mount
/// size=`): `64m`, `1.5g`, `512KiB`, `4096`; binary multiples, one optional space before
/// the unit.
pub(crate) fn ram_in_bytes(s: &str) -> Option<u64> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(digits_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return None;
    }
    let n: f64 = num.parse().ok()?;
    let unit = unit.strip_prefix(' ').unwrap_or(unit).to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mul: u64 = match unit {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return None,
    };
    let v = n * mul as f64;
    (v.is_finite() && v < u64::MAX as f64).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_creates_layout_and_repairs() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let layout: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("images/oci-layout")).unwrap())
                .unwrap();
        assert_eq!(layout["imageLayoutVersion"], "1.0.0");
        let index: serde_json::Value =
            serde_json::from_slice(&fs::read(dir.path().join("images/index.json")).unwrap())
                .unwrap();
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["manifests"].as_array().unwrap().len(), 0);

        // leftovers of a crash
        // (pids above pid_max: their writers are surely dead)
        let tmp_blob = s.blobs.join(".tmp-999999998-0-0");
        fs::write(&tmp_blob, b"half").unwrap();
        let half_layer = s.layers.join(".tmp-999999999-9-9/diff/etc");
        fs::create_dir_all(&half_layer).unwrap();
        let no_meta = s.layers.join("abcd/diff");
        fs::create_dir_all(&no_meta).unwrap();
        let good = s.layers.join("beef");
        fs::create_dir_all(good.join("diff")).unwrap();
        fs::write(good.join("meta.json"), b"{}").unwrap();
        let (d, _) = s.put_blob(b"kept", None).unwrap();
        // A live writer's temp file (this process's) is left alone.
        let live = s.blobs.join(format!(".tmp-{}-7-7", std::process::id()));
        fs::write(&live, b"in flight").unwrap();

        let s = Store::open(dir.path()).unwrap();
        assert!(live.exists(), "a live writer's temp file was removed");
        assert!(!tmp_blob.exists());
        assert!(!s.layers.join(".tmp-999999999-9-9").exists());
        assert!(!s.layers.join("abcd").exists());
        assert!(good.exists());
        assert_eq!(s.read_blob(&d).unwrap(), b"kept");
    }

    #[test]
    fn open_makes_the_store_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        // fresh: the root (and its missing parent's child) and layers/ are 0700
        let root = dir.path().join("a/root");
        Store::open(&root).unwrap();
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("layers")), 0o700);
        // made by an older version: 0755 everywhere, fixed on open (setgid kept)
        let old = dir.path().join("old");
        fs::create_dir_all(old.join("layers")).unwrap();
        fs::set_permissions(&old, fs::Permissions::from_mode(0o2755)).unwrap();
        fs::set_permissions(old.join("layers"), fs::Permissions::from_mode(0o755)).unwrap();
        Store::open(&old).unwrap();
        assert_eq!(mode(&old), 0o2700);
        assert_eq!(mode(&old.join("layers")), 0o700);
    }

    #[test]
    fn set_ref_replaces_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (d1, n1) = s.put_blob(b"{}", None).unwrap();
        let desc = Descriptor::new(MediaType::ImageManifest, n1, d1.clone());
        s.set_ref("docker.io/library/a:latest", &desc).unwrap();
        s.set_ref("docker.io/library/a:latest", &desc).unwrap();
        s.set_ref("docker.io/library/b:1", &desc).unwrap();
        let idx = s.index().unwrap();
        let names: Vec<_> = idx.manifests().iter().filter_map(ref_name).collect();
        assert_eq!(
            names,
            ["docker.io/library/a:latest", "docker.io/library/b:1"]
        );
    }

    #[test]
    fn concurrent_index_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (d, n) = s.put_blob(b"{}", None).unwrap();
        let desc = Descriptor::new(MediaType::ImageManifest, n, d);
        std::thread::scope(|sc| {
            for t in 0..8 {
                let (s, desc) = (Store::open(dir.path()).unwrap(), desc.clone());
                sc.spawn(move || {
                    for i in 0..10 {
                        s.set_ref(&format!("x/t{t}:{i}"), &desc).unwrap();
                    }
                });
            }
        });
        assert_eq!(s.index().unwrap().manifests().len(), 80);
    }

    #[test]
    fn corrupt_blob_is_detected_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let (d, _) = s.put_blob(b"content", None).unwrap();
        fs::write(s.blob_path(&d), b"tampered").unwrap();
        assert!(matches!(s.read_blob(&d), Err(Error::DigestMismatch { .. })));
    }
}
