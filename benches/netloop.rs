//! Network benchmark of the engine (issue 5's "Performance"; a `[[bench]]` with
//! `harness = false`, driven by `benches/net-compare.sh`). It calls `cargohold::init()`
//! first, then moves its main thread into a network namespace of its own (loopback up)
//! before anything else: every bridge, veth, address, route and firewall rule the engine
//! (or podman, which it spawns and so runs in the same namespace) makes is made there, the
//! machine's real interfaces are never touched and no packet leaves the machine. The
//! namespace goes away with the process.
//!
//! ```text
//! netloop [COMMON] latency [-n N] [--warmup W] [--out DIR]
//!     `docker run --rm busybox true` with bridge networking and without (`none`), through
//!     the public API: the image looked up by reference, then
//!     `engine.container(&image).network("bridge"|"none").args(["true"]).auto_remove(true)
//!     .stdin(Stdio::null())` spawned and waited for; with --podman also
//!     `podman run --rm --network bridge|none ... true` as whole processes. N interleaved
//!     iterations (order shuffled per iteration); median/p90/p99 per side, the bridge −
//!     none differences, and the target: the engine's bridge adds at most 25 ms.
//! netloop [COMMON] throughput [--bytes B] [--reps R] [--warmup W]
//!     B bytes (default 1 GiB) sent over TCP by this program, received by the same
//!     `busybox nc -ll -p PORT -e busybox sh -c 'busybox dd of=/dev/null bs=1M ...'`
//!     (it answers with the byte count dd saw) running (a) on the host itself (loopback,
//!     no container), (b) in an engine container on `bridge` reached through a published
//!     port on 127.0.0.1 (DNAT) and (c) directly at its bridge address; with --podman the
//!     same through podman's published port and address; plus a Rust receiver on loopback
//!     (the ceiling). R interleaved repetitions; MB/s (10^6 bytes/s) and ratios against
//!     (a), "the same transfer without the container".
//!
//! COMMON: --root DIR     the engine root (default: a fresh directory under /var/tmp,
//!                        removed at the end); every container in it is removed at the end
//!         --rootfs DIR   the image's content (default: a busybox rootfs made like
//!                        tests/it/common's make_rootfs); imported with `Store::import_dir`
//!         --image REF    the image's reference (default localhost/busybox-netbench:latest)
//!         --podman CMD   podman and its global options (split on whitespace), e.g.
//!                        "podman --root R --runroot RR --cgroup-manager cgroupfs"; the
//!                        image REF must be in that storage (`podman import`)
//!         --podman-run-args ARGS   extra `podman run` options (split on whitespace)
//! ```
//! It exits 1 if a run failed or if anything of the engine's is left afterwards (a
//! container's cgroup or mount, a link other than `lo`, the `ip cargohold` nft table).
//! Under `cargo bench` (the `--bench` argument and no subcommand) it prints a note and exits.

#[path = "../tests/it/common/mod.rs"]
#[allow(dead_code)]
mod common;

#[path = "support.rs"]
mod support;
use support::*;

use std::collections::HashSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio as StdStdio};
use std::time::{Duration, Instant};

use cargohold::sys::netlink::Netlink;
use cargohold::{Engine, Stdio};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "cargohold network benchmark (driven by benches/net-compare.sh)")]
struct Cli {
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
    /// The image's content (default: a busybox rootfs made for the run).
    #[arg(long, global = true)]
    rootfs: Option<PathBuf>,
    /// The image's reference (in the engine, and in podman's storage with --podman).
    #[arg(
        long,
        global = true,
        default_value = "localhost/busybox-netbench:latest"
    )]
    image: String,
    /// podman and its global options, split on whitespace.
    #[arg(long, global = true)]
    podman: Option<String>,
    /// Extra `podman run` options, split on whitespace.
    #[arg(long, global = true, default_value = "", allow_hyphen_values = true)]
    podman_run_args: String,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start latency of `run --rm true`, bridge vs none (and podman's).
    Latency {
        #[arg(short, long, default_value_t = 100)]
        n: usize,
        #[arg(long, default_value_t = 5)]
        warmup: usize,
        /// Directory for the raw samples (NAME.ms, one per line).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Seed of the per-iteration shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
        /// Keep each bridge up during the run with a detached `sleep` container on it (the
        /// engine's and podman's), as Docker's docker0 always is: otherwise both remove
        /// the bridge (and its firewall rules) when its last container goes and make it
        /// again for the next.
        #[arg(long)]
        keep_bridge: bool,
    },
    /// TCP throughput through a published port vs loopback without a container.
    Throughput {
        /// Bytes per transfer.
        #[arg(long, default_value_t = 1 << 30)]
        bytes: u64,
        #[arg(long, default_value_t = 5)]
        reps: usize,
        #[arg(long, default_value_t = 1)]
        warmup: usize,
        /// Seed of the per-repetition shuffle.
        #[arg(long, default_value_t = 0x9e37_79b9_7f4a_7c15)]
        seed: u64,
    },
}

fn main() {
    cargohold::init();
    let cli = Cli::parse();
    let Some(cmd) = cli.cmd else {
        eprintln!("netloop: the network benchmark; run benches/net-compare.sh (or `netloop latency|throughput`)");
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("netloop: needs root (namespaces, cgroups, mounts, links)");
        std::process::exit(2);
    }
    enter_private_netns();
    let bench = BenchEngine::open(&cli.common);
    let ok = match cmd {
        Cmd::Latency {
            n,
            warmup,
            out,
            seed,
            keep_bridge,
        } => latency(&bench, n, warmup, out.as_deref(), seed, keep_bridge),
        Cmd::Throughput {
            bytes,
            reps,
            warmup,
            seed,
        } => throughput(&bench, bytes, reps, warmup, seed),
    };
    let ids = bench.ids.take();
    // Bridges are kept while their network exists (as docker0): take the idle ones down
    // before checking that the namespace is as it was.
    if let Err(e) = bench.engine.networks().release_idle() {
        eprintln!("netloop: releasing idle bridges: {e}");
    }
    drop(bench);
    let no_leak = leak_check(&ids);
    let clean_netns = netns_check();
    if !(ok && no_leak && clean_netns) {
        std::process::exit(1);
    }
}

/// Moves the main thread (and so every thread and process it starts from now on) into a
/// fresh network namespace with only `lo`, up. Aborts if the namespace is not new.
fn enter_private_netns() {
    let before = fs::read_link("/proc/thread-self/ns/net").expect("reading our netns");
    cargohold::sys::raw::unshare(libc::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
    let after = fs::read_link("/proc/thread-self/ns/net").expect("reading our netns");
    assert_ne!(before, after, "unshare(CLONE_NEWNET) left us in {before:?}");
    let mut nl = Netlink::open().expect("netlink");
    let names = link_names();
    assert_eq!(names, ["lo"], "a new network namespace has only lo");
    let lo = nl.link("lo").expect("netlink").expect("lo");
    nl.set_up(lo.index).expect("bringing lo up");
    eprintln!("netloop: in a network namespace of its own ({after:?}), lo up");
}

fn link_names() -> Vec<String> {
    let mut v: Vec<String> = Netlink::open()
        .and_then(|mut nl| nl.links())
        .expect("listing links")
        .into_iter()
        .map(|l| l.name)
        .collect();
    v.sort();
    v
}

/// After the run, in our namespace: only `lo`, and no nft table of the engine's.
#[must_use]
fn netns_check() -> bool {
    let links = link_names();
    let table = Command::new("nft")
        .args(["list", "table", "ip", "cargohold"])
        .stdout(StdStdio::null())
        .stderr(StdStdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if links != ["lo"] || table {
        eprintln!("netloop: LEFT in the namespace: links {links:?}, table ip cargohold: {table}");
        return false;
    }
    eprintln!("netloop: the namespace has only lo again and no `ip cargohold` table");
    true
}

/// Whether no cgroup or mount of one of `ids` (containers this program ran and removed)
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
        .chain(common::mounts_with("/netns/"))
        .filter(|m| ours(m))
        .collect();
    if !cgroups.is_empty() || !mounts.is_empty() {
        eprintln!("netloop: LEAK of removed containers: cgroups {cgroups:?}, mounts {mounts:?}");
        return false;
    }
    eprintln!(
        "netloop: no cgroup or mount of the {} containers run is left",
        ids.len()
    );
    true
}

/// The engine under test, its image, podman's command, and what to undo at the end.
struct BenchEngine {
    engine: Engine,
    reference: String,
    /// podman and its global options.
    podman: Option<Vec<String>>,
    podman_run_args: Vec<String>,
    /// Ids of the containers run (for the leak check).
    ids: std::cell::Cell<Vec<String>>,
    /// A root we made (removed at the end).
    owned: Option<PathBuf>,
}

impl BenchEngine {
    fn open(c: &Common) -> BenchEngine {
        let owned = match &c.root {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("cargohold-netloop")
                    .tempdir_in("/var/tmp")
                    .expect("creating the engine root")
                    .keep(),
            ),
        };
        let root = c.root.clone().or_else(|| owned.clone()).unwrap();
        let engine = Engine::open(&root)
            .unwrap_or_else(|e| panic!("opening the engine at {}: {e}", root.display()));
        if engine.image(&c.image).is_err() {
            common::import_rootfs(&engine, c.rootfs.as_deref(), &c.image);
        }
        let split = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        BenchEngine {
            engine,
            reference: c.image.clone(),
            podman: c.podman.as_deref().map(split).filter(|v| !v.is_empty()),
            podman_run_args: split(&c.podman_run_args),
            ids: Default::default(),
            owned,
        }
    }

    fn note_id(&self, id: String) {
        let mut v = self.ids.take();
        v.push(id);
        self.ids.set(v);
    }

    /// `docker run --rm --network NET IMAGE true`: the image resolved by reference, the
    /// container run attached (stdout/stderr inherited, stdin not) and removed.
    fn run_rm_true(&self, network: &str) -> cargohold::Result<cargohold::ExitStatus> {
        let image = self.engine.image(&self.reference)?;
        let mut c = self
            .engine
            .container(&image)
            .network(network)
            .args(["true"])
            .auto_remove(true)
            .stdin(Stdio::null())
            .spawn()?;
        c.kill_on_drop(true);
        self.note_id(c.id().to_owned());
        c.wait()
    }

    /// `podman [global options] ARGS...`
    fn podman_cmd<I, S>(&self, args: I) -> Option<Command>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let p = self.podman.as_ref()?;
        let mut cmd = Command::new(&p[0]);
        cmd.args(&p[1..]).args(args).stdin(StdStdio::null());
        Some(cmd)
    }
}

impl Drop for BenchEngine {
    fn drop(&mut self) {
        // Whatever a failed run left: every container in the root is the bench's.
        if let Ok(all) = self.engine.containers().list() {
            for c in all {
                let id = c.id().to_owned();
                if let Err(e) = c.remove(true) {
                    eprintln!("netloop: removing leftover container {id}: {e}");
                }
            }
        }
        if let Some(dir) = &self.owned {
            if let Err(e) = fs::remove_dir_all(dir) {
                eprintln!("netloop: removing {}: {e}", dir.display());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Start latency.

struct Side {
    name: &'static str,
    network: &'static str,
    podman: bool,
    /// One entry per measured iteration (`None`: that run failed).
    samples: Vec<Option<f64>>,
}

impl Side {
    fn ok(&self) -> Vec<f64> {
        self.samples.iter().flatten().copied().collect()
    }
    fn failures(&self) -> usize {
        self.samples.iter().filter(|s| s.is_none()).count()
    }
}

fn latency(
    bench: &BenchEngine,
    n: usize,
    warmup: usize,
    out: Option<&Path>,
    seed: u64,
    keep_bridge: bool,
) -> bool {
    // Keepers: a container on each bridge for the whole run, removed at the end.
    let mut _keepers = (None, None);
    if keep_bridge {
        let image = bench.engine.image(&bench.reference).expect("the image");
        let c = bench
            .engine
            .container(&image)
            .name(format!("netloop-keeper-{}", std::process::id()))
            .network("bridge")
            .args(["sleep", "100000"])
            .detach(true)
            .spawn()
            .expect("starting the engine's bridge keeper");
        bench.note_id(c.id().to_owned());
        _keepers.0 = Some(EngineContainer {
            engine: &bench.engine,
            id: c.id().to_owned(),
        });
        if bench.podman.is_some() {
            let name = format!("netloop-keeper-{}", std::process::id());
            let mut cmd = bench
                .podman_cmd(["run", "-d", "--name", &name, "--network", "bridge"])
                .unwrap();
            cmd.args(&bench.podman_run_args)
                .args([&bench.reference, "sleep", "100000"])
                .stdout(StdStdio::null());
            let guard = PodmanContainer { bench, name };
            let st = cmd.status();
            assert!(
                matches!(&st, Ok(s) if s.success()),
                "starting podman's bridge keeper: {st:?}"
            );
            _keepers.1 = Some(guard);
        }
        eprintln!("netloop: bridges kept up by a detached `sleep` container each");
    }
    let mut sides = vec![
        Side {
            name: "engine-none",
            network: "none",
            podman: false,
            samples: Vec::new(),
        },
        Side {
            name: "engine-bridge",
            network: "bridge",
            podman: false,
            samples: Vec::new(),
        },
    ];
    if bench.podman.is_some() {
        for (name, network) in [("podman-none", "none"), ("podman-bridge", "bridge")] {
            sides.push(Side {
                name,
                network,
                podman: true,
                samples: Vec::new(),
            });
        }
    }
    eprintln!(
        "== {n} interleaved iterations x {{{}}}, {warmup} warm-up",
        sides.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    );
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..sides.len()).collect();
    let mut warmup_failures = 0;
    for i in 0..warmup + n {
        rng.shuffle(&mut order);
        for &s in &order {
            let side = &mut sides[s];
            let (ok, dt) = if side.podman {
                let mut cmd = bench
                    .podman_cmd(["run", "--rm", "--network", side.network])
                    .expect("podman side without --podman");
                cmd.args(&bench.podman_run_args)
                    .args([&bench.reference, "true"]);
                let t0 = Instant::now();
                let st = cmd.status();
                let dt = t0.elapsed();
                let ok = matches!(&st, Ok(s) if s.success());
                if !ok {
                    eprintln!("{} run {i}: {st:?}", side.name);
                }
                (ok, dt)
            } else {
                let t0 = Instant::now();
                let r = bench.run_rm_true(side.network);
                let dt = t0.elapsed();
                let ok = matches!(&r, Ok(st) if st.success());
                if !ok {
                    eprintln!("{} run {i}: {r:?}", side.name);
                }
                (ok, dt)
            };
            if i >= warmup {
                side.samples.push(ok.then(|| ms(dt)));
            } else if !ok {
                warmup_failures += 1;
            }
        }
        if (i + 1) % 25 == 0 {
            eprintln!("   {} / {} iterations", i + 1, warmup + n);
        }
    }

    if let Some(dir) = out {
        fs::create_dir_all(dir).expect("creating the samples directory");
        for s in &sides {
            let mut f =
                fs::File::create(dir.join(format!("{}.ms", s.name))).expect("writing samples");
            for v in s.ok() {
                writeln!(f, "{v:.3}").unwrap();
            }
        }
    }
    latency_report(&sides, n, keep_bridge);
    warmup_failures == 0 && sides.iter().all(|s| s.failures() == 0)
}

fn latency_report(sides: &[Side], n: usize, keep_bridge: bool) {
    println!();
    println!(
        "bridges: {}",
        if keep_bridge {
            "kept up by a container of each (--keep-bridge)"
        } else {
            "made for each bridge run and removed after it (no other container on them)"
        }
    );
    println!(
        "{:<14} {:>5} {:>4} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "side", "n", "fail", "min", "median", "p90", "p99", "max", "mean"
    );
    for s in sides {
        let Some(st) = Stats::of(&s.ok()) else {
            println!("{:<14} {:>5} {:>4}  (no samples)", s.name, 0, s.failures());
            continue;
        };
        println!(
            "{:<14} {:>5} {:>4} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}",
            s.name,
            s.ok().len(),
            s.failures(),
            st.min,
            st.median,
            st.p90,
            st.p99,
            st.max,
            st.mean
        );
    }
    println!("(milliseconds, {n} interleaved iterations per side, `run --rm true`)");
    println!();
    println!(
        "{:<8} {:>14} {:>11} {:>11} {:>15}",
        "bridge-none", "median diff", "p90 diff", "p99 diff", "paired median"
    );
    let mut engine_diff = None;
    for who in ["engine", "podman"] {
        let get = |net: &str| sides.iter().find(|s| s.name == format!("{who}-{net}"));
        let (Some(b), Some(z)) = (get("bridge"), get("none")) else {
            continue;
        };
        let (Some(bs), Some(zs)) = (Stats::of(&b.ok()), Stats::of(&z.ok())) else {
            continue;
        };
        // Per iteration (the two ran within the same shuffled round): bridge_i - none_i.
        let paired: Vec<f64> = b
            .samples
            .iter()
            .zip(&z.samples)
            .filter_map(|(b, z)| Some((*b)? - (*z)?))
            .collect();
        let pm = Stats::of(&paired).map_or(f64::NAN, |s| s.median);
        println!(
            "{:<11} {:>14.3} {:>11.3} {:>11.3} {:>15.3}",
            who,
            bs.median - zs.median,
            bs.p90 - zs.p90,
            bs.p99 - zs.p99,
            pm
        );
        if who == "engine" {
            engine_diff = Some(bs.median - zs.median);
        }
    }
    println!("(milliseconds; paired = median over iterations of bridge_i - none_i)");
    println!();
    match engine_diff {
        Some(d) => println!(
            "target: bridge adds <= 25 ms to the engine's run (median bridge - median none): {d:.3} ms  {}",
            if d <= 25.0 { "PASS" } else { "MISS" }
        ),
        None => println!("target: bridge adds <= 25 ms to the engine's run: not measured"),
    }
}

// ---------------------------------------------------------------------------------------
// Throughput.

/// The receiver everywhere but the Rust one: busybox nc forks, per connection, a shell whose
/// stdin and stdout are the socket; dd drains it in whole 1 MiB blocks and its report
/// ("F+P records in", F full blocks and P partial ones) goes back to the sender. (This
/// busybox's dd reports no byte count; with `fullblock` the block counts are exact.)
const RECEIVER: &str = "busybox dd of=/dev/null bs=1048576 iflag=fullblock 2>&1";
const BLOCK: u64 = 1 << 20;
const CONTAINER_PORT: u16 = 5000;
/// Host ports in our namespace (nothing else listens there).
const ENGINE_HOST_PORT: u16 = 18080;
const PODMAN_HOST_PORT: u16 = 18081;
const LOOPBACK_NC_PORT: u16 = 18082;

fn nc_argv(port: u16) -> Vec<String> {
    ["busybox", "nc", "-ll", "-p", &port.to_string(), "-e"]
        .into_iter()
        .chain(["busybox", "sh", "-c", RECEIVER])
        .map(str::to_owned)
        .collect()
}

/// Where a transfer goes.
struct Target {
    name: &'static str,
    what: String,
    addr: SocketAddr,
    mbps: Vec<f64>,
    failures: usize,
    /// Answered before the first repetition (the others are skipped).
    ready: bool,
}

/// A 1-connection Rust receiver on 127.0.0.1: reads until EOF (1 MiB buffer), answers with
/// the count.
fn rust_receiver() -> (SocketAddr, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding the Rust receiver");
    let addr = l.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accepting");
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("Rust receiver: {e}"),
            }
        }
        // dd's report, as the other receivers give
        let _ = writeln!(
            s,
            "{}+{} records in",
            n / BLOCK,
            u64::from(!n.is_multiple_of(BLOCK))
        );
    });
    (addr, h)
}

/// Sends `bytes` to `addr`, closes the sending side and reads the receiver's report;
/// returns the time from connect to the report, or why it failed.
fn transfer(addr: SocketAddr, bytes: u64) -> Result<Duration, String> {
    static CHUNK: [u8; 1 << 20] = [0x5a; 1 << 20];
    let t0 = Instant::now();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connecting to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut left = bytes;
    while left > 0 {
        let k = left.min(CHUNK.len() as u64) as usize;
        s.write_all(&CHUNK[..k])
            .map_err(|e| format!("sending to {addr}: {e}"))?;
        left -= k as u64;
    }
    s.shutdown(Shutdown::Write)
        .map_err(|e| format!("shutdown to {addr}: {e}"))?;
    let mut reply = String::new();
    s.read_to_string(&mut reply)
        .map_err(|e| format!("reading the report of {addr}: {e}"))?;
    let dt = t0.elapsed();
    let want = format!(
        "{}+{} records in",
        bytes / BLOCK,
        u64::from(!bytes.is_multiple_of(BLOCK))
    );
    if reply.lines().next() != Some(want.as_str()) {
        return Err(format!(
            "{addr} did not receive {bytes} bytes (want {want:?}): {reply:?}"
        ));
    }
    Ok(dt)
}

/// Waits (up to 10 s) until an empty transfer to `addr` gets its report: the whole path,
/// listener and DNAT, is up.
fn wait_ready(addr: SocketAddr) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..100 {
        match transfer(addr, 0) {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("{addr} never answered: {last}"))
}

/// Kills (by pid) and reaps a process we started.
struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes (force) an engine container when dropped.
struct EngineContainer<'a> {
    engine: &'a Engine,
    id: String,
}
impl Drop for EngineContainer<'_> {
    fn drop(&mut self) {
        if let Err(e) = self
            .engine
            .containers()
            .get(&self.id)
            .and_then(|c| c.remove(true))
        {
            eprintln!("netloop: removing container {}: {e}", self.id);
        }
    }
}

/// Removes a podman container (force, no grace period) when dropped.
struct PodmanContainer<'a> {
    bench: &'a BenchEngine,
    name: String,
}
impl Drop for PodmanContainer<'_> {
    fn drop(&mut self) {
        if let Some(mut cmd) = self.bench.podman_cmd(["rm", "-f", "-t", "0", &self.name]) {
            let _ = cmd.stdout(StdStdio::null()).status();
        }
    }
}

fn throughput(bench: &BenchEngine, bytes: u64, reps: usize, warmup: usize, seed: u64) -> bool {
    let mut targets = Vec::new();
    let lo = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    // (a) the same receiver on the host itself: the transfer without the container
    let host_nc = KillOnDrop(
        Command::new(common::BUSYBOX)
            .args(&nc_argv(LOOPBACK_NC_PORT)[1..])
            .stdin(StdStdio::null())
            .spawn()
            .expect("starting busybox nc on the host"),
    );
    targets.push(Target {
        name: "loopback-nc",
        what: "host -> busybox nc/dd on the host, 127.0.0.1 (no container)".into(),
        addr: lo(LOOPBACK_NC_PORT),
        mbps: Vec::new(),
        failures: 0,
        ready: true,
    });

    // (b), (c) an engine container on bridge, the port published
    let image = bench.engine.image(&bench.reference).expect("the image");
    let mut web = bench
        .engine
        .container(&image)
        .name(format!("netloop-tp-{}", std::process::id()))
        .publish(ENGINE_HOST_PORT, CONTAINER_PORT)
        .args(nc_argv(CONTAINER_PORT))
        .auto_remove(true)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting the engine's receiver container");
    web.kill_on_drop(true);
    bench.note_id(web.id().to_owned());
    let ip: Ipv4Addr = bench
        .engine
        .containers()
        .get(web.id())
        .and_then(|c| c.inspect())
        .expect("inspecting the receiver")
        .network_settings
        .ip_address
        .parse()
        .expect("the receiver's address");
    targets.push(Target {
        name: "engine-published",
        what: format!("host -> 127.0.0.1:{ENGINE_HOST_PORT} -> engine container :{CONTAINER_PORT} (DNAT, bridge)"),
        addr: lo(ENGINE_HOST_PORT),
        mbps: Vec::new(),
        failures: 0,
        ready: true,
    });
    targets.push(Target {
        name: "engine-direct",
        what: format!("host -> {ip}:{CONTAINER_PORT}, the engine container's bridge address"),
        addr: SocketAddr::from((ip, CONTAINER_PORT)),
        mbps: Vec::new(),
        failures: 0,
        ready: true,
    });

    // podman's, the same way
    let mut _podman_guard = None;
    if bench.podman.is_some() {
        let name = format!("netloop-tp-{}", std::process::id());
        let mut cmd = bench
            .podman_cmd(["run", "-d", "--name", &name, "-p"])
            .unwrap();
        cmd.arg(format!("{PODMAN_HOST_PORT}:{CONTAINER_PORT}"))
            .args(&bench.podman_run_args)
            .arg(&bench.reference)
            .args(nc_argv(CONTAINER_PORT))
            .stdout(StdStdio::null());
        let guard = PodmanContainer { bench, name };
        match cmd.status() {
            Ok(s) if s.success() => {
                let ip = bench
                    .podman_cmd([
                        "inspect",
                        "-f",
                        "{{.NetworkSettings.IPAddress}}",
                        &guard.name,
                    ])
                    .unwrap()
                    .output()
                    .ok()
                    .and_then(|o| String::from_utf8(o.stdout).ok())
                    .and_then(|s| s.trim().parse::<Ipv4Addr>().ok());
                targets.push(Target {
                    name: "podman-published",
                    what: format!("host -> 127.0.0.1:{PODMAN_HOST_PORT} -> podman container :{CONTAINER_PORT} (netavark DNAT)"),
                    addr: lo(PODMAN_HOST_PORT),
                    mbps: Vec::new(),
                    failures: 0,
                    ready: true,
                });
                match ip {
                    Some(ip) => targets.push(Target {
                        name: "podman-direct",
                        what: format!(
                            "host -> {ip}:{CONTAINER_PORT}, the podman container's bridge address"
                        ),
                        addr: SocketAddr::from((ip, CONTAINER_PORT)),
                        mbps: Vec::new(),
                        failures: 0,
                        ready: true,
                    }),
                    None => {
                        eprintln!("netloop: podman inspect gave no IPAddress; no podman-direct row")
                    }
                }
            }
            st => eprintln!("netloop: podman run -d -p failed ({st:?}); no podman rows"),
        }
        _podman_guard = Some(guard);
    }

    // the ceiling: a Rust receiver on loopback (a fresh one per transfer)
    targets.push(Target {
        name: "loopback-rust",
        what: "host -> Rust receiver in this process, 127.0.0.1 (no container)".into(),
        addr: lo(0),
        mbps: Vec::new(),
        failures: 0,
        ready: true,
    });

    let mut ok = true;
    for t in targets.iter_mut().filter(|t| t.name != "loopback-rust") {
        if let Err(e) = wait_ready(t.addr) {
            eprintln!("netloop: {}: {e}", t.name);
            t.failures += 1;
            t.ready = false;
            ok = false;
        }
    }
    eprintln!(
        "== {reps} interleaved repetitions (+{warmup} warm-up) of {bytes} bytes x {{{}}}",
        targets
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut rng = Rng(seed | 1);
    let mut order: Vec<usize> = (0..targets.len()).collect();
    for i in 0..warmup + reps {
        rng.shuffle(&mut order);
        for &k in &order {
            let t = &mut targets[k];
            if !t.ready {
                continue;
            }
            let r = if t.name == "loopback-rust" {
                let (addr, h) = rust_receiver();
                let r = transfer(addr, bytes);
                h.join().expect("the Rust receiver");
                r
            } else {
                transfer(t.addr, bytes)
            };
            match r {
                Ok(dt) if i >= warmup => t.mbps.push(bytes as f64 / dt.as_secs_f64() / 1e6),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("netloop: {} rep {i}: {e}", t.name);
                    t.failures += 1;
                    ok = false;
                }
            }
        }
        eprintln!("   {} / {} repetitions", i + 1, warmup + reps);
    }

    drop(_podman_guard);
    web.kill().expect("stopping the receiver container");
    web.wait().expect("waiting for the receiver container");
    drop(host_nc);

    throughput_report(&targets, bytes, reps);
    ok
}

fn throughput_report(targets: &[Target], bytes: u64, reps: usize) {
    let median = |name: &str| {
        targets
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| Stats::of(&t.mbps))
            .map(|s| s.median)
    };
    let base = median("loopback-nc");
    let ceiling = median("loopback-rust");
    println!();
    println!(
        "{:<17} {:>4} {:>4} {:>9} {:>9} {:>9} {:>10} {:>11}",
        "path", "n", "fail", "median", "min", "max", "/loop-nc", "/loop-rust"
    );
    for t in targets {
        let Some(s) = Stats::of(&t.mbps) else {
            println!("{:<17} {:>4} {:>4}  (no samples)", t.name, 0, t.failures);
            continue;
        };
        let ratio = |b: Option<f64>| b.map_or("-".into(), |b| format!("{:.3}x", s.median / b));
        println!(
            "{:<17} {:>4} {:>4} {:>9.0} {:>9.0} {:>9.0} {:>10} {:>11}",
            t.name,
            t.mbps.len(),
            t.failures,
            s.median,
            s.min,
            s.max,
            ratio(base),
            ratio(ceiling)
        );
    }
    println!(
        "(MB/s = 10^6 bytes/s, {bytes} bytes per transfer, {reps} interleaved repetitions; time from connect to the receiver's byte count)"
    );
    for t in targets {
        println!("  {:<17} {}", t.name, t.what);
    }
}
