//! User-mode networking for rootless containers, through pasta (Debian's `passt`
//! package): a user may not make bridges, veth pairs or NAT rules, so a rootless container
//! on the default network gets a network namespace of its own (in its user namespace)
//! that pasta connects to the host's sockets — outbound connections become the user's own
//! sockets, and each published port is a socket pasta listens on as the user and forwards
//! into the namespace. pasta is preferred over slirp4netns: it forwards ports in the
//! kernel's socket layer rather than through a user-space TCP stack (about 4.7x
//! slirp4netns's throughput in RootlessKit's measurements) and needs no API socket to add
//! them.
//!
//! The steps: [`NetworkStore::prepare_user_mode`] when the container is attached (checks
//! that pasta can run here, picks host ports for `-p 80`, records the bindings);
//! [`NetworkStore::start_user_mode`] between create and start (the runtime's
//! `before_start`), which runs pasta on the container's namespaces and records its pid;
//! [`NetworkStore::detach`] stops it. pasta is told `--no-map-gw` (the container does not
//! reach the host's loopback services through its gateway) and forwards nothing from the
//! namespace to the host (`-T none -U none`).
//!
//! A pasta whose owner was killed before it could stop it (an attached container's
//! program SIGKILLed) is stopped by the next [`detach`](NetworkStore::detach) of that
//! container, which `Engine::open`'s repair makes.

use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::{NetworkStore, PortBinding, Protocol};
use crate::runtime::Starting;
use crate::{Error, Result};

/// What is recorded of a container's user-mode network (`.usermode/<id>.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserMode {
    /// The published ports, host ports picked.
    ports: Vec<PortBinding>,
    /// pasta's pid and start time, while it runs.
    #[serde(default)]
    pasta: Option<(i32, u64)>,
}

impl NetworkStore {
    fn user_mode_path(&self, id: &str) -> PathBuf {
        self.dir.join(".usermode").join(format!("{id}.json"))
    }

    fn load_user_mode(&self, id: &str) -> Result<Option<UserMode>> {
        crate::store::read_json(&self.user_mode_path(id), "user-mode network")
    }

    fn save_user_mode(&self, id: &str, um: &UserMode) -> Result<()> {
        let path = self.user_mode_path(id);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::os("creating", dir, e))?;
        }
        let bytes = serde_json::to_vec(um).expect("a user-mode record serialises");
        crate::store::write_replace(&path, &bytes, false)
    }

    /// Readies user-mode networking for rootless container `id` publishing `ports`:
    /// checks that pasta can run here, picks the host ports asked as 0 and records the
    /// bindings; returns them.
    ///
    /// # Errors
    /// [`Error::Unsupported`] naming what to install or configure (pasta, a usable
    /// `/dev/net/tun`); [`Error::PortInUse`]-style errors as the bridge path gives them
    /// when a host port is taken.
    pub(crate) fn prepare_user_mode(
        &self,
        id: &str,
        ports: &[PortBinding],
    ) -> Result<Vec<PortBinding>> {
        pasta_usable()?;
        let mut out = Vec::with_capacity(ports.len());
        for p in ports {
            let mut p = *p;
            p.host_port = free_port(&p)?;
            out.push(p);
        }
        self.save_user_mode(
            id,
            &UserMode {
                ports: out.clone(),
                pasta: None,
            },
        )?;
        Ok(out)
    }

    /// The published ports of rootless container `id` (empty without user-mode
    /// networking).
    pub(crate) fn user_mode_ports(&self, id: &str) -> Vec<PortBinding> {
        self.load_user_mode(id)
            .ok()
            .flatten()
            .map(|um| um.ports)
            .unwrap_or_default()
    }

    /// Whether container `id` has user-mode networking recorded.
    pub(crate) fn has_user_mode(&self, id: &str) -> bool {
        self.user_mode_path(id).exists()
    }

    /// Runs pasta on the namespaces of the container `starting` (prepared by
    /// [`prepare_user_mode`](Self::prepare_user_mode)), waits until its ports listen, and
    /// records its pid. A pasta of an earlier start is stopped first.
    ///
    /// # Errors
    /// [`Error::Unsupported`] with pasta's own message when it fails.
    pub(crate) fn start_user_mode(&self, id: &str, starting: &Starting<'_>) -> Result<()> {
        let Some(mut um) = self.load_user_mode(id)? else {
            return Ok(());
        };
        stop_pasta(um.pasta.take());
        let (Some(net), Some(user)) = (starting.network, starting.user) else {
            return Err(Error::Unsupported {
                what: "user-mode networking".into(),
                reason: format!("container {id} has no network and user namespaces of its own"),
            });
        };
        let pid = run_pasta(self, id, &um.ports, net, user)?;
        um.pasta = Some((pid, crate::container::record::start_time(pid).unwrap_or(0)));
        self.save_user_mode(id, &um)
    }

    /// Stops the pasta of container `id` and forgets its user-mode network.
    pub(crate) fn detach_user_mode(&self, id: &str) {
        if let Ok(Some(um)) = self.load_user_mode(id) {
            stop_pasta(um.pasta);
        }
        let _ = fs::remove_file(self.user_mode_path(id));
        let _ = fs::remove_file(self.pasta_pid_path(id));
    }

    fn pasta_pid_path(&self, id: &str) -> PathBuf {
        self.dir.join(".usermode").join(format!("{id}.pid"))
    }
}

/// pasta's binary, if installed.
fn pasta_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("pasta"))
        .find(|p| p.is_file())
}

/// Whether pasta can run here: installed, and `/dev/net/tun` open to the user (it makes
/// the namespace's interface through it).
fn pasta_usable() -> Result<()> {
    let unsupported = |reason: String| Error::Unsupported {
        what: "a rootless container with a network (user-mode networking)".into(),
        reason,
    };
    if pasta_binary().is_none() {
        return Err(unsupported(
            "pasta is not installed (Debian: apt-get install passt); `--network none` runs \
             without"
                .into(),
        ));
    }
    if let Err(e) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        return Err(unsupported(format!(
            "/dev/net/tun cannot be opened by user {} ({e}): pasta makes the container's \
             interface through it; it must be mode 0666 (as Debian's udev rules make it), or \
             run with `--network none`",
            rustix::process::geteuid().as_raw()
        )));
    }
    Ok(())
}

/// The host port for `p`: its own, or a free one when it asks for 0 (bound and let go at
/// once, as the bridge path picks them).
fn free_port(p: &PortBinding) -> Result<u16> {
    if p.host_port != 0 {
        return Ok(p.host_port);
    }
    let addr = SocketAddrV4::new(p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), 0);
    let port = match p.protocol {
        Protocol::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    }
    .map_err(|e| Error::Io {
        op: format!("picking a free host port on {}", addr.ip()),
        source: e,
    })?
    .port();
    Ok(port)
}

/// pasta's `-t`/`-u` value for one binding: `[ADDRESS/]HOSTPORT:CONTAINERPORT`.
fn forward(p: &PortBinding) -> String {
    match p.host_ip {
        Some(ip) => format!("{ip}/{}:{}", p.host_port, p.container_port),
        None => format!("{}:{}", p.host_port, p.container_port),
    }
}

/// Starts pasta daemonised on the namespaces `net` and `user` (through this process's
/// fds) with `ports`; its pid once it is ready (its first process exits when the
/// namespace is configured and the ports listen).
fn run_pasta(
    store: &NetworkStore,
    id: &str,
    ports: &[PortBinding],
    net: BorrowedFd<'_>,
    user: BorrowedFd<'_>,
) -> Result<i32> {
    let pasta = pasta_binary().ok_or_else(|| Error::Unsupported {
        what: "user-mode networking".into(),
        reason: "pasta is not installed (Debian: apt-get install passt)".into(),
    })?;
    let pid_file = store.pasta_pid_path(id);
    let _ = fs::remove_file(&pid_file);
    let mut cmd = Command::new(&pasta);
    cmd.args([
        "--config-net",
        "--quiet",
        "--no-map-gw",
        "-T",
        "none",
        "-U",
        "none",
    ]);
    for (flag, proto) in [("-t", Protocol::Tcp), ("-u", Protocol::Udp)] {
        let specs: Vec<String> = ports
            .iter()
            .filter(|p| p.protocol == proto)
            .map(forward)
            .collect();
        if specs.is_empty() {
            cmd.args([flag, "none"]);
        }
        for s in specs {
            cmd.args([flag, &s]);
        }
    }
    cmd.arg("--pid")
        .arg(&pid_file)
        // the namespaces as pasta's own fds (this process may be non-dumpable, so its
        // /proc/<pid>/fd is closed to pasta); dup2 from fds at or above 3 onto targets
        // far above any fd the child inherits otherwise
        .arg("--userns")
        .arg(format!("/proc/self/fd/{USER_FD}"))
        .arg("--netns")
        .arg(format!("/proc/self/fd/{NET_FD}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    crate::sys::process::pass_fds(&mut cmd, &[(user, USER_FD), (net, NET_FD)]);
    let mut child = cmd.spawn().map_err(|e| Error::Spawn {
        stage: format!("running {}", pasta.display()),
        source: e,
    })?;
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let status = child.wait().map_err(|e| Error::Io {
        op: "waiting for pasta".into(),
        source: e,
    })?;
    if !status.success() {
        return Err(Error::Unsupported {
            what: format!("user-mode networking for container {id}"),
            reason: format!("pasta failed ({status}): {}", err.trim()),
        });
    }
    let pid = read_pid(&pid_file).ok_or_else(|| Error::Unsupported {
        what: format!("user-mode networking for container {id}"),
        reason: format!("pasta wrote no pid to {}", pid_file.display()),
    })?;
    Ok(pid)
}

/// The fds pasta gets the container's user and network namespaces as.
const USER_FD: i32 = 1020;
const NET_FD: i32 = 1021;

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Ends a pasta recorded as `(pid, start time)`, if that process still runs, and waits
/// until it is gone (its ports free again, as Docker's are once `rm` returns): SIGTERM,
/// then SIGKILL after a second.
fn stop_pasta(pasta: Option<(i32, u64)>) {
    let Some((pid, start)) = pasta else {
        return;
    };
    // running (a zombie has closed its sockets already)
    let running = || {
        crate::runtime::state::proc_start_time(pid).is_some_and(|(s, st)| s == start && st != 'Z')
    };
    if !running() {
        return;
    }
    let _ = crate::sys::file::kill(pid, libc::SIGTERM);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while running() {
        if std::time::Instant::now() > deadline {
            let _ = crate::sys::file::kill(pid, libc::SIGKILL);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
