//! Container tier: a real dockerd (started by tests/docker/setup.sh, which run-all.sh calls) and
//! busybox containers with --net=none. Classic command lines and Rhai's container() plumb into them.

mod common;
use common::*;
use std::process::Command;

fn classic(args: &[&str]) -> std::process::Output {
    Command::new(bin()).args(args).output().unwrap()
}

#[test]
fn containers_classic_argv() {
    let w = World::new("dk");
    let mut cs = Containers(vec![]);
    let (a, b) = (format!("{}a", w.prefix), format!("{}b", w.prefix));
    let pa = cs.start(&a);
    cs.start(&b);
    let br = w.classic_br();
    let t = std::time::Instant::now();
    ok(&classic(&[
        &br,
        &a,
        "198.18.80.2/24@198.18.80.1",
        "U:myhost.foo.com",
    ]));
    let one_attach = t.elapsed();
    ok(&classic(&[&br, &b, "198.18.80.3/24", "02:42:c6:12:50:03"]));
    ok(&classic(&[&br, "-i", "eth2", &a, "0/0"]));
    // Kernel state inside the container, as the original produces it.
    let ia =
        String::from_utf8_lossy(&dexec(&a, &["ip", "addr", "show", "eth1"]).stdout).to_string();
    assert!(
        ia.contains("02:72:6c:cd:9b:8d") && ia.contains("198.18.80.2/24"),
        "{ia}"
    );
    let ra = String::from_utf8_lossy(&dexec(&a, &["ip", "route"]).stdout).to_string();
    assert!(ra.contains("default via 198.18.80.1 dev eth1"), "{ra}");
    assert!(
        String::from_utf8_lossy(&dexec(&b, &["ip", "link", "show", "eth1"]).stdout)
            .contains("02:42:c6:12:50:03")
    );
    let e2 =
        String::from_utf8_lossy(&dexec(&a, &["ip", "addr", "show", "eth2"]).stdout).to_string();
    assert!(
        e2.contains("UP") && !e2.contains("inet "),
        "0/0: up without address: {e2}"
    );
    // Host side: the original's name v<cif>pl<PID>, on the bridge.
    assert_eq!(
        link(None, &format!("veth1pl{pa}")).expect("host end")["master"],
        br.as_str()
    );
    // Traffic between the containers.
    assert!(dexec(&a, &["ping", "-c", "1", "-W", "2", "198.18.80.3"])
        .status
        .success());
    // route passthrough runs inside the container.
    ok(&classic(&[
        "route",
        &b,
        "add",
        "198.51.100.0/24",
        "via",
        "198.18.80.2",
    ]));
    let rb = String::from_utf8_lossy(&dexec(&b, &["ip", "route"]).stdout).to_string();
    assert!(rb.contains("198.51.100.0/24 via 198.18.80.2"), "{rb}");
    // rule passthrough: a policy rule inside the container; re-adding it is a no-op.
    for _ in 0..2 {
        ok(&classic(&[
            "rule",
            &b,
            "add",
            "from",
            "198.18.80.0/24",
            "table",
            "100",
            "priority",
            "100",
        ]));
    }
    let rules = String::from_utf8_lossy(&dexec(&b, &["ip", "rule"]).stdout).to_string();
    assert_eq!(
        rules.matches("from 198.18.80.0/24 lookup 100").count(),
        1,
        "{rules}"
    );
    ok(&classic(&[
        "rule",
        &b,
        "del",
        "from",
        "198.18.80.0/24",
        "table",
        "100",
        "priority",
        "100",
    ]));
    assert!(!String::from_utf8_lossy(&dexec(&b, &["ip", "rule"]).stdout).contains("lookup 100"));
    // tc passthrough reaches the kernel inside the container (this host kernel has no netem, which
    // the message says; the full-kernel tier checks the delay itself).
    let err = fails(&classic(&[
        "tc", &b, "qdisc", "add", "dev", "eth1", "root", "netem", "delay", "10ms",
    ]));
    assert!(err.contains("no sch_netem"), "{err}");
    // A qdisc pipework does not plumb itself runs through the real tc inside the container, as
    // the original did, and says so.
    let out = classic(&[
        "tc", &b, "qdisc", "add", "dev", "eth1", "root", "handle", "1:", "htb",
    ]);
    ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ran `tc qdisc add dev eth1 root handle 1: htb` inside"),
        "{}",
        text(&out)
    );
    let pb = pid_of(&b).to_string();
    let q = std::process::Command::new("nsenter")
        .args(["-t", &pb, "-n", "tc", "qdisc", "show", "dev", "eth1"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&q.stdout).contains("qdisc htb 1: root"),
        "{}",
        text(&q)
    );
    // tbf exists on this kernel: a rate limit passes through into the container's namespace.
    ok(&classic(&[
        "tc", &b, "qdisc", "replace", "dev", "eth1", "root", "tbf", "rate", "1mbit", "burst",
        "32kbit", "latency", "400ms",
    ]));
    let q = std::process::Command::new("nsenter")
        .args(["-t", &pb, "-n", "tc", "qdisc", "show", "dev", "eth1"])
        .output()
        .unwrap();
    let q = String::from_utf8_lossy(&q.stdout).to_string();
    assert!(q.contains("tbf") && q.contains("rate 1Mbit"), "{q}");
    assert!(
        one_attach.as_millis() < 500,
        "classic attach into a container took {one_attach:?}"
    );
    // Teardown by owner (the container name) removes its ports; the bridge stays while b uses it.
    ok(&w.cmd(&["-e", &format!("down({a:?})")]));
    assert!(link(None, &format!("veth1pl{pa}")).is_none());
    assert!(link(None, &br).is_some());
}

#[test]
fn containers_in_rhai_and_gratuitous_arp() {
    let w = World::new("dr");
    let mut cs = Containers(vec![]);
    let (a, b) = (format!("{}a", w.prefix), format!("{}b", w.prefix));
    cs.start(&a);
    cs.start(&b);
    // b learns a's MAC, a is re-plumbed with a new MAC after the neighbour lock time: the attach's
    // gratuitous ARP must update b's cache without b asking.
    let out = ok(&w.script(
        r#"
        let br = bridge(params.br);
        let a = veth(container(params.a), br, #{ip: "198.18.81.2/24", mac: "02:00:00:00:81:01"});
        veth(guest(`container:${params.b}`), br, #{ip: "198.18.81.3/24"});
        if !ping(container(params.b), "198.18.81.2") { throw "no reachability"; }
        sleep("1100ms");
        delete(a.link);
        let a2 = veth(container(params.a), br, #{ip: "198.18.81.2/24", mac: "02:00:00:00:81:02"});
        print(a2);
        "#,
        &[
            &format!("a={a}"),
            &format!("b={b}"),
            &format!("br={}", w.br()),
        ],
    ));
    assert!(out.contains(&format!("container:{a}:eth1")), "{out}");
    let n = String::from_utf8_lossy(&dexec(&b, &["ip", "neigh", "show", "198.18.81.2"]).stdout)
        .to_string();
    assert!(
        n.contains("02:00:00:00:81:02"),
        "gratuitous ARP did not reach b: {n}"
    );
}

#[test]
fn dhcp_into_containers_writes_their_resolv_conf_not_the_hosts() {
    let w = World::new("dd");
    let host_resolv = HostResolv::snapshot();
    let mut cs = Containers(vec![]);
    let br = w.classic_br();
    let srv = w.ns("s");
    netns_add(&srv);
    ok(&classic(&[&br, &format!("netns:{srv}"), "198.18.83.1/24"]));
    let _dhcpd = DhcpServer::start(&w, &srv, "198.18.83");
    for (i, form) in ["dhcp", "udhcpc"].iter().enumerate() {
        let c = format!("{}{i}", w.prefix);
        cs.start(&c);
        let out = classic(&[&br, &c, form]);
        ok(&out);
        let ip =
            String::from_utf8_lossy(&dexec(&c, &["ip", "-4", "-o", "addr", "show", "eth1"]).stdout)
                .to_string();
        assert!(ip.contains("inet 198.18.83."), "{form}: {ip}");
        let route = String::from_utf8_lossy(&dexec(&c, &["ip", "route"]).stdout).to_string();
        assert!(
            route.contains("default via 198.18.83.1 dev eth1"),
            "{form}: {route}"
        );
        let resolv =
            String::from_utf8_lossy(&dexec(&c, &["cat", "/etc/resolv.conf"]).stdout).to_string();
        assert!(
            resolv.contains("nameserver 198.18.83.53"),
            "{form}: container resolv.conf: {resolv}"
        );
        host_resolv.assert_unchanged();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            err.contains(&format!("/etc/resolv.conf in container:{c}")),
            "{form}: {err}"
        );
    }
}

/// The host's clients kept running (`udhcpc-f`, `dhclient-f`) live in the container's namespace
/// and so hold it: without help, a container that dies leaves its namespace, the host end of its
/// veth and the client behind. Like the built-in keeper they go by themselves — no `watch`
/// running, no `down`.
#[test]
fn dhcp_kept_host_clients_go_with_their_container() {
    let w = World::new("dw");
    let mut cs = Containers(vec![]);
    let br = w.classic_br();
    let srv = w.ns("s");
    netns_add(&srv);
    ok(&classic(&[&br, &format!("netns:{srv}"), "198.18.84.1/24"]));
    let _dhcpd = DhcpServer::start(&w, &srv, "198.18.84");
    for (i, form) in ["udhcpc-f", "dhclient-f"].iter().enumerate() {
        let client = form.trim_end_matches("-f");
        let c = format!("{}{i}", w.prefix);
        cs.start(&c);
        let pid = pid_of(&c);
        ok(&classic(&[&br, &c, form]));
        // The client serving this container: its pid file is named by the container's PID.
        let serving = || {
            let ps = Command::new("pgrep")
                .args(["-f", &format!("{pid}.eth1.{client}.pid")])
                .output()
                .unwrap();
            ps.status.success()
        };
        assert!(serving(), "{form}: the client must keep running");
        let host_end = format!("veth1pl{pid}");
        assert!(link(None, &host_end).is_some());
        let rm = Command::new("docker")
            .args(["rm", "-f", &c])
            .output()
            .unwrap();
        assert!(rm.status.success(), "{}", text(&rm));
        let t = std::time::Instant::now();
        while serving() || link(None, &host_end).is_some() {
            assert!(
                t.elapsed() < std::time::Duration::from_secs(10),
                "{form}: 10 s after the container died: client running {}, {host_end} present {}",
                serving(),
                link(None, &host_end).is_some()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        println!(
            "{form}: client and {host_end} gone {:?} after docker rm -f returned",
            t.elapsed()
        );
    }
}

#[test]
fn containers_errors_are_clear_and_leave_nothing() {
    let w = World::new("de");
    let mut cs = Containers(vec![]);
    let stopped = format!("{}s", w.prefix);
    cs.start(&stopped);
    assert!(Command::new("docker")
        .args(["stop", "-t", "0", &stopped])
        .output()
        .unwrap()
        .status
        .success());
    let br = w.classic_br();
    let err = fails(&classic(&[&br, &stopped, "198.18.82.2/24"]));
    assert!(err.contains("is not running"), "{err}");
    let err = fails(&classic(&[
        &br,
        &format!("{}nope", w.prefix),
        "198.18.82.2/24",
    ]));
    assert!(
        err.contains("not found") && err.contains("unknown to Docker"),
        "{err}"
    );
    let err = fails(&w.eval(&format!("container({:?})", format!("{}nope", w.prefix))));
    assert!(err.contains("not found") && err.contains("line 1"), "{err}");
    assert!(
        link(None, &br).is_none(),
        "no bridge may be left by failed attaches"
    );
    assert!(my_links(&w).is_empty(), "{:?}", my_links(&w));
}

#[test]
fn ipv6_classic_into_a_container() {
    let w = World::new("d6");
    let mut cs = Containers(vec![]);
    let c = format!("{}a", w.prefix);
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--net=none",
            "--sysctl",
            "net.ipv6.conf.all.disable_ipv6=0",
            "--sysctl",
        ])
        .args([
            "net.ipv6.conf.default.disable_ipv6=0",
            "--name",
            &c,
            "pipework-busybox",
            "/bin/sleep",
            "600",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cs.0.push(c.clone());
    let br = w.classic_br();
    ok(&classic(&[&br, "-a", "6", &c, "fd00:83::2/64@fd00:83::1"]));
    let r = String::from_utf8_lossy(&dexec(&c, &["ip", "-6", "route"]).stdout).to_string();
    assert!(r.contains("default via fd00:83::1 dev eth1"), "{r}");
    let a = String::from_utf8_lossy(&dexec(&c, &["ip", "-6", "addr", "show", "eth1"]).stdout)
        .to_string();
    assert!(a.contains("fd00:83::2/64"), "{a}");
    // Docker's default, IPv6 off in the container: the user asked for IPv6 on an interface
    // pipework creates, so it is switched on for that interface alone, and the output says so.
    let plain = format!("{}b", w.prefix);
    cs.start(&plain);
    let sysctl = |c: &str, conf: &str| {
        String::from_utf8_lossy(
            &dexec(
                c,
                &[
                    "cat",
                    &format!("/proc/sys/net/ipv6/conf/{conf}/disable_ipv6"),
                ],
            )
            .stdout,
        )
        .trim()
        .to_string()
    };
    assert_eq!(sysctl(&plain, "all"), "1", "Docker's default changed?");
    let out = classic(&[&br, "-i", "eth9", "-a", "6", &plain, "fd00:83::3/64"]);
    ok(&out);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("IPv6 was disabled on eth9") && note.contains("eth9 only"),
        "{note}"
    );
    assert_eq!(sysctl(&plain, "eth9"), "0");
    for other in ["all", "default", "lo"] {
        assert_eq!(sysctl(&plain, other), "1", "{other} must be left alone");
    }
    let a = String::from_utf8_lossy(&dexec(&plain, &["ip", "-6", "addr", "show", "eth9"]).stdout)
        .to_string();
    assert!(a.contains("fd00:83::3/64"), "{a}");
    // Traffic, both ways, between the two containers over the bridge.
    let p = dexec(&c, &["ping", "-c", "1", "-W", "2", "fd00:83::3"]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stdout));
    // The same in Rhai, with an IPv4 and an IPv6 address on one interface.
    let third = format!("{}c", w.prefix);
    cs.start(&third);
    ok(&w.script(
        r#"veth(container(params.c), bridge(params.br), #{ip: ["198.18.83.4/24", "fd00:83::4/64"]});"#,
        &[&format!("c={third}"), &format!("br={br}")],
    ));
    assert_eq!(sysctl(&third, "eth1"), "0");
    assert_eq!(sysctl(&third, "all"), "1");
    let p = dexec(&plain, &["ping", "-c", "1", "-W", "2", "fd00:83::4"]);
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stdout));
}

/// The lamp recipe into real containers proves the tiers' services by TCP (busybox httpd standing in
/// for the web server on :80 and the database on :3306), and fails — rolled back — when a tier's
/// port has no listener.
#[test]
fn recipes_lamp_proves_service_ports_by_tcp() {
    let w = World::new("rlp");
    let mut cs = Containers(vec![]);
    let (web, db) = (format!("{}w", w.prefix), format!("{}d", w.prefix));
    cs.start(&web);
    cs.start(&db);
    for (c, port) in [(&web, "80"), (&db, "3306")] {
        let st = Command::new("docker")
            .args(["exec", "-d", c, "httpd", "-f", "-p", port, "-h", "/tmp"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let run = |extra: &[&str]| {
        let mut a = vec![
            "run".to_string(),
            "lamp".into(),
            "--owner".into(),
            w.prefix.clone(),
            format!("web=container:{web}"),
            format!("db=container:{db}"),
            format!("bridge={}", w.br()),
            "web_ip=198.18.54.2/24".into(),
            "db_ip=198.18.54.3/24".into(),
            "ports=true".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        w.cmd(&a)
    };
    let err = fails(&run(&["web_port=81"]));
    assert!(err.contains("cannot reach each other"), "{err}");
    assert!(
        link(None, &w.br()).is_none(),
        "a failed check was not rolled back"
    );
    let out = ok(&run(&[]));
    assert!(
        out.contains("db -> web:80 and web -> db:3306 accepted"),
        "{out}"
    );
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(link(None, &w.br()).is_none());
}

/// podman containers run by hand (`--runtime`: tests/podman/setup.sh's wrapper for this sandbox).
struct Pods(Vec<String>);

impl Pods {
    fn start(&mut self, name: &str) {
        let out = Command::new("podman")
            .args([
                "run",
                "-d",
                "--runtime",
                "/usr/local/sbin/pipework-test-runc",
                "--net=none",
                "--cap-add",
                "NET_RAW",
                "--name",
                name,
                "localhost/pipework-busybox",
                "sleep",
                "600",
            ])
            .output()
            .expect("podman (tests/podman/setup.sh installs it)");
        assert!(out.status.success(), "podman run {name}: {}", text(&out));
        self.0.push(name.to_string());
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "0", p])
                .output();
        }
    }
}

/// With dockerd running, a podman container is still found by name — by `podman inspect` when
/// podman's API service is not running, through its socket when it is — in classic argv and in
/// container(); it then talks to a Docker container over the bridge. A name nobody knows lists
/// everything that was asked.
#[test]
fn containers_podman_found_beside_docker() {
    let w = World::new("pod");
    let br = w.classic_br();
    let (pod, dock) = (format!("{}p", w.prefix), format!("{}d", w.prefix));
    let mut pods = Pods(vec![]);
    pods.start(&pod);
    let mut cs = Containers(vec![]);
    cs.start(&dock);
    assert!(!std::path::Path::new("/run/podman/podman.sock").exists());
    ok(&classic(&[&br, &pod, "198.18.59.2/24"]));
    ok(&classic(&[&br, &dock, "198.18.59.3/24"]));
    let p = dexec(&dock, &["ping", "-c", "1", "-W", "2", "198.18.59.2"]);
    assert!(p.status.success(), "docker -> podman: {}", text(&p));
    let out = ok(&w.eval(&format!("print(container({pod:?}))")));
    assert!(out.contains(&pod), "{out}");

    // Its API service up: the same lookup goes through the socket.
    std::fs::create_dir_all("/run/podman").unwrap();
    let mut svc = Command::new("podman")
        .args([
            "system",
            "service",
            "-t",
            "0",
            "unix:///run/podman/podman.sock",
        ])
        .spawn()
        .unwrap();
    let sock = std::path::Path::new("/run/podman/podman.sock");
    let t = std::time::Instant::now();
    while std::os::unix::net::UnixStream::connect(sock).is_err() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "podman service did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = Command::new(bin())
        .args(["-v", &br, "-i", "eth2", &pod, "198.18.59.4/24"])
        .output()
        .unwrap();
    let _ = svc.kill();
    let _ = svc.wait();
    let _ = std::fs::remove_file(sock);
    ok(&out);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("podman: ask unix:///run/podman/podman.sock"),
        "{said}"
    );
    let p = dexec(&dock, &["ping", "-c", "1", "-W", "2", "198.18.59.4"]);
    assert!(p.status.success(), "docker -> podman eth2: {}", text(&p));

    let err = fails(&classic(&[
        &br,
        &format!("{}x", w.prefix),
        "198.18.59.9/24",
    ]));
    assert!(
        err.contains("unknown to Docker")
            && err.contains("unknown to podman")
            && err.contains("LXC"),
        "{err}"
    );
    // A classic attach's owner is its container's name.
    for o in [&pod, &dock] {
        ok(&w.cmd(&["down", o]));
    }
    assert!(link(None, &br).is_none());
}

/// `show` reads the live machine: containers wired by classic argv appear under their names with
/// what their interfaces really hold, and a container removed without any `down` is gone from
/// `show` at once (a record of what was asked would still list it).
#[test]
fn show_lists_containers_live() {
    let w = World::new("shw");
    let mut cs = Containers(vec![]);
    let (a, b) = (format!("{}a", w.prefix), format!("{}b", w.prefix));
    let pa = cs.start(&a);
    cs.start(&b);
    let br = w.classic_br();
    ok(&classic(&[
        &br,
        &a,
        "198.18.81.2/24@198.18.81.1",
        "02:42:c6:12:51:02",
    ]));
    ok(&classic(&[&br, &b, "198.18.81.3/24"]));
    let show = |sel: &str| -> serde_json::Value {
        serde_json::from_str(&ok(&w.cmd(&["show", sel, "--json"]))).unwrap()
    };
    let v = show(&a);
    let ifs = v["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 1, "{v:#}");
    let i = &ifs[0];
    assert_eq!(i["guest"], format!("container:{a}"));
    assert_eq!(i["host_ifname"], format!("veth1pl{pa}"));
    assert_eq!(i["bridge"].as_str(), Some(br.as_str()));
    assert_eq!(i["default_via"], serde_json::json!(["198.18.81.1"]));
    // Against the container's own view of itself.
    let inside =
        String::from_utf8_lossy(&dexec(&a, &["ip", "addr", "show", "eth1"]).stdout).to_string();
    assert!(inside.contains(i["mac"].as_str().unwrap()), "{inside}");
    assert_eq!(i["mac"], "02:42:c6:12:51:02");
    for addr in i["addresses"].as_array().unwrap() {
        assert!(
            inside.contains(addr.as_str().unwrap()),
            "{addr} not in {inside}"
        );
    }
    assert_eq!(i["addresses"], serde_json::json!(["198.18.81.2/24"]));
    // The whole-machine text view names both guests.
    let all = ok(&w.cmd(&["show"]));
    assert!(all.contains(&format!("container:{a}:eth1")), "{all}");
    assert!(all.contains(&format!("container:{b}:eth1")), "{all}");

    let rm = Command::new("docker")
        .args(["rm", "-f", &a])
        .output()
        .unwrap();
    assert!(rm.status.success());
    // The kernel frees a dead namespace's devices asynchronously: the host end may outlive
    // `docker rm` by a moment (and `show` would rightly list it, its guest end not found).
    let host_end = format!("veth1pl{pa}");
    let t = std::time::Instant::now();
    while link(None, &host_end).is_some() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{host_end} stayed"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let all = ok(&w.cmd(&["show"]));
    assert!(!all.contains(&format!("container:{a}:")), "{all}");
    assert!(all.contains(&format!("container:{b}:eth1")), "{all}");
    // What a's owner still holds is the bridge it made (b is on it), and nothing in a guest.
    let left = show(&a);
    assert_eq!(left["interfaces"], serde_json::json!([]), "{left:#}");
    assert_eq!(left["bridges"][0]["name"].as_str(), Some(br.as_str()));
    // A classic attach's owner is its container's name.
    ok(&w.cmd(&["down", &a, &b]));
    assert!(link(None, &format!("veth1pl{pa}")).is_none());
    assert!(
        link(None, &br).is_none(),
        "the bridge goes with its last user"
    );
}

/// The static binary (README: `RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" cargo
/// build --release --target x86_64-unknown-linux-gnu`), brought up to date with the source here
/// (run-all has built it already, so this costs a second there).
fn static_binary() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .current_dir(root)
        .env(
            "RUSTFLAGS",
            "-C target-feature=+crt-static -C strip=symbols",
        )
        .args(["build", "--release", "--target", "x86_64-unknown-linux-gnu"])
        .status()
        .unwrap();
    assert!(st.success(), "the static build failed");
    root.join("target/x86_64-unknown-linux-gnu/release/pipework")
}

/// Whether an ELF file asks for a dynamic loader (a PT_INTERP program header).
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) == 3
    })
}

/// `--wait` where the original's runs: as the entrypoint of a minimal busybox container, without
/// privileges, from the static binary copied in; it blocks until the host has plumbed eth1.
#[test]
fn containers_static_wait_runs_inside_a_busybox_container() {
    let w = World::new("sw");
    let bin = static_binary();
    let elf = std::fs::read(&bin).unwrap();
    assert_eq!(&elf[..4], b"\x7fELF");
    assert!(!has_interpreter(&elf), "{} is not static", bin.display());
    assert!(
        has_interpreter(&std::fs::read("/bin/sh").unwrap()),
        "the control: /bin/sh is dynamic"
    );
    let c = format!("{}c", w.prefix);
    let cs = Containers(vec![c.clone()]);
    let mount = format!("{}:/pipework:ro", bin.display());
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--net=none",
            "-v",
            &mount,
            "--name",
            &c,
            "pipework-busybox",
            "sh",
            "-c",
        ])
        // What the entrypoint sees the moment the wait returns; written aside and renamed, so the
        // test never reads a file the shell has created but not yet filled.
        .arg(
            "/pipework --wait && { cat /sys/class/net/eth1/carrier; ip -o addr show eth1; ip route; } \
             > /tmp/seen && mv /tmp/seen /tmp/ready; exec sleep 600",
        )
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let ready = || dexec(&c, &["cat", "/tmp/ready"]);
    // Blocking: once the wait is running, and before the attach, nothing is ready.
    let t = std::time::Instant::now();
    while !String::from_utf8_lossy(
        &Command::new("docker")
            .args(["top", &c])
            .output()
            .unwrap()
            .stdout,
    )
    .contains("/pipework --wait")
    {
        assert!(
            t.elapsed().as_secs() < 10,
            "the wait never started: {}",
            text(&Command::new("docker").args(["logs", &c]).output().unwrap())
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !ready().status.success(),
        "--wait returned before the interface existed"
    );
    ok(&classic(&[
        &w.classic_br(),
        &c,
        "198.18.93.2/24@198.18.93.1",
    ]));
    let t = std::time::Instant::now();
    loop {
        let r = ready();
        if r.status.success() {
            // Carrier, the address and the default route: the whole attach, not a moment of it.
            let seen = String::from_utf8_lossy(&r.stdout);
            assert!(
                seen.starts_with("1\n")
                    && seen.contains("198.18.93.2/24")
                    && seen.contains("default via 198.18.93.1 dev eth1"),
                "{}",
                text(&r)
            );
            break;
        }
        assert!(
            t.elapsed().as_secs() < 5,
            "--wait did not return after the attach"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ok(&classic(&["down", &c]));
    drop(cs);
}

/// A bare guest name means what it means on the classic command line: an existing container
/// first, a named namespace next, and only when nothing has that name a namespace created for it
/// (and a note says so) — the original README's `lamp` with `web=apache db=mysql` containers.
#[test]
fn recipes_bare_names_wire_existing_containers() {
    let w = World::new("bn");
    let mut cs = Containers(vec![]);
    let (web, db) = (format!("{}w", w.prefix), format!("{}d", w.prefix));
    cs.start(&web);
    cs.start(&db);
    let br = format!("{}b", w.prefix);
    let out = w.cmd(&[
        "run",
        "lamp",
        "--owner",
        &w.prefix,
        &format!("web={web}"),
        &format!("db={db}"),
        &format!("bridge={br}"),
        "web_ip=198.18.94.2/24",
        "db_ip=198.18.94.3/24",
    ]);
    ok(&out);
    for (c, ip) in [(&web, "198.18.94.2/24"), (&db, "198.18.94.3/24")] {
        let inside =
            String::from_utf8_lossy(&dexec(c, &["ip", "-o", "addr", "show", "eth1"]).stdout)
                .to_string();
        assert!(inside.contains(ip), "{c}: {inside}");
        assert!(
            !netns_list().contains(c),
            "a namespace {c} was made beside the container"
        );
    }
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("created network namespace"),
        "{}",
        text(&out)
    );
    // The control: a name nothing has becomes a namespace, and the note says so.
    let fresh = w.ns("n");
    let out = w.eval(&format!(
        r#"veth(guest("{fresh}"), bridge("{br}"), #{{ip: "198.18.94.9/24"}})"#
    ));
    ok(&out);
    assert!(netns_list().contains(&fresh));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("created network namespace {fresh}")),
        "{}",
        text(&out)
    );
    ok(&w.cmd(&["down", &w.prefix]));
}
