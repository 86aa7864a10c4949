//! Runs one command sandboxed over a read-only view of a host directory: no network, a
//! tmpfs on /tmp, limits, a timeout, the output captured up to a cap.
//!
//! ```sh
//! cargo run --example sandbox -- [--timeout SECS] [--memory BYTES] [--pids N] \
//!     [--cpu SECS] [--output-limit BYTES] DIR COMMAND [ARG...]
//! target/debug/examples/sandbox --timeout 5 / sh -c 'echo hi'
//! target/debug/examples/sandbox --image busybox --timeout 5 sh -c 'echo hi'
//! ```
//!
//! With `--image REFERENCE` the command runs over that image's files (of the default
//! engine root: `$CARGOHOLD_ROOT`, else `Engine::default_root()`) instead of a directory.
//!
//! The command's output is written out as it was captured, then one line on stderr says
//! how it ended. The exit code is the command's; 128 + the signal that killed it; 124 when
//! the timeout did (as `timeout(1)`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cargohold::Sandbox;

fn main() -> ExitCode {
    cargohold::init();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: Vec<(String, String)> = Vec::new();
    let mut image = None;
    while args.first().is_some_and(|a| a.starts_with("--")) {
        let flag = args.remove(0);
        let Some(value) = (!args.is_empty()).then(|| args.remove(0)) else {
            return usage(&format!("{flag} needs a value"));
        };
        if flag == "--image" {
            image = Some(value);
        } else {
            opts.push((flag, value));
        }
    }
    let mut sandbox = match &image {
        Some(reference) => {
            let found = cargohold::Engine::open_default()
                .and_then(|engine| engine.image(reference).map(|image| (engine, image)));
            match found {
                Ok((engine, image)) => Sandbox::image(&engine, &image),
                Err(e) => {
                    eprintln!("sandbox: {e}");
                    return ExitCode::from(125);
                }
            }
        }
        None if args.len() >= 2 => Sandbox::new(args.remove(0)),
        None => return usage("a directory and a command are needed"),
    };
    if args.is_empty() {
        return usage("a command is needed");
    }
    let s = sandbox.command(&args);
    for (flag, value) in &opts {
        let Ok(n) = value.parse::<u64>() else {
            return usage(&format!("{flag} {value:?}: not a number"));
        };
        match flag.as_str() {
            "--timeout" => s.timeout(Duration::from_secs(n)),
            "--memory" => s.memory(n as i64),
            "--pids" => s.pids(n as i64),
            "--cpu" => s.cpu_time(Duration::from_secs(n)),
            "--output-limit" => s.output_limit(n as usize),
            _ => return usage(&format!("unknown flag {flag}")),
        };
    }

    let out = match s.run() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("sandbox: {e}");
            return ExitCode::from(125);
        }
    };
    let _ = std::io::stdout().write_all(&out.stdout);
    let _ = std::io::stderr().write_all(&out.stderr);
    let code = match (out.status.code(), out.status.signal()) {
        _ if out.timed_out => 124,
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        (None, None) => 125,
    };
    eprintln!(
        "sandbox: {} after {:.3}s{}{}{}",
        if out.timed_out {
            "timed out".to_owned()
        } else if let Some(sig) = out.status.signal() {
            format!("killed by signal {sig}")
        } else {
            format!("exited with code {code}")
        },
        out.duration.as_secs_f64(),
        if out.oom_killed() { ", OOM killed" } else { "" },
        if out.stdout_truncated {
            ", stdout truncated"
        } else {
            ""
        },
        if out.stderr_truncated {
            ", stderr truncated"
        } else {
            ""
        },
    );
    ExitCode::from(u8::try_from(code).unwrap_or(125))
}

fn usage(why: &str) -> ExitCode {
    eprintln!(
        "sandbox: {why}\nusage: sandbox [--timeout SECS] [--memory BYTES] [--pids N] [--cpu SECS] [--output-limit BYTES] (DIR | --image REFERENCE) COMMAND [ARG...]"
    );
    ExitCode::from(125)
}
