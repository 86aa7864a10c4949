//! Compose projects: the application model of `compose.yaml`, loaded as Docker Compose
//! loads it or built in code, one model either way.
//!
//! - [`ProjectOptions`] finds and loads the files (`compose.yaml`, `compose.yml`,
//!   `docker-compose.yml`, `docker-compose.yaml` and their `*.override.*`, or `-f` files
//!   merged in order), reads `.env` (or `--env-file`s), interpolates variables, types the
//!   result, resolves paths and names, applies profiles and validates the project;
//! - [`Project::new`] starts a [`ProjectBuilder`] whose setters are named as the compose
//!   keys; its `build` goes through the same resolution and validation;
//! - a [`Project`] gives the start order of its services ([`Project::start_order`]), a
//!   hash of each service's configuration ([`Service::config_hash`], so that `up`
//!   recreates only what changed) and its resolved form as `docker compose config` prints
//!   it ([`Project::to_yaml`]);
//! - [`Engine::compose`](crate::Engine::compose) gives a [`Compose`] that brings a project
//!   [`up`](Compose::up) (a [`ComposeApp`], ephemeral unless detached) and
//!   [`down`](Compose::down), and [`run`](Compose::run)s one-off containers, restarts,
//!   kills, removes, pulls and builds (`verbs.rs`), as Docker Compose v2 does: names and [`labels`] as its, so
//!   that `down`, `ps` and `ls` find a project's containers, networks and volumes from any
//!   process. Each key of a service maps onto a [`ContainerBuilder`](crate::ContainerBuilder)
//!   setter; a key the engine cannot honour (`sysctls`, `devices`, `ipc`, …) is an
//!   [`Error::InvalidCompose`] naming it, never ignored.
//!
//! What is hand-written and why:
//! - **YAML** is read with `serde_yaml_ng`, the maintained fork of the archived
//!   `serde_yaml` (same libyaml-derived parser, so anchors, aliases and line/column
//!   errors behave as they did; `serde_norway` is a similar fork, `serde-saphyr` needs a
//!   newer compiler than the crate's MSRV). Merge keys (`<<: *default`) are applied by
//!   this module, recursively and in YAML's order (the crate's own `apply_merge` does not
//!   follow a merge key inside a merged mapping).
//! - **Interpolation** runs on the YAML tree before typing, as Compose does, so a
//!   variable can stand for any value (`replicas: ${N}`); numbers and booleans therefore
//!   also read from strings.
//! - **Typing** is serde with `deny_unknown_fields` through `serde_path_to_error`, so an
//!   unknown key or a value of the wrong type names its path (`services.web.portz:
//!   unknown key`); `x-` extension keys are removed first, wherever Compose allows them.
//!   Short syntaxes (`"8080:80/udp"`, `"./data:/data:ro"`, `KEY=VALUE` lists) become the
//!   long forms while typing.
//! - **Merging** several files happens on the typed per-file models, field by field, by
//!   Compose's merge rules (see `merge.rs`).
//!
//! Not supported yet: `include`, `extends`, `secrets`/`configs` from `environment` or
//! `content` (only files, bind-mounted read-only), `volumes_from`, `sysctls`, `devices`, `ipc`, `pid`, `shm_size`, `dns_search`,
//! `group_add`, internal and IPv6 networks.

mod app;
mod builder;
mod convert;
mod de;
mod dotenv;
mod interpolate;
pub mod labels;
mod load;
mod merge;
#[macro_use]
mod model;
mod resolve;
mod ser;
mod syntax;
#[cfg(test)]
mod tests;
mod up;
mod verbs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub(crate) use app::projects;
pub use app::{AppService, ComposeApp, DownOptions, ProjectSummary, RemoveImages};
pub use builder::{ProjectBuilder, ServiceBuilder};
pub use load::ProjectOptions;
pub use model::{
    BindOptions, Build, Condition, Dependency, Deploy, EnvFile, FileObject, FileRef, Healthcheck,
    Ipam, IpamPool, Limits, Logging, NetworkConfig, Port, Resources, RestartPolicy, Service,
    ServiceNetwork, ServiceVolume, TmpfsOptions, Ulimit, VolumeConfig, VolumeOptions, VolumeType,
};
pub use up::{Compose, ComposeEvent, UpOptions};
pub use verbs::RunOptions;

model! {
    /// One compose file as typed (before merging and resolution), and the resolved model as
    /// `docker compose config` prints it.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    struct File {
        /// `version`: obsolete, accepted and ignored.
        #[serde(default, skip_serializing, deserialize_with = "de::opt_str")]
        version: Option<String>,
        name: Option<String> = "de::opt_str",
        #[serde(default, deserialize_with = "de::nullable_map")]
        services: BTreeMap<String, Service>,
        networks: BTreeMap<String, NetworkConfig> = "de::nullable_map",
        volumes: BTreeMap<String, VolumeConfig> = "de::nullable_map",
        secrets: BTreeMap<String, FileObject> = "de::nullable_map",
        configs: BTreeMap<String, FileObject> = "de::nullable_map",
    }
}

/// A compose project: its services and the networks, volumes, secrets and configs they
/// use, resolved (variables interpolated, paths absolute, names of resources given,
/// profiles applied) and validated.
///
/// Made by [`ProjectOptions::load`] / [`Project::load`] from files or by
/// [`Project::new`] in code. Two projects are equal when their models are: the
/// environment, the files and the warnings of a load are not part of the model.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Project {
    /// The project's name (`-p`, `COMPOSE_PROJECT_NAME`, `name:`, or the directory's).
    pub name: String,
    /// The project directory: relative paths of the files are resolved against it.
    pub working_dir: PathBuf,
    /// The active services, by name.
    pub services: BTreeMap<String, Service>,
    /// Services whose profiles are not enabled, by name.
    pub disabled_services: BTreeMap<String, Service>,
    /// Top-level `networks` (with `default` when a service uses it).
    pub networks: BTreeMap<String, NetworkConfig>,
    /// Top-level `volumes`.
    pub volumes: BTreeMap<String, VolumeConfig>,
    /// Top-level `secrets`.
    pub secrets: BTreeMap<String, FileObject>,
    /// Top-level `configs`.
    pub configs: BTreeMap<String, FileObject>,
    /// The enabled profiles.
    pub profiles: Vec<String>,
    /// The compose files the project was loaded from, in merge order.
    pub files: Vec<PathBuf>,
    /// The variables interpolation saw (`.env` files overridden by the environment).
    pub environment: BTreeMap<String, String>,
    /// What Compose would print as warnings (`The "TAG" variable is not set. Defaulting
    /// to a blank string.`).
    pub warnings: Vec<String>,
}

impl PartialEq for Project {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.working_dir == o.working_dir
            && self.services == o.services
            && self.disabled_services == o.disabled_services
            && self.networks == o.networks
            && self.volumes == o.volumes
            && self.secrets == o.secrets
            && self.configs == o.configs
            && self.profiles == o.profiles
    }
}

impl Project {
    /// Loads the project of one compose file, with the defaults of [`ProjectOptions`]
    /// (the file's directory as project directory, its `.env`, the process environment).
    ///
    /// # Errors
    /// As [`ProjectOptions::load`].
    pub fn load(file: impl AsRef<std::path::Path>) -> Result<Project> {
        ProjectOptions::new().file(file).load()
    }

    /// The services in the order to start them: each after the services it depends on,
    /// otherwise by name.
    ///
    /// # Errors
    /// [`Error::InvalidCompose`] for a dependency cycle (a loaded or built project has
    /// none; this can only come from changing `services` afterwards).
    pub fn start_order(&self) -> Result<Vec<String>> {
        start_order(&self.services).map_err(|cycle| self.error("", cycle_reason(&cycle)))
    }

    /// The services in the order to stop and remove them: [`start_order`] reversed.
    ///
    /// [`start_order`]: Project::start_order
    ///
    /// # Errors
    /// As [`Project::start_order`].
    pub fn stop_order(&self) -> Result<Vec<String>> {
        let mut order = self.start_order()?;
        order.reverse();
        Ok(order)
    }

    /// The resolved project as `docker compose config` prints it: long forms, services
    /// and keys sorted, variables interpolated (a `$` is written `$$` so that loading the
    /// output gives the same project), paths absolute.
    ///
    /// # Errors
    /// [`Error::InvalidCompose`] if the model cannot be written as YAML.
    pub fn to_yaml(&self) -> Result<String> {
        let file = File {
            version: None,
            name: Some(self.name.clone()),
            services: self.services.clone(),
            networks: self.networks.clone(),
            volumes: self.volumes.clone(),
            secrets: self.secrets.clone(),
            configs: self.configs.clone(),
        };
        let mut value =
            serde_yaml_ng::to_value(&file).map_err(|e| self.error("", e.to_string()))?;
        escape_dollars(&mut value);
        serde_yaml_ng::to_string(&value).map_err(|e| self.error("", e.to_string()))
    }

    /// An [`Error::InvalidCompose`] about the project's main file.
    fn error(&self, path: &str, reason: impl Into<String>) -> Error {
        Error::InvalidCompose {
            file: self
                .files
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from(&self.name)),
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Service {
    /// A sha256 (hex) of the service's configuration, as Compose's
    /// `com.docker.compose.config-hash`: the same for the same resolved configuration
    /// however the file was written (key order, short or long forms), different when
    /// anything that makes the container changes. What does not change a container is
    /// left out, as Compose leaves it out: `build`, `pull_policy`, `scale`,
    /// `deploy.replicas`, `depends_on`, `profiles`.
    pub fn config_hash(&self) -> String {
        let mut s = self.clone();
        s.build = None;
        s.pull_policy = None;
        s.scale = None;
        if let Some(d) = s.deploy.as_mut() {
            d.replicas = None;
        }
        if s.deploy == Some(Deploy::default()) {
            s.deploy = None;
        }
        s.depends_on.clear();
        s.profiles.clear();
        // Serialising the model cannot fail: every map has string keys.
        let json = serde_json::to_vec(&s).unwrap_or_default();
        hex::encode(Sha256::digest(&json))
    }
}

/// Writes every `$` of a string as `$$`, so that interpolation gives it back.
fn escape_dollars(v: &mut serde_yaml_ng::Value) {
    use serde_yaml_ng::Value;
    match v {
        Value::String(s) if s.contains('$') => *s = s.replace('$', "$$"),
        Value::Sequence(seq) => seq.iter_mut().for_each(escape_dollars),
        Value::Mapping(m) => m.iter_mut().for_each(|(_, v)| escape_dollars(v)),
        _ => {}
    }
}

/// Services in dependency order, ties by name (Kahn's algorithm over sorted sets); a
/// cycle is returned as the services on it, the first repeated at the end.
fn start_order(
    services: &BTreeMap<String, Service>,
) -> std::result::Result<Vec<String>, Vec<String>> {
    let deps = |s: &Service| -> Vec<String> {
        s.depends_on
            .keys()
            .filter(|d| services.contains_key(*d))
            .cloned()
            .collect()
    };
    let mut waiting: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, s) in services {
        let d = deps(s);
        waiting.insert(name, d.len());
        for dep in d {
            dependents.entry(dep).or_default().push(name);
        }
    }
    let mut ready: BTreeSet<&str> = waiting
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut order = Vec::with_capacity(services.len());
    while let Some(next) = ready.pop_first() {
        order.push(next.to_owned());
        for d in dependents.get(next).into_iter().flatten() {
            if let Some(n) = waiting.get_mut(d) {
                *n -= 1;
                if *n == 0 {
                    ready.insert(d);
                }
            }
        }
    }
    if order.len() == services.len() {
        return Ok(order);
    }
    Err(find_cycle(services, &order))
}

/// A cycle among the services not in `done` (each has a dependency on the cycle or in it).
fn find_cycle(services: &BTreeMap<String, Service>, done: &[String]) -> Vec<String> {
    let left = |n: &str| services.contains_key(n) && !done.iter().any(|d| d == n);
    let Some(start) = services.keys().find(|k| left(k)) else {
        return Vec::new();
    };
    let mut path: Vec<String> = vec![start.clone()];
    loop {
        let cur = &path[path.len() - 1];
        let next = services[cur].depends_on.keys().find(|d| left(d)).cloned();
        let Some(next) = next else { return path };
        if let Some(i) = path.iter().position(|p| *p == next) {
            let mut cycle = path.split_off(i);
            cycle.push(next);
            return cycle;
        }
        path.push(next);
    }
}

fn cycle_reason(cycle: &[String]) -> String {
    format!("dependency cycle detected: {}", cycle.join(" -> "))
}
