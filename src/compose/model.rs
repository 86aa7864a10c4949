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

/// A service: the containers of one image and configuration (`services.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Service {
    /// `image`: the image to run (or to tag the build with).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub image: Option<String>,
    /// `build`: how to build the image (`build: ./dir` is `context: ./dir`).
    #[serde(
        default,
        deserialize_with = "de::short_one",
        skip_serializing_if = "Option::is_none"
    )]
    pub build: Option<Build>,
    /// `command`: the arguments, overriding the image's `CMD` (a string is split as a
    /// shell splits it, as Compose does).
    #[serde(
        default,
        deserialize_with = "de::command",
        skip_serializing_if = "Option::is_none"
    )]
    pub command: Option<Vec<String>>,
    /// `entrypoint`: overrides the image's `ENTRYPOINT` (string or list, as `command`).
    #[serde(
        default,
        deserialize_with = "de::command",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// `environment`: variables; `None` (`KEY` alone) takes the value from the project's
    /// environment when loaded, and stays unset when there is none.
    #[serde(
        default,
        deserialize_with = "de::env_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment: BTreeMap<String, Option<String>>,
    /// `env_file`: files of `KEY=VALUE` lines whose variables the loader adds to
    /// `environment` (which wins).
    #[serde(
        default,
        deserialize_with = "de::short_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env_file: Vec<EnvFile>,
    /// `ports`: published ports (one entry per port: a short range is expanded).
    #[serde(
        default,
        deserialize_with = "de::short_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ports: Vec<Port>,
    /// `expose`: ports (or ranges) exposed to other services, not published.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub expose: Vec<String>,
    /// `volumes`: named volumes, bind mounts and tmpfs mounts.
    #[serde(
        default,
        deserialize_with = "de::short_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub volumes: Vec<ServiceVolume>,
    /// `networks`: the networks the service joins, by their key in `networks`.
    #[serde(
        default,
        deserialize_with = "de::keys_or_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub networks: BTreeMap<String, ServiceNetwork>,
    /// `network_mode`: `none`, `host`, `service:<name>`, `container:<name>`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub network_mode: Option<String>,
    /// `depends_on`: services to start first, and what to wait for.
    #[serde(
        default,
        deserialize_with = "de::keys_or_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub depends_on: BTreeMap<String, Dependency>,
    /// `restart`: `no`, `always`, `on-failure[:N]`, `unless-stopped`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub restart: Option<String>,
    /// `healthcheck`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// `labels`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `working_dir`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub working_dir: Option<String>,
    /// `user`: `uid[:gid]` or names.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub user: Option<String>,
    /// `hostname`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub hostname: Option<String>,
    /// `domainname`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub domainname: Option<String>,
    /// `container_name`: a fixed container name instead of `<project>-<service>-<n>`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub container_name: Option<String>,
    /// `extra_hosts`: host name → address lines added to `/etc/hosts`.
    #[serde(
        default,
        deserialize_with = "de::hosts_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub extra_hosts: BTreeMap<String, String>,
    /// `dns`: name servers.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns: Vec<String>,
    /// `dns_search`: search domains.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub dns_search: Vec<String>,
    /// `cap_add`.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cap_add: Vec<String>,
    /// `cap_drop`.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cap_drop: Vec<String>,
    /// `security_opt`.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub security_opt: Vec<String>,
    /// `devices`: `host[:container[:perms]]`.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub devices: Vec<String>,
    /// `group_add`: supplementary groups.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub group_add: Vec<String>,
    /// `privileged`.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub privileged: Option<bool>,
    /// `read_only`: a read-only root filesystem.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub read_only: Option<bool>,
    /// `tmpfs`: tmpfs mounts, `path[:options]`.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tmpfs: Vec<String>,
    /// `ulimits`: name → limits (`nofile: 1024` sets both).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    /// `sysctls`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub sysctls: BTreeMap<String, String>,
    /// `mem_limit` in bytes (`512m` in the file).
    #[serde(
        default,
        deserialize_with = "de::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub mem_limit: Option<u64>,
    /// `mem_reservation` in bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub mem_reservation: Option<u64>,
    /// `shm_size` in bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub shm_size: Option<u64>,
    /// `cpus`: CPU quota in CPUs (`1.5`).
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpus: Option<f64>,
    /// `cpu_shares`.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpu_shares: Option<u64>,
    /// `pids_limit` (`-1`: unlimited).
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub pids_limit: Option<i64>,
    /// `stop_signal` (`SIGTERM` by default).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_signal: Option<String>,
    /// `stop_grace_period` (10 s by default).
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_grace_period: Option<Duration>,
    /// `init`: run an init process as PID 1.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub init: Option<bool>,
    /// `tty`.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub tty: Option<bool>,
    /// `stdin_open`.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub stdin_open: Option<bool>,
    /// `ipc`, `pid`: `host`, `service:<name>`, …
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipc: Option<String>,
    /// `pid`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub pid: Option<String>,
    /// `platform` (`linux/amd64`).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub platform: Option<String>,
    /// `pull_policy`: `always`, `never`, `missing`, `build`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull_policy: Option<String>,
    /// `logging`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<Logging>,
    /// `profiles`: the service is active only when one of them is enabled.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub profiles: Vec<String>,
    /// `scale`: the number of containers (`deploy.replicas` says the same).
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub scale: Option<u64>,
    /// `deploy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<Deploy>,
    /// `secrets`: secrets mounted under `/run/secrets/`.
    #[serde(
        default,
        deserialize_with = "de::short_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secrets: Vec<FileRef>,
    /// `configs`: configs mounted at their target (`/<source>` by default).
    #[serde(
        default,
        deserialize_with = "de::short_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub configs: Vec<FileRef>,
}

/// `build`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Build {
    /// `context`: a directory (absolute once resolved) or a URL (`.` by default).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub context: Option<String>,
    /// `dockerfile`: relative to the context (`Dockerfile` by default).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub dockerfile: Option<String>,
    /// `dockerfile_inline`: the Dockerfile's text.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub dockerfile_inline: Option<String>,
    /// `args`: build arguments; `None` takes the value from the environment.
    #[serde(
        default,
        deserialize_with = "de::env_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub args: BTreeMap<String, Option<String>>,
    /// `target`: the stage to build.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// `labels`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `network`: the network of RUN steps.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub network: Option<String>,
    /// `no_cache`.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub no_cache: Option<bool>,
    /// `pull`: always pull base images.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub pull: Option<bool>,
    /// `tags`: more tags for the image.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub tags: Vec<String>,
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

/// An `env_file` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvFile {
    /// `path`: absolute once resolved.
    pub path: PathBuf,
    /// `required`: a missing file is an error (`true` by default).
    #[serde(default = "yes", deserialize_with = "de::bool_field")]
    pub required: bool,
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

/// A published or exposed port (`ports` long syntax).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Port {
    /// `name`: a human-readable name.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// `mode`: `ingress` (the default) or `host`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<String>,
    /// `host_ip`: the host address to bind (all by default).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_ip: Option<String>,
    /// `target`: the container port.
    #[serde(deserialize_with = "de::port_number")]
    pub target: u16,
    /// `published`: the host port or range (`8080`, `8000-8010`); none: an ephemeral port.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub published: Option<String>,
    /// `protocol`: `tcp` (the default) or `udp`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub protocol: Option<String>,
    /// `app_protocol`: a hint (`http`).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub app_protocol: Option<String>,
}

/// A service's mount (`volumes` long syntax).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceVolume {
    /// `type`.
    #[serde(rename = "type")]
    pub kind: VolumeType,
    /// `source`: the volume's key in `volumes` (none: an anonymous volume), the host path
    /// of a bind (absolute once resolved).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub source: Option<String>,
    /// `target`: the path in the container.
    pub target: String,
    /// `read_only` (`:ro`).
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub read_only: bool,
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
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub consistency: Option<String>,
}

pub(super) fn is_false(b: &bool) -> bool {
    !*b
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

/// `volumes[].bind`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct BindOptions {
    /// `propagation`: `rprivate`, `shared`, …
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub propagation: Option<String>,
    /// `create_host_path`: create a missing source (true for the short syntax).
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_host_path: Option<bool>,
    /// `selinux`: `z` or `Z`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub selinux: Option<String>,
}

/// `volumes[].volume`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct VolumeOptions {
    /// `nocopy`: do not copy the image's content into a new volume.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub nocopy: Option<bool>,
    /// `subpath`: mount this path of the volume.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub subpath: Option<String>,
}

/// `volumes[].tmpfs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TmpfsOptions {
    /// `size` in bytes.
    #[serde(
        default,
        deserialize_with = "de::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<u64>,
    /// `mode`: permission bits.
    #[serde(
        default,
        deserialize_with = "de::opt_mode",
        serialize_with = "ser::opt_mode",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<u32>,
}

/// A service's attachment to a network (`networks.<name>` of a service).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ServiceNetwork {
    /// `aliases`: more names of the service on this network.
    #[serde(
        default,
        deserialize_with = "de::string_or_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aliases: Vec<String>,
    /// `ipv4_address`: a fixed address.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv4_address: Option<String>,
    /// `ipv6_address`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_address: Option<String>,
    /// `priority`: the order in which networks are attached.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub priority: Option<i64>,
}

/// A `depends_on` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
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

/// `healthcheck`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Healthcheck {
    /// `test`: `["CMD", …]`, `["CMD-SHELL", cmd]` (a string is the latter) or `["NONE"]`.
    #[serde(
        default,
        deserialize_with = "de::health_test",
        skip_serializing_if = "Option::is_none"
    )]
    pub test: Option<Vec<String>>,
    /// `interval`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub interval: Option<Duration>,
    /// `timeout`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout: Option<Duration>,
    /// `retries`.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub retries: Option<u64>,
    /// `start_period`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_period: Option<Duration>,
    /// `start_interval`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_interval: Option<Duration>,
    /// `disable`: no healthcheck, not even the image's.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub disable: bool,
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

/// `logging`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Logging {
    /// `driver`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// `options`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
}

/// `deploy` (what a single engine can honour of it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Deploy {
    /// `mode`: `replicated` (the default) or `global`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<String>,
    /// `replicas`: the number of containers.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub replicas: Option<u64>,
    /// `labels`: labels of the service (not of its containers).
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
    /// `resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// `restart_policy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<RestartPolicy>,
}

/// `deploy.resources`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Resources {
    /// `limits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    /// `reservations`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservations: Option<Limits>,
}

/// `deploy.resources.limits` / `reservations`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// `cpus` (`"0.5"` in the file).
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub cpus: Option<f64>,
    /// `memory` in bytes (`512M` in the file).
    #[serde(
        default,
        deserialize_with = "de::opt_bytes",
        skip_serializing_if = "Option::is_none"
    )]
    pub memory: Option<u64>,
    /// `pids`.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub pids: Option<i64>,
}

/// `deploy.restart_policy`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// `condition`: `none`, `on-failure`, `any`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub condition: Option<String>,
    /// `delay`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    /// `max_attempts`.
    #[serde(
        default,
        deserialize_with = "de::opt_num",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_attempts: Option<u64>,
    /// `window`.
    #[serde(
        default,
        deserialize_with = "de::opt_duration",
        serialize_with = "ser::opt_duration",
        skip_serializing_if = "Option::is_none"
    )]
    pub window: Option<Duration>,
}

/// A service's use of a secret or a config (`secrets[]`, `configs[]` long syntax).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FileRef {
    /// `source`: the key in the top-level `secrets`/`configs`.
    pub source: String,
    /// `target`: the path or name in the container.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// `uid`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub uid: Option<String>,
    /// `gid`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub gid: Option<String>,
    /// `mode`: permission bits.
    #[serde(
        default,
        deserialize_with = "de::opt_mode",
        serialize_with = "ser::opt_mode",
        skip_serializing_if = "Option::is_none"
    )]
    pub mode: Option<u32>,
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

/// A top-level `networks` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NetworkConfig {
    /// `name`: the engine's name of the network (`<project>_<key>` by default, the key
    /// for an external one).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// `driver`: `bridge` by default.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// `driver_opts`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// `external`: made outside the project; never created nor removed by it.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub external: bool,
    /// `internal`: no route outside.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub internal: bool,
    /// `attachable`.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub attachable: bool,
    /// `enable_ipv6`.
    #[serde(
        default,
        deserialize_with = "de::opt_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    /// `ipam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipam: Option<Ipam>,
    /// `labels`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

/// `networks.<name>.ipam`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Ipam {
    /// `driver`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// `config`: the pools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<IpamPool>,
}

/// `networks.<name>.ipam.config[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IpamPool {
    /// `subnet` (`172.28.0.0/16`).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub subnet: Option<String>,
    /// `gateway`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub gateway: Option<String>,
    /// `ip_range`.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_range: Option<String>,
}

/// A top-level `volumes` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct VolumeConfig {
    /// `name`: the engine's name (`<project>_<key>` by default, the key for an external
    /// one).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// `driver` (only `local` exists here; kept as written).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub driver: Option<String>,
    /// `driver_opts`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub driver_opts: BTreeMap<String, String>,
    /// `external`: made outside the project.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub external: bool,
    /// `labels`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}

/// A top-level `secrets` or `configs` entry: where its content comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FileObject {
    /// `name`: the engine's name (`<project>_<key>` by default).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// `file`: a host file (absolute once resolved).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// `environment`: the value of this variable of the project's environment.
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub environment: Option<String>,
    /// `content`: inline content (configs only).
    #[serde(
        default,
        deserialize_with = "de::opt_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub content: Option<String>,
    /// `external`: made outside the project.
    #[serde(
        default,
        deserialize_with = "de::bool_field",
        skip_serializing_if = "is_false"
    )]
    pub external: bool,
    /// `labels`.
    #[serde(
        default,
        deserialize_with = "de::label_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub labels: BTreeMap<String, String>,
}
