//! The content hashes of the files COPY and ADD read, remembered across builds by the
//! file's identity and change time, as BuildKit's content-hash cache and git's index do:
//! a cached rebuild of a context of large files does not read them again.
//!
//! An entry is trusted only while the file's device, inode, size, mtime and ctime are what
//! they were when it was hashed; any write or chmod changes the ctime. A file whose ctime is
//! less than [`RACY`] old when hashed is not remembered (timestamps are as coarse as the
//! kernel's clock tick, so a file written again within it could keep both times: git calls
//! such entries "racily clean"). The cache key of a step is still the content hash; this
//! only saves reading.
//!
//! The table is `<root>/build/file-hashes.json`, written atomically after a build that
//! hashed something new; it keeps at most [`MAX_ENTRIES`] files (the oldest go first).

use std::collections::HashMap;
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// How old a file's ctime must be for its hash to be remembered.
const RACY: Duration = Duration::from_secs(2);

/// The most files remembered.
const MAX_ENTRIES: usize = 200_000;

/// What identifies a version of a file.
type Stat = crate::store::FileVersion;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    stat: Stat,
    /// The sha256 of the content, hex.
    sha256: String,
    /// When it was last used (seconds since the epoch), to drop the oldest.
    used: u64,
}

/// The remembered hashes of one engine root.
pub(crate) struct FileHashes {
    path: PathBuf,
    table: Mutex<Table>,
    /// When it was read (seconds since the epoch).
    opened: u64,
}

#[derive(Default)]
struct Table {
    entries: HashMap<PathBuf, Entry>,
    dirty: bool,
}

/// Entries one table used, for another's: what the rootless store helper hashed (or found)
/// for the engine, which alone saves the table (see [`FileHashes::used`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Used(HashMap<PathBuf, Entry>);

impl FileHashes {
    /// The table of the engine at `root` (empty when there is none or it is unreadable).
    pub(crate) fn open(root: &Path) -> FileHashes {
        FileHashes::at(root.join("build").join("file-hashes.json"))
    }

    /// The table saved at `path` (see [`path`](Self::path)).
    pub(crate) fn at(path: PathBuf) -> FileHashes {
        let entries = fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        FileHashes {
            path,
            table: Mutex::new(Table {
                entries,
                dirty: false,
            }),
            opened: now(),
        }
    }

    /// The sha256 of the regular file at `host` (whose metadata is `meta`), from the table
    /// when the file is unchanged, else read (64 KiB at a time, never following a symlink).
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub(crate) fn sha256(&self, host: &Path, meta: &Metadata) -> io::Result<[u8; 32]> {
        let stat = stat_of(meta);
        let now = now();
        if let Ok(mut t) = self.table.lock() {
            if let Some(e) = t.entries.get_mut(host) {
                if e.stat == stat {
                    if let Some(h) = from_hex(&e.sha256) {
                        e.used = now;
                        return Ok(h);
                    }
                }
            }
        }
        let h = read_sha256(host)?;
        let settled = crate::store::settled(meta, RACY);
        if settled {
            if let Ok(mut t) = self.table.lock() {
                let sha256 = h.iter().map(|b| format!("{b:02x}")).collect();
                t.entries.insert(
                    host.to_owned(),
                    Entry {
                        stat,
                        sha256,
                        used: now,
                    },
                );
                t.dirty = true;
            }
        }
        Ok(h)
    }

    /// Where the table is saved.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The entries used (found or added) since the table was read, their paths UTF-8 (as
    /// JSON needs): a helper's, to give to the engine's table with [`learn`](Self::learn).
    pub(crate) fn used(&self) -> Used {
        let Ok(t) = self.table.lock() else {
            return Used::default();
        };
        Used(
            t.entries
                .iter()
                .filter(|(p, e)| e.used >= self.opened && p.to_str().is_some())
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect(),
        )
    }

    /// Takes in the entries another table used (see [`used`](Self::used)):
    /// each is checked against the file again when it is looked up.
    pub(crate) fn learn(&self, used: Used) {
        let Ok(mut guard) = self.table.lock() else {
            return;
        };
        let t = &mut *guard;
        for (path, e) in used.0 {
            match t.entries.get_mut(&path) {
                Some(old) if old.stat == e.stat && old.sha256 == e.sha256 => {
                    if e.used > old.used {
                        old.used = e.used;
                        t.dirty = true;
                    }
                }
                _ => {
                    t.entries.insert(path, e);
                    t.dirty = true;
                }
            }
        }
    }

    /// Writes the table if it changed (best effort: a table that cannot be written only
    /// costs the next build a read of the files).
    pub(crate) fn save(&self) {
        let Ok(mut t) = self.table.lock() else {
            return;
        };
        if !t.dirty {
            return;
        }
        if t.entries.len() > MAX_ENTRIES {
            let mut by_age: Vec<(u64, PathBuf)> =
                t.entries.iter().map(|(p, e)| (e.used, p.clone())).collect();
            by_age.sort();
            let excess = t.entries.len() - MAX_ENTRIES;
            for (_, p) in by_age.into_iter().take(excess) {
                t.entries.remove(&p);
            }
        }
        let json = serde_json::to_vec(&t.entries).expect("the table serializes");
        if let Some(dir) = self.path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        if crate::store::write_atomic(&self.path, &json).is_ok() {
            t.dirty = false;
        }
    }
}

/// Seconds since the epoch.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn stat_of(m: &Metadata) -> Stat {
    crate::store::file_version(m)
}

fn from_hex(s: &str) -> Option<[u8; 32]> {
    let mut out = [0; 32];
    if s.len() != 64 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The sha256 of the file at `host`, read 64 KiB at a time (never following a symlink).
pub(crate) fn read_sha256(host: &Path) -> io::Result<[u8; 32]> {
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(host)?;
    let mut h = Sha256::new();
    let mut buf = vec![0; 64 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_helpers_table_hands_what_it_used_to_the_engines() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("f");
        fs::write(&f, "one").unwrap();
        let meta = fs::symlink_metadata(&f).unwrap();
        let engine = FileHashes::open(root.path());
        // What the helper's table found or added since it was read; an entry of an older
        // build stays behind.
        let helper = FileHashes::at(engine.path().to_owned());
        let old = Entry {
            stat: stat_of(&meta),
            sha256: "00".repeat(32),
            used: 0,
        };
        let fresh = Entry {
            used: helper.opened,
            ..old.clone()
        };
        {
            let mut t = helper.table.lock().unwrap();
            t.entries.insert(root.path().join("old"), old);
            t.entries.insert(f.clone(), fresh);
        }
        let used = helper.used();
        assert_eq!(used.0.keys().collect::<Vec<_>>(), [&f]);
        // sent as JSON, taken in: the engine's table has it, to be saved
        let used: Used = serde_json::from_str(&serde_json::to_string(&used).unwrap()).unwrap();
        engine.learn(used);
        assert_eq!(engine.sha256(&f, &meta).unwrap(), [0; 32]);
        assert!(engine.table.lock().unwrap().dirty);
    }

    #[test]
    fn remembered_until_the_file_changes_and_only_when_settled() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("f");
        fs::write(&f, "one").unwrap();
        let hashes = FileHashes::open(root.path());
        let meta = fs::symlink_metadata(&f).unwrap();
        let want: [u8; 32] = Sha256::digest(b"one").into();
        assert_eq!(hashes.sha256(&f, &meta).unwrap(), want);
        // Just written: racy, not remembered.
        assert!(hashes.table.lock().unwrap().entries.is_empty());

        // An old file is remembered, and the table survives the process.
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let meta = fs::symlink_metadata(&f).unwrap();
        // ctime moved with set_modified: backdate the check instead of waiting.
        let mut t = Table::default();
        let stat = stat_of(&meta);
        let hex: String = Sha256::digest(b"stale")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        t.entries.insert(
            f.clone(),
            Entry {
                stat,
                sha256: hex,
                used: 0,
            },
        );
        *hashes.table.lock().unwrap() = t;
        // The same stat: the table's (deliberately wrong) hash is what comes back.
        assert_eq!(
            hashes.sha256(&f, &meta).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"stale"))
        );
        hashes.table.lock().unwrap().dirty = true;
        hashes.save();
        let again = FileHashes::open(root.path());
        assert_eq!(
            again.sha256(&f, &meta).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"stale"))
        );
        // An edit changes the stat: read again.
        fs::write(&f, "two!").unwrap();
        let meta = fs::symlink_metadata(&f).unwrap();
        assert_eq!(
            again.sha256(&f, &meta).unwrap(),
            <[u8; 32]>::from(Sha256::digest(b"two!"))
        );
    }
}
