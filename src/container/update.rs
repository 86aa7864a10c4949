//! Update: change a container's resource limits and restart policy (`docker update`).
//!
//! The new values are merged into the container's `HostConfig` and checked by Docker's
//! rules (those of `docker run`, plus `docker update`'s own about swap); then written to
//! its record and to the `linux.resources` of its bundle's `config.json` (so they apply at
//! its next start), and, while it runs, to its cgroup through the runtime
//! ([`Runtime::update`](crate::runtime::Runtime::update), runc's `update`).
//!
//! A restart policy changed while the container runs detached applies from its next start:
//! its monitor took the policy when it started it.

use serde_json::{json, Value};

use super::limits::{self, HostSupport, Limits};
use super::monitor::RestartPolicy;
use super::record::Record;
use super::store::ContainerStore;
use super::{Container, Status};
use crate::{Error, Result};

/// What [`Container::update`] changes, as `docker update` takes it; `None` leaves a
/// setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptions {
    /// Memory limit in bytes (`--memory`; at least 6 MB).
    pub memory: Option<u64>,
    /// Memory plus swap in bytes (`--memory-swap`; -1 is unlimited swap); not less than
    /// the memory limit.
    pub memory_swap: Option<i64>,
    /// Memory soft limit in bytes (`--memory-reservation`).
    pub memory_reservation: Option<u64>,
    /// CPUs, a CFS quota of `cpus` × 100 ms per 100 ms (`--cpus`).
    pub cpus: Option<f64>,
    /// The relative CPU weight (`--cpu-shares`).
    pub cpu_shares: Option<u64>,
    /// CFS period in µs (`--cpu-period`).
    pub cpu_period: Option<u64>,
    /// CFS quota in µs (`--cpu-quota`).
    pub cpu_quota: Option<u64>,
    /// The most processes (`--pids-limit`; 0 or -1 is no limit).
    pub pids_limit: Option<i64>,
    /// When its monitor starts it again (`--restart`), from its next start on.
    pub restart: Option<RestartPolicy>,
}

/// The `docker update` flag a checked setting comes from.
fn flag(field: &'static str) -> &'static str {
    match field {
        "memory limit" => "--memory",
        "memory swap" => "--memory-swap",
        "memory reservation" => "--memory-reservation",
        "cpus" => "--cpus",
        "cpu quota" => "--cpu-quota",
        "cpu period" => "--cpu-period",
        f => f,
    }
}

/// The setting as the record has it (`None` for Docker's 0: not set).
fn set(v: i64) -> Option<u64> {
    u64::try_from(v).ok().filter(|&v| v > 0)
}

/// `old`'s limits with `opts` over them, checked; Docker's warnings pushed to `warnings`.
fn merge(
    name: &str,
    old: &super::HostConfig,
    opts: &UpdateOptions,
    warnings: &mut Vec<String>,
) -> Result<Limits> {
    let invalid = |field: &'static str, reason: String| Error::InvalidContainerConfig {
        container: name.to_owned(),
        field,
        reason,
    };
    let mut s = limits::Settings {
        memory: opts.memory.or(set(old.memory)),
        memory_swap: opts
            .memory_swap
            .or((old.memory_swap != 0).then_some(old.memory_swap)),
        memory_reservation: opts.memory_reservation.or(set(old.memory_reservation)),
        cpu_shares: opts.cpu_shares.or(set(old.cpu_shares)),
        cpu_quota: None,
        cpu_period: opts.cpu_period,
        cpus: opts.cpus,
    };
    if opts.cpus.is_none() {
        s.cpu_quota = opts.cpu_quota.or(set(old.cpu_quota));
        s.cpu_period = s.cpu_period.or(set(old.cpu_period));
    }
    if let Some(m) = opts.memory {
        // moby's UpdateContainer: a larger memory limit than the swap limit kept.
        let m = i64::try_from(m).unwrap_or(i64::MAX);
        if opts.memory_swap.is_none() && old.memory_swap > 0 && m > old.memory_swap {
            return Err(invalid(
                "--memory",
                "Memory limit should be smaller than already set memoryswap limit, update the \
                 memoryswap at the same time"
                    .into(),
            ));
        }
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    s.check(HostSupport::detect(), ncpu, warnings)
        .map_err(|r| invalid(flag(r.field), r.reason))
}

impl ContainerStore {
    fn update_container(&self, id: &str, opts: &UpdateOptions) -> Result<(Record, Vec<String>)> {
        let _lock = self.lock(id)?;
        let dir = self.dir(id);
        let mut rec =
            Record::load(&dir).map_err(|_| Error::ContainerNotFound { id: id.to_owned() })?;
        let name = rec.name().to_owned();
        let hc = &rec.info.host_config;
        if opts.restart.is_some_and(|r| r != RestartPolicy::No) && hc.auto_remove {
            return Err(Error::InvalidContainerConfig {
                container: name,
                field: "--restart",
                reason: "Restart policy cannot be updated because AutoRemove is enabled for the \
                         container"
                    .into(),
            });
        }
        let mut warnings = Vec::new();
        let l = merge(&name, hc, opts, &mut warnings)?;
        let pids = match opts.pids_limit {
            Some(p) if p <= 0 => None,
            Some(p) => Some(p),
            None => hc.pids_limit,
        };
        let res = super::spec::resources(&l, pids);
        let status = self.live_state(&rec).status;
        if matches!(status, Status::Running | Status::Paused) {
            let mut live = res.clone();
            if opts.pids_limit.is_some_and(|p| p <= 0) {
                // No limit any more: "max".
                live.insert("pids".into(), json!({ "limit": -1 }));
            }
            let live: oci_spec::runtime::LinuxResources =
                serde_json::from_value(Value::Object(live)).map_err(|e| {
                    Error::InvalidContainerConfig {
                        container: name.clone(),
                        field: "resources",
                        reason: e.to_string(),
                    }
                })?;
            self.runtime().update(id, &live)?;
        }
        // The bundle's spec: what its next start applies.
        let config = dir.join("config.json");
        let data =
            std::fs::read(&config).map_err(|e| Error::os("reading container spec", &config, e))?;
        let mut spec: Value = serde_json::from_slice(&data).map_err(|e| Error::InvalidSpec {
            field: "config.json".into(),
            reason: e.to_string(),
        })?;
        if let Some(r) = spec
            .pointer_mut("/linux/resources")
            .and_then(Value::as_object_mut)
        {
            for key in ["memory", "cpu", "pids"] {
                r.remove(key);
            }
            r.extend(res);
        }
        let bytes = serde_json::to_vec_pretty(&spec).expect("a spec serialises");
        crate::store::write_atomic(&config, &bytes)?;
        let hc = &mut rec.info.host_config;
        hc.memory = l.memory.unwrap_or(0);
        hc.memory_swap = l.memory_swap.unwrap_or(0);
        hc.memory_reservation = l.memory_reservation.unwrap_or(0);
        hc.cpu_shares = l.cpu_shares.map_or(0, |s| s as i64);
        hc.cpu_quota = l.cpu_quota.unwrap_or(0);
        hc.cpu_period = l.cpu_period.map_or(0, |p| p as i64);
        hc.pids_limit = pids;
        if let Some(r) = opts.restart {
            hc.restart_policy = r.into();
        }
        rec.save(&dir)?;
        super::events::container(self.root(), &rec, "update", &[]);
        Ok((rec, warnings))
    }
}

impl Container {
    /// Changes its resource limits and restart policy (`docker update`), whether it runs
    /// or not: its record (what [`inspect`](Self::inspect) shows) and its bundle's spec
    /// change for its next start, and a running (or paused) container's cgroup at once.
    /// Values are checked by Docker's rules, as [`ContainerBuilder`](super::ContainerBuilder)
    /// checks them; a setting the host cannot apply is dropped with Docker's warning,
    /// returned. A changed restart policy applies from its next start.
    ///
    /// # Errors
    /// [`Error::InvalidContainerConfig`] naming the flag (`--memory`, `--memory-swap`…)
    /// with Docker's reason; [`Error::ContainerNotFound`]; the kernel refusing a value.
    pub fn update(&mut self, opts: &UpdateOptions) -> Result<Vec<String>> {
        let (rec, warnings) = self.store.update_container(self.id(), opts)?;
        self.record = rec;
        Ok(warnings)
    }
}
