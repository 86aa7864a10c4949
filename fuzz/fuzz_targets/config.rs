//! The runtime's config loader never panics: `config.json` bytes are parsed as
//! `runtime create` parses them (a fast pass straight into the spec, and the pass through
//! a JSON tree that drops unknown capabilities only when that fails), and what parses is
//! checked and turned into the init's plan (rootfs, namespaces, mounts, devices, process,
//! capabilities, rlimits, hooks, the seccomp filter) against an empty rootfs, creating
//! nothing. The fast pass and the tree pass give the same spec whenever both succeed, and
//! the fast one refuses whatever the tree pass refuses, but for the unchecked values of
//! unknown fields.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// A bundle directory with an empty `rootfs`, made once (the plan only reads it; statics
/// are never dropped, so it stays for the process's life).
fn bundle() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("cargohold-fuzz-config")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        dir
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    let parsed = cargohold::__fuzz::parse_config(data);
    let tree = cargohold::__fuzz::parse_config_via_tree(data);
    match (&parsed, &tree) {
        // Both take it: the same spec. (The tree pass may also warn about unknown
        // capabilities under an unknown key of process.capabilities, which both ignore.)
        (Ok((fast, _)), Ok((slow, _))) => assert_eq!(fast, slow, "the two passes disagree"),
        // The fast pass skips the values of unknown fields unchecked (as runc's decoder
        // does): a lone surrogate escape or a huge number there fails only the tree pass.
        // Anything else it refuses, the fast pass must refuse too.
        (Ok(_), Err(e)) => {
            let e = e.to_string();
            assert!(
                e.contains("hex escape")
                    || e.contains("surrogate")
                    || e.contains("number out of range"),
                "the fast pass took what the tree pass refuses: {e}"
            );
        }
        (Err(_), _) => {}
    }
    let Ok((spec, _)) = parsed else {
        return;
    };
    let bundle = bundle();
    let _ = cargohold::__fuzz::plan_config(&spec, bundle, &bundle.join("rootfs"));
});
