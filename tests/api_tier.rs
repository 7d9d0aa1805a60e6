//! API tier (root): the documented Rhai functions that had no live test, each driven from a
//! script and read back with iproute2 (an independent witness), each named for its feature.

mod common;
use common::*;
use std::process::Command;

fn mac_of(ns: &str, ifname: &str) -> String {
    link(Some(ns), ifname).expect("link")["address"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn api_set_mac_rename_move_to_and_addr_del() {
    let w = World::new("am");
    let (a, b, br) = (w.ns("a"), w.ns("b"), w.br());
    netns_add(&b);
    ok(&w.eval(&format!(
        r#"let l = veth(netns("{a}"), bridge("{br}"), #{{ip: ["198.18.130.2/24", "198.18.131.2/24"]}}).link;
        set_mac(l, "02:00:00:13:00:02");
        addr_del(l, "198.18.131.2/24");
        set_down(l);
        let r = rename(l, "lan0");
        move_to(r, netns("{b}"));"#
    )));
    // Moved, renamed, its MAC set, one address left; it arrives down in b.
    assert!(link(Some(&a), "eth1").is_none() && link(Some(&a), "lan0").is_none());
    let l = link(Some(&b), "lan0").expect("lan0 in b");
    assert_eq!(l["address"], "02:00:00:13:00:02");
    assert!(
        !l["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{l}"
    );
    // The kernel drops addresses when a link changes namespace: none of a's came along.
    assert!(global_addrs(Some(&b), "lan0").is_empty());
    ok(&w.eval(&format!(
        r#"let l = link(netns("{b}"), "lan0"); addr(l, "198.18.130.9/24"); set_up(l);"#
    )));
    assert_eq!(global_addrs(Some(&b), "lan0"), ["198.18.130.9/24"]);
    assert!(link(Some(&b), "lan0").unwrap()["flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "UP"));
    // The control for addr_del: before the move, a fresh pair keeps both addresses without it.
    ok(&w.eval(&format!(
        r#"veth(netns("{a}"), bridge("{br}"), #{{ifname: "eth2", ip: ["198.18.130.3/24", "198.18.131.3/24"]}});"#
    )));
    assert_eq!(
        global_addrs(Some(&a), "eth2"),
        ["198.18.130.3/24", "198.18.131.3/24"]
    );
    assert_ne!(mac_of(&a, "eth2"), "02:00:00:13:00:02");
}

#[test]
fn api_three_argument_addr_and_delete_of_a_guest() {
    let w = World::new("ad");
    let (a, br) = (w.ns("a"), w.br());
    ok(&w.eval(&format!(
        r#"let g = netns("{a}"); veth(g, bridge("{br}"), #{{}}); addr(g, "eth1", "198.18.132.2/24");"#
    )));
    assert_eq!(global_addrs(Some(&a), "eth1"), ["198.18.132.2/24"]);
    // Re-adding says false and changes nothing.
    let out = ok(&w.eval(&format!(r#"addr(netns("{a}"), "eth1", "198.18.132.2/24")"#)));
    assert_eq!(out.trim(), "false");
    ok(&w.eval(&format!(r#"delete(netns("{a}"))"#)));
    assert!(
        !netns_list().contains(&a),
        "delete(guest) left the namespace"
    );
}

#[test]
fn api_rule_from_rhai_adds_and_deletes_a_policy_rule() {
    let w = World::new("ar");
    let a = w.ns("a");
    netns_add(&a);
    let rules = || {
        ip_json(Some(&a), &["rule", "show"])
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let ours = |r: &serde_json::Value| r["priority"] == 100 && r["table"] == "100";
    assert!(
        !rules().iter().any(ours),
        "the control: no such rule before"
    );
    let out = ok(&w.eval(&format!(
        r#"rule(guest("netns:{a}"), "add from 198.18.133.0/24 table 100 priority 100")"#
    )));
    assert_eq!(out.trim(), "true");
    let r = rules();
    let mine = r.iter().find(|r| ours(r)).expect("rule");
    assert_eq!(mine["src"], "198.18.133.0");
    assert_eq!(mine["srclen"], 24);
    let again = ok(&w.eval(&format!(
        r#"rule(guest("netns:{a}"), "add from 198.18.133.0/24 table 100 priority 100")"#
    )));
    assert_eq!(again.trim(), "false", "a re-run adds no second rule");
    ok(&w.eval(&format!(
        r#"rule(guest("netns:{a}"), "del from 198.18.133.0/24 table 100 priority 100")"#
    )));
    assert!(!rules().iter().any(ours));
}

#[test]
fn api_route_with_src_onlink_and_op() {
    let w = World::new("at");
    let (a, br) = (w.ns("a"), w.br());
    ok(&w.eval(&format!(
        r#"let g = netns("{a}");
        veth(g, bridge("{br}"), #{{ip: ["198.18.134.2/24", "198.18.134.3/24"]}});
        route(g, #{{to: "198.51.100.0/24", via: "198.18.134.1", src: "198.18.134.3", metric: 7}});
        route(g, #{{to: "198.51.100.128/25", via: "198.18.200.1", dev: "eth1", onlink: true}});"#
    )));
    let rs = routes(&a);
    let find = |dst: &str| rs.iter().find(|r| r["dst"] == dst).cloned();
    let r = find("198.51.100.0/24").expect("src route");
    assert_eq!(r["prefsrc"], "198.18.134.3");
    assert_eq!(r["metric"], 7);
    let o = find("198.51.100.128/25").expect("onlink route");
    assert_eq!(o["gateway"], "198.18.200.1");
    assert!(
        o["flags"].as_array().unwrap().iter().any(|f| f == "onlink"),
        "{o}"
    );
    // op: replace changes the route in place, del removes it.
    ok(&w.eval(&format!(
        r#"route(netns("{a}"), #{{op: "replace", to: "198.51.100.0/24", via: "198.18.134.9", metric: 7}});"#
    )));
    let r = routes(&a);
    let r = r.iter().find(|r| r["dst"] == "198.51.100.0/24").unwrap();
    assert_eq!(r["gateway"], "198.18.134.9");
    ok(&w.eval(&format!(
        r#"route(netns("{a}"), #{{op: "del", to: "198.51.100.0/24", metric: 7}});"#
    )));
    assert!(!routes(&a).iter().any(|r| r["dst"] == "198.51.100.0/24"));
}

#[test]
fn api_guest_host_and_pid_from_rhai() {
    let w = World::new("ag");
    let (n, br) = (w.ns("n"), w.br());
    netns_add(&n);
    // A process in the namespace: pid:N names the namespace it is in.
    let mut sleeper = Command::new("ip")
        .args(["netns", "exec", &n, "sleep", "60"])
        .spawn()
        .unwrap();
    let pid = sleeper.id();
    // Until `ip netns exec` has entered the namespace (the same inode as its mount), not a delay.
    use std::os::unix::fs::MetadataExt;
    let want = std::fs::metadata(format!("/run/netns/{n}")).unwrap().ino();
    let t = std::time::Instant::now();
    while std::fs::metadata(format!("/proc/{pid}/ns/net"))
        .map(|m| m.ino())
        .ok()
        != Some(want)
    {
        assert!(t.elapsed().as_secs() < 5, "sleep never entered {n}");
        std::thread::yield_now();
    }
    let out = w.eval(&format!(
        r#"let h = guest("host"); let lo = exec(h, ["cat", "/proc/self/net/dev"]);
        if lo.code != 0 {{ throw "host exec"; }}
        veth(guest("pid:{pid}"), bridge("{br}"), #{{ip: "198.18.135.2/24"}});"#
    ));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    ok(&out);
    assert_eq!(global_addrs(Some(&n), "eth1"), ["198.18.135.2/24"]);
    // The host is no guest of a veth: refused, naming it.
    let err = fails(&w.eval(&format!(r#"veth(guest("host"), bridge("{br}"), #{{}})"#)));
    assert!(err.contains("host"), "{err}");
}

#[test]
fn api_run_keep_leaves_what_a_failed_run_made() {
    let w = World::new("ak");
    let (a, br) = (w.ns("a"), w.br());
    let src = format!(
        "veth(netns(\"{a}\"), bridge(\"{br}\"), #{{ip: \"198.18.136.2/24\"}});\nthrow \"stop here\";\n"
    );
    // Without --keep the failed run is rolled back (the control)…
    let err = fails(&w.script(&src, &[]));
    assert!(
        err.contains("stop here") && err.contains("rolled back"),
        "{err}"
    );
    assert!(!netns_list().contains(&a) && link(None, &br).is_none());
    // …with it, what it made stays, for a look at what went wrong, until down.
    let err = fails(&w.script(&src, &["--keep"]));
    assert!(
        err.contains("--keep: leaving what the run created in place"),
        "{err}"
    );
    assert_eq!(global_addrs(Some(&a), "eth1"), ["198.18.136.2/24"]);
    assert!(link(None, &br).is_some());
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(!netns_list().contains(&a) && link(None, &br).is_none());
}

#[test]
fn api_verbose_logs_every_netlink_operation() {
    let w = World::new("av");
    let (a, br) = (w.ns("a"), w.br());
    let out = w.cmd(&[
        "-v",
        "-e",
        &format!(
            r#"owner("{}"); veth(netns("{a}"), bridge("{br}"), #{{ip: "198.18.137.2/24"}})"#,
            w.prefix
        ),
    ]);
    ok(&out);
    let log = String::from_utf8_lossy(&out.stderr);
    for op in ["create veth", "add address 198.18.137.2/24", "ms "] {
        assert!(log.contains(op), "-v did not log {op:?}: {log}");
    }
    // The control: without -v, none of it.
    let quiet = w.cmd(&[
        "-e",
        &format!(
            r#"owner("{}"); veth(netns("{a}"), bridge("{br}"), #{{ip: "198.18.137.2/24"}})"#,
            w.prefix
        ),
    ]);
    ok(&quiet);
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("netlink"));
}
