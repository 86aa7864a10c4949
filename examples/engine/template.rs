//! `--format`: Go's `text/template` syntax as the Docker CLI takes it, implemented once for
//! `ps`, `images`, `inspect`, `history`, `volume ls`, `network ls`, `system df`, `info`,
//! `version` (and, later, `compose ps`).
//!
//! The data is JSON (`serde_json::Value`) with Docker's field names: the inspect JSON for
//! `inspect`, one object per row for the lists. What is supported, as Go does it:
//! - text and actions `{{ … }}`, trim markers `{{-`/`-}}`, comments `{{/* … */}}`;
//! - fields and chains (`.ID`, `.State.Running`, `.Config.Labels`), `.`, `$`, variables
//!   (`$v := …`, `{{range $k, $v := …}}`), string, raw-string, number and bool literals,
//!   pipelines (`{{.Names | upper}}`) and parenthesised ones;
//! - `{{if}}`/`{{else if}}`/`{{else}}`, `{{range}}` (arrays; objects by sorted key) with
//!   `{{else}}`, `{{with}}`, all closed by `{{end}}`;
//! - Docker's functions `json`, `split`, `join`, `title`, `lower`, `upper`, `pad`,
//!   `truncate`, `println`, and Go's `print`, `printf` (`%s %v %d %q %%`), `index`, `len`,
//!   `not`, `and`, `or`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`;
//! - the `.Label "KEY"` method of Docker's list contexts (a row's labels, see [`Row`]).
//!
//! Values print as Go's `fmt` prints them: `map[k:v]` for objects, `[a b]` for arrays,
//! `<no value>` for a missing key of inspect's JSON, `<nil>` for null. In a list (`ps`,
//! `images`…) the row is a Go struct in Docker, so an unknown field is an error, as there.
//! `table` prints Docker's column headers: the template run once on the headers of the
//! command's fields; `\t` and `\n` in a list's format are a tab and a newline, as Docker
//! replaces them; a bare `table` is the command's default table and `json` is `{{json .}}`.
//!
//! Why not a crate: `gtmpl` (the only Go-template crate on crates.io) has had no release
//! since 2021, works on its own value type rather than JSON, has no methods with
//! arguments (`.Label "k"`) and words its errors unlike Go's `text/template`, which
//! Docker prints. The subset Docker users write fits in this file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

/// A template that failed to parse or run, worded as Go words it (`template: :1: …`);
/// the command line prints parse errors behind Docker's `template parsing error: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateError(pub(crate) String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

type Res<T> = Result<T, TemplateError>;

fn err<T>(msg: impl Into<String>) -> Res<T> {
    Err(TemplateError(msg.into()))
}

/// An operand of a command.
#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty: `.`).
    Field(Vec<String>),
    /// `$name.A.B` (`$` alone: the data).
    Var(String, Vec<String>),
    Lit(Value),
    /// A function name.
    Ident(String),
    /// `(pipeline).A.B`.
    Sub(Box<Pipe>, Vec<String>),
}

/// `$a, $b := cmd | cmd`.
#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Vec<Arg>>,
    /// The action's text and position, for error messages.
    text: String,
    pos: (usize, usize),
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// How a missing field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// `<no value>`, as a key missing from a Go map (inspect's JSON).
    NoValue,
    /// An error, as a field a Go struct lacks (the rows of lists).
    Error,
    /// An empty string (the headers of a table).
    Empty,
}

/// A parsed template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    nodes: Vec<Node>,
}

/// The data of one run: the value and the labels `.Label "k"` reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    pub(crate) value: Value,
    pub(crate) labels: BTreeMap<String, String>,
}

impl Row {
    pub(crate) fn new(value: Value) -> Row {
        Row {
            value,
            labels: BTreeMap::new(),
        }
    }

    pub(crate) fn labels(mut self, labels: BTreeMap<String, String>) -> Row {
        self.labels = labels;
        self
    }
}

// ---------------------------------------------------------------------------------------
// Lexing and parsing

/// The pieces of a template: text, and actions with their line and column.
enum Piece {
    Text(String),
    Action {
        body: String,
        line: usize,
        col: usize,
    },
}

fn split(src: &str) -> Res<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut consumed = 0;
    while let Some(start) = rest.find("{{") {
        let mut text = rest[..start].to_owned();
        let after = &rest[start + 2..];
        let abs = consumed + start;
        let line = src[..abs].matches('\n').count() + 1;
        let col = abs - src[..abs].rfind('\n').map_or(0, |i| i + 1);
        let trim_left = after.starts_with("- ") || after.starts_with("-\t") || after == "-";
        let end = find_close(after)
            .ok_or_else(|| TemplateError(format!("template: :{line}: unclosed action")))?;
        let mut body = &after[..end];
        let mut trim_right = false;
        if trim_left {
            body = &body[1..];
            text = text.trim_end().to_owned();
        }
        if body.ends_with(" -") || body.ends_with("\t-") {
            body = &body[..body.len() - 1];
            trim_right = true;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text));
        }
        out.push(Piece::Action {
            body: body.to_owned(),
            line,
            col,
        });
        let mut next = &after[end + 2..];
        consumed = src.len() - next.len();
        if trim_right {
            let t = next.trim_start();
            consumed += next.len() - t.len();
            next = t;
        }
        rest = next;
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_owned()));
    }
    Ok(out)
}

/// Where the `}}` closing an action is, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(Value),
    Ident(String),
    Pipe,
    Open,
    /// `)` and the fields after it.
    Close(Vec<String>),
    Declare,
    Comma,
}

fn lex(body: &str, line: usize) -> Res<Vec<Tok>> {
    let unexpected =
        |c: char| TemplateError(format!("template: :{line}: unexpected {c:?} in command"));
    let chars: Vec<char> = body.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            if j == start {
                break;
            }
            f.push(chars[start..j].iter().collect());
            *i = j;
        }
        f
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                toks.push(Tok::Open);
                i += 1;
            }
            ')' => {
                i += 1;
                toks.push(Tok::Close(fields(&mut i)));
            }
            ',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                toks.push(Tok::Declare);
                i += 2;
            }
            '=' => {
                toks.push(Tok::Declare);
                i += 1;
            }
            '.' => {
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1;
                    if chars.get(i).is_some_and(|c| c.is_ascii_digit()) {
                        return Err(unexpected('.'));
                    }
                }
                toks.push(Tok::Field(f));
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                toks.push(Tok::Var(name, fields(&mut i)));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return err(format!("template: :{line}: unterminated quoted string"))
                        }
                        Some('"') => break,
                        Some('\\') => {
                            i += 1;
                            match chars.get(i) {
                                Some('n') => s.push('\n'),
                                Some('t') => s.push('\t'),
                                Some('r') => s.push('\r'),
                                Some('\\') => s.push('\\'),
                                Some('"') => s.push('"'),
                                Some(c) => {
                                    return err(format!(
                                        "template: :{line}: invalid syntax: unknown escape \\{c}"
                                    ))
                                }
                                None => {
                                    return err(format!(
                                        "template: :{line}: unterminated quoted string"
                                    ))
                                }
                            }
                        }
                        Some(c) => s.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                toks.push(Tok::Lit(Value::String(s)));
            }
            '`' => {
                let start = i + 1;
                let Some(len) = chars[start..].iter().position(|c| *c == '`') else {
                    return err(format!("template: :{line}: unterminated raw quoted string"));
                };
                toks.push(Tok::Lit(Value::String(
                    chars[start..start + len].iter().collect(),
                )));
                i = start + len + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let v = if let Ok(n) = text.parse::<i64>() {
                    Value::from(n)
                } else if let Some(n) = text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Value::Number(n)
                } else {
                    return err(format!("template: :{line}: bad number syntax: {text:?}"));
                };
                toks.push(Tok::Lit(v));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                toks.push(match word.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    _ => Tok::Ident(word),
                });
            }
            c => return Err(unexpected(c)),
        }
    }
    Ok(toks)
}

/// The functions a template may call.
const FUNCS: &[&str] = &[
    "json", "split", "join", "title", "lower", "upper", "pad", "truncate", "println", "print",
    "printf", "index", "len", "not", "and", "or", "eq", "ne", "lt", "le", "gt", "ge",
];

struct Parser {
    line: usize,
}

impl Parser {
    fn pipe(&self, toks: &[Tok], text: &str, pos: (usize, usize)) -> Res<Pipe> {
        let mut toks = toks;
        let mut decl = Vec::new();
        // `$a := …` or `$a, $b := …`
        if let Some(at) = toks.iter().position(|t| *t == Tok::Declare) {
            let head = &toks[..at];
            let vars: Vec<_> = head
                .iter()
                .filter(|t| **t != Tok::Comma)
                .map(|t| match t {
                    Tok::Var(v, f) if f.is_empty() => Ok(v.clone()),
                    _ => err(format!("template: :{}: unexpected \":=\"", self.line)),
                })
                .collect::<Res<_>>()?;
            if !vars.is_empty() && vars.len() <= 2 {
                decl = vars;
                toks = &toks[at + 1..];
            }
        }
        let (cmds, used) = self.cmds(toks, false)?;
        if used != toks.len() {
            return err(format!("template: :{}: unexpected \")\"", self.line));
        }
        if cmds.is_empty() {
            return err(format!(
                "template: :{}: missing value for command",
                self.line
            ));
        }
        Ok(Pipe {
            decl,
            cmds,
            text: text.trim().to_owned(),
            pos,
        })
    }

    /// Commands separated by `|` until the end or an unmatched `)`; the tokens used.
    fn cmds(&self, toks: &[Tok], nested: bool) -> Res<(Vec<Vec<Arg>>, usize)> {
        let mut cmds = Vec::new();
        let mut cur = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                Tok::Pipe => {
                    if cur.is_empty() {
                        return err(format!(
                            "template: :{}: missing value for command",
                            self.line
                        ));
                    }
                    cmds.push(std::mem::take(&mut cur));
                }
                Tok::Close(_) if nested => break,
                Tok::Close(_) => {
                    return err(format!("template: :{}: unexpected right paren", self.line))
                }
                Tok::Open => {
                    let (sub, used) = self.cmds(&toks[i + 1..], true)?;
                    i += 1 + used;
                    let Some(Tok::Close(fields)) = toks.get(i) else {
                        return err(format!("template: :{}: unclosed left paren", self.line));
                    };
                    if sub.is_empty() {
                        return err(format!(
                            "template: :{}: missing value for parenthesized pipeline",
                            self.line
                        ));
                    }
                    let pipe = Pipe {
                        decl: Vec::new(),
                        cmds: sub,
                        text: String::new(),
                        pos: (self.line, 0),
                    };
                    cur.push(Arg::Sub(Box::new(pipe), fields.clone()));
                }
                Tok::Field(f) => cur.push(Arg::Field(f.clone())),
                Tok::Var(v, f) => cur.push(Arg::Var(v.clone(), f.clone())),
                Tok::Lit(v) => cur.push(Arg::Lit(v.clone())),
                Tok::Ident(name) => {
                    if !FUNCS.contains(&name.as_str()) {
                        return err(format!(
                            "template: :{}: function {name:?} not defined",
                            self.line
                        ));
                    }
                    cur.push(Arg::Ident(name.clone()));
                }
                Tok::Declare | Tok::Comma => {
                    return err(format!(
                        "template: :{}: unexpected \":=\" in operand",
                        self.line
                    ))
                }
            }
            i += 1;
        }
        if !cur.is_empty() {
            cmds.push(cur);
        } else if !cmds.is_empty() {
            return err(format!(
                "template: :{}: missing value for command",
                self.line
            ));
        }
        Ok((cmds, i))
    }
}

/// What ended a list of nodes.
enum End {
    Eof,
    Close,
    Else(Option<Pipe>),
}

fn parse_list(
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
) -> Res<(Vec<Node>, End)> {
    let mut nodes = Vec::new();
    while let Some(p) = pieces.next() {
        let (body, line, col) = match p {
            Piece::Text(t) => {
                nodes.push(Node::Text(t));
                continue;
            }
            Piece::Action { body, line, col } => (body, line, col),
        };
        let trimmed = body.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return err(format!("template: :{line}: unclosed comment"));
            }
            continue;
        }
        let parser = Parser { line };
        let toks = lex(&body, line)?;
        let keyword = match toks.first() {
            Some(Tok::Ident(k))
                if matches!(k.as_str(), "if" | "range" | "with" | "else" | "end") =>
            {
                k.clone()
            }
            Some(_) => {
                nodes.push(Node::Action(parser.pipe(&toks, &body, (line, col))?));
                continue;
            }
            None => return err(format!("template: :{line}: missing value for command")),
        };
        let rest = &toks[1..];
        match keyword.as_str() {
            "end" => {
                if !rest.is_empty() {
                    return err(format!(
                        "template: :{line}: unexpected {:?} in end",
                        body.trim()
                    ));
                }
                return Ok((nodes, End::Close));
            }
            "else" => {
                let cond = match rest.first() {
                    None => None,
                    Some(Tok::Ident(k)) if k == "if" => {
                        Some(parser.pipe(&rest[1..], &body, (line, col))?)
                    }
                    Some(_) => {
                        return err(format!(
                            "template: :{line}: unexpected {:?} in else",
                            body.trim()
                        ))
                    }
                };
                return Ok((nodes, End::Else(cond)));
            }
            _ => {
                if rest.is_empty() {
                    return err(format!("template: :{line}: missing value for {keyword}"));
                }
                let pipe = parser.pipe(rest, &body, (line, col))?;
                let node = parse_block(&keyword, pipe, pieces, line)?;
                nodes.push(node);
            }
        }
    }
    Ok((nodes, End::Eof))
}

/// The body (and `else`) of an `if`, `range` or `with` whose action was just read.
fn parse_block(
    keyword: &str,
    pipe: Pipe,
    pieces: &mut std::iter::Peekable<std::vec::IntoIter<Piece>>,
    line: usize,
) -> Res<Node> {
    let (body, end) = parse_list(pieces)?;
    let otherwise = match end {
        End::Eof => return err(format!("template: :{line}: unexpected EOF")),
        End::Close => Vec::new(),
        End::Else(None) => match parse_list(pieces)? {
            (nodes, End::Close) => nodes,
            (_, End::Eof) => return err(format!("template: :{line}: unexpected EOF")),
            (_, End::Else(_)) => {
                return err(format!(
                    "template: :{line}: expected end; found {{{{else}}}}"
                ))
            }
        },
        // `{{else if c}}` is `{{else}}{{if c}}…{{end}}` sharing the outer `{{end}}`.
        End::Else(Some(cond)) => vec![parse_block("if", cond, pieces, line)?],
    };
    Ok(match keyword {
        "if" => Node::If(pipe, body, otherwise),
        "range" => Node::Range(pipe, body, otherwise),
        _ => Node::With(pipe, body, otherwise),
    })
}

impl Template {
    /// Parses `src`.
    pub(crate) fn parse(src: &str) -> Res<Template> {
        let mut pieces = split(src)?.into_iter().peekable();
        let (nodes, end) = parse_list(&mut pieces)?;
        match end {
            End::Eof => Ok(Template { nodes }),
            End::Close => err("template: :1: unexpected {{end}}"),
            End::Else(_) => err("template: :1: unexpected {{else}}"),
        }
    }

    /// Runs the template on `row`; `missing` says how a missing field reads.
    pub(crate) fn execute(&self, row: &Row, missing: Missing) -> Res<String> {
        let mut ex = Exec {
            row,
            missing,
            // `$` is the row itself, looked up by reference (see `arg`)
            vars: Vec::new(),
            out: String::new(),
        };
        ex.nodes(&self.nodes, &row.value)?;
        Ok(ex.out)
    }
}

// ---------------------------------------------------------------------------------------
// Execution

struct Exec<'a> {
    row: &'a Row,
    missing: Missing,
    vars: Vec<(String, Value)>,
    out: String,
}

/// A value, or nothing (a missing key: Go's `<no value>`).
type Val = Option<Value>;

impl Exec<'_> {
    fn nodes(&mut self, nodes: &[Node], dot: &Value) -> Res<()> {
        let depth = self.vars.len();
        for n in nodes {
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        self.out.push_str(&print(&v));
                    }
                }
                Node::If(p, yes, no) => {
                    let v = self.pipe(p, dot)?;
                    self.nodes(if truth(&v) { yes } else { no }, dot)?;
                }
                Node::With(p, yes, no) => {
                    let v = self.pipe(p, dot)?;
                    if truth(&v) {
                        self.nodes(yes, &v.unwrap_or(Value::Null))?;
                    } else {
                        self.nodes(no, dot)?;
                    }
                }
                Node::Range(p, body, otherwise) => self.range(p, body, otherwise, dot)?,
            }
        }
        self.vars.truncate(depth);
        Ok(())
    }

    fn range(&mut self, p: &Pipe, body: &[Node], otherwise: &[Node], dot: &Value) -> Res<()> {
        let decl = p.decl.clone();
        let mut plain = p.clone();
        plain.decl.clear();
        let v = self.pipe(&plain, dot)?;
        let items: Vec<(Value, Value)> = match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Value::from(i), v))
                .collect(),
            Some(Value::Object(m)) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
            Some(Value::Number(n)) if n.as_u64().is_some() => (0..n.as_u64().unwrap_or(0))
                .map(|i| (Value::from(i), Value::from(i)))
                .collect(),
            Some(other) => {
                return err(self.exec_error(
                    p,
                    &format!("range can't iterate over {}", print(&Some(other))),
                ))
            }
        };
        if items.is_empty() {
            return self.nodes(otherwise, dot);
        }
        for (k, v) in items {
            let depth = self.vars.len();
            match decl.as_slice() {
                [one] => self.vars.push((one.clone(), v.clone())),
                [key, val] => {
                    self.vars.push((key.clone(), k));
                    self.vars.push((val.clone(), v.clone()));
                }
                _ => {}
            }
            self.nodes(body, &v)?;
            self.vars.truncate(depth);
        }
        Ok(())
    }

    fn exec_error(&self, p: &Pipe, msg: &str) -> String {
        format!(
            "template: :{}:{}: executing \"\" at <{}>: {msg}",
            p.pos.0,
            p.pos.1 + 2,
            p.text
        )
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Res<Val> {
        let mut v: Option<Val> = None;
        for cmd in &p.cmds {
            v = Some(self.cmd(p, cmd, dot, v)?);
        }
        let v = v.unwrap_or(None);
        match p.decl.as_slice() {
            [] => {}
            [name] => self
                .vars
                .push((name.clone(), v.clone().unwrap_or(Value::Null))),
            _ => return err(self.exec_error(p, "too many declarations")),
        }
        Ok(v)
    }

    fn cmd(&mut self, p: &Pipe, cmd: &[Arg], dot: &Value, piped: Option<Val>) -> Res<Val> {
        let (first, rest) = cmd.split_first().expect("commands are not empty");
        if let Arg::Ident(f) = first {
            let mut args = rest
                .iter()
                .map(|a| self.arg(p, a, dot))
                .collect::<Res<Vec<Val>>>()?;
            args.extend(piped);
            return self.call(p, f, args);
        }
        // `.Label "k"`: the method of Docker's list contexts.
        if let Arg::Field(f) = first {
            if f.last().map(String::as_str) == Some("Label")
                && (!rest.is_empty() || piped.is_some())
            {
                let mut args = rest
                    .iter()
                    .map(|a| self.arg(p, a, dot))
                    .collect::<Res<Vec<Val>>>()?;
                args.extend(piped);
                let [key] = args.as_slice() else {
                    return err(self.exec_error(p, "wrong number of args for Label: want 1"));
                };
                let key = print(key);
                if let Some(h) = self
                    .row
                    .value
                    .get("Label")
                    .filter(|_| self.missing == Missing::Empty)
                {
                    return Ok(Some(h.clone()));
                }
                return Ok(Some(Value::String(
                    self.row.labels.get(&key).cloned().unwrap_or_default(),
                )));
            }
        }
        if !rest.is_empty() || piped.is_some() {
            return err(self.exec_error(
                p,
                &format!("can't give argument to non-function {}", arg_text(first)),
            ));
        }
        self.arg(p, first, dot)
    }

    fn arg(&mut self, p: &Pipe, a: &Arg, dot: &Value) -> Res<Val> {
        match a {
            Arg::Field(f) => self.fields(p, Some(dot), f),
            Arg::Var(name, f) => {
                let found = self.vars.iter().rev().find(|(n, _)| n == name);
                let v = match found {
                    Some((_, v)) => v,
                    None if name == "$" => &self.row.value,
                    None => {
                        return err(format!(
                            "template: :{}: undefined variable: {name}",
                            p.pos.0
                        ))
                    }
                };
                self.fields(p, Some(v), f)
            }
            Arg::Lit(v) => Ok(Some(v.clone())),
            Arg::Ident(f) => self.call(p, f, Vec::new()),
            Arg::Sub(pipe, f) => {
                let v = self.pipe(pipe, dot)?;
                self.fields(p, v.as_ref(), f)
            }
        }
    }

    /// `v.f1.f2…`, walked by reference: only the value reached is cloned (a row is a map
    /// of a dozen fields, and a table evaluates several fields of every row).
    fn fields(&self, p: &Pipe, v: Option<&Value>, fields: &[String]) -> Res<Val> {
        let empty = Value::String(String::new());
        let mut v = v;
        for name in fields {
            v = match v {
                Some(Value::Object(m)) => match m.get(name) {
                    Some(x) => Some(x),
                    None => match self.missing {
                        Missing::NoValue => None,
                        Missing::Empty => Some(&empty),
                        Missing::Error => {
                            return err(self.exec_error(
                                p,
                                &format!("can't evaluate field {name} in type {}", type_name(m)),
                            ))
                        }
                    },
                },
                None | Some(Value::Null) => {
                    if self.missing == Missing::Empty {
                        return Ok(Some(Value::String(String::new())));
                    }
                    return err(self
                        .exec_error(p, &format!("nil pointer evaluating interface {{}}.{name}")));
                }
                Some(other) => {
                    return err(self.exec_error(
                        p,
                        &format!("can't evaluate field {name} in type {}", go_type(other)),
                    ))
                }
            };
        }
        Ok(v.cloned())
    }

    fn call(&self, p: &Pipe, f: &str, args: Vec<Val>) -> Res<Val> {
        let want = |n: usize| -> Res<()> {
            if args.len() == n {
                Ok(())
            } else {
                err(self.exec_error(
                    p,
                    &format!(
                        "error calling {f}: wrong number of args for {f}: want {n} got {}",
                        args.len()
                    ),
                ))
            }
        };
        let fail = |msg: String| err(self.exec_error(p, &format!("error calling {f}: {msg}")));
        let s = |v: &Val| print(v);
        Ok(Some(match f {
            "json" => {
                want(1)?;
                Value::String(
                    serde_json::to_string(args[0].as_ref().unwrap_or(&Value::Null))
                        .unwrap_or_default(),
                )
            }
            "split" => {
                want(2)?;
                Value::Array(
                    s(&args[0])
                        .split(&s(&args[1]))
                        .map(|x| Value::String(x.into()))
                        .collect(),
                )
            }
            "join" => {
                want(2)?;
                let items: Vec<String> = match &args[0] {
                    Some(Value::Array(a)) => a.iter().map(|x| print(&Some(x.clone()))).collect(),
                    None | Some(Value::Null) => Vec::new(),
                    Some(other) => return fail(format!("can't join {}", go_type(other))),
                };
                Value::String(items.join(&s(&args[1])))
            }
            "title" => {
                want(1)?;
                let mut out = String::new();
                let mut start = true;
                for c in s(&args[0]).chars() {
                    if start && c.is_alphabetic() {
                        out.extend(c.to_uppercase());
                    } else {
                        out.push(c);
                    }
                    start = !c.is_alphanumeric();
                }
                Value::String(out)
            }
            "lower" => {
                want(1)?;
                Value::String(s(&args[0]).to_lowercase())
            }
            "upper" => {
                want(1)?;
                Value::String(s(&args[0]).to_uppercase())
            }
            "pad" => {
                want(3)?;
                let n = |v: &Val| v.as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
                Value::String(format!(
                    "{}{}{}",
                    " ".repeat(n(&args[1])),
                    s(&args[0]),
                    " ".repeat(n(&args[2]))
                ))
            }
            "truncate" => {
                want(2)?;
                let n = args[1].as_ref().and_then(Value::as_u64).unwrap_or(0) as usize;
                Value::String(s(&args[0]).chars().take(n).collect())
            }
            "print" | "println" => {
                // Go's Sprint puts spaces between operands when neither is a string;
                // Sprintln always does.
                let mut out = String::new();
                for (i, a) in args.iter().enumerate() {
                    let is_str = |v: &Val| matches!(v, Some(Value::String(_)));
                    if i > 0 && (f == "println" || (!is_str(a) && !is_str(&args[i - 1]))) {
                        out.push(' ');
                    }
                    out.push_str(&s(a));
                }
                if f == "println" {
                    out.push('\n');
                }
                Value::String(out)
            }
            "printf" => {
                if args.is_empty() {
                    return fail("wrong number of args for printf: want at least 1 got 0".into());
                }
                Value::String(printf(&s(&args[0]), &args[1..]))
            }
            "index" => {
                if args.is_empty() {
                    return fail("wrong number of args for index: want at least 1 got 0".into());
                }
                let mut v = args[0].clone();
                for k in &args[1..] {
                    v = match (v, k) {
                        (Some(Value::Object(m)), Some(Value::String(k))) => {
                            let all_strings = m.values().all(Value::is_string);
                            match m.get(k) {
                                Some(x) => Some(x.clone()),
                                // a map[string]string (labels) gives "", an interface map nothing
                                None if all_strings => Some(Value::String(String::new())),
                                None => None,
                            }
                        }
                        (Some(Value::Null) | None, Some(Value::String(_))) => {
                            Some(Value::String(String::new()))
                        }
                        (Some(Value::Array(a)), Some(Value::Number(n))) => {
                            let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                            match a.get(i) {
                                Some(x) => Some(x.clone()),
                                None => return fail(format!("index out of range: {n}")),
                            }
                        }
                        (v, k) => {
                            return fail(format!(
                                "can't index item of type {} with {}",
                                v.as_ref().map_or("<nil>", go_type),
                                s(k)
                            ))
                        }
                    };
                }
                return Ok(v);
            }
            "len" => {
                want(1)?;
                Value::from(match &args[0] {
                    Some(Value::Array(a)) => a.len(),
                    Some(Value::Object(m)) => m.len(),
                    Some(Value::String(x)) => x.len(),
                    other => {
                        return fail(format!(
                            "len of type {}",
                            other.as_ref().map_or("<nil>", go_type)
                        ))
                    }
                })
            }
            "not" => {
                want(1)?;
                Value::Bool(!truth(&args[0]))
            }
            "and" | "or" => {
                if args.is_empty() {
                    return fail(format!(
                        "wrong number of args for {f}: want at least 1 got 0"
                    ));
                }
                let stop = |v: &Val| if f == "and" { !truth(v) } else { truth(v) };
                let pick = args
                    .iter()
                    .find(|v| stop(v))
                    .unwrap_or(&args[args.len() - 1]);
                return Ok(pick.clone());
            }
            "eq" => {
                if args.len() < 2 {
                    return fail("missing argument for comparison".into());
                }
                Value::Bool(args[1..].iter().any(|b| same(&args[0], b)))
            }
            "ne" => {
                want(2)?;
                Value::Bool(!same(&args[0], &args[1]))
            }
            "lt" | "le" | "gt" | "ge" => {
                want(2)?;
                let ord = match (&args[0], &args[1]) {
                    (Some(Value::Number(a)), Some(Value::Number(b))) => {
                        a.as_f64().partial_cmp(&b.as_f64())
                    }
                    (Some(Value::String(a)), Some(Value::String(b))) => Some(a.cmp(b)),
                    _ => None,
                };
                let Some(ord) = ord else {
                    return fail("incompatible types for comparison".into());
                };
                Value::Bool(match f {
                    "lt" => ord.is_lt(),
                    "le" => ord.is_le(),
                    "gt" => ord.is_gt(),
                    _ => ord.is_ge(),
                })
            }
            _ => {
                return err(format!(
                    "template: :{}: function {f:?} not defined",
                    p.pos.0
                ))
            }
        }))
    }
}

fn arg_text(a: &Arg) -> String {
    match a {
        Arg::Field(f) => format!(".{}", f.join(".")),
        Arg::Var(v, f) if f.is_empty() => v.clone(),
        Arg::Var(v, f) => format!("{v}.{}", f.join(".")),
        Arg::Lit(v) => v.to_string(),
        Arg::Ident(f) => f.clone(),
        Arg::Sub(..) => "(…)".into(),
    }
}

/// Go's truth: false, 0, "", nil and empty arrays and maps are false.
fn truth(v: &Val) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(m)) => !m.is_empty(),
    }
}

fn same(a: &Val, b: &Val) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        (None, Some(Value::Null)) | (Some(Value::Null), None) => true,
        _ => a == b,
    }
}

/// The Go type a JSON value stands for, for error messages.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

fn type_name(_: &Map<String, Value>) -> &'static str {
    "*formatter.Context"
}

/// A value as Go's `fmt` prints it with `%v`.
fn print(v: &Val) -> String {
    let Some(v) = v else {
        return "<no value>".into();
    };
    let mut out = String::new();
    print_into(v, &mut out);
    out
}

fn print_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                let _ = write!(out, "{}", n.as_f64().unwrap_or(0.0));
            }
        }
        Value::String(s) => out.push_str(s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_into(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                print_into(x, out);
            }
            out.push(']');
        }
    }
}

/// Go's `Sprintf` for the verbs templates use: `%s %v %d %q %%` (others print as `%v`).
fn printf(format: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(verb) => match args.next() {
                Some(a) if verb == 'q' => {
                    out.push_str(&serde_json::to_string(&print(a)).unwrap_or_default());
                }
                Some(a) => out.push_str(&print(a)),
                None => {
                    let _ = write!(out, "%!{verb}(MISSING)");
                }
            },
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// List formats

/// A list command's `--format` (`ps`, `images`, `history`, `volume ls`, `network ls`…),
/// parsed: `table …`, `json`, or a template run once per row.
#[derive(Debug)]
pub(crate) struct ListFormat {
    template: Template,
    table: bool,
    headers: &'static [(&'static str, &'static str)],
}

impl ListFormat {
    /// `format` as the user gave it, else `default` (the command's default table);
    /// `headers` maps the command's fields to Docker's column headers.
    pub(crate) fn parse(
        format: Option<&str>,
        default: &str,
        headers: &'static [(&'static str, &'static str)],
    ) -> Result<ListFormat, TemplateError> {
        let format = match format.map(str::trim) {
            None | Some("") => default,
            Some("json") => "{{json .}}",
            Some(f) => f,
        };
        let (table, body) = match format.strip_prefix("table") {
            Some(rest) if rest.trim().is_empty() => {
                (true, default.strip_prefix("table").unwrap_or(default))
            }
            Some(rest) => (true, rest),
            None => (false, format),
        };
        let body = body
            .trim_matches(' ')
            .replace(r"\t", "\t")
            .replace(r"\n", "\n");
        Ok(ListFormat {
            template: Template::parse(&body)?,
            table,
            headers,
        })
    }

    /// The lines for `rows`: a header first for a table, then one per row; a table's
    /// columns aligned as Docker's tabwriter aligns them.
    pub(crate) fn render(&self, rows: &[Row]) -> Result<String, TemplateError> {
        let mut lines = Vec::with_capacity(rows.len() + 1);
        if self.table {
            let mut h = Map::new();
            for (field, header) in self.headers {
                h.insert((*field).to_owned(), Value::String((*header).to_owned()));
            }
            lines.push(
                self.template
                    .execute(&Row::new(Value::Object(h)), Missing::Empty)?,
            );
        }
        for r in rows {
            lines.push(self.template.execute(r, Missing::Error)?);
        }
        if !self.table {
            return Ok(lines.into_iter().map(|l| l + "\n").collect());
        }
        let text: String = lines.into_iter().map(|l| l + "\n").collect();
        Ok(align(&text))
    }
}

/// Aligns tab-separated cells into columns three spaces apart (as `print_table`), line
/// by line; a line's last cell is not padded.
pub(crate) fn align(text: &str) -> String {
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let mut widths = Vec::new();
    for r in &rows {
        widths.resize(widths.len().max(r.len()), 0);
        for (w, cell) in widths.iter_mut().zip(r.iter().take(r.len() - 1)) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < r.len() {
                line.extend(std::iter::repeat_n(
                    ' ',
                    widths[i] - cell.chars().count() + 3,
                ));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(t: &str, v: Value) -> String {
        Template::parse(t)
            .unwrap()
            .execute(&Row::new(v), Missing::NoValue)
            .unwrap()
    }

    fn inspect() -> Value {
        json!({
            "Id": "abc123",
            "Name": "/web",
            "State": {"Running": true, "Pid": 42, "Status": "running"},
            "Config": {"Labels": {"a": "1", "b": "2"}, "Env": ["A=1", "B=2"]},
            "Mounts": [{"Type": "volume", "Destination": "/data"}, {"Type": "bind", "Destination": "/www"}],
            "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
        })
    }

    #[test]
    fn fields_nested_and_missing() {
        assert_eq!(
            run("{{.State.Running}} {{.State.Pid}} {{.Name}}", inspect()),
            "true 42 /web"
        );
        assert_eq!(run("{{.Nope}}", inspect()), "<no value>");
        assert_eq!(run("{{.Config.Labels}}", inspect()), "map[a:1 b:2]");
        assert_eq!(run("{{.Config.Env}}", inspect()), "[A=1 B=2]");
    }

    #[test]
    fn json_of_dot_and_of_a_field() {
        assert_eq!(
            run("{{json .State}}", inspect()),
            r#"{"Pid":42,"Running":true,"Status":"running"}"#
        );
        assert_eq!(run("{{json .Name}}", inspect()), r#""/web""#);
    }

    #[test]
    fn range_if_else_with_variables() {
        assert_eq!(
            run("{{range .Mounts}}{{.Destination}};{{end}}", inspect()),
            "/data;/www;"
        );
        assert_eq!(
            run("{{range $p, $b := .NetworkSettings.Ports}}{{$p}}->{{(index $b 0).HostPort}}{{end}}", inspect()),
            "80/tcp->8080"
        );
        assert_eq!(
            run("{{range .Nope}}x{{else}}none{{end}}", inspect()),
            "none"
        );
        assert_eq!(
            run("{{if .State.Running}}up{{else}}down{{end}}", inspect()),
            "up"
        );
        assert_eq!(
            run(
                "{{if eq .State.Status \"exited\"}}E{{else if .State.Running}}R{{else}}?{{end}}",
                inspect()
            ),
            "R"
        );
        assert_eq!(run("{{with .State}}{{.Pid}}{{end}}", inspect()), "42");
        assert_eq!(
            run("{{$n := .Name}}{{range .Mounts}}{{$n}}{{end}}", inspect()),
            "/web/web"
        );
        assert_eq!(
            run("{{range .Mounts}}{{$.Id}}{{end}}", inspect()),
            "abc123abc123"
        );
    }

    #[test]
    fn functions() {
        assert_eq!(run(r#"{{index .Config.Labels "b"}}"#, inspect()), "2");
        assert_eq!(run(r#"{{index .Config.Labels "zz"}}"#, inspect()), "");
        assert_eq!(
            run("{{.Name | upper}} {{lower \"AB\"}}", inspect()),
            "/WEB ab"
        );
        assert_eq!(run(r#"{{join .Config.Env ","}}"#, inspect()), "A=1,B=2");
        assert_eq!(run(r#"{{println .Name}}"#, inspect()), "/web\n");
        assert_eq!(run(r#"{{printf "%s=%d%%" "x" 5}}"#, inspect()), "x=5%");
        assert_eq!(
            run(r#"{{len .Mounts}} {{title "hello world"}}"#, inspect()),
            "2 Hello World"
        );
        assert_eq!(
            run(r#"{{truncate .Id 3}}|{{pad "x" 1 2}}|"#, inspect()),
            "abc| x  |"
        );
        assert_eq!(run(r#"{{split "a:b" ":"}}"#, inspect()), "[a b]");
        assert_eq!(
            run(
                r#"{{if and .State.Running (not .Nope)}}ok{{end}}"#,
                inspect()
            ),
            "ok"
        );
        assert_eq!(
            run(r#"{{if gt .State.Pid 10}}big{{end}}"#, inspect()),
            "big"
        );
    }

    #[test]
    fn trim_markers_and_comments() {
        assert_eq!(run("a  {{- .Name -}}  b{{/* c */}}", inspect()), "a/webb");
    }

    #[test]
    fn parse_errors_are_go_s() {
        let e = |t: &str| Template::parse(t).unwrap_err().0;
        assert_eq!(e("{{.ID"), "template: :1: unclosed action");
        assert_eq!(e("{{if .A}}x"), "template: :1: unexpected EOF");
        assert_eq!(e("x{{end}}"), "template: :1: unexpected {{end}}");
        assert_eq!(
            e("{{nope .A}}"),
            "template: :1: function \"nope\" not defined"
        );
        assert!(e("a\n{{.ID").starts_with("template: :2:"));
    }

    #[test]
    fn strict_rows_and_the_label_method() {
        let row = Row::new(json!({"ID": "abc", "Names": "web"}))
            .labels([("k".to_owned(), "v".to_owned())].into());
        let t = |s: &str| Template::parse(s).unwrap().execute(&row, Missing::Error);
        assert_eq!(
            t(r#"{{.ID}} {{.Label "k"}}{{.Label "x"}}"#).unwrap(),
            "abc v"
        );
        let e = t("{{.Nope}}").unwrap_err().0;
        assert!(e.contains("can't evaluate field Nope"), "{e}");
        assert!(
            e.starts_with("template: :1:2: executing \"\" at <.Nope>"),
            "{e}"
        );
    }

    #[test]
    fn table_headers_and_escapes() {
        const H: &[(&str, &str)] = &[
            ("ID", "CONTAINER ID"),
            ("Names", "NAMES"),
            ("Label", "LABEL"),
        ];
        let f =
            ListFormat::parse(Some(r#"table {{.ID}}\t{{.Names}}\t{{.Label "k"}}"#), "", H).unwrap();
        let rows = [Row::new(json!({"ID": "abcdef", "Names": "w"}))
            .labels([("k".into(), "v".into())].into())];
        assert_eq!(
            f.render(&rows).unwrap(),
            "CONTAINER ID   NAMES   LABEL\nabcdef         w       v\n"
        );
        let plain = ListFormat::parse(Some(r"{{.ID}}\t{{.Names}}"), "", H).unwrap();
        assert_eq!(plain.render(&rows).unwrap(), "abcdef\tw\n");
        let json = ListFormat::parse(Some("json"), "", H).unwrap();
        assert_eq!(
            json.render(&rows).unwrap(),
            "{\"ID\":\"abcdef\",\"Names\":\"w\"}\n"
        );
        let bare = ListFormat::parse(Some("table"), r"table {{.Names}}", H).unwrap();
        assert_eq!(bare.render(&rows).unwrap(), "NAMES\nw\n");
    }
}
