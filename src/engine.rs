//! [`Engine`]: one root directory holding images, layers, containers and the runtime's
//! state; hands out container builders and records.

use std::fs;
use std::path::{Path, PathBuf};

use crate::build::{CachePruned, CacheUsage, ImageBuilder};
use crate::compose::{Compose, Project};
use crate::container::{ContainerBuilder, ContainerStore, Containers};
use crate::image::registry::{Progress, PullOptions, PushOptions};
use crate::image::{Image, Images, Reference};
use crate::network::{NetworkBuilder, NetworkStore};
use crate::runtime::Runtime;
use crate::store::Store;
use crate::volume::{Volume, VolumeStore};
use crate::{Error, Result};

/// The engine: everything under one root directory.
///
/// ```text
/// <root>/images/ layers/ locks/ holds/   the image store (see Images)
/// <root>/containers/<id>/                one OCI bundle per container
/// <root>/containers/.names/<name>        a symlink to the id holding the name
/// <root>/runtime/<id>/                   the runtime's state of a live container
/// <root>/volumes/<name>/                  named and anonymous volumes (see VolumeStore)
/// <root>/networks/<name>.json  netns/     networks and containers' namespaces (see NetworkStore)
/// ```
///
/// Cheap to clone; every clone (and every process opening the same root) sees the same
/// containers.
///
/// ```no_run
/// use cargohold::Engine;
///
/// # fn main() -> cargohold::Result<()> {
/// let engine = Engine::open("/var/lib/cargohold")?; // or Engine::open_default()
/// let image = engine.pull("busybox:latest")?;
/// let data = engine.volumes().create("data", [("app", "demo")])?;
/// engine.network("backend").create()?;
/// let out = engine
///     .container(&image)
///     .args(["sh", "-c", "echo hi > /data/greeting; cat /data/greeting"])
///     .volume(data.name(), "/data")
///     .network("backend")
///     .auto_remove(true)
///     .output()?;
/// assert_eq!(out.stdout, b"hi\n");
/// for c in engine.containers().list()? {
///     println!("{} {:?}", c.name(), c.status());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Engine {
    /// The containers, and the stores (images, runtime, volumes, networks) they borrow.
    containers: ContainerStore,
}

impl Engine {
    /// Opens (creating if needed) the engine root `root`, and repairs what a crashed
    /// program left behind.
    ///
    /// Repair, for each container whose owner (the program attached to it) no longer runs
    /// and that was still `created` or `running`: its runtime container is deleted (killing
    /// what is left of it), its overlay unmounted, and it is recorded as `exited` with code
    /// 255 (as Docker records a container whose daemon vanished), or removed when it was
    /// made with `auto_remove`. A directory without a record (a create interrupted before
    /// writing it) is unmounted and removed. Containers of live owners are left alone.
    ///
    /// # Errors
    /// [`Error::Os`] if the directories cannot be created or read, or a store error.
    pub fn open(root: impl AsRef<Path>) -> Result<Engine> {
        let root = root.as_ref();
        crate::store::private_dir(root, "creating engine root")?;
        let root =
            fs::canonicalize(root).map_err(|e| Error::os("resolving engine root", root, e))?;
        let store = Store::open(&root)?;
        let runtime = Runtime::open(root.join("runtime"))?;
        let volumes = VolumeStore::open(&root)?;
        let networks = NetworkStore::open(&root)?;
        let containers = ContainerStore::open(&root, store, runtime, volumes, networks)?;
        containers.repair()?;
        Ok(Engine { containers })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.containers.root()
    }

    /// The images (list, tag, remove, import, save, load…; see [`Images`]).
    pub fn images(&self) -> Images<'_> {
        self.containers.images()
    }

    /// The volumes under `<root>/volumes` (create, list, remove, prune…), the ones
    /// containers of this engine mount.
    pub fn volumes(&self) -> &VolumeStore {
        self.containers.volumes()
    }

    /// The volume `name` (as [`VolumeStore::get`]).
    ///
    /// # Errors
    /// [`Error::VolumeNotFound`], [`Error::InvalidVolumeName`], [`Error::Os`].
    pub fn volume(&self, name: &str) -> Result<Volume> {
        self.volumes().get(name)
    }

    /// The networks under `<root>/networks` (create, list, inspect, remove, prune), in the
    /// network namespace of the calling thread. Containers join them through
    /// [`ContainerBuilder::network`] and [`Container::connect`](crate::Container::connect).
    pub fn networks(&self) -> &NetworkStore {
        self.containers.networks()
    }

    /// A builder for the network `name` (`docker network create`; see [`NetworkBuilder`]):
    /// `engine.network("backend").create()?`.
    pub fn network(&self, name: &str) -> NetworkBuilder<'_> {
        self.networks().builder(name)
    }

    /// The image named `reference` (`busybox`, `docker.io/library/busybox:1.36`) or by a
    /// unique prefix of its id; the same as [`Images::get`].
    ///
    /// # Errors
    /// [`Error::InvalidReference`], [`Error::ImageNotFound`].
    pub fn image(&self, reference: &str) -> Result<Image> {
        self.images().get(reference)
    }

    /// The image named `reference`, pulled from its registry first if the store lacks it
    /// (what `docker run` does with a missing image), with default options; see
    /// [`image_or_pull_with`](Self::image_or_pull_with).
    ///
    /// # Errors
    /// As [`image`](Self::image) and [`pull`](Self::pull).
    pub fn image_or_pull(&self, reference: &str) -> Result<Image> {
        self.image_or_pull_with(reference, &PullOptions::new(), &|_| {})
    }

    /// The image named `reference` if the store has it (no registry is asked, as
    /// `--pull missing`), else pulled with `options`, reporting to `progress`. An id or id
    /// prefix that matches no image is not pulled: it stays [`Error::ImageNotFound`].
    ///
    /// # Errors
    /// As [`image`](Self::image) and [`pull_with`](Self::pull_with).
    pub fn image_or_pull_with(
        &self,
        reference: &str,
        options: &PullOptions,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<Image> {
        match self.image(reference) {
            Err(Error::ImageNotFound { .. }) if reference.parse::<Reference>().is_ok() => {
                self.pull_with(reference, options, progress)
            }
            r => r,
        }
    }

    /// Opens the engine root named by `$CARGOHOLD_ROOT`, else the default one:
    /// `/var/lib/cargohold` as root (as Docker's `/var/lib/docker`),
    /// `$XDG_DATA_HOME/cargohold` (`~/.local/share/cargohold`) for other users (as
    /// rootless podman's `~/.local/share/containers`); see [`open`](Self::open).
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_default() -> Result<Engine> {
        let root = std::env::var_os("CARGOHOLD_ROOT")
            .filter(|r| !r.is_empty())
            .map_or_else(Engine::default_root, PathBuf::from);
        Engine::open(root)
    }

    /// The engine root [`open_default`](Self::open_default) uses without
    /// `$CARGOHOLD_ROOT`: `/var/lib/cargohold` as root, `$XDG_DATA_HOME/cargohold` for
    /// other users (rootless is detected from the effective uid, never configured).
    pub fn default_root() -> PathBuf {
        crate::paths::data_dir().join("cargohold")
    }

    /// Pulls `reference` (`busybox`, `busybox:1.36`, `registry:5000/app@sha256:…`) from
    /// its registry into the store (`docker pull`), with default options: the credentials
    /// `docker login` stored ([`DockerConfig`](crate::DockerConfig)), plain HTTP only for
    /// `localhost`/`127.0.0.1` registries. See
    /// [`pull_with`](Self::pull_with).
    ///
    /// Layers already in the store are not fetched. Blobs are verified against their
    /// digest while they stream and layers against their diff id once decompressed; on any
    /// failure nothing partial is left visible.
    ///
    /// # Errors
    /// [`Error::InvalidReference`]; [`Error::Registry`] for transport errors and unexpected
    /// HTTP statuses (401, 404, 500…), [`Error::DigestMismatch`] for content that does not
    /// match its digest, [`Error::InvalidImage`] for an unsupported manifest or a platform
    /// the index lacks.
    pub fn pull(&self, reference: &str) -> Result<Image> {
        self.pull_with(reference, &PullOptions::new(), &|_| {})
    }

    /// Pulls with options (insecure registries, credentials, timeouts) and a progress
    /// callback that receives typed events (layers resolved, bytes per layer, done).
    ///
    /// # Errors
    /// As [`pull`](Self::pull).
    pub fn pull_with(
        &self,
        reference: &str,
        options: &PullOptions,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<Image> {
        self.containers.pull(&reference.parse()?, options, progress)
    }

    /// Pushes the local image `reference` to the registry it names (`docker push`), with
    /// default options; returns the manifest digest. See [`push_with`](Self::push_with).
    ///
    /// # Errors
    /// [`Error::InvalidReference`], [`Error::ImageNotFound`], [`Error::Registry`] for
    /// transport errors and refusals of the registry.
    pub fn push(&self, reference: &str) -> Result<oci_spec::image::Digest> {
        self.push_with(reference, &PushOptions::new(), &|_| {})
    }

    /// Pushes with options and a progress callback.
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn push_with(
        &self,
        reference: &str,
        options: &PushOptions,
        progress: &(dyn Fn(&Progress) + Sync),
    ) -> Result<oci_spec::image::Digest> {
        self.containers.push(&reference.parse()?, options, progress)
    }

    /// A builder for a container from `image` (see [`ContainerBuilder`]).
    pub fn container(&self, image: &Image) -> ContainerBuilder<'_> {
        ContainerBuilder::new(&self.containers, image)
    }

    /// A build of the Dockerfile in `context` (`docker build context`; see
    /// [`ImageBuilder`]).
    pub fn build(&self, context: impl AsRef<Path>) -> ImageBuilder<'_> {
        ImageBuilder::new(&self.containers, context.as_ref())
    }

    /// Empties the build cache (`docker builder prune -a`): every kept step result and
    /// every `RUN --mount=type=cache` directory; then the blobs and layers nothing else
    /// uses go.
    ///
    /// # Errors
    /// [`Error::Os`](crate::Error::Os) if something cannot be removed.
    pub fn prune_build_cache(&self) -> Result<CachePruned> {
        crate::build::prune(&self.containers)
    }

    /// What the build cache holds: its entries, cache mounts and the bytes
    /// [`Self::prune_build_cache`] would free (the Build Cache line of `docker system df`).
    ///
    /// # Errors
    /// [`Error::Os`](crate::Error::Os) if the store cannot be read.
    pub fn build_cache_usage(&self) -> Result<CacheUsage> {
        crate::build::usage(&self.containers)
    }

    /// The compose project `project` on this engine (`docker compose`): bring it
    /// [`up`](Compose::up) — an ephemeral [`ComposeApp`](crate::ComposeApp) by default —
    /// or [`down`](Compose::down), list its containers ([`ps`](Compose::ps)).
    pub fn compose(&self, project: Project) -> Compose<'_> {
        Compose::new(&self.containers, project)
    }

    /// The compose projects that have containers on this engine, found by their labels
    /// (`docker compose ls -a`), by name.
    ///
    /// # Errors
    /// [`Error::Os`] if the containers cannot be listed.
    pub fn compose_projects(&self) -> Result<Vec<crate::ProjectSummary>> {
        crate::compose::projects(&self.containers)
    }

    /// The containers of this engine (`docker ps -a`, lookups by name or id).
    pub fn containers(&self) -> Containers<'_> {
        Containers::new(&self.containers)
    }

    /// The events of this engine's root (`docker events`), as `opts` selects them.
    ///
    /// # Errors
    /// [`Error::Os`] when the events file cannot be opened.
    pub fn events(&self, opts: &crate::EventOptions) -> Result<crate::Events> {
        crate::container::events::Events::open(self.root(), opts)
    }

    /// The container store (the tests of `container/` borrow it).
    #[cfg(test)]
    pub(crate) fn container_store(&self) -> &ContainerStore {
        &self.containers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_lays_out_root_as_normal_user_too() {
        let d = tempfile::tempdir().unwrap();
        let e = Engine::open(d.path()).unwrap();
        assert!(d.path().join("containers").is_dir());
        assert!(d.path().join("images/index.json").is_file());
        assert!(e.containers().list().unwrap().is_empty());
        assert!(matches!(
            e.containers().get("nope"),
            Err(Error::ContainerNotFound { .. })
        ));
    }
}
