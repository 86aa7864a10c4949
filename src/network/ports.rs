//! Published ports: the `-p [ip:][host:]container[/tcp|udp]` spec and the check that a
//! host port is free.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A port as Docker's `ExposedPorts` keys name it, `<port>/<protocol>`: an image's `80` is
/// `80/tcp`.
pub(crate) fn exposed_port_key(port: &str) -> String {
    if port.contains('/') {
        port.to_owned()
    } else {
        format!("{port}/tcp")
    }
}

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP (the default).
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// A container port published on the host, as `docker run -p` takes it.
///
/// ```
/// use cargohold::PortBinding;
/// let p: PortBinding = "127.0.0.1:8080:80/udp".parse().unwrap();
/// assert_eq!(p.host_port, 8080);
/// assert_eq!(p.to_string(), "127.0.0.1:8080:80/udp");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortBinding {
    /// The host address it is published on; `None` for every address of the host
    /// (`0.0.0.0`), loopback included.
    pub host_ip: Option<Ipv4Addr>,
    /// The host port; 0 picks a free one when the container starts (as `-p 80` and `-P`).
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl PortBinding {
    /// `host_port` on every host address to `container_port`, TCP.
    pub fn tcp(host_port: u16, container_port: u16) -> PortBinding {
        PortBinding {
            host_ip: None,
            host_port,
            container_port,
            protocol: Protocol::Tcp,
        }
    }

    /// `host_port` on every host address to `container_port`, UDP.
    pub fn udp(host_port: u16, container_port: u16) -> PortBinding {
        PortBinding {
            protocol: Protocol::Udp,
            ..PortBinding::tcp(host_port, container_port)
        }
    }

    /// Whether the two bindings claim the same host port (same protocol and port, on the
    /// same address or one of them on all addresses).
    pub fn conflicts(&self, other: &PortBinding) -> bool {
        self.protocol == other.protocol
            && self.host_port == other.host_port
            && self.host_port != 0
            && (self.host_ip.is_none() || other.host_ip.is_none() || self.host_ip == other.host_ip)
    }
}

impl fmt::Display for PortBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ip) = self.host_ip {
            write!(f, "{ip}:")?;
        }
        write!(
            f,
            "{}:{}/{}",
            self.host_port, self.container_port, self.protocol
        )
    }
}

impl FromStr for PortBinding {
    type Err = Error;

    /// Parses `[ip:][host_port:]container_port[/tcp|/udp]`: `80`, `8080:80`,
    /// `127.0.0.1:8080:80/udp`, `127.0.0.1::80` (a free host port on 127.0.0.1).
    fn from_str(spec: &str) -> Result<PortBinding> {
        let bad = |reason: String| Error::InvalidPortSpec {
            spec: spec.to_owned(),
            reason,
        };
        let (rest, protocol) = match spec.rsplit_once('/') {
            Some((r, "tcp")) => (r, Protocol::Tcp),
            Some((r, "udp")) => (r, Protocol::Udp),
            Some((_, p)) => return Err(bad(format!("unknown protocol {p:?} (tcp or udp)"))),
            None => (spec, Protocol::Tcp),
        };
        let port = |s: &str, what: &str, zero_ok: bool| -> Result<u16> {
            match s.parse::<u16>() {
                Ok(0) if !zero_ok => Err(bad(format!("{what} port 0 is not a port"))),
                Ok(p) => Ok(p),
                Err(_) if s.contains('-') => Err(bad("port ranges are not supported".into())),
                Err(_) => Err(bad(format!("{what} port {s:?} is not a number in 1-65535"))),
            }
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, ctr) = match parts.as_slice() {
            [c] => (None, "", *c),
            [h, c] => (None, *h, *c),
            [ip, h, c] => (Some(*ip), *h, *c),
            _ => {
                return Err(bad(
                    "expected [ip:][host_port:]container_port[/proto]".into()
                ))
            }
        };
        let host_ip = match ip {
            None | Some("") | Some("0.0.0.0") => None,
            Some(ip) => Some(
                ip.parse::<Ipv4Addr>()
                    .map_err(|_| bad(format!("{ip:?} is not an IPv4 address")))?,
            ),
        };
        let host_port = if host.is_empty() {
            0
        } else {
            port(host, "host", false)?
        };
        Ok(PortBinding {
            host_ip,
            host_port,
            container_port: port(ctr, "container", false)?,
            protocol,
        })
    }
}

/// Checks that the host port of `p` is free in the calling thread's network namespace by
/// binding it (and letting it go); with port 0, finds a free one. Returns the port.
pub(crate) fn probe(p: &PortBinding) -> Result<u16> {
    let addr = SocketAddrV4::new(p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), p.host_port);
    let r = match p.protocol {
        Protocol::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    };
    match r {
        Ok(a) => Ok(a.port()),
        Err(e) => Err(Error::PortInUse {
            binding: p.to_string(),
            by: format!("the host ({e})"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_as_docker_reads_them() {
        let p: PortBinding = "8080:80".parse().unwrap();
        assert_eq!(p, PortBinding::tcp(8080, 80));
        let p: PortBinding = "80".parse().unwrap();
        assert_eq!(p, PortBinding::tcp(0, 80));
        let p: PortBinding = "127.0.0.1::53/udp".parse().unwrap();
        assert_eq!(p.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!((p.host_port, p.container_port), (0, 53));
        assert_eq!(p.protocol, Protocol::Udp);
        let p: PortBinding = "0.0.0.0:1:2/tcp".parse().unwrap();
        assert_eq!(p, PortBinding::tcp(1, 2));
        assert_eq!(p.to_string(), "1:2/tcp");
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, want) in [
            ("8080:80/sctp", "unknown protocol"),
            ("80000:80", "host port"),
            ("8080:0", "container port 0"),
            ("x:8080:80", "not an IPv4 address"),
            ("1:2:3:4", "expected"),
            ("8000-8001:80-81", "ranges"),
            ("", "container port"),
        ] {
            match spec.parse::<PortBinding>() {
                Err(Error::InvalidPortSpec { spec: s, reason }) => {
                    assert_eq!(s, spec);
                    assert!(reason.contains(want), "{spec}: {reason}");
                }
                other => panic!("{spec}: {other:?}"),
            }
        }
    }

    #[test]
    fn conflicts() {
        let a = PortBinding::tcp(8080, 80);
        let mut b = PortBinding::tcp(8080, 81);
        assert!(a.conflicts(&b));
        b.host_ip = Some(Ipv4Addr::LOCALHOST);
        assert!(a.conflicts(&b));
        let mut c = b;
        c.host_ip = Some(Ipv4Addr::new(10, 0, 0, 1));
        assert!(!b.conflicts(&c));
        assert!(!a.conflicts(&PortBinding::udp(8080, 80)));
    }
}
