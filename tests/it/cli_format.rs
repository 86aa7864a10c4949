//! `--format` (Go templates) on `ps`, `images`, `inspect`, `history`, `volume ls`,
//! `network ls`, `system df`, `info`, `version`; the `container`/`image`/`system` command
//! groups with Docker's aliases; `container prune`, `image prune`, `system df` and
//! `system prune` (issue 13). Every command runs in a network namespace of its own
//! (`unshare --net`), on an engine root of its own with `localhost/busybox:latest`.

use std::fs;
use std::process::Output;

use crate::common;

const BASE: &str = "localhost/busybox:latest";

struct Cli {
    root: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-fmt-cli")
            .tempdir()
            .unwrap();
        let engine = cargohold::Engine::open(root.path()).unwrap();
        common::busybox().import(&engine, BASE);
        drop(engine);
        Cli { root }
    }

    fn out(&self, args: &[&str]) -> Output {
        common::output_via_files(
            common::engine_cmd(self.root.path(), args).current_dir(self.root.path()),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        common::checked(args, self.out(args)).0
    }

    /// Fails with `code`; its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.out(args);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(code), "engine {args:?}: {stderr}");
        stderr
    }

    /// `system df --format`: TYPE=TOTAL/ACTIVE/SIZE lines.
    fn df(&self) -> Vec<String> {
        self.ok(&[
            "system",
            "df",
            "--format",
            "{{.Type}}={{.TotalCount}}/{{.Active}}/{{.Size}}",
        ])
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

fn is_short_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
#[ignore = "requires root"]
fn ps_images_inspect_and_lists_take_go_templates() {
    let cli = Cli::new();
    cli.ok(&[
        "run",
        "-d",
        "--name",
        "fmt-web",
        "-l",
        "k=v",
        "-v",
        "fmtdata:/data",
        BASE,
        "sleep",
        "100",
    ]);
    cli.ok(&["run", "--name", "fmt-done", BASE, "true"]);

    // ps: fields, all containers, json, table headers with the Label method
    let ids = cli.ok(&["ps", "--format", "{{.ID}}"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
    assert!(is_short_id(ids.trim()), "{ids}");
    let all = cli.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(all.lines().any(|l| l.starts_with("fmt-web Up")), "{all}");
    assert!(
        all.lines().any(|l| l.starts_with("fmt-done Exited (0)")),
        "{all}"
    );
    let table = cli.ok(&[
        "ps",
        "--format",
        r#"table {{.ID}}\t{{.Names}}\t{{.Label "k"}}\t{{.LocalVolumes}}"#,
    ]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    let cols: Vec<&str> = lines[0]
        .split("   ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        cols,
        ["CONTAINER ID", "NAMES", "LABEL", "LOCAL VOLUMES"],
        "{table}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[1..], ["fmt-web", "v", "1"], "{table}");
    let tabbed = cli.ok(&["ps", "--format", r"{{.Names}}\t{{.State}}"]);
    assert_eq!(tabbed, "fmt-web\trunning\n");
    for line in cli.ok(&["ps", "-a", "--format", "{{json .}}"]).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["Names"].as_str().unwrap().starts_with("fmt-"), "{line}");
        assert!(v["Command"].as_str().unwrap().starts_with('"'), "{line}");
    }
    assert_eq!(cli.ok(&["ps", "--format", "json"]).lines().count(), 1);
    assert_eq!(
        cli.ok(&[
            "ps",
            "-a",
            "--format",
            "{{.Names | upper}}",
            "-f",
            "name=fmt-done"
        ]),
        "FMT-DONE\n"
    );

    // inspect -f: nested fields, json, range, index, if/else, functions
    assert_eq!(
        cli.ok(&["inspect", "-f", "{{.State.Running}}", "fmt-web"]),
        "true\n"
    );
    assert_eq!(
        cli.ok(&["inspect", "--format", "{{.State.Running}}", "fmt-done"]),
        "false\n"
    );
    let config: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "-f", "{{json .Config}}", "fmt-web"])).unwrap();
    assert_eq!(config["Labels"]["k"], "v");
    let whole: serde_json::Value =
        serde_json::from_str(&cli.ok(&["inspect", "-f", "{{json .}}", "fmt-web"])).unwrap();
    assert_eq!(whole["Name"], "/fmt-web");
    assert_eq!(
        cli.ok(&[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}}:{{.Destination}};{{end}}",
            "fmt-web"
        ]),
        "volume:/data;\n"
    );
    assert_eq!(
        cli.ok(&[
            "inspect",
            "-f",
            r#"{{index .Config.Labels "k"}}"#,
            "fmt-web"
        ]),
        "v\n"
    );
    assert_eq!(
        cli.ok(&[
            "inspect",
            "-f",
            "{{if .State.Running}}up{{else}}down {{.State.ExitCode}}{{end}}",
            "fmt-web",
            "fmt-done"
        ]),
        "up\ndown 0\n"
    );
    assert_eq!(
        cli.ok(&[
            "inspect",
            "-f",
            r#"{{join .Config.Cmd ","}} {{lower "A"}}{{println}}"#,
            "fmt-web"
        ]),
        "sleep,100 a\n\n"
    );
    assert_eq!(
        cli.ok(&["inspect", "-f", "{{.Nope}}", "fmt-web"]),
        "<no value>\n"
    );
    assert_eq!(
        cli.ok(&[
            "inspect",
            "--type",
            "image",
            "-f",
            "{{index .RepoTags 0}}",
            BASE
        ]),
        "localhost/busybox:latest\n"
    );
    cli.fails(
        &["inspect", "--type", "image", "-f", "{{.Id}}", "fmt-web"],
        1,
    );

    // images, history, volume ls, network ls
    assert_eq!(
        cli.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "localhost/busybox:latest\n"
    );
    let t = cli.ok(&["images", "--format", r"table {{.ID}}\t{{.Repository}}"]);
    assert_eq!(common::table_header(&t), ["IMAGE ID", "REPOSITORY"], "{t}");
    assert!(
        is_short_id(t.lines().nth(1).unwrap().split_whitespace().next().unwrap()),
        "{t}"
    );
    let h = cli.ok(&["history", "--format", "{{.ID}}|{{.Size}}", BASE]);
    assert!(h.lines().next().unwrap().contains('|'), "{h}");
    assert_eq!(
        cli.ok(&[
            "volume",
            "ls",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}"
        ]),
        "fmtdata local local\n"
    );
    let t = cli.ok(&[
        "volume",
        "ls",
        "--format",
        r"table {{.Name}}\t{{.Mountpoint}}",
    ]);
    assert!(t.starts_with("VOLUME NAME   MOUNTPOINT\n"), "{t}");
    let nets = cli.ok(&["network", "ls", "--format", r"table {{.Name}}\t{{.Driver}}"]);
    assert!(nets.starts_with("NAME"), "{nets}");
    assert!(nets.contains("DRIVER"), "{nets}");

    // template errors: Docker's words, exit 125
    let e = cli.fails(&["ps", "--format", "{{.ID"], 125);
    assert!(
        e.contains("template parsing error: template: :1: unclosed action"),
        "{e}"
    );
    let e = cli.fails(&["ps", "--format", "{{.Nope}}"], 125);
    assert!(e.contains("can't evaluate field Nope"), "{e}");
    let e = cli.fails(&["inspect", "-f", "{{nope .}}", "fmt-web"], 125);
    assert!(
        e.contains("template parsing error: template: :1: function \"nope\" not defined"),
        "{e}"
    );
    let e = cli.fails(&["images", "--format", "{{if .ID}}x"], 125);
    assert!(e.contains("unexpected EOF"), "{e}");

    cli.ok(&["rm", "-f", "fmt-web", "fmt-done"]);
}

#[test]
#[ignore = "requires root"]
fn groups_have_docker_s_names_and_aliases() {
    let cli = Cli::new();
    cli.ok(&["container", "create", "--name", "grp-a", BASE, "true"]);
    let ps = cli.ok(&["ps", "-a", "--format", "{{.ID}} {{.Names}}"]);
    assert!(ps.ends_with(" grp-a\n"), "{ps}");
    for alias in ["ls", "list", "ps"] {
        let out = cli.ok(&["container", alias, "-a", "--format", "{{.ID}} {{.Names}}"]);
        assert_eq!(out, ps, "container {alias}");
        let table = cli.ok(&["container", alias, "-a"]);
        assert!(table.starts_with("CONTAINER ID"), "{table}");
    }
    let images = cli.ok(&["images", "--format", "{{.ID}} {{.Repository}}"]);
    for alias in ["ls", "list"] {
        let out = cli.ok(&["image", alias, "--format", "{{.ID}} {{.Repository}}"]);
        assert_eq!(out, images, "image {alias}");
        assert!(cli.ok(&["image", alias]).starts_with("REPOSITORY"));
    }
    assert_eq!(
        cli.ok(&["container", "inspect", "--format", "{{.Name}}", "grp-a"]),
        "/grp-a\n"
    );
    let id = cli.ok(&["image", "inspect", "-f", "{{.Id}}", BASE]);
    assert!(id.starts_with("sha256:"), "{id}");
    // `container inspect` looks at containers only
    cli.fails(&["container", "inspect", BASE], 1);
    cli.ok(&["container", "start", "-a", "grp-a"]);
    cli.ok(&["image", "tag", BASE, "localhost/other:1"]);
    assert!(
        cli.ok(&["image", "history", "-q", "localhost/other:1"])
            .lines()
            .count()
            >= 1
    );
    cli.ok(&["image", "rm", "localhost/other:1"]);
    cli.ok(&["image", "tag", BASE, "localhost/other:2"]);
    cli.ok(&["image", "remove", "localhost/other:2"]);
    cli.ok(&["container", "rm", "grp-a"]);
    cli.ok(&["container", "create", "--name", "grp-b", BASE, "true"]);
    cli.ok(&["container", "remove", "grp-b"]);
    cli.ok(&["volume", "create", "grpvol"]);
    assert_eq!(cli.ok(&["volume", "list", "-q"]), "grpvol\n");
    cli.ok(&["volume", "remove", "grpvol"]);
    assert!(cli.ok(&["network", "list"]).starts_with("NETWORK ID"));
    assert!(cli
        .ok(&["system", "info"])
        .contains("Storage Driver: overlay2"));
    // help lists the borrowed verbs under Docker's names
    let help = cli.ok(&["container", "--help"]);
    for verb in ["ls", "run", "rm", "inspect", "logs", "prune", "commit"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(verb)),
            "{verb}: {help}"
        );
    }
    let help = cli.ok(&["image", "--help"]);
    for verb in ["ls", "rm", "pull", "history", "build", "prune"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(verb)),
            "{verb}: {help}"
        );
    }

    // container prune: the stopped ones, Docker's lines
    cli.ok(&["run", "--name", "grp-c", BASE, "sh", "-c", "echo x > /f"]);
    cli.ok(&["run", "-d", "--name", "grp-d", BASE, "sleep", "100"]);
    let c_id = cli.ok(&["inspect", "-f", "{{.Id}}", "grp-c"]);
    let out = cli.ok(&["container", "prune", "-f"]);
    assert!(
        out.starts_with(&format!("Deleted Containers:\n{c_id}\n")),
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert_ne!(
        out.lines().last().unwrap(),
        "Total reclaimed space: 0B",
        "{out}"
    );
    assert_eq!(cli.ok(&["ps", "-a", "--format", "{{.Names}}"]), "grp-d\n");

    // image prune: nothing dangling; -a keeps the image grp-d uses, removes the other
    cli.ok(&["image", "tag", BASE, "localhost/spare:1"]);
    let out = cli.ok(&["image", "prune", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n");
    let out = cli.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(out, "Total reclaimed space: 0B\n", "same image, still used");
    cli.ok(&["rm", "-f", "grp-d"]);
    let out = cli.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("Deleted Images:\n"), "{out}");
    assert!(
        out.contains("untagged: localhost/busybox:latest\n"),
        "{out}"
    );
    assert!(out.contains("untagged: localhost/spare:1\n"), "{out}");
    assert!(out.contains("deleted: sha256:"), "{out}");
    assert_eq!(cli.ok(&["images", "-q"]), "");
}

#[test]
#[ignore = "requires root"]
fn system_df_counts_and_system_prune_empties_the_root() {
    let cli = Cli::new();
    let df = cli.df();
    assert_eq!(df[0].split('/').next().unwrap(), "Images=1", "{df:?}");
    assert_eq!(df[1], "Containers=0/0/0B", "{df:?}");
    assert_eq!(df[2], "Local Volumes=0/0/0B", "{df:?}");
    assert_eq!(df[3], "Build Cache=0/0/0B", "{df:?}");
    let table = cli.ok(&["system", "df"]);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
        "{table}"
    );

    // a build fills the build cache; containers and volumes count
    let ctx = tempfile::tempdir().unwrap();
    fs::write(
        ctx.path().join("Dockerfile"),
        format!("FROM {BASE}\nRUN head -c 100000 /dev/zero > /blob\n"),
    )
    .unwrap();
    cli.ok(&[
        "build",
        "-q",
        "-t",
        "localhost/built:1",
        ctx.path().to_str().unwrap(),
    ]);
    cli.ok(&[
        "run",
        "--name",
        "df-a",
        "-v",
        "dfvol:/v",
        BASE,
        "sh",
        "-c",
        "echo hello > /v/f; echo x > /g",
    ]);
    let df = cli.df();
    assert!(df[0].starts_with("Images=2/1/"), "{df:?}");
    assert!(df[1].starts_with("Containers=1/0/"), "{df:?}");
    assert_ne!(df[1], "Containers=1/0/0B", "{df:?}");
    assert_eq!(df[2], "Local Volumes=1/1/6B", "{df:?}");
    let cache = df[3].strip_prefix("Build Cache=").unwrap();
    assert!(!cache.starts_with("0/"), "{df:?}");
    assert!(!cache.ends_with("/0B"), "{df:?}");
    let verbose = cli.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("Images space usage:"), "{verbose}");
    assert!(verbose.contains("df-a"), "{verbose}");
    assert!(verbose.contains("dfvol"), "{verbose}");

    // a user network, left unused
    cli.ok(&["network", "create", "--subnet", "10.213.0.0/24", "dfnet"]);
    let out = cli.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    assert!(out.contains("Deleted Containers:\n"), "{out}");
    assert!(out.contains("Deleted Networks:\ndfnet\n"), "{out}");
    assert!(out.contains("Deleted Volumes:\ndfvol\n"), "{out}");
    assert!(out.contains("untagged: localhost/built:1\n"), "{out}");
    assert!(out.contains("Deleted build cache objects:"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("Total reclaimed space: "),
        "{out}"
    );
    assert_eq!(
        cli.df(),
        [
            "Images=0/0/0B",
            "Containers=0/0/0B",
            "Local Volumes=0/0/0B",
            "Build Cache=0/0/0B"
        ]
    );
    assert_eq!(cli.ok(&["images", "-q"]), "");
    assert_eq!(cli.ok(&["ps", "-a", "-q"]), "");
    let nets = cli.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        nets.lines()
            .all(|n| ["bridge", "host", "none"].contains(&n)),
        "{nets}"
    );
    // nothing left on disk: no blob, no unpacked layer, no cache mount
    let blobs = cli.root.path().join("images/blobs/sha256");
    let left: Vec<_> = fs::read_dir(&blobs)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    let layers = cli.root.path().join("layers");
    let left: Vec<_> = fs::read_dir(&layers)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
#[ignore = "requires root"]
fn info_and_version_print_what_applies() {
    let cli = Cli::new();
    cli.ok(&["create", "--name", "inf-a", BASE, "true"]);
    let info = cli.ok(&["info"]);
    for want in [
        "Server:",
        " Containers: 1",
        "  Running: 0",
        "  Stopped: 1",
        " Images: 1",
        " Storage Driver: overlay2",
        "  Backing Filesystem: ",
        " Cgroup Driver: cgroupfs",
        " Cgroup Version: ",
        " Default Runtime: cargohold",
        "  seccomp",
        " Rootless: false",
        " Kernel Version: ",
        " OSType: linux",
        " CPUs: ",
        " Total Memory: ",
    ] {
        assert!(info.contains(want), "{want:?}: {info}");
    }
    assert!(
        info.contains(&format!(" Docker Root Dir: {}", cli.root.path().display())),
        "{info}"
    );
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(info.contains(kernel.trim()), "{info}");
    assert_eq!(
        cli.ok(&["info", "--format", "{{.Driver}} {{.CgroupDriver}}"]),
        "overlay2 cgroupfs\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&cli.ok(&["info", "--format", "{{json .}}"])).unwrap();
    assert!(v["NCPU"].as_u64().unwrap() >= 1);
    assert!(v["MemTotal"].as_u64().unwrap() > 0);
    assert_eq!(v["Containers"], 1);
    let cgv = v["CgroupVersion"].as_str().unwrap();
    assert!(["1", "2", "1 (hybrid)"].contains(&cgv), "{cgv}");
    let cg2 = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(" - cgroup2 ");
    assert_eq!(cgv != "1", cg2, "{cgv}");

    let version = cli.ok(&["version"]);
    assert!(version.starts_with("Client:\n Version:"), "{version}");
    assert!(version.contains("\nServer: "), "{version}");
    assert!(version.contains(" OS/Arch:"), "{version}");
    assert!(version.contains(" API version:       n/a"), "{version}");
    assert_eq!(
        cli.ok(&[
            "version",
            "--format",
            "{{.Client.Version}} {{.Server.Version}}"
        ]),
        format!("{0} {0}\n", env!("CARGO_PKG_VERSION"))
    );
    let e = cli.fails(&["version", "--format", "{{.Client.Version"], 125);
    assert!(e.contains("template parsing error"), "{e}");
    cli.ok(&["rm", "inf-a"]);
}
