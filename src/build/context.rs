//! The build context: the directory `docker build` is given, less what `.dockerignore`
//! excludes, and the content digest COPY and ADD are cached by.
//!
//! - [`Context::walk`] lists the context as BuildKit sends it: depth first, each
//!   directory's entries in byte order of their names, symlinks listed and never followed,
//!   paths relative to the root and `/`-separated, fifos, sockets and device nodes listed
//!   with their kind (the builder decides what to do with them). An excluded directory is
//!   skipped whole when [`Ignore::may_skip_dir`] allows; otherwise the walk descends, and an
//!   excluded directory is listed after all when something under it is re-included (as
//!   fsutil sends the parents of what it sends).
//! - [`Context::resolve`] expands one COPY/ADD source as Docker does: a leading `/` is the
//!   context root, the path is cleaned (`a/../b` is `b`), and one that still climbs out
//!   (`../x`) is refused. A component with a wildcard (`*`, `?` or `[` not escaped by `\`)
//!   is Go's `filepath.Match` against the names of the directory (in byte order); a glob
//!   that matches nothing is an error naming the source, and so is a missing path.
//!   Symlinks on the way, and the source itself, are followed inside the context: one
//!   whose target is absolute or climbs above the root is refused, naming the source and
//!   the link. Paths `.dockerignore` excludes are not there for COPY.
//! - [`Context::digest`] is the cache key of a set of sources: a sha256 over, for each
//!   match and everything under it, the relative path, the file type, the mode bits
//!   (permissions, setuid/setgid/sticky), uid, gid, size (not for directories, whose size
//!   depends on the file system), the device number of a device node, the target of a
//!   symlink and the content of a regular file (hashed streaming, 64 KiB at a time). Never
//!   a time stamp: `touch` keeps the key, an edit, a chmod, a rename, a new file or a
//!   retargeted symlink change it. Two directories with the same files give the same key.
//!
//! The context is the user's own directory, so the lookups here are plain `lstat`s by
//! path, component by component, not an fd walk: a context changed while the build reads
//! it gives a wrong key or an error, not an escape of the builder (the builder copies
//! with its own in-root resolution).

use std::collections::VecDeque;
use std::fs::{self, Metadata};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

use super::ignore::{go_clean, go_match, Ignore};
use crate::{Error, Result};

/// Symlinks followed while resolving one source before giving up (Linux's `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// A build context directory and its `.dockerignore`.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    root: PathBuf,
    ignore: Ignore,
}

/// The type of a context entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
}

/// One file, directory, symlink or special file of the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Relative to the context root, `/`-separated; empty for the root itself.
    pub(crate) path: PathBuf,
    pub(crate) kind: FileKind,
    /// Permission bits with setuid, setgid and sticky (`st_mode & 0o7777`).
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// Bytes of a file, length of a symlink's target.
    pub(crate) size: u64,
    /// The device number of a device node, 0 otherwise.
    pub(crate) rdev: u64,
    /// A symlink's target, as written.
    pub(crate) target: Option<PathBuf>,
}

impl Entry {
    /// A fifo, socket or device node: content that cannot be read as a file.
    #[cfg(test)]
    pub(crate) fn is_special(&self) -> bool {
        !matches!(
            self.kind,
            FileKind::File | FileKind::Dir | FileKind::Symlink
        )
    }
}

impl Context {
    /// A context at `root` that excludes what `ignore` says.
    pub(crate) fn new(root: impl AsRef<Path>, ignore: Ignore) -> Context {
        Context {
            root: root.as_ref().to_path_buf(),
            ignore,
        }
    }

    /// The context at `root` with its `.dockerignore`, if it has one.
    ///
    /// # Errors
    /// [`Error::Os`] when `.dockerignore` exists but cannot be read,
    /// [`Error::BuildContext`] when a line of it is malformed.
    pub(crate) fn open(root: impl AsRef<Path>) -> Result<Context> {
        let root = root.as_ref();
        let file = root.join(".dockerignore");
        let ignore = match fs::read(&file) {
            Ok(text) => Ignore::parse(text)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ignore::default(),
            Err(source) => return Err(os("reading", file, source)),
        };
        Ok(Context::new(root, ignore))
    }

    /// The context directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The context's ignore patterns.
    pub(crate) fn ignore(&self) -> &Ignore {
        &self.ignore
    }

    /// Every entry of the context but the root, in walk order (see the module docs).
    ///
    /// # Errors
    /// [`Error::Os`] naming the directory or entry that cannot be read.
    #[cfg(test)]
    pub(crate) fn walk(&self) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        self.walk_dir(Path::new(""), &mut out, &mut Vec::new())?;
        Ok(out)
    }

    /// Everything under the context directory `dir` (relative, not followed if a
    /// symlink), `dir` excluded, in walk order.
    fn walk_dir(&self, dir: &Path, out: &mut Vec<Entry>, pending: &mut Vec<Entry>) -> Result<()> {
        let abs = self.root.join(dir);
        let mut names: Vec<_> = fs::read_dir(&abs)
            .map_err(|e| os("reading build context directory", &abs, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| os("reading build context directory", &abs, e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let rel = dir.join(&name);
            let excluded = self.ignore.is_excluded(&rel);
            let entry = self.entry(&rel)?;
            let is_dir = entry.kind == FileKind::Dir;
            if excluded {
                if is_dir && !self.ignore.may_skip_dir(&rel) {
                    let depth = pending.len();
                    pending.push(entry);
                    self.walk_dir(&rel, out, pending)?;
                    pending.truncate(depth);
                }
                continue;
            }
            // The excluded directories above re-included entries are listed first.
            out.append(pending);
            out.push(entry);
            if is_dir {
                self.walk_dir(&rel, out, pending)?;
            }
        }
        Ok(())
    }

    /// The entry at the context path `rel` (not followed if a symlink).
    fn entry(&self, rel: &Path) -> Result<Entry> {
        let abs = self.root.join(rel);
        let meta =
            fs::symlink_metadata(&abs).map_err(|e| os("reading build context entry", &abs, e))?;
        let kind = kind_of(&meta);
        let target = if kind == FileKind::Symlink {
            Some(fs::read_link(&abs).map_err(|e| os("reading symlink", &abs, e))?)
        } else {
            None
        };
        Ok(Entry {
            path: rel.to_path_buf(),
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: if kind == FileKind::Dir {
                0
            } else {
                meta.size()
            },
            rdev: meta.rdev(),
            target,
        })
    }

    /// The entries one COPY/ADD source names, in order (see the module docs): the files
    /// and directories themselves, symlinks followed.
    ///
    /// # Errors
    /// [`Error::BuildContext`] naming the source when it leaves the context (`..`, a
    /// symlink out), when it or its glob matches nothing, or when a glob is malformed;
    /// [`Error::Os`] when the context cannot be read.
    pub(crate) fn resolve(&self, source: &str) -> Result<Vec<Entry>> {
        let refuse = |reason: String| Error::BuildContext {
            subject: format!("source {source:?}"),
            reason,
        };
        let bytes = source.as_bytes();
        let rel = go_clean(bytes.strip_prefix(b"/").unwrap_or(bytes));
        if rel == b".." || rel.starts_with(b"../") {
            return Err(refuse("outside the build context".into()));
        }
        let comps: Vec<&[u8]> = if rel == b"." {
            Vec::new()
        } else {
            rel.split(|&b| b == b'/').collect()
        };
        let mut found = Vec::new();
        self.expand(Vec::new(), &comps, source, &mut found)?;
        if found.is_empty() {
            let reason = if comps.iter().any(|c| has_wildcards(c)) {
                "no files match the pattern"
            } else {
                "not found in the build context"
            };
            return Err(refuse(reason.into()));
        }
        found
            .into_iter()
            .map(|comps| self.entry(&to_path(&comps)))
            .collect()
    }

    /// Matches `rest` below the resolved directory `cur`, adding whole paths to `out`.
    fn expand(
        &self,
        cur: Vec<Vec<u8>>,
        rest: &[&[u8]],
        source: &str,
        out: &mut Vec<Vec<Vec<u8>>>,
    ) -> Result<()> {
        let Some((&comp, rest)) = rest.split_first() else {
            out.push(cur);
            return Ok(());
        };
        if !has_wildcards(comp) {
            if let Some(next) = self.follow(cur, VecDeque::from([comp.to_vec()]), source)? {
                self.expand(next, rest, source, out)?;
            }
            return Ok(());
        }
        let dir = self.root.join(to_path(&cur));
        let mut names: Vec<Vec<u8>> = match fs::read_dir(&dir) {
            Ok(rd) => rd
                .map(|e| e.map(|e| e.file_name().into_vec()))
                .collect::<io::Result<_>>()
                .map_err(|e| os("reading build context directory", &dir, e))?,
            Err(e) if gone(&e) => return Ok(()),
            Err(e) => return Err(os("reading build context directory", &dir, e)),
        };
        names.sort();
        for name in names {
            let matched = go_match(comp, &name).map_err(|_| Error::BuildContext {
                subject: format!("source {source:?}"),
                reason: "syntax error in pattern".into(),
            })?;
            if matched {
                if let Some(next) = self.follow(cur.clone(), VecDeque::from([name]), source)? {
                    self.expand(next, rest, source, out)?;
                }
            }
        }
        Ok(())
    }

    /// Walks `todo` from the resolved directory `cur`, following every symlink inside the
    /// context: the resolved path, or `None` when something on the way is missing, not a
    /// directory or excluded.
    fn follow(
        &self,
        mut cur: Vec<Vec<u8>>,
        mut todo: VecDeque<Vec<u8>>,
        source: &str,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let mut links = 0;
        // The last symlink followed: only a symlink's target brings `..` here.
        let mut link = PathBuf::new();
        while let Some(c) = todo.pop_front() {
            match c.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    if cur.pop().is_none() {
                        return Err(link_out(source, &link));
                    }
                    continue;
                }
                _ => {}
            }
            cur.push(c);
            let rel = to_path(&cur);
            let abs = self.root.join(&rel);
            let meta = match fs::symlink_metadata(&abs) {
                Ok(m) => m,
                Err(e) if gone(&e) => return Ok(None),
                Err(e) => return Err(os("reading build context entry", &abs, e)),
            };
            if meta.file_type().is_symlink() {
                // An excluded link is not in the context; an excluded directory on the
                // way may still hold a re-included path, so only the end is checked.
                if self.ignore.is_excluded(&rel) {
                    return Ok(None);
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(Error::BuildContext {
                        subject: format!("source {source:?}"),
                        reason: format!("too many levels of symbolic links at {}", rel.display()),
                    });
                }
                let target = fs::read_link(&abs).map_err(|e| os("reading symlink", &abs, e))?;
                if target.is_absolute() {
                    return Err(link_out(source, &rel));
                }
                cur.pop();
                for t in target.as_os_str().as_bytes().split(|&b| b == b'/').rev() {
                    todo.push_front(t.to_vec());
                }
                link = rel;
                continue;
            }
            if todo.is_empty() {
                if self.ignore.is_excluded(&rel) && !self.reincludes(&rel, &meta)? {
                    return Ok(None);
                }
            } else if !meta.is_dir() {
                return Ok(None);
            }
        }
        Ok(Some(cur))
    }

    /// Whether the excluded `rel` is in the context after all: a directory with something
    /// re-included under it (the walk lists it then).
    fn reincludes(&self, rel: &Path, meta: &Metadata) -> Result<bool> {
        if !meta.is_dir() || self.ignore.may_skip_dir(rel) {
            return Ok(false);
        }
        let mut under = Vec::new();
        self.walk_dir(rel, &mut under, &mut Vec::new())?;
        Ok(!under.is_empty())
    }

    /// The cache key of `sources` (see the module docs): the sha256 of their matches'
    /// relative paths, types, metadata and contents, in the sources' order.
    ///
    /// # Errors
    /// As [`resolve`](Self::resolve) for each source; [`Error::Os`] naming a file or
    /// directory that cannot be read.
    pub(crate) fn digest(&self, sources: &[impl AsRef<str>]) -> Result<Digest> {
        let mut h = Sha256::new();
        for source in sources {
            let found = self.resolve(source.as_ref())?;
            h.update(b"source\0");
            h.update((found.len() as u64).to_le_bytes());
            for m in found {
                // The match's own path, then everything under it relative to it.
                field(&mut h, m.path.as_os_str().as_bytes());
                let mut entries = vec![m.clone()];
                if m.kind == FileKind::Dir {
                    let mut under = Vec::new();
                    self.walk_dir(&m.path, &mut under, &mut Vec::new())?;
                    entries.extend(under);
                }
                h.update((entries.len() as u64).to_le_bytes());
                for e in &entries {
                    let rel = e.path.strip_prefix(&m.path).unwrap_or(&e.path);
                    self.hash_entry(&mut h, rel, e)?;
                }
            }
        }
        Ok(crate::store::sha256_digest(&h.finalize()))
    }

    fn hash_entry(&self, h: &mut Sha256, rel: &Path, e: &Entry) -> Result<()> {
        field(h, rel.as_os_str().as_bytes());
        h.update([e.kind as u8]);
        h.update(e.mode.to_le_bytes());
        h.update(e.uid.to_le_bytes());
        h.update(e.gid.to_le_bytes());
        h.update(e.size.to_le_bytes());
        h.update(e.rdev.to_le_bytes());
        field(
            h,
            e.target
                .as_deref()
                .map_or(&[][..], |t| t.as_os_str().as_bytes()),
        );
        if e.kind == FileKind::File {
            h.update(self.content_hash(&e.path)?);
        }
        Ok(())
    }

    /// The sha256 of a regular file's content (never following a symlink).
    fn content_hash(&self, rel: &Path) -> Result<[u8; 32]> {
        let abs = self.root.join(rel);
        super::hashes::read_sha256(&abs).map_err(|e| os("reading build context file", &abs, e))
    }
}

/// A length-prefixed field, so that no two sequences of fields hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn kind_of(meta: &Metadata) -> FileKind {
    let t = meta.file_type();
    if t.is_dir() {
        FileKind::Dir
    } else if t.is_symlink() {
        FileKind::Symlink
    } else if t.is_fifo() {
        FileKind::Fifo
    } else if t.is_socket() {
        FileKind::Socket
    } else if t.is_char_device() {
        FileKind::CharDevice
    } else if t.is_block_device() {
        FileKind::BlockDevice
    } else {
        FileKind::File
    }
}

/// Docker's `containsWildcards`: `*`, `?` or `[` not escaped by `\`.
pub(crate) fn has_wildcards(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        match name[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

fn to_path(comps: &[Vec<u8>]) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(comps.join(&b'/')))
}

/// A missing path, or a path through something that is not a directory.
fn gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

fn link_out(source: &str, link: &Path) -> Error {
    Error::BuildContext {
        subject: format!("source {source:?}"),
        reason: format!("symlink {} leads outside the build context", link.display()),
    }
}

fn os(op: &str, path: impl AsRef<Path>, source: io::Error) -> Error {
    Error::Os {
        op: op.to_string(),
        path: path.as_ref().to_path_buf(),
        source,
    }
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
