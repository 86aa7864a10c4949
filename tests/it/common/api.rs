//! The engine example's `system service` (the Docker Engine API) for tests: its own engine
//! root (with busybox imported as `busybox:latest`), its socket, in a network namespace of
//! its own; the docker client pointed at it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::engine::busybox;
use super::tools::example_bin;

/// A running `engine system service`; stopped by its pid when dropped, its containers
/// removed first.
pub struct ApiService {
    child: Child,
    dir: tempfile::TempDir,
    /// The socket.
    pub sock: PathBuf,
    /// The engine root.
    pub root: PathBuf,
}

impl ApiService {
    /// Starts the service in a network namespace of its own (loopback up) and waits (up
    /// to 20 s) until its socket answers.
    pub fn start() -> ApiService {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-api")
            .tempdir_in("/var/tmp")
            .unwrap();
        let root = dir.path().join("root");
        let sock = dir.path().join("docker.sock");
        std::fs::create_dir(dir.path().join("config")).unwrap();
        {
            let engine = cargohold::Engine::open(&root).unwrap();
            busybox().web().import(&engine, "busybox:latest");
        }
        let log = std::fs::File::create(dir.path().join("service.log")).unwrap();
        let script = format!(
            "ip link set lo up && exec {} --root {} system service --time 0 unix://{}",
            example_bin("engine").display(),
            root.display(),
            sock.display()
        );
        let child = Command::new("unshare")
            .args(["-n", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let s = ApiService {
            child,
            dir,
            sock,
            root,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&s.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "the service did not start: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// What the service wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    /// The service's pid (its network namespace is the containers' host).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The docker client (`/usr/local/bin/docker`, else `docker` in `$PATH`) pointed at
    /// the socket, with a configuration directory of its own.
    pub fn docker(&self) -> Command {
        let bin = if std::path::Path::new("/usr/local/bin/docker").exists() {
            "/usr/local/bin/docker"
        } else {
            "docker"
        };
        self.client(bin)
    }

    /// Another docker client binary (Debian's 20.10 at `/usr/bin/docker`) pointed at the
    /// socket.
    pub fn client(&self, bin: &str) -> Command {
        let mut c = Command::new(bin);
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", self.dir.path().join("config"))
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION");
        c
    }

    /// `docker ARGS` through files (a container may keep pipes open).
    pub fn run(&self, args: &[&str]) -> Output {
        let mut c = self.docker();
        c.args(args);
        super::output_via_files(&mut c)
    }

    /// `docker ARGS`, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?}: {}\nservice log: {}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A shell script run in the service's network namespace (to reach published ports).
    pub fn in_netns(&self, script: &str) -> Output {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.pid().to_string(), "-n", "sh", "-c", script]);
        super::output_via_files(&mut c)
    }

    /// The engine example on the service's root, in its network namespace (where the
    /// containers' networks are): `args` as a shell would split them.
    pub fn engine(&self, args: &str) -> Output {
        self.in_netns(&format!("{} {args}", self.engine_cmd()))
    }

    fn engine_cmd(&self) -> String {
        format!(
            "{} --root {}",
            example_bin("engine").display(),
            self.root.display()
        )
    }

    /// A raw HTTP request on the socket (`curl --unix-socket`): status line and headers,
    /// a blank line, the body.
    pub fn curl(&self, args: &[&str]) -> String {
        let mut c = Command::new("curl");
        c.args(["-s", "-i", "--unix-socket", self.sock.to_str().unwrap()])
            .args(args);
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    }

    /// A bodiless `POST` of `url` on the socket, as [`curl`](Self::curl) prints it.
    pub fn post(&self, url: &str) -> String {
        self.curl(&["-X", "POST", url])
    }

    /// The socket's mode bits.
    pub fn sock_mode(&self) -> u32 {
        std::fs::metadata(&self.sock).unwrap().permissions().mode() & 0o7777
    }
}

impl Drop for ApiService {
    fn drop(&mut self) {
        // in the service's namespace, where the containers' networks are
        let engine = self.engine_cmd();
        let _ = self.in_netns(&format!("{engine} ps -aq | xargs -r {engine} rm -f"));
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
