//! The sandbox layer on its own (moved here from the integration tests when the layer
//! became crate-private): every test runs in a network namespace of its own (the "test
//! host", made by `TestHost::run`), with its own engine root, so the machine's interfaces
//! and firewall are never touched and no packet leaves the machine. "Containers" here are
//! the network sandboxes the engine makes, with plain sockets opened inside them.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::Command;
use std::time::Duration;

use super::sandbox::BridgesLock;
use super::{
    Driver, EndpointConfig, NetworkMode, NetworkStore, PortBinding, Sandbox, SandboxConfig,
};
use crate::sys::netlink::{self, Netlink};
use crate::{Engine, Error};

/// Runs `f` on a thread of its own in a fresh network namespace with loopback up (a "test
/// host": links, routes and firewall rules made there never touch the machine's), and
/// returns what it returns; a panic in `f` is passed on.
fn in_new_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            crate::sys::raw::unshare(libc::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            let mut nl = Netlink::open().unwrap();
            let lo = nl.link("lo").unwrap().unwrap();
            nl.set_up(lo.index).unwrap();
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Runs `f` on a "test host" (see [`in_new_netns`]) with `setup()`'s fixture. Then, even
/// if `f` panicked, `teardown` removes what the test made and returns its checks of what is
/// left; they run after a panic of `f` has been passed on (so a failing test reports its
/// own failure first).
fn in_test_host<H, T: Send, C: FnOnce()>(
    setup: impl FnOnce() -> H + Send,
    f: impl FnOnce(&H) -> T + Send,
    teardown: impl FnOnce(&H) -> C + Send,
) -> T {
    in_new_netns(|| {
        let host = setup();
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&host)));
        let checks = teardown(&host);
        let out = out.unwrap_or_else(|p| std::panic::resume_unwind(p));
        checks();
        out
    })
}

/// Polls `f` until it returns `want` (the kernel tears a network namespace's interfaces
/// down in the background), failing with the last value after `timeout`.
fn settle<T: PartialEq + std::fmt::Debug>(
    what: &str,
    timeout: Duration,
    want: &T,
    mut f: impl FnMut() -> T,
) {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let got = f();
        if &got == want {
            return;
        }
        if std::time::Instant::now() >= deadline {
            assert_eq!(&got, want, "{what}");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A network namespace with loopback up and an engine root, on the thread running `f`
/// (threads it spawns inherit the namespace). [`TestHost::run`] checks that a test leaves
/// the links and firewall rules as it found them.
struct TestHost {
    root: tempfile::TempDir,
    engine: Engine,
    /// The links and the firewall rules before the test began.
    links: BTreeSet<String>,
    rules: String,
}

impl TestHost {
    fn run<T: Send>(f: impl FnOnce(&TestHost) -> T + Send) -> T {
        in_test_host(
            || {
                let root = tempfile::Builder::new()
                    .prefix("cargohold-net")
                    .tempdir()
                    .unwrap();
                let engine = Engine::open(root.path()).unwrap();
                TestHost {
                    root,
                    engine,
                    links: links(),
                    rules: ruleset(),
                }
            },
            |h| {
                let out = f(h);
                h.assert_as_before();
                out
            },
            // a failed test still leaves no namespace mount behind
            |host| {
                let repaired = host.engine.networks().repair(&[]);
                let netns = host.root.path().join("netns");
                move || {
                    repaired.unwrap();
                    // nothing of the engine's may outlive the test
                    assert_eq!(
                        fs::read_dir(netns).unwrap().count(),
                        0,
                        "a network namespace mount was left behind"
                    );
                }
            },
        )
    }

    fn nets(&self) -> &NetworkStore {
        self.engine.networks()
    }

    fn config(&self, name: &str, networks: &[&str]) -> SandboxConfig {
        let mut c = SandboxConfig::new(random_id(), name);
        c.mode = NetworkMode::Networks(networks.iter().map(|n| EndpointConfig::new(*n)).collect());
        c
    }

    /// Checks that the links (once the kernel has torn down what goes) and the firewall
    /// rules are those the test began with.
    fn assert_as_before(&self) {
        let wait = Duration::from_secs(5);
        settle("interfaces left behind", wait, &self.links, links);
        assert_eq!(ruleset(), self.rules, "firewall rules left behind");
    }

    /// Checks that nothing of the container `id` is left: no sandbox, no namespace mount,
    /// links and rules as before.
    fn assert_nothing_left_of(&self, id: &str) {
        assert!(self.engine.networks().sandbox(id).unwrap().is_none());
        assert!(!self.root.path().join("netns").join(id).exists());
        self.assert_as_before();
    }
}

fn random_id() -> String {
    let mut b = [0u8; 32];
    fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The links of the calling thread's namespace, by name.
fn links() -> BTreeSet<String> {
    Netlink::open()
        .unwrap()
        .links()
        .unwrap()
        .into_iter()
        .map(|l| l.name)
        .collect()
}

fn ruleset() -> String {
    let out = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `f` inside the sandbox's namespace.
fn inside<T: Send>(sb: &Sandbox, f: impl FnOnce() -> std::io::Result<T> + Send) -> T {
    let ns = netlink::open_netns(sb.netns().unwrap()).unwrap();
    netlink::in_netns(ns.as_fd(), f).unwrap()
}

/// Serves one TCP connection: reads a line, answers `<tag>:<line>`.
fn serve_once(l: TcpListener, tag: &'static str) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap();
        s.write_all(format!("{tag}:{}", String::from_utf8_lossy(&buf[..n])).as_bytes())
            .unwrap();
    })
}

fn ask(addr: SocketAddrV4, msg: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(msg.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
#[ignore = "requires root"]
fn bridge_containers_talk_by_address_and_ports_reach_them() {
    TestHost::run(|h| {
        let net = h
            .engine
            .network("front")
            .subnet("10.88.0.0/24")
            .create()
            .unwrap();
        // created, not set up: no bridge until a container attaches
        assert_eq!(links(), h.links);

        let hosts_a = h.root.path().join("a-hosts");
        let hosts_b = h.root.path().join("b-hosts");
        let mut a = h.config("web", &["front"]);
        if let NetworkMode::Networks(eps) = &mut a.mode {
            eps[0].aliases.push("www".into());
        }
        a.ports = vec![
            "8080:80".parse().unwrap(),
            "127.0.0.1:5353:53/udp".parse().unwrap(),
        ];
        a.hosts_file = Some(hosts_a.clone());
        let sa = h.nets().attach(&a).unwrap();
        let mut b = h.config("client", &["front"]);
        b.hosts_file = Some(hosts_b.clone());
        let sb = h.nets().attach(&b).unwrap();

        let ea = &h.nets().endpoints(&a.container_id).unwrap()[0];
        let eb = &h.nets().endpoints(&b.container_id).unwrap()[0];
        assert_eq!(ea.ip, Ipv4Addr::new(10, 88, 0, 2));
        assert_eq!(eb.ip, Ipv4Addr::new(10, 88, 0, 3));
        assert_eq!(ea.ifname, "eth0");
        assert!(links().contains(net.bridge().unwrap()));
        let inspect = h.nets().inspect("front").unwrap();
        assert_eq!(
            inspect.containers[&a.container_id].ipv4_address,
            "10.88.0.2/24"
        );
        assert_eq!(inspect.containers[&a.container_id].mac_address, ea.mac);
        assert_eq!(
            fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(),
            "1\n"
        );

        // A serves on its address; B reaches it directly.
        let l = inside(&sa, || TcpListener::bind("0.0.0.0:80"));
        let t = serve_once(l.try_clone().unwrap(), "a");
        let got = inside(&sb, || ask("10.88.0.2:80".parse().unwrap(), "direct"));
        assert_eq!(got, "a:direct");
        t.join().unwrap();

        // The host reaches A through the published port on 127.0.0.1 and on its address.
        for addr in ["127.0.0.1:8080", "10.88.0.1:8080"] {
            let t = serve_once(l.try_clone().unwrap(), "a");
            assert_eq!(
                ask(addr.parse().unwrap(), addr).unwrap(),
                format!("a:{addr}")
            );
            t.join().unwrap();
        }
        // B reaches A through the host's published port (hairpin through the gateway).
        let t = serve_once(l.try_clone().unwrap(), "a");
        let got = inside(&sb, || ask("10.88.0.1:8080".parse().unwrap(), "hairpin"));
        assert_eq!(got, "a:hairpin");
        t.join().unwrap();

        // UDP echo through 127.0.0.1:5353 -> A:53.
        let u = inside(&sa, || UdpSocket::bind("0.0.0.0:53"));
        let echo = std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            let (n, from) = u.recv_from(&mut buf).unwrap();
            u.send_to(&[b"echo:", &buf[..n]].concat(), from).unwrap();
        });
        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.send_to(b"ping", "127.0.0.1:5353").unwrap();
        let mut buf = [0u8; 64];
        let n = c.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"echo:ping");
        echo.join().unwrap();
        assert_eq!(
            h.nets().ports(&a.container_id).unwrap(),
            vec![a.ports[0], a.ports[1]]
        );

        // Names: each sees the other by name (and alias), kept current.
        let ha = fs::read_to_string(&hosts_a).unwrap();
        let hb = fs::read_to_string(&hosts_b).unwrap();
        assert!(ha.contains("10.88.0.3\tclient\n"), "{ha}");
        assert!(ha.contains(&format!("10.88.0.2\t{}\n", a.hostname)), "{ha}");
        assert!(hb.contains("10.88.0.2\tweb www\n"), "{hb}");
        assert!(ha.starts_with("127.0.0.1\tlocalhost\n"));

        // In use: not removable.
        match h.nets().remove("front") {
            Err(Error::NetworkInUse { containers, .. }) => {
                assert_eq!(containers.len(), 2)
            }
            r => panic!("{r:?}"),
        }

        drop(l);
        h.nets().detach(&a.container_id).unwrap();
        let hb = fs::read_to_string(&hosts_b).unwrap();
        assert!(!hb.contains("web"), "{hb}");
        // The port is free again: nothing answers at 127.0.0.1:8080, and it can be bound.
        assert!(ask("127.0.0.1:8080".parse().unwrap(), "x").is_err());
        drop(TcpListener::bind("0.0.0.0:8080").unwrap());
        assert!(sa.netns().is_some_and(|p| !p.exists()));

        h.nets().detach(&b.container_id).unwrap();
        // the bridge stays while its network exists; removing the network takes it down
        assert!(links().iter().any(|l| l.starts_with("ch-")));
        h.nets().remove("front").unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn none_has_only_loopback_and_host_shares_the_hosts_interfaces() {
    TestHost::run(|h| {
        let mut c = h.config("alone", &[]);
        c.mode = NetworkMode::None;
        let sb = h.nets().attach(&c).unwrap();
        let inner = inside(&sb, || Netlink::open()?.links());
        assert_eq!(inner.len(), 1, "{inner:?}");
        assert_eq!(inner[0].name, "lo");
        assert!(inner[0].up);
        // ...and loopback works in there
        let ok = inside(&sb, || {
            let l = TcpListener::bind("127.0.0.1:0")?;
            TcpStream::connect(l.local_addr()?).map(|_| true)
        });
        assert!(ok);
        assert_eq!(
            h.engine
                .networks()
                .hosts(&c.container_id)
                .unwrap()
                .lines()
                .count(),
            6
        );
        h.nets().detach(&c.container_id).unwrap();

        // `--network host`: no namespace of its own, the host's links as they are.
        let mut c = h.config("hosty", &["host"]);
        c.ports.clear();
        let sb = h.nets().attach(&c).unwrap();
        assert!(sb.netns().is_none());
        assert_eq!(links(), h.links);
        // ports cannot be published in host mode
        let mut bad = h.config("hosty2", &["host"]);
        bad.ports = vec![PortBinding::tcp(80, 80)];
        assert!(matches!(
            h.nets().attach(&bad),
            Err(Error::InvalidNetworkConfig {
                field: "published ports",
                ..
            })
        ));
        h.nets().detach(&c.container_id).unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn macvlan_container_is_a_host_on_the_parents_link() {
    TestHost::run(|h| {
        // The parent: a veth whose other end lives in a "neighbour" namespace at 10.99.0.1.
        let nb_path = h.root.path().join("neighbour");
        netlink::new_netns(Some(&nb_path), || Ok(())).unwrap();
        let nb = netlink::open_netns(&nb_path).unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.add_veth("mvparent", "lan0", Some(nb.as_fd()), 1500)
            .unwrap();
        let p = nl.link("mvparent").unwrap().unwrap();
        nl.set_up(p.index).unwrap();
        netlink::in_netns(nb.as_fd(), || {
            let mut nl = Netlink::open()?;
            let l = nl.link("lan0")?.unwrap();
            nl.add_address(l.index, Ipv4Addr::new(10, 99, 0, 1), 24)?;
            nl.set_up(l.index)
        })
        .unwrap();

        h.engine
            .network("lan")
            .driver(Driver::Macvlan)
            .parent("mvparent")
            .subnet("10.99.0.0/24")
            .gateway("10.99.0.1")
            .create()
            .unwrap();
        let c = h.config("onlan", &["lan"]);
        let sb = h.nets().attach(&c).unwrap();
        let ep = &h.nets().endpoints(&c.container_id).unwrap()[0];
        assert_eq!(ep.ip, Ipv4Addr::new(10, 99, 0, 2));
        let kinds = inside(&sb, || Netlink::open()?.links());
        assert!(
            kinds
                .iter()
                .any(|l| l.name == "eth0" && l.kind == "macvlan"),
            "{kinds:?}"
        );

        // The neighbour serves; the container reaches it over the parent's link, and the
        // neighbour reaches the container at its own address.
        let l = netlink::in_netns(nb.as_fd(), || TcpListener::bind("10.99.0.1:7000")).unwrap();
        let t = serve_once(l, "nb");
        let got = inside(&sb, || ask("10.99.0.1:7000".parse().unwrap(), "hi"));
        assert_eq!(got, "nb:hi");
        t.join().unwrap();
        let l = inside(&sb, || TcpListener::bind("0.0.0.0:7001"));
        let t = serve_once(l, "ctr");
        let got =
            netlink::in_netns(nb.as_fd(), || ask("10.99.0.2:7001".parse().unwrap(), "yo")).unwrap();
        assert_eq!(got, "ctr:yo");
        t.join().unwrap();

        h.nets().detach(&c.container_id).unwrap();
        h.nets().remove("lan").unwrap();
        let p = nl.link("mvparent").unwrap().unwrap();
        nl.del_link(p.index).unwrap();
        netlink::unbind_netns(&nb_path).unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn concurrent_attaches_get_distinct_addresses_until_the_subnet_is_full() {
    TestHost::run(|h| {
        // 10.66.0.0/28: 14 hosts, the gateway takes one: 13 containers.
        h.engine
            .network("small")
            .subnet("10.66.0.0/28")
            .create()
            .unwrap();
        let configs: Vec<SandboxConfig> = (0..13)
            .map(|i| h.config(&format!("c{i}"), &["small"]))
            .collect();
        let root = h.root.path();
        std::thread::scope(|s| {
            for c in &configs {
                s.spawn(move || {
                    // a store of its own, as another process would have
                    let store = super::NetworkStore::open(root).unwrap();
                    store.attach(c).unwrap();
                });
            }
        });
        let mut ips = BTreeSet::new();
        for c in &configs {
            let e = h.nets().endpoints(&c.container_id).unwrap();
            assert!(ips.insert(e[0].ip), "{} given twice", e[0].ip);
        }
        assert_eq!(ips.len(), 13);
        assert!(!ips.contains(&Ipv4Addr::new(10, 66, 0, 1)));

        // Full: a clear error, and nothing of the refused container is left.
        let extra = h.config("extra", &["small"]);
        let links_full = links();
        match h.nets().attach(&extra) {
            Err(Error::SubnetExhausted { network, subnet }) => {
                assert_eq!(
                    (network.as_str(), subnet.as_str()),
                    ("small", "10.66.0.0/28")
                )
            }
            r => panic!("{r:?}"),
        }
        assert!(h
            .engine
            .networks()
            .sandbox(&extra.container_id)
            .unwrap()
            .is_none());
        assert!(!h
            .root
            .path()
            .join("netns")
            .join(&extra.container_id)
            .exists());
        assert_eq!(links(), links_full);

        // Released on detach, and given again.
        let freed = h
            .engine
            .networks()
            .endpoints(&configs[4].container_id)
            .unwrap()[0]
            .ip;
        h.engine
            .networks()
            .detach(&configs[4].container_id)
            .unwrap();
        h.nets().attach(&extra).unwrap();
        assert_eq!(
            h.nets().endpoints(&extra.container_id).unwrap()[0].ip,
            freed
        );
        for c in configs.iter().chain([&extra]) {
            h.nets().detach(&c.container_id).unwrap();
        }
        assert_eq!(h.nets().release_idle().unwrap().len(), 1);
    });
}

#[test]
#[ignore = "requires root"]
fn ports_in_use_are_refused_leaving_nothing() {
    TestHost::run(|h| {
        // A host port held by a process of the host.
        let held = TcpListener::bind("127.0.0.1:9090").unwrap();
        let mut c = h.config("p1", &["bridge"]);
        c.ports = vec!["127.0.0.1:9090:80".parse().unwrap()];
        match h.nets().attach(&c) {
            Err(Error::PortInUse { binding, by }) => {
                assert_eq!(binding, "127.0.0.1:9090:80/tcp");
                assert!(by.contains("host"), "{by}");
            }
            r => panic!("{r:?}"),
        }
        h.assert_nothing_left_of(&c.container_id);
        drop(held);

        // A port held by another container.
        let mut a = h.config("holder", &["bridge"]);
        a.ports = vec![PortBinding::tcp(9191, 80)];
        h.nets().attach(&a).unwrap();
        assert!(matches!(
            h.nets().attach(&a),
            Err(Error::InvalidState { .. })
        ));
        let mut b = h.config("taker", &["bridge"]);
        b.ports = vec!["127.0.0.1:9191:81".parse().unwrap()];
        match h.nets().attach(&b) {
            Err(Error::PortInUse { by, .. }) => assert_eq!(by, "container holder"),
            r => panic!("{r:?}"),
        }
        assert!(h.nets().sandbox(&b.container_id).unwrap().is_none());
        // port 0 picks a free one
        let mut z = h.config("zero", &["bridge"]);
        z.ports = vec!["127.0.0.1::80".parse().unwrap()];
        h.nets().attach(&z).unwrap();
        let p = h.nets().ports(&z.container_id).unwrap()[0];
        assert!(p.host_port != 0 && p.host_port != 9191);
        h.nets().detach(&z.container_id).unwrap();
        h.nets().detach(&a.container_id).unwrap();
        // the default network's bridge stays (as docker0) until released
        assert_eq!(h.nets().release_idle().unwrap(), ["bridge"]);
        h.assert_nothing_left_of(&a.container_id);
    });
}

#[test]
#[ignore = "requires root"]
fn bad_networks_and_subnets_are_refused_leaving_nothing() {
    TestHost::run(|h| {
        // Unknown network, a network twice, none mixed with others, bad port specs.
        let c = h.config("p2", &["nope"]);
        assert!(matches!(
            h.nets().attach(&c),
            Err(Error::NetworkNotFound { .. })
        ));
        let c = h.config("p3", &["bridge", "bridge"]);
        assert!(matches!(
            h.nets().attach(&c),
            Err(Error::AlreadyConnected { .. })
        ));
        let c = h.config("p4", &["bridge", "none"]);
        assert!(matches!(
            h.nets().attach(&c),
            Err(Error::InvalidNetworkConfig { .. })
        ));
        h.assert_nothing_left_of(&c.container_id);
        for spec in ["80:80/sctp", "99999:80", "a:b:c:d"] {
            assert!(matches!(
                spec.parse::<PortBinding>(),
                Err(Error::InvalidPortSpec { .. })
            ));
        }

        // Overlapping subnet, bad CIDR, duplicate name: refused, nothing recorded.
        let count = h.nets().list().unwrap().len();
        h.nets()
            .builder("one")
            .subnet("10.55.0.0/16")
            .create()
            .unwrap();
        assert!(matches!(
            h.nets().builder("two").subnet("10.55.3.0/24").create(),
            Err(Error::SubnetOverlap { .. })
        ));
        assert!(matches!(
            h.nets().builder("two").subnet("10.56.0.0/40").create(),
            Err(Error::InvalidNetworkConfig {
                field: "subnet",
                ..
            })
        ));
        assert!(matches!(
            h.nets().builder("one").create(),
            Err(Error::NetworkExists { .. })
        ));
        // a subnet the host routes elsewhere
        let mut nl = Netlink::open().unwrap();
        nl.add_veth("routed0", "routed1", None, 1500).unwrap();
        for n in ["routed0", "routed1"] {
            let l = nl.link(n).unwrap().unwrap();
            nl.set_up(l.index).unwrap();
        }
        let r0 = nl.link("routed0").unwrap().unwrap();
        nl.add_address(r0.index, Ipv4Addr::new(10, 44, 0, 1), 16)
            .unwrap();
        match h.nets().builder("three").subnet("10.44.1.0/24").create() {
            Err(Error::SubnetOverlap { other, .. }) => {
                assert!(
                    other.contains("host route 10.44.0.0/16 (dev routed0)"),
                    "{other}"
                )
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(h.nets().list().unwrap().len(), count + 1);
        h.nets().remove("one").unwrap();
        nl.del_link(r0.index).unwrap();
        h.nets().release_idle().unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn containers_connect_and_disconnect_at_run_time() {
    TestHost::run(|h| {
        let c = h.config("roamer", &["bridge"]);
        let sb = h.nets().attach(&c).unwrap();
        // "one": the network the roamer joins later, where its peer is
        h.nets()
            .builder("one")
            .subnet("10.55.0.0/16")
            .create()
            .unwrap();
        let mut peer = h.config("peer", &["one"]);
        let peer_hosts = h.root.path().join("peer-hosts");
        peer.hosts_file = Some(peer_hosts.clone());
        h.nets().attach(&peer).unwrap();
        assert!(!fs::read_to_string(&peer_hosts).unwrap().contains("roamer"));
        let mut ec = EndpointConfig::new("one");
        ec.aliases.push("wanderer".into());
        let info = h.nets().connect(&c.container_id, &ec).unwrap();
        assert_eq!(info.ifname, "eth1");
        let addrs = inside(&sb, || Netlink::open()?.addresses4(None));
        assert!(
            addrs
                .iter()
                .any(|(_, ip, len)| *ip == info.ip && *len == 16),
            "{addrs:?}"
        );
        let ph = fs::read_to_string(&peer_hosts).unwrap();
        assert!(
            ph.contains(&format!("{}\troamer wanderer\n", info.ip)),
            "{ph}"
        );
        assert!(matches!(
            h.nets().connect(&c.container_id, &ec),
            Err(Error::AlreadyConnected { .. })
        ));
        match h.nets().remove("one") {
            Err(Error::NetworkInUse { containers, .. }) => {
                assert_eq!(containers, ["peer", "roamer"])
            }
            r => panic!("{r:?}"),
        }
        h.nets().disconnect(&c.container_id, "one").unwrap();
        let inner = inside(&sb, || Netlink::open()?.links());
        assert!(!inner.iter().any(|l| l.name == "eth1"), "{inner:?}");
        assert!(!fs::read_to_string(&peer_hosts).unwrap().contains("roamer"));
        assert!(matches!(
            h.nets().disconnect(&c.container_id, "one"),
            Err(Error::NotConnected { .. })
        ));
        h.nets().detach(&c.container_id).unwrap();
        h.nets().detach(&peer.container_id).unwrap();
        h.nets().remove("one").unwrap();
        h.nets().release_idle().unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn reopening_the_engine_removes_what_a_crashed_program_left() {
    TestHost::run(|h| {
        h.engine
            .network("crashy")
            .subnet("10.33.0.0/24")
            .create()
            .unwrap();
        let mut a = h.config("lost", &["crashy", "bridge"]);
        a.ports = vec![PortBinding::tcp(8181, 80)];
        let sb = h.nets().attach(&a).unwrap();
        assert!(sb.netns().unwrap().exists());
        assert_ne!(links(), h.links);
        assert_ne!(ruleset(), h.rules);
        // The program "crashed": no container record says the container runs, so the next
        // open repairs.
        let again = Engine::open(h.root.path()).unwrap();
        assert!(again.networks().sandbox(&a.container_id).unwrap().is_none());
        assert!(!sb.netns().unwrap().exists());
        assert_eq!(links(), h.links);
        assert_eq!(ruleset(), h.rules);
        assert!(again
            .networks()
            .get("crashy")
            .unwrap()
            .containers()
            .is_empty());
        // and the port is free again
        drop(TcpListener::bind("0.0.0.0:8181").unwrap());
        again.networks().remove("crashy").unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn the_bridges_lock_is_one_per_network_namespace() {
    in_new_netns(|| {
        let held = BridgesLock::take().unwrap();
        // another namespace has a lock of its own
        assert!(in_new_netns(|| BridgesLock::take().is_ok()));
        // in this one, a second taker waits until the first lets go
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(move || {
                let _lock = BridgesLock::take().unwrap();
                tx.send(std::time::Instant::now()).unwrap();
            });
            std::thread::sleep(Duration::from_millis(200));
            assert!(rx.try_recv().is_err(), "the lock was taken twice");
            let released = std::time::Instant::now();
            drop(held);
            let taken = rx.recv_timeout(Duration::from_secs(5)).unwrap();
            assert!(taken >= released);
        });
    });
}

#[test]
#[ignore = "requires root"]
fn two_roots_bringing_their_bridges_up_at_once_get_disjoint_subnets() {
    TestHost::run(|h| {
        let root = tempfile::Builder::new()
            .prefix("cargohold-net2")
            .tempdir()
            .unwrap();
        let other = NetworkStore::open(root.path()).unwrap();
        let stores = [h.nets(), &other];
        let docker0: super::Subnet = "172.17.0.0/16".parse().unwrap();
        let rounds = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for round in 0..8 {
                // both record docker0's subnet, as roots opened side by side do
                for st in stores {
                    let mut rec = st.load("bridge").unwrap();
                    rec.subnet = Some(docker0);
                    rec.gateway = docker0.first_host();
                    st.save(&rec).unwrap();
                }
                let barrier = std::sync::Barrier::new(2);
                let attached: Vec<(String, crate::Result<Sandbox>)> = std::thread::scope(|s| {
                    let threads: Vec<_> = stores
                        .iter()
                        .map(|st| {
                            let cfg = h.config("c", &["bridge"]);
                            let barrier = &barrier;
                            s.spawn(move || {
                                barrier.wait();
                                (cfg.container_id.clone(), st.attach(&cfg))
                            })
                        })
                        .collect();
                    threads.into_iter().map(|t| t.join().unwrap()).collect()
                });
                let subnets: Vec<_> = stores
                    .iter()
                    .map(|st| st.get("bridge").unwrap().subnet().unwrap())
                    .collect();
                for ((id, r), st) in attached.into_iter().zip(stores) {
                    r.unwrap_or_else(|e| panic!("round {round}: {e}"));
                    st.detach(&id).unwrap();
                }
                for st in stores {
                    st.release_idle().unwrap();
                }
                assert!(
                    !subnets[0].overlaps(&subnets[1]),
                    "round {round}: both bridges on {subnets:?}"
                );
            }
        }));
        let repaired = other.repair(&[]).and_then(|()| other.release_idle());
        let released = h.nets().release_idle();
        rounds.unwrap_or_else(|p| std::panic::resume_unwind(p));
        repaired.unwrap();
        released.unwrap();
    });
}
