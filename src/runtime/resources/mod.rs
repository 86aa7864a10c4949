//! The runtime spec's `linux.resources` as cgroup settings: OCI policy over the plain
//! cgroupfs I/O of [`crate::sys::cgroup`].
//!
//! [`settings`] maps each resource to the control files of the hierarchy that serves its
//! controller on this host (v1 names, or v2 names with runc's unit conversions), checking
//! the values the kernel cannot take and naming the spec field at fault.
//! [`with_default_devices`] adds runc's default device rules.
//!
//! # Devices on v2
//! The v2 device controller is an eBPF program attached to the cgroup. This first version
//! does not load one: `linux.resources.devices` is **not enforced on v2** (nor in the unified
//! hierarchy of a hybrid host) and is skipped without an error. On v1 it is written to
//! `devices.allow`/`devices.deny`.

pub(crate) mod stats;
mod v1;
mod v2;

use oci_spec::runtime::{Linux, LinuxResources};

use crate::sys::cgroup::{Controller, Setting};
use crate::{Error, Result};

/// The cgroup settings `res` asks for, in order, with each controller's v1 or v2 names as
/// `is_v2` says ([`crate::sys::cgroup::uses_v2`] for the host, [`crate::sys::cgroup::Cgroup::uses_v2`] for a container's).
///
/// # Errors
/// [`Error::InvalidSpec`] naming the field of `linux.resources` whose value the host cannot
/// take (a swappiness above 100, a v2 swap limit below the memory limit, `unified` keys
/// without a cgroup2 hierarchy, ...).
pub(crate) fn settings(
    res: &LinuxResources,
    is_v2: impl Fn(Controller) -> bool,
) -> Result<Vec<Setting>> {
    let mut out = Vec::new();
    if let Some(m) = res.memory() {
        if is_v2(Controller::Memory) {
            v2::memory(m, &mut out)?
        } else {
            v1::memory(m, &mut out)?
        }
    }
    if let Some(c) = res.cpu() {
        if is_v2(Controller::Cpu) {
            v2::cpu(c, &mut out)?
        } else {
            v1::cpu(c, &mut out)
        }
    }
    if let Some(p) = res.pids() {
        let v = if p.limit() <= 0 {
            "max".to_string()
        } else {
            p.limit().to_string()
        };
        out.push(Setting::new(Controller::Pids, "pids.max", v));
    }
    if let Some(b) = res.block_io() {
        if is_v2(Controller::Blkio) {
            v2::io(b, &mut out)
        } else {
            v1::blkio(b, &mut out)
        }
    }
    if let Some(h) = res.hugepage_limits().as_deref().filter(|h| !h.is_empty()) {
        if is_v2(Controller::Hugetlb) {
            v2::hugetlb(h, &mut out)
        } else {
            v1::hugetlb(h, &mut out)
        }
    }
    if let Some(d) = res.devices().as_deref().filter(|d| !d.is_empty()) {
        // Not enforced on v2 (needs eBPF); see the module docs.
        if !is_v2(Controller::Devices) {
            v1::devices(d, &mut out);
        }
    }
    if let Some(n) = res.network() {
        network(n, &crate::sys::cgroup::hierarchies())?;
    }
    if let Some(u) = res.unified().as_ref().filter(|u| !u.is_empty()) {
        if !is_v2(Controller::Unified) {
            return Err(Error::spec(
                "linux.resources.unified",
                "needs a cgroup v2 hierarchy, this host has none",
            ));
        }
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            if k.contains('/') || k.starts_with('.') {
                return Err(Error::spec(
                    "linux.resources.unified",
                    format!("{k:?} is not a control file name"),
                ));
            }
            out.push(Setting::new(Controller::Unified, k.as_str(), v));
        }
    }
    Ok(out)
}

/// The cgroup settings of a live container's resource update (`runc update --resources`):
/// what runc 1.1 changes on a running container — memory (limit, swap, reservation,
/// swappiness), cpu (shares, quota, period, burst, idle, realtime, cpuset), pids, the blkio
/// weight and throttles, `unified` — plus the hugepage limits (runc keeps the old ones; the
/// kernel takes new ones at any time). Device rules and `network` are left as the container
/// was created with, as runc does.
///
/// That matters for Kubernetes: containerd's CRI plugin sends the container's *whole* spec
/// resources on `UpdateContainerResources`, device rules included, and those start with a
/// deny-all rule. Rewritten on v1 they would replace the allow-list the container was
/// created with (the runtime's default devices, see [`with_default_devices`]) by that deny
/// alone: `/dev/null` and every other device would be closed to the container from then on,
/// so even a shell reading back its new memory limit with `2>/dev/null` failed.
///
/// # Errors
/// As [`settings`].
pub(crate) fn update_settings(
    res: &LinuxResources,
    is_v2: impl Fn(Controller) -> bool,
) -> Result<Vec<Setting>> {
    let mut live = res.clone();
    live.set_devices(None);
    live.set_network(None);
    settings(&live, is_v2)
}

/// `linux.resources.network` (net_cls class id, net_prio priorities) is not written by this
/// runtime: a spec that asks for it is refused, naming the field, rather than run without
/// it. The reason says whether the host has the controller at all.
fn network(
    n: &oci_spec::runtime::LinuxNetwork,
    hierarchies: &[crate::sys::cgroup::Hierarchy],
) -> Result<()> {
    let mounted = |c: &str| {
        hierarchies
            .iter()
            .any(|h| h.controllers.iter().any(|x| x == c))
    };
    for (asked, field, controller) in [
        (n.class_id().is_some(), "classID", "net_cls"),
        (
            n.priorities().as_ref().is_some_and(|p| !p.is_empty()),
            "priorities",
            "net_prio",
        ),
    ] {
        if asked {
            let reason = if mounted(controller) {
                format!("the {controller} controller is not supported by cargohold")
            } else {
                format!("the {controller} controller is not mounted on this host")
            };
            return Err(Error::spec(
                format!("linux.resources.network.{field}"),
                reason,
            ));
        }
    }
    Ok(())
}

/// The spec's resources with the device rules runc adds: when the spec restricts devices
/// (podman sends a lone deny-all rule), the default devices the runtime must create
/// (null, zero, full, random, urandom, tty, ptmx, pts) and the spec's `linux.devices` are
/// allowed after its rules, as runc does; otherwise creating them fails with EPERM.
pub(crate) fn with_default_devices(linux: &Linux) -> Option<LinuxResources> {
    use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
    let mut res = linux.resources().clone()?;
    let mut rules = match res.devices() {
        Some(r) if !r.is_empty() => r.clone(),
        _ => return Some(res),
    };
    let rule = |typ, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(true);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.to_owned()));
        r
    };
    use LinuxDeviceType::{B, C};
    rules.push(rule(C, None, None, "m"));
    rules.push(rule(B, None, None, "m"));
    for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 2)] {
        rules.push(rule(C, Some(major), Some(minor), "rwm"));
    }
    rules.push(rule(C, Some(136), None, "rwm"));
    for d in linux.devices().iter().flatten() {
        let typ = match d.typ() {
            LinuxDeviceType::B => B,
            _ => C,
        };
        rules.push(rule(typ, Some(d.major()), Some(d.minor()), "rwm"));
    }
    res.set_devices(Some(rules));
    Some(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cgroup::fake::{cat, fake_v1, fake_v2};
    use crate::sys::cgroup::{Cgroup, CgroupVersion, Layout};
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
        LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder,
        LinuxThrottleDeviceBuilder,
    };
    use std::collections::HashMap;
    use std::fs;
    use std::sync::Arc;

    // ---- Tier 1: settings ----

    #[test]
    fn network_resources_are_refused_naming_the_field() {
        let hier = |c: &str| crate::sys::cgroup::Hierarchy {
            mount_point: std::path::PathBuf::from(format!("/sys/fs/cgroup/{c}")),
            options: c.to_owned(),
            controllers: vec![c.to_owned()],
        };
        let n: oci_spec::runtime::LinuxNetwork =
            serde_json::from_value(serde_json::json!({"classID": 1048577})).unwrap();
        let e = network(&n, &[hier("memory")]).unwrap_err().to_string();
        assert!(
            e.contains("linux.resources.network.classID") && e.contains("not mounted"),
            "{e}"
        );
        let e = network(&n, &[hier("net_cls")]).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        let n: oci_spec::runtime::LinuxNetwork = serde_json::from_value(
            serde_json::json!({"priorities": [{"name": "eth0", "priority": 1}]}),
        )
        .unwrap();
        let e = network(&n, &[]).unwrap_err().to_string();
        assert!(
            e.contains("network.priorities") && e.contains("net_prio"),
            "{e}"
        );
        network(&Default::default(), &[]).unwrap();
    }

    #[test]
    fn shares_to_weight_matches_runc() {
        assert_eq!(v2::shares_to_weight(0), 0);
        assert_eq!(v2::shares_to_weight(1), 1);
        assert_eq!(v2::shares_to_weight(2), 1);
        assert_eq!(v2::shares_to_weight(1024), 39);
        assert_eq!(v2::shares_to_weight(262_144), 10_000);
        assert_eq!(v2::shares_to_weight(1 << 30), 10_000);
        assert_eq!(v2::blkio_weight_to_io(10), 1);
        assert_eq!(v2::blkio_weight_to_io(1000), 10_000);
    }

    fn resources() -> LinuxResources {
        LinuxResourcesBuilder::default()
            .memory(
                LinuxMemoryBuilder::default()
                    .limit(32i64 << 20)
                    .swap(64i64 << 20)
                    .reservation(16i64 << 20)
                    .build()
                    .unwrap(),
            )
            .cpu(
                LinuxCpuBuilder::default()
                    .shares(512u64)
                    .quota(50_000i64)
                    .period(100_000u64)
                    .cpus("1")
                    .mems("0")
                    .build()
                    .unwrap(),
            )
            .pids(LinuxPidsBuilder::default().limit(10i64).build().unwrap())
            .block_io(
                LinuxBlockIoBuilder::default()
                    .weight(500u16)
                    .throttle_read_bps_device(vec![LinuxThrottleDeviceBuilder::default()
                        .major(8i64)
                        .minor(0i64)
                        .rate(1_000_000u64)
                        .build()
                        .unwrap()])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn files(plan: &[Setting]) -> Vec<(String, String)> {
        plan.iter()
            .map(|w| (w.file.clone(), w.value.clone()))
            .collect()
    }

    /// Every `(file, value)` of `want` is in `f`.
    fn assert_files(f: &[(String, String)], want: &[(&str, &str)]) {
        for (file, value) in want {
            assert!(
                f.contains(&((*file).into(), (*value).into())),
                "{file}={value} missing from {f:?}"
            );
        }
    }

    #[test]
    fn plan_v2_converts() {
        let p = settings(&resources(), |_| true).unwrap();
        let f = files(&p);
        assert_files(
            &f,
            &[
                ("memory.max", "33554432"),
                ("memory.swap.max", "33554432"),
                ("memory.low", "16777216"),
                ("cpu.weight", "20"),
                ("cpu.max", "50000 100000"),
                ("cpuset.cpus", "1"),
                ("pids.max", "10"),
                ("io.bfq.weight", "500"),
                ("io.max", "8:0 rbps=1000000"),
            ],
        );
        let w = p.iter().find(|w| w.file == "io.bfq.weight").unwrap();
        assert_eq!(w.alt, Some(("io.weight".into(), "4950".into())));
        // Quota without period, unlimited quota.
        let cpu = |q: i64| {
            LinuxResourcesBuilder::default()
                .cpu(LinuxCpuBuilder::default().quota(q).build().unwrap())
                .build()
                .unwrap()
        };
        assert_eq!(
            files(&settings(&cpu(-1), |_| true).unwrap()),
            [("cpu.max".into(), "max 100000".into())]
        );
        // swap below limit is refused; swap without a limit too.
        let mem = |l: Option<i64>, s: i64| {
            let mut m = LinuxMemoryBuilder::default().swap(s);
            if let Some(l) = l {
                m = m.limit(l);
            }
            LinuxResourcesBuilder::default()
                .memory(m.build().unwrap())
                .build()
                .unwrap()
        };
        assert!(settings(&mem(Some(100), 50), |_| true).is_err());
        assert!(settings(&mem(None, 50), |_| true).is_err());
        assert!(settings(&mem(Some(100), 100), |_| true).unwrap()[1].optional);
        assert_eq!(
            settings(&mem(Some(100), -1), |_| true).unwrap()[1].value,
            "max"
        );
    }

    #[test]
    fn plan_v1_devices_and_unified() {
        let devs = vec![
            LinuxDeviceCgroupBuilder::default()
                .allow(false)
                .access("rwm")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::C)
                .major(1i64)
                .minor(3i64)
                .access("rw")
                .build()
                .unwrap(),
            LinuxDeviceCgroupBuilder::default()
                .allow(true)
                .typ(LinuxDeviceType::B)
                .major(8i64)
                .build()
                .unwrap(),
        ];
        let r = LinuxResourcesBuilder::default()
            .devices(devs)
            .build()
            .unwrap();
        assert_eq!(
            files(&settings(&r, |_| false).unwrap()),
            [
                ("devices.deny".into(), "a *:* rwm".into()),
                ("devices.allow".into(), "c 1:3 rw".into()),
                ("devices.allow".into(), "b 8:* rwm".into())
            ]
        );
        // Not enforced on v2.
        assert!(settings(&r, |_| true).unwrap().is_empty());
        let u = LinuxResourcesBuilder::default()
            .unified(HashMap::from([(
                "memory.high".to_string(),
                "1000000".to_string(),
            )]))
            .build()
            .unwrap();
        assert!(matches!(
            settings(&u, |_| false),
            Err(Error::InvalidSpec { .. })
        ));
        assert_eq!(
            files(&settings(&u, |_| true).unwrap()),
            [("memory.high".into(), "1000000".into())]
        );
        let bad = LinuxResourcesBuilder::default()
            .unified(HashMap::from([("../x".to_string(), "1".to_string())]))
            .build()
            .unwrap();
        assert!(settings(&bad, |_| true).is_err());
    }

    #[test]
    fn update_keeps_the_device_rules_of_create() {
        // What containerd's CRI plugin sends on UpdateContainerResources: the whole spec
        // resources, with its deny-all device rule first.
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [{"allow": false, "access": "rwm"}],
            "memory": {"limit": 100663296, "swap": 100663296},
            "cpu": {"shares": 256, "quota": 50000, "period": 100000, "cpus": "0", "mems": ""},
            "pids": {"limit": 64},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
            "network": {"classID": 7}
        }))
        .unwrap();
        assert!(
            settings(&r, |_| false).is_err(),
            "network is refused at create"
        );
        let f = files(&update_settings(&r, |_| false).unwrap());
        assert!(
            !f.iter().any(|(file, _)| file.starts_with("devices.")),
            "{f:?}"
        );
        assert_files(
            &f,
            &[
                ("memory.limit_in_bytes", "100663296"),
                ("memory.memsw.limit_in_bytes", "100663296"),
                ("cpu.shares", "256"),
                ("cpu.cfs_period_us", "100000"),
                ("cpu.cfs_quota_us", "50000"),
                ("cpuset.cpus", "0"),
                ("pids.max", "64"),
                ("hugetlb.2MB.limit_in_bytes", "0"),
            ],
        );
        let f = files(&update_settings(&r, |_| true).unwrap());
        assert!(
            f.contains(&("memory.max".into(), "100663296".into())),
            "{f:?}"
        );
        assert!(
            f.contains(&("cpu.max".into(), "50000 100000".into())),
            "{f:?}"
        );
        assert!(f.contains(&("hugetlb.2MB.max".into(), "0".into())), "{f:?}");
    }

    // ---- Tier 2: a fake cgroupfs in a tempdir ----

    /// Creates a cgroup in a fake layout with the settings of `res`.
    fn create(l: &Arc<Layout>, path: &str, res: Option<&LinuxResources>) -> crate::Result<Cgroup> {
        let s = match res {
            Some(r) => settings(r, |c| l.is_v2(c))?,
            None => Vec::new(),
        };
        Ok(Cgroup::create_in(l.clone(), path, &s)?)
    }

    /// Applies the settings of `res` to a container's cgroup.
    fn apply(cg: &Cgroup, res: &LinuxResources) -> crate::Result<()> {
        Ok(cg.apply(&settings(res, |c| cg.uses_v2(c))?)?)
    }

    /// Applies resources made of device rules alone.
    fn apply_devices(
        cg: &Cgroup,
        devs: Vec<oci_spec::runtime::LinuxDeviceCgroup>,
    ) -> crate::Result<()> {
        apply(
            cg,
            &LinuxResourcesBuilder::default()
                .devices(devs)
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn fake_v1_writes_files_and_inherits_cpuset() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let l = fake_v1(root, true, false);
        assert_eq!(l.version, CgroupVersion::V1);
        let cg = create(&l, "/outer/ctr", Some(&resources())).unwrap();
        let d = |c: &str| root.join(c).join("outer/ctr");
        assert_eq!(cat(d("memory").join("memory.limit_in_bytes")), "33554432");
        assert_eq!(
            cat(d("memory").join("memory.memsw.limit_in_bytes")),
            "67108864"
        );
        assert_eq!(
            cat(d("memory").join("memory.soft_limit_in_bytes")),
            "16777216"
        );
        assert_eq!(cat(d("cpu").join("cpu.shares")), "512");
        assert_eq!(cat(d("cpu").join("cpu.cfs_quota_us")), "50000");
        assert_eq!(cat(d("cpu").join("cpu.cfs_period_us")), "100000");
        assert_eq!(cat(d("pids").join("pids.max")), "10");
        assert_eq!(cat(d("blkio").join("blkio.bfq.weight")), "500");
        assert_eq!(
            cat(d("blkio").join("blkio.throttle.read_bps_device")),
            "8:0 1000000"
        );
        // Every new cpuset level got its parent's values before the container's own.
        assert_eq!(cat(root.join("cpuset/outer/cpuset.cpus")), "0-3");
        assert_eq!(cat(root.join("cpuset/outer/cpuset.mems")), "0");
        assert_eq!(cat(d("cpuset").join("cpuset.cpus")), "1");
        assert_eq!(cat(d("cpuset").join("cpuset.mems")), "0");
        // Every hierarchy, devices too though the resources name no devices (as runc).
        assert!(d("devices").is_dir());
        assert_eq!(cg.paths().len(), 8);
        assert!(cg.v2_dir_fd().unwrap().is_none());
        assert_eq!(cg.procs_fds().unwrap().len(), 8);

        // apply() of a controller the container lacks (one made before the hierarchy was
        // mounted, played by removing its directory) creates it and moves the processes.
        fs::remove_dir_all(d("devices")).unwrap();
        let cg = Cgroup::open_in(l.clone(), "/outer/ctr").unwrap();
        assert_eq!(cg.paths().len(), 7);
        fs::write(d("freezer").join("cgroup.procs"), "4242\n").unwrap();
        let devs = vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()];
        apply_devices(&cg, devs).unwrap();
        assert_eq!(cat(d("devices").join("devices.deny")), "a *:* rwm");
        assert_eq!(cat(d("devices").join("cgroup.procs")), "4242");
        assert_eq!(cg.paths().len(), 8);
        assert_eq!(cg.pids().unwrap(), [4242]);

        // A later process opens it by path.
        let again = Cgroup::open_in(l.clone(), "/outer/ctr").unwrap();
        assert_eq!(again.paths().len(), 8);
        assert!(Cgroup::open_in(l, "/nope").is_err());
        cg.remove().unwrap();
        for c in ["memory", "cpu", "cpuset", "devices"] {
            assert!(!d(c).exists(), "{c}");
            assert!(root.join(c).join("outer").exists(), "parents stay");
        }
    }

    #[test]
    fn fake_v1_swap_without_memsw() {
        let tmp = tempfile::tempdir().unwrap();
        let l = fake_v1(tmp.path(), false, false);
        let mem = |l: i64, s: i64| {
            let m = LinuxMemoryBuilder::default()
                .limit(l)
                .swap(s)
                .build()
                .unwrap();
            LinuxResourcesBuilder::default().memory(m).build().unwrap()
        };
        // swap == limit or -1: skipped.
        let cg = create(&l, "/a", Some(&mem(1 << 20, 1 << 20))).unwrap();
        apply(&cg, &mem(1 << 20, -1)).unwrap();
        cg.remove().unwrap();
        // A real swap limit on a host without swap accounting is an error naming the file,
        // and nothing stays behind.
        let e = create(&l, "/b", Some(&mem(1 << 20, 2 << 20))).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("memory.memsw.limit_in_bytes") && msg.contains("2097152"),
            "{msg}"
        );
        for c in ["memory", "cpu", "pids", "freezer", "cpuacct"] {
            assert!(!tmp.path().join(c).join("b").exists(), "{c} left behind");
        }
    }

    #[test]
    fn fake_hybrid_hugetlb_goes_to_unified() {
        let tmp = tempfile::tempdir().unwrap();
        let l = fake_v1(tmp.path(), true, true);
        assert_eq!(l.version, CgroupVersion::Hybrid);
        let cg = create(&l, "/plain", None).unwrap();
        assert!(
            !tmp.path().join("unified/plain").exists(),
            "no unified dir without a need"
        );
        // Every v1 hierarchy, cpu too without cpu limits; not the unified one.
        assert_eq!(cg.paths().len(), 8);
        assert!(tmp.path().join("cpu/plain").is_dir());
        cg.remove().unwrap();
        let h = vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(4i64 << 20)
            .build()
            .unwrap()];
        let r = LinuxResourcesBuilder::default()
            .hugepage_limits(h)
            .build()
            .unwrap();
        let cg = create(&l, "/huge", Some(&r)).unwrap();
        assert_eq!(
            cat(tmp.path().join("unified/huge/hugetlb.2MB.max")),
            "4194304"
        );
        assert_eq!(
            cat(tmp.path().join("unified/cgroup.subtree_control")),
            "+hugetlb"
        );
        assert_eq!(cg.paths().len(), 9);
        assert!(cg.v2_dir_fd().unwrap().is_none());
        cg.remove().unwrap();
    }

    #[test]
    fn fake_v2_writes_files() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let l = fake_v2(root);
        let cg = create(&l, "/outer/ctr", Some(&resources())).unwrap();
        let d = root.join("outer/ctr");
        assert_eq!(cg.paths(), std::slice::from_ref(&d));
        assert_eq!(cat(d.join("memory.max")), "33554432");
        assert_eq!(cat(d.join("memory.swap.max")), "33554432");
        assert_eq!(cat(d.join("memory.low")), "16777216");
        assert_eq!(cat(d.join("cpu.weight")), "20");
        assert_eq!(cat(d.join("cpu.max")), "50000 100000");
        assert_eq!(cat(d.join("cpuset.cpus")), "1");
        assert_eq!(cat(d.join("pids.max")), "10");
        // No io.bfq.weight here: io.weight with the converted value.
        assert_eq!(cat(d.join("io.weight")), "4950");
        assert_eq!(cat(d.join("io.max")), "8:0 rbps=1000000");
        let on = "+cpuset +cpu +io +memory +hugetlb +pids";
        assert_eq!(cat(root.join("cgroup.subtree_control")), on);
        assert_eq!(cat(root.join("outer/cgroup.subtree_control")), on);
        assert!(cg.v2_dir_fd().unwrap().is_some());
        // Freezing: the fake kernel reports frozen at once.
        fs::write(d.join("cgroup.events"), "populated 0\nfrozen 1\n").unwrap();
        cg.freeze().unwrap();
        assert_eq!(cat(d.join("cgroup.freeze")), "1");
        assert!(cg.is_frozen().unwrap());
        // devices: not enforced, no error.
        let devs = vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .build()
            .unwrap()];
        apply_devices(&cg, devs).unwrap();
        // A limit whose file is missing names it.
        let h = vec![LinuxHugepageLimitBuilder::default()
            .page_size("1GB")
            .limit(0i64)
            .build()
            .unwrap()];
        let e = apply(
            &cg,
            &LinuxResourcesBuilder::default()
                .hugepage_limits(h)
                .build()
                .unwrap(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("hugetlb.1GB.max"), "{e}");
        cg.remove().unwrap();
        assert!(!d.exists());
    }
}
