//! Open vSwitch through `ovs-vsctl`, always with an argument vector (never a shell) and a timeout.
//! Ports and bridges we create carry `external_ids:pipework.owner=…` so teardown finds them.
//! ovs-vsctl is on every machine that runs OVS, speaks every schema version, and handles the
//! transactions' waits (`--may-exist`, `--if-exists`) for us; the cost is a fork per call. The one
//! call every OVS attach makes, adding a port, speaks OVSDB itself instead (`ovsdb`), and comes
//! back here only for what ovs-vsctl's `--may-exist` knows best (a port row by that name exists).

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// Where the OVS daemons keep their sockets and pid files (`OVS_RUNDIR`, as ovs-vsctl reads it).
fn rundir() -> PathBuf {
    std::env::var_os("OVS_RUNDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/run/openvswitch".into())
}

/// Seconds an OVSDB change may take to be confirmed by ovs-vswitchd (`PIPEWORK_OVS_TIMEOUT`).
fn timeout() -> u64 {
    std::env::var("PIPEWORK_OVS_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(5)
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new("ovs-vsctl");
    c.arg(format!("--timeout={}", timeout())).args(args);
    // A pipework killed mid-call takes its ovs-vsctl with it: a transaction left running on its
    // own would commit after the `down` that cleans up behind the killed run.
    unsafe {
        c.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
                .map_err(std::io::Error::from)
        });
    }
    c
}

/// ovs-vsctl gave up waiting (its own alarm), as opposed to refusing the request.
struct TimedOut;

fn run(args: &[&str]) -> std::result::Result<Result<String>, TimedOut> {
    let out = match command(args).output() {
        Ok(o) => o,
        Err(e) => {
            return Ok(Err(Error::io(
                "running ovs-vsctl (is Open vSwitch installed?)",
                e,
            )))
        }
    };
    if out.status.success() {
        return Ok(Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.signal() == Some(libc::SIGALRM) || err.contains("Alarm clock") {
        return Err(TimedOut);
    }
    Ok(Err(Error::external(
        format!("ovs-vsctl {}", args.join(" ")),
        err.trim(),
    )))
}

fn vsctl(args: &[&str]) -> Result<String> {
    run(args).unwrap_or_else(|TimedOut| {
        Err(Error::Timeout(format!(
            "ovs-vsctl {}: no answer within {} s (is ovsdb-server responding?)",
            args.join(" "),
            timeout()
        )))
    })
}

fn vswitchd_running() -> bool {
    std::fs::read_to_string(rundir().join("ovs-vswitchd.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
        .is_some_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
}

/// A change ovs-vswitchd must carry out (a bridge, a port): refused up front when it is not
/// running — OVSDB would take the rows and ovs-vsctl wait for a confirmation that never comes —
/// and, when it does not confirm in time, the rows are taken back (without waiting for it) so
/// they do not come to life later, behind the user's back.
fn vsctl_confirmed(args: &[&str], undo: &[&str]) -> Result<String> {
    require_vswitchd()?;
    run(args).unwrap_or_else(|TimedOut| {
        let mut back = vec!["--no-wait"];
        back.extend_from_slice(undo);
        let _ = vsctl(&back);
        Err(Error::Timeout(format!(
            "ovs-vswitchd did not confirm `ovs-vsctl {}` within {} s (not responding?); the change was taken back",
            args.join(" "),
            timeout()
        )))
    })
}

fn require_vswitchd() -> Result<()> {
    if vswitchd_running() {
        return Ok(());
    }
    Err(Error::external(
        "Open vSwitch",
        format!(
            "ovs-vswitchd is not running (ovsdb-server is; pid file {}); start it, e.g. `ovs-ctl start`",
            rundir().join("ovs-vswitchd.pid").display()
        ),
    ))
}

/// A removal: confirmed by ovs-vswitchd when it runs; without it, taking the rows out is all
/// there is to do (nothing would confirm, and `down` must not hang on that).
fn vsctl_removal(args: &[&str]) -> Result<String> {
    if vswitchd_running() {
        return vsctl(args);
    }
    let mut a = vec!["--no-wait"];
    a.extend_from_slice(args);
    vsctl(&a)
}

/// Whether an ovsdb-server is there to talk to (a cheap check, so paths that have nothing to do with
/// OVS never wait on ovs-vsctl's connection time-out).
pub fn running() -> bool {
    rundir().join("db.sock").exists()
}

/// Whether `name` is an OVS bridge; false also when OVS is not installed or not running. Asked of
/// ovsdb-server directly; should that fail, ovs-vsctl has its say.
pub fn is_bridge(name: &str) -> bool {
    if !running() {
        return false;
    }
    let sock = rundir().join("db.sock");
    match super::ovsdb::bridge_exists(&sock, Duration::from_secs(timeout()), name) {
        Ok(yes) => yes,
        Err(_) => command(&["br-exists", name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false),
    }
}

/// Without the kernel module, only the userspace datapath works.
fn datapath() -> &'static str {
    if std::path::Path::new("/sys/module/openvswitch").exists() {
        "system"
    } else {
        "netdev"
    }
}

/// Ensure an OVS bridge. Returns whether it was created.
pub fn ensure_bridge(name: &str, owner: &str) -> Result<bool> {
    if is_bridge(name) {
        return Ok(false);
    }
    let dp = format!("datapath_type={}", datapath());
    let ext = format!("external_ids:pipework.owner={owner}");
    vsctl_confirmed(
        &[
            "--may-exist",
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            &dp,
            &ext,
        ],
        &["--if-exists", "del-br", name],
    )?;
    Ok(true)
}

pub fn add_port(bridge: &str, port: &str, tag: Option<u16>, ids: &[(&str, &str)]) -> Result<()> {
    require_vswitchd()?;
    let marks: Vec<(String, String)> = ids
        .iter()
        .map(|(k, v)| (format!("pipework.{k}"), v.to_string()))
        .collect();
    let sock = rundir().join("db.sock");
    let wait = std::time::Duration::from_secs(timeout());
    match super::ovsdb::add_port(&sock, wait, bridge, port, tag, &marks) {
        Ok(super::ovsdb::Added::Done) => return Ok(()),
        Ok(super::ovsdb::Added::Exists) => {}
        // Whether a transaction that got no answer committed is unknown: the port goes by name
        // (nothing confirms a removal here either).
        Err(e @ Error::Timeout(_)) => {
            let _ = vsctl(&["--no-wait", "--if-exists", "del-port", port]);
            return Err(e);
        }
        Err(e) => return Err(e),
    }
    let mut args: Vec<String> = vec![
        "--may-exist".into(),
        "add-port".into(),
        bridge.into(),
        port.into(),
    ];
    if let Some(t) = tag {
        args.push(format!("tag={t}"));
    }
    args.extend(["--".into(), "set".into(), "Interface".into(), port.into()]);
    for (k, v) in ids {
        args.push(format!("external_ids:pipework.{k}={v}"));
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    vsctl_confirmed(&a, &["--if-exists", "del-port", port]).map(|_| ())
}

pub fn del_port(port: &str) -> Result<()> {
    vsctl_removal(&["--if-exists", "del-port", port]).map(|_| ())
}

pub fn port_tag(port: &str) -> Option<u16> {
    vsctl(&["get", "Port", port, "tag"]).ok()?.parse().ok()
}

/// Ports (interfaces) and bridges marked with this owner.
pub fn owned(owner: &str) -> (Vec<String>, Vec<String>) {
    let find = |table: &str| -> Vec<String> {
        vsctl(&[
            "--bare",
            "--columns=name",
            "find",
            table,
            &format!("external_ids:pipework.owner={owner}"),
        ])
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
    };
    (find("Interface"), find("Bridge"))
}

/// Ports on a bridge.
pub fn ports(bridge: &str) -> Result<Vec<String>> {
    Ok(vsctl(&["list-ports", bridge])?
        .split_whitespace()
        .map(String::from)
        .collect())
}

/// Ports pipework put on a bridge, with their owners.
pub fn marked_ports(bridge: &str) -> Result<Vec<(String, String)>> {
    let out = vsctl(&[
        "--bare",
        "--columns=name,external_ids",
        "find",
        "Interface",
        &format!("external_ids:pipework.bridge={bridge}"),
    ])?;
    // Per record: its name on one line, its external_ids (`key=value …`) on the next.
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    Ok(lines
        .chunks(2)
        .filter_map(|c| {
            let owner = crate::marker::field(c.get(1)?, "pipework.owner")?;
            Some((c[0].trim().to_string(), owner.to_string()))
        })
        .collect())
}

/// Who holds a bridge pipework made; None for a bridge pipework did not make (or none at all).
pub fn bridge_owner(bridge: &str) -> Result<Option<String>> {
    let o = vsctl(&[
        "--if-exists",
        "get",
        "Bridge",
        bridge,
        "external_ids:pipework.owner",
    ])?;
    let o = o.trim().trim_matches('"');
    Ok((!o.is_empty()).then(|| o.to_string()))
}

pub fn set_bridge_owner(bridge: &str, owner: &str) -> Result<()> {
    vsctl(&[
        "set",
        "Bridge",
        bridge,
        &format!("external_ids:pipework.owner={owner}"),
    ])
    .map(|_| ())
}

pub fn del_bridge(name: &str) -> Result<()> {
    vsctl_removal(&["--if-exists", "del-br", name]).map(|_| ())
}

/// Every owner named in OVSDB by pipework's rows (ports and bridges).
pub fn owners() -> Vec<String> {
    if !running() {
        return vec![];
    }
    let mut v = vec![];
    for table in ["Interface", "Bridge"] {
        let out = vsctl(&["--bare", "--columns=external_ids", "list", table]).unwrap_or_default();
        for line in out.lines() {
            if let Some(o) = crate::marker::field(line, "pipework.owner") {
                v.push(o.to_string());
            }
        }
    }
    v
}

/// What OVSDB holds, read in one ovs-vsctl call for `show`: every bridge, port and interface row
/// with the columns a view needs. `external_ids` are the row's whole map (ours are `pipework.*`).
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Bridge name → its external_ids.
    pub bridges: Vec<(String, BTreeMap<String, String>)>,
    /// Port name → its VLAN tag (access port), if it has one.
    pub tags: BTreeMap<String, u16>,
    /// Interface name → its external_ids.
    pub interfaces: BTreeMap<String, BTreeMap<String, String>>,
    /// Port name → the bridge it is on.
    pub port_bridge: BTreeMap<String, String>,
}

pub fn snapshot() -> Result<Snapshot> {
    let out = vsctl(&[
        "--format=json",
        "--data=json",
        "--",
        "--columns=name,external_ids,ports",
        "list",
        "Bridge",
        "--",
        "--columns=_uuid,name,tag",
        "list",
        "Port",
        "--",
        "--columns=name,external_ids",
        "list",
        "Interface",
    ])?;
    parse_snapshot(&out)
        .ok_or_else(|| Error::external("ovs-vsctl list", "answered in a form pipework cannot read"))
}

fn parse_snapshot(out: &str) -> Option<Snapshot> {
    use serde_json::Value;
    let tables: Vec<Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let [bridges, ports, ifaces] = tables.as_slice() else {
        return None;
    };
    let rows = |t: &Value| -> Option<Vec<Vec<Value>>> {
        t.get("data")?
            .as_array()?
            .iter()
            .map(|r| r.as_array().cloned())
            .collect()
    };
    // OVSDB's JSON: a map is ["map", [[k, v], …]], a set ["set", […]] (one element: the value
    // itself), a reference ["uuid", "…"].
    let map = |v: &Value| -> BTreeMap<String, String> {
        v.get(1)
            .and_then(Value::as_array)
            .map(|kv| {
                kv.iter()
                    .filter_map(|p| Some((p.get(0)?.as_str()?.into(), p.get(1)?.as_str()?.into())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let uuids = |v: &Value| -> Vec<String> {
        match v.get(0).and_then(Value::as_str) {
            Some("uuid") => v
                .get(1)
                .and_then(Value::as_str)
                .into_iter()
                .map(String::from)
                .collect(),
            Some("set") => v
                .get(1)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|u| u.get(1)?.as_str().map(String::from))
                .collect(),
            _ => vec![],
        }
    };
    let mut s = Snapshot::default();
    let mut port_names = BTreeMap::new();
    for r in rows(ports)? {
        let (uuid, name) = (uuids(r.first()?).pop()?, r.get(1)?.as_str()?.to_string());
        if let Some(t) = r.get(2).and_then(Value::as_u64) {
            s.tags.insert(name.clone(), t as u16);
        }
        port_names.insert(uuid, name);
    }
    for r in rows(bridges)? {
        let name = r.first()?.as_str()?.to_string();
        for u in uuids(r.get(2)?) {
            if let Some(p) = port_names.get(&u) {
                s.port_bridge.insert(p.clone(), name.clone());
            }
        }
        s.bridges.push((name, map(r.get(1)?)));
    }
    for r in rows(ifaces)? {
        s.interfaces
            .insert(r.first()?.as_str()?.to_string(), map(r.get(1)?));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn snapshot_reads_ovsdb_json() {
        let out = concat!(
            r#"{"data":[["br0",["map",[["pipework.owner","lab"]]],["set",[["uuid","p1"],["uuid","p2"]]]],["br1",["map",[]],["uuid","p3"]]],"headings":["name","external_ids","ports"]}"#,
            "\n",
            r#"{"data":[[["uuid","p1"],"br0",["set",[]]],[["uuid","p2"],"v1",100],[["uuid","p3"],"br1",["set",[]]]],"headings":["_uuid","name","tag"]}"#,
            "\n",
            r#"{"data":[["v1",["map",[["pipework.owner","lab"],["pipework.guest","netns:a"]]]],["br0",["map",[]]]],"headings":["name","external_ids"]}"#,
        );
        let s = super::parse_snapshot(out).unwrap();
        assert_eq!(s.bridges.len(), 2);
        assert_eq!(
            s.bridges[0].1.get("pipework.owner").map(String::as_str),
            Some("lab")
        );
        assert_eq!(s.tags.get("v1"), Some(&100));
        assert_eq!(s.tags.get("br0"), None);
        assert_eq!(s.port_bridge.get("v1").map(String::as_str), Some("br0"));
        assert_eq!(s.port_bridge.get("br1").map(String::as_str), Some("br1"));
        assert_eq!(
            s.interfaces["v1"].get("pipework.guest").map(String::as_str),
            Some("netns:a")
        );
        assert!(super::parse_snapshot("not json").is_none());
    }
}
