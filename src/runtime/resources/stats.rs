//! A container's cgroup statistics in the shape `runc events --stats` prints them
//! (runc's `types.Stats`), which containerd's go-runc decodes: the `data` of one `stats`
//! event. [`crate::sys::cgroup::CgroupStats`] is the short summary; this is the full
//! record, with `memory.stat` as is.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use serde::Serialize;

use super::super::Runtime;
use crate::sys::cgroup::{Cgroup, Controller};
use crate::{Error, Result};

/// A container's resource usage as runc's `events --stats` reports it (`data` of the
/// `{"type":"stats","id":..,"data":..}` event). Field names and units are runc's: bytes,
/// nanoseconds, counts. Absent controllers or files read as zero, as with runc.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EventStats {
    /// CPU time and CFS throttling.
    pub cpu: CpuStats,
    /// Memory, swap and kernel memory usage and limits, and `memory.stat`.
    pub memory: MemoryStats,
    /// Task count and limit.
    pub pids: PidsStats,
    /// Hugepage usage by page size (`"2MB"`), where the container has a hugetlb cgroup.
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// The `cpu` part of [`EventStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CpuStats {
    /// CPU time used.
    pub usage: CpuUsage,
    /// CFS bandwidth throttling.
    pub throttling: Throttling,
}

/// CPU time in nanoseconds (runc's `CpuUsage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CpuUsage {
    /// Total CPU time.
    pub total: u64,
    /// Per CPU (v1 `cpuacct.usage_percpu`; empty on v2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    /// In kernel mode.
    pub kernel: u64,
    /// In user mode.
    pub user: u64,
}

/// CFS throttling counters (runc's `Throttling`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Throttling {
    /// Enforcement periods elapsed.
    pub periods: u64,
    /// Periods in which the cgroup was throttled.
    pub throttled_periods: u64,
    /// Total time throttled, nanoseconds.
    pub throttled_time: u64,
}

/// The `memory` part of [`EventStats`] (runc's `Memory`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Page cache (`cache` of v1's `memory.stat`, `file` of v2's).
    pub cache: u64,
    /// Memory.
    pub usage: MemoryEntry,
    /// Memory+swap on v1, swap alone on v2 (as runc reports them).
    pub swap: MemoryEntry,
    /// Kernel memory (v1 `memory.kmem.*`; zero where the kernel has none).
    pub kernel: MemoryEntry,
    /// `memory.stat`, every key.
    pub raw: BTreeMap<String, u64>,
}

/// One memory counter (runc's `MemoryEntry`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MemoryEntry {
    /// The limit in bytes (v1's "unlimited" is its largest value; v2's `max` reads as
    /// `u64::MAX`, as runc reports it).
    pub limit: u64,
    /// Bytes in use.
    pub usage: u64,
    /// Peak bytes in use.
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

/// Task counts (runc's `Pids`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PidsStats {
    /// Tasks in the cgroup.
    pub current: u64,
    /// The limit; 0 when unlimited.
    pub limit: u64,
}

/// Hugepage usage of one page size (runc's `Hugetlb`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HugetlbStats {
    /// Bytes in use.
    pub usage: u64,
    /// Peak bytes in use (v1; v2 has no such counter).
    pub max: u64,
    /// How often the limit was hit.
    pub failcnt: u64,
}

impl Runtime {
    /// The container's cgroup statistics as `runc events --stats` prints them.
    ///
    /// # Errors
    /// The container does not exist, its cgroup is gone, or a control file it has cannot
    /// be read (the error names it).
    pub fn event_stats(&self, id: &str) -> Result<EventStats> {
        let (_, rec) = self.load(id)?;
        read(&Cgroup::open(&rec.cgroup_path)?)
    }
}

/// Reads `dir/name`; `None` if it does not exist.
fn read_opt(dir: &Path, name: &str) -> Result<Option<String>> {
    let p = dir.join(name);
    match fs::read_to_string(&p) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::os("reading cgroup statistics", p, e)),
    }
}

/// A number file; `max` is `u64::MAX`, absent or unparsable 0.
fn num(dir: &Path, name: &str) -> Result<u64> {
    Ok(read_opt(dir, name)?.map_or(0, |s| parse(s.trim())))
}

fn parse(s: &str) -> u64 {
    if s == "max" {
        u64::MAX
    } else {
        s.parse().unwrap_or(0)
    }
}

/// A flat-keyed file (`key value` lines) as a map.
fn keyed(dir: &Path, name: &str) -> Result<BTreeMap<String, u64>> {
    Ok(read_opt(dir, name)?
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_owned(), parse(v.trim())))
        })
        .collect())
}

/// The statistics of `cg` from its control files (v1 or v2 names, per controller).
pub(crate) fn read(cg: &Cgroup) -> Result<EventStats> {
    let mut s = EventStats::default();
    if let Some(d) = cg.dir(Controller::Memory) {
        s.memory = memory(d, cg.uses_v2(Controller::Memory))?;
    }
    cpu(cg, &mut s.cpu)?;
    if let Some(d) = cg.dir(Controller::Pids) {
        s.pids.current = num(d, "pids.current")?;
        s.pids.limit = match num(d, "pids.max")? {
            u64::MAX => 0,
            n => n,
        };
    }
    if let Some(d) = cg.dir(Controller::Hugetlb) {
        s.hugetlb = hugetlb(d, cg.uses_v2(Controller::Hugetlb))?;
    }
    Ok(s)
}

/// The memory controller's statistics in directory `d`.
fn memory(d: &Path, v2: bool) -> Result<MemoryStats> {
    let mut m = MemoryStats {
        raw: keyed(d, "memory.stat")?,
        ..MemoryStats::default()
    };
    // v2: `prefix.max`, `.current`, `.peak` and the `max` count of `.events`; v1: the
    // `limit_in_bytes`, `usage_in_bytes`, `max_usage_in_bytes` and `failcnt` files.
    let [limit, usage, max] = if v2 {
        ["max", "current", "peak"]
    } else {
        ["limit_in_bytes", "usage_in_bytes", "max_usage_in_bytes"]
    };
    let entry = |prefix: &str| -> Result<MemoryEntry> {
        let file = |name: &str| format!("{prefix}.{name}");
        Ok(MemoryEntry {
            limit: num(d, &file(limit))?,
            usage: num(d, &file(usage))?,
            max: num(d, &file(max))?,
            failcnt: if v2 {
                keyed(d, &file("events"))?.get("max").copied().unwrap_or(0)
            } else {
                num(d, &file("failcnt"))?
            },
        })
    };
    m.usage = entry("memory")?;
    if v2 {
        m.cache = m.raw.get("file").copied().unwrap_or(0);
        m.swap = entry("memory.swap")?;
    } else {
        m.cache = m.raw.get("cache").copied().unwrap_or(0);
        m.swap = entry("memory.memsw")?;
        m.kernel = entry("memory.kmem")?;
    }
    Ok(m)
}

/// CPU usage (cpuacct on v1, `cpu.stat` on v2) and CFS throttling.
fn cpu(cg: &Cgroup, c: &mut CpuStats) -> Result<()> {
    if cg.uses_v2(Controller::Cpuacct) {
        if let Some(d) = cg.dir(Controller::Cpuacct) {
            let t = keyed(d, "cpu.stat")?;
            let us = |k: &str| t.get(k).copied().unwrap_or(0) * 1000;
            c.usage.total = us("usage_usec");
            c.usage.user = us("user_usec");
            c.usage.kernel = us("system_usec");
            c.throttling = Throttling {
                periods: t.get("nr_periods").copied().unwrap_or(0),
                throttled_periods: t.get("nr_throttled").copied().unwrap_or(0),
                throttled_time: us("throttled_usec"),
            };
        }
        return Ok(());
    }
    if let Some(d) = cg.dir(Controller::Cpuacct) {
        let u = &mut c.usage;
        u.percpu = read_opt(d, "cpuacct.usage_percpu")?
            .unwrap_or_default()
            .split_whitespace()
            .map(parse)
            .collect();
        match (
            read_opt(d, "cpuacct.usage_user")?,
            read_opt(d, "cpuacct.usage_sys")?,
        ) {
            (Some(user), Some(sys)) => {
                u.user = parse(user.trim());
                u.kernel = parse(sys.trim());
            }
            _ => {
                // cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
                let t = keyed(d, "cpuacct.stat")?;
                u.user = t.get("user").copied().unwrap_or(0) * 10_000_000;
                u.kernel = t.get("system").copied().unwrap_or(0) * 10_000_000;
            }
        }
        // The total after the split: the kernel's total is the sum of the split counters,
        // so read later it is never below them.
        u.total = num(d, "cpuacct.usage")?;
    }
    if let Some(d) = cg.dir(Controller::Cpu) {
        let t = keyed(d, "cpu.stat")?;
        c.throttling = Throttling {
            periods: t.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: t.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: t.get("throttled_time").copied().unwrap_or(0),
        };
    }
    Ok(())
}

/// Hugepage usage per page size (`2MB`, `1GB`, ...), sorted by size name.
fn hugetlb(d: &Path, v2: bool) -> Result<BTreeMap<String, HugetlbStats>> {
    let mut sizes: Vec<String> = fs::read_dir(d)
        .map_err(|e| Error::os("reading cgroup statistics", d, e))?
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?;
            let size = if v2 {
                size.strip_suffix(".current")?
            } else {
                size.strip_suffix(".usage_in_bytes")?
            };
            Some(size.to_owned())
        })
        .collect();
    sizes.sort();
    let mut out = BTreeMap::new();
    for size in sizes {
        let h = if v2 {
            HugetlbStats {
                usage: num(d, &format!("hugetlb.{size}.current"))?,
                max: 0,
                failcnt: keyed(d, &format!("hugetlb.{size}.events"))?
                    .get("max")
                    .copied()
                    .unwrap_or(0),
            }
        } else {
            HugetlbStats {
                usage: num(d, &format!("hugetlb.{size}.usage_in_bytes"))?,
                max: num(d, &format!("hugetlb.{size}.max_usage_in_bytes"))?,
                failcnt: num(d, &format!("hugetlb.{size}.failcnt"))?,
            }
        };
        out.insert(size, h);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cgroup::fake::{fake_v1, fake_v2};
    use std::sync::Arc;

    fn put(dir: &Path, files: &[(&str, &str)]) {
        for (f, v) in files {
            fs::write(dir.join(f), v).unwrap();
        }
    }

    #[test]
    fn v1_files_in_runcs_shape() {
        let tmp = tempfile::tempdir().unwrap();
        let l = fake_v1(tmp.path(), true, false);
        let cg = Cgroup::create_in(Arc::clone(&l), "/c", &[]).unwrap();
        let d = |c: &str| tmp.path().join(c).join("c");
        put(
            &d("memory"),
            &[
                ("memory.usage_in_bytes", "4096\n"),
                ("memory.limit_in_bytes", "67108864\n"),
                ("memory.max_usage_in_bytes", "8192\n"),
                ("memory.failcnt", "2\n"),
                ("memory.stat", "cache 1024\nrss 3072\n"),
            ],
        );
        put(
            &d("cpuacct"),
            &[
                ("cpuacct.usage", "5000\n"),
                ("cpuacct.usage_percpu", "3000 2000 \n"),
                ("cpuacct.stat", "user 1\nsystem 2\n"),
            ],
        );
        put(
            &d("pids"),
            &[("pids.current", "3\n"), ("pids.max", "max\n")],
        );
        let s = read(&cg).unwrap();
        assert_eq!(s.memory.usage.usage, 4096);
        assert_eq!(s.memory.usage.limit, 64 << 20);
        assert_eq!((s.memory.usage.max, s.memory.usage.failcnt), (8192, 2));
        assert_eq!(s.memory.cache, 1024);
        assert_eq!(s.memory.raw.get("rss"), Some(&3072));
        assert_eq!(s.cpu.usage.total, 5000);
        assert_eq!(s.cpu.usage.percpu, [3000, 2000]);
        assert_eq!(
            (s.cpu.usage.user, s.cpu.usage.kernel),
            (10_000_000, 20_000_000)
        );
        assert_eq!((s.pids.current, s.pids.limit), (3, 0));
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["memory"]["usage"]["limit"], 64 << 20);
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 2000);
        assert_eq!(v["cpu"]["throttling"]["throttled_periods"], 0);
        cg.remove().unwrap();
    }

    #[test]
    fn v2_files_in_runcs_shape() {
        let tmp = tempfile::tempdir().unwrap();
        let l = fake_v2(tmp.path());
        let cg = Cgroup::create_in(Arc::clone(&l), "/c", &[]).unwrap();
        let d = tmp.path().join("c");
        put(
            &d,
            &[
                ("memory.current", "4096\n"),
                ("memory.max", "max\n"),
                ("memory.events", "low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n"),
                ("memory.stat", "anon 3072\nfile 1024\n"),
                ("cpu.stat", "usage_usec 7\nuser_usec 4\nsystem_usec 3\nnr_periods 10\nnr_throttled 4\nthrottled_usec 9\n"),
                ("pids.current", "2\n"),
                ("pids.max", "50\n"),
                ("hugetlb.2MB.current", "2097152\n"),
                ("hugetlb.2MB.events", "max 1\n"),
            ],
        );
        let s = read(&cg).unwrap();
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!((s.memory.usage.usage, s.memory.usage.failcnt), (4096, 5));
        assert_eq!(s.memory.cache, 1024);
        assert_eq!(
            (s.cpu.usage.total, s.cpu.usage.user, s.cpu.usage.kernel),
            (7000, 4000, 3000)
        );
        assert_eq!(
            s.cpu.throttling,
            Throttling {
                periods: 10,
                throttled_periods: 4,
                throttled_time: 9000
            }
        );
        assert_eq!((s.pids.current, s.pids.limit), (2, 50));
        assert_eq!(
            s.hugetlb.get("2MB"),
            Some(&HugetlbStats {
                usage: 2 << 20,
                max: 0,
                failcnt: 1
            })
        );
        cg.remove().unwrap();
    }
}
