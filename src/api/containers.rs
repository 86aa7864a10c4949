//! The `/containers` routes: the lifecycle (create, start, stop, restart, kill, pause,
//! unpause, wait, inspect, list, rename, update, prune, delete); the routes that move a
//! container's bytes (logs, attach, top, stats, changes, export, archive) are
//! [`super::container_io`]'s, `POST /containers/{id}/exec` is [`super::exec`]'s.
//!
//! A container made here is made as `docker create` makes it and, once started, runs
//! detached through its monitor ([`Container::start`]), as `engine run -d` runs one. The
//! request body of a create is mapped field by field onto the [`ContainerBuilder`]
//! (see [`create`]); a field it cannot honour is refused with a 400 naming it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{self, ApiError, Call, Reply};
use crate::container::monitor;
use crate::{
    Container, ContainerBuilder, ContainerFilter, ContainerInspect, Engine, Error, Healthcheck,
    Mount, PortBinding, Propagation, Reference, RestartPolicy, Signal, Status, Stdio, Ulimit,
    UpdateOptions,
};

/// Routes a call under `/containers`.
pub(super) async fn route(call: Call) -> Reply {
    let segs = call.segs.clone();
    let path: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = call.method().clone();
    match (m, path.as_slice()) {
        (
            _,
            ["containers", _, "logs" | "attach" | "resize" | "top" | "stats" | "changes" | "export" | "archive"],
        ) => super::container_io::route(call).await,
        (_, ["containers", _, "exec"]) => super::exec::route(call).await,
        (Method::POST, ["containers", "create"]) => create_route(call).await,
        (Method::GET, ["containers", "json"]) => {
            let (engine, q) = (call.engine.clone(), call.query.clone());
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || list(&engine, &q)).await,
            )
        }
        (Method::POST, ["containers", "prune"]) => {
            let (engine, q) = (call.engine.clone(), call.query.clone());
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || prune(&engine, &q)).await,
            )
        }
        (Method::GET, ["containers", id, "json"]) => {
            let (engine, id, size) = (call.engine.clone(), id.to_string(), call.query.flag("size"));
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || inspect(&engine, &id, size)).await,
            )
        }
        (Method::POST, ["containers", id, "wait"]) => wait_route(call, id.to_string()).await,
        (Method::POST, ["containers", id, "update"]) => update_route(call, id.to_string()).await,
        (Method::POST, ["containers", id, verb]) => {
            let verb = verb.to_string();
            if !matches!(
                verb.as_str(),
                "start" | "stop" | "restart" | "kill" | "pause" | "unpause" | "rename"
            ) {
                return http::not_found();
            }
            let (engine, id, q) = (call.engine.clone(), id.to_string(), call.query.clone());
            match http::blocking(move || lifecycle(&engine, &id, &verb, &q)).await {
                Ok(status) => http::status(status),
                Err(e) => e.reply(),
            }
        }
        (Method::DELETE, ["containers", id]) => {
            let (engine, id, q) = (call.engine.clone(), id.to_string(), call.query.clone());
            match http::blocking(move || remove(&engine, &id, &q)).await {
                Ok(()) => http::no_content(),
                Err(e) => e.reply(),
            }
        }
        _ => http::not_found(),
    }
}

// ---------------------------------------------------------------------------------------
// Errors in Docker's words

/// The container `id`, or Docker's 404.
fn get(engine: &Engine, id: &str) -> Result<Container, ApiError> {
    engine.containers().get(id).map_err(|e| match e {
        Error::ContainerNotFound { .. } => ApiError::not_found(format!("No such container: {id}")),
        e => e.into(),
    })
}

/// A library error as Docker words it for the containers' routes.
fn docker_error(e: Error) -> ApiError {
    match e {
        Error::ContainerNameInUse { name, id } => ApiError::conflict(format!(
            "Conflict. The container name \"/{}\" is already in use by container \"{id}\". \
             You have to remove (or rename) that container to be able to reuse that name.",
            name.trim_start_matches('/')
        )),
        Error::Command {
            command, reason, ..
        } => ApiError::bad_request(format!(
            "failed to create task for container: exec: {command:?}: {reason}: unknown"
        )),
        e => e.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Create

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
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    init: Option<bool>,
    sysctls: Option<BTreeMap<String, String>>,
    shm_size: i64,
    ipc_mode: String,
    pid_mode: String,
    #[serde(rename = "UTSMode")]
    uts_mode: String,
    userns_mode: String,
    cgroupns_mode: String,
    cgroup_parent: String,
    links: Option<Vec<String>>,
    volumes_from: Option<Vec<String>>,
    group_add: Option<Vec<String>>,
    runtime: String,
    volume_driver: String,
    oom_score_adj: i64,
    log_config: Option<LogConfigBody>,
    masked_paths: Option<Vec<String>>,
    readonly_paths: Option<Vec<String>>,
}

/// Docker's `Resources` (of a create's `HostConfig` and of an update's body).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Resources {
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    cpu_quota: i64,
    cpu_period: i64,
    pids_limit: Option<i64>,
    ulimits: Option<Vec<Ulimit>>,
    cpuset_cpus: String,
    cpuset_mems: String,
    blkio_weight: u16,
    cpu_realtime_period: i64,
    cpu_realtime_runtime: i64,
    devices: Option<Vec<Value>>,
    device_requests: Option<Vec<Value>>,
    device_cgroup_rules: Option<Vec<String>>,
    oom_kill_disable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfigBody {
    r#type: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicyBody {
    name: String,
    maximum_retry_count: i64,
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
fn unsupported(field: &str, why: &str) -> ApiError {
    ApiError::bad_request(format!("{field} is not supported by this engine: {why}"))
}

fn invalid(field: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid {field}: {why}"))
}

fn some(v: &Option<Vec<impl Sized>>) -> bool {
    v.as_ref().is_some_and(|v| !v.is_empty())
}

/// Refuses the fields of `h` that have no counterpart here and that Docker does not
/// itself ignore.
fn check_host_config(h: &HostConfigBody) -> Result<(), ApiError> {
    let r = &h.resources;
    let refused: [(&str, bool, &str); 21] = [
        (
            "HostConfig.Links",
            some(&h.links),
            "legacy links; use a user-defined network",
        ),
        (
            "HostConfig.VolumesFrom",
            some(&h.volumes_from),
            "mount the volumes by name",
        ),
        (
            "HostConfig.GroupAdd",
            some(&h.group_add),
            "supplementary groups are not set",
        ),
        (
            "HostConfig.DnsSearch",
            some(&h.dns_search),
            "resolv.conf search domains are not set",
        ),
        (
            "HostConfig.DnsOptions",
            some(&h.dns_options),
            "resolv.conf options are not set",
        ),
        (
            "HostConfig.Devices",
            some(&r.devices),
            "host devices are not added",
        ),
        (
            "HostConfig.DeviceRequests",
            some(&r.device_requests),
            "no device drivers",
        ),
        (
            "HostConfig.DeviceCgroupRules",
            some(&r.device_cgroup_rules),
            "device rules are not set",
        ),
        (
            "HostConfig.CpusetCpus",
            !r.cpuset_cpus.is_empty(),
            "cpusets are not set",
        ),
        (
            "HostConfig.CpusetMems",
            !r.cpuset_mems.is_empty(),
            "cpusets are not set",
        ),
        (
            "HostConfig.BlkioWeight",
            r.blkio_weight != 0,
            "block I/O weights are not set",
        ),
        (
            "HostConfig.CpuRealtimePeriod",
            r.cpu_realtime_period != 0 || r.cpu_realtime_runtime != 0,
            "realtime scheduling is not set",
        ),
        (
            "HostConfig.OomKillDisable",
            r.oom_kill_disable == Some(true),
            "not set",
        ),
        ("HostConfig.OomScoreAdj", h.oom_score_adj != 0, "not set"),
        (
            "HostConfig.CgroupParent",
            !h.cgroup_parent.is_empty(),
            "cgroups are the engine's",
        ),
        (
            "HostConfig.PidMode",
            !h.pid_mode.is_empty() && h.pid_mode != "private",
            "a container has a pid namespace of its own",
        ),
        (
            "HostConfig.IpcMode",
            !matches!(h.ipc_mode.as_str(), "" | "private" | "shareable"),
            "a container has an IPC namespace of its own",
        ),
        (
            "HostConfig.UTSMode",
            !h.uts_mode.is_empty(),
            "a container has a UTS namespace of its own",
        ),
        (
            "HostConfig.UsernsMode",
            !h.userns_mode.is_empty(),
            "user namespaces are the engine's",
        ),
        (
            "HostConfig.CgroupnsMode",
            !matches!(h.cgroupns_mode.as_str(), "" | "private"),
            "a container has a cgroup namespace of its own",
        ),
        (
            "HostConfig.Runtime",
            !matches!(h.runtime.as_str(), "" | "runc" | "cargohold"),
            "containers run on the engine's own runtime",
        ),
    ];
    if let Some((field, _, why)) = refused.iter().find(|(_, on, _)| *on) {
        return Err(unsupported(field, why));
    }
    if !matches!(h.volume_driver.as_str(), "" | "local") {
        return Err(unsupported("HostConfig.VolumeDriver", "volumes are local"));
    }
    if let Some(l) = &h.log_config {
        if !matches!(l.r#type.as_str(), "" | "json-file") {
            return Err(unsupported(
                "HostConfig.LogConfig.Type",
                "the log of a container is json-file",
            ));
        }
    }
    if some(&h.masked_paths) || some(&h.readonly_paths) {
        return Err(unsupported(
            "HostConfig.MaskedPaths",
            "masked and read-only paths are Docker's defaults",
        ));
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
fn restart_policy(p: &RestartPolicyBody) -> Result<RestartPolicy, ApiError> {
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
async fn create_route(mut call: Call) -> Reply {
    let body: CreateBody = match call.json().await {
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
fn create(engine: &Engine, name: Option<String>, body: CreateBody) -> Result<Value, ApiError> {
    let host = body.host_config.unwrap_or_default();
    check_host_config(&host)?;
    if !body.mac_address.is_empty() {
        return Err(unsupported("MacAddress", "addresses are the network's"));
    }
    let image = image_for(engine, &body.image)?;
    let mut b = engine.container(&image);
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let w = Arc::clone(&warnings);
        b.on_warning(move |m| {
            w.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(m.to_owned())
        });
    }
    if let Some(n) = name {
        b.name(n.trim_start_matches('/'));
    }
    command(&mut b, &image, body.entrypoint, body.cmd);
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
    if let Some(hc) = body.healthcheck {
        b.healthcheck(hc);
    }
    if !body.stop_signal.is_empty() {
        b.stop_signal(&body.stop_signal);
    }
    if let Some(t) = body.stop_timeout {
        let secs = u64::try_from(t).map_err(|_| invalid("StopTimeout", "it is negative"))?;
        b.stop_timeout(Duration::from_secs(secs));
    }
    let mut spec_edits = SpecEdits::default();
    if !body.domainname.is_empty() {
        spec_edits.domainname = Some(body.domainname.clone());
    }
    // mounts: binds, then structured mounts, then the anonymous volumes of `Volumes`
    let mut destinations = BTreeSet::new();
    for bind in host.binds.iter().flatten() {
        let m = Mount::from_volume_flag(bind).map_err(|e| invalid("HostConfig.Binds", e))?;
        destinations.insert(m.destination().to_owned());
        b.mount(m);
    }
    for m in host.mounts.iter().flatten() {
        let m = mount(m)?;
        destinations.insert(m.destination().to_owned());
        b.mount(m);
    }
    for (dest, opts) in host.tmpfs.iter().flatten() {
        let spec = if opts.is_empty() {
            dest.clone()
        } else {
            format!("{dest}:{opts}")
        };
        let m = Mount::from_tmpfs_flag(&spec).map_err(|e| invalid("HostConfig.Tmpfs", e))?;
        destinations.insert(m.destination().to_owned());
        b.mount(m);
    }
    for dest in body.volumes.iter().flatten().map(|(d, _)| d) {
        if !destinations.contains(Path::new(dest)) {
            b.mount(Mount::anonymous(dest));
        }
    }
    // ports
    let mut ports = port_bindings(host.port_bindings.as_ref().unwrap_or(&BTreeMap::new()))?;
    let image_exposed: BTreeSet<String> = image
        .config()
        .config()
        .as_ref()
        .and_then(|c| c.exposed_ports().clone())
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            if p.contains('/') {
                p
            } else {
                format!("{p}/tcp")
            }
        })
        .collect();
    for port in body.exposed_ports.iter().flatten().map(|(p, _)| p) {
        let p = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
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
            warnings
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(format!(
                    "exposed port {p} is not recorded: every port of a container is reachable \
                     on its networks, and only published ports from the host"
                ));
        }
    }
    for p in ports {
        b.publish_port(p);
    }
    b.publish_all(host.publish_all_ports);
    network(
        &mut b,
        &host.network_mode,
        body.network_disabled,
        body.networking_config,
    )?;
    if host.auto_remove {
        b.auto_remove(true);
    }
    if let Some(p) = &host.restart_policy {
        b.restart(restart_policy(p)?);
    }
    resources(&mut b, &host.resources)?;
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
    spec_edits.apply(&mut b);
    let c = b.create().map_err(docker_error)?;
    let warnings = warnings.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(json!({ "Id": c.id(), "Warnings": warnings }))
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

// ---------------------------------------------------------------------------------------
// Start, stop, restart, kill, pause, unpause, rename

/// A timeout of `t` seconds (Docker's `-1`: no timeout), else the container's own.
fn stop_timeout(c: &Container, q: &http::Query) -> Result<Duration, ApiError> {
    match q.int::<i64>("t")? {
        None => Ok(c.stop_timeout()),
        Some(t) if t < 0 => Ok(Duration::from_secs(10 * 365 * 86400)),
        Some(t) => Ok(Duration::from_secs(t as u64)),
    }
}

fn signal(q: &http::Query) -> Result<Option<Signal>, ApiError> {
    match q.get("signal").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<Signal>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Invalid signal: {s}"))),
    }
}

fn running(s: Status) -> bool {
    matches!(s, Status::Running | Status::Paused | Status::Restarting)
}

/// The verbs that answer with a status alone: 204, or 304 when there was nothing to do.
fn lifecycle(
    engine: &Engine,
    id: &str,
    verb: &str,
    q: &http::Query,
) -> Result<StatusCode, ApiError> {
    let mut c = get(engine, id)?;
    let status = c.status();
    match verb {
        "start" => {
            match status {
                Status::Paused => {
                    return Err(ApiError::conflict(
                        "cannot start a paused container, try unpause instead",
                    ))
                }
                s if running(s) => return Ok(StatusCode::NOT_MODIFIED),
                _ => {}
            }
            match c.start() {
                Err(Error::InvalidState { .. }) if running(c.status()) => {
                    return Ok(StatusCode::NOT_MODIFIED)
                }
                Err(e) => {
                    // as Docker: an AutoRemove container that cannot start is removed
                    // (the client waits for that before it reports the error)
                    if c.inspect().is_ok_and(|i| i.host_config.auto_remove) {
                        let _ = c.clone().remove(true);
                    }
                    return Err(docker_error(e));
                }
                Ok(()) => {}
            }
            reap_if_auto_remove(engine, c.id());
        }
        "stop" => {
            let sig = signal(q)?;
            let timeout = stop_timeout(&c, q)?;
            if !running(status) {
                return Ok(StatusCode::NOT_MODIFIED);
            }
            match sig {
                Some(s) => c.stop_with(s, timeout),
                None => c.stop(timeout),
            }
            .map_err(docker_error)?;
        }
        "restart" => {
            let sig = signal(q)?;
            let timeout = stop_timeout(&c, q)?;
            if running(c.status()) {
                match sig {
                    Some(s) => c.stop_with(s, timeout),
                    None => c.stop(timeout),
                }
                .map_err(docker_error)?;
            }
            // removed by its stop when it had AutoRemove: Docker's restart fails too
            let c = get(engine, id)?;
            c.start().map_err(docker_error)?;
            reap_if_auto_remove(engine, c.id());
        }
        "kill" => {
            let sig = signal(q)?.unwrap_or(Signal::KILL);
            if !running(status) {
                return Err(ApiError::conflict(format!(
                    "cannot kill container: {id}: container {} is not running",
                    c.id()
                )));
            }
            if sig == Signal::KILL {
                c.kill().map_err(docker_error)?;
                if status == Status::Paused {
                    let _ = c.resume();
                }
                // as Docker's SIGKILL: returns once it has exited (and frees it)
                let _ = c.wait();
            } else {
                c.signal(sig.as_raw()).map_err(docker_error)?;
            }
        }
        "pause" => match status {
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "container {} is already paused",
                    c.id()
                )))
            }
            Status::Running => c.pause().map_err(docker_error)?,
            _ => {
                return Err(ApiError::conflict(format!(
                    "container {} is not running",
                    c.id()
                )))
            }
        },
        "unpause" => {
            if status != Status::Paused {
                return Err(ApiError::conflict(format!(
                    "Container {} is not paused",
                    c.id()
                )));
            }
            c.resume().map_err(docker_error)?;
        }
        "rename" => {
            let name = q.get("name").unwrap_or_default().trim_start_matches('/');
            if name.is_empty() {
                return Err(ApiError::bad_request(
                    "Neither old nor new names may be empty",
                ));
            }
            if name == c.name() {
                return Err(ApiError::bad_request(
                    "Renaming a container with the same name as its current name",
                ));
            }
            c.rename(name).map_err(docker_error)?;
        }
        _ => return Err(ApiError::not_found("page not found")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a started `AutoRemove` container once it has exited, as Docker's daemon does:
/// a thread waits for it (the wait frees it and, with `AutoRemove`, removes it) and ends
/// with it. Its exit code is kept a while in [`AUTO_REMOVED`] for the clients that wait
/// for its removal.
fn reap_if_auto_remove(engine: &Engine, id: &str) {
    let Ok(c) = engine.containers().get(id) else {
        return;
    };
    let auto_remove = c.inspect().is_ok_and(|i| i.host_config.auto_remove);
    if !auto_remove {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("cargohold-api-rm".into())
        .spawn(move || {
            let exit = crate::container::record::exit_path(c.path());
            let code = loop {
                if let Some(r) = monitor::wait_exit(&exit, Duration::from_secs(60)) {
                    break Some(r.exit_code());
                }
                if !monitor::monitor_alive(&exit) {
                    break None;
                }
            };
            if let Some(code) = code {
                let mut done = AUTO_REMOVED.lock().unwrap_or_else(|p| p.into_inner());
                done.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(300));
                done.insert(c.id().to_owned(), (i64::from(code), Instant::now()));
            }
            let _ = c.wait();
        });
}

/// The exit codes of the `AutoRemove` containers removed in the last minutes, by id.
static AUTO_REMOVED: Mutex<BTreeMap<String, (i64, Instant)>> = Mutex::new(BTreeMap::new());

/// The exit code of an `AutoRemove` container removed lately.
fn auto_removed_code(id: &str) -> Option<i64> {
    AUTO_REMOVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .map(|(code, _)| *code)
}

// ---------------------------------------------------------------------------------------
// Wait

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

/// `POST /containers/{id}/wait?condition=`: the headers at once (clients wait for them
/// before they start the container), `{"StatusCode", "Error"}` once the condition holds.
async fn wait_route(call: Call, id: String) -> Reply {
    let cond = match call.query.get("condition").unwrap_or_default() {
        "" | "not-running" => Condition::NotRunning,
        "next-exit" => Condition::NextExit,
        "removed" => Condition::Removed,
        other => return ApiError::bad_request(format!("invalid condition: {other:?}")).reply(),
    };
    let engine = call.engine.clone();
    let found = {
        let (engine, id) = (engine.clone(), id.clone());
        http::blocking(move || get(&engine, &id).map(|c| c.id().to_owned())).await
    };
    let full_id = match found {
        Ok(i) => i,
        Err(e) => return e.reply(),
    };
    let (reply, stream) = http::streamed("application/json");
    tokio::task::spawn_blocking(move || {
        // hyper writes the headers with the first bytes of the body: white space, which
        // JSON readers skip, has them reach the client now, as Docker flushes them
        if !stream.send(&b"\n"[..]) {
            return;
        }
        if let Some((code, error)) = wait_for(&engine, &full_id, cond, &stream) {
            let error = error.map(|m| json!({ "Message": m }));
            stream.send_json(&json!({ "StatusCode": code, "Error": error }));
        }
    });
    reply
}

/// Blocks until `cond` holds for the container `id`: its exit code and the error that
/// kept it from being known; `None` once the client is gone.
fn wait_for(
    engine: &Engine,
    id: &str,
    cond: Condition,
    stream: &http::Stream,
) -> Option<(i64, Option<String>)> {
    let mut first_start: Option<String> = None;
    let mut last_code = 0i64;
    let mut pause = Duration::from_millis(1);
    loop {
        if stream.closed() {
            return None;
        }
        let gone = || Some((auto_removed_code(id).unwrap_or(last_code), None));
        let c = match engine.containers().get(id) {
            Ok(c) => c,
            Err(Error::ContainerNotFound { .. }) => return gone(),
            Err(e) => return Some((last_code, Some(e.to_string()))),
        };
        let info = match c.inspect() {
            Ok(i) => i,
            Err(Error::ContainerNotFound { .. }) => return gone(),
            Err(e) => return Some((last_code, Some(e.to_string()))),
        };
        let started = first_start.get_or_insert_with(|| info.state.started_at.clone());
        let restarted = *started != info.state.started_at;
        match info.state.status {
            s if running(s) => {
                // blocked on its monitor until it exits
                match exit_of(&c, stream) {
                    Exit::ClientGone => return None,
                    Exit::Code(code) => {
                        last_code = i64::from(code);
                        // frees it (and removes it when it has AutoRemove)
                        if let Ok(s) = c.wait() {
                            last_code = i64::from(s.docker_code());
                        }
                        if cond != Condition::Removed {
                            return Some((last_code, None));
                        }
                        pause = Duration::from_millis(1);
                        continue;
                    }
                    Exit::Unknown => {}
                }
            }
            Status::Created if cond == Condition::NotRunning => {
                return Some((i64::from(info.state.exit_code), None))
            }
            Status::Exited | Status::Dead => {
                last_code = i64::from(info.state.exit_code);
                if cond == Condition::NotRunning || (cond == Condition::NextExit && restarted) {
                    if let Ok(s) = c.wait() {
                        last_code = i64::from(s.docker_code());
                    }
                    return Some((last_code, None));
                }
            }
            _ => {}
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

enum Exit {
    /// It exited with this code.
    Code(i32),
    /// Its monitor is gone (or it has none): ask its state again.
    Unknown,
    ClientGone,
}

/// Waits for a running container's monitor to record its exit, looking every so often
/// whether the client is still there.
fn exit_of(c: &Container, stream: &http::Stream) -> Exit {
    if !c.is_detached() {
        return Exit::Unknown;
    }
    let exit = crate::container::record::exit_path(c.path());
    loop {
        if let Some(r) = monitor::wait_exit(&exit, Duration::from_millis(250)) {
            return Exit::Code(r.exit_code());
        }
        if !monitor::monitor_alive(&exit) {
            return Exit::Unknown;
        }
        if stream.closed() {
            return Exit::ClientGone;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inspect, list

/// `GET /containers/{id}/json`: the library's inspect, with the fields Docker adds.
fn inspect(engine: &Engine, id: &str, size: bool) -> Result<Value, ApiError> {
    let c = get(engine, id)?;
    let info = c.inspect().map_err(docker_error)?;
    let mut v = serde_json::to_value(&info).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Value::Object(o) = &mut v {
        o.insert("Driver".into(), json!("overlay2"));
        o.insert("Platform".into(), json!("linux"));
        o.insert("RestartCount".into(), json!(0));
        o.insert("MountLabel".into(), json!(""));
        o.insert("ProcessLabel".into(), json!(""));
        o.insert("AppArmorProfile".into(), json!(""));
        o.insert("ExecIDs".into(), Value::Null);
        o.insert(
            "LogPath".into(),
            json!(c.path().join(format!("{}-json.log", c.id()))),
        );
        if size {
            let (rw, rootfs) = sizes(engine, &info);
            o.insert("SizeRw".into(), json!(rw));
            o.insert("SizeRootFs".into(), json!(rootfs));
        }
        if let Some(Value::Object(hc)) = o.get_mut("HostConfig") {
            hc.entry("LogConfig")
                .or_insert(json!({ "Type": "json-file", "Config": {} }));
            hc.entry("Binds").or_insert(Value::Null);
        }
        if let Some(Value::Object(cfg)) = o.get_mut("Config") {
            for k in ["AttachStdin", "AttachStdout", "AttachStderr"] {
                cfg.entry(k).or_insert(json!(false));
            }
            cfg.entry("Domainname").or_insert(json!(""));
        }
    }
    Ok(v)
}

/// The bytes of its writable layer, and those plus its image's.
fn sizes(engine: &Engine, info: &ContainerInspect) -> (u64, u64) {
    let rw = info
        .graph_driver
        .data
        .get("UpperDir")
        .map_or(0, |d| du(Path::new(d)));
    let image = engine
        .image(&info.image)
        .map(|i| engine.images().size(&i))
        .unwrap_or(0);
    (rw, rw + image)
}

fn du(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
        .unwrap_or(0)
}

/// Unix seconds of an RFC 3339 time (0 for none).
fn unix_secs(t: &str) -> i64 {
    crate::container::logs::parse_time(t)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// go-units' `HumanDuration`, as Docker's `Status` words it.
fn human_duration(since: &str) -> String {
    let d = crate::container::logs::parse_time(since)
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
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

/// Docker's `Status` of a listed container: `Up 2 seconds`, `Exited (0) 3 seconds ago`.
fn status_text(info: &ContainerInspect) -> String {
    let st = &info.state;
    match st.status {
        Status::Paused => format!("Up {} (Paused)", human_duration(&st.started_at)),
        Status::Running => match &st.health {
            Some(h) if h.status == crate::HealthStatus::Starting => {
                format!("Up {} (health: starting)", human_duration(&st.started_at))
            }
            Some(h) => format!("Up {} ({})", human_duration(&st.started_at), h.status),
            None => format!("Up {}", human_duration(&st.started_at)),
        },
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            st.exit_code,
            human_duration(&st.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        _ => format!(
            "Exited ({}) {} ago",
            st.exit_code,
            human_duration(&st.finished_at)
        ),
    }
}

/// One container of `GET /containers/json`, in Docker's list shape.
fn list_entry(engine: &Engine, c: &Container, info: &ContainerInspect, size: bool) -> Value {
    let command = std::iter::once(info.path.as_str())
        .chain(info.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut ports = Vec::new();
    for (port, mappings) in &info.network_settings.ports {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        let private: u16 = num.parse().unwrap_or(0);
        match mappings.as_deref() {
            None | Some([]) => ports.push(json!({ "PrivatePort": private, "Type": proto })),
            Some(list) => {
                for m in list {
                    ports.push(json!({
                        "IP": m.host_ip,
                        "PrivatePort": private,
                        "PublicPort": m.host_port.parse::<u16>().unwrap_or(0),
                        "Type": proto,
                    }))
                }
            }
        }
    }
    let image = c
        .image()
        .parse::<Reference>()
        .map_or_else(|_| c.image().to_owned(), |r| r.familiar());
    let mut v = json!({
        "Id": c.id(),
        "Names": [format!("/{}", c.name())],
        "Image": image,
        "ImageID": info.image,
        "Command": command,
        "Created": unix_secs(&info.created),
        "Ports": ports,
        "Labels": info.config.labels,
        "State": info.state.status.to_string(),
        "Status": status_text(info),
        "HostConfig": { "NetworkMode": info.host_config.network_mode },
        "NetworkSettings": { "Networks": info.network_settings.networks },
        "Mounts": info.mounts,
    });
    if size {
        let (rw, rootfs) = sizes(engine, info);
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    v
}

/// The filters of a listing the library's [`ContainerFilter`] does not have.
#[derive(Debug, Default)]
struct MoreFilters {
    exited: Vec<i32>,
    networks: Vec<String>,
    volumes: Vec<String>,
    publish: Vec<String>,
    expose: Vec<String>,
    /// Created before (after) this container's creation time.
    before: Option<String>,
    since: Option<String>,
    is_task: Option<bool>,
}

impl MoreFilters {
    fn matches(&self, info: &ContainerInspect) -> bool {
        let any = |v: &[String], f: &dyn Fn(&str) -> bool| v.is_empty() || v.iter().any(|x| f(x));
        let port_match = |spec: &str, public: bool| {
            let (num, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
            info.network_settings.ports.iter().any(|(p, m)| {
                let (pn, pp) = p.split_once('/').unwrap_or((p, "tcp"));
                if pp != proto {
                    return false;
                }
                if public {
                    m.iter().flatten().any(|m| m.host_port == num)
                } else {
                    pn == num
                }
            })
        };
        (self.exited.is_empty()
            || (info.state.status == Status::Exited && self.exited.contains(&info.state.exit_code)))
            && any(&self.networks, &|n| {
                info.network_settings.networks.contains_key(n)
                    || info
                        .network_settings
                        .networks
                        .values()
                        .any(|e| e.network_id.starts_with(n))
                    || info.host_config.network_mode == n
            })
            && any(&self.volumes, &|v| {
                info.mounts
                    .iter()
                    .any(|m| m.name.as_deref() == Some(v) || m.source == v || m.destination == v)
            })
            && any(&self.publish, &|p| port_match(p, true))
            && any(&self.expose, &|p| port_match(p, false))
            && self.before.as_ref().is_none_or(|t| info.created < *t)
            && self.since.as_ref().is_none_or(|t| info.created > *t)
            && self.is_task != Some(true)
    }
}

/// The `filters` of a listing: the library's filter and ours.
fn parse_filters(
    engine: &Engine,
    q: &http::Query,
    mut all: bool,
) -> Result<(ContainerFilter, MoreFilters), ApiError> {
    let filters = q.filters()?;
    let mut f = ContainerFilter::new();
    let mut more = MoreFilters::default();
    let created_of = |v: &str| -> Result<String, ApiError> {
        let c = get(engine, v)?;
        Ok(c.inspect().map_err(docker_error)?.created)
    };
    for (key, values) in &filters {
        for v in values {
            match key.as_str() {
                "id" | "name" | "label" | "ancestor" | "health" => {
                    f = f.parse(&format!("{key}={v}"))?;
                }
                "status" => {
                    f = f.parse(&format!("status={v}")).map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid filter 'status={v}': invalid container state: {v:?}"
                        ))
                    })?;
                    all = true;
                }
                "exited" => {
                    more.exited.push(v.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid filter 'exited={v}'"))
                    })?);
                    all = true;
                }
                "network" => more.networks.push(v.clone()),
                "volume" => more.volumes.push(v.clone()),
                "publish" => more.publish.push(v.clone()),
                "expose" => more.expose.push(v.clone()),
                "before" => more.before = Some(created_of(v)?),
                "since" => more.since = Some(created_of(v)?),
                "is-task" => {
                    more.is_task = Some(matches!(v.as_str(), "1" | "true" | "True"));
                }
                "isolation" => {}
                _ => return Err(ApiError::bad_request(format!("invalid filter '{key}'"))),
            }
        }
    }
    Ok((f.all(all), more))
}

/// `GET /containers/json?all=&limit=&size=&filters=`: newest first.
fn list(engine: &Engine, q: &http::Query) -> Result<Value, ApiError> {
    let limit = q.int::<i64>("limit")?.filter(|l| *l > 0);
    let (filter, more) = parse_filters(engine, q, q.flag("all") || limit.is_some())?;
    let size = q.flag("size");
    let mut out: Vec<Value> = engine
        .containers()
        .inspect_filtered(&filter)
        .map_err(docker_error)?
        .into_iter()
        .rev()
        .filter(|(_, info)| more.matches(info))
        .map(|(c, info)| list_entry(engine, &c, &info, size))
        .collect();
    if let Some(l) = limit {
        out.truncate(l as usize);
    }
    Ok(Value::Array(out))
}

// ---------------------------------------------------------------------------------------
// Update, prune, remove

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    #[serde(flatten)]
    resources: Resources,
    restart_policy: Option<RestartPolicyBody>,
    kernel_memory: i64,
}

/// `POST /containers/{id}/update`: its limits and restart policy; `{"Warnings"}`.
async fn update_route(mut call: Call, id: String) -> Reply {
    let body: UpdateBody = match call.json().await {
        Ok(b) => b,
        Err(e) => return e.reply(),
    };
    let engine = call.engine.clone();
    http::reply_json(
        StatusCode::OK,
        http::blocking(move || update(&engine, &id, body)).await,
    )
}

fn update(engine: &Engine, id: &str, body: UpdateBody) -> Result<Value, ApiError> {
    let r = &body.resources;
    let refused = [
        ("CpusetCpus", !r.cpuset_cpus.is_empty()),
        ("CpusetMems", !r.cpuset_mems.is_empty()),
        ("BlkioWeight", r.blkio_weight != 0),
        ("Devices", some(&r.devices)),
        ("Ulimits", some(&r.ulimits)),
        ("OomKillDisable", r.oom_kill_disable == Some(true)),
    ];
    if let Some((field, _)) = refused.iter().find(|(_, on)| *on) {
        return Err(unsupported(field, "it cannot be updated here"));
    }
    let positive = |field: &str, v: i64| -> Result<Option<u64>, ApiError> {
        match v {
            0 => Ok(None),
            v => u64::try_from(v)
                .map(Some)
                .map_err(|_| invalid(field, "it is negative")),
        }
    };
    let opts = UpdateOptions {
        memory: positive("Memory", r.memory)?,
        memory_swap: (r.memory_swap != 0).then_some(r.memory_swap),
        memory_reservation: positive("MemoryReservation", r.memory_reservation)?,
        cpus: positive("NanoCpus", r.nano_cpus)?.map(|n| n as f64 / 1e9),
        cpu_shares: positive("CpuShares", r.cpu_shares)?,
        cpu_period: positive("CpuPeriod", r.cpu_period)?,
        cpu_quota: match r.cpu_quota {
            -1 => Some(0),
            q => positive("CpuQuota", q)?,
        },
        pids_limit: r.pids_limit.filter(|p| *p != 0),
        restart: match &body.restart_policy {
            Some(p) if !p.name.is_empty() => Some(restart_policy(p)?),
            _ => None,
        },
    };
    let mut c = get(engine, id)?;
    let warnings = c.update(&opts).map_err(docker_error)?;
    Ok(json!({ "Warnings": warnings }))
}

/// `POST /containers/prune?filters=`: removes the containers that do not run (`until`,
/// `label`, `label!` filters); their ids and the bytes of their writable layers.
fn prune(engine: &Engine, q: &http::Query) -> Result<Value, ApiError> {
    let filters = q.filters()?;
    let mut until: Option<SystemTime> = None;
    let mut labels = Vec::new();
    let mut not_labels = Vec::new();
    for (key, values) in &filters {
        for v in values {
            match key.as_str() {
                "until" => until = Some(until_time(v)?),
                "label" => labels.push(v.clone()),
                "label!" => not_labels.push(v.clone()),
                _ => return Err(ApiError::bad_request(format!("invalid filter '{key}'"))),
            }
        }
    }
    let has = |c: &Container, spec: &str| match spec.split_once('=') {
        Some((k, v)) => c.labels().get(k).is_some_and(|have| have == v),
        None => c.labels().contains_key(spec),
    };
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for c in engine.containers().list().map_err(docker_error)? {
        let Ok(info) = c.inspect() else { continue };
        if running(info.state.status) || info.state.status == Status::Removing {
            continue;
        }
        if !labels.iter().all(|l| has(&c, l)) || not_labels.iter().any(|l| has(&c, l)) {
            continue;
        }
        if let Some(u) = until {
            let created = crate::container::logs::parse_time(&info.created);
            if created.is_none_or(|t| t >= u) {
                continue;
            }
        }
        let (rw, _) = sizes(engine, &info);
        let id = c.id().to_owned();
        match c.remove(false) {
            Ok(()) => {
                deleted.push(id);
                reclaimed += rw;
            }
            Err(Error::ContainerNotFound { .. } | Error::InvalidState { .. }) => {}
            Err(e) => return Err(docker_error(e)),
        }
    }
    Ok(json!({ "ContainersDeleted": deleted, "SpaceReclaimed": reclaimed }))
}

/// `until=`: unix seconds (with a fraction), an RFC 3339 time, or a Go duration before now.
fn until_time(v: &str) -> Result<SystemTime, ApiError> {
    let bad = || ApiError::bad_request(format!("invalid filter 'until={v}'"));
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
        return Err(bad());
    }
    if let Some(t) = crate::container::logs::parse_time(v) {
        return Ok(t);
    }
    let d = humantime::parse_duration(v).map_err(|_| bad())?;
    SystemTime::now().checked_sub(d).ok_or_else(bad)
}

/// `DELETE /containers/{id}?force=&v=&link=`.
fn remove(engine: &Engine, id: &str, q: &http::Query) -> Result<(), ApiError> {
    if q.flag("link") {
        return Err(unsupported("link", "there are no legacy links to remove"));
    }
    let c = get(engine, id)?;
    let name = c.name().to_owned();
    let anonymous: Vec<String> = if q.flag("v") {
        c.inspect()
            .map(|i| i.mounts.into_iter().filter_map(|m| m.name).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    match c.remove(q.flag("force")) {
        Ok(()) => {}
        Err(Error::InvalidState { status, .. }) => {
            let why = if status == "paused" {
                "container is paused and must be unpaused first".to_owned()
            } else {
                format!("container is {status}: stop the container before removing or force remove")
            };
            return Err(ApiError::conflict(format!(
                "cannot remove container \"/{name}\": {why}"
            )));
        }
        Err(Error::ContainerNotFound { .. }) => {
            return Err(ApiError::not_found(format!("No such container: {id}")))
        }
        Err(e) => return Err(docker_error(e)),
    }
    for v in anonymous {
        if engine.volume(&v).is_ok_and(|v| v.is_anonymous()) {
            match engine.volumes().remove(&v, false) {
                Ok(()) | Err(Error::VolumeInUse { .. } | Error::VolumeNotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
