//! Timing harness of the engine (issue 4's benchmark; a `[[bench]]` with `harness = false`,
//! driven by `benches/engine-compare.sh`). It calls `cargohold::init()` first: the scale
//! mode starts detached containers, whose monitor is this program re-executed.
//!
//! ```text
//! engineloop [COMMON] run [-n N] [--warmup W]
//!     `docker run --rm busybox true` through the public API, N times: the image looked up
//!     by reference, `engine.container(&image).args(["true"]).auto_remove(true)
//!     .stdin(Stdio::null()).status()` (stdout/stderr attached as docker run attaches them,
//!     stdin not, as without -i). One sample per line on stdout, in milliseconds; a summary
//!     on stderr.
//! engineloop [COMMON] scale [--count 100]
//!     `--count` detached `sleep 1000` containers started one by one (each start timed), the
//!     list timed at 10, 25, 50 and 100 containers, then each removed with force (timed);
//!     per-container start and remove times bucketed by the number of containers there are
//!     (1-10, 11-25, 26-50, 51-100), so that "time per container stays flat as the count
//!     grows" can be read off.
//! engineloop [COMMON] compare --out DIR [-n N] [--warmup W] [--side NAME=CMD]...
//!     N interleaved iterations (order shuffled per iteration) of the in-process `run` above
//!     and of each `--side` command as a whole process (CMD split on whitespace, `{id}`
//!     replaced by a fresh id per run), plus the bare spawn of a static busybox `true`; raw
//!     samples to DIR/NAME.ms, a table on stdout with ratios against the `--baseline`
//!     side's median (podman) and the issue's target: engine median <= 0.1x podman's.
//! engineloop --print-spec
//!     config.json of a busybox bundle running /bin/true (for crun).
//!
//! COMMON: --root DIR   the engine root (default: a fresh directory under /var/tmp, removed
//!                      at the end); every container in it is removed at the end
//!         --tmpfs      mount a tmpfs on that fresh root (the overlay mount is cheaper)
//!         --rootfs DIR the image's content (default: a busybox rootfs made like
//!                      tests/it/common's make_rootfs); imported with `Store::import_dir`
//!                      unless --image already names an image in the root
//!         --image REF  the image's reference (default localhost/busybox-bench:latest)
//! ```
//! Under `cargo bench` (the `--bench` argument and no subcommand) it prints a note and exits.

#[path = "../tests/it/common/mod.rs"]
#[allow(dead_code)]
mod common;

#[path = "support.rs"]
mod support;
use support::*;

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio as StdStdio};
use std::time::Instant;

use cargohold::{Engine, Stdio};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "cargohold engine timing harness (driven by benches/engine-compare.sh)")]
struct Cli {
    /// Print a busybox bundle's config.json (args /bin/true) and exit.
    #[arg(long)]
    print_spec: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Args)]
struct Common {
    /// Engine root (default: a fresh directory under /var/tmp, removed at the end).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Mount a tmpfs on the fresh engine root (ignored with --root).
    #[arg(long, global = true)]
    tmpfs: bool,
    /// The image's content (default: a busybox rootfs made for the run).
    #[arg(long, global = true)]
    rootfs: Option<PathBuf>,
    /// The image's reference.
    #[arg(long, global = true, default_value = "localhost/busybox-bench:latest")]
    image: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// `docker run --rm busybox true` through the API, one line of milliseconds per run.
    Run {
        #[arg(short, long, default_value_t = 200)]
        n: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
    },
    /// Start, list and remove many detached containers.
    Scale {
        #[arg(long, default_value_t = 100)]
        count: usize,
    },
    /// Interleaved side-by-side run.
    Compare {
        #[arg(short, long, default_value_t = 200)]
        n: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Directory for the raw samples.
        #[arg(long)]
        out: PathBuf,
        /// NAME=COMMAND, a side run as a whole process; `{id}` becomes a fresh id.
        #[arg(long = "side")]
        sides: Vec<String>,
        /// The side ratios are taken against.
        #[arg(long, default_value = "podman")]
        baseline: String,
        /// Seed of the per-iteration shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
    },
}

fn main() {
    cargohold::init();
    let cli = Cli::parse();
    if cli.print_spec {
        print_spec();
        return;
    }
    let Some(cmd) = cli.cmd else {
        eprintln!("engineloop: the engine timing harness; run benches/engine-compare.sh (or `engineloop run|scale|compare`)");
        return;
    };
    need_root();
    let bench = BenchEngine::open(&cli.common);
    let ok = match cmd {
        Cmd::Run { n, warmup } => run_loop(&bench, n, warmup),
        Cmd::Scale { count } => scale(&bench, count),
        Cmd::Compare {
            n,
            warmup,
            out,
            sides,
            baseline,
            seed,
        } => compare(&bench, n, warmup, &out, &sides, &baseline, seed),
    };
    drop(bench);
    if !ok {
        std::process::exit(1);
    }
}

fn need_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("engineloop: needs root (namespaces, cgroups, mounts)");
        std::process::exit(2);
    }
}

/// The bench spec for crun: `default_spec()` running `/bin/true` without a terminal.
fn print_spec() {
    let mut spec = cargohold::runtime::default_spec();
    let mut p = spec.process().clone().expect("default spec has a process");
    p.set_args(Some(vec!["/bin/true".to_owned()]));
    p.set_terminal(Some(false));
    spec.set_process(Some(p));
    // crun 1.8 refuses ociVersion 1.2.0; nothing in default_spec() is 1.2-only.
    spec.set_version("1.0.2".to_owned());
    println!(
        "{}",
        serde_json::to_string_pretty(&spec).expect("spec serialises")
    );
}

/// The engine under test, its image, and what to undo at the end.
struct BenchEngine {
    engine: Engine,
    reference: String,
    /// A root we made (removed at the end) and whether a tmpfs is mounted on it.
    owned: Option<(PathBuf, bool)>,
}

impl BenchEngine {
    fn open(c: &Common) -> BenchEngine {
        let owned = match &c.root {
            Some(_) => None,
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("cargohold-engineloop")
                    .tempdir_in("/var/tmp")
                    .expect("creating the engine root")
                    .keep();
                if c.tmpfs {
                    let st = Command::new("mount")
                        .args(["-t", "tmpfs", "cargohold-engineloop"])
                        .arg(&dir)
                        .status()
                        .expect("running mount");
                    assert!(st.success(), "mounting a tmpfs on {}", dir.display());
                }
                Some((dir, c.tmpfs))
            }
        };
        let root = c
            .root
            .clone()
            .unwrap_or_else(|| owned.as_ref().unwrap().0.clone());
        let engine = Engine::open(&root)
            .unwrap_or_else(|e| panic!("opening the engine at {}: {e}", root.display()));
        if engine.image(&c.image).is_err() {
            common::import_rootfs(&engine, c.rootfs.as_deref(), &c.image);
        }
        BenchEngine {
            engine,
            reference: c.image.clone(),
            owned,
        }
    }

    /// `docker run --rm IMAGE true`: the image resolved by reference, the container run
    /// attached (stdout/stderr inherited, stdin not attached) and removed. What
    /// `ContainerBuilder::status` does, spelled out to learn the container's id (for the
    /// leak check).
    fn run_rm_true(&self) -> cargohold::Result<(cargohold::ExitStatus, String)> {
        let image = self.engine.image(&self.reference)?;
        let mut b = self.engine.container(&image);
        b.args(["true"]).auto_remove(true).stdin(Stdio::null());
        // ENGINE_SECCOMP=unconfined: the engine side without Docker's default profile, to
        // tell the profile's cost from the rest (`--security-opt seccomp=unconfined`).
        if std::env::var("ENGINE_SECCOMP").as_deref() == Ok("unconfined") {
            b.seccomp(cargohold::SeccompProfile::Unconfined);
        }
        let mut c = b.spawn()?;
        c.kill_on_drop(true);
        let id = c.id().to_owned();
        Ok((c.wait()?, id))
    }
}

/// Whether no cgroup or mount of one of `ids` (containers this harness ran and removed)
/// is left; says which on stderr.
#[must_use]
fn leak_check(ids: &[String]) -> bool {
    let ids: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let ours = |name: &str| {
        name.split(|c: char| !c.is_ascii_hexdigit())
            .any(|w| w.len() == 64 && ids.contains(w))
    };
    let cgroups: Vec<PathBuf> = common::cgroups_named("cargohold-")
        .into_iter()
        .filter(|p| ours(&p.to_string_lossy()))
        .collect();
    let mounts: Vec<String> = common::mounts_with("/containers/")
        .into_iter()
        .filter(|m| ours(m))
        .collect();
    if !cgroups.is_empty() || !mounts.is_empty() {
        eprintln!("engineloop: LEAK of removed containers: cgroups {cgroups:?}, mounts {mounts:?}");
        return false;
    }
    eprintln!(
        "engineloop: no cgroup or mount of the {} containers run is left",
        ids.len()
    );
    true
}

impl Drop for BenchEngine {
    fn drop(&mut self) {
        // Whatever a failed run left: every container in the root is the bench's.
        if let Ok(all) = self.engine.containers().list() {
            for c in all {
                let id = c.id().to_owned();
                if let Err(e) = c.remove(true) {
                    eprintln!("engineloop: removing leftover container {id}: {e}");
                }
            }
        }
        if let Some((dir, tmpfs)) = &self.owned {
            if *tmpfs {
                let _ = Command::new("umount").arg(dir).status();
            }
            if let Err(e) = fs::remove_dir_all(dir) {
                eprintln!("engineloop: removing {}: {e}", dir.display());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Mode A: run --rm true.

fn run_loop(bench: &BenchEngine, n: usize, warmup: usize) -> bool {
    let mut out = std::io::stdout().lock();
    let mut samples = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(warmup + n);
    for i in 0..warmup + n {
        let t0 = Instant::now();
        let r = bench.run_rm_true();
        let dt = t0.elapsed();
        match r {
            Ok((st, id)) if st.success() => ids.push(id),
            other => panic!("run {i}: {other:?}"),
        }
        if i >= warmup {
            writeln!(out, "{:.3}", ms(dt)).unwrap();
            samples.push(ms(dt));
        }
    }
    drop(out);
    if let Some(s) = Stats::of(&samples) {
        eprintln!(
            "engine run --rm true, {n} runs (ms): min {:.3} median {:.3} p90 {:.3} p99 {:.3} max {:.3} mean {:.3}",
            s.min, s.median, s.p90, s.p99, s.max, s.mean
        );
    }
    leak_check(&ids)
}

// ---------------------------------------------------------------------------------------
// Mode B: scale.

const BUCKETS: &[(usize, usize)] = &[(1, 10), (11, 25), (26, 50), (51, 100)];
const LIST_AT: &[usize] = &[10, 25, 50, 100];
/// List calls per measuring point (the median is reported).
const LIST_REPS: usize = 5;

fn scale(bench: &BenchEngine, count: usize) -> bool {
    let e = &bench.engine;
    let pid = std::process::id();
    let mut ids = Vec::with_capacity(count);
    // (containers there are once started, ms)
    let mut starts = Vec::with_capacity(count);
    let mut lists = Vec::new();
    eprintln!("== starting {count} detached `sleep 1000` containers");
    for i in 1..=count {
        let name = format!("eloop-{pid}-{i}");
        let t0 = Instant::now();
        let image = e.image(&bench.reference).expect("image");
        let c = e
            .container(&image)
            .name(&name)
            .args(["sleep", "1000"])
            .detach(true)
            .spawn()
            .unwrap_or_else(|err| panic!("starting container {i}: {err}"));
        let dt = t0.elapsed();
        ids.push(c.id().to_owned());
        drop(c);
        starts.push((i, ms(dt)));
        if LIST_AT.contains(&i) || i == count {
            let mut v = Vec::new();
            for _ in 0..LIST_REPS {
                let t0 = Instant::now();
                let all = e.containers().list().expect("list");
                v.push(ms(t0.elapsed()));
                assert_eq!(all.len(), i, "list sees every container");
            }
            let running = e
                .containers()
                .list()
                .expect("list")
                .iter()
                .filter(|c| c.status() == cargohold::Status::Running)
                .count();
            assert_eq!(running, i, "every container is running at {i}");
            lists.push((i, Stats::of(&v).unwrap().median));
        }
    }
    eprintln!("== removing them (force), newest first");
    // Newest first, so that the count there is goes down 100 -> 1 as it went up.
    let mut removes = Vec::with_capacity(count);
    for (k, id) in ids.iter().enumerate().rev() {
        let there = k + 1;
        let t0 = Instant::now();
        e.containers()
            .get(id)
            .and_then(|c| c.remove(true))
            .unwrap_or_else(|err| panic!("removing container {there}: {err}"));
        removes.push((there, ms(t0.elapsed())));
    }
    assert!(
        e.containers().list().expect("list").is_empty(),
        "every container removed"
    );
    let clean = leak_check(&ids);

    println!();
    println!(
        "{:<9} {:>4} {:>10} {:>10} {:>10} {:>10}",
        "count", "n", "start med", "start p99", "rm med", "rm p99"
    );
    for &(lo, hi) in BUCKETS.iter().filter(|(lo, _)| *lo <= count) {
        let pick = |v: &[(usize, f64)]| -> Vec<f64> {
            v.iter()
                .filter(|(c, _)| (lo..=hi).contains(c))
                .map(|&(_, t)| t)
                .collect()
        };
        let (s, r) = (pick(&starts), pick(&removes));
        let (Some(ss), Some(rs)) = (Stats::of(&s), Stats::of(&r)) else {
            continue;
        };
        println!(
            "{:<9} {:>4} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            format!("{lo}-{hi}"),
            s.len(),
            ss.median,
            ss.p99,
            rs.median,
            rs.p99
        );
    }
    println!();
    println!("{:<9} {:>10} {:>14}", "list at", "ms", "us/container");
    for (n, t) in &lists {
        println!("{n:<9} {t:>10.3} {:>14.1}", t * 1e3 / *n as f64);
    }
    println!("(milliseconds; start = image lookup + detached spawn of `sleep 1000`; rm = get + remove(force); list = median of {LIST_REPS} containers().list() calls)");
    clean
}

// ---------------------------------------------------------------------------------------
// Compare.

struct Side {
    name: String,
    samples: Vec<f64>,
    failures: usize,
    kind: Kind,
}

enum Kind {
    /// In-process: `BenchEngine::run_rm_true`.
    Engine,
    /// A whole process; `{id}` in an argument is replaced by a fresh id.
    Process(Vec<String>),
    /// The bare cost of spawning and reaping a static `true` from this harness.
    Bare(PathBuf),
}

#[allow(clippy::too_many_arguments)]
fn compare(
    bench: &BenchEngine,
    n: usize,
    warmup: usize,
    out: &Path,
    specs: &[String],
    baseline: &str,
    seed: u64,
) -> bool {
    fs::create_dir_all(out).expect("creating the output dir");
    let mut sides = vec![Side {
        name: "engine".into(),
        samples: Vec::new(),
        failures: 0,
        kind: Kind::Engine,
    }];
    for s in specs {
        let Some((name, cmd)) = s.split_once('=') else {
            eprintln!("engineloop: --side {s:?}: expected NAME=COMMAND");
            std::process::exit(2);
        };
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        assert!(!argv.is_empty(), "--side {name}: empty command");
        sides.push(Side {
            name: name.to_owned(),
            samples: Vec::new(),
            failures: 0,
            kind: Kind::Process(argv),
        });
    }
    sides.push(Side {
        name: "bare-true".into(),
        samples: Vec::new(),
        failures: 0,
        kind: Kind::Bare(PathBuf::from(common::BUSYBOX)),
    });

    let pid = std::process::id();
    let mut ids = Vec::new();
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..sides.len()).collect();
    for i in 0..warmup + n {
        rng.shuffle(&mut order);
        for &s in &order {
            let side = &mut sides[s];
            let (ok, dt) = match &side.kind {
                Kind::Engine => {
                    let t0 = Instant::now();
                    let r = bench.run_rm_true();
                    let dt = t0.elapsed();
                    let ok = matches!(&r, Ok((st, _)) if st.success());
                    match r {
                        Ok((_, id)) => ids.push(id),
                        Err(e) => eprintln!("engine run {i}: {e}"),
                    }
                    if !ok {
                        eprintln!("engine run {i} failed");
                    }
                    (ok, dt)
                }
                Kind::Process(argv) => {
                    let id = format!("ebc-{pid}-{}-{i}", side.name);
                    let mut cmd = Command::new(&argv[0]);
                    cmd.args(argv[1..].iter().map(|a| a.replace("{id}", &id)))
                        .stdin(StdStdio::null());
                    let t0 = Instant::now();
                    let st = cmd.status();
                    let dt = t0.elapsed();
                    let ok = matches!(&st, Ok(s) if s.success());
                    if !ok {
                        eprintln!("{} run {i}: {st:?}", side.name);
                    }
                    (ok, dt)
                }
                Kind::Bare(busybox) => {
                    let mut cmd = Command::new(busybox);
                    cmd.arg("true").stdin(StdStdio::null());
                    let t0 = Instant::now();
                    let st = cmd.status();
                    (matches!(st, Ok(s) if s.success()), t0.elapsed())
                }
            };
            if !ok {
                side.failures += 1;
            } else if i >= warmup {
                side.samples.push(ms(dt));
            }
        }
        if (i + 1) % 50 == 0 {
            eprintln!("   {} / {} iterations", i + 1, warmup + n);
        }
    }

    for s in &sides {
        let path = out.join(format!("{}.ms", s.name));
        let mut f = fs::File::create(&path).expect("writing samples");
        for v in &s.samples {
            writeln!(f, "{v:.3}").unwrap();
        }
    }
    report(&sides, n, baseline);
    leak_check(&ids) && sides.iter().all(|s| s.failures == 0)
}

fn report(sides: &[Side], n: usize, baseline: &str) {
    let get = |name: &str| {
        sides
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| Stats::of(&s.samples))
    };
    let base = get(baseline);
    println!();
    println!(
        "{:<11} {:>5} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "side",
        "n",
        "fail",
        "min",
        "median",
        "p90",
        "p99",
        "max",
        "mean",
        format!("/{baseline}")
    );
    for s in sides {
        let Some(st) = Stats::of(&s.samples) else {
            println!("{:<11} {:>5} {:>4}  (no samples)", s.name, 0, s.failures);
            continue;
        };
        let ratio = match &base {
            Some(b) => format!("{:.3}x", st.median / b.median),
            None => "-".into(),
        };
        println!(
            "{:<11} {:>5} {:>4} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>10}",
            s.name,
            s.samples.len(),
            s.failures,
            st.min,
            st.median,
            st.p90,
            st.p99,
            st.max,
            st.mean,
            ratio
        );
    }
    println!(
        "(milliseconds, {n} interleaved iterations per side; ratios against {baseline}'s median)"
    );
    println!();
    match (get("engine"), &base) {
        (Some(e), Some(b)) => println!(
            "target engine median <= 0.1x {baseline} median: {:.3} ms vs {:.3} ms ({:.3}x)  {}",
            e.median,
            0.1 * b.median,
            e.median / b.median,
            if e.median <= 0.1 * b.median {
                "PASS"
            } else {
                "MISS"
            }
        ),
        _ => println!("target engine median <= 0.1x {baseline} median: not measured"),
    }
}
