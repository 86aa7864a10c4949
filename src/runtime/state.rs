//! The on-disk record of a container, its status and the lock that guards it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The status of a container, as the OCI runtime spec names it (plus `paused`, as runc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Being created.
    Creating,
    /// Created: the init process waits for `start`.
    Created,
    /// The user's process runs.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// The init process has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The state of a container as the OCI runtime spec's `state` operation reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The OCI runtime spec version of this state.
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// Its status.
    pub status: Status,
    /// The init process's pid on the host (0 once stopped, as runc reports it).
    pub pid: i32,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The spec's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// The rootfs (runc's extension of the state).
    #[serde(default)]
    pub rootfs: PathBuf,
    /// When the container was created, RFC 3339 (runc's extension).
    #[serde(default)]
    pub created: String,
}

/// What we keep on disk for a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub pid: i32,
    /// Start time of the init process (field 22 of /proc/PID/stat), to detect pid reuse.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub cgroup_path: String,
    /// The spec it was created with (for poststop hooks and exec defaults).
    pub spec: Spec,
    /// The container shares the host's mount namespace and was chrooted.
    #[serde(default)]
    pub no_mount_ns: bool,
}

pub(crate) const FIFO: &str = "exec.fifo";
const STATE: &str = "state.json";

/// Checks an id: what runc accepts (letters, digits, `_+-.`), not `.`/`..`, at most 1024 bytes.
pub(crate) fn validate_id(id: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidId {
            id: id.to_owned(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > 1024 {
        return bad("it is longer than 1024 bytes");
    }
    if id == "." || id == ".." {
        return bad("it is a path component");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return bad("only letters, digits and _ + - . are allowed");
    }
    Ok(())
}

/// An exclusive flock on a container's directory, released on drop.
#[derive(Debug)]
pub(crate) struct Lock {
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlock explicitly: the init process cloned during `create` holds a copy of this
        // fd until it execs, and merely closing ours would leave the directory locked (so
        // `start` from another process would block forever).
        let _ = crate::sys::file::flock_unlock(self.file.as_raw_fd());
    }
}

impl Lock {
    pub(crate) fn acquire(dir: &Path) -> Result<Lock> {
        let file = File::open(dir).map_err(|e| Error::os("opening container directory", dir, e))?;
        crate::sys::file::flock_exclusive(file.as_raw_fd())
            .map_err(|e| Error::os("locking", dir, e))?;
        Ok(Lock { file })
    }
}

impl Record {
    pub(crate) fn load(dir: &Path, id: &str) -> Result<Record> {
        let path = dir.join(STATE);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::ContainerNotFound { id: id.to_owned() })
            }
            Err(e) => return Err(Error::os("reading", path, e)),
        };
        serde_json::from_slice(&data)
            .map_err(|e| Error::os("parsing", path, std::io::Error::other(e)))
    }

    /// Writes state.json atomically (temp file, rename). Runtime state lives as long as
    /// the machine's uptime at most (runc keeps it on tmpfs), so it is not fsynced.
    pub(crate) fn save(&self, dir: &Path) -> Result<()> {
        let data = serde_json::to_vec(self).expect("a record always serialises");
        write_atomic(&dir.join(STATE), &data, false)
    }

    /// The current status, derived from the init process, the exec fifo and the freezer.
    pub(crate) fn status(&self, dir: &Path) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if dir.join(FIFO).exists() {
            return Status::Created;
        }
        let frozen = crate::sys::cgroup::Cgroup::open(&self.cgroup_path)
            .and_then(|cg| cg.is_frozen())
            .unwrap_or(false);
        if frozen {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The init process exists, is the one we started and has not exited.
    pub(crate) fn alive(&self) -> bool {
        self.pid > 0
            && matches!(proc_start_time(self.pid), Some((start, state)) if start == self.pid_start && state != 'Z' && state != 'X')
    }

    pub(crate) fn state(&self, dir: &Path) -> State {
        let status = self.status(dir);
        State {
            oci_version: oci_version(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.clone(),
            annotations: self.spec.annotations().clone().unwrap_or_default(),
            rootfs: self.rootfs.clone(),
            created: self.created.clone(),
        }
    }
}

/// The OCI runtime spec version we implement.
pub(crate) fn oci_version() -> String {
    "1.2.0".to_owned()
}

/// Start time and state letter of a process, from /proc/PID/stat.
pub(crate) fn proc_start_time(pid: i32) -> Option<(u64, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // Field 22 overall is the 20th after the state.
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

/// Writes `data` to `path` atomically: a temp file in the same directory, fsync when
/// `durable`, rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("f"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::os("writing", path, e)
    })
}

/// Now as RFC 3339 with nanoseconds, UTC (what runc writes).
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for ok in ["a", "web-1", "x_y.z+1", "0123456789abcdef"] {
            validate_id(ok).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é", &"x".repeat(1025)] {
            assert!(
                matches!(validate_id(bad), Err(Error::InvalidId { .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), "2026-11-22T08:00:00.123456789Z".len(), "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }

    #[test]
    fn own_start_time_is_readable() {
        let (start, state) = proc_start_time(std::process::id() as i32).unwrap();
        assert!(start > 0);
        assert!(state == 'R' || state == 'S');
        assert!(proc_start_time(i32::MAX).is_none());
    }

    #[test]
    fn atomic_writes_leave_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one", true).unwrap();
        write_atomic(&p, b"two", false).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
