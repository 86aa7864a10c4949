//! The built-in profile: the semantics of Docker's default seccomp profile (moby's
//! `profiles/seccomp/default.json`), written out as a table of rules.
//!
//! Grouped by what the syscalls do rather than alphabetically; the set is the one Docker
//! allows. Names that only exist on some architectures (the `*32` and `*64` variants,
//! `socketcall`, `_llseek`, …) are listed once; the compiler skips them where the
//! architecture has no such syscall.

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompOperator};

use super::{Filter, KernelVersion, Profile, Rule};

/// Files, directories, links, extended attributes and the data in them.
#[rustfmt::skip]
const FILES: &[&str] = &[
    "access", "chdir", "chmod", "chown", "chown32", "close", "close_range", "copy_file_range",
    "creat", "dup", "dup2", "dup3", "faccessat", "faccessat2", "fadvise64", "fadvise64_64",
    "fallocate", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
    "fcntl", "fcntl64", "fdatasync", "flock", "fstat", "fstat64", "fstatat64", "fstatfs",
    "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futimesat", "getcwd", "getdents",
    "getdents64", "ioctl", "lchown", "lchown32", "link", "linkat", "_llseek", "lseek", "lstat",
    "lstat64", "mkdir", "mkdirat", "mknod", "mknodat", "name_to_handle_at", "newfstatat",
    "open", "openat", "openat2", "pread64", "preadv", "preadv2", "pwrite64", "pwritev",
    "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv", "rename", "renameat",
    "renameat2", "rmdir", "sendfile", "sendfile64", "splice", "stat", "stat64", "statfs",
    "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "tee",
    "truncate", "truncate64", "umask", "unlink", "unlinkat", "utime", "utimensat",
    "utimensat_time64", "utimes", "vmsplice", "write", "writev", "cachestat", "listmount",
    "statmount",
    // extended attributes
    "fgetxattr", "flistxattr", "fremovexattr", "fsetxattr", "getxattr", "getxattrat",
    "lgetxattr", "listxattr", "listxattrat", "llistxattr", "lremovexattr", "lsetxattr",
    "removexattr", "removexattrat", "setxattr", "setxattrat",
    // asynchronous I/O (not io_uring) and I/O priorities
    "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64",
    "io_setup", "io_submit", "ioprio_get", "ioprio_set",
];

/// Waiting on file descriptors, and descriptors that deliver events.
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "fanotify_mark",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "pipe", "pipe2",
    "poll", "ppoll", "ppoll_time64", "pselect6", "pselect6_time64", "select", "_newselect",
    "signalfd", "signalfd4", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
    "timerfd_settime", "timerfd_settime64",
];

/// Processes and threads: life, identity, limits, sandboxing of themselves.
#[rustfmt::skip]
const PROCESSES: &[&str] = &[
    "capget", "capset", "execve", "execveat", "exit", "exit_group", "fork", "vfork",
    "get_robust_list", "set_robust_list", "get_thread_area", "set_thread_area", "getcpu",
    "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "setpriority", "getrandom",
    "getrlimit", "setrlimit", "ugetrlimit", "prlimit64", "getrusage", "getsid", "gettid",
    "kill", "tgkill", "tkill", "landlock_add_rule", "landlock_create_ruleset",
    "landlock_restrict_self", "membarrier", "pidfd_open", "pidfd_send_signal", "prctl",
    "process_mrelease", "restart_syscall", "rseq", "seccomp", "setpgid", "setsid",
    "set_tid_address", "sysinfo", "times", "uname", "uretprobe", "riscv_hwprobe", "wait4",
    "waitid", "waitpid",
];

/// User and group ids (the kernel checks CAP_SETUID/CAP_SETGID itself).
#[rustfmt::skip]
const CREDENTIALS: &[&str] = &[
    "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getresgid", "getresgid32", "getresuid", "getresuid32", "getuid",
    "getuid32", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setregid", "setregid32", "setresgid", "setresgid32",
    "setresuid", "setresuid32", "setreuid", "setreuid32", "setuid", "setuid32",
];

/// Memory mappings and locks.
#[rustfmt::skip]
const MEMORY: &[&str] = &[
    "brk", "madvise", "map_shadow_stack", "memfd_create", "memfd_secret", "mincore", "mlock",
    "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mremap", "mseal", "msync", "munlock",
    "munlockall", "munmap", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
];

/// Signals, interval timers, clocks and sleeping (setting clocks needs CAP_SYS_TIME).
#[rustfmt::skip]
const SIGNALS_AND_TIME: &[&str] = &[
    "alarm", "pause", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo", "sigaltstack", "sigprocmask", "sigreturn", "getitimer", "setitimer",
    "adjtimex", "clock_adjtime", "clock_adjtime64", "clock_getres", "clock_getres_time64",
    "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64",
    "gettimeofday", "nanosleep", "time", "timer_create", "timer_delete", "timer_getoverrun",
    "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
];

/// Futexes and the scheduler.
#[rustfmt::skip]
const SCHEDULING: &[&str] = &[
    "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake",
    "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
    "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
    "sched_setscheduler", "sched_yield",
];

/// Sockets (but `socket` itself, which is conditional) and System V / POSIX IPC.
#[rustfmt::skip]
const SOCKETS_AND_IPC: &[&str] = &[
    "accept", "accept4", "bind", "connect", "getpeername", "getsockname", "getsockopt",
    "listen", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "send",
    "sendmmsg", "sendmsg", "sendto", "setsockopt", "shutdown", "socketcall", "socketpair",
    "ipc", "msgctl", "msgget", "msgrcv", "msgsnd", "semctl", "semget", "semop", "semtimedop",
    "semtimedop_time64", "shmat", "shmctl", "shmdt", "shmget", "mq_getsetattr", "mq_notify",
    "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
    "mq_timedsend_time64", "mq_unlink",
];

/// Allowed with CAP_SYS_ADMIN: mounts, namespaces, BPF, perf, quotas, host names.
#[rustfmt::skip]
const SYS_ADMIN: &[&str] = &[
    "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
    "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
    "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
    "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare",
];

/// The namespace flags `clone` may not carry without CAP_SYS_ADMIN.
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The `personality(2)` values a container may set: PER_LINUX, PER_LINUX32,
/// UNAME26, UNAME26|PER_LINUX32, and 0xffffffff (query only).
const PERSONALITIES: &[u64] = &[0x0, 0x0008, 0x0002_0000, 0x0002_0008, 0xffff_ffff];

/// The profile, as [`Profile::docker_default`] returns it.
pub(super) fn profile() -> Profile {
    let always = [
        FILES,
        EVENTS,
        PROCESSES,
        CREDENTIALS,
        MEMORY,
        SIGNALS_AND_TIME,
        SCHEDULING,
        SOCKETS_AND_IPC,
    ];
    let mut rules = vec![Rule::new(always.concat(), LinuxSeccompAction::ScmpActAllow)];
    rules.extend(argument_rules());
    rules.extend(arch_rules());
    rules.extend(sys_admin_rules());
    rules.extend(capability_rules());
    Profile {
        default_action: Some(LinuxSeccompAction::ScmpActErrno),
        default_errno_ret: Some(libc::EPERM as u32),
        architectures: Vec::new(),
        arch_map: arch_map(),
        flags: Vec::new(),
        listener_path: None,
        listener_metadata: None,
        rules,
    }
}

/// Calls allowed on a recent enough kernel or with some arguments only: ptrace and
/// friends, socket, personality.
fn argument_rules() -> Vec<Rule> {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = Vec::new();
    // Kernels before 4.8 let ptrace bypass seccomp.
    rules.push(
        Rule::new(["process_vm_readv", "process_vm_writev", "ptrace"], allow)
            .includes(Filter::default().min_kernel(KernelVersion::new(4, 8))),
    );
    // socket(2) of every family but AF_ALG (38) and AF_VSOCK (40).
    let (af_alg, af_vsock) = (libc::AF_ALG as u64, libc::AF_VSOCK as u64);
    rules.push(Rule::new(["socket"], allow).arg(0, LinuxSeccompOperator::ScmpCmpLt, af_alg));
    rules.push(Rule::new(["socket"], allow).arg(0, LinuxSeccompOperator::ScmpCmpEq, af_alg + 1));
    rules.push(Rule::new(["socket"], allow).arg(0, LinuxSeccompOperator::ScmpCmpGt, af_vsock));
    for &persona in PERSONALITIES {
        rules.push(Rule::new(["personality"], allow).arg(
            0,
            LinuxSeccompOperator::ScmpCmpEq,
            persona,
        ));
    }
    rules
}

/// The architecture-specific calls.
fn arch_rules() -> Vec<Rule> {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = Vec::new();
    // Architecture-specific calls (Docker's arch names).
    let arch_specific: [(&[&str], &[&str]); 6] = [
        (&["sync_file_range2", "swapcontext"], &["ppc64le"]),
        (
            &[
                "arm_fadvise64_64",
                "arm_sync_file_range",
                "sync_file_range2",
                "breakpoint",
                "cacheflush",
                "set_tls",
            ],
            &["arm", "arm64"],
        ),
        (&["arch_prctl"], &["amd64", "x32"]),
        (&["modify_ldt"], &["amd64", "x32", "x86"]),
        (
            &[
                "s390_pci_mmio_read",
                "s390_pci_mmio_write",
                "s390_runtime_instr",
            ],
            &["s390", "s390x"],
        ),
        (&["riscv_flush_icache"], &["riscv64"]),
    ];
    for (names, arches) in arch_specific {
        rules.push(
            Rule::new(names.iter().copied(), allow).includes(Filter::default().arches(arches)),
        );
    }
    rules
}

/// Calls that depend on CAP_SYS_ADMIN (or CAP_DAC_READ_SEARCH): allowed with it, or allowed
/// in part (clone) or failing with ENOSYS (clone3) without it.
fn sys_admin_rules() -> Vec<Rule> {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let sys_admin = || Filter::default().caps(&["CAP_SYS_ADMIN"]);
    vec![
        Rule::new(["open_by_handle_at"], allow)
            .includes(Filter::default().caps(&["CAP_DAC_READ_SEARCH"])),
        Rule::new(SYS_ADMIN.iter().copied(), allow).includes(sys_admin()),
        // Without CAP_SYS_ADMIN, clone only without namespace flags (s390 swaps the first
        // two arguments), and clone3 — whose flags live in memory seccomp cannot read —
        // fails with ENOSYS so that libc falls back to clone.
        Rule::new(["clone"], allow)
            .masked_eq(0, CLONE_NAMESPACES, 0)
            .excludes(sys_admin().arches(&["s390", "s390x"])),
        Rule::new(["clone"], allow)
            .masked_eq(1, CLONE_NAMESPACES, 0)
            .includes(Filter::default().arches(&["s390", "s390x"]))
            .excludes(sys_admin()),
        Rule::new(["clone3"], LinuxSeccompAction::ScmpActErrno)
            .errno(libc::ENOSYS as u32)
            .excludes(sys_admin()),
    ]
}

/// Calls each allowed with one capability.
fn capability_rules() -> Vec<Rule> {
    let allow = LinuxSeccompAction::ScmpActAllow;
    let mut rules = Vec::new();
    let by_cap: [(&str, &[&str]); 12] = [
        ("CAP_SYS_BOOT", &["reboot"]),
        ("CAP_SYS_CHROOT", &["chroot"]),
        (
            "CAP_SYS_MODULE",
            &["delete_module", "init_module", "finit_module"],
        ),
        ("CAP_SYS_PACCT", &["acct"]),
        (
            "CAP_SYS_PTRACE",
            &[
                "kcmp",
                "pidfd_getfd",
                "process_madvise",
                "process_vm_readv",
                "process_vm_writev",
                "ptrace",
            ],
        ),
        ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
        (
            "CAP_SYS_TIME",
            &["settimeofday", "stime", "clock_settime", "clock_settime64"],
        ),
        ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
        (
            "CAP_SYS_NICE",
            &[
                "get_mempolicy",
                "mbind",
                "set_mempolicy",
                "set_mempolicy_home_node",
            ],
        ),
        ("CAP_SYSLOG", &["syslog"]),
        ("CAP_BPF", &["bpf"]),
        ("CAP_PERFMON", &["perf_event_open"]),
    ];
    for (cap, names) in by_cap {
        rules
            .push(Rule::new(names.iter().copied(), allow).includes(Filter::default().caps(&[cap])));
    }
    rules
}

/// The sub-architectures each architecture's filter also covers (as Docker's `archMap`).
fn arch_map() -> Vec<(Arch, Vec<Arch>)> {
    vec![
        (
            Arch::ScmpArchX86_64,
            vec![Arch::ScmpArchX86, Arch::ScmpArchX32],
        ),
        (Arch::ScmpArchAarch64, vec![Arch::ScmpArchArm]),
        (
            Arch::ScmpArchMips64,
            vec![Arch::ScmpArchMips, Arch::ScmpArchMips64n32],
        ),
        (
            Arch::ScmpArchMips64n32,
            vec![Arch::ScmpArchMips, Arch::ScmpArchMips64],
        ),
        (
            Arch::ScmpArchMipsel64,
            vec![Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64n32],
        ),
        (
            Arch::ScmpArchMipsel64n32,
            vec![Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64],
        ),
        (Arch::ScmpArchS390x, vec![Arch::ScmpArchS390]),
        (Arch::ScmpArchRiscv64, vec![]),
        (Arch::ScmpArchLoongarch64, vec![]),
    ]
}
