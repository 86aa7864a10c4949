//! Dockerfile builds through the library ([`cargohold::ImageBuilder`]): Dockerfiles as
//! users write them, each result run to check it; the cache (a rebuild runs nothing and
//! gives the same image); errors naming the Dockerfile line; nothing left behind.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cargohold::{BuildEvent, BuildNetwork, Image};

use crate::common::{self, TestEngine};

fn env() -> TestEngine {
    common::busybox().engine("cargohold-build")
}

/// A context directory with these files.
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let p = d.path().join(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, c).unwrap();
    }
    d
}

/// The events of a build.
type Events = Arc<Mutex<Vec<BuildEvent>>>;

/// Builds `dockerfile` (with `FROM {base}` substituted) in `ctx`; the image and the
/// events.
fn build(e: &TestEngine, ctx: &Path, dockerfile: &str) -> (cargohold::Result<Image>, Vec<BuildEvent>) {
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    let text = dockerfile.replace("{base}", &e.reference);
    let r = e
        .engine
        .build(ctx)
        .dockerfile_content(text)
        .network(BuildNetwork::None)
        .progress(move |ev| sink.lock().unwrap().push(ev.clone()))
        .run();
    let ev = events.lock().unwrap().clone();
    (r, ev)
}

/// The output of running `image` with `args` (the image's command without).
fn run_image(e: &TestEngine, image: &Image, args: &[&str]) -> String {
    let mut b = e.engine.container(image);
    b.network("none").auto_remove(true);
    if !args.is_empty() {
        b.args(args);
    }
    let out = b.output().unwrap();
    common::assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn cached(events: &[BuildEvent]) -> usize {
    events.iter().filter(|e| matches!(e, BuildEvent::Cached { .. })).count()
}

fn outputs(events: &[BuildEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            BuildEvent::Output { line, .. } => Some(line.clone()),
            _ => None,
        })
        .collect()
}

#[test]
#[ignore = "requires root"]
fn run_steps_make_layers_and_the_config_is_docker_s() {
    let e = env();
    let ctx = context(&[]);
    let df = "FROM {base}\n\
              ENV GREETING=hello\n\
              WORKDIR /app\n\
              RUN echo \"$GREETING from $(pwd)\" > note.txt && echo built\n\
              RUN rm /bin/true\n\
              USER nobody\n\
              EXPOSE 8080\n\
              LABEL org.example=yes\n\
              CMD [\"cat\", \"/app/note.txt\"]\n";
    let (img, ev) = build(&e, ctx.path(), df);
    let img = img.unwrap();
    assert_eq!(run_image(&e, &img, &[]), "hello from /app\n");
    assert!(outputs(&ev).contains(&"built".to_owned()), "{ev:?}");
    assert_eq!(run_image(&e, &img, &["sh", "-c", "test -e /bin/true || echo gone"]), "gone\n");
    let cfg = img.config().config().clone().unwrap();
    assert_eq!(cfg.user().as_deref(), Some("nobody"));
    assert_eq!(cfg.working_dir().as_deref(), Some("/app"));
    assert!(cfg.env().clone().unwrap().contains(&"GREETING=hello".to_owned()));
    assert_eq!(cfg.exposed_ports().clone().unwrap(), vec!["8080/tcp".to_owned()]);
    // base layer + WORKDIR + 2 RUNs
    assert_eq!(img.diff_ids().len(), 4);
    let history = img.history();
    let created_by: Vec<_> = history.iter().filter_map(|h| h.created_by().clone()).collect();
    assert!(created_by.iter().any(|c| c == "RUN /bin/sh -c rm /bin/true # buildkit"), "{created_by:?}");
    assert!(created_by.iter().any(|c| c == "WORKDIR /app"), "{created_by:?}");
    assert_eq!(e.engine.containers().list().unwrap().len(), 0, "no build container left");
}

#[test]
#[ignore = "requires root"]
fn a_cached_rebuild_runs_nothing_and_gives_the_same_image() {
    let e = env();
    let ctx = context(&[]);
    let df = "FROM {base}\nRUN echo run >> /count\nENV A=1\nRUN cat /count\n";
    let (first, ev1) = build(&e, ctx.path(), df);
    let first = first.unwrap();
    assert_eq!(cached(&ev1), 0);
    let (second, ev2) = build(&e, ctx.path(), df);
    let second = second.unwrap();
    assert_eq!(second.id(), first.id());
    assert_eq!(cached(&ev2), 2, "{ev2:?}");
    assert!(outputs(&ev2).is_empty(), "nothing ran: {ev2:?}");
    // A change in an ENV before a RUN runs it again.
    let (third, ev3) = build(&e, ctx.path(), &df.replace("A=1", "A=2"));
    assert_ne!(third.unwrap().id(), first.id());
    assert_eq!(cached(&ev3), 1, "{ev3:?}");
}

#[test]
#[ignore = "requires root"]
fn a_failing_run_names_its_line_its_code_and_its_output() {
    let e = env();
    let ctx = context(&[]);
    let df = "FROM {base}\nRUN echo fine\nRUN echo broken >&2; exit 3\nRUN echo never\n";
    let (r, _) = e_build_tagged(&e, ctx.path(), df, "localhost/broken:1");
    let err = r.unwrap_err().to_string();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("exit code: 3"), "{err}");
    assert!(err.contains("broken"), "{err}");
    assert!(e.engine.image("localhost/broken:1").is_err(), "nothing tagged");
    assert_eq!(e.engine.containers().list().unwrap().len(), 0, "no container left");
}

fn e_build_tagged(
    e: &TestEngine,
    ctx: &Path,
    dockerfile: &str,
    tag: &str,
) -> (cargohold::Result<Image>, ()) {
    let text = dockerfile.replace("{base}", &e.reference);
    let r = e
        .engine
        .build(ctx)
        .dockerfile_content(text)
        .tag(tag)
        .network(BuildNetwork::None)
        .run();
    (r, ())
}
