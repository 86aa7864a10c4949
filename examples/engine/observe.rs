//! Commands that show containers without changing them: ps, logs, inspect, stats, top, port.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::time::Duration;

use cargohold::{Container, ContainerInspect, Engine, LogOptions, PortBinding, Reference, Stats};
use cargohold::{ContainerFilter, PortMapping};

use crate::format::{
    binary_size, docker_time, human_duration, human_size, parse_time, print_each, print_json,
    print_list, print_table,
};
use crate::template::Row;
use crate::{image, CmdResult, Failure, ENGINE_ERROR};

/// `ps`: running containers (`all`: every one), newest first, filtered as Docker filters.
pub(crate) fn ps(
    engine: &Engine,
    all: bool,
    quiet: bool,
    no_trunc: bool,
    filters: &[String],
    format: Option<&str>,
) -> CmdResult {
    let mut filter = ContainerFilter::new().all(all);
    for f in filters {
        filter = filter.parse(f)?;
    }
    let mut list = engine.containers().inspect_filtered(&filter)?;
    // newest first, as docker ps
    list.reverse();
    if quiet {
        for (c, _) in &list {
            println!("{}", if no_trunc { c.id() } else { c.short_id() });
        }
        return Ok(0);
    }
    let mut rows = Vec::with_capacity(list.len());
    for (c, info) in &list {
        let row = ps_row(c, info, no_trunc);
        rows.push(Row::new(row).labels(info.config.labels.clone()));
    }
    print_list(format, PS_TABLE, PS_HEADERS, &rows)?;
    Ok(0)
}

/// The fields of one container of `ps` (`.ID`, `.Image`, `.Command`, `.Status`, …).
pub(crate) fn ps_row(c: &Container, info: &ContainerInspect, no_trunc: bool) -> serde_json::Value {
    let mut cmd = std::iter::once(info.path.as_str())
        .chain(info.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    if !no_trunc && cmd.chars().count() > 20 {
        cmd = cmd.chars().take(19).collect::<String>() + "…";
    }
    let created = parse_time(&info.created)
        .map_or_else(String::new, |t| format!("{} ago", human_duration(t)));
    let st = &info.state;
    let labels = &info.config.labels;
    let mounts: Vec<&str> = info
        .mounts
        .iter()
        .map(|m| m.name.as_deref().unwrap_or(&m.source))
        .collect();
    let row = serde_json::json!({
        "ID": if no_trunc { c.id() } else { c.short_id() },
        // the short form, as docker ps prints `busybox:latest`
        "Image": c.image()
            .parse::<Reference>()
            .map_or_else(|_| c.image().to_owned(), |r| r.familiar()),
        "Command": format!("\"{cmd}\""),
        "CreatedAt": docker_time(&info.created),
        "RunningFor": created,
        "Ports": ps_ports(&info.network_settings.ports),
        "State": st.status.to_string(),
        "Status": st.status_text(),
        // without `--size`, as Docker's
        "Size": "0B",
        "Names": c.name(),
        "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Mounts": mounts.join(","),
        "Networks": info.network_settings.networks.keys().cloned().collect::<Vec<_>>().join(","),
        "LocalVolumes": info.mounts.iter().filter(|m| m.r#type == "volume").count().to_string(),
    });
    row
}

/// Docker's default `ps` format.
const PS_TABLE: &str = r"table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// The column headers of `ps`'s fields, as Docker's.
const PS_HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Label", "LABEL"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`, and `80/tcp`
/// for a port exposed but not published.
fn ps_ports(ports: &BTreeMap<String, Option<Vec<PortMapping>>>) -> String {
    let mut cells: Vec<((u16, String), String)> = Vec::new();
    for (port, mappings) in ports {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        let key = (num.parse::<u16>().unwrap_or(0), proto.to_owned());
        match mappings.as_deref() {
            None | Some([]) => cells.push((key, port.clone())),
            Some(list) => {
                for m in list {
                    cells.push((
                        key.clone(),
                        format!("{}:{}->{port}", m.host_ip, m.host_port),
                    ));
                }
            }
        }
    }
    cells.sort();
    cells
        .into_iter()
        .map(|(_, c)| c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `logs`: the container's json-file log, optionally followed until it exits; with
/// `--since/--until` only the entries between (Docker's timestamps, see [`timestamp`]).
pub(crate) fn logs_between(
    engine: &Engine,
    name: &str,
    follow: bool,
    tail: Option<&str>,
    timestamps: bool,
    (since, until): (Option<&str>, Option<&str>),
) -> CmdResult {
    let now = std::time::SystemTime::now();
    let since = since
        .map(|s| timestamp(s, now).ok_or_else(|| bad_time("--since", s)))
        .transpose()?;
    let until = until
        .map(|s| timestamp(s, now).ok_or_else(|| bad_time("--until", s)))
        .transpose()?;
    let c = engine.containers().get(name)?;
    let tail = match tail {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Failure::Usage(format!("invalid --tail value {n:?}")))?,
        ),
    };
    let opts = LogOptions {
        tail,
        follow,
        timestamps,
        since,
        until,
        ..LogOptions::default()
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    c.logs(&opts)?.copy_to(&mut out, &mut err)?;
    Ok(0)
}

/// `inspect`: containers, images, volumes or networks by name (only those of `kind` when
/// given: `container`, `image`, `volume`, `network`), as one JSON array, or each through
/// the template `format`.
pub(crate) fn inspect(
    engine: &Engine,
    names: &[String],
    format: Option<&str>,
    kind: Option<&str>,
) -> CmdResult {
    if let Some(k) = kind {
        if !matches!(k, "container" | "image" | "volume" | "network") {
            return Err(Failure::Usage(format!(
                "\"{k}\" is not a valid value for --type"
            )));
        }
    }
    let wants = |k: &str| kind.is_none_or(|want| want == k);
    let mut out = Vec::new();
    let mut failed = false;
    for name in names {
        if let Some(c) = wants("container")
            .then(|| engine.containers().get(name).ok())
            .flatten()
        {
            out.push(serde_json::to_value(c.inspect()?).expect("inspect serialises"));
        } else if let Some(i) = wants("image").then(|| engine.image(name).ok()).flatten() {
            out.push(image::image_json(engine, &i));
        } else if let Some(v) = wants("volume")
            .then(|| engine.volumes().inspect(name).ok())
            .flatten()
        {
            out.push(serde_json::to_value(v).expect("volume serialises"));
        } else if let Some(n) = wants("network")
            .then(|| engine.networks().inspect(name).ok())
            .flatten()
        {
            out.push(serde_json::to_value(n).expect("network serialises"));
        } else {
            failed = true;
            match kind {
                Some(k) => eprintln!("engine: Error: No such {k}: {name}"),
                None => eprintln!("engine: Error: No such object: {name}"),
            }
        }
    }
    match format {
        Some(f) if !f.trim().is_empty() => print_each(f, &out)?,
        _ => print_json(&out)?,
    }
    Ok(if failed { 1 } else { 0 })
}

/// `port`: every published port as `80/tcp -> 0.0.0.0:8080`; with a private port,
/// only its host addresses (`0.0.0.0:8080`).
pub(crate) fn port(engine: &Engine, name: &str, private: Option<&str>) -> CmdResult {
    let c = engine.containers().get(name)?;
    let mut ports = c.ports()?;
    ports.sort_by_key(|p| (p.container_port, p.protocol, p.host_ip, p.host_port));
    let host = |p: &PortBinding| {
        format!(
            "{}:{}",
            p.host_ip
                .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string()),
            p.host_port
        )
    };
    let Some(spec) = private else {
        for p in &ports {
            println!("{}/{} -> {}", p.container_port, p.protocol, host(p));
        }
        return Ok(0);
    };
    let (num, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let num: u16 = num
        .parse()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| Failure::Usage(format!("invalid port {spec:?}: not a port number")))?;
    if !matches!(proto, "tcp" | "udp") {
        return Err(Failure::Usage(format!(
            "invalid port {spec:?}: unknown protocol {proto:?} (tcp or udp)"
        )));
    }
    let hits: Vec<&PortBinding> = ports
        .iter()
        .filter(|p| p.container_port == num && p.protocol.to_string() == proto)
        .collect();
    if hits.is_empty() {
        return Err(Failure::Usage(format!(
            "no public port '{num}/{proto}' published for {name}"
        )));
    }
    for p in hits {
        println!("{}", host(p));
    }
    Ok(0)
}

/// `top`: the processes of a container, as `ps -ef` shows them.
pub(crate) fn top(engine: &Engine, name: &str) -> CmdResult {
    let top = engine.containers().get(name)?.top()?;
    let titles: [String; 6] = top
        .titles()
        .try_into()
        .map_err(|_| Failure::Usage("unexpected top columns".into()))?;
    let mut rows = vec![titles];
    for r in top.rows() {
        rows.push(
            r.try_into()
                .map_err(|_| Failure::Usage("unexpected top columns".into()))?,
        );
    }
    print_table(&rows);
    Ok(0)
}

/// How long `stats` measures CPU use over (Docker's daemon samples once a second).
const STATS_INTERVAL: Duration = Duration::from_millis(500);

/// `stats`: a table of resource use, redrawn every [`STATS_INTERVAL`] (`no_stream`: once).
pub(crate) fn stats(
    engine: &Engine,
    names: &[String],
    no_stream: bool,
    no_trunc: bool,
) -> CmdResult {
    let mut failed = false;
    let containers = stats_targets(engine, names, &mut failed)?;
    let host_memory = cargohold::host_memory();
    let mut first: Vec<Option<Stats>> = containers.iter().map(|c| c.stats().ok()).collect();
    loop {
        std::thread::sleep(STATS_INTERVAL);
        let mut rows = vec![[
            "CONTAINER ID".to_owned(),
            "NAME".into(),
            "CPU %".into(),
            "MEM USAGE / LIMIT".into(),
            "MEM %".into(),
            "NET I/O".into(),
            "BLOCK I/O".into(),
            "PIDS".into(),
        ]];
        let mut next = Vec::with_capacity(containers.len());
        for (c, before) in containers.iter().zip(&first) {
            let id = if no_trunc { c.id() } else { c.short_id() }.to_owned();
            let now = match c.stats() {
                Ok(s) => s,
                Err(e) => {
                    if no_stream {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                    let dash = || "--".to_owned();
                    let dashes = || "-- / --".to_owned();
                    let name = c.name().to_owned();
                    rows.push([
                        id,
                        name,
                        dash(),
                        dashes(),
                        dash(),
                        dashes(),
                        dashes(),
                        dash(),
                    ]);
                    next.push(None);
                    continue;
                }
            };
            rows.push(stats_row(id, c, before.as_ref(), &now, host_memory));
            next.push(Some(now));
        }
        if !no_stream {
            // Clear the screen and go home, as docker stats redraws.
            print!("\x1b[2J\x1b[H");
        }
        print_table(&rows);
        if no_stream {
            return Ok(if failed { ENGINE_ERROR } else { 0 });
        }
        let _ = io::stdout().flush();
        first = next;
    }
}

/// The containers `stats` shows: those named (an unknown one is reported and sets
/// `failed`), else every running or paused one.
fn stats_targets(
    engine: &Engine,
    names: &[String],
    failed: &mut bool,
) -> Result<Vec<Container>, Failure> {
    if names.is_empty() {
        return Ok(engine
            .containers()
            .list()?
            .into_iter()
            .filter(|c| c.inspect().is_ok_and(|i| i.state.running || i.state.paused))
            .collect());
    }
    let mut v = Vec::new();
    for n in names {
        match engine.containers().get(n) {
            Ok(c) => v.push(c),
            Err(e) => {
                *failed = true;
                eprintln!("engine: {e}");
            }
        }
    }
    Ok(v)
}

/// One row of `stats`: CPU use since `before`, memory against its limit (else the host's),
/// network and block I/O, pids.
fn stats_row(
    id: String,
    c: &Container,
    before: Option<&Stats>,
    now: &Stats,
    host_memory: Option<u64>,
) -> [String; 8] {
    let cpu = before.map_or(0.0, |b| now.cpu_percent(b));
    let limit = now.memory.limit.or(host_memory).unwrap_or(0);
    let mem_pct = if limit > 0 {
        now.memory.usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let (rx, tx) = now.network_bytes();
    let block = now.block_io.as_ref().map_or_else(
        || "-- / --".to_owned(),
        |b| {
            format!(
                "{} / {}",
                human_size(b.read_bytes),
                human_size(b.write_bytes)
            )
        },
    );
    [
        id,
        c.name().to_owned(),
        format!("{cpu:.2}%"),
        format!("{} / {}", binary_size(now.memory.usage), binary_size(limit)),
        format!("{mem_pct:.2}%"),
        format!("{} / {}", human_size(rx), human_size(tx)),
        block,
        now.pids.current.to_string(),
    ]
}

fn bad_time(flag: &str, value: &str) -> Failure {
    Failure::Usage(format!(
        "invalid value for \"{flag}\": failed to parse value as time or duration: {value:?}"
    ))
}

/// A point in time as Docker's `--since`/`--until` take it (its `timetypes.GetTimestamp`):
/// a Go duration before `now` (`10m`, `1h30m`, `1.5s`), RFC 3339 with `Z` or an offset,
/// a date and time without a zone (`2024-05-01`, `2024-05-01T12`, `…T12:00`,
/// `…T12:00:00`, taken as UTC), or a Unix time (`1714564800`, `1714564800.5`).
pub(crate) fn timestamp(value: &str, now: std::time::SystemTime) -> Option<std::time::SystemTime> {
    use std::time::UNIX_EPOCH;
    if value != "0" {
        if let Some(d) = go_duration(value) {
            return if d >= 0.0 {
                now.checked_sub(Duration::from_secs_f64(d))
            } else {
                now.checked_add(Duration::from_secs_f64(-d))
            };
        }
    }
    if value.contains('-') && value.len() >= 10 {
        let zoned = value.ends_with(['Z', 'z'])
            || value[10..].contains('+')
            || value[10..].rfind('-').is_some();
        if zoned {
            if let Some(utc) = value.strip_suffix(['Z', 'z']) {
                return humantime::parse_rfc3339_weak(&format!("{utc}Z")).ok();
            }
            // `…±HH:MM`: the local time, moved by the offset.
            let (local, zone) = value.split_at_checked(value.len().checked_sub(6)?)?;
            let (sign, hh_mm) = zone.split_at_checked(1)?;
            let (hh, mm) = hh_mm.split_once(':')?;
            let offset = hh.parse::<u64>().ok()? * 3600 + mm.parse::<u64>().ok()? * 60;
            let t = humantime::parse_rfc3339_weak(&format!("{local}Z")).ok()?;
            let offset = Duration::from_secs(offset);
            return match sign {
                "+" => t.checked_sub(offset),
                "-" => t.checked_add(offset),
                _ => None,
            };
        }
        let full = match value.len() {
            10 => format!("{value}T00:00:00Z"),
            13 => format!("{value}:00:00Z"),
            16 => format!("{value}:00Z"),
            _ => format!("{value}Z"),
        };
        return humantime::parse_rfc3339_weak(&full).ok();
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: u64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let nanos: u32 = format!("{frac:0<9}").parse().ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Go's `time.ParseDuration`, in seconds: `[-+]` then numbers with units (`ns`, `us`,
/// `µs`, `ms`, `s`, `m`, `h`).
fn go_duration(s: &str) -> Option<f64> {
    let (sign, mut rest) = match s.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[u..];
        total += num * unit;
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn timestamps_as_docker_parses_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s| timestamp(s, now).unwrap();
        assert_eq!(at("10m"), now - Duration::from_secs(600));
        assert_eq!(at("1h30m"), now - Duration::from_secs(5400));
        assert_eq!(at("1.5s"), now - Duration::from_millis(1500));
        assert_eq!(at("0"), UNIX_EPOCH);
        assert_eq!(
            at("1714564800.5"),
            UNIX_EPOCH + Duration::new(1_714_564_800, 500_000_000)
        );
        let t = UNIX_EPOCH + Duration::from_secs(1_714_564_800);
        assert_eq!(at("2024-05-01T12:00:00Z"), t);
        assert_eq!(at("2024-05-01T14:00:00+02:00"), t);
        assert_eq!(at("2024-05-01T12:00:00"), t);
        assert_eq!(at("2024-05-01T12"), t);
        assert_eq!(at("2024-05-01"), t - Duration::from_secs(12 * 3600));
        assert!(timestamp("yesterday", now).is_none());
        assert!(timestamp("10x", now).is_none());
    }
}
