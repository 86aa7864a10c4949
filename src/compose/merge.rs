//! Merging compose files (`-f a.yaml -f b.yaml`, a default file and its `override`), by
//! Compose's rules: mappings merge key by key, the later file winning; scalars are
//! replaced; `command`, `entrypoint` and `healthcheck.test` are replaced whole;
//! `environment`, `labels`, `extra_hosts`, `sysctls`, `build.args` merge by key; `ports`
//! are unique entries, `volumes` unique by target, `secrets`/`configs` by target (or
//! source); `expose`, `dns`, `cap_add`, … are appended without duplicates; a service's
//! `networks` and `depends_on` merge by name.
//!
//! The merge works on the typed per-file models: every field of a file's model is
//! "not set" (`None`, empty) unless the file sets it, so the rules are per field.

use std::collections::BTreeMap;

use super::model::{
    Build, Deploy, FileObject, FileRef, Healthcheck, Limits, Logging, NetworkConfig, Port,
    Resources, Service, ServiceVolume, VolumeConfig,
};
use super::File;

/// Merges `o` (a later file) into `base`.
pub(super) fn merge_files(base: &mut File, o: File) {
    if o.name.is_some() {
        base.name = o.name;
    }
    for (k, s) in o.services {
        match base.services.get_mut(&k) {
            Some(b) => merge_service(b, s),
            None => {
                base.services.insert(k, s);
            }
        }
    }
    merge_by_key(&mut base.networks, o.networks, merge_network);
    merge_by_key(&mut base.volumes, o.volumes, merge_volume);
    merge_by_key(&mut base.secrets, o.secrets, merge_object);
    merge_by_key(&mut base.configs, o.configs, merge_object);
}

fn merge_by_key<T>(base: &mut BTreeMap<String, T>, o: BTreeMap<String, T>, f: fn(&mut T, T)) {
    for (k, v) in o {
        match base.get_mut(&k) {
            Some(b) => f(b, v),
            None => {
                base.insert(k, v);
            }
        }
    }
}

/// A later `Some` wins.
fn set<T>(base: &mut Option<T>, o: Option<T>) {
    if o.is_some() {
        *base = o;
    }
}

/// A later `true` wins (a boolean that is false unless set).
fn flag(base: &mut bool, o: bool) {
    *base |= o;
}

/// Appends the items not there yet.
fn append_unique<T: PartialEq>(base: &mut Vec<T>, o: Vec<T>) {
    for item in o {
        if !base.contains(&item) {
            base.push(item);
        }
    }
}

/// Items of `o` replace those of `base` with the same key; new ones are appended.
fn merge_keyed<T, K: PartialEq>(base: &mut Vec<T>, o: Vec<T>, key: impl Fn(&T) -> K) {
    for item in o {
        match base.iter().position(|b| key(b) == key(&item)) {
            Some(i) => base[i] = item,
            None => base.push(item),
        }
    }
}

/// A nested struct merged field by field when both files have it.
fn nested<T>(base: &mut Option<T>, o: Option<T>, f: fn(&mut T, T)) {
    match (base.as_mut(), o) {
        (Some(b), Some(o)) => f(b, o),
        (None, Some(o)) => *base = Some(o),
        (_, None) => {}
    }
}

/// Merges the service `o` of a later file into `b`.
pub(super) fn merge_service(b: &mut Service, o: Service) {
    set(&mut b.image, o.image);
    nested(&mut b.build, o.build, merge_build);
    set(&mut b.command, o.command);
    set(&mut b.entrypoint, o.entrypoint);
    b.environment.extend(o.environment);
    merge_keyed(&mut b.env_file, o.env_file, |e| e.path.clone());
    merge_keyed(&mut b.ports, o.ports, Port::clone);
    append_unique(&mut b.expose, o.expose);
    merge_keyed(&mut b.volumes, o.volumes, |v: &ServiceVolume| {
        v.target.clone()
    });
    b.networks.extend(o.networks);
    set(&mut b.network_mode, o.network_mode);
    b.depends_on.extend(o.depends_on);
    set(&mut b.restart, o.restart);
    nested(&mut b.healthcheck, o.healthcheck, merge_healthcheck);
    b.labels.extend(o.labels);
    set(&mut b.working_dir, o.working_dir);
    set(&mut b.user, o.user);
    set(&mut b.hostname, o.hostname);
    set(&mut b.domainname, o.domainname);
    set(&mut b.container_name, o.container_name);
    b.extra_hosts.extend(o.extra_hosts);
    append_unique(&mut b.dns, o.dns);
    append_unique(&mut b.dns_search, o.dns_search);
    append_unique(&mut b.cap_add, o.cap_add);
    append_unique(&mut b.cap_drop, o.cap_drop);
    append_unique(&mut b.security_opt, o.security_opt);
    append_unique(&mut b.devices, o.devices);
    append_unique(&mut b.group_add, o.group_add);
    set(&mut b.privileged, o.privileged);
    set(&mut b.read_only, o.read_only);
    append_unique(&mut b.tmpfs, o.tmpfs);
    b.ulimits.extend(o.ulimits);
    b.sysctls.extend(o.sysctls);
    set(&mut b.mem_limit, o.mem_limit);
    set(&mut b.mem_reservation, o.mem_reservation);
    set(&mut b.shm_size, o.shm_size);
    set(&mut b.cpus, o.cpus);
    set(&mut b.cpu_shares, o.cpu_shares);
    set(&mut b.pids_limit, o.pids_limit);
    set(&mut b.stop_signal, o.stop_signal);
    set(&mut b.stop_grace_period, o.stop_grace_period);
    set(&mut b.init, o.init);
    set(&mut b.tty, o.tty);
    set(&mut b.stdin_open, o.stdin_open);
    set(&mut b.ipc, o.ipc);
    set(&mut b.pid, o.pid);
    set(&mut b.platform, o.platform);
    set(&mut b.pull_policy, o.pull_policy);
    nested(&mut b.logging, o.logging, merge_logging);
    append_unique(&mut b.profiles, o.profiles);
    set(&mut b.scale, o.scale);
    nested(&mut b.deploy, o.deploy, merge_deploy);
    merge_keyed(&mut b.secrets, o.secrets, file_ref_key);
    merge_keyed(&mut b.configs, o.configs, file_ref_key);
}

/// Secrets and configs are unique by where they land: the target, else the source.
fn file_ref_key(r: &FileRef) -> String {
    r.target.clone().unwrap_or_else(|| r.source.clone())
}

fn merge_build(b: &mut Build, o: Build) {
    set(&mut b.context, o.context);
    set(&mut b.dockerfile, o.dockerfile);
    set(&mut b.dockerfile_inline, o.dockerfile_inline);
    b.args.extend(o.args);
    set(&mut b.target, o.target);
    b.labels.extend(o.labels);
    set(&mut b.network, o.network);
    set(&mut b.no_cache, o.no_cache);
    set(&mut b.pull, o.pull);
    append_unique(&mut b.tags, o.tags);
}

fn merge_healthcheck(b: &mut Healthcheck, o: Healthcheck) {
    set(&mut b.test, o.test);
    set(&mut b.interval, o.interval);
    set(&mut b.timeout, o.timeout);
    set(&mut b.retries, o.retries);
    set(&mut b.start_period, o.start_period);
    set(&mut b.start_interval, o.start_interval);
    flag(&mut b.disable, o.disable);
}

fn merge_logging(b: &mut Logging, o: Logging) {
    if o.driver.is_some() && o.driver != b.driver {
        // Another driver: its options do not apply to the old one.
        *b = o;
        return;
    }
    b.options.extend(o.options);
}

fn merge_deploy(b: &mut Deploy, o: Deploy) {
    set(&mut b.mode, o.mode);
    set(&mut b.replicas, o.replicas);
    b.labels.extend(o.labels);
    nested(&mut b.resources, o.resources, merge_resources);
    set(&mut b.restart_policy, o.restart_policy);
}

fn merge_resources(b: &mut Resources, o: Resources) {
    nested(&mut b.limits, o.limits, merge_limits);
    nested(&mut b.reservations, o.reservations, merge_limits);
}

fn merge_limits(b: &mut Limits, o: Limits) {
    set(&mut b.cpus, o.cpus);
    set(&mut b.memory, o.memory);
    set(&mut b.pids, o.pids);
}

fn merge_network(b: &mut NetworkConfig, o: NetworkConfig) {
    set(&mut b.name, o.name);
    set(&mut b.driver, o.driver);
    b.driver_opts.extend(o.driver_opts);
    flag(&mut b.external, o.external);
    flag(&mut b.internal, o.internal);
    flag(&mut b.attachable, o.attachable);
    set(&mut b.enable_ipv6, o.enable_ipv6);
    if let Some(oi) = o.ipam {
        let bi = b.ipam.get_or_insert_with(Default::default);
        set(&mut bi.driver, oi.driver);
        merge_keyed(&mut bi.config, oi.config, |p| p.subnet.clone());
    }
    b.labels.extend(o.labels);
}

fn merge_volume(b: &mut VolumeConfig, o: VolumeConfig) {
    set(&mut b.name, o.name);
    set(&mut b.driver, o.driver);
    b.driver_opts.extend(o.driver_opts);
    flag(&mut b.external, o.external);
    b.labels.extend(o.labels);
}

fn merge_object(b: &mut FileObject, o: FileObject) {
    set(&mut b.name, o.name);
    if o.file.is_some() || o.environment.is_some() || o.content.is_some() {
        // One source of content: the later file's.
        b.file = o.file;
        b.environment = o.environment;
        b.content = o.content;
    }
    flag(&mut b.external, o.external);
    b.labels.extend(o.labels);
}
