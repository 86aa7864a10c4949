//! `build` and `builder prune`: `docker build` on [`Engine::build`], its progress printed
//! as BuildKit prints it.
//!
//! - `--progress=plain` (and `auto` when stderr is not a terminal) writes BuildKit's plain
//!   log: `#N [stage i/n] INSTR`, `#N 0.123 output line`, `#N CACHED`, `#N DONE 0.2s`,
//!   `#N ERROR: …`, and a last `exporting to image` step with `writing image sha256:… done`
//!   and `naming to docker.io/library/x:latest done`. When two steps run at once their
//!   lines interleave as BuildKit's do (`#N ...` marks the switch away from a step that
//!   has not ended).
//! - `--progress=tty` (and `auto` on a terminal) is BuildKit's live view, drawn by indicatif
//!   (`build_live.rs`): a ` => [stage i/n] INSTR   0.3s` line per step with a running
//!   timer, the latest RUN output line under a running step, `CACHED`/`ERROR` before an
//!   ended step's name. When stderr is no terminal the same lines are printed once each,
//!   unanimated: a line per ended step, RUN output as ` => => # line` as it comes.
//! - `--progress=quiet` and `-q` print nothing but the image id, on stdout.
//!
//! Progress goes to stderr and stdout stays clean, as with `docker build`. A failed build
//! prints BuildKit's error report (the failing step's last output lines, the Dockerfile
//! lines around the instruction marked `>>>`, `ERROR: failed to solve: …`) and exits 1,
//! as `docker build` does; bad flags exit 125 naming the flag.

use std::collections::{BTreeMap, VecDeque};
use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cargohold::{BuildEvent, BuildNetwork, Engine, Error, Image, Reference};

use crate::build_live::Live;
use crate::cli::{BuildArgs, BuilderCommand, Progress};
use crate::container::flag_error;
use crate::format::human_size;
use crate::{CmdResult, Failure};

/// Docker's exit code for a build that failed (the flags were fine).
const BUILD_FAILED: u8 = 1;

/// How many output lines of a step the error report shows (BuildKit keeps its last 10).
const TAIL_LINES: usize = 10;

/// `builder SUBCOMMAND`.
pub(crate) fn builder(engine: &Engine, cmd: BuilderCommand) -> CmdResult {
    match cmd {
        BuilderCommand::Prune { .. } => {
            let pruned = engine.prune_build_cache()?;
            println!("Total reclaimed space: {}", human_size(pruned.bytes));
        }
    }
    Ok(0)
}

/// Where a `--secret` comes from (`src=PATH`, or `env=VAR`, written to a private file for
/// the build since the library reads secrets from files).
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// `--secret id=ID[,src=PATH|,env=VAR][,type=file|env]`, as buildx parses it: CSV fields
/// `key=value`; without `src` or `env`, the environment variable named ID if it is set,
/// else the file named ID.
fn parse_secret(value: &str) -> Result<(String, SecretSource), String> {
    let mut id = None;
    let mut src = None;
    let mut env = None;
    let mut typ = None;
    for field in value.split(',') {
        let Some((key, v)) = field.split_once('=') else {
            return Err(format!("invalid field '{field}' must be a key=value pair"));
        };
        match key.to_ascii_lowercase().as_str() {
            "type" if v == "file" || v == "env" => typ = Some(v.to_owned()),
            "type" => return Err(format!("unsupported secret type {v:?}")),
            "id" => id = Some(v.to_owned()),
            "source" | "src" => src = Some(v.to_owned()),
            "env" => env = Some(v.to_owned()),
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let id = match id {
        Some(id) if !id.is_empty() => id,
        _ => return Err("secret id missing: give id=ID".into()),
    };
    // type=env,src=VAR names a variable, as buildx reads it.
    if typ.as_deref() == Some("env") && env.is_none() {
        env = src.take();
    }
    let source = match (src, env) {
        (Some(_), Some(_)) => return Err("give src=PATH or env=VAR, not both".into()),
        (Some(p), None) if typ.as_deref() != Some("env") => SecretSource::File(p.into()),
        (None, Some(v)) => SecretSource::Env(v),
        (_, None) if std::env::var_os(&id).is_some() && typ.as_deref() != Some("file") => {
            SecretSource::Env(id.clone())
        }
        _ => SecretSource::File(id.clone().into()),
    };
    Ok((id, source))
}

/// `KEY=VALUE` (or `KEY`, an empty value) of `--label`.
fn key_value(s: &str) -> (String, String) {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    (k.to_owned(), v.to_owned())
}

/// What a build reads besides its flags: the Dockerfile's text when it is not in a file,
/// and the context directory (a temp dir when the context came on stdin).
struct Inputs {
    context: PathBuf,
    /// The Dockerfile's text when it came on stdin (`-f -` or `build - < Dockerfile`).
    content: Option<String>,
    /// The temp dir of a context read from stdin, removed when the build is over.
    _stdin_context: Option<tempfile::TempDir>,
}

/// The context and Dockerfile of `build PATH [-f FILE]`: `-` as PATH reads a Dockerfile,
/// or a (gzipped) tar of the context, from stdin; `-f -` reads the Dockerfile from stdin.
fn inputs(a: &BuildArgs) -> Result<Inputs, Failure> {
    let dockerfile_stdin = a.file.as_deref() == Some(Path::new("-"));
    if a.path == "-" {
        if dockerfile_stdin {
            return Err(Failure::Usage(
                "invalid argument: can't use stdin for both build context and dockerfile".into(),
            ));
        }
        let mut data = Vec::new();
        io::stdin().lock().read_to_end(&mut data)?;
        let dir = tempfile::Builder::new().prefix("engine-build-").tempdir()?;
        let content =
            if is_tar(&data) {
                unpack_context(&data, dir.path())?;
                None
            } else {
                Some(String::from_utf8(data).map_err(|_| {
                    Failure::Usage("the Dockerfile on stdin is not UTF-8 text".into())
                })?)
            };
        return Ok(Inputs {
            context: dir.path().to_owned(),
            content,
            _stdin_context: Some(dir),
        });
    }
    let context = PathBuf::from(&a.path);
    if !context.is_dir() {
        let why = if context.exists() {
            "is not a directory"
        } else {
            "not found"
        };
        // as buildx words it; the caller prints it as `ERROR: …` and exits 1
        return Err(Failure::Usage(format!(
            "unable to prepare context: path {:?} {why}",
            a.path
        )));
    }
    let content = if dockerfile_stdin {
        let mut text = String::new();
        io::stdin().lock().read_to_string(&mut text)?;
        Some(text)
    } else {
        None
    };
    Ok(Inputs {
        context,
        content,
        _stdin_context: None,
    })
}

/// Whether `data` is a tar archive (`ustar` at 257) or gzip (which a context tar on stdin
/// may be; a Dockerfile never starts with these bytes).
fn is_tar(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b]) || data.get(257..262) == Some(b"ustar")
}

/// Unpacks a context tar (plain or gzip) into `dir`; the tar crate refuses entries that
/// would land outside it.
fn unpack_context(data: &[u8], dir: &Path) -> Result<(), Failure> {
    let reader: Box<dyn Read> = if data.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(data))
    } else {
        Box::new(data)
    };
    tar::Archive::new(reader)
        .unpack(dir)
        .map_err(|e| Failure::Usage(format!("unpacking the build context from stdin: {e}")))
}

/// The secrets of env variables, each in a private file until the build ends.
struct SecretFiles(Vec<tempfile::NamedTempFile>);

impl SecretFiles {
    /// A 0600 file holding `value`: in /dev/shm when there is one, so that the value
    /// never reaches a disk.
    fn write(&mut self, value: &OsString) -> io::Result<PathBuf> {
        use std::os::unix::ffi::OsStrExt;
        let shm = Path::new("/dev/shm");
        let mut b = tempfile::Builder::new();
        b.prefix("engine-secret-");
        let mut f = if shm.is_dir() {
            b.tempfile_in(shm)?
        } else {
            b.tempfile()?
        };
        f.write_all(value.as_bytes())?;
        f.flush()?;
        let path = f.path().to_owned();
        self.0.push(f);
        Ok(path)
    }
}

/// `build [OPTIONS] PATH`.
pub(crate) fn build(engine: &Engine, a: &BuildArgs) -> CmdResult {
    // Flags first: a bad one fails before anything is read or built.
    let mut tags = Vec::new();
    for t in &a.tag {
        tags.push(
            t.parse::<Reference>()
                .map_err(|e| flag_error("-t, --tag", t, e))?,
        );
    }
    let network = match &a.network {
        Some(n) => Some(
            n.parse::<BuildNetwork>()
                .map_err(|_| flag_error("--network", n, "expected default, none or host"))?,
        ),
        None => None,
    };
    let mut secrets = Vec::new();
    for s in &a.secret {
        secrets.push(parse_secret(s).map_err(|why| flag_error("--secret", s, why))?);
    }
    let inputs = match inputs(a) {
        Ok(i) => i,
        Err(Failure::Usage(m)) if m.starts_with("unable to prepare context") => {
            eprintln!("ERROR: {m}");
            return Ok(BUILD_FAILED);
        }
        Err(e) => return Err(e),
    };

    let mut b = engine.build(&inputs.context);
    match (&inputs.content, &a.file) {
        (Some(text), _) => b.dockerfile_content(text.clone()),
        (None, Some(path)) => b.dockerfile(path),
        (None, None) => &mut b,
    };
    for t in &a.tag {
        b.tag(t.clone());
    }
    for arg in &a.build_arg {
        match arg.split_once('=') {
            Some((k, v)) => b.build_arg(k, v),
            // `--build-arg K`: the value of K in our environment, as docker does; unset,
            // the argument is left out.
            None => match std::env::var(arg) {
                Ok(v) => b.build_arg(arg.clone(), v),
                Err(_) => &mut b,
            },
        };
    }
    if let Some(t) = &a.target {
        b.target(t.clone());
    }
    b.no_cache(a.no_cache).pull(a.pull);
    if let Some(n) = network {
        b.network(n);
    }
    for l in &a.label {
        let (k, v) = key_value(l);
        b.label(k, v);
    }
    let mut env_secrets = SecretFiles(Vec::new());
    for (id, source) in secrets {
        let path = match source {
            SecretSource::File(p) => p,
            SecretSource::Env(var) => {
                let Some(value) = std::env::var_os(&var) else {
                    return Err(flag_error(
                        "--secret",
                        &format!("id={id},env={var}"),
                        format!("environment variable {var} is not set"),
                    ));
                };
                env_secrets.write(&value)?
            }
        };
        b.secret(id, path);
    }

    let mode = match (a.quiet, a.progress) {
        (true, _) | (_, Progress::Quiet) => Mode::Quiet,
        (_, Progress::Plain) => Mode::Plain,
        (_, Progress::Tty) => Mode::Tty,
        (_, Progress::Auto) if io::stderr().is_terminal() => Mode::Tty,
        (_, Progress::Auto) => Mode::Plain,
    };
    let printer = Arc::new(Printer::new(mode));
    // Quiet records the steps too, for the error report.
    let p = Arc::clone(&printer);
    b.progress(move |e| p.event(e));
    printer.begin();
    let result = b.run();
    drop(env_secrets);
    match result {
        Ok(image) => {
            printer.exported(&image, &tags);
            if mode == Mode::Quiet {
                println!("{}", image.id());
            }
            Ok(0)
        }
        Err(e) => {
            let dockerfile = DockerfileText::new(&inputs, a);
            eprint!("{}", printer.error_report(&e, &dockerfile));
            Ok(BUILD_FAILED)
        }
    }
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Tty,
    Quiet,
}

/// What the printer knows of a step.
#[derive(Debug)]
struct Step {
    name: String,
    started: Instant,
    cached: bool,
    ended: bool,
    bytes: Option<u64>,
    /// Its last output lines, with their times (`0.301 line`), for the error report.
    tail: VecDeque<String>,
}

#[derive(Debug, Default)]
struct State {
    steps: BTreeMap<usize, Step>,
    /// The step whose lines were printed last and that has not ended (plain mode).
    current: Option<usize>,
    /// Whether anything was printed (plain mode separates steps by blank lines).
    printed: bool,
    /// The step that failed, if one did.
    failed: Option<usize>,
    /// The library's own `exporting to image` step: not printed, [`Printer::exported`]
    /// prints it with the image's id and names once the build has returned.
    export: Option<usize>,
}

/// Prints [`BuildEvent`]s to stderr; called from the build's threads.
#[derive(Debug)]
struct Printer {
    mode: Mode,
    start: Instant,
    state: Mutex<State>,
    /// The animated view, in tty mode on a terminal.
    live: Option<Live>,
}

impl Printer {
    fn new(mode: Mode) -> Printer {
        Printer {
            mode,
            start: Instant::now(),
            state: Mutex::new(State::default()),
            live: if mode == Mode::Tty {
                Live::on_stderr()
            } else {
                None
            },
        }
    }

    /// Writes `text` to stderr, ignoring errors (progress is best effort: a closed stderr
    /// must not fail the build).
    fn out(text: &str) {
        let _ = io::stderr().lock().write_all(text.as_bytes());
    }

    fn begin(&self) {
        if self.mode == Mode::Tty {
            Self::out("[+] Building\n");
        }
    }

    fn event(&self, e: &BuildEvent) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            BuildEvent::Started { id, name } if name == "exporting to image" => {
                st.export = Some(*id);
                return;
            }
            BuildEvent::Finished { id, .. } | BuildEvent::Cached { id }
                if st.export == Some(*id) =>
            {
                return
            }
            _ => {}
        }
        if let Some(live) = &self.live {
            record(&mut st, e);
            live.event(e);
            return;
        }
        let text = match self.mode {
            Mode::Plain => plain(&mut st, e),
            Mode::Tty => tty(&mut st, e),
            Mode::Quiet => {
                record(&mut st, e);
                String::new()
            }
        };
        Self::out(&text);
    }

    /// The last step, `exporting to image`, after the build returned `image`;
    /// `tags` are the `-t` references, normalised (`docker.io/library/x:latest`).
    fn exported(&self, image: &Image, tags: &[Reference]) {
        if let Some(live) = &self.live {
            live.finish();
        }
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let id = st.steps.keys().next_back().map_or(1, |n| n + 1);
        let elapsed = self.start.elapsed();
        let mut lines = vec![format!("writing image {}", image.id())];
        lines.extend(tags.iter().map(|r| format!("naming to {r}")));
        let text = match self.mode {
            Mode::Quiet => return,
            Mode::Plain => {
                let mut s = leave(&mut st);
                if st.printed {
                    s.push('\n');
                }
                s += &format!("#{id} exporting to image\n");
                for l in &lines {
                    s += &format!("#{id} {l} done\n");
                }
                s += &format!("#{id} DONE 0.0s\n");
                s
            }
            Mode::Tty => {
                let mut s = tty_line("exporting to image", Duration::ZERO);
                for l in &lines {
                    s += &tty_line(&format!("=> {l}"), Duration::ZERO);
                }
                let total = st.steps.len() + 1;
                s += &format!(
                    "[+] Building {:.1}s ({total}/{total}) FINISHED\n",
                    elapsed.as_secs_f64()
                );
                s
            }
        };
        Self::out(&text);
    }

    /// BuildKit's report of a failed build: the failing step and its last output lines,
    /// the Dockerfile lines around the instruction, then `ERROR: failed to solve: …`.
    fn error_report(&self, e: &Error, dockerfile: &DockerfileText) -> String {
        if let Some(live) = &self.live {
            live.finish();
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = String::new();
        if self.mode == Mode::Plain && st.printed {
            s.push('\n');
        }
        if let Some(step) = st.failed.and_then(|id| st.steps.get(&id)) {
            s += &format!("------\n > {}:\n", step.name);
            for l in &step.tail {
                s += l;
                s.push('\n');
            }
            s += "------\n";
        }
        let (line, reason) = match e {
            Error::BuildStep {
                line,
                instruction,
                status,
                output,
                ..
            } => {
                if st.failed.is_none() && !output.is_empty() {
                    // no events: show the output the error carries
                    s += &format!("------\n > {instruction}:\n");
                    for l in output {
                        s += &format!("{l}\n");
                    }
                    s += "------\n";
                }
                (
                    Some(*line),
                    format!("{instruction}: did not complete successfully: {status}"),
                )
            }
            Error::InvalidDockerfile { line, .. } => (Some(*line), e.to_string()),
            Error::BuildInstruction {
                line,
                instruction,
                cause,
                ..
            } => (Some(*line), format!("{instruction}: {cause}")),
            _ => (None, e.to_string()),
        };
        if let Some(line) = line {
            s += &dockerfile.excerpt(line);
        }
        s += &format!("ERROR: failed to solve: {reason}\n");
        s
    }
}

/// Records `e` in the state (every mode needs the names and tails for the error report).
fn record(st: &mut State, e: &BuildEvent) {
    match e {
        BuildEvent::Started { id, name } => {
            st.steps.insert(
                *id,
                Step {
                    name: name.clone(),
                    started: Instant::now(),
                    cached: false,
                    ended: false,
                    bytes: None,
                    tail: VecDeque::new(),
                },
            );
        }
        BuildEvent::Cached { id } => {
            if let Some(s) = st.steps.get_mut(id) {
                s.cached = true;
                s.ended = true;
            }
        }
        BuildEvent::Output { id, line } => {
            if let Some(s) = st.steps.get_mut(id) {
                let t = s.started.elapsed().as_secs_f64();
                if s.tail.len() == TAIL_LINES {
                    s.tail.pop_front();
                }
                s.tail.push_back(format!("{t:.3} {line}"));
            }
        }
        BuildEvent::Transferred { id, bytes } => {
            if let Some(s) = st.steps.get_mut(id) {
                s.bytes = Some(*bytes);
            }
        }
        BuildEvent::Finished { id, .. } => {
            if let Some(s) = st.steps.get_mut(id) {
                s.ended = true;
            }
        }
        BuildEvent::Failed { id, .. } => {
            if let Some(s) = st.steps.get_mut(id) {
                s.ended = true;
            }
            st.failed.get_or_insert(*id);
        }
        _ => {}
    }
}

/// Plain mode: `#N ...` when the step whose lines were printed last has not ended and
/// other lines come (BuildKit's `printVtx`); no step is current then.
fn leave(st: &mut State) -> String {
    let mut s = String::new();
    if let Some(old) = st.current.take() {
        if st.steps.get(&old).is_some_and(|o| !o.ended) {
            s += &format!("#{old} ...\n");
        }
    }
    s
}

/// Plain mode's separator before lines of step `to` when the last printed were not its
/// own: [`leave`], a blank line, and `#N ...` (its header was printed when it started).
fn switch_to(st: &mut State, to: usize) -> String {
    if st.current == Some(to) {
        return String::new();
    }
    let mut s = leave(st);
    if st.printed {
        s.push('\n');
    }
    s += &format!("#{to} ...\n");
    st.current = Some(to);
    s
}

/// BuildKit's plain progress for one event.
fn plain(st: &mut State, e: &BuildEvent) -> String {
    let was_cached = match e {
        BuildEvent::Finished { id, .. } => st.steps.get(id).is_some_and(|s| s.cached),
        _ => false,
    };
    let bytes = match e {
        BuildEvent::Finished { id, .. } => st.steps.get(id).and_then(|s| s.bytes),
        _ => None,
    };
    let mut s = String::new();
    match e {
        BuildEvent::Started { id, name } => {
            s += &leave(st);
            if st.printed {
                s.push('\n');
            }
            s += &format!("#{id} {name}\n");
            st.current = Some(*id);
        }
        BuildEvent::Cached { id } => {
            s += &switch_to(st, *id);
            s += &format!("#{id} CACHED\n");
            st.current = None;
        }
        BuildEvent::Output { id, line } => {
            s += &switch_to(st, *id);
            let t = st
                .steps
                .get(id)
                .map_or(0.0, |s| s.started.elapsed().as_secs_f64());
            s += &format!("#{id} {t:.3} {line}\n");
        }
        BuildEvent::Transferred { .. } => {}
        // A cached step ended with CACHED already.
        BuildEvent::Finished { .. } if was_cached => {}
        BuildEvent::Finished { id, elapsed } => {
            s += &switch_to(st, *id);
            if let Some(b) = bytes {
                let what = match st.steps.get(id).map(|s| s.name.as_str()) {
                    Some(n) if n.contains("load build definition") => "transferring dockerfile",
                    Some(n) if n.starts_with("[internal]") => "transferring context",
                    _ => "copying",
                };
                s += &format!("#{id} {what}: {} done\n", human_size(b));
            }
            s += &format!("#{id} DONE {:.1}s\n", elapsed.as_secs_f64());
            st.current = None;
        }
        BuildEvent::Failed { id, error } => {
            s += &switch_to(st, *id);
            let first = error.lines().next().unwrap_or_default();
            s += &format!("#{id} ERROR: {first}\n");
            st.current = None;
        }
        _ => {}
    }
    record(st, e);
    st.printed |= !s.is_empty();
    s
}

/// The terminal's width (stderr's), 80 when it has none.
fn width() -> usize {
    rustix::termios::tcgetwinsize(io::stderr())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w >= 40)
        .unwrap_or(80)
}

/// ` => NAME ...   0.3s`, the time right-aligned to the terminal's width.
fn tty_line(name: &str, elapsed: Duration) -> String {
    let time = format!("{:.1}s", elapsed.as_secs_f64());
    let room = width().saturating_sub(time.len() + 5);
    let mut name: String = name.chars().take(room).collect();
    let pad = room.saturating_sub(name.chars().count());
    name.extend(std::iter::repeat_n(' ', pad));
    format!(" => {name} {time}\n")
}

/// The compact terminal view for one event: a line per ended step, output as it comes.
fn tty(st: &mut State, e: &BuildEvent) -> String {
    let name = |st: &State, id: &usize| {
        st.steps
            .get(id)
            .map_or_else(String::new, |s| s.name.clone())
    };
    let s = match e {
        BuildEvent::Cached { id } => tty_line(&format!("CACHED {}", name(st, id)), Duration::ZERO),
        BuildEvent::Output { line, .. } => format!(" => => # {line}\n"),
        BuildEvent::Finished { id, elapsed } if !st.steps.get(id).is_some_and(|s| s.cached) => {
            tty_line(&name(st, id), *elapsed)
        }
        BuildEvent::Failed { id, .. } => {
            let elapsed = st
                .steps
                .get(id)
                .map_or(Duration::ZERO, |s| s.started.elapsed());
            tty_line(&format!("ERROR {}", name(st, id)), elapsed)
        }
        _ => String::new(),
    };
    record(st, e);
    s
}

/// The Dockerfile's text, for the lines an error points at.
struct DockerfileText {
    /// The name BuildKit shows (`Dockerfile`, the base name of `-f`).
    name: String,
    text: Option<String>,
}

impl DockerfileText {
    fn new(inputs: &Inputs, a: &BuildArgs) -> DockerfileText {
        if let Some(text) = &inputs.content {
            return DockerfileText {
                name: "Dockerfile".into(),
                text: Some(text.clone()),
            };
        }
        let path = a
            .file
            .clone()
            .unwrap_or_else(|| inputs.context.join("Dockerfile"));
        DockerfileText {
            name: path
                .file_name()
                .map_or_else(|| "Dockerfile".into(), |n| n.to_string_lossy().into_owned()),
            text: std::fs::read_to_string(&path).ok(),
        }
    }

    /// `Dockerfile:3`, then the instruction starting at `line` (1-based; through its
    /// continuation lines) marked `>>>`, with two lines either side (BuildKit's
    /// `errdefs.Source.Print`). Empty when the text is not known.
    fn excerpt(&self, line: usize) -> String {
        let Some(text) = &self.text else {
            return String::new();
        };
        let lines: Vec<&str> = text.lines().collect();
        if line == 0 || line > lines.len() {
            return String::new();
        }
        let mut end = line;
        while end < lines.len() && lines[end - 1].trim_end().ends_with(['\\', '`']) {
            end += 1;
        }
        let mut s = format!("{}:{line}\n--------------------\n", self.name);
        for n in line.saturating_sub(2).max(1)..=(end + 2).min(lines.len()) {
            let mark = if (line..=end).contains(&n) {
                ">>>"
            } else {
                "   "
            };
            s += &format!(" {n:>3} | {mark} {}\n", lines[n - 1]);
        }
        s += "--------------------\n";
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_as_buildx_does() {
        assert_eq!(
            parse_secret("id=npm,src=/run/npmrc"),
            Ok(("npm".into(), SecretSource::File("/run/npmrc".into())))
        );
        assert_eq!(
            parse_secret("id=npm,source=f"),
            Ok(("npm".into(), SecretSource::File("f".into())))
        );
        assert_eq!(
            parse_secret("id=tok,env=TOKEN"),
            Ok(("tok".into(), SecretSource::Env("TOKEN".into())))
        );
        assert_eq!(
            parse_secret("type=env,id=tok,src=TOKEN"),
            Ok(("tok".into(), SecretSource::Env("TOKEN".into())))
        );
        // no source: the file named like the id (no such variable here)
        assert_eq!(
            parse_secret("id=cargohold_no_such_var"),
            Ok((
                "cargohold_no_such_var".into(),
                SecretSource::File("cargohold_no_such_var".into())
            ))
        );
        assert_eq!(
            parse_secret("nosrc").unwrap_err(),
            "invalid field 'nosrc' must be a key=value pair"
        );
        assert!(parse_secret("src=x").unwrap_err().contains("id"));
        assert!(parse_secret("id=a,src=x,env=Y").is_err());
        assert!(parse_secret("id=a,type=ssh").is_err());
        assert!(parse_secret("id=a,mode=0400")
            .unwrap_err()
            .contains("'mode'"));
    }

    fn step(st: &mut State, id: usize, name: &str) -> String {
        plain(
            st,
            &BuildEvent::Started {
                id,
                name: name.into(),
            },
        )
    }

    #[test]
    fn plain_progress_reads_as_buildkit_s() {
        let mut st = State::default();
        let mut out = step(&mut st, 1, "[1/3] FROM docker.io/library/busybox:latest");
        out += &plain(&mut st, &BuildEvent::Cached { id: 1 });
        out += &plain(
            &mut st,
            &BuildEvent::Finished {
                id: 1,
                elapsed: Duration::ZERO,
            },
        );
        out += &step(&mut st, 2, "[2/3] RUN echo hi");
        out += &plain(
            &mut st,
            &BuildEvent::Output {
                id: 2,
                line: "hi".into(),
            },
        );
        out += &step(&mut st, 3, "[3/3] COPY a /a");
        out += &plain(
            &mut st,
            &BuildEvent::Output {
                id: 2,
                line: "again".into(),
            },
        );
        out += &plain(
            &mut st,
            &BuildEvent::Finished {
                id: 2,
                elapsed: Duration::from_millis(260),
            },
        );
        out += &plain(&mut st, &BuildEvent::Transferred { id: 3, bytes: 30 });
        out += &plain(
            &mut st,
            &BuildEvent::Finished {
                id: 3,
                elapsed: Duration::from_millis(20),
            },
        );
        let masked: Vec<String> = out
            .lines()
            .map(|l| {
                // the output times depend on the clock
                let mut w: Vec<&str> = l.splitn(3, ' ').collect();
                if w.len() == 3 && w[1].contains('.') && w[1].parse::<f64>().is_ok() {
                    w[1] = "T";
                }
                w.join(" ")
            })
            .collect();
        assert_eq!(
            masked.join("\n"),
            "#1 [1/3] FROM docker.io/library/busybox:latest\n\
             #1 CACHED\n\
             \n\
             #2 [2/3] RUN echo hi\n\
             #2 T hi\n\
             #2 ...\n\
             \n\
             #3 [3/3] COPY a /a\n\
             #3 ...\n\
             \n\
             #2 ...\n\
             #2 T again\n\
             #2 DONE 0.3s\n\
             \n\
             #3 ...\n\
             #3 copying: 30B done\n\
             #3 DONE 0.0s"
        );
    }

    #[test]
    fn failed_steps_show_error_and_keep_their_tail() {
        let mut st = State::default();
        let mut out = step(&mut st, 1, "[2/2] RUN false");
        for i in 0..12 {
            out += &plain(
                &mut st,
                &BuildEvent::Output {
                    id: 1,
                    line: format!("l{i}"),
                },
            );
        }
        out += &plain(
            &mut st,
            &BuildEvent::Failed {
                id: 1,
                error: "exit code: 1\nmore".into(),
            },
        );
        assert!(out.ends_with("#1 ERROR: exit code: 1\n"), "{out}");
        assert_eq!(st.failed, Some(1));
        let tail = &st.steps[&1].tail;
        assert_eq!(tail.len(), TAIL_LINES);
        assert!(tail.back().unwrap().ends_with(" l11"));
    }

    #[test]
    fn excerpt_marks_the_instruction_and_its_continuations() {
        let d = DockerfileText {
            name: "Dockerfile".into(),
            text: Some("FROM busybox\n# c\nRUN a \\\n  b\nCMD x\nENV y=1\nUSER z\n".into()),
        };
        assert_eq!(
            d.excerpt(3),
            "Dockerfile:3\n\
             --------------------\n   \
             1 |     FROM busybox\n   \
             2 |     # c\n   \
             3 | >>> RUN a \\\n   \
             4 | >>>   b\n   \
             5 |     CMD x\n   \
             6 |     ENV y=1\n\
             --------------------\n"
        );
        assert_eq!(d.excerpt(99), "");
    }

    #[test]
    fn stdin_tars_are_told_from_dockerfiles() {
        assert!(!is_tar(b"FROM busybox\nRUN true\n"));
        assert!(is_tar(&[0x1f, 0x8b, 8, 0]));
        let mut t = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_cksum();
        t.append_data(&mut h, "Dockerfile", &[][..]).unwrap();
        assert!(is_tar(&t.into_inner().unwrap()));
    }
}
