//! The runtime CLI's verbs as the runc shim (containerd's `io.containerd.runc.v2`) calls them
//! under the CRI plugin: each test runs the example binary on a busybox bundle and checks the
//! output's shape (runc's) and the effect on the container.

use std::fs;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use cargohold::oci_spec::runtime::{LinuxBuilder, LinuxResources, Spec};

use crate::containerd::{cgroups_under, runtime_bin, unique};

/// A state root of its own, a bundle and one container id; deletes the container (forced)
/// and its cgroup on drop.
struct Ctr {
    root: tempfile::TempDir,
    bundle: tempfile::TempDir,
    id: String,
    cgroup: String,
}

impl Ctr {
    /// A busybox bundle running `args` in the cgroup `/<id>` with `resources`.
    fn new(args: &[&str], resources: Option<LinuxResources>) -> Ctr {
        let root = tempfile::Builder::new()
            .prefix("cargohold-verbs")
            .tempdir()
            .unwrap();
        let bundle = tempfile::Builder::new()
            .prefix("cargohold-bundle")
            .tempdir()
            .unwrap();
        let rootfs = bundle.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
            fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
        for a in ["sh", "sleep", "cat", "echo", "ls"] {
            symlink("busybox", rootfs.join("bin").join(a)).unwrap();
        }
        let id = unique("verb");
        let cgroup = format!("/{id}");
        let mut spec: Spec = cargohold::runtime::default_spec();
        let mut p = spec.process().clone().unwrap();
        p.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        p.set_terminal(Some(false));
        spec.set_process(Some(p));
        let mut r = spec.root().clone().unwrap();
        r.set_readonly(Some(false));
        spec.set_root(Some(r));
        let mut linux = spec
            .linux()
            .clone()
            .unwrap_or_else(|| LinuxBuilder::default().build().unwrap());
        linux.set_cgroups_path(Some(cgroup.clone().into()));
        linux.set_resources(resources);
        spec.set_linux(Some(linux));
        fs::write(
            bundle.path().join("config.json"),
            serde_json::to_vec(&spec).unwrap(),
        )
        .unwrap();
        Ctr {
            root,
            bundle,
            id,
            cgroup,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runtime_bin());
        c.arg("--root").arg(self.root.path()).args(args);
        c
    }

    /// Runs with stdin from `input` and stdout/stderr into files (a created container's
    /// init inherits them and would hold a pipe open).
    fn run(&self, args: &[&str], input: &[u8]) -> Output {
        let mut files = [tempfile::tempfile().unwrap(), tempfile::tempfile().unwrap()];
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(files[0].try_clone().unwrap())
            .stderr(files[1].try_clone().unwrap())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        let status = child.wait().unwrap();
        let mut read = |i: usize| {
            let mut v = Vec::new();
            files[i].seek(std::io::SeekFrom::Start(0)).unwrap();
            files[i].read_to_end(&mut v).unwrap();
            v
        };
        Output {
            status,
            stdout: read(0),
            stderr: read(1),
        }
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, b"")
    }

    fn ok_with(&self, args: &[&str], input: &[u8]) -> String {
        let o = self.run(args, input);
        assert!(
            o.status.success(),
            "runtime {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// `create` (with `extra` flags before the id) and `start`, as the shim does.
    fn create_start(&self, extra: &[&str]) {
        let bundle = self.bundle.path().display().to_string();
        let mut args = vec!["create", "--bundle", &bundle];
        args.extend_from_slice(extra);
        args.push(&self.id);
        self.ok(&args);
        self.ok(&["start", &self.id]);
    }

    fn state(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["state", &self.id])).unwrap()
    }

    /// `exec` of `args` in the container: its stdout.
    fn exec(&self, args: &[&str]) -> String {
        let mut a = vec!["exec", self.id.as_str()];
        a.extend_from_slice(args);
        self.ok(&a)
    }

    /// A control file of the container's cgroup on the host.
    fn cgroup_file(&self, controller: &str, file: &str) -> Option<String> {
        let p: PathBuf = Path::new("/sys/fs/cgroup")
            .join(controller)
            .join(&self.id)
            .join(file);
        fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.run(&["delete", "--force", &self.id], b"");
        for d in cgroups_under(&self.cgroup).into_iter().rev() {
            let _ = fs::remove_dir(d);
        }
    }
}

fn v1() -> bool {
    !Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// `create --no-pivot --no-new-keyring`, as the shim passes them (containerd's `NoPivotRoot`
/// and `NoNewKeyring` options): accepted, and the container runs in its rootfs.
#[test]
#[ignore = "requires root"]
fn create_accepts_no_pivot_and_no_new_keyring() {
    let c = Ctr::new(
        &["sh", "-c", "echo in-rootfs > /marker; exec sleep 300"],
        None,
    );
    c.create_start(&["--no-pivot", "--no-new-keyring"]);
    assert_eq!(c.state()["status"], "running");
    let marker = c.bundle.path().join("rootfs/marker");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !marker.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(fs::read_to_string(&marker).unwrap(), "in-rootfs\n");
    // The root is the bundle's rootfs (no host file in sight).
    assert!(c
        .exec(&["ls", "/"])
        .split_whitespace()
        .any(|f| f == "marker"));
    assert!(!c.exec(&["ls", "/"]).contains("usr"));
}

/// `update --resources -`: the JSON containerd's CRI plugin sends (the whole spec resources,
/// a deny-all device rule first), every resource the CRI sets; the new limits are in the
/// cgroup files and readable from inside, and the devices stay as created.
#[test]
#[ignore = "requires root"]
fn update_resources_from_stdin() {
    let initial: LinuxResources = serde_json::from_value(serde_json::json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 67108864},
        "cpu": {"shares": 512}
    }))
    .unwrap();
    let c = Ctr::new(&["sleep", "300"], Some(initial));
    c.create_start(&[]);
    let mut update = serde_json::json!({
        "devices": [{"allow": false, "access": "rwm"}],
        "memory": {"limit": 100663296, "swap": 100663296},
        "cpu": {"shares": 256, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 40}
    });
    let huge = Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists();
    if huge {
        update["hugepageLimits"] = serde_json::json!([{"pageSize": "2MB", "limit": 4194304}]);
    }
    assert_eq!(
        c.ok_with(
            &["update", "--resources", "-", &c.id],
            update.to_string().as_bytes()
        ),
        ""
    );

    if v1() {
        for (ctl, file, want) in [
            ("memory", "memory.limit_in_bytes", "100663296"),
            ("cpu", "cpu.shares", "256"),
            ("cpu", "cpu.cfs_quota_us", "50000"),
            ("cpu", "cpu.cfs_period_us", "100000"),
            ("cpuset", "cpuset.cpus", "0"),
            ("pids", "pids.max", "40"),
        ] {
            assert_eq!(
                c.cgroup_file(ctl, file).as_deref(),
                Some(want),
                "{ctl}/{file}"
            );
        }
        if fs::metadata("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").is_ok() {
            assert_eq!(
                c.cgroup_file("memory", "memory.memsw.limit_in_bytes")
                    .as_deref(),
                Some("100663296")
            );
        }
        // Read back from inside (the bug: the update's deny-all rule closed /dev/null).
        let inside = c.exec(&[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null",
        ]);
        assert_eq!(
            inside.split_whitespace().collect::<Vec<_>>(),
            ["100663296", "50000"]
        );
    } else {
        let inside = c.exec(&[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max 2>/dev/null",
        ]);
        assert_eq!(
            inside.split_whitespace().collect::<Vec<_>>(),
            ["100663296", "50000", "100000"]
        );
    }
    if huge {
        // hugetlb: a v1 hierarchy, or (hybrid hosts) the unified one.
        let v1_file = c.cgroup_file("hugetlb", "hugetlb.2MB.limit_in_bytes");
        let v2_file = c.cgroup_file("unified", "hugetlb.2MB.max").or_else(|| {
            fs::read_to_string(
                Path::new("/sys/fs/cgroup")
                    .join(&c.id)
                    .join("hugetlb.2MB.max"),
            )
            .ok()
            .map(|s| s.trim().to_owned())
        });
        assert_eq!(v1_file.or(v2_file).as_deref(), Some("4194304"));
    }
    // Devices as created: /dev/null still opens.
    assert_eq!(
        c.exec(&["sh", "-c", "echo x > /dev/null && echo fine"]),
        "fine\n"
    );
    // `events --stats` reads the new limit back.
    let ev: serde_json::Value = serde_json::from_str(&c.ok(&["events", "--stats", &c.id])).unwrap();
    assert_eq!(ev["data"]["memory"]["usage"]["limit"], 100663296);
    assert_eq!(ev["data"]["pids"]["limit"], 40);
}

/// `ps --format json`: the container's pids as a JSON array, as runc prints it.
#[test]
#[ignore = "requires root"]
fn ps_format_json_lists_the_pids() {
    let c = Ctr::new(&["sh", "-c", "sleep 300 & exec sleep 301"], None);
    c.create_start(&[]);
    let init = c.state()["pid"].as_i64().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let pids = loop {
        let out = c.ok(&["ps", "--format", "json", &c.id]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let mut pids: Vec<i64> = v
            .as_array()
            .expect("an array")
            .iter()
            .map(|p| p.as_i64().unwrap())
            .collect();
        pids.sort();
        if pids.len() == 2 || std::time::Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&init), "{pids:?} lacks the init {init}");
    for p in &pids {
        let cmd = fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap();
        assert!(cmd.starts_with("sleep\0"), "{p}: {cmd:?}");
    }
}

/// `events --stats`: one `stats` event whose `data` is runc's `types.Stats`.
#[test]
#[ignore = "requires root"]
fn events_stats_in_runcs_shape() {
    let res: LinuxResources = serde_json::from_value(serde_json::json!({
        "memory": {"limit": 33554432}, "pids": {"limit": 20}
    }))
    .unwrap();
    let c = Ctr::new(
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 300",
        ],
        Some(res),
    );
    c.create_start(&[]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = c.ok(&["events", "--stats", &c.id]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let ev: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (ev["type"].as_str(), ev["id"].as_str()),
        (Some("stats"), Some(c.id.as_str()))
    );
    let d = &ev["data"];
    assert_eq!(d["memory"]["usage"]["limit"], 33554432);
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{d}");
    let raw = d["memory"]["raw"].as_object().unwrap();
    assert!(raw.contains_key("rss") || raw.contains_key("anon"), "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{d}");
    for k in ["kernel", "user"] {
        assert!(d["cpu"]["usage"][k].is_u64(), "{d}");
    }
    for k in ["periods", "throttled_periods", "throttled_time"] {
        assert!(d["cpu"]["throttling"][k].is_u64(), "{d}");
    }
    assert_eq!(
        (d["pids"]["current"].as_u64(), d["pids"]["limit"].as_u64()),
        (Some(1), Some(20))
    );
    assert!(d["hugetlb"].is_object());
}

/// `features`: runc's document (runtime-spec features.md), as containerd 2 reads it.
#[test]
fn features_in_runcs_shape() {
    let o = Command::new(runtime_bin())
        .arg("features")
        .output()
        .unwrap();
    assert!(o.status.success());
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));
    let strs = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(strs(&f["hooks"]).contains(&"createContainer".to_owned()));
    assert!(strs(&f["mountOptions"]).contains(&"rbind".to_owned()));
    let l = &f["linux"];
    assert_eq!(strs(&l["namespaces"]).len(), 7);
    assert!(strs(&l["capabilities"]).contains(&"CAP_SYS_ADMIN".to_owned()));
    for k in ["v1", "v2", "systemd", "systemdUser", "rdma"] {
        assert!(l["cgroup"][k].is_boolean(), "cgroup.{k}");
    }
    assert_eq!(l["seccomp"]["enabled"], true);
    for k in [
        "actions",
        "operators",
        "archs",
        "knownFlags",
        "supportedFlags",
    ] {
        assert!(l["seccomp"][k].is_array(), "seccomp.{k}");
    }
    for k in ["apparmor", "selinux", "intelRdt"] {
        assert!(l[k]["enabled"].is_boolean(), "{k}");
    }
    // containerd 2 looks here before it asks for idmapped mounts.
    assert_eq!(l["mountExtensions"]["idmap"]["enabled"], false);
    assert!(f["annotations"].is_object());
}
