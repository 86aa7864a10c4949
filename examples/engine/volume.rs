//! `volume` commands: create, ls, inspect, rm, prune.

use cargohold::Engine;

use crate::cli::VolumeCommand;
use crate::format::{human_size, print_json, print_table};
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
        VolumeCommand::Ls { quiet } => {
            let list = vols.list(&[])?;
            if quiet {
                for v in &list {
                    println!("{}", v.name());
                }
            } else {
                let mut rows = vec![["DRIVER".to_owned(), "VOLUME NAME".into()]];
                for v in &list {
                    rows.push([v.inspect().driver, v.name().to_owned()]);
                }
                print_table(&rows);
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
