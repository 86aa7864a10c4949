//! Variable interpolation, as Compose does it on the YAML tree before anything is typed:
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
//! `${VAR?error}`, `${VAR:+alt}`, `${VAR+alt}`, defaults and alternatives that are
//! themselves interpolated (`${A:-${B:-x}}`), and `$$` for a literal `$`. A variable
//! that is not set becomes the empty string and is reported, as Compose warns about it.

use serde_yaml_ng::Value;

/// Where the values of variables come from.
pub(crate) trait Lookup {
    /// The value of `name`, if it is set.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Interpolates one string. Variables that were used but not set are pushed to
/// `missing`; the error is the reason (`required variable X is missing a value: msg`).
pub(crate) fn interpolate(
    s: &str,
    vars: &dyn Lookup,
    missing: &mut Vec<String>,
) -> Result<String, String> {
    if !s.contains('$') {
        return Ok(s.to_owned());
    }
    let invalid = || {
        format!("invalid interpolation format {s:?}: you may need to escape any $ with another $")
    };
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(a) = after.strip_prefix('$') {
            out.push('$');
            rest = a;
        } else if let Some(a) = after.strip_prefix('{') {
            let end = closing_brace(a).ok_or_else(invalid)?;
            out.push_str(&braced(&a[..end], vars, missing).map_err(|e| e.unwrap_or_else(invalid))?);
            rest = &a[end + 1..];
        } else if after.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic()) {
            let end = after
                .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
                .unwrap_or(after.len());
            out.push_str(&value(&after[..end], vars, missing));
            rest = &after[end..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${` whose content starts `s` (nested `${…}` skipped).
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' if b.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if b.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// A variable's value, or empty (and reported) when it is not set.
fn value(name: &str, vars: &dyn Lookup, missing: &mut Vec<String>) -> String {
    vars.get(name).unwrap_or_else(|| {
        if !missing.iter().any(|m| m == name) {
            missing.push(name.to_owned());
        }
        String::new()
    })
}

/// The content of `${…}`: a name and an optional operator. `Err(None)` is a malformed
/// expression (the caller words it), `Err(Some(reason))` a `?` that failed.
fn braced(
    inner: &str,
    vars: &dyn Lookup,
    missing: &mut Vec<String>,
) -> Result<String, Option<String>> {
    let end = inner
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(None);
    }
    let val = vars.get(name);
    let set = val.is_some();
    let non_empty = val.as_deref().is_some_and(|v| !v.is_empty());
    let nested = |t: &str, missing: &mut Vec<String>| interpolate(t, vars, missing).map_err(Some);
    let required = |msg: &str| {
        Err(Some(if msg.is_empty() {
            format!("required variable {name} is missing a value")
        } else {
            format!("required variable {name} is missing a value: {msg}")
        }))
    };
    if op.is_empty() {
        return Ok(value(name, vars, missing));
    }
    let keep = || val.clone().unwrap_or_default();
    // `:-`, `:?`, `:+` test for a non-empty value; `-`, `?`, `+` for a set one.
    let (given, op) = match op.strip_prefix(':') {
        Some(op) => (non_empty, op),
        None => (set, op),
    };
    let mut chars = op.chars();
    let (kind, arg) = (chars.next(), chars.as_str());
    match (kind, given) {
        (Some('-' | '?'), true) => Ok(keep()),
        (Some('-'), false) | (Some('+'), true) => nested(arg, missing),
        (Some('?'), false) => required(arg),
        (Some('+'), false) => Ok(String::new()),
        _ => Err(None),
    }
}

/// Interpolates every string value of a YAML tree (keys are left alone). The error is
/// the path of the value (`services.web.image`) and the reason.
pub(crate) fn interpolate_tree(
    v: &mut Value,
    path: &mut String,
    vars: &dyn Lookup,
    missing: &mut Vec<String>,
) -> Result<(), (String, String)> {
    match v {
        Value::String(s) => {
            *s = interpolate(s, vars, missing).map_err(|e| (path.clone(), e))?;
        }
        Value::Sequence(seq) => {
            for (i, item) in seq.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                interpolate_tree(item, path, vars, missing)?;
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key_string(k));
                interpolate_tree(item, path, vars, missing)?;
                path.truncate(len);
            }
        }
        Value::Tagged(t) => interpolate_tree(&mut t.value, path, vars, missing)?,
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

/// A mapping key as a path segment.
pub(crate) fn key_string(k: &Value) -> String {
    match k {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn vars() -> BTreeMap<String, String> {
        [("SET", "v"), ("EMPTY", ""), ("TAG", "16"), ("B", "bee")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    fn run(s: &str) -> (Result<String, String>, Vec<String>) {
        let vars = vars();
        let lookup = |n: &str| vars.get(n).cloned();
        let mut missing = Vec::new();
        (interpolate(s, &lookup, &mut missing), missing)
    }

    #[test]
    fn every_form() {
        let cases = [
            ("postgres:$TAG", "postgres:16"),
            ("postgres:${TAG}", "postgres:16"),
            ("a${SET}b", "avb"),
            ("${UNSET:-dflt}", "dflt"),
            ("${EMPTY:-dflt}", "dflt"),
            ("${SET:-dflt}", "v"),
            ("${UNSET-dflt}", "dflt"),
            ("${EMPTY-dflt}", ""),
            ("${SET:?boom}", "v"),
            ("${EMPTY?boom}", ""),
            ("${SET:+alt}", "alt"),
            ("${EMPTY:+alt}", ""),
            ("${UNSET:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET+alt}", ""),
            ("${UNSET:-${B}}", "bee"),
            ("${UNSET:-${ALSO_UNSET:-deep}}", "deep"),
            ("${UNSET:-x-$TAG-y}", "x-16-y"),
            ("$$SET", "$SET"),
            ("$${SET}", "${SET}"),
            ("cost: 5$", "cost: 5$"),
            ("$1 and $ alone", "$1 and $ alone"),
            ("${UNSET:-a}}", "a}"),
            ("no vars", "no vars"),
        ];
        for (input, want) in cases {
            let (got, missing) = run(input);
            assert_eq!(got.as_deref(), Ok(want), "{input}");
            assert!(missing.is_empty(), "{input}: {missing:?}");
        }
    }

    #[test]
    fn unset_variables_are_empty_and_reported_once() {
        let (got, missing) = run("$NOPE-${NOPE}-${OTHER}");
        assert_eq!(got.unwrap(), "--");
        assert_eq!(missing, ["NOPE", "OTHER"]);
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        assert_eq!(
            run("${UNSET:?set UNSET in .env}").0.unwrap_err(),
            "required variable UNSET is missing a value: set UNSET in .env"
        );
        assert_eq!(
            run("${EMPTY:?}").0.unwrap_err(),
            "required variable EMPTY is missing a value"
        );
        assert_eq!(
            run("${UNSET?no}").0.unwrap_err(),
            "required variable UNSET is missing a value: no"
        );
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for bad in ["${", "${SET", "${}", "${1A}", "${SET!x}", "${A B}"] {
            let err = run(bad).0.unwrap_err();
            assert!(
                err.starts_with("invalid interpolation format"),
                "{bad}: {err}"
            );
        }
    }
}
