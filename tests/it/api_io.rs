//! The Docker Engine API: logs, attach, exec, top, stats, changes, export, archive, driven by real clients (see `common::api`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::api::ApiService;

/// Runs a detached busybox container `name` with `args` through the engine example in
/// the service's namespace (works with or without the API's create route).
fn detached(api: &ApiService, name: &str, flags: &str, cmd: &str) {
    let out = api.engine(&format!(
        "run -d {flags} --name {name} busybox:latest {cmd}"
    ));
    assert!(
        out.status.success(),
        "run {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits (up to 30 s) until `name` has exited.
fn wait_exit(api: &ApiService, name: &str) {
    let out = api.engine(&format!("wait {name}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `POST` of the JSON `body` to `url` (curl): the reply.
fn post_json(api: &ApiService, body: &str, url: &str) -> String {
    api.curl(&["-H", "Content-Type: application/json", "-d", body, url])
}

/// The `Id` of a reply.
fn reply_id(reply: &str) -> String {
    let after = reply
        .split("\"Id\":\"")
        .nth(1)
        .unwrap_or_else(|| panic!("{reply}"));
    after.split('"').next().unwrap().to_owned()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `docker logs`: stdout and stderr apart, `--tail`, `-t`, `-f` until the container
/// exits; a tty container's log raw (curl); Docker's 400 without a stream, 404 unknown.
#[test]
#[ignore = "requires root"]
fn logs_are_docker_logs() {
    let api = ApiService::start();
    detached(
        &api,
        "lg",
        "",
        "sh -c 'echo out1; echo err1 >&2; echo out2; echo out3'",
    );
    wait_exit(&api, "lg");
    let out = api.run(&["logs", "lg"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "out1\nout2\nout3\n");
    assert_eq!(text(&out.stderr), "err1\n");
    let ts = api.ok(&["logs", "-t", "lg"]);
    let lines: Vec<&str> = ts.lines().collect();
    assert_eq!(lines.len(), 3, "{ts}");
    for (l, want) in lines.iter().zip(["out1", "out2", "out3"]) {
        let (time, rest) = l.split_once(' ').unwrap();
        assert!(
            time.len() == 30 && time.ends_with('Z') && time.contains('T'),
            "{l}"
        );
        assert_eq!(rest, want);
    }
    // -f: follows until the container exits
    detached(
        &api,
        "lf",
        "",
        "sh -c 'for i in 1 2 3; do echo line$i; sleep 0.3; done'",
    );
    let f = api.ok(&["logs", "-f", "lf"]);
    assert_eq!(f, "line1\nline2\nline3\n");
    let tail = api.run(&["logs", "--tail", "2", "lf"]);
    assert_eq!(text(&tail.stdout), "line2\nline3\n");
    assert_eq!(text(&tail.stderr), "");
    // a tty: raw bytes, no framing
    detached(&api, "lt", "-t", "echo hi");
    wait_exit(&api, "lt");
    let raw = api.curl(&["http://d/containers/lt/logs?stdout=1"]);
    // (curl's \r\n read as \n)
    assert!(raw.ends_with("\n\nhi\n"), "{raw:?}");
    let framed = api.curl(&["http://d/containers/lg/logs?stderr=1"]);
    assert!(
        framed.ends_with("\n\n\u{2}\0\0\0\0\0\0\u{5}err1\n"),
        "{framed:?}"
    );
    let none = api.curl(&["http://d/containers/lg/logs"]);
    assert!(
        none.starts_with("HTTP/1.1 400") && none.contains("choose at least one"),
        "{none}"
    );
    let missing = api.curl(&["http://d/containers/nope/logs?stdout=1"]);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
}

/// `docker exec`: output, stdin piped in and back, exit codes, `-e`, stdout and stderr
/// apart, `-it` on a terminal; the exec's json once it ended; Docker's errors.
#[test]
#[ignore = "requires root"]
fn exec_runs_in_the_container() {
    let api = ApiService::start();
    detached(&api, "ex1", "", "sleep 300");
    let host = api.ok(&["exec", "ex1", "cat", "/etc/hostname"]);
    assert!(!host.trim().is_empty());
    assert_eq!(host, api.ok(&["exec", "ex1", "hostname"]));
    // stdin in, output back
    let mut c = api.docker();
    c.args(["exec", "-i", "ex1", "sh", "-c", "cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello\nworld\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello\nworld\ndone\n");
    let five = api.run(&["exec", "ex1", "sh", "-c", "exit 5"]);
    assert_eq!(five.status.code(), Some(5));
    assert_eq!(
        api.ok(&["exec", "-e", "A=b", "ex1", "sh", "-c", "echo $A"]),
        "b\n"
    );
    let split = api.run(&["exec", "ex1", "sh", "-c", "echo o; echo e >&2"]);
    assert_eq!(
        (text(&split.stdout), text(&split.stderr)),
        ("o\n".into(), "e\n".into())
    );
    let missing = api.run(&["exec", "ex1", "nothere"]);
    assert_eq!(
        missing.status.code(),
        Some(127),
        "{}",
        text(&missing.stderr)
    );
    // -it: a terminal (script gives the client one)
    let docker = api.docker();
    let env: Vec<String> = docker
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", k.to_str()?, v?.to_str()?)))
        .collect();
    let line = format!(
        "env {} {} exec -it ex1 sh -c 'tty; echo it-$((6*7))'",
        env.join(" "),
        docker.get_program().to_str().unwrap()
    );
    let t = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let tout = text(&t.stdout);
    assert!(t.status.success(), "{tout} {}", text(&t.stderr));
    assert!(
        tout.contains("/dev/pts/") && tout.contains("it-42\r\n"),
        "{tout:?}"
    );
    // the exec's json after it ended; started again: 409
    let created = post_json(
        &api,
        r#"{"Cmd":["sh","-c","echo hi; exit 3"],"AttachStdout":true}"#,
        "http://d/containers/ex1/exec",
    );
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let id = reply_id(&created);
    let started = post_json(
        &api,
        r#"{"Detach":false}"#,
        &format!("http://d/exec/{id}/start"),
    );
    assert!(
        started.ends_with("\n\n\u{1}\0\0\0\0\0\0\u{3}hi\n"),
        "{started:?}"
    );
    let json = api.curl(&[&format!("http://d/exec/{id}/json")]);
    assert!(
        json.contains("\"ExitCode\":3") && json.contains("\"Running\":false"),
        "{json}"
    );
    assert!(json.contains("\"entrypoint\":\"sh\""), "{json}");
    let again = api.post(&format!("http://d/exec/{id}/start"));
    assert!(again.starts_with("HTTP/1.1 409"), "{again}");
    // Docker's errors
    let no_cmd = api.curl(&["-X", "POST", "-d", "{}", "http://d/containers/ex1/exec"]);
    assert!(no_cmd.starts_with("HTTP/1.1 400"), "{no_cmd}");
    let bad = api.curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"Cmd":"ls"}"#,
        "http://d/containers/ex1/exec",
    ]);
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    let unknown = api.curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"Cmd":["ls"]}"#,
        "http://d/containers/nope/exec",
    ]);
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    assert!(api
        .curl(&["http://d/exec/nope/json"])
        .starts_with("HTTP/1.1 404"));
    detached(&api, "gone", "", "true");
    wait_exit(&api, "gone");
    let stopped = api.curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"Cmd":["ls"]}"#,
        "http://d/containers/gone/exec",
    ]);
    assert!(
        stopped.starts_with("HTTP/1.1 409") && stopped.contains("is not running"),
        "{stopped}"
    );
}

/// `docker top`, `stats --no-stream`, `diff`, `export`, `cp` both ways.
#[test]
#[ignore = "requires root"]
fn top_stats_diff_export_cp() {
    let api = ApiService::start();
    detached(&api, "io1", "", "sleep 300");
    let top = api.ok(&["top", "io1"]);
    assert!(top.contains("PID") && top.contains("sleep 300"), "{top}");
    let stats = api.ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}}",
        "io1",
    ]);
    let (name, mem) = stats.trim().split_once(' ').unwrap();
    assert_eq!(name, "io1");
    assert!(mem.contains(" / ") && mem.contains('B'), "{stats}");
    let json = api.curl(&["http://d/containers/io1/stats?stream=false&one-shot=true"]);
    for key in [
        "\"read\"",
        "\"preread\"",
        "\"cpu_stats\"",
        "\"precpu_stats\"",
        "\"memory_stats\"",
        "\"pids_stats\"",
        "\"networks\"",
        "\"blkio_stats\"",
    ] {
        assert!(json.contains(key), "{key}: {json}");
    }
    api.ok(&[
        "exec",
        "io1",
        "sh",
        "-c",
        "echo z > /newfile; rm /www/index.html",
    ]);
    let diff = api.ok(&["diff", "io1"]);
    assert!(diff.lines().any(|l| l == "A /newfile"), "{diff}");
    assert!(diff.lines().any(|l| l == "D /www/index.html"), "{diff}");
    assert!(diff.lines().any(|l| l == "C /www"), "{diff}");
    let export = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "DOCKER_HOST=unix://{} {} export io1 | tar t",
            api.sock.display(),
            api.docker().get_program().to_str().unwrap()
        ))
        .output()
        .unwrap();
    let list = text(&export.stdout);
    assert!(
        list.lines().any(|l| l == "bin/busybox"),
        "{}",
        text(&export.stderr)
    );
    assert!(list.lines().any(|l| l == "newfile"), "{list}");
    // cp out: a tar of the path
    let out = api.run(&["cp", "io1:/newfile", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut entries = ar.entries().unwrap();
    let mut e = entries.next().unwrap().unwrap();
    assert_eq!(e.path().unwrap().to_str(), Some("newfile"));
    let mut body = String::new();
    e.read_to_string(&mut body).unwrap();
    assert_eq!(body, "z\n");
    let head = api.curl(&["-I", "http://d/containers/io1/archive?path=/newfile"]);
    assert!(
        head.to_ascii_lowercase()
            .contains("x-docker-container-path-stat: "),
        "{head}"
    );
    // cp in
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "copied in\n").unwrap();
    api.ok(&["cp", file.to_str().unwrap(), "io1:/tmp/"]);
    assert_eq!(api.ok(&["exec", "io1", "cat", "/tmp/file"]), "copied in\n");
    let missing = api.run(&["cp", "io1:/no/such", "-"]);
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("Could not find the file"),
        "{}",
        text(&missing.stderr)
    );
    // a file over a directory refused (noOverwriteDirNonDir)
    std::fs::write(dir.path().join("www"), "x").unwrap();
    let over = api.run(&["cp", dir.path().join("www").to_str().unwrap(), "io1:/"]);
    assert!(!over.status.success(), "{}", text(&over.stdout));
}

/// `docker attach` to a container printing lines: what it prints from then on, until it
/// exits (with its exit code).
#[test]
#[ignore = "requires root"]
fn attach_follows_the_output() {
    let api = ApiService::start();
    detached(
        &api,
        "at1",
        "",
        "sh -c 'i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); echo line$i; sleep 0.1; done; echo end; exit 3'",
    );
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let mut c = api.docker();
    c.args(["attach", "at1"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err")).unwrap());
    let mut child = Reaped(c.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&out_path).unwrap().contains("line") {
        assert!(
            Instant::now() < deadline,
            "attach showed nothing: {} {}",
            std::fs::read_to_string(dir.path().join("err")).unwrap(),
            api.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    api.ok(&["exec", "at1", "touch", "/tmp/stop"]);
    let status = child.0.wait().unwrap();
    let out = std::fs::read_to_string(&out_path).unwrap();
    assert!(out.ends_with("end\n"), "{out}");
    assert_eq!(status.code(), Some(3), "{out}");
}

/// A client process killed (by its pid) if the test fails before it ends.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

/// A hijacked exec whose client is killed mid-stream: the service serves on, the process
/// (its stdin closed) ends, and no thread is left behind.
#[test]
#[ignore = "requires root"]
fn a_vanished_exec_client_leaks_nothing() {
    let api = ApiService::start();
    detached(&api, "vx1", "", "sleep 300");
    // warm up the server's pools
    for _ in 0..3 {
        api.ok(&["exec", "vx1", "true"]);
    }
    let before = threads(api.pid());
    for round in 0..5 {
        let mut c = api.docker();
        c.args(["exec", "-i", "vx1", "cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        let mut output = child.stdout.take().unwrap();
        input
            .write_all(format!("round{round}\n").as_bytes())
            .unwrap();
        let mut got = [0u8; 7];
        output.read_exact(&mut got).unwrap();
        assert_eq!(&got, format!("round{round}\n").as_bytes());
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert_eq!(
        api.ok(&["version", "--format", "{{.Server.APIVersion}}"])
            .trim(),
        "1.44"
    );
    // the cats saw their stdin end; the threads that served them ended
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let top = api.ok(&["top", "vx1"]);
        let now = threads(api.pid());
        if !top.contains(" cat") && now <= before + 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "threads {before} -> {now}; processes:\n{top}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A streamed reply's status line and headers reach the client at once, before any byte
/// of its body: `logs -f` of a quiet container, `/events`, `wait` of a running one (curl
/// gives up at `--max-time` having read the headers and nothing else).
#[test]
#[ignore = "requires root"]
fn streamed_replies_send_their_headers_at_once() {
    let api = ApiService::start();
    api.ok(&["run", "-d", "--name", "quiet", "busybox", "sleep", "300"]);
    for (method, url) in [
        ("GET", "http://d/containers/quiet/logs?stdout=1&follow=1"),
        ("GET", "http://d/events"),
        ("POST", "http://d/containers/quiet/wait"),
    ] {
        let r = api.curl(&["-N", "--max-time", "3", "-X", method, url]);
        assert!(r.starts_with("HTTP/1.1 200 OK\n"), "{url}: {r:?}");
        let (_, body) = r.split_once("\n\n").expect("the headers end");
        assert_eq!(body, "", "{url}: no body byte written yet");
    }
    api.ok(&["rm", "-f", "quiet"]);
}

/// The `CapEff` line of `/proc/self/status` of `docker exec [FLAGS] C`.
fn cap_eff(api: &ApiService, flags: &[&str], name: &str) -> String {
    let args = [
        &["exec"],
        flags,
        &[name, "grep", "CapEff", "/proc/self/status"],
    ]
    .concat();
    api.ok(&args).trim().to_owned()
}

/// `docker exec --privileged` gets every capability this host hands out (the container's
/// own are Docker's default few); `docker top` runs the host's `ps` with the CLI's
/// arguments on the container's processes only, and a `ps` that fails is a 500 naming
/// its error.
#[test]
#[ignore = "requires root"]
fn privileged_exec_and_top_with_ps_args() {
    let api = ApiService::start();
    api.ok(&["run", "-d", "--name", "px", "busybox", "sleep", "300"]);
    let plain = cap_eff(&api, &[], "px");
    let privileged = cap_eff(&api, &["--privileged"], "px");
    // ours as root: every capability of the host's bounding set
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let ours = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    assert_eq!(privileged, format!("CapEff:\t{ours}"));
    assert_eq!(plain, "CapEff:\t00000000a80425fb", "Docker's default set");
    // exec's JSON says so
    let created = post_json(
        &api,
        r#"{"Cmd":["true"],"Privileged":true}"#,
        "http://d/containers/px/exec",
    );
    let id = reply_id(&created);
    let json = api.curl(&[&format!("http://d/exec/{id}/json")]);
    assert!(json.contains(r#""privileged":true"#), "{json}");

    let top = api.ok(&["top", "px", "-o", "pid,comm"]);
    let lines: Vec<&str> = top.lines().collect();
    assert_eq!(lines.len(), 2, "the header and sleep alone: {top}");
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["PID", "COMMAND"]
    );
    assert!(lines[1].ends_with("sleep"), "{top}");
    let full = api.ok(&["top", "px"]);
    assert!(full.lines().next().unwrap().starts_with("UID"), "{full}");
    assert!(
        full.lines().nth(1).unwrap().ends_with("sleep 300"),
        "{full}"
    );
    let bad = api.curl(&["http://d/containers/px/top?ps_args=-o%20nosuchcolumn"]);
    assert!(bad.starts_with("HTTP/1.1 500"), "{bad}");
    assert!(bad.contains(r#"{"message":"ps: "#), "{bad}");
    api.ok(&["rm", "-f", "px"]);
}

/// Attach with detach keys of its own (docker-py, as a client that sends `detachKeys`):
/// ctrl-p ctrl-q pass through to the shell, ctrl-x y ends the connection and the
/// container runs on; an invalid spec is a 400 naming it, for attach and exec.
#[test]
#[ignore = "requires root"]
fn attach_detaches_with_its_own_keys() {
    let api = ApiService::start();
    api.ok(&["run", "-dit", "--name", "dk", "busybox", "sh"]);
    let script = r#"
import socket, sys, docker
c = docker.from_env().containers.get("dk")
s = c.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1,
                            "detachKeys": "ctrl-x,y"})
raw = s._sock
raw.settimeout(20)
def until(marker):
    got = b""
    while marker not in got:
        chunk = raw.recv(4096)
        if not chunk:
            sys.exit("closed before " + marker.decode())
        got += chunk
raw.sendall(b"\x10\x11echo one-$((20+22))\n")
until(b"one-42")
raw.sendall(b"echo two-$((40+2))\n")
until(b"two-42")
raw.sendall(b"\x18y")
while raw.recv(4096):
    pass
print("detached")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .env("DOCKER_HOST", format!("unix://{}", api.sock.display()))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        "detached",
        "{}\n{}",
        text(&out.stderr),
        api.log()
    );
    assert_eq!(
        api.ok(&["inspect", "-f", "{{.State.Running}}", "dk"])
            .trim(),
        "true"
    );
    let bad = api.post("http://d/containers/dk/attach?stream=1&stdout=1&detachKeys=ctrl-1");
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(
        bad.contains("Invalid detach keys (ctrl-1) provided"),
        "{bad}"
    );
    let bad = post_json(
        &api,
        r#"{"Cmd":["true"],"DetachKeys":"ctrl-x,zz"}"#,
        "http://d/containers/dk/exec",
    );
    assert!(bad.starts_with("HTTP/1.1 400"), "{bad}");
    assert!(
        bad.contains("Invalid escape keys (ctrl-x,zz) provided"),
        "{bad}"
    );
    api.ok(&["rm", "-f", "dk"]);
}
