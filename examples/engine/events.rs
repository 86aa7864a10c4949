//! `events` (Docker's `docker events`) and `update` (`docker update`).

use std::io::Write;

use cargohold::{Engine, EventOptions, UpdateOptions};

use crate::cli::UpdateFlags;
use crate::container::flag_error;
use crate::{CmdResult, Failure};

/// `events`: the engine's events from `--since` (else from now) until `--until` (else
/// until interrupted), filtered, in Docker's line format or `--format`.
pub(crate) fn events(
    engine: &Engine,
    (since, until): (Option<&str>, Option<&str>),
    filters: &[String],
    format: Option<&str>,
) -> CmdResult {
    let now = std::time::SystemTime::now();
    let time = |flag: &str, v: &str| {
        crate::observe::timestamp(v, now).ok_or_else(|| {
            Failure::Usage(format!(
                "invalid value for \"{flag}\": failed to parse value as time or duration: {v:?}"
            ))
        })
    };
    let mut opts = EventOptions {
        since: since.map(|s| time("--since", s)).transpose()?,
        until: until.map(|u| time("--until", u)).transpose()?,
        follow: true,
        ..Default::default()
    };
    for f in filters {
        let Some((k, v)) = f.split_once('=') else {
            return Err(Failure::Usage(format!(
                "bad format of filter (expected name=value): {f}"
            )));
        };
        const KEYS: &[&str] = &[
            "container",
            "image",
            "event",
            "action",
            "type",
            "label",
            "volume",
            "network",
        ];
        if !KEYS.contains(&k) {
            return Err(Failure::Usage(format!("invalid filter '{k}'")));
        }
        opts.filters.push((k.to_owned(), v.to_owned()));
    }
    let template = match format {
        None | Some("") => None,
        Some("json") => Some(crate::template::Template::parse("{{json .}}")?),
        Some(f) => Some(crate::template::Template::parse(f)?),
    };
    let mut out = std::io::stdout().lock();
    for ev in engine.events(&opts)? {
        let ev = ev?;
        match &template {
            None => writeln!(out, "{ev}")?,
            Some(t) => {
                let value = serde_json::to_value(&ev).expect("an event serialises");
                let row = crate::template::Row::new(value);
                let text = t.execute(&row, crate::template::Missing::NoValue)?;
                writeln!(out, "{text}")?;
            }
        }
        out.flush()?;
    }
    Ok(0)
}

fn size(flag: &str, value: &str) -> Result<u64, Failure> {
    crate::format::parse_bytes(value).map_err(|e| match e {
        Failure::Usage(m) => flag_error(flag, value, m),
        e => e,
    })
}

fn int(flag: &str, value: &str) -> Result<i64, Failure> {
    value
        .trim()
        .parse()
        .map_err(|_| flag_error(flag, value, "invalid syntax"))
}

fn non_negative(flag: &str, value: &str) -> Result<u64, Failure> {
    u64::try_from(int(flag, value)?).map_err(|_| flag_error(flag, value, "must not be negative"))
}

impl UpdateFlags {
    /// The library's options, each flag checked for its syntax.
    fn options(&self) -> Result<UpdateOptions, Failure> {
        let mut o = UpdateOptions::default();
        if let Some(m) = &self.memory {
            o.memory = Some(size("-m, --memory", m)?);
        }
        if let Some(s) = &self.memory_swap {
            o.memory_swap = Some(match s.trim() {
                "-1" => -1,
                _ => i64::try_from(size("--memory-swap", s)?)
                    .map_err(|_| flag_error("--memory-swap", s, "value out of range"))?,
            });
        }
        if let Some(r) = &self.memory_reservation {
            o.memory_reservation = Some(size("--memory-reservation", r)?);
        }
        if let Some(c) = &self.cpus {
            let cpus: f64 = c
                .parse()
                .ok()
                .filter(|c: &f64| c.is_finite() && *c >= 0.0)
                .ok_or_else(|| flag_error("--cpus", c, "not a non-negative decimal number"))?;
            o.cpus = Some(cpus);
        }
        if let Some(c) = &self.cpu_shares {
            o.cpu_shares = Some(non_negative("-c, --cpu-shares", c)?);
        }
        if let Some(p) = &self.cpu_period {
            o.cpu_period = Some(non_negative("--cpu-period", p)?);
        }
        if let Some(q) = &self.cpu_quota {
            o.cpu_quota = Some(match int("--cpu-quota", q)? {
                -1 => 0,
                _ => non_negative("--cpu-quota", q)?,
            });
        }
        if let Some(p) = &self.pids_limit {
            o.pids_limit = Some(int("--pids-limit", p)?);
        }
        if let Some(r) = &self.restart {
            o.restart = Some(r.parse()?);
        }
        if o == UpdateOptions::default() {
            return Err(Failure::Usage(
                "you must provide one or more flags when using this command".into(),
            ));
        }
        Ok(o)
    }
}

/// `update`: changes each container's limits, printing its name as Docker does.
pub(crate) fn update(engine: &Engine, flags: &UpdateFlags, names: &[String]) -> CmdResult {
    let opts = flags.options()?;
    crate::each(names, |name| {
        let mut c = engine.containers().get(name)?;
        for w in c.update(&opts)? {
            eprintln!("WARNING: {w}");
        }
        Ok(())
    })
}
