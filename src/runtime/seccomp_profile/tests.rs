use std::collections::BTreeSet;

use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};

use super::*;

/// Docker's default capability set (`--cap-add` nothing).
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

const NO_CAPS: &[&str] = &[];

fn x86_64(kernel: (u32, u32)) -> Platform {
    Platform {
        arch: Arch::ScmpArchX86_64,
        kernel: Some(KernelVersion::new(kernel.0, kernel.1)),
    }
}

fn resolve(caps: &[&str], platform: &Platform) -> LinuxSeccomp {
    Profile::docker_default()
        .resolve_for(caps, platform)
        .expect("the default profile enables seccomp")
}

/// Syscalls allowed by a rule without argument conditions.
fn allowed(profile: &LinuxSeccomp) -> BTreeSet<String> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
        .flat_map(|s| s.names().iter().cloned())
        .collect()
}

/// Every rule that names `name`: (action, errnoRet, args as (index, op, value, valueTwo)).
type Conds = Vec<(usize, LinuxSeccompOperator, u64, Option<u64>)>;
fn rules_for(profile: &LinuxSeccomp, name: &str) -> Vec<(LinuxSeccompAction, Option<u32>, Conds)> {
    profile
        .syscalls()
        .iter()
        .flatten()
        .filter(|s| s.names().iter().any(|n| n == name))
        .map(|s| {
            let args = s
                .args()
                .iter()
                .flatten()
                .map(|a| (a.index(), a.op(), a.value(), a.value_two()))
                .collect();
            (s.action(), s.errno_ret(), args)
        })
        .collect()
}

const CLONE_NS: u64 = 0x7e02_0000;

#[test]
fn default_profile_is_an_allow_list_with_docker_shape() {
    let p = resolve(DOCKER_CAPS, &x86_64((6, 1)));
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(1));
    assert_eq!(
        p.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    let allow = allowed(&p);
    // Docker's list is 361 names plus the arch, kernel and capability gated ones.
    assert!((355..=385).contains(&allow.len()), "{}", allow.len());
    for name in [
        "read",
        "write",
        "execve",
        "openat",
        "futex",
        "arch_prctl",
        "modify_ldt",
    ] {
        assert!(allow.contains(name), "{name} should be allowed");
    }
    // ptrace from 4.8 (earlier kernels let it bypass seccomp); chroot with Docker's caps.
    for name in ["ptrace", "process_vm_readv", "chroot"] {
        assert!(allow.contains(name), "{name} should be allowed");
    }
    let denied = [
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "keyctl",
        "add_key",
        "request_key",
        "unshare",
        "setns",
        "mount",
        "umount2",
        "fsopen",
        "open_tree",
        "pivot_root",
        "bpf",
        "perf_event_open",
        "userfaultfd",
        "kexec_load",
        "init_module",
        "reboot",
        "swapon",
        "settimeofday",
        "clock_settime",
        "acct",
        "kcmp",
        "pidfd_getfd",
        "open_by_handle_at",
        "syslog",
        "iopl",
        "vhangup",
        "mbind",
        "sethostname",
        "lookup_dcookie",
        "set_tls",
        "s390_runtime_instr",
    ];
    for name in denied {
        assert!(rules_for(&p, name).is_empty(), "{name} should have no rule");
    }
    // clone without namespace flags only; clone3 fails as if the kernel had none.
    let masked = (0, LinuxSeccompOperator::ScmpCmpMaskedEq, CLONE_NS, Some(0));
    assert_eq!(
        rules_for(&p, "clone"),
        [(LinuxSeccompAction::ScmpActAllow, None, vec![masked])]
    );
    assert_eq!(
        rules_for(&p, "clone3"),
        [(LinuxSeccompAction::ScmpActErrno, Some(38), vec![])]
    );
    // socket of every family but AF_ALG (38) and AF_VSOCK (40).
    let socket: Vec<_> = rules_for(&p, "socket").into_iter().map(|r| r.2).collect();
    use LinuxSeccompOperator::*;
    assert_eq!(
        socket,
        [
            vec![(0, ScmpCmpLt, 38, None)],
            vec![(0, ScmpCmpEq, 39, None)],
            vec![(0, ScmpCmpGt, 40, None)]
        ]
    );
    let personas: Vec<u64> = rules_for(&p, "personality")
        .into_iter()
        .map(|r| {
            assert_eq!(r.2.len(), 1);
            assert_eq!(r.2[0].1, ScmpCmpEq);
            r.2[0].2
        })
        .collect();
    assert_eq!(personas, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
}

#[test]
fn capabilities_open_their_syscalls() {
    let platform = x86_64((6, 1));
    let admin = resolve(&["CAP_SYS_ADMIN"], &platform);
    let allow = allowed(&admin);
    for name in [
        "mount", "umount2", "unshare", "setns", "clone", "clone3", "bpf", "fsopen",
    ] {
        assert!(
            allow.contains(name),
            "{name} should be allowed with CAP_SYS_ADMIN"
        );
    }
    // The conditional clone and the clone3 ENOSYS rule are gone.
    assert_eq!(rules_for(&admin, "clone").len(), 1);
    assert_eq!(
        rules_for(&admin, "clone3"),
        [(LinuxSeccompAction::ScmpActAllow, None, vec![])]
    );
    assert!(!allow.contains("keyctl") && !allow.contains("io_uring_setup"));

    let cases: [(&str, &[&str]); 12] = [
        (
            "CAP_SYS_PTRACE",
            &["kcmp", "pidfd_getfd", "process_madvise", "ptrace"],
        ),
        (
            "CAP_SYS_MODULE",
            &["init_module", "finit_module", "delete_module"],
        ),
        ("CAP_SYS_BOOT", &["reboot"]),
        ("CAP_SYS_TIME", &["settimeofday", "clock_settime"]),
        ("CAP_SYS_NICE", &["mbind", "set_mempolicy", "get_mempolicy"]),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        ("CAP_SYS_PACCT", &["acct"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
        ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
        ("sys_tty_config", &["vhangup"]),
    ];
    for (cap, names) in cases {
        let without = allowed(&resolve(NO_CAPS, &platform));
        let with = allowed(&resolve(&[cap], &platform));
        for name in names {
            assert!(with.contains(*name), "{name} with {cap}");
            if *name != "ptrace" {
                assert!(!without.contains(*name), "{name} without {cap}");
            }
        }
        // No capability but CAP_SYS_ADMIN opens namespaces.
        assert!(!with.contains("unshare"), "{cap}");
    }
    // Through the public entry point, on this host.
    let here = default_profile(&["SYS_ADMIN"]);
    assert!(allowed(&here).contains("unshare"));
    assert!(!allowed(&default_profile(DOCKER_CAPS)).contains("unshare"));
}

#[test]
fn architecture_and_kernel_gates() {
    let old = resolve(NO_CAPS, &x86_64((4, 4)));
    assert!(rules_for(&old, "ptrace").is_empty());
    let unknown = Platform {
        arch: Arch::ScmpArchX86_64,
        kernel: None,
    };
    assert!(rules_for(&resolve(NO_CAPS, &unknown), "ptrace").is_empty());
    assert!(!rules_for(&resolve(NO_CAPS, &x86_64((4, 8))), "ptrace").is_empty());

    let arm = Platform {
        arch: Arch::ScmpArchAarch64,
        kernel: Some(KernelVersion::new(6, 1)),
    };
    let p = resolve(NO_CAPS, &arm);
    assert_eq!(
        p.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
    );
    let allow = allowed(&p);
    assert!(allow.contains("set_tls") && allow.contains("arm_fadvise64_64"));
    assert!(!allow.contains("arch_prctl") && !allow.contains("modify_ldt"));

    let s390 = Platform {
        arch: Arch::ScmpArchS390x,
        kernel: Some(KernelVersion::new(6, 1)),
    };
    let masked = (1, LinuxSeccompOperator::ScmpCmpMaskedEq, CLONE_NS, Some(0));
    assert_eq!(
        rules_for(&resolve(NO_CAPS, &s390), "clone"),
        [(LinuxSeccompAction::ScmpActAllow, None, vec![masked])]
    );
    // An architecture with no archMap entry gets no architectures list.
    let ppc = Platform {
        arch: Arch::ScmpArchPpc64le,
        kernel: None,
    };
    assert_eq!(resolve(NO_CAPS, &ppc).architectures(), &None);
}

#[test]
fn the_table_passes_the_loaders_checks() {
    let profile = Profile::docker_default();
    let mut names = 0;
    for rule in &profile.rules {
        for name in &rule.names {
            assert!(known_syscall(name), "{name}");
            names += 1;
        }
        for filter in [&rule.includes, &rule.excludes] {
            for arch in &filter.arches {
                assert!(FILTER_ARCHES.contains(&arch.as_str()), "{arch}");
            }
            for cap in &filter.caps {
                assert!(
                    crate::runtime::CAPABILITIES.contains(&&cap["CAP_".len()..]),
                    "{cap}"
                );
            }
        }
    }
    assert!(names > 400, "{names}");
    assert!(!known_syscall("mout") && !known_syscall(""));
}

#[test]
fn loader_resolves_a_docker_profile() {
    let text = r#"{
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": null}
        ],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "io"},
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
             "includes": {"minKernel": "5.10", "caps": ["CAP_SYS_PTRACE"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW",
             "includes": {"arches": ["amd64"]}},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW",
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "9.0"}},
            {"names": ["s390_runtime_instr"], "action": "SCMP_ACT_ALLOW",
             "excludes": {"arches": ["amd64"]}}
        ]
    }"#;
    let profile: Profile = text.parse().unwrap();
    let got = profile
        .resolve_for(&["CAP_SYS_PTRACE"], &x86_64((6, 1)))
        .unwrap();
    let want: LinuxSeccomp = serde_json::from_value(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_NE"}]},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW"}
        ]
    }))
    .unwrap();
    assert_eq!(got, want);

    // Other capabilities, kernel and architecture drop other rules.
    let arm = Platform {
        arch: Arch::ScmpArchAarch64,
        kernel: Some(KernelVersion::new(9, 1)),
    };
    let got = profile.resolve_for(&["SYS_ADMIN"], &arm).unwrap();
    assert_eq!(
        got.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64][..])
    );
    let names: Vec<&str> = got
        .syscalls()
        .iter()
        .flatten()
        .map(|s| s.names()[0].as_str())
        .collect();
    assert_eq!(names, ["read", "mkdir", "kill", "s390_runtime_instr"]);
}

#[test]
fn loader_takes_an_oci_object_and_treats_empty_as_unconfined() {
    let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "listenerPath": "/run/l.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#;
    let want: LinuxSeccomp = serde_json::from_str(text).unwrap();
    let profile: Profile = text.parse().unwrap();
    let arm = Platform {
        arch: Arch::ScmpArchAarch64,
        kernel: None,
    };
    // `architectures` is taken as is, whatever the host.
    assert_eq!(profile.resolve_for(NO_CAPS, &arm), Some(want));
    assert_eq!("{}".parse::<Profile>().unwrap().resolve(NO_CAPS), None);
}

/// The error that refuses the profile `text`.
fn refused(text: &str) -> String {
    let parsed = text.parse::<Profile>();
    parsed.expect_err(&format!("accepted {text}")).to_string()
}

#[test]
fn loader_names_what_is_wrong() {
    let cases = [
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["write", "mout"], "action": "SCMP_ACT_ALLOW"}]}"#,
            r#"syscalls[1].names[1]: unknown syscall "mout""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_65"]}"#,
            r#"architectures[0]: unknown architecture "SCMP_ARCH_X86_65""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                "subArchitectures": ["x86"]}]}"#,
            r#"archMap[0].subArchitectures[0]: unknown architecture "x86""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_DENY"}"#,
            r#"defaultAction: unknown action "SCMP_ACT_DENY""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
                {"names": ["read"], "action": "ALLOW"}]}"#,
            r#"syscalls[0] (read): unknown action "ALLOW""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["kill"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]}"#,
            r#"syscalls[0].args[0] (kill): unknown operator "SCMP_CMP_LIKE""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["kill"],
                "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
            "syscalls[0].args[0] (kill): index 6 is not 0 to 5",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["kill"],
                "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["x86_64"]}}]}"#,
            r#"syscalls[0].includes.arches[0]: unknown architecture "x86_64""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["kill"],
                "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["SYS_ADMIN"]}}]}"#,
            r#"syscalls[0].excludes.caps[0]: unknown capability "SYS_ADMIN""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["kill"],
                "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8.1"}}]}"#,
            r#"syscalls[0].includes.minKernel: invalid kernel version "4.8.1""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}"#,
            r#"flags[0]: unknown filter flag "SECCOMP_FILTER_FLAG_FAST""#,
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "read",
                "names": ["write"], "action": "SCMP_ACT_ALLOW"}]}"#,
            "syscalls[0]: both name and names are given",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [],
                "action": "SCMP_ACT_ALLOW"}]}"#,
            "syscalls[0]: no syscall names",
        ),
        (
            r#"{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                "archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}"#,
            "both architectures and archMap are given",
        ),
        (r#"{"defaultAction": "#, "invalid JSON: "),
    ];
    for (text, want) in cases {
        let got = refused(text);
        assert!(got.starts_with("seccomp: profile: "), "{got}");
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mout"], "action": "SCMP_ACT_ALLOW"}]}"#,
    )
    .unwrap();
    let e = Profile::load(&path).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "seccomp: profile {}: syscalls[0].names[0]: unknown syscall \"mout\"",
            path.display()
        )
    );
    let missing = dir.path().join("none.json");
    let e = Profile::load(&missing).unwrap_err();
    assert!(
        matches!(e, Error::Os { ref path, .. } if *path == missing),
        "{e}"
    );
}

#[test]
fn kernel_versions() {
    assert_eq!("4.8".parse(), Ok(KernelVersion::new(4, 8)));
    assert_eq!("5.10".parse(), Ok(KernelVersion::new(5, 10)));
    for bad in ["0.0", "4", "4.8.1", "a.b", "4.", "-1.2", "300.1"] {
        assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
    }
    assert_eq!(
        KernelVersion::from_release("6.18.44-fc-v1272\n"),
        Some(KernelVersion::new(6, 18))
    );
    assert_eq!(
        KernelVersion::from_release("3.12-rc5"),
        Some(KernelVersion::new(3, 12))
    );
    assert_eq!(KernelVersion::from_release("garbage"), None);
    assert!(KernelVersion::new(5, 10) > KernelVersion::new(4, 20));
    assert_eq!(KernelVersion::new(4, 8).to_string(), "4.8");
    assert!(Platform::host().kernel.is_some());
}
