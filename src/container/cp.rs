//! Copying files out of and into a container (`docker cp`), running or not, as Docker's
//! archive API does: [`Container::copy_from`] writes a tar of a path whose top entry is
//! the path's base name, [`Container::copy_to`] extracts a tar into a directory;
//! [`Container::path_stat`] tells what a path is, so that a caller can apply `docker cp`'s
//! rules for trailing slashes and directories.
//!
//! Paths are taken inside the container's root (relative ones from `/`) and resolved there:
//! the parent directories with `openat2(RESOLVE_IN_ROOT)`, so a symlink in the container,
//! even an absolute one, never leads out of it; the last component is not followed unless
//! asked (`cp -L`). A path under a volume or bind mount is taken in that mount's source,
//! the rest in the container's overlay (mounted for the copy when the container is not
//! running, under the container's lock so that no start races it). A running container is
//! frozen for the copy, so that it cannot swap a directory for a symlink halfway (the
//! remedy Docker took for CVE-2018-15664); a rootless one without a cgroup to freeze has
//! its processes stopped with `SIGSTOP` instead (and continued after). A tmpfs mount is
//! not reachable from outside the container: paths in it are taken from the overlay below
//! it.
//!
//! Rootless, the copy runs in the store's helper ([`crate::userns`]) where the program
//! alone could not: with a subordinate range (the files of the image's other users), in
//! the running container's own user namespace (whose root may enter `/proc/<init>/root`
//! whatever user the init runs as), or, for a stopped container, in a new one, with the
//! overlay mounted at the container's root in a mount namespace of the helper's own.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{Container, Record, Status};
use super::rootfs;
use crate::image::layer::TarWriter;
use crate::image::unpack::{self, Owners, UnpackOptions, Whiteouts};
use crate::runtime::plan::clean_relative;
use crate::{Error, Result};

/// What a path in a container is ([`Container::path_stat`]), as Docker's
/// `X-Docker-Container-Path-Stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PathStat {
    /// The base name of the path.
    pub name: String,
    /// The size in bytes.
    pub size: u64,
    /// The mode bits and file type, as `st_mode`.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// The target of a symlink (empty otherwise).
    pub link_target: String,
}

impl PathStat {
    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    /// Whether it is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

/// Where a copy reads and writes: the container's root and, for the paths under its
/// volumes and bind mounts (destination, clean, under `/`), their sources.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct View {
    root: PathBuf,
    mounts: Vec<(PathBuf, PathBuf)>,
}

/// The container's file system made reachable for a copy: its overlay mounted (and held)
/// or frozen while running; undone when dropped.
struct Access<'c> {
    c: &'c Container,
    view: View,
    /// Rootless: the copy runs in the store's helper (see [`crate::userns`]), which is
    /// root of the image's ids; for a stopped container, it mounts the overlay (these
    /// options) at the root in a mount namespace of its own.
    helper: Option<Option<String>>,
    unmount: bool,
    thaw: bool,
    /// Rootless without a cgroup to freeze: the processes stopped with `SIGSTOP`.
    stopped: Vec<i32>,
    /// The init of a running container reached through `/proc/<pid>/root`.
    live: Option<i32>,
    _lock: Option<crate::store::Lock>,
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        if self.unmount {
            let _ = rootfs::unmount(self.c.path());
        }
        if self.thaw {
            let _ = self.c.resume();
        }
        crate::runtime::Runtime::continue_processes(&self.stopped);
    }
}

/// `path` as components under `/`, `..` taken lexically (never above `/`).
fn clean(path: &str) -> PathBuf {
    clean_relative(Path::new(path))
}

impl Container {
    fn access(&self, op: &'static str) -> Result<Access<'_>> {
        let dir = self.path().to_owned();
        let rec = Record::load(&dir).map_err(|_| Error::ContainerNotFound {
            id: self.name().to_owned(),
        })?;
        let mounts = rec
            .info
            .mounts
            .iter()
            .filter(|m| !m.source.is_empty())
            .map(|m| (clean(&m.destination), PathBuf::from(&m.source)))
            .collect();
        let root = rootfs::rootfs(&dir);
        let mut access = Access {
            c: self,
            view: View {
                root: root.clone(),
                mounts,
            },
            helper: None,
            unmount: false,
            thaw: false,
            stopped: Vec::new(),
            live: None,
            _lock: None,
        };
        // rootless with a subordinate range, files of the image's other users are the
        // helper's to read and write
        if crate::userns::IdMap::current().keeps_owners() {
            access.helper = Some(None);
        }
        // A running container's tree through its init's root where the overlay is not
        // mounted on the host (an attached or rootless container's lives only in its
        // mount namespace).
        let pid = rec.info.state.pid;
        let live_root = |a: &mut Access<'_>| {
            if rootfs::is_mountpoint(&root) {
                root.clone()
            } else {
                a.live = Some(pid);
                PathBuf::from(format!("/proc/{pid}/root"))
            }
        };
        match self.status() {
            Status::Running => {
                match self.pause() {
                    Ok(()) => access.thaw = true,
                    // rootless without a cgroup: stopped by signal instead, so that it
                    // cannot swap a directory for a symlink halfway either
                    Err(Error::Unsupported { .. }) if crate::paths::rootless() => {
                        access.stopped = self.store.runtime().stop_processes(self.id())?;
                    }
                    Err(e) => return Err(e),
                }
                access.view.root = live_root(&mut access);
            }
            Status::Paused => access.view.root = live_root(&mut access),
            _ if crate::paths::rootless() => {
                // its overlay exists only in its own namespaces while it runs: the
                // helper mounts it in a mount namespace of its own
                let lock = crate::store::lock_dir(&dir)
                    .map_err(|e| Error::os("locking container directory", &dir, e))?;
                access._lock = Some(lock);
                let overlay = rootfs::overlay_root(&dir)?.ok_or_else(|| Error::InvalidState {
                    id: self.name().to_owned(),
                    op,
                    status: self.status().to_string(),
                })?;
                access.helper = Some(Some(overlay));
                return Ok(access);
            }
            _ => {
                let lock = crate::store::lock_dir(&dir)
                    .map_err(|e| Error::os("locking container directory", &dir, e))?;
                access._lock = Some(lock);
                if !rootfs::is_mountpoint(&root) {
                    let lower = rec.lower_dirs();
                    rootfs::mount(&dir, &lower, false)?;
                    access.unmount = true;
                }
            }
        }
        let reachable = access.view.root != root || rootfs::is_mountpoint(&root);
        if !reachable {
            return Err(Error::InvalidState {
                id: self.name().to_owned(),
                op,
                status: self.status().to_string(),
            });
        }
        Ok(access)
    }

    /// What `path` is in the container (a symlink as itself unless `follow_link`), or
    /// `None` when there is nothing there.
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`]; [`Error::Os`] when its file system cannot be reached.
    pub fn path_stat(&self, path: &str, follow_link: bool) -> Result<Option<PathStat>> {
        let a = self.access("stat a path of")?;
        let op = CpOp::Stat {
            path: path.to_owned(),
            follow: follow_link,
        };
        match &a.helper {
            Some(overlay) => Ok(a.in_helper(overlay, op, None, None)?.stat.map(Into::into)),
            None => Ok(stat_in(&a.view, path, follow_link)),
        }
    }

    /// Writes a tar of `path` in the container to `w` (`docker cp CONTAINER:PATH -`): the
    /// file, link or directory tree as its base name (`.` for `/`), with ownership, modes,
    /// times, hard links and xattrs. A symlink at `path` is archived as a link unless
    /// `follow_link` (`cp -L`), which archives what it points to (in the container) under
    /// the link's name.
    ///
    /// # Errors
    /// [`Error::Os`] with `ENOENT` naming the path when there is nothing there, or when a
    /// file cannot be read or `w` fails; [`Error::ContainerNotFound`].
    pub fn copy_from(&self, path: &str, follow_link: bool, mut w: impl Write) -> Result<()> {
        let a = self.access("copy from")?;
        match &a.helper {
            Some(overlay) => {
                let op = CpOp::From {
                    path: path.to_owned(),
                    follow: follow_link,
                };
                a.in_helper(overlay, op, None, Some(&mut w)).map(drop)
            }
            None => copy_from_in(&a.view, path, follow_link, &mut w),
        }
    }

    /// Extracts the tar `tar` into the directory `dir` of the container (`docker cp -
    /// CONTAINER:DIR`). Entries are made inside `dir` and never outside it (`..` and links
    /// leading out are refused). With `same_owner` (`cp -a`) the entries keep the tar's
    /// uid and gid, else they belong to root, as Docker does.
    ///
    /// # Errors
    /// [`Error::Os`] with `ENOTDIR`/`ENOENT` naming `dir` when it is not a directory of
    /// the container; [`Error::UnsafeLayerEntry`] for an entry leading out;
    /// [`Error::Unpack`] when an entry cannot be written; [`Error::ContainerNotFound`].
    pub fn copy_to(&self, dir: &str, mut tar: impl Read, same_owner: bool) -> Result<()> {
        let a = self.access("copy to")?;
        let subject = format!("copied into container {}", self.name());
        match &a.helper {
            Some(overlay) => {
                let op = CpOp::To {
                    dir: dir.to_owned(),
                    same_owner,
                    subject,
                };
                a.in_helper(overlay, op, Some(&mut tar), None).map(drop)
            }
            None => copy_to_in(&a.view, dir, &mut tar, same_owner, &subject),
        }
    }
}

/// What a copy does, in this process or in the rootless store's helper.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum CpOp {
    Stat {
        path: String,
        follow: bool,
    },
    From {
        path: String,
        follow: bool,
    },
    To {
        dir: String,
        same_owner: bool,
        subject: String,
    },
}

impl Access<'_> {
    /// Runs `op` in the rootless store's helper (see [`Access::helper`]).
    fn in_helper(
        &self,
        overlay: &Option<String>,
        op: CpOp,
        input: Option<&mut dyn Read>,
        output: Option<&mut dyn Write>,
    ) -> Result<crate::userns::Done> {
        let job = crate::userns::Job::Cp {
            view: serde_json::to_value(&self.view).expect("a view serialises"),
            overlay: overlay.clone(),
            op: serde_json::to_value(&op).expect("an op serialises"),
        };
        match self.live {
            // running: in its own user namespace, whose root may enter /proc/<init>/root
            // whatever user the init runs as
            Some(pid) => crate::userns::run_joined(pid, &job, input, output),
            None => crate::userns::run(&job, input, output),
        }
    }
}

/// The [`Job::Cp`](crate::userns::Job::Cp) of the rootless store's helper: `op` on `view`,
/// with the container's overlay mounted at its root first (in a mount namespace of the
/// helper's own) when `overlay` gives its options.
pub(crate) fn serve_cp(
    view: serde_json::Value,
    overlay: Option<String>,
    op: serde_json::Value,
    input: &mut dyn Read,
    output: &mut dyn Write,
) -> Result<crate::userns::Done> {
    let bad = |e: serde_json::Error| Error::InvalidSpec {
        field: "copy job".into(),
        reason: e.to_string(),
    };
    let view: View = serde_json::from_value(view).map_err(bad)?;
    let op: CpOp = serde_json::from_value(op).map_err(bad)?;
    if let Some(opts) = overlay {
        rootfs::mount_private_overlay(&view.root, &opts)?;
    }
    let mut done = crate::userns::Done::default();
    match op {
        CpOp::Stat { path, follow } => done.stat = stat_in(&view, &path, follow).map(Into::into),
        CpOp::From { path, follow } => copy_from_in(&view, &path, follow, output)?,
        CpOp::To {
            dir,
            same_owner,
            subject,
        } => copy_to_in(&view, &dir, input, same_owner, &subject)?,
    }
    Ok(done)
}

/// What `path` is in `view` (see [`Container::path_stat`]).
fn stat_in(view: &View, path: &str, follow_link: bool) -> Option<PathStat> {
    let host = view.resolve(path, follow_link)?;
    let meta = fs::symlink_metadata(&host).ok()?;
    let link_target = fs::read_link(&host)
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some(PathStat {
        name: base_name(path),
        size: meta.size(),
        mode: meta.mode(),
        mtime: meta.mtime(),
        link_target,
    })
}

/// [`Container::copy_from`] in `view`.
fn copy_from_in(view: &View, path: &str, follow_link: bool, w: &mut dyn Write) -> Result<()> {
    let missing = || {
        Error::os(
            "copying from the container: no such path",
            Path::new(path),
            io::Error::from_raw_os_error(libc::ENOENT),
        )
    };
    let host = view.resolve(path, follow_link).ok_or_else(missing)?;
    let meta = fs::symlink_metadata(&host).map_err(|_| missing())?;
    let name = PathBuf::from(base_name(path));
    let err = |e| Error::os("copying from the container, reading", &host, e);
    let mut tar = TarWriter::new(w);
    tar.append(&host, &name, &meta).map_err(err)?;
    if meta.is_dir() {
        append_children(&mut tar, &host, &name).map_err(err)?;
    }
    tar.into_inner()
        .and_then(|w| w.flush())
        .map_err(|e| Error::os("copying from the container, writing", &host, e))
}

/// [`Container::copy_to`] in `view`.
fn copy_to_in(
    view: &View,
    dir: &str,
    tar: &mut dyn Read,
    same_owner: bool,
    subject: &str,
) -> Result<()> {
    let host = view
        .resolve(dir, true)
        .filter(|h| h.is_dir())
        .ok_or_else(|| {
            Error::os(
                "copying into the container: not a directory",
                Path::new(dir),
                io::Error::from_raw_os_error(libc::ENOTDIR),
            )
        })?;
    let opts = UnpackOptions {
        whiteouts: Whiteouts::Apply,
        // root here is root of the helper's namespace too, where the image's ids are
        owners: if same_owner && rustix::process::geteuid().is_root() {
            Owners::Keep
        } else {
            Owners::Mine
        },
    };
    unpack::unpack(tar, &host, opts, subject)?;
    Ok(())
}

impl From<PathStat> for crate::userns::Stat {
    fn from(p: PathStat) -> Self {
        crate::userns::Stat {
            name: p.name,
            size: p.size,
            mode: p.mode,
            mtime: p.mtime,
            link_target: p.link_target,
        }
    }
}

impl From<crate::userns::Stat> for PathStat {
    fn from(p: crate::userns::Stat) -> Self {
        PathStat {
            name: p.name,
            size: p.size,
            mode: p.mode,
            mtime: p.mtime,
            link_target: p.link_target,
        }
    }
}

impl View {
    /// The host path of `path` in the container: parents resolved in the root (or in the
    /// mount holding them), the last component followed only with `follow` (a link's
    /// target taken from the container's root again, so that it may cross into or out of
    /// a mount); `None` when a parent is missing or not a directory, or links loop.
    fn resolve(&self, path: &str, follow: bool) -> Option<PathBuf> {
        let mut rel = clean(path);
        // As the kernel's limit of links in one lookup.
        for _ in 0..40 {
            let host = self.resolve_parent(&rel)?;
            if !follow {
                return Some(host);
            }
            match fs::read_link(&host) {
                Ok(target) if fs::symlink_metadata(&host).is_ok_and(|m| m.is_symlink()) => {
                    let parent = rel.parent().unwrap_or(Path::new(""));
                    rel = clean(&parent.join(target).to_string_lossy());
                }
                _ => return Some(host),
            }
        }
        None
    }

    /// The host path of `rel` (clean, under `/`) with its parents resolved in the mount
    /// holding it (else the overlay), the last component as it is.
    fn resolve_parent(&self, rel: &Path) -> Option<PathBuf> {
        // The deepest mount holding the path, else the overlay.
        let (base, rel) = self
            .mounts
            .iter()
            .filter(|(dest, _)| rel.starts_with(dest))
            .max_by_key(|(dest, _)| dest.components().count())
            .map(|(dest, src)| (src.clone(), rel.strip_prefix(dest).unwrap().to_owned()))
            .unwrap_or_else(|| (self.root.clone(), rel.to_owned()));
        let Some(name) = rel.file_name() else {
            return Some(base);
        };
        let parent = rel.parent().and_then(Path::to_str).unwrap_or("");
        let parent = rootfs::resolve_dir_in(&base, parent)?;
        Some(parent.join(name))
    }
}

/// The base name `docker cp` gives the top entry: the last component, `.` for the root.
fn base_name(path: &str) -> String {
    clean(path)
        .file_name()
        .map_or_else(|| ".".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// Appends the tree under host directory `dir` as `rel/…`, sorted by name, never
/// following a symlink.
fn append_children<W: Write>(tar: &mut TarWriter<W>, dir: &Path, rel: &Path) -> io::Result<()> {
    let mut names = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        let meta = fs::symlink_metadata(&path)?;
        tar.append(&path, &rel, &meta)?;
        if meta.is_dir() {
            append_children(tar, &path, &rel)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_taken_under_the_root() {
        assert_eq!(clean("/a/../../b/./c/"), Path::new("b/c"));
        assert_eq!(clean("rel/x"), Path::new("rel/x"));
        assert_eq!(clean("/"), Path::new(""));
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(base_name("/"), ".");
        assert_eq!(base_name("/a/b/.."), "a");
    }
}
