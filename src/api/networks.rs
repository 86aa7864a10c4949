//! The `/networks` routes: list, inspect, create, connect, disconnect, delete, prune.

use std::collections::BTreeMap;

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::http::{self, ApiError, Call, Reply};
use crate::{Driver, Engine, NetworkInspect};

/// Routes a call under `/networks`.
pub(super) async fn route(mut call: Call) -> Reply {
    let engine = call.engine.clone();
    let m = call.method().clone();
    let path: Vec<String> = call.segs.clone();
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    // (a 400 for the routes that take them)
    let filters = call.query.filters();
    match (m, path.as_slice()) {
        (Method::GET, ["networks"]) => http::reply_json(
            StatusCode::OK,
            http::blocking(move || list(&engine, &filters?)).await,
        ),
        (Method::GET, ["networks", id]) => {
            let id = (*id).to_owned();
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || Ok(engine.networks().inspect(&id)?)).await,
            )
        }
        (Method::POST, ["networks", "create"]) => {
            http::json_route(&mut call, StatusCode::CREATED, move |req| {
                create(&engine, req)
            })
            .await
        }
        (Method::POST, ["networks", id, verb @ ("connect" | "disconnect")]) => {
            let (id, connecting) = ((*id).to_owned(), *verb == "connect");
            let req: ConnectRequest = match call.json().await {
                Ok(r) => r,
                Err(e) => return e.reply(),
            };
            let done = http::blocking(move || match connecting {
                true => connect(&engine, &id, req),
                false => disconnect(&engine, &id, &req),
            })
            .await;
            match done {
                Ok(()) => http::status(StatusCode::OK),
                Err(e) => e.reply(),
            }
        }
        (Method::DELETE, ["networks", id]) => {
            let id = (*id).to_owned();
            match http::blocking(move || Ok(engine.networks().remove(&id)?)).await {
                Ok(()) => http::no_content(),
                Err(e) => e.reply(),
            }
        }
        (Method::POST, ["networks", "prune"]) => http::reply_json(
            StatusCode::OK,
            http::blocking(move || prune(&engine, &filters?)).await,
        ),
        _ => http::not_found(),
    }
}

/// `GET /networks`: every network (the predefined ones too) with the `filters` Docker
/// has: `name` (substring), `id` (prefix), `driver`, `label` (`key` or `key=value`),
/// `type` (`custom`, `builtin`), `dangling`.
fn list(
    engine: &Engine,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<NetworkInspect>, ApiError> {
    for key in filters.keys() {
        if !["name", "id", "driver", "label", "type", "dangling", "scope"].contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!("invalid filter '{key}'")));
        }
    }
    let mut out = Vec::new();
    for n in engine.networks().list()? {
        let i = n.inspect();
        let any = |key: &str, ok: &dyn Fn(&str) -> bool| {
            filters.get(key).is_none_or(|vs| vs.iter().any(|v| ok(v)))
        };
        let keep = any("name", &|v| i.name.contains(v))
            && any("id", &|v| i.id.starts_with(v))
            && any("driver", &|v| i.driver == v)
            && any("scope", &|v| v == "local")
            && any("label", &|v| match v.split_once('=') {
                Some((k, val)) => i.labels.get(k).is_some_and(|x| x == val),
                None => i.labels.contains_key(v),
            })
            && any("type", &|v| match v {
                "builtin" => n.is_predefined(),
                "custom" => !n.is_predefined(),
                _ => false,
            })
            && any("dangling", &|v| {
                let dangling = !n.is_predefined() && i.containers.is_empty();
                matches!(v, "true" | "1") == dangling
            });
        if keep {
            out.push(i);
        }
    }
    Ok(out)
}

/// `POST /networks/create`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateRequest {
    name: String,
    driver: String,
    #[serde(rename = "IPAM")]
    ipam: Option<IpamRequest>,
    options: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    internal: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamRequest {
    driver: String,
    config: Vec<IpamConfigRequest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamConfigRequest {
    subnet: String,
    gateway: String,
    #[serde(rename = "IPRange")]
    ip_range: String,
}

/// `POST /networks/create`: `{"Id", "Warning"}`; 409 when the name is taken.
fn create(engine: &Engine, req: CreateRequest) -> Result<serde_json::Value, ApiError> {
    if req.name.is_empty() {
        return Err(ApiError::bad_request("network name is required"));
    }
    if req.internal || req.enable_ipv6 {
        let what = if req.internal {
            "Internal"
        } else {
            "EnableIPv6"
        };
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("network {}: {what} networks are not supported", req.name),
        ));
    }
    let driver: Driver = match req.driver.as_str() {
        "" | "bridge" => Driver::Bridge,
        "macvlan" => Driver::Macvlan,
        other => {
            return Err(ApiError::bad_request(format!(
                "network {}: plugin \"{other}\" not found (drivers: bridge, macvlan)",
                req.name
            )))
        }
    };
    let mut b = engine.network(&req.name);
    b.driver(driver);
    if let Some(ipam) = &req.ipam {
        if !matches!(ipam.driver.as_str(), "" | "default") {
            return Err(ApiError::bad_request(format!(
                "network {}: IPAM driver {:?} not found (only \"default\")",
                req.name, ipam.driver
            )));
        }
        if ipam.config.len() > 1 {
            return Err(ApiError::bad_request(format!(
                "network {}: one IPAM config (subnet) at most",
                req.name
            )));
        }
        if let Some(c) = ipam.config.first() {
            if !c.subnet.is_empty() {
                b.subnet(c.subnet.clone());
            }
            if !c.gateway.is_empty() {
                b.gateway(c.gateway.clone());
            }
            if !c.ip_range.is_empty() {
                b.ip_range(c.ip_range.clone());
            }
        }
    }
    for (k, v) in &req.options {
        b.option(k.clone(), v.clone());
    }
    for (k, v) in &req.labels {
        b.label(k.clone(), v.clone());
    }
    let n = b.create()?;
    Ok(json!({ "Id": n.id(), "Warning": "" }))
}

/// `POST /networks/{id}/connect`'s and `/disconnect`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectRequest {
    container: String,
    endpoint_config: Option<EndpointRequest>,
    #[allow(dead_code)]
    force: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointRequest {
    aliases: Option<Vec<String>>,
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<EndpointIpam>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EndpointIpam {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

/// `POST /networks/{id}/connect` of a running container: its alias and fixed address
/// (`IPAMConfig.IPv4Address`).
fn connect(engine: &Engine, network: &str, req: ConnectRequest) -> Result<(), ApiError> {
    let c = engine.containers().get(&req.container)?;
    let ep = req.endpoint_config.unwrap_or_default();
    let mut e = crate::network::EndpointConfig::new(engine.networks().get(network)?.name());
    e.aliases = ep.aliases.unwrap_or_default();
    if let Some(ip) = ep
        .ipam_config
        .map(|i| i.ipv4_address)
        .filter(|s| !s.is_empty())
    {
        e.ip = Some(ip.parse().map_err(|_| {
            ApiError::bad_request(format!("invalid IPv4 address {ip:?} for network {network}"))
        })?);
    }
    c.connect_endpoint(&e)?;
    Ok(())
}

fn disconnect(engine: &Engine, network: &str, req: &ConnectRequest) -> Result<(), ApiError> {
    let c = engine.containers().get(&req.container)?;
    c.disconnect(network)?;
    Ok(())
}

/// `POST /networks/prune`: networks without containers (the predefined ones stay), their
/// idle bridges taken down; filters `label` and `until` are not supported (400).
fn prune(
    engine: &Engine,
    filters: &BTreeMap<String, Vec<String>>,
) -> Result<serde_json::Value, ApiError> {
    if let Some(key) = filters.keys().next() {
        return Err(ApiError::bad_request(format!(
            "invalid filter '{key}' for network prune"
        )));
    }
    let gone = engine.networks().prune()?;
    engine.networks().release_idle()?;
    Ok(json!({ "NetworksDeleted": gone }))
}
