//! Open vSwitch tier: a real ovs-vswitchd (userspace datapath; tests/ovs/setup.sh, called by
//! run-all.sh, installs and starts it). VLAN isolation is asserted by traffic.

mod common;
use common::*;
use std::process::Command;

#[test]
fn ovs_vlan_tags_isolate_guests() {
    let w = World::new("ov");
    let br = format!("ovs{}", w.prefix);
    let src = r#"
        let br = ovs(params.br);
        print(veth(netns(params.a), br, #{ip: "198.18.19.2/24", vlan: 10}).created);
        veth(netns(params.b), br, #{ip: "198.18.19.3/24", vlan: 10});
        veth(netns(params.c), br, #{ip: "198.18.19.4/24", vlan: 20});
    "#;
    let params = [
        format!("br={br}"),
        format!("a={}", w.ns("a")),
        format!("b={}", w.ns("b")),
        format!("c={}", w.ns("c")),
    ];
    let p: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
    assert_eq!(ok(&w.script(src, &p)).trim(), "true");
    assert_eq!(
        vsctl(&["br-get-external-id", &br, "pipework.owner"]),
        w.prefix
    );
    let port = format!("veth1pl{}", w.ns("a"));
    assert_eq!(vsctl(&["get", "Port", &port, "tag"]), "10");
    assert_eq!(
        vsctl(&["get", "Interface", &port, "external_ids:pipework.owner"]).trim_matches('"'),
        w.prefix
    );
    assert!(ping(&w.ns("a"), "198.18.19.3"), "same VLAN must pass");
    assert!(
        !ping(&w.ns("a"), "198.18.19.4"),
        "VLAN 10 must not reach VLAN 20"
    );
    // Re-running is a no-op; changing the tag converges.
    assert_eq!(ok(&w.script(src, &p)).trim(), "false");
    ok(&w.eval(&format!(
        "veth(netns({:?}), ovs({br:?}), #{{ip: \"198.18.19.4/24\", vlan: 10}})",
        w.ns("c")
    )));
    assert!(ping(&w.ns("a"), "198.18.19.4"), "after moving c to VLAN 10");
    // Teardown removes our ports and, once empty, the bridge.
    ok(&w.cmd(&["-e", &format!("down({:?})", w.prefix)]));
    assert!(
        Command::new("ovs-vsctl")
            .args(["br-exists", &br])
            .status()
            .unwrap()
            .code()
            == Some(2)
    );
}

#[test]
fn ovs_by_classic_argv() {
    let w = World::new("oc");
    let br = format!("ovs{}", w.prefix);
    let (a, b) = (w.ns("a"), w.ns("b"));
    for n in [&a, &b] {
        assert!(Command::new("ip")
            .args(["netns", "add", n])
            .status()
            .unwrap()
            .success());
    }
    let classic = |args: &[&str]| Command::new(bin()).args(args).output().unwrap();
    ok(&classic(&[
        &br,
        &a,
        "198.18.20.2/24",
        "02:00:00:00:14:02@30",
    ]));
    // Like the original, a new pair inherits the bridge's MTU (carried by its internal interface).
    vsctl(&["set", "Interface", &br, "mtu_request=1400"]);
    let mut mtu = None;
    for _ in 0..50 {
        mtu = link(None, &br).and_then(|l| l["mtu"].as_u64());
        if mtu == Some(1400) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(mtu, Some(1400), "OVS did not apply mtu_request");
    ok(&classic(&[&br, &b, "198.18.20.3/24", "@30"]));
    assert_eq!(link(Some(&b), "eth1").unwrap()["mtu"], 1400);
    assert_eq!(vsctl(&["get", "Port", &format!("veth1pl{a}"), "tag"]), "30");
    assert_eq!(
        link(Some(&a), "eth1").unwrap()["address"],
        "02:00:00:00:14:02"
    );
    assert!(ping(&a, "198.18.20.3"));
    let err = fails(&classic(&[&br, &a, "198.18.20.9/24", "@5000"]));
    assert!(err.contains("VLAN id"), "{err}");
    for n in [&a, &b] {
        ok(&w.cmd(&["-e", &format!("down({n:?})")]));
    }
}

#[test]
fn teardown_shared_ovs_bridge_goes_to_its_last_user() {
    let w = World::new("osh");
    let br = format!("ovs{}", w.prefix);
    let (x, y) = (format!("{}x", w.prefix), format!("{}y", w.prefix));
    for (owner, ns, ip) in [(&x, "a", "198.18.22.2/24"), (&y, "b", "198.18.22.3/24")] {
        ok(&w.cmd(&[
            "-e",
            &format!(
                "owner({owner:?}); veth(netns({:?}), ovs({br:?}), #{{ip: {ip:?}}})",
                w.ns(ns)
            ),
        ]));
    }
    ok(&w.cmd(&["-e", &format!("down({x:?})")]));
    assert_eq!(
        vsctl(&["get", "Bridge", &br, "external_ids:pipework.owner"]).trim_matches('"'),
        y,
        "the bridge must be handed to the owner still using it"
    );
    ok(&w.cmd(&["-e", &format!("down({y:?})")]));
    let bridges = vsctl(&["list-br"]);
    assert!(
        !bridges.lines().any(|b| b == br),
        "the last user's down() must remove it: {bridges}"
    );
}

/// With Open vSwitch running, a classic attach onto an existing *Linux* bridge asks the kernel and
/// never OVSDB (it used to fork `ovs-vsctl br-exists` on every attach); an attach onto an OVS bridge
/// still finds it. Two witnesses: a spy ovs-vsctl first in PATH records every call and passes it
/// on, and a proxy in front of ovsdb-server's socket (OVS_RUNDIR) records every connection, ours
/// and ovs-vsctl's.
#[test]
fn classic_linux_bridge_attach_asks_the_kernel_not_ovsdb() {
    let w = World::new("ok");
    vsctl(&["show"]); // OVS is up, so the old code path would have asked it.
    let (path, log) = ovs_vsctl_spy(&w);
    let proxy = OvsdbProxy::start(&w);
    let classic = |args: &[&str]| {
        Command::new(bin())
            .args(args)
            .env("PATH", &path)
            .env("OVS_RUNDIR", &proxy.dir)
            .output()
            .unwrap()
    };
    let (a, b) = (w.ns("a"), w.ns("b"));
    netns_add(&a);
    netns_add(&b);
    let br = w.classic_br();
    assert!(Command::new("ip")
        .args(["link", "add", &br, "type", "bridge"])
        .status()
        .unwrap()
        .success());
    ok(&classic(&[&br, &a, "198.18.123.2/24"]));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(
        calls.is_empty(),
        "attach onto Linux bridge {br} called ovs-vsctl:\n{calls}"
    );
    assert_eq!(
        proxy.connections(),
        0,
        "attach onto Linux bridge {br} asked OVSDB:\n{}",
        proxy.said()
    );
    assert_eq!(
        link(None, &format!("veth1pl{a}")).unwrap()["master"],
        br.as_str()
    );
    // Control: the spy is on the path pipework uses, and OVS bridges are still recognised.
    let obr = format!("ovs{}", w.prefix);
    vsctl(&[
        "add-br",
        &obr,
        "--",
        "set",
        "bridge",
        &obr,
        "datapath_type=netdev",
    ]);
    ok(&classic(&[&obr, &b, "198.18.124.2/24"]));
    // Asked on the socket (a select on the Bridge table), not by ovs-vsctl.
    let said = proxy.said();
    assert!(
        said.contains(r#""op":"select","table":"Bridge""#) && said.contains(&obr),
        "{said}"
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(!calls.contains("br-exists"), "{calls}");
    assert!(
        vsctl(&["list-ports", &obr]).contains(&format!("veth1pl{b}")),
        "the attach onto {obr} did not become an OVS port"
    );
    ok(&w.cmd(&["-e", &format!("down({b:?})")]));
}

/// A proxy in front of ovsdb-server's socket: point OVS_RUNDIR at `dir` and every OVSDB client
/// (pipework's own, ovs-vsctl) goes through it; what clients send is kept.
struct OvsdbProxy {
    dir: std::path::PathBuf,
    conns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    said: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl OvsdbProxy {
    fn start(w: &World) -> OvsdbProxy {
        use std::io::{Read, Write};
        use std::os::unix::net::{UnixListener, UnixStream};
        let dir = w.dir().join("ovs-rundir");
        std::fs::create_dir_all(&dir).unwrap();
        // Everything else of the real run directory (ovs-vswitchd's pid file, its control
        // sockets) stays reachable under the same names.
        for e in std::fs::read_dir("/var/run/openvswitch").unwrap().flatten() {
            if e.file_name() != "db.sock" {
                let _ = std::os::unix::fs::symlink(e.path(), dir.join(e.file_name()));
            }
        }
        let listener = UnixListener::bind(dir.join("db.sock")).unwrap();
        let conns = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let said = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let (c, s) = (conns.clone(), said.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let server = UnixStream::connect("/var/run/openvswitch/db.sock").unwrap();
                let (mut from_server, mut to_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_server, &mut to_client);
                    let _ = to_client.shutdown(std::net::Shutdown::Both);
                });
                let (mut from_client, mut to_server) = (client, server);
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(n) = from_client.read(&mut buf) {
                        if n == 0 || to_server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        s.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                    let _ = to_server.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        OvsdbProxy { dir, conns, said }
    }

    fn connections(&self) -> usize {
        self.conns.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn said(&self) -> String {
        String::from_utf8_lossy(&self.said.lock().unwrap()).to_string()
    }
}

/// An `ovs-vsctl` first on a PATH, which logs each call's arguments and runs the real one.
/// Returns that PATH and the log.
fn ovs_vsctl_spy(w: &World) -> (String, std::path::PathBuf) {
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ovs-vsctl"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let real = real.trim();
    assert!(!real.is_empty(), "ovs-vsctl not installed");
    let bin_dir = w.dir().join("spy");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let log = w.dir().join("ovs-vsctl.calls");
    std::fs::write(&log, "").unwrap();
    let spy = bin_dir.join("ovs-vsctl");
    std::fs::write(
        &spy,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .unwrap();
    Command::new("chmod").arg("+x").arg(&spy).status().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    (path, log)
}

/// Tagged ports onto a bridge `ovs()` ensured: OVSDB is asked about the bridge once in the run,
/// not again by every attach, and the ports go in by our own OVSDB transactions — no ovs-vsctl
/// per port at all; the ports are there, tagged, confirmed by ovs-vswitchd (an OpenFlow port).
#[test]
fn ovs_ports_ask_about_their_bridge_once_per_run() {
    let w = World::new("oq");
    let (path, log) = ovs_vsctl_spy(&w);
    let proxy = OvsdbProxy::start(&w);
    let obr = format!("ovs{}", w.prefix);
    let script = format!(
        r#"owner("{p}"); let b = ovs("{obr}"); for i in 1..4 {{ veth(netns(`{p}${{i}}`), b, #{{vlan: 10 * i, ip: `198.18.125.${{i}}/24`}}); }}"#,
        p = w.prefix
    );
    let out = Command::new(bin())
        .args(["-e", &script])
        .env("PATH", &path)
        .env("OVS_RUNDIR", &proxy.dir)
        .output()
        .unwrap();
    ok(&out);
    let calls = std::fs::read_to_string(&log).unwrap();
    let count = |verb: &str| calls.lines().filter(|l| l.contains(verb)).count();
    assert_eq!(count("add-port"), 0, "{calls}");
    assert_eq!(calls.lines().count(), 1, "add-br only: {calls}");
    // Asked about the bridge once per run, on OVSDB's socket; three port transactions.
    let said = proxy.said();
    let count = |what: &str| said.matches(what).count();
    assert_eq!(count(r#""op":"select","table":"Bridge""#), 1, "{said}");
    assert_eq!(count(r#""uuid-name":"port""#), 3, "{said}");
    for i in 1..4 {
        let port = format!("veth1pl{}{i}", w.prefix);
        assert_eq!(vsctl(&["port-to-br", &port]), obr);
        assert_eq!(vsctl(&["get", "Port", &port, "tag"]), (10 * i).to_string());
        let ofport: i64 = vsctl(&["get", "Interface", &port, "ofport"])
            .parse()
            .unwrap();
        assert!(ofport > 0, "{port}: ofport {ofport}");
        let owner = vsctl(&["get", "Interface", &port, "external_ids:pipework.owner"]);
        assert_eq!(owner.trim_matches('"'), w.prefix);
    }
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(!vsctl(&["list-br"]).lines().any(|l| l == obr));
}

/// An OVS bridge value prints like every other object, not as a Rust type path.
#[test]
fn ovs_bridge_value_prints_usefully() {
    let w = World::new("op");
    let br = format!("ovs{}", w.prefix);
    let out = ok(&w.eval(&format!("ovs({br:?})")));
    assert_eq!(out.trim(), format!("ovs bridge {br}"));
    let out = ok(&w.eval(&format!("[ovs({br:?})]")));
    assert_eq!(out.trim(), format!("[ovs bridge {br}]"));
    ok(&w.eval("down()"));
}

/// detach() of an OVS attachment removes its port from OVSDB as well as the pair.
#[test]
fn ovs_detach_removes_the_port_and_the_pair() {
    let w = World::new("od");
    let br = format!("ovs{}", w.prefix);
    let a = w.ns("a");
    let out = ok(&w.eval(&format!(
        "let x = veth(netns({a:?}), ovs({br:?}), #{{ip: \"198.18.128.2/24\", vlan: 7}}); detach(x)"
    )));
    assert!(out.contains(&format!("ovs port veth1pl{a}")), "{out}");
    assert!(
        !vsctl(&["list-ports", &br]).contains(&format!("veth1pl{a}")),
        "port left in OVSDB"
    );
    assert!(
        link(None, &format!("veth1pl{a}")).is_none(),
        "host end left"
    );
    assert!(link(Some(&a), "eth1").is_none(), "guest end left");
    ok(&w.eval("down()"));
}

/// A private ovsdb-server (its own database and run directory, `OVS_RUNDIR`), with no
/// ovs-vswitchd: the state "vswitchd stopped, ovsdb up" without touching the machine's OVS.
struct PrivateOvsdb {
    dir: std::path::PathBuf,
}

impl PrivateOvsdb {
    fn start(w: &World) -> PrivateOvsdb {
        let dir = w.dir().join("ovs");
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("conf.db");
        let st = Command::new("ovsdb-tool")
            .args([
                "create",
                db.to_str().unwrap(),
                "/usr/share/openvswitch/vswitch.ovsschema",
            ])
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}/db.sock", dir.display()))
            .arg(format!("--pidfile={}/ovsdb-server.pid", dir.display()))
            .arg(format!("--log-file={}/ovsdb-server.log", dir.display()))
            .args(["--detach", "--no-chdir"])
            .status()
            .unwrap();
        assert!(st.success(), "ovsdb-server");
        let o = PrivateOvsdb { dir };
        assert!(o.vsctl(&["--no-wait", "init"]).status.success());
        o
    }

    fn vsctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("ovs-vsctl")
            .env("OVS_RUNDIR", &self.dir)
            .arg("--timeout=5")
            .args(args)
            .output()
            .unwrap()
    }

    /// Bridges and ports in this database, one line each.
    fn rows(&self) -> String {
        let br = self.vsctl(&["--bare", "--columns=name", "list", "Bridge"]);
        let port = self.vsctl(&["--bare", "--columns=name", "list", "Port"]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&br.stdout),
            String::from_utf8_lossy(&port.stdout)
        )
        .trim()
        .to_string()
    }

    fn pipework(&self, expr: &str) -> (std::process::Output, std::time::Duration) {
        let t = std::time::Instant::now();
        let out = Command::new(bin())
            .env("OVS_RUNDIR", &self.dir)
            .env("PIPEWORK_OVS_TIMEOUT", "1")
            .args(["-e", expr])
            .output()
            .unwrap();
        (out, t.elapsed())
    }
}

impl Drop for PrivateOvsdb {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("ovsdb-server.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// ovs-vswitchd stopped while ovsdb-server runs: the attach fails at once with a clear message
/// and writes no row; with a vswitchd that is there but never confirms (a stand-in process owns
/// its pid file), the attach fails within the bound and the rows it wrote are taken back — they
/// would otherwise come to life whenever vswitchd does. Nothing is left in the host either.
#[test]
fn ovs_vswitchd_stopped_fails_clearly_and_writes_no_rows() {
    let w = World::new("ow");
    let db = PrivateOvsdb::start(&w);
    let br = format!("ovs{}", w.prefix);
    let script = |b: &str| {
        format!(
            r#"owner("{o}"); veth(netns("{o}1"), ovs("{b}"), #{{ip: "198.18.126.2/24"}})"#,
            o = w.prefix
        )
    };
    let (out, took) = db.pipework(&script(&br));
    let err = fails(&out);
    assert!(err.contains("ovs-vswitchd is not running"), "{err}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert_eq!(db.rows(), "", "rows written without a vswitchd");

    // A vswitchd that does not answer: its pid file names a live process that is not one.
    let mut standin = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(db.dir.join("ovs-vswitchd.pid"), standin.id().to_string()).unwrap();
    let (out, took) = db.pipework(&script(&br));
    let err = fails(&out);
    assert!(
        err.contains("did not confirm") && !err.contains("Alarm clock"),
        "{err}"
    );
    assert!(took < std::time::Duration::from_secs(4), "took {took:?}");
    assert_eq!(db.rows(), "", "a bridge row left behind");
    // The same onto an existing bridge: the port row goes back.
    assert!(db.vsctl(&["--no-wait", "add-br", &br]).status.success());
    let (out, _) = db.pipework(&script(&br));
    let err = fails(&out);
    assert!(err.contains("did not confirm"), "{err}");
    assert_eq!(
        db.rows().split_whitespace().collect::<Vec<_>>(),
        [&br, &br],
        "port row left"
    );
    let _ = standin.kill();
    let _ = standin.wait();
    assert!(my_links(&w).is_empty(), "{:?}", my_links(&w));
    assert!(!netns_list().iter().any(|n| n.starts_with(&w.prefix)));
}

/// The vlan_isolation recipe on OVS: its own check passes, an independent ping agrees both ways
/// (same VLAN reachable, the other VLAN not, one subnet for all), a re-run changes nothing, and
/// its owner's teardown leaves nothing.
#[test]
fn recipes_vlan_isolation_on_ovs() {
    let w = World::new("rvi");
    let br = format!("ovs{}", w.prefix);
    let args = [
        "run",
        "vlan_isolation",
        "--owner",
        &w.prefix,
        &format!("bridge={br}"),
        &format!("prefix={}", w.prefix),
        "subnet=198.18.48.0/24",
        "per_vlan=2",
    ];
    let out = ok(&w.cmd(&args));
    assert!(
        out.contains("vlan_isolation: 4 guests, reachable within their VLAN, isolated across"),
        "{out}"
    );
    let g = |i: u32| w.ns(&i.to_string());
    assert!(ping(&g(1), "198.18.48.2") && ping(&g(2), "198.18.48.1"));
    assert!(ping(&g(3), "198.18.48.4") && ping(&g(4), "198.18.48.3"));
    for (from, to) in [
        (1, "198.18.48.3"),
        (2, "198.18.48.4"),
        (3, "198.18.48.1"),
        (4, "198.18.48.2"),
    ] {
        assert!(!ping(&g(from), to), "guest {from} crossed VLANs to {to}");
    }
    let state = || format!("{}\n{:?}", vsctl(&["show"]), my_links(&w));
    let before = state();
    ok(&w.cmd(&args));
    assert_eq!(before, state(), "a re-run changed the topology");
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(!vsctl(&["list-br"]).lines().any(|b| b == br));
    assert!(my_links(&w).is_empty());
    assert!(!netns_list().iter().any(|n| n.starts_with(&w.prefix)));
}

/// `veth(guest, ovs(..))` with no options map works as it does for a Linux bridge.
#[test]
fn ovs_veth_without_options() {
    let w = World::new("ovn");
    let br = format!("ovs{}", w.prefix);
    let out = ok(&w.eval(&format!(
        "let a = veth(netns({:?}), ovs({br:?})); print(a.ifname)",
        w.ns("1")
    )));
    assert_eq!(out.trim(), "eth1");
    assert!(vsctl(&["list-ports", &br]).contains(&format!("veth1pl{}", w.ns("1"))));
}

/// `show --json` reads back what is wired (checked here against ip and ovs-vsctl), and `save`
/// gives a script that, after a teardown, makes the same wiring again: two Linux bridges, an OVS
/// VLAN port, static IPv4 and IPv6 addresses, a fixed MAC, a gateway and a route of our own.
#[test]
fn save_round_trip_gives_the_same_show() {
    let w = World::new("sv");
    let (br1, br2, ob) = (w.br(), format!("{}c", w.prefix), format!("ovs{}", w.prefix));
    let src = r#"
        let b1 = bridge(params.br1, #{mtu: 1400});
        let b2 = bridge(params.br2);
        let o = ovs(params.ob);
        let a = netns(params.a);
        let b = netns(params.b);
        veth(a, b1, #{ip: ["198.18.60.2/24", "fd00:60::2/64"], gateway: "198.18.60.1", mac: "02:00:00:60:00:02"});
        veth(b, b1, #{ip: "198.18.60.3/24"});
        veth(b, b2, #{ifname: "eth2", ip: "198.18.61.3/24"});
        veth(a, o, #{ifname: "eth3", vlan: 100, ip: "198.18.62.2/24"});
        veth(b, o, #{ifname: "eth3", vlan: 100, ip: "198.18.62.3/24"});
        route(a, "add 198.51.100.0/24 via 198.18.62.3 dev eth3 metric 10");
    "#;
    let params = [
        format!("br1={br1}"),
        format!("br2={br2}"),
        format!("ob={ob}"),
        format!("a={}", w.ns("a")),
        format!("b={}", w.ns("b")),
    ];
    let p: Vec<&str> = params.iter().map(|s| s.as_str()).collect();
    ok(&w.script(src, &p));
    let show = || -> serde_json::Value {
        serde_json::from_str(&ok(&w.cmd(&["show", &w.prefix, "--json"]))).unwrap()
    };
    let before = show();
    assert_eq!(before["version"], 1);
    let ifs = before["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 5, "{before:#}");
    let find = |guest: &str, ifname: &str| {
        ifs.iter()
            .find(|i| i["guest"] == format!("netns:{guest}") && i["ifname"] == ifname)
            .unwrap_or_else(|| panic!("no {guest}:{ifname} in {before:#}"))
            .clone()
    };
    // What show says, against independent witnesses.
    let (a, b) = (w.ns("a"), w.ns("b"));
    let a1 = find(&a, "eth1");
    assert_eq!(a1["mac"], "02:00:00:60:00:02");
    assert_eq!(a1["bridge"].as_str(), Some(br1.as_str()));
    assert_eq!(a1["bridge_type"], "linux");
    assert_eq!(a1["default_via"], serde_json::json!(["198.18.60.1"]));
    let mut witness = global_addrs(Some(&a), "eth1");
    witness.sort();
    let mut shown: Vec<String> = a1["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    shown.sort();
    assert_eq!(shown, witness);
    assert!(
        witness.contains(&"fd00:60::2/64".to_string()),
        "{witness:?}"
    );
    for (g, i) in [(&a, "eth1"), (&b, "eth1"), (&b, "eth2"), (&a, "eth3")] {
        let l = link(Some(g), i).unwrap();
        assert_eq!(find(g, i)["mac"], l["address"], "{g}:{i}");
        assert_eq!(find(g, i)["mtu"], l["mtu"], "{g}:{i}");
    }
    let a3 = find(&a, "eth3");
    assert_eq!(a3["bridge_type"], "ovs");
    assert_eq!(a3["vlan"], 100);
    let port = a3["host_ifname"].as_str().unwrap().to_string();
    assert_eq!(vsctl(&["get", "Port", &port, "tag"]), "100");
    assert_eq!(vsctl(&["port-to-br", &port]), ob);
    // Our route, told apart by its protocol: ip sees it as proto 112.
    let ours = ip_json(Some(&a), &["route", "show", "proto", "112"]);
    assert!(
        ours.as_array()
            .unwrap()
            .iter()
            .any(|r| r["dst"] == "198.51.100.0/24"),
        "{ours}"
    );
    assert!(before["routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["to"] == "198.51.100.0/24" && r["metric"] == 10 && r["dev"] == "eth3"));
    let types: Vec<(&str, &str)> = before["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap(), b["type"].as_str().unwrap()))
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert!(types.contains(&(ob.as_str(), "ovs")) && types.contains(&(br2.as_str(), "linux")));

    let saved = ok(&w.cmd(&["save", &w.prefix]));
    let file = w.dir().join("saved.rhai");
    std::fs::write(&file, &saved).unwrap();
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(my_links(&w).is_empty(), "down left links");
    assert!(!netns_list().iter().any(|n| n.starts_with(&w.prefix)));
    assert!(!vsctl(&["list-br"]).lines().any(|x| x == ob));
    // Nothing of the owner left to show: an error, not an empty success.
    let gone = fails(&w.cmd(&["show", &w.prefix]));
    assert!(gone.contains("nothing of pipework's"), "{gone}");

    ok(&w.cmd(&["run", file.to_str().unwrap()]));
    let after = show();
    assert_eq!(before, after, "saved script:\n{saved}");
    assert!(
        ping(&a, "198.18.60.3"),
        "restored bridge must carry traffic"
    );
    assert!(
        ping(&a, "198.18.62.3"),
        "restored VLAN 100 must carry traffic"
    );
    // Running the saved script again changes nothing.
    ok(&w.cmd(&["run", file.to_str().unwrap()]));
    assert_eq!(before, show());
    ok(&w.cmd(&["down", &w.prefix]));
    assert!(my_links(&w).is_empty());
}

/// What a re-run must not change on this test's own switches: their ports and each port's tag
/// (`ovs-vsctl show` would also show other tests' bridges, changing at the same time).
fn switch_state(bridges: &[String]) -> Vec<(String, String, String)> {
    let mut v = vec![];
    for b in bridges {
        for port in vsctl(&["list-ports", b]).lines() {
            v.push((
                b.clone(),
                port.to_string(),
                vsctl(&["get", "Port", port, "tag"]),
            ));
        }
    }
    v
}

/// `pipework run multi_host` as host SIDE of a test: its owner, guests and switch named for the
/// side, numbered from `first` in `subnet`, with the tunnel (and underlay) arguments given.
fn multi_host_args(
    p: &str,
    side: &str,
    bridge: &str,
    subnet: &str,
    first: u32,
    how: &[String],
    peers: &str,
) -> Vec<String> {
    let mut args = vec![
        "run".to_string(),
        "multi_host".into(),
        "--owner".into(),
        format!("{p}{side}"),
        format!("bridge={bridge}"),
        format!("prefix={p}{side}"),
        format!("subnet={subnet}"),
        format!("first={first}"),
    ];
    args.extend(how.iter().cloned());
    if !peers.is_empty() {
        args.push(format!("peers={peers}"));
    }
    args
}

/// Independently of the recipe's own check: host A's VLAN 100 guest reaches host B's VLAN 100
/// guests (the control) and none of B's VLAN 200, and the other way round (guests PREFIXa1…a4 at
/// NET.1–4, PREFIXb1…b4 at NET.11–14, two per VLAN).
fn two_hosts_hold_their_vlans(p: &str, net: &str, how: &str) {
    let (a1, a3, b1, b3) = (
        format!("{p}a1"),
        format!("{p}a3"),
        format!("{p}b1"),
        format!("{p}b3"),
    );
    let ip = |h: u8| format!("{net}.{h}");
    assert!(ping(&a1, &ip(11)) && ping(&a1, &ip(12)));
    assert!(ping(&b3, &ip(3)));
    assert!(!ping(&a1, &ip(13)), "vlan 100 crossed to vlan 200 {how}");
    assert!(!ping(&b1, &ip(3)), "vlan 100 crossed to vlan 200 {how}");
    assert!(!ping(&a3, &ip(11)));
}

/// multi_host, two hosts played by two OVS switches on this machine, cabled by a veth pair made
/// their trunk ports: each host's guests reach their VLAN on both hosts and no other VLAN on
/// either, proven by host B's own check (its peers are A's guests) and independently by ping.
#[test]
fn recipes_multi_host_vlans_span_a_trunk() {
    let w = World::new("rmh");
    let p = w.prefix.clone();
    let (ca, cb) = (format!("{p}ca"), format!("{p}cb"));
    ip_ok(&["link", "add", &ca, "type", "veth", "peer", "name", &cb]);
    let host = |side: &str, first: u32, peers: &str| {
        let how = [format!("tunnel=trunk:{p}c{side}")];
        let br = format!("ovs{p}{side}");
        multi_host_args(&p, side, &br, "198.18.45.0/24", first, &how, peers)
    };
    let run = |args: &[String]| ok(&w.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let a = host("a", 1, "");
    let out = run(&a);
    assert!(out.contains("multi_host: 4 guests here, 0 peers"), "{out}");
    let b = host(
        "b",
        11,
        "100:198.18.45.1,100:198.18.45.2,200:198.18.45.3,200:198.18.45.4",
    );
    let out = run(&b);
    assert!(
        out.contains(
            "multi_host: 4 guests here, 4 peers, reachable within their VLAN, isolated across"
        ),
        "{out}"
    );
    two_hosts_hold_their_vlans(&p, "198.18.45", "over the trunk");
    // The cable ends are trunk ports: no tag on them.
    for (c, side) in [(&ca, "a"), (&cb, "b")] {
        assert_eq!(vsctl(&["port-to-br", c]), format!("ovs{p}{side}"));
        assert_eq!(vsctl(&["get", "Port", c, "tag"]), "[]");
    }
    let bridges = [format!("ovs{p}a"), format!("ovs{p}b")];
    let state = || switch_state(&bridges);
    let before = state();
    run(&b);
    assert_eq!(before, state(), "a re-run changed the switches");
    // GRE is built, but this host's kernel has no gretap (the kernel tier runs it): the error
    // says so, and the switch it had made is gone again.
    let gre_br = format!("ovs{p}g");
    let bad = fails(&w.cmd(&[
        "run",
        "multi_host",
        "--owner",
        &p,
        "tunnel=gre:198.51.100.9",
        &format!("bridge={gre_br}"),
    ]));
    assert!(
        bad.contains("create gretap") && bad.contains("the running kernel lacks this feature"),
        "{bad}"
    );
    assert!(!vsctl(&["list-br"]).lines().any(|x| x == gre_br));
    let bad = fails(&w.cmd(&[
        "run",
        "multi_host",
        "--owner",
        &p,
        &format!("tunnel=trunk:{ca}"),
        "switch=linux",
    ]));
    assert!(bad.contains("needs switch=ovs"), "{bad}");
    ok(&w.cmd(&["down", &format!("{p}a"), &format!("{p}b")]));
    assert!(!vsctl(&["list-br"]).lines().any(|x| x.contains(&p)));
    assert!(
        link(None, &ca).is_some(),
        "the cable is the test's own: down leaves it"
    );
    ip_ok(&["link", "del", &ca]);
}

/// multi_host over VXLAN, two hosts played on this machine: each host's network is a namespace
/// (its underlay address on a veth "wire" to the other's), where its tunnels' endpoints live, while
/// its switch is an OVS bridge here. Reachability within a VLAN across the tunnels and isolation
/// across VLANs (host B's own check, then independent pings), the underlay as the only path (the
/// wire cut, the guests across lose each other: the control), a re-run that changes nothing, and
/// teardown that leaves the test's own underlay alone.
#[test]
fn recipes_multi_host_vlans_span_vxlan_tunnels() {
    let w = World::new("rmx");
    let p = w.prefix.clone();
    let (ua, ub) = (w.ns("ua"), w.ns("ub"));
    netns_add(&ua);
    netns_add(&ub);
    let (wa, wb) = (format!("{p}wa"), format!("{p}wb"));
    ip_ok(&[
        "link", "add", &wa, "netns", &ua, "type", "veth", "peer", "name", &wb, "netns", &ub,
    ]);
    for (ns, dev, ip) in [(&ua, &wa, "198.51.100.1/24"), (&ub, &wb, "198.51.100.2/24")] {
        ip_ok(&["-n", ns, "addr", "add", ip, "dev", dev]);
        ip_ok(&["-n", ns, "link", "set", dev, "up"]);
    }
    let host = |side: &str, first: u32, remote: &str, under: &str, peers: &str| {
        let how = [
            format!("tunnel=vxlan:{remote}"),
            format!("host=netns:{under}"),
        ];
        let br = format!("o{p}{side}");
        multi_host_args(&p, side, &br, "198.18.46.0/24", first, &how, peers)
    };
    let run = |args: &[String]| ok(&w.cmd(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    let out = run(&host("a", 1, "198.51.100.2", &ua, ""));
    assert!(out.contains("multi_host: 4 guests here, 0 peers"), "{out}");
    let b = host(
        "b",
        11,
        "198.51.100.1",
        &ub,
        "100:198.18.46.1,100:198.18.46.2,200:198.18.46.3,200:198.18.46.4",
    );
    let out = run(&b);
    assert!(
        out.contains(
            "multi_host: 4 guests here, 4 peers, reachable within their VLAN, isolated across"
        ),
        "{out}"
    );
    two_hosts_hold_their_vlans(&p, "198.18.46", "over the tunnels");
    let a1 = format!("{p}a1");
    // A tunnel per VLAN, an access port of its VLAN, its socket in the host's underlay namespace.
    for side in ["a", "b"] {
        for vid in ["100", "200"] {
            let port = format!("o{p}{side}v{vid}");
            assert_eq!(vsctl(&["port-to-br", &port]), format!("o{p}{side}"));
            assert_eq!(vsctl(&["get", "Port", &port, "tag"]), vid);
            let d = link(None, &port).expect("tunnel port");
            assert_eq!(d["linkinfo"]["info_kind"], "vxlan", "{d}");
            assert_eq!(
                d["linkinfo"]["info_data"]["id"],
                vid.parse::<u32>().unwrap(),
                "{d}"
            );
            assert!(
                d["link_netnsid"].is_u64(),
                "socket not in the underlay namespace: {d}"
            );
        }
    }
    // The underlay is the only path between the hosts: cut the wire, and they lose each other.
    ip_ok(&["-n", &ua, "link", "set", &wa, "down"]);
    assert!(
        !ping(&a1, "198.18.46.11"),
        "reached across with the underlay cut"
    );
    ip_ok(&["-n", &ua, "link", "set", &wa, "up"]);
    assert!(ping(&a1, "198.18.46.11"), "the wire back, the tunnel back");
    let bridges = [format!("o{p}a"), format!("o{p}b")];
    let state = || (switch_state(&bridges), my_links(&w).len());
    let before = state();
    run(&b);
    assert_eq!(before, state(), "a re-run changed the switches or links");
    ok(&w.cmd(&["down", &format!("{p}a"), &format!("{p}b")]));
    assert!(!vsctl(&["list-br"]).lines().any(|x| x.contains(&p)));
    for side in ["a", "b"] {
        assert!(
            link(None, &format!("o{p}{side}v100")).is_none(),
            "a tunnel outlived down"
        );
    }
    assert!(
        link(Some(&ua), &wa).is_some(),
        "the underlay is the test's own: down leaves it"
    );
    for ns in [&ua, &ub] {
        ip_ok(&["netns", "del", ns]);
    }
}
