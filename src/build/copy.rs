//! COPY and ADD: the layer they write, with the semantics of BuildKit's Dockerfile frontend
//! (`dispatchCopy`), its file backend (`solver/llbsolver/file`) and fsutil's `copy`.
//!
//! The layer is a diff written straight into a [`TarWriter`]: the step's root file system
//! (`dest_root`, layer directories top first) is only read, to learn what exists at the
//! destination and to look up `--chown` names. The rules:
//!
//! - **Destination.** A relative destination joins the WORKDIR. It is a directory when it
//!   ends in `/` (or is `.`, or ends in `/.`), or when it is an existing directory; symlinks
//!   on the way are followed inside the root file system (`/bin/` on a merged-usr image is
//!   `/usr/bin/`), as `fs.RootPath` does. More than one source (wildcard matches and
//!   heredocs count) needs a destination ending in `/`: Docker's documented rule and the
//!   classic builder's error (BuildKit itself does not check and lets the later source
//!   win). Missing directories are created with mode 0755 (or the octal `--chmod`, as
//!   fsutil does since 2025), owned by the `--chown` owner (root without one), dated now.
//! - **Sources.** A directory copies its *contents*; the destination directory keeps its
//!   mode and owner when it exists and takes the source directory's mtime. A file lands at
//!   `dest/<name>` when the destination is a directory, else at the destination. Symlinks
//!   in what is copied are copied as symlinks; the source path itself is followed (inside
//!   the context, or inside the stage's root file system for `--from`, never out of it).
//!   Conflicts are errors as in fsutil: a file onto a directory, a directory onto anything
//!   but a directory. Hard links to one inode within the copy stay hard links.
//! - **Metadata.** Modes and mtimes are kept. Files from the context become 0:0 (the
//!   client sends them so); from `--from` they keep their ids; `--chown` sets every copied
//!   entry and created directory. `--chown` takes names or ids, `user`, `user:group`,
//!   `:group`; a user alone gives its primary group (a numeric one, the same id); names
//!   resolve in the destination's `/etc/passwd` and `/etc/group`, and an unknown name is an
//!   error (the Dockerfile reference says so; BuildKit's code silently uses 0). `--chmod`
//!   takes octal up to 07777 or chmod(1) symbolic modes (`u=rwX,go=rX`, `+x`, `g=u`) and
//!   applies to every copied file and directory, never to a symlink.
//! - **Filters.** `--exclude` patterns (`.dockerignore` syntax) match paths relative to the
//!   source directory being copied; a source named on the command line (or matched by its
//!   wildcard) is never excluded itself, as in fsutil. An excluded directory with something
//!   re-included below it is still created, as a parent. `--parents` copies the context
//!   (or the part after a `/./` pivot) filtered by the source as an include pattern, so the
//!   source's path is kept under the destination, with its parent directories' metadata.
//! - **Heredocs.** `COPY <<EOF /file` writes a file of mode 0644 (then `--chmod`), root's
//!   or the `--chown` owner's, dated now, named by the destination or `dest/<name>`.
//! - **ADD.** A local regular file that is a tar archive — uncompressed, gzip, bzip2, xz
//!   or zstd, told by its content, and whose first header reads — is extracted into the
//!   destination (made a directory, 0755, `--chown` owner) instead of copied, as
//!   moby's `archive.Untar` does: entries keep their metadata (`--chown` overrides the
//!   ids, `--chmod` does not apply), missing parents are made 0755 root, a path or link
//!   that climbs out of the destination is refused, and whiteouts are plain files. URLs
//!   (`http://`, `https://`) and git sources (`git@…`, `git://`, `ssh://`) are refused:
//!   this builder fetches nothing remote — a build must be reproducible offline and keyed
//!   by content it can see, and the engine has no downloader that checks integrity
//!   (`--checksum`) the way BuildKit's HTTP source does; download into the context instead.
//! - **`--link`** (without `--chmod`, as BuildKit: with it, the copy is a plain one): the
//!   layer does not depend on `dest_root`; the destination is a directory by its trailing
//!   slash only and symlinks in it are not followed. `--chown` names still resolve in
//!   `dest_root` (BuildKit would look in the empty layer and fall back to 0).
//!
//! Every directory above what the layer adds is in the layer too, as `docker commit`
//! writes them, with the metadata it has in `dest_root` (created ones as above).
//!
//! Rootless with a subordinate range, a `--from` copy reads a stage's files that other
//! users of the image may have made unreadable to the engine's user: the solver has the
//! rootless store helper run these functions instead (see [`helper`]).
//!
//! bzip2 and xz archives are read with the `bzip2` crate (its pure-Rust libbz2 port) and
//! `liblzma` (the maintained fork of `xz2`; it links the system liblzma or builds its
//! bundled copy); gzip and zstd with the crates the image code uses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::context::{has_wildcards, Context};
use super::hashes::FileHashes;
use super::ignore::{go_clean, go_match, Ignore};
use crate::container::changes::Stack;
use crate::image::layer::TarWriter;
use crate::{Error, Result};

pub(crate) mod helper;

/// One COPY/ADD, every word already expanded by the caller.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CopyInput {
    /// ADD (extracts local archives) rather than COPY.
    pub(crate) add: bool,
    pub(crate) sources: Vec<CopySource>,
    /// As written: a relative destination joins `workdir`.
    pub(crate) dest: String,
    /// The stage's WORKDIR (`/` when unset).
    pub(crate) workdir: String,
    /// `user[:group]`, names or ids.
    pub(crate) chown: Option<String>,
    /// Octal, or chmod(1) symbolic.
    pub(crate) chmod: Option<String>,
    /// `--exclude` patterns (`.dockerignore` syntax).
    pub(crate) exclude: Vec<String>,
    /// `--parents`.
    pub(crate) parents: bool,
    /// `--link`.
    pub(crate) link: bool,
    /// ADD `--checksum` (only valid for URLs, which are refused).
    pub(crate) checksum: Option<String>,
}

/// A source of COPY/ADD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum CopySource {
    /// A path (or wildcard, or URL) as written.
    Path(String),
    /// A heredoc (`<<EOF`): its name and its (expanded) content.
    Heredoc { name: String, content: String },
}

/// Where sources are read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CopyFrom<'a> {
    /// The build context (`.dockerignore` honoured by [`Context`]).
    Context(&'a Context),
    /// `COPY --from=<stage|image>`: that image's layer directories, top first.
    Rootfs(&'a Stack),
}

/// What the step wrote (for progress and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Copied {
    /// Entries other than directories.
    pub(crate) files: u64,
    /// Bytes of file content.
    pub(crate) bytes: u64,
}

/// Symlinks followed while resolving one path before giving up (continuity's limit).
const MAX_LINKS: usize = 255;

/// Appends the layer's entries to `tar`. `dest_root` is the stage's current root file system
/// (layer dirs top first; empty for FROM scratch): it decides whether the destination is an
/// existing directory, and where `--chown` names are looked up (/etc/passwd, /etc/group).
/// `progress(bytes_so_far)` is called as file content is written.
///
/// # Errors
/// [`Error::BuildContext`] naming a source that is absent or outside the context (or, for
/// `--from`, not in the stage's root file system); [`Error::InvalidBuild`] for a bad
/// `--chmod`, `--chown` or `--exclude`, a URL source, several sources to a destination
/// that is not a directory, a conflict at the destination, an archive that climbs out;
/// [`Error::Os`] when something cannot be read or the tar cannot be written.
pub(crate) fn write_layer<W: Write>(
    input: &CopyInput,
    from: &CopyFrom<'_>,
    dest_root: &Stack,
    tar: &mut TarWriter<W>,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied> {
    let (plan, archives) = Planner::plan(input, from, dest_root)?;
    write_plan(&plan, &archives, tar, progress)
}

/// The cache key of the sources' content and metadata (never mtimes): for each source, its
/// matches' paths, and for each match and everything under it that the filters keep, the
/// relative path, type, mode, size, device number, symlink target and content hash (and
/// uid/gid for a rootfs: context files become 0:0 anyway). A heredoc counts by its name and
/// content. Excludes and `--parents` applied; the flags and destination are the caller's.
///
/// # Errors
/// As [`write_layer`] for the sources; [`Error::Os`] when a file cannot be read.
pub(crate) fn source_digest(
    input: &CopyInput,
    from: &CopyFrom<'_>,
    hashes: &FileHashes,
) -> Result<Digest> {
    check_remote(input)?;
    let exclude = exclude_filter(&input.exclude)?;
    let rootfs = matches!(from, CopyFrom::Rootfs(_));
    let mut h = Sha256::new();
    for source in &input.sources {
        match source {
            CopySource::Heredoc { name, content } => {
                h.update(b"heredoc\0");
                field(&mut h, name.as_bytes());
                field(&mut h, content.as_bytes());
            }
            CopySource::Path(path) => {
                h.update(b"source\0");
                let matches = resolve_source(from, path, input.parents, exclude.as_ref())?;
                h.update((matches.len() as u64).to_le_bytes());
                for m in &matches {
                    field(&mut h, m.path.as_os_str().as_bytes());
                    hash_obj(&mut h, Path::new(""), &m.host, &m.meta, rootfs, hashes)?;
                    h.update((m.items.len() as u64).to_le_bytes());
                    for item in &m.items {
                        hash_obj(&mut h, &item.rel, &item.host, &item.meta, rootfs, hashes)?;
                    }
                }
            }
        }
    }
    Ok(crate::store::sha256_digest(&h.finalize()))
}

/// A length-prefixed field, so that no two sequences of fields hash alike.
fn field(h: &mut Sha256, bytes: &[u8]) {
    h.update((bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

fn hash_obj(
    h: &mut Sha256,
    rel: &Path,
    host: &Path,
    meta: &Metadata,
    ids: bool,
    hashes: &FileHashes,
) -> Result<()> {
    field(h, rel.as_os_str().as_bytes());
    let ft = meta.file_type();
    h.update((meta.mode() & libc::S_IFMT).to_le_bytes());
    h.update((meta.mode() & 0o7777).to_le_bytes());
    if ids {
        h.update(meta.uid().to_le_bytes());
        h.update(meta.gid().to_le_bytes());
    }
    if !ft.is_dir() {
        h.update(meta.size().to_le_bytes());
    }
    h.update(meta.rdev().to_le_bytes());
    if ft.is_symlink() {
        let target = fs::read_link(host).map_err(|e| Error::os("reading symlink", host, e))?;
        field(h, target.as_os_str().as_bytes());
    } else if ft.is_file() {
        let content = hashes
            .sha256(host, meta)
            .map_err(|e| Error::os("reading", host, e))?;
        h.update(content);
    }
    Ok(())
}

fn open_file(host: &Path) -> Result<File> {
    File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(host)
        .map_err(|e| Error::os("opening", host, e))
}

fn invalid(subject: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::InvalidBuild {
        subject: subject.into(),
        reason: reason.into(),
    }
}

fn instruction(input: &CopyInput) -> &'static str {
    if input.add {
        "ADD"
    } else {
        "COPY"
    }
}

/// A URL or git address: never fetched (see the module docs).
fn is_remote(source: &str) -> bool {
    ["http://", "https://", "git://", "ssh://", "git@"]
        .iter()
        .any(|p| source.starts_with(p))
}

/// Refuses `--checksum` where Docker does, and every remote source.
fn check_remote(input: &CopyInput) -> Result<()> {
    let paths = || {
        input.sources.iter().filter_map(|s| match s {
            CopySource::Path(p) => Some(p.as_str()),
            CopySource::Heredoc { .. } => None,
        })
    };
    if let Some(sum) = &input.checksum {
        let subject = format!("{} --checksum={sum}", instruction(input));
        if !input.add {
            return Err(invalid(subject, "checksum can't be specified for COPY"));
        }
        if input.sources.len() != 1 {
            return Err(invalid(
                subject,
                "checksum can't be specified for multiple sources",
            ));
        }
        if !paths().any(is_remote) {
            return Err(invalid(subject, "checksum requires HTTP(S) or Git sources"));
        }
    }
    if let Some(url) = paths().find(|p| is_remote(p)) {
        let subject = format!("{} source {url:?}", instruction(input));
        return Err(if input.add {
            invalid(
                subject,
                "remote sources are not fetched: this builder has no network access for ADD; \
                 download the file into the build context and copy it from there",
            )
        } else if url.starts_with("http") && !url.ends_with(".git") {
            invalid(subject, "source can't be a URL for COPY")
        } else {
            invalid(subject, "source can't be a git ref for COPY")
        });
    }
    Ok(())
}

/// The `--exclude` patterns as one filter, each checked on its own so an error names it.
fn exclude_filter(patterns: &[String]) -> Result<Option<Ignore>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut text = Vec::new();
    for p in patterns {
        let line = pattern_line(p);
        Ignore::parse(&line).map_err(|e| invalid(format!("--exclude={p}"), reason_of(e)))?;
        text.extend_from_slice(&line);
        text.push(b'\n');
    }
    Ignore::parse(text).map(Some)
}

/// A pattern as a `.dockerignore` line: one that starts with `#` would be a comment there.
fn pattern_line(p: &str) -> Vec<u8> {
    let mut line = Vec::new();
    if p.starts_with('#') {
        line.extend_from_slice(b"./");
    }
    line.extend_from_slice(p.as_bytes());
    line
}

fn reason_of(e: Error) -> String {
    match e {
        Error::BuildContext { reason, .. } | Error::InvalidBuild { reason, .. } => reason,
        e => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// Sources

/// One object under a copied directory.
#[derive(Debug)]
struct Item {
    /// Relative to the copied directory.
    rel: PathBuf,
    host: PathBuf,
    meta: Metadata,
}

/// One match of a source: a file or directory (symlinks followed) and, for a directory,
/// what under it the filters keep, in walk order (a directory before what is in it).
#[derive(Debug)]
struct Match {
    /// Its path in the source tree.
    path: PathBuf,
    /// The name it is copied as into a directory (the matched name, before any symlink).
    name: OsString,
    host: PathBuf,
    meta: Metadata,
    items: Vec<Item>,
}

/// The include and exclude patterns of one walk.
struct Filter<'a> {
    /// `--parents`: the source as an include pattern, and its components before the first
    /// wildcard (nothing outside them can match).
    include: Option<(Ignore, Vec<Vec<u8>>)>,
    exclude: Option<&'a Ignore>,
}

impl CopyFrom<'_> {
    /// The entries of the source-tree directory `dir`, in byte order of their names.
    fn list(&self, dir: &Path) -> Result<Vec<(OsString, PathBuf, Metadata)>> {
        match self {
            CopyFrom::Context(ctx) => {
                let abs = ctx.root().join(dir);
                let err = |e| Error::os("reading build context directory", &abs, e);
                let mut names: Vec<OsString> = fs::read_dir(&abs)
                    .map_err(err)?
                    .map(|e| e.map(|e| e.file_name()))
                    .collect::<io::Result<_>>()
                    .map_err(err)?;
                names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                names
                    .into_iter()
                    .map(|n| {
                        let host = abs.join(&n);
                        let meta = fs::symlink_metadata(&host)
                            .map_err(|e| Error::os("reading build context entry", &host, e))?;
                        Ok((n, host, meta))
                    })
                    .collect()
            }
            CopyFrom::Rootfs(stack) => Ok(stack
                .read_dir(dir)
                .map_err(|e| Error::os("reading stage directory", Path::new("/").join(dir), e))?
                .into_iter()
                .map(|(n, m)| (n, m.host, m.meta))
                .collect()),
        }
    }

    /// Whether `.dockerignore` leaves the context path `rel` out, and whether a walker may
    /// then skip all of it.
    fn ignored(&self, rel: &Path) -> (bool, bool) {
        match self {
            CopyFrom::Context(ctx) => {
                let ignored = ctx.ignore().is_excluded(rel);
                (ignored, ignored && ctx.ignore().may_skip_dir(rel))
            }
            CopyFrom::Rootfs(_) => (false, false),
        }
    }

    /// The matches of one source path (wildcards expanded, symlinks followed).
    fn matches(&self, source: &str) -> Result<Vec<Match>> {
        let cleaned = go_clean(
            source
                .as_bytes()
                .strip_prefix(b"/")
                .unwrap_or(source.as_bytes()),
        );
        let last: &[u8] = cleaned.rsplit(|&b| b == b'/').next().unwrap_or(b".");
        match self {
            CopyFrom::Context(ctx) => ctx
                .resolve(source)?
                .into_iter()
                .map(|e| {
                    let host = ctx.root().join(&e.path);
                    let meta = fs::symlink_metadata(&host)
                        .map_err(|err| Error::os("reading build context entry", &host, err))?;
                    let name = if has_wildcards(last) || last == b"." || last == b".." {
                        e.path.file_name().map(OsStr::to_owned).unwrap_or_default()
                    } else {
                        OsString::from_vec(last.to_vec())
                    };
                    Ok(Match {
                        path: e.path,
                        name,
                        host,
                        meta,
                        items: Vec::new(),
                    })
                })
                .collect(),
            CopyFrom::Rootfs(stack) => {
                let mut rooted = go_clean(&[b"/", source.as_bytes()].concat());
                rooted.remove(0);
                if rooted.is_empty() {
                    rooted.push(b'.');
                }
                rootfs_matches(stack, source, &rooted)
            }
        }
    }

    /// Everything under the match `m` (a directory) that `filter` keeps, into `m.items`.
    fn walk(&self, m: &mut Match, filter: &Filter<'_>) -> Result<()> {
        let mut out = Vec::new();
        self.walk_dir(&m.path, Path::new(""), filter, &mut Vec::new(), &mut out)?;
        m.items = out;
        Ok(())
    }

    fn walk_dir(
        &self,
        base: &Path,
        rel: &Path,
        filter: &Filter<'_>,
        pending: &mut Vec<Item>,
        out: &mut Vec<Item>,
    ) -> Result<()> {
        for (name, host, meta) in self.list(&base.join(rel))? {
            let r = rel.join(&name);
            let (ignored, skip_ignored) = self.ignored(&base.join(&r));
            let excluded = filter.exclude.is_some_and(|e| e.is_excluded(&r));
            let included = filter
                .include
                .as_ref()
                .is_none_or(|(i, _)| i.is_excluded(&r));
            let is_dir = meta.is_dir();
            let item = Item {
                rel: r.clone(),
                host,
                meta,
            };
            if !ignored && !excluded && included {
                // The directories above it that were held back are parents now.
                out.append(pending);
                out.push(item);
                if is_dir {
                    self.walk_dir(base, &r, filter, pending, out)?;
                }
                continue;
            }
            if !is_dir
                || skip_ignored
                || (excluded && filter.exclude.is_some_and(|e| e.may_skip_dir(&r)))
                || (!included && !filter.may_hold(&r))
            {
                continue;
            }
            let depth = pending.len();
            pending.push(item);
            self.walk_dir(base, &r, filter, pending, out)?;
            pending.truncate(depth);
        }
        Ok(())
    }
}

impl Filter<'_> {
    /// Whether something under the directory `rel` may match the include pattern.
    fn may_hold(&self, rel: &Path) -> bool {
        let Some((_, prefix)) = &self.include else {
            return true;
        };
        rel.iter()
            .zip(prefix)
            .all(|(a, b)| a.as_bytes() == b.as_slice())
    }
}

/// The matches of `source` in a stage's root file system: each component matched against
/// the merged directory (Go's `filepath.Match` for wildcards), symlinks followed inside it.
fn rootfs_matches(stack: &Stack, source: &str, cleaned: &[u8]) -> Result<Vec<Match>> {
    let comps: Vec<&[u8]> = if cleaned == b"." {
        Vec::new()
    } else {
        cleaned.split(|&b| b == b'/').collect()
    };
    let lstat = |p: &Path| Ok(stack_node(stack, p));
    let mut found: Vec<(Vec<OsString>, OsString)> = Vec::new();
    let mut todo: Vec<(Vec<OsString>, usize, OsString)> = vec![(Vec::new(), 0, OsString::new())];
    while let Some((cur, i, name)) = todo.pop() {
        let Some(&comp) = comps.get(i) else {
            found.push((cur, name));
            continue;
        };
        let names: Vec<OsString> = if has_wildcards(comp) {
            let mut matched = Vec::new();
            for n in stack
                .read_dir(&to_path(&cur))
                .map_err(|e| Error::os("reading stage directory", to_path(&cur), e))?
                .into_keys()
            {
                let ok = go_match(comp, n.as_bytes()).map_err(|_| Error::BuildContext {
                    subject: format!("source {source:?}"),
                    reason: "syntax error in pattern".into(),
                })?;
                if ok {
                    matched.push(n);
                }
            }
            matched
        } else {
            vec![OsString::from_vec(comp.to_vec())]
        };
        // In reverse, so that the stack pops them in order.
        for n in names.into_iter().rev() {
            let next = resolve_links(&lstat, cur.clone(), 0, std::slice::from_ref(&n), true)
                .map_err(|e| match e {
                    Error::InvalidBuild { reason, .. } => Error::BuildContext {
                        subject: format!("source {source:?}"),
                        reason,
                    },
                    e => e,
                })?;
            let n = if n == "." || n == ".." {
                next.last().cloned().unwrap_or_default()
            } else {
                n
            };
            let here = stack.lookup(&to_path(&next));
            let last = i + 1 == comps.len();
            match here {
                Some(m) if last || m.meta.is_dir() => todo.push((next, i + 1, n)),
                _ => {}
            }
        }
    }
    if found.is_empty() {
        let reason = if comps.iter().any(|c| has_wildcards(c)) {
            "no files match the pattern in the stage's root file system"
        } else {
            "not found in the stage's root file system"
        };
        return Err(Error::BuildContext {
            subject: format!("source {source:?}"),
            reason: reason.into(),
        });
    }
    found
        .into_iter()
        .map(|(comps, name)| {
            let path = to_path(&comps);
            let merged = stack.lookup(&path).ok_or_else(|| Error::BuildContext {
                subject: format!("source {source:?}"),
                reason: "not found in the stage's root file system".into(),
            })?;
            Ok(Match {
                path,
                name,
                host: merged.host,
                meta: merged.meta,
                items: Vec::new(),
            })
        })
        .collect()
}

/// What is at a path, as far as resolving goes.
enum Node {
    Dir,
    Link(PathBuf),
    Other,
}

fn stack_node(stack: &Stack, rel: &Path) -> Option<Node> {
    let m = stack.lookup(rel)?;
    let ft = m.meta.file_type();
    Some(if ft.is_dir() {
        Node::Dir
    } else if ft.is_symlink() {
        match fs::read_link(&m.host) {
            Ok(t) => Node::Link(t),
            Err(_) => Node::Other,
        }
    } else {
        Node::Other
    })
}

fn to_path(comps: &[OsString]) -> PathBuf {
    comps.iter().collect()
}

fn comps_of(p: &Path) -> Vec<OsString> {
    p.iter()
        .filter(|c| *c != "/" && *c != ".")
        .map(OsStr::to_owned)
        .collect()
}

/// Walks `todo` from the resolved `cur` as `fs.RootPath` does: symlinks are followed, an
/// absolute target starting again at the first `floor` components (the root), `..` never
/// going above them; the last component is followed only when `follow_last`. Components
/// that do not exist are kept as they are.
fn resolve_links(
    lstat: &dyn Fn(&Path) -> Result<Option<Node>>,
    mut cur: Vec<OsString>,
    floor: usize,
    todo: &[OsString],
    follow_last: bool,
) -> Result<Vec<OsString>> {
    let mut todo: VecDeque<OsString> = todo.iter().cloned().collect();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_bytes() {
            b"" | b"." => continue,
            b".." => {
                if cur.len() > floor {
                    cur.pop();
                }
                continue;
            }
            _ => {}
        }
        cur.push(c);
        if todo.is_empty() && !follow_last {
            break;
        }
        if let Some(Node::Link(target)) = lstat(&to_path(&cur))? {
            links += 1;
            if links > MAX_LINKS {
                return Err(invalid(
                    format!("path {:?}", Path::new("/").join(to_path(&cur))),
                    "too many levels of symbolic links",
                ));
            }
            cur.pop();
            if target.is_absolute() {
                cur.truncate(floor);
            }
            for t in target.as_os_str().as_bytes().split(|&b| b == b'/').rev() {
                todo.push_front(OsString::from_vec(t.to_vec()));
            }
        }
    }
    Ok(cur)
}

/// The matches of one path source, with what the filters keep under directories: for
/// `--parents`, the pivot directories (the context root, or what precedes `/./`) with the
/// source as an include pattern.
fn resolve_source(
    from: &CopyFrom<'_>,
    source: &str,
    parents: bool,
    exclude: Option<&Ignore>,
) -> Result<Vec<Match>> {
    if !parents {
        let mut matches = from.matches(source)?;
        for m in &mut matches {
            if m.meta.is_dir() {
                from.walk(
                    m,
                    &Filter {
                        include: None,
                        exclude,
                    },
                )?;
            }
        }
        return Ok(matches);
    }
    let (pivot, pattern) = match source.split_once("/./") {
        Some((pivot, pattern)) => (if pivot.is_empty() { "/" } else { pivot }, pattern),
        None => ("/", source),
    };
    let mut pattern = go_clean(&[b"/", pattern.as_bytes()].concat());
    pattern.remove(0);
    let include = if pattern.is_empty() {
        None
    } else {
        let ignore = Ignore::parse(pattern_line(&String::from_utf8_lossy(&pattern)))
            .map_err(|e| invalid(format!("--parents source {source:?}"), reason_of(e)))?;
        let prefix: Vec<Vec<u8>> = pattern
            .split(|&b| b == b'/')
            .take_while(|c| !has_wildcards(c))
            .map(<[u8]>::to_vec)
            .collect();
        Some((ignore, prefix))
    };
    let wild = has_wildcards(pivot.as_bytes()) || has_wildcards(&pattern);
    let mut matches = from.matches(pivot)?;
    for m in &mut matches {
        if !m.meta.is_dir() {
            continue;
        }
        if !wild && include.is_some() {
            // A path without wildcards must exist (BuildKit's RequiredPaths).
            let full = format!("{}/{}", m.path.display(), String::from_utf8_lossy(&pattern));
            from.matches(&full).map_err(|e| match e {
                Error::BuildContext { reason, .. } => Error::BuildContext {
                    subject: format!("source {source:?}"),
                    reason,
                },
                e => e,
            })?;
        }
        let filter = Filter {
            include: include.as_ref().map(|(i, p)| (i.clone(), p.clone())),
            exclude,
        };
        from.walk(m, &filter)?;
    }
    if wild
        && matches
            .iter()
            .all(|m| m.meta.is_dir() && m.items.is_empty())
    {
        return Err(Error::BuildContext {
            subject: format!("source {source:?}"),
            reason: "no files match the pattern".into(),
        });
    }
    Ok(matches)
}

// ---------------------------------------------------------------------------------------
// Ownership and modes

/// `--chown`'s `user[:group]` as ids, names looked up in `root`'s /etc/passwd and
/// /etc/group.
fn resolve_owner(spec: &str, root: &Stack) -> Result<(u32, u32)> {
    let subject = || format!("--chown={spec}");
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let id = |s: &str| -> Option<u32> {
        if s == "root" {
            Some(0)
        } else {
            s.parse::<i32>().ok().and_then(|n| u32::try_from(n).ok())
        }
    };
    let (mut uid, mut gid) = (0, 0);
    if !user.is_empty() {
        if let Some(n) = id(user) {
            (uid, gid) = (n, n);
        } else {
            let line = id_file_line(root, "etc/passwd", user)
                .ok_or_else(|| invalid(subject(), format!("no user {user:?} in /etc/passwd")))?;
            let num = |i: usize| line.get(i).and_then(|f| f.parse::<u32>().ok());
            match (num(2), num(3)) {
                (Some(u), Some(g)) => (uid, gid) = (u, g),
                _ => {
                    return Err(invalid(
                        subject(),
                        format!("malformed /etc/passwd entry for {user:?}"),
                    ))
                }
            }
        }
    }
    if let Some(group) = group.filter(|g| !g.is_empty()) {
        gid = match id(group) {
            Some(n) => n,
            None => id_file_line(root, "etc/group", group)
                .and_then(|line| line.get(2).and_then(|f| f.parse::<u32>().ok()))
                .ok_or_else(|| invalid(subject(), format!("no group {group:?} in /etc/group")))?,
        };
    }
    Ok((uid, gid))
}

/// The fields of the line of `file` (passwd or group format) whose first field is `name`.
fn id_file_line(root: &Stack, file: &str, name: &str) -> Option<Vec<String>> {
    let lstat = |p: &Path| Ok(stack_node(root, p));
    let path = resolve_links(&lstat, Vec::new(), 0, &comps_of(Path::new(file)), true).ok()?;
    let merged = root.lookup(&to_path(&path))?;
    if !merged.meta.is_file() {
        return None;
    }
    let text = fs::read(&merged.host).ok()?;
    String::from_utf8_lossy(&text)
        .lines()
        .map(|l| l.split(':').map(str::to_owned).collect::<Vec<_>>())
        .find(|f| f.len() > 2 && f[0] == name)
}

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq)]
enum Chmod {
    /// Permission bits with setuid, setgid and sticky.
    Octal(u32),
    /// chmod(1) clauses, applied in order.
    Symbolic(Vec<Action>),
}

/// One `who op perms` action of a symbolic mode.
#[derive(Debug, Clone, PartialEq)]
struct Action {
    /// The bits the who-list covers (all for none or `a`).
    who: u32,
    op: u8,
    /// `rwxst` as mode bits.
    perm: u32,
    /// `X`: execute if a directory or executable by someone.
    cond_x: bool,
    /// Copy the bits of `u`, `g` or `o`.
    copy: Option<u8>,
}

impl Chmod {
    fn parse(s: &str) -> Result<Chmod> {
        let bad_octal = || {
            invalid(
                format!("--chmod={s}"),
                format!("invalid chmod parameter: '{s}'. it should be octal string and between 0 and 07777"),
            )
        };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return match u32::from_str_radix(s, 8) {
                Ok(n) if n <= 0o7777 => Ok(Chmod::Octal(n)),
                _ => Err(bad_octal()),
            };
        }
        let mut actions = Vec::new();
        for clause in s.split(',') {
            let b = clause.as_bytes();
            let mut i = 0;
            let mut who = 0;
            while i < b.len() && b"ugoa".contains(&b[i]) {
                who |= match b[i] {
                    b'u' => 0o4700,
                    b'g' => 0o2070,
                    b'o' => 0o1007,
                    _ => 0o7777,
                };
                i += 1;
            }
            if who == 0 {
                who = 0o7777;
            }
            if i == b.len() {
                return Err(invalid(
                    format!("--chmod={s}"),
                    format!(
                        "invalid mode {clause:?}: expected an octal mode or [ugoa][+-=][rwxXst]"
                    ),
                ));
            }
            while i < b.len() {
                let op = b[i];
                if !b"+-=".contains(&op) {
                    return Err(invalid(
                        format!("--chmod={s}"),
                        format!(
                            "invalid mode {clause:?}: expected + - or = at {:?}",
                            b[i] as char
                        ),
                    ));
                }
                i += 1;
                let mut a = Action {
                    who,
                    op,
                    perm: 0,
                    cond_x: false,
                    copy: None,
                };
                if i < b.len() && b"ugo".contains(&b[i]) {
                    a.copy = Some(b[i]);
                    i += 1;
                } else {
                    while i < b.len() && b"rwxXst".contains(&b[i]) {
                        match b[i] {
                            b'r' => a.perm |= 0o444,
                            b'w' => a.perm |= 0o222,
                            b'x' => a.perm |= 0o111,
                            b'X' => a.cond_x = true,
                            b's' => a.perm |= 0o6000,
                            _ => a.perm |= 0o1000,
                        }
                        i += 1;
                    }
                }
                actions.push(a);
            }
        }
        Ok(Chmod::Symbolic(actions))
    }

    /// The mode an entry of mode `mode` (permissions and special bits) gets.
    fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(m) => *m,
            Chmod::Symbolic(actions) => actions.iter().fold(mode & 0o7777, |m, a| {
                let bits = match a.copy {
                    Some(c) => {
                        let shift = match c {
                            b'u' => 6,
                            b'g' => 3,
                            _ => 0,
                        };
                        ((m >> shift) & 0o7) * 0o111
                    }
                    None => {
                        let x = a.cond_x && (is_dir || m & 0o111 != 0);
                        a.perm | if x { 0o111 } else { 0 }
                    }
                } & a.who;
                match a.op {
                    b'+' => m | bits,
                    b'-' => m & !bits,
                    _ => (m & !a.who) | bits,
                }
            }),
        }
    }

    /// The mode of the directories a copy creates (fsutil: the octal mode, else 0755).
    fn dir_mode(chmod: Option<&Chmod>) -> u32 {
        match chmod {
            Some(Chmod::Octal(m)) => m & 0o777,
            _ => 0o755,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The plan: what the layer holds, path by path

/// The metadata of a layer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attrs {
    /// Permission bits with setuid, setgid and sticky.
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl Attrs {
    fn of(meta: &Metadata) -> Attrs {
        let (uid, gid) = crate::paths::image_owner(meta.uid(), meta.gid());
        Attrs {
            mode: meta.mode() & 0o7777,
            uid,
            gid,
            mtime: meta.mtime(),
        }
    }
}

/// What a layer entry is.
#[derive(Debug)]
enum Body {
    Dir,
    /// A regular file read from `host`; `inode` when it has other names.
    File {
        host: PathBuf,
        size: u64,
        inode: Option<(u64, u64)>,
    },
    /// A heredoc's content.
    Bytes(Vec<u8>),
    /// The regular file that is entry `index` of archive `archive`.
    Archived {
        archive: usize,
        index: usize,
        size: u64,
    },
    Symlink(PathBuf),
    /// A hard link to an entry written before it in the layer.
    HardLink(PathBuf),
    /// A fifo or a device node (its tar entry type and device number).
    Special(tar::EntryType, u64),
}

#[derive(Debug)]
struct Planned {
    attrs: Attrs,
    body: Body,
}

/// The entries of the layer by path, in the order they are written: a directory before
/// what is in it, the entries of an archive in the archive's order.
#[derive(Debug, Default)]
struct Plan {
    entries: Vec<Option<(PathBuf, Planned)>>,
    index: BTreeMap<PathBuf, usize>,
}

impl Plan {
    fn get(&self, rel: &Path) -> Option<&Planned> {
        self.index
            .get(rel)
            .and_then(|&i| self.entries[i].as_ref())
            .map(|(_, p)| p)
    }

    /// Adds `p` at `rel`: a directory over a directory takes its place; anything else
    /// replaces what was there (and what was under it) and goes last.
    fn insert(&mut self, rel: PathBuf, p: Planned) {
        if let Some(&i) = self.index.get(&rel) {
            let slot = self.entries[i].as_mut().expect("indexed entries are there");
            if matches!(slot.1.body, Body::Dir) && matches!(p.body, Body::Dir) {
                slot.1 = p;
                return;
            }
            let under: Vec<PathBuf> = self
                .index
                .range(rel.clone()..)
                .take_while(|(k, _)| k.starts_with(&rel))
                .map(|(k, _)| k.clone())
                .collect();
            for k in under {
                if let Some(j) = self.index.remove(&k) {
                    self.entries[j] = None;
                }
            }
        }
        self.index.insert(rel.clone(), self.entries.len());
        self.entries.push(Some((rel, p)));
    }

    fn iter(&self) -> impl Iterator<Item = (&Path, &Planned)> {
        self.entries.iter().flatten().map(|(r, p)| (r.as_path(), p))
    }
}

/// An archive ADD extracts.
#[derive(Debug)]
struct Archive {
    host: PathBuf,
}

/// Builds the plan of one COPY/ADD.
struct Planner<'a> {
    input: &'a CopyInput,
    from: &'a CopyFrom<'a>,
    /// `None` with `--link`: the layer stands alone.
    root: Option<&'a Stack>,
    plan: Plan,
    archives: Vec<Archive>,
    chmod: Option<Chmod>,
    owner: Option<(u32, u32)>,
    /// The metadata of directories the copy creates.
    created: Attrs,
    now: i64,
}

impl<'a> Planner<'a> {
    fn plan(
        input: &'a CopyInput,
        from: &'a CopyFrom<'a>,
        dest_root: &'a Stack,
    ) -> Result<(Plan, Vec<Archive>)> {
        check_remote(input)?;
        let chmod = input.chmod.as_deref().map(Chmod::parse).transpose()?;
        let owner = input
            .chown
            .as_deref()
            .map(|c| resolve_owner(c, dest_root))
            .transpose()?;
        let exclude = exclude_filter(&input.exclude)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let (uid, gid) = owner.unwrap_or((0, 0));
        let link = input.link && chmod.is_none();
        let mut p = Planner {
            input,
            from,
            root: (!link).then_some(dest_root),
            plan: Plan::default(),
            archives: Vec::new(),
            created: Attrs {
                mode: Chmod::dir_mode(chmod.as_ref()),
                uid,
                gid,
                mtime: now,
            },
            chmod,
            owner,
            now,
        };

        // The sources first: a missing one is the error to report.
        let mut resolved = Vec::new();
        for s in &input.sources {
            resolved.push(match s {
                CopySource::Path(path) => {
                    Some(resolve_source(from, path, input.parents, exclude.as_ref())?)
                }
                CopySource::Heredoc { .. } => None,
            });
        }
        let count: usize = resolved
            .iter()
            .map(|r| r.as_ref().map_or(1, Vec::len))
            .sum();

        let dest = &input.dest;
        let joined = if dest.starts_with('/') {
            dest.clone()
        } else {
            format!("{}/{}", input.workdir.trim_end_matches('/'), dest)
        };
        let dir_dest =
            dest.is_empty() || dest == "." || joined.ends_with('/') || joined.ends_with("/.");
        if count > 1 && !dir_dest {
            return Err(invalid(
                format!("{} destination {dest:?}", instruction(input)),
                format!(
                    "When using {} with more than one source file, the destination must be a \
                     directory and end with a /",
                    instruction(input)
                ),
            ));
        }
        let lexical = comps_of(Path::new(OsStr::from_bytes(&go_clean(joined.as_bytes()))));
        let target = p.resolve(Vec::new(), 0, &lexical, true)?;
        if dir_dest {
            p.mkdir_all(&target, p.created)?;
        }

        for (source, matches) in input.sources.iter().zip(resolved) {
            match (source, matches) {
                (CopySource::Heredoc { name, content }, _) => {
                    let mode = p.mode(0o644, false);
                    let attrs = Attrs {
                        mode,
                        uid,
                        gid,
                        mtime: p.now,
                    };
                    let at = p.file_target(&target, OsStr::new(name))?;
                    p.put_file(
                        at,
                        Planned {
                            attrs,
                            body: Body::Bytes(content.clone().into_bytes()),
                        },
                    )?;
                }
                (CopySource::Path(_), Some(matches)) => {
                    for m in matches {
                        p.add_match(&target, &m)?;
                    }
                }
                (CopySource::Path(_), None) => unreachable!("paths are resolved"),
            }
        }
        Ok((p.plan, p.archives))
    }

    /// What is at `rel` in the destination: this layer's entries over `dest_root`'s.
    fn node(&self, rel: &Path) -> Option<Node> {
        match self.plan.get(rel) {
            Some(p) => Some(match &p.body {
                Body::Dir => Node::Dir,
                Body::Symlink(t) => Node::Link(t.clone()),
                _ => Node::Other,
            }),
            None => self.root.and_then(|r| stack_node(r, rel)),
        }
    }

    fn resolve(
        &self,
        cur: Vec<OsString>,
        floor: usize,
        todo: &[OsString],
        follow_last: bool,
    ) -> Result<Vec<OsString>> {
        let lstat = |p: &Path| Ok(self.node(p));
        resolve_links(&lstat, cur, floor, todo, follow_last)
    }

    /// The mode a copied entry of mode `mode` gets.
    fn mode(&self, mode: u32, is_dir: bool) -> u32 {
        self.chmod
            .as_ref()
            .map_or(mode & 0o7777, |c| c.apply(mode, is_dir))
    }

    /// The metadata a copied object gets.
    fn attrs(&self, meta: &Metadata) -> Attrs {
        let (uid, gid) = match (self.owner, self.from) {
            (Some(o), _) => o,
            (None, CopyFrom::Context(_)) => (0, 0),
            (None, CopyFrom::Rootfs(_)) => crate::paths::image_owner(meta.uid(), meta.gid()),
        };
        let is_link = meta.file_type().is_symlink();
        Attrs {
            mode: if is_link {
                meta.mode() & 0o7777
            } else {
                self.mode(meta.mode(), meta.is_dir())
            },
            uid,
            gid,
            mtime: meta.mtime(),
        }
    }

    /// Makes sure every directory of `comps` is there: in the layer already, in `dest_root`
    /// (then in the layer as a parent, with its metadata), or created with `created`.
    fn mkdir_all(&mut self, comps: &[OsString], created: Attrs) -> Result<()> {
        for i in 1..=comps.len() {
            let rel = to_path(&comps[..i]);
            match self.plan.get(&rel).map(|p| matches!(p.body, Body::Dir)) {
                Some(true) => continue,
                Some(false) => return Err(not_dir(&rel)),
                None => {}
            }
            let planned = match self.root.and_then(|r| r.lookup(&rel)) {
                Some(m) if m.meta.is_dir() => Planned {
                    attrs: Attrs::of(&m.meta),
                    body: Body::Dir,
                },
                Some(_) => return Err(not_dir(&rel)),
                None => Planned {
                    attrs: created,
                    body: Body::Dir,
                },
            };
            self.plan.insert(rel, planned);
        }
        Ok(())
    }

    /// Whether `rel` is a directory in the destination (this layer over `dest_root`).
    fn is_dir(&self, rel: &Path) -> Option<bool> {
        self.node(rel).map(|n| matches!(n, Node::Dir))
    }

    /// Where a file named `name` goes: into the destination if it is a directory, else the
    /// destination itself. Its directory is made.
    fn file_target(&mut self, target: &[OsString], name: &OsStr) -> Result<Vec<OsString>> {
        let mut at = target.to_vec();
        if self.is_dir(&to_path(target)) == Some(true) || at.is_empty() {
            at.push(name.to_owned());
        }
        self.mkdir_all(&at[..at.len() - 1], self.created)?;
        Ok(at)
    }

    /// Plans a non-directory at `at` (a directory there is a conflict).
    fn put_file(&mut self, at: Vec<OsString>, p: Planned) -> Result<()> {
        let rel = to_path(&at);
        if self.is_dir(&rel) == Some(true) {
            return Err(invalid(
                format!("destination {:?}", Path::new("/").join(&rel)),
                "cannot replace a directory with a file",
            ));
        }
        self.plan.insert(rel, p);
        Ok(())
    }

    fn body(&self, host: &Path, meta: &Metadata) -> Option<Body> {
        let ft = meta.file_type();
        Some(if ft.is_dir() {
            Body::Dir
        } else if ft.is_file() {
            Body::File {
                host: host.to_owned(),
                size: meta.size(),
                inode: (meta.nlink() > 1).then(|| (meta.dev(), meta.ino())),
            }
        } else if ft.is_symlink() {
            Body::Symlink(fs::read_link(host).ok()?)
        } else if ft.is_fifo() {
            Body::Special(tar::EntryType::Fifo, 0)
        } else if ft.is_char_device() {
            Body::Special(tar::EntryType::Char, meta.rdev())
        } else if ft.is_block_device() {
            Body::Special(tar::EntryType::Block, meta.rdev())
        } else {
            // sockets cannot be in a tar
            return None;
        })
    }

    fn add_match(&mut self, target: &[OsString], m: &Match) -> Result<()> {
        if self.input.add && m.meta.is_file() && is_archive(&m.host) {
            return self.extract(target, &m.host);
        }
        if !m.meta.is_dir() {
            let Some(body) = self.body(&m.host, &m.meta) else {
                return Ok(());
            };
            let at = self.file_target(target, &m.name)?;
            let attrs = self.attrs(&m.meta);
            return self.put_file(at, Planned { attrs, body });
        }
        // A directory: its contents into the destination, which keeps its own mode and
        // owner if it exists and takes the source's mtime.
        let rel = to_path(target);
        let top = match self.node(&rel) {
            Some(Node::Dir) => {
                let mut attrs = match self.plan.get(&rel) {
                    Some(p) => p.attrs,
                    None => self
                        .root
                        .and_then(|r| r.lookup(&rel))
                        .map_or(self.created, |m| Attrs::of(&m.meta)),
                };
                attrs.mtime = m.meta.mtime();
                attrs
            }
            Some(_) => return Err(not_dir(&rel)),
            None => Attrs {
                mtime: m.meta.mtime(),
                ..self.created
            },
        };
        if !target.is_empty() {
            self.mkdir_all(&target[..target.len() - 1], self.created)?;
            self.plan.insert(
                rel.clone(),
                Planned {
                    attrs: top,
                    body: Body::Dir,
                },
            );
        }
        for item in &m.items {
            let at = rel.join(&item.rel);
            let Some(body) = self.body(&item.host, &item.meta) else {
                continue;
            };
            let attrs = self.attrs(&item.meta);
            let is_dir = matches!(body, Body::Dir);
            match (self.node(&at), is_dir) {
                (Some(Node::Dir), false) => {
                    return Err(invalid(
                        format!("destination {:?}", Path::new("/").join(&at)),
                        "cannot replace a directory with a file",
                    ))
                }
                (Some(Node::Link(_) | Node::Other), true) => return Err(not_dir(&at)),
                _ => {}
            }
            self.plan.insert(at, Planned { attrs, body });
        }
        Ok(())
    }

    /// Plans the entries of the archive at `host`, extracted into the directory `target`.
    fn extract(&mut self, target: &[OsString], host: &Path) -> Result<()> {
        let err = |e| Error::os("reading archive", host, e);
        self.mkdir_all(target, self.created)?;
        let archive = self.archives.len();
        self.archives.push(Archive {
            host: host.to_owned(),
        });
        let root_attrs = Attrs {
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: self.now,
        };
        let mut ar = tar::Archive::new(decompress(open_file(host)?).map_err(err)?);
        for (index, entry) in ar.entries().map_err(err)?.enumerate() {
            let entry = entry.map_err(err)?;
            let h = entry.header();
            let kind = h.entry_type();
            if kind == tar::EntryType::XGlobalHeader {
                continue;
            }
            let raw = entry.path_bytes();
            let name = clean_entry(&raw).ok_or_else(|| breakout(host, &raw))?;
            if name.is_empty() {
                continue; // the archive's root: the destination itself
            }
            // The parents, resolved inside the destination (Untar chroots there).
            let (parent, last) = name.split_at(name.len() - 1);
            let dir = self.resolve(target.to_vec(), target.len(), parent, true)?;
            self.mkdir_all(&dir, root_attrs)?;
            let mut at = dir;
            at.push(last[0].clone());
            let rel = to_path(&at);
            // Numeric fields Go's archive/tar reads as 0 when empty.
            let num = |v: io::Result<u64>| v.ok().unwrap_or(0);
            let (uid, gid) = self.owner.unwrap_or((
                u32::try_from(num(h.uid())).unwrap_or(0),
                u32::try_from(num(h.gid())).unwrap_or(0),
            ));
            let attrs = Attrs {
                mode: h.mode().unwrap_or(0) & 0o7777,
                uid,
                gid,
                mtime: i64::try_from(num(h.mtime())).unwrap_or(0),
            };
            let link = || -> Result<PathBuf> {
                let bytes = entry.link_name_bytes().unwrap_or_default();
                Ok(PathBuf::from(OsString::from_vec(bytes.into_owned())))
            };
            let body = match kind {
                tar::EntryType::Directory => Body::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => Body::Archived {
                    archive,
                    index,
                    size: entry.size(),
                },
                tar::EntryType::Symlink => {
                    let t = link()?;
                    // A relative target may not climb out of the destination.
                    if !t.is_absolute() {
                        let mut inside: Vec<&[u8]> = name[..name.len() - 1]
                            .iter()
                            .map(|c| c.as_bytes())
                            .collect();
                        for c in t.as_os_str().as_bytes().split(|&b| b == b'/') {
                            match c {
                                b"" | b"." => {}
                                b".." => {
                                    if inside.pop().is_none() {
                                        return Err(breakout(host, &raw));
                                    }
                                }
                                c => inside.push(c),
                            }
                        }
                    }
                    Body::Symlink(t)
                }
                tar::EntryType::Link => {
                    let t = link()?;
                    let t = clean_entry(t.as_os_str().as_bytes())
                        .ok_or_else(|| breakout(host, &raw))?;
                    let mut to = target.to_vec();
                    to.extend(t);
                    let to = to_path(&to);
                    match self.plan.get(&to) {
                        Some(p) if !matches!(p.body, Body::Dir) => Body::HardLink(to),
                        _ => {
                            return Err(invalid(
                                format!("ADD archive {:?}", host.display().to_string()),
                                format!(
                                    "hard link {:?} to {:?}, which the archive does not hold",
                                    String::from_utf8_lossy(&raw),
                                    Path::new("/").join(&to)
                                ),
                            ))
                        }
                    }
                }
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    let major = h.device_major().ok().flatten().unwrap_or(0);
                    let minor = h.device_minor().ok().flatten().unwrap_or(0);
                    Body::Special(kind, rustix::fs::makedev(major, minor))
                }
                other => {
                    return Err(invalid(
                        format!("ADD archive {:?}", host.display().to_string()),
                        format!("unhandled tar header type {}", other.as_byte()),
                    ))
                }
            };
            // Anything there but a directory under a directory is replaced.
            self.plan.insert(rel, Planned { attrs, body });
        }
        Ok(())
    }
}

fn not_dir(rel: &Path) -> Error {
    invalid(
        format!("destination {:?}", Path::new("/").join(rel)),
        "cannot copy to non-directory",
    )
}

fn breakout(host: &Path, name: &[u8]) -> Error {
    invalid(
        format!("ADD archive {:?}", host.display().to_string()),
        format!(
            "entry {:?} leads outside the destination",
            String::from_utf8_lossy(name)
        ),
    )
}

/// A tar entry's name as Untar takes it: cleaned, a leading `/` dropped (`..` stops at
/// it); `None` when it climbs out.
fn clean_entry(name: &[u8]) -> Option<Vec<OsString>> {
    let cleaned = go_clean(name);
    let rel = match cleaned.strip_prefix(b"/") {
        Some(r) => r.to_vec(),
        None if cleaned == b".." || cleaned.starts_with(b"../") => return None,
        None => cleaned,
    };
    Some(
        rel.split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(|c| OsString::from_vec(c.to_vec()))
            .collect(),
    )
}

/// `r` decompressed by what its first bytes say: gzip, bzip2, xz, zstd, or nothing (moby's
/// `compression.DetectCompression`).
fn decompress<'a>(r: impl Read + 'a) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(128 << 10, r);
    let head = r.fill_buf()?;
    Ok(if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(r))
    } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(r))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(r))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(r)?)
    } else {
        Box::new(r)
    })
}

/// Whether the regular file at `host` is a tar archive ADD extracts: its (decompressed)
/// first header reads (BuildKit's `isArchivePath`).
fn is_archive(host: &Path) -> bool {
    let Ok(file) = open_file(host) else {
        return false;
    };
    let Ok(r) = decompress(file) else {
        return false;
    };
    let mut ar = tar::Archive::new(r);
    let first = match ar.entries() {
        Ok(mut entries) => entries.next(),
        Err(_) => return false,
    };
    matches!(first, Some(Ok(_)))
}

// ---------------------------------------------------------------------------------------
// Writing

/// A reader of exactly `left` bytes that reports progress; short input is an error (the
/// tar header promised the size).
struct Counted<'p, R> {
    inner: R,
    left: u64,
    total: &'p mut u64,
    progress: &'p mut dyn FnMut(u64),
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was copied",
            ));
        }
        self.left -= n as u64;
        *self.total += n as u64;
        (self.progress)(*self.total);
        Ok(n)
    }
}

fn header(kind: tar::EntryType, a: &Attrs, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(a.mode);
    h.set_uid(a.uid.into());
    h.set_gid(a.gid.into());
    h.set_mtime(a.mtime.max(0) as u64);
    h.set_size(size);
    h
}

fn write_plan<W: Write>(
    plan: &Plan,
    archives: &[Archive],
    tar: &mut TarWriter<W>,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied> {
    let entries: Vec<(&Path, &Planned)> = plan.iter().collect();
    // Where each archive's last entry is: its entries are read in one pass up to there.
    let mut last_of: HashMap<usize, usize> = HashMap::new();
    for (i, (_, p)) in entries.iter().enumerate() {
        if let Body::Archived { archive, .. } = p.body {
            last_of.insert(archive, i);
        }
    }
    let mut copied = Copied::default();
    let mut links: HashMap<(u64, u64), &Path> = HashMap::new();
    let mut i = 0;
    while i < entries.len() {
        let (rel, p) = entries[i];
        let Body::Archived { archive, .. } = p.body else {
            write_entry(tar, rel, p, None, &mut links, &mut copied, progress)?;
            i += 1;
            continue;
        };
        let host = &archives[archive].host;
        let err = |e| Error::os("reading archive", host, e);
        let mut ar = tar::Archive::new(decompress(open_file(host)?).map_err(err)?);
        let mut it = ar.entries().map_err(err)?;
        let mut at = 0;
        while i <= last_of[&archive] {
            let (rel, p) = entries[i];
            i += 1;
            match p.body {
                Body::Archived {
                    archive: a, index, ..
                } if a == archive => {
                    let skip = index
                        .checked_sub(at)
                        .ok_or_else(|| err(io::Error::other("archive entries out of order")))?;
                    let mut entry = it
                        .nth(skip)
                        .ok_or_else(|| err(io::ErrorKind::UnexpectedEof.into()))?
                        .map_err(err)?;
                    at = index + 1;
                    write_entry(
                        tar,
                        rel,
                        p,
                        Some(&mut entry),
                        &mut links,
                        &mut copied,
                        progress,
                    )?;
                }
                _ => write_entry(tar, rel, p, None, &mut links, &mut copied, progress)?,
            }
        }
    }
    Ok(copied)
}

/// Appends a regular file of `size` bytes read from `inner`, counting them into `total`
/// and telling `progress`.
fn append_regular(
    tar: &mut TarWriter<impl Write>,
    rel: &Path,
    a: &Attrs,
    (inner, size): (impl Read, u64),
    total: &mut u64,
    progress: &mut dyn FnMut(u64),
) -> io::Result<()> {
    let mut data = Counted {
        inner,
        left: size,
        total,
        progress,
    };
    tar.append_header(
        &mut header(tar::EntryType::Regular, a, size),
        rel,
        &mut data,
    )
}

fn write_entry<'a>(
    tar: &mut TarWriter<impl Write>,
    rel: &'a Path,
    p: &Planned,
    content: Option<&mut dyn Read>,
    links: &mut HashMap<(u64, u64), &'a Path>,
    copied: &mut Copied,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let out = |e| Error::os("writing layer entry", rel, e);
    let a = &p.attrs;
    if !matches!(p.body, Body::Dir) {
        copied.files += 1;
    }
    let mut total = copied.bytes;
    match &p.body {
        Body::Dir => tar
            .append_header(
                &mut header(tar::EntryType::Directory, a, 0),
                rel,
                io::empty(),
            )
            .map_err(out)?,
        Body::File { host, size, inode } => {
            if let Some(first) = inode.and_then(|i| links.get(&i)) {
                let mut h = header(tar::EntryType::Link, a, 0);
                tar.append_link(&mut h, rel, first).map_err(out)?;
                return Ok(());
            }
            if let Some(i) = inode {
                links.insert(*i, rel);
            }
            let file = open_file(host)?;
            append_regular(tar, rel, a, (file, *size), &mut total, progress)
                .map_err(|e| Error::os("copying", host, e))?;
        }
        Body::Bytes(b) => {
            append_regular(tar, rel, a, (&b[..], b.len() as u64), &mut total, progress)
                .map_err(out)?;
        }
        Body::Archived { size, .. } => {
            let inner = content.expect("archived entries come with their content");
            append_regular(tar, rel, a, (inner, *size), &mut total, progress).map_err(out)?;
        }
        Body::Symlink(t) => {
            let mut h = header(tar::EntryType::Symlink, a, 0);
            tar.append_link(&mut h, rel, t).map_err(out)?;
        }
        Body::HardLink(t) => {
            let mut h = header(tar::EntryType::Link, a, 0);
            tar.append_link(&mut h, rel, t).map_err(out)?;
        }
        Body::Special(kind, rdev) => {
            let mut h = header(*kind, a, 0);
            h.set_device_major(rustix::fs::major(*rdev)).map_err(out)?;
            h.set_device_minor(rustix::fs::minor(*rdev)).map_err(out)?;
            tar.append_header(&mut h, rel, io::empty()).map_err(out)?;
        }
    }
    copied.bytes = total;
    Ok(())
}

#[cfg(test)]
#[path = "copy_tests.rs"]
mod tests;
