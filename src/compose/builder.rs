//! The typed way in: [`Project::new`] and [`ServiceBuilder`], whose setters are named as
//! the compose keys, for programs and tests that would rather not write YAML. `build`
//! resolves and validates exactly as the loader does, so both give the same model.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::de::Short;
use super::model::{
    Build, Condition, Dependency, Deploy, EnvFile, FileObject, FileRef, Healthcheck, NetworkConfig,
    Port, Service, ServiceNetwork, ServiceVolume, Ulimit, VolumeConfig,
};
use super::resolve::{self, Context};
use super::{File, Project};
use crate::error::{Error, Result};

impl Project {
    /// Starts a project in code, the same model [`ProjectOptions::load`] makes from files:
    ///
    /// ```
    /// use cargohold::compose::{Condition, Healthcheck, Project};
    /// use std::time::Duration;
    ///
    /// # fn main() -> cargohold::Result<()> {
    /// let project = Project::new("app")
    ///     .service("db", |s| {
    ///         s.image("postgres:16")
    ///             .env("POSTGRES_PASSWORD", "secret")
    ///             .port("5432")
    ///             .healthcheck(Healthcheck::cmd(["pg_isready"]).interval(Duration::from_secs(5)))
    ///     })
    ///     .service("web", |s| {
    ///         s.build("./web").port("8080:80").depends_on("db", Condition::ServiceHealthy)
    ///     })
    ///     .build()?;
    /// assert_eq!(project.start_order()?, ["db", "web"]);
    /// # Ok(()) }
    /// ```
    ///
    /// [`ProjectOptions::load`]: super::ProjectOptions::load
    // `Project::new(..)…build()` reads as what it makes; the builder is its own type so
    // that a half-built project is never mistaken for a validated one.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: impl Into<String>) -> ProjectBuilder {
        ProjectBuilder {
            name: name.into(),
            ..ProjectBuilder::default()
        }
    }
}

/// A project being built in code ([`Project::new`]). Setters never fail;
/// [`build`](ProjectBuilder::build) checks everything.
#[derive(Clone, Debug, Default)]
pub struct ProjectBuilder {
    name: String,
    working_dir: Option<PathBuf>,
    profiles: Vec<String>,
    services: BTreeMap<String, ServiceBuilder>,
    networks: BTreeMap<String, NetworkConfig>,
    volumes: BTreeMap<String, VolumeConfig>,
    secrets: BTreeMap<String, FileObject>,
    configs: BTreeMap<String, FileObject>,
}

impl ProjectBuilder {
    /// Adds (or changes) the service `name`: `f` sets its keys.
    pub fn service<F>(&mut self, name: impl Into<String>, f: F) -> &mut Self
    where
        F: for<'a> FnOnce(&'a mut ServiceBuilder) -> &'a mut ServiceBuilder,
    {
        f(self.services.entry(name.into()).or_default());
        self
    }

    setters! {
        /// The project directory relative paths are resolved against (the current
        /// directory by default).
        fn working_dir(&mut self, dir: impl Into<PathBuf>) {
            self.working_dir = Some(dir.into())
        }
        /// Enables a profile.
        fn profile(&mut self, name: impl Into<String>) {
            self.profiles.push(name.into())
        }
        /// A top-level network.
        fn network(&mut self, name: impl Into<String>, config: NetworkConfig) {
            self.networks.insert(name.into(), config)
        }
        /// A top-level volume.
        fn volume(&mut self, name: impl Into<String>, config: VolumeConfig) {
            self.volumes.insert(name.into(), config)
        }
        /// A top-level secret.
        fn secret(&mut self, name: impl Into<String>, config: FileObject) {
            self.secrets.insert(name.into(), config)
        }
        /// A top-level config.
        fn config(&mut self, name: impl Into<String>, config: FileObject) {
            self.configs.insert(name.into(), config)
        }
    }

    /// The project, resolved and validated as a loaded one (variables of `KEY`-only
    /// environment entries come from the process environment).
    ///
    /// # Errors
    /// [`Error::InvalidCompose`] (its file is `<project NAME>`) for an invalid project
    /// name or short syntax, or a project that does not hold together, as
    /// [`ProjectOptions::load`](super::ProjectOptions::load).
    pub fn build(&self) -> Result<Project> {
        let main_file = PathBuf::from(format!("<project {}>", self.name));
        let invalid = |path: String, reason: String| Error::InvalidCompose {
            file: main_file.clone(),
            path,
            reason,
        };
        if self.name.is_empty() || super::load::normalize_name(&self.name) != self.name {
            return Err(invalid(
                String::new(),
                format!("{:?} is not a valid project name", self.name),
            ));
        }
        let mut file = File {
            name: Some(self.name.clone()),
            networks: self.networks.clone(),
            volumes: self.volumes.clone(),
            secrets: self.secrets.clone(),
            configs: self.configs.clone(),
            ..File::default()
        };
        for (name, b) in &self.services {
            let s = b
                .service(name)
                .map_err(|(path, reason)| invalid(path, reason))?;
            file.services.insert(name.clone(), s);
        }
        let working_dir = match &self.working_dir {
            Some(d) => d.clone(),
            None => std::env::current_dir()
                .map_err(|e| Error::os("getting the current directory", ".", e))?,
        };
        let ctx = Context {
            name: self.name.clone(),
            working_dir: resolve::clean(&working_dir),
            main_file,
            profiles: self.profiles.clone(),
            requested: Vec::new(),
        };
        let env: BTreeMap<String, String> = std::env::vars().collect();
        resolve::resolve(file, &ctx, &env)
    }
}

/// A port or a mount in short or long form, parsed when the project is built.
#[derive(Clone, Debug)]
enum Spec<T> {
    Short(String),
    Long(T),
}

/// A service being built ([`ProjectBuilder::service`]); each setter sets the compose key
/// of its name. Short syntaxes (`port("8080:80")`, `volume("./d:/d:ro")`) are checked
/// by [`ProjectBuilder::build`].
#[derive(Clone, Debug, Default)]
pub struct ServiceBuilder {
    service: Service,
    ports: Vec<Spec<Port>>,
    volumes: Vec<Spec<ServiceVolume>>,
}

impl ServiceBuilder {
    /// The service with its short syntaxes parsed; the error is the path and reason.
    fn service(&self, name: &str) -> std::result::Result<Service, (String, String)> {
        let mut s = self.service.clone();
        s.ports = expand(&self.ports, |i| format!("services.{name}.ports[{i}]"))?;
        s.volumes = expand(&self.volumes, |i| format!("services.{name}.volumes[{i}]"))?;
        Ok(s)
    }

    option_setters! { &mut self.service;
        /// `image`.
        image: impl Into<String>,
        /// `network_mode`.
        network_mode: impl Into<String>,
        /// `restart`.
        restart: impl Into<String>,
        /// `healthcheck`.
        healthcheck: Healthcheck,
        /// `working_dir`.
        working_dir: impl Into<String>,
        /// `user`.
        user: impl Into<String>,
        /// `hostname`.
        hostname: impl Into<String>,
        /// `container_name`.
        container_name: impl Into<String>,
        /// `privileged`.
        privileged: bool,
        /// `read_only`.
        read_only: bool,
        /// `mem_limit` in bytes.
        mem_limit: u64,
        /// `cpus`.
        cpus: f64,
        /// `pids_limit`.
        pids_limit: i64,
        /// `stop_signal`.
        stop_signal: impl Into<String>,
        /// `stop_grace_period`.
        stop_grace_period: Duration,
        /// `init`.
        init: bool,
        /// `tty`.
        tty: bool,
        /// `stdin_open`.
        stdin_open: bool,
    }

    setters! {
        /// `build` with a context only (`build: ./dir`).
        fn build(&mut self, context: impl Into<String>) {
            self.service.build = Some(Build { context: Some(context.into()), ..Build::default() })
        }
        /// `build` in full.
        fn build_config(&mut self, build: Build) {
            self.service.build = Some(build)
        }
        /// `command`.
        fn command(&mut self, args: impl IntoIterator<Item = impl Into<String>>) {
            self.service.command = Some(args.into_iter().map(Into::into).collect())
        }
        /// `entrypoint`.
        fn entrypoint(&mut self, args: impl IntoIterator<Item = impl Into<String>>) {
            self.service.entrypoint = Some(args.into_iter().map(Into::into).collect())
        }
        /// An `environment` variable.
        fn env(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.service.environment.insert(key.into(), Some(value.into()))
        }
        /// An `env_file` (required).
        fn env_file(&mut self, path: impl Into<PathBuf>) {
            self.service.env_file.push(EnvFile::new(path))
        }
        /// A `ports` entry in short syntax (`"8080:80"`, `"127.0.0.1:53:53/udp"`).
        fn port(&mut self, spec: impl Into<String>) {
            self.ports.push(Spec::Short(spec.into()))
        }
        /// A `ports` entry in long syntax.
        fn port_mapping(&mut self, port: Port) {
            self.ports.push(Spec::Long(port))
        }
        /// An `expose` entry.
        fn expose(&mut self, port: impl Into<String>) {
            self.service.expose.push(port.into())
        }
        /// A `volumes` entry in short syntax (`"data:/data"`, `"./site:/www:ro"`).
        fn volume(&mut self, spec: impl Into<String>) {
            self.volumes.push(Spec::Short(spec.into()))
        }
        /// A `volumes` entry in long syntax.
        fn mount(&mut self, volume: ServiceVolume) {
            self.volumes.push(Spec::Long(volume))
        }
        /// A `networks` entry.
        fn network(&mut self, name: impl Into<String>) {
            self.service.networks.insert(name.into(), ServiceNetwork::default())
        }
        /// A `networks` entry with aliases or a fixed address.
        fn network_config(&mut self, name: impl Into<String>, config: ServiceNetwork) {
            self.service.networks.insert(name.into(), config)
        }
        /// A `depends_on` entry (required, no restart).
        fn depends_on(&mut self, service: impl Into<String>, condition: Condition) {
            self.service.depends_on.insert(service.into(), Dependency::new(condition))
        }
        /// A `labels` entry.
        fn label(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.service.labels.insert(key.into(), value.into())
        }
        /// An `extra_hosts` entry.
        fn extra_host(&mut self, host: impl Into<String>, ip: impl Into<String>) {
            self.service.extra_hosts.insert(host.into(), ip.into())
        }
        /// A `dns` server.
        fn dns(&mut self, server: impl Into<String>) {
            self.service.dns.push(server.into())
        }
        /// A `cap_add` entry.
        fn cap_add(&mut self, cap: impl Into<String>) {
            self.service.cap_add.push(cap.into())
        }
        /// A `cap_drop` entry.
        fn cap_drop(&mut self, cap: impl Into<String>) {
            self.service.cap_drop.push(cap.into())
        }
        /// A `tmpfs` mount (`/run[:options]`).
        fn tmpfs(&mut self, spec: impl Into<String>) {
            self.service.tmpfs.push(spec.into())
        }
        /// A `ulimits` entry.
        fn ulimit(&mut self, name: impl Into<String>, soft: i64, hard: i64) {
            self.service.ulimits.insert(name.into(), Ulimit::new(soft, hard))
        }
        /// A `profiles` entry.
        fn profile(&mut self, name: impl Into<String>) {
            self.service.profiles.push(name.into())
        }
        /// `deploy.replicas`.
        fn replicas(&mut self, n: u64) {
            self.service.deploy.get_or_insert_with(Deploy::default).replicas = Some(n)
        }
        /// A `secrets` entry (short syntax: the secret's name).
        fn secret(&mut self, name: impl Into<String>) {
            self.service.secrets.push(FileRef { source: name.into(), ..FileRef::default() })
        }
        /// A `configs` entry (short syntax: the config's name).
        fn config(&mut self, name: impl Into<String>) {
            self.service.configs.push(FileRef { source: name.into(), ..FileRef::default() })
        }
    }
}

/// Short specs parsed (a port range gives several entries), long ones kept.
fn expand<T: Short + Clone>(
    specs: &[Spec<T>],
    path: impl Fn(usize) -> String,
) -> std::result::Result<Vec<T>, (String, String)> {
    let mut out = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        match spec {
            Spec::Short(s) => out.extend(T::parse_short(s).map_err(|e| (path(i), e))?),
            Spec::Long(t) => out.push(t.clone()),
        }
    }
    Ok(out)
}

impl Healthcheck {
    /// A check that runs a command without a shell (`["CMD", …]`).
    pub fn cmd(args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let mut test = vec!["CMD".to_owned()];
        test.extend(args.into_iter().map(Into::into));
        Healthcheck {
            test: Some(test),
            ..Healthcheck::default()
        }
    }

    /// A check that runs a shell command (`["CMD-SHELL", cmd]`).
    pub fn shell(cmd: impl Into<String>) -> Self {
        Healthcheck {
            test: Some(vec!["CMD-SHELL".into(), cmd.into()]),
            ..Healthcheck::default()
        }
    }

    option_setters! { mut self;
        /// With `interval`.
        interval: Duration,
        /// With `timeout`.
        timeout: Duration,
        /// With `retries`.
        retries: u64,
        /// With `start_period`.
        start_period: Duration,
    }
}
