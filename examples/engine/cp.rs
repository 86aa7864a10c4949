//! `cp`: copies files between a container and the host, with Docker's rules for trailing
//! slashes and directories (its `docker cp` reference):
//!
//! - SRC a file: to DEST a directory, as `DEST/name`; else to DEST (overwritten), whose
//!   parent must exist; DEST ending in `/` must then be an existing directory.
//! - SRC a directory: DEST missing is made and gets SRC's content; DEST a directory gets
//!   `DEST/name`, or only SRC's content when SRC ends in `/.`; DEST a file is an error.
//! - SRC ending in `/` or `/.` must be a directory.
//! - `-` as DEST writes a tar of SRC to stdout; as SRC extracts a tar from stdin into
//!   DEST, which must be a directory.
//!
//! The container side goes through the library ([`Container::copy_from`],
//! [`Container::copy_to`], [`Container::path_stat`]), which resolves paths inside the
//! container; this side unpacks or packs the tar on the host.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use cargohold::{Container, Engine};

use crate::{CmdResult, Failure};

/// `cp [-a] [-L] SRC DEST`.
pub(crate) fn cp(engine: &Engine, src: &str, dest: &str, archive: bool, follow: bool) -> CmdResult {
    match (split(src), split(dest)) {
        (Some(_), Some(_)) => Err(usage("copying between containers is not supported")),
        (None, None) => Err(usage("must specify at least one container source")),
        (Some((c, path)), None) => {
            let c = engine.containers().get(c)?;
            from_container(&c, path, dest, follow)
        }
        (None, Some((c, path))) => {
            let c = engine.containers().get(c)?;
            to_container(&c, src, path, archive, follow)
        }
    }
}

fn usage(m: impl Into<String>) -> Failure {
    Failure::Usage(m.into())
}

/// `CONTAINER:PATH` as Docker splits it: no container for `-`, an absolute path or one
/// whose part before the first `:` holds a `/`.
fn split(arg: &str) -> Option<(&str, &str)> {
    if arg == "-" || arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    (!c.contains('/') && !c.is_empty()).then_some((c, p))
}

/// Whether `p` ends in `/` or `/.` (asks for a directory; `/.` for its content).
fn wants_dir(p: &str) -> bool {
    p.ends_with('/') || p.ends_with("/.") || p == "."
}

fn contents_only(p: &str) -> bool {
    p.ends_with("/.") || p == "."
}

fn last_name(p: &str) -> String {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .next_back()
        .unwrap_or_else(|| ".".to_owned())
}

/// From the container to the host (or a tar on stdout).
fn from_container(c: &Container, path: &str, dest: &str, follow: bool) -> CmdResult {
    let not_found = || {
        usage(format!(
            "Could not find the file {path} in container {}",
            c.name()
        ))
    };
    // With -L, what the link points to decides.
    let stat = c.path_stat(path, follow)?.ok_or_else(not_found)?;
    let src_is_dir = stat.is_dir();
    if wants_dir(path) && !src_is_dir {
        return Err(usage(format!("{path}: not a directory")));
    }
    if dest == "-" {
        let mut out = io::stdout().lock();
        c.copy_from(path, follow, &mut out)?;
        out.flush()?;
        return Ok(0);
    }
    let dest_path = Path::new(dest);
    let target = match fs::metadata(dest_path) {
        Ok(m) if m.is_dir() => {
            if src_is_dir && contents_only(path) {
                dest_path.to_owned()
            } else {
                dest_path.join(&stat.name)
            }
        }
        Ok(_) if src_is_dir => {
            return Err(usage(format!("cannot copy a directory to a file: {dest}")))
        }
        Ok(_) => dest_path.to_owned(),
        Err(_) if dest.ends_with('/') && !src_is_dir => {
            return Err(usage(format!(
                "destination directory {dest} does not exist"
            )))
        }
        Err(_) => {
            let parent = dest_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(usage(format!(
                    "destination directory {} does not exist",
                    parent.display()
                )));
            }
            dest_path.to_owned()
        }
    };
    let (r, w) = io::pipe()?;
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            let w = io::BufWriter::with_capacity(256 << 10, w);
            c.copy_from(path, follow, w)
        });
        let unpacked = unpack_renamed(r, &stat.name, &target);
        let copied = writer.join().expect("copy thread");
        copied?;
        unpacked?;
        Ok(0)
    })
}

/// Unpacks the tar `r`, whose entries all lie under `top`, with `top` renamed `target`.
fn unpack_renamed(r: impl Read, top: &str, target: &Path) -> Result<(), Failure> {
    let map = |p: &Path| -> Option<PathBuf> {
        // The root's top entry is `.`, which tar paths leave out.
        let rest = if top == "." {
            p
        } else {
            p.strip_prefix(top).ok()?
        };
        if rest.as_os_str().is_empty() || rest == Path::new(".") {
            return Some(target.to_owned());
        }
        if rest
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return None;
        }
        Some(target.join(rest))
    };
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(true);
    let mut dirs = Vec::new();
    for entry in ar.entries()? {
        let mut entry = entry?;
        let raw = entry.path()?.into_owned();
        let Some(out) = map(&raw) else {
            return Err(usage(format!("unexpected entry {}", raw.display())));
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&out)?;
            dirs.push((out, entry.header().mode()?, entry.header().mtime()?));
            continue;
        }
        if let Ok(m) = fs::symlink_metadata(&out) {
            if m.is_dir() {
                return Err(usage(format!(
                    "cannot overwrite directory {} with non-directory",
                    out.display()
                )));
            }
            fs::remove_file(&out)?;
        }
        if kind == tar::EntryType::Link {
            let link = entry
                .link_name()?
                .map(|l| l.into_owned())
                .unwrap_or_default();
            let Some(link) = map(&link) else {
                return Err(usage(format!("unexpected link {}", link.display())));
            };
            fs::hard_link(link, &out)?;
            continue;
        }
        entry.unpack(&out)?;
    }
    // Directory modes and times once their content is in.
    for (dir, mode, mtime) in dirs.into_iter().rev() {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&dir, fs::Permissions::from_mode(mode & 0o7777));
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
        let _ = fs::File::open(&dir).and_then(|f| f.set_modified(t));
    }
    Ok(())
}

/// From the host (or a tar on stdin) into the container.
fn to_container(c: &Container, src: &str, dest: &str, archive: bool, follow: bool) -> CmdResult {
    if src == "-" {
        let stat = c.path_stat(dest, true)?;
        if !stat.as_ref().is_some_and(|s| s.is_dir()) {
            return Err(usage(format!(
                "destination \"{}:{dest}\" must be a directory",
                c.name()
            )));
        }
        c.copy_to(dest, io::stdin().lock(), archive)?;
        return Ok(0);
    }
    let src_path = Path::new(src);
    let meta = if follow {
        fs::metadata(src_path)
    } else {
        fs::symlink_metadata(src_path)
    }
    .map_err(|e| usage(format!("{src}: {e}")))?;
    let src_is_dir = meta.is_dir();
    if wants_dir(src) && !src_is_dir {
        return Err(usage(format!("{src}: not a directory")));
    }
    let src_path = if follow {
        fs::canonicalize(src_path)?
    } else {
        src_path.to_owned()
    };
    // Into which directory of the container, under which top name (a link to a directory
    // is that directory).
    let dest_stat = c.path_stat(dest, true)?;
    let dest_is_dir = dest_stat.as_ref().is_some_and(|s| s.is_dir());
    let (dir, top) = match &dest_stat {
        Some(_) if dest_is_dir => {
            if src_is_dir && contents_only(src) {
                (dest.to_owned(), ".".to_owned())
            } else {
                (dest.to_owned(), last_name(src))
            }
        }
        Some(_) if src_is_dir => {
            return Err(usage(format!(
                "cannot copy a directory to a file: {}:{dest}",
                c.name()
            )))
        }
        Some(_) => (parent_of(dest), last_name(dest)),
        None if dest.ends_with('/') && !src_is_dir => {
            return Err(usage(format!(
                "destination directory {}:{dest} does not exist",
                c.name()
            )))
        }
        None => (parent_of(dest), last_name(dest)),
    };
    let (r, w) = io::pipe()?;
    std::thread::scope(|s| {
        let src_path = &src_path;
        let packer = s.spawn(move || -> io::Result<()> {
            let mut b = tar::Builder::new(io::BufWriter::with_capacity(256 << 10, w));
            b.follow_symlinks(false);
            b.mode(tar::HeaderMode::Complete);
            if src_is_dir {
                b.append_dir_all(&top, src_path)?;
            } else {
                b.append_path_with_name(src_path, &top)?;
            }
            b.into_inner()?.flush()
        });
        let copied = c.copy_to(&dir, r, archive);
        let packed = packer.join().expect("pack thread");
        copied?;
        packed.map_err(|e| usage(format!("{src}: {e}")))?;
        Ok(0)
    })
}

/// The parent directory of a container path (`/` at the top).
fn parent_of(p: &str) -> String {
    match Path::new(p.trim_end_matches('/')).parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_string_lossy().into_owned(),
        _ => "/".to_owned(),
    }
}
