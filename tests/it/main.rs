//! Integration tests. Root-only tests are `#[ignore = "requires root"]`; the README's test
//! command runs them all with `--include-ignored`.

mod common;

// The OCI runtime layer: create/start/state/kill/delete/run/exec of busybox bundles.
mod runtime;

// examples/runtime.rs, the runc-compatible CLI, and containerd/podman driving it.
mod cli;
