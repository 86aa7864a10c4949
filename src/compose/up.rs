//! `up`: a project's networks, volumes, images and containers brought to what the model
//! says, as `docker compose up` does; [`Compose`] is the builder that
//! [`Engine::compose`](crate::Engine::compose) hands out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::app::{self, ComposeApp, DownOptions};
use super::convert::{self, Instance};
use super::labels;
use super::model::{Condition, Service, VolumeType};
use super::Project;
use crate::container::{Container, ContainerBuilder, ContainerStore, HealthStatus, Status};
use crate::image::Image;
use crate::{Error, Result};

/// What [`Compose::up`] does besides bringing every service up (`docker compose up`'s
/// flags). `UpOptions::default()` is `docker compose up` with an ephemeral application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpOptions {
    /// Only these services and (unless `no_deps`) what they depend on; empty: all.
    pub services: Vec<String>,
    /// Do not start the dependencies of `services` (`--no-deps`).
    pub no_deps: bool,
    /// Build images before starting, even when they exist (`--build`).
    pub build: bool,
    /// Never build; a missing image of a service with `build` is an error (`--no-build`).
    pub no_build: bool,
    /// Recreate every container, changed or not (`--force-recreate`).
    pub force_recreate: bool,
    /// Keep existing containers even when their configuration changed (`--no-recreate`).
    pub no_recreate: bool,
    /// Stop and remove the project's containers whose service is gone (`--remove-orphans`).
    pub remove_orphans: bool,
    /// Containers per service, over `deploy.replicas` and `scale` (`--scale svc=n`).
    pub scale: BTreeMap<String, u64>,
    /// Wait until every service runs, and is healthy if it has a healthcheck (`--wait`).
    pub wait: bool,
    /// How long `wait` and healthy dependencies may take (`--wait-timeout`); none: no
    /// limit.
    pub wait_timeout: Option<Duration>,
    /// After a failure, leave what was made and started as it is (otherwise it is
    /// stopped and removed).
    pub keep_on_failure: bool,
    /// The application outlives its handle and this program (`up -d`); otherwise it is
    /// ephemeral (see [`Compose::detach`]).
    pub detach: bool,
}

/// What a compose operation did to one thing, reported as it happens: Compose's
/// progress lines (` Container app-web-1  Started`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComposeEvent {
    /// `Network`, `Volume`, `Image` or `Container`.
    pub kind: &'static str,
    /// The thing's name (`app_default`, `app-web-1`).
    pub name: String,
    /// What happened (`Creating`, `Created`, `Starting`, `Started`, `Running`,
    /// `Recreate`, `Recreated`, `Waiting`, `Healthy`, `Exited`, `Stopping`, `Stopped`,
    /// `Removing`, `Removed`, `Pulling`, `Pulled`, `Building`, `Built`, `Orphan`).
    pub action: &'static str,
}

impl std::fmt::Display for ComposeEvent {
    /// As Compose prints it when not on a terminal: ` Container app-web-1  Started`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, " {} {}  {}", self.kind, self.name, self.action)
    }
}

/// The progress callback of a [`Compose`].
#[derive(Clone)]
pub(super) struct Progress(Option<Arc<ProgressFn>>);

/// A progress callback.
type ProgressFn = dyn Fn(&ComposeEvent) + Send + Sync;

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

impl Progress {
    pub(super) fn none() -> Progress {
        Progress(None)
    }

    pub(super) fn emit(&self, kind: &'static str, name: &str, action: &'static str) {
        if let Some(f) = &self.0 {
            f(&ComposeEvent {
                kind,
                name: name.to_owned(),
                action,
            });
        }
    }
}

/// A compose project on an engine: `up`, `down`, `ps` (`docker compose`). Get one from
/// [`Engine::compose`](crate::Engine::compose); setters never fail, the terminal calls
/// check everything.
///
/// ```no_run
/// use cargohold::{Engine, Project};
///
/// fn main() -> cargohold::Result<()> {
///     cargohold::init(); // the containers of `up` run detached: their monitor is this program
///     let engine = Engine::open_default()?;
///     let app = engine.compose(Project::load("compose.yaml")?).wait(true).up()?;
///     let port = app.service("web")?.port(80)?;
///     println!("http://127.0.0.1:{port}/");
///     Ok(()) // `app` drops: the application is torn down
/// }
/// ```
///
/// **Ephemeral by default.** The application `up` makes belongs to the returned
/// [`ComposeApp`]: its containers are [`ephemeral`](ContainerBuilder::ephemeral) (killed
/// and removed if this program dies, however it dies), and dropping the handle tears it
/// down — containers, networks and the volumes this `up` created. [`detach(true)`]
/// (`docker compose up -d`) makes an application that outlives the handle and the
/// program, to be brought down by [`down`](Self::down) from any process;
/// [`ComposeApp::keep`] lets an ephemeral one outlive its handle (not the program).
///
/// Every container runs detached (through its monitor, which runs its healthchecks and
/// restart policy), so the program must call [`crate::init`] first thing in `main`.
///
/// [`detach(true)`]: Self::detach
#[derive(Debug)]
pub struct Compose<'e> {
    pub(super) store: &'e ContainerStore,
    pub(super) project: Project,
    pub(super) options: UpOptions,
    pub(super) progress: Progress,
}

/// What this `up` made or started, undone if it fails.
#[derive(Debug, Default)]
pub(super) struct Made {
    networks: Vec<String>,
    volumes: Vec<String>,
    /// Ids of containers created or started.
    containers: Vec<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<'e> Compose<'e> {
    pub(crate) fn new(store: &'e ContainerStore, project: Project) -> Self {
        Compose {
            store,
            project,
            options: UpOptions::default(),
            progress: Progress::none(),
        }
    }

    setters! {
        /// Makes an application that outlives its handle and this program (`up -d`):
        /// containers not tied to the program, dropping the [`ComposeApp`] leaves it up.
        fn detach(&mut self, yes: bool) { self.options.detach = yes }

        /// Waits until every service runs, and is healthy if it has a healthcheck
        /// (`--wait`).
        fn wait(&mut self, yes: bool) { self.options.wait = yes }

        /// Limits `wait` and waits for healthy dependencies (`--wait-timeout`).
        fn wait_timeout(&mut self, timeout: Duration) { self.options.wait_timeout = Some(timeout) }

        /// Builds images even when they exist (`--build`).
        fn build(&mut self, yes: bool) { self.options.build = yes }

        /// Never builds (`--no-build`).
        fn no_build(&mut self, yes: bool) { self.options.no_build = yes }

        /// Recreates every container (`--force-recreate`).
        fn force_recreate(&mut self, yes: bool) { self.options.force_recreate = yes }

        /// Keeps changed containers (`--no-recreate`).
        fn no_recreate(&mut self, yes: bool) { self.options.no_recreate = yes }

        /// Starts only the named services, not their dependencies (`--no-deps`).
        fn no_deps(&mut self, yes: bool) { self.options.no_deps = yes }

        /// Removes containers of services no longer in the project (`--remove-orphans`).
        fn remove_orphans(&mut self, yes: bool) { self.options.remove_orphans = yes }

        /// Runs `n` containers of `service` (`--scale service=n`).
        fn scale(&mut self, service: impl Into<String>, n: u64) {
            self.options.scale.insert(service.into(), n)
        }

        /// Leaves what a failed `up` made as it is, instead of removing it.
        fn keep_on_failure(&mut self, yes: bool) { self.options.keep_on_failure = yes }

        /// Sets every option at once.
        fn options(&mut self, options: UpOptions) { self.options = options }
    }

    /// Only these services (and their dependencies unless [`no_deps`](Self::no_deps)).
    pub fn services<I, S>(&mut self, services: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.options.services = services.into_iter().map(Into::into).collect();
        self
    }

    /// Reports each step to `f` as it happens (`Network app_default Created`, …).
    pub fn progress(&mut self, f: impl Fn(&ComposeEvent) + Send + Sync + 'static) -> &mut Self {
        self.progress = Progress(Some(Arc::new(f)));
        self
    }

    /// The project.
    pub fn project(&self) -> &Project {
        &self.project
    }

    /// Brings the project up (`docker compose up`): creates its networks and named
    /// volumes, pulls or builds its images, then creates and starts the containers of
    /// every service, each after those it depends on has started, become healthy or
    /// completed (`depends_on` conditions), independent ones in parallel. A container
    /// whose configuration changed since it was made (its `config-hash` label or its
    /// image) is recreated; an unchanged running one is left alone, a stopped one started.
    ///
    /// # Errors
    /// [`Error::InvalidCompose`] naming a key the engine cannot honour
    /// (`services.web.sysctls`) before anything is made; [`Error::Compose`] naming the
    /// service that failed (its image, its container, a dependency that exited non-zero
    /// or became unhealthy). Unless [`keep_on_failure`](Self::keep_on_failure), what this
    /// `up` made and started is stopped and removed before the error is returned.
    pub fn up(&self) -> Result<ComposeApp> {
        let selected = self.selection()?;
        for name in &selected {
            let s = &self.project.services[name];
            convert::check(&self.project, name, s, self.options.detach)?;
        }
        convert::check_ports(&self.project, &selected, &self.options.scale)?;
        let made = Mutex::new(Made::default());
        let r = self.converge(&selected, &made);
        let made = made.into_inner().unwrap_or_else(PoisonError::into_inner);
        match r {
            Ok(()) => Ok(ComposeApp::new(
                self.store.clone(),
                self.project.clone(),
                !self.options.detach,
                made.volumes,
            )),
            Err(e) => {
                if !self.options.keep_on_failure {
                    self.rollback(&made);
                }
                Err(e)
            }
        }
    }

    /// Brings the project down (`docker compose down`); see [`DownOptions`]. The
    /// containers are found by their labels, so this works from any process.
    ///
    /// # Errors
    /// The first container, network, volume or image that cannot be removed.
    pub fn down(&self, options: &DownOptions) -> Result<()> {
        app::down(self.store, &self.project, options, &self.progress, &[])
    }

    /// The project's containers, by service and number (`docker compose ps [-a]`):
    /// running ones, or every one with `all`.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers cannot be listed.
    pub fn ps(&self, all: bool) -> Result<Vec<Container>> {
        let mut list = app::containers(self.store, &self.project.name)?;
        if !all {
            list.retain(|c| matches!(c.status(), Status::Running | Status::Paused));
        }
        Ok(list)
    }

    /// A handle on the project as it runs, made by an earlier `up` (of any process); not
    /// ephemeral: dropping it leaves the application up.
    pub fn app(&self) -> ComposeApp {
        ComposeApp::new(self.store.clone(), self.project.clone(), false, Vec::new())
    }

    pub(super) fn error(
        &self,
        service: &str,
        reason: impl Into<String>,
        source: Option<Error>,
    ) -> Error {
        Error::Compose {
            project: self.project.name.clone(),
            service: service.to_owned(),
            reason: reason.into(),
            source: source.map(Box::new),
        }
    }

    /// The services to bring up, in start order.
    fn selection(&self) -> Result<Vec<String>> {
        let p = &self.project;
        let order = p.start_order()?;
        if self.options.services.is_empty() {
            return Ok(order);
        }
        let mut want: BTreeSet<String> = BTreeSet::new();
        let mut todo = self.options.services.clone();
        while let Some(name) = todo.pop() {
            let Some(s) = p.services.get(&name) else {
                return Err(self.error(&name, "no such service", None));
            };
            if want.insert(name.clone()) && !self.options.no_deps {
                todo.extend(
                    s.depends_on
                        .keys()
                        .filter(|d| p.services.contains_key(*d))
                        .cloned(),
                );
            }
        }
        Ok(order.into_iter().filter(|n| want.contains(n)).collect())
    }

    fn converge(&self, selected: &[String], made: &Mutex<Made>) -> Result<()> {
        self.ensure_networks(selected, made)?;
        self.ensure_volumes(selected, made)?;
        let mut images = BTreeMap::new();
        for name in selected {
            images.insert(
                name.clone(),
                self.image(name, &self.project.services[name])?,
            );
        }
        let existing = app::containers(self.store, &self.project.name)?;
        self.orphans(&existing)?;
        self.start_all(selected, &images, &existing, made)?;
        if self.options.wait {
            let deadline = self.options.wait_timeout.map(|t| Instant::now() + t);
            for name in selected {
                self.wait_ready(name, selected, deadline)?;
            }
        }
        Ok(())
    }

    /// Whether a network or volume looked up as `found` is missing (and so to be created);
    /// a missing one declared `external` is an error saying `external_missing`, as is a
    /// failed lookup.
    fn missing<T>(
        &self,
        found: Result<T>,
        external: bool,
        external_missing: impl FnOnce() -> String,
    ) -> Result<bool> {
        match found {
            Ok(_) => Ok(false),
            Err(Error::NetworkNotFound { .. } | Error::VolumeNotFound { .. }) if external => {
                Err(self.error("", external_missing(), None))
            }
            Err(Error::NetworkNotFound { .. } | Error::VolumeNotFound { .. }) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The project's networks the selected services use, created when missing.
    pub(super) fn ensure_networks(&self, selected: &[String], made: &Mutex<Made>) -> Result<()> {
        let p = &self.project;
        let keys: BTreeSet<&String> = selected
            .iter()
            .map(|n| &p.services[n])
            .filter(|s| s.network_mode.is_none())
            .flat_map(|s| s.networks.keys())
            .collect();
        for key in keys {
            let cfg = p.networks.get(key).cloned().unwrap_or_default();
            let name = convert::network_name(p, key);
            let external =
                || format!("network {name} declared as external, but could not be found");
            if !self.missing(self.store.networks().get(&name), cfg.external, external)? {
                continue;
            }
            let mut b = self.store.networks().builder(&name);
            app::network_config(p, key, &cfg, &mut b)?;
            self.progress.emit("Network", &name, "Creating");
            b.create()
                .map_err(|e| self.error("", format!("creating network {name}"), Some(e)))?;
            lock(made).networks.push(name.clone());
            self.progress.emit("Network", &name, "Created");
        }
        Ok(())
    }

    /// The project's named volumes the selected services mount, created when missing.
    pub(super) fn ensure_volumes(&self, selected: &[String], made: &Mutex<Made>) -> Result<()> {
        let p = &self.project;
        let keys: BTreeSet<&String> = selected
            .iter()
            .flat_map(|n| p.services[n].volumes.iter())
            .filter(|v| v.kind == VolumeType::Volume)
            .filter_map(|v| v.source.as_ref())
            .collect();
        for key in keys {
            let cfg = p.volumes.get(key).cloned().unwrap_or_default();
            let name = convert::volume_name(p, key);
            let external = || format!("external volume {name:?} not found");
            if !self.missing(self.store.volumes().get(&name), cfg.external, external)? {
                continue;
            }
            let mut l = cfg.labels.clone();
            l.insert(labels::PROJECT.into(), p.name.clone());
            l.insert(labels::VOLUME.into(), key.clone());
            l.insert(labels::VERSION.into(), labels::COMPOSE_VERSION.into());
            self.progress.emit("Volume", &name, "Creating");
            self.store.volumes().create(&name, l)?;
            lock(made).volumes.push(name.clone());
            self.progress.emit("Volume", &name, "Created");
        }
        Ok(())
    }

    /// The service's image: built (`build`, tagged `image` or `<project>-<service>`),
    /// taken from the store or pulled, as `pull_policy` and the options say.
    pub(super) fn image(&self, name: &str, s: &Service) -> Result<Image> {
        let tag = s
            .image
            .clone()
            .unwrap_or_else(|| format!("{}-{name}", self.project.name));
        let images = self.store.images();
        let have = images.get(&tag);
        let policy = s.pull_policy.as_deref().unwrap_or("missing");
        match &s.build {
            Some(b) if !self.options.no_build => {
                if self.options.build || have.is_err() || policy == "build" {
                    return app::build(self.store, &self.project, name, b, &tag, &self.progress)
                        .map_err(|e| self.error(name, format!("building image {tag}"), Some(e)));
                }
                have
            }
            Some(_) => have.map_err(|e| {
                self.error(
                    name,
                    format!("image {tag} is missing and building is off (--no-build)"),
                    Some(e),
                )
            }),
            None => {
                let pull = match policy {
                    "always" => true,
                    "never" => false,
                    _ => have.is_err(),
                };
                if !pull {
                    return have.map_err(|e| self.error(name, format!("no image {tag}"), Some(e)));
                }
                self.progress.emit("Image", &tag, "Pulling");
                let img = app::pull(self.store, &tag)
                    .map_err(|e| self.error(name, format!("pulling image {tag}"), Some(e)))?;
                self.progress.emit("Image", &tag, "Pulled");
                Ok(img)
            }
        }
    }

    /// Containers of services the project no longer has: removed with `remove_orphans`,
    /// else reported.
    fn orphans(&self, existing: &[Container]) -> Result<()> {
        let p = &self.project;
        for c in existing {
            let service = c
                .labels()
                .get(labels::SERVICE)
                .map(String::as_str)
                .unwrap_or("");
            if p.services.contains_key(service) || p.disabled_services.contains_key(service) {
                continue;
            }
            if self.options.remove_orphans {
                app::remove_container(c.clone(), None, false, &self.progress)?;
            } else {
                self.progress.emit("Container", c.name(), "Orphan");
            }
        }
        Ok(())
    }

    /// Brings every selected service up, each on a thread of its own once its
    /// dependencies are there; the first error in start order.
    fn start_all(
        &self,
        selected: &[String],
        images: &BTreeMap<String, Image>,
        existing: &[Container],
        made: &Mutex<Made>,
    ) -> Result<()> {
        let done: Mutex<BTreeMap<&str, bool>> = Mutex::new(BTreeMap::new());
        let cv = Condvar::new();
        std::thread::scope(|scope| {
            let handles: Vec<_> = selected
                .iter()
                .map(|name| {
                    let (done, cv) = (&done, &cv);
                    scope.spawn(move || {
                        let r = self
                            .wait_dependencies(name, selected, done, cv)
                            .and_then(|()| self.service_up(name, &images[name], existing, made));
                        lock(done).insert(name, r.is_ok());
                        cv.notify_all();
                        r
                    })
                })
                .collect();
            let mut first = None;
            for h in handles {
                match h.join() {
                    Ok(Err(e)) if first.is_none() => first = Some(e),
                    Ok(_) => {}
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            first.map_or(Ok(()), Err)
        })
    }

    /// Waits until the dependencies of `name` among `selected` are up, then for what
    /// each `depends_on` condition asks.
    fn wait_dependencies(
        &self,
        name: &str,
        selected: &[String],
        done: &Mutex<BTreeMap<&str, bool>>,
        cv: &Condvar,
    ) -> Result<()> {
        let deadline = self.options.wait_timeout.map(|t| Instant::now() + t);
        for (dep, d) in &self.project.services[name].depends_on {
            if !selected.contains(dep) {
                continue; // not in the project (not required), or --no-deps
            }
            let mut state = lock(done);
            let ok = loop {
                if let Some(ok) = state.get(dep.as_str()) {
                    break *ok;
                }
                state = cv.wait(state).unwrap_or_else(PoisonError::into_inner);
            };
            drop(state);
            if !ok {
                return Err(self.error(name, format!("dependency {dep} failed to start"), None));
            }
            match d.condition {
                Condition::ServiceHealthy => self.wait_healthy(dep, deadline)?,
                Condition::ServiceCompletedSuccessfully => self.wait_completed(dep)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Waits until every container of `service` is healthy.
    fn wait_healthy(&self, service: &str, deadline: Option<Instant>) -> Result<()> {
        for c in app::service_containers(self.store, &self.project.name, service)? {
            self.progress.emit("Container", c.name(), "Waiting");
            let has_check = c
                .healthcheck()
                .is_some_and(|h| !h.is_disabled() && !h.test.is_empty());
            if !has_check {
                let reason = format!("container {} has no healthcheck configured", c.name());
                return Err(self.error(service, reason, None));
            }
            loop {
                match c.health()?.map(|h| h.status) {
                    Some(HealthStatus::Healthy) => break,
                    Some(HealthStatus::Unhealthy) => {
                        let reason = format!(
                            "dependency failed to start: container {} is unhealthy",
                            c.name()
                        );
                        return Err(self.error(service, reason, None));
                    }
                    _ => {}
                }
                if matches!(c.status(), Status::Exited | Status::Dead) {
                    let code = c.inspect().map(|i| i.state.exit_code).unwrap_or(-1);
                    let reason = format!(
                        "dependency failed to start: container {} exited ({code})",
                        c.name()
                    );
                    return Err(self.error(service, reason, None));
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let reason =
                        format!("timed out waiting for container {} to be healthy", c.name());
                    return Err(self.error(service, reason, None));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            self.progress.emit("Container", c.name(), "Healthy");
        }
        Ok(())
    }

    /// Waits until every container of `service` has exited, successfully.
    fn wait_completed(&self, service: &str) -> Result<()> {
        for c in app::service_containers(self.store, &self.project.name, service)? {
            self.progress.emit("Container", c.name(), "Waiting");
            let status = c.wait().map_err(|e| {
                self.error(
                    service,
                    format!("waiting for container {}", c.name()),
                    Some(e),
                )
            })?;
            if status.docker_code() != 0 {
                let reason = format!(
                    "service {service:?} didn't complete successfully: exit {}",
                    status.docker_code()
                );
                return Err(self.error(service, reason, None));
            }
            self.progress.emit("Container", c.name(), "Exited");
        }
        Ok(())
    }

    /// `--wait`: a service with a healthcheck healthy, others running, or exited 0 when a
    /// selected service waits for it to complete.
    fn wait_ready(
        &self,
        service: &str,
        selected: &[String],
        deadline: Option<Instant>,
    ) -> Result<()> {
        let completes = selected.iter().any(|n| {
            self.project.services[n]
                .depends_on
                .get(service)
                .is_some_and(|d| d.condition == Condition::ServiceCompletedSuccessfully)
        });
        for c in app::service_containers(self.store, &self.project.name, service)? {
            let has_check = c
                .healthcheck()
                .is_some_and(|h| !h.is_disabled() && !h.test.is_empty());
            match c.status() {
                Status::Running | Status::Paused if has_check => {
                    self.wait_healthy(service, deadline)?
                }
                Status::Running | Status::Paused | Status::Restarting => {}
                _ => {
                    let code = c.inspect().map(|i| i.state.exit_code).unwrap_or(-1);
                    if !(completes && code == 0) {
                        let reason = format!("container {} exited ({code})", c.name());
                        return Err(self.error(service, reason, None));
                    }
                }
            }
        }
        Ok(())
    }

    /// Brings one service to its number of containers, each up to date and running.
    fn service_up(
        &self,
        name: &str,
        image: &Image,
        existing: &[Container],
        made: &Mutex<Made>,
    ) -> Result<()> {
        let s = &self.project.services[name];
        let want = convert::replicas(s, self.options.scale.get(name).copied());
        let mut mine: Vec<(u64, &Container)> = existing
            .iter()
            .filter(|c| c.labels().get(labels::SERVICE).is_some_and(|x| x == name))
            .map(|c| (app::number(c), c))
            .collect();
        mine.sort_by_key(|(n, _)| *n);
        let mut kept: BTreeMap<u64, &Container> = BTreeMap::new();
        for (n, c) in mine {
            if n == 0 || n > want || kept.contains_key(&n) {
                app::remove_container(c.clone(), None, false, &self.progress)?;
            } else {
                kept.insert(n, c);
            }
        }
        let hash = s.config_hash();
        for n in 1..=want {
            let Some(c) = kept.get(&n) else {
                self.create(name, s, image, n, made, false)?;
                continue;
            };
            let changed = c.labels().get(labels::CONFIG_HASH) != Some(&hash)
                || c.image_id() != image.id().to_string();
            if self.options.force_recreate || (changed && !self.options.no_recreate) {
                self.progress.emit("Container", c.name(), "Recreate");
                app::remove_container((*c).clone(), None, false, &Progress::none()).map_err(
                    |e| self.error(name, format!("removing container {}", c.name()), Some(e)),
                )?;
                self.create(name, s, image, n, made, true)?;
            } else if matches!(
                c.status(),
                Status::Running | Status::Paused | Status::Restarting
            ) {
                self.progress.emit("Container", c.name(), "Running");
            } else {
                self.progress.emit("Container", c.name(), "Starting");
                lock(made).containers.push(c.id().to_owned());
                c.start().map_err(|e| {
                    self.error(name, format!("starting container {}", c.name()), Some(e))
                })?;
                self.progress.emit("Container", c.name(), "Started");
            }
        }
        Ok(())
    }

    /// Creates and starts container `number` of the service.
    fn create(
        &self,
        name: &str,
        s: &Service,
        image: &Image,
        number: u64,
        made: &Mutex<Made>,
        recreate: bool,
    ) -> Result<()> {
        let p = &self.project;
        let cname = convert::container_name(p, name, number);
        let inst = Instance {
            project: p,
            service: name,
            number,
            name: cname.clone(),
            image_id: image.id().to_string(),
            detach: self.options.detach,
        };
        let mut b = ContainerBuilder::new(self.store, image);
        convert::configure(&mut b, s, &inst)?;
        let fail = |what: &str, e: Error| {
            // a host port taken: name where the service publishes it
            let at = match &e {
                Error::PortInUse { binding, .. } => convert::port_path(name, s, binding),
                _ => None,
            };
            let what = match at {
                Some(at) => format!("{what} container {cname} ({at})"),
                None => format!("{what} container {cname}"),
            };
            self.error(name, what, Some(e))
        };
        if !recreate {
            self.progress.emit("Container", &cname, "Creating");
        }
        let done = if recreate { "Recreated" } else { "Created" };
        if self.options.detach {
            let c = b.create().map_err(|e| fail("creating", e))?;
            lock(made).containers.push(c.id().to_owned());
            self.progress.emit("Container", &cname, done);
            self.progress.emit("Container", &cname, "Starting");
            c.start().map_err(|e| fail("starting", e))?;
        } else {
            let mut running = b.detach(true).spawn().map_err(|e| fail("starting", e))?;
            // The application's handle owns it now; the container stays tied to this
            // program (ephemeral) all the same.
            running.kill_on_drop(false);
            lock(made).containers.push(running.id().to_owned());
            self.progress.emit("Container", &cname, done);
            self.progress.emit("Container", &cname, "Starting");
        }
        self.progress.emit("Container", &cname, "Started");
        Ok(())
    }

    /// Undoes a failed `up`: its containers stopped and removed, its networks and volumes
    /// removed (best effort: the error of the `up` is the one returned).
    fn rollback(&self, made: &Made) {
        for id in made.containers.iter().rev() {
            if let Ok(c) = self.store.get(id) {
                let _ = app::remove_container(c, Some(Duration::ZERO), true, &self.progress);
            }
        }
        for n in made.networks.iter().rev() {
            self.progress.emit("Network", n, "Removing");
            if self.store.networks().remove(n).is_ok() {
                self.progress.emit("Network", n, "Removed");
            }
        }
        for v in made.volumes.iter().rev() {
            self.progress.emit("Volume", v, "Removing");
            if self.store.volumes().remove(v, false).is_ok() {
                self.progress.emit("Volume", v, "Removed");
            }
        }
    }
}
