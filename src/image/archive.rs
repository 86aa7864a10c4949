//! Image archives out: docker-archive (`docker save`), OCI archive (a tarred OCI layout)
//! and an image's flattened rootfs (`docker export`); and rootfs tarballs in (`docker
//! import`), checked by the unpacker as they are stored. Loading archives is in
//! [`load`](super::load).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;

use oci_spec::image::{Config, Digest, History, ImageIndex, ImageIndexBuilder, MediaType};

use super::layer::LayerStream;
use super::unpack::{self, Compression, UnpackOptions};
use super::{Image, Images, Reference};
use crate::store::{self, CONTAINERD_NAME, REF_NAME};
use crate::{Error, Result};

/// `manifest.json` of a docker-archive.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DockerManifestEntry {
    pub(super) config: String,
    #[serde(default)]
    pub(super) repo_tags: Option<Vec<String>>,
    pub(super) layers: Vec<String>,
}

fn invalid(subject: impl ToString, reason: impl Into<String>) -> Error {
    Error::InvalidImage {
        subject: subject.to_string(),
        reason: reason.into(),
    }
}

/// Appends a file entry of known size.
fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
    archive: &Path,
) -> Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(0);
    tar.append_data(&mut h, name, data)
        .map_err(|e| Error::os("writing archive entry", archive.join(name), e))
}

/// Appends a file entry holding `data`.
fn append_bytes<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    archive: &Path,
) -> Result<()> {
    append(tar, name, data.len() as u64, data, archive)
}

/// Ends the archive and flushes it to its writer.
fn finish<W: Write>(tar: tar::Builder<BufWriter<W>>, archive: &Path) -> Result<()> {
    let out = tar
        .into_inner()
        .map_err(|e| Error::os("finishing archive", archive, e))?;
    out.into_inner()
        .map_err(|e| Error::os("finishing archive", archive, e.into_error()))?;
    Ok(())
}

/// Reads `src` while writing what passes to `out`, counting it.
struct Tee<R, W> {
    src: R,
    out: W,
    read: u64,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.src.read(buf)?;
        self.out.write_all(&buf[..n])?;
        self.read += n as u64;
        Ok(n)
    }
}

impl<'e> Images<'e> {
    /// Writes `references` as a docker-archive (what `docker save` writes and
    /// `docker load` / `skopeo copy docker-archive:` read): `manifest.json`,
    /// `repositories`, `<config hex>.json` and one uncompressed `<diff id hex>.tar` per
    /// layer.
    ///
    /// # Errors
    /// [`Error::ImageNotFound`], [`Error::Blob`] when a blob cannot be read, [`Error::Os`]
    /// when `out` fails.
    pub fn save_docker_archive(&self, references: &[Reference], out: impl Write) -> Result<()> {
        let archive = Path::new("docker-archive");
        let mut tar = tar::Builder::new(BufWriter::with_capacity(256 << 10, out));
        let mut manifest = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        let mut written = std::collections::HashSet::new();
        // one entry per image; all tags of that image listed
        let mut by_id: Vec<(Image, Vec<Reference>)> = Vec::new();
        for r in references {
            let img = self.inspect(r)?;
            match by_id.iter_mut().find(|(i, _)| i.id() == img.id()) {
                Some((_, refs)) => refs.push(r.clone()),
                None => by_id.push((img, vec![r.clone()])),
            }
        }
        for (img, refs) in by_id {
            let config_name = format!("{}.json", img.id().digest());
            if written.insert(config_name.clone()) {
                let bytes = self.store.read_blob(img.id())?;
                append_bytes(&mut tar, &config_name, &bytes, archive)?;
            }
            let diffs = img.diff_ids();
            let mut layers = Vec::new();
            for (layer, diff) in img.manifest().layers().iter().zip(&diffs) {
                let name = format!("{}.tar", diff.digest());
                if written.insert(name.clone()) {
                    self.append_uncompressed(&mut tar, &name, layer.digest(), archive)?;
                }
                layers.push(name);
            }
            let tags: Vec<String> = refs
                .iter()
                .filter(|r| r.tag().is_some())
                .map(|r| r.familiar())
                .collect();
            for r in refs.iter().filter(|r| r.tag().is_some()) {
                let fam = r.familiar();
                let repo = fam
                    .rsplit_once(':')
                    .map_or(fam.as_str(), |(n, _)| n)
                    .to_owned();
                let top = diffs
                    .last()
                    .map(|d| d.digest().to_owned())
                    .unwrap_or_default();
                repositories
                    .entry(repo)
                    .or_default()
                    .insert(r.tag().unwrap_or_default().to_owned(), top);
            }
            manifest.push(DockerManifestEntry {
                config: config_name,
                repo_tags: Some(tags),
                layers,
            });
        }
        let m = serde_json::to_vec(&manifest).expect("manifest serialises");
        append_bytes(&mut tar, "manifest.json", &m, archive)?;
        let r = serde_json::to_vec(&repositories).expect("repositories serialise");
        append_bytes(&mut tar, "repositories", &r, archive)?;
        finish(tar, archive)?;
        crate::container::events::images(self.store, "save", references);
        Ok(())
    }

    /// Appends a layer blob uncompressed (decompressing to a temp file to learn its size).
    fn append_uncompressed<W: Write>(
        &self,
        tar: &mut tar::Builder<W>,
        name: &str,
        blob: &Digest,
        archive: &Path,
    ) -> Result<()> {
        let blob_err = |e| Error::Blob {
            op: "decompressing".into(),
            digest: blob.to_string(),
            source: e,
        };
        let mut f = io::BufReader::new(self.store.open_blob(blob)?);
        if Compression::sniff(&mut f).map_err(blob_err)? == Compression::None {
            let size = f.get_ref().metadata().map_err(blob_err)?.len();
            return append(tar, name, size, f, archive);
        }
        let tmp = store::tmp_path(self.store.layers_dir());
        let r = (|| {
            let mut out = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(blob_err)?;
            let size = io::copy(&mut unpack::decompress(f).map_err(blob_err)?, &mut out)
                .map_err(blob_err)?;
            use std::io::Seek;
            out.rewind().map_err(blob_err)?;
            append(tar, name, size, io::BufReader::new(out), archive)
        })();
        let _ = fs::remove_file(&tmp);
        r
    }

    /// Writes `references` as an OCI archive: a tarred OCI image layout whose index.json
    /// names each image by its full reference (`org.opencontainers.image.ref.name`).
    ///
    /// # Errors
    /// As [`save_docker_archive`](Self::save_docker_archive).
    pub fn save_oci_archive(&self, references: &[Reference], out: impl Write) -> Result<()> {
        let archive = Path::new("oci-archive");
        let mut tar = tar::Builder::new(BufWriter::with_capacity(256 << 10, out));
        let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;
        append_bytes(&mut tar, "oci-layout", layout, archive)?;
        let mut entries = Vec::new();
        let mut written = std::collections::HashSet::new();
        for r in references {
            let d = self.find(r)?;
            let mut d2 = d.clone();
            let mut ann = HashMap::new();
            ann.insert(REF_NAME.to_owned(), r.to_string());
            ann.insert(CONTAINERD_NAME.to_owned(), r.to_string());
            d2.set_annotations(Some(ann));
            entries.push(d2);
            for blob in self.blobs_of(d.digest())? {
                if written.insert(blob.clone()) {
                    let f = self.store.open_blob(&blob)?;
                    let size = f
                        .metadata()
                        .map_err(|e| Error::Blob {
                            op: "reading".into(),
                            digest: blob.to_string(),
                            source: e,
                        })?
                        .len();
                    append(
                        &mut tar,
                        &format!("blobs/sha256/{}", blob.digest()),
                        size,
                        f,
                        archive,
                    )?;
                }
            }
        }
        let index: ImageIndex = ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(entries)
            .build()
            .map_err(|e| invalid("oci-archive", e.to_string()))?;
        let i = serde_json::to_vec(&index).expect("index serialises");
        append_bytes(&mut tar, "index.json", &i, archive)?;
        finish(tar, archive)?;
        crate::container::events::images(self.store, "save", references);
        Ok(())
    }

    /// Imports a rootfs tarball (plain, gzip or zstd) as a one-layer image (`docker
    /// import`); the layer is stored gzip-compressed.
    ///
    /// The tarball goes through the unpacker a container's start uses (into a scratch
    /// directory, removed afterwards) as it is stored: input that is not a tar (empty,
    /// random bytes, cut short, compressed garbage) or holds an entry the unpacker refuses
    /// is an error, and nothing is written.
    ///
    /// # Errors
    /// [`Error::Blob`] if the stream cannot be read or decompressed,
    /// [`Error::InvalidImage`] if it is not a tar, [`Error::UnsafeLayerEntry`] or
    /// [`Error::Unpack`] for an entry the unpacker refuses.
    pub fn import_tar(
        &self,
        input: impl Read,
        config: &Config,
        reference: &Reference,
    ) -> Result<Image> {
        let _gc = self.store.lock_shared("gc")?;
        let err = |e| Error::Blob {
            op: "importing".into(),
            digest: reference.to_string(),
            source: e,
        };
        let mut tee = Tee {
            src: unpack::decompress(input).map_err(err)?,
            out: LayerStream::create(self.store)?,
            read: 0,
        };
        let scratch = store::tmp_path(self.store.layers_dir());
        fs::create_dir(&scratch).map_err(|e| Error::os("creating layer directory", &scratch, e))?;
        let subject = format!("imported as {reference}");
        let r = unpack::unpack(&mut tee, &scratch, UnpackOptions::for_layer(), &subject)
            // what follows the end-of-archive blocks is part of the layer too
            .and_then(|_| io::copy(&mut tee, &mut io::sink()).map_err(err));
        let _ = store::remove_any(&scratch);
        r?;
        if tee.read == 0 {
            return Err(invalid(reference, "the input is empty, not a tar"));
        }
        let layer = tee.out.commit("importing", &reference.to_string())?;
        let mut h = History::default();
        h.set_created(Some(crate::store::now_rfc3339_seconds()));
        h.set_created_by(Some("cargohold import_tar".to_owned()));
        let image = self.commit_image(config, vec![layer], vec![h], reference)?;
        crate::container::events::image(
            self.store,
            "import",
            image.id().as_ref(),
            &reference.to_string(),
        );
        Ok(image)
    }

    /// Writes the flattened rootfs of `reference` as a tar to `out` (an image's `docker
    /// export`).
    ///
    /// # Errors
    /// As [`flatten`](Self::flatten), and [`Error::Os`] if the tar cannot be written.
    pub fn export(&self, reference: &Reference, out: impl Write) -> Result<()> {
        let tmp = store::tmp_path(self.store.layers_dir());
        let r = (|| {
            self.flatten(reference, &tmp)?;
            let mut tar = tar::Builder::new(out);
            tar.follow_symlinks(false);
            tar.mode(tar::HeaderMode::Complete);
            tar.append_dir_all(".", &tmp)
                .map_err(|e| Error::os("archiving", &tmp, e))?;
            tar.into_inner()
                .map_err(|e| Error::os("archiving", &tmp, e))?;
            Ok(())
        })();
        let _ = store::remove_any(&tmp);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use oci_spec::image::ConfigBuilder;
    use std::os::unix::fs::symlink;

    fn r(s: &str) -> Reference {
        s.parse().unwrap()
    }

    fn store_with_image() -> (tempfile::TempDir, Store, Image) {
        let root = tempfile::tempdir().unwrap();
        let s = Store::open(root.path().join("a")).unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("bin")).unwrap();
        fs::write(src.path().join("bin/app"), b"app").unwrap();
        symlink("app", src.path().join("bin/sh")).unwrap();
        let cfg = ConfigBuilder::default()
            .cmd(vec!["/bin/sh".to_owned()])
            .build()
            .unwrap();
        let img = Images::new(&s)
            .import_dir(src.path(), &cfg, &r("app:1"))
            .unwrap();
        Images::new(&s)
            .tag(&r("app:1"), &r("quay.io/x/app:2"))
            .unwrap();
        (root, s, img)
    }

    #[test]
    fn docker_archive_round_trip() {
        let (root, s_store, img) = store_with_image();
        let s = Images::new(&s_store);
        let mut buf = Vec::new();
        s.save_docker_archive(&[r("app:1"), r("quay.io/x/app:2")], &mut buf)
            .unwrap();
        // the archive looks like docker save's
        let mut names = Vec::new();
        let mut manifest = Vec::new();
        for e in tar::Archive::new(&buf[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let n = e.path().unwrap().to_string_lossy().into_owned();
            if n == "manifest.json" {
                e.read_to_end(&mut manifest).unwrap();
            }
            names.push(n);
        }
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(
            m[0]["RepoTags"],
            serde_json::json!(["app:1", "quay.io/x/app:2"])
        );
        assert_eq!(m[0]["Config"], format!("{}.json", img.id().digest()));
        assert!(names.contains(&format!("{}.tar", img.diff_ids()[0].digest())));
        assert!(names.contains(&"repositories".to_owned()));

        let s2_store = Store::open(root.path().join("b")).unwrap();

        let s2 = Images::new(&s2_store);
        let loaded = s2.load(&buf[..]).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].id(), img.id(), "same config, same id");
        assert_eq!(loaded[0].diff_ids(), img.diff_ids());
        assert_eq!(loaded[0].references().len(), 2);
        let flat = tempfile::tempdir().unwrap();
        s2.flatten(&r("quay.io/x/app:2"), flat.path()).unwrap();
        assert_eq!(fs::read(flat.path().join("bin/app")).unwrap(), b"app");
        assert_eq!(
            fs::read_link(flat.path().join("bin/sh")).unwrap(),
            Path::new("app")
        );
    }

    /// [`store_with_image`]'s `app:1`, saved as an OCI archive.
    fn saved_oci_archive() -> (tempfile::TempDir, Image, Vec<u8>) {
        let (root, store, img) = store_with_image();
        let mut buf = Vec::new();
        let images = Images::new(&store);
        images.save_oci_archive(&[r("app:1")], &mut buf).unwrap();
        (root, img, buf)
    }

    #[test]
    fn oci_archive_round_trip() {
        let (root, img, buf) = saved_oci_archive();
        let s2_store = Store::open(root.path().join("b")).unwrap();
        let s2 = Images::new(&s2_store);
        let loaded = s2.load(&buf[..]).unwrap();
        assert_eq!(
            loaded[0].manifest_digest(),
            img.manifest_digest(),
            "byte-identical manifest"
        );
        assert_eq!(loaded[0].references(), &[r("app:1")]);
        assert!(s2.rootfs_layers(&r("app:1")).unwrap()[0]
            .join("bin/app")
            .exists());
    }

    /// `archive` with each entry's data passed through `edit(path, data)`, left out where
    /// it returns false.
    fn rewrite(archive: &[u8], edit: impl Fn(&str, &mut Vec<u8>) -> bool) -> Vec<u8> {
        let mut out = tar::Builder::new(Vec::new());
        for e in tar::Archive::new(archive).entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            if edit(&path.to_string_lossy(), &mut data) {
                let mut h = e.header().clone();
                out.append_data(&mut h, path, &data[..]).unwrap();
            }
        }
        out.into_inner().unwrap()
    }

    #[test]
    fn a_tampered_archive_is_refused() {
        let (root, img, buf) = saved_oci_archive();
        // replace a blob's content with other bytes of the same length
        let layer = img.manifest().layers()[0].digest().digest().to_owned();
        let bad = rewrite(&buf, |path, data| {
            if path.ends_with(&layer) {
                data.iter_mut().for_each(|b| *b = b.wrapping_add(1));
            }
            true
        });
        let s2_store = Store::open(root.path().join("b")).unwrap();
        let s2 = Images::new(&s2_store);
        let e = s2.load(&bad[..]).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        assert!(!s2.store.has_blob(img.manifest().layers()[0].digest()));
        // a manifest pointing at a blob the archive lacks
        let missing = rewrite(&buf, |path, _| !path.ends_with(&layer));
        let s3_store = Store::open(root.path().join("c")).unwrap();
        let s3 = Images::new(&s3_store);
        let e = s3.load(&missing[..]).unwrap_err();
        assert!(e.to_string().contains("missing blob"), "{e}");
    }

    #[test]
    fn import_and_export_a_rootfs_tarball() {
        let (root, s_store, _) = store_with_image();
        let s = Images::new(&s_store);
        let mut tarball = Vec::new();
        s.export(&r("app:1"), &mut tarball).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tarball).unwrap();
        let gz = gz.finish().unwrap();
        let s2_store = Store::open(root.path().join("b")).unwrap();
        let s2 = Images::new(&s2_store);
        let img = s2
            .import_tar(&gz[..], &Config::default(), &r("imported"))
            .unwrap();
        assert_eq!(
            img.diff_ids()[0],
            store::digest_of(&tarball),
            "diff id of the uncompressed tar"
        );
        let flat = tempfile::tempdir().unwrap();
        s2.flatten(&r("imported"), flat.path()).unwrap();
        assert_eq!(fs::read(flat.path().join("bin/app")).unwrap(), b"app");
    }
}
