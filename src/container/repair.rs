//! Repair: what a crashed program left behind, set right when the engine root is opened.

use std::collections::{HashMap, HashSet};
use std::fs;

use super::monitor::MonitorStatus;
use super::record::{owner_alive, Record, LIVE, RECORD, STANDBY};
use super::release::Ending;
use super::rootfs;
use super::store::ContainerStore;
use super::Status;
use crate::{Error, Result};

use rustix::fs::AtFlags;

/// Present in `containers/` once every live record has its marker ([`LIVE`] or
/// [`STANDBY`]): roots made before the markers get one full pass that reads every record
/// and marks the live ones.
const MARKED: &str = ".live-marked";

impl ContainerStore {
    /// See [`Engine::open`](crate::Engine::open). Reads the records that may need it only:
    /// those marked live (or a build's RUN steps), those without a name link, those whose
    /// directory has no record (an interrupted create); a created container waiting for a
    /// start is known by its [`STANDBY`] marker without reading its record.
    pub(crate) fn repair(&self) -> Result<()> {
        let _lock = self.images().store().lock("containers")?;
        let marked_root = self.containers_dir().join(MARKED);
        let full = !marked_root.exists();
        let links = self.name_links()?;
        let linked: HashSet<&str> = links.values().map(String::as_str).collect();
        let mut present: HashSet<String> = HashSet::new();
        let mut live = Vec::new();
        // The markers are looked up relative to the containers directory: two path
        // components to walk instead of the root's whole path, for each of hundreds.
        let containers = super::store::open_dir(self.containers_dir())?;
        let exists = |id: &str, file: &str| {
            rustix::fs::statat(&containers, format!("{id}/{file}"), AtFlags::empty()).is_ok()
        };
        for dir in self.record_dirs()? {
            let id = dir
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            present.insert(id.clone());
            let marked_live = exists(&id, LIVE);
            let settled = !marked_live && linked.contains(id.as_str()) && exists(&id, RECORD);
            if settled && !full {
                if exists(&id, STANDBY) {
                    // Created, waiting for a start: its network endpoints stay.
                    live.push(id);
                }
                // Otherwise stopped and named: nothing to set right.
                continue;
            }
            let Ok(rec) = Record::load(&dir) else {
                // An interrupted create (the record is written under the lock we hold).
                let _ = self.runtime().delete(&id, true);
                rootfs::unmount(&dir)?;
                let _ = crate::store::remove_any(&dir);
                let _ = self.images().release(&id);
                let _ = self.volumes().release_all(&id);
                present.remove(&id);
                continue;
            };
            self.repair_one(&rec)?;
            let Ok(rec) = Record::load(&dir) else {
                present.remove(&id);
                continue;
            };
            if rec.is_build_step() && !owner_alive(rec.owner) && !rec.is_live() {
                // A RUN step of a build whose program died: nobody will commit it.
                let _ = self.load(&id).and_then(|c| c.remove(true));
                present.remove(&id);
                continue;
            }
            if full && rec.is_live() {
                rec.save(&dir)?;
            }
            if links.get(rec.name()) != Some(&id) {
                let _ = self.claim_name(rec.name(), &id);
            }
            if rec.is_live() {
                live.push(id);
            }
        }
        // Names whose container is gone.
        for (name, id) in &links {
            if !present.contains(id) {
                let _ = fs::remove_file(self.names_dir().join(name));
            }
        }
        if full {
            fs::write(&marked_root, b"")
                .map_err(|e| Error::os("marking the containers directory", &marked_root, e))?;
        }
        // Network namespaces, interfaces, rules and addresses of containers that are gone.
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        self.networks().repair(&live)
    }

    /// The name links (`.names/<name>` → id), read once.
    fn name_links(&self) -> Result<HashMap<String, String>> {
        let names = self.names_dir();
        let rd =
            fs::read_dir(&names).map_err(|e| Error::os("reading container names", &names, e))?;
        // Read relative to the directory (one component to walk each, not the whole path).
        let dir = super::store::open_dir(&names)?;
        let mut links = HashMap::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            match rustix::fs::readlinkat(&dir, e.file_name().as_os_str(), Vec::new())
                .ok()
                .and_then(|t| t.into_string().ok())
            {
                Some(id) => {
                    links.insert(name, id);
                }
                None => {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(links)
    }

    /// Sets right one live record whose owner or monitor may be gone: released (and
    /// removed, when it is auto-removed) unless something still runs it.
    fn repair_one(&self, rec: &Record) -> Result<()> {
        let st = rec.info.state.status;
        if !rec.is_live() {
            return Ok(());
        }
        if rec.standby && st == Status::Created {
            // Made by `create`, waiting for a start: it belongs to no program.
            return Ok(());
        }
        if rec.ephemeral && !owner_alive(rec.owner) {
            // Its monitor kills it when the owner goes; make sure, should the monitor
            // have missed it, then release (and, ephemeral being auto-remove, remove) it.
            let _ = self.kill_monitored(rec);
        }
        // A started detached container lives as long as its monitor (or, unmonitored,
        // its init), whatever became of the program that created it.
        match self.monitor_status(rec) {
            Some(MonitorStatus::Running { .. }) => return Ok(()),
            Some(exited) => {
                if let Some(end) = Ending::of_monitor(&exited) {
                    self.release(&rec.info.id, &end)?;
                }
                return Ok(());
            }
            None => {}
        }
        if owner_alive(rec.owner) {
            return Ok(());
        }
        self.release(&rec.info.id, &Ending::reaped(None))
    }
}
