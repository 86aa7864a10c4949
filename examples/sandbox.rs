//! Runs one command sandboxed over a read-only view of a host directory: no network, a
//! tmpfs on /tmp, limits, a timeout, the output captured up to a cap.
//!
//! ```sh
//! cargo run --example sandbox -- [--timeout SECS] [--memory BYTES] [--pids N] \
//!     [--cpu SECS] [--output-limit BYTES] DIR COMMAND [ARG...]
//! sudo target/debug/examples/sandbox --timeout 5 --memory 268435456 / sh -c 'echo hi'
//! ```
//!
//! The command's output is written out as it was captured, then one line on stderr says
//! how it ended. The exit code is the command's; 128 + the signal that killed it; 124 when
//! the timeout did (as `timeout(1)`).

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use cargohold::Sandbox;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: Vec<(String, String)> = Vec::new();
    while args.first().is_some_and(|a| a.starts_with("--")) {
        let flag = args.remove(0);
        let Some(value) = (!args.is_empty()).then(|| args.remove(0)) else {
            return usage(&format!("{flag} needs a value"));
        };
        opts.push((flag, value));
    }
    if args.len() < 2 {
        return usage("a directory and a command are needed");
    }
    let mut sandbox = Sandbox::new(&args[0]);
    let s = sandbox.command(&args[1..]);
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
        "sandbox: {why}\nusage: sandbox [--timeout SECS] [--memory BYTES] [--pids N] [--cpu SECS] [--output-limit BYTES] DIR COMMAND [ARG...]"
    );
    ExitCode::from(125)
}
