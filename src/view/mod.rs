//! Views of an `Inventory` (what pipework made, read live): text and JSON for `show`, pictures for
//! `graph`, a script for `save`. Pure functions of the inventory: nothing here touches the kernel,
//! so each view can be tested on a made-up inventory.

pub mod graph;
pub mod save;

use crate::session::{Interface, Inventory};
use serde_json::{json, Value};

/// The `show --json` schema version; bumped only for changes that break a reader.
pub const JSON_VERSION: u32 = 1;

/// `show --json`: the documented, stable form (docs/show.md).
pub fn json(inv: &Inventory) -> Value {
    json!({
        "version": JSON_VERSION,
        "bridges": inv.bridges.iter().map(|b| json!({
            "name": b.name,
            "type": if b.ovs { "ovs" } else { "linux" },
            "owner": b.owner,
            "users": b.users,
            "mtu": b.mtu,
            "up": b.up,
            "vlan_filtering": b.vlan_filtering,
        })).collect::<Vec<_>>(),
        "netns": inv.netns.iter().map(|n| json!({
            "name": n.name,
            "owner": n.owner,
            "present": n.present,
        })).collect::<Vec<_>>(),
        "interfaces": inv.interfaces.iter().map(interface_json).collect::<Vec<_>>(),
        "joined": inv.joined.iter().map(|j| json!({
            "ifname": j.ifname,
            "owner": j.owner,
            "bridge": j.bridge,
            "bridge_type": if j.ovs { "ovs" } else { "linux" },
            "present": j.present,
        })).collect::<Vec<_>>(),
        "routes": inv.routes.iter().map(|r| json!({
            "owner": r.owner,
            "guest": r.guest,
            "to": r.dst,
            "via": r.via,
            "dev": r.dev,
            "metric": r.metric,
            "table": r.table,
            "src": r.src,
            "onlink": r.onlink,
        })).collect::<Vec<_>>(),
        "notes": inv.notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
    })
}

fn interface_json(i: &Interface) -> Value {
    json!({
        "owner": i.owner,
        "guest": i.guest,
        "ifname": i.ifname,
        "kind": i.kind,
        "present": i.present,
        "mac": i.mac,
        "mtu": i.mtu,
        "up": i.up,
        "carrier": i.carrier,
        "addresses": i.addresses,
        "declared_addresses": i.declared,
        "gateway": i.gateway,
        "default_via": i.default_via,
        "vlan": i.vlan,
        "host_ifname": i.host_ifname,
        "bridge": i.bridge,
        "bridge_type": i.bridge.as_ref().map(|_| if i.bridge_ovs { "ovs" } else { "linux" }),
        "parent": i.parent,
        "parent_guest": i.parent_guest,
        "dhcp": i.dhcp.as_ref().map(|d| json!({
            "client": d.client,
            "pid": d.pid,
            "running": d.pid.is_some(),
        })),
    })
}

/// Where an interface reaches the host side, in words: `br1 (linux) via vethX`, `macvlan on eth0`.
pub fn host_side(i: &Interface) -> String {
    let mut s = match (&i.bridge, &i.parent) {
        (Some(b), _) => format!("{} bridge {b}", if i.bridge_ovs { "ovs" } else { "linux" }),
        (None, Some(p)) => match &i.parent_guest {
            Some(g) => format!("on {p} in {g}"),
            None => format!("on {p}"),
        },
        (None, None) if i.kind == "veth" => "no bridge".into(),
        (None, None) => String::new(),
    };
    if let Some(h) = &i.host_ifname {
        s.push_str(&format!(" via {h}"));
    }
    s.trim().to_string()
}

/// `show`: one block per owner, a line per object.
pub fn text(inv: &Inventory) -> String {
    let mut out = String::new();
    for owner in inv.owners() {
        out.push_str(&format!("{owner}\n"));
        for b in &inv.bridges {
            let made = b.owner.as_deref() == Some(owner.as_str());
            if !made && !b.users.contains(&owner) {
                continue;
            }
            let mut l = format!(
                "  bridge {:<14} {}{}",
                b.name,
                if b.ovs { "ovs" } else { "linux" },
                if made { ", made here" } else { ", used" }
            );
            if let Some(m) = b.mtu {
                l.push_str(&format!(", mtu {m}"));
            }
            if b.vlan_filtering == Some(true) {
                l.push_str(", vlan_filtering");
            }
            if b.mtu.is_some() && !b.up {
                l.push_str(", DOWN");
            }
            if b.users.len() > 1 {
                l.push_str(&format!(", users: {}", b.users.join(" ")));
            }
            out.push_str(&l);
            out.push('\n');
        }
        for n in inv.netns.iter().filter(|n| n.owner == owner) {
            out.push_str(&format!(
                "  netns  {}{}\n",
                n.name,
                if n.present { "" } else { " (gone)" }
            ));
        }
        for i in inv.interfaces.iter().filter(|i| i.owner == owner) {
            let mut l = format!("  {}:{} {}", i.guest, i.ifname, i.kind);
            if !i.present {
                l.push_str(" (guest end not found)");
            } else {
                l.push_str(if !i.up {
                    " DOWN"
                } else if i.carrier {
                    " up"
                } else {
                    " NO-CARRIER"
                });
            }
            let side = host_side(i);
            if !side.is_empty() {
                l.push_str(&format!(", {side}"));
            }
            if let Some(v) = i.vlan {
                l.push_str(&format!(", vlan {v}"));
            }
            out.push_str(&l);
            out.push('\n');
            if i.present {
                let mut d = String::from("      ");
                d.push_str(&if i.addresses.is_empty() {
                    "no address".to_string()
                } else {
                    i.addresses.join(" ")
                });
                for g in &i.default_via {
                    d.push_str(&format!(", default via {g}"));
                }
                if let Some(m) = &i.mac {
                    d.push_str(&format!(", mac {m}"));
                }
                if let Some(m) = i.mtu {
                    d.push_str(&format!(", mtu {m}"));
                }
                if let Some(c) = &i.dhcp {
                    d.push_str(&match c.pid {
                        Some(p) => format!(", dhcp {} pid {p}", c.client),
                        None => format!(", dhcp {} NOT RUNNING", c.client),
                    });
                }
                out.push_str(&d);
                out.push('\n');
            }
        }
        for j in inv.joined.iter().filter(|j| j.owner == owner) {
            out.push_str(&format!(
                "  joined {} to {} bridge {}{}\n",
                j.ifname,
                if j.ovs { "ovs" } else { "linux" },
                j.bridge,
                if j.present { "" } else { " (interface gone)" }
            ));
        }
        for r in inv
            .routes
            .iter()
            .filter(|r| r.owner.as_deref() == Some(owner.as_str()))
        {
            out.push_str(&format!("  route  {}: {}\n", r.guest, route_text(r)));
        }
    }
    for r in inv.routes.iter().filter(|r| r.owner.is_none()) {
        out.push_str(&format!(
            "route of no known owner in {}: {}\n",
            r.guest,
            route_text(r)
        ));
    }
    for n in &inv.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

/// A route as `ip route` writes it (and `route()` reads it).
pub fn route_text(r: &crate::session::RouteInfo) -> String {
    let dst = if r.dst == "0.0.0.0/0" || r.dst == "::/0" {
        "default".to_string()
    } else {
        r.dst.clone()
    };
    let mut s = dst;
    if let Some(v) = &r.via {
        s.push_str(&format!(" via {v}"));
    }
    if let Some(d) = &r.dev {
        s.push_str(&format!(" dev {d}"));
    }
    if let Some(m) = r.metric {
        s.push_str(&format!(" metric {m}"));
    }
    if r.table != 254 {
        s.push_str(&format!(" table {}", r.table));
    }
    if let Some(src) = &r.src {
        s.push_str(&format!(" src {src}"));
    }
    if r.onlink {
        s.push_str(" onlink");
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::session::*;

    /// Two owners: `lab` made a Linux bridge with a netns guest (static v4+v6, a route) and an
    /// OVS VLAN port; `dh` leases on a container on lab's bridge.
    pub(crate) fn sample() -> Inventory {
        Inventory {
            bridges: vec![
                BridgeInfo {
                    name: "br-lab".into(),
                    ovs: false,
                    owner: Some("lab".into()),
                    users: vec!["dh".into(), "lab".into()],
                    mtu: Some(1500),
                    up: true,
                    vlan_filtering: Some(false),
                },
                BridgeInfo {
                    name: "ovs-lab".into(),
                    ovs: true,
                    owner: Some("lab".into()),
                    users: vec!["lab".into()],
                    mtu: None,
                    up: false,
                    vlan_filtering: None,
                },
            ],
            netns: vec![NetnsInfo {
                name: "a".into(),
                owner: "lab".into(),
                present: true,
            }],
            interfaces: vec![
                Interface {
                    owner: "lab".into(),
                    guest: "netns:a".into(),
                    ifname: "eth1".into(),
                    kind: "veth".into(),
                    present: true,
                    mac: Some("02:00:00:00:00:01".into()),
                    mtu: Some(1500),
                    up: true,
                    carrier: true,
                    addresses: vec!["198.18.0.2/24".into(), "fd00:18::2/64".into()],
                    declared: Some(vec!["198.18.0.2/24".into(), "fd00:18::2/64".into()]),
                    gateway: Some("198.18.0.1".into()),
                    default_via: vec!["198.18.0.1".into()],
                    host_ifname: Some("veth1pla".into()),
                    bridge: Some("br-lab".into()),
                    ..Default::default()
                },
                Interface {
                    owner: "lab".into(),
                    guest: "netns:a".into(),
                    ifname: "eth2".into(),
                    kind: "veth".into(),
                    present: true,
                    mac: Some("02:00:00:00:00:02".into()),
                    mtu: Some(1400),
                    up: true,
                    carrier: true,
                    addresses: vec!["198.19.0.2/24".into()],
                    declared: Some(vec!["198.19.0.2/24".into()]),
                    vlan: Some(100),
                    host_ifname: Some("ovsport-a".into()),
                    bridge: Some("ovs-lab".into()),
                    bridge_ovs: true,
                    ..Default::default()
                },
                Interface {
                    owner: "dh".into(),
                    guest: "container:web".into(),
                    ifname: "eth1".into(),
                    kind: "veth".into(),
                    present: true,
                    mac: Some("02:00:00:00:00:03".into()),
                    mtu: Some(1500),
                    up: true,
                    carrier: true,
                    addresses: vec!["198.18.0.50/24".into()],
                    declared: Some(vec![]),
                    default_via: vec!["198.18.0.1".into()],
                    host_ifname: Some("veth1pl4242".into()),
                    bridge: Some("br-lab".into()),
                    dhcp: Some(DhcpInfo {
                        client: "pipework".into(),
                        pid: Some(4343),
                    }),
                    ..Default::default()
                },
            ],
            joined: vec![],
            routes: vec![
                RouteInfo {
                    owner: Some("lab".into()),
                    guest: "netns:a".into(),
                    dst: "0.0.0.0/0".into(),
                    via: Some("198.18.0.1".into()),
                    dev: Some("eth1".into()),
                    metric: None,
                    table: 254,
                    src: None,
                    onlink: false,
                },
                RouteInfo {
                    owner: Some("lab".into()),
                    guest: "netns:a".into(),
                    dst: "198.51.100.0/24".into(),
                    via: Some("198.19.0.1".into()),
                    dev: Some("eth2".into()),
                    metric: Some(10),
                    table: 254,
                    src: None,
                    onlink: false,
                },
            ],
            notes: vec![],
        }
    }

    /// A note names the owners it concerns: a view of one owner carries that owner's notes and
    /// the general ones, never another owner's (a test's view was once failed by a neighbour's).
    #[test]
    fn a_selection_keeps_its_own_notes() {
        let mut inv = sample();
        let note = |owners: &[&str], text: &str| Note {
            owners: owners.iter().map(|o| o.to_string()).collect(),
            text: text.into(),
        };
        inv.notes = vec![
            note(&[], "Open vSwitch not read"),
            note(&["lab"], "bridge gone, lab registered"),
            note(&["other"], "bridge gone, other registered"),
        ];
        let texts = |i: &Inventory| i.notes.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            texts(&inv.of_owner("lab")),
            ["Open vSwitch not read", "bridge gone, lab registered"]
        );
        assert_eq!(texts(&inv.of_owner("dh")), ["Open vSwitch not read"]);
        assert_eq!(
            texts(&inv.of_guest("a")),
            ["Open vSwitch not read", "bridge gone, lab registered"]
        );
        assert_eq!(
            json(&inv.of_owner("dh"))["notes"][0],
            "Open vSwitch not read"
        );
    }

    #[test]
    fn json_schema_fields() {
        let v = json(&sample());
        assert_eq!(v["version"], 1);
        assert_eq!(v["bridges"][1]["type"], "ovs");
        let i = &v["interfaces"][1];
        assert_eq!(i["vlan"], 100);
        assert_eq!(i["bridge_type"], "ovs");
        assert_eq!(v["interfaces"][2]["dhcp"]["running"], true);
        assert_eq!(v["routes"][1]["metric"], 10);
        assert!(v["interfaces"][0]["parent"].is_null());
    }

    #[test]
    fn text_groups_by_owner() {
        let t = text(&sample());
        let dh = t
            .find("\ndh\n")
            .or(t.strip_prefix("dh\n").map(|_| 0))
            .unwrap();
        let lab = t.find("lab\n").unwrap();
        assert!(dh < lab, "{t}");
        assert!(
            t.contains("netns:a:eth2 veth up, ovs bridge ovs-lab via ovsport-a, vlan 100"),
            "{t}"
        );
        assert!(t.contains("dhcp pipework pid 4343"), "{t}");
        assert!(
            t.contains("route  netns:a: 198.51.100.0/24 via 198.19.0.1 dev eth2 metric 10"),
            "{t}"
        );
    }
}
