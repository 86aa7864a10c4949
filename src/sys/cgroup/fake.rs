//! A fake cgroupfs in a tempdir, for tests (Tier 2): hierarchies laid out as the kernel
//! does, with empty control files that new directories inherit.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use super::{CgroupVersion, Layout};

pub(crate) fn touch(dir: &Path, files: &[(&str, &str)]) {
    fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        fs::write(dir.join(f), v).unwrap();
    }
}

pub(crate) fn cat(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", p.as_ref().display()))
}

/// A fake v1 tree (plus `unified` with hugetlb when `hybrid`), `memsw` optional.
pub(crate) fn fake_v1(root: &Path, memsw: bool, hybrid: bool) -> Arc<Layout> {
    let procs = ("cgroup.procs", "");
    let mut mem = vec![
        procs,
        ("memory.limit_in_bytes", ""),
        ("memory.soft_limit_in_bytes", ""),
        ("memory.swappiness", ""),
        ("memory.oom_control", ""),
        ("memory.usage_in_bytes", ""),
    ];
    if memsw {
        mem.push(("memory.memsw.limit_in_bytes", ""));
    }
    touch(&root.join("memory"), &mem);
    touch(
        &root.join("cpu"),
        &[
            procs,
            ("cpu.shares", ""),
            ("cpu.cfs_period_us", ""),
            ("cpu.cfs_quota_us", ""),
        ],
    );
    touch(&root.join("cpuacct"), &[procs, ("cpuacct.usage", "")]);
    touch(
        &root.join("cpuset"),
        &[procs, ("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")],
    );
    touch(&root.join("pids"), &[procs, ("pids.max", "")]);
    touch(&root.join("freezer"), &[procs, ("freezer.state", "")]);
    touch(
        &root.join("blkio"),
        &[
            procs,
            ("blkio.bfq.weight", ""),
            ("blkio.throttle.read_bps_device", ""),
        ],
    );
    touch(
        &root.join("devices"),
        &[procs, ("devices.allow", ""), ("devices.deny", "")],
    );
    if hybrid {
        touch(
            &root.join("unified"),
            &[
                procs,
                ("cgroup.controllers", "hugetlb\n"),
                ("cgroup.subtree_control", ""),
                ("hugetlb.2MB.max", ""),
            ],
        );
    }
    Arc::new(Layout::fake(root, CgroupVersion::V1, "0::/\n").unwrap())
}

pub(crate) fn fake_v2(root: &Path) -> Arc<Layout> {
    let files: Vec<(&str, &str)> = [
        "cgroup.procs",
        "cgroup.subtree_control",
        "cgroup.freeze",
        "cgroup.events",
        "memory.max",
        "memory.low",
        "memory.swap.max",
        "cpu.weight",
        "cpu.max",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "io.weight",
        "io.max",
    ]
    .iter()
    .map(|f| (*f, ""))
    .collect();
    touch(root, &files);
    fs::write(
        root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids\n",
    )
    .unwrap();
    Arc::new(Layout::fake(root, CgroupVersion::V2, "0::/\n").unwrap())
}
