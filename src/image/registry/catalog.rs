//! A registry as a whole rather than one image: checking a login (`GET /v2/` with the
//! credentials, answering a basic or bearer challenge) and listing its catalog
//! (`/v2/_catalog`) and a repository's tags (`/v2/<name>/tags/list`), both paginated by
//! the `Link: <…>; rel="next"` header of the distribution spec.

use std::time::Duration;

use super::client::{Client, DOCKER_HUB_AUTH_KEY};
use super::{Access, Credentials};
use crate::{Error, Result};

/// How many entries a page of the catalog or of a tag list asks for.
const PAGE: usize = 100;
/// At most this many entries are listed, whatever the registry sends.
const MAX_ENTRIES: usize = 100_000;

/// One registry (`127.0.0.1:5000`, `registry.example.com`, `docker.io`): what `docker
/// login` checks and what a search lists. Credentials and plain-HTTP registries are set
/// as for pulls; without [`credentials`](Self::credentials) the ones `docker login`
/// stored are used (see [`DockerConfig`](crate::DockerConfig)).
///
/// ```no_run
/// # fn main() -> cargohold::Result<()> {
/// use cargohold::Registry;
/// let mut registry = Registry::new("127.0.0.1:5000");
/// registry.credentials("user", "secret").login()?;
/// for repository in registry.catalog()? {
///     println!("{repository}: {:?}", registry.tags(&repository)?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    domain: String,
    access: Access,
}

impl Registry {
    /// The registry at `server`: `host[:port]`, a URL (`https://host/v1/`; `http://` allows
    /// plain HTTP to it), or Docker Hub (`docker.io`, `index.docker.io`,
    /// `https://index.docker.io/v1/`).
    pub fn new(server: &str) -> Registry {
        let key = super::DockerConfig::server_key(server);
        let domain = if key == DOCKER_HUB_AUTH_KEY {
            "docker.io".to_owned()
        } else {
            key
        };
        let mut access = Access::default();
        if server.starts_with("http://") {
            access.insecure.push(domain.clone());
        }
        Registry { domain, access }
    }

    /// The registry as image references name it (`docker.io`, `127.0.0.1:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    access_setters!(
        "Fails a request when the registry sends nothing for this long (default 60 s)."
    );

    fn client(&self, subject: &str) -> Client {
        Client::new(
            &self.domain,
            &self.access.insecure,
            self.access.credentials.clone(),
            self.access.idle_timeout,
            subject.to_owned(),
        )
    }

    /// Checks the credentials against the registry (`GET /v2/`, answering its basic or
    /// bearer challenge), as `docker login` does before it stores them.
    ///
    /// # Errors
    /// [`Error::Registry`]: for refused credentials "login attempt to … failed with status:
    /// 401 Unauthorized", as Docker words it; transport errors and other statuses.
    pub fn login(&self) -> Result<()> {
        let client = self.client(&self.domain);
        let url = client.url("");
        let refused = |url: &str| Error::Registry {
            op: "login attempt to".into(),
            reference: self.domain.clone(),
            url: url.to_owned(),
            reason: "failed with status: 401 Unauthorized".into(),
        };
        let r = match client.send("login attempt to", "GET", &url, &[], None) {
            Ok(r) => r,
            Err(Error::Registry { reason, .. })
                if reason.starts_with("HTTP 401") || reason.starts_with("HTTP 403") =>
            {
                return Err(refused(&url))
            }
            Err(Error::Registry { reason, .. }) if reason.contains("authentication required") => {
                return Err(refused(&url))
            }
            Err(e) => return Err(e),
        };
        if r.status() == 401 || r.status() == 403 {
            return Err(refused(&url));
        }
        if !r.status().is_success() {
            return Err(client.status_err("login attempt to", &url, r));
        }
        Ok(())
    }

    /// The credentials this registry would be sent: the ones set, else the stored ones.
    pub fn stored_credentials(&self) -> Option<Credentials> {
        self.access
            .credentials
            .clone()
            .or_else(|| super::credentials::lookup(&self.domain))
    }

    /// Every repository of the registry's catalog (`GET /v2/_catalog`, all pages), in the
    /// registry's order (lexical, by the spec).
    ///
    /// # Errors
    /// [`Error::Registry`] for transport errors, refusals (Docker Hub has no catalog) and
    /// answers that are not a catalog.
    pub fn catalog(&self) -> Result<Vec<String>> {
        let client = self.client(&self.domain);
        let first = client.url(&format!("_catalog?n={PAGE}"));
        self.pages(&client, "listing the catalog of", first, "repositories")
    }

    /// The tags of `repository` (`library/busybox`, `team/app`) in this registry.
    ///
    /// # Errors
    /// As [`catalog`](Self::catalog); a repository the registry does not know is an
    /// [`Error::Registry`] with its 404.
    pub fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let subject = format!("{}/{repository}", self.domain);
        let client = self.client(&subject);
        let first = client.url(&format!("{repository}/tags/list?n={PAGE}"));
        self.pages(&client, "listing the tags of", first, "tags")
    }

    /// Follows `Link: <next>; rel="next"` from `url`, collecting the `field` arrays.
    fn pages(&self, client: &Client, op: &str, url: String, field: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next = Some(url);
        while let Some(url) = next.take() {
            let mut r = client.send(op, "GET", &url, &[("Accept", "application/json")], None)?;
            if r.status() != 200 {
                return Err(client.status_err(op, &url, r));
            }
            next = r
                .headers()
                .get("link")
                .and_then(|h| h.to_str().ok())
                .and_then(next_link)
                .map(|l| client.absolute(&l));
            let body = r
                .body_mut()
                .with_config()
                .limit(16 << 20)
                .read_to_string()
                .map_err(|e| client.err(op, &url, e.to_string()))?;
            let v: serde_json::Value = serde_json::from_str(&body)
                .map_err(|e| client.err(op, &url, format!("not JSON: {e}")))?;
            let page = match &v[field] {
                serde_json::Value::Null => Vec::new(),
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect(),
                _ => return Err(client.err(op, &url, format!("no {field} array"))),
            };
            if page.is_empty() {
                break;
            }
            out.extend(page);
            if out.len() >= MAX_ENTRIES {
                out.truncate(MAX_ENTRIES);
                break;
            }
        }
        Ok(out)
    }
}

/// The target of `rel="next"` in a `Link` header (`</v2/_catalog?last=b&n=2>; rel="next"`).
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then(|| target.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(
            next_link(r#"<http://x/a>; rel="prev", <http://x/b>; rel=next"#).as_deref(),
            Some("http://x/b")
        );
        assert_eq!(next_link(r#"</v2/x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn servers_are_named_as_references_name_them() {
        assert_eq!(
            Registry::new("https://index.docker.io/v1/").domain(),
            "docker.io"
        );
        assert_eq!(Registry::new("registry-1.docker.io").domain(), "docker.io");
        assert_eq!(
            Registry::new("http://127.0.0.1:5000/").domain(),
            "127.0.0.1:5000"
        );
        assert_eq!(
            Registry::new("http://example.com:5000").access.insecure,
            ["example.com:5000"]
        );
        assert!(Registry::new("example.com:5000").access.insecure.is_empty());
    }
}
