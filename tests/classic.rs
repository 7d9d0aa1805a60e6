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

fn netns_add(n: &str) {
    assert!(std::process::Command::new("ip")
        .args(["netns", "add", n])
        .status()
        .unwrap()
        .success());
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
