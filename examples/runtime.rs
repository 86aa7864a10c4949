//! A runc-compatible command line over [`cargohold::runtime`], precise enough for containerd
//! (`ctr run --runc-binary target/debug/examples/runtime`) and podman
//! (`podman --runtime target/debug/examples/runtime`) to drive it.
//!
//! ```text
//! runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] COMMAND
//!   create [--bundle DIR] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] ID
//!   start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
//!   run [--bundle DIR] [--pid-file F] [--console-socket S] [--detach] ID
//!   exec [--process F | --tty --cwd D --env K=V --user U:G] [--detach] [--pid-file F] ID [CMD...]
//!   ps [--format table|json] ID | pause ID | resume ID | list [--format table|json] [--quiet]
//!   spec [--bundle DIR] | features | events [--stats] ID | update [--resources F] ID
//! ```
//!
//! For containerd's runc shim (and so Kubernetes through the CRI plugin, see the README):
//! `ps --format json` prints the pids as a JSON array, `events --stats` one
//! `{"type":"stats","id":..,"data":..}` line whose `data` is runc's `types.Stats`, `update
//! --resources -` takes a `LinuxResources` on stdin and applies what runc does (device rules
//! stay as created), and `features` prints runc's features document.
//!
//! Errors go to stderr and, with `--log`, to that file as runc writes them (containerd reads
//! `{"level":"error","msg":..,"time":..}` lines from it with `--log-format json`); the exit
//! code is then 1. Warnings (a failing poststart or poststop hook, an ambient capability
//! the kernel cannot raise) go to both too, at level `"warning"`, and the command goes on. With `CARGOHOLD_RUNTIME_ARGV_LOG=FILE` in the environment every
//! invocation appends its argv to FILE (to see what an engine calls).

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use cargohold::oci_spec::runtime::{LinuxResources, Process, Spec, User};
use cargohold::runtime::{CreateOptions, ExecOptions, Runtime, Signal, State, Status};
use clap::{Parser, Subcommand, ValueEnum};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Res<T> = std::result::Result<T, BoxError>;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const SPEC_VERSION: &str = "1.2.0";

#[derive(Parser, Debug)]
#[command(
    name = "runtime",
    about = "A runc-compatible OCI runtime over cargohold::runtime",
    disable_version_flag = true
)]
struct Cli {
    /// Root directory for container state [default: /run/cargohold-runtime, rootless
    /// $XDG_RUNTIME_DIR/cargohold-runtime].
    #[arg(long, global = true, default_value_os_t = Runtime::default_root())]
    root: PathBuf,
    /// Also write errors (and debug lines) to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of the log file.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Map `slice:prefix:name` cgroup paths as systemd does.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility: log debug lines.
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility (ignored).
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Accepted for runc compatibility (`auto`, `true`, `false`); only `false`/`auto` work.
    #[arg(long, hide = true)]
    rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long)]
    version: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create a container: its init waits for `start`.
    Create {
        #[command(flatten)]
        create: CreateArgs,
    },
    /// Start a created container.
    Start { id: String },
    /// Print a container's OCI state as JSON.
    State { id: String },
    /// Send a signal to a container's init (or, with --all, every process).
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container (with --force even a running one).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container; without --detach wait and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        /// Accepted for runc compatibility (ignored).
        #[arg(long, hide = true)]
        keep: bool,
    },
    /// Run a further process in a running container.
    Exec {
        /// An OCI `Process` as JSON: the process to run (instead of CMD and the flags).
        #[arg(short, long)]
        process: Option<PathBuf>,
        #[arg(short, long)]
        detach: bool,
        #[arg(long)]
        pid_file: Option<PathBuf>,
        #[arg(long)]
        console_socket: Option<PathBuf>,
        #[arg(short, long)]
        tty: bool,
        #[arg(long)]
        cwd: Option<String>,
        #[arg(short, long)]
        env: Vec<String>,
        /// UID[:GID]
        #[arg(short, long)]
        user: Option<String>,
        /// Additional gids.
        #[arg(short = 'g', long)]
        additional_gids: Vec<u32>,
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
        /// Accepted for runc compatibility (ignored).
        #[arg(long, hide = true)]
        no_new_privs: bool,
        /// Added capabilities.
        #[arg(short, long)]
        cap: Vec<String>,
        /// Accepted for runc compatibility (ignored).
        #[arg(long, hide = true)]
        process_label: Option<String>,
        /// Accepted for runc compatibility (ignored).
        #[arg(long, hide = true)]
        apparmor: Option<String>,
        /// Accepted for runc compatibility (ignored).
        #[arg(long, hide = true)]
        ignore_paused: bool,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// List the processes of a container.
    Ps {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        id: String,
        /// Accepted for runc compatibility (ps options; ignored).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List containers.
    List {
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        format: Format,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json into the bundle.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Print the OCI features JSON.
    Features,
    /// Print resource usage (once with --stats, else every --interval).
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Change a running container's resource limits.
    Update {
        /// An OCI `LinuxResources` as JSON (`-` for stdin).
        #[arg(short, long)]
        resources: Option<PathBuf>,
        /// Memory limit in bytes (suffixes k, m, g accepted).
        #[arg(long)]
        memory: Option<String>,
        /// Maximum number of tasks.
        #[arg(long)]
        pids_limit: Option<i64>,
        id: String,
    },
}

#[derive(clap::Args, Debug)]
struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    #[arg(long)]
    no_pivot: bool,
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Accepted for runc compatibility (no keyring is made).
    #[arg(long)]
    no_new_keyring: bool,
    id: String,
}

/// Where errors (and debug lines) go besides stderr.
struct Logger {
    file: Option<fs::File>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    fn open(cli: &Cli) -> Logger {
        Logger {
            file: cli.log.as_ref().and_then(|p| {
                fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            }),
            format: cli.log_format,
            debug: cli.debug,
        }
    }

    /// One line as runc writes it (logrus: `level` is "error", "warning", "debug").
    fn line(&mut self, level: &str, msg: &str) {
        let Some(f) = &mut self.file else { return };
        let time = now_rfc3339();
        let line = match self.format {
            LogFormat::Json => {
                serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
            }
            LogFormat::Text => format!("time=\"{time}\" level={level} msg={msg:?}"),
        };
        let _ = writeln!(f, "{line}");
    }

    fn debug(&mut self, msg: &str) {
        if self.debug {
            self.line("debug", msg);
        }
    }
}

fn main() -> ExitCode {
    // create, run and exec enter containers: they run from a sealed copy of this binary
    // (cargohold::init re-executes it). The other commands skip the exec that costs (an
    // argument that merely looks like one of these only costs that exec).
    if std::env::args()
        .skip(1)
        .any(|a| matches!(a.as_str(), "create" | "run" | "exec"))
    {
        cargohold::init();
    }
    log_argv();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let mut log = Logger::open(&cli);
    log.debug(&format!("argv: {:?}", std::env::args().collect::<Vec<_>>()));
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = error_chain(e.as_ref());
            eprintln!("runtime: {msg}");
            log.line("error", &msg);
            ExitCode::from(1)
        }
    }
}

/// The error and its sources, `: `-separated (as Go's wrapped errors print).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn log_argv() {
    if let Some(path) = std::env::var_os("CARGOHOLD_RUNTIME_ARGV_LOG") {
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(path) {
            let argv: Vec<String> = std::env::args().collect();
            let _ = writeln!(f, "{}", argv.join(" "));
        }
    }
}

fn err(msg: impl Into<String>) -> BoxError {
    msg.into().into()
}

fn dispatch(cli: &Cli) -> Res<u8> {
    if cli.version {
        println!("cargohold runtime version {VERSION}\nspec: {SPEC_VERSION}");
        return Ok(0);
    }
    if cli.rootless.as_deref() == Some("true") {
        return Err(err("rootless mode is not supported by this runtime"));
    }
    let Some(cmd) = &cli.cmd else {
        return Err(err("no command given (see --help)"));
    };
    // Commands that need no state root.
    match cmd {
        Cmd::Spec { bundle, rootless } => return spec(bundle, *rootless).map(|()| 0),
        Cmd::Features => {
            println!("{}", serde_json::to_string_pretty(&features())?);
            return Ok(0);
        }
        _ => {}
    }
    let mut rt = Runtime::open(&cli.root)?;
    // Warnings (a failed poststart or poststop hook, an ambient capability that cannot be
    // raised) go where runc puts them: stderr and the log, at level "warning".
    let warn_log = std::sync::Mutex::new(Logger::open(cli));
    rt.on_warning(move |w| {
        let msg = error_chain(w);
        eprintln!("runtime: warning: {msg}");
        if let Ok(mut log) = warn_log.lock() {
            log.line("warning", &msg);
        }
    });
    match cmd {
        Cmd::Create { create } => {
            let opts = create_options(cli, create, true)?;
            let _container = rt.create(&create.id, &create.bundle, &opts)?;
            Ok(0)
        }
        Cmd::Start { id } => rt.start(id).map(|()| 0).map_err(Into::into),
        Cmd::State { id } => {
            let st = rt.state(id)?;
            println!("{}", serde_json::to_string_pretty(&RuncState::from(st))?);
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = parse_signal(signal)?;
            rt.kill(id, sig, *all).map_err(|e| match e {
                cargohold::Error::InvalidState { .. } => err(format!("container not running: {e}")),
                e => e.into(),
            })?;
            Ok(0)
        }
        Cmd::Delete { force, id } => rt.delete(id, *force).map(|()| 0).map_err(Into::into),
        Cmd::Run { create, detach, .. } => run(cli, &rt, create, *detach),
        Cmd::Exec { .. } => exec(&rt, cmd),
        Cmd::Ps { format, id, .. } => {
            let pids = rt.ps(id)?;
            match format {
                Format::Json => println!("{}", serde_json::to_string(&pids)?),
                Format::Table => {
                    println!("{:>8} CMD", "PID");
                    for pid in pids {
                        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                        let cmd: Vec<String> = cmd
                            .split(|b| *b == 0)
                            .filter(|s| !s.is_empty())
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect();
                        println!("{pid:>8} {}", cmd.join(" "));
                    }
                }
            }
            Ok(0)
        }
        Cmd::Pause { id } => rt.pause(id).map(|()| 0).map_err(Into::into),
        Cmd::Resume { id } => rt.resume(id).map(|()| 0).map_err(Into::into),
        Cmd::List { format, quiet } => {
            let states = rt.list()?;
            if *quiet {
                for s in &states {
                    println!("{}", s.id);
                }
            } else if *format == Format::Json {
                let v: Vec<RuncState> = states.into_iter().map(RuncState::from).collect();
                println!("{}", serde_json::to_string(&v)?);
            } else {
                println!(
                    "{:<20} {:<8} {:<10} {:<40} {:<32} OWNER",
                    "ID", "PID", "STATUS", "BUNDLE", "CREATED"
                );
                for s in states {
                    println!(
                        "{:<20} {:<8} {:<10} {:<40} {:<32} {}",
                        s.id,
                        s.pid,
                        s.status.to_string(),
                        s.bundle.display(),
                        s.created,
                        owner()
                    );
                }
            }
            Ok(0)
        }
        Cmd::Events {
            stats,
            interval,
            id,
        } => {
            let interval = parse_duration(interval)?;
            loop {
                // runc's event: `data` is its `types.Stats`, which go-runc decodes.
                let s = rt.event_stats(id)?;
                let ev = serde_json::json!({ "type": "stats", "id": id, "data": s });
                println!("{ev}");
                io::stdout().flush()?;
                if *stats {
                    return Ok(0);
                }
                std::thread::sleep(interval);
            }
        }
        Cmd::Update {
            resources,
            memory,
            pids_limit,
            id,
        } => update(
            &rt,
            id,
            resources.as_deref(),
            memory.as_deref(),
            *pids_limit,
        )
        .map(|()| 0),
        Cmd::Spec { .. } | Cmd::Features => unreachable!("handled above"),
    }
}

fn create_options(cli: &Cli, c: &CreateArgs, detached: bool) -> Res<CreateOptions> {
    if detached && c.console_socket.is_none() {
        // As runc: a pty whose master nobody receives would hang the container.
        let spec = read_spec(&c.bundle)?;
        if spec.process().as_ref().and_then(|p| p.terminal()) == Some(true) {
            return Err(err(
                "cannot allocate tty if runtime will detach without setting console socket",
            ));
        }
    }
    let mut opts = CreateOptions::new();
    opts.no_pivot(c.no_pivot)
        .preserve_fds(c.preserve_fds)
        .systemd_cgroup(cli.systemd_cgroup);
    if let Some(p) = &c.console_socket {
        opts.console_socket(absolute(p.clone()));
    }
    if let Some(p) = &c.pid_file {
        opts.pid_file(absolute(p.clone()));
    }
    Ok(opts)
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

fn read_spec(bundle: &Path) -> Res<Spec> {
    let path = bundle.join("config.json");
    let data = fs::read(&path).map_err(|e| err(format!("reading {}: {e}", path.display())))?;
    serde_json::from_slice(&data).map_err(|e| err(format!("parsing {}: {e}", path.display())))
}

fn run(cli: &Cli, rt: &Runtime, c: &CreateArgs, detach: bool) -> Res<u8> {
    let opts = create_options(cli, c, detach)?;
    if detach {
        let _container = rt.spawn(&c.id, &c.bundle, &opts)?;
        return Ok(0);
    }
    let mut container = rt.spawn(&c.id, &c.bundle, &opts)?;
    let proxy = container.take_console().map(proxy_console);
    let status = container.wait();
    let deleted = rt.delete(&c.id, true);
    if let Some(p) = proxy {
        p.finish();
    }
    let status = status?;
    deleted?;
    Ok(exit_code(status))
}

fn exit_code(status: cargohold::runtime::ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => (128 + s) as u8,
        _ => 1,
    }
}

fn exec(rt: &Runtime, cmd: &Cmd) -> Res<u8> {
    let Cmd::Exec {
        process,
        detach,
        pid_file,
        console_socket,
        tty,
        cwd,
        env,
        user,
        additional_gids,
        preserve_fds,
        cap,
        id,
        command,
        ..
    } = cmd
    else {
        unreachable!()
    };
    let process: Process = match process {
        Some(path) => {
            let data = if path.as_os_str() == "-" {
                let mut v = Vec::new();
                io::stdin().read_to_end(&mut v)?;
                v
            } else {
                fs::read(path).map_err(|e| err(format!("reading {}: {e}", path.display())))?
            };
            serde_json::from_slice(&data)
                .map_err(|e| err(format!("parsing process {}: {e}", path.display())))?
        }
        None => {
            if command.is_empty() {
                return Err(err("exec: no command given (and no --process)"));
            }
            // As runc: the container's process is the base, the flags override it.
            let spec = rt.spec(id)?;
            let mut p = spec.process().clone().unwrap_or_default();
            p.set_args(Some(command.clone()));
            p.set_terminal(Some(*tty));
            if let Some(cwd) = cwd {
                p.set_cwd(cwd.into());
            }
            if !env.is_empty() {
                let mut vars = p.env().clone().unwrap_or_default();
                for kv in env {
                    let key = kv.split('=').next().unwrap_or(kv);
                    vars.retain(|v| v.split('=').next() != Some(key));
                    vars.push(kv.clone());
                }
                p.set_env(Some(vars));
            }
            if let Some(u) = user {
                let mut usr = User::default();
                let (uid, gid) = match u.split_once(':') {
                    Some((a, b)) => (a, Some(b)),
                    None => (u.as_str(), None),
                };
                usr.set_uid(
                    uid.parse()
                        .map_err(|_| err(format!("invalid uid {uid:?}")))?,
                );
                usr.set_gid(match gid {
                    Some(g) => g.parse().map_err(|_| err(format!("invalid gid {g:?}")))?,
                    None => 0,
                });
                p.set_user(usr);
            }
            if !additional_gids.is_empty() {
                let mut usr = p.user().clone();
                usr.set_additional_gids(Some(additional_gids.clone()));
                p.set_user(usr);
            }
            if !cap.is_empty() {
                let mut caps = p.capabilities().clone().unwrap_or_default();
                for c in cap {
                    let name = if c.starts_with("CAP_") {
                        c.clone()
                    } else {
                        format!("CAP_{c}")
                    };
                    let c: cargohold::oci_spec::runtime::Capability = name
                        .parse()
                        .map_err(|_| err(format!("unknown capability {name:?}")))?;
                    let add = |s: &Option<cargohold::oci_spec::runtime::Capabilities>| {
                        let mut s = s.clone().unwrap_or_default();
                        s.insert(c);
                        Some(s)
                    };
                    caps.set_bounding(add(caps.bounding()));
                    caps.set_effective(add(caps.effective()));
                    caps.set_permitted(add(caps.permitted()));
                }
                p.set_capabilities(Some(caps));
            }
            p
        }
    };
    let terminal = process.terminal() == Some(true);
    if terminal && *detach && console_socket.is_none() {
        return Err(err(
            "cannot allocate tty if runtime will detach without setting console socket",
        ));
    }
    let mut opts = ExecOptions::new();
    opts.preserve_fds(*preserve_fds);
    if let Some(p) = console_socket {
        opts.console_socket(absolute(p.clone()));
    }
    if let Some(p) = pid_file {
        opts.pid_file(absolute(p.clone()));
    }
    let mut proc = rt.exec(id, &process, &opts)?;
    if *detach {
        return Ok(0);
    }
    let proxy = proc.take_console().map(proxy_console);
    let status = proc.wait()?;
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(exit_code(status))
}

/// Copies between our stdio and a pty master while the process runs.
struct Proxy {
    out: std::thread::JoinHandle<()>,
}

impl Proxy {
    fn finish(self) {
        // The output copier ends when the last slave fd closes (EIO on the master).
        let _ = self.out.join();
    }
}

fn proxy_console(master: OwnedFd) -> Proxy {
    let mut reader = fs::File::from(master);
    let mut writer = reader.try_clone().expect("duplicating the pty master");
    std::thread::spawn(move || {
        let _ = io::copy(&mut io::stdin().lock(), &mut writer);
    });
    let out = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut stdout = io::stdout();
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if stdout.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    let _ = stdout.flush();
                }
            }
        }
    });
    Proxy { out }
}

/// The OCI state as runc prints it (with its `rootfs`, `created` and `owner`).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RuncState {
    oci_version: String,
    id: String,
    pid: i32,
    status: Status,
    bundle: PathBuf,
    rootfs: PathBuf,
    created: String,
    owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    annotations: HashMap<String, String>,
}

impl From<State> for RuncState {
    fn from(s: State) -> Self {
        RuncState {
            oci_version: s.oci_version,
            id: s.id,
            pid: s.pid,
            status: s.status,
            bundle: s.bundle,
            rootfs: s.rootfs,
            created: s.created,
            owner: owner(),
            annotations: s.annotations,
        }
    }
}

fn owner() -> String {
    // The effective owner, from /proc (no libc call needed).
    let uid = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid == "0" {
        "root".into()
    } else {
        String::new()
    }
}

/// A signal by number, or by name with or without the `SIG` prefix (any case).
fn parse_signal(s: &str) -> Res<i32> {
    let sig: Signal = s
        .parse()
        .map_err(|_| err(format!("unknown signal {s:?}")))?;
    Ok(sig.as_raw())
}

fn parse_duration(s: &str) -> Res<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| err(format!("invalid interval {s:?}")))?;
    Ok(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(err(format!("invalid interval {s:?}"))),
    })
}

fn spec(bundle: &Path, rootless: bool) -> Res<()> {
    if rootless {
        return Err(err(
            "spec --rootless is not supported yet: edit config.json to add a user namespace",
        ));
    }
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(err(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let data = serde_json::to_vec_pretty(&cargohold::runtime::default_spec())?;
    fs::write(&path, data).map_err(|e| err(format!("writing {}: {e}", path.display())))?;
    Ok(())
}

fn update(
    rt: &Runtime,
    id: &str,
    resources: Option<&Path>,
    memory: Option<&str>,
    pids_limit: Option<i64>,
) -> Res<()> {
    let mut res: LinuxResources = match resources {
        Some(p) => {
            let data = if p.as_os_str() == "-" {
                let mut v = Vec::new();
                io::stdin().read_to_end(&mut v)?;
                v
            } else {
                fs::read(p)?
            };
            serde_json::from_slice(&data)
                .map_err(|e| err(format!("parsing resources {}: {e}", p.display())))?
        }
        None => LinuxResources::default(),
    };
    if let Some(m) = memory {
        let mut mem = (*res.memory()).unwrap_or_default();
        mem.set_limit(Some(parse_bytes(m)?));
        res.set_memory(Some(mem));
    }
    if let Some(n) = pids_limit {
        let mut pids = cargohold::oci_spec::runtime::LinuxPids::default();
        pids.set_limit(n);
        res.set_pids(Some(pids));
    }
    rt.update(id, &res)?;
    Ok(())
}

fn parse_bytes(s: &str) -> Res<i64> {
    let lower = s.to_ascii_lowercase();
    let t = lower.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.parse::<i64>()
        .map(|n| n * mult)
        .map_err(|_| err(format!("invalid size {s:?}")))
}

/// The OCI runtime features document (runtime-spec features.md).
fn features() -> serde_json::Value {
    let caps: Vec<String> = cargohold::runtime::CAPABILITIES
        .iter()
        .map(|c| format!("CAP_{c}"))
        .collect();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": SPEC_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "poststop"],
        "mountOptions": [
            "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
            "iversion", "lazytime", "mand", "noatime", "nodev", "nodiratime", "noexec",
            "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
            "nosymfollow", "private", "rbind", "relatime", "remount", "ro", "rprivate",
            "rshared", "rslave", "runbindable", "rw", "shared", "slave", "strictatime",
            "suid", "symfollow", "sync", "unbindable"
        ],
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": true, "systemdUser": false,
                        "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                            "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                            "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X86",
                          "SCMP_ARCH_X86_64"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                               "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                   "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
            },
            "apparmor": { "enabled": Path::new("/sys/kernel/security/apparmor").exists() },
            "selinux": { "enabled": Path::new("/sys/fs/selinux/enforce").exists() },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "org.cargohold.runtime.version": VERSION
        }
    })
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}
