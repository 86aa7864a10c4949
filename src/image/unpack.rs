//! Applying layer tars to a directory, with the OCI layer rules.
//!
//! Every path is resolved inside the unpack root: parents are opened with `openat2`
//! and `RESOLVE_IN_ROOT` (so a symlink in the tree, even an absolute one, resolves inside
//! the root), and the last component is created relative to its parent's fd without
//! following it. Nothing is ever joined as a string and handed to a path-based call.
//! Entries whose path leaves the root through `..`, and hard or symbolic links whose
//! target does (judged as Docker does), are refused with [`Error::UnsafeLayerEntry`].
//!
//! Whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`) are either converted to
//! overlayfs's form ([`Whiteouts::Overlay`]: a 0/0 character device and the
//! `overlay.opaque` xattr), so the directory can serve as an overlay lower layer, or
//! applied ([`Whiteouts::Apply`]: the named files are removed), which flattens layers
//! into one tree. Ownership is applied when running as root; device nodes that cannot
//! be created unprivileged are skipped; xattrs are set where the filesystem allows
//! (`*.overlay.*` xattrs from the tar are never set: they would steer overlayfs).
//! Directory modes and mtimes are set after their children.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;

use crate::{Error, Result};

/// What to do with whiteout entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whiteouts {
    /// Write overlayfs whiteouts; opaque directories get this xattr set to `y`.
    Overlay {
        /// `trusted.overlay.opaque` (root) or `user.overlay.opaque` (mount with `userxattr`).
        opaque_xattr: &'static str,
    },
    /// Remove what the whiteouts name (flattening onto lower layers' files).
    Apply,
}

/// Whose files an unpack writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owners {
    /// The tar's uid and gid: as root, or as root of the engine's user namespace (rootless
    /// with a subordinate range: [`unpack`] runs in the [helper](crate::userns)).
    Keep,
    /// The caller's own, whatever the tar says (a flattened tree for the user).
    Mine,
    /// The caller's own, and the tar may name no owner but root: rootless without a
    /// subordinate range, where the user's id is the image's only one. Any other owner is
    /// refused, naming the entry and the fix.
    OnlyRoot,
}

impl Owners {
    /// What a store layer gets: the tar's owners as root, or rootless with a subordinate
    /// range; else only root's.
    fn for_store() -> Owners {
        if !crate::paths::rootless() || crate::userns::IdMap::current().keeps_owners() {
            Owners::Keep
        } else {
            Owners::OnlyRoot
        }
    }
}

/// How to unpack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnpackOptions {
    pub whiteouts: Whiteouts,
    pub owners: Owners,
}

impl UnpackOptions {
    /// Overlay-form whiteouts, the image's owners (see [`Owners::for_store`]); what a store
    /// layer uses.
    pub(crate) fn for_layer() -> Self {
        UnpackOptions {
            whiteouts: Whiteouts::Overlay {
                opaque_xattr: opaque_xattr(),
            },
            owners: Owners::for_store(),
        }
    }

    /// Applied whiteouts, owners kept as root (else the caller's); for flattening layers
    /// into one tree.
    pub(crate) fn flatten() -> Self {
        UnpackOptions {
            whiteouts: Whiteouts::Apply,
            owners: if crate::paths::rootless() {
                Owners::Mine
            } else {
                Owners::Keep
            },
        }
    }
}

/// The opaque xattr this process can set.
pub(crate) fn opaque_xattr() -> &'static str {
    if rustix::process::geteuid().is_root() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    }
}

/// What an unpack did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct UnpackStats {
    /// Entries applied.
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Device nodes skipped for lack of privilege.
    pub skipped_devices: u64,
}

/// Compression of a layer, from its media type or its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Sniffs the magic bytes at the head of `r` without consuming them.
    pub(crate) fn sniff(r: &mut impl BufRead) -> io::Result<Compression> {
        let head = r.fill_buf()?;
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        })
    }
}

/// Wraps `r` in the decompressor its first bytes call for.
pub(crate) fn decompress<'a>(r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(256 << 10, r);
    Ok(match Compression::sniff(&mut r)? {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
        Compression::None => Box::new(r),
    })
}

/// Lexically cleans a tar path: leading `/` and `.` dropped, `..` applied. `None` if it
/// climbs above the root.
pub(crate) fn clean(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(s) => out.push(s),
        }
    }
    Some(out)
}

/// Like [`clean`], but `..` at the root stays at the root (as `RESOLVE_IN_ROOT` does).
fn clean_clamped(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(s) => out.push(s),
            _ => {}
        }
    }
    out
}

/// A directory whose metadata is set once all entries are in.
struct DeferredDir {
    rel: PathBuf,
    mode: u32,
    mtime: i64,
}

struct Unpacker<'a> {
    root: OwnedFd,
    opts: UnpackOptions,
    subject: &'a str,
    stats: UnpackStats,
    dirs: Vec<DeferredDir>,
    /// Paths written by this layer (for opaque directories in `Apply` mode).
    written: HashSet<PathBuf>,
    buf: Vec<u8>,
}

/// Unpacks the (uncompressed) tar stream `tar` into `root`. `subject` (the layer's digest)
/// names the layer in errors.
///
/// # Errors
/// [`Error::UnsafeLayerEntry`] for an entry that would escape the root,
/// [`Error::Unpack`] when writing an entry fails, [`Error::InvalidImage`] for a malformed tar.
pub(crate) fn unpack(
    mut tar: impl Read,
    root: &Path,
    opts: UnpackOptions,
    subject: &str,
) -> Result<UnpackStats> {
    if opts.owners == Owners::Keep && crate::paths::rootless() {
        let job = crate::userns::Job::Unpack {
            dest: root.to_owned(),
            overlay: matches!(opts.whiteouts, Whiteouts::Overlay { .. }),
            subject: subject.to_owned(),
        };
        let done = crate::userns::run(&job, Some(&mut tar), None)?;
        return Ok(UnpackStats {
            entries: done.entries,
            bytes: done.bytes,
            skipped_devices: done.skipped_devices,
        });
    }
    unpack_here(tar, root, opts, subject)
}

/// The [`Job::Unpack`](crate::userns::Job::Unpack) of the rootless store's helper, which is
/// root of the engine's user namespace: [`unpack`] keeping owners, in this process; the
/// rest of the stream is read to its end (the caller hashes all of it).
pub(crate) fn serve_unpack(
    tar: &mut dyn Read,
    dest: &Path,
    overlay: bool,
    subject: &str,
) -> Result<UnpackStats> {
    let opts = UnpackOptions {
        whiteouts: if overlay {
            Whiteouts::Overlay {
                opaque_xattr: "user.overlay.opaque",
            }
        } else {
            Whiteouts::Apply
        },
        owners: Owners::Keep,
    };
    let stats = unpack_here(&mut *tar, dest, opts, subject)?;
    io::copy(tar, &mut io::sink()).map_err(|e| Error::os("reading the layer", dest, e))?;
    Ok(stats)
}

/// Why an entry is refused, as [`Error::UnsafeLayerEntry`] says it.
const LEAVES_ROOT: &str = "path leaves the layer root";
const SYMLINK_NO_TARGET: &str = "symlink without a target";
const HARDLINK_NO_TARGET: &str = "hard link without a target";
const SYMLINK_OUT: &str = "symlink points outside the layer root";
const HARDLINK_OUT: &str = "hard link points outside the layer root";
const HARDLINK_SELF: &str = "hard link to itself";
const UNSAFE_REASONS: [&str; 6] = [
    LEAVES_ROOT,
    SYMLINK_NO_TARGET,
    HARDLINK_NO_TARGET,
    SYMLINK_OUT,
    HARDLINK_OUT,
    HARDLINK_SELF,
];

/// The reason of [`UNSAFE_REASONS`] that reads `s` (an error that crossed a process).
pub(crate) fn unsafe_reason(s: &str) -> &'static str {
    UNSAFE_REASONS
        .iter()
        .find(|r| **r == s)
        .copied()
        .unwrap_or("refused")
}

fn unpack_here(
    tar: impl Read,
    root: &Path,
    opts: UnpackOptions,
    subject: &str,
) -> Result<UnpackStats> {
    let root_fd = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::os("opening unpack root", root, e.into()))?;
    let mut u = Unpacker {
        root: root_fd,
        opts,
        subject,
        stats: UnpackStats::default(),
        dirs: Vec::new(),
        written: HashSet::new(),
        buf: vec![0; 256 << 10],
    };
    let mut archive = tar::Archive::new(tar);
    let entries = archive.entries().map_err(|e| u.bad_tar(e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| u.bad_tar(e))?;
        u.entry(&mut entry)?;
    }
    u.finish_dirs()?;
    Ok(u.stats)
}

impl Unpacker<'_> {
    fn bad_tar(&self, e: io::Error) -> Error {
        Error::InvalidImage {
            subject: format!("layer {}", self.subject),
            reason: format!("reading tar: {e}"),
        }
    }

    fn unsafe_entry(&self, entry: &Path, reason: &'static str) -> Error {
        Error::UnsafeLayerEntry {
            digest: self.subject.to_owned(),
            entry: entry.to_owned(),
            reason,
        }
    }

    fn io_err(&self, entry: &Path) -> impl Fn(io::Error) -> Error + 'static {
        let entry = entry.to_owned();
        let digest = self.subject.to_owned();
        move |source| Error::Unpack {
            digest: digest.clone(),
            entry: entry.clone(),
            source,
        }
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path().map_err(|e| self.bad_tar(e))?.into_owned();
        let rel = clean(&raw).ok_or_else(|| self.unsafe_entry(&raw, LEAVES_ROOT))?;
        let kind = entry.header().entry_type();
        let io_err = self.io_err(&raw);
        let name = rel.file_name().map(OsStr::to_owned);
        let parent_rel = rel.parent().map(Path::to_owned).unwrap_or_default();

        // whiteouts
        if let Some(n) = name
            .as_ref()
            .and_then(|n| n.as_bytes().strip_prefix(b".wh."))
        {
            if n == b".wh..opq" {
                return self.opaque(&raw, &parent_rel);
            }
            if n.starts_with(b".wh.") || n.is_empty() {
                return Ok(()); // aufs metadata (.wh..wh.plnk etc.)
            }
            let target = OsStr::from_bytes(n).to_owned();
            return self.whiteout(&raw, &parent_rel, &target);
        }

        let (mode, uid, gid, mtime) = self.meta(entry).map_err(|e| self.bad_tar(e))?;
        if self.opts.owners == Owners::OnlyRoot && (uid, gid) != (0, 0) {
            return Err(Error::Unsupported {
                what: format!(
                    "unpacking layer {} rootless: {} belongs to uid {uid}, gid {gid}",
                    self.subject,
                    raw.display()
                ),
                reason: "without subordinate ids the user's own id is the image's only one \
                         (root): give the user ranges in /etc/subuid and /etc/subgid \
                         (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 \
                         USER) and install uidmap"
                    .into(),
            });
        }
        let Some(name) = name else {
            // the root itself
            if kind.is_dir() {
                self.dirs.push(DeferredDir {
                    rel: PathBuf::new(),
                    mode,
                    mtime,
                });
            }
            return Ok(());
        };
        let parent = self.mkdir_all(&raw, &parent_rel)?;
        let existing = rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW).ok();
        if let Some(st) = existing {
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            if !(is_dir && kind.is_dir()) {
                remove_at(&parent, &name).map_err(&io_err)?;
            }
        }
        let m = Meta {
            mode,
            uid,
            gid,
            mtime,
        };
        let at = At {
            parent: &parent,
            name: &name,
            raw: &raw,
        };
        let made = match kind {
            tar::EntryType::Directory => self.make_dir(entry, &at, &rel, &m)?,
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                self.make_file(entry, &at, &m)?
            }
            tar::EntryType::Symlink => self.make_symlink(entry, &at, &parent_rel, &m)?,
            tar::EntryType::Link => self.make_hard_link(entry, &at, &rel)?,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                self.make_node(entry, kind, &at, &m)?
            }
            // pax/GNU headers are consumed by the tar crate; anything else is ignored
            _ => false,
        };
        if made {
            self.written.insert(rel);
            self.stats.entries += 1;
        }
        Ok(())
    }

    /// Gives `name` in `parent` the entry's owner, when unpacking keeps owners.
    fn chown_at(&self, at: &At<'_>, m: &Meta) -> io::Result<()> {
        if self.opts.owners == Owners::Keep {
            rustix::fs::chownat(
                at.parent,
                at.name,
                Some(rustix::fs::Uid::from_raw(m.uid)),
                Some(rustix::fs::Gid::from_raw(m.gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )?;
        }
        Ok(())
    }

    /// A directory entry: made (or kept, when one is there), owned, its xattrs set; its
    /// mode and mtime wait for [`finish_dirs`](Self::finish_dirs).
    fn make_dir<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        rel: &Path,
        m: &Meta,
    ) -> Result<bool> {
        let io_err = self.io_err(at.raw);
        match rustix::fs::mkdirat(at.parent, at.name, Mode::from_raw_mode(0o700)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(io_err(e.into())),
        }
        self.chown_at(at, m).map_err(&io_err)?;
        let fd = rustix::fs::openat(
            at.parent,
            at.name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        self.xattrs(entry, &fd);
        self.dirs.push(DeferredDir {
            rel: rel.to_owned(),
            mode: m.mode,
            mtime: m.mtime,
        });
        Ok(true)
    }

    /// A regular file: its content streamed in, then owner, mode (after the chown, which
    /// clears set-id bits), xattrs and mtime.
    fn make_file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        m: &Meta,
    ) -> Result<bool> {
        let io_err = self.io_err(at.raw);
        let fd = create_new(at.parent, at.name).map_err(|e| io_err(e.into()))?;
        let mut file = File::from(fd);
        loop {
            let n = match entry.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.bad_tar(e)),
            };
            file.write_all(&self.buf[..n]).map_err(&io_err)?;
            self.stats.bytes += n as u64;
        }
        if self.opts.owners == Owners::Keep {
            rustix::fs::fchown(
                &file,
                Some(rustix::fs::Uid::from_raw(m.uid)),
                Some(rustix::fs::Gid::from_raw(m.gid)),
            )
            .map_err(|e| io_err(e.into()))?;
        }
        // after chown, which clears set-id bits
        rustix::fs::fchmod(&file, Mode::from_raw_mode(m.mode)).map_err(|e| io_err(e.into()))?;
        self.xattrs(entry, file.as_fd());
        rustix::fs::futimens(&file, &m.times()).map_err(|e| io_err(e.into()))?;
        Ok(true)
    }

    /// The target of a link entry; `missing` says why an entry without one is refused.
    fn link_target<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        missing: &'static str,
    ) -> Result<PathBuf> {
        Ok(entry
            .link_name()
            .map_err(|e| self.bad_tar(e))?
            .ok_or_else(|| self.unsafe_entry(at.raw, missing))?
            .into_owned())
    }

    /// A symbolic link; a relative target must not climb out of the root (Docker's rule).
    fn make_symlink<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        parent_rel: &Path,
        m: &Meta,
    ) -> Result<bool> {
        let io_err = self.io_err(at.raw);
        let target = self.link_target(entry, at, SYMLINK_NO_TARGET)?;
        if target.is_relative() && clean(&parent_rel.join(&target)).is_none() {
            return Err(self.unsafe_entry(at.raw, SYMLINK_OUT));
        }
        rustix::fs::symlinkat(&target, at.parent, at.name).map_err(|e| io_err(e.into()))?;
        self.chown_at(at, m).map_err(&io_err)?;
        let _ = rustix::fs::utimensat(at.parent, at.name, &m.times(), AtFlags::SYMLINK_NOFOLLOW);
        Ok(true)
    }

    /// A hard link to an entry already unpacked, resolved inside the root.
    fn make_hard_link<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        rel: &Path,
    ) -> Result<bool> {
        let io_err = self.io_err(at.raw);
        let target = self.link_target(entry, at, HARDLINK_NO_TARGET)?;
        let target = clean(&target)
            .filter(|t| !t.as_os_str().is_empty())
            .ok_or_else(|| self.unsafe_entry(at.raw, HARDLINK_OUT))?;
        if target == rel {
            return Err(self.unsafe_entry(at.raw, HARDLINK_SELF));
        }
        let tname = target.file_name().expect("cleaned, non-empty").to_owned();
        let tparent = self
            .open_in_root(target.parent().unwrap_or(Path::new("")))
            .map_err(|e| io_err(e.into()))?;
        rustix::fs::linkat(&tparent, &tname, at.parent, at.name, AtFlags::empty())
            .map_err(|e| io_err(e.into()))?;
        Ok(true)
    }

    /// A device node or fifo; device nodes are skipped (counted) where the kernel refuses
    /// them to an unpacker that does not keep owners (rootless).
    fn make_node<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        kind: tar::EntryType,
        at: &At<'_>,
        m: &Meta,
    ) -> Result<bool> {
        let io_err = self.io_err(at.raw);
        let ft = match kind {
            tar::EntryType::Char => FileType::CharacterDevice,
            tar::EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        let h = entry.header();
        let major = h.device_major().ok().flatten().unwrap_or(0);
        let minor = h.device_minor().ok().flatten().unwrap_or(0);
        let dev = rustix::fs::makedev(major, minor);
        match rustix::fs::mknodat(at.parent, at.name, ft, Mode::from_raw_mode(m.mode), dev) {
            Ok(()) => {}
            Err(Errno::PERM) if self.opts.owners != Owners::Keep && ft != FileType::Fifo => {
                self.stats.skipped_devices += 1;
                return Ok(false);
            }
            Err(e) => return Err(io_err(e.into())),
        }
        self.chown_at(at, m).map_err(&io_err)?;
        rustix::fs::chmodat(
            at.parent,
            at.name,
            Mode::from_raw_mode(m.mode),
            AtFlags::empty(),
        )
        .map_err(|e| io_err(e.into()))?;
        let _ = rustix::fs::utimensat(at.parent, at.name, &m.times(), AtFlags::SYMLINK_NOFOLLOW);
        Ok(true)
    }

    /// Mode, uid, gid and mtime, pax records taking precedence.
    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> io::Result<(u32, u32, u32, i64)> {
        let h = entry.header();
        // lenient like Go's archive/tar: an empty numeric field is 0
        let mode = h.mode().unwrap_or(0o644) & 0o7777;
        let mut uid = h.uid().unwrap_or(0) as u32;
        let mut gid = h.gid().unwrap_or(0) as u32;
        let mut mtime = h.mtime().unwrap_or(0) as i64;
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax.flatten() {
                let (Ok(k), Ok(v)) = (ext.key(), ext.value()) else {
                    continue;
                };
                match k {
                    "uid" => uid = v.parse().unwrap_or(uid),
                    "gid" => gid = v.parse().unwrap_or(gid),
                    "mtime" => {
                        mtime = v
                            .split('.')
                            .next()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(mtime)
                    }
                    _ => {}
                }
            }
        }
        Ok((mode, uid, gid, mtime))
    }

    /// Sets the entry's `SCHILY.xattr.*` records on `fd`, where the filesystem allows.
    fn xattrs<R: Read>(&self, entry: &mut tar::Entry<'_, R>, fd: impl AsFd) {
        let Ok(Some(pax)) = entry.pax_extensions() else {
            return;
        };
        for ext in pax.flatten() {
            let Some(name) = ext.key_bytes().strip_prefix(b"SCHILY.xattr.") else {
                continue;
            };
            let name = OsStr::from_bytes(name);
            if name.as_bytes().windows(9).any(|w| w == b".overlay.")
                || name.as_bytes().starts_with(b"overlay.")
            {
                continue;
            }
            let _ = rustix::fs::fsetxattr(
                &fd,
                name,
                ext.value_bytes(),
                rustix::fs::XattrFlags::empty(),
            );
        }
    }

    /// Opens a directory inside the root, resolving symlinks inside it.
    fn open_in_root(&self, rel: &Path) -> rustix::io::Result<OwnedFd> {
        let p: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        rustix::fs::openat2(
            &self.root,
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
    }

    /// Opens (creating as needed, mode 0755) the directory `rel` inside the root.
    fn mkdir_all(&self, entry: &Path, rel: &Path) -> Result<OwnedFd> {
        self.mkdir_all_depth(entry, rel, 0)
    }

    fn mkdir_all_depth(&self, entry: &Path, rel: &Path, depth: u32) -> Result<OwnedFd> {
        let err = self.io_err(entry);
        if depth > 40 {
            return Err(err(Errno::LOOP.into()));
        }
        match self.open_in_root(rel) {
            Ok(fd) => return Ok(fd),
            Err(Errno::NOENT) => {}
            Err(e) => return Err(err(e.into())),
        }
        let mut cur = self
            .open_in_root(Path::new(""))
            .map_err(|e| err(e.into()))?;
        let mut prefix = PathBuf::new();
        for c in rel.components() {
            prefix.push(c);
            match self.open_in_root(&prefix) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(Errno::NOENT) => {}
                Err(e) => return Err(err(e.into())),
            }
            match rustix::fs::mkdirat(&cur, c.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // a dangling symlink: create its target, inside the root
                    let target = rustix::fs::readlinkat(&cur, c.as_os_str(), Vec::new())
                        .map_err(|e| err(e.into()))?;
                    let target = Path::new(OsStr::from_bytes(target.as_bytes()));
                    let base = prefix.parent().unwrap_or(Path::new(""));
                    let resolved = clean_clamped(&if target.is_absolute() {
                        target.to_owned()
                    } else {
                        base.join(target)
                    });
                    self.mkdir_all_depth(entry, &resolved, depth + 1)?;
                }
                Err(e) => return Err(err(e.into())),
            }
            cur = self.open_in_root(&prefix).map_err(|e| err(e.into()))?;
        }
        Ok(cur)
    }

    fn whiteout(&mut self, raw: &Path, parent_rel: &Path, target: &OsStr) -> Result<()> {
        let io_err = self.io_err(raw);
        match self.opts.whiteouts {
            Whiteouts::Overlay { .. } => {
                let parent = self.mkdir_all(raw, parent_rel)?;
                if rustix::fs::statat(&parent, target, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                    remove_at(&parent, target).map_err(&io_err)?;
                }
                rustix::fs::mknodat(&parent, target, FileType::CharacterDevice, Mode::empty(), 0)
                    .map_err(|e| io_err(e.into()))?;
            }
            Whiteouts::Apply => {
                let parent = match self.open_in_root(parent_rel) {
                    Ok(fd) => fd,
                    Err(Errno::NOENT | Errno::NOTDIR) => return Ok(()),
                    Err(e) => return Err(io_err(e.into())),
                };
                remove_at(&parent, target).map_err(&io_err)?;
            }
        }
        self.stats.entries += 1;
        Ok(())
    }

    fn opaque(&mut self, raw: &Path, dir_rel: &Path) -> Result<()> {
        let io_err = self.io_err(raw);
        self.mkdir_all(raw, dir_rel)?;
        let p: &Path = if dir_rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir_rel
        };
        let dir = rustix::fs::openat2(
            &self.root,
            p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| io_err(e.into()))?;
        match self.opts.whiteouts {
            Whiteouts::Overlay { opaque_xattr } => {
                rustix::fs::fsetxattr(&dir, opaque_xattr, b"y", rustix::fs::XattrFlags::empty())
                    .map_err(|e| io_err(e.into()))?;
            }
            Whiteouts::Apply => {
                // remove what lower layers put here, keep what this layer wrote
                let names = list_dir(&dir).map_err(&io_err)?;
                for n in names {
                    if !self.written.contains(&dir_rel.join(&n)) {
                        remove_at(&dir, &n).map_err(&io_err)?;
                    }
                }
            }
        }
        self.stats.entries += 1;
        Ok(())
    }

    /// Sets directory modes and mtimes, deepest first.
    fn finish_dirs(&mut self) -> Result<()> {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.components().count()));
        for d in dirs {
            let Ok(fd) = self.open_in_root(&d.rel) else {
                continue;
            };
            // O_PATH fds cannot be chmodded; reopen for real through /proc-free openat
            let Ok(dir) = rustix::fs::openat(
                &fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            ) else {
                continue;
            };
            let io_err = self.io_err(&d.rel);
            rustix::fs::fchmod(&dir, Mode::from_raw_mode(d.mode)).map_err(|e| io_err(e.into()))?;
            let t = Timestamps {
                last_access: ts(d.mtime),
                last_modification: ts(d.mtime),
            };
            rustix::fs::futimens(&dir, &t).map_err(|e| io_err(e.into()))?;
        }
        Ok(())
    }
}

/// Creates `name` in `dir` as a new regular file for writing, mode 0600 until its own is
/// set: never through a symlink, never over an existing entry.
pub(crate) fn create_new(
    dir: impl AsFd,
    name: impl rustix::path::Arg,
) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
}

/// An entry's mode, owner and mtime (pax records taking precedence).
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl Meta {
    fn times(&self) -> Timestamps {
        Timestamps {
            last_access: ts(self.mtime),
            last_modification: ts(self.mtime),
        }
    }
}

/// Where an entry goes: its name in its (already opened) parent directory, and its raw
/// path in the tar for errors.
struct At<'a> {
    parent: &'a OwnedFd,
    name: &'a OsStr,
    raw: &'a Path,
}

fn ts(secs: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    }
}

/// Names in a directory, without `.` and `..`.
fn list_dir(dir: &OwnedFd) -> io::Result<Vec<std::ffi::OsString>> {
    let mut out = Vec::new();
    for e in rustix::fs::Dir::read_from(dir)? {
        let e = e?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            out.push(OsStr::from_bytes(n).to_owned());
        }
    }
    Ok(out)
}

/// Removes `name` in `parent` (a whole tree if it is a directory) without following links.
fn remove_at(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let st = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let dir = rustix::fs::openat(
            parent,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let _ = rustix::fs::fchmod(&dir, Mode::from_raw_mode(0o700));
        for n in list_dir(&dir)? {
            remove_at(&dir, &n)?;
        }
        rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    } else {
        rustix::fs::unlinkat(parent, name, AtFlags::empty())?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    /// Builds a tar in memory from (path, kind) entries.
    pub(crate) enum E<'a> {
        File(&'a str, &'a [u8], u32),
        Dir(&'a str, u32),
        Sym(&'a str, &'a str),
        Hard(&'a str, &'a str),
        Fifo(&'a str),
        /// A raw name, written without the tar crate's path checks.
        RawFile(&'a str, &'a [u8]),
    }

    pub(crate) fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mtime(1_600_000_000);
            h.set_uid(0);
            h.set_gid(0);
            match e {
                E::File(p, data, mode) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(*mode);
                    h.set_size(data.len() as u64);
                    b.append_data(&mut h, p, *data).unwrap();
                }
                E::RawFile(p, data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(0o644);
                    h.set_size(data.len() as u64);
                    let name = &mut h.as_old_mut().name;
                    name[..p.len()].copy_from_slice(p.as_bytes());
                    h.set_cksum();
                    b.append(&h, *data).unwrap();
                }
                E::Dir(p, mode) => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_mode(*mode);
                    h.set_size(0);
                    b.append_data(&mut h, p, io::empty()).unwrap();
                }
                E::Sym(p, t) => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    h.set_mode(0o777);
                    b.append_link(&mut h, p, t).unwrap();
                }
                E::Hard(p, t) => {
                    h.set_entry_type(tar::EntryType::Link);
                    h.set_size(0);
                    h.set_mode(0o644);
                    b.append_link(&mut h, p, t).unwrap();
                }
                E::Fifo(p) => {
                    h.set_entry_type(tar::EntryType::Fifo);
                    h.set_size(0);
                    h.set_mode(0o600);
                    b.append_data(&mut h, p, io::empty()).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    fn overlay() -> UnpackOptions {
        UnpackOptions::for_layer()
    }

    fn run(tar: &[u8], root: &Path, o: UnpackOptions) -> Result<UnpackStats> {
        unpack(tar, root, o, "sha256:test")
    }

    /// A temp dir and an empty `root` in it, so that a test sees what lands outside.
    fn root_in_tempdir() -> (tempfile::TempDir, PathBuf) {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        fs::create_dir(&root).unwrap();
        (outer, root)
    }

    #[test]
    fn files_dirs_links_modes_mtimes() {
        let d = tempfile::tempdir().unwrap();
        let tar = tar_of(&[
            E::Dir("etc/", 0o755),
            E::File("etc/passwd", b"root:x:0:0\n", 0o644),
            E::File("bin/tool", b"#!/bin/sh\n", 0o4755),
            E::Sym("bin/sh", "/bin/tool"),
            E::Hard("bin/tool2", "bin/tool"),
            E::Dir("ro/", 0o555),
            E::File("ro/inside", b"x", 0o400),
            E::Fifo("run/fifo"),
        ]);
        let st = run(&tar, d.path(), overlay()).unwrap();
        assert_eq!(st.entries, 8);
        let p = d.path();
        assert_eq!(fs::read(p.join("etc/passwd")).unwrap(), b"root:x:0:0\n");
        let m = fs::metadata(p.join("bin/tool")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
        assert_eq!(m.mtime(), 1_600_000_000);
        assert_eq!(m.nlink(), 2);
        assert_eq!(
            fs::read_link(p.join("bin/sh")).unwrap(),
            Path::new("/bin/tool")
        );
        assert_eq!(fs::metadata(p.join("bin/tool2")).unwrap().ino(), m.ino());
        let ro = fs::metadata(p.join("ro")).unwrap();
        assert_eq!(ro.permissions().mode() & 0o777, 0o555);
        assert_eq!(
            ro.mtime(),
            1_600_000_000,
            "dir mtime set after its children"
        );
        assert_eq!(fs::read(p.join("ro/inside")).unwrap(), b"x");
        assert!(fs::symlink_metadata(p.join("run/fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        // implicit parent dirs get 0755
        assert_eq!(
            fs::metadata(p.join("bin")).unwrap().permissions().mode() & 0o777,
            0o755
        );
        fs::set_permissions(p.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn dotdot_and_absolute_paths_are_contained() {
        let (outer, root) = root_in_tempdir();
        // absolute paths land inside the root
        run(&tar_of(&[E::RawFile("/abs", b"a")]), &root, overlay()).unwrap();
        assert_eq!(fs::read(root.join("abs")).unwrap(), b"a");
        // .. that climbs out is refused
        for name in ["../escape", "a/../../escape", "./../../escape"] {
            let e = run(&tar_of(&[E::RawFile(name, b"evil")]), &root, overlay()).unwrap_err();
            assert!(matches!(e, Error::UnsafeLayerEntry { .. }), "{name}: {e}");
            assert!(e.to_string().contains("sha256:test"), "{e}");
        }
        assert!(!outer.path().join("escape").exists());
        // .. that stays inside is fine
        run(
            &tar_of(&[E::RawFile("a/../inside", b"i")]),
            &root,
            overlay(),
        )
        .unwrap();
        assert_eq!(fs::read(root.join("inside")).unwrap(), b"i");
    }

    #[test]
    fn symlinked_parents_resolve_inside_the_root() {
        let (outer, root) = root_in_tempdir();
        let victim = outer.path().join("victim");
        fs::create_dir(&victim).unwrap();
        // an absolute symlink to the host dir, then a file through it
        let tar = tar_of(&[
            E::Sym("evil", victim.to_str().unwrap()),
            E::File("evil/pwned", b"x", 0o644),
            E::Sym("up", "/"),
            E::File("up/etc/owned", b"y", 0o644),
        ]);
        run(&tar, &root, overlay()).unwrap();
        assert_eq!(
            fs::read_dir(&victim).unwrap().count(),
            0,
            "nothing written outside"
        );
        // the link resolved inside the root: <root>/<victim path>/pwned
        let inside = root.join(victim.strip_prefix("/").unwrap()).join("pwned");
        assert_eq!(fs::read(inside).unwrap(), b"x");
        assert_eq!(fs::read(root.join("etc/owned")).unwrap(), b"y");
    }

    #[test]
    fn a_file_over_a_symlink_replaces_the_link() {
        let (outer, root) = root_in_tempdir();
        let target = outer.path().join("target");
        fs::write(&target, b"host").unwrap();
        let tar = tar_of(&[
            E::Sym("f", target.to_str().unwrap()),
            E::File("f", b"layer", 0o644),
        ]);
        run(&tar, &root, overlay()).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"host");
        assert_eq!(fs::read(root.join("f")).unwrap(), b"layer");
        assert!(fs::symlink_metadata(root.join("f")).unwrap().is_file());
    }

    #[test]
    fn links_out_of_the_root_are_refused() {
        let (outer, root) = root_in_tempdir();
        fs::write(outer.path().join("secret"), b"s").unwrap();
        let e = run(&tar_of(&[E::Hard("h", "../secret")]), &root, overlay()).unwrap_err();
        assert!(e.to_string().contains("hard link points outside"), "{e}");
        let e = run(&tar_of(&[E::Sym("a/s", "../../secret")]), &root, overlay()).unwrap_err();
        assert!(e.to_string().contains("symlink points outside"), "{e}");
        // a hard link through a symlink to the host resolves inside the root: target missing
        let tar = tar_of(&[
            E::Sym("l", outer.path().to_str().unwrap()),
            E::Hard("h2", "l/secret"),
        ]);
        assert!(run(&tar, &root, overlay()).is_err());
        assert!(!root.join("h2").exists());
        assert_eq!(
            fs::metadata(outer.path().join("secret")).unwrap().nlink(),
            1
        );
    }

    #[test]
    fn overlay_whiteouts() {
        let d = tempfile::tempdir().unwrap();
        let tar = tar_of(&[
            E::File("a/.wh.gone", b"", 0o644),
            E::Dir("o/", 0o755),
            E::File("o/.wh..wh..opq", b"", 0o644),
            E::File("o/new", b"n", 0o644),
        ]);
        let r = run(&tar, d.path(), overlay());
        let p = d.path();
        let m = fs::symlink_metadata(p.join("a/gone")).unwrap();
        assert!(m.file_type().is_char_device());
        assert_eq!(m.rdev(), 0);
        assert!(!p.join("a/.wh.gone").exists());
        match r {
            Ok(_) => {
                let v = rustix::fs::getxattr(p.join("o"), opaque_xattr(), &mut [0u8; 4][..]);
                assert_eq!(v.unwrap(), 1);
            }
            // tmpfs without user xattrs (non-root): the error names the marker
            Err(e) => assert!(e.to_string().contains(".wh..wh..opq"), "{e}"),
        }
    }

    #[test]
    fn applied_whiteouts_flatten_layers() {
        let d = tempfile::tempdir().unwrap();
        let l1 = tar_of(&[
            E::File("keep", b"k", 0o644),
            E::File("gone", b"g", 0o644),
            E::Dir("dir/", 0o755),
            E::File("dir/old", b"o", 0o644),
            E::Dir("dir/sub/", 0o755),
            E::File("dir/sub/deep", b"d", 0o644),
            E::File("tree/x/y", b"y", 0o644),
            E::File("replaced", b"1", 0o644),
        ]);
        let l2 = tar_of(&[
            E::File(".wh.gone", b"", 0o644),
            E::File(".wh.tree", b"", 0o644),
            E::File("dir/new", b"n", 0o644),
            E::File("dir/.wh..wh..opq", b"", 0o644),
            E::File("replaced", b"2", 0o600),
        ]);
        let o = UnpackOptions::flatten();
        run(&l1, d.path(), o).unwrap();
        run(&l2, d.path(), o).unwrap();
        let p = d.path();
        assert_eq!(fs::read(p.join("keep")).unwrap(), b"k");
        assert!(!p.join("gone").exists());
        assert!(!p.join("tree").exists());
        assert!(!p.join("dir/old").exists());
        assert!(!p.join("dir/sub").exists());
        assert_eq!(
            fs::read(p.join("dir/new")).unwrap(),
            b"n",
            "opaque keeps this layer's files"
        );
        assert_eq!(fs::read(p.join("replaced")).unwrap(), b"2");
        assert_eq!(
            fs::metadata(p.join("replaced"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }

    #[test]
    fn compressed_streams_are_sniffed() {
        let tar = tar_of(&[E::File("f", b"hello", 0o644)]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        for blob in [tar.clone(), gz, zst] {
            let d = tempfile::tempdir().unwrap();
            let r = decompress(&blob[..]).unwrap();
            run_reader(r, d.path());
            assert_eq!(fs::read(d.path().join("f")).unwrap(), b"hello");
        }
    }

    fn run_reader(r: impl Read, root: &Path) {
        unpack(r, root, overlay(), "sha256:test").unwrap();
    }

    #[test]
    fn truncated_tar_is_an_error() {
        let tar = tar_of(&[E::File("f", &[7u8; 4096], 0o644)]);
        let d = tempfile::tempdir().unwrap();
        let e = run(&tar[..1024], d.path(), overlay()).unwrap_err();
        assert!(e.to_string().contains("sha256:test"), "{e}");
    }

    #[test]
    fn overlay_xattrs_from_the_tar_are_not_set() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_pax_extensions([
            ("SCHILY.xattr.user.overlay.redirect", &b"/etc"[..]),
            ("SCHILY.xattr.user.ok", &b"1"[..]),
        ])
        .unwrap();
        b.append_data(&mut h, "d/", io::empty()).unwrap();
        let tar = b.into_inner().unwrap();
        let d = tempfile::tempdir().unwrap();
        run(&tar, d.path(), overlay()).unwrap();
        let mut buf = [0u8; 16];
        assert!(
            rustix::fs::getxattr(d.path().join("d"), "user.overlay.redirect", &mut buf[..])
                .is_err()
        );
        // user.ok is set where the filesystem supports user xattrs
        if let Ok(n) = rustix::fs::getxattr(d.path().join("d"), "user.ok", &mut buf[..]) {
            assert_eq!(&buf[..n], b"1");
        }
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean(Path::new("/a/./b/../c")).unwrap(), Path::new("a/c"));
        assert_eq!(clean(Path::new("./")).unwrap(), Path::new(""));
        assert!(clean(Path::new("a/../..")).is_none());
    }

    /// A fuzz-style sweep: random byte flips in a tar of every entry kind never panic and
    /// never write outside the root.
    #[test]
    fn mutated_tars_stay_inside_the_root() {
        let base = tar_of(&[
            E::Dir("d/", 0o755),
            E::File("d/f", b"data", 0o644),
            E::Sym("d/s", "../d/f"),
            E::Hard("d/h", "d/f"),
            E::File("d/.wh.x", b"", 0o644),
            E::File("d/.wh..wh..opq", b"", 0o644),
            E::Fifo("p"),
            E::Sym("abs", "/"),
            E::File("abs/through", b"t", 0o644),
        ]);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..300 {
            let (outer, root) = root_in_tempdir();
            let mut t = base.clone();
            for _ in 0..(1 + next() % 8) {
                // mostly headers: that is where the paths and types are
                let i = (next() % t.len() as u64) as usize;
                let i = if next() % 4 == 0 {
                    i
                } else {
                    i % 512 + 512 * (next() % (t.len() / 512) as u64) as usize
                };
                t[i] = (next() & 0xff) as u8;
            }
            let opts = if round % 2 == 0 {
                overlay()
            } else {
                UnpackOptions::flatten()
            };
            let _ = unpack(&t[..], &root, opts, "sha256:fuzz");
            let outside: Vec<_> = fs::read_dir(outer.path())
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(
                outside,
                vec![std::ffi::OsString::from("root")],
                "round {round}"
            );
            let _ = crate::store::remove_any(&root);
        }
    }

    /// Devices and ownership: applied as root, skipped (devices) or left (owner) otherwise.
    #[test]
    fn devices_and_ownership() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Char);
        h.set_mode(0o666);
        h.set_size(0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        b.append_data(&mut h, "dev/null", io::empty()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(0o640);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_size(1);
        b.append_data(&mut h, "owned", &b"x"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let d = tempfile::tempdir().unwrap();
        let st = run(&tar, d.path(), overlay()).unwrap();
        let owned = fs::metadata(d.path().join("owned")).unwrap();
        if rustix::process::geteuid().is_root() {
            let m = fs::symlink_metadata(d.path().join("dev/null")).unwrap();
            assert!(m.file_type().is_char_device());
            assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
            assert_eq!((owned.uid(), owned.gid()), (1234, 5678));
            assert_eq!(st.skipped_devices, 0);
        } else {
            assert_eq!(st.skipped_devices, 1);
            assert!(!d.path().join("dev/null").exists());
            assert_eq!(owned.uid(), rustix::process::geteuid().as_raw());
        }
        assert_eq!(owned.permissions().mode() & 0o7777, 0o640);
    }
}
