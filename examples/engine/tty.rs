//! The host's terminal, for `run -it` and `exec -it`: raw mode and the window size, through
//! rustix's termios (a dev-dependency of the crate: the library leaves the host's terminal
//! to the program).

use std::io::{self, IsTerminal};
use std::os::fd::AsFd;

use rustix::termios::{self, OptionalActions, Termios};

/// Whether stdin is a terminal.
pub(crate) fn stdin_is_terminal() -> bool {
    io::stdin().is_terminal()
}

/// Gives terminal `pty` (a container's pty master) the window size of stdin's terminal,
/// now and whenever it changes, so that the container's programs lay out as the host's
/// terminal shows them.
///
/// # Errors
/// Stdin is not a terminal.
pub(crate) fn copy_window_size(pty: impl AsFd + Send + 'static) -> io::Result<()> {
    follow_window_size(move |rows, cols| {
        let size = termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let _ = termios::tcsetwinsize(&pty, size);
    })
}

/// Calls `resize(rows, columns)` with the size of stdin's terminal now and again each
/// time it changes (SIGWINCH), on a thread, for the rest of the program: what keeps a
/// container's terminal the size of the host's (Docker's CLI resizes the same way).
///
/// # Errors
/// Stdin is not a terminal, or the signal handler cannot be installed.
pub(crate) fn follow_window_size(resize: impl Fn(u16, u16) + Send + 'static) -> io::Result<()> {
    let size = termios::tcgetwinsize(io::stdin())?;
    resize(size.ws_row, size.ws_col);
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGWINCH])?;
    std::thread::spawn(move || {
        for _ in signals.forever() {
            if let Ok(size) = termios::tcgetwinsize(io::stdin()) {
                resize(size.ws_row, size.ws_col);
            }
        }
    });
    Ok(())
}

/// Stdin's terminal in raw mode (no echo, no line editing, no signals from ^C): what
/// `docker run -it` does to the host's terminal so that keys reach the container's pty as
/// typed. The previous mode comes back when it drops.
#[derive(Debug)]
pub(crate) struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode until the guard drops.
    ///
    /// # Errors
    /// Stdin is not a terminal.
    pub(crate) fn enter() -> io::Result<RawMode> {
        let saved = termios::tcgetattr(io::stdin())?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(io::stdin(), OptionalActions::Now, &raw)?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(io::stdin(), OptionalActions::Now, &self.saved);
    }
}
