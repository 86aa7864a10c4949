//! Content-addressed blobs under `images/blobs/sha256/<hex>`.
//!
//! A blob is written to a temp file in the same directory while its SHA-256 is computed,
//! fsynced, checked against the digest it should have and only then renamed to its name:
//! a blob whose digest is wrong never enters the store, and a crash leaves only a temp file
//! that [`Store::open`](super::Store::open) removes.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};

use super::{fsync_dir, tmp_path};
use crate::{Error, Result};

/// A blob being written; [`BlobWriter::commit`] makes it visible.
///
/// Dropping it without committing removes the temp file.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dir: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl BlobWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        let tmp = tmp_path(dir);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::os("creating blob temp file", &tmp, e))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            dir: dir.to_owned(),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The digest of what was written so far.
    pub fn digest(&self) -> Digest {
        sha256_digest(self.hasher.clone().finalize().as_slice())
    }

    /// Checks the content against `expected` (digest and, if given, size), fsyncs it and
    /// moves it into place. Returns the digest and size.
    ///
    /// # Errors
    /// [`Error::DigestMismatch`] if the content does not match (the temp file is removed),
    /// [`Error::Blob`] on I/O errors.
    pub fn commit(mut self, expected: Option<&Digest>, size: Option<u64>) -> Result<(Digest, u64)> {
        let digest = self.digest();
        if let Some(want) = expected {
            if *want != digest {
                return Err(Error::DigestMismatch {
                    digest: want.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        if let Some(want) = size {
            if want != self.size {
                return Err(Error::DigestMismatch {
                    digest: digest.to_string(),
                    actual: format!("{} bytes instead of {want}", self.size),
                });
            }
        }
        let file = self.file.take().expect("committed once");
        let blob_err = |op: &str, e| Error::Blob {
            op: op.into(),
            digest: digest.to_string(),
            source: e,
        };
        file.sync_all().map_err(|e| blob_err("syncing", e))?;
        drop(file);
        let dest = self.dir.join(digest.digest());
        fs::rename(&self.tmp, &dest).map_err(|e| blob_err("renaming into place", e))?;
        fsync_dir(&self.dir)?;
        Ok((digest, self.size))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("not committed").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// `sha256:<hex>` from raw hash bytes.
pub(crate) fn sha256_digest(hash: &[u8]) -> Digest {
    format!("sha256:{}", hex::encode(hash))
        .parse()
        .expect("valid sha256 digest")
}

/// The sha256 digest of `bytes`.
pub(crate) fn digest_of(bytes: &[u8]) -> Digest {
    sha256_digest(&Sha256::digest(bytes))
}

/// A reader that hashes what passes through it.
#[derive(Debug)]
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Reads to the end, then returns the digest and size of everything read.
    pub(crate) fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((sha256_digest(&self.hasher.finalize()), self.size))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Checks that a digest is one the store can address (sha256).
pub(crate) fn check_sha256(digest: &Digest) -> Result<()> {
    if *digest.algorithm() != DigestAlgorithm::Sha256 {
        return Err(Error::InvalidImage {
            subject: digest.to_string(),
            reason: "only sha256 digests are supported".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer into `dir` that has been given `content`.
    fn writer(dir: &Path, content: &[u8]) -> BlobWriter {
        let mut w = BlobWriter::create(dir).unwrap();
        w.write_all(content).unwrap();
        w
    }

    #[test]
    fn hashes_while_writing_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(dir.path(), b"hello");
        let want = digest_of(b"hello");
        assert_eq!(
            want.to_string(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let (d, n) = w.commit(Some(&want), Some(5)).unwrap();
        assert_eq!((d, n), (want.clone(), 5));
        assert_eq!(fs::read(dir.path().join(want.digest())).unwrap(), b"hello");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn wrong_digest_never_enters() {
        let dir = tempfile::tempdir().unwrap();
        let w = writer(dir.path(), b"evil");
        let want = digest_of(b"good");
        let e = w.commit(Some(&want), None).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(e.to_string().contains(want.digest()));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // truncated: right prefix, wrong size
        let w = writer(dir.path(), b"hel");
        assert!(w.commit(None, Some(5)).is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        // dropped: nothing left
        let w = writer(dir.path(), b"x");
        drop(w);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
