//! # cargohold
//!
//! The whole container lifecycle, embedded in a Rust program: what Docker does from a
//! daemon, as a library.
//!
//! The everyday types, and how data flows between them:
//! - an [`Image`] sits in the image store of an [`Engine`] ([`Engine::images`]: imported,
//!   loaded, or pulled with [`Engine::pull`]);
//! - [`Engine::container`] turns it into a [`ContainerBuilder`], shaped like
//!   [`std::process::Command`]: its layers become an overlay root, its config a runtime
//!   spec by Docker's rules;
//! - [`ContainerBuilder::spawn`] starts it and hands back a [`RunningContainer`] (like
//!   [`std::process::Child`]), or [`output`](ContainerBuilder::output) /
//!   [`status`](ContainerBuilder::status) run it to completion;
//! - the persisted [`Container`] record (`docker ps -a`, `docker inspect`, `docker rm`)
//!   outlives the process, found through [`Engine::containers`].
//!
//! ```no_run
//! use cargohold::{Engine, Stdio};
//! use std::time::Duration;
//!
//! # fn main() -> cargohold::Result<()> {
//! let engine = Engine::open("/var/lib/cargohold")?;
//! let image = engine.image("busybox:latest")?;
//! let out = engine
//!     .container(&image)
//!     .args(["sh", "-c", "echo hello from $HOSTNAME"])
//!     .env("MODE", "test")
//!     .memory_limit(64 << 20)
//!     .auto_remove(true)
//!     .output()?;
//! assert!(out.status.success());
//!
//! let mut web = engine.container(&image).name("web").args(["sleep", "60"]).spawn()?;
//! web.stop(Duration::from_secs(10))?;
//! engine.containers().get("web")?.remove(false)?;
//! # Ok(()) }
//! ```
//!
//! Images are built from Dockerfiles as `docker build` does (BuildKit's semantics, a
//! cache that survives the process), through [`Engine::build`]:
//!
//! ```no_run
//! # fn main() -> cargohold::Result<()> {
//! # let engine = cargohold::Engine::open("/var/lib/cargohold")?;
//! let image = engine
//!     .build("./app")
//!     .tag("app:latest")
//!     .build_arg("VERSION", "1.2")
//!     .progress(|event| eprintln!("{event:?}"))
//!     .run()?;
//! engine.container(&image).network("none").status()?;
//! # Ok(()) }
//! ```
//!
//! Compose files are read as Docker Compose reads them (merged files, `.env`,
//! interpolation, profiles, validation) into a [`Project`], the same model
//! [`Project::new`] builds in code ([`compose`] has the details):
//!
//! ```no_run
//! # fn main() -> cargohold::Result<()> {
//! let project = cargohold::ProjectOptions::new().project_directory("./app").load()?;
//! for name in project.start_order()? {
//!     let service = &project.services[&name];
//!     println!("{name}: {:?} ({})", service.image, service.config_hash());
//! }
//! # Ok(()) }
//! ```
//!
//! Below the engine, the [`runtime`] layer runs an OCI bundle the way runc does, and [`sys`]
//! holds the kernel primitives under it, for writers of runtimes:
//!
//! ```no_run
//! use cargohold::runtime::{Runtime, CreateOptions};
//!
//! # fn main() -> cargohold::Result<()> {
//! let rt = Runtime::open("/run/cargohold")?;
//! // `bundle` holds a config.json (OCI runtime spec) and its rootfs
//! let status = rt.run("hello", "/srv/bundle", &CreateOptions::default())?;
//! println!("exited with {status:?}");
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

/// Chainable setters, as `std::process::Command`'s: each item is written
/// `fn name(&mut self, arg: T, …) { body }` with its docs and becomes
/// `pub fn name(&mut self, arg: T, …) -> &mut Self { body; self }`, docs kept.
/// Setters of a value type are written `fn name(mut self, arg: T, …) { body }` and become
/// `pub fn name(mut self, arg: T, …) -> Self { body; self }`.
macro_rules! setters {
    ($($(#[$doc:meta])* fn $name:ident(&mut $this:ident, $($arg:ident: $ty:ty),+) $body:block)*) => {
        $(
            $(#[$doc])*
            pub fn $name(&mut $this, $($arg: $ty),+) -> &mut Self {
                $body;
                $this
            }
        )*
    };
    ($($(#[$doc:meta])* fn $name:ident(mut $this:ident, $($arg:ident: $ty:ty),+) $body:block)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut $this, $($arg: $ty),+) -> Self {
                $body;
                $this
            }
        )*
    };
}

/// Setters of optional fields, one a line: `name: T` with its docs becomes a setter that
/// stores `Some(value.into())` in the field `name`. After `&mut self.inner;` the setters
/// take and return `&mut Self` (as [`setters!`]'s) and set `self.inner.name`; after
/// `mut self;` they take and return `Self` and set `self.name`.
macro_rules! option_setters {
    (&mut $this:ident.$inner:ident; $($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        $(
            $(#[$doc])*
            #[allow(clippy::useless_conversion)]
            pub fn $name(&mut $this, value: $ty) -> &mut Self {
                $this.$inner.$name = Some(value.into());
                $this
            }
        )*
    };
    (mut $this:ident; $($(#[$doc:meta])* $name:ident: $ty:ty,)*) => {
        $(
            $(#[$doc])*
            #[allow(clippy::useless_conversion)]
            pub fn $name(mut $this, value: $ty) -> Self {
                $this.$name = Some(value.into());
                $this
            }
        )*
    };
}

#[cfg(feature = "api")]
pub mod api;
mod build;
pub mod compose;
mod container;
mod engine;
mod error;
pub mod ext;
mod godur;
mod image;
mod network;
mod paths;
pub mod runtime;
mod sandbox;
mod store;
#[allow(unsafe_code)]
pub mod sys;
mod userns;
mod volume;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod __fuzz;

pub use compose::{
    AppService, Compose, ComposeApp, ComposeEvent, DownOptions, Project, ProjectOptions,
    ProjectSummary, RemoveImages, RunOptions, UpOptions,
};
pub use engine::Engine;
pub use error::{Error, Result};
pub use oci_spec;
pub use sandbox::{Sandbox, SandboxOutput};

// Images.
pub use build::{BuildEvent, BuildNetwork, CachePruned, CacheUsage, ImageBuilder};
pub use image::registry::{
    Credentials, DockerConfig, Progress, PullOptions, PushOptions, Registry, RemoteManifest,
    SearchResult,
};
pub use image::{HistoryEntry, Image, Images, Reference};

// Containers: the builder, the live handle, the record and what they report.
pub use container::logs::{LogEntry, LogOptions, LogStream, Logs};
pub use container::monitor::RestartPolicy;
pub use container::{host_memory, human_duration, DetachKeys, PathStat, Ulimit};
pub use container::{Actor as EventActor, Event, EventOptions, Events, UpdateOptions};
pub use container::{
    BlockIoStats, Change, ChangeKind, CommitOptions, Container, ContainerBuilder, ContainerFilter,
    ContainerStdin, Containers, CpuStats, EndpointSettings, ExecBuilder, ExitStatus, GraphDriver,
    Health, HealthProbe, HealthStatus, Healthcheck, HostConfig, MemoryStats, MountPoint,
    NetworkSettings, NetworkStats, Output, PidsStats, PortMapping, RestartPolicyInfo,
    RunningContainer, SeccompProfile, Stats, Status, Stdio, Top, TopProcess, WaitFor,
    CONFIG_HASH_LABEL,
};
pub use container::{
    Config as ContainerConfig, Inspect as ContainerInspect, State as ContainerState,
};
pub use runtime::Signal;

// Networks and volumes.
pub use network::{
    Driver, InspectEndpoint, Ipam, IpamConfig, Network, NetworkBuilder, NetworkInspect,
    NetworkStore, PortBinding, Protocol, Subnet, DEFAULT_NETWORK,
};
pub use volume::{
    Mount, MountType, Propagation, Pruned, Volume, VolumeInspect, VolumeStore, ANONYMOUS_LABEL,
};

/// Re-executes this program once from a sealed copy of its binary, and hands the process
/// over to cargohold when it was started as one of its helper processes; once running
/// from the sealed copy it returns at once (a flag store, two environment lookups and an
/// `open`, `fcntl` and `fstatvfs` of `/proc/self/exe`).
///
/// **Call it first thing in `main`** of any program that starts containers (detached ones
/// need it; every one needs it for the sealed binary), before threads, async runtimes or
/// argument parsing:
///
/// ```no_run
/// fn main() {
///     cargohold::init();
///     // the program proper
/// }
/// ```
///
/// The monitor that keeps a detached container running (logging its output, reaping it,
/// recording its exit) is this very program re-executed (`/proc/self/exe`), as runc's
/// nsexec hooks its own start: a fresh, single-threaded process, so starting it is safe
/// from a multi-threaded host (a forked copy of such a host may not run ordinary code).
/// When the environment variable `CARGOHOLD_MONITOR` is set, `init` runs the monitor
/// and never returns; the variable is removed before anything else runs.
///
/// Starting a detached container from a program that has not called `init` is an error,
/// never a second copy of the program running its `main`.
///
/// # The sealed binary
/// A process entering a container (its init before it execs the container's program, an
/// exec'd process, the monitor's children) runs this program's binary, which the
/// container sees as `/proc/<pid>/exe`: container root could open it and, once the program
/// has exited, overwrite the host's binary (CVE-2019-5736). So `init` first re-executes the
/// program, with the same arguments and environment, from a copy the container cannot
/// write — a read-only detached mount of the binary (Linux 5.12, root), else a sealed
/// memfd copy — unless it already runs from one (the monitor does, started from the same
/// copy). The marker `_CARGOHOLD_SEALED` in the environment stops the loop and is removed
/// at once; `/proc/self/exe` (and [`std::env::current_exe`]) then names the copy,
/// [`sys::sealed::original_exe`] the installed binary. The re-exec costs one execve of the
/// program (the memfd way also a copy of the binary); if neither way works the program
/// runs on unsealed. A binary installed on a read-only bind mount of itself (`mount
/// --bind -o ro BIN BIN`, once, by the administrator) is already sealed: `init` sees the
/// mount and does not re-execute (about 0.14 ms instead of about 1 ms a start).
/// `CARGOHOLD_SEALING=off` turns it off, for benchmarks only. See [`sys::sealed`]. Besides, the child that sets a container up is non-dumpable until its
/// execve, so without `CAP_SYS_PTRACE` the container cannot open its `/proc/<pid>/exe`.
///
/// A program that does not call `init` (a test harness using [`runtime`] directly) has no
/// sealed copy: only the non-dumpable child protects its binary.
#[allow(clippy::needless_doctest_main)] // the point is where the call goes
pub fn init() {
    // A rootless store helper serves its job and exits here (it enters no container: no
    // sealed copy needed).
    userns::enter(serve_userns_job);
    // Errors are not fatal: the program runs on unsealed, as before.
    let _ = sys::sealed::reexec();
    container::monitor::enter();
}

/// The part of [`init`] that turns this process into the helper it was started as (a
/// detached container's monitor, or the rootless store's helper, which is root of the
/// engine's user namespace and does the work on files of the image's other users), without
/// the re-execution from a sealed copy.
///
/// For a program that wants the sealed copy only for some of its runs (a CLI whose
/// listings never enter a container): call this first thing in `main`, and [`init`] later
/// where a run may start or enter a container. The helpers started from a sealed run are
/// sealed themselves.
pub fn init_helpers() {
    userns::enter(serve_userns_job);
    container::monitor::enter();
}

/// Does a job of the rootless store helper ([`userns`]), as root of the engine's user
/// namespace.
fn serve_userns_job(
    job: userns::Job,
    input: &mut dyn std::io::Read,
    output: &mut dyn std::io::Write,
) -> Result<userns::Done> {
    match job {
        userns::Job::Unpack {
            dest,
            overlay,
            subject,
        } => {
            let s = image::unpack::serve_unpack(input, &dest, overlay, &subject)?;
            Ok(userns::Done {
                entries: s.entries,
                bytes: s.bytes,
                skipped_devices: s.skipped_devices,
                ..Default::default()
            })
        }
        userns::Job::Archive { upper, lower } => {
            container::serve_archive(&upper, lower, output).map(|()| userns::Done::default())
        }
        userns::Job::Cp { view, overlay, op } => {
            container::serve_cp(view, overlay, op, input, output)
        }
        userns::Job::Remove { path } => store::remove_any(&path).map(|()| userns::Done::default()),
        userns::Job::Export { layers } => {
            container::serve_export(layers, output).map(|()| userns::Done::default())
        }
        userns::Job::Populate { layers, dest } => {
            volume::serve_populate(layers, &dest).map(|copied| userns::Done {
                entries: u64::from(copied),
                ..Default::default()
            })
        }
        userns::Job::Keep { networks } => {
            network::rootless::serve_keep(networks).map(|pid| userns::Done {
                pid: Some(pid),
                ..Default::default()
            })
        }
        userns::Job::Network { root, op } => {
            network::rootless::serve_op(&root, op).map(|v| userns::Done {
                value: Some(v),
                ..Default::default()
            })
        }
        userns::Job::BuildCopy(job) => build::serve_copy(job, output),
        userns::Job::Sidecar(job) => {
            network::rootless::serve_sidecar(job).map(|pid| userns::Done {
                pid: Some(pid),
                ..Default::default()
            })
        }
    }
}
