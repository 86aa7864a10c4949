//! A registry as a whole rather than one image: checking a login (`GET /v2/` with the
//! credentials, answering a basic or bearer challenge), listing its catalog
//! (`/v2/_catalog`) and a repository's tags (`/v2/<name>/tags/list`), both paginated by
//! the `Link: <…>; rel="next"` header of the distribution spec, and describing what a
//! reference names there without pulling it.

use std::time::Duration;

use oci_spec::image::{Descriptor, MediaType, Platform};

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
            let (link, v) = get_json(client, op, &url)?;
            next = link
                .as_deref()
                .and_then(next_link)
                .map(|l| client.absolute(&l));
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

/// One repository a search found ([`Registry::search`]), in the shape of Docker's search
/// results.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[non_exhaustive]
pub struct SearchResult {
    /// The repository as a reference names it (`busybox`, `127.0.0.1:5000/team/app`).
    pub name: String,
    /// Its description (a registry without one: its tags, `tags: 1, latest`).
    #[serde(default)]
    pub description: String,
    /// Its stars (Docker Hub's; 0 elsewhere).
    #[serde(default)]
    pub star_count: u64,
    /// Whether it is an official image (Docker Hub's).
    #[serde(default)]
    pub is_official: bool,
    /// Whether it is built automatically (Docker Hub's, deprecated).
    #[serde(default)]
    pub is_automated: bool,
}

impl Registry {
    /// The repositories whose name contains `term` (case-insensitive), at most `limit`, as
    /// `docker search` lists them: Docker Hub's search (`index.docker.io/v1/search`) for
    /// `docker.io`; any other registry's catalog (`/v2/_catalog`), filtered, each result
    /// described by its tags.
    ///
    /// # Errors
    /// As [`catalog`](Self::catalog); for Docker Hub, transport errors and statuses of
    /// its search.
    pub fn search(&self, term: &str, limit: usize) -> Result<Vec<SearchResult>> {
        if self.domain == "docker.io" {
            return self.hub_search(term, limit);
        }
        let wanted = term.to_ascii_lowercase();
        let mut found = Vec::new();
        for repo in self.catalog()? {
            if found.len() == limit {
                break;
            }
            if !repo.to_ascii_lowercase().contains(&wanted) {
                continue;
            }
            let mut tags = self.tags(&repo).unwrap_or_default();
            tags.sort();
            found.push(SearchResult {
                name: format!("{}/{repo}", self.domain),
                description: if tags.is_empty() {
                    String::new()
                } else {
                    format!("tags: {}", tags.join(", "))
                },
                star_count: 0,
                is_official: false,
                is_automated: false,
            });
        }
        Ok(found)
    }

    /// Docker Hub's search, as the Docker daemon asks it.
    fn hub_search(&self, term: &str, limit: usize) -> Result<Vec<SearchResult>> {
        let client = Client::new(
            "index.docker.io",
            &self.access.insecure,
            self.access.credentials.clone(),
            self.access.idle_timeout,
            "docker.io".to_owned(),
        );
        let query = super::client::urlencode(term);
        let url = client.absolute(&format!("/v1/search?q={query}&n={limit}"));
        let op = "searching";
        let (_, v) = get_json(&client, op, &url)?;
        let mut results: Vec<SearchResult> = serde_json::from_value(v["results"].clone())
            .map_err(|e| client.err(op, &url, format!("not a search result: {e}")))?;
        results.truncate(limit);
        Ok(results)
    }
}

/// What a tag or digest names in a registry, as the registry serves it: what `docker
/// manifest inspect` and the Engine API's distribution inspect show.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RemoteManifest {
    /// The manifest or index: its media type, digest and size as served.
    pub descriptor: Descriptor,
    /// The platforms it is for: each entry's of an index; a manifest's config's.
    pub platforms: Vec<Platform>,
}

impl Registry {
    /// Describes what `reference` (a tag or a `sha256:` digest) names in `repository`
    /// (`library/busybox`), without pulling it: the manifest or index the registry serves
    /// and its platforms (for a single manifest, from its config blob).
    ///
    /// # Errors
    /// [`Error::Registry`] for transport errors and statuses (`HTTP 404` for an unknown
    /// repository or tag, `HTTP 401` refused credentials), [`Error::InvalidImage`] for a
    /// manifest that is not JSON.
    pub fn manifest(&self, repository: &str, reference: &str) -> Result<RemoteManifest> {
        let subject = format!("{}/{repository}:{reference}", self.domain);
        let client = self.client(&subject);
        let (bytes, media, digest) = super::get_manifest(&client, repository, reference)?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| super::invalid(&digest, format!("bad manifest: {e}")))?;
        let platforms = if super::is_index(&media, &bytes) {
            v["manifests"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| serde_json::from_value(m["platform"].clone()).ok())
                .collect()
        } else {
            config_platform(&client, repository, &v)
                .into_iter()
                .collect()
        };
        let descriptor =
            Descriptor::new(MediaType::from(media.as_str()), bytes.len() as u64, digest);
        Ok(RemoteManifest {
            descriptor,
            platforms,
        })
    }
}

/// The platform a manifest's config blob names; `None` when it cannot be read or names
/// none (as Docker leaves it out then).
fn config_platform(
    client: &Client,
    repository: &str,
    manifest: &serde_json::Value,
) -> Option<Platform> {
    let digest = manifest["config"]["digest"].as_str()?;
    let url = client.url(&format!("{repository}/blobs/{digest}"));
    let mut r = client
        .send("reading the config of", "GET", &url, &[], None)
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    let body = r
        .body_mut()
        .with_config()
        .limit(4 << 20)
        .read_to_vec()
        .ok()?;
    let config: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let mut p = serde_json::Map::new();
    for key in ["architecture", "os", "variant", "os.version", "os.features"] {
        if let Some(v) = config.get(key).filter(|v| !v.is_null()) {
            p.insert(key.to_owned(), v.clone());
        }
    }
    if p.get("os").is_none() && p.get("architecture").is_none() {
        return None;
    }
    serde_json::from_value(serde_json::Value::Object(p)).ok()
}

/// `GET url` (JSON, at most 16 MiB): its `Link` header and its body.
fn get_json(client: &Client, op: &str, url: &str) -> Result<(Option<String>, serde_json::Value)> {
    let mut r = client.send(op, "GET", url, &[("Accept", "application/json")], None)?;
    if r.status() != 200 {
        return Err(client.status_err(op, url, r));
    }
    let link = r
        .headers()
        .get("link")
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    let body = r
        .body_mut()
        .with_config()
        .limit(16 << 20)
        .read_to_vec()
        .map_err(|e| client.err(op, url, e.to_string()))?;
    let v =
        serde_json::from_slice(&body).map_err(|e| client.err(op, url, format!("not JSON: {e}")))?;
    Ok((link, v))
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
