//! Instruction flags (`--name=value`, BuildKit's `BFlags`) and the values some of them
//! carry: RUN's `--mount`, `--network`, `--security`, HEALTHCHECK's durations.

use std::collections::BTreeMap;
use std::time::Duration;

use super::lex::Word;

/// The type of a flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `--link`, `--link=true|false`.
    Bool,
    /// `--from=x`, once.
    Str,
    /// `--exclude=x`, repeatable.
    Strs,
}

/// The flags an instruction was given, checked against the ones it knows.
#[derive(Debug, Default)]
pub(super) struct Flags {
    bools: BTreeMap<&'static str, bool>,
    strs: BTreeMap<&'static str, Vec<String>>,
}

impl Flags {
    /// Parses `given` (each `--name[=value]`) against `known`, with BuildKit's messages.
    pub(super) fn parse(given: &[String], known: &[(&'static str, Kind)]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        let mut used: Vec<&str> = Vec::new();
        for arg in given {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {arg}"));
            };
            if body.is_empty() {
                break;
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(&(name, kind)) = known.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown flag: {name}"));
            };
            if kind != Kind::Strs && used.contains(&name) {
                return Err(format!("duplicate flag specified: {name}"));
            }
            used.push(name);
            match (kind, value) {
                (Kind::Bool, Some("")) | (Kind::Str | Kind::Strs, None) => {
                    return Err(format!("missing a value on flag: {name}"))
                }
                (Kind::Bool, v) => {
                    let b = match v.map(str::to_ascii_lowercase).as_deref() {
                        None | Some("true") => true,
                        Some("false") => false,
                        Some(_) => {
                            return Err(format!(
                                "expecting boolean value for flag {name}, not: {}",
                                v.unwrap_or_default()
                            ))
                        }
                    };
                    flags.bools.insert(name, b);
                }
                (_, Some(v)) => flags.strs.entry(name).or_default().push(v.to_owned()),
            }
        }
        Ok(flags)
    }

    pub(super) fn bool(&self, name: &str) -> bool {
        self.bools.get(name).copied().unwrap_or(false)
    }

    pub(super) fn string(&self, name: &str) -> Option<&str> {
        self.strs
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub(super) fn strings(&self, name: &str) -> &[String] {
        self.strs.get(name).map_or(&[], Vec::as_slice)
    }

    pub(super) fn word(&self, name: &str, escape: char) -> Option<Word> {
        self.string(name).map(|s| Word::new(s, escape))
    }
}

/// RUN `--network`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NetworkMode {
    /// `default`: the build's network.
    Default,
    /// `none`: loopback only.
    None,
    /// `host`: the host's network.
    Host,
}

impl NetworkMode {
    pub(super) fn parse(s: &str) -> Result<NetworkMode, String> {
        match s {
            "default" => Ok(NetworkMode::Default),
            "none" => Ok(NetworkMode::None),
            "host" => Ok(NetworkMode::Host),
            _ => Err(format!("unsupported network mode {s:?}")),
        }
    }
}

/// RUN `--security`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Security {
    /// `sandbox`: the default.
    Sandbox,
    /// `insecure`: a privileged container (an entitlement the build must allow).
    Insecure,
}

impl Security {
    pub(super) fn parse(s: &str) -> Result<Security, String> {
        match s {
            "sandbox" => Ok(Security::Sandbox),
            "insecure" => Ok(Security::Insecure),
            _ => Err(format!("unsupported security mode {s:?}")),
        }
    }
}

/// The type of a RUN `--mount`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MountType {
    /// A directory of the context or of another stage or image (`from`), read-only by
    /// default.
    Bind,
    /// A persistent cache directory, shared between builds.
    Cache,
    /// A fresh tmpfs.
    Tmpfs,
    /// A secret given to the build, as a file (or an env variable).
    Secret,
    /// The SSH agent socket.
    Ssh,
}

impl MountType {
    fn name(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Cache => "cache",
            MountType::Tmpfs => "tmpfs",
            MountType::Secret => "secret",
            MountType::Ssh => "ssh",
        }
    }
}

/// How concurrent builds share a cache mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sharing {
    /// Everyone uses it at once (the default).
    Shared,
    /// A second user gets a fresh directory.
    Private,
    /// A second user waits.
    Locked,
}

/// A RUN `--mount=...`, its keys parsed. Path-like values (source, target, from, id, env)
/// are words the builder expands with the RUN's scope; the numbers must be literal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mount {
    /// `type=` (bind when not given).
    pub(crate) kind: MountType,
    /// `target=`, `dst=`, `destination=`.
    pub(crate) target: Option<Word>,
    /// `source=`, `src=`.
    pub(crate) source: Option<Word>,
    /// `from=`: a stage or image to take the source from.
    pub(crate) from: Option<Word>,
    /// `id=`: the cache or secret id.
    pub(crate) id: Option<Word>,
    /// `env=`: a secret as an environment variable.
    pub(crate) env: Option<Word>,
    /// `sharing=` of a cache (`Shared` when not given); `None` for other types.
    pub(crate) sharing: Option<Sharing>,
    /// `mode=` (octal) of a cache, secret or ssh mount.
    pub(crate) mode: Option<u32>,
    /// `uid=` of a cache, secret or ssh mount.
    pub(crate) uid: Option<u32>,
    /// `gid=` of a cache, secret or ssh mount.
    pub(crate) gid: Option<u32>,
    /// `readonly`/`ro`/`rw`; by default bind, secret and ssh mounts are read-only and
    /// cache and tmpfs ones writable.
    pub(crate) read_only: bool,
    /// `required` of a secret or ssh mount: fail when it is not given.
    pub(crate) required: bool,
    /// `size=` of a tmpfs, in bytes.
    pub(crate) size: Option<u64>,
}

impl Mount {
    /// Parses a `--mount` value (CSV of `key=value` and bare flags), as BuildKit's
    /// `parseMount` does.
    pub(super) fn parse(spec: &str, escape: char) -> Result<Mount, String> {
        let fields = csv_record(spec).map_err(|e| format!("failed to parse csv mounts: {e}"))?;
        let mut m = Mount {
            kind: MountType::Bind,
            target: None,
            source: None,
            from: None,
            id: None,
            env: None,
            sharing: None,
            mode: None,
            uid: None,
            gid: None,
            read_only: false,
            required: false,
            size: None,
        };
        let mut ro_auto = true;
        let word = |v: &str| Some(Word::new(v, escape));
        let parse_bool =
            |key: &str, v: &str| go_bool(v).ok_or_else(|| format!("invalid value for {key}: {v}"));
        let number = |key: &str, v: &str, radix: u32| {
            u32::from_str_radix(v, radix).map_err(|_| format!("invalid value {v} for {key}"))
        };
        for field in &fields {
            let Some((key, value)) = field.split_once('=') else {
                match field.to_ascii_lowercase().as_str() {
                    "readonly" | "ro" => {
                        m.read_only = true;
                        ro_auto = false;
                    }
                    "readwrite" | "rw" => {
                        m.read_only = false;
                        ro_auto = false;
                    }
                    "required" if matches!(m.kind, MountType::Secret | MountType::Ssh) => {
                        m.required = true;
                    }
                    "required" => {
                        return Err(format!(
                            "unexpected key 'required' for mount type '{}'",
                            m.kind.name()
                        ))
                    }
                    _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
                }
                continue;
            };
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "type" => {
                    m.kind = match value.to_ascii_lowercase().as_str() {
                        "bind" => MountType::Bind,
                        "cache" => MountType::Cache,
                        "tmpfs" => MountType::Tmpfs,
                        "secret" => MountType::Secret,
                        "ssh" => MountType::Ssh,
                        _ => return Err(format!("unsupported mount type {value:?}")),
                    }
                }
                "source" | "src" => m.source = word(value),
                "target" | "dst" | "destination" => m.target = word(value),
                "readonly" | "ro" => {
                    m.read_only = parse_bool(&key, value)?;
                    ro_auto = false;
                }
                "readwrite" | "rw" => {
                    m.read_only = !parse_bool(&key, value)?;
                    ro_auto = false;
                }
                "required" => {
                    if !matches!(m.kind, MountType::Secret | MountType::Ssh) {
                        return Err(format!(
                            "unexpected key 'required' for mount type '{}'",
                            m.kind.name()
                        ));
                    }
                    m.required = parse_bool(&key, value)?;
                }
                "id" => m.id = word(value),
                "env" => m.env = word(value),
                "from" => m.from = word(value),
                "sharing" => {
                    if m.kind != MountType::Cache {
                        return Err(format!(
                            "invalid cache sharing set for {} mount",
                            m.kind.name()
                        ));
                    }
                    m.sharing = Some(match value.to_ascii_lowercase().as_str() {
                        "shared" => Sharing::Shared,
                        "private" => Sharing::Private,
                        "locked" => Sharing::Locked,
                        _ => return Err(format!("unsupported sharing value {value:?}")),
                    });
                }
                "mode" => m.mode = Some(number("mode", value, 8)?),
                "uid" => m.uid = Some(number("uid", value, 10)?),
                "gid" => m.gid = Some(number("gid", value, 10)?),
                "size" if m.kind == MountType::Tmpfs => {
                    m.size = Some(
                        crate::store::ram_in_bytes(value)
                            .ok_or_else(|| format!("invalid value for size: {value}"))?,
                    );
                }
                _ => return Err(format!("unexpected key '{key}' in '{field}'")),
            }
        }
        m.finish(ro_auto)
    }

    /// The checks and defaults that need every field: what only some types take, read-only
    /// by default except cache and tmpfs (unless `ro`/`rw` was given), a secret's sources,
    /// a target where one is needed.
    fn finish(mut self, ro_auto: bool) -> Result<Mount, String> {
        let m = &mut self;
        if !matches!(
            m.kind,
            MountType::Secret | MountType::Ssh | MountType::Cache
        ) {
            for (key, set) in [
                ("mode", m.mode.is_some()),
                ("uid", m.uid.is_some()),
                ("gid", m.gid.is_some()),
            ] {
                if set {
                    return Err(format!(
                        "{key} not allowed for {:?} type mounts",
                        m.kind.name()
                    ));
                }
            }
        }
        if ro_auto {
            m.read_only = !matches!(m.kind, MountType::Cache | MountType::Tmpfs);
        }
        if m.sharing.is_some() && m.kind != MountType::Cache {
            return Err(format!(
                "invalid cache sharing set for {} mount",
                m.kind.name()
            ));
        }
        match m.kind {
            MountType::Secret => {
                if m.from.is_some() {
                    return Err("secret mount should not have a from".into());
                }
                if m.source.is_none() && m.target.is_none() && m.id.is_none() && m.env.is_none() {
                    return Err("invalid secret mount. one of source, target required".into());
                }
                if m.source.is_some() && m.id.is_some() {
                    return Err("both source and id can't be set".into());
                }
            }
            MountType::Ssh => {}
            MountType::Cache => {
                m.sharing.get_or_insert(Sharing::Shared);
            }
            MountType::Bind | MountType::Tmpfs => {}
        }
        if m.target.is_none() && !matches!(m.kind, MountType::Secret | MountType::Ssh) {
            return Err(format!("{} mount requires a target", m.kind.name()));
        }
        Ok(self)
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// One record of Go's `encoding/csv` (comma-separated, `"` quoting with `""` inside).
fn csv_record(s: &str) -> Result<Vec<String>, &'static str> {
    if s.is_empty() {
        return Err("EOF");
    }
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field"),
                    Some('"') => match chars.peek() {
                        Some('"') => {
                            chars.next();
                            field.push('"');
                        }
                        None | Some(',') => break,
                        Some(_) => return Err("extraneous or missing \" in quoted-field"),
                    },
                    Some(c) => field.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '"' {
                    return Err("bare \" in non-quoted-field");
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field);
        match chars.next() {
            Some(',') => continue,
            _ => return Ok(fields),
        }
    }
}

/// A HEALTHCHECK duration flag: unset or zero is `None`; otherwise at least 1ms.
pub(super) fn interval(name: &str, value: Option<&str>) -> Result<Option<Duration>, String> {
    let Some(v) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ns = crate::godur::parse(v)?;
    if ns == 0 {
        return Ok(None);
    }
    if ns < 1_000_000 {
        return Err(format!("Interval {name:?} cannot be less than 1ms"));
    }
    Ok(Some(Duration::from_nanos(ns as u64)))
}
