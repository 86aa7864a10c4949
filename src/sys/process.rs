//! Starting a container's init (or exec) process from a prepared plan.
//!
//! The parent builds an [`InitPlan`]: every path as a C string, every fd opened, every
//! mount, device, capability mask and rlimit decided. [`spawn`] clones a child that walks
//! the plan with raw system calls only — no allocation, no lock, no environment — so it is
//! safe from a multi-threaded host. The child reports progress and failure over a
//! `SOCK_SEQPACKET` socket as fixed-size messages; a failure is `(step, index, errno)`,
//! which the caller turns into an error naming the step and the path (see [`Step`]).

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use libc::{c_char, c_int, c_ulong};

use super::raw::{self, Errno, R};
use super::seccomp::SeccompProgram;

/// A step of the child's setup, reported with a failure.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Step {
    Stdio = 1,
    Signals,
    JoinCgroup,
    JoinNamespace,
    Unshare,
    WaitIdMap,
    BecomeRoot,
    RootPropagation,
    BindRootfs,
    OpenRootfs,
    MountTarget,
    Mount,
    MountPropagation,
    MountRemount,
    Device,
    DevSymlink,
    CreateContainerHook,
    PivotRoot,
    Chroot,
    MaskPath,
    ReadonlyPath,
    ReadonlyRoot,
    Sysctl,
    Hostname,
    Domainname,
    Console,
    Rlimit,
    Groups,
    Gid,
    Uid,
    Bounding,
    KeepCaps,
    Capabilities,
    Ambient,
    Cwd,
    NoNewPrivileges,
    Apparmor,
    Selinux,
    Seccomp,
    FindExecutable,
    WaitStart,
    StartContainerHook,
    Exec,
    Sync,
    ParentDeathSignal,
    Loopback,
    /// Closing the host's fds the child must not hold.
    CloseFds,
    /// Marking fds close-on-exec (the index is 0), or clearing the flag of a preserved fd
    /// (the index is the fd).
    Cloexec,
    /// Starting fuse-overlayfs for the rootfs ([`FusePlan`]): the errno of fork or wait; the
    /// index is the errno of the native overlay mount that failed before (0 when
    /// fuse-overlayfs was asked for).
    FuseOverlay,
    /// fuse-overlayfs exited without mounting: the errno field holds its wait status; the
    /// index as for [`Step::FuseOverlay`].
    FuseOverlayExit,
}

impl Step {
    fn from_u32(v: u32) -> Option<Step> {
        const ALL: [Step; 50] = [
            Step::Stdio,
            Step::Signals,
            Step::JoinCgroup,
            Step::JoinNamespace,
            Step::Unshare,
            Step::WaitIdMap,
            Step::BecomeRoot,
            Step::RootPropagation,
            Step::BindRootfs,
            Step::OpenRootfs,
            Step::MountTarget,
            Step::Mount,
            Step::MountPropagation,
            Step::MountRemount,
            Step::Device,
            Step::DevSymlink,
            Step::CreateContainerHook,
            Step::PivotRoot,
            Step::Chroot,
            Step::MaskPath,
            Step::ReadonlyPath,
            Step::ReadonlyRoot,
            Step::Sysctl,
            Step::Hostname,
            Step::Domainname,
            Step::Console,
            Step::Rlimit,
            Step::Groups,
            Step::Gid,
            Step::Uid,
            Step::Bounding,
            Step::KeepCaps,
            Step::Capabilities,
            Step::Ambient,
            Step::Cwd,
            Step::NoNewPrivileges,
            Step::Apparmor,
            Step::Selinux,
            Step::Seccomp,
            Step::FindExecutable,
            Step::WaitStart,
            Step::StartContainerHook,
            Step::Exec,
            Step::Sync,
            Step::ParentDeathSignal,
            Step::Loopback,
            Step::CloseFds,
            Step::Cloexec,
            Step::FuseOverlay,
            Step::FuseOverlayExit,
        ];
        ALL.iter().copied().find(|s| *s as u32 == v)
    }
}

/// A failure reported by the child: the step, the index into the plan's list for that
/// step (which mount, which device), and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildFailure {
    /// The step that failed.
    pub step: Step,
    /// Which entry of the step's list (mount, device, path, hook), or 0.
    pub index: u32,
    /// The errno.
    pub errno: i32,
}

impl ChildFailure {
    /// The OS error.
    pub fn io_error(&self) -> io::Error {
        io::Error::from_raw_os_error(self.errno)
    }
}

/// How a bind or file system mount is to be made.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// Source: a host path for binds, the device or fs name otherwise.
    pub source: Option<CString>,
    /// Destination relative to the rootfs, without a leading `/`.
    pub target: CString,
    /// File system type (None for binds).
    pub fstype: Option<CString>,
    /// MS_* flags for the first mount call.
    pub flags: c_ulong,
    /// Data (file system options).
    pub data: Option<CString>,
    /// A bind mount: the target is created as a file when the source is not a directory.
    pub bind_file: bool,
    /// MS_* flags for a bind remount after the mount (ro, nosuid, …), or 0.
    pub remount: c_ulong,
    /// Propagation flags (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE, with MS_REC), or 0.
    pub propagation: c_ulong,
    /// `MOUNT_ATTR_*` flags set and cleared on the mount and every mount below it, last
    /// (`mount_setattr(2)` with `AT_RECURSIVE`: the OCI options `rro`, `rnosuid`, …), or 0.
    pub recursive: (u64, u64),
}

/// A device node to create under the rootfs.
#[derive(Debug, Clone)]
pub struct DevicePlan {
    /// Path relative to the rootfs (`dev/null`).
    pub path: CString,
    /// The host device to bind instead of mknod (in a user namespace).
    pub bind_from: Option<CString>,
    /// S_IFCHR/S_IFBLK/S_IFIFO | permission bits.
    pub mode: u32,
    /// makedev(major, minor).
    pub rdev: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The root file system and everything mounted in it.
#[derive(Debug, Clone)]
pub struct RootfsPlan {
    /// Absolute host path of the rootfs.
    pub rootfs: CString,
    /// The overlay options (`lowerdir=…,upperdir=…,workdir=…`) to mount an overlay at the
    /// rootfs with, in the container's mount namespace, instead of binding it to itself.
    pub overlay: Option<CString>,
    /// fuse-overlayfs to mount the overlay with instead of the kernel's overlayfs: always,
    /// or when the native mount fails as kernels before 5.11 fail it in a user namespace
    /// (see [`FusePlan`]). Needs `overlay`.
    pub fuse: Option<FusePlan>,
    /// Propagation applied to `/` first (MS_SLAVE|MS_REC by default).
    pub root_propagation: c_ulong,
    /// Mounts, in the spec's order.
    pub mounts: Vec<MountPlan>,
    /// Devices to create.
    pub devices: Vec<DevicePlan>,
    /// Symlinks to create, (target, path relative to rootfs).
    pub symlinks: Vec<(CString, CString)>,
    /// pivot_root (true) or MS_MOVE + chroot (the `--no-pivot` mode).
    pub pivot: bool,
    /// The container has no mount namespace of its own: everything is mounted under the
    /// rootfs in the caller's mount namespace (whose `/` is never touched), and the child
    /// chroots into it. The caller detaches the rootfs mount when the container goes.
    pub host_ns: bool,
    /// Paths (absolute in the container) to mask.
    pub masked: Vec<CString>,
    /// Paths to make read-only.
    pub readonly: Vec<CString>,
    /// Remount `/` read-only at the end.
    pub readonly_root: bool,
    /// The working directory, relative to the rootfs, created if missing.
    pub cwd: Option<CString>,
}

/// fuse-overlayfs, run by the child to mount the rootfs's overlay where the kernel's
/// overlayfs cannot be mounted in a user namespace (Linux before 5.11, or no overlayfs).
///
/// The child forks it after entering the container's user and mount namespaces, before
/// `pivot_root` (so files it creates in the upper dir get the namespace's ids) and waits
/// for it: it daemonizes once the mount is up and exits non-zero if it cannot mount. The
/// daemon runs in a mount namespace of its own whose mount propagates to the container's
/// (see the child's `mount_fuse`), in the container's user and pid namespaces (the runtime
/// requires one of the container's own), so it dies with the container and its mount goes
/// with the namespaces: nothing is left on the host.
#[derive(Debug)]
pub struct FusePlan {
    /// The fuse-overlayfs executable (resolved by the caller).
    pub path: CString,
    /// Only after the native mount failed with `EPERM`, `EINVAL` or `ENODEV` (what a kernel
    /// without overlayfs in user namespaces answers); `false`: instead of it.
    pub fallback: bool,
    /// Where fuse-overlayfs's stdout and stderr go until it daemonizes (a file the caller
    /// reads its message from after a failure; its warnings stay out of the container's
    /// output); `None`: the container's stdio.
    pub output: Option<OwnedFd>,
    exec: ArgvEnvp,
}

impl Clone for FusePlan {
    /// A copy with pointer arrays of its own, into its own strings.
    fn clone(&self) -> Self {
        let mut c = FusePlan::new(
            self.path.clone(),
            self.exec.args.clone(),
            self.exec.env.clone(),
            self.fallback,
        );
        c.output = self.output.as_ref().and_then(|f| f.try_clone().ok());
        c
    }
}

impl FusePlan {
    /// fuse-overlayfs at `path` with its argv (`fuse-overlayfs -o <options> <rootfs>`) and env.
    pub fn new(path: CString, args: Vec<CString>, env: Vec<CString>, fallback: bool) -> Self {
        FusePlan {
            path,
            fallback,
            output: None,
            exec: ArgvEnvp::new(args, env),
        }
    }

    /// The argv.
    pub fn args(&self) -> &[CString] {
        &self.exec.args
    }

    /// The environment.
    pub fn env(&self) -> &[CString] {
        &self.exec.env
    }
}

/// The errnos of a native overlay mount that the fuse-overlayfs fallback answers: `EPERM`
/// (overlayfs is not mountable in a user namespace before Linux 5.11), `EINVAL` (an option
/// the kernel's overlayfs lacks, such as `userxattr`), `ENODEV` (no overlayfs at all).
pub fn fuse_fallback_errno(errno: i32) -> bool {
    matches!(errno, libc::EPERM | libc::EINVAL | libc::ENODEV)
}

/// A hook run by the child itself (createContainer, startContainer).
#[derive(Debug)]
pub struct HookPlan {
    /// The executable.
    pub path: CString,
    /// Timeout in milliseconds, or -1.
    pub timeout_ms: c_int,
    exec: ArgvEnvp,
}

impl HookPlan {
    /// A hook from its path, args and env.
    pub fn new(path: CString, args: Vec<CString>, env: Vec<CString>, timeout_ms: c_int) -> Self {
        HookPlan {
            path,
            timeout_ms,
            exec: ArgvEnvp::new(args, env),
        }
    }

    /// The hook's argv.
    pub fn args(&self) -> &[CString] {
        &self.exec.args
    }

    /// The hook's environment.
    pub fn env(&self) -> &[CString] {
        &self.exec.env
    }
}

/// The argv and envp of an execve: owned C strings and the null-terminated pointer arrays
/// into them. All private, so that no string the pointers point into can be replaced;
/// they live as long as this does.
#[derive(Debug)]
struct ArgvEnvp {
    args: Vec<CString>,
    env: Vec<CString>,
    argv: Vec<*const c_char>,
    envp: Vec<*const c_char>,
}

impl ArgvEnvp {
    fn new(args: Vec<CString>, env: Vec<CString>) -> Self {
        let argv = null_terminated(&args);
        let envp = null_terminated(&env);
        ArgvEnvp {
            args,
            env,
            argv,
            envp,
        }
    }
}

fn null_terminated(v: &[CString]) -> Vec<*const c_char> {
    v.iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Capability masks (bit N = capability N).
#[derive(Debug, Clone, Copy, Default)]
pub struct CapsPlan {
    /// Bounding set.
    pub bounding: u64,
    /// Effective set.
    pub effective: u64,
    /// Permitted set.
    pub permitted: u64,
    /// Inheritable set.
    pub inheritable: u64,
    /// Ambient set.
    pub ambient: u64,
    /// The highest capability the kernel knows (/proc/sys/kernel/cap_last_cap).
    pub last_cap: u8,
}

/// The process to exec and its credentials.
#[derive(Debug)]
pub struct ProcessPlan {
    /// Fds to install as 0, 1, 2 (None: keep what is inherited).
    pub stdio: [Option<OwnedFd>; 3],
    /// Open a pty in the container, send its master over the sync socket, use the slave
    /// as stdio and controlling terminal; (rows, cols) when a size is given.
    pub console: Option<(u16, u16)>,
    /// (resource, soft, hard).
    pub rlimits: Vec<(c_int, u64, u64)>,
    /// Working directory inside the container.
    pub cwd: CString,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups, or None to leave them (a user namespace with setgroups denied).
    pub groups: Option<Vec<libc::gid_t>>,
    /// umask.
    pub umask: Option<u32>,
    /// Capabilities; None leaves them as they are.
    pub caps: Option<CapsPlan>,
    /// prctl(PR_SET_NO_NEW_PRIVS).
    pub no_new_privs: bool,
    /// Contents to write to /proc/self/attr/apparmor/exec (`exec <profile>`).
    pub apparmor: Option<CString>,
    /// Contents to write to /proc/self/attr/exec (an SELinux context).
    pub selinux: Option<CString>,
    /// The compiled seccomp filter.
    pub seccomp: Option<SeccompProgram>,
    /// Full paths to try for `argv[0]`, in order (PATH search done by the parent).
    pub exec_candidates: Vec<CString>,
    exec: ArgvEnvp,
    /// Fds 3..3+N stay open across exec.
    pub preserve_fds: u32,
    /// prctl(PR_SET_PDEATHSIG): the signal the process gets when the thread that cloned it
    /// (or, after a second fork, the thread that cloned its parent) exits. Set after the
    /// credentials change, which would clear it.
    pub parent_death_signal: Option<c_int>,
}

impl ProcessPlan {
    /// A plan that execs `args` with `env` as root in `/`, changing nothing else.
    pub fn new(args: Vec<CString>, env: Vec<CString>, exec_candidates: Vec<CString>) -> Self {
        ProcessPlan {
            stdio: [None, None, None],
            console: None,
            rlimits: Vec::new(),
            cwd: c"/".to_owned(),
            uid: 0,
            gid: 0,
            groups: Some(Vec::new()),
            umask: None,
            caps: None,
            no_new_privs: false,
            apparmor: None,
            selinux: None,
            seccomp: None,
            exec_candidates,
            exec: ArgvEnvp::new(args, env),
            preserve_fds: 0,
            parent_death_signal: None,
        }
    }

    /// The process's argv.
    pub fn args(&self) -> &[CString] {
        &self.exec.args
    }

    /// The process's environment.
    pub fn env(&self) -> &[CString] {
        &self.exec.env
    }
}

/// How the child learns that it may exec.
#[derive(Debug)]
pub enum StartSignal {
    /// Exec as soon as setup is done.
    Immediately,
    /// Wait for a byte on the sync socket (the in-process `run`).
    Sync,
    /// Wait for a byte on this fd: the exec fifo, opened read-write (`create`/`start`).
    Fifo(OwnedFd),
}

/// Everything the child does, decided in advance.
#[derive(Debug)]
pub struct InitPlan {
    /// CLONE_NEW* flags for clone itself ([`spawn`] refuses any other flag).
    pub clone_flags: u64,
    /// Namespaces to join: (fd, CLONE_NEW* type), in order.
    pub join: Vec<(OwnedFd, c_int)>,
    /// CLONE_NEW* flags to unshare after joining (always includes the cgroup namespace
    /// when one is requested, so it is rooted at the container's cgroup).
    pub unshare_flags: c_int,
    /// cgroup.procs files to write "0" to.
    pub cgroup_procs: Vec<OwnedFd>,
    /// On a cgroup v2 host: the cgroup directory to clone straight into (CLONE_INTO_CGROUP,
    /// no attach afterwards); `cgroup_procs` is the fallback for kernels before 5.7.
    pub cgroup_dir: Option<OwnedFd>,
    joined_at_clone: bool,
    /// Wait for the parent to write uid/gid maps, then become root of the new user ns.
    pub user_ns: bool,
    /// After unsharing (a pid namespace among them), fork once more: the grandchild,
    /// pid 1 of the new pid namespace, goes on; the child reports its pid and exits.
    pub second_fork: bool,
    /// Mounts and rootfs; None for an exec or a container without a mount namespace.
    pub rootfs: Option<RootfsPlan>,
    /// chroot into this directory (no mount namespace, or an exec into such a container).
    pub chroot: Option<OwnedFd>,
    /// Stop after mounts, before pivot_root, for the parent's createRuntime hooks.
    pub hooks_sync: bool,
    /// createContainer hooks.
    pub create_container_hooks: Vec<HookPlan>,
    /// startContainer hooks.
    pub start_container_hooks: Vec<HookPlan>,
    /// Buffer that receives the state JSON for the child's hooks (allocated and zeroed by
    /// `spawn` when `hooks_sync` is set: the child may not allocate).
    hook_state: Vec<u8>,
    /// sysctls: (path under /proc/sys, value).
    pub sysctls: Vec<(CString, CString)>,
    /// Bring `lo` up (the plan makes a network namespace of its own: a fresh one has its
    /// loopback down, and Docker's `--network none` has it up).
    pub loopback_up: bool,
    /// Hostname.
    pub hostname: Option<CString>,
    /// NIS domain name.
    pub domainname: Option<CString>,
    /// The process.
    pub process: ProcessPlan,
    /// When to exec.
    pub start: StartSignal,
    /// Every fd the child may use, sorted; filled by [`spawn`]. The child closes all others
    /// first thing, so it holds none of the host's files (a flock held by the host, a
    /// socket) while it waits to be started.
    keep_fds: Vec<RawFd>,
}

impl InitPlan {
    /// An empty plan for `process`: no namespaces, no mounts, exec at once.
    pub fn new(process: ProcessPlan) -> Self {
        InitPlan {
            clone_flags: 0,
            join: Vec::new(),
            unshare_flags: 0,
            cgroup_procs: Vec::new(),
            cgroup_dir: None,
            joined_at_clone: false,
            user_ns: false,
            second_fork: false,
            rootfs: None,
            chroot: None,
            hooks_sync: false,
            create_container_hooks: Vec::new(),
            start_container_hooks: Vec::new(),
            hook_state: Vec::new(),
            sysctls: Vec::new(),
            loopback_up: false,
            hostname: None,
            domainname: None,
            process,
            start: StartSignal::Immediately,
            keep_fds: Vec::new(),
        }
    }

    fn collect_keep_fds(&mut self, sync: RawFd) {
        let mut keep = vec![sync];
        keep.extend(self.join.iter().map(|(fd, _)| fd.as_raw_fd()));
        keep.extend(self.cgroup_procs.iter().map(|fd| fd.as_raw_fd()));
        keep.extend(self.chroot.iter().map(|fd| fd.as_raw_fd()));
        keep.extend(self.process.stdio.iter().flatten().map(|fd| fd.as_raw_fd()));
        if let StartSignal::Fifo(fd) = &self.start {
            keep.push(fd.as_raw_fd());
        }
        let fuse = self.rootfs.as_ref().and_then(|r| r.fuse.as_ref());
        keep.extend(
            fuse.and_then(|f| f.output.as_ref())
                .map(|fd| fd.as_raw_fd()),
        );
        keep.extend(3..3 + self.process.preserve_fds as RawFd);
        keep.sort_unstable();
        keep.dedup();
        self.keep_fds = keep;
    }
}

/// Closes every fd from 3 up that is not in `keep` (sorted), one close_range per gap.
fn close_others(keep: &[RawFd]) -> R {
    let mut next: u32 = 3;
    for &fd in keep {
        let fd = fd as u32;
        if fd < next {
            continue;
        }
        if fd > next {
            raw::close_range(next, fd - 1)?;
        }
        next = fd + 1;
    }
    raw::close_range(next, u32::MAX)
}

// Messages on the sync socket. Child to parent: 16 bytes [kind, step, index, errno].
/// The size of the buffer the child receives the hooks' state JSON in.
const HOOK_STATE_MAX: usize = 65536;

/// The flags [`InitPlan::clone_flags`] may hold: the CLONE_NEW* ones (0x80 is
/// CLONE_NEWTIME, missing from libc).
const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP
    | 0x80) as u64;

const MSG_IDMAP: u32 = 1;
const MSG_HOOKS: u32 = 2;
const MSG_READY: u32 = 3;
const MSG_FAIL: u32 = 4;
const MSG_CONSOLE: u32 = 5;
const MSG_PID: u32 = 6;

/// What the child asked of its parent or told it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildMessage {
    /// A new user namespace waits for its uid/gid maps.
    IdMap,
    /// Mounts are done; run the createRuntime/prestart hooks, then send the state JSON.
    Hooks,
    /// Setup is complete; the child waits for the start signal.
    Ready,
    /// The pty master was sent with this message.
    Console,
    /// The child forked pid 1 of the new pid namespace (this pid, in the caller's pid
    /// namespace, a child of the caller) and exited: reap the child, follow this one.
    Pid(libc::pid_t),
    /// Setup failed.
    Failed(ChildFailure),
    /// The child exec'd (the socket closed without a failure).
    Execed,
}

/// The parent's end of a spawned child.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid in the caller's pid namespace.
    pub pid: libc::pid_t,
    /// A pidfd for the child, when the kernel supports it.
    pub pidfd: Option<OwnedFd>,
    /// The sync socket.
    pub sync: OwnedFd,
}

impl Spawned {
    /// Receives the next message from the child; a pty master fd arrives with `Console`.
    pub fn recv(&self) -> io::Result<(ChildMessage, Option<OwnedFd>)> {
        let mut buf = [0u32; 4];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: 16,
        };
        let mut cbuf = [0u64; 4];
        // SAFETY: a zeroed msghdr is a valid empty message.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = loop {
            // SAFETY: msg describes valid buffers owned by this frame.
            let n =
                unsafe { libc::recvmsg(self.sync.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if n >= 0 {
                break n as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        };
        let mut fd = None;
        // SAFETY: msg was filled by recvmsg; CMSG_FIRSTHDR reads its control fields.
        let cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        if !cmsg.is_null() {
            // SAFETY: cmsg points into cbuf as set up by the kernel.
            let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
            if level == libc::SOL_SOCKET && kind == libc::SCM_RIGHTS {
                // SAFETY: an SCM_RIGHTS message carries at least one int.
                let raw =
                    unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<c_int>()) };
                // SAFETY: the kernel installed this fd for us; we own it now.
                fd = Some(unsafe { OwnedFd::from_raw_fd(raw) });
            }
        }
        if n == 0 {
            return Ok((ChildMessage::Execed, fd));
        }
        if n != 16 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "short message from container init",
            ));
        }
        let m = match buf[0] {
            MSG_IDMAP => ChildMessage::IdMap,
            MSG_HOOKS => ChildMessage::Hooks,
            MSG_READY => ChildMessage::Ready,
            MSG_CONSOLE => ChildMessage::Console,
            MSG_PID => ChildMessage::Pid(buf[1] as libc::pid_t),
            MSG_FAIL => ChildMessage::Failed(ChildFailure {
                step: Step::from_u32(buf[1]).unwrap_or(Step::Sync),
                index: buf[2],
                errno: buf[3] as i32,
            }),
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "unknown message from container init",
                ))
            }
        };
        Ok((m, fd))
    }

    /// Tells the child to go on (after id maps, or to exec).
    pub fn proceed(&self) -> io::Result<()> {
        raw::write_all(self.sync.as_raw_fd(), &[1u8]).map_err(io::Error::from_raw_os_error)
    }

    /// Sends the state JSON for the child's hooks (after createRuntime hooks ran).
    pub fn send_state(&self, state: &[u8]) -> io::Result<()> {
        raw::write_all(self.sync.as_raw_fd(), state).map_err(io::Error::from_raw_os_error)
    }
}

/// Clones the child and lets it walk `plan`. The caller keeps the plan alive and reads the
/// child's messages from the returned [`Spawned`].
///
/// # Errors
/// The socketpair or clone failed.
pub fn spawn(plan: &mut InitPlan) -> io::Result<Spawned> {
    // Any other clone flag (CLONE_VM, CLONE_FILES, CLONE_SETTLS, ...) would let the child
    // write to our memory or file table.
    if plan.clone_flags & !NAMESPACE_FLAGS != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "clone flags {:#x} are not CLONE_NEW* namespace flags",
                plan.clone_flags & !NAMESPACE_FLAGS
            ),
        ));
    }
    let mut fds = [0 as c_int; 2];
    // SAFETY: fds is a valid array of two ints.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socketpair returned two fresh fds we now own.
    let (parent_end, child_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    plan.collect_keep_fds(child_end.as_raw_fd());
    if plan.hooks_sync && plan.hook_state.len() < HOOK_STATE_MAX {
        plan.hook_state = vec![0; HOOK_STATE_MAX];
    }
    // No host signal handler may run in the child: block everything across the clone; the
    // child resets every disposition to the default before it unblocks.
    let old_mask =
        raw::set_signal_mask(&raw::full_sigset()).map_err(io::Error::from_raw_os_error)?;
    let mut pidfd: c_int = -1;
    // The child sees this flag as it was at its clone: set for CLONE_INTO_CGROUP, cleared
    // again before a fallback that needs the cgroup.procs writes.
    let into = plan.cgroup_dir.as_ref().map(|fd| fd.as_raw_fd());
    plan.joined_at_clone = into.is_some();
    let mut pid = clone3(plan.clone_flags, &mut pidfd, into);
    if into.is_some()
        && matches!(
            pid,
            Err(libc::ENOSYS) | Err(libc::EINVAL) | Err(libc::E2BIG)
        )
    {
        // A kernel older than 5.7: no CLONE_INTO_CGROUP.
        plan.joined_at_clone = false;
        pid = clone3(plan.clone_flags, &mut pidfd, None);
    }
    let pid = pid.or_else(|e| {
        if e == libc::ENOSYS {
            pidfd = -1;
            plan.joined_at_clone = false;
            raw::fork_with(plan.clone_flags)
        } else {
            Err(e)
        }
    });
    if pid != Ok(0) {
        let _ = raw::set_signal_mask(&old_mask);
    }
    match pid {
        Err(e) => Err(io::Error::from_raw_os_error(e)),
        Ok(0) => {
            // The child: walk the plan, never return.
            let sync = child_end.as_raw_fd();
            match run_child(plan, sync) {
                Ok(never) => match never {},
                Err((step, index, errno)) => {
                    report(sync, MSG_FAIL, step as u32, index, errno);
                    raw::exit(127);
                }
            }
        }
        Ok(pid) => {
            drop(child_end);
            let pidfd = if pidfd >= 0 {
                // SAFETY: clone3 with CLONE_PIDFD stored a fresh fd we now own.
                Some(unsafe { OwnedFd::from_raw_fd(pidfd) })
            } else {
                None
            };
            Ok(Spawned {
                pid,
                pidfd,
                sync: parent_end,
            })
        }
    }
}

/// Like [`spawn`], but the child is created inside the pid namespace `pidns` (joining a
/// pid namespace affects only children, so the clone happens from a short-lived thread that
/// joined it first; the host's other threads are untouched).
///
/// # Errors
/// Joining the namespace, the socketpair or clone failed.
pub fn spawn_in_pid_ns(plan: &mut InitPlan, pidns: Option<&OwnedFd>) -> io::Result<Spawned> {
    let Some(ns) = pidns else { return spawn(plan) };
    struct SendPlan<'a>(&'a mut InitPlan);
    // SAFETY: the plan's raw pointers point into its own CStrings; the scoped thread uses
    // it exclusively while this frame waits for it.
    unsafe impl Send for SendPlan<'_> {}
    let boxed = SendPlan(plan);
    let fd = ns.as_raw_fd();
    std::thread::scope(|s| {
        s.spawn(move || {
            let b = boxed;
            raw::setns(fd, libc::CLONE_NEWPID).map_err(io::Error::from_raw_os_error)?;
            spawn(b.0)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("spawn thread panicked")))
    })
}

/// Has `cmd`'s child get each `(fd, target)` of `fds` as its descriptor `target` (without
/// close-on-exec), as a shell's `3<&fd` does: for a helper program told to open
/// `/proc/self/fd/<target>`.
///
/// The fds must stay open until the command is spawned; targets must not collide with
/// sources (use ones above every fd `fds` names, or the standard 3, 4 … with sources
/// higher).
pub fn pass_fds(cmd: &mut std::process::Command, fds: &[(BorrowedFd<'_>, RawFd)]) {
    use std::os::unix::process::CommandExt;
    let pairs: Vec<(RawFd, RawFd)> = fds.iter().map(|(f, t)| (f.as_raw_fd(), *t)).collect();
    // SAFETY: between fork and exec the closure only calls dup2 (async-signal-safe) on
    // plain integers it owns; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for &(src, target) in &pairs {
                if libc::dup2(src, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Has `cmd`'s child receive `signal` when the thread that spawns it exits
/// (`PR_SET_PDEATHSIG`, which survives the exec of a program that is not set-id): for a
/// helper that must not outlive the program that started it. Spawn it from a thread that
/// lives as long as the helper should (the kernel watches that thread, not the process).
pub fn parent_death_signal(cmd: &mut std::process::Command, signal: c_int) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec the closure only calls prctl and getppid
    // (async-signal-safe) with plain integers; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as c_ulong, 0, 0, 0) < 0 {
                return Err(io::Error::last_os_error());
            }
            // the parent died before the signal was asked for: it will never come
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Sends `fd` over a connected unix socket with `name` as the payload (runc's
/// `--console-socket` protocol).
///
/// # Errors
/// The sendmsg(2) failed.
pub fn send_fd(sock: BorrowedFd<'_>, fd: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    raw::send_fd(sock.as_raw_fd(), fd.as_raw_fd(), name).map_err(io::Error::from_raw_os_error)
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 without a new stack: a fork-style child, plus a pidfd for the parent.
/// With `cgroup`, the child starts in that cgroup2 directory (CLONE_INTO_CGROUP).
fn clone3(flags: u64, pidfd: &mut c_int, cgroup: Option<RawFd>) -> R<libc::pid_t> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags | libc::CLONE_PIDFD as u64 | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        pidfd: pidfd as *mut c_int as u64,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..Default::default()
    };
    // SAFETY: without CLONE_VM and with no stack the child gets a copy of our memory, as
    // with fork; args is a valid clone_args of the size we pass.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret < 0 {
        Err(raw::errno())
    } else {
        Ok(ret as libc::pid_t)
    }
}

fn encode(kind: u32, step: u32, index: u32, errno: i32) -> [u8; 16] {
    let msg: [u32; 4] = [kind, step, index, errno as u32];
    let mut bytes = [0u8; 16];
    for (i, w) in msg.iter().enumerate() {
        bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
    }
    bytes
}

fn report(sync: RawFd, kind: u32, step: u32, index: u32, errno: i32) {
    // The parent may be gone (a `create` that exited): never die of SIGPIPE for it.
    let _ = raw::send(sync, &encode(kind, step, index, errno));
}

type ChildResult<T = ()> = Result<T, (Step, u32, Errno)>;

trait At<T> {
    fn at(self, step: Step, index: usize) -> ChildResult<T>;
}

impl<T> At<T> for R<T> {
    fn at(self, step: Step, index: usize) -> ChildResult<T> {
        self.map_err(|e| (step, index as u32, e))
    }
}

/// Waits for one byte from the parent on the sync socket.
fn wait_parent(sync: RawFd, step: Step) -> ChildResult {
    let mut b = [0u8; 1];
    match raw::read(sync, &mut b) {
        Ok(1) => Ok(()),
        Ok(_) => Err((step, 0, libc::EPIPE)),
        Err(e) => Err((step, 0, e)),
    }
}

enum Never {}

/// The child's whole life until execve. Runs in a fresh process that shares nothing with
/// the host's other threads; must not allocate.
fn run_child(plan: &mut InitPlan, sync: RawFd) -> ChildResult<Never> {
    raw::reset_signals().at(Step::Signals, 0)?;
    if !plan.user_ns {
        non_dumpable();
    }
    close_others(&plan.keep_fds).at(Step::CloseFds, 0)?;
    let p = &plan.process;
    // Our own fds must not collide with 0..2 (or the preserved range) when stdio is installed.
    for (i, fd) in p.stdio.iter().enumerate() {
        if let Some(fd) = fd {
            raw::dup3(fd.as_raw_fd(), i as c_int, 0).at(Step::Stdio, i)?;
        }
    }

    join_and_unshare(plan, sync)?;

    if let Some(rootfs) = &plan.rootfs {
        prepare_rootfs(rootfs)?;
    }
    if plan.hooks_sync {
        report(sync, MSG_HOOKS, 0, 0, 0);
        let n = recv_state(sync, &mut plan.hook_state)?;
        for (i, hook) in plan.create_container_hooks.iter().enumerate() {
            run_hook(hook, &plan.hook_state[..n]).at(Step::CreateContainerHook, i)?;
        }
    }
    if let Some(rootfs) = &plan.rootfs {
        enter_rootfs(rootfs)?;
    } else if let Some(dir) = &plan.chroot {
        raw::fchdir(dir.as_raw_fd()).at(Step::Chroot, 0)?;
        raw::chroot(c".").at(Step::Chroot, 0)?;
    }
    // The console once the user's mounts are there and before the root is made read-only
    // (runc's order): its /dev/console may have to be created.
    if let Some(size) = plan.process.console {
        setup_console(sync, size, plan.rootfs.is_some())?;
    }

    // Sysctls before the read-only paths (as runc): specs list /proc/sys as read-only.
    for (i, (path, value)) in plan.sysctls.iter().enumerate() {
        let fd = raw::openat(libc::AT_FDCWD, path, libc::O_WRONLY | libc::O_CLOEXEC, 0)
            .at(Step::Sysctl, i)?;
        let r = raw::write_all(fd, value.to_bytes());
        raw::close(fd);
        r.at(Step::Sysctl, i)?;
    }
    if let Some(rootfs) = &plan.rootfs {
        finish_rootfs(rootfs)?;
    }
    if plan.loopback_up {
        raw::loopback_up().at(Step::Loopback, 0)?;
    }
    if let Some(h) = &plan.hostname {
        raw::sethostname(h.to_bytes()).at(Step::Hostname, 0)?;
    }
    if let Some(d) = &plan.domainname {
        raw::setdomainname(d.to_bytes()).at(Step::Domainname, 0)?;
    }

    let p = &plan.process;
    finalize_process(p)?;
    let exe = find_executable(p)?;

    wait_for_start(&plan.start, sync)?;
    if !plan.start_container_hooks.is_empty() {
        // The state for startContainer hooks was sent with the createContainer state.
        let n = plan.hook_state.len();
        for (i, hook) in plan.start_container_hooks.iter().enumerate() {
            run_hook(hook, &plan.hook_state[..n]).at(Step::StartContainerHook, i)?;
        }
    }
    if p.no_new_privs {
        if let Some(filter) = &p.seccomp {
            filter.load().at(Step::Seccomp, 0)?;
        }
    }
    // SAFETY: argv and envp were built by `ArgvEnvp::new` from its own CStrings, which
    // are private (cannot be replaced) and live as long as the plan, and end with null.
    let errno = unsafe { raw::execve(exe, &p.exec.argv, &p.exec.envp) };
    Err((Step::Exec, 0, errno))
}

/// Joins the cgroup (unless clone did) and the namespaces to join, enters a new user
/// namespace (the parent writes its id maps), unshares the rest, and forks again when pid 1
/// must be made in a pid namespace unshared here.
fn join_and_unshare(plan: &InitPlan, sync: RawFd) -> ChildResult {
    if !plan.joined_at_clone {
        for (i, fd) in plan.cgroup_procs.iter().enumerate() {
            raw::write_all(fd.as_raw_fd(), b"0").at(Step::JoinCgroup, i)?;
        }
    }
    for (i, (fd, kind)) in plan.join.iter().enumerate() {
        raw::setns(fd.as_raw_fd(), *kind).at(Step::JoinNamespace, i)?;
    }
    if plan.user_ns {
        if plan.clone_flags & libc::CLONE_NEWUSER as u64 == 0 {
            raw::unshare(libc::CLONE_NEWUSER).at(Step::Unshare, 0)?;
        }
        report(sync, MSG_IDMAP, 0, 0, 0);
        wait_parent(sync, Step::WaitIdMap)?;
        // EINVAL: id 0 is not mapped (a rootless map of the caller's own ids alone, say
        // 1000 to 1000): we stay who we are, with the namespace's full capabilities all
        // the same (they come from making it, not from the uid)
        for set in [raw::setresgid, raw::setresuid] {
            match set(0) {
                Err(e) if e == libc::EINVAL => {}
                r => r.at(Step::BecomeRoot, 0)?,
            }
        }
        // Only now: the parent writes our id maps, which it cannot while we are not dumpable.
        non_dumpable();
    }
    if plan.unshare_flags != 0 {
        raw::unshare(plan.unshare_flags).at(Step::Unshare, 0)?;
    }
    if plan.second_fork {
        // CLONE_PARENT: the new process is our parent's child, so the runtime reaps it.
        let pid = raw::fork_with(libc::CLONE_PARENT as u64).at(Step::Unshare, 1)?;
        if pid != 0 {
            report(sync, MSG_PID, pid as u32, 0, 0);
            raw::exit(0);
        }
    }
    Ok(())
}

/// Waits until the runtime says to exec: at once, over the socket, or through the fifo.
fn wait_for_start(start: &StartSignal, sync: RawFd) -> ChildResult {
    match start {
        StartSignal::Immediately => {}
        StartSignal::Sync => {
            report(sync, MSG_READY, 0, 0, 0);
            wait_parent(sync, Step::WaitStart)?;
        }
        StartSignal::Fifo(fd) => {
            report(sync, MSG_READY, 0, 0, 0);
            let mut b = [0u8; 1];
            match raw::read(fd.as_raw_fd(), &mut b) {
                Ok(1) => {}
                Ok(_) => return Err((Step::WaitStart, 0, libc::EPIPE)),
                Err(e) => return Err((Step::WaitStart, 0, e)),
            }
        }
    }
    Ok(())
}

/// Until its execve the child runs the host's binary: non-dumpable, the container cannot
/// open its `/proc/<pid>/exe` (or attach to it) without `CAP_SYS_PTRACE` (see
/// [`super::sealed`] for the rest). The execve makes the process dumpable again.
fn non_dumpable() {
    // Cannot fail with 0 as the argument.
    let _ = raw::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/// Reads the state JSON into the preallocated, zeroed buffer (never growing it) and
/// shortens the buffer to what was read.
fn recv_state(sync: RawFd, buf: &mut Vec<u8>) -> ChildResult<usize> {
    let n = raw::read(sync, buf).at(Step::CreateContainerHook, 0)?;
    if n == 0 {
        return Err((Step::CreateContainerHook, 0, libc::EPIPE));
    }
    // Shrinking never reallocates.
    buf.truncate(n);
    Ok(n)
}

/// Runs a hook with `state` on its stdin and waits for it, within its timeout.
fn run_hook(hook: &HookPlan, state: &[u8]) -> R {
    let mut pipe = [0 as c_int; 2];
    // SAFETY: pipe is a valid array of two ints.
    if unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(raw::errno());
    }
    // The pidfd comes with the clone: pidfd_open(2) may be denied by the container's
    // seccomp filter, which is loaded before the startContainer hooks run.
    let (pid, pidfd) = raw::fork_with_pidfd()?;
    if pid == 0 {
        let _ = raw::dup3(pipe[0], 0, 0);
        // SAFETY: argv and envp were built by `ArgvEnvp::new` from its own private CStrings,
        // alive as long as the hook, and end with null.
        let e = unsafe { raw::execve(&hook.path, &hook.exec.argv, &hook.exec.envp) };
        raw::exit(if e == libc::ENOENT { 127 } else { 126 });
    }
    raw::close(pipe[0]);
    // A hook that does not read its stdin must not fail us: ignore EPIPE.
    let _ = raw::write_all(pipe[1], state);
    raw::close(pipe[1]);
    let done = if hook.timeout_ms > 0 {
        raw::poll_in(pidfd, hook.timeout_ms)
    } else {
        Ok(true)
    };
    raw::close(pidfd);
    if !done? {
        let _ = raw::kill(pid, libc::SIGKILL);
        let _ = raw::waitpid(pid, 0);
        return Err(libc::ETIMEDOUT);
    }
    let (_, status) = raw::waitpid(pid, 0)?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(libc::ECANCELED)
    }
}

/// Mounts the rootfs's overlay with fuse-overlayfs (see [`FusePlan`]); `native` is the
/// errno of the native mount it replaces (0 when asked for), reported with a failure.
///
/// The daemon gets a mount namespace of its own (a copy of the container's, made before
/// `pivot_root`): in the container's, `pivot_root` would move its root to its own mount,
/// and a path lookup of its own (fuse-overlayfs reads xattrs through `/proc/self/fd`)
/// would then wait on itself for good. Its mount reaches the container's namespace through
/// a shared bind of the rootfs onto itself, made private again once the mount is there (so
/// nothing the container mounts later reaches the daemon, and `pivot_root` takes the
/// mount).
fn mount_fuse(r: &RootfsPlan, fuse: &FusePlan, native: Errno) -> ChildResult {
    let index = native as usize;
    raw::mount(Some(&r.rootfs), &r.rootfs, None, libc::MS_BIND, None)
        .at(Step::FuseOverlay, index)?;
    raw::mount(None, &r.rootfs, None, libc::MS_SHARED, None).at(Step::FuseOverlay, index)?;
    let bind = raw::openat(
        libc::AT_FDCWD,
        &r.rootfs,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .at(Step::FuseOverlay, index)?;
    let ran = run_fuse(fuse, index);
    let mut buf = [0u8; 32];
    let path = raw::proc_fd_path(&mut buf, bind);
    let private = raw::mount(None, path, None, libc::MS_PRIVATE | libc::MS_REC, None);
    raw::close(bind);
    ran?;
    private.at(Step::FuseOverlay, index)
}

/// Runs fuse-overlayfs in a mount namespace of its own and waits until it has mounted and
/// daemonized (the process it started as exits 0).
fn run_fuse(fuse: &FusePlan, index: usize) -> ChildResult {
    let pid = raw::fork_with(0).at(Step::FuseOverlay, index)?;
    if pid == 0 {
        // Its output to the file the runtime reads after a failure (it daemonizes to
        // /dev/null); none of the runtime's fds (the sync socket, the exec fifo).
        if let Some(out) = &fuse.output {
            let _ = raw::dup3(out.as_raw_fd(), 1, 0);
            let _ = raw::dup3(out.as_raw_fd(), 2, 0);
        }
        let _ = raw::close_range(3, u32::MAX);
        if raw::unshare(libc::CLONE_NEWNS).is_err() {
            raw::exit(FUSE_EXIT_UNSHARE);
        }
        // SAFETY: argv and envp were built by `ArgvEnvp::new` from its own private CStrings,
        // alive as long as the plan, and end with null.
        let e = unsafe { raw::execve(&fuse.path, &fuse.exec.argv, &fuse.exec.envp) };
        raw::exit(if e == libc::ENOENT { 127 } else { 126 });
    }
    let (_, status) = raw::waitpid(pid, 0).at(Step::FuseOverlay, index)?;
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err((Step::FuseOverlayExit, index as u32, status))
    }
}

/// The exit code of the process that was to run fuse-overlayfs when it could not make its
/// mount namespace.
pub(crate) const FUSE_EXIT_UNSHARE: c_int = 125;

/// Mounts everything under the rootfs (still reached by its host path).
fn prepare_rootfs(r: &RootfsPlan) -> ChildResult {
    if !r.host_ns {
        raw::mount(
            None,
            c"/",
            None,
            pre_pivot_propagation(r.root_propagation),
            None,
        )
        .at(Step::RootPropagation, 0)?;
    }
    match (&r.overlay, &r.fuse) {
        (Some(_), Some(fuse)) if !fuse.fallback => mount_fuse(r, fuse, 0)?,
        (Some(data), fuse) => {
            let native = raw::mount(Some(c"overlay"), &r.rootfs, Some(c"overlay"), 0, Some(data));
            match (native, fuse) {
                (Ok(()), _) => {}
                // A kernel that cannot mount overlayfs here: fuse-overlayfs mounts it.
                (Err(e), Some(fuse)) if fuse_fallback_errno(e) => mount_fuse(r, fuse, e)?,
                (Err(e), _) => return Err((Step::BindRootfs, 0, e)),
            }
        }
        (None, _) => raw::mount(
            Some(&r.rootfs),
            &r.rootfs,
            None,
            libc::MS_BIND | libc::MS_REC,
            None,
        )
        .at(Step::BindRootfs, 0)?,
    }
    if r.host_ns {
        // The propagation goes to the rootfs mount instead of `/`: a slave (the default)
        // keeps the container's mounts from spreading to the host's shared mounts.
        raw::mount(
            None,
            &r.rootfs,
            None,
            pre_pivot_propagation(r.root_propagation),
            None,
        )
        .at(Step::RootPropagation, 0)?;
    }
    let root = raw::openat(
        libc::AT_FDCWD,
        &r.rootfs,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    )
    .at(Step::OpenRootfs, 0)?;

    for (i, m) in r.mounts.iter().enumerate() {
        let is_bind = m.flags & libc::MS_BIND != 0;
        let target =
            open_in_root(root, &m.target, is_bind && m.bind_file).at(Step::MountTarget, i)?;
        let mut buf = [0u8; 32];
        let path = raw::proc_fd_path(&mut buf, target);
        let mut result = raw::mount(
            m.source.as_deref(),
            path,
            m.fstype.as_deref(),
            m.flags,
            m.data.as_deref(),
        )
        .at(Step::Mount, i);
        raw::close(target);
        result?;
        if m.remount == 0 && m.propagation == 0 && m.recursive == (0, 0) {
            continue;
        }
        // Re-open: the mount now covers the old target.
        let target = open_in_root(root, &m.target, false).at(Step::MountTarget, i)?;
        let path = raw::proc_fd_path(&mut buf, target);
        if m.remount != 0 {
            // A bind ignores most flags, and a read-only tmpfs is made so per mount: they
            // take a remount. Flags the source mount has
            // locked (in a user namespace) must be kept or the remount fails with EPERM.
            let locked = locked_flags(path);
            result = raw::mount(
                None,
                path,
                None,
                libc::MS_BIND | libc::MS_REMOUNT | m.remount | locked,
                None,
            )
            .at(Step::MountRemount, i);
            if result.is_err() {
                raw::close(target);
                result?;
            }
        }
        if m.propagation != 0 {
            result =
                raw::mount(None, path, None, m.propagation, None).at(Step::MountPropagation, i);
        }
        if result.is_ok() && m.recursive != (0, 0) {
            let (set, clear) = m.recursive;
            result = raw::mount_setattr_recursive(path, set, clear).at(Step::MountRemount, i);
        }
        raw::close(target);
        result?;
    }

    for (i, d) in r.devices.iter().enumerate() {
        make_device(root, d).at(Step::Device, i)?;
    }
    if let Some(cwd) = &r.cwd {
        // runc creates a missing working directory.
        let fd = open_in_root(root, cwd, false).at(Step::Cwd, 0)?;
        raw::close(fd);
    }
    for (i, (target, link)) in r.symlinks.iter().enumerate() {
        match raw::symlinkat(target, root, link) {
            Ok(()) | Err(libc::EEXIST) => {}
            Err(e) => return Err((Step::DevSymlink, i as u32, e)),
        }
    }
    raw::close(root);
    Ok(())
}

/// ST_* flags of the mount at `path` that a user namespace cannot clear, as MS_* flags.
fn locked_flags(path: &CStr) -> c_ulong {
    let Ok(st) = raw::mount_flags(path) else {
        return 0;
    };
    let mut flags = 0;
    for (st_flag, ms_flag) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if st & st_flag != 0 {
            flags |= ms_flag;
        }
    }
    flags
}

/// Opens `rel` (relative, components separated by `/`) under `root` as an O_PATH fd,
/// resolving every component inside the root (symlinks cannot lead out), creating missing
/// directories — and the last component as an empty file when `file` is set. A dangling
/// symlink on the way is followed: its target is created inside the root, as runc does.
fn open_in_root(root: RawFd, rel: &CStr, file: bool) -> R<RawFd> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let resolve = raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS;
    match raw::openat2(root, rel, flags, 0, resolve) {
        Err(libc::ENOENT) => {}
        other => return other,
    }
    if let Some(fd) = create_last(root, rel, file) {
        return Ok(fd);
    }
    let bytes = rel.to_bytes();
    let mut path = [0u8; 4096];
    if bytes.len() >= path.len() {
        return Err(libc::ENAMETOOLONG);
    }
    path[..bytes.len()].copy_from_slice(bytes);
    let mut len = bytes.len();
    // Each restart follows one dangling symlink; 40 is the kernel's own limit.
    for _ in 0..40 {
        match create_path(root, &mut path, &mut len, file)? {
            Some(fd) => return Ok(fd),
            None => continue,
        }
    }
    Err(libc::ELOOP)
}

/// The common case of [`open_in_root`], a mount point missing in a directory that exists
/// (`dev/pts` in the `/dev` tmpfs, `sys/fs/cgroup/cpu`): the last component made in its
/// parent, resolved inside the root as the walk would, and opened. `None` for anything
/// else (no parent, a dangling symlink, an error): the walk then does it, or reports why
/// it cannot.
fn create_last(root: RawFd, rel: &CStr, file: bool) -> Option<RawFd> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let resolve = raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS;
    let bytes = rel.to_bytes_with_nul();
    let slash = bytes.iter().rposition(|&b| b == b'/')?;
    let name = CStr::from_bytes_with_nul(&bytes[slash + 1..]).ok()?;
    if matches!(name.to_bytes(), b"" | b"." | b"..") || slash >= 4096 {
        return None;
    }
    let mut dir = [0u8; 4096];
    dir[..slash].copy_from_slice(&bytes[..slash]);
    let dir = CStr::from_bytes_until_nul(&dir[..=slash]).ok()?;
    let parent = raw::openat2(root, dir, flags, 0, resolve).ok()?;
    let made = make_entry(parent, name, file);
    raw::close(parent);
    made.ok()?;
    raw::openat2(root, rel, flags, 0, resolve).ok()
}

/// Makes `name` in `parent`: an empty file (0644) or a directory (0755). `EEXIST` when
/// anything is there — a dangling symlink included: `O_EXCL` does not follow it (it would
/// be followed from the host's root, where its target may lead); the caller follows it
/// inside the root.
fn make_entry(parent: RawFd, name: &CStr, file: bool) -> R {
    if file {
        raw::openat(
            parent,
            name,
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644,
        )
        .map(raw::close)
    } else {
        raw::mkdirat(parent, name, 0o755)
    }
}

/// One pass of [`open_in_root`]: Some(fd) when done, None when `path` was rewritten through
/// a dangling symlink and the walk must start again.
fn create_path(
    root: RawFd,
    path: &mut [u8; 4096],
    len: &mut usize,
    file: bool,
) -> R<Option<RawFd>> {
    let flags = libc::O_PATH | libc::O_CLOEXEC;
    let resolve = raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS;
    let total = *len;
    let mut parent = raw::openat2(root, c".", flags | libc::O_DIRECTORY, 0, resolve)?;
    let mut start = 0;
    while start < total {
        let end = path[start..total]
            .iter()
            .position(|&b| b == b'/')
            .map_or(total, |p| start + p);
        let last = end == total;
        if end == start {
            start = end + 1;
            continue;
        }
        let saved = path[end];
        path[end] = 0;
        let step = (|| -> R<Result<RawFd, ()>> {
            let prefix = CStr::from_bytes_until_nul(&path[..=end]).map_err(|_| libc::EINVAL)?;
            match raw::openat2(root, prefix, flags, 0, resolve) {
                Ok(fd) => return Ok(Ok(fd)),
                Err(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
            let name = CStr::from_bytes_until_nul(&path[start..=end]).map_err(|_| libc::EINVAL)?;
            match make_entry(parent, name, last && file) {
                Ok(()) => raw::openat2(root, prefix, flags, 0, resolve).map(Ok),
                // Something is there yet does not resolve: a dangling symlink.
                Err(libc::EEXIST) => Ok(Err(())),
                Err(e) => Err(e),
            }
        })();
        path[end] = saved;
        match step {
            Ok(Ok(fd)) => {
                raw::close(parent);
                parent = fd;
            }
            Ok(Err(())) => {
                let r = follow_link(parent, path, len, start, end);
                raw::close(parent);
                return r.map(|()| None);
            }
            Err(e) => {
                raw::close(parent);
                return Err(e);
            }
        }
        start = end + 1;
    }
    Ok(Some(parent))
}

/// Rewrites `path` so that the component `path[start..end]` (a symlink in directory
/// `parent`) is replaced by its target: `prefix/target/rest`, or `target/rest` when the
/// target is absolute (absolute means the container's root).
fn follow_link(
    parent: RawFd,
    path: &mut [u8; 4096],
    len: &mut usize,
    start: usize,
    end: usize,
) -> R {
    let mut name = [0u8; 256];
    let n = end - start;
    if n >= name.len() {
        return Err(libc::ENAMETOOLONG);
    }
    name[..n].copy_from_slice(&path[start..end]);
    let name = CStr::from_bytes_until_nul(&name[..=n]).map_err(|_| libc::EINVAL)?;
    let mut target = [0u8; 4096];
    // SAFETY: name is a valid C string and target a writable buffer of the length we pass.
    let t = unsafe {
        libc::readlinkat(
            parent,
            name.as_ptr(),
            target.as_mut_ptr().cast(),
            target.len(),
        )
    };
    if t < 0 {
        let e = raw::errno();
        return Err(if e == libc::EINVAL { libc::EEXIST } else { e });
    }
    let t = t as usize;
    let mut out = [0u8; 4096];
    let mut o = 0;
    let mut push = |bytes: &[u8], o: &mut usize| -> R {
        if *o + bytes.len() >= out.len() {
            return Err(libc::ENAMETOOLONG);
        }
        out[*o..*o + bytes.len()].copy_from_slice(bytes);
        *o += bytes.len();
        Ok(())
    };
    if target[0] != b'/' && start > 0 {
        push(&path[..start], &mut o)?;
    }
    push(&target[..t], &mut o)?;
    if end < *len {
        push(b"/", &mut o)?;
        push(&path[end + 1..*len], &mut o)?;
    }
    // Strip leading slashes: the walk is relative to the root.
    let skip = out[..o].iter().take_while(|&&b| b == b'/').count();
    path[..o - skip].copy_from_slice(&out[skip..o]);
    *len = o - skip;
    Ok(())
}

fn make_device(root: RawFd, d: &DevicePlan) -> R {
    let resolve = raw::RESOLVE_IN_ROOT | raw::RESOLVE_NO_MAGICLINKS;
    // The parent directory of the device, resolved inside the root.
    let bytes = d.path.to_bytes();
    let (dir, name_start) = match bytes.iter().rposition(|&b| b == b'/') {
        Some(p) => (p, p + 1),
        None => (0, 0),
    };
    let mut buf = [0u8; 4096];
    if bytes.len() >= buf.len() {
        return Err(libc::ENAMETOOLONG);
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    let parent = if name_start == 0 {
        raw::openat2(root, c".", libc::O_PATH | libc::O_CLOEXEC, 0, resolve)?
    } else {
        buf[dir] = 0;
        let dir_path = CStr::from_bytes_until_nul(&buf[..=dir]).map_err(|_| libc::EINVAL)?;
        let fd = open_in_root(root, dir_path, false)?;
        buf[dir] = b'/';
        fd
    };
    // Reopen as a real directory fd: mknodat and friends need one.
    let dirfd = raw::openat(
        parent,
        c".",
        libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    );
    raw::close(parent);
    let dirfd = dirfd?;
    let name =
        CStr::from_bytes_until_nul(&buf[name_start..=bytes.len()]).map_err(|_| libc::EINVAL)?;
    let result = (|| {
        if let Some(host) = &d.bind_from {
            // O_EXCL: a symlink the image put there is never followed (it would be from
            // the host's root); it is replaced, as mknod replaces it below.
            let create = || make_entry(dirfd, name, true);
            match create() {
                Ok(()) => {}
                Err(libc::EEXIST) if is_symlink(dirfd, name) => {
                    // SAFETY: a valid C string relative to a directory fd we own.
                    if unsafe { libc::unlinkat(dirfd, name.as_ptr(), 0) } < 0 {
                        return Err(raw::errno());
                    }
                    create()?;
                }
                Err(libc::EEXIST) => {}
                Err(e) => return Err(e),
            }
            let target = raw::openat(
                dirfd,
                name,
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC,
                0,
            )?;
            let mut pbuf = [0u8; 32];
            let r = raw::mount(
                Some(host),
                raw::proc_fd_path(&mut pbuf, target),
                None,
                libc::MS_BIND,
                None,
            );
            raw::close(target);
            return r;
        }
        match raw::mknodat(dirfd, name, d.mode, d.rdev) {
            Ok(()) => {}
            Err(libc::EEXIST) => {
                // Replace whatever the image had there (runc does the same).
                // SAFETY: a valid C string relative to a directory fd we own.
                if unsafe { libc::unlinkat(dirfd, name.as_ptr(), 0) } < 0 {
                    return Err(raw::errno());
                }
                raw::mknodat(dirfd, name, d.mode, d.rdev)?;
            }
            Err(e) => return Err(e),
        }
        // mknod honours the umask; set the mode exactly.
        raw::fchmodat(dirfd, name, d.mode & 0o7777)?;
        raw::lchownat(dirfd, name, d.uid, d.gid)
    })();
    raw::close(dirfd);
    result
}

/// Whether `name` in `dir` is a symbolic link (not followed).
fn is_symlink(dir: RawFd, name: &CStr) -> bool {
    // SAFETY: stat is plain data; all zeroes is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a valid C string and a stat buffer we own.
    let r = unsafe { libc::fstatat(dir, name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    r == 0 && st.st_mode & libc::S_IFMT == libc::S_IFLNK
}

/// The propagation of `/` while the rootfs is prepared: the spec's, unless it is shared or
/// unbindable. A shared new root makes pivot_root fail (EINVAL), and an unbindable tree
/// cannot bind the rootfs onto itself; both are applied once the new root is `/` and
/// finished ([`finish_rootfs`]). Until then the tree is a slave of the host's.
fn pre_pivot_propagation(requested: c_ulong) -> c_ulong {
    if requested & (libc::MS_SHARED | libc::MS_UNBINDABLE) != 0 {
        libc::MS_SLAVE | libc::MS_REC
    } else {
        requested
    }
}

/// Switches the root to the prepared rootfs.
fn enter_rootfs(r: &RootfsPlan) -> ChildResult {
    if r.host_ns {
        // No mount namespace of our own: the host's must keep its root.
        raw::chdir(&r.rootfs).at(Step::Chroot, 0)?;
        raw::chroot(c".").at(Step::Chroot, 0)?;
        raw::chdir(c"/").at(Step::Chroot, 0)?;
    } else if r.pivot {
        raw::chdir(&r.rootfs).at(Step::PivotRoot, 0)?;
        // pivot_root(".", ".") stacks the old root under the new one; detach it from there.
        // The old root is a slave or private (pre_pivot_propagation): the unmount cannot
        // propagate back to the host.
        raw::pivot_root(c".", c".").at(Step::PivotRoot, 0)?;
        raw::umount2(c".", libc::MNT_DETACH).at(Step::PivotRoot, 0)?;
        raw::chdir(c"/").at(Step::PivotRoot, 0)?;
    } else {
        raw::chdir(&r.rootfs).at(Step::Chroot, 0)?;
        raw::mount(Some(c"."), c"/", None, libc::MS_MOVE, None).at(Step::Chroot, 0)?;
        raw::chroot(c".").at(Step::Chroot, 0)?;
        raw::chdir(c"/").at(Step::Chroot, 0)?;
    }
    Ok(())
}

/// Read-only and masked paths, the read-only root, then a shared or unbindable root's
/// propagation: done inside the new root.
fn finish_rootfs(r: &RootfsPlan) -> ChildResult {
    // Read-only paths before masked ones, as runc: a path in both ends up masked (the
    // mask on top), not the mask made read-only again.
    for (i, path) in r.readonly.iter().enumerate() {
        match raw::mount(Some(path), path, None, libc::MS_BIND | libc::MS_REC, None) {
            Ok(()) => {}
            Err(libc::ENOENT) => continue,
            Err(e) => return Err((Step::ReadonlyPath, i as u32, e)),
        }
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(path);
        raw::mount(None, path, None, flags, None).at(Step::ReadonlyPath, i)?;
    }
    for (i, path) in r.masked.iter().enumerate() {
        let fd = match raw::openat(libc::AT_FDCWD, path, libc::O_PATH | libc::O_CLOEXEC, 0) {
            Ok(fd) => fd,
            Err(libc::ENOENT) => continue,
            Err(e) => return Err((Step::MaskPath, i as u32, e)),
        };
        let kind = raw::file_type(fd);
        raw::close(fd);
        let result = if kind == Ok(libc::S_IFDIR) {
            raw::mount(Some(c"tmpfs"), path, Some(c"tmpfs"), libc::MS_RDONLY, None)
        } else {
            raw::mount(Some(c"/dev/null"), path, None, libc::MS_BIND, None)
        };
        match result {
            Ok(()) | Err(libc::ENOENT) => {}
            Err(e) => return Err((Step::MaskPath, i as u32, e)),
        }
    }
    if r.readonly_root {
        let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked_flags(c"/");
        raw::mount(None, c"/", None, flags, None).at(Step::ReadonlyRoot, 0)?;
    }
    if pre_pivot_propagation(r.root_propagation) != r.root_propagation {
        // The spec's shared or unbindable root, now that it is `/` and the binds above
        // (which an unbindable tree would refuse) are done.
        raw::mount(None, c"/", None, r.root_propagation, None).at(Step::RootPropagation, 1)?;
    }
    Ok(())
}

/// Opens a pty in the container's devpts, sends the master to the parent and makes the
/// slave our stdio and controlling terminal. With `bind` (a container's init, not an
/// exec) the slave is also bind-mounted on `/dev/console`, as the spec asks of a
/// `process.terminal` and runc does.
fn setup_console(sync: RawFd, size: (u16, u16), bind: bool) -> ChildResult {
    let master = raw::openat(
        libc::AT_FDCWD,
        c"/dev/ptmx",
        libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        0,
    )
    .at(Step::Console, 0)?;
    let mut unlock: c_int = 0;
    // SAFETY: TIOCSPTLCK takes a pointer to an int.
    unsafe { raw::ioctl_ptr(master, libc::TIOCSPTLCK, &mut unlock) }.at(Step::Console, 0)?;
    // TIOCGPTPEER opens the slave through the master: no path lookup in /dev/pts needed.
    let slave = raw::ioctl_int(
        master,
        libc::TIOCGPTPEER as c_ulong,
        (libc::O_RDWR | libc::O_NOCTTY) as c_ulong,
    )
    .at(Step::Console, 1)?;
    if size.0 > 0 && size.1 > 0 {
        let mut ws = libc::winsize {
            ws_row: size.0,
            ws_col: size.1,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ takes a pointer to a winsize.
        unsafe { raw::ioctl_ptr(master, libc::TIOCSWINSZ, &mut ws) }.at(Step::Console, 2)?;
    }
    if bind {
        bind_console(master)?;
    }
    raw::send_fd(sync, master, &encode(MSG_CONSOLE, 0, 0, 0)).at(Step::Console, 3)?;
    raw::close(master);
    raw::setsid().at(Step::Console, 4)?;
    raw::ioctl_int(slave, libc::TIOCSCTTY, 0).at(Step::Console, 5)?;
    for fd in 0..3 {
        raw::dup3(slave, fd, 0).at(Step::Console, 6)?;
    }
    if slave > 2 {
        raw::close(slave);
    }
    Ok(())
}

/// Bind-mounts the slave of `master` (by its path in the container's devpts, as runc does)
/// on `/dev/console`, creating an empty file there when none exists.
fn bind_console(master: RawFd) -> ChildResult {
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN takes a pointer to an unsigned int.
    unsafe { raw::ioctl_ptr(master, libc::TIOCGPTN, &mut n) }.at(Step::Console, 7)?;
    // O_EXCL: never open an existing node (the host's console device, say), only make one.
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    match raw::openat(libc::AT_FDCWD, c"/dev/console", flags, 0o666) {
        Ok(fd) => raw::close(fd),
        Err(libc::EEXIST) => {}
        Err(e) => return Err((Step::Console, 8, e)),
    }
    let mut buf = [0u8; 32];
    let slave = raw::pts_path(&mut buf, n);
    raw::mount(Some(slave), c"/dev/console", None, libc::MS_BIND, None).at(Step::Console, 9)
}

/// Gives stdin, stdout and stderr to `uid` before the process becomes it, as runc does, so
/// that a process that is not root can use its terminal and reopen `/dev/stdout`: each
/// that is not `/dev/null` and not already the user's gets `uid` as owner (the group
/// stays, the devpts mount may have chosen it). An fd whose owner or group the user
/// namespace cannot map (EPERM, EINVAL) is left as it is.
fn own_stdio(uid: u32) -> ChildResult {
    let null = match raw::openat(
        libc::AT_FDCWD,
        c"/dev/null",
        libc::O_PATH | libc::O_CLOEXEC,
        0,
    ) {
        Ok(fd) => {
            let r = raw::owner_and_rdev(fd);
            raw::close(fd);
            r.ok().map(|(_, _, rdev)| rdev)
        }
        Err(_) => None,
    };
    for fd in 0..3 {
        let (owner, group, rdev) = match raw::owner_and_rdev(fd) {
            Ok(st) => st,
            Err(libc::EBADF) => continue,
            Err(e) => return Err((Step::Stdio, fd as u32, e)),
        };
        if owner == uid || Some(rdev) == null {
            continue;
        }
        match raw::fchown(fd, uid, group) {
            Ok(()) | Err(libc::EPERM) | Err(libc::EINVAL) => {}
            Err(e) => return Err((Step::Stdio, fd as u32, e)),
        }
    }
    Ok(())
}

/// rlimits, ids, capabilities, cwd, no_new_privs, LSM labels, seccomp (without NNP).
fn finalize_process(p: &ProcessPlan) -> ChildResult {
    // Every fd we did not mean to pass on closes at exec. First: the seccomp filter loaded
    // below (without no_new_privs) may deny close_range, and nothing opened after this
    // point lacks O_CLOEXEC (the pty slave is dup'ed to 0-2 and closed before).
    raw::cloexec_from(3 + p.preserve_fds).at(Step::Cloexec, 0)?;
    for fd in 3..3 + p.preserve_fds {
        raw::clear_cloexec(fd as RawFd).at(Step::Cloexec, fd as usize)?;
    }
    for (i, (res, soft, hard)) in p.rlimits.iter().enumerate() {
        raw::setrlimit(*res, *soft, *hard).at(Step::Rlimit, i)?;
    }
    if let Some(label) = &p.apparmor {
        write_attr(c"/proc/self/attr/apparmor/exec", label)
            .or_else(|_| write_attr(c"/proc/self/attr/exec", label))
            .at(Step::Apparmor, 0)?;
    }
    if let Some(label) = &p.selinux {
        write_attr(c"/proc/self/attr/exec", label).at(Step::Selinux, 0)?;
    }
    if let Some(caps) = &p.caps {
        // Drop from the bounding set while we still have CAP_SETPCAP.
        for cap in 0..=u64::from(caps.last_cap) {
            if caps.bounding & (1 << cap) == 0 {
                match raw::prctl(libc::PR_CAPBSET_DROP, cap as c_ulong, 0, 0, 0) {
                    Ok(_) | Err(libc::EINVAL) => {}
                    Err(e) => return Err((Step::Bounding, cap as u32, e)),
                }
            }
        }
        raw::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0).at(Step::KeepCaps, 0)?;
    }
    // The working directory while still privileged, so that one only root may enter works
    // (runc 1.1); a permission error is retried as the user, who may be the only one let in
    // (a directory owned by the container's user that the runtime's root cannot enter, on
    // a root-squashing file system).
    let cwd_later = match raw::chdir(&p.cwd) {
        Ok(()) => false,
        Err(libc::EACCES | libc::EPERM) => true,
        Err(e) => return Err((Step::Cwd, 0, e)),
    };
    if !cwd_later {
        check_cwd()?;
    }
    if !p.no_new_privs {
        // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it before the drop,
        // and after the runtime's own getcwd (a profile may refuse it: runtime-tools'
        // linux_seccomp does).
        if let Some(filter) = &p.seccomp {
            filter.load().at(Step::Seccomp, 0)?;
        }
    }
    own_stdio(p.uid)?;
    if let Some(groups) = &p.groups {
        raw::setgroups(groups).at(Step::Groups, 0)?;
    }
    raw::setresgid(p.gid).at(Step::Gid, 0)?;
    raw::setresuid(p.uid).at(Step::Uid, 0)?;
    if cwd_later {
        raw::chdir(&p.cwd).at(Step::Cwd, 0)?;
        check_cwd()?;
    }
    if let Some(caps) = &p.caps {
        raw::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0).at(Step::KeepCaps, 0)?;
        raw::capset(caps.effective, caps.permitted, caps.inheritable).at(Step::Capabilities, 0)?;
        for cap in 0..=u64::from(caps.last_cap) {
            if caps.ambient & (1 << cap) != 0 {
                let r = raw::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as c_ulong,
                    cap as c_ulong,
                    0,
                    0,
                );
                match r {
                    Ok(_) | Err(libc::EINVAL) => {}
                    Err(e) => return Err((Step::Ambient, cap as u32, e)),
                }
            }
        }
    }
    if let Some(sig) = p.parent_death_signal {
        // After setresuid/setresgid, which clear it; it survives the exec.
        raw::prctl(libc::PR_SET_PDEATHSIG, sig as c_ulong, 0, 0, 0)
            .at(Step::ParentDeathSignal, 0)?;
    }
    if let Some(mask) = p.umask {
        raw::umask(mask);
    }
    if p.no_new_privs {
        raw::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).at(Step::NoNewPrivileges, 0)?;
    }
    Ok(())
}

/// CVE-2024-21626: a cwd through `/proc/self/fd/N` can name a directory fd we hold (an
/// exec's cgroup directory for clone3) outside the container's root, from where `..` walks
/// the host. The kernel's getcwd then answers "(unreachable)…", not "/…".
fn check_cwd() -> ChildResult {
    cwd_inside_root().at(Step::Cwd, 1)
}

/// ENOENT unless the working directory is reachable from the root (raw getcwd(2) into a
/// stack buffer: no allocation after fork).
fn cwd_inside_root() -> R {
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: the kernel writes at most `buf.len()` bytes into our stack buffer.
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(raw::errno());
    }
    if buf[0] != b'/' {
        return Err(libc::ENOENT);
    }
    Ok(())
}

fn write_attr(path: &CStr, value: &CStr) -> R {
    let fd = raw::openat(libc::AT_FDCWD, path, libc::O_WRONLY | libc::O_CLOEXEC, 0)?;
    let r = raw::write_all(fd, value.to_bytes());
    raw::close(fd);
    r
}

/// The first candidate path the process may execute.
fn find_executable(p: &ProcessPlan) -> ChildResult<&CStr> {
    let mut last = libc::ENOENT;
    for c in &p.exec_candidates {
        match raw::executable(c) {
            Ok(()) => return Ok(c),
            Err(e) => {
                if last == libc::ENOENT {
                    last = e;
                }
            }
        }
    }
    Err((Step::FindExecutable, 0, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawn_refuses_clone_flags_other_than_namespaces() {
        for bad in [libc::CLONE_VM, libc::CLONE_FILES, libc::CLONE_SETTLS] {
            let process = ProcessPlan::new(vec![c"true".into()], Vec::new(), Vec::new());
            let mut plan = InitPlan::new(process);
            plan.clone_flags = (libc::CLONE_NEWNS | bad) as u64;
            let e = spawn(&mut plan).expect_err("refused");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains(&format!("{bad:#x}")), "{e}");
        }
    }

    #[test]
    fn plans_keep_their_argv_and_env() {
        let p = ProcessPlan::new(
            vec![c"sh".into(), c"-c".into()],
            vec![c"A=1".into()],
            vec![],
        );
        assert_eq!(p.args(), [c"sh".to_owned(), c"-c".to_owned()]);
        assert_eq!(p.env(), [c"A=1".to_owned()]);
        assert_eq!(p.exec.argv.len(), 3);
        assert!(p.exec.argv[2].is_null() && p.exec.envp[1].is_null());
        assert_eq!(p.exec.argv[1], p.args()[1].as_ptr());
    }

    /// A cgroup2 directory for the test, removed on drop.
    struct V2Dir(std::path::PathBuf);
    impl Drop for V2Dir {
        fn drop(&mut self) {
            for _ in 0..100 {
                if std::fs::remove_dir(&self.0).is_ok() {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }

    fn cgroup2_root() -> Option<std::path::PathBuf> {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        mounts.lines().find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            post.starts_with("cgroup2 ")
                .then(|| std::path::PathBuf::from(pre.split(' ').nth(4).unwrap()))
        })
    }

    #[test]
    #[ignore = "requires root"]
    fn clone_into_cgroup_places_the_child_before_it_runs() {
        let Some(root) = cgroup2_root() else {
            eprintln!("skipped: no cgroup2 mount");
            return;
        };
        let dir = V2Dir(root.join(format!("cargohold-into-{}", std::process::id())));
        std::fs::create_dir(&dir.0).unwrap();
        let (mut r, w) = std::io::pipe().unwrap();
        let args = vec![c"/bin/cat".to_owned(), c"/proc/self/cgroup".to_owned()];
        let mut plan = InitPlan::new(ProcessPlan::new(
            args.clone(),
            vec![],
            vec![args[0].clone()],
        ));
        plan.process.stdio[1] = Some(OwnedFd::from(w));
        plan.cgroup_dir =
            Some(crate::sys::file::open(&dir.0, libc::O_RDONLY | libc::O_DIRECTORY).unwrap());
        let child = spawn(&mut plan).unwrap();
        loop {
            match child.recv().unwrap().0 {
                ChildMessage::Execed => break,
                ChildMessage::Failed(f) => panic!("{f:?}"),
                _ => {}
            }
        }
        drop(plan);
        let status = crate::sys::file::wait_child(child.pid).unwrap();
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut r, &mut out).unwrap();
        let name = dir.0.file_name().unwrap().to_str().unwrap();
        assert!(
            out.lines()
                .any(|l| l.starts_with("0::") && l.ends_with(name)),
            "{out}"
        );
    }
}
