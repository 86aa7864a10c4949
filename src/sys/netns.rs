//! Running a closure in another network namespace.
//!
//! setns(2) with `CLONE_NEWNET` moves only the calling thread, and a socket belongs to the
//! namespace of the thread that created it. So [`in_netns`] (and [`in_netns_of`], by pid)
//! make a dedicated, short-lived thread, move it into the target namespace, run the closure
//! there (connect, send, receive, netlink) and let the thread end: a thread in a foreign
//! namespace never returns to a pool or runs anything else.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::{file, raw};

/// Runs `f` on a fresh thread that has entered the network namespace `ns`, and returns its
/// result. Sockets `f` opens belong to that namespace for their whole life, whichever
/// thread uses them afterwards. The thread ends with `f`.
///
/// # Errors
/// The `setns` error, or `f`'s.
pub fn in_netns<T: Send>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    let fd = ns.as_raw_fd();
    std::thread::scope(|s| {
        s.spawn(move || {
            raw::setns(fd, libc::CLONE_NEWNET).map_err(io::Error::from_raw_os_error)?;
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Runs `f` on a new thread inside the network namespace of process `pid` (from
/// `/proc/<pid>/ns/net`) and returns its result. The thread exits when `f` returns.
///
/// # Errors
/// The namespace file cannot be opened (the process is gone), the thread cannot be
/// spawned, or setns(2) fails (the error names the call); a panic of `f` is an error of kind
/// `Other`.
pub fn in_netns_of<T, F>(pid: i32, f: F) -> io::Result<T>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let ns = File::open(&path)
        .map_err(|e| io::Error::new(e.kind(), format!("opening {}: {e}", path.display())))?;
    // Only setns can fail inside: f's panic comes back as a value.
    let ran = in_netns(ns.as_fd(), || {
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)))
    })
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("setns(CLONE_NEWNET) to {}: {e}", path.display()),
        )
    })?;
    ran.map_err(|_| io::Error::other("the network namespace thread panicked"))
}

/// Starts making a new network namespace, its loopback interface up, on a thread of its
/// own (unshare(2) with `CLONE_NEWNET` moves only the calling thread), and returns the
/// thread: it ends with an fd of the namespace, which keeps it alive once the thread has
/// left it. Nothing else runs on that thread.
///
/// # Errors
/// The thread cannot be spawned; the thread's result is unshare(2)'s error (no
/// `CAP_SYS_ADMIN`), the loopback's, or that of opening `/proc/thread-self/ns/net`.
pub fn make_new() -> io::Result<JoinHandle<io::Result<OwnedFd>>> {
    std::thread::Builder::new()
        .name("cargohold-netns".into())
        .spawn(|| {
            raw::unshare(libc::CLONE_NEWNET).map_err(io::Error::from_raw_os_error)?;
            raw::loopback_up().map_err(io::Error::from_raw_os_error)?;
            file::open(Path::new("/proc/thread-self/ns/net"), libc::O_RDONLY)
        })
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

    #[test]
    fn makes_a_fresh_namespace_with_its_loopback_up() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let ns = make_new().unwrap().join().unwrap().unwrap();
        let ino = |f: BorrowedFd<'_>| rustix::fs::fstat(f).unwrap().st_ino;
        let ours = File::open("/proc/self/ns/net").unwrap();
        assert_ne!(ino(ns.as_fd()), ino(ours.as_fd()), "not a new namespace");
        // 127.0.0.1 exists only once lo is up; the thread that made it is gone, the fd
        // keeps the namespace.
        let bound = in_netns(ns.as_fd(), || {
            std::net::UdpSocket::bind("127.0.0.1:0").map(|s| s.local_addr().unwrap())
        })
        .unwrap();
        assert!(bound.ip().is_loopback());
    }
}
