//! Engine events (`docker events`): what happened to containers, images, volumes and
//! networks, in Docker's event form, kept in `<root>/events.jsonl`.
//!
//! Every lifecycle verb appends one JSON line ([`Event`], Docker's shape) with one `write`
//! on a file opened `O_APPEND`, so writers in this process, in other processes and in the
//! monitors of detached containers never interleave. Writers hold the shared lock
//! `<root>/events.lock`; when the file has grown past twice its cap ([`MAX_EVENTS`] events
//! or [`MAX_BYTES`]), the writer that notices takes the lock exclusively and rewrites the
//! file with its newest events only, atomically (a new file renamed over it).
//!
//! Recording never fails a verb: an event that cannot be written is dropped.
//!
//! [`Events`] reads the file as `docker events` does: a time window, filters, and a follow
//! that polls the file until `until` passes.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::record::Record;
use crate::{Error, Result};

/// The file of a root's events.
pub(crate) const FILE: &str = "events.jsonl";
const LOCK: &str = "events.lock";
/// The events kept when the file is rewritten (it is rewritten past twice as many).
pub const MAX_EVENTS: usize = 10_000;
/// The bytes kept when the file is rewritten (it is rewritten past twice as many).
pub const MAX_BYTES: u64 = 1 << 20;
/// How often a follow looks for new events.
const POLL: Duration = Duration::from_millis(50);

/// One event, in the JSON shape `docker events --format '{{json .}}'` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// The action, as Docker's deprecated `status` (container and image events only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    /// The subject's id, as Docker's deprecated `id` (container and image events only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The image of a container event (Docker's deprecated `from`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// `container`, `image`, `volume` or `network`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// `create`, `start`, `die`, `stop`, `kill`, `pause`, `unpause`, `rename`, `destroy`,
    /// `update`; `pull`, `push`, `tag`, `untag`, `delete`, `load`, `import`, `save`;
    /// `connect`, `disconnect`…
    #[serde(rename = "Action")]
    pub action: String,
    /// What it happened to.
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// The subject of an [`Event`]: its id and attributes (a container's image, name, labels,
/// and the event's own: `exitCode`, `signal`, `oldName`…).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Actor {
    /// The id (a container's, an image's reference or id, a volume's name…).
    #[serde(rename = "ID")]
    pub id: String,
    /// The attributes, by name.
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of `kind` and `action` about `id`, happening now.
    pub fn new(kind: &str, action: &str, id: &str) -> Event {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let legacy = matches!(kind, "container" | "image");
        Event {
            status: if legacy {
                action.to_owned()
            } else {
                String::new()
            },
            id: if legacy { id.to_owned() } else { String::new() },
            from: String::new(),
            kind: kind.to_owned(),
            action: action.to_owned(),
            actor: Actor {
                id: id.to_owned(),
                attributes: BTreeMap::new(),
            },
            scope: "local".to_owned(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos().min(i64::MAX as u128) as i64,
        }
    }

    /// Adds the attribute `key`.
    pub fn attribute(mut self, key: &str, value: impl Into<String>) -> Event {
        self.actor.attributes.insert(key.to_owned(), value.into());
        self
    }

    /// When it happened.
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.time_nano.max(0) as u64)
    }
}

impl fmt::Display for Event {
    /// Docker's default line: `2024-01-02T03:04:05.123456789Z container start <id>
    /// (image=busybox, name=web)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = super::logs::format_time(self.time(), true);
        write!(f, "{t} {} {} {}", self.kind, self.action, self.actor.id)?;
        if !self.actor.attributes.is_empty() {
            let attrs: Vec<String> = self
                .actor
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, " ({})", attrs.join(", "))?;
        }
        Ok(())
    }
}

/// Appends `ev` to the events of the engine root `root`; never fails (an event that cannot
/// be written is dropped).
pub(crate) fn record(root: &Path, ev: &Event) {
    let _ = try_record(root, ev);
}

fn try_record(root: &Path, ev: &Event) -> io::Result<()> {
    let mut line = serde_json::to_vec(ev).map_err(io::Error::other)?;
    line.push(b'\n');
    let path = root.join(FILE);
    let size = {
        let _shared = lock(root, rustix::fs::FlockOperation::LockShared)?;
        let mut f = OpenOptions::new().append(true).create(true).open(&path)?;
        // One write: O_APPEND puts the whole line at the end, whoever else writes.
        f.write_all(&line)?;
        f.metadata()?.len()
    };
    if size > 2 * MAX_BYTES {
        rotate(root)?;
    }
    Ok(())
}

fn lock(root: &Path, op: rustix::fs::FlockOperation) -> io::Result<File> {
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(root.join(LOCK))?;
    // A signal (a child's SIGCHLD in a program with a handler) must not drop the event.
    loop {
        match rustix::fs::flock(&f, op) {
            Err(rustix::io::Errno::INTR) => continue,
            r => r?,
        }
        return Ok(f);
    }
}

/// Rewrites the file with its newest events only (at most [`MAX_EVENTS`] and
/// [`MAX_BYTES`]), under the exclusive lock; a file that another writer has already cut is
/// left alone.
fn rotate(root: &Path) -> io::Result<()> {
    let _excl = lock(root, rustix::fs::FlockOperation::LockExclusive)?;
    let path = root.join(FILE);
    let data = fs::read(&path)?;
    if (data.len() as u64) <= 2 * MAX_BYTES && data.split(|&b| b == b'\n').count() <= 2 * MAX_EVENTS
    {
        return Ok(());
    }
    let lines: Vec<&[u8]> = data
        .split_inclusive(|&b| b == b'\n')
        .filter(|l| l.ends_with(b"\n"))
        .collect();
    let mut keep = 0;
    let mut bytes = 0u64;
    for l in lines.iter().rev() {
        if keep == MAX_EVENTS || bytes + l.len() as u64 > MAX_BYTES {
            break;
        }
        keep += 1;
        bytes += l.len() as u64;
    }
    let kept: Vec<u8> = lines[lines.len() - keep..].concat();
    crate::store::write_atomic(&path, &kept).map_err(|e| io::Error::other(e.to_string()))
}

/// Records the container event `action` of `rec` (Docker's attributes: its image, name
/// and labels, then `extra`), in the engine root `root`.
pub(crate) fn container(root: &Path, rec: &Record, action: &str, extra: &[(&str, String)]) {
    if rec.is_build_step() {
        return;
    }
    let mut ev = Event::new("container", action, &rec.info.id);
    ev.from = rec.info.config.image.clone();
    for (k, v) in &rec.info.config.labels {
        ev.actor.attributes.insert(k.clone(), v.clone());
    }
    ev.actor
        .attributes
        .insert("image".into(), rec.info.config.image.clone());
    ev.actor.attributes.insert("name".into(), rec.name().into());
    for (k, v) in extra {
        ev.actor.attributes.insert((*k).to_owned(), v.clone());
    }
    // Docker's order: a start mounts the volumes first, a death unmounts them after.
    if action == "start" {
        volume_mounts(root, rec, "mount");
    }
    record(root, &ev);
    if action == "die" {
        volume_mounts(root, rec, "unmount");
    }
}

/// Records the volume event `action` (`mount`, `unmount`) for each volume of `rec`, with
/// Docker's attributes.
fn volume_mounts(root: &Path, rec: &Record, action: &str) {
    let id = rec.info.id.as_str();
    for m in rec.info.mounts.iter().filter(|m| m.r#type == "volume") {
        let Some(name) = &m.name else { continue };
        if action == "mount" {
            let rw = if m.rw { "true" } else { "false" };
            let attrs = [
                ("container", id),
                ("destination", m.destination.as_str()),
                ("propagation", m.propagation.as_str()),
                ("read/write", rw),
            ];
            volume(root, action, name, &attrs);
        } else {
            volume(root, action, name, &[("container", id)]);
        }
    }
}

/// Records the volume event `action` (`create`, `destroy`, `mount`, `unmount`) of the
/// volume `name` with `attributes` (and Docker's `driver`), in the engine root `root`.
pub(crate) fn volume(root: &Path, action: &str, name: &str, attributes: &[(&str, &str)]) {
    let mut attrs = vec![("driver", "local")];
    attrs.extend_from_slice(attributes);
    other(root, "volume", action, name, &attrs);
}

/// Records the network event `action` (`create`, `destroy`, `connect`, `disconnect`) of
/// the network `id` named `name` with driver `driver`, about `container` for the last two.
pub(crate) fn network(
    root: &Path,
    action: &str,
    (id, name, driver): (&str, &str, &str),
    container: Option<&str>,
) {
    let mut attrs = vec![("name", name), ("type", driver)];
    if let Some(c) = container {
        attrs.push(("container", c));
    }
    other(root, "network", action, id, &attrs);
}

/// Records the event `action` of the container in `bundle` from its monitor (whose engine
/// root is `root`, when it knows it): its death, its start again.
pub(crate) fn monitored(
    root: Option<&Path>,
    bundle: &Path,
    action: &str,
    extra: &[(&str, String)],
) {
    if let (Some(root), Ok(rec)) = (root, Record::load(bundle)) {
        container(root, &rec, action, extra);
    }
}

/// Records the event `action` of `kind` about `id` with `attributes`, in the engine root
/// `root`.
pub(crate) fn other(root: &Path, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
    let mut ev = Event::new(kind, action, id);
    for (k, v) in attributes {
        ev = ev.attribute(k, *v);
    }
    record(root, &ev);
}

/// Records the image event `action` about `id` (with `name` as Docker's `name` attribute)
/// in the root of the image store `store`.
pub(crate) fn image(store: &crate::store::Store, action: &str, id: &str, name: &str) {
    if let Some(root) = store.layout_dir().parent() {
        let attrs: &[(&str, &str)] = if name.is_empty() {
            &[]
        } else {
            &[("name", name)]
        };
        other(root, "image", action, id, attrs);
    }
}

/// Records the image event `action` (`pull`, `push`) about `reference` as Docker names
/// it: the short form (`busybox:latest`) as the id, the repository (`busybox`) as `name`.
pub(crate) fn image_reference(
    store: &crate::store::Store,
    action: &str,
    reference: &crate::Reference,
) {
    let id = reference.familiar();
    let repo = id.split('@').next().unwrap_or_default();
    let name = match repo.rfind(':') {
        Some(i) if !repo[i..].contains('/') => &repo[..i],
        _ => repo,
    };
    image(store, action, &id, name);
}

/// Records the image event `action` once for each of `references` (Docker's `save`,
/// `load`: the reference is the id, and the name).
pub(crate) fn images(store: &crate::store::Store, action: &str, references: &[crate::Reference]) {
    for r in references {
        let r = r.to_string();
        image(store, action, &r, &r);
    }
}

/// Which events [`Events`] returns, as `docker events` takes them.
#[derive(Debug, Clone, Default)]
pub struct EventOptions {
    /// Only events at or after this time. Without it a follow starts with the events to
    /// come, and a read without follow with the oldest kept.
    pub since: Option<SystemTime>,
    /// Only events at or before this time; a follow ends once it has passed.
    pub until: Option<SystemTime>,
    /// Docker's filters as `(key, value)`: `container` (id, id prefix or name), `image`,
    /// `event` (or `action`), `type`, `label` (`key` or `key=value`), `volume`,
    /// `network`. Values of one key are alternatives; different keys must all match.
    pub filters: Vec<(String, String)>,
    /// Keep waiting for new events (until `until`, if set; forever otherwise).
    pub follow: bool,
}

impl EventOptions {
    /// Whether `ev` passes the time window and the filters.
    pub fn matches(&self, ev: &Event) -> bool {
        let t = ev.time();
        if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t > u) {
            return false;
        }
        let mut keys: Vec<&str> = self.filters.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        keys.into_iter().all(|key| {
            self.filters
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(_, v)| filter_matches(key, v, ev))
        })
    }
}

fn filter_matches(key: &str, value: &str, ev: &Event) -> bool {
    let attr = |k: &str| ev.actor.attributes.get(k).map(String::as_str);
    let id_or_name = |kind: &str| {
        ev.kind == kind
            && ((!value.is_empty() && ev.actor.id.starts_with(value))
                || attr("name") == Some(value))
    };
    match key {
        "container" => id_or_name("container"),
        "volume" => id_or_name("volume"),
        "network" => id_or_name("network"),
        "image" => {
            let strip = |s: &str| s.strip_suffix(":latest").unwrap_or(s).to_owned();
            let v = strip(value);
            (ev.kind == "image"
                && (strip(&ev.actor.id) == v || attr("name").map(strip) == Some(v.clone())))
                || attr("image").map(strip) == Some(v)
        }
        "event" | "action" => ev.action == value,
        "type" => ev.kind == value,
        "label" => match value.split_once('=') {
            Some((k, v)) => attr(k) == Some(v),
            None => attr(value).is_some(),
        },
        _ => false,
    }
}

/// The events of an engine root, oldest first, as `docker events` reads them (from
/// [`Engine::events`](crate::Engine::events)). An iterator of [`Event`]s; with
/// [`EventOptions::follow`] it blocks for new ones.
#[derive(Debug)]
pub struct Events {
    path: PathBuf,
    opts: EventOptions,
    reader: Option<(BufReader<File>, u64)>,
    /// The time of the newest event returned, to skip what was already returned when the
    /// file has been rewritten (writers take an event's time before they append it, so
    /// times are not in file order: within one file, position decides, not time).
    last: i64,
    /// The file was rewritten under the reader: skip events not newer than `last`.
    rewritten: bool,
    pending: Vec<u8>,
    /// Ends a follow while it waits (see [`Events::stop_when`]).
    stop: Option<StopWhen>,
}

/// The condition of [`Events::stop_when`].
struct StopWhen(Box<dyn Fn() -> bool + Send>);

impl std::fmt::Debug for StopWhen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopWhen")
    }
}

impl Events {
    /// The events of the engine root `root` that `opts` asks for.
    ///
    /// # Errors
    /// [`Error::Os`] when the events file exists but cannot be opened.
    pub(crate) fn open(root: &Path, opts: &EventOptions) -> Result<Events> {
        let mut ev = Events {
            path: root.join(FILE),
            opts: opts.clone(),
            reader: None,
            last: i64::MIN,
            rewritten: false,
            pending: Vec::new(),
            stop: None,
        };
        ev.reopen()?;
        if opts.follow && opts.since.is_none() {
            // `docker events` bare: only what happens from now on.
            if let Some((r, _)) = ev.reader.as_mut() {
                r.seek(SeekFrom::End(0))
                    .map_err(|e| Error::os("reading events", &ev.path, e))?;
            }
        }
        Ok(ev)
    }

    /// Ends a follow once `stop` returns true while it waits for new events (checked every
    /// poll, some milliseconds): for a server whose client may go away between events.
    pub fn stop_when(mut self, stop: impl Fn() -> bool + Send + 'static) -> Events {
        self.stop = Some(StopWhen(Box::new(stop)));
        self
    }

    /// (Re)opens the file, if it exists; `Ok(false)` if it does not.
    fn reopen(&mut self) -> Result<bool> {
        match File::open(&self.path) {
            Ok(f) => {
                let ino = f.metadata().map(|m| m.ino()).unwrap_or(0);
                self.reader = Some((BufReader::new(f), ino));
                self.pending.clear();
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.reader = None;
                Ok(false)
            }
            Err(e) => Err(Error::os("opening events", &self.path, e)),
        }
    }

    /// Whether the file was replaced (rewritten, or made) since it was opened.
    fn replaced(&self) -> bool {
        let now = fs::metadata(&self.path).map(|m| m.ino()).ok();
        match (&self.reader, now) {
            (Some((_, ino)), Some(n)) => *ino != n,
            (None, Some(_)) => true,
            _ => false,
        }
    }

    /// The next whole line in the file, if one has been written.
    fn next_line(&mut self) -> Result<Option<Vec<u8>>> {
        let Some((r, _)) = self.reader.as_mut() else {
            return Ok(None);
        };
        r.read_until(b'\n', &mut self.pending)
            .map_err(|e| Error::os("reading events", &self.path, e))?;
        if self.pending.ends_with(b"\n") {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        // A line being written: read it again from its start next time.
        let back = self.pending.len() as i64;
        self.pending.clear();
        r.seek(SeekFrom::Current(-back))
            .map_err(|e| Error::os("reading events", &self.path, e))?;
        Ok(None)
    }

    fn until_passed(&self) -> bool {
        self.opts.until.is_some_and(|u| SystemTime::now() > u)
    }
}

impl Iterator for Events {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Result<Event>> {
        loop {
            match self.next_line() {
                Err(e) => return Some(Err(e)),
                Ok(Some(line)) => {
                    let Ok(ev) = serde_json::from_slice::<Event>(&line) else {
                        continue;
                    };
                    if self.rewritten && ev.time_nano <= self.last {
                        continue;
                    }
                    if self.opts.until.is_some_and(|u| ev.time() > u) {
                        if self.opts.follow {
                            return None;
                        }
                        continue;
                    }
                    if self.opts.matches(&ev) {
                        self.last = self.last.max(ev.time_nano);
                        return Some(Ok(ev));
                    }
                }
                Ok(None) => {
                    if self.replaced() {
                        self.rewritten = self.reader.is_some();
                        if let Err(e) = self.reopen() {
                            return Some(Err(e));
                        }
                        continue;
                    }
                    if !self.opts.follow
                        || self.until_passed()
                        || self.stop.as_ref().is_some_and(|s| (s.0)())
                    {
                        return None;
                    }
                    std::thread::sleep(POLL);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_line_is_dockers() {
        let mut ev = Event::new("container", "start", "abc")
            .attribute("name", "web")
            .attribute("image", "busybox");
        ev.time_nano = 1_704_164_645_123_456_789;
        assert_eq!(
            ev.to_string(),
            "2024-01-02T03:04:05.123456789Z container start abc (image=busybox, name=web)"
        );
        let json: serde_json::Value = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["Type"], "container");
        assert_eq!(json["Actor"]["Attributes"]["name"], "web");
        assert_eq!(json["status"], "start");
        assert_eq!(json["scope"], "local");
    }

    #[test]
    fn filters_and_within_keys_or() {
        let ev = Event::new("container", "die", "abcdef")
            .attribute("name", "web")
            .attribute("image", "busybox:latest")
            .attribute("tier", "front");
        let with = |f: &[(&str, &str)]| EventOptions {
            filters: f.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
            ..Default::default()
        };
        assert!(with(&[("container", "web")]).matches(&ev));
        assert!(with(&[("container", "abc")]).matches(&ev));
        assert!(with(&[("image", "busybox")]).matches(&ev));
        assert!(with(&[("event", "start"), ("event", "die")]).matches(&ev));
        assert!(!with(&[("event", "start"), ("type", "container")]).matches(&ev));
        assert!(with(&[("label", "tier=front"), ("label", "tier")]).matches(&ev));
        assert!(!with(&[("label", "tier=back")]).matches(&ev));
        assert!(!with(&[("type", "image")]).matches(&ev));
    }

    #[test]
    fn rotation_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let ev = Event::new("volume", "create", &"v".repeat(200));
        let line = serde_json::to_vec(&ev).unwrap().len() as u64 + 1;
        let n = (2 * MAX_BYTES / line) as usize + 2;
        for _ in 0..n {
            record(dir.path(), &ev);
        }
        let size = fs::metadata(dir.path().join(FILE)).unwrap().len();
        assert!(size <= 2 * MAX_BYTES, "{size}");
        let data = fs::read(dir.path().join(FILE)).unwrap();
        assert!(data.ends_with(b"\n"));
        for l in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            serde_json::from_slice::<Event>(l).unwrap();
        }
    }
}
