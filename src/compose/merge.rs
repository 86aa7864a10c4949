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

/// Merges fields of `o` into `b` by their rule: `rule: field, …;` is
/// `rule(&mut b.field, o.field)` for each field.
macro_rules! merge_fields {
    ($b:ident, $o:ident; $($rule:ident: $($field:ident),+;)+) => {
        $($($rule(&mut $b.$field, $o.$field);)+)+
    };
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

/// Entries of `o` replace those of `base` with the same key; new ones are added.
fn by_key<K: Ord, V>(base: &mut BTreeMap<K, V>, o: BTreeMap<K, V>) {
    base.extend(o);
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
    merge_fields!(b, o;
        set: image, command, entrypoint, network_mode, restart, working_dir, user, hostname,
            domainname, container_name, privileged, read_only, mem_limit, mem_reservation,
            shm_size, cpus, cpu_shares, pids_limit, stop_signal, stop_grace_period, init, tty,
            stdin_open, ipc, pid, platform, pull_policy, scale;
        by_key: environment, networks, depends_on, labels, extra_hosts, ulimits, sysctls;
        append_unique: expose, dns, dns_search, cap_add, cap_drop, security_opt, devices,
            group_add, tmpfs, profiles;
    );
    nested(&mut b.build, o.build, merge_build);
    merge_keyed(&mut b.env_file, o.env_file, |e| e.path.clone());
    merge_keyed(&mut b.ports, o.ports, Port::clone);
    merge_keyed(&mut b.volumes, o.volumes, |v: &ServiceVolume| {
        v.target.clone()
    });
    nested(&mut b.healthcheck, o.healthcheck, merge_healthcheck);
    nested(&mut b.logging, o.logging, merge_logging);
    nested(&mut b.deploy, o.deploy, merge_deploy);
    merge_keyed(&mut b.secrets, o.secrets, file_ref_key);
    merge_keyed(&mut b.configs, o.configs, file_ref_key);
}

/// Secrets and configs are unique by where they land: the target, else the source.
fn file_ref_key(r: &FileRef) -> String {
    r.target.clone().unwrap_or_else(|| r.source.clone())
}

fn merge_build(b: &mut Build, o: Build) {
    merge_fields!(b, o;
        set: context, dockerfile, dockerfile_inline, target, network, no_cache, pull;
        by_key: args, labels;
        append_unique: tags;
    );
}

fn merge_healthcheck(b: &mut Healthcheck, o: Healthcheck) {
    merge_fields!(b, o;
        set: test, interval, timeout, retries, start_period, start_interval;
        flag: disable;
    );
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
    merge_fields!(b, o;
        set: mode, replicas, restart_policy;
        by_key: labels;
    );
    nested(&mut b.resources, o.resources, merge_resources);
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
    merge_fields!(b, o;
        set: name, driver, enable_ipv6;
        flag: external, internal, attachable;
        by_key: driver_opts, labels;
    );
    if let Some(oi) = o.ipam {
        let bi = b.ipam.get_or_insert_with(Default::default);
        set(&mut bi.driver, oi.driver);
        merge_keyed(&mut bi.config, oi.config, |p| p.subnet.clone());
    }
}

fn merge_volume(b: &mut VolumeConfig, o: VolumeConfig) {
    merge_fields!(b, o;
        set: name, driver;
        flag: external;
        by_key: driver_opts, labels;
    );
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
