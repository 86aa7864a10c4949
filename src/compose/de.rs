//! Deserialisation helpers for the compose model: the short forms Compose accepts beside
//! the long ones (a string or a list, a list of `KEY=VALUE` or a mapping, `"80:80"` or a
//! port mapping), and scalars that interpolation left as strings (`replicas: "${N}"`
//! reads `"3"`, which Compose casts to the number the schema asks for).
//!
//! Each helper is a `deserialize_with` of a model field; errors are serde's custom errors,
//! so `serde_path_to_error` puts the field's path in front of them.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

/// A scalar as Compose reads it into a string field: strings as they are, numbers and
/// booleans in their YAML spelling.
#[derive(Debug)]
pub(super) struct Scalar(pub(super) Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An optional string field that also takes numbers and booleans (`user: 1000`).
pub(super) fn opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Scalar::deserialize(d)?.0)
}

/// A number field that also takes the number as a string (after interpolation).
pub(super) fn opt_num<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
{
    match Scalar::deserialize(d)?.0 {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| de::Error::custom(format!("invalid number {s:?}"))),
    }
}

/// A boolean field that also takes `"true"`/`"false"` (after interpolation).
pub(super) fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Scalar::deserialize(d)?.0.as_deref() {
        None => Ok(None),
        Some("true" | "True" | "TRUE" | "yes" | "on") => Ok(Some(true)),
        Some("false" | "False" | "FALSE" | "no" | "off") => Ok(Some(false)),
        Some(s) => Err(de::Error::custom(format!("invalid boolean {s:?}"))),
    }
}

/// A boolean field that is false when absent.
pub(super) fn bool_field<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(opt_bool(d)?.unwrap_or(false))
}

/// A size in bytes: a number or go-units' `RAMInBytes` form (`512m`, `1.5g`).
pub(super) fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Scalar::deserialize(d)?.0 {
        None => Ok(None),
        Some(s) => crate::store::ram_in_bytes(s.trim())
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("invalid size {s:?}"))),
    }
}

/// A duration in Go's `time.ParseDuration` form, as Compose writes them (`1m30s`).
pub(super) fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Scalar::deserialize(d)?.0 {
        None => Ok(None),
        Some(s) => parse_duration(&s).map(Some).map_err(de::Error::custom),
    }
}

/// Go's `time.ParseDuration` (`1m30s`, `1.5s`, `100ms`; `0` alone is zero), not negative.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}");
    let ns = crate::godur::parse(s.trim()).map_err(|_| bad())?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| bad())
}

pub(crate) use crate::godur::format as format_duration;

/// Splits a command written as a string into words as a POSIX shell does (quotes and
/// backslashes; no expansion), as Compose does with `command: echo "a b"`.
pub(crate) fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated quote in {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(format!("unterminated quote in {s:?}")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated quote in {s:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') | None => {}
                    Some(c) => cur.push(c),
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// A list of strings that may be written as one string (`dns: 8.8.8.8`).
pub(super) fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Scalar(s)) = seq.next_element()? {
                out.extend(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A string, or a list of strings (`None` for null).
fn one_or_many<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Result<String, Vec<String>>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Result<String, Vec<String>>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Ok(v.to_owned())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Ok(v.to_string())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Ok(v.to_string())))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Scalar(s)) = seq.next_element()? {
                out.push(s.unwrap_or_default());
            }
            Ok(Some(Err(out)))
        }
    }
    d.deserialize_any(V)
}

/// `command`/`entrypoint`: a list, or a string split as a shell splits it.
pub(super) fn command<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match one_or_many(d)? {
        None => Ok(None),
        Some(Ok(s)) => shell_split(&s).map(Some).map_err(de::Error::custom),
        Some(Err(list)) => Ok(Some(list)),
    }
}

/// `healthcheck.test`: a list (`["CMD", "curl", …]`), or a string run by a shell
/// (`["CMD-SHELL", string]`, as Compose normalises it).
pub(super) fn health_test<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(one_or_many(d)?.map(|v| match v {
        Ok(shell) => vec!["CMD-SHELL".to_owned(), shell],
        Err(list) => list,
    }))
}

/// A mapping written as a list of `KEY<sep>VALUE` strings or as a mapping: `environment`,
/// `build.args` (a `KEY` alone has no value: `None`, resolved later from the environment).
fn kv_map<'de, D: Deserializer<'de>>(
    d: D,
    seps: &'static [char],
) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    d.deserialize_any(ListOrMap {
        expecting: "a mapping or a list of KEY=VALUE strings",
        item: |Scalar(s): Scalar| {
            let s = s.unwrap_or_default();
            match s.split_once(seps) {
                Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                None => (s, None),
            }
        },
        value: |Scalar(v): Scalar| v,
        marker: PhantomData,
    })
}

/// A mapping written as a mapping or as a list (null: empty): each list item becomes an
/// entry through `item`, each mapping value an entry's value through `value`.
struct ListOrMap<I, M, T, F> {
    expecting: &'static str,
    item: F,
    value: fn(M) -> T,
    marker: PhantomData<fn(I) -> T>,
}

impl<'de, I, M, T, F> Visitor<'de> for ListOrMap<I, M, T, F>
where
    I: Deserialize<'de>,
    M: Deserialize<'de>,
    F: Fn(I) -> (String, T),
{
    type Value = BTreeMap<String, T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(BTreeMap::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(item) = seq.next_element::<I>()? {
            let (k, v) = (self.item)(item);
            out.insert(k, v);
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, M>()? {
            out.insert(k, (self.value)(v));
        }
        Ok(out)
    }
}

/// `environment`, `build.args`: `KEY=VALUE` list or mapping; `KEY` alone has no value.
pub(super) fn env_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Option<String>>, D::Error> {
    kv_map(d, &['='])
}

/// `labels`, `sysctls`, `driver_opts`: `KEY=VALUE` list or mapping; `KEY` alone is empty.
pub(super) fn label_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(kv_map(d, &['='])?
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `extra_hosts`: `host:ip` or `host=ip` strings (`=` first, as Compose reads them, so
/// that an IPv6 address may follow `:`), or a mapping.
pub(super) fn hosts_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = kv_map(d, &['='])?;
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        match v {
            Some(v) => out.insert(k, v),
            None => match k.split_once(':') {
                Some((h, ip)) => out.insert(h.to_owned(), ip.to_owned()),
                None => {
                    return Err(de::Error::custom(format!(
                        "invalid extra host {k:?}: expected host:ip or host=ip"
                    )))
                }
            },
        };
    }
    Ok(out)
}

/// Items that Compose accepts as a string (or number) or as a mapping: the short form is
/// parsed by [`Short::parse_short`], the long form by the item's derived `Deserialize`.
pub(super) trait Short: DeserializeOwned {
    /// What the short form looks like, for type errors.
    const EXPECTING: &'static str;
    /// The item(s) a short form stands for (a port range stands for several ports).
    fn parse_short(s: &str) -> Result<Vec<Self>, String>;
}

/// Visits one item in short or long form.
struct ShortOrLong<T>(PhantomData<T>);

impl<'de, T: Short> Visitor<'de> for ShortOrLong<T> {
    type Value = Vec<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        T::parse_short(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Vec<T>, E> {
        T::parse_short(&v.to_string()).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Vec<T>, E> {
        T::parse_short(&v.to_string()).map_err(E::custom)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| vec![t])
    }
}

impl<'de, T: Short> de::DeserializeSeed<'de> for ShortOrLong<T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_any(self)
    }
}

/// A list whose items are short or long forms (`ports`, `volumes`, `secrets`, `env_file`);
/// a single string stands for a list of one where Compose allows it (`env_file: .env`).
pub(super) fn short_list<'de, D: Deserializer<'de>, T: Short>(d: D) -> Result<Vec<T>, D::Error> {
    struct V<T>(PhantomData<T>);
    impl<'de, T: Short> Visitor<'de> for V<T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of {}", T::EXPECTING)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            T::parse_short(v).map_err(E::custom)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(items) = seq.next_element_seed(ShortOrLong::<T>(PhantomData))? {
                out.extend(items);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V(PhantomData))
}

/// One item in short or long form (`build: ./dir`).
pub(super) fn short_one<'de, D: Deserializer<'de>, T: Short>(d: D) -> Result<Option<T>, D::Error> {
    let mut items = d.deserialize_any(ShortOrLong::<T>(PhantomData))?;
    if items.len() > 1 {
        return Err(de::Error::custom(format!("expected one {}", T::EXPECTING)));
    }
    Ok(items.pop())
}

/// A mapping whose values may be null (`volumes: {data: }`), or a list of its keys
/// (a service's `networks: [front]`, `depends_on: [db]`).
pub(super) fn keys_or_map<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> Result<BTreeMap<String, T>, D::Error> {
    d.deserialize_any(ListOrMap {
        expecting: "a mapping or a list of names",
        item: |name: String| (name, T::default()),
        value: Option::<T>::unwrap_or_default,
        marker: PhantomData,
    })
}

/// A mapping whose values may be null (`volumes: {data: }` at the top level).
pub(super) fn nullable_map<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(
    d: D,
) -> Result<BTreeMap<String, T>, D::Error> {
    Ok(Option::<BTreeMap<String, Option<T>>>::deserialize(d)?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// A port number (`target`), also as a string.
pub(super) fn port_number<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    opt_num(d)?.ok_or_else(|| de::Error::custom("missing port number"))
}

/// A permission mode (`mode: 0440`): octal, as Compose reads it. YAML 1.2 reads `0440`
/// as the decimal 440, so a number whose digits are all octal digits is taken as octal
/// (others, `288`, as decimal); strings may be `0440`, `0o440` or `440`.
pub(super) fn opt_mode<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(s) = Scalar::deserialize(d)?.0 else {
        return Ok(None);
    };
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    u32::from_str_radix(digits, 8)
        .or_else(|e| {
            if t.starts_with('0') {
                Err(e)
            } else {
                t.parse()
            }
        })
        .map(Some)
        .map_err(|_| de::Error::custom(format!("invalid mode {s:?}: expected octal digits")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_reads_and_writes_them() {
        let ms = Duration::from_millis;
        for (s, d, back) in [
            ("1m30s", ms(90_000), "1m30s"),
            ("1h", ms(3_600_000), "1h0m0s"),
            ("1.5s", ms(1_500), "1.5s"),
            ("500ms", ms(500), "500ms"),
            ("2h45m10s", ms(9_910_000), "2h45m10s"),
            ("10us", Duration::from_micros(10), "10µs"),
            ("0", Duration::ZERO, "0s"),
        ] {
            assert_eq!(parse_duration(s), Ok(d), "{s}");
            assert_eq!(format_duration(d), back, "{s}");
        }
        for bad in ["", "10", "1x", "-1s", "s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands_split_as_a_shell_splits_them() {
        let cases: &[(&str, &[&str])] = &[
            ("echo hi", &["echo", "hi"]),
            (
                "sh -c 'echo $HOME; exit 1'",
                &["sh", "-c", "echo $HOME; exit 1"],
            ),
            (r#"a "b c" d\ e"#, &["a", "b c", "d e"]),
            (r#""q\"uote""#, &["q\"uote"]),
            ("  spaced   out  ", &["spaced", "out"]),
            ("''", &[""]),
        ];
        for (s, want) in cases {
            assert_eq!(shell_split(s).unwrap(), *want, "{s}");
        }
        assert!(shell_split("echo 'open").is_err());
    }
}
