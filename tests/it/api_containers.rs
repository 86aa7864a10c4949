//! The Docker Engine API: the container lifecycle routes, driven by real clients (see `common::api`).

use std::time::{Duration, Instant};

use crate::common::api::ApiService;

/// Polls `f` (up to 20 s) until it is true.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `docker ARGS` that must fail; its stderr.
fn fails(api: &ApiService, args: &[&str]) -> String {
    let out = api.run(args);
    assert!(!out.status.success(), "docker {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn status_of(api: &ApiService, name: &str) -> String {
    api.ok(&["inspect", "-f", "{{.State.Status}}", name])
        .trim()
        .to_owned()
}

/// `docker create` + `start` + `wait` gives the exit code; `run -d` + `wait` + `rm`;
/// `run -d --rm` is gone once it has exited; `container prune` removes what has exited.
#[test]
#[ignore = "requires root"]
fn created_containers_start_and_are_waited_for() {
    let api = ApiService::start();
    let id = api.ok(&["create", "--name", "three", "busybox", "sh", "-c", "exit 3"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(status_of(&api, "three"), "created");
    // a created container is not running: `wait` answers at once
    assert_eq!(api.ok(&["wait", "three"]).trim(), "0");
    api.ok(&["start", "three"]);
    assert_eq!(api.ok(&["wait", "three"]).trim(), "3");
    assert_eq!(status_of(&api, "three"), "exited");
    let exited = api.ok(&[
        "ps",
        "-a",
        "--filter",
        "name=three",
        "--format",
        "{{.Status}}",
    ]);
    assert!(exited.starts_with("Exited (3)"), "{exited}");

    api.ok(&[
        "run", "-d", "--name", "five", "busybox", "sh", "-c", "exit 5",
    ]);
    assert_eq!(api.ok(&["wait", "five"]).trim(), "5");
    api.ok(&["rm", "five"]);
    let gone = fails(&api, &["container", "inspect", "five"]);
    assert!(gone.contains("No such container: five"), "{gone}");

    api.ok(&["run", "-d", "--rm", "--name", "brief", "busybox", "true"]);
    eventually("the --rm container to be removed", || {
        api.ok(&["ps", "-aq", "--filter", "name=brief"])
            .trim()
            .is_empty()
    });

    let pruned = api.ok(&["container", "prune", "-f"]);
    assert!(pruned.contains(id.trim()), "{pruned}");
    assert!(api.ok(&["ps", "-aq"]).trim().is_empty());
}

/// `run -d -p 127.0.0.1:18080:80 -v DIR:/www busybox httpd`: the host directory's page
/// is served on the published port of the service's host; `docker port` and `ps` show it.
#[test]
#[ignore = "requires root"]
fn a_published_port_serves_a_bind_mounted_page() {
    let api = ApiService::start();
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "from the host dir\n").unwrap();
    let bind = format!("{}:/www", site.path().display());
    api.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "127.0.0.1:18080:80",
        "-v",
        &bind,
        "busybox",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let mut page = String::new();
    eventually("the page", || {
        let out = api.in_netns("busybox wget -qO- http://127.0.0.1:18080/index.html");
        page = String::from_utf8_lossy(&out.stdout).into_owned();
        out.status.success()
    });
    assert_eq!(page, "from the host dir\n");
    assert_eq!(api.ok(&["port", "web"]).trim(), "80/tcp -> 127.0.0.1:18080");
    let ps = api.ok(&[
        "ps",
        "--no-trunc",
        "--format",
        "{{.Names}} {{.Ports}} {{.Command}}",
    ]);
    assert_eq!(
        ps.trim(),
        "web 127.0.0.1:18080->80/tcp \"busybox httpd -f -p 80 -h /www\""
    );
    api.ok(&["rm", "-f", "web"]);
    assert!(api.ok(&["ps", "-aq"]).trim().is_empty());
}

/// A container through its states: ps with filters and formats, inspect with `--memory`,
/// pause/unpause, stop/start/restart, kill, rename, update, rm -f.
#[test]
#[ignore = "requires root"]
fn a_container_goes_through_its_states() {
    let api = ApiService::start();
    api.ok(&[
        "run", "-d", "--name", "s1", "--label", "team=a", "--memory", "64m", "busybox", "sleep",
        "1000",
    ]);
    api.ok(&[
        "create", "--name", "other", "--label", "team=b", "busybox", "true",
    ]);
    assert_eq!(
        api.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.HostConfig.Memory}}",
            "s1"
        ])
        .trim(),
        "running 67108864"
    );
    assert_eq!(api.ok(&["ps", "--format", "{{.Names}}"]).trim(), "s1");
    let all = api.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(all.trim(), "other created\ns1 running");
    let labelled = api.ok(&[
        "ps",
        "-a",
        "--filter",
        "label=team=b",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(labelled.trim(), "other");
    let up = api.ok(&["ps", "--format", "{{.Status}} {{.Labels}}"]);
    assert!(up.starts_with("Up "), "{up}");
    assert!(up.trim().ends_with("team=a"), "{up}");

    api.ok(&["pause", "s1"]);
    assert_eq!(status_of(&api, "s1"), "paused");
    let again = fails(&api, &["pause", "s1"]);
    assert!(again.contains("already paused"), "{again}");
    let attach = api.post("http://d/containers/s1/attach?stream=1&stdout=1");
    assert!(attach.starts_with("HTTP/1.1 409"), "{attach}");
    assert!(
        attach.contains("container is paused, unpause the container before attach"),
        "{attach}"
    );
    api.ok(&["unpause", "s1"]);
    assert_eq!(status_of(&api, "s1"), "running");

    api.ok(&["stop", "-t", "1", "s1"]);
    assert_eq!(status_of(&api, "s1"), "exited");
    assert!(api.ok(&["ps", "-q"]).trim().is_empty());
    api.ok(&["start", "s1"]);
    assert_eq!(status_of(&api, "s1"), "running");
    let before = api.ok(&["inspect", "-f", "{{.State.StartedAt}}", "s1"]);
    api.ok(&["restart", "-t", "1", "s1"]);
    assert_eq!(status_of(&api, "s1"), "running");
    assert_ne!(
        api.ok(&["inspect", "-f", "{{.State.StartedAt}}", "s1"]),
        before
    );
    api.ok(&["kill", "s1"]);
    assert_eq!(
        api.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "s1"
        ])
        .trim(),
        "exited 137"
    );
    let not_running = fails(&api, &["kill", "s1"]);
    assert!(not_running.contains("is not running"), "{not_running}");

    api.ok(&["rename", "s1", "s2"]);
    assert_eq!(status_of(&api, "s2"), "exited");
    let taken = fails(&api, &["rename", "s2", "other"]);
    assert!(taken.contains("is already in use"), "{taken}");
    api.ok(&["update", "--memory", "128m", "s2"]);
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "s2"])
            .trim(),
        "134217728"
    );
    api.ok(&["start", "s2"]);
    api.ok(&["rm", "-f", "s2", "other"]);
    assert!(api.ok(&["ps", "-aq"]).trim().is_empty());
}

/// Docker's statuses and messages: a name in use and the removal of a running container
/// are 409s, a missing container and a missing image 404s, malformed JSON, an unknown
/// wait condition and a field this engine cannot honour 400s.
#[test]
#[ignore = "requires root"]
fn errors_have_dockers_statuses() {
    let api = ApiService::start();
    api.ok(&["run", "-d", "--name", "dup", "busybox", "sleep", "1000"]);
    let in_use = fails(&api, &["create", "--name", "dup", "busybox", "true"]);
    assert!(
        in_use.contains("Conflict. The container name \"/dup\" is already in use by container"),
        "{in_use}"
    );
    let running = fails(&api, &["rm", "dup"]);
    assert!(
        running.contains("cannot remove container \"/dup\": container is running"),
        "{running}"
    );
    let missing = fails(&api, &["container", "inspect", "nothere"]);
    assert!(missing.contains("No such container: nothere"), "{missing}");

    let json = ["-H", "Content-Type: application/json", "-X", "POST"];
    let r = api.curl(
        &[
            &json[..],
            &["-d", "{\"Image\": ", "http://d/v1.44/containers/create"],
        ]
        .concat(),
    );
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    assert!(r.contains("invalid JSON"), "{r}");
    let r = api.curl(
        &[
            &json[..],
            &["-d", "{\"Image\": 5}", "http://d/containers/create"],
        ]
        .concat(),
    );
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    let r = api.curl(
        &[
            &json[..],
            &[
                "-d",
                "{\"Image\": \"nothere\"}",
                "http://d/containers/create",
            ],
        ]
        .concat(),
    );
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    assert!(
        r.ends_with("{\"message\":\"No such image: nothere:latest\"}"),
        "{r}"
    );
    let links = r#"{"Image": "busybox", "HostConfig": {"Links": ["dup:db"]}}"#;
    let r = api.curl(&[&json[..], &["-d", links, "http://d/containers/create"]].concat());
    assert!(
        r.starts_with("HTTP/1.1 400") && r.contains("HostConfig.Links"),
        "{r}"
    );
    let r = api.curl(&["http://d/containers/nothere/json"]);
    assert!(r.starts_with("HTTP/1.1 404"), "{r}");
    assert!(
        r.ends_with("{\"message\":\"No such container: nothere\"}"),
        "{r}"
    );
    let r = api.post("http://d/containers/dup/wait?condition=never");
    assert!(r.starts_with("HTTP/1.1 400"), "{r}");
    // already running: 304; the name taken by curl too
    let r = api.post("http://d/containers/dup/start");
    assert!(r.starts_with("HTTP/1.1 304"), "{r}");
    let r = api.curl(
        &[
            &json[..],
            &[
                "-d",
                "{\"Image\": \"busybox\"}",
                "http://d/containers/create?name=dup",
            ],
        ]
        .concat(),
    );
    assert!(r.starts_with("HTTP/1.1 409"), "{r}");
    api.ok(&["rm", "-f", "dup"]);
    assert!(api.ok(&["ps", "-aq"]).trim().is_empty());
}

/// `--restart on-failure:2` starts a failing container twice more; `docker wait` sees
/// its last exit; `RestartCount` is 2.
#[test]
#[ignore = "requires root"]
fn a_restart_policy_restarts_a_failing_container() {
    let api = ApiService::start();
    let data = tempfile::tempdir().unwrap();
    let bind = format!("{}:/data", data.path().display());
    api.ok(&[
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:2",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "echo x >> /data/count; exit 1",
    ]);
    assert_eq!(
        api.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "flaky"
        ])
        .trim(),
        "on-failure:2"
    );
    assert_eq!(api.ok(&["wait", "flaky"]).trim(), "1");
    let count = std::fs::read_to_string(data.path().join("count")).unwrap();
    assert_eq!(count, "x\nx\nx\n");
    // the restarts its policy made, as Docker counts them
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.RestartCount}}", "flaky"])
            .trim(),
        "2"
    );
    api.ok(&["rm", "flaky"]);
}

/// Debian's docker 20.10 client (an older API version) runs, lists and removes.
#[test]
#[ignore = "requires root"]
fn the_debian_client_runs_and_lists() {
    let api = ApiService::start();
    let old = |args: &[&str]| {
        let mut c = api.client("/usr/bin/docker");
        c.args(args);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "docker 20.10 {args:?}: {}\nservice log: {}",
            String::from_utf8_lossy(&out.stderr),
            api.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    old(&["run", "-d", "--name", "old", "busybox", "sleep", "1000"]);
    let ps = old(&["ps", "--format", "{{.Names}} {{.Image}} {{.Status}}"]);
    // the image as the client gave it, as Docker shows it
    assert!(ps.starts_with("old busybox Up "), "{ps}");
    old(&["rm", "-f", "old"]);
    assert!(old(&["ps", "-aq"]).trim().is_empty());
}

/// The docker CLI's foreground `run --rm` (attach, wait, start): the output, the exit code
/// as the CLI's own, nothing left; `logs -f` of a running container follows it to its end;
/// a container on a user-defined network reaches another by name.
#[test]
#[ignore = "requires root"]
fn the_cli_runs_in_the_foreground() {
    let api = ApiService::start();
    let out = api.run(&[
        "run",
        "--rm",
        "busybox:latest",
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(api.ok(&["ps", "-aq"]), "");
    // `docker start -a` attaches, then starts: each run's output, only that run's
    api.ok(&[
        "create",
        "--name",
        "again",
        "busybox:latest",
        "sh",
        "-c",
        "echo x >> /runs; echo run $(wc -l < /runs)",
    ]);
    assert_eq!(api.ok(&["start", "-a", "again"]), "run 1\n");
    assert_eq!(api.ok(&["start", "-a", "again"]), "run 2\n");
    api.ok(&["rm", "again"]);
    api.ok(&[
        "run",
        "-d",
        "--name",
        "ticker",
        "busybox:latest",
        "sh",
        "-c",
        "for i in 1 2 3; do echo tick $i; sleep 0.3; done",
    ]);
    let follow = api.ok(&["logs", "-f", "ticker"]);
    assert_eq!(follow, "tick 1\ntick 2\ntick 3\n");
    api.ok(&["network", "create", "fg"]);
    api.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "fg",
        "busybox:latest",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
    ]);
    let page = api.ok(&[
        "run",
        "--rm",
        "--network",
        "fg",
        "busybox:latest",
        "sh",
        "-c",
        "for i in $(seq 20); do wget -qO- http://srv/index.html && break; sleep 0.2; done",
    ]);
    assert_eq!(page, crate::common::engine::WEB_PAGE);
    api.ok(&["rm", "-f", "ticker", "srv"]);
    api.ok(&["network", "rm", "fg"]);
}

/// `docker ps` shows the image as the container was made with it (`busybox`, as typed),
/// and its id once that name is given to another image, as Docker's.
#[test]
#[ignore = "requires root"]
fn ps_shows_the_image_as_given() {
    let api = ApiService::start();
    api.ok(&["run", "-d", "--name", "typed", "busybox", "sleep", "300"]);
    let image = |name: &str| {
        api.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Image}}",
        ])
        .trim()
        .to_owned()
    };
    assert_eq!(image("typed"), "busybox");
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.Config.Image}}", "typed"])
            .trim(),
        "busybox"
    );
    // `ancestor` still finds it by the image's tag
    let by_ancestor = api.ok(&["ps", "-q", "--filter", "ancestor=busybox:latest"]);
    assert_eq!(by_ancestor.lines().count(), 1, "{by_ancestor}");
    let id = api
        .ok(&["inspect", "-f", "{{.Image}}", "typed"])
        .trim()
        .to_owned();
    // `busybox` now names another image: the container's is shown by its id (which the
    // CLI shortens)
    api.ok(&["commit", "typed", "busybox:latest"]);
    assert_eq!(image("typed"), id["sha256:".len()..][..12]);
    api.ok(&["rm", "-f", "typed"]);
}
