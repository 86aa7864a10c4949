//! The image routes: `/images/…` (pull, list, inspect, history, tag, push, remove, prune,
//! load, save, import), `/build` (the classic builder's protocol), `/commit`, `/auth`,
//! and the refusal of BuildKit's `/session`.
//!
//! Pulls, pushes, imports and builds stream Docker's JSON progress lines
//! (`{"status":…,"id":…}`, `{"stream":…}`, `{"aux":…}`). Their reply is held back until
//! the first line is ready, so a failure before any output (a repository that does not
//! exist, an image missing locally) is an HTTP error with Docker's status and message, as
//! Docker's is; a failure after it is a last `{"errorDetail":…,"error":…}` line of a 200
//! reply, as Docker's is.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufRead, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::http::{self, ApiError, Call, Reply, Stream};
use crate::{
    BuildEvent, BuildNetwork, CommitOptions, Engine, Error, Image, Progress, PullOptions,
    PushOptions, Reference, Registry,
};

/// Routes a call under `/images`, `/build`, `/commit`, `/session` or `/distribution`.
pub(super) async fn route(call: Call) -> Reply {
    routed(call).await.unwrap_or_else(ApiError::reply)
}

async fn routed(call: Call) -> Result<Reply, ApiError> {
    let ok = |v: Value| http::json(StatusCode::OK, &v);
    let m = call.method().clone();
    let path: Vec<String> = call.segs.clone();
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match (m, p.as_slice()) {
        (Method::POST, ["images", "create"]) => create(call).await,
        (Method::GET, ["images", "json"]) => list(&call).await.map(ok),
        (Method::POST, ["images", "load"]) => load(call).await,
        (Method::GET, ["images", "get"]) => {
            let names = call
                .query
                .all("names")
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            save(&call, names).await
        }
        (Method::POST, ["images", "prune"]) => prune(&call).await.map(ok),
        (Method::GET, ["images", "search"]) => search(&call).await.map(ok),
        (Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => {
            inspect(&call, name.join("/")).await.map(ok)
        }
        (Method::GET, ["images", name @ .., "history"]) if !name.is_empty() => {
            history(&call, name.join("/")).await.map(ok)
        }
        (Method::GET, ["images", name @ .., "get"]) if !name.is_empty() => {
            save(&call, vec![name.join("/")]).await
        }
        (Method::POST, ["images", name @ .., "tag"]) if !name.is_empty() => {
            tag(&call, name.join("/")).await?;
            Ok(http::status(StatusCode::CREATED))
        }
        (Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => {
            push(call, name.join("/")).await
        }
        (Method::DELETE, ["images", name @ ..]) if !name.is_empty() => {
            remove(&call, name.join("/")).await.map(ok)
        }
        (Method::POST, ["build"]) => build(call).await,
        (Method::POST, ["build", "prune"]) => build_prune(&call).await.map(ok),
        (Method::POST, ["commit"]) => {
            let v = commit(&call).await?;
            Ok(http::json(StatusCode::CREATED, &v))
        }
        (Method::POST, ["session"]) => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "BuildKit sessions are not supported: use the classic builder \
             (DOCKER_BUILDKIT=0)",
        )),
        (Method::GET, ["distribution", name @ .., "json"]) if !name.is_empty() => {
            distribution(&call, name.join("/")).await.map(ok)
        }
        _ => Ok(http::not_found()),
    }
}

// ---------------------------------------------------------------------------------------
// Streamed replies held back until their first line.

/// What a [`Gate`] is at: not yet replying (the reply's sender), replying (its stream),
/// or done.
enum GateState {
    Waiting(tokio::sync::oneshot::Sender<Reply>),
    Open(Stream),
    Done,
}

/// The stream of a progress reply that starts with its first line: until then a failure
/// can still be an HTTP error.
struct Gate {
    content_type: &'static str,
    state: Mutex<GateState>,
}

impl Gate {
    /// The stream, opening the reply first if it is not open yet; `None` once done.
    fn stream(&self) -> Option<Stream> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::replace(&mut *st, GateState::Done) {
            GateState::Waiting(tx) => {
                let (reply, stream) = http::streamed(self.content_type);
                let _ = tx.send(reply);
                *st = GateState::Open(stream.clone());
                Some(stream)
            }
            GateState::Open(s) => {
                *st = GateState::Open(s.clone());
                Some(s)
            }
            GateState::Done => None,
        }
    }

    /// Sends one JSON line; false once the client is gone.
    fn send(&self, value: &Value) -> bool {
        self.stream().is_some_and(|s| s.send_json(value))
    }

    /// Whether the client went away (before the reply started: its request was dropped).
    fn closed(&self) -> bool {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*st {
            GateState::Waiting(tx) => tx.is_closed(),
            GateState::Open(s) => s.closed(),
            GateState::Done => false,
        }
    }

    /// Ends the reply: an error before any line is the HTTP error; after one, Docker's
    /// `errorDetail` line.
    fn finish(&self, result: Result<(), ApiError>) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match (std::mem::replace(&mut *st, GateState::Done), result) {
            (GateState::Waiting(tx), Err(e)) => {
                let _ = tx.send(e.reply());
            }
            (GateState::Waiting(tx), Ok(())) => {
                let (reply, _stream) = http::streamed(self.content_type);
                let _ = tx.send(reply);
            }
            (GateState::Open(s), Err(e)) => {
                s.send_json(&error_line(&e.message, None));
            }
            (GateState::Open(_) | GateState::Done, Ok(())) | (GateState::Done, Err(_)) => {}
        }
    }
}

/// Docker's last line of a failed stream.
fn error_line(message: &str, code: Option<i64>) -> Value {
    let mut detail = json!({ "message": message });
    if let Some(c) = code {
        detail["code"] = json!(c);
    }
    json!({ "errorDetail": detail, "error": message })
}

/// Runs `work` on the blocking pool with a [`Gate`] of `content_type`; the reply is its
/// stream once it sends a line, else its error or an empty 200.
async fn gated<F>(content_type: &'static str, work: F) -> Reply
where
    F: FnOnce(&Arc<Gate>) -> Result<(), ApiError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let gate = Arc::new(Gate {
        content_type,
        state: Mutex::new(GateState::Waiting(tx)),
    });
    tokio::task::spawn_blocking(move || {
        let r = work(&gate);
        gate.finish(r);
    });
    rx.await
        .unwrap_or_else(|_| ApiError::internal("the request failed").reply())
}

/// A [`Write`] into a streamed reply (an archive); fails with `BrokenPipe` once the
/// client is gone.
struct StreamWriter(Stream);

impl Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.send(Bytes::copy_from_slice(buf)) {
            Ok(buf.len())
        } else {
            Err(io::ErrorKind::BrokenPipe.into())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Names, credentials, shapes.

/// The 12 hex digits Docker shows of an id.
fn short(id: &impl ToString) -> String {
    let id = id.to_string();
    let hex = id.split_once(':').map_or(id.as_str(), |(_, h)| h);
    hex.chars().take(12).collect()
}

/// `busybox` of `busybox:latest`, `127.0.0.1:5000/a` of `127.0.0.1:5000/a:1@sha256:…`.
fn familiar_name(r: &Reference) -> String {
    let f = r.familiar();
    let f = f.split('@').next().unwrap_or(&f).to_owned();
    match r.tag() {
        Some(t) => f.strip_suffix(&format!(":{t}")).unwrap_or(&f).to_owned(),
        None => f,
    }
}

fn parse_ref(s: &str) -> Result<Reference, ApiError> {
    s.parse::<Reference>()
        .map_err(|_| ApiError::bad_request(format!("invalid reference format: {s:?}")))
}

/// The credentials of `X-Registry-Auth` (base64url JSON: `username`, `password`, or
/// `auth` as `user:password` in base64); none when absent or empty.
fn registry_auth(call: &Call) -> Result<Option<(String, String)>, ApiError> {
    let Some(raw) = call.header("x-registry-auth").map(str::trim) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bytes = b64
        .decode(raw.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(raw))
        .map_err(|_| ApiError::bad_request("invalid X-Registry-Auth header: not base64"))?;
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Auth {
        username: String,
        password: String,
        auth: String,
    }
    let a: Auth = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid X-Registry-Auth header: {e}")))?;
    if !a.username.is_empty() {
        return Ok(Some((a.username, a.password)));
    }
    if !a.auth.is_empty() {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(a.auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ApiError::bad_request("invalid X-Registry-Auth header: bad auth"))?;
        if let Some((u, p)) = decoded.split_once(':') {
            return Ok(Some((u.to_owned(), p.to_owned())));
        }
    }
    Ok(None)
}

/// Seconds since the epoch of an RFC 3339 time; 0 when absent or malformed.
fn unix_time(t: Option<&str>) -> i64 {
    t.and_then(|t| humantime::parse_rfc3339_weak(t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

/// The image `name` names (a reference or an id prefix).
fn find(engine: &Engine, name: &str) -> Result<Image, ApiError> {
    engine.images().get(name).map_err(|e| match e {
        Error::ImageNotFound { .. } | Error::InvalidReference { .. } => {
            ApiError::not_found(format!("No such image: {name}"))
        }
        e => e.into(),
    })
}

/// The reference the store names the image `name` by: `name` itself if it is one of the
/// image's references, else any of them; `doing` ("tagging") words the refusal of an
/// untagged image.
fn find_reference(engine: &Engine, name: &str, doing: &str) -> Result<Reference, ApiError> {
    let img = find(engine, name)?;
    match name.parse::<Reference>() {
        Ok(r) if img.references().contains(&r) => Ok(r),
        _ => img.references().first().cloned().ok_or_else(|| {
            ApiError::bad_request(format!(
                "{doing} the untagged image {name} is not supported"
            ))
        }),
    }
}

/// `RepoDigests` of `img`: `name@digest` of each repository it was pulled from or pushed
/// to.
fn digests_of(img: &Image) -> Vec<String> {
    img.repo_digests().iter().map(Reference::familiar).collect()
}

/// `RepoTags` of `img`: its references by tag (not those by digest alone, as Docker).
fn tags_of(img: &Image) -> Vec<String> {
    img.references()
        .iter()
        .filter(|r| r.digest().is_none())
        .map(Reference::familiar)
        .collect()
}

fn labels_of(img: &Image) -> BTreeMap<String, String> {
    img.config()
        .config()
        .as_ref()
        .and_then(|c| c.labels().clone())
        .map(|l| l.into_iter().collect())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// GET /images/json, /images/{name}/json, /images/{name}/history

/// `GET /images/json`: a summary per image, newest first.
async fn list(call: &Call) -> Result<Value, ApiError> {
    let filters = call.query.filters()?;
    for k in filters.keys() {
        if !matches!(
            k.as_str(),
            "dangling" | "label" | "reference" | "before" | "since"
        ) {
            return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
        }
    }
    let old = call.version < 44;
    let engine = call.engine.clone();
    http::blocking(move || {
        let images = engine.images();
        let mut all = images.list()?;
        let created = |i: &Image| unix_time(i.config().created().as_deref());
        let bound = |key: &str| -> Result<Option<i64>, ApiError> {
            match filters.get(key).and_then(|v| v.first()) {
                None => Ok(None),
                Some(name) => Ok(Some(created(&find(&engine, name)?))),
            }
        };
        let (before, since) = (bound("before")?, bound("since")?);
        let dangling = bool_filter(&filters, "dangling")?;
        all.retain(|i| {
            let labels = labels_of(i);
            dangling.is_none_or(|d| d == i.references().is_empty())
                && before.is_none_or(|b| created(i) < b)
                && since.is_none_or(|s| created(i) > s)
                && filters.get("label").is_none_or(|ls| {
                    ls.iter().all(|l| match l.split_once('=') {
                        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                        None => labels.contains_key(l),
                    })
                })
                && filters.get("reference").is_none_or(|pats| {
                    i.references()
                        .iter()
                        .any(|r| pats.iter().any(|p| reference_matches(p, r)))
                })
        });
        // with a reference filter, an image shows only the tags that match (Docker's)
        let shown = |i: &Image| -> Vec<String> {
            i.references()
                .iter()
                .filter(|r| r.digest().is_none())
                .filter(|r| {
                    filters
                        .get("reference")
                        .is_none_or(|pats| pats.iter().any(|p| reference_matches(p, r)))
                })
                .map(Reference::familiar)
                .collect()
        };
        all.sort_by_key(|i| std::cmp::Reverse(created(i)));
        let out: Vec<Value> = all
            .iter()
            .map(|i| {
                let size = images.size(i);
                let mut v = json!({
                    "Id": i.id().to_string(),
                    "ParentId": "",
                    "RepoTags": shown(i),
                    "RepoDigests": digests_of(i),
                    "Created": created(i),
                    "Size": size,
                    "SharedSize": -1,
                    "Labels": labels_of(i),
                    "Containers": -1,
                });
                if old {
                    v["VirtualSize"] = json!(size);
                }
                v
            })
            .collect();
        Ok(Value::Array(out))
    })
    .await
}

/// A boolean filter (`dangling=true`, `is-official=0`); `None` when absent.
fn bool_filter(
    filters: &BTreeMap<String, Vec<String>>,
    key: &str,
) -> Result<Option<bool>, ApiError> {
    match filters.get(key).and_then(|v| v.first()) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(ApiError::bad_request(format!("invalid filter '{key}={v}'"))),
        },
    }
}

/// Docker's `reference` filter: a glob (`*`, `?`) against the familiar reference, or
/// against its name when the pattern has no tag.
fn reference_matches(pattern: &str, r: &Reference) -> bool {
    let full = r.familiar();
    let name = familiar_name(r);
    glob(pattern.as_bytes(), full.as_bytes()) || glob(pattern.as_bytes(), name.as_bytes())
}

/// `path.Match` without classes: `*` any run of characters but `/`, `?` one of them.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len())
            .take_while(|&i| i == 0 || s[i - 1] != b'/')
            .any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => s.first().is_some_and(|&c| c != b'/') && glob(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// `GET /images/{name}/json`: Docker's image inspect.
async fn inspect(call: &Call, name: String) -> Result<Value, ApiError> {
    let engine = call.engine.clone();
    let old = call.version < 44;
    http::blocking(move || {
        let img = find(&engine, &name)?;
        let cfg = img.config();
        let size = engine.images().size(&img);
        let mut config = serde_json::to_value(cfg.config()).unwrap_or(Value::Null);
        if let Value::Object(c) = &mut config {
            for (k, v) in [
                ("Hostname", json!("")),
                ("Domainname", json!("")),
                ("User", json!("")),
                ("AttachStdin", json!(false)),
                ("AttachStdout", json!(false)),
                ("AttachStderr", json!(false)),
                ("Tty", json!(false)),
                ("OpenStdin", json!(false)),
                ("StdinOnce", json!(false)),
                ("Env", Value::Null),
                ("Cmd", Value::Null),
                ("Image", json!("")),
                ("Volumes", Value::Null),
                ("WorkingDir", json!("")),
                ("Entrypoint", Value::Null),
                ("OnBuild", Value::Null),
                ("Labels", Value::Null),
            ] {
                c.entry(k).or_insert(v);
            }
        }
        let history = img.history();
        let comment = history
            .last()
            .and_then(|h| h.comment().clone())
            .unwrap_or_default();
        let mut v = json!({
            "Id": img.id().to_string(),
            "RepoTags": tags_of(&img),
            "RepoDigests": digests_of(&img),
            "Parent": "",
            "Comment": comment,
            "Created": cfg.created().clone().unwrap_or_default(),
            "DockerVersion": "",
            "Author": cfg.author().clone().unwrap_or_default(),
            "Config": config,
            "Architecture": cfg.architecture().to_string(),
            "Os": cfg.os().to_string(),
            "Size": size,
            "GraphDriver": { "Name": "overlay2", "Data": null },
            "RootFS": {
                "Type": "layers",
                "Layers": img.diff_ids().iter().map(ToString::to_string).collect::<Vec<_>>(),
            },
            "Metadata": { "LastTagTime": "0001-01-01T00:00:00Z" },
        });
        if let Some(variant) = cfg.variant() {
            v["Variant"] = json!(variant);
        }
        if old {
            v["VirtualSize"] = json!(size);
            v["Container"] = json!("");
            v["ContainerConfig"] = json!({});
        }
        Ok(v)
    })
    .await
}

/// `GET /images/{name}/history`: newest first.
async fn history(call: &Call, name: String) -> Result<Value, ApiError> {
    let engine = call.engine.clone();
    http::blocking(move || {
        let img = find(&engine, &name)?;
        let entries = img.layer_history(&engine.images())?;
        let tags = tags_of(&img);
        Ok(Value::Array(
            entries
                .iter()
                .map(|h| {
                    json!({
                        "Id": h.id.as_ref().map_or("<missing>".to_owned(), ToString::to_string),
                        "Created": unix_time(h.created.as_deref()),
                        "CreatedBy": h.created_by,
                        "Tags": if h.id.is_some() { json!(tags) } else { Value::Null },
                        "Size": h.size,
                        "Comment": h.comment,
                    })
                })
                .collect(),
        ))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// tag, remove, prune

/// `POST /images/{name}/tag?repo=&tag=`.
async fn tag(call: &Call, name: String) -> Result<(), ApiError> {
    let repo = call.query.get("repo").unwrap_or_default().to_owned();
    let tag = call.query.get("tag").unwrap_or_default().to_owned();
    if repo.is_empty() {
        return Err(ApiError::bad_request("repository name (repo) is required"));
    }
    let target = if tag.is_empty() {
        parse_ref(&repo)?
    } else {
        let t = parse_ref(&format!("{repo}:{tag}"))?;
        if repo.contains('@') || t.tag() != Some(tag.as_str()) {
            return Err(ApiError::bad_request(format!(
                "invalid reference format: {repo}:{tag}"
            )));
        }
        t
    };
    let engine = call.engine.clone();
    http::blocking(move || {
        let source = find_reference(&engine, &name, "tagging")?;
        engine.images().tag(&source, &target)?;
        Ok(())
    })
    .await
}

/// Docker's conflict message for an image a container uses.
fn in_use(e: Error, reference: &Reference, img: &Image) -> ApiError {
    match &e {
        Error::ImageInUse { user, .. } => {
            if let Some(c) = user.strip_prefix("container ") {
                ApiError::conflict(format!(
                    "conflict: unable to remove repository reference {:?} (must force) - \
                     container {} is using its referenced image {}",
                    reference.familiar(),
                    short(&c),
                    short(img.id())
                ))
            } else {
                ApiError::conflict(format!(
                    "conflict: unable to delete {} (must be forced) - image is referenced \
                     in multiple repositories",
                    short(img.id())
                ))
            }
        }
        _ => e.into(),
    }
}

/// `DELETE /images/{name}?force=&noprune=`: untags `name` (every tag of an image named by
/// its id, which needs `force` when it has several), removing the image with its last
/// tag: `[{"Untagged": …}, {"Deleted": …}]`.
async fn remove(call: &Call, name: String) -> Result<Value, ApiError> {
    let force = call.query.flag("force");
    let engine = call.engine.clone();
    http::blocking(move || {
        let images = engine.images();
        let img = find(&engine, &name)?;
        let by_ref = name
            .parse::<Reference>()
            .ok()
            .filter(|r| img.references().contains(r) || r.digest().is_some());
        let mut out = Vec::new();
        match by_ref {
            Some(r) => {
                images.remove(&r, force).map_err(|e| in_use(e, &r, &img))?;
                if r.digest().is_some() {
                    for t in img.references() {
                        out.push(json!({ "Untagged": t.familiar() }));
                    }
                }
                out.push(json!({ "Untagged": r.familiar() }));
            }
            None => {
                let refs = img.references().to_vec();
                if refs.len() > 1 && !force {
                    return Err(ApiError::conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is \
                         referenced in multiple repositories",
                        short(img.id())
                    )));
                }
                if refs.is_empty() {
                    // a dangling image: named by its manifest's digest
                    let r = parse_ref(&format!("untagged@{}", img.manifest_digest()))?;
                    images.remove(&r, force).map_err(|e| in_use(e, &r, &img))?;
                }
                for r in &refs {
                    images.remove(r, force).map_err(|e| in_use(e, r, &img))?;
                    out.push(json!({ "Untagged": r.familiar() }));
                }
            }
        }
        let still = images.list()?.iter().any(|i| i.id() == img.id());
        if !still {
            out.push(json!({ "Deleted": img.id().to_string() }));
        }
        Ok(Value::Array(out))
    })
    .await
}

/// `POST /images/prune?filters=`: dangling images (`dangling=false`: every image no
/// container uses).
async fn prune(call: &Call) -> Result<Value, ApiError> {
    let filters = call.query.filters()?;
    let mut all = false;
    for (k, v) in &filters {
        match (k.as_str(), v.first().map(|s| s.to_ascii_lowercase())) {
            ("dangling", Some(d)) if d == "false" || d == "0" => all = true,
            ("dangling", _) => {}
            _ => {
                return Err(ApiError::bad_request(format!(
                    "invalid filter '{k}': image prune takes only dangling"
                )))
            }
        }
    }
    let engine = call.engine.clone();
    http::blocking(move || {
        let images = engine.images();
        let before = images.list()?;
        let freed = if all {
            images.prune_unused()?
        } else {
            images.prune()?
        };
        let after = images.list()?;
        let mut deleted = Vec::new();
        for i in &before {
            let kept = after.iter().find(|a| a.id() == i.id());
            for r in i.references() {
                if kept.is_none_or(|k| !k.references().contains(r)) {
                    deleted.push(json!({ "Untagged": r.familiar() }));
                }
            }
            if kept.is_none() {
                deleted.push(json!({ "Deleted": i.id().to_string() }));
            }
        }
        Ok(json!({
            "ImagesDeleted": if deleted.is_empty() { Value::Null } else { Value::Array(deleted) },
            "SpaceReclaimed": freed,
        }))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// pull, push: Docker's JSON progress

/// Which transfer: the words Docker uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pull,
    Push,
}

/// What has been said of a layer.
#[derive(Debug, Default)]
struct Layer {
    started: bool,
    done: bool,
}

/// The JSON progress of one pull or push; fed the library's [`Progress`] events.
struct Transfer<'g> {
    kind: Kind,
    gate: &'g Gate,
    layers: Mutex<HashMap<String, Layer>>,
    /// Whether only the listed layers are shown (a push: not its config).
    listed: bool,
    /// Whether a layer moved (else the image was up to date).
    moved: AtomicBool,
    /// The line before the first layer's (a pull's `Pulling from`), sent once.
    header: Mutex<Option<Value>>,
}

impl<'g> Transfer<'g> {
    fn new(kind: Kind, gate: &'g Gate, header: Option<Value>) -> Transfer<'g> {
        Transfer {
            kind,
            gate,
            layers: Mutex::new(HashMap::new()),
            listed: false,
            moved: AtomicBool::new(false),
            header: Mutex::new(header),
        }
    }

    fn send(&self, v: Value) {
        if let Some(h) = self.header.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.gate.send(&h);
        }
        self.gate.send(&v);
    }

    fn status(&self, id: &str, status: &str) {
        self.send(json!({ "status": status, "progressDetail": {}, "id": id }));
    }

    /// Lists the layers (a push's `Preparing`), top first.
    fn list(&mut self, digests: &[String]) {
        self.listed = true;
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        for d in digests {
            let id = short(d);
            if layers.contains_key(&id) {
                continue;
            }
            layers.insert(
                id.clone(),
                Layer {
                    started: true,
                    done: false,
                },
            );
            self.status(&id, "Preparing");
        }
    }

    fn event(&self, p: &Progress) {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let digest = match p {
            Progress::LayerExists { digest }
            | Progress::LayerBytes { digest, .. }
            | Progress::LayerDone { digest, .. } => digest,
            _ => return,
        };
        let id = short(digest);
        if self.listed && !layers.contains_key(&id) {
            return;
        }
        let l = layers.entry(id.clone()).or_default();
        if l.done {
            return;
        }
        let start = |l: &mut Layer| {
            if !l.started {
                l.started = true;
                if self.kind == Kind::Pull {
                    self.status(&id, "Pulling fs layer");
                }
            }
        };
        match p {
            Progress::LayerExists { .. } => {
                l.done = true;
                self.status(
                    &id,
                    match self.kind {
                        Kind::Pull => "Already exists",
                        Kind::Push => "Layer already exists",
                    },
                );
            }
            Progress::LayerBytes { done, total, .. } => {
                self.moved.store(true, Ordering::Relaxed);
                start(l);
                self.send(json!({
                    "status": match self.kind { Kind::Pull => "Downloading", Kind::Push => "Pushing" },
                    "progressDetail": { "current": done, "total": total },
                    "id": id,
                }));
            }
            Progress::LayerDone { mounted, .. } => {
                self.moved.store(true, Ordering::Relaxed);
                start(l);
                l.done = true;
                match (self.kind, mounted) {
                    (Kind::Pull, _) => {
                        self.status(&id, "Download complete");
                        self.status(&id, "Pull complete");
                    }
                    (Kind::Push, true) => {
                        self.status(&id, "Mounted from another repository");
                    }
                    (Kind::Push, false) => self.status(&id, "Pushed"),
                }
            }
            _ => {}
        }
    }
}

/// A registry failure as Docker words it for a pull (a missing repository or manifest:
/// 404, so clients can tell).
fn pull_error(e: Error, r: &Reference) -> ApiError {
    if let Error::Registry { reason, .. } = &e {
        let msg = reason.split_once(": ").map_or("", |(_, m)| m).trim();
        if reason.starts_with("HTTP 404") {
            return ApiError::not_found(if msg.contains("repository name not known") {
                format!(
                    "repository {} not found: name unknown: {msg}",
                    familiar_name(r)
                )
            } else {
                format!(
                    "manifest for {} not found: manifest unknown: {msg}",
                    r.familiar()
                )
            });
        }
        if reason.starts_with("HTTP 401")
            || reason.starts_with("HTTP 403")
            || reason.contains("authentication required")
        {
            return ApiError::not_found(format!(
                "pull access denied for {}, repository does not exist or may require \
                 'docker login': denied: requested access to the resource is denied",
                familiar_name(r)
            ));
        }
    }
    e.into()
}

/// `POST /images/create`: a pull (`fromImage`, `tag`, `platform`, `X-Registry-Auth`) or
/// an import (`fromSrc=-`, the body a root file system tarball, `repo`, `tag`).
async fn create(mut call: Call) -> Result<Reply, ApiError> {
    if let Some(src) = call.query.get("fromSrc") {
        if src != "-" {
            return Err(ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "importing from a URL is not supported: send the tarball (fromSrc=-)",
            ));
        }
        return import(&mut call).await;
    }
    let from = call.query.get("fromImage").unwrap_or_default();
    let tag = call.query.get("tag").unwrap_or_default();
    if from.is_empty() {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    }
    let full = if tag.is_empty() {
        from.to_owned()
    } else if tag.contains(':') {
        format!("{from}@{tag}")
    } else {
        format!("{from}:{tag}")
    };
    let r = parse_ref(&full)?;
    let mut opts = PullOptions::new();
    if let Some(p) = call.query.get("platform").filter(|p| !p.is_empty()) {
        opts.platform(p);
    }
    if let Some((u, p)) = registry_auth(&call)? {
        opts.credentials(&u, &p);
    }
    let engine = call.engine.clone();
    Ok(gated("application/json", move |gate| {
        let shown = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => "latest".to_owned(),
        };
        let header = json!({ "status": format!("Pulling from {}", r.path()), "id": shown });
        let t = Transfer::new(Kind::Pull, gate, Some(header.clone()));
        // a client gone mid-pull stops it (complete layers only stay)
        let g = Arc::clone(gate);
        opts.stop_when(move || g.closed());
        let pulled = engine.pull_with(&r.to_string(), &opts, &|p| t.event(p));
        let img = pulled.map_err(|e| pull_error(e, &r))?;
        // nothing moved and no line sent: still the header first
        t.send(json!({ "status": format!("Digest: {}", img.manifest_digest()) }));
        let status = if t.moved.load(Ordering::Relaxed) {
            format!("Status: Downloaded newer image for {}", r.familiar())
        } else {
            format!("Status: Image is up to date for {}", r.familiar())
        };
        t.send(json!({ "status": status }));
        Ok(())
    })
    .await)
}

/// `POST /images/create?fromSrc=-&repo=&tag=`: the body, a root file system tarball,
/// as a one-layer image.
async fn import(call: &mut Call) -> Result<Reply, ApiError> {
    let repo = call.query.get("repo").unwrap_or_default().to_owned();
    let tag = call.query.get("tag").unwrap_or_default().to_owned();
    if repo.is_empty() {
        return Err(ApiError::bad_request(
            "import needs a repository (repo): untagged imports are not supported",
        ));
    }
    if call
        .query
        .all("changes")
        .iter()
        .any(|c| !c.trim().is_empty())
    {
        return Err(ApiError::bad_request("changes on import are not supported"));
    }
    let full = if tag.is_empty() {
        repo
    } else {
        format!("{repo}:{tag}")
    };
    let r = parse_ref(&full)?;
    let reader = call.body_reader()?;
    let engine = call.engine.clone();
    Ok(gated("application/json", move |gate| {
        let config = crate::oci_spec::image::Config::default();
        let img = engine
            .images()
            .import_tar(io::BufReader::new(reader), &config, &r)
            .map_err(bad_archive)?;
        gate.send(&json!({ "status": img.id().to_string() }));
        Ok(())
    })
    .await)
}

/// An archive that could not be read is the client's fault: 400.
fn bad_archive(e: Error) -> ApiError {
    match e {
        Error::InvalidImage { .. } | Error::Blob { .. } | Error::UnsafeLayerEntry { .. } => {
            ApiError::bad_request(e.to_string())
        }
        e => e.into(),
    }
}

/// `POST /images/{name}/push?tag=`: the tag given, or every tag of the repository.
async fn push(call: Call, name: String) -> Result<Reply, ApiError> {
    let tag = call.query.get("tag").unwrap_or_default().to_owned();
    let mut opts = PushOptions::new();
    if let Some((u, p)) = registry_auth(&call)? {
        opts.credentials(&u, &p);
    }
    let engine = call.engine.clone();
    let found = http::blocking({
        let engine = engine.clone();
        move || {
            let repo = parse_ref(&name)?;
            let missing = || {
                ApiError::not_found(format!(
                    "An image does not exist locally with the tag: {}",
                    familiar_name(&repo)
                ))
            };
            if !tag.is_empty() {
                let r = parse_ref(&format!("{}:{tag}", repo.name()))?;
                let img = engine.images().inspect(&r).map_err(|_| missing())?;
                return Ok((repo, vec![(r, img)]));
            }
            let last = name.rsplit('/').next().unwrap_or(&name);
            if last.contains(':') || last.contains('@') {
                let img = engine.images().inspect(&repo).map_err(|_| missing())?;
                return Ok((repo.clone(), vec![(repo, img)]));
            }
            let mut out = Vec::new();
            for i in engine.images().list()? {
                for r in i.references() {
                    if r.name() == repo.name() && r.tag().is_some() {
                        out.push((r.clone(), i.clone()));
                    }
                }
            }
            if out.is_empty() {
                return Err(missing());
            }
            out.sort_by_key(|(r, _)| r.to_string());
            Ok((repo, out))
        }
    })
    .await;
    let (repo, targets) = found?;
    Ok(gated("application/json", move |gate| {
        gate.send(&json!({
            "status": format!("The push refers to repository [{}]", repo.name())
        }));
        for (r, img) in targets {
            let mut t = Transfer::new(Kind::Push, gate, None);
            let layers: Vec<String> = img
                .manifest()
                .layers()
                .iter()
                .rev()
                .map(|l| l.digest().to_string())
                .collect();
            t.list(&layers);
            let digest = engine
                .push_with(&r.to_string(), &opts, &|p| t.event(p))
                .map_err(ApiError::from)?;
            let blob = engine
                .images()
                .layout_dir()
                .join("blobs")
                .join(digest.algorithm().to_string())
                .join(digest.digest());
            let size = std::fs::metadata(&blob)
                .map(|m| m.len())
                .unwrap_or_default();
            let tag = r.tag().unwrap_or("latest").to_owned();
            gate.send(&json!({
                "status": format!("{tag}: digest: {digest} size: {size}")
            }));
            gate.send(&json!({
                "progressDetail": {},
                "aux": { "Tag": tag, "Digest": digest.to_string(), "Size": size },
            }));
            if gate.closed() {
                break;
            }
        }
        Ok(())
    })
    .await)
}

// ---------------------------------------------------------------------------------------
// load, save

/// `POST /images/load?quiet=`: a docker-archive or OCI tarball as the body.
async fn load(mut call: Call) -> Result<Reply, ApiError> {
    let reader = call.body_reader()?;
    let engine = call.engine.clone();
    Ok(gated("application/json", move |gate| {
        let loaded = engine
            .images()
            .load(io::BufReader::new(reader))
            .map_err(bad_archive)?;
        for i in &loaded {
            if i.references().is_empty() {
                gate.send(&json!({ "stream": format!("Loaded image ID: {}\n", i.id()) }));
            }
            for r in i.references() {
                gate.send(&json!({ "stream": format!("Loaded image: {}\n", r.familiar()) }));
            }
        }
        Ok(())
    })
    .await)
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`: a docker-archive tarball of
/// the images (by reference, or by id under one of their references).
async fn save(call: &Call, names: Vec<String>) -> Result<Reply, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no image names given (names=)"));
    }
    let engine = call.engine.clone();
    let refs = http::blocking({
        let engine = engine.clone();
        move || {
            let mut refs = Vec::new();
            for n in &names {
                let r = find_reference(&engine, n, "saving")?;
                if !refs.contains(&r) {
                    refs.push(r);
                }
            }
            Ok(refs)
        }
    })
    .await;
    let refs = refs?;
    let (reply, stream) = http::streamed("application/x-tar");
    tokio::task::spawn_blocking(move || {
        let mut out = io::BufWriter::with_capacity(256 << 10, StreamWriter(stream));
        // a failure mid-way cuts the archive short, which the client's reader reports
        if engine.images().save_docker_archive(&refs, &mut out).is_ok() {
            let _ = out.flush();
        }
    });
    Ok(reply)
}

// ---------------------------------------------------------------------------------------
// commit, auth, build prune

/// `POST /commit?container=&repo=&tag=&comment=&author=&changes=&pause=` → `{"Id": …}`.
async fn commit(call: &Call) -> Result<Value, ApiError> {
    let q = &call.query;
    let container = q.get("container").unwrap_or_default().to_owned();
    let repo = q.get("repo").unwrap_or_default();
    let tag = q.get("tag").unwrap_or_default();
    let reference = match (repo.is_empty(), tag.is_empty()) {
        (true, _) => None,
        (false, true) => Some(repo.to_owned()),
        (false, false) => Some(format!("{repo}:{tag}")),
    };
    if let Some(r) = &reference {
        parse_ref(r)?;
    }
    let opts = CommitOptions {
        reference,
        author: q.get("author").filter(|a| !a.is_empty()).map(str::to_owned),
        message: q
            .get("comment")
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        changes: q
            .all("changes")
            .iter()
            .flat_map(|c| c.lines())
            .filter(|c| !c.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        pause: q.get("pause").is_none_or(|p| p.is_empty()) || q.flag("pause"),
    };
    let engine = call.engine.clone();
    http::blocking(move || {
        let c = engine.containers().get(&container)?;
        let img = c.commit(&opts)?;
        Ok(json!({ "Id": img.id().to_string() }))
    })
    .await
}

/// `POST /auth`: checks the credentials against the registry, as `docker login` does.
pub(super) async fn auth(call: Call) -> Reply {
    http::reply_json(StatusCode::OK, login(call).await)
}

async fn login(mut call: Call) -> Result<Value, ApiError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct AuthConfig {
        username: String,
        password: String,
        serveraddress: String,
    }
    let a: AuthConfig = call.json().await?;
    http::blocking(move || {
        let server = if a.serveraddress.is_empty() {
            "docker.io"
        } else {
            a.serveraddress.as_str()
        };
        let mut reg = Registry::new(server);
        reg.credentials(&a.username, &a.password);
        match reg.login() {
            Ok(()) => Ok(json!({ "Status": "Login Succeeded", "IdentityToken": "" })),
            Err(Error::Registry { url, reason, .. }) if reason.contains("401") => {
                Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    format!("login attempt to {url} failed with status: 401 Unauthorized"),
                ))
            }
            Err(e) => Err(e.into()),
        }
    })
    .await
}

// ---------------------------------------------------------------------------------------
// search, distribution inspect

/// `GET /images/search?term=&limit=&filters=`: `HOST[:PORT]/TERM` searches that registry's
/// catalog; a term without a registry, Docker Hub's search (as Docker's does).
async fn search(call: &Call) -> Result<Value, ApiError> {
    let term = call.query.get("term").unwrap_or_default().to_owned();
    if term.is_empty() {
        return Err(ApiError::bad_request("a search term (term) is required"));
    }
    let limit = call.query.int::<i64>("limit")?.unwrap_or(25);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit {limit} is outside the range of [1, 100]"
        )));
    }
    let filters = call.query.filters()?;
    if let Some(k) = filters
        .keys()
        .find(|k| !matches!(k.as_str(), "is-official" | "is-automated" | "stars"))
    {
        return Err(ApiError::bad_request(format!("invalid filter '{k}'")));
    }
    let official = bool_filter(&filters, "is-official")?;
    let automated = bool_filter(&filters, "is-automated")?;
    let stars = match filters.get("stars").and_then(|v| v.first()) {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("invalid filter 'stars={v}'")))?,
    };
    let (server, wanted) = match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => {
            (host.to_owned(), rest.to_owned())
        }
        _ => ("docker.io".to_owned(), term.clone()),
    };
    let mut registry = Registry::new(&server);
    if let Some((u, p)) = registry_auth(call)? {
        registry.credentials(&u, &p);
    }
    http::blocking(move || {
        let found = registry.search(&wanted, limit as usize)?;
        let shown: Vec<Value> = found
            .iter()
            .filter(|r| {
                official.is_none_or(|o| o == r.is_official)
                    && automated.is_none_or(|a| a == r.is_automated)
                    && r.star_count >= stars
            })
            .map(|r| {
                json!({
                    "name": r.name,
                    "description": r.description,
                    "star_count": r.star_count,
                    "is_official": r.is_official,
                    "is_automated": r.is_automated,
                })
            })
            .collect();
        Ok(Value::Array(shown))
    })
    .await
}

/// `GET /distribution/{name}/json`: the manifest or index `name` names in its registry
/// (`Descriptor` as the registry serves it) and its `Platforms`, without pulling.
async fn distribution(call: &Call, name: String) -> Result<Value, ApiError> {
    let r = parse_ref(&name)?;
    let mut registry = Registry::new(r.domain());
    if let Some((u, p)) = registry_auth(call)? {
        registry.credentials(&u, &p);
    }
    let wanted = r
        .digest()
        .map(|d| d.to_string())
        .or_else(|| r.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".to_owned());
    http::blocking(move || {
        let m = registry
            .manifest(r.path(), &wanted)
            .map_err(|e| distribution_error(e, &r))?;
        let d = &m.descriptor;
        Ok(json!({
            "Descriptor": {
                "mediaType": d.media_type().to_string(),
                "digest": d.digest().to_string(),
                "size": d.size(),
            },
            "Platforms": m.platforms,
        }))
    })
    .await
}

/// A registry's refusal of a distribution inspect as Docker words it: 404 for an unknown
/// repository or tag, 401 for refused or missing credentials.
fn distribution_error(e: Error, r: &Reference) -> ApiError {
    if let Error::Registry { reason, .. } = &e {
        if reason.starts_with("HTTP 404") {
            let msg = reason.split_once(": ").map_or("", |(_, m)| m).trim();
            return ApiError::not_found(format!(
                "manifest for {} not found: manifest unknown: {msg}",
                r.familiar()
            ));
        }
        if reason.starts_with("HTTP 401")
            || reason.starts_with("HTTP 403")
            || reason.contains("authentication required")
        {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "errors:\ndenied: requested access to the resource is denied\n\
                 unauthorized: authentication required\n",
            );
        }
    }
    e.into()
}

/// `POST /build/prune`: the build cache.
async fn build_prune(call: &Call) -> Result<Value, ApiError> {
    let engine = call.engine.clone();
    http::blocking(move || {
        let p = engine.prune_build_cache()?;
        Ok(json!({ "CachesDeleted": [], "SpaceReclaimed": p.bytes }))
    })
    .await
}

// ---------------------------------------------------------------------------------------
// POST /build: the classic builder's protocol

/// A directory removed when dropped (the extracted build context).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> io::Result<TempDir> {
        use std::os::unix::fs::DirBuilderExt;
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir();
        loop {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = base.join(format!("cargohold-build-{}-{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The query of a classic build, checked.
#[derive(Debug)]
struct BuildParams {
    tags: Vec<String>,
    dockerfile: PathBuf,
    build_args: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    target: Option<String>,
    no_cache: bool,
    pull: bool,
    network: Option<BuildNetwork>,
    quiet: bool,
}

/// A JSON map of strings (`buildargs`, `labels`); `null` values left out (Docker takes
/// a build arg's value from its own environment then).
fn json_map(call: &Call, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match call.query.get(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(raw) => {
            let m: BTreeMap<String, Option<String>> = serde_json::from_str(raw)
                .map_err(|e| ApiError::bad_request(format!("invalid {key} {raw:?}: {e}")))?;
            Ok(m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
        }
    }
}

fn build_params(call: &Call) -> Result<BuildParams, ApiError> {
    let q = &call.query;
    let unsupported = |what: &str| {
        Err(ApiError::bad_request(format!(
            "the build option {what} is not supported by this builder"
        )))
    };
    if q.get("version") == Some("2") {
        return Err(ApiError::bad_request(
            "BuildKit (version=2) is not supported: use the classic builder (DOCKER_BUILDKIT=0)",
        ));
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return unsupported("remote (a URL or git context)");
    }
    for key in [
        "shmsize",
        "memory",
        "memswap",
        "cpushares",
        "cpuperiod",
        "cpuquota",
    ] {
        if q.int::<i64>(key)?.unwrap_or(0) != 0 {
            return unsupported(key);
        }
    }
    for key in [
        "cpusetcpus",
        "cpusetmems",
        "extrahosts",
        "cgroupparent",
        "outputs",
    ] {
        if q.get(key)
            .is_some_and(|v| !v.is_empty() && v != "[]" && v != "null")
        {
            return unsupported(key);
        }
    }
    for key in ["cachefrom", "ulimits"] {
        if q.get(key)
            .is_some_and(|v| !matches!(v.trim(), "" | "[]" | "null"))
        {
            return unsupported(key);
        }
    }
    if q.flag("squash") {
        return unsupported("squash");
    }
    if q.get("isolation")
        .is_some_and(|i| !i.is_empty() && i != "default")
    {
        return unsupported("isolation");
    }
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", host_arch());
        if p != host && p != "linux" {
            return Err(ApiError::bad_request(format!(
                "the build option platform={p} is not supported: this builder builds for {host}"
            )));
        }
    }
    let mut tags = Vec::new();
    for t in q.all("t") {
        parse_ref(t)?;
        tags.push(t.to_owned());
    }
    let df = q
        .get("dockerfile")
        .filter(|d| !d.is_empty())
        .unwrap_or("Dockerfile");
    let dockerfile = inside(df).ok_or_else(|| {
        ApiError::bad_request(format!(
            "the Dockerfile ({df}) must be within the build context"
        ))
    })?;
    let network = match q.get("networkmode").filter(|n| !n.is_empty()) {
        None => None,
        Some(n) => Some(n.parse::<BuildNetwork>().map_err(|_| {
            ApiError::bad_request(format!(
                "the build option networkmode={n} is not supported (default, bridge, host, none)"
            ))
        })?),
    };
    Ok(BuildParams {
        tags,
        dockerfile,
        build_args: json_map(call, "buildargs")?,
        labels: json_map(call, "labels")?,
        target: q.get("target").filter(|t| !t.is_empty()).map(str::to_owned),
        no_cache: q.flag("nocache"),
        pull: q.flag("pull"),
        network,
        quiet: q.flag("q"),
    })
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `p` as a relative path that stays inside its root (`a/../b` is `b`), or `None`.
fn inside(p: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in Path::new(p.trim_start_matches('/')).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Unpacks the context tar (plain or gzip) from `body` into `dir`; the tar crate keeps
/// every entry inside it (no `..`, no writes through symlinks pointing out).
fn unpack_context(body: impl Read, dir: &Path) -> Result<(), ApiError> {
    let mut body = io::BufReader::with_capacity(64 << 10, body);
    let head = body
        .fill_buf()
        .map_err(|e| ApiError::bad_request(format!("reading the build context: {e}")))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(body))
    } else {
        Box::new(body)
    };
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    ar.unpack(dir)
        .map_err(|e| ApiError::bad_request(format!("unpacking the build context: {e}")))?;
    // the padding after the archive's end: read, so that the connection is idle and a
    // client that goes away mid-build is noticed
    let _ = io::copy(&mut ar.into_inner(), &mut io::sink());
    Ok(())
}

/// Docker's words for a failed RUN: `The command '/bin/sh -c false' returned a non-zero
/// code: 1`, with the code.
fn build_error(e: &Error) -> (String, Option<i64>) {
    if let Error::BuildStep {
        instruction,
        status,
        ..
    } = e
    {
        if let Some(code) = status
            .strip_prefix("exit code: ")
            .and_then(|c| c.trim().parse::<i64>().ok())
        {
            let cmd = instruction
                .split_once(char::is_whitespace)
                .map_or("", |(_, c)| c.trim());
            let cmd = if cmd.starts_with('[') {
                serde_json::from_str::<Vec<String>>(cmd).map_or(cmd.to_owned(), |v| v.join(" "))
            } else {
                format!("/bin/sh -c {cmd}")
            };
            return (
                format!("The command '{cmd}' returned a non-zero code: {code}"),
                Some(code),
            );
        }
    }
    (e.to_string(), None)
}

/// `POST /build`: the context tar as the body, `docker build`'s options as the query;
/// streams `{"stream": "Step 1/3 : FROM busybox\n"}` lines, the output of RUN, `{"aux":
/// {"ID": …}}`, `Successfully built`/`tagged`, or Docker's error line.
async fn build(mut call: Call) -> Result<Reply, ApiError> {
    let params = build_params(&call)?;
    let body = call.body_reader()?;
    let engine = call.engine.clone();
    Ok(gated("application/json", move |gate| {
        let dir = TempDir::new()
            .map_err(|e| ApiError::internal(format!("making a build context directory: {e}")))?;
        unpack_context(body, &dir.0)?;
        let df = dir.0.join(&params.dockerfile);
        let in_context = df
            .canonicalize()
            .ok()
            .zip(dir.0.canonicalize().ok())
            .is_some_and(|(f, root)| f.starts_with(root));
        if !in_context {
            return Err(ApiError::bad_request(format!(
                "Cannot locate specified Dockerfile: {}",
                params.dockerfile.display()
            )));
        }
        let mut b = engine.build(&dir.0);
        b.dockerfile(&df);
        for t in &params.tags {
            b.tag(t.clone());
        }
        for (k, v) in &params.build_args {
            b.build_arg(k.clone(), v.clone());
        }
        for (k, v) in &params.labels {
            b.label(k.clone(), v.clone());
        }
        if let Some(t) = &params.target {
            b.target(t.clone());
        }
        if let Some(n) = params.network {
            b.network(n);
        }
        b.no_cache(params.no_cache).pull(params.pull);
        // a client gone mid-build stops it: its RUN's container is killed and removed
        let g = Arc::clone(gate);
        b.stop_when(move || g.closed());
        if !params.quiet {
            let g = Arc::clone(gate);
            let steps = Mutex::new(ClassicSteps::of(&df));
            b.progress(move |e| {
                let lines = steps.lock().unwrap_or_else(|p| p.into_inner()).event(e);
                for line in lines {
                    g.send(&json!({ "stream": line }));
                }
            });
        }
        let quiet = params.quiet;
        let built = b.run();
        drop(b);
        let img = match built {
            Ok(i) => i,
            Err(e) => {
                // Docker's classic builder streams its errors, even before a first line
                let (message, code) = build_error(&e);
                // the context's place here is no business of the client's
                let message = message.replace(&format!("{}/", dir.0.display()), "");
                gate.send(&error_line(&message, code));
                return Ok(());
            }
        };
        let id = img.id().to_string();
        gate.send(&json!({ "aux": { "ID": id } }));
        if quiet {
            gate.send(&json!({ "stream": format!("{id}\n") }));
            return Ok(());
        }
        gate.send(&json!({ "stream": format!("Successfully built {}\n", short(img.id())) }));
        for t in &params.tags {
            let shown = t.parse::<Reference>().map_or(t.clone(), |r| r.familiar());
            gate.send(&json!({ "stream": format!("Successfully tagged {shown}\n") }));
        }
        Ok(())
    })
    .await)
}

/// The classic builder's lines over the library's [`BuildEvent`]s, which are BuildKit's
/// (one step per FROM, RUN, COPY, ADD, WORKDIR): here every instruction is a `Step N/M :
/// INSTRUCTION`, as Docker's classic builder numbers them; those that write no layer have
/// no event and are shown as the next step starts (or as the build ends).
struct ClassicSteps {
    /// Every instruction as written, in order (ARGs before the first FROM included).
    all: Vec<String>,
    /// The first not shown yet.
    next: usize,
    /// The running RUN containers by step.
    containers: HashMap<usize, String>,
}

impl ClassicSteps {
    /// The steps of the Dockerfile at `path`; none when it cannot be read (the build
    /// fails then, with its own error).
    fn of(path: &Path) -> ClassicSteps {
        let parsed = std::fs::read(path)
            .ok()
            .and_then(|text| crate::build::dockerfile::parse(path, &text).ok());
        let mut all = Vec::new();
        if let Some(df) = parsed {
            all.extend(df.global_args.iter().map(|a| a.original.clone()));
            for stage in &df.stages {
                all.push(stage.from.original.clone());
                all.extend(stage.instructions.iter().map(|i| i.original.clone()));
            }
        }
        ClassicSteps {
            all,
            next: 0,
            containers: HashMap::new(),
        }
    }

    /// `Step N/M : …` lines up to `end` (excluded).
    fn show_until(&mut self, end: usize) -> Vec<String> {
        let total = self.all.len();
        let lines = (self.next..end)
            .map(|i| format!("Step {}/{total} : {}\n", i + 1, self.all[i]))
            .collect();
        self.next = self.next.max(end);
        lines
    }

    /// The lines of one event.
    fn event(&mut self, e: &BuildEvent) -> Vec<String> {
        match e {
            BuildEvent::Started { name, .. } if name == "exporting to image" => {
                self.show_until(self.all.len())
            }
            BuildEvent::Started { name, .. } => {
                // `[stage 2/4] RUN make`: the instruction's first line
                let Some((_, text)) = name.strip_prefix('[').and_then(|r| r.split_once("] "))
                else {
                    return Vec::new();
                };
                let first = |s: &String| s.lines().next().unwrap_or("").trim() == text;
                // an ONBUILD trigger or a stage out of order: shown by its output only
                match self.all[self.next..].iter().position(first) {
                    Some(at) => self.show_until(self.next + at + 1),
                    None => Vec::new(),
                }
            }
            BuildEvent::Cached { .. } => vec![" ---> Using cache\n".to_owned()],
            BuildEvent::Container { id, container } => {
                self.containers.insert(*id, container.clone());
                vec![format!(" ---> Running in {}\n", short(container))]
            }
            BuildEvent::Output { line, .. } => vec![format!("{line}\n")],
            BuildEvent::Finished { id, .. } => match self.containers.remove(id) {
                Some(c) => vec![format!(
                    " ---> Removed intermediate container {}\n",
                    short(&c)
                )],
                None => Vec::new(),
            },
            BuildEvent::Failed { id, .. } => {
                self.containers.remove(id);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_go_path_match() {
        assert!(glob(b"busy*", b"busybox"));
        assert!(glob(b"busybox:*", b"busybox:latest"));
        assert!(!glob(b"*", b"a/b"));
        assert!(glob(b"a/?", b"a/b"));
        assert!(!glob(b"busybox", b"busybox:latest"));
    }

    #[test]
    fn dockerfile_paths_stay_in_the_context() {
        assert_eq!(inside("Dockerfile"), Some(PathBuf::from("Dockerfile")));
        assert_eq!(inside("a/../b/Df"), Some(PathBuf::from("b/Df")));
        assert_eq!(inside("/x/Df"), Some(PathBuf::from("x/Df")));
        assert_eq!(inside("../Df"), None);
        assert_eq!(inside("a/../../Df"), None);
    }

    #[test]
    fn failed_runs_are_worded_as_docker_words_them() {
        let e = Error::BuildStep {
            path: "Dockerfile".into(),
            line: 2,
            instruction: "RUN exit 3".into(),
            status: "exit code: 3".into(),
            output: vec![],
        };
        assert_eq!(
            build_error(&e),
            (
                "The command '/bin/sh -c exit 3' returned a non-zero code: 3".to_owned(),
                Some(3)
            )
        );
    }
}
