//! Low-level knobs, kept off the everyday types as [`std::os::unix::process::CommandExt`]
//! keeps `pre_exec` off [`std::process::Command`]: bring the trait into scope to use them.
//!
//! The traits are sealed (implemented for our types only), so methods can be added to
//! them without breaking anyone.

use std::sync::Arc;

use crate::container::{ContainerBuilder, SpecEdit};

mod private {
    /// Seals the extension traits: only this crate's types implement them.
    pub trait Sealed {}
    impl Sealed for crate::ContainerBuilder<'_> {}
}

/// Low-level knobs of a [`ContainerBuilder`], below Docker's level: for writers of runtimes
/// and for tests.
///
/// ```no_run
/// use cargohold::ext::ContainerBuilderExt as _;
/// use cargohold::oci_spec::runtime::PosixRlimitBuilder;
/// use cargohold::oci_spec::runtime::PosixRlimitType;
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = cargohold::Engine::open_default()?;
/// let image = engine.image("busybox")?;
/// let out = engine
///     .container(&image)
///     .args(["sh", "-c", "ulimit -n"])
///     .oci_spec(|spec| {
///         // what `docker run --ulimit nofile=64` would do, set on the spec itself
///         let mut process = spec.process().clone().unwrap_or_default();
///         let nofile = PosixRlimitBuilder::default()
///             .typ(PosixRlimitType::RlimitNofile)
///             .soft(64u64)
///             .hard(64u64)
///             .build()
///             .expect("a complete rlimit");
///         process.set_rlimits(Some(vec![nofile]));
///         spec.set_process(Some(process));
///     })
///     .auto_remove(true)
///     .output()?;
/// assert_eq!(out.stdout, b"64\n");
/// # Ok(()) }
/// ```
pub trait ContainerBuilderExt: private::Sealed {
    /// Edits the container's generated [OCI runtime spec] right before its bundle's
    /// `config.json` is written, after every Docker-level setting (namespaces, mounts,
    /// volumes, limits, capabilities, seccomp) has been applied. Edits run in the order
    /// they were added, once per container the builder makes.
    ///
    /// The spec is the contract between the engine and the runtime (as between containerd
    /// and runc): what the edit leaves is what the runtime runs, with nothing checked
    /// again. An edit can therefore break what the engine relies on (the network namespace
    /// it made, the mounts of volumes and `/etc/hosts`, the cgroup it reads stats from)
    /// or lift the container's confinement; the engine's record (`inspect`) shows the
    /// settings as given, not as edited. A [`reuse`](ContainerBuilder::reuse)able
    /// container's configuration hash does not cover edits.
    ///
    /// [OCI runtime spec]: https://github.com/opencontainers/runtime-spec/blob/main/config.md
    fn oci_spec<F>(&mut self, edit: F) -> &mut Self
    where
        F: Fn(&mut oci_spec::runtime::Spec) + Send + Sync + 'static;
}

impl ContainerBuilderExt for ContainerBuilder<'_> {
    fn oci_spec<F>(&mut self, edit: F) -> &mut Self
    where
        F: Fn(&mut oci_spec::runtime::Spec) + Send + Sync + 'static,
    {
        self.push_spec_edit(SpecEdit(Arc::new(edit)))
    }
}
