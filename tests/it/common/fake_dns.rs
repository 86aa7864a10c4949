//! A fake upstream DNS server for tests of the embedded DNS server, and ways to see that
//! the embedded one is gone.

use std::fs;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The address the fake upstream serves, on the test host's loopback.
pub const UPSTREAM: &str = "127.0.0.53";

/// The one name the fake upstream knows, and its address.
pub const OUTSIDE_NAME: &str = "outside.test";
pub const OUTSIDE_IP: [u8; 4] = [192, 0, 2, 7];

/// A UDP DNS server on `127.0.0.53:53` of the calling thread's network namespace:
/// `outside.test` has the A record 192.0.2.7, every other name is NXDOMAIN. It records the
/// names it was asked. Stops when dropped.
pub struct FakeUpstream {
    names: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeUpstream {
    pub fn start() -> FakeUpstream {
        let sock = UdpSocket::bind((UPSTREAM, 53)).expect("binding the fake upstream");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let names = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (n, s) = (Arc::clone(&names), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::Relaxed) {
                let Ok((len, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some((name, reply)) = answer(&buf[..len]) {
                    n.lock().unwrap().push(name);
                    let _ = sock.send_to(&reply, from);
                }
            }
        });
        FakeUpstream {
            names,
            stop,
            thread: Some(thread),
        }
    }

    /// The names asked so far (lower case, without the final dot).
    pub fn names(&self) -> Vec<String> {
        self.names.lock().unwrap().clone()
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The name asked in `query` and the fake's reply to it.
fn answer(query: &[u8]) -> Option<(String, Vec<u8>)> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let mut p = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(p)? as usize;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(p + 1..p + 1 + len)?).to_lowercase());
        p += 1 + len;
    }
    let qend = p + 5;
    let qtype = u16::from_be_bytes([*query.get(p + 1)?, *query.get(p + 2)?]);
    query.get(..qend)?;
    let name = labels.join(".");
    let known = name == OUTSIDE_NAME;
    let with_a = known && qtype == 1;
    let mut r = Vec::new();
    r.extend_from_slice(&query[..2]);
    // QR, RD copied, RA; NOERROR or NXDOMAIN
    r.push(0x80 | (query[2] & 0x01));
    r.push(0x80 | if known { 0 } else { 3 });
    r.extend_from_slice(&[0, 1, 0, u8::from(with_a), 0, 0, 0, 0]);
    r.extend_from_slice(&query[12..qend]);
    if with_a {
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        r.extend_from_slice(&OUTSIDE_IP);
    }
    Some((name, r))
}

/// The name of the thread that serves the embedded DNS server of container `id`.
pub fn thread_name(id: &str) -> String {
    format!("dns-{}", &id[..11])
}

/// Whether process `pid` has a thread named `name`.
pub fn has_thread(pid: u32, name: &str) -> bool {
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    rd.flatten()
        .any(|t| fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
}

/// Whether 127.0.0.11:53 is free (UDP and TCP) in the network namespace `ns`: nothing of
/// the embedded DNS server is left in it.
pub fn dns_port_free(ns: &OwnedFd) -> bool {
    let addr: SocketAddr = "127.0.0.11:53".parse().unwrap();
    cargohold::sys::netlink::in_netns(ns.as_fd(), || {
        Ok(UdpSocket::bind(addr).is_ok() && TcpListener::bind(addr).is_ok())
    })
    .unwrap()
}

/// A query (id 0x4242, RD) for the A records of `name`.
pub fn query(name: &str) -> Vec<u8> {
    let mut q = vec![0x42, 0x42, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in name.split('.') {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// The id, rcode and A records of a reply to a [`query`] (answers named by a pointer to
/// the question, as the embedded server writes them).
pub fn a_records(reply: &[u8]) -> (u16, u8, Vec<std::net::Ipv4Addr>) {
    let id = u16::from_be_bytes([reply[0], reply[1]]);
    let rcode = reply[3] & 0xf;
    let qd = u16::from_be_bytes([reply[4], reply[5]]);
    let an = u16::from_be_bytes([reply[6], reply[7]]);
    let mut p = 12;
    if qd == 1 {
        while reply[p] != 0 {
            p += 1 + reply[p] as usize;
        }
        p += 5;
    }
    let mut ips = Vec::new();
    for _ in 0..an {
        assert_eq!(&reply[p..p + 2], &[0xc0, 12]);
        let rtype = u16::from_be_bytes([reply[p + 2], reply[p + 3]]);
        let len = u16::from_be_bytes([reply[p + 10], reply[p + 11]]) as usize;
        if rtype == 1 && len == 4 {
            let d = &reply[p + 12..p + 16];
            ips.push(std::net::Ipv4Addr::new(d[0], d[1], d[2], d[3]));
        }
        p += 12 + len;
    }
    (id, rcode, ips)
}
