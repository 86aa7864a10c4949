//! The embedded DNS server of containers on user-defined networks, as Docker's
//! `127.0.0.11`.
//!
//! A container on a user-defined network (not the default `bridge`, not `host`/`none`)
//! gets `nameserver 127.0.0.11` in its `/etc/resolv.conf`. Its server is no daemon: a UDP
//! and a TCP socket bound to `127.0.0.11:53` *inside the container's network namespace*
//! (made on a short-lived thread that entered it; a socket stays in the namespace it was
//! made in), served by one thread of the process that owns the container — its monitor
//! for a detached container, the program that spawned it for an attached one.
//!
//! It answers `A` queries for the names of the containers that share a user-defined
//! network with the asking container — container name, aliases, hostname, and
//! `name.network` — from the network store's records, read afresh for every query (they
//! are replaced atomically, so a read sees a whole record; a connect or disconnect is seen
//! by the next query). `AAAA` and other types for those names get an empty `NOERROR`
//! answer. Every other query is forwarded, as is, to the upstream servers (`--dns`, or the
//! host's `/etc/resolv.conf`) from the serving thread's own namespace — the engine's
//! host — so loopback servers of the host work too; each upstream gets
//! [`FORWARD_TIMEOUT`], then the next is tried, then the client gets `SERVFAIL`.
//!
//! The wire format (RFC 1035) is read and written here: the header, the question,
//! `A` answers, names with compression pointers (on read; only strictly backward ones, at
//! most [`MAX_HOPS`], names at most 255 bytes, so a hostile packet can neither loop nor
//! allocate much), and the truncation bit when a UDP answer would exceed 512 bytes.
//!
//! One thread serves everything through poll(2) — the client sockets, the forwarded
//! queries, the TCP connections — so stopping it ([`Resolver::stop`], or drop) closes
//! every socket in the container's namespace at once. The thread is named `dns-` and the
//! first 11 characters of the container's id.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Driver, NetworkStore, DEFAULT_NETWORK};
use crate::sys::{file, netlink};
use crate::{Error, Result};

/// The address the server listens on inside the container (Docker's).
pub(crate) const ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Its port.
const PORT: u16 = 53;
/// The TTL of its answers (Docker's).
const TTL: u32 = 600;
/// The largest UDP answer without EDNS (RFC 1035 4.2.1).
const UDP_LIMIT: usize = 512;
/// How long one upstream server gets to answer a forwarded query.
pub(crate) const FORWARD_TIMEOUT: Duration = Duration::from_secs(2);
/// A TCP connection without a query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Forwarded queries in flight at most; more get `REFUSED`.
const MAX_FORWARDS: usize = 256;
/// TCP connections at most; more wait in the listen backlog.
const MAX_CONNS: usize = 64;
/// Compression pointers followed in one name at most.
pub(crate) const MAX_HOPS: usize = 64;

const TYPE_A: u16 = 1;
#[cfg(test)]
const TYPE_AAAA: u16 = 28;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;

/// Response codes (RFC 1035 4.1.1).
pub(crate) mod rcode {
    pub(crate) const NOERROR: u8 = 0;
    pub(crate) const FORMERR: u8 = 1;
    pub(crate) const SERVFAIL: u8 = 2;
    #[cfg(test)]
    pub(crate) const NXDOMAIN: u8 = 3;
    pub(crate) const NOTIMP: u8 = 4;
    pub(crate) const REFUSED: u8 = 5;
}

// ---------------------------------------------------------------------------------------
// The wire format.

/// Why a message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Shorter than a header (12 bytes).
    Short,
    /// A section ends past the end of the message.
    Truncated,
    /// A label of the reserved types 01 and 10.
    BadLabel,
    /// A name longer than 255 bytes.
    NameTooLong,
    /// A compression pointer that does not point strictly before the name part it is in.
    BadPointer,
    /// More than [`MAX_HOPS`] compression pointers in one name.
    PointerLoop,
}

/// The header of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) id: u16,
    pub(crate) flags: u16,
    pub(crate) qdcount: u16,
    pub(crate) ancount: u16,
    pub(crate) nscount: u16,
    pub(crate) arcount: u16,
}

impl Header {
    pub(crate) fn parse(msg: &[u8]) -> std::result::Result<Header, ParseError> {
        if msg.len() < 12 {
            return Err(ParseError::Short);
        }
        let w = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
        Ok(Header {
            id: w(0),
            flags: w(2),
            qdcount: w(4),
            ancount: w(6),
            nscount: w(8),
            arcount: w(10),
        })
    }

    fn write(&self, out: &mut Vec<u8>) {
        for v in [
            self.id,
            self.flags,
            self.qdcount,
            self.ancount,
            self.nscount,
            self.arcount,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }

    fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xf
    }

    #[cfg(test)]
    pub(crate) fn rcode(&self) -> u8 {
        (self.flags & 0xf) as u8
    }

    pub(crate) fn is_response(&self) -> bool {
        self.flags & QR != 0
    }

    #[cfg(test)]
    pub(crate) fn truncated(&self) -> bool {
        self.flags & TC != 0
    }
}

/// A question: a name (its labels, as sent), a type and a class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Question {
    pub(crate) labels: Vec<Vec<u8>>,
    pub(crate) qtype: u16,
    pub(crate) qclass: u16,
}

impl Question {
    /// The name in lower case, labels joined by dots, without the root's dot; `None` when
    /// a label holds a dot or a byte that is not printable ASCII (no container has such a
    /// name).
    pub(crate) fn name(&self) -> Option<String> {
        let mut s = String::new();
        for (i, l) in self.labels.iter().enumerate() {
            if l.iter().any(|&b| b == b'.' || !b.is_ascii_graphic()) {
                return None;
            }
            if i > 0 {
                s.push('.');
            }
            s.extend(l.iter().map(|b| b.to_ascii_lowercase() as char));
        }
        Some(s)
    }
}

/// A resource record of the answer section.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceRecord {
    pub(crate) labels: Vec<Vec<u8>>,
    pub(crate) rtype: u16,
    pub(crate) class: u16,
    pub(crate) ttl: u32,
    pub(crate) data: Vec<u8>,
}

/// A message: its header, questions and answers (the other sections are not read).
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) header: Header,
    pub(crate) questions: Vec<Question>,
    pub(crate) answers: Vec<ResourceRecord>,
}

fn get(msg: &[u8], at: usize, len: usize) -> std::result::Result<&[u8], ParseError> {
    at.checked_add(len)
        .and_then(|end| msg.get(at..end))
        .ok_or(ParseError::Truncated)
}

fn u16_at(msg: &[u8], at: usize) -> std::result::Result<u16, ParseError> {
    let b = get(msg, at, 2)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

/// Reads the name at `pos`; returns its labels and where the data after it starts.
///
/// Terminates on any input: every pointer must point strictly before the start of the
/// part of the name it continues (so the parts start ever earlier), at most [`MAX_HOPS`]
/// pointers are followed, and the name's wire length is at most 255 bytes.
pub(crate) fn read_name(
    msg: &[u8],
    pos: usize,
) -> std::result::Result<(Vec<Vec<u8>>, usize), ParseError> {
    let mut labels = Vec::new();
    let mut part_start = pos;
    let mut p = pos;
    let mut end = None;
    let mut hops = 0;
    let mut wire_len = 0usize;
    loop {
        let len = *msg.get(p).ok_or(ParseError::Truncated)? as usize;
        match len & 0xc0 {
            0x00 if len == 0 => {
                if wire_len + 1 > 255 {
                    return Err(ParseError::NameTooLong);
                }
                return Ok((labels, end.unwrap_or(p + 1)));
            }
            0x00 => {
                wire_len += 1 + len;
                if wire_len + 1 > 255 {
                    return Err(ParseError::NameTooLong);
                }
                labels.push(get(msg, p + 1, len)?.to_vec());
                p += 1 + len;
            }
            0xc0 => {
                let lo = *msg.get(p + 1).ok_or(ParseError::Truncated)? as usize;
                let target = ((len & 0x3f) << 8) | lo;
                if target >= part_start {
                    return Err(ParseError::BadPointer);
                }
                hops += 1;
                if hops > MAX_HOPS {
                    return Err(ParseError::PointerLoop);
                }
                end.get_or_insert(p + 2);
                part_start = target;
                p = target;
            }
            _ => return Err(ParseError::BadLabel),
        }
    }
}

/// Reads the question at `pos`; returns it and where the data after it starts.
fn read_question(msg: &[u8], pos: usize) -> std::result::Result<(Question, usize), ParseError> {
    let (labels, next) = read_name(msg, pos)?;
    let q = Question {
        labels,
        qtype: u16_at(msg, next)?,
        qclass: u16_at(msg, next + 2)?,
    };
    Ok((q, next + 4))
}

/// Whether `reply` answers the query `header`/`q`: a response with its id and question.
fn answers(reply: &[u8], header: &Header, q: &Question) -> bool {
    let Ok(h) = Header::parse(reply) else {
        return false;
    };
    let same = |a: &Question, b: &Question| {
        a.qtype == b.qtype
            && a.qclass == b.qclass
            && a.labels.len() == b.labels.len()
            && a.labels
                .iter()
                .zip(&b.labels)
                .all(|(x, y)| x.eq_ignore_ascii_case(y))
    };
    h.is_response()
        && h.id == header.id
        && h.qdcount == 1
        && read_question(reply, 12).is_ok_and(|(r, _)| same(&r, q))
}

fn write_name(out: &mut Vec<u8>, labels: &[Vec<u8>]) {
    for l in labels {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
}

#[cfg(test)]
impl Message {
    /// Reads a message. Never panics; the work done is bounded by the message's length
    /// whatever its counts say (every entry takes at least 5 bytes).
    pub(crate) fn parse(msg: &[u8]) -> std::result::Result<Message, ParseError> {
        let header = Header::parse(msg)?;
        let mut pos = 12;
        let mut questions = Vec::new();
        for _ in 0..header.qdcount {
            let (q, next) = read_question(msg, pos)?;
            pos = next;
            questions.push(q);
        }
        let mut answers = Vec::new();
        for _ in 0..header.ancount {
            let (labels, next) = read_name(msg, pos)?;
            let rtype = u16_at(msg, next)?;
            let class = u16_at(msg, next + 2)?;
            let ttl = get(msg, next + 4, 4)?;
            let rdlen = u16_at(msg, next + 8)? as usize;
            let data = get(msg, next + 10, rdlen)?.to_vec();
            pos = next + 10 + rdlen;
            answers.push(ResourceRecord {
                labels,
                rtype,
                class,
                ttl: u32::from_be_bytes([ttl[0], ttl[1], ttl[2], ttl[3]]),
                data,
            });
        }
        Ok(Message {
            header,
            questions,
            answers,
        })
    }
}

/// The flags of a reply to a query with `flags`: QR, the query's opcode and RD, RA, and
/// `rcode`.
fn reply_flags(query_flags: u16, rcode: u8) -> u16 {
    QR | (query_flags & (0xf << 11)) | (query_flags & RD) | RA | u16::from(rcode & 0xf)
}

/// A reply with only a header (the question could not be read).
fn bare_reply(query: &Header, rcode: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(12);
    Header {
        id: query.id,
        flags: reply_flags(query.flags, rcode),
        qdcount: 0,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    out
}

/// A reply to the query `header`/`q`: `rcode` and an `A` record per address (their names
/// point at the question's), as many as fit in `limit` bytes; TC is set when some did not.
pub(crate) fn reply(
    header: &Header,
    q: &Question,
    rcode: u8,
    ips: &[Ipv4Addr],
    authoritative: bool,
    limit: usize,
) -> Vec<u8> {
    let mut question = Vec::new();
    write_name(&mut question, &q.labels);
    question.extend_from_slice(&q.qtype.to_be_bytes());
    question.extend_from_slice(&q.qclass.to_be_bytes());
    const ANSWER: usize = 2 + 2 + 2 + 4 + 2 + 4;
    let room = limit.saturating_sub(12 + question.len()) / ANSWER;
    let n = ips.len().min(room).min(u16::MAX as usize);
    let mut flags = reply_flags(header.flags, rcode);
    if authoritative {
        flags |= AA;
    }
    if n < ips.len() {
        flags |= TC;
    }
    let mut out = Vec::with_capacity(12 + question.len() + n * ANSWER);
    Header {
        id: header.id,
        flags,
        qdcount: 1,
        ancount: n as u16,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    out.extend_from_slice(&question);
    for ip in &ips[..n] {
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// What to do with a message a client sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Send this reply.
    Reply(Vec<u8>),
    /// Not one of ours: forward the message upstream (`header` and `question` make the
    /// error reply if that fails).
    Forward(Header, Question),
    /// Not worth an answer (shorter than a header, or a response).
    Drop,
}

/// Decides about the message `msg` of a client: answered from `lookup` (the addresses of a
/// lower-case name, empty if it is not ours) when the name is ours, forwarded otherwise.
/// Replies fit in `limit` bytes (truncated past it).
pub(crate) fn handle(
    msg: &[u8],
    limit: usize,
    lookup: &mut dyn FnMut(&str) -> Vec<Ipv4Addr>,
) -> Action {
    let Ok(header) = Header::parse(msg) else {
        return Action::Drop;
    };
    if header.is_response() {
        return Action::Drop;
    }
    if header.opcode() != 0 {
        return Action::Reply(bare_reply(&header, rcode::NOTIMP));
    }
    if header.qdcount != 1 {
        return Action::Reply(bare_reply(&header, rcode::FORMERR));
    }
    // Only the question is read: the other sections (an EDNS OPT record) go upstream as is.
    let Ok((q, _)) = read_question(msg, 12) else {
        return Action::Reply(bare_reply(&header, rcode::FORMERR));
    };
    if q.qclass != CLASS_IN && q.qclass != TYPE_ANY {
        return Action::Forward(header, q);
    }
    let ips = match q.name() {
        Some(name) if !name.is_empty() => lookup(&name),
        _ => Vec::new(),
    };
    if ips.is_empty() {
        return Action::Forward(header, q);
    }
    let ips: &[Ipv4Addr] = match q.qtype {
        TYPE_A | TYPE_ANY => &ips,
        // AAAA (no IPv6 on our networks) and the rest: the name exists, with no such data.
        _ => &[],
    };
    Action::Reply(reply(&header, &q, rcode::NOERROR, ips, true, limit))
}

/// The upstream servers: the `--dns` servers if any, else the `nameserver`s of the host's
/// `resolv.conf` (its text); port 53. Entries that are not IP addresses (a scoped IPv6
/// address) are skipped.
pub(crate) fn upstreams(dns: &[String], resolv_conf: &str) -> Vec<SocketAddr> {
    let parse = |s: &str| s.trim().parse::<IpAddr>().ok().map(|ip| (ip, PORT).into());
    if !dns.is_empty() {
        return dns.iter().filter_map(|s| parse(s)).collect();
    }
    resolv_conf
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next())
                .flatten()
                .and_then(parse)
        })
        .collect()
}

/// The `/etc/resolv.conf` of a container served by the embedded server, as Docker writes
/// it: `nameserver 127.0.0.11`, the host's `search` and `options` lines, and `ndots:0`
/// unless the host sets ndots.
pub(crate) fn resolv_conf(host_resolv_conf: &str) -> String {
    let mut out = resolv_conf_with(&[ADDRESS.to_string()], host_resolv_conf);
    let ndots = host_resolv_conf
        .lines()
        .any(|l| l.starts_with("options ") && l.contains("ndots:"));
    if !ndots {
        out.push_str("options ndots:0\n");
    }
    out
}

/// A `/etc/resolv.conf` naming `servers`, with the host's `search` and `options` lines.
pub(crate) fn resolv_conf_with(servers: &[String], host_resolv_conf: &str) -> String {
    let mut out: String = servers
        .iter()
        .map(|s| format!("nameserver {s}\n"))
        .collect();
    for line in host_resolv_conf.lines() {
        if line.starts_with("search ") || line.starts_with("options ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Names, from the network store.

impl NetworkStore {
    /// Whether the network `name` is user-defined (the embedded DNS server serves its
    /// containers): a bridge or macvlan network other than the default `bridge`.
    pub(crate) fn is_user_defined(&self, name_or_id: &str) -> bool {
        self.resolve(name_or_id).is_ok_and(|r| {
            r.name != DEFAULT_NETWORK && matches!(r.driver, Driver::Bridge | Driver::Macvlan)
        })
    }

    /// The addresses of `name` (lower case) for the container `container_id`: on the first
    /// user-defined network it is attached to where some container — itself too — has that
    /// name, alias or hostname, or where `name` is `<name>.<that network>`. Empty when
    /// none has.
    ///
    /// Reads the current records without the store's lock: they are replaced atomically,
    /// so each read sees a whole record, and a change is seen by the next lookup.
    pub(crate) fn lookup(&self, container_id: &str, name: &str) -> Vec<Ipv4Addr> {
        let Ok(Some(sb)) = self.sandbox(container_id) else {
            return Vec::new();
        };
        let mut hostnames: Option<Vec<(String, String)>> = None;
        for net in sb.networks() {
            let Ok(rec) = self.load(net) else { continue };
            if rec.name == DEFAULT_NETWORK
                || !matches!(rec.driver, Driver::Bridge | Driver::Macvlan)
                || !rec.endpoints.contains_key(container_id)
            {
                continue;
            }
            let suffix = format!(".{}", rec.name.to_ascii_lowercase());
            let wanted = [Some(name), name.strip_suffix(suffix.as_str())];
            let is = |s: &str| wanted.iter().flatten().any(|w| s.eq_ignore_ascii_case(w));
            let mut ips: Vec<Ipv4Addr> = Vec::new();
            for (cid, e) in &rec.endpoints {
                let mut hit = is(&e.container) || e.aliases.iter().any(|a| is(a));
                if !hit {
                    let hosts = hostnames.get_or_insert_with(|| self.hostnames());
                    hit = hosts.iter().any(|(id, h)| id == cid && is(h));
                }
                if hit && !ips.contains(&e.ip) {
                    ips.push(e.ip);
                }
            }
            if !ips.is_empty() {
                return ips;
            }
        }
        Vec::new()
    }

    /// Every attached container's id and hostname.
    fn hostnames(&self) -> Vec<(String, String)> {
        let dir = self.dir.join(".sandboxes");
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        rd.flatten()
            .filter_map(|e| {
                let n = e.file_name();
                let id = n.to_str()?.strip_suffix(".json")?.to_owned();
                let sb = self.sandbox(&id).ok()??;
                Some((id, sb.hostname().to_owned()))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// The server.

/// The server's sockets, bound in a container's network namespace, not served yet: queries
/// that come meanwhile wait in their buffers.
#[derive(Debug)]
pub(crate) struct Bound {
    udp: UdpSocket,
    tcp: TcpListener,
}

/// Binds `127.0.0.11:53` (UDP and TCP) in the network namespace bound at `netns`.
///
/// # Errors
/// [`Error::Os`] naming the namespace: it cannot be opened or entered, or the address is
/// taken there.
pub(crate) fn bind(netns: &Path) -> Result<Bound> {
    let ns =
        netlink::open_netns(netns).map_err(|e| Error::os("opening network namespace", netns, e))?;
    let addr = SocketAddr::from((ADDRESS, PORT));
    let (udp, tcp) = netlink::in_netns(ns.as_fd(), || {
        let udp = UdpSocket::bind(addr)?;
        let tcp = TcpListener::bind(addr)?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;
        Ok((udp, tcp))
    })
    .map_err(|e| Error::os(format!("binding the DNS server {addr} in"), netns, e))?;
    Ok(Bound { udp, tcp })
}

impl Bound {
    /// Serves the sockets on a thread of this process for the container `container_id`
    /// (its names from `store`), forwarding other queries to `upstreams`. The thread ends
    /// when the [`Resolver`] is stopped or dropped, or — when `until` (a pidfd) is given —
    /// once that process has exited.
    ///
    /// # Errors
    /// [`Error::Os`]: the stop pipe or the thread cannot be made.
    pub(crate) fn serve(
        self,
        store: NetworkStore,
        container_id: &str,
        upstreams: Vec<SocketAddr>,
        until: Option<OwnedFd>,
    ) -> Result<Resolver> {
        let (stop_r, stop_w) = io::pipe().map_err(|e| {
            Error::os(
                "creating the stop pipe of the DNS server of",
                container_id,
                e,
            )
        })?;
        let server = Server {
            store,
            container_id: container_id.to_owned(),
            upstreams,
            udp: self.udp,
            tcp: self.tcp,
            stop: Some(stop_r),
            until,
            forwards: Vec::new(),
            conns: Vec::new(),
            next_key: 0,
            buf: vec![0; 65536],
        };
        let thread = std::thread::Builder::new()
            .name(thread_name(container_id))
            .spawn(move || server.run())
            .map_err(|e| {
                Error::os(
                    "starting the DNS server thread of container",
                    container_id,
                    e,
                )
            })?;
        Ok(Resolver {
            stop: Some(stop_w),
            thread: Some(thread),
        })
    }
}

/// The name of the thread serving the container `id` (15 bytes at most, the kernel's
/// limit): `dns-` and the start of the id.
pub(crate) fn thread_name(container_id: &str) -> String {
    format!("dns-{}", container_id.chars().take(11).collect::<String>())
}

/// A running embedded DNS server: stopping or dropping it ends its thread and closes its
/// sockets (nothing of it holds the container's namespace after that).
#[derive(Debug)]
pub(crate) struct Resolver {
    stop: Option<io::PipeWriter>,
    thread: Option<JoinHandle<()>>,
}

impl Resolver {
    /// [`bind`]s in the namespace at `netns` and [`serve`](Bound::serve)s until stopped.
    ///
    /// # Errors
    /// As those.
    pub(crate) fn start(
        store: NetworkStore,
        container_id: &str,
        netns: &Path,
        upstreams: Vec<SocketAddr>,
    ) -> Result<Resolver> {
        bind(netns)?.serve(store, container_id, upstreams, None)
    }

    /// Ends the thread and waits for it.
    pub(crate) fn stop(mut self) {
        self.end();
    }

    fn end(&mut self) {
        if let Some(mut w) = self.stop.take() {
            let _ = w.write_all(b"x");
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Lets the thread serve on without this handle, until the process it was given as
    /// `until` exits (without one, it ends now).
    pub(crate) fn detach(mut self) {
        // Closing the pipe without a byte: the thread goes on if it watches a process.
        self.stop = None;
        self.thread = None;
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.end();
    }
}

/// Where a forwarded query's answer goes.
#[derive(Debug, Clone, Copy)]
enum Client {
    Udp(SocketAddr),
    Tcp(u64),
}

/// A query sent upstream, waiting for its answer.
#[derive(Debug)]
struct Forward {
    sock: UdpSocket,
    query: Vec<u8>,
    header: Header,
    question: Question,
    client: Client,
    /// The upstream it was sent to (the next one is tried after a timeout).
    upstream: usize,
    deadline: Instant,
}

/// A TCP client: messages framed by a two-byte length.
#[derive(Debug)]
struct Conn {
    key: u64,
    stream: TcpStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Waiting for a forwarded answer (reads nothing meanwhile).
    waiting: bool,
    deadline: Instant,
    closed: bool,
}

#[derive(Debug)]
struct Server {
    store: NetworkStore,
    container_id: String,
    upstreams: Vec<SocketAddr>,
    udp: UdpSocket,
    tcp: TcpListener,
    stop: Option<io::PipeReader>,
    until: Option<OwnedFd>,
    forwards: Vec<Forward>,
    conns: Vec<Conn>,
    next_key: u64,
    buf: Vec<u8>,
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

impl Server {
    fn run(mut self) {
        loop {
            let now = Instant::now();
            self.expire(now);
            let next = self
                .forwards
                .iter()
                .map(|f| f.deadline)
                .chain(self.conns.iter().filter(|c| !c.waiting).map(|c| c.deadline))
                .min();
            let timeout = next.map_or(-1, |d| {
                d.saturating_duration_since(now)
                    .as_millis()
                    .saturating_add(1)
                    .min(i32::MAX as u128) as i32
            });
            let mut fds = vec![
                pollfd(
                    self.stop.as_ref().map_or(-1, |s| s.as_raw_fd()),
                    libc::POLLIN,
                ),
                pollfd(
                    self.until.as_ref().map_or(-1, |u| u.as_raw_fd()),
                    libc::POLLIN,
                ),
                pollfd(self.udp.as_raw_fd(), libc::POLLIN),
                pollfd(
                    if self.conns.len() < MAX_CONNS {
                        self.tcp.as_raw_fd()
                    } else {
                        -1
                    },
                    libc::POLLIN,
                ),
            ];
            fds.extend(
                self.forwards
                    .iter()
                    .map(|f| pollfd(f.sock.as_raw_fd(), libc::POLLIN)),
            );
            fds.extend(self.conns.iter().map(|c| {
                let ev = if !c.output.is_empty() {
                    libc::POLLOUT
                } else if c.waiting {
                    0
                } else {
                    libc::POLLIN
                };
                pollfd(c.stream.as_raw_fd(), ev)
            }));
            if file::poll(&mut fds, timeout).is_err() {
                return;
            }
            let ready = |p: &libc::pollfd| p.fd >= 0 && p.revents != 0;
            if ready(&fds[0]) {
                let mut b = [0u8; 1];
                let stopped = matches!(self.stop.as_mut().map(|s| s.read(&mut b)), Some(Ok(1)));
                if stopped || self.until.is_none() {
                    return;
                }
                // The handle let go (detached): serve on until the process exits.
                self.stop = None;
            }
            if ready(&fds[1]) {
                return;
            }
            let nf = self.forwards.len();
            let forwards_ready: Vec<bool> = fds[4..4 + nf].iter().map(ready).collect();
            let conns_ready: Vec<i16> = fds[4 + nf..].iter().map(|p| p.revents).collect();
            if ready(&fds[2]) {
                self.read_udp();
            }
            if ready(&fds[3]) {
                self.accept();
            }
            for (i, r) in forwards_ready.into_iter().enumerate() {
                if r {
                    self.read_forward(i);
                }
            }
            for (i, revents) in conns_ready.into_iter().enumerate() {
                if revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    self.conns[i].closed = true;
                } else if revents != 0 {
                    self.read_conn(i);
                }
            }
            // Every connection: answers out, queries in (forwarded answers came above).
            for i in 0..self.conns.len() {
                self.pump_conn(i);
            }
            self.forwards.retain(|f| f.upstream != usize::MAX);
            self.conns.retain(|c| !c.closed);
        }
    }

    fn lookup(&self, name: &str) -> Vec<Ipv4Addr> {
        self.store.lookup(&self.container_id, name)
    }

    /// Reads the datagrams that wait (a bounded number, so nothing else starves).
    fn read_udp(&mut self) {
        for _ in 0..64 {
            let (n, from) = match self.udp.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            };
            let msg = self.buf[..n].to_vec();
            let action = handle(&msg, UDP_LIMIT, &mut |name| self.lookup(name));
            match action {
                Action::Reply(r) => {
                    let _ = self.udp.send_to(&r, from);
                }
                Action::Forward(h, q) => self.forward(msg, h, q, Client::Udp(from)),
                Action::Drop => {}
            }
        }
    }

    fn accept(&mut self) {
        while self.conns.len() < MAX_CONNS {
            match self.tcp.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_err() {
                        continue;
                    }
                    self.next_key += 1;
                    self.conns.push(Conn {
                        key: self.next_key,
                        stream,
                        input: Vec::new(),
                        output: Vec::new(),
                        waiting: false,
                        deadline: Instant::now() + TCP_IDLE,
                        closed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Reads what connection `i` has sent (when it is not writing or waiting).
    fn read_conn(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if !c.output.is_empty() || c.waiting {
            return;
        }
        match c.stream.read(&mut self.buf) {
            Ok(0) => c.closed = true,
            Ok(n) if c.input.len() + n > 2 + 65535 => c.closed = true,
            Ok(n) => {
                c.input.extend_from_slice(&self.buf[..n]);
                c.deadline = Instant::now() + TCP_IDLE;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => c.closed = true,
        }
    }

    /// Writes connection `i`'s answers and takes its next queries, one at a time, as far
    /// as it goes without blocking. A loop, not recursion: a client that pipelines
    /// thousands of queries costs no stack.
    fn pump_conn(&mut self, i: usize) {
        loop {
            let c = &mut self.conns[i];
            if c.closed {
                return;
            }
            if !c.output.is_empty() {
                match c.stream.write(&c.output) {
                    Ok(n) => {
                        c.output.drain(..n);
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        return
                    }
                    Err(_) => {
                        c.closed = true;
                        return;
                    }
                }
                if !c.output.is_empty() {
                    return;
                }
            }
            if c.waiting || c.input.len() < 2 {
                return;
            }
            let len = u16::from_be_bytes([c.input[0], c.input[1]]) as usize;
            if c.input.len() < 2 + len {
                return;
            }
            let msg: Vec<u8> = c.input.drain(..2 + len).skip(2).collect();
            let key = c.key;
            let action = handle(&msg, 65535, &mut |name| self.lookup(name));
            match action {
                Action::Reply(r) => self.reply_on_conn(key, &r),
                Action::Forward(h, q) => {
                    self.conns[i].waiting = true;
                    self.forward(msg, h, q, Client::Tcp(key));
                }
                Action::Drop => self.conns[i].closed = true,
            }
        }
    }

    /// Queues a reply on the connection `key`, if it is still there (the run loop writes
    /// it).
    fn reply_on_conn(&mut self, key: u64, reply: &[u8]) {
        let Some(c) = self.conns.iter_mut().find(|c| c.key == key && !c.closed) else {
            return;
        };
        c.waiting = false;
        c.output
            .extend_from_slice(&(reply.len() as u16).to_be_bytes());
        c.output.extend_from_slice(reply);
        c.deadline = Instant::now() + TCP_IDLE;
    }

    fn answer(&mut self, client: Client, reply: &[u8]) {
        match client {
            Client::Udp(to) => {
                let _ = self.udp.send_to(reply, to);
            }
            Client::Tcp(key) => self.reply_on_conn(key, reply),
        }
    }

    fn fail(&mut self, client: Client, header: &Header, q: &Question, rcode: u8) {
        let limit = match client {
            Client::Udp(_) => UDP_LIMIT,
            Client::Tcp(_) => 65535,
        };
        let r = reply(header, q, rcode, &[], false, limit);
        self.answer(client, &r);
    }

    /// Sends `query` to the first upstream that takes it, from `first` on; `None` when
    /// none does.
    fn send_upstream(&self, query: &[u8], first: usize) -> Option<(usize, UdpSocket)> {
        for (i, up) in self.upstreams.iter().enumerate().skip(first) {
            let local: SocketAddr = match up {
                SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let sent = UdpSocket::bind(local).and_then(|s| {
                s.connect(up)?;
                s.set_nonblocking(true)?;
                s.send(query)?;
                Ok(s)
            });
            if let Ok(s) = sent {
                return Some((i, s));
            }
        }
        None
    }

    fn forward(&mut self, query: Vec<u8>, header: Header, question: Question, client: Client) {
        if self.forwards.len() >= MAX_FORWARDS {
            return self.fail(client, &header, &question, rcode::REFUSED);
        }
        match self.send_upstream(&query, 0) {
            Some((upstream, sock)) => self.forwards.push(Forward {
                sock,
                query,
                header,
                question,
                client,
                upstream,
                deadline: Instant::now() + FORWARD_TIMEOUT,
            }),
            None => self.fail(client, &header, &question, rcode::SERVFAIL),
        }
    }

    /// Tries the next upstream for forward `i`, or fails it; it is marked done
    /// (`upstream == usize::MAX`) when finished.
    fn retry(&mut self, i: usize) {
        let next = self.forwards[i].upstream + 1;
        match self.send_upstream(&self.forwards[i].query, next) {
            Some((upstream, sock)) => {
                let f = &mut self.forwards[i];
                f.sock = sock;
                f.upstream = upstream;
                f.deadline = Instant::now() + FORWARD_TIMEOUT;
            }
            None => {
                let f = &mut self.forwards[i];
                f.upstream = usize::MAX;
                let (client, header, question) = (f.client, f.header, f.question.clone());
                self.fail(client, &header, &question, rcode::SERVFAIL);
            }
        }
    }

    fn read_forward(&mut self, i: usize) {
        if self.forwards[i].upstream == usize::MAX {
            return;
        }
        loop {
            match self.forwards[i].sock.recv(&mut self.buf) {
                Ok(n) => {
                    let f = &self.forwards[i];
                    // Anything else on the socket (a late or forged datagram) is ignored.
                    if answers(&self.buf[..n], &f.header, &f.question) {
                        let (client, reply) = (f.client, self.buf[..n].to_vec());
                        self.forwards[i].upstream = usize::MAX;
                        self.answer(client, &reply);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                // Refused (ICMP port unreachable): the next server.
                Err(_) => return self.retry(i),
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        for i in 0..self.forwards.len() {
            if self.forwards[i].upstream != usize::MAX && self.forwards[i].deadline <= now {
                self.retry(i);
            }
        }
        self.forwards.retain(|f| f.upstream != usize::MAX);
        for c in &mut self.conns {
            if !c.waiting && c.deadline <= now {
                c.closed = true;
            }
        }
        self.conns.retain(|c| !c.closed);
    }
}

#[cfg(test)]
#[path = "dns_tests.rs"]
mod tests;
