//! Seccomp profiles in Docker's format, and Docker's default profile.
//!
//! The OCI spec's [`LinuxSeccomp`] is what the runtime compiles and loads; it is fixed: one
//! list of rules for one container. Docker's profile format (what
//! `docker run --security-opt seccomp=PROFILE.json` reads) extends it with rules that apply
//! only on some architectures, only with some capabilities, or only from some kernel on,
//! and an `archMap` of architectures by host. A [`Profile`] is such a document; resolving
//! it for a container's capabilities and a host ([`Profile::resolve`], [`Platform`]) gives
//! the [`LinuxSeccomp`] to put into `linux.seccomp`, as moby's `setupSeccomp` does.
//!
//! [`default_profile`] is Docker's default profile resolved for this host: an allow list of
//! about 360 syscalls, `ERRNO(EPERM)` for everything else. Without the capabilities that
//! would make them meaningful it refuses mounts, new namespaces (`unshare`, `setns`, and
//! `clone` with a `CLONE_NEW*` flag; `clone3` fails with `ENOSYS` so that libc falls back to
//! `clone`), `bpf`, `perf_event_open`, kernel modules, `reboot`, setting the clock,
//! `ptrace` of other processes before Linux 4.8, `personality` values other than Linux's
//! and `UNAME26`, and `socket` of `AF_ALG` and `AF_VSOCK`. It never allows `io_uring_*`,
//! `keyctl`, `add_key`, `request_key`, `userfaultfd`, `kexec_*`, `swapon`/`swapoff` or
//! `pivot_root`, whatever the capabilities.
//!
//! # The document
//! ```json
//! {
//!   "defaultAction": "SCMP_ACT_ERRNO",
//!   "defaultErrnoRet": 1,
//!   "archMap": [{"architecture": "SCMP_ARCH_X86_64",
//!                "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
//!   "flags": ["SECCOMP_FILTER_FLAG_LOG"],
//!   "syscalls": [
//!     {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
//!     {"name": "clone", "action": "SCMP_ACT_ALLOW",
//!      "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
//!                "op": "SCMP_CMP_MASKED_EQ"}],
//!      "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
//!     {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
//!      "includes": {"minKernel": "4.8", "arches": ["amd64"]}}
//!   ]
//! }
//! ```
//! A plain OCI `linux.seccomp` object (with `architectures` instead of `archMap`, and
//! `listenerPath`/`listenerMetadata` if it likes) is a valid document too.
//!
//! # Resolution (moby's rules)
//! - The output's architectures are `architectures` as given, or the `archMap` entry whose
//!   `architecture` is the host's, followed by its `subArchitectures` (none if no entry
//!   matches). A document may not have both.
//! - A rule is dropped if its `excludes` match: the host's architecture is in
//!   `excludes.arches`, or *any* of `excludes.caps` is in the container's capabilities, or
//!   the host's kernel is at least `excludes.minKernel`.
//! - A rule is kept only if its `includes` match: the host's architecture is in
//!   `includes.arches` (when given), *all* of `includes.caps` are in the capabilities, and
//!   the kernel is at least `includes.minKernel`.
//! - The host's architecture in `arches` is spelled as Docker spells it (`amd64`, `arm64`,
//!   `x86`, `arm`, `ppc64le`, `s390x`, `riscv64`, …): the 64-bit host, never its
//!   sub-architectures, so a rule for `x86` alone never applies on an `amd64` host.
//! - Capabilities are the container's bounding set, spelled `CAP_SYS_ADMIN` (the `CAP_`
//!   prefix may be left out in what is passed to [`Profile::resolve`]).
//! - A kernel version is `"<major>.<minor>"` (`"4.8"`); the host's is read from
//!   `/proc/sys/kernel/osrelease`, ignoring the patch level and suffixes.
//! - A document with neither `defaultAction` nor `syscalls` (`{}`) disables seccomp, as in
//!   Docker: [`Profile::resolve`] returns `None`.
//!
//! # Validation (where we are stricter than Docker)
//! Loading refuses, naming the file and the rule (`syscalls[3].names[1]`): unknown
//! syscall names (known: any Linux architecture's syscall table, plus libseccomp's ARM
//! private calls `breakpoint`, `set_tls`, `usr26`, `usr32`), actions, operators, filter
//! flags, architectures (`SCMP_ARCH_*` in `architectures`/`archMap`, Docker's names in
//! `includes`/`excludes`), capabilities, argument indexes above 5, malformed kernel
//! versions, rules with no names or with both `name` and `names`, and a document with
//! both `architectures` and `archMap`. Unknown fields are ignored, as both Docker and OCI
//! readers do. Docker instead passes unknown syscall names on and the runtime skips them.

mod default;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompArgBuilder,
    LinuxSeccompFilterFlag, LinuxSeccompOperator, LinuxSyscall,
};
use serde::Deserialize;

use crate::{Error, Result};

/// Docker's default seccomp profile for a container with capabilities `caps` on this host
/// (architecture and kernel), ready for `linux.seccomp`.
///
/// `caps` are the container's bounding capabilities as the OCI spec spells them
/// (`"CAP_SYS_ADMIN"`; `"SYS_ADMIN"` is accepted too). The profile's semantics are listed
/// in the [module docs](self).
pub fn default_profile<S: AsRef<str>>(caps: &[S]) -> LinuxSeccomp {
    default::profile().build(caps, &Platform::host())
}

/// A seccomp profile in Docker's JSON format (also an OCI `linux.seccomp` object), checked
/// when it is loaded; [`resolve`](Self::resolve) turns it into the OCI spec's
/// [`LinuxSeccomp`] for a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    default_action: Option<LinuxSeccompAction>,
    default_errno_ret: Option<u32>,
    architectures: Vec<Arch>,
    arch_map: Vec<(Arch, Vec<Arch>)>,
    flags: Vec<LinuxSeccompFilterFlag>,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
    rules: Vec<Rule>,
}

/// The host a profile is resolved for: its architecture and kernel version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The host's native architecture (`SCMP_ARCH_X86_64` on x86_64).
    pub arch: Arch,
    /// The host's kernel; `None` if unknown, and then no `minKernel` condition holds.
    pub kernel: Option<KernelVersion>,
}

/// A kernel version as profiles compare it: major and minor, no patch level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    /// `6` in `6.1.12`.
    pub major: u32,
    /// `1` in `6.1.12`.
    pub minor: u32,
}

/// One entry of `syscalls`, with its conditions.
#[derive(Debug, Clone, PartialEq)]
struct Rule {
    names: Vec<String>,
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    args: Vec<LinuxSeccompArg>,
    includes: Filter,
    excludes: Filter,
}

/// `includes` or `excludes` of a rule.
#[derive(Debug, Clone, Default, PartialEq)]
struct Filter {
    caps: Vec<String>,
    arches: Vec<String>,
    min_kernel: Option<KernelVersion>,
}

impl Profile {
    /// Docker's default profile, before resolution (see [`default_profile`]).
    pub fn docker_default() -> Self {
        default::profile()
    }

    /// Reads and checks a profile file.
    ///
    /// # Errors
    /// [`Error::Os`] if the file cannot be read; [`Error::Seccomp`] naming the file and
    /// the field at fault if it is not a valid profile (see the [module docs](self)).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::os("reading seccomp profile", path, e))?;
        Self::parse(&text, Some(path))
    }

    /// Resolves the profile for a container with capabilities `caps` on this host; `None`
    /// if the profile disables seccomp (it has neither `defaultAction` nor `syscalls`).
    pub fn resolve<S: AsRef<str>>(&self, caps: &[S]) -> Option<LinuxSeccomp> {
        self.resolve_for(caps, &Platform::host())
    }

    /// [`resolve`](Self::resolve) for another host.
    pub fn resolve_for<S: AsRef<str>>(
        &self,
        caps: &[S],
        platform: &Platform,
    ) -> Option<LinuxSeccomp> {
        if self.default_action.is_none() && self.rules.is_empty() {
            return None;
        }
        Some(self.build(caps, platform))
    }

    /// The resolved profile (moby's `setupSeccomp`).
    fn build<S: AsRef<str>>(&self, caps: &[S], platform: &Platform) -> LinuxSeccomp {
        let caps: Vec<String> = caps.iter().map(|c| cap_name(c.as_ref())).collect();
        let host = docker_arch_name(platform.arch);
        let kernel_at_least =
            |min: &KernelVersion| platform.kernel.is_some_and(|kernel| kernel >= *min);
        let has_cap = |c: &String| caps.contains(c);

        let mut architectures = self.architectures.clone();
        if let Some((arch, subs)) = self.arch_map.iter().find(|(a, _)| *a == platform.arch) {
            architectures.push(*arch);
            architectures.extend_from_slice(subs);
        }

        let mut syscalls = Vec::new();
        for rule in &self.rules {
            let ex = &rule.excludes;
            if host.is_some_and(|h| ex.arches.iter().any(|a| a == h))
                || ex.caps.iter().any(has_cap)
                || ex.min_kernel.as_ref().is_some_and(kernel_at_least)
            {
                continue;
            }
            let inc = &rule.includes;
            if (!inc.arches.is_empty() && !host.is_some_and(|h| inc.arches.iter().any(|a| a == h)))
                || !inc.caps.iter().all(has_cap)
                || inc.min_kernel.as_ref().is_some_and(|k| !kernel_at_least(k))
            {
                continue;
            }
            let mut call = LinuxSyscall::default();
            call.set_names(rule.names.clone());
            call.set_action(rule.action);
            call.set_errno_ret(rule.errno_ret);
            call.set_args((!rule.args.is_empty()).then(|| rule.args.clone()));
            syscalls.push(call);
        }

        let mut out = LinuxSeccomp::default();
        out.set_default_action(self.default_action.unwrap_or_default());
        out.set_default_errno_ret(self.default_errno_ret);
        out.set_architectures((!architectures.is_empty()).then_some(architectures));
        out.set_flags((!self.flags.is_empty()).then(|| self.flags.clone()));
        out.set_listener_path(self.listener_path.clone());
        out.set_listener_metadata(self.listener_metadata.clone());
        out.set_syscalls((!syscalls.is_empty()).then_some(syscalls));
        out
    }

    /// Parses and checks a document; `path` only names it in errors.
    fn parse(text: &str, path: Option<&Path>) -> Result<Self> {
        let fail = |reason: String| {
            let reason = match path {
                Some(p) => format!("profile {}: {reason}", p.display()),
                None => format!("profile: {reason}"),
            };
            Error::Seccomp { reason }
        };
        let doc: doc::Profile =
            serde_json::from_str(text).map_err(|e| fail(format!("invalid JSON: {e}")))?;
        doc.check().map_err(fail)
    }
}

impl FromStr for Profile {
    type Err = Error;

    /// Parses and checks a profile given as JSON text.
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text, None)
    }
}

impl Rule {
    fn new<'a>(names: impl IntoIterator<Item = &'a str>, action: LinuxSeccompAction) -> Self {
        Self {
            names: names.into_iter().map(str::to_owned).collect(),
            action,
            errno_ret: None,
            args: Vec::new(),
            includes: Filter::default(),
            excludes: Filter::default(),
        }
    }

    fn arg(self, index: usize, op: LinuxSeccompOperator, value: u64) -> Self {
        self.push_arg(index, op, value, None)
    }

    fn masked_eq(self, index: usize, mask: u64, value: u64) -> Self {
        self.push_arg(
            index,
            LinuxSeccompOperator::ScmpCmpMaskedEq,
            mask,
            Some(value),
        )
    }

    fn push_arg(
        mut self,
        index: usize,
        op: LinuxSeccompOperator,
        value: u64,
        value_two: Option<u64>,
    ) -> Self {
        self.args.push(seccomp_arg(index, op, value, value_two));
        self
    }

    fn errno(mut self, errno: u32) -> Self {
        self.errno_ret = Some(errno);
        self
    }

    fn includes(mut self, filter: Filter) -> Self {
        self.includes = filter;
        self
    }

    fn excludes(mut self, filter: Filter) -> Self {
        self.excludes = filter;
        self
    }
}

impl Filter {
    fn caps(mut self, caps: &[&str]) -> Self {
        self.caps = caps.iter().map(|c| c.to_string()).collect();
        self
    }

    fn arches(mut self, arches: &[&str]) -> Self {
        self.arches = arches.iter().map(|a| a.to_string()).collect();
        self
    }

    fn min_kernel(mut self, version: KernelVersion) -> Self {
        self.min_kernel = Some(version);
        self
    }
}

impl Platform {
    /// This host: the architecture the crate was built for and the running kernel.
    pub fn host() -> Self {
        let arch = if cfg!(target_arch = "x86_64") {
            Arch::ScmpArchX86_64
        } else if cfg!(target_arch = "aarch64") {
            Arch::ScmpArchAarch64
        } else if cfg!(target_arch = "x86") {
            Arch::ScmpArchX86
        } else if cfg!(target_arch = "arm") {
            Arch::ScmpArchArm
        } else if cfg!(target_arch = "riscv64") {
            Arch::ScmpArchRiscv64
        } else if cfg!(target_arch = "s390x") {
            Arch::ScmpArchS390x
        } else if cfg!(target_arch = "powerpc64") && cfg!(target_endian = "little") {
            Arch::ScmpArchPpc64le
        } else if cfg!(target_arch = "loongarch64") {
            Arch::ScmpArchLoongarch64
        } else {
            Arch::ScmpArchNative
        };
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .and_then(|release| KernelVersion::from_release(&release));
        Self { arch, kernel }
    }
}

impl KernelVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// The version in a kernel release string (`6.1.12-amd64`, `3.12-rc5`): its leading
    /// `major.minor`.
    pub fn from_release(release: &str) -> Option<Self> {
        let number = |s: &str| {
            let digits: &str = &s[..s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len())];
            digits.parse().ok()
        };
        let (major, rest) = release.trim().split_once('.')?;
        Some(Self::new(major.parse().ok()?, number(rest)?))
    }
}

impl FromStr for KernelVersion {
    type Err = String;

    /// `"<major>.<minor>"` as in `minKernel` (`"4.8"`); not `0.0`, no patch level.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let bad = || format!("invalid kernel version {s:?}, expected \"<major>.<minor>\"");
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        let part = |p: &str| {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse::<u8>().map(u32::from).map_err(|_| bad())
        };
        let version = Self::new(part(major)?, part(minor)?);
        if version == Self::new(0, 0) {
            return Err(bad());
        }
        Ok(version)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// An argument condition (the OCI type has a builder but no setters).
fn seccomp_arg(
    index: usize,
    op: LinuxSeccompOperator,
    value: u64,
    value_two: Option<u64>,
) -> LinuxSeccompArg {
    let mut builder = LinuxSeccompArgBuilder::default()
        .index(index)
        .op(op)
        .value(value);
    if let Some(two) = value_two {
        builder = builder.value_two(two);
    }
    // Every field has a default, so building cannot fail.
    builder.build().unwrap_or_default()
}

/// `CAP_X` for `X` or `CAP_X`, upper case.
fn cap_name(cap: &str) -> String {
    let cap = cap.to_ascii_uppercase();
    if cap.starts_with("CAP_") {
        cap
    } else {
        format!("CAP_{cap}")
    }
}

/// How Docker names a host architecture in `includes.arches`/`excludes.arches` (Go's
/// architecture names through libseccomp's, as moby's `goToNative` maps them).
fn docker_arch_name(arch: Arch) -> Option<&'static str> {
    Some(match arch {
        Arch::ScmpArchX86 => "x86",
        Arch::ScmpArchX86_64 => "amd64",
        Arch::ScmpArchX32 => "x32",
        Arch::ScmpArchArm => "arm",
        Arch::ScmpArchAarch64 => "arm64",
        Arch::ScmpArchLoongarch64 => "loongarch64",
        Arch::ScmpArchMips64 => "mips64",
        Arch::ScmpArchMips64n32 => "mips64n32",
        Arch::ScmpArchMipsel64 => "mipsel64",
        Arch::ScmpArchMipsel64n32 => "mips3l64n32",
        Arch::ScmpArchMipsel => "mipsel",
        Arch::ScmpArchPpc => "ppc",
        Arch::ScmpArchPpc64 => "ppc64",
        Arch::ScmpArchPpc64le => "ppc64le",
        Arch::ScmpArchRiscv64 => "riscv64",
        Arch::ScmpArchS390 => "s390",
        Arch::ScmpArchS390x => "s390x",
        _ => return None,
    })
}

/// The architecture names `includes.arches`/`excludes.arches` may use: the host names
/// above and the other names of moby's tables (`mips`, `mipsle`, `loong64`).
const FILTER_ARCHES: &[&str] = &[
    "x86",
    "amd64",
    "x32",
    "arm",
    "arm64",
    "loongarch64",
    "loong64",
    "mips",
    "mipsle",
    "mipsel",
    "mips64",
    "mips64n32",
    "mipsel64",
    "mips3l64n32",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv64",
    "s390",
    "s390x",
];

/// Whether any Linux architecture has a syscall of this name.
fn known_syscall(name: &str) -> bool {
    // libseccomp's names for ARM's private syscalls (__ARM_NR_*), in no table below.
    const ARM_PRIVATE: &[&str] = &["breakpoint", "cacheflush", "set_tls", "usr26", "usr32"];
    ARM_PRIVATE.contains(&name)
        || name.parse::<syscalls::x86_64::Sysno>().is_ok()
        || name.parse::<syscalls::x86::Sysno>().is_ok()
        || name.parse::<syscalls::aarch64::Sysno>().is_ok()
        || name.parse::<syscalls::arm::Sysno>().is_ok()
        || name.parse::<syscalls::riscv64::Sysno>().is_ok()
        || name.parse::<syscalls::s390x::Sysno>().is_ok()
        || name.parse::<syscalls::powerpc::Sysno>().is_ok()
        || name.parse::<syscalls::powerpc64::Sysno>().is_ok()
        || name.parse::<syscalls::mips::Sysno>().is_ok()
        || name.parse::<syscalls::mips64::Sysno>().is_ok()
        || name.parse::<syscalls::loongarch64::Sysno>().is_ok()
}

/// The document as serde reads it: names kept as strings so that checking can say which
/// one is wrong and where.
mod doc {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Profile {
        pub default_action: Option<String>,
        pub default_errno_ret: Option<u32>,
        pub architectures: Option<Vec<String>>,
        pub arch_map: Option<Vec<ArchMap>>,
        pub flags: Option<Vec<String>>,
        pub listener_path: Option<std::path::PathBuf>,
        pub listener_metadata: Option<String>,
        pub syscalls: Option<Vec<Syscall>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct ArchMap {
        pub architecture: String,
        pub sub_architectures: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Syscall {
        pub name: Option<String>,
        pub names: Option<Vec<String>>,
        pub action: Option<String>,
        pub errno_ret: Option<u32>,
        pub args: Option<Vec<Arg>>,
        pub includes: Option<Filter>,
        pub excludes: Option<Filter>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Arg {
        pub index: usize,
        pub value: u64,
        pub value_two: Option<u64>,
        pub op: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Filter {
        pub caps: Option<Vec<String>>,
        pub arches: Option<Vec<String>>,
        pub min_kernel: Option<String>,
    }
}

/// An OCI enum from its spec spelling (`SCMP_ACT_ALLOW`), through its serde names.
fn oci_name<T: for<'de> Deserialize<'de>>(name: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

fn check_arch(name: &str, at: &str) -> std::result::Result<Arch, String> {
    match oci_name::<Arch>(name) {
        Some(Arch::ScmpArchNative) | None => Err(format!(
            "{at}: unknown architecture {name:?} (expected SCMP_ARCH_*)"
        )),
        Some(arch) => Ok(arch),
    }
}

impl doc::Profile {
    /// The checked profile, or what is wrong with the document.
    fn check(self) -> std::result::Result<Profile, String> {
        let default_action = self
            .default_action
            .map(|a| oci_name(&a).ok_or_else(|| format!("defaultAction: unknown action {a:?}")))
            .transpose()?;
        let architectures = self.architectures.unwrap_or_default();
        let arch_map = self.arch_map.unwrap_or_default();
        if !architectures.is_empty() && !arch_map.is_empty() {
            return Err("both architectures and archMap are given; use one".to_owned());
        }
        let architectures = architectures
            .iter()
            .enumerate()
            .map(|(i, a)| check_arch(a, &format!("architectures[{i}]")))
            .collect::<std::result::Result<_, _>>()?;
        let mut arches = Vec::new();
        for (i, entry) in arch_map.iter().enumerate() {
            let arch = check_arch(&entry.architecture, &format!("archMap[{i}].architecture"))?;
            let subs = entry
                .sub_architectures
                .iter()
                .flatten()
                .enumerate()
                .map(|(j, a)| check_arch(a, &format!("archMap[{i}].subArchitectures[{j}]")))
                .collect::<std::result::Result<_, _>>()?;
            arches.push((arch, subs));
        }
        let flags = self
            .flags
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, f)| {
                oci_name(f).ok_or_else(|| format!("flags[{i}]: unknown filter flag {f:?}"))
            })
            .collect::<std::result::Result<_, _>>()?;
        let rules = self
            .syscalls
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, s)| s.check(&format!("syscalls[{i}]")))
            .collect::<std::result::Result<_, _>>()?;
        Ok(Profile {
            default_action,
            default_errno_ret: self.default_errno_ret,
            architectures,
            arch_map: arches,
            flags,
            listener_path: self.listener_path,
            listener_metadata: self.listener_metadata,
            rules,
        })
    }
}

impl doc::Syscall {
    fn check(self, at: &str) -> std::result::Result<Rule, String> {
        let names = match (self.name, self.names) {
            (Some(_), Some(names)) if !names.is_empty() => {
                return Err(format!("{at}: both name and names are given; use one"))
            }
            (Some(name), _) => vec![name],
            (None, Some(names)) if !names.is_empty() => names,
            (None, _) => return Err(format!("{at}: no syscall names")),
        };
        for (j, name) in names.iter().enumerate() {
            if !known_syscall(name) {
                return Err(format!("{at}.names[{j}]: unknown syscall {name:?}"));
            }
        }
        let action = self
            .action
            .ok_or_else(|| format!("{at} ({}): no action", names[0]))?;
        let action = oci_name(&action)
            .ok_or_else(|| format!("{at} ({}): unknown action {action:?}", names[0]))?;
        let mut args = Vec::new();
        for (j, a) in self.args.into_iter().flatten().enumerate() {
            let here = || format!("{at}.args[{j}] ({})", names[0]);
            if a.index > 5 {
                return Err(format!("{}: index {} is not 0 to 5", here(), a.index));
            }
            let op = oci_name::<LinuxSeccompOperator>(&a.op)
                .ok_or_else(|| format!("{}: unknown operator {:?}", here(), a.op))?;
            args.push(seccomp_arg(a.index, op, a.value, a.value_two));
        }
        Ok(Rule {
            includes: check_filter(self.includes, &format!("{at}.includes"))?,
            excludes: check_filter(self.excludes, &format!("{at}.excludes"))?,
            names,
            action,
            errno_ret: self.errno_ret,
            args,
        })
    }
}

fn check_filter(filter: Option<doc::Filter>, at: &str) -> std::result::Result<Filter, String> {
    let Some(filter) = filter else {
        return Ok(Filter::default());
    };
    let caps = filter.caps.unwrap_or_default();
    for (i, cap) in caps.iter().enumerate() {
        let known = cap
            .strip_prefix("CAP_")
            .is_some_and(|c| super::CAPABILITIES.contains(&c));
        if !known {
            return Err(format!("{at}.caps[{i}]: unknown capability {cap:?}"));
        }
    }
    let arches = filter.arches.unwrap_or_default();
    for (i, arch) in arches.iter().enumerate() {
        if !FILTER_ARCHES.contains(&arch.as_str()) {
            return Err(format!(
                "{at}.arches[{i}]: unknown architecture {arch:?} (expected Docker's names: {})",
                FILTER_ARCHES.join(", ")
            ));
        }
    }
    let min_kernel = filter
        .min_kernel
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().map_err(|e| format!("{at}.minKernel: {e}")))
        .transpose()?;
    Ok(Filter {
        caps,
        arches,
        min_kernel,
    })
}

#[cfg(test)]
mod tests;
