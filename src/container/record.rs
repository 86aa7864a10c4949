//! The persisted container record (`container.json`) and its `docker inspect` form.

use crate::network::sandbox::NetworkMemo;
use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use super::logs::{self, LogOptions, Logs};
use super::release::Ending;
use super::store::ContainerStore;
use super::{monitor, ExitStatus};
use crate::{Error, Result};

/// An [`ExitStatus`] from Docker's exit code (128 + n reads as killed by signal n).
fn from_code(code: i32, oom_killed: bool) -> ExitStatus {
    let raw = if (129..=192).contains(&code) {
        code - 128
    } else {
        (code & 0xff) << 8
    };
    ExitStatus::new(std::process::ExitStatus::from_raw(raw), oom_killed)
}

/// A container's state, as `docker inspect` words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Set up, its process not started (or being started).
    Created,
    /// Its process runs.
    Running,
    /// Frozen.
    Paused,
    /// Being restarted by its restart policy.
    Restarting,
    /// Being removed.
    Removing,
    /// Its process has exited.
    Exited,
    /// Its owner vanished and the state could not be determined.
    Dead,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).expect("status serialises");
        f.write_str(s.as_str().unwrap_or("unknown"))
    }
}

/// `State` of [`Inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct State {
    /// created, running, paused, exited, dead….
    pub status: Status,
    /// Its process runs (or is paused).
    pub running: bool,
    /// Frozen.
    pub paused: bool,
    /// Being restarted.
    pub restarting: bool,
    /// The OOM killer killed a process of it.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Its owner vanished.
    pub dead: bool,
    /// Host pid of its init while it runs, else 0.
    pub pid: i32,
    /// Exit code (128 + signal when killed).
    pub exit_code: i32,
    /// Why it could not be started or finished, if so.
    pub error: String,
    /// RFC 3339 start time ("0001-01-01T00:00:00Z" before).
    pub started_at: String,
    /// RFC 3339 end time ("0001-01-01T00:00:00Z" before).
    pub finished_at: String,
    /// Its health, when it has a healthcheck and was started detached with it (see
    /// [`Container::health`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::Health>,
}

impl State {
    /// The state of a container just made: created, never started.
    pub(crate) fn created() -> State {
        State {
            status: Status::Created,
            running: false,
            paused: false,
            restarting: false,
            oom_killed: false,
            dead: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.to_owned(),
            finished_at: ZERO_TIME.to_owned(),
            health: None,
        }
    }
}

impl State {
    /// Docker's `Status` of a listed container, as `docker ps` words it and as of now:
    /// `Up 2 minutes`, `Up 5 seconds (healthy)`, `Up 1 second (health: starting)`,
    /// `Up 3 hours (Paused)`, `Restarting (1) 2 seconds ago`, `Exited (0) 3 seconds ago`,
    /// `Created`, `Removal In Progress`, `Dead` (ages as [`human_duration`] gives them).
    pub fn status_text(&self) -> String {
        let since = |t: &str| {
            let d = logs::parse_time(t)
                .and_then(|t| std::time::SystemTime::now().duration_since(t).ok())
                .unwrap_or_default();
            human_duration(d)
        };
        let up = since(&self.started_at);
        match self.status {
            Status::Paused => format!("Up {up} (Paused)"),
            Status::Running => match &self.health {
                Some(h) if h.status == super::HealthStatus::Starting => {
                    format!("Up {up} (health: starting)")
                }
                Some(h) => format!("Up {up} ({})", h.status),
                None => format!("Up {up}"),
            },
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                self.exit_code,
                since(&self.finished_at)
            ),
            Status::Created => "Created".into(),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                self.exit_code,
                since(&self.finished_at)
            ),
        }
    }
}

/// A duration as Docker words ages (go-units' `HumanDuration`, what `docker ps` and
/// `docker images` print before "ago"): `Less than a second`, `1 second`, `5 seconds`,
/// `About a minute`, `3 minutes`, `About an hour`, `5 hours`, `3 days`, `2 weeks`,
/// `4 months`, `2 years`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// `Config` of [`Inspect`]: what the container was created with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Config {
    /// The hostname.
    pub hostname: String,
    /// The user spec (`name`, `uid:gid`…), empty for the image's.
    pub user: String,
    /// A pty was asked for.
    pub tty: bool,
    /// Stdin is open (piped or inherited).
    pub open_stdin: bool,
    /// Stdin closes after the first attach ends (Docker's `StdinOnce`: `run -i`,
    /// `create -i`).
    #[serde(default)]
    pub stdin_once: bool,
    /// The full environment of the process.
    pub env: Vec<String>,
    /// The command (after the entrypoint).
    pub cmd: Vec<String>,
    /// The entrypoint.
    pub entrypoint: Vec<String>,
    /// The image reference as given.
    pub image: String,
    /// The working directory.
    pub working_dir: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The signal `stop` sends first.
    pub stop_signal: String,
    /// Seconds `docker stop` waits by default before SIGKILL (`--stop-timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// Ports the image exposes (`"80/tcp"` → `{}`), as Docker's `ExposedPorts`.
    #[serde(default)]
    pub exposed_ports: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// The healthcheck: the image's, merged with the one set
    /// ([`ContainerBuilder::healthcheck`](super::ContainerBuilder::healthcheck)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::Healthcheck>,
}

/// `HostConfig` of [`Inspect`]: limits and privileges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct HostConfig {
    /// Memory limit in bytes (0: none).
    pub memory: i64,
    /// Memory plus swap in bytes (`--memory-swap`): -1 is unlimited swap, 0 none set
    /// (no memory limit either); Docker's default with a memory limit is twice it.
    #[serde(default)]
    pub memory_swap: i64,
    /// Memory soft limit in bytes (`--memory-reservation`; 0: none).
    #[serde(default)]
    pub memory_reservation: i64,
    /// CPU shares, the relative CPU weight (`--cpu-shares`; 0: the default, 1024).
    #[serde(default)]
    pub cpu_shares: i64,
    /// CFS quota in µs per period (0: none).
    pub cpu_quota: i64,
    /// CFS period in µs (0: the default, 100 ms).
    pub cpu_period: i64,
    /// Maximum number of processes.
    pub pids_limit: Option<i64>,
    /// The root file system is read-only.
    pub readonly_rootfs: bool,
    /// All capabilities, no seccomp, no masked paths.
    pub privileged: bool,
    /// Removed when it exits.
    pub auto_remove: bool,
    /// Capabilities added.
    pub cap_add: Vec<String>,
    /// Capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Security options that differ from the defaults (`seccomp=unconfined`,
    /// `seccomp=PATH`, `no-new-privileges`).
    #[serde(default)]
    pub security_opt: Vec<String>,
    /// When its monitor starts it again (`--restart`).
    #[serde(default)]
    pub restart_policy: RestartPolicyInfo,
    /// `none` (the default: loopback only), `host`, or the first network's name.
    #[serde(default)]
    pub network_mode: String,
    /// Ports asked to be published: `"80/tcp"` → host address and port (`0`: any free).
    #[serde(default)]
    pub port_bindings: BTreeMap<String, Vec<super::net::PortMapping>>,
    /// Extra `/etc/hosts` lines (`--add-host name:ip`).
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// Name servers for `/etc/resolv.conf` (`--dns`); empty: the host's.
    #[serde(default)]
    pub dns: Vec<String>,
    /// Resource limits of its processes (`--ulimit`).
    #[serde(default)]
    pub ulimits: Vec<super::Ulimit>,
    /// Runs under a tiny init (`--init`; `None`: not asked, as Docker's `null`).
    #[serde(default)]
    pub init: Option<bool>,
}

/// `HostConfig.RestartPolicy` of [`Inspect`], in Docker's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct RestartPolicyInfo {
    /// `no`, `on-failure`, `always` or `unless-stopped` (empty is `no`).
    pub name: String,
    /// The most restarts of `on-failure` (0: no limit).
    pub maximum_retry_count: u32,
}

impl From<monitor::RestartPolicy> for RestartPolicyInfo {
    fn from(p: monitor::RestartPolicy) -> Self {
        use monitor::RestartPolicy as P;
        let (name, maximum_retry_count) = match p {
            P::No => ("no", 0),
            P::OnFailure { max_retries } => ("on-failure", max_retries.unwrap_or(0)),
            P::Always => ("always", 0),
            P::UnlessStopped => ("unless-stopped", 0),
        };
        RestartPolicyInfo {
            name: name.to_owned(),
            maximum_retry_count,
        }
    }
}

impl RestartPolicyInfo {
    /// The policy it describes (an unknown name reads as `no`).
    pub fn policy(&self) -> monitor::RestartPolicy {
        use monitor::RestartPolicy as P;
        match self.name.as_str() {
            "on-failure" => P::OnFailure {
                max_retries: (self.maximum_retry_count > 0).then_some(self.maximum_retry_count),
            },
            "always" => P::Always,
            "unless-stopped" => P::UnlessStopped,
            _ => P::No,
        }
    }
}

/// `GraphDriver` of [`Inspect`]: the overlay's directories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GraphDriver {
    /// "overlay2", as Docker names it.
    pub name: String,
    /// LowerDir (colon-separated, top first), UpperDir, WorkDir, MergedDir.
    pub data: BTreeMap<String, String>,
}

/// A mount of [`Inspect`], as `docker inspect` shows it under `Mounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct MountPoint {
    /// "bind", "volume" or "tmpfs".
    pub r#type: String,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The host path: a bind's source, a volume's `_data`; empty for a tmpfs.
    pub source: String,
    /// The path in the container.
    pub destination: String,
    /// "local" for volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The mode given with `-v` (always empty: options are in the other fields).
    #[serde(default)]
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// A bind's propagation (`rprivate` by default); empty for volumes and tmpfs, as Docker.
    #[serde(default)]
    pub propagation: String,
}

/// What `docker inspect` shows of a container; serialises to the same field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Inspect {
    /// 64 hex digits.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: String,
    /// argv\[0\].
    pub path: String,
    /// argv\[1..\].
    pub args: Vec<String>,
    /// The live state.
    pub state: State,
    /// The image id (`sha256:…`).
    pub image: String,
    /// `/name`, as Docker shows it.
    pub name: String,
    /// How many times its restart policy has started it again since it was last started
    /// (Docker's `RestartCount`; a start by hand counts afresh, as Docker's does).
    #[serde(default)]
    pub restart_count: u32,
    /// Limits and privileges.
    pub host_config: HostConfig,
    /// The overlay's directories.
    pub graph_driver: GraphDriver,
    /// Volumes and binds.
    pub mounts: Vec<MountPoint>,
    /// What it was created with.
    pub config: Config,
    /// Its networks and published ports (addresses while it runs).
    #[serde(default)]
    pub network_settings: super::net::NetworkSettings,
}

impl Inspect {
    /// The bytes of its writable layer (the files in its upper directory; Docker's
    /// `SizeRw`), 0 when it has none.
    pub fn size_rw(&self) -> u64 {
        self.graph_driver
            .data
            .get("UpperDir")
            .map_or(0, |d| crate::store::tree_size(Path::new(d)))
    }
}

/// `container.json`: the inspect form plus what only we need.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    #[serde(flatten)]
    pub info: Inspect,
    /// The process that started it and is attached to it (pid, start time in clock ticks).
    #[serde(rename = "cargohold.owner")]
    pub owner: (i32, u64),
    /// The image reference held in the store for it.
    #[serde(rename = "cargohold.reference")]
    pub reference: String,
    /// Started through a monitor ([`super::monitor`]): alive while the monitor holds its
    /// lock, however the owner fares.
    #[serde(rename = "cargohold.detached", default)]
    pub detached: bool,
    /// Made by [`ContainerBuilder::create`](super::ContainerBuilder::create): set up and
    /// waiting for [`Container::start`], owned by no program.
    #[serde(rename = "cargohold.standby", default)]
    pub standby: bool,
    /// Tied to its owner: killed when the owner exits, removed once it has exited
    /// ([`ContainerBuilder::ephemeral`](super::ContainerBuilder::ephemeral)).
    #[serde(rename = "cargohold.ephemeral", default)]
    pub ephemeral: bool,
    /// How it is networked, as asked for (attached again at every start).
    #[serde(rename = "cargohold.network", default)]
    pub net: super::net::NetSettings,
}

pub(crate) const RECORD: &str = "container.json";
/// An empty file beside the record while the record says created, running or paused (or
/// is a build's RUN step), so that opening an engine reads only the records that may need
/// repair.
pub(crate) const LIVE: &str = "live";

/// Beside the record of a container made by `create` and not started yet (it belongs to
/// no program, so repair has nothing to do but keep its network endpoints).
pub(crate) const STANDBY: &str = "standby";

/// Makes or removes the marker `name` ([`LIVE`], [`STANDBY`]) of the container in `dir`.
fn mark(dir: &Path, name: &str, on: bool) -> Result<()> {
    let p = dir.join(name);
    let r = if on {
        fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&p)
            .map(drop)
    } else {
        fs::remove_file(&p)
    };
    match r {
        Err(e) if on || e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::os("marking the container's state in", dir, e))
        }
        _ => Ok(()),
    }
}
/// The exit record a detached container's monitor writes (its lock is `exit.json.lock`).
pub(crate) const EXIT: &str = "exit.json";

/// The json-file log of a detached container: `<dir>/<id>-json.log`, as Docker names it.
pub(crate) fn log_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}-json.log"))
}

/// The monitor's exit record of a detached container.
pub(crate) fn exit_path(dir: &Path) -> PathBuf {
    dir.join(EXIT)
}

/// How the monitor of the container `rec` (in `dir`) runs it: its log and exit record in
/// the container's directory, `restart`, and its networks detached (and its embedded DNS
/// served) by the monitor.
pub(crate) fn monitor_config(
    store: &ContainerStore,
    rec: &Record,
    dir: &Path,
    restart: monitor::RestartPolicy,
) -> monitor::MonitorConfig {
    let id = &rec.info.id;
    let mut cfg = monitor::MonitorConfig::new(
        store.runtime().root(),
        id,
        dir,
        log_path(dir, id),
        exit_path(dir),
    );
    cfg.restart = restart;
    cfg.networks_root = Some(store.root().to_owned());
    cfg.health = rec
        .info
        .config
        .healthcheck
        .clone()
        .filter(|h| h.command().is_some());
    cfg.embedded_dns = super::net::dns_upstreams(rec);
    if rec.info.config.open_stdin {
        cfg.stdin = monitor::MonitorStdin::Fifo(super::attach::stdin_path(dir));
        cfg.stdin_once = rec.info.config.stdin_once;
    }
    cfg
}
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Records parsed by this process, by path, with the version of the file they came from:
/// a program that lists its containers again and again (a server) parses a record written
/// more than [`SETTLED`] ago once more after its first read, then never again while the
/// file stays the same (records are replaced by rename, so a change makes a new inode; a
/// version is trusted only once its ctime is older than the timestamp granularity could
/// hide, as git's index does with "racily clean" files). The first read only notes the
/// version (`None`): a program that reads each record once — `engine ps` — pays no copy
/// into the table.
static PARSED: std::sync::Mutex<Option<ParseTable>> = std::sync::Mutex::new(None);

/// Each record's path: the version of the file last read, and its parse once kept.
type ParseTable = std::collections::HashMap<PathBuf, (crate::store::FileVersion, Option<Record>)>;

/// How old a record's ctime must be for its parse to be remembered.
const SETTLED: Duration = Duration::from_secs(2);

/// The most records remembered (the table is emptied when it grows past it).
const PARSED_MAX: usize = 8192;

impl Record {
    pub(crate) fn load(dir: &Path) -> Result<Record> {
        let p = dir.join(RECORD);
        let f = fs::File::open(&p).map_err(|e| Error::os("reading container record", &p, e))?;
        Self::read(p, f)
    }

    /// [`load`](Self::load) of the container `id` with `containers` a handle of the
    /// containers directory `dir` (a path walk of two components, not the root's whole
    /// path: a listing opens hundreds).
    pub(crate) fn load_in(containers: &OwnedFd, dir: &Path, id: &str) -> Result<Record> {
        let p = dir.join(id).join(RECORD);
        let fd = rustix::fs::openat(
            containers,
            format!("{id}/{RECORD}"),
            rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| Error::os("reading container record", &p, e.into()))?;
        Self::read(p, fs::File::from(fd))
    }

    /// The record in `f`, opened at `p` (the key of the parse cache).
    fn read(p: PathBuf, mut f: fs::File) -> Result<Record> {
        use std::io::Read;
        let err = |e| Error::os("reading container record", &p, e);
        let m = f.metadata().map_err(err)?;
        let version = crate::store::file_version(&m);
        // seen before at this version: the parse kept then, or keep this one
        let mut seen = false;
        if let Ok(parsed) = PARSED.lock() {
            if let Some((v, rec)) = parsed.as_ref().and_then(|t| t.get(&p)) {
                if *v == version {
                    if let Some(rec) = rec {
                        return Ok(rec.clone());
                    }
                    seen = true;
                }
            }
        }
        let mut data = Vec::with_capacity(m.len() as usize + 1);
        f.read_to_end(&mut data).map_err(err)?;
        let rec = Record::parse(&data)
            .map_err(|e| Error::os("parsing container record", &p, e.into()))?;
        let settled = crate::store::settled(&m, SETTLED);
        if settled {
            if let Ok(mut parsed) = PARSED.lock() {
                let table = parsed.get_or_insert_with(Default::default);
                if table.len() >= PARSED_MAX {
                    table.clear();
                }
                table.insert(p, (version, seen.then(|| rec.clone())));
            }
        }
        Ok(rec)
    }

    /// A record from its JSON: the inspect form and our fields read in two direct passes
    /// (serde's `flatten` would buffer the whole document into an intermediate tree first,
    /// several times slower; `ps` of hundreds of containers parses every record).
    fn parse(data: &[u8]) -> serde_json::Result<Record> {
        #[derive(Deserialize)]
        struct Ours {
            #[serde(rename = "cargohold.owner")]
            owner: (i32, u64),
            #[serde(rename = "cargohold.reference")]
            reference: String,
            #[serde(rename = "cargohold.detached", default)]
            detached: bool,
            #[serde(rename = "cargohold.standby", default)]
            standby: bool,
            #[serde(rename = "cargohold.ephemeral", default)]
            ephemeral: bool,
            #[serde(rename = "cargohold.network", default)]
            net: super::net::NetSettings,
        }
        let info: Inspect = serde_json::from_slice(data)?;
        let ours: Ours = serde_json::from_slice(data)?;
        Ok(Record {
            info,
            owner: ours.owner,
            reference: ours.reference,
            detached: ours.detached,
            standby: ours.standby,
            ephemeral: ours.ephemeral,
            net: ours.net,
        })
    }

    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self).expect("record serialises");
        // A container removed when it exits needs no record after a power loss (repair
        // removes a directory without one): no fsync for it.
        let durable = !self.info.host_config.auto_remove;
        // A marker is made before a record that needs it is written and removed after one
        // that does not: whatever a crash interrupts, such a record has its marker.
        let standby =
            self.standby && self.info.state.status == Status::Created && !self.is_build_step();
        let live = !standby && (self.is_live() || self.is_build_step());
        for (name, on) in [(LIVE, live), (STANDBY, standby)] {
            if on {
                mark(dir, name, true)?;
            }
        }
        crate::store::write_replace(&dir.join(RECORD), &data, durable)?;
        for (name, on) in [(LIVE, live), (STANDBY, standby)] {
            if !on {
                mark(dir, name, false)?;
            }
        }
        Ok(())
    }

    /// The image's layer directories its overlay stacks (`LowerDir`, top first), as
    /// create recorded them.
    pub(crate) fn lower_dirs(&self) -> Vec<PathBuf> {
        self.info
            .graph_driver
            .data
            .get("LowerDir")
            .map(|l| l.split(':').map(PathBuf::from).collect())
            .unwrap_or_default()
    }

    /// A container a Dockerfile build runs a RUN step in (removed by repair once its
    /// builder is gone).
    pub(crate) fn is_build_step(&self) -> bool {
        self.info
            .config
            .labels
            .contains_key(super::builder::BUILD_STEP_LABEL)
    }

    /// Created, running or paused: what [`ContainerStore::repair`] may have to set right
    /// when its owner died.
    pub(crate) fn is_live(&self) -> bool {
        matches!(
            self.info.state.status,
            Status::Created | Status::Running | Status::Paused
        )
    }

    pub(crate) fn name(&self) -> &str {
        self.info.name.trim_start_matches('/')
    }
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
/// to tell a live owner from a recycled pid.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// This process as an owner (of a container, a sandbox): its pid and start time.
pub(crate) fn this_process() -> (i32, u64) {
    let pid = std::process::id() as i32;
    (pid, start_time(pid).unwrap_or(0))
}

/// Whether the process recorded as `owner` still runs.
pub(crate) fn owner_alive(owner: (i32, u64)) -> bool {
    owner.0 > 0 && start_time(owner.0) == Some(owner.1)
}

/// A container's persisted record: what `docker ps -a` lists. Get one from
/// [`Containers`](crate::Containers); it is a snapshot, [`inspect`](Self::inspect) reads
/// the current state.
///
/// ```no_run
/// use cargohold::{LogOptions, Status};
/// use std::time::Duration;
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let web = engine.containers().get("web")?; // by name or id (prefix)
/// if web.status() == Status::Running {
///     for entry in web.logs(&LogOptions::default())? {
///         print!("{}", String::from_utf8_lossy(&entry?.log));
///     }
///     web.stop(Duration::from_secs(10))?;
/// }
/// println!("{}", web.inspect()?.state.exit_code);
/// web.remove(false)?; // `docker rm web`
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Container {
    pub(super) store: ContainerStore,
    pub(super) record: Record,
    pub(super) dir: PathBuf,
}

impl Container {
    pub(crate) fn new(store: ContainerStore, dir: PathBuf, record: Record) -> Self {
        Container { store, record, dir }
    }

    pub(crate) fn store(&self) -> &ContainerStore {
        &self.store
    }

    pub(crate) fn inspect_created(&self) -> &str {
        &self.record.info.created
    }

    /// The id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.record.info.id
    }

    /// The first 12 hex digits of the id, as `docker ps` shows it.
    pub fn short_id(&self) -> &str {
        &self.record.info.id[..12]
    }

    /// The name (without Docker's leading `/`).
    pub fn name(&self) -> &str {
        self.record.name()
    }

    /// The image reference it was created from.
    pub fn image(&self) -> &str {
        &self.record.info.config.image
    }

    /// The id of the image it was created from (`sha256:…`).
    pub fn image_id(&self) -> &str {
        &self.record.info.image
    }

    /// Labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.record.info.config.labels
    }

    /// The container's directory (an OCI bundle).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The current status, read afresh (the runtime is asked whether the process still
    /// runs); [`Status::Dead`] once the container has been removed.
    pub fn status(&self) -> Status {
        match Record::load(&self.dir) {
            Ok(rec) => self.store.live_state(&rec).status,
            Err(_) => Status::Dead,
        }
    }

    /// The `docker inspect` form, read afresh from disk and the runtime.
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] once removed, [`Error::Os`] for an unreadable record.
    pub fn inspect(&self) -> Result<Inspect> {
        let rec = Record::load(&self.dir).map_err(|e| match e {
            Error::Os { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::ContainerNotFound {
                    id: self.name().to_owned(),
                }
            }
            e => e,
        })?;
        Ok(self.inspect_record(&rec, &mut NetworkMemo::default()))
    }

    /// The inspect form of `rec` (its record, as just read) with the live state, reading
    /// each network's record once per `memo`.
    pub(crate) fn inspect_record(&self, rec: &Record, memo: &mut NetworkMemo) -> Inspect {
        let mut info = rec.info.clone();
        info.state = self.store.live_state(rec);
        info.state.health = super::health::of_record(rec, &self.dir);
        info.restart_count = if rec.detached {
            monitor::restart_count(&exit_path(&self.dir))
        } else {
            0
        };
        let running = matches!(
            info.state.status,
            Status::Running | Status::Paused | Status::Restarting
        );
        info.network_settings = super::net::settings_in(&self.store, rec, memo, running);
        info
    }

    /// Started detached ([`ContainerBuilder::detach`](super::ContainerBuilder::detach)).
    pub fn is_detached(&self) -> bool {
        self.record.detached
    }

    /// Its output, as `docker logs`: the json-file log its monitor writes (a detached
    /// container's; an attached one has none, and reads as empty).
    ///
    /// # Errors
    /// The log cannot be opened or read.
    pub fn logs(&self, opts: &LogOptions) -> Result<Logs> {
        logs::read(log_path(&self.dir, self.id()), exit_path(&self.dir), opts)
    }

    /// Sends `signal` (a `libc::SIG*` number) to its init (`docker kill -s`). As Docker
    /// does, SIGKILL and the container's stop signal count as a manual stop: the monitor of
    /// a detached container is told first, so that its restart policy does not start it
    /// again (another signal leaves the policy to apply if the container exits).
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] or [`Error::InvalidState`] when it does not run;
    /// [`Error::Os`] if the monitor cannot be told.
    pub fn signal(&self, signal: i32) -> Result<()> {
        if self.record.detached && super::is_manual_stop(signal, self.stop_signal()) {
            monitor::request_stop(exit_path(&self.dir))?;
        }
        self.send(signal)
    }

    fn send(&self, signal: i32) -> Result<()> {
        self.store.runtime().kill(self.id(), signal, false)?;
        super::events::container(
            self.store.root(),
            &self.record,
            "kill",
            &[("signal", signal.to_string())],
        );
        Ok(())
    }

    /// The signal [`stop`](Self::stop) sends first.
    fn stop_signal(&self) -> i32 {
        crate::runtime::parse_signal(&self.record.info.config.stop_signal).unwrap_or(libc::SIGTERM)
    }

    /// Kills it with SIGKILL (`docker kill`); does not wait. A detached container is not
    /// restarted by its monitor afterwards.
    ///
    /// # Errors
    /// As [`signal`](Self::signal).
    pub fn kill(&self) -> Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Stops it as `docker stop` does: its stop signal, then SIGKILL once `timeout` has
    /// passed; then [`wait`](Self::wait)s. Stopping a container that does not run is not
    /// an error.
    ///
    /// # Errors
    /// As [`wait`](Self::wait).
    pub fn stop(&self, timeout: Duration) -> Result<ExitStatus> {
        let signal = crate::runtime::Signal::from_raw(self.stop_signal());
        self.stop_with(signal.unwrap_or(crate::runtime::Signal::TERM), timeout)
    }

    /// Stops it with `signal` instead of its stop signal (`docker stop --signal`), then
    /// SIGKILL once `timeout` has passed; then [`wait`](Self::wait)s. A manual stop, as
    /// [`stop`](Self::stop): the monitor of a detached container is told first, so its
    /// restart policy does not start it again, whatever the signal. Stopping a container
    /// that does not run is not an error.
    ///
    /// ```no_run
    /// # fn main() -> cargohold::Result<()> {
    /// # let engine = cargohold::Engine::open_default()?;
    /// use cargohold::Signal;
    /// use std::time::Duration;
    ///
    /// let web = engine.containers().get("web")?;
    /// web.stop_with(Signal::INT, Duration::from_secs(10))?; // docker stop -s INT -t 10 web
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`wait`](Self::wait); [`Error::Os`] if the monitor cannot be told.
    pub fn stop_with(
        &self,
        signal: crate::runtime::Signal,
        timeout: Duration,
    ) -> Result<ExitStatus> {
        let running = matches!(self.status(), Status::Running | Status::Paused);
        if running {
            if self.record.detached {
                monitor::request_stop(exit_path(&self.dir))?;
            }
            let _ = self.send(signal.as_raw());
            if !self.exited_within(timeout) {
                let _ = self.send(libc::SIGKILL);
            }
        }
        let status = self.wait()?;
        if running {
            super::events::container(self.store.root(), &self.record, "stop", &[])
        }
        Ok(status)
    }

    fn exited_within(&self, timeout: Duration) -> bool {
        if self.record.detached {
            return monitor::wait_exit(exit_path(&self.dir), timeout).is_some();
        }
        let deadline = Instant::now() + timeout;
        loop {
            if !matches!(self.status(), Status::Running | Status::Paused) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for it to exit (`docker wait`) and returns how it ended. For a detached
    /// container this reads its monitor's exit record, then frees its overlay and records
    /// the exit (removing it if it was made with `auto_remove`); an attached one is waited
    /// for until its owner has recorded the exit (from Docker's code: 128 + n
    /// reads as killed by signal n).
    ///
    /// # Errors
    /// Freeing a resource failed; [`Error::ContainerNotFound`] when an attached container is
    /// removed while we wait.
    pub fn wait(&self) -> Result<ExitStatus> {
        if self.record.detached {
            let rec = Record::load(&self.dir).map_err(|_| Error::ContainerNotFound {
                id: self.name().to_owned(),
            })?;
            if matches!(rec.info.state.status, Status::Exited | Status::Dead) {
                return Ok(from_code(
                    rec.info.state.exit_code,
                    rec.info.state.oom_killed,
                ));
            }
            let exit = exit_path(&self.dir);
            if rec.info.state.status == Status::Created {
                // Its creator is still starting it.
                while Record::load(&self.dir).is_ok_and(|r| r.info.state.status == Status::Created)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                return self.wait();
            }
            let r = super::wait_detached(&self.store, self.id(), &exit);
            self.store
                .release(self.id(), &Ending::monitored(r.as_ref()))?;
            return Ok(super::exit_status(r.as_ref()));
        }
        loop {
            let info = self.inspect()?;
            if matches!(info.state.status, Status::Exited | Status::Dead) {
                return Ok(from_code(info.state.exit_code, info.state.oom_killed));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Freezes every process of it (`docker pause`; the cgroup freezer).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it runs; a cgroup error.
    pub fn pause(&self) -> Result<()> {
        self.store.runtime().pause(self.id())?;
        super::events::container(self.store.root(), &self.record, "pause", &[]);
        Ok(())
    }

    /// Thaws it (`docker unpause`).
    ///
    /// # Errors
    /// [`Error::InvalidState`] unless it is paused; a cgroup error.
    pub fn resume(&self) -> Result<()> {
        self.store.runtime().resume(self.id())?;
        super::events::container(self.store.root(), &self.record, "unpause", &[]);
        Ok(())
    }

    /// A further process in it while it runs (`docker exec`), configured like a
    /// [`std::process::Command`]: `c.exec(["cat", "/etc/hostname"]).output()?`.
    pub fn exec<I, S>(&self, args: I) -> super::ExecBuilder<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        super::ExecBuilder::new(&self.store, self.id(), self.name(), args)
    }

    /// Its published ports with the host ports chosen (`docker port`); empty unless it
    /// runs attached to a bridge network with ports published.
    ///
    /// # Errors
    /// [`Error::Os`] if the network records cannot be read.
    pub fn ports(&self) -> Result<Vec<crate::network::PortBinding>> {
        self.store.networks().ports(self.id())
    }

    /// Connects it, while it runs, to one more network (`docker network connect`): an
    /// interface `ethN` in its namespace, its name (and `aliases`) in the `/etc/hosts` of
    /// the network's containers. Only a container started on a network (not `none` or
    /// `host`) has a namespace the network layer manages.
    ///
    /// # Errors
    /// [`Error::InvalidState`] when it does not run on a network, and the network layer's
    /// ([`Error::NetworkNotFound`], [`Error::AlreadyConnected`], …).
    pub fn connect(&self, network: &str, aliases: &[&str]) -> Result<()> {
        let mut e = crate::network::EndpointConfig::new(network);
        e.aliases = aliases.iter().map(|a| (*a).to_owned()).collect();
        self.connect_endpoint(&e)
    }

    /// [`connect`](Self::connect) with a fixed address too; a container that does not run
    /// (created, or stopped) on a network has it added to its configuration, for its next
    /// start (as Docker does).
    pub(crate) fn connect_endpoint(&self, e: &crate::network::EndpointConfig) -> Result<()> {
        let networks = self.store.networks();
        if networks.sandbox(self.id())?.is_some() {
            return networks.connect(self.id(), e).map(drop);
        }
        let name = networks.get(&e.network)?.name().to_owned();
        self.edit_networks(|net| {
            if net.networks.iter().any(|n| n.network == name) {
                return Err(Error::AlreadyConnected {
                    network: name.clone(),
                    container: self.name().to_owned(),
                });
            }
            if matches!(
                net.mode,
                super::net::NetMode::Host | super::net::NetMode::Container
            ) {
                return Err(Error::InvalidNetworkConfig {
                    network: name.clone(),
                    field: "container",
                    reason: format!("container {} shares another's network", self.name()),
                });
            }
            net.mode = super::net::NetMode::Networks;
            net.embedded_dns |= networks.is_user_defined(&name);
            net.networks.push(super::net::NetEndpoint {
                network: name.clone(),
                aliases: e.aliases.clone(),
                ip: e.ip,
            });
            Ok(())
        })
    }

    /// Disconnects it from a network (`docker network disconnect`): while it runs, its
    /// interface there goes; a container that does not run has the network taken out of
    /// its configuration.
    ///
    /// # Errors
    /// [`Error::NotConnected`], [`Error::NetworkNotFound`].
    pub fn disconnect(&self, network: &str) -> Result<()> {
        let networks = self.store.networks();
        if networks.sandbox(self.id())?.is_some() {
            return networks.disconnect(self.id(), network);
        }
        let name = networks.get(network)?.name().to_owned();
        self.edit_networks(|net| {
            let before = net.networks.len();
            net.networks.retain(|n| n.network != name);
            if net.networks.len() == before {
                return Err(Error::NotConnected {
                    network: name.clone(),
                    container: self.name().to_owned(),
                });
            }
            if net.networks.is_empty() {
                net.mode = super::net::NetMode::Private;
                net.embedded_dns = false;
            }
            Ok(())
        })
    }

    /// Changes the networks of its record (it does not run), saved.
    fn edit_networks(
        &self,
        edit: impl FnOnce(&mut super::net::NetSettings) -> Result<()>,
    ) -> Result<()> {
        let mut rec = Record::load(&self.dir)?;
        let was = rec.net.mode;
        edit(&mut rec.net)?;
        if was != rec.net.mode {
            // the bundle's network namespace follows: the network layer's, or one of its own
            let config = self.dir.join("config.json");
            let mut spec = oci_spec::runtime::Spec::load(&config)
                .map_err(|e| Error::os("reading", &config, std::io::Error::other(e)))?;
            let netns = self.store.networks().netns_path(self.id());
            if let Some(ns) = spec
                .linux_mut()
                .as_mut()
                .and_then(|l| l.namespaces_mut().as_mut())
            {
                for n in ns.iter_mut() {
                    if n.typ() == oci_spec::runtime::LinuxNamespaceType::Network {
                        n.set_path(None);
                    }
                }
            }
            super::net::set_namespace(&mut spec, &rec.net, &netns);
            let data = serde_json::to_vec(&spec).expect("a spec always serialises");
            crate::store::write_replace(&config, &data, false)?;
        }
        rec.save(&self.dir)
    }

    /// How long [`stop`](Self::stop) should wait before SIGKILL when the caller has no
    /// opinion (`docker stop` without `-t`): the container's
    /// [`stop_timeout`](super::ContainerBuilder::stop_timeout), else Docker's 10 s.
    pub fn stop_timeout(&self) -> Duration {
        Duration::from_secs(
            self.record
                .info
                .config
                .stop_timeout
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(10),
        )
    }
}
