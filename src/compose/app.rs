//! A running application ([`ComposeApp`], [`AppService`]), `down` and what `up` and
//! `down` share: the project's containers found by label, stopping and removing one,
//! images built or pulled.

use std::collections::BTreeMap;
use std::time::Duration;

use super::labels;
use super::model::{Build, NetworkConfig};
use super::up::Progress;
use super::Project;
use crate::build::{BuildNetwork, ImageBuilder};
use crate::container::logs::{LogOptions, Logs};
use crate::container::{Container, ContainerFilter, ContainerStore, Containers, Status};
use crate::image::{registry, Image, Reference};
use crate::network::{Driver, NetworkBuilder};
use crate::{Error, Result};

/// Which images [`DownOptions::rmi`] removes (`--rmi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoveImages {
    /// Images built for services without an `image` key (`<project>-<service>`).
    Local,
    /// Every service's image.
    All,
}

/// What [`Compose::down`](super::Compose::down) removes besides the project's containers
/// and networks (`docker compose down`'s flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DownOptions {
    /// The project's named volumes and its containers' anonymous volumes too (`-v`).
    pub volumes: bool,
    /// Its images too (`--rmi local|all`).
    pub rmi: Option<RemoveImages>,
    /// Containers of services no longer in the project too (`--remove-orphans`).
    pub remove_orphans: bool,
    /// How long each container may take to stop before SIGKILL (`-t`); default: its
    /// `stop_grace_period` (10 s).
    pub timeout: Option<Duration>,
}

impl DownOptions {
    /// `docker compose down` without flags.
    pub fn new() -> Self {
        DownOptions::default()
    }

    /// Removes volumes too (`-v`).
    pub fn volumes(mut self, yes: bool) -> Self {
        self.volumes = yes;
        self
    }

    option_setters! { mut self;
        /// Removes images too (`--rmi`).
        rmi: RemoveImages,
        /// Stops with this timeout (`-t`).
        timeout: Duration,
    }

    /// Removes orphans too (`--remove-orphans`).
    pub fn remove_orphans(mut self, yes: bool) -> Self {
        self.remove_orphans = yes;
        self
    }
}

/// A project found on an engine by its containers' labels (`docker compose ls`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProjectSummary {
    /// The project's name.
    pub name: String,
    /// How many of its containers are in each state, as Compose prints it:
    /// `running(2)`, `exited(1), running(1)`.
    pub status: String,
    /// Its compose files, comma-separated (from the label).
    pub config_files: String,
    /// Whether any of its containers runs.
    pub running: bool,
}

/// The projects with containers on the engine under `store`, by name.
pub(crate) fn projects(store: &ContainerStore) -> Result<Vec<ProjectSummary>> {
    let all =
        Containers::new(store).filter(&ContainerFilter::new().all(true).label(labels::PROJECT))?;
    let mut by: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in &all {
        let Some(name) = c.labels().get(labels::PROJECT) else {
            continue;
        };
        let e = by.entry(name.clone()).or_default();
        *e.0.entry(c.status().to_string()).or_default() += 1;
        if e.1.is_empty() {
            e.1 = c
                .labels()
                .get(labels::CONFIG_FILES)
                .cloned()
                .unwrap_or_default();
        }
    }
    Ok(by
        .into_iter()
        .map(|(name, (counts, config_files))| ProjectSummary {
            name,
            running: counts.contains_key("running"),
            status: counts
                .iter()
                .map(|(s, n)| format!("{s}({n})"))
                .collect::<Vec<_>>()
                .join(", "),
            config_files,
        })
        .collect())
}

/// The replica number of a container of a service (0 when the label is missing).
pub(super) fn number(c: &Container) -> u64 {
    c.labels()
        .get(labels::NUMBER)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Every container of the project, by service and number.
pub(super) fn containers(store: &ContainerStore, project: &str) -> Result<Vec<Container>> {
    let f = ContainerFilter::new()
        .all(true)
        .label(format!("{}={project}", labels::PROJECT));
    let mut list = Containers::new(store).filter(&f)?;
    list.retain(|c| c.labels().get(labels::ONEOFF).is_none_or(|o| o != "True"));
    list.sort_by_key(|c| {
        (
            c.labels().get(labels::SERVICE).cloned().unwrap_or_default(),
            number(c),
        )
    });
    Ok(list)
}

/// The project's one-off containers (`docker compose run`'s).
fn oneoff_containers(store: &ContainerStore, project: &str) -> Result<Vec<Container>> {
    let f = ContainerFilter::new()
        .all(true)
        .label(format!("{}={project}", labels::PROJECT))
        .label(format!("{}=True", labels::ONEOFF));
    Containers::new(store).filter(&f)
}

/// The containers of one service of the project, by number.
pub(super) fn service_containers(
    store: &ContainerStore,
    project: &str,
    service: &str,
) -> Result<Vec<Container>> {
    let mut list = containers(store, project)?;
    list.retain(|c| {
        c.labels()
            .get(labels::SERVICE)
            .is_some_and(|s| s == service)
    });
    Ok(list)
}

/// Stops (within `timeout`, else its own stop timeout) and removes a container, with
/// its anonymous volumes when `anonymous_volumes`.
pub(super) fn remove_container(
    c: Container,
    timeout: Option<Duration>,
    anonymous_volumes: bool,
    progress: &Progress,
) -> Result<()> {
    let name = c.name().to_owned();
    if matches!(
        c.status(),
        Status::Running | Status::Paused | Status::Restarting
    ) {
        progress.emit("Container", &name, "Stopping");
        c.stop(timeout.unwrap_or_else(|| c.stop_timeout()))?;
        progress.emit("Container", &name, "Stopped");
    }
    let volumes: Vec<String> = if anonymous_volumes {
        c.inspect()
            .map(|i| i.mounts.into_iter().filter_map(|m| m.name).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let store = c.store().clone();
    progress.emit("Container", &name, "Removing");
    match c.remove(true) {
        Ok(()) | Err(Error::ContainerNotFound { .. }) => {}
        Err(e) => return Err(e),
    }
    progress.emit("Container", &name, "Removed");
    for v in volumes {
        if store.volumes().get(&v).is_ok_and(|v| v.is_anonymous()) {
            store.volumes().remove(&v, false)?;
        }
    }
    Ok(())
}

/// Sets up the builder of the project's network `key` from its configuration.
pub(super) fn network_config(
    p: &Project,
    key: &str,
    cfg: &NetworkConfig,
    b: &mut NetworkBuilder<'_>,
) -> Result<()> {
    let no = |what: &str, reason: &str| p.error(&format!("networks.{key}.{what}"), reason);
    match cfg.driver.as_deref() {
        None | Some("bridge") => {}
        Some("macvlan") => {
            b.driver(Driver::Macvlan);
        }
        Some(d) => return Err(no("driver", &format!("{d:?} is not bridge or macvlan"))),
    }
    if cfg.internal {
        return Err(no("internal", "not supported by this engine"));
    }
    if cfg.enable_ipv6 == Some(true) {
        return Err(no("enable_ipv6", "not supported by this engine"));
    }
    if let Some(ipam) = &cfg.ipam {
        if ipam.driver.as_deref().is_some_and(|d| d != "default") {
            return Err(no("ipam.driver", "only the default driver"));
        }
        if ipam.config.len() > 1 {
            return Err(no("ipam.config", "one pool only"));
        }
        if let Some(pool) = ipam.config.first() {
            if let Some(s) = &pool.subnet {
                b.subnet(s);
            }
            if let Some(g) = &pool.gateway {
                b.gateway(g);
            }
            if let Some(r) = &pool.ip_range {
                b.ip_range(r);
            }
        }
    }
    for (k, v) in &cfg.driver_opts {
        b.option(k, v);
    }
    for (k, v) in &cfg.labels {
        b.label(k, v);
    }
    b.label(labels::PROJECT, &p.name)
        .label(labels::NETWORK, key)
        .label(labels::VERSION, labels::COMPOSE_VERSION);
    Ok(())
}

/// Builds a service's image from its `build` and tags it `tag` (and `build.tags`).
pub(super) fn build(
    store: &ContainerStore,
    p: &Project,
    service: &str,
    b: &Build,
    tag: &str,
    progress: &Progress,
) -> Result<Image> {
    let context = b.context.clone().unwrap_or_else(|| ".".to_owned());
    if context.contains("://") || context.starts_with("git@") {
        return Err(p.error(
            &format!("services.{service}.build.context"),
            "remote contexts are not supported",
        ));
    }
    let context = p.working_dir.join(context);
    let mut ib = ImageBuilder::new(store, &context);
    if let Some(text) = &b.dockerfile_inline {
        ib.dockerfile_content(text);
    } else if let Some(f) = &b.dockerfile {
        ib.dockerfile(context.join(f));
    }
    for (k, v) in &b.args {
        if let Some(v) = v {
            ib.build_arg(k, v);
        }
    }
    if let Some(t) = &b.target {
        ib.target(t);
    }
    for (k, v) in &b.labels {
        ib.label(k, v);
    }
    if let Some(n) = &b.network {
        let net: BuildNetwork = n.parse().map_err(|e: Error| {
            p.error(&format!("services.{service}.build.network"), e.to_string())
        })?;
        ib.network(net);
    }
    ib.no_cache(b.no_cache.unwrap_or(false))
        .pull(b.pull.unwrap_or(false))
        .tag(tag);
    for t in &b.tags {
        ib.tag(t);
    }
    progress.emit("Image", tag, "Building");
    let img = ib.run()?;
    progress.emit("Image", tag, "Built");
    Ok(img)
}

/// Pulls `reference` into the store (and records the `pull` event, as the engine's own
/// pull does).
pub(super) fn pull(store: &ContainerStore, reference: &str) -> Result<Image> {
    store.pull(&reference.parse()?, &registry::PullOptions::new(), &|_| {})
}

/// Pushes the local image `reference` to the registry it names (and records the `push`
/// event); its manifest digest.
pub(super) fn push(store: &ContainerStore, reference: &str) -> Result<oci_spec::image::Digest> {
    store.push(&reference.parse()?, &registry::PushOptions::new(), &|_| {})
}

/// `down`: stops and removes the project's one-off containers, then its others
/// (dependents first), then its
/// networks, and as `options` say its volumes and images. `extra_volumes` are removed
/// too (the named volumes an ephemeral `up` created).
pub(super) fn down(
    store: &ContainerStore,
    p: &Project,
    options: &DownOptions,
    progress: &Progress,
    extra_volumes: &[String],
) -> Result<()> {
    let level = stop_levels(p)?;
    let list = containers(store, &p.name)?;
    let rank = |c: &Container| {
        let s = c
            .labels()
            .get(labels::SERVICE)
            .map(String::as_str)
            .unwrap_or("");
        level.get(s).copied()
    };
    let (known, orphans): (Vec<Container>, Vec<Container>) =
        list.into_iter().partition(|c| rank(c).is_some());
    let anon = options.volumes;
    stop_remove_all(
        oneoff_containers(store, &p.name)?,
        options.timeout,
        anon,
        progress,
    )?;
    // Without a model (`down -p NAME` with no file) every container goes.
    if options.remove_orphans || p.services.is_empty() {
        stop_remove_all(orphans, options.timeout, anon, progress)?;
    } else {
        for c in &orphans {
            progress.emit("Container", c.name(), "Orphan");
        }
    }
    let mut known = known;
    known.sort_by_key(|c| rank(c));
    // Level by level (dependents before what they depend on), the services of one level
    // and their replicas at once, as Compose stops them.
    let mut i = 0;
    while i < known.len() {
        let r = rank(&known[i]);
        let j = known[i..]
            .iter()
            .position(|c| rank(c) != r)
            .map_or(known.len(), |k| i + k);
        stop_remove_all(known[i..j].to_vec(), options.timeout, anon, progress)?;
        i = j;
    }
    remove_networks(store, &p.name, progress)?;
    let mut volumes: Vec<String> = extra_volumes.to_vec();
    if options.volumes {
        let filter = format!("{}={}", labels::PROJECT, p.name);
        volumes.extend(
            store
                .volumes()
                .list(&[filter.as_str()])?
                .iter()
                .map(|v| v.name().to_owned()),
        );
    }
    volumes.sort();
    volumes.dedup();
    for v in volumes {
        progress.emit("Volume", &v, "Removing");
        match store.volumes().remove(&v, false) {
            Ok(()) | Err(Error::VolumeNotFound { .. }) => progress.emit("Volume", &v, "Removed"),
            Err(e) => return Err(e),
        }
    }
    if let Some(which) = options.rmi {
        remove_images(store, p, which, progress)?;
    }
    Ok(())
}

/// When each service may stop: 0 for those nothing depends on, else one more than the
/// latest of its dependents. The services of one level stop together.
fn stop_levels(p: &Project) -> Result<std::collections::HashMap<String, usize>> {
    let mut level = std::collections::HashMap::new();
    // In stop order every dependent comes before what it depends on.
    for s in p.stop_order()? {
        let l = p
            .services
            .iter()
            .filter(|(_, svc)| svc.depends_on.contains_key(&s))
            .filter_map(|(n, _)| level.get(n).map(|l| l + 1))
            .max()
            .unwrap_or(0);
        level.insert(s, l);
    }
    Ok(level)
}

fn stop_remove_all(
    list: Vec<Container>,
    timeout: Option<Duration>,
    anon: bool,
    progress: &Progress,
) -> Result<()> {
    std::thread::scope(|s| {
        let hs: Vec<_> = list
            .into_iter()
            .map(|c| s.spawn(move || remove_container(c, timeout, anon, progress)))
            .collect();
        let mut first = Ok(());
        for h in hs {
            let r = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            if first.is_ok() {
                first = r;
            }
        }
        first
    })
}

fn remove_networks(store: &ContainerStore, project: &str, progress: &Progress) -> Result<()> {
    for n in store.networks().list()? {
        if n.labels().get(labels::PROJECT).is_none_or(|x| x != project) {
            continue;
        }
        progress.emit("Network", n.name(), "Removing");
        match store.networks().remove(n.name()) {
            Ok(()) | Err(Error::NetworkNotFound { .. }) => {
                progress.emit("Network", n.name(), "Removed")
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn remove_images(
    store: &ContainerStore,
    p: &Project,
    which: RemoveImages,
    progress: &Progress,
) -> Result<()> {
    for (name, s) in &p.services {
        let tag = match (&s.image, which) {
            (Some(_), RemoveImages::Local) => continue,
            (Some(i), RemoveImages::All) => i.clone(),
            (None, _) => format!("{}-{name}", p.name),
        };
        let Ok(r) = tag.parse::<Reference>() else {
            continue;
        };
        match store.images().remove(&r, false) {
            Ok(()) => progress.emit("Image", &tag, "Removed"),
            Err(Error::ImageNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A compose application brought up by [`Compose::up`](super::Compose::up): its services'
/// containers, their ports and logs, and `down`.
///
/// **Drop policy.** An ephemeral application (the default of `up`) is torn down when its
/// handle drops — containers stopped and removed, networks removed, the named volumes
/// this `up` created removed — unless [`keep`](Self::keep) was called; errors are
/// ignored then (call [`down`](Self::down) to see them). A detached one
/// ([`Compose::detach`](super::Compose::detach)) is left running.
#[derive(Debug)]
#[must_use = "dropping an ephemeral application tears it down"]
pub struct ComposeApp {
    store: ContainerStore,
    project: Project,
    ephemeral: bool,
    /// Named volumes this `up` created (removed with an ephemeral application).
    volumes: Vec<String>,
}

impl ComposeApp {
    pub(super) fn new(
        store: ContainerStore,
        project: Project,
        ephemeral: bool,
        volumes: Vec<String>,
    ) -> Self {
        ComposeApp {
            store,
            project,
            ephemeral,
            volumes,
        }
    }

    /// The project's name.
    pub fn name(&self) -> &str {
        &self.project.name
    }

    /// The project it runs.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Whether dropping the handle tears the application down.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }

    /// Every container of the project, running or not, by service and number.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers cannot be listed.
    pub fn containers(&self) -> Result<Vec<Container>> {
        containers(&self.store, &self.project.name)
    }

    /// The service `name`: its containers, ports and logs.
    ///
    /// # Errors
    /// [`Error::Compose`] when the project has no such service or it has no container.
    pub fn service(&self, name: &str) -> Result<AppService> {
        let err = |reason: &str| Error::Compose {
            project: self.project.name.clone(),
            service: name.to_owned(),
            reason: reason.to_owned(),
            source: None,
        };
        if !self.project.services.contains_key(name) {
            return Err(err("no such service"));
        }
        let containers = service_containers(&self.store, &self.project.name, name)?;
        if containers.is_empty() {
            return Err(err("no container"));
        }
        Ok(AppService {
            project: self.project.name.clone(),
            name: name.to_owned(),
            containers,
        })
    }

    /// The logs of every container, each with its name (`docker compose logs`).
    ///
    /// # Errors
    /// A log that cannot be opened.
    pub fn logs(&self, options: &LogOptions) -> Result<Vec<(String, Logs)>> {
        self.containers()?
            .into_iter()
            .map(|c| Ok((c.name().to_owned(), c.logs(options)?)))
            .collect()
    }

    /// Lets the application outlive this handle: dropping it no longer tears it down.
    /// The containers of an ephemeral application still die with this program.
    pub fn keep(mut self) {
        self.ephemeral = false;
    }

    /// Tears the application down now: its containers and networks, and for an
    /// ephemeral application the named volumes its `up` created.
    ///
    /// # Errors
    /// As [`Compose::down`](super::Compose::down).
    pub fn down(mut self) -> Result<()> {
        self.ephemeral = false;
        down(
            &self.store,
            &self.project,
            &DownOptions::new(),
            &Progress::none(),
            &self.volumes,
        )
    }

    /// Tears the application down as `options` say (`docker compose down -v …`).
    ///
    /// # Errors
    /// As [`Compose::down`](super::Compose::down).
    pub fn down_with(mut self, options: &DownOptions) -> Result<()> {
        self.ephemeral = false;
        down(&self.store, &self.project, options, &Progress::none(), &[])
    }
}

impl Drop for ComposeApp {
    fn drop(&mut self) {
        if self.ephemeral {
            let _ = down(
                &self.store,
                &self.project,
                &DownOptions::new(),
                &Progress::none(),
                &self.volumes,
            );
        }
    }
}

/// One service of a [`ComposeApp`]: its containers (replicas), as they were when asked
/// for.
#[derive(Debug, Clone)]
pub struct AppService {
    project: String,
    name: String,
    containers: Vec<Container>,
}

impl AppService {
    /// The service's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its containers, by number (at least one).
    pub fn containers(&self) -> &[Container] {
        &self.containers
    }

    /// Its first container.
    pub fn container(&self) -> &Container {
        &self.containers[0]
    }

    /// The host port the first container's TCP `container_port` is published on
    /// (`docker compose port SERVICE PORT`).
    ///
    /// # Errors
    /// [`Error::Compose`] when the port is not published.
    pub fn port(&self, container_port: u16) -> Result<u16> {
        self.container()
            .ports()?
            .iter()
            .find(|p| p.container_port == container_port && p.protocol == crate::Protocol::Tcp)
            .map(|p| p.host_port)
            .ok_or_else(|| Error::Compose {
                project: self.project.clone(),
                service: self.name.clone(),
                reason: format!("port {container_port}/tcp is not published"),
                source: None,
            })
    }

    /// The first container's logs.
    ///
    /// # Errors
    /// As [`Container::logs`].
    pub fn logs(&self, options: &LogOptions) -> Result<Logs> {
        self.container().logs(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn independent_services_stop_together_dependents_first() {
        use crate::compose::Condition;
        let p = Project::new("lv")
            .service("db", |s| s.image("x"))
            .service("api", |s| {
                s.image("x").depends_on("db", Condition::ServiceStarted)
            })
            .service("web", |s| {
                s.image("x").depends_on("api", Condition::ServiceStarted)
            })
            .service("cache", |s| s.image("x"))
            .service("worker", |s| {
                s.image("x").depends_on("db", Condition::ServiceStarted)
            })
            .build()
            .unwrap();
        let l = stop_levels(&p).unwrap();
        let at = |s: &str| l[s];
        // nothing depends on web, cache, worker: they go first, together
        assert_eq!((at("web"), at("cache"), at("worker")), (0, 0, 0));
        assert_eq!(at("api"), 1);
        // db waits for its latest dependent (api, after web)
        assert_eq!(at("db"), 2);
    }

    #[test]
    fn event_lines_are_composes() {
        let e = super::super::ComposeEvent {
            kind: "Container",
            name: "app-web-1".into(),
            action: "Started",
        };
        assert_eq!(e.to_string(), " Container app-web-1  Started");
    }

    #[test]
    fn down_options_chain() {
        let o = DownOptions::new()
            .volumes(true)
            .rmi(RemoveImages::Local)
            .timeout(Duration::from_secs(1));
        assert!(o.volumes);
        assert_eq!(o.rmi, Some(RemoveImages::Local));
    }
}
