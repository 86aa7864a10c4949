//! Small file primitives: locks, fifos, pipes, signals by pidfd.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// flock(LOCK_EX) on an open file, retrying on EINTR.
pub fn flock_exclusive(fd: RawFd) -> io::Result<()> {
    loop {
        // SAFETY: plain integers.
        if unsafe { libc::flock(fd, libc::LOCK_EX) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// flock(LOCK_UN): releases the lock of the open file description, and so of every
/// duplicate of it (a child forked while the lock was held keeps a copy of the fd, and
/// closing our copy alone would leave the lock held by that child).
pub fn flock_unlock(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain integers.
    if unsafe { libc::flock(fd, libc::LOCK_UN) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// mkfifo(3) with the given mode.
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(path)?;
    // SAFETY: a valid C string.
    if unsafe { libc::mkfifo(c.as_ptr(), mode) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Opens a path with raw open(2) flags (O_CLOEXEC is added).
pub fn open(path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let c = cstr(path)?;
    // SAFETY: a valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: open returned a fresh fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pidfd_send_signal(2).
pub fn pidfd_signal(pidfd: RawFd, sig: i32) -> io::Result<()> {
    // SAFETY: plain integers and a null siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            sig,
            std::ptr::null::<u8>(),
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// kill(2).
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: plain integers.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// waitpid(2) for a child, blocking; returns the raw wait status.
pub fn wait_child(pid: i32) -> io::Result<i32> {
    super::raw::waitpid(pid, 0)
        .map(|(_, s)| s)
        .map_err(io::Error::from_raw_os_error)
}

/// waitpid(2) with WNOHANG; Some(status) once the child has exited.
pub fn try_wait_child(pid: i32) -> io::Result<Option<i32>> {
    match super::raw::waitpid(pid, libc::WNOHANG) {
        Ok((0, _)) => Ok(None),
        Ok((_, s)) => Ok(Some(s)),
        Err(e) => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Waits until the pidfd is readable (the process exited) or the timeout passes.
pub fn pidfd_wait(pidfd: RawFd, timeout_ms: i32) -> io::Result<bool> {
    super::raw::poll_in(pidfd, timeout_ms).map_err(io::Error::from_raw_os_error)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    let fd = super::raw::pidfd_open(pid).map_err(io::Error::from_raw_os_error)?;
    // SAFETY: pidfd_open returned a fresh fd that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// splice(2) of up to `len` bytes from `from` to `to` (one of them a pipe), at their own
/// offsets: the kernel moves the pages without a copy through user space. 0 at the end of
/// the input.
pub fn splice(
    from: std::os::fd::BorrowedFd<'_>,
    to: std::os::fd::BorrowedFd<'_>,
    len: usize,
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: both fds are borrowed, so open for the call; null offsets are allowed (the
    // files' own are used).
    let n = unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_MORE,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Makes the calling process a child subreaper (PR_SET_CHILD_SUBREAPER).
pub fn set_child_subreaper() -> io::Result<()> {
    super::raw::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        .map(drop)
        .map_err(io::Error::from_raw_os_error)
}

/// poll(2) over `fds` (plain `pollfd` records: fd, requested events, returned events);
/// returns how many have events, 0 on timeout (`timeout_ms` -1: none). Retries on EINTR.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    super::raw::poll(fds, timeout_ms).map_err(io::Error::from_raw_os_error)
}
