//! Network namespaces made ahead of the clone.
//!
//! A new network namespace is the dearest single step of a container's creation: every
//! per-namespace subsystem of the kernel registers its state and sysctls and the loopback
//! device is made (about 0.6 ms of a 3.5 ms `run` of `/bin/true` on the bench machine, see
//! benches/README.md). It needs nothing from the container, so the runtime makes it off the
//! critical path: on a thread of its own while `create` loads the bundle and makes the
//! cgroup, and, once a [`Runtime`](super::Runtime) has created a second container, one
//! namespace ahead for the next `create`. The child joins it with setns(2) where it would
//! have passed `CLONE_NEWNET` to clone; to the container nothing differs (a namespace
//! nobody has used, owned by the same user namespace, its loopback up as the runtime
//! brings it up anyway).
//!
//! Only for specs that ask for a new network namespace and no user namespace: a network
//! namespace belongs to the user namespace of its maker, which must be the container's.

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crate::sys::netns;

/// Creates after which a spare is kept: a runtime that made one container (a CLI process)
/// is not made to pay for a second namespace it will never use.
const KEEP_AFTER: u32 = 1;

/// The spare namespace of a runtime and its clones.
#[derive(Clone, Default)]
pub(crate) struct NetnsSupply {
    inner: Arc<Mutex<Supply>>,
}

#[derive(Default)]
struct Supply {
    spare: Option<OwnedFd>,
    /// Namespaces handed out so far.
    handed: u32,
    /// A refill thread is running.
    filling: bool,
    /// The owner asked for none to be made ahead (only the overlapping thread is used).
    no_spare: bool,
}

/// A new network namespace on its way to a create.
pub(crate) enum Pending {
    Ready(OwnedFd),
    Coming(JoinHandle<std::io::Result<OwnedFd>>),
}

impl Pending {
    /// The namespace, once made; `None` if making it failed (clone makes one then, and
    /// reports any error with the step that failed).
    pub(crate) fn wait(self) -> Option<OwnedFd> {
        match self {
            Pending::Ready(fd) => Some(fd),
            Pending::Coming(t) => t.join().ok()?.ok(),
        }
    }
}

impl NetnsSupply {
    /// [`take`](NetnsSupply::take) for a spec whose namespaces are `ns`: only when it asks
    /// for a new network namespace and no user namespace (which must own it).
    pub(crate) fn take_for(&self, ns: &super::plan::Namespaces) -> Option<Pending> {
        if ns.new & libc::CLONE_NEWNET != 0 && !ns.has(libc::CLONE_NEWUSER) {
            self.take()
        } else {
            None
        }
    }

    /// A new network namespace for a create: the spare if one is ready, else one being made
    /// now on a thread.
    pub(crate) fn take(&self) -> Option<Pending> {
        let spare = {
            let mut s = self.lock();
            s.handed += 1;
            s.spare.take()
        };
        match spare {
            Some(fd) => Some(Pending::Ready(fd)),
            None => netns::make_new().ok().map(Pending::Coming),
        }
    }

    /// After a create: makes the next create's namespace in the background, if this runtime
    /// has made containers before and none is ready or coming.
    pub(crate) fn refill(&self) {
        {
            let mut s = self.lock();
            if s.no_spare || s.filling || s.spare.is_some() || s.handed <= KEEP_AFTER {
                return;
            }
            s.filling = true;
        }
        let supply = self.clone();
        let spawned = std::thread::Builder::new()
            .name("cargohold-netns-spare".into())
            .spawn(move || {
                let made = netns::make_new().ok().and_then(|t| t.join().ok()?.ok());
                let mut s = supply.lock();
                s.filling = false;
                if !s.no_spare {
                    s.spare = made;
                }
            });
        if spawned.is_err() {
            self.lock().filling = false;
        }
    }

    /// Whether to keep a spare from now on; `false` drops the one kept.
    pub(crate) fn keep_ahead(&self, keep: bool) {
        let mut s = self.lock();
        s.no_spare = !keep;
        if !keep {
            s.spare = None;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Supply> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn spare_within(supply: &NetnsSupply, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        while Instant::now() < deadline {
            if supply.lock().spare.is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn keeps_one_ready_from_the_second_create_and_none_when_told() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let supply = NetnsSupply::default();
        // The first create: made on a thread, nothing kept (a CLI process makes one).
        assert!(supply.take().and_then(Pending::wait).is_some());
        supply.refill();
        assert!(!spare_within(&supply, Duration::from_millis(200)));
        // The second: a spare follows, and the third create takes it.
        assert!(supply.take().and_then(Pending::wait).is_some());
        supply.refill();
        assert!(spare_within(&supply, Duration::from_secs(10)));
        assert!(matches!(supply.take(), Some(Pending::Ready(_))));
        assert!(supply.lock().spare.is_none());
        // Told to keep none: the kept one goes, and no refill makes another.
        supply.refill();
        assert!(spare_within(&supply, Duration::from_secs(10)));
        supply.keep_ahead(false);
        assert!(supply.lock().spare.is_none());
        supply.refill();
        assert!(!spare_within(&supply, Duration::from_millis(200)));
        assert!(matches!(supply.take(), Some(Pending::Coming(_))));
    }
}
