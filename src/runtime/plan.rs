//! Turning a runtime spec into the child's plan: every check, lookup and allocation the
//! child must not do happens here, in the parent.

use std::collections::HashSet;
use std::ffi::{CStr, CString, OsStr};
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::{Component, Path, PathBuf};

use libc::c_ulong;
use oci_spec::runtime::{
    Capability, LinuxDeviceType, LinuxNamespaceType, Mount, PosixRlimitType, Process, Spec,
};

use crate::sys::cgroup::{self, CgroupVersion};
use crate::sys::process::{
    CapsPlan, ChildFailure, DevicePlan, FusePlan, HookPlan, InitPlan, MountPlan, ProcessPlan,
    RootfsPlan, StartSignal, Step,
};
use crate::{Error, Result};

pub(crate) const DEFAULT_PATH: &str =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A C string from something that must not hold a NUL byte; the error names the field.
pub(crate) fn cstring(field: &str, s: impl AsRef<[u8]>) -> Result<CString> {
    CString::new(s.as_ref()).map_err(|_| Error::spec(field, "contains a NUL byte"))
}

fn path_cstring(field: &str, p: &Path) -> Result<CString> {
    cstring(field, p.as_os_str().as_bytes())
}

/// Loads and checks `<bundle>/config.json`. Capabilities this runtime does not know are
/// left out with a warning each (returned), as runc does.
/// Reads and checks a bundle's `config.json`: the spec, the warnings about what it
/// ignores, and the document's bytes (for [`seccomp_json`]).
pub(crate) fn load_spec(bundle: &Path) -> Result<(Spec, Vec<Error>, Vec<u8>)> {
    let path = bundle.join("config.json");
    let data = fs::read(&path).map_err(|e| Error::os("reading", &path, e))?;
    let (spec, warnings) = parse_spec(&data)?;
    Ok((spec, warnings, data))
}

/// The text of `linux.seccomp` in a `config.json` already parsed into a spec: the saved
/// profile is the document's own (serialising a few hundred syscall names again costs more
/// than finding them).
pub(crate) fn seccomp_json(config: &[u8]) -> Option<Vec<u8>> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow, default)]
        linux: Option<Linux<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct Linux<'a> {
        #[serde(borrow, default)]
        seccomp: Option<&'a RawValue>,
    }
    let doc: Doc<'_> = serde_json::from_slice(config).ok()?;
    Some(doc.linux?.seccomp?.get().as_bytes().to_vec())
}

/// Parses and checks a `config.json`: the spec and the warnings about what it ignores.
pub(crate) fn parse_spec(data: &[u8]) -> Result<(Spec, Vec<Error>)> {
    // One pass straight into the Spec; the slower pass through a JSON tree only when
    // that fails, to drop unknown capabilities (which fail the direct parse) or to refuse
    // the document as it does. The direct pass skips the values of unknown fields, so the
    // document's UTF-8 is checked first (fuzz target `config`); what it still leaves
    // unchecked there (a lone surrogate escape, a number out of f64's range) is accepted,
    // as runc's Go decoder accepts it.
    if let Some(spec) = std::str::from_utf8(data)
        .ok()
        .and_then(|text| serde_json::from_str::<Spec>(text).ok())
    {
        check_version(spec.version())?;
        return Ok((spec, Vec::new()));
    }
    parse_spec_tree(data)
}

/// [`parse_spec`] through a JSON tree, dropping unknown capabilities first.
pub(crate) fn parse_spec_tree(data: &[u8]) -> Result<(Spec, Vec<Error>)> {
    let mut value: serde_json::Value =
        serde_json::from_slice(data).map_err(|e| Error::spec("config.json", format!("{e}")))?;
    let warnings = drop_unknown_capabilities(&mut value);
    let spec: Spec =
        serde_json::from_value(value).map_err(|e| Error::spec("config.json", format!("{e}")))?;
    check_version(spec.version())?;
    Ok((spec, warnings))
}

/// Removes the names in `process.capabilities.*` that are not capabilities of this
/// runtime (a newer kernel's, or a typo); one warning per name, naming the field.
fn drop_unknown_capabilities(spec: &mut serde_json::Value) -> Vec<Error> {
    let mut warnings = Vec::new();
    let Some(sets) = spec
        .pointer_mut("/process/capabilities")
        .and_then(|c| c.as_object_mut())
    else {
        return warnings;
    };
    for (set, names) in sets.iter_mut() {
        let Some(names) = names.as_array_mut() else {
            continue;
        };
        names.retain(|n| {
            let known = serde_json::from_value::<Capability>(n.clone()).is_ok();
            if !known {
                warnings.push(Error::spec(
                    format!("process.capabilities.{set}"),
                    format!("unknown capability {n}: ignored"),
                ));
            }
            known
        });
    }
    warnings
}

/// Any 1.x version is accepted, as runc does.
pub(crate) fn check_version(v: &str) -> Result<()> {
    let major = v.split('.').next().unwrap_or("");
    if major != "1" {
        return Err(Error::spec(
            "ociVersion",
            format!("{v:?} is not a 1.x version"),
        ));
    }
    Ok(())
}

/// The rootfs directory of a bundle, made absolute.
pub(crate) fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::spec("root", "missing"))?;
    let p = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let meta = fs::metadata(&p).map_err(|e| Error::os("opening rootfs", &p, e))?;
    if !meta.is_dir() {
        return Err(Error::spec(
            "root.path",
            format!("{} is not a directory", p.display()),
        ));
    }
    fs::canonicalize(&p).map_err(|e| Error::os("resolving rootfs", &p, e))
}

/// A path inside the container, cleaned lexically and made relative to its root:
/// `/a/./b/../c` → `a/c`. Symlinks are resolved later, in the child, inside the root.
pub(crate) fn clean_relative(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn ns_flag(t: LinuxNamespaceType) -> i32 {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => 0x80,
    }
}

/// The namespaces a spec asks for: which are new, which are joined (with an open fd).
#[derive(Debug, Default)]
pub(crate) struct Namespaces {
    pub new: i32,
    pub join: Vec<(OwnedFd, i32)>,
    /// A pid namespace to join: the clone must happen from inside it.
    pub join_pid: Option<OwnedFd>,
    pub join_paths: Vec<PathBuf>,
}

impl Namespaces {
    /// A second fd of the pid namespace to join, for the clone that must happen inside it
    /// (the plan keeps the first).
    pub(crate) fn dup_join_pid(&self) -> Result<Option<OwnedFd>> {
        self.join_pid
            .as_ref()
            .map(|f| f.try_clone())
            .transpose()
            .map_err(|e| Error::os("duplicating the fd of", "the pid namespace to join", e))
    }

    pub(crate) fn has(&self, flag: i32) -> bool {
        self.new & flag != 0
            || self.join.iter().any(|(_, f)| *f == flag)
            || (flag == libc::CLONE_NEWPID && self.join_pid.is_some())
    }
}

pub(crate) fn namespaces(spec: &Spec) -> Result<Namespaces> {
    let mut ns = Namespaces::default();
    let mut seen = HashSet::new();
    let list = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let mut joins = Vec::new();
    for (i, n) in list.iter().enumerate() {
        let field = format!("linux.namespaces[{i}]");
        let flag = ns_flag(n.typ());
        if !seen.insert(flag) {
            return Err(Error::spec(
                field,
                format!("namespace {} given twice", n.typ()),
            ));
        }
        if n.typ() == LinuxNamespaceType::Time {
            return Err(Error::Unsupported {
                what: "time namespace".into(),
                reason: format!("{field}: not implemented by cargohold"),
            });
        }
        match n.path() {
            None => ns.new |= flag,
            Some(p) => {
                let fd = crate::sys::file::open(p, libc::O_RDONLY).map_err(|e| {
                    Error::os(
                        format!("opening {} namespace of {field}.path", n.typ()),
                        p,
                        e,
                    )
                })?;
                joins.push((flag, fd, p.clone()));
            }
        }
    }
    // The user namespace first: joining it gives the rights to join the others.
    joins.sort_by_key(|(flag, _, _)| if *flag == libc::CLONE_NEWUSER { 0 } else { 1 });
    for (flag, fd, path) in joins {
        ns.join_paths.push(path);
        if flag == libc::CLONE_NEWPID {
            ns.join_pid = Some(fd);
        } else {
            ns.join.push((fd, flag));
        }
    }
    Ok(ns)
}

fn mount_option(opt: &str) -> Option<(bool, c_ulong)> {
    // (clear?, flag)
    Some(match opt {
        "defaults" => (false, 0),
        "ro" => (false, libc::MS_RDONLY),
        "rw" => (true, libc::MS_RDONLY),
        "suid" => (true, libc::MS_NOSUID),
        "nosuid" => (false, libc::MS_NOSUID),
        "dev" => (true, libc::MS_NODEV),
        "nodev" => (false, libc::MS_NODEV),
        "exec" => (true, libc::MS_NOEXEC),
        "noexec" => (false, libc::MS_NOEXEC),
        "sync" => (false, libc::MS_SYNCHRONOUS),
        "async" => (true, libc::MS_SYNCHRONOUS),
        "dirsync" => (false, libc::MS_DIRSYNC),
        "remount" => (false, libc::MS_REMOUNT),
        "mand" => (false, libc::MS_MANDLOCK),
        "nomand" => (true, libc::MS_MANDLOCK),
        "atime" => (true, libc::MS_NOATIME),
        "noatime" => (false, libc::MS_NOATIME),
        "diratime" => (true, libc::MS_NODIRATIME),
        "nodiratime" => (false, libc::MS_NODIRATIME),
        "bind" => (false, libc::MS_BIND),
        "rbind" => (false, libc::MS_BIND | libc::MS_REC),
        "relatime" => (false, libc::MS_RELATIME),
        "norelatime" => (true, libc::MS_RELATIME),
        "strictatime" => (false, libc::MS_STRICTATIME),
        "nostrictatime" => (true, libc::MS_STRICTATIME),
        _ => return None,
    })
}

fn propagation_option(opt: &str) -> Option<c_ulong> {
    Some(match opt {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// The recursive mount attributes of OCI runtime spec 1.1 (`rro`, …): (clear?, flag).
fn recursive_option(opt: &str) -> Option<(bool, u64)> {
    use crate::sys::raw::{
        MOUNT_ATTR_NODEV, MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW,
        MOUNT_ATTR_RDONLY,
    };
    Some(match opt {
        "rro" => (false, MOUNT_ATTR_RDONLY),
        "rrw" => (true, MOUNT_ATTR_RDONLY),
        "rnosuid" => (false, MOUNT_ATTR_NOSUID),
        "rsuid" => (true, MOUNT_ATTR_NOSUID),
        "rnodev" => (false, MOUNT_ATTR_NODEV),
        "rdev" => (true, MOUNT_ATTR_NODEV),
        "rnoexec" => (false, MOUNT_ATTR_NOEXEC),
        "rexec" => (true, MOUNT_ATTR_NOEXEC),
        "rnosymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// The parsed options of one mount.
struct MountOptions {
    flags: c_ulong,
    propagation: c_ulong,
    /// `MOUNT_ATTR_*` (set, clear) for every mount of the tree.
    recursive: (u64, u64),
    data: Vec<String>,
}

fn parse_options(field: &str, options: &[String]) -> Result<MountOptions> {
    let mut o = MountOptions {
        flags: 0,
        propagation: 0,
        recursive: (0, 0),
        data: Vec::new(),
    };
    for opt in options {
        if let Some((clear, flag)) = mount_option(opt) {
            if clear {
                o.flags &= !flag;
            } else {
                o.flags |= flag;
            }
        } else if let Some((clear, flag)) = recursive_option(opt) {
            if clear {
                o.recursive.0 &= !flag;
                o.recursive.1 |= flag;
            } else {
                o.recursive.0 |= flag;
                o.recursive.1 &= !flag;
            }
        } else if let Some(p) = propagation_option(opt) {
            o.propagation |= p;
        } else if opt == "tmpcopyup" || opt.starts_with("x-") {
            // Engine-side hints (crun's tmpcopyup, userspace x- options): nothing to mount.
        } else if opt == "idmap" || opt == "ridmap" {
            return Err(Error::Unsupported {
                what: "idmapped mounts".into(),
                reason: format!("{field}: option {opt:?}"),
            });
        } else {
            o.data.push(opt.clone());
        }
    }
    Ok(o)
}

/// Everything the parent keeps to explain a child's failure.
#[derive(Debug, Default)]
pub(crate) struct Context {
    pub mounts: Vec<String>,
    pub devices: Vec<String>,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    pub sysctls: Vec<String>,
    pub rlimits: Vec<String>,
    pub hooks_create: Vec<String>,
    pub hooks_start: Vec<String>,
    pub join: Vec<String>,
    pub cwd: String,
    pub arg0: String,
    pub path: String,
    pub rootfs: String,
    /// The rootfs is an overlay the init mounts (see [`OVERLAY_ROOT_ANNOTATION`]).
    pub overlay_root: bool,
    /// Why fuse-overlayfs cannot stand in for a native overlay mount that fails (not
    /// installed, no pid namespace); said with the failure.
    pub overlay_fallback: Option<String>,
    /// The file fuse-overlayfs writes its output to (see [`FusePlan::output`]).
    pub fuse_output: Option<OwnedFd>,
    /// What the spec asks and the runtime goes on without, as runc does (an ambient
    /// capability the kernel cannot raise): reported through the runtime's warning sink.
    pub warnings: Vec<Error>,
}

impl Context {
    /// The error for a failure the child reported.
    pub(crate) fn error(&self, f: &ChildFailure) -> Error {
        let i = f.index as usize;
        let pick = |v: &Vec<String>| v.get(i).cloned().unwrap_or_default();
        let stage = match f.step {
            Step::Stdio => format!("installing fd {i} of the process's stdio"),
            Step::CloseFds => "closing the runtime's file descriptors".to_owned(),
            Step::Cloexec if i < 3 => "marking fds close-on-exec".to_owned(),
            Step::Cloexec => format!("keeping preserved fd {i} open across exec"),
            Step::Signals => "resetting signal dispositions".to_owned(),
            Step::JoinCgroup => "joining the container's cgroup".to_owned(),
            Step::JoinNamespace => format!("joining namespace {}", pick(&self.join)),
            Step::Unshare => "creating namespaces".to_owned(),
            Step::WaitIdMap => "waiting for uid/gid mappings".to_owned(),
            Step::BecomeRoot => "becoming root in the user namespace".to_owned(),
            Step::RootPropagation if i == 0 => "setting the propagation of /".to_owned(),
            Step::RootPropagation => {
                "setting the propagation of the container's root (linux.rootfsPropagation)"
                    .to_owned()
            }
            Step::BindRootfs if self.overlay_root => match &self.overlay_fallback {
                Some(why) if crate::sys::process::fuse_fallback_errno(f.errno) => format!(
                    "mounting the overlay of the rootfs {} (no fallback: {why})",
                    self.rootfs
                ),
                _ => format!("mounting the overlay of the rootfs {}", self.rootfs),
            },
            Step::OpenRootfs if self.overlay_root => {
                format!("mounting the overlay of the rootfs {}", self.rootfs)
            }
            Step::FuseOverlay | Step::FuseOverlayExit => {
                let native = match f.index {
                    0 => String::new(),
                    e => format!(
                        " (the kernel's overlayfs refused it: {})",
                        std::io::Error::from_raw_os_error(e as i32)
                    ),
                };
                let stage = format!(
                    "mounting the overlay of the rootfs {} with fuse-overlayfs{native}",
                    self.rootfs
                );
                let source = match f.step {
                    Step::FuseOverlay => f.io_error(),
                    _ => std::io::Error::other(super::fuse::exit_text(
                        f.errno,
                        &super::fuse::message(self.fuse_output.as_ref()),
                    )),
                };
                return Error::Spawn { stage, source };
            }
            Step::BindRootfs | Step::OpenRootfs => {
                format!("bind-mounting the rootfs {}", self.rootfs)
            }
            Step::MountTarget => format!("resolving the destination of {}", pick(&self.mounts)),
            Step::Mount => format!("mounting {}", pick(&self.mounts)),
            Step::MountRemount => format!("remounting {} with its flags", pick(&self.mounts)),
            Step::MountPropagation => format!("setting the propagation of {}", pick(&self.mounts)),
            Step::Device => format!("creating device {}", pick(&self.devices)),
            Step::DevSymlink => "creating /dev symlinks".to_owned(),
            Step::CreateContainerHook => {
                format!("running createContainer hook {}", pick(&self.hooks_create))
            }
            Step::PivotRoot => format!("pivot_root into {}", self.rootfs),
            Step::Chroot => format!("chroot into {}", self.rootfs),
            Step::MaskPath => format!("masking {}", pick(&self.masked)),
            Step::ReadonlyPath => format!("making {} read-only", pick(&self.readonly)),
            Step::ReadonlyRoot => "remounting the root read-only".to_owned(),
            Step::Sysctl => format!("setting sysctl {}", pick(&self.sysctls)),
            Step::Hostname => "setting the hostname".to_owned(),
            Step::Domainname => "setting the domainname".to_owned(),
            Step::Console => "setting up the console".to_owned(),
            Step::Rlimit => format!("setting rlimit {}", pick(&self.rlimits)),
            Step::Groups => "setting supplementary groups".to_owned(),
            Step::Gid => "setting the gid".to_owned(),
            Step::Uid => "setting the uid".to_owned(),
            Step::Bounding => format!("dropping capability {} from the bounding set", f.index),
            Step::KeepCaps => "keeping capabilities across the uid change".to_owned(),
            Step::Capabilities => "setting capabilities".to_owned(),
            Step::Ambient => format!("raising ambient capability {}", f.index),
            Step::Cwd if i == 1 => format!(
                "checking the working directory {}: it is outside the container's root",
                self.cwd
            ),
            Step::Cwd => format!("changing to the working directory {}", self.cwd),
            Step::NoNewPrivileges => "setting no_new_privs".to_owned(),
            Step::Apparmor => "applying the AppArmor profile".to_owned(),
            Step::Selinux => "applying the SELinux label".to_owned(),
            Step::Seccomp => "loading the seccomp filter".to_owned(),
            Step::FindExecutable => {
                if self.arg0.contains('/') {
                    format!("looking up executable {:?}", self.arg0)
                } else {
                    format!(
                        "looking up executable {:?} in $PATH {:?}",
                        self.arg0, self.path
                    )
                }
            }
            Step::WaitStart => "waiting for start".to_owned(),
            Step::StartContainerHook => {
                format!("running startContainer hook {}", pick(&self.hooks_start))
            }
            Step::Exec => format!("executing {:?}", self.arg0),
            Step::Sync => "talking to the runtime".to_owned(),
            Step::ParentDeathSignal => "setting the parent death signal".to_owned(),
            Step::Loopback => "bringing the loopback interface up".to_owned(),
        };
        Error::Spawn {
            stage,
            source: f.io_error(),
        }
    }
}

/// What the runtime knows when it builds a plan.
pub(crate) struct PlanInput<'a> {
    pub spec: &'a Spec,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub ns: Namespaces,
    pub cgroup_procs: Vec<OwnedFd>,
    /// The container's cgroup directories, one per hierarchy (for /sys/fs/cgroup binds).
    pub cgroup_dirs: Vec<PathBuf>,
    pub start: StartSignal,
    pub no_pivot: bool,
    pub preserve_fds: u32,
    pub stdio: [Option<OwnedFd>; 3],
    /// A new network namespace made ahead (its loopback up) for a spec that asks for one and
    /// for no user namespace: the child joins it instead of making one at clone.
    pub netns: Option<OwnedFd>,
}

/// Builds the init plan for a spec.
pub(crate) fn build(input: PlanInput<'_>) -> Result<(InitPlan, Context)> {
    let PlanInput {
        spec,
        bundle,
        rootfs,
        ns,
        cgroup_procs,
        cgroup_dirs,
        start,
        no_pivot,
        preserve_fds,
        stdio,
        netns,
    } = input;
    // Borrowed, not cloned: the seccomp profile alone is hundreds of strings.
    let none = oci_spec::runtime::Linux::default();
    let linux = spec.linux().as_ref().unwrap_or(&none);
    let mut ctx = Context {
        rootfs: rootfs.display().to_string(),
        ..Default::default()
    };
    ctx.join = ns
        .join_paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();

    let user_ns = ns.has(libc::CLONE_NEWUSER);
    let new_user = ns.new & libc::CLONE_NEWUSER != 0;
    check_user_ns(linux, new_user)?;
    let mut order = NamespaceOrder::of(&ns, new_user);
    let netns = netns.filter(|_| ns.new & libc::CLONE_NEWNET != 0 && !user_ns);
    if netns.is_some() {
        order.clone_flags &= !(libc::CLONE_NEWNET as u64);
        order.unshare_flags &= !libc::CLONE_NEWNET;
    }
    check_uts(spec, &ns)?;

    let has_mount_ns = ns.has(libc::CLONE_NEWNS);
    let has_mounts = spec.mounts().as_ref().is_some_and(|m| !m.is_empty());
    let (rootfs_plan, chroot) = if has_mount_ns || has_mounts {
        if !has_mount_ns {
            // No mount namespace: the container shares the runtime's, so its mounts are
            // made there, under the rootfs (as runc does); delete detaches them.
            refuse_path_restrictions(linux)?;
        }
        let mut plan = rootfs_plan(
            spec,
            linux,
            bundle,
            rootfs,
            user_ns,
            &ns,
            &cgroup_dirs,
            no_pivot,
            readonly_root(spec),
            &mut ctx,
        )?;
        plan.host_ns = !has_mount_ns;
        let has_pid_ns = ns.new & libc::CLONE_NEWPID != 0;
        (plan.overlay, plan.fuse) = overlay_root(spec, rootfs, has_mount_ns, has_pid_ns, &mut ctx)?;
        ctx.overlay_root = plan.overlay.is_some();
        (Some(plan), None)
    } else {
        let fd = crate::sys::file::open(rootfs, libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| Error::os("opening rootfs", rootfs, e))?;
        (None, Some(fd))
    };
    let sysctls = sysctl_plans(linux, &ns, &mut ctx)?;
    let mut pplan = init_process(spec, linux, rootfs, user_ns, &mut ctx)?;
    pplan.stdio = stdio;
    pplan.preserve_fds = preserve_fds;
    let (create_container_hooks, start_container_hooks, hooks_sync) = child_hooks(spec, &mut ctx)?;
    let hostname = uts_name(spec.hostname(), "hostname")?;
    let domainname = uts_name(spec.domainname(), "domainname")?;

    let mut plan = InitPlan::new(pplan);
    plan.clone_flags = order.clone_flags;
    plan.join = ns.join;
    // A namespace made here (not joined by path) gets its loopback up; one made ahead has it.
    plan.loopback_up = (order.clone_flags & libc::CLONE_NEWNET as u64) != 0
        || (order.unshare_flags & libc::CLONE_NEWNET) != 0;
    plan.join.extend(netns.map(|fd| (fd, libc::CLONE_NEWNET)));
    plan.unshare_flags = order.unshare_flags;
    plan.second_fork = order.second_fork;
    plan.cgroup_procs = cgroup_procs;
    plan.user_ns = new_user;
    plan.rootfs = rootfs_plan;
    plan.chroot = chroot;
    plan.hooks_sync = hooks_sync;
    plan.create_container_hooks = create_container_hooks;
    plan.start_container_hooks = start_container_hooks;
    plan.sysctls = sysctls;
    plan.hostname = hostname;
    plan.domainname = domainname;
    plan.start = start;
    Ok((plan, ctx))
}

/// A new user namespace needs uid and gid mappings.
fn check_user_ns(linux: &oci_spec::runtime::Linux, new_user: bool) -> Result<()> {
    if new_user && linux.uid_mappings().as_ref().is_none_or(Vec::is_empty) {
        return Err(Error::spec(
            "linux.uidMappings",
            "a new user namespace needs uid mappings",
        ));
    }
    if new_user && linux.gid_mappings().as_ref().is_none_or(Vec::is_empty) {
        return Err(Error::spec(
            "linux.gidMappings",
            "a new user namespace needs gid mappings",
        ));
    }
    Ok(())
}

/// The annotation that has the runtime mount the container's root itself: an overlay with
/// these options (`lowerdir=…,upperdir=…,workdir=…`, as overlayfs takes them) at
/// `root.path`, in the container's own mount namespace, before anything else is mounted.
/// The mount goes with the namespace — whatever ends the container, nothing is left
/// mounted on the host — and a user without root can have it, in the container's user
/// namespace (Linux 5.11 and later), as it could not on the host. The engine's containers
/// use it rootless. (An extension of this runtime; other runtimes ignore it.)
///
/// Where the kernel refuses the mount (`EPERM`, `EINVAL` or `ENODEV`: a kernel before 5.11,
/// or one without overlayfs), fuse-overlayfs mounts the overlay instead, run by the
/// container's init in the container's namespaces so that it dies with the container; it
/// needs a pid namespace of the container's own. The option `x-driver=` picks: `auto` (the
/// default), `native` (no fallback) or `fuse-overlayfs` (always; the engine asks for it
/// when `CARGOHOLD_OVERLAY=fuse-overlayfs` is set). The kernel never sees `x-` options.
pub const OVERLAY_ROOT_ANNOTATION: &str = "org.cargohold.rootfs.overlay";

/// The overlay options of [`OVERLAY_ROOT_ANNOTATION`], if the spec has it, and how
/// fuse-overlayfs stands in for the kernel's overlayfs (see [`super::fuse`]); it needs a
/// mount namespace of the container's own (and fuse-overlayfs a pid namespace).
fn overlay_root(
    spec: &Spec,
    rootfs: &Path,
    has_mount_ns: bool,
    has_pid_ns: bool,
    ctx: &mut Context,
) -> Result<(Option<CString>, Option<FusePlan>)> {
    use super::fuse::{self, Driver};
    let Some(opts) = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(OVERLAY_ROOT_ANNOTATION))
    else {
        return Ok((None, None));
    };
    let field = format!("annotations.{OVERLAY_ROOT_ANNOTATION:?}");
    if !has_mount_ns {
        return Err(Error::spec(
            field,
            "an overlay root needs a mount namespace of the container's own",
        ));
    }
    if !opts.split(',').any(|o| o.starts_with("lowerdir=")) {
        return Err(Error::spec(field, format!("{opts:?} names no lowerdir")));
    }
    let parsed = fuse::parse(opts).map_err(|e| Error::spec(&field, e))?;
    let native = cstring(&field, parsed.native.as_str())?;
    if parsed.driver == Driver::Native {
        return Ok((Some(native), None));
    }
    let forced = parsed.driver == Driver::Fuse;
    // fuse-overlayfs, where it can stand in; else why it cannot
    let program = match (has_pid_ns, fuse::find(), &parsed.fuse) {
        (false, _, _) => Err(format!(
            "{} needs a pid namespace of the container's own, which its daemon dies with",
            fuse::PROGRAM
        )),
        (true, None, _) => Err(fuse::missing()),
        (true, Some(_), Err(why)) => Err(why.clone()),
        (true, Some(program), Ok(_)) => Ok(program),
    };
    let program = match program {
        Ok(program) => program,
        Err(reason) if forced => {
            return Err(Error::Unsupported {
                what: format!("mounting the overlay of the rootfs with {}", fuse::PROGRAM),
                reason,
            })
        }
        Err(reason) => {
            ctx.overlay_fallback = Some(reason);
            return Ok((Some(native), None));
        }
    };
    let fuse_opts = parsed.fuse.as_deref().unwrap_or_default();
    let mut plan = fuse::plan(&program, fuse_opts, rootfs, !forced)
        .ok_or_else(|| Error::spec(&field, "contains a NUL byte"))?;
    plan.output = fuse::output_file();
    ctx.fuse_output = plan.output.as_ref().and_then(|f| f.try_clone().ok());
    Ok((Some(native), Some(plan)))
}

/// Which new namespaces clone makes and which the child unshares after joining.
struct NamespaceOrder {
    clone_flags: u64,
    unshare_flags: libc::c_int,
    /// The pid namespace is unshared late and a second fork makes pid 1.
    second_fork: bool,
}

impl NamespaceOrder {
    fn of(ns: &Namespaces, new_user: bool) -> NamespaceOrder {
        let joins_any = !ns.join.is_empty();
        let joins_user = ns.join.iter().any(|(_, f)| *f == libc::CLONE_NEWUSER);
        // A new pid namespace must belong to the container's user namespace. When that user
        // namespace is only entered after clone (it is joined by path, or created after
        // joining others), the pid namespace is unshared after it and a second fork makes
        // pid 1.
        let second_fork = joins_any && (new_user || joins_user) && ns.new & libc::CLONE_NEWPID != 0;
        // Without joins, clone makes every new namespace at once (the user namespace first,
        // so it owns the others); the cgroup namespace always comes after joining the cgroup.
        let (clone_flags, unshare_flags) = if !joins_any {
            (
                (ns.new & !libc::CLONE_NEWCGROUP) as u64,
                ns.new & libc::CLONE_NEWCGROUP,
            )
        } else if second_fork {
            (0, ns.new & !libc::CLONE_NEWUSER)
        } else {
            let at_clone = ns.new & libc::CLONE_NEWPID;
            (at_clone as u64, ns.new & !at_clone & !libc::CLONE_NEWUSER)
        };
        NamespaceOrder {
            clone_flags,
            unshare_flags,
            second_fork,
        }
    }
}

/// A hostname or domainname needs a private uts namespace.
fn check_uts(spec: &Spec, ns: &Namespaces) -> Result<()> {
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.has(libc::CLONE_NEWUTS) {
        return Err(Error::spec(
            "hostname",
            "setting a hostname needs a private uts namespace",
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !ns.has(libc::CLONE_NEWUTS) {
        return Err(Error::spec(
            "domainname",
            "setting a domainname needs a private uts namespace",
        ));
    }
    Ok(())
}

/// `root.readonly`.
fn readonly_root(spec: &Spec) -> bool {
    spec.root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
}

/// Masked and read-only paths would be mounts over the host's `/proc` and `/sys` when the
/// container has no mount namespace: refused, as runc refuses them.
fn refuse_path_restrictions(linux: &oci_spec::runtime::Linux) -> Result<()> {
    for (field, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        if list.as_ref().is_some_and(|l| !l.is_empty()) {
            return Err(Error::spec(
                field,
                "needs a mount namespace (linux.namespaces has no \"mount\")",
            ));
        }
    }
    Ok(())
}

/// `linux.sysctl` as (file under /proc/sys, value), sorted by key.
fn sysctl_plans(
    linux: &oci_spec::runtime::Linux,
    ns: &Namespaces,
    ctx: &mut Context,
) -> Result<Vec<(CString, CString)>> {
    let mut sysctls = Vec::new();
    let mut keys: Vec<_> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    keys.sort();
    for (key, value) in keys {
        check_sysctl(&key, ns)?;
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        sysctls.push((
            cstring("linux.sysctl", path)?,
            cstring("linux.sysctl", value)?,
        ));
        ctx.sysctls.push(key);
    }
    Ok(sysctls)
}

/// The container's process: credentials, seccomp filter and LSM labels.
fn init_process(
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
    rootfs: &Path,
    user_ns: bool,
    ctx: &mut Context,
) -> Result<ProcessPlan> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::spec("process", "missing"))?;
    let process = with_home(process, rootfs);
    let denied = user_ns && super::idmap::setgroups_denied(linux);
    let mut pplan = process_plan(&process, "process", denied, ctx)?;
    pplan.seccomp = match linux.seccomp() {
        Some(s) => Some(super::seccomp::compile(s)?),
        None => None,
    };
    if let Some(label) = process
        .apparmor_profile()
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        pplan.apparmor = Some(apparmor_label(label)?);
    }
    if let Some(label) = process.selinux_label().as_ref().filter(|p| !p.is_empty()) {
        pplan.selinux = Some(selinux_label(label)?);
    }
    Ok(pplan)
}

/// `process` with the `HOME` runc gives a process (the init or an exec'd one, seen in
/// `rootfs`) whose env has none or an empty one.
pub(crate) fn with_home(
    process: &oci_spec::runtime::Process,
    rootfs: &Path,
) -> oci_spec::runtime::Process {
    let mut process = process.clone();
    let mut env = process.env().clone().unwrap_or_default();
    if !env
        .iter()
        .any(|e| e.starts_with("HOME=") && e.len() > "HOME=".len())
    {
        env.retain(|e| e != "HOME=");
        env.push(format!("HOME={}", home_of(rootfs, process.user().uid())));
        process.set_env(Some(env));
    }
    process
}

/// The `HOME` runc gives a process whose env has none: the home directory of its uid in
/// the container's `/etc/passwd` (opened inside the rootfs: a symlink there cannot point
/// at the host's), or `/` when there is no such file, user or field.
fn home_of(rootfs: &Path, uid: u32) -> String {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let passwd = fs::File::open(rootfs).and_then(|root| {
        let fd = rustix::fs::openat2(
            &root,
            "etc/passwd",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )?;
        let mut s = String::new();
        std::io::Read::read_to_string(&mut fs::File::from(fd), &mut s)?;
        Ok(s)
    });
    let uid = uid.to_string();
    passwd
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() >= 6 && f[2] == uid && !f[5].is_empty()).then(|| f[5].to_owned())
            })
        })
        .unwrap_or_else(|| "/".to_owned())
}

/// The hooks the child runs itself (createContainer, startContainer), and whether it must
/// stop for the runtime's hooks (any hook to run: the state JSON comes with that stop).
fn child_hooks(spec: &Spec, ctx: &mut Context) -> Result<(Vec<HookPlan>, Vec<HookPlan>, bool)> {
    let hooks = spec.hooks().clone().unwrap_or_default();
    let create_container_hooks = hook_plans(
        "hooks.createContainer",
        hooks.create_container(),
        &mut ctx.hooks_create,
    )?;
    let start_container_hooks = hook_plans(
        "hooks.startContainer",
        hooks.start_container(),
        &mut ctx.hooks_start,
    )?;
    #[allow(deprecated)]
    let parent_hooks = hooks.prestart().as_ref().is_some_and(|h| !h.is_empty())
        || hooks
            .create_runtime()
            .as_ref()
            .is_some_and(|h| !h.is_empty());
    let hooks_sync =
        parent_hooks || !create_container_hooks.is_empty() || !start_container_hooks.is_empty();
    Ok((create_container_hooks, start_container_hooks, hooks_sync))
}

/// A hostname or domainname as a C string; `None` when unset or empty.
fn uts_name(name: &Option<String>, field: &str) -> Result<Option<CString>> {
    name.as_ref()
        .filter(|h| !h.is_empty())
        .map(|h| cstring(field, h))
        .transpose()
}

fn check_sysctl(key: &str, ns: &Namespaces) -> Result<()> {
    let field = format!("linux.sysctl[{key:?}]");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        if !ns.has(libc::CLONE_NEWIPC) {
            return Err(Error::spec(field, "needs a private ipc namespace"));
        }
    } else if key.starts_with("net.") {
        if !ns.has(libc::CLONE_NEWNET) {
            return Err(Error::spec(field, "needs a private network namespace"));
        }
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        if !ns.has(libc::CLONE_NEWUTS) {
            return Err(Error::spec(field, "needs a private uts namespace"));
        }
    } else {
        return Err(Error::spec(
            field,
            "is not namespaced: it would change the host",
        ));
    }
    if key.contains("..") || key.contains('/') {
        return Err(Error::spec(field, "is not a sysctl name"));
    }
    Ok(())
}

fn apparmor_label(profile: &str) -> Result<CString> {
    let enabled = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim() == "Y")
        .unwrap_or(false);
    if !enabled {
        return Err(Error::Unsupported {
            what: format!("AppArmor profile {profile:?} (process.apparmorProfile)"),
            reason: "AppArmor is not enabled on this host".into(),
        });
    }
    cstring("process.apparmorProfile", format!("exec {profile}"))
}

fn selinux_label(label: &str) -> Result<CString> {
    if !Path::new("/sys/fs/selinux/enforce").exists() {
        return Err(Error::Unsupported {
            what: format!("SELinux label {label:?} (process.selinuxLabel)"),
            reason: "SELinux is not enabled on this host".into(),
        });
    }
    cstring("process.selinuxLabel", label)
}

fn hook_plans(
    field: &str,
    hooks: &Option<Vec<oci_spec::runtime::Hook>>,
    names: &mut Vec<String>,
) -> Result<Vec<HookPlan>> {
    let mut out = Vec::new();
    for (i, h) in hooks.iter().flatten().enumerate() {
        let f = format!("{field}[{i}]");
        let args: Vec<CString> = match h.args() {
            Some(a) if !a.is_empty() => a.iter().map(|s| cstring(&f, s)).collect::<Result<_>>()?,
            _ => vec![path_cstring(&f, h.path())?],
        };
        let env = h
            .env()
            .iter()
            .flatten()
            .map(|s| cstring(&f, s))
            .collect::<Result<_>>()?;
        let timeout = match h.timeout() {
            Some(t) if t <= 0 => {
                return Err(Error::spec(format!("{f}.timeout"), "must be positive"))
            }
            Some(t) => (t.min(i32::MAX as i64 / 1000) * 1000) as i32,
            None => -1,
        };
        out.push(HookPlan::new(
            path_cstring(&f, h.path())?,
            args,
            env,
            timeout,
        ));
        names.push(h.path().display().to_string());
    }
    Ok(out)
}

pub(crate) fn cap_number(c: Capability) -> u32 {
    use Capability::*;
    match c {
        Chown => 0,
        DacOverride => 1,
        DacReadSearch => 2,
        Fowner => 3,
        Fsetid => 4,
        Kill => 5,
        Setgid => 6,
        Setuid => 7,
        Setpcap => 8,
        LinuxImmutable => 9,
        NetBindService => 10,
        NetBroadcast => 11,
        NetAdmin => 12,
        NetRaw => 13,
        IpcLock => 14,
        IpcOwner => 15,
        SysModule => 16,
        SysRawio => 17,
        SysChroot => 18,
        SysPtrace => 19,
        SysPacct => 20,
        SysAdmin => 21,
        SysBoot => 22,
        SysNice => 23,
        SysResource => 24,
        SysTime => 25,
        SysTtyConfig => 26,
        Mknod => 27,
        Lease => 28,
        AuditWrite => 29,
        AuditControl => 30,
        Setfcap => 31,
        MacOverride => 32,
        MacAdmin => 33,
        Syslog => 34,
        WakeAlarm => 35,
        BlockSuspend => 36,
        AuditRead => 37,
        Perfmon => 38,
        Bpf => 39,
        CheckpointRestore => 40,
    }
}

/// The highest capability the running kernel knows (read once per process).
fn last_cap() -> u32 {
    static LAST: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *LAST.get_or_init(|| {
        fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40)
    })
}

fn cap_mask(set: &Option<oci_spec::runtime::Capabilities>, last: u32) -> u64 {
    set.iter()
        .flatten()
        .map(|c| cap_number(*c))
        .filter(|n| *n <= last)
        .fold(0, |m, n| m | (1u64 << n))
}

fn rlimit_resource(t: PosixRlimitType) -> i32 {
    use PosixRlimitType::*;
    (match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }) as i32
}

/// The process part of a plan (shared by init and exec). `field` prefixes error fields.
pub(crate) fn process_plan(
    process: &Process,
    field: &str,
    setgroups_denied: bool,
    ctx: &mut Context,
) -> Result<ProcessPlan> {
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        return Err(Error::spec(format!("{field}.args"), "must name a program"));
    }
    let cwd = process.cwd();
    if !cwd.is_absolute() {
        return Err(Error::spec(
            format!("{field}.cwd"),
            format!("{} is not absolute", cwd.display()),
        ));
    }
    let env = process.env().clone().unwrap_or_default();
    let argv = args
        .iter()
        .map(|a| cstring(&format!("{field}.args"), a))
        .collect::<Result<Vec<_>>>()?;
    let envp = env
        .iter()
        .map(|a| cstring(&format!("{field}.env"), a))
        .collect::<Result<Vec<_>>>()?;
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_owned();
    let candidates = exec_candidates(&args[0], &path, field)?;
    ctx.arg0 = args[0].clone();
    ctx.path = path;
    ctx.cwd = cwd.display().to_string();

    let mut p = ProcessPlan::new(argv, envp, candidates);
    p.cwd = path_cstring(&format!("{field}.cwd"), cwd)?;
    let user = process.user();
    p.uid = user.uid();
    p.gid = user.gid();
    let groups = user.additional_gids().clone().unwrap_or_default();
    p.groups = match (setgroups_denied, groups.is_empty()) {
        (false, _) => Some(groups),
        // a rootless user namespace with one gid: the process keeps the one it has
        (true, true) => None,
        (true, false) => {
            return Err(Error::spec(
                format!("{field}.user.additionalGids"),
                "a rootless container whose gid map is the user's own gid cannot set \
                 supplementary groups (the kernel denies setgroups there); map a range of \
                 /etc/subgid instead (needs newgidmap)",
            ))
        }
    };
    p.umask = user.umask();
    p.no_new_privs = process.no_new_privileges().unwrap_or(false);
    if process.terminal().unwrap_or(false) {
        let size = process.console_size().map(|b| {
            (
                b.height().min(u16::MAX as u64) as u16,
                b.width().min(u16::MAX as u64) as u16,
            )
        });
        p.console = Some(size.unwrap_or((0, 0)));
    }
    let mut seen = HashSet::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        if !seen.insert(r.typ() as u32) {
            return Err(Error::spec(
                format!("{field}.rlimits[{i}]"),
                format!("{} given twice", r.typ()),
            ));
        }
        if r.soft() > r.hard() {
            return Err(Error::spec(
                format!("{field}.rlimits[{i}]"),
                "soft limit above the hard limit",
            ));
        }
        p.rlimits
            .push((rlimit_resource(r.typ()), r.soft(), r.hard()));
        ctx.rlimits.push(r.typ().to_string());
    }
    if let Some(caps) = process.capabilities() {
        let last = last_cap();
        let permitted = cap_mask(caps.permitted(), last);
        let inheritable = cap_mask(caps.inheritable(), last);
        let ambient = raisable_ambient(
            cap_mask(caps.ambient(), last),
            permitted,
            inheritable,
            field,
            ctx,
        );
        p.caps = Some(CapsPlan {
            bounding: cap_mask(caps.bounding(), last),
            effective: cap_mask(caps.effective(), last),
            permitted,
            inheritable,
            ambient,
            last_cap: last.min(63) as u8,
        });
    } else {
        // No capabilities section: the process gets none, as runc.
        p.caps = Some(CapsPlan {
            last_cap: last_cap().min(63) as u8,
            ..CapsPlan::default()
        });
    }
    Ok(p)
}

/// The ambient capabilities the kernel will raise: only those both permitted and
/// inheritable. The others are dropped with a warning each, as runc does (the specs `runc
/// spec` and `crun spec` write list ambient capabilities without inheritable ones).
fn raisable_ambient(
    ambient: u64,
    permitted: u64,
    inheritable: u64,
    field: &str,
    ctx: &mut Context,
) -> u64 {
    let raisable = ambient & permitted & inheritable;
    for n in (0..64).filter(|n| (ambient & !raisable) & (1u64 << n) != 0) {
        let name = super::CAPABILITIES.get(n).copied().unwrap_or("?");
        ctx.warnings.push(Error::spec(
            format!("{field}.capabilities.ambient"),
            format!(
                "CAP_{name} is not both permitted and inheritable, so it cannot be raised: \
                 dropped"
            ),
        ));
    }
    raisable
}

/// Where `arg0` may be: itself when it has a slash, else each `$PATH` entry joined with it.
pub(crate) fn exec_candidates(arg0: &str, path: &str, field: &str) -> Result<Vec<CString>> {
    if arg0.contains('/') {
        return Ok(vec![cstring(&format!("{field}.args"), arg0)?]);
    }
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| {
            cstring(
                &format!("{field}.env PATH"),
                format!("{}/{arg0}", d.trim_end_matches('/')),
            )
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn rootfs_plan(
    spec: &Spec,
    linux: &oci_spec::runtime::Linux,
    bundle: &Path,
    rootfs: &Path,
    user_ns: bool,
    ns: &Namespaces,
    cgroup_dirs: &[PathBuf],
    no_pivot: bool,
    readonly_root: bool,
    ctx: &mut Context,
) -> Result<RootfsPlan> {
    let root_propagation = root_propagation(linux)?;
    let (mounts, dev) = spec_mounts(spec, bundle, ns, cgroup_dirs, ctx)?;
    let devices = device_plans(linux, user_ns, dev.bind, ctx)?;
    // runc's rule: every `/dev` but the host's (a bind) gets them, the rootfs's own too.
    let symlinks = if dev.bind { Vec::new() } else { dev_symlinks() };
    let (masked, readonly) = masked_and_readonly(linux, ctx)?;
    Ok(RootfsPlan {
        rootfs: path_cstring("root.path", rootfs)?,
        overlay: None,
        fuse: None,
        root_propagation,
        mounts,
        devices,
        symlinks,
        pivot: !no_pivot,
        host_ns: false,
        masked: masked
            .iter()
            .map(|p| cstring("linux.maskedPaths", p))
            .collect::<Result<_>>()?,
        readonly: readonly
            .iter()
            .map(|p| cstring("linux.readonlyPaths", p))
            .collect::<Result<_>>()?,
        readonly_root,
        cwd: spec
            .process()
            .as_ref()
            .map(|p| clean_relative(p.cwd()))
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| path_cstring("process.cwd", &p))
            .transpose()?,
    })
}

/// The propagation of the container's root mount (`linux.rootfsPropagation`, default
/// rslave).
fn root_propagation(linux: &oci_spec::runtime::Linux) -> Result<c_ulong> {
    Ok(match linux.rootfs_propagation().as_deref() {
        None | Some("") => libc::MS_SLAVE | libc::MS_REC,
        Some(p) => {
            let f = propagation_option(p).ok_or_else(|| {
                Error::spec(
                    "linux.rootfsPropagation",
                    format!("unknown propagation {p:?}"),
                )
            })?;
            f | libc::MS_REC
        }
    })
}

/// What the spec's mounts make of `/dev`.
#[derive(Debug, Default)]
struct DevLayout {
    /// `/dev` is a bind mount (the host's): no standard devices or symlinks are made in it.
    bind: bool,
}

/// The spec's `mounts`, planned (cgroup mounts expanded per hierarchy), in order.
fn spec_mounts(
    spec: &Spec,
    bundle: &Path,
    ns: &Namespaces,
    cgroup_dirs: &[PathBuf],
    ctx: &mut Context,
) -> Result<(Vec<MountPlan>, DevLayout)> {
    let mut mounts = Vec::new();
    let mut dev = DevLayout::default();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = format!("mounts[{i}]");
        let dest = m.destination();
        if !dest.is_absolute() {
            return Err(Error::spec(
                format!("{field}.destination"),
                format!("{} is not absolute", dest.display()),
            ));
        }
        let target = clean_relative(dest);
        let desc = format!(
            "{} on {}",
            m.typ().as_deref().unwrap_or("bind"),
            dest.display()
        );
        if target.as_os_str() == "dev" {
            dev.bind = is_bind(m);
        }
        if m.typ().as_deref() == Some("cgroup") || m.typ().as_deref() == Some("cgroup2") {
            cgroup_mounts(
                m,
                &field,
                &target,
                ns,
                cgroup_dirs,
                &mut mounts,
                &mut ctx.mounts,
            )?;
            continue;
        }
        mounts.push(mount_plan(m, &field, &target, bundle)?);
        ctx.mounts.push(desc);
    }
    Ok((mounts, dev))
}

/// Device nodes to make, by path below the rootfs; a later one replaces an earlier one of
/// the same path.
struct DeviceList {
    devices: Vec<(PathBuf, DevicePlan)>,
    /// In a user namespace nodes cannot be made: the host's are bind-mounted.
    user_ns: bool,
}

impl DeviceList {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        field: &str,
        path: &Path,
        kind: u32,
        major: i64,
        minor: i64,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<()> {
        let rel = clean_relative(path);
        if rel.as_os_str().is_empty() {
            return Err(Error::spec(field, "device path is empty"));
        }
        let d = DevicePlan {
            path: path_cstring(field, &rel)?,
            bind_from: if self.user_ns {
                Some(path_cstring(field, path)?)
            } else {
                None
            },
            mode: kind | (mode & 0o7777),
            rdev: libc::makedev(major as u32, minor as u32),
            uid,
            gid,
        };
        self.devices.retain(|(p, _)| *p != rel);
        self.devices.push((rel, d));
        Ok(())
    }
}

/// Devices: the standard set (unless `/dev` is the host's), then the spec's.
fn device_plans(
    linux: &oci_spec::runtime::Linux,
    user_ns: bool,
    dev_is_bind: bool,
    ctx: &mut Context,
) -> Result<Vec<DevicePlan>> {
    let mut list = DeviceList {
        devices: Vec::new(),
        user_ns,
    };
    if !dev_is_bind {
        for (name, major, minor) in [
            ("null", 1, 3),
            ("zero", 1, 5),
            ("full", 1, 7),
            ("random", 1, 8),
            ("urandom", 1, 9),
            ("tty", 5, 0),
        ] {
            let path = Path::new("/dev").join(name);
            list.add(
                "linux.devices",
                &path,
                libc::S_IFCHR,
                major,
                minor,
                0o666,
                0,
                0,
            )?;
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
            LinuxDeviceType::B => libc::S_IFBLK,
            LinuxDeviceType::P => libc::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::spec(
                    format!("{field}.type"),
                    "\"a\" is not a device type",
                ))
            }
        };
        if !d.path().is_absolute() {
            return Err(Error::spec(
                format!("{field}.path"),
                format!("{} is not absolute", d.path().display()),
            ));
        }
        list.add(
            &field,
            d.path(),
            kind,
            d.major(),
            d.minor(),
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        )?;
    }
    ctx.devices = list
        .devices
        .iter()
        .map(|(p, _)| format!("/{}", p.display()))
        .collect();
    Ok(list.devices.into_iter().map(|(_, d)| d).collect())
}

/// The standard symlinks of `/dev` (`fd`, `stdin`, ..., `core`, `ptmx`), as runc makes
/// them.
fn dev_symlinks() -> Vec<(CString, CString)> {
    let mut symlinks = Vec::new();
    for (target, link) in [
        ("/proc/self/fd", "dev/fd"),
        ("/proc/self/fd/0", "dev/stdin"),
        ("/proc/self/fd/1", "dev/stdout"),
        ("/proc/self/fd/2", "dev/stderr"),
    ] {
        symlinks.push((
            CString::new(target).expect("static"),
            CString::new(link).expect("static"),
        ));
    }
    if Path::new("/proc/kcore").exists() {
        symlinks.push((c"/proc/kcore".to_owned(), c"dev/core".to_owned()));
    }
    symlinks.push((c"pts/ptmx".to_owned(), c"dev/ptmx".to_owned()));
    symlinks
}

/// `linux.maskedPaths` and `linux.readonlyPaths`, checked to be absolute.
fn masked_and_readonly(
    linux: &oci_spec::runtime::Linux,
    ctx: &mut Context,
) -> Result<(Vec<String>, Vec<String>)> {
    let masked: Vec<String> = linux.masked_paths().clone().unwrap_or_default();
    let readonly: Vec<String> = linux.readonly_paths().clone().unwrap_or_default();
    for (f, list) in [
        ("linux.maskedPaths", &masked),
        ("linux.readonlyPaths", &readonly),
    ] {
        if let Some(p) = list.iter().find(|p| !p.starts_with('/')) {
            return Err(Error::spec(f, format!("{p:?} is not absolute")));
        }
    }
    ctx.masked = masked.clone();
    ctx.readonly = readonly.clone();
    Ok((masked, readonly))
}

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .iter()
            .flatten()
            .any(|o| o == "bind" || o == "rbind")
}

fn mount_plan(m: &Mount, field: &str, target: &Path, bundle: &Path) -> Result<MountPlan> {
    let opts = parse_options(field, m.options().as_deref().unwrap_or(&[]))?;
    let bind = is_bind(m);
    let target_c = path_cstring(&format!("{field}.destination"), target)?;
    if bind {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::spec(format!("{field}.source"), "a bind mount needs a source"))?;
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.join(src)
        };
        let meta = fs::metadata(&src)
            .map_err(|e| Error::os(format!("checking the source of {field}"), &src, e))?;
        let remount = opts.flags & REMOUNT_MASK;
        Ok(MountPlan {
            source: Some(path_cstring(&format!("{field}.source"), &src)?),
            target: target_c,
            fstype: None,
            flags: opts.flags & (libc::MS_BIND | libc::MS_REC),
            data: None,
            bind_file: !meta.is_dir(),
            remount,
            propagation: opts.propagation,
            recursive: opts.recursive,
        })
    } else {
        let fstype = m
            .typ()
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::spec(format!("{field}.type"), "missing"))?;
        let source = m
            .source()
            .as_ref()
            .map(|s| path_cstring(&format!("{field}.source"), s))
            .transpose()?
            .or_else(|| CString::new(fstype.clone()).ok());
        let data = if opts.data.is_empty() {
            None
        } else {
            Some(cstring(&format!("{field}.options"), opts.data.join(","))?)
        };
        // A read-only tmpfs is mounted writable and then made read-only by a bind remount,
        // as runc does: the mount is read-only, its superblock is not.
        let (flags, remount) = if fstype == "tmpfs" && opts.flags & libc::MS_RDONLY != 0 {
            (opts.flags & !libc::MS_RDONLY, opts.flags & REMOUNT_MASK)
        } else {
            (opts.flags, 0)
        };
        Ok(MountPlan {
            source,
            target: target_c,
            fstype: Some(cstring(&format!("{field}.type"), &fstype)?),
            flags,
            data,
            bind_file: false,
            remount,
            propagation: opts.propagation,
            recursive: opts.recursive,
        })
    }
}

/// The per-mount flags a bind remount sets.
const REMOUNT_MASK: c_ulong = libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_STRICTATIME;

/// A `cgroup` mount: cgroup2 on a v2 host; on v1 and hybrid hosts a tmpfs with one mount per
/// hierarchy — a fresh cgroup mount inside a cgroup namespace, else a bind of the container's
/// own cgroup directory.
fn cgroup_mounts(
    m: &Mount,
    field: &str,
    target: &Path,
    ns: &Namespaces,
    cgroup_dirs: &[PathBuf],
    out: &mut Vec<MountPlan>,
    names: &mut Vec<String>,
) -> Result<()> {
    let opts = parse_options(field, m.options().as_deref().unwrap_or(&[]))?;
    let flags = (opts.flags & !(libc::MS_BIND | libc::MS_REC))
        | libc::MS_NOSUID
        | libc::MS_NODEV
        | libc::MS_NOEXEC;
    let dest = m.destination().display().to_string();
    let t = path_cstring(&format!("{field}.destination"), target)?;
    let cgroupns = ns.has(libc::CLONE_NEWCGROUP);
    // A fresh cgroup file system (inside a cgroup namespace) or a bind of the container's own
    // cgroup directory carrying the spec's flags.
    let fs = |target: CString, fstype: &CStr, data: Option<CString>| MountPlan {
        source: Some(c"cgroup".to_owned()),
        target,
        fstype: Some(fstype.to_owned()),
        flags,
        data,
        bind_file: false,
        remount: 0,
        propagation: 0,
        recursive: (0, 0),
    };
    let bind = |target: CString, src: &Path| -> Result<MountPlan> {
        Ok(MountPlan {
            source: Some(path_cstring(field, src)?),
            target,
            fstype: None,
            flags: libc::MS_BIND | libc::MS_REC,
            data: None,
            bind_file: false,
            remount: flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC),
            propagation: 0,
            recursive: (0, 0),
        })
    };
    if cgroup::detect() == CgroupVersion::V2 {
        if cgroupns {
            out.push(fs(t, c"cgroup2", None));
        } else {
            let src = cgroup_dirs
                .first()
                .cloned()
                .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
            out.push(bind(t, &src)?);
        }
        names.push(format!("cgroup2 on {dest}"));
        return Ok(());
    }
    // The tmpfs is writable until the hierarchies are mounted under it; the spec's
    // read-only flag comes as a remount at the end.
    let tmpfs_flags = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    out.push(MountPlan {
        source: Some(c"tmpfs".to_owned()),
        target: t,
        fstype: Some(c"tmpfs".to_owned()),
        flags: tmpfs_flags,
        data: Some(c"mode=755".to_owned()),
        bind_file: false,
        remount: 0,
        propagation: 0,
        recursive: (0, 0),
    });
    names.push(format!("tmpfs on {dest}"));
    for h in cgroup::hierarchies() {
        if h.options.is_empty() {
            continue; // the cgroup2 part of a hybrid host
        }
        let name = h
            .mount_point
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| OsStr::new(&h.options).to_os_string());
        let sub = path_cstring(field, &target.join(&name))?;
        if cgroupns {
            out.push(fs(sub, c"cgroup", Some(cstring(field, &h.options)?)));
        } else {
            let Some(src) = cgroup_dirs.iter().find(|d| d.starts_with(&h.mount_point)) else {
                continue;
            };
            out.push(bind(sub, src)?);
        }
        names.push(format!(
            "cgroup {} on {}",
            h.options,
            Path::new(&dest).join(&name).display()
        ));
    }
    if opts.flags & libc::MS_RDONLY != 0 {
        // Make the tmpfs itself read-only last, as runc does.
        out.push(MountPlan {
            source: None,
            target: path_cstring(field, target)?,
            fstype: None,
            flags: libc::MS_REMOUNT | libc::MS_RDONLY | tmpfs_flags,
            data: None,
            bind_file: false,
            remount: 0,
            propagation: 0,
            recursive: (0, 0),
        });
        names.push(format!("read-only remount of {dest}"));
    }
    Ok(())
}

/// Whether a host path is a character device (for tests and device checks).
#[allow(dead_code)]
pub(crate) fn is_char_device(p: &Path) -> bool {
    fs::metadata(p)
        .map(|m| m.file_type().is_char_device())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {

    #[test]
    fn seccomp_json_is_the_documents_own_text() {
        let doc = br#"{"ociVersion":"1.0.2","linux":{"namespaces":[],"seccomp":{"defaultAction":"SCMP_ACT_ERRNO", "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}},"x":1}"#;
        assert_eq!(
            seccomp_json(doc).as_deref(),
            Some(&br#"{"defaultAction":"SCMP_ACT_ERRNO", "syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#[..])
        );
        for none in [
            &br#"{"linux":{"seccomp":null}}"#[..],
            br#"{"linux":{}}"#,
            b"{}",
            b"not json",
        ] {
            assert_eq!(seccomp_json(none), None);
        }
    }
    use super::*;

    #[test]
    fn home_comes_from_the_containers_passwd_unless_set() {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("etc")).unwrap();
        fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n",
        )
        .unwrap();
        let home = |uid: u32, env: &[&str]| -> Vec<String> {
            let mut p = oci_spec::runtime::Process::default();
            let mut user = oci_spec::runtime::User::default();
            user.set_uid(uid);
            p.set_user(user);
            p.set_env(Some(env.iter().map(|s| s.to_string()).collect()));
            let env = with_home(&p, root.path()).env().clone().unwrap();
            env.into_iter().filter(|e| e.starts_with("HOME=")).collect()
        };
        assert_eq!(home(0, &["A=1"]), ["HOME=/root"]);
        assert_eq!(home(1000, &[]), ["HOME=/home/u"]);
        assert_eq!(home(4242, &[]), ["HOME=/"], "a user /etc/passwd lacks");
        assert_eq!(home(1000, &["HOME=/x"]), ["HOME=/x"]);
        assert_eq!(
            home(1000, &["HOME="]),
            ["HOME=/home/u"],
            "empty is unset (runc)"
        );
        let none = tempfile::tempdir().unwrap();
        let mut p = oci_spec::runtime::Process::default();
        p.set_env(None);
        assert_eq!(
            with_home(&p, none.path()).env().clone().unwrap(),
            ["HOME=/"]
        );
    }

    #[test]
    fn capability_names_are_in_number_order() {
        for (n, name) in super::super::CAPABILITIES.iter().enumerate() {
            let cap: Capability =
                serde_json::from_value(serde_json::json!(format!("CAP_{name}"))).unwrap();
            assert_eq!(cap_number(cap) as usize, n, "{name}");
        }
    }

    #[test]
    fn destinations_are_cleaned_lexically() {
        assert_eq!(
            clean_relative(Path::new("/a/./b/../c")),
            PathBuf::from("a/c")
        );
        assert_eq!(
            clean_relative(Path::new("/../../etc/passwd")),
            PathBuf::from("etc/passwd")
        );
        assert_eq!(clean_relative(Path::new("/")), PathBuf::from(""));
    }

    /// Found by the fuzz target `config`: the one-pass parse skipped an unknown field's
    /// string without checking its UTF-8, and took a document the tree pass refuses.
    #[test]
    fn the_one_pass_parse_refuses_what_the_tree_pass_refuses() {
        let base = r#"{"ociVersion": "1.0.2", "root": {"path": "rootfs"},
            "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["true"], "#;
        let mut bad_utf8 = base.as_bytes().to_vec();
        bad_utf8.extend_from_slice(b"\"arKILLgs\": [\"\xff\xfftrue\"]}}");
        let lone_surrogate = format!(r#"{base}"unknown": "\ud800"}}}}"#);
        let fine = format!(r#"{base}"unknown": "\ud83d\ude00"}}}}"#);
        let tree = parse_spec_tree(&bad_utf8)
            .map(|_| ())
            .map_err(|e| e.to_string());
        let one = parse_spec(&bad_utf8).map(|_| ()).map_err(|e| e.to_string());
        assert!(tree.is_err());
        assert_eq!(one, tree);
        // Values of unknown fields are skipped, not checked (runc's decoder takes them too).
        assert!(parse_spec_tree(lone_surrogate.as_bytes()).is_err());
        let (spec, warnings) = parse_spec(lone_surrogate.as_bytes()).unwrap();
        assert!(warnings.is_empty());
        assert_eq!(spec, parse_spec_tree(fine.as_bytes()).unwrap().0);
        assert_eq!(parse_spec(fine.as_bytes()).unwrap().0, spec);
    }

    /// Found by the fuzz target `config`: an unknown key under `process.capabilities`
    /// holding an unknown capability. Both passes ignore the key and give the same spec;
    /// only the tree pass (not taken here) would warn about the name in it.
    #[test]
    fn an_unknown_capability_set_is_ignored_by_both_passes() {
        let doc = br#"{"ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["true"],
            "capabilities": {"ambientg": ["CAP_FROM_THE_FUTURE"], "bounding": ["CAP_KILL"]}}}"#;
        let (one, warnings) = parse_spec(doc).unwrap();
        assert!(warnings.is_empty());
        let (tree, _) = parse_spec_tree(doc).unwrap();
        assert_eq!(one, tree);
        let caps = one
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .clone()
            .unwrap();
        assert_eq!(caps.bounding().clone().unwrap().len(), 1);
    }

    #[test]
    fn unknown_capabilities_are_dropped_with_a_warning_each() {
        let mut v = serde_json::json!({"process": {"capabilities": {
            "bounding": ["CAP_KILL", "CAP_FOO"],
            "ambient": ["CAP_BAR"],
            "effective": ["CAP_CHOWN"]
        }}});
        let w: Vec<String> = drop_unknown_capabilities(&mut v)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w
            .iter()
            .any(|w| w.contains("process.capabilities.bounding") && w.contains("CAP_FOO")));
        assert!(w
            .iter()
            .any(|w| w.contains("process.capabilities.ambient") && w.contains("CAP_BAR")));
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            serde_json::json!(["CAP_KILL"])
        );
        assert_eq!(
            v["process"]["capabilities"]["ambient"],
            serde_json::json!([])
        );
        assert_eq!(
            v["process"]["capabilities"]["effective"],
            serde_json::json!(["CAP_CHOWN"])
        );
    }

    #[test]
    fn versions_1x_are_accepted() {
        for v in ["1.0.0", "1.0.2-dev", "1.2.0", "1.3"] {
            check_version(v).unwrap();
        }
        for v in ["0.9", "2.0.0", ""] {
            assert!(check_version(v).is_err(), "{v}");
        }
    }

    #[test]
    fn exec_candidates_follow_path() {
        let c = exec_candidates("sh", "/usr/bin:/bin/:", "process").unwrap();
        assert_eq!(
            c,
            vec![
                CString::new("/usr/bin/sh").unwrap(),
                CString::new("/bin/sh").unwrap()
            ]
        );
        let c = exec_candidates("./x", "/bin", "process").unwrap();
        assert_eq!(c, vec![CString::new("./x").unwrap()]);
    }

    #[test]
    fn mount_options_split_into_flags_propagation_and_data() {
        let o = parse_options(
            "m",
            &[
                "nosuid".into(),
                "ro".into(),
                "rw".into(),
                "rslave".into(),
                "mode=755".into(),
                "size=65536k".into(),
            ],
        )
        .unwrap();
        assert_eq!(o.flags, libc::MS_NOSUID);
        assert_eq!(o.propagation, libc::MS_SLAVE | libc::MS_REC);
        assert_eq!(
            o.data,
            vec!["mode=755".to_owned(), "size=65536k".to_owned()]
        );
    }

    #[test]
    fn sysctls_outside_namespaces_are_refused() {
        let ns = Namespaces {
            new: libc::CLONE_NEWNET,
            ..Default::default()
        };
        check_sysctl("net.ipv4.ip_forward", &ns).unwrap();
        assert!(check_sysctl("kernel.shmmax", &ns).is_err());
        assert!(check_sysctl("vm.swappiness", &ns).is_err());
    }

    fn overlay_spec(opts: &str) -> Spec {
        let mut spec = Spec::default();
        let notes = [(OVERLAY_ROOT_ANNOTATION.to_owned(), opts.to_owned())];
        spec.set_annotations(Some(notes.into_iter().collect()));
        spec
    }

    #[test]
    fn the_overlay_driver_decides_on_fuse_overlayfs() {
        let rootfs = Path::new("/c/rootfs");
        let opts = "lowerdir=/l,upperdir=/u,workdir=/w,userxattr";
        let run = |opts: &str, pid_ns: bool| {
            let mut ctx = Context::default();
            let r = overlay_root(&overlay_spec(opts), rootfs, true, pid_ns, &mut ctx);
            (r, ctx)
        };
        // native: the kernel's data without the x- options, no fallback and nothing to say
        let (r, ctx) = run(&format!("{opts},x-driver=native"), true);
        let (native, fuse) = r.unwrap();
        assert_eq!(native.unwrap().to_str().unwrap(), opts);
        assert!(fuse.is_none());
        assert_eq!(ctx.overlay_fallback, None);
        // auto without a pid namespace: no fallback, and the failure will say why
        let (r, ctx) = run(opts, false);
        assert!(r.unwrap().1.is_none());
        assert!(ctx.overlay_fallback.unwrap().contains("pid namespace"));
        // forced without one: refused before anything runs
        let e = run(&format!("{opts},x-driver=fuse-overlayfs"), false)
            .0
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("pid namespace"), "{e}");
        // a driver nobody knows
        let e = run(&format!("{opts},x-driver=fuse"), true).0.unwrap_err();
        assert!(e.to_string().contains("unknown overlay driver"), "{e}");
        // auto with fuse-overlayfs installed: a fallback plan of the directories alone
        if super::super::fuse::find().is_some() {
            let (r, ctx) = run(opts, true);
            let fuse = r.unwrap().1.unwrap();
            assert!(fuse.fallback);
            let args: Vec<_> = fuse.args().iter().map(|a| a.to_str().unwrap()).collect();
            assert_eq!(
                args,
                [
                    "fuse-overlayfs",
                    "-o",
                    "lowerdir=/l,upperdir=/u,workdir=/w",
                    "/c/rootfs"
                ]
            );
            assert_eq!(ctx.overlay_fallback, None);
        }
    }

    #[test]
    fn overlay_failures_say_which_driver_and_why_no_fallback() {
        let mut ctx = Context {
            rootfs: "/c/rootfs".into(),
            overlay_root: true,
            overlay_fallback: Some(super::super::fuse::missing()),
            ..Default::default()
        };
        let fail = |step, index, errno| ChildFailure { step, index, errno };
        let e = ctx
            .error(&fail(Step::BindRootfs, 0, libc::EPERM))
            .to_string();
        assert!(e.contains("(no fallback: fuse-overlayfs is not installed (Debian: apt-get install fuse-overlayfs); the kernel's overlayfs needs Linux 5.11"), "{e}");
        // a failure fuse-overlayfs would not answer says nothing of it
        let e = ctx
            .error(&fail(Step::BindRootfs, 0, libc::ENOENT))
            .to_string();
        assert!(!e.contains("fallback"), "{e}");
        ctx.overlay_fallback = None;
        let e = ctx.error(&fail(Step::FuseOverlayExit, libc::EPERM as u32, 1 << 8));
        let Error::Spawn { stage, source } = &e else {
            panic!("{e}")
        };
        assert_eq!(
            stage,
            &format!(
                "mounting the overlay of the rootfs /c/rootfs with fuse-overlayfs (the kernel's \
                 overlayfs refused it: {})",
                std::io::Error::from_raw_os_error(libc::EPERM)
            )
        );
        assert!(
            source.to_string().contains("exited with status 1"),
            "{source}"
        );
        let e = ctx.error(&fail(Step::FuseOverlay, 0, libc::EAGAIN));
        let Error::Spawn { stage, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(
            stage,
            "mounting the overlay of the rootfs /c/rootfs with fuse-overlayfs"
        );
    }
}
