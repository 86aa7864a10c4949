//! Shell-style word processing, as BuildKit's `shell.Lex` does it: quotes, the escape
//! character, and variable substitution (`$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR:+w}`,
//! `${VAR-w}`, `${VAR+w}`, `${VAR:?w}`, `${VAR?w}`), and the [`Scope`] of ARG and ENV
//! values an instruction sees at build time.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::hash::BuildHasher;

use super::ArgDecl;

/// Where variable values come from.
pub(crate) trait Vars {
    /// The value of `name`, `None` when it is not set.
    fn var(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Vars for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Vars for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

/// No variable is set.
pub(crate) struct NoVars;

impl Vars for NoVars {
    fn var(&self, _: &str) -> Option<&str> {
        None
    }
}

/// A word of a Dockerfile as written (quotes, escapes and `$` references kept), expanded
/// by the builder with the scope of the instruction it belongs to: quotes go, escapes are
/// resolved, variables are substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    raw: String,
    escape: char,
}

impl Word {
    /// A word written with `escape` as the Dockerfile's escape character.
    pub(crate) fn new(raw: impl Into<String>, escape: char) -> Word {
        Word {
            raw: raw.into(),
            escape,
        }
    }

    /// The text as written in the Dockerfile.
    #[cfg(test)]
    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }

    /// The word with quotes removed, escapes resolved and variables substituted from
    /// `vars` (an unset variable is empty), as one string.
    ///
    /// # Errors
    /// A malformed substitution or an unmatched quote (BuildKit's wording, prefixed with
    /// `failed to process "<word>"`).
    pub(crate) fn expand(&self, vars: &dyn Vars) -> Result<String, String> {
        Lexer::new(self.escape).process_word(&self.raw, vars)
    }

    /// As [`Word::expand`], split into words at unquoted whitespace (EXPOSE, VOLUME).
    ///
    /// # Errors
    /// As [`Word::expand`].
    pub(crate) fn expand_words(&self, vars: &dyn Vars) -> Result<Vec<String>, String> {
        Lexer::new(self.escape).process_words(&self.raw, vars)
    }
}

/// How far `${a:-${b:-...}}` may nest: deeper input is refused, not a stack overflow.
const MAX_DEPTH: usize = 64;

/// BuildKit's `shell.Lex`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lexer {
    escape: char,
    /// Keep quote characters in the result.
    pub(crate) raw_quotes: bool,
    /// Keep escape characters in the result.
    pub(crate) raw_escapes: bool,
    /// Leave references to unset variables as written.
    pub(crate) skip_unset: bool,
}

impl Lexer {
    pub(crate) fn new(escape: char) -> Lexer {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
        }
    }

    /// The word processed into one string.
    pub(crate) fn process_word(&self, word: &str, vars: &dyn Vars) -> Result<String, String> {
        self.process(word, vars).map(|(w, _)| w)
    }

    /// The word processed and split at unquoted whitespace.
    pub(crate) fn process_words(&self, word: &str, vars: &dyn Vars) -> Result<Vec<String>, String> {
        self.process(word, vars).map(|(_, ws)| ws)
    }

    fn process(&self, word: &str, vars: &dyn Vars) -> Result<(String, Vec<String>), String> {
        let mut st = State {
            chars: word.chars().collect(),
            pos: 0,
            lx: self,
            vars,
            depth: 0,
        };
        st.stop_on(None)
            .map_err(|e| format!("failed to process {word:?}: {e}"))
    }
}

struct State<'a> {
    chars: Vec<char>,
    pos: usize,
    lx: &'a Lexer,
    vars: &'a dyn Vars,
    depth: usize,
}

/// BuildKit's `wordsStruct`: the words a processed string splits into.
#[derive(Default)]
struct Words {
    word: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

impl State<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn stop_on(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match ch {
                '\'' => {
                    let s = self.single_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '"' => {
                    let s = self.double_quote()?;
                    result.push_str(&s);
                    words.add_raw_string(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                    words.add_string(&s);
                }
                _ => {
                    self.pos += 1;
                    if ch == self.lx.escape {
                        if self.lx.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        let Some(c) = self.next() else { break };
                        words.add_raw_char(c);
                        result.push(c);
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        match stop {
            Some(c) => Err(unclosed(c)),
            None => Ok((result, words.finish())),
        }
    }

    /// Takes the opening quote: the quoted text starts with it when quotes stay raw.
    fn open_quote(&mut self) -> String {
        let q = self.next();
        if self.lx.raw_quotes {
            q.into_iter().collect()
        } else {
            String::new()
        }
    }

    /// A quoted string ended by `q`, which is kept with raw quotes.
    fn close_quote(&self, mut result: String, q: char) -> String {
        if self.lx.raw_quotes {
            result.push(q);
        }
        result
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut result = self.open_quote();
        loop {
            match self.next() {
                None => return Err(unclosed("single-quote")),
                Some('\'') => return Ok(self.close_quote(result, '\'')),
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut result = self.open_quote();
        loop {
            match self.peek() {
                None => return Err(unclosed("double-quote")),
                Some('"') => {
                    self.pos += 1;
                    return Ok(self.close_quote(result, '"'));
                }
                Some('$') => {
                    let s = self.dollar()?;
                    result.push_str(&s);
                }
                Some(mut ch) => {
                    self.pos += 1;
                    if ch == self.lx.escape {
                        if self.lx.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            // An escape at the end is dropped.
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lx.escape => {
                                ch = c;
                                self.pos += 1;
                            }
                            // Other escapes in double quotes stay as written.
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    name.push(c);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!') {
                self.pos += 1;
                name.push(ch);
                return name;
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            self.pos += 1;
            name.push(ch);
        }
        name
    }

    /// The word of `${name<op>word}` up to its `}`.
    fn modifier_word(&mut self) -> Result<String, String> {
        if self.depth >= MAX_DEPTH {
            return Err("syntax error: substitutions nested too deeply".into());
        }
        self.depth += 1;
        let r = self.stop_on(Some('}'));
        self.depth -= 1;
        match r {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => Err("syntax error: missing '}'".into()),
            Err(e) => Err(e),
        }
    }

    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.vars.var(&name) {
                Some(v) => v.to_owned(),
                None if self.lx.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let value = self.vars.var(&name).map(str::to_owned);
        let unset = |word: &str, what: &str| {
            let msg = if word.is_empty() { what } else { word };
            format!("{name}: {msg}")
        };
        match self.next() {
            None => Err("syntax error: missing '}'".into()),
            Some('}') => Ok(match value {
                Some(v) => v,
                None if self.lx.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some('?') => {
                let word = self.modifier_word()?;
                value.ok_or_else(|| unset(&word, "is not allowed to be unset"))
            }
            Some(':') => {
                let modifier = self.next();
                let word = self.modifier_word()?;
                if value.is_none() && self.lx.skip_unset {
                    return Ok(format!(
                        "${{{name}:{}{word}}}",
                        modifier.unwrap_or_default()
                    ));
                }
                if modifier == Some('?') && value.is_none() {
                    return Err(unset(&word, "is not allowed to be unset"));
                }
                let value = value.unwrap_or_default();
                match modifier {
                    Some('+') => Ok(if value.is_empty() {
                        String::new()
                    } else {
                        word
                    }),
                    Some('-') => Ok(if value.is_empty() { word } else { value }),
                    Some('?') if value.is_empty() => {
                        Err(unset(&word, "is not allowed to be empty"))
                    }
                    Some('?') => Ok(value),
                    m => Err(format!(
                        "unsupported modifier ({}) in substitution",
                        m.map(String::from).unwrap_or_default()
                    )),
                }
            }
            Some(op @ ('+' | '-')) => {
                let word = self.modifier_word()?;
                if value.is_none() && self.lx.skip_unset {
                    return Ok(format!("${{{name}{op}{word}}}"));
                }
                Ok(match (op, value) {
                    ('+', Some(_)) => word,
                    ('+', None) => String::new(),
                    (_, Some(v)) => v,
                    (_, None) => word,
                })
            }
            Some(c) => Err(format!("unsupported modifier ({c}) in substitution")),
        }
    }
}

/// The error of a statement that ends before `what` closes.
fn unclosed(what: impl std::fmt::Display) -> String {
    format!("unexpected end of statement while looking for matching {what}")
}

/// The proxy ARGs: passed to RUN from `--build-arg` without an ARG instruction, and kept
/// out of the image's history.
pub(crate) const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform ARGs the builder sets itself: visible in FROM lines without a
/// declaration, in a stage after `ARG NAME` (no default needed).
pub(crate) const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// The variables an instruction sees, scoped as BuildKit scopes them: the global ARGs
/// (before the first FROM) in FROM lines only; in a stage, the ENV values (the base
/// image's and the stage's) over the ARGs the stage declared, where a declared ARG takes
/// its `--build-arg` value, else the builder's platform value, else its default, else the
/// global ARG's value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Scope {
    build_args: BTreeMap<String, String>,
    automatic: BTreeMap<String, String>,
    globals: BTreeMap<String, String>,
    args: BTreeMap<String, String>,
    env: BTreeMap<String, String>,
    stage: bool,
}

impl Scope {
    /// The global scope (for FROM lines) of a build with these `--build-arg` values and
    /// these platform values (`TARGETOS` → `linux`, …, see [`PLATFORM_ARGS`]).
    pub(crate) fn new(
        build_args: BTreeMap<String, String>,
        automatic: BTreeMap<String, String>,
    ) -> Scope {
        Scope {
            build_args,
            automatic,
            ..Scope::default()
        }
    }

    /// Declares the ARGs of one ARG instruction: before the first FROM as globals, in a
    /// stage as the stage's. A default is expanded with the scope as it is so far.
    ///
    /// # Errors
    /// A default that does not expand.
    pub(crate) fn declare(&mut self, decls: &[ArgDecl]) -> Result<(), String> {
        for d in decls {
            let value = if let Some(v) = self.build_args.get(&d.name) {
                Some(v.clone())
            } else if let Some(v) = self.automatic.get(&d.name) {
                Some(v.clone())
            } else if let Some(w) = &d.default {
                Some(w.expand(self)?)
            } else if self.stage {
                self.globals.get(&d.name).cloned()
            } else {
                None
            };
            let table = if self.stage {
                &mut self.args
            } else {
                &mut self.globals
            };
            match value {
                Some(v) => {
                    table.insert(d.name.clone(), v);
                }
                None => {
                    table.remove(&d.name);
                }
            }
        }
        Ok(())
    }

    /// The scope a stage starts with: no ARG declared, the base image's environment.
    pub(crate) fn stage(&self, base_env: impl IntoIterator<Item = (String, String)>) -> Scope {
        Scope {
            build_args: self.build_args.clone(),
            automatic: self.automatic.clone(),
            globals: self.globals.clone(),
            args: BTreeMap::new(),
            env: base_env.into_iter().collect(),
            stage: true,
        }
    }

    /// Sets an ENV value (already expanded).
    pub(crate) fn set_env(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.env.insert(key.into(), value.into());
    }

    /// The ARGs the stage declared, with their values (RUN sees them in its environment).
    pub(crate) fn args(&self) -> &BTreeMap<String, String> {
        &self.args
    }

    /// The stage's ENV values.
    pub(crate) fn env(&self) -> &BTreeMap<String, String> {
        &self.env
    }

    /// The proxy values given as `--build-arg` (RUN sees them though no ARG declares
    /// them; they stay out of the history).
    pub(crate) fn proxies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.build_args
            .iter()
            .filter(|(k, _)| PROXY_ARGS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl Vars for Scope {
    fn var(&self, name: &str) -> Option<&str> {
        if self.stage {
            self.env.get(name).or_else(|| self.args.get(name))
        } else {
            self.globals.get(name).or_else(|| self.automatic.get(name))
        }
        .map(String::as_str)
    }
}
