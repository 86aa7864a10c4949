//! `compose`: Docker Compose v2's command line over `Engine::compose` — up, down, ps,
//! config, ls, logs, port, stop, start (exec, run, restart, rm, kill, pull, build, images
//! and top are in `compose_verbs.rs`). Progress goes to stderr as Compose prints it when
//! not on a terminal (` Container app-web-1  Started`).

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use cargohold::{
    Compose, Container, ContainerInspect, DownOptions, Engine, LogOptions, Project, ProjectOptions,
};
use cargohold::{ComposeEvent, RemoveImages, Status};

use crate::cli::{ComposeArgs, ComposeCommand};
use crate::format::print_list;
use crate::template::Row;
use crate::{CmdResult, Failure};

/// `compose [-f FILE]… [-p NAME] COMMAND`. A failure exits 1, as Compose's do (the
/// exit code of `exec` and `run` is their command's).
pub(crate) fn run(engine: &Engine, args: ComposeArgs) -> CmdResult {
    match dispatch(engine, args) {
        Err(Failure::Engine(e)) => {
            eprintln!("engine: {e:?}");
            Ok(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("engine: {msg}");
            Ok(1)
        }
        r => r,
    }
}

fn dispatch(engine: &Engine, args: ComposeArgs) -> CmdResult {
    let project = load(&args)?;
    let mut compose = engine.compose(project);
    compose.progress(|e: &ComposeEvent| progress_line(e));
    match args.command {
        cmd @ ComposeCommand::Up { .. } => up(&mut compose, cmd),
        ComposeCommand::Down {
            volumes,
            rmi,
            remove_orphans,
            timeout,
        } => {
            let mut opts = DownOptions::new()
                .volumes(volumes)
                .remove_orphans(remove_orphans);
            opts = match rmi.as_deref() {
                None => opts,
                Some("local") => opts.rmi(RemoveImages::Local),
                Some("all") => opts.rmi(RemoveImages::All),
                Some(o) => {
                    return Err(Failure::Usage(format!(
                        "invalid --rmi {o:?}: expected local or all"
                    )))
                }
            };
            if let Some(t) = timeout {
                opts = opts.timeout(Duration::from_secs(t));
            }
            compose.down(&opts)?;
            Ok(0)
        }
        ComposeCommand::Ps {
            all,
            quiet,
            format,
            services,
        } => ps(&compose, all, quiet, format.as_deref(), &services),
        ComposeCommand::Config { services, quiet } => {
            let p = compose.project();
            if quiet {
            } else if services {
                for name in p.start_order()? {
                    println!("{name}");
                }
            } else {
                print!("{}", p.to_yaml()?);
            }
            Ok(0)
        }
        ComposeCommand::Ls { all, quiet } => ls(engine, all, quiet),
        ComposeCommand::Logs { follow, services } => {
            let list = selected(&compose, true, &services)?;
            follow_logs(&list, follow, |_| {});
            Ok(0)
        }
        ComposeCommand::Port {
            service,
            private_port,
        } => {
            let port = compose.app().service(&service)?.port(private_port)?;
            println!("0.0.0.0:{port}");
            Ok(0)
        }
        ComposeCommand::Stop { timeout, services } => {
            stop(
                &selected(&compose, false, &services)?,
                timeout.map(Duration::from_secs),
            );
            Ok(0)
        }
        cmd @ (ComposeCommand::Exec { .. }
        | ComposeCommand::Run { .. }
        | ComposeCommand::Restart { .. }
        | ComposeCommand::Rm { .. }
        | ComposeCommand::Kill { .. }
        | ComposeCommand::Pull { .. }
        | ComposeCommand::Push { .. }
        | ComposeCommand::Build { .. }
        | ComposeCommand::Images { .. }
        | ComposeCommand::Top { .. }) => {
            // a one-off container (and the dependencies `run` starts) outlives this program
            compose.detach(true);
            crate::compose_verbs::run(engine, &compose, cmd)
        }
        ComposeCommand::Start { services } => {
            for c in selected(&compose, true, &services)? {
                if !matches!(c.status(), Status::Running | Status::Paused) {
                    eprintln!(" Container {}  Starting", c.name());
                    c.start()?;
                    eprintln!(" Container {}  Started", c.name());
                }
            }
            Ok(0)
        }
    }
}

/// `compose up`: detached, or attached to the containers' output.
fn up(compose: &mut Compose<'_>, cmd: ComposeCommand) -> CmdResult {
    let ComposeCommand::Up {
        detach,
        wait,
        wait_timeout,
        build,
        no_build,
        force_recreate,
        no_recreate,
        no_deps,
        remove_orphans,
        scale,
        abort_on_container_exit,
        exit_code_from,
        services,
    } = cmd
    else {
        return Err(Failure::Usage("not an up command".to_owned()));
    };
    if let Some(svc) = &exit_code_from {
        let known = compose.project().services.contains_key(svc)
            && (services.is_empty() || services.contains(svc));
        if !known {
            return Err(Failure::Usage(format!(
                "--exit-code-from: no such service: {svc}"
            )));
        }
    }
    for s in &scale {
        let (svc, n) = s
            .split_once('=')
            .and_then(|(k, v)| Some((k, v.parse::<u64>().ok()?)))
            .ok_or_else(|| {
                Failure::Usage(format!("invalid --scale {s:?}: expected SERVICE=NUM"))
            })?;
        compose.scale(svc, n);
    }
    if let Some(t) = wait_timeout {
        compose.wait_timeout(Duration::from_secs(t));
    }
    compose
        .detach(true)
        .wait(wait)
        .build(build)
        .no_build(no_build)
        .force_recreate(force_recreate)
        .no_recreate(no_recreate)
        .no_deps(no_deps)
        .remove_orphans(remove_orphans)
        .services(services.clone());
    let _app = compose.up()?;
    if detach || wait {
        return Ok(0);
    }
    let cascade = (abort_on_container_exit || exit_code_from.is_some()).then_some(exit_code_from);
    attached(compose, &services, cascade)
}

fn progress_line(e: &ComposeEvent) {
    if e.action == "Orphan" {
        eprintln!(
            "WARN[0000] Found orphan containers ([{}]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
            e.name
        );
    } else {
        eprintln!("{e}");
    }
}

/// The project of the files, or with `-p` and no file an empty project of that name (for
/// `down`, `ps`, `ls` from anywhere, as Compose finds a project by its labels).
fn load(args: &ComposeArgs) -> Result<Project, Failure> {
    let mut o = ProjectOptions::new();
    for f in &args.files {
        o.file(f);
    }
    if let Some(d) = &args.project_directory {
        o.project_directory(d);
    }
    if let Some(n) = &args.project_name {
        o.project_name(n);
    }
    for f in &args.env_file {
        o.env_file(f);
    }
    for p in &args.profile {
        o.profile(p);
    }
    match &args.command {
        ComposeCommand::Up { services, .. } => {
            for s in services {
                o.service(s);
            }
        }
        ComposeCommand::Run { service, .. } => {
            o.service(service);
        }
        _ => {}
    }
    match (o.load(), &args.project_name) {
        (Ok(p), _) => Ok(p),
        (Err(e), Some(name))
            if args.files.is_empty()
                && !matches!(
                    args.command,
                    ComposeCommand::Up { .. } | ComposeCommand::Config { .. }
                ) =>
        {
            let _ = e;
            let mut p = Project::default();
            p.name = name.clone();
            Ok(p)
        }
        (Err(e), _) => Err(e.into()),
    }
}

/// The project's containers (all, or running ones), of `services` when some are named.
fn selected(
    compose: &Compose<'_>,
    all: bool,
    services: &[String],
) -> Result<Vec<Container>, Failure> {
    let mut list = compose.ps(all)?;
    if !services.is_empty() {
        list.retain(|c| service_of(c).is_some_and(|s| services.iter().any(|x| x == s)));
    }
    Ok(list)
}

fn service_of(c: &Container) -> Option<&str> {
    c.labels()
        .get(cargohold::compose::labels::SERVICE)
        .map(String::as_str)
}

/// Compose's default `ps` table.
const PS_TABLE: &str = r"table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}";

const PS_HEADERS: &[(&str, &str)] = &[
    ("Name", "NAME"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("Service", "SERVICE"),
    ("Project", "PROJECT"),
    ("RunningFor", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Health", "HEALTH"),
    ("ExitCode", "EXIT CODE"),
    ("Ports", "PORTS"),
    ("ID", "CONTAINER ID"),
    ("Labels", "LABELS"),
    ("Networks", "NETWORKS"),
];

fn ps(
    compose: &Compose<'_>,
    all: bool,
    quiet: bool,
    format: Option<&str>,
    services: &[String],
) -> CmdResult {
    let list = selected(compose, all, services)?;
    if quiet {
        for c in &list {
            println!("{}", c.id());
        }
        return Ok(0);
    }
    let mut rows = Vec::with_capacity(list.len());
    for c in &list {
        let Ok(info) = c.inspect() else { continue };
        rows.push(Row::new(ps_fields(c, &info)).labels(info.config.labels.clone()));
    }
    print_list(format, PS_TABLE, PS_HEADERS, &rows)?;
    Ok(0)
}

/// `docker ps`'s fields and Compose's own (.Name, .Service, .Project, .Health, .ExitCode).
fn ps_fields(c: &Container, info: &ContainerInspect) -> serde_json::Value {
    let mut row = crate::observe::ps_row(c, info, false);
    if let Some(m) = row.as_object_mut() {
        let labels = c.labels();
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        m.insert("Name".into(), c.name().into());
        // `Image` stays `ps`'s short form (`busybox:latest`), as Compose shows it.
        m.insert(
            "Service".into(),
            get(cargohold::compose::labels::SERVICE).into(),
        );
        m.insert(
            "Project".into(),
            get(cargohold::compose::labels::PROJECT).into(),
        );
        let health = info
            .state
            .health
            .as_ref()
            .map(|h| h.status.to_string())
            .unwrap_or_default();
        m.insert("Health".into(), health.into());
        m.insert("ExitCode".into(), info.state.exit_code.into());
    }
    row
}

fn ls(engine: &Engine, all: bool, quiet: bool) -> CmdResult {
    let list: Vec<_> = engine
        .compose_projects()?
        .into_iter()
        .filter(|p| all || p.running)
        .collect();
    if quiet {
        for p in &list {
            println!("{}", p.name);
        }
        return Ok(0);
    }
    let mut rows = vec![[
        "NAME".to_owned(),
        "STATUS".to_owned(),
        "CONFIG FILES".to_owned(),
    ]];
    rows.extend(list.into_iter().map(|p| [p.name, p.status, p.config_files]));
    crate::format::print_table(&rows);
    Ok(0)
}

/// Stops the containers at once, each within `timeout` or its own stop timeout.
fn stop(list: &[Container], timeout: Option<Duration>) {
    std::thread::scope(|s| {
        for c in list {
            s.spawn(move || {
                if matches!(
                    c.status(),
                    Status::Running | Status::Paused | Status::Restarting
                ) {
                    eprintln!(" Container {}  Stopping", c.name());
                    match c.stop(timeout.unwrap_or_else(|| c.stop_timeout())) {
                        Ok(_) => eprintln!(" Container {}  Stopped", c.name()),
                        Err(e) => eprintln!("engine: {e:?}"),
                    }
                }
            });
        }
    });
}

/// The prefix of a container's log lines: `web-1  | ` (its name without the project's,
/// padded to the longest).
fn prefixes(list: &[Container]) -> Vec<String> {
    let short: Vec<String> = list
        .iter()
        .map(|c| {
            let project = c
                .labels()
                .get(cargohold::compose::labels::PROJECT)
                .cloned()
                .unwrap_or_default();
            c.name()
                .strip_prefix(&format!("{project}-"))
                .unwrap_or(c.name())
                .to_owned()
        })
        .collect();
    let width = short.iter().map(|s| s.chars().count()).max().unwrap_or(0) + 2;
    short
        .into_iter()
        .map(|s| format!("{s:<width$}| "))
        .collect()
}

/// Prints the containers' logs, each line prefixed; following, until every container
/// has exited (each reported to `on_exit`) — the caller's other threads may end it.
fn follow_logs(list: &[Container], follow: bool, on_exit: impl Fn(&Container) + Sync) {
    let prefixes = prefixes(list);
    let opts = LogOptions {
        follow,
        ..LogOptions::default()
    };
    std::thread::scope(|s| {
        for (c, prefix) in list.iter().zip(&prefixes) {
            let (opts, on_exit) = (&opts, &on_exit);
            s.spawn(move || {
                if let Ok(logs) = c.logs(opts) {
                    for entry in logs.flatten() {
                        let mut line = prefix.clone().into_bytes();
                        line.extend_from_slice(&entry.log);
                        if !line.ends_with(b"\n") {
                            line.push(b'\n');
                        }
                        let _ = std::io::stdout().lock().write_all(&line);
                    }
                }
                if follow {
                    on_exit(c);
                }
            });
        }
    });
}

/// What ends the wait of an attached `up`.
enum Attached {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// A container of `service` exited with `code`.
    Exited { service: String, code: i32 },
    /// Every container's output has ended.
    Done,
}

/// Attached `up`: every container's output, prefixed, until they have all exited; Ctrl-C
/// (or SIGTERM) stops them all, as Compose does. With `cascade` (`--abort-on-container-exit`,
/// or `--exit-code-from SERVICE` in it), the first container to exit stops them all, and
/// the exit code is that of the named service's container (else of the first to exit).
fn attached(
    compose: &Compose<'_>,
    services: &[String],
    cascade: Option<Option<String>>,
) -> CmdResult {
    let list = selected(compose, false, services)?;
    let (tx, rx) = mpsc::channel::<Attached>();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    let handle = signals.handle();
    let sig_tx = tx.clone();
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = sig_tx.send(Attached::Signal);
        }
    });
    let follower = {
        let list = list.clone();
        std::thread::spawn(move || {
            let exits = std::sync::Mutex::new(tx.clone());
            follow_logs(&list, true, |c| {
                let code = c.inspect().map(|i| i.state.exit_code).unwrap_or(-1);
                println!("{} exited with code {code}", c.name());
                let service = service_of(c).unwrap_or_default().to_owned();
                if let Ok(tx) = exits.lock() {
                    let _ = tx.send(Attached::Exited { service, code });
                }
            });
            let _ = tx.send(Attached::Done);
        })
    };
    let (mut code, mut aborting) = (0, false);
    let mut from = cascade.clone().flatten();
    loop {
        match rx.recv().unwrap_or(Attached::Done) {
            Attached::Signal => {
                handle.close();
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                stop(&list, None);
                let _ = follower.join();
                return Ok(130);
            }
            Attached::Exited { service, code: c } => {
                let Some(_) = &cascade else { continue };
                if !aborting {
                    aborting = true;
                    println!("Aborting on container exit...");
                    let list = list.clone();
                    std::thread::spawn(move || stop(&list, None));
                }
                let from = from.get_or_insert_with(|| service.clone());
                if *from == service {
                    code = c;
                }
            }
            Attached::Done => break,
        }
    }
    handle.close();
    let _ = follower.join();
    Ok(u8::try_from(code.clamp(0, 255)).unwrap_or(255))
}
