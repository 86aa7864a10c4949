//! IPv4 subnets and address allocation (IPAM) for bridge and macvlan networks.
//!
//! Allocations live in the network's record (`<root>/networks/<name>.json`) and are only
//! made while the networks lock is held, so two containers starting at once never get the
//! same address.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 network in CIDR notation (`172.18.0.0/16`); the address is the network address
/// (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet {
    addr: Ipv4Addr,
    prefix_len: u8,
}

impl Subnet {
    /// The subnet `addr/prefix_len`.
    ///
    /// # Errors
    /// A description of the problem if `prefix_len` is above 32 or `addr` has host bits set.
    pub fn new(addr: Ipv4Addr, prefix_len: u8) -> Result<Subnet, String> {
        if prefix_len > 32 {
            return Err(format!("prefix length {prefix_len} is above 32"));
        }
        let s = Subnet { addr, prefix_len };
        if u32::from(addr) & !s.mask() != 0 {
            return Err(format!(
                "{addr}/{prefix_len} has host bits set (the network is {}/{prefix_len})",
                Ipv4Addr::from(u32::from(addr) & s.mask())
            ));
        }
        Ok(s)
    }

    /// The network address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    fn mask(&self) -> u32 {
        if self.prefix_len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix_len))
        }
    }

    /// The broadcast address (the last one).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    /// Whether `ip` is in the subnet.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two subnets share an address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.contains(other.addr) || other.contains(self.addr)
    }

    /// The first host address (the conventional gateway).
    pub fn first_host(&self) -> Option<Ipv4Addr> {
        (self.prefix_len <= 30).then(|| Ipv4Addr::from(u32::from(self.addr) + 1))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

impl FromStr for Subnet {
    type Err = String;

    /// Parses `a.b.c.d/n` (the host bits must be zero).
    fn from_str(s: &str) -> Result<Subnet, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| "expected an IPv4 network as a.b.c.d/len".to_owned())?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let prefix_len: u8 = p
            .parse()
            .map_err(|_| format!("{p:?} is not a prefix length"))?;
        Subnet::new(addr, prefix_len)
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The lowest address of `range` (inside `subnet`) that is neither `gateway`, nor the
/// network or broadcast address of `subnet`, nor in `used`.
pub(crate) fn allocate(
    subnet: &Subnet,
    range: Option<&Subnet>,
    gateway: Option<Ipv4Addr>,
    used: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let pool = range.unwrap_or(subnet);
    (u32::from(pool.addr)..=u32::from(pool.broadcast()))
        .map(Ipv4Addr::from)
        .find(|ip| {
            subnet.contains(*ip)
                && (subnet.prefix_len >= 31 || (*ip != subnet.addr && *ip != subnet.broadcast()))
                && Some(*ip) != gateway
                && !used.contains(ip)
        })
}

/// The pools Docker picks subnets of new networks from: 172.17–31.0.0/16, then
/// 192.168.0.0/16 in /20s.
pub(crate) fn default_pools() -> impl Iterator<Item = Subnet> {
    let b = (17..=31u8).map(|n| Subnet {
        addr: Ipv4Addr::new(172, n, 0, 0),
        prefix_len: 16,
    });
    let c = (0..16u8).map(|n| Subnet {
        addr: Ipv4Addr::new(192, 168, n * 16, 0),
        prefix_len: 20,
    });
    b.chain(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_cidrs() {
        let s: Subnet = "172.18.0.0/16".parse().unwrap();
        assert_eq!(s.to_string(), "172.18.0.0/16");
        assert_eq!(s.broadcast(), Ipv4Addr::new(172, 18, 255, 255));
        assert_eq!(s.first_host(), Some(Ipv4Addr::new(172, 18, 0, 1)));
        for bad in [
            "172.18.0.0",
            "172.18.0.1/16",
            "172.18.0.0/33",
            "300.1.1.1/8",
            "x/8",
            "",
        ] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad} was accepted");
        }
        let err = "10.1.2.3/8".parse::<Subnet>().unwrap_err();
        assert!(err.contains("10.0.0.0/8"), "{err}");
    }

    #[test]
    fn overlap() {
        let a: Subnet = "10.0.0.0/8".parse().unwrap();
        let b: Subnet = "10.5.0.0/16".parse().unwrap();
        let c: Subnet = "11.0.0.0/8".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        let all: Subnet = "0.0.0.0/0".parse().unwrap();
        assert!(all.overlaps(&c));
    }

    #[test]
    fn allocation_skips_reserved_and_used() {
        let s: Subnet = "10.9.0.0/29".parse().unwrap();
        let gw = Some(Ipv4Addr::new(10, 9, 0, 1));
        let mut used = BTreeSet::new();
        let mut got = Vec::new();
        while let Some(ip) = allocate(&s, None, gw, &used) {
            used.insert(ip);
            got.push(ip.octets()[3]);
        }
        assert_eq!(got, [2, 3, 4, 5, 6]);
        used.remove(&Ipv4Addr::new(10, 9, 0, 4));
        assert_eq!(
            allocate(&s, None, gw, &used),
            Some(Ipv4Addr::new(10, 9, 0, 4))
        );
        let range: Subnet = "10.9.0.4/30".parse().unwrap();
        let used = BTreeSet::new();
        assert_eq!(
            allocate(&s, Some(&range), gw, &used),
            Some(Ipv4Addr::new(10, 9, 0, 4))
        );
    }
}
