//! `--init`: a tiny init as the container's pid 1, which runs the command as its child,
//! forwards the signals it gets to it and reaps every zombie (orphans are re-parented to
//! pid 1), as Docker does with `docker-init`.
//!
//! Docker's `docker-init` is tini, statically linked; so is ours. It is looked up on the
//! host ([`find`]: Debian's `tini` package ships `/usr/bin/tini-static`; Docker's own
//! `docker-init` is taken too) and bind-mounted read-only at `/sbin/docker-init`; the
//! process becomes `/sbin/docker-init -- COMMAND…`.
//!
//! Why not this program re-executed in an init mode, as the monitor is: the init runs
//! inside the container's root, where the host program's dynamic loader and libc are
//! usually absent (busybox, distroless and `scratch` images), so only a static binary can
//! run there whatever the image; and the binary the container runs must not be one whose
//! host copy it could reach (the read-only bind of a separate, static file keeps the
//! host program out of its mount namespace altogether).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{MountBuilder, Spec};

/// Where the init is mounted in the container, as Docker mounts it.
pub(crate) const INIT_PATH: &str = "/sbin/docker-init";

/// The host's static init: `$CARGOHOLD_INIT` if set, else Debian's `tini-static`, else a
/// `docker-init` of a Docker install.
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CARGOHOLD_INIT") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    [
        "/usr/bin/tini-static",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/docker-init",
        "/usr/local/bin/docker-init",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Makes `spec` run its command under the init at `host_path`: the init bind-mounted
/// read-only at [`INIT_PATH`], and `process.args` prefixed with it.
pub(crate) fn apply(spec: &mut Spec, host_path: &Path) {
    let mount = MountBuilder::default()
        .destination(INIT_PATH)
        .typ("bind")
        .source(host_path)
        .options(vec![
            "bind".to_owned(),
            "ro".to_owned(),
            "nosuid".to_owned(),
            "nodev".to_owned(),
        ])
        .build()
        .expect("a complete mount");
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    mounts.push(mount);
    spec.set_mounts(Some(mounts));
    if let Some(process) = spec.process_mut() {
        let mut args = vec![INIT_PATH.to_owned(), "--".to_owned()];
        args.extend(process.args().clone().unwrap_or_default());
        process.set_args(Some(args));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_runs_under_the_init() {
        let mut spec = Spec::default();
        spec.process_mut().as_mut().unwrap().set_args(Some(vec![
            "sh".into(),
            "-c".into(),
            "true".into(),
        ]));
        apply(&mut spec, Path::new("/usr/bin/tini-static"));
        let args = spec.process().as_ref().unwrap().args().clone().unwrap();
        assert_eq!(args, [INIT_PATH, "--", "sh", "-c", "true"]);
        let m = spec.mounts().as_ref().unwrap().last().unwrap();
        assert_eq!(m.destination(), Path::new(INIT_PATH));
        assert_eq!(
            m.source().as_deref(),
            Some(Path::new("/usr/bin/tini-static"))
        );
        assert!(m.options().as_ref().unwrap().contains(&"ro".to_owned()));
    }
}
