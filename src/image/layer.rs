//! Writing layers as OCI/Docker layer tars hold them (whiteouts as `.wh.<name>`, opaque
//! directories marked by `.wh..wh..opq`), gzip-compressed into a blob, and images made of a
//! parent image's layers plus one more: what `docker commit` writes.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci_spec::image::{Config, Descriptor, Digest, History, MediaType, RootFs};
use sha2::{Digest as _, Sha256};

use super::local;
use super::{Image, Images, Reference};
use crate::store::{self, BlobWriter, Lock, Store};
use crate::{Error, Result};

/// The marker of an opaque directory in a layer tar.
const OPAQUE: &str = ".wh..wh..opq";
/// The prefix of a whiteout in a layer tar.
const WHITEOUT_PREFIX: &str = ".wh.";

/// A tar stream of file system objects: ownership, modes, mtimes, symlinks, hard links (as
/// links, by inode), device nodes and xattrs (`SCHILY.xattr.*`, overlayfs's own left out)
/// kept, as [`Images::import_dir`] writes them; plus the whiteouts of a layer.
pub(crate) struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    links: HashMap<(u64, u64), PathBuf>,
}

impl<W: Write> TarWriter<W> {
    pub(crate) fn new(w: W) -> Self {
        TarWriter {
            tar: tar::Builder::new(w),
            links: HashMap::new(),
        }
    }

    /// Appends the object at `path` (not following a symlink) as `rel`; `meta` is its
    /// `symlink_metadata`. Sockets are left out, as Docker does.
    pub(crate) fn append(
        &mut self,
        path: &Path,
        rel: &Path,
        meta: &fs::Metadata,
    ) -> io::Result<()> {
        local::append_entry(&mut self.tar, path, rel, meta, &mut self.links, None)
    }

    /// [`append`](Self::append) with `owner` (uid, gid) as the entry's owner instead of
    /// the file's (a directory a rootless build cannot chown).
    pub(crate) fn append_owned(
        &mut self,
        path: &Path,
        rel: &Path,
        meta: &fs::Metadata,
        owner: (u32, u32),
    ) -> io::Result<()> {
        local::append_entry(&mut self.tar, path, rel, meta, &mut self.links, Some(owner))
    }

    /// Appends an entry whose header the caller made (type, mode, owner, mtime, size), at
    /// `rel`, with `data` as its content (exactly the header's size).
    pub(crate) fn append_header(
        &mut self,
        h: &mut tar::Header,
        rel: &Path,
        data: impl io::Read,
    ) -> io::Result<()> {
        self.tar.append_data(h, rel, data)
    }

    /// Appends a symbolic or hard link (as `h`'s entry type says) at `rel` to `target`.
    pub(crate) fn append_link(
        &mut self,
        h: &mut tar::Header,
        rel: &Path,
        target: &Path,
    ) -> io::Result<()> {
        self.tar.append_link(h, rel, target)
    }

    /// Appends the whiteout of `rel` (`<dir>/.wh.<name>`, an empty regular file with mode
    /// 0600, as Docker writes it); `meta` is the overlay whiteout's, for owner and mtime.
    pub(crate) fn append_whiteout(&mut self, rel: &Path, meta: &fs::Metadata) -> io::Result<()> {
        let name = rel
            .file_name()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        let mut wh = std::ffi::OsString::from(WHITEOUT_PREFIX);
        wh.push(name);
        let path = rel.parent().unwrap_or(Path::new("")).join(wh);
        self.marker(&path, 0o600, meta)
    }

    /// Appends the opaque marker of directory `dir` (`<dir>/.wh..wh..opq`), right after the
    /// directory's own entry; `meta` is the directory's, whose mode, owner and mtime the
    /// marker takes, as Docker does.
    pub(crate) fn append_opaque(&mut self, dir: &Path, meta: &fs::Metadata) -> io::Result<()> {
        self.marker(&dir.join(OPAQUE), meta.mode() & 0o777, meta)
    }

    fn marker(&mut self, path: &Path, mode: u32, meta: &fs::Metadata) -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        let (uid, gid) = crate::paths::image_owner(meta.uid(), meta.gid());
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mtime(meta.mtime().max(0) as u64);
        h.set_size(0);
        self.tar.append_data(&mut h, path, io::empty())
    }

    /// Writes the end of the archive and returns the stream.
    pub(crate) fn into_inner(self) -> io::Result<W> {
        self.tar.into_inner()
    }

    /// A writer that appends the entries of a whole tar stream written into it (another
    /// process's [`TarWriter`]) to this one, as they are: its end-of-archive blocks are
    /// held back and dropped by [`RawEntries::finish`].
    pub(crate) fn raw_entries(&mut self) -> RawEntries<'_, W> {
        RawEntries {
            out: self.tar.get_mut(),
            held: Vec::with_capacity(2 * END_OF_ARCHIVE),
        }
    }
}

/// The two zero blocks that end a tar.
const END_OF_ARCHIVE: usize = 1024;

/// See [`TarWriter::raw_entries`].
pub(crate) struct RawEntries<'a, W: Write> {
    out: &'a mut W,
    /// The last bytes seen, up to [`END_OF_ARCHIVE`] of them once past the first write.
    held: Vec<u8>,
}

impl<W: Write> Write for RawEntries<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.held.extend_from_slice(buf);
        if self.held.len() > END_OF_ARCHIVE {
            let pass = self.held.len() - END_OF_ARCHIVE;
            self.out.write_all(&self.held[..pass])?;
            self.held.drain(..pass);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> RawEntries<'_, W> {
    /// Checks that the stream ended with the end-of-archive blocks (a whole tar arrived).
    pub(crate) fn finish(self) -> io::Result<()> {
        if self.held.len() == END_OF_ARCHIVE && self.held.iter().all(|b| *b == 0) {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the tar stream ended before its end-of-archive blocks",
        ))
    }
}

/// Writes into a blob while hashing what passes (the uncompressed tar, for its diff id).
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The uncompressed bytes of a layer on their way into a blob: hashed (the diff id), then
/// gzip-compressed into the blob.
pub(crate) type LayerStream = HashingWriter<flate2::write::GzEncoder<BufWriter<BlobWriter>>>;

impl LayerStream {
    /// Starts a layer blob in `store`.
    pub(crate) fn create(store: &Store) -> Result<LayerStream> {
        let blob = store.blob_writer()?;
        let gz = flate2::write::GzEncoder::new(
            BufWriter::with_capacity(256 << 10, blob),
            flate2::Compression::fast(),
        );
        Ok(HashingWriter {
            inner: gz,
            hasher: Sha256::new(),
        })
    }

    /// Ends the compression and commits the blob: its gzip descriptor and the diff id.
    /// `op` and `subject` name a compression error.
    pub(crate) fn commit(self, op: &str, subject: &str) -> Result<(Descriptor, Digest)> {
        let diff_id = store::sha256_digest(&self.hasher.finalize());
        let blob = self
            .inner
            .finish()
            .and_then(|b| b.into_inner().map_err(io::IntoInnerError::into_error))
            .map_err(|e| Error::Blob {
                op: op.to_owned(),
                digest: subject.to_owned(),
                source: e,
            })?;
        let (digest, size) = blob.commit(None, None)?;
        Ok((
            Descriptor::new(MediaType::ImageLayerGzip, size, digest),
            diff_id,
        ))
    }
}

/// A layer being written into a blob of the store: a [`TarWriter`] whose uncompressed
/// bytes are hashed (the diff id) and gzip-compressed into the blob. Dropped unfinished, it
/// leaves nothing behind. It holds the store's gc lock (shared) until the layer is part of
/// an image.
pub(crate) struct LayerWriter {
    tar: TarWriter<LayerStream>,
    gc: Lock,
}

/// A layer blob written by [`LayerWriter::finish`], not yet part of an image.
pub(crate) struct NewLayer {
    pub(super) desc: Descriptor,
    pub(super) diff_id: Digest,
    _gc: Lock,
}

impl LayerWriter {
    /// The tar to append the layer's entries to.
    pub(crate) fn tar(&mut self) -> &mut TarWriter<LayerStream> {
        &mut self.tar
    }

    /// Ends the tar and commits the blob; `subject` names the layer's source in errors.
    ///
    /// # Errors
    /// [`Error::Os`] if compressing fails, [`Error::Blob`] if the blob cannot be written.
    pub(crate) fn finish(self, subject: &Path) -> Result<NewLayer> {
        let hw = self
            .tar
            .into_inner()
            .map_err(|e| Error::os("archiving", subject, e))?;
        let subject = subject.display().to_string();
        let (desc, diff_id) = hw.commit("compressing layer", &subject)?;
        Ok(NewLayer {
            desc,
            diff_id,
            _gc: self.gc,
        })
    }
}

/// The OCI media type of a layer that may carry Docker's name for the same format.
fn oci_layer_type(t: &MediaType) -> MediaType {
    match t {
        MediaType::Other(s) if s == "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
            MediaType::ImageLayerGzip
        }
        MediaType::Other(s) if s == "application/vnd.docker.image.rootfs.diff.tar" => {
            MediaType::ImageLayer
        }
        t => t.clone(),
    }
}

impl<'e> Images<'e> {
    /// Starts a layer blob (see [`LayerWriter`]).
    ///
    /// # Errors
    /// [`Error::Os`] if the gc lock or the blob temp file cannot be taken.
    pub(crate) fn layer_writer(&self) -> Result<LayerWriter> {
        let gc = self.store.lock_shared("gc")?;
        Ok(LayerWriter {
            tar: TarWriter::new(LayerStream::create(self.store)?),
            gc,
        })
    }

    /// Writes the image made of `parent`'s layers plus `layer`: `parent`'s configuration
    /// with `config` as its runtime config, `history` appended, `author` (if any) set, a new
    /// creation time and the new diff id. Tagged `reference`, or untagged without one (a
    /// dangling image, as `docker commit` without a repository makes).
    ///
    /// # Errors
    /// [`Error::Blob`] if a blob cannot be written, [`Error::InvalidImage`] if the manifest
    /// cannot be built, an index error.
    pub(crate) fn commit_layer(
        &self,
        parent: &Image,
        layer: NewLayer,
        config: Config,
        history: History,
        author: Option<&str>,
        reference: Option<&Reference>,
    ) -> Result<Image> {
        let mut image_config = parent.config().clone();
        image_config.set_created(Some(crate::store::now_rfc3339_seconds()));
        if let Some(a) = author {
            image_config.set_author(Some(a.to_owned()));
        }
        image_config.set_config(Some(config));
        let mut diff_ids = image_config.rootfs().diff_ids().clone();
        diff_ids.push(layer.diff_id.to_string());
        let mut rootfs = RootFs::default();
        rootfs.set_diff_ids(diff_ids);
        image_config.set_rootfs(rootfs);
        let mut hist = image_config.history().clone().unwrap_or_default();
        hist.push(history);
        image_config.set_history(Some(hist));
        let config_bytes = serde_json::to_vec(&image_config).expect("config serialises");
        let mut layers: Vec<Descriptor> = parent
            .manifest()
            .layers()
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.set_media_type(oci_layer_type(d.media_type()));
                d
            })
            .collect();
        layers.push(layer.desc.clone());
        let image = self.put_image(&config_bytes, layers)?;
        self.index_image(
            &image,
            reference.map(std::slice::from_ref).unwrap_or_default(),
        )
    }
}
