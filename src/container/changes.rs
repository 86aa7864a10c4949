//! What a container changed in its root file system, read from its overlay directories:
//! the upper dir over the image's layers (lower dirs, top first).
//!
//! overlayfs marks a deletion with a whiteout (a character device 0/0) and a directory
//! whose lower content is hidden (removed, then made again) with the `overlay.opaque` xattr
//! set to `y`; image layers unpacked by the store use the same marks. fuse-overlayfs (the
//! rootless fallback) marks them its own way too: `user.fuseoverlayfs.opaque` with marker
//! files, and `.wh.<name>` files where no user may make a 0/0 device. The merge is computed
//! here, by reading the directories, so it needs no mount and works for a stopped container
//! as for a running one.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};

/// What happened to a path (`docker diff`'s `A`, `C`, `D`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Not in the image, now in the container (`A`).
    Added,
    /// In the image, and changed (content, metadata, or what is inside a directory) (`C`).
    Changed,
    /// In the image, gone from the container (`D`).
    Deleted,
}

impl ChangeKind {
    /// Docker's letter: `A`, `C` or `D`.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path of a container's root file system, as `docker diff` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// The absolute path in the container (`/etc/passwd`).
    pub path: PathBuf,
    /// What happened to it.
    pub kind: ChangeKind,
}

impl std::fmt::Display for Change {
    /// `A /path`, as `docker diff` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path.display())
    }
}

/// Mount points the engine (or the runtime) makes in a root file system that lacks them:
/// Docker keeps these in a hidden "init" layer, so they are never part of `docker diff`
/// or of a committed layer. Here they are left out while they are still what was made
/// (an empty file or directory where the image has nothing).
const INIT_PATHS: &[&str] = &[
    "/dev",
    "/proc",
    "/sys",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
];

/// The opaque xattrs: as root (`trusted.`), in a user namespace (`user.`, `userxattr`),
/// and fuse-overlayfs's (the rootless fallback where the kernel cannot mount overlayfs in a
/// user namespace).
const OPAQUE_XATTRS: &[&str] = &[
    "trusted.overlay.opaque",
    "user.overlay.opaque",
    "user.fuseoverlayfs.opaque",
];

/// What fuse-overlayfs puts in an opaque directory of the upper dir besides the xattr: a
/// `.wh..wh..opq` file and a whiteout named `.wh..opq`. Markers, not content.
fn is_fuse_marker(name: &OsStr) -> bool {
    matches!(name.as_encoded_bytes(), b".wh..wh..opq" | b".wh..opq")
}

/// The name a `.wh.<name>` file deletes: fuse-overlayfs's whiteout where the kernel lets no
/// user make a 0/0 device (before Linux 5.8). (Image layers never hold such names: unpack
/// turns them into whiteouts.)
fn whiteout_of(name: &OsStr) -> Option<&OsStr> {
    let rest = name.as_bytes().strip_prefix(b".wh.")?;
    if rest.is_empty() || is_fuse_marker(name) {
        return None;
    }
    Some(OsStr::from_bytes(rest))
}

/// `.wh.<name>`.
fn whiteout_name(name: &OsStr) -> OsString {
    let mut wh = OsString::from(".wh.");
    wh.push(name);
    wh
}

/// A character device 0/0: overlayfs's whiteout.
fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// The directory at `path` is marked opaque.
fn is_opaque(path: &Path) -> bool {
    let mut v = [0u8; 4];
    OPAQUE_XATTRS
        .iter()
        .any(|name| matches!(rustix::fs::lgetxattr(path, *name, &mut v[..]), Ok(1) if v[0] == b'y'))
}

/// Where `rel` stands in one layer.
enum InLayer {
    /// The layer has nothing there (lower layers may).
    Missing,
    /// The layer deletes it (a whiteout or a non-directory on the way): nothing below shows.
    Gone,
    /// There, with its metadata; `opaque` when a directory on the way (or it) is opaque, so
    /// lower layers show nothing at or below it.
    Found(fs::Metadata, bool),
}

fn in_layer(layer: &Path, rel: &[&OsStr]) -> InLayer {
    let mut p = layer.to_owned();
    let mut opaque = false;
    if rel.is_empty() {
        return match fs::symlink_metadata(&p) {
            Ok(m) => InLayer::Found(m, false),
            Err(_) => InLayer::Missing,
        };
    }
    for (i, c) in rel.iter().enumerate() {
        p.push(c);
        let Ok(m) = fs::symlink_metadata(&p) else {
            if p.with_file_name(whiteout_name(c)).exists() {
                return InLayer::Gone;
            }
            return if opaque {
                InLayer::Gone
            } else {
                InLayer::Missing
            };
        };
        if is_whiteout(&m) {
            return InLayer::Gone;
        }
        let last = i + 1 == rel.len();
        if !last && !m.is_dir() {
            return InLayer::Gone;
        }
        if m.is_dir() && is_opaque(&p) {
            opaque = true;
        }
        if last {
            return InLayer::Found(m, opaque);
        }
    }
    unreachable!("the loop returns at the last component")
}

fn components(rel: &Path) -> Vec<&OsStr> {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect()
}

/// A stack of layer directories seen as one tree, as overlayfs merges them (top first).
#[derive(Debug, Clone)]
pub(crate) struct Stack {
    layers: Vec<PathBuf>,
}

/// One entry of a merged directory: its host path (in the layer that provides it) and
/// metadata.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    pub host: PathBuf,
    pub meta: fs::Metadata,
}

impl Stack {
    /// `layers` top first.
    pub(crate) fn new(layers: Vec<PathBuf>) -> Stack {
        Stack { layers }
    }

    /// The layer directories, top first.
    pub(crate) fn layers(&self) -> &[PathBuf] {
        &self.layers
    }

    /// The entry at `rel` (relative to the root) in the merged tree, not following a
    /// symlink at its end; `None` when the tree has nothing there.
    pub(crate) fn lookup(&self, rel: &Path) -> Option<Merged> {
        let comps = components(rel);
        for layer in &self.layers {
            match in_layer(layer, &comps) {
                InLayer::Missing => continue,
                InLayer::Gone => return None,
                InLayer::Found(meta, _) => {
                    return Some(Merged {
                        host: layer.join(rel),
                        meta,
                    })
                }
            }
        }
        None
    }

    /// Resolves `path` (as the container names it) in the merged tree as the kernel
    /// would: symlinks followed inside the tree (an absolute target from its root, `..`
    /// never above it), the last one only with `follow`. The canonical path (relative to
    /// the root) and its entry; `None` when it is missing, something on the way is not a
    /// directory, or it takes more than 40 links.
    pub(crate) fn resolve(&self, path: &str, follow: bool) -> Option<(PathBuf, Merged)> {
        let push_all = |todo: &mut Vec<OsString>, p: &Path| {
            let start = todo.len();
            todo.extend(p.iter().map(OsStr::to_os_string));
            todo[start..].reverse();
        };
        let mut todo = Vec::new();
        push_all(&mut todo, Path::new(path));
        let mut cur = PathBuf::new();
        let mut entry = self.lookup(&cur)?;
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == "/" || c == "." || c.is_empty() {
                continue;
            }
            if c == ".." {
                cur.pop();
                entry = self.lookup(&cur)?;
                continue;
            }
            let next = cur.join(&c);
            let m = self.lookup(&next)?;
            if m.meta.file_type().is_symlink() && (follow || !todo.is_empty()) {
                links += 1;
                if links > 40 {
                    return None;
                }
                let target = fs::read_link(&m.host).ok()?;
                if target.is_absolute() {
                    cur = PathBuf::new();
                    entry = self.lookup(&cur)?;
                }
                push_all(&mut todo, &target);
                continue;
            }
            if !todo.is_empty() && !m.meta.is_dir() {
                return None;
            }
            cur = next;
            entry = m;
        }
        Some((cur, entry))
    }

    /// The directory `rel` (canonical, relative to the root) in each layer whose content
    /// shows in the merged tree there, top first: from the layer that shows it down to one
    /// below which nothing shows (an opaque directory; a whiteout or a non-directory ends
    /// the list before itself). Empty when the merged tree has no directory at `rel`.
    pub(crate) fn dirs_at(&self, rel: &Path) -> Vec<PathBuf> {
        let comps = components(rel);
        let mut out = Vec::new();
        for layer in &self.layers {
            match in_layer(layer, &comps) {
                InLayer::Missing => continue,
                InLayer::Gone => break,
                InLayer::Found(m, _) if !m.is_dir() => break,
                InLayer::Found(_, opaque) => {
                    out.push(layer.join(rel));
                    if opaque {
                        break;
                    }
                }
            }
        }
        out
    }

    /// The entries of directory `rel` (relative to the root) in the merged tree, by name;
    /// empty when it is not a directory there.
    pub(crate) fn read_dir(&self, rel: &Path) -> io::Result<BTreeMap<OsString, Merged>> {
        let comps = components(rel);
        let mut out = BTreeMap::new();
        let mut hidden: Vec<OsString> = Vec::new();
        for layer in &self.layers {
            let opaque = match in_layer(layer, &comps) {
                InLayer::Missing => continue,
                InLayer::Gone => break,
                InLayer::Found(m, _) if !m.is_dir() => break,
                InLayer::Found(_, opaque) => opaque,
            };
            let dir = layer.join(rel);
            for e in fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name();
                if out.contains_key(&name) || hidden.contains(&name) || is_fuse_marker(&name) {
                    continue;
                }
                if let Some(gone) = whiteout_of(&name) {
                    hidden.push(gone.to_owned());
                    continue;
                }
                let host = e.path();
                let meta = fs::symlink_metadata(&host)?;
                if is_whiteout(&meta) {
                    hidden.push(name);
                    continue;
                }
                if !meta.is_dir() {
                    // lower directories of that name are shadowed
                    hidden.push(name.clone());
                }
                out.insert(name, Merged { host, meta });
            }
            if opaque {
                break;
            }
        }
        Ok(out)
    }
}

/// An entry of the upper dir that belongs to the container's layer, in tar order (a
/// directory before what is in it).
#[derive(Debug)]
pub(crate) enum Entry {
    /// A file system object at `rel`, read from `host`; an `opaque` directory hides every
    /// lower entry below it.
    Node {
        rel: PathBuf,
        host: PathBuf,
        meta: fs::Metadata,
        opaque: bool,
    },
    /// A deletion of `rel`.
    Whiteout { rel: PathBuf, meta: fs::Metadata },
}

/// The container's changes: what `docker diff` lists (sorted by path) and the entries of
/// the layer `docker commit` writes.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub changes: Vec<Change>,
    pub entries: Vec<Entry>,
}

/// Reads `upper` against the image layers `lower` (top first).
///
/// A directory that is in the image is reported as changed when something below it
/// changed (Docker reports the parent of every change) or its mode, owner or mtime
/// differ; the mount points of [`INIT_PATHS`] made for the container are left out.
pub(crate) fn scan(upper: &Path, lower: &Stack) -> io::Result<Scan> {
    let mut s = Scan::default();
    scan_dir(upper, Path::new(""), lower, false, &mut s)?;
    s.changes.sort();
    Ok(s)
}

/// Scans upper directory `rel`; `hidden` when the image's entries in it do not show
/// through (it, or a directory above it, is opaque, or it replaced a non-directory): those
/// the container did not make again are deleted. Returns whether anything in it was
/// reported, and whether an init mount point was left out.
fn scan_dir(
    upper: &Path,
    rel: &Path,
    lower: &Stack,
    hidden: bool,
    s: &mut Scan,
) -> io::Result<(bool, bool)> {
    let image = lower.read_dir(rel)?;
    let mut names = fs::read_dir(upper.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<Vec<_>>>()?;
    names.retain(|n| !is_fuse_marker(n));
    names.sort();
    let (mut reported, mut init_skipped) = (false, false);
    if hidden {
        let listed = |n: &OsString| names.contains(n) || names.contains(&whiteout_name(n));
        for gone in image.keys().filter(|n| !listed(n)) {
            s.changes.push(Change {
                path: Path::new("/").join(rel).join(gone),
                kind: ChangeKind::Deleted,
            });
            reported = true;
        }
    }
    for name in &names {
        let (name, wh_file) = match whiteout_of(name) {
            // a deletion, unless the container made the name again
            Some(gone) if !names.iter().any(|n| n == gone) => (gone, true),
            Some(_) => continue,
            None => (name.as_os_str(), false),
        };
        let rel = rel.join(name);
        let host = upper.join(&rel);
        let abs = Path::new("/").join(&rel);
        let meta = if wh_file {
            fs::symlink_metadata(host.with_file_name(whiteout_name(name)))?
        } else {
            fs::symlink_metadata(&host)?
        };
        let below = image.get(name).map(|m| &m.meta);
        if wh_file || is_whiteout(&meta) {
            if below.is_some() {
                s.changes.push(Change {
                    path: abs,
                    kind: ChangeKind::Deleted,
                });
                s.entries.push(Entry::Whiteout { rel, meta });
                reported = true;
            }
            continue;
        }
        let init = INIT_PATHS.contains(&abs.to_str().unwrap_or_default());
        if init && below.is_none() && is_empty(&host, &meta) {
            init_skipped = true;
            continue;
        }
        if !meta.is_dir() {
            s.changes.push(Change {
                path: abs,
                kind: if below.is_some() {
                    ChangeKind::Changed
                } else {
                    ChangeKind::Added
                },
            });
            s.entries.push(Entry::Node {
                rel,
                host,
                meta,
                opaque: false,
            });
            reported = true;
            continue;
        }
        let opaque = is_opaque(&host);
        let below_dir = below.is_some_and(fs::Metadata::is_dir);
        let mark = (s.changes.len(), s.entries.len());
        s.entries.push(Entry::Node {
            rel: rel.clone(),
            host: host.clone(),
            meta: meta.clone(),
            opaque: opaque && below_dir,
        });
        let child_hidden = hidden || opaque || !below_dir;
        let (inner, inner_init) = scan_dir(upper, &rel, lower, child_hidden, s)?;
        let kind = match below {
            None => Some(ChangeKind::Added),
            Some(b) if !b.is_dir() || opaque => Some(ChangeKind::Changed),
            Some(b) if inner || attrs_differ(&meta, b, !inner_init) => Some(ChangeKind::Changed),
            Some(_) => None,
        };
        match kind {
            Some(kind) => {
                s.changes.push(Change { path: abs, kind });
                reported = true;
            }
            None => {
                s.changes.truncate(mark.0);
                s.entries.truncate(mark.1);
            }
        }
    }
    Ok((reported, init_skipped))
}

fn is_empty(host: &Path, meta: &fs::Metadata) -> bool {
    if meta.is_dir() {
        fs::read_dir(host).is_ok_and(|mut d| d.next().is_none())
    } else {
        meta.is_file() && meta.len() == 0
    }
}

/// Mode, owner (and mtime, if `mtime`) of a directory differ from the image's.
fn attrs_differ(a: &fs::Metadata, b: &fs::Metadata, mtime: bool) -> bool {
    a.mode() != b.mode()
        || a.uid() != b.uid()
        || a.gid() != b.gid()
        || (mtime && (a.mtime(), a.mtime_nsec()) != (b.mtime(), b.mtime_nsec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whiteout(p: &Path) -> bool {
        rustix::fs::mknodat(
            rustix::fs::CWD,
            p,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .is_ok()
    }

    fn opaque(p: &Path) -> bool {
        OPAQUE_XATTRS
            .iter()
            .any(|x| rustix::fs::setxattr(p, *x, b"y", rustix::fs::XattrFlags::empty()).is_ok())
    }

    /// A merged tree resolved as the kernel would: links followed inside it (`/bin` to
    /// `usr/bin` in a lower layer, an absolute link, `..` stopping at the root), a
    /// whiteout hiding a lower file, a directory of an upper layer hiding a lower link of
    /// the same name, too many links.
    #[test]
    fn resolve_follows_links_inside_the_merged_tree() {
        let t = tempfile::tempdir().unwrap();
        let (up, low) = (t.path().join("up"), t.path().join("low"));
        for d in ["usr/bin", "etc", "var", "loop"] {
            fs::create_dir_all(low.join(d)).unwrap();
        }
        fs::write(low.join("usr/bin/sh"), "sh").unwrap();
        fs::write(low.join("etc/gone"), "x").unwrap();
        std::os::unix::fs::symlink("usr/bin", low.join("bin")).unwrap();
        std::os::unix::fs::symlink("/etc", low.join("var/etc")).unwrap();
        std::os::unix::fs::symlink("../../../etc", low.join("var/up")).unwrap();
        std::os::unix::fs::symlink("a", low.join("loop/b")).unwrap();
        std::os::unix::fs::symlink("b", low.join("loop/a")).unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/passwd"), "root").unwrap();
        fs::create_dir_all(up.join("var/etc")).unwrap();
        let stack = Stack::new(vec![up.clone(), low.clone()]);
        let (canon, m) = stack.resolve("/bin/sh", true).unwrap();
        assert_eq!(
            (canon, m.host),
            (PathBuf::from("usr/bin/sh"), low.join("usr/bin/sh"))
        );
        assert_eq!(
            stack.resolve("/var/up/passwd", true).unwrap().1.host,
            up.join("etc/passwd")
        );
        // an upper directory shadows the lower link of the same name
        assert_eq!(
            stack.resolve("/var/etc", true).unwrap().1.host,
            up.join("var/etc")
        );
        // not following the last link
        let (canon, m) = stack.resolve("/bin", false).unwrap();
        assert_eq!(canon, PathBuf::from("bin"));
        assert!(m.meta.file_type().is_symlink());
        if whiteout(&up.join("etc/gone")) {
            assert!(stack.resolve("/etc/gone", true).is_none());
        }
        assert!(stack.resolve("/loop/a", true).is_none(), "a link loop ends");
        assert!(
            stack.resolve("/usr/bin/sh/x", true).is_none(),
            "a file is not a directory"
        );
    }

    /// An upper dir as fuse-overlayfs leaves it: a directory made again is opaque by its
    /// own xattr and holds its markers, which are neither content nor changes.
    #[test]
    fn fuse_overlayfs_opaque_directories_and_markers() {
        let t = tempfile::tempdir().unwrap();
        let (up, low) = (t.path().join("up"), t.path().join("low"));
        write_files(&low, &[("e/old", "o")]);
        write_files(&up, &[("e/new", "n"), ("e/.wh..wh..opq", "")]);
        let xattr = rustix::fs::setxattr(
            up.join("e"),
            "user.fuseoverlayfs.opaque",
            b"y",
            rustix::fs::XattrFlags::empty(),
        );
        if xattr.is_err() {
            return; // no user xattrs on this file system
        }
        whiteout(&up.join("e/.wh..opq"));
        let stack = Stack::new(vec![up.clone(), low.clone()]);
        assert_eq!(names(&stack, "e"), ["new"]);
        let scan = scan(&up, &Stack::new(vec![low])).unwrap();
        assert_eq!(lines(&scan), ["C /e", "A /e/new", "D /e/old"]);
    }

    /// fuse-overlayfs's whiteouts where no 0/0 device can be made: `.wh.<name>` files.
    #[test]
    fn fuse_overlayfs_whiteout_files_delete() {
        let t = tempfile::tempdir().unwrap();
        let (up, low) = (t.path().join("up"), t.path().join("low"));
        write_files(&low, &[("d/a", "a"), ("d/b", "b"), ("d/sub/x", "x")]);
        write_files(&up, &[("d/.wh.a", ""), ("d/.wh.sub", "")]);
        let stack = Stack::new(vec![up.clone(), low.clone()]);
        assert_eq!(names(&stack, "d"), ["b"]);
        assert!(stack.resolve("/d/a", true).is_none());
        assert!(stack.resolve("/d/sub/x", true).is_none());
        assert!(stack.resolve("/d/b", true).is_some());
        let scan = scan(&up, &Stack::new(vec![low])).unwrap();
        assert_eq!(lines(&scan), ["C /d", "D /d/a", "D /d/sub"]);
        let wh: Vec<_> = scan
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Whiteout { rel, .. } => Some(rel.clone()),
                Entry::Node { .. } => None,
            })
            .collect();
        assert_eq!(wh, [PathBuf::from("d/a"), PathBuf::from("d/sub")]);
    }

    /// Writes each `(path, content)` under `root`, making the parent directories.
    fn write_files(root: &Path, files: &[(&str, &str)]) {
        for (rel, content) in files {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
    }

    fn lines(s: &Scan) -> Vec<String> {
        s.changes.iter().map(ToString::to_string).collect()
    }

    /// The names in `rel` of the merged `stack`, sorted.
    fn names(stack: &Stack, rel: &str) -> Vec<std::ffi::OsString> {
        stack
            .read_dir(Path::new(rel))
            .unwrap()
            .into_keys()
            .collect()
    }

    /// An image of two layers in `d`: `base`, and `top` adding `/etc/group` and deleting
    /// `/old`; `None` where whiteouts cannot be made.
    fn image_layers(d: &Path) -> Option<(PathBuf, PathBuf)> {
        let (base, top) = (d.join("base"), d.join("top"));
        for p in ["etc/sub", "keep/x", "opq/a", "old", "bin"] {
            fs::create_dir_all(base.join(p)).unwrap();
        }
        fs::write(base.join("etc/passwd"), "root").unwrap();
        fs::write(base.join("etc/sub/f"), "f").unwrap();
        fs::write(base.join("opq/a/1"), "1").unwrap();
        fs::write(base.join("opq/b"), "b").unwrap();
        fs::write(base.join("old/o"), "o").unwrap();
        fs::write(base.join("bin/sh"), "sh").unwrap();
        fs::create_dir_all(top.join("etc")).unwrap();
        fs::write(top.join("etc/group"), "g").unwrap();
        whiteout(&top.join("old")).then_some((base, top))
    }

    /// The container's upper dir `up` over the image whose bottom layer is `base`: a file
    /// added, one changed, one deleted, /opq made again, the init mount points made by the
    /// runtime, /keep only copied up (unchanged); `false` where opaque xattrs cannot be set.
    fn container_layer(up: &Path, base: &Path) -> bool {
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::create_dir_all(up.join("keep")).unwrap();
        let keep_meta = fs::metadata(base.join("keep")).unwrap();
        fs::write(up.join("etc/passwd"), "root\napp").unwrap();
        fs::write(up.join("etc/new"), "n").unwrap();
        fs::write(up.join("etc/hosts"), "").unwrap();
        fs::create_dir(up.join("proc")).unwrap();
        assert!(whiteout(&up.join("etc/group")));
        assert!(whiteout(&up.join("ghost")), "a whiteout of nothing");
        fs::create_dir_all(up.join("opq/a")).unwrap();
        fs::write(up.join("opq/a/2"), "2").unwrap();
        fs::create_dir(up.join("fresh")).unwrap();
        fs::write(up.join("fresh/x"), "x").unwrap();
        if !opaque(&up.join("opq")) {
            return false;
        }
        let t = |m: &fs::Metadata| rustix::fs::Timestamps {
            last_access: rustix::fs::Timespec {
                tv_sec: m.atime(),
                tv_nsec: m.atime_nsec() as _,
            },
            last_modification: rustix::fs::Timespec {
                tv_sec: m.mtime(),
                tv_nsec: m.mtime_nsec() as _,
            },
        };
        rustix::fs::utimensat(
            rustix::fs::CWD,
            up.join("keep"),
            &t(&keep_meta),
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        fs::set_permissions(up.join("keep"), keep_meta.permissions()).unwrap();
        true
    }

    /// The merge and the diff on hand-made overlay directories (skipped where whiteouts or
    /// opaque xattrs cannot be made: a normal user without user xattrs).
    #[test]
    fn merge_and_diff_follow_overlay_rules() {
        let d = tempfile::tempdir().unwrap();
        let Some((base, top)) = image_layers(d.path()) else {
            eprintln!("skipping: cannot make whiteouts");
            return;
        };
        let lower = Stack::new(vec![top.clone(), base.clone()]);
        assert_eq!(names(&lower, ""), ["bin", "etc", "keep", "opq"]);
        assert_eq!(names(&lower, "etc"), ["group", "passwd", "sub"]);
        assert!(lower.read_dir(Path::new("old")).unwrap().is_empty());
        assert!(lower
            .read_dir(Path::new("etc/sub"))
            .unwrap()
            .contains_key(OsStr::new("f")));

        let up = d.path().join("up");
        if !container_layer(&up, &base) {
            eprintln!("skipping: cannot set an opaque xattr");
            return;
        }
        let s = scan(&up, &lower).unwrap();
        assert_eq!(
            lines(&s),
            [
                "C /etc",
                "D /etc/group",
                "A /etc/new",
                "C /etc/passwd",
                "A /fresh",
                "A /fresh/x",
                "C /opq",
                "C /opq/a",
                "D /opq/a/1",
                "A /opq/a/2",
                "D /opq/b",
            ]
        );
        let rels: Vec<String> = s
            .entries
            .iter()
            .map(|e| match e {
                Entry::Node { rel, opaque, .. } => {
                    format!(
                        "{}{}",
                        rel.display(),
                        if *opaque { " (opaque)" } else { "" }
                    )
                }
                Entry::Whiteout { rel, .. } => format!("wh {}", rel.display()),
            })
            .collect();
        assert_eq!(
            rels,
            [
                "etc",
                "wh etc/group",
                "etc/new",
                "etc/passwd",
                "fresh",
                "fresh/x",
                "opq (opaque)",
                "opq/a",
                "opq/a/2",
            ]
        );

        // the merged tree of the container, as export reads it
        let merged = Stack::new(vec![up.clone(), top.clone(), base.clone()]);
        assert_eq!(
            names(&merged, ""),
            ["bin", "etc", "fresh", "keep", "opq", "proc"]
        );
        assert_eq!(
            names(&merged, "opq/a"),
            ["2"],
            "the opaque dir hides the image's /opq/a/1"
        );
        assert_eq!(names(&merged, "etc"), ["hosts", "new", "passwd", "sub"]);
        assert_eq!(
            merged.read_dir(Path::new("etc")).unwrap()[OsStr::new("passwd")].host,
            up.join("etc/passwd")
        );
        // the layers' directories that make a merged one (a volume is filled from them)
        assert_eq!(
            merged.dirs_at(Path::new("etc")),
            [up.join("etc"), top.join("etc"), base.join("etc")]
        );
        assert_eq!(merged.dirs_at(Path::new("opq/a")), [up.join("opq/a")]);
        assert_eq!(
            merged.dirs_at(Path::new("keep")),
            [up.join("keep"), base.join("keep")]
        );
        assert!(merged.dirs_at(Path::new("old")).is_empty(), "whited out");
        assert!(merged.dirs_at(Path::new("etc/passwd")).is_empty(), "a file");
    }
}
