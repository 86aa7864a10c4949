//! The `/volumes` routes: list, create, inspect, delete, prune.

use std::collections::BTreeMap;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::http::{self, ApiError, Call, Reply};
use crate::{Engine, VolumeInspect};

/// Routes a call under `/volumes`.
pub(super) async fn route(mut call: Call) -> Reply {
    let engine = call.engine.clone();
    let m = call.method().clone();
    let path: Vec<String> = call.segs.clone();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let filters = match call.query.filters() {
        Ok(f) => f,
        Err(e) => return e.reply(),
    };
    match (m, path.as_slice()) {
        (Method::GET, ["volumes"]) => http::reply_json(
            StatusCode::OK,
            http::blocking(move || list(&engine, &filters)).await,
        ),
        (Method::POST, ["volumes", "create"]) => {
            http::json_route(&mut call, StatusCode::CREATED, move |req| {
                create(&engine, req)
            })
            .await
        }
        (Method::POST, ["volumes", "prune"]) => {
            let version = call.version;
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || prune(&engine, &filters, version)).await,
            )
        }
        (Method::GET, ["volumes", name]) => {
            let name = (*name).to_owned();
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || Ok(engine.volumes().inspect(&name)?)).await,
            )
        }
        (Method::DELETE, ["volumes", name]) => {
            let name = (*name).to_owned();
            let force = call.query.flag("force");
            match http::blocking(move || Ok(engine.volumes().remove(&name, force)?)).await {
                Ok(()) => http::no_content(),
                Err(e) => e.reply(),
            }
        }
        _ => http::not_found(),
    }
}

/// `GET /volumes`: `{"Volumes": [...], "Warnings": []}` with the filters `name`
/// (substring), `label` (`key` or `key=value`), `dangling` (no container uses it),
/// `driver` (`local`).
fn list(
    engine: &Engine,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<serde_json::Value, ApiError> {
    for key in filters.keys() {
        if !["name", "label", "dangling", "driver"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
        }
    }
    let labels: Vec<&str> = filters
        .get("label")
        .map(|l| l.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let store = engine.volumes();
    let mut out: Vec<VolumeInspect> = Vec::new();
    for v in store.list(&labels)? {
        let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
            filters.get(key).is_none_or(|vs| vs.iter().any(|x| ok(x)))
        };
        let dangling = || store.users(v.name()).map(|u| u.is_empty()).unwrap_or(false);
        let keep = any("name", &|x| v.name().contains(x))
            && any("driver", &|x| x == "local")
            && any("dangling", &|x| matches!(x, "true" | "1") == dangling());
        if keep {
            out.push(v.inspect());
        }
    }
    Ok(json!({ "Volumes": out, "Warnings": [] }))
}

/// `POST /volumes/create`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateRequest {
    name: String,
    driver: String,
    driver_opts: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

/// `POST /volumes/create`: the volume (an existing one as it is, as Docker does); an
/// anonymous one without a name.
fn create(engine: &Engine, req: CreateRequest) -> Result<VolumeInspect, ApiError> {
    if !matches!(req.driver.as_str(), "" | "local") {
        return Err(ApiError::bad_request(format!(
            "volume {}: plugin \"{}\" not found (driver: local)",
            req.name, req.driver
        )));
    }
    if let Some(k) = req.driver_opts.keys().next() {
        return Err(ApiError::bad_request(format!(
            "volume {}: driver option {k:?} is not supported",
            req.name
        )));
    }
    let store = engine.volumes();
    let v = if req.name.is_empty() {
        store.create_anonymous()?
    } else {
        store.create(&req.name, req.labels)?
    };
    Ok(v.inspect())
}

/// `POST /volumes/prune`: unused anonymous volumes (API 1.42 and later, as Docker), every
/// unused volume with the filter `all=true` or an older client.
fn prune(
    engine: &Engine,
    filters: &BTreeMap<String, Vec<String>>,
    version: u32,
) -> Result<serde_json::Value, ApiError> {
    let mut all = version < 42;
    for (k, vs) in filters {
        match k.as_str() {
            "all" => all = vs.iter().any(|v| matches!(v.as_str(), "true" | "1")),
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{other}' for volume prune"
                )))
            }
        }
    }
    let store = engine.volumes();
    let p = if all {
        store.prune()?
    } else {
        store.prune_anonymous()?
    };
    Ok(json!({ "VolumesDeleted": p.volumes, "SpaceReclaimed": p.reclaimed }))
}
