//! The solver's file steps: WORKDIR's directory and COPY/ADD (their input expanded, the
//! cache key of their sources, the layer written by [`copy::write_layer`], or by the
//! rootless store helper for a `--from` copy rootless: [`copy::helper`]).

use std::fs;
use std::path::{Path, PathBuf};

use super::super::cache::KeyHasher;
use super::super::config;
use super::super::copy::{self, CopyFrom, CopyInput, CopySource};
use super::super::dockerfile::{self, Instruction, Located, Scope, Source, Word};
use super::super::run::{self, Scratch};
use super::super::BuildEvent;
use super::{Solver, Work};
use crate::container::changes::Stack;
use crate::image::layer::NewLayer;
use crate::{Error, Result};

impl Solver<'_, '_> {
    /// WORKDIR's layer: `dir` and its missing parents, owned by the config's user.
    pub(super) fn mkdir(&self, work: &Work, dir: &str) -> Result<(NewLayer, Option<String>)> {
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
        // the layer's entries carry the owner (a rootless build could not chown)
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
                _ => layer
                    .tar()
                    .append_owned(&proto, &cur, &meta, (uid, gid))
                    .map_err(io)?,
            }
        }
        Ok((layer.finish(&proto)?, None))
    }

    /// COPY and ADD.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_instruction(
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
            workdir: work.workdir(),
            chown: opt(&files.chown)?,
            chmod: opt(&files.chmod)?,
            exclude: files.exclude.iter().map(expand).collect::<Result<_>>()?,
            parents,
            link: files.link,
            checksum: None,
        };
        let from_src = match from {
            None => None,
            Some(w) => Some(self.source_named(&w.expand(&self.global).map_err(err)?)?),
        };
        let from_layers = from_src
            .as_ref()
            .map(|f| self.source_layers(f))
            .transpose()?;
        let from_stack = from_layers.map(Stack::new);
        let copy_from = match &from_stack {
            None => CopyFrom::Context(&self.context),
            Some(s) => CopyFrom::Rootfs(s),
        };
        let created_by = config::Stage::copy_created_by(add, parents, files, scope).map_err(err)?;
        // rootless with subordinate ids, the stage's files of the image's other users are
        // the store helper's to read (see copy::helper)
        let in_helper = copy::helper::source(&copy_from);
        let digest = match in_helper {
            Some(src) => copy::helper::source_digest(&input, src, &self.hashes)?,
            None => copy::source_digest(&input, &copy_from, &self.hashes)?,
        };
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
            let stack = if input.link && input.chmod.is_none() {
                Stack::new(Vec::new())
            } else {
                Stack::new(s.lower(&mut work)?.1)
            };
            let mut layer = s.images().layer_writer()?;
            let mut progress = |bytes| s.emit(BuildEvent::Transferred { id, bytes });
            match in_helper {
                Some(src) => {
                    copy::helper::write_layer(&input, src, &stack, layer.tar(), &mut progress)?
                }
                None => copy::write_layer(&input, &copy_from, &stack, layer.tar(), &mut progress)?,
            };
            Ok((layer.finish(s.context.root())?, Some(created_by.clone())))
        })
    }
}
