//! A service of the model as a [`ContainerBuilder`]: every key the engine honours mapped
//! onto a setter, every key it cannot honour refused by name (`services.web.sysctls`),
//! never silently dropped.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use super::labels;
use super::model::{Port, Service, ServiceVolume, VolumeType};
use super::Project;
use crate::container::monitor::RestartPolicy;
use crate::container::{ContainerBuilder, Healthcheck, Ulimit};
use crate::network::{PortBinding, Protocol};
use crate::volume::{Mount, Propagation};
use crate::{Error, Result};

/// What one container of a service is made with besides the service's keys.
pub(super) struct Instance<'a> {
    pub project: &'a Project,
    pub service: &'a str,
    pub number: u64,
    /// The container's name.
    pub name: String,
    /// `com.docker.compose.image`: the id of the image.
    pub image_id: String,
    /// The application outlives its handle (no [`ContainerBuilder::ephemeral`]).
    pub detach: bool,
}

/// An [`Error::InvalidCompose`] at `services.<service>.<key>`: the engine cannot honour it.
fn unsupported(p: &Project, service: &str, key: &str, reason: impl Into<String>) -> Error {
    p.error(&format!("services.{service}.{key}"), reason)
}

/// Refuses the keys of `s` the engine cannot honour, naming them.
pub(super) fn check(p: &Project, name: &str, s: &Service, detach: bool) -> Result<()> {
    let no = |key: &str| unsupported(p, name, key, "not supported by this engine");
    let set: [(&str, bool); 9] = [
        ("domainname", s.domainname.is_some()),
        ("dns_search", !s.dns_search.is_empty()),
        ("devices", !s.devices.is_empty()),
        ("group_add", !s.group_add.is_empty()),
        ("sysctls", !s.sysctls.is_empty()),
        ("shm_size", s.shm_size.is_some()),
        ("ipc", s.ipc.is_some()),
        ("pid", s.pid.is_some()),
        (
            "platform",
            s.platform.as_deref().is_some_and(|p| p != "linux/amd64"),
        ),
    ];
    if let Some((key, _)) = set.iter().find(|(_, on)| *on) {
        return Err(no(key));
    }
    if let Some(l) = &s.logging {
        if l.driver.as_deref().is_some_and(|d| d != "json-file") || !l.options.is_empty() {
            return Err(unsupported(
                p,
                name,
                "logging",
                "only the json-file driver without options",
            ));
        }
    }
    if let Some(m) = s.network_mode.as_deref() {
        let known = matches!(m, "none" | "host" | "bridge")
            || m.strip_prefix("container:").is_some_and(|c| !c.is_empty())
            || m.strip_prefix("service:")
                .is_some_and(|svc| p.services.contains_key(svc));
        if !known {
            return Err(unsupported(
                p,
                name,
                "network_mode",
                format!(
                    "{m:?} is not supported (none, host, bridge, service:<a service of the \
                     project> or container:<name>)"
                ),
            ));
        }
    }
    for (net, sn) in &s.networks {
        if sn.ipv6_address.is_some() {
            return Err(no(&format!("networks.{net}.ipv6_address")));
        }
    }
    if let Some(d) = &s.deploy {
        if d.mode
            .as_deref()
            .is_some_and(|m| m != "replicated" && m != "global")
        {
            return Err(unsupported(p, name, "deploy.mode", "replicated or global"));
        }
        let res = d.resources.as_ref();
        if res
            .and_then(|r| r.reservations.as_ref())
            .is_some_and(|r| r.cpus.is_some() || r.pids.is_some())
        {
            return Err(no("deploy.resources.reservations"));
        }
        if let Some(rp) = &d.restart_policy {
            if rp.delay.is_some() || rp.window.is_some() {
                return Err(no("deploy.restart_policy"));
            }
        }
    }
    if !detach && restart(p, name, s)? != RestartPolicy::No {
        return Err(unsupported(
            p,
            name,
            "restart",
            "the containers of an ephemeral application are not restarted; bring it up detached",
        ));
    }
    if s.container_name.is_some() && replicas(s, None) > 1 {
        return Err(unsupported(
            p,
            name,
            "container_name",
            "a fixed name allows one container only",
        ));
    }
    for (i, v) in s.volumes.iter().enumerate() {
        check_volume(p, name, i, v)?;
    }
    check_files(p, name, s)
}

fn check_volume(p: &Project, name: &str, i: usize, v: &ServiceVolume) -> Result<()> {
    let key = format!("volumes[{i}]");
    if v.volume.as_ref().is_some_and(|o| o.subpath.is_some()) {
        return Err(unsupported(
            p,
            name,
            &format!("{key}.volume.subpath"),
            "not supported by this engine",
        ));
    }
    if v.bind.as_ref().is_some_and(|b| b.selinux.is_some()) {
        return Err(unsupported(
            p,
            name,
            &format!("{key}.bind.selinux"),
            "not supported by this engine",
        ));
    }
    if let Some(src) = v.source.as_deref().filter(|_| v.kind == VolumeType::Volume) {
        if let Some(cfg) = p.volumes.get(src) {
            if cfg.driver.as_deref().is_some_and(|d| d != "local") || !cfg.driver_opts.is_empty() {
                return Err(p.error(
                    &format!("volumes.{src}"),
                    "only the local driver without options",
                ));
            }
        }
    }
    Ok(())
}

/// Secrets and configs: host files only, at their path without owner or mode changes.
fn check_files(p: &Project, name: &str, s: &Service) -> Result<()> {
    for (kind, refs, top) in [
        ("secrets", &s.secrets, &p.secrets),
        ("configs", &s.configs, &p.configs),
    ] {
        for (i, r) in refs.iter().enumerate() {
            let at = format!("{kind}[{i}]");
            if r.uid.is_some() || r.gid.is_some() || r.mode.is_some() {
                return Err(unsupported(
                    p,
                    name,
                    &at,
                    "uid, gid and mode cannot be set on a bind mount",
                ));
            }
            if top.get(&r.source).is_none_or(|o| o.file.is_none()) {
                return Err(unsupported(p, name, &at, format!("{:?} is not a file (content, environment and external ones are not supported)", r.source)));
            }
        }
    }
    Ok(())
}

/// How many containers the service runs: `--scale`, else `deploy.replicas`, else `scale`,
/// else one.
pub(super) fn replicas(s: &Service, scale: Option<u64>) -> u64 {
    scale
        .or(s.deploy.as_ref().and_then(|d| d.replicas))
        .or(s.scale)
        .unwrap_or(1)
}

/// The restart policy: `restart`, else `deploy.restart_policy`.
fn restart(p: &Project, name: &str, s: &Service) -> Result<RestartPolicy> {
    if let Some(r) = &s.restart {
        return r
            .parse()
            .map_err(|e: Error| unsupported(p, name, "restart", e.to_string()));
    }
    let Some(rp) = s.deploy.as_ref().and_then(|d| d.restart_policy.as_ref()) else {
        return Ok(RestartPolicy::No);
    };
    Ok(match rp.condition.as_deref() {
        None | Some("any") => RestartPolicy::Always,
        Some("none") => RestartPolicy::No,
        Some("on-failure") => RestartPolicy::OnFailure {
            max_retries: rp
                .max_attempts
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        },
        Some(other) => {
            return Err(unsupported(
                p,
                name,
                "deploy.restart_policy.condition",
                format!("{other:?} is not none, on-failure or any"),
            ))
        }
    })
}

/// Configures `b` as the service's container `inst` says.
pub(super) fn configure(
    b: &mut ContainerBuilder<'_>,
    s: &Service,
    inst: &Instance<'_>,
) -> Result<()> {
    let (p, name) = (inst.project, inst.service);
    b.name(&inst.name);
    for (k, v) in labels::container(inst, s) {
        b.label(k, v);
    }
    if let Some(cmd) = &s.command {
        b.args(cmd);
    }
    if let Some(ep) = &s.entrypoint {
        b.entrypoint(ep);
    }
    for (k, v) in &s.environment {
        if let Some(v) = v {
            b.env(k, v);
        }
    }
    if let Some(d) = &s.working_dir {
        b.current_dir(d);
    }
    if let Some(u) = &s.user {
        b.user(u);
    }
    if let Some(h) = &s.hostname {
        b.hostname(h);
    }
    for (host, addr) in &s.extra_hosts {
        let ip: Ipv4Addr = addr.parse().map_err(|_| {
            unsupported(
                p,
                name,
                "extra_hosts",
                format!("{host}: {addr:?} is not an IPv4 address"),
            )
        })?;
        b.add_host(host, ip);
    }
    for d in &s.dns {
        b.dns(d);
    }
    for c in &s.cap_add {
        b.cap_add(c);
    }
    for c in &s.cap_drop {
        b.cap_drop(c);
    }
    for o in &s.security_opt {
        b.security_opt(o);
    }
    b.privileged(s.privileged.unwrap_or(false))
        .read_only(s.read_only.unwrap_or(false))
        .init(s.init.unwrap_or(false))
        .tty(s.tty.unwrap_or(false));
    if s.stdin_open == Some(true) && inst.detach {
        b.stdin(crate::Stdio::piped());
    }
    if let Some(sig) = &s.stop_signal {
        b.stop_signal(sig);
    }
    if let Some(t) = s.stop_grace_period {
        b.stop_timeout(Duration::from_secs(t.as_secs()));
    }
    b.restart(restart(p, name, s)?);
    if !inst.detach {
        b.ephemeral(true);
    }
    resources(b, s, inst)?;
    if let Some(h) = &s.healthcheck {
        b.healthcheck(healthcheck(h));
    }
    mounts(b, s, inst)?;
    networks(b, s, inst)?;
    ports(b, s, inst)
}

fn resources(b: &mut ContainerBuilder<'_>, s: &Service, inst: &Instance<'_>) -> Result<()> {
    let (p, name) = (inst.project, inst.service);
    let res = s.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let limits = res.and_then(|r| r.limits.clone()).unwrap_or_default();
    if let Some(m) = s.mem_limit.or(limits.memory) {
        b.memory_limit(m);
    }
    if let Some(m) = s.mem_reservation.or(res
        .and_then(|r| r.reservations.as_ref())
        .and_then(|r| r.memory))
    {
        b.memory_reservation(m);
    }
    if let Some(c) = s.cpus.or(limits.cpus).filter(|c| *c > 0.0) {
        b.cpus(c);
    }
    if let Some(c) = s.cpu_shares {
        b.cpu_shares(c);
    }
    if let Some(n) = s.pids_limit.or(limits.pids).filter(|n| *n > 0) {
        let n = u32::try_from(n)
            .map_err(|_| unsupported(p, name, "pids_limit", format!("{n} is too large")))?;
        b.pids_limit(n);
    }
    for (kind, u) in &s.ulimits {
        let l = Ulimit::new(kind, u.soft, u.hard)
            .map_err(|r| unsupported(p, name, &format!("ulimits.{kind}"), r))?;
        b.ulimit(l);
    }
    Ok(())
}

/// The model's healthcheck as the container's (Docker's defaults for what is unset).
fn healthcheck(h: &super::model::Healthcheck) -> Healthcheck {
    if h.disable
        || h.test
            .as_ref()
            .is_some_and(|t| t.first().is_some_and(|f| f == "NONE"))
    {
        return Healthcheck::none();
    }
    Healthcheck {
        test: h.test.clone().unwrap_or_default(),
        interval: h.interval.unwrap_or_default(),
        timeout: h.timeout.unwrap_or_default(),
        start_period: h.start_period.unwrap_or_default(),
        start_interval: h.start_interval.unwrap_or_default(),
        retries: h
            .retries
            .map_or(0, |r| u32::try_from(r).unwrap_or(u32::MAX)),
    }
}

fn mounts(b: &mut ContainerBuilder<'_>, s: &Service, inst: &Instance<'_>) -> Result<()> {
    let (p, name) = (inst.project, inst.service);
    for (i, v) in s.volumes.iter().enumerate() {
        let at = || format!("volumes[{i}]");
        let mut m = match (v.kind, v.source.as_deref()) {
            (VolumeType::Volume, None) => Mount::anonymous(&v.target),
            (VolumeType::Volume, Some(key)) => Mount::volume(volume_name(p, key), &v.target),
            (VolumeType::Bind, Some(src)) => {
                let mut m = Mount::bind(src, &v.target);
                if let Some(o) = &v.bind {
                    if let Some(prop) = &o.propagation {
                        let prop: Propagation = prop.parse().map_err(|_| {
                            unsupported(
                                p,
                                name,
                                &format!("{}.bind.propagation", at()),
                                format!("{prop:?} is not a propagation mode"),
                            )
                        })?;
                        m = m.propagation(prop);
                    }
                    if o.create_host_path == Some(true) {
                        m = m.create_source();
                    }
                }
                m
            }
            (VolumeType::Bind, None) => {
                return Err(unsupported(p, name, &at(), "a bind mount needs a source"))
            }
            (VolumeType::Tmpfs, _) => {
                let mut m = Mount::tmpfs(&v.target);
                if let Some(o) = &v.tmpfs {
                    if let Some(size) = o.size {
                        m = m.size(size);
                    }
                    if let Some(mode) = o.mode {
                        m = m.mode(mode);
                    }
                }
                m
            }
        };
        if v.volume.as_ref().is_some_and(|o| o.nocopy == Some(true)) {
            m = m.no_copy();
        }
        if v.read_only {
            m = m.read_only();
        }
        b.mount(m);
    }
    for t in &s.tmpfs {
        b.mount(
            Mount::from_tmpfs_flag(t).map_err(|e| unsupported(p, name, "tmpfs", e.to_string()))?,
        );
    }
    for (kind, refs, top) in [
        ("secrets", &s.secrets, &p.secrets),
        ("configs", &s.configs, &p.configs),
    ] {
        for r in refs {
            let Some(file) = top.get(&r.source).and_then(|o| o.file.as_ref()) else {
                continue; // refused by `check`
            };
            let target = r.target.clone().unwrap_or_else(|| r.source.clone());
            let target = match (kind, Path::new(&target).is_absolute()) {
                (_, true) => target,
                ("secrets", false) => format!("/run/secrets/{target}"),
                _ => format!("/{target}"),
            };
            b.mount(Mount::bind(file, target).read_only());
        }
    }
    Ok(())
}

/// The engine's name of the project's volume `key`.
/// The name of container `number` of `service`: its `container_name`, else
/// `<project>-<service>-<number>`.
pub(super) fn container_name(p: &Project, service: &str, number: u64) -> String {
    p.services
        .get(service)
        .and_then(|s| s.container_name.clone())
        .unwrap_or_else(|| format!("{}-{service}-{number}", p.name))
}

pub(super) fn volume_name(p: &Project, key: &str) -> String {
    p.volumes
        .get(key)
        .and_then(|v| v.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", p.name))
}

/// The engine's name of the project's network `key`.
pub(super) fn network_name(p: &Project, key: &str) -> String {
    p.networks
        .get(key)
        .and_then(|v| v.name.clone())
        .unwrap_or_else(|| format!("{}_{key}", p.name))
}

fn networks(b: &mut ContainerBuilder<'_>, s: &Service, inst: &Instance<'_>) -> Result<()> {
    let (p, name) = (inst.project, inst.service);
    if let Some(mode) = &s.network_mode {
        match mode.strip_prefix("service:") {
            // the namespace of the service's first container
            Some(svc) => b.network(format!(
                "container:{}",
                container_name(inst.project, svc, 1)
            )),
            None => b.network(mode),
        };
        return Ok(());
    }
    let mut nets: Vec<_> = s.networks.iter().collect();
    // the highest priority first (it gives the default route), then by name
    nets.sort_by_key(|(k, n)| (std::cmp::Reverse(n.priority.unwrap_or(0)), k.to_owned()));
    for (key, n) in nets {
        let mut aliases = vec![name.to_owned()];
        aliases.extend(n.aliases.iter().filter(|a| a.as_str() != name).cloned());
        let ip = match &n.ipv4_address {
            Some(a) => Some(a.parse::<Ipv4Addr>().map_err(|_| {
                unsupported(
                    p,
                    name,
                    &format!("networks.{key}.ipv4_address"),
                    format!("{a:?} is not an IPv4 address"),
                )
            })?),
            None => None,
        };
        b.network_endpoint(network_name(p, key), aliases, ip);
    }
    Ok(())
}

/// The fixed host ports the `services` publish (with `scale` over their replicas) must not
/// collide: a second publisher of one port, or a service of several replicas with a fixed
/// host port, is an [`Error::InvalidCompose`] naming the port's path, as Compose's start
/// would fail there ("port is already allocated").
pub(super) fn check_ports(
    p: &Project,
    services: &[String],
    scale: &BTreeMap<String, u64>,
) -> Result<()> {
    // each fixed binding with where it was published first
    let mut seen: Vec<(PortBinding, String)> = Vec::new();
    for name in services {
        let Some(s) = p.services.get(name) else {
            continue;
        };
        for (i, port) in s.ports.iter().enumerate() {
            let at = format!("services.{name}.ports[{i}]");
            // (a range is checked first: its binding probes for a free port)
            let fixed = port.published.as_deref().is_some_and(|p| !p.contains('-'));
            if !fixed {
                continue;
            }
            let Ok(b) = port_binding(port) else { continue };
            if b.host_port == 0 {
                continue;
            }
            let n = replicas(s, scale.get(name).copied());
            if n > 1 {
                return Err(p.error(
                    &at,
                    format!(
                        "host port {} cannot be published by {n} replicas",
                        b.host_port
                    ),
                ));
            }
            if let Some((_, first)) = seen.iter().find(|(other, _)| other.conflicts(&b)) {
                return Err(p.error(
                    &at,
                    format!(
                        "host port {}/{} is also published by {first}",
                        b.host_port, b.protocol
                    ),
                ));
            }
            seen.push((b, at));
        }
    }
    Ok(())
}

/// Where in `s` (`services.<name>.ports[i]`) the binding of an
/// [`Error::PortInUse`] (`[ip:]host:container/proto`) was published, if it was.
pub(super) fn port_path(name: &str, s: &Service, binding: &str) -> Option<String> {
    let b: PortBinding = binding.parse().ok()?;
    s.ports
        .iter()
        .position(|port| {
            port.target == b.container_port
                && protocol(port) == Ok(b.protocol)
                && port
                    .published
                    .as_deref()
                    .is_some_and(|p| p == b.host_port.to_string() || p.contains('-'))
        })
        .map(|i| format!("services.{name}.ports[{i}]"))
}

fn ports(b: &mut ContainerBuilder<'_>, s: &Service, inst: &Instance<'_>) -> Result<()> {
    for (i, port) in s.ports.iter().enumerate() {
        let binding = port_binding(port)
            .map_err(|r| unsupported(inst.project, inst.service, &format!("ports[{i}]"), r))?;
        b.publish_port(binding);
    }
    Ok(())
}

/// A published port as a binding: a range of host ports takes the first free one.
fn port_binding(port: &Port) -> std::result::Result<PortBinding, String> {
    let protocol = protocol(port)?;
    let host_ip = match port.host_ip.as_deref() {
        None | Some("" | "0.0.0.0") => None,
        Some(ip) => Some(
            ip.parse::<Ipv4Addr>()
                .map_err(|_| format!("host_ip {ip:?} is not an IPv4 address"))?,
        ),
    };
    let bad = || {
        format!(
            "published {:?} is not a port or a range of ports",
            port.published
        )
    };
    let host_port = match port.published.as_deref() {
        None | Some("") => 0,
        Some(p) => match p.split_once('-') {
            None => p.parse().map_err(|_| bad())?,
            Some((lo, hi)) => {
                let (lo, hi): (u16, u16) = (
                    lo.parse().map_err(|_| bad())?,
                    hi.parse().map_err(|_| bad())?,
                );
                (lo..=hi)
                    .find(|&n| free(host_ip, n, protocol))
                    .ok_or_else(|| format!("no free host port in {lo}-{hi}"))?
            }
        },
    };
    Ok(PortBinding {
        host_ip,
        host_port,
        container_port: port.target,
        protocol,
    })
}

/// A published port's protocol: tcp unless it says udp.
fn protocol(port: &Port) -> std::result::Result<Protocol, String> {
    match port.protocol.as_deref() {
        None | Some("tcp") => Ok(Protocol::Tcp),
        Some("udp") => Ok(Protocol::Udp),
        Some(other) => Err(format!("protocol {other:?} is not tcp or udp")),
    }
}

/// Whether `port` can be bound on `ip` (every address when none).
fn free(ip: Option<Ipv4Addr>, port: u16, protocol: Protocol) -> bool {
    let addr = (ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port);
    match protocol {
        Protocol::Tcp => std::net::TcpListener::bind(addr).is_ok(),
        Protocol::Udp => std::net::UdpSocket::bind(addr).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(published: Option<&str>, ip: Option<&str>) -> Port {
        Port {
            target: 80,
            published: published.map(str::to_owned),
            host_ip: ip.map(str::to_owned),
            ..Port::default()
        }
    }

    #[test]
    fn ports_become_bindings() {
        let b = port_binding(&port(Some("8080"), Some("127.0.0.1"))).unwrap();
        assert_eq!(b.to_string(), "127.0.0.1:8080:80/tcp");
        assert_eq!(port_binding(&port(None, None)).unwrap().host_port, 0);
        let r = port_binding(&port(Some("41000-41010"), Some("127.0.0.1"))).unwrap();
        assert!((41000..=41010).contains(&r.host_port));
        assert!(port_binding(&port(Some("x"), None)).is_err());
        assert!(port_binding(&port(Some("80"), Some("::1")))
            .unwrap_err()
            .contains("host_ip"));
    }

    #[test]
    fn unsupported_keys_are_named() {
        let mut p = Project::new("app")
            .service("web", |s| s.image("busybox"))
            .build()
            .unwrap();
        if let Some(s) = p.services.get_mut("web") {
            s.sysctls.insert("net.core.somaxconn".into(), "1024".into());
        }
        let e = check(&p, "web", &p.services["web"], true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.web.sysctls"), "{e}");
        let p = Project::new("app")
            .service("web", |s| s.image("busybox").restart("always"))
            .build()
            .unwrap();
        check(&p, "web", &p.services["web"], true).unwrap();
        let e = check(&p, "web", &p.services["web"], false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.web.restart"), "{e}");
    }

    #[test]
    fn replicas_from_scale_deploy_or_one() {
        let mut s = Service::default();
        assert_eq!(replicas(&s, None), 1);
        s.scale = Some(2);
        assert_eq!(replicas(&s, None), 2);
        assert_eq!(replicas(&s, Some(3)), 3);
    }

    #[test]
    fn colliding_host_ports_are_named_by_path() {
        let project = |b: &str, replicas: u64| {
            Project::new("app")
                .service("a", |s| s.image("x").port("8080:80"))
                .service("b", |s| {
                    s.image("x").port("9000:90").port(b).replicas(replicas)
                })
                .build()
                .unwrap()
        };
        let all = ["a".to_owned(), "b".to_owned()];
        let none = BTreeMap::new();
        let e = check_ports(&project("127.0.0.1:8080:81", 1), &all, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(
                "services.b.ports[1]: host port 8080/tcp is also published by services.a.ports[0]"
            ),
            "{e}"
        );
        // another protocol, another port, or a service left out: no collision
        check_ports(&project("8080:80/udp", 1), &all, &none).unwrap();
        check_ports(&project("8081:80", 1), &all, &none).unwrap();
        check_ports(&project("8080:81", 1), &all[1..], &none).unwrap();
        // a fixed host port and several replicas
        let e = check_ports(&project("8081:80", 2), &all, &none)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("services.b.ports[0]: host port 9000 cannot be published by 2 replicas"),
            "{e}"
        );
        let scale = BTreeMap::from([("a".to_owned(), 3)]);
        assert!(check_ports(&project("8081:80", 1), &all, &scale).is_err());
        // where a taken binding was published
        let p = project("127.0.0.1:7000:70/udp", 1);
        assert_eq!(
            port_path("b", &p.services["b"], "127.0.0.1:7000:70/udp").as_deref(),
            Some("services.b.ports[1]")
        );
        assert_eq!(port_path("b", &p.services["b"], "7001:70/tcp"), None);
    }
}
