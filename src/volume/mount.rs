//! Mount specs: what a container is given at a path (a named volume, a host directory, a
//! tmpfs), built in code or parsed from Docker's command-line syntaxes, and turned into the
//! runtime spec's mounts exactly as Docker hands them to runc.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use super::{check_name, VolumeStore};
use crate::{Error, Result};

/// Mount propagation, as `-v …:rshared` or `bind-propagation=rshared`. Docker's default,
/// and ours, is `rprivate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// `private`
    Private,
    /// `rprivate` (the default)
    #[default]
    Rprivate,
    /// `shared`
    Shared,
    /// `rshared`
    Rshared,
    /// `slave`
    Slave,
    /// `rslave`
    Rslave,
}

impl Propagation {
    const ALL: [Propagation; 6] = [
        Propagation::Private,
        Propagation::Rprivate,
        Propagation::Shared,
        Propagation::Rshared,
        Propagation::Slave,
        Propagation::Rslave,
    ];

    /// The option's name in the runtime spec (`rshared`).
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Rprivate => "rprivate",
            Propagation::Shared => "shared",
            Propagation::Rshared => "rshared",
            Propagation::Slave => "slave",
            Propagation::Rslave => "rslave",
        }
    }
}

impl FromStr for Propagation {
    type Err = Error;
    /// The propagation [`as_str`](Propagation::as_str) names.
    fn from_str(s: &str) -> Result<Self> {
        let known = Propagation::ALL.into_iter().find(|p| p.as_str() == s);
        known.ok_or_else(|| Error::InvalidMount {
            spec: s.into(),
            reason: "unknown propagation (private, rprivate, shared, rshared, slave, rslave)"
                .into(),
        })
    }
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a [`Mount`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountType {
    /// A host path.
    Bind,
    /// A named (or anonymous) volume.
    Volume,
    /// A tmpfs.
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Bind {
        source: PathBuf,
        /// Create a missing source directory (`-v`), rather than refuse it (`--mount`).
        create: bool,
    },
    Volume {
        /// `None`: anonymous.
        name: Option<String>,
        no_copy: bool,
        labels: Vec<(String, String)>,
    },
    Tmpfs {
        exec: bool,
        /// Further options passed to the kernel (`uid=…`, `nr_inodes=…`).
        extra: Vec<String>,
    },
}

/// What a container gets at one path: a named volume, a host directory (bind) or a tmpfs.
///
/// Built with [`Mount::volume`], [`Mount::bind`], [`Mount::tmpfs`] and adjusted with the
/// consuming setters (`.read_only()`, `.size(..)`, …), which never fail: the checks happen
/// in [`to_oci`](Mount::to_oci). Docker's flags parse into one with
/// [`from_volume_flag`](Mount::from_volume_flag) (`-v`),
/// [`from_tmpfs_flag`](Mount::from_tmpfs_flag) (`--tmpfs`) and
/// [`from_mount_flag`](Mount::from_mount_flag) (`--mount`); [`FromStr`] takes `-v` and
/// `--mount` syntax, telling them apart by the `key=` of the latter.
///
/// ```
/// use cargohold::{Mount, Propagation};
/// let m = Mount::bind("/srv/site", "/www").read_only().propagation(Propagation::Rslave);
/// let t = Mount::tmpfs("/run").size(64 << 20).mode(0o755);
/// let v: Mount = "data:/var/lib/data:ro".parse()?;
/// # Ok::<(), cargohold::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    kind: Kind,
    destination: PathBuf,
    read_only: bool,
    propagation: Option<Propagation>,
    size: Option<u64>,
    mode: Option<u32>,
}

impl Mount {
    fn new(kind: Kind, destination: PathBuf) -> Mount {
        Mount {
            kind,
            destination,
            read_only: false,
            propagation: None,
            size: None,
            mode: None,
        }
    }

    /// The host path `source` at `destination`. A source that does not exist is an error
    /// when the mount is converted (as `--mount type=bind`), unless
    /// [`create_source`](Mount::create_source) is set (as `-v`).
    pub fn bind(source: impl AsRef<Path>, destination: impl AsRef<Path>) -> Mount {
        Mount::new(
            Kind::Bind {
                source: source.as_ref().to_owned(),
                create: false,
            },
            destination.as_ref().to_owned(),
        )
    }

    /// The named volume `name` at `destination`; it is created on first use.
    pub fn volume(name: impl Into<String>, destination: impl AsRef<Path>) -> Mount {
        Mount::new(
            Kind::Volume {
                name: Some(name.into()),
                no_copy: false,
                labels: Vec::new(),
            },
            destination.as_ref().to_owned(),
        )
    }

    /// A fresh anonymous volume at `destination` (`-v /path`, or an image's `Volumes`).
    pub fn anonymous(destination: impl AsRef<Path>) -> Mount {
        Mount::new(
            Kind::Volume {
                name: None,
                no_copy: false,
                labels: Vec::new(),
            },
            destination.as_ref().to_owned(),
        )
    }

    /// A tmpfs at `destination`, mounted `noexec,nosuid,nodev` as Docker's `--tmpfs`, with
    /// the kernel's default size (half of RAM) and mode (`1777`) unless set.
    pub fn tmpfs(destination: impl AsRef<Path>) -> Mount {
        Mount::new(
            Kind::Tmpfs {
                exec: false,
                extra: Vec::new(),
            },
            destination.as_ref().to_owned(),
        )
    }

    /// Mounts it read-only.
    pub fn read_only(mut self) -> Mount {
        self.read_only = true;
        self
    }

    option_setters! { mut self;
        /// The propagation of a bind mount (default `rprivate`).
        propagation: Propagation,
        /// The size limit of a tmpfs, in bytes.
        size: u64,
        /// The mode of a tmpfs's root directory (`0o1777`).
        mode: u32,
    }

    /// Lets a tmpfs run programs (Docker's `exec` tmpfs option; the default is `noexec`).
    pub fn exec(mut self) -> Mount {
        if let Kind::Tmpfs { exec, .. } = &mut self.kind {
            *exec = true;
        }
        self
    }

    /// Never fills the volume from the image's content (`-v name:/path:nocopy`).
    pub fn no_copy(mut self) -> Mount {
        if let Kind::Volume { no_copy, .. } = &mut self.kind {
            *no_copy = true;
        }
        self
    }

    /// Creates a bind source directory that does not exist, as `docker run -v` does.
    pub fn create_source(mut self) -> Mount {
        if let Kind::Bind { create, .. } = &mut self.kind {
            *create = true;
        }
        self
    }

    /// The kind of mount.
    pub fn mount_type(&self) -> MountType {
        match self.kind {
            Kind::Bind { .. } => MountType::Bind,
            Kind::Volume { .. } => MountType::Volume,
            Kind::Tmpfs { .. } => MountType::Tmpfs,
        }
    }

    /// The path inside the container.
    pub fn destination(&self) -> &Path {
        &self.destination
    }

    /// The host path of a bind mount.
    pub fn source(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Bind { source, .. } => Some(source),
            _ => None,
        }
    }

    /// The name of a named volume's mount (`None` for other mounts and anonymous volumes).
    pub fn volume_name(&self) -> Option<&str> {
        match &self.kind {
            Kind::Volume { name, .. } => name.as_deref(),
            _ => None,
        }
    }

    /// Whether it is mounted read-only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Whether a volume mount skips filling from the image.
    pub fn is_no_copy(&self) -> bool {
        matches!(self.kind, Kind::Volume { no_copy: true, .. })
    }

    /// A tmpfs's size limit, in bytes.
    pub fn tmpfs_size(&self) -> Option<u64> {
        self.size
    }

    /// A tmpfs's mode.
    pub fn tmpfs_mode(&self) -> Option<u32> {
        self.mode
    }

    pub(super) fn volume_labels(&self) -> &[(String, String)] {
        match &self.kind {
            Kind::Volume { labels, .. } => labels,
            _ => &[],
        }
    }

    fn invalid(&self, reason: impl Into<String>) -> Error {
        Error::InvalidMount {
            spec: self.destination.display().to_string(),
            reason: reason.into(),
        }
    }

    /// Checks what the setters could not.
    pub(super) fn validate(&self) -> Result<()> {
        check_destination(&self.destination).map_err(|r| self.invalid(r))?;
        let tmpfs = matches!(self.kind, Kind::Tmpfs { .. });
        if !tmpfs && (self.size.is_some() || self.mode.is_some()) {
            return Err(self.invalid("size and mode apply to tmpfs mounts only"));
        }
        if !matches!(self.kind, Kind::Bind { .. }) && self.propagation.is_some() {
            return Err(self.invalid("propagation applies to bind mounts only"));
        }
        match &self.kind {
            Kind::Bind { source, .. } if !source.is_absolute() => Err(self.invalid(format!(
                "bind source {} is not an absolute path",
                source.display()
            ))),
            Kind::Volume { name: Some(n), .. } => check_name(n),
            Kind::Tmpfs { .. } if self.mode.is_some_and(|m| m > 0o7777) => Err(self.invalid(
                format!("mode {:o} is not a file mode", self.mode.unwrap_or(0)),
            )),
            _ => Ok(()),
        }
    }

    /// The mount parsed from the flag `spec`, if [`validate`](Self::validate) accepts it (its
    /// error names the spec, not the destination).
    fn validated(self, spec: &str) -> Result<Mount> {
        match self.validate() {
            Ok(()) => Ok(self),
            Err(Error::InvalidMount { reason, .. }) => Err(invalid(spec)(reason)),
            Err(e) => Err(e),
        }
    }

    /// The runtime spec's mount for this one, as Docker hands it to runc:
    ///
    /// - bind: type `bind`, options `rbind`, `rw`/`ro`, the propagation (`rprivate`);
    /// - volume: the same, of the volume's `_data`, creating the volume on first use (a
    ///   fresh anonymous one, each call, for [`Mount::anonymous`]);
    /// - tmpfs: type `tmpfs`, source `tmpfs`, options `rw`/`ro`, `noexec` (unless
    ///   [`exec`](Mount::exec)), `nosuid`, `nodev`, `size=<bytes>`, `mode=<octal>` and any
    ///   further kernel options.
    ///
    /// A bind source that does not exist is created (mode 0755) when
    /// [`create_source`](Mount::create_source) is set. This neither records a volume user
    /// nor fills the volume: a container given the mount does both.
    ///
    /// # Errors
    /// [`Error::InvalidMount`] for a relative or `/` destination, a relative bind source, or
    /// an option that does not apply to the kind; [`Error::BindSourceNotFound`];
    /// [`Error::InvalidVolumeName`]; [`Error::Os`] if a volume or source cannot be created.
    pub fn to_oci(&self, volumes: &VolumeStore) -> Result<oci_spec::runtime::Mount> {
        self.validate()?;
        let source = match &self.kind {
            Kind::Bind { source, create } => {
                match std::fs::symlink_metadata(source) {
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && *create => {
                        use std::os::unix::fs::DirBuilderExt;
                        std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(0o755)
                            .create(source)
                            .map_err(|e| Error::os("creating bind source", source, e))?;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::BindSourceNotFound {
                            path: source.clone(),
                        })
                    }
                    Err(e) => return Err(Error::os("stat bind source", source, e)),
                }
                source.clone()
            }
            Kind::Volume { name, labels, .. } => match name {
                Some(n) => volumes.create(n, labels.iter().cloned())?,
                None => volumes.create_anonymous()?,
            }
            .mountpoint()
            .to_owned(),
            Kind::Tmpfs { .. } => PathBuf::from("tmpfs"),
        };
        Ok(self.to_oci_at(&source))
    }

    /// The runtime mount with `source` (a bind source, or a volume's `_data`) resolved.
    pub(super) fn to_oci_at(&self, source: &Path) -> oci_spec::runtime::Mount {
        let rw = if self.read_only { "ro" } else { "rw" };
        let (typ, options) = match &self.kind {
            Kind::Bind { .. } | Kind::Volume { .. } => (
                "bind",
                vec![
                    "rbind".to_owned(),
                    rw.to_owned(),
                    self.propagation.unwrap_or_default().as_str().to_owned(),
                ],
            ),
            Kind::Tmpfs { exec, extra } => {
                let mut o = vec![rw.to_owned()];
                if !exec {
                    o.push("noexec".into());
                }
                o.extend(["nosuid".to_owned(), "nodev".to_owned()]);
                if let Some(size) = self.size {
                    o.push(format!("size={size}"));
                }
                if let Some(mode) = self.mode {
                    o.push(format!("mode={mode:o}"));
                }
                o.extend(extra.iter().cloned());
                ("tmpfs", o)
            }
        };
        let mut m = oci_spec::runtime::Mount::default();
        m.set_destination(self.destination.clone());
        m.set_typ(Some(typ.into()));
        m.set_source(Some(source.to_owned()));
        m.set_options(Some(options));
        m
    }

    /// Parses `docker run -v`: `/path` (an anonymous volume), `name:/path[:opts]` (a named
    /// volume) or `/host:/path[:opts]` (a bind mount; a missing host directory is created,
    /// as Docker does). `opts` is a comma list of `ro`/`rw`, a propagation (binds only),
    /// `nocopy` (volumes only), and `z`, `Z`, `consistent`, `cached`, `delegated`, which are
    /// accepted and ignored (SELinux relabelling and macOS consistency do not apply).
    ///
    /// # Errors
    /// [`Error::InvalidMount`] naming the spec and what is wrong;
    /// [`Error::InvalidVolumeName`] for a source that is neither an absolute path nor a
    /// valid volume name.
    pub fn from_volume_flag(spec: &str) -> Result<Mount> {
        let bad = invalid(spec);
        let parts: Vec<&str> = spec.split(':').collect();
        let (source, dest, opts) = match parts.as_slice() {
            [d] => (None, *d, None),
            [s, d] => (Some(*s), *d, None),
            [s, d, o] => (Some(*s), *d, Some(*o)),
            _ => {
                return Err(bad(
                    "too many colons (want [source:]destination[:options])".into()
                ))
            }
        };
        if dest.is_empty() {
            return Err(bad("the destination is empty".into()));
        }
        let mut m = match source {
            None => Mount::anonymous(dest),
            Some("") => return Err(bad("the source is empty".into())),
            Some(s) if s.starts_with('/') => Mount::bind(s, dest).create_source(),
            Some(s) if s.starts_with('.') || s.starts_with('~') || s.contains('/') => {
                return Err(bad(format!(
                    "{s:?} is not an absolute path nor a volume name; host directories must be absolute"
                )))
            }
            Some(s) => {
                check_name(s)?;
                Mount::volume(s, dest)
            }
        };
        let mut rw_seen = false;
        let mut prop_seen = false;
        for o in opts.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" | "rw" => {
                    if rw_seen {
                        return Err(bad("ro and rw given more than once".into()));
                    }
                    rw_seen = true;
                    m.read_only = o == "ro";
                }
                "nocopy" if m.mount_type() == MountType::Volume => m = m.no_copy(),
                "z" | "Z" | "consistent" | "cached" | "delegated" => {}
                _ => match o.parse::<Propagation>() {
                    Ok(p) if m.mount_type() == MountType::Bind && !prop_seen => {
                        prop_seen = true;
                        m.propagation = Some(p);
                    }
                    Ok(_) if prop_seen => {
                        return Err(bad("propagation given more than once".into()))
                    }
                    Ok(_) => return Err(bad("propagation applies to bind mounts only".into())),
                    Err(_) => return Err(bad(format!("invalid mode {o:?}"))),
                },
            }
        }
        m.validated(spec)
    }

    /// Parses `docker run --tmpfs`: `/path[:opts]`, `opts` a comma list of `size=<n>[k|m|g|t]`,
    /// `mode=<octal>`, `ro`/`rw`, `exec`/`noexec`, `nosuid`, `nodev` (always set) and the
    /// kernel's `uid=`, `gid=`, `nr_inodes=`, `nr_blocks=`.
    ///
    /// # Errors
    /// [`Error::InvalidMount`] naming the spec and the option at fault.
    pub fn from_tmpfs_flag(spec: &str) -> Result<Mount> {
        let bad = invalid(spec);
        let (dest, opts) = spec.split_once(':').unwrap_or((spec, ""));
        let mut m = Mount::tmpfs(dest);
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            let (k, v) = o.split_once('=').unwrap_or((o, ""));
            match (k, v) {
                ("size", v) => m.size = Some(parse_size(v).map_err(bad)?),
                ("mode", v) => {
                    m.mode = Some(
                        u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| bad(format!("invalid mode {v:?} (octal, like 1777)")))?,
                    )
                }
                ("ro", "") => m.read_only = true,
                ("rw", "") => m.read_only = false,
                ("exec", "") => m = m.exec(),
                ("noexec", "") => {
                    if let Kind::Tmpfs { exec, .. } = &mut m.kind {
                        *exec = false;
                    }
                }
                ("nosuid" | "nodev", "") => {}
                ("uid" | "gid" | "nr_inodes" | "nr_blocks", v) if v.parse::<u64>().is_ok() => {
                    if let Kind::Tmpfs { extra, .. } = &mut m.kind {
                        extra.push(o.to_owned());
                    }
                }
                _ => return Err(bad(format!("unknown tmpfs option {o:?}"))),
            }
        }
        m.validated(spec)
    }

    /// Parses `docker run --mount`: a comma list of `type=bind|volume|tmpfs` (default
    /// `volume`), `source`/`src`, `target`/`destination`/`dst`, `readonly`/`ro` (`=true|false`),
    /// `bind-propagation=…`, `volume-nocopy` (`=true|false`), `volume-label=key=value`,
    /// `volume-driver=local`, `tmpfs-size=<bytes or 64m>`, `tmpfs-mode=<octal>`. A bind
    /// source must exist (as Docker: `--mount` does not create it); a volume without a source
    /// is anonymous.
    ///
    /// # Errors
    /// [`Error::InvalidMount`] naming the spec and the key at fault.
    pub fn from_mount_flag(spec: &str) -> Result<Mount> {
        let bad = invalid(spec);
        let mut typ = "volume".to_owned();
        let mut source = None;
        let mut target = None;
        let mut read_only = false;
        let mut propagation = None;
        let mut no_copy = false;
        let mut labels = Vec::new();
        let mut size = None;
        let mut mode = None;
        let boolean = |k: &str, v: Option<&str>| match v {
            None | Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(v) => Err(bad(format!("invalid value {v:?} for {k} (true or false)"))),
        };
        for field in spec.split(',').filter(|f| !f.is_empty()) {
            let (k, v) = match field.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (field, None),
            };
            let need = || v.ok_or_else(|| bad(format!("{k} needs a value")));
            match k {
                "type" => typ = need()?.to_owned(),
                "source" | "src" => source = Some(need()?.to_owned()),
                "target" | "destination" | "dst" => target = Some(need()?.to_owned()),
                "readonly" | "ro" => read_only = boolean(k, v)?,
                "bind-propagation" => {
                    propagation = Some(need()?.parse::<Propagation>().map_err(|_| {
                        bad(format!("invalid bind-propagation {:?}", v.unwrap_or("")))
                    })?)
                }
                "volume-nocopy" => no_copy = boolean(k, v)?,
                "volume-label" => {
                    let (lk, lv) = need()?.split_once('=').unwrap_or((need()?, ""));
                    labels.push((lk.to_owned(), lv.to_owned()));
                }
                "volume-driver" if v == Some("local") => {}
                "volume-driver" => {
                    return Err(bad("only the local volume driver is supported".into()))
                }
                "tmpfs-size" => size = Some(parse_size(need()?).map_err(bad)?),
                "tmpfs-mode" => {
                    let v = need()?;
                    mode = Some(
                        u32::from_str_radix(v, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| {
                                bad(format!("invalid tmpfs-mode {v:?} (octal, like 1777)"))
                            })?,
                    );
                }
                _ => return Err(bad(format!("unexpected key {k:?}"))),
            }
        }
        let target = target.ok_or_else(|| bad("target is required".into()))?;
        let mut m = match typ.as_str() {
            "bind" => {
                let s = source.ok_or_else(|| bad("source is required for a bind mount".into()))?;
                Mount::bind(s, &target)
            }
            "volume" => match source {
                Some(s) => {
                    check_name(&s)?;
                    Mount::volume(s, &target)
                }
                None => Mount::anonymous(&target),
            },
            "tmpfs" if source.is_some() => return Err(bad("a tmpfs mount takes no source".into())),
            "tmpfs" => Mount::tmpfs(&target),
            t => return Err(bad(format!("unknown type {t:?} (bind, volume or tmpfs)"))),
        };
        let k = m.mount_type();
        if propagation.is_some() && k != MountType::Bind {
            return Err(bad("bind-propagation applies to bind mounts only".into()));
        }
        if (no_copy || !labels.is_empty()) && k != MountType::Volume {
            return Err(bad("volume-* options apply to volume mounts only".into()));
        }
        if (size.is_some() || mode.is_some()) && k != MountType::Tmpfs {
            return Err(bad("tmpfs-* options apply to tmpfs mounts only".into()));
        }
        if let Kind::Volume {
            labels: l,
            no_copy: n,
            ..
        } = &mut m.kind
        {
            *l = labels;
            *n = no_copy;
        }
        m.read_only = read_only;
        m.propagation = propagation;
        m.size = size;
        m.mode = mode;
        m.validated(spec)
    }
}

/// `-v`/`--mount` syntax: `--mount`'s when the first field is one of its `key=`s.
impl FromStr for Mount {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mount> {
        let first = s.split(',').next().unwrap_or("");
        let key = first.split_once('=').map(|(k, _)| k);
        if matches!(
            key,
            Some("type" | "source" | "src" | "target" | "destination" | "dst")
        ) {
            Mount::from_mount_flag(s)
        } else {
            Mount::from_volume_flag(s)
        }
    }
}

/// The [`Error::InvalidMount`] of the flag `spec`, for a reason.
fn invalid(spec: &str) -> impl Fn(String) -> Error + Copy + '_ {
    |reason| Error::InvalidMount {
        spec: spec.into(),
        reason,
    }
}

/// A destination must be absolute, not `/`, and without `..`.
fn check_destination(dest: &Path) -> std::result::Result<(), String> {
    if !dest.is_absolute() {
        return Err(format!(
            "destination {} is not an absolute path",
            dest.display()
        ));
    }
    if dest.components().any(|c| c == Component::ParentDir) {
        return Err(format!("destination {} contains '..'", dest.display()));
    }
    if dest.components().all(|c| c == Component::RootDir) {
        return Err("destination can't be '/'".into());
    }
    Ok(())
}

/// A size as Docker parses one (`RAMInBytes`): a number with an optional binary unit
/// `k`, `m`, `g`, `t`, `p`, an optional `i` and `b` (`64m`, `1.5GiB`, `65536k`, `4096`).
pub(super) fn parse_size(s: &str) -> std::result::Result<u64, String> {
    crate::store::ram_in_bytes(s.trim())
        .ok_or_else(|| format!("invalid size {s:?} (bytes, or a number with k, m, g, t)"))
}
