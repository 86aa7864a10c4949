//! Control groups (v1, v2 and hybrid hosts) behind one interface.
//!
//! A [`Cgroup`] is one container's cgroup: a directory in each hierarchy. On a pure v2 host
//! that is one directory; on v1 one per mounted hierarchy; on a hybrid host (v1 controllers
//! plus a cgroup2 mount, usually `/sys/fs/cgroup/unified`) the v1 ones, plus the unified one
//! when a controller only lives there (typically `hugetlb`) or the spec has `unified` keys.
//!
//! # Which hierarchies a container gets (v1 and hybrid)
//! Every mounted v1 hierarchy — `cpu`, `cpuset`, `blkio` and `name=systemd` included,
//! whether a [`Setting`] names them or not — as runc does. A container sees its own cgroup in
//! each: `/proc/self/cgroup` names a directory of its own, and the `/sys/fs/cgroup` mount
//! inside it (a bind of the container's directories, or a fresh mount in a cgroup namespace,
//! which is rooted where the process stands) shows every hierarchy at the container's cgroup,
//! not at the runtime's. Containers that look there (systemd wants `name=systemd`; the CRI's
//! stats read `cpu` and `blkio`) find what they find under runc.
//!
//! The unified hierarchy of a hybrid host is the exception: runc joins it, we do not unless a
//! setting needs it. A v1 hierarchy is joined through its `tasks` file; the unified one has
//! only `cgroup.procs`, whose write takes the kernel's `cgroup_threadgroup_rwsem` and waits
//! for an RCU grace period: measured on the development machine (hybrid, Linux 6.18), a
//! `runtime run` of `/bin/true` took a median 28 ms without and 40–47 ms with it. Nothing in
//! the container shows it but the `0::` line of `/proc/self/cgroup` (runc does not mount it
//! in the container on such hosts either). The v1 hierarchies cost little in comparison: a
//! cgroup's create+remove took a median 178 µs in the 6 hierarchies a container used for
//! its limits and stats and 395 µs in all 9 (a new `cpuset` level costs most, ~130 µs, with
//! the two reads and two writes that copy `cpus`/`mems` from its parent), which the same
//! `runtime run` timing does not tell from noise.
//!
//! A later [`Cgroup::apply`] (`runc update`) that needs a hierarchy the container lacks creates
//! it and moves the container's processes into it, frozen so that none forks away meanwhile.
//!
//! # What is here and what is not
//! This module is plain cgroupfs file I/O: it creates, joins, freezes, signals, reads and
//! removes cgroups and writes the [`Setting`]s it is given (control file, value, controller).
//! Which settings an OCI `linux.resources` section means (v1 and v2 file names, unit
//! conversions, the checks on the values) is runtime policy and lives in
//! `runtime::resources`.
//!
//! # cgroups-rs and plain cgroupfs I/O
//! cgroups-rs (0.5) is used for what it does well and cheaply: telling a pure v2 host from
//! the others ([`cgroups_rs::fs::hierarchies::is_cgroup2_unified_mode`], one statfs). The rest
//! is plain file I/O on cgroupfs, because for this crate cgroups-rs is wrong or slow there:
//! - its v1 `Cgroup::new` creates a directory in *every* mounted hierarchy (the ~0.15 ms
//!   DESIGN.md measures) and re-reads `/proc/self/mountinfo` on each call;
//! - its v1 hierarchy list only looks at `cgroup` mounts, so on a hybrid host the cgroup2
//!   mount holding `hugetlb` is invisible to it;
//! - it copies `cpuset.cpus`/`mems` from the parent for the leaf only, not for every level
//!   `mkdir -p` creates, so a process cannot join a new `/a/b` cpuset cgroup;
//! - its errors lose the file name ("can't get path in fn read_string_from"), and its
//!   stats turn every read error into 0 and report v2's page cache as 0 (it looks for v1's
//!   `cache` key in `memory.stat`, v2 calls it `file`);
//! - the conversions we need (shares to weight) are crate-private there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{Error, Result};

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Only v1 hierarchies (one per controller or co-mounted group).
    V1,
    /// Only the unified v2 hierarchy, mounted at `/sys/fs/cgroup`.
    V2,
    /// v1 controller hierarchies plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`).
    Hybrid,
}

/// Detects the host's cgroup layout.
///
/// A cgroup2 filesystem at `/sys/fs/cgroup` means [`CgroupVersion::V2`]; otherwise
/// `/proc/self/mountinfo` decides: a cgroup2 mount next to v1 ones means
/// [`CgroupVersion::Hybrid`], else [`CgroupVersion::V1`]. The answer is computed once per
/// process.
pub fn detect() -> CgroupVersion {
    host().version
}

/// One mounted cgroup hierarchy, as needed to mount `/sys/fs/cgroup` inside a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Where it is mounted on the host (`/sys/fs/cgroup/memory`).
    pub mount_point: PathBuf,
    /// The mount options that select it: the controllers joined by commas (`cpu,cpuacct`),
    /// `name=systemd` for a named hierarchy, empty for cgroup2.
    pub options: String,
    /// The controllers it holds (for cgroup2 those listed in its `cgroup.controllers`).
    pub controllers: Vec<String>,
}

/// Whether the host serves `controller` from its cgroup2 hierarchy, so that a [`Setting`]
/// for it takes v2 file names (`memory.max` rather than `memory.limit_in_bytes`). On a
/// hybrid host that is true for the controllers only the unified hierarchy has (typically
/// `hugetlb`) and for [`Controller::Unified`].
pub fn uses_v2(controller: Controller) -> bool {
    host().is_v2(controller)
}

/// The host's cgroup hierarchies: the v1 ones, then the cgroup2 one if mounted.
pub fn hierarchies() -> Vec<Hierarchy> {
    host().hiers.iter().map(|h| h.public.clone()).collect()
}

/// Resource usage of a container's cgroup, as `runc events --stats` reports it.
///
/// Values the host cannot provide (a missing controller or file) are 0, limits `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct CgroupStats {
    /// Memory in use, bytes (`memory.usage_in_bytes` / `memory.current`).
    pub memory_usage: u64,
    /// The memory limit in bytes, `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Peak memory use, bytes (`memory.max_usage_in_bytes` / `memory.peak`).
    pub memory_max_usage: u64,
    /// Page cache, bytes (`total_cache` / `file` of `memory.stat`).
    pub memory_cache: u64,
    /// CPU time, nanoseconds.
    pub cpu_usage_ns: u64,
    /// CPU time in user mode, nanoseconds.
    pub cpu_user_ns: u64,
    /// CPU time in kernel mode, nanoseconds.
    pub cpu_system_ns: u64,
    /// Number of tasks (`pids.current`).
    pub pids_current: u64,
    /// The task limit, `None` when unlimited.
    pub pids_limit: Option<u64>,
    /// How many times the OOM killer killed a task of the cgroup.
    pub oom_kills: u64,
}

// ---------------------------------------------------------------------------------------
// The host's layout.

/// A controller, named by its role (v1 and v2 names differ for some): which hierarchy a
/// [`Setting`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Controller {
    /// `memory`.
    Memory,
    /// `cpu` (CFS and realtime limits, v2's `cpu.weight` and `cpu.max`).
    Cpu,
    /// `cpuacct` on v1 (CPU accounting); `cpu` on v2.
    Cpuacct,
    /// `cpuset`.
    Cpuset,
    /// `pids`.
    Pids,
    /// `freezer` on v1; part of the core (`cgroup.freeze`) on v2.
    Freezer,
    /// `blkio` on v1, `io` on v2.
    Blkio,
    /// `devices` on v1 (an eBPF program on v2, which this module does not load).
    Devices,
    /// `hugetlb`.
    Hugetlb,
    /// The cgroup2 hierarchy itself, for files named directly (the spec's `unified` keys).
    Unified,
}

impl Controller {
    /// Its name in a v1 mount's options.
    fn v1_name(self) -> Option<&'static str> {
        Some(match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Blkio => "blkio",
            Controller::Devices => "devices",
            Controller::Hugetlb => "hugetlb",
            Controller::Unified => return None,
        })
    }

    /// Its name in v2's `cgroup.controllers` (`None`: part of the core, always there).
    fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Cpu | Controller::Cpuacct => Some("cpu"),
            Controller::Cpuset => Some("cpuset"),
            Controller::Pids => Some("pids"),
            Controller::Blkio => Some("io"),
            Controller::Hugetlb => Some("hugetlb"),
            Controller::Freezer | Controller::Devices | Controller::Unified => None,
        }
    }
}

/// v1 controller names we recognise in mount options.
const V1_CONTROLLERS: [&str; 14] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

#[derive(Debug)]
struct Hier {
    public: Hierarchy,
    /// The root of the mount inside the hierarchy (field 4 of mountinfo), to make our own
    /// `/proc/self/cgroup` path relative to the mount point.
    mount_root: PathBuf,
    v2: bool,
}

impl Hier {
    fn has(&self, name: &str) -> bool {
        self.public.controllers.iter().any(|c| c == name)
    }
}

/// The cgroup hierarchies of a host (or of a fake tree in tests).
#[derive(Debug)]
pub(crate) struct Layout {
    pub(crate) version: CgroupVersion,
    hiers: Vec<Hier>,
    /// `Some` for a fake tree: the contents of `/proc/self/cgroup` to use, and the directory
    /// emulation of the kernel (new directories get the control files of their parent).
    fake_self_cgroup: Option<String>,
}

fn host() -> &'static Arc<Layout> {
    // Mounts of cgroup hierarchies do not change under a running engine; reading mountinfo
    // once saves ~30 µs per container.
    static HOST: OnceLock<Arc<Layout>> = OnceLock::new();
    HOST.get_or_init(|| Arc::new(Layout::from_host()))
}

impl Layout {
    fn from_host() -> Layout {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut layout = Layout::from_mountinfo(&mountinfo, None);
        if cgroups_rs::fs::hierarchies::is_cgroup2_unified_mode() {
            layout.version = CgroupVersion::V2;
            layout.hiers.retain(|h| h.v2);
        }
        layout
    }

    /// Builds a layout from mountinfo text. `fake_self_cgroup` selects a fake tree.
    fn from_mountinfo(mountinfo: &str, fake_self_cgroup: Option<String>) -> Layout {
        let mut hiers = Vec::new();
        for line in mountinfo.lines() {
            let Some((pre, post)) = line.split_once(" - ") else {
                continue;
            };
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            if pre.len() < 5 || post.len() < 3 {
                continue;
            }
            let (root, point) = (unescape(pre[3]), unescape(pre[4]));
            match post[0] {
                "cgroup" => {
                    let mut controllers = Vec::new();
                    let mut options = Vec::new();
                    for opt in post[2].split(',') {
                        if V1_CONTROLLERS.contains(&opt) {
                            controllers.push(opt.to_string());
                            options.push(opt);
                        } else if opt.starts_with("name=") {
                            options.push(opt);
                        }
                    }
                    hiers.push(Hier {
                        public: Hierarchy {
                            mount_point: point.into(),
                            options: options.join(","),
                            controllers,
                        },
                        mount_root: root.into(),
                        v2: false,
                    });
                }
                "cgroup2" => {
                    let ctl = fs::read_to_string(Path::new(&point).join("cgroup.controllers"))
                        .unwrap_or_default();
                    let controllers = ctl.split_whitespace().map(String::from).collect();
                    hiers.push(Hier {
                        public: Hierarchy {
                            mount_point: point.into(),
                            options: String::new(),
                            controllers,
                        },
                        mount_root: root.into(),
                        v2: true,
                    });
                }
                _ => {}
            }
        }
        // The same hierarchy may be mounted twice (bind mounts); keep the first.
        let mut seen = Vec::new();
        hiers.retain(|h| {
            let key = (h.v2, h.public.options.clone());
            let keep = !seen.contains(&key);
            seen.push(key);
            keep
        });
        let has_v1 = hiers.iter().any(|h| !h.v2);
        let has_v2 = hiers.iter().any(|h| h.v2);
        let version = match (has_v1, has_v2) {
            (true, true) => CgroupVersion::Hybrid,
            (false, true) => CgroupVersion::V2,
            _ => CgroupVersion::V1,
        };
        Layout {
            version,
            hiers,
            fake_self_cgroup,
        }
    }

    /// A fake v1 or v2 layout rooted at `root`: v1 hierarchies are the subdirectories of
    /// `root` named after their controllers (a comma-separated name for co-mounts), v2 is
    /// `root` itself. `self_cgroup` plays `/proc/self/cgroup`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn fake(
        root: &Path,
        version: CgroupVersion,
        self_cgroup: &str,
    ) -> io::Result<Layout> {
        let mut mi = String::new();
        let mut id = 0;
        let mut line = |point: &Path, fstype: &str, opts: &str| {
            id += 1;
            mi.push_str(&format!(
                "{id} 1 0:{id} / {} rw - {fstype} {fstype} rw,{opts}\n",
                point.display()
            ));
        };
        if version == CgroupVersion::V2 {
            line(root, "cgroup2", "");
        } else {
            let mut names: Vec<String> = Vec::new();
            for e in fs::read_dir(root)? {
                names.push(e?.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            for n in names {
                if n == "unified" {
                    line(&root.join(&n), "cgroup2", "");
                } else {
                    line(&root.join(&n), "cgroup", &n);
                }
            }
        }
        Ok(Layout::from_mountinfo(&mi, Some(self_cgroup.to_string())))
    }

    /// The hierarchy that serves `ctrl`, if any.
    fn hier_for(&self, ctrl: Controller) -> Option<usize> {
        if let Some(name) = ctrl.v1_name() {
            if let Some(i) = self.hiers.iter().position(|h| !h.v2 && h.has(name)) {
                return Some(i);
            }
        }
        let i = self.hiers.iter().position(|h| h.v2)?;
        // On pure v2 everything is there (a controller that is not enabled shows as a missing
        // file, which names itself in the error); on a hybrid host only what the unified
        // hierarchy lists (hugetlb here), or raw `unified` keys.
        if self.version == CgroupVersion::V2 || ctrl == Controller::Unified {
            return Some(i);
        }
        ctrl.v2_name().filter(|n| self.hiers[i].has(n)).map(|_| i)
    }

    /// Whether `ctrl` is served by the cgroup2 hierarchy (v2 file names apply).
    pub(crate) fn is_v2(&self, ctrl: Controller) -> bool {
        self.hier_for(ctrl).is_some_and(|i| self.hiers[i].v2)
    }

    /// The container's directory in every hierarchy (whether it exists or not).
    fn resolve(&self, spec_path: &str) -> Result<Vec<PathBuf>> {
        let invalid = |reason: &str| Error::InvalidCgroupPath {
            path: spec_path.to_string(),
            reason: reason.to_string(),
        };
        let path = if is_systemd_path(spec_path) {
            systemd_to_fs(spec_path).map_err(|r| invalid(&r))?
        } else {
            spec_path.to_string()
        };
        // "../NAME": beside the caller's own cgroup (see `BESIDE_OWN`)
        let (beside, path) = match path.strip_prefix(BESIDE_OWN) {
            Some(rest) => (true, rest.to_owned()),
            None => (false, path),
        };
        if path.is_empty()
            || path.starts_with('/') && beside
            || Path::new(&path)
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            return Err(invalid(
                "must be a non-empty path without \"..\" (but one leading \"../\")",
            ));
        }
        let own = if path.starts_with('/') {
            None
        } else {
            Some(match &self.fake_self_cgroup {
                Some(s) => s.clone(),
                None => fs::read_to_string("/proc/self/cgroup")
                    .map_err(|e| cg_err("reading", "/proc/self/cgroup", e))?,
            })
        };
        let rel = path.trim_start_matches('/');
        Ok(self
            .hiers
            .iter()
            .map(|h| {
                let mut dir = h.public.mount_point.clone();
                if let Some(own) = &own {
                    if let Some(p) = own_cgroup(own, h) {
                        let p = Path::new(p)
                            .strip_prefix(&h.mount_root)
                            .unwrap_or(Path::new(p));
                        let p = p.strip_prefix("/").unwrap_or(p);
                        let p = if beside {
                            p.parent().unwrap_or(Path::new(""))
                        } else {
                            p
                        };
                        dir.push(p);
                    }
                }
                if !rel.is_empty() {
                    dir.push(rel);
                }
                dir
            })
            .collect())
    }
}

/// The prefix of a cgroup path (`../NAME`) that puts the cgroup beside the calling
/// process's own, in its parent, in every hierarchy — the one form with `..` this module
/// takes. For rootless containers: a delegated cgroup v2 subtree holds its processes in
/// leaves, and a cgroup with processes cannot hand controllers to children (cgroup v2's
/// no-internal-processes rule), so a container's cgroup goes next to the caller's leaf,
/// in the delegated parent.
pub const BESIDE_OWN: &str = "../";

/// The calling process's own cgroup directories, in the hierarchies a container gets (see
/// the module docs): what a container without a cgroup of its own (rootless, none
/// delegated) is in, and shows at `/sys/fs/cgroup`, read-only, as runc does.
///
/// # Errors
/// [`Error::Cgroup`] if `/proc/self/cgroup` cannot be read.
pub fn own_dirs() -> Result<Vec<PathBuf>> {
    let layout = host();
    // a child's directories, less the child
    let dirs = layout.resolve("c")?;
    Ok(layout
        .hiers
        .iter()
        .zip(dirs)
        .filter(|(h, _)| !(h.v2 && layout.version == CgroupVersion::Hybrid))
        .filter_map(|(_, d)| d.parent().map(Path::to_path_buf))
        .collect())
}

/// Our own cgroup in hierarchy `h` from `/proc/self/cgroup` text.
fn own_cgroup<'a>(proc_self_cgroup: &'a str, h: &Hier) -> Option<&'a str> {
    proc_self_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let matches = if h.v2 {
            ctrls.is_empty()
        } else {
            let mut a: Vec<&str> = ctrls.split(',').collect();
            let mut b: Vec<&str> = h.public.options.split(',').collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        matches.then_some(path)
    })
}

/// Undoes mountinfo's octal escapes (`\040` for a space), as [`super::overlay`] reads them.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    String::from_utf8_lossy(&super::overlay::unescape(s.as_bytes())).into_owned()
}

/// `slice:prefix:name` (runc `--systemd-cgroup` syntax): exactly two colons, not absolute.
fn is_systemd_path(p: &str) -> bool {
    !p.starts_with('/') && p.matches(':').count() == 2
}

/// Maps `slice:prefix:name` to the cgroupfs path systemd would give the unit, without dbus:
/// `system.slice:docker:abc` → `/system.slice/docker-abc.scope`, and a nested slice
/// `a-b.slice` → `/a.slice/a-b.slice`. An empty slice is `system.slice`, as in runc; a name
/// ending in `.slice` is used as is.
fn systemd_to_fs(p: &str) -> std::result::Result<String, String> {
    let mut parts = p.splitn(3, ':');
    let (slice, prefix, name) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if name.is_empty() {
        return Err("the unit name is empty".into());
    }
    if name.contains('/') || prefix.contains('/') {
        return Err("systemd unit names cannot contain \"/\"".into());
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let mut out = expand_slice(slice)?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    out.push('/');
    out.push_str(&unit);
    Ok(out)
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` (the root slice) → "".
fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let base = slice
        .strip_suffix(".slice")
        .ok_or_else(|| format!("{slice:?} is not a slice"))?;
    if base == "-" {
        return Ok(String::new());
    }
    if base.is_empty()
        || base.contains('/')
        || base.starts_with('-')
        || base.ends_with('-')
        || base.contains("--")
    {
        return Err(format!("{slice:?} is not a valid slice name"));
    }
    let mut out = String::new();
    let mut prefix = String::new();
    for comp in base.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(comp);
        out.push('/');
        out.push_str(&prefix);
        out.push_str(".slice");
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Settings.

/// One value for one control file, in the hierarchy of one controller: what
/// [`Cgroup::create`] and [`Cgroup::apply`] write.
///
/// ```
/// use cargohold::sys::cgroup::{Controller, Setting};
/// let s = Setting::new(Controller::Pids, "pids.max", 100);
/// assert_eq!((s.file.as_str(), s.value.as_str()), ("pids.max", "100"));
/// // BFQ's file where it exists, else the default scheduler's with its own value.
/// let w = Setting::new(Controller::Blkio, "io.bfq.weight", 500).or_value("io.weight", 4950);
/// assert_eq!(w.alt, Some(("io.weight".to_string(), "4950".to_string())));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Setting {
    /// The controller whose hierarchy holds the file.
    pub controller: Controller,
    /// The control file's name (`memory.max`).
    pub file: String,
    /// The value, written in one write(2).
    pub value: String,
    /// A file (and value) to use instead when `file` does not exist (`blkio.bfq.weight`).
    pub alt: Option<(String, String)>,
    /// A missing file is no error (the value asks for nothing the host lacks).
    pub optional: bool,
}

impl Setting {
    /// `value` for `file` in `controller`'s hierarchy.
    pub fn new(controller: Controller, file: impl Into<String>, value: impl ToString) -> Setting {
        Setting {
            controller,
            file: file.into(),
            value: value.to_string(),
            alt: None,
            optional: false,
        }
    }

    /// Makes a missing file no error.
    pub fn optional(mut self) -> Setting {
        self.optional = true;
        self
    }

    /// Writes the same value to `alt` when `file` does not exist.
    pub fn or(self, alt: &str) -> Setting {
        let v = self.value.clone();
        self.or_value(alt, v)
    }

    /// Writes `value` to `alt` when `file` does not exist.
    pub fn or_value(mut self, alt: &str, value: impl ToString) -> Setting {
        self.alt = Some((alt.to_string(), value.to_string()));
        self
    }
}

/// Whether the kernel refused a cgroup operation for want of permission (the directory was
/// not delegated to the caller): `EACCES`, `EPERM`, or `EROFS` (a read-only cgroupfs, as a
/// container without cgroup namespace delegation sees it).
pub fn is_denied(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EROFS)
    )
}

/// An [`Error::Cgroup`].
fn cg_err(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Error {
    Error::Cgroup {
        op: op.into(),
        path: path.into(),
        source,
    }
}

/// Writes `value` to an existing control file, in one write(2) as cgroupfs wants. O_TRUNC
/// as runc: cgroupfs ignores it, a fake tree needs it.
fn write_file(path: &Path, value: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?
        .write_all(value.as_bytes())
}

fn read_file(path: &Path) -> Result<String> {
    let mut s = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .map_err(|e| cg_err("reading", path, e))?;
    Ok(s)
}

/// Reads a file that may be absent (`None`).
fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(cg_err("reading", path, e)),
    }
}

/// The value of `key` in a flat-keyed file (`key value` lines).
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

// ---------------------------------------------------------------------------------------
// The cgroup.

/// One container's cgroup across hierarchies.
#[derive(Debug)]
pub struct Cgroup {
    layout: Arc<Layout>,
    /// The container's directory in every hierarchy of `layout`, by index.
    targets: Vec<PathBuf>,
    /// Indices of the hierarchies where the directory exists (is ours); grows when `apply`
    /// needs a controller the container did not have yet.
    live: Mutex<Vec<usize>>,
}

impl Cgroup {
    /// Creates a container's cgroup and writes `settings` (in order; empty: no limits).
    ///
    /// `path` is the spec's `linux.cgroupsPath`: an absolute path is relative to each
    /// hierarchy's root, a relative one to the calling process's own cgroup (as runc does).
    /// runc's systemd form `slice:prefix:name` is accepted and mapped to the cgroupfs path
    /// systemd would use (`/system.slice/prefix-name.scope`; `a-b.slice` nests as
    /// `a.slice/a-b.slice`) — without talking to systemd.
    ///
    /// Directories are created (`mkdir -p`) in every hierarchy but a hybrid host's unified
    /// one unless a setting needs it (see the module docs); on v1 each new `cpuset` level
    /// gets its parent's `cpus` and `mems`, on
    /// v2 the parents' `cgroup.subtree_control` enables the available controllers.
    ///
    /// # Errors
    /// [`Error::InvalidCgroupPath`] for a malformed path, [`Error::Cgroup`] naming the
    /// directory or control file (and the value) the kernel refused. On error everything this
    /// call created is removed again.
    pub fn create(path: &str, settings: &[Setting]) -> Result<Cgroup> {
        Cgroup::create_in(host().clone(), path, settings)
    }

    /// As [`create`](Self::create), for a caller without root (rootless containers): a
    /// hierarchy that no setting needs is skipped where the kernel refuses its directory
    /// (`EACCES`, `EPERM`, `EROFS`: it was not delegated to the caller), as runc's rootless
    /// cgroup manager does. A hierarchy a setting needs must be writable.
    ///
    /// # Errors
    /// As [`create`](Self::create); a refused directory of a needed hierarchy, or refused
    /// directories in every hierarchy, are [`Error::Cgroup`] with the kernel's error (see
    /// [`is_denied`]).
    pub fn create_permitted(path: &str, settings: &[Setting]) -> Result<Cgroup> {
        Cgroup::make(host().clone(), path, settings, true)
    }

    pub(crate) fn create_in(layout: Arc<Layout>, path: &str, writes: &[Setting]) -> Result<Cgroup> {
        Cgroup::make(layout, path, writes, false)
    }

    /// Opens an existing container cgroup (for state, kill, pause, delete from another process).
    ///
    /// # Errors
    /// [`Error::Cgroup`] with [`io::ErrorKind::NotFound`] if the directory exists in no
    /// hierarchy.
    pub fn open(path: &str) -> Result<Cgroup> {
        Cgroup::open_in(host().clone(), path)
    }

    fn make(
        layout: Arc<Layout>,
        path: &str,
        writes: &[Setting],
        permitted: bool,
    ) -> Result<Cgroup> {
        let targets = layout.resolve(path)?;
        let mut wanted: Vec<usize> = Vec::new();
        let mut want = |i: Option<usize>| {
            if let Some(i) = i.filter(|i| !wanted.contains(i)) {
                wanted.push(i);
            }
        };
        // Every hierarchy (on v2 the one there is) as runc does, but the unified one of a
        // hybrid host, unless a setting needs it: see the module docs.
        for (i, h) in layout.hiers.iter().enumerate() {
            if !(h.v2 && layout.version == CgroupVersion::Hybrid) {
                want(Some(i));
            }
        }
        for w in writes {
            let i = layout.hier_for(w.controller);
            if i.is_none() {
                return Err(no_hierarchy(w, &layout));
            }
            want(i);
        }
        if wanted.is_empty() {
            return Err(cg_err(
                "finding a cgroup hierarchy",
                "/proc/self/mountinfo",
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }
        let mut cg = Cgroup {
            layout,
            targets,
            live: Mutex::new(Vec::new()),
        };
        let mut created = Vec::new();
        let res = if permitted {
            let needed: Vec<usize> = writes
                .iter()
                .filter_map(|w| cg.layout.hier_for(w.controller))
                .collect();
            cg.make_permitted_dirs(&wanted, &needed, &mut created)
        } else {
            cg.make_dirs(&wanted, &mut created)
        };
        let res = res.and_then(|()| cg.run(writes));
        if let Err(e) = res {
            let fake = cg.layout.fake_self_cgroup.is_some();
            for d in created.iter().rev() {
                let _ = remove_tree(d, fake);
            }
            return Err(e);
        }
        Ok(cg)
    }

    pub(crate) fn open_in(layout: Arc<Layout>, path: &str) -> Result<Cgroup> {
        let targets = layout.resolve(path)?;
        let live: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i].is_dir())
            .collect();
        if live.is_empty() {
            // No hierarchy at all: the mount table is what lacks it.
            let first = targets
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("/proc/self/mountinfo"));
            return Err(cg_err(
                "opening",
                first,
                io::Error::from(io::ErrorKind::NotFound),
            ));
        }
        Ok(Cgroup {
            layout,
            targets,
            live: Mutex::new(live),
        })
    }

    /// Creates the directories of hierarchies `idx`, recording every directory made.
    fn make_dirs(&mut self, idx: &[usize], created: &mut Vec<PathBuf>) -> Result<()> {
        for &i in idx {
            let hier = &self.layout.hiers[i];
            let dir = &self.targets[i];
            let cpuset = !hier.v2 && hier.has("cpuset");
            let start = created.len();
            mkdir_p(
                &hier.public.mount_point,
                dir,
                created,
                self.layout.fake_self_cgroup.is_some(),
            )?;
            // A new v1 cpuset cgroup has empty cpus/mems, and nothing can join it until they are
            // set; each level mkdir -p made needs its parent's values (top-down order).
            if cpuset {
                for d in &created[start..] {
                    copy_cpuset(d)?;
                }
            }
            if hier.v2 {
                enable_controllers(&hier.public.mount_point, dir, &hier.public.controllers)?;
            }
            self.live().push(i);
        }
        Ok(())
    }

    /// [`make_dirs`](Self::make_dirs) of each hierarchy of `idx` on its own, skipping the
    /// refused ones that are not `needed`; at least one must be made.
    fn make_permitted_dirs(
        &mut self,
        idx: &[usize],
        needed: &[usize],
        created: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let mut refused = None;
        for &i in idx {
            match self.make_dirs(&[i], created) {
                Ok(()) => {}
                Err(Error::Cgroup { source, .. }) if is_denied(&source) && !needed.contains(&i) => {
                    refused.get_or_insert((i, source));
                }
                Err(e) => return Err(e),
            }
        }
        match refused {
            Some((i, source)) if self.live().is_empty() => {
                Err(cg_err("creating", &self.targets[i], source))
            }
            _ => Ok(()),
        }
    }

    /// Runs a plan of writes.
    fn run(&self, writes: &[Setting]) -> Result<()> {
        // v1 memory+swap: the kernel wants memsw >= limit at every moment, so when raising
        // memsw above the current limit (or to -1) write it first, as runc does.
        let mut order: Vec<&Setting> = writes.iter().collect();
        let memsw = order
            .iter()
            .position(|w| w.file == "memory.memsw.limit_in_bytes");
        let limit = order.iter().position(|w| w.file == "memory.limit_in_bytes");
        if let (Some(s), Some(l)) = (memsw, limit) {
            let swap: i64 = order[s].value.parse().unwrap_or(-1);
            let cur_file = self
                .dir(Controller::Memory)
                .map(|d| d.join("memory.limit_in_bytes"));
            let cur: i64 = match cur_file {
                Some(f) => read_file(&f)?.trim().parse().unwrap_or(i64::MAX),
                None => i64::MAX,
            };
            if swap == -1 || cur < swap {
                let w = order.remove(s);
                order.insert(l.min(s), w);
            }
        }
        for w in order {
            let dir = match self.dir(w.controller) {
                Some(d) => d.to_path_buf(),
                None => self.join_new(w)?,
            };
            let path = dir.join(&w.file);
            match write_file(&path, &w.value) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound && w.alt.is_some() => {
                    let (alt, v) = w.alt.as_ref().expect("checked");
                    let path = dir.join(alt);
                    write_file(&path, v)
                        .map_err(|e| cg_err(format!("setting {alt} to {v:?}"), path, e))?;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && w.optional => {}
                Err(e) => {
                    return Err(cg_err(
                        format!("setting {} to {:?}", w.file, w.value),
                        path,
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// For `apply` on a controller the container did not get at creation: creates its
    /// directory and moves the container's processes in.
    fn join_new(&self, w: &Setting) -> Result<PathBuf> {
        let i = self
            .layout
            .hier_for(w.controller)
            .ok_or_else(|| no_hierarchy(w, &self.layout))?;
        // Frozen, no process can fork between listing and moving (and stay behind). A paused
        // container stays paused.
        let frozen = !self.is_frozen().unwrap_or(true) && self.freeze().is_ok();
        let moved = self.move_into(i);
        if frozen {
            self.thaw()?;
        }
        moved?;
        self.live().push(i);
        Ok(self.targets[i].clone())
    }

    /// Creates the directory in hierarchy `i` and moves the container's processes into it.
    fn move_into(&self, i: usize) -> Result<()> {
        let pids = self.pids()?;
        let mut created = Vec::new();
        let hier = &self.layout.hiers[i];
        mkdir_p(
            &hier.public.mount_point,
            &self.targets[i],
            &mut created,
            self.layout.fake_self_cgroup.is_some(),
        )?;
        if !hier.v2 && hier.has("cpuset") {
            for d in &created {
                copy_cpuset(d)?;
            }
        }
        let procs = self.targets[i].join("cgroup.procs");
        for pid in pids {
            match write_file(&procs, &pid.to_string()) {
                Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                    return Err(cg_err(format!("attaching process {pid}"), procs, e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The container's directory serving `ctrl`, if it has one.
    pub fn dir(&self, ctrl: Controller) -> Option<&Path> {
        let i = self.layout.hier_for(ctrl)?;
        self.live().contains(&i).then(|| self.targets[i].as_path())
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        // The list is only pushed to; a panic elsewhere cannot leave it inconsistent.
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_v2(&self) -> bool {
        self.layout.version == CgroupVersion::V2
    }

    /// Whether `controller` is served by the cgroup2 hierarchy here (see [`uses_v2`]).
    pub fn uses_v2(&self, controller: Controller) -> bool {
        self.layout.is_v2(controller)
    }

    /// The directory whose `cgroup.procs` lists the container's processes.
    fn primary(&self) -> &Path {
        let pick = [Controller::Freezer, Controller::Pids, Controller::Memory]
            .iter()
            .find_map(|&c| self.dir(c));
        pick.unwrap_or_else(|| &self.targets[self.live()[0]])
    }

    /// The directory paths, one per hierarchy the container has (for state files, debugging).
    pub fn paths(&self) -> Vec<PathBuf> {
        self.live()
            .iter()
            .map(|&i| self.targets[i].clone())
            .collect()
    }

    /// For mounting `/sys/fs/cgroup` inside the container on v1: each hierarchy the container
    /// has, with the container's path relative to that hierarchy's mount point (bind-mount
    /// `mount_point/path`, or mount the hierarchy by its `options` and use `path`).
    pub fn hierarchies(&self) -> Vec<(Hierarchy, PathBuf)> {
        self.live()
            .iter()
            .map(|&i| {
                let h = &self.layout.hiers[i].public;
                let rel = self.targets[i]
                    .strip_prefix(&h.mount_point)
                    .unwrap_or(Path::new(""));
                (h.clone(), rel.to_path_buf())
            })
            .collect()
    }

    /// Opens the attach file of every hierarchy `O_WRONLY | O_CLOEXEC` — `tasks` on v1,
    /// `cgroup.procs` on v2: a freshly cloned, single-threaded child joins the cgroup by
    /// writing `"0"` to each, without allocating. (`tasks` moves only the writing thread, so
    /// the writer must have no other threads.)
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the file that could not be opened.
    pub fn procs_fds(&self) -> Result<Vec<OwnedFd>> {
        self.paths()
            .into_iter()
            .map(|d| {
                // On a v1 hierarchy the single-threaded child moves itself through `tasks`:
                // migrating only the calling thread skips the kernel's global
                // cgroup_threadgroup_rwsem, whose write side waits for an RCU grace period
                // (measured here: attaches through cgroup.procs stall up to 20 ms, through
                // tasks under 2 ms). v2 directories have no `tasks`: cgroup.procs it is.
                // std opens with O_CLOEXEC.
                let open = |p: &Path| OpenOptions::new().write(true).open(p).map(OwnedFd::from);
                let tasks = d.join("tasks");
                match open(&tasks) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        let p = d.join("cgroup.procs");
                        open(&p).map_err(|e| cg_err("opening", p, e))
                    }
                    r => r.map_err(|e| cg_err("opening", tasks, e)),
                }
            })
            .collect()
    }

    /// On a pure v2 host, the cgroup directory opened `O_RDONLY | O_DIRECTORY | O_CLOEXEC` for
    /// `clone3`'s `CLONE_INTO_CGROUP`; `None` on v1 and hybrid hosts.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the directory that could not be opened.
    pub fn v2_dir_fd(&self) -> Result<Option<OwnedFd>> {
        if !self.is_v2() {
            return Ok(None);
        }
        let d = &self.targets[self.live()[0]];
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(d)
            .map_err(|e| cg_err("opening", d, e))?;
        Ok(Some(f.into()))
    }

    /// Moves process `pid` (and on v1 all its threads) into the cgroup, as `runc exec` does.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the `cgroup.procs` file the kernel refused.
    pub fn attach(&self, pid: i32) -> Result<()> {
        for d in self.paths() {
            let p = d.join("cgroup.procs");
            write_file(&p, &pid.to_string())
                .map_err(|e| cg_err(format!("attaching process {pid}"), p, e))?;
        }
        Ok(())
    }

    /// Writes new settings (`runc update`), in order; files not named are left as they are. A
    /// setting for a controller the container has no directory for yet creates it and moves
    /// the container's processes in (frozen meanwhile).
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the control file and the value the kernel refused. Writes
    /// made before the failing one stay.
    pub fn apply(&self, settings: &[Setting]) -> Result<()> {
        self.run(settings)
    }

    /// Freezes every process of the cgroup (`runc pause`) and waits until they are frozen.
    ///
    /// # Errors
    /// [`Error::Cgroup`] if the host has no freezer, the write fails, or the cgroup does not
    /// reach the frozen state within a second (it is thawed again then).
    pub fn freeze(&self) -> Result<()> {
        self.set_frozen(true)
    }

    /// Thaws the cgroup (`runc resume`).
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the freezer file that could not be written.
    pub fn thaw(&self) -> Result<()> {
        self.set_frozen(false)
    }

    fn freezer_file(&self) -> Result<PathBuf> {
        let (ctrl, file) = if self.is_v2() {
            (Controller::Unified, "cgroup.freeze")
        } else {
            (Controller::Freezer, "freezer.state")
        };
        let dir = self.dir(ctrl).ok_or_else(|| {
            cg_err(
                "finding a freezer",
                self.primary(),
                io::Error::from(io::ErrorKind::Unsupported),
            )
        })?;
        Ok(dir.join(file))
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let file = self.freezer_file()?;
        let value = match (self.is_v2(), frozen) {
            (true, true) => "1",
            (true, false) => "0",
            (false, true) => "FROZEN",
            (false, false) => "THAWED",
        };
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let set = |v: &str| {
            write_file(&file, v).map_err(|e| cg_err(format!("setting {name} to {v:?}"), &file, e))
        };
        set(value)?;
        if !frozen {
            return Ok(());
        }
        // Freezing is asynchronous: wait for the kernel to report every task frozen,
        // re-requesting it now and then as runc does (new forks can race the first request).
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut n = 0u32;
        loop {
            if self.is_frozen_now()? {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = set(if self.is_v2() { "0" } else { "THAWED" });
                return Err(cg_err(
                    format!("waiting for {name} to report frozen"),
                    &file,
                    io::Error::from(io::ErrorKind::TimedOut),
                ));
            }
            n += 1;
            if n.is_multiple_of(10) && !self.is_v2() {
                set(value)?;
            }
            std::thread::sleep(Duration::from_micros(100 * u64::from(n.min(50))));
        }
    }

    /// Whether the kernel reports the freeze complete.
    fn is_frozen_now(&self) -> Result<bool> {
        if self.is_v2() {
            let f = self.targets[self.live()[0]].join("cgroup.events");
            Ok(keyed(&read_file(&f)?, "frozen") == Some(1))
        } else {
            Ok(read_file(&self.freezer_file()?)?.trim() == "FROZEN")
        }
    }

    /// Whether the cgroup is frozen (the container is "paused"). A freeze still in progress
    /// counts as not frozen.
    ///
    /// # Errors
    /// [`Error::Cgroup`] if the freezer state cannot be read.
    pub fn is_frozen(&self) -> Result<bool> {
        self.is_frozen_now()
    }

    /// Memory, CPU and pids usage and limits, and the OOM kill count.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming a control file that exists but cannot be read.
    pub fn stats(&self) -> Result<CgroupStats> {
        let mut s = CgroupStats::default();
        let v2 = self.is_v2();
        let num = |t: &str| -> Option<u64> { t.trim().parse().ok() };
        if let Some(d) = self.dir(Controller::Memory) {
            let f = |n: &str| read_optional(&d.join(n));
            if v2 {
                s.memory_usage = f("memory.current")?.as_deref().and_then(num).unwrap_or(0);
                s.memory_limit = f("memory.max")?.as_deref().and_then(num);
                s.memory_max_usage = f("memory.peak")?.as_deref().and_then(num).unwrap_or(0);
                s.memory_cache = f("memory.stat")?
                    .as_deref()
                    .and_then(|t| keyed(t, "file"))
                    .unwrap_or(0);
            } else {
                s.memory_usage = f("memory.usage_in_bytes")?
                    .as_deref()
                    .and_then(num)
                    .unwrap_or(0);
                // v1 says "unlimited" with the largest page-aligned i64.
                s.memory_limit = f("memory.limit_in_bytes")?
                    .as_deref()
                    .and_then(num)
                    .filter(|&l| l < 1 << 62);
                s.memory_max_usage = f("memory.max_usage_in_bytes")?
                    .as_deref()
                    .and_then(num)
                    .unwrap_or(0);
                let stat = f("memory.stat")?.unwrap_or_default();
                s.memory_cache = keyed(&stat, "total_cache")
                    .or_else(|| keyed(&stat, "cache"))
                    .unwrap_or(0);
            }
            s.oom_kills = self.oom_kills()?;
        }
        if v2 {
            let d = &self.targets[self.live()[0]];
            if let Some(t) = read_optional(&d.join("cpu.stat"))? {
                s.cpu_usage_ns = keyed(&t, "usage_usec").unwrap_or(0) * 1000;
                s.cpu_user_ns = keyed(&t, "user_usec").unwrap_or(0) * 1000;
                s.cpu_system_ns = keyed(&t, "system_usec").unwrap_or(0) * 1000;
            }
        } else if let Some(d) = self.dir(Controller::Cpuacct) {
            let f = |n: &str| read_optional(&d.join(n));
            // The split first, the total after: the kernel's total is the sum of the two
            // counters, so a total read later is never below them (a running container
            // otherwise showed more user time than total time).
            match (f("cpuacct.usage_user")?, f("cpuacct.usage_sys")?) {
                (Some(u), Some(k)) => {
                    s.cpu_user_ns = num(&u).unwrap_or(0);
                    s.cpu_system_ns = num(&k).unwrap_or(0);
                }
                _ => {
                    // Older kernels: cpuacct.stat in clock ticks (USER_HZ, 100 on Linux).
                    let t = f("cpuacct.stat")?.unwrap_or_default();
                    s.cpu_user_ns = keyed(&t, "user").unwrap_or(0) * 10_000_000;
                    s.cpu_system_ns = keyed(&t, "system").unwrap_or(0) * 10_000_000;
                }
            }
            s.cpu_usage_ns = f("cpuacct.usage")?.as_deref().and_then(num).unwrap_or(0);
            // Ticks are sampled, not measured: never more than the total.
            s.cpu_user_ns = s.cpu_user_ns.min(s.cpu_usage_ns);
            s.cpu_system_ns = s.cpu_system_ns.min(s.cpu_usage_ns);
        }
        if let Some(d) = self.dir(Controller::Pids) {
            s.pids_current = read_optional(&d.join("pids.current"))?
                .as_deref()
                .and_then(num)
                .unwrap_or(0);
            s.pids_limit = read_optional(&d.join("pids.max"))?.as_deref().and_then(num);
        }
        Ok(s)
    }

    /// How many times the OOM killer killed a task of this cgroup (v1: the `oom_kill` line of
    /// `memory.oom_control`, v2: of `memory.events`).
    ///
    /// # Errors
    /// [`Error::Cgroup`] if the container has no memory cgroup or the file cannot be read.
    pub fn oom_kills(&self) -> Result<u64> {
        let file = oom_file(&self.layout);
        let dir = self.dir(Controller::Memory).ok_or_else(|| {
            cg_err(
                "reading",
                self.primary().join(file),
                io::Error::from(io::ErrorKind::NotFound),
            )
        })?;
        Ok(keyed(&read_file(&dir.join(file))?, "oom_kill").unwrap_or(0))
    }

    /// [`oom_kills`](Cgroup::oom_kills) of the container cgroup at `path` (as [`open`]
    /// takes it), reading only the memory controller's file: 0 when the cgroup has no
    /// memory directory (any more). Cheaper than `open` (which looks for the container's
    /// directory in every hierarchy) for a check made after every container's exit.
    ///
    /// [`open`]: Cgroup::open
    ///
    /// # Errors
    /// [`Error::InvalidCgroupPath`] for a malformed path; [`Error::Cgroup`] naming a file
    /// that exists but cannot be read.
    pub fn oom_kills_at(path: &str) -> Result<u64> {
        let layout = host();
        let Some(i) = layout.hier_for(Controller::Memory) else {
            return Ok(0);
        };
        let f = layout.resolve(path)?.swap_remove(i).join(oom_file(layout));
        Ok(read_optional(&f)?.map_or(0, |t| keyed(&t, "oom_kill").unwrap_or(0)))
    }

    /// Every process in the cgroup, including those in child cgroups.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming a `cgroup.procs` or directory that cannot be read.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        collect_pids(self.primary(), &mut out)?;
        Ok(out)
    }

    /// Sends `signal` to every process of the cgroup. On v2 with `cgroup.kill` (Linux 5.14)
    /// SIGKILL is one write; otherwise the cgroup is frozen (when it can be), every process
    /// signalled, and thawed, so that no process forks away in between. A paused container
    /// stays paused, but SIGKILL thaws it so that the signal takes effect.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the file or process that failed. Processes that already
    /// exited are not an error, nor is the cgroup's removal by its owner meanwhile.
    pub fn kill_all(&self, signal: i32) -> Result<()> {
        if self.is_v2() && signal == libc::SIGKILL {
            let f = self.targets[self.live()[0]].join("cgroup.kill");
            match write_file(&f, "1") {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(cg_err("setting cgroup.kill to \"1\"", f, e)),
            }
        }
        // A paused container stays paused, except that SIGKILL needs a thaw to take effect.
        let paused = self.is_frozen().unwrap_or(false);
        let frozen = if paused {
            signal == libc::SIGKILL
        } else {
            self.freeze().is_ok()
        };
        let res = self.pids().and_then(|pids| {
            for pid in pids {
                signal_pid(pid, signal).map_err(|e| {
                    cg_err(
                        format!("sending signal {signal} to process {pid}"),
                        self.primary(),
                        e,
                    )
                })?;
            }
            Ok(())
        });
        if frozen {
            if let Err(e) = self.thaw() {
                // The last process exited and its owner removed the cgroup while it was
                // frozen: there is nothing left to thaw.
                if self.freezer_file().is_ok_and(|f| f.exists()) {
                    return Err(e);
                }
            }
        }
        res
    }

    /// Removes the cgroup's directories (and any child cgroups the container made), retrying
    /// for a while on `EBUSY` while the kernel still counts exiting tasks.
    ///
    /// # Errors
    /// [`Error::Cgroup`] naming the directory that could not be removed.
    pub fn remove(&self) -> Result<()> {
        let mut first = None;
        let fake = self.layout.fake_self_cgroup.is_some();
        for d in self.paths() {
            if let Err(e) = remove_tree(&d, fake) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// The memory controller's file with the `oom_kill` count.
fn oom_file(layout: &Layout) -> &'static str {
    if layout.is_v2(Controller::Memory) {
        "memory.events"
    } else {
        "memory.oom_control"
    }
}

fn no_hierarchy(w: &Setting, layout: &Layout) -> Error {
    let at = layout
        .hiers
        .first()
        .map(|h| h.public.mount_point.clone())
        .unwrap_or_else(|| PathBuf::from("/proc/self/mountinfo"));
    cg_err(
        format!("finding a hierarchy for {}", w.file),
        at,
        io::Error::from(io::ErrorKind::NotFound),
    )
}

/// `kill(pid, signal)`; a process that is already gone is fine.
fn signal_pid(pid: i32, signal: i32) -> io::Result<()> {
    // Signals a process listed in the cgroup; the pid could be reused in between, the same
    // race every cgroupfs-based runtime accepts (the cgroup is frozen, so it is narrow).
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let r = unsafe { libc::kill(pid, signal) };
    if r == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ESRCH) {
            return Err(e);
        }
    }
    Ok(())
}

/// mkdir -p of `dir` below `base` (which must exist), pushing each directory created in
/// top-down order. `fake` emulates cgroupfs: new directories get the parent's files, empty.
fn mkdir_p(base: &Path, dir: &Path, created: &mut Vec<PathBuf>, fake: bool) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound && dir != base => {
            let parent = dir.parent().unwrap_or(base);
            mkdir_p(base, parent, created, fake)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(cg_err("creating", dir, e)),
            }
        }
        Err(e) => return Err(cg_err("creating", dir, e)),
    }
    created.push(dir.to_path_buf());
    if fake {
        fake_kernel_files(dir).map_err(|e| cg_err("creating fake control files", dir, e))?;
    }
    Ok(())
}

/// Fake cgroupfs: a new directory gets every regular file of its parent, empty, except the
/// root-only files (`cgroup.sane_behavior`, `release_agent`).
fn fake_kernel_files(dir: &Path) -> io::Result<()> {
    let Some(parent) = dir.parent() else {
        return Ok(());
    };
    for e in fs::read_dir(parent)? {
        let e = e?;
        let name = e.file_name();
        if e.file_type()?.is_file() && name != "cgroup.sane_behavior" && name != "release_agent" {
            File::create(dir.join(name))?;
        }
    }
    Ok(())
}

/// Copies `cpuset.cpus` and `cpuset.mems` from the parent of a new v1 cpuset cgroup.
fn copy_cpuset(dir: &Path) -> Result<()> {
    let parent = dir.parent().unwrap_or(dir);
    for f in ["cpuset.cpus", "cpuset.mems"] {
        let v = read_file(&parent.join(f))?;
        let v = v.trim();
        let path = dir.join(f);
        // An empty parent value (a parent we cannot fix) is written as is: joining then fails
        // with ENOSPC naming the container's cgroup.
        if !v.is_empty() {
            write_file(&path, v).map_err(|e| cg_err(format!("setting {f} to {v:?}"), path, e))?;
        }
    }
    Ok(())
}

/// Enables the available controllers in `cgroup.subtree_control` of every level from the
/// mount point down to the parent of `dir`, so that `dir` gets their files.
fn enable_controllers(base: &Path, dir: &Path, available: &[String]) -> Result<()> {
    let mut levels: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|p| p.starts_with(base))
        .collect();
    levels.reverse();
    for level in levels {
        let file = level.join("cgroup.subtree_control");
        let on = read_file(&file)?;
        let missing: Vec<String> = available
            .iter()
            .filter(|c| !on.split_whitespace().any(|o| o == c.as_str()))
            .map(|c| format!("+{c}"))
            .collect();
        if missing.is_empty() {
            continue;
        }
        // All at once; if the kernel refuses the lot (one controller unavailable, or the level
        // holds processes), each on its own, leaving out what cannot be enabled: a limit that
        // then needs a missing file fails with that file's name.
        if write_file(&file, &missing.join(" ")).is_err() {
            for m in &missing {
                let _ = write_file(&file, m);
            }
        }
    }
    Ok(())
}

/// Appends the pids of `dir`'s `cgroup.procs` and of all its descendants. A cgroup removed
/// while it is walked (its last process exited and its owner cleaned up) has no processes.
fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let Some(procs) = read_optional(&dir.join("cgroup.procs"))? else {
        return Ok(());
    };
    out.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(cg_err("listing", dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| cg_err("listing", dir, e))?;
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&e.path(), out)?;
        }
    }
    Ok(())
}

/// Removes `dir` and its child cgroups, retrying on EBUSY while exiting tasks are still
/// counted. The common case (no child cgroups) is one rmdir: the directory is only listed
/// when the kernel says it is busy. On a `fake` tree the control files are removed first
/// (cgroupfs removes them with the directory).
fn remove_tree(dir: &Path, fake: bool) -> Result<()> {
    if fake {
        remove_children(dir, true)?;
    }
    let mut delay = Duration::from_micros(100);
    let deadline = Instant::now() + Duration::from_millis(500);
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                // Child cgroups (the container made its own) or tasks still exiting.
                if !remove_children(dir, fake)? {
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_millis(20));
                }
            }
            Err(e) => return Err(cg_err("removing", dir, e)),
        }
    }
}

/// Removes the child cgroups of `dir` (and on a fake tree its files); whether there were any.
fn remove_children(dir: &Path, fake: bool) -> Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(cg_err("listing", dir, e)),
    };
    let mut any = false;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&e.path(), fake)?;
            any = true;
        } else if fake {
            fs::remove_file(e.path()).map_err(|err| cg_err("removing", e.path(), err))?;
        }
    }
    Ok(any)
}

#[cfg(test)]
pub(crate) mod fake;

#[cfg(test)]
mod tests {
    use super::fake::{self, cat};
    use super::*;

    // ---- Tier 1: paths ----

    #[test]
    fn systemd_paths() {
        for (slice, want) in [
            ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
            (":cargohold:abc", "/system.slice/cargohold-abc.scope"),
            (
                "machine-pod-x.slice:crio:1",
                "/machine.slice/machine-pod.slice/machine-pod-x.slice/crio-1.scope",
            ),
            ("-.slice::abc", "/abc.scope"),
            ("user.slice:p:my.slice", "/user.slice/my.slice"),
        ] {
            assert_eq!(systemd_to_fs(slice).unwrap(), want, "{slice}");
        }
        assert!(systemd_to_fs("a--b.slice:p:n").is_err());
        assert!(systemd_to_fs("notaslice:p:n").is_err());
        assert!(systemd_to_fs("system.slice:p:").is_err());
        assert!(is_systemd_path("system.slice:p:n"));
        assert!(!is_systemd_path("/a:b:c"));
        assert!(!is_systemd_path("a/b"));
    }

    #[test]
    fn mountinfo_hybrid_and_v2() {
        let mi = "\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
50 31 0:32 /x /mnt/mem\\040dup rw,relatime - cgroup cgroup rw,memory
";
        let l = Layout::from_mountinfo(mi, Some(String::new()));
        assert_eq!(l.version, CgroupVersion::Hybrid);
        let opts: Vec<&str> = l.hiers.iter().map(|h| h.public.options.as_str()).collect();
        assert_eq!(opts, ["cpu,cpuacct", "memory", "name=systemd", ""]);
        assert_eq!(l.hiers[0].public.controllers, ["cpu", "cpuacct"]);
        assert_eq!(l.hier_for(Controller::Cpuacct), Some(0));
        assert_eq!(l.hier_for(Controller::Pids), None);
        assert_eq!(l.hier_for(Controller::Unified), Some(3));
        assert_eq!(unescape("/mnt/mem\\040dup"), "/mnt/mem dup");
        let l = Layout::from_mountinfo("1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", None);
        assert_eq!(l.version, CgroupVersion::V2);
        assert_eq!(l.hier_for(Controller::Freezer), Some(0));
    }

    #[test]
    fn relative_paths_follow_own_cgroup() {
        let mi = "\
35 31 0:32 / /cg/memory rw - cgroup cgroup rw,memory
36 31 0:33 /outer /cg/pids rw - cgroup cgroup rw,pids
";
        let l = Layout::from_mountinfo(
            mi,
            Some("4:memory:/user/me\n3:pids:/outer/sub\n0::/\n".into()),
        );
        let t = l.resolve("ctr").unwrap();
        assert_eq!(
            t,
            [
                PathBuf::from("/cg/memory/user/me/ctr"),
                PathBuf::from("/cg/pids/sub/ctr")
            ]
        );
        let t = l.resolve("/abs/ctr").unwrap();
        assert_eq!(
            t,
            [
                PathBuf::from("/cg/memory/abs/ctr"),
                PathBuf::from("/cg/pids/abs/ctr")
            ]
        );
        // beside the own cgroup, in its parent (a cgroup at a hierarchy's root stays there)
        let t = l.resolve("../ctr").unwrap();
        assert_eq!(
            t,
            [
                PathBuf::from("/cg/memory/user/ctr"),
                PathBuf::from("/cg/pids/ctr")
            ]
        );
        for bad in ["../../ctr", "a/../ctr", "..//abs", "../"] {
            assert!(l.resolve(bad).is_err(), "{bad}");
        }
        let t = l.resolve("system.slice:x:y").unwrap();
        assert_eq!(t[0], PathBuf::from("/cg/memory/system.slice/x-y.scope"));
        let e = l.resolve("a/../../escape").unwrap_err();
        assert!(matches!(e, Error::InvalidCgroupPath { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "invalid cgroup path \"a/../../escape\": must be a non-empty path without \"..\" \
             (but one leading \"../\")"
        );
        assert!(l.resolve("").is_err());
    }

    // ---- Tier 2: a fake cgroupfs in a tempdir ----

    #[test]
    fn pids_of_a_cgroup_removed_meanwhile_are_none() {
        // A remove racing the owner's cleanup walks a cgroup that is already gone: no
        // processes, not an error (a `rm -f` failed on it under load).
        let tmp = tempfile::tempdir().unwrap();
        let l = fake::fake_v1(tmp.path(), false, false);
        let cg = Cgroup::create_in(l, "/gone", &[]).unwrap();
        fs::write(cg.primary().join("cgroup.procs"), "7\n").unwrap();
        assert_eq!(cg.pids().unwrap(), [7]);
        fs::remove_dir_all(cg.primary()).unwrap();
        assert_eq!(cg.pids().unwrap(), Vec::<i32>::new());
        cg.remove().unwrap();
    }

    #[test]
    fn fake_settings_alt_optional_inherit_and_rollback() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let l = fake::fake_v1(root, false, false);
        assert!(!l.is_v2(Controller::Memory));
        let settings = [
            // No CFQ here: BFQ's file takes the value.
            Setting::new(Controller::Blkio, "blkio.weight", 500).or("blkio.bfq.weight"),
            // No swap accounting here: an optional setting is skipped.
            Setting::new(Controller::Memory, "memory.memsw.limit_in_bytes", -1).optional(),
            Setting::new(Controller::Pids, "pids.max", 7),
            Setting::new(Controller::Cpuset, "cpuset.cpus", "1"),
        ];
        let cg = Cgroup::create_in(l.clone(), "/outer/ctr", &settings).unwrap();
        let d = |c: &str| root.join(c).join("outer/ctr");
        assert_eq!(cat(d("blkio").join("blkio.bfq.weight")), "500");
        assert_eq!(cat(d("pids").join("pids.max")), "7");
        assert!(!d("memory").join("memory.memsw.limit_in_bytes").exists());
        // Every new cpuset level got its parent's values before the container's own.
        assert_eq!(cat(root.join("cpuset/outer/cpuset.cpus")), "0-3");
        assert_eq!(cat(d("cpuset").join("cpuset.cpus")), "1");
        // Every hierarchy, named by a setting or not (as runc).
        let all: Vec<String> = fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(cg.paths().len(), all.len(), "{all:?}");
        for h in &all {
            assert!(d(h).is_dir(), "{h} not joined");
        }
        assert_eq!(cg.dir(Controller::Pids), Some(d("pids").as_path()));

        // A setting for a controller the container lacks (a container made before its
        // hierarchy was mounted, played by removing its directory) creates it and moves the
        // processes.
        fs::remove_dir_all(d("devices")).unwrap();
        let cg = Cgroup::open_in(l.clone(), "/outer/ctr").unwrap();
        assert!(cg.dir(Controller::Devices).is_none());
        fs::write(d("freezer").join("cgroup.procs"), "4242\n").unwrap();
        cg.apply(&[Setting::new(
            Controller::Devices,
            "devices.deny",
            "a *:* rwm",
        )])
        .unwrap();
        assert_eq!(cat(d("devices").join("devices.deny")), "a *:* rwm");
        assert_eq!(cat(d("devices").join("cgroup.procs")), "4242");
        assert_eq!(cg.pids().unwrap(), [4242]);

        // A missing file that is not optional names itself and the value; nothing stays.
        let e = Cgroup::create_in(l, "/b", &[Setting::new(Controller::Memory, "memory.x", 1)])
            .unwrap_err();
        assert!(matches!(e, Error::Cgroup { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.starts_with("cgroup setting memory.x to \"1\" at "),
            "{msg}"
        );
        assert!(msg.ends_with("memory/b/memory.x"), "{msg}");
        for c in &all {
            assert!(!root.join(c).join("b").exists(), "{c} left behind");
        }
        cg.remove().unwrap();
        assert!(!d("devices").exists() && root.join("devices/outer").exists());
    }

    // ---- Tier 3: the real host (root) ----

    /// Kills and removes a cgroup when a test ends, passed or not.
    struct Guard(Option<Cgroup>);
    impl Guard {
        /// Creates the cgroup `name` with these settings, removed when the guard drops.
        fn create(name: &str, settings: &[Setting]) -> Guard {
            Guard(Some(Cgroup::create(name, settings).unwrap()))
        }

        /// Creates a cgroup named after `tag`, unique to this run (see [`unique`]), with
        /// these settings; returns its guard and its name.
        fn unique(tag: &str, settings: &[Setting]) -> (Guard, String) {
            let name = unique(tag);
            (Guard::create(&name, settings), name)
        }

        fn cg(&self) -> &Cgroup {
            self.0.as_ref().unwrap()
        }
    }
    impl Drop for Guard {
        fn drop(&mut self) {
            if let Some(cg) = self.0.take() {
                let _ = cg.kill_all(libc::SIGKILL);
                let _ = cg.thaw();
                let _ = cg.remove();
            }
        }
    }

    /// Kills and reaps a forked child when a test ends.
    struct Child(i32);
    impl Drop for Child {
        fn drop(&mut self) {
            if self.0 > 0 {
                let _ = signal_pid(self.0, libc::SIGKILL);
                let _ = wait(self.0);
            }
        }
    }

    /// waitpid; returns the raw status.
    fn wait(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: status is a valid, writable int for the call's duration.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid, "waitpid: {}", io::Error::last_os_error());
        status
    }

    fn unique(tag: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        format!(
            "/cargohold-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Forks a child that joins the cgroup through `fds` (writing "0"), touches `touch` bytes
    /// of fresh memory, then exits (`exit`) or sleeps. The child only makes raw syscalls.
    fn spawn_in(fds: &[OwnedFd], touch: usize, exit: bool) -> Child {
        use std::os::fd::AsRawFd;
        let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: the child below only calls async-signal-safe functions (write, mmap,
        // memset, pause, _exit) and never returns into Rust code of the parent's threads.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            for &fd in &raw {
                // SAFETY: writes one byte from a static buffer to an fd we own.
                let r = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
                if r != 1 {
                    // SAFETY: _exit ends the child without running the parent's destructors.
                    unsafe { libc::_exit(10) };
                }
            }
            if touch > 0 {
                let prot = libc::PROT_READ | libc::PROT_WRITE;
                let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
                // SAFETY: a fresh anonymous mapping, no existing memory is affected.
                let p = unsafe { libc::mmap(std::ptr::null_mut(), touch, prot, flags, -1, 0) };
                if p == libc::MAP_FAILED {
                    // SAFETY: see above.
                    unsafe { libc::_exit(11) };
                }
                // Touch every page so it is charged to the memory cgroup.
                // SAFETY: p..p+touch is the mapping just made, readable and writable.
                unsafe { libc::memset(p, 1, touch) };
            }
            if exit {
                // SAFETY: see above.
                unsafe { libc::_exit(0) };
            }
            loop {
                // SAFETY: pause(2) takes no arguments.
                unsafe { libc::pause() };
            }
        }
        Child(pid)
    }

    /// A memory limit (and a memory+swap limit equal to it, which needs no swap
    /// accounting) and a pids limit, in the host's file names.
    fn limits(mem: i64, swap: Option<i64>, pids: i64) -> Vec<Setting> {
        let m = Controller::Memory;
        let mut out = Vec::new();
        if uses_v2(m) {
            out.push(Setting::new(m, "memory.max", mem));
            if let Some(s) = swap {
                out.push(Setting::new(m, "memory.swap.max", s - mem).optional());
            }
        } else {
            out.push(Setting::new(m, "memory.limit_in_bytes", mem));
            if let Some(s) = swap {
                out.push(Setting::new(m, "memory.memsw.limit_in_bytes", s).optional());
            }
        }
        out.push(Setting::new(Controller::Pids, "pids.max", pids));
        out
    }

    /// A CPU weight in the host's terms: v1 shares, or v2's weight converted as runc does.
    fn shares(shares: u64) -> Setting {
        if uses_v2(Controller::Cpu) {
            let weight = 1 + (shares - 2) * 9999 / 262_142;
            Setting::new(Controller::Cpu, "cpu.weight", weight)
        } else {
            Setting::new(Controller::Cpu, "cpu.shares", shares)
        }
    }

    #[test]
    #[ignore = "requires root"]
    fn real_lifecycle() {
        let (cg, name) = Guard::unique("life", &limits(32 << 20, None, 10));
        let c = cg.cg();
        assert!(!c.paths().is_empty());
        let v2 = detect() == CgroupVersion::V2;
        let mem_dir = c.dir(Controller::Memory).unwrap().to_path_buf();
        let pids_dir = c.dir(Controller::Pids).unwrap().to_path_buf();
        if v2 {
            assert_eq!(cat(mem_dir.join("memory.max")).trim(), "33554432");
        } else {
            assert_eq!(
                cat(mem_dir.join("memory.limit_in_bytes")).trim(),
                "33554432"
            );
        }
        assert_eq!(cat(pids_dir.join("pids.max")).trim(), "10");

        let fds = c.procs_fds().unwrap();
        let mut child = spawn_in(&fds, 4 << 20, false);
        let pid = child.0;
        // The child joins asynchronously; wait until it shows up.
        wait_joined(c, pid);
        let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert!(own.contains(&name), "{own}");

        // The child's 4 MiB are charged to the cgroup once it has touched them.
        let deadline = Instant::now() + Duration::from_secs(5);
        let s = loop {
            let s = c.stats().unwrap();
            if s.memory_usage >= 4 << 20 || Instant::now() > deadline {
                break s;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        assert!(s.memory_usage >= 4 << 20, "{s:?}");
        assert_eq!(s.pids_current, 1, "{s:?}");

        c.freeze().unwrap();
        assert!(c.is_frozen().unwrap());
        if !v2 {
            assert_eq!(
                cat(c.dir(Controller::Freezer).unwrap().join("freezer.state")).trim(),
                "FROZEN"
            );
        }
        c.thaw().unwrap();
        assert!(!c.is_frozen().unwrap());

        c.kill_all(libc::SIGKILL).unwrap();
        let status = wait(pid);
        child.0 = 0;
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
            "status {status:#x}"
        );

        let s = c.stats().unwrap();
        assert!(s.memory_max_usage >= 4 << 20, "{s:?}");
        assert!(s.cpu_usage_ns > 0, "{s:?}");
        assert_eq!(s.memory_limit, Some(32 << 20));
        assert_eq!(s.pids_limit, Some(10));
        assert_eq!(c.oom_kills().unwrap(), 0);

        remove_all_of(c);
        // Opening it again fails now.
        assert!(Cgroup::open(&name).is_err());
    }

    #[test]
    #[ignore = "requires root"]
    fn real_oom_kill() {
        let (cg, _) = Guard::unique("oom", &limits(16 << 20, Some(16 << 20), 10));
        let c = cg.cg();
        let mut child = spawn_in(&c.procs_fds().unwrap(), 64 << 20, true);
        let status = wait(child.0);
        child.0 = 0;
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGKILL,
            "status {status:#x}"
        );
        assert!(c.oom_kills().unwrap() >= 1);
        assert!(c.stats().unwrap().oom_kills >= 1);
    }

    #[test]
    #[ignore = "requires root"]
    fn real_open_apply_and_cpuset() {
        let name = unique("upd");
        let r = [
            Setting::new(Controller::Cpuset, "cpuset.cpus", "0"),
            shares(512),
        ];
        let _g = Guard::create(&format!("{name}/nested"), &r);
        let outer = Guard(Some(Cgroup::open(&name).unwrap()));
        let c = Cgroup::open(&format!("{name}/nested")).unwrap();
        if detect() != CgroupVersion::V2 {
            // cpuset was inherited at the new outer level, then set on the leaf.
            let cs = c.dir(Controller::Cpuset).unwrap().to_path_buf();
            assert_eq!(cat(cs.join("cpuset.cpus")).trim(), "0");
            assert!(!cat(cs.parent().unwrap().join("cpuset.cpus"))
                .trim()
                .is_empty());
        }
        c.apply(&limits(8 << 20, None, 5)).unwrap();
        assert_eq!(c.stats().unwrap().memory_limit, Some(8 << 20));
        // A refused value names the file and the value.
        let bad = [Setting::new(Controller::Cpuset, "cpuset.cpus", "999")];
        let e = c.apply(&bad).unwrap_err().to_string();
        assert!(e.contains("cpuset.cpus") && e.contains("999"), "{e}");
        // The outer guard removes the nested one with it.
        drop(outer);
        assert!(c.paths().iter().all(|p| !p.exists()));
    }

    /// Removes the cgroup and checks that none of its directories is left.
    fn remove_all_of(c: &Cgroup) {
        let paths = c.paths();
        c.remove().unwrap();
        for p in paths {
            assert!(!p.exists(), "{} left behind", p.display());
        }
    }

    /// Waits until `pid` is listed in the cgroup.
    fn wait_joined(c: &Cgroup, pid: i32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !c.pids().unwrap().contains(&pid) {
            assert!(
                Instant::now() < deadline,
                "child {pid} never joined {:?}",
                c.paths()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    #[ignore = "requires root"]
    fn real_paused_stays_paused_and_update_adds_hierarchy() {
        let (cg, name) = Guard::unique("pause", &limits(32 << 20, None, 10));
        let c = cg.cg();
        let mut child = spawn_in(&c.procs_fds().unwrap(), 0, false);
        let pid = child.0;
        wait_joined(c, pid);
        let rel = c.hierarchies();
        assert!(
            rel.iter()
                .all(|(_, p)| p == Path::new(name.trim_start_matches('/'))),
            "{rel:?}"
        );
        // runc update with CPU limits on a v1 container created without them: the cpu
        // hierarchy is created then and the process moved there.
        let cpu = [shares(256)];
        c.apply(&cpu).unwrap();
        let cpu_dir = c.dir(Controller::Cpu).unwrap().to_path_buf();
        if detect() != CgroupVersion::V2 {
            assert_eq!(cat(cpu_dir.join("cpu.shares")).trim(), "256");
            let procs = cat(cpu_dir.join("cgroup.procs"));
            assert!(procs.lines().any(|l| l == pid.to_string()), "{procs:?}");
        }
        assert!(
            !c.is_frozen().unwrap(),
            "apply leaves a running container running"
        );
        // Paused, a SIGTERM leaves it paused (the signal waits for the thaw) ...
        c.freeze().unwrap();
        c.apply(&cpu).unwrap();
        c.kill_all(libc::SIGTERM).unwrap();
        assert!(c.is_frozen().unwrap());
        // ... and SIGKILL thaws it so that it dies.
        c.kill_all(libc::SIGKILL).unwrap();
        let status = wait(pid);
        child.0 = 0;
        assert!(libc::WIFSIGNALED(status), "status {status:#x}");
        remove_all_of(c);
    }

    #[test]
    #[ignore = "requires root"]
    fn real_hybrid_hugetlb() {
        let unified = hierarchies()
            .into_iter()
            .find(|h| h.options.is_empty() && h.controllers.iter().any(|c| c == "hugetlb"));
        if detect() != CgroupVersion::Hybrid || unified.is_none() {
            eprintln!("skipped: not a hybrid host with hugetlb in the unified hierarchy");
            return;
        }
        let r = [Setting::new(Controller::Hugetlb, "hugetlb.2MB.max", 0)];
        let (cg, _) = Guard::unique("huge", &r);
        let c = cg.cg();
        let dir = c.dir(Controller::Hugetlb).unwrap().to_path_buf();
        assert!(dir.starts_with(&unified.unwrap().mount_point));
        assert_eq!(cat(dir.join("hugetlb.2MB.max")).trim(), "0");
        assert!(c.v2_dir_fd().unwrap().is_none());
        let mut child = spawn_in(&c.procs_fds().unwrap(), 0, false);
        wait_joined(c, child.0);
        // The child joins the hierarchies one after another: wait for the unified one too.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let procs = cat(dir.join("cgroup.procs"));
            if procs.lines().any(|l| l == child.0.to_string()) {
                break;
            }
            assert!(Instant::now() < deadline, "{procs:?}");
            std::thread::sleep(Duration::from_millis(1));
        }
        c.kill_all(libc::SIGKILL).unwrap();
        wait(child.0);
        child.0 = 0;
        remove_all_of(c);
    }

    /// Not a pass/fail test: prints the median and p99 of create+remove.
    #[test]
    #[ignore = "requires root"]
    fn real_create_remove_timing() {
        let r = limits(32 << 20, None, 10);
        let mut t = Vec::new();
        for _ in 0..60 {
            let name = unique("time");
            let start = Instant::now();
            let cg = Guard::create(&name, &r);
            cg.cg().remove().unwrap();
            t.push(start.elapsed());
        }
        t.sort();
        eprintln!(
            "create+remove: median {:?}, p99 {:?}, max {:?}",
            t[t.len() / 2],
            t[t.len() * 99 / 100],
            t[t.len() - 1]
        );
    }
}
