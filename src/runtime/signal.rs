//! Signals by name, as runc, Docker and `kill` accept them.

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

/// A signal by number (1–64), or by name with or without the `SIG` prefix in any case
/// (`TERM`, `sigkill`, `SIGRTMIN+3`): what `runc kill` and Docker's `--stop-signal` accept.
/// `None` for anything else.
pub fn parse_signal(s: &str) -> Option<i32> {
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
}
