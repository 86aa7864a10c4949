//! The Docker Engine API (issue 16) served by the engine example's `system service`,
//! driven by real clients: the docker CLI, curl on the socket.

use crate::common::api::ApiService;

/// The version handshake: `/_ping` under any version prefix with the headers clients
/// negotiate from, `docker version` and `docker info` through the socket (the server's
/// API version and the engine's counts), Docker's 404 body for an unknown route and its
/// refusal of a too old version; the socket is never world-writable.
#[test]
#[ignore = "requires root"]
fn clients_negotiate_and_see_the_engine() {
    let api = ApiService::start();
    assert_eq!(api.sock_mode(), 0o660);
    let ping = api.curl(&["http://d/v1.53/_ping"]);
    assert!(ping.starts_with("HTTP/1.1 200"), "{ping}");
    let lower = ping.to_ascii_lowercase();
    assert!(lower.contains("api-version: 1.44"), "{ping}");
    assert!(lower.contains("builder-version: 1"), "{ping}");
    assert!(ping.ends_with("\n\nOK"), "{ping}");
    let head = api.curl(&["-I", "http://d/_ping"]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let missing = api.curl(&["http://d/v1.44/nothing/here"]);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(
        missing.ends_with("{\"message\":\"page not found\"}"),
        "{missing}"
    );
    let old = api.curl(&["http://d/v1.12/info"]);
    assert!(
        old.starts_with("HTTP/1.1 400") && old.contains("too old"),
        "{old}"
    );
    let v = api.ok(&[
        "version",
        "--format",
        "{{.Server.APIVersion}} {{.Server.Os}}",
    ]);
    assert_eq!(v.trim(), "1.44 linux");
    let info = api.ok(&[
        "info",
        "--format",
        "{{.Images}} {{.Containers}} {{.OSType}}",
    ]);
    assert_eq!(info.trim(), "1 0 linux");
}

/// `system service --time 1` exits once a second passes without a connection.
#[test]
#[ignore = "requires root"]
fn an_idle_service_exits() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let mut child = std::process::Command::new(crate::common::example_bin("engine"))
        .args(["--root", dir.path().join("root").to_str().unwrap()])
        .args(["system", "service", "--time", "1"])
        .arg(format!("unix://{}", sock.display()))
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            panic!("still serving after 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(start.elapsed() >= std::time::Duration::from_millis(900));
}

/// Bad input gets Docker's kind of answer and leaves nothing: malformed JSON and wrong
/// types are 400 naming the field, unknown fields are ignored, a body past the limit is
/// 413, and the server serves on.
#[test]
#[ignore = "requires root"]
fn bad_requests_are_refused_clearly() {
    let api = ApiService::start();
    let post = |path: &str, body: &str| {
        api.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Expect:",
            "--data-binary",
            body,
            &format!("http://d/v1.44{path}"),
        ])
    };
    let malformed = post("/networks/create", "{\"Name\": ");
    assert!(malformed.starts_with("HTTP/1.1 400"), "{malformed}");
    assert!(malformed.contains("invalid JSON"), "{malformed}");
    let wrong = post("/networks/create", "{\"Name\": 5}");
    assert!(
        wrong.starts_with("HTTP/1.1 400") && wrong.contains("Name"),
        "{wrong}"
    );
    let unknown = post(
        "/volumes/create",
        "{\"Name\": \"v1\", \"Bogus\": {\"x\": 1}}",
    );
    assert!(unknown.starts_with("HTTP/1.1 201"), "{unknown}");
    // 9 MiB of JSON: past the limit
    let big = format!("{{\"Name\": \"{}\"}}", "x".repeat(9 << 20));
    let path = api.sock.with_file_name("big.json");
    std::fs::write(&path, big).unwrap();
    let huge = post("/networks/create", &format!("@{}", path.display()));
    assert!(
        huge.starts_with("HTTP/1.1 413"),
        "{}",
        &huge[..huge.len().min(200)]
    );
    // nothing was made of the refused ones; the server serves on
    assert_eq!(
        api.ok(&["network", "ls", "-q", "--filter", "type=custom"]),
        ""
    );
    assert_eq!(api.ok(&["volume", "ls", "-q"]).trim(), "v1");
}
