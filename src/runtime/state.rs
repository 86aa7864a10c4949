//! The on-disk record of a container, its status and the lock that guards it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde::{Deserialize, Serialize};

use crate::sys::seccomp::SeccompProgram;
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
    /// The spec it was created with (for poststop hooks and exec defaults), without its
    /// `linux.seccomp`: that lives in [`SECCOMP`] beside this record when `seccomp` is set,
    /// so that `start`, `delete` and `state` never parse the profile (Docker's default has
    /// ~360 syscall names). A record written before the move holds the profile here.
    pub spec: Spec,
    /// The container shares the host's mount namespace and was chrooted.
    #[serde(default)]
    pub no_mount_ns: bool,
    /// The spec had a seccomp profile: its compiled filter and the profile are in
    /// [`SECCOMP`].
    #[serde(default)]
    pub seccomp: bool,
}

pub(crate) const FIFO: &str = "exec.fifo";
const STATE: &str = "state.json";
/// The container's seccomp filter beside state.json: what `exec` loads (no JSON to parse,
/// nothing to compile) and, after it, the profile it was compiled from (for
/// [`Runtime::spec`](super::Runtime::spec)). Binary, in this machine's byte order (the
/// runtime's state never leaves the machine):
///
/// ```text
/// magic "CHSECCMP"  u32 version (1)  u32 flags  u32 n  u32 json_len
/// n x (u16 code, u8 jt, u8 jf, u32 k)   json_len bytes of the profile's JSON
/// ```
pub(crate) const SECCOMP: &str = "seccomp.bpf";
const SECCOMP_MAGIC: &[u8; 8] = b"CHSECCMP";
const SECCOMP_HEADER: usize = 8 + 4 * 4;

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

/// What [`SECCOMP`] holds: `prog` and `json`, the profile it was compiled from (as
/// `config.json` has it: no second serialisation of a few hundred syscall names).
pub(crate) fn seccomp_file(prog: &SeccompProgram, json: &[u8]) -> Vec<u8> {
    let insns = prog.instructions();
    let mut data = Vec::with_capacity(SECCOMP_HEADER + insns.len() * 8 + json.len());
    data.extend_from_slice(SECCOMP_MAGIC);
    for n in [1, prog.flags(), insns.len() as u32, json.len() as u32] {
        data.extend_from_slice(&n.to_ne_bytes());
    }
    for i in insns {
        data.extend_from_slice(&i.code.to_ne_bytes());
        data.extend_from_slice(&[i.jt, i.jf]);
        data.extend_from_slice(&i.k.to_ne_bytes());
    }
    data.extend_from_slice(json);
    data
}

/// Writes [`SECCOMP`] into `dir`, made by [`seccomp_file`]. Not atomic and not fsynced: it
/// is written before state.json, which makes the container exist.
pub(crate) fn save_seccomp(dir: &Path, file: &[u8]) -> Result<()> {
    let path = dir.join(SECCOMP);
    fs::write(&path, file).map_err(|e| Error::os("writing", path, e))
}

/// Reads [`SECCOMP`] in `dir`: the program's flags, its instructions (8 bytes each) and
/// the profile's JSON.
fn read_seccomp(dir: &Path) -> Result<(u32, Vec<u8>, Vec<u8>)> {
    let path = dir.join(SECCOMP);
    let mut data = fs::read(&path).map_err(|e| Error::os("reading", &path, e))?;
    let bad = |what: &str| {
        Error::os(
            "parsing",
            &path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned()),
        )
    };
    if data.len() < SECCOMP_HEADER || &data[..8] != SECCOMP_MAGIC {
        return Err(bad("not a saved seccomp filter"));
    }
    let word = |i: usize| {
        let at = 8 + 4 * i;
        u32::from_ne_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize
    };
    let (version, flags, n, json_len) = (word(0), word(1) as u32, word(2), word(3));
    if version != 1 {
        return Err(bad("unknown version"));
    }
    let insns_end = n
        .checked_mul(8)
        .and_then(|b| b.checked_add(SECCOMP_HEADER))
        .filter(|&end| end.checked_add(json_len) == Some(data.len()))
        .ok_or_else(|| bad("truncated"))?;
    let json = data.split_off(insns_end);
    data.drain(..SECCOMP_HEADER);
    Ok((flags, data, json))
}

/// The compiled filter saved in `dir` by [`save_seccomp`].
pub(crate) fn load_seccomp_program(dir: &Path) -> Result<SeccompProgram> {
    let (flags, insns, _) = read_seccomp(dir)?;
    let filter = insns
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    Ok(SeccompProgram::new(filter, flags)?)
}

/// The profile saved in `dir` by [`save_seccomp`].
pub(crate) fn load_seccomp_profile(dir: &Path) -> Result<LinuxSeccomp> {
    let (_, _, json) = read_seccomp(dir)?;
    let path = dir.join(SECCOMP);
    serde_json::from_slice(&json).map_err(|e| Error::os("parsing", path, std::io::Error::other(e)))
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
    fn a_saved_seccomp_filter_reads_back() {
        let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap();
        let prog = crate::runtime::seccomp::compile(&profile).unwrap();
        let dir = tempfile::tempdir().unwrap();
        save_seccomp(
            dir.path(),
            &seccomp_file(&prog, &serde_json::to_vec(&profile).unwrap()),
        )
        .unwrap();
        let back = load_seccomp_program(dir.path()).unwrap();
        assert_eq!(back.flags(), prog.flags());
        let key = |p: &SeccompProgram| {
            p.instructions()
                .iter()
                .map(|i| (i.code, i.jt, i.jf, i.k))
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&back), key(&prog));
        assert_eq!(load_seccomp_profile(dir.path()).unwrap(), profile);

        // a cut or foreign file is an error naming it, never a filter
        let path = dir.path().join(SECCOMP);
        let data = fs::read(&path).unwrap();
        for bad in [
            &data[..data.len() - 1],
            &data[..SECCOMP_HEADER - 1],
            b"{}".as_slice(),
        ] {
            fs::write(&path, bad).unwrap();
            let e = load_seccomp_program(dir.path()).unwrap_err().to_string();
            assert!(e.contains(SECCOMP), "{e}");
        }
    }

    /// A created container with a seccomp profile: state.json holds no profile, the
    /// filter sits beside it, `exec` gets it from there (mkdir refused), and
    /// `Runtime::spec` gives the profile back.
    #[test]
    #[ignore = "requires root"]
    fn the_seccomp_filter_lives_beside_the_state_and_exec_loads_it() {
        use crate::runtime::{default_spec, CreateOptions, ExecOptions, Runtime};
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        let rootfs = bundle.join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for a in ["sh", "sleep", "mkdir"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
        }))
        .unwrap();
        let mut spec = default_spec();
        let mut p = spec.process().clone().unwrap();
        p.set_args(Some(vec!["sleep".into(), "30".into()]));
        p.set_terminal(Some(false));
        spec.set_process(Some(p.clone()));
        let mut root = spec.root().clone().unwrap();
        root.set_readonly(Some(false));
        spec.set_root(Some(root));
        let mut linux = spec.linux().clone().unwrap();
        linux.set_seccomp(Some(profile.clone()));
        spec.set_linux(Some(linux));
        fs::write(
            bundle.join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();

        let rt = Runtime::open(dir.path().join("root")).unwrap();
        let id = format!("seccomp-state-{}", std::process::id());
        let _init = rt.create(&id, &bundle, &CreateOptions::default()).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let state_dir = dir.path().join("root").join(&id);
            let state = fs::read_to_string(state_dir.join(STATE)).unwrap();
            assert!(!state.contains("mkdirat"), "{state}");
            assert!(state_dir.join(SECCOMP).is_file());
            assert_eq!(
                rt.spec(&id).unwrap().linux().as_ref().unwrap().seccomp(),
                &Some(profile)
            );
            let mut exec = p.clone();
            exec.set_args(Some(vec![
                "sh".into(),
                "-c".into(),
                "mkdir /tmp/a 2>/dev/null && exit 0; exit 7".into(),
            ]));
            let st = rt
                .exec(&id, &exec, &ExecOptions::default())
                .unwrap()
                .wait()
                .unwrap();
            assert_eq!(st.code(), Some(7), "mkdir was not refused: {st:?}");
            assert!(!rootfs.join("tmp/a").exists());
        }));
        rt.delete(&id, true).unwrap();
        result.unwrap();
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
