//! Detached containers: the monitor process and the logs it writes (root only), through
//! the public API: the engine's detached containers, their logs, and the runtime under the
//! engine where a test is about the runtime's state.
//!
//! This is its own test binary with `harness = false`: the monitor is this program
//! re-executed, and libtest's `main` cannot call `cargohold::init()` before it runs. So
//! `main` below calls `init()` first, then runs each test function (catching panics), prints
//! `test NAME ... ok|FAILED`, and ends with the line `N passed, N failed` (exit status 1 on
//! any failure). A name given on the command line runs the tests whose names contain it;
//! `--list` lists them. Flags libtest takes (`--include-ignored`, `--nocapture`, …) are
//! accepted and ignored. As a normal user every test is skipped (they need root).
//!
//! Some arguments are not tests but child programs of tests: `--engine-creator ARGS` (of
//! `survives_its_creator` and `engine_detached_survives_its_creator`), `--ephemeral-creator
//! ARGS` (of `engine_ephemeral_dies_with_its_owner`), `--dns-creator ARGS` (of
//! `engine_detached_embedded_dns`) and `--without-init ARGS` (of
//! `a_program_that_is_not_a_monitor`: the one mode that runs before `init()`).

// The fixtures of tests/it: this binary uses a part of them (the rest is dead code here).
#[path = "it/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use cargohold::runtime::{self, Runtime};
use cargohold::Status;
use cargohold::{Container, Error, LogEntry, LogOptions, LogStream};
use common::{not_ready, unique, TestEngine as EngineEnv};

/// The name monitors run under (their argv\[0\]; argv\[1\] is the container id), as `ps`
/// shows them.
const MONITOR_NAME: &str = "cargohold-monitor";

/// Docker's json-file driver splits a line longer than this into pieces (16 KiB).
const MAX_MESSAGE: usize = 16 * 1024;

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
            state != 'Z' && state != 'X'
        })
        .unwrap_or(false)
}

fn ppid(pid: i32) -> i32 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s[s.rfind(')').unwrap() + 2..]
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Live monitor processes (argv\[0\] [`MONITOR_NAME`]) with their argv\[1\] (the id).
fn monitors() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<_> = cmd.split(|&b| b == 0).collect();
        if args.first() == Some(&MONITOR_NAME.as_bytes()) && alive(pid) {
            let id = args.get(1).map(|a| String::from_utf8_lossy(a).into_owned());
            out.push((pid, id.unwrap_or_default()));
        }
    }
    out
}

/// Monitor processes of containers whose id holds `needle`.
fn monitors_of(needle: &str) -> Vec<i32> {
    monitors()
        .into_iter()
        .filter(|(_, id)| id.contains(needle))
        .map(|(pid, _)| pid)
        .collect()
}

/// The one monitor of container `id`.
fn monitor_of(id: &str) -> i32 {
    let pids = monitors_of(id);
    assert_eq!(pids.len(), 1, "monitors of {id}: {pids:?}");
    pids[0]
}

/// Monitors that are this program re-executed (whatever container they serve): other
/// programs on the machine may run monitors of their own.
fn our_monitors() -> BTreeSet<i32> {
    // The same file as ours: after `init()` the program runs from a sealed copy (a
    // read-only mount of the same inode), so compare inodes, not paths.
    use std::os::unix::fs::MetadataExt;
    let me = fs::metadata("/proc/self/exe").unwrap();
    monitors()
        .into_iter()
        .filter(|(pid, _)| {
            fs::metadata(format!("/proc/{pid}/exe"))
                .is_ok_and(|m| (m.dev(), m.ino()) == (me.dev(), me.ino()))
        })
        .map(|(pid, _)| pid)
        .collect()
}

fn sigkill(pid: i32) {
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}

/// The runtime under the engine (`<root>/runtime`, where the container module's docs put
/// its state).
fn runtime_of(e: &EngineEnv) -> Runtime {
    Runtime::open(e.engine.root().join("runtime")).unwrap()
}

fn not_found(rt: &Runtime, id: &str) -> bool {
    matches!(rt.state(id), Err(Error::ContainerNotFound { .. }))
}

fn entries(c: &Container, opts: &LogOptions) -> Vec<LogEntry> {
    c.logs(opts).unwrap().map(|e| e.unwrap()).collect()
}

fn text(c: &Container, opts: &LogOptions) -> String {
    entries(c, opts)
        .iter()
        .map(|e| String::from_utf8_lossy(&e.log).into_owned())
        .collect()
}

/// The json-file log of a detached container: `<dir>/<id>-json.log`, as Docker names it
/// (and `ContainerBuilder::detach` documents).
fn log_file(c: &Container) -> PathBuf {
    c.path().join(format!("{}-json.log", c.id()))
}

// ---------------------------------------------------------------------------------------

/// Output on both streams with times in Docker's json-file log, the exit code recorded by
/// the monitor, and the runtime's state deleted by it before anyone waits.
fn logs_and_exit_code() {
    let e = engine_env();
    let before = SystemTime::now();
    let mut running = e
        .sh("echo out; echo err >&2; sleep 0.2; echo bye; exit 3")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let pid = running.pid() as i32;
    assert!(pid > 0);
    let monitor_pid = monitor_of(&id);
    assert!(
        our_monitors().contains(&monitor_pid),
        "this program re-executed"
    );
    assert_ne!(ppid(monitor_pid), std::process::id() as i32, "reparented");
    // The monitor deleted the runtime's state (and cgroup), recorded the exit and exited,
    // with nobody waiting.
    wait_until("the monitor to exit", Duration::from_secs(10), || {
        !alive(monitor_pid)
    });
    let after = SystemTime::now();
    assert!(!alive(pid));
    assert!(not_found(&runtime_of(&e), &id));
    assert!(common::cgroups_named(&id).is_empty());
    let c = e.engine.containers().get(&id).unwrap();
    assert_eq!(c.status(), Status::Exited, "read from the monitor's record");
    let info = c.inspect().unwrap();
    assert_eq!(info.state.exit_code, 3);
    assert!(!info.state.oom_killed && !info.state.running);
    let status = running.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert_eq!(status.signal(), None);
    assert_eq!(status.docker_code(), 3);
    assert!(!status.oom_killed());
    assert_eq!(c.wait().unwrap().code(), Some(3));

    let all = entries(&c, &LogOptions::default());
    let lines: Vec<_> = all
        .iter()
        .map(|e| (e.stream, String::from_utf8_lossy(&e.log).into_owned()))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    // out and err race each other through two pipes; bye comes 0.2 s later.
    assert!(
        lines[..2].contains(&(LogStream::Stdout, "out\n".into())),
        "{lines:?}"
    );
    assert!(
        lines[..2].contains(&(LogStream::Stderr, "err\n".into())),
        "{lines:?}"
    );
    assert_eq!(lines[2], (LogStream::Stdout, "bye\n".into()));
    for e in &all {
        assert!(e.time >= before && e.time <= after, "{e:?}");
    }
    let gap = all[2].time.duration_since(all[0].time).unwrap();
    assert!(gap >= Duration::from_millis(150), "{gap:?}");
    // The file is Docker's json-file format.
    let raw = fs::read_to_string(log_file(&c)).unwrap();
    let mut parsed = Vec::new();
    for line in raw.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["log"].is_string() && v["stream"].is_string());
        let time = v["time"].as_str().unwrap();
        assert!(time.starts_with("20") && time.ends_with('Z'), "{time}");
        parsed.push(LogEntry::from_json_line(line.as_bytes()).expect("a json-file line"));
    }
    assert_eq!(parsed, all);
    assert!(
        raw.contains(r#"{"log":"bye\n","stream":"stdout","time":""#),
        "{raw}"
    );
    // Streams apart, and as docker logs -t prints them.
    let only_err = LogOptions {
        stdout: false,
        ..Default::default()
    };
    assert_eq!(text(&c, &only_err), "err\n");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = LogOptions {
        timestamps: true,
        ..Default::default()
    };
    c.logs(&opts).unwrap().copy_to(&mut out, &mut err).unwrap();
    let out = String::from_utf8(out).unwrap();
    let last = out.lines().last().unwrap();
    let (stamp, text) = last.split_once(' ').unwrap();
    assert_eq!(text, "bye");
    assert_eq!(
        stamp.len(),
        "2024-05-01T12:00:00.123456789Z".len(),
        "{stamp}"
    );
    assert_eq!(humantime::parse_rfc3339(stamp).ok(), Some(all[2].time));
    assert!(String::from_utf8(err).unwrap().ends_with(" err\n"));
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// A command that is not in the image: Docker's error, and nothing left behind (no
/// container, runtime state, mount or monitor). A second container under a name in use is
/// refused, and the first runs on until it is killed.
fn command_not_found() {
    let e = engine_env();
    let before = our_monitors();
    let err = e
        .cmd(["/no/such/command"])
        .detach(true)
        .spawn()
        .unwrap_err();
    match &err {
        Error::Command { command, code, .. } => {
            assert_eq!(command, "/no/such/command");
            assert_eq!(*code, 127, "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.engine.containers().list().unwrap().is_empty());
    assert!(runtime_of(&e).list().unwrap().is_empty());
    // No container directory (`containers/<id>/`: record, exit record, monitor lock).
    let dirs: Vec<_> = fs::read_dir(e.engine.root().join("containers"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(dirs.is_empty(), "{dirs:?}");
    let root = e.root.path().to_str().unwrap();
    assert!(
        common::mounts_with(root).is_empty(),
        "{:?}",
        common::mounts_with(root)
    );
    wait_until("no monitor", Duration::from_secs(5), || {
        our_monitors().is_subset(&before)
    });

    // A name clash is reported as such.
    let name = unique("mon-dup");
    let first = e
        .cmd(["sleep", "30"])
        .name(&name)
        .detach(true)
        .spawn()
        .unwrap();
    let id = first.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let pid = first.pid() as i32;
    match e.cmd(["sleep", "30"]).name(&name).detach(true).spawn() {
        Err(Error::ContainerNameInUse {
            name: n,
            id: holder,
        }) => {
            assert_eq!((n, holder), (name.clone(), id.clone()))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.engine.containers().list().unwrap().len(), 1);
    monitor_of(&id);
    let c = e.engine.containers().get(&name).unwrap();
    assert_eq!(c.status(), Status::Running);
    assert_eq!(c.inspect().unwrap().state.pid, pid);
    c.kill().unwrap();
    let status = c.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(!alive(pid));
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// A container started by a program that then exits keeps running under its monitor; a
/// later program (this one) kills its process from outside the engine and reads how it
/// ended.
fn survives_its_creator() {
    let e = engine_env();
    let id = common::run_tool(
        Command::new("/proc/self/exe")
            .arg("--engine-creator")
            .arg(e.root.path())
            .arg(&e.reference),
    )
    .trim()
    .to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    // The creator has exited (run_tool waited for it); the container runs on.
    std::thread::sleep(Duration::from_millis(100));
    let c = e.engine.containers().get(&id).unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Running);
    let pid = info.state.pid;
    let st = runtime_of(&e).state(&id).unwrap();
    assert_eq!(st.status, runtime::Status::Running);
    assert_eq!(st.pid, pid);
    let monitor_pid = monitor_of(&id);
    assert_ne!(ppid(monitor_pid), std::process::id() as i32);
    assert_eq!(c.status(), Status::Running, "no exit recorded");
    sigkill(pid);
    let status = c.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(status.code(), None);
    assert_eq!(status.docker_code(), 137);
    assert_eq!(c.inspect().unwrap().state.exit_code, 137);
    assert!(not_found(&runtime_of(&e), &id));
    wait_until("the monitor to exit", Duration::from_secs(5), || {
        !alive(monitor_pid)
    });
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// A monitor killed with SIGKILL: the container is reported running, a log follower does
/// not wait for the dead monitor, the engine can still stop it (its end then unknown), and
/// a container that writes is not stuck on its pipe.
fn monitor_killed() {
    let e = engine_env();
    let running = e.cmd(["sleep", "30"]).detach(true).spawn().unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let pid = running.pid() as i32;
    let c = e.engine.containers().get(&id).unwrap();
    sigkill(monitor_of(&id));
    wait_until("the monitor to die", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    assert_eq!(c.status(), Status::Running);
    assert_eq!(c.inspect().unwrap().state.pid, pid);
    assert!(alive(pid));
    // A follower stops at once.
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    let t = Instant::now();
    assert!(entries(&c, &follow).is_empty());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // The engine can still stop it; then its end is unknown (Docker's 255).
    let status = c.stop(Duration::from_millis(200)).unwrap();
    assert_eq!(status.code(), Some(255));
    assert!(!alive(pid));
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 255);
    assert!(info.state.error.contains("monitor"), "{}", info.state.error);
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // A container that keeps writing is not blocked on its pipe: its writes fail (EPIPE;
    // a process other than the namespace's pid 1, which the kernel shields from it, dies
    // of SIGPIPE), so here the writer ends and the init after it.
    let running = e
        .sh("(while :; do echo x; sleep 0.01; done); exit 0")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let pid = running.pid() as i32;
    let c = e.engine.containers().get(&id).unwrap();
    wait_until("some output", Duration::from_secs(5), || {
        !entries(&c, &LogOptions::default()).is_empty()
    });
    sigkill(monitor_of(&id));
    wait_until("the writer to end", Duration::from_secs(10), || !alive(pid));
    let status = c.wait().unwrap();
    assert_eq!(status.code(), Some(255), "nobody saw it end");
    assert_eq!(c.inspect().unwrap().state.exit_code, 255);
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// 20 detached containers started from 4 threads while 8 more allocate and lock in a
/// loop: no deadlock, every container ran and logged.
fn from_a_multithreaded_host() {
    let e = engine_env();
    // A handle of its own for the starting threads (which outlive a deadlocked test).
    let engine = Arc::new(cargohold::Engine::open(e.root.path()).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let journal = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut noise = Vec::new();
    for t in 0..8 {
        let stop = Arc::clone(&stop);
        let journal = Arc::clone(&journal);
        noise.push(std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let v: Vec<u8> = vec![t as u8; 1 + (n as usize % 8192)];
                let s = format!("thread {t} round {n} {}", v.len());
                let mut j = journal.lock().unwrap();
                j.push(s);
                if j.len() > 10_000 {
                    j.clear();
                }
                drop(j);
                n += 1;
            }
            n
        }));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let mut starters = Vec::new();
    for _ in 0..4 {
        let tx = tx.clone();
        let engine = Arc::clone(&engine);
        let reference = e.reference.clone();
        starters.push(std::thread::spawn(move || {
            let image = engine.image(&reference).unwrap();
            for _ in 0..5 {
                let r = engine
                    .container(&image)
                    .args(["sh", "-c", "echo hello from $0", "c"])
                    .detach(true)
                    .spawn()
                    .map(|c| c.id().to_owned());
                tx.send(r).unwrap();
            }
        }));
    }
    drop(tx);
    let mut started = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while started.len() < 20 {
        let left = deadline
            .checked_duration_since(Instant::now())
            .expect("deadlock: 20 starts did not finish in 120 s");
        match rx.recv_timeout(left) {
            Ok(x) => started.push(x),
            Err(e) => panic!("starts stalled after {}: {e}", started.len()),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds: u64 = noise.into_iter().map(|t| t.join().unwrap()).sum();
    for s in starters {
        s.join().unwrap();
    }
    assert!(rounds > 0);
    let _rm: Vec<_> = started
        .iter()
        .flatten()
        .map(|id| RemoveOnDrop(&e.engine, id.clone()))
        .collect();
    let rt = runtime_of(&e);
    for r in &started {
        let id = r.as_ref().unwrap_or_else(|e| panic!("{e}"));
        let c = e.engine.containers().get(id).unwrap();
        assert_eq!(c.wait().unwrap().code(), Some(0), "{id}");
        assert_eq!(text(&c, &LogOptions::default()), "hello from c\n");
        assert!(not_found(&rt, id));
        c.remove(false).unwrap();
        assert_container_gone(&e, id);
    }
}

/// tail, since and follow on a live container's log.
fn tail_since_follow() {
    let e = engine_env();
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    // Following from the start, while the lines come.
    let running = e
        .sh("for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; echo oops >&2")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let c = e.engine.containers().get(&id).unwrap();
    let t = Instant::now();
    let mut seen = Vec::new();
    for e in c.logs(&follow).unwrap() {
        let e = e.unwrap();
        seen.push((String::from_utf8(e.log).unwrap(), t.elapsed()));
    }
    let texts: Vec<_> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        texts,
        ["line 1\n", "line 2\n", "line 3\n", "line 4\n", "line 5\n", "oops\n"]
    );
    // The first line arrived well before the container ended.
    assert!(
        seen[0].1 + Duration::from_millis(250) < seen[5].1,
        "{seen:?}"
    );
    // Following ended with the exit, which is recorded.
    assert_eq!(c.status(), Status::Exited, "follow ended with the exit");
    assert_eq!(c.inspect().unwrap().state.exit_code, 0);

    let all = entries(&c, &LogOptions::default());
    let tail = |n| {
        text(
            &c,
            &LogOptions {
                tail: Some(n),
                ..Default::default()
            },
        )
    };
    assert_eq!(tail(2), "line 5\noops\n");
    assert_eq!(tail(0), "");
    assert_eq!(tail(100).lines().count(), 6);
    let tail_out = text(
        &c,
        &LogOptions {
            tail: Some(2),
            stderr: false,
            ..Default::default()
        },
    );
    assert_eq!(tail_out, "line 4\nline 5\n");
    let since = text(
        &c,
        &LogOptions {
            since: Some(all[3].time),
            ..Default::default()
        },
    );
    assert_eq!(since, "line 4\nline 5\noops\n");
    let until = text(
        &c,
        &LogOptions {
            until: Some(all[1].time),
            ..Default::default()
        },
    );
    assert_eq!(until, "line 1\nline 2\n");
    // Following a finished container's log reads it and stops; tail + follow too.
    assert_eq!(entries(&c, &follow).len(), 6);
    let tail_follow = LogOptions {
        tail: Some(1),
        follow: true,
        ..Default::default()
    };
    assert_eq!(text(&c, &tail_follow), "oops\n");
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);
}

/// A 40 KiB line is logged in 16 KiB pieces; output without a final newline is kept.
fn long_and_partial_lines() {
    let e = engine_env();
    let mut running = e
        .sh("head -c 40960 /dev/zero | tr '\\0' x; echo; echo -n tail")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert_eq!(running.wait().unwrap().code(), Some(0));
    let c = e.engine.containers().get(&id).unwrap();
    let entries = entries(&c, &LogOptions::default());
    let lens: Vec<_> = entries.iter().map(|e| e.log.len()).collect();
    let joined: Vec<u8> = entries.iter().flat_map(|e| e.log.clone()).collect();
    let mut want = vec![b'x'; 40960];
    want.extend_from_slice(b"\ntail");
    assert!(
        joined == want,
        "{} bytes: {:?}…",
        joined.len(),
        String::from_utf8_lossy(&joined[..joined.len().min(100)])
    );
    assert!(lens.iter().all(|&l| l <= MAX_MESSAGE), "{lens:?}");
    assert_eq!(
        lens,
        [MAX_MESSAGE, MAX_MESSAGE, 40960 - 2 * MAX_MESSAGE + 1, 4],
        "16 KiB, 16 KiB, the rest with its newline, then the tail"
    );
    assert!(entries[0].is_partial() && entries[1].is_partial() && !entries[2].is_partial());
    assert!(entries.last().unwrap().is_partial());
    assert_eq!(entries.last().unwrap().log, b"tail");
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// The child program of `a_program_that_is_not_a_monitor`: never calls `cargohold::init()`
/// and tries to start a detached container; prints the error.
fn without_init(args: &[String]) -> ! {
    let [root, reference] = args else {
        eprintln!("usage: --without-init ROOT REFERENCE");
        std::process::exit(2)
    };
    let run = || -> cargohold::Result<String> {
        let engine = cargohold::Engine::open(root)?;
        let image = engine.image(reference)?;
        let c = engine
            .container(&image)
            .args(["true"])
            .detach(true)
            .spawn()?;
        Ok(c.id().to_owned())
    };
    match run() {
        Ok(id) => {
            println!("started {id}");
            std::process::exit(1)
        }
        Err(e) => {
            println!("{e}");
            std::process::exit(0)
        }
    }
}

/// A program that has not called `init()` cannot be a monitor: starting a detached
/// container from it is refused (never a second copy of the program running its `main`),
/// and nothing is left behind.
fn a_program_that_is_not_a_monitor() {
    let e = engine_env();
    let before = our_monitors();
    let said = common::run_tool(
        Command::new("/proc/self/exe")
            .arg("--without-init")
            .arg(e.root.path())
            .arg(&e.reference),
    );
    assert!(said.contains("cargohold::init()"), "{said}");
    assert!(e.engine.containers().list().unwrap().is_empty());
    assert!(runtime_of(&e).list().unwrap().is_empty());
    assert!(our_monitors().is_subset(&before));
}

/// Hooks the monitor runs inherit its stdout: their output stays out of its readiness
/// report (a start whose report a hook wrote into would fail as unreadable).
fn hook_output_stays_out_of_the_report() {
    use cargohold::oci_spec::runtime::{HookBuilder, Spec};
    let e = engine_env();
    let c = e.cmd(["true"]).create().unwrap();
    let id = c.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    // The container's directory is an OCI bundle: a hook goes into its config.json.
    let marker = e.root.path().join("hook-ran");
    let hook = HookBuilder::default()
        .path("/bin/busybox")
        .args(vec![
            "busybox".to_string(),
            "sh".into(),
            "-c".into(),
            format!("echo noise from the hook; echo ran > {}", marker.display()),
        ])
        .build()
        .unwrap();
    let config = c.path().join("config.json");
    let mut spec = Spec::load(&config).unwrap();
    let mut hooks = spec.hooks().clone().unwrap_or_default();
    let mut create_runtime = hooks.create_runtime().clone().unwrap_or_default();
    create_runtime.push(hook);
    hooks.set_create_runtime(Some(create_runtime));
    spec.set_hooks(Some(hooks));
    spec.save(&config).unwrap();
    c.start().unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(0));
    assert_eq!(
        fs::read_to_string(&marker).unwrap(),
        "ran\n",
        "the hook ran"
    );
    assert_eq!(text(&c, &LogOptions::default()), "", "nor into the log");
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

// ---------------------------------------------------------------------------------------
// Detached containers through the Engine.

/// An engine in its own temp root with a busybox image; `reference` names the image.
fn engine_env() -> EngineEnv {
    common::busybox().engine_tagged("cargohold-engine", &unique("det"))
}

/// Removes the container (forced) when dropped, so a failing test leaves nothing behind.
struct RemoveOnDrop<'a>(&'a cargohold::Engine, String);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Ok(c) = self.0.containers().get(&self.1) {
            let _ = c.remove(true);
        }
    }
}

/// Nothing of container `id` remains: no directory, mount, cgroup, runtime state or
/// monitor.
fn assert_container_gone(e: &EngineEnv, id: &str) {
    common::assert_container_gone(&e.engine, id);
    assert!(monitors_of(id).is_empty());
}

fn log_text(c: &cargohold::Container, stdout: bool, stderr: bool) -> String {
    let opts = LogOptions {
        stdout,
        stderr,
        ..LogOptions::default()
    };
    c.logs(&opts)
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().log).into_owned())
        .collect()
}

/// A detached container's output goes to its log, its exit code to its record; a second
/// one is stopped through its handle.
fn engine_detached_logs_and_exit() {
    let e = engine_env();
    let mut running = e
        .sh("echo one; echo two >&2; echo three; exit 3")
        .detach(true)
        .spawn()
        .unwrap();
    let _rm = RemoveOnDrop(&e.engine, running.id().to_owned());
    assert!(running.is_detached());
    let id = running.id().to_owned();
    let status = running.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let c = e.engine.containers().get(&id).unwrap();
    assert!(c.is_detached());
    assert!(c.path().join(format!("{id}-json.log")).is_file());
    assert!(c.path().join("exit.json").is_file());
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 3);
    assert!(!info.state.running && info.state.pid == 0);
    assert!(!info.state.oom_killed);
    assert!(
        info.state.finished_at.starts_with("20"),
        "{}",
        info.state.finished_at
    );
    assert_eq!(c.wait().unwrap().code(), Some(3));
    assert_eq!(log_text(&c, true, false), "one\nthree\n");
    assert_eq!(log_text(&c, false, true), "two\n");
    // The overlay is gone once the exit is recorded.
    assert!(common::mounts_with(&id).is_empty());
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // Stopped through the handle: sleep ignores SIGTERM as pid 1, so SIGKILL ends it.
    let mut running = e.cmd(["sleep", "30"]).detach(true).spawn().unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert!(running.try_wait().unwrap().is_none());
    let c = e.engine.containers().get(&id).unwrap();
    assert_eq!(c.status(), Status::Running);
    assert_eq!(c.inspect().unwrap().state.pid, running.pid() as i32);
    let status = running.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(c.inspect().unwrap().state.exit_code, 137);
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // A forced remove of a running one.
    let running = e.cmd(["sleep", "30"]).detach(true).spawn().unwrap();
    let id = running.id().to_owned();
    drop(running);
    let c = e.engine.containers().get(&id).unwrap();
    assert!(matches!(
        c.clone().remove(false),
        Err(Error::InvalidState { .. })
    ));
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);
}

/// The lines of a log reader, read to its end.
fn lines_of(logs: cargohold::Logs) -> Vec<String> {
    logs.map(|e| String::from_utf8_lossy(&e.unwrap().log).into_owned())
        .collect()
}

/// A log opened before the start (as `docker run` attaches before it starts the container)
/// reads everything the run writes, even when the container (`auto_remove`) has been
/// waited for and so removed before the reader got to it; with `tail: Some(0)` an earlier
/// run's lines are skipped.
fn engine_log_opened_before_start_outlives_the_container() {
    let e = engine_env();
    let c = e
        .sh("echo one; echo two; echo three")
        .auto_remove(true)
        .create()
        .unwrap();
    let id = c.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let follow = LogOptions {
        follow: true,
        tail: Some(0),
        ..LogOptions::default()
    };
    let logs = c.logs(&follow).unwrap();
    c.start().unwrap();
    // the wait removes it
    assert_eq!(c.wait().unwrap().code(), Some(0));
    assert!(e.engine.containers().get(&id).is_err());
    assert_eq!(lines_of(logs), ["one\n", "two\n", "three\n"]);
    assert_container_gone(&e, &id);

    // Started again, a reader with `tail: Some(0)` opened before sees only the new run.
    let c = e
        .sh("echo x >> /runs; echo run $(wc -l < /runs)")
        .create()
        .unwrap();
    let id = c.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    c.start().unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(0));
    let first = log_text(&c, true, false);
    assert_eq!(first, "run 1\n");
    let logs = c.logs(&follow).unwrap();
    c.start().unwrap();
    assert_eq!(lines_of(logs), ["run 2\n"]);
    assert_eq!(log_text(&c, true, false), "run 1\nrun 2\n");
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// The child program of `engine_detached_survives_its_creator`: opens the engine, starts a
/// detached `sleep 30`, prints its id and exits without waiting.
fn engine_creator(args: &[String]) -> ! {
    let [root, reference] = args else {
        eprintln!("usage: --engine-creator ROOT REFERENCE");
        std::process::exit(2)
    };
    let run = || -> cargohold::Result<String> {
        let engine = cargohold::Engine::open(root)?;
        let image = engine.image(reference)?;
        let c = engine
            .container(&image)
            .args(["sleep", "30"])
            .detach(true)
            .spawn()?;
        Ok(c.id().to_owned())
    };
    print_and_exit(run())
}

/// The end of a creator program: what it made (an id, pids) on stdout and exit 0, or the
/// error on stderr and exit 1.
fn print_and_exit(r: cargohold::Result<String>) -> ! {
    match r {
        Ok(id) => {
            println!("{id}");
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}

/// A detached container outlives the program that created it; a fresh `Engine::open` sees
/// it running (its repair leaves it alone), stops it and removes it.
fn engine_detached_survives_its_creator() {
    let e = engine_env();
    let id = common::run_tool(
        Command::new("/proc/self/exe")
            .arg("--engine-creator")
            .arg(e.root.path())
            .arg(&e.reference),
    )
    .trim()
    .to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    std::thread::sleep(Duration::from_millis(100));
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    let c = engine.containers().get(&id).unwrap();
    assert!(c.is_detached());
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Running);
    assert!(info.state.running);
    assert!(alive(info.state.pid));
    assert_eq!(monitors_of(&id).len(), 1);
    assert!(
        !common::mounts_with(&id).is_empty(),
        "the overlay stays mounted"
    );
    // Opening again still leaves it alone.
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    let c = engine.containers().get(&id).unwrap();
    assert_eq!(c.status(), Status::Running);
    let status = c.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 137);
    assert!(!alive(info.state.pid) || info.state.pid == 0);
    assert!(common::mounts_with(&id).is_empty());
    wait_until("the monitor to exit", Duration::from_secs(5), || {
        monitors_of(&id).is_empty()
    });
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// A detached container that exits while no program has it open: the next `Engine::open`
/// records the exit from the monitor's record and unmounts its overlay.
fn engine_open_repairs_exited_detached() {
    let e = engine_env();
    let running = e.sh("echo bye; exit 7").detach(true).spawn().unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    drop(running);
    // The monitor exits once it has recorded the exit.
    wait_until("the monitor to exit", Duration::from_secs(10), || {
        monitors_of(&id).is_empty()
    });
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    assert!(common::mounts_with(&id).is_empty());
    let c = engine.containers().get(&id).unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Exited);
    assert_eq!(info.state.exit_code, 7);
    assert_eq!(log_text(&c, true, true), "bye\n");
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

// ---------------------------------------------------------------------------------------
// create / start / restart, ephemeral containers, reuse.

/// `create` sets a container up without running it (nothing mounted, no monitor); `start`
/// runs it detached, again after it exited (same upper layer); `restart` stops and starts
/// it; a created container is removed without force; a failing start leaves it created.
fn engine_create_start_restart() {
    use cargohold::Status;
    let e = engine_env();
    let name = unique("svc");
    let c = e
        .engine
        .container(&e.image)
        .name(&name)
        .args([
            "sh",
            "-c",
            "echo x >> /runs; echo run $(wc -l < /runs); exec sleep 30",
        ])
        .create()
        .unwrap();
    let id = c.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert_eq!(c.status(), Status::Created);
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Created);
    assert_eq!(info.state.pid, 0);
    assert!(
        common::mounts_with(&id).is_empty(),
        "nothing mounted before start"
    );
    assert!(monitors_of(&id).is_empty());
    assert!(!e.engine.root().join("runtime").join(&id).exists());
    // Another program opening the root leaves it created.
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    let c = engine.containers().get(&name).unwrap();
    assert_eq!(c.status(), Status::Created);

    c.start().unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Running);
    let pid1 = info.state.pid;
    assert!(alive(pid1));
    assert_eq!(monitors_of(&id).len(), 1);
    wait_until("the first run's output", Duration::from_secs(10), || {
        log_text(&c, true, false) == "run 1\n"
    });
    let again = c.start().unwrap_err();
    assert!(
        matches!(&again, Error::InvalidState { op: "start", status, .. } if status == "running"),
        "{again}"
    );

    c.restart(Duration::from_millis(200)).unwrap();
    let pid2 = c.inspect().unwrap().state.pid;
    assert_ne!(pid1, pid2);
    assert!(alive(pid2) && !alive(pid1));
    wait_until("the second run's output", Duration::from_secs(10), || {
        log_text(&c, true, false) == "run 1\nrun 2\n"
    });

    let status = c.stop(Duration::from_millis(200)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(c.status(), Status::Exited);
    assert!(common::mounts_with(&id).is_empty());
    c.start().unwrap();
    wait_until("the third run's output", Duration::from_secs(10), || {
        log_text(&c, true, false).ends_with("run 3\n")
    });
    let busy = c.clone().remove(false).unwrap_err();
    assert!(matches!(busy, Error::InvalidState { .. }), "{busy}");
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);

    // Created and never started: removed without force.
    let c = e.cmd(["true"]).create().unwrap();
    let id = c.id().to_owned();
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // A start that fails (its bind source vanished) leaves it created, with the error.
    let src = tempfile::tempdir().unwrap();
    let c = e
        .cmd(["true"])
        .mount(cargohold::Mount::bind(src.path(), "/data"))
        .create()
        .unwrap();
    let id = c.id().to_owned();
    let _rm2 = RemoveOnDrop(&e.engine, id.clone());
    let src_path = src.path().to_owned();
    drop(src);
    let err = c.start().unwrap_err();
    assert!(
        err.to_string().contains(&src_path.display().to_string()),
        "{err}"
    );
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, Status::Created);
    assert!(!info.state.error.is_empty());
    assert!(common::mounts_with(&id).is_empty());
    assert!(monitors_of(&id).is_empty());
    assert!(common::cgroups_named(&id).is_empty());
    // Once the source is back, it starts.
    fs::create_dir(&src_path).unwrap();
    c.start().unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(0));
    c.remove(false).unwrap();
    fs::remove_dir(&src_path).unwrap();
    assert_container_gone(&e, &id);
}

/// The child program of `engine_ephemeral_dies_with_its_owner`: starts an ephemeral
/// `sleep 1000` (attached or detached), prints `<id> <pid>` and waits to be killed.
fn ephemeral_creator(args: &[String]) -> ! {
    let [root, reference, mode] = args else {
        eprintln!("usage: --ephemeral-creator ROOT REFERENCE attached|detached|plain");
        std::process::exit(2)
    };
    let run = || -> cargohold::Result<cargohold::RunningContainer> {
        let engine = cargohold::Engine::open(root)?;
        let image = engine.image(reference)?;
        engine
            .container(&image)
            .args(["sleep", "1000"])
            .detach(mode == "detached")
            .ephemeral(mode != "plain")
            .spawn()
    };
    match run() {
        Ok(c) => {
            println!("{} {}", c.id(), c.pid());
            std::io::stdout().flush().unwrap();
            // Held until this program is killed.
            let _c = c;
            loop {
                std::thread::sleep(Duration::from_secs(1000));
            }
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}

/// `--ephemeral-creator` in `mode` (see [`ephemeral_creator`]): the program, and the id
/// and init pid of the container it started.
fn start_creator(e: &EngineEnv, mode: &str) -> (std::process::Child, String, i32) {
    use std::io::BufRead;
    let mut child = Command::new("/proc/self/exe")
        .arg("--ephemeral-creator")
        .arg(e.root.path())
        .arg(&e.reference)
        .arg(mode)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let mut words = line.split_whitespace();
    let (Some(id), Some(pid)) = (words.next(), words.next()) else {
        let _ = child.kill();
        panic!("{mode}: the creator printed {line:?}");
    };
    (child, id.to_owned(), pid.parse().unwrap())
}

/// An ephemeral container dies with the program that made it, even when that program is
/// killed with SIGKILL (attached: the parent-death signal; detached: its monitor watches
/// the program); the next `Engine::open` removes what is left.
fn engine_ephemeral_dies_with_its_owner() {
    let e = engine_env();
    for mode in ["attached", "detached"] {
        let (mut child, id, pid) = start_creator(&e, mode);
        let _rm = RemoveOnDrop(&e.engine, id.clone());
        assert!(alive(pid), "{mode}");
        std::thread::sleep(Duration::from_millis(100));
        assert!(alive(pid), "{mode}: runs while its owner does");
        child.kill().unwrap();
        child.wait().unwrap();
        wait_until(
            &format!("the {mode} container to die with its owner"),
            Duration::from_secs(10),
            || !alive(pid),
        );
        if mode == "detached" {
            wait_until("its monitor to exit", Duration::from_secs(10), || {
                monitors_of(&id).is_empty()
            });
        }
        let engine = cargohold::Engine::open(e.root.path()).unwrap();
        assert!(
            matches!(
                engine.containers().get(&id),
                Err(Error::ContainerNotFound { .. })
            ),
            "{mode}: removed by the next open"
        );
        assert_container_gone(&e, &id);
    }
}

/// A plain attached container (neither ephemeral nor detached) dies with the program that
/// started it, SIGKILL included; the next `Engine::open` records it exited (it is not
/// removed: it was not asked to be) and leaves no mount of it.
fn engine_attached_dies_with_its_owner() {
    let e = engine_env();
    let (mut child, id, pid) = start_creator(&e, "plain");
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert!(alive(pid));
    // its overlay is in its own mount namespace only
    assert!(
        common::mounts_with(&id).is_empty(),
        "{:?}",
        common::mounts_with(&id)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until(
        "the attached container to die with its owner",
        Duration::from_secs(10),
        || !alive(pid),
    );
    // nothing is mounted before any later process repairs anything
    assert!(
        common::mounts_with(&id).is_empty(),
        "{:?}",
        common::mounts_with(&id)
    );
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    let info = engine.containers().get(&id).unwrap().inspect().unwrap();
    assert_eq!(info.state.status, cargohold::Status::Exited);
    assert!(
        common::mounts_with(&id).is_empty(),
        "{:?}",
        common::mounts_with(&id)
    );
}

/// `reuse`: the same name and configuration give the same container (started again once
/// it has stopped); another configuration under that name is refused.
fn engine_reuse_by_name_and_config() {
    let e = engine_env();
    let name = unique("reuse");
    let make = |arg: &str| {
        e.engine
            .container(&e.image)
            .name(&name)
            .args(["sleep", arg])
            .detach(true)
            .reuse(true)
            .spawn()
    };
    let first = make("30").unwrap();
    let id = first.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let second = make("30").unwrap();
    assert_eq!(second.id(), id);
    assert_eq!(second.pid(), first.pid(), "the running container itself");
    let c = e.engine.containers().get(&name).unwrap();
    assert_eq!(
        c.labels()
            .get(cargohold::CONFIG_HASH_LABEL)
            .map(String::len),
        Some(64)
    );
    let other = make("31").unwrap_err();
    assert!(
        other.to_string().contains("another configuration"),
        "{other}"
    );
    assert_eq!(e.engine.containers().list().unwrap().len(), 1);
    let old_pid = first.pid();
    drop((first, second));
    c.stop(Duration::from_millis(200)).unwrap();
    let third = make("30").unwrap();
    assert_eq!(third.id(), id);
    assert_ne!(third.pid(), old_pid);
    assert!(alive(third.pid() as i32), "started again");
    drop(third);
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);
}

/// `run -dt`: a detached container with a terminal; what it writes to the pty is logged as
/// stdout.
fn engine_detached_tty() {
    let e = engine_env();
    let mut running = e
        .sh("tty; echo hi; echo there >&2")
        .detach(true)
        .tty(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert!(running.wait().unwrap().success());
    let c = e.engine.containers().get(&id).unwrap();
    assert!(c.inspect().unwrap().config.tty);
    let out = log_text(&c, true, false);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    assert!(
        out.contains("hi\r\n") && out.contains("there\r\n"),
        "{out:?}"
    );
    assert_eq!(log_text(&c, false, true), "");
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);
}

/// A detached container's published port is freed by its monitor when it exits, before
/// anyone waits for it; a created container on a network is attached at each start.
fn engine_networks_of_detached_containers() {
    common::in_new_netns(|| {
        let e = engine_env();
        let running = e
            .sh("sleep 0.3")
            .publish(18080, 80)
            .detach(true)
            .spawn()
            .unwrap();
        let id = running.id().to_owned();
        let _rm = RemoveOnDrop(&e.engine, id.clone());
        drop(running);
        let c = e.engine.containers().get(&id).unwrap();
        assert_eq!(
            c.ports().unwrap(),
            vec![cargohold::PortBinding::tcp(18080, 80)]
        );
        // The monitor exits once it has detached it and recorded the exit.
        wait_until("the monitor to exit", Duration::from_secs(10), || {
            monitors_of(&id).is_empty()
        });
        assert_eq!(c.status(), Status::Exited);
        // nobody waited: the monitor detached it
        assert!(c.ports().unwrap().is_empty());
        // no network lists it, and its network namespace is gone
        assert!(!e
            .engine
            .networks()
            .list()
            .unwrap()
            .iter()
            .any(|n| n.containers().contains(&id)));
        assert!(!e.root.path().join("netns").join(&id).exists());
        std::net::TcpListener::bind("0.0.0.0:18080").expect("the port is free again");
        c.wait().unwrap();
        c.remove(false).unwrap();
        assert_container_gone(&e, &id);

        // create on a network, start, stop, start again: attached each time
        let c = e
            .cmd(["sleep", "30"])
            .name("netsvc")
            .network("bridge")
            .publish(18081, 80)
            .create()
            .unwrap();
        let id = c.id().to_owned();
        let _rm = RemoveOnDrop(&e.engine, id.clone());
        assert!(c.ports().unwrap().is_empty(), "not attached before start");
        for _ in 0..2 {
            c.start().unwrap();
            let info = c.inspect().unwrap();
            assert!(!info.network_settings.ip_address.is_empty());
            assert_eq!(
                c.ports().unwrap(),
                vec![cargohold::PortBinding::tcp(18081, 80)]
            );
            c.stop(Duration::from_millis(100)).unwrap();
            assert!(c.ports().unwrap().is_empty());
            assert!(c.inspect().unwrap().network_settings.ip_address.is_empty());
        }
        c.remove(false).unwrap();
        assert_container_gone(&e, &id);
        assert!(e
            .engine
            .root()
            .join("netns")
            .read_dir()
            .unwrap()
            .next()
            .is_none());
    });
}

/// The child program of `engine_detached_embedded_dns`: starts a detached `sleep 60` named
/// `asker` on the network `dnsnet` with the fake upstream as `--dns`, prints its id and
/// exits.
fn dns_creator(args: &[String]) -> ! {
    let [root, reference] = args else {
        eprintln!("usage: --dns-creator ROOT REFERENCE");
        std::process::exit(2)
    };
    let run = || -> cargohold::Result<String> {
        let engine = cargohold::Engine::open(root)?;
        let image = engine.image(reference)?;
        let c = engine
            .container(&image)
            .name("asker")
            .network("dnsnet")
            .dns(common::fake_dns::UPSTREAM)
            .args(["sleep", "60"])
            .detach(true)
            .spawn()?;
        Ok(c.id().to_owned())
    };
    print_and_exit(run())
}

/// A detached container's embedded DNS server lives in its monitor: the program that made
/// the container has exited, and names still resolve (peers from the network, the rest
/// through the upstream); stopped, the monitor and with it the server's thread and
/// sockets are gone. A created container started later (`Container::start`) gets one too.
fn engine_detached_embedded_dns() {
    use common::fake_dns::{self, FakeUpstream};
    common::in_new_netns(|| {
        let e = engine_env();
        let _upstream = FakeUpstream::start();
        e.engine.network("dnsnet").create().unwrap();
        let peer = e
            .cmd(["sleep", "60"])
            .name("peer")
            .network("dnsnet")
            .network_alias("svc")
            .detach(true)
            .spawn()
            .unwrap();
        let peer_id = peer.id().to_owned();
        let _rm_peer = RemoveOnDrop(&e.engine, peer_id.clone());
        drop(peer);
        let peer_ip = e
            .engine
            .containers()
            .get("peer")
            .unwrap()
            .inspect()
            .unwrap()
            .network_settings
            .ip_address;
        let id = common::run_tool(
            Command::new("/proc/self/exe")
                .arg("--dns-creator")
                .arg(e.root.path())
                .arg(&e.reference),
        )
        .trim()
        .to_owned();
        let _rm = RemoveOnDrop(&e.engine, id.clone());
        let c = e.engine.containers().get(&id).unwrap();
        let monitors = monitors_of(&id);
        assert_eq!(monitors.len(), 1);
        let thread = fake_dns::thread_name(&id);
        assert!(fake_dns::has_thread(monitors[0] as u32, &thread));
        assert!(!fake_dns::has_thread(std::process::id(), &thread));
        let lookup = |c: &cargohold::Container, name: &str| {
            let out = c
                .exec(["busybox", "nslookup", "-type=a", name, "127.0.0.11"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        for name in ["peer", "svc"] {
            let text = lookup(&c, name);
            assert!(
                text.contains(&format!("Address: {peer_ip}")),
                "{name}: {text}"
            );
        }
        let text = lookup(&c, fake_dns::OUTSIDE_NAME);
        assert!(text.contains("Address: 192.0.2.7"), "{text}");
        let ns =
            cargohold::sys::netlink::open_netns(&e.root.path().join("netns").join(&id)).unwrap();
        assert!(!fake_dns::dns_port_free(&ns));
        c.stop(Duration::from_millis(200)).unwrap();
        wait_until("the monitor to exit", Duration::from_secs(5), || {
            monitors_of(&id).is_empty()
        });
        assert!(
            fake_dns::dns_port_free(&ns),
            "a socket outlived the monitor"
        );
        drop(ns);
        c.remove(false).unwrap();
        assert_container_gone(&e, &id);

        // created, then started through the engine: its monitor serves it too
        let c = e
            .cmd(["sleep", "60"])
            .name("later")
            .network("dnsnet")
            .create()
            .unwrap();
        let id = c.id().to_owned();
        let _rm = RemoveOnDrop(&e.engine, id.clone());
        c.start().unwrap();
        let text = lookup(&c, "svc");
        assert!(text.contains(&format!("Address: {peer_ip}")), "{text}");
        let monitors = monitors_of(&id);
        assert_eq!(monitors.len(), 1);
        assert!(fake_dns::has_thread(
            monitors[0] as u32,
            &fake_dns::thread_name(&id)
        ));
        c.stop(Duration::from_millis(200)).unwrap();
        c.remove(false).unwrap();
        assert_container_gone(&e, &id);
        let p = e.engine.containers().get("peer").unwrap();
        p.stop(Duration::from_millis(200)).unwrap();
        p.remove(false).unwrap();
        assert_container_gone(&e, &peer_id);
        e.engine.networks().remove("dnsnet").unwrap();
        assert!(e
            .engine
            .root()
            .join("netns")
            .read_dir()
            .unwrap()
            .next()
            .is_none());
    });
}

type Test = (&'static str, fn());

/// A compose application built in Rust (issue 14): `up` waits for the API's background
/// healthcheck, the web service's ephemeral host port answers over 127.0.0.1, and dropping
/// the ephemeral application's handle tears it all down: containers, network, the volume
/// its `up` created, the bridge.
fn compose_app_torn_down_on_drop() {
    use cargohold::compose::{Condition, Healthcheck, VolumeConfig};
    common::in_new_netns(|| {
        let e = common::busybox()
            .web()
            .engine_tagged("cargohold-compose", &unique("app"));
        let image = e.reference.clone();
        let httpd = |port: &str| -> Vec<String> {
            ["busybox", "httpd", "-f", "-p", port, "-h", "/www"]
                .map(str::to_owned)
                .to_vec()
        };
        let project = cargohold::Project::new("libapp")
            .service("api", |s| {
                s.image(&image)
                    .command(httpd("8080"))
                    .healthcheck(
                        Healthcheck::cmd([
                            "busybox",
                            "wget",
                            "-q",
                            "-O",
                            "/dev/null",
                            "http://127.0.0.1:8080/",
                        ])
                        .interval(Duration::from_millis(200)),
                    )
                    .stop_grace_period(Duration::from_secs(1))
            })
            .service("web", |s| {
                s.image(&image)
                    .command(httpd("80"))
                    .port("80")
                    .volume("data:/data")
                    .depends_on("api", Condition::ServiceHealthy)
                    .stop_grace_period(Duration::from_secs(1))
            })
            .volume("data", VolumeConfig::default())
            .build()
            .unwrap();
        let app = e.engine.compose(project).wait(true).up().unwrap();
        assert!(app.is_ephemeral());
        let web = app.service("web").unwrap();
        let port = web.port(80).unwrap();
        assert_ne!(port, 0);
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(s, "GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut resp = String::new();
        std::io::Read::read_to_string(&mut s, &mut resp).unwrap();
        assert!(resp.ends_with(common::WEB_PAGE), "{resp}");
        let api = app.service("api").unwrap();
        assert_eq!(
            api.container().health().unwrap().map(|h| h.status),
            Some(cargohold::HealthStatus::Healthy)
        );
        assert!(web.port(81).is_err());
        assert!(app.service("nope").is_err());
        assert_eq!(app.containers().unwrap().len(), 2);
        assert_eq!(e.engine.compose_projects().unwrap()[0].name, "libapp");
        drop(app);
        assert!(e.engine.containers().list().unwrap().is_empty());
        assert!(e.engine.volumes().list(&[]).unwrap().is_empty());
        assert!(!e
            .engine
            .networks()
            .list()
            .unwrap()
            .iter()
            .any(|n| n.name() == "libapp_default"));
        assert_eq!(common::link_names(), ["lo"]);
        assert!(e.engine.compose_projects().unwrap().is_empty());
    });
}

const TESTS: &[Test] = &[
    ("logs_and_exit_code", logs_and_exit_code),
    ("command_not_found", command_not_found),
    ("survives_its_creator", survives_its_creator),
    ("monitor_killed", monitor_killed),
    ("from_a_multithreaded_host", from_a_multithreaded_host),
    ("tail_since_follow", tail_since_follow),
    ("long_and_partial_lines", long_and_partial_lines),
    (
        "a_program_that_is_not_a_monitor",
        a_program_that_is_not_a_monitor,
    ),
    (
        "hook_output_stays_out_of_the_report",
        hook_output_stays_out_of_the_report,
    ),
    (
        "engine_detached_logs_and_exit",
        engine_detached_logs_and_exit,
    ),
    (
        "engine_detached_survives_its_creator",
        engine_detached_survives_its_creator,
    ),
    (
        "engine_open_repairs_exited_detached",
        engine_open_repairs_exited_detached,
    ),
    ("engine_restart_policy", engine_restart_policy),
    ("engine_kill_is_a_manual_stop", engine_kill_is_a_manual_stop),
    ("engine_create_start_restart", engine_create_start_restart),
    (
        "engine_log_opened_before_start_outlives_the_container",
        engine_log_opened_before_start_outlives_the_container,
    ),
    (
        "engine_ephemeral_dies_with_its_owner",
        engine_ephemeral_dies_with_its_owner,
    ),
    (
        "engine_attached_dies_with_its_owner",
        engine_attached_dies_with_its_owner,
    ),
    (
        "engine_reuse_by_name_and_config",
        engine_reuse_by_name_and_config,
    ),
    ("engine_detached_tty", engine_detached_tty),
    (
        "resize_tty_sizes_a_detached_terminal",
        resize_tty_sizes_a_detached_terminal,
    ),
    (
        "engine_networks_of_detached_containers",
        engine_networks_of_detached_containers,
    ),
    ("engine_ready_log_lines", engine_ready_log_lines),
    (
        "engine_ready_failures_carry_the_log",
        engine_ready_failures_carry_the_log,
    ),
    ("engine_detached_embedded_dns", engine_detached_embedded_dns),
    (
        "compose_app_torn_down_on_drop",
        compose_app_torn_down_on_drop,
    ),
    (
        "attach_stdin_feeds_the_container_until_the_last_writer_goes",
        attach_stdin_feeds_the_container_until_the_last_writer_goes,
    ),
    (
        "a_container_without_open_stdin_is_not_attached",
        a_container_without_open_stdin_is_not_attached,
    ),
];

/// `--restart on-failure:2` through the builder: the monitor runs a failing container three
/// times, then records the last exit and deletes the runtime's state; a policy without
/// detach, or with auto-remove, is refused before anything starts.
fn engine_restart_policy() {
    let e = engine_env();
    let policy: cargohold::RestartPolicy = "on-failure:2".parse().unwrap();
    let mut running = e
        .sh("echo run; exit 1")
        .detach(true)
        .restart(policy)
        .spawn()
        .unwrap();
    let _rm = RemoveOnDrop(&e.engine, running.id().to_owned());
    let id = running.id().to_owned();
    assert_eq!(running.wait().unwrap().code(), Some(1));
    let c = e.engine.containers().get(&id).unwrap();
    assert_eq!(c.inspect().unwrap().state.exit_code, 1);
    assert_eq!(
        log_text(&c, true, false),
        "run\nrun\nrun\n",
        "one run and two restarts"
    );
    // The monitor deleted the runtime's state after the last run.
    assert!(not_found(&runtime_of(&e), &id));
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    let attached = e.cmd(["true"]).restart(policy).spawn();
    assert!(
        matches!(
            attached,
            Err(cargohold::Error::InvalidContainerConfig { .. })
        ),
        "{attached:?}"
    );
    let with_rm = e
        .cmd(["true"])
        .detach(true)
        .auto_remove(true)
        .restart(cargohold::RestartPolicy::Always)
        .spawn();
    let Err(err) = with_rm else {
        panic!("--restart with --rm is refused")
    };
    assert!(err.to_string().contains("auto-remove"), "{err}");
    assert!(e.engine.containers().list().unwrap().is_empty());
}

/// `docker kill` is a manual stop, as in Docker: SIGKILL or the container's stop signal
/// sent through `Container::signal` tells the monitor first, so `--restart always` does not
/// bring the container back; another signal leaves the policy to apply.
fn engine_kill_is_a_manual_stop() {
    let e = engine_env();
    let script = "trap 'exit 3' TERM; trap 'exit 4' USR1; echo run; \
                  while :; do sleep 1 & wait; done";
    let running = e
        .engine
        .container(&e.image)
        .args(["sh", "-c", script])
        .detach(true)
        .restart(cargohold::RestartPolicy::Always)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    drop(running);
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let c = e.engine.containers().get(&id).unwrap();
    let runs = |n: usize| {
        wait_until(&format!("run {n}"), Duration::from_secs(10), || {
            log_text(&c, true, false) == "run\n".repeat(n)
        })
    };
    runs(1);
    // Another signal than the stop signal: the policy restarts it.
    c.signal(libc::SIGUSR1).unwrap();
    runs(2);
    // The stop signal (SIGTERM): stopped for good.
    c.signal(libc::SIGTERM).unwrap();
    wait_until("no restart after TERM", Duration::from_secs(10), || {
        c.status() == Status::Exited
    });
    assert_eq!(c.wait().unwrap().code(), Some(3));
    assert_eq!(log_text(&c, true, false), "run\n".repeat(2), "one restart");
    // SIGKILL after a start: stopped for good too.
    c.start().unwrap();
    runs(3);
    c.signal(libc::SIGKILL).unwrap();
    wait_until("no restart after KILL", Duration::from_secs(10), || {
        c.status() == Status::Exited
    });
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(log_text(&c, true, false), "run\n".repeat(3));
    assert_eq!(c.status(), Status::Exited);
    // `stop --signal USR1`: a manual stop too, though USR1 alone let the policy restart it;
    // the container ends by that signal (its trap's code), not by the SIGKILL after.
    c.start().unwrap();
    runs(4);
    let usr1 = cargohold::Signal::from_raw(libc::SIGUSR1).unwrap();
    let status = c.stop_with(usr1, Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(4));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(log_text(&c, true, false), "run\n".repeat(4));
    assert_eq!(c.status(), Status::Exited);
}

/// Log-line waits on a detached container (its monitor's json-file log): a line printed
/// late, a line seen twice, one stream only; through the handle and the record. A TCP wait
/// through the record finds the init's network namespace from the monitor.
fn engine_ready_log_lines() {
    use cargohold::WaitFor;
    let e = engine_env();
    let running = e
        .sh(
            "echo starting; sleep 0.3; echo ready; sleep 0.2; echo ready >&2; \
             busybox ip link set lo up; exec busybox nc -l -p 8080",
        )
        .cap_add("NET_ADMIN")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let c = e.engine.containers().get(&id).unwrap();
    running
        .wait_for(&WaitFor::log("ready"), Duration::from_secs(20))
        .unwrap();
    assert!(log_text(&c, true, false).contains("ready\n"));
    c.wait_for(&WaitFor::log("ready").times(2), Duration::from_secs(20))
        .unwrap();
    assert_eq!(log_text(&c, false, true), "ready\n");
    running
        .wait_for(&WaitFor::stderr("ready"), Duration::from_secs(1))
        .unwrap();
    // Only one "ready" on stdout, however long we wait.
    let (condition, reason, logs, _) = not_ready(running.wait_for(
        &WaitFor::stdout("ready").times(2),
        Duration::from_millis(300),
    ));
    assert_eq!(condition, "log line \"ready\" on stdout 2 times");
    assert!(reason.contains("1 of 2 matching lines"), "{reason}");
    assert_eq!(logs, ["starting", "ready", "ready"]);
    // nc listens in the container's namespace once lo is up.
    c.wait_for(&WaitFor::tcp(8080), Duration::from_secs(20))
        .unwrap();
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);
}

/// A detached container that exits before it is ready fails the wait at once, with its
/// exit code and its last 20 log lines; a timeout names the condition and carries the log.
fn engine_ready_failures_carry_the_log() {
    use cargohold::WaitFor;
    let e = engine_env();
    let running = e
        .sh(
            "for i in $(seq 1 30); do echo line $i; done; sleep 0.1; echo 'fatal: no config' >&2; \
             sleep 0.3; exit 2",
        )
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let t = Instant::now();
    let (condition, reason, logs, msg) =
        not_ready(running.wait_for(&WaitFor::tcp(8080), Duration::from_secs(60)));
    assert!(t.elapsed() < Duration::from_secs(30), "not at the timeout");
    assert_eq!(condition, "tcp port 8080");
    assert!(reason.contains("exited with code 2"), "{reason}");
    assert_eq!(logs.len(), 20, "{logs:?}");
    assert_eq!(logs[0], "line 12");
    assert_eq!(logs[19], "fatal: no config");
    assert!(msg.contains(running.name()), "{msg}");
    assert!(
        msg.ends_with("\n    line 30\n    fatal: no config"),
        "{msg}"
    );
    // The record of the exited container says the same, at once.
    let c = e.engine.containers().get(&id).unwrap();
    let (_, reason, logs, _) =
        not_ready(c.wait_for(&WaitFor::log("ready"), Duration::from_secs(60)));
    assert!(reason.contains("exited with code 2"), "{reason}");
    assert_eq!(logs.len(), 20);
    c.remove(true).unwrap();
    assert_container_gone(&e, &id);

    // A timeout.
    let running = e
        .sh("echo booting; exec sleep 100")
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    let (condition, reason, logs, _) =
        not_ready(running.wait_for(&WaitFor::log("ready"), Duration::from_millis(300)));
    assert_eq!(condition, "log line \"ready\"");
    assert!(reason.contains("timed out after 300ms"), "{reason}");
    assert!(reason.contains("0 of 1 matching lines"), "{reason}");
    assert_eq!(logs, ["booting"]);
    drop(running);
    e.engine
        .containers()
        .get(&id)
        .unwrap()
        .remove(true)
        .unwrap();
    assert_container_gone(&e, &id);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Before `init()`: a program that has not called it (a monitor's argv[1] is an id).
    if args.first().map(String::as_str) == Some("--without-init") {
        without_init(&args[1..]);
    }
    cargohold::init();
    if args.first().map(String::as_str) == Some("--engine-creator") {
        engine_creator(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--ephemeral-creator") {
        ephemeral_creator(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--dns-creator") {
        dns_creator(&args[1..]);
    }
    if args.iter().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let selected: Vec<&Test> = TESTS
        .iter()
        .filter(|(n, _)| filters.is_empty() || filters.iter().any(|f| n.contains(f.as_str())))
        .collect();
    if !rustix::process::geteuid().is_root() {
        println!("skipping {} tests: they need root", selected.len());
        println!("0 passed, 0 failed");
        return;
    }
    println!("running {} tests", selected.len());
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in selected {
        let t = Instant::now();
        let result = std::panic::catch_unwind(f);
        let ms = t.elapsed().as_millis();
        match result {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({ms} ms)");
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED ({ms} ms)");
            }
        }
    }
    // No monitor of ours may outlive the suite (each test checks its containers' mounts,
    // cgroups and runtime state).
    let leftovers = our_monitors();
    if !leftovers.is_empty() {
        failed += 1;
        println!("leftover monitors: {leftovers:?}");
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// `Container::attach_stdin` (`start -a -i`): a container created with open stdin reads
/// what its writers write, and its stdin ends with the last of them (`StdinOnce`).
fn attach_stdin_feeds_the_container_until_the_last_writer_goes() {
    let t = engine_env();
    let c = t
        .sh("while read l; do echo \"got $l\"; done; echo end; exit 7")
        .network("none")
        .stdin(cargohold::Stdio::piped())
        .create()
        .unwrap();
    let config = c.inspect().unwrap().config;
    assert!(config.open_stdin && config.stdin_once, "{config:?}");
    // Not running yet: nothing to attach to.
    let e = c.attach_stdin().unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "{e}");
    c.start().unwrap();
    // Two writers in turn: the stdin ends only when both have gone.
    let mut a = c.attach_stdin().unwrap();
    let mut b = c.attach_stdin().unwrap();
    a.write_all(b"one\n").unwrap();
    drop(a);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(c.status(), Status::Running, "{}", log_text(&c, true, true));
    b.write_all(b"two\n").unwrap();
    drop(b);
    let status = c.wait().unwrap();
    assert_eq!(status.code(), Some(7));
    assert_eq!(log_text(&c, true, true), "got one\ngot two\nend\n");
    c.remove(false).unwrap();
}

/// `Container::resize_tty` (Docker's resize): a detached container's terminal takes the
/// size, and its programs get SIGWINCH; only running detached containers with a terminal.
fn resize_tty_sizes_a_detached_terminal() {
    let t = engine_env();
    let c = t
        .sh("trap 'stty size' WINCH; echo ready; while :; do sleep 0.1; done")
        .tty(true)
        .network("none")
        .create()
        .unwrap();
    let e = c.resize_tty(24, 80).unwrap_err();
    assert!(matches!(e, Error::InvalidState { .. }), "created: {e}");
    c.start().unwrap();
    wait_until("the shell", Duration::from_secs(10), || {
        log_text(&c, true, false).contains("ready")
    });
    c.resize_tty(31, 97).unwrap();
    wait_until("the new size", Duration::from_secs(10), || {
        log_text(&c, true, false).contains("31 97")
    });
    c.resize_tty(40, 120).unwrap();
    wait_until("the second size", Duration::from_secs(10), || {
        log_text(&c, true, false).contains("40 120")
    });
    let e = c.resize_tty(0, 80).unwrap_err();
    assert!(
        matches!(e, Error::InvalidContainerConfig { field: "tty", .. }),
        "{e}"
    );
    c.remove(true).unwrap();
    let plain = t.sh("sleep 30").network("none").create().unwrap();
    plain.start().unwrap();
    let e = plain.resize_tty(24, 80).unwrap_err();
    assert!(
        matches!(e, Error::InvalidContainerConfig { field: "tty", .. }),
        "no terminal: {e}"
    );
    plain.remove(true).unwrap();
}

/// Without open stdin at create, there is no stdin to attach.
fn a_container_without_open_stdin_is_not_attached() {
    let t = engine_env();
    let c = t.sh("sleep 30").network("none").create().unwrap();
    assert!(!c.inspect().unwrap().config.open_stdin);
    c.start().unwrap();
    let e = c.attach_stdin().unwrap_err();
    assert!(
        matches!(e, Error::InvalidContainerConfig { field: "stdin", .. }),
        "{e}"
    );
    c.remove(true).unwrap();
}
