//! A container's root file system: an overlay of the image's layers with a per-container
//! upper dir, the `/etc` files Docker writes for a container, and lookups inside the
//! merged tree that never leave it (`openat2` with `RESOLVE_IN_ROOT`).

use std::fs;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::sys::overlay;
use crate::volume::Source;
use crate::{Error, Result};

/// `rootfs/`, `upper/`, `work/` of a container directory.
pub(crate) fn rootfs(dir: &Path) -> PathBuf {
    dir.join("rootfs")
}
pub(crate) fn upper(dir: &Path) -> PathBuf {
    dir.join("upper")
}
pub(crate) fn work(dir: &Path) -> PathBuf {
    dir.join("work")
}

/// Creates `rootfs/`, `upper/` and `work/` and mounts the overlay of `lower` (top layer
/// first) at `rootfs/`. A `volatile` overlay never syncs its upper dir (for containers
/// removed when they exit: their upper dir is never mounted again); a kernel without the
/// option gets a plain overlay.
///
/// # Errors
/// [`Error::Os`] naming the directory or the mount point.
///
/// Rootless, nothing is mounted on the host (a user may not): the layers are written to
/// `lower` and the runtime mounts the overlay in the container's own user and mount
/// namespaces ([`overlay_root`]); lookups in the merged tree read the layers
/// ([`open_in`]).
pub(crate) fn mount(dir: &Path, lower: &[PathBuf], volatile: bool) -> Result<()> {
    let (root, up, wk) = (rootfs(dir), upper(dir), work(dir));
    for d in [&root, &up, &wk] {
        match fs::create_dir(d) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(Error::os("creating container directory", d, e))
            }
            _ => {}
        }
    }
    // The upper dir's root becomes the merged root: let every user traverse it, as an
    // image root is.
    let _ = fs::set_permissions(&up, fs::Permissions::from_mode(0o755));
    if crate::paths::rootless() {
        let list = dir.join(LOWER);
        let data = serde_json::to_vec(lower).expect("paths serialise");
        return crate::store::write_replace(&list, &data, false);
    }
    let opts = overlay::options(lower, Some((&up, &wk)))
        .map_err(|e| Error::os("building overlay options for", &root, e))?;
    // A volatile overlay, once unmounted, leaves `work/work/incompat/volatile`, which
    // makes the kernel refuse any later mount of the same dirs (a container made by
    // `create` with `auto_remove` is mounted again at its start); nothing is mounted
    // here now, so removing it is the kernel's documented way to reuse them.
    match fs::remove_dir_all(wk.join("work").join("incompat").join("volatile")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            return Err(Error::os("clearing the volatile overlay's mark in", &wk, e))
        }
        _ => {}
    }
    if volatile {
        match overlay::mount(&root, &format!("{opts}{}", overlay::VOLATILE)) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            r => return r.map_err(|e| Error::os("mounting overlay at", &root, e)),
        }
    }
    overlay::mount(&root, &opts).map_err(|e| Error::os("mounting overlay at", &root, e))
}

/// Unmounts the overlay at `rootfs/` (lazily if busy); not mounted is fine.
///
/// # Errors
/// [`Error::Os`] naming the mount point.
pub(crate) fn unmount(dir: &Path) -> Result<()> {
    let root = rootfs(dir);
    if dir.join(LOWER).exists() {
        // rootless: mounted in the container's namespaces only. The kernel leaves the
        // overlay's own `work/work` mode 000: make it removable.
        let _ = fs::set_permissions(work(dir).join("work"), fs::Permissions::from_mode(0o700));
        return Ok(());
    }
    match overlay::unmount(&root, false) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => overlay::unmount(&root, true),
        r => r,
    }
    .map_err(|e| Error::os("unmounting overlay at", &root, e))
}

/// Whether `dir` is a mount point (its device differs from its parent's).
pub(crate) fn is_mountpoint(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(dir), dir.parent().map(fs::metadata)) {
        (Ok(d), Some(Ok(p))) => d.dev() != p.dev(),
        _ => false,
    }
}

/// Where the merged tree of the container in `dir` is reached from the host: its
/// `rootfs/` while the overlay is mounted there (or the container is rootless: its layers
/// are read, see [`open_in`]); else the root of its running init `pid`, whose mount
/// namespace alone holds the overlay (an attached container's, see [`detach_from_host`]).
pub(crate) fn merged(dir: &Path, pid: Option<i32>) -> PathBuf {
    let root = rootfs(dir);
    match pid {
        Some(pid) if pid > 0 && !dir.join(LOWER).exists() && !is_mountpoint(&root) => {
            PathBuf::from(format!("/proc/{pid}/root"))
        }
        _ => root,
    }
}

/// Unmounts the overlay of a started container from the host (lazily): the copy in the
/// container's own mount namespace (private, see [`overlay::mount`]) stays, and goes when
/// the container's last process does — whatever ends the program that owns it. What the
/// engine reads of the tree from then on comes through [`merged`].
pub(crate) fn detach_from_host(dir: &Path) {
    if !dir.join(LOWER).exists() {
        let _ = overlay::unmount(&rootfs(dir), true);
    }
}

/// The file of a rootless container's directory that lists its lower layers (top first,
/// JSON): the overlay is mounted by the runtime in the container's namespaces, never on
/// the host.
const LOWER: &str = "lower";

/// The overlay options a rootless container's runtime mounts its root with
/// ([`crate::runtime::OVERLAY_ROOT_ANNOTATION`]); `None` for a container whose overlay the
/// engine mounts on the host.
///
/// # Errors
/// [`Error::Os`] naming the layer list if it cannot be read.
pub(crate) fn overlay_root(dir: &Path) -> Result<Option<String>> {
    let Some(lower) = lower_layers(dir) else {
        return Ok(None);
    };
    let opts = overlay::options(&lower, Some((&upper(dir), &work(dir))))
        .map_err(|e| Error::os("building overlay options for", rootfs(dir), e))?;
    // whiteouts and opaque markers as a user may write them (the store's layers too)
    Ok(Some(format!("{opts},userxattr")))
}

/// The value of [`crate::runtime::OVERLAY_ROOT_ANNOTATION`] for the options
/// [`overlay_root`] made: with the driver of [`OVERLAY_DRIVER_ENV`] when it is set, as the
/// option `x-driver=` (the runtime checks the name; the kernel never sees it).
pub(crate) fn with_overlay_driver(mut opts: String) -> String {
    if let Some(driver) = std::env::var_os(OVERLAY_DRIVER_ENV) {
        opts.push_str(",x-driver=");
        opts.push_str(&driver.to_string_lossy());
    }
    opts
}

/// The environment variable that picks how a rootless container's overlay is mounted:
/// `auto` (the default: the kernel's overlayfs, fuse-overlayfs where the kernel refuses
/// it, as before Linux 5.11), `native` or `fuse-overlayfs` (always; on a new kernel, the
/// way to use or test the fallback). Read when the container is created; the runtime gets
/// it as the `x-driver=` option of [`crate::runtime::OVERLAY_ROOT_ANNOTATION`].
pub(crate) const OVERLAY_DRIVER_ENV: &str = "CARGOHOLD_OVERLAY";

/// Mounts a rootless container's overlay (`opts`, see [`overlay_root`]) at `root` in a
/// new mount namespace of this process, where nothing else sees it and it goes with the
/// process: what the rootless store's helper does to reach a stopped container's files
/// (see [`crate::userns`]). This process must be single-threaded and root of a user
/// namespace.
pub(crate) fn mount_private_overlay(root: &Path, opts: &str) -> Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstr = |s: &[u8]| {
        CString::new(s)
            .map_err(|_| Error::os("mounting", root, io::Error::from_raw_os_error(libc::EINVAL)))
    };
    let target = cstr(root.as_os_str().as_bytes())?;
    let data = cstr(opts.as_bytes())?;
    let os = |op: &str, path: &Path| {
        let op = op.to_owned();
        let path = path.to_owned();
        move |e: crate::sys::raw::Errno| Error::os(op, path, io::Error::from_raw_os_error(e))
    };
    crate::sys::raw::unshare(libc::CLONE_NEWNS)
        .map_err(os("unsharing the mount namespace for", root))?;
    crate::sys::raw::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None)
        .map_err(os("making the mounts private for", root))?;
    crate::sys::raw::mount(Some(c"overlay"), &target, Some(c"overlay"), 0, Some(&data))
        .map_err(os("mounting the overlay of", root))
}

/// The lower layers of a rootless container (see [`LOWER`]).
fn lower_layers(dir: &Path) -> Option<Vec<PathBuf>> {
    let data = fs::read(dir.join(LOWER)).ok()?;
    serde_json::from_slice(&data).ok()
}

/// The merged tree of a rootless container read from its layers (upper first), when
/// `root` is one's `rootfs/`.
fn layered(root: &Path) -> Option<(PathBuf, super::changes::Stack)> {
    let dir = root.parent()?;
    let mut layers = lower_layers(dir)?;
    layers.insert(0, upper(dir));
    Some((upper(dir), super::changes::Stack::new(layers)))
}

/// Opens `path` inside `root` as the container would see it (symlinks resolved in the root).
/// A rootless container's tree is resolved through its layers (see [`mount`]).
pub(crate) fn open_in(root: &Path, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
    if let Some((_, stack)) = layered(root) {
        let follow = !flags.contains(OFlags::NOFOLLOW);
        let (_, entry) = stack
            .resolve(path, follow)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        return Ok(rustix::fs::open(
            &entry.host,
            flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?);
    }
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    Ok(rustix::fs::openat2(
        &dir,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// The host path of directory `path` inside `root`, resolved as the container would see it
/// (symlinks resolved in the root, never leaving it); `None` if it is missing or not a
/// directory.
pub(crate) fn resolve_dir_in(root: &Path, path: &str) -> Option<PathBuf> {
    if let Some((_, stack)) = layered(root) {
        // rootless: the directory in the top layer that has it
        let (_, entry) = stack.resolve(path, true)?;
        return entry.meta.is_dir().then_some(entry.host);
    }
    let fd = open_in(root, path, OFlags::PATH | OFlags::DIRECTORY).ok()?;
    // The kernel's name for what the descriptor points to: a path without symlinks.
    let real = fs::read_link(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .ok()?;
    if real.starts_with(root) {
        return Some(real);
    }
    // A running container's root reached through `/proc/<pid>/root` (see [`merged`]): the
    // kernel names the directory from that mount namespace's root.
    let rel = real.strip_prefix("/").ok()?;
    let in_proc = root.starts_with("/proc") && root.ends_with("root");
    in_proc.then(|| root.join(rel))
}

/// What a volume mounted at `path` is filled from: the image's directory there as the
/// container would see it (see [`resolve_dir_in`]); for a rootless container, whose tree is
/// not mounted on the host, that directory in each of its layers, to be merged (see
/// [`Source::Layers`]). `None` if it is missing or not a directory.
pub(crate) fn volume_source(root: &Path, path: &str) -> Option<Source> {
    if let Some((_, stack)) = layered(root) {
        let (canon, entry) = stack.resolve(path, true)?;
        return entry
            .meta
            .is_dir()
            .then(|| Source::Layers(stack.dirs_at(&canon)));
    }
    resolve_dir_in(root, path).map(Source::Dir)
}

/// The content of a text file inside `root`; a missing file reads as empty.
pub(crate) fn read_in(root: &Path, path: &str) -> String {
    let Ok(fd) = open_in(root, path, OFlags::RDONLY) else {
        return String::new();
    };
    let mut s = String::new();
    let _ = fs::File::from(fd).take(4 << 20).read_to_string(&mut s);
    s
}

/// Why a command cannot run, in Docker's words, and its exit code.
pub(crate) fn check_command(
    root: &Path,
    arg0: &str,
    path_env: Option<&str>,
    cwd: &str,
) -> Option<(String, i32)> {
    let candidates: Vec<String> = if arg0.contains('/') {
        if arg0.starts_with('/') {
            vec![arg0.to_owned()]
        } else {
            vec![format!("{}/{arg0}", cwd.trim_end_matches('/'))]
        }
    } else {
        path_env
            .unwrap_or("")
            .split(':')
            .map(|d| {
                let d = if d.is_empty() { "." } else { d };
                if d.starts_with('/') {
                    format!("{}/{arg0}", d.trim_end_matches('/'))
                } else {
                    format!("{}/{d}/{arg0}", cwd.trim_end_matches('/'))
                }
            })
            .collect()
    };
    let mut denied = None;
    for c in &candidates {
        let Ok(fd) = open_in(root, c, OFlags::PATH) else {
            continue;
        };
        match rustix::fs::fstat(&fd) {
            Ok(st) => {
                let is_file = (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
                if is_file && st.st_mode & 0o111 != 0 {
                    return None;
                }
                if !arg0.contains('/') && !is_file {
                    continue;
                }
                denied = Some(c.clone());
            }
            Err(_) => continue,
        }
    }
    match denied {
        Some(_) => Some(("permission denied".to_owned(), 126)),
        None if arg0.contains('/') => {
            Some((format!("stat {arg0}: no such file or directory"), 127))
        }
        None => Some(("executable file not found in $PATH".to_owned(), 127)),
    }
}

/// Creates the working directory inside the merged root if it is missing (as Docker
/// does), owned by root.
pub(crate) fn ensure_dir_in(root: &Path, path: &str) -> io::Result<()> {
    if let Some((upper, stack)) = layered(root) {
        return ensure_dir_in_layers(&upper, &stack, path);
    }
    for (parent, cur, part) in dir_steps(path) {
        if open_in(root, &cur, OFlags::PATH).is_ok() {
            continue;
        }
        let dir = open_in(root, &parent, OFlags::PATH | OFlags::DIRECTORY)?;
        match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Each component of `path` with the path of its parent and its own, from the top:
/// `/a/b` gives `("/", "/a", "a")`, `("/a", "/a/b", "b")`.
fn dir_steps(path: &str) -> impl Iterator<Item = (String, String, &str)> {
    let mut cur = String::new();
    path.split('/').filter(|p| !p.is_empty()).map(move |part| {
        let parent = if cur.is_empty() {
            "/".to_owned()
        } else {
            cur.clone()
        };
        cur = format!("{cur}/{part}");
        (parent, cur.clone(), part)
    })
}

/// [`ensure_dir_in`] of a rootless container: what is missing is made in its upper dir,
/// below the canonical path of what exists (a link on the way is followed, not shadowed),
/// its parents in the upper dir with the modes the merged tree shows.
fn ensure_dir_in_layers(upper: &Path, stack: &super::changes::Stack, path: &str) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    for (parent, cur, part) in dir_steps(path) {
        if stack.resolve(&cur, true).is_some() {
            continue;
        }
        let canon = stack
            .resolve(&parent, true)
            .filter(|(_, e)| e.meta.is_dir())
            .map(|(canon, _)| canon)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        // the parent's chain in the upper dir, as overlayfs copies it up
        let mut at = upper.to_path_buf();
        let mut rel = PathBuf::new();
        for c in canon.iter() {
            rel.push(c);
            at.push(c);
            if !at.exists() {
                let mode = stack
                    .resolve(&format!("/{}", rel.display()), false)
                    .map_or(0o755, |(_, e)| e.meta.permissions().mode() & 0o7777);
                fs::DirBuilder::new().mode(mode).create(&at)?;
            }
        }
        match fs::DirBuilder::new().mode(0o755).create(at.join(part)) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Docker's `/etc/hosts` for a container without a network attachment.
pub(crate) fn hosts() -> String {
    "127.0.0.1\tlocalhost\n\
     ::1\tlocalhost ip6-localhost ip6-loopback\n\
     fe00::0\tip6-localnet\n\
     ff00::0\tip6-mcastprefix\n\
     ff02::1\tip6-allnodes\n\
     ff02::2\tip6-allrouters\n"
        .to_owned()
}

/// The host's `resolv.conf` without loopback name servers (unreachable from the container);
/// Google's servers if none remain, as Docker does.
pub(crate) fn resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some("nameserver") {
            let addr = words.next().unwrap_or("");
            if addr.starts_with("127.") || addr == "::1" {
                continue;
            }
            servers += 1;
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// Writes `hosts`, `hostname` and `resolv.conf` into the container directory (the spec
/// bind-mounts them over the image's files).
///
/// # Errors
/// [`Error::Os`] naming the file.
pub(crate) fn write_etc(dir: &Path, hostname: &str) -> Result<()> {
    let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, content) in [
        ("hosts", hosts()),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", resolv_conf(&host)),
    ] {
        let p = dir.join(name);
        fs::write(&p, content).map_err(|e| Error::os("writing", &p, e))?;
        let _ = fs::set_permissions(&p, fs::Permissions::from_mode(0o644));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback() {
        let r = resolv_conf("search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n");
        assert_eq!(r, "search lan\nnameserver 10.0.0.1\n");
        assert!(resolv_conf("nameserver 127.0.0.1\n").contains("8.8.8.8"));
    }

    #[test]
    fn lookups_stay_inside_the_root() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::create_dir_all(root.join("bin")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow-nope", root.join("etc/passwd")).unwrap();
        fs::write(root.join("etc/shadow-nope"), "inside").unwrap();
        assert_eq!(read_in(root, "/etc/passwd"), "inside");
        std::os::unix::fs::symlink("../../../../../../etc/hostname", root.join("etc/group"))
            .unwrap();
        assert_eq!(read_in(root, "/etc/group"), "");
        fs::write(root.join("bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join("bin/tool"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(root.join("bin/data"), "x").unwrap();
        assert_eq!(check_command(root, "tool", Some("/bin"), "/"), None);
        assert_eq!(
            check_command(root, "nope", Some("/bin"), "/").unwrap().1,
            127
        );
        assert_eq!(check_command(root, "/bin/data", None, "/").unwrap().1, 126);
        assert_eq!(check_command(root, "/bin/nope", None, "/").unwrap().1, 127);
        ensure_dir_in(root, "/srv/app").unwrap();
        assert!(root.join("srv/app").is_dir());
        let root = fs::canonicalize(root).unwrap();
        std::os::unix::fs::symlink("/srv/app", root.join("app")).unwrap();
        std::os::unix::fs::symlink("../../../../../../../tmp", root.join("out")).unwrap();
        assert_eq!(resolve_dir_in(&root, "/app"), Some(root.join("srv/app")));
        assert_eq!(resolve_dir_in(&root, "/out"), None);
        assert_eq!(resolve_dir_in(&root, "/bin/tool"), None);
        assert_eq!(resolve_dir_in(&root, "/nope"), None);
    }
}
