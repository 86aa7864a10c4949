//! `.env` files as Compose reads them (compose-go's dotenv): `KEY=VALUE` lines, an
//! optional `export ` prefix, `#` comments (after an unquoted value only when preceded by
//! a space), single quotes (literal), double quotes (escapes `\n`, `\t`, `\"`, `\\`,
//! `\$`, and variables), values over several lines inside quotes, unquoted values
//! trimmed and interpolated, and `KEY` alone taking the value from the environment.

use std::collections::BTreeMap;

use super::interpolate::{interpolate, Lookup};

/// Parses `text`; variables in values see the file's earlier variables, then `env`. The
/// error is the 1-based line and the reason.
pub(crate) fn parse(
    text: &str,
    env: &dyn Lookup,
) -> Result<Vec<(String, String)>, (usize, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut line_no = 0usize;
    let mut lines = text.split('\n').peekable();
    while let Some(raw) = lines.next() {
        line_no += 1;
        let start = line_no;
        let line = raw.trim_start().trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line
            .strip_prefix("export ")
            .map(str::trim_start)
            .unwrap_or(line);
        let key_end = line.find(['=', ':']).unwrap_or(line.len());
        let key = line[..key_end].trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err((
                start,
                format!("unexpected character in variable name {key:?}"),
            ));
        }
        if key_end == line.len() {
            if let Some(v) = env.get(key) {
                out.push((key.to_owned(), v));
            }
            continue;
        }
        let mut value = line[key_end + 1..].trim_start().to_owned();
        let known: BTreeMap<String, String> = out.iter().cloned().collect();
        let lookup = |n: &str| known.get(n).cloned().or_else(|| env.get(n));
        let mut missing = Vec::new();
        let v = match value.chars().next() {
            Some(q @ ('\'' | '"')) => {
                // The value may go on over the next lines until its closing quote.
                while closing_quote(&value[1..], q).is_none() {
                    match lines.next() {
                        Some(next) => {
                            line_no += 1;
                            value.push('\n');
                            value.push_str(next.trim_end_matches('\r'));
                        }
                        None => return Err((start, format!("unterminated quoted value of {key}"))),
                    }
                }
                let end = closing_quote(&value[1..], q).unwrap_or(0) + 1;
                let tail = value[end + 1..].trim();
                if !(tail.is_empty() || tail.starts_with('#')) {
                    return Err((
                        line_no,
                        format!("unexpected text after the quoted value of {key}"),
                    ));
                }
                let body = &value[1..end];
                if q == '\'' {
                    body.to_owned()
                } else {
                    interpolate(&unescape(body), &lookup, &mut missing).map_err(|e| (start, e))?
                }
            }
            _ => {
                let cut = value.find(" #").unwrap_or(value.len());
                interpolate(value[..cut].trim(), &lookup, &mut missing).map_err(|e| (start, e))?
            }
        };
        out.retain(|(k, _)| k != key);
        out.push((key.to_owned(), v));
    }
    Ok(out)
}

/// The index of the closing quote `q` in `s` (a backslash escapes in double quotes).
fn closing_quote(s: &str, q: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if q == '"' && !escaped => escaped = true,
            c if c == q && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

/// Double-quoted escapes; `\$` stays a literal `$` through interpolation (as `$$`).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('$') => out.push_str("$$"),
            Some(c @ ('"' | '\\')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(text: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(text, &|n: &str| env.get(n).cloned()).unwrap()
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_forms_compose_reads() {
        let text = "\
# a comment
PLAIN=value
export EXPORTED=yes
SPACED =  padded value  
INLINE=abc # comment
HASH=abc#def
SINGLE='literal $PLAIN \\n'
DOUBLE=\"line1\\nline2 ${PLAIN} \\$HOME \\\"q\\\"\"
EMPTY=
MULTI=\"first
second\"
REF=${PLAIN}-x
FROM_ENV
NOT_IN_ENV
YAML_STYLE: colon
";
        let got = parse_with(text, &[("FROM_ENV", "from-env")]);
        assert_eq!(
            got,
            pairs(&[
                ("PLAIN", "value"),
                ("EXPORTED", "yes"),
                ("SPACED", "padded value"),
                ("INLINE", "abc"),
                ("HASH", "abc#def"),
                ("SINGLE", "literal $PLAIN \\n"),
                ("DOUBLE", "line1\nline2 value $HOME \"q\""),
                ("EMPTY", ""),
                ("MULTI", "first\nsecond"),
                ("REF", "value-x"),
                ("FROM_ENV", "from-env"),
                ("YAML_STYLE", "colon"),
            ])
        );
    }

    #[test]
    fn later_lines_win_and_errors_name_the_line() {
        assert_eq!(parse_with("A=1\nA=2\n", &[]), pairs(&[("A", "2")]));
        let err = parse("A=1\nB C=2\n", &|_: &str| None).unwrap_err();
        assert_eq!(
            err,
            (2, "unexpected character in variable name \"B C\"".into())
        );
        let err = parse("A=\"open\n", &|_: &str| None).unwrap_err();
        assert_eq!(err, (1, "unterminated quoted value of A".into()));
        let err = parse("A=${B:?needed}\n", &|_: &str| None).unwrap_err();
        assert_eq!(
            err,
            (1, "required variable B is missing a value: needed".into())
        );
    }
}
