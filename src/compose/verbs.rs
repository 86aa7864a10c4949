//! The verbs of `docker compose` past `up`/`down`/`ps`, on a [`Compose`]: a service's
//! container (for `exec`), one-off containers (`run`), `restart`, `rm`, `kill`, `pull`,
//! `push` and `build`.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::app;
use super::convert::{self, Instance};
use super::labels;
use super::up::{Compose, Made};
use crate::container::{Container, ContainerBuilder, Status};
use crate::image::Image;
use crate::Result;

/// How [`Compose::run`] makes a one-off container (`docker compose run`'s flags).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunOptions {
    /// The command, in place of the service's (`SERVICE CMD...`); none: the service's.
    pub command: Option<Vec<String>>,
    /// Environment variables over the service's (`-e K=V`).
    pub env: Vec<(String, String)>,
    /// Do not start the service's dependencies (`--no-deps`).
    pub no_deps: bool,
    /// The container's name (`--name`); default `<project>-<service>-run-<12 hex>`.
    pub name: Option<String>,
}

impl RunOptions {
    /// `docker compose run SERVICE` without flags.
    pub fn new() -> Self {
        RunOptions::default()
    }

    /// Runs `command` instead of the service's.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Sets an environment variable (`-e`).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Does not start the dependencies (`--no-deps`).
    pub fn no_deps(mut self, yes: bool) -> Self {
        self.no_deps = yes;
        self
    }

    /// Names the container (`--name`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// Whether a container's process is up (running, paused or restarting).
fn is_up(c: &Container) -> bool {
    matches!(
        c.status(),
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// Twelve random hex digits (the suffix of a one-off container's name).
fn random_hex() -> String {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

impl Compose<'_> {
    fn check_services(&self, services: &[String]) -> Result<()> {
        match services
            .iter()
            .find(|s| !self.project.services.contains_key(*s))
        {
            Some(s) => Err(self.error(s, "no such service", None)),
            None => Ok(()),
        }
    }

    /// The project's containers of `services` (every service when empty), running ones
    /// or every one with `all`.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have; [`Error::Os`](crate::Error::Os) if
    /// the containers cannot be listed.
    pub fn containers(&self, services: &[String], all: bool) -> Result<Vec<Container>> {
        if !self.project.services.is_empty() {
            self.check_services(services)?;
        }
        let mut list = self.ps(all)?;
        if !services.is_empty() {
            list.retain(|c| {
                c.labels()
                    .get(labels::SERVICE)
                    .is_some_and(|s| services.contains(s))
            });
        }
        Ok(list)
    }

    /// Container `index` (from 1) of `service`, running: where `docker compose exec
    /// --index N SERVICE` runs its command.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) when the project has no such service, or the container is
    /// missing or not running (`service "web" is not running`).
    pub fn container(&self, service: &str, index: u64) -> Result<Container> {
        self.check_services(&[service.to_owned()])?;
        let list = app::service_containers(self.store, &self.project.name, service)?;
        let Some(c) = list.into_iter().find(|c| app::number(c) == index) else {
            let reason = format!("service {service:?} has no container #{index}");
            return Err(self.error(service, reason, None));
        };
        if !is_up(&c) {
            let reason = format!("service {service:?} is not running");
            return Err(self.error(service, reason, None));
        }
        Ok(c)
    }

    /// Prepares a one-off container of `service` (`docker compose run`): its
    /// dependencies brought up first (unless [`RunOptions::no_deps`]), its networks and
    /// volumes made, its image pulled or built; the container is configured as the
    /// service (but without its ports, `container_name` and restart policy), named
    /// `<project>-<service>-run-<hex>` and labelled `com.docker.compose.oneoff=True`, so
    /// that `ps` and `up` leave it alone. The caller sets its stdio and spawns it.
    ///
    /// The dependencies are brought up as [`up`](Self::up) would with this handle's
    /// options (an ephemeral application is kept: it lives as long as this program).
    ///
    /// # Errors
    /// As [`up`](Self::up) for the dependencies; [`Error::Compose`](crate::Error::Compose) naming a service the
    /// project does not have; [`Error::InvalidCompose`](crate::Error::InvalidCompose) for a key the engine cannot
    /// honour.
    pub fn run(&self, service: &str, options: &RunOptions) -> Result<ContainerBuilder<'_>> {
        self.check_services(&[service.to_owned()])?;
        let s = &self.project.services[service];
        let deps: Vec<String> = s
            .depends_on
            .keys()
            .filter(|d| self.project.services.contains_key(*d))
            .cloned()
            .collect();
        if !options.no_deps && !deps.is_empty() {
            let mut up = Compose::new(self.store, self.project.clone());
            up.options = self.options.clone();
            up.options.services = deps;
            up.options.no_deps = false;
            up.progress = self.progress.clone();
            up.up()?.keep();
        }
        let mut s = s.clone();
        s.ports.clear();
        s.container_name = None;
        s.restart = None;
        if let Some(cmd) = &options.command {
            s.command = Some(cmd.clone());
        }
        convert::check(&self.project, service, &s, self.options.detach)?;
        let made = Mutex::new(Made::default());
        let selected = [service.to_owned()];
        self.ensure_networks(&selected, &made)?;
        self.ensure_volumes(&selected, &made)?;
        let image = self.image(service, &s)?;
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{service}-run-{}", self.project.name, random_hex()));
        let inst = Instance {
            project: &self.project,
            service,
            number: 1,
            name,
            image_id: image.id().to_string(),
            detach: self.options.detach,
        };
        let mut b = ContainerBuilder::new(self.store, &image);
        convert::configure(&mut b, &s, &inst)?;
        b.label(labels::ONEOFF, "True");
        for (k, v) in &options.env {
            b.env(k, v);
        }
        Ok(b)
    }

    /// Restarts the containers of `services` (every service when empty), stopped ones
    /// too, each within `timeout` or its own stop timeout (`docker compose restart`).
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have; the first
    /// container that cannot be restarted.
    pub fn restart(&self, services: &[String], timeout: Option<Duration>) -> Result<()> {
        for c in self.containers(services, true)? {
            self.progress.emit("Container", c.name(), "Restarting");
            c.restart(timeout.unwrap_or_else(|| c.stop_timeout()))?;
            self.progress.emit("Container", c.name(), "Started");
        }
        Ok(())
    }

    /// Removes the stopped containers of `services` (every service when empty), after
    /// stopping the running ones with `stop` (`docker compose rm [-s] [-v]`), with their
    /// anonymous volumes when `volumes`. Returns the names of those removed.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have; the first
    /// container that cannot be stopped or removed.
    pub fn remove(&self, services: &[String], stop: bool, volumes: bool) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for c in self.containers(services, true)? {
            if is_up(&c) {
                if !stop {
                    continue;
                }
                self.progress.emit("Container", c.name(), "Stopping");
                c.stop(c.stop_timeout())?;
                self.progress.emit("Container", c.name(), "Stopped");
            }
            removed.push(c.name().to_owned());
            app::remove_container(c, None, volumes, &self.progress)?;
        }
        Ok(removed)
    }

    /// Sends `signal` to the running containers of `services` (every service when
    /// empty), as `docker compose kill -s SIGNAL`; SIGKILL goes through
    /// [`Container::kill`], which also tells a container's monitor not to restart it.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have; the first
    /// container that cannot be signalled.
    pub fn kill(&self, services: &[String], signal: i32) -> Result<()> {
        for c in self.containers(services, false)? {
            self.progress.emit("Container", c.name(), "Killing");
            if signal == crate::Signal::KILL.as_raw() {
                c.kill()?;
            } else {
                c.signal(signal)?;
            }
            self.progress.emit("Container", c.name(), "Killed");
        }
        Ok(())
    }

    /// Pulls the images of `services` (every service when empty) that have an `image`
    /// (`docker compose pull`): one missing from the store, or every time with
    /// `pull_policy: always`; an image already present is kept as it is, without asking
    /// the registry. Services that only `build` are skipped.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have, or the service
    /// whose image cannot be pulled.
    pub fn pull(&self, services: &[String]) -> Result<()> {
        self.check_services(services)?;
        for (name, s) in &self.project.services {
            if !services.is_empty() && !services.contains(name) {
                continue;
            }
            let Some(tag) = &s.image else { continue };
            let always = s.pull_policy.as_deref() == Some("always");
            if matches!(s.pull_policy.as_deref(), Some("never" | "build"))
                || (!always && self.store.images().get(tag).is_ok())
            {
                continue;
            }
            self.progress.emit("Image", tag, "Pulling");
            app::pull(self.store, tag)
                .map_err(|e| self.error(name, format!("pulling image {tag}"), Some(e)))?;
            self.progress.emit("Image", tag, "Pulled");
        }
        Ok(())
    }

    /// Pushes the images of `services` (every service when empty) that have both a
    /// `build` and an `image` (`docker compose push`): the `image` and the build's extra
    /// `tags`, each to the registry it names. Services without either are skipped, as
    /// Compose skips them. With `ignore_failures` a refused push is reported through the
    /// progress callback (`Failed`) and the others go on (`--ignore-push-failures`).
    /// Returns each reference with the manifest digest it was pushed as, or the error
    /// that refused it (only with `ignore_failures`).
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not
    /// have, or (without `ignore_failures`) the service whose image cannot be pushed.
    pub fn push(
        &self,
        services: &[String],
        ignore_failures: bool,
    ) -> Result<Vec<(String, Result<oci_spec::image::Digest>)>> {
        self.check_services(services)?;
        let mut pushed = Vec::new();
        for (name, s) in &self.project.services {
            if !services.is_empty() && !services.contains(name) {
                continue;
            }
            let (Some(b), Some(image)) = (&s.build, &s.image) else {
                continue;
            };
            for tag in std::iter::once(image).chain(&b.tags) {
                self.progress.emit("Image", tag, "Pushing");
                match app::push(self.store, tag) {
                    Ok(digest) => {
                        self.progress.emit("Image", tag, "Pushed");
                        pushed.push((tag.clone(), Ok(digest)));
                    }
                    Err(e) if ignore_failures => {
                        self.progress.emit("Image", tag, "Failed");
                        pushed.push((tag.clone(), Err(e)));
                    }
                    Err(e) => {
                        return Err(self.error(name, format!("pushing image {tag}"), Some(e)))
                    }
                }
            }
        }
        Ok(pushed)
    }

    /// Builds the images of `services` (every service when empty) that have a `build`
    /// (`docker compose build`), each tagged its `image` or `<project>-<service>`.
    ///
    /// # Errors
    /// [`Error::Compose`](crate::Error::Compose) naming a service the project does not have, or the service
    /// whose image fails to build.
    pub fn build_images(&self, services: &[String]) -> Result<Vec<Image>> {
        self.check_services(services)?;
        let mut built = Vec::new();
        for (name, s) in &self.project.services {
            if !services.is_empty() && !services.contains(name) {
                continue;
            }
            let Some(b) = &s.build else { continue };
            let tag = s
                .image
                .clone()
                .unwrap_or_else(|| format!("{}-{name}", self.project.name));
            let img = app::build(self.store, &self.project, name, b, &tag, &self.progress)
                .map_err(|e| self.error(name, format!("building image {tag}"), Some(e)))?;
            built.push(img);
        }
        Ok(built)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_options_chain() {
        let o = RunOptions::new()
            .command(["echo", "hi"])
            .env("A", "1")
            .no_deps(true)
            .name("x");
        assert_eq!(o.command, Some(vec!["echo".to_owned(), "hi".to_owned()]));
        assert_eq!(o.env, [("A".to_owned(), "1".to_owned())]);
        assert!(o.no_deps);
        assert_eq!(o.name.as_deref(), Some("x"));
    }

    #[test]
    fn oneoff_suffix_is_twelve_hex_digits() {
        let h = random_hex();
        assert_eq!(h.len(), 12);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
