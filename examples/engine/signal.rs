//! Signal names for `kill -s` and `stop -s`, as Docker (and `kill(1)`) accept them.

use crate::Failure;

/// Linux's standard signals by name (without `SIG`).
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

/// A signal by number (1–64), or by name with or without `SIG` in any case (`KILL`,
/// `sigterm`, `SIGRTMIN+3`, `RTMAX-1`).
pub(crate) fn parse_signal(s: &str) -> Result<i32, Failure> {
    lookup(s).ok_or_else(|| Failure::Usage(format!("invalid signal: {s}")))
}

fn lookup(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Some(n);
    }
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let offset = |o: &str| o.parse::<i32>().ok();
    let n = match name {
        "RTMIN" => Some(min),
        "RTMAX" => Some(max),
        _ => (name
            .strip_prefix("RTMIN+")
            .and_then(offset)
            .map(|o| min + o))
        .or_else(|| {
            let o = name.strip_prefix("RTMAX-")?;
            offset(&format!("-{o}")).map(|o| max + o)
        }),
    };
    n.filter(|n| (min..=max).contains(n))
}
