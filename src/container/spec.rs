//! From a builder's settings and an image's config to an OCI runtime spec, by Docker's
//! rules. Everything here is plain data in, plain data out (unit-tested without root).
//!
//! - **Command**: `entrypoint` given → image Entrypoint *and* Cmd are dropped, the args
//!   (if any) follow the new entrypoint; otherwise the image Entrypoint is kept and the args,
//!   when given, replace the image Cmd (`docker run --entrypoint` / `docker run IMAGE ARGS`).
//! - **Env**: `PATH` (Docker's default when neither image nor caller sets it), `HOSTNAME`,
//!   `TERM=xterm` with a tty, then the image's env, then the caller's (later wins, order of
//!   first appearance kept); `HOME` from the user's passwd entry unless set (as runc).
//! - **User**: `name|uid[:group|gid]`, looked up in the image's `/etc/passwd` and
//!   `/etc/group` as runc's `GetExecUser` does.
//! - **Capabilities**: Docker's default 14, `cap_add`/`cap_drop` (names with or without
//!   `CAP_`, any case, `ALL`); a non-root user gets them in the bounding set only (moby ≥ 20.10).
//! - **Masked and read-only paths**, mounts and `/dev/shm` size: Docker's.
//! - **no_new_privs**: off, as Docker (on only with `--security-opt no-new-privileges`).
//! - **Seccomp**: Docker's default profile for the container's final capability set
//!   ([`default_seccomp`]) unless the builder asks for another or none; `privileged` has
//!   none.

use std::collections::BTreeSet;
use std::path::Path;

use std::sync::{Arc, Mutex};

use oci_spec::runtime::{LinuxSeccomp, Spec};
use serde_json::{json, Value};

/// Docker's PATH when the image has none.
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

use super::limits::Limits;
use crate::runtime::CAPABILITIES as ALL_CAPS;

/// Docker's default capability set (moby `oci/caps/defaults.go`).
pub(crate) const DEFAULT_CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Docker's masked paths (moby `oci/defaults.go`).
pub(crate) const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub(crate) const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The process's argv by Docker's rules (see the module docs). Empty: no command at all.
pub(crate) fn command(
    image_entrypoint: &[String],
    image_cmd: &[String],
    entrypoint: Option<&[String]>,
    args: Option<&[String]>,
) -> Vec<String> {
    match entrypoint {
        // `--entrypoint` resets the image's Cmd; `--entrypoint ""` clears the entrypoint.
        Some(ep) => {
            let ep = ep.iter().filter(|s| !(ep.len() == 1 && s.is_empty()));
            ep.chain(args.unwrap_or_default()).cloned().collect()
        }
        None => {
            let cmd = match args {
                Some(a) if !a.is_empty() => a,
                _ => image_cmd,
            };
            image_entrypoint.iter().chain(cmd).cloned().collect()
        }
    }
}

fn env_key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

/// Appends `kv`, replacing an earlier entry with the same key in place.
fn set_env(env: &mut Vec<String>, kv: String) {
    let key = env_key(&kv).to_owned();
    match env.iter_mut().find(|e| env_key(e) == key) {
        Some(e) => *e = kv,
        None => env.push(kv),
    }
}

/// The process's environment by Docker's rules (see the module docs).
pub(crate) fn environment(
    image_env: &[String],
    clear: bool,
    overrides: &[(String, String)],
    hostname: &str,
    tty: bool,
    home: &str,
) -> Vec<String> {
    let mut env = Vec::new();
    let mut has_path = overrides.iter().any(|(k, _)| k == "PATH");
    if !clear {
        has_path |= image_env.iter().any(|e| env_key(e) == "PATH");
    }
    if !has_path {
        env.push(DEFAULT_PATH.to_owned());
    }
    env.push(format!("HOSTNAME={hostname}"));
    if tty {
        env.push("TERM=xterm".to_owned());
    }
    if !clear {
        for e in image_env {
            set_env(&mut env, e.clone());
        }
    }
    for (k, v) in overrides {
        set_env(&mut env, format!("{k}={v}"));
    }
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
}

/// The bounding set of the calling process (`CapBnd` of `/proc/self/status`); every
/// capability if it cannot be read.
pub(crate) fn own_bounding_set() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("CapBnd:"))?;
            u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
        })
        .unwrap_or(u64::MAX)
}

/// Normalises a capability name ("net_admin", "CAP_NET_ADMIN" → "NET_ADMIN", "all" → "ALL").
fn cap_name(name: &str) -> Option<String> {
    let up = name.trim().to_ascii_uppercase();
    let up = up.strip_prefix("CAP_").unwrap_or(&up).to_owned();
    (up == "ALL" || ALL_CAPS.contains(&up.as_str())).then_some(up)
}

/// The capability set from Docker's default, `add` and `drop` (Docker's order: with `ALL`
/// in `drop` only `add` remains; with `ALL` in `add` everything but `drop`).
///
/// # Errors
/// The first unknown capability name.
///
/// `available` is the bounding set of the calling process (bit n = capability n): a
/// capability outside it cannot be given to the container, so `ALL` and `privileged` mean
/// every capability in it, as a daemon can only hand out what it has.
pub(crate) fn capabilities(
    add: &[String],
    drop: &[String],
    privileged: bool,
    available: u64,
) -> Result<BTreeSet<String>, String> {
    let all = || -> BTreeSet<String> {
        ALL_CAPS
            .iter()
            .enumerate()
            .filter(|(i, _)| available & (1 << i) != 0)
            .map(|(_, c)| (*c).to_owned())
            .collect()
    };
    let norm = |l: &[String]| -> Result<BTreeSet<String>, String> {
        l.iter()
            .map(|c| cap_name(c).ok_or_else(|| format!("unknown capability {c:?}")))
            .collect()
    };
    let (add, drop) = (norm(add)?, norm(drop)?);
    if privileged {
        return Ok(all());
    }
    let mut caps: BTreeSet<String> = if add.contains("ALL") {
        all()
    } else if drop.contains("ALL") {
        BTreeSet::new()
    } else {
        DEFAULT_CAPS.iter().map(|c| (*c).to_owned()).collect()
    };
    if !add.contains("ALL") {
        caps.extend(add.iter().cloned());
    }
    for d in &drop {
        if !add.contains(d) || add.contains("ALL") {
            caps.remove(d);
        }
    }
    caps.remove("ALL");
    Ok(caps)
}

/// A user resolved against the image's passwd and group files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Why a user could not be resolved: (kind, name, file).
pub(crate) type UserError = (&'static str, String, &'static str);

/// Resolves `user` (`""`, `name`, `uid`, `name:group`, `uid:gid`…) as runc's `GetExecUser`.
///
/// # Errors
/// A name that is in neither file.
pub(crate) fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<ExecUser, UserError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let entries = passwd.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 4 && !l.starts_with('#')).then(|| {
            let uid = f[2].parse::<u32>().ok()?;
            let gid = f[3].parse::<u32>().ok()?;
            Some((f[0], uid, gid, f.get(5).copied().unwrap_or("/")))
        })?
    });
    let uid_num = u.parse::<u32>().ok();
    let found = entries.clone().find(|(n, uid, _, _)| {
        if u.is_empty() {
            *uid == 0
        } else {
            Some(*uid) == uid_num || *n == u
        }
    });
    let (name, uid, mut gid, home) = match (found, uid_num) {
        (Some((n, uid, gid, home)), _) => (Some(n), uid, gid, home.to_owned()),
        (None, Some(uid)) => (None, uid, 0, "/".to_owned()),
        (None, None) if u.is_empty() => (None, 0, 0, "/".to_owned()),
        (None, None) => return Err(("user", u.to_owned(), "passwd")),
    };
    let groups = group.lines().filter_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && !l.starts_with('#')).then(|| {
            let gid = f[2].parse::<u32>().ok()?;
            let members: Vec<&str> = f
                .get(3)
                .map(|m| m.split(',').filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            Some((f[0], gid, members))
        })?
    });
    let mut additional_gids = Vec::new();
    match g {
        Some(g) if !g.is_empty() => {
            gid = match (groups.clone().find(|(n, _, _)| *n == g), g.parse::<u32>()) {
                (Some((_, gid, _)), _) => gid,
                (None, Ok(gid)) => gid,
                (None, Err(_)) => return Err(("group", g.to_owned(), "group")),
            };
        }
        _ => {
            if let Some(name) = name {
                additional_gids = groups
                    .filter(|(_, _, m)| m.contains(&name))
                    .map(|(_, gid, _)| gid)
                    .collect();
            }
        }
    }
    Ok(ExecUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// Everything [`build`] needs, resolved.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    pub id: &'a str,
    pub hostname: &'a str,
    pub args: &'a [String],
    pub env: &'a [String],
    pub cwd: &'a str,
    pub user: &'a ExecUser,
    pub terminal: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub caps: &'a BTreeSet<String>,
    pub no_new_privileges: bool,
    /// The checked memory and CPU limits (only a positive swap reaches the spec).
    pub limits: Limits,
    pub pids: Option<i64>,
    /// The container directory holding `hosts`, `hostname` and `resolv.conf`.
    pub dir: &'a Path,
    pub labels: &'a [(String, String)],
}

/// Every capability this process can hand out, in each set but the ambient one: what
/// Docker gives a privileged exec (`docker exec --privileged`).
pub(crate) fn privileged_capabilities() -> oci_spec::runtime::LinuxCapabilities {
    let all = capabilities(&[], &[], true, own_bounding_set()).unwrap_or_default();
    let set: oci_spec::runtime::Capabilities =
        serde_json::from_value(caps_json(&all)).unwrap_or_default();
    let mut caps = oci_spec::runtime::LinuxCapabilities::default();
    caps.set_bounding(Some(set.clone()));
    caps.set_effective(Some(set.clone()));
    caps.set_permitted(Some(set.clone()));
    caps.set_inheritable(Some(set));
    caps.set_ambient(None);
    caps
}

fn caps_json(caps: &BTreeSet<String>) -> Value {
    json!(caps.iter().map(|c| format!("CAP_{c}")).collect::<Vec<_>>())
}

/// A container's seccomp profile (`linux.seccomp`) with its compact JSON, made once and
/// shared: an engine writes the same few profiles (Docker's default, per capability set)
/// into every `config.json`, a few hundred syscall names each, which it neither copies nor
/// serialises again for each container (see [`to_json`]).
#[derive(Debug)]
pub(crate) struct Seccomp {
    pub profile: LinuxSeccomp,
    pub json: Vec<u8>,
}

impl Seccomp {
    pub(crate) fn new(profile: LinuxSeccomp) -> Arc<Seccomp> {
        let json = serde_json::to_vec(&profile).expect("a seccomp profile always serialises");
        Arc::new(Seccomp { profile, json })
    }
}

/// Docker's default seccomp profile for a container with `caps`
/// ([`default_profile`](crate::runtime::seccomp_profile::default_profile)), resolved once
/// per capability set: an engine starts most of its containers with the same few sets.
pub(crate) fn default_seccomp(caps: &BTreeSet<String>) -> Arc<Seccomp> {
    static CACHE: Mutex<Vec<(BTreeSet<String>, Arc<Seccomp>)>> = Mutex::new(Vec::new());
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, profile)) = cache.iter().find(|(c, _)| c == caps) {
        return profile.clone();
    }
    let names: Vec<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
    let profile = Seccomp::new(crate::runtime::seccomp_profile::default_profile(&names));
    if cache.len() >= 8 {
        cache.remove(0);
    }
    cache.push((caps.clone(), profile.clone()));
    profile
}

/// `spec` as compact JSON, with `seccomp` as its `linux.seccomp` (`spec` has none): the
/// profile's JSON is put in as made once, where serialising it would cost as much again as
/// the rest of the spec.
pub(crate) fn to_json(mut spec: Spec, seccomp: Option<&Seccomp>) -> Vec<u8> {
    let Some(seccomp) = seccomp else {
        return serde_json::to_vec(&spec).expect("a spec always serialises");
    };
    debug_assert!(spec.linux().as_ref().is_none_or(|l| l.seccomp().is_none()));
    let linux = match spec.linux_mut().take() {
        Some(l) => serde_json::to_vec(&l).expect("a spec always serialises"),
        None => b"{}".to_vec(),
    };
    // Both are JSON objects, `{…}`: the spec's gets `"linux":{…,"seccomp":…}` as its last
    // member.
    let mut out = serde_json::to_vec(&spec).expect("a spec always serialises");
    out.pop();
    if out.len() > 1 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"linux\":");
    out.extend_from_slice(&linux[..linux.len() - 1]);
    if linux.len() > 2 {
        out.push(b',');
    }
    out.extend_from_slice(b"\"seccomp\":");
    out.extend_from_slice(&seccomp.json);
    out.extend_from_slice(b"}}");
    out
}

/// The runtime spec for a container (bundle = the container directory, rootfs `rootfs`).
///
/// # Panics
/// The `linux.resources` entries of `l` and `pids` (memory, cpu, pids; the devices are
/// the caller's): what a new container's spec has and what `update` writes.
pub(crate) fn resources(l: &Limits, pids: Option<i64>) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    let mut memory = serde_json::Map::new();
    if let Some(m) = l.memory {
        memory.insert("limit".into(), json!(m));
    }
    if let Some(s) = l.memory_swap.filter(|&s| s > 0) {
        memory.insert("swap".into(), json!(s));
    }
    if let Some(r) = l.memory_reservation {
        memory.insert("reservation".into(), json!(r));
    }
    if !memory.is_empty() {
        out.insert("memory".into(), Value::Object(memory));
    }
    let mut cpu = serde_json::Map::new();
    if let Some(s) = l.cpu_shares {
        cpu.insert("shares".into(), json!(s));
    }
    if let Some(q) = l.cpu_quota {
        cpu.insert("quota".into(), json!(q));
        cpu.insert(
            "period".into(),
            json!(l.cpu_period.unwrap_or(super::limits::CPUS_PERIOD)),
        );
    }
    if !cpu.is_empty() {
        out.insert("cpu".into(), Value::Object(cpu));
    }
    if let Some(p) = pids {
        out.insert("pids".into(), json!({ "limit": p }));
    }
    out
}

/// Never: the JSON built here always matches the spec's schema (unit-tested).
pub(crate) fn build(i: &Input<'_>) -> Spec {
    let caps = caps_json(i.caps);
    let root_user = i.user.uid == 0;
    let no_caps = json!([]);
    let ro = if i.privileged { "rw" } else { "ro" };
    let file = |name: &str, dest: &str| {
        json!({"destination": dest, "type": "bind",
               "source": i.dir.join(name), "options": ["rbind", "rprivate"]})
    };
    let mut resources = Value::Object(resources(&i.limits, i.pids));
    resources["devices"] = json!([{"allow": i.privileged, "access": "rwm"}]);
    let mut linux = json!({
        "cgroupsPath": format!("/cargohold-{}", i.id),
        "resources": resources,
        "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
    });
    if !i.privileged {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    let annotations: serde_json::Map<String, Value> = i
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    let doc = json!({
        "ociVersion": "1.2.0",
        "root": {"path": "rootfs", "readonly": i.read_only},
        "hostname": i.hostname,
        "annotations": annotations,
        "process": {
            "terminal": i.terminal,
            "user": {"uid": i.user.uid, "gid": i.user.gid,
                     "additionalGids": i.user.additional_gids},
            "args": i.args,
            "env": i.env,
            "cwd": i.cwd,
            "noNewPrivileges": i.no_new_privileges,
            "capabilities": {
                "bounding": caps,
                "effective": if root_user { &caps } else { &no_caps },
                "permitted": if root_user { &caps } else { &no_caps },
            },
        },
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", ro]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", ro]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            file("resolv.conf", "/etc/resolv.conf"),
            file("hostname", "/etc/hostname"),
            file("hosts", "/etc/hosts"),
        ],
        "linux": linux,
    });
    serde_json::from_value(doc).expect("the generated spec matches the schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn command_follows_docker() {
        let ep = s(&["/entry", "-x"]);
        let cmd = s(&["serve", "--port=1"]);
        // image only
        assert_eq!(
            command(&ep, &cmd, None, None),
            s(&["/entry", "-x", "serve", "--port=1"])
        );
        // args replace Cmd, keep Entrypoint
        assert_eq!(
            command(&ep, &cmd, None, Some(&s(&["a"]))),
            s(&["/entry", "-x", "a"])
        );
        // --entrypoint resets Cmd
        assert_eq!(
            command(&ep, &cmd, Some(&s(&["/bin/sh"])), None),
            s(&["/bin/sh"])
        );
        // --entrypoint with args
        assert_eq!(
            command(&ep, &cmd, Some(&s(&["/bin/sh"])), Some(&s(&["-c", "true"]))),
            s(&["/bin/sh", "-c", "true"])
        );
        // --entrypoint "" clears it: args alone, and no Cmd from the image
        assert_eq!(
            command(&ep, &cmd, Some(&s(&[""])), Some(&s(&["echo"]))),
            s(&["echo"])
        );
        assert!(command(&ep, &cmd, Some(&s(&[""])), None).is_empty());
        // no entrypoint in the image
        assert_eq!(command(&[], &cmd, None, None), cmd);
        assert!(command(&[], &[], None, None).is_empty());
    }

    #[test]
    fn environment_merges_image_then_overrides() {
        let img = s(&["PATH=/bin", "A=image", "B=image"]);
        let ov = vec![
            ("B".to_owned(), "mine".to_owned()),
            ("C".to_owned(), "c".to_owned()),
        ];
        let env = environment(&img, false, &ov, "h", false, "/root");
        assert_eq!(
            env,
            s(&[
                "HOSTNAME=h",
                "PATH=/bin",
                "A=image",
                "B=mine",
                "C=c",
                "HOME=/root"
            ])
        );
        let env = environment(&img, true, &[], "h", true, "/");
        assert_eq!(
            env,
            s(&[DEFAULT_PATH, "HOSTNAME=h", "TERM=xterm", "HOME=/"])
        );
        let ov = vec![("HOME".to_owned(), "/x".to_owned())];
        let env = environment(&[], false, &ov, "h", false, "/root");
        assert_eq!(env.last().unwrap(), "HOME=/x");
    }

    #[test]
    fn capabilities_follow_docker() {
        let d = capabilities(&[], &[], false, u64::MAX).unwrap();
        assert_eq!(d.len(), 14);
        let c = capabilities(&s(&["net_admin"]), &s(&["CAP_CHOWN"]), false, !0).unwrap();
        assert!(c.contains("NET_ADMIN") && !c.contains("CHOWN"));
        let c = capabilities(&s(&["KILL"]), &s(&["ALL"]), false, !0).unwrap();
        assert_eq!(c.into_iter().collect::<Vec<_>>(), s(&["KILL"]));
        let c = capabilities(&s(&["all"]), &s(&["mknod"]), false, !0).unwrap();
        assert_eq!(c.len(), ALL_CAPS.len() - 1);
        assert_eq!(
            capabilities(&[], &[], true, !0).unwrap().len(),
            ALL_CAPS.len()
        );
        // only what the caller has (here: no CAP_SYS_RESOURCE, bit 24)
        let c = capabilities(&[], &[], true, !(1 << 24)).unwrap();
        assert!(!c.contains("SYS_RESOURCE") && c.len() == ALL_CAPS.len() - 1);
        assert!(capabilities(&s(&["FLY"]), &[], false, !0).is_err());
    }

    #[test]
    fn default_seccomp_follows_the_capabilities() {
        let has = |p: &Seccomp, name: &str| {
            let p = &p.profile;
            p.syscalls()
                .iter()
                .flatten()
                .any(|r| r.names().iter().any(|n| n == name))
        };
        let plain = capabilities(&[], &[], false, u64::MAX).unwrap();
        let admin = capabilities(&s(&["SYS_ADMIN"]), &[], false, u64::MAX).unwrap();
        assert!(!has(&default_seccomp(&plain), "mount"));
        assert!(has(&default_seccomp(&admin), "mount"));
        // Cached (the same one), and still per set.
        assert!(Arc::ptr_eq(
            &default_seccomp(&plain),
            &default_seccomp(&plain)
        ));
        assert!(!has(&default_seccomp(&plain), "mount"));
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:34:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nweb:x:34:\naudio:x:29:www,other\nvideo:x:44:www\n";

    #[test]
    fn users_resolve_like_runc() {
        let u = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        let u = resolve_user("www", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids), (33, 34, vec![29, 44]));
        assert_eq!(u.home, "/var/www");
        let u = resolve_user("33:audio", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.additional_gids.len()), (33, 29, 0));
        let u = resolve_user("1000:1000", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (1000, 1000, "/"));
        let u = resolve_user("1000", PASSWD, GROUP).unwrap();
        assert_eq!(u.gid, 0);
        assert_eq!(resolve_user("nobody", PASSWD, GROUP).unwrap_err().0, "user");
        assert_eq!(
            resolve_user("www:nogroup", PASSWD, GROUP).unwrap_err().0,
            "group"
        );
    }

    #[test]
    fn spec_has_docker_defaults() {
        let user = resolve_user("www", PASSWD, GROUP).unwrap();
        let caps = capabilities(&[], &[], false, u64::MAX).unwrap();
        let args = s(&["sh"]);
        let env = s(&["PATH=/bin"]);
        let spec = build(&Input {
            id: "abc",
            hostname: "h",
            args: &args,
            env: &env,
            cwd: "/",
            user: &user,
            terminal: false,
            read_only: true,
            privileged: false,
            caps: &caps,
            no_new_privileges: true,
            limits: Limits {
                memory: Some(64 << 20),
                memory_swap: Some(128 << 20),
                memory_reservation: Some(32 << 20),
                cpu_shares: Some(512),
                cpu_quota: Some(50_000),
                cpu_period: None,
            },
            pids: Some(10),
            dir: Path::new("/c/abc"),
            labels: &[],
        });
        // config.json as written: the profile's JSON put in as made once, read back as the
        // spec with the profile set
        let profile = default_seccomp(&caps);
        let config = to_json(spec.clone(), Some(&profile));
        let back: Spec = serde_json::from_slice(&config).unwrap();
        let mut whole = spec.clone();
        whole
            .linux_mut()
            .as_mut()
            .unwrap()
            .set_seccomp(Some(profile.profile.clone()));
        assert_eq!(back, whole);
        let plain: Spec = serde_json::from_slice(&to_json(spec.clone(), None)).unwrap();
        assert_eq!(plain, spec);
        // a spec without `linux` gets one holding the profile alone
        let mut bare = spec;
        bare.set_linux(None);
        let back: Spec = serde_json::from_slice(&to_json(bare, Some(&profile))).unwrap();
        let linux = back.linux().as_ref().unwrap();
        assert_eq!(linux.seccomp().as_ref(), Some(&profile.profile));
        assert_eq!(linux.namespaces(), &None);
        let v: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(v["root"]["readonly"], true);
        assert_eq!(
            v["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(v["process"]["capabilities"]["effective"], json!([]));
        assert_eq!(v["process"]["user"]["additionalGids"], json!([29, 44]));
        assert_eq!(v["linux"]["resources"]["memory"]["limit"], 64 << 20);
        assert_eq!(v["linux"]["resources"]["memory"]["swap"], 128 << 20);
        assert_eq!(v["linux"]["resources"]["memory"]["reservation"], 32 << 20);
        assert_eq!(v["linux"]["resources"]["cpu"]["shares"], 512);
        assert_eq!(v["linux"]["resources"]["cpu"]["quota"], 50_000);
        assert_eq!(v["linux"]["resources"]["cpu"]["period"], 100_000);
        assert_eq!(v["linux"]["resources"]["pids"]["limit"], 10);
        assert_eq!(
            v["linux"]["maskedPaths"].as_array().unwrap().len(),
            MASKED_PATHS.len()
        );
        assert!(v["mounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["destination"] == "/etc/hosts" && m["source"] == "/c/abc/hosts"));
        assert_eq!(v["process"]["noNewPrivileges"], true);
        // Docker's allow list: mount is in no rule for the default capabilities.
        let seccomp = &v["linux"]["seccomp"];
        assert_eq!(seccomp["defaultAction"], "SCMP_ACT_ERRNO");
        let rules = seccomp["syscalls"].as_array().unwrap();
        assert!(rules
            .iter()
            .any(|r| r["names"].as_array().unwrap().contains(&json!("read"))));
        assert!(!rules
            .iter()
            .any(|r| r["names"].as_array().unwrap().contains(&json!("mount"))));
        // every capability name is one oci-spec knows
        let all: BTreeSet<String> = ALL_CAPS.iter().map(|c| (*c).to_owned()).collect();
        let v = caps_json(&all);
        let parsed: Vec<oci_spec::runtime::Capability> = serde_json::from_value(v).unwrap();
        assert_eq!(parsed.len(), ALL_CAPS.len());
    }
}
