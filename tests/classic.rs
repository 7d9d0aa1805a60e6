//! The classic pipework command line, drop-in: same grammar, same kernel state as the original for
//! the forms this build supports (named namespaces as guests; containers are a separate tier).

mod common;
use common::*;

fn classic(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn two_guests_by_classic_argv() {
    let w = World::new("cl");
    let (a, b, br) = (w.ns("a"), w.ns("b"), w.classic_br());
    netns_add(&a);
    netns_add(&b);
    ok(&classic(&[
        &br,
        &a,
        "198.18.61.2/24@198.18.61.1",
        "U:myhost.foo.com",
    ]));
    ok(&classic(&[
        &br,
        "-i",
        "eth2",
        "-l",
        &format!("{}l", w.prefix),
        &format!("netns:{b}"),
        "198.18.61.3/24",
        "02:42:c6:12:3d:03",
    ]));
    // Names, MACs, addresses, routes, master — as the original produces them.
    let ea = link(Some(&a), "eth1").expect("eth1 in a");
    assert_eq!(ea["address"], "02:72:6c:cd:9b:8d", "U: MAC derivation");
    assert_eq!(global_addrs(Some(&a), "eth1"), vec!["198.18.61.2/24"]);
    let default = routes(&a)
        .into_iter()
        .find(|r| r["dst"] == "default")
        .expect("@gateway sets the default route");
    assert_eq!(default["gateway"], "198.18.61.1");
    assert_eq!(
        link(None, &format!("veth1pl{a}")).unwrap()["master"],
        br.as_str(),
        "classic host-side name"
    );
    assert_eq!(
        link(Some(&b), "eth2").unwrap()["address"],
        "02:42:c6:12:3d:03"
    );
    assert_eq!(
        link(None, &format!("{}l", w.prefix)).unwrap()["master"],
        br.as_str(),
        "-l names the host side"
    );
    assert!(ping(&a, "198.18.61.3"));
    // route passthrough runs inside the guest.
    ok(&classic(&[
        "route",
        &b,
        "add",
        "198.51.100.0/24",
        "via",
        "198.18.61.2",
    ]));
    assert!(routes(&b)
        .iter()
        .any(|r| r["dst"] == "198.51.100.0/24" && r["gateway"] == "198.18.61.2"));
    // Tearing one guest's things down keeps the bridge the other guest still uses.
    ok(&w.cmd(&["-e", &format!("down({a:?})")]));
    assert!(link(None, &br).is_some());
    assert!(ping(&b, "198.18.61.3") || global_addrs(Some(&b), "eth2") == vec!["198.18.61.3/24"]);
}

#[test]
fn classic_forms_without_address_and_ipv6() {
    let w = World::new("c6");
    let (a, br) = (w.ns("a"), w.classic_br());
    netns_add(&a);
    ok(&classic(&[&br, "-a", "6", &a, "fd00:62::2/64@fd00:62::1"]));
    assert!(global_addrs(Some(&a), "eth1").contains(&"fd00:62::2/64".to_string()));
    let r = ip_json(Some(&a), &["-6", "route", "show", "default"]);
    assert_eq!(r[0]["gateway"], "fd00:62::1", "{r}");
    ok(&classic(&[&br, "-i", "eth3", &a, "0/0"]));
    assert!(global_addrs(Some(&a), "eth3").is_empty());
    assert!(link(Some(&a), "eth3").unwrap()["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "UP"));
}

#[test]
fn classic_bad_input_is_explained_and_changes_nothing() {
    let w = World::new("cb");
    let (a, br) = (w.ns("a"), w.classic_br());
    netns_add(&a);
    let before = my_links(&w).len();
    for (args, want) in [
        (vec![br.as_str()], "Syntax"),
        (vec![br.as_str(), a.as_str()], "missing <guest>"),
        (
            vec![br.as_str(), a.as_str(), "198.18.63.2"],
            "maybe you meant 198.18.63.2/24",
        ),
        (
            vec![
                br.as_str(),
                a.as_str(),
                "198.18.63.2/24",
                "02:zz:00:00:00:01",
            ],
            "invalid MAC",
        ),
        (
            vec![
                br.as_str(),
                a.as_str(),
                "198.18.63.2/24",
                "02:00:00:00:00:01@10",
            ],
            "does not filter VLANs",
        ),
        (
            vec![br.as_str(), "nosuchguest-pw", "198.18.63.2/24"],
            "not found",
        ),
        (
            vec![
                br.as_str(),
                "-i",
                "averyveryverylongname",
                a.as_str(),
                "198.18.63.2/24",
            ],
            "15 bytes",
        ),
        (
            vec![br.as_str(), a.as_str(), "198.18.63.2/24@198.18.64.1"],
            "not inside any",
        ),
        (vec!["pid:999999999", "x"], "invalid interface name"),
        (
            vec![br.as_str(), "pid:999999999", "198.18.63.2/24"],
            "no such process",
        ),
    ] {
        let err = fails(&classic(&args));
        assert!(err.contains(want), "{args:?}: wanted {want:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(before, my_links(&w).len(), "nothing may be left behind");
    assert!(
        link(None, &br).is_none(),
        "the bridge of a failed attach is rolled back"
    );
    assert!(link(Some(&a), "eth1").is_none());
}

fn ip_ok(args: &[&str]) {
    assert!(
        std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap()
            .success(),
        "ip {args:?}"
    );
}

#[test]
fn classic_macvlan_and_direct_phys_on_test_interfaces() {
    // Stand-ins for physical NICs: veth pairs this test creates (never the machine's uplink).
    let w = World::new("cm");
    let (a, b, c, d) = (w.ns("a"), w.ns("b"), w.ns("c"), w.ns("d"));
    for n in [&a, &b, &c, &d] {
        netns_add(n);
    }
    let (p0, p1) = (format!("{}p0", w.prefix), format!("{}p1", w.prefix));
    ip_ok(&["link", "add", &p0, "type", "veth", "peer", "name", &p1]);
    ip_ok(&["link", "set", &p1, "up"]);
    // macvlan: two guests on one parent reach each other (bridge mode); the child is born in the
    // guest with the parent's MTU, and the parent was brought up like the original does.
    ok(&classic(&[&p0, &a, "198.18.17.2/24"]));
    ok(&classic(&[
        &p0,
        &format!("netns:{b}"),
        "198.18.17.3/24",
        "U:guest-b",
    ]));
    let ma = link(Some(&a), "eth1").expect("macvlan in a");
    assert_eq!(ma["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(ma["linkinfo"]["info_data"]["mode"], "bridge");
    assert!(ma["ifalias"]
        .as_str()
        .unwrap_or("")
        .starts_with("pipework owner="));
    assert!(link(None, &p0).unwrap()["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "UP"));
    assert!(ping(&a, "198.18.17.3"));
    // Re-running converges without a second interface.
    ok(&classic(&[&p0, &a, "198.18.17.2/24"]));
    assert_eq!(
        ip_json(Some(&a), &["link", "show"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // --direct-phys: the interface itself moves into the guest under the container name.
    ip_ok(&[
        "link",
        "add",
        &format!("{}q0", w.prefix),
        "type",
        "veth",
        "peer",
        "name",
        &format!("{}q1", w.prefix),
    ]);
    ip_ok(&["link", "set", &format!("{}q1", w.prefix), "netns", &d]);
    ip_ok(&[
        "-n",
        &d,
        "addr",
        "add",
        "198.18.18.1/24",
        "dev",
        &format!("{}q1", w.prefix),
    ]);
    ip_ok(&["-n", &d, "link", "set", &format!("{}q1", w.prefix), "up"]);
    ok(&classic(&[
        "--direct-phys",
        &format!("{}q0", w.prefix),
        &c,
        "198.18.18.2/24",
    ]));
    assert!(
        link(None, &format!("{}q0", w.prefix)).is_none(),
        "moved out of the host"
    );
    assert_eq!(global_addrs(Some(&c), "eth1"), vec!["198.18.18.2/24"]);
    assert!(ping(&c, "198.18.18.1"));
    // Errors: a missing parent, a VLAN with --direct-phys.
    let err = fails(&classic(&[
        &format!("{}zz", w.prefix),
        &a,
        "198.18.17.9/24",
    ]));
    assert!(err.contains("does not exist"), "{err}");
    let err = fails(&classic(&[
        "--direct-phys",
        &p1,
        &a,
        "198.18.17.9/24",
        "@5",
    ]));
    assert!(err.contains("cannot carry a VLAN"), "{err}");
    // IPoIB needs an InfiniBand parent (none exists on these machines): an Ethernet parent is
    // refused before anything is made, and so are a MAC or a VLAN for IPoIB. A hex `@tag` on an
    // Ethernet parent is read as a VLAN id and checked as one.
    let down_before = link(None, &p0).is_some();
    ip_ok(&["link", "set", &p0, "down"]);
    let err = fails(&w.eval(&format!(
        "ipoib(netns({a:?}), {p0:?}, #{{ip: \"198.18.17.9/24\", pkey: \"8001\"}})"
    )));
    assert!(err.contains("is not an InfiniBand interface"), "{err}");
    assert!(
        !link(None, &p0).unwrap()["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "UP"),
        "a refused parent must not even be brought up"
    );
    assert!(down_before && link(Some(&a), "ib0").is_none());
    let err = fails(&w.eval(&format!(
        "ipoib(netns({a:?}), {p0:?}, #{{mac: \"02:00:00:00:00:09\"}})"
    )));
    assert!(err.contains("20-byte"), "{err}");
    let err = fails(&w.eval(&format!("ipoib(netns({a:?}), {p0:?}, #{{pkey: \"8000\"}})")));
    assert!(err.contains("reserved"), "{err}");
    let err = fails(&classic(&[&p0, &a, "198.18.17.9/24", "@8001"]));
    assert!(err.contains("VLAN id") && err.contains("4094"), "{err}");
    assert!(link(None, &format!("{p0}.8001")).is_none());
}
