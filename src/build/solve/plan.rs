//! Before anything runs: the Dockerfile read, every stage's base and the stages it
//! reads (FROM, `COPY --from`, `RUN --mount=from=`, words expanded in the global scope),
//! and the platform ARGs of a linux/amd64 build.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::super::dockerfile::{Dockerfile, Instruction, Scope, PLATFORM_ARGS};
use super::super::ImageBuilder;
use crate::{Error, Result};

/// A stage as planned before anything runs.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) base: Base,
    /// The stages it reads (its base, `COPY --from`, `RUN --mount=from=`).
    pub(super) deps: Vec<usize>,
    /// The name progress shows (`build`, `stage-1`; empty for a one-stage build).
    pub(super) label: String,
    /// Its steps: FROM plus each WORKDIR, RUN, COPY and ADD.
    pub(super) total: usize,
}

/// Where a stage starts.
#[derive(Debug, Clone)]
pub(super) enum Base {
    Scratch,
    Image(String),
    Stage(usize),
}

/// The Dockerfile's name for errors and its bytes.
pub(super) fn read_dockerfile(b: &ImageBuilder<'_>) -> Result<(PathBuf, Vec<u8>)> {
    let path = match &b.dockerfile {
        super::super::Dockerfile::Content(text) => {
            return Ok((PathBuf::from("Dockerfile"), text.clone().into_bytes()))
        }
        super::super::Dockerfile::Default => b.context.join("Dockerfile"),
        super::super::Dockerfile::Path(p) => p.clone(),
    };
    let bytes = fs::read(&path).map_err(|e| Error::InvalidBuild {
        subject: format!("Dockerfile {}", path.display()),
        reason: format!("cannot be read: {e}"),
    })?;
    Ok((path, bytes))
}

/// The platform ARGs of a linux/amd64 build.
pub(super) fn platform_args() -> BTreeMap<String, String> {
    let values = [
        "linux/amd64",
        "linux",
        "amd64",
        "",
        "linux/amd64",
        "linux",
        "amd64",
        "",
    ];
    PLATFORM_ARGS
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
        .collect()
}

/// `KEY=value` lines as a map.
pub(super) fn env_map(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// Plans every stage: its base and the stages it reads, with `--from` and FROM words
/// expanded in the global scope.
pub(super) fn plan_stages(df: &Dockerfile, global: &Scope, path: &Path) -> Result<Vec<Plan>> {
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
