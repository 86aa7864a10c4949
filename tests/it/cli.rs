//! `examples/runtime.rs`, the runc-compatible command line: its commands and exit codes on
//! busybox bundles, and containerd and podman driving it (`scripts/interop.sh`).
//!
//! The example binary is found next to this test binary (`target/debug/examples/runtime`;
//! `cargo test` builds examples) and built with `cargo build --example runtime` if missing.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{self, Bundle, RuntimeCli as Cli};

/// A busybox bundle running `args`, without a terminal.
fn bundle(args: &[&str]) -> Bundle {
    Bundle::new(args)
}

#[test]
fn version_spec_and_features() {
    let cli = Cli::new("cargohold-cli");
    let v = cli.ok(&["--version"]);
    assert!(v.starts_with("cargohold runtime version "), "{v}");
    assert!(v.contains("spec: 1.2.0"), "{v}");

    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().to_str().unwrap();
    cli.ok(&["spec", "--bundle", b]);
    let spec: cargohold::oci_spec::runtime::Spec =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(spec.root().as_ref().unwrap().path(), Path::new("rootfs"));
    let err = cli.fails(&["spec", "--bundle", b]);
    assert!(err.contains("exists"), "{err}");
    let err = cli.fails(&["spec", "--rootless", "--bundle", b]);
    assert!(err.contains("rootless"), "{err}");

    let f: serde_json::Value = serde_json::from_str(&cli.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert_eq!(f["ociVersionMax"], "1.2.0");
    assert!(f["hooks"].as_array().unwrap().len() == 6);
    let ns = f["linux"]["namespaces"].as_array().unwrap();
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(ns.iter().any(|v| v == n), "{n} missing");
    }
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));
    assert_eq!(f["linux"]["cgroup"]["v1"], true);
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    assert!(f["linux"]["seccomp"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "SCMP_ACT_ERRNO"));
    assert!(f["linux"]["apparmor"]["enabled"].is_boolean());
    assert!(f["linux"]["selinux"]["enabled"].is_boolean());
    assert!(f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o == "rbind"));
}

#[test]
fn usage_errors_exit_1() {
    let cli = Cli::new("cargohold-cli");
    let o = cli.out(&["kill", "x", "NOSUCHSIG"]);
    assert_eq!(o.status.code(), Some(1));
    let o = cli.out(&["no-such-command"]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
#[ignore = "requires root"]
fn create_start_state_kill_delete() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["sleep", "300"]);
    let id = common::unique("cli");
    let pid_file = b.path().join("init.pid");
    let bundle = b.path().to_str().unwrap();

    cli.ok(&[
        "create",
        "--bundle",
        bundle,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    let st = cli.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(
        st["bundle"],
        std::fs::canonicalize(b.path()).unwrap().to_str().unwrap()
    );
    assert!(st["rootfs"].as_str().unwrap().ends_with("/rootfs"));
    assert!(st["created"].as_str().unwrap().contains('T'));
    // An id that exists is refused; the first container is untouched.
    let err = cli.fails(&["create", "--bundle", bundle, &id]);
    assert!(err.contains("already exists"), "{err}");

    // `start` from another process than the one that created it (as containerd does).
    cli.ok(&["start", &id]);
    assert_eq!(cli.state(&id)["status"], "running");
    let err = cli.fails(&["start", &id]);
    assert!(err.contains("running"), "{err}");

    let list: serde_json::Value =
        serde_json::from_str(&cli.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["status"], "running");
    assert_eq!(cli.ok(&["list", "-q"]).trim(), id);
    assert!(cli.ok(&["list"]).contains("running"));

    let err = cli.fails(&["delete", &id]);
    assert!(err.contains("running"), "{err}");

    cli.ok(&["kill", &id, "SIGKILL"]);
    assert_eq!(cli.wait_status(&id, "stopped")["status"], "stopped");
    let err = cli.fails(&["kill", &id, "KILL"]);
    assert!(err.contains("not running"), "{err}");

    cli.ok(&["delete", &id]);
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());
    // What containerd checks for after a delete.
    let err = cli.fails(&["delete", &id]);
    assert!(err.contains("does not exist"), "{err}");
    let err = cli.fails(&["state", &id]);
    assert!(err.contains("does not exist"), "{err}");
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn delete_force_kills_a_running_container() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["sleep", "300"]);
    let id = common::unique("cli-force");
    cli.ok(&["run", "-d", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = cli.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(cli.state(&id)["status"], "running");
    cli.ok(&["delete", "--force", &id]);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z")
        }
    );
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn run_prints_and_passes_exit_codes_through() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["echo", "hello"]);
    let o = cli.out(&[
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &common::unique("cli-run"),
    ]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");

    let b = bundle(&["sh", "-c", "exit 7"]);
    let o = cli.out(&[
        "run",
        "-b",
        b.path().to_str().unwrap(),
        &common::unique("cli-run"),
    ]);
    assert_eq!(o.status.code(), Some(7));

    // Killed by a signal: 128 + signal, as runc.
    let b = bundle(&["sleep", "300"]);
    let id = common::unique("cli-run");
    let child = cli
        .cmd(&["run", "--bundle", b.path().to_str().unwrap(), &id])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let st = cli.wait_status(&id, "running");
    if st["status"] != "running" {
        // Do not leave the container behind the panic.
        let _ = cli.out(&["delete", "--force", &id]);
        let _ = child.wait_with_output();
        panic!("run never reached running: {st}");
    }
    cli.ok(&["kill", &id, "9"]);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(128 + 9));
    // run deletes the container after it exits.
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());
}

#[test]
#[ignore = "requires root"]
fn exec_ps_pause_resume() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["sleep", "300"]);
    let id = common::unique("cli-exec");
    cli.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    cli.ok(&["start", &id]);

    assert_eq!(cli.ok(&["exec", &id, "echo", "hi"]), "hi\n");
    let o = cli.out(&["exec", &id, "sh", "-c", "exit 5"]);
    assert_eq!(o.status.code(), Some(5));
    let out = cli.ok(&[
        "exec",
        "-e",
        "FOO=bar",
        "--cwd",
        "/tmp",
        &id,
        "sh",
        "-c",
        "echo $FOO $(pwd)",
    ]);
    assert_eq!(out, "bar /tmp\n");
    assert_eq!(
        cli.ok(&["exec", "-u", "65534:65534", &id, "id", "-u"]),
        "65534\n"
    );

    // --process, as containerd and podman call it.
    let process = serde_json::json!({
        "args": ["sh", "-c", "echo from-process; hostname"],
        "cwd": "/",
        "env": ["PATH=/bin"],
        "user": {"uid": 0, "gid": 0},
        "terminal": false
    });
    let pf = b.path().join("process.json");
    std::fs::write(&pf, process.to_string()).unwrap();
    let out = cli.ok(&["exec", "--process", pf.to_str().unwrap(), &id]);
    assert_eq!(out, "from-process\ncargohold\n");

    // --detach with --pid-file: the process runs on after the CLI returns.
    let exec_pid = b.path().join("exec.pid");
    cli.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        exec_pid.to_str().unwrap(),
        &id,
        "sleep",
        "300",
    ]);
    let epid: i64 = std::fs::read_to_string(&exec_pid).unwrap().parse().unwrap();
    let pids: Vec<i64> = serde_json::from_str(&cli.ok(&["ps", "--format", "json", &id])).unwrap();
    let init = cli.state(&id)["pid"].as_i64().unwrap();
    assert!(pids.contains(&init), "{pids:?} lacks init {init}");
    assert!(pids.contains(&epid), "{pids:?} lacks exec {epid}");
    assert!(cli.ok(&["ps", &id]).contains("sleep 300"));

    cli.ok(&["pause", &id]);
    assert_eq!(cli.state(&id)["status"], "paused");
    assert!(cli.fails(&["pause", &id]).contains("paused"));
    cli.ok(&["resume", &id]);
    assert_eq!(cli.state(&id)["status"], "running");

    let ev: serde_json::Value = serde_json::from_str(&cli.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(ev["type"], "stats");
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 2);

    cli.ok(&["update", "--pids-limit", "50", &id]);
    let ev: serde_json::Value = serde_json::from_str(&cli.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(ev["data"]["pids"]["limit"], 50);

    cli.ok(&["kill", "--all", &id, "KILL"]);
    cli.wait_status(&id, "stopped");
    cli.ok(&["delete", &id]);
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn errors_go_to_the_json_log() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["true"]);
    std::fs::write(b.path().join("config.json"), b"{ this is not json").unwrap();
    let log = b.path().join("log.json");
    let id = common::unique("cli-bad");
    let o = cli.out(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("config.json"), "{stderr}");
    let text = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(
        line["msg"].as_str().unwrap().contains("config.json"),
        "{line}"
    );
    assert!(line["time"].as_str().unwrap().ends_with('Z'), "{line}");
    // Nothing left behind.
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());

    // A missing executable is reported too (and leaves nothing behind).
    let b = bundle(&["/no/such/binary"]);
    let o = cli.out(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format=json",
        "run",
        "--bundle",
        b.path().to_str().unwrap(),
        &id,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        line["msg"].as_str().unwrap().contains("/no/such/binary"),
        "{line}"
    );
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());

    // Text format, as runc's default.
    let tlog = b.path().join("log.txt");
    cli.fails(&["--log", tlog.to_str().unwrap(), "delete", "nope"]);
    let text = std::fs::read_to_string(&tlog).unwrap();
    assert!(
        text.contains("level=error") && text.contains("does not exist"),
        "{text}"
    );
}

/// A bundle as `runc spec` writes it (ambient capabilities without inheritable ones), with a
/// busybox rootfs, no terminal and `args`.
fn runc_spec_bundle(args: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("cargohold-runcspec")
        .tempdir()
        .unwrap();
    let o = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "runc spec: {o:?}");
    common::make_rootfs(&dir.path().join("rootfs"));
    let path = dir.path().join("config.json");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        spec["process"]["capabilities"]["ambient"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
            && spec["process"]["capabilities"]["inheritable"].is_null(),
        "runc spec no longer writes ambient without inheritable: {spec}"
    );
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(args);
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    dir
}

#[test]
#[ignore = "requires root"]
fn runc_spec_bundles_run_with_runcs_capabilities_and_a_warning() {
    // CI installs runc (.ci/run); elsewhere the comparison needs it.
    let have_runc = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").exists()));
    if !have_runc {
        eprintln!("skipped: runc is not installed");
        return;
    }
    let b = runc_spec_bundle(&["grep", "^Cap", "/proc/self/status"]);
    let bundle = b.path().to_str().unwrap();
    let runc_root = tempfile::tempdir().unwrap();
    let id = common::unique("runcspec");
    let theirs = common::output_via_files(
        Command::new("runc")
            .arg("--root")
            .arg(runc_root.path())
            .args(["run", "--bundle", bundle, &id])
            .stdin(Stdio::null()),
    );
    assert!(theirs.status.success(), "runc: {theirs:?}");

    let cli = Cli::new("cargohold-cli");
    let log = b.path().join("log.json");
    let ours = cli.out(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        bundle,
        &id,
    ]);
    assert!(ours.status.success(), "ours: {ours:?}");
    let (theirs_out, ours_out) = (
        String::from_utf8_lossy(&theirs.stdout),
        String::from_utf8_lossy(&ours.stdout),
    );
    assert!(ours_out.contains("CapAmb:"), "{ours_out}");
    assert_eq!(ours_out, theirs_out, "the five capability sets differ");
    // Each ambient capability that could not be raised is a warning on stderr and in the
    // log, as runc's logrus writes them.
    let stderr = String::from_utf8_lossy(&ours.stderr);
    assert!(
        stderr.contains("warning") && stderr.contains("CAP_KILL"),
        "{stderr}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let warnings: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["level"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 3, "{text}");
    assert!(
        warnings.iter().all(|w| w["msg"]
            .as_str()
            .unwrap()
            .contains("process.capabilities.ambient")),
        "{text}"
    );
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());
}

#[test]
#[ignore = "requires root"]
fn delete_of_a_created_container_needs_force() {
    let cli = Cli::new("cargohold-cli");
    let b = bundle(&["sleep", "300"]);
    let id = common::unique("cli-created");
    cli.ok(&["create", "--bundle", b.path().to_str().unwrap(), &id]);
    let pid = cli.state(&id)["pid"].as_i64().unwrap();
    let err = cli.fails(&["delete", &id]);
    assert!(err.contains("created"), "{err}");
    assert_eq!(cli.state(&id)["status"], "created");
    cli.ok(&["delete", "--force", &id]);
    let gone =
        || std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z"));
    assert!(gone(), "the init of a force-deleted container lives on");
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());
    assert!(common::cgroups_named(&id).is_empty());
}

#[test]
#[ignore = "requires root"]
fn detached_tty_without_console_socket_is_refused() {
    let cli = Cli::new("cargohold-cli");
    let mut b = bundle(&["true"]);
    b.edit(|s| {
        let mut p = s.process().clone().unwrap();
        p.set_terminal(Some(true));
        s.set_process(Some(p));
    });
    let err = cli.fails(&["create", "--bundle", b.path().to_str().unwrap(), "tty"]);
    assert!(err.contains("console socket"), "{err}");
    assert!(cli.ok(&["list", "-q"]).trim().is_empty());
}

/// Runs one part of scripts/interop.sh, or skips (passing) when the engine is absent.
fn interop(part: &str, binaries: &[&str]) {
    for b in binaries {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(b).exists()))
            .unwrap_or(false);
        if !found {
            eprintln!("skipping the {part} interop test: {b} is not installed");
            return;
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/interop.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg(part)
        .env("RUNTIME", common::example_bin("runtime"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    println!("{out}{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "interop.sh {part} failed:\n{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
#[ignore = "requires root"]
fn containerd_drives_the_runtime() {
    interop(
        "containerd",
        &["containerd", "ctr", "containerd-shim-runc-v2"],
    );
}

#[test]
#[ignore = "requires root"]
fn podman_drives_the_runtime() {
    interop("podman", &["podman", "conmon"]);
}
