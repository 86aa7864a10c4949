//! A `Sandbox` run against bubblewrap (issue 15): the same command (`true`, or
//! `--cmd "sh -c ..."`) over the same host directory, from one program — ours through
//! `cargohold::Sandbox::run` in-process (as a library user calls it), bwrap as the process
//! a program would spawn (`bwrap --ro-bind DIR / --proc /proc --dev /dev --tmpfs /tmp
//! --unshare-all --die-with-parent --new-session CMD`: what a sandbox with no network and
//! a tmpfs for writes is in bwrap's words). Interleaved in a seeded random order per
//! iteration; median, p90, p99 and the ratio against the issue's target (<= 1.5x bwrap).
//!
//! ```text
//! cargo bench --bench sandboxloop -- [-n 300] [--warmup 20] [--dir /] [--bwrap /usr/bin/bwrap]
//! ```
//! As root or as any user (rootless, both sides run in a user namespace). Under plain
//! `cargo bench` it prints a note and exits.

#[path = "support.rs"]
mod support;
use support::*;

use std::process::{Command, Stdio};
use std::time::Instant;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Sandbox::run vs bwrap, the same command over the same directory")]
struct Cli {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[arg(short, long, default_value_t = 300)]
    n: usize,
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// The host directory both see read-only as their root.
    #[arg(long, default_value = "/")]
    dir: String,
    /// The command (split on spaces).
    #[arg(long, default_value = "true")]
    cmd: String,
    #[arg(long, default_value = "/usr/bin/bwrap")]
    bwrap: String,
    /// Seed of the per-iteration shuffle.
    #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
    seed: u64,
}

fn main() {
    let cli = Cli::parse();
    if cli.bench && std::env::args().len() <= 2 {
        eprintln!("sandboxloop: run it as `cargo bench --bench sandboxloop -- -n 300` (as root)");
        return;
    }
    let argv: Vec<&str> = cli.cmd.split(' ').collect();
    let ours = || {
        let out = cargohold::Sandbox::new(&cli.dir)
            .command(&argv)
            .run()
            .unwrap();
        assert!(
            out.success(),
            "sandbox: {:?} {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let bwrap = || {
        let st = Command::new(&cli.bwrap)
            .args([
                "--ro-bind",
                &cli.dir,
                "/",
                "--proc",
                "/proc",
                "--dev",
                "/dev",
            ])
            .args([
                "--tmpfs",
                "/tmp",
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
            ])
            .args(&argv)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "bwrap: {:?} {}",
            st.status,
            String::from_utf8_lossy(&st.stderr)
        );
    };
    let sides: [(&str, &dyn Fn()); 2] = [("sandbox", &ours), ("bwrap", &bwrap)];
    let mut samples = vec![Vec::new(); sides.len()];
    let mut rng = Rng(cli.seed);
    for it in 0..cli.warmup + cli.n {
        let mut order: Vec<usize> = (0..sides.len()).collect();
        rng.shuffle(&mut order);
        for i in order {
            let t0 = Instant::now();
            (sides[i].1)();
            if it >= cli.warmup {
                samples[i].push(ms(t0.elapsed()));
            }
        }
    }
    println!("| side | median ms | p90 | p99 | min | max |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let mut medians = Vec::new();
    for ((name, _), xs) in sides.iter().zip(&samples) {
        let s = Stats::of(xs).unwrap();
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            s.median, s.p90, s.p99, s.min, s.max
        );
        medians.push(s.median);
    }
    let r = medians[0] / medians[1];
    println!(
        "\nsandbox/bwrap median {r:.2}x (target <= 1.5x: {})",
        if r <= 1.5 { "met" } else { "MISSED" }
    );
}
