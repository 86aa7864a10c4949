//! Volumes: named (and anonymous) volumes kept under the engine root, and the mount specs
//! (named volume | bind | tmpfs) a container is given.
//!
//! ```text
//! <root>/volumes/<name>/_data/          the content, bind-mounted into containers (as Docker)
//! <root>/volumes/<name>/meta.json       name, driver, created, labels, options, mountpoint
//! <root>/volumes/<name>/users/<id>      one empty file per container using the volume
//! ```
//!
//! DESIGN.md draws the content directory as `data`; it is `_data`, as Docker names it, so
//! tools and habits that know Docker's layout find the content where they expect it.
//!
//! In-use tracking lives on disk so that it survives a crash of the program and is seen by
//! every process sharing the root: [`VolumeStore::acquire`] adds a file under `users/`,
//! [`VolumeStore::release`] removes it, both under an exclusive `flock` on the volume's
//! directory, which [`VolumeStore::remove`] and [`VolumeStore::prune`] take too. A
//! container that died without releasing is cleared with [`VolumeStore::release_all`].
//!
//! Creating, removing and pruning hold an exclusive `flock` on `<root>/volumes` itself. A
//! volume appears whole or not at all: it is assembled in a `.tmp-…` directory and
//! renamed; removal renames it away before deleting it. [`VolumeStore::open`] removes what
//! a crash left of either.

mod mount;
mod populate;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::store::{
    fsync_dir, lock_dir, read_json, remove_any, tmp_path, write_atomic, Lock, TMP_PREFIX,
};
use crate::{Error, Result};

pub use mount::{Mount, MountType, Propagation};
pub(crate) use populate::Source;

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

const DATA: &str = "_data";
const META: &str = "meta.json";
const USERS: &str = "users";

/// The named volumes under one engine root:
///
/// ```text
/// <root>/volumes/<name>/_data/          the content, bind-mounted into containers (as Docker)
/// <root>/volumes/<name>/meta.json       name, driver, created, labels, options, mountpoint
/// <root>/volumes/<name>/users/<id>      one empty file per container using the volume
/// ```
///
/// Who uses a volume is kept on disk, so it survives a crash and every process sharing the
/// root sees it: a container's create and remove add and remove its file under `users/`,
/// holding an exclusive `flock` on the volume's directory, which [`remove`](Self::remove) and [`prune`](Self::prune) take too. A volume appears whole or
/// not at all (assembled in a `.tmp-…` directory and renamed), and [`open`](Self::open)
/// removes what a crash left.
///
/// Cheap to clone and share between threads; several processes may open the same root.
#[derive(Debug, Clone)]
pub struct VolumeStore {
    dir: PathBuf,
}

/// A named volume: its name, where its content lives, and its metadata.
///
/// ```no_run
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let data = engine.volumes().create("data", [("team", "web")])?; // `docker volume create`
/// let image = engine.image("busybox")?;
/// engine
///     .container(&image)
///     .args(["sh", "-c", "echo kept > /data/note"])
///     .volume(data.name(), "/data")
///     .auto_remove(true)
///     .status()?;
/// let note = std::fs::read_to_string(data.mountpoint().join("note")).expect("written");
/// assert_eq!(note, "kept\n");
/// engine.volumes().remove(data.name(), false)?; // unused now: removed, content and all
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    meta: Meta,
}

/// What `meta.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Meta {
    name: String,
    driver: String,
    /// RFC 3339, UTC.
    created_at: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    mountpoint: PathBuf,
    /// The volume was filled from an image's content once; it never is again.
    #[serde(default)]
    populated: bool,
}

/// A volume as `docker volume inspect` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeInspect {
    /// The volume's name.
    pub name: String,
    /// Always `local`.
    pub driver: String,
    /// The host directory holding the content (`…/volumes/<name>/_data`).
    pub mountpoint: PathBuf,
    /// When it was created, RFC 3339.
    pub created_at: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Always `local`.
    pub scope: String,
    /// Driver options (none for now).
    pub options: BTreeMap<String, String>,
}

/// What [`VolumeStore::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The names of the removed volumes, sorted.
    pub volumes: Vec<String>,
    /// The bytes their content took (file sizes, hard links counted once).
    pub reclaimed: u64,
}

impl Volume {
    /// The volume's name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// The host directory holding its content (`…/volumes/<name>/_data`): the source of
    /// the bind mount a container gets.
    pub fn mountpoint(&self) -> &Path {
        &self.meta.mountpoint
    }

    /// Its labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.meta.labels
    }

    /// When it was created, RFC 3339 (UTC, as Docker's `CreatedAt`).
    pub fn created_at(&self) -> &str {
        &self.meta.created_at
    }

    /// Whether it carries Docker's anonymous-volume label.
    pub fn is_anonymous(&self) -> bool {
        self.meta.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// Whether it was filled from an image's content (at its first use by a container, from
    /// what the image has at the mount point, as Docker does).
    pub fn is_populated(&self) -> bool {
        self.meta.populated
    }

    /// The volume as `docker volume inspect` shows it.
    pub fn inspect(&self) -> VolumeInspect {
        VolumeInspect {
            name: self.meta.name.clone(),
            driver: self.meta.driver.clone(),
            mountpoint: self.meta.mountpoint.clone(),
            created_at: self.meta.created_at.clone(),
            labels: self.meta.labels.clone(),
            scope: "local".into(),
            options: self.meta.options.clone(),
        }
    }

    /// A fresh name for an anonymous volume: 64 random hex digits from `/dev/urandom`, as
    /// Docker names them.
    ///
    /// # Errors
    /// [`Error::Os`] if `/dev/urandom` cannot be read.
    pub fn anonymous_name() -> Result<String> {
        crate::store::random_bytes(32).map(hex::encode)
    }
}

/// Its name, so that a `&Volume` goes wherever a volume name does
/// ([`ContainerBuilder::volume`](crate::ContainerBuilder::volume)).
impl AsRef<str> for Volume {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// How a name breaks Docker's rule for container and volume names:
/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most 255 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameFault {
    /// The name is empty.
    Empty,
    /// It starts with something other than a letter or digit.
    Start,
    /// It is one character long.
    Short,
    /// It is longer than 255 bytes.
    Long,
    /// It has a character outside `[a-zA-Z0-9_.-]`.
    Chars,
}

/// Checks `name` against Docker's rule for container and volume names.
pub(crate) fn name_fault(name: &str) -> Option<NameFault> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Some(NameFault::Empty),
        Some(c) if !c.is_ascii_alphanumeric() => return Some(NameFault::Start),
        _ => {}
    }
    if name.len() < 2 {
        Some(NameFault::Short)
    } else if name.len() > 255 {
        Some(NameFault::Long)
    } else if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        Some(NameFault::Chars)
    } else {
        None
    }
}

/// Checks a volume name against Docker's rules: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let reason = match name_fault(name) {
        None => return Ok(()),
        Some(NameFault::Empty) => "it is empty",
        Some(NameFault::Start) => "it must start with a letter or digit ([a-zA-Z0-9][a-zA-Z0-9_.-]+); a host directory must be an absolute path",
        Some(NameFault::Short) => "it must be at least two characters long",
        Some(NameFault::Long) => "it is longer than 255 bytes",
        Some(NameFault::Chars) => {
            "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed; a host directory must be an absolute path"
        }
    };
    Err(Error::InvalidVolumeName {
        name: name.into(),
        reason,
    })
}

/// Checks a container id used as a file name under `users/`.
fn check_user(id: &str) -> Result<()> {
    crate::store::check_id(
        id,
        "a volume user must be a container id of [a-zA-Z0-9_.-], not starting with '.'",
    )
}

impl VolumeStore {
    /// Opens (creating if needed) the volumes of the engine root `root` (`<root>/volumes`),
    /// removing what a crash left of a create or a remove.
    ///
    /// # Errors
    /// [`Error::Os`] if the directory cannot be created or read.
    pub fn open(root: impl AsRef<Path>) -> Result<VolumeStore> {
        let dir = root.as_ref().join("volumes");
        // Private (0700, also fixed on a directory an older version made 0701): container
        // root can put setuid binaries into a volume.
        crate::store::private_dir(&dir, "creating volumes directory")?;
        let dir = fs::canonicalize(&dir).map_err(|e| Error::os("resolving", &dir, e))?;
        let store = VolumeStore { dir };
        let _lock = store.lock_all()?;
        for entry in fs::read_dir(&store.dir).map_err(|e| Error::os("reading", &store.dir, e))? {
            let entry = entry.map_err(|e| Error::os("reading", &store.dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TMP_PREFIX) && !writer_alive(name) {
                remove_any(&entry.path())?;
            }
        }
        Ok(store)
    }

    /// The directory holding the volumes (`<root>/volumes`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock_all(&self) -> Result<Lock> {
        lock_dir(&self.dir).map_err(|e| Error::os("locking", &self.dir, e))
    }

    /// Locks a volume's directory; the volume must still be the one at its name once locked.
    fn lock_volume(&self, name: &str) -> Result<(Lock, PathBuf)> {
        check_name(name)?;
        let dir = self.dir.join(name);
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::VolumeNotFound { name: name.into() })
            }
            Err(e) => return Err(Error::os("locking volume", &dir, e)),
        };
        // A remove may have renamed the directory away while we waited for the lock.
        let locked =
            rustix::fs::fstat(lock.file()).map_err(|e| Error::os("stat", &dir, e.into()))?;
        match fs::metadata(&dir) {
            Ok(m) if m.ino() == locked.st_ino && m.dev() == locked.st_dev => Ok((lock, dir)),
            _ => Err(Error::VolumeNotFound { name: name.into() }),
        }
    }

    fn read_meta(&self, name: &str) -> Result<Meta> {
        let path = self.dir.join(name).join(META);
        read_json(&path, "volume metadata")?
            .ok_or_else(|| Error::VolumeNotFound { name: name.into() })
    }

    fn write_meta(&self, dir: &Path, meta: &Meta) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(meta).expect("volume metadata serialises");
        write_atomic(&dir.join(META), &bytes)
    }

    /// Creates the volume `name` with `labels`, or returns it if it exists (as Docker does;
    /// the labels of an existing volume are left as they are).
    ///
    /// # Errors
    /// [`Error::InvalidVolumeName`] for a name outside `[a-zA-Z0-9][a-zA-Z0-9_.-]+`,
    /// [`Error::Os`] if its directories or metadata cannot be written.
    pub fn create<K, V>(
        &self,
        name: &str,
        labels: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Volume>
    where
        K: Into<String>,
        V: Into<String>,
    {
        check_name(name)?;
        let _lock = self.lock_all()?;
        match self.read_meta(name) {
            Ok(meta) => return Ok(Volume { meta }),
            Err(Error::VolumeNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let final_dir = self.dir.join(name);
        let meta = Meta {
            name: name.into(),
            driver: "local".into(),
            created_at: crate::store::now_rfc3339_seconds(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            options: BTreeMap::new(),
            mountpoint: final_dir.join(DATA),
            populated: false,
        };
        let tmp = tmp_path(&self.dir);
        let r = (|| {
            let mut b = fs::DirBuilder::new();
            b.mode(0o700)
                .create(&tmp)
                .map_err(|e| Error::os("creating volume directory", &tmp, e))?;
            b.mode(0o755)
                .create(tmp.join(DATA))
                .map_err(|e| Error::os("creating volume directory", tmp.join(DATA), e))?;
            b.mode(0o700)
                .create(tmp.join(USERS))
                .map_err(|e| Error::os("creating volume directory", tmp.join(USERS), e))?;
            self.write_meta(&tmp, &meta)?;
            fs::rename(&tmp, &final_dir).map_err(|e| Error::os("creating volume", &final_dir, e))
        })();
        if let Err(e) = r {
            let _ = remove_any(&tmp);
            return Err(e);
        }
        fsync_dir(&self.dir)?;
        self.event("create", name);
        Ok(Volume { meta })
    }

    /// Records Docker's volume event `action` about `name` in the engine root's events.
    fn event(&self, action: &str, name: &str) {
        if let Some(root) = self.dir.parent() {
            crate::container::events::volume(root, action, name, &[]);
        }
    }

    /// Creates an anonymous volume: a random name ([`Volume::anonymous_name`]) and Docker's
    /// [`ANONYMOUS_LABEL`].
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub fn create_anonymous(&self) -> Result<Volume> {
        self.create(&Volume::anonymous_name()?, [(ANONYMOUS_LABEL, "")])
    }

    /// The volume `name`.
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], [`Error::InvalidVolumeName`], or [`Error::Os`] if its
    /// metadata cannot be read.
    pub fn get(&self, name: &str) -> Result<Volume> {
        check_name(name)?;
        Ok(Volume {
            meta: self.read_meta(name)?,
        })
    }

    /// The volume `name` as `docker volume inspect` shows it.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn inspect(&self, name: &str) -> Result<VolumeInspect> {
        Ok(self.get(name)?.inspect())
    }

    /// All volumes, sorted by name, that carry every label in `labels`: each is `key` (any
    /// value) or `key=value`, as `docker volume ls --filter label=…`. An empty filter lists
    /// them all.
    ///
    /// # Errors
    /// [`Error::Os`] if the directory or a volume's metadata cannot be read.
    pub fn list(&self, labels: &[&str]) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for name in self.names()? {
            let meta = match self.read_meta(&name) {
                Ok(m) => m,
                // removed while we listed
                Err(Error::VolumeNotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            let matches = labels.iter().all(|f| match f.split_once('=') {
                Some((k, v)) => meta.labels.get(k).is_some_and(|x| x == v),
                None => meta.labels.contains_key(*f),
            });
            if matches {
                out.push(Volume { meta });
            }
        }
        Ok(out)
    }

    fn names(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::os("reading", &self.dir, e))? {
            let entry = entry.map_err(|e| Error::os("reading", &self.dir, e))?;
            if let Some(name) = entry.file_name().to_str() {
                if check_name(name).is_ok() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Records that container `container_id` uses volume `name` (a file under its `users/`),
    /// so that [`remove`](Self::remove) and [`prune`](Self::prune) refuse it. Acquiring
    /// twice is the same as once.
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], [`Error::InvalidId`] for an id that is not a plain file
    /// name, [`Error::Os`] if the file cannot be written.
    pub(crate) fn acquire(&self, name: &str, container_id: &str) -> Result<()> {
        check_user(container_id)?;
        let (_lock, dir) = self.lock_volume(name)?;
        let path = dir.join(USERS).join(container_id);
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::os("recording volume user", &path, e))?;
        fsync_dir(&dir.join(USERS))
    }

    /// Records that container `container_id` no longer uses volume `name`. Releasing a
    /// volume not held, or one that no longer exists, is not an error.
    ///
    /// # Errors
    /// [`Error::InvalidId`], or [`Error::Os`] if the file cannot be removed.
    pub(crate) fn release(&self, name: &str, container_id: &str) -> Result<()> {
        check_user(container_id)?;
        let (_lock, dir) = match self.lock_volume(name) {
            Ok(l) => l,
            Err(Error::VolumeNotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        let path = dir.join(USERS).join(container_id);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::os("removing volume user", &path, e)),
        }
    }

    /// Releases every volume container `container_id` holds (after it is removed, or
    /// found dead with its record gone); returns their names, sorted.
    ///
    /// # Errors
    /// As [`release`](Self::release).
    pub(crate) fn release_all(&self, container_id: &str) -> Result<Vec<String>> {
        check_user(container_id)?;
        let mut released = Vec::new();
        for name in self.names()? {
            if self.dir.join(&name).join(USERS).join(container_id).exists() {
                self.release(&name, container_id)?;
                released.push(name);
            }
        }
        Ok(released)
    }

    /// The ids of the containers using volume `name`, sorted.
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], or [`Error::Os`] if `users/` cannot be read.
    pub fn users(&self, name: &str) -> Result<Vec<String>> {
        check_name(name)?;
        let dir = self.dir.join(name).join(USERS);
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(Error::VolumeNotFound { name: name.into() })
            }
            Err(e) => return Err(Error::os("reading volume users", &dir, e)),
        };
        let mut users: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| !n.starts_with('.'))
            .collect();
        users.sort();
        Ok(users)
    }

    /// Removes volume `name` and its content. A volume in use is refused, `force` or not
    /// (as `docker volume rm -f`); `force` only makes a missing volume no error.
    ///
    /// # Errors
    /// [`Error::VolumeInUse`] while a container (existing, running or not) uses it,
    /// [`Error::VolumeNotFound`] unless `force`, [`Error::Os`] if it cannot be deleted.
    pub fn remove(&self, name: &str, force: bool) -> Result<()> {
        let _all = self.lock_all()?;
        let (lock, dir) = match self.lock_volume(name) {
            Err(Error::VolumeNotFound { .. }) if force => return Ok(()),
            r => r?,
        };
        let users = self.users(name)?;
        if !users.is_empty() {
            return Err(Error::VolumeInUse {
                name: name.into(),
                users,
            });
        }
        self.delete(&dir, lock)?;
        self.event("destroy", name);
        Ok(())
    }

    /// Renames the volume away (so it vanishes at once), then deletes it.
    fn delete(&self, dir: &Path, lock: Lock) -> Result<()> {
        let tmp = tmp_path(&self.dir);
        fs::rename(dir, &tmp).map_err(|e| Error::os("removing volume", dir, e))?;
        drop(lock);
        fsync_dir(&self.dir)?;
        remove_any(&tmp)
    }

    /// Removes every volume no container uses (as `docker volume prune --all`: anonymous
    /// and named alike); returns their names and the bytes reclaimed.
    ///
    /// # Errors
    /// [`Error::Os`] if a volume cannot be read or deleted; the ones before it are gone.
    pub fn prune(&self) -> Result<Pruned> {
        self.prune_matching(true)
    }

    /// Removes every anonymous volume no container uses (`docker volume prune` without
    /// `--all`, Docker's default since API 1.42); as [`prune`](Self::prune) otherwise.
    ///
    /// # Errors
    /// As [`prune`](Self::prune).
    pub fn prune_anonymous(&self) -> Result<Pruned> {
        self.prune_matching(false)
    }

    fn prune_matching(&self, named_too: bool) -> Result<Pruned> {
        let _all = self.lock_all()?;
        let mut pruned = Pruned::default();
        for name in self.names()? {
            let (lock, dir) = match self.lock_volume(&name) {
                Ok(l) => l,
                Err(Error::VolumeNotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            if !self.users(&name)?.is_empty() {
                continue;
            }
            if !named_too
                && !self
                    .read_meta(&name)
                    .is_ok_and(|m| m.labels.contains_key(ANONYMOUS_LABEL))
            {
                continue;
            }
            pruned.reclaimed += du(&dir.join(DATA));
            self.delete(&dir, lock)?;
            self.event("destroy", &name);
            pruned.volumes.push(name);
        }
        Ok(pruned)
    }

    /// Fills volume `name` from `src` (the image's content at the mount point, as the
    /// engine resolved it in the container's root: a directory, or for a root that is not
    /// mounted, a rootless container's, that directory in each layer, whose merged view is
    /// copied, see [`Source::Layers`]) the way Docker does on first mount: only if the
    /// volume was never populated and its content is empty. Files, directories, symlinks,
    /// hard links, fifos and devices are copied with their modes, owners, times and xattrs
    /// (owners and devices only as root; rootless with a subordinate range, a rootless
    /// container's layers are copied by the store's helper, which keeps owners); `_data`
    /// takes the mode and owner of the source
    /// directory (the top layer's). Symlinks are copied as links and never followed, and
    /// nothing is written outside the volume's `_data`. Returns whether anything was
    /// copied; once it has been, the volume is marked populated and never filled again.
    ///
    /// A source directory that does not exist or is not a directory (a symlink included)
    /// copies nothing.
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], or [`Error::Os`] naming the entry that failed to copy.
    pub(crate) fn populate(&self, name: &str, src: &Source) -> Result<bool> {
        let (_lock, dir) = self.lock_volume(name)?;
        let mut meta = self.read_meta(name)?;
        if meta.populated {
            return Ok(false);
        }
        let data = dir.join(DATA);
        let empty = fs::read_dir(&data)
            .map_err(|e| Error::os("reading", &data, e))?
            .next()
            .is_none();
        if !empty {
            return Ok(false);
        }
        let copied = match src {
            // the layers hold files of the image's other users (the user's subordinate
            // ids): read and chowned by the helper that is root of the store's namespace
            Source::Layers(layers) if crate::userns::IdMap::current().keeps_owners() => {
                let job = crate::userns::Job::Populate {
                    layers: layers.clone(),
                    dest: data.clone(),
                };
                crate::userns::run(&job, None, None)?.entries > 0
            }
            _ => populate::copy(src, &data)?,
        };
        if copied {
            meta.populated = true;
            self.write_meta(&dir, &meta)?;
        }
        Ok(copied)
    }

    /// What the engine does for each volume mount of a container it creates: creates the
    /// volume on first use (an anonymous one for [`Mount::anonymous`]), records
    /// `container_id` as a user, fills it from `image_dir` (the image's content at the
    /// mount point, if any, see [`populate`](Self::populate)) unless the mount says
    /// `nocopy`, and returns the runtime mount.
    /// Bind and tmpfs mounts are only converted ([`Mount::to_oci`]). Returns the volume's
    /// name too, for the container's record.
    ///
    /// # Errors
    /// As [`Mount::to_oci`], [`acquire`](Self::acquire) and
    /// [`populate`](Self::populate); a failure after the acquire releases it.
    pub(crate) fn attach(
        &self,
        mount: &Mount,
        container_id: &str,
        image_dir: Option<&Source>,
    ) -> Result<(oci_spec::runtime::Mount, Option<String>)> {
        if mount.mount_type() != MountType::Volume {
            return Ok((mount.to_oci(self)?, None));
        }
        mount.validate()?;
        check_user(container_id)?;
        let volume = match mount.volume_name() {
            Some(name) => self.create(name, mount.volume_labels().iter().cloned())?,
            None => self.create_anonymous()?,
        };
        let name = volume.name().to_owned();
        self.acquire(&name, container_id)?;
        let r = (|| {
            if let (Some(src), false) = (image_dir, mount.is_no_copy()) {
                self.populate(&name, src)?;
            }
            Ok::<_, Error>(mount.to_oci_at(volume.mountpoint()))
        })();
        if r.is_err() {
            let _ = self.release(&name, container_id);
        }
        Ok((r?, Some(name)))
    }
}

/// The [`Job::Populate`](crate::userns::Job::Populate) of the rootless store's helper:
/// copies the merged `layers` into the volume directory `dest`, as root of the store's
/// user namespace (owners kept); whether anything was copied.
///
/// # Errors
/// As [`VolumeStore::populate`].
pub(crate) fn serve_populate(layers: Vec<PathBuf>, dest: &Path) -> Result<bool> {
    populate::copy(&Source::Layers(layers), dest)
}

/// Whether the process that made temp entry `name` (`.tmp-<pid>-…`) still runs.
fn writer_alive(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix(TMP_PREFIX)
        .and_then(|r| r.split('-').next())
        .and_then(|p| p.parse::<u32>().ok())
    else {
        return false;
    };
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

/// The bytes of the files under `dir` (symlinks included, hard links once), not following
/// symlinks, as Docker sizes a volume.
fn du(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

#[cfg(test)]
mod tests;
