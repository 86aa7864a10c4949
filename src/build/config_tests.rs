use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::*;
use crate::build::dockerfile::{parse, Instruction};

const CREATED: &str = "2024-01-02T03:04:05Z";

/// A base image state from the JSON of its config.
fn base(config: Value) -> ImageState {
    ImageState {
        config: serde_json::from_value(config).unwrap(),
        ..ImageState::default()
    }
}

fn env_of(image: &ImageState) -> Vec<(String, String)> {
    image
        .config
        .env()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Applies the instructions of `body` (after a `FROM scratch` line) to a stage on
/// `image`, with these `--build-arg`s.
fn build_with(
    image: ImageState,
    body: &str,
    build_args: &[(&str, &str)],
) -> crate::Result<(Stage, Scope, Vec<Step>)> {
    let df = parse(
        Path::new("Dockerfile"),
        format!("FROM scratch\n{body}").as_bytes(),
    )?;
    let args: BTreeMap<String, String> = build_args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut scope = Scope::new(args, BTreeMap::new()).stage(env_of(&image));
    let (mut stage, triggers) = Stage::new(image);
    assert!(triggers.is_empty());
    let mut steps = Vec::new();
    for ins in &df.stages[0].instructions {
        steps.push(stage.apply(ins, &mut scope, Some(CREATED), Path::new("Dockerfile"))?);
    }
    Ok((stage, scope, steps))
}

fn build(image: ImageState, body: &str) -> (Stage, Vec<Step>) {
    let (stage, _, steps) = build_with(image, body, &[]).unwrap();
    (stage, steps)
}

fn config_json(s: &Stage) -> Value {
    let mut v = serde_json::to_value(&s.image.config).unwrap();
    let ext = serde_json::to_value(&s.image.docker).unwrap();
    v.as_object_mut()
        .unwrap()
        .extend(ext.as_object().unwrap().clone());
    v
}

/// The history as (created_by, empty_layer) pairs, checking the comment and time.
fn history(s: &Stage) -> Vec<(String, bool)> {
    history_from(s, 0)
}

/// As [`history`], without the first `skip` entries (the base image's).
fn history_from(s: &Stage, skip: usize) -> Vec<(String, bool)> {
    s.image
        .history
        .iter()
        .skip(skip)
        .map(|h| {
            assert_eq!(h.comment().as_deref(), Some(HISTORY_COMMENT));
            assert_eq!(h.created().as_deref(), Some(CREATED));
            (
                h.created_by().clone().unwrap(),
                h.empty_layer().unwrap_or(false),
            )
        })
        .collect()
}

fn err_of(body: &str) -> (usize, String, String) {
    match build_with(ImageState::default(), body, &[]) {
        Err(Error::InvalidDockerfile {
            line,
            instruction,
            reason,
            ..
        }) => (line, instruction, reason),
        Err(e) => panic!("{body:?}: unexpected error {e}"),
        Ok(_) => panic!("{body:?}: no error"),
    }
}

/// Config before, instructions, config after, history entries (created_by, empty_layer).
type Row = (Value, &'static str, Value, &'static [(&'static str, bool)]);

#[test]
fn each_instruction() {
    #[rustfmt::skip]
    let table: &[Row] = &[
        (json!({"Env": ["PATH=/bin"]}), "ENV A=b C=\"d e\"",
         json!({"Env": ["PATH=/bin", "A=b", "C=d e"]}), &[("ENV A=b C=d e", true)]),
        (json!({"Env": ["PATH=/bin", "A=x"]}), "ENV A $PATH:/usr/bin",
         json!({"Env": ["PATH=/bin", "A=/bin:/usr/bin"]}), &[("ENV A=/bin:/usr/bin", true)]),
        (json!({"Labels": {"a": "1"}}), "ENV V=2\nLABEL a=0 \"b c\"=\"x $V\" d='$V'",
         json!({"Env": ["V=2"], "Labels": {"a": "0", "b c": "x 2", "d": "$V"}}),
         &[("ENV V=2", true), ("LABEL a=0 b c=x 2 d=$V", true)]),
        (json!({}), "MAINTAINER Jane Doe <jane@example.com>",
         json!({}), &[("MAINTAINER Jane Doe <jane@example.com>", true)]),
        (json!({"ExposedPorts": {"22/tcp": {}}}), "EXPOSE 80 443/tcp 53/UDP",
         json!({"ExposedPorts": {"22/tcp": {}, "443/tcp": {}, "53/udp": {}, "80/tcp": {}}}),
         &[("EXPOSE [80/tcp 443/tcp 53/udp]", true)]),
        (json!({}), "ENV U=app\nUSER $U:staff",
         json!({"Env": ["U=app"], "User": "app:staff"}), &[("ENV U=app", true), ("USER app:staff", true)]),
        (json!({"WorkingDir": "/srv"}), "WORKDIR app",
         json!({"WorkingDir": "/srv/app"}), &[("WORKDIR /srv/app", false)]),
        (json!({"WorkingDir": "/srv"}), "WORKDIR /",
         json!({"WorkingDir": "/"}), &[("WORKDIR /", true)]),
        (json!({"Volumes": {"/a": {}}}), "VOLUME [\"/data\", \"/a\"]\nVOLUME /x /y",
         json!({"Volumes": {"/a": {}, "/data": {}, "/x": {}, "/y": {}}}),
         &[("VOLUME [/data /a]", true), ("VOLUME [/x /y]", true)]),
        (json!({"Cmd": ["sh"]}), "CMD [\"echo\", \"a \\\"b\\\"\"]",
         json!({"Cmd": ["echo", "a \"b\""]}), &[(r#"CMD ["echo" "a \"b\""]"#, true)]),
        (json!({}), "CMD echo $HOME",
         json!({"Cmd": ["/bin/sh", "-c", "echo $HOME"]}), &[(r#"CMD ["/bin/sh" "-c" "echo $HOME"]"#, true)]),
        (json!({"Cmd": ["sh"]}), "ENTRYPOINT [\"/init\"]",
         json!({"Entrypoint": ["/init"]}), &[(r#"ENTRYPOINT ["/init"]"#, true)]),
        (json!({}), "SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]",
         json!({"Shell": ["/bin/bash", "-eo", "pipefail", "-c"]}), &[("SHELL [/bin/bash -eo pipefail -c]", true)]),
        (json!({}), "ARG S=SIGQUIT\nSTOPSIGNAL $S",
         json!({"StopSignal": "SIGQUIT"}), &[("ARG S=SIGQUIT", true), ("STOPSIGNAL SIGQUIT", true)]),
        (json!({}), "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --retries=3 CMD [\"/check\", \"-q\"]",
         json!({"Healthcheck": {"Test": ["CMD", "/check", "-q"], "Interval": 30_000_000_000u64,
                "Timeout": 90_000_000_000u64, "StartPeriod": 500_000_000, "Retries": 3}}),
         &[("HEALTHCHECK {Test:[CMD /check -q] Interval:30s Timeout:1m30s StartPeriod:500ms StartInterval:0s Retries:3}", true)]),
        (json!({}), "ONBUILD RUN echo hi",
         json!({"OnBuild": ["RUN echo hi"]}), &[]),
        (json!({"Env": ["A=1"]}), "ARG A=2\nARG B C=$A",
         json!({"Env": ["A=1"]}), &[("ARG A=2", true), ("ARG B C=1", true)]),
    ];
    for (before, body, after, hist) in table {
        let (stage, _) = build(base(before.clone()), body);
        assert_eq!(&config_json(&stage), after, "{body}");
        let want: Vec<(String, bool)> = hist.iter().map(|(s, e)| ((*s).to_owned(), *e)).collect();
        assert_eq!(history(&stage), want, "{body}");
    }
}

#[test]
fn maintainer_sets_the_author() {
    let (stage, _) = build(ImageState::default(), "MAINTAINER me@example.com");
    assert_eq!(stage.image.author.as_deref(), Some("me@example.com"));
    assert_eq!(stage.image.config.labels(), &None);
}

#[test]
fn env_sees_the_values_from_before_its_line() {
    // Docker's reference: def is hello, ghi is bye.
    let (stage, scope, _) = build_with(
        ImageState::default(),
        "ENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\nENV q='$abc' \"r\"=\"${abc:-x} y\" s=a\\ b",
        &[],
    )
    .unwrap();
    assert_eq!(
        stage.image.config.env().clone().unwrap(),
        [
            "abc=bye",
            "def=hello",
            "ghi=bye",
            "q=$abc",
            "r=bye y",
            "s=a b"
        ]
    );
    assert_eq!(scope.var("def"), Some("hello"));
    assert_eq!(history(&stage)[1].0, "ENV abc=bye def=hello");
}

#[test]
fn env_overrides_an_arg_and_build_args_win_over_defaults() {
    let (stage, scope, _) = build_with(
        ImageState::default(),
        "ARG V=default\nARG W\nENV E=$V-$W\nENV V=env\nRUN echo",
        &[("V", "given")],
    )
    .unwrap();
    assert_eq!(
        stage.image.config.env().clone().unwrap(),
        ["E=given-", "V=env"]
    );
    assert_eq!(history(&stage)[0].0, "ARG V=given");
    assert_eq!(history(&stage)[1].0, "ARG W");
    let Instruction::Run(run) = &parse(Path::new("D"), b"FROM a\nRUN echo $V")
        .unwrap()
        .stages[0]
        .instructions[0]
        .value
    else {
        unreachable!()
    };
    assert_eq!(
        stage.run_created_by(run, &scope),
        "RUN |2 V=env W= /bin/sh -c echo $V # buildkit"
    );
}

#[test]
fn workdir_chains() {
    let (stage, steps) = build(
        ImageState::default(),
        "WORKDIR a\nWORKDIR b/../c/./d/\nWORKDIR ..\nENV D=rel\nWORKDIR /abs/\nWORKDIR $D\nWORKDIR /x/../y",
    );
    assert_eq!(
        steps,
        [
            Step::Mkdir("/a".into()),
            Step::Mkdir("/a/c/d".into()),
            Step::Mkdir("/a/c".into()),
            Step::Done,
            Step::Mkdir("/abs/".into()),
            Step::Mkdir("/abs/rel".into()),
            Step::Mkdir("/x/../y".into()),
        ]
    );
    assert_eq!(stage.image.config.working_dir().as_deref(), Some("/x/../y"));
    let h = history(&stage);
    assert_eq!(h[0], ("WORKDIR /a".to_owned(), false));
    assert_eq!(h[5], ("WORKDIR /abs/rel".to_owned(), false));
    // A relative WORKDIR on a base image's relative one is rooted.
    let (stage, _) = build(base(json!({"WorkingDir": "srv"})), "WORKDIR x");
    assert_eq!(stage.image.config.working_dir().as_deref(), Some("/srv/x"));
    let (stage, steps) = build(ImageState::default(), "WORKDIR ..");
    assert_eq!(steps, [Step::Done]);
    assert_eq!(history(&stage), [("WORKDIR /".to_owned(), true)]);
}

#[test]
fn entrypoint_drops_only_an_inherited_cmd() {
    let inherited = || base(json!({"Cmd": ["sh"], "Entrypoint": ["/old"]}));
    let (s, _) = build(inherited(), "ENTRYPOINT [\"/init\"]");
    assert_eq!(s.image.config.cmd(), &None);
    let (s, _) = build(inherited(), "CMD [\"serve\"]\nENTRYPOINT [\"/init\"]");
    assert_eq!(s.image.config.cmd().clone().unwrap(), ["serve"]);
    assert_eq!(s.image.config.entrypoint().clone().unwrap(), ["/init"]);
    let (s, _) = build(
        inherited(),
        "ENTRYPOINT /init\nCMD [\"a\"]\nENTRYPOINT [\"b\"]",
    );
    assert_eq!(s.image.config.cmd().clone().unwrap(), ["a"]);
    // CMD leaves an entrypoint alone.
    let (s, _) = build(inherited(), "CMD [\"x\"]");
    assert_eq!(s.image.config.entrypoint().clone().unwrap(), ["/old"]);
    // A stage on a stage starts afresh: the base stage's CMD is inherited.
    let (parent, _) = build(ImageState::default(), "CMD [\"x\"]");
    let (mut child, _) = Stage::from_stage(&parent);
    let df = parse(Path::new("D"), b"FROM p\nENTRYPOINT [\"e\"]").unwrap();
    let mut scope = Scope::default().stage([]);
    child
        .apply(
            &df.stages[0].instructions[0],
            &mut scope,
            None,
            Path::new("D"),
        )
        .unwrap();
    assert_eq!(child.image.config.cmd(), &None);
}

#[test]
fn shell_changes_later_shell_forms() {
    let (s, _) = build(
        ImageState::default(),
        "CMD before\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo \"hi\"\nENTRYPOINT exec app\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1",
    );
    let c = &s.image.config;
    assert_eq!(c.cmd().clone().unwrap(), ["/bin/bash", "-c", "echo \"hi\""]);
    assert_eq!(
        c.entrypoint().clone().unwrap(),
        ["/bin/bash", "-c", "exec app"]
    );
    assert_eq!(
        s.image.docker.healthcheck.as_ref().unwrap().test,
        ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]
    );
    assert_eq!(s.image.docker.shell.clone().unwrap(), ["/bin/bash", "-c"]);
    let h = history(&s);
    assert_eq!(h[0].0, r#"CMD ["/bin/sh" "-c" "before"]"#);
    assert_eq!(h[2].0, r#"CMD ["/bin/bash" "-c" "echo \"hi\""]"#);
    // RUN uses it too.
    let df = parse(Path::new("D"), b"FROM a\nRUN ls").unwrap();
    let Instruction::Run(run) = &df.stages[0].instructions[0].value else {
        unreachable!()
    };
    assert_eq!(s.run_args(run), ["/bin/bash", "-c", "ls"]);
    // An inherited SHELL counts.
    let (s, _) = build(base(json!({})), "CMD x");
    assert_eq!(
        s.image.config.cmd().clone().unwrap(),
        ["/bin/sh", "-c", "x"]
    );
    let mut img = ImageState::default();
    img.docker.shell = Some(vec!["/bin/ash".into(), "-c".into()]);
    let (s, _) = build(img, "CMD x");
    assert_eq!(
        s.image.config.cmd().clone().unwrap(),
        ["/bin/ash", "-c", "x"]
    );
}

#[test]
fn expose_ranges_and_forms() {
    let (s, _) = build(
        ImageState::default(),
        "ARG PORTS=\"9000 9001/udp\"\nARG HOSTS=\"127.0.0.1:81:81 8080:080\"\nEXPOSE 8000-8002 80/UDP 53/sctp $PORTS 7-7 $HOSTS",
    );
    assert_eq!(
        history(&s)[2].0,
        "EXPOSE [8000/tcp 8001/tcp 8002/tcp 80/udp 53/sctp 9000/tcp 9001/udp 7/tcp 81/tcp 80/tcp]"
    );
    assert_eq!(
        s.image.config.exposed_ports().clone().unwrap(),
        [
            "53/sctp", "7/tcp", "80/tcp", "80/udp", "8000/tcp", "8001/tcp", "8002/tcp", "81/tcp",
            "9000/tcp", "9001/udp"
        ]
    );
    for (body, reason) in [
        ("ARG P=http\nEXPOSE $P", "invalid containerPort: http"),
        ("ARG P=80/tcpx\nEXPOSE $P", "invalid proto: tcpx"),
        ("ARG P=90-80\nEXPOSE $P", "invalid containerPort: 90-80"),
        ("ARG P=70000\nEXPOSE $P", "invalid containerPort: 70000"),
        ("ARG P=/tcp\nEXPOSE $P", "no port specified"),
        ("ARG P=1.2.3:80:80\nEXPOSE $P", "invalid IP address: 1.2.3"),
    ] {
        let (line, ins, why) = err_of(body);
        assert_eq!((line, ins.as_str()), (3, "EXPOSE"), "{body}");
        assert!(why.contains(reason), "{body}: {why}");
    }
}

#[test]
fn healthcheck_none_and_defaults() {
    let (s, _) = build(base(json!({})), "HEALTHCHECK CMD true\nHEALTHCHECK NONE");
    assert_eq!(
        history(&s),
        [
            (
                "HEALTHCHECK {Test:[CMD-SHELL true] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}".to_owned(),
                true
            ),
            (
                "HEALTHCHECK {Test:[NONE] Interval:0s Timeout:0s StartPeriod:0s StartInterval:0s Retries:0}".to_owned(),
                true
            ),
        ]
    );
    assert_eq!(config_json(&s), json!({"Healthcheck": {"Test": ["NONE"]}}));
    let (s, _) = build(
        base(json!({})),
        "HEALTHCHECK --start-interval=1.5s --interval=2h CMD [\"x\"]",
    );
    assert_eq!(
        history(&s)[0].0,
        "HEALTHCHECK {Test:[CMD x] Interval:2h0m0s Timeout:0s StartPeriod:0s StartInterval:1.5s Retries:0}"
    );
}

#[test]
fn go_formats() {
    for (ns, s) in [
        (0, "0s"),
        (1, "1ns"),
        (1_500, "1.5µs"),
        (2_000_000, "2ms"),
        (1_234_567, "1.234567ms"),
        (1_000_000_000, "1s"),
        (61_000_000_000, "1m1s"),
        (90_500_000_000, "1m30.5s"),
        (3_600_000_000_000, "1h0m0s"),
        (3_723_000_000_001, "1h2m3.000000001s"),
    ] {
        assert_eq!(go_duration(ns), s, "{ns}");
    }
    assert_eq!(
        go_quote_list(&["a b".into(), "q\"\\".into(), "\n\t\u{1b}é\u{a0}".into()]),
        r#"["a b" "q\"\\" "\n\t\x1bé\u00a0"]"#
    );
    assert_eq!(go_quote_list(&[]), "[]");
}

#[test]
fn onbuild_is_recorded_and_triggered() {
    let (parent, _) = build(
        base(json!({})),
        "ONBUILD COPY . /app\nONBUILD RUN <<EOF\necho hi\nEOF\nONBUILD ENV X=${Y:-y}",
    );
    let recorded = parent.image.docker.on_build.clone().unwrap();
    assert_eq!(
        recorded,
        ["COPY . /app", "RUN <<EOF\necho hi\nEOF", "ENV X=${Y:-y}"]
    );
    assert!(parent.image.history.is_empty());

    // The child takes the triggers out of the image it starts from.
    let blob = parent.image.to_blob(ImageConfiguration::default());
    let (child, triggers) = Stage::new(ImageState::from_blob(&blob).unwrap());
    assert_eq!(triggers, recorded);
    assert_eq!(child.image.docker.on_build, None);
    let (from_stage, t2) = Stage::from_stage(&parent);
    assert_eq!(t2, recorded);
    assert_eq!(from_stage.image.docker.on_build, None);

    let df = parse(Path::new("Dockerfile"), b"# c\n\nFROM parent\nCMD [\"x\"]").unwrap();
    let from = &df.stages[0].from;
    let ins = onbuild_triggers(&triggers, from, Path::new("Dockerfile")).unwrap();
    assert_eq!(ins.len(), 3);
    assert!(ins.iter().all(|i| i.line == 3));
    assert!(matches!(&ins[0].value, Instruction::Copy(_)));
    let Instruction::Run(run) = &ins[1].value else {
        panic!("{:?}", ins[1])
    };
    assert_eq!(run.heredocs[0].content, "echo hi\n");
    assert_eq!(child.run_args(run), ["/bin/sh", "-c", "echo hi\n"]);

    // Run in order, before the stage's own instructions.
    let mut child = child;
    let mut scope = Scope::default().stage([]);
    for i in ins.iter().chain(&df.stages[0].instructions) {
        child
            .apply(i, &mut scope, None, Path::new("Dockerfile"))
            .unwrap();
    }
    assert_eq!(child.image.config.env().clone().unwrap(), ["X=y"]);
    assert_eq!(child.image.config.cmd().clone().unwrap(), ["x"]);

    for (trigger, reason) in [
        (
            "FROM alpine",
            "FROM is not an instruction a trigger can run",
        ),
        (
            "RUN a\nRUN b",
            "onbuild trigger should be a single expression",
        ),
        ("", "onbuild trigger should be a single expression"),
        ("FOO bar", "unknown instruction: FOO"),
    ] {
        match onbuild_triggers(&[trigger.to_owned()], from, Path::new("Dockerfile")) {
            Err(Error::InvalidDockerfile {
                line, reason: r, ..
            }) => {
                assert_eq!(line, 3, "{trigger}");
                assert!(r.contains(reason), "{trigger}: {r}");
            }
            other => panic!("{trigger:?}: {other:?}"),
        }
    }
}

#[test]
fn errors_name_the_line() {
    for (body, line, ins, reason) in [
        (
            "ENV A=1\nSTOPSIGNAL SIGFOO",
            3,
            "STOPSIGNAL",
            "invalid signal: SIGFOO",
        ),
        ("STOPSIGNAL 0", 2, "STOPSIGNAL", "invalid signal: 0"),
        ("ENV A=${B:?unset}", 2, "ENV", "B: unset"),
        ("LABEL a=${b", 2, "LABEL", "missing '}'"),
        (
            "VOLUME [\"/a\", \"${E}\"]",
            2,
            "VOLUME",
            "can not be an empty string",
        ),
        ("USER ${U:?}", 2, "USER", "U: is not allowed to be unset"),
    ] {
        let (l, i, r) = err_of(body);
        assert_eq!((l, i.as_str()), (line, ins), "{body}");
        assert!(r.contains(reason), "{body}: {r}");
    }
    // Signals as the runtime reads them.
    for sig in ["SIGKILL", "kill", "9", "SIGRTMIN+3"] {
        let (s, _) = build(ImageState::default(), &format!("STOPSIGNAL {sig}"));
        assert_eq!(s.image.config.stop_signal().as_deref(), Some(sig));
    }
}

#[test]
fn run_and_copy_history() {
    let df = parse(
        Path::new("D"),
        concat!(
            "FROM a\n",
            "RUN [\"/bin/echo\", \"x y\"]\n",
            "RUN <<EOF\n#!/bin/sh\necho hi\nEOF\n",
            "RUN cat <<A <<B\na\nA\nb\nB\n",
            "RUN --mount=type=cache,target=/c make\n",
            "COPY --chown=$U:0 --chmod=644 --link a* \"b\" c /dst/\n",
            "COPY --parents <<F x /d\nf\nF\n",
            "ADD --chown=1 https://example.com/f.tgz /\n",
        )
        .as_bytes(),
    )
    .unwrap();
    let ins = &df.stages[0].instructions;
    let (stage, scope, _) = build_with(ImageState::default(), "ENV U=app", &[]).unwrap();
    let run = |i: usize| match &ins[i].value {
        Instruction::Run(r) => stage.run_created_by(r, &scope),
        v => panic!("{v:?}"),
    };
    assert_eq!(run(0), "RUN /bin/echo x y # buildkit");
    assert_eq!(run(1), "RUN /bin/sh -c /dev/pipes/EOF # buildkit");
    assert_eq!(run(2), "RUN /bin/sh -c cat <<A <<B\na\nA\nb\nB # buildkit");
    assert_eq!(run(3), "RUN /bin/sh -c make # buildkit");
    let copy = |i: usize| match &ins[i].value {
        Instruction::Copy(c) => Stage::copy_created_by(false, c.parents, &c.files, &scope),
        Instruction::Add(a) => Stage::copy_created_by(true, false, &a.files, &scope),
        v => panic!("{v:?}"),
    };
    assert_eq!(
        copy(4).unwrap(),
        "COPY --chown=app:0 --chmod=644 a* b c /dst/ # buildkit"
    );
    assert_eq!(copy(5).unwrap(), "COPY --parents x <<F /d # buildkit");
    assert_eq!(
        copy(6).unwrap(),
        "ADD --chown=1 https://example.com/f.tgz / # buildkit"
    );
    let mut stage = stage;
    stage.commit_layer(copy(4).unwrap(), Some(CREATED));
    assert_eq!(
        history(&stage).last().unwrap(),
        &(
            "COPY --chown=app:0 --chmod=644 a* b c /dst/ # buildkit".to_owned(),
            false
        )
    );
    // The steps RUN, COPY and ADD are the builder's.
    let mut scope = scope;
    for i in ins {
        assert_eq!(
            stage.apply(i, &mut scope, None, Path::new("D")).unwrap(),
            Step::Filesystem
        );
    }
}

#[test]
fn blob_round_trip_keeps_docker_fields() {
    let blob = json!({
        "architecture": "amd64", "os": "linux", "author": "someone",
        "rootfs": {"type": "layers", "diff_ids": []},
        "config": {
            "Env": ["PATH=/bin"], "Cmd": ["sh"], "OnBuild": null,
            "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Interval": 1000000000},
            "Shell": ["/bin/ash", "-c"]
        },
        "history": [{"created_by": "base", "empty_layer": true}]
    });
    let state = ImageState::from_blob(&serde_json::to_vec(&blob).unwrap()).unwrap();
    assert_eq!(state.author.as_deref(), Some("someone"));
    assert_eq!(state.docker.on_build, None);
    assert_eq!(
        state.docker.healthcheck.as_ref().unwrap().interval,
        1_000_000_000
    );
    assert_eq!(state.history.len(), 1);
    let image: ImageConfiguration = serde_json::from_value(blob.clone()).unwrap();
    let out: Value = serde_json::from_slice(&state.to_blob(image)).unwrap();
    assert_eq!(out["config"]["Shell"], json!(["/bin/ash", "-c"]));
    assert_eq!(out["config"]["Healthcheck"], blob["config"]["Healthcheck"]);
    assert_eq!(out["config"]["Cmd"], json!(["sh"]));
    assert!(out["config"].get("OnBuild").is_none());
    assert_eq!(out["author"], "someone");
    assert_eq!(out["history"], blob["history"]);
}

/// One Dockerfile's metadata applied in order, against a config and history written by
/// hand from what BuildKit writes for it.
#[test]
fn whole_dockerfile() {
    let text = r#"# syntax=docker/dockerfile:1
ARG BASE=busybox
FROM ${BASE} AS app
LABEL org.opencontainers.image.title="demo app" version=1
MAINTAINER ops@example.com
ARG PORT=8080
ENV APP_HOME=/srv/app \
    PORT=${PORT}
WORKDIR $APP_HOME
RUN echo building on $PORT
COPY --chown=app . .
WORKDIR data
EXPOSE ${PORT} 9000-9001/udp
VOLUME ["/srv/app/data"]
USER app
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
HEALTHCHECK --interval=10s --timeout=2s CMD wget -qO- http://localhost:$PORT/ || exit 1
STOPSIGNAL SIGINT
ONBUILD COPY . /srv/app/plugins
ENTRYPOINT ["/srv/app/run"]
CMD exec serve --port $PORT
"#;
    let df = parse(Path::new("Dockerfile"), text.as_bytes()).unwrap();
    let mut scope = Scope::new(
        [("PORT".to_owned(), "8081".to_owned())].into(),
        BTreeMap::new(),
    );
    for a in &df.global_args {
        scope.declare(&a.value).unwrap();
    }
    let base_blob = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
        "history": [
            {"created": "2023-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created": "2023-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": true}
        ]
    });
    let base = ImageState::from_blob(&serde_json::to_vec(&base_blob).unwrap()).unwrap();
    let mut scope = scope.stage(env_of(&base));
    let (mut stage, triggers) = Stage::new(base);
    assert!(triggers.is_empty());
    let mut mkdirs = Vec::new();
    for ins in &df.stages[0].instructions {
        let path = Path::new("Dockerfile");
        match stage.apply(ins, &mut scope, Some(CREATED), path).unwrap() {
            Step::Done => {}
            Step::Mkdir(d) => mkdirs.push(d),
            Step::Filesystem => {
                let by = match &ins.value {
                    Instruction::Run(r) => stage.run_created_by(r, &scope),
                    Instruction::Copy(c) => {
                        Stage::copy_created_by(false, c.parents, &c.files, &scope).unwrap()
                    }
                    v => panic!("{v:?}"),
                };
                stage.commit_layer(by, Some(CREATED));
            }
        }
    }
    assert_eq!(mkdirs, ["/srv/app", "/srv/app/data"]);
    assert_eq!(stage.image.author.as_deref(), Some("ops@example.com"));
    assert_eq!(
        config_json(&stage),
        json!({
            "User": "app",
            "ExposedPorts": {"8081/tcp": {}, "9000/udp": {}, "9001/udp": {}},
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "APP_HOME=/srv/app",
                "PORT=8081"
            ],
            "Entrypoint": ["/srv/app/run"],
            "Cmd": ["/bin/ash", "-eo", "pipefail", "-c", "exec serve --port $PORT"],
            "Volumes": {"/srv/app/data": {}},
            "WorkingDir": "/srv/app/data",
            "Labels": {"org.opencontainers.image.title": "demo app", "version": "1"},
            "StopSignal": "SIGINT",
            "Healthcheck": {
                "Test": ["CMD-SHELL", "wget -qO- http://localhost:$PORT/ || exit 1"],
                "Interval": 10_000_000_000u64,
                "Timeout": 2_000_000_000u64
            },
            "OnBuild": ["COPY . /srv/app/plugins"],
            "Shell": ["/bin/ash", "-eo", "pipefail", "-c"]
        })
    );
    // The base image's entries stay first, as they were.
    assert_eq!(
        serde_json::to_value(&stage.image.history[..2]).unwrap(),
        base_blob["history"]
    );
    let h = history_from(&stage, 2);
    let want: Vec<(String, bool)> = [
        ("LABEL org.opencontainers.image.title=demo app version=1", true),
        ("MAINTAINER ops@example.com", true),
        ("ARG PORT=8081", true),
        ("ENV APP_HOME=/srv/app PORT=8081", true),
        ("WORKDIR /srv/app", false),
        ("RUN |1 PORT=8081 /bin/sh -c echo building on $PORT # buildkit", false),
        ("COPY --chown=app . . # buildkit", false),
        ("WORKDIR /srv/app/data", false),
        ("EXPOSE [8081/tcp 9000/udp 9001/udp]", true),
        ("VOLUME [/srv/app/data]", true),
        ("USER app", true),
        ("SHELL [/bin/ash -eo pipefail -c]", true),
        ("HEALTHCHECK {Test:[CMD-SHELL wget -qO- http://localhost:$PORT/ || exit 1] Interval:10s Timeout:2s StartPeriod:0s StartInterval:0s Retries:0}", true),
        ("STOPSIGNAL SIGINT", true),
        (r#"ENTRYPOINT ["/srv/app/run"]"#, true),
        (r#"CMD ["/bin/ash" "-eo" "pipefail" "-c" "exec serve --port $PORT"]"#, true),
    ]
    .iter()
    .map(|(s, e)| ((*s).to_owned(), *e))
    .collect();
    assert_eq!(h, want);
}
