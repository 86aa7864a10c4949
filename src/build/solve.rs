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

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use oci_spec::image::{Arch, Descriptor, ImageConfiguration, Os, RootFs};

use super::cache::{self, Cache, KeyHasher};
use super::config::{self, ImageState, Step};
use super::context::Context;
use super::copy::{self, CopyFrom, CopyInput, CopySource};
use super::dockerfile::{
    self, CommandLine, Dockerfile, Instruction, Located, MountType, NetworkMode, Run, Scope,
    Security, Sharing, Source, Word,
};
use super::run::{self, RunMount, RunOutcome, RunStep, Scratch};
use super::{BuildEvent, BuildNetwork, ImageBuilder};
use crate::container::changes::Stack;
use crate::image::registry::{self, PullOptions};
use crate::image::{Image, Images, Reference};
use crate::volume::Mount;
use crate::{Error, Result};

/// Runs the build of `b` (see [`ImageBuilder::run`]).
pub(crate) fn build(b: &ImageBuilder<'_>) -> Result<Image> {
    let solver = Solver::new(b)?;
    let target = solver.target;
    let built = solver.solve()?;
    solver.export(&built, target)
}

/// Where a stage starts.
#[derive(Debug, Clone)]
enum Base {
    Scratch,
    Image(String),
    Stage(usize),
}

/// A stage as planned before anything runs.
#[derive(Debug)]
struct Plan {
    base: Base,
    /// The stages it reads (its base, `COPY --from`, `RUN --mount=from=`).
    deps: Vec<usize>,
    /// The name progress shows (`build`, `stage-1`; empty for a one-stage build).
    label: String,
    /// Its steps: FROM plus each WORKDIR, RUN, COPY and ADD.
    total: usize,
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
                let image = self.base_image(r, from)?;
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
            self.instruction(&mut work, &mut scope, ins, name)?;
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

    /// The base image `r` of a FROM: the store's, pulled when missing or with `pull`.
    fn base_image(&self, r: &str, from: &Located<dockerfile::From>) -> Result<Image> {
        let reference: Reference = r
            .parse()
            .map_err(|e: Error| from.error(&self.path, e.to_string()))?;
        let images = self.images();
        if !self.b.pull {
            match images.inspect(&reference) {
                Ok(img) => return Ok(img),
                Err(Error::ImageNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        registry::pull(images, &reference, &PullOptions::new(), &|_| {})?;
        self.images().inspect(&reference)
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

    /// Applies one instruction to the stage.
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
        make: impl FnOnce(
            &Self,
            &Work,
            usize,
        ) -> Result<(crate::image::layer::NewLayer, Option<String>)>,
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

    /// WORKDIR's layer: `dir` and its missing parents, owned by the config's user.
    fn mkdir(
        &self,
        work: &Work,
        dir: &str,
    ) -> Result<(crate::image::layer::NewLayer, Option<String>)> {
        let mut work = work.clone();
        let (_, lower) = self.lower(&mut work)?;
        let stack = Stack::new(lower);
        let user = work.stage.image.config.user().clone().unwrap_or_default();
        let (uid, gid) = if user.is_empty() {
            (0, 0)
        } else {
            let read = |p: &str| {
                run::lookup(&stack, Path::new(p))
                    .and_then(|m| fs::read_to_string(m.host).ok())
                    .unwrap_or_default()
            };
            let u = crate::container::spec::resolve_user(
                &user,
                &read("etc/passwd"),
                &read("etc/group"),
            )
            .map_err(|(kind, name, _)| Error::InvalidBuild {
                subject: format!("WORKDIR {dir}"),
                reason: format!("unable to find {kind} {name}"),
            })?;
            (u.uid, u.gid)
        };
        let scratch = Scratch::dir(self.b.store.root())?;
        let proto = scratch.0.join("d");
        let io = |e| Error::os("making the directory of WORKDIR in", &proto, e);
        fs::create_dir(&proto).map_err(io)?;
        std::os::unix::fs::lchown(&proto, Some(uid), Some(gid)).map_err(io)?;
        let meta = fs::symlink_metadata(&proto).map_err(io)?;
        let mut layer = self.images().layer_writer()?;
        let rel = run::relative(Path::new(dir));
        let mut cur = PathBuf::new();
        for c in rel.components() {
            cur.push(c);
            match run::lookup(&stack, &cur) {
                Some(m) if m.meta.is_dir() => {
                    if cur == rel {
                        layer.tar().append(&m.host, &cur, &m.meta).map_err(io)?;
                    }
                }
                _ => layer.tar().append(&proto, &cur, &meta).map_err(io)?,
            }
        }
        Ok((layer.finish(&proto)?, None))
    }

    /// RUN: key, mounts, container, layer.
    fn run_instruction(
        &self,
        work: &mut Work,
        scope: &Scope,
        ins: &Located<Instruction>,
        r: &Run,
        key: KeyHasher,
        name: String,
    ) -> Result<()> {
        let err = |e: String| ins.error(&self.path, e);
        let argv = work.stage.run_args(r);
        let created_by = work.stage.run_created_by(r, scope);
        let mut env: Vec<(String, String)> = scope
            .args()
            .iter()
            .filter(|(k, _)| !scope.env().contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        env.extend(scope.proxies().map(|(k, v)| (k.to_owned(), v.to_owned())));
        let network = match r.network {
            None | Some(NetworkMode::Default) => self.b.network,
            Some(NetworkMode::None) => BuildNetwork::None,
            Some(NetworkMode::Host) => BuildNetwork::Host,
        };
        let privileged = r.security == Some(Security::Insecure);
        let mut key = key
            .field(created_by.as_bytes())
            .field(
                serde_json::to_vec(&(&argv, &env))
                    .expect("serializes")
                    .as_slice(),
            )
            .field(format!("{network:?} {privileged}").as_bytes());
        for h in &r.heredocs {
            key = key.field(h.content.as_bytes());
        }
        let workdir = work
            .stage
            .image
            .config
            .working_dir()
            .clone()
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "/".into());
        let mut mounts = Vec::new();
        for m in &r.mounts {
            let (k, resolved) = self.mount_key(m, scope, &workdir).map_err(|e| match e {
                Error::InvalidBuild { subject, reason } => err(format!("{subject}: {reason}")),
                e => e,
            })?;
            key = key.field(k.as_bytes());
            mounts.push(resolved);
        }
        let key = key.finish();
        let line = ins.line;
        let original = ins.original.lines().next().unwrap_or("").trim().to_owned();
        let heredoc_pipe = r.heredocs.first().filter(|h| {
            matches!(r.command, CommandLine::Shell(_))
                && argv
                    .last()
                    .is_some_and(|a| a == &format!("/dev/pipes/{}", h.name))
        });
        self.step(work, key, name, |s, work, id| {
            let mut work = work.clone();
            let (image, lower) = s.lower(&mut work)?;
            let mut guards = Held::default();
            let mut run_mounts = Vec::new();
            for m in &mounts {
                if let Some(rm) = s.prepare_mount(m, &mut guards)? {
                    run_mounts.push(rm);
                }
            }
            if let Some(h) = heredoc_pipe {
                let dir = Scratch::dir(s.b.store.root())?;
                let file = dir.0.join(&h.name);
                fs::write(&file, h.chomped())
                    .map_err(|e| Error::os("writing heredoc", &file, e))?;
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&file, fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::os("writing heredoc", &file, e))?;
                let target = PathBuf::from(format!("/dev/pipes/{}", h.name));
                run_mounts.push(RunMount {
                    mount: Mount::bind(&file, &target).read_only(),
                    target,
                });
                guards._dirs.push(dir);
            }
            let on_line = |l: String| s.emit(BuildEvent::Output { id, line: l });
            let step = RunStep {
                image: &image,
                lower,
                argv: argv.clone(),
                env: env.clone(),
                network,
                privileged,
                mounts: run_mounts,
                on_line: &on_line,
            };
            match run::run(s.b.store, &step)? {
                RunOutcome::Done(layer) => Ok((layer, Some(created_by.clone()))),
                RunOutcome::Failed(status, output) => Err(Error::BuildStep {
                    path: s.path.clone(),
                    line,
                    instruction: original.clone(),
                    status: match (status.code(), status.signal()) {
                        (Some(c), _) => format!("exit code: {c}"),
                        (None, Some(sig)) => format!("killed by signal {sig}"),
                        _ => status.to_string(),
                    },
                    output,
                }),
            }
        })
    }

    /// A RUN mount's cache-key text and its resolved description.
    fn mount_key(
        &self,
        m: &dockerfile::Mount,
        scope: &Scope,
        workdir: &str,
    ) -> Result<(String, ResolvedMount)> {
        let expand = |w: &Option<Word>| -> Result<Option<String>> {
            w.as_ref()
                .map(|w| {
                    w.expand(scope).map_err(|reason| Error::InvalidBuild {
                        subject: "--mount".into(),
                        reason,
                    })
                })
                .transpose()
        };
        let target = expand(&m.target)?;
        let source = expand(&m.source)?;
        let from = expand(&m.from)?;
        let id = expand(&m.id)?;
        let invalid = |reason: &str| Error::InvalidBuild {
            subject: "--mount".into(),
            reason: reason.into(),
        };
        let abs = |t: &str, wd: &str| -> PathBuf {
            if t.starts_with('/') {
                PathBuf::from(t)
            } else {
                Path::new(wd).join(t)
            }
        };
        let wd = workdir;
        let resolved = match m.kind {
            MountType::Bind => {
                let target = target.ok_or_else(|| invalid("bind mount needs a target"))?;
                let source = source.unwrap_or_default();
                let from = match from {
                    None => None,
                    Some(f) => Some(self.from_source(&f)?),
                };
                ResolvedMount::Bind {
                    target: abs(&target, wd),
                    source,
                    from,
                    rw: !m.read_only,
                }
            }
            MountType::Cache => {
                let target = target.ok_or_else(|| invalid("cache mount needs a target"))?;
                ResolvedMount::Cache {
                    id: id.unwrap_or_else(|| target.clone()),
                    target: abs(&target, wd),
                    sharing: m.sharing.unwrap_or(Sharing::Shared),
                    read_only: m.read_only,
                    mode: m.mode,
                    uid: m.uid,
                    gid: m.gid,
                }
            }
            MountType::Tmpfs => {
                let target = target.ok_or_else(|| invalid("tmpfs mount needs a target"))?;
                ResolvedMount::Tmpfs {
                    target: abs(&target, wd),
                    size: m.size,
                }
            }
            MountType::Secret => {
                let id = id
                    .or_else(|| {
                        target
                            .as_deref()
                            .and_then(|t| Path::new(t).file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                    })
                    .ok_or_else(|| invalid("secret mount needs an id or a target"))?;
                if m.env.is_some() && target.is_none() {
                    return Err(invalid(
                        "secrets as environment variables are not supported; mount it as a file",
                    ));
                }
                let target = abs(
                    target.as_deref().unwrap_or(&format!("/run/secrets/{id}")),
                    wd,
                );
                ResolvedMount::Secret {
                    id,
                    target,
                    required: m.required,
                }
            }
            MountType::Ssh => {
                return Err(invalid(
                    "ssh mounts are not supported: this builder forwards no SSH agent",
                ))
            }
        };
        let key = match &resolved {
            ResolvedMount::Bind {
                target,
                source,
                from,
                rw,
            } => {
                let src_key = match from {
                    None => self.context.digest(&[source.as_str()])?.to_string(),
                    Some(f) => f.key().to_owned(),
                };
                format!("bind {} {source} {src_key} {rw}", target.display())
            }
            r => format!("{r:?}"),
        };
        Ok((key, resolved))
    }

    /// A `--from` word: an earlier stage's result or an image's.
    fn from_source(&self, name: &str) -> Result<FromSource> {
        if let Some(i) = self.df.stage_index(name, self.df.stages.len()) {
            return Ok(FromSource::Stage(self.stage(i)?));
        }
        let reference: Reference = name.parse()?;
        let img = match self.images().inspect(&reference) {
            Ok(img) => img,
            Err(Error::ImageNotFound { .. }) => {
                registry::pull(self.images(), &reference, &PullOptions::new(), &|_| {})?;
                self.images().inspect(&reference)?
            }
            Err(e) => return Err(e),
        };
        Ok(FromSource::Image(img))
    }

    /// The layer dirs of a `--from` source, top first.
    fn from_layers(&self, f: &FromSource) -> Result<Vec<PathBuf>> {
        let img = match f {
            FromSource::Stage(b) => &b.image,
            FromSource::Image(img) => img,
        };
        let mut dirs = self.images().layer_dirs(img, &"a --from source")?;
        dirs.reverse();
        Ok(dirs)
    }

    /// Makes a RUN mount's source ready; `None` for an optional secret not given.
    fn prepare_mount(&self, m: &ResolvedMount, guards: &mut Held) -> Result<Option<RunMount>> {
        let root = self.b.store.root();
        let rm = match m {
            ResolvedMount::Bind {
                target,
                source,
                from,
                rw,
            } => {
                let dir = Scratch::dir(root)?;
                let dest = dir.0.join("src");
                match from {
                    None => {
                        let entries =
                            self.context
                                .resolve(if source.is_empty() { "." } else { source })?;
                        let rel = entries.first().map(|e| e.path.clone()).unwrap_or_default();
                        copy_host(&self.context.root().join(&rel), &dest)?;
                    }
                    Some(f) => {
                        let stack = Stack::new(self.from_layers(f)?);
                        run::copy_out(&stack, &run::relative(Path::new(source)), &dest)?;
                    }
                }
                let mut mount = Mount::bind(&dest, target);
                if !rw {
                    mount = mount.read_only();
                }
                guards._dirs.push(dir);
                RunMount {
                    mount,
                    target: target.clone(),
                }
            }
            ResolvedMount::Cache {
                id,
                target,
                sharing,
                read_only,
                mode,
                uid,
                gid,
            } => {
                let dir = self.cache.mount_dir(id)?;
                let io = |e| Error::os("preparing cache mount", &dir, e);
                use std::os::unix::fs::PermissionsExt;
                if let Some(mode) = mode {
                    fs::set_permissions(&dir, fs::Permissions::from_mode(*mode)).map_err(io)?;
                }
                if uid.is_some() || gid.is_some() {
                    std::os::unix::fs::lchown(&dir, *uid, *gid).map_err(io)?;
                }
                let source = match sharing {
                    Sharing::Locked => {
                        guards._locks.push(run::lock_cache(&dir)?);
                        dir
                    }
                    Sharing::Shared => dir,
                    Sharing::Private => {
                        let tmp = Scratch::dir(root)?;
                        let p = tmp.0.join("cache");
                        copy_host(&dir, &p)?;
                        guards._dirs.push(tmp);
                        p
                    }
                };
                let mut mount = Mount::bind(&source, target);
                if *read_only {
                    mount = mount.read_only();
                }
                RunMount {
                    mount,
                    target: target.clone(),
                }
            }
            ResolvedMount::Tmpfs { target, size } => {
                let mut mount = Mount::tmpfs(target);
                if let Some(s) = size {
                    mount = mount.size(*s);
                }
                RunMount {
                    mount,
                    target: target.clone(),
                }
            }
            ResolvedMount::Secret {
                id,
                target,
                required,
            } => match self.b.secrets.get(id) {
                None if *required => {
                    return Err(Error::InvalidBuild {
                        subject: format!("secret {id:?}"),
                        reason: "required by RUN --mount=type=secret but not given".into(),
                    })
                }
                None => return Ok(None),
                Some(src) => {
                    // A copy, so the build reads the secret once and the file given may
                    // change or go afterwards.
                    let dir = Scratch::dir(root)?;
                    let p = dir.0.join("secret");
                    fs::copy(src, &p).map_err(|e| Error::InvalidBuild {
                        subject: format!("secret {id:?}"),
                        reason: format!("cannot read {}: {e}", src.display()),
                    })?;
                    guards._dirs.push(dir);
                    RunMount {
                        mount: Mount::bind(&p, target).read_only(),
                        target: target.clone(),
                    }
                }
            },
        };
        Ok(Some(rm))
    }

    /// COPY and ADD.
    #[allow(clippy::too_many_arguments)]
    fn copy_instruction(
        &self,
        work: &mut Work,
        scope: &Scope,
        ins: &Located<Instruction>,
        add: bool,
        parents: bool,
        from: Option<&Word>,
        files: &dockerfile::Files,
        key: KeyHasher,
        name: String,
    ) -> Result<()> {
        let err = |e: String| ins.error(&self.path, e);
        let at_line = |e: Error| match e {
            Error::BuildContext { subject, reason } => err(format!("{subject}: {reason}")),
            Error::InvalidBuild { subject, reason } => err(format!("{subject}: {reason}")),
            e => e,
        };
        let expand = |w: &Word| w.expand(scope).map_err(err);
        let opt = |w: &Option<Word>| -> Result<Option<String>> {
            w.as_ref()
                .map(expand)
                .transpose()
                .map(|v| v.filter(|s| !s.is_empty()))
        };
        let mut sources = Vec::new();
        for s in &files.sources {
            sources.push(match s {
                Source::Path(w) => CopySource::Path(expand(w)?),
                Source::Heredoc(h) => CopySource::Heredoc {
                    name: h.name.clone(),
                    content: if h.expand {
                        dockerfile::Word::new(h.chomped(), self.df.escape)
                            .expand(scope)
                            .map_err(err)?
                    } else {
                        h.chomped()
                    },
                },
            });
        }
        let input = CopyInput {
            add,
            sources,
            dest: expand(&files.dest)?,
            workdir: work
                .stage
                .image
                .config
                .working_dir()
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".into()),
            chown: opt(&files.chown)?,
            chmod: opt(&files.chmod)?,
            exclude: files.exclude.iter().map(expand).collect::<Result<_>>()?,
            parents,
            link: files.link,
            checksum: None,
        };
        let from_src = match from {
            None => None,
            Some(w) => Some(
                self.from_source(&w.expand(&self.global).map_err(err)?)
                    .map_err(at_line)?,
            ),
        };
        let from_layers = from_src.as_ref().map(|f| self.from_layers(f)).transpose()?;
        let from_stack = from_layers.map(Stack::new);
        let copy_from = match &from_stack {
            None => CopyFrom::Context(&self.context),
            Some(s) => CopyFrom::Rootfs(s),
        };
        let created_by = config::Stage::copy_created_by(add, parents, files, scope).map_err(err)?;
        let digest = copy::source_digest(&input, &copy_from).map_err(at_line)?;
        let key = key
            .field(created_by.as_bytes())
            .field(digest.as_ref().as_bytes())
            .field(
                format!(
                    "{:?}",
                    (
                        &input.dest,
                        &input.workdir,
                        &input.chown,
                        &input.chmod,
                        &input.exclude,
                        input.parents,
                        input.link
                    )
                )
                .as_bytes(),
            )
            .finish();
        self.step(work, key, name, |s, work, id| {
            let mut work = work.clone();
            let stack = if input.link {
                Stack::new(Vec::new())
            } else {
                Stack::new(s.lower(&mut work)?.1)
            };
            let mut layer = s.images().layer_writer()?;
            let mut progress = |bytes| s.emit(BuildEvent::Transferred { id, bytes });
            copy::write_layer(&input, &copy_from, &stack, layer.tar(), &mut progress)
                .map_err(at_line)?;
            Ok((layer.finish(s.context.root())?, Some(created_by.clone())))
        })
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

/// The error of a stage stopped because another failed (never the build's error: the
/// other stage's is).
fn cancelled() -> Error {
    Error::InvalidBuild {
        subject: "stage".into(),
        reason: "cancelled: a stage of the build failed".into(),
    }
}

/// A RUN mount before its source is made ready.
#[derive(Debug)]
enum ResolvedMount {
    Bind {
        target: PathBuf,
        source: String,
        from: Option<FromSource>,
        rw: bool,
    },
    Cache {
        id: String,
        target: PathBuf,
        sharing: Sharing,
        read_only: bool,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
    },
    Tmpfs {
        target: PathBuf,
        size: Option<u64>,
    },
    Secret {
        id: String,
        target: PathBuf,
        required: bool,
    },
}

/// What `--from` names.
enum FromSource {
    Stage(Arc<Built>),
    Image(Image),
}

impl std::fmt::Debug for FromSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl FromSource {
    /// What identifies its content: the stage's cache key, the image's manifest digest.
    fn key(&self) -> &str {
        match self {
            FromSource::Stage(b) => &b.work.key,
            FromSource::Image(img) => img.manifest_digest().as_ref(),
        }
    }
}

/// What a step holds while it runs: scratch directories and cache locks.
#[derive(Default)]
struct Held {
    _dirs: Vec<Scratch>,
    _locks: Vec<crate::store::Lock>,
}

/// The Dockerfile's name for errors and its bytes.
fn read_dockerfile(b: &ImageBuilder<'_>) -> Result<(PathBuf, Vec<u8>)> {
    let path = match &b.dockerfile {
        super::Dockerfile::Content(text) => {
            return Ok((PathBuf::from("Dockerfile"), text.clone().into_bytes()))
        }
        super::Dockerfile::Default => b.context.join("Dockerfile"),
        super::Dockerfile::Path(p) => p.clone(),
    };
    let bytes = fs::read(&path).map_err(|e| Error::InvalidBuild {
        subject: format!("Dockerfile {}", path.display()),
        reason: format!("cannot be read: {e}"),
    })?;
    Ok((path, bytes))
}

/// The platform ARGs of a linux/amd64 build.
fn platform_args() -> BTreeMap<String, String> {
    [
        ("TARGETPLATFORM", "linux/amd64"),
        ("TARGETOS", "linux"),
        ("TARGETARCH", "amd64"),
        ("TARGETVARIANT", ""),
        ("BUILDPLATFORM", "linux/amd64"),
        ("BUILDOS", "linux"),
        ("BUILDARCH", "amd64"),
        ("BUILDVARIANT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `KEY=value` lines as a map.
fn env_map(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// Plans every stage: its base and the stages it reads, with `--from` and FROM words
/// expanded in the global scope.
fn plan_stages(df: &Dockerfile, global: &Scope, path: &Path) -> Result<Vec<Plan>> {
    let many = df.stages.len() > 1;
    let mut plans = Vec::new();
    for (i, st) in df.stages.iter().enumerate() {
        let from = &st.from;
        let image = from
            .value
            .image
            .expand(global)
            .map_err(|e| from.error(path, e))?;
        if image.is_empty() {
            return Err(from.error(path, "base name (FROM) should not be blank"));
        }
        let mut deps = Vec::new();
        let base = if image.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(s) = df.stages[..i]
            .iter()
            .position(|s| s.from.value.name.as_deref() == Some(&image.to_ascii_lowercase()))
        {
            deps.push(s);
            Base::Stage(s)
        } else {
            Base::Image(image)
        };
        let mut total = 1;
        for ins in &st.instructions {
            let from_word = match &ins.value {
                Instruction::Copy(c) => {
                    total += 1;
                    c.from.as_ref()
                }
                Instruction::Add(_) | Instruction::Workdir(_) => {
                    total += 1;
                    None
                }
                Instruction::Run(r) => {
                    total += 1;
                    for m in &r.mounts {
                        if let Some(w) = &m.from {
                            let name = w.expand(global).map_err(|e| ins.error(path, e))?;
                            if let Some(s) = df.stage_index(&name, i) {
                                deps.push(s);
                            } else if df.stage_index(&name, df.stages.len()).is_some() {
                                return Err(ins.error(
                                    path,
                                    format!("stage {name:?} is not defined before this one"),
                                ));
                            }
                        }
                    }
                    None
                }
                _ => None,
            };
            if let Some(w) = from_word {
                let name = w.expand(global).map_err(|e| ins.error(path, e))?;
                if let Some(s) = df.stage_index(&name, i) {
                    deps.push(s);
                } else if name.parse::<usize>().is_ok()
                    || df.stage_index(&name, df.stages.len()).is_some()
                {
                    return Err(ins.error(
                        path,
                        format!("invalid from flag value {name}: stage not found before this one"),
                    ));
                }
            }
        }
        let label = match &from.value.name {
            Some(n) => n.clone(),
            None if many => format!("stage-{i}"),
            None => String::new(),
        };
        plans.push(Plan {
            base,
            deps,
            label,
            total,
        });
    }
    Ok(plans)
}

/// Copies a host file or tree (symlinks as links) to `dest`.
fn copy_host(src: &Path, dest: &Path) -> Result<()> {
    fn go(src: &Path, dest: &Path) -> std::io::Result<()> {
        let meta = fs::symlink_metadata(src)?;
        if meta.is_dir() {
            fs::create_dir(dest)?;
            for e in fs::read_dir(src)? {
                let e = e?;
                go(&e.path(), &dest.join(e.file_name()))?;
            }
            fs::set_permissions(dest, meta.permissions())
        } else if meta.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(src)?, dest)
        } else if meta.is_file() {
            fs::copy(src, dest).map(|_| ())
        } else {
            Ok(())
        }
    }
    go(src, dest).map_err(|e| Error::os("copying", src, e))
}
