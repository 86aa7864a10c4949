//! fuse-overlayfs, the fallback of an overlay root ([`OVERLAY_ROOT_ANNOTATION`]) where the
//! kernel's overlayfs cannot be mounted in a user namespace (Linux before 5.11, or a
//! kernel without overlayfs).
//!
//! # Which driver
//! The annotation's options may end with `x-driver=<driver>` (an `x-` option: the kernel
//! never sees it):
//!
//! - `auto` (the default): the kernel's overlayfs; when its mount fails with `EPERM`,
//!   `EINVAL` or `ENODEV` (see [`fuse_fallback_errno`]), fuse-overlayfs if it is
//!   installed and the container has a pid namespace of its own.
//! - `native`: the kernel's overlayfs only.
//! - `fuse-overlayfs`: fuse-overlayfs only (the way to test the fallback on a new kernel;
//!   the engine asks for it when `CARGOHOLD_OVERLAY=fuse-overlayfs` is set).
//!
//! # Where the daemon lives
//! The container's init, single-threaded, in the container's user and mount namespaces
//! and before `pivot_root`, forks fuse-overlayfs (path and argv resolved here, in the
//! parent) and waits for that process: fuse-overlayfs mounts, daemonizes and the process
//! it started as exits 0 once the mount is up. So:
//!
//! - the daemon runs as root of the container's user namespace: files it creates in the
//!   upper dir get the ids the namespace maps (the user's and its subordinate ids);
//! - it runs in a mount namespace of its own, a copy of the container's made before
//!   `pivot_root`; its mount reaches the container's through a shared bind of the rootfs
//!   onto itself, made private once the mount is there. In the container's own mount
//!   namespace `pivot_root` would move the daemon's root to its own mount, and its next
//!   path lookup (it reads xattrs through `/proc/self/fd`) would wait on itself for good.
//!   Neither mount is on the host;
//! - it is a process of the container's pid namespace (which the fallback requires), the
//!   init's child: when the container's init dies, however it dies, the kernel kills it
//!   with the rest of the namespace, and its mount namespace and the container's go with
//!   their last processes. Nothing outlives the container.
//!
//! The price: the daemon is visible inside the container (`ps` shows `fuse-overlayfs`),
//! and root in the container may kill it, which leaves the container's own files failing
//! with `ENOTCONN`. Its mount namespace shows the host's tree as the container's did
//! before `pivot_root` (the user's view, rootless): a container given `CAP_SYS_PTRACE`
//! could reach it through `/proc/<daemon>/root` (the default capabilities cannot: the
//! daemon's are not a subset of theirs). A daemon outside the container's pid namespace (as podman runs it, in
//! its own rootless namespace) would be hidden, but would then need a keeper of its own
//! to be killed with the container (a pidfd watcher, a monitor that may itself be
//! SIGKILLed); the in-container daemon needs none.
//!
//! [`OVERLAY_ROOT_ANNOTATION`]: super::OVERLAY_ROOT_ANNOTATION
//! [`fuse_fallback_errno`]: crate::sys::process::fuse_fallback_errno

use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::sys::process::FusePlan;

/// The option of the overlay annotation that picks the driver.
pub(crate) const DRIVER_OPTION: &str = "x-driver=";

/// The fuse-overlayfs executable's name.
pub(crate) const PROGRAM: &str = "fuse-overlayfs";

/// How the overlay root is mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Driver {
    /// The kernel's overlayfs, fuse-overlayfs where the kernel refuses it.
    Auto,
    /// The kernel's overlayfs only.
    Native,
    /// fuse-overlayfs only.
    Fuse,
}

/// The overlay annotation's options taken apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// The mount data for the kernel's overlayfs (the `x-` options left out).
    pub native: String,
    /// The `-o` of fuse-overlayfs: `lowerdir`, `upperdir` and `workdir` alone (it refuses
    /// the kernel's `userxattr`, `volatile`, …), or `None` where it cannot take them.
    pub fuse: std::result::Result<String, String>,
    /// The driver asked for.
    pub driver: Driver,
}

/// Splits overlay mount data on the commas that no `\` escapes.
fn split(opts: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in opts.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                out.push(&opts[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&opts[start..]);
    out
}

/// Takes the annotation's options apart; the error says what is wrong with them.
pub(crate) fn parse(opts: &str) -> std::result::Result<Options, String> {
    let mut driver = Driver::Auto;
    let mut native = Vec::new();
    let mut fuse = Vec::new();
    let mut fuse_err = None;
    for o in split(opts) {
        if let Some(d) = o.strip_prefix(DRIVER_OPTION) {
            driver = match d {
                "auto" => Driver::Auto,
                "native" => Driver::Native,
                PROGRAM => Driver::Fuse,
                _ => {
                    return Err(format!(
                        "unknown overlay driver {d:?} (auto, native or {PROGRAM})"
                    ))
                }
            };
            continue;
        }
        if o.starts_with("x-") {
            continue;
        }
        native.push(o);
        let key = o.split('=').next().unwrap_or_default();
        if matches!(key, "lowerdir" | "upperdir" | "workdir") {
            // libfuse unescapes `\:` to `:`, which fuse-overlayfs (before 1.15) then takes
            // as a separator of lower dirs.
            if o.contains("\\:") {
                fuse_err = Some(format!("{PROGRAM} cannot take a path with ':' ({o:?})"));
            }
            fuse.push(o);
        }
    }
    Ok(Options {
        native: native.join(","),
        fuse: fuse_err.map_or_else(|| Ok(fuse.join(",")), Err),
        driver,
    })
}

/// fuse-overlayfs in `$PATH` (the runtime's), else in the usual places.
pub(crate) fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin", "/usr/local/bin", "/bin"].map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .map(|d| d.join(PROGRAM))
        .find(|p| p.is_file())
}

/// Why fuse-overlayfs cannot stand in: it is not installed.
pub(crate) fn missing() -> String {
    format!(
        "{PROGRAM} is not installed (Debian: apt-get install {PROGRAM}); the kernel's \
         overlayfs needs Linux 5.11 to be mounted in a user namespace"
    )
}

/// The plan that has the child run fuse-overlayfs at `program` with `options` (see
/// [`Options::fuse`]) on `rootfs`; `None` for a string with a NUL byte.
pub(crate) fn plan(
    program: &Path,
    options: &str,
    rootfs: &Path,
    fallback: bool,
) -> Option<FusePlan> {
    let c = |b: &[u8]| CString::new(b).ok();
    let args = vec![
        c(PROGRAM.as_bytes())?,
        c(b"-o")?,
        c(options.as_bytes())?,
        c(rootfs.as_os_str().as_bytes())?,
    ];
    let env = vec![c(format!("PATH={}", super::plan::DEFAULT_PATH).as_bytes())?];
    Some(FusePlan::new(
        c(program.as_os_str().as_bytes())?,
        args,
        env,
        fallback,
    ))
}

/// A file for fuse-overlayfs's output (see [`FusePlan::output`]); `None` if the kernel
/// makes none (the output then goes to the container's stdio).
pub(crate) fn output_file() -> Option<OwnedFd> {
    rustix::fs::memfd_create("fuse-overlayfs", rustix::fs::MemfdFlags::CLOEXEC).ok()
}

/// What fuse-overlayfs wrote to `output`, on one line (its last KiB).
pub(crate) fn message(output: Option<&OwnedFd>) -> String {
    let Some(fd) = output else {
        return String::new();
    };
    let mut buf = vec![0u8; 64 * 1024];
    let n = rustix::io::pread(fd, &mut buf[..], 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    let text = text.trim();
    let start = (text.len().saturating_sub(1024)..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[start..]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a wait `status` of fuse-overlayfs that did not mount says, with `message`, what it
/// printed.
pub(crate) fn exit_text(status: i32, message: &str) -> String {
    let said = if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    };
    if libc::WIFSIGNALED(status) {
        return format!(
            "{PROGRAM} was killed by signal {}{said}",
            libc::WTERMSIG(status)
        );
    }
    match libc::WEXITSTATUS(status) {
        127 => format!("{PROGRAM} could not be found in the container's mount namespace"),
        crate::sys::process::FUSE_EXIT_UNSHARE => {
            format!("{PROGRAM} could not be given a mount namespace of its own")
        }
        126 => format!("{PROGRAM} could not be executed"),
        code => format!("{PROGRAM} exited with status {code}{said}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTS: &str = "lowerdir=/l/b:/l/a,upperdir=/c/upper,workdir=/c/work,userxattr";

    #[test]
    fn the_default_is_auto_and_fuse_gets_the_dirs_alone() {
        let o = parse(OPTS).unwrap();
        assert_eq!(o.driver, Driver::Auto);
        assert_eq!(o.native, OPTS);
        assert_eq!(
            o.fuse.unwrap(),
            "lowerdir=/l/b:/l/a,upperdir=/c/upper,workdir=/c/work"
        );
    }

    #[test]
    fn the_driver_option_picks_and_never_reaches_the_kernel() {
        let o = parse(&format!("{OPTS},x-driver=fuse-overlayfs")).unwrap();
        assert_eq!(o.driver, Driver::Fuse);
        assert_eq!(o.native, OPTS);
        let o = parse(&format!("x-driver=native,{OPTS},x-other")).unwrap();
        assert_eq!(o.driver, Driver::Native);
        assert_eq!(o.native, OPTS);
        let e = parse(&format!("{OPTS},x-driver=fuse")).unwrap_err();
        assert_eq!(
            e,
            "unknown overlay driver \"fuse\" (auto, native or fuse-overlayfs)"
        );
    }

    #[test]
    fn escaped_commas_stay_in_their_path_and_colons_are_refused_for_fuse() {
        let o = parse(r"lowerdir=/l/a\,b,upperdir=/u,workdir=/w,volatile").unwrap();
        assert_eq!(o.fuse.unwrap(), r"lowerdir=/l/a\,b,upperdir=/u,workdir=/w");
        let o = parse(r"lowerdir=/l/a\:b,upperdir=/u,workdir=/w").unwrap();
        assert_eq!(o.native, r"lowerdir=/l/a\:b,upperdir=/u,workdir=/w");
        assert!(o.fuse.unwrap_err().contains("cannot take a path with ':'"));
    }

    #[test]
    fn the_plan_runs_it_on_the_rootfs() {
        let p = plan(
            Path::new("/usr/bin/fuse-overlayfs"),
            "lowerdir=/l",
            Path::new("/c/rootfs"),
            true,
        )
        .unwrap();
        assert_eq!(p.path.to_bytes(), b"/usr/bin/fuse-overlayfs");
        let args: Vec<_> = p.args().iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(args, ["fuse-overlayfs", "-o", "lowerdir=/l", "/c/rootfs"]);
        assert!(p.fallback);
        assert!(plan(Path::new("/x"), "a\0b", Path::new("/r"), false).is_none());
    }

    #[test]
    fn a_failed_run_says_how_it_ended_and_what_it_printed() {
        assert_eq!(
            exit_text(1 << 8, "fuse: device not found"),
            "fuse-overlayfs exited with status 1: fuse: device not found"
        );
        assert_eq!(exit_text(1 << 8, ""), "fuse-overlayfs exited with status 1");
        assert_eq!(
            exit_text(126 << 8, ""),
            "fuse-overlayfs could not be executed"
        );
        assert_eq!(exit_text(9, ""), "fuse-overlayfs was killed by signal 9");
        let out = output_file().unwrap();
        rustix::io::write(&out, b"unknown argument ignored: lazytime\ncannot mount\n").unwrap();
        assert_eq!(
            message(Some(&out)),
            "unknown argument ignored: lazytime cannot mount"
        );
        assert_eq!(message(None), "");
    }

    #[test]
    fn the_missing_program_is_named_with_its_package_and_the_kernel() {
        let m = missing();
        assert!(m.contains("apt-get install fuse-overlayfs"), "{m}");
        assert!(m.contains("Linux 5.11"), "{m}");
    }
}
