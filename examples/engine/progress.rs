//! Docker's transfer output for `pull`, `push`, `load` and the pulls of `run`/`create`.
//!
//! On a terminal, one bar per layer drawn by indicatif (`a3ed95caeb02: Downloading
//! [=====>      ]  1.2MB/3.4MB`), each turning into its final status line (`Pull complete`,
//! `Pushed`, `Already exists`) when the layer is done. Anywhere else, Docker's plain
//! lines: each status once per layer, no bytes.

use std::collections::HashMap;
use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use cargohold::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Where the output goes: `pull`/`push`/`load` write to stdout, the pull of `run`/`create`
/// to stderr (so a container's output on stdout stays its own), as Docker's client does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out {
    Stdout,
    Stderr,
}

impl Out {
    fn is_terminal(self) -> bool {
        match self {
            Out::Stdout => io::stdout().is_terminal(),
            Out::Stderr => io::stderr().is_terminal(),
        }
    }

    fn target(self) -> ProgressDrawTarget {
        match self {
            Out::Stdout => ProgressDrawTarget::stdout(),
            Out::Stderr => ProgressDrawTarget::stderr(),
        }
    }

    /// Writes a line; a closed stream is not an error of the transfer.
    fn line(self, s: &str) {
        let _ = match self {
            Out::Stdout => writeln!(io::stdout().lock(), "{s}"),
            Out::Stderr => writeln!(io::stderr().lock(), "{s}"),
        };
    }
}

/// Which transfer: the words Docker uses for its phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pull,
    Push,
}

impl Kind {
    fn moving(self) -> &'static str {
        match self {
            Kind::Pull => "Downloading",
            Kind::Push => "Pushing",
        }
    }

    fn started(self) -> &'static str {
        match self {
            Kind::Pull => "Pulling fs layer",
            Kind::Push => "Preparing",
        }
    }

    fn exists(self) -> &'static str {
        match self {
            Kind::Pull => "Already exists",
            Kind::Push => "Layer already exists",
        }
    }
}

/// The short layer id Docker prints: 12 hex digits of the blob digest.
pub(crate) fn short(digest: &impl ToString) -> String {
    let d = digest.to_string();
    let hex = d.split_once(':').map_or(d.as_str(), |(_, h)| h);
    hex.chars().take(12).collect()
}

/// A size as Docker's `units.HumanSize` prints it: decimal units, 4 significant digits
/// (`527B`, `32.77kB`, `1.2MB`).
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    let decimals = if v >= 1000.0 {
        0
    } else if v >= 100.0 {
        1
    } else if v >= 10.0 {
        2
    } else {
        3
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_owned();
    }
    format!("{s}{}", UNITS[unit])
}

fn bar_style(kind: Kind) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{prefix}}: {} [{{bar:50}}] {{docker_bytes}}",
        kind.moving()
    ))
    .expect("a valid template")
    .progress_chars("=> ")
    .with_key(
        "docker_bytes",
        |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let total = s.len().map_or_else(String::new, human_size);
            let _ = write!(w, "{:>8}/{total}", human_size(s.pos()));
        },
    )
}

fn line_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix}: {msg}").expect("a valid template")
}

/// What has been said of one layer, so each plain line is printed once.
#[derive(Debug, Default)]
struct Layer {
    bar: Option<ProgressBar>,
    started: bool,
    done: bool,
}

/// The output of one pull or push; feed it every [`Progress`] event.
#[derive(Debug)]
pub(crate) struct Transfer {
    kind: Kind,
    out: Out,
    bars: Option<MultiProgress>,
    layers: Mutex<HashMap<String, Layer>>,
    /// Whether any layer moved (else the image was up to date).
    moved: AtomicBool,
    /// Whether the layers were listed first (a push): events of other blobs (the config)
    /// are not shown.
    listed: AtomicBool,
    /// Whether the bars are done: lines go below them.
    closed: AtomicBool,
}

impl Transfer {
    /// Bars when `out` is a terminal, plain lines otherwise.
    pub(crate) fn new(kind: Kind, out: Out) -> Transfer {
        let bars = out
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(out.target()));
        Transfer {
            kind,
            out,
            bars,
            layers: Mutex::new(HashMap::new()),
            moved: AtomicBool::new(false),
            listed: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        }
    }

    /// A line of text: above the bars while they move, below them once [`done`](Self::done).
    pub(crate) fn line(&self, s: &str) {
        match &self.bars {
            Some(m) if !self.closed.load(Ordering::Relaxed) => {
                let _ = m.println(s);
            }
            _ => self.out.line(s),
        }
    }

    /// Whether a layer was moved (downloaded, uploaded or mounted).
    pub(crate) fn moved(&self) -> bool {
        self.moved.load(Ordering::Relaxed)
    }

    /// Shows `digests` as waiting layers (`Preparing` for a push), in this order.
    pub(crate) fn layers<'a>(&self, digests: impl IntoIterator<Item = &'a String>) {
        self.listed.store(true, Ordering::Relaxed);
        let mut layers = self.layers.lock().expect("progress lock");
        for d in digests {
            let l = layers.entry(short(d)).or_default();
            self.start(d, l);
        }
    }

    fn start(&self, digest: &str, l: &mut Layer) {
        if l.started {
            return;
        }
        l.started = true;
        match &self.bars {
            Some(m) => {
                let bar = ProgressBar::new(0)
                    .with_style(line_style())
                    .with_prefix(short(&digest))
                    .with_message(self.kind.started());
                l.bar = Some(m.add(bar));
            }
            None => self
                .out
                .line(&format!("{}: {}", short(&digest), self.kind.started())),
        }
    }

    /// Ends a layer with its final status.
    fn finish(&self, digest: &str, l: &mut Layer, status: &str) {
        if l.done {
            return;
        }
        l.done = true;
        match (&self.bars, &l.bar) {
            (Some(_), Some(bar)) => {
                bar.set_style(line_style());
                bar.finish_with_message(status.to_owned());
            }
            (Some(m), None) => {
                let bar = ProgressBar::new(0)
                    .with_style(line_style())
                    .with_prefix(short(&digest));
                let bar = m.add(bar);
                bar.finish_with_message(status.to_owned());
                l.bar = Some(bar);
            }
            (None, _) => self.out.line(&format!("{}: {status}", short(&digest))),
        }
    }

    /// One event of the library's pull or push.
    pub(crate) fn event(&self, p: &Progress) {
        let mut layers = self.layers.lock().expect("progress lock");
        let digest = match p {
            Progress::LayerExists { digest }
            | Progress::LayerBytes { digest, .. }
            | Progress::LayerDone { digest, .. } => digest,
            _ => return,
        };
        if self.listed.load(Ordering::Relaxed) && !layers.contains_key(&short(digest)) {
            return;
        }
        match p {
            Progress::LayerExists { digest } => {
                let key = digest.to_string();
                let l = layers.entry(short(&key)).or_default();
                self.finish(&key, l, self.kind.exists());
            }
            Progress::LayerBytes {
                digest,
                done,
                total,
            } => {
                self.moved.store(true, Ordering::Relaxed);
                let key = digest.to_string();
                let l = layers.entry(short(&key)).or_default();
                if l.done {
                    return;
                }
                self.start(&key, l);
                if let Some(bar) = &l.bar {
                    if bar.length() != Some(*total) {
                        bar.set_length(*total);
                        bar.set_style(bar_style(self.kind));
                    }
                    bar.set_position(*done);
                }
            }
            Progress::LayerDone { digest, mounted } => {
                self.moved.store(true, Ordering::Relaxed);
                let key = digest.to_string();
                let l = layers.entry(short(&key)).or_default();
                self.start(&key, l);
                let status = match (self.kind, mounted) {
                    (Kind::Pull, _) => {
                        if self.bars.is_none() {
                            self.out
                                .line(&format!("{}: Download complete", short(&key)));
                        }
                        "Pull complete"
                    }
                    (Kind::Push, true) => "Mounted from another repository",
                    (Kind::Push, false) => "Pushed",
                };
                self.finish(&key, l, status);
            }
            _ => {}
        }
    }

    /// Leaves the bars on the screen as they are (finished or not), so the lines after
    /// them follow.
    pub(crate) fn done(&self) {
        self.closed.store(true, Ordering::Relaxed);
        for l in self.layers.lock().expect("progress lock").values() {
            if let Some(bar) = l.bar.as_ref().filter(|b| !b.is_finished()) {
                bar.abandon();
            }
        }
    }
}

/// A reader that shows the bytes read so far (`load`): a bar toward `total` when the size
/// is known, a byte counter otherwise; nothing when `out` is not a terminal.
#[derive(Debug)]
pub(crate) struct Reading<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Reading<R> {
    pub(crate) fn new(inner: R, total: Option<u64>, out: Out, quiet: bool) -> Reading<R> {
        let bar = (!quiet && out.is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(total, out.target());
            let template = if total.is_some() {
                "Loading [{bar:50}] {docker_bytes}"
            } else {
                "Loading {spinner} {docker_bytes}"
            };
            let style = ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> ")
                .with_key(
                    "docker_bytes",
                    |s: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let total = s
                            .len()
                            .map_or_else(String::new, |t| format!("/{}", human_size(t)));
                        let _ = write!(w, "{:>8}{total}", human_size(s.pos()));
                    },
                );
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Reading { inner, bar }
    }

    /// Removes the bar (before the `Loaded image:` lines).
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl<R: Read> Read for Reading<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(bar) = &self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(527), "527B");
        assert_eq!(human_size(32_768), "32.77kB");
        assert_eq!(human_size(1_200_000), "1.2MB");
        assert_eq!(human_size(3_400_000_000), "3.4GB");
        assert_eq!(short(&"sha256:0123456789abcdef"), "0123456789ab");
    }
}
