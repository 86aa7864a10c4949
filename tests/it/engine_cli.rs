//! `examples/engine.rs`, the docker-like command line: import, images, run (output, exit
//! codes, volumes), ps, rm, and its errors, on a busybox image imported from a tarball.
//!
//! The example binary is found next to this test binary (`target/debug/examples/engine`;
//! `cargo test` builds examples) and built with `cargo build --example engine` if missing.

use std::process::{Command, Output, Stdio};

use crate::common::{self, WEB_PAGE as PAGE};

const IMAGE: &str = "localhost/busybox:latest";

/// An engine root of its own, the busybox image imported into it.
struct Cli {
    root: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli::with_image(&common::busybox())
    }

    /// As [`Cli::new`], with this image (imported from a tarball of its rootfs).
    fn with_image(image: &common::Busybox) -> Cli {
        let cli = Cli {
            root: tempfile::Builder::new()
                .prefix("cargohold-engine-cli")
                .tempdir()
                .unwrap(),
        };
        let (_dir, tarball) = image.tarball();
        let id = cli.ok(&["import", tarball.to_str().unwrap(), IMAGE]);
        assert!(id.trim().starts_with("sha256:"), "{id}");
        cli
    }

    /// Runs to completion; stdout and stderr to files (a container inherits them).
    fn out(&self, args: &[&str]) -> Output {
        let o = common::output_via_files(
            Command::new(common::example_bin("engine"))
                .arg("--root")
                .arg(self.root.path())
                .args(args)
                .stdin(Stdio::null()),
        );
        let lossy = |v: Vec<u8>| String::from_utf8_lossy(&v).into_owned().into_bytes();
        Output {
            status: o.status,
            stdout: lossy(o.stdout),
            stderr: lossy(o.stderr),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        common::checked(args, self.out(args)).0
    }

    fn code(&self, args: &[&str]) -> i32 {
        self.out(args).status.code().expect("exited")
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        // Containers left by a failed assertion go before the root does.
        common::remove_all_containers(self.root.path());
    }
}

#[test]
#[ignore = "requires root"]
fn images_lists_the_import() {
    let cli = Cli::new();
    let out = cli.ok(&["images"]);
    assert_eq!(
        common::table_header(&out),
        ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    );
    let row = out.lines().nth(1).expect("one image");
    assert!(row.starts_with("localhost/busybox "), "{row}");
    assert!(row.contains(" latest "), "{row}");
    let q = cli.ok(&["images", "-q"]);
    assert_eq!(q.lines().count(), 1);
    assert_eq!(q.trim().len(), 12);
    assert!(row.contains(q.trim()), "{row}");
}

/// Without `--root`, the engine root is `$CARGOHOLD_ROOT` (`Engine::open_default`).
#[test]
#[ignore = "requires root"]
fn root_from_the_environment() {
    let cli = Cli::new();
    let out = Command::new(common::example_bin("engine"))
        .env("CARGOHOLD_ROOT", cli.root.path())
        .args(["images", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        cli.ok(&["images", "-q"])
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
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
    // --stop-timeout / --stop-signal are recorded; stop without -t uses them
    cli.ok(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--stop-timeout",
        "1",
        "--stop-signal",
        "USR1",
        IMAGE,
        "sleep",
        "30",
    ]);
    let info: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "slow"])).unwrap();
    assert_eq!(info[0]["Config"]["StopTimeout"], 1);
    assert_eq!(info[0]["Config"]["StopSignal"], "USR1");
    cli.ok(&["stop", "slow"]);
    assert_eq!(cli.ok(&["wait", "slow"]), "137\n");
    cli.ok(&["rm", "slow"]);
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
    common::tar_extract(&file, &rootfs);
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/added")).unwrap(),
        "new\n"
    );
    assert!(!rootfs.join("etc/group").exists());
    assert!(rootfs.join("made").is_dir());
    assert!(rootfs.join("bin/busybox").is_file());
    // and to stdout by default
    let out = Command::new(common::example_bin("engine"))
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

// ---------------------------------------------------------------- networks (issue 5)

/// Runs `f` on a thread in a network namespace of its own (loopback up), with a `Cli`
/// whose image serves [`PAGE`] at `/www/index.html`. Every engine the test runs is spawned
/// from that thread, so it (and its containers' monitors) live in that namespace: the
/// machine's own interfaces and ruleset are never touched. Afterwards every container is
/// removed and the namespace must hold nothing of the engine's: no link but `lo`, no
/// nftables ruleset, no namespace mount under the root.
fn in_test_netns(f: impl FnOnce(&Cli) + Send) {
    common::in_test_host(
        || Cli::with_image(&common::busybox().web()),
        f,
        |cli| {
            for id in cli.ok(&["ps", "-a", "-q"]).lines() {
                let _ = cli.out(&["rm", "-f", id]);
            }
            // idle bridges (kept like docker0) go with `network prune`
            let _ = cli.out(&["network", "prune", "-f"]);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while common::link_names().len() > 1 && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let links = common::link_names();
            let ruleset = Command::new("nft")
                .args(["list", "ruleset"])
                .output()
                .unwrap();
            let netns_left = common::netns_mounts_left(cli.root.path());
            move || {
                assert_eq!(links, ["lo"], "links left behind");
                assert!(ruleset.status.success());
                assert_eq!(
                    String::from_utf8_lossy(&ruleset.stdout).trim(),
                    "",
                    "nftables rules left behind"
                );
                assert_eq!(netns_left, 0, "network namespace mounts left behind");
            }
        },
    )
}

/// The columns of a table header, split on runs of three or more spaces.
fn columns(header: &str) -> Vec<&str> {
    header
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs, expecting Docker's 125 and a message on stderr that names each of `words`.
fn fails_naming(cli: &Cli, args: &[&str], words: &[&str]) {
    let o = cli.out(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(125), "engine {args:?}: {err}");
    for w in words {
        assert!(
            err.contains(w),
            "engine {args:?}: {err:?} does not name {w:?}"
        );
    }
}

#[test]
#[ignore = "requires root"]
fn network_create_ls_inspect_rm_prune() {
    in_test_netns(|cli| {
        let predefined = cli.ok(&["network", "ls", "-q"]);
        assert_eq!(predefined.lines().count(), 3, "{predefined}");
        // bad input: 125, a message naming it, no network made
        fails_naming(
            cli,
            &["network", "create", "--subnet", "10.77.0.0/33", "bad"],
            &["10.77.0.0/33", "subnet", "bad"],
        );
        fails_naming(
            cli,
            &["network", "create", "--subnet", "10.77.0/24", "bad"],
            &["10.77.0/24"],
        );
        fails_naming(
            cli,
            &["network", "create", "--driver", "overlay", "bad"],
            &["overlay"],
        );
        fails_naming(
            cli,
            &["network", "create", "-o", "nokeyvalue", "bad"],
            &["nokeyvalue"],
        );
        assert_eq!(cli.ok(&["network", "ls", "-q"]), predefined);

        let id = cli.ok(&[
            "network",
            "create",
            "--subnet",
            "10.77.0.0/24",
            "--gateway",
            "10.77.0.254",
            "--ip-range",
            "10.77.0.128/25",
            "-o",
            "com.docker.network.driver.mtu=1400",
            "--label",
            "team=core",
            "front",
        ]);
        let id = id.trim();
        assert!(
            id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id:?}"
        );
        fails_naming(
            cli,
            &["network", "create", "front"],
            &["front", "already exists"],
        );
        fails_naming(
            cli,
            &["network", "create", "--subnet", "10.77.0.0/16", "wide"],
            &["10.77.0.0/16", "overlaps", "front"],
        );

        // ls: Docker's table, sorted by name; -q the short ids
        let ls = cli.ok(&["network", "ls"]);
        let mut lines = ls.lines();
        assert_eq!(
            columns(lines.next().unwrap()),
            ["NETWORK ID", "NAME", "DRIVER", "SCOPE"]
        );
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
        let names: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[1], r[2], r[3])).collect();
        assert_eq!(
            names,
            [
                ("bridge", "bridge", "local"),
                ("front", "bridge", "local"),
                ("host", "host", "local"),
                ("none", "null", "local"),
            ]
        );
        assert_eq!(rows[1][0], &id[..12]);
        let q = cli.ok(&["network", "ls", "-q"]);
        assert_eq!(q.lines().count(), 4, "{q}");
        assert!(q.lines().all(|l| l.len() == 12), "{q}");
        assert!(q.lines().any(|l| l == &id[..12]), "{q}");

        // inspect: a JSON array as Docker's, by name or id prefix
        for name in ["front", &id[..12]] {
            let v: serde_json::Value =
                serde_json::from_str(&cli.ok(&["network", "inspect", name])).unwrap();
            let n = &v[0];
            assert_eq!(n["Name"], "front");
            assert_eq!(n["Id"], id);
            assert_eq!(n["Driver"], "bridge");
            assert_eq!(n["Scope"], "local");
            let cfg = &n["IPAM"]["Config"][0];
            assert_eq!(cfg["Subnet"], "10.77.0.0/24");
            assert_eq!(cfg["Gateway"], "10.77.0.254");
            assert_eq!(cfg["IPRange"], "10.77.0.128/25");
            assert_eq!(n["Options"]["com.docker.network.driver.mtu"], "1400");
            assert_eq!(n["Labels"]["team"], "core");
            assert_eq!(n["Containers"], serde_json::json!({}));
        }
        let o = cli.out(&["network", "inspect", "front", "nosuch"]);
        assert_eq!(o.status.code(), Some(125));
        assert!(stderr(&o).contains("nosuch"), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 1, "the one found: {v}");

        // rm: prints each name; unknown and predefined ones refused
        cli.ok(&["network", "create", "gone"]);
        assert_eq!(cli.ok(&["network", "rm", "gone"]), "gone\n");
        fails_naming(cli, &["network", "rm", "gone"], &["gone", "not found"]);
        fails_naming(
            cli,
            &["network", "rm", "bridge"],
            &["bridge", "pre-defined"],
        );

        // prune: every user-defined network without containers
        cli.ok(&["network", "create", "back"]);
        assert_eq!(
            cli.ok(&["network", "prune", "-f"]),
            "Deleted Networks:\nback\nfront\n\n"
        );
        assert_eq!(cli.ok(&["network", "prune", "-f"]), "");
        assert_eq!(cli.ok(&["network", "ls", "-q"]), predefined);
    });
}

#[test]
#[ignore = "requires root"]
fn published_ports_port_and_ps() {
    in_test_netns(|cli| {
        let httpd = common::httpd(80);
        let mut args = vec!["run", "-d", "--name", "web", "-p", "8080:80", IMAGE];
        args.extend(httpd.split(' '));
        let id = cli.ok(&args);
        assert_eq!(id.trim().len(), 64, "{id:?}");
        // the test thread is on the test namespace's host side: fetch through the port
        let reply = common::http_get_retried("127.0.0.1:8080");
        assert!(reply.contains(" 200 ") && reply.ends_with(PAGE), "{reply}");

        assert_eq!(cli.ok(&["port", "web"]), "80/tcp -> 0.0.0.0:8080\n");
        assert_eq!(cli.ok(&["port", "web", "80"]), "0.0.0.0:8080\n");
        assert_eq!(cli.ok(&["port", "web", "80/tcp"]), "0.0.0.0:8080\n");
        fails_naming(cli, &["port", "web", "80/udp"], &["80/udp", "web"]);
        fails_naming(cli, &["port", "web", "http"], &["http"]);
        fails_naming(cli, &["port", "nosuch"], &["nosuch"]);

        // ps: PORTS between STATUS and NAMES
        let ps = cli.ok(&["ps"]);
        let header = ps.lines().next().unwrap();
        assert_eq!(
            columns(header),
            [
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES"
            ]
        );
        let row = ps.lines().nth(1).expect("web runs");
        let at = |col: &str| header.find(col).unwrap();
        assert_eq!(
            row[at("PORTS")..at("NAMES")].trim(),
            "0.0.0.0:8080->80/tcp",
            "{ps}"
        );
        assert!(row.ends_with(" web"), "{row}");

        // bad input: a clear error before anything starts, no container left of it
        let mut taken = vec!["run", "-d", "--name", "web2", "-p", "8080:80", IMAGE];
        taken.extend(httpd.split(' '));
        fails_naming(cli, &taken, &["8080", "already allocated", "web"]);
        fails_naming(
            cli,
            &["run", "--rm", "-p", "80800:80", IMAGE, "true"],
            &["80800", "port spec"],
        );
        fails_naming(
            cli,
            &["create", "-p", "8081:80/sctp", IMAGE, "true"],
            &["8081:80/sctp", "sctp"],
        );
        fails_naming(
            cli,
            &["run", "--rm", "--network", "nosuch", IMAGE, "true"],
            &["nosuch", "not found"],
        );
        fails_naming(
            cli,
            &["run", "--rm", "--add-host", "db", IMAGE, "true"],
            &["db", "--add-host"],
        );
        fails_naming(
            cli,
            &["run", "--rm", "--dns", "resolver", IMAGE, "true"],
            &["resolver", "--dns"],
        );
        assert_eq!(cli.ok(&["ps", "-a", "-q"]).lines().count(), 1);
        assert!(
            common::http_get_retried("127.0.0.1:8080").ends_with(PAGE),
            "web still serves"
        );

        // -P: the image's exposed ports on free host ports
        cli.ok(&["create", "--name", "base", IMAGE, "true"]);
        cli.ok(&["commit", "-c", "EXPOSE 80", "base", "localhost/web:1"]);
        let mut auto = vec!["run", "-d", "--name", "auto", "-P", "localhost/web:1"];
        auto.extend(httpd.split(' '));
        cli.ok(&auto);
        let host = cli.ok(&["port", "auto", "80"]);
        let port: u16 = host
            .trim()
            .strip_prefix("0.0.0.0:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{host:?}"));
        assert_ne!(port, 0);
        assert_ne!(port, 8080);
        assert!(common::http_get_retried(&format!("127.0.0.1:{port}")).ends_with(PAGE));
        assert!(
            cli.ok(&["ps"]).contains(&format!("0.0.0.0:{port}->80/tcp")),
            "{}",
            cli.ok(&["ps"])
        );

        // stopped: the port is freed and no longer shown
        cli.ok(&["stop", "-t", "1", "web"]);
        std::net::TcpListener::bind("0.0.0.0:8080").expect("8080 is free again");
        assert_eq!(cli.ok(&["port", "web"]), "");
        let ps = cli.ok(&["ps", "-a"]);
        assert!(!ps.contains("8080"), "{ps}");
        cli.ok(&["rm", "-f", "web", "auto", "base"]);
    });
}

#[test]
#[ignore = "requires root"]
fn containers_on_a_user_network_by_name_connect_disconnect() {
    in_test_netns(|cli| {
        let httpd = common::httpd(80);
        cli.ok(&["network", "create", "--subnet", "10.78.0.0/24", "front"]);
        cli.ok(&["network", "create", "--subnet", "10.79.0.0/24", "back"]);
        let mut web = vec![
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "front",
            "--network-alias",
            "www",
            IMAGE,
        ];
        web.extend(httpd.split(' '));
        cli.ok(&web);
        // another container on the network fetches it by name and by alias
        let script = "for i in $(seq 1 50); do \
             busybox wget -q -O - http://web/ && break; sleep 0.1; done; \
             busybox wget -q -O - http://www/";
        let out = cli.ok(&[
            "run",
            "--rm",
            "--network",
            "front",
            IMAGE,
            "sh",
            "-c",
            script,
        ]);
        assert_eq!(out, format!("{PAGE}{PAGE}"));

        // inspect: an address on the subnet, the alias; the network lists the container
        let info: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "web"])).unwrap();
        let ep = &info[0]["NetworkSettings"]["Networks"]["front"];
        let ip = ep["IPAddress"].as_str().unwrap();
        assert!(ip.starts_with("10.78.0."), "{ep}");
        assert_eq!(ep["Aliases"], serde_json::json!(["www"]));
        assert_eq!(info[0]["HostConfig"]["NetworkMode"], "front");
        let net: serde_json::Value =
            serde_json::from_str(&cli.ok(&["network", "inspect", "front"])).unwrap();
        let members: Vec<&serde_json::Value> =
            net[0]["Containers"].as_object().unwrap().values().collect();
        assert_eq!(members.len(), 1, "{net}");
        assert_eq!(members[0]["Name"], "web");
        assert_eq!(members[0]["IPv4Address"], format!("{ip}/24"));

        // in use: refused, the network stays
        fails_naming(
            cli,
            &["network", "rm", "front"],
            &["front", "active endpoints", "web"],
        );
        assert!(cli.ok(&["network", "ls"]).contains(" front "));

        // app is on back only: web is out of its reach until connected to back
        cli.ok(&[
            "run",
            "-d",
            "--name",
            "app",
            "--network",
            "back",
            IMAGE,
            "sleep",
            "100",
        ]);
        let fetch = |url: &str| cli.out(&["exec", "app", "busybox", "wget", "-q", "-O", "-", url]);
        assert_ne!(fetch("http://web/").status.code(), Some(0));
        assert_eq!(
            cli.ok(&["network", "connect", "--alias", "webby", "back", "web"]),
            ""
        );
        let ifs = cli.ok(&["exec", "web", "ls", "/sys/class/net"]);
        assert_eq!(ifs, "eth0\neth1\nlo\n");
        for url in ["http://web/", "http://webby/"] {
            let o = fetch(url);
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                PAGE,
                "{url}: {}",
                stderr(&o)
            );
        }
        let info: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "web"])).unwrap();
        let back = &info[0]["NetworkSettings"]["Networks"]["back"]["IPAddress"];
        assert!(back.as_str().unwrap().starts_with("10.79.0."), "{info}");
        fails_naming(
            cli,
            &["network", "connect", "back", "web"],
            &["back", "already connected"],
        );
        fails_naming(cli, &["network", "connect", "nosuch", "web"], &["nosuch"]);
        fails_naming(cli, &["network", "connect", "back", "ghost"], &["ghost"]);

        assert_eq!(cli.ok(&["network", "disconnect", "back", "web"]), "");
        assert_eq!(
            cli.ok(&["exec", "web", "ls", "/sys/class/net"]),
            "eth0\nlo\n"
        );
        assert_ne!(fetch("http://web/").status.code(), Some(0));
        fails_naming(
            cli,
            &["network", "disconnect", "back", "web"],
            &["back", "not connected"],
        );
        let info: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "web"])).unwrap();
        assert!(info[0]["NetworkSettings"]["Networks"].get("back").is_none());

        cli.ok(&["rm", "-f", "web", "app"]);
        assert_eq!(cli.ok(&["network", "rm", "front", "back"]), "front\nback\n");
        assert_eq!(cli.ok(&["network", "ls", "-q"]).lines().count(), 3);
    });
}

/// An engine error reaches the user with its cause: the runtime's step and the OS error,
/// not only the engine's sentence.
#[test]
#[ignore = "requires root"]
fn errors_keep_their_cause() {
    let cli = Cli::new();
    fails_naming(
        &cli,
        &["run", "--rm", "-w", "/etc/passwd", IMAGE, "true"],
        &[
            "changing to the working directory /etc/passwd",
            "Not a directory",
        ],
    );
    assert!(cli.ok(&["ps", "-aq"]).trim().is_empty(), "nothing left");
}

/// The README's quickstarts, as written there: `scripts/busybox-image.sh`, then
/// `examples/quickstart.rs` (import, output, a named container stopped and removed) and
/// `examples/service.rs` (a published, ephemeral httpd fetched from the host) — the latter
/// in a network namespace of the test's own (bridge networking with outbound NAT).
#[test]
#[ignore = "requires root"]
fn readme_quickstarts_run_as_written() {
    let work = tempfile::tempdir().unwrap();
    let tarball = work.path().join("busybox.tar");
    let root = work.path().join("root");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/busybox-image.sh");
    let made = Command::new(script).arg(&tarball).output().unwrap();
    assert!(made.status.success(), "{}", stderr(&made));

    let out = common::output_via_files(
        Command::new(common::example_bin("quickstart"))
            .arg(&tarball)
            .arg(&root),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.starts_with("hello from "), "{text}");
    assert!(text.contains("quickstart-web stopped"), "{text}");

    let service = common::example_bin("service");
    let out = common::output_via_files(Command::new("unshare").args(["-n", "sh", "-c"]).arg(
        format!(
            "ip link set lo up && exec {} {}",
            service.display(),
            root.display()
        ),
    ));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(text, "<h1>hello from cargohold</h1>\n");

    // Nothing left: the ephemeral container went with the program.
    let engine = cargohold::Engine::open(&root).unwrap();
    assert!(engine.containers().list().unwrap().is_empty());
}

/// Everyday mistakes read as Docker's: `rm` of a running container says how to force it,
/// `exec` in a stopped one says it is not running (not that it does not exist), `load` of a
/// file that is no tar says so without printing the file, and a closed stdout (`inspect x |
/// head`) ends the engine by SIGPIPE with nothing on stderr, as `docker` ends.
#[test]
#[ignore = "requires root"]
fn everyday_mistakes_read_as_docker_s() {
    use std::os::unix::process::ExitStatusExt;
    let cli = Cli::new();
    cli.ok(&["run", "-d", "--name", "busy", IMAGE, "sleep", "60"]);
    fails_naming(
        &cli,
        &["rm", "busy"],
        &["container is running", "force remove (-f)"],
    );
    assert_eq!(cli.ok(&["ps", "-q"]).lines().count(), 1, "rm removed it");

    // A closed pipe: the reading end is gone before the engine writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = Command::new(common::example_bin("engine"))
        .arg("--root")
        .arg(cli.root.path())
        .args(["inspect", "busy"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.signal(), Some(libc::SIGPIPE), "{:?}", o.status);
    assert!(o.stderr.is_empty(), "{}", stderr(&o));

    cli.ok(&["stop", "-t", "1", "busy"]);
    fails_naming(
        &cli,
        &["exec", "busy", "true"],
        &["cannot exec in container \"busy\"", "not running"],
    );
    let o = cli.out(&["load", "-i", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("not a tar archive"), "{err}");
    assert!(!err.contains("root:x:0:0"), "the file was printed: {err}");
    cli.ok(&["rm", "busy"]);
}
