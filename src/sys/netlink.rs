//! Route netlink over a synchronous socket (links, addresses, routes) and network
//! namespaces bound to files, for writers of engines.
//!
//! A [`Netlink`] socket works in the network namespace of the thread that opened it, and
//! keeps working there whichever thread uses it later. To act inside another namespace,
//! [`in_netns`] runs a closure on a short-lived thread that entered it (the thread ends with
//! the closure; it never returns to a pool), so sockets opened there belong to that
//! namespace. Messages are built with `netlink-packet-route`; no `ip` command is run.

use std::ffi::CString;
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
    MacVlanMode,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::raw;

/// A link as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// The kind (`veth`, `bridge`, `macvlan`…), empty for a physical or loopback link.
    pub kind: String,
    /// The index of the bridge it is enslaved to, if any.
    pub master: Option<u32>,
    /// Whether it is administratively up.
    pub up: bool,
    /// Its MTU.
    pub mtu: u32,
    /// Its hardware address (`02:42:ac:11:00:02`), empty if it has none.
    pub mac: String,
}

/// An IPv4 route of the main table, as the kernel lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route4 {
    /// The destination network.
    pub destination: Ipv4Addr,
    /// Its prefix length (0 for the default route).
    pub prefix_len: u8,
    /// The gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// The output interface index.
    pub oif: Option<u32>,
}

/// A route netlink socket in the network namespace of the thread that opened it.
#[derive(Debug)]
pub struct Netlink {
    sock: Socket,
    seq: u32,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl Netlink {
    /// Opens a route netlink socket in the calling thread's network namespace.
    ///
    /// # Errors
    /// The socket, bind or connect error.
    pub fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink { sock, seq: 0 })
    }

    /// Sends one request and collects the replies until its ACK (or the end of a dump).
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let mut buf = vec![0; nl.buffer_len()];
        nl.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut off = 0;
            while off < data.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(invalid)?;
                let len = msg.header.length as usize;
                if len == 0 {
                    return Err(invalid("netlink message of length 0"));
                }
                off += (len + 3) & !3;
                if msg.header.sequence_number != self.seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => match e.code {
                        None if !dump => return Ok(out),
                        None => {}
                        Some(_) => return Err(e.to_io()),
                    },
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }

    /// Every link of the namespace.
    ///
    /// # Errors
    /// The netlink error.
    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let req = RouteNetlinkMessage::GetLink(LinkMessage::default());
        self.dump(req, |m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(to_link(&l)),
            _ => None,
        })
    }

    /// The link named `name`, if it exists.
    ///
    /// # Errors
    /// The netlink error.
    pub fn link(&mut self, name: &str) -> io::Result<Option<Link>> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
        match self.request(RouteNetlinkMessage::GetLink(msg), 0) {
            Ok(msgs) => Ok(msgs.into_iter().find_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(to_link(&l)),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn new_link(&mut self, msg: LinkMessage) -> io::Result<()> {
        self.request(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL)
            .map(drop)
    }

    /// Creates a bridge `name` with `mtu` (down).
    ///
    /// # Errors
    /// `EEXIST` if the name is taken, or another netlink error.
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> io::Result<()> {
        let info = vec![LinkInfo::Kind(InfoKind::Bridge)];
        self.new_link(link_msg(name, mtu, None, info))
    }

    /// Creates a veth pair: `name` here, its peer `peer` created directly in the network
    /// namespace `peer_ns` (here when `None`), both with `mtu` and down.
    ///
    /// # Errors
    /// `EEXIST` if a name is taken (here, or in `peer_ns` for the peer), or another
    /// netlink error.
    pub fn add_veth(
        &mut self,
        name: &str,
        peer: &str,
        peer_ns: Option<BorrowedFd<'_>>,
        mtu: u32,
    ) -> io::Result<()> {
        let peer = link_msg(peer, mtu, peer_ns, Vec::new());
        let info = vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ];
        self.new_link(link_msg(name, mtu, None, info))
    }

    /// Creates a macvlan link `name` in bridge mode on the link `parent` (an index here),
    /// created directly in the namespace `ns` (here when `None`), with `mtu`, down.
    ///
    /// # Errors
    /// `EEXIST` if the name is taken, or another netlink error.
    pub fn add_macvlan(
        &mut self,
        name: &str,
        parent: u32,
        ns: Option<BorrowedFd<'_>>,
        mtu: u32,
    ) -> io::Result<()> {
        let info = vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Bridge,
            )])),
        ];
        let mut msg = link_msg(name, mtu, ns, info);
        msg.attributes.push(LinkAttribute::Link(parent));
        self.new_link(msg)
    }

    fn set_link(&mut self, index: u32, f: impl FnOnce(&mut LinkMessage)) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        f(&mut msg);
        self.request(RouteNetlinkMessage::SetLink(msg), 0).map(drop)
    }

    /// Brings the link `index` up.
    ///
    /// # Errors
    /// The netlink error.
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        self.set_link(index, |m| {
            m.header.flags = LinkFlags::Up;
            m.header.change_mask = LinkFlags::Up;
        })
    }

    /// Enslaves the link `index` to the bridge `master`.
    ///
    /// # Errors
    /// The netlink error.
    pub fn set_master(&mut self, index: u32, master: u32) -> io::Result<()> {
        self.set_link(index, |m| {
            m.attributes.push(LinkAttribute::Controller(master))
        })
    }

    /// Deletes the link `index` (a veth takes its peer with it).
    ///
    /// # Errors
    /// The netlink error (`ENODEV` if it is gone).
    pub fn del_link(&mut self, index: u32) -> io::Result<()> {
        let mut msg = LinkMessage::default();
        msg.header.index = index;
        self.request(RouteNetlinkMessage::DelLink(msg), 0).map(drop)
    }

    /// Adds the address `addr/prefix_len` to the link `index` (with its broadcast address).
    ///
    /// # Errors
    /// `EEXIST` if it is there already, or another netlink error.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix_len: u8) -> io::Result<()> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        msg.header.prefix_len = prefix_len;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr.into()));
        msg.attributes.push(AddressAttribute::Address(addr.into()));
        let mask = if prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix_len))
        };
        let brd = Ipv4Addr::from(u32::from(addr) | !mask);
        msg.attributes.push(AddressAttribute::Broadcast(brd));
        self.request(
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// Adds an IPv4 route to `destination/prefix_len` in the main table (the default route
    /// for `0.0.0.0/0`), through `gateway` if given, out of link `oif`.
    ///
    /// # Errors
    /// `EEXIST` if there is one already, or another netlink error.
    pub fn add_route4(
        &mut self,
        destination: Ipv4Addr,
        prefix_len: u8,
        gateway: Option<Ipv4Addr>,
        oif: u32,
    ) -> io::Result<()> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        msg.header.destination_prefix_length = prefix_len;
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Boot;
        msg.header.scope = if gateway.is_some() {
            RouteScope::Universe
        } else {
            RouteScope::Link
        };
        msg.header.kind = RouteType::Unicast;
        if prefix_len > 0 {
            msg.attributes
                .push(RouteAttribute::Destination(RouteAddress::Inet(destination)));
        }
        if let Some(gw) = gateway {
            msg.attributes
                .push(RouteAttribute::Gateway(RouteAddress::Inet(gw)));
        }
        msg.attributes.push(RouteAttribute::Oif(oif));
        self.request(
            RouteNetlinkMessage::NewRoute(msg),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .map(drop)
    }

    /// The IPv4 routes of the main table.
    ///
    /// # Errors
    /// The netlink error.
    pub fn routes4(&mut self) -> io::Result<Vec<Route4>> {
        let mut msg = RouteMessage::default();
        msg.header.address_family = AddressFamily::Inet;
        self.dump(RouteNetlinkMessage::GetRoute(msg), |m| match m {
            RouteNetlinkMessage::NewRoute(r) => to_route4(&r),
            _ => None,
        })
    }

    /// The IPv4 addresses of the link `index` (`None`: of every link), with prefix lengths.
    ///
    /// # Errors
    /// The netlink error.
    pub fn addresses4(&mut self, index: Option<u32>) -> io::Result<Vec<(u32, Ipv4Addr, u8)>> {
        let mut msg = AddressMessage::default();
        msg.header.family = AddressFamily::Inet;
        self.dump(RouteNetlinkMessage::GetAddress(msg), |m| match m {
            RouteNetlinkMessage::NewAddress(a) if index.is_none_or(|i| i == a.header.index) => a
                .attributes
                .iter()
                .filter_map(|attr| match attr {
                    AddressAttribute::Local(std::net::IpAddr::V4(ip)) => {
                        Some((a.header.index, *ip, a.header.prefix_len))
                    }
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
    }

    /// Sends the dump request `req` and turns each reply into items with `convert`.
    fn dump<I: IntoIterator>(
        &mut self,
        req: RouteNetlinkMessage,
        convert: impl FnMut(RouteNetlinkMessage) -> I,
    ) -> io::Result<Vec<I::Item>> {
        Ok(self
            .request(req, NLM_F_DUMP)?
            .into_iter()
            .flat_map(convert)
            .collect())
    }
}

/// A route of the main table, `None` for any other.
fn to_route4(r: &RouteMessage) -> Option<Route4> {
    if r.header.table != RouteHeader::RT_TABLE_MAIN || r.header.kind != RouteType::Unicast {
        return None;
    }
    let mut route = Route4 {
        destination: Ipv4Addr::UNSPECIFIED,
        prefix_len: r.header.destination_prefix_length,
        gateway: None,
        oif: None,
    };
    for a in &r.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => route.destination = *d,
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => route.gateway = Some(*g),
            RouteAttribute::Oif(i) => route.oif = Some(*i),
            _ => {}
        }
    }
    Some(route)
}

/// The message that creates the link `name` with `mtu`, directly in the namespace `ns`
/// (here when `None`), of the kind (and with the data) in `info` when that is not empty.
fn link_msg(name: &str, mtu: u32, ns: Option<BorrowedFd<'_>>, info: Vec<LinkInfo>) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_owned()));
    msg.attributes.push(LinkAttribute::Mtu(mtu));
    if let Some(ns) = ns {
        msg.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
    }
    if !info.is_empty() {
        msg.attributes.push(LinkAttribute::LinkInfo(info));
    }
    msg
}

fn to_link(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        kind: String::new(),
        master: None,
        up: l.header.flags.contains(LinkFlags::Up),
        mtu: 0,
        mac: String::new(),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Controller(m) => link.master = Some(*m),
            LinkAttribute::Mtu(m) => link.mtu = *m,
            LinkAttribute::Address(a) => {
                link.mac = a
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            }
            LinkAttribute::LinkInfo(infos) => {
                for i in infos {
                    if let LinkInfo::Kind(k) = i {
                        link.kind = k.to_string();
                    }
                }
            }
            _ => {}
        }
    }
    link
}

pub use super::netns::in_netns;

/// Runs `f` on a fresh thread in a new, empty network namespace (its loopback up), after
/// binding that namespace to the file `path` when given (created empty; the namespace then
/// outlives the thread until [`unbind_netns`]). The thread ends with `f`.
///
/// # Errors
/// The `unshare`, file or mount error, or `f`'s; on error nothing is left at `path`.
pub fn new_netns<T: Send>(
    path: Option<&Path>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(move || {
            raw::unshare(libc::CLONE_NEWNET).map_err(io::Error::from_raw_os_error)?;
            let mut nl = Netlink::open()?;
            if let Some(lo) = nl.link("lo")? {
                nl.set_up(lo.index)?;
            }
            if let Some(path) = path {
                bind_current_netns(path)?;
            }
            match f() {
                Ok(t) => Ok(t),
                Err(e) => {
                    if let Some(path) = path {
                        let _ = unbind_netns(path);
                    }
                    Err(e)
                }
            }
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// Binds the calling thread's network namespace to `path` (created, must not exist).
fn bind_current_netns(path: &Path) -> io::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let src = c"/proc/thread-self/ns/net";
    let target = cstr(path)?;
    if let Err(e) = raw::mount(Some(src), &target, None, libc::MS_BIND, None) {
        let _ = fs::remove_file(path);
        return Err(io::Error::from_raw_os_error(e));
    }
    Ok(())
}

/// Unmounts a network namespace bound by [`new_netns`] and removes the file; a missing
/// file or a file that is no longer a mount point is not an error.
///
/// # Errors
/// The `umount2` or unlink error.
pub fn unbind_netns(path: &Path) -> io::Result<()> {
    let target = cstr(path)?;
    match raw::umount2(&target, libc::MNT_DETACH) {
        Ok(()) | Err(libc::EINVAL) | Err(libc::ENOENT) => {}
        Err(e) => return Err(io::Error::from_raw_os_error(e)),
    }
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Opens the network namespace bound at `path` (or any `/proc/<pid>/ns/net`), checking
/// that it is one.
///
/// # Errors
/// The open error, or `EINVAL` if `path` is not a network namespace.
pub fn open_netns(path: &Path) -> io::Result<OwnedFd> {
    let f = fs::File::open(path)?;
    let fd: OwnedFd = f.into();
    // NS_GET_NSTYPE: _IO(0xb7, 0x3)
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    match raw::ioctl_int(fd.as_fd().as_raw_fd(), NS_GET_NSTYPE, 0) {
        Ok(t) if t == libc::CLONE_NEWNET => Ok(fd),
        Ok(_) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
        Err(e) => Err(io::Error::from_raw_os_error(e)),
    }
}
