//! Issue 13 through `engine` as a Docker user types it: `create` + `start` of an image
//! whose command is missing (127 at start, files still copied out), `--env-file`,
//! `--label-file`, `--ulimit`, `--init`, `-P` without exposed ports, and `cp` both ways with
//! Docker's rules. Every command runs in a network namespace of its own.

use std::fs;
use std::process::{Command, Output, Stdio};

use crate::common;

const IMAGE: &str = "localhost/busybox:latest";

struct Cli {
    root: tempfile::TempDir,
    work: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-cli-flags")
            .tempdir()
            .unwrap();
        let engine = cargohold::Engine::open(root.path()).unwrap();
        common::busybox().import(&engine, IMAGE);
        drop(engine);
        Cli {
            root,
            work: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = common::engine_cmd(self.root.path(), args);
        c.current_dir(self.work.path());
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(&mut self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        common::checked(args, self.out(args)).0
    }

    fn path(&self, p: &str) -> String {
        self.work.path().join(p).to_str().unwrap().to_owned()
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
fn create_without_the_command_then_start_and_cp() {
    let cli = Cli::new();
    cli.ok(&["create", "--name", "nocmd", IMAGE, "/no/such/tool"]);
    let out = cli.path("passwd");
    cli.ok(&["cp", "nocmd:/etc/passwd", &out]);
    assert!(fs::read_to_string(&out).unwrap().starts_with("root:"));
    let o = cli.out(&["start", "nocmd"]);
    assert_eq!(o.status.code(), Some(127), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/no/such/tool"));
    // A created container with a command starts; `start -a` gives its exit code.
    cli.ok(&[
        "create",
        "--name",
        "three",
        IMAGE,
        "sh",
        "-c",
        "echo out; exit 3",
    ]);
    let o = cli.out(&["start", "-a", "three"]);
    assert_eq!(o.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
}

#[test]
#[ignore = "requires root"]
fn env_file_label_file_ulimit_init() {
    let cli = Cli::new();
    let env = cli.path("env.list");
    fs::write(
        &env,
        "# a comment\n\nA=1\n  B= two words \nFROM_HOST\nNOT_SET_ANYWHERE\nC=from-file\n",
    )
    .unwrap();
    let labels = cli.path("labels");
    fs::write(&labels, "l1=x\n# no\nl2\n").unwrap();
    let o = common::output_via_files(
        cli.cmd(&[
            "run",
            "--rm",
            "--env-file",
            &env,
            "-e",
            "C=flag",
            IMAGE,
            "sh",
            "-c",
            "echo \"$A|$B|$FROM_HOST|${NOT_SET_ANYWHERE-unset}|$C\"",
        ])
        .env("FROM_HOST", "hv"),
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "1| two words |hv|unset|flag\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    fs::write(&env, "BAD KEY=1\n").unwrap();
    let o = cli.out(&["run", "--rm", "--env-file", &env, IMAGE, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'BAD KEY' contains whitespaces"));

    let out = cli.ok(&[
        "run",
        "--rm",
        "--ulimit",
        "nofile=64:128",
        IMAGE,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
    ]);
    assert_eq!(out, "64\n128\n");
    let o = cli.out(&["run", "--rm", "--ulimit", "nofile=9:8", IMAGE, "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"--ulimit\""));
    let o = cli.out(&["run", "--rm", "--ulimit", "bogus=1", IMAGE, "true"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid ulimit type: bogus"));

    let out = cli.ok(&["run", "--rm", "--init", IMAGE, "cat", "/proc/1/cmdline"]);
    assert!(out.starts_with("/sbin/docker-init\0--\0cat\0"), "{out:?}");

    cli.ok(&[
        "create",
        "--name",
        "lab",
        "--label-file",
        &labels,
        "-l",
        "l1=flag",
        "--init",
        "--ulimit",
        "core=-1",
        IMAGE,
        "true",
    ]);
    let info: serde_json::Value = serde_json::from_str(&cli.ok(&["inspect", "lab"])).unwrap();
    let info = &info[0];
    assert_eq!(info["Config"]["Labels"]["l1"], "flag");
    assert_eq!(info["Config"]["Labels"]["l2"], "");
    assert_eq!(info["HostConfig"]["Init"], true);
    assert_eq!(
        info["HostConfig"]["Ulimits"],
        serde_json::json!([{"Name": "core", "Soft": -1, "Hard": -1}])
    );
}

#[test]
#[ignore = "requires root"]
fn publish_all_without_exposed_ports_still_attaches_bridge() {
    let cli = Cli::new();
    let out = cli.ok(&["run", "--rm", "-P", IMAGE, "cat", "/proc/net/dev"]);
    assert!(out.contains("eth0:"), "{out}");
}

#[test]
#[ignore = "requires root"]
fn cp_both_ways_with_dockers_rules() {
    let cli = Cli::new();
    cli.ok(&[
        "run",
        "--name",
        "box",
        IMAGE,
        "sh",
        "-c",
        "mkdir -p /d/sub; echo one > /d/a; echo two > /d/sub/b",
    ]);
    let w = |p: &str| cli.path(p);
    // A file to a new name, into a directory, to a missing directory (refused).
    cli.ok(&["cp", "box:/d/a", &w("a.txt")]);
    assert_eq!(fs::read_to_string(w("a.txt")).unwrap(), "one\n");
    fs::create_dir(w("dir")).unwrap();
    cli.ok(&["cp", "box:/d/a", &w("dir")]);
    assert!(fs::metadata(w("dir/a")).is_ok());
    let o = cli.out(&["cp", "box:/d/a", &w("missing/")]);
    assert_ne!(o.status.code(), Some(0));
    let o = cli.out(&["cp", "box:/d/a/", &w("x")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a directory"));
    // A directory: a new name gets its content; an existing directory gets it by name,
    // or only its content with `/.`; a file is refused.
    cli.ok(&["cp", "box:/d", &w("copy")]);
    assert_eq!(fs::read_to_string(w("copy/sub/b")).unwrap(), "two\n");
    cli.ok(&["cp", "box:/d", &w("dir")]);
    assert!(fs::metadata(w("dir/d/sub/b")).is_ok());
    fs::create_dir(w("flat")).unwrap();
    cli.ok(&["cp", "box:/d/.", &w("flat")]);
    assert!(fs::metadata(w("flat/sub/b")).is_ok());
    let o = cli.out(&["cp", "box:/d", &w("a.txt")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot copy a directory to a file"));
    let o = cli.out(&["cp", "box:/nope", &w("n")]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Could not find the file /nope"));
    // Into the container; `-` both ways.
    fs::write(w("host.txt"), "h").unwrap();
    cli.ok(&["cp", &w("host.txt"), "box:/d/renamed"]);
    cli.ok(&["cp", &w("flat"), "box:/d"]);
    cli.ok(&["cp", &w("flat"), "box:/newdir"]);
    let tar = common::output_via_files(cli.cmd(&["cp", "box:/d", "-"]).stdout(Stdio::piped()));
    let mut names: Vec<String> = tar::Archive::new(&tar.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    names.sort();
    for want in ["d/renamed", "d/flat/sub/b", "d/a"] {
        assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
    }
    let listing = cli.ok(&["cp", "box:/newdir/sub/b", "-"]);
    assert!(listing.contains("two"));
    let input = w("in.tar");
    fs::write(&input, &tar.stdout).unwrap();
    let o = common::output_via_files(
        cli.cmd(&["cp", "-", "box:/tmp"])
            .stdin(fs::File::open(&input).unwrap()),
    );
    assert!(o.status.success(), "{o:?}");
    cli.ok(&["cp", "box:/tmp/d/renamed", &w("back")]);
    assert_eq!(fs::read_to_string(w("back")).unwrap(), "h");
    let o = cli.out(&["cp", "box:/a", "box:/b"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("copying between containers"));
}

#[test]
#[ignore = "requires root"]
fn logs_since_and_until() {
    let cli = Cli::new();
    cli.ok(&[
        "run",
        "-d",
        "--name",
        "talker",
        IMAGE,
        "sh",
        "-c",
        "echo a; echo b",
    ]);
    cli.ok(&["wait", "talker"]);
    let logs = |extra: &[&str]| {
        let mut args = vec!["logs"];
        args.extend(extra);
        args.push("talker");
        cli.ok(&args)
    };
    assert_eq!(logs(&[]), "a\nb\n");
    assert_eq!(logs(&["--since", "10m"]), "a\nb\n");
    assert_eq!(logs(&["--since", "0"]), "a\nb\n");
    assert_eq!(logs(&["--until", "10m"]), "");
    assert_eq!(logs(&["--since", "2999-01-01T00:00:00Z"]), "");
    assert_eq!(logs(&["--until", "2999-01-01"]), "a\nb\n");
    assert_eq!(logs(&["--until", "1000000000.5"]), "");
    let o = cli.out(&["logs", "--since", "yesterday", "talker"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--since"));
}
