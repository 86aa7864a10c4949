//! `.dockerignore`, with the semantics `docker build` gives it.
//!
//! Docker reads the file with moby's `patternmatcher/ignorefile.ReadAll` and matches with
//! `patternmatcher.PatternMatcher`; BuildKit's context walker (tonistiigi/fsutil's
//! `filterFS`) decides which excluded directories it may skip. This module does the same:
//!
//! - Reading: a UTF-8 BOM is dropped, a line *starting* with `#` is a comment (`  # x` is a
//!   pattern), every line is trimmed, blank lines are skipped, a leading `!` makes an
//!   exception (the rest trimmed again), each pattern goes through Go's `filepath.Clean`
//!   (`./a/../b/` is `b`), and one leading `/` is dropped (`/a` is `a`). A pattern that is
//!   only `!` is refused, and so is one that Go's `filepath.Match` rejects (`[`, `a\`,
//!   `[-x]`).
//! - Matching ([`Ignore::is_excluded`], patternmatcher's `MatchesOrParentMatches`): the last
//!   pattern that matches the path or one of its parent directories wins. A pattern matches
//!   the whole path: `*` and `?` do not cross `/`, `[a-z]`/`[^a-z]` are classes, `\` escapes
//!   the next character, and `**` matches any number of directories (`**/x`, `a/**`,
//!   `a/**/b`). Patterns are compiled as patternmatcher compiles them, including its
//!   shortcuts: a pattern made only of plain characters then `**` is a string prefix
//!   (`dir/**` matches `dir/x`, `foo**` matches `foobar`) and one that starts with `**` and
//!   has no other wildcard is a string suffix (`**file` matches `dir/myfile`). Whether a
//!   path is a directory does not matter (a trailing `/` is cleaned away, so `build/`
//!   also excludes a file named `build`).
//! - Walking ([`Ignore::may_skip_dir`], fsutil's rule): an excluded directory is skipped
//!   whole when no exception could re-include anything below it: there are no exceptions,
//!   or every exception is free of wildcards (after dropping a trailing `/*` or `/**`) and
//!   none lies under the directory. Otherwise the walker descends and asks about each path.
//!
//! patternmatcher turns a pattern into a Go regular expression by passing `[`, `]`, `^`
//! and `\`-escapes through; this module interprets the same expression. Where that
//! expression uses regexp features a file pattern has no business with — `*` or `?` inside
//! `[...]` (patternmatcher produces a nested class), a POSIX `[:name:]` class, a `\`-escape
//! of a letter other than the Perl classes `\d \s \w` (and their negations) and the
//! control escapes `\a \f \t \n \r \v` — parsing fails, naming the line, instead of
//! matching something surprising; docker fails such a build at match time or matches by
//! accident. A reversed range (`[z-a]`) fails too (Go's regexp refuses it when the build
//! walks the context).

use std::path::Path;

use crate::{Error, Result};

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ignore {
    patterns: Vec<Pattern>,
    /// Some pattern is an exception (`!x`).
    exceptions: bool,
    /// Every exception, less a trailing `/*` or `/**`, is free of wildcards: fsutil's
    /// `onlyPrefixExcludeExceptions`, which lets the walker skip excluded directories.
    prefix_exceptions: bool,
}

/// One pattern, compiled.
#[derive(Debug, Clone)]
struct Pattern {
    /// The cleaned pattern, without its `!`.
    text: Vec<u8>,
    exception: bool,
    kind: Kind,
}

/// How a pattern matches (patternmatcher's `matchType`).
#[derive(Debug, Clone)]
enum Kind {
    /// The path equals the pattern.
    Exact,
    /// The path starts with the pattern less its trailing `**`.
    Prefix,
    /// The path ends with the pattern less its leading `**` (or equals that less its `/`).
    Suffix,
    /// The pattern's regular expression.
    Regex(Vec<Tok>),
}

/// An element of a compiled pattern's regular expression (anchored at both ends).
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// One character.
    Lit(char),
    /// `[^/]`: one character but `/`.
    Any,
    /// `[^/]*`: any run of characters without `/`.
    Star,
    /// `(.*/)?`: nothing, or any run of characters (no newline) that ends with `/`.
    DirStar,
    /// `.*`: any run of characters without a newline.
    Rest,
    /// `^` in the middle of a pattern: matches only at the start.
    Begin,
    /// A class `[...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Ignore {
    /// Parses the text of a `.dockerignore` (its bytes; Go reads them as bytes too).
    ///
    /// # Errors
    /// [`Error::BuildContext`] naming the line (1-based) and the pattern, for a pattern
    /// that is only `!`, one Go's `filepath.Match` rejects, or one using a regexp feature
    /// this module does not interpret (see the module docs).
    pub(crate) fn parse(text: impl AsRef<[u8]>) -> Result<Ignore> {
        let mut ignore = Ignore {
            prefix_exceptions: true,
            ..Ignore::default()
        };
        let text = text.as_ref();
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        // bufio.ScanLines: split at \n, drop one \r before it, a last line without \n counts.
        let mut lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        if text.is_empty() || text.ends_with(b"\n") {
            lines.pop();
        }
        for (n, line) in lines.into_iter().enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let err = |reason: String| Error::BuildContext {
                subject: format!(
                    ".dockerignore line {} {:?}",
                    n + 1,
                    String::from_utf8_lossy(line)
                ),
                reason,
            };
            if let Some(p) = read_line(line) {
                if let Some(p) = Pattern::new(&p).map_err(err)? {
                    ignore.add(p);
                }
            }
        }
        Ok(ignore)
    }

    fn add(&mut self, p: Pattern) {
        if p.exception {
            self.exceptions = true;
            let mut t = p.text.as_slice();
            t = t.strip_suffix(b"/**").unwrap_or(t);
            t = t.strip_suffix(b"/*").unwrap_or(t);
            if t.iter().any(|b| b"*[]?^\\".contains(b)) {
                self.prefix_exceptions = false;
            }
        }
        self.patterns.push(p);
    }

    /// Whether the context path `rel` (relative to the context root, `/`-separated, no
    /// leading `/`) is left out of the context: the last pattern that matches it or one
    /// of its parent directories decides. The root itself (`""` or `.`) never is.
    pub(crate) fn is_excluded(&self, rel: impl AsRef<Path>) -> bool {
        use std::os::unix::ffi::OsStrExt;
        let file = rel.as_ref().as_os_str().as_bytes();
        if file.is_empty() || file == b"." {
            return false;
        }
        let parent = go_dir(file);
        let mut matched = false;
        for p in &self.patterns {
            // An exclusion only matters when nothing matched yet, an exception only when
            // something did.
            if p.exception != matched {
                continue;
            }
            let mut m = p.matches(file);
            if !m && parent != b"." {
                // The parent directories, shortest first: "a", "a/b", ...
                m = parent
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| b == b'/')
                    .map(|(i, _)| &parent[..i])
                    .chain(std::iter::once(&parent[..]))
                    .any(|dir| p.matches(dir));
            }
            if m {
                matched = !p.exception;
            }
        }
        matched
    }

    /// Whether a walker may skip the whole of the excluded directory `rel` (fsutil's
    /// rule): true when no exception could re-include anything below it. Meaningful only
    /// for a directory [`is_excluded`](Self::is_excluded) excludes.
    pub(crate) fn may_skip_dir(&self, rel: impl AsRef<Path>) -> bool {
        use std::os::unix::ffi::OsStrExt;
        if !self.exceptions {
            return true;
        }
        if !self.prefix_exceptions {
            return false;
        }
        let mut dir = rel.as_ref().as_os_str().as_bytes().to_vec();
        dir.push(b'/');
        !self.patterns.iter().filter(|p| p.exception).any(|p| {
            let mut t = p.text.as_slice();
            t = t.strip_suffix(b"/**").unwrap_or(t);
            t = t.strip_suffix(b"/*").unwrap_or(t);
            let mut t = t.to_vec();
            t.push(b'/');
            t.starts_with(&dir)
        })
    }
}

/// One line as ignorefile.ReadAll makes it a pattern: `None` for a comment or a blank.
fn read_line(line: &[u8]) -> Option<Vec<u8>> {
    if line.starts_with(b"#") {
        return None;
    }
    let mut p = trim(line);
    if p.is_empty() {
        return None;
    }
    let invert = p[0] == b'!';
    if invert {
        p = trim(&p[1..]);
    }
    let mut out = Vec::with_capacity(p.len() + 1);
    if invert {
        out.push(b'!');
    }
    if !p.is_empty() {
        let c = go_clean(p);
        match c.strip_prefix(b"/") {
            Some(rest) if !rest.is_empty() => out.extend_from_slice(rest),
            _ => out.extend_from_slice(&c),
        }
    }
    Some(out)
}

/// Go's strings.TrimSpace (Unicode white space; ASCII only for text that is not UTF-8).
fn trim(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Ok(s) => s.trim().as_bytes(),
        Err(_) => b.trim_ascii(),
    }
}

impl Pattern {
    /// patternmatcher.New for one pattern: `Ok(None)` for an empty one.
    fn new(p: &[u8]) -> std::result::Result<Option<Pattern>, String> {
        let p = trim(p);
        if p.is_empty() {
            return Ok(None);
        }
        let mut text = go_clean(p);
        let exception = text[0] == b'!';
        if exception {
            if text.len() == 1 {
                return Err("illegal exclusion pattern: \"!\"".to_string());
            }
            text.remove(0);
        }
        if go_match(&text, b".").is_err() {
            return Err("syntax error in pattern".to_string());
        }
        let kind = compile(&text)?;
        Ok(Some(Pattern {
            text,
            exception,
            kind,
        }))
    }

    fn matches(&self, path: &[u8]) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix => path.starts_with(&self.text[..self.text.len() - 2]),
            Kind::Suffix => {
                let suffix = &self.text[2..];
                path.ends_with(suffix) || (suffix.first() == Some(&b'/') && path == &suffix[1..])
            }
            Kind::Regex(toks) => run(toks, path),
        }
    }
}

/// A raw element of patternmatcher's regexp string, before it is read as a regexp.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Raw {
    /// A character that stands for itself in the regexp (or was `\`-quoted by
    /// patternmatcher because it is special there: `.+()|{}$`).
    Char(char),
    /// `\c` from the pattern, passed through.
    Esc(char),
    /// `[`, `]` or `^`, passed through unquoted.
    Meta(char),
    Any,
    Star,
    DirStar,
    Rest,
}

/// patternmatcher's `compile`: the match kind and, for a regexp, its elements.
fn compile(text: &[u8]) -> std::result::Result<Kind, String> {
    #[derive(PartialEq)]
    enum Detected {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let chars = decode_all(text);
    let mut raw = Vec::new();
    let mut detected = Detected::Exact;
    let mut k = 0;
    let mut i = 0;
    while k < chars.len() {
        let ch = chars[k];
        k += 1;
        let peek = chars.get(k).copied();
        match ch {
            '*' if peek == Some('*') => {
                k += 1;
                if chars.get(k) == Some(&'/') {
                    k += 1;
                }
                if k == chars.len() {
                    if detected == Detected::Exact {
                        detected = Detected::Prefix;
                    } else {
                        raw.push(Raw::Rest);
                        detected = Detected::Regex;
                    }
                } else {
                    raw.push(Raw::DirStar);
                    detected = Detected::Regex;
                }
                if i == 0 {
                    detected = Detected::Suffix;
                }
            }
            '*' => {
                raw.push(Raw::Star);
                detected = Detected::Regex;
            }
            '?' => {
                raw.push(Raw::Any);
                detected = Detected::Regex;
            }
            '\\' => match peek {
                Some(c) => {
                    k += 1;
                    raw.push(Raw::Esc(c));
                    detected = Detected::Regex;
                }
                // Unreachable: filepath.Match refuses a trailing `\`.
                None => return Err("trailing backslash".to_string()),
            },
            '[' | ']' => {
                raw.push(Raw::Meta(ch));
                detected = Detected::Regex;
            }
            '^' => raw.push(Raw::Meta(ch)),
            c => raw.push(Raw::Char(c)),
        }
        i += 1;
    }
    Ok(match detected {
        Detected::Exact => Kind::Exact,
        Detected::Prefix => Kind::Prefix,
        Detected::Suffix => Kind::Suffix,
        Detected::Regex => Kind::Regex(read_regex(&raw)?),
    })
}

/// Reads patternmatcher's regexp (as raw elements) the way Go's regexp does.
fn read_regex(raw: &[Raw]) -> std::result::Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut k = 0;
    while k < raw.len() {
        let r = raw[k];
        k += 1;
        match r {
            Raw::Char(c) | Raw::Meta(c @ ']') => toks.push(Tok::Lit(c)),
            Raw::Meta('^') => toks.push(Tok::Begin),
            Raw::Esc(c) => toks.push(escape(c)?),
            Raw::Any => toks.push(Tok::Any),
            Raw::Star => toks.push(Tok::Star),
            Raw::DirStar => toks.push(Tok::DirStar),
            Raw::Rest => toks.push(Tok::Rest),
            Raw::Meta(_) => {
                // `[`: a class up to the next unquoted `]` (filepath.Match has checked
                // that there is one and that it is not first).
                let negated = raw.get(k) == Some(&Raw::Meta('^'));
                if negated {
                    k += 1;
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let item = match raw.get(k) {
                        Some(Raw::Meta(']')) if !first => {
                            k += 1;
                            break;
                        }
                        None => return Err("missing closing ]".to_string()),
                        Some(&r) => r,
                    };
                    k += 1;
                    first = false;
                    let lo = class_char(item, raw.get(k))?;
                    let lo = match lo {
                        ClassItem::Char(c) => c,
                        ClassItem::Set(set) => {
                            ranges.extend_from_slice(set);
                            continue;
                        }
                    };
                    let mut hi = lo;
                    if raw.get(k) == Some(&Raw::Char('-'))
                        && raw.get(k + 1).is_some_and(|r| *r != Raw::Meta(']'))
                    {
                        match class_char(raw[k + 1], raw.get(k + 2))? {
                            ClassItem::Char(c) => hi = c,
                            ClassItem::Set(_) => {
                                return Err("invalid character class range".to_string())
                            }
                        }
                        k += 2;
                        if hi < lo {
                            return Err(format!("invalid character class range: {lo}-{hi}"));
                        }
                    }
                    ranges.push((lo, hi));
                }
                toks.push(Tok::Class { negated, ranges });
            }
        }
    }
    Ok(toks)
}

enum ClassItem {
    Char(char),
    Set(&'static [(char, char)]),
}

const DIGIT: &[(char, char)] = &[('0', '9')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];

/// An element inside `[...]`.
fn class_char(r: Raw, next: Option<&Raw>) -> std::result::Result<ClassItem, String> {
    match r {
        Raw::Meta('[') if next == Some(&Raw::Char(':')) => {
            Err("POSIX character classes are not supported".to_string())
        }
        Raw::Char(c) | Raw::Meta(c) => Ok(ClassItem::Char(c)),
        Raw::Esc(c) => match c {
            'd' => Ok(ClassItem::Set(DIGIT)),
            's' => Ok(ClassItem::Set(SPACE)),
            'w' => Ok(ClassItem::Set(WORD)),
            _ => match escape(c)? {
                Tok::Lit(c) => Ok(ClassItem::Char(c)),
                _ => Err(format!("unsupported escape \\{c} inside [...]")),
            },
        },
        _ => Err("* and ? are not supported inside [...]".to_string()),
    }
}

/// `\c` outside a class, as Go's regexp reads it.
fn escape(c: char) -> std::result::Result<Tok, String> {
    let class = |negated, set: &[(char, char)]| Tok::Class {
        negated,
        ranges: set.to_vec(),
    };
    Ok(match c {
        c if c.is_ascii_punctuation() => Tok::Lit(c),
        'a' => Tok::Lit('\x07'),
        'f' => Tok::Lit('\x0c'),
        't' => Tok::Lit('\t'),
        'n' => Tok::Lit('\n'),
        'r' => Tok::Lit('\r'),
        'v' => Tok::Lit('\x0b'),
        'd' => class(false, DIGIT),
        'D' => class(true, DIGIT),
        's' => class(false, SPACE),
        'S' => class(true, SPACE),
        'w' => class(false, WORD),
        'W' => class(true, WORD),
        c => return Err(format!("unsupported escape \\{c}")),
    })
}

/// Runs a compiled regexp over the whole of `path` (Thompson simulation: linear time).
fn run(toks: &[Tok], path: &[u8]) -> bool {
    // State 2*i: before token i; 2*i+1: inside the `.*` of a DirStar at i.
    let n = toks.len();
    let mut cur = vec![false; 2 * n + 2];
    let mut next = vec![false; 2 * n + 2];
    let closure = |set: &mut Vec<bool>, at_start: bool| {
        // Epsilon moves only go forward, so one pass in order suffices.
        for i in 0..n {
            if !set[2 * i] {
                continue;
            }
            match toks[i] {
                Tok::Star | Tok::Rest => set[2 * i + 2] = true,
                Tok::DirStar => {
                    set[2 * i + 1] = true;
                    set[2 * i + 2] = true;
                }
                Tok::Begin if at_start => set[2 * i + 2] = true,
                _ => {}
            }
        }
    };
    cur[0] = true;
    closure(&mut cur, true);
    let mut rest = path;
    while !rest.is_empty() {
        let (c, len) = decode(rest);
        rest = &rest[len..];
        next.iter_mut().for_each(|s| *s = false);
        let mut any = false;
        for i in 0..n {
            if cur[2 * i] {
                let to = match &toks[i] {
                    Tok::Lit(l) => (*l == c).then_some(2 * i + 2),
                    Tok::Any => (c != '/').then_some(2 * i + 2),
                    Tok::Star => (c != '/').then_some(2 * i),
                    Tok::Rest => (c != '\n').then_some(2 * i),
                    Tok::Class { negated, ranges } => {
                        (ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated)
                            .then_some(2 * i + 2)
                    }
                    Tok::DirStar | Tok::Begin => None,
                };
                if let Some(to) = to {
                    next[to] = true;
                    any = true;
                }
            }
            if cur[2 * i + 1] && c != '\n' {
                next[2 * i + 1] = true;
                if c == '/' {
                    next[2 * i + 2] = true;
                }
                any = true;
            }
        }
        if !any {
            return false;
        }
        closure(&mut next, false);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[2 * n]
}

/// The first character of `b` as Go decodes it: an invalid byte is U+FFFD, one byte long.
pub(super) fn decode(b: &[u8]) -> (char, usize) {
    let end = b.len().min(4);
    let valid = match std::str::from_utf8(&b[..end]) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or_default(),
    };
    match valid.chars().next() {
        Some(c) => (c, c.len_utf8()),
        None => ('\u{FFFD}', 1),
    }
}

fn decode_all(mut b: &[u8]) -> Vec<char> {
    let mut out = Vec::with_capacity(b.len());
    while !b.is_empty() {
        let (c, n) = decode(b);
        out.push(c);
        b = &b[n..];
    }
    out
}

/// Go's `path.Clean` (= `filepath.Clean` on Unix), on bytes.
pub(super) fn go_clean(p: &[u8]) -> Vec<u8> {
    if p.is_empty() {
        return b".".to_vec();
    }
    let rooted = p[0] == b'/';
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in p.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if parts.last().is_some_and(|l| *l != b"..") {
                    parts.pop();
                } else if !rooted {
                    parts.push(part);
                }
            }
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if rooted {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

/// Go's `filepath.Dir` on Unix.
fn go_dir(p: &[u8]) -> Vec<u8> {
    let i = p.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    go_clean(&p[..i])
}

/// Go's `filepath.Match` malformed-pattern error.
#[derive(Debug, PartialEq)]
pub(super) struct BadPattern;

/// Go's `filepath.Match` on Unix, on bytes: `*` (no `/`), `?` (one character but `/`),
/// `[...]` classes with ranges and `^` negation, `\` escapes. The whole pattern is checked
/// for syntax even when the name does not match.
pub(super) fn go_match(
    mut pattern: &[u8],
    mut name: &[u8],
) -> std::result::Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing * matches the rest unless it has a /.
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok, err) = match_chunk(chunk, name);
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if err {
            return Err(BadPattern);
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok, err) = match_chunk(chunk, &name[i + 1..]);
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                if err {
                    return Err(BadPattern);
                }
                i += 1;
            }
        }
        // No match: check that the rest of the pattern is well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            if match_chunk(chunk, b"").2 {
                return Err(BadPattern);
            }
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut inrange = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// Go's matchChunk: (rest of s, matched, malformed).
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> (&'a [u8], bool, bool) {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some((lo, rest)) = get_esc(chunk) else {
                        return (b"", false, true);
                    };
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let Some((h, rest)) = get_esc(&chunk[1..]) else {
                            return (b"", false, true);
                        };
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            c => {
                let c = if c == b'\\' {
                    chunk = &chunk[1..];
                    match chunk.first() {
                        Some(&c) => c,
                        None => return (b"", false, true),
                    }
                } else {
                    c
                };
                if !failed {
                    if c != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    if failed {
        (b"", false, false)
    } else {
        (s, true, false)
    }
}

/// Go's getEsc: one possibly escaped character of a class; `None` when malformed.
fn get_esc(mut chunk: &[u8]) -> Option<(char, &[u8])> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return None;
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return None;
        }
    }
    let (r, n) = decode(chunk);
    // An invalid byte (a real U+FFFD is three bytes long).
    if r == '\u{FFFD}' && n == 1 {
        return None;
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return None;
    }
    Some((r, rest))
}

#[cfg(test)]
#[path = "ignore_tests.rs"]
mod tests;
