//! CPU shares, swap and memory soft limits (issue 10): Docker's rules on the builder and the
//! engine CLI, the values in the container's cgroup and in `docker inspect`, and Docker's
//! warnings for what the host cannot do.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::common::{self, TestEngine};

/// Docker's warning when the host cannot limit swap.
const NO_SWAP: &str = "Your kernel does not support swap limit capabilities or the cgroup is \
                       not mounted. Memory limited without swap.";

fn env() -> TestEngine {
    common::busybox().engine("cargohold-limits")
}

/// Whether the host limits swap as the engine finds it: the memsw files of v1, else
/// cgroup v2 (whose swap files only its child cgroups have).
fn host_limits_swap() -> bool {
    let v1 = Path::new("/sys/fs/cgroup/memory");
    if v1.is_dir() {
        return v1.join("memory.memsw.limit_in_bytes").exists();
    }
    fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("memory.max").exists())
        .is_none_or(|p| p.join("memory.swap.max").exists())
}

/// The first of `files` found in one of `dirs`, trimmed (`None`: none has any).
fn read_any(dirs: &[PathBuf], files: &[&str]) -> Option<(String, String)> {
    files.iter().find_map(|f| {
        dirs.iter().find_map(|d| {
            fs::read_to_string(d.join(f))
                .ok()
                .map(|v| ((*f).to_owned(), v.trim().to_owned()))
        })
    })
}

/// The limits reach the container's cgroup files and its inspect record; the warnings are
/// Docker's for what this host cannot apply.
#[test]
#[ignore = "requires root"]
fn shares_swap_and_reservation_reach_the_cgroup_and_inspect() {
    let e = env();
    let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = warnings.clone();
    let mut c = e
        .cmd(["sleep", "100"])
        .memory_limit(64 << 20)
        .memory_swap(96 << 20)
        .memory_reservation(32 << 20)
        .cpu_shares(512)
        .on_warning(move |w| seen.lock().unwrap().push(w.to_owned()))
        .spawn()
        .unwrap();
    c.kill_on_drop(true);
    let swap = host_limits_swap();
    let dirs = common::cgroups_named(c.id());
    let (file, shares) = read_any(&dirs, &["cpu.shares", "cpu.weight"]).unwrap();
    // v2's weight is runc's conversion of the shares.
    let want = if file == "cpu.shares" { "512" } else { "20" };
    assert_eq!(shares, want, "{file}");
    let (file, soft) = read_any(&dirs, &["memory.soft_limit_in_bytes", "memory.low"]).unwrap();
    assert_eq!(soft, (32u64 << 20).to_string(), "{file}");
    match read_any(&dirs, &["memory.memsw.limit_in_bytes", "memory.swap.max"]) {
        Some((f, v)) if f == "memory.memsw.limit_in_bytes" => {
            assert!(swap);
            assert_eq!(v, (96u64 << 20).to_string());
        }
        // v2's swap.max is the swap alone.
        Some((_, v)) => assert_eq!(v, (32u64 << 20).to_string()),
        None => assert!(!swap, "a swap limit but no swap file"),
    }
    let host = e
        .engine
        .containers()
        .get(c.id())
        .unwrap()
        .inspect()
        .unwrap()
        .host_config;
    assert_eq!(host.memory, 64 << 20);
    assert_eq!(host.memory_reservation, 32 << 20);
    assert_eq!(host.cpu_shares, 512);
    if swap {
        assert_eq!(host.memory_swap, 96 << 20);
        assert!(warnings.lock().unwrap().is_empty());
    } else {
        assert_eq!(host.memory_swap, -1);
        assert_eq!(*warnings.lock().unwrap(), [NO_SWAP]);
    }
    c.kill().unwrap();
    c.wait().unwrap();
}

/// Docker's defaults and adjustments: swap is twice the memory unless set, -1 is unlimited;
/// CPU shares outside [2, 262144] are moved to the nearest end with Docker's warning; 0 is
/// the default (no write).
#[test]
#[ignore = "requires root"]
fn docker_defaults_and_adjustments() {
    let e = env();
    let swap = host_limits_swap();
    let run = |set: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let warnings = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = warnings.clone();
        let mut b = e.cmd(["sleep", "100"]);
        b.on_warning(move |w| seen.lock().unwrap().push(w.to_owned()));
        set(&mut b);
        let mut c = b.spawn().unwrap();
        c.kill_on_drop(true);
        let dirs = common::cgroups_named(c.id());
        let host = e
            .engine
            .containers()
            .get(c.id())
            .unwrap()
            .inspect()
            .unwrap()
            .host_config;
        let warnings = warnings.lock().unwrap().clone();
        (c, dirs, host, warnings)
    };
    let (c, dirs, host, warnings) = run(&|b| {
        b.memory_limit(32 << 20);
    });
    if swap {
        assert_eq!(host.memory_swap, 64 << 20);
        assert!(warnings.is_empty(), "{warnings:?}");
        if let Some((f, v)) = read_any(&dirs, &["memory.memsw.limit_in_bytes"]) {
            assert_eq!(v, (64u64 << 20).to_string(), "{f}");
        }
    } else {
        assert_eq!(host.memory_swap, -1);
        assert_eq!(warnings, [NO_SWAP]);
    }
    assert_eq!((host.cpu_shares, host.memory_reservation), (0, 0));
    drop(c);

    let (c, _, host, warnings) = run(&|b| {
        b.memory_limit(32 << 20).memory_swap(-1);
    });
    assert_eq!(host.memory_swap, -1);
    assert!(warnings.is_empty(), "{warnings:?}");
    drop(c);

    for (asked, got, which) in [(1, 2, "minimum"), (1 << 20, 262_144, "maximum")] {
        let (c, dirs, host, warnings) = run(&|b| {
            b.cpu_shares(asked);
        });
        assert_eq!(host.cpu_shares, got);
        assert_eq!(
            warnings,
            [format!(
                "Changing requested CPUShares of {asked} to {which} allowed of {got}"
            )]
        );
        if let Some((_, v)) = read_any(&dirs, &["cpu.shares"]) {
            assert_eq!(v, got.to_string());
        }
        drop(c);
    }

    // 0 is the default: nothing written, nothing recorded.
    let (c, dirs, host, warnings) = run(&|b| {
        b.cpu_shares(0).memory_reservation(0).memory_swap(0);
    });
    assert_eq!(
        (host.cpu_shares, host.memory_reservation, host.memory_swap),
        (0, 0, 0)
    );
    assert!(warnings.is_empty());
    if let Some((_, v)) = read_any(&dirs, &["cpu.shares"]) {
        assert_eq!(v, "1024");
    }
    drop(c);
}

/// Bad values are refused with Docker's messages, naming the setting, and leave nothing
/// behind.
#[test]
#[ignore = "requires root"]
fn bad_values_are_refused_as_docker() {
    let e = env();
    type Set = fn(&mut cargohold::ContainerBuilder<'_>);
    let refused: [(Set, &str, &str); 7] = [
        (
            |b| {
                b.memory_limit(64 << 20).memory_swap(32 << 20);
            },
            "memory swap",
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            |b| {
                b.memory_swap(64 << 20);
            },
            "memory swap",
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            |b| {
                b.memory_limit(64 << 20).memory_swap(-2);
            },
            "memory swap",
            "out of range",
        ),
        (
            |b| {
                b.memory_limit(32 << 20).memory_reservation(64 << 20);
            },
            "memory reservation",
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            |b| {
                b.memory_reservation(1 << 20);
            },
            "memory reservation",
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            |b| {
                b.memory_reservation(u64::MAX);
            },
            "memory reservation",
            "out of range",
        ),
        (
            |b| {
                b.memory_limit(1 << 20).memory_swap(64 << 20);
            },
            "memory limit",
            "Minimum memory limit allowed is 6MB",
        ),
    ];
    for (set, field, why) in &refused {
        for create in [true, false] {
            let mut b = e.cmd(["true"]);
            set(&mut b);
            let r = if create {
                b.create().map(drop)
            } else {
                b.output().map(drop)
            };
            match r {
                Err(cargohold::Error::InvalidContainerConfig {
                    field: f, reason, ..
                }) => {
                    assert_eq!(f, *field, "{reason}");
                    assert!(reason.contains(why), "{field}: {reason}");
                }
                other => panic!("{field} ({why}): {other:?}"),
            }
        }
    }
    common::assert_no_containers(&e.engine);
}

/// The engine CLI: `-c/--cpu-shares`, `--memory-swap`, `--memory-reservation` parse as
/// Docker's (sizes as `--memory`, -1 for unlimited swap), errors name the flag, range errors
/// are Docker's, warnings are printed as Docker's client does, and inspect shows the values.
#[test]
#[ignore = "requires root"]
fn engine_cli_flags() {
    let e = env();
    let root = e.engine.root().to_owned();
    let engine = |args: &[&str]| {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root").arg(&root).args(args).stdin(Stdio::null());
        common::output_via_files(&mut c)
    };
    let run = |flags: &[&str], cmd: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend([e.reference.as_str(), "sh", "-c", cmd]);
        engine(&args)
    };
    for (flags, want) in [
        (
            &["-c", "-5"][..],
            r#"invalid argument "-5" for "-c, --cpu-shares" flag: must not be negative"#,
        ),
        (&["--cpu-shares", "lots"], r#"for "-c, --cpu-shares" flag"#),
        (
            &["-m", "64m", "--memory-swap", "big"],
            r#"for "--memory-swap" flag"#,
        ),
        (
            &["-m", "64m", "--memory-swap", "-2"],
            r#"invalid argument "-2" for "--memory-swap" flag"#,
        ),
        (
            &["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            &["--memory-swap", "64m"],
            "You should always set the Memory limit when using Memoryswap limit, see usage",
        ),
        (
            &["--memory-reservation", "1x"],
            r#"for "--memory-reservation" flag"#,
        ),
        (
            &["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            &["-m", "32m", "--memory-reservation", "64m"],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
    ] {
        let o = run(flags, "true");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{flags:?}");
        assert!(err.contains(want), "{flags:?}: {err}");
    }
    common::assert_no_containers(&e.engine);

    // The values inside the container (its cgroup namespace shows its own cgroup's files).
    let v1 = Path::new("/sys/fs/cgroup/cpu/cpu.shares").exists();
    if v1 {
        let o = run(
            &["-c", "512", "-m", "64m", "--memory-reservation", "32m"],
            "cat /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
        );
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["512", "33554432"]
        );
    }
    let o = run(
        &["--cpu-shares", "1", "--memory-swap", "-1", "-m", "6m"],
        "true",
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("WARNING: Changing requested CPUShares of 1 to minimum allowed of 2"),
        "{err}"
    );

    // create + inspect: HostConfig as Docker names it.
    let name = common::unique("limits");
    let o = engine(&[
        "create",
        "--name",
        &name,
        "-c",
        "300",
        "-m",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "16m",
        &e.reference,
        "true",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = engine(&["inspect", &name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let hc = &v[0]["HostConfig"];
    assert_eq!(hc["CpuShares"], 300);
    assert_eq!(hc["Memory"], 64 << 20);
    assert_eq!(hc["MemoryReservation"], 16 << 20);
    let want_swap: i64 = if host_limits_swap() { 128 << 20 } else { -1 };
    assert_eq!(hc["MemorySwap"], want_swap);
    let o = engine(&["rm", &name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    common::assert_no_containers(&e.engine);
}
