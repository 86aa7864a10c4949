//! `compose exec/run/restart/rm/kill/pull/build/images/top`: Docker Compose v2's command
//! line over the verbs of `Compose` (formatting and stdio here, the rest in the library).

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::time::Duration;

use cargohold::{Compose, Container, Engine, RunOptions, Stdio};

use crate::cli::ComposeCommand;
use crate::container::{attach_terminal, exit_code, parse_signal};
use crate::format::{human_size, print_table};
use crate::{tty, CmdResult, Failure};

/// The commands of this file; the other commands are refused.
pub(crate) fn run(engine: &Engine, compose: &Compose<'_>, cmd: ComposeCommand) -> CmdResult {
    match cmd {
        ComposeCommand::Exec {
            no_tty,
            env,
            workdir,
            index,
            service,
            command,
        } => exec(
            compose,
            no_tty,
            &env,
            workdir.as_deref(),
            index,
            &service,
            &command,
        ),
        ComposeCommand::Run {
            rm,
            env,
            no_deps,
            name,
            no_tty,
            service,
            command,
        } => {
            let mut o = RunOptions::new().no_deps(no_deps);
            for (k, v) in env.iter().map(|e| split_env(e)) {
                o = o.env(k, v);
            }
            if let Some(n) = name {
                o = o.name(n);
            }
            if !command.is_empty() {
                o = o.command(command);
            }
            run_oneoff(engine, compose, &service, &o, rm, no_tty)
        }
        ComposeCommand::Restart { timeout, services } => {
            compose.restart(&services, timeout.map(Duration::from_secs))?;
            Ok(0)
        }
        ComposeCommand::Rm {
            force,
            stop,
            volumes,
            services,
        } => rm(compose, force, stop, volumes, &services),
        ComposeCommand::Kill { signal, services } => {
            compose.kill(&services, parse_signal(&signal)?.as_raw())?;
            Ok(0)
        }
        ComposeCommand::Pull { services } => {
            compose.pull(&services)?;
            Ok(0)
        }
        ComposeCommand::Push {
            ignore_push_failures,
            services,
        } => {
            for (tag, outcome) in compose.push(&services, ignore_push_failures)? {
                if let Err(e) = outcome {
                    eprintln!(" Image {tag}  Error: {e}");
                }
            }
            Ok(0)
        }
        ComposeCommand::Build { services } => {
            compose.build_images(&services)?;
            Ok(0)
        }
        ComposeCommand::Images { services } => images(engine, compose, &services),
        ComposeCommand::Top { services } => top(compose, &services),
        _ => Err(Failure::Usage("not a compose verb of this file".to_owned())),
    }
}

/// `K=V` as (K, V); `K` alone as (K, "").
fn split_env(e: &str) -> (&str, &str) {
    e.split_once('=').unwrap_or((e, ""))
}

/// `compose exec`: the command in a running container of the service; its exit code is
/// ours. A TTY when stdin is a terminal, unless `-T`.
fn exec(
    compose: &Compose<'_>,
    no_tty: bool,
    env: &[String],
    workdir: Option<&str>,
    index: u64,
    service: &str,
    command: &[String],
) -> CmdResult {
    let c = compose.container(service, index)?;
    let mut x = c.exec(command);
    for (k, v) in env.iter().map(|e| split_env(e)) {
        x.env(k, v);
    }
    if let Some(w) = workdir {
        x.current_dir(w);
    }
    let tty = !no_tty && tty::stdin_is_terminal();
    let _raw = tty.then(|| tty::RawMode::enter().ok()).flatten();
    x.tty(tty).stdin(Stdio::inherit());
    let status = x.status()?;
    Ok(exit_code(status))
}

/// `compose run`: a one-off container of the service in the foreground; its exit code
/// is ours; `--rm` removes it once it has exited.
fn run_oneoff(
    engine: &Engine,
    compose: &Compose<'_>,
    service: &str,
    options: &RunOptions,
    rm: bool,
    no_tty: bool,
) -> CmdResult {
    let mut b = compose.run(service, options)?;
    let tty = !no_tty && tty::stdin_is_terminal();
    b.tty(tty)
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    let mut c = b.spawn()?;
    c.kill_on_drop(true);
    let id = c.id().to_owned();
    let _raw = match c.take_terminal() {
        Some(term) => attach_terminal(File::from(term), true),
        None => None,
    };
    let status = c.wait()?;
    drop(_raw);
    if rm {
        match engine.containers().get(&id).and_then(|c| c.remove(true)) {
            Ok(()) | Err(cargohold::Error::ContainerNotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(exit_code(status))
}

/// `compose rm`: the stopped containers (`-s`: stopped first), after a confirmation
/// unless `-f`.
fn rm(
    compose: &Compose<'_>,
    force: bool,
    stop: bool,
    volumes: bool,
    services: &[String],
) -> CmdResult {
    let list: Vec<Container> = compose
        .containers(services, true)?
        .into_iter()
        .filter(|c| {
            stop || !matches!(
                c.status(),
                cargohold::Status::Running
                    | cargohold::Status::Paused
                    | cargohold::Status::Restarting
            )
        })
        .collect();
    if list.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    if !force {
        let names: Vec<&str> = list.iter().map(Container::name).collect();
        eprint!(
            "Going to remove {}\n? Are you sure? (y/N) ",
            names.join(", ")
        );
        io::stderr().flush()?;
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    compose.remove(services, stop, volumes)?;
    Ok(0)
}

/// `compose images`: each container's image, Compose's columns.
fn images(engine: &Engine, compose: &Compose<'_>, services: &[String]) -> CmdResult {
    let mut rows = vec![[
        "CONTAINER".to_owned(),
        "REPOSITORY".to_owned(),
        "TAG".to_owned(),
        "IMAGE ID".to_owned(),
        "SIZE".to_owned(),
    ]];
    for c in compose.containers(services, true)? {
        let reference = c.image();
        // the tag is after the last ':' past the last '/' (a registry may have a port)
        let (repo, tag) = match reference.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, t),
            _ => (reference, "latest"),
        };
        let id = c.image_id();
        let short = id.strip_prefix("sha256:").unwrap_or(id);
        let size = engine
            .images()
            .get(reference)
            .map(|i| human_size(i.size()))
            .unwrap_or_default();
        rows.push([
            c.name().to_owned(),
            repo.to_owned(),
            tag.to_owned(),
            short.chars().take(12).collect(),
            size,
        ]);
    }
    print_table(&rows);
    Ok(0)
}

/// `compose top`: each running container's name, then its processes.
fn top(compose: &Compose<'_>, services: &[String]) -> CmdResult {
    for c in compose.containers(services, false)? {
        let t = c.top()?;
        let columns = |r: Vec<String>| -> Result<[String; 6], Failure> {
            r.try_into()
                .map_err(|_| Failure::Usage("unexpected top columns".into()))
        };
        let mut rows = vec![columns(t.titles())?];
        for r in t.rows() {
            rows.push(columns(r)?);
        }
        println!("{}", c.name());
        print_table(&rows);
        println!();
    }
    Ok(0)
}
