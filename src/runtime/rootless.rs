//! Turning a spec written for root into one a user without root can run, as
//! `runc spec --rootless` writes it.

use oci_spec::runtime::{
    LinuxIdMapping, LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, Mount, Spec,
};

/// Makes `spec` runnable without root (see [`rootless`](super::rootless)), as
/// `runc spec --rootless` does: a new user namespace whose only ids are `inside` (uid, gid)
/// mapped to the caller's own (the kernel lets a user map its own ids without helpers);
/// no `gid=` on `devpts` (the tty group is not mapped); no cgroup namespace (a user
/// namespace cannot mount a v1 cgroup hierarchy, so the runtime binds the container's
/// cgroup directories instead); and `/sys` bound from the host, read-only, where the
/// container has no network namespace of its own (sysfs can only be mounted by the owner
/// of the network namespace). Device nodes are then bound from the host by the runtime.
pub fn make_rootless(spec: &mut Spec, inside: (u32, u32)) {
    let map = |inside: u32, outside: u32| id_mapping(inside, outside, 1);
    let Some(linux) = spec.linux_mut() else {
        return;
    };
    let mut ns = linux.namespaces().clone().unwrap_or_default();
    ns.retain(|n| {
        !(n.typ() == LinuxNamespaceType::Cgroup
            || n.typ() == LinuxNamespaceType::User && n.path().is_none())
    });
    let own_net = ns
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network && n.path().is_none());
    ns.push(
        LinuxNamespaceBuilder::default()
            .typ(LinuxNamespaceType::User)
            .build()
            .expect("the type is set"),
    );
    linux.set_namespaces(Some(ns));
    linux.set_uid_mappings(Some(vec![map(
        inside.0,
        rustix::process::geteuid().as_raw(),
    )]));
    linux.set_gid_mappings(Some(vec![map(
        inside.1,
        rustix::process::getegid().as_raw(),
    )]));
    let Some(mounts) = spec.mounts_mut() else {
        return;
    };
    for m in mounts.iter_mut() {
        if let Some(opts) = m.options_mut() {
            opts.retain(|o| !o.starts_with("gid="));
        }
        if m.typ().as_deref() == Some("sysfs") && !own_net {
            *m = sys_bind(m);
        }
    }
}

/// One line of an id map: `size` ids from `inside` in the namespace, `host` outside.
pub(crate) fn id_mapping(inside: u32, host: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(inside)
        .host_id(host)
        .size(size)
        .build()
        .expect("every field of the mapping is set")
}

/// `/sys` bound recursively from the host, read-only (runc's rootless `/sys`).
fn sys_bind(sysfs: &Mount) -> Mount {
    let mut m = Mount::default();
    m.set_destination(sysfs.destination().clone())
        .set_typ(Some("none".into()))
        .set_source(Some("/sys".into()))
        .set_options(Some(
            ["rbind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        ));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_root_spec_becomes_runc_spec_rootless() {
        let mut spec = Spec::default();
        let mut ns = spec.linux().as_ref().unwrap().namespaces().clone().unwrap();
        ns.retain(|n| n.typ() != LinuxNamespaceType::Network);
        ns.push(
            LinuxNamespaceBuilder::default()
                .typ(LinuxNamespaceType::Cgroup)
                .build()
                .unwrap(),
        );
        spec.linux_mut().as_mut().unwrap().set_namespaces(Some(ns));
        make_rootless(&mut spec, (0, 0));
        let linux = spec.linux().as_ref().unwrap();
        let types: Vec<_> = linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert!(types.contains(&LinuxNamespaceType::User));
        assert!(!types.contains(&LinuxNamespaceType::Cgroup));
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        assert_eq!(
            (uid.container_id(), uid.host_id(), uid.size()),
            (0, rustix::process::geteuid().as_raw(), 1)
        );
        let mounts = spec.mounts().as_ref().unwrap();
        let pts = mounts
            .iter()
            .find(|m| m.destination().as_os_str() == "/dev/pts");
        assert!(!pts
            .unwrap()
            .options()
            .as_ref()
            .unwrap()
            .iter()
            .any(|o| o.starts_with("gid=")));
        // no network namespace of its own: /sys is the host's, bound read-only
        let sys = mounts
            .iter()
            .find(|m| m.destination().as_os_str() == "/sys")
            .unwrap();
        assert_eq!(sys.source().as_deref(), Some(std::path::Path::new("/sys")));
        assert!(sys
            .options()
            .as_ref()
            .unwrap()
            .contains(&"rbind".to_owned()));
    }
}
