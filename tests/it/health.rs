//! Background healthchecks (Docker's `HEALTHCHECK`, `run --health-*`): detached containers
//! started by `engine run -d` (each command in a network namespace of its own), their
//! health read back through the library (`Container::health`) and the command line
//! (`ps`, `inspect -f`). Polls have deadlines; no fixed sleep is an assertion.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use cargohold::{Engine, Health, HealthStatus};

use crate::common;

const IMAGE: &str = "localhost/busybox:latest";
/// An image whose config has a Docker `HEALTHCHECK` (succeeding, every 200 ms).
const HEALTHY_IMAGE: &str = "localhost/healthy:latest";

struct Cli {
    root: tempfile::TempDir,
    engine: Engine,
}

impl Cli {
    fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-health")
            .tempdir()
            .unwrap();
        let engine = Engine::open(root.path()).unwrap();
        common::busybox().import(&engine, IMAGE);
        let src = common::busybox().rootfs();
        let mut config = common::sh_config();
        config["Healthcheck"] = serde_json::json!({
            "Test": ["CMD-SHELL", "echo fine"], "Interval": 200_000_000u64, "Retries": 2
        });
        let archive =
            common::docker_archive(config, &[common::dir_layer(src.path())], HEALTHY_IMAGE);
        engine.images().load(&archive[..]).unwrap();
        Cli { root, engine }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        common::engine_cmd(self.root.path(), args)
    }

    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(&mut self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        common::checked(args, self.out(args)).0
    }

    /// `run -d --name NAME FLAGS… IMAGE sleep 1000`.
    fn run(&self, name: &str, flags: &[&str]) {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(flags);
        if !flags.contains(&HEALTHY_IMAGE) {
            args.push(IMAGE);
        }
        args.extend_from_slice(&["sleep", "1000"]);
        self.ok(&args);
    }

    fn health(&self, name: &str) -> Option<Health> {
        self.engine
            .containers()
            .get(name)
            .unwrap()
            .health()
            .unwrap()
    }

    /// Polls the health of `name` until `f` holds for it (20 s at most).
    fn health_until(&self, name: &str, what: &str, f: impl Fn(&Health) -> bool) -> Health {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let h = self.health(name);
            if let Some(h) = h.as_ref().filter(|h| f(h)) {
                return h.clone();
            }
            assert!(Instant::now() < deadline, "{name}: no {what}: {h:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The actions of the events recorded in the root.
    /// Waits (10 s at most) until the events hold `action`: the monitor records a status
    /// change's event after it has written the status.
    fn wait_action(&self, action: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.actions().iter().any(|a| a == action) {
            assert!(
                Instant::now() < deadline,
                "no event {action}: {:?}",
                self.actions()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn actions(&self) -> Vec<String> {
        let data = std::fs::read_to_string(self.root.path().join("events.jsonl")).unwrap();
        data.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["Action"].as_str().unwrap_or_default().to_owned()
            })
            .collect()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let ps = std::panic::AssertUnwindSafe(|| self.out(&["ps", "-a", "-q"]));
        if let Ok(ids) = std::panic::catch_unwind(ps) {
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.out(&["rm", "-f", id]);
            }
        }
    }
}

/// Host processes whose command line is `args` (what a probe left behind).
fn processes(args: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name().to_str()?.parse::<u32>().ok()?;
            std::fs::read(e.path().join("cmdline")).ok()
        })
        .filter(|c| {
            let c: Vec<&[u8]> = c.split(|&b| b == 0).filter(|a| !a.is_empty()).collect();
            c.join(&b' ') == args.as_bytes()
        })
        .count()
}

#[test]
#[ignore = "requires root"]
fn a_check_that_succeeds_makes_it_healthy() {
    let cli = Cli::new();
    cli.run(
        "ok",
        &[
            "--health-cmd",
            "echo up; echo err >&2",
            "--health-interval",
            "100ms",
        ],
    );
    let h = cli.health_until("ok", "healthy", |h| h.status == HealthStatus::Healthy);
    assert_eq!(h.failing_streak, 0);
    let last = h.log.last().unwrap();
    assert_eq!(last.exit_code, 0);
    assert_eq!(last.output, "up\nerr\n", "stdout and stderr together");
    assert!(last.start <= last.end, "{last:?}");
    cli.wait_action("health_status: healthy");
    // Config.Healthcheck as Docker's: CMD-SHELL, nanoseconds.
    let c = cli.engine.containers().get("ok").unwrap();
    let info = serde_json::to_value(c.inspect().unwrap()).unwrap();
    assert_eq!(
        info["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo up; echo err >&2"], "Interval": 100_000_000u64})
    );
    assert_eq!(info["State"]["Health"]["Status"], "healthy");
    // A container without a healthcheck has no health.
    cli.run("plain", &[]);
    assert_eq!(cli.health("plain"), None);
    let info = serde_json::to_value(
        cli.engine
            .containers()
            .get("plain")
            .unwrap()
            .inspect()
            .unwrap(),
    )
    .unwrap();
    assert!(info["State"].get("Health").is_none(), "{info}");
}

#[test]
#[ignore = "requires root"]
fn failures_make_it_unhealthy_after_retries() {
    let cli = Cli::new();
    cli.run(
        "sick",
        &[
            "--health-cmd",
            "echo not well; exit 3",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
        ],
    );
    let h = cli.health_until("sick", "unhealthy", |h| h.status == HealthStatus::Unhealthy);
    assert!(h.failing_streak >= 2, "{h:?}");
    assert!(h.log.len() >= 2 && h.log.len() <= 5, "{h:?}");
    for p in &h.log {
        assert_eq!((p.exit_code, p.output.as_str()), (3, "not well\n"));
    }
    // Starting, then unhealthy once two had failed: never healthy.
    cli.wait_action("health_status: unhealthy");
    assert!(!cli.actions().contains(&"health_status: healthy".to_owned()));
    // The log keeps the last five.
    let h = cli.health_until("sick", "a full log", |h| h.failing_streak >= 7);
    assert_eq!(h.log.len(), 5);
}

#[test]
#[ignore = "requires root"]
fn failures_in_the_start_period_do_not_count() {
    let cli = Cli::new();
    let t0 = Instant::now();
    cli.run(
        "slow",
        &[
            "--health-cmd",
            "exit 1",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1",
            "--health-start-period",
            "3s",
            "--health-start-interval",
            "100ms",
        ],
    );
    // Probes failed during the period: logged, not counted.
    let h = cli.health_until("slow", "three probes", |h| h.log.len() >= 3);
    if t0.elapsed() < Duration::from_millis(2500) {
        assert_eq!(h.status, HealthStatus::Starting, "{h:?}");
        assert_eq!(h.failing_streak, 0, "{h:?}");
        assert!(h.log.iter().all(|p| p.exit_code == 1), "{h:?}");
    }
    // Once it is over, one failure makes it unhealthy.
    let h = cli.health_until("slow", "unhealthy", |h| h.status == HealthStatus::Unhealthy);
    assert_eq!(h.failing_streak, 1, "{h:?}");
}

#[test]
#[ignore = "requires root"]
fn a_probe_that_hangs_is_killed_at_the_timeout() {
    let cli = Cli::new();
    cli.run(
        "hang",
        &[
            "--health-cmd",
            "sleep 77; true",
            "--health-timeout",
            "300ms",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
        ],
    );
    let h = cli.health_until("hang", "unhealthy", |h| h.status == HealthStatus::Unhealthy);
    for p in &h.log {
        assert_eq!(p.exit_code, -1, "{p:?}");
        assert_eq!(p.output, "Health check exceeded timeout (300ms)");
    }
    // Killed with the shell that ran it: at most the probe in flight is left.
    cli.health_until("hang", "four probes", |h| h.failing_streak >= 4);
    assert!(processes("sleep 77") <= 1, "{}", processes("sleep 77"));
    // `rm -f` leaves no probe and no monitor of it.
    cli.ok(&["rm", "-f", "hang"]);
    assert_eq!(processes("sleep 77"), 0);
    assert!(cli.engine.containers().get("hang").is_err());
}

#[test]
#[ignore = "requires root"]
fn a_restart_starts_over_and_rm_leaves_nothing() {
    let cli = Cli::new();
    cli.run(
        "again",
        &[
            "--health-cmd",
            "test -f /tmp/ok",
            "--health-interval",
            "100ms",
            "--health-retries",
            "1",
        ],
    );
    cli.health_until("again", "unhealthy", |h| {
        h.status == HealthStatus::Unhealthy
    });
    cli.ok(&["exec", "again", "touch", "/tmp/ok"]);
    cli.health_until("again", "healthy", |h| h.status == HealthStatus::Healthy);
    cli.ok(&["stop", "-t", "0", "again"]);
    // Stopped: the health stays as it was.
    let h = cli.health("again").unwrap();
    assert_eq!(h.status, HealthStatus::Healthy);
    // The log keeps the last five probes: a probe of the new run is one that started
    // after the last one of the old run.
    let probed_at = |h: &Health| {
        h.log
            .last()
            .and_then(|p| humantime::parse_rfc3339_weak(&p.start).ok())
    };
    let last = probed_at(&h);
    assert!(last.is_some(), "{h:?}");
    cli.ok(&["start", "again"]);
    // Starting again right after the start (the first probe comes an interval later).
    let h = cli.health("again").unwrap();
    assert!(
        h.status == HealthStatus::Starting || probed_at(&h) > last,
        "{h:?}"
    );
    cli.health_until("again", "healthy again", |h| {
        h.status == HealthStatus::Healthy && probed_at(h) > last
    });
    let id = cli
        .engine
        .containers()
        .get("again")
        .unwrap()
        .id()
        .to_owned();
    let dir = cli.root.path().join("containers").join(&id);
    assert!(dir.join("health.json").exists());
    cli.ok(&["rm", "-f", "again"]);
    assert!(!dir.exists(), "nothing left of {id}");
    common::assert_no_containers(&cli.engine);
}

#[test]
#[ignore = "requires root"]
fn cli_ps_and_inspect_show_the_health() {
    let cli = Cli::new();
    cli.run(
        "web",
        &["--health-cmd", "test -f /tmp/ok", "--health-interval", "1s"],
    );
    let status = |name: &str| {
        cli.ok(&[
            "ps",
            "--filter",
            &format!("name={name}"),
            "--format",
            "{{.Status}}",
        ])
        .trim()
        .to_owned()
    };
    let st = status("web");
    assert!(
        st.starts_with("Up ") && st.ends_with(" (health: starting)"),
        "{st}"
    );
    cli.ok(&["exec", "web", "touch", "/tmp/ok"]);
    cli.health_until("web", "healthy", |h| h.status == HealthStatus::Healthy);
    let st = status("web");
    assert!(st.starts_with("Up ") && st.ends_with(" (healthy)"), "{st}");
    assert_eq!(
        cli.ok(&["inspect", "-f", "{{.State.Health.Status}}", "web"]),
        "healthy\n"
    );
    assert_eq!(
        cli.ok(&["inspect", "-f", "{{.Config.Healthcheck.Interval}}", "web"]),
        "1000000000\n"
    );
    // ps --filter health=…
    cli.run("plain", &[]);
    let names = |f: &str| {
        cli.ok(&["ps", "--filter", f, "--format", "{{.Names}}"])
            .trim()
            .to_owned()
    };
    assert_eq!(names("health=healthy"), "web");
    assert_eq!(names("health=none"), "plain");
    assert_eq!(names("health=unhealthy"), "");
    let o = cli.out(&["ps", "--filter", "health=sick"]);
    assert!(!o.status.success());
    // Flags as Docker's client checks them.
    let o = cli.out(&[
        "run",
        "-d",
        "--no-healthcheck",
        "--health-interval",
        "1s",
        IMAGE,
        "true",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--no-healthcheck conflicts with --health-* options"),
        "{err}"
    );
    let o = cli.out(&["run", "-d", "--health-interval", "-1s", IMAGE, "true"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--health-interval cannot be negative"));
}

#[test]
#[ignore = "requires root"]
fn the_images_healthcheck_runs_and_no_healthcheck_disables_it() {
    let cli = Cli::new();
    cli.run("img", &[HEALTHY_IMAGE]);
    let h = cli.health_until("img", "healthy", |h| h.status == HealthStatus::Healthy);
    assert_eq!(h.log.last().unwrap().output, "fine\n");
    let c = cli.engine.containers().get("img").unwrap();
    let hc = c.healthcheck().unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "echo fine"]);
    assert_eq!((hc.interval, hc.retries), (Duration::from_millis(200), 2));
    // --health-retries alone keeps the image's test and interval.
    cli.run("more", &["--health-retries", "5", HEALTHY_IMAGE]);
    let c = cli.engine.containers().get("more").unwrap();
    let hc = c.healthcheck().unwrap();
    assert_eq!(hc.test, ["CMD-SHELL", "echo fine"]);
    assert_eq!((hc.interval, hc.retries), (Duration::from_millis(200), 5));
    // --no-healthcheck: none, not even the image's.
    cli.run("off", &["--no-healthcheck", HEALTHY_IMAGE]);
    let c = cli.engine.containers().get("off").unwrap();
    assert!(c.healthcheck().unwrap().is_disabled());
    // Its monitor runs no healthcheck (it would have written the health before the
    // start returned).
    assert_eq!(c.health().unwrap(), None);
    assert!(!c.path().join("health.json").exists());
    let st = cli
        .ok(&["ps", "--filter", "name=off", "--format", "{{.Status}}"])
        .trim()
        .to_owned();
    assert!(st.starts_with("Up ") && !st.contains('('), "{st}");
}
