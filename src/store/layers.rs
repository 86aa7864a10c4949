//! Unpacked layers, once per chain id: `layers/<chain id hex>/{diff,meta.json}`.
//!
//! A layer is unpacked into `layers/.tmp-…/diff`, its `meta.json` written, and the
//! directory renamed to its chain id: a layer directory either is complete (has
//! `meta.json`) or does not exist. The `diff` directory holds overlayfs whiteouts
//! (0/0 character devices, the `overlay.opaque` xattr), so it can serve as a read-only
//! overlay lower directory as is.

use std::fs;
use std::path::PathBuf;

use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};

use super::{fsync_dir, remove_any, tmp_path, write_atomic, Store};
use crate::{Error, Result};

/// What `meta.json` records about an unpacked layer.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub(crate) struct LayerMeta {
    /// The layer's chain id.
    pub chain_id: Digest,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// The (compressed) blob it was unpacked from.
    pub blob: Option<Digest>,
    /// The xattr used to mark opaque directories (`trusted.overlay.opaque` as root,
    /// `user.overlay.opaque` otherwise; mount with `userxattr` then).
    pub opaque_xattr: String,
    /// Bytes of the uncompressed layer tar (0 when unknown: recorded before this field).
    #[serde(default)]
    pub size: u64,
}

/// The chain ids of a stack of layers given their diff ids (base first):
/// `chain(0) = diff(0)`, `chain(n) = sha256(chain(n-1) + " " + diff(n))`.
pub(crate) fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => super::sha256_digest(&Sha256::digest(format!("{prev} {d}").as_bytes())),
        };
        out.push(next);
    }
    out
}

impl Store {
    /// The layer's metadata if it is unpacked.
    pub(crate) fn layer_meta(&self, chain_id: &Digest) -> Option<LayerMeta> {
        let path = self.layers_dir().join(chain_id.digest()).join("meta.json");
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    /// Makes sure the layer `chain_id` is unpacked, calling `unpack(diff_dir)` to fill a
    /// fresh directory if it is not; `unpack` returns the metadata to record. Concurrent
    /// callers for the same chain id unpack it once.
    pub(crate) fn ensure_layer(
        &self,
        chain_id: &Digest,
        unpack: impl FnOnce(&std::path::Path) -> Result<LayerMeta>,
    ) -> Result<PathBuf> {
        let diff = self.layer_diff(chain_id);
        if self.layer_meta(chain_id).is_some() {
            return Ok(diff);
        }
        let _lock = self.lock(&format!("layer-{}", chain_id.digest()))?;
        if self.layer_meta(chain_id).is_some() {
            return Ok(diff);
        }
        let tmp = tmp_path(self.layers_dir());
        let tmp_diff = tmp.join("diff");
        fs::create_dir_all(&tmp_diff)
            .map_err(|e| Error::os("creating layer directory", &tmp_diff, e))?;
        let r = (|| {
            let meta = unpack(&tmp_diff)?;
            if meta.chain_id != *chain_id {
                return Err(Error::DigestMismatch {
                    digest: chain_id.to_string(),
                    actual: meta.chain_id.to_string(),
                });
            }
            let json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
            write_atomic(&tmp.join("meta.json"), &json)?;
            let dest = self.layers_dir().join(chain_id.digest());
            // a directory without meta.json is a leftover: replace it
            remove_any(&dest)?;
            fs::rename(&tmp, &dest)
                .map_err(|e| Error::os("renaming layer into place", &dest, e))?;
            fsync_dir(self.layers_dir())
        })();
        if r.is_err() {
            let _ = remove_any(&tmp);
        }
        r.map(|()| diff)
    }

    /// Chain ids of every unpacked layer.
    pub(crate) fn layer_ids(&self) -> Result<Vec<Digest>> {
        let dir = self.layers_dir();
        let rd = fs::read_dir(dir).map_err(|e| Error::os("reading layers", dir, e))?;
        Ok(rd
            .flatten()
            .filter_map(|e| {
                format!("sha256:{}", e.file_name().to_string_lossy())
                    .parse()
                    .ok()
            })
            .collect())
    }

    /// Removes an unpacked layer (under its lock).
    pub(crate) fn remove_layer(&self, chain_id: &Digest) -> Result<()> {
        let _lock = self.lock(&format!("layer-{}", chain_id.digest()))?;
        let dir = self.layers_dir().join(chain_id.digest());
        // make it invisible first, then delete at leisure
        let tmp = tmp_path(self.layers_dir());
        match fs::rename(&dir, &tmp) {
            Ok(()) => remove_any(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::os("removing layer", &dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Digest {
        s.parse().unwrap()
    }

    #[test]
    fn chain_ids_match_the_spec() {
        // values from the OCI image spec's config.md example
        let diffs = [
            d("sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"),
            d("sha256:9a4d0f3bef5e8b8f8cd0e2d2b7c0f1a49b6b3e2d5f1e5a2c4f4fa3a0f7e9d8b1"),
        ];
        let c = chain_ids(&diffs);
        assert_eq!(c[0], diffs[0]);
        let want = super::super::digest_of(format!("{} {}", diffs[0], diffs[1]).as_bytes());
        assert_eq!(c[1], want);
        assert_eq!(chain_ids(&[]).len(), 0);
    }

    #[test]
    fn ensure_layer_unpacks_once_and_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let id = super::super::digest_of(b"layer");
        let meta = LayerMeta {
            chain_id: id.clone(),
            diff_id: id.clone(),
            parent: None,
            blob: None,
            opaque_xattr: "user.overlay.opaque".into(),
            size: 0,
        };
        // a failing unpack leaves nothing
        let e = s.ensure_layer(&id, |p| {
            fs::write(p.join("partial"), b"x").unwrap();
            Err(Error::InvalidImage {
                subject: "t".into(),
                reason: "boom".into(),
            })
        });
        assert!(e.is_err());
        assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), 0);
        let mut calls = 0;
        for _ in 0..2 {
            let p = s
                .ensure_layer(&id, |p| {
                    calls += 1;
                    fs::write(p.join("f"), b"x").unwrap();
                    Ok(meta.clone())
                })
                .unwrap();
            assert_eq!(fs::read(p.join("f")).unwrap(), b"x");
        }
        assert_eq!(calls, 1);
        assert_eq!(s.layer_meta(&id), Some(meta));
        assert_eq!(s.layer_ids().unwrap(), vec![id.clone()]);
        s.remove_layer(&id).unwrap();
        assert!(s.layer_meta(&id).is_none());
        assert_eq!(fs::read_dir(s.layers_dir()).unwrap().count(), 0);
    }
}
