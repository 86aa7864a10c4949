//! Security options of engine containers (issue 10): Docker's default seccomp profile on
//! by default, `seccomp=unconfined|PROFILE.json`, `no-new-privileges`, and the options
//! refused (`apparmor=`, `label=`, unknown ones, bad profiles) with nothing left behind.
//!
//! The setuid test runs a setuid-root copy of the host's coreutils `id` from the image, with
//! the host's `/usr` bound read-only for its libraries (as tests/it/seccomp.rs does for perl).

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};

use cargohold::{Error, Image, Mount, SeccompProfile};

use crate::common::{self, stdout, TestEngine as Env};

fn env() -> Env {
    common::busybox().engine("cargohold-secopt")
}

/// The value of `key:` in a `/proc/<pid>/status` dump, or of `key=` in a probe's output.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':').or_else(|| r.strip_prefix('=')))
        })
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in {out}"))
}

/// Prints the seccomp mode and no_new_privs of the container's shell, then tries a new
/// user+network namespace, a new mount namespace and a tmpfs mount.
const PROBE: &str = "cat /proc/self/status; \
    busybox unshare -U -n true 2>/dev/null && echo userns=ok || echo userns=refused; \
    busybox unshare -m true 2>/dev/null && echo mountns=ok || echo mountns=refused; \
    mount -t tmpfs none /tmp 2>/dev/null && echo mount=ok || echo mount=refused";

/// (seccomp mode, userns, mountns, mount) of a probe run by `b`.
fn probe(b: &mut cargohold::ContainerBuilder<'_>) -> [String; 4] {
    let out = b.auto_remove(true).output().unwrap();
    common::assert_success(&out);
    let s = stdout(&out);
    ["Seccomp", "userns", "mountns", "mount"].map(|k| field(&s, k).to_owned())
}

/// No container, name, or mount of the engine's root is left.
fn assert_nothing_left(e: &Env) {
    common::assert_no_containers(&e.engine);
    let root = e.engine.root().display().to_string();
    assert!(common::mounts_with(&root).is_empty());
}

#[test]
#[ignore = "requires root"]
fn default_profile_confines_unless_unconfined_or_privileged() {
    let e = env();
    let s = |v: [&str; 4]| v.map(str::to_owned);
    // Docker's default profile: no new namespaces, no mounts (filter mode 2).
    assert_eq!(
        probe(&mut e.sh(PROBE)),
        s(["2", "refused", "refused", "refused"])
    );
    // Unconfined: a user namespace needs no capability, so only the filter stopped it.
    assert_eq!(
        probe(e.sh(PROBE).security_opt("seccomp=unconfined")),
        s(["0", "ok", "refused", "refused"])
    );
    // Unconfined with SYS_ADMIN: everything.
    assert_eq!(
        probe(
            e.sh(PROBE)
                .seccomp(SeccompProfile::Unconfined)
                .cap_add("SYS_ADMIN")
        ),
        s(["0", "ok", "ok", "ok"])
    );
    // The default profile for a container with SYS_ADMIN opens mount and unshare, as
    // Docker's does (the profile follows the final capability set).
    assert_eq!(
        probe(e.sh(PROBE).cap_add("SYS_ADMIN")),
        s(["2", "ok", "ok", "ok"])
    );
    // Privileged: no filter, whatever was asked.
    assert_eq!(
        probe(
            e.sh(PROBE)
                .seccomp(SeccompProfile::Default)
                .privileged(true)
        )[0],
        "0"
    );
    // A later setting wins: back to the default profile.
    let [mode, userns, ..] = probe(
        e.sh(PROBE)
            .security_opt("seccomp=unconfined")
            .seccomp(SeccompProfile::Default),
    );
    assert_eq!((mode.as_str(), userns.as_str()), ("2", "refused"));
    assert_nothing_left(&e);
}

#[test]
#[ignore = "requires root"]
fn profile_file_is_loaded_and_resolved() {
    let e = env();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deny-mkdir.json");
    fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
              {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
              {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ALLOW",
               "includes": {"caps": ["CAP_SYS_ADMIN"]}}
            ]}"#,
    )
    .unwrap();
    let script = "mkdir /tmp/d 2>&1; cat /proc/self/status";
    let out = e
        .sh(script)
        .security_opt(format!("seccomp={}", path.display()))
        .auto_remove(true)
        .output()
        .unwrap();
    let s = stdout(&out);
    assert!(s.contains("Permission denied"), "{s}"); // EACCES, the profile's errnoRet
    assert_eq!(field(&s, "Seccomp"), "2");
    // The first matching rule wins, so SYS_ADMIN's extra rule changes nothing here; what
    // it shows is that `includes` were resolved without error for the container's caps.
    let out = e
        .sh(script)
        .seccomp(SeccompProfile::File(path.clone()))
        .cap_add("SYS_ADMIN")
        .auto_remove(true)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("Permission denied"),
        "{}",
        stdout(&out)
    );
    // `{}` disables seccomp, as in Docker.
    let empty = dir.path().join("empty.json");
    fs::write(&empty, "{}").unwrap();
    let out = e
        .sh("cat /proc/self/status")
        .seccomp(SeccompProfile::File(empty))
        .auto_remove(true)
        .output()
        .unwrap();
    assert_eq!(field(&stdout(&out), "Seccomp"), "0");
    assert_nothing_left(&e);
}

/// An image with a setuid-root copy of the host's `id` at `/suid-id` (its libraries come
/// from the host's `/usr`, bound read-only at run time).
fn suid_image(e: &Env) -> Image {
    let image = common::busybox();
    let src = image.rootfs();
    let root = src.path();
    fs::copy("/usr/bin/id", root.join("suid-id")).unwrap();
    fs::set_permissions(root.join("suid-id"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::create_dir_all(root.join("usr")).unwrap();
    symlink("usr/lib", root.join("lib")).unwrap();
    symlink("usr/lib64", root.join("lib64")).unwrap();
    e.engine
        .images()
        .import_dir(
            root,
            &image.image_config(),
            &common::unique("busybox:suid").parse().unwrap(),
        )
        .unwrap()
}

#[test]
#[ignore = "requires root"]
fn no_new_privileges_stops_setuid() {
    let e = env();
    let image = suid_image(&e);
    let run = |f: &dyn Fn(&mut cargohold::ContainerBuilder<'_>)| {
        let mut b = e.engine.container(&image);
        b.args(["sh", "-c", "/suid-id; cat /proc/self/status"])
            .user("1000")
            .mount(Mount::bind("/usr", "/usr").read_only());
        f(&mut b);
        let out = b.output().unwrap();
        common::assert_success(&out);
        stdout(&out)
    };
    // Without no_new_privs the setuid bit lifts uid 1000 to euid 0 (Docker's default).
    let s = run(&|_| {});
    assert!(s.contains("uid=1000") && s.contains("euid=0"), "{s}");
    assert_eq!(field(&s, "NoNewPrivs"), "0");
    for set in [
        &(|b: &mut cargohold::ContainerBuilder<'_>| {
            b.no_new_privileges(true);
        }) as &dyn Fn(&mut cargohold::ContainerBuilder<'_>),
        &|b| {
            b.security_opt("no-new-privileges");
        },
        &|b| {
            b.security_opt("no-new-privileges:true");
        },
    ] {
        let s = run(set);
        assert!(s.contains("uid=1000") && !s.contains("euid="), "{s}");
        assert_eq!(field(&s, "NoNewPrivs"), "1");
    }
    // A later `no-new-privileges=false` turns it off again.
    let s = run(&|b| {
        b.no_new_privileges(true)
            .security_opt("no-new-privileges=false");
    });
    assert!(s.contains("euid=0"), "{s}");
}

#[test]
#[ignore = "requires root"]
fn security_options_are_recorded() {
    let e = env();
    let c = e
        .sh("true")
        .security_opt("seccomp=unconfined")
        .no_new_privileges(true)
        .create()
        .unwrap();
    let info = c.inspect().unwrap();
    assert_eq!(
        info.host_config.security_opt,
        ["seccomp=unconfined", "no-new-privileges"]
    );
    c.remove(true).unwrap();
    let c = e.sh("true").create().unwrap();
    assert!(c.inspect().unwrap().host_config.security_opt.is_empty());
    c.remove(true).unwrap();
    assert_nothing_left(&e);
}

#[test]
#[ignore = "requires root"]
fn refused_options_name_the_option_and_leave_nothing() {
    let e = env();
    let lsm = fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    let apparmor = lsm.contains("apparmor") || fs::metadata("/sys/module/apparmor").is_ok();
    let selinux = lsm.contains("selinux") || fs::metadata("/sys/fs/selinux/enforce").is_ok();
    let cases = [
        (
            "apparmor=docker-default",
            if apparmor {
                "AppArmor options are not supported yet"
            } else {
                "AppArmor is not enabled on this host"
            },
        ),
        (
            "label=disable",
            if selinux {
                "SELinux options are not supported yet"
            } else {
                "SELinux is not enabled on this host"
            },
        ),
        ("systempaths=unconfined", "unknown security option"),
        ("no-new-privileges=maybe", "is not true or false"),
        ("seccomp=", "seccomp needs a profile"),
    ];
    for (opt, why) in cases {
        let err = e.sh("true").security_opt(opt).output().unwrap_err();
        match &err {
            Error::InvalidContainerConfig { field, reason, .. } => {
                assert_eq!(*field, "security option");
                assert!(reason.contains(&format!("{opt:?}")), "{err}");
                assert!(reason.contains(why), "{err}");
            }
            other => panic!("{opt}: {other}"),
        }
    }

    // Bad profiles: the error names the file and the field.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    fs::write(
        &bad,
        r#"{"defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["read", "no_such_call"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let notify = dir.path().join("notify.json");
    fs::write(&notify, r#"{"defaultAction": "SCMP_ACT_NOTIFY"}"#).unwrap();
    let missing = dir.path().join("missing.json");
    for (path, want) in [
        (&bad, "syscalls[0].names[1]"),
        (&notify, "SCMP_ACT_NOTIFY"),
        (&missing, "reading seccomp profile"),
    ] {
        let err = e
            .sh("true")
            .security_opt(format!("seccomp={}", path.display()))
            .output()
            .unwrap_err()
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(want), "{err}");
    }
    // Refused by create too, and when spawned detached.
    assert!(e.sh("true").security_opt("apparmor=x").create().is_err());
    assert!(e
        .sh("true")
        .seccomp(SeccompProfile::File(bad))
        .detach(true)
        .spawn()
        .is_err());
    assert_nothing_left(&e);
}
