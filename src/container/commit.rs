//! `docker diff`, `docker commit` and `docker export` of a container, read from its overlay
//! directories (see [`super::changes`]): they work whether it runs or not, and mount
//! nothing.

use std::io::{self, Write};
use std::path::Path;

use oci_spec::image::{Config, History};

use super::changes::{self, Change, Entry, Stack};
use super::record::{Container, Record, Status};
use super::rootfs;
use crate::image::layer::{LayerWriter, TarWriter};
use crate::image::{Image, Reference};
use crate::{Error, Result};

/// How [`Container::commit`] makes an image (the options of `docker commit`).
#[derive(Debug, Clone)]
pub struct CommitOptions {
    /// The reference to tag the new image with (`repo`, `repo:tag`; `latest` when no tag
    /// is given); `None` leaves it untagged (a dangling image, found by its id).
    pub reference: Option<String>,
    /// The author, recorded in the image config and its history entry (`-a`).
    pub author: Option<String>,
    /// The history entry's comment (`-m`).
    pub message: Option<String>,
    /// Dockerfile instructions applied to the new image's config (`-c`/`--change`): `CMD`,
    /// `ENTRYPOINT` (JSON or shell form), `ENV`, `LABEL`, `WORKDIR`, `USER`, `EXPOSE`,
    /// `VOLUME`, `STOPSIGNAL`.
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is written (`-p`, on by default as in
    /// Docker), so the layer is a consistent snapshot.
    pub pause: bool,
}

impl Default for CommitOptions {
    /// Untagged, no author or message, no changes, pausing.
    fn default() -> Self {
        CommitOptions {
            reference: None,
            author: None,
            message: None,
            changes: Vec::new(),
            pause: true,
        }
    }
}

/// Resumes a container paused for a commit when dropped.
struct Paused<'a>(&'a Container);

impl Drop for Paused<'_> {
    fn drop(&mut self) {
        let _ = self.0.store().runtime().resume(self.0.id());
    }
}

impl Container {
    /// The record, afresh; [`Error::ContainerNotFound`] once removed.
    fn fresh_record(&self) -> Result<Record> {
        Record::load(self.path()).map_err(|e| match e {
            Error::Os { ref source, .. } if source.kind() == io::ErrorKind::NotFound => {
                Error::ContainerNotFound {
                    id: self.name().to_owned(),
                }
            }
            e => e,
        })
    }

    /// The image it was made from (even if its tag was removed since) and that image's
    /// layer directories, top first.
    fn image_layers(&self, rec: &Record) -> Result<(Image, Vec<std::path::PathBuf>)> {
        let images = self.store().images();
        let image = images.held_image(self.id())?;
        let mut lower = images.layer_dirs(&image, &rec.reference)?;
        lower.reverse();
        Ok((image, lower))
    }

    /// What changed in its root file system against its image, as `docker diff` lists it
    /// (sorted by path): files and directories added, changed or deleted. The parent of
    /// every change is reported as changed, as Docker does; the mount points made for the
    /// container where the image lacks them (`/proc`, `/sys`, `/dev`, `/etc/hosts`,
    /// `/etc/hostname`, `/etc/resolv.conf`) are not changes. Works for running and stopped
    /// containers.
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`] once removed; [`Error::Os`] naming its upper dir when
    /// it cannot be read.
    pub fn diff(&self) -> Result<Vec<Change>> {
        let rec = self.fresh_record()?;
        let (_, lower) = self.image_layers(&rec)?;
        let upper = rootfs::upper(self.path());
        changes::scan(&upper, &Stack::new(lower))
            .map(|s| s.changes)
            .map_err(|e| Error::os("reading the changes of the container in", &upper, e))
    }

    /// Makes an image of it, as `docker commit` does: its image's layers plus one layer of
    /// what it changed (whiteouts for deletions, opaque markers for directories it
    /// replaced, ownership, modes, mtimes, hard links and xattrs kept), gzip-compressed, in
    /// the engine's store.
    ///
    /// The new image's config is the container's, as Docker's is: its image's config with
    /// the container's command, entrypoint, environment (without the `HOSTNAME`, and the
    /// `HOME`/`TERM` the engine adds when the image sets none), working dir, user and
    /// labels; then `opts.changes` on top. Its history gains an entry: when, the command,
    /// `opts.message` and `opts.author`. A running container is paused while the layer is
    /// written unless `opts.pause` is false.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] for a bad `opts.reference`,
    /// [`Error::InvalidContainerConfig`] for a change that cannot be parsed (nothing is
    /// written then), [`Error::ContainerNotFound`], a runtime error when pausing, a store
    /// error while writing.
    pub fn commit(&self, opts: &CommitOptions) -> Result<Image> {
        let rec = self.fresh_record()?;
        let reference: Option<Reference> = opts.reference.as_deref().map(str::parse).transpose()?;
        let (parent, lower) = self.image_layers(&rec)?;
        let mut config = container_config(&parent, &rec);
        apply_changes(&mut config, &opts.changes).map_err(|reason| {
            Error::InvalidContainerConfig {
                container: self.name().to_owned(),
                field: "commit change",
                reason,
            }
        })?;

        let images = self.store().images();
        let upper = rootfs::upper(self.path());
        let paused = if opts.pause && self.status() == Status::Running {
            self.store().runtime().pause(self.id())?;
            Some(Paused(self))
        } else {
            None
        };
        let mut layer = images.layer_writer()?;
        archive_changes(&mut layer, &upper, lower)?;
        let layer = layer.finish(&upper)?;
        drop(paused);

        let mut history = History::default();
        history.set_created(Some(crate::store::now_rfc3339()));
        history.set_created_by(Some(rec.info.config.cmd.join(" ")));
        history.set_comment(opts.message.clone());
        history.set_author(opts.author.clone());
        let image = images.commit_layer(
            &parent,
            layer,
            config,
            history,
            opts.author.as_deref(),
            reference.as_ref(),
        )?;
        let attrs = [
            ("comment", opts.message.clone().unwrap_or_default()),
            ("imageID", image.id().to_string()),
            (
                "imageRef",
                reference
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
        ];
        super::events::container(self.store().root(), &rec, "commit", &attrs);
        Ok(image)
    }

    /// Writes its root file system (its image's layers with its changes over them) to `w`
    /// as a tar stream, as `docker export` does: no whiteouts, ownership, modes, mtimes,
    /// hard links and xattrs kept. Works for running and stopped containers; mounts nothing.
    ///
    /// # Errors
    /// [`Error::ContainerNotFound`]; [`Error::Os`] naming the container's directory when a
    /// file cannot be read or `w` fails.
    pub fn export(&self, mut w: impl Write) -> Result<()> {
        let rec = self.fresh_record()?;
        let (_, mut layers) = self.image_layers(&rec)?;
        layers.insert(0, rootfs::upper(self.path()));
        if crate::userns::IdMap::current().keeps_owners() {
            // rootless with a subordinate range: files of the image's other users are
            // the helper's to read (see crate::userns)
            let job = crate::userns::Job::Export { layers };
            return crate::userns::run(&job, None, Some(&mut w)).map(drop);
        }
        write_export(layers, &mut w).map_err(|e| {
            Error::os(
                "exporting the root file system of the container in",
                self.path(),
                e,
            )
        })
    }
}

/// The [`Job::Export`](crate::userns::Job::Export) of the rootless store's helper.
pub(crate) fn serve_export(layers: Vec<std::path::PathBuf>, out: &mut dyn Write) -> Result<()> {
    let top = layers.first().cloned().unwrap_or_default();
    write_export(layers, out)
        .map_err(|e| Error::os("exporting the root file system in the layers of", top, e))
}

/// The tar of the merged tree of `layers` (top first) on `w`.
fn write_export<W: Write>(layers: Vec<std::path::PathBuf>, w: W) -> io::Result<()> {
    let stack = Stack::new(layers);
    let mut tar = TarWriter::new(w);
    export_dir(&stack, Path::new(""), &mut tar)?;
    tar.into_inner().and_then(|mut w| w.flush())
}

/// Appends what changed in the overlay upper dir `upper` over the layer dirs `lower` (top
/// first) to `layer`, as `docker commit` writes it: whiteouts for deletions, opaque
/// markers for replaced directories.
///
/// # Errors
/// [`Error::Os`] naming `upper` if it cannot be read or the layer written.
pub(crate) fn archive_changes(
    layer: &mut LayerWriter,
    upper: &Path,
    lower: Vec<std::path::PathBuf>,
) -> Result<()> {
    let io_err = |e| Error::os("archiving the changes of the container in", upper, e);
    if crate::userns::IdMap::current().keeps_owners() {
        // rootless with subordinate ids: what other users of the image wrote may be
        // unreadable to this process; the helper, root of the namespace, reads it all
        let job = crate::userns::Job::Archive {
            upper: upper.to_owned(),
            lower,
        };
        let mut entries = layer.tar().raw_entries();
        crate::userns::run(&job, None, Some(&mut entries))?;
        return entries.finish().map_err(io_err);
    }
    write_changes(layer.tar(), upper, lower).map_err(io_err)
}

/// The [`Job::Archive`](crate::userns::Job::Archive) of the rootless store's helper: the
/// changes of `upper` over `lower` as a tar on `out` (whose end-of-archive blocks the
/// caller drops, see [`TarWriter::raw_entries`]).
pub(crate) fn serve_archive(
    upper: &Path,
    lower: Vec<std::path::PathBuf>,
    out: &mut dyn Write,
) -> Result<()> {
    let io_err = |e| Error::os("archiving the changes of the container in", upper, e);
    let mut tar = TarWriter::new(out);
    write_changes(&mut tar, upper, lower).map_err(io_err)?;
    tar.into_inner().map(drop).map_err(io_err)
}

fn write_changes<W: Write>(
    tar: &mut TarWriter<W>,
    upper: &Path,
    lower: Vec<std::path::PathBuf>,
) -> io::Result<()> {
    let scan = changes::scan(upper, &Stack::new(lower))?;
    for entry in &scan.entries {
        match entry {
            Entry::Node {
                rel,
                host,
                meta,
                opaque,
            } => {
                tar.append(host, rel, meta)?;
                if *opaque {
                    tar.append_opaque(rel, meta)?;
                }
            }
            Entry::Whiteout { rel, meta } => tar.append_whiteout(rel, meta)?,
        }
    }
    Ok(())
}

/// Appends directory `rel` of the merged tree, recursively, in name order.
fn export_dir<W: Write>(stack: &Stack, rel: &Path, tar: &mut TarWriter<W>) -> io::Result<()> {
    for (name, m) in stack.read_dir(rel)? {
        let rel = rel.join(name);
        tar.append(&m.host, &rel, &m.meta)?;
        if m.meta.is_dir() {
            export_dir(stack, &rel, tar)?;
        }
    }
    Ok(())
}

/// The config of a commit before changes: the image's, with what the container was made
/// with over it (Docker merges the container's config into the image's the same way).
fn container_config(parent: &Image, rec: &Record) -> Config {
    let mut cfg = parent.config().config().clone().unwrap_or_default();
    let c = &rec.info.config;
    let image_env = cfg.env().clone().unwrap_or_default();
    let image_has = |key: &str| {
        image_env
            .iter()
            .any(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
    };
    let env: Vec<String> = c
        .env
        .iter()
        .filter(|e| {
            let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            match key {
                "HOSTNAME" => false,
                "HOME" | "TERM" => image_has(key),
                _ => true,
            }
        })
        .cloned()
        .collect();
    if !env.is_empty() {
        cfg.set_env(Some(env));
    }
    cfg.set_cmd((!c.cmd.is_empty()).then(|| c.cmd.clone()));
    cfg.set_entrypoint((!c.entrypoint.is_empty()).then(|| c.entrypoint.clone()));
    if !c.working_dir.is_empty() && (cfg.working_dir().is_some() || c.working_dir != "/") {
        cfg.set_working_dir(Some(c.working_dir.clone()));
    }
    if !c.user.is_empty() {
        cfg.set_user(Some(c.user.clone()));
    }
    if !c.labels.is_empty() {
        let mut labels = cfg.labels().clone().unwrap_or_default();
        labels.extend(c.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        cfg.set_labels(Some(labels));
    }
    cfg
}

/// Applies `docker commit --change` instructions to `cfg`; the error says which one is
/// wrong and why.
pub(crate) fn apply_changes(
    cfg: &mut Config,
    changes: &[String],
) -> std::result::Result<(), String> {
    let mut cmd_set = false;
    for change in changes {
        let line = change.trim();
        let (word, rest) = line
            .split_once(|c: char| c.is_whitespace())
            .map_or((line, ""), |(w, r)| (w, r.trim()));
        let bad = |why: &str| format!("{line:?}: {why}");
        if rest.is_empty() && !word.is_empty() {
            return Err(bad(&format!(
                "{} requires at least one argument",
                word.to_uppercase()
            )));
        }
        match word.to_ascii_uppercase().as_str() {
            "CMD" => {
                cfg.set_cmd(Some(command_form(rest).map_err(|e| bad(&e))?));
                cmd_set = true;
            }
            "ENTRYPOINT" => {
                cfg.set_entrypoint(Some(command_form(rest).map_err(|e| bad(&e))?));
                if !cmd_set {
                    // as in a Dockerfile: a new entrypoint drops the inherited command
                    cfg.set_cmd(None);
                }
            }
            "ENV" => {
                let mut env = cfg.env().clone().unwrap_or_default();
                for (k, v) in pairs(rest, true).map_err(|e| bad(&e))? {
                    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != k);
                    env.push(format!("{k}={v}"));
                }
                cfg.set_env(Some(env));
            }
            "LABEL" => {
                let mut labels = cfg.labels().clone().unwrap_or_default();
                labels.extend(pairs(rest, false).map_err(|e| bad(&e))?);
                cfg.set_labels(Some(labels));
            }
            "WORKDIR" => {
                let dir = Path::new(cfg.working_dir().as_deref().unwrap_or("/")).join(rest);
                cfg.set_working_dir(Some(dir.to_string_lossy().into_owned()));
            }
            "USER" => {
                cfg.set_user(Some(rest.to_owned()));
            }
            "STOPSIGNAL" => {
                cfg.set_stop_signal(Some(rest.to_owned()));
            }
            "EXPOSE" => {
                let mut ports = cfg.exposed_ports().clone().unwrap_or_default();
                for p in rest.split_whitespace() {
                    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                    let ok = num.split('-').all(|n| n.parse::<u16>().is_ok())
                        && matches!(proto, "tcp" | "udp" | "sctp");
                    if !ok {
                        return Err(bad(&format!("invalid port {p:?}")));
                    }
                    let p = format!("{num}/{proto}");
                    if !ports.contains(&p) {
                        ports.push(p);
                    }
                }
                cfg.set_exposed_ports(Some(ports));
            }
            "VOLUME" => {
                let mut vols = cfg.volumes().clone().unwrap_or_default();
                let new = if rest.starts_with('[') {
                    json_list(rest).map_err(|e| bad(&e))?
                } else {
                    rest.split_whitespace().map(str::to_owned).collect()
                };
                for v in new {
                    if !vols.contains(&v) {
                        vols.push(v);
                    }
                }
                cfg.set_volumes(Some(vols));
            }
            "" => return Err("an empty change".to_owned()),
            w => return Err(format!("{w} is not a valid change command")),
        }
    }
    Ok(())
}

/// `["a", "b"]` (exec form) or `a b` (shell form, run by `/bin/sh -c`).
fn command_form(rest: &str) -> std::result::Result<Vec<String>, String> {
    if rest.starts_with('[') {
        json_list(rest)
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_owned()])
    }
}

fn json_list(s: &str) -> std::result::Result<Vec<String>, String> {
    serde_json::from_str(s).map_err(|e| format!("not a JSON list of strings: {e}"))
}

/// `k=v k2="v 2"`; with `legacy`, also `ENV`'s old `k v w` form (one pair).
fn pairs(rest: &str, legacy: bool) -> std::result::Result<Vec<(String, String)>, String> {
    let words = split_words(rest)?;
    let first = words.first().ok_or("no key")?;
    if !first.contains('=') {
        if !legacy {
            return Err("expected KEY=VALUE".to_owned());
        }
        let (k, v) = rest
            .split_once(|c: char| c.is_whitespace())
            .ok_or("expected KEY VALUE")?;
        return Ok(vec![(k.to_owned(), v.trim_start().to_owned())]);
    }
    let mut out = Vec::new();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("expected KEY=VALUE, got {w:?}"))?;
        if k.is_empty() {
            return Err(format!("empty key in {w:?}"));
        }
        out.push((k.to_owned(), v.to_owned()));
    }
    Ok(out)
}

/// Splits on blanks outside quotes, removing the quotes; `\` escapes the next character
/// (outside single quotes).
fn split_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => cur.push(c),
            (_, '\\') => {
                cur.push(chars.next().ok_or("a trailing backslash")?);
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("an unterminated quote".to_owned());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> std::result::Result<Config, String> {
        let mut cfg = Config::default();
        cfg.set_cmd(Some(vec!["/bin/sh".into()]));
        cfg.set_env(Some(vec!["PATH=/bin".into(), "A=1".into()]));
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut cfg, &changes).map(|()| cfg)
    }

    #[test]
    fn changes_parse_as_docker_commit_change() {
        let c = applied(&[
            r#"CMD ["echo", "hi there"]"#,
            "ENV A=2 B=\"two words\" C=c\\ d",
            "env LEGACY the rest of it",
            "LABEL version=1.0 \"quoted key\"=v",
            "WORKDIR /srv",
            "WORKDIR app",
            "USER 1000:1000",
            "EXPOSE 80 53/udp 8000-8010",
            "VOLUME /data /cache",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(c.cmd().as_ref().unwrap(), &["echo", "hi there"]);
        assert_eq!(
            c.env().as_ref().unwrap(),
            &[
                "PATH=/bin",
                "A=2",
                "B=two words",
                "C=c d",
                "LEGACY=the rest of it"
            ]
        );
        let labels = c.labels().as_ref().unwrap();
        assert_eq!(labels["version"], "1.0");
        assert_eq!(labels["quoted key"], "v");
        assert_eq!(c.working_dir().as_deref(), Some("/srv/app"));
        assert_eq!(c.user().as_deref(), Some("1000:1000"));
        assert_eq!(
            c.exposed_ports().as_ref().unwrap(),
            &["80/tcp", "53/udp", "8000-8010/tcp"]
        );
        assert_eq!(c.volumes().as_ref().unwrap(), &["/data", "/cache"]);
        assert_eq!(c.stop_signal().as_deref(), Some("SIGINT"));

        // shell form; a new entrypoint drops the inherited command
        let c = applied(&["ENTRYPOINT exec app --flag"]).unwrap();
        assert_eq!(
            c.entrypoint().as_ref().unwrap(),
            &["/bin/sh", "-c", "exec app --flag"]
        );
        assert!(c.cmd().is_none());
        let c = applied(&["CMD [\"x\"]", "ENTRYPOINT [\"e\"]"]).unwrap();
        assert_eq!(c.cmd().as_ref().unwrap(), &["x"]);

        for (bad, says) in [
            ("FROM busybox", "FROM is not a valid change command"),
            ("RUN rm -rf /", "RUN is not a valid change command"),
            ("CMD [\"unterminated\"", "not a JSON list"),
            ("EXPOSE http", "invalid port"),
            ("ENV", "requires at least one argument"),
            ("LABEL novalue", "expected KEY=VALUE"),
            ("ENV A=\"open", "unterminated quote"),
        ] {
            let e = applied(&[bad]).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
