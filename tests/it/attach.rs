//! `engine start -a -i` (`docker start -a -i`): a container created with `-i` reads a pipe
//! until it ends, or a terminal (raw, ctrl-p ctrl-q detaching), and its exit code is the
//! command's (issue 13). The library's `Container::attach_stdin` is tested in
//! tests/monitor.rs (detached containers need `cargohold::init()` in `main`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;

/// The engine CLI on a root of its own with the busybox image imported.
struct Cli {
    root: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        let root = tempfile::Builder::new()
            .prefix("cargohold-attach-cli")
            .tempdir()
            .unwrap();
        let engine = cargohold::Engine::open(root.path()).unwrap();
        common::busybox().import(&engine, "busybox:latest");
        Cli { root }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::example_bin("engine"));
        c.arg("--root").arg(self.root.path()).args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = common::output_via_files(self.cmd(args).stdin(Stdio::null()));
        assert!(
            o.status.success(),
            "engine {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
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
fn start_a_i_forwards_a_pipe_and_returns_the_exit_code() {
    let cli = Cli::new();
    cli.ok(&[
        "create",
        "-i",
        "--name",
        "cat",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "cat; exit 4",
    ]);
    let mut child = cli
        .cmd(&["start", "-a", "-i", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\nworld\n")
        .unwrap();
    // Our end of the pipe is closed: the container's stdin ends, cat ends.
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\nworld\n");
    assert_eq!(o.status.code(), Some(4));
    let ps = cli.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("cat Exited (4)"), "{ps}");
    // Started again, it takes input again.
    let mut child = cli
        .cmd(&["start", "-a", "-i", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"again\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "again\n");
}

/// `cmd` (program and arguments only) run by a shell that first sizes [`on_a_terminal`]'s
/// terminal (`script`'s has no size) to `rows` × `cols`.
pub(crate) fn sized_terminal(cmd: &Command, rows: u16, cols: u16) -> Command {
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("\"{}\"", a.to_string_lossy()))
        .collect();
    let mut sh = Command::new("sh");
    sh.args([
        "-c",
        &format!("stty rows {rows} cols {cols}; exec {}", line.join(" ")),
    ]);
    sh
}

/// Runs `engine args` on a terminal of its own (`script`), typing `input` after a second;
/// returns its exit code and what the terminal showed.
pub(crate) fn on_a_terminal(cmd: &Command, input: &[u8]) -> Option<(i32, String)> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipping: no script(1) for a pty");
        return None;
    }
    let line: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let mut script = Command::new("script")
        .args(["-qec", &line.join(" "), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = script.stdin.take().unwrap();
    let input = input.to_vec();
    // Kept open until the command ends: script ends its session at its stdin's end.
    let typer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        let _ = stdin.write_all(&input);
        std::thread::sleep(Duration::from_secs(5));
    });
    let o = script.wait_with_output().unwrap();
    drop(typer);
    Some((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    ))
}

#[test]
#[ignore = "requires root"]
fn start_a_i_on_a_tty_container_through_a_pty() {
    let cli = Cli::new();
    cli.ok(&[
        "create",
        "-i",
        "-t",
        "--name",
        "sh",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    let Some((code, shown)) = on_a_terminal(
        &cli.cmd(&["start", "-a", "-i", "sh"]),
        b"echo hel\"\"lo $((6*7))\nexit 5\n",
    ) else {
        return;
    };
    assert_eq!(code, 5, "{shown:?}");
    // The command echoed by the container's pty, then its output.
    assert!(shown.contains("hello 42"), "{shown:?}");
    // ctrl-p ctrl-q detaches, the container runs on.
    cli.ok(&[
        "create",
        "-it",
        "--name",
        "bg",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    let (code, shown) =
        on_a_terminal(&cli.cmd(&["start", "-a", "-i", "bg"]), b"echo a\n\x10\x11").unwrap();
    assert_eq!(code, 0, "{shown:?}");
    let ps = cli.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("bg Up"), "{ps}");

    // The container's terminal takes the size of ours.
    cli.ok(&[
        "create",
        "-it",
        "--name",
        "sized",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    let sized = sized_terminal(&cli.cmd(&["start", "-a", "-i", "sized"]), 31, 97);
    let (code, shown) = on_a_terminal(&sized, b"stty size\nexit 3\n").unwrap();
    assert_eq!(code, 3, "{shown:?}");
    assert!(shown.contains("31 97"), "{shown:?}");
}
