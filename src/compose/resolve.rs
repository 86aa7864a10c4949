//! From a merged model to a [`Project`]: profiles applied, `env_file`s read, variables of
//! `KEY`-only entries taken from the environment, relative paths made absolute (against
//! the project directory, `~` against `HOME`), resource names given
//! (`<project>_<key>`), the `default` network added where services use it; then the
//! checks Compose makes before it runs anything.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::model::{Build, Service, VolumeType};
use super::{cycle_reason, dotenv, start_order, File, Project};
use crate::error::{Error, Result};

/// What resolution needs besides the model.
pub(super) struct Context {
    pub(super) name: String,
    pub(super) working_dir: PathBuf,
    /// The file errors that no single file caused are reported against.
    pub(super) main_file: PathBuf,
    pub(super) profiles: Vec<String>,
    /// Services asked for by name: active whatever their profiles.
    pub(super) requested: Vec<String>,
}

impl Context {
    fn error(&self, path: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidCompose {
            file: self.main_file.clone(),
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// Resolves and validates a merged model.
pub(super) fn resolve(
    file: File,
    ctx: &Context,
    env: &BTreeMap<String, String>,
) -> Result<Project> {
    let mut project = Project {
        name: ctx.name.clone(),
        working_dir: ctx.working_dir.clone(),
        profiles: ctx.profiles.clone(),
        networks: file.networks,
        volumes: file.volumes,
        secrets: file.secrets,
        configs: file.configs,
        ..Project::default()
    };
    for (name, mut s) in file.services {
        resolve_service(&name, &mut s, ctx, env)?;
        let active = s.profiles.is_empty()
            || s.profiles
                .iter()
                .any(|p| ctx.profiles.iter().any(|e| e == p || e == "*"))
            || ctx.requested.contains(&name);
        if active {
            project.services.insert(name, s);
        } else {
            project.disabled_services.insert(name, s);
        }
    }
    for r in &ctx.requested {
        if !project.services.contains_key(r) {
            return Err(ctx.error("services", format!("no such service: {r}")));
        }
    }
    if project
        .services
        .values()
        .any(|s| s.networks.contains_key("default"))
    {
        project.networks.entry("default".into()).or_default();
    }
    resolve_resources(&mut project, ctx);
    validate(&mut project, ctx)?;
    Ok(project)
}

/// One service: env files, environment, build, paths, default network.
fn resolve_service(
    name: &str,
    s: &mut Service,
    ctx: &Context,
    env: &BTreeMap<String, String>,
) -> Result<()> {
    let at = |field: &str| format!("services.{name}.{field}");
    let lookup = |k: &str| env.get(k).cloned();
    for (i, f) in s.env_file.iter_mut().enumerate() {
        f.path = absolute(&ctx.working_dir, &f.path.to_string_lossy(), env);
        if !f.path.is_file() {
            if f.required {
                return Err(ctx.error(
                    at(&format!("env_file[{i}]")),
                    format!("env file {} not found", f.path.display()),
                ));
            }
            continue;
        }
        let text = std::fs::read_to_string(&f.path)
            .map_err(|e| Error::os("reading env file", &f.path, e))?;
        let vars =
            dotenv::parse(&text, &lookup).map_err(|(line, reason)| Error::InvalidCompose {
                file: f.path.clone(),
                path: format!("line {line}"),
                reason,
            })?;
        for (k, v) in vars {
            s.environment.entry(k).or_insert(Some(v));
        }
    }
    for (k, v) in s.environment.iter_mut() {
        if v.is_none() {
            *v = env.get(k).cloned();
        }
    }
    if let Some(b) = s.build.as_mut() {
        resolve_build(b, ctx, env);
    }
    for port in &mut s.ports {
        // The defaults `docker compose config` prints for the long syntax too.
        port.mode.get_or_insert_with(|| "ingress".into());
        port.protocol.get_or_insert_with(|| "tcp".into());
    }
    for v in &mut s.volumes {
        if v.kind == VolumeType::Bind {
            if let Some(src) = v.source.as_mut() {
                *src = absolute(&ctx.working_dir, src, env)
                    .to_string_lossy()
                    .into_owned();
            }
        }
    }
    for f in &mut s.env_file {
        f.path = absolute(&ctx.working_dir, &f.path.to_string_lossy(), env);
    }
    if s.networks.is_empty() && s.network_mode.is_none() {
        s.networks.insert("default".into(), Default::default());
    }
    // `network_mode: service:x` needs x started first: an implicit dependency, as
    // Compose's loader adds it (and `config` shows it)
    if let Some(dep) = s
        .network_mode
        .as_deref()
        .and_then(|m| m.strip_prefix("service:"))
    {
        s.depends_on.entry(dep.to_owned()).or_default();
    }
    Ok(())
}

fn resolve_build(b: &mut Build, ctx: &Context, env: &BTreeMap<String, String>) {
    let context = b.context.take().unwrap_or_else(|| ".".into());
    let remote = context.contains("://")
        || context.starts_with("git@")
        || context.starts_with("github.com/");
    b.context = Some(if remote {
        context
    } else {
        absolute(&ctx.working_dir, &context, env)
            .to_string_lossy()
            .into_owned()
    });
    for (k, v) in b.args.iter_mut() {
        if v.is_none() {
            *v = env.get(k).cloned();
        }
    }
}

/// Names of networks, volumes, secrets and configs; paths of secret and config files.
fn resolve_resources(p: &mut Project, ctx: &Context) {
    let scoped = |key: &str, external: bool| {
        if external {
            key.to_owned()
        } else {
            format!("{}_{key}", ctx.name)
        }
    };
    for (k, n) in p.networks.iter_mut() {
        n.name.get_or_insert_with(|| scoped(k, n.external));
    }
    for (k, v) in p.volumes.iter_mut() {
        v.name.get_or_insert_with(|| scoped(k, v.external));
    }
    let no_env = BTreeMap::new();
    for (k, o) in p.secrets.iter_mut().chain(p.configs.iter_mut()) {
        o.name.get_or_insert_with(|| scoped(k, o.external));
        if let Some(f) = o.file.as_mut() {
            *f = absolute(&ctx.working_dir, &f.to_string_lossy(), &no_env);
        }
    }
}

/// The checks on the active services and what they use.
fn validate(p: &mut Project, ctx: &Context) -> Result<()> {
    let active: Vec<String> = p.services.keys().cloned().collect();
    let mut warnings = Vec::new();
    for (name, s) in p.services.iter_mut() {
        if s.image.is_none() && s.build.is_none() {
            return Err(ctx.error(
                format!("services.{name}"),
                "has neither an image nor a build context specified",
            ));
        }
        let mut ignored = Vec::new();
        for (dep, d) in &s.depends_on {
            if active.contains(dep) {
                continue;
            }
            let at = format!("services.{name}.depends_on.{dep}");
            if !d.required {
                ignored.push(dep.clone());
            } else if let Some(disabled) = p.disabled_services.get(dep) {
                return Err(ctx.error(
                    at,
                    format!(
                        "service {dep:?} is disabled by its profiles [{}]",
                        disabled.profiles.join(", ")
                    ),
                ));
            } else {
                return Err(ctx.error(at, format!("depends on undefined service {dep:?}")));
            }
        }
        for dep in ignored {
            warnings.push(format!(
                "service {name:?} depends on {dep:?}, which is not active: ignored as not required"
            ));
            s.depends_on.remove(&dep);
        }
    }
    for (name, s) in &p.services {
        check_references(name, s, p, ctx)?;
    }
    start_order(&p.services).map_err(|cycle| ctx.error("services", cycle_reason(&cycle)))?;
    for (k, o) in &p.secrets {
        if o.content.is_some() {
            return Err(ctx.error(
                format!("secrets.{k}.content"),
                "content is only allowed for configs",
            ));
        }
    }
    for (kind, map) in [("secrets", &p.secrets), ("configs", &p.configs)] {
        for (k, o) in map {
            let sources = [
                o.file.is_some(),
                o.environment.is_some(),
                o.content.is_some(),
                o.external,
            ];
            if sources.iter().filter(|b| **b).count() != 1 {
                return Err(ctx.error(
                    format!("{kind}.{k}"),
                    "needs exactly one of file, environment, content or external",
                ));
            }
        }
    }
    p.warnings = warnings;
    Ok(())
}

/// Networks, named volumes, secrets and configs a service uses must be declared.
fn check_references(name: &str, s: &Service, p: &Project, ctx: &Context) -> Result<()> {
    for net in s.networks.keys() {
        if !p.networks.contains_key(net) {
            return Err(ctx.error(
                format!("services.{name}.networks.{net}"),
                format!("undefined network {net:?}"),
            ));
        }
    }
    for (i, v) in s.volumes.iter().enumerate() {
        if let (VolumeType::Volume, Some(src)) = (v.kind, &v.source) {
            if !p.volumes.contains_key(src) {
                return Err(ctx.error(
                    format!("services.{name}.volumes[{i}]"),
                    format!("undefined volume {src:?}"),
                ));
            }
        }
    }
    for (kind, refs, decl) in [
        ("secrets", &s.secrets, &p.secrets),
        ("configs", &s.configs, &p.configs),
    ] {
        for (i, r) in refs.iter().enumerate() {
            if !decl.contains_key(&r.source) {
                return Err(ctx.error(
                    format!("services.{name}.{kind}[{i}]"),
                    format!("undefined {} {:?}", &kind[..kind.len() - 1], r.source),
                ));
            }
        }
    }
    Ok(())
}

/// `path` made absolute against `base` (`~` and `~/…` against `HOME`), lexically
/// cleaned.
pub(super) fn absolute(base: &Path, path: &str, env: &BTreeMap<String, String>) -> PathBuf {
    let home = || {
        env.get("HOME")
            .cloned()
            .or_else(|| std::env::var("HOME").ok())
            .unwrap_or_else(|| "/".into())
    };
    let p = if path == "~" {
        PathBuf::from(home())
    } else if let Some(rest) = path.strip_prefix("~/") {
        Path::new(&home()).join(rest)
    } else {
        base.join(path)
    };
    clean(&p)
}

/// `.` and `..` removed without looking at the filesystem, as Go's `filepath.Clean`.
pub(crate) fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
