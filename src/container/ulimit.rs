//! [`Ulimit`]: a resource limit of the container's processes (`--ulimit nofile=1024:2048`),
//! parsed and checked as Docker's `go-units` `ParseUlimit` does, applied as the OCI
//! spec's `process.rlimits` (the runtime sets them with `setrlimit` before the exec).

use std::fmt;
use std::str::FromStr;

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use serde::{Deserialize, Serialize};

/// One `--ulimit` of a container: `name=soft[:hard]`, as `HostConfig.Ulimits` shows it.
///
/// The names are Docker's (`core`, `cpu`, `data`, `fsize`, `locks`, `memlock`,
/// `msgqueue`, `nice`, `nofile`, `nproc`, `rss`, `rtprio`, `rttime`, `sigpending`,
/// `stack`); without `:hard` the hard limit is the soft one, and -1 is unlimited.
///
/// ```
/// let u: cargohold::Ulimit = "nofile=1024:2048".parse().unwrap();
/// assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
/// assert!("nofile=4:2".parse::<cargohold::Ulimit>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Ulimit {
    /// The resource, by Docker's name (`nofile`).
    pub name: String,
    /// The hard limit (-1: unlimited).
    pub hard: i64,
    /// The soft limit (-1: unlimited).
    pub soft: i64,
}

/// Docker's names and the rlimit each stands for.
const NAMES: &[(&str, PosixRlimitType)] = &[
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

impl Ulimit {
    /// A limit of `name` (checked as [`FromStr`] checks it).
    ///
    /// # Errors
    /// An unknown name, or a soft limit above the hard one, in Docker's words.
    pub fn new(name: &str, soft: i64, hard: i64) -> Result<Ulimit, String> {
        if !NAMES.iter().any(|(n, _)| *n == name) {
            return Err(format!("invalid ulimit type: {name}"));
        }
        // -1 is unlimited: the largest value.
        let rank = |v: i64| if v == -1 { u64::MAX } else { v as u64 };
        if soft < -1 || hard < -1 {
            return Err(format!("invalid ulimit argument: {name}={soft}:{hard}"));
        }
        if rank(soft) > rank(hard) {
            return Err(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            ));
        }
        Ok(Ulimit {
            name: name.to_owned(),
            hard,
            soft,
        })
    }

    /// As the runtime spec's `process.rlimits` holds it (-1: `RLIM_INFINITY`).
    pub(crate) fn to_rlimit(&self) -> PosixRlimit {
        let typ = NAMES
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or(PosixRlimitType::RlimitNofile, |(_, t)| *t);
        let lim = |v: i64| if v == -1 { u64::MAX } else { v as u64 };
        PosixRlimitBuilder::default()
            .typ(typ)
            .soft(lim(self.soft))
            .hard(lim(self.hard))
            .build()
            .expect("a complete rlimit")
    }
}

impl FromStr for Ulimit {
    type Err = String;

    /// `name=soft[:hard]`.
    fn from_str(s: &str) -> Result<Ulimit, String> {
        let (name, limits) = s
            .split_once('=')
            .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
        let (soft, hard) = match limits.split_once(':') {
            Some((soft, hard)) => (soft, Some(hard)),
            None => (limits, None),
        };
        let num = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("invalid ulimit argument: {s}"))
        };
        let soft = num(soft)?;
        let hard = hard.map(num).transpose()?.unwrap_or(soft);
        Ulimit::new(name, soft, hard)
    }
}

impl fmt::Display for Ulimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}:{}", self.name, self.soft, self.hard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_docker() {
        let u: Ulimit = "nofile=64".parse().unwrap();
        assert_eq!((u.soft, u.hard), (64, 64));
        let u: Ulimit = "core=-1".parse().unwrap();
        assert_eq!(u.to_rlimit().hard(), u64::MAX);
        let u: Ulimit = "nproc=10:-1".parse().unwrap();
        assert_eq!(u.to_string(), "nproc=10:-1");
        assert_eq!(
            "nofile=4:2".parse::<Ulimit>().unwrap_err(),
            "ulimit soft limit must be less than or equal to hard limit: 4 > 2"
        );
        assert_eq!(
            "bogus=1".parse::<Ulimit>().unwrap_err(),
            "invalid ulimit type: bogus"
        );
        assert!("nofile".parse::<Ulimit>().is_err());
        assert!("nofile=x".parse::<Ulimit>().is_err());
        assert!("nofile=-1:5".parse::<Ulimit>().is_err());
        assert_eq!(
            serde_json::to_value("stack=1:2".parse::<Ulimit>().unwrap()).unwrap(),
            serde_json::json!({"Name": "stack", "Hard": 2, "Soft": 1})
        );
    }
}
