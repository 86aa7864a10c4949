//! Containers on networks (issue 5) through the container builder, each test in a network
//! namespace of its own (the "test host"): real traffic between containers by name (and
//! none between two networks), from the host through published ports, `none` and `host`
//! modes, inspect's NetworkSettings, and what bad input leaves (nothing).

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::Duration;

use cargohold::sys::netlink::Netlink;
use cargohold::Status;
use cargohold::{Error, PortBinding};

use crate::common::{self, http_get, TestEngine as Host};

/// Runs `f` on a thread in a fresh network namespace (loopback up) with its own engine
/// and a busybox image (exposing 80/tcp, serving a web root); afterwards nothing of the
/// engine's networking may be left in it.
fn in_test_host(f: impl FnOnce(&Host) + Send) {
    let links_before = std::sync::OnceLock::new();
    common::in_test_host(
        || {
            links_before.set(common::link_names()).unwrap();
            common::busybox()
                .web()
                .config(|c| c.exposed_ports(vec!["80/tcp".to_owned()]))
                .engine_tagged("cargohold-cnet", "net")
        },
        f,
        |host| {
            for c in host.engine.containers().list().unwrap_or_default() {
                let _ = c.remove(true);
            }
            // bridges stay while their network exists (as docker0): take idle ones down
            let released = host.engine.networks().release_idle();
            let links_before = links_before.get().unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            let mut out_links = common::link_names();
            while &out_links != links_before && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
                out_links = common::link_names();
            }
            let netns_left = common::netns_mounts_left(host.root.path());
            move || {
                released.unwrap();
                assert_eq!(&out_links, links_before, "links left behind");
                assert_eq!(netns_left, 0, "network namespace mounts left behind");
            }
        },
    )
}

#[test]
#[ignore = "requires root"]
fn containers_on_a_network_reach_each_other_by_name_and_alias() {
    in_test_host(|h| {
        h.engine.network("backend").create().unwrap();
        let mut web = h
            .sh(&common::httpd(80))
            .name("web")
            .network("backend")
            .network_alias("www")
            .spawn()
            .unwrap();
        web.kill_on_drop(true);
        let script = "for i in 1 2 3 4 5 6 7 8 9 10; do \
             wget -q -O - http://web/ && break; sleep 0.2; done; \
             wget -q -O - http://www/; cat /etc/hosts";
        let out = h
            .sh(script)
            .network("backend")
            .auto_remove(true)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("hello from web\nhello from web\n"),
            "{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("\tweb") || text.contains(" web"), "{text}");
        // inspect: an address on the network's subnet
        let info = h.engine.containers().get("web").unwrap().inspect().unwrap();
        let ep = &info.network_settings.networks["backend"];
        // exposed by the image, not published: listed without a binding
        assert_eq!(info.network_settings.ports.get("80/tcp"), Some(&None));
        let net = h.engine.networks().get("backend").unwrap();
        let ip: Ipv4Addr = ep.ip_address.parse().unwrap();
        assert!(net.subnet().unwrap().contains(ip), "{ip}");
        assert_eq!(info.network_settings.ip_address, ep.ip_address);
        assert_eq!(info.host_config.network_mode, "backend");
        assert_eq!(ep.aliases, ["www"]);
        // in use: the network cannot be removed
        assert!(matches!(
            h.engine.networks().remove("backend"),
            Err(Error::NetworkInUse { .. })
        ));
        web.kill().unwrap();
        web.wait().unwrap();
        assert!(h
            .engine
            .containers()
            .get("web")
            .unwrap()
            .ports()
            .unwrap()
            .is_empty());
        h.engine
            .containers()
            .get("web")
            .unwrap()
            .remove(false)
            .unwrap();
        h.engine.networks().remove("backend").unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn a_published_port_is_reached_from_the_host_and_freed_at_exit() {
    in_test_host(|h| {
        let mut web = h
            .sh(&common::httpd(80))
            .name("pub")
            .publish(8080, 80)
            .spawn()
            .unwrap();
        web.kill_on_drop(true);
        let mut reply = Err(std::io::Error::other("never tried"));
        for _ in 0..50 {
            reply = http_get("127.0.0.1:8080");
            if reply.is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let reply = reply.unwrap();
        assert!(
            reply.starts_with("HTTP/1.") && reply.contains(" 200 "),
            "{reply}"
        );
        assert!(reply.ends_with(common::WEB_PAGE), "{reply}");
        let c = h.engine.containers().get("pub").unwrap();
        assert_eq!(c.ports().unwrap(), vec![PortBinding::tcp(8080, 80)]);
        let info = c.inspect().unwrap();
        assert_eq!(info.host_config.network_mode, "bridge");
        assert!(info.config.exposed_ports.contains_key("80/tcp"));
        let p = &info.network_settings.ports["80/tcp"].as_ref().unwrap()[0];
        assert_eq!(
            (p.host_ip.as_str(), p.host_port.as_str()),
            ("0.0.0.0", "8080")
        );
        // a second container cannot take the port: a clear error, nothing left of it
        let before = h.engine.containers().list().unwrap().len();
        let err = h.cmd(["true"]).publish(8080, 80).spawn().unwrap_err();
        assert!(
            matches!(err, Error::PortInUse { .. }) || err.to_string().contains("8080"),
            "{err}"
        );
        assert_eq!(h.engine.containers().list().unwrap().len(), before);
        web.kill().unwrap();
        web.wait().unwrap();
        // freed: the host can bind it, and nothing answers through it any more
        TcpListener::bind("0.0.0.0:8080").expect("the port is free again");
        assert!(c.ports().unwrap().is_empty());
        c.remove(false).unwrap();
    });
}

#[test]
#[ignore = "requires root"]
fn none_has_only_loopback_and_host_shares_the_hosts_links() {
    in_test_host(|h| {
        // a link only the test host has
        let mut nl = Netlink::open().unwrap();
        nl.add_bridge("hostonly0", 1500).unwrap();
        let run = |network: &str| {
            let out = h
                .sh("ls /sys/class/net; cat /etc/hostname")
                .network(network)
                .auto_remove(true)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let none = run("none");
        assert!(none.starts_with("lo\n"), "{none}");
        assert!(!none.contains("hostonly0"), "{none}");
        let host = run("host");
        assert!(
            host.contains("hostonly0\n") && host.contains("lo\n"),
            "{host}"
        );
        let hostname = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert!(host.ends_with(&hostname), "{host:?} vs {hostname:?}");
        let link = nl.link("hostonly0").unwrap().unwrap();
        nl.del_link(link.index).unwrap();
        // bad combinations: refused before anything is made
        for (nets, ports) in [
            (&["host"][..], true),
            (&["none"][..], true),
            (&["host", "none"][..], false),
        ] {
            let mut b = h.engine.container(&h.image);
            b.args(["true"]);
            for n in nets {
                b.network(n);
            }
            if ports {
                b.publish(9000, 80);
            }
            let err = b.spawn().unwrap_err();
            assert!(matches!(err, Error::InvalidContainerConfig { .. }), "{err}");
        }
        let err = h.cmd(["true"]).network("no-such-net").spawn().unwrap_err();
        assert!(matches!(err, Error::NetworkNotFound { .. }), "{err}");
        assert!(h.engine.containers().list().unwrap().is_empty());
    });
}

#[test]
#[ignore = "requires root"]
fn add_host_dns_and_connect_at_run_time() {
    in_test_host(|h| {
        h.engine.network("front").create().unwrap();
        h.engine.network("back").create().unwrap();
        let mut a = h
            .cmd(["sleep", "100"])
            .name("app")
            .network("front")
            .add_host("db.example", Ipv4Addr::new(10, 9, 8, 7))
            .dns("10.0.0.53")
            .spawn()
            .unwrap();
        a.kill_on_drop(true);
        let rec = h.engine.containers().get("app").unwrap();
        let out = rec
            .exec([
                "sh",
                "-c",
                "cat /etc/hosts /etc/resolv.conf; ls /sys/class/net",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(text.contains("10.9.8.7\tdb.example"), "{text}");
        // a user-defined network: the embedded server, with the --dns server upstream
        assert!(text.contains("nameserver 127.0.0.11"), "{text}");
        assert!(!text.contains("nameserver 10.0.0.53"), "{text}");
        assert!(text.contains("eth0") && !text.contains("eth1"), "{text}");
        rec.connect("back", &["a-back"]).unwrap();
        let out = rec.exec(["ls", "/sys/class/net"]).output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("eth1"));
        let info = rec.inspect().unwrap();
        assert!(info.network_settings.networks.contains_key("back"));
        rec.disconnect("back").unwrap();
        let out = rec.exec(["ls", "/sys/class/net"]).output().unwrap();
        assert!(!String::from_utf8_lossy(&out.stdout).contains("eth1"));
        assert_eq!(rec.status(), Status::Running);
        a.kill().unwrap();
        a.wait().unwrap();
        rec.remove(false).unwrap();
        h.engine.networks().remove("front").unwrap();
        h.engine.networks().remove("back").unwrap();
    });
}

/// Outbound NAT: a container on `bridge` reaches a server in another namespace routed
/// through the test host, and the server sees the test host's address (masquerade), not
/// the container's — the outside has no route back to the bridge's subnet.
#[test]
#[ignore = "requires root"]
fn outbound_traffic_is_masqueraded() {
    use cargohold::sys::netlink;
    in_test_host(|h| {
        let outside = h.root.path().join("outside-ns");
        netlink::new_netns(Some(&outside), || Ok(())).unwrap();
        let ns = netlink::open_netns(&outside).unwrap();
        let mut nl = Netlink::open().unwrap();
        nl.add_veth("up0", "out0", Some(std::os::fd::AsFd::as_fd(&ns)), 1500)
            .unwrap();
        let up0 = nl.link("up0").unwrap().unwrap();
        nl.add_address(up0.index, Ipv4Addr::new(198, 51, 100, 1), 24)
            .unwrap();
        nl.set_up(up0.index).unwrap();
        let listener = netlink::in_netns(std::os::fd::AsFd::as_fd(&ns), || {
            let mut nl = Netlink::open()?;
            let out0 = nl.link("out0")?.unwrap();
            nl.add_address(out0.index, Ipv4Addr::new(198, 51, 100, 2), 24)?;
            nl.set_up(out0.index)?;
            TcpListener::bind("198.51.100.2:9000")
        })
        .unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, peer) = listener.accept().unwrap();
            let mut got = String::new();
            s.read_to_string(&mut got).unwrap();
            (peer.ip(), got)
        });
        let out = h
            .sh("echo hi | nc 198.51.100.2 9000; ip route")
            .network("bridge")
            .auto_remove(true)
            .output()
            .unwrap();
        common::assert_success(&out);
        let (peer, got) = server.join().unwrap();
        assert_eq!(got, "hi\n");
        assert_eq!(
            peer,
            std::net::IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1)),
            "masqueraded to the test host's address"
        );
        assert_eq!(
            fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
                .unwrap()
                .trim(),
            "1",
            "forwarding enabled in the test host"
        );
        nl.del_link(up0.index).unwrap();
        drop(ns);
        netlink::unbind_netns(&outside).unwrap();
    });
}

/// The embedded DNS server (127.0.0.11) of a container on a user-defined network: peers by
/// name, alias and `name.network` through DNS (asked of 127.0.0.11 directly, so not from
/// /etc/hosts), a peer connected at run time at once, a disconnected one gone at once;
/// other names forwarded to the `--dns` upstream (a fake one on the test host) and its
/// answers passed back, NXDOMAIN too. After the container stops its server's thread is
/// gone and 127.0.0.11:53 is free in its (held) namespace.
#[test]
#[ignore = "requires root"]
fn embedded_dns_resolves_peers_and_forwards_the_rest() {
    use common::fake_dns::{self, FakeUpstream};
    in_test_host(|h| {
        let upstream = FakeUpstream::start();
        h.engine.network("backend").create().unwrap();
        let mut web = h
            .sh(&common::httpd(80))
            .name("web")
            .network("backend")
            .network_alias("www")
            .spawn()
            .unwrap();
        web.kill_on_drop(true);
        let mut client = h
            .cmd(["sleep", "100"])
            .name("client")
            .network("backend")
            .dns(fake_dns::UPSTREAM)
            .spawn()
            .unwrap();
        client.kill_on_drop(true);
        let cid = client.id().to_owned();
        let rec = h.engine.containers().get("client").unwrap();
        let sh = |script: &str| {
            let out = rec.exec(["sh", "-c", script]).output().unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        };
        let web_ip = rec_ip(h, "web", "backend");
        // resolv.conf names the embedded server; the --dns server is its upstream
        let (_, conf) = sh("cat /etc/resolv.conf");
        assert!(conf.starts_with("nameserver 127.0.0.11\n"), "{conf}");
        assert!(!conf.contains(fake_dns::UPSTREAM), "{conf}");
        for name in ["web", "www", "web.backend", "WEB", "client"] {
            let (code, out) = sh(&format!("busybox nslookup -type=a {name} 127.0.0.11"));
            let want = if name == "client" {
                rec_ip(h, "client", "backend")
            } else {
                web_ip.clone()
            };
            assert_eq!(code, Some(0), "{name}: {out}");
            assert!(out.contains(&format!("Address: {want}")), "{name}: {out}");
        }
        // through the C library's resolver too (resolv.conf), with real traffic
        let (code, out) = sh("wget -q -O - http://www/ && busybox ping -c1 -W5 web");
        assert_eq!(code, Some(0), "{out}");
        assert!(out.starts_with(common::WEB_PAGE), "{out}");
        assert!(out.contains(&format!("({web_ip})")), "{out}");
        // a peer connected at run time resolves at once; disconnected, it is gone
        let mut late = h
            .cmd(["sleep", "100"])
            .name("late")
            .network("bridge")
            .spawn()
            .unwrap();
        late.kill_on_drop(true);
        let (code, out) = sh("busybox nslookup -type=a late 127.0.0.11");
        assert_ne!(code, Some(0), "not on backend yet: {out}");
        let late_rec = h.engine.containers().get("late").unwrap();
        late_rec.connect("backend", &["tardy"]).unwrap();
        let late_ip = rec_ip(h, "late", "backend");
        for name in ["late", "tardy"] {
            let (code, out) = sh(&format!("busybox nslookup -type=a {name} 127.0.0.11"));
            assert_eq!(code, Some(0), "{name}: {out}");
            assert!(
                out.contains(&format!("Address: {late_ip}")),
                "{name}: {out}"
            );
        }
        late_rec.disconnect("backend").unwrap();
        let (code, out) = sh("busybox nslookup -type=a tardy 127.0.0.11");
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains("NXDOMAIN"), "{out}");
        // other names: forwarded, the upstream's answer and its NXDOMAIN come back
        let (code, out) = sh(&format!(
            "busybox nslookup -type=a {} 127.0.0.11",
            fake_dns::OUTSIDE_NAME
        ));
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("Address: 192.0.2.7"), "{out}");
        let (code, out) = sh("busybox nslookup -type=a nothere.test");
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains("NXDOMAIN"), "{out}");
        let asked = upstream.names();
        assert!(
            asked.contains(&fake_dns::OUTSIDE_NAME.to_owned()),
            "{asked:?}"
        );
        assert!(asked.contains(&"nothere.test".to_owned()), "{asked:?}");
        assert!(asked.contains(&"tardy".to_owned()), "{asked:?}");
        for ours in ["web", "www", "web.backend", "client"] {
            assert!(
                !asked.contains(&ours.to_owned()),
                "{ours} forwarded: {asked:?}"
            );
        }
        // a container on the default bridge keeps the host's name servers, and no server
        let (_, conf) = {
            let out = late_rec.exec(["cat", "/etc/resolv.conf"]).output().unwrap();
            (0, String::from_utf8_lossy(&out.stdout).into_owned())
        };
        assert!(!conf.contains("127.0.0.11"), "{conf}");
        let me = std::process::id();
        assert!(!fake_dns::has_thread(me, &fake_dns::thread_name(late.id())));
        // stopped: no thread, no socket (the namespace, held here, has the port free)
        let ns =
            cargohold::sys::netlink::open_netns(&h.root.path().join("netns").join(&cid)).unwrap();
        assert!(fake_dns::has_thread(me, &fake_dns::thread_name(&cid)));
        assert!(
            !fake_dns::dns_port_free(&ns),
            "the server holds 127.0.0.11:53"
        );
        // straight at the server from inside the namespace: TCP, and hostile datagrams
        // (a runt, a pointer loop) that get no answer or FORMERR, after which it still
        // answers
        let www: Ipv4Addr = web_ip.parse().unwrap();
        let replies = cargohold::sys::netlink::in_netns(ns.as_fd(), || {
            let mut t = TcpStream::connect("127.0.0.11:53")?;
            t.set_read_timeout(Some(Duration::from_secs(5)))?;
            let q = fake_dns::query("www");
            t.write_all(&(q.len() as u16).to_be_bytes())?;
            t.write_all(&q)?;
            let mut len = [0u8; 2];
            t.read_exact(&mut len)?;
            let mut tcp = vec![0; u16::from_be_bytes(len) as usize];
            t.read_exact(&mut tcp)?;
            // 3000 queries pipelined in one write: every one answered, in order
            let mut many = Vec::new();
            for i in 0..3000u16 {
                let mut q = fake_dns::query("www");
                q[..2].copy_from_slice(&i.to_be_bytes());
                many.extend_from_slice(&(q.len() as u16).to_be_bytes());
                many.extend_from_slice(&q);
            }
            t.write_all(&many)?;
            let mut pipelined = Vec::new();
            for _ in 0..3000 {
                t.read_exact(&mut len)?;
                let mut r = vec![0; u16::from_be_bytes(len) as usize];
                t.read_exact(&mut r)?;
                pipelined.push(fake_dns::a_records(&r));
            }
            let u = std::net::UdpSocket::bind("127.0.0.1:0")?;
            u.set_read_timeout(Some(Duration::from_secs(5)))?;
            u.connect("127.0.0.11:53")?;
            u.send(&[0x42; 5])?;
            let mut looped = vec![0x42, 0x43, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
            looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            u.send(&looped)?;
            let mut buf = [0u8; 512];
            let n = u.recv(&mut buf)?;
            let formerr = buf[..n].to_vec();
            u.send(&fake_dns::query("web"))?;
            let n = u.recv(&mut buf)?;
            Ok((tcp, formerr, buf[..n].to_vec(), pipelined))
        })
        .unwrap();
        for (i, r) in replies.3.iter().enumerate() {
            assert_eq!(r, &(i as u16, 0, vec![www]));
        }
        assert_eq!(fake_dns::a_records(&replies.0), (0x4242, 0, vec![www]));
        assert_eq!(fake_dns::a_records(&replies.1), (0x4243, 1, vec![]));
        assert_eq!(fake_dns::a_records(&replies.2), (0x4242, 0, vec![www]));
        client.kill().unwrap();
        client.wait().unwrap();
        assert!(!fake_dns::has_thread(me, &fake_dns::thread_name(&cid)));
        assert!(fake_dns::dns_port_free(&ns));
        drop(ns);
        for c in [&mut web, &mut late] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        for n in ["web", "late", "client"] {
            h.engine.containers().get(n).unwrap().remove(false).unwrap();
        }
        h.engine.networks().remove("backend").unwrap();
    });
}

/// The address of container `name` on `network`.
fn rec_ip(h: &Host, name: &str, network: &str) -> String {
    let info = h.engine.containers().get(name).unwrap().inspect().unwrap();
    info.network_settings.networks[network].ip_address.clone()
}

/// A handle dropped while its container runs: the embedded DNS server serves on, on a
/// thread of this process, until the container's init exits.
#[test]
#[ignore = "requires root"]
fn embedded_dns_of_a_dropped_handle_ends_with_the_container() {
    in_test_host(|h| {
        h.engine.network("dropnet").create().unwrap();
        let c = h
            .cmd(["sleep", "100"])
            .name("dropped")
            .network("dropnet")
            .dns("127.0.0.54")
            .spawn()
            .unwrap();
        let id = c.id().to_owned();
        drop(c);
        let rec = h.engine.containers().get("dropped").unwrap();
        let out = rec
            .exec(["busybox", "nslookup", "-type=a", "dropped", "127.0.0.11"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        let ip = rec.inspect().unwrap().network_settings.ip_address;
        assert!(text.contains(&format!("Address: {ip}")), "{text}");
        // an upstream that nobody serves (127.0.0.54 of the test host): SERVFAIL
        let out = rec
            .exec([
                "busybox",
                "nslookup",
                "-type=a",
                "elsewhere.test",
                "127.0.0.11",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success());
        assert!(text.contains("SERVFAIL"), "{text}");
        let me = std::process::id();
        let thread = common::fake_dns::thread_name(&id);
        assert!(common::fake_dns::has_thread(me, &thread));
        rec.kill().unwrap();
        let mut gone = false;
        for _ in 0..100 {
            if !common::fake_dns::has_thread(me, &thread) {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(gone, "the DNS thread outlived its container");
        rec.remove(true).unwrap();
        h.engine.networks().remove("dropnet").unwrap();
    });
}

/// Two busybox containers on a user-defined network reach each other by name, and the
/// server's `/etc/hosts`, written before the client existed, is kept current with the
/// client's entry. (This was a test of the network layer's sandboxes driving bare runtime
/// bundles, in tests/it/network.rs; the sandboxes are crate-private now, so it runs
/// through containers, with the same assertions.)
#[test]
#[ignore = "requires root"]
fn busybox_containers_reach_each_other_by_name() {
    use cargohold::Stdio;
    in_test_host(|h| {
        h.engine
            .network("app")
            .subnet("10.77.0.0/24")
            .create()
            .unwrap();
        // The server answers one connection, then shows its hosts file (while the client,
        // waiting on its stdin, is still on the network).
        let server = h
            .sh("echo served | nc -l -p 80; cat /etc/hosts")
            .name("web")
            .network("app")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut client = h
            .sh("for i in $(seq 100); do if nc web 80; then read _; exit 0; fi; sleep 0.1; done; exit 1")
            .name("fetcher")
            .network("app")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let srv = server.wait_with_output().unwrap();
        let srv_out = String::from_utf8_lossy(&srv.stdout);
        assert!(
            srv.status.success(),
            "{}",
            String::from_utf8_lossy(&srv.stderr)
        );
        assert!(srv_out.contains("10.77.0.3\tfetcher\n"), "{srv_out}");
        drop(client.take_stdin());
        let got = client.wait_with_output().unwrap();
        assert!(
            got.status.success(),
            "{}",
            String::from_utf8_lossy(&got.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&got.stdout), "served\n");
        for name in ["web", "fetcher"] {
            h.engine
                .containers()
                .get(name)
                .unwrap()
                .remove(false)
                .unwrap();
        }
        h.engine.networks().remove("app").unwrap();
    });
}

/// `--network container:<name>`: the second container runs in the first one's network
/// namespace (its loopback, its interfaces, its hostname, its hosts and resolv.conf), for
/// a target on a user-defined network and one in `none` mode; what would configure a
/// namespace of its own is refused, an unknown target is named, and a stopped target
/// refuses the start and leaves the joiner as it was.
#[test]
#[ignore = "requires root"]
fn container_network_mode_joins_the_targets_namespace() {
    in_test_host(|h| {
        h.engine.network("front").create().unwrap();
        let serve = "mkdir -p /tmp/w && echo shared > /tmp/w/x && \
                     exec httpd -f -p 127.0.0.1:8080 -h /tmp/w";
        let fetch = "for i in $(seq 50); do wget -q -O - http://127.0.0.1:8080/x && break; \
                     sleep 0.1; done; cat /sys/class/net/*/address | sort | tr '\\n' ' '; \
                     echo; hostname; grep -c 127.0.0.11 /etc/resolv.conf";
        for (target, network) in [("app", "front"), ("alone", "none")] {
            let mut t = h.sh(serve).name(target).network(network).spawn().unwrap();
            t.kill_on_drop(true);
            let out = h
                .sh(fetch)
                .name("joiner")
                .network(format!("container:{target}"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines.first(), Some(&"shared"), "{text}");
            let info = h
                .engine
                .containers()
                .get(target)
                .unwrap()
                .inspect()
                .unwrap();
            let mine = h
                .engine
                .containers()
                .get("joiner")
                .unwrap()
                .inspect()
                .unwrap();
            assert_eq!(lines[2], info.config.hostname, "{text}");
            assert_eq!(mine.config.hostname, info.config.hostname);
            assert_eq!(
                mine.host_config.network_mode,
                format!("container:{}", info.id)
            );
            assert!(mine.network_settings.networks.is_empty());
            if network == "front" {
                // its interface (same address) and its embedded DNS server
                let mac = &info.network_settings.networks["front"].mac_address;
                assert!(lines[1].contains(mac.as_str()), "{mac} in {text}");
                assert_eq!(lines[3], "1", "{text}");
            } else {
                assert_eq!(lines[1].split_whitespace().count(), 1, "only lo: {text}");
            }
            h.engine
                .containers()
                .get("joiner")
                .unwrap()
                .remove(true)
                .unwrap();
            t.kill().unwrap();
            t.wait().unwrap();
        }

        // conflicts and an unknown target: refused before anything is made
        type Edit = fn(&mut cargohold::ContainerBuilder<'_>);
        let conflicts: [(&str, Edit); 4] = [
            ("published ports", |b| {
                b.publish(9000, 80);
            }),
            ("hostname", |b| {
                b.hostname("x");
            }),
            ("network", |b| {
                b.network("front");
            }),
            ("dns", |b| {
                b.dns("10.0.0.53");
            }),
        ];
        for (what, edit) in conflicts {
            let mut b = h.cmd(["true"]);
            b.network("container:app");
            edit(&mut b);
            let err = b.spawn().unwrap_err();
            assert!(
                matches!(&err, Error::InvalidContainerConfig { field, .. } if *field == what),
                "{what}: {err}"
            );
        }
        let err = h
            .cmd(["true"])
            .network("container:nosuch")
            .spawn()
            .unwrap_err();
        assert!(
            err.to_string().contains("no such container: nosuch"),
            "{err}"
        );

        // a target that does not run: the start is refused, the joiner stays created
        let joiner = h
            .cmd(["true"])
            .name("later")
            .network("container:app")
            .create()
            .unwrap();
        let err = joiner.start().unwrap_err();
        assert!(
            matches!(&err, Error::InvalidState { id, .. } if id == "app"),
            "{err}"
        );
        assert_eq!(joiner.status(), Status::Created);
        joiner.remove(true).unwrap();
        h.engine
            .containers()
            .get("app")
            .unwrap()
            .remove(true)
            .unwrap();
        h.engine.networks().remove("front").unwrap();
    });
}

/// Docker's isolation of bridge networks: a container reaches its peer on its own network
/// but not, by address, a container on another (the test host forwards nothing from one
/// bridge of ours to another), though it reaches that container's published port through
/// the host; once that container is connected to its network too, it reaches it there. The
/// drop rules come and go with their networks: with both gone, so is the table.
#[test]
#[ignore = "requires root"]
fn bridge_networks_are_isolated_from_each_other() {
    in_test_host(|h| {
        let a = h.engine.network("neta").create().unwrap();
        let b = h.engine.network("netb").create().unwrap();
        let mut peer = h
            .sh(&common::httpd(80))
            .name("peer")
            .network("neta")
            .spawn()
            .unwrap();
        peer.kill_on_drop(true);
        let mut other = h
            .sh(&common::httpd(80))
            .name("other")
            .network("netb")
            .publish(8081, 80)
            .spawn()
            .unwrap();
        other.kill_on_drop(true);
        let mut client = h
            .cmd(["sleep", "100"])
            .name("client")
            .network("neta")
            .spawn()
            .unwrap();
        client.kill_on_drop(true);
        let (peer_ip, other_ip) = (rec_ip(h, "peer", "neta"), rec_ip(h, "other", "netb"));
        // both servers answer the test host (which forwards nothing to reach them)
        for ip in [&peer_ip, &other_ip] {
            let reply = common::http_get_retried(&format!("{ip}:80"));
            assert!(reply.ends_with(common::WEB_PAGE), "{ip}: {reply}");
        }
        // wget from the client, up to `tries` times, each given up after 2 s (a dropped
        // SYN gets no answer)
        let fetch = |addr: &str, tries: u32| {
            let script = format!(
                "for i in $(seq {tries}); do \
                 busybox timeout 2 wget -q -O - http://{addr}/ && exit 0; sleep 0.1; done; exit 1"
            );
            let out = client.exec(["sh", "-c", &script]).output().unwrap();
            (out.status.success(), common::stdout(&out))
        };
        let (ok, page) = fetch(&peer_ip, 50);
        assert!(ok && page == common::WEB_PAGE, "the peer on neta: {page:?}");
        let (ok, page) = fetch(&other_ip, 1);
        assert!(!ok && page.is_empty(), "netb's container reached: {page:?}");
        // each bridge has its drop rule, tagged with its network's tag (nft lists the DNAT
        // exemption in a form of its version's)
        let rules = ruleset();
        for n in [&a, &b] {
            let br = n.bridge().unwrap();
            let from = format!("iifname \"{br}\" oifname != \"{br}\" oifname \"ch-*\" ");
            let tagged = format!(" drop comment \"n:{}\"", &n.id()[..12]);
            assert!(
                rules
                    .lines()
                    .any(|l| l.trim().starts_with(&from) && l.ends_with(&tagged)),
                "no {from:?}…{tagged:?} in\n{rules}"
            );
        }
        // the port netb's container publishes: DNATed, forwarded from neta's bridge to netb's
        let gateway = a.gateway().unwrap();
        let (ok, page) = fetch(&format!("{gateway}:8081"), 50);
        assert!(
            ok && page == common::WEB_PAGE,
            "the published port: {page:?}"
        );
        // connected to neta too: reached there, still not at its netb address
        let other_rec = h.engine.containers().get("other").unwrap();
        other_rec.connect("neta", &[]).unwrap();
        let other_on_a = rec_ip(h, "other", "neta");
        let (ok, page) = fetch(&other_on_a, 50);
        assert!(ok && page == common::WEB_PAGE, "other on neta: {page:?}");
        let (ok, page) = fetch(&other_ip, 1);
        assert!(!ok && page.is_empty(), "netb's address reached: {page:?}");
        for mut c in [peer, other, client] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        for name in ["peer", "other", "client"] {
            h.engine
                .containers()
                .get(name)
                .unwrap()
                .remove(false)
                .unwrap();
        }
        h.engine.networks().remove("netb").unwrap();
        let rules = ruleset();
        assert!(
            !rules.contains(&b.id()[..12]),
            "netb's rules stayed:\n{rules}"
        );
        assert!(rules.contains(&a.id()[..12]), "neta's rules went:\n{rules}");
        h.engine.networks().remove("neta").unwrap();
        assert_eq!(ruleset(), "", "the table ip cargohold stayed");
    });
}

/// Table `ip cargohold` as `nft` lists it (empty if there is none).
fn ruleset() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "table", "ip", "cargohold"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
