//! The engine's rootless user namespace: which ids it maps, and a helper process that is
//! root in it, for the work on the store's files that only an owner of those ids can do.
//!
//! # The map
//! Rootless, a container's root is the user; the image's other ids (a web server's
//! `www-data`, a database's `postgres`) need ids of their own on the host, and the user has
//! them only where `/etc/subuid` and `/etc/subgid` give a range (Debian's `useradd` does,
//! `usermod --add-subuids` adds one). [`IdMap`] reads those files: image id 0 is the
//! user's own id, image ids 1 to N the range's first N ids, as rootless podman maps them.
//! Without a range only root of the image has an id: unpacking a layer with a file of any
//! other owner is refused with the fix named (see [`crate::image`]'s unpacker), as podman
//! refuses it.
//!
//! # The helper
//! The user cannot chown a file to a subordinate id, nor read or remove what a container
//! wrote there as another user of the image (a `0700` directory of `postgres`). A process
//! that is root in a user namespace with that map can. The library runs in a program that
//! may have any number of threads, where a forked copy must not run ordinary code and
//! `unshare(CLONE_NEWUSER)` is refused; so, as the monitor does, the helper is the program
//! itself re-executed (`/proc/self/exe`, which `cargohold::init()` intercepts; see
//! [`crate::init`]), a fresh single-threaded process:
//!
//! 1. it unshares its user namespace and says so on stderr (`ready`);
//! 2. the caller writes its maps with `newuidmap`/`newgidmap` (Debian's `uidmap`), then
//!    sends the [`Job`] as one line of JSON on its stdin, followed by the job's input
//!    (the tar of an unpack);
//! 3. the helper, now root in the namespace (image ids are its ids), does the job —
//!    its output (the tar of an archive) on stdout — and ends with one line of JSON on
//!    stderr: the result, or the error in its wire form ([`crate::error::WireError`]).
//!
//! A helper lives for one job and dies with its input or output pipe: nothing outlives a
//! caller that is killed. It costs one execve and the two setuid helpers (a few
//! milliseconds) per layer unpacked, archive or export written, tree removed, volume
//! filled, copy made or build's `COPY --from` step done — and is only used rootless: with
//! a subordinate range for all of these, with only the user's own id (mapped by the
//! caller itself) for a copy out of or into a stopped container, whose overlay the helper
//! mounts in a mount namespace of its own.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::WireError;
use crate::{Error, Result};

/// The environment variable that makes `cargohold::init()` serve a job (see the module
/// docs).
const ENV: &str = "_CARGOHOLD_USERNS";
/// The helper's `argv[0]`, as `ps` shows it.
const PROCESS_NAME: &str = "cargohold-userns";

/// Set by `cargohold::init()`: `/proc/self/exe` can be re-executed as the helper.
static INIT_CALLED: AtomicBool = AtomicBool::new(false);

/// One range of subordinate ids: the host's `start` and how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: u32,
    pub count: u32,
}

/// The ids of the engine's user namespace (see the module docs): root is `own`, ids 1 to
/// `count` are the subordinate range's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ids {
    pub own: u32,
    pub sub: Option<Range>,
}

impl Ids {
    /// The image id of host id `host`: root for the user's own, the place in the range
    /// for a subordinate one, else as it is (an id the namespace does not map).
    pub(crate) fn to_image(self, host: u32) -> u32 {
        match self.sub {
            _ if host == self.own => 0,
            Some(r) if host >= r.start && host - r.start < r.count => host - r.start + 1,
            _ => host,
        }
    }

    /// The map as (container id, host id, size) triples.
    pub(crate) fn triples(self) -> Vec<(u32, u32, u32)> {
        let mut v = vec![(0, self.own, 1)];
        if let Some(r) = self.sub {
            v.push((1, r.start, r.count));
        }
        v
    }
}

/// The engine's map of uids and gids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdMap {
    pub uids: Ids,
    pub gids: Ids,
}

impl IdMap {
    /// This process's map: read once from `/etc/subuid` and `/etc/subgid` (the first range
    /// of the user, by name or uid). As root, the identity (no range needed).
    pub(crate) fn current() -> IdMap {
        static MAP: OnceLock<IdMap> = OnceLock::new();
        *MAP.get_or_init(|| {
            let uid = rustix::process::geteuid().as_raw();
            let gid = rustix::process::getegid().as_raw();
            let name = user_name(uid);
            let sub = |file: &str| {
                fs::read_to_string(file)
                    .ok()
                    .and_then(|text| first_range(&text, name.as_deref(), uid))
            };
            IdMap {
                uids: Ids {
                    own: uid,
                    sub: sub("/etc/subuid"),
                },
                gids: Ids {
                    own: gid,
                    sub: sub("/etc/subgid"),
                },
            }
        })
    }

    /// Whether files of the store keep their image owners through the helper: rootless
    /// with a subordinate range of uids and of gids.
    pub(crate) fn keeps_owners(self) -> bool {
        crate::paths::rootless() && self.uids.sub.is_some() && self.gids.sub.is_some()
    }

    /// The image owner of a file of the store owned by host `(uid, gid)`.
    pub(crate) fn to_image(self, (uid, gid): (u32, u32)) -> (u32, u32) {
        (self.uids.to_image(uid), self.gids.to_image(gid))
    }
}

/// The user name of `uid` from `/etc/passwd` (`newuidmap` matches ranges by name or uid).
fn user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

/// The first range of `/etc/subuid`-format `text` for the user `name` or `uid`.
fn first_range(text: &str, name: Option<&str>, uid: u32) -> Option<Range> {
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let who = f.next()?;
        if Some(who) != name && who.parse::<u32>().ok() != Some(uid) {
            return None;
        }
        let start = f.next()?.trim().parse().ok()?;
        let count: u32 = f.next()?.trim().parse().ok()?;
        (count > 0 && f.next().is_none()).then_some(Range { start, count })
    })
}

/// A job for the helper (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Job {
    /// Unpack the tar on stdin into `dest`, keeping owners; `overlay` writes whiteouts in
    /// overlayfs's form (`user.overlay.opaque`), else applies them. `subject` names the
    /// layer in errors.
    Unpack {
        dest: PathBuf,
        overlay: bool,
        subject: String,
    },
    /// Write to stdout the tar entries (without the end-of-archive blocks) of what changed
    /// in the overlay upper dir `upper` over the layer dirs `lower` (top first).
    Archive { upper: PathBuf, lower: Vec<PathBuf> },
    /// Write to stdout the tar of the merged tree of the layer dirs `layers` (top first),
    /// as `docker export` writes a container's root.
    Export { layers: Vec<PathBuf> },
    /// Remove the tree at `path`.
    Remove { path: PathBuf },
    /// Fill the volume directory `dest` with the merged content of the layer directories
    /// `layers` (top first), keeping owners; `entries` says whether anything was copied.
    Populate { layers: Vec<PathBuf>, dest: PathBuf },
    /// A `docker cp` (stat, from, to) in a container's view (its root and mounts), the
    /// overlay mounted at the root first when `overlay` gives its options. The view and
    /// the operation are the container layer's own (opaque here).
    Cp {
        view: serde_json::Value,
        overlay: Option<String>,
        op: serde_json::Value,
    },
    /// Become the network keeper of the rootless engine whose networks directory is
    /// `networks`: unshare a network and a mount namespace, fork the keeper (which holds
    /// them until it is killed, or finds nothing left to keep) and return its pid (see
    /// [`crate::network`]'s rootless networks).
    Keep { networks: PathBuf },
    /// An operation of the network store at `root` (the network layer's own, opaque here),
    /// in the keeper's namespaces (a helper started by [`run_in_keeper`]); its result in
    /// [`Done::value`].
    Network {
        root: PathBuf,
        op: serde_json::Value,
    },
    /// Start the network sidecar of a container on a rootless network (its embedded DNS
    /// server and published ports; the network layer's own, opaque here); its pid in
    /// [`Done::pid`].
    Sidecar(serde_json::Value),
    /// A build's `COPY --from` step (the build layer's own, opaque here): the cache digest
    /// of its sources in [`Done::value`], or its layer's tar entries on stdout (without the
    /// end-of-archive blocks, as [`Job::Archive`]) with the files and bytes copied in
    /// [`Done::entries`] and [`Done::bytes`].
    BuildCopy(serde_json::Value),
}

/// What a path is, as `docker cp`'s stat says it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Stat {
    pub name: String,
    pub size: u64,
    pub mode: u32,
    pub mtime: i64,
    pub link_target: String,
}

/// What a job returned: the entries, bytes and skipped devices of an unpack, the stat of
/// a copy's path, the files and bytes of a build's copy; else nothing.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Done {
    pub entries: u64,
    pub bytes: u64,
    pub skipped_devices: u64,
    pub stat: Option<Stat>,
    /// A process the job left running (the network keeper, a sidecar).
    #[serde(default)]
    pub pid: Option<i32>,
    /// A network operation's result.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// The helper's last line on stderr.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Done(Done),
    Failed(WireError),
}

/// Runs `job` in a helper (see the module docs): `input` is copied to its stdin (then
/// closed), its stdout to `output`.
///
/// # Errors
/// The job's own error; [`Error::Unsupported`] when `cargohold::init()` was not called or
/// the maps cannot be written (naming `newuidmap` and `/etc/subuid`); [`Error::Os`] when
/// the helper cannot be run or dies.
pub(crate) fn run(
    job: &Job,
    input: Option<&mut dyn Read>,
    output: Option<&mut dyn Write>,
) -> Result<Done> {
    run_in(None, job, input, output)
}

/// [`run`] in the user namespace of process `pid` (a running container's init), which
/// the helper joins instead of making one: the user owns that namespace, so the helper is
/// root there, with the rights over the container's processes (`/proc/<pid>/root`) that a
/// namespace of the same map but its own would not give.
pub(crate) fn run_joined(
    pid: i32,
    job: &Job,
    input: Option<&mut dyn Read>,
    output: Option<&mut dyn Write>,
) -> Result<Done> {
    run_in(Some(Join::User(pid)), job, input, output)
}

/// [`run`] in the user, mount and network namespaces of the network keeper `pid`, where
/// the rootless engine's bridges and container network namespaces are.
pub(crate) fn run_in_keeper(pid: i32, job: &Job) -> Result<Done> {
    run_in(Some(Join::Keeper(pid)), job, None, None)
}

/// The namespaces a helper joins instead of making its own.
#[derive(Debug, Clone, Copy)]
enum Join {
    /// The user namespace of a process.
    User(i32),
    /// The user, mount and network namespaces of the network keeper.
    Keeper(i32),
}

fn run_in(
    join: Option<Join>,
    job: &Job,
    input: Option<&mut dyn Read>,
    output: Option<&mut dyn Write>,
) -> Result<Done> {
    if !INIT_CALLED.load(Ordering::Relaxed) {
        return Err(Error::Unsupported {
            what: "a rootless store with subordinate ids".into(),
            reason: "its files are written by this program re-executed as root of a user \
                     namespace: call cargohold::init() at the top of main"
                .into(),
        });
    }
    let exe = Path::new("/proc/self/exe");
    let mut cmd = Command::new(exe);
    cmd.arg0(PROCESS_NAME)
        .env(
            ENV,
            match join {
                None => "new".to_owned(),
                Some(Join::User(pid)) => pid.to_string(),
                Some(Join::Keeper(pid)) => format!("net:{pid}"),
            },
        )
        .envs(crate::sys::sealed::inherited_env())
        .stdin(Stdio::piped())
        .stdout(if output.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .current_dir("/");
    let died = |e| Error::os("running the rootless store helper", exe, e);
    let mut child = cmd.spawn().map_err(died)?;
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take();
    let r = (|| {
        let mut line = String::new();
        stderr.read_line(&mut line).map_err(died)?;
        if line.trim_end() != "ready" {
            return Err(Error::Os {
                op: format!(
                    "starting the rootless store helper (it said {:?})",
                    line.trim_end()
                ),
                path: exe.into(),
                source: io::Error::from_raw_os_error(libc::EPROTO),
            });
        }
        if join.is_none() {
            let map = IdMap::current();
            write_map("newgidmap", "/etc/subgid", child.id(), map.gids)?;
            write_map("newuidmap", "/etc/subuid", child.id(), map.uids)?;
        }
        let mut head = serde_json::to_vec(job).expect("a job always serialises");
        head.push(b'\n');
        // a helper that failed early shows in its reply, read below
        let fed = stdin.write_all(&head).and_then(|()| match input {
            Some(r) => io::copy(r, &mut stdin).map(drop),
            None => Ok(()),
        });
        drop(stdin);
        let copied = match (stdout, output) {
            (Some(mut from), Some(to)) => io::copy(&mut from, to).map(drop),
            _ => Ok(()),
        };
        let mut rest = String::new();
        stderr.read_to_string(&mut rest).map_err(died)?;
        let last = rest.lines().last().unwrap_or_default();
        match serde_json::from_str::<Reply>(last) {
            Ok(Reply::Done(d)) => {
                fed.map_err(died)?;
                copied.map_err(died)?;
                Ok(d)
            }
            Ok(Reply::Failed(e)) => Err(e.into_error(|message| Error::Os {
                op: message,
                path: exe.into(),
                source: io::Error::from_raw_os_error(libc::EIO),
            })),
            Err(_) => Err(Error::Os {
                op: format!(
                    "the rootless store helper ended without a result ({})",
                    rest.trim()
                ),
                path: exe.into(),
                source: io::Error::from_raw_os_error(libc::EIO),
            }),
        }
    })();
    if r.is_err() {
        let _ = child.kill();
    }
    let _ = child.wait();
    r
}

/// Writes one map of the helper `pid`: the user's own id alone directly (the gid map
/// after denying `setgroups`, as the kernel requires), a range with `tool` (`newuidmap`,
/// `newgidmap`).
fn write_map(tool: &str, ranges: &str, pid: u32, ids: Ids) -> Result<()> {
    if ids.sub.is_none() {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let write = |file: &str, text: String| {
            let path = proc.join(file);
            fs::write(&path, text).map_err(|e| Error::os("writing the helper's id map", path, e))
        };
        if tool == "newgidmap" {
            write("setgroups", "deny".into())?;
        }
        let file = if tool == "newgidmap" {
            "gid_map"
        } else {
            "uid_map"
        };
        return write(file, format!("0 {} 1\n", ids.own));
    }
    let unsupported = |reason: String| Error::Unsupported {
        what: "a rootless store with subordinate ids".into(),
        reason,
    };
    match run_map_tool(tool, pid, ids.triples()) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(stderr)) => Err(unsupported(format!(
            "{tool} refused the user's range of {ranges}: {stderr}"
        ))),
        Err(e) => Err(unsupported(format!(
            "running {tool}: {e}; install the setuid helpers (Debian: apt-get install uidmap) \
             or remove the user's range from {ranges}"
        ))),
    }
}

/// Runs `tool` (`newuidmap`, `newgidmap`) for process `pid` with the maps' (inside, host,
/// size) triples: `Err` when it cannot be run, `Ok(Err(its stderr))` when it refuses.
pub(crate) fn run_map_tool(
    tool: &str,
    pid: u32,
    triples: impl IntoIterator<Item = (u32, u32, u32)>,
) -> io::Result<std::result::Result<(), String>> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for (inside, host, size) in triples {
        cmd.args([inside.to_string(), host.to_string(), size.to_string()]);
    }
    let out = cmd.output()?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    Ok(Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()))
}

/// Called by `cargohold::init()`: marks that the helper can be started and, in a helper,
/// serves its job with `serve` and exits.
pub(crate) fn enter(serve: fn(Job, &mut dyn Read, &mut dyn Write) -> Result<Done>) {
    INIT_CALLED.store(true, Ordering::Relaxed);
    let Some(mode) = std::env::var_os(ENV) else {
        return;
    };
    // Single-threaded here (init runs first in main), so changing the environment and
    // unsharing or joining a user namespace are sound and allowed.
    std::env::remove_var(ENV);
    let mut err = io::stderr().lock();
    let mode = mode.to_str().unwrap_or_default();
    let entered = match mode {
        "new" => crate::sys::raw::unshare(libc::CLONE_NEWUSER)
            .map_err(|e| format!("unshare(CLONE_NEWUSER): {e}")),
        _ => match mode.strip_prefix("net:") {
            Some(pid) => join(
                pid,
                &[
                    ("user", libc::CLONE_NEWUSER),
                    ("mnt", libc::CLONE_NEWNS),
                    ("net", libc::CLONE_NEWNET),
                ],
            ),
            None => join(mode, &[("user", libc::CLONE_NEWUSER)]),
        },
    };
    if let Err(e) = entered {
        let _ = writeln!(err, "{e}");
        std::process::exit(1);
    }
    let _ = writeln!(err, "ready");
    let _ = err.flush();
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut head = String::new();
    let job = match input.read_line(&mut head) {
        Ok(n) if n > 0 => serde_json::from_str::<Job>(head.trim_end()).ok(),
        _ => None,
    };
    let Some(job) = job else {
        // the caller gave up (could not write the maps): nothing to do
        std::process::exit(1);
    };
    let stdout = io::stdout();
    let mut output = stdout.lock();
    let reply = match serve(job, &mut input, &mut output) {
        Ok(d) => output.flush().map(|()| Reply::Done(d)).unwrap_or_else(|e| {
            Reply::Failed(WireError::from_error(&Error::os(
                "writing the output",
                "",
                e,
            )))
        }),
        Err(e) => Reply::Failed(WireError::from_error(&e)),
    };
    let line = serde_json::to_string(&reply).expect("a reply always serialises");
    let _ = writeln!(err, "{line}");
    std::process::exit(0);
}

/// Joins the namespaces `kinds` (name in `/proc/<pid>/ns`, flag) of process `pid`, in
/// order (the user namespace first: the rights to join the others come with it), all
/// opened before the first is joined.
fn join(pid: &str, kinds: &[(&str, libc::c_int)]) -> std::result::Result<(), String> {
    use std::os::fd::AsRawFd;
    let mut files = Vec::new();
    for (name, flag) in kinds {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = fs::File::open(&path).map_err(|e| format!("opening {path}: {e}"))?;
        files.push((path, f, *flag));
    }
    for (path, f, flag) in files {
        crate::sys::raw::setns(f.as_raw_fd(), flag)
            .map_err(|e| format!("joining {path}: {}", io::Error::from_raw_os_error(e)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_found_by_name_or_uid() {
        let text = "alice:100000:65536\n1002:200000:1000\nbob:300000:0\n";
        let r = |start, count| Some(Range { start, count });
        assert_eq!(first_range(text, Some("alice"), 7), r(100000, 65536));
        assert_eq!(first_range(text, Some("carol"), 1002), r(200000, 1000));
        // an empty range is none; unknown users have none
        assert_eq!(first_range(text, Some("bob"), 9), None);
        assert_eq!(first_range(text, None, 5), None);
        assert_eq!(first_range("alice:x:1\n", Some("alice"), 1), None);
    }

    #[test]
    fn host_ids_map_to_image_ids() {
        let ids = Ids {
            own: 1002,
            sub: Some(Range {
                start: 100000,
                count: 65536,
            }),
        };
        assert_eq!(ids.to_image(1002), 0);
        assert_eq!(ids.to_image(100032), 33);
        assert_eq!(ids.to_image(165535), 65536);
        // outside the map: as it is
        assert_eq!(ids.to_image(4), 4);
        assert_eq!(ids.triples(), vec![(0, 1002, 1), (1, 100000, 65536)]);
        let alone = Ids {
            own: 1002,
            sub: None,
        };
        assert_eq!(alone.triples(), vec![(0, 1002, 1)]);
    }
}
