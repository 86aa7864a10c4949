//! cgroup v1 file names and values: one hierarchy per controller (or per co-mounted group).

use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxDeviceCgroup, LinuxHugepageLimit, LinuxMemory,
};

use crate::sys::cgroup::{Controller, Setting};
use crate::{Error, Result};

/// `memory.*` writes. `kernel` and `kernelTCP` are ignored: kmem limits are deprecated and
/// the files are gone from recent kernels (runc ignores them too).
pub(super) fn memory(m: &LinuxMemory, out: &mut Vec<Setting>) -> Result<()> {
    if let Some(limit) = m.limit() {
        out.push(Setting::new(
            Controller::Memory,
            "memory.limit_in_bytes",
            limit,
        ));
    }
    if let Some(swap) = m.swap() {
        // As runc: the spec's swap is the total memory+swap limit. Hosts without swap
        // accounting have no memsw files; a swap equal to the limit (no swap at all) or -1
        // (unlimited) then means nothing and is skipped.
        let w = Setting::new(Controller::Memory, "memory.memsw.limit_in_bytes", swap);
        out.push(if swap == -1 || Some(swap) == m.limit() {
            w.optional()
        } else {
            w
        });
    }
    if let Some(r) = m.reservation() {
        out.push(Setting::new(
            Controller::Memory,
            "memory.soft_limit_in_bytes",
            r,
        ));
    }
    if let Some(s) = m.swappiness() {
        if s > 100 {
            return Err(Error::spec(
                "linux.resources.memory.swappiness",
                format!("{s} is not in 0..=100"),
            ));
        }
        out.push(Setting::new(Controller::Memory, "memory.swappiness", s));
    }
    if m.disable_oom_killer() == Some(true) {
        out.push(Setting::new(Controller::Memory, "memory.oom_control", 1));
    }
    Ok(())
}

/// `cpu.*` (shares, CFS quota/period, realtime) and `cpuset.*` writes.
pub(super) fn cpu(c: &LinuxCpu, out: &mut Vec<Setting>) {
    if let Some(s) = c.shares().filter(|&s| s != 0) {
        out.push(Setting::new(Controller::Cpu, "cpu.shares", s));
    }
    // The period first: the kernel checks the quota against the current period.
    if let Some(p) = c.period().filter(|&p| p != 0) {
        out.push(Setting::new(Controller::Cpu, "cpu.cfs_period_us", p));
    }
    if let Some(q) = c.quota().filter(|&q| q != 0) {
        out.push(Setting::new(Controller::Cpu, "cpu.cfs_quota_us", q));
    }
    if let Some(b) = c.burst() {
        out.push(Setting::new(Controller::Cpu, "cpu.cfs_burst_us", b));
    }
    if let Some(i) = c.idle() {
        out.push(Setting::new(Controller::Cpu, "cpu.idle", i));
    }
    // Realtime values of 0 mean "not set" (the spec's zero value).
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        out.push(Setting::new(Controller::Cpu, "cpu.rt_period_us", p));
    }
    if let Some(r) = c.realtime_runtime().filter(|&r| r != 0) {
        out.push(Setting::new(Controller::Cpu, "cpu.rt_runtime_us", r));
    }
    cpuset(c, out);
}

/// `cpuset.cpus` / `cpuset.mems`: the same names on v1 and v2.
pub(super) fn cpuset(c: &LinuxCpu, out: &mut Vec<Setting>) {
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(Controller::Cpuset, "cpuset.cpus", cpus));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(Controller::Cpuset, "cpuset.mems", mems));
    }
}

/// `blkio.*` writes: CFQ's `blkio.weight` where it exists, else BFQ's `blkio.bfq.weight`.
pub(super) fn blkio(b: &LinuxBlockIo, out: &mut Vec<Setting>) {
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        out.push(Setting::new(Controller::Blkio, "blkio.weight", w).or("blkio.bfq.weight"));
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        out.push(Setting::new(Controller::Blkio, "blkio.leaf_weight", w));
    }
    for d in b.weight_device().iter().flatten() {
        if let Some(w) = d.weight() {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            out.push(
                Setting::new(Controller::Blkio, "blkio.weight_device", v)
                    .or("blkio.bfq.weight_device"),
            );
        }
        if let Some(w) = d.leaf_weight() {
            let v = format!("{}:{} {w}", d.major(), d.minor());
            out.push(Setting::new(
                Controller::Blkio,
                "blkio.leaf_weight_device",
                v,
            ));
        }
    }
    let throttles = [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ];
    for (file, devs) in throttles {
        for d in devs.iter().flatten() {
            let v = format!("{}:{} {}", d.major(), d.minor(), d.rate());
            out.push(Setting::new(Controller::Blkio, file, v));
        }
    }
}

/// `hugetlb.<size>.limit_in_bytes` writes.
pub(super) fn hugetlb(limits: &[LinuxHugepageLimit], out: &mut Vec<Setting>) {
    for l in limits {
        let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
        out.push(Setting::new(Controller::Hugetlb, file, l.limit()));
    }
}

/// `devices.allow` / `devices.deny` writes, in the spec's order (later rules win, as in the
/// kernel's own list handling).
pub(super) fn devices(rules: &[LinuxDeviceCgroup], out: &mut Vec<Setting>) {
    for r in rules {
        let typ = r.typ().unwrap_or_default();
        let num = |n: Option<i64>| n.map_or_else(|| "*".to_string(), |n| n.to_string());
        let access = r
            .access()
            .as_deref()
            .filter(|a| !a.is_empty())
            .unwrap_or("rwm");
        let v = format!(
            "{} {}:{} {access}",
            typ.as_str(),
            num(r.major()),
            num(r.minor())
        );
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        out.push(Setting::new(Controller::Devices, file, v));
    }
}
