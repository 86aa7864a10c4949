//! The Dockerfile parser: a Dockerfile's text into its global ARGs and its stages, each a
//! FROM and a list of typed instructions, as BuildKit's Dockerfile frontend reads it.
//!
//! What happens here is what Docker does before it builds anything: parser directives
//! (`# syntax=`, `# escape=`, `# check=`), comments, line continuations (comment and empty
//! lines inside one are skipped), heredocs, shell and exec (JSON) forms, flags, argument
//! counts. Variable substitution is not done here: it needs the ARG and ENV values of the
//! build, so the fields Docker expands are [`Word`]s the builder expands with the
//! instruction's [`Scope`] (RUN, CMD and ENTRYPOINT commands are plain text: the shell
//! expands them).
//!
//! Errors are [`Error::InvalidDockerfile`] with the path the caller gave, the line and
//! the instruction, in Docker's words (`unknown instruction: FOO`, `no build stage in
//! current context`).

mod flags;
mod lex;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use crate::error::Error;

use flags::{Flags, Kind};
// What the builder works with (not all of it is used yet).
#[allow(unused_imports)]
pub(crate) use flags::{Mount, MountType, NetworkMode, Security, Sharing};
#[allow(unused_imports)]
pub(crate) use lex::{Lexer, NoVars, Scope, Vars, Word, PLATFORM_ARGS, PROXY_ARGS};

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dockerfile {
    /// The `# syntax=` directive's value (accepted, not acted on).
    pub(crate) syntax: Option<String>,
    /// The escape character: `\` or, with `# escape=``, a backtick.
    pub(crate) escape: char,
    /// The ARG instructions before the first FROM: usable in FROM lines, and as values of
    /// a stage's ARG that is declared again without a default.
    pub(crate) global_args: Vec<Located<Vec<ArgDecl>>>,
    /// The stages, in order (at least one).
    pub(crate) stages: Vec<Stage>,
}

impl Dockerfile {
    /// The stage `name` names for a stage whose index is `before`: a stage name (any
    /// case) or the index of an earlier stage, as `COPY --from` and `FROM` refer to them.
    pub(crate) fn stage_index(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(i) = self.stages[..before.min(self.stages.len())]
            .iter()
            .position(|s| s.from.value.name.as_deref() == Some(lower.as_str()))
        {
            return Some(i);
        }
        name.parse::<usize>().ok().filter(|&i| i < before)
    }
}

/// One stage: its FROM and what follows it up to the next FROM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stage {
    /// The FROM line.
    pub(crate) from: Located<From>,
    /// The instructions of the stage, in order.
    pub(crate) instructions: Vec<Located<Instruction>>,
}

/// A parsed instruction with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Located<T> {
    /// The line it starts on (1-based).
    pub(crate) line: usize,
    /// The last line it covers (continuations and heredoc bodies included).
    pub(crate) end_line: usize,
    /// The instruction's name, upper case (`RUN`).
    pub(crate) name: &'static str,
    /// The logical line as written (continuations joined, heredoc bodies not included):
    /// what BuildKit's `created_by` is made from.
    pub(crate) original: String,
    /// The instruction.
    pub(crate) value: T,
}

impl<T> Located<T> {
    /// An [`Error::InvalidDockerfile`] about this instruction (for the builder: a
    /// substitution or a value that fails at build time).
    pub(crate) fn error(&self, path: &Path, reason: impl Into<String>) -> Error {
        Error::InvalidDockerfile {
            path: path.to_owned(),
            line: self.line,
            instruction: self.name.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `FROM [--platform=p] image [AS name]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct From {
    /// The image reference, `scratch`, or an earlier stage's name (expanded with the
    /// global ARGs).
    pub(crate) image: Word,
    /// The stage name after `AS`, lower case.
    pub(crate) name: Option<String>,
    /// `--platform`.
    pub(crate) platform: Option<Word>,
}

/// An instruction of a stage (FROM starts a stage and is not one of these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// `RUN`.
    Run(Run),
    /// `COPY`.
    Copy(Copy),
    /// `ADD`.
    Add(Add),
    /// `WORKDIR path`.
    Workdir(Word),
    /// `ENV k=v ...` or `ENV k v`.
    Env(Vec<KeyValue>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `LABEL k=v ...`.
    Label(Vec<KeyValue>),
    /// `EXPOSE port[/proto] ...`: each word expands to one or more [`ExposedPort`]s.
    Expose(Vec<Word>),
    /// `USER user[:group]`.
    User(User),
    /// `VOLUME ["/a", "/b"]` or `VOLUME /a /b`.
    Volume(Vec<Word>),
    /// `CMD`.
    Cmd(CommandLine),
    /// `ENTRYPOINT`.
    Entrypoint(CommandLine),
    /// `SHELL ["executable", "param"]`.
    Shell(Vec<String>),
    /// `STOPSIGNAL signal`.
    StopSignal(Word),
    /// `HEALTHCHECK`.
    Healthcheck(Healthcheck),
    /// `ONBUILD instruction`.
    OnBuild(OnBuild),
    /// `MAINTAINER name` (deprecated; the builder records it as a label).
    Maintainer(String),
}

impl Instruction {
    /// The instruction's name, upper case.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Label(_) => "LABEL",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::User(_) => "USER",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::OnBuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// A command in shell form (run by the stage's SHELL) or exec form (a JSON array).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CommandLine {
    /// `RUN echo $HOME`: the text, unexpanded (the shell expands it).
    Shell(String),
    /// `RUN ["echo", "hi"]`: the argv.
    Exec(Vec<String>),
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    /// `--mount`s, in order.
    pub(crate) mounts: Vec<Mount>,
    /// `--network`.
    pub(crate) network: Option<NetworkMode>,
    /// `--security`.
    pub(crate) security: Option<Security>,
    /// The command. With heredocs it is shell form and names them (`<<EOF`, `python3
    /// <<EOF`): a command that is one heredoc alone runs its body (a script with a `#!`
    /// line as a file); otherwise the shell gets the command followed by each body and
    /// delimiter, as BuildKit does.
    pub(crate) command: CommandLine,
    /// The heredocs of the command, in order.
    pub(crate) heredocs: Vec<Heredoc>,
}

/// A heredoc: `<<EOF` and the lines up to `EOF`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Heredoc {
    /// The delimiter, quotes removed.
    pub(crate) name: String,
    /// The body, each line ending in `\n`, leading tabs kept (see [`Heredoc::chomped`]).
    pub(crate) content: String,
    /// No part of the delimiter was quoted: variables in the body are expanded.
    pub(crate) expand: bool,
    /// `<<-`: leading tabs are stripped from the body's lines.
    pub(crate) chomp: bool,
    /// The file descriptor written before `<<` (`3<<EOF`), if any.
    pub(crate) fd: Option<u32>,
}

impl Heredoc {
    /// The body with leading tabs stripped from each line when [`Heredoc::chomp`] is set.
    pub(crate) fn chomped(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// A source of COPY or ADD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
    /// A path (or glob, or for ADD a URL), expanded by the builder.
    Path(Word),
    /// A heredoc: a file named after its delimiter with its body as content.
    Heredoc(Heredoc),
}

/// What COPY and ADD share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Files {
    /// The sources (at least one).
    pub(crate) sources: Vec<Source>,
    /// The destination (the last argument).
    pub(crate) dest: Word,
    /// `--chown=user[:group]`.
    pub(crate) chown: Option<Word>,
    /// `--chmod=mode`.
    pub(crate) chmod: Option<Word>,
    /// `--link`.
    pub(crate) link: bool,
    /// `--exclude=pattern`, repeatable.
    pub(crate) exclude: Vec<Word>,
}

/// `COPY [--from=stage|image] [--parents] ... src... dest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Copy {
    /// `--from`: a stage name or index, or an image.
    pub(crate) from: Option<Word>,
    /// `--parents`: keep the sources' parent directories.
    pub(crate) parents: bool,
    /// Sources, destination and the shared flags.
    pub(crate) files: Files,
}

/// `ADD [--checksum=...] [--keep-git-dir] ... src... dest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Add {
    /// `--checksum`: the digest a URL source must have.
    pub(crate) checksum: Option<Word>,
    /// `--keep-git-dir`: keep `.git` of a git source.
    pub(crate) keep_git_dir: bool,
    /// Sources, destination and the shared flags.
    pub(crate) files: Files,
}

/// A `key=value` of ENV or LABEL (both words, expanded by the builder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeyValue {
    /// The key.
    pub(crate) key: Word,
    /// The value.
    pub(crate) value: Word,
    /// Written in the legacy `KEY value` form (no `=`).
    pub(crate) legacy: bool,
}

/// One ARG declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ArgDecl {
    /// The name.
    pub(crate) name: String,
    /// The default (`name=default`), expanded when declared.
    pub(crate) default: Option<Word>,
}

/// `USER user[:group]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    /// The whole argument, as the image config's `User` takes it once expanded.
    pub(crate) spec: Word,
    /// The user part.
    pub(crate) user: Word,
    /// The group part, after the first `:`.
    pub(crate) group: Option<Word>,
}

/// `HEALTHCHECK NONE` or `HEALTHCHECK [options] CMD command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Healthcheck {
    /// `NONE`: disable the base image's check.
    None,
    /// `CMD`.
    Cmd {
        /// The test (Docker's `CMD` for exec form, `CMD-SHELL` for shell form).
        test: CommandLine,
        /// `--interval` (unset or zero: the default).
        interval: Option<Duration>,
        /// `--timeout`.
        timeout: Option<Duration>,
        /// `--start-period`.
        start_period: Option<Duration>,
        /// `--start-interval`.
        start_interval: Option<Duration>,
        /// `--retries`.
        retries: Option<u32>,
    },
}

/// `ONBUILD instruction`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OnBuild {
    /// The trigger as the image records it: the text after `ONBUILD`, with any heredoc
    /// bodies appended (BuildKit's form), parsed again by a child build.
    pub(crate) expression: String,
    /// The trigger, parsed.
    pub(crate) instruction: Box<Instruction>,
}

/// An `EXPOSE` port, `80`, `80/udp` or a range `8000-8010/tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ExposedPort {
    /// The first port.
    pub(crate) start: u16,
    /// The last port (`start` for a single one).
    pub(crate) end: u16,
    /// The protocol.
    pub(crate) protocol: Protocol,
}

/// A port's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `tcp` (the default).
    Tcp,
    /// `udp`.
    Udp,
    /// `sctp`.
    Sctp,
}

impl std::str::FromStr for ExposedPort {
    type Err = String;

    /// Parses an expanded EXPOSE word.
    fn from_str(s: &str) -> Result<Self, String> {
        let (ports, proto) = s.split_once('/').unwrap_or((s, "tcp"));
        let protocol = match proto.to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "sctp" => Protocol::Sctp,
            _ => return Err(format!("invalid proto: {proto}")),
        };
        let port = |p: &str| {
            p.parse::<u16>()
                .map_err(|_| format!("invalid containerPort: {p}"))
        };
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (port(a)?, port(b)?),
            None => (port(ports)?, port(ports)?),
        };
        if end < start {
            return Err(format!(
                "invalid range specified for container port: {ports}"
            ));
        }
        Ok(ExposedPort {
            start,
            end,
            protocol,
        })
    }
}

/// A parse failure, before the path is known.
#[derive(Debug)]
struct ParseError {
    line: usize,
    instruction: String,
    reason: String,
}

/// Parses a Dockerfile's content. `path` is only used in errors.
///
/// # Errors
/// [`Error::InvalidDockerfile`] naming `path`, the line and the instruction.
pub(crate) fn parse(path: &Path, content: &[u8]) -> crate::Result<Dockerfile> {
    parse_str(&String::from_utf8_lossy(content)).map_err(|e| Error::InvalidDockerfile {
        path: path.to_owned(),
        line: e.line,
        instruction: e.instruction,
        reason: e.reason,
    })
}

/// Parser directives: `# name=value` lines before anything else.
struct Directives {
    escape: char,
    syntax: Option<String>,
    seen: Vec<String>,
    done: bool,
}

impl Directives {
    /// Looks at a line (leading whitespace removed) for a directive, as BuildKit's
    /// `possibleParserDirective` does: the first line that is none ends them.
    fn line(&mut self, line: &str, number: usize) -> Result<(), ParseError> {
        if self.done {
            return Ok(());
        }
        let Some((name, value)) = directive(line) else {
            self.done = true;
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        if !matches!(name.as_str(), "escape" | "syntax" | "check") {
            self.done = true;
            return Ok(());
        }
        let err = |reason: String| ParseError {
            line: number,
            instruction: String::new(),
            reason,
        };
        if self.seen.contains(&name) {
            return Err(err(format!("only one {name} parser directive can be used")));
        }
        match name.as_str() {
            "escape" => {
                self.escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(err(format!(
                            "invalid escape token '{value}' does not match ` or \\"
                        )))
                    }
                }
            }
            "syntax" => self.syntax = Some(value.to_owned()),
            _ => {}
        }
        self.seen.push(name);
        Ok(())
    }
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn directive(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let (name, rest) = rest.split_at(end);
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest.trim_start().strip_prefix('=')?.trim();
    (!value.is_empty()).then_some((name, value))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Removes a trailing escape (followed by spaces or tabs only): the line continues.
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    match t.strip_suffix(escape) {
        Some(t) => (t, false),
        None => (line, true),
    }
}

/// Go's `unicode.IsSpace` for the ASCII range and beyond, as `strings.TrimSpace` uses.
fn trim(s: &str) -> &str {
    s.trim()
}

/// `[\t\v\f\r ]+`.
fn is_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn split_ws(s: &str) -> Vec<String> {
    s.split(is_ws)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits a logical line into its command, its flags and the rest, as BuildKit's
/// `splitCommand` and `extractBuilderFlags` do.
fn split_command(line: &str) -> (String, Vec<String>, String) {
    let line = trim(line);
    let (cmd, rest) = match line.find(is_ws) {
        Some(i) => (&line[..i], line[i..].trim_start_matches(is_ws)),
        None => (line, ""),
    };
    let (rest, flags) = extract_flags(rest);
    (cmd.to_owned(), flags, trim(rest).to_owned())
}

/// The leading `--flag[=value]` words of `line` (quotes and `\` escapes inside them
/// resolved) and what follows them.
fn extract_flags(line: &str) -> (&str, Vec<String>) {
    let mut flags = Vec::new();
    let mut chars = line.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        let Some(&(start, _)) = chars.peek() else {
            return ("", flags);
        };
        if !line[start..].starts_with("--") {
            return (&line[start..], flags);
        }
        let mut word = String::new();
        let mut blank_ok = false;
        let mut quote = None;
        while let Some((_, c)) = chars.next() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) if c == '\\' => match chars.next() {
                    Some((_, n)) => word.push(n),
                    None => quote = None,
                },
                Some(_) => word.push(c),
                None if c.is_whitespace() => break,
                None if c == '\'' || c == '"' => {
                    quote = Some(c);
                    blank_ok = true;
                }
                None if c == '\\' => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                None => word.push(c),
            }
        }
        if word == "--" {
            let rest = chars.peek().map_or("", |&(i, _)| &line[i..]);
            return (rest, flags);
        }
        if blank_ok || !word.is_empty() {
            flags.push(word);
        }
    }
}

/// BuildKit's `parseWords`: whitespace-separated words, quotes and escapes kept.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(ch) = chars.next() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            if ch == escape && q != '\'' {
                match chars.next() {
                    Some(n) => {
                        word.push(ch);
                        word.push(n);
                    }
                    None => quote = None,
                }
                continue;
            }
            word.push(ch);
            continue;
        }
        if !in_word {
            if ch.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        if ch.is_whitespace() {
            if blank_ok || !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            in_word = false;
            blank_ok = false;
            continue;
        }
        if ch == '\'' || ch == '"' {
            quote = Some(ch);
            blank_ok = true;
        }
        if ch == escape {
            // An escape at the end is dropped.
            if let Some(n) = chars.next() {
                word.push(ch);
                word.push(n);
            }
            continue;
        }
        word.push(ch);
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// An exec-form argument list: `Ok(None)` when `rest` is not a JSON array (shell form),
/// an error when it is one with something other than strings in it.
fn json_array(rest: &str) -> Result<Option<Vec<String>>, String> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Ok(None);
    }
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(rest)
    else {
        return Ok(None);
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(NOT_STRINGS.to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A command in exec form when it is a JSON array of strings, else shell form.
fn command_line(rest: &str) -> Result<CommandLine, String> {
    Ok(match json_array(rest)? {
        Some(argv) => CommandLine::Exec(argv),
        None => CommandLine::Shell(rest.to_owned()),
    })
}

/// A list in JSON form, else the whitespace-separated words.
fn json_or_words(rest: &str) -> Result<Vec<String>, String> {
    Ok(json_array(rest)?.unwrap_or_else(|| split_ws(rest)))
}

/// BuildKit's `reHeredoc` (`^(\d*)<<(-?)([^<]*)$`) and `ParseHeredoc`: the heredoc a
/// word of a line opens, if it opens one.
fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, String> {
    let digits = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let (fd, rest) = word.split_at(digits);
    let Some(rest) = rest.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let mut lx = Lexer::new('\\');
    lx.skip_unset = true;
    let words = lx.process_words(rest, &NoVars)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    lx.raw_quotes = true;
    let raw = lx.process_words(rest, &NoVars)?;
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    let expand = raw.len() == 1 && quotes(name) == quotes(&raw[0]);
    Ok(Some(Heredoc {
        name: name.clone(),
        content: String::new(),
        expand,
        chomp,
        fd: fd.parse().ok(),
    }))
}

/// The heredocs a line opens, in order (BuildKit's `heredocsFromLine`).
fn heredocs_in(line: &str) -> Result<Vec<Heredoc>, String> {
    let mut lx = Lexer::new('\\');
    lx.raw_quotes = true;
    lx.raw_escapes = true;
    let words = lx.process_words(line, &NoVars).unwrap_or_default();
    let mut docs = Vec::new();
    for w in words {
        if let Some(h) = parse_heredoc(&w)? {
            docs.push(h);
        }
    }
    Ok(docs)
}

/// Whether the logical line is one that may carry heredocs: RUN, COPY or ADD in shell
/// form, or ONBUILD of one.
fn may_have_heredocs(line: &str) -> bool {
    let (cmd, _, rest) = split_command(line);
    let (cmd, rest) = if cmd.eq_ignore_ascii_case("onbuild") {
        let (c, _, r) = split_command(&rest);
        (c, r)
    } else {
        (cmd, rest)
    };
    let cmd = cmd.to_ascii_lowercase();
    matches!(cmd.as_str(), "run" | "copy" | "add") && !matches!(json_array(&rest), Ok(Some(_)))
}

/// A node of the Dockerfile: a FROM or an instruction, with its lines.
enum Node {
    From(Located<From>),
    Instruction(Located<Instruction>),
}

fn parse_str(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text.split('\n').collect();
    if text.ends_with('\n') {
        lines.pop();
    }
    let lines: Vec<&str> = lines
        .into_iter()
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut d = Directives {
        escape: '\\',
        syntax: None,
        seen: Vec::new(),
        done: false,
    };
    let mut nodes = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = i + 1;
        let first = lines[i].trim_start();
        d.line(first, start)?;
        i += 1;
        let content = if is_comment(first) { "" } else { first };
        let (content, mut end) = trim_continuation(content, d.escape);
        if end && content.is_empty() {
            continue;
        }
        let mut logical = content.to_owned();
        while !end && i < lines.len() {
            let raw = lines[i];
            d.line(raw.trim_start(), i + 1)?;
            i += 1;
            if is_comment(raw) || raw.trim_start().is_empty() {
                continue;
            }
            let (c, e) = trim_continuation(raw, d.escape);
            logical.push_str(c);
            end = e;
        }
        if trim(&logical).is_empty() {
            continue;
        }
        let mut heredocs = Vec::new();
        if logical.contains("<<") && may_have_heredocs(&logical) {
            let at = |reason: String| ParseError {
                line: start,
                instruction: split_command(&logical).0.to_ascii_uppercase(),
                reason,
            };
            for mut h in heredocs_in(&logical).map_err(at)? {
                let mut terminated = false;
                while i < lines.len() {
                    let body = lines[i];
                    i += 1;
                    let candidate = if h.chomp {
                        body.trim_start_matches('\t')
                    } else {
                        body
                    };
                    if candidate == h.name {
                        terminated = true;
                        break;
                    }
                    h.content.push_str(body);
                    h.content.push('\n');
                }
                if !terminated {
                    return Err(at(format!(
                        "unterminated heredoc {:?} starting on line {start}",
                        h.name
                    )));
                }
                heredocs.push(h);
            }
        }
        nodes.push(node(&logical, heredocs, d.escape, start, i)?);
    }
    assemble(nodes, d, lines.len())
}

/// Groups the nodes into global ARGs and stages.
fn assemble(nodes: Vec<Node>, d: Directives, last_line: usize) -> Result<Dockerfile, ParseError> {
    if nodes.is_empty() {
        return Err(ParseError {
            line: last_line.max(1),
            instruction: String::new(),
            reason: "file with no instructions".into(),
        });
    }
    let mut global_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut last = 1;
    for n in nodes {
        match n {
            Node::From(from) => {
                if let Some(name) = &from.value.name {
                    if stages
                        .iter()
                        .any(|s| s.from.value.name.as_ref() == Some(name))
                    {
                        return Err(ParseError {
                            line: from.line,
                            instruction: "FROM".into(),
                            reason: format!("duplicate stage name {name:?}"),
                        });
                    }
                }
                stages.push(Stage {
                    from,
                    instructions: Vec::new(),
                });
            }
            Node::Instruction(ins) => {
                last = ins.line;
                match (stages.last_mut(), ins.value) {
                    (Some(stage), value) => stage.instructions.push(Located { value, ..ins }),
                    (None, Instruction::Arg(args)) => global_args.push(Located {
                        value: args,
                        line: ins.line,
                        end_line: ins.end_line,
                        name: ins.name,
                        original: ins.original,
                    }),
                    (None, value) => {
                        return Err(ParseError {
                            line: ins.line,
                            instruction: value.name().into(),
                            reason: "no build stage in current context".into(),
                        })
                    }
                }
            }
        }
    }
    if stages.is_empty() {
        return Err(ParseError {
            line: last,
            instruction: "ARG".into(),
            reason: "dockerfile contains no stages to build".into(),
        });
    }
    Ok(Dockerfile {
        syntax: d.syntax,
        escape: d.escape,
        global_args,
        stages,
    })
}

/// Parses one logical line (with its heredocs read) into a node.
fn node(
    logical: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
    line: usize,
    end_line: usize,
) -> Result<Node, ParseError> {
    let original = trim(logical).to_owned();
    let (cmd, flags, rest) = split_command(logical);
    let err = |instruction: &str, reason: String| ParseError {
        line,
        instruction: instruction.to_owned(),
        reason,
    };
    if cmd.eq_ignore_ascii_case("from") {
        let from = parse_from(&flags, &rest, escape).map_err(|e| err("FROM", e))?;
        return Ok(Node::From(Located {
            line,
            end_line,
            name: "FROM",
            original,
            value: from,
        }));
    }
    let value = instruction(&cmd, &flags, &rest, &original, heredocs, escape).map_err(|e| {
        let name = known_name(&cmd).map_or_else(|| cmd.clone(), str::to_owned);
        err(&name, e)
    })?;
    Ok(Node::Instruction(Located {
        line,
        end_line,
        name: value.name(),
        original,
        value,
    }))
}

/// The upper-case name of a known instruction.
fn known_name(cmd: &str) -> Option<&'static str> {
    const NAMES: [&str; 18] = [
        "FROM",
        "RUN",
        "COPY",
        "ADD",
        "WORKDIR",
        "ENV",
        "ARG",
        "LABEL",
        "EXPOSE",
        "USER",
        "VOLUME",
        "CMD",
        "ENTRYPOINT",
        "SHELL",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "ONBUILD",
        "MAINTAINER",
    ];
    NAMES.into_iter().find(|n| n.eq_ignore_ascii_case(cmd))
}

fn parse_from(flags: &[String], rest: &str, escape: char) -> Result<From, String> {
    let f = Flags::parse(flags, &[("platform", Kind::Str)])?;
    let args = split_ws(rest);
    let name = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let lower = name.to_ascii_lowercase();
            let valid = lower.starts_with(|c: char| c.is_ascii_lowercase())
                && lower
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "invalid name for build stage: {name:?}, name can't start with a number or contain symbols"
                ));
            }
            Some(lower)
        }
        _ => return Err("FROM requires either one or three arguments".into()),
    };
    Ok(From {
        image: Word::new(args[0].clone(), escape),
        name,
        platform: f.word("platform", escape),
    })
}

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

/// The one argument of WORKDIR, USER, STOPSIGNAL and MAINTAINER: the whole rest.
fn one(cmd: &str, flags: &[String], rest: &str) -> Result<String, String> {
    Flags::parse(flags, &[])?;
    if rest.is_empty() {
        return Err(exactly_one(cmd));
    }
    Ok(rest.to_owned())
}

/// Parses an instruction other than FROM.
fn instruction(
    cmd: &str,
    flags: &[String],
    rest: &str,
    original: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<Instruction, String> {
    let w = |s: &str| Word::new(s, escape);
    let lower = cmd.to_ascii_lowercase();
    // Instructions that take no flags say so the way BuildKit does (an unknown flag).
    let no_flags = || Flags::parse(flags, &[]).map(drop);
    Ok(match lower.as_str() {
        "run" => Instruction::Run(parse_run(flags, rest, heredocs, escape)?),
        "copy" => Instruction::Copy(parse_copy(flags, rest, &heredocs, escape)?),
        "add" => Instruction::Add(parse_add(flags, rest, &heredocs, escape)?),
        "workdir" => Instruction::Workdir(w(&one("WORKDIR", flags, rest)?)),
        "stopsignal" => Instruction::StopSignal(w(&one("STOPSIGNAL", flags, rest)?)),
        "maintainer" => Instruction::Maintainer(one("MAINTAINER", flags, rest)?),
        "user" => Instruction::User(parse_user(&one("USER", flags, rest)?, escape)),
        "env" => {
            no_flags()?;
            Instruction::Env(key_values("ENV", rest, escape)?)
        }
        "label" => {
            no_flags()?;
            Instruction::Label(key_values("LABEL", rest, escape)?)
        }
        "arg" => {
            no_flags()?;
            Instruction::Arg(parse_arg(rest, escape)?)
        }
        "expose" => {
            no_flags()?;
            Instruction::Expose(parse_expose(rest, escape)?)
        }
        "volume" => {
            no_flags()?;
            Instruction::Volume(parse_volume(rest, escape)?)
        }
        "cmd" => {
            no_flags()?;
            Instruction::Cmd(command_line(rest)?)
        }
        "entrypoint" => {
            no_flags()?;
            Instruction::Entrypoint(command_line(rest)?)
        }
        "shell" => {
            no_flags()?;
            match json_array(rest)? {
                None => return Err("SHELL requires the arguments to be in JSON form".into()),
                Some(v) if v.is_empty() => return Err(at_least_one("SHELL")),
                Some(v) => Instruction::Shell(v),
            }
        }
        "healthcheck" => Instruction::Healthcheck(parse_healthcheck(flags, rest)?),
        "onbuild" => {
            no_flags()?;
            Instruction::OnBuild(parse_onbuild(rest, original, heredocs, escape)?)
        }
        _ => return Err(format!("unknown instruction: {cmd}")),
    })
}

/// The flags COPY and ADD share.
const FILE_FLAGS: [(&str, Kind); 4] = [
    ("chown", Kind::Str),
    ("chmod", Kind::Str),
    ("link", Kind::Bool),
    ("exclude", Kind::Strs),
];

/// COPY's or ADD's flags (the shared ones and `own`) and files.
fn file_instruction(
    cmd: &str,
    own: &[(&'static str, Kind)],
    (flags, rest): (&[String], &str),
    heredocs: &[Heredoc],
    escape: char,
) -> Result<(Flags, Files), String> {
    let f = Flags::parse(flags, &[&FILE_FLAGS[..], own].concat())?;
    let files = files(cmd, &f, rest, heredocs, escape)?;
    Ok((f, files))
}

/// COPY's flags and files.
fn parse_copy(
    flags: &[String],
    rest: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Copy, String> {
    let own = [("from", Kind::Str), ("parents", Kind::Bool)];
    let (f, files) = file_instruction("COPY", &own, (flags, rest), heredocs, escape)?;
    Ok(Copy {
        from: f.word("from", escape),
        parents: f.bool("parents"),
        files,
    })
}

/// ADD's flags and files.
fn parse_add(
    flags: &[String],
    rest: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Add, String> {
    let own = [("checksum", Kind::Str), ("keep-git-dir", Kind::Bool)];
    let (f, files) = file_instruction("ADD", &own, (flags, rest), heredocs, escape)?;
    Ok(Add {
        checksum: f.word("checksum", escape),
        keep_git_dir: f.bool("keep-git-dir"),
        files,
    })
}

/// `USER user[:group]`.
fn parse_user(spec: &str, escape: char) -> User {
    let w = |s: &str| Word::new(s, escape);
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (w(u), Some(w(g))),
        None => (w(spec), None),
    };
    User {
        spec: w(spec),
        user,
        group,
    }
}

/// `ARG name[=default] ...`.
fn parse_arg(rest: &str, escape: char) -> Result<Vec<ArgDecl>, String> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Err(at_least_one("ARG"));
    }
    let mut decls = Vec::new();
    for word in words {
        let (name, default) = match word.split_once('=') {
            Some((n, v)) => (n, Some(Word::new(v, escape))),
            None => (word.as_str(), None),
        };
        if name.is_empty() {
            return Err("ARG names can not be blank".into());
        }
        decls.push(ArgDecl {
            name: name.to_owned(),
            default,
        });
    }
    Ok(decls)
}

/// `EXPOSE port[/proto] ...`; a literal port is checked now (Docker checks after expansion).
fn parse_expose(rest: &str, escape: char) -> Result<Vec<Word>, String> {
    let ports = split_ws(rest);
    if ports.is_empty() {
        return Err(at_least_one("EXPOSE"));
    }
    for p in &ports {
        if !p.contains(['$', '\'', '"', escape]) {
            p.parse::<ExposedPort>()?;
        }
    }
    Ok(ports.iter().map(|p| Word::new(p, escape)).collect())
}

/// `VOLUME` in JSON or as words.
fn parse_volume(rest: &str, escape: char) -> Result<Vec<Word>, String> {
    let vols = json_or_words(rest)?;
    if vols.is_empty() {
        return Err(at_least_one("VOLUME"));
    }
    if vols.iter().any(|v| trim(v).is_empty()) {
        return Err("VOLUME specified can not be an empty string".into());
    }
    Ok(vols.iter().map(|v| Word::new(v, escape)).collect())
}

/// `ONBUILD INSTRUCTION ...`: the trigger parsed now, refused where Docker refuses it.
fn parse_onbuild(
    rest: &str,
    original: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<OnBuild, String> {
    if rest.is_empty() {
        return Err(at_least_one("ONBUILD"));
    }
    let (inner, inner_flags, inner_rest) = split_command(rest);
    let trigger = inner.to_ascii_uppercase();
    match trigger.as_str() {
        "ONBUILD" => return Err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
        "FROM" | "MAINTAINER" => {
            return Err(format!("{trigger} isn't allowed as an ONBUILD trigger"))
        }
        _ => {}
    }
    let mut expression = strip_onbuild(original).to_owned();
    for h in &heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    let parsed = instruction(&inner, &inner_flags, &inner_rest, rest, heredocs, escape)?;
    Ok(OnBuild {
        expression,
        instruction: Box::new(parsed),
    })
}

/// `(?i)^\s*ONBUILD\s*` removed.
fn strip_onbuild(original: &str) -> &str {
    let t = original.trim_start();
    t.get(7..)
        .filter(|_| t[..7].eq_ignore_ascii_case("onbuild"))
        .map_or(t, str::trim_start)
}

fn parse_run(
    flags: &[String],
    rest: &str,
    heredocs: Vec<Heredoc>,
    escape: char,
) -> Result<Run, String> {
    let f = Flags::parse(
        flags,
        &[
            ("mount", Kind::Strs),
            ("network", Kind::Str),
            ("security", Kind::Str),
        ],
    )?;
    let mounts = f
        .strings("mount")
        .iter()
        .map(|m| Mount::parse(m, escape))
        .collect::<Result<Vec<_>, _>>()?;
    let network = f.string("network").map(NetworkMode::parse).transpose()?;
    let security = f.string("security").map(Security::parse).transpose()?;
    if rest.is_empty() {
        return Err(at_least_one("RUN"));
    }
    Ok(Run {
        mounts,
        network,
        security,
        command: command_line(rest)?,
        heredocs,
    })
}

/// Sources and destination of COPY or ADD, with the flags they share.
fn files(
    cmd: &str,
    f: &Flags,
    rest: &str,
    heredocs: &[Heredoc],
    escape: char,
) -> Result<Files, String> {
    let args = json_or_words(rest)?;
    let Some((dest, srcs)) = args.split_last().filter(|(_, s)| !s.is_empty()) else {
        return Err(format!(
            "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined."
        ));
    };
    if matches!(parse_heredoc(dest), Ok(Some(_))) {
        return Err(format!("{cmd} cannot accept a heredoc as a destination"));
    }
    let sources = srcs
        .iter()
        .map(|s| match parse_heredoc(s) {
            Ok(Some(h)) => Source::Heredoc(
                heredocs
                    .iter()
                    .find(|d| d.name == h.name)
                    .cloned()
                    .unwrap_or(h),
            ),
            _ => Source::Path(Word::new(s.clone(), escape)),
        })
        .collect();
    Ok(Files {
        sources,
        dest: Word::new(dest.clone(), escape),
        chown: f.word("chown", escape),
        chmod: f.word("chmod", escape),
        link: f.bool("link"),
        exclude: f
            .strings("exclude")
            .iter()
            .map(|e| Word::new(e.clone(), escape))
            .collect(),
    })
}

/// ENV and LABEL: `k=v ...` pairs, or the legacy `k v` form.
fn key_values(cmd: &str, rest: &str, escape: char) -> Result<Vec<KeyValue>, String> {
    let w = |s: &str| Word::new(s, escape);
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Err(at_least_one(cmd));
    };
    if !first.contains('=') {
        let Some(i) = rest.find(is_ws) else {
            return Err(format!("{cmd} must have two arguments"));
        };
        let (key, value) = (&rest[..i], rest[i..].trim_start_matches(is_ws));
        return Ok(vec![KeyValue {
            key: w(key),
            value: w(value),
            legacy: true,
        }]);
    }
    words
        .iter()
        .map(|word| {
            let Some((k, v)) = word.split_once('=') else {
                return Err(format!(
                    "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
                ));
            };
            if k.is_empty() {
                return Err(format!("{cmd} names can not be blank"));
            }
            Ok(KeyValue {
                key: w(k),
                value: w(v),
                legacy: false,
            })
        })
        .collect()
}

fn parse_healthcheck(flags: &[String], rest: &str) -> Result<Healthcheck, String> {
    let f = Flags::parse(
        flags,
        &[
            ("interval", Kind::Str),
            ("timeout", Kind::Str),
            ("start-period", Kind::Str),
            ("start-interval", Kind::Str),
            ("retries", Kind::Str),
        ],
    )?;
    let (typ, args) = match rest.find(char::is_whitespace) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => (rest, ""),
    };
    if typ.is_empty() {
        return Err(at_least_one("HEALTHCHECK"));
    }
    let typ = typ.to_ascii_uppercase();
    if typ == "NONE" {
        if !args.is_empty() {
            return Err("HEALTHCHECK NONE takes no arguments".into());
        }
        return Ok(Healthcheck::None);
    }
    if typ != "CMD" {
        return Err(format!("Unknown type {typ:?} in HEALTHCHECK (try CMD)"));
    }
    let test = command_line(args)?;
    if matches!(&test, CommandLine::Exec(v) if v.is_empty())
        || matches!(&test, CommandLine::Shell(s) if s.is_empty())
    {
        return Err("Missing command after HEALTHCHECK CMD".into());
    }
    let retries = match f.string("retries").filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => {
            let n: i64 = r
                .parse()
                .ok()
                .filter(|n| i32::try_from(*n).is_ok())
                .ok_or_else(|| format!("strconv.ParseInt: parsing {r:?}: invalid syntax"))?;
            if n < 0 {
                return Err(format!("--retries cannot be negative ({n})"));
            }
            Some(n as u32)
        }
    };
    Ok(Healthcheck::Cmd {
        test,
        interval: flags::interval("interval", f.string("interval"))?,
        timeout: flags::interval("timeout", f.string("timeout"))?,
        start_period: flags::interval("start-period", f.string("start-period"))?,
        start_interval: flags::interval("start-interval", f.string("start-interval"))?,
        retries,
    })
}

/// For the fuzz target: parses `content`, expands every word with a small scope (the
/// lexer runs on whatever the parser kept), and returns each instruction's lines.
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_spans(content: &[u8]) -> crate::Result<Vec<(usize, usize)>> {
    fn words(i: &Instruction, out: &mut Vec<Word>) {
        let files = |f: &Files, out: &mut Vec<Word>| {
            for s in &f.sources {
                match s {
                    Source::Path(w) => out.push(w.clone()),
                    Source::Heredoc(h) => {
                        let _ = h.chomped();
                    }
                }
            }
            out.push(f.dest.clone());
            out.extend(f.chown.iter().chain(&f.chmod).chain(&f.exclude).cloned());
        };
        match i {
            Instruction::Run(r) => {
                for m in &r.mounts {
                    out.extend(
                        [&m.target, &m.source, &m.from, &m.id, &m.env]
                            .into_iter()
                            .flatten()
                            .cloned(),
                    );
                }
            }
            Instruction::Copy(c) => {
                out.extend(c.from.clone());
                files(&c.files, out);
            }
            Instruction::Add(a) => {
                out.extend(a.checksum.clone());
                files(&a.files, out);
            }
            Instruction::Workdir(w) | Instruction::StopSignal(w) => out.push(w.clone()),
            Instruction::Env(kv) | Instruction::Label(kv) => {
                for p in kv {
                    out.push(p.key.clone());
                    out.push(p.value.clone());
                }
            }
            Instruction::Arg(a) => out.extend(a.iter().filter_map(|d| d.default.clone())),
            Instruction::Expose(v) | Instruction::Volume(v) => out.extend(v.iter().cloned()),
            Instruction::User(u) => out.push(u.spec.clone()),
            Instruction::OnBuild(o) => words(&o.instruction, out),
            _ => {}
        }
    }
    let df = parse(Path::new("Dockerfile"), content)?;
    let mut scope = Scope::new(
        [("A".to_owned(), "a b".to_owned())].into(),
        [("TARGETOS".to_owned(), "linux".to_owned())].into(),
    );
    let mut spans = Vec::new();
    for a in &df.global_args {
        spans.push((a.line, a.end_line));
        let _ = scope.declare(&a.value);
    }
    for stage in &df.stages {
        spans.push((stage.from.line, stage.from.end_line));
        let _ = stage.from.value.image.expand(&scope);
        let mut s = scope.stage([("E".to_owned(), "e".to_owned())]);
        for i in &stage.instructions {
            spans.push((i.line, i.end_line));
            if let Instruction::Arg(a) = &i.value {
                let _ = s.declare(a);
            }
            let mut ws = Vec::new();
            words(&i.value, &mut ws);
            for w in ws {
                let _ = w.expand(&s);
                if let (Instruction::Expose(_), Ok(ports)) = (&i.value, w.expand_words(&s)) {
                    for p in ports {
                        let _ = p.parse::<ExposedPort>();
                    }
                }
            }
        }
    }
    Ok(spans)
}
