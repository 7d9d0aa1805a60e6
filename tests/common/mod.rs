//! Shared helpers for the root integration tiers: unique names per test, running the real binary,
//! reading kernel state back with iproute2's JSON output (an independent witness), and cleanup that
//! runs even when an assertion fails.
#![allow(dead_code)]

use serde_json::Value;
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pipework")
}

/// Per-test world: every namespace/bridge name starts with `prefix`, the owner is `prefix` too.
pub struct World {
    pub prefix: String,
    dir: std::path::PathBuf,
    /// Whether what `down` leaves fails the test (a test that leaves marked objects on purpose,
    /// for the product to refuse, says `w.leaks_expected()`).
    leaks_fail: bool,
}

impl World {
    pub fn new(tag: &str) -> World {
        assert!(
            nix_is_root(),
            "the host tier needs root (CAP_NET_ADMIN); run it via tests/run-all.sh as root"
        );
        // p + tag + 3 digits + one letter keeps `veth1pl<netns>` within the 15-byte limit, so
        // tests see the classic host-side names.
        assert!(
            tag.len() <= 3,
            "keep tags short: interface names are limited to 15 bytes"
        );
        // Tests of one binary run at once, in one process: two worlds with one tag would share
        // every name (and tear each other down).
        static TAGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        let mut tags = TAGS.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            !tags.iter().any(|t| t == tag),
            "World tag {tag:?} is taken by another test of this binary"
        );
        tags.push(tag.to_string());
        drop(tags);
        let prefix = format!("p{tag}{:03}", std::process::id() % 1000);
        let dir = std::env::temp_dir().join(format!("pipework-test-{prefix}"));
        let w = World {
            prefix,
            dir,
            leaks_fail: true,
        };
        w.cleanup();
        std::fs::create_dir_all(&w.dir).unwrap();
        w
    }

    /// This test leaves marked objects `down` must refuse to remove (the harness sweeps them).
    pub fn leaks_expected(&mut self) {
        self.leaks_fail = false;
    }

    pub fn ns(&self, n: &str) -> String {
        format!("{}{n}", self.prefix)
    }

    /// A bridge name the classic command line recognises (`br*`).
    pub fn classic_br(&self) -> String {
        format!("br{}", self.prefix)
    }

    pub fn br(&self) -> String {
        let b = format!("{}b", self.prefix);
        assert!(b.len() <= 15, "{b}");
        b
    }

    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .output()
            .expect("run pipework")
    }

    /// Run a script as `<prefix>.rhai`, so its owner is the prefix.
    pub fn script(&self, src: &str, params: &[&str]) -> Output {
        let path = self.dir.join(format!("{}.rhai", self.prefix));
        std::fs::write(&path, src).unwrap();
        let mut args = vec!["run", path.to_str().unwrap()];
        args.extend_from_slice(params);
        self.cmd(&args)
    }

    pub fn eval(&self, expr: &str) -> Output {
        let e = format!("owner({:?}); {expr}", self.prefix);
        self.cmd(&["-e", &e])
    }

    pub fn cleanup(&self) {
        let _ = Command::new(bin())
            .args(["-e", &format!("down({:?})", self.prefix)])
            .output();
        // Belt and braces, independent of the product: anything carrying our prefix.
        for ns in netns_list() {
            if ns.starts_with(&self.prefix) {
                let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            }
        }
        for l in ip_json(None, &["link", "show"])
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let name = l["ifname"].as_str().unwrap_or_default();
            let alias = l["ifalias"].as_str().unwrap_or_default();
            if name.starts_with(&self.prefix)
                || name.starts_with(&format!("br{}", self.prefix))
                || alias.contains(&format!("owner={}", self.prefix))
            {
                let _ = Command::new("ip").args(["link", "del", name]).status();
            }
        }
        // OVS bridges by name (the world's own are `ovs<prefix>…`), after the product had its go.
        if std::path::Path::new("/var/run/openvswitch/db.sock").exists() {
            let out = Command::new("ovs-vsctl")
                .args(["--timeout=10", "list-br"])
                .output()
                .expect("ovs-vsctl");
            for b in String::from_utf8_lossy(&out.stdout).lines() {
                if b.contains(&self.prefix) {
                    let _ = Command::new("ovs-vsctl")
                        .args(["--timeout=10", "--if-exists", "del-br", b])
                        .output();
                }
            }
        }
        // Per-guest state: DHCP client state (owner `netns:<prefix>…`), per-netns resolv.conf.
        for base in ["/run/pipework/dhcp", "/etc/netns"] {
            for dir in std::fs::read_dir(base).into_iter().flatten().flatten() {
                if dir.file_name().to_string_lossy().contains(&self.prefix) {
                    let _ = std::fs::remove_dir_all(dir.path());
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// dnsmasq serving DHCP inside a test namespace (already attached on `eth1` as `<net>.1/24`):
/// range <net>.50–99, router <net>.1, DNS server <net>.53, domain pipework.test. No DNS service,
/// no ping check (it would add 3 s to every first lease).
pub struct DhcpServer {
    child: std::process::Child,
    pub log: std::path::PathBuf,
}

impl DhcpServer {
    pub fn start(w: &World, ns: &str, net: &str) -> DhcpServer {
        Self::start_with(w, ns, net, &[])
    }

    pub fn start_with(w: &World, ns: &str, net: &str, extra: &[&str]) -> DhcpServer {
        Self::start_range(w, ns, net, (50, 99), extra)
    }

    /// The same, leasing <net>.LO–HI.
    pub fn start_range(
        w: &World,
        ns: &str,
        net: &str,
        (lo, hi): (u8, u8),
        extra: &[&str],
    ) -> DhcpServer {
        let log = w.dir.join(format!("dnsmasq-{ns}.log"));
        let leases = w.dir.join(format!("dnsmasq-{ns}.leases"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "dnsmasq",
                "--keep-in-foreground",
                "--no-ping",
            ])
            .args([
                "--no-resolv",
                "--no-hosts",
                "--port=0",
                "--interface=eth1",
                "--bind-dynamic",
            ])
            .arg(format!(
                "--dhcp-range={net}.{lo},{net}.{hi},255.255.255.0,120"
            ))
            .arg(format!("--dhcp-option=option:router,{net}.1"))
            .arg(format!("--dhcp-option=option:dns-server,{net}.53"))
            .arg("--dhcp-option=option:domain-name,pipework.test")
            .arg(format!("--dhcp-leasefile={}", leases.display()))
            .arg(format!("--log-facility={}", log.display()))
            .arg("--pid-file=")
            .args(extra)
            .spawn()
            .expect("dnsmasq (apt install dnsmasq-base; tests/run-all.sh does)");
        let s = DhcpServer { child, log };
        await_line(&s.log, "DHCP, sockets bound", "dnsmasq");
        s
    }
}

impl Drop for DhcpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait (4 s at most) until a helper's log says it is ready; panic with the log otherwise.
pub fn await_line(log: &std::path::Path, ready: &str, who: &str) {
    for _ in 0..200 {
        if std::fs::read_to_string(log)
            .unwrap_or_default()
            .contains(ready)
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!(
        "{who} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// The host's resolver file must come out of every DHCP test untouched.
pub struct HostResolv(Vec<u8>);

impl HostResolv {
    pub fn snapshot() -> HostResolv {
        HostResolv(std::fs::read("/etc/resolv.conf").unwrap_or_default())
    }

    pub fn assert_unchanged(&self) {
        let now = std::fs::read("/etc/resolv.conf").unwrap_or_default();
        if now != self.0 {
            // Put it back first: the rest of the machine (apt, cargo) depends on it.
            let _ = std::fs::write("/etc/resolv.conf", &self.0);
            panic!(
                "/etc/resolv.conf of the host was changed to:\n{}",
                String::from_utf8_lossy(&now)
            );
        }
    }
}

impl World {
    /// Everything carrying an owner marker of this world's (an owner name holding the prefix:
    /// the prefix itself, `netns:<prefix>a`, a container `<prefix>c`…), as (owner, what): links in
    /// the host and in this world's namespaces, OVS rows, bridge registrations, lease state,
    /// journals, watch records.
    pub fn marked(&self) -> Vec<(String, String)> {
        let mut found = vec![];
        let mut spaces: Vec<Option<String>> = vec![None];
        spaces.extend(
            netns_list()
                .into_iter()
                .filter(|n| n.starts_with(&self.prefix))
                .map(Some),
        );
        for ns in spaces {
            for l in ip_json(ns.as_deref(), &["link", "show"])
                .as_array()
                .cloned()
                .unwrap_or_default()
            {
                let alias = l["ifalias"].as_str().unwrap_or_default();
                let Some(rest) = alias.strip_prefix("pipework owner=") else {
                    continue;
                };
                let owner = rest.split_whitespace().next().unwrap_or_default();
                found.push((
                    owner.to_string(),
                    format!(
                        "link {} in {}",
                        l["ifname"],
                        ns.as_deref().unwrap_or("host")
                    ),
                ));
            }
        }
        let entries = |dir: &str| -> Vec<String> {
            std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        };
        for b in entries("/run/pipework/bridges") {
            for o in entries(&format!("/run/pipework/bridges/{b}")) {
                found.push((o.clone(), format!("registration of {o} on bridge {b}")));
            }
        }
        for d in ["dhcp", "journal"] {
            for o in entries(&format!("/run/pipework/{d}")) {
                found.push((o.clone(), format!("/run/pipework/{d}/{o}")));
            }
        }
        for id in entries("/var/lib/pipework/containers") {
            for f in entries(&format!("/var/lib/pipework/containers/{id}")) {
                let o = f.trim_end_matches(".rhai").to_string();
                found.push((o, format!("watch record {id}/{f}")));
            }
        }
        if std::path::Path::new("/var/run/openvswitch/db.sock").exists() {
            for table in ["Bridge", "Interface"] {
                let out = Command::new("ovs-vsctl")
                    .args([
                        "--timeout=10",
                        "--bare",
                        "--columns=name,external_ids",
                        "find",
                        table,
                    ])
                    .arg("external_ids:pipework.owner!=\"\"")
                    .output()
                    .expect("ovs-vsctl");
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                for pair in lines.chunks(2) {
                    if let [name, ids] = pair {
                        if let Some(o) = ids
                            .split_whitespace()
                            .find_map(|kv| kv.strip_prefix("pipework.owner="))
                        {
                            found.push((o.to_string(), format!("OVS {table} {name}")));
                        }
                    }
                }
            }
        }
        found.retain(|(o, _)| o.contains(&self.prefix));
        found
    }
}

impl Drop for World {
    /// Teardown is the product's job: every owner of this world goes through `pipework down`
    /// first, and whatever still carries its markers then is a leak the test fails on — checked
    /// before the prefix sweep below, which would otherwise hide it.
    fn drop(&mut self) {
        let mut owners: Vec<String> = self.marked().into_iter().map(|(o, _)| o).collect();
        owners.sort();
        owners.dedup();
        let mut leaks = vec![];
        if !owners.is_empty() {
            let out = self.cmd(
                &[
                    &["down"][..],
                    &owners.iter().map(String::as_str).collect::<Vec<_>>(),
                ]
                .concat(),
            );
            leaks = self.marked();
            if leaks.is_empty() && !out.status.success() {
                leaks.push((
                    String::new(),
                    format!("pipework down {owners:?} failed: {}", text(&out)),
                ));
            }
        }
        self.cleanup();
        if !leaks.is_empty() && !std::thread::panicking() && self.leaks_fail {
            panic!("pipework down left (after the test's own teardown): {leaks:#?}");
        }
    }
}

/// A stand-in for a physical NIC: a veth pair named `<prefix>p0`/`<prefix>p1` with the far end up
/// (never the machine's uplink); the world's cleanup removes it. Returns (near end, far end).
pub fn stand_in_nic(w: &World) -> (String, String) {
    let (p0, p1) = (format!("{}p0", w.prefix), format!("{}p1", w.prefix));
    for args in [
        vec![
            "link",
            "add",
            p0.as_str(),
            "type",
            "veth",
            "peer",
            "name",
            p1.as_str(),
        ],
        vec!["link", "set", p1.as_str(), "up"],
    ] {
        assert!(
            Command::new("ip").args(&args).status().unwrap().success(),
            "ip {args:?}"
        );
    }
    (p0, p1)
}

/// The intent journals an owner's runs left (`/run/pipework/journal/OWNER@PID.START`).
pub fn journals(owner: &str) -> Vec<String> {
    std::fs::read_dir("/run/pipework/journal")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| p.contains(&format!("/{owner}@")))
        .collect()
}

/// `ip ARGS…` for a test's own set-up; it must succeed.
pub fn ip_ok(args: &[&str]) {
    assert!(
        Command::new("ip").args(args).status().unwrap().success(),
        "ip {args:?}"
    );
}

/// A namespace made the way users make them (classic command lines need an existing guest).
pub fn netns_add(n: &str) {
    assert!(Command::new("ip")
        .args(["netns", "add", n])
        .status()
        .unwrap()
        .success());
}

pub fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

pub fn netns_list() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-j", "netns", "list"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// `ip -j [-n NS] ARGS…` parsed.
pub fn ip_json(ns: Option<&str>, args: &[&str]) -> Value {
    let mut c = Command::new("ip");
    c.arg("-j");
    if let Some(n) = ns {
        c.args(["-n", n]);
    }
    let out = c.args(args).output().expect("ip must be installed");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // A device that is not there is an answer (Null: callers read it as absent); any other
        // failure is a broken check, and a negative check built on it would pass by accident.
        // "No such device" is the same answer when the device goes between ip's name look-up
        // and its get (a namespace being freed takes its devices with it at any moment).
        if err.contains("does not exist")
            || err.contains("Cannot find device")
            || err.contains("No such device")
        {
            return Value::Null;
        }
        panic!("ip -j {ns:?} {args:?} failed: {}", text(&out));
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ip -j {args:?} printed no JSON ({e}): {}", text(&out)))
}

pub fn link(ns: Option<&str>, name: &str) -> Option<Value> {
    ip_json(ns, &["-d", "link", "show", "dev", name])
        .as_array()
        .and_then(|a| a.first().cloned())
}

/// `tc OPTS -n NS WHAT show dev DEV` (qdisc, class, filter), as tc prints it. tc failing panics: a
/// "not there" check must not pass on an empty answer.
pub fn tc_show(ns: &str, opts: &[&str], what: &str, dev: &str) -> String {
    let out = Command::new("tc")
        .args(opts)
        .args(["-n", ns, what, "show", "dev", dev])
        .output()
        .expect("tc must be installed");
    assert!(
        out.status.success(),
        "tc {what} show in {ns}: {}",
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

pub fn addrs(ns: Option<&str>, name: &str) -> Vec<String> {
    ip_json(ns, &["addr", "show", "dev", name])
        .as_array()
        .and_then(|a| a.first().cloned())
        .and_then(|l| l["addr_info"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|a| format!("{}/{}", a["local"].as_str().unwrap_or(""), a["prefixlen"]))
        .collect()
}

/// Links in the host namespace that belong to this world (tests run in parallel; ignore the others).
pub fn my_links(w: &World) -> Vec<Value> {
    let owner = format!("owner={}", w.prefix);
    ip_json(None, &["link", "show"])
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|l| {
            l["ifname"]
                .as_str()
                .unwrap_or_default()
                .starts_with(&w.prefix)
                || l["ifalias"].as_str().unwrap_or_default().contains(&owner)
        })
        .collect()
}

/// Global (non link-local) addresses.
pub fn global_addrs(ns: Option<&str>, name: &str) -> Vec<String> {
    addrs(ns, name)
        .into_iter()
        .filter(|a| !a.starts_with("fe80"))
        .collect()
}

pub fn routes(ns: &str) -> Vec<Value> {
    ip_json(Some(ns), &["route", "show"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Independent reachability witness: iputils/busybox ping inside the namespace.
/// One echo from `ns` to `ip`: true for a reply, false for none. Anything else (no ping installed,
/// no such namespace, a bad address) panics: "no reply" must mean the network said no.
pub fn ping(ns: &str, ip: &str) -> bool {
    let o = Command::new("ip")
        .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip])
        .output()
        .expect("ip must be installed");
    // `ip netns exec` also exits 1 when it cannot start ping: only ping's own tally means "sent,
    // no reply".
    let sent = String::from_utf8_lossy(&o.stdout).contains("packets transmitted");
    match o.status.code() {
        Some(0) => true,
        Some(1) if sent => false,
        _ => panic!("ping {ip} from {ns} could not run: {}", text(&o)),
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "pipework failed:\n{}", text(o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn fails(o: &Output) -> String {
    assert!(
        !o.status.success(),
        "pipework should have failed:\n{}",
        text(o)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A packet capture (tcpdump) on one interface, on the host or inside a namespace, that is known to
/// be listening before `start` returns, so nothing sent afterwards can be missed.
pub struct Capture {
    child: std::process::Child,
    err: std::path::PathBuf,
}

impl Capture {
    pub fn start(w: &World, ns: Option<&str>, ifname: &str, filter: &str) -> Capture {
        let err = w
            .dir()
            .join(format!("tcpdump-{}-{ifname}.err", ns.unwrap_or("host")));
        let mut c = match ns {
            Some(n) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", n, "tcpdump"]);
                c
            }
            None => Command::new("tcpdump"),
        };
        let child = c
            .args(["-i", ifname, "-n", "-l", "-U", filter])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("tcpdump (apt install tcpdump; tests/run-all.sh does)");
        // Owned at once, so a capture that never starts is still killed and reaped (Drop).
        let cap = Capture { child, err };
        await_line(&cap.err, "listening on", "tcpdump");
        cap
    }

    /// Stop the capture and return what it printed, one packet a line.
    pub fn stop(mut self) -> String {
        use std::io::Read;
        // SIGINT makes tcpdump flush and exit cleanly.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let mut out = String::new();
        if let Some(mut o) = self.child.stdout.take() {
            o.read_to_string(&mut out).unwrap();
        }
        let st = self.child.wait().unwrap();
        assert!(
            st.success() || st.code() == Some(0),
            "tcpdump failed ({st}): {}",
            std::fs::read_to_string(&self.err).unwrap_or_default()
        );
        out
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Busybox containers (`--net=none`, the image tests/docker/setup.sh builds), removed on drop.
pub struct Containers(pub Vec<String>);

impl Containers {
    pub fn start(&mut self, name: &str) -> u32 {
        let out = Command::new("docker")
            .args([
                "run",
                "-d",
                "--net=none",
                "--name",
                name,
                "pipework-busybox",
                "/bin/sleep",
                "600",
            ])
            .output()
            .expect("docker (run tests/docker/setup.sh first)");
        assert!(
            out.status.success(),
            "docker run {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.0.push(name.to_string());
        pid_of(name)
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for c in &self.0 {
            // Classic argv wires a container as its own owner (a test that failed half-way has not
            // said `down` for it).
            let _ = Command::new(bin()).args(["down", c]).output();
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
    }
}

/// `docker exec C ARGS…` (the container's own tools: an independent view from inside it).
pub fn dexec(c: &str, args: &[&str]) -> Output {
    Command::new("docker")
        .arg("exec")
        .arg(c)
        .args(args)
        .output()
        .expect("docker")
}

pub fn pid_of(name: &str) -> u32 {
    let out = Command::new("docker")
        .args(["inspect", "-f", "{{.State.Pid}}", name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// `ovs-vsctl ARGS…` against the machine's OVS (tests/ovs/setup.sh starts it); must succeed.
pub fn vsctl(args: &[&str]) -> String {
    let out = Command::new("ovs-vsctl")
        .arg("--timeout=10")
        .args(args)
        .output()
        .expect("ovs-vsctl");
    assert!(
        out.status.success(),
        "ovs-vsctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
