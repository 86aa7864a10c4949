//! Repair: what a crashed program left behind, set right when the engine root is opened.

use std::collections::{HashMap, HashSet};
use std::fs;

use super::monitor::MonitorStatus;
use super::record::{owner_alive, Record};
use super::release::Ending;
use super::rootfs;
use super::store::ContainerStore;
use super::{Status, BUILD_STEP_LABEL};
use crate::{Error, Result};

impl ContainerStore {
    /// See [`Engine::open`](crate::Engine::open).
    pub(crate) fn repair(&self) -> Result<()> {
        let _lock = self.images().store().lock("containers")?;
        for (dir, rec) in self.records()? {
            let Some(rec) = rec else {
                // An interrupted create (the record is written under the lock we hold).
                let id = dir
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_owned();
                let _ = self.runtime().delete(&id, true);
                rootfs::unmount(&dir)?;
                let _ = fs::remove_dir_all(&dir);
                let _ = self.images().release(&id);
                let _ = self.volumes().release_all(&id);
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
                let _ = self.kill_monitored(&rec);
            }
            // A started detached container lives as long as its monitor (or, unmonitored,
            // its init), whatever became of the program that created it.
            match self.monitor_status(&rec) {
                Some(MonitorStatus::Running { .. }) => continue,
                Some(exited) => {
                    if let Some(end) = Ending::of_monitor(&exited) {
                        self.release(&rec.info.id, &end)?;
                    }
                    continue;
                }
                None => {}
            }
            if owner_alive(rec.owner) {
                continue;
            }
            self.release(&rec.info.id, &Ending::reaped(None))?;
        }
        // Names whose container is gone, and containers whose name link a crash lost:
        // each link read once, checked against the records read once.
        let records: Vec<Record> = self.records()?.into_iter().filter_map(|(_, r)| r).collect();
        let ids: HashSet<&str> = records.iter().map(|r| r.info.id.as_str()).collect();
        let names = self.names_dir();
        let rd =
            fs::read_dir(&names).map_err(|e| Error::os("reading container names", &names, e))?;
        let mut links: HashMap<String, String> = HashMap::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let target = fs::read_link(e.path()).ok();
            match target.as_deref().and_then(|t| t.to_str()) {
                Some(id) if ids.contains(id) => {
                    links.insert(name, id.to_owned());
                }
                _ => {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        let mut live = Vec::new();
        for rec in &records {
            let build_step = rec.info.config.labels.contains_key(BUILD_STEP_LABEL);
            if build_step && !owner_alive(rec.owner) && rec.info.state.status == Status::Exited {
                // A RUN step of a build whose program died: nobody will commit it.
                let _ = self.load(&rec.info.id).and_then(|c| c.remove(true));
                continue;
            }
            if links.get(rec.name()) != Some(&rec.info.id) {
                let _ = self.claim_name(rec.name(), &rec.info.id);
            }
            if matches!(
                rec.info.state.status,
                Status::Created | Status::Running | Status::Paused
            ) {
                live.push(rec.info.id.clone());
            }
        }
        // Network namespaces, interfaces, rules and addresses of containers that are gone.
        let live: Vec<&str> = live.iter().map(String::as_str).collect();
        self.networks().repair(&live)
    }
}
