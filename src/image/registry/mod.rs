//! Pulling from and pushing to OCI distribution (v2) registries.
//!
//! Synchronous (ureq over rustls); layers move on a few threads of their own. Plain HTTP
//! is used only for `localhost`/`127.0.0.0/8`/`[::1]` and for registries listed with
//! [`PullOptions::insecure`]/[`PushOptions::insecure`]. Credentials come from the options,
//! else from Docker's client config as `docker login` leaves it ([`DockerConfig`]:
//! `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, its `auths`, `credsStore` and
//! `credHelpers`); a `WWW-Authenticate` challenge is answered with a bearer token from its
//! realm (Docker Hub's flow) or with basic auth. [`Registry`] checks a login and lists a
//! registry's catalog and tags (what `docker login` and `search` need).

mod client;
mod credentials;

pub use credentials::DockerConfig;

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest, MediaType};

use client::Client;

use super::unpack::UnpackOptions;
use super::{Image, Images, Reference};
use crate::store::{chain_ids, digest_of, BlobWriter, LayerMeta, Store};
use crate::{Error, Result};

/// A user name and password (or token) for a registry. Its `Debug` form hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
}

impl Credentials {
    /// A user name and its password or access token.
    pub fn new(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password or access token.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What pulls and pushes share: plain-HTTP registries, credentials, the idle timeout.
#[derive(Debug, Clone)]
struct Access {
    insecure: Vec<String>,
    credentials: Option<Credentials>,
    idle_timeout: Duration,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            insecure: Vec::new(),
            credentials: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

impl Access {
    /// A client for the registry `reference` names.
    fn client(&self, reference: &Reference) -> Client {
        Client::new(
            reference.domain(),
            &self.insecure,
            self.credentials.clone(),
            self.idle_timeout,
            reference.to_string(),
        )
    }
}

/// The setters of [`Access`] on an options type with an `access` field; `$idle` documents
/// `idle_timeout`.
macro_rules! access_setters {
    ($idle:literal) => {
        /// Allows plain HTTP to `registry` (`host:port`).
        pub fn insecure(&mut self, registry: &str) -> &mut Self {
            self.access.insecure.push(registry.to_owned());
            self
        }

        /// Uses these credentials instead of those `docker login` stored (see
        /// [`DockerConfig`](crate::DockerConfig)).
        pub fn credentials(&mut self, username: &str, password: &str) -> &mut Self {
            self.access.credentials = Some(Credentials {
                username: username.into(),
                password: password.into(),
            });
            self
        }

        #[doc = $idle]
        pub fn idle_timeout(&mut self, idle: Duration) -> &mut Self {
            self.access.idle_timeout = idle;
            self
        }
    };
}

// after the macro it uses
mod catalog;
pub use catalog::{Registry, RemoteManifest, SearchResult};

/// A caller's request to stop a long operation: asked between steps and between reads.
#[derive(Clone)]
pub(crate) struct Stop(Arc<dyn Fn() -> bool + Send + Sync>);

impl Stop {
    pub(crate) fn new(f: impl Fn() -> bool + Send + Sync + 'static) -> Stop {
        Stop(Arc::new(f))
    }

    /// Whether the caller wants the operation to stop.
    pub(crate) fn asked(&self) -> bool {
        (self.0)()
    }
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stop")
    }
}

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    os: String,
    architecture: String,
    variant: Option<String>,
    access: Access,
    jobs: usize,
    stop: Option<Stop>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
            access: Access::default(),
            jobs: 4,
            stop: None,
        }
    }
}

impl PullOptions {
    /// linux/amd64, 4 parallel layers, credentials from the docker config.
    pub fn new() -> Self {
        Self::default()
    }

    /// The platform to pick from an index: `"linux/arm64"`, `"linux/arm/v7"`.
    pub fn platform(&mut self, platform: &str) -> &mut Self {
        let mut parts = platform.split('/');
        self.os = parts.next().unwrap_or("linux").to_owned();
        self.architecture = parts.next().unwrap_or("amd64").to_owned();
        self.variant = parts.next().map(str::to_owned);
        self
    }

    /// How many layers move at once (at least 1).
    pub fn jobs(&mut self, jobs: usize) -> &mut Self {
        self.jobs = jobs.max(1);
        self
    }

    /// Stops the pull once `stop` returns true (it is asked before each request and
    /// between the reads of a download): the pull then fails with [`Error::Cancelled`],
    /// leaving the store with complete layers only and the reference untouched. For a
    /// server whose client may go away mid-pull.
    pub fn stop_when(&mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> &mut Self {
        self.stop = Some(Stop::new(stop));
        self
    }

    /// Whether [`stop_when`](Self::stop_when)'s condition holds.
    fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(Stop::asked)
    }

    access_setters!(
        "Fails a transfer when the registry sends nothing for this long (default 60 s); a \
         stalled download becomes an [`Error::Registry`] instead of a hang."
    );
}

/// How to push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    access: Access,
    chunk_size: Option<u64>,
    mount_from: Option<String>,
}

impl PushOptions {
    /// Monolithic uploads, credentials from the docker config.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uploads blobs larger than `bytes` in chunks of that size (PATCH), not in one PUT.
    pub fn chunk_size(&mut self, bytes: u64) -> &mut Self {
        self.chunk_size = Some(bytes.max(1));
        self
    }

    /// Tries to mount missing blobs from this repository of the same registry
    /// (`library/busybox`) instead of uploading them.
    pub fn mount_from(&mut self, repository: &str) -> &mut Self {
        self.mount_from = Some(repository.to_owned());
        self
    }

    access_setters!(
        "Fails a transfer when the registry takes nothing and sends nothing for this long \
         (default 60 s)."
    );
}

/// How long a transfer may stall before it fails.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a pull or push reports as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The manifest is known: this many layers.
    Resolved {
        /// The manifest's digest.
        manifest: Digest,
        /// Number of layers.
        layers: usize,
    },
    /// A layer is already there (pull) or in the registry (push) and is not moved.
    LayerExists {
        /// The layer blob.
        digest: Digest,
    },
    /// Bytes moved so far for a layer.
    LayerBytes {
        /// The layer blob.
        digest: Digest,
        /// Bytes so far.
        done: u64,
        /// Its size.
        total: u64,
    },
    /// A layer is complete (pulled and unpacked, or pushed; `mounted` if the registry
    /// mounted it from another repository).
    LayerDone {
        /// The layer blob.
        digest: Digest,
        /// Whether it was mounted instead of uploaded.
        mounted: bool,
    },
}

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// Manifests bigger than this are refused (the distribution spec suggests 4 MiB).
const MAX_MANIFEST: u64 = 4 << 20;

fn invalid(subject: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidImage {
        subject: subject.to_string(),
        reason: reason.into(),
    }
}

/// Pulls `reference` into `store` and unpacks its layers (in parallel, as they arrive);
/// layers already in the store are not fetched. Blobs are verified against their digest
/// while they stream and layers against their diff id once decompressed; on any failure
/// nothing partial is left visible.
///
/// # Errors
/// [`Error::Registry`] for transport errors and unexpected HTTP statuses (401, 404, 500…),
/// [`Error::DigestMismatch`] for content that does not match its digest,
/// [`Error::InvalidImage`] for an unsupported manifest or a platform the index lacks.
pub(crate) fn pull(
    images: Images<'_>,
    reference: &Reference,
    options: &PullOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Image> {
    let pulled = pull_unless_stopped(images, reference, options, progress);
    match pulled {
        // what failed because the caller stopped the pull says so
        Err(_) if options.stopped() => Err(Error::Cancelled {
            op: format!("pulling {reference}"),
        }),
        r => r,
    }
}

/// [`pull`], checking [`PullOptions::stop_when`] between its steps.
fn pull_unless_stopped(
    images: Images<'_>,
    reference: &Reference,
    options: &PullOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Image> {
    let stop = || {
        if options.stopped() {
            return Err(Error::Cancelled {
                op: format!("pulling {reference}"),
            });
        }
        Ok(())
    };
    let store = images.store();
    let _gc = store.lock_shared("gc")?;
    let client = options.access.client(reference);
    let path = reference.path();
    let (bytes, media, digest, manifest) = resolve_manifest(&client, reference, options)?;
    stop()?;
    progress(&Progress::Resolved {
        manifest: digest.clone(),
        layers: manifest.layers().len(),
    });
    let diffs = fetch_config(store, &client, path, &manifest, &digest)?;
    pull_layers(
        images,
        &client,
        path,
        manifest.layers(),
        &diffs,
        options,
        progress,
    )?;
    stop()?;
    record_manifest(images, reference, bytes, media, &digest)
}

/// The image manifest `reference` names (through an index, for the platform the options
/// ask for), checked against the digest the reference pins; with its bytes, media type and
/// digest.
fn resolve_manifest(
    client: &Client,
    reference: &Reference,
    options: &PullOptions,
) -> Result<(Vec<u8>, String, Digest, ImageManifest)> {
    let path = reference.path();
    let wanted = reference
        .digest()
        .map(|d| d.to_string())
        .or_else(|| reference.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".to_owned());
    let (mut bytes, mut media, mut digest) = get_manifest(client, path, &wanted)?;
    if let Some(d) = reference.digest() {
        if d != digest {
            return Err(Error::DigestMismatch {
                digest: d.to_string(),
                actual: digest.to_string(),
            });
        }
    }
    if is_index(&media, &bytes) {
        let pick = pick_platform(&bytes, options).map_err(|r| invalid(reference, r))?;
        (bytes, media, digest) = get_manifest(client, path, pick.as_ref())?;
        if digest != pick {
            return Err(Error::DigestMismatch {
                digest: pick.to_string(),
                actual: digest.to_string(),
            });
        }
        if is_index(&media, &bytes) {
            return Err(invalid(reference, "an index inside an index"));
        }
    }
    let manifest: ImageManifest = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(&digest, format!("unsupported manifest: {e}")))?;
    if manifest.schema_version() != 2 {
        return Err(invalid(&digest, "only schema 2 manifests are supported"));
    }
    Ok((bytes, media, digest, manifest))
}

/// Fetches the image config (unless the store has it) and returns its diff ids, one per
/// layer of the manifest.
fn fetch_config(
    store: &Store,
    client: &Client,
    path: &str,
    manifest: &ImageManifest,
    digest: &Digest,
) -> Result<Vec<Digest>> {
    let cd = manifest.config();
    if !store.has_blob(cd.digest()) {
        let url = client.url(&format!("{path}/blobs/{}", cd.digest()));
        let r = client.send("pulling config", "GET", &url, &[], None)?;
        if r.status() != 200 {
            return Err(client.status_err("pulling config", &url, r));
        }
        let body = r
            .into_body()
            .into_reader()
            .take(cd.size().saturating_add(1));
        store.put_blob_from(body, Some(cd.digest()), Some(cd.size()))?;
    }
    let config: ImageConfiguration = store.read_json(cd.digest())?;
    let diffs: Vec<Digest> = config
        .rootfs()
        .diff_ids()
        .iter()
        .map(|d| {
            d.parse()
                .map_err(|_| invalid(cd.digest(), format!("bad diff id {d}")))
        })
        .collect::<Result<_>>()?;
    if diffs.len() != manifest.layers().len() {
        return Err(invalid(
            digest,
            "config diff_ids and manifest layers differ in number",
        ));
    }
    Ok(diffs)
}

/// Pulls and unpacks the layers, `jobs` at a time; the first error stops the others.
fn pull_layers(
    images: Images<'_>,
    client: &Client,
    path: &str,
    layers: &[Descriptor],
    diffs: &[Digest],
    options: &PullOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<()> {
    let chains = chain_ids(diffs);
    let jobs = options.jobs;
    let next = Mutex::new(0usize);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(layers.len()).max(1) {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("queue lock");
                    let failed = first_err.lock().expect("err lock").is_some();
                    if *n >= layers.len() || failed || options.stopped() {
                        return;
                    }
                    *n += 1;
                    *n - 1
                };
                let parent = i.checked_sub(1).map(|p| chains[p].clone());
                let r = pull_layer(
                    images, client, path, &layers[i], &diffs[i], &chains[i], parent, options,
                    progress,
                );
                if let Err(e) = r {
                    first_err.lock().expect("err lock").get_or_insert(e);
                    return;
                }
            });
        }
    });
    match first_err.into_inner().expect("err lock") {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Stores the manifest and tags it. Docker schema 2 is stored converted to OCI (as `skopeo
/// copy docker:// oci:` does), so tools reading the layout accept it; the registry's
/// digest is kept as an annotation.
fn record_manifest(
    images: Images<'_>,
    reference: &Reference,
    bytes: Vec<u8>,
    media: String,
    digest: &Digest,
) -> Result<Image> {
    let store = images.store();
    let (bytes, media) = if media == DOCKER_MANIFEST {
        (to_oci(&bytes, digest)?, OCI_MANIFEST.to_owned())
    } else {
        (bytes, media)
    };
    let (md, ms) = store.put_blob(&bytes, None)?;
    let mut desc = Descriptor::new(MediaType::from(media.as_str()), ms, md);
    // the repository's digest of the image (`RepoDigests`), even when it is the store's
    desc.set_annotations(Some(
        [(DISTRIBUTION_DIGEST.to_owned(), digest.to_string())]
            .into_iter()
            .collect(),
    ));
    store.set_ref(&reference.to_string(), &desc)?;
    images.inspect(reference)
}

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Index annotation holding the digest the registry a reference was pulled from or pushed
/// to knows its manifest by (different from the store's when the manifest was converted).
pub(crate) const DISTRIBUTION_DIGEST: &str = "dev.cargohold.distribution.digest";

/// A Docker schema 2 manifest rewritten with OCI media types (same config, same layers).
fn to_oci(bytes: &[u8], digest: &Digest) -> Result<Vec<u8>> {
    let mut v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(digest, format!("bad manifest: {e}")))?;
    v["mediaType"] = OCI_MANIFEST.into();
    v["config"]["mediaType"] = MediaType::ImageConfig.to_string().into();
    if let Some(layers) = v["layers"].as_array_mut() {
        for l in layers {
            let m = match l["mediaType"].as_str().unwrap_or_default() {
                "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
                    MediaType::ImageLayerGzip.to_string()
                }
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
                    MediaType::ImageLayerNonDistributableGzip.to_string()
                }
                "application/vnd.docker.image.rootfs.diff.tar" => MediaType::ImageLayer.to_string(),
                other => other.to_owned(),
            };
            l["mediaType"] = m.into();
        }
    }
    Ok(serde_json::to_vec(&v).expect("json serialises"))
}

fn is_index(media: &str, bytes: &[u8]) -> bool {
    media.contains("index") || media.contains("manifest.list") || {
        serde_json::from_slice::<serde_json::Value>(bytes)
            .is_ok_and(|v| v.get("manifests").is_some())
    }
}

/// The digest of the index entry matching the platform.
fn pick_platform(bytes: &[u8], o: &PullOptions) -> std::result::Result<Digest, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let ms = v["manifests"].as_array().ok_or("index without manifests")?;
    let want = format!(
        "{}/{}{}",
        o.os,
        o.architecture,
        o.variant
            .as_ref()
            .map(|v| format!("/{v}"))
            .unwrap_or_default()
    );
    let matches = |m: &&serde_json::Value, variant: bool| {
        let p = &m["platform"];
        p["os"] == o.os.as_str()
            && p["architecture"] == o.architecture.as_str()
            && (!variant || o.variant.is_none() || p["variant"].as_str() == o.variant.as_deref())
    };
    let m = ms
        .iter()
        .find(|m| matches(m, true))
        .or_else(|| {
            if o.variant.is_none() {
                ms.iter().find(|m| matches(m, false))
            } else {
                None
            }
        })
        .ok_or_else(|| format!("no manifest for platform {want}"))?;
    m["digest"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| "index entry without a digest".to_owned())
}

fn get_manifest(client: &Client, path: &str, reference: &str) -> Result<(Vec<u8>, String, Digest)> {
    let url = client.url(&format!("{path}/manifests/{reference}"));
    let mut r = client.send(
        "pulling manifest",
        "GET",
        &url,
        &[("Accept", MANIFEST_ACCEPT)],
        None,
    )?;
    if r.status() != 200 {
        return Err(client.status_err("pulling manifest", &url, r));
    }
    let media = r
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let bytes = r
        .body_mut()
        .with_config()
        .limit(MAX_MANIFEST)
        .read_to_vec()
        .map_err(|e| client.err("pulling manifest", &url, e.to_string()))?;
    let digest = digest_of(&bytes);
    let media = if media.is_empty() || media == "application/json" {
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| MediaType::ImageManifest.to_string())
    } else {
        media
    };
    Ok((bytes, media, digest))
}

/// Copies what it reads into a blob and reports progress.
struct Tee<'a, R> {
    inner: R,
    blob: BlobWriter,
    done: u64,
    total: u64,
    reported: u64,
    digest: &'a Digest,
    progress: &'a (dyn Fn(&Progress) + Sync),
    options: &'a PullOptions,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.options.stopped() {
            // not `Interrupted`: readers retry that
            return Err(io::Error::other("the pull was cancelled"));
        }
        let n = self.inner.read(buf)?;
        io::Write::write_all(&mut self.blob, &buf[..n])?;
        self.done += n as u64;
        if self.done - self.reported >= 1 << 20 || (n == 0 && self.done != self.reported) {
            self.reported = self.done;
            (self.progress)(&Progress::LayerBytes {
                digest: self.digest.clone(),
                done: self.done,
                total: self.total,
            });
        }
        Ok(n)
    }
}

#[allow(clippy::too_many_arguments)]
fn pull_layer(
    images: Images<'_>,
    client: &Client,
    path: &str,
    layer: &Descriptor,
    diff: &Digest,
    chain: &Digest,
    parent: Option<Digest>,
    options: &PullOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<()> {
    let store = images.store();
    let digest = layer.digest();
    let have_blob = store.has_blob(digest);
    let have_layer = store.layer_meta(chain).is_some();
    if have_blob && have_layer {
        progress(&Progress::LayerExists {
            digest: digest.clone(),
        });
        return Ok(());
    }
    if have_blob {
        images.unpack_layer(digest, diff, chain, parent)?;
        progress(&Progress::LayerDone {
            digest: digest.clone(),
            mounted: false,
        });
        return Ok(());
    }
    let url = client.url(&format!("{path}/blobs/{digest}"));
    let op = format!("pulling layer {digest}");
    let r = client.send(&op, "GET", &url, &[], None)?;
    if r.status() != 200 {
        return Err(client.status_err(&op, &url, r));
    }
    let body = r
        .into_body()
        .into_reader()
        .take(layer.size().saturating_add(1));
    let mut tee = Tee {
        inner: body,
        blob: store.blob_writer()?,
        done: 0,
        total: layer.size(),
        reported: 0,
        digest,
        progress,
        options,
    };
    let commit = |tee: Tee<'_, _>| -> Result<()> {
        let mut tee = tee;
        io::copy(&mut tee, &mut io::sink()).map_err(|e| Error::Blob {
            op: "downloading".into(),
            digest: digest.to_string(),
            source: e,
        })?;
        tee.blob.commit(Some(digest), Some(layer.size()))?;
        Ok(())
    };
    if have_layer {
        return commit(tee);
    }
    store.ensure_layer(chain, |dir| {
        let opts = UnpackOptions::for_layer();
        let r = images.unpack_stream(&mut tee, dir, (digest, diff), opts, digest.as_ref());
        let size = *r.as_ref().unwrap_or(&0);
        // a truncated or corrupt download shows as a digest error first, not a tar error
        let drained = io::copy(&mut tee, &mut io::sink());
        if tee.done != layer.size() || drained.is_err() {
            let reason = match drained {
                Err(e) => e.to_string(),
                Ok(_) => format!("{} bytes instead of {}", tee.done, layer.size()),
            };
            return Err(client.err(
                &format!("pulling layer {digest}"),
                &url,
                format!("stream ended early: {reason}"),
            ));
        }
        if tee.blob.digest() != *digest {
            return Err(Error::DigestMismatch {
                digest: digest.to_string(),
                actual: tee.blob.digest().to_string(),
            });
        }
        r?;
        Ok(LayerMeta {
            chain_id: chain.clone(),
            diff_id: diff.clone(),
            parent: parent.clone(),
            blob: Some(digest.clone()),
            opaque_xattr: super::unpack::opaque_xattr().to_owned(),
            size,
        })
    })?;
    commit(tee)?;
    progress(&Progress::LayerDone {
        digest: digest.clone(),
        mounted: false,
    });
    Ok(())
}

/// Pushes the local image `reference` to the registry and repository it names: blobs the
/// registry lacks are uploaded (or mounted, see [`PushOptions::mount_from`]), then the
/// manifest is put by tag. Returns the manifest digest.
///
/// # Errors
/// [`Error::ImageNotFound`] if the image is not in the store, [`Error::Registry`] for
/// transport errors and unexpected HTTP statuses.
pub(crate) fn push(
    images: Images<'_>,
    reference: &Reference,
    options: &PushOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Digest> {
    let store = images.store();
    let img = images.inspect(reference)?;
    let desc = images.find(reference)?;
    // push the single-platform manifest the index entry resolves to
    let (digest, media) = if img.manifest_digest() == desc.digest() {
        (desc.digest().clone(), desc.media_type().to_string())
    } else {
        (
            img.manifest_digest().clone(),
            img.manifest()
                .media_type()
                .clone()
                .unwrap_or(MediaType::ImageManifest)
                .to_string(),
        )
    };
    let bytes = store.read_blob(&digest)?;
    let client = options.access.client(reference);
    let path = reference.path();
    progress(&Progress::Resolved {
        manifest: digest.clone(),
        layers: img.manifest().layers().len(),
    });
    let mut blobs: Vec<&Descriptor> = img.manifest().layers().iter().collect();
    blobs.push(img.manifest().config());
    for b in blobs {
        push_blob(store, &client, path, b, options, progress)?;
    }
    let tag = reference
        .tag()
        .map_or_else(|| digest.to_string(), str::to_owned);
    let url = client.url(&format!("{path}/manifests/{tag}"));
    let r = client.send(
        "pushing manifest",
        "PUT",
        &url,
        &[("Content-Type", media.as_str())],
        Some(&bytes),
    )?;
    if r.status() != 201 && r.status() != 200 {
        return Err(client.status_err("pushing manifest", &url, r));
    }
    if let Some(d) = r
        .headers()
        .get("docker-content-digest")
        .and_then(|h| h.to_str().ok())
    {
        if d != digest.to_string() {
            return Err(Error::DigestMismatch {
                digest: digest.to_string(),
                actual: format!("{d} (registry)"),
            });
        }
    }
    record_repo_digest(store, reference, &digest)?;
    Ok(digest)
}

/// Notes on `reference`'s index entry the digest its repository knows it by (what a pull
/// records): the image's `RepoDigests` after a push.
fn record_repo_digest(store: &Store, reference: &Reference, digest: &Digest) -> Result<()> {
    let name = reference.to_string();
    store.update_index(|m| {
        for d in m
            .iter_mut()
            .filter(|d| crate::store::ref_name(d) == Some(name.as_str()))
        {
            let mut ann = d.annotations().clone().unwrap_or_default();
            ann.insert(DISTRIBUTION_DIGEST.to_owned(), digest.to_string());
            d.set_annotations(Some(ann));
        }
        Ok(())
    })
}

fn location(client: &Client, op: &str, url: &str, r: &client::Response) -> Result<String> {
    r.headers()
        .get("location")
        .and_then(|h| h.to_str().ok())
        .map(|l| client.absolute(l))
        .ok_or_else(|| client.err(op, url, "upload response without a Location"))
}

fn with_query(url: &str, q: &str) -> String {
    format!("{url}{}{q}", if url.contains('?') { '&' } else { '?' })
}

fn push_blob(
    store: &Store,
    client: &Client,
    path: &str,
    blob: &Descriptor,
    options: &PushOptions,
    progress: &(dyn Fn(&Progress) + Sync),
) -> Result<()> {
    let digest = blob.digest();
    let op = format!("pushing blob {digest}");
    let head = client.url(&format!("{path}/blobs/{digest}"));
    let r = client.send(&op, "HEAD", &head, &[], None)?;
    if r.status() == 200 {
        progress(&Progress::LayerExists {
            digest: digest.clone(),
        });
        return Ok(());
    }
    let start = match &options.mount_from {
        Some(from) => client.url(&format!("{path}/blobs/uploads/?mount={digest}&from={from}")),
        None => client.url(&format!("{path}/blobs/uploads/")),
    };
    let r = client.send(&op, "POST", &start, &[("Content-Length", "0")], Some(&[]))?;
    if r.status() == 201 {
        progress(&Progress::LayerDone {
            digest: digest.clone(),
            mounted: true,
        });
        return Ok(());
    }
    if r.status() != 202 {
        return Err(client.status_err(&op, &start, r));
    }
    let mut loc = location(client, &op, &start, &r)?;
    let size = blob.size();
    let file_err = |e| Error::Blob {
        op: "reading for upload".into(),
        digest: digest.to_string(),
        source: e,
    };
    let mut file = store.open_blob(digest)?;
    match options.chunk_size {
        Some(chunk) if size > chunk => {
            let mut off = 0u64;
            let mut buf = Vec::with_capacity(chunk as usize);
            while off < size {
                buf.clear();
                (&mut file)
                    .take(chunk)
                    .read_to_end(&mut buf)
                    .map_err(file_err)?;
                if buf.is_empty() {
                    return Err(file_err(io::ErrorKind::UnexpectedEof.into()));
                }
                let range = format!("{}-{}", off, off + buf.len() as u64 - 1);
                let r = client.send(
                    &op,
                    "PATCH",
                    &loc,
                    &[
                        ("Content-Type", "application/octet-stream"),
                        ("Content-Range", range.as_str()),
                    ],
                    Some(&buf),
                )?;
                if r.status() != 202 {
                    return Err(client.status_err(&op, &loc, r));
                }
                loc = location(client, &op, &loc, &r)?;
                off += buf.len() as u64;
                progress(&Progress::LayerBytes {
                    digest: digest.clone(),
                    done: off,
                    total: size,
                });
            }
            let url = with_query(&loc, &format!("digest={digest}"));
            let r = client.send(&op, "PUT", &url, &[("Content-Length", "0")], Some(&[]))?;
            if r.status() != 201 {
                return Err(client.status_err(&op, &url, r));
            }
        }
        _ => {
            file.seek(SeekFrom::Start(0)).map_err(file_err)?;
            let url = with_query(&loc, &format!("digest={digest}"));
            let len = size.to_string();
            let mut reader = BufReader::with_capacity(256 << 10, file).take(size);
            let r = client.send_stream(
                &op,
                "PUT",
                &url,
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Length", len.as_str()),
                ],
                &mut reader,
            )?;
            if r.status() != 201 {
                return Err(client.status_err(&op, &url, r));
            }
            progress(&Progress::LayerBytes {
                digest: digest.clone(),
                done: size,
                total: size,
            });
        }
    }
    progress(&Progress::LayerDone {
        digest: digest.clone(),
        mounted: false,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_platform() {
        let idx = br#"{"schemaVersion":2,"manifests":[
          {"digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":1,"mediaType":"x","platform":{"os":"linux","architecture":"arm","variant":"v7"}},
          {"digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":1,"mediaType":"x","platform":{"os":"linux","architecture":"amd64"}},
          {"digest":"sha256:3333333333333333333333333333333333333333333333333333333333333333","size":1,"mediaType":"x","platform":{"os":"linux","architecture":"arm64","variant":"v8"}}
        ]}"#;
        let d = |o: &PullOptions| pick_platform(idx, o).map(|d| d.digest()[..1].to_owned());
        assert_eq!(d(&PullOptions::new()).unwrap(), "2");
        assert_eq!(d(PullOptions::new().platform("linux/arm/v7")).unwrap(), "1");
        assert_eq!(d(PullOptions::new().platform("linux/arm64")).unwrap(), "3");
        assert!(d(PullOptions::new().platform("linux/arm/v6"))
            .unwrap_err()
            .contains("linux/arm/v6"));
        assert!(d(PullOptions::new().platform("windows/amd64")).is_err());
    }

    #[test]
    fn detects_indexes() {
        assert!(is_index("application/vnd.oci.image.index.v1+json", b"{}"));
        assert!(is_index(
            "application/vnd.docker.distribution.manifest.list.v2+json",
            b"{}"
        ));
        assert!(is_index("", br#"{"manifests":[]}"#));
        assert!(!is_index(
            "application/vnd.oci.image.manifest.v1+json",
            br#"{"layers":[]}"#
        ));
    }

    #[test]
    fn credentials_do_not_leak_in_debug() {
        let mut o = PullOptions::new();
        o.credentials("u", "secret");
        assert!(!format!("{o:?}").contains("secret"));
    }
}

/// Pulls against a scripted HTTP server on 127.0.0.1: auth flows and broken registries.
#[cfg(test)]
mod fake_registry_tests {
    use super::*;
    use crate::image::unpack::tests::{tar_of, E};
    use std::collections::HashMap;
    use std::io::{BufRead, Write};
    use std::net::TcpListener;
    use std::sync::Arc;

    #[derive(Debug, Clone)]
    struct Req {
        method: String,
        path: String,
        headers: HashMap<String, String>,
    }

    struct Resp {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        /// Send only this many body bytes (but announce all), then hang up.
        cut: Option<usize>,
        /// After the (cut) body, keep the connection open and silent this long.
        stall: Option<Duration>,
    }

    fn resp(status: u16, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            headers: vec![],
            body: body.into(),
            cut: None,
            stall: None,
        }
    }

    /// Serves until the test ends; returns its port and the requests seen.
    fn serve(
        route: impl Fn(&Req, u16) -> Resp + Send + Sync + 'static,
    ) -> (u16, Arc<Mutex<Vec<Req>>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut r = io::BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if r.read_line(&mut line).is_err() {
                    continue;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_owned();
                let path = parts.next().unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                let mut len = 0usize;
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':') {
                        let k = k.trim().to_ascii_lowercase();
                        if k == "content-length" {
                            len = v.trim().parse().unwrap_or(0);
                        }
                        headers.insert(k, v.trim().to_owned());
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let req = Req {
                    method,
                    path,
                    headers,
                };
                seen2.lock().unwrap().push(req.clone());
                let out = route(&req, port);
                let mut head = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    out.status,
                    out.body.len()
                );
                for (k, v) in &out.headers {
                    head.push_str(&format!("{k}: {v}\r\n"));
                }
                head.push_str("\r\n");
                let _ = conn.write_all(head.as_bytes());
                if req.method != "HEAD" {
                    let n = out.cut.unwrap_or(out.body.len());
                    let _ = conn.write_all(&out.body[..n]);
                }
                let _ = conn.flush();
                if let Some(d) = out.stall {
                    // hold it open on a thread of its own; the server goes on serving
                    std::thread::spawn(move || {
                        std::thread::sleep(d);
                        drop(conn);
                    });
                }
            }
        });
        (port, seen)
    }

    /// An image in memory: (manifest, config, layer) bytes.
    fn image() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        image_with(Compression::Gzip)
    }

    #[derive(Clone, Copy)]
    enum Compression {
        Gzip,
        Zstd,
        None,
    }

    fn image_with(c: Compression) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let tar = tar_of(&[E::File("etc/motd", b"hello", 0o644), E::Dir("d/", 0o755)]);
        let (layer, layer_media) = match c {
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                io::Write::write_all(&mut gz, &tar).unwrap();
                (
                    gz.finish().unwrap(),
                    "application/vnd.docker.image.rootfs.diff.tar.gzip",
                )
            }
            Compression::Zstd => (
                zstd::encode_all(&tar[..], 3).unwrap(),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
            Compression::None => (tar.clone(), "application/vnd.oci.image.layer.v1.tar"),
        };
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(&tar).to_string()]}
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "size": config.len(), "digest": digest_of(&config).to_string()},
            "layers": [{"mediaType": layer_media,
                        "size": layer.len(), "digest": digest_of(&layer).to_string()}]
        }))
        .unwrap();
        (manifest, config, layer)
    }

    /// Routes for an image under `lib/x:1`; `layer_resp` decides how the layer is served.
    /// An empty store in a temporary dir, and `lib/x:{tag}` on the fake registry at `port`.
    fn local_store(port: u16, tag: &str) -> (tempfile::TempDir, Store, Reference) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let r = format!("127.0.0.1:{port}/lib/x:{tag}").parse().unwrap();
        (dir, store, r)
    }

    fn registry_route(
        layer_resp: impl Fn(&[u8]) -> Resp + Send + Sync + 'static,
    ) -> impl Fn(&Req, u16) -> Resp + Send + Sync + 'static {
        registry_route_with(Compression::Gzip, layer_resp)
    }

    fn registry_route_with(
        comp: Compression,
        layer_resp: impl Fn(&[u8]) -> Resp + Send + Sync + 'static,
    ) -> impl Fn(&Req, u16) -> Resp + Send + Sync + 'static {
        let (m, c, l) = image_with(comp);
        // a manifest list with an arm64 decoy and our image as linux/amd64
        let list = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests": [
                {"mediaType": DOCKER_MANIFEST, "size": 7, "digest": digest_of(b"decoy").to_string(),
                 "platform": {"os": "linux", "architecture": "arm64"}},
                {"mediaType": DOCKER_MANIFEST, "size": m.len(), "digest": digest_of(&m).to_string(),
                 "platform": {"os": "linux", "architecture": "amd64"}}
            ]
        }))
        .unwrap();
        let by_digest = format!("/v2/lib/x/manifests/{}", digest_of(&m));
        move |req, _| {
            if req.path == "/v2/lib/x/manifests/multi" {
                let mut r = resp(200, list.clone());
                r.headers.push((
                    "Content-Type".into(),
                    "application/vnd.docker.distribution.manifest.list.v2+json".into(),
                ));
                r
            } else if req.path == "/v2/lib/x/manifests/1" || req.path == by_digest {
                let mut r = resp(200, m.clone());
                r.headers
                    .push(("Content-Type".into(), DOCKER_MANIFEST.into()));
                r
            } else if req.path == format!("/v2/lib/x/blobs/{}", digest_of(&c)) {
                resp(200, c.clone())
            } else if req.path == format!("/v2/lib/x/blobs/{}", digest_of(&l)) {
                layer_resp(&l)
            } else {
                resp(
                    404,
                    r#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#,
                )
            }
        }
    }

    fn nothing_visible(store: Images<'_>) {
        assert!(store.list().unwrap().is_empty());
        assert!(store.store.layer_ids().unwrap().is_empty(), "no layer");
        let (_, _, l) = image();
        assert!(!store.store.has_blob(&digest_of(&l)), "no layer blob");
        let tmp: Vec<_> = std::fs::read_dir(store.store.layout_dir().join("blobs/sha256"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            .collect();
        assert!(tmp.is_empty(), "no temp blob left: {tmp:?}");
    }

    #[test]
    fn pulls_from_a_fake_registry() {
        let (port, _) = serve(registry_route(|l| resp(200, l.to_vec())));
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        let img = pull(store, &r, &PullOptions::new(), &|_| {}).unwrap();
        let layers = store.rootfs_layers(&r).unwrap();
        assert_eq!(std::fs::read(layers[0].join("etc/motd")).unwrap(), b"hello");
        assert_eq!(crate::image::local::tests::cmd_of(&img), &["/bin/sh"]);
    }

    #[test]
    fn zstd_and_uncompressed_layers_and_manifest_lists() {
        for comp in [Compression::Zstd, Compression::None] {
            let (port, _) = serve(registry_route_with(comp, |l| resp(200, l.to_vec())));
            let (_dir, store_store, r) = local_store(port, "1");
            let store = Images::new(&store_store);
            pull(store, &r, &PullOptions::new(), &|_| {}).unwrap();
            let layers = store.rootfs_layers(&r).unwrap();
            assert_eq!(std::fs::read(layers[0].join("etc/motd")).unwrap(), b"hello");
        }
        let (port, seen) = serve(registry_route(|l| resp(200, l.to_vec())));
        let (_dir, store_store, r) = local_store(port, "multi");
        let store = Images::new(&store_store);
        let img = pull(store, &r, &PullOptions::new(), &|_| {}).unwrap();
        assert_eq!(img.diff_ids().len(), 1);
        let (m, _, _) = image();
        assert!(seen
            .lock()
            .unwrap()
            .iter()
            .any(|q| q.path.ends_with(&digest_of(&m).to_string())));
        let refused = |platform: &str| {
            pull(store, &r, PullOptions::new().platform(platform), &|_| {}).unwrap_err()
        };
        // a platform the list lacks
        let e = refused("linux/s390x");
        assert!(e.to_string().contains("linux/s390x"), "{e}");
        // arm64 is listed, but its manifest is not what the list says: refused
        let e = refused("linux/arm64");
        assert!(
            e.to_string().contains("404") || matches!(e, Error::DigestMismatch { .. }),
            "{e}"
        );
    }

    #[test]
    fn concurrent_pulls_unpack_once() {
        let (port, seen) = serve(registry_route(|l| resp(200, l.to_vec())));
        let dir = tempfile::tempdir().unwrap();
        let r: Reference = format!("127.0.0.1:{port}/lib/x:1").parse().unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let store_store = Store::open(dir.path()).unwrap();
                    let store = Images::new(&store_store);
                    pull(store, &r, &PullOptions::new(), &|_| {}).unwrap();
                });
            }
        });
        let store_store = Store::open(dir.path()).unwrap();
        let store = Images::new(&store_store);
        assert_eq!(store.store.layer_ids().unwrap().len(), 1);
        assert_eq!(store.list().unwrap().len(), 1);
        let (_, _, l) = image();
        let gets = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.path.ends_with(&digest_of(&l).to_string()))
            .count();
        assert!((1..=4).contains(&gets), "{gets}");
    }

    #[test]
    fn a_stream_cut_midway_leaves_nothing() {
        let (port, _) = serve(registry_route(|l| Resp {
            cut: Some(l.len() / 2),
            ..resp(200, l.to_vec())
        }));
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        let e = pull(store, &r, &PullOptions::new(), &|_| {}).unwrap_err();
        let (_, _, l) = image();
        let msg = e.to_string();
        assert!(
            msg.contains(&digest_of(&l).to_string()) || msg.contains("lib/x:1"),
            "{msg}"
        );
        nothing_visible(store);
    }

    /// A registry that stops sending mid-layer without hanging up: the idle timeout ends
    /// the pull with an error naming the layer, and nothing partial is left.
    #[test]
    fn a_stalled_download_times_out_and_leaves_nothing() {
        let (port, _) = serve(registry_route(|l| Resp {
            cut: Some(l.len() / 2),
            stall: Some(Duration::from_secs(30)),
            ..resp(200, l.to_vec())
        }));
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        let start = std::time::Instant::now();
        let e = pull(
            store,
            &r,
            PullOptions::new().idle_timeout(Duration::from_millis(500)),
            &|_| {},
        )
        .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "took {:?}",
            start.elapsed()
        );
        let (_, _, l) = image();
        let msg = e.to_string();
        assert!(msg.contains(&digest_of(&l).to_string()), "{msg}");
        nothing_visible(store);
    }

    #[test]
    fn a_layer_with_the_wrong_digest_leaves_nothing() {
        let (port, _) = serve(registry_route(|l| {
            let mut bad = l.to_vec();
            let n = bad.len();
            bad[n - 9] ^= 0xff; // inside the gzip trailer's CRC: tar content unchanged
            resp(200, bad)
        }));
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        let e = pull(store, &r, &PullOptions::new(), &|_| {}).unwrap_err();
        assert!(
            matches!(e, Error::DigestMismatch { .. }) || matches!(e, Error::Blob { .. }),
            "{e}"
        );
        nothing_visible(store);
    }

    #[test]
    fn server_errors_are_reported_with_their_message() {
        let (port, _) = serve(registry_route(|_| {
            resp(500, r#"{"errors":[{"message":"disk on fire"}]}"#)
        }));
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        let msg = pull(store, &r, &PullOptions::new(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("500") && msg.contains("disk on fire") && msg.contains("lib/x:1"),
            "{msg}"
        );
        nothing_visible(store);
    }

    #[test]
    fn bearer_token_flow() {
        let route = registry_route(|l| resp(200, l.to_vec()));
        let (port, seen) = serve(move |req, port| {
            let auth = req
                .headers
                .get("authorization")
                .cloned()
                .unwrap_or_default();
            if req.path.starts_with("/token") {
                // the basic credentials of the options, the scope of the challenge
                if auth == "Basic dTpw" && req.path.contains("scope=repository%3Alib%2Fx%3Apull") {
                    return resp(200, r#"{"token":"tok","expires_in":300}"#);
                }
                return resp(401, "no");
            }
            if auth != "Bearer tok" {
                let mut r = resp(401, r#"{"errors":[{"message":"authentication required"}]}"#);
                r.headers.push((
                    "WWW-Authenticate".into(),
                    format!(
                        r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:lib/x:pull""#
                    ),
                ));
                return r;
            }
            route(req, port)
        });
        let (_dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        pull(store, &r, PullOptions::new().credentials("u", "p"), &|_| {}).unwrap();
        assert!(seen
            .lock()
            .unwrap()
            .iter()
            .any(|q| q.path.starts_with("/token?service=fake&scope=")));
        // wrong credentials: a clear 401
        let e = pull(
            store,
            &r.with_tag("2").unwrap(),
            PullOptions::new().credentials("u", "bad"),
            &|_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("token") && e.contains("401"), "{e}");
    }

    #[test]
    fn catalog_and_tags_follow_link_pages() {
        // one repository per page, the next page in a Link header, as the spec says
        let repos = ["a/one", "b/two", "c/three"];
        let (port, seen) = serve(move |req, _| {
            if let Some(rest) = req.path.strip_prefix("/v2/_catalog") {
                let last = rest
                    .split("last=")
                    .nth(1)
                    .map(|l| l.split('&').next().unwrap());
                let i = last.map_or(0, |l| repos.iter().position(|r| *r == l).unwrap() + 1);
                let mut r = resp(200, format!(r#"{{"repositories":["{}"]}}"#, repos[i]));
                if i + 1 < repos.len() {
                    r.headers.push((
                        "Link".into(),
                        format!(r#"</v2/_catalog?last={}&n=1>; rel="next""#, repos[i]),
                    ));
                }
                return r;
            }
            if req.path.starts_with("/v2/a/one/tags/list") {
                return resp(200, r#"{"name":"a/one","tags":["2","1"]}"#);
            }
            if req.path.starts_with("/v2/b/two/tags/list") {
                return resp(200, r#"{"name":"b/two","tags":null}"#);
            }
            resp(
                404,
                r#"{"errors":[{"message":"repository name not known"}]}"#,
            )
        });
        let r = Registry::new(&format!("127.0.0.1:{port}"));
        assert_eq!(r.catalog().unwrap(), repos);
        let catalog_pages = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|q| q.path.starts_with("/v2/_catalog"))
            .count();
        assert_eq!(catalog_pages, 3);
        assert_eq!(r.tags("a/one").unwrap(), ["2", "1"]);
        assert!(r.tags("b/two").unwrap().is_empty());
        let e = r.tags("z/none").unwrap_err().to_string();
        assert!(e.contains("404") && e.contains("not known"), "{e}");
    }

    #[test]
    fn basic_auth_challenge() {
        let route = registry_route(|l| resp(200, l.to_vec()));
        let (port, _) = serve(move |req, port| {
            if req.headers.get("authorization").map(String::as_str) != Some("Basic dTpw") {
                let mut r = resp(401, "");
                r.headers
                    .push(("WWW-Authenticate".into(), r#"Basic realm="fake""#.into()));
                return r;
            }
            route(req, port)
        });
        let (dir, store_store, r) = local_store(port, "1");
        let store = Images::new(&store_store);
        pull(store, &r, PullOptions::new().credentials("u", "p"), &|_| {}).unwrap();
        // without credentials (and an empty docker config): refused, clearly
        let empty = tempfile::tempdir().unwrap();
        std::env::set_var("DOCKER_CONFIG", empty.path());
        let other_store = Store::open(dir.path().join("o")).unwrap();
        let other = Images::new(&other_store);
        let e = pull(other, &r, &PullOptions::new(), &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("authentication required")
                && e.contains(&format!("'docker login 127.0.0.1:{port}'")),
            "says how to log in: {e}"
        );
    }
}
