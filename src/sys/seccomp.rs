//! Seccomp: loading a classic-BPF filter into the calling thread.
//!
//! A [`SeccompProgram`] is a list of classic-BPF instructions and the
//! `SECCOMP_FILTER_FLAG_*` bits to load it with; [`SeccompProgram::load`] installs it
//! without allocating, so it can run between clone and execve. Turning the runtime spec's
//! `linux.seccomp` (JSON) into such a program is runtime policy: `runtime::seccomp`
//! compiles it the way runc does through libseccomp.

use super::{Error, Result};

/// The kernel's limit on the length of a classic-BPF program (`BPF_MAXINSNS`).
pub const MAX_INSTRUCTIONS: usize = 4096;

/// A seccomp filter, ready to load.
#[derive(Debug, Clone)]
pub struct SeccompProgram {
    filter: Vec<libc::sock_filter>,
    flags: u32,
}

impl SeccompProgram {
    /// A program of `filter` instructions, loaded with the `SECCOMP_FILTER_FLAG_*` bits
    /// `flags`. The kernel checks the instructions when [`load`](Self::load)ing them.
    ///
    /// # Errors
    /// [`Error::Seccomp`] for an empty program or one longer than the kernel's
    /// [`MAX_INSTRUCTIONS`].
    pub fn new(filter: Vec<libc::sock_filter>, flags: u32) -> Result<Self> {
        if filter.is_empty() {
            return Err(Error::Seccomp {
                reason: "the filter has no instructions".into(),
            });
        }
        if filter.len() > MAX_INSTRUCTIONS {
            return Err(Error::Seccomp {
                reason: format!(
                    "the filter needs {} instructions, more than the kernel's limit of \
                     {MAX_INSTRUCTIONS}",
                    filter.len()
                ),
            });
        }
        Ok(Self { filter, flags })
    }

    /// The BPF instructions (for tests, dumps).
    pub fn instructions(&self) -> &[libc::sock_filter] {
        &self.filter
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits it is loaded with.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Loads the filter into the calling thread.
    ///
    /// Makes no allocation and takes no lock: it is meant for a freshly cloned child
    /// between clone and execve. It does not set `no_new_privs`; without it (or
    /// `CAP_SYS_ADMIN`) the kernel refuses the filter with EACCES.
    ///
    /// Uses `seccomp(SECCOMP_SET_MODE_FILTER, flags, ..)`, falling back to
    /// `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ..)` when the kernel lacks seccomp(2)
    /// and no flags are asked for.
    ///
    /// # Errors
    /// The errno of the failed call. With `SECCOMP_FILTER_FLAG_TSYNC`, a thread that could
    /// not be synchronized is reported as `ESRCH`.
    pub fn load(&self) -> std::result::Result<(), i32> {
        let Ok(len) = u16::try_from(self.filter.len()) else {
            return Err(libc::EINVAL);
        };
        let prog = libc::sock_fprog {
            len,
            filter: self.filter.as_ptr().cast_mut(),
        };
        let prog_ptr: *const libc::sock_fprog = &prog;

        // Install the filter; the kernel copies the program before returning.
        // SAFETY: `prog` lives on this stack frame for the whole call and points at
        // `len` initialized instructions that the kernel only reads.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::c_ulong::from(libc::SECCOMP_SET_MODE_FILTER),
                libc::c_ulong::from(self.flags),
                prog_ptr,
            )
        };
        if rc == 0 {
            return Ok(());
        }
        if rc > 0 {
            // TSYNC: `rc` is the id of a thread that could not be synchronized.
            return Err(libc::ESRCH);
        }
        let errno = last_errno();
        if errno != libc::ENOSYS || self.flags != 0 {
            return Err(errno);
        }

        // Kernels before 3.17 have no seccomp(2); prctl takes the same program.
        // SAFETY: as above, `prog` outlives the call and is only read by the kernel.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::c_ulong::from(libc::SECCOMP_MODE_FILTER),
                prog_ptr,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(last_errno())
        }
    }
}

/// The calling thread's errno, read without allocating.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ret k`: the one-instruction program that gives every syscall action `k`.
    fn ret(k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k,
        }
    }

    #[test]
    fn new_refuses_empty_and_overlong_programs() {
        let e = SeccompProgram::new(Vec::new(), 0).unwrap_err();
        assert_eq!(e.to_string(), "seccomp: the filter has no instructions");
        let allow = ret(libc::SECCOMP_RET_ALLOW);
        let e = SeccompProgram::new(vec![allow; MAX_INSTRUCTIONS + 1], 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "seccomp: the filter needs 4097 instructions, more than the kernel's limit of 4096"
        );
        let p = SeccompProgram::new(vec![allow; MAX_INSTRUCTIONS], 3).unwrap();
        assert_eq!((p.instructions().len(), p.flags()), (MAX_INSTRUCTIONS, 3));
    }

    #[test]
    fn load_without_no_new_privs_as_root_or_reports_errno() {
        // As root (CAP_SYS_ADMIN) the kernel accepts a filter without no_new_privs;
        // otherwise it must report EACCES. Either way `load` returns, and never panics.
        let prog = SeccompProgram::new(vec![ret(libc::SECCOMP_RET_ALLOW)], 0).unwrap();
        // SAFETY: the child only loads the filter (no allocation) and leaves with `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = match prog.load() {
                Ok(()) => 0,
                Err(libc::EACCES) => 1,
                Err(_) => 2,
            };
            // SAFETY: ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer and `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid, "waitpid");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        assert!(libc::WIFEXITED(status), "wait status {status:#x}");
        assert_eq!(libc::WEXITSTATUS(status), if root { 0 } else { 1 });
    }
}
