use super::*;

/// A query for `name` of type `qtype`, id 0x1234, RD set.
fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        id: 0x1234,
        flags: RD,
        qdcount: 1,
        ancount: 0,
        nscount: 0,
        arcount: 0,
    }
    .write(&mut out);
    let labels: Vec<Vec<u8>> = name
        .split('.')
        .filter(|l| !l.is_empty())
        .map(|l| l.as_bytes().to_vec())
        .collect();
    write_name(&mut out, &labels);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

fn table(name: &str) -> Vec<Ipv4Addr> {
    match name {
        "web" | "www" | "web.backend" => vec![Ipv4Addr::new(172, 18, 0, 2)],
        "many" => (0..100).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
        _ => Vec::new(),
    }
}

fn run(msg: &[u8], limit: usize) -> Action {
    handle(msg, limit, &mut |n| table(n))
}

fn reply_of(a: Action) -> Message {
    match a {
        Action::Reply(r) => Message::parse(&r).unwrap(),
        other => panic!("not a reply: {other:?}"),
    }
}

#[test]
fn answers_a_known_name_case_insensitively_with_the_question_echoed() {
    let m = reply_of(run(&query("WeB.", TYPE_A), UDP_LIMIT));
    assert_eq!(m.header.id, 0x1234);
    assert!(m.header.is_response());
    assert_eq!(m.header.rcode(), rcode::NOERROR);
    assert_eq!(m.header.flags & RD, RD, "RD copied");
    assert_eq!(m.header.flags & RA, RA);
    assert!(!m.header.truncated());
    assert_eq!(m.questions.len(), 1);
    assert_eq!(m.questions[0].labels, vec![b"WeB".to_vec()]);
    assert_eq!(m.answers.len(), 1);
    let a = &m.answers[0];
    // the answer's name is a compression pointer to the question's: read back through it
    assert_eq!(a.labels, vec![b"WeB".to_vec()]);
    assert_eq!((a.rtype, a.class, a.ttl), (TYPE_A, CLASS_IN, TTL));
    assert_eq!(a.data, [172, 18, 0, 2]);
    // name.network and an alias
    for n in ["web.backend", "www"] {
        let m = reply_of(run(&query(n, TYPE_A), UDP_LIMIT));
        assert_eq!(m.answers[0].data, [172, 18, 0, 2], "{n}");
    }
}

#[test]
fn aaaa_and_other_types_of_a_known_name_are_empty_noerror() {
    for t in [TYPE_AAAA, 15 /* MX */, 16 /* TXT */] {
        let m = reply_of(run(&query("web", t), UDP_LIMIT));
        assert_eq!(m.header.rcode(), rcode::NOERROR);
        assert!(m.answers.is_empty(), "type {t}");
        assert_eq!(m.questions[0].qtype, t);
    }
}

#[test]
fn unknown_names_and_odd_classes_are_forwarded() {
    match run(&query("example.org", TYPE_A), UDP_LIMIT) {
        Action::Forward(h, q) => {
            assert_eq!(h.id, 0x1234);
            assert_eq!(q.name().as_deref(), Some("example.org"));
            // the error reply made from them if forwarding fails
            let m = Message::parse(&reply(&h, &q, rcode::SERVFAIL, &[], false, 512)).unwrap();
            assert_eq!(m.header.rcode(), rcode::SERVFAIL);
            assert_eq!(m.header.id, 0x1234);
            assert_eq!(m.questions[0], q);
        }
        other => panic!("{other:?}"),
    }
    // CHAOS class
    let mut q = query("web", TYPE_A);
    let n = q.len();
    q[n - 2..].copy_from_slice(&3u16.to_be_bytes());
    assert!(matches!(run(&q, UDP_LIMIT), Action::Forward(..)));
    // a label with a dot in it is nobody's name
    let mut q = query("xxxxxxx", TYPE_A);
    q[12 + 4] = b'.';
    assert!(matches!(run(&q, UDP_LIMIT), Action::Forward(..)));
    // the root
    assert!(matches!(
        run(&query("", TYPE_A), UDP_LIMIT),
        Action::Forward(..)
    ));
}

#[test]
fn responses_and_runts_are_dropped_bad_queries_get_errors() {
    let mut q = query("web", TYPE_A);
    q[2] |= 0x80; // QR
    assert_eq!(run(&q, UDP_LIMIT), Action::Drop);
    assert_eq!(run(&[0; 11], UDP_LIMIT), Action::Drop);
    assert_eq!(run(&[], UDP_LIMIT), Action::Drop);
    // opcode 2 (STATUS): not implemented
    let mut q = query("web", TYPE_A);
    q[2] |= 2 << 3;
    let m = reply_of(run(&q, UDP_LIMIT));
    assert_eq!(m.header.rcode(), rcode::NOTIMP);
    assert_eq!(m.header.id, 0x1234);
    // two questions; none
    for count in [0u16, 2] {
        let mut q = query("web", TYPE_A);
        q[4..6].copy_from_slice(&count.to_be_bytes());
        let m = reply_of(run(&q, UDP_LIMIT));
        assert_eq!(m.header.rcode(), rcode::FORMERR, "qdcount {count}");
        assert!(m.questions.is_empty());
    }
    // a question cut short
    let q = query("web", TYPE_A);
    for cut in 12..q.len() {
        let m = reply_of(run(&q[..cut], UDP_LIMIT));
        assert_eq!(m.header.rcode(), rcode::FORMERR, "cut at {cut}");
    }
}

#[test]
fn a_udp_answer_over_512_bytes_is_truncated_with_tc() {
    let raw = match run(&query("many", TYPE_A), UDP_LIMIT) {
        Action::Reply(r) => r,
        other => panic!("{other:?}"),
    };
    assert!(raw.len() <= UDP_LIMIT, "{}", raw.len());
    let m = Message::parse(&raw).unwrap();
    assert!(m.header.truncated());
    // 12 header + 10 question ("many": 6 + 4); 16 bytes an answer
    assert_eq!(m.answers.len(), (512 - 12 - 10) / 16);
    assert_eq!(m.answers[0].data, [10, 0, 0, 0]);
    // over TCP all of them fit
    let m = reply_of(run(&query("many", TYPE_A), 65535));
    assert!(!m.header.truncated());
    assert_eq!(m.answers.len(), 100);
}

#[test]
fn names_follow_backward_pointers_only_and_stay_bounded() {
    // a name at 12, and a second one at its end: "a" + pointer to 12
    let mut msg = query("web.backend", TYPE_A);
    let second = msg.len();
    msg.extend_from_slice(&[1, b'a', 0xc0, 12]);
    let (labels, end) = read_name(&msg, second).unwrap();
    assert_eq!(
        labels,
        vec![b"a".to_vec(), b"web".to_vec(), b"backend".to_vec()]
    );
    assert_eq!(end, msg.len());
    // a pointer to itself, a forward pointer, two pointers pointing at each other
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[0xc0, 12]);
    assert_eq!(read_name(&m, 12), Err(ParseError::BadPointer));
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[0xc0, 14, 0]);
    assert_eq!(read_name(&m, 12), Err(ParseError::BadPointer));
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[0xc0, 14, 0xc0, 12]);
    assert_eq!(read_name(&m, 14), Err(ParseError::BadPointer));
    // a label leading back to a pointer into itself: 12: "a", ptr 12
    let mut m = vec![0u8; 12];
    m.extend_from_slice(&[1, b'a', 0xc0, 12]);
    assert_eq!(read_name(&m, 12), Err(ParseError::BadPointer));
    // a long chain of backward pointers: cut at MAX_HOPS
    let mut m = vec![0u8; 12];
    m.push(0); // the root at 12
    for i in 0..200usize {
        let target = if i == 0 { 12 } else { 13 + (i - 1) * 2 };
        m.extend_from_slice(&[0xc0 | (target >> 8) as u8, target as u8]);
    }
    assert_eq!(read_name(&m, m.len() - 2), Err(ParseError::PointerLoop));
    assert_eq!(read_name(&m, 13 + 10 * 2).unwrap().0.len(), 0);
    // reserved label types
    for t in [0x40u8, 0x80] {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[t | 1, b'a', 0]);
        assert_eq!(read_name(&m, 12), Err(ParseError::BadLabel));
    }
    // 128 one-byte labels: 257 bytes
    let mut m = vec![0u8; 12];
    for _ in 0..128 {
        m.extend_from_slice(&[1, b'x']);
    }
    m.push(0);
    assert_eq!(read_name(&m, 12), Err(ParseError::NameTooLong));
    // 127 of them plus the root: 255, the most there may be
    let mut m = vec![0u8; 12];
    for _ in 0..127 {
        m.extend_from_slice(&[1, b'x']);
    }
    m.push(0);
    assert_eq!(read_name(&m, 12).unwrap().0.len(), 127);
}

#[test]
fn huge_counts_end_at_the_end_of_the_message() {
    let mut msg = query("web", TYPE_A);
    msg[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(Message::parse(&msg), Err(ParseError::Truncated));
    let mut msg = query("web", TYPE_A);
    msg[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(Message::parse(&msg), Err(ParseError::Truncated));
    // an answer whose data length runs past the end
    let mut msg = match run(&query("web", TYPE_A), UDP_LIMIT) {
        Action::Reply(r) => r,
        other => panic!("{other:?}"),
    };
    let n = msg.len();
    msg[n - 6..n - 4].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(Message::parse(&msg), Err(ParseError::Truncated));
    // and the server's decision on a query that claims many answers is still the question's
    let mut q = query("web", TYPE_A);
    q[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(reply_of(run(&q, UDP_LIMIT)).answers.len(), 1);
}

#[test]
fn random_and_mutated_packets_never_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let base = query("web.backend", TYPE_A);
    for i in 0..20_000 {
        let mut m = if i % 2 == 0 {
            base.clone()
        } else {
            let len = (next() % 80) as usize;
            (0..len).map(|_| next() as u8).collect()
        };
        for _ in 0..(next() % 6) {
            if !m.is_empty() {
                let at = (next() as usize) % m.len();
                m[at] = next() as u8;
            }
        }
        let _ = Message::parse(&m);
        match run(&m, UDP_LIMIT) {
            Action::Reply(r) => {
                assert!(r.len() <= UDP_LIMIT);
                Message::parse(&r).expect("our replies parse");
            }
            Action::Forward(..) | Action::Drop => {}
        }
    }
}

#[test]
fn upstreams_are_the_dns_option_or_the_hosts_nameservers() {
    let conf = "# comment\nsearch example.com\nnameserver 10.0.0.2\nnameserver 127.0.0.53\n\
                nameserver fe80::1%eth0\nnameserver ::1\noptions edns0\n";
    assert_eq!(
        upstreams(&[], conf),
        vec![
            "10.0.0.2:53".parse::<SocketAddr>().unwrap(),
            "127.0.0.53:53".parse().unwrap(),
            "[::1]:53".parse().unwrap(),
        ]
    );
    assert_eq!(
        upstreams(&["192.0.2.1".into(), "bogus".into()], conf),
        vec!["192.0.2.1:53".parse::<SocketAddr>().unwrap()]
    );
    assert!(upstreams(&[], "").is_empty());
}

#[test]
fn the_containers_resolv_conf_points_at_the_embedded_server() {
    let conf = "nameserver 10.0.0.2\nsearch example.com\noptions edns0\n";
    assert_eq!(
        resolv_conf(conf),
        "nameserver 127.0.0.11\nsearch example.com\noptions edns0\noptions ndots:0\n"
    );
    assert_eq!(
        resolv_conf("nameserver 1.1.1.1\noptions ndots:2\n"),
        "nameserver 127.0.0.11\noptions ndots:2\n"
    );
}

#[test]
fn lookup_reads_names_aliases_hostnames_of_peers_on_user_defined_networks() {
    let d = tempfile::tempdir().unwrap();
    let s = NetworkStore::open(d.path()).unwrap();
    s.builder("backend")
        .subnet("10.88.0.0/24")
        .create()
        .unwrap();
    s.builder("other").subnet("10.89.0.0/24").create().unwrap();
    let ep = |name: &str, ip: [u8; 4], aliases: &[&str]| super::super::Endpoint {
        id: "e".into(),
        container: name.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ip: ip.into(),
        ifname: "eth0".into(),
        host_ifname: None,
        mac: String::new(),
        ports: Vec::new(),
    };
    // Endpoints (key, container, address, aliases) recorded on a network.
    type Endpoints<'a> = [(&'a str, &'a str, [u8; 4], &'a [&'a str])];
    let record = |network: &str, endpoints: &Endpoints| {
        let mut rec = s.load(network).unwrap();
        for (key, name, ip, aliases) in endpoints {
            rec.endpoints
                .insert(key.to_string(), ep(name, *ip, aliases));
        }
        s.save(&rec).unwrap();
    };
    record(
        "backend",
        &[
            ("a1", "asker", [10, 88, 0, 2], &[]),
            ("w1", "web", [10, 88, 0, 3], &["www"]),
            ("w2", "web2", [10, 88, 0, 4], &["www"]),
        ],
    );
    record("other", &[("o1", "hidden", [10, 89, 0, 2], &[])]);
    record(
        "bridge",
        &[
            ("a1", "asker", [172, 17, 0, 2], &[]),
            ("b1", "onbridge", [172, 17, 0, 3], &[]),
        ],
    );
    let sandbox = |id: &str, host: &str, nets: &[&str]| {
        let json = serde_json::json!({
            "container_id": id, "container_name": id, "hostname": host,
            "netns": null, "networks": nets,
        });
        std::fs::write(
            s.dir().join(".sandboxes").join(format!("{id}.json")),
            json.to_string(),
        )
        .unwrap();
    };
    sandbox("a1", "asker-host", &["bridge", "backend"]);
    sandbox("w1", "webhost", &["backend"]);
    sandbox("w2", "w2", &["backend"]);
    sandbox("o1", "o1", &["other"]);
    sandbox("b1", "b1", &["bridge"]);
    let ip = |a, b, c, d| Ipv4Addr::new(a, b, c, d);
    assert_eq!(s.lookup("a1", "web"), [ip(10, 88, 0, 3)]);
    assert_eq!(s.lookup("a1", "web.backend"), [ip(10, 88, 0, 3)]);
    assert_eq!(s.lookup("a1", "webhost"), [ip(10, 88, 0, 3)]);
    assert_eq!(s.lookup("a1", "asker"), [ip(10, 88, 0, 2)], "itself too");
    let mut www = s.lookup("a1", "www");
    www.sort();
    assert_eq!(www, [ip(10, 88, 0, 3), ip(10, 88, 0, 4)]);
    // not sharing a user-defined network: not ours
    assert!(s.lookup("a1", "hidden").is_empty());
    assert!(
        s.lookup("a1", "onbridge").is_empty(),
        "the default bridge has no DNS"
    );
    assert!(s.lookup("a1", "web.other").is_empty());
    assert!(s.lookup("a1", "example.org").is_empty());
    assert!(s.lookup("nobody", "web").is_empty());
    // a peer that leaves is gone at the next lookup
    let mut backend = s.load("backend").unwrap();
    backend.endpoints.remove("w1");
    s.save(&backend).unwrap();
    assert!(s.lookup("a1", "web").is_empty());
    assert_eq!(s.lookup("a1", "www"), [ip(10, 88, 0, 4)]);
    assert!(s.is_user_defined("backend"));
    assert!(!s.is_user_defined("bridge"));
    assert!(!s.is_user_defined("host"));
    assert!(!s.is_user_defined("missing"));
}

#[test]
fn an_upstream_reply_must_carry_the_querys_id_and_question() {
    let q = query("Example.org", TYPE_A);
    let (h, question) = match run(&q, UDP_LIMIT) {
        Action::Forward(h, question) => (h, question),
        other => panic!("{other:?}"),
    };
    let good = reply(&h, &question, rcode::NXDOMAIN, &[], false, 512);
    assert!(answers(&good, &h, &question));
    // the name's case may differ
    let lower = Question {
        labels: vec![b"example".to_vec(), b"ORG".to_vec()],
        ..question.clone()
    };
    assert!(answers(
        &reply(&h, &lower, 0, &[], false, 512),
        &h,
        &question
    ));
    let other_id = Header { id: 7, ..h };
    assert!(!answers(
        &reply(&other_id, &question, 0, &[], false, 512),
        &h,
        &question
    ));
    let other_name = Question {
        labels: vec![b"evil".to_vec()],
        ..question.clone()
    };
    assert!(!answers(
        &reply(&h, &other_name, 0, &[], false, 512),
        &h,
        &question
    ));
    assert!(!answers(&q, &h, &question), "a query is no reply");
    assert!(!answers(&good[..11], &h, &question));
}
