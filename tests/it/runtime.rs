//! The OCI runtime layer against busybox bundles.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::fs::symlink;
use std::path::PathBuf;

use cargohold::oci_spec::runtime::{
    Capability, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder,
    LinuxResourcesBuilder, MountBuilder, ProcessBuilder, Spec,
};
use cargohold::runtime::{CreateOptions, ExecOptions, Status};
use cargohold::Error;

use crate::common::{self, Bundle};

fn args(spec: &mut Spec, a: &[&str]) {
    let mut p = spec.process().clone().unwrap();
    p.set_args(Some(a.iter().map(|s| s.to_string()).collect()));
    spec.set_process(Some(p));
}

fn sh(b: &mut Bundle, script: &str) {
    b.edit(|s| args(s, &["sh", "-c", script]));
}

fn resources(spec: &mut Spec, r: cargohold::oci_spec::runtime::LinuxResources) {
    let mut linux = spec.linux().clone().unwrap();
    linux.set_resources(Some(r));
    spec.set_linux(Some(linux));
}

#[test]
#[ignore = "requires root"]
fn echo_prints_and_exits_zero() {
    let rt = common::runtime();
    let b = Bundle::new(&["echo", "hello from cargohold"]);
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{:?} {}", ran.status, ran.stderr);
    assert_eq!(ran.stdout, "hello from cargohold\n");
    assert!(
        rt.list().unwrap().is_empty(),
        "run leaves no container behind"
    );
}

#[test]
#[ignore = "requires root"]
fn exit_codes_and_signals_pass_through() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["sh", "-c", "exit 42"]);
    assert_eq!(common::run(&rt, &b).unwrap().status.code(), Some(42));
    // A signal from outside reaches pid 1 when it handles it...
    sh(
        &mut b,
        "trap 'exit 7' TERM; echo ready; while :; do sleep 0.05; done",
    );
    let (id, _guard) = common::guarded(&rt, "sig");
    let c = rt.spawn(&id, b.path(), &CreateOptions::default()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    rt.kill(&id, libc::SIGTERM, false).unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(7));
    rt.delete(&id, false).unwrap();
    // ...and SIGKILL always ends it, reported as a signal.
    sh(&mut b, "sleep 60");
    let c = rt.spawn(&id, b.path(), &CreateOptions::default()).unwrap();
    c.signal(libc::SIGKILL).unwrap();
    assert_eq!(c.wait().unwrap().signal(), Some(libc::SIGKILL));
    rt.delete(&id, false).unwrap();
}

#[test]
#[ignore = "requires root"]
fn hostname_uid_and_pid_1_are_the_containers() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        s.set_hostname(Some("boxy".into()));
        let mut p = s.process().clone().unwrap();
        let mut u = p.user().clone();
        u.set_uid(65534);
        u.set_gid(65534);
        u.set_additional_gids(Some(vec![1234]));
        p.set_user(u);
        s.set_process(Some(p));
    });
    sh(
        &mut b,
        "hostname; id; echo pid=$$; ls /proc | grep -c '^[0-9]'",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "boxy");
    assert!(
        lines[1].starts_with("uid=65534(nobody) gid=65534(nogroup) groups=1234"),
        "{}",
        lines[1]
    );
    assert_eq!(lines[2], "pid=1");
    // Only the shell, ls and grep: the host's processes are not visible.
    assert_eq!(lines[3], "3", "processes visible: {}", lines[3]);
}

#[test]
#[ignore = "requires root"]
fn read_only_root_and_paths_refuse_writes_and_masked_paths_are_empty() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut root = s.root().clone().unwrap();
        root.set_readonly(Some(true));
        s.set_root(Some(root));
    });
    sh(&mut b, "touch /x 2>&1; echo 1 > /proc/sys/kernel/domainname 2>&1; wc -c < /proc/kcore; ls /sys/firmware | wc -l; touch /dev/shm/ok && echo shm-ok");
    let ran = common::run(&rt, &b).unwrap();
    let out = ran.stdout;
    assert!(out.contains("touch: /x: Read-only file system"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"0"),
        "masked /proc/kcore and /sys/firmware are empty: {out}"
    );
    assert!(out.contains("shm-ok"), "tmpfs mounts stay writable: {out}");
}

#[test]
#[ignore = "requires root"]
fn capabilities_are_dropped() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    sh(
        &mut b,
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    // The default set: NET_BIND_SERVICE (10), KILL (5), AUDIT_WRITE (29).
    let want = format!("{:016x}", (1u64 << 10) | (1 << 5) | (1 << 29));
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb", "CapInh"] {
        let line = ran.stdout.lines().find(|l| l.starts_with(set)).unwrap();
        assert!(line.ends_with(&want), "{line} (want {want})");
    }
    assert!(ran.stdout.contains("NoNewPrivs:\t1"), "{}", ran.stdout);

    // And chown fails without CAP_CHOWN while root.
    sh(
        &mut b,
        "touch /tmp/f && chown 1:1 /tmp/f 2>/dev/null || echo denied",
    );
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        let mut caps = p.capabilities().clone().unwrap();
        let only_kill: std::collections::HashSet<Capability> =
            [Capability::Kill].into_iter().collect();
        caps.set_effective(Some(only_kill.clone()));
        caps.set_permitted(Some(only_kill.clone()));
        caps.set_bounding(Some(only_kill));
        caps.set_ambient(None);
        caps.set_inheritable(None);
        p.set_capabilities(Some(caps));
        s.set_process(Some(p));
    });
    let ran = common::run(&rt, &b).unwrap();
    assert!(
        ran.stdout.contains("denied"),
        "{} {}",
        ran.stdout,
        ran.stderr
    );
}

#[test]
#[ignore = "requires root"]
fn pids_limit_stops_a_fork_bomb() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        resources(
            s,
            LinuxResourcesBuilder::default()
                .pids(LinuxPidsBuilder::default().limit(20).build().unwrap())
                .build()
                .unwrap(),
        )
    });
    // A subshell forks sleepers until fork fails; pid 1 waits on.
    sh(
        &mut b,
        "(for i in $(seq 1 100); do sleep 60 & done) 2>/dev/null; sleep 60",
    );
    let (id, _guard) = common::guarded(&rt, "pids");
    let c = rt.spawn(&id, b.path(), &CreateOptions::default()).unwrap();
    let mut n = 0;
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        n = rt.ps(&id).unwrap().len();
        if n >= 18 {
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = rt.ps(&id).unwrap().len();
    assert!(
        (15..=20).contains(&n) && after <= 20,
        "processes under a 20-pid limit: {n}, then {after}"
    );
    assert_eq!(rt.stats(&id).unwrap().pids_limit, Some(20));
    rt.delete(&id, true).unwrap();
    let _ = c.wait();
}

#[test]
#[ignore = "requires root"]
fn memory_limit_oom_kills_and_is_reported() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let mem = LinuxMemoryBuilder::default()
        .limit(16i64 << 20)
        .swap(16i64 << 20)
        .build()
        .unwrap();
    b.edit(|s| {
        resources(
            s,
            LinuxResourcesBuilder::default()
                .memory(mem)
                .build()
                .unwrap(),
        )
    });
    // awk doubles a string until the cgroup's limit stops it: the OOM killer must fire.
    sh(&mut b, "awk 'BEGIN { s = \"x\"; for (i = 0; i < 40; i++) s = s s; print length(s) }'; echo survived");
    let ran = common::run(&rt, &b).unwrap();
    assert!(
        ran.oom_killed,
        "oom not reported: {:?} {} {}",
        ran.status, ran.stdout, ran.stderr
    );
}

#[test]
#[ignore = "requires root"]
fn create_start_state_kill_delete() {
    let rt = common::runtime();
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _guard) = common::guarded(&rt, "life");
    let c = rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
    let st = rt.state(&id).unwrap();
    assert_eq!(st.status, Status::Created);
    assert_eq!(st.pid, c.pid());
    assert_eq!(st.id, id);
    // The init waits: its command line is still ours, not sleep's.
    assert_ne!(
        fs::read_to_string(format!("/proc/{}/comm", c.pid()))
            .unwrap()
            .trim(),
        "sleep"
    );
    assert!(matches!(
        rt.create(&id, b.path(), &CreateOptions::default()),
        Err(Error::ContainerExists { .. })
    ));
    // The spec: deleting a container that is not stopped is an error and has no effect.
    assert!(
        matches!(rt.delete(&id, false), Err(Error::InvalidState { .. })),
        "a created container is not deleted without force"
    );
    assert_eq!(rt.state(&id).unwrap().status, Status::Created);
    assert!(!common::cgroups_named(&id).is_empty());

    rt.start(&id).unwrap();
    assert!(matches!(rt.start(&id), Err(Error::InvalidState { .. })));
    let st = rt.state(&id).unwrap();
    assert_eq!(st.status, Status::Running);
    for _ in 0..200 {
        if fs::read_to_string(format!("/proc/{}/comm", c.pid()))
            .unwrap()
            .trim()
            == "sleep"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        fs::read_to_string(format!("/proc/{}/comm", c.pid()))
            .unwrap()
            .trim(),
        "sleep"
    );
    assert_eq!(rt.ps(&id).unwrap(), vec![c.pid()]);

    rt.pause(&id).unwrap();
    assert_eq!(rt.state(&id).unwrap().status, Status::Paused);
    rt.resume(&id).unwrap();
    assert_eq!(rt.state(&id).unwrap().status, Status::Running);

    assert!(
        matches!(rt.delete(&id, false), Err(Error::InvalidState { .. })),
        "a running container is not deleted without force"
    );
    rt.kill(&id, libc::SIGKILL, false).unwrap();
    let status = c.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(rt.state(&id).unwrap().status, Status::Stopped);
    rt.delete(&id, false).unwrap();
    assert!(matches!(
        rt.state(&id),
        Err(Error::ContainerNotFound { .. })
    ));
    assert!(
        common::cgroups_named(&id).is_empty(),
        "cgroup left: {:?}",
        common::cgroups_named(&id)
    );
    assert!(common::mounts_with(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn exec_joins_the_same_namespaces() {
    let rt = common::runtime();
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _guard) = common::guarded(&rt, "exec");
    let c = rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
    rt.start(&id).unwrap();
    let (mut r, w) = std::io::pipe().unwrap();
    let mut opts = ExecOptions::default();
    opts.stdout = Some(OwnedFd::from(w));
    let process = ProcessBuilder::default()
        .args(vec!["sh".to_string(), "-c".into(), "for n in pid mnt net uts; do readlink /proc/self/ns/$n; done; hostname; cat /proc/1/comm; echo \"$HOME\"".into()])
        .env(vec!["PATH=/bin".to_string()])
        .cwd("/")
        .build()
        .unwrap();
    let p = rt.exec(&id, &process, &opts).unwrap();
    drop(opts);
    assert!(p.wait().unwrap().success());
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    for (i, ns) in ["pid", "mnt", "net", "uts"].iter().enumerate() {
        let init = fs::read_link(format!("/proc/{}/ns/{ns}", c.pid())).unwrap();
        assert_eq!(lines[i], init.to_str().unwrap(), "{ns} namespace differs");
    }
    assert_eq!(lines[4], "cargohold");
    assert_eq!(lines[5], "sleep");
    assert_eq!(lines[6], "/root", "HOME from the container's /etc/passwd");
    rt.delete(&id, true).unwrap();
    let _ = c.wait();
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn missing_command_is_an_error_naming_it() {
    let rt = common::runtime();
    let b = Bundle::new(&["no-such-program"]);
    let err = common::run(&rt, &b).err().expect("must fail");
    let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(
        msg.contains("no-such-program") && msg.contains("No such file"),
        "{msg}"
    );
    assert!(
        rt.list().unwrap().is_empty(),
        "no state left: {:?}",
        rt.list().unwrap()
    );
}

#[test]
#[ignore = "requires root"]
fn bad_bundles_leave_nothing_behind() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);

    fs::write(b.path().join("config.json"), b"{ not json").unwrap();
    let e = rt
        .create("bad1", b.path(), &CreateOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("config.json"), "{e}");

    b.save();
    let mut raw: serde_json::Value =
        serde_json::from_slice(&fs::read(b.path().join("config.json")).unwrap()).unwrap();
    raw["linux"]["namespaces"][0]["type"] = "bogus".into();
    fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&raw).unwrap(),
    )
    .unwrap();
    let e = rt
        .create("bad2", b.path(), &CreateOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("bogus"), "{e}");

    b.edit(|s| {
        let mut root = s.root().clone().unwrap();
        root.set_path(PathBuf::from("missing-rootfs"));
        s.set_root(Some(root));
    });
    let e = rt
        .create("bad3", b.path(), &CreateOptions::default())
        .err()
        .unwrap();
    assert!(e.to_string().contains("missing-rootfs"), "{e}");

    for bad_id in ["../x", "a/b", ""] {
        assert!(matches!(
            rt.create(bad_id, b.path(), &CreateOptions::default()),
            Err(Error::InvalidId { .. })
        ));
    }
    assert!(rt.list().unwrap().is_empty());
    assert!(common::cgroups_named("bad")
        .iter()
        .all(|p| !p.to_string_lossy().contains("cargohold/bad")));
}

#[test]
#[ignore = "requires root"]
fn mount_destination_symlinks_stay_inside_the_rootfs() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let outside = tempfile::tempdir().unwrap();
    // /evil -> the host directory `outside`: a mount there must land inside the rootfs.
    symlink(outside.path(), b.rootfs().join("evil")).unwrap();
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("marker"), "inside").unwrap();
    b.edit(|s| {
        let mut mounts = s.mounts().clone().unwrap();
        mounts.push(
            MountBuilder::default()
                .destination("/evil")
                .typ("bind")
                .source(src.path())
                .options(vec!["rbind".to_string(), "ro".into()])
                .build()
                .unwrap(),
        );
        s.set_mounts(Some(mounts));
    });
    sh(
        &mut b,
        "cat /evil/marker || cat \"$(readlink /evil)/marker\"",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(
        ran.stdout.contains("inside"),
        "{} {}",
        ran.stdout,
        ran.stderr
    );
    assert_eq!(
        fs::read_dir(outside.path()).unwrap().count(),
        0,
        "nothing mounted or written on the host side"
    );
    assert!(common::mounts_with(&outside.path().display().to_string()).is_empty());
}

#[test]
#[ignore = "requires root"]
fn bind_mounts_honour_read_only() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("data"), "42").unwrap();
    b.edit(|s| {
        let mut mounts = s.mounts().clone().unwrap();
        mounts.push(
            MountBuilder::default()
                .destination("/data")
                .typ("bind")
                .source(src.path())
                .options(vec!["bind".to_string(), "ro".into(), "nosuid".into()])
                .build()
                .unwrap(),
        );
        mounts.push(
            MountBuilder::default()
                .destination("/scratch")
                .typ("tmpfs")
                .source("tmpfs")
                .options(vec!["size=1m".to_string()])
                .build()
                .unwrap(),
        );
        s.set_mounts(Some(mounts));
    });
    sh(
        &mut b,
        "cat /data/data; echo; touch /data/new 2>&1; echo x > /scratch/y && cat /scratch/y",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.stdout.starts_with("42\n"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("Read-only file system"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("x\n"), "{}", ran.stdout);
    assert!(!src.path().join("new").exists());
}

#[test]
#[ignore = "requires root"]
fn user_namespace_maps_ids() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    // Binding /sys needs a netns owned by the userns: the new network namespace stays.
    b.map_root_to(100_000);
    sh(&mut b, "id -u; cat /proc/self/uid_map");
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "0");
    let map: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(map, vec!["0", "100000", "65536"]);
}

#[test]
#[ignore = "requires root"]
fn joins_a_network_namespace_by_path() {
    let rt = common::runtime();
    // A holder container's network namespace, joined by a second container.
    let holder = Bundle::new(&["sleep", "60"]);
    let (hid, _hguard) = common::guarded(&rt, "holder");
    let h = rt
        .create(&hid, holder.path(), &CreateOptions::default())
        .unwrap();
    rt.start(&hid).unwrap();
    let ns_path = format!("/proc/{}/ns/net", h.pid());
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        let ns = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .map(|mut n| {
                if n.typ() == LinuxNamespaceType::Network {
                    n.set_path(Some(PathBuf::from(&ns_path)));
                }
                n
            })
            .collect();
        linux.set_namespaces(Some(ns));
        s.set_linux(Some(linux));
    });
    sh(&mut b, "readlink /proc/self/ns/net");
    let ran = common::run(&rt, &b).unwrap();
    assert_eq!(
        ran.stdout.trim(),
        fs::read_link(&ns_path).unwrap().to_str().unwrap()
    );
    rt.delete(&hid, true).unwrap();
    let _ = h.wait();
}

/// Every container whose spec asks for a new network namespace gets a namespace of its
/// own, never used before, with its loopback up: whether the runtime made it on a thread
/// during the create, kept it ready from the previous create, or (told to keep none) made
/// it the same way again. The containers are compared while they all exist: the kernel
/// reuses a namespace's number once it is gone.
#[test]
#[ignore = "requires root"]
fn each_container_gets_a_fresh_network_namespace_with_loopback_up() {
    let host = fs::read_link("/proc/self/ns/net").unwrap();
    // IFF_UP | IFF_LOOPBACK
    let b = Bundle::new(&["cat", "/sys/class/net/lo/flags"]);
    let check = |rt: &cargohold::runtime::Runtime, n: usize| {
        let mut held = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let (id, guard) = common::guarded(rt, "netns");
            let (out, w) = std::io::pipe().unwrap();
            let mut opts = CreateOptions::default();
            opts.stdout = Some(OwnedFd::from(w));
            let c = rt.create(&id, b.path(), &opts).unwrap();
            drop(opts);
            let ns = fs::read_link(format!("/proc/{}/ns/net", c.pid())).unwrap();
            assert_ne!(ns, host, "the host's namespace");
            assert!(seen.insert(ns.clone()), "{} handed out twice", ns.display());
            held.push((id, guard, c, out));
        }
        for (id, _guard, c, mut out) in held {
            rt.start(&id).unwrap();
            assert!(c.wait().unwrap().success());
            let mut flags = String::new();
            out.read_to_string(&mut flags).unwrap();
            assert_eq!(flags, "0x9\n", "loopback not up in {id}");
        }
    };
    let rt = common::runtime();
    check(&rt, 4);
    let root = tempfile::tempdir().unwrap();
    let mut none_ahead = cargohold::runtime::Runtime::open(root.path()).unwrap();
    none_ahead.keep_network_namespace_ready(false);
    check(&none_ahead, 3);
}

#[test]
#[ignore = "requires root"]
fn hooks_run_with_the_state_on_stdin() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    let hook = |name: &str| {
        cargohold::oci_spec::runtime::HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".to_string(),
                "-c".into(),
                format!("cat > {o}/{name}"),
            ])
            .build()
            .unwrap()
    };
    b.edit(|s| {
        #[allow(deprecated)]
        let hooks = cargohold::oci_spec::runtime::HooksBuilder::default()
            .prestart(vec![hook("prestart")])
            .create_runtime(vec![hook("createRuntime")])
            .create_container(vec![hook("createContainer")])
            // Runs inside the container, after pivot_root: its paths are the container's.
            .start_container(vec![cargohold::oci_spec::runtime::HookBuilder::default()
                .path("/bin/sh")
                .args(vec![
                    "sh".to_string(),
                    "-c".into(),
                    "cat > /tmp/startContainer".into(),
                ])
                .build()
                .unwrap()])
            .poststart(vec![hook("poststart")])
            .poststop(vec![hook("poststop")])
            .build()
            .unwrap();
        s.set_hooks(Some(hooks));
    });
    sh(&mut b, "cat /tmp/startContainer");
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    let inside: serde_json::Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("startContainer: {e}: {:?}", ran.stdout));
    assert!(
        inside["id"].as_str().unwrap().starts_with("run-"),
        "{inside}"
    );
    assert!(
        inside["pid"].as_i64().unwrap() > 1,
        "the host pid: {inside}"
    );
    // The hooks of lifecycle steps 3-5 run once the create has made the environment: the
    // spec's `created` (runc says `creating`).
    assert_eq!(inside["status"], "created", "startContainer: {inside}");
    for (name, status) in [
        ("prestart", "created"),
        ("createRuntime", "created"),
        ("createContainer", "created"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let text = fs::read_to_string(out.path().join(name))
            .unwrap_or_else(|e| panic!("{name} did not run: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], status, "{name}: {text}");
        assert_eq!(
            v["bundle"],
            b.path().canonicalize().unwrap().display().to_string()
        );
    }
}

#[test]
#[ignore = "requires root"]
fn a_failing_hook_fails_create_and_cleans_up() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let bad = cargohold::oci_spec::runtime::HookBuilder::default()
            .path("/bin/false")
            .build()
            .unwrap();
        s.set_hooks(Some(
            cargohold::oci_spec::runtime::HooksBuilder::default()
                .create_runtime(vec![bad])
                .build()
                .unwrap(),
        ));
    });
    let e = common::run(&rt, &b)
        .err()
        .expect("hook failure fails the run");
    assert!(
        e.to_string().contains("createRuntime hook /bin/false"),
        "{e}"
    );
    assert!(rt.list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn seccomp_filters_syscalls() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let profile: cargohold::oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        }))
        .unwrap();
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        linux.set_seccomp(Some(profile));
        s.set_linux(Some(linux));
    });
    sh(&mut b, "mkdir /tmp/d 2>&1; touch /tmp/f && echo touch-ok");
    let ran = common::run(&rt, &b).unwrap();
    assert!(
        ran.stdout.contains("Operation not permitted"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("touch-ok"), "{}", ran.stdout);
}

#[test]
#[ignore = "requires root"]
fn rlimits_umask_cwd_and_env_apply() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        p.set_cwd(PathBuf::from("/tmp/work"));
        p.set_env(Some(vec!["PATH=/bin".into(), "GREETING=hi there".into()]));
        let mut u = p.user().clone();
        u.set_umask(Some(0o027));
        p.set_user(u);
        p.set_rlimits(Some(vec![
            cargohold::oci_spec::runtime::PosixRlimitBuilder::default()
                .typ(cargohold::oci_spec::runtime::PosixRlimitType::RlimitNofile)
                .soft(123u64)
                .hard(456u64)
                .build()
                .unwrap(),
        ]));
        s.set_process(Some(p));
    });
    sh(&mut b, "pwd; umask; ulimit -n; ulimit -Hn; echo $GREETING");
    let ran = common::run(&rt, &b).unwrap();
    assert_eq!(
        ran.stdout, "/tmp/work\n0027\n123\n456\nhi there\n",
        "{}",
        ran.stderr
    );
}

#[test]
#[ignore = "requires root"]
fn multi_threaded_host_stress() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let rt = common::runtime();
    let b = Bundle::new(&["true"]);
    let stop = Arc::new(AtomicBool::new(false));
    // Eight threads that allocate and log (take the stderr lock) in a loop.
    let noise: Vec<_> = (0..8)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let v: Vec<String> = (0..64).map(|k| format!("{i}-{k}-{n}")).collect();
                    n += v.len() as u64;
                    if n.is_multiple_of(50_000) {
                        eprintln!("noise {i}: {n}");
                    }
                }
                n
            })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    for i in 0..100 {
        let (id, _guard) = common::guarded(&rt, "stress");
        let exit = rt
            .run(&id, b.path(), &CreateOptions::default())
            .unwrap_or_else(|e| panic!("run {i}: {e}"));
        assert!(exit.success());
        assert!(
            std::time::Instant::now() < deadline,
            "100 runs took over two minutes"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in noise {
        assert!(t.join().unwrap() > 0);
    }
    assert!(rt.list().unwrap().is_empty());
    assert!(common::cgroups_named("stress").is_empty());
}

#[test]
#[ignore = "requires root"]
fn signals_start_at_their_defaults() {
    // Rust ignores SIGPIPE in this (the host) process; the container must not inherit that.
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| args(s, &["cat", "/proc/self/status"]));
    let ran = common::run(&rt, &b).unwrap();
    assert!(
        ran.stdout.contains("SigBlk:\t0000000000000000"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("SigIgn:\t0000000000000000"),
        "{}",
        ran.stdout
    );
}

#[test]
#[ignore = "requires root"]
fn lsm_labels_are_refused_clearly_on_hosts_without_them() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        p.set_apparmor_profile(Some("docker-default".into()));
        s.set_process(Some(p));
    });
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let r = common::run(&rt, &b);
    if apparmor {
        assert!(r.is_ok(), "{:?}", r.err());
    } else {
        let e = r
            .err()
            .expect("an AppArmor profile on a host without AppArmor is refused");
        assert!(
            e.to_string()
                .contains("AppArmor profile \"docker-default\""),
            "{e}"
        );
    }
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        p.set_apparmor_profile(None);
        p.set_selinux_label(Some("system_u:system_r:container_t:s0".into()));
        s.set_process(Some(p));
    });
    if !std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        let e = common::run(&rt, &b)
            .err()
            .expect("an SELinux label without SELinux is refused");
        assert!(e.to_string().contains("SELinux"), "{e}");
    }
    assert!(rt.list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn terminal_hands_the_pty_master_to_the_caller() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        p.set_terminal(Some(true));
        p.set_args(Some(vec![
            "sh".into(),
            "-c".into(),
            "tty; test -t 0 && echo stdin-is-a-tty".into(),
        ]));
        s.set_process(Some(p));
    });
    let (id, _guard) = common::guarded(&rt, "tty");
    let mut c = rt.spawn(&id, b.path(), &CreateOptions::default()).unwrap();
    let master = c
        .take_console()
        .expect("no console socket: the caller gets the master");
    let status = c.wait().unwrap();
    assert!(status.success());
    let mut out = Vec::new();
    let mut f = fs::File::from(master);
    let mut buf = [0u8; 4096];
    // After the slave closes, reads return EIO: collect until then.
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let out = String::from_utf8_lossy(&out);
    assert!(out.contains("/dev/pts/0"), "{out:?}");
    assert!(out.contains("stdin-is-a-tty"), "{out:?}");
}

#[test]
#[ignore = "requires root"]
fn a_hook_that_outlives_its_timeout_fails() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let slow = cargohold::oci_spec::runtime::HookBuilder::default()
            .path("/bin/sleep")
            .args(vec!["sleep".to_string(), "30".into()])
            .timeout(1)
            .build()
            .unwrap();
        s.set_hooks(Some(
            cargohold::oci_spec::runtime::HooksBuilder::default()
                .create_runtime(vec![slow])
                .build()
                .unwrap(),
        ));
    });
    let t = std::time::Instant::now();
    let e = common::run(&rt, &b).err().expect("the hook times out");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(rt.list().unwrap().is_empty());
}

#[test]
#[ignore = "requires root"]
fn devices_sysctls_and_domainname() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        s.set_domainname(Some("example.test".into()));
        let mut linux = s.linux().clone().unwrap();
        linux.set_sysctl(Some(
            [("net.ipv4.ip_forward".to_string(), "1".to_string())]
                .into_iter()
                .collect(),
        ));
        linux.set_devices(Some(vec![
            cargohold::oci_spec::runtime::LinuxDeviceBuilder::default()
                .path("/dev/custom0")
                .typ(cargohold::oci_spec::runtime::LinuxDeviceType::C)
                .major(1i64)
                .minor(3i64)
                .file_mode(0o640u32)
                .uid(7u32)
                .gid(8u32)
                .build()
                .unwrap(),
        ]));
        s.set_linux(Some(linux));
    });
    sh(&mut b, "cat /proc/sys/kernel/domainname /proc/sys/net/ipv4/ip_forward; stat -c '%t:%T %a %u:%g' /dev/custom0 /dev/null; echo gone > /dev/null && echo null-ok; for l in fd stdin ptmx; do readlink /dev/$l; done");
    let ran = common::run(&rt, &b).unwrap();
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "example.test", "{}", ran.stdout);
    assert_eq!(lines[1], "1");
    assert_eq!(lines[2], "1:3 640 7:8");
    assert_eq!(lines[3], "1:3 666 0:0");
    assert_eq!(lines[4], "null-ok");
    assert_eq!(
        &lines[5..],
        &["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"],
        "{}",
        ran.stdout
    );
    // The host's forwarding setting is untouched by the container's.
    let _ = fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    // A sysctl that is not namespaced is refused before anything starts.
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        linux.set_sysctl(Some(
            [("vm.swappiness".to_string(), "1".to_string())]
                .into_iter()
                .collect(),
        ));
        s.set_linux(Some(linux));
    });
    let e = common::run(&rt, &b).err().unwrap();
    assert!(e.to_string().contains("vm.swappiness"), "{e}");
}

#[test]
#[ignore = "requires root"]
fn concurrent_creates_of_one_id_make_one_container() {
    let rt = common::runtime();
    let b = Bundle::new(&["sleep", "30"]);
    let (id, _guard) = common::guarded(&rt, "race");
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| s.spawn(|| rt.create(&id, b.path(), &CreateOptions::default())))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
    assert_eq!(ok.len(), 1, "exactly one create wins");
    for r in &results {
        if let Err(e) = r {
            assert!(matches!(e, Error::ContainerExists { .. }), "{e}");
        }
    }
    assert_eq!(rt.state(&id).unwrap().status, Status::Created);
    rt.delete(&id, true).unwrap();
    for r in results.into_iter().flatten() {
        let _ = r.wait();
    }
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn stats_report_usage() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let mem = LinuxMemoryBuilder::default()
        .limit(64i64 << 20)
        .build()
        .unwrap();
    b.edit(|s| {
        resources(
            s,
            LinuxResourcesBuilder::default()
                .memory(mem)
                .build()
                .unwrap(),
        )
    });
    sh(
        &mut b,
        "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; sleep 30",
    );
    let (id, _guard) = common::guarded(&rt, "stats");
    let c = rt.spawn(&id, b.path(), &CreateOptions::default()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let st = rt.stats(&id).unwrap();
    assert!(st.memory_usage > 0);
    assert_eq!(st.memory_limit, Some(64 << 20));
    assert!(st.cpu_usage_ns > 0);
    assert!(st.pids_current >= 1);
    rt.delete(&id, true).unwrap();
    let _ = c.wait();
}

#[test]
#[ignore = "requires root"]
fn new_user_and_pid_namespaces_with_a_joined_network_namespace() {
    // The joined netns forces the child to setns first, then unshare the user namespace,
    // then the pid namespace — which takes a second fork to get a pid 1.
    let rt = common::runtime();
    let holder = Bundle::new(&["sleep", "60"]);
    let (hid, _hguard) = common::guarded(&rt, "holder");
    let h = rt
        .create(&hid, holder.path(), &CreateOptions::default())
        .unwrap();
    rt.start(&hid).unwrap();
    let ns_path = format!("/proc/{}/ns/net", h.pid());
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        let mut ns: Vec<_> = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .map(|mut n| {
                if n.typ() == LinuxNamespaceType::Network {
                    n.set_path(Some(PathBuf::from(&ns_path)));
                }
                n
            })
            .collect();
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::User)
                .build()
                .unwrap(),
        );
        linux.set_namespaces(Some(ns));
        let map = |host: u32| {
            vec![
                cargohold::oci_spec::runtime::LinuxIdMappingBuilder::default()
                    .container_id(0u32)
                    .host_id(host)
                    .size(65536u32)
                    .build()
                    .unwrap(),
            ]
        };
        linux.set_uid_mappings(Some(map(200_000)));
        linux.set_gid_mappings(Some(map(200_000)));
        s.set_linux(Some(linux));
        // sysfs and the host's cgroup hierarchies cannot be mounted from this user namespace
        // (the network namespace belongs to the host's).
        let mounts = s
            .mounts()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|m| !matches!(m.typ().as_deref(), Some("cgroup") | Some("sysfs")))
            .collect();
        s.set_mounts(Some(mounts));
    });
    std::process::Command::new("chown")
        .arg("-R")
        .arg("200000:200000")
        .arg(b.rootfs())
        .status()
        .unwrap();
    sh(&mut b, "echo pid=$$; id -u; readlink /proc/self/ns/net");
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "0");
    assert_eq!(lines[2], fs::read_link(&ns_path).unwrap().to_str().unwrap());
    rt.delete(&hid, true).unwrap();
    let _ = h.wait();
}

#[test]
#[ignore = "requires root"]
fn without_a_mount_namespace_the_rootfs_is_chrooted() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        let ns = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Mount)
            .collect();
        linux.set_namespaces(Some(ns));
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        s.set_linux(Some(linux));
        s.set_mounts(Some(vec![]));
    });
    fs::write(b.rootfs().join("marker"), "in the rootfs").unwrap();
    sh(
        &mut b,
        "cat /marker; readlink /proc/self/ns/mnt 2>/dev/null || echo no-proc",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    assert!(ran.stdout.starts_with("in the rootfs"), "{}", ran.stdout);
}

/// The bundle of `without_a_mount_namespace_the_rootfs_is_chrooted` with the default mounts
/// (proc, a tmpfs /dev, ...) and a createRuntime hook.
fn no_mount_ns_bundle_with_mounts(hook_out: &std::path::Path) -> Bundle {
    let mut b = Bundle::new(&["true"]);
    let hook = cargohold::oci_spec::runtime::HookBuilder::default()
        .path("/bin/sh")
        .args(vec![
            "sh".to_string(),
            "-c".into(),
            format!("cat > {}", hook_out.display()),
        ])
        .build()
        .unwrap();
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        let ns = linux
            .namespaces()
            .clone()
            .unwrap()
            .into_iter()
            .filter(|n| n.typ() != LinuxNamespaceType::Mount)
            .collect();
        linux.set_namespaces(Some(ns));
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
        s.set_linux(Some(linux));
        s.set_hooks(Some(
            cargohold::oci_spec::runtime::HooksBuilder::default()
                .create_runtime(vec![hook])
                .build()
                .unwrap(),
        ));
    });
    b
}

#[test]
#[ignore = "requires root"]
fn without_a_mount_namespace_mounts_go_under_the_rootfs_and_leave_with_the_container() {
    let rt = common::runtime();
    let out = tempfile::tempdir().unwrap();
    let mut b = no_mount_ns_bundle_with_mounts(&out.path().join("createRuntime"));
    sh(
        &mut b,
        "test -c /dev/null && grep -c ^Pid: /proc/self/status; echo ok > /dev/shm/x && cat /dev/shm/x",
    );
    let rootfs = b.rootfs().canonicalize().unwrap();
    let under_rootfs = || common::mounts_with(rootfs.to_str().unwrap());
    let (id, _guard) = common::guarded(&rt, "nomntns");
    let (mut r, w) = std::io::pipe().unwrap();
    let mut opts = CreateOptions::default();
    opts.stdout = Some(OwnedFd::from(w));
    let c = rt.create(&id, b.path(), &opts).unwrap();
    drop(opts);
    // The mounts are made in our mount namespace, under the rootfs, not over the host's.
    let mounts = under_rootfs();
    assert!(
        mounts
            .iter()
            .any(|l| l.contains(&format!("{}/proc ", rootfs.display()))),
        "{mounts:#?}"
    );
    assert!(
        mounts
            .iter()
            .any(|l| l.contains(&format!("{}/dev ", rootfs.display()))),
        "{mounts:#?}"
    );
    let hook = fs::read_to_string(out.path().join("createRuntime")).expect("the hook ran");
    assert!(hook.contains("\"created\""), "{hook}");
    rt.start(&id).unwrap();
    assert!(c.wait().unwrap().success());
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "1\nok\n");
    rt.delete(&id, false).unwrap();
    assert!(under_rootfs().is_empty(), "left: {:#?}", under_rootfs());

    // A create that fails after the mounts (a createContainer hook fails) leaves none.
    b.edit(|s| {
        let mut hooks = s.hooks().clone().unwrap();
        hooks.set_create_container(Some(vec![
            cargohold::oci_spec::runtime::HookBuilder::default()
                .path("/bin/false")
                .build()
                .unwrap(),
        ]));
        s.set_hooks(Some(hooks));
    });
    let e = rt
        .create(&id, b.path(), &CreateOptions::default())
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("createContainer hook /bin/false"),
        "{e}"
    );
    assert!(under_rootfs().is_empty(), "left: {:#?}", under_rootfs());
    assert!(rt.list().unwrap().is_empty());

    // Masked and read-only paths would mount over the host's /proc: refused as runc does,
    // naming the field, before anything is made.
    for field in ["maskedPaths", "readonlyPaths"] {
        b.edit(|s| {
            let mut linux = s.linux().clone().unwrap();
            let paths = Some(vec!["/proc/kcore".to_string()]);
            if field == "maskedPaths" {
                linux.set_masked_paths(paths);
            } else {
                linux.set_readonly_paths(paths);
            }
            s.set_linux(Some(linux));
        });
        let e = common::run(&rt, &b).err().unwrap();
        assert!(
            e.to_string().contains(&format!("linux.{field}"))
                && e.to_string().contains("mount namespace"),
            "{e}"
        );
        assert!(under_rootfs().is_empty(), "left: {:#?}", under_rootfs());
        assert!(rt.list().unwrap().is_empty());
        b.edit(|s| {
            let mut linux = s.linux().clone().unwrap();
            linux.set_masked_paths(None);
            linux.set_readonly_paths(None);
            s.set_linux(Some(linux));
        });
    }
}

#[test]
#[ignore = "requires root"]
fn oom_score_adj_and_cgroups_path_are_honoured() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let cg = format!("/{}", common::unique("cargohold-custom"));
    let cg2 = cg.clone();
    b.edit(move |s| {
        let mut p = s.process().clone().unwrap();
        p.set_oom_score_adj(Some(345));
        s.set_process(Some(p));
        let mut linux = s.linux().clone().unwrap();
        linux.set_cgroups_path(Some(PathBuf::from(&cg2)));
        s.set_linux(Some(linux));
    });
    sh(&mut b, "cat /proc/self/oom_score_adj; sleep 30");
    let (id, _guard) = common::guarded(&rt, "cgpath");
    let (mut r, w) = std::io::pipe().unwrap();
    let mut opts = CreateOptions::default();
    opts.stdout = Some(OwnedFd::from(w));
    let c = rt.spawn(&id, b.path(), &opts).unwrap();
    drop(opts);
    let mut line = [0u8; 4];
    r.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"345\n");
    let procs = fs::read_to_string(format!("/sys/fs/cgroup/memory{cg}/cgroup.procs")).unwrap();
    assert!(procs.lines().any(|l| l == c.pid().to_string()), "{procs}");
    rt.delete(&id, true).unwrap();
    let _ = c.wait();
    assert!(!std::path::Path::new(&format!("/sys/fs/cgroup/memory{cg}")).exists());
}

#[test]
#[ignore = "requires root"]
fn mount_propagation_options_apply() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let src = tempfile::tempdir().unwrap();
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        linux.set_rootfs_propagation(Some("rprivate".into()));
        s.set_linux(Some(linux));
        let mut mounts = s.mounts().clone().unwrap();
        mounts.push(
            MountBuilder::default()
                .destination("/shared")
                .typ("bind")
                .source(src.path())
                .options(vec!["rbind".to_string(), "rshared".into()])
                .build()
                .unwrap(),
        );
        mounts.push(
            MountBuilder::default()
                .destination("/private")
                .typ("bind")
                .source(src.path())
                .options(vec!["rbind".to_string(), "rprivate".into()])
                .build()
                .unwrap(),
        );
        s.set_mounts(Some(mounts));
    });
    sh(&mut b, "grep -E ' /(shared|private) ' /proc/self/mountinfo");
    let ran = common::run(&rt, &b).unwrap();
    let shared = ran
        .stdout
        .lines()
        .find(|l| l.contains(" /shared "))
        .unwrap_or_else(|| panic!("{}", ran.stdout));
    let private = ran
        .stdout
        .lines()
        .find(|l| l.contains(" /private "))
        .unwrap();
    assert!(shared.contains("shared:"), "{shared}\n{}", ran.stdout);
    assert!(
        !private.contains("shared:") && !private.contains("master:"),
        "{private}"
    );
}

/// What busybox's shell, cat and echo need, and the runtime after the filter is loaded
/// (credentials, capabilities, the start signal, hooks, exec): a profile in the style of
/// runtime-tools' default, which predates close_range, faccessat2 and pidfd_open.
const SHELL_SYSCALLS: &[&str] = &[
    "access",
    "arch_prctl",
    "brk",
    "capget",
    "capset",
    "chdir",
    "clock_gettime",
    "clock_nanosleep",
    "clone",
    "close",
    "dup",
    "dup2",
    "dup3",
    "execve",
    "exit",
    "exit_group",
    "faccessat",
    "fcntl",
    "fork",
    "fstat",
    "getcwd",
    "getdents64",
    "getegid",
    "geteuid",
    "getgid",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getrandom",
    "getuid",
    "ioctl",
    "lseek",
    "lstat",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "pipe",
    "pipe2",
    "poll",
    "ppoll",
    "prctl",
    "prlimit64",
    "read",
    "readlink",
    "readlinkat",
    "recvfrom",
    "recvmsg",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "set_tid_address",
    "setgroups",
    "setpgid",
    "setresgid",
    "setresuid",
    "setsid",
    "stat",
    "statx",
    "umask",
    "uname",
    "vfork",
    "wait4",
    "write",
    "writev",
];

#[test]
#[ignore = "requires root"]
fn a_seccomp_profile_without_the_runtimes_newer_syscalls_runs() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    let profile: cargohold::oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": SHELL_SYSCALLS, "action": "SCMP_ACT_ALLOW"},
                // Named, so that numbers up to theirs are not "unknown" (ENOSYS) but get
                // the default action (EPERM): close_range, faccessat2 and pidfd_open too.
                {"names": ["landlock_create_ruleset", "landlock_add_rule",
                           "landlock_restrict_self"], "action": "SCMP_ACT_ERRNO"}
            ]
        }))
        .unwrap();
    let hook = cargohold::oci_spec::runtime::HookBuilder::default()
        .path("/bin/sh")
        .args(vec![
            "sh".to_string(),
            "-c".into(),
            "echo hooked > /tmp/hooked".into(),
        ])
        .timeout(10)
        .build()
        .unwrap();
    b.edit(|s| {
        let mut linux = s.linux().clone().unwrap();
        linux.set_seccomp(Some(profile));
        s.set_linux(Some(linux));
        // Without no_new_privs the filter is loaded before the credentials change, so
        // everything the runtime does afterwards runs under it.
        let mut p = s.process().clone().unwrap();
        p.set_no_new_privileges(Some(false));
        s.set_process(Some(p));
        // A startContainer hook with a timeout runs after the load too.
        s.set_hooks(Some(
            cargohold::oci_spec::runtime::HooksBuilder::default()
                .start_container(vec![hook])
                .build()
                .unwrap(),
        ));
    });
    sh(
        &mut b,
        "cat /tmp/hooked; mkdir /tmp/d 2>&1 || echo mkdir-denied",
    );
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    assert!(ran.stdout.starts_with("hooked\n"), "{}", ran.stdout);
    // The profile is in force: mkdir is not in it.
    assert!(ran.stdout.contains("mkdir-denied"), "{}", ran.stdout);
}

#[test]
#[ignore = "requires root"]
fn rootfs_propagation_shared_and_unbindable_apply_to_the_containers_root() {
    let rt = common::runtime();
    let mut b = Bundle::new(&["true"]);
    sh(&mut b, "awk '$5 == \"/\"' /proc/self/mountinfo");
    for (propagation, want) in [
        ("shared", "shared:"),
        ("rshared", "shared:"),
        ("unbindable", "unbindable"),
        ("private", ""),
    ] {
        b.edit(|s| {
            let mut linux = s.linux().clone().unwrap();
            linux.set_rootfs_propagation(Some(propagation.into()));
            s.set_linux(Some(linux));
        });
        let ran = common::run(&rt, &b).unwrap_or_else(|e| panic!("{propagation}: {e:?}"));
        assert!(ran.status.success(), "{propagation}: {}", ran.stderr);
        let root = ran.stdout.trim();
        let (fields, _) = root.split_once(" - ").unwrap();
        let optional: Vec<&str> = fields.split(' ').skip(6).collect();
        if want.is_empty() {
            assert!(optional.is_empty(), "{propagation}: {root}");
        } else {
            assert!(
                optional.iter().any(|o| o.starts_with(want)),
                "{propagation}: {root}"
            );
        }
        // The host's propagation is untouched: our root mount is as it was.
        assert!(rt.list().unwrap().is_empty());
    }
}

#[test]
#[ignore = "requires root"]
fn failing_poststart_and_poststop_hooks_are_warnings_and_the_rest_run() {
    let mut rt = common::runtime();
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = warnings.clone();
    rt.rt
        .on_warning(move |w| sink.lock().unwrap().push(w.to_string()));
    let mut b = Bundle::new(&["true"]);
    let out = tempfile::tempdir().unwrap();
    let o = out.path().display().to_string();
    let ok = |name: &str| {
        cargohold::oci_spec::runtime::HookBuilder::default()
            .path("/bin/sh")
            .args(vec![
                "sh".to_string(),
                "-c".into(),
                format!("cat > {o}/{name}"),
            ])
            .build()
            .unwrap()
    };
    let fail = || {
        cargohold::oci_spec::runtime::HookBuilder::default()
            .path("/bin/false")
            .build()
            .unwrap()
    };
    b.edit(|s| {
        s.set_hooks(Some(
            cargohold::oci_spec::runtime::HooksBuilder::default()
                .poststart(vec![fail(), ok("poststart")])
                .poststop(vec![fail(), ok("poststop")])
                .build()
                .unwrap(),
        ));
    });
    let ran = common::run(&rt, &b).expect("hook failures after create are warnings");
    assert!(ran.status.success());
    for name in ["poststart", "poststop"] {
        assert!(
            out.path().join(name).exists(),
            "the {name} hook after the failed one did not run"
        );
    }
    let w = warnings.lock().unwrap();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].contains("poststart hook /bin/false"), "{w:?}");
    assert!(w[1].contains("poststop hook /bin/false"), "{w:?}");
}

#[test]
#[ignore = "requires root"]
fn ambient_capabilities_that_cannot_be_raised_are_dropped_with_a_warning() {
    let mut rt = common::runtime();
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = warnings.clone();
    rt.rt
        .on_warning(move |w| sink.lock().unwrap().push(w.to_string()));
    let mut b = Bundle::new(&["true"]);
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        let mut caps = p.capabilities().clone().unwrap();
        let set = |c: &[Capability]| Some(c.iter().copied().collect());
        caps.set_bounding(set(&[Capability::Kill, Capability::NetBindService]));
        caps.set_effective(set(&[Capability::Kill, Capability::NetBindService]));
        caps.set_permitted(set(&[Capability::Kill, Capability::NetBindService]));
        // As `runc spec` writes it: ambient without inheritable, but for NET_BIND_SERVICE.
        caps.set_inheritable(set(&[Capability::NetBindService]));
        caps.set_ambient(set(&[Capability::Kill, Capability::NetBindService]));
        p.set_capabilities(Some(caps));
        s.set_process(Some(p));
    });
    sh(&mut b, "grep -E '^Cap(Inh|Amb)' /proc/self/status");
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    // Only NET_BIND_SERVICE (bit 10) could be raised.
    assert_eq!(
        ran.stdout, "CapInh:\t0000000000000400\nCapAmb:\t0000000000000400\n",
        "{}",
        ran.stderr
    );
    let w = warnings.lock().unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("process.capabilities.ambient") && w[0].contains("CAP_KILL"),
        "{w:?}"
    );
}

#[test]
#[ignore = "requires root"]
fn deleting_a_created_container_needs_force() {
    let rt = common::runtime();
    let b = Bundle::new(&["sleep", "60"]);
    let (id, _guard) = common::guarded(&rt, "delcreated");
    let c = rt.create(&id, b.path(), &CreateOptions::default()).unwrap();
    let e = rt.delete(&id, false).expect_err("refused");
    assert!(e.to_string().contains("created"), "{e}");
    assert_eq!(rt.state(&id).unwrap().status, Status::Created);
    assert!(fs::metadata(format!("/proc/{}", c.pid())).is_ok());
    // With force: killed (and, as our child, reaped) and deleted.
    rt.delete(&id, true).unwrap();
    assert!(fs::metadata(format!("/proc/{}", c.pid())).is_err());
    assert!(rt.list().unwrap().is_empty());
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn configs_the_host_cannot_honour_warn_or_fail_naming_the_field() {
    let mut rt = common::runtime();
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = warnings.clone();
    rt.rt
        .on_warning(move |w| sink.lock().unwrap().push(w.to_string()));
    // An unknown capability: runc warns and goes on without it; so do we.
    let mut b = Bundle::new(&["true"]);
    let mut raw: serde_json::Value =
        serde_json::from_slice(&fs::read(b.path().join("config.json")).unwrap()).unwrap();
    raw["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .unwrap()
        .push("CAP_NO_SUCH_THING".into());
    fs::write(
        b.path().join("config.json"),
        serde_json::to_vec(&raw).unwrap(),
    )
    .unwrap();
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{}", ran.stderr);
    let w = warnings.lock().unwrap().clone();
    assert!(
        w.iter().any(|w| w.contains("process.capabilities.bounding")
            && w.contains("CAP_NO_SUCH_THING")),
        "{w:?}"
    );

    // net_cls/net_prio limits are not written by this runtime: refused, naming the field,
    // with nothing left behind (runc fails too when the controller is not mounted).
    b.save();
    b.edit(|s| {
        let n: cargohold::oci_spec::runtime::LinuxNetwork =
            serde_json::from_value(serde_json::json!({"classID": 1048577})).unwrap();
        let r = LinuxResourcesBuilder::default().network(n).build().unwrap();
        resources(s, r);
    });
    let e = common::run(&rt, &b).err().expect("refused");
    assert!(
        e.to_string().contains("linux.resources.network.classID"),
        "{e}"
    );
    // Refused before the cgroup is made; the state directory is gone again.
    assert!(rt.list().unwrap().is_empty());
    assert!(fs::read_dir(rt.root()).unwrap().next().is_none());
}
