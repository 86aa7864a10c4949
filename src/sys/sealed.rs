//! The sealed binary: the program that enters a container's namespaces runs from a copy of
//! itself that the container cannot write (CVE-2019-5736).
//!
//! # The attack
//! A process that enters a container (the init between clone and execve, an exec'd process
//! before its execve, or the program itself when the container makes it execute
//! `/proc/self/exe`, e.g. through a `#!/proc/self/exe` script) is visible in the container's
//! `/proc` with the host binary as its `/proc/<pid>/exe`. Container root opens that link,
//! waits for the host program to exit (the file is busy while it runs) and writes through
//! the descriptor: the next root who runs the program runs the container's code.
//!
//! # The defence
//! [`reexec`] (called by `cargohold::init()` first thing in `main`) re-executes the
//! program, once, from a copy that cannot be written, with the same argv and environment
//! (plus [`ENV`], removed again at once, so that it runs once). The monitor of detached
//! containers is that program started again through `/proc/self/exe`, so it runs from the
//! same copy. Two ways, the cheaper first:
//!
//! 1. **A read-only detached mount** of the binary: `open_tree(OPEN_TREE_CLONE)` of
//!    `/proc/self/exe`, `mount_setattr(MOUNT_ATTR_RDONLY)`, `execveat` of the mount's fd.
//!    The mount is in no mount table and dissolves when that fd closes at the exec; the
//!    running file keeps it alive, read-only: opening it for writing fails with `EROFS`,
//!    and no one can make it writable (`mount_setattr` and `open_tree` refuse a mount
//!    that is no longer mounted anywhere). No copy: the cost is one execve. It needs
//!    `CAP_SYS_ADMIN` (root) and Linux 5.12.
//! 2. **A sealed memfd** (runc's way): `memfd_create(MFD_ALLOW_SEALING)`, the binary copied
//!    into it (`sendfile`), sealed `F_SEAL_SEAL|SHRINK|GROW|WRITE`, `execveat` of the
//!    memfd. Writes fail with `EPERM`. It costs a copy of the binary per start (and its
//!    size in memory while the program runs), so it is the fallback for unprivileged
//!    programs and older kernels.
//!
//! No re-exec at all is needed when the program already runs from a read-only bind
//! mount of its own binary (`mount --bind -o ro BIN BIN` on the host, made once, e.g. at
//! install or boot): the process starts sealed, so `init()` costs two syscalls and a read
//! of `/proc/self/mountinfo` instead of an execve. Only a mount standing on the binary
//! itself counts (only a bind mount can stand on a regular file, and it holds that file
//! alone); a read-only file system that merely holds the binary does not, since the host
//! may remount it read-write. From a container neither kind can be made writable: a
//! mount of another mount namespace can be neither remounted nor cloned (`EINVAL`).
//!
//! Besides, the child that sets a container up makes itself non-dumpable
//! ([`super::process`]) until it execs, so that without `CAP_SYS_PTRACE` the container
//! cannot even open its `/proc/<pid>/exe`; with that capability only the sealed copy holds.
//!
//! For measuring the cost (`benches/sealed.sh`), never in production, `CARGOHOLD_SEALING`
//! in the environment picks the way: `off` (no re-exec) or `memfd` (skip the mount).

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use super::raw::{MOUNT_ATTR_NODEV, MOUNT_ATTR_RDONLY};

/// Set in the environment of the re-executed program (and of a monitor started from a
/// sealed program) to the path of the original binary; [`reexec`] removes it.
pub const ENV: &str = "_CARGOHOLD_SEALED";

/// Benchmarks only: `off` turns the sealed re-exec off, `memfd` skips the read-only mount.
pub const METHOD_ENV: &str = "CARGOHOLD_SEALING";

static SEALED: AtomicBool = AtomicBool::new(false);
static ORIGINAL: OnceLock<PathBuf> = OnceLock::new();

/// How the running binary is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealing {
    /// Not protected: [`reexec`] was not called, was turned off, or could not seal.
    None,
    /// Running from a read-only detached mount of the binary.
    ReadOnlyMount,
    /// Running from a sealed memfd copy.
    Memfd,
    /// Rootless, from a binary that no process of this user can write (another user's,
    /// not group- or world-writable): neither can a container this user starts, whose
    /// processes are this user or its subordinate ids, without capabilities on the host.
    /// No copy is needed.
    NotWritable,
}

/// Whether this process runs from a sealed copy (after [`reexec`] returned).
pub fn is_sealed() -> bool {
    SEALED.load(Ordering::Relaxed)
}

/// The path of the binary this process was started from, when it runs from a sealed copy
/// (whose `/proc/self/exe`, and so [`std::env::current_exe`], names the copy: `/` for the
/// read-only mount, `/memfd:…` for the memfd).
pub fn original_exe() -> Option<&'static Path> {
    ORIGINAL.get().map(PathBuf::as_path)
}

/// The environment entry a program re-executed from `/proc/self/exe` (the monitor) needs
/// to know it runs from the same sealed copy: [`ENV`] when this process is sealed.
pub fn inherited_env() -> Option<(&'static str, &'static Path)> {
    is_sealed().then(|| (ENV, original_exe().unwrap_or(Path::new("/proc/self/exe"))))
}

/// How the binary at `fd` (an open `/proc/self/exe`) is sealed. A read-only mount counts
/// when `marked` (this process was started by [`reexec`] or from a sealed program), when
/// the mount is in no mount table (detached: nobody can make it writable again, see
/// the tests), or when it is a bind mount of the binary itself ([`own_mount`]); a binary
/// on any other read-only mount, which the host may remount read-write, is not sealed.
fn sealing_of(fd: RawFd, marked: bool) -> Sealing {
    // F_GET_SEALS only works on memfds (EINVAL elsewhere).
    // SAFETY: fcntl on an fd we own, no pointer arguments.
    let seals = unsafe { libc::fcntl(fd, libc::F_GET_SEALS) };
    if seals >= 0 && seals & libc::F_SEAL_WRITE != 0 {
        return Sealing::Memfd;
    }
    if not_writable_rootless(fd) {
        return Sealing::NotWritable;
    }
    {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: fstatvfs writes a statvfs into the buffer we pass.
        if unsafe { libc::fstatvfs(fd, st.as_mut_ptr()) } == 0 {
            // SAFETY: fstatvfs succeeded, so the struct is initialised.
            let st = unsafe { st.assume_init() };
            if st.f_flag & libc::ST_RDONLY != 0 && (marked || own_mount(fd)) {
                return Sealing::ReadOnlyMount;
            }
        }
    }
    Sealing::None
}

/// Whether this process is not root and the file of `fd` belongs to another user with no
/// group or world write bit (see [`Sealing::NotWritable`]).
fn not_writable_rootless(fd: RawFd) -> bool {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid == 0 {
        return false;
    }
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a stat into the buffer we pass.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    let st = unsafe { st.assume_init() };
    st.st_uid != euid && st.st_mode & 0o022 == 0
}

/// Whether the (read-only) mount of `fd` is the binary's own: missing from this
/// process's mount table (a program re-executed through `/proc/self/exe` by a sealed one:
/// its binary is on the dissolved read-only mount), or mounted on the binary itself (a
/// read-only bind mount of this one file, see the module docs). A read-only file system
/// that happens to hold the binary is neither: the host may remount it read-write.
fn own_mount(fd: RawFd) -> bool {
    const STATX_MNT_ID: u32 = 0x1000;
    let mut stx = std::mem::MaybeUninit::<libc::statx>::uninit();
    // SAFETY: statx of the fd itself ("" with AT_EMPTY_PATH) into the buffer we pass.
    let r = unsafe {
        libc::statx(
            fd,
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            STATX_MNT_ID | libc::STATX_INO,
            stx.as_mut_ptr(),
        )
    };
    if r != 0 {
        return false;
    }
    // SAFETY: statx succeeded, so the struct is initialised.
    let stx = unsafe { stx.assume_init() };
    if stx.stx_mask & STATX_MNT_ID == 0 {
        return false;
    }
    let Ok(table) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let id = stx.stx_mnt_id.to_string();
    // mountinfo: id parent major:minor root mount-point options ...
    let Some(line) = table
        .lines()
        .find(|l| l.split(' ').next() == Some(id.as_str()))
    else {
        return true;
    };
    let Some(point) = line.split(' ').nth(4) else {
        return false;
    };
    // Only a bind mount can stand on a regular file, and then it holds that file alone.
    std::fs::metadata(unescape_mountinfo(point)).is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.is_file()
            && m.ino() == stx.stx_ino
            && m.dev() == libc::makedev(stx.stx_dev_major, stx.stx_dev_minor)
    })
}

/// A path as `/proc/self/mountinfo` writes it: space, tab, newline and backslash as
/// `\040`, `\011`, `\012`, `\134`.
fn unescape_mountinfo(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// [`raw::check_long`](super::raw) with the errno as an `io::Error`.
fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    super::raw::check_long(ret).map_err(io::Error::from_raw_os_error)
}

/// mount_setattr(2) of the mount whose root `fd` is.
fn mount_setattr(fd: RawFd, set: u64, clear: u64) -> io::Result<()> {
    super::raw::mount_setattr(fd, c"", libc::AT_EMPTY_PATH as libc::c_uint, set, clear)
        .map_err(io::Error::from_raw_os_error)
}

/// A read-only detached bind mount of the file `path`: its fd (`O_PATH` of the file).
fn read_only_mount(path: &CStr) -> io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree with a NUL-terminated path; it returns a fresh fd or -1.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    })?;
    // SAFETY: open_tree returned a fresh fd we now own.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    mount_setattr(tree.as_raw_fd(), MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV, 0)?;
    Ok(tree)
}

/// The length of the prefix of the ELF file at `fd` that holds its headers and every
/// segment — all that `execve` and the dynamic loader read — or `None` when it is not a
/// native 64-bit little-endian ELF file whose headers read whole. Linkers put what is
/// not loaded (`.debug_*`, `.symtab`, `.strtab`, the section headers) after the segments,
/// so a release binary with debug info (~130 MB here) has a prefix of a few MB: the memfd
/// copy costs that much instead of the whole file. The copy's backtraces lose their
/// symbols.
fn loadable_len(fd: &OwnedFd) -> Option<usize> {
    let mut ehdr = [0u8; 64];
    pread_exact(fd, &mut ehdr, 0)?;
    // \x7fELF, ELFCLASS64, ELFDATA2LSB
    if ehdr[..4] != *b"\x7fELF" || ehdr[4] != 2 || ehdr[5] != 1 || cfg!(target_endian = "big") {
        return None;
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let phoff = u64_at(&ehdr, 0x20);
    let phentsize = u64::from(u16_at(&ehdr, 0x36));
    let phnum = u64::from(u16_at(&ehdr, 0x38));
    if phentsize < 56 || phnum == 0 {
        return None;
    }
    let table_len = usize::try_from(phentsize * phnum).ok()?;
    let mut table = vec![0u8; table_len];
    pread_exact(fd, &mut table, phoff)?;
    let mut end = phoff.checked_add(phentsize * phnum)?.max(64);
    for ph in table.chunks_exact(usize::try_from(phentsize).ok()?) {
        // p_offset at 0x08, p_filesz at 0x20 of an Elf64_Phdr
        end = end.max(u64_at(ph, 0x08).checked_add(u64_at(ph, 0x20))?);
    }
    usize::try_from(end).ok()
}

/// Reads `buf.len()` bytes at `offset` of `fd`, or `None`.
fn pread_exact(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> Option<()> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: pread into the unfilled tail of a buffer we own, its length passed.
        let n = unsafe {
            libc::pread(
                fd.as_raw_fd(),
                buf[done..].as_mut_ptr().cast(),
                buf.len() - done,
                libc::off_t::try_from(offset + done as u64).ok()?,
            )
        };
        if n <= 0 {
            return None;
        }
        done += n as usize;
    }
    Some(())
}

/// Zeroes `e_shoff`, `e_shnum` and `e_shstrndx` of the ELF header at the start of `mem`.
fn forget_sections(mem: &OwnedFd) -> io::Result<()> {
    for (at, len) in [(0x28, 8), (0x3c, 4)] {
        let zeros = [0u8; 8];
        // SAFETY: pwrite of `len` bytes from a buffer of 8 into an fd we own.
        let n = unsafe { libc::pwrite(mem.as_raw_fd(), zeros.as_ptr().cast(), len, at) };
        if n != len as isize {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A sealed memfd holding a copy of the binary open at `exe` (its loadable prefix, see
/// [`loadable_len`]).
fn sealed_memfd(exe: &OwnedFd) -> io::Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10;
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    let name = c"cargohold-sealed";
    // Linux 6.3 wants the memfd marked executable explicitly; older ones refuse the flag.
    // SAFETY: memfd_create with a NUL-terminated name; it returns a fresh fd or -1.
    let mut fd = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
    if fd < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // SAFETY: as above.
        fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: memfd_create returned a fresh fd we now own.
    let mem = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a stat into the buffer we pass.
    if unsafe { libc::fstat(exe.as_raw_fd(), st.as_mut_ptr()) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    let file_size = unsafe { st.assume_init() }.st_size as usize;
    // What the kernel and the loader read; the rest (debug info, symbols) is left out.
    let loadable = loadable_len(exe).filter(|&n| n < file_size);
    let size = loadable.unwrap_or(file_size);
    let mut copied = 0;
    while copied < size {
        // SAFETY: sendfile between two fds we own, with no offset pointer (the file
        // offsets advance).
        let n = check(unsafe {
            libc::sendfile(
                mem.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                size - copied,
            ) as libc::c_long
        })?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        copied += n as usize;
    }
    if loadable.is_some() {
        // The section header table went with the tail: say there is none.
        forget_sections(&mem)?;
    }
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: fcntl on an fd we own, with an int argument.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, seals) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(mem)
}

fn cstrings(items: impl Iterator<Item = OsString>) -> Vec<CString> {
    items
        .filter_map(|s| CString::new(s.into_vec()).ok())
        .collect()
}

/// Executes the binary at `fd` with this process's argv, and its environment plus [`ENV`]
/// (set to `original`). Returns only on failure.
fn exec_fd(fd: &OwnedFd, original: &OsString) -> io::Error {
    let argv = cstrings(std::env::args_os());
    let env = cstrings(
        std::env::vars_os()
            .filter(|(k, _)| k != ENV)
            .map(|(k, v)| {
                let mut e = k;
                e.push("=");
                e.push(v);
                e
            })
            .chain([{
                let mut e = OsString::from(format!("{ENV}="));
                e.push(original);
                e
            }]),
    );
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|s| s.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: execveat with NUL-terminated arrays of pointers into CStrings that outlive
    // the call, and "" with AT_EMPTY_PATH for the fd itself.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            env_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        );
    }
    io::Error::last_os_error()
}

/// Makes this program run from a sealed copy of itself (see the [module docs](self)):
/// returns at once when it already does (after one cheap check), re-executes it otherwise.
/// Returns how it is sealed, [`Sealing::None`] when turned off by [`METHOD_ENV`].
///
/// Call it first thing in `main`, before any thread exists: it reads and changes the
/// environment, and re-executing drops whatever the process has done so far.
///
/// # Errors
/// Neither way to seal worked (the program then runs unsealed).
pub fn reexec() -> io::Result<Sealing> {
    let mark = std::env::var_os(ENV);
    let marked = mark.is_some();
    if marked {
        // Single-threaded here (see above); children must not inherit the mark.
        std::env::remove_var(ENV);
    }
    let method = std::env::var_os(METHOD_ENV);
    if method.as_ref().is_some_and(|v| v == "off") {
        return Ok(Sealing::None);
    }
    let exe = std::fs::File::open("/proc/self/exe")?;
    let exe = OwnedFd::from(exe);
    let sealing = sealing_of(exe.as_raw_fd(), marked);
    if sealing != Sealing::None {
        if let Some(m) = mark {
            let _ = ORIGINAL.set(PathBuf::from(m));
        }
        SEALED.store(true, Ordering::Relaxed);
        return Ok(sealing);
    }
    let original = std::fs::read_link("/proc/self/exe")?.into_os_string();
    if marked {
        // Re-executed, yet not sealed: never loop.
        return Err(io::Error::other(
            "the re-executed binary is not sealed".to_owned(),
        ));
    }
    let mount_err = if method.as_ref().is_some_and(|v| v == "memfd") {
        io::Error::other(format!("{METHOD_ENV}=memfd"))
    } else {
        match read_only_mount(c"/proc/self/exe") {
            Ok(fd) => exec_fd(&fd, &original),
            Err(e) => e,
        }
    };
    let memfd_err = match sealed_memfd(&exe) {
        Ok(fd) => exec_fd(&fd, &original),
        Err(e) => e,
    };
    Err(io::Error::new(
        memfd_err.kind(),
        format!("sealing the binary: read-only mount: {mount_err}; memfd: {memfd_err}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    #[test]
    fn a_sealed_memfd_cannot_be_written() {
        let exe = OwnedFd::from(std::fs::File::open("/proc/self/exe").unwrap());
        let mem = sealed_memfd(&exe).unwrap();
        assert_eq!(sealing_of(mem.as_raw_fd(), false), Sealing::Memfd);
        let path = format!("/proc/self/fd/{}", mem.as_raw_fd());
        // the same bytes up to the end of the last segment (this test binary has debug
        // info after them, left out), no section headers
        let copy = std::fs::read(&path).unwrap();
        let whole = std::fs::read("/proc/self/exe").unwrap();
        assert!(
            copy.len() < whole.len(),
            "{} of {}",
            copy.len(),
            whole.len()
        );
        assert_eq!(copy[64..], whole[64..copy.len()]);
        assert_eq!(copy[..0x28], whole[..0x28]);
        assert_eq!(copy[0x28..0x30], [0; 8]);
        assert_eq!(copy[0x3c..0x40], [0; 4]);
        // and it runs: the copy of this test binary lists its tests
        let out = std::process::Command::new(&path)
            .args(["--list", "a_sealed_memfd_cannot_be_written"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("a_sealed_memfd_cannot_be_written: test"),
            "{out:?}"
        );
        // neither written nor truncated through a new open
        let e = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let e = std::io::Write::write(&mut f, b"x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(
            unescape_mountinfo(r"/a\040b/c\134d\011e\012"),
            PathBuf::from("/a b/c\\d\te\n")
        );
        assert_eq!(unescape_mountinfo(r"/x\9y\04"), PathBuf::from(r"/x\9y\04"));
    }

    /// `mount(2)` with no data; the errno on failure.
    fn mount(src: &CStr, target: &CStr, flags: libc::c_ulong) -> Result<(), i32> {
        // SAFETY: two NUL-terminated paths, no fs type or data.
        let r = unsafe {
            libc::mount(
                src.as_ptr(),
                target.as_ptr(),
                std::ptr::null(),
                flags,
                std::ptr::null(),
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        }
    }

    fn umount(target: &CStr) {
        // SAFETY: a NUL-terminated path.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
    }

    #[test]
    fn a_read_only_bind_of_the_binary_itself_is_sealed_a_read_only_directory_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let file = sub.join("bin");
        std::fs::write(&file, b"binary").unwrap();
        let c = |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        let (cfile, csub) = (c(&file), c(&sub));
        let ro = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY;
        match mount(&cfile, &cfile, libc::MS_BIND) {
            Ok(()) => {}
            // not root: nothing to test here
            Err(libc::EPERM) => return,
            Err(e) => panic!("bind mount: {}", io::Error::from_raw_os_error(e)),
        }
        let file_case = mount(c"none", &cfile, ro).map(|()| {
            let f = std::fs::File::open(&file).unwrap();
            let sealing = sealing_of(f.as_raw_fd(), false);
            let e = std::fs::OpenOptions::new()
                .write(true)
                .open(&file)
                .unwrap_err();
            (sealing, e.raw_os_error())
        });
        umount(&cfile);
        assert_eq!(file_case, Ok((Sealing::ReadOnlyMount, Some(libc::EROFS))));

        // a read-only directory mount holding the binary: the host may remount it
        mount(&csub, &csub, libc::MS_BIND).unwrap();
        let dir_case = mount(c"none", &csub, ro).map(|()| {
            let f = std::fs::File::open(&file).unwrap();
            sealing_of(f.as_raw_fd(), false)
        });
        umount(&csub);
        assert_eq!(dir_case, Ok(Sealing::None));
    }

    #[test]
    fn a_plain_binary_is_not_sealed() {
        let exe = std::fs::File::open("/proc/self/exe").unwrap();
        assert_eq!(sealing_of(exe.as_raw_fd(), false), Sealing::None);
    }

    #[test]
    fn the_read_only_mount_refuses_writes_and_stays_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bin");
        std::fs::write(&file, b"binary").unwrap();
        let path = CString::new(file.to_str().unwrap()).unwrap();
        let tree = match read_only_mount(&path) {
            Ok(t) => t,
            // not root, or an old kernel: the memfd is the way there
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::ENOSYS)) => return,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(sealing_of(tree.as_raw_fd(), true), Sealing::ReadOnlyMount);
        // in no mount table: sealed without the mark too
        assert_eq!(sealing_of(tree.as_raw_fd(), false), Sealing::ReadOnlyMount);
        // What an exec leaves: the file open, the mount's fd closed (CLOEXEC), so the
        // detached mount is dissolved but lives on under the open file.
        let via = format!("/proc/self/fd/{}", tree.as_raw_fd());
        let open = std::fs::File::open(&via).unwrap();
        drop(tree);
        let via = format!("/proc/self/fd/{}", open.as_raw_fd());
        assert_eq!(std::fs::read(&via).unwrap(), b"binary");
        assert_eq!(sealing_of(open.as_raw_fd(), false), Sealing::ReadOnlyMount);
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&via)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{e}");
        // and nobody can make it writable again, or clone it to a writable mount
        let o_path = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH)
            .open(&via)
            .unwrap();
        let e = mount_setattr(o_path.as_raw_fd(), 0, MOUNT_ATTR_RDONLY).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
        let e = read_only_mount(&CString::new(via).unwrap()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
        assert_eq!(std::fs::read(&file).unwrap(), b"binary");
    }
}
