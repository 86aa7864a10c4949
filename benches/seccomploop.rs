//! What Docker's default seccomp profile costs a container's lifecycle (issue 10): `true`
//! through `runtime::Runtime::run`, from a bundle whose `config.json` has
//! `linux.seccomp` = `seccomp_profile::default_profile(caps of the spec)`, against the same
//! bundle without `linux.seccomp` — interleaved in a seeded random order per iteration, so
//! both sides see the same machine. It also times the parts on their own: resolving the
//! profile, and compiling it to BPF.
//!
//! `engine` does the same one level up: the engine's lifecycle of `true` (attached,
//! `auto_remove`, as `docker run --rm busybox true`) with its default (Docker's default
//! profile) against `--security-opt seccomp=unconfined`.
//!
//! ```text
//! cargo bench --bench seccomploop -- run [-n 300] [--warmup 20]      (as root)
//! cargo bench --bench seccomploop -- engine [-n 300] [--warmup 20]   (as root)
//! ```
//! Bundles and the runtime root live under /run (tmpfs); everything is removed at the end.
//! Under plain `cargo bench` (no subcommand) it prints a note and exits.

#[path = "support.rs"]
mod support;
use support::*;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Instant;

use cargohold::oci_spec::runtime::{LinuxSeccomp, Spec};
use cargohold::runtime::seccomp_profile::default_profile;
use cargohold::runtime::{default_spec, CreateOptions, Runtime};
use cargohold::sys::seccomp::SeccompProgram;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "lifecycle of `true` with Docker's default seccomp profile vs without")]
struct Cli {
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true, global = true)]
    bench: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the comparison and print the table.
    Run {
        #[arg(short, long, default_value_t = 300)]
        n: usize,
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Seed of the per-iteration shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
    },
    /// The engine's `run --rm true`, default profile vs `seccomp=unconfined`.
    Engine {
        #[arg(short, long, default_value_t = 300)]
        n: usize,
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Seed of the per-iteration shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    let (n, warmup, seed) = match cli.cmd {
        Some(Cmd::Run { n, warmup, seed }) => (n, warmup, seed),
        Some(Cmd::Engine { n, warmup, seed }) => return engine(n, warmup, seed),
        None => {
            eprintln!("seccomploop: run `cargo bench --bench seccomploop -- run|engine` as root");
            return;
        }
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("seccomploop: needs root (namespaces, cgroups, mounts)");
        std::process::exit(2);
    }
    let dir = tempfile::Builder::new()
        .prefix("cargohold-seccomploop")
        .tempdir_in("/run")
        .expect("temp dir under /run");

    let mut spec = default_spec();
    let mut p = spec.process().clone().expect("default spec has a process");
    p.set_args(Some(vec!["/bin/true".to_owned()]));
    p.set_terminal(Some(false));
    spec.set_process(Some(p));
    let caps = bounding_caps(&spec);

    let plain = dir.path().join("unconfined");
    make_bundle(&plain, &spec);
    let mut linux = spec.linux().clone().expect("default spec has linux");
    linux.set_seccomp(Some(default_profile(&caps)));
    spec.set_linux(Some(linux));
    let confined = dir.path().join("default-profile");
    make_bundle(&confined, &spec);

    let rt = Runtime::open(dir.path().join("root")).expect("runtime root");
    let opts = CreateOptions::default();
    let bundles = [("unconfined", &plain), ("default-profile", &confined)];
    let mut samples = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut order = [0usize, 1];
    let mut rng = Rng(seed | 1);
    let pid = std::process::id();
    for i in 0..warmup + n {
        rng.shuffle(&mut order);
        for &s in &order {
            let (name, bundle) = bundles[s];
            let id = format!("scl-{pid}-{name}-{i}");
            let c0 = cpu_ms();
            let t0 = Instant::now();
            let r = rt.run(&id, bundle, &opts);
            let dt = t0.elapsed();
            let dc = cpu_ms() - c0;
            match r {
                Ok(exit) if exit.success() => {}
                other => {
                    let _ = rt.delete(&id, true);
                    panic!("{name} run {id}: {other:?}");
                }
            }
            if i >= warmup {
                samples[s].push(ms(dt));
                cpu[s].push(dc);
            }
        }
    }

    // The parts, in-process: resolving the table, and compiling the result; loading it in
    // a forked child.
    let mut resolve = Vec::new();
    let mut compile = Vec::new();
    let mut load = Vec::new();
    let mut load_small = Vec::new();
    let small: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
    }))
    .expect("small profile");
    let small = cargohold::runtime::seccomp::compile(&small).expect("small profile compiles");
    // What the runtime's state used to cost with the profile in it: state.json written
    // once (create) and parsed twice (start, delete; `run` parses it once), against the
    // same spec without `linux.seccomp` (what it holds now).
    let mut with_profile = Vec::new();
    let mut without_profile = Vec::new();
    let mut bare = spec.clone();
    if let Some(l) = bare.linux_mut() {
        l.set_seccomp(None);
    }
    let round_trip = |s: &Spec| {
        let t0 = Instant::now();
        let data = serde_json::to_vec(s).expect("spec serialises");
        for _ in 0..2 {
            let back: Spec = serde_json::from_slice(&data).expect("spec parses");
            std::hint::black_box(back);
        }
        ms(t0.elapsed())
    };
    let mut instructions = 0;
    for _ in 0..n {
        with_profile.push(round_trip(&spec));
        without_profile.push(round_trip(&bare));
        let t0 = Instant::now();
        let profile = default_profile(&caps);
        let t1 = Instant::now();
        let prog = cargohold::runtime::seccomp::compile(&profile).expect("compiles");
        let t2 = Instant::now();
        assert!(!prog.instructions().is_empty());
        resolve.push(ms(t1 - t0));
        compile.push(ms(t2 - t1));
        load.push(load_in_child(&prog));
        load_small.push(load_in_child(&small));
        instructions = prog.instructions().len();
    }

    println!("n={n} warmup={warmup} seed={seed:#x} (ms)");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>8}",
        "side", "median", "p90", "p99", "min"
    );
    let row = |name: &str, v: &[f64]| {
        let s = Stats::of(v).expect("samples");
        println!(
            "{name:<22} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            s.median, s.p90, s.p99, s.min
        );
        s
    };
    let a = row("unconfined", &samples[0]);
    let b = row("default-profile", &samples[1]);
    let ca = row("  unconfined, cpu", &cpu[0]);
    let cb = row("  default-profile, cpu", &cpu[1]);
    row("  resolve (in-process)", &resolve);
    row("  compile (in-process)", &compile);
    row("  load (forked child)", &load);
    row("  load, 1-rule filter", &load_small);
    row("  state w/ profile", &with_profile);
    row("  state w/o profile", &without_profile);
    println!(
        "default profile: {instructions} BPF instructions; 1-rule filter: {}",
        small.instructions().len()
    );
    println!(
        "added by the profile: median {:+.3} ms, p99 {:+.3} ms",
        b.median - a.median,
        b.p99 - a.p99
    );
    println!(
        "cpu time added (this process and its children): median {:+.3} ms",
        cb.median - ca.median
    );
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        println!("loadavg: {}", load.trim());
    }
}

/// CPU time (user + system) of this process and its reaped children so far, ms: less
/// sensitive than wall time to other work on a shared machine.
fn cpu_ms() -> f64 {
    let t = |who| {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
        // SAFETY: getrusage writes a rusage into the buffer we pass.
        assert_eq!(unsafe { libc::getrusage(who, ru.as_mut_ptr()) }, 0);
        // SAFETY: getrusage succeeded, so the struct is initialised.
        let ru = unsafe { ru.assume_init() };
        let tv = |v: libc::timeval| v.tv_sec as f64 * 1e3 + v.tv_usec as f64 / 1e3;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    t(libc::RUSAGE_SELF) + t(libc::RUSAGE_CHILDREN)
}

/// The engine's `run --rm true` with Docker's default profile and with
/// `seccomp=unconfined`, interleaved in a seeded random order.
fn engine(n: usize, warmup: usize, seed: u64) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("seccomploop: needs root (namespaces, cgroups, mounts)");
        std::process::exit(2);
    }
    let dir = tempfile::Builder::new()
        .prefix("cargohold-seccomploop-engine")
        .tempdir_in("/run")
        .expect("temp dir under /run");
    let rootfs = dir.path().join("src");
    make_rootfs(&rootfs);
    let engine = cargohold::Engine::open(dir.path().join("root")).expect("engine root");
    let config = cargohold::oci_spec::image::ConfigBuilder::default()
        .cmd(vec!["/bin/sh".to_owned()])
        .env(vec!["PATH=/bin".to_owned()])
        .build()
        .expect("image config");
    let image = engine
        .images()
        .import_dir(&rootfs, &config, &"busybox:seccomploop".parse().unwrap())
        .expect("importing busybox");
    let sides = ["default-profile", "unconfined"];
    let mut samples = [Vec::new(), Vec::new()];
    let mut cpu = [Vec::new(), Vec::new()];
    let mut order = [0usize, 1];
    let mut rng = Rng(seed | 1);
    for i in 0..warmup + n {
        rng.shuffle(&mut order);
        for &s in &order {
            let mut b = engine.container(&image);
            b.args(["true"])
                .auto_remove(true)
                .stdin(cargohold::Stdio::null());
            if s == 1 {
                b.security_opt("seccomp=unconfined");
            }
            let c0 = cpu_ms();
            let t0 = Instant::now();
            let status = b.status();
            let dt = t0.elapsed();
            let dc = cpu_ms() - c0;
            match status {
                Ok(st) if st.success() => {}
                other => panic!("{}: {other:?}", sides[s]),
            }
            if i >= warmup {
                samples[s].push(ms(dt));
                cpu[s].push(dc);
            }
        }
    }
    println!("engine run --rm true, n={n} warmup={warmup} seed={seed:#x} (ms)");
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>8}",
        "side", "median", "p90", "p99", "min"
    );
    let stats: Vec<Stats> = sides
        .iter()
        .zip(&samples)
        .map(|(name, v)| {
            let s = Stats::of(v).expect("samples");
            println!(
                "{name:<22} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                s.median, s.p90, s.p99, s.min
            );
            s
        })
        .collect();
    let cpu_stats: Vec<Stats> = ["default-profile, cpu", "unconfined, cpu"]
        .iter()
        .zip(&cpu)
        .map(|(name, v)| {
            let s = Stats::of(v).expect("samples");
            println!(
                "  {name:<20} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
                s.median, s.p90, s.p99, s.min
            );
            s
        })
        .collect();
    println!(
        "added by the profile: median {:+.3} ms, p99 {:+.3} ms; cpu time median {:+.3} ms",
        stats[0].median - stats[1].median,
        stats[0].p99 - stats[1].p99,
        cpu_stats[0].median - cpu_stats[1].median
    );
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        println!("loadavg: {}", load.trim());
    }
}

/// Milliseconds a forked child takes to set no_new_privs and load `prog`.
fn load_in_child(prog: &SeccompProgram) -> f64 {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    // SAFETY: the child only makes raw syscalls (clock_gettime, prctl, seccomp, write,
    // _exit) on memory that was set up before the fork.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        let now = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid timespec to write.
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
            ts.tv_sec * 1_000_000_000 + ts.tv_nsec
        };
        let t0 = now();
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
        let ok = prog.load().is_ok();
        let dt: i64 = if ok { now() - t0 } else { -1 };
        // SAFETY: writes the 8 bytes of `dt` to the pipe, then exits without unwinding.
        unsafe {
            libc::write(fds[1], (&dt as *const i64).cast(), 8);
            libc::_exit(0);
        }
    }
    // SAFETY: closing our copy of the write end; reading 8 bytes into `dt`; reaping the child.
    let dt = unsafe {
        libc::close(fds[1]);
        let mut dt = 0i64;
        let got = libc::read(fds[0], (&mut dt as *mut i64).cast(), 8);
        libc::close(fds[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        assert_eq!(got, 8, "child reported");
        dt
    };
    assert!(dt >= 0, "loading the filter failed");
    dt as f64 / 1e6
}

/// The spec's bounding capabilities as the spec spells them (`CAP_KILL`).
fn bounding_caps(spec: &Spec) -> Vec<String> {
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().clone())
        .and_then(|c| c.bounding().clone())
        .unwrap_or_default();
    caps.iter()
        .map(|c| {
            serde_json::to_value(c)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .expect("a capability serialises as a string")
        })
        .collect()
}

/// A busybox bundle at `dir` with `spec` as its config.json.
fn make_bundle(dir: &Path, spec: &Spec) {
    make_rootfs(&dir.join("rootfs"));
    let json = serde_json::to_vec_pretty(spec).expect("spec serialises");
    fs::write(dir.join("config.json"), json).expect("writing config.json");
}

/// A busybox rootfs at `root` with the applets `true` and `sh`.
fn make_rootfs(root: &Path) {
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "root"] {
        fs::create_dir_all(root.join(d)).expect("rootfs dirs");
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copying /bin/busybox");
    for a in ["true", "sh"] {
        symlink("busybox", root.join("bin").join(a)).expect("applet link");
    }
}
