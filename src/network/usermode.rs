//! User-mode networking for rootless containers, through pasta (Debian's `passt`
//! package) or, where it is missing, slirp4netns: a user may not make bridges, veth pairs
//! or NAT rules, so a rootless container on the default network gets a network namespace
//! of its own (in its user namespace) that the helper connects to the host's sockets —
//! outbound connections become the user's own sockets, and each published port is a
//! socket the helper listens on as the user and forwards into the namespace. pasta is
//! preferred: it forwards ports in the kernel's socket layer rather than through a
//! user-space TCP stack (about 4.7x slirp4netns's throughput in RootlessKit's
//! measurements) and takes them on its command line; slirp4netns gets them through its
//! API socket (`add_hostfwd`) and forwards to the container's fixed address 10.0.2.100.
//!
//! The steps: [`NetworkStore::prepare_user_mode`] when the container is attached (checks
//! that a helper can run here, picks host ports for `-p 80`, records the bindings);
//! [`NetworkStore::start_user_mode`] between create and start (the runtime's
//! `before_start`), which runs the helper on the container's namespaces and records its
//! pid; [`NetworkStore::detach`] stops it. The container does not reach the host's
//! loopback through its gateway (pasta `--no-map-gw`, slirp4netns
//! `--disable-host-loopback`), and nothing is forwarded from the namespace to the host.
//!
//! A helper does not outlive what it serves. pasta would quit when its namespace goes
//! away, but it holds that namespace itself, and it watches a namespace given as a path
//! through inotify, which `/proc` never fires: it has to be ended from outside. So the
//! helper of an attached container is a child of this process that dies with it: pasta
//! runs in the foreground with `PR_SET_PDEATHSIG` (spawned from the process-lifetime
//! spawner thread, as the container's init is), slirp4netns exits when its `--exit-fd`
//! closes with this process. While this process lives, a thread reaps the helper and ends
//! it as soon as the container's init exits (a handle dropped without `wait`). A monitor's
//! pasta is a daemon stopped by the monitor's [`detach`](NetworkStore::detach); one that
//! survived a killed monitor is stopped by the next detach of that container, which
//! `Engine::open`'s repair makes.

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
    /// The helper's pid and start time, while it runs.
    #[serde(default, alias = "pasta")]
    helper: Option<(i32, u64)>,
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
        helper()?;
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
                helper: None,
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

    /// Runs the helper on the namespaces of the container `starting` (prepared by
    /// [`prepare_user_mode`](Self::prepare_user_mode)), waits until its ports listen, and
    /// records its pid. A helper of an earlier start is stopped first. `attached`: the
    /// container belongs to this process (called on its spawner thread), and so does the
    /// helper, which dies with it (see the module's docs).
    ///
    /// # Errors
    /// [`Error::Unsupported`] with the helper's own message when it fails.
    pub(crate) fn start_user_mode(
        &self,
        id: &str,
        starting: &Starting<'_>,
        attached: bool,
    ) -> Result<()> {
        let Some(mut um) = self.load_user_mode(id)? else {
            return Ok(());
        };
        stop_helper(um.helper.take());
        let (Some(net), Some(user)) = (starting.network, starting.user) else {
            return Err(Error::Unsupported {
                what: "user-mode networking".into(),
                reason: format!("container {id} has no network and user namespaces of its own"),
            });
        };
        let pid = match helper()? {
            Helper::Pasta(bin) => {
                let init = attached.then_some(starting.pid);
                run_pasta(self, &bin, id, &um.ports, (net, user), init)?
            }
            Helper::Slirp(bin) => run_slirp(&bin, id, &um.ports, (net, user), starting.pid)?,
        };
        um.helper = Some((pid, crate::container::record::start_time(pid).unwrap_or(0)));
        self.save_user_mode(id, &um)
    }

    /// Stops the helper of container `id` and forgets its user-mode network.
    pub(crate) fn detach_user_mode(&self, id: &str) {
        if let Ok(Some(um)) = self.load_user_mode(id) {
            stop_helper(um.helper);
        }
        exit_fds().remove(id);
        let _ = fs::remove_file(self.user_mode_path(id));
        let _ = fs::remove_file(self.pasta_pid_path(id));
        let _ = fs::remove_file(self.pasta_err_path(id));
        let _ = fs::remove_file(api_socket(id));
    }

    /// Starts pasta, without ports, on the namespaces of the network keeper `keeper` (see
    /// [`super::rootless`]): the way out of the rootless user-defined networks, whose
    /// bridges' rules masquerade what leaves them. Returns its pid.
    ///
    /// # Errors
    /// [`Error::Unsupported`] without pasta (slirp4netns is not used for this) or when it
    /// fails; [`Error::Os`] when the keeper's namespaces cannot be opened.
    pub(super) fn start_keeper_pasta(&self, keeper: i32) -> Result<i32> {
        let Helper::Pasta(bin) = helper()? else {
            return Err(Error::Unsupported {
                what: "outbound traffic of rootless user-defined networks".into(),
                reason: "it goes through pasta (Debian: apt-get install passt)".into(),
            });
        };
        let open = |kind: &str| {
            let path = PathBuf::from(format!("/proc/{keeper}/ns/{kind}"));
            fs::File::open(&path).map_err(|e| Error::os("opening", path, e))
        };
        let (net, user) = (open("net")?, open("user")?);
        let dir = self.dir.join(".usermode");
        fs::create_dir_all(&dir).map_err(|e| Error::os("creating", &dir, e))?;
        use std::os::fd::AsFd;
        run_pasta(self, &bin, "keeper", &[], (net.as_fd(), user.as_fd()), None)
    }

    fn pasta_pid_path(&self, id: &str) -> PathBuf {
        self.dir.join(".usermode").join(format!("{id}.pid"))
    }

    fn pasta_err_path(&self, id: &str) -> PathBuf {
        self.dir.join(".usermode").join(format!("{id}.err"))
    }
}

/// The user-mode networking helper this host has.
enum Helper {
    Pasta(PathBuf),
    Slirp(PathBuf),
}

/// `name` in `$PATH`.
fn in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// pasta, else slirp4netns, if `/dev/net/tun` is open to the user (both make the
/// namespace's interface through it).
fn helper() -> Result<Helper> {
    let unsupported = |reason: String| Error::Unsupported {
        what: "a rootless container with a network (user-mode networking)".into(),
        reason,
    };
    let found = match (in_path("pasta"), in_path("slirp4netns")) {
        (Some(p), _) => Helper::Pasta(p),
        (None, Some(s)) => Helper::Slirp(s),
        (None, None) => {
            return Err(unsupported(
                "neither pasta nor slirp4netns is installed (Debian: apt-get install passt, \
                 or slirp4netns); `--network none` runs without"
                    .into(),
            ))
        }
    };
    if let Err(e) = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        return Err(unsupported(format!(
            "/dev/net/tun cannot be opened by user {} ({e}): the helper makes the \
             container's interface through it; it must be mode 0666 (as Debian's udev rules \
             make it), or run with `--network none`",
            rustix::process::geteuid().as_raw()
        )));
    }
    Ok(found)
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

/// Starts pasta on the namespaces `ns` (network, user; through this process's fds) with
/// `ports`; its pid once it is ready (the namespace configured, the ports listening).
/// Without `init` it runs as a daemon (its first process exits when it is ready); with the
/// pid of the container's init it runs in the foreground as this process's child, killed
/// when the calling thread (the spawner thread) exits and ended when `init` does.
fn run_pasta(
    store: &NetworkStore,
    pasta: &Path,
    id: &str,
    ports: &[PortBinding],
    (net, user): (BorrowedFd<'_>, BorrowedFd<'_>),
    init: Option<i32>,
) -> Result<i32> {
    let failed = |reason: String| Error::Unsupported {
        what: format!("user-mode networking for container {id}"),
        reason,
    };
    let pid_file = store.pasta_pid_path(id);
    let _ = fs::remove_file(&pid_file);
    // its messages go to a file (a foreground pasta keeps its stderr open: a pipe would
    // never end, or break pasta's next write once let go), read when it fails
    let err_path = store.pasta_err_path(id);
    let mut err_file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&err_path)
        .map_err(|e| Error::os("creating", &err_path, e))?;
    let stderr = err_file
        .try_clone()
        .map_err(|e| Error::os("duplicating the fd of", &err_path, e))?;
    let mut cmd = Command::new(pasta);
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
    if init.is_some() {
        cmd.arg("--foreground");
        crate::sys::process::parent_death_signal(&mut cmd, libc::SIGKILL);
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
        .stderr(stderr);
    crate::sys::process::pass_fds(&mut cmd, &[(user, USER_FD), (net, NET_FD)]);
    let spawned = cmd.spawn();
    drop(cmd);
    let _ = fs::remove_file(&err_path);
    let mut child = spawned.map_err(|e| Error::Spawn {
        stage: format!("running {}", pasta.display()),
        source: e,
    })?;
    let mut messages = || {
        use std::io::Seek;
        let mut err = String::new();
        let _ = err_file.rewind();
        let _ = err_file.read_to_string(&mut err);
        err.trim().to_owned()
    };
    let Some(init) = init else {
        let status = child.wait().map_err(|e| Error::Io {
            op: "waiting for pasta".into(),
            source: e,
        })?;
        if !status.success() {
            return Err(failed(format!("pasta failed ({status}): {}", messages())));
        }
        return read_pid(&pid_file)
            .ok_or_else(|| failed(format!("pasta wrote no pid to {}", pid_file.display())));
    };
    // in the foreground, pasta writes its pid file where a daemon's first process exits:
    // once ready
    let deadline = std::time::Instant::now() + HELPER_READY;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Err(failed(format!("pasta failed ({status}): {}", messages())))
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Error::Io {
                    op: "waiting for pasta".into(),
                    source: e,
                })
            }
        }
        if fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n')) {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "pasta was not ready after {}s: {}",
                HELPER_READY.as_secs(),
                messages()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let pid = child.id() as i32;
    reap(child, init);
    Ok(pid)
}

/// How long a helper may take to configure the namespace.
const HELPER_READY: std::time::Duration = std::time::Duration::from_secs(20);

/// Reaps `helper`, a child of this process, on a thread of its own (this process may run
/// long and start many), and ends it (SIGTERM) if the container's init `init` exits first:
/// the helper of a container whose handle was dropped without a wait does not outlive the
/// container.
fn reap(mut helper: std::process::Child, init: i32) {
    use std::os::fd::AsRawFd;
    let init_fd = crate::sys::file::pidfd_open(init).ok();
    // unreaped until this thread waits: the pid names the helper until then
    let helper_fd = crate::sys::file::pidfd_open(helper.id() as i32).ok();
    let _ = std::thread::Builder::new()
        .name("cargohold-helper".into())
        .spawn(move || {
            if let (Some(i), Some(h)) = (init_fd, helper_fd) {
                let pollfd = |fd: &std::os::fd::OwnedFd| libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                let mut fds = [pollfd(&h), pollfd(&i)];
                if crate::sys::file::poll(&mut fds, -1).is_ok() && fds[0].revents == 0 {
                    let _ = crate::sys::file::kill(helper.id() as i32, libc::SIGTERM);
                }
            }
            let _ = helper.wait();
        });
}

/// The fds pasta gets the container's user and network namespaces as.
const USER_FD: i32 = 1020;
const NET_FD: i32 = 1021;

fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Runs slirp4netns on the namespaces `ns` (network, user), waits until it has configured
/// the namespace, and adds `ports` through its API socket; its pid. It exits when this
/// process does (its `--exit-fd`, whose other end is kept in [`exit_fds`] until the
/// container's network is detached), and is ended when the container's init `init` does.
fn run_slirp(
    slirp: &Path,
    id: &str,
    ports: &[PortBinding],
    (net, user): (BorrowedFd<'_>, BorrowedFd<'_>),
    init: i32,
) -> Result<i32> {
    let io = |op: &str, e: std::io::Error| Error::Io {
        op: format!("{op} for container {id}"),
        source: e,
    };
    let (mut ready_r, ready_w) = std::io::pipe().map_err(|e| io("making a pipe", e))?;
    let (exit_r, exit_w) = std::io::pipe().map_err(|e| io("making a pipe", e))?;
    let sock = api_socket(id);
    if let Some(dir) = sock.parent() {
        let _ = fs::create_dir_all(dir);
    }
    let _ = fs::remove_file(&sock);
    let mut cmd = Command::new(slirp);
    cmd.args(["--configure", "--mtu=65520", "--disable-host-loopback"])
        .arg("--netns-type=path")
        .arg(format!("--userns-path=/proc/self/fd/{USER_FD}"))
        .arg(format!("--ready-fd={READY_FD}"))
        .arg(format!("--exit-fd={EXIT_FD}"))
        .arg("--api-socket")
        .arg(&sock)
        .arg(format!("/proc/self/fd/{NET_FD}"))
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    {
        use std::os::fd::AsFd;
        crate::sys::process::pass_fds(
            &mut cmd,
            &[
                (user, USER_FD),
                (net, NET_FD),
                (ready_w.as_fd(), READY_FD),
                (exit_r.as_fd(), EXIT_FD),
            ],
        );
    }
    let mut child = cmd.spawn().map_err(|e| Error::Spawn {
        stage: format!("running {}", slirp.display()),
        source: e,
    })?;
    drop((ready_w, exit_r));
    let failed = |child: &mut std::process::Child, what: &str| {
        let _ = child.kill();
        let _ = child.wait();
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        Error::Unsupported {
            what: format!("user-mode networking for container {id}"),
            reason: format!("slirp4netns {what}: {}", err.trim()),
        }
    };
    let mut b = [0u8; 1];
    if !matches!(ready_r.read(&mut b), Ok(1)) {
        return Err(failed(&mut child, "did not configure the namespace"));
    }
    for p in ports {
        if let Err(e) = add_hostfwd(&sock, p) {
            let what = format!("refused to publish {} ({e})", forward(p));
            return Err(failed(&mut child, &what));
        }
    }
    exit_fds().insert(id.to_owned(), exit_w);
    // its stderr pipe is not read again: let it go
    drop(child.stderr.take());
    let pid = child.id() as i32;
    reap(child, init);
    Ok(pid)
}

/// The API socket of container `id`'s slirp4netns: short (a socket path has 108 bytes),
/// in the user's runtime directory.
fn api_socket(id: &str) -> PathBuf {
    crate::paths::runtime_dir()
        .join("cargohold-slirp")
        .join(format!("{}.sock", &id[..id.len().min(16)]))
}

/// Publishes `p` through slirp4netns's API socket `sock` (`add_hostfwd` to the
/// container's 10.0.2.100).
fn add_hostfwd(sock: &Path, p: &PortBinding) -> std::io::Result<()> {
    use std::io::Write;
    let req = serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": p.protocol.to_string(),
            "host_addr": p.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
            "host_port": p.host_port,
            "guest_port": p.container_port,
        }
    });
    let mut s = std::os::unix::net::UnixStream::connect(sock)?;
    s.write_all(req.to_string().as_bytes())?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)?;
    let v: serde_json::Value = serde_json::from_str(&reply).unwrap_or_default();
    match v.get("error") {
        None if v.get("return").is_some() => Ok(()),
        _ => Err(std::io::Error::other(reply.trim().to_owned())),
    }
}

/// The write ends of the `--exit-fd` pipes of this process's slirp4netns helpers, by
/// container: closed (the helper exits) when the container's network is detached, or
/// with this process.
fn exit_fds(
) -> std::sync::MutexGuard<'static, std::collections::HashMap<String, std::io::PipeWriter>> {
    static FDS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, std::io::PipeWriter>>,
    > = std::sync::OnceLock::new();
    FDS.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner())
}

/// The fds slirp4netns gets its ready and exit pipes as.
const READY_FD: i32 = 1022;
const EXIT_FD: i32 = 1023;

/// Ends a helper recorded as `(pid, start time)`, if that process still runs, and waits
/// until it is gone (its ports free again, as Docker's are once `rm` returns): SIGTERM,
/// then SIGKILL after a second.
pub(super) fn stop_helper(helper: Option<(i32, u64)>) {
    let Some((pid, start)) = helper else {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether process `pid` still runs (a zombie does not).
    fn alive(pid: i32) -> bool {
        crate::runtime::state::proc_start_time(pid).is_some_and(|(_, st)| st != 'Z')
    }

    /// A helper outlives no container: when the init exits first, the reaper ends the
    /// helper and reaps it; a helper that exits on its own is reaped alone.
    /// Waits until process `pid` is gone (reaped), failing with `why` after 10 s.
    fn gone_within_10s(pid: i32, why: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::path::Path::new(&format!("/proc/{pid}")).exists() {
            assert!(std::time::Instant::now() < deadline, "{why}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn the_reaper_ends_a_helper_whose_container_is_gone() {
        let mut init = Command::new("sleep").arg("0.2").spawn().unwrap();
        let helper = Command::new("sleep").arg("100").spawn().unwrap();
        let pid = helper.id() as i32;
        reap(helper, init.id() as i32);
        init.wait().unwrap();
        gone_within_10s(pid, "the helper outlived the init");
        // the init still runs: the helper is only reaped when it exits
        let init = Command::new("sleep").arg("100").spawn().unwrap();
        let helper = Command::new("sleep").arg("0.1").spawn().unwrap();
        let pid = helper.id() as i32;
        reap(helper, init.id() as i32);
        gone_within_10s(pid, "the helper was not reaped");
        assert!(alive(init.id() as i32));
        let mut init = init;
        init.kill().unwrap();
        init.wait().unwrap();
    }
}
