//! The labels Docker Compose v2 puts on what a project makes: `down`, `ps` and `ls` find
//! a project's containers, networks and volumes by them, from any process.

use std::collections::BTreeMap;

use super::convert::Instance;
use super::model::{Condition, Service};

/// `com.docker.compose.project`: the project's name (containers, networks, volumes).
pub const PROJECT: &str = "com.docker.compose.project";
/// `com.docker.compose.service`: the service of a container.
pub const SERVICE: &str = "com.docker.compose.service";
/// `com.docker.compose.container-number`: the replica's number, from 1.
pub const NUMBER: &str = "com.docker.compose.container-number";
/// `com.docker.compose.config-hash`: [`Service::config_hash`] of the model it was made from.
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
/// `com.docker.compose.oneoff`: `False` (`True` for `compose run`).
pub const ONEOFF: &str = "com.docker.compose.oneoff";
/// `com.docker.compose.project.working_dir`.
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
/// `com.docker.compose.project.config_files`: the files, comma-separated.
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
/// `com.docker.compose.depends_on`: `service:condition:restart` entries, comma-separated.
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
/// `com.docker.compose.image`: the id of the image the container was made from.
pub const IMAGE: &str = "com.docker.compose.image";
/// `com.docker.compose.network`: the network's key in the project.
pub const NETWORK: &str = "com.docker.compose.network";
/// `com.docker.compose.volume`: the volume's key in the project.
pub const VOLUME: &str = "com.docker.compose.volume";
/// `com.docker.compose.version`: the Compose version whose behaviour is followed.
pub const VERSION: &str = "com.docker.compose.version";

/// The Compose release whose labels and behaviour this follows.
pub(super) const COMPOSE_VERSION: &str = "2.29.0";

fn condition(c: Condition) -> &'static str {
    match c {
        Condition::ServiceStarted => "service_started",
        Condition::ServiceHealthy => "service_healthy",
        Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
    }
}

/// The labels of a service's container: the service's own, then Compose's.
pub(super) fn container(inst: &Instance<'_>, s: &Service) -> BTreeMap<String, String> {
    let p = inst.project;
    let mut l = s.labels.clone();
    let depends = s
        .depends_on
        .iter()
        .map(|(d, dep)| format!("{d}:{}:{}", condition(dep.condition), dep.restart))
        .collect::<Vec<_>>()
        .join(",");
    let files = p
        .files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(",");
    for (k, v) in [
        (PROJECT, p.name.clone()),
        (SERVICE, inst.service.to_owned()),
        (NUMBER, inst.number.to_string()),
        (CONFIG_HASH, s.config_hash()),
        (ONEOFF, "False".to_owned()),
        (WORKING_DIR, p.working_dir.display().to_string()),
        (CONFIG_FILES, files),
        (DEPENDS_ON, depends),
        (IMAGE, inst.image_id.clone()),
        (VERSION, COMPOSE_VERSION.to_owned()),
    ] {
        l.insert(k.to_owned(), v);
    }
    l
}
