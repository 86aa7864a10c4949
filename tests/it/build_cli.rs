//! `engine build` and `engine builder prune` as a Docker user types them (issue 12): a
//! context in a temp dir with a Dockerfile on a busybox image the engine root already has
//! (`localhost/busybox:latest`, imported with `Env PATH=/bin`, so no registry is needed),
//! built, then run with `engine run --rm`; the output modes (`-q`, `--progress
//! plain|tty|quiet`), the cache (`CACHED`, `--no-cache`, `builder prune`), `-f -` and a
//! Dockerfile on stdin, `--build-arg`, `--target`, `--secret`, `--label`, a failing RUN
//! and bad flags.

use std::fs;
use std::process::{Command, Output, Stdio};

use crate::common::{self, checked};

const BASE: &str = "localhost/busybox:latest";

/// An engine root of its own with [`BASE`], and a build context next to it.
struct Cli {
    root: tempfile::TempDir,
    context: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-build-cli")
            .tempdir()
            .unwrap();
        let engine = cargohold::Engine::open(root.path()).unwrap();
        common::busybox().import(&engine, BASE);
        drop(engine);
        Cli {
            root,
            context: tempfile::Builder::new()
                .prefix("cargohold-build-ctx")
                .tempdir()
                .unwrap(),
        }
    }

    /// Writes `content` at `path` in the context (parents made).
    fn file(&self, path: &str, content: &str) -> &Cli {
        let p = self.context.path().join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
        self
    }

    /// The context's `Dockerfile`.
    fn dockerfile(&self, text: &str) -> &Cli {
        self.file("Dockerfile", text)
    }

    /// The engine CLI on this root, in a network namespace of its own (`unshare --net`,
    /// only loopback): builds and runs that use the default bridge make it there, never
    /// in the host's namespace, and nothing they do can reach outside.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = common::engine_cmd(self.root.path(), args);
        c.current_dir(self.context.path());
        c
    }

    /// Runs to completion; stdout and stderr to files (a container inherits them).
    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(&mut self.cmd(args))
    }

    /// Runs with `input` on stdin.
    fn out_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdin");
        fs::write(&path, input).unwrap();
        common::output_via_files(self.cmd(args).stdin(fs::File::open(&path).unwrap()))
    }

    fn ok(&self, args: &[&str]) -> String {
        checked(args, self.out(args)).0
    }

    /// `build ARGS` in the context, checked; its stdout and stderr.
    fn build(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["build"];
        all.extend_from_slice(args);
        checked(&all, self.out(&all))
    }

    /// `run --rm IMAGE [CMD...]`: its stdout.
    fn run(&self, image: &str, cmd: &[&str]) -> String {
        let mut all = vec!["run", "--rm", image];
        all.extend_from_slice(cmd);
        self.ok(&all)
    }

    /// `images -q`: the short ids of the images.
    fn image_ids(&self) -> Vec<String> {
        self.ok(&["images", "-q"])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        // Containers left by a failed assertion go before the root does.
        common::remove_all_containers(self.root.path());
    }
}

/// Asserts success; stdout and stderr as text.
/// Whether `s` is an image id as `-q` prints it: `sha256:` and 64 hex digits.
fn is_image_id(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The lines of plain progress of the step named `name` (those starting with its `#N`).
fn step_lines<'a>(progress: &'a str, name: &str) -> Vec<&'a str> {
    let header = progress
        .lines()
        .find(|l| l.starts_with('#') && l.ends_with(name))
        .unwrap_or_else(|| panic!("no step {name:?} in:\n{progress}"));
    let id = header.split(' ').next().unwrap();
    progress
        .lines()
        .filter(|l| l.split(' ').next() == Some(id))
        .collect()
}

const APP: &str = "FROM localhost/busybox:latest
WORKDIR /app
COPY greeting.txt ./
RUN echo built-by-run > /app/built.txt && echo run-says-hello
CMD [\"cat\", \"/app/greeting.txt\", \"/app/built.txt\"]
";

/// `engine build -t app .` then `engine run --rm app`: the files the Dockerfile put in and
/// its CMD; the build prints nothing on stdout (progress is stderr's).
#[test]
#[ignore = "requires root"]
fn build_then_run_what_the_dockerfile_put_in() {
    let cli = Cli::new();
    cli.dockerfile(APP)
        .file("greeting.txt", "hello from the context\n");
    let (stdout, _) = cli.build(&["-t", "localhost/app:1", "."]);
    assert_eq!(stdout, "");
    assert_eq!(
        cli.run("localhost/app:1", &[]),
        "hello from the context\nbuilt-by-run\n"
    );
    // WORKDIR is the image's working directory
    assert_eq!(cli.run("localhost/app:1", &["pwd"]), "/app\n");
    assert!(cli.ok(&["images"]).contains("localhost/app "));
    // two tags, one image
    cli.build(&["-t", "localhost/app:2", "-t", "localhost/other", "."]);
    let inspect: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "localhost/app:1", "localhost/other"])).unwrap();
    assert_eq!(inspect[0]["Id"], inspect[1]["Id"], "{inspect}");
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "", "the build left containers");
}

/// `-q` prints the image id and nothing else (stderr too stays quiet), as does
/// `--progress=quiet`; the id is the image's.
#[test]
#[ignore = "requires root"]
fn quiet_prints_just_the_image_id() {
    let cli = Cli::new();
    cli.dockerfile(APP).file("greeting.txt", "hi\n");
    let (stdout, stderr) = cli.build(&["-q", "-t", "localhost/q", "."]);
    let id = stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("{stdout:?}"));
    assert!(is_image_id(id), "{stdout:?}");
    assert_eq!(stderr, "");
    let inspect: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "localhost/q"])).unwrap();
    assert_eq!(inspect[0]["Id"], id);
    let (again, stderr) = cli.build(&["--progress=quiet", "."]);
    assert_eq!(again, stdout, "a cached rebuild is the same image");
    assert_eq!(stderr, "");
    // untagged builds are found by id
    assert!(cli
        .image_ids()
        .contains(&id["sha256:".len()..][..12].to_owned()));
}

/// `--progress=plain`: BuildKit's `#N` lines with the RUN's output and `DONE`, then the
/// export; a second build shows `CACHED` and runs nothing; `--no-cache` runs it again;
/// `--progress=tty` shows ` => ` lines.
#[test]
#[ignore = "requires root"]
fn plain_progress_and_the_cache() {
    let cli = Cli::new();
    cli.dockerfile(APP).file("greeting.txt", "hi\n");
    let (_, first) = cli.build(&["--progress=plain", "-t", "localhost/p:1", "."]);
    assert!(first.starts_with("#1 "), "{first}");
    let run = step_lines(
        &first,
        "RUN echo built-by-run > /app/built.txt && echo run-says-hello",
    );
    assert!(
        run.iter().any(|l| {
            // `#N 0.123 run-says-hello`
            let w: Vec<&str> = l.splitn(3, ' ').collect();
            w.len() == 3 && w[1].parse::<f64>().is_ok() && w[2] == "run-says-hello"
        }),
        "{first}"
    );
    assert!(
        run.last().unwrap().contains(" DONE ") && run.last().unwrap().ends_with('s'),
        "{first}"
    );
    assert!(!first.contains("CACHED"), "{first}");
    let export = step_lines(&first, "exporting to image");
    assert!(
        export
            .iter()
            .any(|l| l.contains(" writing image sha256:") && l.ends_with(" done")),
        "{first}"
    );
    assert!(
        export
            .iter()
            .any(|l| l.ends_with(" naming to localhost/p:1 done")),
        "{first}"
    );
    // the RUN and the COPY steps are numbered `[i/n]` as BuildKit numbers stage steps
    assert!(
        first.lines().any(|l| l.contains("] COPY greeting.txt ./")),
        "{first}"
    );

    let (_, second) = cli.build(&["--progress=plain", "-t", "localhost/p:1", "."]);
    let run = step_lines(
        &second,
        "RUN echo built-by-run > /app/built.txt && echo run-says-hello",
    );
    assert!(run.iter().any(|l| l.ends_with(" CACHED")), "{second}");
    // No `#N 0.123 run-says-hello` output line (the step's title has the text too).
    let ran = |out: &str| {
        out.lines().any(|l| {
            let w: Vec<&str> = l.splitn(3, ' ').collect();
            w.len() == 3 && w[1].parse::<f64>().is_ok() && w[2] == "run-says-hello"
        })
    };
    assert!(!ran(&second), "the RUN ran again:\n{second}");

    let (_, third) = cli.build(&["--progress=plain", "--no-cache", "."]);
    assert!(third.contains(" run-says-hello\n"), "{third}");
    let run = step_lines(
        &third,
        "RUN echo built-by-run > /app/built.txt && echo run-says-hello",
    );
    assert!(!run.iter().any(|l| l.ends_with(" CACHED")), "{third}");

    let (_, tty) = cli.build(&["--progress=tty", "."]);
    assert!(tty.starts_with("[+] Building"), "{tty}");
    assert!(tty.lines().any(|l| l.starts_with(" => CACHED ")), "{tty}");
    assert!(tty.trim_end().ends_with("FINISHED"), "{tty}");
    // auto: stderr is a file here, so plain
    let (_, auto) = cli.build(&["."]);
    assert!(auto.starts_with("#1 "), "{auto}");
}

/// `--progress=tty` on a terminal is BuildKit's live view: step lines redrawn with their
/// timers, a running step's output under it, then the export and `FINISHED`.
#[test]
#[ignore = "requires root"]
fn tty_progress_on_a_terminal_is_live() {
    let cli = Cli::new();
    cli.dockerfile("FROM localhost/busybox:latest\nRUN echo live-line && sleep 1\n");
    let context = cli.context.path().to_str().unwrap();
    let build = cli.cmd(&["build", "--progress=tty", "-t", "localhost/live:1", context]);
    let term = crate::attach::sized_terminal(&build, 30, 120);
    let Some((code, shown)) = crate::attach::on_a_terminal(&term, b"") else {
        return;
    };
    assert_eq!(code, 0, "{shown}");
    // indicatif moves the cursor to redraw (plain output never does)
    assert!(
        shown.contains("\x1b[1A") || shown.contains("\x1b[2K"),
        "{shown:?}"
    );
    assert!(shown.contains(" => => # live-line"), "{shown:?}");
    assert!(shown.contains("RUN echo live-line && sleep 1"), "{shown:?}");
    assert!(shown.contains("naming to localhost/live:1"), "{shown:?}");
    assert!(shown.trim_end().ends_with("FINISHED"), "{shown:?}");
    assert!(cli.run("localhost/live:1", &["true"]).is_empty());
}

/// `-f -` reads the Dockerfile from stdin with the directory as context; `build -` reads a
/// Dockerfile with no context at all; `-f FILE` names another file.
#[test]
#[ignore = "requires root"]
fn dockerfile_from_stdin_and_from_another_file() {
    let cli = Cli::new();
    cli.file("data.txt", "from the context\n");
    let text =
        "FROM localhost/busybox:latest\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n";
    let args = ["build", "-q", "-t", "localhost/stdin:1", "-f", "-", "."];
    let (stdout, _) = checked(&args, cli.out_with_stdin(&args, text.as_bytes()));
    assert!(is_image_id(stdout.trim()), "{stdout}");
    assert_eq!(cli.run("localhost/stdin:1", &[]), "from the context\n");

    let alone = "FROM localhost/busybox:latest\nRUN echo no-context > /m\nCMD [\"cat\", \"/m\"]\n";
    let args = ["build", "-q", "-t", "localhost/stdin:2", "-"];
    checked(&args, cli.out_with_stdin(&args, alone.as_bytes()));
    assert_eq!(cli.run("localhost/stdin:2", &[]), "no-context\n");

    cli.file("docker/Dev.Dockerfile", alone);
    cli.build(&[
        "-q",
        "-t",
        "localhost/file:1",
        "-f",
        "docker/Dev.Dockerfile",
        ".",
    ]);
    assert_eq!(cli.run("localhost/file:1", &[]), "no-context\n");
}

/// `--build-arg K=V` sets a declared ARG; `--build-arg K` takes K's value from the
/// environment; without either the default stands.
#[test]
#[ignore = "requires root"]
fn build_args_from_the_flag_and_the_environment() {
    let cli = Cli::new();
    cli.dockerfile(
        "FROM localhost/busybox:latest\nARG WHO=nobody\nRUN echo \"hi $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n",
    );
    cli.build(&["-q", "-t", "localhost/arg:default", "."]);
    assert_eq!(cli.run("localhost/arg:default", &[]), "hi nobody\n");
    cli.build(&[
        "-q",
        "-t",
        "localhost/arg:flag",
        "--build-arg",
        "WHO=world",
        ".",
    ]);
    assert_eq!(cli.run("localhost/arg:flag", &[]), "hi world\n");
    let args = [
        "build",
        "-q",
        "-t",
        "localhost/arg:env",
        "--build-arg",
        "WHO",
        ".",
    ];
    checked(
        &args,
        common::output_via_files(cli.cmd(&args).env("WHO", "the env")),
    );
    assert_eq!(cli.run("localhost/arg:env", &[]), "hi the env\n");
}

/// `--target` builds the named stage (and not the ones after it); without it the last
/// stage, which copies from the first.
#[test]
#[ignore = "requires root"]
fn target_picks_the_stage() {
    let cli = Cli::new();
    cli.dockerfile(
        "FROM localhost/busybox:latest AS base\n\
         RUN echo base > /stage\n\
         CMD [\"cat\", \"/stage\"]\n\
         \n\
         FROM localhost/busybox:latest AS final\n\
         COPY --from=base /stage /from-base\n\
         RUN echo final > /stage && echo final-ran\n\
         CMD [\"cat\", \"/from-base\", \"/stage\"]\n",
    );
    let (_, progress) = cli.build(&[
        "--progress=plain",
        "--target",
        "base",
        "-t",
        "localhost/t:base",
        ".",
    ]);
    assert_eq!(cli.run("localhost/t:base", &[]), "base\n");
    assert!(!progress.contains("final-ran"), "{progress}");
    cli.build(&["-q", "-t", "localhost/t:final", "."]);
    assert_eq!(cli.run("localhost/t:final", &[]), "base\nfinal\n");
    let o = cli.out(&["build", "--target", "nosuchstage", "."]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("nosuchstage"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `--label` lands in the image config; `--secret` (a file, and an environment variable)
/// is seen by `RUN --mount=type=secret` and is not in the image.
#[test]
#[ignore = "requires root"]
fn labels_and_secrets() {
    let cli = Cli::new();
    let secret_dir = tempfile::tempdir().unwrap();
    let secret = secret_dir.path().join("token");
    fs::write(&secret, "s3cret-file").unwrap();
    cli.dockerfile(
        "FROM localhost/busybox:latest\n\
         RUN --mount=type=secret,id=tok cat /run/secrets/tok > /dev/null && \
             [ \"$(cat /run/secrets/tok)\" = s3cret-file ] && echo ok > /file-ok\n\
         RUN --mount=type=secret,id=envtok [ \"$(cat /run/secrets/envtok)\" = s3cret-env ] && echo ok > /env-ok\n\
         CMD [\"sh\", \"-c\", \"cat /file-ok /env-ok; ls /run/secrets 2>/dev/null | wc -l\"]\n",
    );
    let src = format!("id=tok,src={}", secret.display());
    let args = [
        "build",
        "-q",
        "-t",
        "localhost/sec:1",
        "--label",
        "org.example.team=build",
        "--label",
        "empty",
        "--secret",
        &src,
        "--secret",
        "id=envtok,env=CARGOHOLD_TEST_SECRET",
        ".",
    ];
    checked(
        &args,
        common::output_via_files(cli.cmd(&args).env("CARGOHOLD_TEST_SECRET", "s3cret-env")),
    );
    assert_eq!(
        cli.run("localhost/sec:1", &[])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["ok", "ok", "0"]
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "localhost/sec:1"])).unwrap();
    let labels = &inspect[0]["Config"]["Labels"];
    assert_eq!(labels["org.example.team"], "build", "{inspect}");
    assert_eq!(labels["empty"], "", "{inspect}");
    // the secret is nowhere in the image's files (an export of a container's rootfs is
    // an uncompressed tar of them)
    let id = cli.ok(&["create", "localhost/sec:1"]);
    let tar = cli.root.path().join("sec.tar");
    cli.ok(&["export", "-o", tar.to_str().unwrap(), id.trim()]);
    cli.ok(&["rm", id.trim()]);
    let files = fs::read(&tar).unwrap();
    assert!(files.len() > 100_000, "the export holds busybox");
    for needle in [&b"s3cret-file"[..], b"s3cret-env"] {
        assert!(
            !files.windows(needle.len()).any(|w| w == needle),
            "{} is in the image",
            String::from_utf8_lossy(needle)
        );
    }
}

/// A RUN that exits non-zero: exit 1, BuildKit's report (the step's output, the
/// Dockerfile line marked `>>>`, `ERROR: failed to solve:` with the exit code), no image
/// tagged and no container left.
#[test]
#[ignore = "requires root"]
fn a_failing_run_reports_its_line() {
    let cli = Cli::new();
    cli.dockerfile(
        "FROM localhost/busybox:latest\n\
         RUN echo fine\n\
         RUN echo about-to-fail && exit 3\n\
         RUN echo never-here\n",
    );
    let images_before = cli.image_ids();
    for progress in ["plain", "tty", "quiet"] {
        let flag = format!("--progress={progress}");
        let o = cli.out(&["build", &flag, "-t", "localhost/broken", "."]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{progress}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "", "{progress}");
        assert!(stderr.contains("Dockerfile:3\n"), "{progress}: {stderr}");
        assert!(
            stderr.contains(" 3 | >>> RUN echo about-to-fail && exit 3\n"),
            "{progress}: {stderr}"
        );
        assert!(stderr.contains("about-to-fail\n"), "{progress}: {stderr}");
        let last = stderr.lines().last().unwrap();
        assert!(
            last.starts_with("ERROR: failed to solve: ") && last.contains("exit code: 3"),
            "{progress}: {stderr}"
        );
        // The step after never started (the excerpt may still show its line, as
        // BuildKit's shows the lines around the failing one).
        assert!(
            !stderr.contains("] RUN echo never-here"),
            "{progress}: {stderr}"
        );
        if progress == "plain" {
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with('#') && l.contains(" ERROR: ")),
                "{stderr}"
            );
        }
    }
    assert!(!cli.ok(&["images"]).contains("localhost/broken"));
    assert_eq!(cli.image_ids(), images_before);
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");

    // a parse error points at its line the same way
    cli.dockerfile("FROM localhost/busybox:latest\nFROBNICATE now\n");
    let o = cli.out(&["build", "."]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(" 2 | >>> FROBNICATE now\n"), "{stderr}");
    assert!(stderr.contains("ERROR: failed to solve: "), "{stderr}");
}

/// Bad flags fail before anything is built, with exit 125 and a message naming the flag;
/// a missing context says so, as buildx does.
#[test]
fn bad_flags_name_the_flag() {
    let root = tempfile::tempdir().unwrap();
    let ctx = tempfile::tempdir().unwrap();
    fs::write(ctx.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let engine = |args: &[&str]| {
        Command::new(common::example_bin("engine"))
            .arg("--root")
            .arg(root.path())
            .arg("build")
            .args(args)
            .arg(ctx.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for (args, flag, words) in [
        (
            &["--network", "bogus"][..],
            "--network",
            &["\"bogus\"", "none"][..],
        ),
        (
            &["--secret", "nosrc"],
            "--secret",
            &["invalid field 'nosrc' must be a key=value pair"],
        ),
        (&["--secret", "src=/etc/hostname"], "--secret", &["id"]),
        (
            &["--secret", "id=a,env=CARGOHOLD_NO_SUCH_VARIABLE"],
            "--secret",
            &["CARGOHOLD_NO_SUCH_VARIABLE is not set"],
        ),
        (&["--secret", "id=a,kind=file"], "--secret", &["'kind'"]),
        (&["-t", "Not/Lower:Case"], "--tag", &["\"Not/Lower:Case\""]),
        (&["--progress", "fancy"], "--progress", &["fancy"]),
    ] {
        let o = engine(args);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
        for w in words {
            assert!(stderr.contains(w), "{args:?}: {w:?} not in {stderr}");
        }
        assert_eq!(o.stdout, b"", "{args:?}");
    }
    let o = Command::new(common::example_bin("engine"))
        .arg("--root")
        .arg(root.path())
        .args(["build", "/nonexistent/cargohold-ctx"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "ERROR: unable to prepare context: path \"/nonexistent/cargohold-ctx\" not found\n"
    );
    // nothing was made: the root has no image
    let o = Command::new(common::example_bin("engine"))
        .arg("--root")
        .arg(root.path())
        .args(["images", "-q"])
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"");
}

/// `builder prune` drops what only the cache holds (a 1 MB layer of a stage the result
/// does not keep) and says how much; the tagged image stays and runs; the next build
/// runs its steps again; a second prune reclaims nothing.
#[test]
#[ignore = "requires root"]
fn builder_prune_reclaims_the_cache() {
    let cli = Cli::new();
    cli.dockerfile(
        "FROM localhost/busybox:latest AS big\n\
         RUN head -c 1000000 /dev/zero > /big && echo small > /small\n\
         FROM localhost/busybox:latest\n\
         COPY --from=big /small /small\n\
         CMD [\"cat\", \"/small\"]\n",
    );
    cli.build(&["-q", "-t", "localhost/pr:1", "."]);
    let out = cli.ok(&["builder", "prune", "-f"]);
    let size = out
        .strip_prefix("Total reclaimed space: ")
        .and_then(|s| s.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("{out:?}"));
    let (num, unit) = size.split_at(size.find(|c: char| c.is_ascii_alphabetic()).unwrap());
    let bytes = num.parse::<f64>().unwrap()
        * match unit {
            "B" => 1.0,
            "kB" => 1e3,
            "MB" => 1e6,
            "GB" => 1e9,
            u => panic!("unit {u}"),
        };
    assert!(bytes >= 1e6, "{out}");
    assert_eq!(cli.run("localhost/pr:1", &[]), "small\n");
    assert_eq!(
        cli.ok(&["builder", "prune", "-a", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let (_, progress) = cli.build(&["--progress=plain", "."]);
    let run = step_lines(
        &progress,
        "RUN head -c 1000000 /dev/zero > /big && echo small > /small",
    );
    assert!(!run.iter().any(|l| l.ends_with(" CACHED")), "{progress}");
}

/// Ctrl-C in the middle of a RUN: the build stops (its RUN container dies with it), nothing
/// is tagged, and the next command on the root finds no container, mount or scratch left.
#[test]
#[ignore = "requires root"]
fn an_interrupted_build_leaves_the_store_consistent() {
    let cli = Cli::new();
    cli.dockerfile(
        "FROM localhost/busybox:latest\n\
         RUN echo started && sleep 60\n",
    );
    let mut child = cli
        .cmd(&["build", "--progress=plain", "-t", "localhost/int:1", "."])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the RUN's container.
    let containers = cli.root.path().join("containers");
    let start = std::time::Instant::now();
    loop {
        let n = fs::read_dir(&containers)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0);
        if n > 0 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "no RUN container appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SIGINT to the engine (unshare execs it: the same pid).
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    // The next command repairs what the dead build left.
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
    assert!(!cli.ok(&["images"]).contains("localhost/int"));
    let root = cli.root.path().display().to_string();
    assert!(
        common::mounts_with(&root).is_empty(),
        "{:?}",
        common::mounts_with(&root)
    );
    let scratch: Vec<_> = fs::read_dir(cli.root.path().join("build/tmp"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(scratch.is_empty(), "{scratch:?}");
    // And a build works again (the RUN was never cached).
    cli.dockerfile("FROM localhost/busybox:latest\nRUN echo again\n");
    let (_, err) = cli.build(&["--progress=plain", "-t", "localhost/int:1", "."]);
    assert!(err.contains("again"), "{err}");
}
