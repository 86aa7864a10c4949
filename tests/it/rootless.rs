//! Rootless (issue 15), as the unprivileged test user of `common::rootless`: the runtime
//! example on the bundles `runc spec --rootless` writes (side by side with runc), a map of
//! subordinate ids through newuidmap, limits refused without a delegated cgroup and kept in
//! one, and the sandbox example: its view, its limits and timeout, and nothing left when
//! it is killed.

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::rootless::{self, busybox_rootfs, chown_tree, run_as, UserDir};
use crate::common::{example_bin, mounts_with};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A bundle made by `runc spec --rootless` as the test user, its process replaced by `args`
/// and edited by `edit`; owned by the user.
fn rootless_bundle(
    xdg: &Path,
    args: &[&str],
    edit: impl FnOnce(&mut serde_json::Value),
) -> UserDir {
    let b = UserDir::new(0o755);
    busybox_rootfs(&b.path);
    chown_tree(&b.path);
    let out = run_as(
        xdg,
        &[
            "sh",
            "-c",
            &format!("cd {} && runc spec --rootless", b.path.display()),
        ],
    );
    assert!(
        out.status.success(),
        "runc spec --rootless: {:?}",
        text(&out)
    );
    let file = b.path.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = args.iter().map(|a| serde_json::Value::from(*a)).collect();
    edit(&mut spec);
    fs::write(&file, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    chown_tree(&b.path);
    b
}

/// `runtime run ID` as the test user in `bundle`, with its default root (under the user's
/// `XDG_RUNTIME_DIR`).
fn ours(xdg: &Path, bundle: &Path, id: &str) -> Output {
    let rt = example_bin("runtime");
    let cmd = format!("cd {} && exec {} run {id}", bundle.display(), rt.display());
    run_as(xdg, &["sh", "-c", &cmd])
}

/// What a probe inside sees: credentials, capabilities, mounts, devices, maps, namespaces,
/// and which writes work.
const PROBE: &str = "grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid|Gid|Groups)' /proc/self/status; \
    awk '{print $5, $6, $9, $10}' /proc/self/mountinfo | sort; \
    ls -ln /dev | awk '{print $1, $3, $4, $NF}'; hostname; \
    cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; ls /proc/self/ns | sort; \
    touch /x 2>&1; echo end";

/// runc's v1 cgroup mount for a container without a cgroup is a tmpfs it leaves writable
/// although the spec says `ro`; ours is read-only as the spec says (the hierarchies below
/// are read-only binds in both).
fn without_cgroup_tmpfs(s: &str) -> String {
    s.lines()
        .filter(|l| !(l.starts_with("/sys/fs/cgroup ") && l.contains("uid=")))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn runtime_runs_runc_spec_rootless_bundles_as_runc_does() {
    let u = rootless::user();
    let xdg = UserDir::new(0o700);
    let b = rootless_bundle(&xdg.path, &["sh", "-c", PROBE], |_| {});
    let runc_cmd = format!(
        "cd {} && exec runc --root {}/runc run rl-runc",
        b.path.display(),
        xdg.path.display()
    );
    let theirs = run_as(&xdg.path, &["sh", "-c", &runc_cmd]);
    let mine = ours(&xdg.path, &b.path, "rl-ours");
    let (theirs_out, theirs_err) = text(&theirs);
    let (mine_out, mine_err) = text(&mine);
    assert!(theirs.status.success(), "runc: {theirs_err}");
    assert!(mine.status.success(), "ours: {mine_err}");
    assert_eq!(
        without_cgroup_tmpfs(&mine_out),
        without_cgroup_tmpfs(&theirs_out)
    );
    // root inside, the user outside, one id each, setgroups denied; a read-only root
    assert!(mine_out.contains("Uid:\t0\t0\t0\t0"), "{mine_out}");
    assert!(
        mine_out.contains(&format!("0 {:>10} {:>10}\n", u.uid, 1)),
        "{mine_out}"
    );
    assert!(mine_out.contains("\ndeny\n"), "{mine_out}");
    assert!(mine_out.contains("Read-only file system") && mine_out.ends_with("end\n"));
    // the state went under the user's runtime directory and is gone
    let state = xdg.path.join("cargohold-runtime");
    assert!(state.is_dir(), "no state root at {}", state.display());
    assert!(!state.join("rl-ours").exists());
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn runtime_maps_subordinate_ids_through_newuidmap() {
    let u = rootless::user();
    let xdg = UserDir::new(0o700);
    let b = rootless_bundle(
        &xdg.path,
        &["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id"],
        |spec| {
            let maps = |own: u32, sub: u32| {
                serde_json::json!([
                    {"containerID": 0, "hostID": own, "size": 1},
                    {"containerID": 1, "hostID": sub, "size": 65536},
                ])
            };
            spec["linux"]["uidMappings"] = maps(u.uid, u.subuid);
            spec["linux"]["gidMappings"] = maps(u.gid, u.subgid);
            spec["process"]["user"] =
                serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6]});
        },
    );
    let out = ours(&xdg.path, &b.path, "rl-subids");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let map = |own: u32, sub: u32| {
        format!(
            "{:>10} {:>10} {:>10}\n{:>10} {:>10} {:>10}\n",
            0, own, 1, 1, sub, 65536
        )
    };
    let want = format!(
        "{}{}uid=1000 gid=1000 groups=5,6\n",
        map(u.uid, u.subuid),
        map(u.gid, u.subgid)
    );
    assert_eq!(stdout, want);
    // a range outside the user's is refused by the helper, named
    let b = rootless_bundle(&xdg.path, &["true"], |spec| {
        spec["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": 1, "size": 10},
        ]);
    });
    let out = ours(&xdg.path, &b.path, "rl-badmap");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("newuidmap") && stderr.contains("/etc/subuid"),
        "{stderr}"
    );
    assert!(!xdg.path.join("cargohold-runtime/rl-badmap").exists());
}

/// The memory and pids hierarchies of this (hybrid or v1) host, if it has them.
fn v1_dir(controller: &str) -> Option<std::path::PathBuf> {
    let d = Path::new("/sys/fs/cgroup").join(controller);
    d.join("cgroup.procs").exists().then_some(d)
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn rootless_limits_need_a_cgroup_delegated_to_the_user() {
    let xdg = UserDir::new(0o700);
    let limits = |spec: &mut serde_json::Value| {
        spec["linux"]["resources"] =
            serde_json::json!({"memory": {"limit": 67108864}, "pids": {"limit": 20}});
    };
    let probe = "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max";
    let b = rootless_bundle(&xdg.path, &["sh", "-c", probe], limits);
    // no cgroup of the user's: refused before anything runs, saying what to do
    let out = ours(&xdg.path, &b.path, "rl-limits");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("rootless container with limits") && stderr.contains("delegated"),
        "{stderr}"
    );
    assert!(!xdg.path.join("cargohold-runtime/rl-limits").exists());
    assert!(crate::common::cgroups_named("cargohold-rl-limits").is_empty());

    // delegated (here: v1 directories given to the user, which the caller's process is in)
    let (Some(mem), Some(pids)) = (v1_dir("memory"), v1_dir("pids")) else {
        eprintln!("no v1 memory and pids hierarchies: the delegated path is not tried here");
        return;
    };
    // the caller in a leaf of the delegated subtree; the container's cgroup goes beside it
    let name = format!("cargohold-rl-deleg-{}", std::process::id());
    let delegated = [mem.join(&name), pids.join(&name)];
    for d in &delegated {
        fs::create_dir_all(d.join("leaf")).unwrap();
        chown_tree(d);
    }
    let rt = example_bin("runtime");
    let cmd = format!(
        "echo $$ > {m}/leaf/cgroup.procs && echo $$ > {p}/leaf/cgroup.procs && cd {b} && \
         {rt} run rl-limits; echo rc=$?; ls {m}",
        m = delegated[0].display(),
        p = delegated[1].display(),
        b = b.path.display(),
        rt = rt.display()
    );
    let out = run_as(&xdg.path, &["sh", "-c", &cmd]);
    let (stdout, stderr) = text(&out);
    for d in &delegated {
        // the shell has ended: the directories are empty
        let deadline = Instant::now() + Duration::from_secs(5);
        while fs::remove_dir(d.join("leaf"))
            .and_then(|()| fs::remove_dir(d))
            .is_err()
        {
            assert!(Instant::now() < deadline, "{} busy", d.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        stdout.starts_with("67108864\n20\nrc=0\n"),
        "{stdout} {stderr}"
    );
    // its cgroup was made in the delegated one and removed
    assert!(!stdout.contains("cargohold-rl-limits"), "{stdout}");
}

/// The delegated path on cgroup v2: a subtree of the cgroup2 hierarchy given to the test
/// user (a directory with its `cgroup.procs`, `cgroup.subtree_control` and
/// `cgroup.threads`, hugetlb enabled for its children), the caller moved into a leaf of
/// it by root (cgroup v2 moves need the common ancestor's `cgroup.procs`); the
/// container's cgroup is made beside the leaf with its hugetlb limit (on this hybrid host
/// hugetlb is the controller the cgroup2 hierarchy has), and removed by `delete`.
#[test]
#[ignore = "requires root (to make the test user)"]
fn rootless_limits_in_a_delegated_cgroup2_subtree() {
    let unified = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .map(std::path::PathBuf::from)
        .into_iter()
        .find(|d| d.join("cgroup.subtree_control").exists());
    let Some(unified) = unified else {
        eprintln!("no cgroup2 hierarchy here: the cgroup2 delegated path is not tried");
        return;
    };
    let controllers = fs::read_to_string(unified.join("cgroup.subtree_control")).unwrap();
    if !controllers.split_whitespace().any(|c| c == "hugetlb") {
        eprintln!("hugetlb is not enabled in {}: not tried", unified.display());
        return;
    }
    let xdg = UserDir::new(0o700);
    let b = rootless_bundle(&xdg.path, &["sh", "-c", "cat /proc/self/cgroup"], |spec| {
        spec["linux"]["resources"] = serde_json::json!({
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]
        });
    });
    let name = format!("cargohold-rl-deleg2-{}", std::process::id());
    let sub = unified.join(&name);
    fs::create_dir_all(sub.join("leaf")).unwrap();
    fs::write(sub.join("cgroup.subtree_control"), "+hugetlb").unwrap();
    let u = rootless::user();
    for d in [sub.clone(), sub.join("leaf")] {
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            std::os::unix::fs::chown(d.join(f), Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    let pid_file = xdg.path.join("shell.pid");
    let rt = example_bin("runtime");
    let cg = sub.join("cargohold-rl-huge");
    let cmd = format!(
        "echo $$ > {pf} && while ! grep -q ':/{name}/leaf$' /proc/self/cgroup; do sleep 0.02; done \
         && cd {b} && {rt} create rl-huge && cat {cg}/hugetlb.2MB.max && grep -c . {cg}/cgroup.procs \
         && {rt} delete --force rl-huge; echo rc=$?; ls {sub}",
        pf = pid_file.display(),
        b = b.path.display(),
        rt = rt.display(),
        cg = cg.display(),
        sub = sub.display(),
    );
    let runner = {
        let xdg = xdg.path.clone();
        std::thread::spawn(move || run_as(&xdg, &["sh", "-c", &cmd]))
    };
    // root moves the user's shell into the leaf, as systemd would have placed it
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the shell never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    fs::write(sub.join("leaf/cgroup.procs"), pid.to_string()).unwrap();
    let out = runner.join().unwrap();
    let (stdout, stderr) = text(&out);
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::remove_dir(sub.join("leaf"))
        .and_then(|()| fs::remove_dir(&sub))
        .is_err()
    {
        assert!(Instant::now() < deadline, "{} busy", sub.display());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        stdout.starts_with("4194304\n1\nrc=0\n"),
        "{stdout} {stderr}"
    );
    assert!(
        !stdout.contains("cargohold-rl-huge"),
        "not removed: {stdout}"
    );
}

/// A host directory with busybox as `bin/`, a data file, and below `rw/` a writable tmpfs
/// of the host's (a mount under the view, which the sandbox must see read-only too).
struct HostDir {
    dir: tempfile::TempDir,
}

impl HostDir {
    fn new() -> HostDir {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        fs::copy("/bin/busybox", bin.join("busybox")).unwrap();
        for applet in ["sh", "cat", "id", "touch", "sleep", "awk", "echo", "true"] {
            std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
        }
        fs::create_dir(dir.path().join("data")).unwrap();
        fs::write(dir.path().join("data/in.txt"), "from the host\n").unwrap();
        let rw = dir.path().join("rw");
        fs::create_dir(&rw).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "mode=1777", "tmpfs"])
            .arg(&rw)
            .status()
            .unwrap();
        assert!(st.success());
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        HostDir { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path().join("rw"))
            .status();
    }
}

fn sandbox(xdg: &Path, flags: &[&str], root: &Path, argv: &[&str]) -> Output {
    let bin = example_bin("sandbox");
    let mut all = vec![bin.to_str().unwrap()];
    all.extend_from_slice(flags);
    all.push(root.to_str().unwrap());
    all.extend_from_slice(argv);
    run_as(xdg, &all)
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn sandbox_runs_rootless_over_a_read_only_view() {
    let u = rootless::user();
    let xdg = UserDir::new(0o700);
    let host = HostDir::new();
    let out = sandbox(
        &xdg.path,
        &["--timeout", "30"],
        host.path(),
        &[
            "sh",
            "-c",
            "cat /data/in.txt; id -u; touch /data/x 2>/dev/null || echo ro; \
             touch /rw/x 2>/dev/null || echo rw ro; echo w > /tmp/f && cat /tmp/f; \
             awk 'NR>2{print $1}' /proc/net/dev; exit 3",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout,
        format!("from the host\n{}\nro\nrw ro\nw\nlo:\n", u.uid),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!host.path().join("rw/x").exists());
    // its state is under the user's runtime directory, and gone
    let bundles = xdg.path.join("cargohold/sandbox/bundles");
    assert!(fs::read_dir(&bundles).unwrap().next().is_none());

    // the wall-clock timeout
    let t = Instant::now();
    let out = sandbox(
        &xdg.path,
        &["--timeout", "1"],
        host.path(),
        &["sleep", "60"],
    );
    assert_eq!(out.status.code(), Some(124), "{:?}", text(&out));
    assert!(t.elapsed() < Duration::from_secs(30));

    // a memory limit without a delegated cgroup: refused, saying what to delegate
    let out = sandbox(&xdg.path, &["--memory", "67108864"], host.path(), &["true"]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("delegated"), "{stderr}");
}

/// The sandbox example run by the test user, killed with SIGKILL while its command runs:
/// no process of it is left and no mount names it.
#[test]
#[ignore = "requires root (to make the test user)"]
fn a_killed_rootless_sandbox_leaves_nothing() {
    let xdg = UserDir::new(0o700);
    let host = HostDir::new();
    let marker = format!("rlmarker{}", std::process::id());
    let bin = example_bin("sandbox");
    let mut owner = std::process::Command::new("runuser")
        .args(["-u", rootless::NAME, "--", "env"])
        .arg(format!("XDG_RUNTIME_DIR={}", xdg.path.display()))
        .arg(bin)
        .arg(host.path())
        .args(["sh", "-c", &format!("sleep 1000 & wait; : {marker}")])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let runuser = owner.id();
    let with_marker = || -> Vec<i32> {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter(|pid| {
                fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker))
            })
            .collect()
    };
    // the owner is the sandbox example (runuser's child); the rest are the sandbox's
    let deadline = Instant::now() + Duration::from_secs(20);
    let example = loop {
        let pids = with_marker();
        let example = pids.iter().copied().find(|&p| {
            fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit(')')
                        .next()?
                        .split_whitespace()
                        .nth(1)?
                        .parse()
                        .ok()
                })
                == Some(runuser as i32)
        });
        if let Some(e) = example.filter(|_| pids.len() >= 3) {
            break e;
        }
        assert!(Instant::now() < deadline, "the sandbox never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: a process of this test's (the example runuser started).
    assert_eq!(unsafe { libc::kill(example, libc::SIGKILL) }, 0);
    owner.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !with_marker().is_empty() {
        assert!(Instant::now() < deadline, "the sandbox outlived its owner");
        std::thread::sleep(Duration::from_millis(20));
    }
    // no mount namespace of any process holds a mount of its view or bundle (once the
    // kernel has finished killing the pid namespace: its other processes, `sleep` here,
    // die a moment after its init)
    let needle = xdg.path.display().to_string();
    let holders = || -> Vec<String> {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                fs::read_to_string(e.path().join("mountinfo")).is_ok_and(|m| m.contains(&needle))
            })
            .map(|e| {
                let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
                format!(
                    "{} {}",
                    e.file_name().to_string_lossy(),
                    String::from_utf8_lossy(&cmd)
                )
            })
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !holders().is_empty() {
        assert!(
            Instant::now() < deadline,
            "mounts of {needle} held by {:?}",
            holders()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mounts_with(&needle).is_empty());
}

/// The engine example as the test user, on an engine root of its own (`--root`), with a
/// busybox image imported as `localhost/rl:1`.
struct RootlessEngine {
    xdg: UserDir,
    root: std::path::PathBuf,
}

impl RootlessEngine {
    fn new() -> RootlessEngine {
        let xdg = UserDir::new(0o700);
        let root = xdg.path.join("engine");
        let e = RootlessEngine { xdg, root };
        let src = UserDir::new(0o755);
        busybox_rootfs(&src.path);
        for applet in ["httpd", "wget", "ip", "mkdir", "pwd", "stat", "timeout"] {
            std::os::unix::fs::symlink("busybox", src.path.join("rootfs/bin").join(applet))
                .unwrap();
        }
        fs::create_dir(src.path.join("rootfs/etc")).unwrap();
        fs::write(
            src.path.join("rootfs/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        )
        .unwrap();
        let tar = src.path.join("rootfs.tar");
        crate::common::tar_create(&src.path.join("rootfs"), &tar);
        chown_tree(&src.path);
        let out = e.engine(&["import", tar.to_str().unwrap(), "localhost/rl:1"]);
        assert!(out.status.success(), "import: {:?}", text(&out));
        e
    }

    fn engine(&self, args: &[&str]) -> Output {
        self.engine_env(&[], args)
    }

    /// `engine ARGS` with `NAME=value` pairs added to its environment.
    fn engine_env(&self, env: &[&str], args: &[&str]) -> Output {
        let bin = example_bin("engine");
        let root = self.root.display().to_string();
        let mut all = env.to_vec();
        all.extend([bin.to_str().unwrap(), "--root", &root]);
        all.extend_from_slice(args);
        run_as(&self.xdg.path, &all)
    }

    /// `engine ARGS`, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.engine(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "engine {args:?}: {stderr}");
        stdout
    }
}

impl Drop for RootlessEngine {
    fn drop(&mut self) {
        // whatever a failed test left running
        let _ = self.engine(&[
            "rm",
            "-f",
            "rl-d",
            "rl-web",
            "rl-fuse",
            "rl-nweb",
            "rl-nother",
            "rl-keep",
        ]);
    }
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_runs_containers_rootless() {
    let u = rootless::user();
    let e = RootlessEngine::new();
    // root inside, the user outside; the image's files, a writable upper layer
    let out = e.ok(&[
        "run",
        "--rm",
        "localhost/rl:1",
        "sh",
        "-c",
        "id -u; cat /proc/self/uid_map; echo w > /new && cat /new; cat /etc/passwd | head -1",
    ]);
    assert_eq!(
        out,
        format!(
            "0\n{:>10} {:>10} {:>10}\n{:>10} {:>10} {:>10}\nw\nroot:x:0:0:root:/root:/bin/sh\n",
            0, u.uid, 1, 1, u.subuid, 65536
        )
    );
    // a working directory that the image lacks is made (in the upper layer)
    assert_eq!(
        e.ok(&["run", "--rm", "-w", "/srv/app/x", "localhost/rl:1", "pwd"]),
        "/srv/app/x\n"
    );
    // a missing command: Docker's message and code
    let out = e.engine(&["run", "--rm", "localhost/rl:1", "no-such-cmd"]);
    assert_eq!(out.status.code(), Some(127), "{:?}", text(&out));
    // detached, exec, logs, top, rm
    e.ok(&[
        "run",
        "-d",
        "--name",
        "rl-d",
        "localhost/rl:1",
        "sh",
        "-c",
        "echo up; sleep 600",
    ]);
    assert_eq!(e.ok(&["exec", "rl-d", "id", "-u"]), "0\n");
    let out = e.engine(&["exec", "rl-d", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    assert!(e.ok(&["top", "rl-d"]).contains("sleep 600"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while e.ok(&["logs", "rl-d"]) != "up\n" {
        assert!(Instant::now() < deadline, "no log line");
        std::thread::sleep(Duration::from_millis(50));
    }
    e.ok(&["rm", "-f", "rl-d"]);
    // a named volume outlives its container; a bind mount writes to the user's directory
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "rlvol:/data",
        "localhost/rl:1",
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "-v",
            "rlvol:/data",
            "localhost/rl:1",
            "cat",
            "/data/f"
        ]),
        "kept\n"
    );
    let host = UserDir::new(0o755);
    let bind = format!("{}:/h", host.path.display());
    e.ok(&[
        "run",
        "--rm",
        "-v",
        &bind,
        "localhost/rl:1",
        "sh",
        "-c",
        "echo back > /h/b",
    ]);
    let b = host.path.join("b");
    assert_eq!(fs::read_to_string(&b).unwrap(), "back\n");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        fs::metadata(&b).unwrap().uid(),
        u.uid,
        "root inside is the user outside"
    );
    // what needs root or a delegated cgroup is refused, named, before anything runs
    let out = e.engine(&["run", "--rm", "--memory", "64m", "localhost/rl:1", "true"]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("delegated"),
        "{stderr}"
    );
    // the default network's pasta does not mix with a user-defined network
    e.ok(&["network", "create", "rlmix"]);
    let out = e.engine(&[
        "run",
        "--rm",
        "--network",
        "bridge",
        "--network",
        "rlmix",
        "localhost/rl:1",
        "true",
    ]);
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("cannot be combined with user-defined"),
        "{stderr}"
    );
    e.ok(&["network", "rm", "rlmix"]);
    // nothing is left: no container, no mount of the root, no process of it
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(mounts_with(&e.root.display().to_string()).is_empty());
    let containers = e.root.join("containers");
    let left: Vec<_> = fs::read_dir(&containers)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name())
                .filter(|n| !n.to_string_lossy().starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "left in {}: {left:?}",
        containers.display()
    );
}

/// The pids of live fuse-overlayfs processes whose command line names `needle`.
fn fuse_daemons(needle: &str) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd);
            let zombie = fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            });
            cmd.starts_with("fuse-overlayfs\0") && cmd.contains(needle) && !zombie
        })
        .collect()
}

/// The processes whose mount namespace has a mount naming `needle`.
fn mount_holders(needle: &str) -> Vec<String> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            fs::read_to_string(e.path().join("mountinfo")).is_ok_and(|m| m.contains(needle))
        })
        .map(|e| {
            let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
            format!(
                "{} {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmd)
            )
        })
        .collect()
}

/// Waits until no fuse-overlayfs daemon names `needle` and no process has a mount of it.
fn wait_nothing_left(needle: &str, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (daemons, holders) = (fuse_daemons(needle), mount_holders(needle));
        if daemons.is_empty() && holders.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {after}: fuse-overlayfs {daemons:?}, mounts held by {holders:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mounts_with(needle).is_empty());
}

/// The runtime example as the test user on a bundle whose root is an overlay of its busybox
/// tree ([`cargohold::runtime::OVERLAY_ROOT_ANNOTATION`]) with an option the kernel's
/// overlayfs refuses (`EINVAL`, as a kernel before 5.11 refuses `userxattr`): by default
/// fuse-overlayfs stands in, and the write lands in the upper dir; with `x-driver=native`
/// the failure is the kernel's, named.
#[test]
#[ignore = "requires root (to make the test user)"]
fn runtime_falls_back_to_fuse_overlayfs_where_the_kernel_refuses_the_overlay() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(0o666)).unwrap();
    let u = rootless::user();
    let xdg = UserDir::new(0o700);
    let script = "awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++); print $(i + 1) }' \
        /proc/self/mountinfo; ls /bin/busybox; echo w > /new && cat /new";
    let bundle = |driver: &str| {
        let driver = driver.to_owned();
        rootless_bundle(&xdg.path, &["sh", "-c", script], move |spec| {
            let b = spec["root"]["path"].as_str().unwrap().to_owned();
            assert_eq!(b, "rootfs");
            spec["root"]["path"] = "merged".into();
            spec["root"]["readonly"] = false.into();
            spec["annotations"][cargohold::runtime::OVERLAY_ROOT_ANNOTATION] = format!(
                "lowerdir=BUNDLE/rootfs,upperdir=BUNDLE/upper,workdir=BUNDLE/work,\
                 no_such_option{driver}"
            )
            .into();
        })
    };
    let prepare = |b: &UserDir| {
        // the bundle's own path in the options; the dirs the overlay needs
        let file = b.path.join("config.json");
        let text = fs::read_to_string(&file).unwrap();
        fs::write(&file, text.replace("BUNDLE", &b.path.display().to_string())).unwrap();
        for d in ["merged", "upper", "work"] {
            fs::create_dir(b.path.join(d)).unwrap();
        }
        chown_tree(&b.path);
    };
    let b = bundle("");
    prepare(&b);
    let out = ours(&xdg.path, &b.path, "rl-fuse-fallback");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout, "fuse.fuse-overlayfs\n/bin/busybox\nw\n");
    // fuse-overlayfs's chatter (`unknown argument ignored: lazytime`) is not the container's
    assert!(!stderr.contains("argument"), "{stderr}");
    let new = b.path.join("upper/new");
    assert_eq!(fs::read_to_string(&new).unwrap(), "w\n");
    assert_eq!(fs::metadata(&new).unwrap().uid(), u.uid);
    let needle = b.path.display().to_string();
    wait_nothing_left(&needle, "the runtime's run");

    let b = bundle(",x-driver=native");
    prepare(&b);
    let out = ours(&xdg.path, &b.path, "rl-fuse-native");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("mounting the overlay of the rootfs") && !stderr.contains("fuse"),
        "{stderr}"
    );

    // fuse-overlayfs failing: the error says so, with what it printed
    let b = bundle(",x-driver=fuse-overlayfs");
    prepare(&b);
    fs::remove_dir(b.path.join("upper")).unwrap();
    let out = ours(&xdg.path, &b.path, "rl-fuse-fails");
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("mounting the overlay of the rootfs")
            && stderr.contains("with fuse-overlayfs")
            && stderr.contains("fuse-overlayfs exited with status 1: ")
            && stderr.contains("upper"),
        "{stderr}"
    );
    wait_nothing_left(&b.path.display().to_string(), "a failed fuse-overlayfs");

    // fuse-overlayfs missing (a device over it, in a mount namespace of the test's): the
    // failure names the package and the kernel, forced or needed
    let without_fuse = |b: &UserDir, id: &str| {
        let run = format!(
            "runuser -u {} -- env XDG_RUNTIME_DIR={} sh -c 'cd {} && exec {} run {id}'",
            rootless::NAME,
            xdg.path.display(),
            b.path.display(),
            example_bin("runtime").display()
        );
        let script = format!("mount --bind /dev/null /usr/bin/fuse-overlayfs && {run}");
        let mut cmd = std::process::Command::new("unshare");
        cmd.args(["-m", "sh", "-c", &script]);
        crate::common::output_via_files(&mut cmd)
    };
    for (driver, id, says) in [
        (
            ",x-driver=fuse-overlayfs",
            "rl-fuse-none1",
            "is not supported on this host",
        ),
        ("", "rl-fuse-none2", "(no fallback: "),
    ] {
        let b = bundle(driver);
        prepare(&b);
        let out = without_fuse(&b, id);
        let (_, stderr) = text(&out);
        assert!(!out.status.success());
        assert!(
            stderr.contains(says)
                && stderr.contains("apt-get install fuse-overlayfs")
                && stderr.contains("Linux 5.11"),
            "{stderr}"
        );
    }
}

/// The fuse-overlayfs fallback of the rootless overlay, forced (`CARGOHOLD_OVERLAY`) on a
/// kernel that has overlayfs in user namespaces: the container sees the image, its root is
/// a fuse-overlayfs mount, its writes land in the upper dir with the user's ids, and when
/// it ends (removed, or its init SIGKILLed) no daemon and no mount is left.
#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_mounts_the_overlay_with_fuse_overlayfs_rootless() {
    assert!(
        Path::new("/usr/bin/fuse-overlayfs").exists(),
        "fuse-overlayfs is not installed (apt-get install fuse-overlayfs)"
    );
    // a user mounts FUSE through /dev/fuse, which Debian's udev rules make 0666; this VM
    // ships it 0600
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    fs::set_permissions("/dev/fuse", fs::Permissions::from_mode(0o666)).unwrap();
    let u = rootless::user();
    let e = RootlessEngine::new();
    let fuse = ["CARGOHOLD_OVERLAY=fuse-overlayfs"];
    let root = e.root.display().to_string();
    // attached: the image's files, a write, the root a fuse-overlayfs mount
    let out = e.engine_env(
        &fuse,
        &[
            "run",
            "--rm",
            "localhost/rl:1",
            "sh",
            "-c",
            "head -1 /etc/passwd; echo w > /new && cat /new; \
             awk '$5 == \"/\" { for (i = 7; $i != \"-\"; i++); print $(i + 1) }' /proc/self/mountinfo",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("argument"),
        "fuse-overlayfs's chatter: {stderr}"
    );
    assert_eq!(
        stdout,
        "root:x:0:0:root:/root:/bin/sh\nw\nfuse.fuse-overlayfs\n"
    );
    wait_nothing_left(&root, "run --rm");

    // detached: the write in the upper dir, owned by the user; the daemon a process of the
    // container's
    let id = {
        let out = e.engine_env(
            &fuse,
            &[
                "run",
                "-d",
                "--name",
                "rl-fuse",
                "localhost/rl:1",
                "sh",
                "-c",
                "rm /bin/true && mkdir /made && echo up > /made/f && sleep 600",
            ],
        );
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        stdout.trim().to_owned()
    };
    let f = e.root.join("containers").join(&id).join("upper/made/f");
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_to_string(&f).ok().as_deref() != Some("up\n") {
        assert!(Instant::now() < deadline, "no {}", f.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        fs::metadata(&f).unwrap().uid(),
        u.uid,
        "root inside is the user outside"
    );
    // the engine reads fuse-overlayfs's upper dir as overlayfs's (its whiteout)
    let diff = e.ok(&["diff", "rl-fuse"]);
    for line in ["C /bin", "D /bin/true", "A /made", "A /made/f"] {
        assert!(diff.lines().any(|l| l == line), "{line} not in {diff}");
    }
    let ps = e.ok(&["exec", "rl-fuse", "sh", "-c", "cat /proc/[0-9]*/comm"]);
    assert!(ps.contains("fuse-overlayfs"), "{ps}");
    assert_eq!(fuse_daemons(&root).len(), 1);
    e.ok(&["rm", "-f", "rl-fuse"]);
    wait_nothing_left(&root, "rm -f");

    // the container's init SIGKILLed from the host: its daemon and mount go with it
    let out = e.engine_env(
        &fuse,
        &[
            "run",
            "-d",
            "--name",
            "rl-fuse",
            "localhost/rl:1",
            "sleep",
            "600",
        ],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    let daemon = fuse_daemons(&root);
    assert_eq!(daemon.len(), 1);
    // the daemon's parent is the container's init (it daemonized to pid 1 of the namespace)
    let stat = fs::read_to_string(format!("/proc/{}/stat", daemon[0])).unwrap();
    let init: i32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let comm = fs::read_to_string(format!("/proc/{init}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    // SAFETY: the container's init, a process this test started (through the engine).
    assert_eq!(unsafe { libc::kill(init, libc::SIGKILL) }, 0);
    wait_nothing_left(&root, "SIGKILL of the init");
    e.ok(&["rm", "-f", "rl-fuse"]);

    // a driver the runtime does not know is refused, named
    let out = e.engine_env(
        &["CARGOHOLD_OVERLAY=fuse"],
        &["run", "--rm", "localhost/rl:1", "true"],
    );
    let (_, stderr) = text(&out);
    assert!(
        !out.status.success() && stderr.contains("unknown overlay driver \"fuse\""),
        "{stderr}"
    );
}

/// A shell script run as root in a network namespace of its own with loopback and a veth
/// pair whose far end leads nowhere (pasta wants a routable interface to copy; nothing
/// leaves the namespace); its output.
fn in_private_netns(script: &str) -> Output {
    let setup = "ip link set lo up && ip link add rl0 type veth peer name rl1 && \
                 ip addr add 10.254.0.1/24 dev rl0 && ip link set rl0 up && \
                 ip link set rl1 up && ip route add default via 10.254.0.2";
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--net", "sh", "-c", &format!("{setup} && {script}")]);
    crate::common::output_via_files(&mut cmd)
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_publishes_ports_rootless_through_pasta() {
    assert!(
        Path::new("/usr/bin/pasta").exists(),
        "pasta (Debian's passt) is not installed: .ci/run installs it"
    );
    publishes_a_port_rootless(None, "pasta");
}

/// Without pasta (a `PATH` that has only slirp4netns and the id map helpers), slirp4netns
/// serves the same.
#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_publishes_ports_rootless_through_slirp4netns() {
    assert!(
        Path::new("/usr/bin/slirp4netns").exists(),
        "slirp4netns is not installed: .ci/run installs it"
    );
    let only = UserDir::new(0o755);
    for tool in ["slirp4netns", "newuidmap", "newgidmap"] {
        std::os::unix::fs::symlink(Path::new("/usr/bin").join(tool), only.path.join(tool)).unwrap();
    }
    publishes_a_port_rootless(Some(&only.path), "slirp4netns");
}

/// A rootless container publishing a port through the user-mode helper `helper` (the
/// only one in `path` when given).
fn publishes_a_port_rootless(path: Option<&Path>, helper: &str) {
    // pasta makes the container's interface through /dev/net/tun, which Debian's udev
    // rules make 0666; this VM ships it 0600
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(0o666)).unwrap();
    let e = RootlessEngine::new();
    let www = UserDir::new(0o755);
    fs::write(www.path.join("index.html"), "rootless page\n").unwrap();
    chown_tree(&www.path);
    let path_env = path.map_or_else(String::new, |p| format!("PATH={}", p.display()));
    let engine = |args: &str| {
        format!(
            "runuser -u {} -- env {path_env} XDG_RUNTIME_DIR={} HOME={} {} --root {} {args}",
            rootless::NAME,
            e.xdg.path.display(),
            e.xdg.path.display(),
            example_bin("engine").display(),
            e.root.display()
        )
    };
    // the page through the published port, `port`, the helper running; then the helper
    // gone with the container (by the time `rm` returns) and the port free again
    // (busybox nc binds it)
    let script = format!(
        "{run} >/dev/null && \
         for i in $(seq 50); do busybox wget -qO- http://127.0.0.1:18080/index.html && break; \
           sleep 0.1; done; {port} && {count} && {rm} >/dev/null && {count} && \
         busybox timeout 1 busybox nc -l -p 18080; echo nc=$?",
        run = engine(&format!(
            "run -d --name rl-web -p 127.0.0.1:18080:80 -v {}:/www:ro localhost/rl:1 \
             httpd -f -p 80 -h /www",
            www.path.display()
        )),
        port = engine("port rl-web"),
        // the helper's live processes (a zombie has closed its sockets)
        count = format!(
            "ps -eo stat=,args= | awk '$1 !~ /^Z/ {{ n = split($2, a, \"/\"); \
             if (a[n] ~ /^{helper}/) c++ }} END {{ print c + 0 }}'"
        ),
        rm = engine("rm -f rl-web"),
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout, "rootless page\n80/tcp -> 127.0.0.1:18080\n1\n0\nnc=143\n",
        "{stderr}"
    );
}

#[test]
#[ignore = "requires root (to make the test user)"]
fn a_killed_owner_takes_its_pasta_along() {
    assert!(
        Path::new("/usr/bin/pasta").exists(),
        "pasta (Debian's passt) is not installed: .ci/run installs it"
    );
    killed_owner_leaves_no_helper(None);
}

/// Without pasta, slirp4netns goes with its owner too.
#[test]
#[ignore = "requires root (to make the test user)"]
fn a_killed_owner_takes_its_slirp4netns_along() {
    assert!(
        Path::new("/usr/bin/slirp4netns").exists(),
        "slirp4netns is not installed: .ci/run installs it"
    );
    let only = UserDir::new(0o755);
    for tool in ["slirp4netns", "newuidmap", "newgidmap"] {
        std::os::unix::fs::symlink(Path::new("/usr/bin").join(tool), only.path.join(tool)).unwrap();
    }
    killed_owner_leaves_no_helper(Some(&only.path));
}

/// An attached rootless container on the default network publishing a port (through the
/// only helper in `path` when given), its owner (the engine example) SIGKILLed while it
/// serves: within seconds no process of the container or of its helper is left, no mount
/// names the engine's directory, and the next `Engine::open` finds it exited and forgets
/// its user-mode network.
fn killed_owner_leaves_no_helper(path: Option<&Path>) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(0o666)).unwrap();
    let e = RootlessEngine::new();
    let www = UserDir::new(0o755);
    fs::write(www.path.join("index.html"), "attached page\n").unwrap();
    chown_tree(&www.path);
    // in the command line of the container's processes (the volume's mount point)
    let marker = format!("rlkill{}", std::process::id());
    let path_env = path.map_or_else(String::new, |p| format!("PATH={}", p.display()));
    let xdg = e.xdg.path.display().to_string();
    let run = format!(
        "runuser -u {user} -- env {path_env} XDG_RUNTIME_DIR={xdg} HOME={xdg} {bin} --root {root} \
         run --name rl-att -p 127.0.0.1:18090:80 -v {www}:/{marker}:ro localhost/rl:1 \
         httpd -f -p 80 -h /{marker}",
        user = rootless::NAME,
        bin = example_bin("engine").display(),
        root = e.root.display(),
        www = www.path.display(),
    );
    // the page served; then the example (runuser's child) SIGKILLed, its runuser reaped
    let script = format!(
        "{run} </dev/null >/dev/null 2>&1 & r=$!; \
         for i in $(seq 100); do busybox wget -qO- http://127.0.0.1:18090/index.html && break; \
           sleep 0.1; done; \
         kill -KILL $(ps -o pid= --ppid $r); wait $r; echo killed"
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "attached page\nkilled\n", "{stderr}");
    // live processes whose command line names the container (its volume) or the engine's
    // directories (the helper's pid file or API socket)
    let left = || -> Vec<String> {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.parse::<i32>().is_ok())
            })
            .filter_map(|e| {
                let cmd = fs::read(e.path().join("cmdline")).ok()?;
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                let stat = fs::read_to_string(e.path().join("stat")).ok()?;
                let zombie = stat.rsplit(')').next()?.split_whitespace().next() == Some("Z");
                ((cmd.contains(&marker) || cmd.contains(&xdg)) && !zombie)
                    .then(|| format!("{} {cmd}", e.file_name().to_string_lossy()))
            })
            .collect()
    };
    let holders = || -> Vec<String> {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|e| {
                fs::read_to_string(e.path().join("mountinfo")).is_ok_and(|m| m.contains(&xdg))
            })
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !left().is_empty() || !holders().is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running: {:?}; mounts held by {:?}",
            left(),
            holders()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // the next open repairs the record: exited, no user-mode network left
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("rl-att Exited"), "{ps}");
    let usermode = e.root.join("networks/.usermode");
    let kept: Vec<_> = fs::read_dir(&usermode)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(kept.is_empty(), "left in {}: {kept:?}", usermode.display());
    e.ok(&["rm", "rl-att"]);
}

/// A shell command running the engine example as the test user of `e` (for scripts run
/// by [`in_private_netns`]).
fn engine_line(e: &RootlessEngine, args: &str) -> String {
    format!(
        "runuser -u {} -- env XDG_RUNTIME_DIR={} HOME={} {} --root {} {args}",
        rootless::NAME,
        e.xdg.path.display(),
        e.xdg.path.display(),
        example_bin("engine").display(),
        e.root.display()
    )
}

/// Live processes of the engine of `e` that are its helpers re-executed (argv[0]
/// `cargohold-…`: monitors, the network keeper, sidecars), found by the runtime
/// directory in their environment.
fn helpers_of(e: &RootlessEngine) -> Vec<String> {
    let xdg = format!("XDG_RUNTIME_DIR={}\0", e.xdg.path.display());
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            p.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<i32>().is_ok())
        })
        .filter_map(|p| {
            let env = fs::read(p.path().join("environ")).ok()?;
            let cmd = fs::read(p.path().join("cmdline")).ok()?;
            let stat = fs::read_to_string(p.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next()?.split_whitespace().next() == Some("Z");
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            (String::from_utf8_lossy(&env).contains(&xdg)
                && cmd.starts_with("cargohold-")
                && !zombie)
                .then(|| format!("{} {cmd}", p.file_name().to_string_lossy()))
        })
        .collect()
}

/// Live processes whose command line names the engine root of `e` (its pasta helpers:
/// their pid files are under it).
fn pastas_of(e: &RootlessEngine) -> Vec<String> {
    let root = e.root.display().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| {
            let cmd = fs::read(p.path().join("cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let stat = fs::read_to_string(p.path().join("stat")).ok()?;
            let zombie = stat.rsplit(')').next()?.split_whitespace().next() == Some("Z");
            (cmd.contains(&root) && cmd.starts_with("pasta") && !zombie).then_some(cmd)
        })
        .collect()
}

/// Waits (up to 5 s) until no helper of `e`'s engine is left.
fn wait_no_helpers(e: &RootlessEngine, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !helpers_of(e).is_empty() {
        assert!(
            Instant::now() < deadline,
            "left running after {after}: {:?}",
            helpers_of(e)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The entries of a directory of the engine's networks (none when it is missing).
fn entries(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// User-defined networks as the test user: a container reached by its name and alias
/// from a peer on its network (the embedded DNS server), its address in `inspect`, its
/// port published on the host's loopback; a container on another network reaches it
/// neither by name nor by address. While it runs, the network keeper and its sidecar
/// run; once it is removed, neither does, and no namespace or record is left.
#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_networks_rootless() {
    let e = RootlessEngine::new();
    let www = UserDir::new(0o755);
    fs::write(www.path.join("index.html"), "network page\n").unwrap();
    chown_tree(&www.path);
    e.ok(&["network", "create", "rlnet"]);
    e.ok(&["network", "create", "rlother"]);
    let script = format!(
        "{run} >/dev/null && \
         for i in $(seq 50); do busybox wget -qO- http://127.0.0.1:18081/index.html && break; \
           sleep 0.1; done; {peer}; {port}",
        run = engine_line(
            &e,
            &format!(
                "run -d --name rl-nweb --network rlnet --network-alias www \
                 -p 127.0.0.1:18081:80 -v {}:/www:ro localhost/rl:1 httpd -f -p 80 -h /www",
                www.path.display()
            )
        ),
        peer = engine_line(
            &e,
            "run --rm --network rlnet localhost/rl:1 sh -c \
             'wget -qO- http://rl-nweb/index.html; wget -qO- http://www/index.html'"
        ),
        port = engine_line(&e, "port rl-nweb"),
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        stdout, "network page\nnetwork page\nnetwork page\n80/tcp -> 127.0.0.1:18081\n",
        "{stderr}"
    );
    let inspect: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "rl-nweb"])).unwrap();
    let ip = inspect[0]["NetworkSettings"]["Networks"]["rlnet"]["IPAddress"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        ip.starts_with("172.") || ip.starts_with("192.168."),
        "{inspect}"
    );
    // another network: not by address (its bridge is isolated), not by name
    let out = e.engine(&[
        "run",
        "--rm",
        "--network",
        "rlother",
        "localhost/rl:1",
        "sh",
        "-c",
        &format!(
            "timeout 3 wget -qO- http://{ip}/index.html || echo unreachable; \
             grep -c rl-nweb /etc/hosts"
        ),
    ]);
    assert_eq!(text(&out).0, "unreachable\n0\n", "{:?}", text(&out));
    // the keeper and the sidecar while it runs
    let helpers = helpers_of(&e);
    assert_eq!(
        helpers
            .iter()
            .filter(|h| h.contains("cargohold-userns"))
            .count(),
        2,
        "{helpers:?}"
    );
    // connected to its network while it runs, another container reaches it by alias
    e.ok(&[
        "run",
        "-d",
        "--name",
        "rl-nother",
        "--network",
        "rlother",
        "localhost/rl:1",
        "sleep",
        "60",
    ]);
    e.ok(&["network", "connect", "rlnet", "rl-nother"]);
    let page = e.ok(&["exec", "rl-nother", "wget", "-qO-", "http://www/index.html"]);
    assert_eq!(page, "network page\n");
    e.ok(&["network", "disconnect", "rlnet", "rl-nother"]);
    e.ok(&["rm", "-f", "rl-nweb", "rl-nother"]);
    wait_no_helpers(&e, "rm -f");
    assert!(entries(&e.root.join("netns")).is_empty());
    assert!(entries(&e.root.join("networks/.sandboxes")).is_empty());
    assert!(entries(&e.root.join("networks/.sidecars")).is_empty());
    assert!(!e.root.join("networks/.keeper.json").exists());
    e.ok(&["network", "rm", "rlnet", "rlother"]);
    assert!(!e.ok(&["network", "ls"]).contains("rlnet"));
}

/// Out of a rootless user-defined network: a container reaches a server of the host
/// (an address of the test's own namespace) through the keeper's pasta and the bridge's
/// masquerade; the pasta goes with the keeper.
#[test]
#[ignore = "requires root (to make the test user)"]
fn rootless_networks_reach_out_through_pasta() {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(0o666)).unwrap();
    let e = RootlessEngine::new();
    let www = UserDir::new(0o755);
    fs::write(www.path.join("index.html"), "host page\n").unwrap();
    chown_tree(&www.path);
    e.ok(&["network", "create", "rlout"]);
    let script = format!(
        "ip addr add 10.254.0.3/24 dev rl0 && \
         busybox httpd -f -p 10.254.0.3:18097 -h {www} & h=$!; sleep 0.2; \
         {run}; kill $h",
        www = www.path.display(),
        run = engine_line(
            &e,
            "run --rm --network rlout localhost/rl:1 wget -qO- http://10.254.0.3:18097/index.html"
        ),
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "host page\n", "{stderr}");
    wait_no_helpers(&e, "run --rm");
    assert!(pastas_of(&e).is_empty(), "{:?}", pastas_of(&e));
    e.ok(&["network", "rm", "rlout"]);
}

/// An attached container on a user-defined network publishing a port, its owner (the
/// engine example) SIGKILLed while it serves: the container and its sidecar go at once;
/// the next `Engine::open` finds it exited, detaches it and stops the keeper.
#[test]
#[ignore = "requires root (to make the test user)"]
fn a_killed_owner_takes_its_sidecar_along() {
    let e = RootlessEngine::new();
    let www = UserDir::new(0o755);
    fs::write(www.path.join("index.html"), "attached network page\n").unwrap();
    chown_tree(&www.path);
    e.ok(&["network", "create", "rlnet"]);
    let run = engine_line(
        &e,
        &format!(
            "run --name rl-natt --network rlnet -p 127.0.0.1:18091:80 -v {}:/www:ro \
             localhost/rl:1 httpd -f -p 80 -h /www",
            www.path.display()
        ),
    );
    let script = format!(
        "{run} </dev/null >/dev/null 2>&1 & r=$!; \
         for i in $(seq 100); do busybox wget -qO- http://127.0.0.1:18091/index.html && break; \
           sleep 0.1; done; \
         kill -KILL $(ps -o pid= --ppid $r); wait $r; echo killed"
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "attached network page\nkilled\n", "{stderr}");
    // only the keeper may be left until the next open
    let deadline = Instant::now() + Duration::from_secs(5);
    while helpers_of(&e).len() > 1 {
        assert!(Instant::now() < deadline, "left: {:?}", helpers_of(&e));
        std::thread::sleep(Duration::from_millis(20));
    }
    let ps = e.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("rl-natt Exited"), "{ps}");
    wait_no_helpers(&e, "the next open");
    assert!(entries(&e.root.join("networks/.sandboxes")).is_empty());
    assert!(entries(&e.root.join("netns")).is_empty());
    e.ok(&["rm", "rl-natt"]);
    e.ok(&["network", "rm", "rlnet"]);
}

/// The network keeper SIGKILLed under a running container: the next container on the
/// network gets a new keeper and runs; the old container (its network lost, as with a
/// dead dockerd) is removed cleanly, and nothing is left.
#[test]
#[ignore = "requires root (to make the test user)"]
fn a_killed_network_keeper_is_replaced() {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions("/dev/net/tun", fs::Permissions::from_mode(0o666)).unwrap();
    let e = RootlessEngine::new();
    e.ok(&["network", "create", "rlnet"]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "rl-keep",
        "--network",
        "rlnet",
        "localhost/rl:1",
        "sleep",
        "60",
    ]);
    let rec: serde_json::Value =
        serde_json::from_slice(&fs::read(e.root.join("networks/.keeper.json")).unwrap()).unwrap();
    let keeper = rec["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the keeper this test's engine started.
    assert_eq!(unsafe { libc::kill(keeper, libc::SIGKILL) }, 0);
    let out = e.engine(&[
        "run",
        "--rm",
        "--network",
        "rlnet",
        "localhost/rl:1",
        "sh",
        "-c",
        "ip -4 addr show eth0 | grep -c inet",
    ]);
    assert_eq!(text(&out).0, "1\n", "{:?}", text(&out));
    let again: serde_json::Value =
        serde_json::from_slice(&fs::read(e.root.join("networks/.keeper.json")).unwrap()).unwrap();
    assert_ne!(again["pid"].as_i64().unwrap() as i32, keeper);
    e.ok(&["rm", "-f", "rl-keep"]);
    wait_no_helpers(&e, "rm -f");
    // the killed keeper's pasta was stopped with it replaced, the new one's with it
    assert!(pastas_of(&e).is_empty(), "{:?}", pastas_of(&e));
    assert!(entries(&e.root.join("netns")).is_empty());
    e.ok(&["network", "rm", "rlnet"]);
}

/// `engine build` as the test user: RUN in a rootless container, WORKDIR, COPY; the image
/// runs, and its layers give root (not the user's uid) the files the build made. A
/// multi-stage build copies with `COPY --from` what the first stage closed to all but
/// another user of the image (a `0700` directory of uid 999), keeping owners and content;
/// a source missing there is an error naming the line and the source.
#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_builds_rootless() {
    let u = rootless::user();
    let e = RootlessEngine::new();
    let ctx = UserDir::new(0o755);
    fs::write(
        ctx.path.join("Dockerfile"),
        "FROM localhost/rl:1\nRUN echo built > /built\n\
         RUN mkdir /data && echo x > /data/x && busybox chown -R 33:33 /data && \
         busybox chmod 700 /data\nCOPY --chown=33:33 hello.txt /data2/\nWORKDIR /srv/app\n\
         COPY hello.txt ./\nCMD [\"sh\", \"-c\", \"cat /built hello.txt; pwd\"]\n",
    )
    .unwrap();
    fs::write(ctx.path.join("hello.txt"), "hello\n").unwrap();
    chown_tree(&ctx.path);
    let dir = ctx.path.display().to_string();
    e.ok(&["build", "-q", "-t", "localhost/rl-built:1", &dir]);
    assert_eq!(
        e.ok(&["run", "--rm", "localhost/rl-built:1"]),
        "built\nhello\n/srv/app\n"
    );
    // a step's files of another user of the image, and COPY --chown, keep their owner
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--user",
            "33",
            "localhost/rl-built:1",
            "sh",
            "-c",
            "cat /data/x /data2/hello.txt; stat -c '%u:%g %a' /data /data2/hello.txt",
        ]),
        "x\nhello\n33:33 700\n33:33 644\n"
    );
    // the layers' owners, as `docker save` gives them
    let saved = ctx.path.join("saved.tar");
    e.ok(&[
        "save",
        "-o",
        saved.to_str().unwrap(),
        "localhost/rl-built:1",
    ]);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cd {d} && mkdir x && tar -C x -xf saved.tar && for l in $(find x -type f -size +1k); do \
             tar -tvf \"$l\" 2>/dev/null; done",
            d = ctx.path.display()
        ))
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    for name in [" data/x", " data2/hello.txt"] {
        assert!(
            listing
                .lines()
                .any(|l| l.ends_with(name) && l.contains(" 33/33 ")),
            "{name} is not 33's:\n{listing}"
        );
    }
    for name in [" built", " srv/app/hello.txt", " srv/app", " srv"] {
        let line = listing
            .lines()
            .filter(|l| l.ends_with(name))
            .find(|l| !l.contains(" 0/0 "))
            .or_else(|| listing.lines().find(|l| l.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} in no layer:\n{listing}"));
        assert!(line.contains(" 0/0 "), "{name} is not root's: {line}");
        assert!(!line.contains(&format!("{}/", u.uid)), "{line}");
    }

    // COPY --from what only uid 999 may read in the first stage: a directory (its
    // contents: the destination directory is made, root's, as Docker does), and a file
    // named directly below closed directories (which the user cannot even look up)
    let stages = ctx.path.join("Dockerfile.stages");
    fs::write(
        &stages,
        "FROM localhost/rl:1\n\
         RUN mkdir -p /app/sub && echo hi > /app/f && echo ho > /app/sub/g && \
         busybox chown -R 999:999 /app && busybox chmod 600 /app/f /app/sub/g && \
         busybox chmod 700 /app/sub /app\n\
         FROM localhost/rl:1\nCOPY --from=0 /app /app\nCOPY --from=0 /app/sub/g /g\n",
    )
    .unwrap();
    chown_tree(&ctx.path);
    let file = stages.display().to_string();
    let build = || {
        e.ok(&[
            "build",
            "-q",
            "-f",
            &file,
            "-t",
            "localhost/rl-stages:1",
            &dir,
        ])
    };
    let id = build();
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "--user",
            "999",
            "localhost/rl-stages:1",
            "sh",
            "-c",
            "cat /app/f /app/sub/g /g; stat -c '%u:%g %a' /app /app/f /app/sub /app/sub/g /g",
        ]),
        "hi\nho\nho\n0:0 755\n999:999 600\n999:999 700\n999:999 600\n999:999 600\n"
    );
    // the sources' cache key is the helper's too: the same build is all cached
    assert_eq!(build(), id);
    // the helper's errors keep their kind, and the solver names the line
    let missing = ctx.path.join("Dockerfile.missing");
    fs::write(
        &missing,
        "FROM localhost/rl:1\nRUN mkdir /app && busybox chown 999 /app && busybox chmod 700 /app\n\
         FROM localhost/rl:1\nCOPY --from=0 /app/nope /x\n",
    )
    .unwrap();
    chown_tree(&ctx.path);
    let out = e.engine(&["build", "-q", "-f", missing.to_str().unwrap(), &dir]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success(), "{stderr}");
    for said in [
        "Dockerfile.missing:4\n",
        ">>> COPY --from=0 /app/nope /x\n",
        "COPY --from=0 /app/nope /x: build context: source \"/app/nope\": not found in the \
         stage's root file system\n",
    ] {
        assert!(stderr.contains(said), "{said:?} not in {stderr}");
    }
}

/// An empty named volume mounted where an image of several layers has content, as the
/// test user: the volume gets the merged tree of all layers (not only the top one's),
/// without what a layer deleted (a whiteout) or replaced (an opaque directory).
#[test]
#[ignore = "requires root (to make the test user)"]
fn volume_filled_from_image_layers_rootless() {
    let e = RootlessEngine::new();
    let ctx = UserDir::new(0o755);
    volume_filled_from_image_layers(&|args| e.engine(args), &ctx.path, chown_tree);
    e.ok(&["volume", "rm", "rl-layers-vol"]);
}

/// The same as root, whose containers' trees are overlays mounted on the host.
#[test]
#[ignore = "requires root"]
fn volume_filled_from_image_layers_as_root() {
    let dir = tempfile::Builder::new()
        .prefix("cargohold-layers")
        .tempdir()
        .unwrap();
    let root = dir.path().join("engine");
    let engine = |args: &[&str]| {
        let mut cmd = std::process::Command::new(example_bin("engine"));
        cmd.arg("--root").arg(&root).args(args);
        crate::common::output_via_files(&mut cmd)
    };
    let src = dir.path().join("src");
    busybox_rootfs(&src);
    let tar = dir.path().join("rootfs.tar");
    crate::common::tar_create(&src.join("rootfs"), &tar);
    let out = engine(&["import", tar.to_str().unwrap(), "localhost/rl:1"]);
    assert!(out.status.success(), "import: {:?}", text(&out));
    let ctx = dir.path().join("ctx");
    fs::create_dir(&ctx).unwrap();
    volume_filled_from_image_layers(&engine, &ctx, |_| {});
    let out = engine(&["volume", "rm", "rl-layers-vol"]);
    assert!(out.status.success(), "{:?}", text(&out));
}

/// Builds (in `ctx`, given to the engine's user by `give`) an image whose `/data` comes
/// from three layers: files of the first (one of another user's, 0600), one of them
/// replaced and one deleted by the second, which also empties and refills a directory
/// (opaque), and a COPY on top; a container with an empty volume there sees the merged
/// tree, owners kept (rootless: through the user's subordinate ids).
fn volume_filled_from_image_layers(
    engine: &dyn Fn(&[&str]) -> Output,
    ctx: &Path,
    give: impl Fn(&Path),
) {
    let ok = |args: &[&str]| {
        let out = engine(args);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "engine {args:?}: {stderr}");
        stdout
    };
    fs::write(
        ctx.join("Dockerfile"),
        "FROM localhost/rl:1\n\
         RUN mkdir -p /data/sub /data/opq && echo base > /data/a && echo gone > /data/gone \
         && echo s > /data/sub/s && echo old > /data/opq/old && echo own > /data/sub/own \
         && busybox chown 33:33 /data/sub/own && busybox chmod 600 /data/sub/own\n\
         RUN echo mid > /data/a && echo m > /data/sub/m && busybox rm /data/gone \
         && busybox rm -r /data/opq && mkdir /data/opq && echo new > /data/opq/new\n\
         COPY c.txt /data/c\n",
    )
    .unwrap();
    fs::write(ctx.join("c.txt"), "c\n").unwrap();
    give(ctx);
    let dir = ctx.display().to_string();
    ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "localhost/rl-layers:1",
        &dir,
    ]);
    let out = ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "rl-layers-vol:/data",
        "localhost/rl-layers:1",
        "sh",
        "-c",
        "cat /data/a /data/c /data/sub/s /data/sub/m /data/opq/new /data/sub/own; \
         ls /data /data/opq; busybox stat -c '%u:%g %a' /data/sub/own",
    ]);
    assert_eq!(
        out,
        "mid\nc\ns\nm\nnew\nown\n/data:\na\nc\nopq\nsub\n\n/data/opq:\nnew\n33:33 600\n"
    );
}

/// `Sandbox::image` as the test user (the sandbox example's `--image`, on the user's
/// default engine root): the image's files read-only, a tmpfs, no network, the timeout.
#[test]
#[ignore = "requires root (to make the test user)"]
fn image_sandbox_runs_rootless() {
    let e = RootlessEngine::new();
    let env = |extra: &[&str]| -> Output {
        let bin = example_bin("sandbox");
        let root = format!("CARGOHOLD_ROOT={}", e.root.display());
        let mut all = vec![
            root.as_str(),
            bin.to_str().unwrap(),
            "--image",
            "localhost/rl:1",
        ];
        all.extend_from_slice(extra);
        run_as(&e.xdg.path, &all)
    };
    let out = env(&[
        "--timeout",
        "30",
        "sh",
        "-c",
        "touch /x 2>/dev/null || echo ro; echo w > /tmp/f && cat /tmp/f; \
         awk 'NR>2{print $1}' /proc/net/dev; id -u",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, format!("ro\nw\nlo:\n{}\n", 0), "{stderr}");
    assert!(out.status.success(), "{stderr}");
    let out = env(&["--timeout", "1", "sleep", "60"]);
    assert_eq!(out.status.code(), Some(124), "{:?}", text(&out));
    // nothing of either is left in the engine
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

/// Compose as the test user: a project on its default network comes up — a service
/// reaches another by its name, a published port serves on the host's loopback — and
/// `down` leaves no container, network or helper; a project without networks comes up,
/// shares its volume between services, and `down -v` leaves nothing.
#[test]
#[ignore = "requires root (to make the test user)"]
fn compose_rootless() {
    let e = RootlessEngine::new();
    let dir = UserDir::new(0o755);
    fs::write(dir.path.join("index.html"), "compose page\n").unwrap();
    let on_network = dir.path.join("net.yaml");
    fs::write(
        &on_network,
        format!(
            "name: rlnet\nservices:\n  web:\n    image: localhost/rl:1\n    \
             command: [\"httpd\", \"-f\", \"-p\", \"80\", \"-h\", \"/www\"]\n    \
             volumes: [\"{www}:/www:ro\"]\n    ports: [\"127.0.0.1:18082:80\"]\n    \
             stop_grace_period: 1s\n  \
             client:\n    image: localhost/rl:1\n    depends_on: [web]\n    \
             stop_grace_period: 1s\n    \
             command: [\"sh\", \"-c\", \"for i in $$(seq 50); do wget -qO- http://web/index.html \
             && break; sleep 0.1; done; sleep 60\"]\n",
            www = dir.path.display()
        ),
    )
    .unwrap();
    let without = dir.path.join("none.yaml");
    fs::write(
        &without,
        "name: rlnone\nservices:\n  web:\n    image: localhost/rl:1\n    \
         command: [\"sleep\", \"60\"]\n    network_mode: none\n    volumes: [\"data:/data\"]\n  \
         job:\n    image: localhost/rl:1\n    command: [\"sh\", \"-c\", \"echo shared > /data/f\"]\n    \
         network_mode: none\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n",
    )
    .unwrap();
    chown_tree(&dir.path);
    let f = |p: &Path| p.to_str().unwrap().to_owned();
    let compose = |args: &str| engine_line(&e, &format!("compose -f {} {args}", f(&on_network)));
    let script = format!(
        "{up} >/dev/null 2>&1 && \
         for i in $(seq 50); do busybox wget -qO- http://127.0.0.1:18082/index.html && break; \
           sleep 0.1; done; \
         for i in $(seq 50); do {logs} | grep -q page && break; sleep 0.1; done; \
         {logs} | grep -c 'compose page'; {down} >/dev/null 2>&1; echo down=$?",
        up = compose("up -d"),
        logs = compose("logs client"),
        down = compose("down"),
    );
    let out = in_private_netns(&script);
    let (stdout, stderr) = text(&out);
    assert_eq!(stdout, "compose page\n1\ndown=0\n", "{stderr}");
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert!(
        !e.ok(&["network", "ls"]).contains("rlnet"),
        "a network was left"
    );
    wait_no_helpers(&e, "compose down");
    e.ok(&["compose", "-f", &f(&without), "up", "-d"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = e.engine(&["exec", "rlnone-web-1", "cat", "/data/f"]);
        if text(&out).0 == "shared\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the volume was not shared: {:?}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    e.ok(&["compose", "-f", &f(&without), "down", "-v"]);
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
}

/// A rootfs tar (in `dir`) whose files belong to several users of the image: a web root of
/// uid/gid 33, a database directory of 999 that only its owner may enter, a set-gid file
/// of group 5.
fn owned_rootfs_tar(dir: &Path) -> std::path::PathBuf {
    use std::os::unix::fs::{chown, PermissionsExt};
    busybox_rootfs(dir);
    let root = dir.join("rootfs");
    for applet in ["stat", "mkdir", "chmod"] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
    }
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33::/srv/www:/bin/sh\n\
         db:x:999:999::/var/db:/bin/sh\n",
    )
    .unwrap();
    let www = root.join("srv/www");
    fs::create_dir_all(&www).unwrap();
    fs::write(www.join("index.html"), "owned page\n").unwrap();
    chown(&www, Some(33), Some(33)).unwrap();
    chown(www.join("index.html"), Some(33), Some(33)).unwrap();
    let db = root.join("var/db");
    fs::create_dir_all(&db).unwrap();
    fs::write(db.join("secret"), "s3cret\n").unwrap();
    chown(db.join("secret"), Some(999), Some(999)).unwrap();
    mode(&db.join("secret"), 0o600);
    chown(&db, Some(999), Some(999)).unwrap();
    mode(&db, 0o700);
    let tty = root.join("usr/bin/wall");
    fs::create_dir_all(tty.parent().unwrap()).unwrap();
    fs::write(&tty, "#!/bin/sh\n").unwrap();
    chown(&tty, Some(0), Some(5)).unwrap();
    mode(&tty, 0o2755);
    let tar = dir.join("owned.tar");
    crate::common::tar_create(&root, &tar);
    chown_tree(dir);
    tar
}

/// Rootless with a subordinate range, the image's owners are kept through the engine's user
/// namespace (issue 15): on disk as the range's ids, inside as the image's; a container
/// running as another user of the image writes as it; commit reads what only that user may
/// read; `rm` and `rmi` remove it all.
#[test]
#[ignore = "requires root (to make the test user)"]
fn engine_keeps_image_owners_through_subordinate_ids() {
    use std::os::unix::fs::MetadataExt;
    let u = rootless::user();
    let e = RootlessEngine::new();
    let src = UserDir::new(0o755);
    let tar = owned_rootfs_tar(&src.path);
    e.ok(&["import", tar.to_str().unwrap(), "localhost/owned:1"]);
    let stat = "stat -c '%u:%g %a %n' /srv/www /srv/www/index.html /var/db /var/db/secret \
                /usr/bin/wall";
    assert_eq!(
        e.ok(&["run", "--rm", "localhost/owned:1", "sh", "-c", stat]),
        "33:33 755 /srv/www\n33:33 644 /srv/www/index.html\n999:999 700 /var/db\n\
         999:999 600 /var/db/secret\n0:5 2755 /usr/bin/wall\n"
    );
    // on the host: the range's ids (image id N is the range's N-th)
    let layers = e.root.join("layers");
    let db = fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .map(|d| d.path().join("diff/var/db"))
        .find(|p| p.exists())
        .expect("a layer has var/db");
    let m = fs::metadata(&db).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.mode() & 0o7777),
        (u.subuid + 998, u.subgid + 998, 0o700)
    );

    // a container running as the database's user, writing where only it may
    let out = e.ok(&[
        "run",
        "--name",
        "rl-own",
        "--user",
        "999",
        "localhost/owned:1",
        "sh",
        "-c",
        "id -u; cat /var/db/secret; echo mine > /var/db/new; mkdir /var/db/sub; \
         echo deep > /var/db/sub/f; chmod 700 /var/db/sub",
    ]);
    assert_eq!(out, "999\ns3cret\n");
    // cp out of and into the stopped container (its overlay mounted by the helper)
    let host = UserDir::new(0o700);
    let got = host.path.join("f");
    e.ok(&["cp", "rl-own:/var/db/sub/f", got.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&got).unwrap(), "deep\n");
    let put = host.path.join("in.txt");
    fs::write(&put, "put\n").unwrap();
    chown_tree(&put);
    e.ok(&["cp", put.to_str().unwrap(), "rl-own:/var/db/"]);
    // export reads it too, with the image's owners
    let exported = host.path.join("rl-own.tar");
    e.ok(&["export", "-o", exported.to_str().unwrap(), "rl-own"]);
    let listing = std::process::Command::new("tar")
        .args(["-tvf"])
        .arg(&exported)
        .output()
        .unwrap();
    let listing = text(&listing).0;
    assert!(
        listing
            .lines()
            .any(|l| l.contains(" 999/999 ") && l.ends_with("var/db/sub/f")),
        "{listing}"
    );
    // commit reads it (the user itself cannot enter /var/db/sub)
    e.ok(&["commit", "rl-own", "localhost/owned:2"]);
    assert_eq!(
        e.ok(&[
            "run",
            "--rm",
            "localhost/owned:2",
            "sh",
            "-c",
            "stat -c '%u %a' /var/db/new /var/db/sub /var/db/in.txt; cat /var/db/sub/f",
        ]),
        "999 644\n999 700\n0 644\ndeep\n"
    );
    // cp out of a running container, as the user of the image that owns the file
    e.ok(&[
        "run",
        "-d",
        "--name",
        "rl-d",
        "--user",
        "999",
        "localhost/owned:2",
        "sleep",
        "600",
    ]);
    let secret = host.path.join("secret");
    e.ok(&["cp", "rl-d:/var/db/secret", secret.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(&secret).unwrap(), "s3cret\n");
    e.ok(&["rm", "-f", "rl-d"]);
    // rm and rmi leave nothing of the range behind
    e.ok(&["rm", "rl-own"]);
    e.ok(&[
        "rmi",
        "localhost/owned:2",
        "localhost/owned:1",
        "localhost/rl:1",
    ]);
    let left = std::process::Command::new("find")
        .arg(&e.root)
        .args(["-uid", &(u.subuid).to_string(), "-o", "-uid"])
        .arg((u.subuid + 998).to_string())
        .args(["-o", "-uid", &(u.subuid + 32).to_string()])
        .output()
        .unwrap();
    assert_eq!(
        text(&left).0,
        "",
        "files of the range left in the engine root"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
}

/// Rootless without a subordinate range, only root of the image has an id: an image with
/// files of other users is refused, naming the file and the fix, and leaves nothing; an
/// image of root's files runs with the single mapping.
#[test]
#[ignore = "requires root (to make the test user)"]
fn without_subordinate_ids_only_root_owned_images_unpack() {
    let (uid, _) = rootless::plain_user();
    let xdg = UserDir::plain(0o700);
    let root = xdg.path.join("engine");
    let engine = |args: &[&str]| {
        let bin = example_bin("engine");
        let r = root.display().to_string();
        let mut all = vec![bin.to_str().unwrap(), "--root", &r];
        all.extend_from_slice(args);
        rootless::run_as_user(rootless::PLAIN, &xdg.path, &all)
    };
    let src = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(src.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let tar = owned_rootfs_tar(src.path());
    fs::set_permissions(&tar, fs::Permissions::from_mode(0o644)).unwrap();
    let out = engine(&["import", tar.to_str().unwrap(), "localhost/owned:1"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("belongs to uid") && stderr.contains("/etc/subuid"),
        "{stderr}"
    );
    let out = engine(&["images", "-q"]);
    assert_eq!(text(&out).0, "");
    let layers: Vec<_> = fs::read_dir(root.join("layers"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(layers.is_empty(), "{layers:?}");
    // root's files only: runs, root inside is the user outside, alone
    let plain = tempfile::tempdir().unwrap();
    fs::set_permissions(plain.path(), fs::Permissions::from_mode(0o755)).unwrap();
    busybox_rootfs(plain.path());
    let tar = plain.path().join("plain.tar");
    crate::common::tar_create(&plain.path().join("rootfs"), &tar);
    fs::set_permissions(&tar, fs::Permissions::from_mode(0o644)).unwrap();
    let out = engine(&["import", tar.to_str().unwrap(), "localhost/plain:1"]);
    assert!(out.status.success(), "{:?}", text(&out));
    let out = engine(&[
        "run",
        "--rm",
        "localhost/plain:1",
        "cat",
        "/proc/self/uid_map",
    ]);
    assert_eq!(
        text(&out).0,
        format!("{:>10} {:>10} {:>10}\n", 0, uid, 1),
        "{:?}",
        text(&out)
    );
    // cp out of a stopped container: its overlay mounted by a helper mapping the user alone
    let out = engine(&[
        "run",
        "--name",
        "rl0-c",
        "localhost/plain:1",
        "sh",
        "-c",
        "echo hi > /f",
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    let host = UserDir::plain(0o700);
    let got = host.path.join("f");
    let out = engine(&["cp", "rl0-c:/f", got.to_str().unwrap()]);
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(fs::read_to_string(&got).unwrap(), "hi\n");
    let out = engine(&["rm", "rl0-c"]);
    assert!(out.status.success(), "{:?}", text(&out));
}
