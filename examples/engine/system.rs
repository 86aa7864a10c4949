//! The command groups (`container …`, `image …`, `system …`) and the commands that look at
//! the engine as a whole: `system df`, `system prune`, `container prune`, `image prune`,
//! `info`, `version`.
//!
//! A group's verbs that are also top-level commands (`container ls` is `ps`, `image rm`
//! is `rmi`, `container inspect` is `inspect --type container`) are the same clap
//! definitions: the help of a group lists copies of them under Docker's names and
//! aliases, and the command line is rewritten to the top-level command before it is
//! parsed, so they run the same code. Only the group's own verbs (`prune`, `df`) have
//! definitions of their own.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::Path;

use cargohold::Engine;
use clap::{CommandFactory, FromArgMatches};
use serde_json::{json, Value};

use crate::cli::{Cli, ContainerCommand, ImageCommand, SystemCommand};
use crate::format::{binary_size, human_size, print_each, print_list};
use crate::template::Row;
use crate::{CmdResult, Failure};

/// A group's verb that is a top-level command: its name in the group, its aliases, the
/// top-level command and the flag the group adds to it.
struct Verb {
    name: &'static str,
    aliases: &'static [&'static str],
    command: &'static str,
    extra: Option<&'static str>,
}

const fn verb(name: &'static str) -> Verb {
    Verb {
        name,
        aliases: &[],
        command: name,
        extra: None,
    }
}

/// `container …` verbs run as top-level commands (those that exist: `cp`, `update` and
/// `attach` join when the engine has them).
const CONTAINER_VERBS: &[Verb] = &[
    Verb {
        name: "ls",
        aliases: &["list", "ps"],
        command: "ps",
        extra: None,
    },
    verb("run"),
    verb("create"),
    verb("start"),
    verb("stop"),
    verb("restart"),
    Verb {
        name: "rm",
        aliases: &["remove"],
        command: "rm",
        extra: None,
    },
    verb("kill"),
    Verb {
        name: "inspect",
        aliases: &[],
        command: "inspect",
        extra: Some("--type=container"),
    },
    verb("logs"),
    verb("exec"),
    verb("rename"),
    verb("pause"),
    verb("unpause"),
    verb("wait"),
    verb("port"),
    verb("top"),
    verb("stats"),
    verb("diff"),
    verb("commit"),
    verb("export"),
    verb("cp"),
    verb("update"),
    verb("attach"),
];

/// `image …` verbs run as top-level commands.
const IMAGE_VERBS: &[Verb] = &[
    Verb {
        name: "ls",
        aliases: &["list"],
        command: "images",
        extra: None,
    },
    Verb {
        name: "rm",
        aliases: &["remove"],
        command: "rmi",
        extra: None,
    },
    verb("pull"),
    verb("push"),
    verb("tag"),
    verb("save"),
    verb("load"),
    verb("import"),
    verb("history"),
    Verb {
        name: "inspect",
        aliases: &[],
        command: "inspect",
        extra: Some("--type=image"),
    },
    verb("build"),
];

/// `system …` verbs run as top-level commands.
const SYSTEM_VERBS: &[Verb] = &[verb("info"), verb("events")];

const GROUPS: &[(&str, &[Verb])] = &[
    ("container", CONTAINER_VERBS),
    ("image", IMAGE_VERBS),
    ("system", SYSTEM_VERBS),
];

/// The command line with the groups' borrowed verbs listed in their help.
fn command() -> clap::Command {
    let mut top = Cli::command();
    for (group, verbs) in GROUPS {
        let copies: Vec<clap::Command> = verbs
            .iter()
            .filter_map(|v| {
                let c = top.find_subcommand(v.command)?.clone();
                Some(c.name(v.name).visible_aliases(v.aliases.iter().copied()))
            })
            .collect();
        top = top.mut_subcommand(*group, |g| g.subcommands(copies));
    }
    top
}

/// `args` with a group's borrowed verb turned into its top-level command (`engine
/// container ls -a` → `engine ps -a`).
fn ungroup(mut args: Vec<OsString>) -> Vec<OsString> {
    let top = Cli::command();
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        if a == "--root" || a == "--insecure-registry" {
            i += 2;
            continue;
        }
        if a.starts_with('-') {
            i += 1;
            continue;
        }
        let Some((_, verbs)) = GROUPS.iter().find(|(g, _)| *g == a) else {
            break;
        };
        let Some(next) = args.get(i + 1).map(|s| s.to_string_lossy().into_owned()) else {
            break;
        };
        let found = verbs.iter().find(|v| {
            (v.name == next || v.aliases.contains(&next.as_str()))
                && top.find_subcommand(v.command).is_some()
        });
        if let Some(v) = found {
            args.remove(i);
            args[i] = v.command.into();
            if let Some(extra) = v.extra {
                args.insert(i + 1, extra.into());
            }
        }
        break;
    }
    args
}

/// Parses the command line (groups included).
pub(crate) fn parse() -> Result<Cli, clap::Error> {
    let args = ungroup(std::env::args_os().collect());
    let mut matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches_mut(&mut matches)
}

/// The bytes of the regular files under `p` (symlinks not followed): a volume's size.
fn du(p: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(p)
        .map(|rd| rd.flatten().map(|e| du(&e.path())).sum())
        .unwrap_or(0)
}

/// `container SUBCOMMAND` (the group's own verbs).
pub(crate) fn container(engine: &Engine, cmd: ContainerCommand) -> CmdResult {
    match cmd {
        ContainerCommand::Prune { .. } => {
            let (ids, bytes) = prune_containers(engine)?;
            print_deleted("Deleted Containers:", &ids);
            println!("Total reclaimed space: {}", human_size(bytes));
        }
    }
    Ok(0)
}

/// Removes the stopped containers; their ids and the bytes of their writable layers.
fn prune_containers(engine: &Engine) -> Result<(Vec<String>, u64), Failure> {
    let mut sizes = BTreeMap::new();
    for c in engine.containers().list()? {
        if let Ok(info) = c.inspect() {
            if !info.state.running && !info.state.paused {
                sizes.insert(c.id().to_owned(), info.size_rw());
            }
        }
    }
    let ids = engine.containers().prune()?;
    let bytes = ids.iter().filter_map(|id| sizes.get(id)).sum();
    Ok((ids, bytes))
}

/// Prints `title`, the lines and a blank line, when there are lines.
fn print_deleted(title: &str, lines: &[String]) {
    if !lines.is_empty() {
        println!("{title}");
        for l in lines {
            println!("{l}");
        }
        println!();
    }
}

/// `image SUBCOMMAND` (the group's own verbs).
pub(crate) fn image(engine: &Engine, cmd: ImageCommand) -> CmdResult {
    match cmd {
        ImageCommand::Prune { all, .. } => {
            let (lines, bytes) = prune_images(engine, all)?;
            print_deleted("Deleted Images:", &lines);
            println!("Total reclaimed space: {}", human_size(bytes));
        }
    }
    Ok(0)
}

/// Removes dangling images (`all`: every image no container uses); Docker's `untagged:`
/// and `deleted:` lines, and the bytes freed.
fn prune_images(engine: &Engine, all: bool) -> Result<(Vec<String>, u64), Failure> {
    let images = engine.images();
    let before = images.list()?;
    let bytes = if all {
        images.prune_unused()?
    } else {
        images.prune()?
    };
    let after = images.list()?;
    let kept: HashSet<String> = after.iter().map(|i| i.id().to_string()).collect();
    let kept_refs: HashSet<String> = after
        .iter()
        .flat_map(|i| i.references().iter().map(ToString::to_string))
        .collect();
    let mut lines = Vec::new();
    let mut seen = HashSet::new();
    for i in &before {
        for r in i.references() {
            if !kept_refs.contains(&r.to_string()) {
                lines.push(format!("untagged: {}", r.familiar()));
            }
        }
        let id = i.id().to_string();
        if !kept.contains(&id) && seen.insert(id.clone()) {
            lines.push(format!("deleted: {id}"));
        }
    }
    Ok((lines, bytes))
}

/// `system SUBCOMMAND`.
pub(crate) fn system(engine: &Engine, cmd: SystemCommand) -> CmdResult {
    match cmd {
        SystemCommand::Df { verbose, format } => df(engine, verbose, format.as_deref()),
        SystemCommand::Prune { all, volumes, .. } => prune(engine, all, volumes),
        SystemCommand::Service { time, uri } => service(engine, time, uri.as_deref()),
    }
}

/// `system service`: the Docker Engine API on `uri` until `time` seconds pass without a
/// connection (never with 0).
#[cfg(feature = "api")]
fn service(engine: &Engine, time: u64, uri: Option<&str>) -> CmdResult {
    use cargohold::api::{Listener, Server};
    let listener = match uri {
        Some(uri) => Listener::bind(uri)?,
        None => Listener::unix(Listener::default_path())?,
    };
    let idle = (time > 0).then(|| std::time::Duration::from_secs(time));
    Server::new(engine.clone())
        .idle_timeout(idle)
        .serve(listener)?;
    Ok(0)
}

#[cfg(not(feature = "api"))]
fn service(_: &Engine, _: u64, _: Option<&str>) -> CmdResult {
    Err(Failure::Usage(
        "system service: this engine was built without the Docker API; build it with \
         `cargo build --example engine --features api`"
            .into(),
    ))
}

/// `system prune`: stopped containers, unused networks (and their idle bridges), unused
/// volumes (`volumes`), dangling images (`all`: unused ones), the build cache, and what
/// sandboxes of dead programs left.
fn prune(engine: &Engine, all: bool, volumes: bool) -> CmdResult {
    let (ids, mut bytes) = prune_containers(engine)?;
    print_deleted("Deleted Containers:", &ids);
    let nets = engine.networks().prune()?;
    engine.networks().release_idle()?;
    print_deleted("Deleted Networks:", &nets);
    if volumes {
        let v = engine.volumes().prune()?;
        bytes += v.reclaimed;
        print_deleted("Deleted Volumes:", &v.volumes);
    }
    let (lines, freed) = prune_images(engine, all)?;
    bytes += freed;
    print_deleted("Deleted Images:", &lines);
    let cache = engine.prune_build_cache()?;
    bytes += cache.bytes;
    // what sandboxes of programs that died left (state, cgroups, bundles)
    cargohold::Sandbox::clean_up()?;
    if cache.entries + cache.cache_mounts > 0 {
        print_deleted(
            "Deleted build cache objects:",
            &[format!(
                "{} cached steps, {} cache mounts",
                cache.entries, cache.cache_mounts
            )],
        );
    }
    println!("Total reclaimed space: {}", human_size(bytes));
    Ok(0)
}

/// `size (N%)` of `total`, as `system df` prints a reclaimable size.
fn reclaimable(bytes: u64, total: u64) -> String {
    if total == 0 {
        return human_size(bytes);
    }
    format!("{} ({}%)", human_size(bytes), bytes * 100 / total)
}

/// Docker's default `system df` format.
const DF_TABLE: &str =
    r"table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

/// The column headers of `system df`'s fields, as Docker's.
const DF_HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// `system df`: images, containers, local volumes and the build cache: how many, how
/// many in use, their size and what pruning would reclaim.
fn df(engine: &Engine, verbose: bool, format: Option<&str>) -> CmdResult {
    let containers: Vec<_> = engine
        .containers()
        .list()?
        .into_iter()
        .filter_map(|c| c.inspect().ok().map(|i| (c, i)))
        .collect();
    let used_images: HashSet<&str> = containers.iter().map(|(_, i)| i.image.as_str()).collect();
    let mut images = engine.images().list()?;
    images.dedup_by(|a, b| a.id() == b.id());
    let image_size = |i: &cargohold::Image| engine.images().size(i);
    let (mut img_total, mut img_free, mut img_active) = (0, 0, 0);
    for i in &images {
        let s = image_size(i);
        img_total += s;
        if used_images.contains(i.id().to_string().as_str()) {
            img_active += 1;
        } else {
            img_free += s;
        }
    }
    let (mut ctr_total, mut ctr_free, mut ctr_active) = (0, 0, 0);
    let ctr_sizes: Vec<u64> = containers.iter().map(|(_, i)| i.size_rw()).collect();
    for ((_, info), s) in containers.iter().zip(&ctr_sizes) {
        ctr_total += s;
        if info.state.running || info.state.paused {
            ctr_active += 1;
        } else {
            ctr_free += s;
        }
    }
    let vols = engine.volumes().list(&[])?;
    let (mut vol_total, mut vol_free, mut vol_active) = (0, 0, 0);
    let mut vol_rows = Vec::new();
    for v in &vols {
        let s = du(v.mountpoint());
        let users = engine.volumes().users(v.name()).unwrap_or_default().len();
        vol_total += s;
        if users > 0 {
            vol_active += 1;
        } else {
            vol_free += s;
        }
        vol_rows.push([v.name().to_owned(), users.to_string(), human_size(s)]);
    }
    let cache = engine.build_cache_usage()?;
    let row = |t: &str, total: usize, active: usize, size: u64, free: String| {
        Row::new(json!({
            "Type": t,
            "TotalCount": total.to_string(),
            "Active": active.to_string(),
            "Size": human_size(size),
            "Reclaimable": free,
        }))
    };
    let rows = [
        row(
            "Images",
            images.len(),
            img_active,
            img_total,
            reclaimable(img_free, img_total),
        ),
        row(
            "Containers",
            containers.len(),
            ctr_active,
            ctr_total,
            reclaimable(ctr_free, ctr_total),
        ),
        row(
            "Local Volumes",
            vols.len(),
            vol_active,
            vol_total,
            reclaimable(vol_free, vol_total),
        ),
        row(
            "Build Cache",
            cache.entries + cache.cache_mounts,
            0,
            cache.bytes,
            human_size(cache.reclaimable),
        ),
    ];
    if !verbose || format.is_some() {
        print_list(format, DF_TABLE, DF_HEADERS, &rows)?;
        return Ok(0);
    }
    println!("Images space usage:\n");
    let mut t = vec![[
        "REPOSITORY".to_owned(),
        "TAG".into(),
        "IMAGE ID".into(),
        "SIZE".into(),
        "CONTAINERS".into(),
    ]];
    for i in &images {
        let id = i.id().to_string();
        let n = containers.iter().filter(|(_, c)| c.image == id).count();
        let short = id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>();
        let size = human_size(image_size(i));
        if i.references().is_empty() {
            t.push([
                "<none>".into(),
                "<none>".into(),
                short.clone(),
                size.clone(),
                n.to_string(),
            ]);
        }
        for r in i.references() {
            let fam = r.familiar();
            let tag = r.tag().unwrap_or("<none>").to_owned();
            let repo = fam
                .strip_suffix(&format!(":{tag}"))
                .unwrap_or(&fam)
                .to_owned();
            t.push([repo, tag, short.clone(), size.clone(), n.to_string()]);
        }
    }
    crate::format::print_table(&t);
    println!("\nContainers space usage:\n");
    let mut t = vec![[
        "CONTAINER ID".to_owned(),
        "IMAGE".into(),
        "SIZE".into(),
        "STATUS".into(),
        "NAMES".into(),
    ]];
    for ((c, info), s) in containers.iter().zip(&ctr_sizes) {
        t.push([
            c.short_id().to_owned(),
            c.image().to_owned(),
            human_size(*s),
            info.state.status.to_string(),
            c.name().to_owned(),
        ]);
    }
    crate::format::print_table(&t);
    println!("\nLocal Volumes space usage:\n");
    let mut t = vec![["VOLUME NAME".to_owned(), "LINKS".into(), "SIZE".into()]];
    t.extend(vol_rows);
    crate::format::print_table(&t);
    println!(
        "\nBuild cache usage: {} ({} reclaimable)\n",
        human_size(cache.bytes),
        human_size(cache.reclaimable)
    );
    println!(
        "{} cached steps, {} cache mounts",
        cache.entries, cache.cache_mounts
    );
    Ok(0)
}

/// The first line of `path` that starts with `key=`, unquoted (os-release).
fn os_release(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The mounts of this process: (mount point, file system type).
fn mounts() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let point = pre.split(' ').nth(4)?.replace("\\040", " ");
            Some((point, post.split(' ').next()?.to_owned()))
        })
        .collect()
}

/// The file system `path` lives on, as Docker names it (`extfs` for ext2/3/4).
fn backing_fs(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let fs = mounts()
        .into_iter()
        .filter(|(p, _)| path.starts_with(p))
        .max_by_key(|(p, _)| p.len())
        .map_or_else(|| "unknown".to_owned(), |(_, t)| t);
    match fs.as_str() {
        "ext2" | "ext3" | "ext4" => "extfs".to_owned(),
        _ => fs,
    }
}

/// The cgroup version: `2` (unified), `1` (legacy) or `1 (hybrid)` when a cgroup2 tree
/// sits beside the v1 controllers.
fn cgroup_version() -> String {
    let m = mounts();
    let at = |p: &str| {
        m.iter()
            .rev()
            .find(|(q, _)| q == p)
            .map(|(_, t)| t.as_str())
    };
    if at("/sys/fs/cgroup") == Some("cgroup2") {
        "2".into()
    } else if m.iter().any(|(_, t)| t == "cgroup2") {
        "1 (hybrid)".into()
    } else {
        "1".into()
    }
}

/// Go's name of this machine's architecture (`amd64`, `arm64`).
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// What `info` shows, with the field names of Docker's `/info`.
fn info_json(engine: &Engine) -> Result<Value, Failure> {
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    let list = engine.containers().list()?;
    for c in &list {
        match c.inspect() {
            Ok(i) if i.state.paused => paused += 1,
            Ok(i) if i.state.running => running += 1,
            _ => stopped += 1,
        }
    }
    let mut images = engine.images().list()?;
    images.dedup_by(|a, b| a.id() == b.id());
    let rootless = nix_euid() != 0;
    let mut security = vec!["name=seccomp,profile=default".to_owned()];
    if rootless {
        security.push("name=rootless".into());
    }
    Ok(json!({
        "Containers": list.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images.len(),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", backing_fs(engine.root())]],
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "Runtimes": {"cargohold": {"path": "built in (cargohold::runtime)"}},
        "DefaultRuntime": "cargohold",
        "SecurityOptions": security,
        "Rootless": rootless,
        "KernelVersion": read_trimmed("/proc/sys/kernel/osrelease"),
        "OperatingSystem": os_release("PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": cargohold::host_memory().unwrap_or(0),
        "Name": read_trimmed("/proc/sys/kernel/hostname"),
        "DockerRootDir": engine.root(),
    }))
}

/// The effective user id.
fn nix_euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `info`: Docker's Server section (what applies), or `format` on its JSON.
pub(crate) fn info(engine: &Engine, format: Option<&str>) -> CmdResult {
    let v = info_json(engine)?;
    if let Some(f) = format.filter(|f| !f.trim().is_empty()) {
        let f = if f.trim() == "json" { "{{json .}}" } else { f };
        print_each(f, &[v])?;
        return Ok(0);
    }
    let s = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    line("Server:".into());
    line(format!(" Containers: {}", s("Containers")));
    line(format!("  Running: {}", s("ContainersRunning")));
    line(format!("  Paused: {}", s("ContainersPaused")));
    line(format!("  Stopped: {}", s("ContainersStopped")));
    line(format!(" Images: {}", s("Images")));
    line(format!(" Server Version: {}", s("ServerVersion")));
    line(format!(" Storage Driver: {}", s("Driver")));
    line(format!(
        "  Backing Filesystem: {}",
        v["DriverStatus"][0][1].as_str().unwrap_or("")
    ));
    line(format!(" Logging Driver: {}", s("LoggingDriver")));
    line(format!(" Cgroup Driver: {}", s("CgroupDriver")));
    line(format!(" Cgroup Version: {}", s("CgroupVersion")));
    line(format!(" Runtimes: {}", s("DefaultRuntime")));
    line(format!(" Default Runtime: {}", s("DefaultRuntime")));
    line(" Security Options:".into());
    line("  seccomp".into());
    line("   Profile: default".into());
    if v["Rootless"] == Value::Bool(true) {
        line("  rootless".into());
    }
    line(format!(" Rootless: {}", s("Rootless")));
    line(format!(" Kernel Version: {}", s("KernelVersion")));
    line(format!(" Operating System: {}", s("OperatingSystem")));
    line(format!(" OSType: {}", s("OSType")));
    line(format!(" Architecture: {}", s("Architecture")));
    line(format!(" CPUs: {}", s("NCPU")));
    line(format!(
        " Total Memory: {}",
        binary_size(v["MemTotal"].as_u64().unwrap_or(0))
    ));
    line(format!(" Name: {}", s("Name")));
    line(format!(" Docker Root Dir: {}", s("DockerRootDir")));
    print!("{out}");
    Ok(0)
}

/// `version`: Docker's Client and Server sections (the server is the library itself),
/// or `format` on their JSON.
pub(crate) fn version(format: Option<&str>) -> CmdResult {
    let ver = env!("CARGO_PKG_VERSION");
    let rust = option_env!("CARGO_PKG_RUST_VERSION")
        .filter(|v| !v.is_empty())
        .map_or_else(|| "unknown".to_owned(), |v| format!("{v} or later"));
    let os_arch = format!("linux/{}", go_arch());
    let kernel = read_trimmed("/proc/sys/kernel/osrelease");
    let v = json!({
        "Client": {
            "Version": ver,
            "ApiVersion": "n/a",
            "RustVersion": rust,
            "Os": "linux",
            "Arch": go_arch(),
        },
        "Server": {
            "Platform": {"Name": "cargohold (library, no daemon)"},
            "Components": [{"Name": "Engine", "Version": ver}],
            "Version": ver,
            "ApiVersion": "n/a",
            "RustVersion": rust,
            "Os": "linux",
            "Arch": go_arch(),
            "KernelVersion": kernel,
            "Experimental": false,
        },
    });
    if let Some(f) = format.filter(|f| !f.trim().is_empty()) {
        let f = if f.trim() == "json" { "{{json .}}" } else { f };
        print_each(f, &[v])?;
        return Ok(0);
    }
    println!("Client:");
    println!(" Version:           {ver}");
    println!(" API version:       n/a");
    println!(" Rust version:      {rust}");
    println!(" OS/Arch:           {os_arch}");
    println!();
    println!("Server: cargohold (library, no daemon)");
    println!(" Engine:");
    println!("  Version:          {ver}");
    println!("  API version:      n/a");
    println!("  Rust version:     {rust}");
    println!("  OS/Arch:          {os_arch}");
    println!("  Kernel Version:   {kernel}");
    println!("  Experimental:     false");
    Ok(0)
}
