//! The Docker Engine API: networks, volumes, events, driven by real clients (see `common::api`).

use crate::common::api::ApiService;

fn lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

/// `docker network` through the API: create (with a label and a subnet), ls with the
/// predefined networks and a label filter, inspect, the 409 of a taken name, connect and
/// disconnect of a running container (its interfaces seen from inside), rm, prune.
#[test]
#[ignore = "requires root"]
fn docker_network_commands() {
    let api = ApiService::start();
    let id = api.ok(&[
        "network",
        "create",
        "--label",
        "team=a",
        "--subnet",
        "10.77.0.0/24",
        "apinet",
    ]);
    assert_eq!(id.trim().len(), 64, "{id}");
    let names = api.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(lines(&names), ["apinet", "bridge", "host", "none"]);
    let labelled = api.ok(&["network", "ls", "-q", "--filter", "label=team=a"]);
    assert_eq!(labelled.trim(), &id.trim()[..12]);
    let inspect = api.ok(&[
        "network",
        "inspect",
        "-f",
        "{{.Driver}} {{(index .IPAM.Config 0).Subnet}} {{.Labels.team}}",
        "apinet",
    ]);
    assert_eq!(inspect.trim(), "bridge 10.77.0.0/24 a");
    let again = api.run(&["network", "create", "apinet"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{:?}",
        again
    );
    // a running container (made by the engine in the service's namespace) connected
    let out = api.engine("run -d --name c1 --network bridge busybox:latest sleep 300");
    assert!(out.status.success(), "{out:?}");
    api.ok(&[
        "network",
        "connect",
        "--alias",
        "web",
        "--ip",
        "10.77.0.50",
        "apinet",
        "c1",
    ]);
    let addrs = api.engine("exec c1 cat /proc/net/fib_trie");
    assert!(
        String::from_utf8_lossy(&addrs.stdout).contains("10.77.0.50"),
        "{addrs:?}"
    );
    let members = api.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
        "apinet",
    ]);
    assert_eq!(members.trim(), "c1 10.77.0.50/24");
    // in use: not removed
    let busy = api.run(&["network", "rm", "apinet"]);
    assert!(!busy.status.success(), "{busy:?}");
    api.ok(&["network", "disconnect", "apinet", "c1"]);
    let addrs = api.engine("exec c1 cat /proc/net/fib_trie");
    assert!(
        !String::from_utf8_lossy(&addrs.stdout).contains("10.77.0.50"),
        "{addrs:?}"
    );
    api.ok(&["network", "rm", "apinet"]);
    let missing = api.run(&["network", "inspect", "apinet"]);
    assert!(!missing.status.success());
    api.ok(&["network", "create", "unused"]);
    let pruned = api.ok(&["network", "prune", "-f"]);
    assert!(pruned.contains("unused"), "{pruned}");
    assert_eq!(
        lines(&api.ok(&["network", "ls", "--format", "{{.Name}}"])),
        ["bridge", "host", "none"]
    );
}

/// `docker volume` through the API: create with a label, ls (and its filters), inspect,
/// rm, the 404 of a missing one; prune removes unused anonymous volumes and keeps named
/// ones unless `--all`.
#[test]
#[ignore = "requires root"]
fn docker_volume_commands() {
    let api = ApiService::start();
    assert_eq!(
        api.ok(&["volume", "create", "--label", "k=v", "data"])
            .trim(),
        "data"
    );
    api.ok(&["volume", "create", "other"]);
    assert_eq!(lines(&api.ok(&["volume", "ls", "-q"])), ["data", "other"]);
    assert_eq!(
        api.ok(&["volume", "ls", "-q", "--filter", "label=k=v"])
            .trim(),
        "data"
    );
    assert_eq!(
        api.ok(&["volume", "ls", "-q", "--filter", "name=oth"])
            .trim(),
        "other"
    );
    let mp = api.ok(&[
        "volume",
        "inspect",
        "-f",
        "{{.Mountpoint}} {{.Driver}}",
        "data",
    ]);
    let (path, driver) = mp.trim().split_once(' ').unwrap();
    assert_eq!(driver, "local");
    assert!(std::path::Path::new(path).is_dir(), "{path}");
    // an anonymous volume (no name): pruned by default, named ones kept
    let anon = api.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        "{}",
        "http://d/v1.44/volumes/create",
    ]);
    assert!(anon.starts_with("HTTP/1.1 201"), "{anon}");
    assert_eq!(api.ok(&["volume", "ls", "-q"]).lines().count(), 3);
    api.ok(&["volume", "prune", "-f"]);
    assert_eq!(lines(&api.ok(&["volume", "ls", "-q"])), ["data", "other"]);
    api.ok(&["volume", "rm", "other"]);
    let gone = api.run(&["volume", "inspect", "other"]);
    assert!(!gone.status.success());
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("no such volume"),
        "{gone:?}"
    );
    api.ok(&["volume", "prune", "-f", "--all"]);
    assert_eq!(api.ok(&["volume", "ls", "-q"]), "");
}

/// `docker events` through the API: the network events of a window, filtered by type;
/// a follow the client leaves ends on the server (it keeps serving).
#[test]
#[ignore = "requires root"]
fn docker_events_window_and_filters() {
    let api = ApiService::start();
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 1;
    api.ok(&["network", "create", "evnet"]);
    api.ok(&["volume", "create", "evvol"]);
    api.ok(&["network", "rm", "evnet"]);
    let until = since + 3;
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = api.ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "type=network",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(out, "network create evnet\nnetwork destroy evnet\n");
    // a follow whose client is killed
    let mut follow = api.docker();
    follow.arg("events").stdout(std::process::Stdio::null());
    let mut child = follow.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let _ = child.kill();
    let _ = child.wait();
    assert!(api
        .ok(&["version", "--format", "{{.Server.APIVersion}}"])
        .contains("1.44"));
}
