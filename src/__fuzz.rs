//! Entry points for the fuzz targets in `fuzz/` — NOT a public API.
//!
//! Only built with the `fuzzing` cargo feature, hidden from the docs, and free to change
//! in any release. Each function is a thin wrapper over a crate-private one.

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::image::unpack::{self, UnpackOptions, Whiteouts};
use crate::runtime::plan::{self, PlanInput};
use crate::sys::process::StartSignal;

/// Decompressed input is cut at this size: a few KiB of zstd can expand to gigabytes,
/// which tells the fuzzer nothing and fills the disk.
pub const MAX_TAR: u64 = 16 << 20;

/// Decompresses `layer` (gzip, zstd or plain, sniffed; at most [`MAX_TAR`] bytes) and
/// unpacks it into `root`: overlay-form whiteouts when `overlay` is set, else applied
/// ones (a flatten).
///
/// # Errors
/// Whatever [`unpack::unpack`] returns for the input.
pub fn unpack_layer(layer: &[u8], root: &Path, overlay: bool) -> crate::Result<()> {
    let opts = if overlay {
        UnpackOptions {
            whiteouts: Whiteouts::Overlay {
                opaque_xattr: unpack::opaque_xattr(),
            },
            ..UnpackOptions::for_layer()
        }
    } else {
        UnpackOptions::flatten()
    };
    let tar = unpack::decompress(layer).map_err(|e| crate::Error::InvalidImage {
        subject: "layer sha256:fuzz".into(),
        reason: format!("decompressing: {e}"),
    })?;
    unpack::unpack(std::io::Read::take(tar, MAX_TAR), root, opts, "sha256:fuzz").map(|_| ())
}

/// The runtime's `config.json` loader (`runtime create` parses the bundle's config with
/// it): the spec and how many warnings (ignored unknown capabilities) it gave.
///
/// # Errors
/// Whatever the loader refuses.
pub fn parse_config(config: &[u8]) -> crate::Result<(Spec, usize)> {
    plan::parse_spec(config).map(|(s, w)| (s, w.len()))
}

/// The loader's slow path alone (through a JSON tree, unknown capabilities dropped): the
/// reference [`parse_config`]'s fast path must agree with.
///
/// # Errors
/// Whatever the loader refuses.
pub fn parse_config_via_tree(config: &[u8]) -> crate::Result<(Spec, usize)> {
    plan::parse_spec_tree(config).map(|(s, w)| (s, w.len()))
}

/// What `create` checks and builds from a parsed spec before it creates anything: the
/// rootfs path (resolved against `bundle`), the namespaces, and the init's whole plan
/// (mounts, devices, process, capabilities, rlimits, hooks, the seccomp filter compiled),
/// built against `rootfs`. Namespace paths are dropped first (joining opens them; the
/// fuzzer must not open arbitrary host files); the rest only reads the host.
///
/// # Errors
/// Whatever the checks or the plan refuse.
pub fn plan_config(spec: &Spec, bundle: &Path, rootfs: &Path) -> crate::Result<()> {
    let _ = plan::rootfs_path(spec, bundle);
    let mut spec = spec.clone();
    if let Some(list) = spec
        .linux_mut()
        .as_mut()
        .and_then(|l| l.namespaces_mut().as_mut())
    {
        for n in list.iter_mut() {
            n.set_path(None);
        }
    }
    let ns = plan::namespaces(&spec)?;
    plan::build(PlanInput {
        spec: &spec,
        bundle,
        rootfs,
        ns,
        cgroup_procs: Vec::new(),
        cgroup_dirs: Vec::new(),
        start: StartSignal::Immediately,
        no_pivot: false,
        preserve_fds: 0,
        stdio: [None, None, None],
        netns: None,
    })
    .map(drop)
}

/// The Dockerfile parser: parses `content`, expands every word it kept with a small
/// scope, and returns the (first, last) line of each instruction.
///
/// # Errors
/// Whatever the parser refuses.
pub fn parse_dockerfile(content: &[u8]) -> crate::Result<Vec<(usize, usize)>> {
    crate::build::dockerfile::fuzz_spans(content)
}
