//! The build itself: which stages the target needs, each run on its own thread once the
//! stages it reads are built (so independent stages build in parallel), each instruction
//! applied in order, each step's result looked up in and added to the build cache.
//!
//! A stage's state is a `Work`: the image being built (`config::Stage`), its layers and
//! the cache key of everything so far. Config-only instructions change the state in
//! memory; WORKDIR, RUN, COPY and ADD write a layer and make the state an image of the
//! store (without an index entry, see `image::snapshot`), which is also the step's cache
//! entry. The target stage's state, with the build's labels, is the result: an image
//! indexed under the tags (and a cache entry itself, so a cached rebuild gives the same
//! image id).
//!
//! Progress is numbered as BuildKit numbers vertices: `[internal] load build definition`,
//! then per stage `[name i/n] FROM …` and one step per RUN, COPY, ADD and WORKDIR,
//! then `exporting to image`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use oci_spec::image::{Arch, Descriptor, ImageConfiguration, Os, RootFs};

use super::cache::{self, Cache, KeyHasher};
use super::config::{self, ImageState, Step};
use super::context::Context;
use super::dockerfile::{self, Dockerfile, Instruction, Located, Scope};
use super::hashes::FileHashes;
use super::{BuildEvent, ImageBuilder};
use crate::image::layer::NewLayer;
use crate::image::registry::{self, PullOptions};
use crate::image::{Image, Images, Reference};
use crate::{Error, Result};

mod files;
mod plan;
mod run_step;

use plan::{env_map, plan_stages, platform_args, read_dockerfile, Base, Plan};

/// Runs the build of `b` (see [`ImageBuilder::run`]).
pub(crate) fn build(b: &ImageBuilder<'_>) -> Result<Image> {
    let solver = Solver::new(b)?;
    let target = solver.target;
    let built = solver.solve();
    solver.hashes.save();
    solver.export(&*built?, target)
}

/// A built stage.
#[derive(Clone)]
struct Built {
    work: Work,
    image: Image,
}

enum Slot {
    Pending,
    Done(Arc<Built>),
    Failed,
}

struct Solver<'b, 'e> {
    b: &'b ImageBuilder<'e>,
    /// The Dockerfile's name in errors.
    path: PathBuf,
    df: Dockerfile,
    context: Context,
    global: Scope,
    cache: Cache<'e>,
    /// The content hashes of files COPY and ADD read, kept across builds.
    hashes: FileHashes,
    tags: Vec<Reference>,
    target: usize,
    plans: Vec<Plan>,
    /// The time of every history entry and image this build makes.
    created: String,
    next_id: AtomicUsize,
    slots: Mutex<Vec<Slot>>,
    changed: Condvar,
    failed: AtomicBool,
}

/// A stage's state: the image being built, its layers, its cache key.
#[derive(Clone)]
struct Work {
    stage: config::Stage,
    /// The parts of the image config a build does not change (os, architecture) and its
    /// rootfs.
    base: ImageConfiguration,
    layers: Vec<Descriptor>,
    key: String,
    /// The image of the store this exact state is, once written.
    image: Option<Image>,
}

impl<'b, 'e> Solver<'b, 'e> {
    fn new(b: &'b ImageBuilder<'e>) -> Result<Self> {
        let (path, text) = read_dockerfile(b)?;
        let df = dockerfile::parse(&path, &text)?;
        let context = Context::open(&b.context)?;
        let tags = b
            .tags
            .iter()
            .map(|t| t.parse())
            .collect::<Result<Vec<Reference>>>()?;
        let mut global = Scope::new(b.build_args.clone(), platform_args());
        for decl in &df.global_args {
            global
                .declare(&decl.value)
                .map_err(|e| decl.error(&path, e))?;
        }
        let target = match &b.target {
            None => df.stages.len() - 1,
            Some(t) => df
                .stages
                .iter()
                .position(|s| s.from.value.name.as_deref() == Some(&t.to_ascii_lowercase()))
                .ok_or_else(|| Error::InvalidBuild {
                    subject: format!("target {t:?}"),
                    reason: "no stage has that name".into(),
                })?,
        };
        let plans = plan_stages(&df, &global, &path)?;
        let n = df.stages.len();
        Ok(Solver {
            b,
            path,
            df,
            context,
            global,
            cache: Cache::new(b.store),
            hashes: FileHashes::open(b.store.root()),
            tags,
            target,
            plans,
            created: crate::store::now_rfc3339_seconds(),
            next_id: AtomicUsize::new(1),
            slots: Mutex::new((0..n).map(|_| Slot::Pending).collect()),
            changed: Condvar::new(),
            failed: AtomicBool::new(false),
        })
    }

    fn images(&self) -> Images<'e> {
        self.b.store.images()
    }

    /// Whether the caller asked the build to stop ([`ImageBuilder::stop_when`]).
    fn stop_asked(&self) -> bool {
        self.b.stop.as_ref().is_some_and(|s| s.asked())
    }

    fn emit(&self, e: BuildEvent) {
        if let Some(f) = &self.b.progress {
            f(&e);
        }
    }

    /// Starts a progress step; returns its id and start time.
    fn start(&self, name: String) -> (usize, Instant) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.emit(BuildEvent::Started { id, name });
        (id, Instant::now())
    }

    fn finish(&self, (id, t): (usize, Instant)) {
        self.emit(BuildEvent::Finished {
            id,
            elapsed: t.elapsed(),
        });
    }

    /// Builds the stages the target needs, each on a thread; returns the target's.
    fn solve(&self) -> Result<Arc<Built>> {
        let step = self.start(format!(
            "[internal] load build definition from {}",
            self.path
                .file_name()
                .map_or("Dockerfile".into(), |n| n.to_string_lossy())
        ));
        self.finish(step);
        let needed = self.needed();
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        std::thread::scope(|s| {
            for &i in &needed {
                let first_error = &first_error;
                s.spawn(move || {
                    let r = self.build_stage(i);
                    let mut slots = self.slots.lock().expect("slots lock");
                    slots[i] = match r {
                        Ok(b) => Slot::Done(Arc::new(b)),
                        Err(e) => {
                            // The first failure is the build's error; the stages that
                            // stop because of it fail after it.
                            let mut first = first_error.lock().expect("error lock");
                            if first.is_none() {
                                *first = Some(e);
                            }
                            self.failed.store(true, Ordering::Relaxed);
                            Slot::Failed
                        }
                    };
                    self.changed.notify_all();
                });
            }
        });
        if let Some(e) = first_error.into_inner().expect("error lock") {
            return Err(e);
        }
        self.stage(self.target)
    }

    /// The stages the target needs, dependencies first.
    fn needed(&self) -> Vec<usize> {
        let mut seen = vec![false; self.plans.len()];
        let mut order = Vec::new();
        fn visit(i: usize, plans: &[Plan], seen: &mut [bool], order: &mut Vec<usize>) {
            if seen[i] {
                return;
            }
            seen[i] = true;
            for &d in &plans[i].deps {
                visit(d, plans, seen, order);
            }
            order.push(i);
        }
        visit(self.target, &self.plans, &mut seen, &mut order);
        order
    }

    /// Waits for stage `i` to be built.
    fn stage(&self, i: usize) -> Result<Arc<Built>> {
        let mut slots = self.slots.lock().expect("slots lock");
        loop {
            match &slots[i] {
                Slot::Done(b) => return Ok(Arc::clone(b)),
                Slot::Failed => return Err(cancelled()),
                Slot::Pending => slots = self.changed.wait(slots).expect("slots lock"),
            }
        }
    }

    /// Builds stage `i`: its base, the base's ONBUILD triggers, its instructions.
    fn build_stage(&self, i: usize) -> Result<Built> {
        let plan = &self.plans[i];
        let df_stage = &self.df.stages[i];
        let from = &df_stage.from;
        let step = self.start(self.step_name(i, 1, &from.original));
        let (mut work, triggers) = match &plan.base {
            Base::Scratch => (Work::scratch(), Vec::new()),
            Base::Image(r) => {
                let image = self
                    .base_image(r, from)
                    .map_err(|e| self.located(from.line, &from.original, e))?;
                self.work_on_image(&image)?
            }
            Base::Stage(s) => {
                let built = self.stage(*s)?;
                let (stage, triggers) = config::Stage::from_stage(&built.work.stage);
                let mut work = built.work.clone();
                work.stage = stage;
                work.image = None;
                (work, triggers)
            }
        };
        self.finish(step);
        let env = env_map(work.stage.image.config.env().as_deref().unwrap_or_default());
        let mut scope = self.global.stage(env);
        let triggers = config::onbuild_triggers(&triggers, from, &self.path)?;
        let mut n = 1;
        for ins in triggers.iter().chain(&df_stage.instructions) {
            if self.stop_asked() {
                return Err(stopped());
            }
            if self.failed.load(Ordering::Relaxed) {
                return Err(cancelled());
            }
            let counts = matches!(
                ins.value,
                Instruction::Run(_)
                    | Instruction::Copy(_)
                    | Instruction::Add(_)
                    | Instruction::Workdir(_)
            );
            if counts {
                n += 1;
            }
            let name = self.step_name(i, n, &ins.original);
            self.instruction(&mut work, &mut scope, ins, name)
                .map_err(|e| self.located(ins.line, &ins.original, e))?;
        }
        let image = self.materialize(&mut work)?;
        Ok(Built { work, image })
    }

    /// `[label n/total] text`, as BuildKit names a stage's step.
    fn step_name(&self, stage: usize, n: usize, text: &str) -> String {
        let plan = &self.plans[stage];
        let text = text.lines().next().unwrap_or("").trim();
        if plan.label.is_empty() {
            format!("[{n}/{}] {text}", plan.total)
        } else {
            format!("[{} {n}/{}] {text}", plan.label, plan.total)
        }
    }

    /// The base image `r` of a FROM (its errors at the FROM's line).
    fn base_image(&self, r: &str, from: &Located<dockerfile::From>) -> Result<Image> {
        let reference: Reference = r
            .parse()
            .map_err(|e: Error| from.error(&self.path, e.to_string()))?;
        self.image(&reference, self.b.pull)
    }

    /// The image `reference` names: the store's, pulled when missing or when `pull`.
    fn image(&self, reference: &Reference, pull: bool) -> Result<Image> {
        let images = self.images();
        if !pull {
            match images.inspect(reference) {
                Ok(img) => return Ok(img),
                Err(Error::ImageNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let mut options = PullOptions::new();
        if let Some(stop) = self.b.stop.clone() {
            options.stop_when(move || stop.asked());
        }
        registry::pull(images, reference, &options, &|_| {})?;
        self.images().inspect(reference)
    }

    /// A stage's state on `image`, and the image's ONBUILD triggers.
    fn work_on_image(&self, image: &Image) -> Result<(Work, Vec<String>)> {
        let blob = self.b.store.images().store().read_blob(image.id())?;
        let state = ImageState::from_blob(&blob).map_err(|e| Error::InvalidImage {
            subject: image.id().to_string(),
            reason: e.to_string(),
        })?;
        let (stage, triggers) = config::Stage::new(state);
        let mut base = image.config().clone();
        base.set_history(None);
        base.set_config(None);
        base.set_author(None);
        let work = Work {
            stage,
            base,
            layers: image.manifest().layers().clone(),
            key: cache::base_key(image.manifest_digest()),
            image: None,
        };
        Ok((work, triggers))
    }

    /// An error of the instruction at `line` (written `original`), naming it unless it
    /// already names its line.
    fn located(&self, line: usize, original: &str, e: Error) -> Error {
        match e {
            Error::BuildStep { .. }
            | Error::InvalidDockerfile { .. }
            | Error::BuildInstruction { .. } => e,
            cause => Error::BuildInstruction {
                path: self.path.clone(),
                line,
                instruction: original.lines().next().unwrap_or("").trim().to_owned(),
                cause: Box::new(cause),
            },
        }
    }

    /// Applies one instruction to the stage (its errors not yet [`Self::located`]).
    fn instruction(
        &self,
        work: &mut Work,
        scope: &mut Scope,
        ins: &Located<Instruction>,
        name: String,
    ) -> Result<()> {
        let step = work
            .stage
            .apply(ins, scope, Some(&self.created), &self.path)?;
        let state = serde_json::to_vec(&(
            &work.stage.image.config,
            &work.stage.image.docker,
            &work.stage.image.author,
        ))
        .expect("config serializes");
        let key = KeyHasher::new(&work.key)
            .field(ins.original.as_bytes())
            .field(&state);
        match step {
            Step::Done => {
                work.key = key.finish();
                work.image = None;
                Ok(())
            }
            Step::Mkdir(dir) => {
                let key = key.field(b"mkdir").finish();
                self.step(work, key, name, |s, work, _id| s.mkdir(work, &dir))
            }
            Step::Filesystem => match &ins.value {
                Instruction::Run(r) => self.run_instruction(work, scope, ins, r, key, name),
                Instruction::Copy(c) => {
                    let from = c.from.as_ref();
                    self.copy_instruction(
                        work, scope, ins, false, c.parents, from, &c.files, key, name,
                    )
                }
                Instruction::Add(a) => {
                    self.copy_instruction(work, scope, ins, true, false, None, &a.files, key, name)
                }
                _ => unreachable!("apply says only RUN, COPY and ADD touch files"),
            },
        }
    }

    /// A step that writes a layer: from the cache under `key` unless `no_cache`, else
    /// `make` writes it; the layer is added, the state written as an image and kept under
    /// `key`. `make` returns the layer's history text.
    fn step(
        &self,
        work: &mut Work,
        key: String,
        name: String,
        make: impl FnOnce(&Self, &Work, usize) -> Result<(NewLayer, Option<String>)>,
    ) -> Result<()> {
        let t = self.start(name);
        if !self.b.no_cache {
            if let Some(img) = self.cache.get(&key) {
                self.emit(BuildEvent::Cached { id: t.0 });
                let blob = self.images().store().read_blob(img.id())?;
                let state = ImageState::from_blob(&blob).map_err(|e| Error::InvalidImage {
                    subject: img.id().to_string(),
                    reason: e.to_string(),
                })?;
                work.stage.image = state;
                work.base.set_rootfs(img.config().rootfs().clone());
                work.layers = img.manifest().layers().clone();
                work.image = Some(img);
                work.key = key;
                self.finish(t);
                return Ok(());
            }
        }
        let made = make(self, work, t.0);
        let (layer, history) = match made {
            Ok(x) => x,
            Err(e) => {
                self.emit(BuildEvent::Failed {
                    id: t.0,
                    error: e.to_string(),
                });
                return Err(e);
            }
        };
        let (desc, diff_id) = Images::new_layer_parts(&layer);
        if let Some(h) = history {
            work.stage.commit_layer(h, Some(&self.created));
        }
        let mut rootfs = work.base.rootfs().clone();
        let mut diff_ids = rootfs.diff_ids().clone();
        diff_ids.push(diff_id.to_string());
        rootfs.set_diff_ids(diff_ids);
        work.base.set_rootfs(rootfs);
        work.layers.push(desc);
        work.image = None;
        work.key = key;
        let img = self.materialize(work)?;
        drop(layer);
        self.cache.put(&work.key, &img)?;
        self.finish(t);
        Ok(())
    }

    /// The state as an image of the store (written unless it is already).
    fn materialize(&self, work: &mut Work) -> Result<Image> {
        if let Some(img) = &work.image {
            return Ok(img.clone());
        }
        let mut base = work.base.clone();
        base.set_created(Some(self.created.clone()));
        let blob = work.stage.image.to_blob(base);
        let img = self.images().put_image(&blob, work.layers.clone())?;
        work.image = Some(img.clone());
        Ok(img)
    }

    /// The layer directories of the state, top first (unpacked if they are not).
    fn lower(&self, work: &mut Work) -> Result<(Image, Vec<PathBuf>)> {
        let img = self.materialize(work)?;
        let mut dirs = self.images().layer_dirs(&img, &"a build step")?;
        dirs.reverse();
        Ok((img, dirs))
    }

    /// The result: the target's state with the build's labels, indexed under the tags.
    fn export(&self, built: &Built, target: usize) -> Result<Image> {
        let _ = target;
        let t = self.start("exporting to image".into());
        let mut work = built.work.clone();
        let mut key = KeyHasher::new(&work.key).field(b"export");
        for (k, v) in &self.b.labels {
            key = key.field(k.as_bytes()).field(v.as_bytes());
        }
        let key = key.finish();
        let image = match self.cache.get(&key).filter(|_| !self.b.no_cache) {
            Some(img) => img,
            None => {
                if !self.b.labels.is_empty() {
                    let cfg = &mut work.stage.image.config;
                    let mut labels = cfg.labels().clone().unwrap_or_default();
                    labels.extend(self.b.labels.clone());
                    cfg.set_labels(Some(labels));
                    work.image = None;
                }
                let img = self.materialize(&mut work)?;
                self.cache.put(&key, &img)?;
                img
            }
        };
        let image = self.images().index_image(&image, &self.tags)?;
        self.finish(t);
        Ok(image)
    }
}

impl Work {
    /// The stage's working directory (`/` when unset).
    fn workdir(&self) -> String {
        self.stage
            .image
            .config
            .working_dir()
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    fn scratch() -> Work {
        let mut base = ImageConfiguration::default();
        base.set_architecture(Arch::Amd64);
        base.set_os(Os::Linux);
        base.set_rootfs(RootFs::default());
        base.set_history(None);
        base.set_config(None);
        Work {
            stage: config::Stage::default(),
            base,
            layers: Vec::new(),
            key: KeyHasher::new("scratch").finish(),
            image: None,
        }
    }
}

/// The error of a build its caller stopped.
fn stopped() -> Error {
    Error::Cancelled {
        op: "building".into(),
    }
}

/// The error of a stage stopped because another failed (never the build's error: the
/// other stage's is).
fn cancelled() -> Error {
    Error::InvalidBuild {
        subject: "stage".into(),
        reason: "cancelled: a stage of the build failed".into(),
    }
}
