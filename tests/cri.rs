//! Kubernetes through containerd's CRI plugin, with `examples/runtime.rs` as the runtime
//! handler (issue 11), and the runtime CLI's verbs that the runc shim calls.
//!
//! `containerd` (tests/cri/containerd.rs) starts a private containerd (Debian's, 1.6) with
//! the README's config snippet and drives it over the CRI gRPC API as the kubelet does:
//! the pod lifecycle with host networking, then a pod on a CNI bridge inside a network
//! namespace of the test's own. `verbs` (tests/cri/verbs.rs) calls the CLI's `create
//! --no-pivot --no-new-keyring`, `update --resources -`, `ps --format json`, `events
//! --stats` and `features` directly and checks their output and effect.
//!
//! Root-only tests are `#[ignore = "requires root"]`, as in tests/it; CI runs them with
//! `cargo test -- --include-ignored`.

#[path = "cri/containerd.rs"]
mod containerd;
#[path = "cri/verbs.rs"]
mod verbs;

use std::fs;
use std::time::{Duration, Instant};

use containerd::{envs, image_spec, Containerd, Options, BUSYBOX_IMAGE, PAGE};
use k8s_cri::v1::*;

/// A container that logs a line on stdout and one on stderr (with an env var), then waits;
/// SIGTERM ends it at once.
fn logging_container(name: &str, memory: i64) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(image_spec(BUSYBOX_IMAGE)),
        command: vec!["sh".into()],
        args: vec![
            "-c".into(),
            "trap 'exit 0' TERM; echo \"hello $GREETING\"; echo oops >&2; \
             while :; do sleep 1 & wait $!; done"
                .into(),
        ],
        envs: envs(&[("GREETING", "from cri"), ("SECOND", "2")]),
        log_path: format!("{name}/0.log"),
        linux: Some(LinuxContainerConfig {
            resources: Some(LinuxContainerResources {
                memory_limit_in_bytes: memory,
                cpu_shares: 512,
                cpu_period: 100_000,
                cpu_quota: 200_000,
                ..Default::default()
            }),
            security_context: None,
        }),
        ..Default::default()
    }
}

/// Polls `f` until it returns Some, for up to `secs` seconds.
fn wait_for<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What the kubelet does for one pod with host networking, on the `cargohold` handler.
#[test]
#[ignore = "requires root"]
fn pod_lifecycle_with_host_network() {
    let started = Instant::now();
    let ctd = Containerd::start(&Options::default());
    let pod_config = ctd.pod_config("web", false);
    let pod = ctd.run_pod(&pod_config, "cargohold");

    let ctr = ctd.create_container(&pod, &pod_config, logging_container("app", 64 << 20));
    ctd.start_container(&ctr);

    // ExecSync: env from the config, the pod's (host) network.
    let r = ctd.exec_sync(&ctr, &["sh", "-c", "echo $GREETING-$SECOND; exit 3"]);
    assert_eq!(
        (String::from_utf8_lossy(&r.stdout).as_ref(), r.exit_code),
        ("from cri-2\n", 3),
        "stderr: {}",
        String::from_utf8_lossy(&r.stderr)
    );

    // The log file, in the CRI format: `<RFC 3339 time> <stream> <P|F> <line>`.
    let log = std::path::Path::new(&pod_config.log_directory).join("app/0.log");
    let text = wait_for(10, || {
        let t = fs::read_to_string(&log).ok()?;
        (t.lines().count() >= 2).then_some(t)
    })
    .unwrap_or_else(|| panic!("{} lacks two lines", log.display()));
    let mut streams = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.splitn(4, ' ').collect();
        assert_eq!(f.len(), 4, "{line:?}");
        assert!(humantime::parse_rfc3339(f[0]).is_ok(), "{line:?}");
        assert_eq!(f[2], "F", "{line:?}");
        streams.push((f[1].to_owned(), f[3].to_owned()));
    }
    streams.sort();
    assert_eq!(
        streams,
        [
            ("stderr".to_owned(), "oops".to_owned()),
            ("stdout".to_owned(), "hello from cri".to_owned())
        ]
    );

    // ContainerStats: the shim reads the container's cgroups.
    let mut c = ctd.runtime.clone();
    let id = ctr.clone();
    let stats = ctd.call("ContainerStats", async move {
        c.container_stats(ContainerStatsRequest { container_id: id })
            .await
    });
    let mem = stats
        .stats
        .as_ref()
        .and_then(|s| s.memory.as_ref())
        .expect("memory stats");
    let usage = mem.usage_bytes.map_or(0, |v| v.value);
    let working_set = mem.working_set_bytes.map_or(0, |v| v.value);
    // The container's own memory cgroup (the shim loads it from /proc/PID/cgroup), not
    // the host's: under its 64 MiB limit.
    assert!(usage > 0 && working_set > 0 && usage < 64 << 20, "{mem:?}");
    let cpu = stats.stats.as_ref().and_then(|s| s.cpu.as_ref());
    assert!(
        cpu.and_then(|c| c.usage_core_nano_seconds)
            .is_some_and(|v| v.value > 0),
        "{cpu:?}"
    );

    // The limits, seen from inside; then UpdateContainerResources and again.
    let limits = |ctd: &Containerd| {
        let r = ctd.exec_sync(
            &ctr,
            &[
                "sh",
                "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
                 /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.shares \
                 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max",
            ],
        );
        assert_eq!(r.exit_code, 0, "{}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8_lossy(&r.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let v1 = !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let want = |mem: u64, quota: u64, shares: u64| -> Vec<String> {
        if v1 {
            vec![mem.to_string(), quota.to_string(), shares.to_string()]
        } else {
            vec![mem.to_string(), quota.to_string(), "100000".to_string()]
        }
    };
    assert_eq!(limits(&ctd), want(64 << 20, 200_000, 512));
    let mut c = ctd.runtime.clone();
    let req = UpdateContainerResourcesRequest {
        container_id: ctr.clone(),
        linux: Some(LinuxContainerResources {
            memory_limit_in_bytes: 96 << 20,
            cpu_shares: 256,
            cpu_period: 100_000,
            cpu_quota: 50_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    ctd.call("UpdateContainerResources", async move {
        c.update_container_resources(req).await
    });
    assert_eq!(limits(&ctd), want(96 << 20, 50_000, 256));
    assert!(
        ctd.argv_log()
            .lines()
            .any(|l| l.contains(" update ") && l.contains("--resources")),
        "the shim did not call update --resources:\n{}",
        ctd.argv_log()
    );

    // StopContainer (SIGTERM, which the script obeys), RemoveContainer.
    let mut c = ctd.runtime.clone();
    let id = ctr.clone();
    ctd.call("StopContainer", async move {
        c.stop_container(StopContainerRequest {
            container_id: id,
            timeout: 10,
        })
        .await
    });
    let mut c = ctd.runtime.clone();
    let id = ctr.clone();
    let st = ctd.call("ContainerStatus", async move {
        c.container_status(ContainerStatusRequest {
            container_id: id,
            verbose: false,
        })
        .await
    });
    let st = st.status.expect("container status");
    assert_eq!(
        (st.state, st.exit_code),
        (ContainerState::ContainerExited as i32, 0),
        "{st:?}"
    );
    let mut c = ctd.runtime.clone();
    let id = ctr.clone();
    ctd.call("RemoveContainer", async move {
        c.remove_container(RemoveContainerRequest { container_id: id })
            .await
    });
    ctd.remove_pod(&pod);

    assert_nothing_left(ctd, &[&pod, &ctr]);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// A pod on a CNI bridge: containerd runs in a network namespace the test made, where the
/// bridge plugin puts its bridge; the pod gets an address from the range and serves a page
/// that a client in that namespace fetches.
#[test]
#[ignore = "requires root"]
fn pod_on_a_cni_bridge() {
    let subnet_base = "10.213.77";
    let ctd = Containerd::start(&Options {
        cni_subnet: Some(format!("{subnet_base}.0/24")),
    });
    let pod_config = ctd.pod_config("net", true);
    let pod = ctd.run_pod(&pod_config, "cargohold");
    let mut c = ctd.runtime.clone();
    let id = pod.clone();
    let st = ctd.call("PodSandboxStatus", async move {
        c.pod_sandbox_status(PodSandboxStatusRequest {
            pod_sandbox_id: id,
            verbose: false,
        })
        .await
    });
    let ip = st
        .status
        .and_then(|s| s.network)
        .map(|n| n.ip)
        .unwrap_or_default();
    assert!(ip.starts_with(&format!("{subnet_base}.")), "pod ip {ip:?}");

    let config = ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: "httpd".into(),
            attempt: 0,
        }),
        image: Some(image_spec(BUSYBOX_IMAGE)),
        command: vec!["httpd".into()],
        args: vec![
            "-f".into(),
            "-p".into(),
            "8080".into(),
            "-h".into(),
            "/www".into(),
        ],
        log_path: "httpd/0.log".into(),
        ..Default::default()
    };
    let ctr = ctd.create_container(&pod, &pod_config, config);
    ctd.start_container(&ctr);
    // The container sees the address on its eth0.
    let r = ctd.exec_sync(&ctr, &["ip", "-4", "addr", "show", "eth0"]);
    assert!(
        String::from_utf8_lossy(&r.stdout).contains(&format!("inet {ip}/")),
        "{r:?}"
    );
    // From containerd's namespace (never the host's): the page, over the bridge.
    let ns = format!("/proc/{}/ns/net", ctd.pid());
    let addr = format!("{ip}:8080");
    let page = wait_for(10, || http_get_in_netns(&ns, &addr, "/index.html").ok());
    if page.as_deref() != Some(PAGE) {
        let inside = ctd.exec_sync(&ctr, &["sh", "-c", "ip addr; ip route; netstat -ltn"]);
        panic!(
            "no page from {addr}: {:?}\nthe pod: {}",
            http_get_in_netns(&ns, &addr, "/index.html"),
            String::from_utf8_lossy(&inside.stdout)
        );
    }

    ctd.remove_pod(&pod);
    assert_nothing_left(ctd, &[&pod, &ctr]);
}

/// `GET path` over HTTP/1.0 from a thread that entered the network namespace `ns`: the
/// body of a 200 reply.
fn http_get_in_netns(ns: &str, addr: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    let ns = fs::File::open(ns).map_err(|e| format!("opening {ns}: {e}"))?;
    let (addr, path) = (addr.to_owned(), path.to_owned());
    std::thread::spawn(move || {
        // SAFETY: setns(2) on an open namespace fd; it moves only this short-lived thread.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(format!("setns: {}", std::io::Error::last_os_error()));
        }
        let sa = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
        let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2))
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(s, "GET {path} HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).map_err(|e| e.to_string())?;
        match reply.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => {
                Ok(body.to_owned())
            }
            _ => Err(format!("reply: {reply:?}")),
        }
    })
    .join()
    .unwrap()
}

/// After the pod is gone: no runtime state, no mounts of the pod, no cgroups but the pod's
/// parent; then containerd and its shims stop and the temp dir goes.
fn assert_nothing_left(mut ctd: Containerd, ids: &[&str]) {
    let state: Vec<_> = fs::read_dir(&ctd.runtime_root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(state.is_empty(), "runtime state left: {state:?}");
    for id in ids {
        let m = containerd::mounts_with(id);
        assert!(m.is_empty(), "mounts of {id} left: {m:?}");
        let cg: Vec<_> = ctd
            .cgroups()
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(id))
            .collect();
        assert!(cg.is_empty(), "cgroups of {id} left: {cg:?}");
    }
    assert!(ctd.stop(), "shims left: {:?}", ctd.shim_pids());
    let m = ctd.mounts();
    assert!(
        m.is_empty(),
        "mounts left under {}: {m:?}",
        ctd.dir.path().display()
    );
    // The pods' parent cgroups (the kubelet's to remove) and the temp dir go with the guard.
    let dir = ctd.dir.path().to_path_buf();
    let parent = ctd.cgroup_parent.clone();
    drop(ctd);
    assert!(!dir.exists(), "{} left", dir.display());
    let cg = containerd::cgroups_under(&parent);
    assert!(cg.is_empty(), "cgroups left: {cg:?}");
}
