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
