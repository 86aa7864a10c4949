//! RUN: the command runs in a container of the engine made from the step's image (so it
//! gets Docker's isolation: namespaces, the default seccomp profile and capabilities, the
//! image's user, environment and working directory), with the instruction's mounts and
//! network; what it changed in its root file system becomes the step's layer, read from
//! the container's overlay upper dir as `docker commit` reads it.
//!
//! As BuildKit does: the image's VOLUMEs are not mounted (a RUN after VOLUME keeps its
//! writes), the hostname is `buildkitsandbox`, and the mount points a RUN's `--mount`s
//! needed (and the parents made for them) are removed from the layer when they were not
//! in the image and are still empty ("mount stubs"). Mount sources:
//! - `bind`: a path of the build context (resolved inside it), or of another stage or
//!   image (`from=`), copied out of its layers; read-only unless `rw`, and then the
//!   writes go to a copy and are dropped after the step;
//! - `cache`: a directory of the build cache, one per `id` (the target by default), kept
//!   across builds; `sharing=locked` takes a lock for the step, `private` a fresh copy;
//! - `tmpfs`; `secret`: the file given with [`ImageBuilder::secret`](super::ImageBuilder::secret),
//!   bound read-only at `target` or `/run/secrets/<id>` (a missing one is an error when
//!   `required`, else no mount); `ssh` is refused, as no agent is forwarded.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::BuildNetwork;
use crate::container::changes::{self, Stack};
use crate::container::{rootfs, ContainerStore};
use crate::image::layer::NewLayer;
use crate::image::Image;
use crate::store::{self, Lock};
use crate::volume::Mount;
use crate::{ContainerBuilder, Error, ExitStatus, Result, Stdio};

/// How many of a failing RUN's last output lines its error shows.
pub(crate) const TAIL_LINES: usize = 10;

/// A mount of a RUN, its source ready on the host.
#[derive(Debug)]
pub(crate) struct RunMount {
    /// The mount to give the container.
    pub(crate) mount: Mount,
    /// Absolute path in the container.
    pub(crate) target: PathBuf,
}

/// A directory or file made for one step, removed when dropped.
#[derive(Debug)]
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// A fresh empty directory under `<root>/build/tmp`.
    pub(crate) fn dir(root: &Path) -> Result<Scratch> {
        let parent = root.join("build").join("tmp");
        fs::create_dir_all(&parent).map_err(|e| Error::os("creating", &parent, e))?;
        let p = store::tmp_path(&parent);
        fs::create_dir(&p).map_err(|e| Error::os("creating", &p, e))?;
        Ok(Scratch(p))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = store::remove_any(&self.0);
    }
}

/// Everything one RUN needs, prepared by the solver.
pub(crate) struct RunStep<'a> {
    /// The image of the stage before the step (it is in the store).
    pub(crate) image: &'a Image,
    /// Its layer directories, top first.
    pub(crate) lower: Vec<PathBuf>,
    /// The command.
    pub(crate) argv: Vec<String>,
    /// Variables over the image's environment (the stage's ARGs, proxies).
    pub(crate) env: Vec<(String, String)>,
    /// The network.
    pub(crate) network: BuildNetwork,
    /// `--security=insecure`.
    pub(crate) privileged: bool,
    /// The mounts.
    pub(crate) mounts: Vec<RunMount>,
    /// Called with every line of output.
    pub(crate) on_line: &'a (dyn Fn(String) + Sync),
    /// Called with the container's id once it runs.
    pub(crate) on_spawn: &'a (dyn Fn(&str) + Sync),
    /// Whether to stop: asked every [`STOP_POLL`] while the command runs.
    pub(crate) stop: &'a (dyn Fn() -> bool + Sync),
}

/// How often a running step asks whether to stop.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// What a RUN did.
pub(crate) enum RunOutcome {
    /// It exited 0: its layer.
    Done(Box<NewLayer>),
    /// It failed: how, and its last lines.
    Failed(ExitStatus, Vec<String>),
    /// It was killed because the build was stopped.
    Stopped,
}

/// Runs the step and writes its layer.
///
/// # Errors
/// The container could not be made or started; the layer could not be written.
pub(crate) fn run(store: &ContainerStore, step: &RunStep<'_>) -> Result<RunOutcome> {
    let mut b = ContainerBuilder::new(store, step.image);
    b.entrypoint(Vec::<String>::new())
        .args(&step.argv)
        .envs(step.env.iter().map(|(k, v)| (k, v)))
        .hostname("buildkitsandbox")
        .network(match step.network {
            BuildNetwork::Default => crate::DEFAULT_NETWORK,
            BuildNetwork::None => "none",
            BuildNetwork::Host => "host",
        })
        .privileged(step.privileged)
        .label(crate::container::BUILD_STEP_LABEL, "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    b.skip_image_volumes();
    for m in &step.mounts {
        b.mount(m.mount.clone());
    }
    let mut child = b.spawn()?;
    (step.on_spawn)(child.id());
    let tail = Arc::new(Mutex::new(std::collections::VecDeque::new()));
    let mut stopped = false;
    let status = std::thread::scope(|s| {
        for r in [child.take_stdout(), child.take_stderr()]
            .into_iter()
            .flatten()
        {
            let tail = Arc::clone(&tail);
            s.spawn(move || forward_lines(r, step.on_line, &tail));
        }
        loop {
            if let Some(status) = child.wait_timeout(STOP_POLL)? {
                return Ok(status);
            }
            if !stopped && (step.stop)() {
                stopped = true;
                child.kill()?;
            }
        }
    });
    let dir = store.dir(child.id());
    let result = status.and_then(|status| {
        if stopped {
            return Ok(RunOutcome::Stopped);
        }
        if !status.success() {
            let lines = tail
                .lock()
                .map(|t| t.iter().cloned().collect())
                .unwrap_or_default();
            return Ok(RunOutcome::Failed(status, lines));
        }
        let upper = rootfs::upper(&dir);
        remove_stubs(&upper, &step.lower, &step.mounts);
        write_layer(store, &upper, step.lower.clone()).map(|l| RunOutcome::Done(Box::new(l)))
    });
    let removed = store.load(child.id()).and_then(|c| c.remove(true));
    let out = result?;
    removed?;
    Ok(out)
}

/// Sends each line of `r` to `on_line`, keeping the last [`TAIL_LINES`] in `tail`.
fn forward_lines(
    r: impl Read,
    on_line: &(dyn Fn(String) + Sync),
    tail: &Mutex<std::collections::VecDeque<String>>,
) {
    let mut r = BufReader::new(r);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match r.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf)
                    .trim_end_matches(['\n', '\r'])
                    .to_owned();
                if let Ok(mut t) = tail.lock() {
                    if t.len() == TAIL_LINES {
                        t.pop_front();
                    }
                    t.push_back(line.clone());
                }
                on_line(line);
            }
        }
    }
}

/// Writes the layer of what changed in `upper` over `lower` (top first).
fn write_layer(store: &ContainerStore, upper: &Path, lower: Vec<PathBuf>) -> Result<NewLayer> {
    let mut layer = store.images().layer_writer()?;
    crate::container::archive_changes(&mut layer, upper, lower)?;
    layer.finish(upper)
}

/// Removes from `upper` the mount points the step's mounts needed that the image did not
/// have and that are still empty, with the parents made for them.
fn remove_stubs(upper: &Path, lower: &[PathBuf], mounts: &[RunMount]) {
    let stack = Stack::new(lower.to_vec());
    for m in mounts {
        let rel = relative(&m.target);
        let mut cur = Some(rel.as_path());
        while let Some(p) = cur.filter(|p| !p.as_os_str().is_empty()) {
            if exists_in(&stack, p) {
                break;
            }
            let host = upper.join(p);
            let removed = match fs::symlink_metadata(&host) {
                Ok(meta) if meta.is_dir() => fs::remove_dir(&host).is_ok(),
                Ok(meta) if meta.is_file() && meta.len() == 0 => fs::remove_file(&host).is_ok(),
                _ => false,
            };
            if !removed {
                break;
            }
            cur = p.parent();
        }
    }
}

/// `target` without its leading `/`, cleaned.
pub(crate) fn relative(target: &Path) -> PathBuf {
    target
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect()
}

/// Whether `rel` is in the merged view of `stack`.
pub(crate) fn exists_in(stack: &Stack, rel: &Path) -> bool {
    lookup(stack, rel).is_some()
}

/// The host path and metadata of `rel` in the merged view (symlinks not followed).
pub(crate) fn lookup(stack: &Stack, rel: &Path) -> Option<changes::Merged> {
    let name = rel.file_name()?;
    let parent = rel.parent().unwrap_or(Path::new(""));
    stack.read_dir(parent).ok()?.remove(name)
}

/// Copies `rel` of the merged view (a file, a symlink or a directory tree; symlinks
/// copied as links, never followed) to `dest`, keeping modes and owners.
///
/// # Errors
/// [`Error::Os`] if it cannot be read or written.
pub(crate) fn copy_out(stack: &Stack, rel: &Path, dest: &Path) -> Result<()> {
    let err = |e| Error::os("copying out of a stage", rel, e);
    if rel.as_os_str().is_empty() {
        return copy_dir(stack, rel, dest).map_err(err);
    }
    match lookup(stack, rel) {
        Some(m) => copy_node(stack, rel, &m, dest).map_err(err),
        None => Err(err(std::io::Error::from(std::io::ErrorKind::NotFound))),
    }
}

fn copy_dir(stack: &Stack, rel: &Path, dest: &Path) -> std::io::Result<()> {
    match fs::create_dir(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for (name, child) in stack.read_dir(rel)? {
        copy_node(stack, &rel.join(&name), &child, &dest.join(&name))?;
    }
    Ok(())
}

fn copy_node(stack: &Stack, rel: &Path, m: &changes::Merged, dest: &Path) -> std::io::Result<()> {
    let ft = m.meta.file_type();
    if ft.is_dir() {
        copy_dir(stack, rel, dest)?;
    } else if ft.is_symlink() {
        symlink(fs::read_link(&m.host)?, dest)?;
    } else if ft.is_file() {
        fs::copy(&m.host, dest)?;
    } else {
        return Ok(());
    }
    if !ft.is_symlink() {
        fs::set_permissions(dest, fs::Permissions::from_mode(m.meta.mode() & 0o7777))?;
    }
    std::os::unix::fs::lchown(dest, Some(m.meta.uid()), Some(m.meta.gid()))
}

/// A cache mount's `sharing=locked`: the lock held for the step.
pub(crate) fn lock_cache(dir: &Path) -> Result<Lock> {
    store::lock_dir(dir).map_err(|e| Error::os("locking cache mount", dir, e))
}
