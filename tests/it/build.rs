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
fn build(
    e: &TestEngine,
    ctx: &Path,
    dockerfile: &str,
) -> (cargohold::Result<Image>, Vec<BuildEvent>) {
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
        b.entrypoint(Vec::<String>::new()).args(args);
    }
    let out = b.output().unwrap();
    common::assert_success(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn cached(events: &[BuildEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, BuildEvent::Cached { .. }))
        .count()
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
    assert_eq!(
        run_image(&e, &img, &["sh", "-c", "test -e /bin/true || echo gone"]),
        "gone\n"
    );
    let cfg = img.config().config().clone().unwrap();
    assert_eq!(cfg.user().as_deref(), Some("nobody"));
    assert_eq!(cfg.working_dir().as_deref(), Some("/app"));
    assert!(cfg
        .env()
        .clone()
        .unwrap()
        .contains(&"GREETING=hello".to_owned()));
    assert_eq!(
        cfg.exposed_ports().clone().unwrap(),
        vec!["8080/tcp".to_owned()]
    );
    // base layer + WORKDIR + 2 RUNs
    assert_eq!(img.diff_ids().len(), 4);
    let history = img.history();
    let created_by: Vec<_> = history
        .iter()
        .filter_map(|h| h.created_by().clone())
        .collect();
    assert!(
        created_by
            .iter()
            .any(|c| c == "RUN /bin/sh -c rm /bin/true # buildkit"),
        "{created_by:?}"
    );
    assert!(
        created_by.iter().any(|c| c == "WORKDIR /app"),
        "{created_by:?}"
    );
    assert_eq!(
        e.engine.containers().list().unwrap().len(),
        0,
        "no build container left"
    );
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
    assert!(
        e.engine.image("localhost/broken:1").is_err(),
        "nothing tagged"
    );
    assert_eq!(
        e.engine.containers().list().unwrap().len(),
        0,
        "no container left"
    );
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

/// Builds with options set by `f`; the image and the events.
fn build_with(
    e: &TestEngine,
    ctx: &Path,
    dockerfile: &str,
    f: impl FnOnce(&mut cargohold::ImageBuilder<'_>),
) -> (cargohold::Result<Image>, Vec<BuildEvent>) {
    let events: Events = Arc::default();
    let sink = Arc::clone(&events);
    let text = dockerfile.replace("{base}", &e.reference);
    let mut b = e.engine.build(ctx);
    b.dockerfile_content(text)
        .network(BuildNetwork::None)
        .progress(move |ev| sink.lock().unwrap().push(ev.clone()));
    f(&mut b);
    let r = b.run();
    let ev = events.lock().unwrap().clone();
    (r, ev)
}

#[test]
#[ignore = "requires root"]
fn cache_mounts_persist_between_builds_and_stay_out_of_the_image() {
    let e = env();
    let ctx = context(&[]);
    let df = "FROM {base}\n\
              RUN --mount=type=cache,target=/var/cache/app echo x >> /var/cache/app/runs && \
              echo runs=$(wc -l < /var/cache/app/runs)\n";
    let (img, ev) = build(&e, ctx.path(), df);
    let img = img.unwrap();
    assert!(outputs(&ev).contains(&"runs=1".to_owned()), "{ev:?}");
    let (_, ev) = build_with(&e, ctx.path(), df, |b| {
        b.no_cache(true);
    });
    assert!(outputs(&ev).contains(&"runs=2".to_owned()), "{ev:?}");
    // The mount point was made for the mount: not in the image.
    assert_eq!(
        run_image(
            &e,
            &img,
            &[
                "sh",
                "-c",
                "test -e /var/cache/app && echo there || echo absent"
            ]
        ),
        "absent\n"
    );
    let pruned = e.engine.prune_build_cache().unwrap();
    assert_eq!(pruned.cache_mounts, 1);
    assert!(pruned.entries >= 2, "{pruned:?}");
    let (_, ev) = build(&e, ctx.path(), df);
    assert!(
        outputs(&ev).contains(&"runs=1".to_owned()),
        "pruned: {ev:?}"
    );
}

#[test]
#[ignore = "requires root"]
fn secrets_are_readable_by_run_and_never_reach_the_image() {
    let e = env();
    let ctx = context(&[]);
    let secret = tempfile::NamedTempFile::new().unwrap();
    fs::write(secret.path(), "s3cr3t").unwrap();
    let df = "FROM {base}\n\
              RUN --mount=type=secret,id=token echo len=$(wc -c < /run/secrets/token) && \
              cp /run/secrets/token /copied\n\
              RUN --mount=type=secret,id=other,target=/etc/other test ! -e /etc/other\n";
    let (img, ev) = build_with(&e, ctx.path(), df, |b| {
        b.secret("token", secret.path());
    });
    let img = img.unwrap();
    assert!(outputs(&ev).contains(&"len=6".to_owned()), "{ev:?}");
    // What the RUN copied is in the image (its choice); the mount itself is not.
    assert_eq!(
        run_image(
            &e,
            &img,
            &[
                "sh",
                "-c",
                "test -e /run/secrets && echo mounted || echo clean"
            ]
        ),
        "clean\n"
    );
    // The secret's content is not part of the cache key, as BuildKit's.
    fs::write(secret.path(), "changed").unwrap();
    let (again, ev) = build_with(&e, ctx.path(), df, |b| {
        b.secret("token", secret.path());
    });
    assert_eq!(again.unwrap().id(), img.id());
    assert_eq!(cached(&ev), 2);
    // A required secret that is not given is an error naming it.
    let df = "FROM {base}\nRUN --mount=type=secret,id=npmrc,required cat /run/secrets/npmrc\n";
    let err = build(&e, ctx.path(), df).0.unwrap_err().to_string();
    assert!(err.contains("npmrc"), "{err}");
}

#[test]
#[ignore = "requires root"]
fn heredocs_run_as_scripts() {
    let e = env();
    let ctx = context(&[]);
    let df = "FROM {base}\n\
              RUN <<EOF\n\
              echo one\n\
              echo two > /two\n\
              EOF\n\
              RUN <<EOT\n\
              #!/bin/sh\n\
              echo shebang $0\n\
              EOT\n\
              RUN cat <<A > /a && cat <<B > /b\n\
              alpha\n\
              A\n\
              beta\n\
              B\n";
    let (img, ev) = build(&e, ctx.path(), df);
    let img = img.unwrap();
    let out = outputs(&ev);
    assert!(out.contains(&"one".to_owned()), "{out:?}");
    assert!(
        out.contains(&"shebang /dev/pipes/EOT".to_owned()),
        "{out:?}"
    );
    assert_eq!(
        run_image(&e, &img, &["cat", "/two", "/a", "/b"]),
        "two\nalpha\nbeta\n"
    );
    assert_eq!(
        run_image(
            &e,
            &img,
            &["sh", "-c", "ls /dev/pipes 2>/dev/null || echo none"]
        ),
        "none\n"
    );
}

#[test]
#[ignore = "requires root"]
fn independent_stages_build_in_parallel_and_unneeded_ones_not_at_all() {
    let e = env();
    let ctx = context(&[]);
    // Each of a and b waits for the other's mark in a shared cache mount: the build
    // only succeeds when they run at the same time.
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=sync,target=/sync touch /sync/{me} && \
             for i in $(seq 100); do [ -e /sync/{other} ] && exit 0; sleep 0.1; done; exit 1\n"
        )
    };
    let df = format!(
        "FROM {{base}} AS a\n{}RUN echo from-a > /a\n\
         FROM {{base}} AS b\n{}RUN echo from-b > /b\n\
         FROM {{base}} AS broken\nRUN exit 1\n\
         FROM {{base}}\n\
         RUN --mount=type=bind,from=a,source=/a,target=/in/a \
         --mount=type=bind,from=b,source=/b,target=/in/b cat /in/a /in/b > /both\n",
        wait("a", "b"),
        wait("b", "a")
    );
    let (img, _) = build(&e, ctx.path(), &df);
    let img = img.unwrap();
    assert_eq!(run_image(&e, &img, &["cat", "/both"]), "from-a\nfrom-b\n");
    // --target builds that stage (and what it needs) only.
    let (img, ev) = build_with(&e, ctx.path(), &df, |b| {
        b.target("a");
    });
    assert_eq!(run_image(&e, &img.unwrap(), &["cat", "/a"]), "from-a\n");
    assert!(
        !ev.iter()
            .any(|e| matches!(e, BuildEvent::Started { name, .. } if name.contains("[b "))),
        "{ev:?}"
    );
    let err = build_with(&e, ctx.path(), &df, |b| {
        b.target("nosuch");
    })
    .0
    .unwrap_err()
    .to_string();
    assert!(err.contains("nosuch"), "{err}");
}

#[test]
#[ignore = "requires root"]
fn onbuild_triggers_run_in_the_child_build() {
    let e = env();
    let ctx = context(&[]);
    let parent = "FROM {base}\nONBUILD RUN echo triggered > /trig\nONBUILD ENV CHILD=1\n";
    let (img, _) = build_with(&e, ctx.path(), parent, |b| {
        b.tag("localhost/parent:1");
    });
    let img = img.unwrap();
    assert_eq!(
        run_image(&e, &img, &["sh", "-c", "test -e /trig || echo no"]),
        "no\n"
    );
    let (child, _) = build(&e, ctx.path(), "FROM localhost/parent:1\nRUN cat /trig\n");
    let child = child.unwrap();
    assert_eq!(
        run_image(&e, &child, &["sh", "-c", "cat /trig; echo $CHILD"]),
        "triggered\n1\n"
    );
    // The child does not pass the triggers on.
    let (grandchild, _) = build(&e, ctx.path(), "FROM localhost/parent:1\nFROM scratch\n");
    let _ = grandchild.unwrap();
    let blob: serde_json::Value = serde_json::from_slice(
        &fs::read(
            e.root
                .path()
                .join("images/blobs/sha256")
                .join(child.id().digest()),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(blob["config"].get("OnBuild").is_none(), "{blob}");
}

#[test]
#[ignore = "requires root"]
fn build_args_reach_from_lines_and_runs() {
    let e = env();
    let ctx = context(&[]);
    let df = "ARG BASE=nosuch\nFROM $BASE\nARG MSG=default\nARG UNSET\nRUN echo \"$MSG\" > /msg\n";
    let (img, _) = build_with(&e, ctx.path(), df, |b| {
        b.build_arg("BASE", &e.reference).build_arg("MSG", "given");
    });
    let img = img.unwrap();
    assert_eq!(run_image(&e, &img, &["cat", "/msg"]), "given\n");
    let run = img
        .history()
        .iter()
        .filter_map(|h| h.created_by().clone())
        .find(|c| c.starts_with("RUN"))
        .unwrap();
    assert_eq!(
        run,
        "RUN |2 MSG=given UNSET= /bin/sh -c echo \"$MSG\" > /msg # buildkit"
    );
    // ARG values are not in the image's environment.
    assert_eq!(
        run_image(&e, &img, &["sh", "-c", "echo ${MSG:-unset}"]),
        "unset\n"
    );
}

#[test]
#[ignore = "requires root"]
fn bad_dockerfiles_name_the_file_and_line() {
    let e = env();
    let ctx = context(&[]);
    for (df, want) in [
        ("FROM {base}\nFROBNICATE x\n", "line 2"),
        ("RUN echo no from\n", "line 1"),
        (
            "FROM {base}\nRUN --mount=type=bind,from=later,target=/x true\nFROM {base} AS later\n",
            "line 2",
        ),
        ("FROM {base}\nRUN <<EOF\necho never ends\n", "line 2"),
        ("FROM localhost/no/such:image\n", "localhost/no/such"),
        (
            "FROM {base}\nCOPY --from=localhost/no/such:img /x /\n",
            "line 2",
        ),
        (
            "FROM {base}\nCOPY --chown=nosuchuser missing.txt /\n",
            "line 2",
        ),
    ] {
        let (r, _) = build(&e, ctx.path(), df);
        let err = r.unwrap_err().to_string();
        assert!(err.contains(want), "{df:?}: {err}");
    }
    assert_eq!(e.engine.containers().list().unwrap().len(), 0);
}

#[test]
#[ignore = "requires root"]
fn a_beginners_app_with_dockerignore_runs() {
    let e = env();
    let ctx = context(&[
        (
            "main.sh",
            "#!/bin/sh\necho \"hello from main, $(ls /app | tr '\\n' ' ')\"\n",
        ),
        ("lib/util.sh", "util\n"),
        ("lib/secret.key", "key\n"),
        ("docs/readme.md", "docs\n"),
        ("docs/keep.md", "keep\n"),
        ("build/out/x.o", "obj\n"),
        (".dockerignore", "**/*.key\ndocs\n!docs/keep.md\nbuild\n"),
    ]);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        ctx.path().join("main.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let df = "FROM {base}\nWORKDIR /app\nCOPY . .\nENTRYPOINT [\"sh\", \"main.sh\"]\n";
    let (img, ev) = build(&e, ctx.path(), df);
    let img = img.unwrap();
    assert_eq!(
        run_image(&e, &img, &[]),
        "hello from main, docs lib main.sh \n"
    );
    assert_eq!(
        run_image(
            &e,
            &img,
            &[
                "sh",
                "-c",
                "ls /app/lib /app/docs; stat -c '%u:%g %a' /app/main.sh"
            ]
        ),
        "/app/docs:\nkeep.md\n\n/app/lib:\nutil.sh\n0:0 755\n"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, BuildEvent::Transferred { .. })),
        "{ev:?}"
    );
    // A touch keeps the cache; an edit does not.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(ctx.path().join("lib/util.sh"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let (again, ev) = build(&e, ctx.path(), df);
    assert_eq!(again.unwrap().id(), img.id());
    assert_eq!(cached(&ev), 2, "{ev:?}");
    fs::write(ctx.path().join("lib/util.sh"), "util v2\n").unwrap();
    let (edited, ev) = build(&e, ctx.path(), df);
    assert_ne!(edited.unwrap().id(), img.id());
    assert_eq!(cached(&ev), 1, "WORKDIR only: {ev:?}");
    // An ignored file is not there to copy.
    let err = build(&e, ctx.path(), "FROM {base}\nCOPY lib/secret.key /\n")
        .0
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("line 2") && msg.contains("secret.key"),
        "{msg}"
    );
    let err = build(&e, ctx.path(), "FROM {base}\nCOPY ../outside /\n")
        .0
        .unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
}

#[test]
#[ignore = "requires root"]
fn multi_stage_copy_from_and_add_archives() {
    let e = env();
    let ctx = context(&[]);
    // A gzip tarball in the context: ADD extracts it, COPY does not.
    let tarball = {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o640);
        h.set_uid(1000);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_cksum();
        b.append_data(&mut h, "pkg/data.txt", &b"data"[..]).unwrap();
        let raw = b.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &raw).unwrap();
        gz.finish().unwrap()
    };
    fs::write(ctx.path().join("pkg.tar.gz"), tarball).unwrap();
    let df = "FROM {base} AS builder\n\
              RUN mkdir -p /out && echo compiled > /out/app && chown -R 123:45 /out\n\
              FROM {base}\n\
              COPY --from=builder /out/app /usr/local/bin/\n\
              COPY --from=builder --chown=7:8 /out /copied\n\
              ADD pkg.tar.gz /opt/\n\
              COPY pkg.tar.gz /raw/\n\
              COPY --chmod=600 <<EOF /etc/motd\n\
              welcome\n\
              EOF\n";
    let (img, _) = build(&e, ctx.path(), df);
    let img = img.unwrap();
    let out = run_image(
        &e,
        &img,
        &[
            "sh",
            "-c",
            "cat /usr/local/bin/app; stat -c '%u:%g' /usr/local/bin/app /copied/app; \
             cat /opt/pkg/data.txt; echo; stat -c '%u %a' /opt/pkg/data.txt; \
             ls /raw; cat /etc/motd; stat -c '%a' /etc/motd",
        ],
    );
    assert_eq!(
        out,
        "compiled\n123:45\n7:8\ndata\n1000 640\npkg.tar.gz\nwelcome\n600\n"
    );
    let err = build(
        &e,
        ctx.path(),
        "FROM {base}\nADD https://example.invalid/x.tgz /\n",
    )
    .0
    .unwrap_err()
    .to_string();
    assert!(err.contains("https://example.invalid/x.tgz"), "{err}");
}
