//! The HTTP side shared by the routes: the parsed call, replies in Docker's shape, errors
//! as Docker's status codes and `{"message": …}` bodies, request bodies (whole, JSON, or
//! streamed into a blocking reader), streamed replies, the blocking pool, and the
//! connection hijack of `exec` and `attach`.

use std::collections::BTreeMap;
use std::io::{self, Read};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::{Engine, Error};

/// A reply's body: whole or streamed.
pub(crate) type Body = BoxBody<Bytes, io::Error>;
/// A reply.
pub(crate) type Reply = Response<Body>;

/// The largest JSON request body read (a container's config is a few KiB).
pub(crate) const JSON_LIMIT: usize = 8 << 20;

/// One request, parsed.
#[derive(Debug)]
pub(crate) struct Call {
    /// The request's head.
    pub parts: hyper::http::request::Parts,
    /// Its body, until read.
    pub body: Option<Incoming>,
    /// The path's segments after the version prefix, percent-decoded.
    pub segs: Vec<String>,
    /// The query.
    pub query: Query,
    /// The engine served.
    pub engine: Engine,
    /// The API version's minor number the client asked for (`/v1.41/…` → 41); the
    /// server's own for a bare path.
    #[allow(dead_code)]
    pub version: u32,
}

impl Call {
    /// The segments as `&str`s (for matching).
    pub(crate) fn path(&self) -> Vec<&str> {
        self.segs.iter().map(String::as_str).collect()
    }

    /// The method.
    pub(crate) fn method(&self) -> &hyper::Method {
        &self.parts.method
    }

    /// A request header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn take_body(&mut self) -> Result<Incoming, ApiError> {
        self.body
            .take()
            .ok_or_else(|| ApiError::internal("the request body was read already"))
    }

    /// Whether the client asks to hijack the connection (`Upgrade: tcp`).
    pub(crate) fn wants_upgrade(&self) -> bool {
        self.header("upgrade")
            .is_some_and(|u| u.eq_ignore_ascii_case("tcp"))
    }

    /// The whole body, up to `limit` bytes (413 past it).
    pub(crate) async fn body(&mut self, limit: usize) -> Result<Bytes, ApiError> {
        let body = self.take_body()?;
        read_limited(body, limit).await
    }

    /// The body as JSON of type `T` (an empty body as `{}`); unknown fields are ignored,
    /// as Docker ignores them.
    pub(crate) async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body(JSON_LIMIT).await?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(de).map_err(invalid_json)
    }

    /// The body as a blocking reader (an upload: an image tarball, a build context, an
    /// archive), fed by a task as the client sends it; reading fails with the client's
    /// error if it goes away.
    pub(crate) fn body_reader(&mut self) -> Result<BodyReader, ApiError> {
        let mut body = self.take_body()?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<io::Result<Bytes>>(16);
        tokio::spawn(async move {
            loop {
                match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            let tx = tx.clone();
                            // the reader blocks on a full channel: hand the wait to the pool
                            let sent =
                                tokio::task::spawn_blocking(move || tx.send(Ok(data)).is_ok())
                                    .await
                                    .unwrap_or(false);
                            if !sent {
                                break;
                            }
                        }
                    }
                    Some(Err(e)) => {
                        let _ = tx.try_send(Err(io::Error::other(e)));
                        break;
                    }
                }
            }
        });
        Ok(BodyReader {
            rx,
            chunk: Bytes::new(),
        })
    }
}

/// `v` (a request body read as JSON) as `T`, with [`Call::json`]'s errors.
pub(crate) fn from_value<T: DeserializeOwned>(v: &serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(v).map_err(invalid_json)
}

/// A 400 naming where the body is not what it should be.
fn invalid_json(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let at = e.path().to_string();
    let inner = e.into_inner();
    ApiError::bad_request(if at == "." {
        format!("invalid JSON: {inner}")
    } else {
        format!("invalid JSON at {at}: {inner}")
    })
}

async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes"),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "reading the request body: {e}"
        ))),
    }
}

/// The blocking side of [`Call::body_reader`].
#[derive(Debug)]
pub(crate) struct BodyReader {
    rx: std::sync::mpsc::Receiver<io::Result<Bytes>>,
    chunk: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.recv() {
                Ok(Ok(c)) => self.chunk = c,
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk = self.chunk.slice(n..);
        Ok(n)
    }
}

/// A query string, decoded.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(q: &str) -> Query {
        Query(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key` (`?names=a&names=b`).
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A boolean as Docker reads one: `1`, `true`, `True` are true; absent, empty, `0`,
    /// `false` are false.
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key).map(str::to_ascii_lowercase).as_deref(),
            Some("1" | "true" | "yes")
        )
    }

    /// An integer parameter; 400 naming it when it is not one.
    pub(crate) fn int<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value for {key}: {v:?} is not a number"))
            }),
        }
    }

    /// The `filters` parameter: a JSON object of names to a list of values
    /// (`{"label":["a=b"]}`) or, in older clients, to a set (`{"label":{"a=b":true}}`).
    pub(crate) fn filters(&self) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
        let Some(raw) = self.get("filters").filter(|s| !s.is_empty()) else {
            return Ok(BTreeMap::new());
        };
        let v: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filters {raw:?}: {e}")))?;
        let serde_json::Value::Object(map) = v else {
            return Err(ApiError::bad_request(format!(
                "invalid filters {raw:?}: not a JSON object"
            )));
        };
        let mut out = BTreeMap::new();
        for (k, v) in map {
            let values: Vec<String> = match v {
                serde_json::Value::Array(a) => a
                    .into_iter()
                    .map(|x| match x {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect(),
                serde_json::Value::Object(o) => o
                    .into_iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(true))
                    .map(|(k, _)| k)
                    .collect(),
                serde_json::Value::String(s) => vec![s],
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter {k:?} in {raw:?}"
                    )))
                }
            };
            out.insert(k, values);
        }
        Ok(out)
    }
}

/// An error as Docker replies with it: a status and `{"message": …}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub(crate) fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The reply.
    pub(crate) fn reply(self) -> Reply {
        json(self.status, &serde_json::json!({ "message": self.message }))
    }
}

impl From<Error> for ApiError {
    /// Docker's status for each kind of error, and its wording for what is not found (a
    /// client tells a missing image by the 404 and pulls it).
    fn from(e: Error) -> ApiError {
        use StatusCode as S;
        let (status, message) = match &e {
            Error::ContainerNotFound { id } => (S::NOT_FOUND, format!("No such container: {id}")),
            Error::ImageNotFound { reference } => {
                (S::NOT_FOUND, format!("No such image: {reference}"))
            }
            Error::VolumeNotFound { name } => (S::NOT_FOUND, format!("get {name}: no such volume")),
            Error::NetworkNotFound { name } => (S::NOT_FOUND, format!("network {name} not found")),
            Error::ContainerExists { .. }
            | Error::ContainerNameInUse { .. }
            | Error::ImageInUse { .. }
            | Error::VolumeInUse { .. }
            | Error::InvalidState { .. }
            | Error::NetworkExists { .. }
            | Error::NetworkInUse { .. } => (S::CONFLICT, format!("{e}")),
            Error::PredefinedNetwork { .. }
            | Error::AlreadyConnected { .. }
            | Error::NotConnected { .. } => (S::FORBIDDEN, format!("{e}")),
            Error::InvalidId { .. }
            | Error::InvalidSpec { .. }
            | Error::InvalidSignal { .. }
            | Error::InvalidReference { .. }
            | Error::InvalidVolumeName { .. }
            | Error::InvalidMount { .. }
            | Error::BindSourceNotFound { .. }
            | Error::InvalidContainerName { .. }
            | Error::InvalidContainerConfig { .. }
            | Error::AmbiguousContainer { .. }
            | Error::UserNotFound { .. }
            | Error::InvalidRestartPolicy { .. }
            | Error::InvalidFilter { .. }
            | Error::InvalidNetworkConfig { .. }
            | Error::SubnetOverlap { .. }
            | Error::InvalidPortSpec { .. }
            | Error::InvalidDockerfile { .. }
            | Error::BuildContext { .. }
            | Error::InvalidBuild { .. }
            | Error::InvalidCompose { .. } => (S::BAD_REQUEST, format!("{e}")),
            Error::Unsupported { .. } => (S::NOT_IMPLEMENTED, format!("{e}")),
            _ => (S::INTERNAL_SERVER_ERROR, format!("{e}")),
        };
        ApiError::new(status, message)
    }
}

/// Docker's reply to an unknown route.
pub(crate) fn not_found() -> Reply {
    ApiError::not_found("page not found").reply()
}

/// A reply of `status` with `body`, of `content_type` when it has one.
fn reply(status: StatusCode, body: Body, content_type: Option<&'static str>) -> Reply {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Some(t) = content_type {
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(t));
    }
    r
}

/// A reply with `value` as JSON.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Reply {
    let bytes = serde_json::to_vec(value).expect("a reply serialises");
    reply(status, full(bytes), Some("application/json"))
}

/// A reply with no body.
pub(crate) fn no_content() -> Reply {
    status(StatusCode::NO_CONTENT)
}

/// An empty reply with `status`.
pub(crate) fn status(status: StatusCode) -> Reply {
    reply(status, empty(), None)
}

/// A reply with `text` (`text/plain`).
pub(crate) fn text(status: StatusCode, text: impl Into<Bytes>) -> Reply {
    reply(status, full(text), Some("text/plain; charset=utf-8"))
}

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

pub(crate) fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// The headers every reply carries (Docker's: the API version, the OS, the server).
pub(crate) fn with_headers(mut r: Reply) -> Reply {
    let h = r.headers_mut();
    h.insert("api-version", HeaderValue::from_static(super::API_VERSION));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    h.insert("ostype", HeaderValue::from_static("linux"));
    h.insert(
        "server",
        HeaderValue::from_static(concat!("cargohold/", env!("CARGO_PKG_VERSION"), " (linux)")),
    );
    r
}

/// Splits `/v1.41/containers/json` into 41 and `/containers/json`; a bare path gets the
/// server's version. A version older than the minimum is refused as Docker refuses it.
pub(crate) fn split_version(path: &str) -> Result<(u32, &str), ApiError> {
    let own = minor(super::API_VERSION);
    let Some(rest) = path.strip_prefix("/v") else {
        return Ok((own, path));
    };
    let (v, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let Some(m) = v.strip_prefix("1.").and_then(|m| m.parse::<u32>().ok()) else {
        return Ok((own, path));
    };
    if m < minor(super::MIN_API_VERSION) {
        return Err(ApiError::bad_request(format!(
            "client version 1.{m} is too old. Minimum supported API version is {}, please \
             upgrade your client to a newer version",
            super::MIN_API_VERSION
        )));
    }
    Ok((m.min(own), tail))
}

fn minor(v: &str) -> u32 {
    v.split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0)
}

/// A path segment with `%XX` escapes decoded (invalid ones kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `f` (the engine's blocking calls) on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("the request failed: {e}"))))
}

/// A reply `result` gives: its value as JSON with `status`, or its error.
pub(crate) fn reply_json<T: Serialize>(status: StatusCode, result: Result<T, ApiError>) -> Reply {
    match result {
        Ok(v) => json(status, &v),
        Err(e) => e.reply(),
    }
}

/// A route that reads its body as JSON of type `B` and answers with what `f` makes of it
/// (run on the blocking pool) as JSON with `status`, or with the error of either.
pub(crate) async fn json_route<B, T, F>(call: &mut Call, status: StatusCode, f: F) -> Reply
where
    B: DeserializeOwned + Send + 'static,
    T: Serialize + Send + 'static,
    F: FnOnce(B) -> Result<T, ApiError> + Send + 'static,
{
    match call.json::<B>().await {
        Ok(body) => reply_json(status, blocking(move || f(body)).await),
        Err(e) => e.reply(),
    }
}

/// The sending side of a streamed reply, for blocking code: each [`send`](Self::send)
/// is a chunk; the reply ends when this is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Stream(tokio::sync::mpsc::Sender<io::Result<Frame<Bytes>>>);

impl Stream {
    /// Sends a chunk; false once the client is gone (stop producing then).
    pub(crate) fn send(&self, bytes: impl Into<Bytes>) -> bool {
        self.0.blocking_send(Ok(Frame::data(bytes.into()))).is_ok()
    }

    /// Sends `value` as one line of JSON (Docker's progress streams).
    pub(crate) fn send_json<T: Serialize>(&self, value: &T) -> bool {
        let mut line = serde_json::to_vec(value).expect("a message serialises");
        line.push(b'\n');
        self.send(line)
    }

    /// Whether the client is gone.
    pub(crate) fn closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A streamed reply of `content_type` and the [`Stream`] that feeds it.
pub(crate) fn streamed(content_type: &'static str) -> (Reply, Stream) {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut r = Response::new(BodyExt::boxed(ReceiverStream(rx)));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    (r, Stream(tx))
}

/// A reply body fed by an mpsc channel.
struct ReceiverStream(tokio::sync::mpsc::Receiver<io::Result<Frame<Bytes>>>);

impl hyper::body::Body for ReceiverStream {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<io::Result<Frame<Bytes>>>> {
        self.0.poll_recv(cx)
    }
}

/// Docker's multiplexed stream framing (no tty): an 8-byte header — the stream (0 stdin,
/// 1 stdout, 2 stderr), three zero bytes, the length big-endian — then the bytes.
pub(crate) fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.push(stream);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Hijacks the connection (`101 UPGRADED`, `Upgrade: tcp`, Docker's raw stream) and runs
/// `serve` on the blocking pool with one end of a socket pair whose other end is copied
/// to and from the client; `serve` reads the client's bytes and writes its own to it, and
/// the connection ends when `serve` returns (and drops its end).
pub(crate) fn hijack<F>(call: &mut Call, serve: F) -> Reply
where
    F: FnOnce(std::os::unix::net::UnixStream) + Send + 'static,
{
    let upgrade = call.parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
    tokio::spawn(async move {
        let Some(upgrade) = upgrade else { return };
        let Ok(upgraded) = upgrade.await else { return };
        let Ok((ours, theirs)) = std::os::unix::net::UnixStream::pair() else {
            return;
        };
        let ours = match ours
            .set_nonblocking(true)
            .and_then(|()| tokio::net::UnixStream::from_std(ours))
        {
            Ok(s) => s,
            Err(_) => return,
        };
        let mut client = hyper_util::rt::TokioIo::new(upgraded);
        let served = tokio::task::spawn_blocking(move || serve(theirs));
        let mut ours = ours;
        let _ = tokio::io::copy_bidirectional(&mut client, &mut ours).await;
        // The client gone (or done): `serve`'s end reads the end and its writes fail, so
        // that it does not wait for ever on a peer nobody reads or writes.
        drop(ours);
        drop(client);
        let _ = served.await;
    });
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.docker.raw-stream"),
    );
    h.insert("connection", HeaderValue::from_static("Upgrade"));
    h.insert("upgrade", HeaderValue::from_static("tcp"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_split_and_old_ones_refused() {
        assert_eq!(
            split_version("/v1.41/containers/json").unwrap(),
            (41, "/containers/json")
        );
        assert_eq!(
            split_version("/containers/json").unwrap(),
            (44, "/containers/json")
        );
        // newer than ours: served as ours, never refused
        assert_eq!(split_version("/v1.53/_ping").unwrap(), (44, "/_ping"));
        let e = split_version("/v1.12/info").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("too old"), "{}", e.message);
    }

    #[test]
    fn queries_read_as_docker_reads_them() {
        let q = Query::parse("all=1&filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D&x=true&n=5");
        assert!(q.flag("all") && q.flag("x") && !q.flag("missing"));
        assert_eq!(q.int::<u32>("n").unwrap(), Some(5));
        assert!(q.int::<u32>("x").is_err());
        let f = q.filters().unwrap();
        assert_eq!(f["label"], vec!["a=b".to_owned()]);
        let old = Query::parse("filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D");
        assert_eq!(old.filters().unwrap()["status"], vec!["running".to_owned()]);
        assert!(Query::parse("filters=nope").filters().is_err());
    }

    #[test]
    fn streams_are_framed_as_docker_frames_them() {
        assert_eq!(frame(2, b"hi"), vec![2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(percent_decode("a%2Fb%zz"), "a/b%zz");
    }
}
