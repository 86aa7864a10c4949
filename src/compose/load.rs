//! Loading a project from files, as `docker compose` does: which files, which
//! environment, which name; each file read, its merge keys applied, its extension keys
//! dropped, interpolated and typed; the files merged; then resolution and validation
//! (`resolve.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::interpolate::{interpolate, interpolate_tree, key_string};
use super::resolve::{self, Context};
use super::{dotenv, merge, File, Project};
use crate::error::{Error, Result};

/// The files Compose looks for, in its order of preference.
const DEFAULT_FILES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];
/// The override files Compose adds to a default file, in its order of preference.
const OVERRIDE_FILES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// How to load a project: the options of `docker compose` that decide the model (`-f`,
/// `--project-directory`, `-p`, `--env-file`, `--profile`, the services named on the
/// command line) and the environment. Setters never fail; [`load`](ProjectOptions::load)
/// does the work.
///
/// ```no_run
/// use cargohold::compose::ProjectOptions;
///
/// # fn main() -> cargohold::Result<()> {
/// let project = ProjectOptions::new()
///     .project_directory("./app")
///     .profile("debug")
///     .load()?;
/// for name in project.start_order()? {
///     println!("{name}: {:?}", project.services[&name].image);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProjectOptions {
    files: Vec<PathBuf>,
    project_dir: Option<PathBuf>,
    name: Option<String>,
    env_files: Vec<PathBuf>,
    profiles: Vec<String>,
    services: Vec<String>,
    environment: Option<BTreeMap<String, String>>,
}

impl ProjectOptions {
    /// Options with Compose's defaults: the default files of the current directory (or
    /// its nearest parent that has one), its `.env`, the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    setters! {
        /// A compose file (`-f`); several are merged in order. Relative paths are taken
        /// from the current directory.
        fn file(&mut self, path: impl AsRef<Path>) {
            self.files.push(path.as_ref().to_owned())
        }
        /// The project directory (`--project-directory`): relative paths in the files
        /// are resolved against it, `.env` is read from it and, without files, the
        /// default files are looked for in it. By default, the first file's directory.
        fn project_directory(&mut self, dir: impl AsRef<Path>) {
            self.project_dir = Some(dir.as_ref().to_owned())
        }
        /// The project name (`-p`, `--project-name`); it must be lower case letters, digits, `-` and `_`,
        /// starting with a letter or digit.
        fn project_name(&mut self, name: impl Into<String>) {
            self.name = Some(name.into())
        }
        /// An environment file (`--env-file`) instead of the project directory's `.env`;
        /// several are read in order, later ones winning. Relative paths are taken from
        /// the project directory.
        fn env_file(&mut self, path: impl AsRef<Path>) {
            self.env_files.push(path.as_ref().to_owned())
        }
        /// Enables a profile (`--profile`; `*` enables all). Without any,
        /// `COMPOSE_PROFILES` of the environment (comma-separated) is used.
        fn profile(&mut self, name: impl Into<String>) {
            self.profiles.push(name.into())
        }
        /// A service asked for by name (`docker compose up web`): active even when its
        /// profiles are not enabled.
        fn service(&mut self, name: impl Into<String>) {
            self.services.push(name.into())
        }
        /// The environment to use instead of the process environment: variables of
        /// interpolation and `COMPOSE_*` settings; it wins over `.env` files.
        fn environment(&mut self, vars: impl IntoIterator<Item = (impl Into<String>, impl Into<String>)>) {
            self.environment = Some(vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
        }
    }

    /// Loads, merges, resolves and validates the project.
    ///
    /// # Errors
    /// [`Error::InvalidCompose`] for a file that is not valid YAML (with its line and
    /// column), an unknown key or a wrong value (with its path), a missing required
    /// variable, an invalid project name, or a project that does not hold together
    /// (a dependency that does not exist, a cycle, a service with neither `image` nor
    /// `build`); [`Error::Os`] for a file that cannot be read.
    pub fn load(&self) -> Result<Project> {
        let process_env = match &self.environment {
            Some(e) => e.clone(),
            None => std::env::vars().collect(),
        };
        let cwd = std::env::current_dir()
            .map_err(|e| Error::os("getting the current directory", ".", e))?;
        let files = self.config_files(&cwd, &process_env)?;
        let main = files[0].clone();
        let project_dir = match &self.project_dir {
            Some(d) => resolve::clean(&cwd.join(d)),
            None => main
                .parent()
                .map(Path::to_owned)
                .unwrap_or_else(|| cwd.clone()),
        };
        let mut env = self.dotenv(&project_dir, &process_env)?;
        env.extend(process_env);

        let mut trees = Vec::with_capacity(files.len());
        for f in &files {
            trees.push(read_tree(f)?);
        }
        let name = self.resolve_name(&files, &trees, &project_dir, &env)?;
        env.insert("COMPOSE_PROJECT_NAME".into(), name.clone());

        let mut missing = Vec::new();
        let mut merged: Option<File> = None;
        for (f, mut tree) in files.iter().zip(trees) {
            let lookup = |n: &str| env.get(n).cloned();
            interpolate_tree(&mut tree, &mut String::new(), &lookup, &mut missing)
                .map_err(|(path, reason)| invalid(f, path, reason))?;
            let typed = typed(f, tree)?;
            match merged.as_mut() {
                Some(m) => merge::merge_files(m, typed),
                None => merged = Some(typed),
            }
        }
        let mut profiles = self.profiles.clone();
        if profiles.is_empty() {
            if let Some(p) = env.get("COMPOSE_PROFILES") {
                profiles = p
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(Into::into)
                    .collect();
            }
        }
        let ctx = Context {
            name,
            working_dir: project_dir,
            main_file: main,
            profiles,
            requested: self.services.clone(),
        };
        let mut project = resolve::resolve(merged.unwrap_or_default(), &ctx, &env)?;
        let mut warnings: Vec<String> = missing
            .iter()
            .map(|v| format!("The {v:?} variable is not set. Defaulting to a blank string."))
            .collect();
        warnings.append(&mut project.warnings);
        project.warnings = warnings;
        project.files = files;
        project.environment = env;
        Ok(project)
    }

    /// The files to load: `-f`, else `COMPOSE_FILE`, else the default file (and its
    /// override) of the project directory, or of the current directory or a parent.
    fn config_files(&self, cwd: &Path, env: &BTreeMap<String, String>) -> Result<Vec<PathBuf>> {
        if !self.files.is_empty() {
            return Ok(self
                .files
                .iter()
                .map(|f| resolve::clean(&cwd.join(f)))
                .collect());
        }
        if let Some(list) = env.get("COMPOSE_FILE").filter(|s| !s.is_empty()) {
            let sep = env
                .get("COMPOSE_PATH_SEPARATOR")
                .map(String::as_str)
                .unwrap_or(":");
            return Ok(list
                .split(sep)
                .map(|f| resolve::clean(&cwd.join(f)))
                .collect());
        }
        let dirs: Vec<PathBuf> = match &self.project_dir {
            Some(d) => vec![resolve::clean(&cwd.join(d))],
            None => cwd.ancestors().map(Path::to_owned).collect(),
        };
        for dir in &dirs {
            let Some(main) = DEFAULT_FILES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file())
            else {
                continue;
            };
            let mut files = vec![main];
            if let Some(o) = OVERRIDE_FILES
                .iter()
                .map(|f| dir.join(f))
                .find(|p| p.is_file())
            {
                files.push(o);
            }
            return Ok(files);
        }
        Err(Error::InvalidCompose {
            file: dirs.first().cloned().unwrap_or_else(|| cwd.to_owned()),
            path: String::new(),
            reason: format!(
                "no configuration file provided: none of {} found",
                DEFAULT_FILES.join(", ")
            ),
        })
    }

    /// The variables of the env files (`--env-file`s, else the project's `.env`).
    fn dotenv(
        &self,
        project_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        let (files, explicit) = if self.env_files.is_empty() {
            (vec![project_dir.join(".env")], false)
        } else {
            (
                self.env_files
                    .iter()
                    .map(|f| resolve::clean(&project_dir.join(f)))
                    .collect(),
                true,
            )
        };
        let mut vars = BTreeMap::new();
        for f in files {
            if !explicit && !f.is_file() {
                continue;
            }
            let text =
                std::fs::read_to_string(&f).map_err(|e| Error::os("reading env file", &f, e))?;
            let seen = vars.clone();
            let lookup = |n: &str| env.get(n).or_else(|| seen.get(n)).cloned();
            let parsed = dotenv::parse(&text, &lookup)
                .map_err(|(line, reason)| invalid(&f, format!("line {line}"), reason))?;
            vars.extend(parsed);
        }
        Ok(vars)
    }

    /// `-p`, else `COMPOSE_PROJECT_NAME`, else the last `name:` of the files, else the
    /// project directory's base name made valid (the others must be valid as given).
    fn resolve_name(
        &self,
        files: &[PathBuf],
        trees: &[Value],
        project_dir: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<String> {
        let explicit = |name: &str, file: &Path, path: &str| -> Result<String> {
            if name.is_empty() {
                return Err(invalid(
                    file,
                    path.into(),
                    "project name must not be empty".into(),
                ));
            }
            if normalize_name(name) != name {
                return Err(invalid(
                    file,
                    path.into(),
                    format!(
                        "{name:?} is not a valid project name: it must contain only characters \
                         from [a-z0-9_-] and start with [a-z0-9]"
                    ),
                ));
            }
            Ok(name.to_owned())
        };
        if let Some(n) = &self.name {
            return explicit(n, &files[0], "");
        }
        if let Some(n) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
            return explicit(n, &files[0], "");
        }
        for (f, tree) in files.iter().zip(trees).rev() {
            if let Some(Value::String(n)) = tree.get("name") {
                let lookup = |v: &str| env.get(v).cloned();
                let n = interpolate(n, &lookup, &mut Vec::new())
                    .map_err(|e| invalid(f, "name".into(), e))?;
                return explicit(&n, f, "name");
            }
        }
        let base = project_dir
            .file_name()
            .map(|b| b.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = normalize_name(&base);
        if name.is_empty() {
            return Err(invalid(
                &files[0],
                String::new(),
                format!("cannot make a project name of directory {base:?}: use -p"),
            ));
        }
        Ok(name)
    }
}

/// Compose's `NormalizeProjectName`: lower case, only `[a-z0-9_-]`, no leading `_`/`-`.
pub(crate) fn normalize_name(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    lower.trim_start_matches(['_', '-']).to_owned()
}

fn invalid(file: &Path, path: String, reason: String) -> Error {
    Error::InvalidCompose {
        file: file.to_owned(),
        path,
        reason,
    }
}

/// A file as a YAML tree with its merge keys applied and its extension keys removed.
fn read_tree(file: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(file).map_err(|e| Error::os("reading compose file", file, e))?;
    let mut v = parse_tree(&text).map_err(|reason| invalid(file, String::new(), reason))?;
    if !matches!(v, Value::Mapping(_)) {
        return Err(invalid(
            file,
            String::new(),
            "the top level must be a mapping".into(),
        ));
    }
    strip_extensions(&mut v, false);
    Ok(v)
}

/// YAML text into a tree with merge keys applied.
pub(super) fn parse_tree(text: &str) -> std::result::Result<Value, String> {
    let mut v: Value = serde_yaml_ng::from_str(text).map_err(|e| e.to_string())?;
    if v.is_null() {
        v = Value::Mapping(Default::default());
    }
    apply_merge_keys(&mut v)?;
    Ok(v)
}

/// YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`): the merged mappings' keys that the
/// mapping does not have, the first listed winning; merged mappings are themselves
/// merged first.
fn apply_merge_keys(v: &mut Value) -> std::result::Result<(), String> {
    match v {
        Value::Mapping(m) => {
            if let Some(merge) = m.remove("<<") {
                let sources = match merge {
                    Value::Sequence(s) => s,
                    other => vec![other],
                };
                for mut src in sources {
                    apply_merge_keys(&mut src)?;
                    let Value::Mapping(src) = src else {
                        return Err("a merge key (<<) must refer to a mapping".into());
                    };
                    for (k, val) in src {
                        if !m.contains_key(&k) {
                            m.insert(k, val);
                        }
                    }
                }
            }
            for (_, val) in m.iter_mut() {
                apply_merge_keys(val)?;
            }
        }
        Value::Sequence(s) => {
            for item in s {
                apply_merge_keys(item)?;
            }
        }
        Value::Tagged(t) => apply_merge_keys(&mut t.value)?,
        _ => {}
    }
    Ok(())
}

/// Keys whose mappings hold user data (names, variables, labels), where an `x-` key is
/// data, not an extension.
const DATA_KEYS: [&str; 9] = [
    "environment",
    "labels",
    "args",
    "extra_hosts",
    "sysctls",
    "driver_opts",
    "options",
    "annotations",
    "ulimits",
];

/// Removes `x-` keys of every mapping except those that hold user data.
fn strip_extensions(v: &mut Value, data: bool) {
    match v {
        Value::Mapping(m) => {
            if !data {
                m.retain(|k, _| !matches!(k, Value::String(s) if s.starts_with("x-")));
            }
            for (k, val) in m.iter_mut() {
                let is_data = DATA_KEYS.contains(&key_string(k).as_str());
                strip_extensions(val, is_data);
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(|i| strip_extensions(i, false)),
        _ => {}
    }
}

/// The typed model of one file's tree; errors name the path of the value at fault.
fn typed(file: &Path, tree: Value) -> Result<File> {
    serde_path_to_error::deserialize(tree).map_err(|e| {
        let mut path = e.path().to_string();
        if path == "." {
            path.clear();
        }
        let inner = e.into_inner().to_string();
        let reason = match inner.strip_prefix("unknown field `") {
            Some(rest) => {
                let key = rest.split('`').next().unwrap_or_default();
                if !path.ends_with(key) {
                    path = if path.is_empty() {
                        key.to_owned()
                    } else {
                        format!("{path}.{key}")
                    };
                }
                "unknown key".to_owned()
            }
            None => inner,
        };
        invalid(file, path, reason)
    })
}
