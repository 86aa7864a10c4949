//! Create: reserve a name and a directory, write the record, hold the image, mount the
//! overlay, write `/etc` files, attach volumes and write `config.json` — a prepared OCI
//! bundle ([`Bundle`]) that [`start`](super::start) runs attached or detached, or that
//! waits, owned by no program, for [`Container::start`] (`docker create`).
//!
//! Until the bundle is settled ([`Bundle::settle`]) a failure undoes every step taken.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::Mount as OciMount;

use super::limits::Limits;
use super::monitor::RestartPolicy;
use super::net::{self, NetSettings};
use super::record::{Config, HostConfig, Inspect, MountPoint, Record, State};
use super::spec::{self, ExecUser};
use super::store::ContainerStore;
use super::{rootfs, Container, GraphDriver};
use crate::network::PortBinding;
use crate::volume::{Mount, MountType, Propagation};
use crate::{Error, Result};

/// A container's settings, checked by the builder
/// ([`ContainerBuilder`](super::ContainerBuilder)): what [`ContainerStore::create`] makes
/// a bundle of. Plain data; nothing is on disk yet.
#[derive(Debug)]
pub(super) struct Plan {
    /// What errors call the container before it has a name: its name, or `from image …`.
    pub label: String,
    /// The name asked for (`None`: a random one).
    pub name: Option<String>,
    /// The image's id (`sha256:…`).
    pub image_id: String,
    /// The reference the container holds its image by.
    pub reference: String,
    /// The image as `Config.Image` shows it.
    pub image_name: String,
    /// The image's configuration (its Env, Entrypoint, ExposedPorts…).
    pub image_cfg: oci_spec::image::Config,
    /// The command: entrypoint and arguments.
    pub argv: Vec<String>,
    /// The entrypoint as given (`None`: the image's).
    pub entrypoint: Option<Vec<String>>,
    /// The arguments as given (`None`: the image's Cmd).
    pub args: Option<Vec<String>>,
    /// The environment set, over the image's unless `env_clear`.
    pub env_overrides: Vec<(String, String)>,
    pub env_clear: bool,
    /// The working directory, absolute.
    pub cwd: String,
    /// The user spec (empty: root).
    pub user: String,
    /// The hostname asked for (`None`: the short id).
    pub hostname: Option<String>,
    /// The labels, with the configuration hash of a reusable container.
    pub labels: BTreeMap<String, String>,
    /// The capabilities it gets, and the changes asked for (as `HostConfig` shows them).
    pub caps: BTreeSet<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// A pty; stdin kept open (attached, not null).
    pub tty: bool,
    pub open_stdin: bool,
    /// `--read-only`, `--privileged`.
    pub read_only: bool,
    pub privileged: bool,
    /// `linux.seccomp` (`None`: no filter), `process.noNewPrivileges`, and the options as
    /// `HostConfig.SecurityOpt` shows them.
    pub seccomp: Option<std::sync::Arc<spec::Seccomp>>,
    pub no_new_privileges: bool,
    pub security_opt: Vec<String>,
    /// Limits: memory, swap and soft limit in bytes, CPU shares, CFS quota and period in
    /// µs (checked and adjusted as Docker does); processes.
    pub limits: Limits,
    pub pids: Option<i64>,
    /// Started through a monitor; removed once exited; tied to this program.
    pub detach: bool,
    pub auto_remove: bool,
    pub ephemeral: bool,
    /// When its monitor starts it again.
    pub restart: RestartPolicy,
    /// Its networking, and the name servers asked for.
    pub net: NetSettings,
    pub dns: Vec<String>,
    /// Its stop signal, by name and number, and the default timeout of a stop.
    pub stop_signal: String,
    pub stop_signo: i32,
    pub stop_timeout: Option<Duration>,
    /// Every mount, the image's anonymous volumes included, parents first.
    pub mounts: Vec<Mount>,
    /// Edits of the runtime spec asked for through `ContainerBuilderExt::oci_spec`, applied
    /// in order to the finished spec right before `config.json` is written.
    pub spec_edits: Vec<super::builder::SpecEdit>,
    /// Whether the command is looked up in the image now (a spawn) or only when the
    /// container starts (`docker create`, so that an image without the command can still
    /// be created and copied or exported from).
    pub check_command: bool,
    /// Resource limits of its processes (`--ulimit`).
    pub ulimits: Vec<super::Ulimit>,
    /// The host's static init to run the command under (`--init`).
    pub init: Option<PathBuf>,
    /// The healthcheck (the image's merged with the one set), as `Config.Healthcheck`.
    pub healthcheck: Option<super::Healthcheck>,
}

impl Plan {
    /// The hostname: the one asked for, else the short id (the host's in host mode, as
    /// Docker shows it).
    fn hostname_for(&self, id: &str) -> String {
        self.hostname.clone().unwrap_or_else(|| {
            if self.net.mode == net::NetMode::Host {
                fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_owned())
                    .unwrap_or_else(|_| id[..12].to_owned())
            } else {
                id[..12].to_owned()
            }
        })
    }

    /// The record of a container made from this plan, `created`.
    fn record(&self, id: &str, name: &str, owner: (i32, u64)) -> Record {
        let mut rec = Record {
            info: Inspect {
                id: id.to_owned(),
                created: crate::store::now_rfc3339(),
                path: self.argv[0].clone(),
                args: self.argv[1..].to_vec(),
                state: State::created(),
                image: self.image_id.clone(),
                name: format!("/{name}"),
                restart_count: 0,
                host_config: self.host_config(),
                graph_driver: Default::default(),
                mounts: Vec::new(),
                network_settings: Default::default(),
                config: self.config(self.hostname_for(id)),
            },
            owner,
            reference: self.reference.clone(),
            detached: self.detach,
            standby: false,
            ephemeral: self.ephemeral,
            net: self.net.clone(),
        };
        let config = &mut rec.info.config;
        match self.entrypoint.as_ref() {
            Some(ep) => {
                config.entrypoint = ep.iter().filter(|s| !s.is_empty()).cloned().collect();
                config.cmd = self.args.clone().unwrap_or_default();
            }
            None => {
                config.entrypoint = self.image_cfg.entrypoint().clone().unwrap_or_default();
                config.cmd = self.argv[config.entrypoint.len()..].to_vec();
            }
        }
        rec
    }

    fn host_config(&self) -> HostConfig {
        HostConfig {
            memory: self.limits.memory.unwrap_or(0),
            memory_swap: self.limits.memory_swap.unwrap_or(0),
            memory_reservation: self.limits.memory_reservation.unwrap_or(0),
            cpu_shares: self.limits.cpu_shares.map_or(0, |s| s as i64),
            cpu_quota: self.limits.cpu_quota.unwrap_or(0),
            cpu_period: self.limits.cpu_period.map_or(0, |p| p as i64),
            pids_limit: self.pids,
            readonly_rootfs: self.read_only,
            privileged: self.privileged,
            auto_remove: self.auto_remove,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            security_opt: self.security_opt.clone(),
            restart_policy: self.restart.into(),
            network_mode: self.net.mode_name(),
            port_bindings: port_bindings(&self.net.ports),
            extra_hosts: self
                .net
                .extra_hosts
                .iter()
                .map(|(n, ip)| format!("{n}:{ip}"))
                .collect(),
            dns: self.dns.clone(),
            ulimits: self.ulimits.clone(),
            init: self.init.as_ref().map(|_| true),
        }
    }

    fn config(&self, hostname: String) -> Config {
        Config {
            hostname,
            user: self.user.clone(),
            tty: self.tty,
            open_stdin: self.open_stdin,
            stdin_once: self.open_stdin,
            env: Vec::new(),
            cmd: Vec::new(),
            entrypoint: Vec::new(),
            image: self.image_name.clone(),
            working_dir: self.cwd.clone(),
            labels: self.labels.clone(),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self
                .stop_timeout
                .map(|t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)),
            exposed_ports: self
                .image_cfg
                .exposed_ports()
                .iter()
                .flatten()
                .map(|p| (crate::network::exposed_port_key(p), Default::default()))
                .collect(),
            healthcheck: self.healthcheck.clone(),
        }
    }
}

/// `HostConfig.PortBindings` of the ports asked for.
fn port_bindings(ports: &[PortBinding]) -> BTreeMap<String, Vec<net::PortMapping>> {
    let mut out = BTreeMap::new();
    for p in ports {
        out.entry(format!("{}/{}", p.container_port, p.protocol))
            .or_insert_with(Vec::new)
            .push(net::PortMapping {
                host_ip: p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                host_port: if p.host_port == 0 {
                    String::new()
                } else {
                    p.host_port.to_string()
                },
            });
    }
    out
}

/// A prepared OCI bundle: the container's directory with its record, overlay, `/etc` files
/// and `config.json`, not started. Dropped unsettled, it is undone.
pub(super) struct Bundle<'s> {
    pub store: &'s ContainerStore,
    pub id: String,
    pub name: String,
    pub dir: PathBuf,
    pub rec: Record,
    guard: Guard<'s>,
    label: String,
}

impl ContainerStore {
    /// Makes a bundle of `plan` (`docker create` up to, not including, the start): the
    /// directory and name under the containers lock, the record, the image held and its
    /// overlay mounted, `/etc/hostname`, `hosts` and `resolv.conf`, the volumes attached and
    /// `config.json`.
    ///
    /// # Errors
    /// A taken name, an image whose layers cannot be mounted, an unknown user, a command
    /// not in the image, a volume that cannot be attached; every step taken is undone
    /// (the error is [`Error::Rollback`] if undoing failed too).
    pub(super) fn create<'s>(&'s self, plan: &Plan) -> Result<Bundle<'s>> {
        let (id, name, dir, lock) = self.reserve(plan.name.as_deref())?;
        let mut bundle = Bundle {
            store: self,
            rec: plan.record(&id, &name, self.owner()),
            guard: Guard::new(self, &name, &id, &dir),
            label: plan.label.clone(),
            id,
            name,
            dir,
        };
        let saved = bundle.rec.save(&bundle.dir);
        drop(lock);
        match saved.and_then(|()| bundle.prepare(plan)) {
            Ok(()) => {
                super::events::container(self.root(), &bundle.rec, "create", &[]);
                Ok(bundle)
            }
            Err(e) => Err(bundle.fail(e)),
        }
    }
}

/// Fails with Docker's 127/126 error when `arg0` cannot be run in `merged` with the
/// environment `env` (its `PATH`) from `cwd`.
pub(super) fn check_command(
    merged: &Path,
    container: &str,
    arg0: &str,
    env: &[String],
    cwd: &str,
) -> Result<()> {
    let path_env = env.iter().find_map(|e| e.strip_prefix("PATH="));
    match rootfs::check_command(merged, arg0, path_env, cwd) {
        Some((reason, code)) => Err(Error::Command {
            container: container.to_owned(),
            command: arg0.to_owned(),
            reason,
            code,
        }),
        None => Ok(()),
    }
}

impl<'s> Bundle<'s> {
    /// Everything after the record: overlay, process, mounts, `config.json`.
    fn prepare(&mut self, plan: &Plan) -> Result<()> {
        let merged = self.mount_rootfs(plan)?;
        let (user, env) = self.process(plan, &merged)?;
        let mounts = self.attach_mounts(plan, &merged)?;
        // Recorded now, so that a crash from here on still releases the volumes on remove.
        self.rec.save(&self.dir)?;
        if plan.detach {
            // Its log exists from now on: a reader that attaches before the start (`docker
            // run` does) holds it open, and reads it all even when the container is removed
            // the moment it exits (`--rm`).
            super::logs::LogWriter::open(&super::record::log_path(&self.dir, &self.id))?;
        }
        self.write_spec(plan, &user, &env, mounts)?;
        self.rec.info.config.env = env;
        Ok(())
    }

    /// Holds the image for the container and mounts its overlay; returns the merged dir.
    fn mount_rootfs(&mut self, plan: &Plan) -> Result<PathBuf> {
        let images = self.store.images();
        let reference = plan.reference.parse()?;
        images.hold(&self.id, &reference, !plan.auto_remove)?;
        let mut lower = images.rootfs_layers(&reference)?;
        lower.reverse();
        let dir = &self.dir;
        rootfs::mount(dir, &lower, plan.auto_remove)?;
        let merged = rootfs::rootfs(dir);
        let lower = lower
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":");
        self.rec.info.graph_driver = GraphDriver {
            name: "overlay2".to_owned(),
            data: [
                ("LowerDir", lower),
                ("UpperDir", rootfs::upper(dir).display().to_string()),
                ("WorkDir", rootfs::work(dir).display().to_string()),
                ("MergedDir", merged.display().to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        };
        Ok(merged)
    }

    /// The process's user and environment, its working directory made, its command
    /// checked, and the container's `/etc` files written.
    fn process(&self, plan: &Plan, merged: &Path) -> Result<(ExecUser, Vec<String>)> {
        let user = spec::resolve_user(
            &plan.user,
            &rootfs::read_in(merged, "/etc/passwd"),
            &rootfs::read_in(merged, "/etc/group"),
        )
        .map_err(|(kind, name, file)| Error::UserNotFound {
            kind,
            name,
            image: plan.reference.clone(),
            file,
        })?;
        let hostname = &self.rec.info.config.hostname;
        let env = spec::environment(
            plan.image_cfg.env().as_deref().unwrap_or_default(),
            plan.env_clear,
            &plan.env_overrides,
            hostname,
            plan.tty,
            &user.home,
        );
        let cwd = &plan.cwd;
        rootfs::ensure_dir_in(merged, cwd).map_err(|e| {
            Error::os(
                "creating working directory in",
                merged.join(cwd.trim_start_matches('/')),
                e,
            )
        })?;
        if plan.check_command {
            check_command(merged, &self.name, &plan.argv[0], &env, cwd)?;
        }
        rootfs::write_etc(&self.dir, hostname)?;
        net::write_etc(&self.dir, &plan.net, &plan.dns)?;
        Ok((user, env))
    }

    /// Attaches the volumes, binds and tmpfs mounts, recording each as `docker inspect`
    /// shows it; returns them as the runtime mounts them.
    fn attach_mounts(&mut self, plan: &Plan, merged: &Path) -> Result<Vec<OciMount>> {
        let volumes = self.store.volumes();
        let mut oci_mounts = Vec::with_capacity(plan.mounts.len());
        for m in &plan.mounts {
            let dest = m.destination().to_string_lossy();
            let image_dir = match m.mount_type() {
                MountType::Volume => rootfs::volume_source(merged, &dest),
                _ => None,
            };
            let (oci, volume) = volumes.attach(m, &self.id, image_dir.as_ref())?;
            if m.mount_type() == MountType::Volume && m.volume_name().is_none() {
                self.guard.anonymous.extend(volume.clone());
            }
            self.rec.info.mounts.push(mount_point(m, &oci, volume));
            oci_mounts.push(oci);
        }
        Ok(oci_mounts)
    }

    /// Writes `config.json`: the runtime spec with the container's namespaces and mounts.
    fn write_spec(
        &self,
        plan: &Plan,
        user: &ExecUser,
        env: &[String],
        mounts: Vec<OciMount>,
    ) -> Result<()> {
        let labels: Vec<(String, String)> = plan.labels.clone().into_iter().collect();
        let mut spec = spec::build(&spec::Input {
            id: &self.id,
            hostname: &self.rec.info.config.hostname,
            args: &plan.argv,
            env,
            cwd: &plan.cwd,
            user,
            terminal: plan.tty,
            read_only: plan.read_only,
            privileged: plan.privileged,
            caps: &plan.caps,
            no_new_privileges: plan.no_new_privileges,
            limits: plan.limits,
            pids: plan.pids,
            dir: &self.dir,
            labels: &labels,
        });
        let netns = self.store.networks().netns_path(&self.id);
        net::set_namespace(&mut spec, &plan.net, &netns);
        if let Some(overlay) = rootfs::overlay_root(&self.dir)? {
            // rootless: root inside is the user outside; the runtime mounts the overlay in
            // the container's namespaces and picks a cgroup the user may have
            crate::runtime::make_rootless(&mut spec, (0, 0));
            if let Some(linux) = spec.linux_mut() {
                linux.set_cgroups_path(None);
                // with a subordinate range, the image's other ids too, as its layers were
                // unpacked (crate::userns)
                let map = crate::userns::IdMap::current();
                if map.keeps_owners() {
                    linux.set_uid_mappings(Some(oci_map(map.uids)));
                    linux.set_gid_mappings(Some(oci_map(map.gids)));
                }
            }
            let mut notes = spec.annotations().clone().unwrap_or_default();
            notes.insert(
                crate::runtime::OVERLAY_ROOT_ANNOTATION.to_owned(),
                rootfs::with_overlay_driver(overlay),
            );
            spec.set_annotations(Some(notes));
        }
        if !mounts.is_empty() {
            // A mount replaces Docker's default one at the same destination (`/dev/shm`…).
            let mut all = spec.mounts().clone().unwrap_or_default();
            all.retain(|d| !mounts.iter().any(|m| m.destination() == d.destination()));
            all.extend(mounts);
            spec.set_mounts(Some(all));
        }
        if !plan.ulimits.is_empty() {
            if let Some(process) = spec.process_mut() {
                let mut rlimits = process.rlimits().clone().unwrap_or_default();
                for u in &plan.ulimits {
                    let r = u.to_rlimit();
                    rlimits.retain(|o| o.typ() != r.typ());
                    rlimits.push(r);
                }
                process.set_rlimits(Some(rlimits));
            }
        }
        if let Some(init) = &plan.init {
            super::init::apply(&mut spec, init);
        }
        // Edits see the profile in the spec; without edits it is put in as its JSON, made
        // once (spec::Seccomp). (A privileged container has none: see the builder's
        // security plan.)
        let mut seccomp = plan.seccomp.as_deref();
        if !plan.spec_edits.is_empty() {
            if let Some(linux) = spec.linux_mut() {
                linux.set_seccomp(seccomp.take().map(|s| s.profile.clone()));
            }
            for edit in &plan.spec_edits {
                (edit.0)(&mut spec);
            }
        }
        // Compact, as containerd writes it: Docker's seccomp profile alone is a few hundred
        // names, a third more bytes to write and for the runtime to read when indented.
        let config = spec::to_json(spec, seccomp);
        crate::store::write_replace(&self.dir.join("config.json"), &config, !plan.auto_remove)
    }

    /// Leaves it created (`docker create`): unmounted, owned by nobody, until started.
    pub(super) fn standby(&mut self) -> Result<Container> {
        rootfs::unmount(&self.dir)?;
        self.rec.standby = true;
        self.rec.owner = (0, 0);
        self.rec.save(&self.dir)?;
        Ok(Container::new(
            self.store.clone(),
            self.dir.clone(),
            self.rec.clone(),
        ))
    }

    /// From here on its networks may be attached: detached too on failure.
    pub(super) fn attaching_networks(&mut self) {
        self.guard.network = true;
    }

    /// From here on its runtime container may exist: deleted too on failure.
    pub(super) fn starting_runtime(&mut self) {
        self.guard.runtime = true;
    }

    /// Keeps what was made when `made` is `Ok`; otherwise undoes it all and returns the
    /// error (wrapped with the cleanup's own, if that failed too).
    pub(super) fn settle<T>(mut self, made: Result<T>) -> Result<T> {
        match made {
            Ok(t) => {
                self.guard.armed = false;
                Ok(t)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        match self.guard.rollback() {
            Ok(()) => e,
            Err(cleanup) => Error::Rollback {
                op: "creating",
                container: self.label.clone(),
                source: Box::new(e),
                cleanup: Box::new(cleanup),
            },
        }
    }
}

/// A mount as `docker inspect` shows it.
fn mount_point(m: &Mount, oci: &OciMount, volume: Option<String>) -> MountPoint {
    let propagation = match m.mount_type() {
        MountType::Bind => oci
            .options()
            .iter()
            .flatten()
            .find_map(|o| o.parse::<Propagation>().ok())
            .map(|p| p.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    };
    MountPoint {
        r#type: match m.mount_type() {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            _ => "tmpfs",
        }
        .to_owned(),
        driver: volume.as_ref().map(|_| "local".to_owned()),
        name: volume,
        source: match m.mount_type() {
            MountType::Bind | MountType::Volume => oci
                .source()
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        },
        destination: m.destination().display().to_string(),
        mode: String::new(),
        rw: !m.is_read_only(),
        propagation,
    }
}

/// Undoes a half-made container.
struct Guard<'s> {
    store: &'s ContainerStore,
    name: String,
    id: String,
    dir: PathBuf,
    armed: bool,
    runtime: bool,
    /// Its networks may have been attached.
    network: bool,
    /// The anonymous volumes made for it, removed with it.
    anonymous: Vec<String>,
}

impl<'s> Guard<'s> {
    fn new(store: &'s ContainerStore, name: &str, id: &str, dir: &Path) -> Self {
        Guard {
            store,
            name: name.to_owned(),
            id: id.to_owned(),
            dir: dir.to_owned(),
            armed: true,
            runtime: false,
            network: false,
            anonymous: Vec::new(),
        }
    }

    /// Undoes everything, returning the first error of a step that failed (every step is
    /// tried).
    fn rollback(&mut self) -> Result<()> {
        self.armed = false;
        let mut first: Option<Error> = None;
        let mut keep = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if self.runtime {
            keep(match self.store.runtime().delete(&self.id, true) {
                Err(Error::ContainerNotFound { .. }) => Ok(()),
                r => r,
            });
        }
        if self.network {
            keep(self.store.networks().detach(&self.id));
        }
        keep(rootfs::unmount(&self.dir));
        self.store.release_name(&self.name, &self.id);
        keep(match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::os("removing container directory", &self.dir, e))
            }
            _ => Ok(()),
        });
        keep(self.store.images().release(&self.id));
        let volumes = self.store.volumes();
        keep(volumes.release_all(&self.id).map(drop));
        for name in &self.anonymous {
            keep(volumes.remove(name, true));
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.rollback();
        }
    }
}

/// The OCI form of one of the engine's rootless maps.
fn oci_map(ids: crate::userns::Ids) -> Vec<oci_spec::runtime::LinuxIdMapping> {
    ids.triples()
        .into_iter()
        .map(|(inside, host, size)| crate::runtime::id_mapping(inside, host, size))
        .collect()
}
