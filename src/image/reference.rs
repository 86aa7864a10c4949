//! Docker image references: `[domain/]path[:tag][@digest]`.
//!
//! Parsing and normalisation follow Docker's `distribution/reference` package
//! (`ParseNormalizedNamed` followed by `TagNameOnly`), so the same strings are accepted and
//! rejected as `docker pull` accepts and rejects them:
//!
//! | input | normalised |
//! | --- | --- |
//! | `busybox` | `docker.io/library/busybox:latest` |
//! | `user/app:1.0` | `docker.io/user/app:1.0` |
//! | `localhost:5000/a/b` | `localhost:5000/a/b:latest` |
//! | `busybox@sha256:…` | `docker.io/library/busybox@sha256:…` (no tag added) |
//! | `busybox:1@sha256:…` | both kept |

use std::fmt;
use std::str::FromStr;

use oci_spec::image::Digest;

use crate::{Error, Result};

/// The registry short names are resolved against.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Docker's old name for the Hub's registry.
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The longest name (domain and path) Docker accepts.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// The tag added to a reference that has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// A normalised image reference, e.g. `docker.io/library/busybox:latest`.
///
/// Built with [`FromStr`] (`"busybox".parse()`), which normalises as `docker pull` does:
/// short names get the `docker.io` domain and the `library/` namespace, and a reference
/// with neither tag nor digest gets the tag `latest`. [`Display`](fmt::Display) writes the
/// full form; [`Reference::familiar`] the short form Docker shows (`busybox:latest`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

fn invalid(reference: &str, reason: impl Into<String>) -> Error {
    Error::InvalidReference {
        reference: reference.to_owned(),
        reason: reason.into(),
    }
}

impl Reference {
    /// The registry host, with its port if any (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, domain and path (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            return self.path.clone();
        }
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<Digest> {
        self.digest
            .as_deref()
            .map(|d| Digest::from_str(d).expect("validated when parsed"))
    }

    /// The same repository with another tag and no digest.
    ///
    /// # Errors
    /// [`Error::InvalidReference`] if `tag` is not a valid tag.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !is_tag(tag) {
            return Err(invalid(
                &format!("{}:{tag}", self.name()),
                "invalid tag format",
            ));
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to a digest (the tag is kept).
    pub fn with_digest(&self, digest: &Digest) -> Reference {
        Reference {
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The short form Docker prints: `busybox:latest`, `user/app:1`, `quay.io/a/b:1`.
    pub fn familiar(&self) -> String {
        let mut s = if self.domain == DEFAULT_DOMAIN {
            // as Docker's `familiarizeName`: `library/` goes only before a one-part name
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        };
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// Parses `s` strictly (Docker's `reference.ParseNamed`): `s` must already be in its
    /// full, normalised form (`docker.io/library/busybox`, not `busybox`).
    ///
    /// # Errors
    /// [`Error::InvalidReference`] if `s` is not a valid reference or not in full form.
    pub fn parse_canonical(s: &str) -> Result<Reference> {
        let mut r = normalize(s)?;
        if r.to_string() != s {
            return Err(invalid(s, "repository name must be canonical"));
        }
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;

    /// Parses and normalises as Docker's `ParseNormalizedNamed` + `TagNameOnly`.
    fn from_str(s: &str) -> Result<Self> {
        let mut r = normalize(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }
}

/// Docker's `ParseNormalizedNamed`.
fn normalize(s: &str) -> Result<Reference> {
    {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid(s, "cannot specify 64-byte hexadecimal strings"));
        }
        let (domain, remainder) = split_docker_domain(s);
        let remote_name = remainder.split(':').next().unwrap_or_default();
        if remote_name.to_lowercase() != remote_name {
            return Err(invalid(s, "repository name must be lowercase"));
        }
        parse(s, &format!("{domain}/{remainder}"))
    }
}

impl TryFrom<&str> for Reference {
    type Error = Error;
    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Docker's `splitDockerDomain`: the first component is a domain if it has a `.` or a `:`,
/// is `localhost`, or has an uppercase letter.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i)
            if name[..i].contains(['.', ':'])
                || &name[..i] == "localhost"
                || name[..i].to_lowercase() != name[..i] =>
        {
            (name[..i].to_owned(), name[i + 1..].to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_owned();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_PREFIX}{remainder}");
    }
    (domain, remainder)
}

/// Docker's `reference.Parse` on the normalised string `s`; errors name `input`.
fn parse(input: &str, s: &str) -> Result<Reference> {
    if s.is_empty() {
        return Err(invalid(
            input,
            "repository name must have at least one component",
        ));
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    // A tag is after the last ':' if that comes after the last '/'.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    let format_ok = |name: &str| {
        let (dom, path) = split_name(name);
        dom.is_none_or(is_domain)
            && path.is_some_and(is_path)
            && tag.is_none_or(is_tag)
            && digest.is_none_or(is_digest_syntax)
    };
    if !format_ok(name) {
        if format_ok(&name.to_lowercase()) {
            return Err(invalid(input, "repository name must be lowercase"));
        }
        return Err(invalid(input, "invalid reference format"));
    }
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(invalid(
            input,
            format!("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"),
        ));
    }
    let (domain, path) = split_name(name);
    let digest = match digest {
        Some(d) => Some(
            Digest::from_str(d)
                .ok()
                .filter(|d| d.algorithm().digest_hexlen().is_some())
                .ok_or_else(|| invalid(input, "invalid digest format"))?
                .to_string(),
        ),
        None => None,
    };
    Ok(Reference {
        domain: domain.unwrap_or_default().to_owned(),
        path: path.unwrap_or_default().to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

/// Splits a name as the anchored name regexp does: the first component is the domain when
/// it matches the domain grammar and the rest matches the path grammar.
fn split_name(name: &str) -> (Option<&str>, Option<&str>) {
    if let Some((d, p)) = name.split_once('/') {
        if is_domain(d) && is_path(p) {
            return (Some(d), Some(p));
        }
    }
    (None, Some(name))
}

/// `host[:port]`, host a domain name, an IPv4 address (a domain name too) or `[ipv6]`.
fn is_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return false;
        };
        let v6 = &rest[..end];
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => ("", Some(p)),
            None if after.is_empty() => ("", None),
            None => return false,
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => {
                if h.is_empty() {
                    return false;
                }
                (h, Some(p))
            }
            None => (s, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host.is_empty() && s.starts_with('[')
        || !host.is_empty() && host.split('.').all(is_domain_component)
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(c: &str) -> bool {
    let b = c.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
}

/// `path-component ['/' path-component]*`
fn is_path(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `[a-z0-9]+ (separator [a-z0-9]+)*`, separator `[_.]|__|[-]+`
fn is_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// The reference grammar's digest: `alg[sep alg]*:hex{32,}`, alg `[A-Za-z][A-Za-z0-9]*`.
fn is_digest_syntax(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    alg.split(['+', '.', '-', '_']).all(|c| {
        c.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && c.bytes().all(|x| x.is_ascii_alphanumeric())
    }) && hex.len() >= 32
        && hex.bytes().all(|x| x.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    fn norm(s: &str) -> String {
        s.parse::<Reference>()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .to_string()
    }

    fn err(s: &str) -> String {
        let parsed = s.parse::<Reference>();
        parsed.map_or_else(|e| e.to_string(), |r| panic!("{s:?} parsed as {r}"))
    }

    #[test]
    fn normalises_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox:latest"),
            ("docker.io/busybox", "docker.io/library/busybox:latest"),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox:latest",
            ),
            ("index.docker.io/user/app:v1", "docker.io/user/app:v1"),
            ("user/app", "docker.io/user/app:latest"),
            ("a/b/c", "docker.io/a/b/c:latest"),
            ("localhost/foo", "localhost/foo:latest"),
            ("localhost:5000/foo/bar:tag", "localhost:5000/foo/bar:tag"),
            ("host:5000/a/b:tag", "host:5000/a/b:tag"),
            ("quay.io/coreos/etcd:v3.5.0", "quay.io/coreos/etcd:v3.5.0"),
            ("127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
            ("[::1]:5000/x:1", "[::1]:5000/x:1"),
            ("[fe80::1]/x", "[fe80::1]/x:latest"),
            ("Foo/bar", "Foo/bar:latest"),
            ("foo:5000", "docker.io/library/foo:5000"),
            ("a_b__c/d-e---f", "docker.io/a_b__c/d-e---f:latest"),
            // a first component with a dot is taken for a domain; when it is not a valid
            // domain the whole name is a path with no domain, as Docker's regexp does
            ("a_b.c/d", "a_b.c/d:latest"),
            ("x:Tag_1.0-rc", "docker.io/library/x:Tag_1.0-rc"),
            ("x:_under", "docker.io/library/x:_under"),
        ];
        for (i, o) in cases {
            assert_eq!(norm(i), o, "{i}");
        }
    }

    #[test]
    fn digests_and_tags() {
        let r: Reference = format!("busybox@{D}").parse().unwrap();
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest().unwrap().to_string(), D);
        let r: Reference = format!("busybox:1.36@{D}").parse().unwrap();
        assert_eq!(r.tag(), Some("1.36"));
        assert_eq!(r.to_string(), format!("docker.io/library/busybox:1.36@{D}"));
        assert_eq!(r.familiar(), format!("busybox:1.36@{D}"));
        let r: Reference = format!("localhost:5000/a/b@{D}").parse().unwrap();
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.path(), "a/b");
    }

    #[test]
    fn accessors_and_familiar() {
        let r: Reference = "localhost:5000/a/b:c".parse().unwrap();
        assert_eq!(
            (r.domain(), r.path(), r.tag()),
            ("localhost:5000", "a/b", Some("c"))
        );
        assert_eq!(r.name(), "localhost:5000/a/b");
        assert_eq!(r.familiar(), "localhost:5000/a/b:c");
        let r: Reference = "busybox".parse().unwrap();
        assert_eq!(r.familiar(), "busybox:latest");
        let r: Reference = "user/app:1".parse().unwrap();
        assert_eq!(r.familiar(), "user/app:1");
        assert_eq!(r.with_tag("2").unwrap().to_string(), "docker.io/user/app:2");
        assert!(r.with_tag("-bad").is_err());
    }

    /// Found by `cargo fuzz run reference` (fuzz/): the familiar form of a `library/`
    /// path with more parts dropped `library/` and read back as another repository.
    #[test]
    fn fuzz_regression_familiar_keeps_library_before_a_nested_path() {
        let r: Reference = "docker.io/library/a/b".parse().unwrap();
        assert_eq!(r.familiar(), "library/a/b:latest");
        assert_eq!(r.familiar().parse::<Reference>().unwrap(), r);
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "busybox",
            "a/b:c",
            "localhost:5000/x/y:z",
            &format!("x:y@{D}"),
        ] {
            let r: Reference = s.parse().unwrap();
            let again: Reference = r.to_string().parse().unwrap();
            assert_eq!(r, again);
            assert!(Reference::parse_canonical(&r.to_string()).is_ok());
        }
        assert!(Reference::parse_canonical("busybox").is_err());
        let j = serde_json::to_string(&"busybox".parse::<Reference>().unwrap()).unwrap();
        assert_eq!(j, "\"docker.io/library/busybox:latest\"");
    }

    #[test]
    fn rejects_like_docker() {
        let cases = [
            ("", "invalid reference format"),
            ("UPPER", "must be lowercase"),
            ("docker.io/Upper/x", "must be lowercase"),
            ("localhost:5000/Foo", "must be lowercase"),
            ("busybox:", "invalid"),
            (":tag", "invalid"),
            ("busybox:-tag", "invalid reference format"),
            ("busybox:.tag", "invalid reference format"),
            ("busybox@sha256:abc", "invalid reference format"),
            ("busybox@sha256:", "invalid reference format"),
            ("a//b", "invalid reference format"),
            ("a/", "invalid reference format"),
            ("/a", "invalid reference format"),
            ("-a", "invalid reference format"),
            ("a-", "invalid reference format"),
            ("a..b", "invalid reference format"),
            ("a___b", "invalid reference format"),
            ("a b", "invalid reference format"),
            ("host:port/x", "invalid reference format"),
            ("host:/x", "invalid reference format"),
            ("-host.com/x", "invalid reference format"),
            ("[zz::1]/x", "invalid reference format"),
            ("a@b@c", "invalid reference format"),
            (
                "6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b",
                "64-byte hexadecimal",
            ),
        ];
        for (i, want) in cases {
            let e = err(i);
            assert!(e.contains(want), "{i:?}: {e}");
            assert!(
                e.contains(&format!("{i:?}")),
                "error names the reference: {e}"
            );
        }
        // digest with uppercase hex passes the grammar but not the digest check
        let upper = format!("x@sha256:{}", "A".repeat(64));
        assert!(err(&upper).contains("invalid digest format"));
        // wrong length for the algorithm
        assert!(err(&format!("x@sha256:{}", "a".repeat(63))).contains("invalid digest format"));
        // unknown algorithm
        assert!(err(&format!("x@md5:{}", "a".repeat(32))).contains("invalid digest format"));
    }

    #[test]
    fn length_limits() {
        let long = format!("a/{}", "b".repeat(NAME_TOTAL_LENGTH_MAX - 12));
        assert!(long.parse::<Reference>().is_ok(), "docker.io/ + name fits");
        let too_long = format!("a/{}", "b".repeat(NAME_TOTAL_LENGTH_MAX));
        assert!(err(&too_long).contains("not be more than 255"));
        let tag128 = format!("x:{}", "t".repeat(128));
        assert!(tag128.parse::<Reference>().is_ok());
        let tag129 = format!("x:{}", "t".repeat(129));
        assert!(err(&tag129).contains("invalid reference format"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "@", ":", "/", "[", "[]", "[::1", "a:b:c", "a/b:c:d", "é", "a@", "\0", "a:b@c",
        ] {
            let _ = s.parse::<Reference>();
        }
    }

    /// A fuzz-style sweep over random strings of the grammar's characters: no panics, and
    /// what parses prints back to itself.
    #[test]
    fn random_strings_parse_consistently() {
        let alphabet: Vec<char> = "abcAB09._-:/@[]".chars().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut ok = 0;
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(r) = s.parse::<Reference>() {
                ok += 1;
                let again: Reference = r
                    .to_string()
                    .parse()
                    .unwrap_or_else(|e| panic!("{s:?} -> {r}: {e}"));
                assert_eq!(again, r, "{s:?}");
                assert!(r.name().len() <= NAME_TOTAL_LENGTH_MAX);
                assert!(r.tag().is_some() || r.digest().is_some());
            }
        }
        assert!(
            ok > 100,
            "the sweep exercises the accepting paths too ({ok})"
        );
    }
}
