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
    // The rule steers traffic (the kernel's own route lookup, an independent witness): a packet
    // from the subnet is routed by table 100. A rule without its lookup action matches and then
    // fails every lookup (EINVAL), which a read-back of the rule alone does not show.
    for cmd in [
        &[
            "link", "add", "name", "va", "type", "veth", "peer", "name", "vb",
        ][..],
        &["link", "set", "va", "up"],
        &["link", "set", "vb", "up"],
        &["addr", "add", "198.18.133.5/24", "dev", "va"],
        &[
            "route",
            "add",
            "198.51.100.0/24",
            "dev",
            "va",
            "table",
            "100",
        ],
    ] {
        let mut v = vec!["-n", a.as_str()];
        v.extend_from_slice(cmd);
        ip_ok(&v);
    }
    let got = ip_json(
        Some(&a),
        &["route", "get", "198.51.100.9", "from", "198.18.133.5"],
    );
    assert_eq!(got[0]["table"], "100", "{got}");
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

/// Removes a file on every way out of a test.
struct RemoveOnDrop(std::path::PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// One way to read the API: the readers (routes of any table, rules, qdisc) answer in the form
/// the writers take, named tables resolve through rt_tables as iproute2 does, `U:` MACs and a
/// bridge named by a string work in Rhai as in classic argv, and `gateway` means the router.
#[test]
fn api_readers_answer_in_the_writers_forms() {
    let w = World::new("rd");
    let (a, b, br) = (w.ns("a"), w.ns("b"), w.br());
    // A table name of the admin's, in the drop-in directory iproute2 reads.
    let name = format!("t{}", w.ns("x").replace('-', ""));
    let conf = std::path::PathBuf::from(format!("/etc/iproute2/rt_tables.d/{name}.conf"));
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    std::fs::write(&conf, format!("4321 {name}\n")).unwrap();
    let _conf = RemoveOnDrop(conf);
    let out = ok(&w.eval(&format!(
        r#"let ga = netns("{a}");
        bridge("{br}");
        let at = veth(ga, "{br}", #{{ip: "198.18.139.2/24", mac: "U:web.example", gateway: false}});
        veth(netns("{b}"), "{br}", #{{ip: "198.18.139.3/24"}});
        route(ga, "add 198.51.100.0/24 via 198.18.139.1 table {name}");
        route(ga, #{{to: "198.51.100.128/25", via: "198.18.139.1", table: "{name}"}});
        rule(ga, "add from 198.18.139.0/24 table {name} priority 150");
        tc(at.host_link, #{{rate: "10mbit", latency: "40ms"}});
        print(routes(ga, "{name}"));
        print(routes(ga, 4321).len());
        print(rules(ga));
        let q = qdisc(at.host_link);
        print(q);
        tc(at.host_link, q);
        print(qdisc(at.host_link) == q);
        tc(at.host_link, #{{}});
        print(qdisc(at.host_link).kind);
        print(routes(ga).filter(|r| r.starts_with("default")).len());"#
    )));
    let lines: Vec<&str> = out.lines().collect();
    // The kernel (iproute2, an independent witness) has the routes in table 4321.
    let t = ip_json(Some(&a), &["route", "show", "table", "4321"]);
    let dsts: Vec<&str> = t
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["dst"].as_str())
        .collect();
    assert_eq!(dsts, ["198.51.100.0/24", "198.51.100.128/25"], "{t}");
    assert!(
        lines[0].contains(&format!(
            "198.51.100.0/24 via 198.18.139.1 dev eth1 table {name}"
        )),
        "{out}"
    );
    assert_eq!(lines[1], "2", "{out}");
    let rules = ip_json(Some(&a), &["rule", "show"]);
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["priority"] == 150 && r["table"] == name),
        "{rules}"
    );
    assert!(
        lines[2].contains(&format!("from 198.18.139.0/24 table {name} priority 150")),
        "{out}"
    );
    assert!(lines[2].contains("table main priority 32766"), "{out}");
    // The tbf read back with the keys tc() takes; tc(l, qdisc(l)) changes nothing.
    for want in [
        r#""kind": "tbf""#,
        r#""rate": "10mbit""#,
        r#""latency": "40ms""#,
    ] {
        assert!(lines[3].contains(want), "{out}");
    }
    assert_eq!(lines[4], "true", "{out}");
    assert_eq!(lines[5], "noqueue", "a veth's default qdisc is back: {out}");
    // gateway: false is no default route.
    assert_eq!(lines[6], "0", "no default route: {out}");
    // U:web.example is the MAC the original derives: 02 + md5("web.example\n")[..5].
    let md5 = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"web.example\n")?;
            c.wait_with_output()
        })
        .unwrap();
    let hex = String::from_utf8_lossy(&md5.stdout);
    let want: Vec<String> = (0..5).map(|i| hex[i * 2..i * 2 + 2].to_string()).collect();
    assert_eq!(mac_of(&a, "eth1"), format!("02:{}", want.join(":")));
    // The second guest reached the same bridge by its name: traffic between them.
    assert!(ping(&a, "198.18.139.3"));
    // A name that is no bridge is refused with the way out; `gateway: true` outside dhcp() too.
    let e = fails(&w.eval(&format!(r#"veth(netns("{a}"), "lo", #{{ifname: "eth9"}})"#)));
    assert!(
        e.contains("lo is not a bridge") && e.contains("macvlan"),
        "{e}"
    );
    let e = fails(&w.eval(&format!(
        r#"veth(netns("{a}"), bridge("{br}"), #{{ifname: "eth9", gateway: true}})"#
    )));
    assert!(e.contains("only dhcp() has"), "{e}");
    assert!(link(Some(&a), "eth9").is_none(), "nothing half-made");
    let e = fails(&w.eval(&format!(r#"routes(netns("{a}"), "nosuchtable{name}")"#)));
    assert!(e.contains("rt_tables"), "{e}");
}

/// `arp(link)` itself: a neighbour's stale entry is corrected by the announcement and by nothing
/// else. The control: the MAC changes with the kernel's own announcement switched off, and the
/// neighbour keeps the old MAC until arp() speaks.
#[test]
fn api_arp_announces_a_changed_mac_to_neighbours() {
    let w = World::new("ap");
    let (a, b, br) = (w.ns("a"), w.ns("b"), w.br());
    ok(&w.eval(&format!(
        r#"let br = bridge("{br}");
        veth(netns("{a}"), br, #{{ip: "198.18.141.2/24", mac: "02:00:00:14:01:01"}});
        veth(netns("{b}"), br, #{{ip: "198.18.141.3/24"}});"#
    )));
    let neigh = || {
        let n = ip_json(Some(&b), &["neigh", "show", "198.18.141.2"]);
        n.as_array()
            .and_then(|a| a.first())
            .and_then(|e| e["lladdr"].as_str())
            .map(str::to_string)
    };
    assert!(ping(&b, "198.18.141.2"));
    assert_eq!(neigh().as_deref(), Some("02:00:00:14:01:01"));
    // No announcement of its own when the MAC changes (pipework turns arp_notify on for its links).
    let sysctl = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a,
            "sysctl",
            "-qw",
            "net.ipv4.conf.eth1.arp_notify=0",
        ])
        .status()
        .unwrap();
    assert!(sysctl.success());
    ip_ok(&[
        "-n",
        &a,
        "link",
        "set",
        "dev",
        "eth1",
        "address",
        "02:00:00:14:01:02",
    ]);
    // Past the neighbour table's lock time (1 s), so an announcement would be taken.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(
        neigh().as_deref(),
        Some("02:00:00:14:01:01"),
        "control: nothing told b of the new MAC yet"
    );
    let out = ok(&w.eval(&format!(r#"print(arp(link(netns("{a}"), "eth1")))"#)));
    assert_eq!(out.trim(), "1", "one IPv4 address announced");
    let mut seen = None;
    for _ in 0..50 {
        seen = neigh();
        if seen.as_deref() == Some("02:00:00:14:01:02") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        seen.as_deref(),
        Some("02:00:00:14:01:02"),
        "b learnt the new MAC from arp()"
    );
}

/// `gre()` refuses what it cannot build before it makes anything: no key, a key out of range, a
/// UDP port (that is vxlan's), a local address of the other family; each says which, and the
/// bridge the script made first is rolled back. On this host (no gretap in the kernel) a valid
/// request fails at the kernel, says so, and also leaves nothing (the kernel tier carries traffic).
#[test]
fn api_gre_refuses_bad_options_and_leaves_nothing() {
    let w = World::new("gr");
    let br = w.br();
    for (opts, says) in [
        (r#"#{remote: "198.51.100.2"}"#, "key"),
        (r#"#{key: -1, remote: "198.51.100.2"}"#, "must be a GRE key"),
        (
            r#"#{key: 5, remote: "198.51.100.2", port: 4789}"#,
            "no port",
        ),
        (r#"#{key: 5}"#, "remote"),
        (
            r#"#{key: 5, remote: "198.51.100.2", local: "fd00::1"}"#,
            "family",
        ),
        (
            r#"#{key: 5, remote: "198.51.100.2"}"#,
            "the running kernel lacks this feature",
        ),
    ] {
        let err = fails(&w.eval(&format!(r#"gre(bridge("{br}"), {opts})"#)));
        assert!(err.contains(says), "{opts}: {err}");
        assert!(link(None, &br).is_none(), "{opts}: the bridge stayed");
        assert!(link(None, "gt5").is_none(), "{opts}: a tunnel stayed");
    }
}
