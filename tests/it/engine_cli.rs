//! `examples/engine.rs`, the docker-like command line: import, images, run (output, exit
//! codes, volumes), ps, rm, and its errors, on a busybox image imported from a tarball.
//!
//! The example binary is found next to this test binary (`target/debug/examples/engine`;
//! `cargo test` builds examples) and built with `cargo build --example engine` if missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::common;

const IMAGE: &str = "localhost/busybox:latest";

/// The path of the example binary, built on first use if `cargo test` did not build it.
fn engine_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| common::example_bin("engine"))
}

/// An engine root of its own, the busybox image imported into it.
struct Cli {
    root: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let cli = Cli {
            root: tempfile::Builder::new()
                .prefix("cargohold-engine-cli")
                .tempdir()
                .unwrap(),
        };
        let src = tempfile::tempdir().unwrap();
        let rootfs = src.path().join("rootfs");
        common::make_rootfs(&rootfs);
        let tarball = src.path().join("busybox.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tarball)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        let id = cli.ok(&["import", tarball.to_str().unwrap(), IMAGE]);
        assert!(id.trim().starts_with("sha256:"), "{id}");
        cli
    }

    /// Runs to completion; stdout and stderr to files (a container inherits them).
    fn out(&self, args: &[&str]) -> Output {
        let stdout = tempfile::tempfile().unwrap();
        let stderr = tempfile::tempfile().unwrap();
        let status = Command::new(engine_bin())
            .arg("--root")
            .arg(self.root.path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().unwrap())
            .stderr(stderr.try_clone().unwrap())
            .status()
            .unwrap();
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            let mut v = Vec::new();
            f.seek(std::io::SeekFrom::Start(0)).unwrap();
            f.read_to_end(&mut v).unwrap();
            String::from_utf8_lossy(&v).into_owned()
        };
        Output {
            status,
            stdout: read(stdout).into_bytes(),
            stderr: read(stderr).into_bytes(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "engine {args:?}: {:?}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn code(&self, args: &[&str]) -> i32 {
        self.out(args).status.code().expect("exited")
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        // containers left by a failed assertion: unmount their rootfs before the TempDir goes
        if let Ok(ids) = std::panic::catch_unwind(|| self.out(&["ps", "-a", "-q"])) {
            for id in String::from_utf8_lossy(&ids.stdout).lines() {
                let _ = self.out(&["rm", "-f", id]);
            }
        }
    }
}

#[test]
#[ignore = "requires root"]
fn images_lists_the_import() {
    let cli = Cli::new();
    let out = cli.ok(&["images"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    let row = lines.next().expect("one image");
    assert!(row.starts_with("localhost/busybox "), "{row}");
    assert!(row.contains(" latest "), "{row}");
    let q = cli.ok(&["images", "-q"]);
    assert_eq!(q.lines().count(), 1);
    assert_eq!(q.trim().len(), 12);
    assert!(row.contains(q.trim()), "{row}");
}

#[test]
#[ignore = "requires root"]
fn run_output_and_exit_codes() {
    let cli = Cli::new();
    let out = cli.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        IMAGE,
        "sh",
        "-c",
        "echo hi; hostname",
    ]);
    assert_eq!(out, "hi\nbox\n");
    assert_eq!(cli.code(&["run", "--rm", IMAGE, "sh", "-c", "exit 3"]), 3);
    let o = cli.out(&["run", "--rm", IMAGE, "no-such-command"]);
    assert_eq!(
        o.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = cli.out(&["run", "--rm", "localhost/no-such-image:latest", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(!o.stderr.is_empty());
    // --rm left nothing behind
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
}

#[test]
#[ignore = "requires root"]
fn run_detached_then_logs_and_stop() {
    let cli = Cli::new();
    // -d prints the id and returns while the container runs on under its monitor.
    let id = cli.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        IMAGE,
        "sh",
        "-c",
        "echo started; echo oops >&2; sleep 30",
    ]);
    assert_eq!(id.trim().len(), 64, "{id:?}");
    let mut logs = String::new();
    for _ in 0..100 {
        logs = cli.ok(&["logs", "bg"]);
        if logs.contains("started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(logs, "started\n");
    let o = cli.out(&["logs", "bg"]);
    assert_eq!(String::from_utf8_lossy(&o.stderr), "oops\n");
    assert!(cli.ok(&["ps"]).contains("bg"));
    cli.ok(&["stop", "-t", "1", "bg"]);
    let ps = cli.ok(&["ps", "-a"]);
    assert!(ps.contains("Exited (137)"), "{ps}");
    // The log survives the container's exit; -t prefixes each line with its time.
    let t = cli.ok(&["logs", "-t", "bg"]);
    assert!(t.ends_with(" started\n") && t.starts_with("20"), "{t:?}");
    cli.ok(&["rm", "bg"]);
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
}

#[test]
#[ignore = "requires root"]
fn volume_persists_between_runs() {
    let cli = Cli::new();
    cli.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    let out = cli.ok(&["run", "--rm", "-v", "data:/data", IMAGE, "cat", "/data/f"]);
    assert_eq!(out, "kept\n");
    assert_eq!(cli.ok(&["volume", "ls", "-q"]), "data\n");
    let inspect: serde_json::Value =
        serde_json::from_str(&cli.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(inspect[0]["Name"], "data");
    assert_eq!(cli.ok(&["volume", "rm", "data"]), "data\n");
    assert_eq!(cli.ok(&["volume", "ls", "-q"]), "");
}

#[test]
#[ignore = "requires root"]
fn ps_inspect_rm_a_stopped_container() {
    let cli = Cli::new();
    assert_eq!(
        cli.code(&["run", "--name", "done", IMAGE, "sh", "-c", "exit 4"]),
        4
    );
    assert_eq!(cli.ok(&["ps", "-q"]), "", "not running");
    let all = cli.ok(&["ps", "-a"]);
    let header = all.lines().next().unwrap();
    for col in [
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "NAMES",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let row = all.lines().nth(1).expect("the stopped container");
    assert!(row.ends_with(" done"), "{row}");
    assert!(row.contains("Exited (4)"), "{row}");
    assert!(row.contains(IMAGE), "{row}");
    let inspect: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "done"])).unwrap();
    assert_eq!(
        inspect[0]["Name"].as_str().unwrap().trim_start_matches('/'),
        "done"
    );
    assert_eq!(inspect[0]["State"]["ExitCode"], 4);
    assert_eq!(cli.ok(&["rm", "done"]), "done\n");
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
    assert_eq!(cli.code(&["rm", "done"]), 125);
}

#[test]
#[ignore = "requires root"]
fn create_start_exec_pause_wait_rename_and_filters() {
    let cli = Cli::new();
    let id = cli.ok(&[
        "create",
        "--name",
        "svc",
        "--label",
        "team=core",
        IMAGE,
        "sh",
        "-c",
        "echo up; exec sleep 30",
    ]);
    assert_eq!(id.trim().len(), 64, "{id:?}");
    let ps = cli.ok(&["ps", "-a"]);
    assert!(ps.contains("Created") && ps.contains("svc"), "{ps}");
    assert_eq!(cli.ok(&["ps", "-q"]), "", "not running yet");
    cli.ok(&["start", "svc"]);
    assert_eq!(cli.ok(&["ps", "-q"]).trim(), &id.trim()[..12]);
    // exec: output, exit code, env, user, workdir
    let out = cli.ok(&[
        "exec",
        "-e",
        "WHO=cli",
        "-u",
        "65534",
        "-w",
        "/tmp",
        "svc",
        "sh",
        "-c",
        "echo $WHO $(id -u) $(pwd)",
    ]);
    assert_eq!(out, "cli 65534 /tmp\n");
    assert_eq!(cli.code(&["exec", "svc", "sh", "-c", "exit 5"]), 5);
    assert_eq!(cli.code(&["exec", "svc", "no-such-command"]), 127);
    let out = cli.ok(&["exec", "-t", "svc", "sh", "-c", "tty"]);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    // ps filters
    assert!(cli
        .ok(&["ps", "--filter", "label=team=core"])
        .contains("svc"));
    assert!(!cli.ok(&["ps", "-f", "label=team=other"]).contains("svc"));
    assert!(cli.ok(&["ps", "-f", "status=running", "-q"]).trim().len() == 12);
    assert_eq!(cli.code(&["ps", "-f", "colour=red"]), 125);
    // pause / unpause
    cli.ok(&["pause", "svc"]);
    assert!(cli.ok(&["ps"]).contains("(Paused)"));
    assert!(cli.ok(&["ps", "-f", "status=paused", "-q"]).trim().len() == 12);
    cli.ok(&["unpause", "svc"]);
    assert!(!cli.ok(&["ps"]).contains("(Paused)"));
    // restart keeps the log of the first run; rename; wait prints the exit code
    cli.ok(&["restart", "-t", "1", "svc"]);
    let mut logs = String::new();
    for _ in 0..100 {
        logs = cli.ok(&["logs", "svc"]);
        if logs == "up\nup\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(logs, "up\nup\n");
    cli.ok(&["rename", "svc", "svc2"]);
    assert_eq!(cli.code(&["logs", "svc"]), 125);
    cli.ok(&["kill", "svc2"]);
    assert_eq!(cli.ok(&["wait", "svc2"]), "137\n");
    assert_eq!(cli.code(&["start", "no-such-container"]), 125);
    // start -a: this run's output, and its exit code
    cli.ok(&[
        "create",
        "--name",
        "job",
        IMAGE,
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    let o = cli.out(&["start", "-a", "job"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "run\n");
    let o = cli.out(&["start", "-a", "job"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "run\n",
        "only the second run"
    );
    assert_eq!(cli.ok(&["logs", "job"]), "run\nrun\n");
    // -t: the process sees a terminal (its output comes through the pty)
    let out = cli.ok(&["run", "--rm", "-t", IMAGE, "sh", "-c", "tty"]);
    assert!(out.starts_with("/dev/pts/"), "{out:?}");
    cli.ok(&["rm", "svc2", "job"]);
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
}

#[test]
#[ignore = "requires root"]
fn diff_commit_export_a_container() {
    let cli = Cli::new();
    cli.ok(&[
        "run",
        "--name",
        "changer",
        IMAGE,
        "sh",
        "-c",
        "echo new > /etc/added; rm /etc/group; mkdir /made",
    ]);
    assert_eq!(
        cli.ok(&["diff", "changer"]),
        "C /etc\nA /etc/added\nD /etc/group\nA /made\n"
    );

    // commit prints the new image's id; the image runs with the change
    let id = cli.ok(&[
        "commit",
        "-a",
        "Jane",
        "-m",
        "add a file",
        "-c",
        r#"CMD ["cat", "/etc/added"]"#,
        "--pause=false",
        "changer",
        "localhost/changed:1",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id:?}");
    assert!(cli.ok(&["images", "-q"]).contains(&id[7..19]));
    assert_eq!(cli.ok(&["run", "--rm", "localhost/changed:1"]), "new\n");
    assert_eq!(
        cli.ok(&[
            "run",
            "--rm",
            "localhost/changed:1",
            "sh",
            "-c",
            "test -e /etc/group || echo gone"
        ]),
        "gone\n"
    );
    // without a reference: an untagged image
    let untagged = cli.ok(&["commit", "changer"]);
    assert!(untagged.trim().starts_with("sha256:"), "{untagged}");
    assert!(cli.ok(&["images"]).contains("<none>"));

    // export -o writes a tar of the merged file system
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("changer.tar");
    assert_eq!(
        cli.ok(&["export", "-o", file.to_str().unwrap(), "changer"]),
        ""
    );
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let st = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-xf")
        .arg(&file)
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/added")).unwrap(),
        "new\n"
    );
    assert!(!rootfs.join("etc/group").exists());
    assert!(rootfs.join("made").is_dir());
    assert!(rootfs.join("bin/busybox").is_file());
    // and to stdout by default
    let out = Command::new(engine_bin())
        .arg("--root")
        .arg(cli.root.path())
        .args(["export", "changer"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let list = Command::new("tar")
        .arg("-t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut tar| {
            use std::io::Write;
            tar.stdin.take().unwrap().write_all(&out.stdout)?;
            tar.wait_with_output()
        })
        .unwrap();
    let names = String::from_utf8(list.stdout).unwrap();
    assert!(names.lines().any(|n| n == "etc/added"), "{names}");
    assert!(!names.contains(".wh."), "{names}");

    // errors: 125 and a message, nothing written
    let o = cli.out(&["commit", "-c", "FROM busybox", "changer", "localhost/bad:1"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("FROM is not a valid change command"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!cli.ok(&["images"]).contains("localhost/bad"));
    assert_eq!(cli.code(&["diff", "no-such-container"]), 125);
    assert_eq!(cli.code(&["commit", "no-such-container"]), 125);
    let missing = dir.path().join("missing.tar");
    assert_eq!(
        cli.code(&["export", "-o", missing.to_str().unwrap(), "nope"]),
        125
    );
    assert!(!missing.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no partial file"
    );
    cli.ok(&["rm", "changer"]);
}

#[test]
#[ignore = "requires root"]
fn stats_and_top_of_a_detached_container() {
    let cli = Cli::new();
    let id = cli.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--memory",
        "64m",
        "--pids-limit",
        "20",
        IMAGE,
        "sh",
        "-c",
        "sleep 100 & exec sleep 200",
    ]);
    let short = &id.trim()[..12];
    // top: once the init has exec'd, it and its child.
    let mut top = String::new();
    for _ in 0..200 {
        top = cli.ok(&["top", "web"]);
        if top.contains("sleep 200") && top.contains("sleep 100") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut lines = top.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["UID", "PID", "PPID", "NSPID", "TIME", "CMD"]);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{top}");
    let init = rows
        .iter()
        .find(|r| r[5..] == ["sleep", "200"])
        .expect(&top);
    let child = rows
        .iter()
        .find(|r| r[5..] == ["sleep", "100"])
        .expect(&top);
    assert_eq!(init[0], "root");
    assert_eq!(init[3], "1", "pid 1 in the container: {top}");
    assert_eq!(child[2], init[1], "the child's parent is the init: {top}");

    let out = cli.ok(&["stats", "--no-stream", "web"]);
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    let cols: Vec<&str> = header
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        cols,
        [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS"
        ]
    );
    let row = lines.next().expect("one row");
    assert!(lines.next().is_none(), "{out}");
    let f: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(f[0], short, "{row}");
    assert_eq!(f[1], "web", "{row}");
    assert!(f[2].ends_with('%'), "{row}");
    assert_eq!(&f[4..6], ["/", "64MiB"], "{row}");
    assert!(f[6].ends_with('%'), "{row}");
    assert_eq!(f.last(), Some(&"2"), "two processes: {row}");
    // Without names: every running container.
    let all = cli.ok(&["stats", "--no-stream"]);
    assert_eq!(all.lines().count(), 2, "{all}");
    assert!(all.contains(" web "), "{all}");

    // Errors: an unknown container, a stopped one.
    assert_eq!(cli.code(&["stats", "--no-stream", "nosuch"]), 125);
    cli.ok(&["stop", "-t", "1", "web"]);
    let o = cli.out(&["top", "web"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("exited"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(cli.ok(&["stats", "--no-stream"]).lines().count(), 1);
    cli.ok(&["rm", "web"]);
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
}
