//! The crate's error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

mod wire;
pub(crate) use wire::WireError;

/// Everything that can go wrong in cargohold.
///
/// Each variant names the operation that failed and the thing it failed on (a path, an id,
/// a field of `config.json`); an OS failure is carried as the [`source`](std::error::Error::source).
///
/// `{}` prints the message, `{:?}` the message followed by its causes, so that a
/// `main() -> cargohold::Result<()>` that fails prints a sentence (`Error: cgroup creating at
/// /sys/fs/cgroup/memory/x: Permission denied (os error 13)`); `{:#?}` puts each cause on
/// its own line, the last one in its own `Debug` form (an [`io::Error`]'s kind and code).
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call or file operation failed.
    #[error("{op} {}", path.display())]
    Os {
        /// What was being done ("mounting proc", "opening cgroup.procs").
        op: String,
        /// The path it was done on.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The container's init process failed before it could exec the user's process.
    #[error("container setup failed while {stage}")]
    Spawn {
        /// The step that failed, with the path or value it failed on.
        stage: String,
        /// The errno the step returned.
        #[source]
        source: io::Error,
    },
    /// A field of the runtime spec (`config.json`) is malformed or unsupported.
    #[error("invalid runtime spec: {field}: {reason}")]
    InvalidSpec {
        /// The field, as a JSON path (`linux.namespaces[2].type`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A container id is not acceptable.
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId {
        /// The id as given.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A container with this id already exists.
    #[error("container {id:?} already exists")]
    ContainerExists {
        /// The id.
        id: String,
    },
    /// No container with this id exists.
    #[error("container {id:?} does not exist")]
    ContainerNotFound {
        /// The id.
        id: String,
    },
    /// The operation is not allowed in the container's current state.
    #[error("cannot {op} container {id:?}: it is {status}")]
    InvalidState {
        /// The id.
        id: String,
        /// The operation refused ("start", "delete").
        op: &'static str,
        /// The state it is in ("running", "stopped").
        status: String,
    },
    /// A cgroup operation failed.
    #[error("cgroup {op} at {}", path.display())]
    Cgroup {
        /// What was being done ("setting memory.limit_in_bytes").
        op: String,
        /// The cgroup directory or file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A seccomp filter could not be built or loaded.
    #[error("seccomp: {reason}")]
    Seccomp {
        /// What is wrong.
        reason: String,
    },
    /// A signal is neither a number from 1 to 64 nor a signal name.
    #[error("invalid signal {signal:?}: not a number from 1 to 64 or a signal name")]
    InvalidSignal {
        /// The signal as given.
        signal: String,
    },
    /// A lifecycle hook failed or timed out.
    #[error("{kind} hook {} failed: {reason}", path.display())]
    Hook {
        /// Which hook list it belongs to ("prestart", "poststop").
        kind: &'static str,
        /// The hook's executable.
        path: PathBuf,
        /// Exit status, signal or timeout.
        reason: String,
    },
    /// The host lacks a feature the spec insists on.
    #[error("{what} is not supported on this host: {reason}")]
    Unsupported {
        /// The feature ("AppArmor profile", "time namespace").
        what: String,
        /// Why.
        reason: String,
    },
    /// An image reference could not be parsed.
    #[error("invalid reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as given.
        reference: String,
        /// What is wrong with it, as Docker words it.
        reason: String,
    },
    /// No image with this reference is in the store.
    #[error("image {reference} not found")]
    ImageNotFound {
        /// The reference (or image id) asked for.
        reference: String,
    },
    /// The image is used by a container (or another reference) and `force` was not given.
    #[error("image {reference} is in use by {user}")]
    ImageInUse {
        /// The image.
        reference: String,
        /// What uses it.
        user: String,
    },
    /// A blob or layer operation in the image store failed.
    #[error("{op} blob {digest}")]
    Blob {
        /// What was being done ("writing", "reading", "unpacking layer").
        op: String,
        /// The blob's digest.
        digest: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A blob's content does not match its digest (or its size).
    #[error("blob {digest} does not match its digest: got {actual}")]
    DigestMismatch {
        /// The digest it should have had.
        digest: String,
        /// The digest (or size) its content has.
        actual: String,
    },
    /// An image's manifest, index, config or archive is malformed or inconsistent.
    #[error("invalid image {subject}: {reason}")]
    InvalidImage {
        /// The image reference, archive path or blob digest.
        subject: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A layer tar holds an entry that would land outside the layer, or cannot be applied.
    #[error("unsafe entry {} in layer {digest}: {reason}", entry.display())]
    UnsafeLayerEntry {
        /// The layer's digest (or archive path).
        digest: String,
        /// The entry's path as written in the tar.
        entry: PathBuf,
        /// Why it was refused.
        reason: &'static str,
    },
    /// Talking to a registry failed: a transport error or an unexpected HTTP status.
    #[error("{op} {reference} at {url}: {reason}")]
    Registry {
        /// What was being done ("pulling manifest", "uploading blob sha256:…").
        op: String,
        /// The image reference.
        reference: String,
        /// The URL asked.
        url: String,
        /// The HTTP status and registry message, or the transport error.
        reason: String,
    },
    /// Writing an entry of a layer tar to disk failed.
    #[error("unpacking {} of layer {digest}", entry.display())]
    Unpack {
        /// The layer's digest (or archive path).
        digest: String,
        /// The entry's path as written in the tar.
        entry: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The monitor of a detached container failed, or reported a failure that has no
    /// variant of its own.
    #[error("monitor of container {id:?}: {reason}")]
    Monitor {
        /// The container id.
        id: String,
        /// What went wrong.
        reason: String,
    },
    /// A volume name does not follow Docker's rules (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    #[error("invalid volume name {name:?}: {reason}")]
    InvalidVolumeName {
        /// The name as given.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// No volume with this name exists.
    #[error("volume {name:?} does not exist")]
    VolumeNotFound {
        /// The name.
        name: String,
    },
    /// The volume is mounted by containers and `force` was not given.
    #[error("volume {name:?} is in use by container(s) {}", users.join(", "))]
    VolumeInUse {
        /// The volume's name.
        name: String,
        /// The ids of the containers using it.
        users: Vec<String>,
    },
    /// A mount spec (`-v`, `--tmpfs`, `--mount`, or one built in code) is malformed.
    #[error("invalid mount spec {spec:?}: {reason}")]
    InvalidMount {
        /// The spec as given (or the destination of one built in code).
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The source of a bind mount does not exist (and is not to be created).
    #[error("bind source path does not exist: {}", path.display())]
    BindSourceNotFound {
        /// The host path.
        path: PathBuf,
    },
    /// A container name does not follow Docker's rules (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    #[error("invalid container name {name:?}: {reason}")]
    InvalidContainerName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Another container already has this name.
    #[error("container name {name:?} is already in use by container {id}")]
    ContainerNameInUse {
        /// The name.
        name: String,
        /// The id of the container that has it.
        id: String,
    },
    /// A name or id prefix matches more than one container.
    #[error("container id prefix {prefix:?} matches {count} containers")]
    AmbiguousContainer {
        /// The prefix as given.
        prefix: String,
        /// How many containers it matches.
        count: usize,
    },
    /// A setting of a container builder is invalid (checked when spawning).
    #[error("invalid {field} for container {container}: {reason}")]
    InvalidContainerConfig {
        /// The container's name (or its image when it has none yet).
        container: String,
        /// The setting ("memory limit", "capability", "environment variable").
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The user (or group) a container should run as is not in the image.
    #[error("unable to find {kind} {name:?} in image {image}: no matching entries in {file} file")]
    UserNotFound {
        /// "user" or "group".
        kind: &'static str,
        /// The name as given.
        name: String,
        /// The image reference.
        image: String,
        /// "passwd" or "group".
        file: &'static str,
    },
    /// The container's command is not in the image (Docker exits 127), or cannot be run
    /// (126). [`Error::exit_code`] gives the code a command line should exit with.
    #[error("container {container}: exec: {command:?}: {reason}")]
    Command {
        /// The container's name.
        container: String,
        /// The command (argv\[0\]).
        command: String,
        /// Docker's wording: "executable file not found in $PATH", "permission denied", ….
        reason: String,
        /// 127 (not found) or 126 (not executable).
        code: i32,
    },
    /// An operation on a container failed, and undoing its partial effects failed as well.
    #[error("{op} container {container} failed; cleaning up failed too: {cleanup}")]
    Rollback {
        /// The operation ("creating", "starting").
        op: &'static str,
        /// The container's name.
        container: String,
        /// The first error, the cause.
        #[source]
        source: Box<Error>,
        /// The error of the cleanup.
        cleanup: Box<Error>,
    },
    /// A restart policy is not one Docker knows (`no`, `on-failure[:N]`, `always`,
    /// `unless-stopped`).
    #[error("invalid restart policy {policy:?}: {reason}")]
    InvalidRestartPolicy {
        /// The policy as given.
        policy: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A container listing filter (`docker ps --filter`) is malformed or unknown.
    #[error("invalid filter {filter:?}: {reason}")]
    InvalidFilter {
        /// The filter as given.
        filter: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A readiness wait ([`WaitFor`](crate::WaitFor)) gave up: it timed out, the container
    /// exited first, or the condition cannot be checked. The message ends with the last
    /// lines of the container's log, to show why.
    #[error(
        "container {container} is not ready: {condition}: {reason}{}",
        format_last_logs(last_logs)
    )]
    NotReady {
        /// The container's name.
        container: String,
        /// The condition waited for ("log line \"ready\" on stdout", "tcp port 8080").
        condition: String,
        /// Why it gave up ("timed out after 5s; last attempt: connection refused").
        reason: String,
        /// The last lines (up to 20) of the container's log, oldest first, without their
        /// newlines; empty for a container without a log (an attached one).
        last_logs: Vec<String>,
    },

    /// No network with this name or id exists.
    #[error("network {name:?} not found")]
    NetworkNotFound {
        /// The name or id as given.
        name: String,
    },
    /// A network with this name already exists.
    #[error("network with name {name:?} already exists")]
    NetworkExists {
        /// The name.
        name: String,
    },
    /// A setting of a network (name, driver, subnet, gateway, IP range, MTU, parent…) is
    /// invalid.
    #[error("invalid {field} for network {network:?}: {reason}")]
    InvalidNetworkConfig {
        /// The network's name.
        network: String,
        /// The setting ("subnet", "gateway", "driver").
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The network has containers attached and cannot be removed.
    #[error("network {name:?} has active endpoints: {}", containers.join(", "))]
    NetworkInUse {
        /// The network's name.
        name: String,
        /// The names of the containers attached to it.
        containers: Vec<String>,
    },
    /// `bridge`, `host` and `none` always exist.
    #[error("{name} is a pre-defined network and cannot be {op}")]
    PredefinedNetwork {
        /// The network's name.
        name: String,
        /// What was refused ("removed", "created").
        op: &'static str,
    },
    /// The subnet of a new network overlaps another network's or a route of the host.
    #[error("subnet {subnet} of network {network:?} overlaps {other}")]
    SubnetOverlap {
        /// The network being created.
        network: String,
        /// Its subnet.
        subnet: String,
        /// What it overlaps ("network \"a\" (10.0.0.0/16)", "the host route 10.0.0.0/8").
        other: String,
    },
    /// Every address of the network's subnet (or IP range) is taken, or no free subnet is
    /// left for a new network.
    #[error("no free address left in {subnet} of network {network:?}")]
    SubnetExhausted {
        /// The network's name.
        network: String,
        /// The subnet or range that is full.
        subnet: String,
    },
    /// A published-port spec (`-p [ip:][host:]container[/proto]`) is malformed.
    #[error("invalid port spec {spec:?}: {reason}")]
    InvalidPortSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Dockerfile is malformed: what `docker build` reports as a parse error (and what
    /// the builder finds wrong with an instruction before it runs it).
    #[error(
        "dockerfile parse error in {} on line {line}: {}",
        path.display(),
        with_instruction(instruction, reason)
    )]
    InvalidDockerfile {
        /// The Dockerfile's path as the caller gave it.
        path: PathBuf,
        /// The line the instruction starts on (1-based).
        line: usize,
        /// The instruction's name (`COPY`), or empty for a parser directive.
        instruction: String,
        /// What is wrong, in Docker's words.
        reason: String,
    },
    /// The host port of a published port is taken.
    #[error("port {binding} is already allocated by {by}")]
    PortInUse {
        /// The binding (`127.0.0.1:8080:80/tcp`).
        binding: String,
        /// Who holds it: a container, or the host with the bind error.
        by: String,
    },
    /// An I/O operation on something that is not a file of its own (a pipe to a container,
    /// a duplicated stdio fd): `op` names the operation and its subject.
    #[error("{op}")]
    Io {
        /// What was being done ("reading stdout of container web", "duplicating the fd
        /// given as stdin").
        op: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A netlink operation (link, address, route) or a network namespace operation failed.
    #[error("{op} {subject}")]
    Netlink {
        /// What was being done ("creating bridge", "adding address 172.18.0.2/16 to").
        op: String,
        /// The interface or namespace it was done on.
        subject: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A build context cannot be used as asked: a `.dockerignore` line, or a COPY/ADD
    /// source that is absent, excluded or outside the context.
    #[error("build context: {subject}: {reason}")]
    BuildContext {
        /// What was refused (`.dockerignore line 3 "["`, `source "../x"`).
        subject: String,
        /// Why.
        reason: String,
    },
    /// A build option or a step's input is wrong where no Dockerfile line is to blame:
    /// a `--target` no stage has, a secret that cannot be read, a bad `--network`.
    #[error("build: {subject}: {reason}")]
    InvalidBuild {
        /// What was refused (`target "x"`, `secret "npmrc"`).
        subject: String,
        /// Why.
        reason: String,
    },
    /// A build instruction failed for a reason other than its text: a base image or
    /// `--from` image that cannot be pulled, a COPY source that is absent or outside the
    /// context, a `--chown` user the image does not have, a mount that cannot be made.
    #[error("{} line {line}: {instruction}: {cause}", path.display())]
    BuildInstruction {
        /// The Dockerfile's path as the caller gave it.
        path: PathBuf,
        /// The instruction's first line (1-based).
        line: usize,
        /// The instruction as written (its first line).
        instruction: String,
        /// What went wrong (shown in the message, not as a `source()`, so that a chain
        /// printer does not repeat it).
        cause: Box<Error>,
    },
    /// A RUN step of a build exited non-zero (or was killed): the instruction, where it
    /// is, its exit and the last lines it printed.
    #[error(
        "{} line {line}: {instruction}: did not complete successfully: {status}{}",
        path.display(),
        format_last_logs(output)
    )]
    BuildStep {
        /// The Dockerfile's path as the caller gave it.
        path: PathBuf,
        /// The instruction's first line (1-based).
        line: usize,
        /// The instruction as written (`RUN make`).
        instruction: String,
        /// `exit code: 2` or `killed by signal 9`.
        status: String,
        /// Its last lines of output (at most 10).
        output: Vec<String>,
    },
    /// A pull or build stopped because its caller asked it to ([`PullOptions::stop_when`],
    /// [`ImageBuilder::stop_when`]): what was done is complete or undone.
    ///
    /// [`PullOptions::stop_when`]: crate::PullOptions::stop_when
    /// [`ImageBuilder::stop_when`]: crate::ImageBuilder::stop_when
    #[error("{op}: cancelled")]
    Cancelled {
        /// What was stopped ("pulling docker.io/library/busybox:latest", "building").
        op: String,
    },
    /// The firewall (nftables) refused or failed a change.
    #[error("firewall: {op}: {reason}")]
    Firewall {
        /// What was being done ("publishing ports of container …").
        op: String,
        /// nft's message, or why it could not be run.
        reason: String,
    },
    /// A compose project is not valid: a file that is not YAML, an unknown key, a value of
    /// the wrong type or form, a variable required by `${VAR:?message}`, a `depends_on`
    /// on a service that does not exist, a dependency cycle.
    #[error("{}: {}{reason}", file.display(), with_colon(path))]
    InvalidCompose {
        /// The compose file (the project's first file when no one file is at fault).
        file: PathBuf,
        /// Where in the model, as Compose names it (`services.web.ports[1]`); empty for
        /// the file as a whole.
        path: String,
        /// What is wrong (`invalid port "80:80:80/tcpx": invalid proto: tcpx`).
        reason: String,
    },
    /// Bringing a compose project up or down failed at one of its services (or, with an
    /// empty `service`, at one of its networks or volumes): a dependency that exited
    /// non-zero or became unhealthy, an image that cannot be found or built, a container
    /// that cannot be created or started (the cause is the source).
    #[error("project {project}: {}{reason}", service_prefix(service))]
    Compose {
        /// The project's name.
        project: String,
        /// The service at fault (empty: the project as a whole).
        service: String,
        /// What failed (`service "init" didn't complete successfully: exit 1`).
        reason: String,
        /// The engine's error, when one caused it.
        #[source]
        source: Option<Box<Error>>,
    },
    /// The container is not attached to the network.
    #[error("container {container} is not connected to network {network:?}")]
    NotConnected {
        /// The network's name.
        network: String,
        /// The container's name or id.
        container: String,
    },
    /// The container is already attached to the network.
    #[error("container {container} is already connected to network {network:?}")]
    AlreadyConnected {
        /// The network's name.
        network: String,
        /// The container's name or id.
        container: String,
    },
}

/// `Result` with [`Error`] as its default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Os`] from an operation, a path and the OS error.
    pub(crate) fn os(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Os {
            op: op.into(),
            path: path.into(),
            source,
        }
    }

    /// An [`Error::InvalidSpec`] for a field.
    pub(crate) fn spec(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSpec {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The exit code a command line should report for this error, as Docker's does: 127
    /// for a command not found in the image, 126 for one that cannot be executed, `None`
    /// for every other error (Docker reports 125 for engine errors).
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Error::Command { code, .. } => Some(*code),
            Error::Rollback { source, .. } => source.exit_code(),
            Error::Compose {
                source: Some(source),
                ..
            } => source.exit_code(),
            _ => None,
        }
    }
}

/// [`Error::InvalidDockerfile`]'s reason, prefixed with the instruction unless it names it.
fn with_instruction(instruction: &str, reason: &str) -> String {
    if instruction.is_empty() || reason.contains(instruction) {
        reason.to_owned()
    } else {
        format!("{instruction}: {reason}")
    }
}

/// `service NAME: `, or nothing for an empty name ([`Error::Compose`]).
fn service_prefix(service: &str) -> String {
    if service.is_empty() {
        String::new()
    } else {
        format!("service {service}: ")
    }
}

/// `path: `, or nothing for an empty path ([`Error::InvalidCompose`]).
fn with_colon(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// The tail of [`Error::NotReady`]'s message: the log lines, one per line, indented.
fn format_last_logs(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut s = format!("; last {} log lines:", lines.len());
    for l in lines {
        s.push_str("\n    ");
        s.push_str(l);
    }
    s
}

/// The `sys` layer's errors keep their message: a cgroup failure stays [`Error::Cgroup`], a
/// malformed cgroup path is the runtime spec's `linux.cgroupsPath` at fault.
impl From<crate::sys::Error> for Error {
    fn from(e: crate::sys::Error) -> Self {
        use crate::sys::Error as Sys;
        match e {
            Sys::Cgroup { op, path, source } => Error::Cgroup { op, path, source },
            Sys::InvalidCgroupPath { path, reason } => {
                Error::spec("linux.cgroupsPath", format!("{path:?}: {reason}"))
            }
            Sys::Seccomp { reason } => Error::Seccomp { reason },
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use std::error::Error as _;
        write!(f, "{self}")?;
        let mut cause = self.source();
        if !f.alternate() {
            while let Some(c) = cause {
                write!(f, ": {c}")?;
                cause = c.source();
            }
            return Ok(());
        }
        if cause.is_some() {
            f.write_str("\n\nCaused by:")?;
        }
        let mut i = 0;
        while let Some(c) = cause {
            cause = c.source();
            if cause.is_some() {
                write!(f, "\n    {i}: {c}")?;
            } else {
                write!(f, "\n    {i}: {c:?}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denied() -> io::Error {
        io::Error::from_raw_os_error(libc::EACCES)
    }

    /// `op` on `container` failed mounting proc at /p (EACCES), and cleaning up with `cleanup`.
    fn rollback(op: &'static str, container: &str, cleanup: Error) -> Error {
        Error::Rollback {
            op,
            container: container.into(),
            source: Box::new(Error::os("mounting proc at", "/p", denied())),
            cleanup: Box::new(cleanup),
        }
    }

    #[test]
    fn debug_prints_the_message_and_its_causes() {
        let e = rollback("creating", "web", Error::spec("linux", "gone"));
        assert_eq!(
            format!("{e:?}"),
            "creating container web failed; cleaning up failed too: invalid runtime spec: \
             linux: gone: mounting proc at /p: Permission denied (os error 13)"
        );
        // What `main() -> cargohold::Result<()>` prints: a sentence, not a dump.
        let plain = Error::os("reading", "/etc/x", denied());
        assert_eq!(
            format!("Error: {plain:?}"),
            "Error: reading /etc/x: Permission denied (os error 13)"
        );
        let alone = Error::ContainerNotFound { id: "x".into() };
        assert_eq!(format!("{alone:?}"), "container \"x\" does not exist");
        assert_eq!(format!("{alone:#?}"), "container \"x\" does not exist");
    }

    #[test]
    fn alternate_debug_puts_causes_on_lines_and_keeps_the_os_error() {
        let e = rollback(
            "starting",
            "db",
            Error::ContainerNotFound { id: "db".into() },
        );
        let s = format!("{e:#?}");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], e.to_string());
        assert_eq!(lines[2], "Caused by:");
        assert_eq!(lines[3], "    0: mounting proc at /p");
        assert!(
            lines[4].starts_with("    1: Os { code: 13, kind: PermissionDenied"),
            "{s}"
        );
        assert_eq!(lines.len(), 5, "{s}");
    }

    #[test]
    fn invalid_compose_names_the_file_and_the_path() {
        let e = Error::InvalidCompose {
            file: "compose.yaml".into(),
            path: "services.web.ports[1]".into(),
            reason: "invalid port \"80:80:80/tcpx\": invalid proto: tcpx".into(),
        };
        assert_eq!(
            e.to_string(),
            "compose.yaml: services.web.ports[1]: invalid port \"80:80:80/tcpx\": invalid proto: tcpx"
        );
        let e = Error::InvalidCompose {
            file: "/srv/app/compose.yaml".into(),
            path: String::new(),
            reason: "did not find expected key at line 3 column 5".into(),
        };
        assert_eq!(
            format!("{e:?}"),
            "/srv/app/compose.yaml: did not find expected key at line 3 column 5"
        );
    }

    #[test]
    fn sys_errors_keep_their_message() {
        let e: Error = crate::sys::Error::Cgroup {
            op: "creating".into(),
            path: "/sys/fs/cgroup/pids/x".into(),
            source: denied(),
        }
        .into();
        assert!(matches!(e, Error::Cgroup { .. }));
        assert_eq!(
            format!("{e:?}"),
            "cgroup creating at /sys/fs/cgroup/pids/x: Permission denied (os error 13)"
        );
        let e: Error = crate::sys::Error::InvalidCgroupPath {
            path: "../x".into(),
            reason: "must be a non-empty path without \"..\"".into(),
        }
        .into();
        assert_eq!(
            e.to_string(),
            "invalid runtime spec: linux.cgroupsPath: \"../x\": must be a non-empty path without \"..\""
        );
        let e: Error = crate::sys::Error::Seccomp {
            reason: "too long".into(),
        }
        .into();
        assert_eq!(e.to_string(), "seccomp: too long");
    }
}
