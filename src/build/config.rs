//! The metadata half of a build: what an instruction does to the image config and its
//! history, as BuildKit's Dockerfile frontend (`dockerfile2llb`) does it.
//!
//! [`Stage::apply`] takes one parsed instruction and changes the [`ImageState`] being
//! built: ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME, CMD, ENTRYPOINT, SHELL, STOPSIGNAL,
//! HEALTHCHECK, ONBUILD, MAINTAINER and ARG. RUN, COPY and ADD change the file system,
//! which the builder does; their history entries are made here too ([`Stage::run_args`],
//! [`Stage::run_created_by`], [`Stage::copy_created_by`], [`Stage::commit_layer`]) so
//! every `created_by` string lives in one place.
//!
//! What BuildKit does, and so what happens here (checked against
//! `frontend/dockerfile/dockerfile2llb/convert.go` and `convert_expose.go`, the
//! `instructions` package and `util/system/path.go` of moby/buildkit):
//! - Words are expanded with the scope as it was *before* the instruction: in
//!   `ENV abc=bye def=$abc`, `def` gets the old `abc` (Docker's reference says so too).
//!   CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are not expanded.
//! - Every instruction but ONBUILD adds a history entry (`comment` is
//!   `buildkit.dockerfile.v0`); ARG too (`ARG NAME=value`). RUN, COPY and ADD entries end
//!   in ` # buildkit` and own a layer; so does `WORKDIR` to anything but `/` (BuildKit
//!   makes the directory, as the config's user, in a layer of its own, and its entry has
//!   no ` # buildkit` suffix): [`Step::Mkdir`] tells the builder.
//! - Config-only `created_by` texts are Go's `fmt` of the values: `CMD ["/bin/sh" "-c"
//!   "echo hi"]` (`%q` of a list), `VOLUME [/a /b]`, `SHELL [/bin/bash -c]`, `EXPOSE
//!   [80/tcp 8000/tcp]`, `HEALTHCHECK {Test:[CMD-SHELL true] Interval:30s Timeout:0s
//!   StartPeriod:0s StartInterval:0s Retries:0}` (`%+v`, durations as Go prints them).
//! - MAINTAINER sets the image's `author` (not a label).
//! - ENTRYPOINT clears the CMD unless a CMD was set earlier in the same stage (an
//!   inherited one is dropped).
//! - A shell-form CMD or ENTRYPOINT is the stage's SHELL (default `/bin/sh -c`) plus the
//!   text; a shell-form HEALTHCHECK is `["CMD-SHELL", text]` (the engine runs it with
//!   the image's `Shell`).
//! - A relative WORKDIR is joined to the current one and cleaned; an absolute one is
//!   kept as written (`/app/` stays `/app/`).
//! - ONBUILD appends its expression to the config's `OnBuild`; a stage starting from an
//!   image (or an earlier stage) runs the base's triggers first and does not inherit
//!   them ([`Stage::new`], [`Stage::from_stage`], [`onbuild_triggers`]).
//!
//! Not kept: `ArgsEscaped` (BuildKit sets it with CMD; it only matters on Windows).
//! STOPSIGNAL accepts what the runtime can send (1 to 64 or a name), where Docker takes
//! any non-zero number.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use oci_spec::image::{Config, History, ImageConfiguration};
use serde::{Deserialize, Serialize};

use super::dockerfile::{
    self, ArgDecl, CommandLine, Files, Healthcheck, Instruction, KeyValue, Located, Run, Scope,
    Source, Vars, Word,
};
use crate::error::Error;

/// The `comment` of every history entry a Dockerfile instruction makes.
pub(crate) const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";

/// The shell of shell-form commands when the image sets none.
pub(crate) const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Docker's `HealthcheckConfig`: durations in nanoseconds, zero meaning the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct HealthConfig {
    /// `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", command]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) test: Vec<String>,
    /// Between checks.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) interval: u64,
    /// Before a check counts as hung.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) timeout: u64,
    /// Failures during it do not count.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) start_period: u64,
    /// Between checks during the start period.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) start_interval: u64,
    /// Consecutive failures that make the container unhealthy.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) retries: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The fields Docker adds to the OCI image config (`oci_spec`'s `Config` has none of
/// them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub(crate) struct DockerExt {
    /// `HEALTHCHECK`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) healthcheck: Option<HealthConfig>,
    /// `ONBUILD` triggers, as written after `ONBUILD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) on_build: Option<Vec<String>>,
    /// `SHELL`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shell: Option<Vec<String>>,
}

/// The parts of an image a build changes: config, Docker's extensions, author, history.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ImageState {
    /// The OCI config.
    pub(crate) config: Config,
    /// Healthcheck, OnBuild, Shell.
    pub(crate) docker: DockerExt,
    /// The image's `author` (MAINTAINER).
    pub(crate) author: Option<String>,
    /// The history, base image's entries first.
    pub(crate) history: Vec<History>,
}

impl ImageState {
    /// The state of an image from its config blob (Docker's extensions included).
    ///
    /// # Errors
    /// The blob is not an image config.
    pub(crate) fn from_blob(blob: &[u8]) -> serde_json::Result<ImageState> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(default)]
            config: Option<DockerExt>,
        }
        let image: ImageConfiguration = serde_json::from_slice(blob)?;
        let raw: Raw = serde_json::from_slice(blob)?;
        Ok(ImageState {
            config: image.config().clone().unwrap_or_default(),
            docker: raw.config.unwrap_or_default(),
            author: image.author().clone(),
            history: image.history().clone().unwrap_or_default(),
        })
    }

    /// The config blob of `image` with this state in it (config with Docker's
    /// extensions, author, history).
    pub(crate) fn to_blob(&self, mut image: ImageConfiguration) -> Vec<u8> {
        image.set_config(Some(self.config.clone()));
        image.set_author(self.author.clone());
        image.set_history(Some(self.history.clone()));
        let mut v = serde_json::to_value(&image).expect("an image config serializes");
        let ext = serde_json::to_value(&self.docker).expect("Docker's extensions serialize");
        if let (Some(cfg), serde_json::Value::Object(ext)) =
            (v.get_mut("config").and_then(|c| c.as_object_mut()), ext)
        {
            cfg.extend(ext);
        }
        serde_json::to_vec(&v).expect("a JSON value serializes")
    }

    fn commit(&mut self, created_by: String, empty_layer: bool, created: Option<&str>) {
        let mut h = History::default();
        h.set_created(created.map(str::to_owned));
        h.set_created_by(Some(created_by));
        h.set_comment(Some(HISTORY_COMMENT.to_owned()));
        h.set_empty_layer(empty_layer.then_some(true));
        self.history.push(h);
    }

    /// The shell of shell-form commands: SHELL's, else `/bin/sh -c`.
    pub(crate) fn shell(&self) -> Vec<String> {
        match &self.docker.shell {
            Some(s) if !s.is_empty() => s.clone(),
            _ => DEFAULT_SHELL.map(str::to_owned).to_vec(),
        }
    }
}

/// What the builder must do after [`Stage::apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing: the config and history are up to date.
    Done,
    /// WORKDIR: make this directory (with its parents, mode 0755, owned by the config's
    /// user) in a layer of its own; the history entry already counts that layer.
    Mkdir(String),
    /// RUN, COPY or ADD: the builder runs it and calls [`Stage::commit_layer`].
    Filesystem,
}

/// A stage being built: the image and what BuildKit tracks beside it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stage {
    /// The image being built.
    pub(crate) image: ImageState,
    /// A CMD was set in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
    /// The ARGs declared so far (a base stage's first), with their values: RUN's
    /// history lists them.
    build_args: Vec<(String, Option<String>)>,
}

impl Stage {
    /// A stage on a base image: returns it and the base's ONBUILD triggers, which the
    /// builder runs first (see [`onbuild_triggers`]); the new image does not inherit
    /// them.
    pub(crate) fn new(mut base: ImageState) -> (Stage, Vec<String>) {
        let triggers = base.docker.on_build.take().unwrap_or_default();
        let stage = Stage {
            image: base,
            ..Stage::default()
        };
        (stage, triggers)
    }

    /// A stage on an earlier stage (`FROM name`): as [`Stage::new`], and the base stage's
    /// ARGs stay listed in RUN's history, as BuildKit lists them.
    pub(crate) fn from_stage(base: &Stage) -> (Stage, Vec<String>) {
        let (mut stage, triggers) = Stage::new(base.image.clone());
        stage.build_args = base.build_args.clone();
        (stage, triggers)
    }

    /// Applies one instruction. `scope` is the stage's ARG/ENV scope: words are expanded
    /// with it, ARG declares into it and ENV sets in it. `created` is the history
    /// entry's time (RFC 3339), if the build fixes one. `path` names the Dockerfile in
    /// errors.
    ///
    /// # Errors
    /// [`Error::InvalidDockerfile`] naming the instruction's line: a word that does not
    /// expand, a bad port, signal or empty volume.
    pub(crate) fn apply(
        &mut self,
        ins: &Located<Instruction>,
        scope: &mut Scope,
        created: Option<&str>,
        path: &Path,
    ) -> crate::Result<Step> {
        let err = |e: String| ins.error(path, e);
        let expand = |w: &Word, scope: &Scope| w.expand(scope).map_err(err);
        let cfg = &mut self.image.config;
        let (created_by, step) = match &ins.value {
            Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) => {
                return Ok(Step::Filesystem)
            }
            Instruction::Env(pairs) => {
                let pairs = expand_pairs(pairs, scope).map_err(err)?;
                (set_env(cfg, pairs, scope), Step::Done)
            }
            Instruction::Label(pairs) => {
                let pairs = expand_pairs(pairs, scope).map_err(err)?;
                (set_labels(cfg, pairs), Step::Done)
            }
            Instruction::Maintainer(m) => {
                self.image.author = Some(m.clone());
                (format!("MAINTAINER {m}"), Step::Done)
            }
            Instruction::Expose(words) => {
                let mut ports = Vec::new();
                for w in words {
                    for p in w.expand_words(scope).map_err(err)? {
                        ports.extend(expose_port(&p).map_err(err)?);
                    }
                }
                let all = merged(cfg.exposed_ports(), &ports);
                cfg.set_exposed_ports(Some(all));
                (format!("EXPOSE [{}]", ports.join(" ")), Step::Done)
            }
            Instruction::User(u) => {
                let user = expand(&u.spec, scope)?;
                cfg.set_user(Some(user.clone()));
                (format!("USER {user}"), Step::Done)
            }
            Instruction::Workdir(w) => {
                let requested = expand(w, scope)?;
                let wd = normalize_workdir(cfg.working_dir().as_deref().unwrap_or(""), &requested);
                cfg.set_working_dir(Some(wd.clone()));
                let step = if wd == "/" {
                    Step::Done
                } else {
                    Step::Mkdir(wd.clone())
                };
                (format!("WORKDIR {wd}"), step)
            }
            Instruction::Volume(words) => {
                let mut new = Vec::new();
                for w in words {
                    let v = expand(w, scope)?;
                    if v.is_empty() {
                        return Err(err("VOLUME specified can not be an empty string".into()));
                    }
                    new.push(v);
                }
                let all = merged(cfg.volumes(), &new);
                cfg.set_volumes(Some(all));
                (format!("VOLUME [{}]", new.join(" ")), Step::Done)
            }
            Instruction::Cmd(c) => {
                let args = command_args(c, &self.image.shell());
                let msg = format!("CMD {}", go_quote_list(&args));
                self.image.config.set_cmd(Some(args));
                self.cmd_set = true;
                (msg, Step::Done)
            }
            Instruction::Entrypoint(c) => {
                let args = command_args(c, &self.image.shell());
                let msg = format!("ENTRYPOINT {}", go_quote_list(&args));
                self.image.config.set_entrypoint(Some(args));
                if !self.cmd_set {
                    self.image.config.set_cmd(None);
                }
                (msg, Step::Done)
            }
            Instruction::Shell(s) => {
                self.image.docker.shell = Some(s.clone());
                (format!("SHELL [{}]", s.join(" ")), Step::Done)
            }
            Instruction::StopSignal(w) => {
                let sig = expand(w, scope)?;
                if crate::runtime::parse_signal(&sig).is_none() {
                    return Err(err(format!("invalid signal: {sig}")));
                }
                cfg.set_stop_signal(Some(sig.clone()));
                (format!("STOPSIGNAL {sig}"), Step::Done)
            }
            Instruction::Healthcheck(h) => {
                let hc = health_config(h);
                let msg = format!("HEALTHCHECK {}", health_text(&hc));
                self.image.docker.healthcheck = Some(hc);
                (msg, Step::Done)
            }
            Instruction::OnBuild(o) => {
                // BuildKit records the trigger without a history entry.
                self.image
                    .docker
                    .on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.expression.clone());
                return Ok(Step::Done);
            }
            Instruction::Arg(decls) => {
                scope.declare(decls).map_err(err)?;
                (self.record_args(decls, scope), Step::Done)
            }
        };
        let empty = step == Step::Done;
        self.image.commit(created_by, empty, created);
        Ok(step)
    }

    /// ARG's declarations kept for RUN's history (`|N K=v …`); the history text.
    fn record_args(&mut self, decls: &[ArgDecl], scope: &Scope) -> String {
        let mut parts = Vec::new();
        for d in decls {
            let value = scope.args().get(&d.name).cloned();
            parts.push(match &value {
                Some(v) => format!("{}={v}", d.name),
                None => d.name.clone(),
            });
            self.build_args.push((d.name.clone(), value));
        }
        format!("ARG {}", parts.join(" "))
    }

    /// The argv a RUN runs, as BuildKit makes it: exec form as written; shell form is the
    /// stage's shell plus the command, where a command that is one heredoc alone is that
    /// heredoc's body (or, when the body starts with `#!`, `/dev/pipes/<name>`: the
    /// builder mounts the body there as an executable file), and a command with heredocs
    /// in it is followed by each body and delimiter.
    pub(crate) fn run_args(&self, run: &Run) -> Vec<String> {
        let text = match &run.command {
            CommandLine::Exec(argv) => return argv.clone(),
            CommandLine::Shell(text) => text,
        };
        let text = match run.heredocs.first() {
            None => text.clone(),
            Some(first) if is_heredoc_word(text) => {
                let body = first.chomped();
                if body.starts_with("#!") {
                    format!("/dev/pipes/{}", first.name)
                } else {
                    body
                }
            }
            Some(_) => {
                let mut s = text.clone();
                for h in &run.heredocs {
                    s.push('\n');
                    s.push_str(&h.content);
                    s.push_str(&h.name);
                }
                s
            }
        };
        let mut args = self.image.shell();
        args.push(text);
        args
    }

    /// RUN's history text: `RUN [|N K=v ...] argv # buildkit`, listing the stage's ARGs
    /// (each with its ENV value when one overrides it) as BuildKit does.
    pub(crate) fn run_created_by(&self, run: &Run, scope: &Scope) -> String {
        let mut keys: Vec<&str> = Vec::new();
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        for (k, v) in &self.build_args {
            let value = scope
                .var(k)
                .map(str::to_owned)
                .unwrap_or_else(|| v.clone().unwrap_or_default());
            if !values.contains_key(k.as_str()) {
                keys.push(k);
            }
            values.insert(k, value);
        }
        let mut parts = Vec::new();
        if !keys.is_empty() {
            parts.push(format!("|{}", keys.len()));
            parts.extend(keys.iter().map(|k| format!("{k}={}", values[k])));
        }
        parts.extend(self.run_args(run));
        format!("RUN {} # buildkit", parts.join(" "))
    }

    /// COPY's or ADD's history text: `COPY [--parents] [--chown=u] [--chmod=m] src...
    /// [<<heredoc...] dest # buildkit`, paths and flags expanded.
    ///
    /// # Errors
    /// A word that does not expand (the reason, for [`Located::error`]).
    pub(crate) fn copy_created_by(
        add: bool,
        parents: bool,
        files: &Files,
        scope: &Scope,
    ) -> Result<String, String> {
        let mut msg = String::from(if add { "ADD" } else { "COPY" });
        if parents {
            msg.push_str(" --parents");
        }
        for (flag, w) in [("chown", &files.chown), ("chmod", &files.chmod)] {
            if let Some(w) = w {
                let v = w.expand(scope)?;
                if !v.is_empty() {
                    let _ = write!(msg, " --{flag}={v}");
                }
            }
        }
        for s in &files.sources {
            if let Source::Path(w) = s {
                let _ = write!(msg, " {}", w.expand(scope)?);
            }
        }
        for s in &files.sources {
            if let Source::Heredoc(h) = s {
                let _ = write!(msg, " <<{}", h.name);
            }
        }
        let _ = write!(msg, " {} # buildkit", files.dest.expand(scope)?);
        Ok(msg)
    }

    /// Adds the history entry of a layer the builder made (RUN, COPY, ADD), with the text
    /// from [`Stage::run_created_by`] or [`Stage::copy_created_by`].
    pub(crate) fn commit_layer(&mut self, created_by: String, created: Option<&str>) {
        self.image.commit(created_by, false, created);
    }
}

/// Parses a base image's ONBUILD triggers into the instructions the builder runs right
/// after `from`, before the stage's own, as BuildKit does: each trigger must be one
/// instruction (FROM is not one); each gets the FROM's line.
///
/// # Errors
/// [`Error::InvalidDockerfile`] at the FROM's line: a trigger that does not parse, is
/// empty, holds more than one instruction or is a FROM.
pub(crate) fn onbuild_triggers(
    triggers: &[String],
    from: &Located<dockerfile::From>,
    path: &Path,
) -> crate::Result<Vec<Located<Instruction>>> {
    let mut out = Vec::new();
    for t in triggers {
        let err = |reason: String| from.error(path, format!("ONBUILD trigger {t:?}: {reason}"));
        let text = format!("FROM scratch\n{t}\n");
        let parsed = dockerfile::parse(path, text.as_bytes()).map_err(|e| match e {
            Error::InvalidDockerfile { reason, .. } => err(reason),
            e => e,
        })?;
        if parsed.stages.len() > 1 {
            return Err(err(
                "FROM is not an instruction a trigger can run".to_owned()
            ));
        }
        let mut ins = parsed.stages.into_iter().next().map(|s| s.instructions);
        match ins.as_mut().map(|v| (v.len(), v.pop())) {
            Some((1, Some(mut i))) => {
                i.line = from.line;
                i.end_line = from.end_line;
                out.push(i);
            }
            _ => {
                return Err(err(
                    "onbuild trigger should be a single expression".to_owned()
                ))
            }
        }
    }
    Ok(out)
}

/// The pairs of ENV or LABEL expanded, keys and values, all with the scope as it was
/// before the instruction.
/// ENV's pairs set in the config (replacing a variable of the same name) and in the scope;
/// the history text.
fn set_env(cfg: &mut Config, pairs: Vec<(String, String)>, scope: &mut Scope) -> String {
    let mut env = cfg.env().clone().unwrap_or_default();
    let mut msg = String::from("ENV");
    for (k, v) in pairs {
        let _ = write!(msg, " {k}={v}");
        let entry = format!("{k}={v}");
        match env
            .iter_mut()
            .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == k)
        {
            Some(e) => *e = entry,
            None => env.push(entry),
        }
        scope.set_env(k, v);
    }
    cfg.set_env(Some(env));
    msg
}

/// LABEL's pairs set in the config; the history text.
fn set_labels(cfg: &mut Config, pairs: Vec<(String, String)>) -> String {
    let mut labels = cfg.labels().clone().unwrap_or_default();
    let mut msg = String::from("LABEL");
    for (k, v) in pairs {
        let _ = write!(msg, " {k}={v}");
        labels.insert(k, v);
    }
    cfg.set_labels(Some(labels));
    msg
}

/// A config list (exposed ports, volumes) with `new` added: sorted, without repeats.
fn merged(old: &Option<Vec<String>>, new: &[String]) -> Vec<String> {
    let mut all = old.clone().unwrap_or_default();
    all.extend(new.iter().cloned());
    all.sort();
    all.dedup();
    all
}

fn expand_pairs(pairs: &[KeyValue], scope: &Scope) -> Result<Vec<(String, String)>, String> {
    pairs
        .iter()
        .map(|p| Ok((p.key.expand(scope)?, p.value.expand(scope)?)))
        .collect()
}

/// Whether a shell-form command is one heredoc word alone (`<<EOF`, `<<-'EOF'`).
fn is_heredoc_word(text: &str) -> bool {
    let t = text.trim();
    let t = t.trim_start_matches(|c: char| c.is_ascii_digit());
    t.starts_with("<<") && !t.contains(char::is_whitespace)
}

/// CMD's or ENTRYPOINT's argv: exec form as written, shell form in `shell`.
fn command_args(c: &CommandLine, shell: &[String]) -> Vec<String> {
    match c {
        CommandLine::Exec(argv) => argv.clone(),
        CommandLine::Shell(text) => {
            let mut args = shell.to_vec();
            args.push(text.clone());
            args
        }
    }
}

/// BuildKit's `NormalizeWorkdir` on Linux: a relative path joins the current one (`/`
/// when unset) and is cleaned; an absolute one is kept as written; an empty one keeps
/// the current one.
fn normalize_workdir(current: &str, requested: &str) -> String {
    let parent = if current.is_empty() {
        "/".to_owned()
    } else if current.starts_with('/') {
        current.to_owned()
    } else {
        clean(&format!("/{current}"))
    };
    if requested.is_empty() {
        parent
    } else if requested.starts_with('/') {
        requested.to_owned()
    } else {
        clean(&format!("{parent}/{requested}"))
    }
}

/// Go's `path.Clean` for an absolute path: no `.`, `..` resolved, no double or trailing
/// slashes.
fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    format!("/{}", out.join("/"))
}

/// One EXPOSE word as BuildKit's `parsePort` reads it (`[ip:][host:]port[-end][/proto]`):
/// the `port/proto` keys it exposes, protocol lower case.
fn expose_port(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("".to_owned(), "", *c),
        [h, c] => ("".to_owned(), *h, *c),
        [rest @ .., h, c] => (rest.join(":"), *h, *c),
        [] => unreachable!("split yields at least one part"),
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!("invalid port: {raw:?}: no port specified"));
    }
    let proto = match proto.to_ascii_lowercase().as_str() {
        "" => "tcp".to_owned(),
        p @ ("tcp" | "udp" | "sctp") => p.to_owned(),
        _ => return Err(format!("invalid port: {raw:?}: invalid proto: {proto}")),
    };
    let ip = ip
        .strip_prefix('[')
        .and_then(|i| i.strip_suffix(']'))
        .unwrap_or(&ip);
    if !ip.is_empty() && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("invalid IP address: {ip}"));
    }
    let (start, end) = port_range(port).map_err(|_| format!("invalid containerPort: {port}"))?;
    if !host.is_empty() {
        let (hs, he) = port_range(host).map_err(|_| format!("invalid hostPort: {host}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

/// `8000-8010` or `80`, each 0 to 65535, the end not before the start.
fn port_range(s: &str) -> Result<(u32, u32), ()> {
    let num = |p: &str| -> Result<u32, ()> {
        p.parse::<i64>()
            .ok()
            .filter(|n| (0..=65535).contains(n))
            .map(|n| n as u32)
            .ok_or(())
    };
    match s.split_once('-') {
        None => num(s).map(|p| (p, p)),
        Some((a, b)) if a == b => num(a).map(|p| (p, p)),
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(());
            }
            Ok((a, b))
        }
    }
}

/// Docker's healthcheck config of a HEALTHCHECK (unset durations are zero: the engine's
/// defaults apply when the container runs).
fn health_config(h: &Healthcheck) -> HealthConfig {
    let ns = |d: &Option<Duration>| d.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    match h {
        Healthcheck::None => HealthConfig {
            test: vec!["NONE".to_owned()],
            ..HealthConfig::default()
        },
        Healthcheck::Cmd {
            test,
            interval,
            timeout,
            start_period,
            start_interval,
            retries,
        } => HealthConfig {
            test: match test {
                CommandLine::Exec(argv) => std::iter::once("CMD".to_owned())
                    .chain(argv.iter().cloned())
                    .collect(),
                CommandLine::Shell(text) => vec!["CMD-SHELL".to_owned(), text.clone()],
            },
            interval: ns(interval),
            timeout: ns(timeout),
            start_period: ns(start_period),
            start_interval: ns(start_interval),
            retries: u64::from(retries.unwrap_or(0)),
        },
    }
}

/// Go's `%+v` of a `HealthcheckConfig`, as BuildKit's history shows it.
fn health_text(h: &HealthConfig) -> String {
    format!(
        "{{Test:[{}] Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
        h.test.join(" "),
        go_duration(h.interval),
        go_duration(h.timeout),
        go_duration(h.start_period),
        go_duration(h.start_interval),
        h.retries
    )
}

/// Go's `time.Duration.String` of `ns` nanoseconds (`1m30s`).
pub(crate) fn go_duration(ns: u64) -> String {
    crate::godur::format(std::time::Duration::from_nanos(ns))
}

/// Go's `%q` of a `[]string`: `["a" "b c"]`.
pub(crate) fn go_quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| go_quote(s)).collect();
    format!("[{}]", quoted.join(" "))
}

/// Go's `strconv.Quote`: `"` and `\` escaped, control characters as `\n`, `\t`, `\x1b`,
/// `\u0085`, and the invisible ones Go does not print (non-ASCII spaces, format
/// characters) as `\u....`.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if !go_printable(c) => {
                if (c as u32) < 0x10000 {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                } else {
                    let _ = write!(out, "\\U{:08x}", c as u32);
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint` for what appears in commands: not a control, not a space
/// other than ' ', not a format character Go hides.
fn go_printable(c: char) -> bool {
    !(c.is_control()
        || (c.is_whitespace() && c != ' ')
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{feff}'))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
