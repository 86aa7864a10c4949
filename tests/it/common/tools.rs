//! Programs the tests run: the crate's examples, skopeo/umoci/buildah, and an HTTP client.

use std::collections::HashMap;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

/// The path of an example binary (`runtime`, `engine`): `target/<profile>/deps/it-HASH` →
/// `target/<profile>/examples/<name>`, brought up to date by `cargo build --example NAME`
/// once per test process (a no-op when it is; `cargo test` builds an example with
/// `test = true` only as a test harness, so the binary could be one of an older tree).
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: Mutex<Option<HashMap<String, PathBuf>>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(bin) = built.get_or_insert_with(HashMap::new).get(name) {
        return bin.clone();
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = profile_dir.join("examples").join(name);
    {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        // with the features this test binary has (else cargo rebuilds the example, and
        // the library, without them)
        let mut args = vec!["build", "--example", name];
        if cfg!(feature = "api") {
            args.extend(["--features", "api"]);
        }
        let mut build = Command::new(cargo);
        // without what `cargo test` sets for the test binary: a build script that reads
        // one (ring reads CARGO_MANIFEST_DIR) would run again, and the next `cargo test`
        // would rebuild it back
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            let set_by_cargo_test = ["CARGO_MANIFEST_", "CARGO_PKG_", "CARGO_CRATE_NAME"]
                .iter()
                .any(|p| key.starts_with(p))
                || [
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_BIN_NAME",
                ]
                .contains(&key.as_ref());
            if set_by_cargo_test {
                build.env_remove(key.as_ref());
            }
        }
        let st = build
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap_or_else(|e| panic!("running cargo build --example {name}: {e}"));
        assert!(st.success(), "cargo build --example {name} failed");
    }
    assert!(bin.exists(), "{} missing", bin.display());
    built
        .get_or_insert_with(HashMap::new)
        .insert(name.to_owned(), bin.clone());
    bin
}

/// Runs `cmd` to completion with stdout and stderr going to files, not pipes: a container
/// it starts inherits them and would keep a pipe open.
pub fn output_via_files(cmd: &mut Command) -> Output {
    let stdout = tempfile::tempfile().unwrap();
    let stderr = tempfile::tempfile().unwrap();
    let status = cmd
        .stdout(stdout.try_clone().unwrap())
        .stderr(stderr.try_clone().unwrap())
        .status()
        .unwrap();
    let read = |mut f: std::fs::File| {
        let mut v = Vec::new();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut v).unwrap();
        v
    };
    Output {
        status,
        stdout: read(stdout),
        stderr: read(stderr),
    }
}

/// Whether `name --version` runs (skopeo, umoci, buildah are optional).
pub fn tool(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `cmd`, asserts it succeeded and returns its stdout.
pub fn run_tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `GET /` from `addr` over plain HTTP/1.0: the whole reply.
pub fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// [`http_get`], retried for up to 10 s while the server is not up yet (no connection or
/// an empty reply).
pub fn http_get_retried(addr: &str) -> String {
    let mut last = None;
    for _ in 0..100 {
        match http_get(addr) {
            Ok(reply) if !reply.is_empty() => return reply,
            Ok(_) => last = Some("an empty reply".to_owned()),
            Err(e) => last = Some(e.to_string()),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("GET http://{addr}/: {last:?}");
}

/// The engine example on the engine root `root` with `args`, in a network namespace of its
/// own (`unshare --net`: only loopback, so bridges and rules it makes stay there), stdin
/// `/dev/null`.
pub fn engine_cmd(root: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("unshare");
    c.arg("--net")
        .arg("--")
        .arg(example_bin("engine"))
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(std::process::Stdio::null());
    c
}

/// The stdout and stderr of the engine run `engine args` that gave `o`, which must have
/// succeeded (the assertion shows both).
pub fn checked(args: &[&str], o: Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "engine {args:?}: {:?}\nstdout: {stdout}\nstderr: {stderr}",
        o.status
    );
    (stdout, stderr)
}

/// Runs `cmd` with `input` written to its stdin (then closed); its output, piped.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `tar -C dir -cf tarball .`: the tree as a tarball (what `engine import` takes).
pub fn tar_create(dir: &Path, tarball: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-cf")
        .arg(tarball)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success(), "tar -cf {}", tarball.display());
}

/// `tar -C dir -xf tarball`: a tarball unpacked into `dir` (which exists).
pub fn tar_extract(tarball: &Path, dir: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .arg("-xf")
        .arg(tarball)
        .status()
        .unwrap();
    assert!(st.success(), "tar -xf {}", tarball.display());
}

/// The column names of a CLI table (`docker images`, `compose ps`): its first line split
/// where two or more spaces part the columns.
pub fn table_header(table: &str) -> Vec<&str> {
    table
        .lines()
        .next()
        .unwrap_or_default()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}
