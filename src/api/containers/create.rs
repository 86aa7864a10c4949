//! `POST /containers/create`: the body (a `Config` with `HostConfig` and
//! `NetworkingConfig` beside its fields) mapped field by field onto the
//! [`ContainerBuilder`]; a field it cannot honour is refused with a 400 naming it, unless
//! Docker itself ignores it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use super::docker_error;
use crate::api::http::{self, ApiError, Call, Reply};
use crate::network::exposed_port_key;
use crate::{
    ContainerBuilder, Engine, Error, Healthcheck, Mount, PortBinding, Propagation, Reference,
    RestartPolicy, Stdio, Ulimit, UpdateOptions,
};

/// Docker's `strslice`: a list of strings, or one string (as a list of one).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StrSlice {
    One(String),
    Many(Vec<String>),
}

impl StrSlice {
    fn into_vec(self) -> Vec<String> {
        match self {
            StrSlice::One(s) => vec![s],
            StrSlice::Many(v) => v,
        }
    }
}

/// The body of `POST /containers/create`: a `Config` with `HostConfig` and
/// `NetworkingConfig` beside its fields. Every collection is optional (clients send
/// `null`); fields not named here are ignored, as Docker ignores unknown ones.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    hostname: String,
    domainname: String,
    user: String,
    tty: bool,
    open_stdin: bool,
    env: Option<Vec<String>>,
    cmd: Option<StrSlice>,
    entrypoint: Option<StrSlice>,
    image: String,
    labels: Option<BTreeMap<String, String>>,
    working_dir: String,
    exposed_ports: Option<BTreeMap<String, Value>>,
    volumes: Option<BTreeMap<String, Value>>,
    healthcheck: Option<Healthcheck>,
    stop_signal: String,
    stop_timeout: Option<i64>,
    network_disabled: bool,
    mac_address: String,
    host_config: Option<HostConfigBody>,
    networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfigBody {
    binds: Option<Vec<String>>,
    mounts: Option<Vec<MountBody>>,
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBindingBody>>>>,
    publish_all_ports: bool,
    auto_remove: bool,
    network_mode: String,
    restart_policy: Option<RestartPolicyBody>,
    #[serde(flatten)]
    resources: Resources,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    privileged: bool,
    readonly_rootfs: bool,
    security_opt: Option<Vec<String>>,
    tmpfs: Option<BTreeMap<String, String>>,
    extra_hosts: Option<Vec<String>>,
    dns: Option<Vec<String>>,
    init: Option<bool>,
    sysctls: Option<BTreeMap<String, String>>,
    shm_size: i64,
}

/// Docker's `Resources` (of a create's `HostConfig` and of an update's body).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct Resources {
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    cpu_quota: i64,
    cpu_period: i64,
    pids_limit: Option<i64>,
    ulimits: Option<Vec<Ulimit>>,
}

impl Resources {
    /// The limits an update sets (0 leaves one as it is; a negative one is a 400), and
    /// `restart`.
    pub(super) fn update_options(
        &self,
        restart: Option<RestartPolicy>,
    ) -> Result<UpdateOptions, ApiError> {
        let positive = |field: &str, v: i64| -> Result<Option<u64>, ApiError> {
            match v {
                0 => Ok(None),
                v => u64::try_from(v)
                    .map(Some)
                    .map_err(|_| invalid(field, "it is negative")),
            }
        };
        Ok(UpdateOptions {
            memory: positive("Memory", self.memory)?,
            memory_swap: (self.memory_swap != 0).then_some(self.memory_swap),
            memory_reservation: positive("MemoryReservation", self.memory_reservation)?,
            cpus: positive("NanoCpus", self.nano_cpus)?.map(|n| n as f64 / 1e9),
            cpu_shares: positive("CpuShares", self.cpu_shares)?,
            cpu_period: positive("CpuPeriod", self.cpu_period)?,
            cpu_quota: match self.cpu_quota {
                -1 => Some(0),
                q => positive("CpuQuota", q)?,
            },
            pids_limit: self.pids_limit.filter(|p| *p != 0),
            restart,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct RestartPolicyBody {
    pub(super) name: String,
    pub(super) maximum_retry_count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PortBindingBody {
    host_ip: String,
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MountBody {
    r#type: String,
    source: String,
    target: String,
    read_only: bool,
    bind_options: Option<BindOptions>,
    volume_options: Option<VolumeOptions>,
    tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct BindOptions {
    propagation: String,
    non_recursive: bool,
    create_mountpoint: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeOptions {
    no_copy: bool,
    labels: Option<BTreeMap<String, String>>,
    driver_config: Option<DriverConfig>,
    subpath: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct DriverConfig {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct TmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingConfig {
    endpoints_config: Option<BTreeMap<String, Option<EndpointBody>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointBody {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamBody>,
    links: Option<Vec<String>>,
    mac_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamBody {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    ipv6_address: String,
}

/// A 400 naming a field this engine cannot honour.
pub(super) fn unsupported(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("{field} is not supported by this engine: {why}"))
}

pub(super) fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid {field}: {why}"))
}

pub(super) fn some(v: &Option<Vec<impl Sized>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// The fields of a `HostConfig` that have no counterpart here and that Docker does not
/// itself ignore: JSON pointers below it, the values besides null, false, 0, "", [] and {}
/// that leave them as by default (`|`-separated), and why they are refused.
pub(super) type Refused<'a> = &'a [(&'a [&'a str], &'a str, &'a str)];

const HOST_CONFIG_REFUSED: Refused<'static> = &[
    (&["Links"], "", "legacy links; use a user-defined network"),
    (
        &["DnsSearch", "DnsOptions"],
        "",
        "resolv.conf is the engine's",
    ),
    (&["VolumesFrom"], "", "mount the volumes by name"),
    (
        &["Devices", "DeviceRequests", "DeviceCgroupRules"],
        "",
        "host devices are not added",
    ),
    (&["GroupAdd"], "", "supplementary groups are not set"),
    (&["CpusetCpus", "CpusetMems"], "", "cpusets are not set"),
    (&["BlkioWeight"], "", "block I/O weights are not set"),
    (
        &["CpuRealtimePeriod", "CpuRealtimeRuntime"],
        "",
        "realtime scheduling is not set",
    ),
    (
        &["OomKillDisable", "OomScoreAdj", "CgroupParent"],
        "",
        "cgroups are the engine's",
    ),
    (
        &[
            "PidMode",
            "IpcMode",
            "UTSMode",
            "UsernsMode",
            "CgroupnsMode",
        ],
        "private|shareable",
        "a container has namespaces of its own",
    ),
    (
        &["Runtime"],
        "runc|cargohold",
        "containers run on the engine's own runtime",
    ),
    (
        &["MaskedPaths", "ReadonlyPaths"],
        "",
        "masked and read-only paths are Docker's",
    ),
    (&["VolumeDriver"], "local", "volumes are local"),
    (
        &["LogConfig/Type"],
        "json-file",
        "the log of a container is json-file",
    ),
];

/// Refuses (400, naming it after `prefix`) the first field of `table` (see
/// [`HOST_CONFIG_REFUSED`]) that `obj` sets.
pub(super) fn refuse_set(obj: &Value, prefix: &str, table: Refused<'_>) -> Result<(), ApiError> {
    for (field, defaults, why) in table
        .iter()
        .flat_map(|(fields, d, why)| fields.iter().map(move |f| (f, d, why)))
    {
        let unset = match obj.pointer(&format!("/{field}")).unwrap_or(&Value::Null) {
            Value::Null | Value::Bool(false) => true,
            Value::Bool(true) => false,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(v) => v.is_empty() || defaults.split('|').any(|d| d == v),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        };
        if !unset {
            return Err(unsupported(
                &format!("{prefix}{}", field.replace('/', ".")),
                why,
            ));
        }
    }
    Ok(())
}

/// `name:IP`/`name=IP` of `ExtraHosts`.
fn extra_host(spec: &str) -> Result<(String, Ipv4Addr), ApiError> {
    let bad = |why: &str| invalid("HostConfig.ExtraHosts", format!("{spec:?}: {why}"));
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| bad("expected NAME:IP"))?;
    if name.is_empty() {
        return Err(bad("no host name"));
    }
    if ip == "host-gateway" {
        return Err(unsupported(
            "HostConfig.ExtraHosts host-gateway",
            "give the gateway's address",
        ));
    }
    let ip = ip
        .parse()
        .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?;
    Ok((name.to_owned(), ip))
}

/// `PortBindings` (and, with `PublishAllPorts`, the `ExposedPorts` the image lacks) as
/// the builder's bindings.
fn port_bindings(
    bindings: &BTreeMap<String, Option<Vec<PortBindingBody>>>,
) -> Result<Vec<PortBinding>, ApiError> {
    let mut out: Vec<PortBinding> = Vec::new();
    for (port, list) in bindings {
        let (ctr, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        for b in list.iter().flatten() {
            let ip = match b.host_ip.as_str() {
                "" | "0.0.0.0" | "::" => String::new(),
                ip if ip.parse::<Ipv4Addr>().is_ok() => ip.to_owned(),
                ip => {
                    return Err(unsupported(
                        "HostConfig.PortBindings HostIp",
                        &format!("{ip:?}: ports are published on IPv4 addresses"),
                    ))
                }
            };
            let spec = format!("{ip}:{}:{ctr}/{proto}", b.host_port);
            let p: PortBinding = spec
                .parse()
                .map_err(|e: Error| invalid("HostConfig.PortBindings", format!("{port}: {e}")))?;
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// One entry of `HostConfig.Mounts`.
fn mount(m: &MountBody) -> Result<Mount, ApiError> {
    let field = "HostConfig.Mounts";
    if m.target.is_empty() {
        return Err(invalid(field, "Target is required"));
    }
    let mut out = match m.r#type.as_str() {
        "bind" => {
            if m.source.is_empty() {
                return Err(invalid(field, "Source is required for a bind mount"));
            }
            let mut b = Mount::bind(&m.source, &m.target);
            if let Some(o) = &m.bind_options {
                if !o.propagation.is_empty() {
                    let p: Propagation = o
                        .propagation
                        .parse()
                        .map_err(|e: Error| invalid(field, e))?;
                    b = b.propagation(p);
                }
                if o.non_recursive {
                    return Err(unsupported(
                        "HostConfig.Mounts BindOptions.NonRecursive",
                        "binds are recursive",
                    ));
                }
                if o.create_mountpoint {
                    b = b.create_source();
                }
            }
            b
        }
        "volume" | "" => {
            let o = m.volume_options.as_ref();
            if let Some(o) = o {
                if !o.subpath.is_empty() {
                    return Err(unsupported(
                        "HostConfig.Mounts VolumeOptions.Subpath",
                        "a volume is mounted whole",
                    ));
                }
                if o.driver_config
                    .as_ref()
                    .is_some_and(|d| !matches!(d.name.as_str(), "" | "local"))
                {
                    return Err(unsupported(
                        "HostConfig.Mounts VolumeOptions.DriverConfig",
                        "volumes are local",
                    ));
                }
            }
            let labels: Vec<(&String, &String)> = o
                .and_then(|o| o.labels.as_ref())
                .map(|l| l.iter().collect())
                .unwrap_or_default();
            let mut v = if labels.is_empty() {
                if m.source.is_empty() {
                    Mount::anonymous(&m.target)
                } else {
                    Mount::volume(&m.source, &m.target)
                }
            } else {
                // the labels of a volume made for it: only the `--mount` syntax sets them
                let mut spec = format!("type=volume,target={}", m.target);
                if !m.source.is_empty() {
                    spec.push_str(&format!(",source={}", m.source));
                }
                for (k, val) in labels {
                    spec.push_str(&format!(",volume-label={k}={val}"));
                }
                Mount::from_mount_flag(&spec).map_err(|e| invalid(field, e))?
            };
            if o.is_some_and(|o| o.no_copy) {
                v = v.no_copy();
            }
            v
        }
        "tmpfs" => {
            let mut t = Mount::tmpfs(&m.target);
            if let Some(o) = &m.tmpfs_options {
                if o.size_bytes > 0 {
                    t = t.size(o.size_bytes as u64);
                }
                if o.mode != 0 {
                    t = t.mode(o.mode);
                }
            }
            t
        }
        t => {
            return Err(unsupported(
                &format!("HostConfig.Mounts Type {t:?}"),
                "mounts are bind, volume or tmpfs",
            ))
        }
    };
    if m.read_only {
        out = out.read_only();
    }
    Ok(out)
}

/// Docker's restart policy.
pub(super) fn restart_policy(p: &RestartPolicyBody) -> Result<RestartPolicy, ApiError> {
    let count = u32::try_from(p.maximum_retry_count)
        .map_err(|_| invalid("RestartPolicy", "maximum retry count cannot be negative"))?;
    match p.name.as_str() {
        "" | "no" if count == 0 => Ok(RestartPolicy::No),
        "on-failure" => Ok(RestartPolicy::OnFailure {
            max_retries: (count > 0).then_some(count),
        }),
        "always" if count == 0 => Ok(RestartPolicy::Always),
        "unless-stopped" if count == 0 => Ok(RestartPolicy::UnlessStopped),
        "" | "no" | "always" | "unless-stopped" => Err(invalid(
            "RestartPolicy",
            format!(
                "maximum retry count cannot be used with restart policy '{}'",
                p.name
            ),
        )),
        n => Err(invalid(
            "RestartPolicy",
            format!("invalid restart policy '{n}'"),
        )),
    }
}

/// The image a create names, or Docker's 404 (with which clients pull it).
fn image_for(engine: &Engine, reference: &str) -> Result<crate::Image, ApiError> {
    if reference.is_empty() {
        return Err(ApiError::bad_request(
            "Config.Image is required to create a container",
        ));
    }
    engine.image(reference).map_err(|e| match e {
        Error::ImageNotFound { .. } => {
            let shown = reference
                .parse::<Reference>()
                .map(|r| {
                    if r.tag().is_none() && r.digest().is_none() {
                        format!("{}:latest", r.familiar())
                    } else {
                        r.familiar()
                    }
                })
                .unwrap_or_else(|_| reference.to_owned());
            ApiError::not_found(format!("No such image: {shown}"))
        }
        e => e.into(),
    })
}

/// `POST /containers/create?name=`: 201 `{"Id", "Warnings"}`.
pub(super) async fn create_route(mut call: Call) -> Reply {
    let body = call.json::<Value>().await.and_then(|raw| {
        refuse_set(&raw["HostConfig"], "HostConfig.", HOST_CONFIG_REFUSED)?;
        http::from_value::<CreateBody>(&raw)
    });
    let body = match body {
        Ok(b) => b,
        Err(e) => return e.reply(),
    };
    let engine = call.engine.clone();
    let name = call
        .query
        .get("name")
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    http::reply_json(
        StatusCode::CREATED,
        http::blocking(move || create(&engine, name, body)).await,
    )
}

/// Makes the container `body` describes (see the module docs).
fn create(engine: &Engine, name: Option<String>, mut body: CreateBody) -> Result<Value, ApiError> {
    let host = body.host_config.take().unwrap_or_default();
    if !body.mac_address.is_empty() {
        return Err(unsupported("MacAddress", "addresses are the network's"));
    }
    let image = image_for(engine, &body.image)?;
    let mut b = engine.container(&image);
    // recorded as given (`busybox`), as Docker's `Config.Image`
    b.image_name(&body.image);
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let w = Arc::clone(&warnings);
        b.on_warning(move |m| {
            w.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(m.to_owned())
        });
    }
    if let Some(n) = &name {
        b.name(n.trim_start_matches('/'));
    }
    let mut spec_edits = SpecEdits::default();
    if !body.domainname.is_empty() {
        spec_edits.domainname = Some(body.domainname.clone());
    }
    process_config(&mut b, &image, &mut body)?;
    mounts(&mut b, &host, body.volumes.as_ref())?;
    let exposed = body.exposed_ports.as_ref();
    publish(&mut b, &host, &image, exposed, &mut |w| {
        warnings.lock().unwrap_or_else(|p| p.into_inner()).push(w)
    })?;
    network(
        &mut b,
        &host.network_mode,
        body.network_disabled,
        body.networking_config.take(),
    )?;
    host_config(&mut b, host, &mut spec_edits)?;
    spec_edits.apply(&mut b);
    let c = b.create().map_err(docker_error)?;
    let warnings = warnings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(json!({ "Id": c.id(), "Warnings": warnings }))
}

/// The process and its settings: command, environment, labels, working directory, user,
/// hostname, terminal, stdin, healthcheck and how it is stopped.
fn process_config(
    b: &mut ContainerBuilder,
    image: &crate::Image,
    body: &mut CreateBody,
) -> Result<(), ApiError> {
    command(b, image, body.entrypoint.take(), body.cmd.take());
    for e in body.env.iter().flatten() {
        // a bare `KEY` (no value) sets nothing, as in Docker
        if let Some((k, v)) = e.split_once('=') {
            b.env(k, v);
        }
    }
    for (k, v) in body.labels.iter().flatten() {
        b.label(k, v);
    }
    if !body.working_dir.is_empty() {
        b.current_dir(&body.working_dir);
    }
    if !body.user.is_empty() {
        b.user(&body.user);
    }
    if !body.hostname.is_empty() {
        b.hostname(&body.hostname);
    }
    b.tty(body.tty);
    // stdin kept open for a later attach (`docker run -i`)
    b.stdin(if body.open_stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    if let Some(hc) = body.healthcheck.take() {
        b.healthcheck(hc);
    }
    if !body.stop_signal.is_empty() {
        b.stop_signal(&body.stop_signal);
    }
    if let Some(t) = body.stop_timeout {
        let secs = u64::try_from(t).map_err(|_| invalid("StopTimeout", "it is negative"))?;
        b.stop_timeout(Duration::from_secs(secs));
    }
    Ok(())
}

/// The mounts: binds, then structured mounts, then tmpfs mounts, then an anonymous volume
/// for each path of `Volumes` that none of those covers.
fn mounts(
    b: &mut ContainerBuilder,
    host: &HostConfigBody,
    volumes: Option<&BTreeMap<String, Value>>,
) -> Result<(), ApiError> {
    let mut destinations = BTreeSet::new();
    let mut add = |b: &mut ContainerBuilder, m: Mount| {
        destinations.insert(m.destination().to_owned());
        b.mount(m);
    };
    for bind in host.binds.iter().flatten() {
        let m = Mount::from_volume_flag(bind).map_err(|e| invalid("HostConfig.Binds", e))?;
        add(b, m);
    }
    for m in host.mounts.iter().flatten() {
        add(b, mount(m)?);
    }
    for (dest, opts) in host.tmpfs.iter().flatten() {
        let spec = if opts.is_empty() {
            dest.clone()
        } else {
            format!("{dest}:{opts}")
        };
        let m = Mount::from_tmpfs_flag(&spec).map_err(|e| invalid("HostConfig.Tmpfs", e))?;
        add(b, m);
    }
    for dest in volumes.into_iter().flatten().map(|(d, _)| d) {
        if !destinations.contains(Path::new(dest)) {
            b.mount(Mount::anonymous(dest));
        }
    }
    Ok(())
}

/// The published ports: `PortBindings`, and with `PublishAllPorts` every port of
/// `ExposedPorts` that is neither bound nor exposed by the image (those the engine
/// publishes itself); `warn` is told of exposed ports that are not recorded.
fn publish(
    b: &mut ContainerBuilder,
    host: &HostConfigBody,
    image: &crate::Image,
    exposed: Option<&BTreeMap<String, Value>>,
    warn: &mut dyn FnMut(String),
) -> Result<(), ApiError> {
    let mut ports = port_bindings(host.port_bindings.as_ref().unwrap_or(&BTreeMap::new()))?;
    let image_exposed: BTreeSet<String> = image
        .config()
        .config()
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default()
        .iter()
        .map(|p| exposed_port_key(p))
        .collect();
    for port in exposed.into_iter().flatten().map(|(p, _)| p) {
        let p = exposed_port_key(port);
        let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
        let published = ports
            .iter()
            .any(|b| b.container_port.to_string() == num && b.protocol.to_string() == proto);
        if published || image_exposed.contains(&p) {
            continue;
        }
        if host.publish_all_ports {
            let b: PortBinding = p
                .parse()
                .map_err(|e: Error| invalid("ExposedPorts", format!("{p}: {e}")))?;
            ports.push(b);
        } else {
            warn(format!(
                "exposed port {p} is not recorded: every port of a container is reachable \
                 on its networks, and only published ports from the host"
            ));
        }
    }
    for p in ports {
        b.publish_port(p);
    }
    b.publish_all(host.publish_all_ports);
    Ok(())
}

/// The rest of `HostConfig`: removal and restart policy, resources, capabilities and
/// security options, extra hosts, DNS servers, the init, and the sysctls and `/dev/shm`
/// size (`spec_edits`).
fn host_config(
    b: &mut ContainerBuilder,
    host: HostConfigBody,
    spec_edits: &mut SpecEdits,
) -> Result<(), ApiError> {
    if host.auto_remove {
        b.auto_remove(true);
    }
    if let Some(p) = &host.restart_policy {
        b.restart(restart_policy(p)?);
    }
    resources(b, &host.resources)?;
    for c in host.cap_add.iter().flatten() {
        b.cap_add(c);
    }
    for c in host.cap_drop.iter().flatten() {
        b.cap_drop(c);
    }
    b.privileged(host.privileged)
        .read_only(host.readonly_rootfs);
    for o in host.security_opt.iter().flatten() {
        b.security_opt(o);
    }
    for h in host.extra_hosts.iter().flatten() {
        let (name, ip) = extra_host(h)?;
        b.add_host(name, ip);
    }
    for d in host.dns.iter().flatten() {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(
                "HostConfig.Dns",
                format!("{d:?} is not an IP address"),
            ));
        }
        b.dns(d);
    }
    if host.init == Some(true) {
        b.init(true);
    }
    if let Some(s) = host.sysctls.filter(|s| !s.is_empty()) {
        spec_edits.sysctls = s;
    }
    if host.shm_size < 0 {
        return Err(invalid("HostConfig.ShmSize", "it is negative"));
    }
    if host.shm_size > 0 && host.shm_size != DOCKER_SHM_SIZE {
        spec_edits.shm_size = Some(host.shm_size as u64);
    }
    Ok(())
}

/// Docker's default size of `/dev/shm`.
const DOCKER_SHM_SIZE: i64 = 64 << 20;

/// What the builder has no setter for but the runtime spec does: applied as edits of the
/// spec ([`crate::ext::ContainerBuilderExt::oci_spec`]).
#[derive(Debug, Default)]
struct SpecEdits {
    domainname: Option<String>,
    sysctls: BTreeMap<String, String>,
    shm_size: Option<u64>,
}

impl SpecEdits {
    fn apply(self, b: &mut ContainerBuilder<'_>) {
        use crate::ext::ContainerBuilderExt as _;
        if self.domainname.is_none() && self.sysctls.is_empty() && self.shm_size.is_none() {
            return;
        }
        b.oci_spec(move |spec| {
            if let Some(d) = &self.domainname {
                spec.set_domainname(Some(d.clone()));
            }
            if let Some(linux) = spec.linux_mut() {
                if !self.sysctls.is_empty() {
                    let mut s = linux.sysctl().clone().unwrap_or_default();
                    s.extend(self.sysctls.iter().map(|(k, v)| (k.clone(), v.clone())));
                    linux.set_sysctl(Some(s));
                }
            }
            if let (Some(size), Some(mounts)) = (self.shm_size, spec.mounts_mut()) {
                for m in mounts.iter_mut() {
                    if m.destination() == Path::new("/dev/shm") {
                        let mut opts: Vec<String> = m
                            .options()
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|o| !o.starts_with("size="))
                            .collect();
                        opts.push(format!("size={size}"));
                        m.set_options(Some(opts));
                    }
                }
            }
        });
    }
}

/// Entrypoint and Cmd, merged with the image's as Docker merges them: a null Entrypoint
/// keeps the image's, an empty one clears it; an empty Cmd keeps the image's Cmd unless a
/// new Entrypoint was given.
fn command(
    b: &mut ContainerBuilder<'_>,
    image: &crate::Image,
    entrypoint: Option<StrSlice>,
    cmd: Option<StrSlice>,
) {
    let cmd = cmd.map(StrSlice::into_vec).unwrap_or_default();
    if let Some(ep) = entrypoint.map(StrSlice::into_vec) {
        let cleared = ep.iter().all(String::is_empty);
        b.entrypoint(&ep);
        if cmd.is_empty() && cleared {
            // Docker keeps the image's Cmd when the entrypoint is cleared
            let image_cmd = image
                .config()
                .config()
                .as_ref()
                .and_then(|c| c.cmd().clone())
                .unwrap_or_default();
            b.args(image_cmd);
        }
    }
    if !cmd.is_empty() {
        b.args(cmd);
    }
}

/// `NetworkMode` and `NetworkingConfig.EndpointsConfig`: Docker's default is the
/// `bridge` network (the builder's is none).
fn network(
    b: &mut ContainerBuilder<'_>,
    mode: &str,
    disabled: bool,
    cfg: Option<NetworkingConfig>,
) -> Result<(), ApiError> {
    let mut endpoints: BTreeMap<String, EndpointBody> = cfg
        .and_then(|c| c.endpoints_config)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            // Docker's name of the default network, as clients send it
            let k = if k == "default" {
                crate::DEFAULT_NETWORK.to_owned()
            } else {
                k
            };
            (k, v.unwrap_or_default())
        })
        .collect();
    let mode = match mode {
        _ if disabled => "none",
        "" | "default" => crate::DEFAULT_NETWORK,
        m => m,
    };
    let endpoint = |e: EndpointBody| -> Result<(Vec<String>, Option<Ipv4Addr>), ApiError> {
        if some(&e.links) {
            return Err(unsupported(
                "EndpointsConfig.Links",
                "legacy links; containers on a user-defined network reach each other by name",
            ));
        }
        if !e.mac_address.is_empty() {
            return Err(unsupported(
                "EndpointsConfig.MacAddress",
                "addresses are the network's",
            ));
        }
        let ip = match e.ipam_config {
            Some(i) if !i.ipv6_address.is_empty() => {
                return Err(unsupported("IPAMConfig.IPv6Address", "networks are IPv4"))
            }
            Some(i) if !i.ipv4_address.is_empty() => {
                Some(i.ipv4_address.parse::<Ipv4Addr>().map_err(|_| {
                    invalid(
                        "IPAMConfig.IPv4Address",
                        format!("{:?} is not an IPv4 address", i.ipv4_address),
                    )
                })?)
            }
            _ => None,
        };
        Ok((e.aliases.unwrap_or_default(), ip))
    };
    let special = mode == "host" || mode == "none" || mode.starts_with("container:");
    match endpoints.remove(mode) {
        Some(e) if !special => {
            let (aliases, ip) = endpoint(e)?;
            b.network_endpoint(mode, aliases, ip);
        }
        _ => {
            b.network(mode);
        }
    }
    if special {
        if let Some(n) = endpoints.keys().next() {
            return Err(invalid(
                "NetworkingConfig",
                format!("network {n} cannot be joined with network mode {mode}"),
            ));
        }
    }
    for (n, e) in endpoints {
        let (aliases, ip) = endpoint(e)?;
        b.network_endpoint(n, aliases, ip);
    }
    Ok(())
}

/// The limits of `Resources` onto the builder (0 is Docker's unset).
fn resources(b: &mut ContainerBuilder<'_>, r: &Resources) -> Result<(), ApiError> {
    let non_negative = |field: &str, v: i64| {
        u64::try_from(v).map_err(|_| invalid(&format!("HostConfig.{field}"), "it is negative"))
    };
    if r.memory != 0 {
        b.memory_limit(non_negative("Memory", r.memory)?);
    }
    if r.memory_swap != 0 {
        b.memory_swap(r.memory_swap);
    }
    if r.memory_reservation != 0 {
        b.memory_reservation(non_negative("MemoryReservation", r.memory_reservation)?);
    }
    if r.cpu_shares != 0 {
        b.cpu_shares(non_negative("CpuShares", r.cpu_shares)?);
    }
    if r.nano_cpus != 0 {
        if r.cpu_quota > 0 || r.cpu_period > 0 {
            return Err(ApiError::bad_request(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set",
            ));
        }
        b.cpus(non_negative("NanoCpus", r.nano_cpus)? as f64 / 1e9);
    }
    if r.cpu_quota > 0 {
        b.cpu_quota(r.cpu_quota as u64);
    }
    if r.cpu_period != 0 {
        b.cpu_period(non_negative("CpuPeriod", r.cpu_period)?);
    }
    if let Some(p) = r.pids_limit.filter(|p| *p > 0) {
        b.pids_limit(u32::try_from(p).map_err(|_| invalid("HostConfig.PidsLimit", "too large"))?);
    }
    for u in r.ulimits.iter().flatten() {
        // parsed again, for the names' and values' checks
        let spec = format!("{}={}:{}", u.name, u.soft, u.hard);
        let u: Ulimit = spec
            .parse()
            .map_err(|e| invalid("HostConfig.Ulimits", format!("{spec}: {e}")))?;
        b.ulimit(u);
    }
    Ok(())
}
