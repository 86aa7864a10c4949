//! The container store: `<root>/containers`, its name claims and records, the live state of
//! a container, and the stores a container borrows (images, runtime, volumes, networks).
//!
//! [`Engine`](crate::Engine) opens it and hands it out; everything under `container/`
//! works through it, never through the engine. The lifecycle verbs are `impl` blocks of
//! their own: [`create`](super::create), [`start`](super::start),
//! [`release`](super::release), [`remove`](super::remove), [`rename`](super::rename),
//! [`restart`](super::restart); [`repair`](super::repair) runs when the root is opened.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::monitor::{self, MonitorStatus};
use super::record::{self, owner_alive, Record};
use super::release::Ending;
use super::{Container, ContainerFilter, State, Status};
use crate::image::registry;
use crate::network::NetworkStore;
use crate::runtime::{self, Runtime};
use crate::store::{random_bytes, Store};
use crate::volume::VolumeStore;
use crate::Images;
use crate::{Error, Result};

/// The containers under `<root>/containers` and the stores they borrow. Cheap to clone;
/// every clone (and every process opening the same root) sees the same containers.
///
/// ```text
/// <root>/containers/<id>/          one OCI bundle per container (see crate::container)
/// <root>/containers/.names/<name>  a symlink to the id holding the name
/// ```
#[derive(Debug, Clone)]
pub(crate) struct ContainerStore {
    root: PathBuf,
    dir: PathBuf,
    images: Store,
    runtime: Runtime,
    volumes: VolumeStore,
    networks: NetworkStore,
}

impl ContainerStore {
    /// Pulls `reference` into the image store (`docker pull`) and records the `pull`
    /// event; the image, with its references.
    ///
    /// # Errors
    /// The registry's, or reading the image back.
    pub(crate) fn pull(
        &self,
        reference: &crate::Reference,
        options: &registry::PullOptions,
        progress: &(dyn Fn(&registry::Progress) + Sync),
    ) -> Result<crate::Image> {
        registry::pull(self.images(), reference, options, progress)?;
        super::events::image_reference(self.images().store(), "pull", reference);
        self.images().inspect(reference)
    }

    /// Pushes the local image `reference` to the registry it names (`docker push`) and
    /// records the `push` event; the manifest digest.
    ///
    /// # Errors
    /// The registry's; [`Error::ImageNotFound`].
    pub(crate) fn push(
        &self,
        reference: &crate::Reference,
        options: &registry::PushOptions,
        progress: &(dyn Fn(&registry::Progress) + Sync),
    ) -> Result<oci_spec::image::Digest> {
        let digest = registry::push(self.images(), reference, options, progress)?;
        super::events::image_reference(self.images().store(), "push", reference);
        Ok(digest)
    }

    /// Opens (creating if needed) `<root>/containers` with the stores its containers use;
    /// [`repair`](Self::repair) is left to the caller.
    ///
    /// # Errors
    /// [`Error::Os`] if the directories cannot be created.
    pub(crate) fn open(
        root: &Path,
        images: Store,
        runtime: Runtime,
        volumes: VolumeStore,
        networks: NetworkStore,
    ) -> Result<ContainerStore> {
        let dir = root.join("containers");
        crate::store::private_dir(&dir, "creating containers directory")?;
        let names = dir.join(".names");
        fs::create_dir_all(&names)
            .map_err(|e| Error::os("creating containers directory", &names, e))?;
        Ok(ContainerStore {
            root: root.to_owned(),
            dir,
            images,
            runtime,
            volumes,
            networks,
        })
    }

    /// The engine root.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The images (the handle [`Engine::images`](crate::Engine::images) gives out).
    pub(crate) fn images(&self) -> Images<'_> {
        Images::new(&self.images)
    }

    /// The runtime running the containers (`<root>/runtime`).
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The volumes containers mount.
    pub(crate) fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    /// The networks containers attach to.
    pub(crate) fn networks(&self) -> &NetworkStore {
        &self.networks
    }

    /// The directory (bundle) of the container `id`.
    pub(crate) fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// Takes the lock of the container `id`: flock on its directory, held until the guard
    /// drops (gone with the directory, so nothing is left to clean up). Start, release and
    /// remove hold it, one at a time; whoever gets it after a remove finds no record.
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] when the directory is gone, [`Error::Os`] otherwise.
    pub(crate) fn lock(&self, id: &str) -> Result<crate::store::Lock> {
        let dir = self.dir(id);
        crate::store::lock_dir(&dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::ContainerNotFound { id: id.to_owned() },
            _ => Error::os("locking container directory", &dir, e),
        })
    }

    /// This process, as a container's owner: pid and start time.
    pub(crate) fn owner(&self) -> (i32, u64) {
        record::this_process()
    }

    /// Every container directory with its record (`None`: a create interrupted before
    /// writing it).
    pub(crate) fn records(&self) -> Result<Vec<(PathBuf, Option<Record>)>> {
        let containers = open_dir(&self.dir)?;
        Ok(self
            .record_dirs()?
            .into_iter()
            .map(|dir| {
                let id = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let rec = Record::load_in(&containers, &self.dir, id).ok();
                (dir, rec)
            })
            .collect())
    }

    /// The directory of every container (named by its id).
    pub(crate) fn record_dirs(&self) -> Result<Vec<PathBuf>> {
        let rd = fs::read_dir(&self.dir)
            .map_err(|e| Error::os("reading containers directory", &self.dir, e))?;
        Ok(rd
            .flatten()
            .filter(|e| e.file_name().to_str().is_some_and(is_id))
            .map(|e| e.path())
            .collect())
    }

    /// The containers directory (`<root>/containers`).
    pub(crate) fn containers_dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the containers lock, makes a fresh id and its directory, and claims the name
    /// (given, or a random one). The lock is held until the returned guard drops (the
    /// caller writes the record first).
    pub(crate) fn reserve(
        &self,
        name: Option<&str>,
    ) -> Result<(String, String, PathBuf, crate::store::Lock)> {
        let lock = self.images.lock("containers")?;
        let random = random_bytes(34)?;
        let id = hex::encode(&random[..32]);
        let dir = self.dir(&id);
        fs::create_dir(&dir).map_err(|e| Error::os("creating container directory", &dir, e))?;
        let claimed = match name {
            Some(n) => {
                let n = n.trim_start_matches('/').to_owned();
                match self.claim_name(&n, &id) {
                    Ok(None) => Ok(n),
                    Ok(Some(holder)) => Err(Error::ContainerNameInUse {
                        name: n,
                        id: holder,
                    }),
                    Err(e) => Err(e),
                }
            }
            None => self.claim_random_name(&random[32..], &id),
        };
        match claimed {
            Ok(name) => Ok((id, name, dir, lock)),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    /// Claims `adjective_name` from `seed`, or the first free `adjective_nameN`.
    fn claim_random_name(&self, seed: &[u8], id: &str) -> Result<String> {
        let base = super::random_name(seed);
        let mut i = 0;
        loop {
            let n = if i == 0 {
                base.clone()
            } else {
                format!("{base}{i}")
            };
            match self.claim_name(&n, id) {
                Ok(None) => return Ok(n),
                Ok(Some(_)) => i += 1,
                Err(e) => return Err(e),
            }
        }
    }

    pub(crate) fn names_dir(&self) -> PathBuf {
        self.dir.join(".names")
    }

    /// Claims `name` for `id` (the containers lock held): `<containers>/.names/<name>` is a
    /// symlink to the id, so a name is checked and taken in O(1) however many containers
    /// exist. Returns the id holding it when taken; a link whose container directory is gone
    /// (a crash) is replaced.
    pub(crate) fn claim_name(&self, name: &str, id: &str) -> Result<Option<String>> {
        let link = self.names_dir().join(name);
        loop {
            match std::os::unix::fs::symlink(id, &link) {
                Ok(()) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if let Some(holder) = self.name_holder(name) {
                        return Ok(Some(holder));
                    }
                    fs::remove_file(&link)
                        .map_err(|e| Error::os("removing stale container name", &link, e))?;
                }
                Err(e) => return Err(Error::os("claiming container name", &link, e)),
            }
        }
    }

    /// The id of the live container named `name`, if any.
    pub(crate) fn name_holder(&self, name: &str) -> Option<String> {
        let target = fs::read_link(self.names_dir().join(name)).ok()?;
        let id = target.to_str()?.to_owned();
        (id.len() == 64 && self.dir(&id).is_dir()).then_some(id)
    }

    /// Drops `name` if `id` holds it.
    pub(crate) fn release_name(&self, name: &str, id: &str) {
        let link = self.names_dir().join(name);
        if fs::read_link(&link).is_ok_and(|t| t.as_os_str() == id) {
            let _ = fs::remove_file(&link);
        }
    }

    /// What the monitor of a detached container says, once it has been started (a
    /// detached container still `created` is being set up by its owner); `None` otherwise.
    pub(crate) fn monitor_status(&self, rec: &Record) -> Option<MonitorStatus> {
        if !rec.detached || !matches!(rec.info.state.status, Status::Running | Status::Paused) {
            return None;
        }
        let dir = self.dir(&rec.info.id);
        monitor::status(self.runtime.root(), &rec.info.id, record::exit_path(&dir)).ok()
    }

    /// The live state of a container: the record, corrected by what the runtime says (and,
    /// for a detached container, its monitor).
    pub(crate) fn live_state(&self, rec: &Record) -> State {
        let mut st = rec.info.state.clone();
        if !matches!(
            st.status,
            Status::Running | Status::Created | Status::Paused
        ) || (rec.standby && st.status == Status::Created)
        {
            return st;
        }
        match self.monitor_status(rec) {
            Some(MonitorStatus::Running { pid, .. }) => {
                st.pid = pid;
                if self.paused(&rec.info.id) {
                    st.status = Status::Paused;
                    st.paused = true;
                }
                return st;
            }
            Some(exited) => {
                if let Some(end) = Ending::of_monitor(&exited) {
                    end.record(&mut st);
                }
                return st;
            }
            None => {}
        }
        match self.runtime.state(&rec.info.id) {
            Ok(s) => match s.status {
                runtime::Status::Running => {}
                runtime::Status::Paused => {
                    st.status = Status::Paused;
                    st.paused = true;
                }
                runtime::Status::Created | runtime::Status::Creating => {}
                runtime::Status::Stopped => {
                    // exited, not yet waited for by its owner
                    st.status = Status::Exited;
                    st.running = false;
                    st.pid = 0;
                }
            },
            Err(_) if st.status == Status::Created && owner_alive(rec.owner) => {}
            // Its owner is recording the exit right now.
            Err(_) if owner_alive(rec.owner) => {
                st.status = Status::Exited;
                st.running = false;
                st.pid = 0;
            }
            Err(_) => {
                st.status = Status::Dead;
                st.dead = true;
                st.running = false;
                st.pid = 0;
            }
        }
        st
    }

    /// Whether the runtime sees the container `id` frozen.
    fn paused(&self, id: &str) -> bool {
        self.runtime
            .state(id)
            .is_ok_and(|s| s.status == runtime::Status::Paused)
    }

    /// The persisted record of the container `id`, as a [`Container`].
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] when it has no (readable) record.
    pub(crate) fn load(&self, id: &str) -> Result<Container> {
        let dir = self.dir(id);
        let rec = Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() })?;
        Ok(Container::new(self.clone(), dir, rec))
    }

    /// Every container, oldest first.
    pub(crate) fn list(&self) -> Result<Vec<Container>> {
        let mut out: Vec<Container> = self
            .records()?
            .into_iter()
            .filter_map(|(dir, r)| r.map(|r| Container::new(self.clone(), dir, r)))
            .collect();
        out.sort_by(|a, b| {
            a.inspect_created()
                .cmp(b.inspect_created())
                .then(a.id().cmp(b.id()))
        });
        Ok(out)
    }

    /// The container with this name, id, or unique id prefix.
    pub(crate) fn get(&self, name_or_id: &str) -> Result<Container> {
        let key = name_or_id.trim_start_matches('/');
        let by_name = super::validate_name(key)
            .ok()
            .and_then(|()| self.name_holder(key));
        if let Some(id) =
            by_name.or_else(|| (is_id(key) && self.dir(key).is_dir()).then(|| key.to_owned()))
        {
            if let Ok(c) = self.load(&id) {
                return Ok(c);
            }
        }
        let all = self.list()?;
        if let Some(c) = all.iter().find(|c| c.id() == key || c.name() == key) {
            return Ok(c.clone());
        }
        let matches: Vec<&Container> = if key.is_empty() {
            Vec::new()
        } else {
            all.iter().filter(|c| c.id().starts_with(key)).collect()
        };
        match matches.len() {
            0 => Err(Error::ContainerNotFound {
                id: name_or_id.to_owned(),
            }),
            1 => Ok(matches[0].clone()),
            n => Err(Error::AmbiguousContainer {
                prefix: name_or_id.to_owned(),
                count: n,
            }),
        }
    }
}

/// Whether `s` is a container id: 64 hex digits.
fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The containers of an [`Engine`](crate::Engine): list them, get one by name or id.
#[derive(Debug, Clone, Copy)]
pub struct Containers<'e> {
    store: &'e ContainerStore,
}

impl<'e> Containers<'e> {
    pub(crate) fn new(store: &'e ContainerStore) -> Self {
        Containers { store }
    }

    /// Every container, running or not (`docker ps -a`), oldest first.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers directory cannot be read.
    pub fn list(&self) -> Result<Vec<Container>> {
        self.store.list()
    }

    /// The containers `filter` lets through (`docker ps [-a] [--filter ..]`), oldest
    /// first, with their current state.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers directory cannot be read.
    pub fn filter(&self, filter: &ContainerFilter) -> Result<Vec<Container>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|c| filter.matches(c, self.store.live_state(&c.record).status))
            .collect())
    }

    /// What [`filter`](Self::filter) lists, each with its [`Inspect`](super::Inspect), as
    /// `docker ps` shows them: each record read once, the live state found once and each
    /// network's record read once for all (a `filter` then an `inspect` of each reads
    /// every record three times, and a network's record once a container).
    ///
    /// # Errors
    /// [`Error::Os`] if the containers directory cannot be read.
    pub fn inspect_filtered(
        &self,
        filter: &ContainerFilter,
    ) -> Result<Vec<(Container, super::Inspect)>> {
        let mut memo = crate::network::sandbox::NetworkMemo::default();
        Ok(self
            .list()?
            .into_iter()
            .filter_map(|c| {
                let info = c.inspect_record(&c.record, &mut memo);
                filter.matches(&c, info.state.status).then_some((c, info))
            })
            .collect())
    }

    /// The container with this name, id, or unique id prefix (as `docker inspect` resolves).
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`], [`Error::AmbiguousContainer`].
    pub fn get(&self, name_or_id: &str) -> Result<Container> {
        self.store.get(name_or_id)
    }

    /// Removes every container that is not running, paused or being created
    /// (`docker container prune`); returns their ids.
    ///
    /// # Errors
    /// The first removal that failed (the others are still tried).
    pub fn prune(&self) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        let mut first = None;
        for c in self.list()? {
            if matches!(c.status(), Status::Exited | Status::Dead) {
                let id = c.id().to_owned();
                match c.remove(false) {
                    Ok(()) => removed.push(id),
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
        }
        first.map_or(Ok(removed), Err)
    }
}

/// `dir` opened as a handle for lookups relative to it (`O_PATH`).
pub(super) fn open_dir(dir: &Path) -> Result<std::os::fd::OwnedFd> {
    crate::sys::file::open(dir, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::os("opening", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let t = crate::store::now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn names_are_claimed_once_and_stale_ones_replaced() {
        let d = tempfile::tempdir().unwrap();
        let e = crate::Engine::open(d.path()).unwrap();
        let s = e.container_store();
        let (id, name, dir, lock) = s.reserve(Some("web")).unwrap();
        drop(lock);
        assert_eq!(name, "web");
        assert!(dir.is_dir());
        match s.reserve(Some("/web")) {
            Err(Error::ContainerNameInUse { id: holder, .. }) => assert_eq!(holder, id),
            other => panic!("{other:?}"),
        }
        // a crash left the link but not the directory: the name is free again
        fs::remove_dir(&dir).unwrap();
        let (id2, _, _, lock) = s.reserve(Some("web")).unwrap();
        drop(lock);
        assert_ne!(id, id2);
        assert_eq!(s.name_holder("web").as_deref(), Some(id2.as_str()));
        let (_, a, _, l1) = s.reserve(None).unwrap();
        drop(l1);
        let (_, b, _, l2) = s.reserve(None).unwrap();
        drop(l2);
        assert_ne!(a, b);
        s.release_name("web", &id);
        assert!(s.name_holder("web").is_some(), "only the holder releases");
        s.release_name("web", &id2);
        assert!(s.name_holder("web").is_none());
    }
}
