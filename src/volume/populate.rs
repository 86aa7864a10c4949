//! Copying an image's content at a mount point into an empty volume.
//!
//! The walk goes through directory fds (`openat` with `O_NOFOLLOW`, `*at` calls relative to
//! the parent's fd): a symlink anywhere in the source is read as a link and recreated as
//! one, never followed, and every entry is created with `O_EXCL`/`mkdirat` under the
//! destination's fd, so nothing can be written outside it.
//!
//! The source is a directory ([`Source::Dir`]: the mount point in a mounted root) or the
//! mount point's directories in the layers of a root nobody mounted on the host
//! ([`Source::Layers`]: a rootless container's), merged here as overlayfs merges them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};

use crate::{Error, Result};

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What a volume is filled from: the image's content at its mount point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A directory: the mount point in the container's mounted root.
    Dir(PathBuf),
    /// The mount point's directory in each layer that shows it, top first, merged as
    /// overlayfs merges them: a whiteout (a 0/0 character device) hides the entries of its
    /// name in the layers below, an opaque directory (`trusted.overlay.opaque` or
    /// `user.overlay.opaque` set to `y`) everything below it, and a directory of an upper
    /// layer hides lower non-directories of its name (and the reverse). What the caller
    /// gives must be the layers below the first that hides the mount point itself.
    Layers(Vec<PathBuf>),
}

/// Copies the content of `src` into the (empty) directory `dst`, then gives `dst` the mode,
/// owner and xattrs of `src` (its top layer's directory). Returns false, copying nothing,
/// when `src` is missing, not a directory, or empty.
pub(super) fn copy(src: &Source, dst: &Path) -> Result<bool> {
    match src {
        Source::Dir(dir) => copy_tree(dir, dst),
        Source::Layers(layers) => copy_layers(layers, dst),
    }
}

/// [`copy`] from the layers `layers` (top first, see [`Source::Layers`]).
fn copy_layers(layers: &[PathBuf], dst: &Path) -> Result<bool> {
    let Some(top) = layers.first() else {
        return Ok(false);
    };
    let mut fds = Vec::with_capacity(layers.len());
    for l in layers {
        match rustix::fs::open(l, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => fds.push((fd, l.clone())),
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) if e == rustix::io::Errno::NOTDIR || e == rustix::io::Errno::LOOP => {
                // not a directory there: it hides the layers below
                break;
            }
            Err(e) => return Err(Error::os("opening volume source", l, e.into())),
        }
    }
    let Some((top_fd, _)) = fds.first() else {
        return Ok(false);
    };
    let top_fd = rustix::io::fcntl_dupfd_cloexec(top_fd, 0)
        .map_err(|e| Error::os("duplicating fd of", top, e.into()))?;
    if merged_entries(&fds)?.is_empty() {
        return Ok(false);
    }
    fill(&top_fd, top, dst, |copier, dst_fd| {
        copier.merged_dir(fds, dst_fd, dst)
    })
}

/// Opens the volume directory `dst`, lets `copy` fill it, then gives it the mode, owner and
/// xattrs of the source directory `src_fd` (`src` in errors); true.
fn fill(
    src_fd: &OwnedFd,
    src: &Path,
    dst: &Path,
    copy: impl FnOnce(&mut Copier, &OwnedFd) -> Result<()>,
) -> Result<bool> {
    let dst_fd = rustix::fs::open(dst, DIR_FLAGS, Mode::empty())
        .map_err(|e| Error::os("opening volume", dst, e.into()))?;
    let mut copier = Copier {
        links: HashMap::new(),
        root: geteuid_is_root(),
    };
    copy(&mut copier, &dst_fd)?;
    let st = rustix::fs::fstat(src_fd).map_err(|e| Error::os("stat", src, e.into()))?;
    copier
        .attrs_fd(src_fd, &dst_fd, &st)
        .map_err(|e| Error::os("copying attributes to", dst, e))?;
    Ok(true)
}

/// The directory of one layer: its fd and its path (for errors).
type LayerDir = (OwnedFd, PathBuf);

/// The entries of the directories `dirs` (one per layer, top first) merged: by name, the
/// index of the layer whose entry shows (see [`Source::Layers`]).
fn merged_entries(dirs: &[LayerDir]) -> Result<BTreeMap<CString, usize>> {
    let mut out = BTreeMap::new();
    let mut hidden = HashSet::new();
    for (i, (fd, path)) in dirs.iter().enumerate() {
        let names: Vec<CString> = rustix::fs::Dir::read_from(fd)
            .map_err(|e| Error::os("reading", path, e.into()))?
            .map(|e| e.map(|e| e.file_name().to_owned()))
            .collect::<rustix::io::Result<_>>()
            .map_err(|e| Error::os("reading", path, e.into()))?;
        for name in names {
            if is_dot(&name) || out.contains_key(&name) || hidden.contains(&name) {
                continue;
            }
            let st = rustix::fs::statat(fd, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| Error::os("stat", path.join(os(&name)), e.into()))?;
            let ft = FileType::from_raw_mode(st.st_mode);
            if is_whiteout(ft, st.st_rdev) {
                hidden.insert(name);
                continue;
            }
            if ft != FileType::Directory {
                // lower entries of its name do not show through it
                hidden.insert(name.clone());
            }
            out.insert(name, i);
        }
        if is_opaque(fd) {
            break;
        }
    }
    Ok(out)
}

/// A 0/0 character device: overlayfs's whiteout.
fn is_whiteout(ft: FileType, rdev: u64) -> bool {
    ft == FileType::CharacterDevice && rdev == 0
}

/// The directory `fd` is marked opaque (as root, or in a user namespace).
fn is_opaque(fd: &OwnedFd) -> bool {
    ["trusted.overlay.opaque", "user.overlay.opaque"]
        .iter()
        .any(|name| {
            let mut v = [0u8; 4];
            matches!(rustix::fs::fgetxattr(fd, *name, &mut v[..]), Ok(1) if v[0] == b'y')
        })
}

/// Copies the content of `src` into the (empty) directory `dst`, then gives `dst` the mode,
/// owner and xattrs of `src`. Returns false, copying nothing, when `src` is missing, not a
/// directory, or empty.
fn copy_tree(src: &Path, dst: &Path) -> Result<bool> {
    let src_fd = match rustix::fs::open(src, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(e)
            if e == rustix::io::Errno::NOENT
                || e == rustix::io::Errno::NOTDIR
                || e == rustix::io::Errno::LOOP =>
        {
            return Ok(false)
        }
        Err(e) => return Err(Error::os("opening volume source", src, e.into())),
    };
    let has_entries = rustix::fs::Dir::read_from(&src_fd)
        .map_err(|e| Error::os("reading", src, e.into()))?
        .filter_map(|e| e.ok())
        .any(|e| !is_dot(e.file_name()));
    if !has_entries {
        return Ok(false);
    }
    fill(&src_fd, src, dst, |copier, dst_fd| {
        copier.dir(&src_fd, dst_fd, src, dst)
    })
}

fn geteuid_is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn is_dot(name: &CStr) -> bool {
    name == c"." || name == c".."
}

struct Copier {
    /// (dev, ino) of a source file with several links → its first copy, for `linkat`.
    links: HashMap<(u64, u64), (OwnedFd, CString)>,
    root: bool,
}

impl Copier {
    fn dir(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        src_path: &Path,
        dst_path: &Path,
    ) -> Result<()> {
        let mut names: Vec<CString> = rustix::fs::Dir::read_from(src)
            .map_err(|e| Error::os("reading", src_path, e.into()))?
            .map(|e| e.map(|e| e.file_name().to_owned()))
            .collect::<rustix::io::Result<_>>()
            .map_err(|e| Error::os("reading", src_path, e.into()))?;
        names.retain(|n| !is_dot(n));
        names.sort();
        for name in names {
            let sp = src_path.join(os(&name));
            let dp = dst_path.join(os(&name));
            self.entry(src, dst, &name, &sp, &dp)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        src: &OwnedFd,
        dst: &OwnedFd,
        name: &CStr,
        sp: &Path,
        dp: &Path,
    ) -> Result<()> {
        let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| Error::os("stat", sp, e.into()))?;
        let ft = FileType::from_raw_mode(st.st_mode);
        let key = (st.st_dev, st.st_ino);
        if ft != FileType::Directory && st.st_nlink > 1 {
            if let Some((dirfd, first)) = self.links.get(&key) {
                return rustix::fs::linkat(dirfd, first.as_c_str(), dst, name, AtFlags::empty())
                    .map_err(|e| Error::os("linking", dp, e.into()));
            }
        }
        let err = |op: &'static str| move |e: io::Error| Error::os(op, dp, e);
        match ft {
            FileType::Directory => {
                rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))
                    .map_err(|e| Error::os("creating", dp, e.into()))?;
                let s = open_at(src, name, DIR_FLAGS, sp)?;
                let d = open_at(dst, name, DIR_FLAGS, dp)?;
                self.dir(&s, &d, sp, dp)?;
                // After the content, so the copy's mtime is the source's.
                self.attrs_fd(&s, &d, &st)
                    .map_err(err("copying attributes to"))?;
            }
            FileType::RegularFile => {
                let s = open_at(src, name, OFlags::RDONLY, sp)?;
                let d = crate::image::unpack::create_new(dst, name)
                    .map_err(|e| Error::os("creating", dp, e.into()))?;
                let (s, d) = (File::from(s), File::from(d));
                io::copy(&mut &s, &mut &d).map_err(err("copying"))?;
                let (s, d) = (OwnedFd::from(s), OwnedFd::from(d));
                self.attrs_fd(&s, &d, &st)
                    .map_err(err("copying attributes to"))?;
            }
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(src, name, Vec::new())
                    .map_err(|e| Error::os("reading link", sp, e.into()))?;
                rustix::fs::symlinkat(target.as_c_str(), dst, name)
                    .map_err(|e| Error::os("creating link", dp, e.into()))?;
                if self.root {
                    rustix::fs::chownat(
                        dst,
                        name,
                        Some(rustix::fs::Uid::from_raw(st.st_uid)),
                        Some(rustix::fs::Gid::from_raw(st.st_gid)),
                        AtFlags::SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| Error::os("changing owner of", dp, e.into()))?;
                }
                rustix::fs::utimensat(dst, name, &times(&st), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| Error::os("setting times of", dp, e.into()))?;
            }
            FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
                match rustix::fs::mknodat(
                    dst,
                    name,
                    ft,
                    Mode::from_raw_mode(st.st_mode & 0o7777),
                    st.st_rdev,
                ) {
                    Ok(()) => {}
                    // devices need CAP_MKNOD; as an image unpacked unprivileged, skip them
                    Err(rustix::io::Errno::PERM) if ft != FileType::Fifo => return Ok(()),
                    Err(e) => return Err(Error::os("creating", dp, e.into())),
                }
                let d = open_at(dst, name, OFlags::PATH, dp)?;
                // O_PATH fds take no fchown/fchmod: go through /proc/self/fd
                let via = PathBuf::from(format!("/proc/self/fd/{}", fd_num(&d)));
                if self.root {
                    rustix::fs::chown(
                        &via,
                        Some(rustix::fs::Uid::from_raw(st.st_uid)),
                        Some(rustix::fs::Gid::from_raw(st.st_gid)),
                    )
                    .map_err(|e| Error::os("changing owner of", dp, e.into()))?;
                }
                rustix::fs::chmod(&via, Mode::from_raw_mode(st.st_mode & 0o7777))
                    .map_err(|e| Error::os("changing mode of", dp, e.into()))?;
                rustix::fs::utimensat(dst, name, &times(&st), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| Error::os("setting times of", dp, e.into()))?;
            }
            // Sockets belong to a process that is not running here.
            _ => return Ok(()),
        }
        if ft != FileType::Directory && st.st_nlink > 1 {
            let dirfd = rustix::io::fcntl_dupfd_cloexec(dst, 0)
                .map_err(|e| Error::os("duplicating fd of", dp, e.into()))?;
            self.links.insert(key, (dirfd, name.to_owned()));
        }
        Ok(())
    }

    /// Copies the merged content of the layer directories `dirs` (top first) into `dst`:
    /// a directory from the layers that have it below the one that shows it (up to one that
    /// hides what is under it), anything else from the layer that shows it.
    fn merged_dir(&mut self, dirs: Vec<LayerDir>, dst: &OwnedFd, dst_path: &Path) -> Result<()> {
        for (name, shown) in merged_entries(&dirs)? {
            let (fd, path) = &dirs[shown];
            let sp = path.join(os(&name));
            let dp = dst_path.join(os(&name));
            let st = rustix::fs::statat(fd, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)
                .map_err(|e| Error::os("stat", &sp, e.into()))?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                self.entry(fd, dst, &name, &sp, &dp)?;
                continue;
            }
            // the directory in each layer from the one that shows it down, until a layer
            // has something else there (a whiteout, a file) or marks it opaque
            let mut subdirs = Vec::new();
            for (fd, path) in &dirs[shown..] {
                let sp = path.join(os(&name));
                let st = match rustix::fs::statat(fd, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) => st,
                    Err(rustix::io::Errno::NOENT) => continue,
                    Err(e) => return Err(Error::os("stat", &sp, e.into())),
                };
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    break;
                }
                let sub = open_at(fd, &name, DIR_FLAGS, &sp)?;
                let opaque = is_opaque(&sub);
                subdirs.push((sub, sp));
                if opaque {
                    break;
                }
            }
            let top = rustix::io::fcntl_dupfd_cloexec(&subdirs[0].0, 0)
                .map_err(|e| Error::os("duplicating fd of", &sp, e.into()))?;
            rustix::fs::mkdirat(dst, name.as_c_str(), Mode::from_raw_mode(0o700))
                .map_err(|e| Error::os("creating", &dp, e.into()))?;
            let d = open_at(dst, &name, DIR_FLAGS, &dp)?;
            self.merged_dir(subdirs, &d, &dp)?;
            // after the content, so the copy's mtime is the source's
            self.attrs_fd(&top, &d, &st)
                .map_err(|e| Error::os("copying attributes to", &dp, e))?;
        }
        Ok(())
    }

    /// Owner, mode, xattrs, then times, from `src` to `dst` (both open fds).
    fn attrs_fd(&self, src: &OwnedFd, dst: &OwnedFd, st: &rustix::fs::Stat) -> io::Result<()> {
        if self.root {
            rustix::fs::fchown(
                dst,
                Some(rustix::fs::Uid::from_raw(st.st_uid)),
                Some(rustix::fs::Gid::from_raw(st.st_gid)),
            )?;
        }
        // After chown, which clears set-id bits.
        rustix::fs::fchmod(dst, Mode::from_raw_mode(st.st_mode & 0o7777))?;
        copy_xattrs(src, dst);
        rustix::fs::futimens(dst, &times(st))?;
        Ok(())
    }
}

/// Copies the xattrs the destination accepts; overlayfs' own are never copied.
/// Opens `name` in the directory `dir` with `flags`, never following a symlink; `path`
/// names it in the error.
fn open_at(dir: &OwnedFd, name: &CStr, flags: OFlags, path: &Path) -> Result<OwnedFd> {
    let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    rustix::fs::openat(dir, name, flags, Mode::empty())
        .map_err(|e| Error::os("opening", path, e.into()))
}

fn copy_xattrs(src: impl AsFd, dst: impl AsFd) {
    let mut list = vec![0u8; 4096];
    let Ok(n) = rustix::fs::flistxattr(&src, &mut list[..]) else {
        return;
    };
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
            continue;
        }
        let Ok(name) = CString::new(name) else {
            continue;
        };
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::fgetxattr(&src, name.as_c_str(), &mut value[..]) {
            let _ = rustix::fs::fsetxattr(
                &dst,
                name.as_c_str(),
                &value[..len],
                rustix::fs::XattrFlags::empty(),
            );
        }
    }
}

fn times(st: &rustix::fs::Stat) -> Timestamps {
    Timestamps {
        last_access: Timespec {
            tv_sec: st.st_atime as _,
            tv_nsec: st.st_atime_nsec as _,
        },
        last_modification: Timespec {
            tv_sec: st.st_mtime as _,
            tv_nsec: st.st_mtime_nsec as _,
        },
    }
}

fn fd_num(fd: &OwnedFd) -> i32 {
    use std::os::fd::AsRawFd;
    fd.as_raw_fd()
}

fn os(name: &CStr) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(name.to_bytes())
}
