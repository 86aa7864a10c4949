//! A Docker beginner's course, run through with the engine CLI as a student types it
//! (issue 13): `run -it`, detached web servers with published ports, `ps`, `start -a -i`,
//! `stop`, `rm`, `container prune`, `rmi`, a bind mount, `build`, `info`, `version`,
//! `system prune`; then a registry with basic auth (`login`, `tag`, `push`, `pull`,
//! `search`, `commit`, `export`/`import`, `save`/`load`); and two engine roots in one host,
//! each with a bridged container on a published port.
//!
//! Whatever publishes a port or uses a bridge runs in a network namespace made by the test
//! (the CLI spawned from a thread in it): no route leads out of it, so nothing is NATed to
//! the outside. The registry part runs in the host's namespace with `--network none`
//! containers only.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::attach::on_a_terminal;
use crate::cli_registry::AuthRegistry;
use crate::common::registry::{PASSWORD, USER};
use crate::common::{self, WEB_PAGE};

/// A student's machine: an engine root with `busybox:latest` (with a web root, `/www`) and
/// a Docker config directory of its own.
struct Course {
    root: tempfile::TempDir,
    docker_config: tempfile::TempDir,
}

impl Course {
    fn new() -> Course {
        let course = Course {
            root: tempfile::Builder::new()
                .prefix("cargohold-course")
                .tempdir()
                .unwrap(),
            docker_config: tempfile::tempdir().unwrap(),
        };
        let (_dir, tarball) = common::busybox().web().tarball();
        course.ok(&["import", tarball.to_str().unwrap(), "busybox:latest"]);
        course
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root")
            .arg(self.root.path())
            .args(args)
            .env("DOCKER_CONFIG", self.docker_config.path());
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(self.cmd(args).stdin(Stdio::null()))
    }

    /// Runs with `input` on stdin.
    fn out_stdin(&self, args: &[&str], input: &str) -> Output {
        common::output_with_stdin(&mut self.cmd(args), input.as_bytes())
    }

    fn ok(&self, args: &[&str]) -> String {
        common::checked(args, self.out(args)).0
    }

    fn lines(&self, args: &[&str]) -> Vec<String> {
        self.ok(args).lines().map(str::to_owned).collect()
    }

    /// The host port `container`'s port 80 is published on (`engine port`).
    fn host_port(&self, container: &str) -> u16 {
        let host = self.ok(&["port", container, "80"]);
        host.trim()
            .strip_prefix("0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{host:?}"))
    }

    /// `system prune -a -f --volumes` leaves nothing but the predefined networks.
    fn prune_all(&self) {
        self.ok(&["system", "prune", "-a", "-f", "--volumes"]);
        assert!(self.ok(&["ps", "-aq"]).trim().is_empty());
        assert!(self.ok(&["images", "-q"]).trim().is_empty());
        assert!(self.ok(&["volume", "ls", "-q"]).trim().is_empty());
        let mut networks = self.lines(&["network", "ls", "--format", "{{.Name}}"]);
        networks.sort();
        assert_eq!(networks, ["bridge", "host", "none"]);
    }
}

impl Drop for Course {
    fn drop(&mut self) {
        // Containers left by a failed assertion go before the root does.
        common::remove_all_containers(self.root.path());
        let _ = self.cmd(&["network", "prune", "-f"]).output();
    }
}

/// A build context whose image serves `/www` on its exposed port 80.
fn web_context() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("Dockerfile"),
        "FROM busybox:latest\nEXPOSE 80\nCMD [\"busybox\", \"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n",
    )
    .unwrap();
    dir
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
#[ignore = "requires root"]
fn beginners_course_containers() {
    common::in_new_netns(|| {
        let c = Course::new();

        // Hello world, then a shell on a terminal.
        assert_eq!(
            c.ok(&["run", "--name", "hello", "busybox", "echo", "hello world"]),
            "hello world\n"
        );
        if let Some((code, shown)) = on_a_terminal(
            &c.cmd(&["run", "-it", "--name", "shell", "busybox", "sh"]),
            b"echo hel\"\"lo from $((6*7))\nexit 3\n",
        ) {
            assert_eq!(code, 3, "{shown:?}");
            assert!(shown.contains("hello from 42"), "{shown:?}");
        }

        // A web server from a Dockerfile, its exposed port published on a free one.
        let ctx = web_context();
        c.ok(&["build", "-q", "-t", "web", path_str(ctx.path())]);
        c.ok(&["run", "-d", "-P", "--name", "web", "web"]);
        let port = c.host_port("web");
        let page = common::http_get_retried(&format!("127.0.0.1:{port}"));
        assert!(page.ends_with(WEB_PAGE), "{page}");

        // A port of our choosing, an environment variable, the page in a host directory.
        let site = tempfile::tempdir().unwrap();
        let volume = format!("{}:/var/www", path_str(site.path()));
        c.ok(&[
            "run",
            "-d",
            "-p",
            "12345:80",
            "-e",
            "AUTHOR=Fulano",
            "-v",
            &volume,
            "--name",
            "static-site",
            "busybox",
            "sh",
            "-c",
            "echo \"<h1>Hello $AUTHOR</h1>\" > /var/www/index.html; exec busybox httpd -f -p 80 -h /var/www",
        ]);
        let page = common::http_get_retried("127.0.0.1:12345");
        assert!(page.contains("<h1>Hello Fulano</h1>"), "{page}");
        let on_host = fs::read_to_string(site.path().join("index.html")).unwrap();
        assert_eq!(on_host, "<h1>Hello Fulano</h1>\n");

        // ps: the running ones; -a: all; --format: a template.
        let ps = c.lines(&["ps"]);
        assert!(ps[0].starts_with("CONTAINER ID"), "{ps:?}");
        assert_eq!(ps.len(), 3, "{ps:?}");
        assert!(
            ps.iter().any(|l| l.contains("0.0.0.0:12345->80/tcp")),
            "{ps:?}"
        );
        let all = c.ok(&["ps", "-a"]);
        for name in ["hello", "shell", "web", "static-site"] {
            assert!(all.contains(name), "{all}");
        }
        let mut formatted = c.lines(&["ps", "--format", "{{.Names}} {{.Status}}"]);
        formatted.sort();
        assert_eq!(formatted.len(), 2, "{formatted:?}");
        assert!(formatted[0].starts_with("static-site Up "), "{formatted:?}");
        assert!(formatted[1].starts_with("web Up "), "{formatted:?}");
        let exited = c.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=hello",
            "--format",
            "{{.Status}}",
        ]);
        assert!(exited.starts_with("Exited (0)"), "{exited}");

        // start -a -i: stdin to a created container, its output back, its exit code.
        c.ok(&[
            "create",
            "-i",
            "--name",
            "cat",
            "busybox",
            "sh",
            "-c",
            "cat; exit 2",
        ]);
        let o = c.out_stdin(&["start", "-a", "-i", "cat"], "one\ntwo\n");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "one\ntwo\n");
        assert_eq!(o.status.code(), Some(2));

        // stop, rm, container prune.
        c.ok(&["stop", "-t", "1", "web", "static-site"]);
        assert!(c.ok(&["ps", "-q"]).trim().is_empty());
        assert!(common::http_get("127.0.0.1:12345").is_err(), "port freed");
        c.ok(&["rm", "web"]);
        assert!(!c.ok(&["ps", "-a"]).contains(" web"));
        let pruned = c.ok(&["container", "prune", "-f"]);
        assert!(pruned.contains("Total reclaimed space"), "{pruned}");
        assert!(c.ok(&["ps", "-aq"]).trim().is_empty());

        // rmi.
        c.ok(&["rmi", "web"]);
        let images = c.ok(&["images"]);
        assert!(!images.contains("web "), "{images}");
        assert!(images.contains("busybox "), "{images}");

        // info and version.
        let info = c.ok(&["info"]);
        assert!(info.contains(" Containers: 0"), "{info}");
        assert!(info.contains(" Images: 1"), "{info}");
        let version = c.ok(&["version"]);
        assert!(version.starts_with("Client:"), "{version}");

        c.prune_all();
    });
}

#[test]
#[ignore = "requires root"]
fn beginners_course_registry() {
    let Some(reg) = AuthRegistry::start() else {
        return;
    };
    let c = Course::new();
    let reference = reg.reference("course/greeting:1");

    // commit: an image from a container's change.
    c.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "changed",
        "busybox",
        "sh",
        "-c",
        "echo hello from the course > /greeting",
    ]);
    c.ok(&["commit", "changed", "greeting:1"]);
    c.ok(&["tag", "greeting:1", &reference]);

    // push wants a login; login with basic auth, then push.
    let refused = c.out(&["push", &reference]);
    assert!(!refused.status.success());
    let login = c.out_stdin(
        &["login", "-u", USER, "--password-stdin", &reg.host()],
        &format!("{PASSWORD}\n"),
    );
    assert!(login.status.success(), "{login:?}");
    assert!(String::from_utf8_lossy(&login.stdout).contains("Login Succeeded"));
    c.ok(&["push", &reference]);

    // search: the registry's catalog.
    let found = c.ok(&["search", &format!("{}/greeting", reg.host())]);
    assert!(found.contains("course/greeting"), "{found}");

    // pull after rmi; it runs with the change.
    c.ok(&["rm", "changed"]);
    c.ok(&["rmi", &reference, "greeting:1"]);
    c.ok(&["pull", &reference]);
    let run = |image: &str| {
        c.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            image,
            "cat",
            "/greeting",
        ])
    };
    assert_eq!(run(&reference), "hello from the course\n");

    // export a container's file system, import it as an image.
    let files = tempfile::tempdir().unwrap();
    let exported = files.path().join("fs.tar");
    c.ok(&["create", "--network", "none", "--name", "box", &reference]);
    c.ok(&["export", "-o", path_str(&exported), "box"]);
    c.ok(&["rm", "box"]);
    c.ok(&["import", path_str(&exported), "flat:1"]);
    assert_eq!(run("flat:1"), "hello from the course\n");

    // save an image to a tarball, load it back.
    let saved = files.path().join("image.tar");
    c.ok(&["save", "-o", path_str(&saved), "flat:1"]);
    c.ok(&["rmi", "flat:1"]);
    assert!(!c.ok(&["images"]).contains("flat "));
    let loaded = c.ok(&["load", "-i", path_str(&saved)]);
    assert!(loaded.contains("flat:1"), "{loaded}");
    assert_eq!(run("flat:1"), "hello from the course\n");

    c.ok(&["logout", &reg.host()]);
    c.prune_all();
}

/// Two engine roots in one host, each running a bridged container on a published port:
/// both are reachable (their default bridges do not collide).
#[test]
#[ignore = "requires root"]
fn two_roots_each_publish_a_port() {
    common::in_new_netns(|| {
        let (a, b) = (Course::new(), Course::new());
        let serve = |c: &Course, port: &str| {
            c.ok(&[
                "run", "-d", "-p", port, "--name", "web", "busybox", "busybox", "httpd", "-f",
                "-p", "80", "-h", "/www",
            ])
        };
        serve(&a, "8081:80");
        serve(&b, "8082:80");
        for port in [8081, 8082] {
            let page = common::http_get_retried(&format!("127.0.0.1:{port}"));
            assert!(page.ends_with(WEB_PAGE), "{page}");
        }
        let subnet = |c: &Course| {
            let v: serde_json::Value =
                serde_json::from_str(&c.ok(&["network", "inspect", "bridge"])).unwrap();
            v[0]["IPAM"]["Config"][0]["Subnet"]
                .as_str()
                .unwrap_or_else(|| panic!("{v}"))
                .to_owned()
        };
        assert_ne!(subnet(&a), subnet(&b));
        for c in [&a, &b] {
            // system prune leaves running containers, as Docker's
            c.ok(&["rm", "-f", "web"]);
            c.prune_all();
        }
    });
}
