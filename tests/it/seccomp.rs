//! Docker's default seccomp profile (`runtime::seccomp_profile`) on the real kernel: busybox
//! bundles run through `runtime::Runtime` with the resolved profile in `linux.seccomp`.
//!
//! Syscalls busybox has no applet for (`io_uring_setup`, `keyctl`, `clone` with namespace
//! flags, `clone3`, `socket(AF_ALG)`) are made by the host's perl (`syscall()`), with the
//! host's `/usr` bound read-only into the rootfs.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::symlink;

use cargohold::oci_spec::runtime::{Capability, LinuxSeccomp, MountBuilder};
use cargohold::runtime::seccomp_profile::{default_profile, Profile};

use crate::common::{self, Bundle};

/// Docker's default capabilities, which do not include CAP_SYS_ADMIN.
const DOCKER_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

const PERL: &str = "/usr/bin/perl";

/// A busybox bundle running `script` with `caps` (all five sets) and `seccomp`, the host's
/// /usr bound read-only for perl, and applets for the probes.
fn bundle(script: &str, caps: &[&str], seccomp: Option<LinuxSeccomp>) -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", script]);
    let rootfs = b.rootfs();
    for applet in ["unshare", "date", "umount"] {
        symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    fs::create_dir_all(rootfs.join("usr")).unwrap();
    fs::create_dir_all(rootfs.join("mnt")).unwrap();
    symlink("usr/lib", rootfs.join("lib")).unwrap();
    symlink("usr/lib64", rootfs.join("lib64")).unwrap();
    let caps: HashSet<Capability> = caps
        .iter()
        .map(|c| serde_json::from_value(serde_json::Value::String(c.to_string())).unwrap())
        .collect();
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        let mut c = p.capabilities().clone().unwrap();
        c.set_bounding(Some(caps.clone()));
        c.set_effective(Some(caps.clone()));
        c.set_permitted(Some(caps.clone()));
        c.set_inheritable(Some(caps.clone()));
        c.set_ambient(Some(caps));
        p.set_capabilities(Some(c));
        s.set_process(Some(p));
        let mut mounts = s.mounts().clone().unwrap();
        mounts.push(
            MountBuilder::default()
                .destination("/usr")
                .typ("bind")
                .source("/usr")
                .options(vec!["rbind".to_string(), "ro".into()])
                .build()
                .unwrap(),
        );
        s.set_mounts(Some(mounts));
        let mut linux = s.linux().clone().unwrap();
        linux.set_seccomp(seccomp);
        s.set_linux(Some(linux));
    });
    b
}

/// A perl one-liner printing `name=ok` or `name=<errno>` for each raw syscall probe.
fn perl_probes() -> String {
    let script = format!(
        r#"$| = 1;
sub probe {{ my ($n, $r) = @_; print "$n=", ($r < 0 ? 0 + $! : "ok"), "\n"; }}
my $params = "\0" x 120;
probe("io_uring", syscall({io_uring}, 1, $params));
probe("keyctl", syscall({keyctl}, 0, -3, 0));
my $c = syscall({clone}, 0x50000011, 0, 0, 0, 0);
if ($c == 0) {{ exit 0 }}
if ($c > 0) {{ waitpid($c, 0) }}
probe("clone_newuser_newnet", $c);
my $f = syscall({clone}, 17, 0, 0, 0, 0);
if ($f == 0) {{ exit 0 }}
if ($f > 0) {{ waitpid($f, 0) }}
probe("clone_plain", $f);
probe("clone3", syscall({clone3}, 0, 0));
probe("socket_alg", syscall({socket}, 38, 5, 0));
probe("socket_inet", syscall({socket}, 2, 2, 0));
"#,
        io_uring = libc::SYS_io_uring_setup,
        keyctl = libc::SYS_keyctl,
        clone = libc::SYS_clone,
        clone3 = libc::SYS_clone3,
        socket = libc::SYS_socket,
    );
    format!("{PERL} -e '{}'", script.replace('\'', r"'\''"))
}

fn probe<'a>(out: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=");
    out.lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[test]
fn default_profile_compiles_for_every_capability_set() {
    let all: Vec<String> = cargohold::runtime::CAPABILITIES
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    let none: &[&str] = &[];
    for profile in [
        default_profile(none),
        default_profile(DOCKER_CAPS),
        default_profile(&all),
    ] {
        let prog = cargohold::runtime::seccomp::compile(&profile).unwrap();
        let n = prog.instructions().len();
        // The compiler's binary search over runs of syscalls makes ~200-300 instructions
        // of what its linear chain made ~800 (src/runtime/seccomp.rs).
        assert!((150..4096).contains(&n), "{n} instructions");
    }
    // A profile file goes the same way.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.json");
    fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]}"#,
    )
    .unwrap();
    let profile = Profile::load(&path).unwrap().resolve(DOCKER_CAPS).unwrap();
    cargohold::runtime::seccomp::compile(&profile).unwrap();
}

#[test]
#[ignore = "requires root"]
fn default_profile_denies_namespaces_mounts_io_uring_and_keys() {
    assert!(
        fs::metadata(PERL).is_ok(),
        "{PERL} (Debian's perl-base) makes the raw syscalls"
    );
    let rt = common::runtime();
    // The container holds CAP_SYS_ADMIN, so only the filter can refuse; the profile is the
    // one for Docker's default capabilities.
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let script = format!(
        "unshare -U -n true 2>&1; echo unshare=$?; \
         mount -t tmpfs t /mnt 2>&1; echo mount=$?; {}",
        perl_probes()
    );

    let control = common::run(&rt, &bundle(&script, &caps, None)).unwrap();
    let out = &control.stdout;
    assert!(
        out.contains("unshare=0") && out.contains("mount=0"),
        "{out}"
    );
    assert_eq!(probe(out, "io_uring"), "ok", "{out}");
    assert_eq!(probe(out, "clone_newuser_newnet"), "ok", "{out}");
    assert_ne!(probe(out, "keyctl"), "1", "{out}");
    assert_eq!(probe(out, "clone3"), "22", "{out}"); // EINVAL: no clone_args

    let profile = default_profile(DOCKER_CAPS);
    let ran = common::run(&rt, &bundle(&script, &caps, Some(profile))).unwrap();
    let out = &ran.stdout;
    assert!(ran.status.success(), "{out} {}", ran.stderr);
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(
        !out.contains("unshare=0") && !out.contains("mount=0"),
        "{out}"
    );
    for denied in ["io_uring", "keyctl", "clone_newuser_newnet", "socket_alg"] {
        assert_eq!(probe(out, denied), "1", "{denied}: {out}"); // EPERM
    }
    assert_eq!(probe(out, "clone3"), "38", "{out}"); // ENOSYS: libc falls back to clone
    assert_eq!(probe(out, "clone_plain"), "ok", "{out}");
    assert_eq!(probe(out, "socket_inet"), "ok", "{out}");
}

#[test]
#[ignore = "requires root"]
fn default_profile_runs_ordinary_commands() {
    let rt = common::runtime();
    // With the host's /usr bound in and the spec's PATH, ls and date are the host's
    // glibc-linked coreutils; the rest are busybox.
    let script = "set -e; ls / >/dev/null; date +%Y >/dev/null; echo hi >/tmp/f; cat /tmp/f; \
                  id -u; sleep 0.01; echo a b | wc -w; \
                  /bin/wget -O /dev/null http://127.0.0.1:9/ 2>&1 || echo wget=$?";
    let b = bundle(script, DOCKER_CAPS, Some(default_profile(DOCKER_CAPS)));
    let ran = common::run(&rt, &b).unwrap();
    assert!(ran.status.success(), "{} {}", ran.stdout, ran.stderr);
    let out = &ran.stdout;
    assert!(out.starts_with("hi\n0\n2\n"), "{out}");
    // wget got as far as connecting: its socket was allowed.
    assert!(out.contains("Connection refused"), "{out}");
    assert!(
        !out.contains("Operation not permitted") && !out.contains("ermission"),
        "{out}"
    );
}

#[test]
#[ignore = "requires root"]
fn cap_sys_admin_opens_unshare_and_mount() {
    let rt = common::runtime();
    let mut caps = DOCKER_CAPS.to_vec();
    caps.push("CAP_SYS_ADMIN");
    let script = "unshare -m true; echo unshare=$?; \
                  mount -t tmpfs t /mnt && umount /mnt; echo mount=$?";
    let b = bundle(script, &caps, Some(default_profile(&caps)));
    let ran = common::run(&rt, &b).unwrap();
    assert_eq!(ran.stdout, "unshare=0\nmount=0\n", "{}", ran.stderr);
}
