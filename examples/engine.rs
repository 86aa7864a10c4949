//! `engine`: a docker-like command line on cargohold's public API.
//!
//! ```text
//! engine [--root DIR] import rootfs.tar localhost/busybox:latest
//! engine run --rm -v data:/data localhost/busybox:latest sh -c 'echo hi > /data/f'
//! engine ps -a
//! engine commit -m 'add a file' CONTAINER localhost/mine:1
//! engine network create --subnet 10.1.0.0/24 backend
//! engine run -d --name web --network backend -p 8080:80 localhost/web:1
//! engine port web
//! ```
//!
//! Docker's command names, flags, tables and exit codes: 125 when the engine fails, 126 or
//! 127 when the command cannot be run in the container, the container's own code for `run`.
//! The root defaults to `$CARGOHOLD_ROOT`, then `/var/lib/cargohold`.
//!
//! Unlike Docker, a container has no network unless `--network` or `-p`/`-P` asks for one
//! (the library's default: a namespace of its own with only loopback); `-p` without
//! `--network` puts it on `bridge`, as Docker does. Networks are made in the network
//! namespace `engine` runs in.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use cargohold::container::{CommitOptions, ContainerFilter};
use cargohold::image::registry::{self, PullOptions, PushOptions};
use cargohold::runtime::Runtime;
use cargohold::{
    ContainerBuilder, Driver, Engine, Error, Image, LogOptions, Mount, PortBinding, Reference,
    Stdio,
};
use clap::{Parser, Subcommand};
use std::os::fd::AsFd;

/// Docker's exit code for an error of the engine itself.
const ENGINE_ERROR: u8 = 125;

#[derive(Debug, Parser)]
#[command(
    name = "engine",
    about = "A docker-like engine on cargohold, without a daemon"
)]
struct Cli {
    /// The engine root (images, containers, volumes) [default: $CARGOHOLD_ROOT, then
    /// /var/lib/cargohold].
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// A registry (HOST:PORT) to reach over plain HTTP; repeatable.
    #[arg(long = "insecure-registry", global = true, value_name = "HOST:PORT")]
    insecure_registry: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List images.
    Images {
        /// Only show image IDs.
        #[arg(short, long)]
        quiet: bool,
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
        /// ancestor=).
        #[arg(short, long)]
        filter: Vec<String>,
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
    /// Return low-level information on containers, images or volumes.
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
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
    /// List port mappings or a specific mapping for the container.
    Port {
        container: String,
        /// PRIVATE_PORT[/PROTO] (default: every published port).
        private_port: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true)]
struct RunArgs {
    /// Print help (`-h` is `--hostname`, as in Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Run the container in the background and print its id.
    #[arg(short, long)]
    detach: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped (needs -d).
    #[arg(long, default_value = "no")]
    restart: String,
    /// Keep STDIN open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the host's).
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Bind mount a volume (NAME|HOST-DIR:DEST[:OPTIONS]).
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Mount a tmpfs directory (DEST[:OPTIONS]).
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Attach a filesystem mount (type=…,source=…,target=…).
    #[arg(long)]
    mount: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Memory limit (e.g. 64m).
    #[arg(short, long)]
    memory: Option<String>,
    /// Tune container pids limit.
    #[arg(long)]
    pids_limit: Option<u32>,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    read_only: bool,
    /// Container host name.
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Set metadata on a container (KEY=VALUE).
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Add Linux capabilities.
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    privileged: bool,
    /// Signal to stop the container.
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long)]
    stop_timeout: Option<u64>,
    /// Connect the container to a network (none, host, bridge or a network's name or id;
    /// repeatable: eth0, eth1… in order) [default: none, or bridge with -p/-P].
    #[arg(long = "network", alias = "net", value_name = "NETWORK")]
    network: Vec<String>,
    /// Add a network-scoped alias for the container (on its first network).
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    network_alias: Vec<String>,
    /// Publish a container's port(s) to the host ([IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]).
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Add a custom host-to-IP mapping (NAME:IP).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long, value_name = "IP")]
    dns: Vec<String>,
    image: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ExecArgs {
    /// Keep STDIN open.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables (KEY=VALUE).
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum VolumeCommand {
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
enum NetworkCommand {
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

/// What a command failed with: an engine error or a message of the command line's own.
#[derive(Debug)]
enum Failure {
    Engine(Error),
    Usage(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Usage(e.to_string())
    }
}

type CmdResult = Result<u8, Failure>;

fn main() -> ExitCode {
    cargohold::init();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ENGINE_ERROR } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Engine(e)) => {
            eprintln!("engine: {e}");
            let code = e.exit_code().unwrap_or(ENGINE_ERROR.into());
            ExitCode::from(u8::try_from(code).unwrap_or(ENGINE_ERROR))
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("engine: {msg}");
            ExitCode::from(ENGINE_ERROR)
        }
    }
}

fn run(cli: Cli) -> CmdResult {
    // --root, else $CARGOHOLD_ROOT, else /var/lib/cargohold
    let engine = match &cli.root {
        Some(root) => Engine::open(root)?,
        None => Engine::open_default()?,
    };
    match cli.command {
        Command::Images { quiet } => images(&engine, quiet),
        Command::Tag { source, target } => {
            engine.store().tag(&source.parse()?, &target.parse()?)?;
            Ok(0)
        }
        Command::Rmi { force, images } => rmi(&engine, &images, force),
        Command::Save { output, images } => save(&engine, output, &images),
        Command::Load { input, quiet } => load(&engine, input, quiet),
        Command::Import { tarball, reference } => import(&engine, &tarball, reference),
        Command::Pull { image } => pull(&engine, &image, &cli.insecure_registry),
        Command::Push { image } => push(&engine, &image, &cli.insecure_registry),
        Command::Run(args) => run_container(&engine, &args),
        Command::Create(args) => {
            let c = builder(&engine, &args)?.tty(args.tty).create()?;
            println!("{}", c.id());
            Ok(0)
        }
        Command::Start { attach, containers } => start(&engine, attach, &containers),
        Command::Restart { time, containers } => each(&containers, |name| {
            let c = engine.containers().get(name)?;
            c.restart(time.map_or_else(|| c.stop_timeout(), Duration::from_secs))?;
            Ok(())
        }),
        Command::Pause { containers } => each(&containers, |name| {
            engine.containers().get(name)?.pause()?;
            Ok(())
        }),
        Command::Unpause { containers } => each(&containers, |name| {
            engine.containers().get(name)?.resume()?;
            Ok(())
        }),
        Command::Wait { containers } => {
            let mut failed = false;
            for name in &containers {
                match engine.containers().get(name).and_then(|c| c.wait()) {
                    Ok(status) => println!("{}", status.docker_code()),
                    Err(e) => {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                }
            }
            Ok(if failed { ENGINE_ERROR } else { 0 })
        }
        Command::Rename {
            container,
            new_name,
        } => {
            engine.containers().get(&container)?.rename(&new_name)?;
            Ok(0)
        }
        Command::Exec(args) => exec(&engine, &args),
        Command::Ps {
            all,
            quiet,
            no_trunc,
            filter,
        } => ps(&engine, all, quiet, no_trunc, &filter),
        Command::Logs {
            follow,
            tail,
            timestamps,
            container,
        } => logs(&engine, &container, follow, tail.as_deref(), timestamps),
        Command::Stop {
            time,
            signal,
            containers,
        } => each(&containers, |name| {
            let c = engine.containers().get(name)?;
            let timeout = time.map_or_else(|| c.stop_timeout(), Duration::from_secs);
            stop(&engine, name, signal.as_deref(), timeout)
        }),
        Command::Kill { signal, containers } => {
            let sig = parse_signal(&signal)?;
            each(&containers, |name| {
                let c = engine.containers().get(name)?;
                runtime(&engine)?.kill(c.id(), sig, false)?;
                Ok(())
            })
        }
        Command::Rm { force, containers } => each(&containers, |name| {
            engine.containers().get(name)?.remove(force)?;
            Ok(())
        }),
        Command::Inspect { names } => inspect(&engine, &names),
        Command::Volume(v) => volume(&engine, v),
        Command::Commit {
            author,
            message,
            change,
            pause,
            container,
            reference,
        } => {
            let opts = CommitOptions {
                reference,
                author,
                message,
                changes: change,
                pause,
            };
            let image = engine.containers().get(&container)?.commit(&opts)?;
            println!("{}", image.id());
            Ok(0)
        }
        Command::Export { output, container } => export(&engine, &container, output),
        Command::Diff { container } => {
            for change in engine.containers().get(&container)?.diff()? {
                println!("{change}");
            }
            Ok(0)
        }
        Command::Stats {
            no_stream,
            no_trunc,
            containers,
        } => stats(&engine, &containers, no_stream, no_trunc),
        Command::Top { container } => top(&engine, &container),
        Command::Network(n) => network(&engine, n),
        Command::Port {
            container,
            private_port,
        } => port(&engine, &container, private_port.as_deref()),
    }
}

/// `export`: the container's file system as a tar, to a file (written whole or not at all)
/// or to stdout (never a terminal).
fn export(engine: &Engine, name: &str, output: Option<PathBuf>) -> CmdResult {
    let c = engine.containers().get(name)?;
    match output {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let written = (|| -> CmdResult {
                let mut out = BufWriter::new(File::create(&tmp)?);
                c.export(&mut out)?;
                out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
                std::fs::rename(&tmp, &path)?;
                Ok(0)
            })();
            if written.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            written
        }
        None => {
            use std::io::IsTerminal;
            if io::stdout().is_terminal() {
                return Err(Failure::Usage(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                ));
            }
            let mut out = BufWriter::new(io::stdout().lock());
            c.export(&mut out)?;
            out.flush()?;
            Ok(0)
        }
    }
}

/// Runs `f` on each name, printing the name on success and the error otherwise (as
/// `docker rm a b c` goes on past a failure); fails if any did.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<(), Failure>) -> CmdResult {
    let mut failed = false;
    for name in names {
        match f(name) {
            Ok(()) => println!("{name}"),
            Err(Failure::Engine(e)) => {
                failed = true;
                eprintln!("engine: {e}");
            }
            Err(Failure::Usage(m)) => {
                failed = true;
                eprintln!("engine: {m}");
            }
        }
    }
    Ok(if failed { ENGINE_ERROR } else { 0 })
}

fn runtime(engine: &Engine) -> Result<Runtime, Error> {
    Runtime::open(engine.root().join("runtime"))
}

// ---------------------------------------------------------------- images

fn short_id(image: &Image) -> String {
    let id = image.id().to_string();
    let hex = id.split_once(':').map_or(id.as_str(), |(_, h)| h);
    hex[..hex.len().min(12)].to_owned()
}

fn images(engine: &Engine, quiet: bool) -> CmdResult {
    let mut imgs = engine.store().images()?;
    imgs.sort_by(|a, b| {
        let c = |i: &Image| i.config().created().clone().unwrap_or_default();
        c(b).cmp(&c(a))
    });
    if quiet {
        let mut seen = std::collections::HashSet::new();
        for i in &imgs {
            let id = short_id(i);
            if seen.insert(id.clone()) {
                println!("{id}");
            }
        }
        return Ok(0);
    }
    let mut rows = vec![[
        "REPOSITORY".to_owned(),
        "TAG".into(),
        "IMAGE ID".into(),
        "CREATED".into(),
        "SIZE".into(),
    ]];
    for i in &imgs {
        let created = i
            .config()
            .created()
            .as_deref()
            .and_then(parse_time)
            .map_or_else(
                || "N/A".to_owned(),
                |t| format!("{} ago", human_duration(t)),
            );
        let size = human_size(engine.store().image_size(i));
        let refs: Vec<(String, String)> = if i.references().is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            i.references()
                .iter()
                .map(|r| {
                    let tag = r.tag().unwrap_or("<none>").to_owned();
                    let fam = r.familiar();
                    let repo = fam
                        .split('@')
                        .next()
                        .unwrap_or(&fam)
                        .strip_suffix(&format!(":{tag}"))
                        .unwrap_or(&fam)
                        .to_owned();
                    (repo, tag)
                })
                .collect()
        };
        for (repo, tag) in refs {
            rows.push([repo, tag, short_id(i), created.clone(), size.clone()]);
        }
    }
    print_table(&rows);
    Ok(0)
}

fn rmi(engine: &Engine, images: &[String], force: bool) -> CmdResult {
    let mut failed = false;
    for name in images {
        let res = name
            .parse::<Reference>()
            .and_then(|r| engine.store().remove(&r, force).map(|()| r));
        match res {
            Ok(r) => println!("Untagged: {}", r.familiar()),
            Err(e) => {
                failed = true;
                eprintln!("engine: {e}");
            }
        }
    }
    Ok(if failed { ENGINE_ERROR } else { 0 })
}

fn save(engine: &Engine, output: Option<PathBuf>, images: &[String]) -> CmdResult {
    let refs = images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<Reference>, _>>()?;
    match output {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let mut out = BufWriter::new(File::create(&tmp)?);
            engine.store().save_docker_archive(&refs, &mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
        }
        None => {
            use std::io::IsTerminal;
            if io::stdout().is_terminal() {
                return Err(Failure::Usage(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect".into(),
                ));
            }
            let mut out = BufWriter::new(io::stdout().lock());
            engine.store().save_docker_archive(&refs, &mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}

fn load(engine: &Engine, input: Option<PathBuf>, quiet: bool) -> CmdResult {
    let loaded = match input {
        Some(p) => engine.store().load(io::BufReader::new(File::open(&p)?))?,
        None => engine.store().load(io::stdin().lock())?,
    };
    if !quiet {
        for i in &loaded {
            if i.references().is_empty() {
                println!("Loaded image ID: {}", i.id());
            }
            for r in i.references() {
                println!("Loaded image: {}", r.familiar());
            }
        }
    }
    Ok(0)
}

fn import(engine: &Engine, tarball: &str, reference: Option<String>) -> CmdResult {
    let Some(reference) = reference else {
        return Err(Failure::Usage(
            "import needs a REPOSITORY[:TAG] (untagged images are not supported)".into(),
        ));
    };
    let r: Reference = reference.parse()?;
    let config = cargohold::oci_spec::image::Config::default();
    let img = if tarball == "-" {
        engine.store().import_tar(io::stdin().lock(), &config, &r)?
    } else {
        let f = File::open(tarball).map_err(|e| Failure::Usage(format!("{tarball}: {e}")))?;
        engine
            .store()
            .import_tar(io::BufReader::new(f), &config, &r)?
    };
    println!("{}", img.id());
    Ok(0)
}

fn pull(engine: &Engine, image: &str, insecure: &[String]) -> CmdResult {
    let r: Reference = image.parse()?;
    let mut opts = PullOptions::new();
    for host in insecure {
        opts.insecure(host);
    }
    let img = registry::pull(engine.store(), &r, &opts, &|_| {})?;
    println!("Digest: {}", img.manifest_digest());
    println!("Status: Downloaded newer image for {}", r.familiar());
    println!("{r}");
    Ok(0)
}

fn push(engine: &Engine, image: &str, insecure: &[String]) -> CmdResult {
    let r: Reference = image.parse()?;
    let mut opts = PushOptions::new();
    for host in insecure {
        opts.insecure(host);
    }
    let digest = registry::push(engine.store(), &r, &opts, &|_| {})?;
    println!("{}: digest: {digest}", r.tag().unwrap_or("latest"));
    Ok(0)
}

// ---------------------------------------------------------------- containers

/// A builder with every setting of `run`/`create` but the attach ones (-d, -i, -t).
fn builder<'e>(engine: &'e Engine, a: &RunArgs) -> Result<ContainerBuilder<'e>, Failure> {
    let image = engine.image(&a.image)?;
    let mut b = engine.container(&image);
    if let Some(n) = &a.name {
        b.name(n);
    }
    if let Some(ep) = &a.entrypoint {
        b.entrypoint([ep]);
    }
    b.args(&a.command);
    for e in &a.env {
        match e.split_once('=') {
            Some((k, v)) => {
                b.env(k, v);
            }
            None => {
                if let Some(v) = std::env::var_os(e) {
                    b.env(e, v);
                }
            }
        }
    }
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        b.label(k, v);
    }
    for v in &a.volume {
        b.mount(Mount::from_volume_flag(v)?);
    }
    for t in &a.tmpfs {
        b.mount(Mount::from_tmpfs_flag(t)?);
    }
    for m in &a.mount {
        b.mount(Mount::from_mount_flag(m)?);
    }
    if let Some(w) = &a.workdir {
        b.current_dir(w);
    }
    if let Some(u) = &a.user {
        b.user(u);
    }
    if let Some(h) = &a.hostname {
        b.hostname(h);
    }
    if let Some(m) = &a.memory {
        b.memory_limit(parse_bytes(m)?);
    }
    if let Some(p) = a.pids_limit {
        b.pids_limit(p);
    }
    for c in &a.cap_add {
        b.cap_add(c);
    }
    for c in &a.cap_drop {
        b.cap_drop(c);
    }
    for n in &a.network {
        b.network(n);
    }
    for alias in &a.network_alias {
        b.network_alias(alias);
    }
    for p in &a.publish {
        b.publish_port(p.parse::<PortBinding>()?);
    }
    b.publish_all(a.publish_all);
    for h in &a.add_host {
        let (name, ip) = parse_add_host(h)?;
        b.add_host(name, ip);
    }
    for d in &a.dns {
        if d.parse::<std::net::IpAddr>().is_err() {
            return Err(Failure::Usage(format!(
                "invalid argument {d:?} for \"--dns\" flag: not an IP address"
            )));
        }
        b.dns(d);
    }
    if let Some(sig) = &a.stop_signal {
        b.stop_signal(sig);
    }
    if let Some(t) = a.stop_timeout {
        b.stop_timeout(Duration::from_secs(t));
    }
    b.restart(a.restart.parse()?)
        .read_only(a.read_only)
        .privileged(a.privileged)
        .auto_remove(a.rm);
    Ok(b)
}

fn run_container(engine: &Engine, a: &RunArgs) -> CmdResult {
    let mut b = builder(engine, a)?;
    if a.detach {
        // The monitor owns the container's stdio and logs; print the id, as Docker does.
        let c = b.tty(a.tty).detach(true).spawn()?;
        println!("{}", c.id());
        return Ok(0);
    }
    b.tty(a.tty)
        .stdin(if a.interactive {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut c = b.spawn()?;
    c.kill_on_drop(true);
    // With -it on a terminal, keys go to the container as typed (^C included), as Docker.
    let _raw = match c.take_terminal() {
        Some(term) => attach_terminal(File::from(term), a.interactive),
        None => None,
    };
    let status = c.wait()?;
    Ok(u8::try_from(status.docker_code() & 0xff).unwrap_or(ENGINE_ERROR))
}

/// `docker start [-a]`: starts each container; with `-a` (one container), follows its
/// output until it exits and returns its exit code.
fn start(engine: &Engine, attach: bool, names: &[String]) -> CmdResult {
    if attach {
        let [name] = names else {
            return Err(Failure::Usage(
                "you cannot start and attach multiple containers at once".to_owned(),
            ));
        };
        let c = engine.containers().get(name)?;
        let before = c.logs(&LogOptions::default())?.count();
        c.start()?;
        let opts = LogOptions {
            follow: true,
            ..LogOptions::default()
        };
        let mut out = io::stdout().lock();
        let mut err = io::stderr().lock();
        // Only what this run writes: skip the entries of earlier runs.
        let mut logs = c.logs(&opts)?.skip(before);
        for entry in &mut logs {
            let entry = entry?;
            match entry.stream {
                cargohold::LogStream::Stderr => err.write_all(&entry.log)?,
                _ => out.write_all(&entry.log)?,
            }
        }
        out.flush()?;
        let status = c.wait()?;
        return Ok(u8::try_from(status.docker_code() & 0xff).unwrap_or(ENGINE_ERROR));
    }
    each(names, |name| {
        engine.containers().get(name)?.start()?;
        Ok(())
    })
}

/// `docker exec`: runs a command in a running container; its exit code is ours.
fn exec(engine: &Engine, a: &ExecArgs) -> CmdResult {
    let c = engine.containers().get(&a.container)?;
    let mut x = c.exec(&a.command);
    for e in &a.env {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        x.env(k, v);
    }
    if let Some(u) = &a.user {
        x.user(u);
    }
    if let Some(w) = &a.workdir {
        x.current_dir(w);
    }
    let stdin_tty = cargohold::sys::tty::is_terminal(io::stdin().as_fd());
    let _raw = (a.tty && a.interactive && stdin_tty)
        .then(|| cargohold::sys::tty::RawMode::enter(io::stdin().as_fd()).ok())
        .flatten();
    x.tty(a.tty).stdin(if a.interactive {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    let status = x.status()?;
    drop(_raw);
    Ok(u8::try_from(status.docker_code() & 0xff).unwrap_or(ENGINE_ERROR))
}

/// Copies the container's terminal to stdout and, with `-i`, stdin to it. With `-i` on a
/// host terminal, that terminal goes to raw mode (returned: restored when dropped) and the
/// pty takes its size.
fn attach_terminal(term: File, interactive: bool) -> Option<cargohold::sys::tty::RawMode> {
    use cargohold::sys::tty;
    let stdin = io::stdin();
    let mut raw = None;
    if let Ok((rows, cols)) = tty::window_size(stdin.as_fd()) {
        let _ = tty::set_window_size(term.as_fd(), rows, cols);
        if interactive {
            raw = tty::RawMode::enter(stdin.as_fd()).ok();
        }
    }
    if interactive {
        if let Ok(mut w) = term.try_clone() {
            std::thread::spawn(move || {
                let _ = io::copy(&mut io::stdin().lock(), &mut w);
            });
        }
    }
    std::thread::spawn(move || {
        let mut term = term;
        let mut out = io::stdout();
        let mut buf = [0u8; 8192];
        // EIO once the container's side is closed
        while let Ok(n) = term.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|()| out.flush()).is_err() {
                break;
            }
        }
    });
    raw
}

/// `docker logs`: the container's json-file log, optionally followed until it exits.
fn logs(
    engine: &Engine,
    name: &str,
    follow: bool,
    tail: Option<&str>,
    timestamps: bool,
) -> CmdResult {
    let c = engine.containers().get(name)?;
    let tail = match tail {
        None | Some("all") => None,
        Some(n) => Some(
            n.parse::<usize>()
                .map_err(|_| Failure::Usage(format!("invalid --tail value {n:?}")))?,
        ),
    };
    let opts = LogOptions {
        tail,
        follow,
        timestamps,
        ..LogOptions::default()
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    c.logs(&opts)?.copy_to(&mut out, &mut err)?;
    Ok(0)
}

fn stop(
    engine: &Engine,
    name: &str,
    signal: Option<&str>,
    timeout: Duration,
) -> Result<(), Failure> {
    let c = engine.containers().get(name)?;
    if !c.inspect()?.state.running {
        return Ok(());
    }
    if signal.is_none() {
        // The container's own stop signal, then SIGKILL after the timeout; a detached
        // container's monitor is told not to restart it.
        c.stop(timeout)?;
        return Ok(());
    }
    let configured = c.inspect()?.config.stop_signal;
    let sig = match signal {
        Some(s) => parse_signal(s)?,
        None if !configured.is_empty() => parse_signal(&configured)?,
        None => 15,
    };
    let rt = runtime(engine)?;
    let _ = rt.kill(c.id(), sig, false);
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !c.inspect().is_ok_and(|i| i.state.running) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = rt.kill(c.id(), 9, true);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.inspect().is_ok_and(|i| i.state.running) {
        if Instant::now() > deadline {
            return Err(Failure::Usage(format!(
                "{name}: did not stop after SIGKILL"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn ps(engine: &Engine, all: bool, quiet: bool, no_trunc: bool, filters: &[String]) -> CmdResult {
    let mut filter = ContainerFilter::new().all(all);
    for f in filters {
        filter = filter.parse(f)?;
    }
    let mut list = Vec::new();
    for c in engine.containers().filter(&filter)? {
        let Ok(info) = c.inspect() else { continue };
        list.push((c, info));
    }
    // newest first, as docker ps
    list.reverse();
    if quiet {
        for (c, _) in &list {
            println!("{}", if no_trunc { c.id() } else { c.short_id() });
        }
        return Ok(0);
    }
    let mut rows = vec![[
        "CONTAINER ID".to_owned(),
        "IMAGE".into(),
        "COMMAND".into(),
        "CREATED".into(),
        "STATUS".into(),
        "PORTS".into(),
        "NAMES".into(),
    ]];
    for (c, info) in &list {
        let mut cmd = std::iter::once(info.path.as_str())
            .chain(info.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        if !no_trunc && cmd.chars().count() > 20 {
            cmd = cmd.chars().take(19).collect::<String>() + "…";
        }
        let created = parse_time(&info.created)
            .map_or_else(String::new, |t| format!("{} ago", human_duration(t)));
        let st = &info.state;
        let status = if st.paused {
            format!("Up {} (Paused)", since(&st.started_at))
        } else if st.running {
            format!("Up {}", since(&st.started_at))
        } else if st.status.to_string() == "created" {
            "Created".to_owned()
        } else if st.status.to_string() == "dead" {
            "Dead".to_owned()
        } else {
            format!("Exited ({}) {} ago", st.exit_code, since(&st.finished_at))
        };
        rows.push([
            if no_trunc { c.id() } else { c.short_id() }.to_owned(),
            // the short form, as docker ps prints `busybox:latest`
            c.image()
                .parse::<Reference>()
                .map_or_else(|_| c.image().to_owned(), |r| r.familiar()),
            format!("\"{cmd}\""),
            created,
            status,
            ps_ports(&info.network_settings.ports),
            c.name().to_owned(),
        ]);
    }
    print_table(&rows);
    Ok(0)
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp, 127.0.0.1:5353->53/udp`, and `80/tcp`
/// for a port exposed but not published.
fn ps_ports(
    ports: &std::collections::BTreeMap<String, Option<Vec<cargohold::container::PortMapping>>>,
) -> String {
    let mut cells: Vec<((u16, String), String)> = Vec::new();
    for (port, mappings) in ports {
        let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
        let key = (num.parse::<u16>().unwrap_or(0), proto.to_owned());
        match mappings.as_deref() {
            None | Some([]) => cells.push((key, port.clone())),
            Some(list) => {
                for m in list {
                    cells.push((
                        key.clone(),
                        format!("{}:{}->{port}", m.host_ip, m.host_port),
                    ));
                }
            }
        }
    }
    cells.sort();
    cells
        .into_iter()
        .map(|(_, c)| c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--add-host NAME:IP` (or `NAME=IP`, as newer Docker takes it).
fn parse_add_host(spec: &str) -> Result<(String, std::net::Ipv4Addr), Failure> {
    let bad = |why: &str| {
        Failure::Usage(format!(
            "invalid argument {spec:?} for \"--add-host\" flag: {why}"
        ))
    };
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| bad("expected NAME:IP"))?;
    if name.is_empty() {
        return Err(bad("no host name"));
    }
    let ip = ip
        .parse()
        .map_err(|_| bad(&format!("{ip:?} is not an IPv4 address")))?;
    Ok((name.to_owned(), ip))
}

fn since(time: &str) -> String {
    parse_time(time).map_or_else(|| "Less than a second".to_owned(), human_duration)
}

fn inspect(engine: &Engine, names: &[String]) -> CmdResult {
    let mut out = Vec::new();
    let mut failed = false;
    for name in names {
        if let Ok(c) = engine.containers().get(name) {
            out.push(serde_json::to_value(c.inspect()?).expect("inspect serialises"));
        } else if let Ok(i) = engine.image(name) {
            out.push(image_json(engine, &i));
        } else if let Ok(v) = engine.volumes().inspect(name) {
            out.push(serde_json::to_value(v).expect("volume serialises"));
        } else {
            failed = true;
            eprintln!("engine: Error: No such object: {name}");
        }
    }
    print_json(&out)?;
    Ok(if failed { 1 } else { 0 })
}

fn image_json(engine: &Engine, i: &Image) -> serde_json::Value {
    let cfg = i.config();
    serde_json::json!({
        "Id": i.id().to_string(),
        "RepoTags": i.references().iter().map(|r| r.familiar()).collect::<Vec<_>>(),
        "RepoDigests": [],
        "Created": cfg.created(),
        "Config": cfg.config(),
        "Architecture": cfg.architecture().to_string(),
        "Os": cfg.os().to_string(),
        "Size": engine.store().image_size(i),
        "RootFS": {
            "Type": "layers",
            "Layers": i.diff_ids().iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    })
}

// ---------------------------------------------------------------- volumes

fn volume(engine: &Engine, cmd: VolumeCommand) -> CmdResult {
    let vols = engine.volumes();
    match cmd {
        VolumeCommand::Create { label, name } => {
            let v = match name {
                Some(n) => vols.create(
                    &n,
                    label.iter().map(|l| {
                        let (k, v) = l.split_once('=').unwrap_or((l, ""));
                        (k.to_owned(), v.to_owned())
                    }),
                )?,
                None => vols.create_anonymous()?,
            };
            println!("{}", v.name());
        }
        VolumeCommand::Ls { quiet } => {
            let list = vols.list(&[])?;
            if quiet {
                for v in &list {
                    println!("{}", v.name());
                }
            } else {
                let mut rows = vec![["DRIVER".to_owned(), "VOLUME NAME".into()]];
                for v in &list {
                    rows.push([v.inspect().driver, v.name().to_owned()]);
                }
                print_table(&rows);
            }
        }
        VolumeCommand::Inspect { names } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &names {
                match vols.inspect(n) {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                }
            }
            print_json(&out)?;
            return Ok(if failed { 1 } else { 0 });
        }
        VolumeCommand::Rm { force, names } => {
            return each(&names, |n| {
                vols.remove(n, force)?;
                Ok(())
            });
        }
        VolumeCommand::Prune { .. } => {
            let p = vols.prune()?;
            if !p.volumes.is_empty() {
                println!("Deleted Volumes:");
                for v in &p.volumes {
                    println!("{v}");
                }
                println!();
            }
            println!("Total reclaimed space: {}", human_size(p.reclaimed));
        }
    }
    Ok(0)
}

// ---------------------------------------------------------------- networks

fn network(engine: &Engine, cmd: NetworkCommand) -> CmdResult {
    let nets = engine.networks();
    match cmd {
        NetworkCommand::Create {
            driver,
            subnet,
            gateway,
            ip_range,
            opt,
            label,
            name,
        } => {
            let driver: Driver = match driver.as_str() {
                "bridge" | "macvlan" => driver.parse()?,
                _ => {
                    return Err(Failure::Usage(format!(
                        "invalid driver {driver:?} for network {name:?}: bridge or macvlan"
                    )))
                }
            };
            let mut b = engine.network(&name);
            b.driver(driver);
            if let Some(s) = subnet {
                b.subnet(s);
            }
            if let Some(g) = gateway {
                b.gateway(g);
            }
            if let Some(r) = ip_range {
                b.ip_range(r);
            }
            for o in &opt {
                let Some((k, v)) = o.split_once('=') else {
                    return Err(Failure::Usage(format!(
                        "invalid option {o:?} for network {name:?}: expected KEY=VALUE"
                    )));
                };
                b.option(k, v);
            }
            for l in &label {
                let (k, v) = l.split_once('=').unwrap_or((l, ""));
                b.label(k, v);
            }
            println!("{}", b.create()?.id());
        }
        NetworkCommand::Ls { quiet, no_trunc } => {
            let list = nets.list()?;
            let id = |n: &cargohold::Network| {
                let id = n.id();
                if no_trunc {
                    id
                } else {
                    &id[..id.len().min(12)]
                }
                .to_owned()
            };
            if quiet {
                for n in &list {
                    println!("{}", id(n));
                }
            } else {
                let mut rows = vec![[
                    "NETWORK ID".to_owned(),
                    "NAME".into(),
                    "DRIVER".into(),
                    "SCOPE".into(),
                ]];
                for n in &list {
                    rows.push([
                        id(n),
                        n.name().to_owned(),
                        n.driver().to_string(),
                        "local".into(),
                    ]);
                }
                print_table(&rows);
            }
        }
        NetworkCommand::Inspect { networks } => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &networks {
                match nets.inspect(n) {
                    Ok(i) => out.push(i),
                    Err(e) => {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                }
            }
            print_json(&out)?;
            return Ok(if failed { ENGINE_ERROR } else { 0 });
        }
        NetworkCommand::Rm { networks } => {
            return each(&networks, |n| {
                nets.remove(n)?;
                Ok(())
            });
        }
        NetworkCommand::Connect {
            alias,
            network,
            container,
        } => {
            let aliases: Vec<&str> = alias.iter().map(String::as_str).collect();
            engine
                .containers()
                .get(&container)?
                .connect(&network, &aliases)?;
        }
        NetworkCommand::Disconnect { network, container } => {
            engine.containers().get(&container)?.disconnect(&network)?;
        }
        NetworkCommand::Prune { .. } => {
            let gone = nets.prune()?;
            // Also take down the bridges of networks left without containers (the default
            // one's included): they are otherwise kept, as Docker keeps docker0.
            nets.release_idle()?;
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for n in &gone {
                    println!("{n}");
                }
                println!();
            }
        }
    }
    Ok(0)
}

/// `docker port`: every published port as `80/tcp -> 0.0.0.0:8080`; with a private port,
/// only its host addresses (`0.0.0.0:8080`).
fn port(engine: &Engine, name: &str, private: Option<&str>) -> CmdResult {
    let c = engine.containers().get(name)?;
    let mut ports = c.ports()?;
    ports.sort_by_key(|p| (p.container_port, p.protocol, p.host_ip, p.host_port));
    let host = |p: &PortBinding| {
        format!(
            "{}:{}",
            p.host_ip
                .map_or_else(|| "0.0.0.0".to_owned(), |ip| ip.to_string()),
            p.host_port
        )
    };
    let Some(spec) = private else {
        for p in &ports {
            println!("{}/{} -> {}", p.container_port, p.protocol, host(p));
        }
        return Ok(0);
    };
    let (num, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let num: u16 = num
        .parse()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| Failure::Usage(format!("invalid port {spec:?}: not a port number")))?;
    if !matches!(proto, "tcp" | "udp") {
        return Err(Failure::Usage(format!(
            "invalid port {spec:?}: unknown protocol {proto:?} (tcp or udp)"
        )));
    }
    let hits: Vec<&PortBinding> = ports
        .iter()
        .filter(|p| p.container_port == num && p.protocol.to_string() == proto)
        .collect();
    if hits.is_empty() {
        return Err(Failure::Usage(format!(
            "no public port '{num}/{proto}' published for {name}"
        )));
    }
    for p in hits {
        println!("{}", host(p));
    }
    Ok(0)
}

// ---------------------------------------------------------------- formatting

// ---------------------------------------------------------------- stats, top

/// How long `stats` measures CPU use over (Docker's daemon samples once a second).
const STATS_INTERVAL: Duration = Duration::from_millis(500);

fn stats(engine: &Engine, names: &[String], no_stream: bool, no_trunc: bool) -> CmdResult {
    let mut failed = false;
    let containers: Vec<cargohold::Container> = if names.is_empty() {
        engine
            .containers()
            .list()?
            .into_iter()
            .filter(|c| c.inspect().is_ok_and(|i| i.state.running || i.state.paused))
            .collect()
    } else {
        let mut v = Vec::new();
        for n in names {
            match engine.containers().get(n) {
                Ok(c) => v.push(c),
                Err(e) => {
                    failed = true;
                    eprintln!("engine: {e}");
                }
            }
        }
        v
    };
    let host_memory = host_memory();
    let mut first: Vec<Option<cargohold::Stats>> =
        containers.iter().map(|c| c.stats().ok()).collect();
    loop {
        std::thread::sleep(STATS_INTERVAL);
        let mut rows = vec![[
            "CONTAINER ID".to_owned(),
            "NAME".into(),
            "CPU %".into(),
            "MEM USAGE / LIMIT".into(),
            "MEM %".into(),
            "NET I/O".into(),
            "BLOCK I/O".into(),
            "PIDS".into(),
        ]];
        let mut next = Vec::with_capacity(containers.len());
        for (c, before) in containers.iter().zip(&first) {
            let id = if no_trunc { c.id() } else { c.short_id() }.to_owned();
            let now = match c.stats() {
                Ok(s) => s,
                Err(e) => {
                    if no_stream {
                        failed = true;
                        eprintln!("engine: {e}");
                    }
                    let dash = || "--".to_owned();
                    rows.push([
                        id,
                        c.name().to_owned(),
                        dash(),
                        "-- / --".into(),
                        dash(),
                        "-- / --".into(),
                        "-- / --".into(),
                        dash(),
                    ]);
                    next.push(None);
                    continue;
                }
            };
            let cpu = before.as_ref().map_or(0.0, |b| now.cpu_percent(b));
            let limit = now.memory.limit.or(host_memory).unwrap_or(0);
            let mem_pct = if limit > 0 {
                now.memory.usage as f64 / limit as f64 * 100.0
            } else {
                0.0
            };
            let (rx, tx) = now.network_bytes();
            let block = now.block_io.map_or_else(
                || "-- / --".to_owned(),
                |b| {
                    format!(
                        "{} / {}",
                        human_size(b.read_bytes),
                        human_size(b.write_bytes)
                    )
                },
            );
            rows.push([
                id,
                c.name().to_owned(),
                format!("{cpu:.2}%"),
                format!("{} / {}", binary_size(now.memory.usage), binary_size(limit)),
                format!("{mem_pct:.2}%"),
                format!("{} / {}", human_size(rx), human_size(tx)),
                block,
                now.pids.current.to_string(),
            ]);
            next.push(Some(now));
        }
        if !no_stream {
            // Clear the screen and go home, as docker stats redraws.
            print!("\x1b[2J\x1b[H");
        }
        print_table(&rows);
        if no_stream {
            return Ok(if failed { ENGINE_ERROR } else { 0 });
        }
        let _ = io::stdout().flush();
        first = next;
    }
}

/// The host's memory (MemTotal of /proc/meminfo), the limit `docker stats` shows for a
/// container without one.
fn host_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// go-units' `BytesSize`: binary units, four significant digits (`1.484MiB`, `64MiB`).
fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    let int_digits = if v < 1.0 {
        1
    } else {
        (v.log10().floor() as usize) + 1
    };
    let decimals = 4usize.saturating_sub(int_digits);
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

fn top(engine: &Engine, name: &str) -> CmdResult {
    let top = engine.containers().get(name)?.top()?;
    let titles: [String; 6] = top
        .titles()
        .try_into()
        .map_err(|_| Failure::Usage("unexpected top columns".into()))?;
    let mut rows = vec![titles];
    for r in top.rows() {
        rows.push(
            r.try_into()
                .map_err(|_| Failure::Usage("unexpected top columns".into()))?,
        );
    }
    print_table(&rows);
    Ok(0)
}

/// Prints `rows` as Docker's tables: columns left-aligned, three spaces apart.
fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = io::stdout().lock();
    for r in rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < N {
                let pad = widths[i] - cell.chars().count() + 3;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Prints JSON as `docker inspect` does: an array, four-space indents.
fn print_json<T: serde::Serialize>(v: &T) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser).map_err(io::Error::other)?;
    writeln!(out)
}

fn parse_time(s: &str) -> Option<SystemTime> {
    if s.is_empty() || s.starts_with("0001-") {
        return None;
    }
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())
}

/// go-units' `HumanDuration`, as `docker ps` prints ages.
fn human_duration(t: SystemTime) -> String {
    let d = SystemTime::now().duration_since(t).unwrap_or_default();
    let secs = d.as_secs();
    let (mins, hours) = (secs / 60, secs / 3600);
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// go-units' `HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < UNITS.len() {
        v /= 1000.0;
        i += 1;
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    };
    format!("{s}{}", UNITS[i])
}

/// `64m`, `1g`, `512k`, `1048576` (as Docker's `--memory`: binary units).
fn parse_bytes(s: &str) -> Result<u64, Failure> {
    let bad = || Failure::Usage(format!("invalid size: '{s}'"));
    let lower = s.trim().to_ascii_lowercase();
    let lower = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1u64 << 10),
        Some('m') => (&lower[..lower.len() - 1], 1 << 20),
        Some('g') => (&lower[..lower.len() - 1], 1 << 30),
        Some('t') => (&lower[..lower.len() - 1], 1 << 40),
        _ => (lower, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(bad());
    }
    Ok((n * mult as f64) as u64)
}

/// `KILL`, `SIGTERM`, `9`.
fn parse_signal(s: &str) -> Result<i32, Failure> {
    cargohold::runtime::parse_signal(s)
        .ok_or_else(|| Failure::Usage(format!("invalid signal: {s}")))
}
