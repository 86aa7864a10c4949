//! [`ContainerBuilder`]: configure a container, then `spawn`, `status` or `output` it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::create::Plan;
use super::limits::{self, HostSupport, CPUS_PERIOD};
use super::monitor::RestartPolicy;
use super::record::{Container, Status};
use super::store::ContainerStore;
use super::ulimit::Ulimit;
use super::{net, spec, ExitStatus, Output, Process, RunningContainer, Stdio, StdioKind};
use crate::image::Image;
use crate::network::PortBinding;
use crate::volume::{name_fault, Mount, NameFault};
use crate::{Error, Result};

/// Configures a container from an image, like [`std::process::Command`] configures a
/// process. Get one from [`Engine::container`](crate::Engine::container).
///
/// Setters take and return `&mut Self` and never fail; every check happens in the terminal
/// call ([`spawn`](Self::spawn), [`status`](Self::status), [`output`](Self::output)). The
/// builder can be reused: each terminal call makes a new container (a fixed
/// [`name`](Self::name) that is already taken is then an error).
///
/// Defaults are Docker's: the image's Entrypoint, Cmd, Env, WorkingDir (`/` if none) and
/// User (root if none); hostname = the short id; Docker's 14 capabilities, masked paths and
/// mounts; a network namespace with only loopback (`--network none`); no limits.
#[derive(Debug)]
pub struct ContainerBuilder<'e> {
    store: &'e ContainerStore,
    image: Image,
    /// The image's name as given ([`image_name`](Self::image_name)).
    image_as_given: Option<String>,
    name: Option<String>,
    args: Option<Vec<OsString>>,
    entrypoint: Option<Vec<OsString>>,
    env: Vec<(OsString, OsString)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    user: Option<String>,
    hostname: Option<String>,
    labels: BTreeMap<String, String>,
    read_only: bool,
    tty: bool,
    limits: limits::Settings,
    pids: Option<i64>,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    privileged: bool,
    security: Vec<Security>,
    auto_remove: bool,
    detach: bool,
    restart: RestartPolicy,
    ephemeral: bool,
    reuse: bool,
    networks: Vec<String>,
    network_aliases: Vec<String>,
    /// Aliases and fixed addresses per network ([`ContainerBuilder::network_endpoint`]).
    endpoints: BTreeMap<String, (Vec<String>, Option<Ipv4Addr>)>,
    ports: Vec<PortBinding>,
    publish_all: bool,
    extra_hosts: Vec<(String, Ipv4Addr)>,
    dns: Vec<String>,
    stop_signal: Option<String>,
    stop_timeout: Option<Duration>,
    mounts: Vec<Mount>,
    /// Whether the image's `Volumes` get anonymous volumes (not for a build's RUN).
    image_volumes: bool,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
    /// Edits of the runtime spec ([`crate::ext::ContainerBuilderExt::oci_spec`]), in order.
    spec_edits: Vec<SpecEdit>,
    /// Where Docker's warnings go ([`on_warning`](ContainerBuilder::on_warning)).
    warn: Option<WarningSink>,
    /// Resource limits of its processes (`--ulimit`).
    ulimits: Vec<Ulimit>,
    /// A tiny init as pid 1 (`--init`).
    init: bool,
    /// The healthcheck over the image's (`--health-*`, `--no-healthcheck`).
    healthcheck: Option<super::Healthcheck>,
}

/// The callback of [`ContainerBuilder::on_warning`].
#[derive(Clone)]
struct WarningSink(std::sync::Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for WarningSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WarningSink(..)")
    }
}

/// A closure that edits a container's OCI runtime spec before its bundle is written.
#[derive(Clone)]
pub(crate) struct SpecEdit(
    pub(crate) std::sync::Arc<dyn Fn(&mut oci_spec::runtime::Spec) + Send + Sync>,
);

impl std::fmt::Debug for SpecEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SpecEdit(..)")
    }
}

impl<'e> ContainerBuilder<'e> {
    /// Adds an edit of the runtime spec (see [`crate::ext::ContainerBuilderExt::oci_spec`]).
    /// Leaves the image's `Volumes` unmounted, as BuildKit does for RUN.
    pub(crate) fn skip_image_volumes(&mut self) -> &mut Self {
        self.image_volumes = false;
        self
    }

    pub(crate) fn push_spec_edit(&mut self, edit: SpecEdit) -> &mut Self {
        self.spec_edits.push(edit);
        self
    }

    pub(crate) fn new(store: &'e ContainerStore, image: &Image) -> Self {
        ContainerBuilder {
            store,
            image: image.clone(),
            image_as_given: None,
            name: None,
            args: None,
            entrypoint: None,
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            user: None,
            hostname: None,
            labels: BTreeMap::new(),
            read_only: false,
            tty: false,
            limits: limits::Settings::default(),
            pids: None,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            privileged: false,
            security: Vec::new(),
            auto_remove: false,
            detach: false,
            restart: RestartPolicy::No,
            ephemeral: false,
            reuse: false,
            networks: Vec::new(),
            network_aliases: Vec::new(),
            endpoints: BTreeMap::new(),
            ports: Vec::new(),
            publish_all: false,
            extra_hosts: Vec::new(),
            dns: Vec::new(),
            stop_signal: None,
            stop_timeout: None,
            mounts: Vec::new(),
            image_volumes: true,
            stdin: None,
            stdout: None,
            stderr: None,
            spec_edits: Vec::new(),
            warn: None,
            ulimits: Vec::new(),
            init: false,
            healthcheck: None,
        }
    }

    /// The container's name (Docker's rules: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, unique); a
    /// random `adjective_name` otherwise.
    pub fn name(&mut self, name: impl Into<String>) -> &mut Self {
        self.name = Some(name.into());
        self
    }

    /// Appends an argument; the arguments replace the image's Cmd (`docker run IMAGE ARGS`).
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.args
            .get_or_insert_with(Vec::new)
            .push(arg.as_ref().to_owned());
        self
    }

    /// Appends arguments (see [`arg`](Self::arg)).
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let v = self.args.get_or_insert_with(Vec::new);
        v.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Replaces the image's Entrypoint (`docker run --entrypoint`); as in Docker, the
    /// image's Cmd is then dropped too, and the [`args`](Self::args) follow the new
    /// entrypoint. An empty list (or one empty string) clears the entrypoint.
    pub fn entrypoint<I, S>(&mut self, entrypoint: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.entrypoint = Some(
            entrypoint
                .into_iter()
                .map(|a| a.as_ref().to_owned())
                .collect(),
        );
        self
    }

    /// Sets an environment variable (overrides the image's).
    pub fn env(&mut self, key: impl AsRef<OsStr>, val: impl AsRef<OsStr>) -> &mut Self {
        set_env(&mut self.env, key.as_ref(), val.as_ref());
        self
    }

    /// Sets several environment variables.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.env(k, v);
        }
        self
    }

    /// Drops the image's environment and the variables set so far (`PATH`, `HOSTNAME` and
    /// `HOME` are still provided, as Docker does).
    pub fn env_clear(&mut self) -> &mut Self {
        self.env.clear();
        self.env_clear = true;
        self
    }

    setters! {
        /// The working directory (created if missing), instead of the image's.
        fn current_dir(&mut self, dir: impl AsRef<Path>) {
            self.cwd = Some(dir.as_ref().to_owned())
        }

        /// The user: `uid`, `uid:gid`, `name`, `name:group` (names from the image's
        /// `/etc/passwd` and `/etc/group`).
        fn user(&mut self, user: impl Into<String>) { self.user = Some(user.into()) }

        /// The image's name as the caller was given it (`busybox`), recorded as
        /// `Config.Image`, what `docker inspect` and `docker ps` show (default: the image's
        /// first tag, `busybox:latest`, else its id). Not checked: it is what the image
        /// was looked up by ([`Engine::image`](crate::Engine::image)).
        fn image_name(&mut self, name: impl Into<String>) {
            self.image_as_given = Some(name.into())
        }

        /// The hostname (default: the short id).
        fn hostname(&mut self, hostname: impl Into<String>) {
            self.hostname = Some(hostname.into())
        }

        /// Adds a label.
        fn label(&mut self, key: impl Into<String>, value: impl Into<String>) {
            self.labels.insert(key.into(), value.into())
        }

        /// Mounts the root file system read-only (`--read-only`).
        fn read_only(&mut self, yes: bool) { self.read_only = yes }

        /// Gives the process a pty (`-t`); take its master with
        /// [`RunningContainer::take_terminal`]. Stdio settings are then ignored.
        fn tty(&mut self, yes: bool) { self.tty = yes }

        /// Memory limit in bytes (`--memory`). As Docker: 0 is no limit, and a limit is
        /// at least 6 MiB (checked at spawn, as are the CPU settings below; the errors
        /// name the setting).
        fn memory_limit(&mut self, bytes: u64) { self.limits.memory = Some(bytes) }

        /// Memory plus swap in bytes (`--memory-swap`): -1 is unlimited swap; as Docker, 0
        /// (the default) is as much swap as memory (twice the
        /// [`memory_limit`](Self::memory_limit)), a value equal to the memory limit is no
        /// swap, and a limit needs a memory limit no larger than it. On a host without swap
        /// accounting (cgroup v1 without `memory.memsw.*` files, `swapaccount=0`) the swap
        /// limit is dropped with Docker's warning ([`on_warning`](Self::on_warning)) and the
        /// memory is limited without swap.
        fn memory_swap(&mut self, bytes: i64) { self.limits.memory_swap = Some(bytes) }

        /// Memory soft limit in bytes (`--memory-reservation`; cgroup v1
        /// `memory.soft_limit_in_bytes`, v2 `memory.low`). As Docker: 0 is none, otherwise
        /// at least 6 MiB and no more than the [`memory_limit`](Self::memory_limit).
        fn memory_reservation(&mut self, bytes: u64) {
            self.limits.memory_reservation = Some(bytes)
        }

        /// CPU shares, the container's relative CPU weight (`--cpu-shares`, `-c`; cgroup v1
        /// `cpu.shares`, v2 `cpu.weight`); 0 is the default (1024). As Docker, a value
        /// outside the kernel's range 2 to 262144 is moved to its nearest end, with a
        /// warning ([`on_warning`](Self::on_warning)).
        fn cpu_shares(&mut self, shares: u64) { self.limits.cpu_shares = Some(shares) }
    }

    /// CFS quota in µs per period (`--cpu-quota`; the period is 100 ms unless
    /// [`cpu_period`](Self::cpu_period) says otherwise). As Docker: 0 is no quota, and a
    /// quota is at least 1000 µs. Replaces [`cpus`](Self::cpus).
    pub fn cpu_quota(&mut self, micros: u64) -> &mut Self {
        self.limits.cpu_quota = Some(micros);
        self.limits.cpus = None;
        self
    }

    /// CFS period in µs (`--cpu-period`), 1000 to 1 000 000 as Docker; 0 is the default
    /// (100 ms). Used with [`cpu_quota`](Self::cpu_quota); Docker refuses it with
    /// [`cpus`](Self::cpus).
    pub fn cpu_period(&mut self, micros: u64) -> &mut Self {
        self.limits.cpu_period = Some(micros);
        self
    }

    /// CPUs (`--cpus 1.5`): a quota of `cpus` × the 100 ms period. As Docker: 0 is no
    /// limit, otherwise from 0.01 to the number of CPUs. Replaces
    /// [`cpu_quota`](Self::cpu_quota).
    pub fn cpus(&mut self, cpus: f64) -> &mut Self {
        self.limits.cpus = Some(cpus);
        self.limits.cpu_quota = None;
        self
    }

    /// Calls `f` with each warning of a terminal call, in Docker's words, as `docker
    /// create` returns them: a limit this host's cgroups cannot apply, dropped (a swap
    /// limit without swap accounting, a memory soft limit, CPU shares), or CPU shares moved
    /// into the kernel's range. The warnings come once every setting has been checked,
    /// before the container is made; without a callback they are dropped. Replaces an
    /// earlier callback.
    ///
    /// ```no_run
    /// # fn f(engine: &cargohold::Engine, image: &cargohold::Image) -> cargohold::Result<()> {
    /// let status = engine
    ///     .container(image)
    ///     .memory_limit(64 << 20)
    ///     .on_warning(|w| eprintln!("WARNING: {w}"))
    ///     .status()?;
    /// # Ok(()) }
    /// ```
    pub fn on_warning(&mut self, f: impl Fn(&str) + Send + Sync + 'static) -> &mut Self {
        self.warn = Some(WarningSink(std::sync::Arc::new(f)));
        self
    }

    setters! {
        /// Maximum number of processes (`--pids-limit`); 0 is no limit, as Docker's 0
        /// and -1.
        fn pids_limit(&mut self, max: u32) {
            self.pids = (max > 0).then_some(i64::from(max))
        }

        /// Adds a capability to Docker's default set (`NET_ADMIN`, `CAP_NET_ADMIN`, `ALL`).
        fn cap_add(&mut self, cap: impl Into<String>) { self.cap_add.push(cap.into()) }

        /// Drops a capability from the set (`ALL` drops every one not added).
        fn cap_drop(&mut self, cap: impl Into<String>) { self.cap_drop.push(cap.into()) }

        /// `--privileged`: every capability, no seccomp filter, no masked or read-only paths,
        /// writable `/sys`, all devices allowed in the cgroup (host devices are not added to
        /// `/dev` yet).
        fn privileged(&mut self, yes: bool) { self.privileged = yes }
    }

    // Security settings (Docker's `--security-opt`). Each one is kept, in order, and
    // checked at spawn; a later setting wins over an earlier one, whichever setter made it.

    setters! {
        /// The seccomp filter (`--security-opt seccomp=…`). The default is Docker's default
        /// profile for the container's final capability set
        /// ([`runtime::seccomp_profile::default_profile`](crate::runtime::seccomp_profile::default_profile)):
        /// an allow list that refuses, among others, mounts and new namespaces without
        /// `SYS_ADMIN`, `keyctl` and `io_uring`. A profile file is read and checked at spawn,
        /// and resolved for the container's capabilities as Docker does. A
        /// [`privileged`](Self::privileged) container gets no filter whatever this says, as in
        /// Docker.
        fn seccomp(&mut self, profile: SeccompProfile) {
            self.security.push(Security::Seccomp(profile))
        }

        /// Sets no_new_privs for the container's processes (`--security-opt
        /// no-new-privileges`): executing a setuid or setgid binary, or one with file
        /// capabilities, no longer raises privileges. Off by default, as in Docker.
        fn no_new_privileges(&mut self, yes: bool) {
            self.security.push(Security::NoNewPrivileges(yes))
        }

        /// A Docker `--security-opt` string, checked at spawn:
        /// - `seccomp=unconfined`, `seccomp=PATH` (a profile in Docker's JSON format), as
        ///   [`seccomp`](Self::seccomp);
        /// - `no-new-privileges`, `no-new-privileges=true|false`, as
        ///   [`no_new_privileges`](Self::no_new_privileges);
        /// - `apparmor=…` and `label=…` are refused: on a host without AppArmor or SELinux
        ///   (saying so), and on one with them too, as they are not supported yet.
        ///
        /// Docker's older `key:value` spelling is accepted too. Anything else is an
        /// [`Error::InvalidContainerConfig`] naming the option.
        fn security_opt(&mut self, opt: impl Into<String>) {
            self.security.push(Security::Opt(opt.into()))
        }

        /// Removes the container once it has exited and been waited for (`--rm`). Its upper
        /// dir is then mounted `volatile` (never synced to disk), which makes the unmount cheap.
        fn auto_remove(&mut self, yes: bool) { self.auto_remove = yes }

        /// Starts the container detached (`docker run -d`, DESIGN.md decision 3): through a
        /// monitor process (this program re-executed, so `cargohold::init()` must be called at
        /// the top of `main`) instead of as this program's child, so that it outlives this
        /// program. An attached container (the default) does not: its init gets SIGKILL
        /// when this program ends, however it ends (SIGKILL included), and with it every
        /// process of the container, and its overlay is mounted only in its own mount
        /// namespace once it runs; what only a later process can remove (its record, its
        /// cgroup) goes at the next [`Engine::open`](crate::Engine::open). The monitor
        /// writes its output to `containers/<id>/<id>-json.log` (read it
        /// with [`Container::logs`](super::Container::logs)), reaps it and records how it ended
        /// in `containers/<id>/exit.json`; any program opening the same engine root can then
        /// wait for, stop, kill and remove it.
        ///
        /// Stdin is `/dev/null` and the stdio settings are ignored; with `tty(true)` the
        /// container gets a pty whose output is logged as stdout (`docker run -dt`).
        /// With [`auto_remove`](Self::auto_remove) the container is removed when it has exited
        /// and a handle waited for it, or the next [`Engine::open`](crate::Engine::open) finds
        /// it exited.
        fn detach(&mut self, yes: bool) { self.detach = yes }

        /// When to start the container again after it exits (`--restart`); Docker's default
        /// is [`RestartPolicy::No`]. Its monitor does the restarting, so a policy other than
        /// `No` needs [`detach`](Self::detach) and excludes [`auto_remove`](Self::auto_remove),
        /// as Docker's `--restart` and `--rm` exclude each other (checked at spawn).
        fn restart(&mut self, policy: RestartPolicy) { self.restart = policy }

        /// Ties the container to this program, for test harnesses: it is killed (SIGKILL)
        /// when this program exits however it exits — a panic, `process::exit`, SIGKILL,
        /// Ctrl-C — and removed once it has exited (as [`auto_remove`](Self::auto_remove)); the
        /// handle stops and removes it when dropped
        /// ([`RunningContainer::kill_on_drop`]). What a killed program leaves (the container's
        /// directory and overlay mount) is removed by the next [`Engine::open`](crate::Engine::open).
        ///
        /// An attached container dies with this program anyway (`PR_SET_PDEATHSIG`, see
        /// [`detach`](Self::detach)); ephemeral adds the removal, and ties a
        /// [`detach`](Self::detach)ed one too: its monitor kills it, watching this process
        /// through a pidfd, so its logs stay readable while this program runs. Excludes
        /// [`restart`](Self::restart) and [`reuse`](Self::reuse).
        fn ephemeral(&mut self, yes: bool) { self.ephemeral = yes }

        /// Reuses a container instead of making a new one when one with the same
        /// [`name`](Self::name) exists and was made from the same configuration (a hash of
        /// every setting, kept in the label `cargohold.config-hash`), as testcontainers'
        /// reusable containers: a running one is returned as is, a stopped one is started
        /// again. A container of that name with another configuration is an error. Needs a
        /// name and [`detach`](Self::detach) (a reused container outlives the program that made
        /// it); excludes [`ephemeral`](Self::ephemeral).
        fn reuse(&mut self, yes: bool) { self.reuse = yes }

        /// Attaches the container to a network (`--network`): `"none"` (the default: a network
        /// namespace of its own with only loopback, up), `"host"` (the host's namespace),
        /// `"container:<name or id>"` (another container's namespace, with its hostname,
        /// `/etc/hosts` and `/etc/resolv.conf`; that container must run whenever this one
        /// starts, and ports, aliases, a hostname, `add_host` and `dns` conflict with it), or a
        /// network's name or id — [`Network`](crate::Network)s work too — for an interface
        /// with an address on it (the default `bridge` network, or a user-defined one whose
        /// containers reach each other by name). Called again, it adds a network: `eth0`,
        /// `eth1`… in order, the first giving the default route. Checked at spawn.
        ///
        /// Unlike Docker, whose default is `bridge`, a container has no network unless asked:
        /// an embedded sandbox should not reach out by default. Publishing a port without a
        /// network puts the container on `bridge`, as Docker does.
        fn network(&mut self, network: impl AsRef<str>) {
            self.networks.push(network.as_ref().to_owned())
        }

        /// A further name containers on its first network reach it by (`--network-alias`).
        fn network_alias(&mut self, alias: impl Into<String>) {
            self.network_aliases.push(alias.into())
        }

        /// Attaches the container to `network` (as [`network`](Self::network)) with names
        /// of its own there and, when given, a fixed address from the network's subnet
        /// (`docker run --network name=NET,alias=A,ip=IP`; compose's `aliases` and
        /// `ipv4_address`). Checked at spawn (an address outside the subnet or taken).
        fn network_endpoint(
            &mut self,
            network: impl AsRef<str>,
            aliases: Vec<String>,
            ip: Option<Ipv4Addr>
        ) {
            let n = network.as_ref().to_owned();
            if !self.networks.contains(&n) {
                self.networks.push(n.clone());
            }
            self.endpoints.insert(n, (aliases, ip));
        }

        /// Publishes `container_port` (TCP) on `host_port` of every host address (`-p
        /// 8080:80`); host port 0 picks a free one (see
        /// [`Container::ports`](super::Container::ports)).
        fn publish(&mut self, host_port: u16, container_port: u16) {
            self.ports.push(PortBinding::tcp(host_port, container_port))
        }

        /// Publishes a port as [`PortBinding`] describes it (`-p [ip:]host:container[/udp]`,
        /// parsed with `str::parse`).
        fn publish_port(&mut self, binding: PortBinding) { self.ports.push(binding) }

        /// Publishes every port the image exposes (`ExposedPorts`) on a free host port (`-P`).
        /// Without a [`network`](Self::network) it puts the container on `bridge`, as
        /// publishing a port does, even when the image exposes none (as Docker does).
        fn publish_all(&mut self, yes: bool) { self.publish_all = yes }

        /// Sets a resource limit of its processes (`--ulimit nofile=1024:2048`); a later one
        /// of the same name replaces an earlier one.
        fn ulimit(&mut self, limit: Ulimit) {
            self.ulimits.retain(|u| u.name != limit.name);
            self.ulimits.push(limit)
        }

        /// Runs a tiny init as the container's pid 1 (`--init`), Docker's `docker-init`
        /// (tini): it runs the command as its child, forwards signals to it and reaps
        /// zombies. The init is the host's static tini (`$CARGOHOLD_INIT`, else Debian's
        /// `/usr/bin/tini-static` from the `tini` package, else Docker's `docker-init`),
        /// bind-mounted read-only at `/sbin/docker-init`; without one the terminal call
        /// fails with [`Error::InvalidContainerConfig`].
        fn init(&mut self, yes: bool) { self.init = yes }

        /// Adds a line to its `/etc/hosts` (`--add-host name:ip`).
        fn add_host(&mut self, name: impl Into<String>, ip: Ipv4Addr) {
            self.extra_hosts.push((name.into(), ip))
        }

        /// A name server for its `/etc/resolv.conf` (`--dns`), instead of the host's. On a
        /// user-defined network, where `/etc/resolv.conf` names the embedded DNS server
        /// (`127.0.0.11`), it is that server's upstream instead, as in Docker.
        fn dns(&mut self, server: impl Into<String>) { self.dns.push(server.into()) }

        /// The signal [`RunningContainer::stop`] sends first (`SIGTERM`, `TERM`, `15`);
        /// default: the image's StopSignal, else SIGTERM.
        fn stop_signal(&mut self, signal: impl Into<String>) {
            self.stop_signal = Some(signal.into())
        }

        /// How long a stop without a timeout of its own waits before SIGKILL
        /// (`--stop-timeout`; Docker's default is 10 s): see
        /// [`Container::stop_timeout`](super::Container::stop_timeout). Whole seconds, as
        /// Docker records it.
        fn stop_timeout(&mut self, timeout: Duration) { self.stop_timeout = Some(timeout) }

        /// Its healthcheck, over the image's `HEALTHCHECK` as `docker run --health-*` is:
        /// an empty [`test`](super::Healthcheck::test) and unset fields keep the image's,
        /// and [`Healthcheck::none`](super::Healthcheck::none) disables the image's
        /// (`--no-healthcheck`). A detached container's monitor runs it in the background
        /// while the container runs ([`Container::health`](super::Container::health));
        /// an attached container's runs only on demand
        /// ([`WaitFor::healthcheck`](super::WaitFor::healthcheck)). Checked at spawn
        /// (a test type Docker does not know, durations under 1 ms are errors).
        fn healthcheck(&mut self, check: super::Healthcheck) { self.healthcheck = Some(check) }

        /// Adds a mount: a named or anonymous volume, a host directory or a tmpfs (see
        /// [`Mount`]). It is checked when the container is spawned: a bind source that does not
        /// exist, a bad volume name or two mounts at one destination fail the spawn.
        ///
        /// A named volume is created on first use and, when first mounted, filled with the
        /// image's content at the destination (unless [`Mount::no_copy`]), as Docker does. The
        /// volume outlives the container; [`Container::remove`](super::Container::remove)
        /// releases it (an in-use volume cannot be removed).
        fn mount(&mut self, mount: Mount) { self.mounts.push(mount) }
    }

    /// Mounts the named volume `volume` (a name, or a [`Volume`](crate::Volume)) at
    /// `destination`, read-write (`docker run -v name:/dest`); short for
    /// [`mount`](Self::mount)`(Mount::volume(volume, destination))`.
    pub fn volume(&mut self, volume: impl AsRef<str>, destination: impl AsRef<Path>) -> &mut Self {
        self.mount(Mount::volume(volume.as_ref(), destination))
    }

    setters! {
        /// The container's stdin (see the terminal verbs for defaults).
        fn stdin(&mut self, cfg: impl Into<Stdio>) { self.stdin = Some(cfg.into()) }

        /// The container's stdout.
        fn stdout(&mut self, cfg: impl Into<Stdio>) { self.stdout = Some(cfg.into()) }

        /// The container's stderr.
        fn stderr(&mut self, cfg: impl Into<Stdio>) { self.stderr = Some(cfg.into()) }
    }

    /// The arguments set (not the image's Cmd), as [`std::process::Command::get_args`].
    pub fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().flatten().map(OsString::as_os_str)
    }

    /// The environment overrides set, in order.
    pub fn get_envs(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.env.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str()))
    }

    /// The mounts added with [`mount`](Self::mount) and [`volume`](Self::volume), in
    /// order (not the anonymous volumes of the image's `Volumes`).
    pub fn get_mounts(&self) -> impl Iterator<Item = &Mount> {
        self.mounts.iter()
    }

    /// The image it runs.
    pub fn get_image(&self) -> &Image {
        &self.image
    }

    /// Creates and starts the container and returns its handle.
    ///
    /// Stdio defaults to [`Stdio::inherit`] for all three streams, as
    /// [`std::process::Command::spawn`].
    ///
    /// # Errors
    /// An invalid or taken name ([`Error::InvalidContainerName`],
    /// [`Error::ContainerNameInUse`]), an invalid setting
    /// ([`Error::InvalidContainerConfig`], [`Error::UserNotFound`]), a command not in the
    /// image ([`Error::Command`], see [`Error::exit_code`]), an image whose layers cannot be
    /// unpacked, a limit the kernel refuses or a failure of the container's setup
    /// ([`Error::Spawn`], [`Error::Cgroup`]). Nothing is left behind on error (directory,
    /// mount, cgroup, hold on the image).
    pub fn spawn(&mut self) -> Result<RunningContainer> {
        self.spawn_with(Stdio::inherit, Stdio::inherit)
    }

    /// Creates the container without starting it (`docker create`): its directory, record,
    /// upper layer, volumes and `config.json` are made and checked. As Docker, the command
    /// is looked up in the image only when it starts (so that an image without it, or
    /// without a shell, can still be created to copy or export files from; the start then
    /// fails with [`Error::Command`]); [`Container::start`] starts it
    /// later, detached, from this or any other program opening the same engine root. It
    /// belongs to no program: it stays `created` until started or removed.
    ///
    /// Stdio settings and [`detach`](Self::detach) are ignored (a started container is
    /// always detached, with its output in its log).
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn); [`ephemeral`](Self::ephemeral) and
    /// [`reuse`](Self::reuse) are refused (they concern a started container).
    pub fn create(&mut self) -> Result<Container> {
        match self.launch(Stdio::null, Stdio::null, Mode::Create)? {
            Made::Created(c) => Ok(*c),
            Made::Running(_) => unreachable!("create never starts"),
        }
    }

    /// Runs the container to completion and returns how it ended, as
    /// [`std::process::Command::status`]. Stdio defaults to inherit.
    ///
    /// # Errors
    /// As [`spawn`](Self::spawn) and [`RunningContainer::wait`]. A non-zero exit is an
    /// `Ok` status, not an error.
    pub fn status(&mut self) -> Result<ExitStatus> {
        let mut c = self.spawn_with(Stdio::inherit, Stdio::inherit)?;
        c.kill_on_drop(true);
        c.wait()
    }

    /// Runs the container to completion collecting its stdout and stderr, as
    /// [`std::process::Command::output`]: stdout and stderr default to piped, stdin to
    /// null.
    ///
    /// # Errors
    /// As [`status`](Self::status).
    pub fn output(&mut self) -> Result<Output> {
        let mut c = self.spawn_with(Stdio::null, Stdio::piped)?;
        c.kill_on_drop(true);
        c.wait_with_output()
    }

    fn label_for_errors(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("from image {}", self.reference()))
    }

    /// The reference the container holds its image by: its first tag, or for an untagged
    /// image (a commit without a tag, an image given by id) its manifest digest.
    fn reference(&self) -> String {
        self.image
            .references()
            .first()
            .map(ToString::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{}@{}",
                    crate::image::UNTAGGED,
                    self.image.manifest_digest()
                )
            })
    }

    /// The image as `docker inspect` shows it in `Config.Image`: the name given, else the
    /// tag, else the id.
    fn config_image(&self) -> String {
        if let Some(name) = &self.image_as_given {
            return name.clone();
        }
        self.image
            .references()
            .first()
            .map_or_else(|| self.image.id().to_string(), ToString::to_string)
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidContainerConfig {
            container: self.label_for_errors(),
            field,
            reason: reason.into(),
        }
    }

    fn utf8(&self, field: &'static str, s: &OsStr) -> Result<String> {
        s.to_str()
            .map(str::to_owned)
            .ok_or_else(|| self.invalid(field, format!("{s:?} is not UTF-8")))
    }

    fn spawn_with(
        &mut self,
        stdin_default: fn() -> Stdio,
        out_default: fn() -> Stdio,
    ) -> Result<RunningContainer> {
        match self.launch(stdin_default, out_default, Mode::Spawn)? {
            Made::Running(c) => Ok(c),
            Made::Created(_) => unreachable!("spawn always starts"),
        }
    }

    /// A hash of every setting that shapes the container (for [`reuse`](Self::reuse)).
    fn config_hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut labels = self.labels.clone();
        labels.remove(CONFIG_HASH_LABEL);
        let cfg = format!(
            "{:?}",
            (
                self.image.id().to_string(),
                (
                    &self.name,
                    &self.args,
                    &self.entrypoint,
                    &self.env,
                    self.env_clear
                ),
                (&self.cwd, &self.user, &self.hostname, &labels),
                (
                    self.read_only,
                    self.tty,
                    self.limits.memory,
                    // As `cpus` set them before it was checked at spawn, so that hashes
                    // stay as they were.
                    self.limits
                        .cpus
                        .map(|c| (c * CPUS_PERIOD as f64).round() as i64)
                        .or(self.limits.cpu_quota.map(|q| q.min(i64::MAX as u64) as i64)),
                    self.limits
                        .cpus
                        .map(|_| CPUS_PERIOD)
                        .or(self.limits.cpu_period)
                ),
                (self.pids, &self.cap_add, &self.cap_drop, self.privileged),
                (
                    self.auto_remove,
                    self.detach,
                    self.restart,
                    &self.stop_signal
                ),
                &self.mounts,
                (
                    &self.networks,
                    &self.network_aliases,
                    &self.ports,
                    self.publish_all
                ),
                (&self.extra_hosts, &self.dns, self.stop_timeout),
            )
        );
        // Only when set, so that the hash of a container without them stays as it was.
        let cfg = match self.security.as_slice() {
            [] => cfg,
            security => format!("{cfg}{security:?}"),
        };
        // Only when set, so that the hash of a container without them stays as it was.
        let cfg = if self.ulimits.is_empty() && !self.init {
            cfg
        } else {
            format!("{cfg}{:?}{}", self.ulimits, self.init)
        };
        // Only when set, so that the hash of a container without them stays as it was.
        let cfg = if self.endpoints.is_empty() {
            cfg
        } else {
            format!("{cfg}{:?}", self.endpoints)
        };
        // Only when set, so that the hash of a container without one stays as it was.
        let cfg = match &self.healthcheck {
            Some(h) => format!("{cfg}{h:?}"),
            None => cfg,
        };
        let l = &self.limits;
        let cfg = if l.has_later_settings() {
            let later = (l.memory_swap, l.memory_reservation, l.cpu_shares);
            format!("{cfg}{later:?}")
        } else {
            cfg
        };
        hex::encode(Sha256::digest(cfg.as_bytes()))
    }

    /// The running (or restarted) container [`reuse`](Self::reuse) finds, if any.
    fn reused(&self, hash: &str) -> Result<Option<RunningContainer>> {
        let name = self.name.as_deref().unwrap_or_default();
        let c = match self.store.get(name) {
            Ok(c) if c.name() == name.trim_start_matches('/') => c,
            Ok(_) | Err(Error::ContainerNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if c.labels().get(CONFIG_HASH_LABEL).map(String::as_str) != Some(hash) {
            return Err(self.invalid(
                "reuse",
                format!(
                    "container {} ({}) exists with another configuration; remove it first",
                    c.name(),
                    c.short_id()
                ),
            ));
        }
        match c.status() {
            Status::Running | Status::Paused => {}
            _ => c.start()?,
        }
        let info = c.inspect()?;
        let stop_signal =
            crate::runtime::parse_signal(&info.config.stop_signal).unwrap_or(libc::SIGTERM);
        Ok(Some(RunningContainer::new(
            self.store.clone(),
            (c.id().to_owned(), c.name().to_owned()),
            Process::Detached {
                pid: info.state.pid,
                exit: super::record::exit_path(c.path()),
            },
            (None, None, None),
            stop_signal,
        )))
    }

    /// Makes the container `mode` asks for: checks every setting ([`plan`](Self::plan)),
    /// makes its bundle ([`ContainerStore::create`]) and starts it attached or detached, or
    /// leaves it created; undoes everything if a step fails.
    fn launch(
        &mut self,
        stdin_default: fn() -> Stdio,
        out_default: fn() -> Stdio,
        mode: Mode,
    ) -> Result<Made> {
        let mut plan = match self.plan(mode)? {
            Planned::New(plan) => plan,
            Planned::Reused(running) => return Ok(Made::Running(running)),
        };
        let (stdin, stdout, stderr) = self.stdio(stdin_default, out_default)?;
        plan.open_stdin =
            (mode == Mode::Create || !plan.detach) && !matches!(stdin.0, StdioKind::Null);
        let mut bundle = self.store.create(&plan)?;
        let made = match mode {
            Mode::Create => bundle.standby().map(|c| Made::Created(Box::new(c))),
            Mode::Spawn if plan.detach => bundle.start_detached(&plan).map(Made::Running),
            Mode::Spawn => bundle
                .start_attached(&plan, (stdin, stdout, stderr))
                .map(Made::Running),
        };
        bundle.settle(made)
    }

    /// Checks every setting that needs nothing on disk and gathers what
    /// [`ContainerStore::create`] needs; with [`reuse`](Self::reuse), the existing
    /// container instead when there is one.
    fn plan(&self, mode: Mode) -> Result<Planned> {
        if let Some(n) = &self.name {
            validate_name(n)?;
        }
        let create = mode == Mode::Create;
        let detach = self.detach || create;
        let auto_remove = self.auto_remove || self.ephemeral;
        self.check_ephemeral(create)?;
        let mut labels = self.labels.clone();
        if self.reuse {
            let hash = self.check_reuse(create)?;
            if let Some(running) = self.reused(&hash)? {
                return Ok(Planned::Reused(running));
            }
            labels.insert(CONFIG_HASH_LABEL.to_owned(), hash);
        }
        self.check_restart(detach, auto_remove)?;
        let caps = spec::capabilities(
            &self.cap_add,
            &self.cap_drop,
            self.privileged,
            spec::own_bounding_set(),
        )
        .map_err(|r| self.invalid("capability", r))?;
        let security = self.security_plan(&caps)?;
        let mut warnings = Vec::new();
        // Only `cpus` is checked against the CPU count (std reads cgroup files for it).
        let ncpu = match self.limits.cpus {
            Some(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
            None => 1,
        };
        let limits = self
            .limits
            .check(HostSupport::detect(), ncpu, &mut warnings)
            .map_err(|r| self.invalid(r.field, r.reason))?;
        let image_cfg = self.image.config().config().clone().unwrap_or_default();
        let (args, entrypoint, env_overrides, argv) = self.command(&image_cfg)?;
        let net = self.net_settings(&image_cfg)?;
        let cwd = self.working_dir(&image_cfg)?;
        let stop_signal = self
            .stop_signal
            .clone()
            .or_else(|| image_cfg.stop_signal().clone())
            .unwrap_or_else(|| "SIGTERM".to_owned());
        let stop_signo = crate::runtime::parse_signal(&stop_signal).ok_or_else(|| {
            self.invalid("stop signal", format!("unknown signal {stop_signal:?}"))
        })?;
        let user = self
            .user
            .clone()
            .or_else(|| image_cfg.user().clone())
            .unwrap_or_default();
        let mounts = self.all_mounts(&image_cfg)?;
        let healthcheck = self.merged_healthcheck()?;
        if let Some(sink) = &self.warn {
            for w in &warnings {
                (sink.0)(w);
            }
        }
        Ok(Planned::New(Box::new(Plan {
            label: self.label_for_errors(),
            name: self.name.clone(),
            image_id: self.image.id().to_string(),
            reference: self.reference(),
            image_name: self.config_image(),
            image_cfg,
            argv,
            entrypoint,
            args,
            env_overrides,
            env_clear: self.env_clear,
            cwd,
            user,
            // joining another container's network: its hostname too, as Docker
            hostname: match &net.container {
                Some(id) => Some(self.store.get(id)?.inspect()?.config.hostname),
                None => self.hostname.clone(),
            },
            labels,
            caps,
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            tty: self.tty,
            open_stdin: false,
            read_only: self.read_only,
            privileged: self.privileged,
            seccomp: security.seccomp,
            no_new_privileges: security.no_new_privileges,
            security_opt: security.record,
            limits,
            pids: self.pids,
            detach,
            auto_remove,
            ephemeral: self.ephemeral,
            restart: self.restart,
            net,
            dns: self.dns.clone(),
            stop_signal,
            stop_signo,
            stop_timeout: self.stop_timeout,
            mounts,
            spec_edits: self.spec_edits.clone(),
            check_command: !create,
            ulimits: self.ulimits.clone(),
            init: self.init_binary()?,
            healthcheck,
        })))
    }

    /// The container's healthcheck: the one set over the image's (read from its config
    /// blob: oci-spec's image `Config` has no field for it), checked.
    fn merged_healthcheck(&self) -> Result<Option<super::Healthcheck>> {
        let digest = self.image.id();
        let blob = self
            .store
            .images()
            .store()
            .read_blob(digest)
            .map_err(|e| match e {
                // removed since the builder was made: as the image's hold would say
                Error::Blob { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    Error::ImageNotFound {
                        reference: self.config_image(),
                    }
                }
                e => e,
            })?;
        let image = super::health::of_image_config(&blob).map_err(|e| Error::InvalidImage {
            subject: self.config_image(),
            reason: format!("its config has an unreadable Healthcheck: {e}"),
        })?;
        let merged = match (&self.healthcheck, image) {
            (Some(mine), image) => Some(mine.over(image.as_ref())),
            (None, image) => image,
        };
        if let Some(h) = &merged {
            h.check().map_err(|r| self.invalid("healthcheck", r))?;
        }
        Ok(merged)
    }

    /// The host's init binary with [`init`](Self::init), else `None`.
    fn init_binary(&self) -> Result<Option<PathBuf>> {
        if !self.init {
            return Ok(None);
        }
        super::init::find().map(Some).ok_or_else(|| {
            self.invalid(
                "init",
                "no static init found on the host: install tini (/usr/bin/tini-static) \
                 or set CARGOHOLD_INIT",
            )
        })
    }

    /// An ephemeral container is spawned, never created, and never reused.
    fn check_ephemeral(&self, create: bool) -> Result<()> {
        if !self.ephemeral {
            return Ok(());
        }
        if create {
            return Err(self.invalid(
                "ephemeral",
                "only a started container can be tied to its program (spawn it)",
            ));
        }
        if self.reuse {
            return Err(self.invalid(
                "ephemeral",
                "conflicting options: an ephemeral container cannot be reused",
            ));
        }
        Ok(())
    }

    /// A reusable container is spawned detached with a name; returns its configuration
    /// hash.
    fn check_reuse(&self, create: bool) -> Result<String> {
        if create {
            return Err(self.invalid("reuse", "only spawn reuses a container"));
        }
        if self.name.is_none() || !self.detach {
            return Err(self.invalid(
                "reuse",
                "a reusable container needs a name and detach(true)",
            ));
        }
        Ok(self.config_hash())
    }

    /// A restart policy needs a monitor to restart it and a container that stays.
    fn check_restart(&self, detach: bool, auto_remove: bool) -> Result<()> {
        if self.restart == RestartPolicy::No {
            return Ok(());
        }
        if self.ephemeral {
            return Err(self.invalid(
                "restart policy",
                "conflicting options: a restart policy and an ephemeral container",
            ));
        }
        if !detach {
            return Err(self.invalid(
                "restart policy",
                "restarting needs a detached container (its monitor restarts it)",
            ));
        }
        if auto_remove {
            return Err(self.invalid(
                "restart policy",
                "conflicting options: a restart policy and auto-remove",
            ));
        }
        Ok(())
    }

    /// The arguments and entrypoint as given, the environment overrides, and the command
    /// they make with the image's.
    #[allow(clippy::type_complexity)]
    fn command(
        &self,
        image_cfg: &oci_spec::image::Config,
    ) -> Result<(
        Option<Vec<String>>,
        Option<Vec<String>>,
        Vec<(String, String)>,
        Vec<String>,
    )> {
        let utf8_list = |field, v: &Option<Vec<OsString>>| -> Result<Option<Vec<String>>> {
            v.as_ref()
                .map(|v| v.iter().map(|a| self.utf8(field, a)).collect())
                .transpose()
        };
        let args = utf8_list("argument", &self.args)?;
        let entrypoint = utf8_list("entrypoint", &self.entrypoint)?;
        let mut overrides = Vec::new();
        for (k, v) in &self.env {
            let k = self.utf8("environment variable", k)?;
            if k.is_empty() || k.contains('=') {
                return Err(self.invalid("environment variable", format!("bad name {k:?}")));
            }
            overrides.push((k, self.utf8("environment variable", v)?));
        }
        let argv = spec::command(
            image_cfg.entrypoint().as_deref().unwrap_or_default(),
            image_cfg.cmd().as_deref().unwrap_or_default(),
            entrypoint.as_deref(),
            args.as_deref(),
        );
        if argv.is_empty() {
            return Err(self.invalid("command", "no command specified"));
        }
        Ok((args, entrypoint, overrides, argv))
    }

    /// The working directory: the one set, else the image's, else `/`; absolute.
    fn working_dir(&self, image_cfg: &oci_spec::image::Config) -> Result<String> {
        let cwd = match &self.cwd {
            Some(p) => self.utf8("working directory", p.as_os_str())?,
            None => image_cfg
                .working_dir()
                .clone()
                .filter(|w| !w.is_empty())
                .unwrap_or_else(|| "/".to_owned()),
        };
        if !cwd.starts_with('/') {
            return Err(self.invalid("working directory", format!("{cwd:?} is not absolute")));
        }
        Ok(cwd)
    }

    /// The mounts set, one per destination, with an anonymous volume for each of the
    /// image's `Volumes` not covered; parents before children, so that a mount inside
    /// another one stays visible.
    fn all_mounts(&self, image_cfg: &oci_spec::image::Config) -> Result<Vec<Mount>> {
        let mut mounts = self.mounts.clone();
        for (i, m) in mounts.iter().enumerate() {
            if mounts[..i]
                .iter()
                .any(|o| o.destination() == m.destination())
            {
                return Err(self.invalid(
                    "mount",
                    format!("duplicate mount point {}", m.destination().display()),
                ));
            }
        }
        let image_volumes = image_cfg.volumes().iter().flatten();
        for dest in image_volumes.filter(|_| self.image_volumes) {
            let dest = Path::new(dest);
            if dest.is_absolute() && !mounts.iter().any(|m| m.destination() == dest) {
                mounts.push(Mount::anonymous(dest));
            }
        }
        mounts.sort_by_key(|m| m.destination().components().count());
        Ok(mounts)
    }

    /// The container's stdio: copies of the streams set, else the defaults.
    fn stdio(
        &self,
        stdin_default: fn() -> Stdio,
        out_default: fn() -> Stdio,
    ) -> Result<(Stdio, Stdio, Stdio)> {
        let dup = |s: &Option<Stdio>, default: fn() -> Stdio| -> Result<Stdio> {
            s.as_ref()
                .map(Stdio::try_clone)
                .transpose()
                .map_err(|e| Error::Io {
                    op: format!("duplicating stdio of container {}", self.label_for_errors()),
                    source: e,
                })
                .map(|s| s.unwrap_or_else(default))
        };
        Ok((
            dup(&self.stdin, stdin_default)?,
            dup(&self.stdout, out_default)?,
            dup(&self.stderr, out_default)?,
        ))
    }
}

impl ContainerBuilder<'_> {
    /// The networking asked for, checked: `host`/`none` alone, ports only with a network
    /// (the default `bridge` when none is named).
    fn net_settings(&self, image_cfg: &oci_spec::image::Config) -> Result<net::NetSettings> {
        let mut ports = self.ports.clone();
        if self.publish_all {
            for spec in image_cfg.exposed_ports().iter().flatten() {
                let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
                let b: PortBinding = format!("{port}/{proto}").parse().map_err(|_| {
                    self.invalid("exposed port", format!("the image exposes {spec:?}"))
                })?;
                if !ports
                    .iter()
                    .any(|p| p.container_port == b.container_port && p.protocol == b.protocol)
                {
                    ports.push(b);
                }
            }
        }
        if let Some(target) = self
            .networks
            .first()
            .and_then(|n| n.strip_prefix("container:"))
        {
            return self.container_net_settings(target, &ports);
        }
        let mut networks = self.networks.clone();
        let special = |n: &str| n == "host" || n == "none" || n.starts_with("container:");
        if networks.len() > 1 && networks.iter().any(|n| special(n)) {
            return Err(self.invalid(
                "network",
                "host and none cannot be combined with other networks",
            ));
        }
        if networks.is_empty() && (!ports.is_empty() || self.publish_all) {
            networks.push(crate::network::DEFAULT_NETWORK.to_owned());
        }
        let mode = match networks.first().map(String::as_str) {
            None | Some("none") => net::NetMode::Private,
            Some("host") => net::NetMode::Host,
            Some(_) => net::NetMode::Networks,
        };
        if mode != net::NetMode::Networks {
            if !ports.is_empty() {
                return Err(self.invalid(
                    "published ports",
                    format!(
                        "ports are published through a bridge network, not {}",
                        networks[0]
                    ),
                ));
            }
            if !self.network_aliases.is_empty() {
                return Err(self.invalid("network alias", "aliases are for user-defined networks"));
            }
        }
        let default = networks
            .iter()
            .any(|n| n == crate::network::DEFAULT_NETWORK);
        if mode == net::NetMode::Networks
            && crate::paths::rootless()
            && default
            && networks.len() > 1
        {
            return Err(self.invalid(
                "network",
                format!(
                    "a rootless container on the default network `{}` has user-mode \
                     networking (pasta) of its own, which cannot be combined with \
                     user-defined networks; use only those",
                    crate::network::DEFAULT_NETWORK
                ),
            ));
        }
        let endpoints = if mode == net::NetMode::Networks {
            networks
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let mut aliases = if i == 0 {
                        self.network_aliases.clone()
                    } else {
                        Vec::new()
                    };
                    let extra = self.endpoints.get(n);
                    if let Some((more, _)) = extra {
                        for a in more {
                            if !aliases.contains(a) {
                                aliases.push(a.clone());
                            }
                        }
                    }
                    net::NetEndpoint {
                        network: n.clone(),
                        aliases,
                        ip: extra.and_then(|(_, ip)| *ip),
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        let embedded_dns = endpoints
            .iter()
            .any(|e| self.store.networks().is_user_defined(&e.network));
        Ok(net::NetSettings {
            mode,
            networks: endpoints,
            ports,
            extra_hosts: self.extra_hosts.clone(),
            embedded_dns,
            container: None,
        })
    }

    /// `--network container:<target>`: the target must exist (it must run when this one
    /// starts); what would configure a namespace of its own conflicts, as in Docker.
    fn container_net_settings(
        &self,
        target: &str,
        ports: &[PortBinding],
    ) -> Result<net::NetSettings> {
        let conflict = |what: &'static str, flag: &str| {
            self.invalid(
                what,
                format!("conflicting options: {flag} and the container network mode"),
            )
        };
        if self.networks.len() > 1 {
            return Err(conflict("network", "other networks"));
        }
        if !ports.is_empty() || self.publish_all {
            return Err(conflict("published ports", "port publishing"));
        }
        if !self.network_aliases.is_empty() || !self.endpoints.is_empty() {
            return Err(conflict("network alias", "network aliases"));
        }
        if self.hostname.is_some() {
            return Err(conflict("hostname", "a hostname"));
        }
        if !self.extra_hosts.is_empty() {
            return Err(conflict("add-host", "custom host-to-IP mappings"));
        }
        if !self.dns.is_empty() {
            return Err(conflict("dns", "DNS servers"));
        }
        let c = self.store.get(target).map_err(|e| match e {
            Error::ContainerNotFound { .. } => {
                self.invalid("network", format!("no such container: {target}"))
            }
            e => e,
        })?;
        Ok(net::NetSettings {
            mode: net::NetMode::Container,
            container: Some(c.id().to_owned()),
            ..Default::default()
        })
    }
}

/// The label of the containers a Dockerfile build runs its RUN steps in: removed by
/// [`Engine::open`](crate::Engine::open) when the program that built is gone.
pub(crate) const BUILD_STEP_LABEL: &str = "cargohold.build-step";

/// The label holding the configuration hash of a [`ContainerBuilder::reuse`]able container.
pub const CONFIG_HASH_LABEL: &str = "cargohold.config-hash";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Spawn,
    Create,
}

#[allow(clippy::large_enum_variant)] // one per container made, moved once
enum Made {
    Running(RunningContainer),
    Created(Box<Container>),
}

/// What [`ContainerBuilder::plan`] found to do.
#[allow(clippy::large_enum_variant)] // one per container made, moved once
enum Planned {
    /// Make a new container.
    New(Box<Plan>),
    /// Hand out this reused one.
    Reused(RunningContainer),
}

/// Our end and the container's end of one stdio stream.
/// Sets `key` to `val` in an ordered environment, replacing an earlier value of `key`.
pub(super) fn set_env(env: &mut Vec<(OsString, OsString)>, key: &OsStr, val: &OsStr) {
    env.retain(|(k, _)| k != key);
    env.push((key.to_owned(), val.to_owned()));
}

pub(super) fn stdio_fd(
    s: Stdio,
    input: bool,
    writer: &mut Option<io::PipeWriter>,
    reader: &mut Option<io::PipeReader>,
) -> io::Result<Option<OwnedFd>> {
    Ok(match s.0 {
        StdioKind::Inherit => None,
        StdioKind::Null => Some(
            fs::OpenOptions::new()
                .read(input)
                .write(!input)
                .open("/dev/null")?
                .into(),
        ),
        StdioKind::Fd(fd) => Some(fd),
        StdioKind::Piped => {
            let (r, w) = io::pipe()?;
            if input {
                *writer = Some(w);
                Some(r.into())
            } else {
                *reader = Some(r);
                Some(w.into())
            }
        }
    })
}

/// A failure to exec reported by the runtime, in Docker's terms.
pub(crate) fn map_spawn_error(e: Error, name: &str, arg0: &str) -> Error {
    if let Error::Spawn { stage, source } = &e {
        let errno = source.raw_os_error();
        if stage.starts_with("looking up executable") || stage.starts_with("executing") {
            let (reason, code) = match errno {
                Some(libc::ENOENT) => ("executable file not found in $PATH", 127),
                Some(libc::EACCES) | Some(libc::ENOEXEC) | Some(libc::EPERM) => {
                    ("permission denied", 126)
                }
                _ => return e,
            };
            return Error::Command {
                container: name.to_owned(),
                command: arg0.to_owned(),
                reason: reason.to_owned(),
                code,
            };
        }
    }
    e
}

/// Docker's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+` (a leading `/` is allowed).
pub(crate) fn validate_name(name: &str) -> Result<()> {
    let reason = match name_fault(name.strip_prefix('/').unwrap_or(name)) {
        None => return Ok(()),
        Some(NameFault::Empty) => "it is empty",
        Some(NameFault::Start) => "it must start with a letter or digit",
        Some(NameFault::Short) => "it must be at least 2 characters long",
        Some(NameFault::Long) => "it must be at most 255 characters long",
        Some(NameFault::Chars) => "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
    };
    Err(Error::InvalidContainerName {
        name: name.to_owned(),
        reason,
    })
}

// --- Security settings: the seccomp filter, no_new_privs, Docker's `--security-opt` ------

/// Where a container's seccomp filter comes from
/// ([`ContainerBuilder::seccomp`], `--security-opt seccomp=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SeccompProfile {
    /// Docker's default profile for the container's capabilities.
    #[default]
    Default,
    /// No filter (`seccomp=unconfined`).
    Unconfined,
    /// A profile in Docker's JSON format
    /// ([`runtime::seccomp_profile::Profile`](crate::runtime::seccomp_profile::Profile)),
    /// read and checked at spawn (`seccomp=PATH`).
    File(PathBuf),
}

/// One security setting, as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Security {
    Seccomp(SeccompProfile),
    NoNewPrivileges(bool),
    /// A `--security-opt` string, parsed at spawn.
    Opt(String),
}

/// The security settings resolved for a container.
#[derive(Debug)]
struct SecurityPlan {
    /// `linux.seccomp` (`None`: no filter).
    seccomp: Option<std::sync::Arc<spec::Seccomp>>,
    no_new_privileges: bool,
    /// `HostConfig.SecurityOpt`: the settings that differ from the defaults, in Docker's
    /// spelling (`seccomp=unconfined`, `seccomp=PATH`, `no-new-privileges`).
    record: Vec<String>,
}

impl ContainerBuilder<'_> {
    /// The security settings in order (later wins), for a container with `caps`.
    fn security_plan(&self, caps: &std::collections::BTreeSet<String>) -> Result<SecurityPlan> {
        let mut seccomp = SeccompProfile::Default;
        let mut no_new_privileges = false;
        for setting in &self.security {
            let setting = match setting {
                Security::Opt(opt) => {
                    parse_security_opt(opt).map_err(|r| self.invalid("security option", r))?
                }
                other => other.clone(),
            };
            match setting {
                Security::Seccomp(p) => seccomp = p,
                Security::NoNewPrivileges(yes) => no_new_privileges = yes,
                Security::Opt(_) => unreachable!("parse_security_opt never returns Opt"),
            }
        }
        let mut record = Vec::new();
        match &seccomp {
            SeccompProfile::Default => {}
            SeccompProfile::Unconfined => record.push("seccomp=unconfined".to_owned()),
            SeccompProfile::File(p) => record.push(format!("seccomp={}", p.display())),
        }
        if no_new_privileges {
            record.push("no-new-privileges".to_owned());
        }
        let seccomp = match seccomp {
            // As Docker: a privileged container has no filter.
            _ if self.privileged => None,
            SeccompProfile::Default => Some(spec::default_seccomp(caps)),
            SeccompProfile::Unconfined => None,
            SeccompProfile::File(path) => load_seccomp(&path, caps)?.map(spec::Seccomp::new),
        };
        Ok(SecurityPlan {
            seccomp,
            no_new_privileges,
            record,
        })
    }
}

/// Reads a profile file, resolves it for `caps` and compiles it once, so that every
/// error names the file and the field before anything is made.
fn load_seccomp(
    path: &Path,
    caps: &std::collections::BTreeSet<String>,
) -> Result<Option<oci_spec::runtime::LinuxSeccomp>> {
    use crate::runtime::seccomp_profile::Profile;
    let profile = Profile::load(path)?;
    let caps: Vec<String> = caps.iter().map(|c| format!("CAP_{c}")).collect();
    let Some(resolved) = profile.resolve(&caps) else {
        return Ok(None); // `{}`: seccomp disabled, as in Docker
    };
    match crate::runtime::seccomp::compile(&resolved) {
        Ok(_) => Ok(Some(resolved)),
        Err(Error::Seccomp { reason }) => Err(Error::Seccomp {
            reason: format!("profile {}: {reason}", path.display()),
        }),
        Err(e) => Err(e),
    }
}

/// Parses a Docker `--security-opt` string (see [`ContainerBuilder::security_opt`]).
fn parse_security_opt(opt: &str) -> std::result::Result<Security, String> {
    let (key, value) = match opt.split_once('=').or_else(|| opt.split_once(':')) {
        Some((k, v)) => (k, Some(v)),
        None => (opt, None),
    };
    let lsm = |name: &str, shown: &str| {
        Err(if lsm_enabled(name) {
            format!("{opt:?}: {shown} options are not supported yet")
        } else {
            format!("{opt:?}: {shown} is not enabled on this host")
        })
    };
    match (key, value) {
        ("no-new-privileges", None) => Ok(Security::NoNewPrivileges(true)),
        ("no-new-privileges", Some(v)) => match v {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(Security::NoNewPrivileges(true)),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(Security::NoNewPrivileges(false)),
            _ => Err(format!("{opt:?}: {v:?} is not true or false")),
        },
        ("seccomp", Some("unconfined")) => Ok(Security::Seccomp(SeccompProfile::Unconfined)),
        ("seccomp", None | Some("")) => Err(format!(
            "{opt:?}: seccomp needs a profile: unconfined or the path of a JSON profile"
        )),
        ("seccomp", Some(path)) => Ok(Security::Seccomp(SeccompProfile::File(path.into()))),
        ("apparmor", _) => lsm("apparmor", "AppArmor"),
        ("label", _) => lsm("selinux", "SELinux"),
        _ => Err(format!(
            "{opt:?}: unknown security option (known: seccomp=, no-new-privileges, \
             apparmor=, label=)"
        )),
    }
}

/// Whether the Linux security module `name` (`apparmor`, `selinux`) is active: the
/// kernel's list when securityfs is mounted, else the module's own files.
fn lsm_enabled(name: &str) -> bool {
    if let Ok(list) = fs::read_to_string("/sys/kernel/security/lsm") {
        return list.trim().split(',').any(|l| l == name);
    }
    match name {
        "apparmor" => fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y"),
        "selinux" => Path::new("/sys/fs/selinux/enforce").exists(),
        _ => false,
    }
}

/// Docker-like random names: `adjective_name`.
pub(crate) fn random_name(seed: &[u8]) -> String {
    const ADJ: &[&str] = &[
        "brave", "calm", "eager", "fervent", "gentle", "happy", "jolly", "keen", "lucid", "modest",
        "nifty", "quirky", "serene", "tender", "vibrant", "zealous",
    ];
    const NAMES: &[&str] = &[
        "babbage", "curie", "darwin", "euler", "fermi", "galois", "hopper", "hypatia", "kepler",
        "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "wozniak",
    ];
    let a = seed.first().copied().unwrap_or(0) as usize;
    let b = seed.get(1).copied().unwrap_or(0) as usize;
    format!("{}_{}", ADJ[a % ADJ.len()], NAMES[b % NAMES.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_docker() {
        for ok in ["ab", "web", "/web", "a.b-c_d", "0x"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "a", "_ab", "-ab", "a b", "a/b", "é1"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn security_opts_parse_as_docker() {
        use SeccompProfile as P;
        let ok = |o: &str| parse_security_opt(o).unwrap();
        assert_eq!(ok("seccomp=unconfined"), Security::Seccomp(P::Unconfined));
        assert_eq!(ok("seccomp:unconfined"), Security::Seccomp(P::Unconfined));
        assert_eq!(
            ok("seccomp=/etc/p:1.json"),
            Security::Seccomp(P::File("/etc/p:1.json".into()))
        );
        assert_eq!(ok("no-new-privileges"), Security::NoNewPrivileges(true));
        assert_eq!(
            ok("no-new-privileges=true"),
            Security::NoNewPrivileges(true)
        );
        assert_eq!(
            ok("no-new-privileges:false"),
            Security::NoNewPrivileges(false)
        );
        let err = |o: &str| parse_security_opt(o).unwrap_err();
        assert!(err("no-new-privileges=maybe").contains("\"maybe\" is not true or false"));
        assert!(err("seccomp=").contains("seccomp needs a profile"));
        assert!(err("seccomp").contains("seccomp needs a profile"));
        assert!(err("systempaths=unconfined").contains("\"systempaths=unconfined\": unknown"));
        assert!(err("bogus").contains("unknown security option"));
        let e = err("apparmor=docker-default");
        assert!(
            e.starts_with("\"apparmor=docker-default\": AppArmor"),
            "{e}"
        );
        let e = err("label=disable");
        assert!(e.starts_with("\"label=disable\": SELinux"), "{e}");
    }

    #[test]
    fn random_names_are_valid() {
        for i in 0..=255u8 {
            validate_name(&random_name(&[i, i.wrapping_mul(7)])).unwrap();
        }
    }
}
