//! DHCP tier (root): dnsmasq serves leases inside a test namespace on a test bridge; pipework's
//! built-in client and the installed udhcpc/dhclient obtain them for other namespaces. Asserted by
//! kernel state, by traffic, by the guest's resolv.conf — and by the host's resolv.conf staying
//! exactly as it was.

mod common;
use common::*;

/// A bridge with a DHCP server namespace on it. Returns the server (kill on drop).
fn segment(w: &World, net: &str) -> (String, DhcpServer) {
    segment_with(w, net, &[])
}

/// The same, with extra dnsmasq options.
fn segment_with(w: &World, net: &str, dnsmasq: &[&str]) -> (String, DhcpServer) {
    let br = w.classic_br();
    let srv = w.ns("s");
    netns_add(&srv);
    ok(&w.cmd(&[&br, &format!("netns:{srv}"), &format!("{net}.1/24")]));
    (br, DhcpServer::start_with(w, &srv, net, dnsmasq))
}

fn in_range(addr: &str, net: &str) -> bool {
    in_hosts(addr, net, 50..=99)
}

/// `addr` is NET.H/24 with H in `hosts`.
fn in_hosts(addr: &str, net: &str, hosts: std::ops::RangeInclusive<u8>) -> bool {
    addr.strip_prefix(&format!("{net}."))
        .and_then(|r| r.strip_suffix("/24"))
        .and_then(|h| h.parse::<u8>().ok())
        .is_some_and(|h| hosts.contains(&h))
}

fn default_via(ns: &str) -> Option<String> {
    routes(ns)
        .iter()
        .find(|r| r["dst"] == "default")
        .and_then(|r| r["gateway"].as_str().map(String::from))
}

fn netns_resolv(ns: &str) -> String {
    std::fs::read_to_string(format!("/etc/netns/{ns}/resolv.conf")).unwrap_or_default()
}

fn running(pattern: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
        let cmd = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        // Zombies are gone in every way that matters (PID 1 here may not reap them).
        let zombie = stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z'));
        !zombie && String::from_utf8_lossy(&cmd).contains(pattern)
    })
}

#[test]
fn dhcp_classic_built_in_client() {
    let w = World::new("dh");
    let host_resolv = HostResolv::snapshot();
    let net = "198.18.210";
    let (br, _srv) = segment(&w, net);
    let c = w.ns("c");
    netns_add(&c);
    let out = w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]);
    ok(&out);
    let a = global_addrs(Some(&c), "eth1");
    assert!(
        a.len() == 1 && in_range(&a[0], net),
        "lease not applied: {a:?}"
    );
    assert_eq!(default_via(&c).as_deref(), Some("198.18.210.1"));
    let r = netns_resolv(&c);
    assert!(
        r.contains("nameserver 198.18.210.53"),
        "guest resolv.conf: {r}"
    );
    assert!(r.contains("search pipework.test"), "guest resolv.conf: {r}");
    assert!(
        ping(&c, "198.18.210.1"),
        "no traffic with the leased address"
    );
    // The server saw our name (option 12), like the original's `-x hostname:GUEST`.
    let log = std::fs::read_to_string(&_srv.log).unwrap();
    assert!(
        log.contains(&format!("DHCPACK(eth1) {}", a[0].trim_end_matches("/24"))),
        "{log}"
    );
    assert!(log.contains(&c), "hostname not sent: {log}");
    // Re-running converges: same lease, one address, exit 0.
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]));
    assert_eq!(global_addrs(Some(&c), "eth1"), a);
    host_resolv.assert_unchanged();
}

#[test]
fn dhcp_classic_installed_clients() {
    let w = World::new("dx");
    let host_resolv = HostResolv::snapshot();
    let net = "198.18.211";
    let (br, _srv) = segment(&w, net);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for (i, client) in ["udhcpc", "dhclient", "dhcpcd"].iter().enumerate() {
        let c = w.ns(&format!("c{i}"));
        netns_add(&c);
        let err =
            String::from_utf8_lossy(&ok_out(&w.cmd(&[&br, &format!("netns:{c}"), client])).stderr)
                .to_string();
        let a = global_addrs(Some(&c), "eth1");
        assert!(
            a.len() == 1 && in_range(&a[0], net),
            "{client}: {a:?} ({err})"
        );
        assert_eq!(default_via(&c).as_deref(), Some("198.18.211.1"), "{client}");
        assert!(
            netns_resolv(&c).contains("nameserver 198.18.211.53"),
            "{client}: {}",
            netns_resolv(&c)
        );
        // One-shot: nobody renews the lease, so the address must not expire with it (dhclient
        // installs it with the lease's lifetime).
        let info = ip_json(Some(&c), &["-4", "addr", "show", "dev", "eth1"]);
        let valid = &info[0]["addr_info"][0]["valid_life_time"];
        assert_eq!(valid.as_u64(), Some(u32::MAX as u64), "{client}: {info}");
        // One-shot: nothing keeps running behind the user's back.
        // This guest's client (other tests run dhclient at the same time; the -f form below shows
        // the pattern matches a running client).
        assert!(
            !running(&format!("{c}.eth1.{client}.pid")),
            "{client} left running"
        );
        host_resolv.assert_unchanged();
        assert_eq!(
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
            hostname,
            "{client} changed the host's name"
        );
    }
    // The keep-running form stays to renew, and the owner's teardown stops it.
    let c = w.ns("k");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "udhcpc-f"]));
    assert!(in_range(&global_addrs(Some(&c), "eth1")[0], net));
    let pattern = format!("{c}.eth1.udhcpc.pid");
    assert!(running(&pattern), "udhcpc-f must keep the client running");
    let owner = format!("netns:{c}");
    let down = ok(&w.cmd(&["-e", &format!("down({owner:?})")]));
    assert!(down.contains("udhcpc"), "{down}");
    for _ in 0..50 {
        if !running(&pattern) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!running(&pattern), "down() left the DHCP client running");
    // A kept client holds its namespace: deleted behind pipework's back, the namespace would live
    // on inside the client. The warden beside it stops the client (a named namespace has no
    // process to wait on: it looks every 2 s).
    let c = w.ns("g");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "udhcpc-f"]));
    let pattern = format!("{c}.eth1.udhcpc.pid");
    assert!(running(&pattern), "udhcpc-f must keep the client running");
    ip_ok(&["netns", "del", &c]);
    let t = std::time::Instant::now();
    while running(&pattern) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(6),
            "the client outlived its deleted namespace"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    host_resolv.assert_unchanged();
}

fn ok_out(o: &std::process::Output) -> &std::process::Output {
    ok(o);
    o
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !f() {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn dhcp_built_in_lease_is_renewed_until_down_or_the_guest_goes() {
    let w = World::new("dk");
    let net = "198.18.213";
    // Short renewal times so the test sees renewals within seconds (dnsmasq's shortest lease is 2 min).
    let (br, dhcpd) = segment_with(
        &w,
        net,
        &["--dhcp-option=option:T1,2", "--dhcp-option=option:T2,4"],
    );
    let c = w.ns("c");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]));
    // The keeper's command line: NUL-separated arguments naming its guest.
    let keeper = format!("\0guest=netns:{c}\0");
    let keeper_running = || running(&keeper);
    assert!(
        keeper_running(),
        "classic `dhcp` must keep the lease renewed"
    );
    let acks = || {
        std::fs::read_to_string(&dhcpd.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("DHCPACK") && l.ends_with(&c))
            .count()
    };
    wait_for("a renewal (second DHCPACK)", 10, || acks() >= 2);
    let lease = global_addrs(Some(&c), "eth1");
    assert_eq!(
        lease.len(),
        1,
        "renewal must keep exactly the one address: {lease:?}"
    );
    // Teardown stops it.
    ok(&w.cmd(&["-e", &format!("down({:?})", format!("netns:{c}"))]));
    wait_for("the keeper to stop after down()", 5, || !keeper_running());

    // A run that fails after dhcp() rolls back its keeper with everything else, at once.
    let f = w.ns("f");
    let err = fails(&w.script(
        "dhcp(veth(netns(params.f), bridge(params.br)).link); throw \"later step failed\";",
        &[&format!("f={f}"), &format!("br={br}")],
    ));
    assert!(
        err.contains("later step failed") && err.contains("rolled back"),
        "{err}"
    );
    assert!(
        !running(&format!("\0guest=netns:{f}\0")),
        "keeper outlived the rollback"
    );
    assert!(!netns_list().contains(&f));

    // A keeper whose guest disappears exits on its own and leaves no state behind.
    let d = w.ns("d");
    netns_add(&d);
    let out = ok(&w.script(
        "print(dhcp(veth(netns(params.d), bridge(params.br)).link).keeper);",
        &[&format!("d={d}"), &format!("br={br}")],
    ));
    let pidfile = out.trim().to_string();
    assert!(std::path::Path::new(&pidfile).exists(), "{out}");
    let k2 = format!("\0guest=netns:{d}\0");
    assert!(running(&k2));
    assert!(std::process::Command::new("ip")
        .args(["netns", "del", &d])
        .status()
        .unwrap()
        .success());
    wait_for("the keeper to notice its guest is gone", 10, || {
        !running(&k2)
    });
    assert!(
        !std::path::Path::new(&pidfile).exists(),
        "pid file left behind"
    );
}

#[test]
fn dhcp_in_a_recipe() {
    let w = World::new("dp");
    let host_resolv = HostResolv::snapshot();
    let net = "198.18.212";
    let (br, _srv) = segment(&w, net);
    let out = ok(&w.script(
        r#"
        let br = bridge(params.br);
        let a = dhcp(veth(netns(params.c1), br).link, #{timeout: "5s"});
        print(`builtin ${a.ip} ${a.router} ${a.dns[0]} ${a.lease}`);
        let b = dhcp(veth(netns(params.c2), br).link, #{client: "dhclient"});
        print(`dhclient ${b.ip}`);
        if !ping(netns(params.c1), b.ip.split("/")[0]) { throw "no traffic between the leased guests"; }
        "#,
        &[&format!("br={br}"), &format!("c1={}", w.ns("a")), &format!("c2={}", w.ns("b"))],
    ));
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words[0], "builtin", "{out}");
    assert!(in_range(words[1], net), "{out}");
    assert_eq!(
        &words[2..5],
        ["198.18.212.1", "198.18.212.53", "120"],
        "{out}"
    );
    assert!(in_range(words[6], net), "{out}");
    assert_eq!(
        global_addrs(Some(&w.ns("a")), "eth1"),
        vec![words[1].to_string()]
    );
    host_resolv.assert_unchanged();
}

#[test]
fn dhcp_host_route_lease_still_gets_its_default_route() {
    // Cloud-style /32 leases: the router is outside the leased subnet and needs an on-link route.
    let w = World::new("d32");
    let host_resolv = HostResolv::snapshot();
    let net = "198.18.214";
    let (br, _dhcpd) = segment_with(&w, net, &["--dhcp-option=option:netmask,255.255.255.255"]);
    let c = w.ns("c");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]));
    let a = global_addrs(Some(&c), "eth1");
    assert!(a.len() == 1 && a[0].ends_with("/32"), "{a:?}");
    let r = routes(&c);
    let default = r
        .iter()
        .find(|r| r["dst"] == "default")
        .unwrap_or_else(|| panic!("no default route: {r:?}"));
    assert_eq!(default["gateway"], "198.18.214.1");
    assert!(
        default["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "onlink")),
        "{default}"
    );
    assert!(
        ping(&c, "198.18.214.1"),
        "no traffic through the on-link router"
    );
    host_resolv.assert_unchanged();
}

#[test]
fn dhcp_no_server_times_out_and_rolls_back() {
    let w = World::new("dn");
    let host_resolv = HostResolv::snapshot();
    let br = w.classic_br();
    let c = w.ns("c");
    netns_add(&c);
    let start = std::time::Instant::now();
    let out = std::process::Command::new(bin())
        .args([&br, &format!("netns:{c}"), "dhcp"])
        .env("PIPEWORK_DHCP_TIMEOUT", "2s")
        .output()
        .unwrap();
    let err = fails(&out);
    assert!(err.contains("no DHCP server answered on eth1"), "{err}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(6),
        "timeout not honoured"
    );
    // Nothing half-configured: no guest end, no host end, no bridge we created for it.
    assert!(link(Some(&c), "eth1").is_none(), "guest end left behind");
    assert!(my_links(&w).is_empty(), "left behind: {:?}", my_links(&w));
    assert!(
        link(None, &br).is_none(),
        "the bridge created for the attach was left behind"
    );
    // Same for an installed client that finds nobody.
    let out = w.cmd(&[&br, &format!("netns:{c}"), "udhcpc:-t 1 -T 1"]);
    let err = fails(&out);
    assert!(err.contains("DHCP client udhcpc: found no lease"), "{err}");
    assert!(link(Some(&c), "eth1").is_none() && link(None, &br).is_none());
    host_resolv.assert_unchanged();
}

/// The keeper's refusal path: the server that leased is replaced by one that no longer gives that
/// address (another range, authoritative), so the renewal is refused (DHCPNAK); the keeper drops
/// the address, discovers again and applies the new lease — one address, from the new range.
#[test]
fn dhcp_keeper_rediscovers_after_a_nak() {
    let w = World::new("dr");
    let net = "198.18.214";
    let short = ["--dhcp-option=option:T1,2", "--dhcp-option=option:T2,4"];
    let (br, first) = segment_with(&w, net, &short);
    let c = w.ns("c");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]));
    let a = global_addrs(Some(&c), "eth1");
    assert!(a.len() == 1 && in_range(&a[0], net), "{a:?}");
    drop(first);
    let mut args = short.to_vec();
    args.push("--dhcp-authoritative");
    let second = DhcpServer::start_range(&w, &w.ns("s"), net, (150, 199), &args);
    let in_new = |a: &str| in_hosts(a, net, 150..=199);
    wait_for("a lease from the new range", 20, || {
        let now = global_addrs(Some(&c), "eth1");
        now.len() == 1 && in_new(&now[0])
    });
    let log = std::fs::read_to_string(&second.log).unwrap();
    assert!(
        log.contains("DHCPNAK"),
        "the renewal was never refused: {log}"
    );
    assert!(
        running(&format!("\0guest=netns:{c}\0")),
        "the keeper gave up"
    );
    assert_eq!(default_via(&c).as_deref(), Some("198.18.214.1"));
}

/// The built-in client's options from Rhai, each against its control: `gateway: false` installs
/// no default route, `dns: false` writes no resolv.conf, `hostname` is what the server sees,
/// `keep: false` leaves no keeper; the same lease without them does all three.
#[test]
fn dhcp_builtin_options_gateway_dns_hostname_keep() {
    let w = World::new("do");
    let net = "198.18.212";
    let (br, srv) = segment(&w, net);
    let (bare, full) = (w.ns("x"), w.ns("y"));
    ok(&w.eval(&format!(
        r#"dhcp(veth(netns("{bare}"), bridge("{br}")), #{{gateway: false, dns: false, hostname: "pwo-bare", keep: false}});
        dhcp(veth(netns("{full}"), bridge("{br}")), #{{hostname: "pwo-full"}});"#
    )));
    for ns in [&bare, &full] {
        let a = global_addrs(Some(ns), "eth1");
        assert!(a.len() == 1 && in_range(&a[0], net), "{ns}: {a:?}");
    }
    assert_eq!(default_via(&bare), None, "gateway: false");
    assert_eq!(default_via(&full).as_deref(), Some("198.18.212.1"));
    assert!(
        netns_resolv(&bare).is_empty(),
        "dns: false wrote {}",
        netns_resolv(&bare)
    );
    assert!(netns_resolv(&full).contains("nameserver 198.18.212.53"));
    let keeper = |ns: &str| running(&format!("guest=netns:{ns}\0"));
    assert!(!keeper(&bare), "keep: false left a keeper");
    assert!(keeper(&full), "the control keeps renewing");
    let log = std::fs::read_to_string(&srv.log).unwrap();
    assert!(
        log.contains("pwo-bare") && log.contains("pwo-full"),
        "{log}"
    );
}

/// The original's `dhcp:OPTS` forms keep their meaning with the built-in client: `-q` leases once
/// (no keeper left renewing), `-f` keeps renewing, `-x hostname:NAME` names the guest to the server.
#[test]
fn dhcp_classic_options_keep_the_originals_meaning() {
    let w = World::new("dq");
    let net = "198.18.211";
    let (br, srv) = segment(&w, net);
    let keeper_of = |g: &str| format!("/run/pipework/dhcp/netns:{g}/");
    let (once, kept) = (w.ns("q"), w.ns("f"));
    netns_add(&once);
    netns_add(&kept);
    ok(&w.cmd(&[&br, &format!("netns:{once}"), "dhcp:-q"]));
    let a = global_addrs(Some(&once), "eth1");
    assert!(a.len() == 1 && in_range(&a[0], net), "{a:?}");
    assert!(
        !running(&keeper_of(&once)),
        "dhcp:-q left a keeper renewing"
    );
    ok(&w.cmd(&[
        &br,
        &format!("netns:{kept}"),
        "dhcp:-f -x hostname:pwq-named",
    ]));
    let a = global_addrs(Some(&kept), "eth1");
    assert!(a.len() == 1 && in_range(&a[0], net), "{a:?}");
    assert!(running(&keeper_of(&kept)), "dhcp:-f must keep renewing");
    let log = std::fs::read_to_string(&srv.log).unwrap();
    assert!(log.contains("pwq-named"), "hostname not sent: {log}");
    // The control: without -q, the same plain form leaves a keeper (so -q made the difference).
    assert!(running(&keeper_of(&kept)));
}

#[test]
fn dhcp_bad_input_changes_nothing() {
    let w = World::new("db");
    let br = w.classic_br();
    let c = w.ns("c");
    netns_add(&c);
    for (arg, want) in [
        ("dhcp:-x", "needs a hostname:NAME"),
        ("dhcp:-O staticroutes", "use udhcpc:OPTS"),
        ("dhcpcd-f", "not a classic form"),
    ] {
        let err = fails(&w.cmd(&[&br, &format!("netns:{c}"), arg]));
        assert!(err.contains(want), "{arg}: {err}");
        assert!(link(None, &br).is_none(), "{arg} created the bridge");
        assert!(link(Some(&c), "eth1").is_none(), "{arg} left the guest end");
    }
    let err = fails(&w.eval(&format!(
        "dhcp(veth(netns({c:?}), bridge({br:?})).link, #{{timout: \"1s\"}})"
    )));
    assert!(err.contains("did you mean `timeout`"), "{err}");
    let err = fails(&w.eval(&format!(
        "dhcp(veth(netns({c:?}), bridge({br:?})).link, #{{client: \"udhcpc\", keep: true, dns: false}})"
    )));
    assert!(err.contains("is for the built-in client"), "{err}");
    // The attach made earlier in the same one-liner was rolled back with it.
    assert!(link(Some(&c), "eth1").is_none() && link(None, &br).is_none());
}

#[test]
fn dhcp_lab_example_runs_and_leaves_nothing() {
    let host_resolv = HostResolv::snapshot();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/dhcp-lab.rhai");
    let out = std::process::Command::new(bin())
        .args(["run", script, "guests=2"])
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("2 guests leased, every pair reaches each other"),
        "{text}"
    );
    assert!(text.contains("2 lease keepers"), "{text}");
    for ns in ["lab-srv", "lab-0", "lab-1"] {
        assert!(!netns_list().contains(&ns.to_string()), "{ns} left behind");
        assert!(
            !std::path::Path::new(&format!("/etc/netns/{ns}")).exists(),
            "/etc/netns/{ns} left behind"
        );
    }
    assert!(link(None, "br-dhcplab").is_none());
    assert!(!running("\0guest=netns:lab-"), "lease keepers left running");
    assert!(!running("dhcp-lab-dnsmasq.pid"), "dnsmasq left running");
    host_resolv.assert_unchanged();
}

/// A namespace's own /etc/netns/NAME/resolv.conf survives a lease: kept before the lease writes
/// over it, put back by down(owner) — for the built-in client and for an installed one (whose
/// script writes the file itself). The host's resolver is untouched throughout.
#[test]
fn dhcp_namespaces_own_resolv_conf_comes_back_at_teardown() {
    let w = World::new("rk");
    let host_resolv = HostResolv::snapshot();
    let net = "198.18.214";
    let (br, _srv) = segment(&w, net);
    for (i, how) in ["dhcp", "udhcpc"].iter().enumerate() {
        let c = w.ns(&format!("c{i}"));
        netns_add(&c);
        let dir = format!("/etc/netns/{c}");
        std::fs::create_dir_all(&dir).unwrap();
        let mine = format!("# the user's own, {how}\nnameserver 198.51.100.53\n");
        std::fs::write(format!("{dir}/resolv.conf"), &mine).unwrap();
        let owner = format!("{}o{i}", w.prefix);
        ok(&w.cmd(&[&br, &format!("netns:{c}"), "0/0"]));
        // A run that fails after its lease puts the user's file back with everything else.
        let failed = w.cmd(&[
            "-e",
            &format!(
                "owner({owner:?}); dhcp(link(netns({c:?}), \"eth1\"), #{{{}}}); throw \"later step failed\"",
                if *how == "dhcp" { String::new() } else { format!("client: {how:?}") }
            ),
        ]);
        fails(&failed);
        assert_eq!(
            netns_resolv(&c),
            mine,
            "{how}: a failed run left pipework's resolv.conf: {}",
            text(&failed)
        );
        assert!(
            !std::path::Path::new(&format!("{dir}/resolv.conf.pipework-kept")).exists(),
            "{how}: a failed run left the kept copy"
        );
        let lease = w.cmd(&[
            "-e",
            &format!(
                "owner({owner:?}); dhcp(link(netns({c:?}), \"eth1\"), #{{{}}})",
                if *how == "dhcp" {
                    String::new()
                } else {
                    format!("client: {how:?}")
                }
            ),
        ]);
        ok(&lease);
        assert!(
            String::from_utf8_lossy(&lease.stderr).contains("kept the namespace's own"),
            "{how}: {}",
            text(&lease)
        );
        let during = netns_resolv(&c);
        assert!(
            during.contains(&format!("nameserver {net}.53")),
            "{how}: {during}"
        );
        // A second lease must not take pipework's file for the user's.
        ok(&w.cmd(&[
            "-e",
            &format!("owner({owner:?}); dhcp(link(netns({c:?}), \"eth1\"), #{{keep: false}})"),
        ]));
        let down = w.cmd(&["-e", &format!("down({owner:?})")]);
        ok(&down);
        assert!(
            String::from_utf8_lossy(&down.stderr).contains("put back the namespace's own"),
            "{how}: {}",
            text(&down)
        );
        assert_eq!(
            netns_resolv(&c),
            mine,
            "{how}: the user's resolv.conf is not back"
        );
        assert!(
            !std::path::Path::new(&format!("{dir}/resolv.conf.pipework-kept")).exists(),
            "{how}: the kept copy is left behind"
        );
    }
    host_resolv.assert_unchanged();
}

/// A pid file names a process only if that process was started for it: down() stops a client whose
/// command line carries the pid file, and leaves alone a process that merely has the same name and
/// the recycled PID.
#[test]
fn teardown_stops_only_the_client_started_for_its_pid_file() {
    let w = World::new("pf");
    let owner = w.prefix.clone();
    let state = format!("/run/pipework/dhcp/{owner}");
    std::fs::create_dir_all(&state).unwrap();
    // Two processes called "udhcpc" (copies of sh): one started for its pid file, one not.
    let fake = w.dir().join("udhcpc");
    // Copied by cp, not by this process: a file this (multi-threaded) test process had open for
    // writing could leak into a sibling test's fork and make exec fail with ETXTBSY.
    assert!(std::process::Command::new("cp")
        .arg("/bin/sh")
        .arg(&fake)
        .status()
        .unwrap()
        .success());
    let ours_pf = format!("{state}/netns:{owner}x.eth1.udhcpc.pid");
    let stranger_pf = format!("{state}/netns:{owner}y.eth1.udhcpc.pid");
    let spawn = |zero: &str| {
        std::process::Command::new(&fake)
            .args(["-c", "while :; do sleep 1; done", zero])
            .spawn()
            .unwrap()
    };
    let mut ours = spawn(&ours_pf);
    let mut stranger = spawn("someone-elses");
    std::fs::write(&ours_pf, ours.id().to_string()).unwrap();
    std::fs::write(&stranger_pf, stranger.id().to_string()).unwrap();
    let down = w.cmd(&["-e", &format!("down({owner:?})")]);
    ok(&down);
    let alive = |c: &mut std::process::Child| c.try_wait().unwrap().is_none();
    let stranger_alive = alive(&mut stranger);
    let ours_alive = alive(&mut ours);
    let _ = stranger.kill();
    let _ = stranger.wait();
    let _ = ours.kill();
    let _ = ours.wait();
    assert!(stranger_alive, "down() killed a process it did not start");
    assert!(
        String::from_utf8_lossy(&down.stderr).contains("did not start"),
        "{}",
        text(&down)
    );
    assert!(!ours_alive, "down() did not stop the client it started");
    assert!(
        !std::path::Path::new(&state).exists(),
        "state dir left behind"
    );
}

/// The dhcp_lan recipe, on a Linux bridge and on OVS: the "uplink" is a veth whose far end is the
/// LAN (a namespace with dnsmasq); it joins the bridge, every guest leases from the LAN's server
/// and reaches it, a re-run keeps the leases, and the owner's teardown stops the keepers, takes
/// the uplink out of the bridge as it was, and removes the rest. The host resolver is untouched.
#[test]
fn recipes_dhcp_lan_guests_lease_from_the_lan() {
    let w = World::new("rdl");
    let host_resolv = HostResolv::snapshot();
    let (lan, uplink) = (w.ns("l"), format!("{}u", w.prefix));
    netns_add(&lan);
    ip_ok(&[
        "link", "add", &uplink, "type", "veth", "peer", "name", "eth1", "netns", &lan,
    ]);
    ip_ok(&["-n", &lan, "addr", "add", "198.18.56.1/24", "dev", "eth1"]);
    ip_ok(&["-n", &lan, "link", "set", "eth1", "up"]);
    let _srv = DhcpServer::start(&w, &lan, "198.18.56");
    let uplink_before = link(None, &uplink).unwrap();
    for (k, switch) in ["linux", "ovs"].iter().enumerate() {
        let br = if *switch == "ovs" {
            format!("ovs{}", w.prefix)
        } else {
            w.br()
        };
        let prefix = format!("{}{k}", w.prefix);
        let args = [
            "run".to_string(),
            "dhcp_lan".into(),
            "--owner".into(),
            w.prefix.clone(),
            format!("uplink={uplink}"),
            format!("switch={switch}"),
            format!("bridge={br}"),
            format!("prefix={prefix}"),
            "count=2".into(),
            "timeout=8s".into(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ok(&w.cmd(&args));
        assert!(
            out.contains("dhcp_lan: 2 guests leased from the LAN"),
            "{switch}: {out}"
        );
        let leased: Vec<Vec<String>> = (1..=2)
            .map(|i| global_addrs(Some(&format!("{prefix}{i}")), "eth1"))
            .collect();
        for a in &leased {
            assert!(
                a.len() == 1 && in_range(&a[0], "198.18.56"),
                "{switch}: {leased:?}"
            );
        }
        assert!(
            ping(&format!("{prefix}1"), "198.18.56.1"),
            "{switch}: guest -> LAN"
        );
        assert!(
            ping(
                &format!("{prefix}1"),
                leased[1][0].split('/').next().unwrap()
            ),
            "{switch}: guest -> guest"
        );
        if *switch == "linux" {
            let up = link(None, &uplink).unwrap();
            assert_eq!(up["master"].as_str(), Some(br.as_str()), "{up}");
        }
        ok(&w.cmd(&args));
        let again: Vec<Vec<String>> = (1..=2)
            .map(|i| global_addrs(Some(&format!("{prefix}{i}")), "eth1"))
            .collect();
        assert_eq!(leased, again, "{switch}: a re-run changed the leases");

        let down = ok(&w.cmd(&["down", &w.prefix]));
        assert!(down.contains("removed dhcp clients"), "{switch}: {down}");
        let up = link(None, &uplink).expect("the uplink is not ours to delete");
        assert_eq!(
            up["master"],
            serde_json::Value::Null,
            "{switch}: still enslaved: {up}"
        );
        assert_eq!(
            up["operstate"], uplink_before["operstate"],
            "{switch}: {up}"
        );
        assert!(link(None, &br).is_none(), "{switch}: bridge left");
        assert!(
            !netns_list().iter().any(|n| n.starts_with(&prefix)),
            "{switch}"
        );
        if *switch == "ovs" {
            assert!(!vsctl(&["list-br"]).lines().any(|b| b == br));
        }
    }
    host_resolv.assert_unchanged();
    let _ = std::process::Command::new("ip")
        .args(["link", "del", &uplink])
        .status();
}

/// `dhcp(l, #{client, args})`: the arguments reach the installed client (what the server saw
/// proves it: udhcpc's `-V` vendor class, logged by dnsmasq); the control leases the same way
/// without them, and the server sees no such class from it.
#[test]
fn dhcp_installed_client_takes_args_from_rhai() {
    let w = World::new("dg");
    let net = "198.18.213";
    let (br, srv) = segment_with(&w, net, &["--log-dhcp"]);
    let (with, without) = (w.ns("w"), w.ns("o"));
    ok(&w.eval(&format!(
        r#"dhcp(veth(netns("{with}"), bridge("{br}")), #{{client: "udhcpc", keep: false, args: ["-V", "pwo-vendor-x"]}});
        dhcp(veth(netns("{without}"), bridge("{br}")), #{{client: "udhcpc", keep: false}});"#
    )));
    for ns in [&with, &without] {
        let a = global_addrs(Some(ns), "eth1");
        assert!(a.len() == 1 && in_range(&a[0], net), "{ns}: {a:?}");
    }
    // dnsmasq --log-dhcp: "<xid> vendor class: X" and "<xid> DHCPACK(eth1) IP MAC NAME".
    let log = std::fs::read_to_string(&srv.log).unwrap();
    let class_of = |ns: &str| -> Option<String> {
        let mac = link(Some(ns), "eth1").expect("eth1")["address"]
            .as_str()
            .unwrap()
            .to_string();
        let ack = log
            .lines()
            .find(|l| l.contains("DHCPACK") && l.contains(&mac))?;
        let xid = ack
            .split("]: ")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_string();
        log.lines()
            .find_map(|l| l.split(&format!("{xid} vendor class: ")).nth(1))
            .map(String::from)
    };
    assert_eq!(class_of(&with).as_deref(), Some("pwo-vendor-x"), "{log}");
    let control = class_of(&without).unwrap_or_else(|| panic!("control: no class logged: {log}"));
    assert!(control.starts_with("udhcp"), "{control}\n{log}");
}

/// The keeper's expiry path: the server that leased goes away, so every renewal goes unanswered.
/// The keeper keeps the address until the lease runs out (dnsmasq's shortest lease: 120 s), then
/// drops it and keeps discovering until a server answers again. (A server that knows the subnet
/// would refuse the renewal instead: that path is `dhcp_keeper_rediscovers_after_a_nak`.) Slow by
/// nature: the lease must expire.
#[test]
fn dhcp_keeper_rediscovers_after_its_lease_expires() {
    let w = World::new("de");
    let net = "198.18.215";
    let short = ["--dhcp-option=option:T1,2", "--dhcp-option=option:T2,4"];
    let (br, first) = segment_with(&w, net, &short);
    let c = w.ns("c");
    netns_add(&c);
    ok(&w.cmd(&[&br, &format!("netns:{c}"), "dhcp"]));
    let leased = std::time::Instant::now();
    let a = global_addrs(Some(&c), "eth1");
    assert!(a.len() == 1 && in_range(&a[0], net), "{a:?}");
    drop(first);
    // Renewals go unanswered well past T1 and T2: the address stays meanwhile …
    std::thread::sleep(std::time::Duration::from_secs(10));
    assert_eq!(
        global_addrs(Some(&c), "eth1"),
        a,
        "dropped before the lease ran out"
    );
    // … until the lease runs out, and not much longer.
    wait_for("the expired address to go", 150, || {
        global_addrs(Some(&c), "eth1").is_empty()
    });
    let took = leased.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(115),
        "dropped after {took:?}: before the 120 s lease could have run out"
    );
    assert!(
        running(&format!("\0guest=netns:{c}\0")),
        "the keeper gave up"
    );
    // A server again: the keeper, still discovering, takes a lease from it.
    let second = DhcpServer::start_range(&w, &w.ns("s"), net, (150, 199), &short);
    let in_new = |a: &str| in_hosts(a, net, 150..=199);
    wait_for("a lease from the new server", 30, || {
        let now = global_addrs(Some(&c), "eth1");
        now.len() == 1 && in_new(&now[0])
    });
    let log = std::fs::read_to_string(&second.log).unwrap();
    assert!(
        log.contains("DHCPDISCOVER") && !log.contains("DHCPNAK"),
        "{log}"
    );
    assert_eq!(default_via(&c).as_deref(), Some("198.18.215.1"));
}
