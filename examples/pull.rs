//! Pulls (and unpacks) or pushes one image with an engine root of its own: the command-line
//! face of [`Engine::pull_with`](cargohold::Engine::pull_with) and `push_with`, and what
//! `benches/pull.sh` times.
//!
//! ```text
//! cargo run --release --example pull -- pull <store-dir> <reference>
//! cargo run --release --example pull -- push <store-dir> <local-reference> [<remote-reference>]
//! ```
//! Plain HTTP is used for registries on localhost/127.0.0.0/8 only; add `--insecure host:port`
//! for another. `--jobs N` sets how many layers move at once (pull).

use std::process::ExitCode;

use cargohold::{Engine, Progress, PullOptions, PushOptions, Reference};

fn usage() -> ExitCode {
    eprintln!("usage: pull pull <store-dir> <reference> [--jobs N] [--insecure host:port]");
    eprintln!("       pull push <store-dir> <local-reference> [<remote-reference>] [--insecure host:port]");
    ExitCode::from(2)
}

fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut flag = |name: &str| -> Option<String> {
        let i = args.iter().position(|a| a == name)?;
        let v = args.get(i + 1).cloned();
        args.drain(i..(i + 2).min(args.len()));
        v
    };
    let jobs = flag("--jobs").map(|j| j.parse()).transpose()?;
    let insecure = flag("--insecure");
    let verbose = std::env::var_os("PULL_VERBOSE").is_some();
    let progress = move |p: &Progress| {
        if verbose && !matches!(p, Progress::LayerBytes { .. }) {
            eprintln!("{p:?}");
        }
    };
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["pull", store, reference] => {
            let engine = Engine::open(store)?;
            let mut o = PullOptions::new();
            if let Some(j) = jobs {
                o.jobs(j);
            }
            if let Some(i) = &insecure {
                o.insecure(i);
            }
            let image = engine.pull_with(reference, &o, &progress)?;
            let reference: Reference = reference.parse()?;
            println!("{} {}", reference, image.manifest_digest());
        }
        ["push", store, local, ref remote @ ..] if remote.len() <= 1 => {
            let engine = Engine::open(store)?;
            let local: Reference = local.parse()?;
            let target = match remote.first() {
                Some(r) => {
                    let r: Reference = r.parse()?;
                    engine.images().tag(&local, &r)?;
                    r
                }
                None => local,
            };
            let mut o = PushOptions::new();
            if let Some(i) = &insecure {
                o.insecure(i);
            }
            let digest = engine.push_with(&target.to_string(), &o, &progress)?;
            println!("{target} {digest}");
        }
        _ => return Ok(usage()),
    }
    Ok(ExitCode::SUCCESS)
}
