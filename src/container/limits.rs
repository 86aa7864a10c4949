//! Resource limits: the settings a [`ContainerBuilder`](super::ContainerBuilder) holds,
//! checked with Docker's rules and messages (moby's `verifyPlatformContainerResources` and
//! `adaptContainerSettings`) into the values the runtime spec and `HostConfig` get.
//!
//! As Docker, a setting the host's cgroups cannot apply is dropped with a warning (swap
//! limits without swap accounting, soft limits, CPU shares), and CPU shares are moved into
//! the kernel's range [2, 262144] with a warning; the warnings are Docker's words.

use std::path::Path;
use std::sync::OnceLock;

use crate::sys::cgroup::Hierarchy;

/// Docker's smallest memory limit and reservation (`docker run -m` refuses less).
const MIN_MEMORY: u64 = 6 << 20;
/// The CFS period and quota bounds in µs, as Docker and the kernel have them.
const MIN_CPU_QUOTA: u64 = 1000;
const CPU_PERIODS: std::ops::RangeInclusive<u64> = 1000..=1_000_000;
/// The CFS period `cpus` scales (Docker's).
pub(super) const CPUS_PERIOD: u64 = 100_000;
/// The kernel's bounds of `cpu.shares` (moby's `linuxMinCPUShares`/`linuxMaxCPUShares`).
const CPU_SHARES: std::ops::RangeInclusive<u64> = 2..=262_144;

/// Docker's warning when a swap limit cannot be applied.
pub(super) const NO_SWAP_LIMIT: &str = "Your kernel does not support swap limit capabilities \
                                        or the cgroup is not mounted. Memory limited without swap.";
const NO_SOFT_LIMIT: &str = "Your kernel does not support memory soft limit capabilities or the \
                             cgroup is not mounted. Limitation discarded.";
const NO_CPU_SHARES: &str =
    "Your kernel does not support CPU shares or the cgroup is not mounted. Shares discarded.";

/// The limits as the builder's setters left them (`None`: never set).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Settings {
    /// Bytes; 0 is no limit.
    pub memory: Option<u64>,
    /// Memory plus swap in bytes; -1 is unlimited swap, 0 Docker's default.
    pub memory_swap: Option<i64>,
    /// The soft limit in bytes; 0 is none.
    pub memory_reservation: Option<u64>,
    /// The relative CPU weight; 0 is the default.
    pub cpu_shares: Option<u64>,
    /// µs per period; 0 is no quota.
    pub cpu_quota: Option<u64>,
    /// µs; 0 is the default.
    pub cpu_period: Option<u64>,
    /// CPUs (a quota of `cpus` × 100 ms); 0 is no limit.
    pub cpus: Option<f64>,
}

/// The checked limits: what the runtime spec and `HostConfig` get (`None`: not set).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub memory: Option<i64>,
    /// As `HostConfig.MemorySwap`: memory plus swap, or -1 for unlimited swap. Only a
    /// positive value goes into the spec.
    pub memory_swap: Option<i64>,
    pub memory_reservation: Option<i64>,
    /// In [2, 262144].
    pub cpu_shares: Option<u64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
}

/// What the host's cgroups can limit beyond memory, CPU quotas and pids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HostSupport {
    /// Swap limits (v1 `memory.memsw.*`, v2 `memory.swap.max`).
    pub swap: bool,
    /// Memory soft limits (v1 `memory.soft_limit_in_bytes`, v2 `memory.low`).
    pub memory_reservation: bool,
    /// CPU weights (v1 `cpu.shares`, v2 `cpu.weight`).
    pub cpu_shares: bool,
}

/// A setting Docker would refuse: its name and Docker's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        field,
        reason: reason.into(),
    }
}

fn to_i64(field: &'static str, v: u64) -> Result<i64, Refusal> {
    i64::try_from(v).map_err(|_| refuse(field, format!("{v} is out of range")))
}

impl Settings {
    /// The limits, checked in Docker's order (its first error wins) for a host with
    /// `host`'s cgroups and `ncpu` CPUs; Docker's warnings are pushed onto `warnings`.
    pub(super) fn check(
        &self,
        host: HostSupport,
        ncpu: usize,
        warnings: &mut Vec<String>,
    ) -> Result<Limits, Refusal> {
        let (memory, mut swap, reservation) = self.check_memory(host, warnings)?;
        let (quota, period, mut shares) = self.check_cpu(host, ncpu, warnings)?;
        // Docker's adjustments once the settings are valid.
        if shares > 0 && !CPU_SHARES.contains(&shares) {
            let (bound, which) = if shares < *CPU_SHARES.start() {
                (*CPU_SHARES.start(), "minimum")
            } else {
                (*CPU_SHARES.end(), "maximum")
            };
            warnings.push(format!(
                "Changing requested CPUShares of {shares} to {which} allowed of {bound}"
            ));
            shares = bound;
        }
        if memory > 0 && swap == 0 {
            // Docker's default: as much swap as memory.
            swap = memory.saturating_mul(2);
        }
        let set = |v: i64| (v != 0).then_some(v);
        Ok(Limits {
            memory: set(memory),
            memory_swap: set(swap),
            memory_reservation: set(reservation),
            cpu_shares: (shares > 0).then_some(shares),
            cpu_quota: quota,
            cpu_period: period,
        })
    }

    /// Memory limit, memory plus swap and reservation, in Docker's order.
    fn check_memory(
        &self,
        host: HostSupport,
        warnings: &mut Vec<String>,
    ) -> Result<(i64, i64, i64), Refusal> {
        let memory = match self.memory.unwrap_or(0) {
            0 => 0,
            m if m < MIN_MEMORY => {
                return Err(refuse(
                    "memory limit",
                    "Minimum memory limit allowed is 6MB",
                ))
            }
            m => to_i64("memory limit", m)?,
        };
        let mut swap = self.memory_swap.unwrap_or(0);
        if swap < -1 {
            return Err(refuse(
                "memory swap",
                format!("{swap} is out of range (-1 is unlimited swap)"),
            ));
        }
        if memory > 0 && swap != -1 && !host.swap {
            warnings.push(NO_SWAP_LIMIT.to_owned());
            swap = -1;
        }
        if memory > 0 && swap > 0 && swap < memory {
            return Err(refuse(
                "memory swap",
                "Minimum memoryswap limit should be larger than memory limit, see usage",
            ));
        }
        if memory == 0 && swap > 0 {
            return Err(refuse(
                "memory swap",
                "You should always set the Memory limit when using Memoryswap limit, see usage",
            ));
        }
        let mut reservation = to_i64("memory reservation", self.memory_reservation.unwrap_or(0))?;
        if reservation > 0 && !host.memory_reservation {
            warnings.push(NO_SOFT_LIMIT.to_owned());
            reservation = 0;
        }
        if reservation > 0 && reservation < MIN_MEMORY as i64 {
            return Err(refuse(
                "memory reservation",
                "Minimum memory reservation allowed is 6MB",
            ));
        }
        if memory > 0 && reservation > 0 && memory < reservation {
            return Err(refuse(
                "memory reservation",
                "Minimum memory limit can not be less than memory reservation limit, see usage",
            ));
        }
        Ok((memory, swap, reservation))
    }

    /// CFS quota and period (from `cpus` or given) and shares, in Docker's order.
    fn check_cpu(
        &self,
        host: HostSupport,
        ncpu: usize,
        warnings: &mut Vec<String>,
    ) -> Result<(Option<i64>, Option<u64>, u64), Refusal> {
        let period = match self.cpu_period.unwrap_or(0) {
            0 => None,
            p if !CPU_PERIODS.contains(&p) => {
                return Err(refuse(
                    "cpu period",
                    "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s \
                     (i.e. 1000000)",
                ))
            }
            p => Some(p),
        };
        let (quota, period) = match (self.cpus, self.cpu_quota) {
            (Some(cpus), _) => {
                if cpus == 0.0 {
                    (None, period)
                } else if period.is_some() {
                    return Err(refuse(
                        "cpus",
                        "Conflicting options: Nano CPUs and CPU Period cannot both be set",
                    ));
                } else if !(0.01..=ncpu as f64).contains(&cpus) {
                    return Err(refuse(
                        "cpus",
                        format!(
                            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} \
                             CPUs available"
                        ),
                    ));
                } else {
                    let quota = (cpus * CPUS_PERIOD as f64).round() as i64;
                    (Some(quota), Some(CPUS_PERIOD))
                }
            }
            (None, None | Some(0)) => (None, period),
            (None, Some(q)) if q < MIN_CPU_QUOTA => {
                return Err(refuse(
                    "cpu quota",
                    "CPU cfs quota can not be less than 1ms (i.e. 1000)",
                ))
            }
            (None, Some(q)) => (Some(to_i64("cpu quota", q)?), period),
        };
        let mut shares = self.cpu_shares.unwrap_or(0);
        if shares > 0 && !host.cpu_shares {
            warnings.push(NO_CPU_SHARES.to_owned());
            shares = 0;
        }
        Ok((quota, period, shares))
    }

    /// Whether any of the settings added after the first release of the configuration
    /// hash is set (the hash of a container without them stays as it was).
    pub(super) fn has_later_settings(&self) -> bool {
        self.memory_swap.is_some() || self.memory_reservation.is_some() || self.cpu_shares.is_some()
    }
}

impl HostSupport {
    /// This host's, found once per process from the mounted cgroup hierarchies.
    pub(super) fn detect() -> HostSupport {
        static HOST: OnceLock<HostSupport> = OnceLock::new();
        *HOST.get_or_init(|| HostSupport::of(&crate::sys::cgroup::hierarchies()))
    }

    /// What `hiers` support: a v1 hierarchy has the control files at its root (the memsw
    /// files only with swap accounting); a cgroup2 one lists its controllers, and its
    /// cgroups have `memory.swap.max` only with swap accounting.
    pub(super) fn of(hiers: &[Hierarchy]) -> HostSupport {
        let v1 = |ctrl: &str| {
            hiers
                .iter()
                .find(|h| !h.options.is_empty() && h.controllers.iter().any(|c| c == ctrl))
        };
        let v2 = |ctrl: &str| {
            hiers
                .iter()
                .find(|h| h.options.is_empty() && h.controllers.iter().any(|c| c == ctrl))
        };
        let has = |h: &Hierarchy, file: &str| h.mount_point.join(file).exists();
        let (swap, memory_reservation) = match (v1("memory"), v2("memory")) {
            (Some(h), _) => (
                has(h, "memory.memsw.limit_in_bytes"),
                has(h, "memory.soft_limit_in_bytes"),
            ),
            (None, Some(h)) => (v2_swap(&h.mount_point), true),
            (None, None) => (false, false),
        };
        let cpu_shares = match (v1("cpu"), v2("cpu")) {
            (Some(h), _) => has(h, "cpu.shares"),
            (None, h) => h.is_some(),
        };
        HostSupport {
            swap,
            memory_reservation,
            cpu_shares,
        }
    }
}

/// Whether cgroup2 at `root` accounts swap: a child cgroup with the memory controller
/// (`memory.max`) has `memory.swap.max`. The root cgroup has neither file; with no child
/// to tell, swap is assumed accounted, as Docker does on cgroup v2.
fn v2_swap(root: &Path) -> bool {
    let Ok(dir) = std::fs::read_dir(root) else {
        return true;
    };
    dir.flatten()
        .map(|e| e.path())
        .find(|p| p.join("memory.max").exists())
        .is_none_or(|p| p.join("memory.swap.max").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: HostSupport = HostSupport {
        swap: true,
        memory_reservation: true,
        cpu_shares: true,
    };
    const MB: u64 = 1 << 20;

    fn check(s: Settings, host: HostSupport) -> (Result<Limits, Refusal>, Vec<String>) {
        let mut w = Vec::new();
        (s.check(host, 4, &mut w), w)
    }

    fn refused(s: Settings) -> Refusal {
        check(s, ALL).0.unwrap_err()
    }

    #[test]
    fn swap_follows_docker() {
        let mem = |m: u64, swap: i64| Settings {
            memory: Some(m * MB),
            memory_swap: Some(swap),
            ..Settings::default()
        };
        // Unset or 0: twice the memory; -1: unlimited; equal: no swap.
        let l = check(mem(64, 0), ALL).0.unwrap();
        assert_eq!(l.memory_swap, Some(128 << 20));
        assert_eq!(check(mem(64, -1), ALL).0.unwrap().memory_swap, Some(-1));
        let l = check(mem(64, 64 << 20), ALL).0.unwrap();
        assert_eq!(l.memory_swap, Some(64 << 20));
        let r = refused(mem(64, 32 << 20));
        assert_eq!(r.field, "memory swap");
        assert_eq!(
            r.reason,
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        let r = refused(Settings {
            memory_swap: Some(64 << 20),
            ..Settings::default()
        });
        assert_eq!(
            r.reason,
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        assert!(refused(mem(64, -2)).reason.contains("out of range"));
        // -1 alone is accepted (nothing to limit), and 0 is no setting.
        let l = check(
            Settings {
                memory_swap: Some(-1),
                ..Settings::default()
            },
            ALL,
        );
        assert_eq!(l.0.unwrap().memory_swap, Some(-1));
        // Without swap accounting: unlimited, with Docker's warning (even for the default),
        // and a swap below the memory is then no error, as in Docker.
        let no_swap = HostSupport { swap: false, ..ALL };
        for s in [mem(64, 0), mem(64, 256 << 20), mem(64, 1)] {
            let (l, w) = check(s, no_swap);
            assert_eq!(l.unwrap().memory_swap, Some(-1));
            assert_eq!(w, [NO_SWAP_LIMIT]);
        }
        let (l, w) = check(mem(64, -1), no_swap);
        assert_eq!((l.unwrap().memory_swap, w.len()), (Some(-1), 0));
    }

    #[test]
    fn reservation_follows_docker() {
        let res = |m: u64, r: u64| Settings {
            memory: Some(m * MB),
            memory_reservation: Some(r * MB),
            ..Settings::default()
        };
        let l = check(res(64, 32), ALL).0.unwrap();
        assert_eq!(l.memory_reservation, Some(32 << 20));
        // Without a memory limit it is a soft limit alone.
        let l = check(res(0, 32), ALL).0.unwrap();
        assert_eq!((l.memory, l.memory_reservation), (None, Some(32 << 20)));
        let r = refused(res(64, 128));
        assert_eq!(r.field, "memory reservation");
        assert_eq!(
            r.reason,
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        );
        let r = refused(res(0, 1));
        assert_eq!(r.reason, "Minimum memory reservation allowed is 6MB");
        assert_eq!(check(res(64, 0), ALL).0.unwrap().memory_reservation, None);
        let no_soft = HostSupport {
            memory_reservation: false,
            ..ALL
        };
        let (l, w) = check(res(64, 1), no_soft);
        assert_eq!(
            (l.unwrap().memory_reservation, w),
            (None, vec![NO_SOFT_LIMIT.to_owned()])
        );
        let r = refused(Settings {
            memory_reservation: Some(u64::MAX),
            ..Settings::default()
        });
        assert_eq!(r.field, "memory reservation");
    }

    #[test]
    fn cpu_shares_follow_docker() {
        let shares = |s: u64| Settings {
            cpu_shares: Some(s),
            ..Settings::default()
        };
        let (l, w) = check(shares(512), ALL);
        assert_eq!((l.unwrap().cpu_shares, w.len()), (Some(512), 0));
        let (l, w) = check(shares(0), ALL);
        assert_eq!((l.unwrap().cpu_shares, w.len()), (None, 0));
        let (l, w) = check(shares(1), ALL);
        assert_eq!(l.unwrap().cpu_shares, Some(2));
        assert_eq!(
            w,
            ["Changing requested CPUShares of 1 to minimum allowed of 2"]
        );
        let (l, w) = check(shares(1 << 20), ALL);
        assert_eq!(l.unwrap().cpu_shares, Some(262_144));
        assert_eq!(
            w,
            ["Changing requested CPUShares of 1048576 to maximum allowed of 262144"]
        );
        let no_shares = HostSupport {
            cpu_shares: false,
            ..ALL
        };
        let (l, w) = check(shares(1), no_shares);
        assert_eq!(
            (l.unwrap().cpu_shares, w),
            (None, vec![NO_CPU_SHARES.to_owned()])
        );
    }

    #[test]
    fn nothing_set_is_nothing() {
        let (l, w) = check(
            Settings::default(),
            HostSupport {
                swap: false,
                memory_reservation: false,
                cpu_shares: false,
            },
        );
        assert_eq!((l.unwrap(), w.len()), (Limits::default(), 0));
        assert!(!Settings::default().has_later_settings());
    }

    #[test]
    fn host_support_from_fake_hierarchies() {
        let dir = tempfile::tempdir().unwrap();
        let hier = |name: &str, options: &str, ctrls: &[&str], files: &[&str]| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            for f in files {
                let f = p.join(f);
                std::fs::create_dir_all(f.parent().unwrap()).unwrap();
                std::fs::write(f, "").unwrap();
            }
            Hierarchy {
                mount_point: p,
                options: options.to_owned(),
                controllers: ctrls.iter().map(|c| (*c).to_owned()).collect(),
            }
        };
        // v1 with swap accounting, and without (no memsw files).
        let cpu = hier("cpu", "cpu", &["cpu"], &["cpu.shares"]);
        let mem = hier(
            "memory",
            "memory",
            &["memory"],
            &["memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"],
        );
        assert_eq!(HostSupport::of(&[cpu.clone(), mem]), ALL);
        let mem = hier(
            "memory2",
            "memory",
            &["memory"],
            &["memory.soft_limit_in_bytes"],
        );
        let s = HostSupport::of(&[cpu, mem]);
        assert_eq!(s, HostSupport { swap: false, ..ALL });
        // v2: the controllers listed; swap as a child cgroup shows it.
        let v2 = hier(
            "v2",
            "",
            &["cpu", "memory"],
            &["a/memory.max", "a/memory.swap.max"],
        );
        assert_eq!(HostSupport::of(&[v2]), ALL);
        let v2 = hier("v2b", "", &["memory"], &["a/memory.max"]);
        assert_eq!(
            HostSupport::of(&[v2]),
            HostSupport {
                swap: false,
                memory_reservation: true,
                cpu_shares: false,
            }
        );
        assert_eq!(
            HostSupport::of(&[]),
            HostSupport {
                swap: false,
                memory_reservation: false,
                cpu_shares: false,
            }
        );
    }
}
