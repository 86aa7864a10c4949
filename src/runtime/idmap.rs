//! Writing a new user namespace's uid and gid maps, as root or rootless.
//!
//! As root the runtime writes `/proc/<pid>/uid_map` and `gid_map` itself. Without root
//! (see [`rootless`](super::rootless)) the kernel lets a process map only its own effective
//! uid and gid, one id each, and the gid only after `setgroups` is denied in the namespace;
//! any other map goes through the setuid helpers `newuidmap` and `newgidmap` (Debian's
//! `uidmap` package), which allow the ranges `/etc/subuid` and `/etc/subgid` give the user
//! — as crun does. So a `runc spec --rootless` bundle (one id each) needs nothing
//! installed, and a bundle that maps a subordinate range needs the helpers.

use std::fs;
use std::path::PathBuf;

use oci_spec::runtime::{Linux, LinuxIdMapping};

use crate::{Error, Result};

/// How one of the two maps gets written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Writer {
    /// By the runtime into `/proc/<pid>/…_map`.
    Direct,
    /// By `newuidmap` or `newgidmap`.
    Helper,
}

/// Whether `maps` can be written by this process itself: always as root; rootless only one
/// id, its own (`own`), mapped once.
fn writer(maps: &[LinuxIdMapping], own: u32) -> Writer {
    if !super::rootless() {
        return Writer::Direct;
    }
    match maps {
        [m] if m.host_id() == own && m.size() == 1 => Writer::Direct,
        _ => Writer::Helper,
    }
}

/// Whether a new user namespace of `linux` will have `setgroups` denied: rootless, its gid
/// map written by the runtime (the kernel's condition for an unprivileged gid map). Its
/// processes then keep the groups they have (setgroups(2) would fail).
pub(crate) fn setgroups_denied(linux: &Linux) -> bool {
    super::rootless()
        && writer(
            linux.gid_mappings().as_deref().unwrap_or_default(),
            rustix::process::getegid().as_raw(),
        ) == Writer::Direct
}

/// Whether the user namespace of process `pid` has `setgroups` denied (for `exec`).
pub(crate) fn setgroups_denied_in(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/setgroups")).is_ok_and(|s| s.trim() == "deny")
}

/// Writes the uid and gid maps of `linux` for the new user namespace of process `pid`.
///
/// # Errors
/// [`Error::Os`] naming the map file the kernel refused, or [`Error::Unsupported`] when a
/// helper is needed and missing or refuses (naming the map and `/etc/subuid`/`subgid`).
pub(crate) fn write(pid: i32, linux: &Linux) -> Result<()> {
    let uid = rustix::process::geteuid().as_raw();
    let gid = rustix::process::getegid().as_raw();
    let uids = linux.uid_mappings().as_deref().unwrap_or_default();
    let gids = linux.gid_mappings().as_deref().unwrap_or_default();
    // the gid map first: the helper for it checks the caller's rights in the namespace,
    // which a written uid map would change
    match writer(gids, gid) {
        Writer::Direct => {
            if super::rootless() {
                let path = PathBuf::from(format!("/proc/{pid}/setgroups"));
                fs::write(&path, "deny").map_err(|e| Error::os("denying setgroups", path, e))?;
            }
            write_file(pid, "gid_map", gids)?;
        }
        Writer::Helper => helper("newgidmap", "/etc/subgid", pid, gids)?,
    }
    match writer(uids, uid) {
        Writer::Direct => write_file(pid, "uid_map", uids),
        Writer::Helper => helper("newuidmap", "/etc/subuid", pid, uids),
    }
}

fn write_file(pid: i32, file: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    let text: String = maps
        .iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect();
    let path = PathBuf::from(format!("/proc/{pid}/{file}"));
    fs::write(&path, text).map_err(|e| Error::os("writing id mappings", path, e))
}

/// Runs `newuidmap`/`newgidmap` `pid` with the maps' triples.
fn helper(tool: &str, ranges: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let which = if tool == "newuidmap" { "uid" } else { "gid" };
    let unsupported = |reason: String| Error::Unsupported {
        what: format!("a rootless {which} map of more than the user's own {which}"),
        reason,
    };
    let triples = maps
        .iter()
        .map(|m| (m.container_id(), m.host_id(), m.size()));
    let pid = u32::try_from(pid).unwrap_or_default();
    match crate::userns::run_map_tool(tool, pid, triples) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(stderr)) => Err(unsupported(format!(
            "{tool} refused the map ({}): {stderr}; the map must lie in the user's own {which} \
             and the ranges {ranges} gives the user",
            maps.iter()
                .map(|m| format!("{}:{}:{}", m.container_id(), m.host_id(), m.size()))
                .collect::<Vec<_>>()
                .join(" "),
        ))),
        Err(e) => Err(unsupported(format!(
            "running {tool}: {e}; install the setuid helpers (Debian: apt-get install uidmap) \
             and give the user a range in {ranges}, or map only the user's own {which}"
        ))),
    }
}
