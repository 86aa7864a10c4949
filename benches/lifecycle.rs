//! Criterion benches of the container lifecycle.
//!
//! - `spec/parse`: `serde_json::from_slice::<Spec>` of the bench bundle's config.json (no
//!   root needed).
//! - as root only (skipped with a note otherwise), `/bin/true` in a busybox bundle made by
//!   `benches/make-bundle.sh` with `default_spec()` (args `["/bin/true"]`, no terminal, the
//!   root read-only):
//!   - `lifecycle/run`: [`Runtime::run`] — create, start over the sync socket, wait, delete;
//!   - `lifecycle/create_start_wait_delete`: the four calls separately (exec fifo);
//!   - `cgroup/create_attach_remove`: what the container's cgroup costs on its own — create
//!     the default cgroup, fork a child that joins it as the init does (`"0"` into every
//!     `cgroup.procs`), reap it, remove the cgroup. The spec has no way to run without a
//!     cgroup yet, so this is the part a cgroup-less variant would save.
//!
//! - as root, `engine/run_rm_true/{disk,tmpfs}`: the engine's `docker run --rm busybox
//!   true` — `Engine::container(..).arg("/bin/true").auto_remove(true).status()`: a fresh
//!   container directory, the overlay of the image's layer, the spec by Docker's rules, the
//!   runtime's run, then unmount and removal — with the engine root on the disk
//!   (`/var/tmp`) and on a tmpfs mounted for the bench.
//!
//! Medians hide the v1 attach stalls (5–8 ms in >10% of runs): `benches/compare.sh` prints
//! p99 too.

use std::hint::black_box;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cargohold::oci_spec::runtime::Spec;
use cargohold::runtime::{default_spec, CreateOptions, Runtime};
use cargohold::sys::cgroup::Cgroup;
use criterion::{criterion_group, criterion_main, Criterion};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The bench spec as JSON.
fn spec_json() -> Vec<u8> {
    let mut spec = default_spec();
    let mut p = spec.process().clone().expect("default spec has a process");
    p.set_args(Some(vec!["/bin/true".to_owned()]));
    p.set_terminal(Some(false));
    spec.set_process(Some(p));
    // crun 1.8 refuses ociVersion 1.2.0 ("unknown version specified"); the bundle is
    // shared by every side, so it says 1.0.2 (what `runc spec` writes). Nothing else in
    // default_spec() is 1.2-only.
    spec.set_version("1.0.2".to_owned());
    serde_json::to_vec_pretty(&spec).expect("spec serialises")
}

/// A busybox bundle in a temp dir (rootfs by benches/make-bundle.sh, config from us).
fn bundle() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("cargohold-bench-bundle")
        .tempdir()
        .expect("tempdir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/make-bundle.sh");
    std::fs::write(dir.path().join("config.json"), spec_json()).expect("writing config.json");
    let st = Command::new("sh")
        .arg(&script)
        .arg(dir.path())
        .status()
        .expect("running make-bundle.sh");
    assert!(st.success(), "make-bundle.sh failed");
    dir
}

fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn spec_parse(c: &mut Criterion) {
    let json = spec_json();
    c.bench_function("spec/parse", |b| {
        b.iter(|| serde_json::from_slice::<Spec>(black_box(&json)).expect("parses"))
    });
}

fn lifecycle(c: &mut Criterion) {
    if !is_root() {
        eprintln!("lifecycle: not root, skipping the container lifecycle benches (run `sudo cargo bench --bench lifecycle`)");
        return;
    }
    let bundle = bundle();
    let root = tempfile::Builder::new()
        .prefix("cargohold-bench-root")
        .tempdir_in("/run")
        .expect("runtime root");
    let rt = Runtime::open(root.path()).expect("opening runtime");
    let opts = CreateOptions::default();
    let b: PathBuf = bundle.path().to_path_buf();

    let mut g = c.benchmark_group("lifecycle");
    g.sample_size(50).measurement_time(Duration::from_secs(8));
    g.bench_function("run", |bch| {
        bch.iter(|| {
            let id = unique("chb-run");
            let st = rt.run(&id, &b, &opts).unwrap_or_else(|e| {
                let _ = rt.delete(&id, true);
                panic!("run {id}: {e}")
            });
            assert!(st.success());
        })
    });
    g.bench_function("create_start_wait_delete", |bch| {
        bch.iter(|| {
            let id = unique("chb-csd");
            let c = rt.create(&id, &b, &opts).expect("create");
            rt.start(&id).expect("start");
            let st = c.wait().expect("wait");
            rt.delete(&id, false).expect("delete");
            assert!(st.success());
        })
    });
    g.finish();

    let mut g = c.benchmark_group("cgroup");
    g.sample_size(50).measurement_time(Duration::from_secs(5));
    g.bench_function("create_attach_remove", |bch| {
        bch.iter(|| {
            let cg = Cgroup::create(&format!("/cargohold-{}", unique("chb-cg")), &[])
                .expect("cgroup create");
            let fds = cg.procs_fds().expect("cgroup.procs");
            let raw: Vec<i32> = fds.iter().map(|f| f.as_raw_fd()).collect();
            // SAFETY: fork in a bench binary; the child only writes and _exits (no allocation).
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                for fd in &raw {
                    // SAFETY: fd is an open cgroup.procs file, "0" a valid buffer.
                    if unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) } != 1 {
                        // SAFETY: _exit never returns.
                        unsafe { libc::_exit(1) };
                    }
                }
                // SAFETY: _exit never returns.
                unsafe { libc::_exit(0) };
            }
            let mut status = 0;
            // SAFETY: pid is our child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            drop(fds);
            cg.remove().expect("cgroup remove");
            assert_eq!(status, 0, "child could not join the cgroup");
        })
    });
    g.finish();
}

fn engine(c: &mut Criterion) {
    if !is_root() {
        eprintln!("engine: not root, skipping the engine benches");
        return;
    }
    let bundle = bundle();
    let mut g = c.benchmark_group("engine/run_rm_true");
    g.sample_size(50).measurement_time(Duration::from_secs(8));
    for label in ["disk", "tmpfs"] {
        let root = tempfile::Builder::new()
            .prefix("cargohold-bench-engine")
            .tempdir_in("/var/tmp")
            .expect("engine root");
        if label == "tmpfs" {
            let st = Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "cargohold-bench",
                    &root.path().display().to_string(),
                ])
                .status()
                .expect("mount tmpfs");
            assert!(st.success(), "mounting a tmpfs for the engine root");
        }
        let engine = cargohold::Engine::open(root.path()).expect("opening engine");
        let config = cargohold::oci_spec::image::ConfigBuilder::default()
            .cmd(vec!["/bin/true".to_owned()])
            .build()
            .expect("image config");
        let image = engine
            .images()
            .import_dir(
                bundle.path().join("rootfs"),
                &config,
                &"bench:true".parse().expect("ref"),
            )
            .expect("importing the bench rootfs");
        g.bench_function(label, |bch| {
            bch.iter(|| {
                let st = engine
                    .container(&image)
                    .arg("/bin/true")
                    .auto_remove(true)
                    .status()
                    .expect("run");
                assert!(st.success());
            })
        });
        drop(engine);
        if label == "tmpfs" {
            let _ = Command::new("umount").arg(root.path()).status();
        }
    }
    g.finish();
}

criterion_group!(benches, spec_parse, lifecycle, engine);
criterion_main!(benches);
