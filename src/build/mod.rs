//! Building images from Dockerfiles (`docker build` with BuildKit's Dockerfile frontend).
//!
//! [`ImageBuilder`] is the public face (`engine.build(context)`); the parts it is made of
//! are each usable and tested on their own:
//! - `dockerfile` parses (directives, continuations, heredocs, flags, variables);
//! - `config` is what an instruction does to the image config and history;
//! - `ignore` and `context` are `.dockerignore` and the build context (its walk, the
//!   resolution of COPY sources, their cache digests);
//! - `copy` writes the layer of a COPY or ADD; `hashes` remembers the content hashes of
//!   the files it reads;
//! - `cache` keeps step results across builds (`engine builder prune` empties it);
//! - `solve` runs the stages: in parallel where independent, RUN steps as containers of
//!   the engine (`run`), each step's result an image of the store.

mod cache;
mod config;
mod context;
mod copy;
pub(crate) mod dockerfile;
mod hashes;
mod ignore;
mod run;
mod solve;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::container::ContainerStore;
use crate::image::registry::Stop;
use crate::image::Image;
use crate::Result;

pub(crate) use cache::{prune, usage};
pub use cache::{CachePruned, CacheUsage};
pub(crate) use copy::helper::serve as serve_copy;

/// What a build reports as it goes ([`ImageBuilder::progress`]): one event per step
/// started, cached, finished or failed, the output lines of RUN and the bytes COPY and ADD
/// write. Steps are numbered as BuildKit numbers its vertices (`#5`), so a printer can
/// show them as `docker build --progress=plain` does.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildEvent {
    /// A step starts: `name` is BuildKit's (`[build 2/4] RUN make`, `[internal] load
    /// build definition from Dockerfile`).
    Started {
        /// The step's number, from 1, in the order steps start.
        id: usize,
        /// What the step is.
        name: String,
    },
    /// A step's result came from the build cache: nothing ran.
    Cached {
        /// The step.
        id: usize,
    },
    /// A RUN step's container was made and runs (it is removed when the step ends).
    Container {
        /// The step.
        id: usize,
        /// The container's id.
        container: String,
    },
    /// A line RUN printed (stdout and stderr, as they come; without the newline).
    Output {
        /// The step.
        id: usize,
        /// The line (lossy UTF-8).
        line: String,
    },
    /// COPY or ADD wrote this many bytes of file content so far.
    Transferred {
        /// The step.
        id: usize,
        /// Bytes written.
        bytes: u64,
    },
    /// A step ended successfully.
    Finished {
        /// The step.
        id: usize,
        /// How long it took.
        elapsed: Duration,
    },
    /// A step failed; the build's error says why.
    Failed {
        /// The step.
        id: usize,
        /// The error, as displayed.
        error: String,
    },
}

/// The callback [`ImageBuilder::progress`] installs.
type ProgressFn = Arc<dyn Fn(&BuildEvent) + Send + Sync>;

/// The network RUN steps use (`docker build --network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BuildNetwork {
    /// The engine's default bridge network.
    #[default]
    Default,
    /// No network: only loopback.
    None,
    /// The host's network namespace.
    Host,
}

impl std::str::FromStr for BuildNetwork {
    type Err = crate::Error;

    /// `default`, `bridge` (the same), `none` or `host`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "default" | "bridge" => Ok(BuildNetwork::Default),
            "none" => Ok(BuildNetwork::None),
            "host" => Ok(BuildNetwork::Host),
            _ => Err(crate::Error::InvalidBuild {
                subject: format!("network {s:?}"),
                reason: "expected default, none or host".into(),
            }),
        }
    }
}

/// A Dockerfile build, made by [`Engine::build`](crate::Engine::build); shaped like
/// [`ContainerBuilder`](crate::ContainerBuilder): setters that never fail, then
/// [`run`](Self::run).
///
/// ```no_run
/// # fn f(engine: &cargohold::Engine) -> cargohold::Result<()> {
/// let image = engine
///     .build("./app")
///     .tag("app:latest")
///     .build_arg("VERSION", "1.2")
///     .progress(|e| eprintln!("{e:?}"))
///     .run()?;
/// engine.container(&image).status()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ImageBuilder<'e> {
    store: &'e ContainerStore,
    context: PathBuf,
    dockerfile: Dockerfile,
    tags: Vec<String>,
    build_args: BTreeMap<String, String>,
    target: Option<String>,
    no_cache: bool,
    pull: bool,
    network: BuildNetwork,
    labels: BTreeMap<String, String>,
    secrets: BTreeMap<String, PathBuf>,
    progress: Option<ProgressFn>,
    stop: Option<Stop>,
}

/// Where the Dockerfile comes from.
#[derive(Debug, Clone)]
enum Dockerfile {
    /// `Dockerfile` in the context.
    Default,
    /// A path (relative to the current directory, as `docker build -f` takes it).
    Path(PathBuf),
    /// Inline text (`docker build -f - < Dockerfile`).
    Content(String),
}

impl fmt::Debug for ImageBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImageBuilder")
            .field("context", &self.context)
            .field("dockerfile", &self.dockerfile)
            .field("tags", &self.tags)
            .field("build_args", &self.build_args)
            .field("target", &self.target)
            .field("no_cache", &self.no_cache)
            .field("pull", &self.pull)
            .field("network", &self.network)
            .field("labels", &self.labels)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl<'e> ImageBuilder<'e> {
    pub(crate) fn new(store: &'e ContainerStore, context: &Path) -> Self {
        ImageBuilder {
            store,
            context: context.to_owned(),
            dockerfile: Dockerfile::Default,
            tags: Vec::new(),
            build_args: BTreeMap::new(),
            target: None,
            no_cache: false,
            pull: false,
            network: BuildNetwork::Default,
            labels: BTreeMap::new(),
            secrets: BTreeMap::new(),
            progress: None,
            stop: None,
        }
    }

    setters! {
        /// The Dockerfile to build (`-f`); by default `Dockerfile` in the context.
        fn dockerfile(&mut self, path: impl AsRef<Path>) {
            self.dockerfile = Dockerfile::Path(path.as_ref().to_owned())
        }

        /// The Dockerfile's text itself, instead of a file (`-f -`).
        fn dockerfile_content(&mut self, text: impl Into<String>) {
            self.dockerfile = Dockerfile::Content(text.into())
        }

        /// A reference to tag the result with (`-t`; repeatable). Without one the image
        /// is untagged, found by its id.
        fn tag(&mut self, reference: impl Into<String>) { self.tags.push(reference.into()) }

        /// A `--build-arg`: the value of an ARG the Dockerfile declares (or a proxy
        /// variable RUN sees without a declaration).
        fn build_arg(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.build_args.insert(key.into(), value.into())
        }

        /// The stage to build (`--target`); by default the last.
        fn target(&mut self, stage: impl Into<String>) { self.target = Some(stage.into()) }

        /// Ignore the build cache: every step runs (its results still fill the cache).
        fn no_cache(&mut self, yes: bool) { self.no_cache = yes }

        /// Pull every base image even when the store has it (`--pull`). Without it, a
        /// base image is pulled only when missing.
        fn pull(&mut self, yes: bool) { self.pull = yes }

        /// The network of RUN steps (`--network`); a RUN's own `--network` wins.
        fn network(&mut self, network: BuildNetwork) { self.network = network }

        /// A label set on the result (`--label`), over the Dockerfile's.
        fn label(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.labels.insert(key.into(), value.into())
        }

        /// A secret (`--secret id=…,src=…`): the file at `source` is what `RUN
        /// --mount=type=secret,id=…` sees; it never reaches the image or the cache key.
        fn secret(&mut self, id: impl Into<String>, source: impl AsRef<Path>) {
            self.secrets.insert(id.into(), source.as_ref().to_owned())
        }
    }

    /// Calls `f` with every [`BuildEvent`], from the threads the build runs on.
    pub fn progress(&mut self, f: impl Fn(&BuildEvent) + Send + Sync + 'static) -> &mut Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Stops the build once `stop` returns true (it is asked between steps, and every
    /// tenth of a second while a RUN runs, whose container is then killed): the build
    /// then fails with [`Error::Cancelled`](crate::Error::Cancelled), nothing is tagged
    /// and no container is left; the steps that completed stay in the build cache. For a
    /// server whose client may go away mid-build.
    pub fn stop_when(&mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> &mut Self {
        self.stop = Some(Stop::new(stop));
        self
    }

    /// Runs the build: parses the Dockerfile, builds the stages the target needs
    /// (independent ones in parallel), tags the result and returns it.
    ///
    /// # Errors
    /// [`Error::InvalidDockerfile`](crate::Error::InvalidDockerfile) naming the file and
    /// line of an instruction that cannot be parsed or applied;
    /// [`Error::BuildContext`](crate::Error::BuildContext) for a COPY source that is
    /// absent or outside the context; [`Error::BuildStep`](crate::Error::BuildStep) for
    /// a RUN that exits non-zero (its code and last lines of output in the message);
    /// pull and store errors. Nothing is tagged then, and no container or mount is
    /// left behind.
    pub fn run(&self) -> Result<Image> {
        solve::build(self)
    }
}
