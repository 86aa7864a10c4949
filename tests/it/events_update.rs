//! Issue 13: `events` (the engine's event stream over a container's life, its time window,
//! filters and follow, concurrent writers) and `update` (limits of running and stopped
//! containers), through the library and the engine CLI.

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use cargohold::{Engine, Error, Event, EventOptions, Reference, UpdateOptions};

use crate::common::{self, busybox};

/// Every event of `engine` so far (no follow).
fn all(engine: &Engine, opts: EventOptions) -> Vec<Event> {
    engine
        .events(&opts)
        .unwrap()
        .collect::<cargohold::Result<Vec<_>>>()
        .unwrap()
}

fn filters(f: &[(&str, &str)]) -> EventOptions {
    EventOptions {
        filters: f.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect(),
        ..Default::default()
    }
}

fn memory_limit(id: &str) -> Option<String> {
    let dirs = common::cgroups_named(id);
    ["memory.limit_in_bytes", "memory.max"]
        .iter()
        .find_map(|f| {
            dirs.iter()
                .find_map(|d| fs::read_to_string(d.join(f)).ok())
                .map(|v| v.trim().to_owned())
        })
}

#[test]
#[ignore = "requires root"]
fn a_containers_life_in_events() {
    let e = busybox().engine("ev-life");
    let t0 = SystemTime::now();
    let status = e
        .sh("exit 3")
        .name("ev-web")
        .label("tier", "front")
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(3));
    let mut c = e.engine.containers().get("ev-web").unwrap();
    let image = c.image().to_owned();
    assert!(image.ends_with(&e.reference), "{image}");
    c.rename("ev-web2").unwrap();
    let id = c.id().to_owned();
    c.remove(false).unwrap();
    let evs = all(&e.engine, filters(&[("container", &id)]));
    let actions: Vec<&str> = evs.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["create", "start", "die", "rename", "destroy"]);
    for ev in &evs {
        assert_eq!(ev.kind, "container");
        assert_eq!(ev.actor.id, id);
        assert_eq!(ev.actor.attributes["image"], image);
        assert_eq!(ev.actor.attributes["tier"], "front");
        assert!(ev.time() >= t0 - Duration::from_secs(1));
    }
    assert_eq!(evs[0].actor.attributes["name"], "ev-web");
    assert_eq!(evs[2].actor.attributes["exitCode"], "3");
    assert_eq!(evs[3].actor.attributes["oldName"], "/ev-web");
    assert_eq!(evs[3].actor.attributes["name"], "ev-web2");
    // Docker's default line.
    let line = evs[1].to_string();
    assert!(
        line.ends_with(&format!(
            " container start {id} (image={image}, name=ev-web, tier=front)"
        )),
        "{line}"
    );

    // A kill: its signal, then the death by it.
    let mut r = e.cmd(["sleep", "100"]).name("ev-killed").spawn().unwrap();
    r.kill_on_drop(true);
    let c = e.engine.containers().get("ev-killed").unwrap();
    c.kill().unwrap();
    r.wait().unwrap();
    let evs = all(&e.engine, filters(&[("container", "ev-killed")]));
    let kill = evs.iter().find(|e| e.action == "kill").unwrap();
    assert_eq!(kill.actor.attributes["signal"], "9");
    let die = evs.iter().find(|e| e.action == "die").unwrap();
    assert_eq!(die.actor.attributes["exitCode"], "137");

    // Filters: keys AND, values OR; the time window.
    let dies = all(
        &e.engine,
        filters(&[("event", "die"), ("type", "container")]),
    );
    assert_eq!(dies.len(), 2);
    let both = all(
        &e.engine,
        filters(&[("container", "ev-killed"), ("container", "ev-web")]),
    );
    assert!(both.len() > evs.len());
    assert!(all(&e.engine, filters(&[("label", "tier=back")])).is_empty());
    let before = EventOptions {
        until: Some(t0 - Duration::from_secs(5)),
        ..Default::default()
    };
    assert!(all(&e.engine, before).is_empty());
    let after = EventOptions {
        since: Some(SystemTime::now() + Duration::from_secs(5)),
        ..Default::default()
    };
    assert!(all(&e.engine, after).is_empty());
    let since_kill = EventOptions {
        since: Some(kill.time()),
        ..Default::default()
    };
    assert!(all(&e.engine, since_kill)
        .iter()
        .all(|ev| ev.time() >= kill.time()));
}

#[test]
#[ignore = "requires root"]
fn follow_sees_another_threads_event_and_ends_at_until() {
    let e = busybox().engine("ev-follow");
    let until = SystemTime::now() + Duration::from_secs(3);
    let opts = EventOptions {
        until: Some(until),
        follow: true,
        filters: vec![("type".into(), "image".into())],
        ..Default::default()
    };
    let mut events = e.engine.events(&opts).unwrap();
    let engine = e.engine.clone();
    let source: Reference = e.reference.parse().unwrap();
    let tagger = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let target: Reference = "followed:now".parse().unwrap();
        engine.images().tag(&source, &target).unwrap();
    });
    let ev = events.next().unwrap().unwrap();
    assert_eq!((ev.kind.as_str(), ev.action.as_str()), ("image", "tag"));
    assert_eq!(
        ev.actor.attributes["name"],
        "docker.io/library/followed:now"
    );
    tagger.join().unwrap();
    // Nothing more: the follow ends once `until` has passed.
    assert!(events.next().is_none());
    assert!(SystemTime::now() >= until);
}

#[test]
#[ignore = "requires root"]
fn concurrent_writers_never_interleave() {
    let e = busybox().engine("ev-writers");
    let source: Reference = e.reference.parse().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let engine = e.engine.clone();
            let source = source.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let target: Reference = format!("w{t}:n{i}").parse().unwrap();
                    engine.images().tag(&source, &target).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let raw = fs::read_to_string(e.engine.root().join("events.jsonl")).unwrap();
    let tags = raw
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["Action"] == "tag")
        .count();
    assert_eq!(tags, 160);
    assert_eq!(all(&e.engine, filters(&[("event", "tag")])).len(), 160);
}

#[test]
#[ignore = "requires root"]
fn update_changes_a_running_containers_cgroup_and_record() {
    let e = busybox().engine("upd-run");
    let mut r = e
        .cmd(["sleep", "100"])
        .memory_limit(64 << 20)
        .memory_swap(-1)
        .spawn()
        .unwrap();
    r.kill_on_drop(true);
    assert_eq!(memory_limit(r.id()).unwrap(), (64u64 << 20).to_string());
    let mut c = e.engine.containers().get(r.id()).unwrap();
    let opts = UpdateOptions {
        memory: Some(128 << 20),
        pids_limit: Some(50),
        ..Default::default()
    };
    c.update(&opts).unwrap();
    assert_eq!(memory_limit(r.id()).unwrap(), (128u64 << 20).to_string());
    let hc = c.inspect().unwrap().host_config;
    assert_eq!(hc.memory, 128 << 20);
    assert_eq!(hc.pids_limit, Some(50));
    let ev = all(&e.engine, filters(&[("event", "update")]));
    assert_eq!(ev.len(), 1);

    // Docker's rules, naming the flag.
    let small = UpdateOptions {
        memory: Some(1 << 20),
        ..Default::default()
    };
    match c.update(&small).unwrap_err() {
        e @ Error::InvalidContainerConfig { .. } => {
            let m = e.to_string();
            assert!(m.contains("--memory") && m.contains("6MB"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    let swap = UpdateOptions {
        memory: Some(64 << 20),
        memory_swap: Some(32 << 20),
        ..Default::default()
    };
    let m = c.update(&swap).unwrap_err().to_string();
    assert!(m.contains("--memory-swap"), "{m}");
    assert_eq!(memory_limit(r.id()).unwrap(), (128u64 << 20).to_string());
    assert_eq!(c.inspect().unwrap().host_config.memory, 128 << 20);
    c.kill().unwrap();
    r.wait().unwrap();
}

#[test]
#[ignore = "requires root"]
fn update_of_a_stopped_container_reaches_its_record_and_spec() {
    let e = busybox().engine("upd-stopped");
    e.sh("true").name("upd-cold").status().unwrap();
    let mut c = e.engine.containers().get("upd-cold").unwrap();
    let opts = UpdateOptions {
        memory: Some(96 << 20),
        cpus: Some(0.5),
        restart: Some(cargohold::RestartPolicy::Always),
        ..Default::default()
    };
    c.update(&opts).unwrap();
    let hc = c.inspect().unwrap().host_config;
    assert_eq!(hc.memory, 96 << 20);
    assert_eq!((hc.cpu_quota, hc.cpu_period), (50_000, 100_000));
    assert_eq!(hc.restart_policy.name, "always");
    let spec: serde_json::Value =
        serde_json::from_slice(&fs::read(c.path().join("config.json")).unwrap()).unwrap();
    let res = &spec["linux"]["resources"];
    assert_eq!(res["memory"]["limit"], 96 << 20);
    assert_eq!(res["cpu"]["quota"], 50_000);
    assert!(res["devices"].is_array(), "the device rules stay");
}

fn engine_cli(root: &std::path::Path, args: &[&str]) -> std::process::Output {
    common::output_via_files(&mut common::engine_cmd(root, args))
}

#[test]
#[ignore = "requires root"]
fn engine_cli_update_and_events() {
    let e = busybox().engine("upd-cli");
    let root: PathBuf = e.engine.root().to_owned();
    let ok = |args: &[&str]| {
        let o = engine_cli(&root, args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let since = ok(&["version", "--format", "{{.Server.Version}}"]);
    assert!(!since.is_empty());
    let t0 = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 1.0;
    let id = ok(&[
        "run",
        "-d",
        "--name",
        "cli-web",
        "-m",
        "64m",
        &e.reference,
        "sleep",
        "100",
    ]);
    let id = id.trim();
    assert_eq!(ok(&["update", "--memory", "128m", "cli-web"]), "cli-web\n");
    assert_eq!(memory_limit(id).unwrap(), (128u64 << 20).to_string());
    let o = engine_cli(&root, &["update", "-m", "1m", "cli-web"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--memory") && err.contains("6MB"), "{err}");

    // A stopped container gets its new limit at its next start.
    ok(&[
        "create",
        "--name",
        "cli-cold",
        "-m",
        "64m",
        &e.reference,
        "sleep",
        "100",
    ]);
    assert_eq!(
        ok(&["container", "update", "-m", "96m", "cli-cold"]),
        "cli-cold\n"
    );
    ok(&["start", "cli-cold"]);
    let cold = e.engine.containers().get("cli-cold").unwrap();
    assert_eq!(memory_limit(cold.id()).unwrap(), (96u64 << 20).to_string());

    let until = format!(
        "{:.3}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 0.5
    );
    let lines = ok(&[
        "events",
        "--since",
        &format!("{t0:.3}"),
        "--until",
        &until,
        "--filter",
        "container=cli-web",
    ]);
    let actions: Vec<&str> = lines
        .lines()
        .map(|l| l.split(' ').nth(2).unwrap_or(""))
        .collect();
    assert_eq!(actions, ["create", "start", "update"], "{lines}");
    let image = e
        .engine
        .containers()
        .get("cli-web")
        .unwrap()
        .image()
        .to_owned();
    assert!(
        lines.contains(&format!(
            "container start {id} (image={image}, name=cli-web)"
        )),
        "{lines}"
    );
    let json = ok(&[
        "system",
        "events",
        "--since",
        &format!("{t0:.3}"),
        "--until",
        &until,
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
        "--filter",
        "event=start",
    ]);
    assert_eq!(json, "start cli-web\nstart cli-cold\n");
    ok(&["rm", "-f", "cli-web", "cli-cold"]);
    common::assert_no_containers(&e.engine);
}

/// `(type, action, actor id)` of each event of `engine` matching `f`.
fn triples(engine: &Engine, f: &[(&str, &str)]) -> Vec<(String, String, String)> {
    all(engine, filters(f))
        .into_iter()
        .map(|e| (e.kind, e.action, e.actor.id))
        .collect()
}

#[test]
#[ignore = "requires root"]
fn volumes_networks_images_and_commits_in_events() {
    common::in_new_netns(|| {
        let e = busybox().engine("ev-objects");
        let engine = &e.engine;
        engine.volumes().create("ev-data", [("k", "v")]).unwrap();
        let net = engine.networks().builder("ev-net").create().unwrap();
        let out = e
            .sh("echo hi > /data/f")
            .name("ev-user")
            .network("ev-net")
            .mount(cargohold::Mount::volume("ev-data", "/data"))
            .output()
            .unwrap();
        common::assert_success(&out);
        let c = engine.containers().get("ev-user").unwrap();
        let cid = c.id().to_owned();
        let img = c
            .commit(&cargohold::CommitOptions {
                reference: Some("localhost/ev-commit:1".into()),
                message: Some("saved".into()),
                ..Default::default()
            })
            .unwrap();
        c.remove(false).unwrap();
        engine.volumes().remove("ev-data", false).unwrap();
        engine.networks().remove("ev-net").unwrap();
        let tagged: Reference = "localhost/ev-commit:2".parse().unwrap();
        let first: Reference = "localhost/ev-commit:1".parse().unwrap();
        engine.images().tag(&first, &tagged).unwrap();
        engine.images().remove(&first, false).unwrap();
        engine.images().remove(&tagged, false).unwrap();

        let s = |t: &str, a: &str, id: &str| (t.to_owned(), a.to_owned(), id.to_owned());
        // Docker's order: mounts before the start, connect and disconnect around the life.
        assert_eq!(
            triples(engine, &[("type", "volume")]),
            [
                s("volume", "create", "ev-data"),
                s("volume", "mount", "ev-data"),
                s("volume", "unmount", "ev-data"),
                s("volume", "destroy", "ev-data"),
            ]
        );
        let vol = all(
            engine,
            filters(&[("volume", "ev-data"), ("event", "mount")]),
        );
        assert_eq!(vol[0].actor.attributes["container"], cid);
        assert_eq!(vol[0].actor.attributes["destination"], "/data");
        assert_eq!(vol[0].actor.attributes["read/write"], "true");
        assert_eq!(vol[0].actor.attributes["driver"], "local");
        let id = net.id();
        assert_eq!(
            triples(engine, &[("network", "ev-net")]),
            [
                s("network", "create", id),
                s("network", "connect", id),
                s("network", "disconnect", id),
                s("network", "destroy", id),
            ]
        );
        let conn = all(engine, filters(&[("event", "connect")]));
        assert_eq!(conn[0].actor.attributes["container"], cid);
        assert_eq!(conn[0].actor.attributes["name"], "ev-net");
        assert_eq!(conn[0].actor.attributes["type"], "bridge");
        let commit = all(engine, filters(&[("event", "commit")]));
        assert_eq!(commit.len(), 1);
        assert_eq!(commit[0].kind, "container");
        assert_eq!(commit[0].actor.id, cid);
        assert_eq!(commit[0].actor.attributes["imageID"], img.id().to_string());
        assert_eq!(commit[0].actor.attributes["comment"], "saved");
        // the image's own events name it by its id (its config's digest)
        let iid = img.id().to_string();
        let image_evs: Vec<_> = triples(engine, &[("type", "image")])
            .into_iter()
            .filter(|t| t.2 == iid)
            .map(|t| t.1)
            .collect();
        // the commit's tag, `tag`, two `rmi`s: the second deletes it
        assert_eq!(image_evs, ["tag", "tag", "untag", "untag", "delete"]);
    });
}
