//! Container lifecycle commands: run, create, start, restart, pause, unpause, wait, rename,
//! exec, stop, kill, rm, commit, export, diff.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use cargohold::CommitOptions;
use cargohold::{
    Container, ContainerBuilder, Engine, Error, ExitStatus, Healthcheck, LogOptions, LogStream,
    Mount, PortBinding, Signal, Stdio, Ulimit,
};

use crate::cli::{ExecArgs, RunArgs};
use crate::format::{parse_bytes, write_archive};
use crate::tty::{self, RawMode};
use crate::{each, CmdResult, Failure, ENGINE_ERROR};

/// A usage error naming the flag, as Docker's command line words it.
pub(crate) fn flag_error(flag: &str, value: &str, why: impl std::fmt::Display) -> Failure {
    // parse_bytes's wording repeats the value: keep what follows it.
    let why = why.to_string();
    let why = why.rsplit_once("': ").map_or(why.as_str(), |(_, w)| w);
    Failure::Usage(format!(
        "invalid argument {value:?} for {flag:?} flag: {why}"
    ))
}

/// A flag's size value (`64m`).
fn size(flag: &str, value: &str) -> Result<u64, Failure> {
    parse_bytes(value).map_err(|e| match e {
        Failure::Usage(why) => flag_error(flag, value, why),
        e => e,
    })
}

/// A flag's integer value.
fn parse_int(flag: &str, value: &str) -> Result<i64, Failure> {
    value
        .trim()
        .parse()
        .map_err(|e: std::num::ParseIntError| flag_error(flag, value, e))
}

/// A flag's value that must not be negative.
fn non_negative(flag: &str, value: &str, n: i64) -> Result<u64, Failure> {
    u64::try_from(n).map_err(|_| flag_error(flag, value, "must not be negative"))
}

/// Our exit code for a container's: its own, or 128 + the signal that killed it.
pub(crate) fn exit_code(status: ExitStatus) -> u8 {
    u8::try_from(status.docker_code() & 0xff).unwrap_or(ENGINE_ERROR)
}

/// A builder with every setting of `run`/`create` but the attach ones (-d, -i, -t).
fn builder<'e>(engine: &'e Engine, a: &RunArgs) -> Result<ContainerBuilder<'e>, Failure> {
    let image = crate::image::image_for_run(engine, &a.image, a.pull)?;
    let mut b = engine.container(&image);
    // As Docker's client prints the warnings of a create.
    b.on_warning(|w| eprintln!("WARNING: {w}"));
    if let Some(n) = &a.name {
        b.name(n);
    }
    if let Some(ep) = &a.entrypoint {
        b.entrypoint([ep]);
    }
    b.args(&a.command);
    // As Docker: the files first, then -e (a later value wins).
    let mut env = Vec::new();
    for f in &a.env_file {
        env.extend(read_kv_file(f, true)?);
    }
    env.extend(a.env.iter().cloned());
    for e in &env {
        match e.split_once('=') {
            Some((k, v)) => {
                b.env(k, v);
            }
            None => {
                if let Some(v) = std::env::var_os(e) {
                    b.env(e, v);
                }
            }
        }
    }
    let mut labels = Vec::new();
    for f in &a.label_file {
        labels.extend(read_kv_file(f, false)?);
    }
    labels.extend(a.label.iter().cloned());
    for l in &labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        b.label(k, v);
    }
    for v in &a.volume {
        b.mount(Mount::from_volume_flag(v)?);
    }
    for t in &a.tmpfs {
        b.mount(Mount::from_tmpfs_flag(t)?);
    }
    for m in &a.mount {
        b.mount(Mount::from_mount_flag(m)?);
    }
    if let Some(w) = &a.workdir {
        b.current_dir(w);
    }
    if let Some(u) = &a.user {
        b.user(u);
    }
    if let Some(h) = &a.hostname {
        b.hostname(h);
    }
    if let Some(m) = &a.memory {
        b.memory_limit(size("-m, --memory", m)?);
    }
    if let Some(s) = &a.memory_swap {
        // -1 is unlimited swap; any other value is a size.
        let bytes = match s.trim() {
            "-1" => -1,
            _ => i64::try_from(size("--memory-swap", s)?)
                .map_err(|_| flag_error("--memory-swap", s, "value out of range"))?,
        };
        b.memory_swap(bytes);
    }
    if let Some(r) = &a.memory_reservation {
        b.memory_reservation(size("--memory-reservation", r)?);
    }
    if let Some(c) = &a.cpu_shares {
        let n = parse_int("-c, --cpu-shares", c)?;
        b.cpu_shares(non_negative("-c, --cpu-shares", c, n)?);
    }
    if let Some(q) = &a.cpu_quota {
        // -1 is no quota, as 0.
        match parse_int("--cpu-quota", q)? {
            -1 | 0 => b.cpu_quota(0),
            n => b.cpu_quota(non_negative("--cpu-quota", q, n)?),
        };
    }
    if let Some(p) = &a.cpu_period {
        let n = parse_int("--cpu-period", p)?;
        b.cpu_period(non_negative("--cpu-period", p, n)?);
    }
    if let Some(c) = &a.cpus {
        let cpus: f64 = c
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c >= 0.0)
            .ok_or_else(|| flag_error("--cpus", c, "not a non-negative decimal number"))?;
        b.cpus(cpus);
    }
    if let Some(p) = &a.pids_limit {
        // Docker takes 0 and any negative number as unlimited.
        let n = parse_int("--pids-limit", p)?;
        let max = u32::try_from(n.max(0))
            .map_err(|_| flag_error("--pids-limit", p, "value out of range"))?;
        b.pids_limit(max);
    }
    for c in &a.cap_add {
        b.cap_add(c);
    }
    for c in &a.cap_drop {
        b.cap_drop(c);
    }
    for o in &a.security_opt {
        b.security_opt(o);
    }
    for n in &a.network {
        b.network(n);
    }
    for alias in &a.network_alias {
        b.network_alias(alias);
    }
    for p in &a.publish {
        b.publish_port(p.parse::<PortBinding>()?);
    }
    b.publish_all(a.publish_all);
    for h in &a.add_host {
        let (name, ip) = parse_add_host(h)?;
        b.add_host(name, ip);
    }
    for d in &a.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(Failure::Usage(format!(
                "invalid argument {d:?} for \"--dns\" flag: not an IP address"
            )));
        }
        b.dns(d);
    }
    if let Some(sig) = &a.stop_signal {
        b.stop_signal(sig);
    }
    if let Some(t) = a.stop_timeout {
        b.stop_timeout(Duration::from_secs(t));
    }
    for u in &a.ulimit {
        let limit = u
            .parse::<Ulimit>()
            .map_err(|why| flag_error("--ulimit", u, why))?;
        b.ulimit(limit);
    }
    b.init(a.init);
    if let Some(hc) = healthcheck(a)? {
        b.healthcheck(hc);
    }
    b.restart(a.restart.parse()?)
        .read_only(a.read_only)
        .privileged(a.privileged)
        .auto_remove(a.rm);
    Ok(b)
}

/// The healthcheck of `--health-*` and `--no-healthcheck`, as Docker's client makes it:
/// none without them; `--health-cmd` is a `CMD-SHELL` test, the other flags alone keep
/// the image's test; `--no-healthcheck` is `NONE` and conflicts with the others.
fn healthcheck(a: &RunArgs) -> Result<Option<Healthcheck>, Failure> {
    let duration = |flag: &str, v: &Option<String>| -> Result<Duration, Failure> {
        let Some(v) = v else {
            return Ok(Duration::ZERO);
        };
        if v.trim_start().starts_with('-') && go_duration(v.trim_start_matches('-')).is_ok() {
            return Err(Failure::Usage(format!("{flag} cannot be negative")));
        }
        go_duration(v).map_err(|why| flag_error(flag, v, why))
    };
    let interval = duration("--health-interval", &a.health_interval)?;
    let timeout = duration("--health-timeout", &a.health_timeout)?;
    let start_period = duration("--health-start-period", &a.health_start_period)?;
    let start_interval = duration("--health-start-interval", &a.health_start_interval)?;
    let retries = match &a.health_retries {
        None => 0,
        Some(v) => {
            let n = parse_int("--health-retries", v)?;
            u32::try_from(n).map_err(|_| {
                Failure::Usage(if n < 0 {
                    "--health-retries cannot be negative".to_owned()
                } else {
                    format!("invalid argument {v:?} for \"--health-retries\" flag: out of range")
                })
            })?
        }
    };
    let cmd = a.health_cmd.as_deref().filter(|c| !c.is_empty());
    let any = cmd.is_some()
        || !interval.is_zero()
        || !timeout.is_zero()
        || !start_period.is_zero()
        || !start_interval.is_zero()
        || retries != 0;
    if a.no_healthcheck {
        if any {
            return Err(Failure::Usage(
                "--no-healthcheck conflicts with --health-* options".to_owned(),
            ));
        }
        return Ok(Some(Healthcheck::none()));
    }
    if !any {
        return Ok(None);
    }
    let base = cmd.map_or_else(Healthcheck::default, Healthcheck::shell);
    Ok(Some(
        base.interval(interval)
            .timeout(timeout)
            .start_period(start_period)
            .start_interval(start_interval)
            .retries(retries),
    ))
}

/// A duration as Go's `time.ParseDuration` reads it: `0`, or numbers with units (`ns`,
/// `us`/`µs`, `ms`, `s`, `m`, `h`), fractions allowed: `1s`, `1.5s`, `1m30s`, `500ms`.
pub(crate) fn go_duration(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let s2 = s.strip_prefix('+').unwrap_or(s);
    if s2 == "0" {
        return Ok(Duration::ZERO);
    }
    if s2.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = s2;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {s:?}"))?;
        let (num, tail) = rest.split_at(num_len);
        let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let digits = |d: &str| -> Result<u128, String> {
            if d.is_empty() {
                Ok(0)
            } else {
                d.parse::<u128>().map_err(|_| invalid())
            }
        };
        // Fraction digits past the nanosecond are dropped, as Go does.
        let frac = &frac[..frac.len().min(18)];
        let frac_ns = digits(frac)? * scale / 10u128.pow(frac.len() as u32);
        total = digits(whole)?
            .checked_mul(scale)
            .and_then(|n| n.checked_add(frac_ns))
            .and_then(|n| total.checked_add(n))
            .ok_or_else(invalid)?;
        rest = tail;
    }
    let nanos = u64::try_from(total).map_err(|_| invalid())?;
    Ok(Duration::from_nanos(nanos))
}

/// The lines of an `--env-file` or `--label-file`, as Docker reads them: blank lines and
/// `#` comments skipped, `KEY=VALUE` as is (the value untrimmed, no quotes taken off), a
/// key with white space refused; a `KEY` alone is, for `env`, `KEY=` the host's value
/// (left out when the host has none), else kept as is (an empty label).
fn read_kv_file(path: &Path, env: bool) -> Result<Vec<String>, Failure> {
    let data =
        std::fs::read(path).map_err(|e| Failure::Usage(format!("open {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in data.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(line).map_err(|_| {
            Failure::Usage(format!(
                "{} contains invalid utf8 bytes at line {}",
                path.display(),
                n + 1
            ))
        })?;
        let line = line
            .strip_prefix('\u{feff}')
            .filter(|_| n == 0)
            .unwrap_or(line);
        let line = line.trim_start().trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (line.trim_end(), None),
        };
        if key.is_empty() {
            return Err(Failure::Usage(format!(
                "invalid line {} of {}: no variable name",
                n + 1,
                path.display()
            )));
        }
        if key.contains(char::is_whitespace) {
            return Err(Failure::Usage(format!(
                "variable '{key}' contains whitespaces"
            )));
        }
        match value {
            Some(_) => out.push(line.to_owned()),
            None if env => {
                if let Ok(v) = std::env::var(key) {
                    out.push(format!("{key}={v}"));
                }
            }
            None => out.push(key.to_owned()),
        }
    }
    Ok(out)
}

/// A refused `--security-opt` (an unknown option, or a profile file that is not valid) as
/// a usage error naming the flag, as Docker does.
fn security_opt_flag(e: Error) -> Failure {
    match e {
        Error::InvalidContainerConfig {
            field: "security option",
            reason,
            ..
        } => Failure::Usage(format!("invalid --security-opt: {reason}")),
        Error::Seccomp { reason } => Failure::Usage(format!("invalid --security-opt: {reason}")),
        e => Failure::Engine(e),
    }
}

/// `--add-host NAME:IP` (or `NAME=IP`, as newer Docker takes it).
fn parse_add_host(spec: &str) -> Result<(String, std::net::Ipv4Addr), Failure> {
    let bad = |why: &str| {
        Failure::Usage(format!(
            "invalid argument {spec:?} for \"--add-host\" flag: {why}"
        ))
    };
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| bad("expected NAME:IP"))?;
    if name.is_empty() {
        return Err(bad("no host name"));
    }
    let ip = ip
        .parse()
        .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?;
    Ok((name.to_owned(), ip))
}

/// `create`: prints the new container's id.
pub(crate) fn create(engine: &Engine, a: &RunArgs) -> CmdResult {
    let c = builder(engine, a)?
        .tty(a.tty)
        // -i: its stdin stays open, for `start -a -i`.
        .stdin(if a.interactive {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .create()
        .map_err(security_opt_flag)?;
    println!("{}", c.id());
    Ok(0)
}

/// `run`: detached (prints the id), else attached to our stdio until it exits; its exit
/// code is ours.
pub(crate) fn run(engine: &Engine, a: &RunArgs) -> CmdResult {
    let mut b = builder(engine, a)?;
    if a.detach {
        // The monitor owns the container's stdio and logs; print the id, as Docker does.
        let c = b
            .tty(a.tty)
            .detach(true)
            .spawn()
            .map_err(security_opt_flag)?;
        println!("{}", c.id());
        return Ok(0);
    }
    b.tty(a.tty)
        .stdin(if a.interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut c = b.spawn().map_err(security_opt_flag)?;
    c.kill_on_drop(true);
    // With -it on a terminal, keys go to the container as typed (^C included), as Docker.
    let _raw = match c.take_terminal() {
        Some(term) => attach_terminal(File::from(term), a.interactive),
        None => None,
    };
    let status = c.wait()?;
    Ok(exit_code(status))
}

/// `start [-a] [-i]`: starts each container; with `-a` or `-i` (one container), follows
/// its output until it exits and returns its exit code; with `-i` and a container created
/// with `-i`, our stdin goes to the container's (its end ends the container's stdin, as
/// `docker start -a -i`). With a tty, a terminal stdin goes to raw mode and ctrl-p ctrl-q
/// detaches, leaving the container running.
pub(crate) fn start(
    engine: &Engine,
    attach: bool,
    interactive: bool,
    names: &[String],
) -> CmdResult {
    if attach || interactive {
        let [name] = names else {
            return Err(Failure::Usage(
                "you cannot start and attach multiple containers at once".to_owned(),
            ));
        };
        let c = engine.containers().get(name)?;
        let config = c.inspect()?.config;
        // Only what this run writes, opened before it starts: read to its end even when
        // `--rm` removes the container the moment it exits.
        let mut logs = c.logs(&LogOptions {
            follow: true,
            tail: Some(0),
            ..LogOptions::default()
        })?;
        c.start()?;
        let on_terminal = config.tty && tty::stdin_is_terminal();
        if on_terminal {
            // the container's terminal takes our terminal's size, now and when it changes
            let sized = c.clone();
            let _ = tty::follow_window_size(move |rows, cols| {
                let _ = sized.resize_tty(rows, cols);
            });
        }
        let raw = (interactive && config.open_stdin && on_terminal)
            .then(|| RawMode::enter().ok())
            .flatten();
        let raw = std::sync::Arc::new(std::sync::Mutex::new(raw));
        if interactive && config.open_stdin {
            let stdin = c.attach_stdin()?;
            let raw = std::sync::Arc::clone(&raw);
            let detach_keys = config.tty;
            std::thread::spawn(move || {
                if forward_stdin(stdin, detach_keys) {
                    // Detached: the container runs on; our terminal as it was.
                    // (stdout is flushed after each entry; its lock is the main thread's)
                    drop(raw.lock().map(|mut r| r.take()));
                    std::process::exit(0);
                }
            });
        }
        let mut out = io::stdout().lock();
        let mut err = io::stderr().lock();
        for entry in &mut logs {
            let entry = entry?;
            match entry.stream {
                LogStream::Stderr => err.write_all(&entry.log)?,
                _ => out.write_all(&entry.log)?,
            }
            out.flush()?;
        }
        out.flush()?;
        let status = c.wait()?;
        drop(raw.lock().map(|mut r| r.take()));
        return Ok(exit_code(status));
    }
    if let [name] = names {
        // One container: its error's exit code (127/126 for a command not in the image).
        engine.containers().get(name)?.start()?;
        println!("{name}");
        return Ok(0);
    }
    each(names, |name| {
        engine.containers().get(name)?.start()?;
        Ok(())
    })
}

/// `restart`: stops (after `time` seconds, else its stop timeout) and starts each.
pub(crate) fn restart(engine: &Engine, time: Option<u64>, names: &[String]) -> CmdResult {
    each(names, |name| {
        let c = engine.containers().get(name)?;
        c.restart(time.map_or_else(|| c.stop_timeout(), Duration::from_secs))?;
        Ok(())
    })
}

/// `pause`: freezes each.
pub(crate) fn pause(engine: &Engine, names: &[String]) -> CmdResult {
    each(names, |name| {
        engine.containers().get(name)?.pause()?;
        Ok(())
    })
}

/// `unpause`: thaws each.
pub(crate) fn unpause(engine: &Engine, names: &[String]) -> CmdResult {
    each(names, |name| {
        engine.containers().get(name)?.resume()?;
        Ok(())
    })
}

/// `wait`: prints the exit code of each once it has stopped.
pub(crate) fn wait(engine: &Engine, names: &[String]) -> CmdResult {
    let mut failed = false;
    for name in names {
        match engine.containers().get(name).and_then(|c| c.wait()) {
            Ok(status) => println!("{}", status.docker_code()),
            Err(e) => {
                failed = true;
                eprintln!("engine: {e}");
            }
        }
    }
    Ok(if failed { ENGINE_ERROR } else { 0 })
}

/// `rename CONTAINER NEW_NAME`.
pub(crate) fn rename(engine: &Engine, name: &str, new_name: &str) -> CmdResult {
    engine.containers().get(name)?.rename(new_name)?;
    Ok(0)
}

/// `exec`: runs a command in a running container; its exit code is ours.
pub(crate) fn exec(engine: &Engine, a: &ExecArgs) -> CmdResult {
    let c = engine.containers().get(&a.container)?;
    let mut x = c.exec(&a.command);
    for e in &a.env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        x.env(k, v);
    }
    if let Some(u) = &a.user {
        x.user(u);
    }
    if let Some(w) = &a.workdir {
        x.current_dir(w);
    }
    x.privileged(a.privileged);
    let _raw = (a.tty && a.interactive && tty::stdin_is_terminal())
        .then(|| RawMode::enter().ok())
        .flatten();
    x.tty(a.tty).stdin(if a.interactive {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    let status = x.status()?;
    drop(_raw);
    Ok(exit_code(status))
}

/// Copies the container's terminal to stdout and, with `-i`, stdin to it. With `-i` on a
/// host terminal, that terminal goes to raw mode (returned: restored when dropped) and the
/// pty takes its size.
pub(crate) fn attach_terminal(term: File, interactive: bool) -> Option<RawMode> {
    let mut raw = None;
    if tty::stdin_is_terminal() {
        if let Ok(pty) = term.try_clone() {
            let _ = tty::copy_window_size(pty);
        }
        if interactive {
            raw = RawMode::enter().ok();
        }
    }
    if interactive {
        if let Ok(mut w) = term.try_clone() {
            std::thread::spawn(move || {
                let _ = io::copy(&mut io::stdin().lock(), &mut w);
            });
        }
    }
    std::thread::spawn(move || {
        let mut term = term;
        let mut out = io::stdout();
        let mut buf = [0u8; 8192];
        // EIO once the container's side is closed
        while let Ok(n) = term.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                break;
            }
        }
    });
    raw
}

/// Copies our stdin into the container's until our stdin ends (then closes it) or, with
/// `detach_keys`, until ctrl-p ctrl-q (Docker's detach keys, not forwarded); returns
/// whether it detached.
fn forward_stdin(mut to: cargohold::ContainerStdin, detach_keys: bool) -> bool {
    let mut input = io::stdin().lock();
    if detach_keys {
        return cargohold::DetachKeys::default()
            .copy(&mut input, &mut to)
            .unwrap_or(false);
    }
    let _ = io::copy(&mut input, &mut to);
    false
}

/// `stop`: each with its stop signal (or `signal`), then SIGKILL after `time` seconds
/// (else its stop timeout).
pub(crate) fn stop(
    engine: &Engine,
    time: Option<u64>,
    signal: Option<&str>,
    names: &[String],
) -> CmdResult {
    each(names, |name| {
        let c = engine.containers().get(name)?;
        let timeout = time.map_or_else(|| c.stop_timeout(), Duration::from_secs);
        stop_one(&c, signal, timeout)
    })
}

fn stop_one(c: &Container, signal: Option<&str>, timeout: Duration) -> Result<(), Failure> {
    if !c.inspect()?.state.running {
        return Ok(());
    }
    // The signal (else the container's own stop signal), then SIGKILL after the timeout;
    // a manual stop: a detached container's monitor is told not to restart it.
    match signal {
        Some(signal) => c.stop_with(parse_signal(signal)?, timeout)?,
        None => c.stop(timeout)?,
    };
    Ok(())
}

/// A signal by number or name (`9`, `KILL`, `sigterm`, `SIGRTMIN+3`), as Docker takes it.
pub(crate) fn parse_signal(s: &str) -> Result<Signal, Failure> {
    s.parse()
        .map_err(|_| Failure::Usage(format!("invalid signal: {s}")))
}

/// `kill`: sends `signal` to each. SIGKILL goes through [`Container::kill`], which also
/// tells a detached container's monitor not to restart it.
pub(crate) fn kill(engine: &Engine, signal: &str, names: &[String]) -> CmdResult {
    let signal = parse_signal(signal)?;
    each(names, |name| {
        let c = engine.containers().get(name)?;
        if signal == Signal::KILL {
            c.kill()?;
        } else {
            c.signal(signal.as_raw())?;
        }
        Ok(())
    })
}

/// `rm`: removes each (`force`: killing a running one first).
pub(crate) fn rm(engine: &Engine, force: bool, names: &[String]) -> CmdResult {
    each(names, |name| {
        engine
            .containers()
            .get(name)?
            .remove(force)
            .map_err(|e| match e {
                Error::InvalidState { ref status, .. } if status == "running" => {
                    Failure::Usage(format!(
                "cannot remove container {name:?}: container is running: stop the container \
                 before removing or force remove (-f)"
            ))
                }
                e => e.into(),
            })
    })
}

/// `commit`: an image of the container's changes; prints its id.
pub(crate) fn commit(engine: &Engine, name: &str, opts: &CommitOptions) -> CmdResult {
    let image = engine.containers().get(name)?.commit(opts)?;
    println!("{}", image.id());
    Ok(0)
}

/// `export`: the container's file system as a tar, to a file or stdout.
pub(crate) fn export(engine: &Engine, name: &str, output: Option<PathBuf>) -> CmdResult {
    let c = engine.containers().get(name)?;
    write_archive(output, |out| c.export(out))
}

/// `diff`: the files added (`A`), changed (`C`) and deleted (`D`) in the container.
pub(crate) fn diff(engine: &Engine, name: &str) -> CmdResult {
    for change in engine.containers().get(name)?.diff()? {
        println!("{change}");
    }
    Ok(0)
}
