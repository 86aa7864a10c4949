//! RUN steps of the solver: the command, its environment and network, the cache key of
//! all of it (mounts by identity: a bind of the context by the digest of its content, of
//! a stage by the stage's key, a cache by its id, a secret by its id only), and the
//! mounts made ready on the host for [`run::run`].

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::cache::KeyHasher;
use super::super::dockerfile::{
    self, CommandLine, Instruction, Located, MountType, NetworkMode, Run, Scope, Security, Sharing,
    Word,
};
use super::super::run::{self, RunMount, RunOutcome, RunStep, Scratch};
use super::super::{BuildEvent, BuildNetwork};
use super::{Built, Solver, Work};
use crate::container::changes::Stack;
use crate::image::Image;
use crate::volume::Mount;
use crate::{Error, Result};

impl Solver<'_, '_> {
    /// RUN: key, mounts, container, layer.
    pub(super) fn run_instruction(
        &self,
        work: &mut Work,
        scope: &Scope,
        ins: &Located<Instruction>,
        r: &Run,
        key: KeyHasher,
        name: String,
    ) -> Result<()> {
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
        let workdir = work.workdir();
        let mut mounts = Vec::new();
        for m in &r.mounts {
            let (k, resolved) = self.mount_key(m, scope, &workdir)?;
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
            let on_spawn = |c: &str| {
                s.emit(BuildEvent::Container {
                    id,
                    container: c.to_owned(),
                })
            };
            let stop = || s.stop_asked();
            let step = RunStep {
                image: &image,
                lower,
                argv: argv.clone(),
                env: env.clone(),
                network,
                privileged,
                mounts: run_mounts,
                on_line: &on_line,
                on_spawn: &on_spawn,
                stop: &stop,
            };
            match run::run(s.b.store, &step)? {
                RunOutcome::Done(layer) => Ok((*layer, Some(created_by.clone()))),
                RunOutcome::Stopped => Err(super::stopped()),
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
                    Some(f) => Some(self.source_named(&f)?),
                };
                let target = abs(&target, wd);
                let rw = !m.read_only;
                // keyed by what it mounts: the context's content, or the source's key
                let src_key = match &from {
                    None => self.context.digest(&[source.as_str()])?.to_string(),
                    Some(f) => f.key().to_owned(),
                };
                let key = format!("bind {} {source} {src_key} {rw}", target.display());
                let bind = ResolvedMount::Bind {
                    target,
                    source,
                    from,
                    rw,
                };
                return Ok((key, bind));
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
        // a cache, tmpfs or secret mount: keyed by its whole description
        Ok((format!("{resolved:?}"), resolved))
    }

    /// A `--from` word: an earlier stage's result or an image's.
    pub(super) fn source_named(&self, name: &str) -> Result<FromSource> {
        if let Some(i) = self.df.stage_index(name, self.df.stages.len()) {
            return Ok(FromSource::Stage(self.stage(i)?));
        }
        let img = self.image(&name.parse()?, false)?;
        Ok(FromSource::Image(Box::new(img)))
    }

    /// The layer dirs of a `--from` source, top first.
    pub(super) fn source_layers(&self, f: &FromSource) -> Result<Vec<PathBuf>> {
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
                        let stack = Stack::new(self.source_layers(f)?);
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
pub(super) enum FromSource {
    Stage(Arc<Built>),
    Image(Box<Image>),
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
