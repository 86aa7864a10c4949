//! The short syntaxes of `ports` and `volumes` (`"127.0.0.1:8000-8001:80-81/udp"`,
//! `"./data:/data:ro"`) into their long forms, as compose-go reads them, and `ulimits`
//! (a number or `soft`/`hard`).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::de::{Scalar, Short};
use super::model::{BindOptions, Port, ServiceVolume, Ulimit, VolumeOptions, VolumeType};

impl Short for Port {
    const EXPECTING: &'static str = "a port spec or a port mapping";
    fn parse_short(s: &str) -> Result<Vec<Self>, String> {
        parse_ports(s).map_err(|e| format!("invalid port {s:?}: {e}"))
    }
}

/// A port number or a range of them (`80`, `8000-8010`), inclusive.
fn port_range(s: &str) -> Result<(u16, u16), String> {
    let one = |p: &str| -> Result<u16, String> {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0 || p == "0")
            .ok_or_else(|| format!("invalid port number {p:?}"))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(format!("invalid range {s:?}: end is before start"));
            }
            Ok((a, b))
        }
        None => one(s).map(|n| (n, n)),
    }
}

/// `[[HOST_IP:][HOST_PORTS]:]CONTAINER_PORTS[/PROTOCOL]`.
fn parse_ports(spec: &str) -> Result<Vec<Port>, String> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => match p {
            "tcp" | "udp" | "sctp" => (r, Some(p.to_owned())),
            _ => return Err(format!("invalid proto: {p}")),
        },
        None => (spec, None),
    };
    let (ip, ports) = if let Some(b) = rest.strip_prefix('[') {
        let (ip, after) = b.split_once(']').ok_or("unterminated IPv6 address")?;
        let after = after
            .strip_prefix(':')
            .ok_or("expected ':' after the host address")?;
        (Some(ip.to_owned()), after)
    } else {
        match rest.matches(':').count() {
            0 | 1 => (None, rest),
            _ => {
                let (ip, ports) = rest.split_once(':').ok_or("too many colons")?;
                let ports = if ports.matches(':').count() > 1 {
                    // An unbracketed IPv6 address: the last two fields are the ports.
                    let mut it = rest.rsplitn(3, ':');
                    let c = it.next().unwrap_or_default();
                    let h = it.next().unwrap_or_default();
                    let ip = it.next().unwrap_or_default();
                    return expand(Some(ip.to_owned()), h, c, protocol);
                } else {
                    ports
                };
                (Some(ip.to_owned()), ports)
            }
        }
    };
    let (host, container) = match ports.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", ports),
    };
    expand(ip, host, container, protocol)
}

/// One [`Port`] per container port of a range; a host range for one container port is
/// kept as a range (`published: 8000-8010`: any free one of them).
fn expand(
    ip: Option<String>,
    host: &str,
    container: &str,
    protocol: Option<String>,
) -> Result<Vec<Port>, String> {
    if container.is_empty() {
        return Err("no container port".into());
    }
    let ip = ip.filter(|s| !s.is_empty());
    let (c0, c1) = port_range(container)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(port_range(host)?)
    };
    let port = |target: u16, published: Option<String>| Port {
        mode: Some("ingress".into()),
        host_ip: ip.clone(),
        target,
        published,
        protocol: Some(protocol.clone().unwrap_or_else(|| "tcp".into())),
        ..Port::default()
    };
    match host_range {
        None => Ok((c0..=c1).map(|t| port(t, None)).collect()),
        Some((h0, h1)) if c0 == c1 => {
            let published = if h0 == h1 {
                h0.to_string()
            } else {
                format!("{h0}-{h1}")
            };
            Ok(vec![port(c0, Some(published))])
        }
        Some((h0, h1)) if h1 - h0 == c1 - c0 => Ok((c0..=c1)
            .zip(h0..=h1)
            .map(|(t, h)| port(t, Some(h.to_string())))
            .collect()),
        Some(_) => Err("host and container port ranges differ in size".into()),
    }
}

impl Short for ServiceVolume {
    const EXPECTING: &'static str = "a volume spec or a volume mapping";
    fn parse_short(s: &str) -> Result<Vec<Self>, String> {
        parse_volume(s)
            .map(|v| vec![v])
            .map_err(|e| format!("invalid volume {s:?}: {e}"))
    }
}

/// `[SOURCE:]TARGET[:MODE]`: a source that starts with `.`, `/` or `~` is a bind, any
/// other a named volume; none is an anonymous volume.
fn parse_volume(spec: &str) -> Result<ServiceVolume, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err("too many colons".into()),
    };
    if !target.starts_with('/') {
        return Err(format!("target {target:?} is not an absolute path"));
    }
    let source = source.filter(|s| !s.is_empty());
    let is_bind = source.is_some_and(|s| s.starts_with(['.', '/', '~']));
    let mut v = ServiceVolume {
        kind: if is_bind {
            VolumeType::Bind
        } else {
            VolumeType::Volume
        },
        source: source.map(str::to_owned),
        target: target.to_owned(),
        ..ServiceVolume::default()
    };
    if is_bind {
        v.bind = Some(BindOptions {
            create_host_path: Some(true),
            ..BindOptions::default()
        });
    }
    for opt in mode.into_iter().flat_map(|m| m.split(',')) {
        match opt {
            "ro" => v.read_only = true,
            "rw" => v.read_only = false,
            "z" | "Z" if is_bind => bind_opts(&mut v).selinux = Some(opt.to_owned()),
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" if is_bind => {
                bind_opts(&mut v).propagation = Some(opt.to_owned())
            }
            "nocopy" if !is_bind => {
                v.volume.get_or_insert_with(VolumeOptions::default).nocopy = Some(true)
            }
            "cached" | "delegated" | "consistent" => v.consistency = Some(opt.to_owned()),
            _ => return Err(format!("unknown option {opt:?}")),
        }
    }
    Ok(v)
}

fn bind_opts(v: &mut ServiceVolume) -> &mut BindOptions {
    v.bind.get_or_insert_with(BindOptions::default)
}

/// `ulimits.<name>`: one number for both limits, or `soft` and `hard`.
impl<'de> Deserialize<'de> for Ulimit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ulimit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a mapping with soft and hard")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ulimit, E> {
                Ok(Ulimit::new(v, v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ulimit, E> {
                let v = i64::try_from(v).map_err(|_| E::custom("ulimit out of range"))?;
                Ok(Ulimit::new(v, v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ulimit, E> {
                let n = v
                    .trim()
                    .parse()
                    .map_err(|_| E::custom(format!("invalid ulimit {v:?}")))?;
                Ok(Ulimit::new(n, n))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ulimit, A::Error> {
                let (mut soft, mut hard) = (None, None);
                while let Some(k) = map.next_key::<String>()? {
                    let v: Scalar = map.next_value()?;
                    let n: i64 = v
                        .0
                        .as_deref()
                        .and_then(|s| s.trim().parse().ok())
                        .ok_or_else(|| de::Error::custom(format!("invalid ulimit {:?}", v.0)))?;
                    match k.as_str() {
                        "soft" => soft = Some(n),
                        "hard" => hard = Some(n),
                        _ => return Err(de::Error::unknown_field(&k, &["soft", "hard"])),
                    }
                }
                match (soft, hard) {
                    (Some(soft), Some(hard)) => Ok(Ulimit { soft, hard }),
                    _ => Err(de::Error::custom("a ulimit needs both soft and hard")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(ip: Option<&str>, target: u16, published: Option<&str>, proto: &str) -> Port {
        Port {
            mode: Some("ingress".into()),
            host_ip: ip.map(Into::into),
            target,
            published: published.map(Into::into),
            protocol: Some(proto.into()),
            ..Port::default()
        }
    }

    #[test]
    fn short_ports() {
        let cases: &[(&str, Vec<Port>)] = &[
            ("80", vec![port(None, 80, None, "tcp")]),
            ("8080:80", vec![port(None, 80, Some("8080"), "tcp")]),
            ("53:53/udp", vec![port(None, 53, Some("53"), "udp")]),
            (
                "127.0.0.1:8080:80",
                vec![port(Some("127.0.0.1"), 80, Some("8080"), "tcp")],
            ),
            (
                "127.0.0.1::80",
                vec![port(Some("127.0.0.1"), 80, None, "tcp")],
            ),
            (
                "[::1]:8080:80",
                vec![port(Some("::1"), 80, Some("8080"), "tcp")],
            ),
            (
                "8000-8001:80-81",
                vec![
                    port(None, 80, Some("8000"), "tcp"),
                    port(None, 81, Some("8001"), "tcp"),
                ],
            ),
            (
                "3000-3001",
                vec![port(None, 3000, None, "tcp"), port(None, 3001, None, "tcp")],
            ),
            (
                "9090-9091:8080",
                vec![port(None, 8080, Some("9090-9091"), "tcp")],
            ),
        ];
        for (spec, want) in cases {
            assert_eq!(&Port::parse_short(spec).unwrap(), want, "{spec}");
        }
    }

    #[test]
    fn bad_ports_say_why() {
        let cases = [
            (
                "80:80:80/tcpx",
                "invalid port \"80:80:80/tcpx\": invalid proto: tcpx",
            ),
            (
                "8000-8002:80-81",
                "invalid port \"8000-8002:80-81\": host and container port ranges differ in size",
            ),
            (
                "70000",
                "invalid port \"70000\": invalid port number \"70000\"",
            ),
            (
                "81-80",
                "invalid port \"81-80\": invalid range \"81-80\": end is before start",
            ),
            ("8080:", "invalid port \"8080:\": no container port"),
        ];
        for (spec, want) in cases {
            assert_eq!(Port::parse_short(spec).unwrap_err(), want, "{spec}");
        }
    }

    #[test]
    fn short_volumes() {
        let v = parse_volume("data:/var/lib/data").unwrap();
        assert_eq!(v.kind, VolumeType::Volume);
        assert_eq!(v.source.as_deref(), Some("data"));
        assert_eq!(v.target, "/var/lib/data");
        assert!(!v.read_only && v.bind.is_none());

        let v = parse_volume("./site:/www:ro,z").unwrap();
        assert_eq!(v.kind, VolumeType::Bind);
        assert_eq!(v.source.as_deref(), Some("./site"));
        assert!(v.read_only);
        let b = v.bind.unwrap();
        assert_eq!(b.create_host_path, Some(true));
        assert_eq!(b.selinux.as_deref(), Some("z"));

        let v = parse_volume("/cache").unwrap();
        assert_eq!(
            (v.kind, v.source, v.target.as_str()),
            (VolumeType::Volume, None, "/cache")
        );

        let v = parse_volume("~/conf:/etc/app:rw").unwrap();
        assert_eq!(v.kind, VolumeType::Bind);
        assert!(!v.read_only);

        let v = parse_volume("data:/d:nocopy").unwrap();
        assert_eq!(v.volume.unwrap().nocopy, Some(true));

        for (spec, want) in [
            ("data:rel", "target \"rel\" is not an absolute path"),
            ("a:/b:bogus", "unknown option \"bogus\""),
            ("a:/b:ro:x", "too many colons"),
        ] {
            assert_eq!(parse_volume(spec).unwrap_err(), want, "{spec}");
        }
    }
}
