//! Networks: `none`, `host`, `bridge` (a Linux bridge per network, a veth pair per attached
//! container, IPAM, NAT, isolation from the other bridge networks, published ports) and
//! `macvlan`, kept under the engine root.
//!
//! ```text
//! <root>/networks/<name>.json            config and endpoints (IP allocations, ports)
//! <root>/networks/.sandboxes/<id>.json   a container's network state (netns, hosts file)
//! <root>/networks/.lock                  flock held by every change
//! <root>/netns/<container id>            the container's network namespace (bind mount)
//! <root>/networks/.usermode/<id>.json    rootless, default network: its pasta or slirp4netns
//! <root>/networks/.keeper.json           rootless: the network keeper's pid
//! <root>/networks/.sidecars/<id>.json    rootless: a container's sidecar's pid
//! ```
//!
//! Rootless, the default network is user-mode networking (`usermode`: pasta or
//! slirp4netns per container), and user-defined networks are made by the same code as for
//! root in namespaces that a network keeper holds for the engine ([`rootless`]).
//!
//! Containers on user-defined networks find each other through `/etc/hosts` (kept current
//! on connect and disconnect) and through the embedded DNS server at `127.0.0.11`
//! ([`dns`]), served by the process that owns the container.
//!
//! Everything happens in the network namespace of the calling thread (the "host" of the
//! containers): links, routes, sysctls (`ip_forward`, `route_localnet`) and nftables rules.
//! A program normally runs in one; tests give each engine a namespace of their own.
//!
//! Every change holds the networks lock and writes records atomically, so two containers
//! starting at once (threads or processes) never get the same address or host port. What
//! an attach sets up is recorded *before* it is made, so [`NetworkStore::repair`] finds and
//! removes what a crash left: veths, bridges without endpoints, firewall rules, namespace
//! mounts, allocations.

pub(crate) mod dns;
mod firewall;
mod ipam;
mod ports;
pub(crate) mod rootless;
pub(crate) mod sandbox;
mod usermode;
pub(crate) use sandbox::join_deletions;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::store::{fsync_dir, is_plain_name, read_json, write_atomic, Lock};
use crate::sys::netlink::Netlink;
use crate::{Error, Result};

pub use ipam::Subnet;
pub(crate) use ports::exposed_port_key;
pub use ports::{PortBinding, Protocol};
#[cfg(test)]
pub(crate) use sandbox::Sandbox;
pub(crate) use sandbox::{EndpointConfig, NetworkMode, SandboxConfig};

/// The name of the default network (Docker's `bridge`, on a Linux bridge of ours).
pub const DEFAULT_NETWORK: &str = "bridge";

const PREDEFINED: [&str; 3] = [DEFAULT_NETWORK, "host", "none"];
const DEFAULT_MTU: u32 = 1500;

/// A network driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// A Linux bridge on the host, a veth pair per container, NAT to the outside. As in
    /// Docker, the host forwards nothing between two bridge networks: a container reaches
    /// another network's containers only through their published ports, or by connecting
    /// to that network.
    Bridge,
    /// A macvlan link (bridge mode) per container on a parent interface of the host: the
    /// container appears on the parent's link as a host of its own.
    Macvlan,
    /// The host's own network namespace (the predefined `host` network).
    Host,
    /// A namespace with only loopback (the predefined `none` network).
    Null,
}

impl Driver {
    const ALL: [Driver; 4] = [Driver::Bridge, Driver::Macvlan, Driver::Host, Driver::Null];

    fn as_str(self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
            Driver::Macvlan => "macvlan",
            Driver::Host => "host",
            Driver::Null => "null",
        }
    }
}

impl std::fmt::Display for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Driver {
    type Err = Error;

    /// `bridge` or `macvlan` (the drivers a network can be created with), `host`, `null`.
    fn from_str(s: &str) -> Result<Driver> {
        let known = Driver::ALL.into_iter().find(|d| d.as_str() == s);
        known.ok_or_else(|| Error::InvalidNetworkConfig {
            network: String::new(),
            field: "driver",
            reason: format!("unknown driver {s:?} (bridge or macvlan)"),
        })
    }
}

/// What `<root>/networks/<name>.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Record {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) driver: Driver,
    /// RFC 3339.
    pub(crate) created: String,
    #[serde(default)]
    pub(crate) subnet: Option<Subnet>,
    /// Whether the subnet was picked from Docker's default pools rather than asked for:
    /// such a network (and the default `bridge`, whatever its record says) takes another
    /// free subnet when its own is held by a route of the namespace — another engine
    /// root's bridge — as its bridge comes up without containers (see
    /// [`NetworkStore::settle_subnet`]). An explicit `--subnet` is kept (and an overlap is
    /// an error).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) auto_subnet: bool,
    #[serde(default)]
    pub(crate) gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub(crate) ip_range: Option<Subnet>,
    pub(crate) mtu: u32,
    /// The bridge interface (bridge driver).
    #[serde(default)]
    pub(crate) bridge: Option<String>,
    /// The parent interface (macvlan driver).
    #[serde(default)]
    pub(crate) parent: Option<String>,
    #[serde(default)]
    pub(crate) labels: BTreeMap<String, String>,
    #[serde(default)]
    pub(crate) options: BTreeMap<String, String>,
    /// Attached containers by id.
    #[serde(default)]
    pub(crate) endpoints: BTreeMap<String, Endpoint>,
}

/// A container's attachment to a network, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Endpoint {
    /// A random id (Docker's EndpointID).
    pub(crate) id: String,
    /// The container's name.
    pub(crate) container: String,
    #[serde(default)]
    pub(crate) aliases: Vec<String>,
    pub(crate) ip: Ipv4Addr,
    /// The interface inside the container (`eth0`).
    pub(crate) ifname: String,
    /// The host end of the veth pair (bridge driver).
    #[serde(default)]
    pub(crate) host_ifname: Option<String>,
    #[serde(default)]
    pub(crate) mac: String,
    /// Ports published through this endpoint, host ports resolved.
    #[serde(default)]
    pub(crate) ports: Vec<PortBinding>,
}

/// A network: its name, id, driver and addressing.
///
/// ```no_run
/// use cargohold::Driver;
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let net = engine
///     .network("backend")
///     .driver(Driver::Bridge)
///     .subnet("10.42.0.0/24")
///     .create()?; // `docker network create --subnet 10.42.0.0/24 backend`
/// assert_eq!(net.gateway(), Some("10.42.0.1".parse().unwrap()));
/// let image = engine.image("busybox")?;
/// let mut db = engine.container(&image).name("db").args(["sleep", "60"]).network("backend").spawn()?;
/// // containers on a user-defined network reach each other by name
/// let ping = engine.container(&image).args(["ping", "-c1", "db"]).network("backend").status()?;
/// assert!(ping.success());
/// db.kill()?;
/// db.wait()?;
/// engine.containers().get("db")?.remove(false)?;
/// engine.networks().remove("backend")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    rec: Record,
}

impl Network {
    /// The network's name.
    pub fn name(&self) -> &str {
        &self.rec.name
    }

    /// Its id (64 hex digits).
    pub fn id(&self) -> &str {
        &self.rec.id
    }

    /// Its driver.
    pub fn driver(&self) -> Driver {
        self.rec.driver
    }

    /// Its IPv4 subnet (`None` for `host` and `none`).
    pub fn subnet(&self) -> Option<Subnet> {
        self.rec.subnet
    }

    /// Its gateway: the bridge's address, or the router of a macvlan network.
    pub fn gateway(&self) -> Option<Ipv4Addr> {
        self.rec.gateway
    }

    /// The host bridge interface of a bridge network.
    pub fn bridge(&self) -> Option<&str> {
        self.rec.bridge.as_deref()
    }

    /// Its MTU.
    pub fn mtu(&self) -> u32 {
        self.rec.mtu
    }

    /// Its labels.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.rec.labels
    }

    /// When it was created, RFC 3339.
    pub fn created(&self) -> &str {
        &self.rec.created
    }

    /// Whether it is one of `bridge`, `host` and `none`, which always exist.
    pub fn is_predefined(&self) -> bool {
        PREDEFINED.contains(&self.rec.name.as_str())
    }

    /// The ids of the containers attached to it.
    pub fn containers(&self) -> Vec<String> {
        self.rec.endpoints.keys().cloned().collect()
    }

    /// The network as `docker network inspect` prints it.
    pub fn inspect(&self) -> NetworkInspect {
        let r = &self.rec;
        let config = match r.subnet {
            Some(s) => vec![IpamConfig {
                subnet: s.to_string(),
                gateway: r.gateway.map(|g| g.to_string()).unwrap_or_default(),
                ip_range: r.ip_range.map(|s| s.to_string()).unwrap_or_default(),
            }],
            None => Vec::new(),
        };
        let prefix = r.subnet.map_or(32, |s| s.prefix_len());
        let mut options = r.options.clone();
        if let Some(b) = &r.bridge {
            options.insert("com.docker.network.bridge.name".into(), b.clone());
        }
        if let Some(p) = &r.parent {
            options.insert("parent".into(), p.clone());
        }
        if r.driver == Driver::Bridge || r.driver == Driver::Macvlan {
            options.insert("com.docker.network.driver.mtu".into(), r.mtu.to_string());
        }
        NetworkInspect {
            name: r.name.clone(),
            id: r.id.clone(),
            created: r.created.clone(),
            scope: "local".into(),
            driver: r.driver.to_string(),
            enable_ipv6: false,
            ipam: Ipam {
                driver: "default".into(),
                options: BTreeMap::new(),
                config,
            },
            internal: false,
            attachable: false,
            ingress: false,
            containers: r
                .endpoints
                .iter()
                .map(|(id, e)| {
                    (
                        id.clone(),
                        InspectEndpoint {
                            name: e.container.clone(),
                            endpoint_id: e.id.clone(),
                            mac_address: e.mac.clone(),
                            ipv4_address: format!("{}/{prefix}", e.ip),
                            ipv6_address: String::new(),
                        },
                    )
                })
                .collect(),
            options,
            labels: r.labels.clone(),
        }
    }
}

/// Its name, so that a `&Network` goes wherever a network name does.
impl AsRef<str> for Network {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

/// A network as `docker network inspect` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInspect {
    /// The name.
    pub name: String,
    /// The id.
    pub id: String,
    /// When it was created, RFC 3339.
    pub created: String,
    /// Always `local`.
    pub scope: String,
    /// `bridge`, `macvlan`, `host` or `null`.
    pub driver: String,
    /// Always false (IPv6 is not supported yet).
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Its addressing.
    #[serde(rename = "IPAM")]
    pub ipam: Ipam,
    /// Always false.
    pub internal: bool,
    /// Always false.
    pub attachable: bool,
    /// Always false.
    pub ingress: bool,
    /// The attached containers by id.
    pub containers: BTreeMap<String, InspectEndpoint>,
    /// Driver options (bridge name, MTU, macvlan parent).
    pub options: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

/// The `IPAM` section of [`NetworkInspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipam {
    /// Always `default`.
    pub driver: String,
    /// IPAM options (none).
    pub options: BTreeMap<String, String>,
    /// The subnet, gateway and IP range.
    pub config: Vec<IpamConfig>,
}

/// One subnet of a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    /// CIDR.
    pub subnet: String,
    /// The gateway's address.
    pub gateway: String,
    /// The range containers get addresses from, if narrower than the subnet.
    #[serde(rename = "IPRange", default, skip_serializing_if = "String::is_empty")]
    pub ip_range: String,
}

/// A container in [`NetworkInspect::containers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectEndpoint {
    /// The container's name.
    pub name: String,
    /// The endpoint's id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The MAC address of its interface.
    pub mac_address: String,
    /// `172.18.0.2/16`.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    /// Empty.
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

/// A builder for a network (`docker network create`), from
/// [`Engine::network`](crate::Engine::network) or [`NetworkStore::builder`]. Setters never
/// fail; [`create`](Self::create) checks everything.
#[derive(Debug, Clone)]
#[must_use = "a network builder does nothing until .create() is called"]
pub struct NetworkBuilder<'s> {
    store: &'s NetworkStore,
    name: String,
    driver: Driver,
    subnet: Option<String>,
    gateway: Option<String>,
    ip_range: Option<String>,
    mtu: Option<u32>,
    parent: Option<String>,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
}

impl NetworkBuilder<'_> {
    setters! {
        /// The driver: [`Driver::Bridge`] (default) or [`Driver::Macvlan`].
        fn driver(&mut self, driver: Driver) { self.driver = driver }

        /// The subnet in CIDR notation (default: a free /16 of 172.17–31.0.0, then a /20 of
        /// 192.168.0.0/16, as Docker picks; required for macvlan).
        fn subnet(&mut self, cidr: impl Into<String>) { self.subnet = Some(cidr.into()) }

        /// The gateway (default: the subnet's first address).
        fn gateway(&mut self, ip: impl Into<String>) { self.gateway = Some(ip.into()) }

        /// The range containers get addresses from, inside the subnet (CIDR).
        fn ip_range(&mut self, cidr: impl Into<String>) { self.ip_range = Some(cidr.into()) }

        /// The MTU of its interfaces (default 1500; a macvlan network: its parent's).
        fn mtu(&mut self, mtu: u32) { self.mtu = Some(mtu) }

        /// The parent interface of a macvlan network (`-o parent=eth0`).
        fn parent(&mut self, ifname: impl Into<String>) { self.parent = Some(ifname.into()) }

        /// Adds a label.
        fn label(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.labels.insert(key.into(), value.into())
        }

        /// Adds a driver option (`-o key=value`): `parent` (macvlan),
        /// `com.docker.network.bridge.name`, `com.docker.network.driver.mtu`.
        fn option(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.options.insert(key.into(), value.into())
        }
    }

    /// Creates the network. Nothing is set up on the host until a container attaches (the
    /// bridge is created then, and kept while the network exists, as Docker keeps
    /// `docker0`, until [`NetworkStore::release_idle`] or the network's removal).
    ///
    /// # Errors
    /// [`Error::NetworkExists`], [`Error::PredefinedNetwork`],
    /// [`Error::InvalidNetworkConfig`] (a bad name, CIDR, gateway outside the subnet, MTU,
    /// a macvlan without parent or subnet), [`Error::SubnetOverlap`] (with another network
    /// or a route of the host), [`Error::SubnetExhausted`] (no free default subnet),
    /// [`Error::Os`], [`Error::Netlink`].
    pub fn create(&self) -> Result<Network> {
        self.store.create(self)
    }
}

/// The networks under one engine root, and the containers' side of them.
///
/// ```text
/// <root>/networks/<name>.json            config and endpoints (IP allocations, ports)
/// <root>/networks/.sandboxes/<id>.json   a container's network state (netns, hosts file)
/// <root>/networks/.lock                  flock held by every change
/// <root>/netns/<container id>            the container's network namespace (bind mount)
/// ```
///
/// Everything happens in the network namespace of the **calling thread** (the "host" of
/// the containers): links, routes, sysctls (`ip_forward`, `route_localnet`) and the
/// nftables rules (table `ip cargohold`). Every change holds the networks lock and writes
/// records atomically, so containers starting at once (threads or processes) never get
/// the same address or host port. What an attach sets up is recorded before it is made,
/// so [`Engine::open`](crate::Engine::open) finds and removes what a crash left.
///
/// A bridge network's bridge is created when its first container attaches and kept, as
/// Docker keeps `docker0`, while the network exists; [`release_idle`](Self::release_idle)
/// takes the bridges without containers down with their rules, leaving the host's
/// interfaces and ruleset as they were.
///
/// Several engine roots may share one network namespace (a root per test, or per user of
/// a program): each bridge link has a name of its own (`ch-` and its network's random
/// id), a bridge is only brought up on a subnet no route of the namespace holds (another
/// root's live bridge included), and a network whose subnet was picked from Docker's pools
/// — the default `bridge` always — moves to a free one if another root's bridge took its
/// subnet while it had no container. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetworkStore {
    dir: PathBuf,
    netns: PathBuf,
}

fn check_name(name: &str) -> Result<()> {
    if is_plain_name(name, 128) && name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Ok(());
    }
    Err(Error::InvalidNetworkConfig {
        network: name.to_owned(),
        field: "name",
        reason: "a network name is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 bytes".into(),
    })
}

fn random_hex(bytes: usize) -> Result<String> {
    crate::store::random_bytes(bytes).map(hex::encode)
}

pub(crate) fn nl_err(
    op: impl Into<String>,
    subject: impl Into<String>,
) -> impl FnOnce(io::Error) -> Error {
    let (op, subject) = (op.into(), subject.into());
    move |source| Error::Netlink {
        op,
        subject,
        source,
    }
}

/// A [`NetworkBuilder`]'s settings, parsed and checked on their own (nothing on disk yet).
struct Settings {
    name: String,
    driver: Driver,
    subnet: Option<Subnet>,
    ip_range: Option<Subnet>,
    gateway: Option<Ipv4Addr>,
    mtu: Option<u32>,
    parent: Option<String>,
    bridge: Option<String>,
    /// The driver options left once the ones read here are taken out.
    options: BTreeMap<String, String>,
}

impl Settings {
    fn check(b: &NetworkBuilder<'_>) -> Result<Settings> {
        let name = b.name.as_str();
        check_name(name)?;
        if PREDEFINED.contains(&name) {
            return Err(Error::PredefinedNetwork {
                name: name.to_owned(),
                op: "created",
            });
        }
        let mut v = Settings {
            name: name.to_owned(),
            driver: b.driver,
            subnet: None,
            ip_range: None,
            gateway: None,
            mtu: None,
            parent: None,
            bridge: None,
            options: b.options.clone(),
        };
        if !matches!(v.driver, Driver::Bridge | Driver::Macvlan) {
            return Err(v.bad(
                "driver",
                format!(
                    "only bridge and macvlan networks can be created, not {}",
                    v.driver
                ),
            ));
        }
        v.subnet = b
            .subnet
            .as_deref()
            .map(|s| v.cidr("subnet", s))
            .transpose()?;
        v.ip_range = b
            .ip_range
            .as_deref()
            .map(|s| v.cidr("IP range", s))
            .transpose()?;
        v.gateway = b
            .gateway
            .as_deref()
            .map(|g| {
                g.parse::<Ipv4Addr>()
                    .map_err(|_| v.bad("gateway", format!("{g:?} is not an IPv4 address")))
            })
            .transpose()?;
        v.mtu = match (b.mtu, v.options.remove("com.docker.network.driver.mtu")) {
            (Some(m), _) => Some(m),
            (None, Some(s)) => Some(
                s.parse::<u32>()
                    .map_err(|_| v.bad("MTU", format!("{s:?} is not a number")))?,
            ),
            (None, None) => None,
        };
        if let Some(m) = v.mtu {
            if !(68..=65535).contains(&m) {
                return Err(v.bad("MTU", format!("{m} is outside 68-65535")));
            }
        }
        v.parent = b.parent.clone().or_else(|| v.options.remove("parent"));
        v.bridge = v.options.remove("com.docker.network.bridge.name");
        v.check_addresses()?;
        Ok(v)
    }

    /// The subnet, gateway and IP range agree with each other.
    fn check_addresses(&self) -> Result<()> {
        if self.subnet.is_none() && (self.gateway.is_some() || self.ip_range.is_some()) {
            return Err(self.bad("subnet", "a gateway or IP range needs a subnet".into()));
        }
        let Some(s) = self.subnet else {
            return Ok(());
        };
        if s.prefix_len() > 30 {
            return Err(self.bad(
                "subnet",
                format!("{s} has no room for a gateway and a container"),
            ));
        }
        if let Some(g) = self.gateway {
            if !s.contains(g) || g == s.addr() || g == s.broadcast() {
                return Err(self.bad("gateway", format!("{g} is not a host address of {s}")));
            }
        }
        if let Some(r) = self.ip_range {
            if !s.contains(r.addr()) || !s.contains(r.broadcast()) {
                return Err(self.bad("IP range", format!("{r} is not inside {s}")));
            }
        }
        Ok(())
    }

    fn cidr(&self, field: &'static str, s: &str) -> Result<Subnet> {
        s.parse::<Subnet>()
            .map_err(|r| self.bad(field, format!("{s:?}: {r}")))
    }

    fn bad(&self, field: &'static str, reason: String) -> Error {
        Error::InvalidNetworkConfig {
            network: self.name.clone(),
            field,
            reason,
        }
    }
}

impl NetworkStore {
    /// Opens (creating if needed) the networks of the engine root `root`, with the
    /// predefined `bridge`, `host` and `none` networks. The `bridge` network gets
    /// 172.17.0.0/16, or the first of Docker's pools that overlaps no route of the calling
    /// thread's network namespace and no other network.
    ///
    /// # Errors
    /// [`Error::Os`] if the directories cannot be made or read, [`Error::Netlink`] if the
    /// host's routes cannot be read.
    pub fn open(root: impl AsRef<Path>) -> Result<NetworkStore> {
        let root = root.as_ref();
        let dir = root.join("networks");
        let netns = root.join("netns");
        for d in [dir.join(".sandboxes"), netns.clone()] {
            fs::create_dir_all(&d).map_err(|e| Error::os("creating networks directory", &d, e))?;
        }
        let store = NetworkStore { dir, netns };
        if PREDEFINED.iter().all(|n| store.path(n).is_file()) {
            return Ok(store);
        }
        let _lock = store.lock()?;
        for name in PREDEFINED {
            if store.path(name).is_file() {
                continue;
            }
            let mut rec = Record {
                id: random_hex(32)?,
                name: name.to_owned(),
                driver: match name {
                    "host" => Driver::Host,
                    "none" => Driver::Null,
                    _ => Driver::Bridge,
                },
                created: crate::store::now_rfc3339(),
                subnet: None,
                auto_subnet: false,
                gateway: None,
                ip_range: None,
                mtu: DEFAULT_MTU,
                bridge: None,
                parent: None,
                labels: BTreeMap::new(),
                options: BTreeMap::new(),
                endpoints: BTreeMap::new(),
            };
            if rec.driver == Driver::Bridge {
                let subnet = store.free_subnet(name)?;
                rec.subnet = Some(subnet);
                rec.auto_subnet = true;
                rec.gateway = subnet.first_host();
                rec.bridge = Some(bridge_name(&rec.id));
                rec.options.insert(
                    "com.docker.network.bridge.default_bridge".into(),
                    "true".into(),
                );
            }
            store.save(&rec)?;
        }
        Ok(store)
    }

    /// The directory holding the network records (`<root>/networks`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A builder for the network `name` (see [`NetworkBuilder`]).
    pub fn builder(&self, name: &str) -> NetworkBuilder<'_> {
        NetworkBuilder {
            store: self,
            name: name.to_owned(),
            driver: Driver::Bridge,
            subnet: None,
            gateway: None,
            ip_range: None,
            mtu: None,
            parent: None,
            labels: BTreeMap::new(),
            options: BTreeMap::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    pub(crate) fn lock(&self) -> Result<Lock> {
        crate::store::lock_file(
            &self.dir.join(".lock"),
            rustix::fs::FlockOperation::LockExclusive,
        )
    }

    pub(crate) fn load(&self, name: &str) -> Result<Record> {
        read_json(&self.path(name), "network")?.ok_or_else(|| Error::NetworkNotFound {
            name: name.to_owned(),
        })
    }

    pub(crate) fn save(&self, rec: &Record) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(rec).expect("a network record serialises");
        write_atomic(&self.path(&rec.name), &bytes)
    }

    /// Saves a record whose endpoints changed: atomically but not fsynced — endpoints live
    /// no longer than the machine's uptime (namespaces and veths go with a reboot), and
    /// [`repair`](Self::repair) drops those of containers that are gone.
    pub(crate) fn save_endpoints(&self, rec: &Record) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(rec).expect("a network record serialises");
        crate::store::write_replace(&self.path(&rec.name), &bytes, false)
    }

    /// Every record, sorted by name.
    pub(crate) fn records(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(|e| Error::os("reading", &self.dir, e))?;
        for e in rd.flatten() {
            let n = e.file_name();
            let Some(name) = n.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            match self.load(name) {
                Ok(r) => out.push(r),
                Err(Error::NetworkNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Resolves a name, full id or unique id prefix to a record's name.
    pub(crate) fn resolve(&self, name_or_id: &str) -> Result<Record> {
        if check_name(name_or_id).is_ok() {
            match self.load(name_or_id) {
                Err(Error::NetworkNotFound { .. }) => {}
                r => return r,
            }
        }
        let all = self.records()?;
        let mut hits = all.into_iter().filter(|r| {
            !name_or_id.is_empty()
                && r.id.starts_with(name_or_id)
                && name_or_id.bytes().all(|b| b.is_ascii_hexdigit())
        });
        match (hits.next(), hits.next()) {
            (Some(r), None) => Ok(r),
            _ => Err(Error::NetworkNotFound {
                name: name_or_id.to_owned(),
            }),
        }
    }

    /// The network with this name, id or unique id prefix.
    ///
    /// # Errors
    /// [`Error::NetworkNotFound`], [`Error::Os`].
    pub fn get(&self, name_or_id: &str) -> Result<Network> {
        Ok(Network {
            rec: self.resolve(name_or_id)?,
        })
    }

    /// The network as `docker network inspect` shows it.
    ///
    /// # Errors
    /// As [`get`](Self::get).
    pub fn inspect(&self, name_or_id: &str) -> Result<NetworkInspect> {
        Ok(self.get(name_or_id)?.inspect())
    }

    /// Every network, sorted by name (`docker network ls`).
    ///
    /// # Errors
    /// [`Error::Os`] if a record cannot be read.
    pub fn list(&self) -> Result<Vec<Network>> {
        Ok(self
            .records()?
            .into_iter()
            .map(|rec| Network { rec })
            .collect())
    }

    /// The subnets in use by networks (but `except`) and by routes of the host, with what
    /// holds them.
    fn taken_subnets(&self, except: &str) -> Result<Vec<(Subnet, String)>> {
        let mut taken: Vec<(Subnet, String)> = Vec::new();
        for r in self.records()? {
            if r.name != except {
                if let Some(s) = r.subnet {
                    taken.push((s, format!("network {:?} ({s})", r.name)));
                }
            }
        }
        let mut nl = Netlink::open().map_err(nl_err("opening netlink socket", "route"))?;
        let own: Vec<String> = self
            .records()?
            .into_iter()
            .filter_map(|r| r.bridge)
            .collect();
        let links = nl.links().map_err(nl_err("listing", "links"))?;
        for route in nl.routes4().map_err(nl_err("listing", "routes"))? {
            if route.prefix_len == 0 {
                continue;
            }
            let dev = route
                .oif
                .and_then(|i| links.iter().find(|l| l.index == i))
                .map(|l| l.name.clone())
                .unwrap_or_default();
            if own.contains(&dev) {
                continue;
            }
            if let Ok(s) = Subnet::new(route.destination, route.prefix_len) {
                taken.push((s, format!("the host route {s} (dev {dev})")));
            }
        }
        Ok(taken)
    }

    fn free_subnet(&self, name: &str) -> Result<Subnet> {
        free_in_pools(name, &self.taken_subnets(name)?)
    }

    fn create(&self, b: &NetworkBuilder<'_>) -> Result<Network> {
        let v = Settings::check(b)?;
        let name = b.name.as_str();
        let _lock = self.lock()?;
        if self.path(name).exists() {
            return Err(Error::NetworkExists {
                name: name.to_owned(),
            });
        }
        let id = random_hex(32)?;
        let mut rec = Record {
            id: id.clone(),
            name: name.to_owned(),
            driver: v.driver,
            created: crate::store::now_rfc3339(),
            subnet: v.subnet,
            auto_subnet: false,
            gateway: v.gateway,
            ip_range: v.ip_range,
            mtu: v.mtu.unwrap_or(DEFAULT_MTU),
            bridge: None,
            parent: None,
            labels: b.labels.clone(),
            options: v.options.clone(),
            endpoints: BTreeMap::new(),
        };
        match v.driver {
            Driver::Bridge => self.place_bridge(&mut rec, &v)?,
            Driver::Macvlan => self.place_macvlan(&mut rec, &v)?,
            Driver::Host | Driver::Null => unreachable!("refused by Settings::check"),
        }
        self.save(&rec)?;
        self.event("create", &rec, None);
        Ok(Network { rec })
    }

    /// A new bridge network's bridge name (unique among networks) and subnet (the one
    /// asked for unless it overlaps another network or a route of the host, else a free
    /// one of Docker's pools) and gateway.
    fn place_bridge(&self, rec: &mut Record, v: &Settings) -> Result<()> {
        let name = rec.name.as_str();
        if v.parent.is_some() {
            return Err(v.bad("parent", "only macvlan networks have a parent".into()));
        }
        let br = v.bridge.clone().unwrap_or_else(|| bridge_name(&rec.id));
        if br.is_empty() || br.len() > 15 || br.contains(['/', ' ', ':']) {
            return Err(v.bad(
                "bridge name",
                format!("{br:?} is not an interface name (1-15 bytes, no '/', ':' or space)"),
            ));
        }
        if let Some(other) = self
            .records()?
            .into_iter()
            .find(|r| r.bridge.as_deref() == Some(&br))
        {
            return Err(v.bad(
                "bridge name",
                format!("{br} is the bridge of network {:?}", other.name),
            ));
        }
        rec.bridge = Some(br);
        let s = match v.subnet {
            Some(s) => {
                if let Some((_, what)) = self
                    .taken_subnets(name)?
                    .into_iter()
                    .find(|(t, _)| t.overlaps(&s))
                {
                    return Err(Error::SubnetOverlap {
                        network: name.to_owned(),
                        subnet: s.to_string(),
                        other: what,
                    });
                }
                s
            }
            None => {
                rec.auto_subnet = true;
                self.free_subnet(name)?
            }
        };
        rec.subnet = Some(s);
        rec.gateway = Some(
            v.gateway
                .unwrap_or_else(|| s.first_host().expect("a /30 or wider")),
        );
        Ok(())
    }

    /// A new macvlan network's parent and subnet (which must overlap no other network).
    fn place_macvlan(&self, rec: &mut Record, v: &Settings) -> Result<()> {
        let Some(parent) = v.parent.clone() else {
            return Err(v.bad(
                "parent",
                "a macvlan network needs a parent interface (-o parent=…)".into(),
            ));
        };
        let Some(s) = v.subnet else {
            return Err(v.bad("subnet", "a macvlan network needs a subnet".into()));
        };
        // The parent's own routes are the point of a macvlan network (its containers live
        // on the parent's link), so only networks are in the way.
        for r in self.records()? {
            if let Some(o) = r.subnet.filter(|o| o.overlaps(&s)) {
                return Err(Error::SubnetOverlap {
                    network: rec.name.clone(),
                    subnet: s.to_string(),
                    other: format!("network {:?} ({o})", r.name),
                });
            }
        }
        rec.subnet = Some(s);
        rec.gateway = Some(
            v.gateway
                .unwrap_or_else(|| s.first_host().expect("a /30 or wider")),
        );
        rec.parent = Some(parent);
        Ok(())
    }

    /// Removes the network (`docker network rm`).
    ///
    /// # Errors
    /// [`Error::NetworkNotFound`], [`Error::PredefinedNetwork`], [`Error::NetworkInUse`]
    /// while containers are attached, [`Error::Os`].
    pub fn remove(&self, name_or_id: &str) -> Result<()> {
        if crate::paths::rootless() {
            let op = rootless::Op::Remove(name_or_id.to_owned());
            if let Some(()) = self.in_keeper(&op, false)? {
                return Ok(());
            }
        }
        let _lock = self.lock()?;
        let rec = self.resolve(name_or_id)?;
        self.remove_locked(&rec)
    }

    fn remove_locked(&self, rec: &Record) -> Result<()> {
        if PREDEFINED.contains(&rec.name.as_str()) {
            return Err(Error::PredefinedNetwork {
                name: rec.name.clone(),
                op: "removed",
            });
        }
        if !rec.endpoints.is_empty() {
            let mut containers: Vec<String> = rec
                .endpoints
                .values()
                .map(|e| e.container.clone())
                .collect();
            containers.sort();
            return Err(Error::NetworkInUse {
                name: rec.name.clone(),
                containers,
            });
        }
        // Its bridge (kept while the network exists, as Docker keeps docker0) goes with it.
        self.remove_bridge(rec)?;
        let path = self.path(&rec.name);
        fs::remove_file(&path).map_err(|e| Error::os("removing network", &path, e))?;
        self.event("destroy", rec, None);
        fsync_dir(&self.dir)
    }

    /// Records Docker's network event `action` about `rec` (and `container`) in the
    /// engine root's events.
    pub(crate) fn event(&self, action: &str, rec: &Record, container: Option<&str>) {
        if let Some(root) = self.dir.parent() {
            let driver = rec.driver.as_str();
            crate::container::events::network(
                root,
                action,
                (&rec.id, &rec.name, driver),
                container,
            );
        }
    }

    /// Takes down the bridges (and their rules) of networks without containers, the
    /// predefined `bridge` included; returns the names of those networks. A bridge is made
    /// when a network's first container starts and otherwise kept while the network exists
    /// (as Docker keeps `docker0`): making and removing one costs some 60 ms (the kernel
    /// waits for in-flight packets, and the rules take `nft` runs). Call this when a
    /// program is done with its containers and wants the host's links and rules as they
    /// were; the next container on such a network makes its bridge again.
    ///
    /// # Errors
    /// [`Error::Netlink`], [`Error::Firewall`] (every network is still tried).
    pub fn release_idle(&self) -> Result<Vec<String>> {
        if crate::paths::rootless() {
            if let Some(names) = self.in_keeper(&rootless::Op::ReleaseIdle, false)? {
                return Ok(names);
            }
        }
        let _lock = self.lock()?;
        sandbox::join_deletions();
        let mut out = Vec::new();
        let mut first_err = None;
        for r in self.records()? {
            if !r.endpoints.is_empty() || r.bridge.is_none() {
                continue;
            }
            match self.remove_bridge(&r) {
                Ok(true) => out.push(r.name),
                Ok(false) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(out), Err)
    }

    /// Removes every user-defined network without containers (`docker network prune`);
    /// returns their names.
    ///
    /// # Errors
    /// [`Error::Os`].
    pub fn prune(&self) -> Result<Vec<String>> {
        if crate::paths::rootless() {
            if let Some(names) = self.in_keeper(&rootless::Op::Prune, false)? {
                return Ok(names);
            }
        }
        let _lock = self.lock()?;
        let mut out = Vec::new();
        for r in self.records()? {
            if PREDEFINED.contains(&r.name.as_str()) || !r.endpoints.is_empty() {
                continue;
            }
            self.remove_locked(&r)?;
            out.push(r.name);
        }
        Ok(out)
    }

    pub(crate) fn netns_path(&self, container_id: &str) -> PathBuf {
        self.netns.join(container_id)
    }

    pub(crate) fn netns_dir(&self) -> &Path {
        &self.netns
    }
}

/// The first of Docker's default pools that overlaps nothing `taken`, for network `name`.
fn free_in_pools(name: &str, taken: &[(Subnet, String)]) -> Result<Subnet> {
    ipam::default_pools()
        .find(|s| !taken.iter().any(|(t, _)| t.overlaps(s)))
        .ok_or_else(|| Error::SubnetExhausted {
            network: name.to_owned(),
            subnet: "the default pools (172.17.0.0/16-172.31.0.0/16, 192.168.0.0/16)".into(),
        })
}

/// How the names of our bridges start (the isolation rules match it).
const BRIDGE_PREFIX: &str = "ch-";

/// The bridge interface of a network: [`BRIDGE_PREFIX`] and 12 hex digits of its id (15
/// bytes, the kernel's limit), unique per engine root as the id is.
fn bridge_name(id: &str) -> String {
    format!("{BRIDGE_PREFIX}{}", &id[..12])
}

#[cfg(test)]
mod sandbox_tests;
#[cfg(test)]
mod tests;
