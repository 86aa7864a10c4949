//! The seccomp profile loader never panics: a document in Docker's JSON format
//! (`--security-opt seccomp=PROFILE.json`) is parsed and checked ([`Profile`]), resolved
//! for a few capability sets and hosts (architectures, kernels) and compiled to BPF
//! ([`compile`]), and the same bytes read as an OCI `linux.seccomp` object (what the
//! runtime finds in `config.json`) are compiled too. Whatever compiles is a program the
//! kernel could take: 1 to 4096 instructions, and it compiles again to the same program.
#![no_main]

use cargohold::oci_spec::runtime::{Arch, LinuxSeccomp};
use cargohold::runtime::seccomp::compile;
use cargohold::runtime::seccomp_profile::{KernelVersion, Platform, Profile};
use cargohold::sys::seccomp::{SeccompProgram, MAX_INSTRUCTIONS};
use libfuzzer_sys::fuzz_target;

fn check(prog: &SeccompProgram, spec: &LinuxSeccomp) {
    let n = prog.instructions().len();
    assert!((1..=MAX_INSTRUCTIONS).contains(&n), "{n} instructions");
    let again = compile(spec).expect("what compiled once compiles again");
    let key = |p: &SeccompProgram| {
        p.instructions()
            .iter()
            .map(|i| (i.code, i.jt, i.jf, i.k))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&again), key(prog));
    assert_eq!(again.flags(), prog.flags());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(profile) = text.parse::<Profile>() {
        let caps: [&[&str]; 3] = [&[], &["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"], &["SYS_ADMIN"]];
        let hosts = [
            Platform::host(),
            Platform {
                arch: Arch::ScmpArchAarch64,
                kernel: Some(KernelVersion { major: 4, minor: 8 }),
            },
            Platform {
                arch: Arch::ScmpArchX86_64,
                kernel: None,
            },
        ];
        for c in caps {
            for h in &hosts {
                if let Some(spec) = profile.resolve_for(c, h) {
                    if let Ok(prog) = compile(&spec) {
                        check(&prog, &spec);
                    }
                }
            }
        }
    }
    if let Ok(spec) = serde_json::from_str::<LinuxSeccomp>(text) {
        if let Ok(prog) = compile(&spec) {
            check(&prog, &spec);
        }
    }
});
