//! NAT and isolation rules through nftables (`nft -f -`), in a table of our own,
//! `ip cargohold`, with four base chains (nat prerouting, output, postrouting; filter
//! forward) created on first use.
//!
//! Every rule carries a comment tag naming its owner, so it is removed by tag without
//! touching anyone else's rules: `n:<network id>` for a network's masquerade and isolation
//! rules, `c:<container id>:<network id>` (12 hex digits each) for a container's published
//! ports. When the last rule goes, the table goes too (its chains with it), so the ruleset
//! is as it was before.
//!
//! Each change is one `nft -f -` transaction: it applies whole or not at all.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::ipam::Subnet;
use super::ports::{PortBinding, Protocol};
use super::BRIDGE_PREFIX;
use crate::{Error, Result};

/// The table (family `ip`) holding every rule of ours.
pub(crate) const TABLE: &str = "cargohold";

const CHAINS: &str = "table ip cargohold {
  chain prerouting { type nat hook prerouting priority dstnat; policy accept; }
  chain output { type nat hook output priority -100; policy accept; }
  chain postrouting { type nat hook postrouting priority srcnat; policy accept; }
  chain forward { type filter hook forward priority filter; policy accept; }
}
";

/// The tag of a network's rules.
pub(crate) fn network_tag(network_id: &str) -> String {
    format!("n:{}", short(network_id))
}

/// The tag of a container's rules on a network.
pub(crate) fn endpoint_tag(container_id: &str, network_id: &str) -> String {
    format!("c:{}:{}", short(container_id), short(network_id))
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// The rules of a bridge network: masquerade what leaves its subnet for elsewhere, and
/// what reaches it through a published port from the host's loopback or from the subnet
/// itself (hairpin), so replies come back through the host.
///
/// And isolate it, as Docker's `DOCKER-ISOLATION-STAGE` chains do: drop what its bridge
/// forwards to another bridge of ours (another network, of this engine root or another).
/// Traffic among its own containers (bridged, or with `br_netfilter` leaving through the
/// bridge it entered) and to other interfaces passes, and so do connections to a published
/// port (DNATed, both ways), which Docker lets any network reach.
pub(crate) fn network_rules(bridge: &str, subnet: &Subnet) -> Vec<(&'static str, String)> {
    vec![
        (
            "forward",
            format!(
                "iifname \"{bridge}\" oifname != \"{bridge}\" oifname \"{BRIDGE_PREFIX}*\" \
                 ct status & dnat == 0 drop"
            ),
        ),
        (
            "postrouting",
            format!("ip saddr {subnet} oifname != \"{bridge}\" masquerade"),
        ),
        (
            "postrouting",
            format!(
                "oifname \"{bridge}\" ct status dnat ip saddr {{ 127.0.0.0/8, {subnet} }} masquerade"
            ),
        ),
    ]
}

/// The rules publishing `ports` of the container at `ip`: DNAT of traffic for the host
/// port arriving from outside (prerouting) and made on the host itself (output).
pub(crate) fn port_rules(ip: Ipv4Addr, ports: &[PortBinding]) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for p in ports {
        let dst = match p.host_ip {
            Some(h) => format!("ip daddr {h}"),
            None => "fib daddr type local".to_owned(),
        };
        let rule = format!(
            "{dst} {} dport {} dnat to {ip}:{}",
            p.protocol, p.host_port, p.container_port
        );
        out.push(("prerouting", rule.clone()));
        out.push(("output", rule));
    }
    out
}

fn nft(args: &[&str], stdin: Option<&str>) -> std::result::Result<String, String> {
    let mut cmd = Command::new("nft");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("running nft: {e}"))?;
    if let Some(s) = stdin {
        let mut w = child.stdin.take().expect("piped stdin");
        w.write_all(s.as_bytes())
            .map_err(|e| format!("writing to nft: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for nft: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Adds `rules` (chain, rule) tagged `tag`, creating the table and chains if needed.
pub(crate) fn add(op: &str, tag: &str, rules: &[(&str, String)]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut script = CHAINS.to_owned();
    for (chain, rule) in rules {
        script.push_str(&format!(
            "add rule ip {TABLE} {chain} {rule} comment \"{tag}\"\n"
        ));
    }
    nft(&["-f", "-"], Some(&script))
        .map(drop)
        .map_err(|reason| Error::Firewall {
            op: op.to_owned(),
            reason,
        })
}

/// A rule of our table: chain, handle, tag.
#[derive(Debug)]
pub(crate) struct Tagged {
    chain: String,
    handle: u64,
    pub(crate) tag: String,
    /// The port it publishes, if it is a container's DNAT rule.
    published: Option<PortBinding>,
}

/// The rules of our table (none if it does not exist).
pub(crate) fn list() -> Result<Vec<Tagged>> {
    let json = match nft(&["-j", "-a", "list", "table", "ip", TABLE], None) {
        Ok(j) => j,
        Err(e) if e.contains("No such file or directory") => return Ok(Vec::new()),
        Err(reason) => {
            return Err(Error::Firewall {
                op: "listing table ip cargohold".into(),
                reason,
            })
        }
    };
    let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| Error::Firewall {
        op: "listing table ip cargohold".into(),
        reason: format!("unreadable nft JSON: {e}"),
    })?;
    let mut out = Vec::new();
    for item in v["nftables"].as_array().into_iter().flatten() {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        out.push(Tagged {
            chain: rule["chain"].as_str().unwrap_or_default().to_owned(),
            handle: rule["handle"].as_u64().unwrap_or_default(),
            tag: rule["comment"].as_str().unwrap_or_default().to_owned(),
            published: published_port(rule),
        });
    }
    Ok(out)
}

/// The host port a rule of [`port_rules`] publishes (its host address, protocol and
/// port, with the container's port from its `dnat`), read from nft's JSON form of it.
fn published_port(rule: &serde_json::Value) -> Option<PortBinding> {
    let mut host_ip = None;
    let mut found = None;
    let mut container_port = 0;
    for e in rule["expr"].as_array()? {
        if let Some(port) = e["dnat"]["port"].as_u64() {
            container_port = u16::try_from(port).ok()?;
        }
        let m = &e["match"];
        let field = m["left"]["payload"]["field"].as_str();
        let protocol = m["left"]["payload"]["protocol"].as_str();
        match (protocol, field) {
            (Some("ip"), Some("daddr")) => host_ip = m["right"].as_str()?.parse().ok(),
            (Some(p), Some("dport")) => {
                let protocol = match p {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    _ => return None,
                };
                found = Some((protocol, u16::try_from(m["right"].as_u64()?).ok()?));
            }
            _ => {}
        }
    }
    let (protocol, host_port) = found?;
    Some(PortBinding {
        host_ip,
        host_port,
        container_port,
        protocol,
    })
}

/// The host ports published by the rules of every engine root sharing the calling thread's
/// network namespace (they share the table), with the tags of their rules: another root's
/// containers hold no socket on their ports, only these rules.
///
/// # Errors
/// [`Error::Firewall`] if the table cannot be read.
pub(crate) fn published() -> Result<Vec<(PortBinding, String)>> {
    Ok(list()?
        .into_iter()
        .filter(|r| r.chain == "prerouting")
        .filter_map(|r| Some((r.published?, r.tag)))
        .collect())
}

/// Removes every rule whose tag satisfies `doomed`, and the table once it holds no rule.
pub(crate) fn remove(op: &str, doomed: impl Fn(&str) -> bool) -> Result<()> {
    let rules = list()?;
    let (gone, kept): (Vec<_>, Vec<_>) = rules.iter().partition(|r| doomed(&r.tag));
    if gone.is_empty() && !kept.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    if kept.is_empty() {
        if gone.is_empty() && !table_exists() {
            return Ok(());
        }
        script.push_str(&format!("delete table ip {TABLE}\n"));
    } else {
        for r in gone {
            script.push_str(&format!(
                "delete rule ip {TABLE} {} handle {}\n",
                r.chain, r.handle
            ));
        }
    }
    nft(&["-f", "-"], Some(&script))
        .map(drop)
        .map_err(|reason| Error::Firewall {
            op: op.to_owned(),
            reason,
        })
}

fn table_exists() -> bool {
    nft(&["list", "table", "ip", TABLE], None).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_network_drops_what_it_forwards_to_another_bridge() {
        let subnet: Subnet = "172.18.0.0/16".parse().unwrap();
        let rules = network_rules("ch-0123456789ab", &subnet);
        let forward: Vec<_> = rules.iter().filter(|(c, _)| *c == "forward").collect();
        assert_eq!(
            forward,
            [&(
                "forward",
                "iifname \"ch-0123456789ab\" oifname != \"ch-0123456789ab\" oifname \"ch-*\" \
                 ct status & dnat == 0 drop"
                    .to_owned()
            )]
        );
        // added to the chain CHAINS declares, in the filter table's forward hook
        assert!(CHAINS.contains("chain forward { type filter hook forward priority filter;"));
    }

    #[test]
    fn published_ports_are_read_back_from_nft_json() {
        // nft -j's form of what `port_rules` writes (nft 1.0.6)
        let rule = |left: serde_json::Value, right: &str, proto: &str, port: u16| {
            serde_json::json!({"chain": "prerouting", "comment": "c:aaa:bbb", "expr": [
                {"match": {"op": "==", "left": left, "right": right}},
                {"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "dport"}},
                           "right": port}},
                {"dnat": {"addr": "172.17.0.2", "port": 80}}
            ]})
        };
        let fib = serde_json::json!({"fib": {"result": "type", "flags": ["daddr"]}});
        let ip = serde_json::json!({"payload": {"protocol": "ip", "field": "daddr"}});
        let all = published_port(&rule(fib, "local", "tcp", 8080)).unwrap();
        assert_eq!(all, PortBinding::tcp(8080, 80));
        let lo = published_port(&rule(ip, "127.0.0.1", "udp", 53)).unwrap();
        assert_eq!(lo.host_ip, Some(Ipv4Addr::LOCALHOST));
        assert_eq!((lo.protocol, lo.host_port), (Protocol::Udp, 53));
        // a network's masquerade rule publishes nothing
        let masq = serde_json::json!({"chain": "postrouting", "expr": [{"masquerade": null}]});
        assert_eq!(published_port(&masq), None);
    }
}
