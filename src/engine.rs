//! [`Engine`]: one root directory holding images, layers, containers and the runtime's
//! state; hands out container builders and records.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::container::monitor::{self, ExitRecord, MonitorStatus};
use crate::container::record::{self, owner_alive, start_time, Record};
use crate::container::rootfs;
use crate::container::{exit_status, Container, ContainerBuilder, ExitStatus, State, Status};
use crate::image::{Image, Reference};
use crate::network::{NetworkBuilder, NetworkStore};
use crate::runtime::{self, Runtime};
pub(crate) use crate::store::now_rfc3339;
use crate::store::{random_bytes, Store};
use crate::volume::{Volume, VolumeStore};
use crate::{Error, Result};

/// The engine: everything under one root directory.
///
/// ```text
/// <root>/images/ layers/ locks/ holds/   the image store (see crate::store)
/// <root>/containers/<id>/                one OCI bundle per container (see crate::container)
/// <root>/containers/.names/<name>        a symlink to the id holding the name
/// <root>/runtime/<id>/                   the runtime's state of a live container
/// <root>/volumes/<name>/                  named and anonymous volumes (see VolumeStore)
/// <root>/networks/<name>.json  netns/     networks and containers' namespaces (see NetworkStore)
/// ```
///
/// Cheap to clone; every clone (and every process opening the same root) sees the same
/// containers.
#[derive(Debug, Clone)]
pub struct Engine {
    root: PathBuf,
    store: Store,
    runtime: Runtime,
    volumes: VolumeStore,
    containers: PathBuf,
    networks: NetworkStore,
}

impl Engine {
    /// Opens (creating if needed) the engine root `root`, and repairs what a crashed
    /// program left behind.
    ///
    /// Repair, for each container whose owner (the program attached to it) no longer runs
    /// and that was still `created` or `running`: its runtime container is deleted (killing
    /// what is left of it), its overlay unmounted, and it is recorded as `exited` with code
    /// 255 (as Docker records a container whose daemon vanished), or removed when it was
    /// made with `auto_remove`. A directory without a record (a create interrupted before
    /// writing it) is unmounted and removed. Containers of live owners are left alone.
    ///
    /// # Errors
    /// [`Error::Os`] if the directories cannot be created or read, or a store error.
    pub fn open(root: impl AsRef<Path>) -> Result<Engine> {
        let root = root.as_ref();
        crate::store::private_dir(root, "creating engine root")?;
        let root =
            fs::canonicalize(root).map_err(|e| Error::os("resolving engine root", root, e))?;
        let store = Store::open(&root)?;
        let runtime = Runtime::open(root.join("runtime"))?;
        let volumes = VolumeStore::open(&root)?;
        let networks = NetworkStore::open(&root)?;
        let containers = root.join("containers");
        let names = containers.join(".names");
        crate::store::private_dir(&containers, "creating containers directory")?;
        fs::create_dir_all(&names)
            .map_err(|e| Error::os("creating containers directory", &names, e))?;
        let engine = Engine {
            root,
            store,
            runtime,
            volumes,
            containers,
            networks,
        };
        engine.repair()?;
        Ok(engine)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The image store (import, tag, pull…).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The volumes under `<root>/volumes` (create, list, remove, prune…), the ones
    /// containers of this engine mount.
    pub fn volumes(&self) -> &VolumeStore {
        &self.volumes
    }

    /// The volume `name` (as [`VolumeStore::get`]).
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], [`Error::InvalidVolumeName`], [`Error::Os`].
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.volumes.get(name)
    }

    /// The networks under `<root>/networks` (list, inspect, remove, prune, and the
    /// container side: attach, connect, disconnect, detach), in the network namespace of
    /// the calling thread.
    pub fn networks(&self) -> &NetworkStore {
        &self.networks
    }

    /// A builder for the network `name` (`docker network create`; see [`NetworkBuilder`]):
    /// `engine.network("backend").create()?`.
    pub fn network(&self, name: &str) -> NetworkBuilder<'_> {
        self.networks.builder(name)
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The image named `reference` (`busybox`, `docker.io/library/busybox:1.36`).
    ///
    /// # Errors
    /// [`Error::InvalidReference`], [`Error::ImageNotFound`].
    pub fn image(&self, reference: &str) -> Result<Image> {
        let parsed = reference.parse::<Reference>();
        let found = match &parsed {
            Ok(r) => self.store.inspect(r),
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
                .store
                .images()?
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

    /// Opens the engine root named by `$CARGOHOLD_ROOT`, else `/var/lib/cargohold` (as
    /// Docker's `/var/lib/docker`); see [`open`](Self::open).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_default() -> Result<Engine> {
        let root = std::env::var_os("CARGOHOLD_ROOT")
            .filter(|r| !r.is_empty())
            .map_or_else(|| PathBuf::from("/var/lib/cargohold"), PathBuf::from);
        Engine::open(root)
    }

    /// Pulls `reference` (`busybox`, `busybox:1.36`, `registry:5000/app@sha256:…`) from
    /// its registry into the store (`docker pull`), with default options: credentials
    /// none, plain HTTP only for `localhost`/`127.0.0.1` registries. See
    /// [`pull_with`](Self::pull_with).
    ///
    /// # Errors
    /// An invalid reference, and as [`registry::pull`](crate::image::registry::pull).
    pub fn pull(&self, reference: &str) -> Result<Image> {
        self.pull_with(
            reference,
            &crate::image::registry::PullOptions::new(),
            &|_| {},
        )
    }

    /// Pulls with options (insecure registries, credentials, timeouts) and a progress
    /// callback that receives typed events (layers resolved, bytes per layer, done).
    ///
    /// # Errors
    /// As [`pull`](Self::pull).
    pub fn pull_with(
        &self,
        reference: &str,
        options: &crate::image::registry::PullOptions,
        progress: &(dyn Fn(&crate::image::registry::Progress) + Sync),
    ) -> Result<Image> {
        let r: Reference = reference.parse()?;
        crate::image::registry::pull(&self.store, &r, options, progress)?;
        // with its references, as `image` gives it
        self.store.inspect(&r)
    }

    /// Pushes the local image `reference` to the registry it names (`docker push`), with
    /// default options; returns the manifest digest. See [`push_with`](Self::push_with).
    ///
    /// # Errors
    /// An invalid reference, and as [`registry::push`](crate::image::registry::push).
    pub fn push(&self, reference: &str) -> Result<oci_spec::image::Digest> {
        self.push_with(
            reference,
            &crate::image::registry::PushOptions::new(),
            &|_| {},
        )
    }

    /// Pushes with options and a progress callback.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_with(
        &self,
        reference: &str,
        options: &crate::image::registry::PushOptions,
        progress: &(dyn Fn(&crate::image::registry::Progress) + Sync),
    ) -> Result<oci_spec::image::Digest> {
        let r: Reference = reference.parse()?;
        crate::image::registry::push(&self.store, &r, options, progress)
    }

    /// A builder for a container from `image` (see [`ContainerBuilder`]).
    pub fn container(&self, image: &Image) -> ContainerBuilder<'_> {
        ContainerBuilder::new(self, image)
    }

    /// The containers of this engine (`docker ps -a`, lookups by name or id).
    pub fn containers(&self) -> Containers<'_> {
        Containers { engine: self }
    }

    fn dir(&self, id: &str) -> PathBuf {
        self.containers.join(id)
    }

    pub(crate) fn container_dir(&self, id: &str) -> PathBuf {
        self.dir(id)
    }

    pub(crate) fn owner(&self) -> (i32, u64) {
        let pid = std::process::id() as i32;
        (pid, start_time(pid).unwrap_or(0))
    }

    fn records(&self) -> Result<Vec<(PathBuf, Option<Record>)>> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.containers)
            .map_err(|e| Error::os("reading containers directory", &self.containers, e))?;
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            let dir = e.path();
            out.push((dir.clone(), Record::load(&dir).ok()));
        }
        Ok(out)
    }

    /// Takes the containers lock, makes a fresh id and its directory, and claims the name
    /// (given, or a random one). The lock is held until the returned guard drops (the
    /// caller writes the record first).
    pub(crate) fn reserve(
        &self,
        name: Option<&str>,
    ) -> Result<(String, String, PathBuf, crate::store::Lock)> {
        let lock = self.store.lock("containers")?;
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
            None => {
                let base = crate::container::random_name(&random[32..]);
                let mut i = 0;
                loop {
                    let n = if i == 0 {
                        base.clone()
                    } else {
                        format!("{base}{i}")
                    };
                    match self.claim_name(&n, &id) {
                        Ok(None) => break Ok(n),
                        Ok(Some(_)) => i += 1,
                        Err(e) => break Err(e),
                    }
                }
            }
        };
        match claimed {
            Ok(name) => Ok((id, name, dir, lock)),
            Err(e) => {
                let _ = fs::remove_dir(&dir);
                Err(e)
            }
        }
    }

    fn names_dir(&self) -> PathBuf {
        self.containers.join(".names")
    }

    /// Claims `name` for `id` (the containers lock held): `<containers>/.names/<name>` is a
    /// symlink to the id, so a name is checked and taken in O(1) however many containers
    /// exist. Returns the id holding it when taken; a link whose container directory is gone
    /// (a crash) is replaced.
    fn claim_name(&self, name: &str, id: &str) -> Result<Option<String>> {
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
    fn name_holder(&self, name: &str) -> Option<String> {
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
                if let Ok(s) = self.runtime.state(&rec.info.id) {
                    if s.status == runtime::Status::Paused {
                        st.status = Status::Paused;
                        st.paused = true;
                    }
                }
                return st;
            }
            Some(MonitorStatus::Exited(r)) => {
                exited_detached(&mut st, Some(&r));
                return st;
            }
            Some(MonitorStatus::ExitedUnknown) => {
                exited_detached(&mut st, None);
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

    /// After the init was reaped: free the runtime container and the overlay, record the
    /// exit, and remove the container if it was made with `auto_remove`.
    pub(crate) fn release_exited(&self, id: &str, status: Option<ExitStatus>) -> Result<()> {
        let dir = self.dir(id);
        let deleted = match self.runtime.delete(id, true) {
            Err(Error::ContainerNotFound { .. }) => Ok(()),
            r => r,
        };
        let deleted = deleted.and(self.networks.detach(id));
        let unmounted = rootfs::unmount(&dir);
        let Ok(mut rec) = Record::load(&dir) else {
            // removed meanwhile (a forced remove): nothing to record
            return deleted.and(unmounted);
        };
        let st = &mut rec.info.state;
        st.status = Status::Exited;
        st.running = false;
        st.paused = false;
        st.pid = 0;
        st.finished_at = now_rfc3339();
        match status {
            Some(s) => {
                st.exit_code = s.docker_code();
                st.oom_killed = s.oom_killed();
            }
            None => {
                st.exit_code = 255;
                st.error = "the program attached to the container exited".to_owned();
            }
        }
        if rec.info.host_config.auto_remove {
            deleted?;
            unmounted?;
            return self.remove_dir(&rec);
        }
        let saved = rec.save(&dir);
        deleted.and(unmounted).and(saved)
    }

    /// After the monitor of a detached container recorded its exit (`None`: the monitor
    /// died without recording it): free the runtime container and the overlay, record the
    /// exit as the monitor saw it, and remove the container if it was made with
    /// `auto_remove`.
    pub(crate) fn release_exited_detached(
        &self,
        id: &str,
        exit: Option<&ExitRecord>,
    ) -> Result<()> {
        let dir = self.dir(id);
        let deleted = match self.runtime.delete(id, true) {
            Err(Error::ContainerNotFound { .. }) => Ok(()),
            r => r,
        };
        let deleted = deleted.and(self.networks.detach(id));
        let unmounted = rootfs::unmount(&dir);
        let Ok(mut rec) = Record::load(&dir) else {
            return deleted.and(unmounted);
        };
        exited_detached(&mut rec.info.state, exit);
        if rec.info.host_config.auto_remove {
            deleted?;
            unmounted?;
            return self.remove_dir(&rec);
        }
        let saved = rec.save(&dir);
        deleted.and(unmounted).and(saved)
    }

    fn remove_dir(&self, rec: &Record) -> Result<()> {
        let dir = self.dir(&rec.info.id);
        self.networks.detach(&rec.info.id)?;
        rootfs::unmount(&dir)?;
        self.release_name(rec.name(), &rec.info.id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(Error::os("removing container directory", &dir, e))
            }
            _ => {}
        }
        let released = self.volumes.release_all(&rec.info.id);
        if rec.info.host_config.auto_remove {
            // `--rm` removes the container's anonymous volumes too, as Docker does.
            for name in released.iter().flatten() {
                if self.volumes.get(name).is_ok_and(|v| v.is_anonymous()) {
                    match self.volumes.remove(name, true) {
                        Ok(()) | Err(Error::VolumeInUse { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        released?;
        self.store.release(&rec.info.id)
    }

    pub(crate) fn remove_container(&self, rec: &Record, force: bool) -> Result<()> {
        let id = &rec.info.id;
        let dir = self.dir(id);
        let rec = Record::load(&dir).map_err(|_| Error::ContainerNotFound {
            id: rec.name().to_owned(),
        })?;
        let state = self.live_state(&rec);
        let busy = match state.status {
            Status::Running | Status::Paused => true,
            // `docker rm` takes a created container without `-f`; one being set up by
            // its owner is busy.
            Status::Created => !rec.standby,
            _ => false,
        };
        if busy && !force {
            return Err(Error::InvalidState {
                id: rec.name().to_owned(),
                op: "remove",
                status: state.status.to_string(),
            });
        }
        if let Some(MonitorStatus::Running { monitored, .. }) = self.monitor_status(&rec) {
            // Killed through its monitor, which must be done with the directory (its log,
            // exit record and lock are in it) before the directory goes.
            let exit = record::exit_path(&dir);
            monitor::request_stop(&exit)?;
            match self.runtime.kill(id, libc::SIGKILL, true) {
                Ok(()) | Err(Error::ContainerNotFound { .. }) | Err(Error::InvalidState { .. }) => {
                }
                Err(e) => return Err(e),
            }
            if monitored {
                let _ = monitor::wait_exit(&exit, std::time::Duration::from_secs(10));
            }
        }
        match self.runtime.delete(id, true) {
            Err(Error::ContainerNotFound { .. }) | Ok(()) => {}
            Err(e) => return Err(e),
        }
        self.remove_dir(&rec)
    }

    /// Starts a container made by `create`, or one that has exited, detached through a
    /// monitor (`docker start`); see [`Container::start`].
    pub(crate) fn start_container(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        // One start at a time: flock on the container's directory (gone with it).
        let _lock = crate::store::lock_dir(&dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::ContainerNotFound { id: id.to_owned() },
            _ => Error::os("locking container directory", &dir, e),
        })?;
        let load =
            || Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() });
        let mut rec = load()?;
        // A detached run that has ended but was not released yet.
        match self.monitor_status(&rec) {
            Some(MonitorStatus::Exited(r)) => {
                self.release_exited_detached(id, Some(&r))?;
                rec = load()?;
            }
            Some(MonitorStatus::ExitedUnknown) => {
                self.release_exited_detached(id, None)?;
                rec = load()?;
            }
            _ => {}
        }
        let startable = match rec.info.state.status {
            Status::Created => rec.standby,
            Status::Exited | Status::Dead => true,
            _ => false,
        };
        if !startable {
            return Err(Error::InvalidState {
                id: rec.name().to_owned(),
                op: "start",
                status: self.live_state(&rec).status.to_string(),
            });
        }
        let lower: Vec<PathBuf> = rec
            .info
            .graph_driver
            .data
            .get("LowerDir")
            .map(|l| l.split(':').map(PathBuf::from).collect())
            .unwrap_or_default();
        rootfs::mount(&dir, &lower, rec.info.host_config.auto_remove)?;
        let cfg = record::monitor_config(
            self,
            &rec,
            &dir,
            rec.info.host_config.restart_policy.policy(),
        );
        if let Err(e) = crate::container::attach_networks(self, &rec, &dir) {
            let _ = rootfs::unmount(&dir);
            return Err(e);
        }
        let handle = match monitor::start(&cfg) {
            Ok(h) => h,
            Err(e) => {
                let _ = self.networks.detach(id);
                let _ = rootfs::unmount(&dir);
                let e = crate::container::map_spawn_error(e, rec.name(), &rec.info.path);
                rec.info.state.error = e.to_string();
                let _ = rec.save(&dir);
                return Err(e);
            }
        };
        let st = &mut rec.info.state;
        st.status = Status::Running;
        st.running = true;
        st.paused = false;
        st.dead = false;
        st.oom_killed = false;
        st.pid = handle.container_pid;
        st.exit_code = 0;
        st.error.clear();
        st.started_at = now_rfc3339();
        rec.detached = true;
        rec.standby = false;
        rec.owner = self.owner();
        if let Err(e) = rec.save(&dir) {
            // Not recorded as running: it must not run unrecorded.
            let _ = monitor::request_stop(record::exit_path(&dir));
            let _ = self.runtime.kill(id, libc::SIGKILL, true);
            return Err(e);
        }
        Ok(())
    }

    pub(crate) fn rename_container(&self, id: &str, name: &str) -> Result<Record> {
        crate::container::validate_name(name)?;
        let name = name.trim_start_matches('/');
        let _lock = self.store.lock("containers")?;
        let dir = self.dir(id);
        let mut rec =
            Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() })?;
        if rec.name() == name {
            return Ok(rec);
        }
        if let Some(holder) = self.claim_name(name, id)? {
            return Err(Error::ContainerNameInUse {
                name: name.to_owned(),
                id: holder,
            });
        }
        let old = rec.name().to_owned();
        rec.info.name = format!("/{name}");
        if let Err(e) = rec.save(&dir) {
            self.release_name(name, id);
            return Err(e);
        }
        self.release_name(&old, id);
        Ok(rec)
    }

    /// See [`Engine::open`].
    fn repair(&self) -> Result<()> {
        let _lock = self.store.lock("containers")?;
        for (dir, rec) in self.records()? {
            let Some(rec) = rec else {
                // An interrupted create (the record is written under the lock we hold).
                let id = dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let _ = self.runtime.delete(&id, true);
                rootfs::unmount(&dir)?;
                let _ = fs::remove_dir_all(&dir);
                let _ = self.store.release(&id);
                let _ = self.volumes.release_all(&id);
                continue;
            };
            let st = rec.info.state.status;
            if !matches!(st, Status::Created | Status::Running | Status::Paused) {
                continue;
            }
            if rec.standby && st == Status::Created {
                // Made by `create`, waiting for a start: it belongs to no program.
                continue;
            }
            if rec.ephemeral && !owner_alive(rec.owner) {
                // Its monitor kills it when the owner goes; make sure, should the monitor
                // have missed it, then release (and, ephemeral being auto-remove, remove) it.
                if let Some(MonitorStatus::Running { .. }) = self.monitor_status(&rec) {
                    let exit = record::exit_path(&dir);
                    let _ = monitor::request_stop(&exit);
                    let _ = self.runtime.kill(&rec.info.id, libc::SIGKILL, true);
                    let _ = monitor::wait_exit(&exit, std::time::Duration::from_secs(10));
                }
            }
            // A started detached container lives as long as its monitor (or, unmonitored,
            // its init), whatever became of the program that created it.
            match self.monitor_status(&rec) {
                Some(MonitorStatus::Running { .. }) => continue,
                Some(MonitorStatus::Exited(r)) => {
                    self.release_exited_detached(&rec.info.id, Some(&r))?;
                    continue;
                }
                Some(MonitorStatus::ExitedUnknown) => {
                    self.release_exited_detached(&rec.info.id, None)?;
                    continue;
                }
                None => {}
            }
            if owner_alive(rec.owner) {
                continue;
            }
            self.release_exited(&rec.info.id, None)?;
        }
        // Names whose container is gone, and containers whose name link a crash lost.
        let names = self.names_dir();
        let rd =
            fs::read_dir(&names).map_err(|e| Error::os("reading container names", &names, e))?;
        for e in rd.flatten() {
            let name = e.file_name();
            if self.name_holder(&name.to_string_lossy()).is_none() {
                let _ = fs::remove_file(e.path());
            }
        }
        let mut live = Vec::new();
        for (_, rec) in self.records()? {
            if let Some(rec) = rec {
                let _ = self.claim_name(rec.name(), &rec.info.id);
                if matches!(
                    rec.info.state.status,
                    Status::Created | Status::Running | Status::Paused
                ) {
                    live.push(rec.info.id.clone());
                }
            }
        }
        // Network namespaces, interfaces, rules and addresses of containers that are gone.
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        self.networks.repair(&live)
    }
}

/// The containers of an [`Engine`]: list them, get one by name or id.
#[derive(Debug, Clone, Copy)]
pub struct Containers<'e> {
    engine: &'e Engine,
}

impl Containers<'_> {
    /// Every container, running or not (`docker ps -a`), oldest first.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers directory cannot be read.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out: Vec<Container> = self
            .engine
            .records()?
            .into_iter()
            .filter_map(|(dir, r)| r.map(|r| Container::new(self.engine.clone(), dir, r)))
            .collect();
        out.sort_by(|a, b| {
            a.inspect_created()
                .cmp(b.inspect_created())
                .then(a.id().cmp(b.id()))
        });
        Ok(out)
    }

    /// The containers `filter` lets through (`docker ps [-a] [--filter ..]`), oldest
    /// first, with their current state.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers directory cannot be read.
    pub fn filter(&self, filter: &crate::container::ContainerFilter) -> Result<Vec<Container>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|c| filter.matches(c, c.status()))
            .collect())
    }

    /// The container with this name, id, or unique id prefix (as `docker inspect` resolves).
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`], [`Error::AmbiguousContainer`].
    pub fn get(&self, name_or_id: &str) -> Result<Container> {
        let key = name_or_id.trim_start_matches('/');
        let is_id = key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit());
        let by_name = crate::container::validate_name(key)
            .ok()
            .and_then(|()| self.engine.name_holder(key));
        if let Some(id) =
            by_name.or_else(|| (is_id && self.engine.dir(key).is_dir()).then(|| key.to_owned()))
        {
            let dir = self.engine.dir(&id);
            if let Ok(rec) = Record::load(&dir) {
                return Ok(Container::new(self.engine.clone(), dir, rec));
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

impl Containers<'_> {
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

/// Fills in the state of a detached container that has exited, from its monitor's record
/// (`None`: the monitor died before recording it).
fn exited_detached(st: &mut State, exit: Option<&ExitRecord>) {
    st.status = Status::Exited;
    st.running = false;
    st.paused = false;
    st.pid = 0;
    st.exit_code = exit_status(exit).docker_code();
    match exit {
        Some(r) => {
            st.oom_killed = r.oom_killed;
            if !r.started_at.is_empty() {
                st.started_at = r.started_at.clone();
            }
            st.finished_at = r.finished_at.clone();
        }
        None => {
            st.finished_at = now_rfc3339();
            st.error = "the monitor of the container died before recording its exit".to_owned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_shape() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 30, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'));
    }

    #[test]
    fn names_are_claimed_once_and_stale_ones_replaced() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        let (id, name, dir, lock) = e.reserve(Some("web")).unwrap();
        drop(lock);
        assert_eq!(name, "web");
        assert!(dir.is_dir());
        match e.reserve(Some("/web")) {
            Err(Error::ContainerNameInUse { id: holder, .. }) => assert_eq!(holder, id),
            other => panic!("{other:?}"),
        }
        // a crash left the link but not the directory: the name is free again
        fs::remove_dir(&dir).unwrap();
        let (id2, _, _, lock) = e.reserve(Some("web")).unwrap();
        drop(lock);
        assert_ne!(id, id2);
        assert_eq!(e.name_holder("web").as_deref(), Some(id2.as_str()));
        let (_, a, _, l1) = e.reserve(None).unwrap();
        drop(l1);
        let (_, b, _, l2) = e.reserve(None).unwrap();
        drop(l2);
        assert_ne!(a, b);
        e.release_name("web", &id);
        assert!(e.name_holder("web").is_some(), "only the holder releases");
        e.release_name("web", &id2);
        assert!(e.name_holder("web").is_none());
    }

    #[test]
    fn open_lays_out_root_as_normal_user_too() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        assert!(d.path().join("containers").is_dir());
        assert!(d.path().join("images/index.json").is_file());
        assert!(e.containers().list().unwrap().is_empty());
        assert!(matches!(
            e.containers().get("nope"),
            Err(Error::ContainerNotFound { .. })
        ));
    }
}
