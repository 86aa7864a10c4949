use super::*;

fn store() -> (tempfile::TempDir, NetworkStore) {
    let d = tempfile::tempdir().unwrap();
    let s = NetworkStore::open(d.path()).unwrap();
    (d, s)
}

#[test]
fn predefined_networks_exist_and_stay() {
    let (_d, s) = store();
    let networks = s.list().unwrap();
    let names: Vec<&str> = networks.iter().map(Network::name).collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    let b = s.get("bridge").unwrap();
    assert_eq!(b.driver(), Driver::Bridge);
    let subnet = b.subnet().unwrap();
    assert_eq!(b.gateway(), subnet.first_host());
    assert!(b.bridge().unwrap().len() <= 15);
    for n in ["bridge", "host", "none"] {
        assert!(matches!(s.remove(n), Err(Error::PredefinedNetwork { .. })));
    }
    assert!(matches!(
        s.builder("host").create(),
        Err(Error::PredefinedNetwork { .. })
    ));
    // by id prefix too
    assert_eq!(s.get(&b.id()[..10]).unwrap().name(), "bridge");
}

#[test]
fn create_validates_and_refuses_overlaps() {
    let (_d, s) = store();
    let n = s
        .builder("backend")
        .subnet("10.77.0.0/24")
        .gateway("10.77.0.254")
        .label("a", "b")
        .create()
        .unwrap();
    assert_eq!(n.gateway(), Some(Ipv4Addr::new(10, 77, 0, 254)));
    let i = s.inspect("backend").unwrap();
    let json = serde_json::to_value(&i).unwrap();
    assert_eq!(json["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/24");
    assert_eq!(json["Driver"], "bridge");
    assert_eq!(json["Labels"]["a"], "b");
    assert!(matches!(
        s.builder("backend").create(),
        Err(Error::NetworkExists { .. })
    ));
    match s.builder("other").subnet("10.77.0.128/25").create() {
        Err(Error::SubnetOverlap { other, .. }) => assert!(other.contains("backend"), "{other}"),
        r => panic!("{r:?}"),
    }
    for (b, field) in [
        (s.builder("x1").subnet("10.1.0.0/33").clone(), "subnet"),
        (s.builder("x2").subnet("10.1.0.1/16").clone(), "subnet"),
        (
            s.builder("x3")
                .subnet("10.1.0.0/16")
                .gateway("10.2.0.1")
                .clone(),
            "gateway",
        ),
        (
            s.builder("x4")
                .subnet("10.1.0.0/16")
                .ip_range("10.3.0.0/24")
                .clone(),
            "IP range",
        ),
        (s.builder("x5").gateway("10.1.0.1").clone(), "subnet"),
        (
            s.builder("x6")
                .driver(Driver::Macvlan)
                .subnet("10.1.0.0/16")
                .clone(),
            "parent",
        ),
        (s.builder("x7").mtu(10).clone(), "MTU"),
        (s.builder("-bad").clone(), "name"),
        (s.builder("x8").driver(Driver::Host).clone(), "driver"),
    ] {
        match b.create() {
            Err(Error::InvalidNetworkConfig { field: f, .. }) => assert_eq!(f, field),
            r => panic!("{field}: {r:?}"),
        }
    }
    // nothing of the refused ones was recorded
    assert_eq!(s.list().unwrap().len(), 4);
    // a default subnet is picked from the pools, clear of the others
    let auto = s.builder("auto").create().unwrap();
    let a = auto.subnet().unwrap();
    assert!(!a.overlaps(&n.subnet().unwrap()));
    assert!(!a.overlaps(&s.get("bridge").unwrap().subnet().unwrap()));
    assert_eq!(s.prune().unwrap(), ["auto", "backend"]);
    assert!(matches!(
        s.get("backend"),
        Err(Error::NetworkNotFound { .. })
    ));
}
