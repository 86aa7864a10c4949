//! A real registry for tests (Debian's `docker-registry`) on a loopback: the host's (a
//! free port) or that of a network namespace (a service's, see `api::ApiService`); and
//! the basic auth (`USER`/`PASSWORD`, an htpasswd file) some tests put in front of it.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cargohold::Reference;

/// The user name the basic-auth registry knows.
pub const USER: &str = "student";
/// Its password.
pub const PASSWORD: &str = "s3cret:pass";

/// The registry config's `auth` section for `USER`/`PASSWORD` (bcrypt-hashed into an
/// htpasswd file in `dir`).
pub fn basic_auth(dir: &Path) -> String {
    let hash = bcrypt::hash_with_result(PASSWORD, 5)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let htpasswd = dir.join("htpasswd");
    fs::write(&htpasswd, format!("{USER}:{hash}\n")).unwrap();
    format!(
        "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
        htpasswd.display()
    )
}

/// A registry process; killed (by its pid) when dropped.
pub struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// On the host's loopback, deletes enabled; `None` without docker-registry.
    pub fn start() -> Option<Registry> {
        Registry::start_with(|_| "  delete:\n    enabled: true\n".to_owned())
    }

    /// On the host's loopback, on a free port, with `extra(dir)` after the config's
    /// storage section (`dir`: its directory, for files the extra config names); `None`
    /// without docker-registry.
    pub fn start_with(extra: impl FnOnce(&Path) -> String) -> Option<Registry> {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Registry::spawn(None, port, extra, || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
    }

    /// On port 5000 of the loopback of the network namespace of process `pid`, with
    /// `extra` as for [`start_with`](Self::start_with).
    pub fn start_in_netns(pid: u32, extra: impl FnOnce(&Path) -> String) -> Option<Registry> {
        let port = 5000;
        Registry::spawn(Some(pid), port, extra, || {
            let o = Command::new("nsenter")
                .args([
                    "-t",
                    &pid.to_string(),
                    "-n",
                    "curl",
                    "-s",
                    "-o",
                    "/dev/null",
                ])
                .args([
                    "-w",
                    "%{http_code}",
                    &format!("http://127.0.0.1:{port}/v2/"),
                ])
                .output()
                .unwrap();
            matches!(&o.stdout[..], b"200" | b"401")
        })
    }

    fn spawn(
        netns: Option<u32>,
        port: u16,
        extra: impl FnOnce(&Path) -> String,
        ready: impl Fn() -> bool,
    ) -> Option<Registry> {
        if Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("skipping: no docker-registry");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n{}http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display(),
                extra(dir.path()),
            ),
        )
        .unwrap();
        let mut c = match netns {
            Some(pid) => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-n", "docker-registry"]);
                c
            }
            None => Command::new("docker-registry"),
        };
        let child = c
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reg = Registry {
            child,
            port,
            _dir: dir,
        };
        let start = Instant::now();
        while !ready() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(reg)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/name`.
    pub fn reference(&self, name: &str) -> Reference {
        format!("{}/{name}", self.host()).parse().unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
