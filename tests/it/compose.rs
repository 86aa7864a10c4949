//! `engine compose` (issue 14): up/ps/down of a project written by the test, on an engine
//! root of its own with `localhost/busybox:latest` (busybox with a web root).
//!
//! Every test runs in a network namespace of its own (`common::in_new_netns`): the engine
//! commands it runs are children of that thread, so they all share the namespace (their
//! bridges, NAT rules and published ports live there), and the test reaches the
//! published ports over 127.0.0.1 in it. The detached containers' monitors keep the
//! namespace alive until `down`.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, WEB_PAGE};

const IMAGE: &str = "localhost/busybox:latest";

/// An engine root with the image, and a project directory.
pub(crate) struct Cli {
    pub(crate) root: tempfile::TempDir,
    pub(crate) dir: tempfile::TempDir,
}

impl Cli {
    pub(crate) fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-compose")
            .tempdir()
            .unwrap();
        let engine = cargohold::Engine::open(root.path()).unwrap();
        common::busybox().web().import(&engine, IMAGE);
        drop(engine);
        Cli {
            root,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn file(&self, name: &str, text: &str) -> &Cli {
        fs::write(self.dir.path().join(name), text).unwrap();
        self
    }

    /// The engine in the calling thread's network namespace, in the project directory.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root")
            .arg(self.root.path())
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    pub(crate) fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(&mut self.cmd(args))
    }

    /// Succeeds; (stdout, stderr).
    pub(crate) fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.out(args);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        assert!(
            o.status.success(),
            "engine {args:?}: {:?}\n{out}\n{err}",
            o.status
        );
        (out, err)
    }

    pub(crate) fn stdout(&self, args: &[&str]) -> String {
        self.ok(args).0
    }

    /// `compose ps -a --format '{{.Service}} {{.ID}}'` as (service, id) pairs.
    fn services(&self) -> Vec<(String, String)> {
        let out = self.stdout(&["compose", "ps", "-a", "--format", "{{.Service}} {{.ID}}"]);
        let mut v: Vec<(String, String)> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect();
        v.sort();
        v
    }

    /// Nothing of the engine is left: no container, network but the predefined ones, volume,
    /// link but `lo`, mount under the root.
    pub(crate) fn assert_empty(&self) {
        self.assert_empty_but(&["lo"]);
    }

    /// [`Self::assert_empty`] in a namespace whose links are `links` (another daemon's too).
    pub(crate) fn assert_empty_but(&self, links: &[&str]) {
        assert_eq!(self.stdout(&["ps", "-a", "-q"]), "");
        let nets = self.stdout(&["network", "ls", "--format", "{{.Name}}"]);
        assert_eq!(nets, "bridge\nhost\nnone\n");
        assert_eq!(self.stdout(&["volume", "ls", "-q"]), "");
        assert_eq!(common::link_names(), links);
        let root = self.root.path().display().to_string();
        assert!(
            common::mounts_with(&root).is_empty(),
            "{:?}",
            common::mounts_with(&root)
        );
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        common::remove_all_containers(self.root.path());
    }
}

/// An HTTP GET over 127.0.0.1 in the calling thread's namespace: the body.
pub(crate) fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or(resp)
}

pub(crate) fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) const THREE_TIER: &str = r#"
name: tier
services:
  init:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo seeded > /data/seed"]
    volumes: ["data:/data"]
  api:
    image: localhost/busybox:latest
    command: ["busybox", "httpd", "-f", "-p", "8080", "-h", "/data"]
    environment:
      MODE: ${MODE:-one}
    volumes: ["data:/data:ro"]
    depends_on:
      init: {condition: service_completed_successfully}
    healthcheck:
      test: ["CMD", "busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/seed"]
      interval: 200ms
      retries: 50
    ports: ["127.0.0.1:18480:8080"]
    stop_grace_period: 1s
  web:
    image: localhost/busybox:latest
    command: ["busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["18481:80"]
    depends_on:
      api: {condition: service_healthy}
    stop_grace_period: 1s
  client:
    image: localhost/busybox:latest
    command: ["sh", "-c", "busybox wget -q -O - http://api:8080/seed; busybox wget -q -O - http://web/; exec sleep 300"]
    depends_on: [api, web]
    stop_grace_period: 1s
volumes:
  data: {}
"#;

/// A three-tier application: a job fills a volume and must complete first, an API with a
/// healthcheck serves it on a published port, a web server waits for the API to be
/// healthy, a client reaches both by service name. `up -d --wait`, `ps`, the ports over
/// 127.0.0.1; a changed environment recreates only its service; `down -v` leaves nothing.
#[test]
#[ignore = "requires root"]
fn three_tier_app_up_ps_recreate_down() {
    let cli = Cli::new();
    cli.file("compose.yaml", THREE_TIER);
    common::in_new_netns(|| {
        let (_, err) = cli.ok(&["compose", "up", "-d", "--wait"]);
        for line in [
            " Network tier_default  Created",
            " Volume tier_data  Created",
            " Container tier-init-1  Started",
            " Container tier-init-1  Exited",
            " Container tier-api-1  Healthy",
            " Container tier-web-1  Started",
            " Container tier-client-1  Started",
        ] {
            assert!(err.contains(line), "{line:?} in\n{err}");
        }
        // ps: the running ones, Compose's columns; -a adds the job
        let ps = cli.stdout(&["compose", "ps"]);
        assert_eq!(
            common::table_header(&ps),
            ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
        );
        assert_eq!(ps.lines().count(), 4, "{ps}");
        assert!(
            ps.contains("tier-api-1") && ps.contains("(healthy)"),
            "{ps}"
        );
        assert!(ps.contains("127.0.0.1:18480->8080/tcp"), "{ps}");
        assert!(!ps.contains("tier-init-1"), "{ps}");
        let all = cli.stdout(&[
            "compose",
            "ps",
            "-a",
            "--format",
            "{{.Name}} {{.State}} {{.ExitCode}}",
        ]);
        assert!(all.contains("tier-init-1 exited 0"), "{all}");
        // the published ports answer on loopback; the client reached both by name
        assert_eq!(http_get(18481, "/"), WEB_PAGE);
        assert_eq!(http_get(18480, "/seed"), "seeded\n");
        wait_until("the client's output", || {
            let logs = cli.stdout(&["compose", "logs", "client"]);
            logs.contains("client-1  | seeded") && logs.contains(WEB_PAGE.trim())
        });
        // labels as Compose's
        let labels = cli.stdout(&["inspect", "-f", "{{json .Config.Labels}}", "tier-api-1"]);
        for l in [
            r#""com.docker.compose.project":"tier""#,
            r#""com.docker.compose.service":"api""#,
            r#""com.docker.compose.container-number":"1""#,
            r#""com.docker.compose.oneoff":"False""#,
            r#""com.docker.compose.depends_on":"init:service_completed_successfully:false""#,
        ] {
            assert!(labels.contains(l), "{l} in {labels}");
        }
        let ls = cli.stdout(&["compose", "ls"]);
        assert!(
            ls.lines()
                .any(|l| l.starts_with("tier ") && l.contains("running(3)")),
            "{ls}"
        );

        // up again with a changed environment: only the API is recreated
        let before = cli.services();
        let o = common::output_via_files(cli.cmd(&["compose", "up", "-d"]).env("MODE", "two"));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{err}");
        assert!(err.contains(" Container tier-web-1  Running"), "{err}");
        assert!(err.contains(" Container tier-api-1  Recreate"), "{err}");
        let after = cli.services();
        assert_eq!(before.len(), 4);
        for ((s, id), (s2, id2)) in before.iter().zip(&after) {
            assert_eq!(s, s2);
            assert_eq!(id == id2, s != "api", "{s}: {id} {id2}");
        }
        let env = cli.stdout(&["inspect", "-f", "{{json .Config.Env}}", "tier-api-1"]);
        assert!(env.contains("MODE=two"), "{env}");

        // down -v: nothing left
        let (_, err) = cli.ok(&["compose", "down", "-v"]);
        assert!(err.contains(" Network tier_default  Removed"), "{err}");
        assert!(err.contains(" Volume tier_data  Removed"), "{err}");
        cli.assert_empty();
    });
}

/// A dependency that exits 1 fails `up`, naming it and its code, and leaves nothing.
#[test]
#[ignore = "requires root"]
fn failing_dependency_leaves_nothing() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: broken
services:
  job:
    image: localhost/busybox:latest
    command: ["sh", "-c", "exit 1"]
    volumes: ["scratch:/scratch"]
  app:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    depends_on:
      job: {condition: service_completed_successfully}
      other: {condition: service_started, required: false}
  side:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    ports: ["18482:80"]
volumes:
  scratch: {}
"#,
    );
    common::in_new_netns(|| {
        let o = cli.out(&["compose", "up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(
            err.contains(r#"service "job" didn't complete successfully: exit 1"#),
            "{err}"
        );
        assert!(err.contains(" Network broken_default  Removed"), "{err}");
        cli.assert_empty();
    });
}

/// `.env` interpolation, `config`, profiles: a service of a profile starts only with it.
#[test]
#[ignore = "requires root"]
fn profiles_env_and_config() {
    let cli = Cli::new();
    cli.file(".env", "TAG=latest\nWEB_PORT=18483\n");
    cli.file(
        "compose.yaml",
        r#"
services:
  web:
    image: localhost/busybox:${TAG}
    command: ["busybox", "httpd", "-f", "-p", "80", "-h", "/www"]
    ports: ["${WEB_PORT}:80"]
    stop_grace_period: 1s
  debug:
    image: localhost/busybox:${TAG}
    command: ["sleep", "300"]
    profiles: [debug]
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let project = cli
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .to_lowercase();
        let config = cli.stdout(&["compose", "-p", "prof", "config"]);
        assert!(
            config.contains("image: localhost/busybox:latest"),
            "{config}"
        );
        assert!(
            config.contains("published: '18483'") || config.contains("published: \"18483\""),
            "{config}"
        );
        assert!(!config.contains("debug"), "{config}");
        assert_eq!(
            cli.stdout(&["compose", "-p", "prof", "config", "--services"]),
            "web\n"
        );
        cli.ok(&["compose", "-p", "prof", "up", "-d"]);
        assert_eq!(http_get(18483, "/"), WEB_PAGE);
        assert_eq!(
            cli.stdout(&["compose", "-p", "prof", "ps", "-q"])
                .lines()
                .count(),
            1
        );
        cli.ok(&["compose", "-p", "prof", "--profile", "debug", "up", "-d"]);
        let ps = cli.stdout(&["compose", "-p", "prof", "ps", "--format", "{{.Name}}"]);
        assert_eq!(ps, "prof-debug-1\nprof-web-1\n");
        assert_eq!(
            cli.stdout(&["compose", "-p", "prof", "port", "web", "80"]),
            "0.0.0.0:18483\n"
        );
        // down from anywhere, by the project's name alone
        let elsewhere = tempfile::tempdir().unwrap();
        let o = common::output_via_files(
            Command::new(common::example_bin("engine"))
                .arg("--root")
                .arg(cli.root.path())
                .args(["compose", "-p", "prof", "down"])
                .current_dir(elsewhere.path()),
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!project.is_empty());
        cli.assert_empty();
    });
}

/// A key the engine cannot honour is refused by name before anything is made.
#[test]
#[ignore = "requires root"]
fn unsupported_key_is_named() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        "name: nope\nservices:\n  web:\n    image: localhost/busybox:latest\n    sysctls:\n      net.core.somaxconn: 1024\n",
    );
    common::in_new_netns(|| {
        let o = cli.out(&["compose", "up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success());
        assert!(err.contains("services.web.sysctls"), "{err}");
        cli.assert_empty();
    });
}

/// A service with `build` (an inline Dockerfile) gets the image `<project>-<service>`;
/// `--scale` runs numbered replicas and scales back; `down --rmi local` removes the image.
#[test]
#[ignore = "requires root"]
fn build_scale_and_rmi() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: bld
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM localhost/busybox:latest
        ARG GREETING
        RUN echo "$$GREETING" > /greeting
      args:
        GREETING: built here
      network: none
    command: ["sh", "-c", "cat /greeting; exec sleep 300"]
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let (_, err) = cli.ok(&["compose", "up", "-d", "--scale", "app=2"]);
        assert!(err.contains(" Image bld-app  Built"), "{err}");
        assert!(cli.stdout(&["images"]).contains("bld-app"));
        let names = cli.stdout(&["compose", "ps", "--format", "{{.Name}}"]);
        assert_eq!(names, "bld-app-1\nbld-app-2\n");
        wait_until("the replicas' output", || {
            let logs = cli.stdout(&["compose", "logs"]);
            logs.contains("app-1  | built here") && logs.contains("app-2  | built here")
        });
        // back to one: the second replica goes, the first stays
        let id1 = cli
            .stdout(&["compose", "ps", "-q", "app"])
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let (_, err) = cli.ok(&["compose", "up", "-d"]);
        assert!(err.contains(" Container bld-app-2  Removed"), "{err}");
        assert_eq!(cli.stdout(&["compose", "ps", "-q"]), format!("{id1}\n"));
        cli.ok(&["compose", "down", "--rmi", "local"]);
        assert!(!cli.stdout(&["images"]).contains("bld-app"));
        cli.assert_empty();
    });
}

/// Attached `up` prints each container's output prefixed with its name; SIGINT stops the
/// containers (they stay, stopped), as Compose does.
#[test]
#[ignore = "requires root"]
fn attached_up_streams_logs_and_stops_on_ctrl_c() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: att
services:
  talker:
    image: localhost/busybox:latest
    command: ["sh", "-c", "echo hello from talker; exec sleep 300"]
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let dir = tempfile::tempdir().unwrap();
        let out_path = dir.path().join("out");
        let mut child = cli
            .cmd(&["compose", "up"])
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_until("the prefixed output", || {
            fs::read_to_string(&out_path)
                .unwrap_or_default()
                .contains("talker-1  | hello from talker")
        });
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130));
        let all = cli.stdout(&["compose", "ps", "-a", "--format", "{{.Name}} {{.State}}"]);
        assert_eq!(all, "att-talker-1 exited\n");
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// Two long-running services, `b` depending on `a`, in project `name`; `a`'s environment
/// holds `MODE`.
fn pair(name: &str) -> String {
    format!(
        r#"
name: {name}
services:
  a:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    environment:
      MODE: ${{MODE:-one}}
    stop_grace_period: 1s
  b:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    depends_on: [a]
    stop_grace_period: 1s
"#
    )
}

/// `up -d --force-recreate` recreates services whose configuration did not change.
#[test]
#[ignore = "requires root"]
fn force_recreate_recreates_unchanged() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("frc"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let before = cli.services();
        assert_eq!(before.len(), 2);
        let (_, err) = cli.ok(&["compose", "up", "-d", "--force-recreate"]);
        assert!(err.contains(" Container frc-a-1  Recreate"), "{err}");
        let after = cli.services();
        assert_eq!(after.len(), 2);
        for ((s, id), (s2, id2)) in before.iter().zip(&after) {
            assert_eq!(s, s2);
            assert_ne!(id, id2, "{s} was not recreated");
        }
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `up -d --no-recreate` keeps a container whose configuration changed.
#[test]
#[ignore = "requires root"]
fn no_recreate_keeps_changed() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("nrc"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let before = cli.services();
        let up = |extra: &[&str]| {
            let mut args = vec!["compose", "up", "-d"];
            args.extend_from_slice(extra);
            let o = common::output_via_files(cli.cmd(&args).env("MODE", "two"));
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        up(&["--no-recreate"]);
        assert_eq!(cli.services(), before);
        let env = cli.stdout(&["inspect", "-f", "{{json .Config.Env}}", "nrc-a-1"]);
        assert!(env.contains("MODE=one"), "{env}");
        // without the flag the change is applied (so the above is the flag's doing)
        up(&[]);
        let after = cli.services();
        assert_ne!(after[0].1, before[0].1);
        assert_eq!(after[1].1, before[1].1);
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `up -d --no-deps b` starts only `b`, not the `a` it depends on.
#[test]
#[ignore = "requires root"]
fn no_deps_starts_only_the_service() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("nd"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d", "--no-deps", "b"]);
        let services: Vec<String> = cli.services().into_iter().map(|(s, _)| s).collect();
        assert_eq!(services, ["b"]);
        // without it the dependency comes too
        cli.ok(&["compose", "up", "-d", "b"]);
        let services: Vec<String> = cli.services().into_iter().map(|(s, _)| s).collect();
        assert_eq!(services, ["a", "b"]);
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// A service deleted from the file leaves an orphan: `up` warns and keeps it,
/// `up --remove-orphans` removes it.
#[test]
#[ignore = "requires root"]
fn remove_orphans_removes_deleted_service() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("orph"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        cli.file(
            "compose.yaml",
            "name: orph\nservices:\n  a:\n    image: localhost/busybox:latest\n    command: [\"sleep\", \"300\"]\n    environment:\n      MODE: one\n    stop_grace_period: 1s\n",
        );
        let (_, err) = cli.ok(&["compose", "up", "-d"]);
        assert!(
            err.contains("Found orphan containers ([orph-b-1])"),
            "{err}"
        );
        let all = cli.stdout(&["ps", "-a", "--format", "{{.Names}}"]);
        assert!(all.contains("orph-b-1"), "{all}");
        let (_, err) = cli.ok(&["compose", "up", "-d", "--remove-orphans"]);
        assert!(err.contains(" Container orph-b-1  Removed"), "{err}");
        let all = cli.stdout(&["ps", "-a", "--format", "{{.Names}}"]);
        assert_eq!(all, "orph-a-1\n");
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// A `service_healthy` dependency that becomes unhealthy fails `up`, naming it, and
/// leaves nothing.
#[test]
#[ignore = "requires root"]
fn unhealthy_dependency_fails_up() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: sick
services:
  db:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 100ms
      retries: 2
    stop_grace_period: 1s
  app:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    depends_on:
      db: {condition: service_healthy}
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let o = cli.out(&["compose", "up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{err}");
        assert!(
            err.contains("dependency failed to start: container sick-db-1 is unhealthy"),
            "{err}"
        );
        assert!(!err.contains("Container sick-app-1  Started"), "{err}");
        cli.assert_empty();
    });
}

/// `compose stop` stops every container (they stay), `compose start` starts them again.
#[test]
#[ignore = "requires root"]
fn stop_then_start() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("ss"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let ids = cli.services();
        let states = || cli.stdout(&["compose", "ps", "-a", "--format", "{{.Service}} {{.State}}"]);
        let (_, err) = cli.ok(&["compose", "stop"]);
        assert!(err.contains(" Container ss-b-1  Stopped"), "{err}");
        assert_eq!(states(), "a exited\nb exited\n");
        assert_eq!(cli.stdout(&["compose", "ps", "-q"]), "");
        let (_, err) = cli.ok(&["compose", "start"]);
        assert!(err.contains(" Container ss-a-1  Started"), "{err}");
        assert_eq!(states(), "a running\nb running\n");
        assert_eq!(cli.services(), ids);
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose exec`: the command's output and exit code, with `-e` and `-w`; a stopped
/// service is refused.
#[test]
#[ignore = "requires root"]
fn exec_output_and_exit_code() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("ex"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let o = cli.out(&[
            "compose",
            "exec",
            "-T",
            "-e",
            "X=hello",
            "-w",
            "/tmp",
            "a",
            "sh",
            "-c",
            "echo $X $PWD; exit 3",
        ]);
        assert_eq!(o.status.code(), Some(3), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hello /tmp\n");
        cli.ok(&["compose", "stop", "b"]);
        let o = cli.out(&["compose", "exec", "-T", "b", "true"]);
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(r#"service "b" is not running"#), "{err}");
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose run`: a one-off container `<project>-<service>-run-<hex>` labelled
/// oneoff=True, with the command's output and exit code; `--no-deps` leaves the
/// dependency alone, otherwise it is started first; `--rm` leaves no container.
#[test]
#[ignore = "requires root"]
fn run_oneoff_deps_and_rm() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("one"));
    common::in_new_netns(|| {
        let o = cli.out(&[
            "compose",
            "run",
            "-T",
            "--no-deps",
            "b",
            "sh",
            "-c",
            "echo hi; exit 4",
        ]);
        assert_eq!(o.status.code(), Some(4), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
        assert!(cli.services().is_empty(), "{:?}", cli.services());
        let names = cli.stdout(&["ps", "-a", "--format", "{{.Names}}"]);
        let name = names.trim();
        let hex = name
            .strip_prefix("one-b-run-")
            .unwrap_or_else(|| panic!("{name}"));
        assert!(
            hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
        let label = cli.stdout(&[
            "inspect",
            "-f",
            r#"{{index .Config.Labels "com.docker.compose.oneoff"}}"#,
            name,
        ]);
        assert_eq!(label, "True\n");
        let name = name.to_owned();
        // with its dependency, and --rm
        let o = cli.out(&[
            "compose", "run", "--rm", "-T", "-e", "V=x", "b", "sh", "-c", "echo $V",
        ]);
        assert!(o.status.success(), "{o:?}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "x\n");
        let services: Vec<String> = cli.services().into_iter().map(|(s, _)| s).collect();
        assert_eq!(services, ["a"]);
        let mut all: Vec<String> = cli
            .stdout(&["ps", "-a", "--format", "{{.Names}}"])
            .lines()
            .map(str::to_owned)
            .collect();
        all.sort();
        assert_eq!(all, ["one-a-1".to_owned(), name]);
        // down removes the one-off container too
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose restart` starts the containers anew: StartedAt changes, they run.
#[test]
#[ignore = "requires root"]
fn restart_changes_started_at() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("rst"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let started = || cli.stdout(&["inspect", "-f", "{{.State.StartedAt}}", "rst-a-1"]);
        let before = started();
        std::thread::sleep(Duration::from_millis(20));
        let (_, err) = cli.ok(&["compose", "restart", "-t", "1", "a"]);
        assert!(err.contains(" Container rst-a-1  Restarting"), "{err}");
        assert_ne!(started(), before);
        let states = cli.stdout(&["compose", "ps", "-a", "--format", "{{.Service}} {{.State}}"]);
        assert_eq!(states, "a running\nb running\n");
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose rm` removes stopped containers only; `-s` stops running ones first.
#[test]
#[ignore = "requires root"]
fn rm_removes_stopped() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("rmv"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let (_, err) = cli.ok(&["compose", "rm", "-f"]);
        assert!(err.contains("No stopped containers"), "{err}");
        assert_eq!(cli.services().len(), 2);
        cli.ok(&["compose", "stop", "b"]);
        let (_, err) = cli.ok(&["compose", "rm", "-f"]);
        assert!(err.contains(" Container rmv-b-1  Removed"), "{err}");
        let services: Vec<String> = cli.services().into_iter().map(|(s, _)| s).collect();
        assert_eq!(services, ["a"]);
        cli.ok(&["compose", "rm", "-f", "-s", "a"]);
        assert!(cli.services().is_empty());
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose kill -s TERM` delivers the signal (the service's trap exits 7); the default
/// SIGKILL ends the others.
#[test]
#[ignore = "requires root"]
fn kill_signals_the_container() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: kil
services:
  trap:
    image: localhost/busybox:latest
    command: ["sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]
  plain:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
"#,
    );
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        std::thread::sleep(Duration::from_millis(300)); // the trap is set
        cli.ok(&["compose", "kill", "-s", "SIGTERM", "trap"]);
        let state = || {
            cli.stdout(&[
                "compose",
                "ps",
                "-a",
                "--format",
                "{{.Service}} {{.State}} {{.ExitCode}}",
            ])
        };
        wait_until("the trap to exit", || state().contains("trap exited 7"));
        assert!(state().contains("plain running"), "{}", state());
        cli.ok(&["compose", "kill"]);
        wait_until("plain to be killed", || {
            state().contains("plain exited 137")
        });
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose images` lists each container's image in Compose's columns; `compose top`
/// shows each container's processes.
#[test]
#[ignore = "requires root"]
fn images_and_top() {
    let cli = Cli::new();
    cli.file("compose.yaml", &pair("imt"));
    common::in_new_netns(|| {
        cli.ok(&["compose", "up", "-d"]);
        let out = cli.stdout(&["compose", "images"]);
        let rows: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["CONTAINER", "REPOSITORY", "TAG", "IMAGE", "ID", "SIZE"],
            "{out}"
        );
        assert_eq!(rows.len(), 3, "{out}");
        assert_eq!(
            rows[1][..3],
            ["imt-a-1", "localhost/busybox", "latest"],
            "{out}"
        );
        let id = cli.stdout(&["images", "-q"]);
        assert_eq!(rows[1][3], id.trim(), "{out}");
        let top = cli.stdout(&["compose", "top", "b"]);
        assert!(top.starts_with("imt-b-1\n"), "{top}");
        assert!(top.contains("PID") && top.contains("sleep 300"), "{top}");
        assert!(!top.contains("imt-a-1"), "{top}");
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// `compose build` makes `<project>-<service>` for a service with `build`; `compose
/// pull` of an image already present succeeds quietly.
#[test]
#[ignore = "requires root"]
fn build_and_pull() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: bp
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM localhost/busybox:latest
        RUN echo built > /built
      network: none
  base:
    image: localhost/busybox:latest
"#,
    );
    common::in_new_netns(|| {
        assert!(!cli.stdout(&["images"]).contains("bp-app"));
        let (_, err) = cli.ok(&["compose", "build"]);
        assert!(err.contains(" Image bp-app  Built"), "{err}");
        assert!(cli.stdout(&["images"]).contains("bp-app"));
        let (out, err) = cli.ok(&["compose", "pull"]);
        assert_eq!((out.as_str(), err.as_str()), ("", ""));
        let o = cli.out(&["compose", "pull", "nosuch"]);
        assert!(!o.status.success());
        cli.ok(&["rmi", "bp-app"]);
        cli.assert_empty();
    });
}

/// `compose push` pushes the image (and the build's extra `tags`) of each service that has
/// both `build` and `image`, to the registry each names, and skips the others; a refused
/// push fails naming its service, unless `--ignore-push-failures`.
#[test]
#[ignore = "requires root"]
fn push_built_images_to_a_registry() {
    let cli = Cli::new();
    common::in_new_netns(|| {
        let Some(reg) = crate::common::registry::Registry::start() else {
            return;
        };
        let host = reg.host();
        let port: u16 = host.rsplit(':').next().unwrap().parse().unwrap();
        cli.file(
            "compose.yaml",
            &format!(
                r#"
name: cp
services:
  app:
    image: {host}/cp/app:1
    build:
      context: .
      dockerfile_inline: |
        FROM localhost/busybox:latest
        RUN echo pushed > /pushed
      network: none
      tags: ["{host}/cp/app:extra"]
  base:
    image: localhost/busybox:latest
"#
            ),
        );
        cli.ok(&["compose", "build"]);
        cli.ok(&["compose", "push"]);
        let tags = http_get(port, "/v2/cp/app/tags/list");
        assert!(
            tags.contains(r#""1""#) && tags.contains(r#""extra""#),
            "{tags}"
        );
        // `base` has no build: nothing of it reached the registry
        let catalog = http_get(port, "/v2/_catalog");
        assert!(
            catalog.contains("cp/app") && !catalog.contains("busybox"),
            "{catalog}"
        );

        // a registry that refuses (nothing listens on port 1)
        cli.file(
            "compose.yaml",
            &format!(
                r#"
name: cp
services:
  app:
    image: {host}/cp/app:2
    build:
      context: .
      dockerfile_inline: "FROM localhost/busybox:latest"
  gone:
    image: 127.0.0.1:1/cp/gone:1
    build:
      context: .
      dockerfile_inline: "FROM localhost/busybox:latest"
"#
            ),
        );
        cli.ok(&["compose", "build"]);
        let o = cli.out(&["compose", "push"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("gone") && err.contains("127.0.0.1:1/cp/gone:1"),
            "{err}"
        );
        let (_, err) = cli.ok(&["compose", "push", "--ignore-push-failures"]);
        assert!(err.contains("127.0.0.1:1/cp/gone:1  Error"), "{err}");
        let tags = http_get(port, "/v2/cp/app/tags/list");
        assert!(tags.contains(r#""2""#), "{tags}");
    });
}

/// `network_mode: service:app`: the sidecar runs in the namespace of app's container (it
/// reaches app's loopback-only server), starts after it (an implicit dependency, which
/// `config` shows), and `down` removes both.
#[test]
#[ignore = "requires root"]
fn network_mode_service_shares_the_namespace() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: nm
services:
  side:
    image: localhost/busybox:latest
    network_mode: service:app
    command: ["sh", "-c", "for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/x && break; sleep 0.1; done; exec sleep 300"]
    stop_grace_period: 1s
  app:
    image: localhost/busybox:latest
    command: ["sh", "-c", "mkdir -p /tmp/w && echo from-app > /tmp/w/x && exec httpd -f -p 127.0.0.1:8080 -h /tmp/w"]
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let config = cli.stdout(&["compose", "config"]);
        assert!(config.contains("depends_on:\n      app:"), "{config}");
        let (_, err) = cli.ok(&["compose", "up", "-d"]);
        let (app, side) = (
            err.find(" Container nm-app-1  Started").unwrap(),
            err.find(" Container nm-side-1  Started").unwrap(),
        );
        assert!(app < side, "{err}");
        wait_until("the sidecar's fetch", || {
            cli.stdout(&["compose", "logs", "side"])
                .contains("from-app")
        });
        let mode = cli.stdout(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "nm-side-1"]);
        let app_id = cli.stdout(&["inspect", "-f", "{{.Id}}", "nm-app-1"]);
        assert_eq!(mode.trim(), format!("container:{}", app_id.trim()));
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}

/// Port conflicts: two services publishing one host port are refused before anything is
/// made, naming the second one's path; a host port something else holds fails `up` naming
/// where the service publishes it, and leaves nothing of the project.
#[test]
#[ignore = "requires root"]
fn port_conflicts_are_named_and_leave_nothing() {
    let cli = Cli::new();
    common::in_new_netns(|| {
        cli.file(
            "compose.yaml",
            r#"
name: pc
services:
  a:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    ports: ["18590:80"]
  b:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    ports: ["18591:80", "127.0.0.1:18590:81"]
"#,
        );
        let o = cli.out(&["compose", "up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("compose.yaml")
                && err.contains(
                    "services.b.ports[1]: host port 18590/tcp is also published by services.a.ports[0]"
                ),
            "{err}"
        );
        cli.assert_empty();

        // the host holds 18592: `b` cannot start, `a` (started first) is undone
        let _held = std::net::TcpListener::bind("0.0.0.0:18592").unwrap();
        cli.file(
            "compose.yaml",
            r#"
name: pc
services:
  a:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    stop_grace_period: 1s
  b:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    depends_on: [a]
    ports: ["18591:80", "18592:81"]
"#,
        );
        let o = cli.out(&["compose", "up", "-d"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("services.b.ports[1]")
                && err.contains("18592:81/tcp is already allocated"),
            "{err}"
        );
        cli.assert_empty();
    });
}

/// `up --abort-on-container-exit`: the first container to exit stops the others, and its
/// exit code is `up`'s; `--exit-code-from SERVICE` returns that service's code instead
/// (here the long-running one, killed once its grace period is over); an unknown service
/// is refused before anything starts; both conflict with `-d`.
#[test]
#[ignore = "requires root"]
fn abort_on_container_exit_and_exit_code_from() {
    let cli = Cli::new();
    cli.file(
        "compose.yaml",
        r#"
name: abort
services:
  job:
    image: localhost/busybox:latest
    command: ["sh", "-c", "sleep 0.5; echo job done; exit 3"]
  srv:
    image: localhost/busybox:latest
    command: ["sleep", "300"]
    stop_grace_period: 1s
"#,
    );
    common::in_new_netns(|| {
        let o = cli.out(&["compose", "up", "--abort-on-container-exit"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(3), "{out}");
        assert!(out.contains("job-1  | job done"), "{out}");
        assert!(out.contains("Aborting on container exit..."), "{out}");
        // nothing runs any more
        assert_eq!(cli.stdout(&["compose", "ps", "-q"]), "");

        let o = cli.out(&["compose", "up", "--exit-code-from", "srv"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(137), "{out}");
        assert!(out.contains("abort-srv-1 exited with code 137"), "{out}");

        let o = cli.out(&["compose", "up", "--exit-code-from", "nosuch"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("--exit-code-from: no such service: nosuch"),
            "{err}"
        );
        let o = cli.out(&["compose", "up", "-d", "--abort-on-container-exit"]);
        assert!(!o.status.success());
        cli.ok(&["compose", "down"]);
        cli.assert_empty();
    });
}
