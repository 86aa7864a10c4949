//! Attach: writing into the stdin of a running detached container (`docker start -a -i`,
//! `docker attach`). A container created with open stdin (`create -i`: a non-null
//! [`stdin`](super::ContainerBuilder::stdin) at create) is started by its monitor with a
//! fifo in its directory as stdin; [`Container::attach_stdin`] opens that fifo for
//! writing. Its output is read with [`Container::logs`] (`follow`), as for any detached
//! container. With `StdinOnce` (the default for `create -i`, as Docker's), the container's
//! stdin ends when the last attached writer goes: `echo hi | engine start -a -i c` with
//! `cat` in `c` ends.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use super::{Container, Status};
use crate::sys::file;
use crate::{Error, Result};

/// The stdin fifo in the container directory `dir`.
pub(crate) fn stdin_path(dir: &Path) -> PathBuf {
    dir.join("stdin")
}

/// A writer into the stdin of a running container ([`Container::attach_stdin`]). Dropping
/// it detaches; once no writer is left, a container with `StdinOnce` reads end-of-file.
#[derive(Debug)]
pub struct ContainerStdin {
    fifo: File,
}

impl Write for ContainerStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fifo.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.fifo.flush()
    }
}

impl AsFd for ContainerStdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fifo.as_fd()
    }
}

impl Container {
    /// Attaches to its stdin: a writer whose bytes the container reads (through its pty
    /// with a tty). It must run detached and have been created with open stdin (a
    /// non-null [`stdin`](super::ContainerBuilder::stdin) given to
    /// [`create`](super::ContainerBuilder::create), `create -i`); its output is in its
    /// [`logs`](Self::logs). With `StdinOnce` (`Config.StdinOnce`, set by `create -i`), the
    /// container reads end-of-file once the writers that attached have all closed, and its
    /// stdin cannot be attached again in this run.
    ///
    /// # Errors
    /// [`Error::InvalidContainerConfig`] when it was created without open stdin;
    /// [`Error::InvalidState`] when it does not run, or its stdin is closed (`StdinOnce`);
    /// [`Error::ContainerNotFound`] once removed; [`Error::Os`] for the fifo.
    pub fn attach_stdin(&self) -> Result<ContainerStdin> {
        let info = self.inspect()?;
        if !info.config.open_stdin {
            return Err(Error::InvalidContainerConfig {
                container: self.name().to_owned(),
                field: "stdin",
                reason: "the container was created without open stdin (create -i)".to_owned(),
            });
        }
        let path = stdin_path(self.path());
        // No reader: the monitor gone, or a `StdinOnce` stdin already closed.
        let fifo = self.open_fifo(
            &info.state.status,
            "attach stdin",
            &path,
            "opening stdin fifo",
            "running, with its stdin closed",
        )?;
        set_blocking(&fifo).map_err(|e| Error::os("opening stdin fifo", &path, e))?;
        Ok(ContainerStdin { fifo })
    }

    /// Sets the window size of its terminal to `rows` × `cols` (Docker's resize; its
    /// programs get SIGWINCH). It must run detached with a terminal (`create -t`);
    /// an attached one's pty is its [`RunningContainer`](super::RunningContainer)'s to
    /// size.
    ///
    /// # Errors
    /// [`Error::InvalidContainerConfig`] without a terminal or for a zero size;
    /// [`Error::InvalidState`] when it does not run detached; [`Error::ContainerNotFound`]
    /// once removed; [`Error::Os`] for the fifo.
    pub fn resize_tty(&self, rows: u16, cols: u16) -> Result<()> {
        let info = self.inspect()?;
        let bad = |reason: &str| Error::InvalidContainerConfig {
            container: self.name().to_owned(),
            field: "tty",
            reason: reason.to_owned(),
        };
        if !info.config.tty {
            return Err(bad(
                "the container was created without a terminal (create -t)",
            ));
        }
        if rows == 0 || cols == 0 {
            return Err(bad("a terminal's size is at least 1 × 1"));
        }
        let path = super::monitor::resize_path(&super::record::exit_path(self.path()));
        // No reader: no monitor, an attached container.
        let mut fifo = self.open_fifo(
            &info.state.status,
            "resize the terminal of",
            &path,
            "opening resize fifo",
            "running, not detached",
        )?;
        // One line, shorter than PIPE_BUF: written whole or not at all.
        fifo.write_all(format!("{rows} {cols}\n").as_bytes())
            .map_err(|e| Error::os("writing resize fifo", &path, e))
    }

    /// Opens the fifo at `path` that its monitor reads, for writing, without waiting for
    /// a reader. [`Error::InvalidState`] for `op` unless it is running (`status`), or when
    /// the fifo has no reader (ENXIO, or ENOENT: then its status reads `no_reader`);
    /// [`Error::Os`] for `opening` otherwise.
    fn open_fifo(
        &self,
        status: &Status,
        op: &'static str,
        path: &Path,
        opening: &'static str,
        no_reader: &str,
    ) -> Result<File> {
        let not_running = |status: String| Error::InvalidState {
            id: self.name().to_owned(),
            op,
            status,
        };
        if *status != Status::Running {
            return Err(not_running(status.to_string()));
        }
        match file::open(path, libc::O_WRONLY | libc::O_NONBLOCK) {
            Ok(fd) => Ok(File::from(fd)),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENXIO) | Some(libc::ENOENT)) => {
                Err(not_running(no_reader.to_owned()))
            }
            Err(e) => Err(Error::os(opening, path, e)),
        }
    }
}

/// Clears `O_NONBLOCK` on `f`, so that writes wait for the container to read.
fn set_blocking(f: &File) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(f)?;
    rustix::fs::fcntl_setfl(f, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}
