//! Watch tier: `pipework watch` running against the real dockerd (tests/docker/setup.sh) and OVS
//! (tests/ovs/setup.sh). A test binary of its own, its tests one at a time: one of them restarts
//! dockerd, which stops every container on the machine.

mod common;
use common::*;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `pipework watch` as a child, killed when the test ends, its log in the world's directory.
struct Watch {
    child: std::process::Child,
    log: std::path::PathBuf,
}

impl Watch {
    fn start(w: &World) -> Watch {
        let log = w.dir().join("watch.log");
        let child = Command::new(bin())
            .arg("watch")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(w.dir().join("watch.err")).unwrap())
            .spawn()
            .unwrap();
        let watch = Watch { child, log };
        await_line(&watch.log, "connected", "pipework watch");
        watch
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait (10 s at most) until the log holds `n` lines containing `what`.
    fn await_count(&self, what: &str, n: usize) {
        let t = Instant::now();
        while self.log().matches(what).count() < n {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "watch never said {what:?} {n} times:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The container's view of one interface: (MAC, addresses), None while it is not there.
fn iface(c: &str, ifname: &str) -> Option<(String, Vec<String>)> {
    let o = dexec(c, &["ip", "-o", "addr", "show", "dev", ifname]);
    if !o.status.success() {
        return None;
    }
    let addrs: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.position(|x| x == "inet")?;
            w.next().map(String::from)
        })
        .collect();
    let l = dexec(c, &["ip", "-o", "link", "show", "dev", ifname]);
    let text = String::from_utf8_lossy(&l.stdout).to_string();
    let mut w = text.split_whitespace();
    w.position(|x| x == "link/ether")?;
    Some((w.next()?.to_string(), addrs))
}

fn routes_in(c: &str) -> String {
    String::from_utf8_lossy(&dexec(c, &["ip", "route"]).stdout).to_string()
}

/// How long until `cond` holds (polling every 10 ms), or None after `limit`.
fn until(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let t = Instant::now();
    while t.elapsed() < limit {
        if cond() {
            return Some(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn host_links_of(w: &World) -> Vec<String> {
    my_links(w)
        .iter()
        .filter(|l| l["ifname"] != w.classic_br())
        .filter_map(|l| l["ifname"].as_str().map(String::from))
        .collect()
}

fn records_of(id: &str) -> Vec<String> {
    std::fs::read_dir(format!("/var/lib/pipework/containers/{id}"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn watch_rewires_restarted_containers_and_releases_dead_ones() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let w = World::new("wr");
    let ob = format!("ovs{}", w.prefix);
    let mut cs = Containers(vec![]);
    let (a, b) = (format!("{}a", w.prefix), format!("{}b", w.prefix));
    let pa = cs.start(&a);
    cs.start(&b);
    let br = w.classic_br();
    let watch = Watch::start(&w);
    // a by classic argv onto a Linux bridge (generated MAC); b by a script onto an OVS VLAN
    // port, with a route of its own.
    ok(&w.cmd(&[&br, &a, "198.18.97.2/24@198.18.97.1"]));
    let src = format!(
        r#"owner("{p}");
        let b = container("{b}");
        veth(b, ovs("{ob}"), #{{ifname: "eth2", ip: "198.18.98.2/24", vlan: 12}});
        route(b, "add 198.51.100.0/24 via 198.18.98.1 dev eth2");"#,
        p = w.prefix
    );
    ok(&w.eval(&src));
    let before_a = iface(&a, "eth1").expect("a's eth1");
    let before_b = iface(&b, "eth2").expect("b's eth2");
    assert_eq!(before_a.1, ["198.18.97.2/24"]);
    let id_a = docker(&["inspect", "-f", "{{.Id}}", &a]);
    let id_b = docker(&["inspect", "-f", "{{.Id}}", &b]);
    assert_eq!(records_of(&id_a), [format!("{a}.rhai")]);
    assert_eq!(records_of(&id_b), [format!("{}.rhai", w.prefix)]);

    // Restart: the same interface, address, MAC and default route, within 2 s.
    docker(&["restart", "-t", "0", &a]);
    let back = until(Duration::from_secs(5), || {
        iface(&a, "eth1").as_ref() == Some(&before_a)
            && routes_in(&a).contains("default via 198.18.97.1 dev eth1")
    });
    println!("docker restart {a}: wiring back {back:?} after the restart returned");
    let back = back.unwrap_or_else(|| panic!("a never came back:\n{}", watch.log()));
    assert!(back <= Duration::from_secs(2), "{back:?}");
    let pa2 = pid_of(&a);
    assert_ne!(pa, pa2);
    // The host side is the new one alone: the old host end did not pile up.
    let hosts = host_links_of(&w);
    assert!(hosts.contains(&format!("veth1pl{pa2}")), "{hosts:?}");
    assert!(!hosts.contains(&format!("veth1pl{pa}")), "{hosts:?}");
    assert_eq!(
        link(None, &format!("veth1pl{pa2}")).unwrap()["master"],
        br.as_str()
    );
    assert!(ping_from(&a, "198.18.97.2"));

    let old_port = vsctl(&["list-ports", &ob]);
    docker(&["restart", "-t", "0", &b]);
    let back = until(Duration::from_secs(5), || {
        iface(&b, "eth2").as_ref() == Some(&before_b)
            && routes_in(&b).contains("198.51.100.0/24 via 198.18.98.1 dev eth2")
    });
    println!("docker restart {b}: wiring back {back:?} after the restart returned");
    let back = back.unwrap_or_else(|| panic!("b never came back:\n{}", watch.log()));
    assert!(back <= Duration::from_secs(2), "{back:?}");
    let ports = vsctl(&["list-ports", &ob]);
    assert_eq!(
        ports.lines().count(),
        1,
        "one port for b, not a pile: {ports}"
    );
    assert_ne!(ports, old_port, "the port is the new host end's");
    assert_eq!(vsctl(&["get", "Port", &ports, "tag"]), "12");
    // The original pipework's keys too, for tools that read them.
    let key = |k: &str| {
        vsctl(&[
            "get",
            "Interface",
            &ports,
            &format!("external_ids:pipework.{k}"),
        ])
    };
    assert_eq!(key("containerid").trim_matches('"'), id_b);
    assert_eq!(key("containername").trim_matches('"'), format!("/{b}"));
    assert_eq!(key("nspid").trim_matches('"'), pid_of(&b).to_string());
    assert_eq!(key("vlan").trim_matches('"'), "12");
    assert_eq!(key("interface").trim_matches('"'), ports);
    assert_eq!(key("bridge").trim_matches('"'), ob);

    // Removed: its host end and OVS port go within 1 s, and so do its records.
    let port = ports.clone();
    let t = Instant::now();
    docker(&["rm", "-f", &b]);
    let rm_returned = t.elapsed();
    // Timed from before `rm`: the container dies during it.
    let gone = until(Duration::from_secs(3), || {
        vsctl(&["list-ports", &ob]).is_empty() && link(None, &port).is_none()
    })
    .map(|_| t.elapsed());
    println!("docker rm -f {b}: host end and OVS port gone {gone:?} after rm began (rm took {rm_returned:?})");
    let gone = gone.unwrap_or_else(|| panic!("b's port stayed:\n{}", watch.log()));
    assert!(gone <= Duration::from_secs(1), "{gone:?}");
    watch.await_count("records dropped", 1);
    assert!(records_of(&id_b).is_empty());

    // A DHCP client inside the container holds its namespace (and so the host end) alive: it
    // goes when the container dies, and a restart leases again (the same MAC, the same lease).
    let srv = w.ns("s");
    netns_add(&srv);
    ok(&w.cmd(&[&br, &format!("netns:{srv}"), "198.18.96.1/24"]));
    let _dhcpd = DhcpServer::start(&w, &srv, "198.18.96");
    // `udhcpc-f` leaves a client inside the container (holding its namespace, and so the host
    // end, alive); `dhcp` leaves pipework's lease keeper on the host.
    for (tag, form, process) in [("c", "udhcpc-f", "udhcpc"), ("d", "dhcp", "__dhcp-keep")] {
        let c = format!("{}{tag}", w.prefix);
        let pc = cs.start(&c);
        ok(&w.cmd(&[&br, &c, form]));
        let leased = iface(&c, "eth1").expect("eth1");
        assert!(
            leased.1.iter().any(|a| a.starts_with("198.18.96.")),
            "{leased:?}"
        );
        // A kept client has its warden beside it (its command line names the client and the
        // same directory); each is counted apart.
        let procs = |what: &str| -> Vec<u32> {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| {
                    let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                    let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    let warden = cmd.contains("__dhcp-warden");
                    (cmd.contains(what)
                        && (what == "__dhcp-warden" || !warden)
                        && cmd.contains(&format!("/run/pipework/dhcp/{c}/")))
                    .then_some(pid)
                })
                .collect()
        };
        let clients = || procs(process);
        let wardens = || procs("__dhcp-warden").len();
        let want_wardens = usize::from(form != "dhcp");
        assert_eq!(clients().len(), 1, "{form}: one {process} for {c}");
        assert_eq!(wardens(), want_wardens, "{form}: its warden");
        docker(&["restart", "-t", "0", &c]);
        let back = until(Duration::from_secs(5), || {
            iface(&c, "eth1").as_ref() == Some(&leased)
        });
        println!("{form}: docker restart {c}: lease back {back:?} after the restart returned");
        let back = back.unwrap_or_else(|| panic!("{c} never came back:\n{}", watch.log()));
        assert!(back <= Duration::from_secs(2), "{back:?}");
        let pc2 = pid_of(&c);
        let client = clients();
        assert_eq!(
            client.len(),
            1,
            "{form}: the old {process} went, one new one runs: {client:?}"
        );
        assert_eq!(
            wardens(),
            want_wardens,
            "{form}: the old warden went with its client"
        );
        let host_c = format!("veth1pl{pc2}");
        assert!(link(None, &format!("veth1pl{pc}")).is_none());
        assert!(link(None, &host_c).is_some());
        let t = Instant::now();
        docker(&["rm", "-f", &c]);
        let gone = until(Duration::from_secs(3), || {
            clients().is_empty() && wardens() == 0 && link(None, &host_c).is_none()
        })
        .map(|_| t.elapsed());
        println!("{form}: docker rm -f {c}: {process} and host end gone {gone:?} after rm began");
        let gone =
            gone.unwrap_or_else(|| panic!("{c}'s {process} or host end stayed:\n{}", watch.log()));
        assert!(gone <= Duration::from_secs(1), "{gone:?}");
        ok(&w.cmd(&["down", &c]));
    }

    // down: nothing of a's comes back any more, its records go with the rest.
    ok(&w.cmd(&["down", &a]));
    assert!(records_of(&id_a).is_empty(), "down kept a's records");
    docker(&["restart", "-t", "0", &a]);
    watch.await_count(&format!("container {a} ("), 2);
    std::thread::sleep(Duration::from_millis(300));
    assert!(iface(&a, "eth1").is_none(), "a torn-down wiring came back");
    ok(&w.cmd(&["down", &w.prefix, &format!("netns:{srv}")]));
    // The product's teardown, checked before the harness sweeps by prefix: no link, bridge
    // registration or record of any owner of this test is left.
    let left: Vec<String> = ip_json(None, &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["ifalias"]
                .as_str()
                .unwrap_or_default()
                .contains(&w.prefix)
        })
        .map(|l| l["ifname"].to_string())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let regs = std::path::Path::new("/run/pipework/bridges").join(&br);
    assert!(!regs.exists(), "registrations on {br} stayed");
    assert!(records_of(&id_a).is_empty() && records_of(&id_b).is_empty());
}

fn ping_from(c: &str, ip: &str) -> bool {
    dexec(c, &["ping", "-c", "1", "-W", "2", ip])
        .status
        .success()
}

/// dockerd restarted under watch: it reconnects, and a container that came back with its
/// daemon (restart policy) is wired again; later events are followed on the new connection.
#[test]
fn watch_resumes_after_dockerd_restarts() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let w = World::new("wd");
    let r = format!("{}r", w.prefix);
    let cs = Containers(vec![r.clone()]);
    docker(&[
        "run",
        "-d",
        "--restart=always",
        "--net=none",
        "--name",
        &r,
        "pipework-busybox",
        "/bin/sleep",
        "600",
    ]);
    let watch = Watch::start(&w);
    ok(&w.cmd(&[&w.classic_br(), &r, "198.18.99.2/24"]));
    let before = iface(&r, "eth1").expect("r's eth1");

    let pidfile = "/tmp/pipework-dockerd.pid";
    let pid = std::fs::read_to_string(pidfile).unwrap_or_else(|e| {
        panic!("{pidfile}: dockerd must be the one tests/docker/setup.sh started: {e}")
    });
    let pid = pid.trim();
    assert!(Command::new("kill").arg(pid).status().unwrap().success());
    until(Duration::from_secs(30), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .expect("dockerd did not stop");
    watch.await_count("Docker is not reachable", 1);
    let up = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/docker/setup.sh"
        ))
        .output()
        .unwrap();
    assert!(
        up.status.success(),
        "dockerd did not come back: {}",
        text(&up)
    );
    let t = Instant::now();
    let back = until(Duration::from_secs(20), || {
        iface(&r, "eth1").as_ref() == Some(&before)
    });
    println!("dockerd restarted: {r} wired again {back:?} after dockerd answered");
    back.unwrap_or_else(|| panic!("r never came back:\n{}", watch.log()));
    assert!(
        watch.log().matches("connected").count() >= 2,
        "{}",
        watch.log()
    );
    let _ = t;
    // Events flow on the new connection.
    docker(&["restart", "-t", "0", &r]);
    let again = until(Duration::from_secs(5), || {
        iface(&r, "eth1").as_ref() == Some(&before) && pid_of(&r) > 0
    });
    assert!(
        again.is_some_and(|d| d <= Duration::from_secs(2)),
        "{again:?}\n{}",
        watch.log()
    );
    ok(&w.cmd(&["down", &r]));
    assert!(host_links_of(&w).is_empty());
    drop(cs);
}

/// Wiring made while no records were kept (before watch ever ran on the machine, or with its
/// record removed) is adopted when watch starts: the live wiring becomes the record, and a
/// restart brings it back. The control: without watch, nothing writes that record.
#[test]
fn watch_adopts_wiring_made_before_records_were_kept() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let w = World::new("wa");
    let mut cs = Containers(vec![]);
    let c = format!("{}c", w.prefix);
    cs.start(&c);
    let br = w.classic_br();
    ok(&w.cmd(&[&br, &c, "198.18.99.2/24@198.18.99.1"]));
    let id = docker(&["inspect", "-f", "{{.Id}}", &c]);
    // As if wired before records were kept: no record of it.
    let _ = std::fs::remove_dir_all(format!("/var/lib/pipework/containers/{id}"));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        records_of(&id).is_empty(),
        "control: nothing wrote the record"
    );
    let before = iface(&c, "eth1").expect("eth1");
    let watch = Watch::start(&w);
    watch.await_count("adopted its wiring", 1);
    assert_eq!(records_of(&id), [format!("{c}.rhai")], "{}", watch.log());
    docker(&["restart", "-t", "0", &c]);
    let back = until(Duration::from_secs(5), || {
        iface(&c, "eth1").as_ref() == Some(&before)
            && routes_in(&c).contains("default via 198.18.99.1 dev eth1")
    });
    println!("adopted {c}: wiring back {back:?} after the restart returned");
    back.unwrap_or_else(|| panic!("{c} never came back:\n{}", watch.log()));
    ok(&w.cmd(&["down", &c]));
    assert!(records_of(&id).is_empty(), "down kept the adopted record");
}
