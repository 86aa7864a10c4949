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

/// Gives terminal `pty` (a container's pty master) the window size of stdin's terminal, so
/// that the container's programs lay out as the host's terminal shows them.
///
/// # Errors
/// Stdin is not a terminal, or `pty` is none.
pub(crate) fn copy_window_size(pty: impl AsFd) -> io::Result<()> {
    let size = termios::tcgetwinsize(io::stdin())?;
    termios::tcsetwinsize(pty, size)?;
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
