//! The `/containers` routes: the lifecycle (create, start, stop, restart, kill, pause,
//! unpause, wait, inspect, list, rename, update, prune, delete); the routes that move a
//! container's bytes (logs, attach, top, stats, changes, export, archive) are
//! [`super::container_io`]'s, `POST /containers/{id}/exec` is [`super::exec`]'s.
//!
//! A container made here is made as `docker create` makes it and, once started, runs
//! detached through its monitor ([`Container::start`]), as `engine run -d` runs one. The
//! request body of a create is mapped field by field onto the [`ContainerBuilder`]
//! (see [`create`]); a field it cannot honour is refused with a 400 naming it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

mod create;

use super::http::{self, ApiError, Call, Reply};
use crate::container::monitor;
use crate::{
    Container, ContainerFilter, ContainerInspect, Engine, Error, Reference, Signal, Status,
};
use create::{refuse_set, restart_policy, unsupported, Resources, RestartPolicyBody};

/// Routes a call under `/containers`.
pub(super) async fn route(call: Call) -> Reply {
    let segs = call.segs.clone();
    let path: Vec<&str> = segs.iter().map(String::as_str).collect();
    let m = call.method().clone();
    match (m, path.as_slice()) {
        (
            _,
            ["containers", _, "logs" | "attach" | "resize" | "top" | "stats" | "changes" | "export" | "archive"],
        ) => super::container_io::route(call).await,
        (_, ["containers", _, "exec"]) => super::exec::route(call).await,
        (Method::POST, ["containers", "create"]) => create::create_route(call).await,
        (Method::GET, ["containers", "json"]) => {
            let (engine, q) = (call.engine.clone(), call.query.clone());
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || list(&engine, &q)).await,
            )
        }
        (Method::POST, ["containers", "prune"]) => {
            let (engine, q) = (call.engine.clone(), call.query.clone());
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || prune(&engine, &q)).await,
            )
        }
        (Method::GET, ["containers", id, "json"]) => {
            let (engine, id, size) = (call.engine.clone(), id.to_string(), call.query.flag("size"));
            http::reply_json(
                StatusCode::OK,
                http::blocking(move || inspect(&engine, &id, size)).await,
            )
        }
        (Method::POST, ["containers", id, "wait"]) => wait_route(call, id.to_string()).await,
        (Method::POST, ["containers", id, "update"]) => update_route(call, id.to_string()).await,
        (Method::POST, ["containers", id, verb]) => {
            let verb = verb.to_string();
            if !matches!(
                verb.as_str(),
                "start" | "stop" | "restart" | "kill" | "pause" | "unpause" | "rename"
            ) {
                return http::not_found();
            }
            let (engine, id, q) = (call.engine.clone(), id.to_string(), call.query.clone());
            match http::blocking(move || lifecycle(&engine, &id, &verb, &q)).await {
                Ok(status) => http::status(status),
                Err(e) => e.reply(),
            }
        }
        (Method::DELETE, ["containers", id]) => {
            let (engine, id, q) = (call.engine.clone(), id.to_string(), call.query.clone());
            match http::blocking(move || remove(&engine, &id, &q)).await {
                Ok(()) => http::no_content(),
                Err(e) => e.reply(),
            }
        }
        _ => http::not_found(),
    }
}

// ---------------------------------------------------------------------------------------
// Errors in Docker's words

/// The container `id`, or Docker's 404.
fn get(engine: &Engine, id: &str) -> Result<Container, ApiError> {
    engine.containers().get(id).map_err(|e| match e {
        Error::ContainerNotFound { .. } => ApiError::not_found(format!("No such container: {id}")),
        e => e.into(),
    })
}

/// A library error as Docker words it for the containers' routes.
fn docker_error(e: Error) -> ApiError {
    match e {
        Error::ContainerNameInUse { name, id } => ApiError::conflict(format!(
            "Conflict. The container name \"/{}\" is already in use by container \"{id}\". \
             You have to remove (or rename) that container to be able to reuse that name.",
            name.trim_start_matches('/')
        )),
        Error::Command {
            command, reason, ..
        } => ApiError::bad_request(format!(
            "failed to create task for container: exec: {command:?}: {reason}: unknown"
        )),
        e => e.into(),
    }
}

// ---------------------------------------------------------------------------------------
// Start, stop, restart, kill, pause, unpause, rename

/// A timeout of `t` seconds (Docker's `-1`: no timeout), else the container's own.
fn stop_timeout(c: &Container, q: &http::Query) -> Result<Duration, ApiError> {
    match q.int::<i64>("t")? {
        None => Ok(c.stop_timeout()),
        Some(t) if t < 0 => Ok(Duration::from_secs(10 * 365 * 86400)),
        Some(t) => Ok(Duration::from_secs(t as u64)),
    }
}

fn signal(q: &http::Query) -> Result<Option<Signal>, ApiError> {
    match q.get("signal").filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<Signal>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("Invalid signal: {s}"))),
    }
}

fn running(s: Status) -> bool {
    matches!(s, Status::Running | Status::Paused | Status::Restarting)
}

/// The verbs that answer with a status alone: 204, or 304 when there was nothing to do.
fn lifecycle(
    engine: &Engine,
    id: &str,
    verb: &str,
    q: &http::Query,
) -> Result<StatusCode, ApiError> {
    let mut c = get(engine, id)?;
    let status = c.status();
    match verb {
        "start" => {
            match status {
                Status::Paused => {
                    return Err(ApiError::conflict(
                        "cannot start a paused container, try unpause instead",
                    ))
                }
                s if running(s) => return Ok(StatusCode::NOT_MODIFIED),
                _ => {}
            }
            match c.start() {
                Err(Error::InvalidState { .. }) if running(c.status()) => {
                    return Ok(StatusCode::NOT_MODIFIED)
                }
                Err(e) => {
                    // as Docker: an AutoRemove container that cannot start is removed
                    // (the client waits for that before it reports the error)
                    if c.inspect().is_ok_and(|i| i.host_config.auto_remove) {
                        let _ = c.clone().remove(true);
                    }
                    return Err(docker_error(e));
                }
                Ok(()) => {}
            }
            reap_if_auto_remove(engine, c.id());
        }
        "stop" => {
            let sig = signal(q)?;
            let timeout = stop_timeout(&c, q)?;
            if !running(status) {
                return Ok(StatusCode::NOT_MODIFIED);
            }
            match sig {
                Some(s) => c.stop_with(s, timeout),
                None => c.stop(timeout),
            }
            .map_err(docker_error)?;
        }
        "restart" => {
            let sig = signal(q)?;
            let timeout = stop_timeout(&c, q)?;
            if running(c.status()) {
                match sig {
                    Some(s) => c.stop_with(s, timeout),
                    None => c.stop(timeout),
                }
                .map_err(docker_error)?;
            }
            // removed by its stop when it had AutoRemove: Docker's restart fails too
            let c = get(engine, id)?;
            c.start().map_err(docker_error)?;
            reap_if_auto_remove(engine, c.id());
        }
        "kill" => {
            let sig = signal(q)?.unwrap_or(Signal::KILL);
            if !running(status) {
                return Err(ApiError::conflict(format!(
                    "cannot kill container: {id}: container {} is not running",
                    c.id()
                )));
            }
            if sig == Signal::KILL {
                c.kill().map_err(docker_error)?;
                if status == Status::Paused {
                    let _ = c.resume();
                }
                // as Docker's SIGKILL: returns once it has exited (and frees it)
                let _ = c.wait();
            } else {
                c.signal(sig.as_raw()).map_err(docker_error)?;
            }
        }
        "pause" => match status {
            Status::Paused => {
                return Err(ApiError::conflict(format!(
                    "container {} is already paused",
                    c.id()
                )))
            }
            Status::Running => c.pause().map_err(docker_error)?,
            _ => {
                return Err(ApiError::conflict(format!(
                    "container {} is not running",
                    c.id()
                )))
            }
        },
        "unpause" => {
            if status != Status::Paused {
                return Err(ApiError::conflict(format!(
                    "Container {} is not paused",
                    c.id()
                )));
            }
            c.resume().map_err(docker_error)?;
        }
        "rename" => {
            let name = q.get("name").unwrap_or_default().trim_start_matches('/');
            if name.is_empty() {
                return Err(ApiError::bad_request(
                    "Neither old nor new names may be empty",
                ));
            }
            if name == c.name() {
                return Err(ApiError::bad_request(
                    "Renaming a container with the same name as its current name",
                ));
            }
            c.rename(name).map_err(docker_error)?;
        }
        _ => return Err(ApiError::not_found("page not found")),
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a started `AutoRemove` container once it has exited, as Docker's daemon does:
/// a thread waits for it (the wait frees it and, with `AutoRemove`, removes it) and ends
/// with it. Its exit code is kept a while in [`AUTO_REMOVED`] for the clients that wait
/// for its removal.
fn reap_if_auto_remove(engine: &Engine, id: &str) {
    let Ok(c) = engine.containers().get(id) else {
        return;
    };
    let auto_remove = c.inspect().is_ok_and(|i| i.host_config.auto_remove);
    if !auto_remove {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("cargohold-api-rm".into())
        .spawn(move || {
            let exit = crate::container::record::exit_path(c.path());
            let code = loop {
                if let Some(r) = monitor::wait_exit(&exit, Duration::from_secs(60)) {
                    break Some(r.exit_code());
                }
                if !monitor::monitor_alive(&exit) {
                    break None;
                }
            };
            if let Some(code) = code {
                let mut done = AUTO_REMOVED.lock().unwrap_or_else(|p| p.into_inner());
                done.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(300));
                done.insert(c.id().to_owned(), (i64::from(code), Instant::now()));
            }
            let _ = c.wait();
        });
}

/// The exit codes of the `AutoRemove` containers removed in the last minutes, by id.
static AUTO_REMOVED: Mutex<BTreeMap<String, (i64, Instant)>> = Mutex::new(BTreeMap::new());

/// The exit code of an `AutoRemove` container removed lately.
fn auto_removed_code(id: &str) -> Option<i64> {
    AUTO_REMOVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .map(|(code, _)| *code)
}

// ---------------------------------------------------------------------------------------
// Wait

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

/// `POST /containers/{id}/wait?condition=`: the headers at once (clients wait for them
/// before they start the container), `{"StatusCode", "Error"}` once the condition holds.
async fn wait_route(call: Call, id: String) -> Reply {
    let cond = match call.query.get("condition").unwrap_or_default() {
        "" | "not-running" => Condition::NotRunning,
        "next-exit" => Condition::NextExit,
        "removed" => Condition::Removed,
        other => return ApiError::bad_request(format!("invalid condition: {other:?}")).reply(),
    };
    let engine = call.engine.clone();
    let found = {
        let (engine, id) = (engine.clone(), id.clone());
        http::blocking(move || get(&engine, &id).map(|c| c.id().to_owned())).await
    };
    let full_id = match found {
        Ok(i) => i,
        Err(e) => return e.reply(),
    };
    let (reply, stream) = http::streamed("application/json");
    tokio::task::spawn_blocking(move || {
        if let Some((code, error)) = wait_for(&engine, &full_id, cond, &stream) {
            let error = error.map(|m| json!({ "Message": m }));
            stream.send_json(&json!({ "StatusCode": code, "Error": error }));
        }
    });
    reply
}

/// Blocks until `cond` holds for the container `id`: its exit code and the error that
/// kept it from being known; `None` once the client is gone.
fn wait_for(
    engine: &Engine,
    id: &str,
    cond: Condition,
    stream: &http::Stream,
) -> Option<(i64, Option<String>)> {
    let mut first_start: Option<String> = None;
    let mut last_code = 0i64;
    let mut pause = Duration::from_millis(1);
    loop {
        if stream.closed() {
            return None;
        }
        let gone = || Some((auto_removed_code(id).unwrap_or(last_code), None));
        let c = match engine.containers().get(id) {
            Ok(c) => c,
            Err(Error::ContainerNotFound { .. }) => return gone(),
            Err(e) => return Some((last_code, Some(e.to_string()))),
        };
        let info = match c.inspect() {
            Ok(i) => i,
            Err(Error::ContainerNotFound { .. }) => return gone(),
            Err(e) => return Some((last_code, Some(e.to_string()))),
        };
        let started = first_start.get_or_insert_with(|| info.state.started_at.clone());
        let restarted = *started != info.state.started_at;
        match info.state.status {
            s if running(s) => {
                // blocked on its monitor until it exits
                match exit_of(&c, stream) {
                    Exit::ClientGone => return None,
                    Exit::Code(code) => {
                        last_code = i64::from(code);
                        // frees it (and removes it when it has AutoRemove)
                        if let Ok(s) = c.wait() {
                            last_code = i64::from(s.docker_code());
                        }
                        if cond != Condition::Removed {
                            return Some((last_code, None));
                        }
                        pause = Duration::from_millis(1);
                        continue;
                    }
                    Exit::Unknown => {}
                }
            }
            Status::Created if cond == Condition::NotRunning => {
                return Some((i64::from(info.state.exit_code), None))
            }
            Status::Exited | Status::Dead => {
                last_code = i64::from(info.state.exit_code);
                if cond == Condition::NotRunning || (cond == Condition::NextExit && restarted) {
                    if let Ok(s) = c.wait() {
                        last_code = i64::from(s.docker_code());
                    }
                    return Some((last_code, None));
                }
            }
            _ => {}
        }
        std::thread::sleep(pause);
        // the client waits on this (`docker run --rm` for its removal): look often
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

enum Exit {
    /// It exited with this code.
    Code(i32),
    /// Its monitor is gone (or it has none): ask its state again.
    Unknown,
    ClientGone,
}

/// Waits for a running container's monitor to record its exit, looking every so often
/// whether the client is still there.
fn exit_of(c: &Container, stream: &http::Stream) -> Exit {
    if !c.is_detached() {
        return Exit::Unknown;
    }
    let exit = crate::container::record::exit_path(c.path());
    loop {
        if let Some(r) = monitor::wait_exit(&exit, Duration::from_millis(250)) {
            return Exit::Code(r.exit_code());
        }
        if !monitor::monitor_alive(&exit) {
            return Exit::Unknown;
        }
        if stream.closed() {
            return Exit::ClientGone;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Inspect, list

/// `GET /containers/{id}/json`: the library's inspect, with the fields Docker adds.
fn inspect(engine: &Engine, id: &str, size: bool) -> Result<Value, ApiError> {
    let c = get(engine, id)?;
    let info = c.inspect().map_err(docker_error)?;
    let mut v = serde_json::to_value(&info).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Value::Object(o) = &mut v {
        o.insert("Driver".into(), json!("overlay2"));
        o.insert("Platform".into(), json!("linux"));
        o.insert("MountLabel".into(), json!(""));
        o.insert("ProcessLabel".into(), json!(""));
        o.insert("AppArmorProfile".into(), json!(""));
        o.insert("ExecIDs".into(), Value::Null);
        o.insert(
            "LogPath".into(),
            json!(c.path().join(format!("{}-json.log", c.id()))),
        );
        if size {
            let (rw, rootfs) = sizes(engine, &info);
            o.insert("SizeRw".into(), json!(rw));
            o.insert("SizeRootFs".into(), json!(rootfs));
        }
        if let Some(Value::Object(hc)) = o.get_mut("HostConfig") {
            hc.entry("LogConfig")
                .or_insert(json!({ "Type": "json-file", "Config": {} }));
            hc.entry("Binds").or_insert(Value::Null);
        }
        if let Some(Value::Object(cfg)) = o.get_mut("Config") {
            for k in ["AttachStdin", "AttachStdout", "AttachStderr"] {
                cfg.entry(k).or_insert(json!(false));
            }
            cfg.entry("Domainname").or_insert(json!(""));
        }
    }
    Ok(v)
}

/// The bytes of its writable layer, and those plus its image's.
fn sizes(engine: &Engine, info: &ContainerInspect) -> (u64, u64) {
    let rw = info.size_rw();
    let image = engine
        .image(&info.image)
        .map(|i| engine.images().size(&i))
        .unwrap_or(0);
    (rw, rw + image)
}

/// Unix seconds of an RFC 3339 time (0 for none).
fn unix_secs(t: &str) -> i64 {
    crate::container::logs::parse_time(t)
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// The `Image` of a listed container, as Docker's: the name it was made with while that
/// still names its image (the canonical form a library caller records, in its short
/// form), else the image's id (re-tagged or removed since). `images` keeps the ids names
/// resolve to, for one listing.
fn listed_image(
    engine: &Engine,
    c: &Container,
    info: &ContainerInspect,
    images: &mut BTreeMap<String, Option<String>>,
) -> String {
    let name = c.image();
    let id = images
        .entry(name.to_owned())
        .or_insert_with(|| engine.image(name).ok().map(|i| i.id().to_string()));
    if id.as_deref() != Some(info.image.as_str()) {
        return info.image.clone();
    }
    match name.parse::<Reference>() {
        Ok(r) if r.to_string() == name => r.familiar(),
        _ => name.to_owned(),
    }
}

/// One container of `GET /containers/json`, in Docker's list shape.
fn list_entry(
    engine: &Engine,
    (c, info): (&Container, &ContainerInspect),
    size: bool,
    images: &mut BTreeMap<String, Option<String>>,
) -> Value {
    let command = std::iter::once(info.path.as_str())
        .chain(info.args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut ports = Vec::new();
    for (port, mappings) in &info.network_settings.ports {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        let private: u16 = num.parse().unwrap_or(0);
        match mappings.as_deref() {
            None | Some([]) => ports.push(json!({ "PrivatePort": private, "Type": proto })),
            Some(list) => {
                for m in list {
                    ports.push(json!({
                        "IP": m.host_ip,
                        "PrivatePort": private,
                        "PublicPort": m.host_port.parse::<u16>().unwrap_or(0),
                        "Type": proto,
                    }))
                }
            }
        }
    }
    let image = listed_image(engine, c, info, images);
    let mut v = json!({
        "Id": c.id(),
        "Names": [format!("/{}", c.name())],
        "Image": image,
        "ImageID": info.image,
        "Command": command,
        "Created": unix_secs(&info.created),
        "Ports": ports,
        "Labels": info.config.labels,
        "State": info.state.status.to_string(),
        "Status": info.state.status_text(),
        "HostConfig": { "NetworkMode": info.host_config.network_mode },
        "NetworkSettings": { "Networks": info.network_settings.networks },
        "Mounts": info.mounts,
    });
    if size {
        let (rw, rootfs) = sizes(engine, info);
        v["SizeRw"] = json!(rw);
        v["SizeRootFs"] = json!(rootfs);
    }
    v
}

/// The filters of a listing the library's [`ContainerFilter`] does not have.
#[derive(Debug, Default)]
struct MoreFilters {
    exited: Vec<i32>,
    networks: Vec<String>,
    volumes: Vec<String>,
    publish: Vec<String>,
    expose: Vec<String>,
    /// Created before (after) this container's creation time.
    before: Option<String>,
    since: Option<String>,
    is_task: Option<bool>,
}

impl MoreFilters {
    fn matches(&self, info: &ContainerInspect) -> bool {
        let any = |v: &[String], f: &dyn Fn(&str) -> bool| v.is_empty() || v.iter().any(|x| f(x));
        let port_match = |spec: &str, public: bool| {
            let (num, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
            info.network_settings.ports.iter().any(|(p, m)| {
                let (pn, pp) = p.split_once('/').unwrap_or((p, "tcp"));
                if pp != proto {
                    return false;
                }
                if public {
                    m.iter().flatten().any(|m| m.host_port == num)
                } else {
                    pn == num
                }
            })
        };
        (self.exited.is_empty()
            || (info.state.status == Status::Exited && self.exited.contains(&info.state.exit_code)))
            && any(&self.networks, &|n| {
                info.network_settings.networks.contains_key(n)
                    || info
                        .network_settings
                        .networks
                        .values()
                        .any(|e| e.network_id.starts_with(n))
                    || info.host_config.network_mode == n
            })
            && any(&self.volumes, &|v| {
                info.mounts
                    .iter()
                    .any(|m| m.name.as_deref() == Some(v) || m.source == v || m.destination == v)
            })
            && any(&self.publish, &|p| port_match(p, true))
            && any(&self.expose, &|p| port_match(p, false))
            && self.before.as_ref().is_none_or(|t| info.created < *t)
            && self.since.as_ref().is_none_or(|t| info.created > *t)
            && self.is_task != Some(true)
    }
}

/// The `filters` of a listing: the library's filter and ours.
fn parse_filters(
    engine: &Engine,
    q: &http::Query,
    mut all: bool,
) -> Result<(ContainerFilter, MoreFilters), ApiError> {
    let filters = q.filters()?;
    let mut f = ContainerFilter::new();
    let mut more = MoreFilters::default();
    let created_of = |v: &str| -> Result<String, ApiError> {
        let c = get(engine, v)?;
        Ok(c.inspect().map_err(docker_error)?.created)
    };
    for (key, values) in &filters {
        for v in values {
            match key.as_str() {
                "id" | "name" | "label" | "ancestor" | "health" => {
                    f = f.parse(&format!("{key}={v}"))?;
                }
                "status" => {
                    f = f.parse(&format!("status={v}")).map_err(|_| {
                        ApiError::bad_request(format!(
                            "invalid filter 'status={v}': invalid container state: {v:?}"
                        ))
                    })?;
                    all = true;
                }
                "exited" => {
                    more.exited.push(v.parse().map_err(|_| {
                        ApiError::bad_request(format!("invalid filter 'exited={v}'"))
                    })?);
                    all = true;
                }
                "network" => more.networks.push(v.clone()),
                "volume" => more.volumes.push(v.clone()),
                "publish" => more.publish.push(v.clone()),
                "expose" => more.expose.push(v.clone()),
                "before" => more.before = Some(created_of(v)?),
                "since" => more.since = Some(created_of(v)?),
                "is-task" => {
                    more.is_task = Some(matches!(v.as_str(), "1" | "true" | "True"));
                }
                "isolation" => {}
                _ => return Err(ApiError::bad_request(format!("invalid filter '{key}'"))),
            }
        }
    }
    Ok((f.all(all), more))
}

/// `GET /containers/json?all=&limit=&size=&filters=`: newest first.
fn list(engine: &Engine, q: &http::Query) -> Result<Value, ApiError> {
    let limit = q.int::<i64>("limit")?.filter(|l| *l > 0);
    let (filter, more) = parse_filters(engine, q, q.flag("all") || limit.is_some())?;
    let size = q.flag("size");
    let mut images = BTreeMap::new();
    let mut out: Vec<Value> = engine
        .containers()
        .inspect_filtered(&filter)
        .map_err(docker_error)?
        .into_iter()
        .rev()
        .filter(|(_, info)| more.matches(info))
        .map(|(c, info)| list_entry(engine, (&c, &info), size, &mut images))
        .collect();
    if let Some(l) = limit {
        out.truncate(l as usize);
    }
    Ok(Value::Array(out))
}

// ---------------------------------------------------------------------------------------
// Update, prune, remove

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    #[serde(flatten)]
    resources: Resources,
    restart_policy: Option<RestartPolicyBody>,
    kernel_memory: i64,
}

/// `POST /containers/{id}/update`: its limits and restart policy; `{"Warnings"}`.
async fn update_route(mut call: Call, id: String) -> Reply {
    let body = call.json::<Value>().await.and_then(|raw| {
        refuse_set(
            &raw,
            "",
            &[(&UPDATE_REFUSED, "", "it cannot be updated here")],
        )?;
        http::from_value::<UpdateBody>(&raw)
    });
    let body = match body {
        Ok(b) => b,
        Err(e) => return e.reply(),
    };
    let engine = call.engine.clone();
    http::reply_json(
        StatusCode::OK,
        http::blocking(move || update(&engine, &id, body)).await,
    )
}

/// The fields of an update that cannot change here.
const UPDATE_REFUSED: [&str; 6] = [
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "Devices",
    "Ulimits",
    "OomKillDisable",
];

fn update(engine: &Engine, id: &str, body: UpdateBody) -> Result<Value, ApiError> {
    let restart = match &body.restart_policy {
        Some(p) if !p.name.is_empty() => Some(restart_policy(p)?),
        _ => None,
    };
    let opts = body.resources.update_options(restart)?;
    let mut c = get(engine, id)?;
    let warnings = c.update(&opts).map_err(docker_error)?;
    Ok(json!({ "Warnings": warnings }))
}

/// `POST /containers/prune?filters=`: removes the containers that do not run (`until`,
/// `label`, `label!` filters); their ids and the bytes of their writable layers.
fn prune(engine: &Engine, q: &http::Query) -> Result<Value, ApiError> {
    let filters = q.filters()?;
    let mut until: Option<SystemTime> = None;
    let mut labels = Vec::new();
    let mut not_labels = Vec::new();
    for (key, values) in &filters {
        for v in values {
            match key.as_str() {
                "until" => until = Some(until_time(v)?),
                "label" => labels.push(v.clone()),
                "label!" => not_labels.push(v.clone()),
                _ => return Err(ApiError::bad_request(format!("invalid filter '{key}'"))),
            }
        }
    }
    let has = |c: &Container, spec: &str| match spec.split_once('=') {
        Some((k, v)) => c.labels().get(k).is_some_and(|have| have == v),
        None => c.labels().contains_key(spec),
    };
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for c in engine.containers().list().map_err(docker_error)? {
        let Ok(info) = c.inspect() else { continue };
        if running(info.state.status) || info.state.status == Status::Removing {
            continue;
        }
        if !labels.iter().all(|l| has(&c, l)) || not_labels.iter().any(|l| has(&c, l)) {
            continue;
        }
        if let Some(u) = until {
            let created = crate::container::logs::parse_time(&info.created);
            if created.is_none_or(|t| t >= u) {
                continue;
            }
        }
        let (rw, _) = sizes(engine, &info);
        let id = c.id().to_owned();
        match c.remove(false) {
            Ok(()) => {
                deleted.push(id);
                reclaimed += rw;
            }
            Err(Error::ContainerNotFound { .. } | Error::InvalidState { .. }) => {}
            Err(e) => return Err(docker_error(e)),
        }
    }
    Ok(json!({ "ContainersDeleted": deleted, "SpaceReclaimed": reclaimed }))
}

/// `until=`: unix seconds (with a fraction), an RFC 3339 time, or a Go duration before now.
fn until_time(v: &str) -> Result<SystemTime, ApiError> {
    let bad = || ApiError::bad_request(format!("invalid filter 'until={v}'"));
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
        return Err(bad());
    }
    if let Some(t) = crate::container::logs::parse_time(v) {
        return Ok(t);
    }
    let d = humantime::parse_duration(v).map_err(|_| bad())?;
    SystemTime::now().checked_sub(d).ok_or_else(bad)
}

/// `DELETE /containers/{id}?force=&v=&link=`.
fn remove(engine: &Engine, id: &str, q: &http::Query) -> Result<(), ApiError> {
    if q.flag("link") {
        return Err(unsupported("link", "there are no legacy links to remove"));
    }
    let c = get(engine, id)?;
    let name = c.name().to_owned();
    let anonymous: Vec<String> = if q.flag("v") {
        c.inspect()
            .map(|i| i.mounts.into_iter().filter_map(|m| m.name).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    match c.remove(q.flag("force")) {
        Ok(()) => {}
        Err(Error::InvalidState { status, .. }) => {
            let why = if status == "paused" {
                "container is paused and must be unpaused first".to_owned()
            } else {
                format!("container is {status}: stop the container before removing or force remove")
            };
            return Err(ApiError::conflict(format!(
                "cannot remove container \"/{name}\": {why}"
            )));
        }
        Err(Error::ContainerNotFound { .. }) => {
            return Err(ApiError::not_found(format!("No such container: {id}")))
        }
        Err(e) => return Err(docker_error(e)),
    }
    for v in anonymous {
        if engine.volume(&v).is_ok_and(|v| v.is_anonymous()) {
            match engine.volumes().remove(&v, false) {
                Ok(()) | Err(Error::VolumeInUse { .. } | Error::VolumeNotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}
