//! A small OCI distribution (v2) client over ureq: scheme choice, authentication
//! (anonymous, bearer token via `WWW-Authenticate`, basic), credentials from Docker's
//! client config (`credentials.rs`) unless the caller gives some.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;

use super::Credentials;
use crate::{Error, Result};

/// The host Docker Hub's registry API lives on.
pub(crate) const DOCKER_HUB_REGISTRY: &str = "registry-1.docker.io";
/// The key Docker Hub credentials have in `~/.docker/config.json`.
pub(crate) const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub(crate) fn parse_challenge(h: &str) -> Option<Challenge> {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let (k, after) = s.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (q[..end].to_owned(), &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        params.insert(k, v);
        s = next.trim_start().trim_start_matches(',').trim_start();
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.remove("realm")?,
            service: params.remove("service"),
            scope: params.remove("scope"),
        }),
        _ => None,
    }
}

/// Credentials for `registry` from a docker `config.json` (`auths.<host>.auth`, base64
/// `user:password`, or `username`/`password`).
pub(crate) fn credentials_from_config(json: &[u8], registry: &str) -> Option<Credentials> {
    let v: serde_json::Value = serde_json::from_slice(json).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let keys: Vec<String> = if registry == "docker.io" {
        vec![
            DOCKER_HUB_AUTH_KEY.into(),
            "docker.io".into(),
            "index.docker.io".into(),
            DOCKER_HUB_REGISTRY.into(),
        ]
    } else {
        vec![
            registry.into(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    };
    let entry = keys.iter().find_map(|k| {
        auths.get(k).or_else(|| {
            auths
                .iter()
                .find(|(key, _)| {
                    key.trim_end_matches('/')
                        .trim_end_matches("/v1")
                        .trim_end_matches("/v2")
                        == k
                })
                .map(|(_, v)| v)
        })
    })?;
    if let Some(a) = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .ok()?;
        let s = String::from_utf8(raw).ok()?;
        let (u, p) = s.split_once(':')?;
        return Some(Credentials {
            username: u.to_owned(),
            password: p.to_owned(),
        });
    }
    let u = entry.get("username")?.as_str()?;
    let p = entry.get("password")?.as_str()?;
    Some(Credentials {
        username: u.to_owned(),
        password: p.to_owned(),
    })
}

/// Whether plain HTTP is allowed for `host` without an explicit setting.
pub(crate) fn is_local(host: &str) -> bool {
    let h = host
        .rsplit_once(':')
        .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    matches!(h, "localhost" | "127.0.0.1" | "[::1]" | "::1") || h.starts_with("127.")
}

/// One registry, one repository's worth of requests.
#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
    credentials: Option<Credentials>,
    /// The `Authorization` header won by the last challenge (`Bearer …` or `Basic …`).
    auth: Mutex<Option<String>>,
    /// The reference, for error messages.
    pub subject: String,
    /// The registry as references name it (`docker.io`, `host:port`), for the login hint.
    domain: String,
}

/// A response: status, headers we need, body.
pub(crate) type Response = ureq::http::Response<ureq::Body>;

impl Client {
    /// `idle` bounds each read and write: a connection silent that long fails the request.
    pub(crate) fn new(
        domain: &str,
        insecure: &[String],
        credentials: Option<Credentials>,
        idle: Duration,
        subject: String,
    ) -> Self {
        let host = if domain == "docker.io" {
            DOCKER_HUB_REGISTRY
        } else {
            domain
        };
        let plain = is_local(host) || insecure.iter().any(|i| i == domain || i == host);
        let scheme = if plain { "http" } else { "https" };
        let credentials = credentials.or_else(|| super::credentials::lookup(domain));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(idle))
            .timeout_per_write(Some(idle))
            .https_only(!plain)
            .build()
            .into();
        Client {
            agent,
            base: format!("{scheme}://{host}"),
            credentials,
            auth: Mutex::new(None),
            subject,
            domain: domain.to_owned(),
        }
    }

    /// `https://host/v2/<rest>`
    pub(crate) fn url(&self, rest: &str) -> String {
        format!("{}/v2/{rest}", self.base)
    }

    /// An absolute URL from a `Location` header (which may be relative).
    pub(crate) fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_owned()
        } else {
            format!("{}{}", self.base, location)
        }
    }

    pub(crate) fn err(&self, op: &str, url: &str, reason: impl Into<String>) -> Error {
        Error::Registry {
            op: op.to_owned(),
            reference: self.subject.clone(),
            url: url.to_owned(),
            reason: reason.into(),
        }
    }

    /// An error for an unexpected status, with the registry's message.
    pub(crate) fn status_err(&self, op: &str, url: &str, mut r: Response) -> Error {
        let status = r.status();
        let body = r
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        let msg = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        self.err(op, url, format!("HTTP {status}: {}", msg.trim()))
    }

    /// Sends a request built by `make` (called again after authenticating on a 401).
    /// `body` must be re-sendable (bytes), so a retry sends the same thing.
    pub(crate) fn send(
        &self,
        op: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<Response> {
        let mut tried_auth = false;
        loop {
            let mut req = ureq::http::Request::builder().method(method).uri(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(a) = self.auth_header() {
                req = req.header("Authorization", a);
            }
            let r = match body {
                Some(b) => self.agent.run(
                    req.body(b.to_vec())
                        .map_err(|e| self.err(op, url, e.to_string()))?,
                ),
                None => self
                    .agent
                    .run(req.body(()).map_err(|e| self.err(op, url, e.to_string()))?),
            }
            .map_err(|e| self.err(op, url, e.to_string()))?;
            if r.status() == 401 && !tried_auth {
                tried_auth = true;
                let challenge = r
                    .headers()
                    .get("www-authenticate")
                    .and_then(|h| h.to_str().ok())
                    .and_then(parse_challenge)
                    .ok_or_else(|| {
                        self.err(
                            op,
                            url,
                            "HTTP 401 without a usable WWW-Authenticate challenge",
                        )
                    })?;
                self.authenticate(op, &challenge)?;
                continue;
            }
            if r.status() == 401 {
                return Err(self.with_login_hint(self.status_err(op, url, r)));
            }
            return Ok(r);
        }
    }

    /// Sends a streamed body (no retry: callers authenticate first with a body-less request).
    pub(crate) fn send_stream(
        &self,
        op: &str,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &mut (dyn Read + Send + Sync),
    ) -> Result<Response> {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(a) = self.auth_header() {
            req = req.header("Authorization", a);
        }
        let req = req
            .body(ureq::SendBody::from_reader(body))
            .map_err(|e| self.err(op, url, e.to_string()))?;
        self.agent
            .run(req)
            .map_err(|e| self.err(op, url, e.to_string()))
    }

    /// Adds to a refusal how to log in, in Docker's words: the credentials are read from
    /// Docker's client config, which `docker login` (or the engine example's `login`)
    /// writes.
    pub(crate) fn with_login_hint(&self, e: Error) -> Error {
        match e {
            Error::Registry {
                op,
                reference,
                url,
                reason,
            } => {
                let server = if self.domain == "docker.io" {
                    String::new()
                } else {
                    format!(" {}", self.domain)
                };
                let how = if self.credentials.is_some() {
                    "the credentials were refused"
                } else {
                    "no credentials are stored for this registry"
                };
                Error::Registry {
                    op,
                    reference,
                    url,
                    reason: format!(
                        "{reason} ({how}; the registry may require 'docker login{server}')"
                    ),
                }
            }
            e => e,
        }
    }

    fn auth_header(&self) -> Option<String> {
        self.auth.lock().expect("auth lock").clone()
    }

    fn basic(&self) -> Option<String> {
        let c = self.credentials.as_ref()?;
        let enc = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", c.username, c.password));
        Some(format!("Basic {enc}"))
    }

    /// Answers a challenge: a token from the realm, or basic credentials.
    fn authenticate(&self, op: &str, c: &Challenge) -> Result<()> {
        match c {
            Challenge::Basic => {
                let b = self.basic().ok_or_else(|| {
                    self.with_login_hint(self.err(
                        op,
                        &self.base,
                        "unauthorized: authentication required",
                    ))
                })?;
                *self.auth.lock().expect("auth lock") = Some(b);
                Ok(())
            }
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let mut url = realm.clone();
                let mut q = Vec::new();
                if let Some(s) = service {
                    q.push(format!("service={}", urlencode(s)));
                }
                if let Some(s) = scope {
                    for part in s.split(' ') {
                        q.push(format!("scope={}", urlencode(part)));
                    }
                }
                if !q.is_empty() {
                    url.push(if url.contains('?') { '&' } else { '?' });
                    url.push_str(&q.join("&"));
                }
                let mut req = self.agent.get(&url);
                if let Some(b) = self.basic() {
                    req = req.header("Authorization", b);
                }
                let mut r = req
                    .call()
                    .map_err(|e| self.err("getting a token", &url, e.to_string()))?;
                if r.status() == 401 || r.status() == 403 {
                    return Err(self.with_login_hint(self.status_err("getting a token", &url, r)));
                }
                if r.status() != 200 {
                    return Err(self.status_err("getting a token", &url, r));
                }
                let body = r
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_string()
                    .map_err(|e| self.err("getting a token", &url, e.to_string()))?;
                let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                    self.err("getting a token", &url, format!("bad token response: {e}"))
                })?;
                let token = v["token"]
                    .as_str()
                    .or_else(|| v["access_token"].as_str())
                    .ok_or_else(|| self.err("getting a token", &url, "no token in the response"))?;
                *self.auth.lock().expect("auth lock") = Some(format!("Bearer {token}"));
                Ok(())
            }
        }
    }
}

/// `s` escaped for a URL's query.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"Bearer realm=https://x/token, service=x"#),
            Some(Challenge::Bearer {
                realm: "https://x/token".into(),
                service: Some("x".into()),
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None, "no realm");
    }

    #[test]
    fn docker_config_credentials() {
        let json = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNz"},
            "localhost:5000":{"auth":"YTpiOmM="},
            "https://quay.io":{"username":"q","password":"p"}
        }}"#;
        let c = credentials_from_config(json, "docker.io").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user", "pass"));
        let c = credentials_from_config(json, "localhost:5000").unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("a", "b:c"),
            "password may hold ':'"
        );
        let c = credentials_from_config(json, "quay.io").unwrap();
        assert_eq!(c.username, "q");
        assert!(credentials_from_config(json, "ghcr.io").is_none());
        assert!(credentials_from_config(b"not json", "docker.io").is_none());
    }

    #[test]
    fn plain_http_only_for_local() {
        assert!(is_local("localhost:5000"));
        assert!(is_local("127.0.0.1:41234"));
        assert!(is_local("[::1]:5000"));
        assert!(!is_local("registry.example.com"));
        assert!(!is_local("localhost.evil.com:5000"));
        let c = Client::new(
            "example.com:5000",
            &[],
            None,
            Duration::from_secs(60),
            "x".into(),
        );
        assert!(c.url("").starts_with("https://"));
        let c = Client::new(
            "example.com:5000",
            &["example.com:5000".into()],
            None,
            Duration::from_secs(60),
            "x".into(),
        );
        assert!(c.url("").starts_with("http://"));
        let c = Client::new("docker.io", &[], None, Duration::from_secs(60), "x".into());
        assert_eq!(
            c.url("library/busybox/manifests/latest"),
            "https://registry-1.docker.io/v2/library/busybox/manifests/latest"
        );
    }

    #[test]
    fn urlencodes_scopes() {
        assert_eq!(
            urlencode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }
}
