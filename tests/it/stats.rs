//! `stats` and `top` of running containers: cgroup numbers against the limits set, the
//! processes started inside, loopback traffic in the container's own namespace.

use std::time::{Duration, Instant};

use cargohold::{Error, WaitFor};

use crate::common;
use crate::common::exec_stdout;

/// An engine with a busybox image serving a web root (see [`common::Busybox::web`]).
fn env() -> common::TestEngine {
    common::busybox().web().engine("cargohold-ready")
}

#[test]
#[ignore = "requires root"]
fn stats_show_memory_cpu_and_pids_against_the_limits() {
    let e = env();
    let mut c = e
        .sh("sleep 100 & sleep 100 & touch /started; exec sleep 100")
        .memory_limit(64 << 20)
        .pids_limit(50)
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    c.wait_for(
        &WaitFor::exec(["test", "-f", "/started"]),
        Duration::from_secs(20),
    )
    .unwrap();
    let s = c.stats().unwrap();
    assert!(s.memory.usage > 0, "{s:?}");
    assert_eq!(s.memory.limit, Some(64 << 20));
    assert!(s.cpu.total_ns > 0, "{s:?}");
    assert!(s.cpu.total_ns >= s.cpu.user_ns);
    // The init and its two sleeps.
    assert_eq!(s.pids.current, 3, "{s:?}");
    assert_eq!(s.pids.limit, Some(50));
    // The record answers the same, from another handle.
    let rec = e.engine.containers().get(c.id()).unwrap();
    let r = rec.stats().unwrap();
    assert_eq!(r.memory.limit, Some(64 << 20));
    assert_eq!(r.pids.current, 3);
    assert!(r.read >= s.read);

    // Not running: a clear error.
    c.kill().unwrap();
    c.wait().unwrap();
    let err = rec.stats().unwrap_err();
    assert!(matches!(err, Error::InvalidState { .. }), "{err:?}");
    assert!(err.to_string().contains("exited"), "{err}");
    assert!(matches!(c.top(), Err(Error::InvalidState { .. })));
}

#[test]
#[ignore = "requires root"]
fn stats_count_loopback_traffic_in_the_container() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, &format!("exec {}", common::httpd(8080)));
    c.wait_for(&WaitFor::http(8080, "/"), Duration::from_secs(20))
        .unwrap();
    let before = c.stats().unwrap();
    let lo = before.networks["lo"];
    assert_eq!(
        before.networks.len(),
        1,
        "only loopback: {:?}",
        before.networks
    );
    let got = exec_stdout(&c, &["wget", "-q", "-O", "-", "http://127.0.0.1:8080/big"]);
    assert_eq!(got.len(), 100_000);
    let after = c.stats().unwrap();
    let lo2 = after.networks["lo"];
    assert!(lo2.rx_bytes - lo.rx_bytes >= 100_000, "{lo:?} {lo2:?}");
    assert!(lo2.tx_bytes - lo.tx_bytes >= 100_000, "{lo:?} {lo2:?}");
    assert!(lo2.rx_packets > lo.rx_packets);
    assert_eq!(after.network_bytes(), (lo2.rx_bytes, lo2.tx_bytes));
}

#[test]
#[ignore = "requires root"]
fn top_lists_the_init_and_its_children() {
    let e = env();
    let c = e.spawn_lo_up(&e.image, "sleep 100 & exec sleep 200");
    let deadline = Instant::now() + Duration::from_secs(20);
    let top = loop {
        let top = c.top().unwrap();
        // Both exec'd: the child may still be the forked shell for a moment.
        let has = |cmd: &[&str]| top.processes.iter().any(|p| p.command == cmd);
        if top.processes.len() == 2 && has(&["sleep", "200"]) && has(&["sleep", "100"]) {
            break top;
        }
        assert!(Instant::now() < deadline, "{top:?}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let init = top
        .processes
        .iter()
        .find(|p| p.command == ["sleep", "200"])
        .unwrap();
    assert_eq!(init.pid, c.pid() as i32);
    assert_eq!(init.ns_pid, Some(1));
    assert_eq!(init.user, "root");
    let child = top
        .processes
        .iter()
        .find(|p| p.command == ["sleep", "100"])
        .unwrap();
    assert_eq!(child.ppid, init.pid);
    assert!(child.ns_pid.is_some_and(|n| n > 1), "{child:?}");
    let rows = top.rows();
    assert_eq!(top.titles()[5], "CMD");
    assert!(rows
        .iter()
        .any(|r| r[1] == init.pid.to_string() && r[3] == "1" && r[5] == "sleep 200"));
    // The same through the record.
    let rec = e.engine.containers().get(c.id()).unwrap();
    assert_eq!(rec.top().unwrap().processes.len(), 2);
    let id = c.id().to_owned();
    drop(c);
    assert!(common::cgroups_named(&id).is_empty());
}
