//! Timing harness for `benches/compare.sh` (a `[[bench]]` with `harness = false`, so it is
//! built in release mode with the crate's dev-dependencies and is not a public example).
//!
//! ```text
//! libloop --print-spec                      config.json for the bench bundle (default_spec,
//!                                           args ["/bin/true"], terminal false)
//! libloop loop --bundle B [-n N] [--steps]  N lifecycles through the library, one line of
//!                                           nanoseconds per iteration (--steps: create, start,
//!                                           wait, delete columns)
//! libloop compare --bundle B --out DIR ...  N interleaved iterations of every side (library
//!                                           in-process, our CLI, crun, runc, a bare process),
//!                                           raw samples to DIR/*.ns, the table on stdout
//! ```
//! Under `cargo bench` (the `--bench` argument and no subcommand) it prints a note and exits:
//! the criterion benches are in `lifecycle.rs`.

#[path = "support.rs"]
mod support;
use support::*;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use cargohold::runtime::{default_spec, CreateOptions, Runtime};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "cargohold lifecycle timing harness (driven by benches/compare.sh)")]
struct Cli {
    /// Print the bench bundle's config.json and exit.
    #[arg(long)]
    print_spec: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Loop the library lifecycle and print nanoseconds per iteration.
    Loop {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(short, long, default_value_t = 200)]
        n: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Runtime root (default: a fresh directory under /run).
        #[arg(long)]
        root: Option<PathBuf>,
        /// create → start → wait → delete as separate calls, timed per step.
        #[arg(long)]
        steps: bool,
    },
    /// Interleaved side-by-side run.
    Compare {
        #[arg(long)]
        bundle: PathBuf,
        #[arg(short, long, default_value_t = 200)]
        n: usize,
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Directory for roots and raw samples.
        #[arg(long)]
        out: PathBuf,
        /// Our runc-compatible CLI (examples/runtime); omitted: not measured.
        #[arg(long)]
        cli: Option<PathBuf>,
        #[arg(long)]
        crun: Option<PathBuf>,
        #[arg(long)]
        runc: Option<PathBuf>,
        /// Seed of the per-iteration shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    if cli.print_spec {
        print_spec();
        return;
    }
    match cli.cmd {
        None => {
            eprintln!("libloop: the timing harness of benches/compare.sh; run that script (criterion benches: lifecycle)");
        }
        Some(Cmd::Loop {
            bundle,
            n,
            warmup,
            root,
            steps,
        }) => {
            need_root();
            let (rt, _guard) = runtime(root);
            lib_loop(&rt, &bundle, n, warmup, steps);
        }
        Some(Cmd::Compare {
            bundle,
            n,
            warmup,
            out,
            cli,
            crun,
            runc,
            seed,
        }) => {
            need_root();
            compare(&bundle, n, warmup, &out, cli, crun, runc, seed);
        }
    }
}

fn need_root() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("libloop: needs root (namespaces, cgroups, mounts)");
        std::process::exit(2);
    }
}

/// The bench spec: `default_spec()` running `/bin/true` without a terminal; the root stays
/// read-only as `runc spec` has it.
fn print_spec() {
    let mut spec = default_spec();
    let mut p = spec.process().clone().expect("default spec has a process");
    p.set_args(Some(vec!["/bin/true".to_owned()]));
    p.set_terminal(Some(false));
    spec.set_process(Some(p));
    // crun 1.8 refuses ociVersion 1.2.0 ("unknown version specified"); the bundle is
    // shared by every side, so it says 1.0.2 (what `runc spec` writes). Nothing else in
    // default_spec() is 1.2-only.
    spec.set_version("1.0.2".to_owned());
    let json = serde_json::to_string_pretty(&spec).expect("spec serialises");
    println!("{json}");
}

/// Removes a runtime root we created when dropped.
struct RootGuard(Option<PathBuf>);
impl Drop for RootGuard {
    fn drop(&mut self) {
        if let Some(d) = &self.0 {
            let _ = fs::remove_dir_all(d);
        }
    }
}

fn runtime(root: Option<PathBuf>) -> (Runtime, RootGuard) {
    let (root, guard) = match root {
        Some(r) => (r, RootGuard(None)),
        None => {
            let r = PathBuf::from(format!("/run/cargohold-libloop-{}", std::process::id()));
            (r.clone(), RootGuard(Some(r)))
        }
    };
    (Runtime::open(&root).expect("opening runtime root"), guard)
}

fn lib_loop(rt: &Runtime, bundle: &Path, n: usize, warmup: usize, steps: bool) {
    let opts = CreateOptions::default();
    let pid = std::process::id();
    let mut out = std::io::stdout().lock();
    for i in 0..warmup + n {
        let id = format!("chb-{pid}-l{i}");
        if steps {
            let t0 = Instant::now();
            let c = rt.create(&id, bundle, &opts).expect("create");
            let t1 = Instant::now();
            rt.start(&id).expect("start");
            let t2 = Instant::now();
            let st = c.wait().expect("wait");
            let t3 = Instant::now();
            rt.delete(&id, false).expect("delete");
            let t4 = Instant::now();
            assert!(st.success(), "/bin/true failed: {st:?}");
            if i >= warmup {
                let ns = |a: Instant, b: Instant| (b - a).as_nanos();
                writeln!(
                    out,
                    "{} {} {} {} {}",
                    ns(t0, t4),
                    ns(t0, t1),
                    ns(t1, t2),
                    ns(t2, t3),
                    ns(t3, t4)
                )
                .unwrap();
            }
        } else {
            let t0 = Instant::now();
            let r = rt.run(&id, bundle, &opts);
            let dt = t0.elapsed().as_nanos();
            match r {
                Ok(st) if st.success() => {}
                other => {
                    let _ = rt.delete(&id, true);
                    panic!("run {id}: {other:?}");
                }
            }
            if i >= warmup {
                writeln!(out, "{dt}").unwrap();
            }
        }
    }
}

/// One side of the comparison.
struct Side {
    name: &'static str,
    samples: Vec<u64>,
    failures: usize,
    kind: Kind,
}

enum Kind {
    Lib(Runtime),
    /// A runc-compatible binary: `BIN --root ROOT run --bundle B ID`.
    Process {
        bin: PathBuf,
        root: PathBuf,
    },
    /// The bare cost of spawning and reaping a static `/bin/true` from this harness.
    Bare,
}

#[allow(clippy::too_many_arguments)]
fn compare(
    bundle: &Path,
    n: usize,
    warmup: usize,
    out: &Path,
    cli: Option<PathBuf>,
    crun: Option<PathBuf>,
    runc: Option<PathBuf>,
    seed: u64,
) {
    fs::create_dir_all(out).expect("creating output dir");
    let roots = out.join("roots");
    let mk = |name: &str| {
        let r = roots.join(name);
        fs::create_dir_all(&r).expect("creating root");
        r
    };
    let mut sides = vec![Side {
        name: "library",
        samples: Vec::new(),
        failures: 0,
        kind: Kind::Lib(Runtime::open(mk("lib")).expect("opening runtime root")),
    }];
    for (name, bin) in [("cli", cli), ("crun", crun), ("runc", runc)] {
        if let Some(bin) = bin {
            sides.push(Side {
                name,
                samples: Vec::new(),
                failures: 0,
                kind: Kind::Process {
                    bin,
                    root: mk(name),
                },
            });
        }
    }
    sides.push(Side {
        name: "bare-true",
        samples: Vec::new(),
        failures: 0,
        kind: Kind::Bare,
    });

    let pid = std::process::id();
    let opts = CreateOptions::default();
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..sides.len()).collect();
    let bare = bundle.join("rootfs/bin/busybox");
    for i in 0..warmup + n {
        rng.shuffle(&mut order);
        for &s in &order {
            let side = &mut sides[s];
            let id = format!("chb-{pid}-{}-{i}", side.name);
            let (ok, dt) = match &side.kind {
                Kind::Lib(rt) => {
                    let t0 = Instant::now();
                    let r = rt.run(&id, bundle, &opts);
                    let dt = t0.elapsed();
                    let ok = matches!(&r, Ok(st) if st.success());
                    if !ok {
                        eprintln!("library run {id}: {r:?}");
                        let _ = rt.delete(&id, true);
                    }
                    (ok, dt)
                }
                Kind::Process { bin, root } => {
                    let mut cmd = Command::new(bin);
                    cmd.arg("--root")
                        .arg(root)
                        .arg("run")
                        .arg("--bundle")
                        .arg(bundle)
                        .arg(&id)
                        .stdin(Stdio::null());
                    let t0 = Instant::now();
                    let st = cmd.status();
                    let dt = t0.elapsed();
                    let ok = matches!(&st, Ok(s) if s.success());
                    if !ok {
                        eprintln!("{} run {id}: {st:?}", side.name);
                        let _ = Command::new(bin)
                            .arg("--root")
                            .arg(root)
                            .args(["delete", "-f", &id])
                            .stdin(Stdio::null())
                            .stderr(Stdio::null())
                            .status();
                    }
                    (ok, dt)
                }
                Kind::Bare => {
                    let mut cmd = Command::new(&bare);
                    cmd.arg("true").stdin(Stdio::null());
                    let t0 = Instant::now();
                    let st = cmd.status();
                    (matches!(st, Ok(s) if s.success()), t0.elapsed())
                }
            };
            if !ok {
                side.failures += 1;
            } else if i >= warmup {
                side.samples.push(dt.as_nanos() as u64);
            }
        }
    }

    // Raw samples, one file per side.
    for s in &sides {
        let mut f = fs::File::create(out.join(format!("{}.ns", s.name))).expect("writing samples");
        for v in &s.samples {
            writeln!(f, "{v}").unwrap();
        }
    }
    report(&sides, n);
}

/// Statistics of nanosecond samples, in milliseconds.
fn stats(samples: &[u64]) -> Option<Stats> {
    let ms: Vec<f64> = samples.iter().map(|&x| x as f64 / 1e6).collect();
    Stats::of(&ms)
}

fn report(sides: &[Side], n: usize) {
    let crun = sides
        .iter()
        .find(|s| s.name == "crun")
        .and_then(|s| stats(&s.samples));
    println!();
    println!(
        "{:<10} {:>5} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "side", "n", "fail", "min", "median", "p90", "p99", "max", "mean", "med/crun", "p99/crun"
    );
    for s in sides {
        let Some(st) = stats(&s.samples) else {
            println!("{:<10} {:>5} {:>4}  (no samples)", s.name, 0, s.failures);
            continue;
        };
        let ratio = |x: f64| match &crun {
            Some(c) => format!("{:.2}x", x / c.median),
            None => "-".into(),
        };
        println!(
            "{:<10} {:>5} {:>4} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9} {:>9}",
            s.name,
            s.samples.len(),
            s.failures,
            st.min,
            st.median,
            st.p90,
            st.p99,
            st.max,
            st.mean,
            ratio(st.median),
            ratio(st.p99)
        );
    }
    println!("(milliseconds, {n} interleaved iterations per side; ratios against crun's median)");
    println!();
    let get = |name: &str| {
        sides
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| stats(&s.samples))
    };
    let Some(c) = crun else {
        println!("targets: crun not measured, no verdicts");
        return;
    };
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    // Issue 11's targets: library <= 0.3x crun, CLI <= 0.5x, the p99 of both under crun's
    // median.
    for (side, label, ratio) in [("library", "library", 0.3), ("cli", "CLI    ", 0.5)] {
        let Some(x) = get(side) else {
            println!("target {label} median <= {ratio}x crun median: not measured  SKIP");
            continue;
        };
        println!(
            "target {label} median <= {ratio}x crun median:  {:.3} ms vs {:.3} ms ({:.2}x)  {}",
            x.median,
            ratio * c.median,
            x.median / c.median,
            verdict(x.median <= ratio * c.median)
        );
        println!(
            "target {label} p99 < crun median:            {:.3} ms vs {:.3} ms  {}",
            x.p99,
            c.median,
            verdict(x.p99 < c.median)
        );
    }
}
