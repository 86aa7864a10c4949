//! Terminals: window sizes and raw mode, for attaching a host terminal to a container's pty.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use super::raw;

/// The window size of terminal `fd` as (rows, columns).
///
/// # Errors
/// `fd` is not a terminal (ENOTTY).
pub fn window_size(fd: BorrowedFd<'_>) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ takes a pointer to a winsize.
    unsafe { raw::ioctl_ptr(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) }
        .map_err(io::Error::from_raw_os_error)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Sets the window size of terminal `fd` (a pty master: the process on the other side
/// gets SIGWINCH).
///
/// # Errors
/// `fd` is not a terminal.
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let mut ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ takes a pointer to a winsize.
    unsafe { raw::ioctl_ptr(fd.as_raw_fd(), libc::TIOCSWINSZ, &mut ws) }
        .map(drop)
        .map_err(io::Error::from_raw_os_error)
}

/// Whether `fd` is a terminal.
pub fn is_terminal(fd: BorrowedFd<'_>) -> bool {
    window_size(fd).is_ok()
}

/// A terminal in raw mode (no echo, no line editing, no signals from ^C): what `docker run
/// -it` does to the host's terminal so that keys reach the container's pty as typed. The
/// previous mode comes back when it drops.
#[derive(Debug)]
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    /// Puts terminal `fd` in raw mode until the guard drops. The fd must stay open as long
    /// as the guard lives.
    ///
    /// # Errors
    /// `fd` is not a terminal.
    pub fn enter(fd: BorrowedFd<'_>) -> io::Result<RawMode> {
        let fd = fd.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid fd and a pointer to a termios we own.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw_mode = saved;
        // SAFETY: cfmakeraw only edits the struct it is given.
        unsafe { libc::cfmakeraw(&mut raw_mode) };
        // SAFETY: as tcgetattr.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw_mode) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: the fd the guard was made for (the caller keeps it open) and the termios
        // saved from it.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}
