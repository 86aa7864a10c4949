//! overlayfs mounts: a container's root file system from read-only image layers and a
//! writable upper directory.
//!
//! [`options`] builds the mount data as plain text (unit-tested); [`mount`] and
//! [`unmount`] make the calls through [`super::raw`], so this file itself holds no
//! `unsafe`.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The option that makes an overlay volatile (Linux 5.10+), see [`options`].
pub const VOLATILE: &str = ",volatile";

/// The largest mount data the kernel accepts (one page).
pub const MAX_OPTIONS: usize = 4096;

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Escapes a path for `lowerdir=`/`upperdir=`: overlayfs splits on `,` (options) and on
/// `:` (lower dirs), and takes `\` as the escape of both.
fn escape(out: &mut Vec<u8>, path: &Path) {
    for &b in path.as_os_str().as_bytes() {
        if matches!(b, b',' | b':' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// The mount data for an overlay of `lower` (**top layer first**, as overlayfs wants it),
/// `upper` and `work`. Without `upper` the mount is read-only and `work` is ignored.
///
/// Append [`VOLATILE`] for an upper dir that need not survive a crash: overlayfs then skips
/// every sync of the upper file system, which on a busy ext4 makes unmounting tens of
/// milliseconds faster (after a crash the upper dir cannot be mounted again).
///
/// # Errors
/// `EINVAL` when `lower` is empty or the data exceeds [`MAX_OPTIONS`] bytes (too many or too
/// long layer paths).
pub fn options(lower: &[PathBuf], upper: Option<(&Path, &Path)>) -> io::Result<String> {
    if lower.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut out = b"lowerdir=".to_vec();
    for (i, l) in lower.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        escape(&mut out, l);
    }
    if let Some((upper, work)) = upper {
        out.extend_from_slice(b",upperdir=");
        escape(&mut out, upper);
        out.extend_from_slice(b",workdir=");
        escape(&mut out, work);
    }
    if out.len() >= MAX_OPTIONS {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    String::from_utf8(out).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Mounts an overlay at `target` with the data [`options`] built.
///
/// # Errors
/// The mount(2) error (`EINVAL` for a bad option, `ENOENT` for a missing dir).
pub fn mount(target: &Path, options: &str) -> io::Result<()> {
    let target = cstr(target.as_os_str().as_bytes())?;
    let data = cstr(options.as_bytes())?;
    super::raw::mount(Some(c"overlay"), &target, Some(c"overlay"), 0, Some(&data))
        .map_err(io::Error::from_raw_os_error)?;
    // Private: the copy a container's mount namespace takes of it is not its peer, so
    // unmounting it here (an attached container's, once it runs) leaves the container's.
    super::raw::mount(None, &target, None, libc::MS_PRIVATE, None)
        .map_err(io::Error::from_raw_os_error)
}

/// Unmounts `target`; a target that is not a mount point (`EINVAL`) or is gone (`ENOENT`) is
/// not an error. With `detach`, a busy mount is detached lazily (MNT_DETACH).
///
/// # Errors
/// The umount2(2) error (`EBUSY` without `detach`).
pub fn unmount(target: &Path, detach: bool) -> io::Result<()> {
    let c = cstr(target.as_os_str().as_bytes())?;
    let flags = if detach { libc::MNT_DETACH } else { 0 };
    match super::raw::umount2(&c, flags) {
        Ok(()) | Err(libc::EINVAL) | Err(libc::ENOENT) => Ok(()),
        Err(e) => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Whether `target` is a mount point in this process's mount namespace (read from
/// `/proc/self/mountinfo`; octal escapes of the kernel are decoded).
pub fn is_mounted(target: &Path) -> bool {
    let Ok(info) = std::fs::read("/proc/self/mountinfo") else {
        return false;
    };
    let want = target.as_os_str().as_bytes();
    info.split(|&b| b == b'\n').any(|line| {
        line.split(|&b| b == b' ')
            .nth(4)
            .is_some_and(|p| unescape(p) == want)
    })
}

/// How many mounts are stacked at `target` in this process's mount namespace (read from
/// `/proc/self/mountinfo`, as [`is_mounted`]).
pub fn mounts_at(target: &Path) -> usize {
    let Ok(info) = std::fs::read("/proc/self/mountinfo") else {
        return 0;
    };
    let want = target.as_os_str().as_bytes();
    info.split(|&b| b == b'\n')
        .filter(|line| {
            line.split(|&b| b == b' ')
                .nth(4)
                .is_some_and(|p| unescape(p) == want)
        })
        .count()
}

/// Decodes mountinfo's `\ooo` escapes (space, tab, newline, backslash); the cgroup
/// module reads mountinfo through it too.
pub(super) fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && i + 3 < s.len()
            && s[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((s[i + 1] - b'0') * 64 + (s[i + 2] - b'0') * 8 + (s[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_list_lower_top_first_and_escape() {
        let o = options(
            &["/l/top".into(), "/l/a,b:c".into()],
            Some((Path::new("/c/upper"), Path::new("/c/work"))),
        )
        .unwrap();
        assert_eq!(
            o,
            r"lowerdir=/l/top:/l/a\,b\:c,upperdir=/c/upper,workdir=/c/work"
        );
        assert_eq!(options(&["/a".into()], None).unwrap(), "lowerdir=/a");
        assert!(options(&[], None).is_err());
        let long: Vec<PathBuf> = (0..100)
            .map(|i| format!("/{}/{i}", "x".repeat(60)).into())
            .collect();
        assert!(options(&long, None).is_err());
    }

    #[test]
    fn mountinfo_escapes_decode() {
        assert_eq!(unescape(br"/a\040b"), b"/a b");
        assert_eq!(unescape(br"/a\\"), br"/a\\");
    }
}
