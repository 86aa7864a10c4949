//! The compose files of this suite work unchanged with Debian's docker-compose 1.29
//! against Debian's dockerd 20.10 (issue 14): the three-tier application comes up under
//! both, in the test's own network namespace, one after the other on the same ports, and
//! both list the same services in the same states, serve the same pages on the published
//! ports, let the client reach the others by service name, and leave nothing after
//! `down -v`.

use std::process::Command;

use crate::common::dockerd::Dockerd;
use crate::common::{self, tool, WEB_PAGE};
use crate::compose::{http_get, wait_until, Cli, THREE_TIER};

/// What a side shows of the running application.
#[derive(Debug, PartialEq)]
struct Seen {
    /// `service state` of each container of the project, from `ps -a` filtered by the
    /// Compose project label, sorted.
    services: Vec<String>,
    /// The published web server's page and the API's seeded file.
    pages: (String, String),
}

/// The side's `ps -a --filter label=com.docker.compose.project=tier` as `service state`.
fn services(ps: &mut Command) -> Vec<String> {
    let out = common::run_tool(ps.args([
        "ps",
        "-a",
        "--filter",
        "label=com.docker.compose.project=tier",
        "--format",
        r#"{{.Label "com.docker.compose.service"}} {{.State}}"#,
    ]));
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

fn pages() -> (String, String) {
    (http_get(18481, "/"), http_get(18480, "/seed"))
}

/// Waits for the client's log (`logs` run as given) to show both replies it fetched.
fn client_reached_both(mut logs: impl FnMut() -> String) {
    wait_until("the client's output", || {
        let l = logs();
        l.contains("seeded") && l.contains(WEB_PAGE.trim())
    });
}

#[test]
#[ignore = "requires root"]
fn docker_compose_1_29_and_dockerd_give_the_same_application() {
    if !tool("docker-compose") {
        eprintln!("skipping: no docker-compose");
        return;
    }
    let cli = Cli::new();
    // docker-compose 1.29 predates the top-level `name:`: both take the project from -p
    let file = THREE_TIER.replacen("name: tier\n", "", 1);
    cli.file("compose.yaml", &file);
    common::in_new_netns(|| {
        let Some(dockerd) = Dockerd::start() else {
            return;
        };
        let archive = cli.dir.path().join("busybox.tar");
        cli.ok(&[
            "save",
            "-o",
            archive.to_str().unwrap(),
            "localhost/busybox:latest",
        ]);
        common::run_tool(
            dockerd
                .docker()
                .args(["load", "-i", archive.to_str().unwrap()]),
        );
        std::fs::remove_file(&archive).unwrap();

        // ours
        cli.ok(&["compose", "-p", "tier", "up", "-d"]);
        let engine = || {
            let mut c = Command::new(common::example_bin("engine"));
            c.arg("--root").arg(cli.root.path());
            c
        };
        let ours = Seen {
            services: services(&mut engine()),
            pages: pages(),
        };
        client_reached_both(|| cli.stdout(&["compose", "-p", "tier", "logs", "client"]));
        let names = cli.stdout(&["compose", "-p", "tier", "ps", "--format", "{{.Name}}"]);
        assert_eq!(names, "tier-api-1\ntier-client-1\ntier-web-1\n");
        cli.ok(&["compose", "-p", "tier", "down", "-v"]);
        cli.assert_empty_but(&["docker0", "lo"]);

        // docker-compose 1.29 against dockerd, the same file and project name
        let compose = |args: &[&str]| {
            let mut c = Command::new("docker-compose");
            c.env("DOCKER_HOST", dockerd.host())
                .env("DOCKER_CONFIG", dockerd.config_dir())
                .current_dir(cli.dir.path())
                .args(["-p", "tier"])
                .args(args);
            common::run_tool(&mut c)
        };
        compose(&["up", "-d"]);
        let theirs = Seen {
            services: services(&mut dockerd.docker()),
            pages: pages(),
        };
        client_reached_both(|| compose(&["logs", "client"]));
        let names = compose(&["ps", "--services"]);
        let mut names: Vec<&str> = names.lines().collect();
        names.sort();
        assert_eq!(names, ["api", "client", "init", "web"]);
        compose(&["down", "-v"]);
        for what in [&["ps", "-a", "-q"][..], &["volume", "ls", "-q"]] {
            assert_eq!(
                common::run_tool(dockerd.docker().args(what)),
                "",
                "{what:?}"
            );
        }
        let nets =
            common::run_tool(
                dockerd
                    .docker()
                    .args(["network", "ls", "--format", "{{.Name}}"]),
            );
        assert!(!nets.contains("tier_default"), "{nets}");

        assert_eq!(ours, theirs);
        assert_eq!(
            ours.services,
            [
                "api running",
                "client running",
                "init exited",
                "web running"
            ]
        );
        assert_eq!(ours.pages, (WEB_PAGE.to_owned(), "seeded\n".to_owned()));
    });
}
