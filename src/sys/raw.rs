//! Allocation-free wrappers over single system calls.
//!
//! These are what the child runs between clone and execve: each makes exactly one call,
//! returns the errno on failure and never allocates, locks or reads the environment.
//! Credential changes use the raw system calls, not glibc's wrappers: glibc broadcasts them
//! to every thread it believes exists, which in a raw-cloned child of a threaded host would
//! wait forever on threads that are not there.
//!
//! Only the calls that are sound whatever they are given are public (a runtime writer may
//! `unshare`, `setns`, `mount` or `pivot_root` with them). Those that take a raw file
//! descriptor to read, write, replace or close (fds are owned elsewhere: closing one behind
//! its owner's back breaks I/O safety), fork the calling process, or hand raw pointers to
//! the kernel are crate-private or `unsafe fn`.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::ptr;

use libc::{c_int, c_ulong, c_void};

/// An errno value.
pub type Errno = i32;
/// Result of a raw call.
pub type R<T = ()> = Result<T, Errno>;

/// The calling thread's errno.
pub fn errno() -> Errno {
    // SAFETY: __errno_location always returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() }
}

fn check(ret: c_int) -> R<c_int> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

pub(crate) fn check_long(ret: libc::c_long) -> R<libc::c_long> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret)
    }
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(ptr::null(), CStr::as_ptr)
}

/// mount(2).
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: c_ulong,
    data: Option<&CStr>,
) -> R {
    // SAFETY: every pointer is null or a valid NUL-terminated string that outlives the call.
    let ret = unsafe {
        libc::mount(
            opt_ptr(source),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast::<c_void>(),
        )
    };
    check(ret).map(drop)
}

/// `MOUNT_ATTR_RDONLY` of mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `MOUNT_ATTR_NOSUID`.
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
/// `MOUNT_ATTR_NODEV`.
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
/// `MOUNT_ATTR_NOEXEC`.
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// `MOUNT_ATTR_NOSYMFOLLOW`.
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// mount_setattr(2) of the mount at `path` and every mount below it (`AT_RECURSIVE`),
/// setting and clearing `MOUNT_ATTR_*` flags. A last symlink in `path` is followed (the
/// runtime passes `/proc/self/fd/N` of a target it opened safely).
pub fn mount_setattr_recursive(path: &CStr, set: u64, clear: u64) -> R {
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    mount_setattr(libc::AT_FDCWD, path, AT_RECURSIVE, set, clear)
}

/// mount_setattr(2): `MOUNT_ATTR_*` flags set and cleared on the mount at `path` relative
/// to `dirfd` (with `AT_EMPTY_PATH` and `""`, the mount whose root `dirfd` is).
pub fn mount_setattr(dirfd: c_int, path: &CStr, flags: libc::c_uint, set: u64, clear: u64) -> R {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: a NUL-terminated path and a struct of the size passed, both outliving the
    // call; the kernel checks the fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check_long(ret).map(drop)
}

/// umount2(2).
pub fn umount2(target: &CStr, flags: c_int) -> R {
    // SAFETY: target is a valid C string.
    check(unsafe { libc::umount2(target.as_ptr(), flags) }).map(drop)
}

/// setns(2).
pub fn setns(fd: RawFd, nstype: c_int) -> R {
    // SAFETY: plain integer arguments; an invalid fd yields EBADF.
    check(unsafe { libc::setns(fd, nstype) }).map(drop)
}

/// unshare(2).
pub fn unshare(flags: c_int) -> R {
    // SAFETY: plain integer argument.
    check(unsafe { libc::unshare(flags) }).map(drop)
}

/// write(2) of the whole buffer (retrying on EINTR and short writes).
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) -> R {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of buf.len() bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = errno();
            if e == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// read(2), retrying on EINTR.
pub(crate) fn read(fd: RawFd, buf: &mut [u8]) -> R<usize> {
    loop {
        // SAFETY: buf is a valid writable slice of buf.len() bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// Brings the loopback interface of the calling thread's network namespace up
/// (SIOCGIFFLAGS / SIOCSIFFLAGS on `lo`), allocating nothing.
pub fn loopback_up() -> R {
    // SAFETY: plain integers.
    let sock =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: ifreq is plain data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq we own.
    let r = check(unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) }).and_then(|_| {
        // SAFETY: the flags member is the one SIOCGIFFLAGS set.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads the ifreq we own.
        check(unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) })
    });
    close(sock);
    r.map(drop)
}

/// close(2); errors are ignored as there is nothing to do about them.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: closing an fd we own; a bad fd only yields EBADF.
    unsafe { libc::close(fd) };
}

/// dup3(2).
pub(crate) fn dup3(old: RawFd, new: RawFd, flags: c_int) -> R {
    // SAFETY: plain integers.
    check(unsafe { libc::dup3(old, new, flags) }).map(drop)
}

/// Clears FD_CLOEXEC on `fd`.
pub(crate) fn clear_cloexec(fd: RawFd) -> R {
    // SAFETY: plain integers.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, 0) }).map(drop)
}

/// pivot_root(2).
pub fn pivot_root(new_root: &CStr, put_old: &CStr) -> R {
    // SAFETY: two valid C strings.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    check_long(ret).map(drop)
}

/// chdir(2).
pub fn chdir(path: &CStr) -> R {
    // SAFETY: a valid C string.
    check(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

/// fchdir(2).
pub(crate) fn fchdir(fd: RawFd) -> R {
    // SAFETY: plain integer.
    check(unsafe { libc::fchdir(fd) }).map(drop)
}

/// chroot(2).
pub fn chroot(path: &CStr) -> R {
    // SAFETY: a valid C string.
    check(unsafe { libc::chroot(path.as_ptr()) }).map(drop)
}

/// mkdirat(2).
pub(crate) fn mkdirat(dirfd: RawFd, name: &CStr, mode: u32) -> R {
    // SAFETY: a valid C string.
    check(unsafe { libc::mkdirat(dirfd, name.as_ptr(), mode) }).map(drop)
}

/// mknodat(2).
pub(crate) fn mknodat(dirfd: RawFd, name: &CStr, mode: u32, dev: u64) -> R {
    // SAFETY: a valid C string.
    check(unsafe { libc::mknodat(dirfd, name.as_ptr(), mode, dev) }).map(drop)
}

/// symlinkat(2).
pub(crate) fn symlinkat(target: &CStr, dirfd: RawFd, name: &CStr) -> R {
    // SAFETY: two valid C strings.
    check(unsafe { libc::symlinkat(target.as_ptr(), dirfd, name.as_ptr()) }).map(drop)
}

/// fchownat(2) without following a final symlink.
pub(crate) fn lchownat(dirfd: RawFd, name: &CStr, uid: u32, gid: u32) -> R {
    // SAFETY: a valid C string.
    let ret = unsafe { libc::fchownat(dirfd, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) };
    check(ret).map(drop)
}

/// fchown(2).
pub(crate) fn fchown(fd: RawFd, uid: u32, gid: u32) -> R {
    // SAFETY: plain integers.
    check(unsafe { libc::fchown(fd, uid, gid) }).map(drop)
}

/// fstat(2): (owner uid, owner gid, st_rdev) of the file `fd` refers to.
pub(crate) fn owner_and_rdev(fd: RawFd) -> R<(u32, u32, u64)> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: st points to writable memory for a stat struct.
    check(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and filled the struct (it was zeroed anyway).
    let st = unsafe { st.assume_init() };
    Ok((st.st_uid, st.st_gid, st.st_rdev))
}

/// fchmodat(2).
pub(crate) fn fchmodat(dirfd: RawFd, name: &CStr, mode: u32) -> R {
    // SAFETY: a valid C string.
    check(unsafe { libc::fchmodat(dirfd, name.as_ptr(), mode, 0) }).map(drop)
}

/// openat(2).
pub(crate) fn openat(dirfd: RawFd, path: &CStr, flags: c_int, mode: u32) -> R<RawFd> {
    // SAFETY: a valid C string.
    check(unsafe { libc::openat(dirfd, path.as_ptr(), flags, mode) })
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Resolve every path component inside the directory fd, as if it were the root.
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// Refuse magic links (/proc/self/fd/N, /proc/N/root) on the way.
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

/// openat2(2): opens `path` relative to `dirfd` with the given RESOLVE_* rules.
pub(crate) fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: c_int,
    mode: u32,
    resolve: u64,
) -> R<RawFd> {
    let how = OpenHow {
        flags: flags as u64,
        mode: u64::from(mode),
        resolve,
    };
    // SAFETY: path is a valid C string and `how` a valid open_how of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    check_long(ret).map(|fd| fd as RawFd)
}

/// fstat(2): the file type bits (S_IFMT) of an fd.
pub(crate) fn file_type(fd: RawFd) -> R<u32> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: st points to writable memory for a stat struct.
    check(unsafe { libc::fstat(fd, st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded and filled the struct (it was zeroed anyway).
    let st = unsafe { st.assume_init() };
    Ok(st.st_mode & libc::S_IFMT)
}

/// statfs(2) f_flags (the ST_* mount flags) of the file system at `path`.
pub fn mount_flags(path: &CStr) -> R<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: a valid C string and writable memory for the struct.
    check(unsafe { libc::statvfs(path.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: statvfs succeeded (the struct was zeroed anyway).
    Ok(unsafe { st.assume_init() }.f_flag)
}

/// sethostname(2).
pub fn sethostname(name: &[u8]) -> R {
    // SAFETY: name is a valid slice of name.len() bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// setdomainname(2).
pub fn setdomainname(name: &[u8]) -> R {
    // SAFETY: name is a valid slice of name.len() bytes.
    check(unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) }).map(drop)
}

/// setrlimit(2).
pub fn setrlimit(resource: c_int, soft: u64, hard: u64) -> R {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: lim is a valid rlimit. The resource cast matches glibc's __rlimit_resource_t.
    check(unsafe { libc::setrlimit(resource as _, &lim) }).map(drop)
}

/// The raw setgroups(2) system call (this thread only).
pub fn setgroups(groups: &[libc::gid_t]) -> R {
    // SAFETY: groups is a valid slice of groups.len() gids.
    let ret = unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) };
    check_long(ret).map(drop)
}

/// The raw setresgid(2) system call (this thread only).
pub fn setresgid(gid: u32) -> R {
    // SAFETY: plain integers.
    check_long(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) }).map(drop)
}

/// The raw setresuid(2) system call (this thread only).
pub fn setresuid(uid: u32) -> R {
    // SAFETY: plain integers.
    check_long(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// prctl(2) with up to four integer arguments.
pub(crate) fn prctl(option: c_int, a2: c_ulong, a3: c_ulong, a4: c_ulong, a5: c_ulong) -> R<c_int> {
    // SAFETY: every option we pass takes integer arguments only.
    check(unsafe { libc::prctl(option, a2, a3, a4, a5) })
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// capset(2) with 64-bit masks (_LINUX_CAPABILITY_VERSION_3).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> R {
    let mut header = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [
        CapData {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        CapData {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and two data entries as version 3 requires.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    check_long(ret).map(drop)
}

/// umask(2).
pub fn umask(mask: u32) {
    // SAFETY: plain integer; umask cannot fail.
    unsafe { libc::umask(mask) };
}

/// setsid(2).
pub fn setsid() -> R {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

/// ioctl(2) with an integer argument.
pub(crate) fn ioctl_int(fd: RawFd, request: c_ulong, arg: c_ulong) -> R<c_int> {
    // SAFETY: the requests we pass take an integer argument.
    check(unsafe { libc::ioctl(fd, request, arg) })
}

/// ioctl(2) with a pointer to a `T`.
///
/// # Safety
/// `request` must be one whose argument is a pointer to a `T`: the kernel reads or writes
/// at most `size_of::<T>()` bytes through it, with `T`'s layout.
pub(crate) unsafe fn ioctl_ptr<T>(fd: RawFd, request: c_ulong, arg: &mut T) -> R<c_int> {
    // SAFETY: the caller guarantees that `request` takes a pointer to a T; `arg` is one.
    check(unsafe { libc::ioctl(fd, request, arg as *mut T) })
}

/// Sends `payload` with `fd` attached (SCM_RIGHTS) on a unix socket.
pub(crate) fn send_fd(sock: RawFd, fd: RawFd, payload: &[u8]) -> R {
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    };
    // Space for one cmsghdr carrying one int, 8-byte aligned.
    let mut cbuf = [0u64; 4];
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<c_int>() as u32) } as usize;
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg_control points to a buffer big enough for one header.
    let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    // SAFETY: cmsg points into cbuf, which is large and aligned enough.
    unsafe {
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<c_int>() as u32) as _;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>(), fd);
    }
    // SAFETY: msg describes valid buffers.
    let ret = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
    if ret < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// A fork-style clone(2) (new process, copy of the address space) with extra flags.
/// Returns 0 in the child and the child's pid in the parent.
pub(crate) fn fork_with(flags: u64) -> R<libc::pid_t> {
    // SAFETY: without CLONE_VM the child gets its own copy of memory and stack, as fork.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD as u64) as c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    check_long(ret).map(|p| p as libc::pid_t)
}

/// [`fork_with`] (no extra flags) that also returns a pidfd for the child (CLONE_PIDFD, Linux
/// 5.2): 0 and -1 in the child, the child's pid and its pidfd in the parent. Unlike
/// pidfd_open(2) afterwards, this needs no system call a seccomp profile may lack.
pub(crate) fn fork_with_pidfd() -> R<(libc::pid_t, RawFd)> {
    let mut pidfd: c_int = -1;
    // SAFETY: without CLONE_VM the child gets its own copy of memory and stack, as fork;
    // with CLONE_PIDFD the kernel stores the pidfd at the third argument (parent_tid on
    // every architecture we build for), which points to a live int.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PIDFD as u64 | libc::SIGCHLD as u64) as c_ulong,
            0usize,
            &mut pidfd as *mut c_int,
            0usize,
            0usize,
        )
    };
    check_long(ret).map(|p| (p as libc::pid_t, pidfd))
}

/// execve(2); returns only on failure.
///
/// # Safety
/// `argv` and `envp` must each end with a null pointer, and every other pointer in them
/// must point to a NUL-terminated string that stays alive for the call.
pub(crate) unsafe fn execve(
    path: &CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Errno {
    // SAFETY: the caller guarantees null-terminated arrays of live C strings.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

/// faccessat(2) with X_OK, checked against the real ids.
///
/// The plain faccessat system call, not glibc's wrapper: that tries faccessat2 first and
/// falls back only on ENOSYS, and a container's seccomp profile that predates faccessat2
/// denies it with EPERM (runtime-tools' default profile does).
pub fn executable(path: &CStr) -> R {
    // SAFETY: a valid C string; faccessat takes (dirfd, path, mode) and no flags.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_faccessat,
            libc::AT_FDCWD,
            path.as_ptr(),
            libc::X_OK,
        )
    })
    .map(drop)
}

/// waitpid(2), retrying on EINTR; returns the raw status.
pub fn waitpid(pid: libc::pid_t, flags: c_int) -> R<(libc::pid_t, c_int)> {
    let mut status = 0;
    loop {
        // SAFETY: status is a valid int to write.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        if ret >= 0 {
            return Ok((ret, status));
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// waitid(2) with `WEXITED | WNOHANG | WNOWAIT`: how a child has ended, without reaping it.
/// `Ok(None)` while it runs; `Ok(Some((code, signal)))` once it has exited (one of the two
/// is `Some`).
pub fn peek_child_exit(pid: libc::pid_t) -> R<Option<(Option<c_int>, Option<c_int>)>> {
    // SAFETY: an all-zero siginfo_t is valid; waitid leaves si_pid 0 when nothing is ready.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: info is a valid siginfo_t to write.
        let ret = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if ret == 0 {
            break;
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
    // SAFETY: waitid filled info (or left it zeroed); si_pid and si_status read the
    // SIGCHLD fields, which is what waitid writes.
    let (si_pid, si_status) = unsafe { (info.si_pid(), info.si_status()) };
    if si_pid == 0 {
        return Ok(None);
    }
    Ok(Some(if info.si_code == libc::CLD_EXITED {
        (Some(si_status), None)
    } else {
        (None, Some(si_status))
    }))
}

/// waitid(2) on any child with `WEXITED | WNOWAIT`, blocking, retrying on EINTR: the pid
/// of a child that has ended, left unreaped (a waitpid of that pid reaps it).
pub fn wait_any_nowait() -> R<libc::pid_t> {
    // SAFETY: an all-zero siginfo_t is valid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: info is a valid siginfo_t to write.
        let ret = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if ret == 0 {
            break;
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
    // SAFETY: waitid filled the SIGCHLD fields of info, which si_pid reads.
    Ok(unsafe { info.si_pid() })
}

/// kill(2).
pub fn kill(pid: libc::pid_t, sig: c_int) -> R {
    // SAFETY: plain integers.
    check(unsafe { libc::kill(pid, sig) }).map(drop)
}

/// pidfd_open(2).
pub fn pidfd_open(pid: libc::pid_t) -> R<RawFd> {
    // SAFETY: plain integers.
    check_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) }).map(|fd| fd as RawFd)
}

/// poll(2) on `fds`, retrying on EINTR; the number of fds with events.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> R<usize> {
    loop {
        // SAFETY: `fds` is a valid, exclusively borrowed slice of pollfd records of the
        // length given; the kernel only writes their `revents`.
        let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let e = errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// poll(2) on one fd for input; Ok(true) when ready, Ok(false) on timeout.
pub(crate) fn poll_in(fd: RawFd, timeout_ms: c_int) -> R<bool> {
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    poll(&mut p, timeout_ms).map(|n| n > 0)
}

/// send(2) with MSG_NOSIGNAL: a peer that is gone yields EPIPE, not SIGPIPE.
pub(crate) fn send(sock: RawFd, buf: &[u8]) -> R {
    // SAFETY: buf is a valid readable slice.
    let n = unsafe { libc::send(sock, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
    if n < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// close_range(2) with CLOSE_RANGE_CLOEXEC: marks every fd from `first` up close-on-exec.
pub(crate) fn cloexec_from(first: u32) -> R {
    const CLOSE_RANGE_CLOEXEC: c_int = 1 << 2;
    // SAFETY: plain integers.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    check_long(ret).map(drop)
}

/// close_range(2): closes fds `first..=last`.
pub(crate) fn close_range(first: u32, last: u32) -> R {
    // SAFETY: plain integers; the fds closed are ones this process owns.
    check_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) }).map(drop)
}

/// Sets every catchable signal's disposition to SIG_DFL and unblocks all signals: what a
/// freshly exec'd program expects (the host may ignore SIGPIPE, as Rust programs do, or run
/// handlers that must never run in the child).
pub(crate) fn reset_signals() -> R {
    // The kernel's struct sigaction: handler, flags, restorer, mask. All zero is SIG_DFL.
    // The raw call, because glibc's wrapper refuses the signals it reserves (32, 33), which
    // the host may well have set to SIG_IGN.
    let act = [0u64; 4];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: act is a valid kernel sigaction (SIG_DFL) of the size passed (8-byte mask).
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                act.as_ptr(),
                ptr::null_mut::<u64>(),
                8usize,
            )
        };
    }
    set_signal_mask(&empty_sigset()).map(drop)
}

/// An empty signal set.
pub fn empty_sigset() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        set
    }
}

/// A full signal set.
pub fn full_sigset() -> libc::sigset_t {
    // SAFETY: sigfillset initialises the set it is given.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        set
    }
}

/// pthread_sigmask(SIG_SETMASK): sets this thread's mask, returning the old one.
pub fn set_signal_mask(set: &libc::sigset_t) -> R<libc::sigset_t> {
    let mut old = empty_sigset();
    // SAFETY: both pointers are valid sigsets.
    let r = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, set, &mut old) };
    if r != 0 {
        Err(r)
    } else {
        Ok(old)
    }
}

/// _exit(2).
pub fn exit(code: c_int) -> ! {
    // SAFETY: _exit never returns and runs no atexit handlers.
    unsafe { libc::_exit(code) }
}

/// Formats `/proc/self/fd/<fd>` into `buf` and returns it as a C string.
pub fn proc_fd_path(buf: &mut [u8; 32], fd: RawFd) -> &CStr {
    numbered_path(buf, b"/proc/self/fd/", fd.max(0) as u32)
}

/// Formats `/dev/pts/<n>` (a pty slave's path, as ptsname(3) gives it) into `buf`.
pub(crate) fn pts_path(buf: &mut [u8; 32], n: u32) -> &CStr {
    numbered_path(buf, b"/dev/pts/", n)
}

/// `prefix` then `n` in decimal, nul-terminated in `buf`, without allocating (a prefix
/// longer than 20 bytes, which leaves no room for ten digits and the nul, is cut).
fn numbered_path<'a>(buf: &'a mut [u8; 32], prefix: &[u8], mut n: u32) -> &'a CStr {
    let prefix = &prefix[..prefix.len().min(buf.len() - 11)];
    buf[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[prefix.len() + i] = digits[len - 1 - i];
    }
    buf[prefix.len() + len] = 0;
    CStr::from_bytes_until_nul(&buf[..]).unwrap_or(c"/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_fd_paths_are_formatted_without_allocation() {
        let mut buf = [0u8; 32];
        assert_eq!(proc_fd_path(&mut buf, 0).to_bytes(), b"/proc/self/fd/0");
        assert_eq!(proc_fd_path(&mut buf, 7).to_bytes(), b"/proc/self/fd/7");
        assert_eq!(
            proc_fd_path(&mut buf, 1234567).to_bytes(),
            b"/proc/self/fd/1234567"
        );
        assert_eq!(pts_path(&mut buf, 0).to_bytes(), b"/dev/pts/0");
        assert_eq!(
            pts_path(&mut buf, u32::MAX).to_bytes(),
            b"/dev/pts/4294967295"
        );
    }
}
