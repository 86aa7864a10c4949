//! cgroup v2 file names and values: one unified hierarchy.

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory};

use crate::sys::cgroup::{Controller, Setting};
use crate::{Error, Result};

/// A v1 limit (-1 = unlimited) as a v2 value.
fn max(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// `memory.*` writes. v2 has no swappiness and no way to disable the OOM killer per cgroup;
/// both are ignored (runc warns and ignores them too), as are the kernel memory limits.
pub(super) fn memory(m: &LinuxMemory, out: &mut Vec<Setting>) -> Result<()> {
    if let Some(limit) = m.limit() {
        out.push(Setting::new(Controller::Memory, "memory.max", max(limit)));
    }
    if let Some(swap) = m.swap() {
        // The spec's swap is memory+swap (v1 semantics); v2's memory.swap.max is swap only.
        let value = match (swap, m.limit()) {
            (-1, _) => "max".to_string(),
            (_, Some(limit)) if limit >= 0 => {
                if swap < limit {
                    return Err(Error::spec(
                        "linux.resources.memory.swap",
                        format!("{swap} is below the memory limit {limit}"),
                    ));
                }
                (swap - limit).to_string()
            }
            _ => {
                return Err(Error::spec(
                    "linux.resources.memory.swap",
                    "a swap limit needs a memory limit on cgroup v2",
                ))
            }
        };
        // Without swap accounting the file is absent; "no swap" or "unlimited" then mean nothing.
        let w = Setting::new(Controller::Memory, "memory.swap.max", &value);
        out.push(if value == "0" || value == "max" {
            w.optional()
        } else {
            w
        });
    }
    if let Some(r) = m.reservation() {
        out.push(Setting::new(Controller::Memory, "memory.low", max(r)));
    }
    Ok(())
}

/// runc's (and cgroups-rs's) conversion of v1 `cpu.shares` [2, 262144] to v2 `cpu.weight`
/// [1, 10000]: linear, so the default 1024 maps to 39 (not to v2's default 100).
pub(super) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// runc's conversion of a v1 blkio weight [10, 1000] to v2 `io.weight` [1, 10000].
pub(super) fn blkio_weight_to_io(w: u16) -> u64 {
    let w = u64::from(w.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// `cpu.weight`, `cpu.max`, `cpu.max.burst`, `cpu.idle` and `cpuset.*` writes.
pub(super) fn cpu(c: &LinuxCpu, out: &mut Vec<Setting>) -> Result<()> {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        out.push(Setting::new(
            Controller::Cpu,
            "cpu.weight",
            shares_to_weight(s),
        ));
    }
    let quota = c.quota().filter(|&q| q != 0);
    let period = c.period().filter(|&p| p != 0);
    if quota.is_some() || period.is_some() {
        let q = quota.map_or_else(|| "max".to_string(), max);
        // The kernel's default period; writing "max" alone would keep the current one, but
        // one write with both is simpler and what runc does.
        let p = period.unwrap_or(100_000);
        out.push(Setting::new(Controller::Cpu, "cpu.max", format!("{q} {p}")));
    }
    if let Some(b) = c.burst() {
        out.push(Setting::new(Controller::Cpu, "cpu.max.burst", b));
    }
    if let Some(i) = c.idle() {
        out.push(Setting::new(Controller::Cpu, "cpu.idle", i));
    }
    if c.realtime_period().unwrap_or(0) != 0 || c.realtime_runtime().unwrap_or(0) != 0 {
        return Err(Error::spec(
            "linux.resources.cpu.realtimeRuntime",
            "realtime scheduling limits need cgroup v1",
        ));
    }
    super::v1::cpuset(c, out);
    Ok(())
}

/// `io.weight` (or `io.bfq.weight`) and `io.max` writes.
pub(super) fn io(b: &LinuxBlockIo, out: &mut Vec<Setting>) {
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        // BFQ takes the v1 range as is; the default scheduler's io.weight is 1..10000.
        out.push(
            Setting::new(Controller::Blkio, "io.bfq.weight", w)
                .or_value("io.weight", blkio_weight_to_io(w)),
        );
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            out.push(Setting::new(Controller::Blkio, "io.bfq.weight", v));
        }
    }
    let throttles = [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ];
    for (key, devs) in throttles {
        for d in devs.iter().flatten() {
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            let v = format!("{}:{} {key}={rate}", d.major(), d.minor());
            out.push(Setting::new(Controller::Blkio, "io.max", v));
        }
    }
}

/// `hugetlb.<size>.max` writes.
pub(super) fn hugetlb(limits: &[LinuxHugepageLimit], out: &mut Vec<Setting>) {
    for l in limits {
        out.push(Setting::new(
            Controller::Hugetlb,
            format!("hugetlb.{}.max", l.page_size()),
            max(l.limit()),
        ));
    }
}
