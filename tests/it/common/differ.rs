//! The two sides of the differential test (tests/it/differential.rs): a runtime binary
//! (runc or examples/runtime) driven through its command line on one bundle, with a timeout,
//! and the console-socket end that receives a terminal's master.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one container run ended, as its runtime's command line saw it.
#[derive(Debug)]
pub struct Outcome {
    /// The runtime's exit code (`run` passes the container's on), `None` on a timeout.
    pub code: Option<i32>,
    /// What the container (and the runtime) wrote on stdout, or read from the terminal.
    pub stdout: String,
    pub stderr: String,
}

/// A runtime binary with a state root of its own.
pub struct Side {
    pub name: &'static str,
    pub bin: PathBuf,
    pub root: PathBuf,
}

/// How long one verb may take before the runtime is killed and the case fails.
const TIMEOUT: Duration = Duration::from_secs(60);

impl Side {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs one verb to completion (stdout and stderr through files: a container started by
    /// it inherits them), killing the runtime (by its pid) after [`TIMEOUT`].
    pub fn verb(&self, args: &[&str]) -> Outcome {
        let out = tempfile::tempfile().unwrap();
        let err = tempfile::tempfile().unwrap();
        let mut child = self
            .command(args)
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.display()));
        let deadline = Instant::now() + TIMEOUT;
        let code = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break Some(st.code().unwrap_or(128));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            code,
            stdout: read_all(out),
            stderr: read_all(err),
        }
    }

    /// `run --bundle B ID`: the container's stdout and exit code.
    pub fn run(&self, bundle: &Path, id: &str) -> Outcome {
        self.verb(&["run", "--bundle", bundle.to_str().unwrap(), id])
    }

    /// A container with a terminal: `create --console-socket`, the master received,
    /// `start`, the terminal read until the process closes it, then `delete`. The code is
    /// create's when it fails, else start's.
    pub fn run_terminal(&self, bundle: &Path, id: &str, socket: &Path) -> Outcome {
        let listener = UnixListener::bind(socket).unwrap();
        listener.set_nonblocking(true).unwrap();
        let create = self.verb(&[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--console-socket",
            socket.to_str().unwrap(),
            id,
        ]);
        if create.code != Some(0) {
            return create;
        }
        let master = match listener.accept() {
            Ok((stream, _)) => recv_fd(&stream),
            Err(e) => {
                return Outcome {
                    code: Some(-1),
                    stdout: String::new(),
                    stderr: format!("no console master on the socket: {e}\n{}", create.stderr),
                }
            }
        };
        let reader = std::thread::spawn(move || {
            let mut f = std::fs::File::from(master);
            let mut v = Vec::new();
            let mut buf = [0u8; 4096];
            // EIO once the last slave fd closes: the process has exited.
            while let Ok(n) = f.read(&mut buf) {
                if n == 0 {
                    break;
                }
                v.extend_from_slice(&buf[..n]);
            }
            String::from_utf8_lossy(&v).replace("\r\n", "\n")
        });
        let start = self.verb(&["start", id]);
        let deadline = Instant::now() + TIMEOUT;
        while !reader.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stdout = if reader.is_finished() {
            reader.join().unwrap()
        } else {
            // Kill the container so the terminal closes and the reader ends.
            self.verb(&["kill", id, "KILL"]);
            "(terminal timed out)".to_owned()
        };
        self.wait_stopped(id);
        let delete = self.verb(&["delete", id]);
        Outcome {
            code: start.code,
            stdout,
            stderr: format!("{}{}{}", create.stderr, start.stderr, delete.stderr),
        }
    }

    fn wait_stopped(&self, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let st = self.verb(&["state", id]);
            if st.code != Some(0) || st.stdout.contains("\"stopped\"") {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// `delete --force ID`, whatever state it is in (or none).
    pub fn force_delete(&self, id: &str) {
        self.verb(&["delete", "--force", id]);
    }

    /// The ids this runtime still knows.
    pub fn list(&self) -> Vec<String> {
        self.verb(&["list", "-q"])
            .stdout
            .lines()
            .map(str::to_owned)
            .filter(|l| !l.is_empty())
            .collect()
    }
}

fn read_all(mut f: std::fs::File) -> String {
    use std::io::Seek;
    let mut v = Vec::new();
    f.seek(std::io::SeekFrom::Start(0)).unwrap();
    f.read_to_end(&mut v).unwrap();
    String::from_utf8_lossy(&v).into_owned()
}

/// Receives the one fd a runtime sends over a console socket (SCM_RIGHTS).
fn recv_fd(stream: &UnixStream) -> OwnedFd {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 512];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsghdr with a few fds, aligned for cmsghdr.
    let mut control = [0u64; 16];
    // SAFETY: an all-zero msghdr is a valid empty header; the fields set below point into
    // buffers that outlive the recvmsg call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: msg describes valid buffers; the socket fd is open for the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    assert!(n >= 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR checks the control length.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    assert!(!cmsg.is_null(), "no fd on the console socket");
    // SAFETY: cmsg points into `control`; an SCM_RIGHTS message carries at least one int.
    let (level, typ, fd) = unsafe {
        (
            (*cmsg).cmsg_level,
            (*cmsg).cmsg_type,
            std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>()),
        )
    };
    assert!(level == libc::SOL_SOCKET && typ == libc::SCM_RIGHTS);
    // SAFETY: the kernel installed this fd for us and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
