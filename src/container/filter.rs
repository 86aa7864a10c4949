//! [`ContainerFilter`]: which containers a listing shows (`docker ps --filter`).

use super::health::HealthStatus;
use super::record::{Container, Status};
use crate::{Error, Result};

/// Which containers [`Containers::filter`](crate::Containers::filter) returns, as
/// `docker ps` with `-a` and `--filter`. Conditions of different kinds must all hold; of one
/// kind, any (Docker's rule: `--filter status=exited --filter status=created` is either).
///
/// ```
/// use cargohold::{ContainerFilter, Status};
/// let f = ContainerFilter::new().label("app=web").status(Status::Running);
/// # let _ = f;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFilter {
    all: bool,
    names: Vec<String>,
    ids: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    statuses: Vec<Status>,
    ancestors: Vec<String>,
    /// `health=`: a status, or `None` for `none` (no healthcheck).
    health: Vec<Option<HealthStatus>>,
}

impl ContainerFilter {
    /// Running (and paused) containers only, as `docker ps` without `-a`.
    pub fn new() -> Self {
        ContainerFilter::default()
    }

    /// Every container, running or not (`-a`). A [`status`](Self::status) condition
    /// implies it.
    pub fn all(mut self, yes: bool) -> Self {
        self.all = yes;
        self
    }

    /// Containers whose name contains `part` (`name=`; Docker matches a pattern anywhere
    /// in the name).
    pub fn name(mut self, part: impl Into<String>) -> Self {
        self.names
            .push(part.into().trim_start_matches('/').to_owned());
        self
    }

    /// Containers whose id starts with `prefix` (`id=`).
    pub fn id(mut self, prefix: impl Into<String>) -> Self {
        self.ids.push(prefix.into());
        self
    }

    /// Containers with the label `key`, or `key=value` with that value (`label=`).
    pub fn label(mut self, spec: impl AsRef<str>) -> Self {
        let spec = spec.as_ref();
        self.labels.push(match spec.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (spec.to_owned(), None),
        });
        self
    }

    /// Containers in this state (`status=`).
    pub fn status(mut self, status: Status) -> Self {
        self.statuses.push(status);
        self
    }

    /// Containers made from this image reference or id (`ancestor=`).
    pub fn ancestor(mut self, image: impl Into<String>) -> Self {
        self.ancestors.push(image.into());
        self
    }

    /// Containers whose health is `status` (`health=starting|healthy|unhealthy`), or, with
    /// `None`, that have no health (`health=none`: no healthcheck, or never started
    /// detached with one).
    pub fn health(mut self, status: Option<HealthStatus>) -> Self {
        self.health.push(status);
        self
    }

    /// Adds one `docker ps --filter` argument: `name=`, `id=`, `label=`, `status=`
    /// (`created`, `running`, `paused`, `restarting`, `removing`, `exited`, `dead`),
    /// `ancestor=` or `health=` (`starting`, `healthy`, `unhealthy`, `none`).
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] naming the argument when the key or status is unknown.
    pub fn parse(self, arg: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidFilter {
            filter: arg.to_owned(),
            reason: reason.to_owned(),
        };
        let (key, value) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected key=value"))?;
        Ok(match key {
            "name" => self.name(value),
            "id" => self.id(value),
            "label" => self.label(value),
            "ancestor" => self.ancestor(value),
            "status" => {
                let status: Status = serde_json::from_value(value.into()).map_err(|_| {
                    bad(
                        "status is one of created, running, paused, restarting, removing, \
                         exited, dead",
                    )
                })?;
                self.status(status)
            }
            "health" if value == "none" => self.health(None),
            "health" => {
                let status: HealthStatus = value
                    .parse()
                    .map_err(|_| bad("health is one of starting, healthy, unhealthy, none"))?;
                self.health(Some(status))
            }
            _ => {
                return Err(bad(
                    "the key is one of name, id, label, status, ancestor, health",
                ))
            }
        })
    }

    /// Whether a container in state `status` passes (the rest is checked on `c`).
    pub(crate) fn matches(&self, c: &Container, status: Status) -> bool {
        let running = matches!(
            status,
            Status::Running | Status::Paused | Status::Restarting
        );
        if self.statuses.is_empty() && !self.all && !running {
            return false;
        }
        let any = |v: &[String], f: &dyn Fn(&str) -> bool| v.is_empty() || v.iter().any(|x| f(x));
        (self.statuses.is_empty() || self.statuses.contains(&status))
            && any(&self.names, &|n| c.name().contains(n))
            && any(&self.ids, &|p| c.id().starts_with(p))
            && any(&self.ancestors, &|a| {
                c.image() == a
                    || matches!(
                        (c.image().parse::<crate::Reference>(), a.parse::<crate::Reference>()),
                        (Ok(have), Ok(want)) if have == want
                    )
                    || c.image_id() == a
                    || c.image_id().trim_start_matches("sha256:").starts_with(a)
            })
            && self
                .labels
                .iter()
                .all(|(k, v)| match (c.labels().get(k), v) {
                    (Some(_), None) => true,
                    (Some(have), Some(want)) => have == want,
                    (None, _) => false,
                })
            && (self.health.is_empty()
                || self
                    .health
                    .contains(&c.health().ok().flatten().map(|h| h.status)))
    }
}
