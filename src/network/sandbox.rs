//! A container's side of networking: its network namespace, its endpoints on networks
//! (veth or macvlan, address, route), its published ports, its `/etc/hosts`.
//!
//! The container layer calls, in order:
//! 1. [`NetworkStore::attach`] before creating the runtime container: it makes the network
//!    namespace (bound at [`Sandbox::netns`]), attaches the networks and publishes the
//!    ports; the runtime spec then joins the namespace by path (`linux.namespaces`:
//!    `{"type": "network", "path": …}`), or has no network namespace for `host`;
//! 2. writes [`NetworkStore::hosts`] to the file it gave as
//!    [`SandboxConfig::hosts_file`] (bind-mounted on `/etc/hosts`); the store rewrites it
//!    in place when peers come and go;
//! 3. [`NetworkStore::connect`] / [`NetworkStore::disconnect`] while it runs;
//! 4. [`NetworkStore::detach`] when the container stops: interfaces, rules, addresses,
//!    ports and the namespace are released.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixSocketAddr, UnixListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{
    firewall, free_in_pools, ipam, nl_err, ports, random_hex, Driver, Endpoint, NetworkStore,
    PortBinding, Record, DEFAULT_NETWORK,
};
use crate::sys::netlink::{self, Netlink};
use crate::{Error, Result};

/// How a container is networked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum NetworkMode {
    /// A network namespace of its own with only loopback, up (`--network none`).
    // The container layer makes `none` containers without a sandbox; only this layer's
    // tests (sandbox_tests.rs) ask for it. (`host` is `Networks(["host"])`.)
    #[cfg_attr(not(test), allow(dead_code))]
    None,
    /// A network namespace of its own attached to these networks in order: interfaces
    /// `eth0`, `eth1`…; the first network gives the default route, and ports are published
    /// through the first bridge network.
    Networks(Vec<EndpointConfig>),
}

/// A container's attachment to one network, as asked for (`--network`, `--network-alias`,
/// `--ip`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndpointConfig {
    /// The network's name or id.
    pub network: String,
    /// Further names peers on the network reach the container by (user-defined networks).
    pub aliases: Vec<String>,
    /// A fixed address (default: the lowest free one).
    pub ip: Option<Ipv4Addr>,
}

impl EndpointConfig {
    /// An attachment to `network` with no alias and an address from its pool.
    pub(crate) fn new(network: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            network: network.into(),
            aliases: Vec::new(),
            ip: None,
        }
    }
}

/// What the container layer gives [`NetworkStore::attach`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SandboxConfig {
    /// The container's id (a file name: `[a-zA-Z0-9_.-]`, not starting with `.`).
    pub container_id: String,
    /// The container's name (peers reach it by this name).
    pub container_name: String,
    /// The container's hostname (its own line in `/etc/hosts`).
    pub hostname: String,
    /// How it is networked.
    pub mode: NetworkMode,
    /// Ports to publish (`-p`); port 0 picks a free host port.
    pub ports: Vec<PortBinding>,
    /// Extra `/etc/hosts` entries (`--add-host name:ip`).
    pub extra_hosts: Vec<(String, Ipv4Addr)>,
    /// The host file bind-mounted on the container's `/etc/hosts`, rewritten in place as
    /// peers come and go; `None` if the caller manages it.
    pub hosts_file: Option<PathBuf>,
}

impl SandboxConfig {
    /// A container `id` named `name` (hostname = the first 12 bytes of the id, as Docker),
    /// on the default `bridge` network, publishing nothing.
    #[cfg(test)]
    pub(crate) fn new(id: impl Into<String>, name: impl Into<String>) -> SandboxConfig {
        let id = id.into();
        SandboxConfig {
            hostname: id.chars().take(12).collect(),
            container_id: id,
            container_name: name.into(),
            mode: NetworkMode::Networks(vec![EndpointConfig::new(DEFAULT_NETWORK)]),
            ports: Vec::new(),
            extra_hosts: Vec::new(),
            hosts_file: None,
        }
    }
}

/// A container's network state, as recorded in `<root>/networks/.sandboxes/<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sandbox {
    container_id: String,
    container_name: String,
    hostname: String,
    /// `None` in host mode.
    netns: Option<PathBuf>,
    #[serde(default)]
    hosts_file: Option<PathBuf>,
    #[serde(default)]
    extra_hosts: Vec<(String, Ipv4Addr)>,
    /// Network names, in attach order.
    #[serde(default)]
    networks: Vec<String>,
}

impl Sandbox {
    /// The file its network namespace is bound to (`<root>/netns/<id>`), for the runtime
    /// spec to join by path; `None` in host mode (no namespace of its own).
    #[cfg(test)]
    pub(crate) fn netns(&self) -> Option<&Path> {
        self.netns.as_deref()
    }

    /// The container's hostname.
    pub(crate) fn hostname(&self) -> &str {
        &self.hostname
    }

    /// The names of the networks it is attached to, in attach order.
    pub(crate) fn networks(&self) -> &[String] {
        &self.networks
    }
}

/// A container's attachment to a network, as set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct EndpointInfo {
    /// The network's name.
    pub network: String,
    /// The network's id.
    pub network_id: String,
    /// The interface inside the container (`eth0`).
    pub ifname: String,
    /// Its address.
    pub ip: Ipv4Addr,
    /// The prefix length of the network's subnet.
    pub prefix_len: u8,
    /// The network's gateway.
    pub gateway: Option<Ipv4Addr>,
    /// The interface's MAC address.
    pub mac: String,
    /// Its aliases on the network.
    pub aliases: Vec<String>,
    /// Ports published through it, with the host ports chosen.
    pub ports: Vec<PortBinding>,
}

fn endpoint_info(rec: &Record, e: &Endpoint) -> EndpointInfo {
    EndpointInfo {
        network: rec.name.clone(),
        network_id: rec.id.clone(),
        ifname: e.ifname.clone(),
        ip: e.ip,
        prefix_len: rec.subnet.map_or(32, |s| s.prefix_len()),
        gateway: rec.gateway,
        mac: e.mac.clone(),
        aliases: e.aliases.clone(),
        ports: e.ports.clone(),
    }
}

fn check_container_id(id: &str) -> Result<()> {
    crate::store::check_id(
        id,
        "a container id on a network must be [a-zA-Z0-9_.-], not starting with '.'",
    )
}

/// Docker's `/etc/hosts` lines for loopback.
const LOCALHOST: &str = "127.0.0.1\tlocalhost\n\
::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\n\
ff00::0\tip6-mcastprefix\n\
ff02::1\tip6-allnodes\n\
ff02::2\tip6-allrouters\n";

/// The first error of several steps that all must be tried.
fn first(acc: &mut Option<Error>, r: Result<()>) {
    if let Err(e) = r {
        acc.get_or_insert(e);
    }
}

/// Network records read during one listing, by name (`None`: unreadable).
#[derive(Debug, Default)]
pub(crate) struct NetworkMemo {
    records: std::collections::HashMap<String, Option<Record>>,
}

impl NetworkStore {
    fn sandbox_path(&self, id: &str) -> PathBuf {
        self.dir.join(".sandboxes").join(format!("{id}.json"))
    }

    fn load_sandbox(&self, id: &str) -> Result<Option<Sandbox>> {
        crate::store::read_json(&self.sandbox_path(id), "network sandbox")
    }

    fn save_sandbox(&self, sb: &Sandbox) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(sb).expect("a sandbox serialises");
        // Runtime state: gone with a reboot, repaired after a crash; no fsync.
        crate::store::write_replace(&self.sandbox_path(&sb.container_id), &bytes, false)
    }

    pub(super) fn sandboxes(&self) -> Result<Vec<Sandbox>> {
        let dir = self.dir.join(".sandboxes");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir)
            .map_err(|e| Error::os("reading", &dir, e))?
            .flatten()
        {
            let n = e.file_name();
            let Some(id) = n.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if id.starts_with('.') {
                continue;
            }
            if let Some(sb) = self.load_sandbox(id)? {
                out.push(sb);
            }
        }
        Ok(out)
    }

    /// The network state of the container `id`, if it has one (it is attached).
    ///
    /// # Errors
    /// [`Error::Os`] if the record cannot be read.
    pub(crate) fn sandbox(&self, container_id: &str) -> Result<Option<Sandbox>> {
        check_container_id(container_id)?;
        self.load_sandbox(container_id)
    }

    /// The container's endpoints, in attach order (`docker inspect`'s `NetworkSettings`).
    ///
    /// # Errors
    /// [`Error::Os`].
    pub(crate) fn endpoints(&self, container_id: &str) -> Result<Vec<EndpointInfo>> {
        self.endpoints_in(container_id, &mut NetworkMemo::default())
    }

    /// [`endpoints`](Self::endpoints), reading each network's record once per `memo` (a
    /// listing of many containers on one network reads it once, not once a container).
    ///
    /// # Errors
    /// [`Error::Os`].
    pub(crate) fn endpoints_in(
        &self,
        container_id: &str,
        memo: &mut NetworkMemo,
    ) -> Result<Vec<EndpointInfo>> {
        let Some(sb) = self.sandbox(container_id)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for name in &sb.networks {
            let rec = memo
                .records
                .entry(name.clone())
                .or_insert_with(|| self.load(name).ok());
            if let Some(rec) = rec {
                if let Some(e) = rec.endpoints.get(container_id) {
                    out.push(endpoint_info(rec, e));
                }
            }
        }
        Ok(out)
    }

    /// The container's published ports with the host ports chosen (`docker port`).
    ///
    /// # Errors
    /// [`Error::Os`].
    pub(crate) fn ports(&self, container_id: &str) -> Result<Vec<PortBinding>> {
        if self.has_user_mode(container_id) {
            // rootless: pasta publishes them
            return Ok(self.user_mode_ports(container_id));
        }
        Ok(self
            .endpoints(container_id)?
            .into_iter()
            .flat_map(|e| e.ports)
            .collect())
    }

    /// Sets up the container's networking: a network namespace bound at `<root>/netns/<id>` (none
    /// for the `host` network) with loopback up, an interface per network with its
    /// address, the default route, and the published ports. Peers' `/etc/hosts` files are
    /// updated.
    ///
    /// On error nothing is left: no namespace, interface, rule, address or port.
    ///
    /// The container layer calls, in order: `attach` before creating the runtime
    /// container (the spec joins [`Sandbox::netns`] by path, or has no network namespace
    /// for host mode); writes [`hosts`](Self::hosts) to [`SandboxConfig::hosts_file`] (the
    /// store rewrites it in place as peers come and go); [`connect`](Self::connect) /
    /// [`disconnect`](Self::disconnect) while it runs; [`detach`](Self::detach) when it
    /// stops.
    ///
    /// # Errors
    /// [`Error::NetworkNotFound`], [`Error::InvalidNetworkConfig`] (ports without a bridge
    /// network, `host`/`none` mixed with networks, a fixed address outside the subnet),
    /// [`Error::AlreadyConnected`] (a network twice), [`Error::InvalidState`] (the
    /// container is attached already),
    /// [`Error::PortInUse`], [`Error::SubnetExhausted`], [`Error::SubnetOverlap`] (the
    /// bridge's subnet is routed elsewhere on the host), [`Error::Netlink`],
    /// [`Error::Firewall`], [`Error::Os`]; [`Error::Rollback`] if undoing failed too.
    pub(crate) fn attach(&self, cfg: &SandboxConfig) -> Result<Sandbox> {
        if crate::paths::rootless() {
            return self.attach_rootless(cfg);
        }
        let id = cfg.container_id.as_str();
        check_container_id(id)?;
        let _lock = self.lock()?;
        if self.load_sandbox(id)?.is_some() {
            return Err(Error::InvalidState {
                id: cfg.container_name.clone(),
                op: "attach networks to",
                status: "attached already".into(),
            });
        }
        let bad =
            |network: &str, field: &'static str, reason: String| Error::InvalidNetworkConfig {
                network: network.to_owned(),
                field,
                reason,
            };
        // Everything is checked before anything is made.
        let mut endpoints: Vec<(Record, &EndpointConfig)> = Vec::new();
        let mut host = false;
        let mut none = false;
        match &cfg.mode {
            NetworkMode::None => none = true,
            NetworkMode::Networks(list) => {
                for ec in list {
                    let rec = self.resolve(&ec.network)?;
                    match rec.driver {
                        Driver::Host | Driver::Null if list.len() > 1 => {
                            return Err(bad(
                                &rec.name,
                                "container",
                                "host and none cannot be combined with other networks".into(),
                            ))
                        }
                        Driver::Host => host = true,
                        Driver::Null => none = true,
                        _ => {
                            if endpoints.iter().any(|(r, _)| r.id == rec.id) {
                                return Err(Error::AlreadyConnected {
                                    network: rec.name.clone(),
                                    container: cfg.container_name.clone(),
                                });
                            }
                            endpoints.push((rec, ec));
                        }
                    }
                }
            }
        }
        let publish_on = endpoints
            .iter()
            .position(|(r, _)| r.driver == Driver::Bridge);
        if !cfg.ports.is_empty() && publish_on.is_none() {
            let what = if host {
                "host"
            } else if none {
                "none"
            } else {
                endpoints.first().map_or("none", |(r, _)| r.name.as_str())
            };
            return Err(bad(
                what,
                "published ports",
                "ports are published through a bridge network; this container has none".into(),
            ));
        }
        let ports = self.claim_ports(&cfg.container_name, &cfg.ports)?;
        let mut sb = Sandbox {
            container_id: id.to_owned(),
            container_name: cfg.container_name.clone(),
            hostname: cfg.hostname.clone(),
            netns: (!host).then(|| self.netns_path(id)),
            hosts_file: cfg.hosts_file.clone(),
            extra_hosts: cfg.extra_hosts.clone(),
            networks: Vec::new(),
        };
        if host {
            sb.networks.push("host".into());
        } else if none {
            sb.networks.push("none".into());
        }
        // Recorded before it is made, so repair finds what a crash leaves.
        self.save_sandbox(&sb)?;
        let made = (|| {
            if let Some(ns) = &sb.netns {
                let _ = fs::remove_file(ns);
                netlink::new_netns(Some(ns), || Ok(())).map_err(nl_err(
                    "creating network namespace",
                    ns.display().to_string(),
                ))?;
            }
            for (i, (rec, ec)) in endpoints.iter().enumerate() {
                let p: &[PortBinding] = if Some(i) == publish_on { &ports } else { &[] };
                self.connect_locked(&sb, rec.clone(), ec, p)?;
                sb.networks.push(rec.name.clone());
                self.save_sandbox(&sb)?;
            }
            Ok(())
        })();
        if let Err(e) = made {
            return match self.teardown_locked(&sb) {
                Ok(()) => Err(e),
                Err(cleanup) => Err(Error::Rollback {
                    op: "attaching networks to",
                    container: cfg.container_name.clone(),
                    source: Box::new(e),
                    cleanup: Box::new(cleanup),
                }),
            };
        }
        self.refresh_hosts(&sb.networks, id);
        Ok(sb)
    }

    /// Checks the requested ports against the ports of every container and the host, and
    /// picks the host ports of those given as 0.
    fn claim_ports(&self, container: &str, wanted: &[PortBinding]) -> Result<Vec<PortBinding>> {
        let mut held: Vec<(PortBinding, String)> = Vec::new();
        for r in self.records()? {
            for e in r.endpoints.values() {
                for p in &e.ports {
                    held.push((*p, format!("container {}", e.container)));
                }
            }
        }
        if !wanted.is_empty() {
            // Another engine root's containers in this namespace: only their rules tell.
            for (p, tag) in firewall::published()? {
                let owner = tag.split(':').nth(1).unwrap_or_default();
                held.push((p, format!("container {owner} of another engine root")));
            }
        }
        let mut out = Vec::new();
        for p in wanted {
            let mut p = *p;
            let fixed = p.host_port != 0;
            for _ in 0..16 {
                if fixed {
                    if let Some((_, by)) = held.iter().find(|(h, _)| h.conflicts(&p)) {
                        return Err(Error::PortInUse {
                            binding: p.to_string(),
                            by: by.clone(),
                        });
                    }
                    ports::probe(&p)?;
                    break;
                }
                let mut probe = p;
                probe.host_port = ports::probe(&p)?;
                if !held.iter().any(|(h, _)| h.conflicts(&probe)) {
                    p = probe;
                    break;
                }
            }
            if p.host_port == 0 {
                return Err(Error::PortInUse {
                    binding: p.to_string(),
                    by: "other containers (no free host port found)".into(),
                });
            }
            held.push((p, format!("container {container}")));
            out.push(p);
        }
        Ok(out)
    }

    /// Attaches the sandbox's namespace to the network `rec` (the lock held): records the
    /// endpoint, then makes the interfaces and rules; undoes both on error.
    fn connect_locked(
        &self,
        sb: &Sandbox,
        mut rec: Record,
        ec: &EndpointConfig,
        ports: &[PortBinding],
    ) -> Result<EndpointInfo> {
        let id = &sb.container_id;
        if rec.endpoints.contains_key(id) {
            return Err(Error::AlreadyConnected {
                network: rec.name.clone(),
                container: sb.container_name.clone(),
            });
        }
        if rec.subnet.is_none() {
            return Err(Error::InvalidNetworkConfig {
                network: rec.name.clone(),
                field: "driver",
                reason: format!(
                    "containers cannot be connected to a {} network at run time",
                    rec.driver
                ),
            });
        }
        // Held until the bridge is made (by `plumb`), if it is to be made.
        let _bridges = match rec.driver {
            Driver::Bridge => self.settle_subnet(&mut rec)?,
            _ => None,
        };
        // interfaces already in the namespace
        let mut used_if = BTreeSet::new();
        for r in self.records()? {
            if let Some(e) = r.endpoints.get(id) {
                used_if.insert(e.ifname.clone());
            }
        }
        let ifname = (0..)
            .map(|n| format!("eth{n}"))
            .find(|n| !used_if.contains(n))
            .expect("a free interface name");
        let subnet = rec.subnet.expect("checked above");
        let used: BTreeSet<Ipv4Addr> = rec.endpoints.values().map(|e| e.ip).collect();
        let ip = match ec.ip {
            Some(ip) => {
                if !subnet.contains(ip)
                    || ip == subnet.addr()
                    || ip == subnet.broadcast()
                    || Some(ip) == rec.gateway
                {
                    return Err(Error::InvalidNetworkConfig {
                        network: rec.name.clone(),
                        field: "IP address",
                        reason: format!("{ip} is not a free host address of {subnet}"),
                    });
                }
                if let Some(e) = rec.endpoints.values().find(|e| e.ip == ip) {
                    return Err(Error::InvalidNetworkConfig {
                        network: rec.name.clone(),
                        field: "IP address",
                        reason: format!("{ip} is taken by container {}", e.container),
                    });
                }
                ip
            }
            None => ipam::allocate(&subnet, rec.ip_range.as_ref(), rec.gateway, &used).ok_or_else(
                || Error::SubnetExhausted {
                    network: rec.name.clone(),
                    subnet: rec.ip_range.unwrap_or(subnet).to_string(),
                },
            )?,
        };
        let ep = Endpoint {
            id: random_hex(32)?,
            container: sb.container_name.clone(),
            aliases: ec.aliases.clone(),
            ip,
            ifname,
            host_ifname: (rec.driver == Driver::Bridge)
                .then(|| format!("ch{}", &random_hex(4).unwrap_or_default())),
            mac: String::new(),
            ports: ports.to_vec(),
        };
        rec.endpoints.insert(id.clone(), ep.clone());
        self.save_endpoints(&rec)?;
        match self.plumb(&rec, &ep, sb) {
            Ok(mac) => {
                rec.endpoints.get_mut(id).expect("just inserted").mac = mac;
                let info = endpoint_info(&rec, &rec.endpoints[id]);
                self.save_endpoints(&rec)?;
                self.event("connect", &rec, Some(id));
                Ok(info)
            }
            Err(e) => {
                let mut acc = None;
                first(
                    &mut acc,
                    self.unplumb(&rec, id, &ep, sb.netns.as_deref(), false),
                );
                rec.endpoints.remove(id);
                first(&mut acc, self.save_endpoints(&rec));
                if rec.endpoints.is_empty() {
                    // A failed first attach leaves no bridge behind either.
                    first(&mut acc, self.remove_bridge(&rec).map(drop));
                }
                match acc {
                    None => Err(e),
                    Some(cleanup) => Err(Error::Rollback {
                        op: "connecting",
                        container: sb.container_name.clone(),
                        source: Box::new(e),
                        cleanup: Box::new(cleanup),
                    }),
                }
            }
        }
    }

    /// Settles the subnet of bridge network `rec` before an endpoint is added to it (the
    /// lock held). With its bridge up, there is nothing to settle. Otherwise the bridge is
    /// about to come up, and its subnet must overlap no route of the namespace (another
    /// engine root's bridge among them) and no other network of this root: if it does, a
    /// network whose subnet came from the pools ([`Record::auto_subnet`], and the default
    /// `bridge`) and that has no container takes the first free subnet of Docker's pools,
    /// recorded; any other is refused with [`Error::SubnetOverlap`]. Returns the
    /// namespace's bridges lock, to hold until the bridge is made, so that roots bringing
    /// their bridges up at once see each other's.
    fn settle_subnet(&self, rec: &mut Record) -> Result<Option<BridgesLock>> {
        let br = rec
            .bridge
            .as_deref()
            .expect("a bridge network has a bridge");
        let mut nl = Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
        if nl
            .link(br)
            .map_err(nl_err("looking up bridge", br))?
            .is_some()
        {
            return Ok(None);
        }
        let lock = BridgesLock::take()?;
        let subnet = rec.subnet.expect("a bridge network has a subnet");
        let taken = self.taken_subnets(&rec.name)?;
        let Some((_, what)) = taken.iter().find(|(t, _)| t.overlaps(&subnet)) else {
            return Ok(Some(lock));
        };
        let movable = rec.auto_subnet || rec.name == DEFAULT_NETWORK;
        if !movable || !rec.endpoints.is_empty() {
            return Err(Error::SubnetOverlap {
                network: rec.name.clone(),
                subnet: subnet.to_string(),
                other: what.clone(),
            });
        }
        let new = free_in_pools(&rec.name, &taken)?;
        rec.subnet = Some(new);
        rec.gateway = new.first_host();
        rec.auto_subnet = true;
        self.save(rec)?;
        Ok(Some(lock))
    }

    /// Makes the interfaces of an endpoint and its rules; returns the MAC address.
    fn plumb(&self, rec: &Record, ep: &Endpoint, sb: &Sandbox) -> Result<String> {
        let ns_path = sb
            .netns
            .as_deref()
            .ok_or_else(|| Error::InvalidNetworkConfig {
                network: rec.name.clone(),
                field: "container",
                reason: format!(
                    "container {} uses the host's network namespace",
                    sb.container_name
                ),
            })?;
        let ns = netlink::open_netns(ns_path).map_err(nl_err(
            "opening network namespace",
            ns_path.display().to_string(),
        ))?;
        let mut nl = Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
        let subnet = rec.subnet.expect("checked by the caller");
        match rec.driver {
            Driver::Bridge => {
                let br = self.ensure_bridge(&mut nl, rec)?;
                let host_if = ep
                    .host_ifname
                    .as_deref()
                    .expect("a bridge endpoint has a veth");
                nl.add_veth(host_if, &ep.ifname, Some(ns.as_fd()), rec.mtu)
                    .map_err(nl_err(
                        "creating veth pair",
                        format!("{host_if} ({} in the container)", ep.ifname),
                    ))?;
                let l = nl
                    .link(host_if)
                    .map_err(nl_err("looking up", host_if))?
                    .ok_or_else(|| {
                        nl_err("looking up", host_if)(io::Error::from_raw_os_error(libc::ENODEV))
                    })?;
                nl.set_master(l.index, br).map_err(nl_err(
                    format!(
                        "enslaving to bridge {}:",
                        rec.bridge.as_deref().unwrap_or_default()
                    ),
                    host_if,
                ))?;
                nl.set_up(l.index).map_err(nl_err("bringing up", host_if))?;
            }
            Driver::Macvlan => {
                let parent = rec
                    .parent
                    .as_deref()
                    .expect("a macvlan network has a parent");
                let p = nl
                    .link(parent)
                    .map_err(nl_err("looking up", parent))?
                    .ok_or_else(|| Error::InvalidNetworkConfig {
                        network: rec.name.clone(),
                        field: "parent",
                        reason: format!("there is no interface {parent:?} on the host"),
                    })?;
                let mtu = rec.mtu.min(p.mtu.max(68));
                nl.add_macvlan(&ep.ifname, p.index, Some(ns.as_fd()), mtu)
                    .map_err(nl_err(
                        format!("creating macvlan on {parent}:"),
                        ep.ifname.clone(),
                    ))?;
            }
            Driver::Host | Driver::Null => unreachable!("no endpoints on host or none"),
        }
        let (ifname, ip, gw) = (ep.ifname.clone(), ep.ip, rec.gateway);
        let mac = netlink::in_netns(ns.as_fd(), move || {
            let mut nl = Netlink::open()?;
            let l = nl
                .link(&ifname)?
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
            nl.add_address(l.index, ip, subnet.prefix_len())?;
            nl.set_up(l.index)?;
            if let Some(gw) = gw {
                if !nl.routes4()?.iter().any(|r| r.prefix_len == 0) {
                    nl.add_route4(Ipv4Addr::UNSPECIFIED, 0, Some(gw), l.index)?;
                }
            }
            Ok(l.mac)
        })
        .map_err(nl_err(
            format!("configuring {ip}/{} via {gw:?} on", subnet.prefix_len()),
            format!("{} in {}", ep.ifname, ns_path.display()),
        ))?;
        if !ep.ports.is_empty() {
            let tag = firewall::endpoint_tag(&sb.container_id, &rec.id);
            firewall::add(
                &format!("publishing ports of container {}", sb.container_name),
                &tag,
                &firewall::port_rules(ip, &ep.ports),
            )?;
        }
        Ok(mac)
    }

    /// The bridge of a bridge network, created (with its address, up, NAT and isolation
    /// rules) if it does not exist yet.
    fn ensure_bridge(&self, nl: &mut Netlink, rec: &Record) -> Result<u32> {
        let br = rec
            .bridge
            .as_deref()
            .expect("a bridge network has a bridge");
        if let Some(l) = nl.link(br).map_err(nl_err("looking up bridge", br))? {
            return Ok(l.index);
        }
        // Its subnet is free: settled by `settle_subnet`, whose lock the caller holds.
        let subnet = rec.subnet.expect("a bridge network has a subnet");
        nl.add_bridge(br, rec.mtu)
            .map_err(nl_err("creating bridge", br))?;
        let idx = nl
            .link(br)
            .map_err(nl_err("looking up bridge", br))?
            .map(|l| l.index)
            .ok_or_else(|| {
                nl_err("looking up bridge", br)(io::Error::from_raw_os_error(libc::ENODEV))
            });
        let made = idx.and_then(|idx| {
            let gw = rec.gateway.expect("a bridge network has a gateway");
            nl.add_address(idx, gw, subnet.prefix_len())
                .map_err(nl_err(
                    format!("adding {gw}/{} to", subnet.prefix_len()),
                    br,
                ))?;
            nl.set_up(idx).map_err(nl_err("bringing up", br))?;
            // 127.0.0.1:<port> DNATed to a container leaves through the bridge with a
            // loopback source (masqueraded then): the kernel routes it only with this.
            let rl = format!("/proc/sys/net/ipv4/conf/{br}/route_localnet");
            fs::write(&rl, "1").map_err(|e| Error::os("writing", &rl, e))?;
            let fwd = "/proc/sys/net/ipv4/ip_forward";
            fs::write(fwd, "1").map_err(|e| Error::os("writing", fwd, e))?;
            firewall::add(
                &format!("adding NAT and isolation rules of network {}", rec.name),
                &firewall::network_tag(&rec.id),
                &firewall::network_rules(br, &subnet),
            )?;
            Ok(idx)
        });
        if made.is_err() {
            let _ = self.remove_bridge(rec);
        }
        made
    }

    /// Removes a network's bridge and its rules (none is fine); whether there was a bridge.
    pub(super) fn remove_bridge(&self, rec: &Record) -> Result<bool> {
        let Some(br) = rec.bridge.as_deref() else {
            return Ok(false);
        };
        if crate::paths::rootless() {
            // a rootless engine's bridges are the keeper's, and go with it
            return Ok(false);
        }
        join_deletions();
        let tag = firewall::network_tag(&rec.id);
        let mut acc = None;
        first(
            &mut acc,
            firewall::remove(
                &format!("removing NAT and isolation rules of network {}", rec.name),
                |t| t == tag,
            ),
        );
        let mut had = false;
        let r = (|| {
            let mut nl = Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
            if let Some(l) = nl.link(br).map_err(nl_err("looking up bridge", br))? {
                had = true;
                match nl.del_link(l.index) {
                    Err(e) if e.raw_os_error() != Some(libc::ENODEV) => {
                        return Err(nl_err("deleting bridge", br)(e))
                    }
                    _ => {}
                }
            }
            Ok(())
        })();
        first(&mut acc, r);
        acc.map_or(Ok(had), Err)
    }

    /// Removes an endpoint's interfaces and rules (those already gone are fine).
    /// With `lazy`, a bridge endpoint's veth pair is deleted by a background thread: the
    /// deletion makes the kernel wait for in-flight packets (some 20 ms), which a container
    /// stopping need not wait for. [`join_deletions`] waits for them where it matters
    /// (removing a bridge, repair).
    fn unplumb(
        &self,
        rec: &Record,
        container_id: &str,
        ep: &Endpoint,
        netns: Option<&Path>,
        lazy: bool,
    ) -> Result<()> {
        let mut acc = None;
        if !ep.ports.is_empty() {
            let tag = firewall::endpoint_tag(container_id, &rec.id);
            first(
                &mut acc,
                firewall::remove(
                    &format!("unpublishing ports of container {}", ep.container),
                    |t| t == tag,
                ),
            );
        }
        let r = (|| {
            match (&ep.host_ifname, netns) {
                (Some(h), _) if lazy => {
                    let mut nl =
                        Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
                    if let Some(l) = nl.link(h).map_err(nl_err("looking up", h.as_str()))? {
                        defer_deletion(nl, l.index);
                    }
                }
                (Some(h), _) => {
                    let mut nl =
                        Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
                    if let Some(l) = nl.link(h).map_err(nl_err("looking up", h.as_str()))? {
                        match nl.del_link(l.index) {
                            Err(e) if e.raw_os_error() != Some(libc::ENODEV) => {
                                return Err(nl_err("deleting veth", h.as_str())(e))
                            }
                            _ => {}
                        }
                    }
                }
                (None, Some(ns_path)) => {
                    let Ok(ns) = netlink::open_netns(ns_path) else {
                        // the namespace is gone, and its interfaces with it
                        return Ok(());
                    };
                    let ifname = ep.ifname.clone();
                    netlink::in_netns(ns.as_fd(), move || {
                        let mut nl = Netlink::open()?;
                        if let Some(l) = nl.link(&ifname)? {
                            match nl.del_link(l.index) {
                                Err(e) if e.raw_os_error() != Some(libc::ENODEV) => return Err(e),
                                _ => {}
                            }
                        }
                        Ok(())
                    })
                    .map_err(nl_err(
                        "deleting",
                        format!("{} in {}", ep.ifname, ns_path.display()),
                    ))?;
                }
                (None, None) => {}
            }
            Ok(())
        })();
        first(&mut acc, r);
        acc.map_or(Ok(()), Err)
    }

    /// Detaches the container from `rec` (the lock held); the endpoint stays recorded if
    /// its interfaces could not be removed, for repair to retry.
    fn disconnect_locked(
        &self,
        mut rec: Record,
        container_id: &str,
        netns: Option<&Path>,
        lazy: bool,
    ) -> Result<()> {
        let Some(ep) = rec.endpoints.get(container_id).cloned() else {
            return Ok(());
        };
        self.unplumb(&rec, container_id, &ep, netns, lazy)?;
        rec.endpoints.remove(container_id);
        // The bridge stays while the network exists (see `release_idle`).
        self.save_endpoints(&rec)?;
        self.event("disconnect", &rec, Some(container_id));
        Ok(())
    }

    /// Undoes [`attach`](Self::attach) (the lock held).
    fn teardown_locked(&self, sb: &Sandbox) -> Result<()> {
        let id = &sb.container_id;
        let mut acc = None;
        let mut left = false;
        for rec in self.records()? {
            if rec.endpoints.contains_key(id) {
                // The namespace is released below: its interfaces go with it.
                let r = self.disconnect_locked(rec, id, sb.netns.as_deref(), true);
                left |= r.is_err();
                first(&mut acc, r);
            }
        }
        if let Some(ns) = &sb.netns {
            first(
                &mut acc,
                netlink::unbind_netns(ns).map_err(nl_err(
                    "removing network namespace",
                    ns.display().to_string(),
                )),
            );
        }
        if !left {
            let p = self.sandbox_path(id);
            match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    first(&mut acc, Err(Error::os("removing network sandbox", &p, e)))
                }
                _ => {}
            }
        }
        acc.map_or(Ok(()), Err)
    }

    /// Tears down the container's networking: its interfaces, addresses, rules and
    /// published ports, its namespace, and the bridges left without containers. Peers'
    /// `/etc/hosts` files are updated. A container without networking is fine.
    ///
    /// # Errors
    /// The first failure ([`Error::Netlink`], [`Error::Firewall`], [`Error::Os`]); the
    /// other steps are still made, and what could not be removed stays recorded for
    /// [`repair`](Self::repair).
    pub(crate) fn detach(&self, container_id: &str) -> Result<()> {
        check_container_id(container_id)?;
        // rootless: its pasta, if it has one
        self.detach_user_mode(container_id);
        if crate::paths::rootless() {
            return self.detach_rootless(container_id);
        }
        let _lock = self.lock()?;
        let Some(sb) = self.load_sandbox(container_id)? else {
            return Ok(());
        };
        let r = self.teardown_locked(&sb);
        self.refresh_hosts(&sb.networks, "");
        r
    }

    /// Connects a running container (one [`attach`](Self::attach)ed with a namespace of its
    /// own) to another network (`docker network connect`): a new interface `ethN`. Peers'
    /// `/etc/hosts` files, and its own, are updated.
    ///
    /// # Errors
    /// [`Error::InvalidState`] if the container is not attached, [`Error::NetworkNotFound`],
    /// [`Error::AlreadyConnected`], [`Error::InvalidNetworkConfig`] (`host`/`none`, a
    /// container in host mode, a bad fixed address), [`Error::SubnetExhausted`],
    /// [`Error::Netlink`], [`Error::Os`]. Nothing is left half-connected.
    pub(crate) fn connect(
        &self,
        container_id: &str,
        endpoint: &EndpointConfig,
    ) -> Result<EndpointInfo> {
        check_container_id(container_id)?;
        if crate::paths::rootless() {
            let op = super::rootless::Op::Connect(container_id.to_owned(), endpoint.clone());
            return self
                .in_keeper(&op, true)
                .map(|r| r.expect("the keeper was started"));
        }
        let _lock = self.lock()?;
        let mut sb = self
            .load_sandbox(container_id)?
            .ok_or_else(|| Error::InvalidState {
                id: container_id.to_owned(),
                op: "connect to a network",
                status: "not attached to any network (not running)".into(),
            })?;
        let rec = self.resolve(&endpoint.network)?;
        if sb.netns.is_none() {
            return Err(Error::InvalidNetworkConfig {
                network: rec.name.clone(),
                field: "container",
                reason: format!("container {} uses the host's network", sb.container_name),
            });
        }
        let name = rec.name.clone();
        let info = self.connect_locked(&sb, rec, endpoint, &[])?;
        sb.networks.retain(|n| n != "none");
        sb.networks.push(name.clone());
        self.save_sandbox(&sb)?;
        self.refresh_hosts(&[name], container_id);
        Ok(info)
    }

    /// Disconnects a running container from a network (`docker network disconnect`): its
    /// interface there, its address and the ports published through it are released.
    ///
    /// # Errors
    /// [`Error::NotConnected`], [`Error::NetworkNotFound`], [`Error::Netlink`],
    /// [`Error::Firewall`], [`Error::Os`].
    pub(crate) fn disconnect(&self, container_id: &str, network: &str) -> Result<()> {
        check_container_id(container_id)?;
        if crate::paths::rootless() {
            let op = super::rootless::Op::Disconnect(container_id.to_owned(), network.to_owned());
            return self.in_keeper::<()>(&op, true).map(drop);
        }
        let _lock = self.lock()?;
        let rec = self.resolve(network)?;
        let sb = self.load_sandbox(container_id)?;
        let (Some(mut sb), true) = (sb, rec.endpoints.contains_key(container_id)) else {
            return Err(Error::NotConnected {
                network: rec.name.clone(),
                container: container_id.to_owned(),
            });
        };
        let name = rec.name.clone();
        self.disconnect_locked(rec, container_id, sb.netns.as_deref(), false)?;
        sb.networks.retain(|n| *n != name);
        self.save_sandbox(&sb)?;
        self.refresh_hosts(&[name], container_id);
        Ok(())
    }

    /// The content of the container's `/etc/hosts`: Docker's loopback lines, the extra
    /// hosts, its own address with its hostname, and on each user-defined network (not the
    /// default `bridge`, as in Docker) every peer by name and aliases.
    ///
    /// # Errors
    /// [`Error::Os`].
    pub(crate) fn hosts(&self, container_id: &str) -> Result<String> {
        let mut out = LOCALHOST.to_owned();
        let Some(sb) = self.sandbox(container_id)? else {
            return Ok(out);
        };
        for (name, ip) in &sb.extra_hosts {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
        let mut peers = Vec::new();
        let mut own = None;
        for net in &sb.networks {
            let Ok(rec) = self.load(net) else { continue };
            let Some(me) = rec.endpoints.get(container_id) else {
                continue;
            };
            own.get_or_insert(me.ip);
            if rec.name == DEFAULT_NETWORK {
                continue;
            }
            for (cid, e) in &rec.endpoints {
                if cid == container_id {
                    continue;
                }
                let mut names = vec![e.container.clone()];
                names.extend(e.aliases.iter().cloned());
                peers.push(format!("{}\t{}\n", e.ip, names.join(" ")));
            }
        }
        if let Some(ip) = own {
            out.push_str(&format!("{ip}\t{}\n", sb.hostname));
        }
        for p in peers {
            out.push_str(&p);
        }
        Ok(out)
    }

    /// Rewrites, in place (the file is bind-mounted), the hosts file of every container on
    /// one of `networks`, and of `also`. Best effort: a peer whose file cannot be written
    /// (its container going away) must not fail the change that is already made.
    fn refresh_hosts(&self, networks: &[String], also: &str) {
        let Ok(sandboxes) = self.sandboxes() else {
            return;
        };
        for sb in sandboxes {
            let Some(path) = &sb.hosts_file else { continue };
            if sb.container_id != also && !sb.networks.iter().any(|n| networks.contains(n)) {
                continue;
            }
            if let Ok(content) = self.hosts(&sb.container_id) {
                let _ = fs::OpenOptions::new()
                    .write(true)
                    .truncate(true)
                    .create(true)
                    .open(path)
                    .and_then(|mut f| f.write_all(content.as_bytes()));
            }
        }
    }

    /// Removes what containers that no longer run left behind (called by
    /// [`Engine::open`](crate::Engine::open) with the containers still created, running or
    /// paused): their namespaces, interfaces, addresses, published ports and rules, and the
    /// bridges left without containers.
    ///
    /// # Errors
    /// The first failure; the rest is still tried.
    pub(crate) fn repair(&self, live: &[&str]) -> Result<()> {
        if crate::paths::rootless() {
            return self.repair_rootless(live);
        }
        let _lock = self.lock()?;
        join_deletions();
        let mut acc = None;
        let mut dirty = false;
        for sb in self.sandboxes()? {
            if !live.contains(&sb.container_id.as_str()) {
                dirty = true;
                first(&mut acc, self.teardown_locked(&sb));
            }
        }
        let sandboxes: Vec<String> = self
            .sandboxes()?
            .into_iter()
            .map(|s| s.container_id)
            .collect();
        for rec in self.records()? {
            let stale: Vec<String> = rec
                .endpoints
                .keys()
                .filter(|id| !sandboxes.contains(id))
                .cloned()
                .collect();
            for id in stale {
                dirty = true;
                let ns = self.netns_path(&id);
                let rec = self.load(&rec.name)?;
                first(&mut acc, self.disconnect_locked(rec, &id, Some(&ns), false));
            }
        }
        let rd = fs::read_dir(self.netns_dir())
            .map_err(|e| Error::os("reading", self.netns_dir(), e))?;
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if !sandboxes.contains(&id) {
                first(
                    &mut acc,
                    netlink::unbind_netns(&e.path()).map_err(nl_err(
                        "removing network namespace",
                        e.path().display().to_string(),
                    )),
                );
            }
        }
        if dirty {
            // Bridges without containers and rules without owners (a crash between
            // making them and recording their removal).
            let recs = self.records()?;
            for rec in &recs {
                if rec.endpoints.is_empty() {
                    first(&mut acc, self.remove_bridge(rec).map(drop));
                }
            }
            let mut known = Vec::new();
            for rec in &recs {
                if !rec.endpoints.is_empty() {
                    known.push(firewall::network_tag(&rec.id));
                }
                for cid in rec.endpoints.keys() {
                    known.push(firewall::endpoint_tag(cid, &rec.id));
                }
            }
            // Only rules of this root's networks: another root sharing the namespace
            // has rules in the same table, and they are its own business.
            let nets: Vec<String> = recs.iter().map(|r| firewall::network_tag(&r.id)).collect();
            let ours = |t: &str| {
                let net = match t.split(':').collect::<Vec<_>>()[..] {
                    ["n", net] | ["c", _, net] => net,
                    _ => return false,
                };
                nets.iter().any(|n| n[2..] == *net)
            };
            first(
                &mut acc,
                firewall::remove("removing stale rules", |t| {
                    ours(t) && !known.iter().any(|k| k == t)
                }),
            );
        }
        acc.map_or(Ok(()), Err)
    }
}

/// The bridges lock of the calling thread's network namespace: a bound abstract unix
/// socket address, which the kernel keeps per network namespace. Engine roots sharing a
/// namespace (each with a networks lock of its own) take turns through it to check a
/// subnet against the namespace's routes and bring a bridge up on it. It is released when
/// dropped, or when its process dies, so a crash never leaves it held.
#[derive(Debug)]
pub(super) struct BridgesLock(#[allow(dead_code)] UnixListener);

impl BridgesLock {
    /// The name, in the namespace's abstract socket names.
    const NAME: &'static [u8] = b"cargohold/bridges";

    /// Waits (polling; a bridge comes up in milliseconds) for the lock, up to a minute.
    pub(super) fn take() -> Result<BridgesLock> {
        let addr = UnixSocketAddr::from_abstract_name(Self::NAME)
            .map_err(nl_err("naming", "the bridges lock"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match UnixListener::bind_addr(&addr) {
                Ok(l) => return Ok(BridgesLock(l)),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => {
                    return Err(nl_err(
                        "taking the bridges lock (abstract socket @cargohold/bridges) of",
                        "the network namespace",
                    )(e))
                }
            }
        }
    }
}

/// Veth deletions in flight (see `unplumb`'s `lazy`).
static DELETIONS: std::sync::Mutex<Vec<std::thread::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Deletes link `index` on a thread of its own, through `nl` (a socket of the namespace
/// the link is in, so the thread's own namespace does not matter).
fn defer_deletion(mut nl: Netlink, index: u32) {
    let t = std::thread::Builder::new()
        .name("cargohold-veth".to_owned())
        .spawn(move || {
            let _ = nl.del_link(index);
        });
    // Without a thread, the veth goes with the container's namespace (or repair).
    if let Ok(t) = t {
        let mut all = DELETIONS.lock().unwrap_or_else(|p| p.into_inner());
        all.retain(|t| !t.is_finished());
        all.push(t);
    }
}

/// Waits for the veth deletions in flight.
pub(crate) fn join_deletions() {
    let pending = std::mem::take(&mut *DELETIONS.lock().unwrap_or_else(|p| p.into_inner()));
    for t in pending {
        let _ = t.join();
    }
}
