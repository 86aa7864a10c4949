//! A private dockerd (Debian's docker.io) for side-by-side checks: its own data root, exec
//! root, socket and containerd, in the calling thread's network namespace and a mount
//! namespace of its own (a tmpfs hides the host's `/run/containerd`, so dockerd starts its
//! own containerd and every mount it makes goes with that namespace).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools::tool;

/// A running dockerd; stopped (SIGTERM, then SIGKILL after 20 s) by its pid when dropped,
/// with whatever of its own is left (its containerd, shims: every process whose command
/// line names the fixture's directory).
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Dockerd {
    /// Starts dockerd and waits (up to 30 s) until it answers; `None`, with a note, when
    /// dockerd or the docker client is not installed.
    pub fn start() -> Option<Dockerd> {
        if !(tool("dockerd") && tool("docker")) {
            eprintln!("skipping: no dockerd or docker client");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("cargohold-dockerd")
            .tempdir_in("/var/tmp")
            .unwrap();
        let d = dir.path();
        for sub in ["data", "exec", "config"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        // not /etc/docker/daemon.json: nothing of the host's configuration
        std::fs::write(d.join("daemon.json"), "{}").unwrap();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let script = format!(
            "[ -d /run/containerd ] && mount -t tmpfs -o mode=0700 dockerd-test /run/containerd; \
             exec dockerd --config-file {d}/daemon.json --data-root {d}/data --exec-root {d}/exec \
             --pidfile {d}/dockerd.pid -H unix://{d}/docker.sock --iptables=false \
             --ip6tables=false --ip-masq=false --storage-driver overlay2 \
             --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent /{cg} --log-level warn",
            d = d.display(),
            cg = dockerd_cgroup(d),
        );
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut dockerd = Dockerd { child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let up = dockerd
                .docker()
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if up {
                return Some(dockerd);
            }
            let exited = dockerd.child.try_wait().unwrap().is_some();
            assert!(
                !exited && Instant::now() < deadline,
                "dockerd did not come up:\n{}",
                std::fs::read_to_string(dockerd.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `unix://…/docker.sock`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    /// A directory for the client's configuration (`DOCKER_CONFIG`), not the user's.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The docker client, talking to this daemon.
    pub fn docker(&self) -> Command {
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", self.host())
            .env("DOCKER_CONFIG", self.config_dir())
            .stdin(Stdio::null());
        c
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) of the child this fixture spawned and has not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mark = self.dir.path().display().to_string();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<libc::pid_t>() else {
                continue;
            };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&mark) {
                // SAFETY: kill(2) of a process this fixture's daemon started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // the containers' parent cgroup, in every hierarchy (empty once they are gone)
        let name = dockerd_cgroup(self.dir.path());
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = std::fs::remove_dir(h.path().join(&name));
        }
    }
}

/// The parent cgroup of the daemon's containers: one of its own (not `/docker`), named
/// after its directory.
fn dockerd_cgroup(dir: &std::path::Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}
