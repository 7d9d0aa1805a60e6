//! Open vSwitch through `ovs-vsctl`, always with an argument vector (never a shell) and a timeout.
//! Ports and bridges we create carry `external_ids:pipework.owner=…` so teardown finds them.
//! Why not speak OVSDB (RFC 7047) ourselves: the Rust OVSDB crates are 0.0.x work in progress, and
//! ovs-vsctl is on every machine that runs OVS, speaks every schema version, and handles the
//! transactions' waits (`--may-exist`, `--if-exists`) for us; the cost is a fork per call, paid only
//! on OVS paths.

use crate::error::{Error, Result};
use std::process::Command;

fn vsctl(args: &[&str]) -> Result<String> {
    let out = Command::new("ovs-vsctl")
        .arg("--timeout=10")
        .args(args)
        .output()
        .map_err(|e| Error::io("running ovs-vsctl (is Open vSwitch installed?)", e))?;
    if !out.status.success() {
        return Err(Error::external(
            format!("ovs-vsctl {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether an ovsdb-server is there to talk to (a cheap check, so paths that have nothing to do with
/// OVS never wait on ovs-vsctl's connection time-out).
pub fn running() -> bool {
    std::path::Path::new("/var/run/openvswitch/db.sock").exists()
}

/// Whether `name` is an OVS bridge; false also when OVS is not installed or not running.
pub fn is_bridge(name: &str) -> bool {
    running()
        && Command::new("ovs-vsctl")
            .args(["--timeout=5", "br-exists", name])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
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
    vsctl(&[
        "--may-exist",
        "add-br",
        name,
        "--",
        "set",
        "bridge",
        name,
        &dp,
        &ext,
    ])?;
    Ok(true)
}

pub fn add_port(bridge: &str, port: &str, tag: Option<u16>, ids: &[(&str, &str)]) -> Result<()> {
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
    vsctl(&a).map(|_| ())
}

pub fn del_port(port: &str) -> Result<()> {
    vsctl(&["--if-exists", "del-port", port]).map(|_| ())
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

pub fn del_bridge_if_empty(name: &str) -> Result<bool> {
    let ports = vsctl(&["list-ports", name])?;
    if !ports.is_empty() {
        return Ok(false);
    }
    vsctl(&["--if-exists", "del-br", name]).map(|_| true)
}

/// A bridge that outlives its owner's teardown goes to the owner of one of its remaining ports
/// (if any is pipework's), whose own teardown then removes it once empty.
pub fn hand_over(bridge: &str, owner: &str) -> Result<Option<String>> {
    for port in vsctl(&["list-ports", bridge])?.split_whitespace() {
        let heir = vsctl(&[
            "--if-exists",
            "get",
            "Interface",
            port,
            "external_ids:pipework.owner",
        ])
        .unwrap_or_default();
        let heir = heir.trim().trim_matches('"');
        if !heir.is_empty() && heir != owner {
            vsctl(&[
                "set",
                "Bridge",
                bridge,
                &format!("external_ids:pipework.owner={heir}"),
            ])?;
            return Ok(Some(heir.to_string()));
        }
    }
    Ok(None)
}
