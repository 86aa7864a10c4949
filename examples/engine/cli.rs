//! The command line: every command, flag and help text (clap derive).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "engine",
    about = "A docker-like engine on cargohold, without a daemon"
)]
pub(crate) struct Cli {
    /// The engine root (images, containers, volumes) [default: $CARGOHOLD_ROOT, then
    /// /var/lib/cargohold as root, $XDG_DATA_HOME/cargohold for other users].
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) root: Option<PathBuf>,
    /// A registry (HOST:PORT) to reach over plain HTTP; repeatable.
    #[arg(long = "insecure-registry", global = true, value_name = "HOST:PORT")]
    pub(crate) insecure_registry: Vec<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List images.
    Images {
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format output using a Go template (`table …` for a table with headers, `json`
        /// for `{{json .}}`): fields .ID .Repository .Tag .Digest .CreatedSince .CreatedAt .Size.
        #[arg(long)]
        format: Option<String>,
    },
    /// Show the history of an image.
    History {
        /// Print sizes and dates in human readable format (`--human=false` for raw bytes
        /// and RFC 3339 times).
        #[arg(
            short = 'H',
            long,
            default_value_t = true,
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "true",
            action = clap::ArgAction::Set
        )]
        human: bool,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format output using a Go template (`table` for a table with headers): fields
        /// .ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment.
        #[arg(long)]
        format: Option<String>,
        image: String,
    },
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag { source: String, target: String },
    /// Remove one or more images.
    Rmi {
        /// Force removal of the image.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Save one or more images to a tar archive (streamed to stdout by default).
    Save {
        /// Write to a file, instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[arg(required = true)]
        images: Vec<String>,
    },
    /// Load an image from a tar archive or stdin.
    Load {
        /// Read from tar archive file, instead of stdin.
        #[arg(short, long)]
        input: Option<PathBuf>,
        /// Suppress the load output.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Import the contents from a tarball (`-` for stdin) to create a filesystem image.
    Import {
        tarball: String,
        reference: Option<String>,
    },
    /// Build an image from a Dockerfile.
    Build(Box<BuildArgs>),
    /// Manage the build cache.
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Download an image from a registry.
    Pull { image: String },
    /// Upload an image to a registry.
    Push { image: String },
    /// Create and run a new container from an image.
    Run(Box<RunArgs>),
    /// Create a new container (start it with `start`).
    Create(Box<RunArgs>),
    /// Start one or more created or stopped containers.
    Start {
        /// Attach to its output (and wait for it, returning its exit code).
        #[arg(short, long)]
        attach: bool,
        #[arg(required = true)]
        containers: Vec<String>,
        /// Attach the container's STDIN (with -a; it was created with -i).
        #[arg(short, long)]
        interactive: bool,
    },
    /// Restart one or more containers.
    Restart {
        /// Seconds to wait before killing the container [default: its --stop-timeout, else
        /// 10].
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Pause all processes within one or more containers.
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Unpause all processes within one or more containers.
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Block until one or more containers stop, then print their exit codes.
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container.
    Rename { container: String, new_name: String },
    /// Execute a command in a running container.
    Exec(Box<ExecArgs>),
    /// List containers.
    Ps {
        /// Show all containers (default shows just running).
        #[arg(short, long)]
        all: bool,
        /// Only display container IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Filter output based on conditions provided (name=, id=, label=, status=,
        /// ancestor=, health=).
        #[arg(short, long)]
        filter: Vec<String>,
        /// Format output using a Go template (`table …` for a table with headers, `json`
        /// for `{{json .}}`): fields .ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names
        /// .Labels .Label .Mounts .Networks .LocalVolumes.
        #[arg(long)]
        format: Option<String>,
    },
    /// Fetch the logs of a container.
    Logs {
        #[arg(short, long)]
        follow: bool,
        #[arg(short = 'n', long)]
        tail: Option<String>,
        #[arg(short, long)]
        timestamps: bool,
        container: String,
        /// Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m"
        /// for 42 minutes).
        #[arg(long, allow_hyphen_values = true)]
        since: Option<String>,
        /// Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g.
        /// "42m" for 42 minutes).
        #[arg(long, allow_hyphen_values = true)]
        until: Option<String>,
    },
    /// Stop one or more running containers.
    Stop {
        /// Seconds to wait before killing the container [default: its --stop-timeout, else
        /// 10].
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        /// Signal to send to the container.
        #[arg(short, long)]
        signal: Option<String>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Kill one or more running containers.
    Kill {
        /// Signal to send to the container.
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove one or more containers.
    Rm {
        /// Force the removal of a running container (uses SIGKILL).
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Return low-level information on containers, images, volumes or networks.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
        /// Format output using a Go template, run on each object's JSON
        /// (`{{.State.Running}}`, `{{json .Config}}`).
        #[arg(short, long)]
        format: Option<String>,
        /// Only objects of this type (container, image, volume, network).
        #[arg(long = "type", value_name = "TYPE")]
        kind: Option<String>,
    },
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Create a new image from a container's changes.
    Commit {
        /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
        #[arg(short, long)]
        author: Option<String>,
        /// Commit message.
        #[arg(short, long)]
        message: Option<String>,
        /// Apply Dockerfile instruction to the created image.
        #[arg(short, long)]
        change: Vec<String>,
        /// Pause container during commit (`--pause=false` to not).
        #[arg(
            short,
            long,
            default_value_t = true,
            num_args = 0..=1,
            require_equals = true,
            default_missing_value = "true",
            action = clap::ArgAction::Set
        )]
        pause: bool,
        container: String,
        /// REPOSITORY[:TAG] (untagged when left out).
        reference: Option<String>,
    },
    /// Export a container's filesystem as a tar archive (to stdout by default).
    Export {
        /// Write to a file, instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        container: String,
    },
    /// Inspect changes to files or directories on a container's filesystem.
    Diff { container: String },
    /// Display a live stream of container(s) resource usage statistics.
    Stats {
        /// Disable streaming stats and only pull the first result.
        #[arg(long)]
        no_stream: bool,
        /// Do not truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// The containers (default: all running ones).
        containers: Vec<String>,
    },
    /// Display the running processes of a container.
    Top { container: String },
    /// Manage networks.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Define and run multi-container applications (Docker Compose).
    Compose(Box<ComposeArgs>),
    /// List port mappings or a specific mapping for the container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO] (default: every published port).
        private_port: Option<String>,
    },
    /// Log in to a registry (credentials kept in Docker's config.json or its helper).
    Login {
        /// Username.
        #[arg(short, long)]
        username: Option<String>,
        /// Password.
        #[arg(short, long)]
        password: Option<String>,
        /// Take the password from stdin.
        #[arg(long)]
        password_stdin: bool,
        /// The registry (HOST[:PORT]) [default: Docker Hub].
        server: Option<String>,
    },
    /// Log out from a registry.
    Logout {
        /// The registry (HOST[:PORT]) [default: Docker Hub].
        server: Option<String>,
    },
    /// Search a registry's catalog for repositories (`search HOST[:PORT]/TERM`; the
    /// description lists their tags).
    Search {
        /// Max number of search results.
        #[arg(long, default_value_t = 25)]
        limit: usize,
        /// Don't truncate output.
        #[arg(long)]
        no_trunc: bool,
        /// Format output using a Go template (`table` for headers): .Name .Description
        /// .StarCount .IsOfficial .IsAutomated.
        #[arg(long)]
        format: Option<String>,
        /// HOST[:PORT]/TERM: the registry and the text repository names must contain.
        term: String,
    },
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage the engine: disk usage, pruning, information.
    #[command(subcommand)]
    System(SystemCommand),
    /// Display system-wide information.
    Info {
        /// Format output using a Go template on the information's JSON (`json` for all
        /// of it).
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Show the engine version information.
    Version {
        /// Format output using a Go template on the version's JSON (`{{.Server.Version}}`,
        /// `json`).
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Copy files/folders between a container and the local filesystem (CONTAINER:SRC
    /// DEST, SRC CONTAINER:DEST; `-` for a tar stream on stdout or stdin).
    Cp {
        /// Archive mode (copy all uid/gid information).
        #[arg(short, long)]
        archive: bool,
        /// Always follow symbol link in SRC_PATH.
        #[arg(short = 'L', long)]
        follow_link: bool,
        /// Suppress progress output (there is none).
        #[arg(short, long)]
        quiet: bool,
        #[arg(allow_hyphen_values = true)]
        src: String,
        #[arg(allow_hyphen_values = true)]
        dest: String,
    },
    /// Get real time events from the engine.
    Events {
        /// Show all events created since timestamp (e.g. "2013-01-02T13:23:37Z") or
        /// relative (e.g. "42m" for 42 minutes).
        #[arg(long, allow_hyphen_values = true)]
        since: Option<String>,
        /// Stream events until this timestamp.
        #[arg(long, allow_hyphen_values = true)]
        until: Option<String>,
        /// Filter output based on conditions provided (container, image, event, type,
        /// label, volume, network).
        #[arg(short, long)]
        filter: Vec<String>,
        /// Format output using a Go template (`json`, `{{.Action}}`): fields .Type .Action
        /// .Actor.ID .Actor.Attributes .time .timeNano.
        #[arg(long)]
        format: Option<String>,
    },
    /// Update configuration of one or more containers.
    Update {
        #[command(flatten)]
        flags: UpdateFlags,
        #[arg(required = true)]
        containers: Vec<String>,
    },
}

/// The flags of `update`, as given.
#[derive(Debug, Default, clap::Args)]
pub(crate) struct UpdateFlags {
    /// Memory limit.
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long)]
    pub cpu_period: Option<String>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Restart policy to apply when a container exits (from its next start).
    #[arg(long)]
    pub restart: Option<String>,
}

impl Command {
    /// Whether the command only reads the engine's state (listings, inspect, logs): it
    /// never runs anything in a container, so it needs no sealed copy of the binary.
    pub(crate) fn only_reads(&self) -> bool {
        matches!(
            self,
            Command::Images { .. }
                | Command::History { .. }
                | Command::Ps { .. }
                | Command::Inspect { .. }
                | Command::Logs { .. }
                | Command::Port { .. }
                | Command::Diff { .. }
                | Command::Info { .. }
                | Command::Version { .. }
                | Command::Login { .. }
                | Command::Logout { .. }
                | Command::Search { .. }
                | Command::Events { .. }
        )
    }
}

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
pub(crate) struct RunArgs {
    /// Print help (`-h` is `--hostname`, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub(crate) help: Option<bool>,
    /// Run the container in the background and print its id.
    #[arg(short, long)]
    pub(crate) detach: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped (needs -d).
    #[arg(long, default_value = "no")]
    pub(crate) restart: String,
    /// Keep STDIN open.
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    pub(crate) rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the host's).
    #[arg(short, long = "env")]
    pub(crate) env: Vec<String>,
    /// Bind mount a volume (NAME|HOST-DIR:DEST[:OPTIONS]).
    #[arg(short, long = "volume")]
    pub(crate) volume: Vec<String>,
    /// Mount a tmpfs directory (DEST[:OPTIONS]).
    #[arg(long)]
    pub(crate) tmpfs: Vec<String>,
    /// Attach a filesystem mount (type=…,source=…,target=…).
    #[arg(long)]
    pub(crate) mount: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub(crate) workdir: Option<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    pub(crate) entrypoint: Option<String>,
    /// Memory limit (e.g. 64m; at least 6m, 0 for none).
    #[arg(short, long)]
    pub(crate) memory: Option<String>,
    /// Swap limit equal to memory plus swap (e.g. 128m): -1 to enable unlimited swap
    /// [default: twice --memory].
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) memory_swap: Option<String>,
    /// Memory soft limit (e.g. 32m; at least 6m and at most --memory, 0 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) memory_reservation: Option<String>,
    /// CPU shares (relative weight; 2 to 262144, 0 for the default 1024).
    #[arg(short = 'c', long, allow_hyphen_values = true)]
    pub(crate) cpu_shares: Option<String>,
    /// Limit CPU CFS quota in µs (at least 1000; 0 or -1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) cpu_quota: Option<String>,
    /// Limit CPU CFS period in µs (1000 to 1000000; 0 for the default).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) cpu_period: Option<String>,
    /// Number of CPUs (0.01 to the number of CPUs; 0 for no limit).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) pids_limit: Option<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub(crate) read_only: bool,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub(crate) hostname: Option<String>,
    /// Set metadata on a container (KEY=VALUE).
    #[arg(short, long = "label")]
    pub(crate) label: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long)]
    pub(crate) cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    pub(crate) cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub(crate) privileged: bool,
    /// Security options (seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false]);
    /// repeatable.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub(crate) security_opt: Vec<String>,
    /// Signal to stop the container.
    #[arg(long)]
    pub(crate) stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long)]
    pub(crate) stop_timeout: Option<u64>,
    /// Connect the container to a network (none, host, bridge, container:NAME or a network's name or id;
    /// repeatable: eth0, eth1… in order) [default: none, or bridge with -p/-P].
    #[arg(long = "network", alias = "net", value_name = "NETWORK")]
    pub(crate) network: Vec<String>,
    /// Add a network-scoped alias for the container (on its first network).
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub(crate) network_alias: Vec<String>,
    /// Publish a container's port(s) to the host ([IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]).
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    pub(crate) publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    pub(crate) publish_all: bool,
    /// Add a custom host-to-IP mapping (NAME:IP).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub(crate) add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long, value_name = "IP")]
    pub(crate) dns: Vec<String>,
    pub(crate) image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub(crate) command: Vec<String>,
    /// Read in a file of environment variables (KEY=VALUE lines, or KEY to pass the
    /// host's; `#` comments); repeatable, before -e.
    #[arg(long = "env-file", value_name = "FILE")]
    pub(crate) env_file: Vec<PathBuf>,
    /// Read in a line delimited file of labels (KEY=VALUE, or KEY for an empty value);
    /// repeatable, before -l.
    #[arg(long = "label-file", value_name = "FILE")]
    pub(crate) label_file: Vec<PathBuf>,
    /// Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048); repeatable.
    #[arg(long, value_name = "NAME=SOFT[:HARD]", allow_hyphen_values = true)]
    pub(crate) ulimit: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub(crate) init: bool,
    /// Command to run to check health (through /bin/sh -c).
    #[arg(long, value_name = "string")]
    pub(crate) health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub(crate) health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub(crate) health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, value_name = "int", allow_hyphen_values = true)]
    pub(crate) health_retries: Option<String>,
    /// Start period for the container to initialize before starting health-retries
    /// countdown (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub(crate) health_start_period: Option<String>,
    /// Time between running the check during the start period (ms|s|m|h) (default 0s).
    #[arg(long, value_name = "duration", allow_hyphen_values = true)]
    pub(crate) health_start_interval: Option<String>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    pub(crate) no_healthcheck: bool,
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, value_enum, default_value_t = PullPolicy::Missing)]
    pub(crate) pull: PullPolicy,
}

/// When `run`/`create` pull their image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PullPolicy {
    /// Always pull, even if the image is there.
    Always,
    /// Pull only when the image is not there.
    Missing,
    /// Never pull: a missing image is an error.
    Never,
}

#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format; repeatable.
    #[arg(short, long, value_name = "NAME[:TAG]")]
    pub(crate) tag: Vec<String>,
    /// Name of the Dockerfile (`-` to read it from stdin) [default: PATH/Dockerfile].
    #[arg(short, long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Set build-time variables (KEY=VALUE, or KEY to pass the value of the host's
    /// environment variable, left out when it is unset); repeatable.
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub(crate) build_arg: Vec<String>,
    /// Set the target build stage to build [default: the last].
    #[arg(long, value_name = "STAGE")]
    pub(crate) target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub(crate) no_cache: bool,
    /// Always attempt to pull the base images, even when the store has them.
    #[arg(long)]
    pub(crate) pull: bool,
    /// Set the networking mode for the RUN instructions during build (default, none or
    /// host) [default: default].
    #[arg(long, value_name = "NETWORK")]
    pub(crate) network: Option<String>,
    /// Secret to expose to the build (id=ID,src=PATH or id=ID,env=VAR; without src or
    /// env, the variable named ID if set, else the file named ID); repeatable.
    #[arg(long, value_name = "id=ID[,src=PATH|,env=VAR]")]
    pub(crate) secret: Vec<String>,
    /// Set metadata for an image (KEY=VALUE); repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    pub(crate) label: Vec<String>,
    /// Type of progress output (auto: tty when stderr is a terminal, else plain; quiet
    /// prints the image id).
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub(crate) progress: Progress,
    /// Suppress the build output and print image ID on success.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    /// The build context: a directory, or `-` for a Dockerfile or a (gzipped) tar of the
    /// context on stdin.
    #[arg(value_name = "PATH")]
    pub(crate) path: String,
}

/// `build --progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Progress {
    /// tty when stderr is a terminal, else plain.
    Auto,
    /// BuildKit's plain log (`#N ...` lines).
    Plain,
    /// A compact view of the steps.
    Tty,
    /// Nothing but the image id on stdout.
    Quiet,
}

#[derive(Debug, Subcommand)]
pub(crate) enum BuilderCommand {
    /// Remove build cache.
    Prune {
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
        /// Remove all unused build cache, not just dangling ones (always: every entry
        /// goes).
        #[arg(short, long)]
        all: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExecArgs {
    /// Keep STDIN open.
    #[arg(short, long)]
    pub(crate) interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub(crate) tty: bool,
    /// Set environment variables (KEY=VALUE).
    #[arg(short, long = "env")]
    pub(crate) env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub(crate) user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub(crate) workdir: Option<String>,
    /// Give extended privileges to the command (every capability).
    #[arg(long)]
    pub(crate) privileged: bool,
    pub(crate) container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub(crate) command: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum VolumeCommand {
    /// Create a volume (a random name when none is given).
    Create {
        /// Set metadata for a volume (KEY=VALUE).
        #[arg(short, long = "label")]
        label: Vec<String>,
        name: Option<String>,
    },
    /// List volumes.
    #[command(alias = "list")]
    Ls {
        /// Only display volume names.
        #[arg(short, long)]
        quiet: bool,
        /// Format output using a Go template (`table …` for a table with headers, `json`
        /// for `{{json .}}`): fields .Name .Driver .Scope .Mountpoint .Labels .Label .Links .Size.
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more volumes.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm {
        /// Force the removal of one or more volumes.
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused volumes.
    Prune {
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
        /// Remove all unused volumes, not just anonymous ones (always, as the API does).
        #[arg(short, long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCommand {
    /// Create a network (prints its id).
    Create {
        /// Driver to manage the network (bridge or macvlan).
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR format that represents a network segment.
        #[arg(long, value_name = "CIDR")]
        subnet: Option<String>,
        /// IPv4 gateway for the subnet.
        #[arg(long, value_name = "IP")]
        gateway: Option<String>,
        /// Allocate container IPs from a sub-range (CIDR).
        #[arg(long = "ip-range", value_name = "CIDR")]
        ip_range: Option<String>,
        /// Set driver specific options (KEY=VALUE: parent, com.docker.network.bridge.name,
        /// com.docker.network.driver.mtu).
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
        opt: Vec<String>,
        /// Set metadata on a network (KEY=VALUE).
        #[arg(long)]
        label: Vec<String>,
        name: String,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls {
        /// Only display network IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Do not truncate the output.
        #[arg(long)]
        no_trunc: bool,
        /// Format output using a Go template (`table …` for a table with headers, `json`
        /// for `{{json .}}`): fields .ID .Name .Driver .Scope .IPv6 .Internal .Labels .Label .CreatedAt.
        #[arg(long)]
        format: Option<String>,
    },
    /// Display detailed information on one or more networks.
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a running container to a network.
    Connect {
        /// Add network-scoped alias for the container.
        #[arg(long)]
        alias: Vec<String>,
        network: String,
        container: String,
    },
    /// Disconnect a container from a network.
    Disconnect { network: String, container: String },
    /// Remove all unused networks.
    Prune {
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
    },
}

/// `container …` verbs of their own; the others are the top-level commands (`container
/// ls` is `ps`, `container rm` is `rm`…), see `groups` in main.rs.
#[derive(Debug, Subcommand)]
pub(crate) enum ContainerCommand {
    /// Remove all stopped containers.
    Prune {
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
    },
}

/// `image …` verbs of their own; the others are the top-level commands (`image ls` is
/// `images`, `image rm` is `rmi`…).
#[derive(Debug, Subcommand)]
pub(crate) enum ImageCommand {
    /// Remove unused images.
    Prune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
    },
}

/// `system …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SystemCommand {
    /// Show disk usage.
    Df {
        /// Show detailed information on space usage.
        #[arg(short, long)]
        verbose: bool,
        /// Format output using a Go template (`table …`, `json`): fields .Type .TotalCount
        /// .Active .Size .Reclaimable.
        #[arg(long)]
        format: Option<String>,
    },
    /// Serve the Docker Engine API on a socket (podman's `system service`): any Docker
    /// client (the docker CLI with `-H`/`DOCKER_HOST`, docker-compose, testcontainers)
    /// then drives this engine. Needs the example built with `--features api`.
    Service {
        /// Seconds without a connection before the service exits; 0 serves for ever.
        #[arg(short, long, default_value_t = 5)]
        time: u64,
        /// Where to listen: unix:///path/to/socket or tcp://127.0.0.1:PORT (default:
        /// /run/cargohold/docker.sock as root, $XDG_RUNTIME_DIR/cargohold/docker.sock
        /// otherwise).
        uri: Option<String>,
    },
    /// Remove unused data: stopped containers, unused networks, dangling images and the
    /// build cache.
    Prune {
        /// Remove all unused images, not just dangling ones.
        #[arg(short, long)]
        all: bool,
        /// Do not prompt for confirmation (never prompts).
        #[arg(short, long)]
        force: bool,
        /// Prune volumes.
        #[arg(long)]
        volumes: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ComposeArgs {
    /// Compose configuration files (default: compose.yaml, compose.yml,
    /// docker-compose.yml, docker-compose.yaml and their override files).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub(crate) files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub(crate) project_name: Option<String>,
    /// Specify a profile to enable.
    #[arg(long)]
    pub(crate) profile: Vec<String>,
    /// Specify an alternate environment file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub(crate) env_file: Vec<PathBuf>,
    /// Specify an alternate working directory (default: the first file's directory).
    #[arg(long = "project-directory", value_name = "DIR")]
    pub(crate) project_directory: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: ComposeCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ComposeCommand {
    /// Create and start containers.
    Up {
        /// Detached mode: run containers in the background.
        #[arg(short, long)]
        detach: bool,
        /// Wait for services to be running|healthy (implies detached mode).
        #[arg(long)]
        wait: bool,
        /// Maximum duration in seconds to wait for the project to be running|healthy.
        #[arg(long = "wait-timeout", value_name = "SECONDS")]
        wait_timeout: Option<u64>,
        /// Build images before starting containers.
        #[arg(long, conflicts_with = "no_build")]
        build: bool,
        /// Don't build an image, even if it's missing.
        #[arg(long)]
        no_build: bool,
        /// Recreate containers even if their configuration and image haven't changed.
        #[arg(long, conflicts_with = "no_recreate")]
        force_recreate: bool,
        /// If containers already exist, don't recreate them.
        #[arg(long)]
        no_recreate: bool,
        /// Don't start linked services.
        #[arg(long)]
        no_deps: bool,
        /// Remove containers for services not defined in the Compose file.
        #[arg(long)]
        remove_orphans: bool,
        /// Scale SERVICE to NUM instances (SERVICE=NUM); overrides `scale`/`deploy.replicas`.
        #[arg(long, value_name = "SERVICE=NUM")]
        scale: Vec<String>,
        /// Stops all containers if any container was stopped.
        #[arg(long, conflicts_with_all = ["detach", "wait"])]
        abort_on_container_exit: bool,
        /// Return the exit code of the selected service container (implies
        /// --abort-on-container-exit).
        #[arg(long, value_name = "SERVICE", conflicts_with_all = ["detach", "wait"])]
        exit_code_from: Option<String>,
        /// The services (default: all).
        services: Vec<String>,
    },
    /// Stop and remove containers, networks.
    Down {
        /// Remove named volumes declared in the "volumes" section of the Compose file and
        /// anonymous volumes attached to containers.
        #[arg(short, long)]
        volumes: bool,
        /// Remove images used by services: "local" only those without a custom tag,
        /// "all" every one.
        #[arg(long, value_name = "local|all")]
        rmi: Option<String>,
        /// Remove containers for services not defined in the Compose file.
        #[arg(long)]
        remove_orphans: bool,
        /// Specify a shutdown timeout in seconds.
        #[arg(short, long, value_name = "SECONDS")]
        timeout: Option<u64>,
    },
    /// List containers.
    Ps {
        /// Show all stopped containers too.
        #[arg(short, long)]
        all: bool,
        /// Only display IDs.
        #[arg(short, long)]
        quiet: bool,
        /// Format output using a Go template (`table …`, `json`): fields .Name .Image
        /// .Command .Service .Project .RunningFor .Status .State .Health .ExitCode .Ports
        /// .ID .Labels .Networks.
        #[arg(long)]
        format: Option<String>,
        /// Only these services.
        services: Vec<String>,
    },
    /// Parse, resolve and render the compose file in canonical format.
    Config {
        /// Print the service names, one per line.
        #[arg(long)]
        services: bool,
        /// Only validate the configuration, don't print anything.
        #[arg(short, long)]
        quiet: bool,
    },
    /// List running compose projects.
    Ls {
        /// Show all stopped Compose projects.
        #[arg(short, long)]
        all: bool,
        /// Only display project names.
        #[arg(short, long)]
        quiet: bool,
    },
    /// View output from containers.
    Logs {
        /// Follow log output.
        #[arg(short, long)]
        follow: bool,
        /// Only these services.
        services: Vec<String>,
    },
    /// Print the public port for a port binding.
    Port { service: String, private_port: u16 },
    /// Stop services.
    Stop {
        /// Specify a shutdown timeout in seconds.
        #[arg(short, long, value_name = "SECONDS")]
        timeout: Option<u64>,
        services: Vec<String>,
    },
    /// Start services.
    Start { services: Vec<String> },
    /// Execute a command in a running container.
    Exec {
        /// Disable pseudo-TTY allocation (default: a TTY when stdin is a terminal).
        #[arg(short = 'T', long = "no-TTY")]
        no_tty: bool,
        /// Set environment variables (KEY=VALUE).
        #[arg(short, long = "env")]
        env: Vec<String>,
        /// Path to workdir directory for this command.
        #[arg(short, long)]
        workdir: Option<String>,
        /// Index of the container if the service has multiple replicas.
        #[arg(long, default_value_t = 1)]
        index: u64,
        service: String,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        command: Vec<String>,
    },
    /// Run a one-off command on a service.
    Run {
        /// Automatically remove the container when it exits.
        #[arg(long)]
        rm: bool,
        /// Set environment variables (KEY=VALUE).
        #[arg(short, long = "env")]
        env: Vec<String>,
        /// Don't start linked services.
        #[arg(long)]
        no_deps: bool,
        /// Assign a name to the container.
        #[arg(long)]
        name: Option<String>,
        /// Disable pseudo-TTY allocation (default: a TTY when stdin is a terminal).
        #[arg(short = 'T', long = "no-TTY")]
        no_tty: bool,
        service: String,
        /// The command and its arguments (default: the service's).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Restart service containers.
    Restart {
        /// Specify a shutdown timeout in seconds.
        #[arg(short, long, value_name = "SECONDS")]
        timeout: Option<u64>,
        services: Vec<String>,
    },
    /// Removes stopped service containers.
    Rm {
        /// Don't ask to confirm removal.
        #[arg(short, long)]
        force: bool,
        /// Stop the containers, if required, before removing.
        #[arg(short, long)]
        stop: bool,
        /// Remove any anonymous volumes attached to containers.
        #[arg(short, long)]
        volumes: bool,
        services: Vec<String>,
    },
    /// Force stop service containers.
    Kill {
        /// SIGNAL to send to the container.
        #[arg(short, long, default_value = "SIGKILL")]
        signal: String,
        services: Vec<String>,
    },
    /// Pull service images.
    Pull { services: Vec<String> },
    /// Push service images (those with both `build` and `image`).
    Push {
        /// Push what can be pushed, ignoring failures.
        #[arg(long)]
        ignore_push_failures: bool,
        services: Vec<String>,
    },
    /// Build or rebuild services.
    Build { services: Vec<String> },
    /// List images used by the created containers.
    Images { services: Vec<String> },
    /// Display the running processes.
    Top { services: Vec<String> },
}
