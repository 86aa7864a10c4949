//! Where cargohold keeps things by default: the system paths as root, the XDG ones
//! otherwise (rootless is detected from the effective uid, never configured).
//!
//! | what               | root                     | rootless                                   |
//! |--------------------|--------------------------|--------------------------------------------|
//! | engine root        | `/var/lib/cargohold`     | `$XDG_DATA_HOME/cargohold` (`~/.local/share/cargohold`) |
//! | runtime state      | `/run/cargohold…`        | `$XDG_RUNTIME_DIR/cargohold…`              |
//!
//! Without `$XDG_RUNTIME_DIR` (a `su` session, a cron job) the runtime directory is
//! `/run/user/<uid>` if it is the user's, else a directory of the user's own under the
//! temporary directory, `cargohold-<uid>`, made 0700 and checked to be the user's (another
//! user could have made the name first).

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::PathBuf;

/// Whether this process runs without root of the host (effective uid not 0).
pub(crate) fn rootless() -> bool {
    !rustix::process::geteuid().is_root()
}

/// The directory for runtime state (lost at reboot): `/run` as root, the user's runtime
/// directory rootless (see the module docs).
pub(crate) fn runtime_dir() -> PathBuf {
    if !rootless() {
        return PathBuf::from("/run");
    }
    let uid = rustix::process::geteuid().as_raw();
    let own = |p: &PathBuf| {
        fs::metadata(p).is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0)
    };
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let user_run = PathBuf::from(format!("/run/user/{uid}"));
    if own(&user_run) {
        return user_run;
    }
    let tmp = std::env::temp_dir().join(format!("cargohold-{uid}"));
    let _ = fs::DirBuilder::new().mode(0o700).create(&tmp);
    if own(&tmp) {
        return tmp;
    }
    // someone else made the name first: one of this process's own, which no later
    // process finds (its state is then this process's alone)
    let mine = std::env::temp_dir().join(format!("cargohold-{uid}-{}", std::process::id()));
    let _ = fs::DirBuilder::new().mode(0o700).create(&mine);
    mine
}

/// The directory for data kept across reboots: `/var/lib` as root, `$XDG_DATA_HOME` (else
/// `$HOME/.local/share`) rootless.
pub(crate) fn data_dir() -> PathBuf {
    if !rootless() {
        return PathBuf::from("/var/lib");
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".local/share")
}

/// The owner a file of the store has in an image: as it is; rootless, through the
/// engine's user namespace ([`crate::userns::IdMap`]): the user's own ids are root's, a
/// subordinate id its place in the range.
pub(crate) fn image_owner(uid: u32, gid: u32) -> (u32, u32) {
    if !rootless() {
        return (uid, gid);
    }
    crate::userns::IdMap::current().to_image((uid, gid))
}
