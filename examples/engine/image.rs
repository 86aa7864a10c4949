//! Image commands: images, history, tag, rmi, save, load, import, pull, push.

use std::fs::File;
use std::io;
use std::path::PathBuf;

use cargohold::{Engine, Error, HistoryEntry, Image, PullOptions, PushOptions, Reference};

use crate::cli::PullPolicy;
use crate::format::{
    docker_time, human_duration, human_size, parse_time, print_list, write_archive,
};
use crate::progress::{Kind, Out, Reading, Transfer};
use crate::template::Row;
use crate::{CmdResult, Failure, ENGINE_ERROR};

/// The first 12 hex digits of the image's id, as `docker images` shows it.
fn short_id(image: &Image) -> String {
    let id = image.id().to_string();
    let hex = id.split_once(':').map_or(id.as_str(), |(_, h)| h);
    hex[..hex.len().min(12)].to_owned()
}

/// `images`: newest first, a row per tag (`<none>` for an untagged image).
pub(crate) fn images(engine: &Engine, quiet: bool, format: Option<&str>) -> CmdResult {
    let mut imgs = engine.images().list()?;
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
    let mut rows = Vec::new();
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
        let created_at = i
            .config()
            .created()
            .as_deref()
            .map_or_else(String::new, docker_time);
        let size = human_size(engine.images().size(i));
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
            let row = serde_json::json!({
                "Containers": "N/A",
                "CreatedAt": created_at,
                "CreatedSince": created,
                "Digest": "<none>",
                "ID": short_id(i),
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": size,
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": size,
            });
            let labels = i
                .config()
                .config()
                .as_ref()
                .and_then(|c| c.labels().clone());
            rows.push(Row::new(row).labels(labels.unwrap_or_default().into_iter().collect()));
        }
    }
    print_list(format, IMAGES_TABLE, IMAGES_HEADERS, &rows)?;
    Ok(0)
}

/// Docker's default `images` format.
const IMAGES_TABLE: &str =
    r"table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// The column headers of `images`'s fields, as Docker's.
const IMAGES_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
    ("Label", "LABEL"),
];

/// How `history` prints: `-H`, `--no-trunc` (as `trunc: false`), `-q`, `--format`.
#[derive(Debug)]
pub(crate) struct HistoryOptions {
    pub(crate) human: bool,
    pub(crate) trunc: bool,
    pub(crate) quiet: bool,
    pub(crate) format: Option<String>,
}

/// Docker's default `history` format.
const HISTORY_TABLE: &str =
    r"table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// `history IMAGE`: its entries, newest first, as a table, ids (`-q`) or a template. Every
/// failure exits 1, as Docker's CLI does for this command.
pub(crate) fn history(engine: &Engine, image: &str, opts: &HistoryOptions) -> CmdResult {
    match print_history(engine, image, opts) {
        Ok(()) => Ok(0),
        Err(Failure::Engine(e)) => {
            eprintln!("engine: {e:?}");
            Ok(1)
        }
        Err(Failure::Usage(m)) => {
            eprintln!("engine: {m}");
            Ok(1)
        }
        Err(Failure::BrokenPipe) => Err(Failure::BrokenPipe),
    }
}

fn print_history(engine: &Engine, image: &str, opts: &HistoryOptions) -> Result<(), Failure> {
    let img = engine.image(image)?;
    let entries = img.layer_history(&engine.images())?;
    let format = if opts.quiet {
        Some("{{.ID}}")
    } else {
        opts.format.as_deref()
    };
    let mut rows = Vec::with_capacity(entries.len());
    for h in &entries {
        let mut row = serde_json::Map::new();
        for (field, _) in HISTORY_HEADERS {
            let v = history_field(h, &img, field, opts).unwrap_or_default();
            row.insert((*field).to_owned(), serde_json::Value::String(v));
        }
        rows.push(Row::new(serde_json::Value::Object(row)));
    }
    print_list(format, HISTORY_TABLE, HISTORY_HEADERS, &rows)
}

/// The column headers of `history`'s fields, as Docker's.
const HISTORY_HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// A `history` template field of entry `h` of `img`, as Docker's history formatter gives
/// it.
fn history_field(
    h: &HistoryEntry,
    img: &Image,
    field: &str,
    opts: &HistoryOptions,
) -> Option<String> {
    let time = h.created.as_deref().and_then(parse_time);
    let created_at = || {
        time.map_or_else(
            || "N/A".to_owned(),
            |t| humantime::format_rfc3339_seconds(t).to_string(),
        )
    };
    Some(match field {
        "ID" => match &h.id {
            None => "<missing>".to_owned(),
            Some(_) if opts.trunc => short_id(img),
            Some(id) => id.to_string(),
        },
        "CreatedAt" => created_at(),
        "CreatedSince" if opts.human => time.map_or_else(
            || "N/A".to_owned(),
            |t| format!("{} ago", human_duration(t)),
        ),
        "CreatedSince" => created_at(),
        "CreatedBy" => {
            let by = h.created_by.replace('\t', " ");
            if opts.trunc && by.chars().count() > 45 {
                by.chars().take(44).chain(['…']).collect()
            } else {
                by
            }
        }
        "Size" if opts.human => human_size(h.size),
        "Size" => h.size.to_string(),
        "Comment" => h.comment.clone(),
        _ => return None,
    })
}

/// `tag SOURCE TARGET`.
pub(crate) fn tag(engine: &Engine, source: &str, target: &str) -> CmdResult {
    engine.images().tag(&source.parse()?, &target.parse()?)?;
    Ok(0)
}

/// `rmi`: untags (and removes, once untagged) each image, going on past a failure.
pub(crate) fn rmi(engine: &Engine, images: &[String], force: bool) -> CmdResult {
    let mut failed = false;
    for name in images {
        let res = name
            .parse::<Reference>()
            .and_then(|r| engine.images().remove(&r, force).map(|()| r));
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

/// `save`: a Docker archive of the images, to a file or stdout.
pub(crate) fn save(engine: &Engine, output: Option<PathBuf>, images: &[String]) -> CmdResult {
    let refs = images
        .iter()
        .map(|s| s.parse())
        .collect::<Result<Vec<Reference>, _>>()?;
    write_archive(output, |out| {
        engine.images().save_docker_archive(&refs, out)
    })
}

/// `load`: the images of a Docker or OCI archive, from a file or stdin; on a terminal, a
/// bar of the bytes read.
pub(crate) fn load(engine: &Engine, input: Option<PathBuf>, quiet: bool) -> CmdResult {
    let loaded = match input {
        Some(p) => {
            let f = File::open(&p)?;
            let total = f.metadata().ok().map(|m| m.len());
            let reader = Reading::new(io::BufReader::new(f), total, Out::Stdout, quiet);
            let mut reader = io::BufReader::new(reader);
            let r = engine.images().load(&mut reader);
            reader.get_ref().finish();
            r?
        }
        None => {
            let mut reader = Reading::new(io::stdin().lock(), None, Out::Stdout, quiet);
            let r = engine.images().load(&mut reader);
            reader.finish();
            r?
        }
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

/// `import`: a root file system tarball (a file or `-` for stdin) as a one-layer image.
pub(crate) fn import(engine: &Engine, tarball: &str, reference: Option<String>) -> CmdResult {
    let Some(reference) = reference else {
        return Err(Failure::Usage(
            "import needs a REPOSITORY[:TAG] (untagged images are not supported)".into(),
        ));
    };
    let r: Reference = reference.parse()?;
    let config = cargohold::oci_spec::image::Config::default();
    let img = if tarball == "-" {
        engine
            .images()
            .import_tar(io::stdin().lock(), &config, &r)?
    } else {
        let f = File::open(tarball).map_err(|e| Failure::Usage(format!("{tarball}: {e}")))?;
        engine
            .images()
            .import_tar(io::BufReader::new(f), &config, &r)?
    };
    println!("{}", img.id());
    Ok(0)
}

/// `pull`: the image from its registry, with Docker's output (bars on a terminal).
pub(crate) fn pull(engine: &Engine, image: &str, insecure: &[String]) -> CmdResult {
    let mut opts = PullOptions::new();
    for host in insecure {
        opts.insecure(host);
    }
    let img = pull_showing(engine, image, &opts, Out::Stdout)?;
    println!("{}", img.0);
    Ok(0)
}

/// Pulls `image` showing Docker's pull output on `out`: the header, a line or bar per
/// layer, `Digest:` and `Status:`. The full reference and the image.
fn pull_showing(
    engine: &Engine,
    image: &str,
    opts: &PullOptions,
    out: Out,
) -> Result<(Reference, Image), Failure> {
    let r: Reference = image.parse()?;
    let t = Transfer::new(Kind::Pull, out);
    let last = image.rsplit('/').next().unwrap_or(image);
    if !last.contains(':') && !last.contains('@') {
        t.line("Using default tag: latest");
    }
    let shown = match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(tag)) => tag.to_owned(),
        (None, None) => "latest".to_owned(),
    };
    t.line(&format!("{shown}: Pulling from {}", r.path()));
    let pulled = engine.pull_with(image, opts, &|p| t.event(p));
    t.done();
    let img = pulled.map_err(|e| login_hint(e, &r))?;
    t.line(&format!("Digest: {}", img.manifest_digest()));
    if t.moved() {
        t.line(&format!(
            "Status: Downloaded newer image for {}",
            r.familiar()
        ));
    } else {
        t.line(&format!("Status: Image is up to date for {}", r.familiar()));
    }
    Ok((r, img))
}

/// An authentication failure also says how to log in with this program.
fn login_hint(e: Error, r: &Reference) -> Failure {
    if let Error::Registry { reason, .. } = &e {
        if reason.contains("docker login") {
            let server = if r.domain() == "docker.io" {
                String::new()
            } else {
                format!(" {}", r.domain())
            };
            eprintln!(
                "hint: run `engine login{server}` (it stores the credentials where docker does)"
            );
        }
    }
    Failure::Engine(e)
}

/// The image of `run`/`create`, pulled as `--pull` says: a missing one prints Docker's
/// "Unable to find image 'busybox:latest' locally" and the pull's output on stderr.
pub(crate) fn image_for_run(
    engine: &Engine,
    image: &str,
    policy: PullPolicy,
) -> Result<Image, Failure> {
    let pull = |engine: &Engine| {
        pull_showing(engine, image, &PullOptions::new(), Out::Stderr).map(|(_, img)| img)
    };
    match policy {
        PullPolicy::Always => pull(engine),
        PullPolicy::Never => Ok(engine.image(image)?),
        PullPolicy::Missing => match engine.image(image) {
            Err(Error::ImageNotFound { .. }) if image.parse::<Reference>().is_ok() => {
                let r: Reference = image.parse()?;
                eprintln!("Unable to find image '{}' locally", r.familiar());
                pull(engine)
            }
            found => Ok(found?),
        },
    }
}

/// `push`: the image to its registry, with Docker's output (bars on a terminal).
pub(crate) fn push(engine: &Engine, image: &str, insecure: &[String]) -> CmdResult {
    let r: Reference = image.parse()?;
    let mut opts = PushOptions::new();
    for host in insecure {
        opts.insecure(host);
    }
    let local = engine.image(image)?;
    let t = Transfer::new(Kind::Push, Out::Stdout);
    t.line(&format!("The push refers to repository [{}]", r.name()));
    // Docker lists the top layer first
    let layers: Vec<String> = local
        .manifest()
        .layers()
        .iter()
        .rev()
        .map(|l| l.digest().to_string())
        .collect();
    t.layers(&layers);
    let pushed = engine.push_with(image, &opts, &|p| t.event(p));
    t.done();
    let digest = pushed.map_err(|e| login_hint(e, &r))?;
    // Docker's last line gives the manifest's size in bytes: the blob that was pushed.
    let blob = engine
        .images()
        .layout_dir()
        .join("blobs")
        .join(digest.algorithm().to_string())
        .join(digest.digest());
    let size = std::fs::metadata(&blob)
        .map(|m| m.len())
        .unwrap_or_default();
    t.line(&format!(
        "{}: digest: {digest} size: {size}",
        r.tag().unwrap_or("latest")
    ));
    Ok(0)
}

/// What `inspect` shows of an image (Docker's field names).
pub(crate) fn image_json(engine: &Engine, i: &Image) -> serde_json::Value {
    let cfg = i.config();
    serde_json::json!({
        "Id": i.id().to_string(),
        "RepoTags": i.references().iter().map(|r| r.familiar()).collect::<Vec<_>>(),
        "RepoDigests": [],
        "Created": cfg.created(),
        "Config": cfg.config(),
        "Architecture": cfg.architecture().to_string(),
        "Os": cfg.os().to_string(),
        "Size": engine.images().size(i),
        "RootFS": {
            "Type": "layers",
            "Layers": i.diff_ids().iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    })
}
