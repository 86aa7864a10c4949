//! Running a closure in another process's network namespace.
//!
//! setns(2) with `CLONE_NEWNET` moves only the calling thread, and a socket belongs to the
//! namespace of the thread that created it. So [`in_netns_of`] makes a dedicated, short-lived
//! thread, moves it into the target namespace, runs the closure there (connect, send,
//! receive) and lets the thread end: a thread in a foreign namespace never returns to a pool
//! or runs anything else.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use super::raw;

/// Runs `f` on a new thread inside the network namespace of process `pid` (from
/// `/proc/<pid>/ns/net`) and returns its result. The thread exits when `f` returns.
///
/// # Errors
/// The namespace file cannot be opened (the process is gone), the thread cannot be
/// spawned, or setns(2) fails (the error names the call); a panic of `f` is an error of kind
/// `Other`.
pub fn in_netns_of<T, F>(pid: i32, f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let ns = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    let thread = std::thread::Builder::new()
        .name("cargohold-netns".into())
        .spawn(move || -> io::Result<T> {
            raw::setns(ns.as_raw_fd(), libc::CLONE_NEWNET).map_err(|errno| {
                let e = io::Error::from_raw_os_error(errno);
                io::Error::new(
                    e.kind(),
                    format!("setns(CLONE_NEWNET) to {}: {e}", path.display()),
                )
            })?;
            drop(ns);
            Ok(f())
        })?;
    thread
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the network namespace thread panicked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_our_own_namespace_and_reports_a_missing_process() {
        // Our own namespace: setns into the namespace we are in is allowed for root only, so
        // only the plain result is checked as root.
        if rustix::process::geteuid().is_root() {
            let me = std::process::id() as i32;
            assert_eq!(in_netns_of(me, || 42).unwrap(), 42);
        }
        let err = in_netns_of(i32::MAX, || ()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("/ns/net"), "{err}");
    }
}
