//! Tables, JSON and Docker's human forms of sizes, ages and times.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use cargohold::Error;

use crate::{CmdResult, Failure};

/// Writes an archive (`save`, `export`) to `output`, whole or not at all (through a
/// `.partial` file renamed at the end), or to stdout, which must not be a terminal.
pub(crate) fn write_archive(
    output: Option<PathBuf>,
    write: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> CmdResult {
    let Some(path) = output else {
        if io::stdout().is_terminal() {
            return Err(Failure::Usage(
                "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
            ));
        }
        let mut out = BufWriter::new(io::stdout().lock());
        write(&mut out)?;
        out.flush()?;
        return Ok(0);
    };
    let tmp = path.with_extension("partial");
    let written = write_file(&tmp, &path, write);
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn write_file(
    tmp: &Path,
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> CmdResult {
    let mut out = BufWriter::new(File::create(tmp)?);
    write(&mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(tmp, path)?;
    Ok(0)
}

/// Prints `rows` as Docker's tables: columns left-aligned, three spaces apart.
pub(crate) fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Prints JSON as `docker inspect` does: an array, four-space indents.
pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // An I/O error keeps its kind (a closed stdout is BrokenPipe, which ends us quietly).
    v.serialize(&mut ser).map_err(|e| match e.io_error_kind() {
        Some(kind) => io::Error::from(kind),
        None => io::Error::other(e),
    })?;
    writeln!(out)
}

/// A time as the store and image configs write it: RFC 3339 in UTC (`2024-05-01T10:00:00Z`,
/// any fractional seconds, `+00:00` for `Z`, a space for the `T`). `None` for anything else,
/// and for times before 1970 such as Go's zero time (`0001-01-01T00:00:00Z`: "never").
pub(crate) fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s).ok()
}

/// How long ago `t` was, as `docker ps` and `docker images` print ages (`3 minutes`).
pub(crate) fn human_duration(t: SystemTime) -> String {
    cargohold::human_duration(SystemTime::now().duration_since(t).unwrap_or_default())
}

/// go-units' `HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// `64m`, `1g`, `512k`, `1048576` (as Docker's `--memory`: binary units).
pub(crate) fn parse_bytes(s: &str) -> Result<u64, Failure> {
    let bad = || Failure::Usage(format!("invalid size: '{s}'"));
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    let bytes = n * mult as f64;
    // No size fits in more than 63 bits (the kernel's limits are i64s).
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(Failure::Usage(format!(
            "invalid size: '{s}': value out of range"
        )));
    }
    Ok(bytes as u64)
}

/// go-units' `BytesSize`: binary units, four significant digits (`1.484MiB`, `64MiB`).
pub(crate) fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    let int_digits = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

impl From<crate::template::TemplateError> for Failure {
    /// Docker's words: `template parsing error: …` for a template that does not parse,
    /// Go's own for one that fails on the data (`template: :1:2: executing …`).
    fn from(e: crate::template::TemplateError) -> Self {
        if e.0.contains(": executing \"") {
            Failure::Usage(e.0)
        } else {
            Failure::Usage(format!("template parsing error: {}", e.0))
        }
    }
}

/// Prints `rows` with `format` (`--format`; `None`: the command's `default` table),
/// `headers` naming the columns of the command's fields.
pub(crate) fn print_list(
    format: Option<&str>,
    default: &str,
    headers: &'static [(&'static str, &'static str)],
    rows: &[crate::template::Row],
) -> Result<(), Failure> {
    let f = crate::template::ListFormat::parse(format, default, headers)?;
    let text = f.render(rows)?;
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `inspect -f`: `format` run on each JSON value, a line each (a missing key prints
/// `<no value>`, as Go's maps do).
pub(crate) fn print_each(format: &str, values: &[serde_json::Value]) -> Result<(), Failure> {
    let t = crate::template::Template::parse(format)?;
    let mut out = io::stdout().lock();
    for v in values {
        let row = crate::template::Row::new(v.clone());
        let text = t.execute(&row, crate::template::Missing::NoValue)?;
        writeln!(out, "{text}")?;
    }
    out.flush()?;
    Ok(())
}

/// A store time as Go prints a `time.Time` (`2024-05-01 10:00:00 +0000 UTC`), as Docker's
/// `CreatedAt` columns show it; the text as it is if it is not a time.
pub(crate) fn docker_time(s: &str) -> String {
    parse_time(s).map_or_else(
        || s.to_owned(),
        |t| {
            humantime::format_rfc3339_seconds(t)
                .to_string()
                .replacen('T', " ", 1)
                .replace('Z', " +0000 UTC")
        },
    )
}
