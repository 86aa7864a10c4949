//! The parser's tables: every instruction's forms and edge cases, every error, the
//! lexer's substitutions, the ARG/ENV scope, and whole Dockerfiles as users write them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::godur::parse as go_duration;

fn w(raw: &str) -> Word {
    Word::new(raw, '\\')
}

fn parse_ok(src: &str) -> Dockerfile {
    match parse(Path::new("Dockerfile"), src.as_bytes()) {
        Ok(d) => d,
        Err(e) => panic!("{src:?}: {e}"),
    }
}

/// The one instruction of `FROM scratch\n<line>`.
fn one(line: &str) -> Instruction {
    let d = parse_ok(&format!("FROM scratch\n{line}"));
    assert_eq!(d.stages.len(), 1, "{line:?}");
    let [i] = d.stages[0].instructions.as_slice() else {
        panic!("{line:?}: {:?}", d.stages[0].instructions);
    };
    i.value.clone()
}

fn parse_err(src: &str) -> (usize, String, String) {
    match parse(Path::new("ctx/Dockerfile.dev"), src.as_bytes()) {
        Ok(d) => panic!("{src:?} parsed: {d:?}"),
        Err(Error::InvalidDockerfile {
            path,
            line,
            instruction,
            reason,
        }) => {
            assert_eq!(path, Path::new("ctx/Dockerfile.dev"));
            (line, instruction, reason)
        }
        Err(e) => panic!("{src:?}: other error {e}"),
    }
}

fn mount(kind: MountType, target: &str) -> Mount {
    Mount {
        kind,
        target: Some(w(target)),
        source: None,
        from: None,
        id: None,
        env: None,
        sharing: (kind == MountType::Cache).then_some(Sharing::Shared),
        mode: None,
        uid: None,
        gid: None,
        read_only: !matches!(kind, MountType::Cache | MountType::Tmpfs),
        required: false,
        size: None,
    }
}

fn run(command: CommandLine) -> Run {
    Run {
        mounts: vec![],
        network: None,
        security: None,
        command,
        heredocs: vec![],
    }
}

fn shell(s: &str) -> CommandLine {
    CommandLine::Shell(s.into())
}

fn exec(v: &[&str]) -> CommandLine {
    CommandLine::Exec(v.iter().map(|s| s.to_string()).collect())
}

fn files(sources: &[&str], dest: &str) -> Files {
    Files {
        sources: sources.iter().map(|s| Source::Path(w(s))).collect(),
        dest: w(dest),
        chown: None,
        chmod: None,
        link: false,
        exclude: vec![],
    }
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: w(k),
        value: w(v),
        legacy: false,
    }
}

fn heredoc(name: &str, content: &str, expand: bool, chomp: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp,
        fd: None,
    }
}

#[test]
fn every_instruction_parses_to_its_typed_form() {
    let copy = |from: Option<&str>, parents: bool, f: Files| {
        Instruction::Copy(Copy {
            from: from.map(w),
            parents,
            files: f,
        })
    };
    let table: Vec<(&str, Instruction)> = vec![
        // RUN: shell and exec forms, flags.
        ("RUN echo $HOME", Instruction::Run(run(shell("echo $HOME")))),
        ("run   echo  hi  ", Instruction::Run(run(shell("echo  hi")))),
        (r#"RUN ["echo", "a b"]"#, Instruction::Run(run(exec(&["echo", "a b"])))),
        (r#"RUN [ "sh" , "-c" , "x" ]"#, Instruction::Run(run(exec(&["sh", "-c", "x"])))),
        (r#"RUN []"#, Instruction::Run(run(exec(&[])))),
        // Malformed JSON is shell form, exactly as written.
        ("RUN [echo, hi]", Instruction::Run(run(shell("[echo, hi]")))),
        (r#"RUN ["echo" "hi"]"#, Instruction::Run(run(shell(r#"["echo" "hi"]"#)))),
        (r#"RUN ["echo", 'hi']"#, Instruction::Run(run(shell(r#"["echo", 'hi']"#)))),
        (r#"RUN ["a"] && b"#, Instruction::Run(run(shell(r#"["a"] && b"#)))),
        (r#"RUN ["\u0041\n"]"#, Instruction::Run(run(exec(&["A\n"])))),
        (
            "RUN --network=none --security=insecure make",
            Instruction::Run(Run {
                network: Some(NetworkMode::None),
                security: Some(Security::Insecure),
                ..run(shell("make"))
            }),
        ),
        (
            "RUN --network=host true",
            Instruction::Run(Run {
                network: Some(NetworkMode::Host),
                ..run(shell("true"))
            }),
        ),
        (
            "RUN --network=default --security=sandbox true",
            Instruction::Run(Run {
                network: Some(NetworkMode::Default),
                security: Some(Security::Sandbox),
                ..run(shell("true"))
            }),
        ),
        (
            "RUN --mount=type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0750,uid=1000,gid=100 pip install",
            Instruction::Run(Run {
                mounts: vec![Mount {
                    id: Some(w("pip")),
                    sharing: Some(Sharing::Locked),
                    mode: Some(0o750),
                    uid: Some(1000),
                    gid: Some(100),
                    ..mount(MountType::Cache, "/root/.cache")
                }],
                ..run(shell("pip install"))
            }),
        ),
        (
            "RUN --mount=type=bind,source=src,target=/src,from=builder,rw --mount=type=tmpfs,dst=/tmp,size=64m ls",
            Instruction::Run(Run {
                mounts: vec![
                    Mount {
                        source: Some(w("src")),
                        from: Some(w("builder")),
                        read_only: false,
                        ..mount(MountType::Bind, "/src")
                    },
                    Mount {
                        size: Some(64 << 20),
                        ..mount(MountType::Tmpfs, "/tmp")
                    },
                ],
                ..run(shell("ls"))
            }),
        ),
        (
            // No type: a bind, read-only; `destination` and `src` spellings; `ro=false`.
            "RUN --mount=destination=/d,src=. --mount=target=/e,ro=false true",
            Instruction::Run(Run {
                mounts: vec![
                    Mount {
                        source: Some(w(".")),
                        ..mount(MountType::Bind, "/d")
                    },
                    Mount {
                        read_only: false,
                        ..mount(MountType::Bind, "/e")
                    },
                ],
                ..run(shell("true"))
            }),
        ),
        (
            "RUN --mount=type=secret,id=npmrc,target=/root/.npmrc,required,mode=0400 --mount=type=secret,id=tok,env=TOKEN,required=false npm ci",
            Instruction::Run(Run {
                mounts: vec![
                    Mount {
                        id: Some(w("npmrc")),
                        required: true,
                        mode: Some(0o400),
                        ..mount(MountType::Secret, "/root/.npmrc")
                    },
                    Mount {
                        target: None,
                        id: Some(w("tok")),
                        env: Some(w("TOKEN")),
                        ..mount(MountType::Secret, "")
                    },
                ],
                ..run(shell("npm ci"))
            }),
        ),
        (
            r#"RUN --mount="type=cache,target=/a b" --mount=type=ssh true"#,
            Instruction::Run(Run {
                mounts: vec![
                    mount(MountType::Cache, "/a b"),
                    Mount {
                        target: None,
                        ..mount(MountType::Ssh, "")
                    },
                ],
                ..run(shell("true"))
            }),
        ),
        (
            // Flag words lose their quotes; an escaped one reaches the CSV reader.
            r#"RUN --mount="type=cache,\"target=/x,y\",readonly" true"#,
            Instruction::Run(Run {
                mounts: vec![Mount {
                    read_only: true,
                    ..mount(MountType::Cache, "/x,y")
                }],
                ..run(shell("true"))
            }),
        ),
        (
            "RUN --mount=type=cache,target=$HOME/.cache true",
            Instruction::Run(Run {
                mounts: vec![mount(MountType::Cache, "$HOME/.cache")],
                ..run(shell("true"))
            }),
        ),
        // COPY and ADD.
        ("COPY . .", copy(None, false, files(&["."], "."))),
        ("COPY a b c /dir/", copy(None, false, files(&["a", "b", "c"], "/dir/"))),
        (r#"COPY ["a b", "/c d/"]"#, copy(None, false, files(&["a b"], "/c d/"))),
        ("COPY [a, b] /x", copy(None, false, files(&["[a,", "b]"], "/x"))),
        (
            "COPY --from=build --chown=app:app --chmod=0755 --link --exclude=*.md --exclude=tmp --parents ./a /app/",
            copy(
                Some("build"),
                true,
                Files {
                    chown: Some(w("app:app")),
                    chmod: Some(w("0755")),
                    link: true,
                    exclude: vec![w("*.md"), w("tmp")],
                    ..files(&["./a"], "/app/")
                },
            ),
        ),
        (
            "COPY --link=false --from=0 $SRC ${DEST}",
            copy(Some("0"), false, files(&["$SRC"], "${DEST}")),
        ),
        (
            "ADD --checksum=sha256:abc --keep-git-dir --chown=1:2 https://x/y.tar.gz /opt/",
            Instruction::Add(Add {
                checksum: Some(w("sha256:abc")),
                keep_git_dir: true,
                files: Files {
                    chown: Some(w("1:2")),
                    ..files(&["https://x/y.tar.gz"], "/opt/")
                },
            }),
        ),
        (
            "add --keep-git-dir=false a.tar /",
            Instruction::Add(Add {
                checksum: None,
                keep_git_dir: false,
                files: files(&["a.tar"], "/"),
            }),
        ),
        // WORKDIR, USER, STOPSIGNAL, MAINTAINER: the whole rest is the argument.
        ("WORKDIR /app", Instruction::Workdir(w("/app"))),
        ("WORKDIR /my dir", Instruction::Workdir(w("/my dir"))),
        ("WORKDIR $HOME/x", Instruction::Workdir(w("$HOME/x"))),
        (
            "USER app",
            Instruction::User(User {
                spec: w("app"),
                user: w("app"),
                group: None,
            }),
        ),
        (
            "USER 1000:${GID}",
            Instruction::User(User {
                spec: w("1000:${GID}"),
                user: w("1000"),
                group: Some(w("${GID}")),
            }),
        ),
        ("STOPSIGNAL SIGQUIT", Instruction::StopSignal(w("SIGQUIT"))),
        ("STOPSIGNAL 9", Instruction::StopSignal(w("9"))),
        (
            "MAINTAINER Jane Doe <jane@example.com>",
            Instruction::Maintainer("Jane Doe <jane@example.com>".into()),
        ),
        // ENV: both forms, quotes and escapes kept for the expansion.
        ("ENV A=1", Instruction::Env(vec![kv("A", "1")])),
        (
            r#"ENV A=1 B="two words" C=a\ b D='$x' E="""#,
            Instruction::Env(vec![
                kv("A", "1"),
                kv("B", r#""two words""#),
                kv("C", r"a\ b"),
                kv("D", "'$x'"),
                kv("E", r#""""#),
            ]),
        ),
        (
            "ENV PATH=/x:$PATH",
            Instruction::Env(vec![kv("PATH", "/x:$PATH")]),
        ),
        (
            "ENV GREETING hello   big world",
            Instruction::Env(vec![KeyValue {
                key: w("GREETING"),
                value: w("hello   big world"),
                legacy: true,
            }]),
        ),
        ("ENV A=", Instruction::Env(vec![kv("A", "")])),
        ("ENV A=b=c", Instruction::Env(vec![kv("A", "b=c")])),
        // ARG.
        (
            "ARG VERSION",
            Instruction::Arg(vec![ArgDecl {
                name: "VERSION".into(),
                default: None,
            }]),
        ),
        (
            r#"ARG A=1 B C="x y" D="#,
            Instruction::Arg(vec![
                ArgDecl {
                    name: "A".into(),
                    default: Some(w("1")),
                },
                ArgDecl {
                    name: "B".into(),
                    default: None,
                },
                ArgDecl {
                    name: "C".into(),
                    default: Some(w(r#""x y""#)),
                },
                ArgDecl {
                    name: "D".into(),
                    default: Some(w("")),
                },
            ]),
        ),
        // LABEL.
        (
            r#"LABEL org.opencontainers.image.title="My app" version=1.0 "key with space"=v"#,
            Instruction::Label(vec![
                kv("org.opencontainers.image.title", r#""My app""#),
                kv("version", "1.0"),
                kv(r#""key with space""#, "v"),
            ]),
        ),
        (
            "LABEL description A long one",
            Instruction::Label(vec![KeyValue {
                key: w("description"),
                value: w("A long one"),
                legacy: true,
            }]),
        ),
        // EXPOSE.
        (
            "EXPOSE 80 443/tcp 53/udp 8000-8010 $PORT",
            Instruction::Expose(vec![w("80"), w("443/tcp"), w("53/udp"), w("8000-8010"), w("$PORT")]),
        ),
        // VOLUME.
        ("VOLUME /data", Instruction::Volume(vec![w("/data")])),
        ("VOLUME /a /b", Instruction::Volume(vec![w("/a"), w("/b")])),
        (r#"VOLUME ["/a", "/b c"]"#, Instruction::Volume(vec![w("/a"), w("/b c")])),
        // CMD, ENTRYPOINT.
        (r#"CMD ["python", "main.py"]"#, Instruction::Cmd(exec(&["python", "main.py"]))),
        ("CMD echo $HOME", Instruction::Cmd(shell("echo $HOME"))),
        ("CMD", Instruction::Cmd(shell(""))),
        (r#"ENTRYPOINT ["/bin/app", "--serve"]"#, Instruction::Entrypoint(exec(&["/bin/app", "--serve"]))),
        ("ENTRYPOINT exec app", Instruction::Entrypoint(shell("exec app"))),
        ("ENTRYPOINT []", Instruction::Entrypoint(exec(&[]))),
        // SHELL.
        (r#"SHELL ["/bin/bash", "-o", "pipefail", "-c"]"#, Instruction::Shell(vec!["/bin/bash".into(), "-o".into(), "pipefail".into(), "-c".into()])),
        // HEALTHCHECK.
        ("HEALTHCHECK NONE", Instruction::Healthcheck(Healthcheck::None)),
        ("healthcheck none", Instruction::Healthcheck(Healthcheck::None)),
        (
            "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1",
            Instruction::Healthcheck(Healthcheck::Cmd {
                test: shell("curl -f http://localhost/ || exit 1"),
                interval: Some(Duration::from_secs(30)),
                timeout: Some(Duration::from_secs(90)),
                start_period: Some(Duration::from_millis(1500)),
                start_interval: Some(Duration::from_millis(500)),
                retries: Some(3),
            }),
        ),
        (
            r#"HEALTHCHECK --interval=0 cmd ["/bin/check", "-q"]"#,
            Instruction::Healthcheck(Healthcheck::Cmd {
                test: exec(&["/bin/check", "-q"]),
                interval: None,
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: None,
            }),
        ),
        // ONBUILD.
        (
            "ONBUILD COPY . /app/src",
            Instruction::OnBuild(OnBuild {
                expression: "COPY . /app/src".into(),
                instruction: Box::new(copy(None, false, files(&["."], "/app/src"))),
            }),
        ),
        (
            "onbuild   RUN --mount=type=cache,target=/c make",
            Instruction::OnBuild(OnBuild {
                expression: "RUN --mount=type=cache,target=/c make".into(),
                instruction: Box::new(Instruction::Run(Run {
                    mounts: vec![mount(MountType::Cache, "/c")],
                    ..run(shell("make"))
                })),
            }),
        ),
    ];
    for (line, want) in table {
        assert_eq!(one(line), want, "{line}");
    }
}

#[test]
fn every_error_names_the_file_line_and_instruction() {
    let table: &[(&str, usize, &str, &str)] = &[
        ("FROM a\nFOO bar", 2, "FOO", "unknown instruction: FOO"),
        ("FROM a\n\n  cOpYy a b", 3, "cOpYy", "unknown instruction: cOpYy"),
        ("RUN echo", 1, "RUN", "no build stage in current context"),
        ("ARG A\n# c\nENV A=1\nFROM a", 3, "ENV", "no build stage in current context"),
        ("ARG A=1\nARG B", 2, "ARG", "dockerfile contains no stages to build"),
        ("", 1, "", "file with no instructions"),
        ("# just a comment\n\n", 2, "", "file with no instructions"),
        ("FROM", 1, "FROM", "FROM requires either one or three arguments"),
        ("FROM a AS", 1, "FROM", "FROM requires either one or three arguments"),
        ("FROM a b c", 1, "FROM", "FROM requires either one or three arguments"),
        (
            "FROM a AS 1st",
            1,
            "FROM",
            "invalid name for build stage: \"1st\", name can't start with a number or contain symbols",
        ),
        ("FROM a AS x\nFROM b AS X", 2, "FROM", "duplicate stage name \"x\""),
        ("FROM --plat=x a", 1, "FROM", "unknown flag: plat"),
        ("FROM --platform a", 1, "FROM", "missing a value on flag: platform"),
        // Flags.
        ("FROM a\nRUN --foo=bar x", 2, "RUN", "unknown flag: foo"),
        ("FROM a\nCOPY --from=a --from=b x y", 2, "COPY", "duplicate flag specified: from"),
        ("FROM a\nCOPY --link=yes x y", 2, "COPY", "expecting boolean value for flag link, not: yes"),
        ("FROM a\nCOPY --link= x y", 2, "COPY", "missing a value on flag: link"),
        ("FROM a\nCOPY --chown x y", 2, "COPY", "missing a value on flag: chown"),
        ("FROM a\nADD --from=b x y", 2, "ADD", "unknown flag: from"),
        ("FROM a\nCOPY --checksum=sha256:0 x y", 2, "COPY", "unknown flag: checksum"),
        ("FROM a\nENV --x=1 A=1", 2, "ENV", "unknown flag: x"),
        ("FROM a\nWORKDIR --x /a", 2, "WORKDIR", "unknown flag: x"),
        ("FROM a\nRUN --network=bridge x", 2, "RUN", "unsupported network mode \"bridge\""),
        ("FROM a\nRUN --security=lax x", 2, "RUN", "unsupported security mode \"lax\""),
        // Mounts.
        ("FROM a\nRUN --mount=type=volume,target=/x x", 2, "RUN", "unsupported mount type \"volume\""),
        ("FROM a\nRUN --mount=type=cache,target=/x,bogus=1 x", 2, "RUN", "unexpected key 'bogus' in 'bogus=1'"),
        ("FROM a\nRUN --mount=type=cache,target=/x,nokey x", 2, "RUN", "invalid field 'nokey' must be a key=value pair"),
        ("FROM a\nRUN --mount=type=cache x", 2, "RUN", "cache mount requires a target"),
        ("FROM a\nRUN --mount=type=cache,target=/x,uid=me x", 2, "RUN", "invalid value me for uid"),
        ("FROM a\nRUN --mount=type=cache,target=/x,mode=9 x", 2, "RUN", "invalid value 9 for mode"),
        ("FROM a\nRUN --mount=type=cache,target=/x,ro=maybe x", 2, "RUN", "invalid value for ro: maybe"),
        ("FROM a\nRUN --mount=type=cache,target=/x,sharing=all x", 2, "RUN", "unsupported sharing value \"all\""),
        ("FROM a\nRUN --mount=target=/x,sharing=shared x", 2, "RUN", "invalid cache sharing set for bind mount"),
        ("FROM a\nRUN --mount=type=bind,target=/x,uid=1 x", 2, "RUN", "uid not allowed for \"bind\" type mounts"),
        ("FROM a\nRUN --mount=type=tmpfs,target=/x,mode=0700 x", 2, "RUN", "mode not allowed for \"tmpfs\" type mounts"),
        ("FROM a\nRUN --mount=type=tmpfs,target=/x,size=lots x", 2, "RUN", "invalid value for size: lots"),
        ("FROM a\nRUN --mount=type=bind,target=/x,required x", 2, "RUN", "unexpected key 'required' for mount type 'bind'"),
        ("FROM a\nRUN --mount=type=secret x", 2, "RUN", "invalid secret mount. one of source, target required"),
        ("FROM a\nRUN --mount=type=secret,id=a,from=b x", 2, "RUN", "secret mount should not have a from"),
        ("FROM a\nRUN --mount=type=secret,id=a,source=b x", 2, "RUN", "both source and id can't be set"),
        ("FROM a\nRUN --mount= x", 2, "RUN", "failed to parse csv mounts: EOF"),
        ("FROM a\nRUN --mount=type=cache,\"target=/x,y\" x", 2, "RUN", "invalid field 'y' must be a key=value pair"),
        ("FROM a\nRUN --mount=target=/x\\\"y x", 2, "RUN", "failed to parse csv mounts: bare \" in non-quoted-field"),
        // Argument counts and forms.
        ("FROM a\nRUN", 2, "RUN", "RUN requires at least one argument"),
        ("FROM a\nRUN --network=none", 2, "RUN", "RUN requires at least one argument"),
        (
            "FROM a\nCOPY onlyone",
            2,
            "COPY",
            "COPY requires at least two arguments, but only one was provided. Destination could not be determined.",
        ),
        ("FROM a\nCOPY", 2, "COPY", "COPY requires at least two arguments"),
        (r#"FROM a\nADD ["x"]"#, 2, "ADD", "ADD requires at least two arguments"),
        ("FROM a\nCOPY a <<EOF\nx\nEOF", 2, "COPY", "COPY cannot accept a heredoc as a destination"),
        ("FROM a\nWORKDIR", 2, "WORKDIR", "WORKDIR requires exactly one argument"),
        ("FROM a\nUSER", 2, "USER", "USER requires exactly one argument"),
        ("FROM a\nSTOPSIGNAL", 2, "STOPSIGNAL", "STOPSIGNAL requires exactly one argument"),
        ("FROM a\nMAINTAINER", 2, "MAINTAINER", "MAINTAINER requires exactly one argument"),
        ("FROM a\nENV", 2, "ENV", "ENV requires at least one argument"),
        ("FROM a\nENV A", 2, "ENV", "ENV must have two arguments"),
        ("FROM a\nENV A=1 B", 2, "ENV", "Syntax error - can't find = in \"B\". Must be of the form: name=value"),
        ("FROM a\nENV =1", 2, "ENV", "ENV names can not be blank"),
        ("FROM a\nLABEL", 2, "LABEL", "LABEL requires at least one argument"),
        ("FROM a\nLABEL a=b c", 2, "LABEL", "Syntax error - can't find = in \"c\""),
        ("FROM a\nARG", 2, "ARG", "ARG requires at least one argument"),
        ("FROM a\nARG =x", 2, "ARG", "ARG names can not be blank"),
        ("FROM a\nEXPOSE", 2, "EXPOSE", "EXPOSE requires at least one argument"),
        ("FROM a\nEXPOSE 80/icmp", 2, "EXPOSE", "invalid proto: icmp"),
        ("FROM a\nEXPOSE http", 2, "EXPOSE", "invalid containerPort: http"),
        ("FROM a\nEXPOSE 70000", 2, "EXPOSE", "invalid containerPort: 70000"),
        ("FROM a\nEXPOSE 90-80", 2, "EXPOSE", "invalid range specified for container port: 90-80"),
        ("FROM a\nVOLUME", 2, "VOLUME", "VOLUME requires at least one argument"),
        (r#"FROM a\nVOLUME ["/a", ""]"#, 2, "VOLUME", "VOLUME specified can not be an empty string"),
        ("FROM a\nSHELL /bin/bash -c", 2, "SHELL", "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nSHELL []", 2, "SHELL", "SHELL requires at least one argument"),
        (r#"FROM a\nCMD ["a", 1]"#, 2, "CMD", "when using JSON array syntax, arrays must be comprised of strings only"),
        (r#"FROM a\nRUN ["a", null]"#, 2, "RUN", "arrays must be comprised of strings only"),
        (r#"FROM a\nVOLUME [["a"]]"#, 2, "VOLUME", "arrays must be comprised of strings only"),
        // HEALTHCHECK.
        ("FROM a\nHEALTHCHECK", 2, "HEALTHCHECK", "HEALTHCHECK requires at least one argument"),
        ("FROM a\nHEALTHCHECK NONE x", 2, "HEALTHCHECK", "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CMD", 2, "HEALTHCHECK", "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK CMD []", 2, "HEALTHCHECK", "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK RUN x", 2, "HEALTHCHECK", "Unknown type \"RUN\" in HEALTHCHECK (try CMD)"),
        ("FROM a\nHEALTHCHECK --interval=5 CMD x", 2, "HEALTHCHECK", "time: missing unit in duration \"5\""),
        ("FROM a\nHEALTHCHECK --timeout=5y CMD x", 2, "HEALTHCHECK", "time: unknown unit \"y\" in duration \"5y\""),
        ("FROM a\nHEALTHCHECK --interval=1us CMD x", 2, "HEALTHCHECK", "Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --start-period=-1s CMD x", 2, "HEALTHCHECK", "Interval \"start-period\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x", 2, "HEALTHCHECK", "--retries cannot be negative (-1)"),
        ("FROM a\nHEALTHCHECK --retries=x CMD x", 2, "HEALTHCHECK", "strconv.ParseInt: parsing \"x\": invalid syntax"),
        ("FROM a\nHEALTHCHECK --period=1s CMD x", 2, "HEALTHCHECK", "unknown flag: period"),
        // ONBUILD.
        ("FROM a\nONBUILD", 2, "ONBUILD", "ONBUILD requires at least one argument"),
        ("FROM a\nONBUILD ONBUILD RUN x", 2, "ONBUILD", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD from b", 2, "ONBUILD", "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD MAINTAINER me", 2, "ONBUILD", "MAINTAINER isn't allowed as an ONBUILD trigger"),
        ("FROM a\nONBUILD FOO x", 2, "ONBUILD", "unknown instruction: FOO"),
        ("FROM a\nONBUILD COPY x", 2, "ONBUILD", "COPY requires at least two arguments"),
        // Heredocs.
        ("FROM a\nRUN <<EOF\necho hi\n", 2, "RUN", "unterminated heredoc \"EOF\" starting on line 2"),
        ("FROM a\nRUN <<A <<B\na\nA\nb\n", 2, "RUN", "unterminated heredoc \"B\" starting on line 2"),
        ("FROM a\nCOPY <<-EOT /x\n\tx\n  EOT\n", 2, "COPY", "unterminated heredoc \"EOT\""),
        ("FROM a\nRUN \\\n  cat <<EOF\n", 2, "RUN", "unterminated heredoc \"EOF\" starting on line 2"),
        // Directives.
        ("# escape=x\nFROM a", 1, "", "invalid escape token 'x' does not match ` or \\"),
        ("# escape=\\\n# escape=`\nFROM a", 2, "", "only one escape parser directive can be used"),
        ("# syntax=a\n#SYNTAX=b\nFROM a", 2, "", "only one syntax parser directive can be used"),
    ];
    for &(src, line, instruction, reason) in table {
        let src = src.replace(r"\n", "\n");
        let (l, i, r) = parse_err(&src);
        assert_eq!((l, i.as_str()), (line, instruction), "{src:?}: {r}");
        assert!(
            r.contains(reason),
            "{src:?}: {r:?} should contain {reason:?}"
        );
    }
}

#[test]
fn the_error_message_names_the_path_the_line_and_the_instruction() {
    let e = parse(Path::new("app/Dockerfile"), b"FROM a\n\nRUN --nope x").unwrap_err();
    assert_eq!(
        e.to_string(),
        "dockerfile parse error in app/Dockerfile on line 3: RUN: unknown flag: nope"
    );
    let e = parse(Path::new("Dockerfile"), b"FROM a\nfoo").unwrap_err();
    assert_eq!(
        e.to_string(),
        "dockerfile parse error in Dockerfile on line 2: unknown instruction: foo"
    );
    let d = parse_ok("FROM a\nWORKDIR $X");
    let e = d.stages[0].instructions[0].error(Path::new("D"), "failed to process \"$X\"");
    assert_eq!(
        e.to_string(),
        "dockerfile parse error in D on line 2: WORKDIR: failed to process \"$X\""
    );
}

#[test]
fn lines_comments_and_continuations() {
    let src = "\u{feff}# a comment\n\n  from   alpine:3.19   AS   Base  \r\n\
               RUN apk add \\\n\
               # a comment inside the continuation\n\
               \n\
               \x20   curl \\\t \n\
               \x20   git\n\
               \t# indented comment\n\
               ENV A=1 \\\n\
               \x20 B=2\n\
               RUN echo done \\";
    let d = parse_ok(src);
    assert_eq!(d.escape, '\\');
    let s = &d.stages[0];
    assert_eq!(s.from.line, 3);
    assert_eq!(s.from.value.image, w("alpine:3.19"));
    assert_eq!(s.from.value.name.as_deref(), Some("base"));
    assert_eq!(s.from.original, "from   alpine:3.19   AS   Base");
    let spans: Vec<(usize, usize, &str)> = s
        .instructions
        .iter()
        .map(|i| (i.line, i.end_line, i.name))
        .collect();
    assert_eq!(spans, [(4, 8, "RUN"), (10, 11, "ENV"), (12, 12, "RUN")]);
    assert_eq!(
        s.instructions[0].value,
        Instruction::Run(run(shell("apk add     curl     git")))
    );
    assert_eq!(s.instructions[0].original, "RUN apk add     curl     git");
    assert_eq!(
        s.instructions[1].value,
        Instruction::Env(vec![kv("A", "1"), kv("B", "2")])
    );
    // A continuation at the end of the file ends the instruction.
    assert_eq!(
        s.instructions[2].value,
        Instruction::Run(run(shell("echo done")))
    );
    // A `#` that is not at the start of the line is not a comment.
    assert_eq!(
        one("RUN echo a # b"),
        Instruction::Run(run(shell("echo a # b")))
    );
}

#[test]
fn parser_directives() {
    let d = parse_ok("# syntax=docker/dockerfile:1\n# check=skip=all\n#escape=`\nFROM a\nRUN dir c:\\ `\n  && echo x\nCOPY a\\b c:\\d");
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(d.escape, '`');
    let i = &d.stages[0].instructions;
    assert_eq!(
        i[0].value,
        Instruction::Run(run(shell("dir c:\\   && echo x")))
    );
    assert_eq!((i[0].line, i[0].end_line), (5, 6));
    let Instruction::Copy(c) = &i[1].value else {
        panic!()
    };
    assert_eq!(c.files.dest, Word::new("c:\\d", '`'));
    assert_eq!(c.files.dest.expand(&NoVars).unwrap(), "c:\\d");

    // Directives only count before anything else: after a comment, a blank line or an
    // instruction they are comments.
    for src in [
        "# hello\n# escape=`\nFROM a\nRUN a `\n",
        "\n# escape=`\nFROM a\nRUN a `\n",
        "FROM a\n# escape=`\nRUN a `\n",
    ] {
        let d = parse_ok(src);
        assert_eq!(d.escape, '\\', "{src:?}");
        assert_eq!(
            d.stages[0].instructions[0].value,
            Instruction::Run(run(shell("a `"))),
            "{src:?}"
        );
    }
    // An unknown directive ends them too; spacing and case are free.
    assert_eq!(parse_ok("# foo=bar\n# escape=`\nFROM a").escape, '\\');
    assert_eq!(parse_ok("  #  ESCAPE = `  \nFROM a").escape, '`');
}

#[test]
fn heredocs() {
    let d = parse_ok(
        "FROM a\n\
         RUN <<EOF\n\
         echo $HOME\n\
         \tindented\n\
         EOF\n\
         RUN <<-EOT bash\n\
         \t\tset -e\n\
         \tEOT\n\
         RUN python3 <<'PY' > out; cat 3<<\"X\" <<A\n\
         print('hi')\n\
         PY\n\
         x\n\
         X\n\
         A\n\
         COPY <<EOF /etc/motd\n\
         hello\n\
         EOF\n\
         COPY --chmod=755 <<a.sh <<-b.sh /usr/local/bin/\n\
         #!/bin/sh\n\
         a.sh\n\
         \techo b\n\
         \tb.sh\n\
         RUN cat <<EOF\n\
         EOF\n\
         RUN echo '<<NOTHEREDOC' \"<<NOR\" a<<NOT <<<herestring\n\
         ONBUILD RUN <<EOF\n\
         make\n\
         EOF\n\
         RUN [\"sh\", \"-c\", \"cat <<EOF\"]\n",
    );
    let i = &d.stages[0].instructions;
    let spans: Vec<(usize, usize)> = i.iter().map(|i| (i.line, i.end_line)).collect();
    assert_eq!(
        spans,
        [
            (2, 5),
            (6, 8),
            (9, 14),
            (15, 17),
            (18, 22),
            (23, 24),
            (25, 25),
            (26, 28),
            (29, 29)
        ]
    );
    assert_eq!(
        i[0].value,
        Instruction::Run(Run {
            heredocs: vec![heredoc("EOF", "echo $HOME\n\tindented\n", true, false)],
            ..run(shell("<<EOF"))
        })
    );
    assert_eq!(i[0].original, "RUN <<EOF");
    let Instruction::Run(r) = &i[1].value else {
        panic!()
    };
    assert_eq!(r.heredocs, [heredoc("EOT", "\t\tset -e\n", true, true)]);
    assert_eq!(r.heredocs[0].chomped(), "set -e\n");
    assert_eq!(r.command, shell("<<-EOT bash"));
    let Instruction::Run(r) = &i[2].value else {
        panic!()
    };
    assert_eq!(
        r.heredocs,
        [
            heredoc("PY", "print('hi')\n", false, false),
            Heredoc {
                fd: Some(3),
                ..heredoc("X", "x\n", false, false)
            },
            heredoc("A", "", true, false),
        ]
    );
    assert_eq!(
        i[3].value,
        Instruction::Copy(Copy {
            from: None,
            parents: false,
            files: Files {
                sources: vec![Source::Heredoc(heredoc("EOF", "hello\n", true, false))],
                ..files(&[], "/etc/motd")
            },
        })
    );
    let Instruction::Copy(c) = &i[4].value else {
        panic!()
    };
    assert_eq!(c.files.chmod, Some(w("755")));
    assert_eq!(
        c.files.sources,
        [
            Source::Heredoc(heredoc("a.sh", "#!/bin/sh\n", true, false)),
            Source::Heredoc(heredoc("b.sh", "\techo b\n", true, true)),
        ]
    );
    let Instruction::Run(r) = &i[5].value else {
        panic!()
    };
    assert_eq!(r.heredocs, [heredoc("EOF", "", true, false)]);
    let Instruction::Run(r) = &i[6].value else {
        panic!()
    };
    assert!(r.heredocs.is_empty(), "{r:?}");
    let Instruction::OnBuild(o) = &i[7].value else {
        panic!()
    };
    assert_eq!(o.expression, "RUN <<EOF\nmake\nEOF");
    assert_eq!(
        *o.instruction,
        Instruction::Run(Run {
            heredocs: vec![heredoc("EOF", "make\n", true, false)],
            ..run(shell("<<EOF"))
        })
    );
    // Exec form has no heredocs: the next line is an instruction of its own.
    assert_eq!(
        i[8].value,
        Instruction::Run(run(exec(&["sh", "-c", "cat <<EOF"])))
    );
}

#[test]
fn from_lines_and_stages() {
    let d = parse_ok(
        "ARG BASE=alpine\nARG TAG\nFROM --platform=$BUILDPLATFORM ${BASE}:${TAG:-3} AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\nFROM build as test\n",
    );
    assert_eq!(d.global_args.len(), 2);
    assert_eq!((d.global_args[1].line, d.global_args[1].name), (2, "ARG"));
    assert_eq!(
        d.global_args[0].value,
        [ArgDecl {
            name: "BASE".into(),
            default: Some(w("alpine"))
        }]
    );
    assert_eq!(d.stages.len(), 3);
    assert_eq!(
        d.stages[0].from.value,
        From {
            image: w("${BASE}:${TAG:-3}"),
            name: Some("build".into()),
            platform: Some(w("$BUILDPLATFORM")),
        }
    );
    assert_eq!(d.stages[1].from.value.name, None);
    assert_eq!(d.stages[1].instructions.len(), 1);
    assert_eq!(d.stage_index("build", 1), Some(0));
    assert_eq!(d.stage_index("BUILD", 2), Some(0));
    assert_eq!(d.stage_index("0", 1), Some(0));
    assert_eq!(d.stage_index("1", 1), None);
    assert_eq!(d.stage_index("test", 2), None);
    assert_eq!(d.stage_index("alpine", 3), None);

    // The FROM line expands with the global scope.
    let mut scope = Scope::new(
        [("TAG".to_owned(), "3.20".to_owned())].into(),
        [("BUILDPLATFORM".to_owned(), "linux/amd64".to_owned())].into(),
    );
    for a in &d.global_args {
        scope.declare(&a.value).unwrap();
    }
    let from = &d.stages[0].from.value;
    assert_eq!(from.image.expand(&scope).unwrap(), "alpine:3.20");
    assert_eq!(
        from.platform.as_ref().unwrap().expand(&scope).unwrap(),
        "linux/amd64"
    );
}

#[test]
fn substitution() {
    let vars: BTreeMap<String, String> = [("A", "a"), ("E", ""), ("S", "x  y"), ("PATH", "/bin")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let table: &[(&str, &str)] = &[
        ("$A", "a"),
        ("${A}", "a"),
        ("${A}b", "ab"),
        ("$Ab", ""),
        ("$U", ""),
        ("pre-$A-post", "pre-a-post"),
        ("${U:-w}", "w"),
        ("${E:-w}", "w"),
        ("${A:-w}", "a"),
        ("${U-w}", "w"),
        ("${E-w}", ""),
        ("${A:+w}", "w"),
        ("${E:+w}", ""),
        ("${U:+w}", ""),
        ("${E+w}", "w"),
        ("${U+w}", ""),
        ("${U:-$A}", "a"),
        ("${U:-${E:-${A}x}}", "ax"),
        ("${U:-a b}", "a b"),
        ("${A:?msg}", "a"),
        (r"\$A", "$A"),
        (r"\${A}", "${A}"),
        ("'$A'", "$A"),
        ("\"$A\"", "a"),
        ("\"\\$A\"", "$A"),
        ("\"a\\nb\"", "a\\nb"),
        ("\"a\\\"b\"", "a\"b"),
        (r"a\ b", "a b"),
        ("\"two words\"", "two words"),
        ("it's'$A\"$A\"'x'", "itsaax"),
        ("$", "$"),
        ("$/x", "$/x"),
        ("a$", "a$"),
        ("$PATH:/usr/bin", "/bin:/usr/bin"),
        ("${A}${A}", "aa"),
        ("$1x", "x"),
        ("\\", ""),
    ];
    for &(word, want) in table {
        assert_eq!(w(word).expand(&vars).as_deref(), Ok(want), "{word}");
    }
    let errors: &[(&str, &str)] = &[
        ("${A", "syntax error: missing '}'"),
        ("${", "syntax error: missing '}'"),
        ("${}", "syntax error: bad substitution"),
        ("${:-x}", "syntax error: bad substitution"),
        ("${A:-x", "syntax error: missing '}'"),
        ("${A*x}", "unsupported modifier (*) in substitution"),
        ("${A:=x}", "unsupported modifier (=) in substitution"),
        ("${U:?}", "U: is not allowed to be unset"),
        ("${E:?must be set}", "E: must be set"),
        ("${U?}", "U: is not allowed to be unset"),
        (
            "'abc",
            "unexpected end of statement while looking for matching single-quote",
        ),
        (
            "\"abc",
            "unexpected end of statement while looking for matching double-quote",
        ),
    ];
    for &(word, want) in errors {
        let e = w(word).expand(&vars).unwrap_err();
        assert_eq!(e, format!("failed to process {word:?}: {want}"), "{word}");
    }
    // Nesting is bounded: deep input is an error, not a stack overflow.
    let deep = "${U:-".repeat(10_000);
    assert!(w(&deep).expand(&vars).is_err());
    // Words: unquoted whitespace (also from a variable) splits, quoted does not.
    assert_eq!(
        w("$S \"a b\" c").expand_words(&vars).unwrap(),
        ["x", "y", "a b", "c"]
    );
    assert_eq!(
        w("80/tcp  $E 443").expand_words(&vars).unwrap(),
        ["80/tcp", "443"]
    );
    // The backtick escape.
    assert_eq!(Word::new("`$A `\"", '`').expand(&vars).unwrap(), "$A \"");
    assert_eq!(Word::new(r"c:\a", '`').expand(&vars).unwrap(), r"c:\a");
    // ENV and LABEL values: the quotes the parser kept go when expanded.
    let Instruction::Env(kvs) = one(r#"ENV A="x $A" B='$A' C=a\ b\"c"#) else {
        panic!()
    };
    let got: Vec<String> = kvs
        .iter()
        .map(|kv| kv.value.expand(&vars).unwrap())
        .collect();
    assert_eq!(got, ["x a", "$A", "a b\"c"]);
}

#[test]
fn scope_follows_arg_and_env_rules() {
    let d = parse_ok(
        "ARG V=1\nARG G=g\nARG ONLY_GLOBAL=og\nARG NOVAL\nFROM img:$V\nARG V\nARG G=stage-$V\nARG TARGETOS\nARG HTTP_PROXY\nENV V=env\nARG V=late\n",
    );
    let mut global = Scope::new(
        [
            ("NOVAL".to_owned(), "from-cli".to_owned()),
            ("HTTP_PROXY".to_owned(), "http://proxy".to_owned()),
        ]
        .into(),
        [
            ("TARGETOS".to_owned(), "linux".to_owned()),
            ("TARGETARCH".to_owned(), "amd64".to_owned()),
        ]
        .into(),
    );
    for a in &d.global_args {
        global.declare(&a.value).unwrap();
    }
    // The FROM line sees the globals and the platform ARGs without a declaration.
    assert_eq!(global.var("V"), Some("1"));
    assert_eq!(global.var("NOVAL"), Some("from-cli"));
    assert_eq!(global.var("TARGETARCH"), Some("amd64"));
    assert_eq!(global.var("HTTP_PROXY"), None);
    assert_eq!(
        d.stages[0].from.value.image.expand(&global).unwrap(),
        "img:1"
    );

    let mut s = global.stage([("PATH".to_owned(), "/bin".to_owned())]);
    // In the stage nothing global is visible until declared again.
    assert_eq!(s.var("V"), None);
    assert_eq!(s.var("ONLY_GLOBAL"), None);
    assert_eq!(s.var("TARGETARCH"), None);
    assert_eq!(s.var("PATH"), Some("/bin"));
    let mut got = Vec::new();
    for i in &d.stages[0].instructions {
        match &i.value {
            Instruction::Arg(a) => s.declare(a).unwrap(),
            Instruction::Env(kvs) => {
                for kv in kvs {
                    s.set_env(kv.key.expand(&s).unwrap(), kv.value.expand(&s).unwrap());
                }
            }
            other => panic!("{other:?}"),
        }
        got.push(["V", "G", "TARGETOS", "HTTP_PROXY"].map(|n| s.var(n).map(str::to_owned)));
    }
    let o = |s: &str| Some(s.to_owned());
    assert_eq!(
        got[0],
        [o("1"), None, None, None],
        "ARG V takes the global value"
    );
    assert_eq!(
        got[1],
        [o("1"), o("stage-1"), None, None],
        "the stage default wins"
    );
    assert_eq!(got[2][2], o("linux"), "a platform ARG declared");
    assert_eq!(got[3][3], o("http://proxy"), "a build arg overrides");
    assert_eq!(got[4][0], o("env"), "ENV hides the ARG");
    assert_eq!(got[5][0], o("env"), "an ARG after ENV does not override it");
    assert_eq!(s.args().get("V").map(String::as_str), Some("late"));
    assert_eq!(s.env().get("V").map(String::as_str), Some("env"));
    assert_eq!(
        s.proxies().collect::<Vec<_>>(),
        [("HTTP_PROXY", "http://proxy")]
    );
    assert!(PROXY_ARGS.contains(&"no_proxy") && PLATFORM_ARGS.contains(&"BUILDVARIANT"));
    assert_eq!(PROXY_ARGS.len() + PLATFORM_ARGS.len(), 18);
}

#[test]
fn exposed_ports() {
    let p = |s: &str| s.parse::<ExposedPort>();
    assert_eq!(
        p("80"),
        Ok(ExposedPort {
            start: 80,
            end: 80,
            protocol: Protocol::Tcp
        })
    );
    assert_eq!(
        p("53/UDP"),
        Ok(ExposedPort {
            start: 53,
            end: 53,
            protocol: Protocol::Udp
        })
    );
    assert_eq!(
        p("8000-8010/sctp"),
        Ok(ExposedPort {
            start: 8000,
            end: 8010,
            protocol: Protocol::Sctp
        })
    );
    assert!(p("").is_err() && p("80/").is_err() && p("-1").is_err());
}

#[test]
fn go_durations() {
    let ms = 1_000_000i128;
    for (s, want) in [
        ("0", 0),
        ("1ms", ms),
        ("1.5s", 1500 * ms),
        ("1h2m3s", 3_723_000 * ms),
        ("-2s", -2000 * ms),
        ("+3us", 3000),
        ("300µs", 300_000),
        (".5m", 30_000 * ms),
        ("1.s", 1000 * ms),
    ] {
        assert_eq!(go_duration(s), Ok(want), "{s}");
    }
    for s in [
        "",
        "s",
        "1",
        "1.5",
        "1x",
        ".s",
        "-",
        "99999999999999999999h",
        "1e3s",
    ] {
        assert!(go_duration(s).is_err(), "{s}");
    }
}

#[test]
fn whole_dockerfiles_as_users_write_them() {
    // A beginner's.
    let d = parse_ok(
        "FROM busybox:latest\n\
         WORKDIR /app\n\
         COPY . .\n\
         RUN chmod +x main.sh\n\
         EXPOSE 8080\n\
         ENTRYPOINT [\"sh\", \"main.sh\"]\n",
    );
    let names: Vec<&str> = d.stages[0].instructions.iter().map(|i| i.name).collect();
    assert_eq!(names, ["WORKDIR", "COPY", "RUN", "EXPOSE", "ENTRYPOINT"]);
    assert_eq!(
        d.stages[0].instructions[4].value,
        Instruction::Entrypoint(exec(&["sh", "main.sh"]))
    );

    // Multi-stage with COPY --from, cache mounts and a secret.
    let d = parse_ok(
        "# syntax=docker/dockerfile:1.7\n\
         ARG GO=1.22\n\
         FROM golang:${GO} AS build\n\
         WORKDIR /src\n\
         RUN --mount=type=cache,target=/go/pkg/mod \\\n\
         \x20   --mount=type=bind,target=. \\\n\
         \x20   --mount=type=secret,id=netrc,target=/root/.netrc \\\n\
         \x20   go build -o /out/app .\n\
         \n\
         FROM busybox AS runtime\n\
         COPY --from=build --chown=65534:65534 /out/app /usr/local/bin/app\n\
         USER nobody\n\
         HEALTHCHECK --interval=10s CMD [\"app\", \"health\"]\n\
         CMD [\"app\"]\n",
    );
    assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1.7"));
    assert_eq!(d.global_args.len(), 1);
    let build = &d.stages[0];
    let Instruction::Run(r) = &build.instructions[1].value else {
        panic!()
    };
    assert_eq!(
        (build.instructions[1].line, build.instructions[1].end_line),
        (5, 8)
    );
    assert_eq!(
        r.mounts.iter().map(|m| m.kind).collect::<Vec<_>>(),
        [MountType::Cache, MountType::Bind, MountType::Secret]
    );
    assert_eq!(r.command, shell("go build -o /out/app ."));
    let Instruction::Copy(c) = &d.stages[1].instructions[0].value else {
        panic!()
    };
    assert_eq!(c.from, Some(w("build")));
    assert_eq!(d.stage_index(c.from.as_ref().unwrap().raw(), 1), Some(0));
    assert_eq!(d.stages[1].instructions[0].line, 11);

    // Heredocs as the docs show them.
    let d = parse_ok(
        "FROM debian\n\
         RUN <<EOT bash\n\
         \x20 set -ex\n\
         \x20 apt-get update\n\
         EOT\n\
         COPY <<-\"EOT\" /app/script.sh\n\
         \techo \"hello ${FOO}\"\n\
         \tEOT\n",
    );
    let i = &d.stages[0].instructions;
    assert_eq!((i[1].line, i[1].end_line), (6, 8));
    let Instruction::Copy(c) = &i[1].value else {
        panic!()
    };
    let Source::Heredoc(h) = &c.files.sources[0] else {
        panic!()
    };
    assert!(!h.expand && h.chomp);
    assert_eq!(h.chomped(), "echo \"hello ${FOO}\"\n");
}

#[test]
fn odd_input_is_an_error_or_parses_never_a_panic() {
    for src in [
        "\\",
        "FROM a\n\\\n",
        "FROM a\nRUN <<",
        "FROM a\nRUN <<\"EOF\n",
        "FROM a\nRUN <<'' x\n",
        "FROM a\nCOPY <<EOF <<EOF /x\nEOF\nEOF\n",
        "FROM a\nRUN [\"\\ud800\"]",
        "FROM a\nRUN --mount=\"",
        "FROM a\nRUN ----=",
        "FROM a\nHEALTHCHECK --interval=9223372036854775807h CMD x",
        "FROM a\nHEALTHCHECK --retries=99999999999 CMD x",
        "FROM a\nRUN --mount=type=tmpfs,target=/x,size=99999999999999999999p true",
        "FROM a\nENV ${",
        "FROM a\nARG \"",
        "FROM a\nLABEL 'a=b",
        "FROM a\nEXPOSE 80-",
        "#escape=`\nFROM a\nRUN x `",
        "FROM \u{1F600} AS \u{e9}",
        "FROM a\nONBUILD ONBUILD",
        "FROM a\nUSER :",
    ] {
        let _ = parse(Path::new("D"), src.as_bytes());
    }
    // Invalid UTF-8 is read lossily.
    let d = parse(Path::new("D"), b"FROM a\nLABEL x=\xff\n").unwrap();
    assert_eq!(
        d.stages[0].instructions[0].value,
        Instruction::Label(vec![kv("x", "\u{fffd}")])
    );
}
