//! A container's networking as the container layer sees it: what the builder asked for
//! (kept in the record, so a later `start` attaches the same way), and the calls into
//! [`crate::network`] when its process starts and after it stops.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::record::Record;
use super::store::ContainerStore;
use crate::network::dns::{self, Resolver};
use crate::network::sandbox::NetworkMemo;
use crate::network::{EndpointConfig, NetworkMode, PortBinding, SandboxConfig, DEFAULT_NETWORK};
use crate::{Error, Result};

/// How the container is networked, as asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum NetMode {
    /// A network namespace of its own with only loopback, up (the default, `none`).
    #[default]
    Private,
    /// The host's network namespace.
    Host,
    /// A namespace of its own attached to networks (through the network layer).
    Networks,
    /// The network namespace of another container (`--network container:<name>`,
    /// compose's `network_mode: service:<name>`), joined each time it starts; that
    /// container's `/etc/hosts` and `/etc/resolv.conf` with it.
    Container,
}

/// One network to attach to, with the names peers reach the container by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NetEndpoint {
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// A fixed address on the network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
}

/// What the builder asked for (`cargohold.network` in the record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NetSettings {
    pub mode: NetMode,
    #[serde(default)]
    pub networks: Vec<NetEndpoint>,
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    #[serde(default)]
    pub extra_hosts: Vec<(String, Ipv4Addr)>,
    /// On a user-defined network: served by the embedded DNS server at 127.0.0.11
    /// ([`crate::network::dns`]), which `/etc/resolv.conf` names.
    #[serde(default)]
    pub embedded_dns: bool,
    /// In [`NetMode::Container`]: the id of the container whose namespace it joins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl NetSettings {
    /// Docker's `HostConfig.NetworkMode`: `none`, `host`, or the first network's name.
    pub(crate) fn mode_name(&self) -> String {
        match self.mode {
            NetMode::Private => "none".to_owned(),
            NetMode::Host => "host".to_owned(),
            NetMode::Networks => self
                .networks
                .first()
                .map_or_else(|| "none".to_owned(), |n| n.network.clone()),
            NetMode::Container => format!("container:{}", self.container.as_deref().unwrap_or("")),
        }
    }
}

/// Attaches the container's networks (nothing to do unless it has some) and writes its
/// `/etc/hosts` (the container directory's `hosts`, bind-mounted over the image's).
///
/// # Errors
/// The network layer's: a network not found, a host port in use, an exhausted subnet…;
/// nothing is left attached then.
pub(crate) fn attach(store: &ContainerStore, rec: &Record, dir: &Path) -> Result<()> {
    let net = &rec.net;
    if net.mode == NetMode::Container {
        return join_container(store, rec, dir);
    }
    if net.mode != NetMode::Networks {
        return Ok(());
    }
    let id = rec.info.id.as_str();
    let rootless = crate::paths::rootless();
    if rootless && net.networks.iter().all(|n| n.network == DEFAULT_NETWORK) {
        // user-mode networking, started by the runtime's `before_start` (see
        // `before_start_hook`); /etc/hosts stays the one the container was made with
        return store.networks().prepare_user_mode(id, &net.ports).map(drop);
    }
    let hosts_file = dir.join("hosts");
    let cfg = SandboxConfig {
        container_id: id.to_owned(),
        container_name: rec.name().to_owned(),
        hostname: rec.info.config.hostname.clone(),
        mode: NetworkMode::Networks(
            net.networks
                .iter()
                .map(|n| EndpointConfig {
                    network: n.network.clone(),
                    aliases: n.aliases.clone(),
                    ip: n.ip,
                })
                .collect(),
        ),
        ports: net.ports.clone(),
        extra_hosts: net.extra_hosts.clone(),
        hosts_file: Some(hosts_file.clone()),
    };
    let networks = store.networks();
    networks.attach(&cfg)?;
    let written = networks.hosts(id).and_then(|hosts| {
        fs::write(&hosts_file, hosts).map_err(|e| Error::os("writing", &hosts_file, e))
    });
    // rootless: the namespaces are the network keeper's (see `crate::network`)
    let written = written.and_then(|()| match rootless {
        true => join_keeper(store, id, dir),
        false => Ok(()),
    });
    if let Err(e) = written {
        let _ = networks.detach(id);
        return Err(e);
    }
    Ok(())
}

/// [`NetMode::Container`]: points the bundle's network namespace at the running target's
/// (`/proc/<its init>/ns/net`, whatever its own mode) and takes its `hosts` and
/// `resolv.conf`, as Docker shares them.
///
/// # Errors
/// [`Error::InvalidState`] when the target does not run (Docker: "cannot join network of
/// a non running container"), [`Error::ContainerNotFound`] once it is removed;
/// [`Error::Os`] rewriting the bundle.
fn join_container(store: &ContainerStore, rec: &Record, dir: &Path) -> Result<()> {
    use oci_spec::runtime::{LinuxNamespaceType, Spec};
    let target_id = rec.net.container.as_deref().unwrap_or_default();
    let target = store.get(target_id)?;
    let pid = match target.liveness()? {
        super::ready::Liveness::Running(pid) => pid,
        other => {
            return Err(Error::InvalidState {
                id: target.name().to_owned(),
                op: "join the network of",
                status: match other {
                    super::ready::Liveness::Starting => "starting".to_owned(),
                    _ => "not running".to_owned(),
                },
            })
        }
    };
    let target_dir = store.dir(target.id());
    for name in ["hosts", "resolv.conf"] {
        let (from, to) = (target_dir.join(name), dir.join(name));
        if from.exists() {
            fs::copy(&from, &to).map_err(|e| Error::os("copying", &from, e))?;
        }
    }
    let config = dir.join("config.json");
    let mut spec =
        Spec::load(&config).map_err(|e| Error::os("reading", &config, std::io::Error::other(e)))?;
    let netns = std::path::PathBuf::from(format!("/proc/{pid}/ns/net"));
    if let Some(namespaces) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        for n in namespaces.iter_mut() {
            if n.typ() == LinuxNamespaceType::Network {
                n.set_path(Some(netns.clone()));
            }
        }
    }
    let data = serde_json::to_vec(&spec).expect("a spec always serialises");
    crate::store::write_replace(&config, &data, false)
}

/// Points the bundle of rootless container `id`, attached to user-defined networks, at
/// the network keeper's namespaces: its user namespace (whose map is the engine's, so the
/// spec's own maps go) and, through the keeper's mount namespace, the network namespace
/// the keeper bound for it. Rewritten at each start: the keeper may be a new one.
///
/// # Errors
/// [`Error::Os`]: the keeper is gone, the bundle cannot be rewritten.
fn join_keeper(store: &ContainerStore, id: &str, dir: &Path) -> Result<()> {
    use oci_spec::runtime::{LinuxNamespaceType, Spec};
    let networks = store.networks();
    let keeper = networks.keeper().ok_or_else(|| Error::Os {
        op: format!("joining the network keeper's namespaces for container {id}: it is gone"),
        path: networks.dir().to_owned(),
        source: std::io::Error::from_raw_os_error(libc::ESRCH),
    })?;
    let config = dir.join("config.json");
    let mut spec =
        Spec::load(&config).map_err(|e| Error::os("reading", &config, std::io::Error::other(e)))?;
    if let Some(linux) = spec.linux_mut().as_mut() {
        linux.set_uid_mappings(None);
        linux.set_gid_mappings(None);
        for n in linux.namespaces_mut().iter_mut().flatten() {
            match n.typ() {
                LinuxNamespaceType::User => {
                    n.set_path(Some(format!("/proc/{keeper}/ns/user").into()));
                }
                LinuxNamespaceType::Network => {
                    n.set_path(Some(networks.netns_via_keeper(keeper, id)));
                }
                _ => {}
            }
        }
    }
    let data = serde_json::to_vec(&spec).expect("a spec always serialises");
    crate::store::write_replace(&config, &data, false)
}

/// The upstream servers of the container's embedded DNS server — its `--dns` servers, else
/// the `nameserver`s of the calling process's `/etc/resolv.conf` — or `None` when it has
/// none (it is not on a user-defined network).
pub(crate) fn dns_upstreams(rec: &Record) -> Option<Vec<SocketAddr>> {
    rec.net.embedded_dns.then(|| {
        let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        dns::upstreams(&rec.info.host_config.dns, &host)
    })
}

/// Binds the embedded DNS server of an [`attach`]ed container in its network namespace,
/// when it has one; [`serve_dns`] serves it once the container runs.
///
/// # Errors
/// [`Error::Os`]: the namespace cannot be entered or 127.0.0.11:53 is taken in it.
pub(crate) fn bind_dns(store: &ContainerStore, rec: &Record) -> Result<Option<dns::Bound>> {
    // rootless, the container's sidecar serves it (see `before_start_hook`)
    if !rec.net.embedded_dns || crate::paths::rootless() {
        return Ok(None);
    }
    let netns = store.networks().netns_path(&rec.info.id);
    dns::bind(&netns).map(Some)
}

/// Serves what [`bind_dns`] bound, on a thread of this process that ends when the
/// returned handle stops, or once the container's init (`pidfd`) has exited.
///
/// # Errors
/// [`Error::Os`]: the thread cannot be started.
pub(crate) fn serve_dns(
    store: &ContainerStore,
    rec: &Record,
    bound: dns::Bound,
    pidfd: Option<OwnedFd>,
) -> Result<Resolver> {
    let upstreams = dns_upstreams(rec).unwrap_or_default();
    bound.serve(store.networks().clone(), &rec.info.id, upstreams, pidfd)
}

/// `NetworkSettings` of [`Inspect`](super::Inspect), as `docker inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct NetworkSettings {
    /// The first network's address (empty when not attached).
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// The first network's gateway.
    pub gateway: String,
    /// The first network's prefix length.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// The first network's interface MAC address.
    pub mac_address: String,
    /// Published ports: `"80/tcp"` → the host addresses and ports (`None`: exposed only).
    pub ports: BTreeMap<String, Option<Vec<PortMapping>>>,
    /// One entry per network, by name.
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// A host address and port a container port is published on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PortMapping {
    /// `0.0.0.0` for every address.
    pub host_ip: String,
    /// The host port.
    pub host_port: String,
}

/// A container's endpoint on one network, as `docker inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct EndpointSettings {
    /// The network's id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Its address on the network (empty while stopped).
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    /// The network's gateway.
    pub gateway: String,
    /// The prefix length of the network.
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    /// Its interface's MAC address.
    pub mac_address: String,
    /// Further names peers reach it by.
    pub aliases: Vec<String>,
}

/// The runtime's `before_start` for a rootless container on a network, `None` for any
/// other: on the default network, pasta on its namespaces (see [`crate::network`]'s
/// user-mode networking); on user-defined networks, its sidecar (its embedded DNS server
/// with `dns` as upstreams, its published ports). `attached`: the container is this
/// process's, created on its spawner thread; pasta dies with this process (a sidecar
/// with the container's init, whoever owns it).
pub(crate) fn before_start_hook(
    networks_root: &Path,
    id: &str,
    attached: bool,
    dns: Option<Vec<SocketAddr>>,
) -> Option<crate::runtime::BeforeStart> {
    if !crate::paths::rootless() {
        return None;
    }
    let store = crate::network::NetworkStore::open(networks_root).ok()?;
    let id = id.to_owned();
    if store.has_user_mode(&id) {
        return Some(crate::runtime::BeforeStart(std::sync::Arc::new(
            move |starting| store.start_user_mode(&id, starting, attached),
        )));
    }
    store.sandbox(&id).ok().flatten()?;
    Some(crate::runtime::BeforeStart(std::sync::Arc::new(
        move |starting| store.start_sidecar(&id, starting.pid, dns.clone()),
    )))
}

/// Lists `p` under its container port in `out.ports`, as `docker inspect` shows it.
fn published(out: &mut NetworkSettings, p: &PortBinding) {
    out.ports
        .entry(format!("{}/{}", p.container_port, p.protocol))
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortMapping {
            host_ip: p
                .host_ip
                .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string()),
            host_port: p.host_port.to_string(),
        });
}

/// The live `NetworkSettings` of a container: its endpoints while attached; the networks
/// it asked for, without addresses, otherwise (`running`: its live state says it runs or
/// is paused). Each network's record is read once per `memo`.
pub(crate) fn settings_in(
    store: &ContainerStore,
    rec: &Record,
    memo: &mut NetworkMemo,
    running: bool,
) -> NetworkSettings {
    let mut out = NetworkSettings::default();
    // Only a running (or paused) container with networks is attached: the others have
    // no sandbox to look up.
    let endpoints = if running && rec.net.mode != NetMode::Private {
        store
            .networks()
            .endpoints_in(&rec.info.id, memo)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if running && rec.net.mode == NetMode::Networks {
        // rootless: user-mode networking has its published ports and no endpoint
        for p in store.networks().user_mode_ports(&rec.info.id) {
            published(&mut out, &p);
        }
    }
    for (i, e) in endpoints.iter().enumerate() {
        let gateway = e.gateway.map(|g| g.to_string()).unwrap_or_default();
        if i == 0 {
            out.ip_address = e.ip.to_string();
            out.gateway = gateway.clone();
            out.ip_prefix_len = e.prefix_len;
            out.mac_address = e.mac.clone();
        }
        for p in &e.ports {
            published(&mut out, p);
        }
        out.networks.insert(
            e.network.clone(),
            EndpointSettings {
                network_id: e.network_id.clone(),
                ip_address: e.ip.to_string(),
                gateway,
                ip_prefix_len: e.prefix_len,
                mac_address: e.mac.clone(),
                aliases: e.aliases.clone(),
            },
        );
    }
    // Exposed but not published: listed without a binding, as Docker does (while the
    // container is on a network).
    if !endpoints.is_empty() {
        for port in rec.info.config.exposed_ports.keys() {
            out.ports.entry(port.clone()).or_insert(None);
        }
    }
    if endpoints.is_empty() {
        for n in &rec.net.networks {
            out.networks
                .insert(n.network.clone(), EndpointSettings::default());
        }
        // (none for another container's namespace: Docker lists nothing then)
        if matches!(rec.net.mode, NetMode::Private | NetMode::Host) {
            out.networks
                .insert(rec.net.mode_name(), EndpointSettings::default());
        }
    }
    out
}

/// Adjusts the `hosts` and `resolv.conf` that [`super::rootfs::write_etc`] wrote into the
/// container directory: the host's files in host mode, `--add-host` lines (the network
/// layer writes them for a container on networks), `--dns` servers; the embedded DNS
/// server (`nameserver 127.0.0.11`) for a container on a user-defined network.
///
/// # Errors
/// [`Error::Os`] naming the file.
pub(crate) fn write_etc(dir: &Path, net: &NetSettings, dns: &[String]) -> Result<()> {
    let write = |name: &str, content: String| {
        let p = dir.join(name);
        fs::write(&p, content).map_err(|e| Error::os("writing", &p, e))
    };
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut hosts = match net.mode {
        NetMode::Host => fs::read_to_string("/etc/hosts").unwrap_or_default(),
        NetMode::Private => fs::read_to_string(dir.join("hosts")).unwrap_or_default(),
        NetMode::Networks => String::new(),
        // the target's files, taken at each start (`join_container`)
        NetMode::Container => return Ok(()),
    };
    if net.mode != NetMode::Networks {
        if !hosts.is_empty() && !hosts.ends_with('\n') {
            hosts.push('\n');
        }
        for (name, ip) in &net.extra_hosts {
            hosts.push_str(&format!("{ip}\t{name}\n"));
        }
        write("hosts", hosts)?;
    }
    if net.embedded_dns {
        // `--dns` servers are the embedded server's upstreams then, as in Docker.
        write("resolv.conf", dns::resolv_conf(&host_resolv))?;
    } else if !dns.is_empty() {
        write("resolv.conf", dns::resolv_conf_with(dns, &host_resolv))?;
    } else if net.mode == NetMode::Host {
        // The host's name servers are reachable from its own namespace, loopback ones too.
        write("resolv.conf", host_resolv)?;
    }
    Ok(())
}

/// Points the spec's network namespace where the networking wants it: none in host mode,
/// the namespace the network layer binds at `netns` for a container on networks (another
/// container's is set at each start: [`attach`]).
pub(crate) fn set_namespace(spec: &mut oci_spec::runtime::Spec, net: &NetSettings, netns: &Path) {
    use oci_spec::runtime::LinuxNamespaceType;
    if matches!(net.mode, NetMode::Private | NetMode::Container) {
        return;
    }
    // rootless networks: a namespace of its own, made by the runtime in the container's
    // user namespace, which pasta connects
    if net.mode == NetMode::Networks && crate::paths::rootless() {
        return;
    }
    let Some(linux) = spec.linux_mut() else {
        return;
    };
    let Some(namespaces) = linux.namespaces_mut() else {
        return;
    };
    match net.mode {
        NetMode::Host => namespaces.retain(|n| n.typ() != LinuxNamespaceType::Network),
        _ => {
            for n in namespaces.iter_mut() {
                if n.typ() == LinuxNamespaceType::Network {
                    n.set_path(Some(netns.to_owned()));
                }
            }
        }
    }
}
