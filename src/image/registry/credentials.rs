//! Docker's client credentials: `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`)
//! and the `docker-credential-*` helpers it names, read and written as the `docker` CLI does.
//!
//! Where the credentials for a registry come from, in Docker's order:
//! 1. `credHelpers.<registry>`: the helper `docker-credential-<name>` on `PATH`;
//! 2. `credsStore`: the helper for every registry;
//! 3. `auths.<registry>.auth`: base64 of `user:password` in the file itself.
//!
//! A helper speaks Docker's protocol: its one argument is the action; `get` reads the
//! server URL on stdin and prints `{"ServerURL","Username","Secret"}`, `store` reads that
//! JSON on stdin, `erase` reads the server URL. A helper that answers `get` with
//! "credentials not found" (and a non-zero exit) has none for that server.
//!
//! Docker Hub's key is `https://index.docker.io/v1/`; any other registry's is its
//! `host[:port]`. The file keeps whatever else it holds (`proxies`, `psFormat`, …).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use super::client::{credentials_from_config, DOCKER_HUB_AUTH_KEY, DOCKER_HUB_REGISTRY};
use super::Credentials;
use crate::{Error, Result};

/// Docker's client configuration directory (`~/.docker`) and its credential store: what
/// `docker login` writes and every pull and push reads. Pulls and pushes consult
/// [`DockerConfig::from_env`] whenever their options carry no
/// [`credentials`](crate::PullOptions::credentials).
///
/// ```no_run
/// # fn main() -> cargohold::Result<()> {
/// use cargohold::{Credentials, DockerConfig, Registry};
/// let config = DockerConfig::from_env();
/// let creds = Credentials::new("user", "secret");
/// Registry::new("registry.example.com:5000").credentials("user", "secret").login()?;
/// config.store("registry.example.com:5000", &creds)?;
/// assert_eq!(config.get("registry.example.com:5000")?, Some(creds));
/// config.erase("registry.example.com:5000")?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    dir: PathBuf,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG`, else `$HOME/.docker` (as the `docker` CLI chooses it).
    pub fn from_env() -> DockerConfig {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
            .unwrap_or_else(|| PathBuf::from("/root/.docker"));
        DockerConfig { dir }
    }

    /// The configuration in directory `dir` (which holds `config.json`).
    pub fn open(dir: impl AsRef<Path>) -> DockerConfig {
        DockerConfig {
            dir: dir.as_ref().to_owned(),
        }
    }

    /// The path of `config.json`.
    pub fn path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The key `server` has in the file and for helpers: `https://index.docker.io/v1/` for
    /// Docker Hub (`docker.io`, `index.docker.io`, `registry-1.docker.io`, or nothing),
    /// else its `host[:port]` without a scheme or path.
    pub fn server_key(server: &str) -> String {
        let host = hostname(server);
        if host.is_empty() || is_hub(host) {
            DOCKER_HUB_AUTH_KEY.to_owned()
        } else {
            host.to_owned()
        }
    }

    /// The credentials stored for `server` (a registry `host[:port]`, `docker.io`, or a
    /// key as written by `docker login`), from its helper or the file; `None` if there
    /// are none.
    ///
    /// # Errors
    /// [`Error::Os`] if the file exists but cannot be read, [`Error::Registry`] if a
    /// helper fails (other than "not found").
    pub fn get(&self, server: &str) -> Result<Option<Credentials>> {
        let json = self.read()?;
        let key = Self::server_key(server);
        if let Some(helper) = helper_for(&json, &key) {
            return helper_get(&helper, &key);
        }
        let bytes = serde_json::to_vec(&json).unwrap_or_default();
        let domain = if key == DOCKER_HUB_AUTH_KEY {
            "docker.io"
        } else {
            key.as_str()
        };
        Ok(credentials_from_config(&bytes, domain))
    }

    /// Stores `credentials` for `server` as `docker login` does: in its helper (and an
    /// empty `auths` entry naming the server), else base64 in `auths.<server>.auth`. The
    /// file is replaced atomically and readable by its owner only.
    ///
    /// # Errors
    /// [`Error::Os`] if the file cannot be read or written, [`Error::Registry`] if the
    /// helper fails.
    pub fn store(&self, server: &str, credentials: &Credentials) -> Result<()> {
        let mut json = self.read()?;
        let key = Self::server_key(server);
        let entry = match helper_for(&json, &key) {
            Some(helper) => {
                let input = serde_json::json!({
                    "ServerURL": key,
                    "Username": credentials.username,
                    "Secret": credentials.password,
                });
                run_helper(&helper, "store", input.to_string().as_bytes(), &key)?;
                serde_json::json!({})
            }
            None => {
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{}", credentials.username, credentials.password));
                serde_json::json!({ "auth": auth })
            }
        };
        auths(&mut json).insert(key, entry);
        self.write(&json)
    }

    /// Forgets the credentials of `server` (`docker logout`): erases them from its helper
    /// and removes its `auths` entry. Whether there were any.
    ///
    /// # Errors
    /// As [`store`](Self::store).
    pub fn erase(&self, server: &str) -> Result<bool> {
        let mut json = self.read()?;
        let key = Self::server_key(server);
        let mut found = false;
        if let Some(helper) = helper_for(&json, &key) {
            found = helper_get(&helper, &key)?.is_some();
            if found {
                run_helper(&helper, "erase", key.as_bytes(), &key)?;
            }
        }
        let map = auths(&mut json);
        let keys: Vec<String> = map
            .keys()
            .filter(|k| Self::server_key(k) == key)
            .cloned()
            .collect();
        for k in &keys {
            map.remove(k);
        }
        if keys.is_empty() && !found {
            return Ok(false);
        }
        self.write(&json)?;
        Ok(true)
    }

    /// The file as JSON; an empty object if it does not exist.
    fn read(&self) -> Result<serde_json::Value> {
        let path = self.path();
        match std::fs::read(&path) {
            Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(serde_json::json!({})),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::Os {
                op: "parsing docker config".into(),
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
            Err(e) => Err(Error::Os {
                op: "reading docker config".into(),
                path,
                source: e,
            }),
        }
    }

    /// Writes the file atomically (0600 in a 0700 directory, as Docker makes them).
    fn write(&self, json: &serde_json::Value) -> Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let os = |op: &str, path: &Path, source| Error::Os {
            op: op.into(),
            path: path.to_owned(),
            source,
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| os("creating docker config directory", &self.dir, e))?;
        let path = self.path();
        let tmp = self
            .dir
            .join(format!("config.json.{}.tmp", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(json).unwrap_or_default();
        bytes.push(b'\n');
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, &path)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(os("writing docker config", &path, e));
        }
        Ok(())
    }
}

/// The credentials a pull or push of `domain` uses when its options set none: the
/// environment's docker config, its helpers included. A failing helper counts as none.
pub(crate) fn lookup(domain: &str) -> Option<Credentials> {
    DockerConfig::from_env().get(domain).ok().flatten()
}

/// `host[:port]` of a server address (`https://host:5000/v1/` → `host:5000`).
fn hostname(server: &str) -> &str {
    let s = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"))
        .unwrap_or(server);
    s.split('/').next().unwrap_or(s)
}

fn is_hub(host: &str) -> bool {
    matches!(host, "docker.io" | "index.docker.io") || host == DOCKER_HUB_REGISTRY
}

/// The `auths` object of the file, made if missing.
fn auths(json: &mut serde_json::Value) -> &mut serde_json::Map<String, serde_json::Value> {
    if !json.is_object() {
        *json = serde_json::json!({});
    }
    let obj = json.as_object_mut().expect("an object");
    let a = obj.entry("auths").or_insert_with(|| serde_json::json!({}));
    if !a.is_object() {
        *a = serde_json::json!({});
    }
    a.as_object_mut().expect("an object")
}

/// The helper for `key`: `credHelpers` (by key or by host) first, then `credsStore`.
fn helper_for(json: &serde_json::Value, key: &str) -> Option<String> {
    let named = |v: &serde_json::Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    if let Some(helpers) = json.get("credHelpers").and_then(|h| h.as_object()) {
        let found = helpers.get(key).or_else(|| {
            helpers
                .iter()
                .find(|(k, _)| DockerConfig::server_key(k) == key)
                .map(|(_, v)| v)
        });
        if let Some(h) = found.and_then(named) {
            return Some(h);
        }
    }
    json.get("credsStore").and_then(named)
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin; its stdout.
fn run_helper(helper: &str, action: &str, input: &[u8], key: &str) -> Result<Vec<u8>> {
    let program = format!("docker-credential-{helper}");
    let err = |reason: String| Error::Registry {
        op: format!("running {program} {action} for"),
        reference: key.to_owned(),
        url: "the credential helper".into(),
        reason,
    };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run it: {e} (is it on PATH?)")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // a helper that exits without reading is judged by its status below
        let _ = stdin.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for it: {e}")))?;
    if !out.status.success() {
        let mut msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        }
        return Err(err(format!("{}: {msg}", out.status)));
    }
    Ok(out.stdout)
}

/// `get` through a helper; `None` when it has nothing for `key`.
fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>> {
    let out = match run_helper(helper, "get", key.as_bytes(), key) {
        Ok(out) => out,
        Err(Error::Registry { reason, .. })
            if reason
                .to_ascii_lowercase()
                .contains("credentials not found") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| Error::Registry {
        op: format!("running docker-credential-{helper} get for"),
        reference: key.to_owned(),
        url: "the credential helper".into(),
        reason: format!("bad answer: {e}"),
    })?;
    let username = v["Username"].as_str().unwrap_or_default();
    let secret = v["Secret"].as_str().unwrap_or_default();
    if username.is_empty() && secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(username, secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_keys_as_docker_writes_them() {
        for hub in [
            "",
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
            "registry-1.docker.io",
        ] {
            assert_eq!(DockerConfig::server_key(hub), DOCKER_HUB_AUTH_KEY, "{hub}");
        }
        assert_eq!(
            DockerConfig::server_key("http://127.0.0.1:5000/v2/"),
            "127.0.0.1:5000"
        );
        assert_eq!(DockerConfig::server_key("quay.io"), "quay.io");
    }

    #[test]
    fn store_get_erase_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let c = DockerConfig::open(dir.path().join("d"));
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(c.path(), r#"{"psFormat":"x"}"#).unwrap();
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        c.store("localhost:5000", &Credentials::new("u", "p:w"))
            .unwrap();
        c.store("docker.io", &Credentials::new("hub", "h")).unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(c.path()).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x", "other settings kept");
        assert_eq!(v["auths"]["localhost:5000"]["auth"], "dTpwOnc=");
        assert_eq!(v["auths"][DOCKER_HUB_AUTH_KEY]["auth"], "aHViOmg=");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(c.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            c.get("http://localhost:5000").unwrap(),
            Some(Credentials::new("u", "p:w"))
        );
        assert_eq!(
            c.get("index.docker.io").unwrap(),
            Some(Credentials::new("hub", "h"))
        );
        assert!(c.erase("localhost:5000").unwrap());
        assert!(!c.erase("localhost:5000").unwrap());
        assert_eq!(c.get("localhost:5000").unwrap(), None);
        assert!(c.get("docker.io").unwrap().is_some(), "others stay");
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let c = DockerConfig::open(dir.path());
        std::fs::write(c.path(), "{not json").unwrap();
        let e = c.get("x").unwrap_err().to_string();
        assert!(e.contains("config.json"), "{e}");
    }

    #[test]
    fn helpers_by_registry_then_store() {
        let json = serde_json::json!({
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud", "https://index.docker.io/v1/": "hub"}
        });
        assert_eq!(helper_for(&json, "gcr.io").as_deref(), Some("gcloud"));
        assert_eq!(
            helper_for(&json, DOCKER_HUB_AUTH_KEY).as_deref(),
            Some("hub")
        );
        assert_eq!(helper_for(&json, "quay.io").as_deref(), Some("desktop"));
        assert_eq!(
            helper_for(&serde_json::json!({"credsStore": ""}), "x"),
            None
        );
    }

    #[test]
    fn a_missing_helper_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let c = DockerConfig::open(dir.path());
        std::fs::write(c.path(), r#"{"credsStore":"no-such-helper-here"}"#).unwrap();
        let e = c.get("x:1").unwrap_err().to_string();
        assert!(e.contains("docker-credential-no-such-helper-here"), "{e}");
    }
}
