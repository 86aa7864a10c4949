//! Go's `time.Duration` text, as Docker and Compose write and read durations
//! (`HEALTHCHECK --interval=1m30s`, `healthcheck.timeout: 1.5s`, Docker's "Health check
//! exceeded timeout (30s)"): [`parse`] is `time.ParseDuration` with Go's error texts,
//! [`format`] is `Duration.String`. Hand-written: humantime reads and writes another form
//! (`1m 30s`), and no kept crate does Go's.

use std::time::Duration;

/// Go's `time.ParseDuration`, in nanoseconds (signed), with Go's error texts
/// (`time: unknown unit "y" in duration "5y"`).
pub(crate) fn parse(s: &str) -> Result<i128, String> {
    let invalid = || format!("time: invalid duration {s:?}");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: i128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int, r) = rest.split_at(int_end);
        let (frac, r) = match r.strip_prefix('.') {
            Some(r) => {
                let e = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
                r.split_at(e)
            }
            None => ("", r),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_end = r
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(r.len());
        let (unit, r) = r.split_at(unit_end);
        let per: i128 = match unit {
            "" => return Err(format!("time: missing unit in duration {s:?}")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        let whole: i128 = if int.is_empty() {
            0
        } else {
            int.parse()
                .ok()
                .filter(|v: &i128| *v <= i64::MAX as i128)
                .ok_or_else(invalid)?
        };
        let mut v = whole.checked_mul(per).ok_or_else(invalid)?;
        let mut scale = per;
        for d in frac.bytes().take(30) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            v += i128::from(d - b'0') * scale;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as i128 {
            return Err(invalid());
        }
        rest = r;
    }
    Ok(if neg { -total } else { total })
}

/// Go's `time.Duration.String` of `d`: `0s`, `500ms`, `1.5µs`, `1m30s`, `1h0m0s`.
pub(crate) fn format(d: Duration) -> String {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    /// The integer part and, when not zero, `.` and the fraction without trailing zeros.
    fn frac(v: u64, prec: u32) -> String {
        let div = 10u64.pow(prec);
        let (int, f) = (v / div, v % div);
        if f == 0 {
            return int.to_string();
        }
        let digits = format!("{f:0width$}", width = prec as usize);
        format!("{int}.{}", digits.trim_end_matches('0'))
    }
    const SEC: u64 = 1_000_000_000;
    match ns {
        0 => "0s".to_owned(),
        n if n < 1_000 => format!("{n}ns"),
        n if n < 1_000_000 => format!("{}µs", frac(n, 3)),
        n if n < SEC => format!("{}ms", frac(n, 6)),
        n => {
            let secs = n / SEC;
            let s = format!("{}s", frac(secs % 60 * SEC + n % SEC, 9));
            let (m, h) = (secs / 60 % 60, secs / 3600);
            if h > 0 {
                format!("{h}h{m}m{s}")
            } else if secs >= 60 {
                format!("{m}m{s}")
            } else {
                s
            }
        }
    }
}
