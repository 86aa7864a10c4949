//! Differential test against runc (issue 11): generated configs run under runc
//! (`/usr/sbin/runc`, 1.1 on the CI machine) and under `examples/runtime`, each with a
//! private `--root`, and the two outcomes compared.
//!
//! A seeded generator (splitmix64, no crate) varies a `runc spec`-like config over a
//! busybox rootfs: namespaces new, shared with the host or joined by path (a holder process
//! made by `unshare`), user namespaces with maps, extra tmpfs and bind mounts with flags and
//! propagation, `rootfsPropagation`, a read-only root, devices and device cgroup rules,
//! capabilities in all five sets (ambient ones the kernel cannot raise included), rlimits,
//! uid/gid/additional gids/umask, cwd, env, sysctls, masked and read-only paths, seccomp
//! with and without `noNewPrivileges`, the six hooks (a failing one at times) and a
//! terminal (through a console socket: `runc run` in the foreground wants a controlling
//! terminal of its own, so both runtimes run such cases as create/start with
//! `--console-socket`, whose protocol they share).
//!
//! The process is `/probe.sh`, a busybox script that prints a normalised report of what it
//! sees: ids and groups, `/proc/self/status` (capabilities, no_new_privs, seccomp, umask),
//! limits, cwd, env, hostname, the sysctls set, the mount table (mount point, type, flags,
//! propagation), the masked and read-only paths, `/dev`, whether it may reopen its stdout,
//! each namespace as `host`, `joined` or `new`, and what seccomp lets it do. Hooks append
//! their name and the state's status to a log the test reads afterwards. Compared are the
//! exit code, the report and the hook log; a mismatch prints the seed, the dimensions and
//! a line diff (`DIFF_VERBOSE` adds both reports and hook logs).
//!
//! `DIFF_N` sets how many configs (default 60), `DIFF_SEED` the first seed (default 1):
//! `DIFF_SEED=17 DIFF_N=1` reruns one case.
//!
//! What we do differently from runc on purpose, each by the spec, is in [`INTENDED`]; the
//! generator leaves out what no runtime can run on this machine (see [`generate`]).

#[path = "common/differ.rs"]
mod differ;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::common;
use differ::{Outcome, Side};

/// splitmix64: a few lines, deterministic across platforms.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with `pct` percent probability.
    fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn subset<T: Clone>(&mut self, v: &[T], pct: u64) -> Vec<T> {
        v.iter().filter(|_| self.chance(pct)).cloned().collect()
    }
}

/// Capabilities the generator draws from (CAP_SYS_RESOURCE is not in this VM's bounding
/// set: asking for it in the permitted set fails under both runtimes).
const CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SYS_CHROOT",
    "CAP_MKNOD",
    "CAP_AUDIT_WRITE",
    "CAP_SETFCAP",
    "CAP_SYS_ADMIN",
    "CAP_SYS_PTRACE",
    "CAP_NET_ADMIN",
];

const DEFAULT_MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];
const DEFAULT_READONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// (key, value, namespace it needs).
const SYSCTLS: &[(&str, &str, &str)] = &[
    ("kernel.shmmax", "68719476736", "ipc"),
    ("kernel.msgmax", "16384", "ipc"),
    ("fs.mqueue.queues_max", "300", "ipc"),
    ("net.ipv4.ip_forward", "1", "network"),
    ("net.ipv4.ping_group_range", "0 2147483647", "network"),
    ("kernel.domainname", "example.org", "uts"),
];

/// Differences from runc we keep on purpose, each with the spec's reason: (dimension the
/// case must have, report line prefix that may differ, why).
const INTENDED: &[(&str, &str, &str)] = &[
    // The spec leaves the cgroup of a config without `linux.cgroupsPath` to the runtime:
    // runc makes `<its own cgroup>/<id>`, we make `/cargohold-<id>`.
    (
        "cgroupsPath false",
        "cgroup: ",
        "the default cgroup is the runtime's choice",
    ),
    // The state a hook run during create gets: runc 1.1 says `creating`; we say `created`,
    // as the runtime-tools suite checks (the lifecycle runs these hooks after step 2, "the
    // runtime MUST create the runtime environment", which is what `created` names).
    (
        "hooks",
        "prestart \"status\":\"creat",
        "status created after the environment is made",
    ),
    (
        "hooks",
        "createRuntime \"status\":\"creat",
        "status created after the environment is made",
    ),
    (
        "hooks",
        "createContainer \"status\":\"creat",
        "status created after the environment is made",
    ),
    // `linux.devices` "MUST be available in the container": when `resources.devices`
    // restricts access we allow each listed device after the spec's rules; runc 1.1
    // creates the node but its device cgroup refuses opening it.
    (
        "devices [\"",
        "device: /dev/",
        "listed devices are made available",
    ),
    // Poststart hooks run after the user's process started: we pass `running`, runc 1.1
    // still `created`.
    (
        "hooks",
        "poststart \"status\":\"",
        "status running after start",
    ),
    // A `ro` cgroup mount on a v1 host: we make its tmpfs read-only as asked; runc 1.1
    // leaves the tmpfs writable (only the hierarchies under it are read-only).
    (
        "",
        "mount: /sys/fs/cgroup tmpfs ",
        "the read-only flag applies to the tmpfs too",
    ),
    // `process.user.umask` "is the umask of the user" (config.md): we set it; runc 1.1
    // ignores the field and leaves 0022.
    (
        "\"umask\":",
        "status: Umask: ",
        "process.user.umask is applied",
    ),
    // runtime.md, lifecycle step 13: "If any poststop hook fails, the runtime MUST log a
    // warning, but the remaining hooks and lifecycle continue": we run the hooks after a
    // failing one; runc 1.1 stops at the first failure.
    (
        "poststop(failing first)",
        "poststop \"status\"",
        "the poststop hooks after a failing one run",
    ),
    // An AppArmor profile on a host without AppArmor is an environment the runtime cannot
    // create (runtime.md, lifecycle step 2: it "MUST generate an error"): we refuse it
    // before the container is made, so no hook runs; runc 1.1 finds out in its init,
    // after the prestart, createRuntime and createContainer hooks (a failing one stops it
    // there), and then runs the poststop hooks.
    (
        "apparmor Some(",
        "prestart ",
        "an LSM the host lacks is refused at step 2",
    ),
    (
        "apparmor Some(",
        "createRuntime ",
        "an LSM the host lacks is refused at step 2",
    ),
    (
        "apparmor Some(",
        "createContainer ",
        "an LSM the host lacks is refused at step 2",
    ),
    (
        "apparmor Some(",
        "poststop ",
        "an LSM the host lacks is refused at step 2",
    ),
    // On a v1/v2 hybrid host runc joins the unified hierarchy too; we do not unless a
    // setting needs it (joining it through cgroup.procs costs 10-20 ms per container, see
    // src/sys/cgroup). The spec asks for no hierarchy in particular; nothing in the
    // container shows it but this line (runc does not mount it there either).
    (
        "",
        "cgroup: 0::",
        "the unified hierarchy of a hybrid host is joined when needed",
    ),
    // `root.readonly`: "the root filesystem MUST be read-only inside the container"
    // (config.md). Without a mount namespace runc 1.1 skips it (its finalizeRootfs runs
    // only with one); we remount the rootfs read-only in the runtime's namespace.
    (
        "a read-only root without a mount namespace",
        "mount: / ",
        "root.readonly holds without a mount namespace",
    ),
    // `runc run` in the foreground gives the process pipes of its own, owned by the
    // container's root, and copies them to its stdio; we pass the caller's stdio on, as
    // runc does with `--detach` and `create` (containerd's shim hands over pipes it gave
    // the container's root). In a user namespace a file only the host's root may open
    // stays so: the process cannot reopen it through /dev/stdout.
    (
        "\"user\": \"new\"",
        "stdio: ",
        "the caller's stdio is passed on, not copied through pipes",
    ),
    // After a failed `create --console-socket` runc 1.1 runs no poststop hooks (after a
    // failed `run` it does); we run them after every create that failed once begun.
    (
        "terminal true",
        "poststop ",
        "poststop after a failed create",
    ),
];

/// Configs runc 1.1 refuses on this machine and we run, on purpose: (dimension, what runc
/// says, why we run it).
const INTENDED_RUNS: &[(&str, &str, &str)] = &[
    (
        "\"faccessat2\"",
        "permission denied",
        "a seccomp profile applies to the container's process, not to the runtime: runc 1.1 \
         looks up the executable with faccessat2 under the loaded filter (no \
         noNewPrivileges) and fails when the profile makes it EACCES; our lookup does not \
         depend on it",
    ),
    (
        "hugetlb Some",
        "cannot set hugetlb limit",
        "on this v1/v2 hybrid the hugetlb controller is only in the unified hierarchy: runc 1.1 \
     cannot use it there, we join the unified hierarchy and apply the limit",
    ),
];

/// Seeds whose differences were found and are not yet fixed or classified: they are run
/// and printed, not failed. None now; the place for the next round's findings.
const OPEN_SEEDS: &[u64] = &[];

/// Differences found and not fixed here because the code is another part's (named), kept
/// out of the comparison until it is: (dimension, line prefix, what and whose).
const KNOWN: &[(&str, &str, &str)] = &[
    // The root of /dev/mqueue belongs to whoever made the ipc namespace: with a new user
    // namespace we make both at clone, as the host's root (65534:65534 inside); runc 1.1
    // unshares the ipc namespace after becoming uid 0 there but before gid 0 (0:65534).
    // Making ours after the id switch is src/runtime/plan.rs NamespaceOrder's; mode 1777
    // either way.
    (
        "\"user\": \"new\"",
        "dev: /dev/mqueue ",
        "mqueue root owned by the unmapped host root",
    ),
];

/// Applets the probe needs beyond the shared rootfs's.
const EXTRA_APPLETS: &[&str] = &["sort", "tty", "sed", "cut", "uniq", "ln", "chmod"];

/// The machine-wide fixtures: a work directory, a bind source, and a process holding
/// namespaces to join.
struct World {
    work: tempfile::TempDir,
    holder: Child,
    host_ns: BTreeMap<String, String>,
    holder_ns: BTreeMap<String, String>,
}

impl World {
    fn new() -> World {
        let work = tempfile::Builder::new()
            .prefix("cargohold-diff")
            .tempdir()
            .unwrap();
        fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let bind = work.path().join("bind");
        fs::create_dir(&bind).unwrap();
        fs::write(bind.join("hello"), "hello\n").unwrap();
        fs::write(work.path().join("bindfile"), "file\n").unwrap();
        for p in [&bind, &work.path().join("bindfile")] {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let holder = Command::new("unshare")
            .args(["--net", "--ipc", "--uts", "sleep", "3600"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        // Wait until the holder has unshared (its net namespace differs from ours).
        let host_ns = ns_of("self");
        let mut holder_ns = BTreeMap::new();
        for _ in 0..500 {
            holder_ns = ns_of(&holder.id().to_string());
            if holder_ns.get("net") != host_ns.get("net") && holder_ns.contains_key("net") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        World {
            work,
            holder,
            host_ns,
            holder_ns,
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn ns_of(pid: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for n in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        if let Ok(l) = fs::read_link(format!("/proc/{pid}/ns/{n}")) {
            m.insert(n.to_owned(), l.display().to_string());
        }
    }
    m
}

/// One generated case: the config (with `@RUN@` for the run's directory), the probe
/// script, whether it runs with a terminal, and the dimensions drawn (for the report).
struct Case {
    seed: u64,
    config: Value,
    probe: String,
    terminal: bool,
    dims: Vec<String>,
}

/// What the generator draws for one seed.
///
/// Left out, as no runtime can run them here: the time namespace (runc 1.1 does not know
/// it); CAP_SYS_RESOURCE and rlimits above the host's hard limits (this VM has no
/// CAP_SYS_RESOURCE, both runtimes fail the same way); joining a user namespace by path
/// (the holder would need to be made per case with maps both runtimes accept).
fn generate(seed: u64, world: &World) -> Case {
    let mut r = Rng(seed);
    let mut dims = Vec::new();
    let mut d = |s: String| dims.push(s);

    // Namespaces.
    let mut namespaces = Vec::new();
    let mut ns_mode = BTreeMap::new();
    for t in ["pid", "network", "ipc", "uts", "mount", "cgroup", "user"] {
        let joinable = matches!(t, "network" | "ipc" | "uts");
        let mode = match t {
            "mount" => *r.pick(&[
                "new", "new", "new", "new", "new", "new", "new", "new", "host",
            ]),
            "user" => *r.pick(&["host", "host", "host", "new"]),
            "cgroup" => *r.pick(&["host", "new"]),
            _ if joinable => *r.pick(&["new", "new", "new", "host", "joined"]),
            _ => *r.pick(&["new", "new", "new", "host"]),
        };
        ns_mode.insert(t, mode);
        match mode {
            "new" => namespaces.push(json!({"type": t})),
            "joined" => {
                let short = match t {
                    "network" => "net",
                    x => x,
                };
                namespaces.push(
                    json!({"type": t, "path": format!("/proc/{}/ns/{short}", world.holder.id())}),
                )
            }
            _ => {}
        }
    }
    d(format!("namespaces {ns_mode:?}"));
    let userns = ns_mode["user"] == "new";
    let mount_ns = ns_mode["mount"] != "host";

    // Mounts.
    let mut mounts = vec![json!({"destination": "/proc", "type": "proc", "source": "proc"})];
    let mut masked: Vec<String> = Vec::new();
    let mut readonly: Vec<String> = Vec::new();
    let mut extra_mounts = Vec::new();
    if mount_ns {
        mounts.push(
            json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        );
        mounts.push(
            json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        );
        mounts.push(
            json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        );
        if ns_mode["ipc"] == "new" || r.chance(30) {
            mounts.push(
                json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
                "options": ["nosuid", "noexec", "nodev"]}),
            );
        }
        mounts.push(
            json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", "ro"]}),
        );
        if r.chance(70) {
            mounts.push(
                json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
            );
        }
        mounts.push(
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["mode=1777"]}),
        );
        for k in 0..r.below(4) {
            match r.below(3) {
                0 => {
                    let mut o = r.subset(&["ro", "nosuid", "nodev", "noexec", "size=1m"], 35);
                    o.push(*r.pick(&["mode=0700", "mode=1777", "mode=0755"]));
                    extra_mounts.push(format!("tmpfs /mnt/t{k} {o:?}"));
                    mounts.push(json!({"destination": format!("/mnt/t{k}"), "type": "tmpfs",
                        "source": "tmpfs", "options": o}));
                }
                1 => {
                    let mut o = vec![*r.pick(&["bind", "rbind"])];
                    o.extend(r.subset(&["ro", "nosuid", "noexec", "nodev"], 35));
                    if r.chance(60) {
                        o.push(*r.pick(&[
                            "private",
                            "rprivate",
                            "shared",
                            "rshared",
                            "slave",
                            "rslave",
                            "unbindable",
                        ]));
                    }
                    extra_mounts.push(format!("bind /mnt/b{k} {o:?}"));
                    mounts.push(json!({"destination": format!("/mnt/b{k}"), "type": "bind",
                        "source": world.work.path().join("bind"), "options": o}));
                }
                _ => {
                    let mut o = vec!["bind"];
                    o.extend(r.subset(&["ro", "nosuid"], 50));
                    extra_mounts.push(format!("bind file /mnt/f{k} {o:?}"));
                    mounts.push(json!({"destination": format!("/mnt/f{k}"), "type": "bind",
                        "source": world.work.path().join("bindfile"), "options": o}));
                }
            }
        }
        masked = DEFAULT_MASKED
            .iter()
            .filter(|_| r.chance(70))
            .map(|s| s.to_string())
            .collect();
        masked.extend(r.subset(
            &[
                "/proc/cmdline".to_owned(),
                "/proc/nonexistent".to_owned(),
                "/sys/kernel".to_owned(),
            ],
            20,
        ));
        readonly = DEFAULT_READONLY
            .iter()
            .filter(|_| r.chance(70))
            .map(|s| s.to_string())
            .collect();
        readonly.extend(r.subset(
            &[
                "/proc/nonexistent-ro".to_owned(),
                "/sys/kernel".to_owned(),
                "/mnt".to_owned(),
            ],
            20,
        ));
    }
    d(format!("extra mounts {extra_mounts:?}"));
    d(format!("masked {masked:?} readonly {readonly:?}"));
    let propagation = if mount_ns && r.chance(50) {
        Some(*r.pick(&[
            "private", "rprivate", "slave", "rslave", "shared", "rshared",
        ]))
    } else {
        None
    };
    let readonly_root = r.chance(50);
    d(format!(
        "rootfsPropagation {propagation:?} readonly root {readonly_root}"
    ));
    if readonly_root && !mount_ns {
        d("a read-only root without a mount namespace".to_owned());
    }

    // Devices.
    let all_devices = [
        json!({"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3}),
        json!({"path": "/dev/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 384, "uid": 1000, "gid": 1000}),
        json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}),
        json!({"path": "/dev/loop-x", "type": "b", "major": 7, "minor": 0, "fileMode": 432}),
    ];
    let devices = if mount_ns {
        r.subset(&all_devices, 25)
    } else {
        Vec::new()
    };
    let mut dev_rules = vec![json!({"allow": false, "access": "rwm"})];
    for (typ, major, minor) in [("c", 1, 3), ("c", 10, 229), ("b", 7, 0)] {
        if r.chance(30) {
            dev_rules.push(
                json!({"allow": true, "type": typ, "major": major, "minor": minor,
                "access": *r.pick(&["rwm", "r", "rw"])}),
            );
        }
    }
    let device_paths: Vec<String> = devices
        .iter()
        .map(|v| v["path"].as_str().unwrap().to_owned())
        .collect();
    d(format!(
        "devices {device_paths:?} rules {}",
        Value::from(dev_rules.clone())
    ));

    // Capabilities.
    let caps = if r.chance(90) {
        let mut sets = serde_json::Map::new();
        let mut desc = Vec::new();
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            let pct = match set {
                "bounding" => 70,
                "ambient" | "inheritable" => 15,
                _ => 40,
            };
            let mut v: Vec<String> = r.subset(CAPS, pct).into_iter().map(String::from).collect();
            if set != "bounding" && r.chance(4) {
                v.push("CAP_BOGUS".to_owned());
            }
            if r.chance(20) && set != "bounding" {
                continue;
            }
            desc.push(format!("{set}={}", v.len()));
            sets.insert(set.to_owned(), json!(v));
        }
        d(format!("capabilities {}", Value::Object(sets.clone())));
        Some(Value::Object(sets))
    } else {
        d("capabilities none".to_owned());
        None
    };

    // Rlimits.
    let mut rlimits = Vec::new();
    for (typ, values) in [
        ("RLIMIT_NOFILE", &[64u64, 1024, 4096][..]),
        ("RLIMIT_NPROC", &[100, 4096][..]),
        ("RLIMIT_CORE", &[0, 1 << 20][..]),
        ("RLIMIT_STACK", &[1 << 20, 8 << 20][..]),
        ("RLIMIT_MSGQUEUE", &[0, 819200][..]),
    ] {
        if r.chance(40) {
            let hard = *r.pick(values);
            let soft = if r.chance(50) {
                hard
            } else {
                values[0].min(hard)
            };
            rlimits.push(json!({"type": typ, "soft": soft, "hard": hard}));
        }
    }
    d(format!("rlimits {}", Value::from(rlimits.clone())));

    // User.
    let uid = *r.pick(&[0u32, 0, 1000, 65534]);
    let gid = *r.pick(&[0u32, 0, 1000, 65534]);
    let mut user = json!({"uid": uid, "gid": gid});
    if r.chance(40) {
        user["additionalGids"] = json!(r.subset(&[10u32, 1000, 2000], 50));
    }
    if r.chance(30) {
        user["umask"] = json!(*r.pick(&[0o022u32, 0o077, 0]));
    }
    d(format!("user {user}"));

    // /root is 0700: a user other than root gets there only because the runtime changes
    // to the cwd before it switches to the user.
    let cwd = *r.pick(&["/", "/", "/tmp", "/root", "/bin", "/nonexistent/dir"]);
    let mut env: Vec<String> = Vec::new();
    if r.chance(85) {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    env.extend(
        r.subset(
            &[
                "TERM=xterm",
                "FOO=bar",
                "EMPTY=",
                "HOME=/custom",
                "DUP=1",
                "DUP=2",
                "SPACE=a b",
            ],
            40,
        )
        .into_iter()
        .map(String::from),
    );
    d(format!("cwd {cwd} env {env:?}"));

    // Sysctls: the ones whose namespace is private, and at times one that is not.
    let mut sysctl = serde_json::Map::new();
    for (k, v, ns) in SYSCTLS {
        if r.chance(25) && (ns_mode[ns] != "host" || r.chance(20)) {
            sysctl.insert(k.to_string(), json!(v));
        }
    }
    d(format!("sysctl {}", Value::Object(sysctl.clone())));

    // Seccomp.
    let nnp = r.chance(50);
    let seccomp = if r.chance(60) {
        let mut names = r.subset(
            &[
                "mkdir",
                "mkdirat",
                "chmod",
                "fchmodat",
                "symlink",
                "symlinkat",
                "sethostname",
            ],
            40,
        );
        if r.chance(15) {
            names.push(*r.pick(&[
                "close_range",
                "faccessat2",
                "capset",
                "setgroups",
                "fchdir",
                "getcwd",
            ]));
        }
        let errno = *r.pick(&[1u32, 38, 13]);
        Some(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno}]
        }))
    } else {
        None
    };
    d(format!(
        "noNewPrivileges {nnp} seccomp {}",
        seccomp.clone().unwrap_or(Value::Null)
    ));

    // Hooks: each appends "<kind> <status>" to the run's log.
    let mut hooks = serde_json::Map::new();
    let mut hook_desc = Vec::new();
    let mut hooklog_mount = false;
    if r.chance(40) {
        for kind in [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ] {
            if !r.chance(50) {
                continue;
            }
            let in_container = kind == "startContainer";
            let log = if in_container {
                "/hooklog/log".to_owned()
            } else {
                "@RUN@/hooks/log".to_owned()
            };
            hooklog_mount |= in_container;
            let script =
                format!("s=$(cat | grep -o '\"status\":\"[a-z]*\"'); echo \"{kind} $s\" >> {log}");
            let mut list = Vec::new();
            let fails = r.chance(12);
            if fails {
                list.push(json!({"path": "/bin/sh", "args": ["sh", "-c", format!("echo '{kind} failing' >> {log}; exit 3")]}));
            }
            list.push(json!({"path": "/bin/sh", "args": ["sh", "-c", script]}));
            hook_desc.push(format!(
                "{kind}{}",
                if fails { "(failing first)" } else { "" }
            ));
            hooks.insert(kind.to_owned(), json!(list));
        }
    }
    d(format!("hooks {hook_desc:?}"));
    if hooklog_mount && mount_ns {
        mounts.push(
            json!({"destination": "/hooklog", "type": "bind", "source": "@RUN@/hooks",
            "options": ["rbind", "rw"]}),
        );
    }

    let terminal = r.chance(15);
    let hostname = if ns_mode["uts"] != "host" || r.chance(10) {
        Some(*r.pick(&["runc", "probe-host"]))
    } else {
        None
    };
    let cgroups_path = r.chance(70);
    let exit_code = *r.pick(&[0u8, 0, 3, 42]);
    d(format!(
        "terminal {terminal} hostname {hostname:?} cgroupsPath {cgroups_path} exit {exit_code}"
    ));

    // Rarely, what the host cannot honour (the issue's bad input): an LSM label without
    // the LSM, a limit of a cgroup controller that is not mounted.
    let mut apparmor = None;
    let mut selinux = None;
    let mut hugetlb = None;
    if r.chance(5) {
        apparmor = Some("diff-profile");
    }
    if r.chance(5) {
        selinux = Some("system_u:system_r:container_t:s0");
    }
    if r.chance(5) {
        hugetlb = Some(json!([{"pageSize": "2MB", "limit": 1 << 30}]));
    }
    d(format!(
        "bad input: apparmor {apparmor:?} selinux {selinux:?} hugetlb {hugetlb:?}"
    ));

    let mut process = json!({
        "terminal": terminal,
        "user": user,
        "args": ["/bin/sh", "/probe.sh"],
        "env": env,
        "cwd": cwd,
        "noNewPrivileges": nnp,
    });
    if let Some(c) = caps {
        process["capabilities"] = c;
    }
    if !rlimits.is_empty() {
        process["rlimits"] = json!(rlimits);
    }
    if let Some(a) = apparmor {
        process["apparmorProfile"] = json!(a);
    }
    if let Some(s) = selinux {
        process["selinuxLabel"] = json!(s);
    }
    let mut resources = json!({"devices": dev_rules});
    if let Some(h) = hugetlb {
        resources["hugepageLimits"] = h;
    }
    let mut linux = json!({
        "resources": resources,
        "namespaces": namespaces,
        "maskedPaths": masked,
        "readonlyPaths": readonly,
    });
    if userns {
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    }
    if !devices.is_empty() {
        linux["devices"] = json!(devices);
    }
    if !sysctl.is_empty() {
        linux["sysctl"] = Value::Object(sysctl.clone());
    }
    if let Some(s) = seccomp {
        linux["seccomp"] = s;
    }
    if let Some(p) = propagation {
        linux["rootfsPropagation"] = json!(p);
    }
    if cgroups_path {
        linux["cgroupsPath"] = json!("/@ID@-cg");
    }
    let mut config = json!({
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": "rootfs", "readonly": readonly_root},
        "mounts": mounts,
        "linux": linux,
    });
    if let Some(h) = hostname {
        config["hostname"] = json!(h);
    }
    if !hooks.is_empty() {
        config["hooks"] = Value::Object(hooks);
    }

    let sysctl_keys: Vec<String> = sysctl.keys().cloned().collect();
    let probe = probe_script(&masked, &readonly, &device_paths, &sysctl_keys, exit_code);
    Case {
        seed,
        config,
        probe,
        terminal,
        dims,
    }
}

/// The probe: a busybox script printing one `section: value` line per fact.
fn probe_script(
    masked: &[String],
    readonly: &[String],
    devices: &[String],
    sysctls: &[String],
    exit: u8,
) -> String {
    let mut s = String::from("#!/bin/sh\n");
    s += "echo \"id: $(id -u) $(id -g) $(id -G)\"\n";
    s += "grep -E '^(Uid|Gid|Groups|Umask|Cap[A-Za-z]+|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status | tr -s '\\t ' ' ' | sed 's/^/status: /'\n";
    s += "tail -n +2 /proc/self/limits | tr -s ' ' | sed 's/^/limit: /'\n";
    s += "echo \"cwd: $(pwd)\"\n";
    s += "env | sort | sed 's/^/env: /'\n";
    s += "echo \"hostname: $(cat /proc/sys/kernel/hostname) $(cat /proc/sys/kernel/domainname)\"\n";
    s += "echo \"pid1: $([ $$ = 1 ] && echo yes || echo no)\"\n";
    s += "echo \"oom: $(cat /proc/self/oom_score_adj)\"\n";
    s += "for n in cgroup ipc mnt net pid time user uts; do echo \"ns: $n $(readlink /proc/self/ns/$n)\"; done\n";
    s += "sed 's/^/cgroup: /' /proc/self/cgroup | sort\n";
    for k in sysctls {
        let _ = writeln!(
            s,
            "echo \"sysctl: {k} $(cat /proc/sys/{} 2>&1)\"",
            k.replace('.', "/")
        );
    }
    // mountinfo: mount point, fs type, per-mount flags, propagation, super options, root.
    s += r#"awk '{ prop=""; i=7; while ($i != "-") { split($i, a, ":"); prop=prop" "a[1]; i++ }; if (prop=="") prop=" private"; print "mount: " $5 " " $(i+1) " " $6 prop " super=" $(i+3) " root=" $4 }' /proc/self/mountinfo | sort"#;
    s += "\n";
    for p in masked {
        let _ = writeln!(
            s,
            "echo \"masked: {p} $(stat -c '%F' {p} 2>&1) entries=$(ls -A {p} 2>/dev/null | wc -l) bytes=$(head -c 16 {p} 2>/dev/null | wc -c)\""
        );
    }
    for p in readonly {
        let _ = writeln!(
            s,
            "echo \"readonly: {p} $(stat -c '%F' {p} 2>&1) $(grep -qE \" {p} ro[, ]\" /proc/self/mountinfo && echo ro || echo rw)\""
        );
    }
    s += "for f in /dev/* /dev/pts/* /dev/mqueue/*; do [ -e \"$f\" ] || [ -L \"$f\" ] || continue; echo \"dev: $(stat -c '%N %F %a %u:%g %t:%T' $f)\"; done\n";
    for p in devices {
        let _ = writeln!(
            s,
            "( exec 3<{p} ) 2>/dev/null && echo \"device: {p} opens\" || echo \"device: {p} refused\""
        );
    }
    s += "echo \"tty: $(tty 2>&1) $([ -t 0 ] && echo in-tty) $([ -t 1 ] && echo out-tty)\"\n";
    // Reopening stdout (`>>`: no truncation) takes the permission of its file: runc gives
    // stdio to the process's user.
    s += "( : >> /dev/stdout ) 2>/dev/null && echo 'stdio: reopens' || echo 'stdio: refused'\n";
    s += "echo \"rootfs: $(touch /probe-write 2>/dev/null && echo writable || echo read-only)\"\n";
    // What seccomp (and capabilities) let it do, last: these change the container.
    s += "mkdir /scratch/d 2>/dev/null && echo 'seccomp: mkdir ok' || echo 'seccomp: mkdir refused'\n";
    s += "chmod 700 /scratch 2>/dev/null && echo 'seccomp: chmod ok' || echo 'seccomp: chmod refused'\n";
    s += "ln -s x /scratch/l 2>/dev/null && echo 'seccomp: symlink ok' || echo 'seccomp: symlink refused'\n";
    s += "hostname probe-set 2>/dev/null && echo 'seccomp: sethostname ok' || echo 'seccomp: sethostname refused'\n";
    let _ = writeln!(s, "exit {exit}");
    s
}

/// Lays out one run's directory (bundle, rootfs, hook log) and returns the bundle path.
fn materialise(case: &Case, run: &Path, id: &str) -> PathBuf {
    let bundle = run.join("bundle");
    let rootfs = bundle.join("rootfs");
    fs::create_dir_all(&rootfs).unwrap();
    for p in [run, bundle.as_path()] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    common::make_rootfs(&rootfs);
    for a in EXTRA_APPLETS {
        let l = rootfs.join("bin").join(a);
        if !l.exists() {
            std::os::unix::fs::symlink("busybox", l).unwrap();
        }
    }
    fs::set_permissions(rootfs.join("root"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(rootfs.join("probe.sh"), &case.probe).unwrap();
    fs::set_permissions(rootfs.join("probe.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let hooks = run.join("hooks");
    fs::create_dir(&hooks).unwrap();
    fs::write(hooks.join("log"), "").unwrap();
    fs::set_permissions(&hooks, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(hooks.join("log"), fs::Permissions::from_mode(0o666)).unwrap();
    if case.config["linux"].get("uidMappings").is_some() {
        // The container's root is host uid 100000: it owns its rootfs, as with any engine.
        chown_tree(&rootfs, 100000);
    }
    let config = serde_json::to_string_pretty(&case.config)
        .unwrap()
        .replace("@RUN@", run.to_str().unwrap())
        .replace("@ID@", id);
    fs::write(bundle.join("config.json"), config).unwrap();
    bundle
}

fn chown_tree(p: &Path, id: u32) {
    std::os::unix::fs::lchown(p, Some(id), Some(id)).unwrap();
    if p.is_dir() && !p.is_symlink() {
        for e in fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path(), id);
        }
    }
}

/// What one runtime made of one case, normalised for comparison.
struct Observed {
    code: Option<i32>,
    report: Vec<String>,
    hooks: Vec<String>,
    stderr: String,
}

fn observe(side: &Side, case: &Case, world: &World, id: &str) -> Observed {
    let run = world.work.path().join(format!("{id}-{}", side.name));
    let bundle = materialise(case, &run, id);
    let out: Outcome = if case.terminal {
        side.run_terminal(&bundle, id, &run.join("console.sock"))
    } else {
        side.run(&bundle, id)
    };
    side.force_delete(id);
    let hooks = fs::read_to_string(run.join("hooks/log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let run_s = run.to_str().unwrap();
    let mut report: Vec<String> = out
        .stdout
        .replace(run_s, "$RUN")
        .lines()
        .map(|l| normalise_ns(l, world))
        .collect();
    if case.terminal {
        report.retain(|l| !l.is_empty());
    }
    Observed {
        code: out.code,
        report,
        hooks,
        stderr: out.stderr,
    }
}

/// `ns: net net:[4026531840]` → `ns: net host` (or `joined`, `new`).
fn normalise_ns(line: &str, world: &World) -> String {
    let Some(rest) = line.strip_prefix("ns: ") else {
        return line.to_owned();
    };
    let mut parts = rest.splitn(2, ' ');
    let (n, link) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let what = if world.host_ns.get(n).map(String::as_str) == Some(link) {
        "host"
    } else if world.holder_ns.get(n).map(String::as_str) == Some(link) {
        "joined"
    } else if link.is_empty() {
        "none"
    } else {
        "new"
    };
    format!("ns: {n} {what}")
}

/// The lines of `ours` that differ from `runc`'s, minus the intended differences.
fn differences(case: &Case, runc: &Observed, ours: &Observed) -> Option<String> {
    let allowed = |line: &str| {
        INTENDED
            .iter()
            .chain(KNOWN)
            .find(|(dim, prefix, _)| {
                case.dims.iter().any(|d| d.contains(dim)) && line.starts_with(prefix)
            })
            .map(|(_, prefix, _)| *prefix)
    };
    if INTENDED_RUNS.iter().any(|(dim, says, _)| {
        case.dims.iter().any(|d| d.contains(dim))
            && runc.code == Some(1)
            && runc.stderr.contains(says)
    }) {
        return None;
    }
    let mut out = String::new();
    // Exit codes: a refused create is 1 for both, and then the reports are empty.
    if runc.code != ours.code {
        let _ = writeln!(out, "exit code: runc {:?}, ours {:?}", runc.code, ours.code);
    }
    // A line whose difference is allowed is compared by its prefix alone. The default
    // cgroup is the runtime's choice (see INTENDED): where the container's hierarchies are
    // bind mounts of it, their mount lines are compared without the root.
    let default_cgroup = case.dims.iter().any(|d| d.contains("cgroupsPath false"));
    // `linux.rootfsPropagation` "sets the rootfs's mount propagation" (config-linux.md),
    // as the runtime-tools suite checks on `/`: with `shared` or `rshared` ours are shared,
    // runc 1.1 leaves them private. Their mount lines are compared without it.
    let shared_root = case.dims.iter().any(|d| {
        d.contains("rootfsPropagation Some(\"shared\")") || d.contains("Some(\"rshared\")")
    });
    let norm = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| {
                let mut l = l.clone();
                if shared_root && l.starts_with("mount: ") {
                    if let Some((head, tail)) = l.split_once(" super=") {
                        let kept: Vec<&str> = head.split(' ').take(4).collect();
                        l = format!("{} (propagation) super={tail}", kept.join(" "));
                    }
                }
                match l.split_once(" root=") {
                    Some((head, _))
                        if default_cgroup && l.starts_with("mount: /sys/fs/cgroup/") =>
                    {
                        format!("{head} root=(the default cgroup)")
                    }
                    _ => allowed(&l).map_or_else(|| l.clone(), str::to_owned),
                }
            })
            .collect()
    };
    let (runc_report, ours_report) = (norm(&runc.report), norm(&ours.report));
    let (runc_hooks, ours_hooks) = (norm(&runc.hooks), norm(&ours.hooks));
    let only = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter()
            .filter(|l| !b.contains(l) && allowed(l) != Some(l.as_str()))
            .cloned()
            .collect()
    };
    for (what, a, b) in [
        ("report", &runc_report, &ours_report),
        ("hooks", &runc_hooks, &ours_hooks),
    ] {
        let (ra, rb) = (only(a, b), only(b, a));
        if !ra.is_empty() || !rb.is_empty() {
            let _ = writeln!(out, "{what}:");
            for l in ra {
                let _ = writeln!(out, "  runc: {l}");
            }
            for l in rb {
                let _ = writeln!(out, "  ours: {l}");
            }
        }
    }
    // Hook order matters too, among the hooks both ran (a hook only one side ran is an
    // allowed difference by now), unless both refused the config: runc 1.1 then runs the
    // prestart and createRuntime hooks a second time (the spec runs each hook once).
    let refused = runc.code == ours.code && runc.code != Some(0) && runc.report.is_empty();
    // Poststart hooks are left out: runc 1.1's `start` runs them as soon as it has opened
    // the exec fifo, racing the init's startContainer hooks, so its order varies from run
    // to run. Ours must follow the spec's (startContainer, the program, then poststart),
    // checked below.
    let common = |a: &[String], b: &[String]| -> Vec<String> {
        a.iter()
            .filter(|l| b.contains(l) && !l.starts_with("poststart "))
            .cloned()
            .collect()
    };
    let last_start = ours
        .hooks
        .iter()
        .rposition(|l| l.starts_with("startContainer "));
    let first_poststart = ours.hooks.iter().position(|l| l.starts_with("poststart "));
    if let (Some(s), Some(p)) = (last_start, first_poststart) {
        if p < s {
            let _ = writeln!(out, "ours ran a poststart hook before startContainer");
        }
    }
    if out.is_empty()
        && !refused
        && common(&runc_hooks, &ours_hooks) != common(&ours_hooks, &runc_hooks)
    {
        let _ = writeln!(
            out,
            "hook order: runc {:?}, ours {:?}",
            runc.hooks, ours.hooks
        );
    }
    if out.is_empty() {
        return None;
    }
    let mut msg = format!("seed {} differs:\n", case.seed);
    for d in &case.dims {
        let _ = writeln!(msg, "  [{d}]");
    }
    msg += &out;
    if std::env::var_os("DIFF_VERBOSE").is_some() {
        let _ = writeln!(msg, "runc report:\n{}", runc.report.join("\n"));
        let _ = writeln!(msg, "ours report:\n{}", ours.report.join("\n"));
        let _ = writeln!(msg, "runc hooks: {:?}", runc.hooks);
        let _ = writeln!(msg, "ours hooks: {:?}", ours.hooks);
    }
    let _ = writeln!(msg, "runc stderr: {}", runc.stderr.trim());
    let _ = writeln!(msg, "ours stderr: {}", ours.stderr.trim());
    Some(msg)
}

fn runc() -> Option<PathBuf> {
    ["/usr/sbin/runc", "/usr/bin/runc"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn sides(world: &World, runc: PathBuf) -> (Side, Side) {
    let mk = |name: &str| {
        let p = world.work.path().join(format!("root-{name}"));
        fs::create_dir(&p).unwrap();
        p
    };
    (
        Side {
            name: "runc",
            bin: runc,
            root: mk("runc"),
        },
        Side {
            name: "ours",
            bin: common::example_bin("runtime"),
            root: mk("ours"),
        },
    )
}

fn detach_mounts_under(dir: &Path) {
    let mut points: Vec<String> = common::mounts_with(dir.to_str().unwrap())
        .iter()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let c = std::ffi::CString::new(p).unwrap();
        // SAFETY: a valid C string; detaching a test's own mount.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// Nothing of the case is left on the host: no container in either root, no mount under
/// the work directory, no cgroup named after it.
fn assert_nothing_left(world: &World, a: &Side, b: &Side, id: &str) {
    for s in [a, b] {
        assert!(s.list().is_empty(), "{} still lists {:?}", s.name, s.list());
    }
    let mounts = common::mounts_with(world.work.path().to_str().unwrap());
    assert!(mounts.is_empty(), "mounts left after {id}: {mounts:?}");
    let cgroups = common::cgroups_named(id);
    assert!(cgroups.is_empty(), "cgroups left after {id}: {cgroups:?}");
}

#[test]
#[ignore = "requires root"]
fn generated_configs_run_as_under_runc() {
    let Some(runc) = runc() else {
        eprintln!("no runc on this machine: skipped");
        return;
    };
    let n: u64 = std::env::var("DIFF_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let first: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let world = World::new();
    let (rs, os) = sides(&world, runc);
    let mut failures = Vec::new();
    for seed in first..first + n {
        let case = generate(seed, &world);
        let id = format!("diff{}-{seed}", std::process::id());
        let a = observe(&rs, &case, &world, &id);
        // runc 1.1 leaves a container's mounts in the host's mount namespace when it has
        // none of its own; they are not ours to check, only to clear.
        detach_mounts_under(&world.work.path().join(format!("{id}-runc")));
        let b = observe(&os, &case, &world, &id);
        if let Some(msg) = differences(&case, &a, &b) {
            eprintln!("{msg}");
            if !OPEN_SEEDS.contains(&seed) {
                failures.push(seed);
            }
        }
        assert_nothing_left(&world, &rs, &os, &id);
    }
    assert!(
        failures.is_empty(),
        "{} of {n} configs differ: seeds {failures:?}",
        failures.len()
    );
}
