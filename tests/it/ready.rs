//! Readiness waits on attached containers: TCP, HTTP, exec and the image's healthcheck,
//! checked inside the container's own network namespace; the failures (timeout, exit,
//! no healthcheck, a log wait without a log) as clear errors. Log-line waits need a
//! detached container: they are in tests/monitor.rs.

use std::time::{Duration, Instant};

use cargohold::{Image, WaitFor};

use crate::common::{self, exec_stdout, not_ready, TestEngine as Env};

/// An engine with a busybox image serving a web root (see [`common::Busybox::web`]).
fn env() -> Env {
    common::busybox().web().engine("cargohold-ready")
}

/// An image like `env`'s whose config holds a Docker `Healthcheck` (loaded from a
/// docker-archive, since oci-spec's `Config` has no such field).
fn image_with_healthcheck(e: &Env, healthcheck: serde_json::Value) -> Image {
    let src = common::busybox().web().rootfs();
    let mut config = common::sh_config();
    config["Healthcheck"] = healthcheck;
    let tag = format!("healthy:{}", common::unique("t"));
    let archive = common::docker_archive(config, &[common::dir_layer(src.path())], &tag);
    e.engine.images().load(&archive[..]).unwrap().remove(0)
}

/// The web server, started late.
fn httpd_late() -> String {
    format!("sleep 0.3; exec {}", common::httpd(8080))
}

#[test]
#[ignore = "requires root"]
fn tcp_wait_sees_a_port_opened_late_inside_the_container() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, &httpd_late());
    c.wait_for(&WaitFor::tcp(8080), Duration::from_secs(20))
        .unwrap();
    // The server answers now, in the container's own namespace.
    assert_eq!(
        exec_stdout(&c, &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"]),
        common::WEB_PAGE
    );
}

#[test]
#[ignore = "requires root"]
fn http_wait_compares_the_status_code() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, &httpd_late());
    c.wait_for(&WaitFor::http(8080, "/index.html"), Duration::from_secs(20))
        .unwrap();
    c.wait_for(
        &WaitFor::http(8080, "/missing").status(404),
        Duration::from_secs(5),
    )
    .unwrap();
    let (condition, reason, _, msg) =
        not_ready(c.wait_for(&WaitFor::http(8080, "/missing"), Duration::from_millis(300)));
    assert_eq!(condition, "http GET :8080/missing answering 200");
    assert!(reason.contains("timed out"), "{reason}");
    assert!(reason.contains("answered 404"), "{reason}");
    assert!(msg.contains(c.name()), "{msg}");
}

#[test]
#[ignore = "requires root"]
fn exec_wait_runs_until_the_command_succeeds() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, "sleep 0.3; touch /ready; exec sleep 100");
    c.wait_for(
        &WaitFor::exec(["test", "-f", "/ready"]),
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(exec_stdout(&c, &["ls", "/ready"]), "/ready\n");

    // A command that is not in the image fails at once, with Docker's words.
    let t = Instant::now();
    let (_, reason, _, _) =
        not_ready(c.wait_for(&WaitFor::exec(["no-such-probe"]), Duration::from_secs(60)));
    assert!(reason.contains("executable file not found"), "{reason}");
    assert!(t.elapsed() < Duration::from_secs(30), "it gave up at once");

    // A probe that hangs is killed when the wait's time is up.
    let (_, reason, _, _) =
        not_ready(c.wait_for(&WaitFor::exec(["sleep", "100"]), Duration::from_millis(300)));
    assert!(reason.contains("timed out"), "{reason}");
    assert!(reason.contains("killed"), "{reason}");
    let ps = exec_stdout(&c, &["ps", "-o", "args"]);
    assert_eq!(ps.matches("sleep 100").count(), 1, "only the init: {ps}");

    // A paused container is not probed (an exec would hang in the frozen cgroup).
    c.pause().unwrap();
    let (_, reason, _, _) = not_ready(c.wait_for(
        &WaitFor::exec(["test", "-f", "/ready"]),
        Duration::from_millis(300),
    ));
    assert!(reason.contains("it is paused"), "{reason}");
    c.resume().unwrap();
    c.wait_for(
        &WaitFor::exec(["test", "-f", "/ready"]),
        Duration::from_secs(20),
    )
    .unwrap();
}

#[test]
#[ignore = "requires root"]
fn healthcheck_of_the_image_runs_until_healthy() {
    let e = env();
    let image = image_with_healthcheck(
        &e,
        serde_json::json!({
            "Test": ["CMD-SHELL", "test -f /tmp/healthy"],
            "Interval": 50_000_000u64, "Timeout": 5_000_000_000u64, "Retries": 3
        }),
    );
    let c = e.spawn_lo_up(&image, "sleep 0.3; touch /tmp/healthy; exec sleep 100");
    c.wait_for(&WaitFor::healthcheck(), Duration::from_secs(20))
        .unwrap();
    assert_eq!(exec_stdout(&c, &["ls", "/tmp/healthy"]), "/tmp/healthy\n");

    // A failing check says how it failed.
    let failing = image_with_healthcheck(
        &e,
        serde_json::json!({"Test": ["CMD", "sh", "-c", "echo not yet >&2; exit 1"]}),
    );
    let c = e.spawn_lo_up(&failing, "exec sleep 100");
    let (condition, reason, _, _) =
        not_ready(c.wait_for(&WaitFor::healthcheck(), Duration::from_millis(300)));
    assert_eq!(condition, "the image's healthcheck");
    assert!(reason.contains("exit code 1: not yet"), "{reason}");

    // No healthcheck in the image, or NONE: an error at once.
    let c = e.spawn_lo_up(&e.image, "exec sleep 100");
    let t = Instant::now();
    let (_, reason, _, _) = not_ready(c.wait_for(&WaitFor::healthcheck(), Duration::from_secs(60)));
    assert!(reason.contains("has no HEALTHCHECK"), "{reason}");
    let disabled = image_with_healthcheck(&e, serde_json::json!({"Test": ["NONE"]}));
    let c = e.spawn_lo_up(&disabled, "exec sleep 100");
    let (_, reason, _, _) = not_ready(c.wait_for(&WaitFor::healthcheck(), Duration::from_secs(60)));
    assert!(reason.contains("disables its HEALTHCHECK"), "{reason}");
    assert!(t.elapsed() < Duration::from_secs(30), "it gave up at once");
}

#[test]
#[ignore = "requires root"]
fn a_container_that_exits_first_fails_the_wait_at_once() {
    let e = env();
    let mut c = e.spawn_lo_up(&e.image, "sleep 0.2; exit 3");
    let t = Instant::now();
    let (condition, reason, logs, _) =
        not_ready(c.wait_for(&WaitFor::tcp(8080), Duration::from_secs(60)));
    assert!(t.elapsed() < Duration::from_secs(30), "not at the timeout");
    assert_eq!(condition, "tcp port 8080");
    assert!(reason.contains("exited with code 3"), "{reason}");
    assert!(logs.is_empty(), "an attached container has no log");
    // The wait peeked without reaping: wait() still reports the exit.
    assert_eq!(c.wait().unwrap().code(), Some(3));
    let id = c.id().to_owned();
    drop(c);
    e.engine
        .containers()
        .get(&id)
        .unwrap()
        .remove(false)
        .unwrap();
    assert!(common::mounts_with(&id).is_empty());
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn timeout_and_log_waits_on_attached_containers() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, "exec sleep 100");
    let (condition, reason, _, msg) =
        not_ready(c.wait_for(&WaitFor::tcp(9), Duration::from_millis(200)));
    assert_eq!(condition, "tcp port 9");
    assert!(reason.contains("timed out after 200ms"), "{reason}");
    assert!(reason.contains("refused"), "{reason}");
    assert!(
        msg.starts_with(&format!(
            "container {} is not ready: tcp port 9: ",
            c.name()
        )),
        "{msg}"
    );
    let (_, reason, _, _) = not_ready(c.wait_for(&WaitFor::log("ready"), Duration::from_secs(60)));
    assert!(reason.contains("detach(true)"), "{reason}");
}
