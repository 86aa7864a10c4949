//! Detached containers: the monitor process and the logs it writes (root only).
//!
//! This is its own test binary with `harness = false`: the monitor is this program
//! re-executed, and libtest's `main` cannot call `cargohold::init()` before it runs. So
//! `main` below calls `init()` first, then runs each test function (catching panics), prints
//! `test NAME ... ok|FAILED`, and ends with the line `N passed, N failed` (exit status 1 on
//! any failure). A name given on the command line runs the tests whose names contain it;
//! `--list` lists them. Flags libtest takes (`--include-ignored`, `--nocapture`, …) are
//! accepted and ignored. As a normal user every test is skipped (they need root).
//!
//! `--creator ARGS` is not a test: it is the child program of `survives_its_creator`;
//! `--engine-creator ARGS` is that of `engine_detached_survives_its_creator`;
//! `--dns-creator ARGS` that of `engine_detached_embedded_dns`.

#[path = "it/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use cargohold::__private::logs::{self, LogOptions};
use cargohold::__private::monitor::{self, MonitorConfig, MonitorHandle, MonitorStatus};
use cargohold::runtime::{Runtime, Status};
use cargohold::{Error, LogStream};
use common::{runtime, unique, Bundle};

/// One detached container's files, in a temp dir of its own.
struct Detached {
    dir: tempfile::TempDir,
    id: String,
}

impl Detached {
    fn new(prefix: &str) -> Detached {
        Detached {
            dir: tempfile::Builder::new()
                .prefix("cargohold-mon")
                .tempdir()
                .unwrap(),
            id: unique(prefix),
        }
    }
    fn log(&self) -> PathBuf {
        self.dir.path().join("ctr.log")
    }
    fn exit(&self) -> PathBuf {
        self.dir.path().join("exit.json")
    }
    fn config(&self, rt: &Runtime, bundle: &Path) -> MonitorConfig {
        let mut cfg = MonitorConfig::new(rt.root(), &self.id, bundle, self.log(), self.exit());
        cfg.monitor_log = Some(self.dir.path().join("monitor.log"));
        cfg
    }
    fn start(&self, rt: &Runtime, bundle: &Bundle) -> MonitorHandle {
        monitor::start(&self.config(rt, bundle.path())).unwrap_or_else(|e| {
            panic!(
                "starting {}: {e} (monitor log: {:?})",
                self.id,
                fs::read_to_string(self.dir.path().join("monitor.log"))
            )
        })
    }
    fn entries(&self, opts: &LogOptions) -> Vec<cargohold::LogEntry> {
        logs::read(self.log(), self.exit(), opts)
            .unwrap()
            .map(|e| e.unwrap())
            .collect()
    }
    fn text(&self, opts: &LogOptions) -> String {
        self.entries(opts)
            .iter()
            .map(|e| String::from_utf8_lossy(&e.log).into_owned())
            .collect()
    }
}

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

/// Monitor processes (argv[0] cargohold-monitor) of containers whose id holds `needle`.
fn monitors_of(needle: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<_> = cmd.split(|&b| b == 0).collect();
        if args.first() == Some(&monitor::PROCESS_NAME.as_bytes())
            && args
                .get(1)
                .is_some_and(|a| String::from_utf8_lossy(a).contains(needle))
            && alive(pid)
        {
            out.push(pid);
        }
    }
    out
}

fn sigkill(pid: i32) {
    let pid = rustix::process::Pid::from_raw(pid).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}

fn not_found(rt: &Runtime, id: &str) -> bool {
    matches!(rt.state(id), Err(Error::ContainerNotFound { .. }))
}

// ---------------------------------------------------------------------------------------

/// Output on both streams with times, the exit code, and the runtime's state deleted.
fn logs_and_exit_code() {
    let rt = runtime();
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "echo out; echo err >&2; sleep 0.2; echo bye; exit 3",
    ]);
    let d = Detached::new("mon-exit");
    let before = SystemTime::now();
    let h = d.start(&rt, &bundle);
    assert!(h.container_pid > 0 && h.monitor_pid > 0);
    assert_ne!(ppid(h.monitor_pid), std::process::id() as i32, "reparented");
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).expect("exit record");
    let after = SystemTime::now();
    assert_eq!(rec.code, Some(3));
    assert_eq!(rec.signal, None);
    assert_eq!(rec.exit_code(), 3);
    assert!(!rec.oom_killed);
    assert_eq!(rec.pid, h.container_pid);
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::Exited(rec.clone())
    );
    // The monitor deleted the runtime's state (and cgroup) and exited.
    assert!(not_found(&rt, &d.id));
    wait_until("the monitor to exit", Duration::from_secs(5), || {
        !alive(h.monitor_pid)
    });
    assert!(common::cgroups_named(&d.id).is_empty());

    let all = d.entries(&LogOptions::default());
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
    let raw = fs::read_to_string(d.log()).unwrap();
    for line in raw.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["log"].is_string() && v["stream"].is_string());
        assert!(logs::parse_time(v["time"].as_str().unwrap()).is_some());
    }
    assert!(
        raw.contains(r#"{"log":"bye\n","stream":"stdout","time":""#),
        "{raw}"
    );
    // Streams apart, and as docker logs -t prints them.
    let only_err = LogOptions {
        stdout: false,
        ..Default::default()
    };
    assert_eq!(d.text(&only_err), "err\n");
    let mut out = Vec::new();
    let mut err = Vec::new();
    let opts = LogOptions {
        timestamps: true,
        ..Default::default()
    };
    logs::read(d.log(), d.exit(), &opts)
        .unwrap()
        .copy_to(&mut out, &mut err)
        .unwrap();
    let out = String::from_utf8(out).unwrap();
    let last = out.lines().last().unwrap();
    let (stamp, text) = last.split_once(' ').unwrap();
    assert_eq!(text, "bye");
    assert_eq!(
        stamp.len(),
        "2024-05-01T12:00:00.123456789Z".len(),
        "{stamp}"
    );
    assert_eq!(logs::parse_time(stamp), Some(all[2].time));
    assert!(String::from_utf8(err).unwrap().ends_with(" err\n"));
}

/// A command that is not in the image: the runtime's error, and nothing left behind.
fn command_not_found() {
    let rt = runtime();
    let bundle = Bundle::new(&["/no/such/command"]);
    let d = Detached::new("mon-enoent");
    let err = monitor::start(&d.config(&rt, bundle.path())).unwrap_err();
    match &err {
        Error::Spawn { source, .. } => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOENT), "{err}")
        }
        other => panic!("{other:?}"),
    }
    assert!(rt.list().unwrap().is_empty());
    assert!(monitor::read_exit(d.exit()).is_none());
    assert!(!monitor::lock_path(&d.exit()).exists());
    wait_until("no monitor", Duration::from_secs(5), || {
        monitors_of(&d.id).is_empty()
    });
    // A second id clash is reported as such.
    let d2 = Detached::new("mon-dup");
    let _guard = common::Cleanup {
        rt: &rt,
        id: d2.id.clone(),
    };
    let sleeper = Bundle::new(&["sleep", "30"]);
    let h = d2.start(&rt, &sleeper);
    let mut clash = d2.config(&rt, sleeper.path());
    clash.exit_path = d2.dir.path().join("other-exit.json");
    clash.log_path = d2.dir.path().join("other.log");
    match monitor::start(&clash) {
        Err(Error::ContainerExists { id }) => assert_eq!(id, d2.id),
        other => panic!("{other:?}"),
    }
    rt.kill(&d2.id, libc::SIGKILL, false).unwrap();
    let rec = monitor::wait_exit(d2.exit(), Duration::from_secs(10)).unwrap();
    assert_eq!(rec.signal, Some(libc::SIGKILL));
    assert_eq!(rec.pid, h.container_pid);
}

/// The child program of `survives_its_creator`: starts a detached container, prints the
/// handle, exits.
fn creator(args: &[String]) -> ! {
    let [root, id, bundle, log, exit] = args else {
        eprintln!("usage: --creator ROOT ID BUNDLE LOG EXIT");
        std::process::exit(2)
    };
    let cfg = MonitorConfig::new(root, id, bundle, log, exit);
    match monitor::start(&cfg) {
        Ok(h) => {
            println!("{} {}", h.monitor_pid, h.container_pid);
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}

/// A container started by a program that then exits keeps running; a later program
/// (this one) kills it and reads how it ended.
fn survives_its_creator() {
    let rt = runtime();
    let bundle = Bundle::new(&["sleep", "30"]);
    let d = Detached::new("mon-orphan");
    let _guard = common::Cleanup {
        rt: &rt,
        id: d.id.clone(),
    };
    // This program (not current_exe(): after cargohold::init() that names the sealed copy).
    let out = Command::new("/proc/self/exe")
        .arg("--creator")
        .arg(rt.root())
        .arg(&d.id)
        .arg(bundle.path())
        .arg(d.log())
        .arg(d.exit())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pids = text.split_whitespace().map(|p| p.parse::<i32>().unwrap());
    let (monitor_pid, container_pid) = (pids.next().unwrap(), pids.next().unwrap());
    // The creator has exited (output() waited for it); the container runs on.
    std::thread::sleep(Duration::from_millis(100));
    let st = rt.state(&d.id).unwrap();
    assert_eq!(st.status, Status::Running);
    assert_eq!(st.pid, container_pid);
    assert!(alive(monitor_pid));
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::Running {
            pid: container_pid,
            monitored: true
        }
    );
    assert!(monitor::wait_exit(d.exit(), Duration::from_millis(50)).is_none());
    rt.kill(&d.id, libc::SIGKILL, false).unwrap();
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).expect("exit record");
    assert_eq!(rec.signal, Some(libc::SIGKILL));
    assert_eq!(rec.code, None);
    assert_eq!(rec.exit_code(), 137);
    assert!(not_found(&rt, &d.id));
    wait_until("the monitor to exit", Duration::from_secs(5), || {
        !alive(monitor_pid)
    });
}

/// A monitor killed with SIGKILL: the container is reported running but unmonitored,
/// waits return at once, and a container that writes is not stuck on its pipe.
fn monitor_killed() {
    let rt = runtime();
    let d = Detached::new("mon-kill");
    let _guard = common::Cleanup {
        rt: &rt,
        id: d.id.clone(),
    };
    // (Bundles live as long as their containers: the rootfs is the bundle's.)
    let bundle = Bundle::new(&["sleep", "30"]);
    let h = d.start(&rt, &bundle);
    sigkill(h.monitor_pid);
    // Its lock goes when its last thread is gone (the main thread shows as a zombie a
    // little earlier).
    wait_until("the monitor to die", Duration::from_secs(5), || {
        !monitor::monitor_alive(d.exit())
    });
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::Running {
            pid: h.container_pid,
            monitored: false
        }
    );
    let t = Instant::now();
    assert!(monitor::wait_exit(d.exit(), Duration::from_secs(30)).is_none());
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    // A follower stops too.
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    assert!(d.entries(&follow).is_empty());
    // The engine can still stop it; then its end is unknown.
    rt.kill(&d.id, libc::SIGKILL, false).unwrap();
    wait_until("the container to stop", Duration::from_secs(5), || {
        rt.state(&d.id).map(|s| s.status).ok() == Some(Status::Stopped)
    });
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::ExitedUnknown
    );
    rt.delete(&d.id, true).unwrap();
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::ExitedUnknown
    );

    // A container that keeps writing is not blocked on its pipe: its writes fail (EPIPE;
    // a process other than the namespace's pid 1, which the kernel shields from it, dies
    // of SIGPIPE), so here the writer ends and the init after it.
    let d = Detached::new("mon-pipe");
    let _guard = common::Cleanup {
        rt: &rt,
        id: d.id.clone(),
    };
    let writer = Bundle::new(&["sh", "-c", "(while :; do echo x; sleep 0.01; done); exit 0"]);
    let h = d.start(&rt, &writer);
    wait_until("some output", Duration::from_secs(5), || {
        !d.entries(&LogOptions::default()).is_empty()
    });
    sigkill(h.monitor_pid);
    wait_until("the writer to end", Duration::from_secs(10), || {
        !alive(h.container_pid)
    });
    assert_eq!(
        monitor::status(rt.root(), &d.id, d.exit()).unwrap(),
        MonitorStatus::ExitedUnknown
    );
    rt.delete(&d.id, true).unwrap();
    assert!(common::cgroups_named(&d.id).is_empty());
}

/// 20 detached containers started from 4 threads while 8 more allocate and lock in a
/// loop: no deadlock, every container ran and logged.
fn from_a_multithreaded_host() {
    let rt = runtime();
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
    let bundle = Arc::new(Bundle::new(&["sh", "-c", "echo hello from $0", "c"]));
    let (tx, rx) = std::sync::mpsc::channel();
    let rt2 = Arc::new(rt);
    let mut starters = Vec::new();
    for s in 0..4 {
        let tx = tx.clone();
        let rt = Arc::clone(&rt2);
        let bundle = Arc::clone(&bundle);
        starters.push(std::thread::spawn(move || {
            for i in 0..5 {
                let d = Detached::new(&format!("mon-mt{s}{i}"));
                let r = monitor::start(&d.config(&rt, bundle.path()));
                tx.send((d, r)).unwrap();
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
    for (d, r) in &started {
        r.as_ref().unwrap_or_else(|e| panic!("{}: {e}", d.id));
        let rec = monitor::wait_exit(d.exit(), Duration::from_secs(20)).expect("exit record");
        assert_eq!(rec.code, Some(0), "{}", d.id);
        assert_eq!(d.text(&LogOptions::default()), "hello from c\n");
        assert!(not_found(&rt2, &d.id));
    }
}

/// tail, since and follow on a live container's log.
fn tail_since_follow() {
    let rt = runtime();
    let d = Detached::new("mon-follow");
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line $i; sleep 0.1; done; echo oops >&2",
    ]);
    let follow = LogOptions {
        follow: true,
        ..Default::default()
    };
    // Following from the start, while the lines come.
    d.start(&rt, &bundle);
    let t = Instant::now();
    let mut seen = Vec::new();
    for e in logs::read(d.log(), d.exit(), &follow).unwrap() {
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
    assert!(
        monitor::read_exit(d.exit()).is_some(),
        "follow ended with the exit"
    );

    let all = d.entries(&LogOptions::default());
    let tail = |n| {
        d.text(&LogOptions {
            tail: Some(n),
            ..Default::default()
        })
    };
    assert_eq!(tail(2), "line 5\noops\n");
    assert_eq!(tail(0), "");
    assert_eq!(tail(100).lines().count(), 6);
    let tail_out = d.text(&LogOptions {
        tail: Some(2),
        stderr: false,
        ..Default::default()
    });
    assert_eq!(tail_out, "line 4\nline 5\n");
    let since = d.text(&LogOptions {
        since: Some(all[3].time),
        ..Default::default()
    });
    assert_eq!(since, "line 4\nline 5\noops\n");
    let until = d.text(&LogOptions {
        until: Some(all[1].time),
        ..Default::default()
    });
    assert_eq!(until, "line 1\nline 2\n");
    // Following a finished container's log reads it and stops; tail + follow too.
    assert_eq!(d.entries(&follow).len(), 6);
    let tail_follow = LogOptions {
        tail: Some(1),
        follow: true,
        ..Default::default()
    };
    assert_eq!(d.text(&tail_follow), "oops\n");
}

/// A 40 KiB line is logged in 16 KiB pieces; output without a final newline is kept.
fn long_and_partial_lines() {
    let rt = runtime();
    let d = Detached::new("mon-long");
    let bundle = Bundle::new(&[
        "sh",
        "-c",
        "head -c 40960 /dev/zero | tr '\\0' x; echo; echo -n tail",
    ]);
    let h = d.start(&rt, &bundle);
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).unwrap();
    assert_eq!(rec.code, Some(0));
    assert_eq!(rec.pid, h.container_pid);
    let entries = d.entries(&LogOptions::default());
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
    assert!(lens.iter().all(|&l| l <= logs::MAX_MESSAGE), "{lens:?}");
    assert!(entries.last().unwrap().is_partial());
    assert_eq!(entries.last().unwrap().log, b"tail");
}

/// A container with stdin on a fifo reads what a writer sends.
fn stdin_fifo() {
    let rt = runtime();
    let d = Detached::new("mon-stdin");
    let bundle = Bundle::new(&["sh", "-c", "read line; echo got $line"]);
    let fifo = d.dir.path().join("stdin");
    let mut cfg = d.config(&rt, bundle.path());
    cfg.stdin = monitor::MonitorStdin::Fifo(fifo.clone());
    monitor::start(&cfg).unwrap();
    let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    w.write_all(b"hello\n").unwrap();
    drop(w);
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).unwrap();
    assert_eq!(rec.code, Some(0));
    assert_eq!(d.text(&LogOptions::default()), "got hello\n");
}

/// keep_stopped leaves the runtime's stopped state; on-failure restarts up to its limit.
fn keep_stopped_and_restart() {
    let rt = runtime();
    let d = Detached::new("mon-keep");
    let bundle = Bundle::new(&["sh", "-c", "echo run; exit 1"]);
    let mut cfg = d.config(&rt, bundle.path());
    cfg.keep_stopped = true;
    monitor::start(&cfg).unwrap();
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).unwrap();
    assert_eq!(rec.code, Some(1));
    assert_eq!(rt.state(&d.id).unwrap().status, Status::Stopped);
    rt.delete(&d.id, false).unwrap();

    let d = Detached::new("mon-restart");
    let mut cfg = d.config(&rt, bundle.path());
    cfg.restart = monitor::RestartPolicy::OnFailure {
        max_retries: Some(2),
    };
    monitor::start(&cfg).unwrap();
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(20)).unwrap();
    assert_eq!(rec.code, Some(1));
    assert_eq!(rec.restarts, 2);
    assert_eq!(d.text(&LogOptions::default()), "run\nrun\nrun\n");
    assert!(not_found(&rt, &d.id));
}

/// Starting without `init()` having run is refused (tested in-process by a program that
/// never calls it would need another binary; here: `program` pointing at a non-monitor).
fn a_program_that_is_not_a_monitor() {
    let rt = runtime();
    let d = Detached::new("mon-true");
    let bundle = Bundle::new(&["true"]);
    let mut cfg = d.config(&rt, bundle.path());
    cfg.program = Some("/bin/true".into());
    match monitor::start(&cfg) {
        Err(Error::Monitor { reason, .. }) => {
            assert!(reason.contains("before reporting"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(rt.list().unwrap().is_empty());
}

/// Hooks the monitor runs inherit its stdout: their output goes to the monitor log, not
/// into the readiness report.
fn hook_output_stays_out_of_the_report() {
    use cargohold::oci_spec::runtime::{HookBuilder, HooksBuilder};
    let rt = runtime();
    let d = Detached::new("mon-hook");
    let mut bundle = Bundle::new(&["true"]);
    let hook = HookBuilder::default()
        .path("/bin/busybox")
        .args(vec![
            "busybox".to_string(),
            "sh".into(),
            "-c".into(),
            "echo noise from the hook".into(),
        ])
        .build()
        .unwrap();
    let hooks = HooksBuilder::default()
        .create_runtime(vec![hook])
        .build()
        .unwrap();
    bundle.edit(|s| {
        s.set_hooks(Some(hooks));
    });
    d.start(&rt, &bundle);
    let rec = monitor::wait_exit(d.exit(), Duration::from_secs(10)).unwrap();
    assert_eq!(rec.code, Some(0));
    let log = fs::read_to_string(d.dir.path().join("monitor.log")).unwrap();
    assert!(log.contains("noise from the hook"), "{log:?}");
}

// ---------------------------------------------------------------------------------------
// Detached containers through the Engine.

/// An engine in its own temp root with a busybox image; `reference` names the image.
struct EngineEnv {
    engine: cargohold::Engine,
    image: cargohold::Image,
    reference: String,
    root: tempfile::TempDir,
}

fn engine_env() -> EngineEnv {
    let root = tempfile::Builder::new()
        .prefix("cargohold-engine")
        .tempdir()
        .unwrap();
    let engine = cargohold::Engine::open(root.path()).unwrap();
    let src = tempfile::tempdir().unwrap();
    common::make_rootfs(src.path());
    let cfg = cargohold::oci_spec::image::ConfigBuilder::default()
        .cmd(vec!["/bin/sh".to_owned()])
        .env(vec!["PATH=/bin".to_owned()])
        .build()
        .unwrap();
    let reference = format!("busybox:{}", unique("det"));
    let image = engine
        .store()
        .import_dir(src.path(), &cfg, &reference.parse().unwrap())
        .unwrap();
    EngineEnv {
        engine,
        image,
        reference,
        root,
    }
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
        .engine
        .container(&e.image)
        .args(["sh", "-c", "echo one; echo two >&2; echo three; exit 3"])
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
    assert_eq!(info.state.status, cargohold::container::Status::Exited);
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
    let mut running = e
        .engine
        .container(&e.image)
        .args(["sleep", "30"])
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    assert!(running.try_wait().unwrap().is_none());
    let c = e.engine.containers().get(&id).unwrap();
    assert_eq!(c.status(), cargohold::container::Status::Running);
    assert_eq!(c.inspect().unwrap().state.pid, running.pid() as i32);
    let status = running.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(c.inspect().unwrap().state.exit_code, 137);
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // A forced remove of a running one.
    let running = e
        .engine
        .container(&e.image)
        .args(["sleep", "30"])
        .detach(true)
        .spawn()
        .unwrap();
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
    print_id_and_exit(run())
}

/// The end of a creator program: the id on stdout and exit 0, or the error on stderr and
/// exit 1.
fn print_id_and_exit(r: cargohold::Result<String>) -> ! {
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
    let out = Command::new("/proc/self/exe")
        .arg("--engine-creator")
        .arg(e.root.path())
        .arg(&e.reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    std::thread::sleep(Duration::from_millis(100));
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    let c = engine.containers().get(&id).unwrap();
    assert!(c.is_detached());
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, cargohold::container::Status::Running);
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
    assert_eq!(c.status(), cargohold::container::Status::Running);
    let status = c.stop(Duration::from_millis(300)).unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, cargohold::container::Status::Exited);
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
    let running = e
        .engine
        .container(&e.image)
        .args(["sh", "-c", "echo bye; exit 7"])
        .detach(true)
        .spawn()
        .unwrap();
    let id = running.id().to_owned();
    let _rm = RemoveOnDrop(&e.engine, id.clone());
    drop(running);
    let exit = e
        .engine
        .root()
        .join("containers")
        .join(&id)
        .join("exit.json");
    assert!(monitor::wait_exit(&exit, Duration::from_secs(10)).is_some());
    let engine = cargohold::Engine::open(e.root.path()).unwrap();
    assert!(common::mounts_with(&id).is_empty());
    let c = engine.containers().get(&id).unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(info.state.status, cargohold::container::Status::Exited);
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
    use cargohold::container::Status;
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
    let c = e
        .engine
        .container(&e.image)
        .args(["true"])
        .create()
        .unwrap();
    let id = c.id().to_owned();
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    // A start that fails (its bind source vanished) leaves it created, with the error.
    let src = tempfile::tempdir().unwrap();
    let c = e
        .engine
        .container(&e.image)
        .args(["true"])
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
        eprintln!("usage: --ephemeral-creator ROOT REFERENCE attached|detached");
        std::process::exit(2)
    };
    let run = || -> cargohold::Result<cargohold::RunningContainer> {
        let engine = cargohold::Engine::open(root)?;
        let image = engine.image(reference)?;
        engine
            .container(&image)
            .args(["sleep", "1000"])
            .detach(mode == "detached")
            .ephemeral(true)
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

/// An ephemeral container dies with the program that made it, even when that program is
/// killed with SIGKILL (attached: the parent-death signal; detached: its monitor watches
/// the program); the next `Engine::open` removes what is left.
fn engine_ephemeral_dies_with_its_owner() {
    use std::io::BufRead;
    let e = engine_env();
    for mode in ["attached", "detached"] {
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
        let (id, pid) = (id.to_owned(), pid.parse::<i32>().unwrap());
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
            .get(cargohold::container::CONFIG_HASH_LABEL)
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
        .engine
        .container(&e.image)
        .args(["sh", "-c", "tty; echo hi; echo there >&2"])
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
            .engine
            .container(&e.image)
            .args(["sh", "-c", "sleep 0.3"])
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
        let exit = c.path().join("exit.json");
        assert!(monitor::wait_exit(&exit, Duration::from_secs(10)).is_some());
        // nobody waited: the monitor detached it
        assert!(c.ports().unwrap().is_empty());
        assert!(e.engine.networks().sandbox(&id).unwrap().is_none());
        std::net::TcpListener::bind("0.0.0.0:18080").expect("the port is free again");
        c.wait().unwrap();
        c.remove(false).unwrap();
        assert_container_gone(&e, &id);

        // create on a network, start, stop, start again: attached each time
        let c = e
            .engine
            .container(&e.image)
            .name("netsvc")
            .network("bridge")
            .publish(18081, 80)
            .args(["sleep", "30"])
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
    print_id_and_exit(run())
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
            .engine
            .container(&e.image)
            .name("peer")
            .network("dnsnet")
            .network_alias("svc")
            .args(["sleep", "60"])
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
        let out = Command::new("/proc/self/exe")
            .arg("--dns-creator")
            .arg(e.root.path())
            .arg(&e.reference)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
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
            .engine
            .container(&e.image)
            .name("later")
            .network("dnsnet")
            .args(["sleep", "60"])
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

const TESTS: &[Test] = &[
    ("logs_and_exit_code", logs_and_exit_code),
    ("command_not_found", command_not_found),
    ("survives_its_creator", survives_its_creator),
    ("monitor_killed", monitor_killed),
    ("from_a_multithreaded_host", from_a_multithreaded_host),
    ("tail_since_follow", tail_since_follow),
    ("long_and_partial_lines", long_and_partial_lines),
    ("stdin_fifo", stdin_fifo),
    ("keep_stopped_and_restart", keep_stopped_and_restart),
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
    ("engine_create_start_restart", engine_create_start_restart),
    (
        "engine_ephemeral_dies_with_its_owner",
        engine_ephemeral_dies_with_its_owner,
    ),
    (
        "engine_reuse_by_name_and_config",
        engine_reuse_by_name_and_config,
    ),
    ("engine_detached_tty", engine_detached_tty),
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
];

/// `--restart on-failure:2` through the builder: the monitor runs a failing container three
/// times; a policy without detach, or with auto-remove, is refused before anything starts.
fn engine_restart_policy() {
    let e = engine_env();
    let policy: cargohold::RestartPolicy = "on-failure:2".parse().unwrap();
    let mut running = e
        .engine
        .container(&e.image)
        .args(["sh", "-c", "echo run; exit 1"])
        .detach(true)
        .restart(policy)
        .spawn()
        .unwrap();
    let _rm = RemoveOnDrop(&e.engine, running.id().to_owned());
    let id = running.id().to_owned();
    assert_eq!(running.wait().unwrap().code(), Some(1));
    let c = e.engine.containers().get(&id).unwrap();
    assert_eq!(
        log_text(&c, true, false),
        "run\nrun\nrun\n",
        "one run and two restarts"
    );
    c.remove(false).unwrap();
    assert_container_gone(&e, &id);

    let attached = e
        .engine
        .container(&e.image)
        .args(["true"])
        .restart(policy)
        .spawn();
    assert!(
        matches!(
            attached,
            Err(cargohold::Error::InvalidContainerConfig { .. })
        ),
        "{attached:?}"
    );
    let with_rm = e
        .engine
        .container(&e.image)
        .args(["true"])
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

/// `NotReady`'s fields, or a panic.
fn not_ready(r: cargohold::Result<()>) -> (String, String, Vec<String>, String) {
    match r {
        Err(
            ref e @ Error::NotReady {
                ref condition,
                ref reason,
                ref last_logs,
                ..
            },
        ) => (
            condition.clone(),
            reason.clone(),
            last_logs.clone(),
            e.to_string(),
        ),
        other => panic!("expected NotReady, got {other:?}"),
    }
}

/// Log-line waits on a detached container (its monitor's json-file log): a line printed
/// late, a line seen twice, one stream only; through the handle and the record. A TCP wait
/// through the record finds the init's network namespace from the monitor.
fn engine_ready_log_lines() {
    use cargohold::WaitFor;
    let e = engine_env();
    let running = e
        .engine
        .container(&e.image)
        .args([
            "sh",
            "-c",
            "echo starting; sleep 0.3; echo ready; sleep 0.2; echo ready >&2; \
             busybox ip link set lo up; exec busybox nc -l -p 8080",
        ])
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
        .engine
        .container(&e.image)
        .args([
            "sh",
            "-c",
            "for i in $(seq 1 30); do echo line $i; done; sleep 0.1; echo 'fatal: no config' >&2; \
             sleep 0.3; exit 2",
        ])
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
        .engine
        .container(&e.image)
        .args(["sh", "-c", "echo booting; exec sleep 100"])
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
    cargohold::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--creator") {
        creator(&args[1..]);
    }
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
    // Nothing of ours may outlive the suite.
    let leftovers = monitors_of(&format!("-{}-", std::process::id()));
    if !leftovers.is_empty() {
        failed += 1;
        println!("leftover monitors: {leftovers:?}");
    }
    let cgroups = common::cgroups_named(&format!("-{}-", std::process::id()));
    if !cgroups.is_empty() {
        failed += 1;
        println!("leftover cgroups: {cgroups:?}");
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
