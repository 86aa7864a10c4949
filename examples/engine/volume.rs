//! `volume` commands: create, ls, inspect, rm, prune.

use cargohold::Engine;

use crate::cli::VolumeCommand;
use crate::format::{human_size, print_json, print_list};
use crate::template::Row;
use crate::{each, CmdResult};

/// `volume SUBCOMMAND`.
pub(crate) fn run(engine: &Engine, cmd: VolumeCommand) -> CmdResult {
    let vols = engine.volumes();
    match cmd {
        VolumeCommand::Create { label, name } => {
            let v = match name {
                Some(n) => vols.create(
                    &n,
                    label.iter().map(|l| {
                        let (k, v) = l.split_once('=').unwrap_or((l, ""));
                        (k.to_owned(), v.to_owned())
                    }),
                )?,
                None => vols.create_anonymous()?,
            };
            println!("{}", v.name());
        }
        VolumeCommand::Ls { quiet, format } => {
            let list = vols.list(&[])?;
            if quiet {
                for v in &list {
                    println!("{}", v.name());
                }
            } else {
                let rows: Vec<Row> = list.iter().map(volume_row).collect();
                print_list(format.as_deref(), VOLUME_TABLE, VOLUME_HEADERS, &rows)?;
            }
        }
        VolumeCommand::Inspect { names } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &names {
                match vols.inspect(n) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                }
            }
            print_json(&out)?;
            return Ok(if failed { 1 } else { 0 });
        }
        VolumeCommand::Rm { force, names } => {
            return each(&names, |n| {
                vols.remove(n, force)?;
                Ok(())
            });
        }
        VolumeCommand::Prune { .. } => {
            let p = vols.prune()?;
            if !p.volumes.is_empty() {
                println!("Deleted Volumes:");
                for v in &p.volumes {
                    println!("{v}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size(p.reclaimed));
        }
    }
    Ok(0)
}

/// Docker's default `volume ls` format.
const VOLUME_TABLE: &str = r"table {{.Driver}}\t{{.Name}}";

/// The column headers of `volume ls`'s fields, as Docker's.
const VOLUME_HEADERS: &[(&str, &str)] = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Label", "LABEL"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
];

/// A `volume ls` row: Docker's fields of a volume (`Links` and `Size` are N/A, as
/// Docker's without `system df -v`).
fn volume_row(v: &cargohold::Volume) -> Row {
    let labels = v.labels();
    Row::new(serde_json::json!({
        "Driver": v.inspect().driver,
        "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Links": "N/A",
        "Mountpoint": v.mountpoint(),
        "Name": v.name(),
        "Scope": "local",
        "Size": "N/A",
    }))
    .labels(labels.clone())
}
