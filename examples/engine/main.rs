//! `engine`: a docker-like command line on cargohold's public API.
//!
//! ```text
//! engine [--root DIR] import rootfs.tar localhost/busybox:latest
//! engine run --rm -v data:/data localhost/busybox:latest sh -c 'echo hi > /data/f'
//! engine ps -a
//! engine commit -m 'add a file' CONTAINER localhost/mine:1
//! engine history localhost/mine:1
//! engine build -t localhost/app:1 --build-arg VERSION=2 ./app
//! engine builder prune -f
//! engine network create --subnet 10.1.0.0/24 backend
//! engine run -d --name web --network backend -p 8080:80 localhost/web:1
//! engine port web
//! engine compose -f compose.yaml up -d --wait
//! engine compose ps
//! engine compose down -v
//! ```
//!
//! Docker's command names, flags, tables and exit codes: 125 when the engine fails, 126 or
//! 127 when the command cannot be run in the container, the container's own code for `run`.
//! The root defaults to `$CARGOHOLD_ROOT`, then `/var/lib/cargohold` (as root) or
//! `$XDG_DATA_HOME/cargohold` (rootless).
//!
//! Unlike Docker, a container has no network unless `--network` or `-p`/`-P` asks for one
//! (the library's default: a namespace of its own with only loopback); `-p` without
//! `--network` puts it on `bridge`, as Docker does. Networks are made in the network
//! namespace `engine` runs in.

mod build;
mod build_live;
mod cli;
mod compose;
mod compose_verbs;
mod container;
mod cp;
mod events;
mod format;
mod image;
mod login;
mod network;
mod observe;
mod progress;
mod system;
mod template;
mod tty;
mod volume;

use std::io;
use std::process::ExitCode;

use cargohold::CommitOptions;
use cargohold::{Engine, Error};

use crate::cli::{Cli, Command};

/// Docker's exit code for an error of the engine itself.
const ENGINE_ERROR: u8 = 125;

/// What a command failed with: an engine error or a message of the command line's own.
#[derive(Debug)]
enum Failure {
    Engine(Error),
    Usage(String),
    /// stdout was closed (`engine inspect x | head`): the process ends as a C or Go tool
    /// would, by SIGPIPE, with nothing printed.
    BrokenPipe,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Engine(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Failure::BrokenPipe;
        }
        Failure::Usage(e.to_string())
    }
}

/// Ends the process by SIGPIPE (exit status 141 to a shell), as `docker` does when its
/// stdout is closed; everything before has been dropped and cleaned up by then.
fn die_of_sigpipe() -> ExitCode {
    // SAFETY: resetting a signal's disposition and raising it touch no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    ExitCode::from(141)
}

/// A command's exit code, or why it failed.
type CmdResult = Result<u8, Failure>;

fn main() -> ExitCode {
    // The monitor of a detached container and the rootless store's helper are this
    // program re-executed: `init_helpers` runs them (and `init` below seals the rest).
    cargohold::init_helpers();
    let cli = match system::parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ENGINE_ERROR } else { 0 });
        }
    };
    // A command that may run something in a container runs from the sealed copy of this
    // binary (`init` re-executes it, arguments and all); a listing never enters a
    // container and skips that execve.
    if !cli.command.only_reads() {
        cargohold::init();
    }
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Engine(e)) => {
            eprintln!("engine: {e:?}");
            let code = e.exit_code().unwrap_or(ENGINE_ERROR.into());
            ExitCode::from(u8::try_from(code).unwrap_or(ENGINE_ERROR))
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("engine: {msg}");
            ExitCode::from(ENGINE_ERROR)
        }
        Err(Failure::BrokenPipe) => die_of_sigpipe(),
    }
}

/// Runs one command; its exit code.
fn run(cli: Cli) -> CmdResult {
    // --root, else $CARGOHOLD_ROOT, else Engine::default_root()
    let engine = match &cli.root {
        Some(root) => Engine::open(root)?,
        None => Engine::open_default()?,
    };
    let engine = &engine;
    let insecure = &cli.insecure_registry;
    match cli.command {
        Command::Images { quiet, format } => image::images(engine, quiet, format.as_deref()),
        Command::History {
            human,
            no_trunc,
            quiet,
            format,
            image,
        } => {
            let opts = image::HistoryOptions {
                human,
                trunc: !no_trunc,
                quiet,
                format,
            };
            image::history(engine, &image, &opts)
        }
        Command::Tag { source, target } => image::tag(engine, &source, &target),
        Command::Rmi { force, images } => image::rmi(engine, &images, force),
        Command::Save { output, images } => image::save(engine, output, &images),
        Command::Load { input, quiet } => image::load(engine, input, quiet),
        Command::Import { tarball, reference } => image::import(engine, &tarball, reference),
        Command::Build(args) => build::build(engine, &args),
        Command::Builder(cmd) => build::builder(engine, cmd),
        Command::Pull { image } => image::pull(engine, &image, insecure),
        Command::Push { image } => image::push(engine, &image, insecure),
        Command::Run(args) => container::run(engine, &args),
        Command::Create(args) => container::create(engine, &args),
        Command::Start {
            attach,
            containers,
            interactive,
        } => container::start(engine, attach, interactive, &containers),
        Command::Restart { time, containers } => container::restart(engine, time, &containers),
        Command::Pause { containers } => container::pause(engine, &containers),
        Command::Unpause { containers } => container::unpause(engine, &containers),
        Command::Wait { containers } => container::wait(engine, &containers),
        Command::Rename {
            container,
            new_name,
        } => container::rename(engine, &container, &new_name),
        Command::Exec(args) => container::exec(engine, &args),
        Command::Stop {
            time,
            signal,
            containers,
        } => container::stop(engine, time, signal.as_deref(), &containers),
        Command::Kill { signal, containers } => container::kill(engine, &signal, &containers),
        Command::Rm { force, containers } => container::rm(engine, force, &containers),
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
            container::commit(engine, &container, &opts)
        }
        Command::Export { output, container } => container::export(engine, &container, output),
        Command::Diff { container } => container::diff(engine, &container),
        Command::Ps {
            all,
            quiet,
            no_trunc,
            filter,
            format,
        } => observe::ps(engine, all, quiet, no_trunc, &filter, format.as_deref()),
        Command::Logs {
            follow,
            tail,
            timestamps,
            container,
            since,
            until,
        } => observe::logs_between(
            engine,
            &container,
            follow,
            tail.as_deref(),
            timestamps,
            (since.as_deref(), until.as_deref()),
        ),
        Command::Inspect {
            names,
            format,
            kind,
        } => observe::inspect(engine, &names, format.as_deref(), kind.as_deref()),
        Command::Stats {
            no_stream,
            no_trunc,
            containers,
        } => observe::stats(engine, &containers, no_stream, no_trunc),
        Command::Top { container } => observe::top(engine, &container),
        Command::Port {
            container,
            private_port,
        } => observe::port(engine, &container, private_port.as_deref()),
        Command::Volume(v) => volume::run(engine, v),
        Command::Compose(c) => compose::run(engine, *c),
        Command::Network(n) => network::run(engine, n),
        Command::Login {
            username,
            password,
            password_stdin,
            server,
        } => login::login(
            server.as_deref(),
            username.as_deref(),
            password.as_deref(),
            password_stdin,
            insecure,
        ),
        Command::Logout { server } => login::logout(server.as_deref()),
        Command::Search {
            limit,
            no_trunc,
            format,
            term,
        } => login::search(&term, limit, no_trunc, format.as_deref(), insecure),
        Command::Container(c) => system::container(engine, c),
        Command::Image(c) => system::image(engine, c),
        Command::System(c) => system::system(engine, c),
        Command::Info { format } => system::info(engine, format.as_deref()),
        Command::Version { format } => system::version(format.as_deref()),
        Command::Cp {
            archive,
            follow_link,
            quiet: _,
            src,
            dest,
        } => cp::cp(engine, &src, &dest, archive, follow_link),
        Command::Events {
            since,
            until,
            filter,
            format,
        } => events::events(
            engine,
            (since.as_deref(), until.as_deref()),
            &filter,
            format.as_deref(),
        ),
        Command::Update { flags, containers } => events::update(engine, &flags, &containers),
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
                eprintln!("engine: {e:?}");
            }
            Err(Failure::Usage(m)) => {
                failed = true;
                eprintln!("engine: {m}");
            }
            Err(Failure::BrokenPipe) => return Err(Failure::BrokenPipe),
        }
    }
    Ok(if failed { ENGINE_ERROR } else { 0 })
}
