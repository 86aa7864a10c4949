//! User-defined networks without root: the bridges, veth pairs and rules a user may not
//! make in the host's namespaces, made in namespaces of the engine's own.
//!
//! Moving a veth end into a container's network namespace, or entering that namespace,
//! needs `CAP_NET_ADMIN`/`CAP_SYS_ADMIN` over the user namespace that owns it, which a user
//! never has in the host's. So, as rootless podman does with its pause process:
//!
//! - **The keeper**: one process per engine root (`.keeper.json` in the networks
//!   directory), the program re-executed as the store helper is ([`crate::userns`]), in a
//!   user namespace with the engine's map and a network and a mount namespace of its own.
//!   It does nothing but hold them: its network namespace is the "host" of the engine's
//!   bridges, its mount namespace holds the bind mounts that keep containers' network
//!   namespaces alive (`<root>/netns/<id>`, an empty file in the host's view). It is
//!   started by the first attach and killed after the detach that leaves no container
//!   attached (its bridges go with it, as [`NetworkStore::release_idle`] would take them
//!   down).
//! - **The operations**: attach, detach, connect, disconnect, repair, network removal run
//!   the network store's own code unchanged in a helper that joins the keeper's three
//!   namespaces and is root there ([`Op`]); the engine gets the result back as JSON.
//! - **The containers** join the keeper's user namespace (`/proc/<keeper>/ns/user`, no
//!   maps of their own: the keeper's are the engine's) and their network namespace through
//!   the keeper's mount namespace (`/proc/<keeper>/root/<root>/netns/<id>`); the spec is
//!   rewritten at each start, as the keeper may have changed.
//! - **The sidecar**: what the network needs from outside the container once it runs —
//!   its embedded DNS server (`127.0.0.11`, bound in the container's namespace) and its
//!   published ports (listening on the host, forwarding each connection or UDP flow to the
//!   container's address from the keeper's namespace, through `splice(2)` for TCP, as
//!   rootlesskit's port driver does) — is one process per container, started by the
//!   runtime's `before_start` hook and ended when the container's init exits (a pidfd), so
//!   it outlives neither an attached container whose owner is killed nor a detached one.
//!
//! - **The way out**: a pasta (no ports) attached to the keeper's namespaces, started with
//!   it where pasta can run (`usermode`); the bridges' masquerade rules (the root code's)
//!   send what leaves a network through it. pasta does not notice its namespace's end, so
//!   it is stopped with the keeper (by the engine, or by the keeper's own exit), and a
//!   killed keeper's by the next keeper's start or `Engine::open`. Without pasta the
//!   networks work inside (peers, DNS, published ports) and nothing leaves them.
//!
//! Ports below `net.ipv4.ip_unprivileged_port_start` cannot be published, as for any
//! rootless engine.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::sandbox::{EndpointConfig, EndpointInfo, Sandbox, SandboxConfig};
use super::{dns, ports, NetworkStore, PortBinding, Protocol};
use crate::sys::{file, netlink, raw};
use crate::userns::{self, Job};
use crate::{Error, Result};

/// An operation of the network store, run in the keeper's namespaces.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Op {
    Attach(SandboxConfig),
    Detach(String),
    Connect(String, EndpointConfig),
    Disconnect(String, String),
    Repair(Vec<String>),
    Remove(String),
    ReleaseIdle,
    Prune,
}

/// A process the store started and records: its pid and start time (against reuse).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Recorded {
    pid: i32,
    start: u64,
}

impl Recorded {
    fn of(pid: i32) -> Recorded {
        Recorded {
            pid,
            start: crate::container::record::start_time(pid).unwrap_or(0),
        }
    }

    fn alive(self) -> bool {
        crate::runtime::state::proc_start_time(self.pid)
            .is_some_and(|(s, st)| s == self.start && st != 'Z')
    }
}

/// What a sidecar serves (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct Sidecar {
    root: PathBuf,
    id: String,
    keeper: i32,
    init: i32,
    /// The DNS server's upstreams, when the container has the embedded server.
    dns: Option<Vec<SocketAddr>>,
    /// Each published port and the container's address it forwards to.
    ports: Vec<(PortBinding, SocketAddrV4)>,
}

impl NetworkStore {
    fn root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    fn keeper_path(&self) -> PathBuf {
        self.dir.join(".keeper.json")
    }

    fn keeper_pasta_path(&self) -> PathBuf {
        self.dir.join(KEEPER_PASTA)
    }

    /// Stops the keeper's pasta, if one runs (its keeper stopped or gone).
    fn stop_keeper_pasta(&self) {
        let path = self.keeper_pasta_path();
        super::usermode::stop_helper(self.recorded(&path).map(|r| (r.pid, r.start)));
        let _ = fs::remove_file(path);
    }

    fn sidecar_path(&self, id: &str) -> PathBuf {
        self.dir.join(".sidecars").join(format!("{id}.json"))
    }

    fn recorded(&self, path: &Path) -> Option<Recorded> {
        crate::store::read_json::<Recorded>(path, "network helper")
            .ok()
            .flatten()
            .filter(|r| r.alive())
    }

    fn record(&self, path: &Path, r: Recorded) -> Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::os("creating", dir, e))?;
        }
        let bytes = serde_json::to_vec(&r).expect("a pid serialises");
        crate::store::write_replace(path, &bytes, false)
    }

    /// The running keeper's pid, if one runs.
    pub(crate) fn keeper(&self) -> Option<i32> {
        self.recorded(&self.keeper_path()).map(|r| r.pid)
    }

    /// Where a container joins its network namespace rootless: through the keeper's mount
    /// namespace, where it is bound.
    pub(crate) fn netns_via_keeper(&self, keeper: i32, container_id: &str) -> PathBuf {
        let ns = self.netns_path(container_id);
        let rel = ns.strip_prefix("/").unwrap_or(&ns);
        PathBuf::from(format!("/proc/{keeper}/root")).join(rel)
    }

    fn start_keeper(&self) -> Result<i32> {
        // the pasta of a keeper that was killed
        self.stop_keeper_pasta();
        let job = Job::Keep {
            networks: self.dir.clone(),
        };
        let done = userns::run(&job, None, None)?;
        let pid = done.pid.ok_or_else(|| Error::Os {
            op: "starting the network keeper (it gave no pid)".into(),
            path: self.keeper_path(),
            source: io::Error::from_raw_os_error(libc::EPROTO),
        })?;
        self.record(&self.keeper_path(), Recorded::of(pid))?;
        // the way out (see the module docs), where pasta can run
        if let Ok(pasta) = self.start_keeper_pasta(pid) {
            self.record(&self.keeper_pasta_path(), Recorded::of(pasta))?;
        }
        Ok(pid)
    }

    /// Runs `op` in the keeper's namespaces (the keeper started first if `start`, else
    /// `None` when none runs), and stops the keeper when no container is left attached.
    pub(super) fn in_keeper<T: DeserializeOwned>(&self, op: &Op, start: bool) -> Result<Option<T>> {
        let _lock = crate::store::lock_file(
            &self.dir.join(KEEPER_LOCK),
            rustix::fs::FlockOperation::LockExclusive,
        )?;
        let pid = match self.keeper() {
            Some(pid) => pid,
            None if start => self.start_keeper()?,
            None => return Ok(None),
        };
        let job = Job::Network {
            root: self.root().to_owned(),
            op: serde_json::to_value(op).expect("an operation serialises"),
        };
        let done = userns::run_in_keeper(pid, &job);
        if self.sandboxes().is_ok_and(|s| s.is_empty()) {
            super::usermode::stop_helper(
                self.recorded(&self.keeper_path()).map(|r| (r.pid, r.start)),
            );
            let _ = fs::remove_file(self.keeper_path());
            self.stop_keeper_pasta();
        }
        let value = done?.value.unwrap_or(serde_json::Value::Null);
        serde_json::from_value(value)
            .map(Some)
            .map_err(|e| Error::Os {
                op: format!("reading the network keeper's result: {e}"),
                path: self.keeper_path(),
                source: io::Error::from_raw_os_error(libc::EPROTO),
            })
    }

    /// [`attach`](Self::attach) rootless: host ports asked as 0 are picked here, in the
    /// host's namespace (the sidecar listens on them); the rest in the keeper's. A fixed
    /// host port another program holds is refused here too, before the container runs.
    pub(super) fn attach_rootless(&self, cfg: &SandboxConfig) -> Result<Sandbox> {
        let mut cfg = cfg.clone();
        for p in &mut cfg.ports {
            if p.host_port == 0 {
                p.host_port = ports::probe(p)?;
            }
        }
        let sb: Sandbox = self
            .in_keeper(&Op::Attach(cfg.clone()), true)?
            .expect("the keeper was started");
        // After the keeper's check against this root's containers (a port of one of them
        // is named so), the host's.
        if let Err(e) = cfg.ports.iter().try_for_each(|p| ports::probe(p).map(drop)) {
            let _ = self.detach(&cfg.container_id);
            return Err(e);
        }
        Ok(sb)
    }

    /// [`detach`](Self::detach) rootless: the sidecar stopped, the rest in the keeper (a
    /// new one when the old died with containers recorded, to clear their records).
    pub(super) fn detach_rootless(&self, container_id: &str) -> Result<()> {
        self.stop_sidecar(container_id);
        let attached = self.sandbox(container_id)?.is_some();
        self.in_keeper::<()>(&Op::Detach(container_id.to_owned()), attached)
            .map(drop)
    }

    /// [`repair`](Self::repair) rootless, in the keeper when anything is recorded.
    pub(super) fn repair_rootless(&self, live: &[&str]) -> Result<()> {
        let recorded = !self.sandboxes()?.is_empty()
            || self.records()?.iter().any(|r| !r.endpoints.is_empty());
        for id in self.sidecar_ids() {
            if !live.contains(&id.as_str()) {
                self.stop_sidecar(&id);
            }
        }
        let live = live.iter().map(|s| (*s).to_owned()).collect();
        let r = self.in_keeper::<()>(&Op::Repair(live), recorded).map(drop);
        if self.keeper().is_none() {
            // a killed keeper's
            self.stop_keeper_pasta();
        }
        r
    }

    fn sidecar_ids(&self) -> Vec<String> {
        let Ok(rd) = fs::read_dir(self.dir.join(".sidecars")) else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.strip_suffix(".json").map(str::to_owned)
            })
            .collect()
    }

    /// Starts the sidecar of rootless container `id`, whose init is `init` (the runtime's
    /// `before_start`, the container created and not yet running): its DNS server with
    /// `dns` as upstreams when given, and its published ports.
    ///
    /// # Errors
    /// [`Error::PortInUse`] (a host port taken meanwhile), [`Error::Os`]: the keeper is
    /// gone, the helper failed.
    pub(crate) fn start_sidecar(
        &self,
        id: &str,
        init: i32,
        dns: Option<Vec<SocketAddr>>,
    ) -> Result<()> {
        self.stop_sidecar(id);
        let ports: Vec<(PortBinding, SocketAddrV4)> = self
            .endpoints(id)?
            .iter()
            .flat_map(|e: &EndpointInfo| {
                e.ports
                    .iter()
                    .map(|p| (*p, SocketAddrV4::new(e.ip, p.container_port)))
                    .collect::<Vec<_>>()
            })
            .collect();
        if ports.is_empty() && dns.is_none() {
            return Ok(());
        }
        let keeper = self.keeper().ok_or_else(|| Error::Os {
            op: format!(
                "starting the network sidecar of container {id}: the network keeper is gone"
            ),
            path: self.keeper_path(),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        })?;
        let job = Sidecar {
            root: self.root().to_owned(),
            id: id.to_owned(),
            keeper,
            init,
            dns,
            ports,
        };
        let job = Job::Sidecar(serde_json::to_value(&job).expect("a sidecar serialises"));
        let done = userns::run_joined(keeper, &job, None, None)?;
        if let Some(pid) = done.pid {
            self.record(&self.sidecar_path(id), Recorded::of(pid))?;
        }
        Ok(())
    }

    fn stop_sidecar(&self, id: &str) {
        let path = self.sidecar_path(id);
        super::usermode::stop_helper(self.recorded(&path).map(|r| (r.pid, r.start)));
        let _ = fs::remove_file(path);
    }
}

/// Does `op` (an [`Op`]) on the store at `root`, in the keeper's namespaces (a helper's
/// job, as root there: the store's own code runs as it runs for root).
///
/// # Errors
/// The operation's.
pub(crate) fn serve_op(root: &Path, op: serde_json::Value) -> Result<serde_json::Value> {
    let op: Op = serde_json::from_value(op).map_err(|e| Error::Os {
        op: format!("reading a network operation: {e}"),
        path: root.to_owned(),
        source: io::Error::from_raw_os_error(libc::EPROTO),
    })?;
    let store = NetworkStore::open(root)?;
    Ok(match op {
        Op::Attach(cfg) => json(&store.attach(&cfg)?),
        Op::Detach(id) => json(&store.detach(&id)?),
        Op::Connect(id, ec) => json(&store.connect(&id, &ec)?),
        Op::Disconnect(id, net) => json(&store.disconnect(&id, &net)?),
        Op::Repair(live) => {
            let live: Vec<&str> = live.iter().map(String::as_str).collect();
            json(&store.repair(&live)?)
        }
        Op::Remove(name) => json(&store.remove(&name)?),
        Op::ReleaseIdle => json(&store.release_idle()?),
        Op::Prune => json(&store.prune()?),
    })
}

fn json<T: Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).expect("a network result serialises")
}

/// The lock every keeper operation holds, in the networks directory.
const KEEPER_LOCK: &str = ".keeper.lock";

/// The record of the keeper's pasta, in the networks directory.
const KEEPER_PASTA: &str = ".keeper-pasta.json";

/// How often a keeper checks whether it still has something to keep.
const KEEPER_CHECK: Duration = Duration::from_secs(5);

/// Becomes the keeper of the networks directory `networks` (a helper's job, root of a
/// fresh user namespace with the engine's map): unshares the network and mount
/// namespaces, brings loopback up and forks the process that holds them; returns its pid.
///
/// # Errors
/// [`Error::Os`] naming the failed step.
pub(crate) fn serve_keep(networks: PathBuf) -> Result<i32> {
    let step = |what: &str, e: raw::Errno| Error::Os {
        op: format!("starting the network keeper: {what}"),
        path: PathBuf::new(),
        source: io::Error::from_raw_os_error(e),
    };
    raw::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS).map_err(|e| step("unshare", e))?;
    raw::loopback_up().map_err(|e| step("loopback", e))?;
    // Single-threaded: the fork's child may run on.
    match raw::fork_with(0) {
        Ok(0) => {
            leave_caller();
            while !nothing_to_keep(&networks) {
                std::thread::sleep(KEEPER_CHECK);
            }
            raw::exit(0)
        }
        Ok(pid) => Ok(pid),
        Err(e) => Err(step("fork", e)),
    }
}

/// Whether the keeper (this process) may end: the engine's networks directory is gone
/// (its root was removed), or no container is attached and no operation is under way (the
/// keeper lock is free) — a keeper that its engine failed to stop (its program killed
/// between the last detach and the stop) does not stay.
fn nothing_to_keep(networks: &Path) -> bool {
    let sandboxes = networks.join(".sandboxes");
    if !sandboxes.is_dir() {
        return true;
    }
    let Ok(lock) = fs::OpenOptions::new()
        .write(true)
        .open(networks.join(KEEPER_LOCK))
    else {
        return false;
    };
    if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return false;
    }
    let idle = fs::read_dir(&sandboxes).is_ok_and(|mut d| d.next().is_none());
    if idle {
        let record = networks.join(".keeper.json");
        let mine = crate::store::read_json::<Recorded>(&record, "network keeper")
            .ok()
            .flatten()
            .is_some_and(|r| r.pid == std::process::id() as i32);
        if mine {
            let _ = fs::remove_file(record);
            // its pasta goes with it (pasta does not notice a namespace's end)
            let pasta = networks.join(KEEPER_PASTA);
            if let Ok(Some(p)) = crate::store::read_json::<Recorded>(&pasta, "pasta") {
                if p.alive() {
                    let _ = file::kill(p.pid, libc::SIGTERM);
                }
            }
            let _ = fs::remove_file(pasta);
        }
    }
    idle
}

/// In a forked child of a helper: a session of its own, and stdio on `/dev/null` (the
/// caller reads the helper's pipes to their end).
fn leave_caller() {
    let _ = raw::setsid();
    if let Ok(null) = fs::File::options().read(true).write(true).open("/dev/null") {
        for fd in 0..3 {
            let _ = raw::dup3(null.as_raw_fd(), fd, 0);
        }
    }
}

/// Starts a sidecar (a helper's job, joined to the keeper's user namespace, in the host's
/// network namespace): binds its sockets here, so that a port in use is this call's error,
/// then forks the process that serves them until the container's init exits; returns its
/// pid.
///
/// # Errors
/// [`Error::PortInUse`], [`Error::Os`] naming the namespace or the process.
pub(crate) fn serve_sidecar(job: serde_json::Value) -> Result<i32> {
    let job: Sidecar = serde_json::from_value(job).map_err(|e| Error::Os {
        op: format!("reading a sidecar job: {e}"),
        path: PathBuf::new(),
        source: io::Error::from_raw_os_error(libc::EPROTO),
    })?;
    let mut tcp = Vec::new();
    let mut udp = Vec::new();
    for (p, to) in &job.ports {
        let at = SocketAddrV4::new(p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), p.host_port);
        let taken = |e: io::Error| Error::PortInUse {
            binding: p.to_string(),
            by: format!("the host ({e})"),
        };
        match p.protocol {
            Protocol::Tcp => tcp.push((TcpListener::bind(at).map_err(taken)?, *to)),
            Protocol::Udp => udp.push((UdpSocket::bind(at).map_err(taken)?, *to)),
        }
    }
    // Through the keeper's mount namespace: the init, made by the runtime, may not be
    // dumpable, and its `/proc` files then are not ours to open.
    let container_ns = match NetworkStore::open(&job.root) {
        Ok(store) => store.netns_via_keeper(job.keeper, &job.id),
        Err(e) => return Err(e),
    };
    let bound = match &job.dns {
        Some(_) => Some(dns::bind(&container_ns)?),
        None => None,
    };
    let keeper_ns = PathBuf::from(format!("/proc/{}/ns/net", job.keeper));
    let keeper_ns = netlink::open_netns(&keeper_ns)
        .map_err(|e| Error::os("opening the keeper's network namespace", &keeper_ns, e))?;
    let until = file::pidfd_open(job.init)
        .map_err(|e| Error::os("watching the init of container", &job.id, e))?;
    // Single-threaded again (the binding thread has ended): the fork's child may run on.
    match raw::fork_with(0) {
        Ok(0) => {
            leave_caller();
            serve(job, bound, (tcp, udp), keeper_ns, until);
            raw::exit(0)
        }
        Ok(pid) => Ok(pid),
        Err(e) => Err(Error::os(
            "forking the network sidecar of container",
            &job.id,
            io::Error::from_raw_os_error(e),
        )),
    }
}

type Listeners = (
    Vec<(TcpListener, SocketAddrV4)>,
    Vec<(UdpSocket, SocketAddrV4)>,
);

/// The sidecar's life: the DNS server on a thread of the host's namespace (its upstream
/// queries leave from there), the forwarders on threads of the keeper's (their sockets to
/// the container are made there), until the container's init exits.
fn serve(
    job: Sidecar,
    bound: Option<dns::Bound>,
    (tcp, udp): Listeners,
    keeper_ns: OwnedFd,
    until: OwnedFd,
) {
    let mut _resolver = None;
    if let (Some(bound), Ok(store)) = (bound, NetworkStore::open(&job.root)) {
        let upstreams = job.dns.clone().unwrap_or_default();
        _resolver = bound.serve(store, &job.id, upstreams, None).ok();
    }
    let forwarders = std::thread::Builder::new().spawn(move || {
        if raw::setns(keeper_ns.as_raw_fd(), libc::CLONE_NEWNET).is_err() {
            return;
        }
        // threads made here are in the keeper's namespace too
        for (l, to) in tcp {
            let _ = std::thread::Builder::new().spawn(move || accept(&l, to));
        }
        for (s, to) in udp {
            let _ = std::thread::Builder::new().spawn(move || relay_udp(s, to));
        }
    });
    if forwarders.is_ok() {
        let _ = file::pidfd_wait(until.as_raw_fd(), -1);
    }
}

/// Forwards each connection to `l` to the container's `to`.
fn accept(l: &TcpListener, to: SocketAddrV4) {
    for conn in l.incoming() {
        let Ok(conn) = conn else { continue };
        let _ = std::thread::Builder::new().spawn(move || {
            let Ok(out) = TcpStream::connect_timeout(&to.into(), Duration::from_secs(10)) else {
                return;
            };
            let _ = conn.set_nodelay(true);
            let _ = out.set_nodelay(true);
            let (a, b) = (Arc::new(conn), Arc::new(out));
            let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
            let back = std::thread::Builder::new().spawn(move || pump(&b2, &a2));
            pump(&a, &b);
            if let Ok(t) = back {
                let _ = t.join();
            }
        });
    }
}

/// Copies `from` to `to` through a pipe with `splice(2)` until the end of `from`, then
/// shuts `to`'s writing down (the peer sees the end); on an error both directions end.
fn pump(from: &TcpStream, to: &TcpStream) {
    let copied = (|| -> io::Result<()> {
        let (r, w) = io::pipe()?;
        loop {
            let n = file::splice(from.as_fd(), w.as_fd(), 1 << 16)?;
            if n == 0 {
                return Ok(());
            }
            let mut left = n;
            while left > 0 {
                left -= file::splice(r.as_fd(), to.as_fd(), left)?;
            }
        }
    })();
    let _ = to.shutdown(Shutdown::Write);
    if copied.is_err() {
        let _ = from.shutdown(Shutdown::Both);
        let _ = to.shutdown(Shutdown::Both);
    }
}

/// How long a UDP flow without traffic keeps its socket to the container.
const UDP_IDLE: Duration = Duration::from_secs(60);

/// Forwards the datagrams of each client of `host` to the container's `to` from a socket
/// of the flow's own, and the container's answers back to that client.
fn relay_udp(host: UdpSocket, to: SocketAddrV4) {
    let host = Arc::new(host);
    let flows: Arc<Mutex<HashMap<SocketAddr, Arc<UdpSocket>>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, client)) = host.recv_from(&mut buf) else {
            continue;
        };
        let flow = flows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&client)
            .cloned();
        let flow = match flow {
            Some(f) => f,
            None => {
                let Ok(s) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else {
                    continue;
                };
                if s.connect(to).is_err() || s.set_read_timeout(Some(UDP_IDLE)).is_err() {
                    continue;
                }
                let s = Arc::new(s);
                flows
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(client, Arc::clone(&s));
                let (s2, host2, flows2) = (Arc::clone(&s), Arc::clone(&host), Arc::clone(&flows));
                let _ = std::thread::Builder::new().spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = s2.recv(&mut buf) {
                        let _ = host2.send_to(&buf[..n], client);
                    }
                    flows2
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&client);
                });
                s
            }
        };
        let _ = flow.send(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// An echo server on loopback (TCP: until the peer's end, then its own end).
    fn tcp_echo() -> SocketAddrV4 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(at) = l.local_addr().unwrap() else {
            unreachable!()
        };
        std::thread::spawn(move || {
            for c in l.incoming() {
                let mut c = c.unwrap();
                let mut all = Vec::new();
                c.read_to_end(&mut all).unwrap();
                all.reverse();
                c.write_all(&all).unwrap();
            }
        });
        at
    }

    #[test]
    fn tcp_connections_are_forwarded_both_ways_to_their_end() {
        let to = tcp_echo();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let at = l.local_addr().unwrap();
        std::thread::spawn(move || accept(&l, to));
        for _ in 0..2 {
            let mut c = TcpStream::connect(at).unwrap();
            // more than a pipe's worth, so that the splice loop turns
            let sent: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
            c.write_all(&sent).unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).unwrap();
            let mut want = sent.clone();
            want.reverse();
            assert!(back == want, "{} bytes came back", back.len());
        }
    }

    #[test]
    fn udp_flows_get_their_own_answers() {
        let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
        let SocketAddr::V4(to) = echo.local_addr().unwrap() else {
            unreachable!()
        };
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            loop {
                let (n, from) = echo.recv_from(&mut buf).unwrap();
                let mut answer = b"re:".to_vec();
                answer.extend_from_slice(&buf[..n]);
                echo.send_to(&answer, from).unwrap();
            }
        });
        let host = UdpSocket::bind("127.0.0.1:0").unwrap();
        let at = host.local_addr().unwrap();
        std::thread::spawn(move || relay_udp(host, to));
        let clients: Vec<UdpSocket> = (0..2)
            .map(|_| {
                let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                c.connect(at).unwrap();
                c
            })
            .collect();
        for round in 0..2 {
            for (i, c) in clients.iter().enumerate() {
                let msg = format!("{i}.{round}");
                c.send(msg.as_bytes()).unwrap();
                let mut buf = [0u8; 512];
                let n = c.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], format!("re:{msg}").as_bytes());
            }
        }
    }
}
