//! Two engine roots in one network namespace (issue 13): per-test roots, or the README's
//! two roots, on one host. Each root's default `bridge` network must get a subnet no live
//! bridge of the other holds, whichever root opens first and whichever brings its bridge
//! up first; the bridges' names differ; both publish ports that answer from the host; an
//! explicit `--subnet` that another root's bridge holds is a clear error. Each test runs in
//! a network namespace of its own and leaves nothing there (links, rules, namespaces).

use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::Duration;

use cargohold::sys::netlink::Netlink;
use cargohold::{Error, RunningContainer, Subnet};

use crate::common::{self, TestEngine};

/// Up to three engine roots, opened on first use (so a test chooses the order), each with
/// a busybox image whose web root says which root serves it.
struct Roots {
    roots: [OnceLock<TestEngine>; 3],
}

impl Roots {
    fn get(&self, i: usize) -> &TestEngine {
        self.roots[i].get_or_init(|| {
            let page = format!("root {}\n", ["a", "b", "c"][i]);
            common::busybox()
                .web()
                .file("www/index.html", page)
                .engine_tagged("cargohold-2br", "web")
        })
    }

    fn a(&self) -> &TestEngine {
        self.get(0)
    }

    fn b(&self) -> &TestEngine {
        self.get(1)
    }

    fn opened(&self) -> impl Iterator<Item = &TestEngine> {
        self.roots.iter().filter_map(|r| r.get())
    }
}

/// Runs `f` in a fresh network namespace with roots opened on demand; afterwards, even if
/// `f` panicked, every root's containers are removed and idle bridges released, and the
/// namespace must have only the links it started with, no rule table of ours, and no
/// network namespace mounts under the roots.
fn with_roots(f: impl FnOnce(&Roots) + Send) {
    let links_before = OnceLock::new();
    common::in_test_host(
        || {
            links_before.set(common::link_names()).unwrap();
            Roots {
                roots: Default::default(),
            }
        },
        f,
        |roots| {
            let mut errors = Vec::new();
            for h in roots.opened() {
                for c in h.engine.containers().list().unwrap_or_default() {
                    if let Err(e) = c.remove(true) {
                        errors.push(e.to_string());
                    }
                }
                if let Err(e) = h.engine.networks().release_idle() {
                    errors.push(e.to_string());
                }
            }
            let links_before = links_before.get().unwrap().clone();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut links = common::link_names();
            while links != links_before && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                links = common::link_names();
            }
            let table = std::process::Command::new("nft")
                .args(["list", "table", "ip", "cargohold"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            let netns_left: usize = roots
                .opened()
                .map(|h| common::netns_mounts_left(h.root.path()))
                .sum();
            move || {
                assert!(errors.is_empty(), "cleaning up: {errors:?}");
                assert_eq!(links, links_before, "links left behind");
                assert!(!table, "the nft table ip cargohold was left behind");
                assert_eq!(netns_left, 0, "network namespace mounts left behind");
            }
        },
    )
}

/// A web server of `h` on its default bridge, publishing `port` on the host.
fn web(h: &TestEngine, name: &str, port: u16) -> RunningContainer {
    let mut c = h
        .sh(&common::httpd(80))
        .name(name)
        .publish(port, 80)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name} on port {port}: {e}"));
    c.kill_on_drop(true);
    c
}

/// Stops and removes a container started by [`web`].
fn stop(h: &TestEngine, mut c: RunningContainer, name: &str) {
    c.kill().unwrap();
    c.wait().unwrap();
    h.engine
        .containers()
        .get(name)
        .unwrap()
        .remove(false)
        .unwrap();
}

/// Asserts that `127.0.0.1:port` serves root `which`'s page.
fn serves(port: u16, which: &str) {
    let reply = common::http_get_retried(&format!("127.0.0.1:{port}"));
    assert!(
        reply.contains(" 200 ") && reply.ends_with(&format!("root {which}\n")),
        "port {port}: {reply}"
    );
}

fn bridge_net(h: &TestEngine) -> cargohold::Network {
    h.engine.networks().get("bridge").unwrap()
}

/// The subnets of the namespace's routes by device (the bridges' own routes among them).
fn route_of(dev: &str) -> Option<Subnet> {
    let mut nl = Netlink::open().unwrap();
    let links = nl.links().unwrap();
    let idx = links.iter().find(|l| l.name == dev)?.index;
    nl.routes4()
        .unwrap()
        .into_iter()
        .find(|r| r.oif == Some(idx) && r.prefix_len != 0)
        .map(|r| Subnet::new(r.destination, r.prefix_len).unwrap())
}

/// The two roots' default bridges are up with disjoint subnets, different link names, and
/// each link carries the subnet and gateway its record says.
fn assert_bridges_apart(a: &TestEngine, b: &TestEngine) {
    let (na, nb) = (bridge_net(a), bridge_net(b));
    let (sa, sb) = (na.subnet().unwrap(), nb.subnet().unwrap());
    assert!(!sa.overlaps(&sb), "both default bridges on {sa} / {sb}");
    assert_ne!(na.bridge(), nb.bridge(), "the bridge links share a name");
    for n in [&na, &nb] {
        let dev = n.bridge().unwrap();
        assert_eq!(route_of(dev), n.subnet(), "the route of {dev}");
        assert_eq!(n.gateway(), n.subnet().unwrap().first_host());
    }
}

const DOCKER0: &str = "172.17.0.0/16";

#[test]
#[ignore = "requires root"]
fn two_roots_opened_together_each_publish_a_port_on_their_own_bridge() {
    with_roots(|r| {
        // Opened before either bridge exists: both record Docker's 172.17.0.0/16.
        let (a, b) = (r.a(), r.b());
        assert_eq!(bridge_net(a).subnet().unwrap().to_string(), DOCKER0);
        assert_eq!(bridge_net(b).subnet().unwrap().to_string(), DOCKER0);
        let wa = web(a, "wa", 18080);
        serves(18080, "a");
        // B's recorded subnet is now A's live bridge's: B takes the next free pool.
        let wb = web(b, "wb", 18081);
        serves(18081, "b");
        serves(18080, "a");
        assert_bridges_apart(a, b);
        assert_eq!(
            bridge_net(b).subnet().unwrap().to_string(),
            "172.18.0.0/16",
            "the next of Docker's pools"
        );
        // the choice is recorded: a reopened B sees it
        let reopened = cargohold::Engine::open(b.root.path()).unwrap();
        assert_eq!(
            reopened.networks().get("bridge").unwrap().subnet(),
            bridge_net(b).subnet()
        );
        drop(reopened);
        // A's container leaves (its bridge stays, as docker0 does): B runs on
        stop(a, wa, "wa");
        serves(18081, "b");
        let wb2 = web(b, "wb2", 18082);
        serves(18082, "b");
        stop(b, wb, "wb");
        stop(b, wb2, "wb2");
        // and A again, beside nothing of B's but its idle bridge
        let wa = web(a, "wa", 18080);
        serves(18080, "a");
        assert_bridges_apart(a, b);
        stop(a, wa, "wa");
        // with every bridge released, each root starts again without trouble
        a.engine.networks().release_idle().unwrap();
        b.engine.networks().release_idle().unwrap();
        let wb = web(b, "wb", 18081);
        let wa = web(a, "wa", 18080);
        serves(18081, "b");
        serves(18080, "a");
        assert_bridges_apart(a, b);
        stop(a, wa, "wa");
        stop(b, wb, "wb");
    });
}

#[test]
#[ignore = "requires root"]
fn a_root_opened_beside_a_live_bridge_takes_another_subnet() {
    with_roots(|r| {
        let a = r.a();
        let wa = web(a, "wa", 18080);
        serves(18080, "a");
        // B is opened while A's bridge holds 172.17.0.0/16
        let b = r.b();
        assert_ne!(bridge_net(b).subnet().unwrap().to_string(), DOCKER0);
        let wb = web(b, "wb", 18081);
        serves(18081, "b");
        serves(18080, "a");
        assert_bridges_apart(a, b);
        // after A's container is gone (and its bridge released), B is undisturbed
        stop(a, wa, "wa");
        a.engine.networks().release_idle().unwrap();
        serves(18081, "b");
        let wb2 = web(b, "wb2", 18082);
        serves(18082, "b");
        stop(b, wb, "wb");
        stop(b, wb2, "wb2");
        // A's recorded 172.17.0.0/16 is free again; B's bridge (idle) stays on its own
        let wa = web(a, "wa", 18080);
        serves(18080, "a");
        assert_eq!(bridge_net(a).subnet().unwrap().to_string(), DOCKER0);
        assert_bridges_apart(a, b);
        stop(a, wa, "wa");
    });
}

#[test]
#[ignore = "requires root"]
fn roots_bringing_their_bridges_up_at_once_get_disjoint_subnets() {
    with_roots(|r| {
        let (a, b) = (r.a(), r.b());
        let (wa, wb) = std::thread::scope(|s| {
            // threads made here share the test's network namespace
            let ta = s.spawn(|| web(a, "wa", 18080));
            let tb = s.spawn(|| web(b, "wb", 18081));
            (ta.join().unwrap(), tb.join().unwrap())
        });
        serves(18080, "a");
        serves(18081, "b");
        assert_bridges_apart(a, b);
        stop(a, wa, "wa");
        stop(b, wb, "wb");
    });
}

#[test]
#[ignore = "requires root"]
fn user_networks_without_a_subnet_move_and_explicit_subnets_are_refused() {
    with_roots(|r| {
        let (a, b) = (r.a(), r.b());
        // without --subnet: both roots pick 172.18.0.0/16 (the other's network is not up)
        let auto_a = a.engine.network("back").create().unwrap();
        let auto_b = b.engine.network("back").create().unwrap();
        assert_eq!(auto_a.subnet(), auto_b.subnet());
        // with --subnet: both take 10.77.0.0/24 while no bridge holds it
        a.engine
            .network("fixed")
            .subnet("10.77.0.0/24")
            .create()
            .unwrap();
        b.engine
            .network("fixed")
            .subnet("10.77.0.0/24")
            .create()
            .unwrap();
        let on = |h: &TestEngine, name: &str, net: &str| {
            h.sh(&common::httpd(80)).name(name).network(net).spawn()
        };
        let mut ca = on(a, "ca", "back").unwrap();
        ca.kill_on_drop(true);
        let mut cb = on(b, "cb", "back").unwrap();
        cb.kill_on_drop(true);
        let (back_a, back_b) = (
            a.engine.networks().get("back").unwrap(),
            b.engine.networks().get("back").unwrap(),
        );
        let (sa, sb) = (back_a.subnet().unwrap(), back_b.subnet().unwrap());
        assert!(!sa.overlaps(&sb), "{sa} / {sb}");
        for n in [&back_a, &back_b] {
            assert_eq!(route_of(n.bridge().unwrap()), n.subnet());
        }
        let mut fa = on(a, "fa", "fixed").unwrap();
        fa.kill_on_drop(true);
        // B's explicit subnet is A's live bridge's now: refused, naming the route
        let links = common::link_names();
        let err = on(b, "fb", "fixed").unwrap_err();
        let a_fixed = a.engine.networks().get("fixed").unwrap();
        match &err {
            Error::SubnetOverlap { subnet, other, .. } => {
                assert_eq!(subnet, "10.77.0.0/24");
                assert!(other.contains(a_fixed.bridge().unwrap()), "{other}");
            }
            e => panic!("not a subnet overlap: {e}"),
        }
        let fixed_b = b.engine.networks().get("fixed").unwrap();
        assert_eq!(fixed_b.subnet().unwrap().to_string(), "10.77.0.0/24");
        assert!(fixed_b.containers().is_empty());
        assert_eq!(common::link_names(), links, "the failed start left links");
        // a new network asking for it is refused at create
        let err = b
            .engine
            .network("fixed2")
            .subnet("10.77.0.0/25")
            .create()
            .unwrap_err();
        assert!(matches!(err, Error::SubnetOverlap { .. }), "{err}");
        // A's container still answers on its network: B's attempt did not disturb it
        let ip: Ipv4Addr = a
            .engine
            .containers()
            .get("fa")
            .unwrap()
            .inspect()
            .unwrap()
            .network_settings
            .networks["fixed"]
            .ip_address
            .parse()
            .unwrap();
        let reply = common::http_get_retried(&format!("{ip}:80"));
        assert!(reply.ends_with("root a\n"), "{reply}");
        for (h, c, name) in [(a, ca, "ca"), (b, cb, "cb"), (a, fa, "fa")] {
            stop(h, c, name);
        }
    });
}

/// The rules of table `ip cargohold`, as `nft` lists them.
#[test]
#[ignore = "requires root"]
fn a_host_port_another_root_publishes_is_refused_until_it_is_freed() {
    with_roots(|r| {
        let (a, b) = (r.a(), r.b());
        let wa = web(a, "wa", 18090);
        serves(18090, "a");
        // B's container would publish A's port: a clear error, nothing of it left running
        let err = b
            .sh(&common::httpd(80))
            .name("wb")
            .publish(18090, 80)
            .spawn()
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::PortInUse { .. }), "{text}");
        assert!(text.contains("another engine root"), "{text}");
        assert!(text.contains(&wa.id()[..12]), "{text}");
        let left = b.engine.containers().list().unwrap();
        assert!(
            left.iter()
                .all(|c| c.status() != cargohold::Status::Running),
            "{left:?}"
        );
        serves(18090, "a");
        // once A's container is gone, B may publish the port
        stop(a, wa, "wa");
        let _ = b.engine.containers().get("wb").map(|c| c.remove(true));
        let wb = web(b, "wb", 18090);
        serves(18090, "b");
        stop(b, wb, "wb");
    });
}

fn ruleset() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", "cargohold"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "requires root"]
fn a_roots_repair_removes_its_own_stale_rules_and_no_other_roots() {
    with_roots(|r| {
        let a = r.a();
        let wa = web(a, "wa", 18080);
        serves(18080, "a");
        let b = r.b();
        // a stale rule of B's (a crash after adding it): tagged with B's bridge network
        let b_tag = format!("n:{}", &bridge_net(b).id()[..12]);
        let status = std::process::Command::new("nft")
            .args(["add", "rule", "ip", "cargohold", "postrouting", "counter"])
            .args(["comment", &format!("\"{b_tag}\"")])
            .status()
            .unwrap();
        assert!(status.success());
        assert!(ruleset().contains(&b_tag));
        // and a stale sandbox (a container of B's that died unseen), so B's repair runs
        let sb = b.root.path().join("networks/.sandboxes/gone.json");
        std::fs::write(
            &sb,
            r#"{"container_id":"gone","container_name":"gone","hostname":"gone","netns":null}"#,
        )
        .unwrap();
        drop(cargohold::Engine::open(b.root.path()).unwrap());
        assert!(!sb.exists(), "B's repair did not run");
        let rules = ruleset();
        assert!(!rules.contains(&b_tag), "B's stale rule stayed:\n{rules}");
        // A's rules are A's: its published port still answers
        let a_tag = format!("n:{}", &bridge_net(a).id()[..12]);
        assert!(rules.contains(&a_tag), "A's rules went:\n{rules}");
        serves(18080, "a");
        stop(a, wa, "wa");
    });
}
