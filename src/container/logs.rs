//! Container logs in Docker's `json-file` format, and their readers.
//!
//! The monitor of a detached container (see [`super::monitor`]) writes one JSON object per
//! message, one per line, exactly as Docker's json-file driver does:
//!
//! ```text
//! {"log":"hello\n","stream":"stdout","time":"2024-05-01T12:00:00.123456789Z"}
//! ```
//!
//! A message is one line of output including its `\n`. As Docker's copier does, a line
//! longer than 16 KiB is cut into 16 KiB pieces logged without a trailing `\n` ("partial"
//! messages), and output left without a newline when the stream closes is logged as it is.
//! Output that has no newline yet is held until the newline, 16 KiB or the end of the
//! stream comes (Docker holds it too). `time` is when the monitor read the data, in Go's
//! RFC 3339 with nanoseconds (trailing zeros trimmed); bytes that are not UTF-8 become
//! U+FFFD, as Go's `string` conversion makes them.
//!
//! Readers ([`read`]) pick a stream, a time window, the last N entries, and can follow the
//! file as it grows until the monitor's exit record appears.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// The most bytes one log message holds, as Docker's copier buffer (16 KiB).
pub const MAX_MESSAGE: usize = 16 * 1024;

/// Which output stream of the container a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// The process's standard output.
    Stdout,
    /// The process's standard error.
    Stderr,
}

impl LogStream {
    /// The name used in the log file (`stdout`, `stderr`).
    pub fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// One message of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// The stream it was written to.
    pub stream: LogStream,
    /// When the monitor read it.
    pub time: SystemTime,
    /// The bytes, with the trailing `\n` unless the message is partial (a piece of a line
    /// longer than 16 KiB, or output that ended without a newline).
    pub log: Vec<u8>,
}

impl LogEntry {
    /// Whether the message is a piece of a line rather than a whole line.
    pub fn is_partial(&self) -> bool {
        self.log.last() != Some(&b'\n')
    }

    /// The bytes as `docker logs` prints them: the message, prefixed with the time in
    /// RFC 3339 with nine fraction digits and a space when `timestamps` is set.
    pub fn to_bytes(&self, timestamps: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.log.len() + 32);
        if timestamps {
            out.extend_from_slice(format_time(self.time, true).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.log);
        out
    }

    /// The entry as one line of the json-file format (with its `\n`).
    pub fn to_json_line(&self) -> Vec<u8> {
        let log = String::from_utf8_lossy(&self.log);
        let mut line = Vec::with_capacity(self.log.len() + 80);
        line.extend_from_slice(b"{\"log\":");
        // A string always serialises.
        let _ = serde_json::to_writer(&mut line, &log);
        line.extend_from_slice(b",\"stream\":\"");
        line.extend_from_slice(self.stream.as_str().as_bytes());
        line.extend_from_slice(b"\",\"time\":\"");
        line.extend_from_slice(format_time(self.time, false).as_bytes());
        line.extend_from_slice(b"\"}\n");
        line
    }

    /// Parses one line of the json-file format (with or without its `\n`).
    pub fn from_json_line(line: &[u8]) -> Option<LogEntry> {
        #[derive(serde::Deserialize)]
        struct Raw {
            log: String,
            stream: String,
            time: String,
        }
        let raw: Raw = serde_json::from_slice(line).ok()?;
        let stream = match raw.stream.as_str() {
            "stdout" => LogStream::Stdout,
            "stderr" => LogStream::Stderr,
            _ => return None,
        };
        Some(LogEntry {
            stream,
            time: parse_time(&raw.time)?,
            log: raw.log.into_bytes(),
        })
    }
}

/// What [`Container::logs`](crate::Container::logs) returns, as `docker logs` takes it.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Only the last N entries (after the stream and time filters) of what the log holds
    /// when it is opened; `Some(0)` is none of them (with [`follow`](Self::follow): only
    /// what is written from then on).
    pub tail: Option<usize>,
    /// Only entries written at or after this time.
    pub since: Option<SystemTime>,
    /// Only entries written at or before this time.
    pub until: Option<SystemTime>,
    /// Prefix each entry with its time in [`LogEntry::to_bytes`] through [`Logs::copy_to`].
    pub timestamps: bool,
    /// Keep reading as the file grows, until the monitor has recorded the container's exit
    /// (or is gone).
    pub follow: bool,
    /// Include standard output.
    pub stdout: bool,
    /// Include standard error.
    pub stderr: bool,
}

impl Default for LogOptions {
    /// Everything, both streams, no timestamps, no follow (what `docker logs` does bare).
    fn default() -> Self {
        LogOptions {
            tail: None,
            since: None,
            until: None,
            timestamps: false,
            follow: false,
            stdout: true,
            stderr: true,
        }
    }
}

impl LogOptions {
    fn keeps(&self, e: &LogEntry) -> bool {
        let stream = match e.stream {
            LogStream::Stdout => self.stdout,
            LogStream::Stderr => self.stderr,
        };
        stream && self.since.is_none_or(|s| e.time >= s) && self.until.is_none_or(|u| e.time <= u)
    }
}

/// Opens a container's log for reading: an iterator of [`LogEntry`], as `docker logs`.
///
/// `exit_path` is the monitor's exit record ([`super::monitor::MonitorConfig::exit_path`]):
/// a following reader stops once it exists (or once the monitor is gone without writing it)
/// and the file has been read to its end. A log that does not exist yet reads as empty
/// (the monitor creates it when the container starts).
///
/// # Errors
/// The log cannot be opened or read (other than not existing).
pub fn read(
    log_path: impl AsRef<Path>,
    exit_path: impl AsRef<Path>,
    opts: &LogOptions,
) -> Result<Logs> {
    let log_path = log_path.as_ref().to_path_buf();
    let exit_path = exit_path.as_ref().to_path_buf();
    let mut logs = Logs {
        opts: opts.clone(),
        log_path,
        exit_path,
        reader: None,
        pending: Vec::new(),
        finishing: false,
        done: false,
        stop: None,
    };
    logs.open(true)?;
    Ok(logs)
}

/// The entries of a container's log, from [`Container::logs`](crate::Container::logs).
#[derive(Debug)]
pub struct Logs {
    opts: LogOptions,
    log_path: PathBuf,
    exit_path: PathBuf,
    reader: Option<BufReader<File>>,
    /// Bytes of a line whose end has not been written yet.
    pending: Vec<u8>,
    /// The container has exited: read to the end once more, then stop.
    finishing: bool,
    done: bool,
    /// Ends a following reader early when it says so (its reader has gone).
    stop: Option<StopWhen>,
}

/// The condition of [`Logs::stop_when`].
struct StopWhen(Box<dyn Fn() -> bool + Send>);

impl std::fmt::Debug for StopWhen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopWhen")
    }
}

/// How often a following reader looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(20);

impl Logs {
    /// Ends a following reader, while it waits for more, once `stop` returns true (the
    /// API's streams: the client has gone); it is asked at each poll.
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    pub(crate) fn stop_when(mut self, stop: impl Fn() -> bool + Send + 'static) -> Logs {
        self.stop = Some(StopWhen(Box::new(stop)));
        self
    }

    /// Whether it follows the log as it grows ([`LogOptions::follow`]).
    #[cfg_attr(not(feature = "api"), allow(dead_code))]
    pub(crate) fn follows(&self) -> bool {
        self.opts.follow
    }

    /// Opens the log: `first` when the reader is made (its [`LogOptions::tail`] counts from
    /// the end of what the log holds then), else when it appears for a following reader
    /// (everything in it is new).
    fn open(&mut self, first: bool) -> Result<()> {
        let mut file = match File::open(&self.log_path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.opts.follow {
                    return Ok(());
                }
                self.done = true;
                return Ok(());
            }
            Err(e) => return Err(Error::os("opening container log", &self.log_path, e)),
        };
        if let Some(n) = self.opts.tail.filter(|_| first) {
            let start = tail_start(&mut file, n, &self.opts)
                .map_err(|e| Error::os("reading container log", &self.log_path, e))?;
            file.seek(SeekFrom::Start(start))
                .map_err(|e| Error::os("reading container log", &self.log_path, e))?;
            if n == 0 && !self.opts.follow {
                self.done = true;
            }
        }
        self.reader = Some(BufReader::with_capacity(64 * 1024, file));
        Ok(())
    }

    /// Writes every entry to `stdout` or `stderr` by its stream, as `docker logs` prints
    /// them (with times when [`LogOptions::timestamps`] is set).
    ///
    /// # Errors
    /// Reading the log or writing failed.
    pub fn copy_to(self, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<()> {
        let timestamps = self.opts.timestamps;
        for entry in self {
            let entry = entry?;
            let out: &mut dyn Write = match entry.stream {
                LogStream::Stdout => &mut *stdout,
                LogStream::Stderr => &mut *stderr,
            };
            out.write_all(&entry.to_bytes(timestamps))
                .and_then(|()| out.flush())
                .map_err(|e| Error::os("writing container log", "", e))?;
        }
        Ok(())
    }

    /// The next complete line, or None at the current end of the file.
    fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        let Some(reader) = self.reader.as_mut() else {
            return Ok(None);
        };
        let mut buf = std::mem::take(&mut self.pending);
        reader.read_until(b'\n', &mut buf)?;
        if buf.last() == Some(&b'\n') {
            Ok(Some(buf))
        } else {
            // The monitor writes a line in one write(2); a reader may still see the start of
            // one before its end. Keep it for the next round.
            self.pending = buf;
            Ok(None)
        }
    }
}

impl Iterator for Logs {
    type Item = Result<LogEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if self.reader.is_none() {
                // Following a log that did not exist yet.
                if let Err(e) = self.open(false) {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            match self.next_line() {
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::os("reading container log", &self.log_path, e)));
                }
                Ok(Some(line)) => {
                    // Lines that are not entries (a foreign or damaged file) are skipped.
                    let Some(entry) = LogEntry::from_json_line(&line) else {
                        continue;
                    };
                    if self.opts.until.is_some_and(|u| entry.time > u) {
                        self.done = true;
                        return None;
                    }
                    if self.opts.keeps(&entry) {
                        return Some(Ok(entry));
                    }
                }
                Ok(None) => {
                    if !self.opts.follow || self.finishing {
                        self.done = true;
                        return None;
                    }
                    // The monitor writes all of the output before the exit record: once the
                    // record exists, one more pass to the end reads everything.
                    if super::monitor::finished(&self.exit_path) {
                        self.finishing = true;
                        continue;
                    }
                    if self.stop.as_ref().is_some_and(|s| (s.0)()) {
                        self.done = true;
                        return None;
                    }
                    std::thread::sleep(FOLLOW_POLL);
                }
            }
        }
    }
}

/// The offset of the first of the last `n` entries that `opts` keeps, reading the file
/// backwards (the whole file is never read for a tail).
fn tail_start(file: &mut File, n: usize, opts: &LogOptions) -> io::Result<u64> {
    let len = file.seek(SeekFrom::End(0))?;
    if n == 0 {
        return Ok(len);
    }
    const CHUNK: u64 = 64 * 1024;
    // buf holds file[pos..end], where end is the end of the last complete line.
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = len;
    let mut trimmed = false;
    let mut count = 0;
    loop {
        if !trimmed && !buf.is_empty() {
            // A last line still being written is not part of the tail.
            match buf.iter().rposition(|&b| b == b'\n') {
                Some(k) => {
                    buf.truncate(k + 1);
                    trimmed = true;
                }
                None if pos == 0 => return Ok(0),
                None => {}
            }
        }
        let search = &buf[..buf.len().saturating_sub(1)];
        match search.iter().rposition(|&b| b == b'\n') {
            Some(k) if trimmed => {
                if entry_kept(&buf[k + 1..], opts) {
                    count += 1;
                    if count == n {
                        return Ok(pos + k as u64 + 1);
                    }
                }
                buf.truncate(k + 1);
            }
            _ if pos == 0 => {
                return Ok(0);
            }
            _ => {
                let chunk = CHUNK.min(pos);
                pos -= chunk;
                let mut more = vec![0u8; chunk as usize];
                file.seek(SeekFrom::Start(pos))?;
                file.read_exact(&mut more)?;
                more.extend_from_slice(&buf);
                buf = more;
            }
        }
    }
}

fn entry_kept(line: &[u8], opts: &LogOptions) -> bool {
    LogEntry::from_json_line(line).is_some_and(|e| opts.keeps(&e))
}

/// Writes entries to a json-file log: one `write(2)` per entry, appended.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: File,
}

impl LogWriter {
    /// Opens (creating, mode 0640) a log for appending.
    pub(crate) fn open(path: &Path) -> Result<LogWriter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o640)
            .open(path)
            .map_err(|e| Error::os("opening container log", path, e))?;
        Ok(LogWriter { file })
    }

    /// Appends one entry.
    pub(crate) fn write(&mut self, entry: &LogEntry) -> io::Result<()> {
        self.file.write_all(&entry.to_json_line())
    }
}

/// Cuts a stream's output into messages as Docker's copier does: at each `\n`, and at
/// 16 KiB when a line is longer.
#[derive(Debug)]
pub(crate) struct Splitter {
    stream: LogStream,
    buf: Vec<u8>,
}

impl Splitter {
    pub(crate) fn new(stream: LogStream) -> Splitter {
        Splitter {
            stream,
            buf: Vec::with_capacity(MAX_MESSAGE),
        }
    }

    /// Takes the bytes of one read and returns the messages they complete.
    pub(crate) fn feed(&mut self, data: &[u8], time: SystemTime) -> Vec<LogEntry> {
        let mut out = Vec::new();
        let mut data = data;
        while !data.is_empty() {
            let room = MAX_MESSAGE - self.buf.len();
            let take = data.len().min(room);
            match data[..take].iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.buf.extend_from_slice(&data[..=i]);
                    data = &data[i + 1..];
                    out.push(self.take(time));
                }
                None => {
                    self.buf.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.buf.len() == MAX_MESSAGE {
                        out.push(self.take(time));
                    }
                }
            }
        }
        out
    }

    /// The stream closed: what is left, as a partial message.
    pub(crate) fn finish(&mut self, time: SystemTime) -> Option<LogEntry> {
        (!self.buf.is_empty()).then(|| self.take(time))
    }

    fn take(&mut self, time: SystemTime) -> LogEntry {
        LogEntry {
            stream: self.stream,
            time,
            log: std::mem::replace(&mut self.buf, Vec::with_capacity(MAX_MESSAGE)),
        }
    }
}

/// Formats a time as RFC 3339 in UTC with nanoseconds: `fixed` keeps all nine digits (as
/// `docker logs -t` prints), otherwise trailing zeros are trimmed (Go's `RFC3339Nano`, as
/// the json-file driver writes). Times outside 1970–9999 are clamped into that range.
pub fn format_time(t: SystemTime, fixed: bool) -> String {
    /// 9999-12-31T23:59:59.999999999Z, the last time RFC 3339 can write.
    const LAST: Duration = Duration::new(253_402_300_799, 999_999_999);
    let t = t.clamp(UNIX_EPOCH, UNIX_EPOCH + LAST);
    let s = humantime::format_rfc3339_nanos(t).to_string();
    if fixed {
        return s;
    }
    // `…:SS.fffffffffZ`: trim the fraction's zeros, and its dot when nothing is left.
    let frac = s[..s.len() - 1].trim_end_matches('0');
    let frac = frac.strip_suffix('.').unwrap_or(frac);
    format!("{frac}Z")
}

/// Parses RFC 3339 (`2024-05-01T12:00:00.5Z`, `…+02:00`), any number of fraction digits.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    // humantime reads UTC only: the offset is taken off here.
    let (local, offset) = if let Some(l) = s.strip_suffix(['Z', 'z']) {
        (l, 0)
    } else {
        let (l, zone) = s.split_at_checked(s.len().checked_sub(6)?)?;
        let (sign, hh_mm) = zone.split_at_checked(1)?;
        let (hh, mm) = hh_mm.split_once(':')?;
        let digits = |d: &str| d.len() == 2 && d.bytes().all(|c| c.is_ascii_digit());
        if !digits(hh) || !digits(mm) {
            return None;
        }
        let o = hh.parse::<i64>().ok()? * 3600 + mm.parse::<i64>().ok()? * 60;
        match sign {
            "+" => (l, o),
            "-" => (l, -o),
            _ => return None,
        }
    };
    if local.ends_with('.') {
        return None;
    }
    let utc = humantime::parse_rfc3339_weak(&local.replacen('t', "T", 1)).ok()?;
    let back = Duration::from_secs(offset.unsigned_abs());
    if offset >= 0 {
        utc.checked_sub(back)
    } else {
        utc.checked_add(back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn times_format_as_go_does() {
        assert_eq!(format_time(at(0, 0), false), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_time(at(0, 0), true),
            "1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            format_time(at(1_714_564_800, 120_000_000), false),
            "2024-05-01T12:00:00.12Z"
        );
        assert_eq!(
            format_time(at(1_714_564_800, 123_456_789), true),
            "2024-05-01T12:00:00.123456789Z"
        );
    }

    #[test]
    fn times_parse_back() {
        for t in [
            at(0, 0),
            at(1_714_564_800, 1),
            at(1_714_564_800, 999_999_999),
            at(951_782_400, 5),
        ] {
            assert_eq!(parse_time(&format_time(t, false)), Some(t));
            assert_eq!(parse_time(&format_time(t, true)), Some(t));
        }
        assert_eq!(
            parse_time("2024-05-01T14:00:00.5+02:00"),
            Some(at(1_714_564_800, 500_000_000))
        );
        assert_eq!(parse_time("2024-05-01T12:00:00"), None);
        assert_eq!(parse_time("2024-13-01T12:00:00Z"), None);
        assert_eq!(parse_time("garbage"), None);
    }

    #[test]
    fn times_rfc3339_cannot_write_are_clamped() {
        let before = UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(format_time(before, false), "1970-01-01T00:00:00Z");
        let after = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(format_time(after, true), "9999-12-31T23:59:59.999999999Z");
        assert_eq!(parse_time("2024-05-01T12:00:00.Z"), None);
        assert_eq!(
            parse_time("2024-05-01 12:00:00-01:30"),
            Some(at(1_714_564_800 + 5400, 0))
        );
    }

    #[test]
    fn entries_are_docker_json_lines() {
        let e = LogEntry {
            stream: LogStream::Stderr,
            time: at(1_714_564_800, 100),
            log: b"a \"quoted\"\ttab\n".to_vec(),
        };
        let line = e.to_json_line();
        assert_eq!(
            String::from_utf8(line.clone()).unwrap(),
            "{\"log\":\"a \\\"quoted\\\"\\ttab\\n\",\"stream\":\"stderr\",\"time\":\"2024-05-01T12:00:00.0000001Z\"}\n"
        );
        assert_eq!(LogEntry::from_json_line(&line), Some(e.clone()));
        assert!(!e.is_partial());
        // Docker's own escaping of <, > and & reads back too.
        let docker =
            br#"{"log":"\u003cb\u003e\n","stream":"stdout","time":"2024-05-01T12:00:00Z"}"#;
        assert_eq!(LogEntry::from_json_line(docker).unwrap().log, b"<b>\n");
        assert_eq!(
            e.to_bytes(true),
            b"2024-05-01T12:00:00.000000100Z a \"quoted\"\ttab\n".to_vec()
        );
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let e = LogEntry {
            stream: LogStream::Stdout,
            time: at(1, 0),
            log: b"\xff\n".to_vec(),
        };
        let back = LogEntry::from_json_line(&e.to_json_line()).unwrap();
        assert_eq!(back.log, "\u{fffd}\n".as_bytes());
    }

    #[test]
    fn output_is_cut_at_newlines_and_16k() {
        let mut s = Splitter::new(LogStream::Stdout);
        let t = at(1, 0);
        let got = s.feed(b"one\ntwo\nthr", t);
        assert_eq!(
            got.iter().map(|e| e.log.clone()).collect::<Vec<_>>(),
            [b"one\n".to_vec(), b"two\n".to_vec()]
        );
        let got = s.feed(b"ee\n", t);
        assert_eq!(got[0].log, b"three\n");
        // 40 KiB without a newline, then one: 16 KiB, 16 KiB, the rest with the newline.
        let mut long = vec![b'x'; 40 * 1024];
        long.push(b'\n');
        let got: Vec<_> = long.chunks(5000).flat_map(|c| s.feed(c, t)).collect();
        let lens: Vec<_> = got.iter().map(|e| e.log.len()).collect();
        assert_eq!(
            lens,
            [MAX_MESSAGE, MAX_MESSAGE, 40 * 1024 - 2 * MAX_MESSAGE + 1]
        );
        assert!(got[0].is_partial() && got[1].is_partial() && !got[2].is_partial());
        // A line of exactly 16 KiB plus its newline: the newline is a message of its own,
        // as in Docker (the buffer is full before the newline is seen).
        let mut exact = vec![b'y'; MAX_MESSAGE];
        exact.push(b'\n');
        let got = s.feed(&exact, t);
        assert_eq!(
            got.iter().map(|e| e.log.len()).collect::<Vec<_>>(),
            [MAX_MESSAGE, 1]
        );
        // What is left at the end of the stream is logged as is.
        assert!(s.feed(b"no newline", t).is_empty());
        assert_eq!(s.finish(t).unwrap().log, b"no newline");
        assert!(s.finish(t).is_none());
    }

    fn write_log(dir: &Path, entries: &[LogEntry], tail_garbage: &[u8]) -> PathBuf {
        let path = dir.join("ctr.log");
        let mut w = LogWriter::open(&path).unwrap();
        for e in entries {
            w.write(e).unwrap();
        }
        w.file.write_all(tail_garbage).unwrap();
        path
    }

    fn sample(n: usize) -> Vec<LogEntry> {
        (0..n)
            .map(|i| LogEntry {
                stream: if i % 3 == 2 {
                    LogStream::Stderr
                } else {
                    LogStream::Stdout
                },
                time: at(1000 + i as u64, 0),
                log: format!("line {i}\n").into_bytes(),
            })
            .collect()
    }

    /// A tempdir holding a log of `sample(n)` followed by `tail_garbage`.
    fn sample_log(n: usize, tail_garbage: &[u8]) -> (tempfile::TempDir, Vec<LogEntry>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let all = sample(n);
        let path = write_log(dir.path(), &all, tail_garbage);
        (dir, all, path)
    }

    fn collect(path: &Path, opts: &LogOptions) -> Vec<LogEntry> {
        read(path, path.with_extension("exit"), opts)
            .unwrap()
            .map(|e| e.unwrap())
            .collect()
    }

    #[test]
    fn readers_filter_streams_and_times() {
        let (_dir, all, path) = sample_log(10, b"");
        assert_eq!(collect(&path, &LogOptions::default()), all);
        let only_err = LogOptions {
            stdout: false,
            ..Default::default()
        };
        let got = collect(&path, &only_err);
        assert!(got.iter().all(|e| e.stream == LogStream::Stderr));
        assert_eq!(got.len(), 3);
        let window = LogOptions {
            since: Some(at(1003, 0)),
            until: Some(at(1005, 0)),
            ..Default::default()
        };
        assert_eq!(collect(&path, &window), all[3..=5].to_vec());
    }

    #[test]
    fn tail_reads_the_last_entries() {
        // A last line still being written is not shown.
        let (dir, all, path) = sample_log(2000, b"{\"log\":\"half");
        for n in [0, 1, 2, 7, 1999, 2000, 5000] {
            let opts = LogOptions {
                tail: Some(n),
                ..Default::default()
            };
            let got = collect(&path, &opts);
            assert_eq!(
                got,
                all[all.len() - n.min(all.len())..].to_vec(),
                "tail {n}"
            );
        }
        // The tail counts what the filters keep.
        let opts = LogOptions {
            tail: Some(2),
            stdout: false,
            ..Default::default()
        };
        let got = collect(&path, &opts);
        assert_eq!(got, vec![all[1994].clone(), all[1997].clone()]);
        // An empty or missing log.
        assert!(collect(&dir.path().join("none.log"), &opts).is_empty());
        let edir = dir.path().join("e");
        std::fs::create_dir(&edir).unwrap();
        let empty = write_log(&edir, &[], b"");
        assert!(collect(
            &empty,
            &LogOptions {
                tail: Some(3),
                ..Default::default()
            }
        )
        .is_empty());
    }

    #[test]
    fn partial_last_line_is_skipped() {
        let (_dir, all, path) = sample_log(3, b"{\"log\":\"x");
        assert_eq!(collect(&path, &LogOptions::default()), all);
    }
}
