//! The system routes: `/_ping`, `/version`, `/info` (and `/events`, `/auth` of their own
//! modules).

use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};

use super::http::{self, ApiError, Call, Reply};
use crate::Status;

/// Routes a system call.
pub(super) async fn route(call: Call) -> Reply {
    let m = call.method().clone();
    match (m, call.path().as_slice()) {
        (Method::GET | Method::HEAD, ["_ping"]) => ping(call.method() == Method::HEAD),
        (Method::GET, ["version"]) => http::json(StatusCode::OK, &version()),
        (Method::GET, ["info"]) => {
            let engine = call.engine.clone();
            http::reply_json(StatusCode::OK, http::blocking(move || info(&engine)).await)
        }
        (_, ["events"]) => super::events::route(call).await,
        (Method::POST, ["auth"]) => super::images::auth(call).await,
        _ => http::not_found(),
    }
}

/// `/_ping`: `OK`, with the headers a client negotiates from (`API-Version` is added to
/// every reply).
fn ping(head: bool) -> Reply {
    let mut r = if head {
        http::status(StatusCode::OK)
    } else {
        http::text(StatusCode::OK, "OK")
    };
    let h = r.headers_mut();
    h.insert("builder-version", HeaderValue::from_static("1"));
    h.insert(
        "cache-control",
        HeaderValue::from_static("no-cache, no-store, must-revalidate"),
    );
    h.insert("pragma", HeaderValue::from_static("no-cache"));
    r
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Docker's name for this machine's architecture.
fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// `/version`.
fn version() -> Value {
    let v = env!("CARGO_PKG_VERSION");
    json!({
        "Platform": { "Name": "cargohold" },
        "Components": [{
            "Name": "Engine",
            "Version": v,
            "Details": {
                "ApiVersion": super::API_VERSION,
                "MinAPIVersion": super::MIN_API_VERSION,
                "Os": "linux",
                "Arch": arch(),
                "KernelVersion": kernel(),
            },
        }],
        "Version": v,
        "ApiVersion": super::API_VERSION,
        "MinAPIVersion": super::MIN_API_VERSION,
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch(),
        "KernelVersion": kernel(),
        "BuildTime": "",
    })
}

/// `/info`: the counts of containers and images, and the host as Docker describes it.
fn info(engine: &crate::Engine) -> Result<Value, ApiError> {
    let containers = engine.containers().list()?;
    let count = |s: Status| containers.iter().filter(|c| c.status() == s).count();
    let images = engine.images().list()?.len();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let mem = crate::host_memory().unwrap_or(0);
    let cgroup2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut security = vec!["name=seccomp,profile=builtin"];
    if crate::paths::rootless() {
        security.push("name=rootless");
    }
    let id = engine
        .root()
        .canonicalize()
        .unwrap_or_else(|_| engine.root().to_owned());
    Ok(json!({
        "ID": format!("{:x}", sha_of(id.to_string_lossy().as_bytes())),
        "Containers": containers.len(),
        "ContainersRunning": count(Status::Running),
        "ContainersPaused": count(Status::Paused),
        "ContainersStopped": containers.len() - count(Status::Running) - count(Status::Paused),
        "Images": images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", "overlayfs"]],
        "DockerRootDir": engine.root(),
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "macvlan", "null"],
            "Log": ["json-file"],
        },
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "PidsLimit": true,
        "IPv4Forwarding": true,
        "Debug": false,
        "NFd": std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0),
        "NGoroutines": 0,
        "SystemTime": crate::store::now_rfc3339(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if cgroup2 { "2" } else { "1" },
        "KernelVersion": kernel(),
        "OperatingSystem": os_name(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem,
        "Name": host,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": { "cargohold": { "path": "cargohold" } },
        "DefaultRuntime": "cargohold",
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": security,
        "Warnings": [],
    }))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| "Linux".to_owned())
}

fn sha_of(bytes: &[u8]) -> sha2::digest::Output<sha2::Sha256> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
}
