//! `COPY --from` a stage or image in a rootless build, done by the rootless store helper
//! ([`crate::userns`]), root of the engine's user namespace.
//!
//! Rootless with a subordinate range, a stage's layers keep the image's owners through the
//! range: what a RUN step made as uid 999 (a `postgres`) belongs on the host to the
//! range's 999th id, and a `0700` directory of it is closed to the engine's user. Read
//! directly, such a source fails (`reading stage directory /app: Permission denied`) or,
//! worse, reads as absent: a lookup below a directory the user cannot search finds
//! nothing, so `COPY --from=0 /app/f /f` would report a source that is there as not found.
//! So every such copy is the helper's, rather than only one whose direct attempt failed
//! with `EACCES` or `EPERM`: there is no failure to rely on, and a failed attempt would
//! have written entries into the layer already.
//!
//! The helper gets the step as a [`Job`] (the expanded [`CopyInput`], the layer directories
//! of the source and of the destination's root) and runs the very functions the engine
//! runs as root ([`super::source_digest`], [`super::write_layer`]): the owners it reads are
//! image ids already (it is root of the namespace), its errors come back in their wire
//! form ([`crate::error::WireError`]) with their kind, subject and path, and the solver
//! names the Dockerfile line as it does for any step. A step is two jobs: the sources'
//! cache digest (the file hashes it used go back to the engine's table, which only the
//! engine saves), then, unless the cache has the layer, the layer's tar entries on the
//! helper's stdout, appended to the layer as a rootless commit's are
//! ([`TarWriter::raw_entries`]). Progress is reported once, when the helper is done.
//!
//! Each job costs one execve of the program and the two setuid map helpers (a few
//! milliseconds).

use std::io::{self, Write};
use std::path::PathBuf;

use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};

use super::{Copied, CopyFrom, CopyInput};
use crate::build::hashes::{FileHashes, Used};
use crate::container::changes::Stack;
use crate::image::layer::TarWriter;
use crate::userns::{self, Done};
use crate::{Error, Result};

/// A copy for the helper (see the module docs).
#[derive(Debug, Serialize, Deserialize)]
struct Job {
    input: CopyInput,
    /// The layer directories of the stage or image copied from, top first.
    from: Vec<PathBuf>,
    op: Op,
}

impl Job {
    /// `op` on a copy of `input` from the root file system `from`.
    fn new(input: &CopyInput, from: &Stack, op: Op) -> Job {
        Job {
            input: input.clone(),
            from: from.layers().to_vec(),
            op,
        }
    }
}

/// What the helper computes.
#[derive(Debug, Serialize, Deserialize)]
enum Op {
    /// The sources' cache digest; file hashes are looked up in the table saved at
    /// `hashes` (never saved by the helper).
    Digest { hashes: PathBuf },
    /// The layer's entries as a tar on stdout; `dest_root` is the destination's root file
    /// system (layer directories top first).
    Layer { dest_root: Vec<PathBuf> },
}

/// What a digest job returns (in [`Done::value`]).
#[derive(Debug, Serialize, Deserialize)]
struct Digested {
    digest: Digest,
    /// The entries of the hash table the job used, for the engine's.
    hashes: Used,
}

/// The root file system a copy from `from` reads, when the helper is to read it: a
/// stage's or image's, rootless with a subordinate range (see the module docs).
pub(crate) fn source<'a>(from: &CopyFrom<'a>) -> Option<&'a Stack> {
    match from {
        CopyFrom::Rootfs(stack) if userns::IdMap::current().keeps_owners() => Some(stack),
        _ => None,
    }
}

/// [`super::source_digest`] of a copy from the root file system `from`, in the helper;
/// the file hashes it used are added to `hashes`.
///
/// # Errors
/// As [`super::source_digest`]; those of [`userns::run`].
pub(crate) fn source_digest(
    input: &CopyInput,
    from: &Stack,
    hashes: &FileHashes,
) -> Result<Digest> {
    let hashes_path = hashes.path().to_owned();
    let job = Job::new(
        input,
        from,
        Op::Digest {
            hashes: hashes_path,
        },
    );
    let done = run(&job, None)?;
    let reply: Digested = done
        .value
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| Error::Io {
            op: "reading the digest of COPY --from sources from the rootless store helper".into(),
            source: io::Error::from_raw_os_error(libc::EPROTO),
        })?;
    hashes.learn(reply.hashes);
    Ok(reply.digest)
}

/// [`super::write_layer`] of a copy from the root file system `from`, in the helper: its
/// entries appended to `tar`; `progress` is told the bytes of file content at the end.
///
/// # Errors
/// As [`super::write_layer`]; those of [`userns::run`]; [`Error::Io`] when the helper's
/// tar stream ends early.
pub(crate) fn write_layer<W: Write>(
    input: &CopyInput,
    from: &Stack,
    dest_root: &Stack,
    tar: &mut TarWriter<W>,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied> {
    let dest_root = dest_root.layers().to_vec();
    let job = Job::new(input, from, Op::Layer { dest_root });
    let mut entries = tar.raw_entries();
    let done = run(&job, Some(&mut entries))?;
    entries.finish().map_err(|source| Error::Io {
        op: "reading the COPY --from layer entries of the rootless store helper".into(),
        source,
    })?;
    progress(done.bytes);
    Ok(Copied {
        files: done.entries,
        bytes: done.bytes,
    })
}

fn run(job: &Job, output: Option<&mut dyn Write>) -> Result<Done> {
    let job = serde_json::to_value(job).map_err(|e| Error::Io {
        op: "sending a COPY --from step to the rootless store helper".into(),
        source: io::Error::new(io::ErrorKind::InvalidInput, e),
    })?;
    userns::run(&userns::Job::BuildCopy(job), None, output)
}

/// The [`userns::Job::BuildCopy`] of the rootless store helper: the copy `job` done here,
/// as root of the engine's user namespace; a layer's tar written to `out`.
///
/// # Errors
/// Those of [`super::source_digest`] and [`super::write_layer`]; [`Error::Io`] when `job`
/// is malformed or `out` fails.
pub(crate) fn serve(job: serde_json::Value, out: &mut dyn Write) -> Result<Done> {
    let job: Job = serde_json::from_value(job).map_err(|e| Error::Io {
        op: "reading the COPY --from step given to the rootless store helper".into(),
        source: io::Error::new(io::ErrorKind::InvalidData, e),
    })?;
    let from = Stack::new(job.from);
    let from = CopyFrom::Rootfs(&from);
    match job.op {
        Op::Digest { hashes } => {
            let hashes = FileHashes::at(hashes);
            let digest = super::source_digest(&job.input, &from, &hashes)?;
            let reply = Digested {
                digest,
                hashes: hashes.used(),
            };
            Ok(Done {
                value: Some(serde_json::to_value(reply).expect("a digest reply serialises")),
                ..Done::default()
            })
        }
        Op::Layer { dest_root } => {
            let dest_root = Stack::new(dest_root);
            let mut tar = TarWriter::new(out);
            let copied = super::write_layer(&job.input, &from, &dest_root, &mut tar, &mut |_| {})?;
            tar.into_inner()
                .and_then(|w| w.flush())
                .map_err(|source| Error::Io {
                    op: "writing the COPY --from layer entries to the engine".into(),
                    source,
                })?;
            Ok(Done {
                entries: copied.files,
                bytes: copied.bytes,
                ..Done::default()
            })
        }
    }
}
