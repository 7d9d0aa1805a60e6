//! CNI tier: pipework as a CNI plugin, run the way runtimes run plugins — the verb and container in
//! `CNI_*` variables, the network config on stdin, the reference `host-local` plugin for addresses —
//! and then by the CNI project's own libcni (tests/cni/client, chained with the reference
//! `bandwidth` plugin) and by podman with its CNI backend. The kernel's state is read back with
//! iproute2, and every test ends with nothing of its own left (World's leak check).

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const REFERENCE_PLUGINS: &str = "/usr/lib/cni";

/// One plugin run: `(exit code, stdout as JSON or Null)`.
fn cni(verb: &str, conf: &Value, env: &[(&str, &str)]) -> (i32, Value) {
    cni_raw(verb, conf.to_string().as_bytes(), env)
}

fn cni_raw(verb: &str, stdin: &[u8], env: &[(&str, &str)]) -> (i32, Value) {
    let mut c = Command::new(bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CNI_COMMAND", verb)
        .env("CNI_PATH", REFERENCE_PLUGINS)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run pipework as a plugin");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    if !out.status.success() {
        eprintln!("{verb}: {} / {}", text(&out), v);
    }
    (out.status.code().unwrap_or(-1), v)
}

/// A bridge network of this world, addresses from host-local with its state in the world's dir.
fn bridge_conf(w: &World, version: &str, subnet: &str) -> Value {
    json!({
        "cniVersion": version,
        "name": w.ns("net"),
        "type": "pipework",
        "bridge": w.br(),
        "isDefaultGateway": true,
        "ipam": {"type": "host-local", "subnet": subnet,
                 "dataDir": w.dir().join("ipam").display().to_string()}
    })
}

/// The runtime's variables for container `id` in namespace `ns` (a name under /run/netns).
fn attachment<'a>(ns: &'a str, id: &'a str) -> Vec<(&'static str, String)> {
    vec![
        ("CNI_CONTAINERID", id.to_string()),
        ("CNI_NETNS", format!("/run/netns/{ns}")),
        ("CNI_IFNAME", "eth0".to_string()),
    ]
}

fn env<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

/// Addresses host-local holds for this world's network (one file per address).
fn allocated(w: &World) -> Vec<String> {
    allocated_in(w, &w.ns("net"))
}

fn allocated_in(w: &World, net: &str) -> Vec<String> {
    std::fs::read_dir(w.dir().join("ipam").join(net))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains('.') || n.contains(':'))
        .filter(|n| !n.starts_with("last_reserved_ip") && n != "lock")
        .collect()
}

fn with_prev(conf: &Value, prev: &Value) -> Value {
    let mut c = conf.clone();
    c["prevResult"] = prev.clone();
    c
}

#[test]
fn cni_add_check_del_as_a_runtime_calls_them() {
    let w = World::new("ca");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "c0ffee01");
    let e = env(&vars);
    let conf = bridge_conf(&w, "1.0.0", "198.18.40.0/24");

    let (code, res) = cni("ADD", &conf, &e);
    assert_eq!(code, 0, "{res}");
    assert_eq!(res["cniVersion"], "1.0.0");
    let ifs = res["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 3, "bridge, host end, container end: {res}");
    assert_eq!(ifs[0]["name"], w.br().as_str());
    assert_eq!(ifs[2]["name"], "eth0");
    assert_eq!(ifs[2]["sandbox"], format!("/run/netns/{ns}").as_str());
    let ip = &res["ips"][0];
    assert_eq!(ip["interface"], 2);
    assert_eq!(ip["address"], "198.18.40.2/24");
    assert_eq!(ip["gateway"], "198.18.40.1");
    assert!(
        ip.get("version").is_none(),
        "1.0.0 results carry no version"
    );
    // The kernel agrees: the address and MAC in the container, its default route, the gateway
    // on the bridge, the host end a port of it.
    assert_eq!(global_addrs(Some(&ns), "eth0"), vec!["198.18.40.2/24"]);
    let l = link(Some(&ns), "eth0").unwrap();
    assert_eq!(l["address"], ifs[2]["mac"]);
    let r = routes(&ns);
    assert!(
        r.iter()
            .any(|r| r["dst"] == "default" && r["gateway"] == "198.18.40.1"),
        "{r:?}"
    );
    assert_eq!(global_addrs(None, &w.br()), vec!["198.18.40.1/24"]);
    let host_end = ifs[1]["name"].as_str().unwrap();
    assert_eq!(
        link(None, host_end).unwrap()["master"],
        w.br().as_str(),
        "host end on the bridge"
    );
    assert!(
        ping(&ns, "198.18.40.1"),
        "the container reaches its gateway"
    );

    let (code, out) = cni("CHECK", &with_prev(&conf, &res), &e);
    assert_eq!(code, 0, "CHECK of a fresh ADD: {out}");
    // CHECK fails, by name, when what ADD made has changed.
    ip_ok(&["-n", &ns, "addr", "del", "198.18.40.2/24", "dev", "eth0"]);
    let (code, out) = cni("CHECK", &with_prev(&conf, &res), &e);
    assert_eq!(code, 1);
    assert_eq!(out["code"], 101, "{out}");
    assert!(
        out["msg"]
            .as_str()
            .unwrap()
            .contains("lacks 198.18.40.2/24"),
        "{out}"
    );

    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, Value::Null, "DEL prints nothing");
    assert!(link(Some(&ns), "eth0").is_none());
    assert!(link(None, host_end).is_none());
    assert!(
        link(None, &w.br()).is_none(),
        "the bridge it made goes with its last user"
    );
    assert!(
        allocated(&w).is_empty(),
        "the address went back to the pool"
    );
    // DEL is idempotent.
    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "second DEL: {out}");
}

#[test]
fn cni_del_succeeds_when_the_namespace_is_gone() {
    let w = World::new("cg");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "gone01");
    let e = env(&vars);
    let conf = bridge_conf(&w, "1.0.0", "198.18.41.0/24");
    let (code, res) = cni("ADD", &conf, &e);
    assert_eq!(code, 0, "{res}");
    let host_end = res["interfaces"][1]["name"].as_str().unwrap().to_string();
    // An IPAM plugin that cannot be run fails DEL with its error, but our side goes all the
    // same; the runtime's retry finds only the address left to give back.
    let mut broken = e.clone();
    broken.push(("CNI_PATH", "/nonexistent"));
    let (code, out) = cni("DEL", &conf, &broken);
    assert_eq!((code, out["code"].as_u64()), (1, Some(7)), "{out}");
    assert!(link(None, &host_end).is_none(), "our side stayed");
    assert_eq!(allocated(&w).len(), 1, "host-local was never asked");
    ip_ok(&["netns", "del", &ns]);
    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "DEL after the namespace vanished: {out}");
    assert!(link(None, &host_end).is_none());
    assert!(link(None, &w.br()).is_none());
    assert!(allocated(&w).is_empty());
    // And with no CNI_NETNS at all, as the spec allows for DEL.
    let (code, out) = cni(
        "DEL",
        &conf,
        &e[..1].iter().chain(&e[2..]).copied().collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "DEL without CNI_NETNS: {out}");
}

#[test]
fn cni_bad_input_gets_the_spec_error_and_changes_nothing() {
    let w = World::new("cb");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "bad01");
    let e = env(&vars);
    let good = bridge_conf(&w, "1.0.0", "198.18.42.0/24");
    // (config, environment, the error code wanted (0: the IPAM plugin's own), what it says)
    type Case<'a> = (Value, Vec<(&'a str, &'a str)>, u64, &'a str);
    let mut cases: Vec<Case> = vec![];
    let mut v = good.clone();
    v["cniVersion"] = "0.2.0".into();
    cases.push((v, e.clone(), 1, "not supported"));
    let mut v = good.clone();
    v["ipMasq"] = true.into();
    cases.push((v, e.clone(), 2, "ipMasq"));
    cases.push((good.clone(), vec![e[0], e[2]], 4, "CNI_NETNS"));
    cases.push((
        good.clone(),
        vec![e[0], ("CNI_NETNS", "/run/netns/pipework-no-such-ns"), e[2]],
        3,
        "not found",
    ));
    let mut v = good.clone();
    v["mtu"] = "big".into();
    cases.push((v, e.clone(), 7, "whole number"));
    let mut v = good.clone();
    v["ipam"]["type"] = "no-such-ipam".into();
    cases.push((v, e.clone(), 7, "not in CNI_PATH"));
    let mut v = good.clone();
    v["ipam"]["subnet"] = "not-a-subnet".into();
    cases.push((v, e.clone(), 0, "IPAM plugin host-local"));
    // The host side named as a bridge is an interface of another kind.
    let (p0, _) = stand_in_nic(&w);
    let mut v = good.clone();
    v["bridge"] = p0.clone().into();
    cases.push((v, e.clone(), 101, "was named as a Linux bridge"));
    for (conf, env, code, says) in cases {
        let (rc, out) = cni("ADD", &conf, &env);
        assert_eq!(rc, 1, "{conf}: {out}");
        if code != 0 {
            assert_eq!(out["code"], code, "{conf}: {out}");
        }
        assert!(
            out["msg"].as_str().unwrap_or_default().contains(says),
            "{says}: {out}"
        );
        assert!(link(None, &w.br()).is_none(), "{conf}: a bridge was left");
        assert!(link(Some(&ns), "eth0").is_none());
        assert!(
            allocated(&w).is_empty(),
            "{conf}: an address stayed allocated"
        );
    }
    let (rc, out) = cni_raw("ADD", b"{not json", &e);
    assert_eq!((rc, out["code"].as_u64()), (1, Some(6)), "{out}");
    let (rc, out) = cni_raw("FROB", b"{}", &e);
    assert_eq!((rc, out["code"].as_u64()), (1, Some(4)), "{out}");
    // A failure after the address was taken gives it back: a route the kernel refuses (its
    // gateway is on no subnet of the container).
    let mut v = good.clone();
    v["ipam"]["routes"] = json!([{"dst": "198.19.0.0/16", "gw": "198.51.100.1"}]);
    let (rc, out) = cni("ADD", &v, &e);
    assert_eq!((rc, out["code"].as_u64()), (1, Some(100)), "{out}");
    assert!(
        allocated(&w).is_empty(),
        "rolled back, the address went back"
    );
    assert!(
        link(None, &w.br()).is_none(),
        "rolled back, the bridge went"
    );
    assert!(link(Some(&ns), "eth0").is_none());
    // The interface name is taken in the container already: refused before IPAM is asked.
    ip_ok(&[
        "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", "other",
    ]);
    let (rc, out) = cni("ADD", &good, &e);
    assert_eq!((rc, out["code"].as_u64()), (1, Some(101)), "{out}");
    assert!(allocated(&w).is_empty());
    assert!(
        link(None, &w.br()).is_none(),
        "rolled back, the bridge went"
    );
}

#[test]
fn cni_version_lists_what_it_speaks() {
    let (rc, out) = cni_raw("VERSION", br#"{"cniVersion":"1.0.0"}"#, &[]);
    assert_eq!(rc, 0);
    assert_eq!(out["cniVersion"], "1.0.0");
    let v: Vec<&str> = out["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        assert!(v.contains(&want), "{v:?}");
    }
    let (rc, out) = cni_raw("VERSION", b"", &[]);
    assert_eq!((rc, out["cniVersion"].as_str()), (0, Some("1.1.0")));
    // Also as `pipework cni`.
    let out = Command::new(bin())
        .arg("cni")
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(text(&out).contains("supportedVersions"), "{}", text(&out));
}

#[test]
fn cni_older_results_and_chained_prev_results() {
    let w = World::new("co");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "old01");
    let e = env(&vars);
    // Chained after another plugin: its interfaces and addresses come first, ours after them.
    let prev = json!({"cniVersion": "0.3.1",
        "interfaces": [{"name": "lo0x", "sandbox": "/x"}],
        "ips": [{"version": "4", "address": "198.51.100.9/32", "interface": 0}],
        "dns": {"nameservers": ["198.51.100.53"]}});
    let mut conf = bridge_conf(&w, "0.3.1", "198.18.43.0/24");
    conf["prevResult"] = prev;
    conf["rate"] = "10mbit".into();
    let (code, res) = cni("ADD", &conf, &e);
    assert_eq!(code, 0, "{res}");
    let ifs = res["interfaces"].as_array().unwrap();
    assert_eq!(ifs.len(), 4, "{res}");
    assert_eq!(ifs[0]["name"], "lo0x");
    let ips = res["ips"].as_array().unwrap();
    assert_eq!(ips[0]["address"], "198.51.100.9/32");
    assert_eq!(ips[1]["interface"], 3, "{res}");
    assert_eq!(ips[1]["version"], "4", "0.3.x results say the version");
    assert_eq!(res["dns"]["nameservers"][0], "198.51.100.53", "{res}");
    // The rate is a tbf on the container's interface.
    let q = ip_json(Some(&ns), &["link", "show", "eth0"]);
    assert_eq!(q[0]["qdisc"], "tbf", "{q}");
    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "{out}");
    // CHECK came with 0.4.0.
    let (code, out) = cni("CHECK", &conf, &e);
    assert_eq!((code, out["code"].as_u64()), (1, Some(1)), "{out}");
}

#[test]
fn cni_status_and_gc_of_spec_1_1() {
    let w = World::new("cs");
    // Debian's reference IPAM plugins stop at spec 1.0.0, and a plugin hands its IPAM plugin its
    // own config version: this network wires layer 2 only.
    let mut conf = bridge_conf(&w, "1.1.0", "198.18.44.0/24");
    let c = conf.as_object_mut().unwrap();
    c.remove("ipam");
    c.remove("isDefaultGateway");
    let (code, out) = cni("STATUS", &conf, &[]);
    assert_eq!(code, 0, "{out}");
    let mut nic = conf.clone();
    nic.as_object_mut().unwrap().remove("bridge");
    nic.as_object_mut().unwrap().remove("isDefaultGateway");
    nic["master"] = w.ns("nonic").into();
    let (code, out) = cni("STATUS", &nic, &[]);
    assert_eq!((code, out["code"].as_u64()), (1, Some(50)), "{out}");

    let mut ids = vec![];
    for n in ["a", "b", "c"] {
        let ns = w.ns(n);
        netns_add(&ns);
        let vars = attachment(&ns, n);
        let (code, out) = cni("ADD", &conf, &env(&vars));
        assert_eq!(code, 0, "{out}");
        ids.push(n);
    }
    let mut gc = conf.clone();
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "b", "ifname": "eth0"}]);
    let (code, out) = cni("GC", &gc, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(link(Some(&w.ns("a")), "eth0").is_none(), "a was not listed");
    assert!(link(Some(&w.ns("c")), "eth0").is_none(), "c was not listed");
    assert!(link(Some(&w.ns("b")), "eth0").is_some(), "b stays");
    assert!(link(None, &w.br()).is_some(), "b still uses the bridge");
    let vars = attachment(&w.ns("b"), "b");
    let (code, out) = cni("DEL", &conf, &env(&vars));
    assert_eq!(code, 0, "{out}");
}

/// macvlan children of a `master`, in the default bridge mode (two containers reach each other)
/// and in private mode (they do not: the kernel's mode, proven by traffic).
#[test]
fn cni_macvlan_on_a_master() {
    let w = World::new("cm");
    let (p0, _) = stand_in_nic(&w);
    let ns = [w.ns("a"), w.ns("b")];
    for n in &ns {
        netns_add(n);
    }
    let conf = |mode: Option<&str>, addr: &str| {
        let mut c = json!({"cniVersion": "1.0.0", "name": w.ns("net"), "type": "pipework",
            "master": p0, "mtu": 1400,
            "ipam": {"type": "static", "addresses": [{"address": addr, "gateway": "198.18.45.1"}],
                     "routes": [{"dst": "0.0.0.0/0"}]}});
        if let Some(m) = mode {
            c["mode"] = m.into();
        }
        c
    };
    for (mode, meet) in [(None, true), (Some("private"), false)] {
        let confs = [conf(mode, "198.18.45.7/24"), conf(mode, "198.18.45.8/24")];
        for (n, c) in ns.iter().zip(&confs) {
            let vars = attachment(n, n);
            let e = env(&vars);
            let (code, res) = cni("ADD", c, &e);
            assert_eq!(code, 0, "{res}");
            assert_eq!(res["interfaces"].as_array().unwrap().len(), 1, "{res}");
            let l = link(Some(n), "eth0").unwrap();
            assert_eq!(l["linkinfo"]["info_kind"], "macvlan", "{l}");
            assert_eq!(
                l["linkinfo"]["info_data"]["mode"],
                mode.unwrap_or("bridge"),
                "{l}"
            );
            assert_eq!(l["mtu"], 1400);
            let (code, out) = cni("CHECK", &with_prev(c, &res), &e);
            assert_eq!(code, 0, "{out}");
        }
        assert_eq!(
            ping(&ns[0], "198.18.45.8"),
            meet,
            "{mode:?}: children of one master meeting"
        );
        for (n, c) in ns.iter().zip(&confs) {
            let vars = attachment(n, n);
            let (code, out) = cni("DEL", c, &env(&vars));
            assert_eq!(code, 0, "{out}");
            assert!(link(Some(n), "eth0").is_none());
        }
    }
    assert!(link(None, &p0).is_some(), "the master stays");
}

#[test]
fn cni_ovs_with_a_vlan_tag() {
    let w = World::new("cv");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "ovs01");
    let e = env(&vars);
    let br = format!("ovs{}", w.prefix);
    let conf = json!({"cniVersion": "1.0.0", "name": w.ns("net"), "type": "pipework",
        "ovs": br, "vlan": 42,
        "ipam": {"type": "static", "addresses": [{"address": "198.18.46.7/24"}]}});
    let (code, res) = cni("ADD", &conf, &e);
    assert_eq!(code, 0, "{res}");
    let host_end = res["interfaces"][1]["name"].as_str().unwrap().to_string();
    assert_eq!(vsctl(&["get", "Port", &host_end, "tag"]).trim(), "42");
    let (code, out) = cni("CHECK", &with_prev(&conf, &res), &e);
    assert_eq!(code, 0, "{out}");
    // Out of the bridge, the port fails CHECK (and is still this attachment's to remove).
    vsctl(&["del-port", &br, &host_end]);
    let (code, out) = cni("CHECK", &with_prev(&conf, &res), &e);
    assert_eq!((code, out["code"].as_u64()), (1, Some(101)), "{out}");
    assert!(
        out["msg"].as_str().unwrap().contains("is not a port of"),
        "{out}"
    );
    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "{out}");
    assert!(
        !vsctl(&["list-br"]).contains(&br),
        "the OVS bridge it made went"
    );
    assert!(link(None, &host_end).is_none());
}

/// The CNI project's libcni runs a conflist of pipework and the reference `bandwidth` plugin:
/// ADD (bandwidth finds the host end in our result), CHECK, DEL.
#[test]
fn cni_libcni_runs_a_conflist_with_bandwidth_chained() {
    let w = World::new("cl");
    let client = w.dir().join("cni-client");
    let built = Command::new("tests/cni/build-client.sh")
        .arg(&client)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built));
    let plugins = w.dir().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(bin(), plugins.join("pipework")).unwrap();
    let list = json!({"cniVersion": "1.0.0", "name": w.ns("net"), "plugins": [
        {"type": "pipework", "bridge": w.br(), "isGateway": true,
         "ipam": {"type": "host-local", "subnet": "198.18.47.0/24", "routes": [{"dst": "0.0.0.0/0"}],
                  "dataDir": w.dir().join("ipam").display().to_string()}},
        {"type": "bandwidth", "ingressRate": 8000000, "ingressBurst": 100000,
         "egressRate": 8000000, "egressBurst": 100000}]});
    let file = w.dir().join("net.conflist");
    std::fs::write(&file, list.to_string()).unwrap();
    let ns = w.ns("a");
    netns_add(&ns);
    let run = |verb: &str| {
        Command::new(&client)
            .args([
                verb,
                file.to_str().unwrap(),
                &format!("/run/netns/{ns}"),
                "lib01",
            ])
            .env(
                "CNI_PLUGIN_DIRS",
                format!("{}:{REFERENCE_PLUGINS}", plugins.display()),
            )
            .env("CNI_CACHE_DIR", w.dir().join("cache"))
            .output()
            .unwrap()
    };
    let out = run("validate");
    assert!(out.status.success(), "{}", text(&out));
    let out = run("add");
    assert!(out.status.success(), "{}", text(&out));
    let res: Value = serde_json::from_slice(&out.stdout).unwrap();
    let host_end = res["interfaces"][1]["name"].as_str().unwrap().to_string();
    // bandwidth shaped the host end pipework reported (its ingress is the container's egress).
    let q = ip_json(None, &["link", "show", &host_end]);
    assert_eq!(q[0]["qdisc"], "tbf", "{q}");
    assert!(ping(&ns, "198.18.47.1"));
    let out = run("check");
    assert!(out.status.success(), "{}", text(&out));
    let out = run("del");
    assert!(out.status.success(), "{}", text(&out));
    assert!(link(None, &host_end).is_none());
    assert!(link(Some(&ns), "eth0").is_none());
    assert!(link(None, &w.br()).is_none());
    assert!(allocated(&w).is_empty());
}

/// Podman with its CNI backend starts two containers on a `pipework` network (a containers.conf
/// of the test's own points podman at the plugin and the conflist): they reach each other, and
/// `podman rm` (DEL) leaves no interface, bridge or address behind.
#[test]
fn cni_podman_containers_on_a_pipework_network() {
    let w = World::new("cp");
    let plugins = w.dir().join("plugins");
    let nets = w.dir().join("net.d");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::create_dir_all(&nets).unwrap();
    std::os::unix::fs::symlink(bin(), plugins.join("pipework")).unwrap();
    let conf = w.dir().join("containers.conf");
    std::fs::write(
        &conf,
        format!(
            "[network]\nnetwork_backend = \"cni\"\ncni_plugin_dirs = [{:?}, {REFERENCE_PLUGINS:?}]\nnetwork_config_dir = {:?}\n",
            plugins.display().to_string(),
            nets.display().to_string()
        ),
    )
    .unwrap();
    let net = w.ns("pod");
    let list = json!({"cniVersion": "1.0.0", "name": net, "plugins": [
        {"type": "pipework", "bridge": w.br(), "isGateway": true,
         "ipam": {"type": "host-local", "subnet": "198.18.48.0/24",
                  "dataDir": w.dir().join("ipam").display().to_string()}}]});
    std::fs::write(nets.join(format!("{net}.conflist")), list.to_string()).unwrap();
    let podman = |args: &[&str]| {
        Command::new("podman")
            .env("CONTAINERS_CONF", &conf)
            .args(args)
            .output()
            .expect("podman (tests/podman/setup.sh installs it)")
    };
    let names = [w.ns("c1"), w.ns("c2")];
    struct Remove<'a>(&'a dyn Fn(&[&str]) -> std::process::Output, &'a [String]);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            for n in self.1 {
                (self.0)(&["rm", "-f", "-t", "0", n]);
            }
        }
    }
    let _remove = Remove(&podman, &names);
    for n in &names {
        let out = podman(&[
            "run",
            "-d",
            "--name",
            n,
            "--network",
            &net,
            "--runtime",
            "/usr/local/sbin/pipework-test-runc",
            "--cap-add",
            "NET_RAW",
            "localhost/pipework-busybox",
            "/bin/sleep",
            "600",
        ]);
        assert!(out.status.success(), "podman run {n}: {}", text(&out));
    }
    let addr = podman(&["exec", &names[1], "ip", "-4", "-o", "addr", "show", "eth0"]);
    let t = String::from_utf8_lossy(&addr.stdout).to_string();
    let ip2 = t
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no IPv4 address on c2's eth0: {t}"))
        .to_string();
    assert!(ip2.starts_with("198.18.48."), "{ip2}");
    let out = podman(&["exec", &names[0], "ping", "-c", "1", "-W", "2", &ip2]);
    assert!(out.status.success(), "c1 cannot reach c2: {}", text(&out));
    let ports = ip_json(None, &["link", "show", "master", &w.br()]);
    assert_eq!(ports.as_array().unwrap().len(), 2, "{ports}");
    for n in &names {
        let out = podman(&["rm", "-f", "-t", "0", n]);
        assert!(out.status.success(), "podman rm {n}: {}", text(&out));
    }
    assert!(
        link(None, &w.br()).is_none(),
        "the bridge went with its last container"
    );
    let left: Vec<Value> = ip_json(None, &["link", "show"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["ifalias"].as_str().unwrap_or_default().contains(&net))
        .cloned()
        .collect();
    assert!(
        left.is_empty(),
        "host interfaces left after podman rm: {left:?}"
    );
    let pool = allocated_in(&w, &net);
    assert!(pool.is_empty(), "addresses still allocated: {pool:?}");
}

/// Runtimes call plugins for many containers at once (a kubelet starting a node's pods): ADDs onto
/// a bridge none of them finds, then DELs, all at the same time, several rounds (a race shows as a
/// failed ADD, a port missing, or a bridge left or removed under a user).
#[test]
fn cni_parallel_adds_and_dels_on_one_new_bridge() {
    let w = World::new("cx");
    let conf = bridge_conf(&w, "1.0.0", "198.18.49.0/24");
    const N: usize = 8;
    let names: Vec<String> = (0..N).map(|i| w.ns(&format!("g{i}"))).collect();
    for n in &names {
        netns_add(n);
    }
    let all = |verb: &str| {
        std::thread::scope(|sc| {
            let runs: Vec<_> = names
                .iter()
                .map(|n| {
                    let conf = &conf;
                    sc.spawn(move || {
                        let vars = attachment(n, n);
                        cni(verb, conf, &env(&vars))
                    })
                })
                .collect();
            runs.into_iter()
                .map(|r| r.join().unwrap())
                .collect::<Vec<_>>()
        })
    };
    for round in 0..4 {
        for (code, out) in all("ADD") {
            assert_eq!(code, 0, "round {round}: {out}");
        }
        let ports = ip_json(None, &["link", "show", "master", &w.br()]);
        assert_eq!(
            ports.as_array().map(Vec::len),
            Some(N),
            "round {round}: {ports}"
        );
        for n in &names {
            assert_eq!(global_addrs(Some(n), "eth0").len(), 1, "round {round}: {n}");
        }
        for (code, out) in all("DEL") {
            assert_eq!(code, 0, "round {round}: {out}");
        }
        assert!(
            link(None, &w.br()).is_none(),
            "round {round}: the bridge stayed"
        );
        assert!(allocated(&w).is_empty(), "round {round}");
    }
}

/// IPAM by DHCP: the reference `dhcp` plugin, its daemon running as it must, leases the
/// container's address from a DHCP server (dnsmasq) on the network's bridge through the interface
/// ADD made first, as the reference plugins order it; DEL releases the lease.
#[test]
fn cni_dhcp_ipam_leases_through_the_new_interface() {
    let w = World::new("cd");
    let srv = w.ns("srv");
    // The server's side of the segment: a namespace on the bridge (the world's own owner).
    let out = w.eval(&format!(
        "veth(netns({srv:?}), bridge({:?}), #{{ip: \"198.18.50.1/24\"}})",
        w.br()
    ));
    assert!(out.status.success(), "{}", text(&out));
    let _server = DhcpServer::start(&w, &srv, "198.18.50");
    let sock = w.dir().join("dhcp.sock");
    struct Daemon(std::process::Child);
    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _daemon = Daemon(
        Command::new(format!("{REFERENCE_PLUGINS}/dhcp"))
            .args([
                "daemon",
                "-socketpath",
                sock.to_str().unwrap(),
                "-timeout",
                "5s",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the reference dhcp plugin"),
    );
    for _ in 0..200 {
        if sock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(sock.exists(), "the dhcp daemon made no socket");
    let ns = w.ns("a");
    netns_add(&ns);
    let vars = attachment(&ns, "dh01");
    let e = env(&vars);
    let conf = json!({"cniVersion": "1.0.0", "name": w.ns("net"), "type": "pipework",
        "bridge": w.br(), "ipam": {"type": "dhcp", "daemonSocketPath": sock.display().to_string()}});
    let (code, res) = cni("ADD", &conf, &e);
    assert_eq!(code, 0, "{res}");
    let addr = res["ips"][0]["address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        addr.starts_with("198.18.50."),
        "a lease from dnsmasq's range: {res}"
    );
    assert_eq!(global_addrs(Some(&ns), "eth0"), vec![addr.clone()]);
    assert!(ping(&ns, "198.18.50.1"), "the container reaches the server");
    let (code, out) = cni("DEL", &conf, &e);
    assert_eq!(code, 0, "{out}");
    assert!(link(Some(&ns), "eth0").is_none());
    assert!(
        link(None, &w.br()).is_some(),
        "the world's own bridge stays"
    );
    let log = std::fs::read_to_string(&_server.log).unwrap_or_default();
    assert!(log.contains("DHCPRELEASE"), "DEL released the lease: {log}");
}
