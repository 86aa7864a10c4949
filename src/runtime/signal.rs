//! Signals by name, as runc, Docker and `kill` accept them.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// A signal, parsed as `runc kill` and Docker's `--stop-signal` accept it: a number from 1
/// to 64, or a name with or without the `SIG` prefix in any case (`TERM`, `sigkill`,
/// `SIGRTMIN+3`).
///
/// ```
/// use cargohold::runtime::Signal;
///
/// let term: Signal = "TERM".parse()?;
/// assert_eq!(term, "SIGTERM".parse()?);
/// assert_eq!(term, "15".parse()?);
/// assert_eq!((term.as_raw(), term.to_string().as_str()), (libc::SIGTERM, "SIGTERM"));
/// assert!("SIGNOPE".parse::<Signal>().is_err());
/// # Ok::<(), cargohold::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    /// SIGHUP.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// SIGINT.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// SIGKILL.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// SIGTERM.
    pub const TERM: Signal = Signal(libc::SIGTERM);

    /// The signal numbered `n`, if it is one (1 to 64).
    pub fn from_raw(n: i32) -> Option<Signal> {
        (1..=64).contains(&n).then_some(Signal(n))
    }

    /// Its number, for kill(2).
    pub fn as_raw(self) -> i32 {
        self.0
    }
}

impl FromStr for Signal {
    type Err = Error;

    /// # Errors
    /// [`Error::InvalidSignal`] for anything but a number from 1 to 64 or a signal name.
    fn from_str(s: &str) -> Result<Signal> {
        parse(s).map(Signal).ok_or_else(|| Error::InvalidSignal {
            signal: s.to_owned(),
        })
    }
}

/// `SIGTERM`, `SIGRTMIN+3`, or the number for one without a name.
impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((name, _)) = SIGNALS.iter().find(|(_, n)| *n == self.0) {
            return write!(f, "SIG{name}");
        }
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        match self.0 {
            n if n == min => f.write_str("SIGRTMIN"),
            n if n == max => f.write_str("SIGRTMAX"),
            n if (min..max).contains(&n) => write!(f, "SIGRTMIN+{}", n - min),
            n => write!(f, "{n}"),
        }
    }
}

/// A signal's number by number or name (see [`Signal`]); `None` for anything else.
/// The same as `s.parse::<Signal>().ok().map(Signal::as_raw)`.
pub fn parse_signal(s: &str) -> Option<i32> {
    parse(s)
}

fn parse(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let rt = |base: i32, off: &str| off.parse::<i32>().ok().map(|o| base + o);
    let sigrtmin = libc::SIGRTMIN();
    let sigrtmax = libc::SIGRTMAX();
    let n = match name {
        "RTMIN" => Some(sigrtmin),
        "RTMAX" => Some(sigrtmax),
        _ => name
            .strip_prefix("RTMIN+")
            .and_then(|o| rt(sigrtmin, o))
            .or_else(|| {
                name.strip_prefix("RTMAX-")
                    .and_then(|o| rt(sigrtmax, &format!("-{o}")))
            }),
    };
    n.filter(|n| (sigrtmin..=sigrtmax).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_number_and_name() {
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("kill"), Some(9));
        assert_eq!(parse_signal("2"), Some(2));
        assert_eq!(parse_signal("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("RTMAX-1"), Some(libc::SIGRTMAX() - 1));
        for bad in ["NOPE", "0", "65", "RTMIN+99", ""] {
            assert_eq!(parse_signal(bad), None, "{bad}");
        }
    }

    #[test]
    fn signal_type_parses_displays_and_refuses() {
        for (text, n) in [("TERM", 15), ("SIGTERM", 15), ("15", 15), ("sigkill", 9)] {
            let s: Signal = text.parse().unwrap();
            assert_eq!(s.as_raw(), n, "{text}");
        }
        assert_eq!(Signal::TERM.to_string(), "SIGTERM");
        let rt = Signal::from_raw(libc::SIGRTMIN() + 3).unwrap();
        assert_eq!(rt.to_string(), "SIGRTMIN+3");
        assert_eq!(rt.to_string().parse::<Signal>().unwrap(), rt);
        assert_eq!(Signal::from_raw(0), None);
        let e = "SIGNOPE".parse::<Signal>().unwrap_err();
        assert!(matches!(e, Error::InvalidSignal { .. }), "{e:?}");
        assert_eq!(
            e.to_string(),
            "invalid signal \"SIGNOPE\": not a number from 1 to 64 or a signal name"
        );
    }
}
