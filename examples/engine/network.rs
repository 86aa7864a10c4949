//! `network` commands: create, ls, inspect, rm, connect, disconnect, prune.

use cargohold::{Driver, Engine, Network};

use crate::cli::NetworkCommand;
use crate::format::{docker_time, print_json, print_list};
use crate::template::Row;
use crate::{each, CmdResult, Failure, ENGINE_ERROR};

/// `network SUBCOMMAND`.
pub(crate) fn run(engine: &Engine, cmd: NetworkCommand) -> CmdResult {
    let nets = engine.networks();
    match cmd {
        NetworkCommand::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            opt,
            label,
            name,
        } => {
            let settings = Settings {
                subnet,
                gateway,
                ip_range,
                opt,
                label,
            };
            create(engine, &name, &driver, settings)?;
        }
        NetworkCommand::Ls {
            quiet,
            no_trunc,
            format,
        } => ls(engine, quiet, no_trunc, format.as_deref())?,
        NetworkCommand::Inspect { networks } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &networks {
                match nets.inspect(n) {
                    Ok(i) => out.push(i),
                    Err(e) => {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                }
            }
            print_json(&out)?;
            return Ok(if failed { ENGINE_ERROR } else { 0 });
        }
        NetworkCommand::Rm { networks } => {
            return each(&networks, |n| {
                nets.remove(n)?;
                Ok(())
            });
        }
        NetworkCommand::Connect {
            alias,
            network,
            container,
        } => {
            let aliases: Vec<&str> = alias.iter().map(String::as_str).collect();
            engine
                .containers()
                .get(&container)?
                .connect(&network, &aliases)?;
        }
        NetworkCommand::Disconnect { network, container } => {
            engine.containers().get(&container)?.disconnect(&network)?;
        }
        NetworkCommand::Prune { .. } => {
            let gone = nets.prune()?;
            // Also take down the bridges of networks left without containers (the default
            // one's included): they are otherwise kept, as Docker keeps docker0.
            nets.release_idle()?;
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for n in &gone {
                    println!("{n}");
                }
                println!();
            }
        }
    }
    Ok(0)
}

/// The flags of `network create` beyond its name and driver.
struct Settings {
    subnet: Option<String>,
    gateway: Option<String>,
    ip_range: Option<String>,
    opt: Vec<String>,
    label: Vec<String>,
}

/// `network create`: prints the new network's id.
fn create(engine: &Engine, name: &str, driver: &str, s: Settings) -> Result<(), Failure> {
    let driver: Driver = match driver {
        "bridge" | "macvlan" => driver.parse()?,
        _ => {
            return Err(Failure::Usage(format!(
                "invalid driver {driver:?} for network {name:?}: bridge or macvlan"
            )))
        }
    };
    let mut b = engine.network(name);
    b.driver(driver);
    if let Some(subnet) = s.subnet {
        b.subnet(subnet);
    }
    if let Some(gateway) = s.gateway {
        b.gateway(gateway);
    }
    if let Some(range) = s.ip_range {
        b.ip_range(range);
    }
    for o in &s.opt {
        let Some((k, v)) = o.split_once('=') else {
            return Err(Failure::Usage(format!(
                "invalid option {o:?} for network {name:?}: expected KEY=VALUE"
            )));
        };
        b.option(k, v);
    }
    for l in &s.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        b.label(k, v);
    }
    println!("{}", b.create()?.id());
    Ok(())
}

/// `network ls`: ids cut to 12 characters unless `no_trunc`.
fn ls(engine: &Engine, quiet: bool, no_trunc: bool, format: Option<&str>) -> Result<(), Failure> {
    let list = engine.networks().list()?;
    let id = |n: &Network| {
        let id = n.id();
        if no_trunc {
            id
        } else {
            &id[..id.len().min(12)]
        }
        .to_owned()
    };
    if quiet {
        for n in &list {
            println!("{}", id(n));
        }
        return Ok(());
    }
    let mut rows = Vec::with_capacity(list.len());
    for n in &list {
        let info = n.inspect();
        let labels = &info.labels;
        let row = serde_json::json!({
            "CreatedAt": docker_time(&info.created),
            "Driver": n.driver().to_string(),
            "ID": id(n),
            "IPv6": info.enable_ipv6.to_string(),
            "Internal": info.internal.to_string(),
            "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "Name": n.name(),
            "Scope": "local",
        });
        rows.push(Row::new(row).labels(labels.clone()));
    }
    print_list(format, NETWORK_TABLE, NETWORK_HEADERS, &rows)
}

/// Docker's default `network ls` format.
const NETWORK_TABLE: &str = r"table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}";

/// The column headers of `network ls`'s fields, as Docker's.
const NETWORK_HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("Label", "LABEL"),
    ("CreatedAt", "CREATED AT"),
];
