//! The typed compose model: a service and the top-level resources, in the long forms
//! `docker compose config` prints. The loader and the builder both produce these.
//!
//! Fields are what the file says (`None`, empty: not set); defaults that depend on the
//! project (names of networks and volumes, absolute paths) are filled in when a project is
//! resolved. Each field is named as its compose key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::de;
use super::ser;

/// Declares a model struct: `#[non_exhaustive]`, unknown keys rejected. A field written
/// `name: Type = "de::parser"` (optionally `| "ser::writer"`) may be left out of the file
/// (`Default`), is read by that parser (and written by that writer) and is left out when
/// written back while unset ([`ser::Unset`]); a field without `= ...` carries its own
/// `#[serde]` attributes.
macro_rules! model {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_meta:meta])*
                $field_vis:vis $field:ident: $ty:ty $(= $de:literal $(| $ser:literal)?)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        $vis struct $name {
            $(
                $(#[$field_meta])*
                $(#[serde(
                    default,
                    deserialize_with = $de,
                    $(serialize_with = $ser,)?
                    skip_serializing_if = "ser::Unset::is_unset"
                )])?
                $field_vis $field: $ty,
            )*
        }
    };
}

model! {
    /// A service: the containers of one image and configuration (`services.<name>`).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Service {
        /// `image`: the image to run (or to tag the build with).
        pub image: Option<String> = "de::opt_str",
        /// `build`: how to build the image (`build: ./dir` is `context: ./dir`).
        pub build: Option<Build> = "de::short_one",
        /// `command`: the arguments, overriding the image's `CMD` (a string is split as a
        /// shell splits it, as Compose does).
        pub command: Option<Vec<String>> = "de::command",
        /// `entrypoint`: overrides the image's `ENTRYPOINT` (string or list, as `command`).
        pub entrypoint: Option<Vec<String>> = "de::command",
        /// `environment`: variables; `None` (`KEY` alone) takes the value from the project's
        /// environment when loaded, and stays unset when there is none.
        pub environment: BTreeMap<String, Option<String>> = "de::env_map",
        /// `env_file`: files of `KEY=VALUE` lines whose variables the loader adds to
        /// `environment` (which wins).
        pub env_file: Vec<EnvFile> = "de::short_list",
        /// `ports`: published ports (one entry per port: a short range is expanded).
        pub ports: Vec<Port> = "de::short_list",
        /// `expose`: ports (or ranges) exposed to other services, not published.
        pub expose: Vec<String> = "de::string_or_list",
        /// `volumes`: named volumes, bind mounts and tmpfs mounts.
        pub volumes: Vec<ServiceVolume> = "de::short_list",
        /// `networks`: the networks the service joins, by their key in `networks`.
        pub networks: BTreeMap<String, ServiceNetwork> = "de::keys_or_map",
        /// `network_mode`: `none`, `host`, `service:<name>`, `container:<name>`.
        pub network_mode: Option<String> = "de::opt_str",
        /// `depends_on`: services to start first, and what to wait for.
        pub depends_on: BTreeMap<String, Dependency> = "de::keys_or_map",
        /// `restart`: `no`, `always`, `on-failure[:N]`, `unless-stopped`.
        pub restart: Option<String> = "de::opt_str",
        /// `healthcheck`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub healthcheck: Option<Healthcheck>,
        /// `labels`.
        pub labels: BTreeMap<String, String> = "de::label_map",
        /// `working_dir`.
        pub working_dir: Option<String> = "de::opt_str",
        /// `user`: `uid[:gid]` or names.
        pub user: Option<String> = "de::opt_str",
        /// `hostname`.
        pub hostname: Option<String> = "de::opt_str",
        /// `domainname`.
        pub domainname: Option<String> = "de::opt_str",
        /// `container_name`: a fixed container name instead of `<project>-<service>-<n>`.
        pub container_name: Option<String> = "de::opt_str",
        /// `extra_hosts`: host name → address lines added to `/etc/hosts`.
        pub extra_hosts: BTreeMap<String, String> = "de::hosts_map",
        /// `dns`: name servers.
        pub dns: Vec<String> = "de::string_or_list",
        /// `dns_search`: search domains.
        pub dns_search: Vec<String> = "de::string_or_list",
        /// `cap_add`.
        pub cap_add: Vec<String> = "de::string_or_list",
        /// `cap_drop`.
        pub cap_drop: Vec<String> = "de::string_or_list",
        /// `security_opt`.
        pub security_opt: Vec<String> = "de::string_or_list",
        /// `devices`: `host[:container[:perms]]`.
        pub devices: Vec<String> = "de::string_or_list",
        /// `group_add`: supplementary groups.
        pub group_add: Vec<String> = "de::string_or_list",
        /// `privileged`.
        pub privileged: Option<bool> = "de::opt_bool",
        /// `read_only`: a read-only root filesystem.
        pub read_only: Option<bool> = "de::opt_bool",
        /// `tmpfs`: tmpfs mounts, `path[:options]`.
        pub tmpfs: Vec<String> = "de::string_or_list",
        /// `ulimits`: name → limits (`nofile: 1024` sets both).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        pub ulimits: BTreeMap<String, Ulimit>,
        /// `sysctls`.
        pub sysctls: BTreeMap<String, String> = "de::label_map",
        /// `mem_limit` in bytes (`512m` in the file).
        pub mem_limit: Option<u64> = "de::opt_bytes",
        /// `mem_reservation` in bytes.
        pub mem_reservation: Option<u64> = "de::opt_bytes",
        /// `shm_size` in bytes.
        pub shm_size: Option<u64> = "de::opt_bytes",
        /// `cpus`: CPU quota in CPUs (`1.5`).
        pub cpus: Option<f64> = "de::opt_num",
        /// `cpu_shares`.
        pub cpu_shares: Option<u64> = "de::opt_num",
        /// `pids_limit` (`-1`: unlimited).
        pub pids_limit: Option<i64> = "de::opt_num",
        /// `stop_signal` (`SIGTERM` by default).
        pub stop_signal: Option<String> = "de::opt_str",
        /// `stop_grace_period` (10 s by default).
        pub stop_grace_period: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `init`: run an init process as PID 1.
        pub init: Option<bool> = "de::opt_bool",
        /// `tty`.
        pub tty: Option<bool> = "de::opt_bool",
        /// `stdin_open`.
        pub stdin_open: Option<bool> = "de::opt_bool",
        /// `ipc`, `pid`: `host`, `service:<name>`, …
        pub ipc: Option<String> = "de::opt_str",
        /// `pid`.
        pub pid: Option<String> = "de::opt_str",
        /// `platform` (`linux/amd64`).
        pub platform: Option<String> = "de::opt_str",
        /// `pull_policy`: `always`, `never`, `missing`, `build`.
        pub pull_policy: Option<String> = "de::opt_str",
        /// `logging`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub logging: Option<Logging>,
        /// `profiles`: the service is active only when one of them is enabled.
        pub profiles: Vec<String> = "de::string_or_list",
        /// `scale`: the number of containers (`deploy.replicas` says the same).
        pub scale: Option<u64> = "de::opt_num",
        /// `deploy`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub deploy: Option<Deploy>,
        /// `secrets`: secrets mounted under `/run/secrets/`.
        pub secrets: Vec<FileRef> = "de::short_list",
        /// `configs`: configs mounted at their target (`/<source>` by default).
        pub configs: Vec<FileRef> = "de::short_list",
    }
}

model! {
    /// `build`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Build {
        /// `context`: a directory (absolute once resolved) or a URL (`.` by default).
        pub context: Option<String> = "de::opt_str",
        /// `dockerfile`: relative to the context (`Dockerfile` by default).
        pub dockerfile: Option<String> = "de::opt_str",
        /// `dockerfile_inline`: the Dockerfile's text.
        pub dockerfile_inline: Option<String> = "de::opt_str",
        /// `args`: build arguments; `None` takes the value from the environment.
        pub args: BTreeMap<String, Option<String>> = "de::env_map",
        /// `target`: the stage to build.
        pub target: Option<String> = "de::opt_str",
        /// `labels`.
        pub labels: BTreeMap<String, String> = "de::label_map",
        /// `network`: the network of RUN steps.
        pub network: Option<String> = "de::opt_str",
        /// `no_cache`.
        pub no_cache: Option<bool> = "de::opt_bool",
        /// `pull`: always pull base images.
        pub pull: Option<bool> = "de::opt_bool",
        /// `tags`: more tags for the image.
        pub tags: Vec<String> = "de::string_or_list",
    }
}

impl de::Short for Build {
    const EXPECTING: &'static str = "a build context or a build mapping";
    fn parse_short(s: &str) -> Result<Vec<Self>, String> {
        Ok(vec![Build {
            context: Some(s.to_owned()),
            ..Build::default()
        }])
    }
}

model! {
    /// An `env_file` entry.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct EnvFile {
        /// `path`: absolute once resolved.
        pub path: PathBuf,
        /// `required`: a missing file is an error (`true` by default).
        #[serde(default = "yes", deserialize_with = "de::bool_field")]
        pub required: bool,
    }
}

fn yes() -> bool {
    true
}

impl EnvFile {
    /// A required env file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EnvFile {
            path: path.into(),
            required: true,
        }
    }
}

impl de::Short for EnvFile {
    const EXPECTING: &'static str = "a path or an env_file mapping";
    fn parse_short(s: &str) -> Result<Vec<Self>, String> {
        Ok(vec![EnvFile::new(s)])
    }
}

model! {
    /// A published or exposed port (`ports` long syntax).
    #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    pub struct Port {
        /// `name`: a human-readable name.
        pub name: Option<String> = "de::opt_str",
        /// `mode`: `ingress` (the default) or `host`.
        pub mode: Option<String> = "de::opt_str",
        /// `host_ip`: the host address to bind (all by default).
        pub host_ip: Option<String> = "de::opt_str",
        /// `target`: the container port.
        #[serde(deserialize_with = "de::port_number")]
        pub target: u16,
        /// `published`: the host port or range (`8080`, `8000-8010`); none: an ephemeral port.
        pub published: Option<String> = "de::opt_str",
        /// `protocol`: `tcp` (the default) or `udp`.
        pub protocol: Option<String> = "de::opt_str",
        /// `app_protocol`: a hint (`http`).
        pub app_protocol: Option<String> = "de::opt_str",
    }
}

model! {
    /// A service's mount (`volumes` long syntax).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ServiceVolume {
        /// `type`.
        #[serde(rename = "type")]
        pub kind: VolumeType,
        /// `source`: the volume's key in `volumes` (none: an anonymous volume), the host path
        /// of a bind (absolute once resolved).
        pub source: Option<String> = "de::opt_str",
        /// `target`: the path in the container.
        pub target: String,
        /// `read_only` (`:ro`).
        pub read_only: bool = "de::bool_field",
        /// `bind` options.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub bind: Option<BindOptions>,
        /// `volume` options.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub volume: Option<VolumeOptions>,
        /// `tmpfs` options.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tmpfs: Option<TmpfsOptions>,
        /// `consistency` (accepted, meaningless on Linux).
        pub consistency: Option<String> = "de::opt_str",
    }
}

/// The kind of a service's mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum VolumeType {
    /// A named or anonymous volume.
    #[default]
    Volume,
    /// A host path.
    Bind,
    /// A tmpfs.
    Tmpfs,
}

model! {
    /// `volumes[].bind`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct BindOptions {
        /// `propagation`: `rprivate`, `shared`, …
        pub propagation: Option<String> = "de::opt_str",
        /// `create_host_path`: create a missing source (true for the short syntax).
        pub create_host_path: Option<bool> = "de::opt_bool",
        /// `selinux`: `z` or `Z`.
        pub selinux: Option<String> = "de::opt_str",
    }
}

model! {
    /// `volumes[].volume`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct VolumeOptions {
        /// `nocopy`: do not copy the image's content into a new volume.
        pub nocopy: Option<bool> = "de::opt_bool",
        /// `subpath`: mount this path of the volume.
        pub subpath: Option<String> = "de::opt_str",
    }
}

model! {
    /// `volumes[].tmpfs`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct TmpfsOptions {
        /// `size` in bytes.
        pub size: Option<u64> = "de::opt_bytes",
        /// `mode`: permission bits.
        pub mode: Option<u32> = "de::opt_mode" | "ser::opt_mode",
    }
}

model! {
    /// A service's attachment to a network (`networks.<name>` of a service).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ServiceNetwork {
        /// `aliases`: more names of the service on this network.
        pub aliases: Vec<String> = "de::string_or_list",
        /// `ipv4_address`: a fixed address.
        pub ipv4_address: Option<String> = "de::opt_str",
        /// `ipv6_address`.
        pub ipv6_address: Option<String> = "de::opt_str",
        /// `priority`: the order in which networks are attached.
        pub priority: Option<i64> = "de::opt_num",
    }
}

model! {
    /// A `depends_on` entry.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Dependency {
        /// `condition`: what to wait for.
        #[serde(default)]
        pub condition: Condition,
        /// `restart`: restart this service when the dependency is updated.
        #[serde(default, deserialize_with = "de::bool_field")]
        pub restart: bool,
        /// `required`: a missing or disabled dependency is an error (`true` by default);
        /// otherwise it is ignored.
        #[serde(default = "yes", deserialize_with = "de::bool_field")]
        pub required: bool,
    }
}

impl Default for Dependency {
    fn default() -> Self {
        Dependency {
            condition: Condition::ServiceStarted,
            restart: false,
            required: true,
        }
    }
}

impl Dependency {
    /// A required dependency with this condition.
    pub fn new(condition: Condition) -> Self {
        Dependency {
            condition,
            ..Dependency::default()
        }
    }
}

/// `depends_on.<name>.condition`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Condition {
    /// `service_started`: the dependency has started.
    #[default]
    ServiceStarted,
    /// `service_healthy`: its healthcheck passes.
    ServiceHealthy,
    /// `service_completed_successfully`: it ran and exited 0.
    ServiceCompletedSuccessfully,
}

model! {
    /// `healthcheck`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Healthcheck {
        /// `test`: `["CMD", …]`, `["CMD-SHELL", cmd]` (a string is the latter) or `["NONE"]`.
        pub test: Option<Vec<String>> = "de::health_test",
        /// `interval`.
        pub interval: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `timeout`.
        pub timeout: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `retries`.
        pub retries: Option<u64> = "de::opt_num",
        /// `start_period`.
        pub start_period: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `start_interval`.
        pub start_interval: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `disable`: no healthcheck, not even the image's.
        pub disable: bool = "de::bool_field",
    }
}

/// A `ulimits` entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Ulimit {
    /// `soft`.
    pub soft: i64,
    /// `hard`.
    pub hard: i64,
}

impl Ulimit {
    /// Soft and hard limits.
    pub fn new(soft: i64, hard: i64) -> Self {
        Ulimit { soft, hard }
    }
}

model! {
    /// `logging`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Logging {
        /// `driver`.
        pub driver: Option<String> = "de::opt_str",
        /// `options`.
        pub options: BTreeMap<String, String> = "de::label_map",
    }
}

model! {
    /// `deploy` (what a single engine can honour of it).
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Deploy {
        /// `mode`: `replicated` (the default) or `global`.
        pub mode: Option<String> = "de::opt_str",
        /// `replicas`: the number of containers.
        pub replicas: Option<u64> = "de::opt_num",
        /// `labels`: labels of the service (not of its containers).
        pub labels: BTreeMap<String, String> = "de::label_map",
        /// `resources`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub resources: Option<Resources>,
        /// `restart_policy`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub restart_policy: Option<RestartPolicy>,
    }
}

model! {
    /// `deploy.resources`.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Resources {
        /// `limits`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub limits: Option<Limits>,
        /// `reservations`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reservations: Option<Limits>,
    }
}

model! {
    /// `deploy.resources.limits` / `reservations`.
    #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
    pub struct Limits {
        /// `cpus` (`"0.5"` in the file).
        pub cpus: Option<f64> = "de::opt_num",
        /// `memory` in bytes (`512M` in the file).
        pub memory: Option<u64> = "de::opt_bytes",
        /// `pids`.
        pub pids: Option<i64> = "de::opt_num",
    }
}

model! {
    /// `deploy.restart_policy`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct RestartPolicy {
        /// `condition`: `none`, `on-failure`, `any`.
        pub condition: Option<String> = "de::opt_str",
        /// `delay`.
        pub delay: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
        /// `max_attempts`.
        pub max_attempts: Option<u64> = "de::opt_num",
        /// `window`.
        pub window: Option<Duration> = "de::opt_duration" | "ser::opt_duration",
    }
}

model! {
    /// A service's use of a secret or a config (`secrets[]`, `configs[]` long syntax).
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct FileRef {
        /// `source`: the key in the top-level `secrets`/`configs`.
        pub source: String,
        /// `target`: the path or name in the container.
        pub target: Option<String> = "de::opt_str",
        /// `uid`.
        pub uid: Option<String> = "de::opt_str",
        /// `gid`.
        pub gid: Option<String> = "de::opt_str",
        /// `mode`: permission bits.
        pub mode: Option<u32> = "de::opt_mode" | "ser::opt_mode",
    }
}

impl de::Short for FileRef {
    const EXPECTING: &'static str = "a name or a mapping with source";
    fn parse_short(s: &str) -> Result<Vec<Self>, String> {
        Ok(vec![FileRef {
            source: s.to_owned(),
            ..FileRef::default()
        }])
    }
}

model! {
    /// A top-level `networks` entry.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct NetworkConfig {
        /// `name`: the engine's name of the network (`<project>_<key>` by default, the key
        /// for an external one).
        pub name: Option<String> = "de::opt_str",
        /// `driver`: `bridge` by default.
        pub driver: Option<String> = "de::opt_str",
        /// `driver_opts`.
        pub driver_opts: BTreeMap<String, String> = "de::label_map",
        /// `external`: made outside the project; never created nor removed by it.
        pub external: bool = "de::bool_field",
        /// `internal`: no route outside.
        pub internal: bool = "de::bool_field",
        /// `attachable`.
        pub attachable: bool = "de::bool_field",
        /// `enable_ipv6`.
        pub enable_ipv6: Option<bool> = "de::opt_bool",
        /// `ipam`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub ipam: Option<Ipam>,
        /// `labels`.
        pub labels: BTreeMap<String, String> = "de::label_map",
    }
}

model! {
    /// `networks.<name>.ipam`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Ipam {
        /// `driver`.
        pub driver: Option<String> = "de::opt_str",
        /// `config`: the pools.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub config: Vec<IpamPool>,
    }
}

model! {
    /// `networks.<name>.ipam.config[]`.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct IpamPool {
        /// `subnet` (`172.28.0.0/16`).
        pub subnet: Option<String> = "de::opt_str",
        /// `gateway`.
        pub gateway: Option<String> = "de::opt_str",
        /// `ip_range`.
        pub ip_range: Option<String> = "de::opt_str",
    }
}

model! {
    /// A top-level `volumes` entry.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct VolumeConfig {
        /// `name`: the engine's name (`<project>_<key>` by default, the key for an external
        /// one).
        pub name: Option<String> = "de::opt_str",
        /// `driver` (only `local` exists here; kept as written).
        pub driver: Option<String> = "de::opt_str",
        /// `driver_opts`.
        pub driver_opts: BTreeMap<String, String> = "de::label_map",
        /// `external`: made outside the project.
        pub external: bool = "de::bool_field",
        /// `labels`.
        pub labels: BTreeMap<String, String> = "de::label_map",
    }
}

model! {
    /// A top-level `secrets` or `configs` entry: where its content comes from.
    #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
    pub struct FileObject {
        /// `name`: the engine's name (`<project>_<key>` by default).
        pub name: Option<String> = "de::opt_str",
        /// `file`: a host file (absolute once resolved).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub file: Option<PathBuf>,
        /// `environment`: the value of this variable of the project's environment.
        pub environment: Option<String> = "de::opt_str",
        /// `content`: inline content (configs only).
        pub content: Option<String> = "de::opt_str",
        /// `external`: made outside the project.
        pub external: bool = "de::bool_field",
        /// `labels`.
        pub labels: BTreeMap<String, String> = "de::label_map",
    }
}
