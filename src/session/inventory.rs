//! What pipework made, read back live: `show`, `graph` and `save` are views of one inventory taken
//! from the kernel (links, addresses and routes in every network namespace on the machine), OVSDB
//! and our records under /run/pipework — never from a log of what was asked for, which would go on
//! claiming a wiring after a container died or someone deleted a link by hand.
//!
//! Everything is found by its marker: a link's alias, an OVS row's `pipework.*` external_ids, a
//! route's protocol number (`net::route::PROTO`), a record file. A veth's guest end is found from
//! its host end (the pair's peer index), so it needs no owner of its own.

use super::*;
use crate::driver::{join, ovs::vsctl, shared};
use crate::guest::NsId;
use crate::net::RouteState;
use std::collections::HashSet;
use std::path::Path;

#[derive(Debug, Default, Clone)]
pub struct Inventory {
    pub bridges: Vec<BridgeInfo>,
    pub netns: Vec<NetnsInfo>,
    pub interfaces: Vec<Interface>,
    pub joined: Vec<JoinedInfo>,
    pub routes: Vec<RouteInfo>,
    /// What could not be read, or was found inconsistent (one sentence each).
    pub notes: Vec<Note>,
}

/// One sentence about what could not be read or does not add up, with the owners it concerns, so
/// that a view of one owner carries its own notes and not another's (empty: it concerns everyone,
/// as an OVSDB that cannot be read does).
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub owners: Vec<String>,
    pub text: String,
}

impl Note {
    fn general(text: String) -> Note {
        Note {
            owners: vec![],
            text,
        }
    }

    fn concerns(&self, owners: &[String]) -> bool {
        self.owners.is_empty() || self.owners.iter().any(|o| owners.contains(o))
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BridgeInfo {
    pub name: String,
    pub ovs: bool,
    /// The owner that made it and holds it now; None for a bridge pipework did not make.
    pub owner: Option<String>,
    /// Owners registered as its users (they asked for it or attached to it).
    pub users: Vec<String>,
    /// Kernel state (None: no kernel device, as for an OVS bridge whose vswitchd is down).
    pub mtu: Option<u32>,
    pub up: bool,
    pub vlan_filtering: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetnsInfo {
    pub name: String,
    pub owner: String,
    /// The very namespace pipework created is mounted under /run/netns.
    pub present: bool,
}

/// One interface pipework made in a guest, with what joins it to the host side.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Interface {
    pub owner: String,
    /// The guest as pipework names it (`netns:web`, `container:web`, `pid:N`, `host`).
    pub guest: String,
    pub ifname: String,
    /// veth, macvlan, ipoib, vlan, dummy, or phys (a host interface handed over).
    pub kind: String,
    /// The guest end was found (a veth's host end can outlive a guest it cannot reach).
    pub present: bool,
    pub mac: Option<String>,
    pub mtu: Option<u32>,
    pub up: bool,
    pub carrier: bool,
    /// Addresses on it now, link-local IPv6 left out.
    pub addresses: Vec<String>,
    /// What the attach declared (its marker), when it recorded that.
    pub declared: Option<Vec<String>>,
    /// The declared default gateway.
    pub gateway: Option<String>,
    /// Default routes through it now (their gateways).
    pub default_via: Vec<String>,
    pub vlan: Option<u16>,
    /// The host end of a veth pair.
    pub host_ifname: Option<String>,
    pub bridge: Option<String>,
    pub bridge_ovs: bool,
    /// The interface a macvlan, ipoib or vlan child hangs off, and the guest it lives in when
    /// that is not the host.
    pub parent: Option<String>,
    pub parent_guest: Option<String>,
    pub dhcp: Option<DhcpInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DhcpInfo {
    /// `pipework` (the built-in client's lease keeper), `udhcpc`, `dhclient`, `dhcpcd`.
    pub client: String,
    /// The process, while the one pipework started runs.
    pub pid: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct JoinedInfo {
    pub ifname: String,
    pub owner: String,
    pub bridge: String,
    pub ovs: bool,
    /// The interface that joined is still there (same ifindex).
    pub present: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteInfo {
    /// The owner of the interface it goes through, else of the namespace it is in.
    pub owner: Option<String>,
    pub guest: String,
    pub dst: String,
    pub via: Option<String>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub table: u32,
    pub src: Option<String>,
    pub onlink: bool,
}

/// One network namespace, dumped once.
struct Space {
    guest: Guest,
    label: String,
    links: Vec<LinkState>,
    addrs: Vec<(u32, IpNetwork)>,
    routes: Vec<RouteState>,
}

impl Space {
    fn name_of(&self, index: u32) -> Option<String> {
        self.links
            .iter()
            .find(|l| l.index == index)
            .map(|l| l.name.clone())
    }

    fn addresses(&self, index: u32) -> Vec<String> {
        self.addrs
            .iter()
            .filter(|(i, n)| *i == index && !parse::is_link_local(n.ip()))
            .map(|(_, n)| n.to_string())
            .collect()
    }

    fn default_via(&self, index: u32) -> Vec<String> {
        self.routes
            .iter()
            .filter(|r| r.dst.prefix() == 0 && r.dev == Some(index) && r.table == 254)
            .filter_map(|r| r.via.map(|v| v.to_string()))
            .collect()
    }
}

fn ours(l: &LinkState) -> bool {
    l.alias.as_deref().is_some_and(marker::is_ours)
}

/// The declared addresses of a marker: `ips=a,b`, `-` for none, `*` for too many to record.
fn declared(alias: &str) -> Option<Vec<String>> {
    match marker::field(alias, "ips")? {
        "*" => None,
        "-" => Some(vec![]),
        v => Some(v.split(',').map(String::from).collect()),
    }
}

impl Session {
    /// Everything of pipework's on this machine, as it is now.
    pub fn inventory(&self) -> Result<Inventory> {
        self.inventory_in(None)
    }

    /// What pipework made for these guests only (the host side of it included), read without
    /// visiting every other namespace on the machine: what a watch record is written from at the
    /// end of a run, so it must cost little. Notes about others are not gathered.
    pub(crate) fn inventory_of(&self, guests: &[Guest]) -> Result<Inventory> {
        self.inventory_in(Some(guests))
    }

    fn inventory_in(&self, only: Option<&[Guest]>) -> Result<Inventory> {
        let mut inv = Inventory::default();
        let spaces = self.spaces(only, &mut inv.notes)?;
        let host = &spaces[0];
        let labels: Option<Vec<String>> = only.map(|g| g.iter().map(|g| g.to_string()).collect());
        let in_scope = |h: &LinkState| match &labels {
            None => true,
            Some(l) => h
                .alias
                .as_deref()
                .and_then(|a| marker::field(a, "guest"))
                .is_some_and(|g| l.iter().any(|x| x == g)),
        };
        // OVSDB costs a fork: a scoped read asks it only when one of the guests' host ends is on
        // no Linux bridge (so perhaps in an OVS one).
        let need_ovs = only.is_none()
            || host
                .links
                .iter()
                .any(|h| ours(h) && h.is_kind("veth") && in_scope(h) && h.master.is_none());
        let ovs = if need_ovs && vsctl::running() {
            match vsctl::snapshot() {
                Ok(s) => Some(s),
                Err(e) => {
                    inv.notes
                        .push(Note::general(format!("Open vSwitch not read: {e}")));
                    None
                }
            }
        } else {
            None
        };
        // veth pairs, from their host ends.
        for h in host
            .links
            .iter()
            .filter(|l| ours(l) && l.is_kind("veth") && in_scope(l))
        {
            let alias = h.alias.as_deref().unwrap_or_default();
            let (Some(owner), Some(ifname)) = (marker::owner_of(alias), marker::field(alias, "if"))
            else {
                continue;
            };
            let label = marker::field(alias, "guest").unwrap_or("?").to_string();
            let mut i = Interface {
                owner: owner.into(),
                guest: label,
                ifname: ifname.into(),
                kind: "veth".into(),
                host_ifname: Some(h.name.clone()),
                vlan: marker::field(alias, "vlan").and_then(|v| v.parse().ok()),
                ..Default::default()
            };
            if let Some(m) = h.master {
                i.bridge = host.name_of(m);
            } else if let Some(b) = ovs.as_ref().and_then(|o| o.port_bridge.get(&h.name)) {
                i.bridge = Some(b.clone());
                i.bridge_ovs = true;
                i.vlan = ovs.as_ref().and_then(|o| o.tags.get(&h.name).copied());
            }
            let end = spaces[1..].iter().find_map(|sp| {
                sp.links
                    .iter()
                    .find(|g| {
                        g.is_kind("veth")
                            && g.name == ifname
                            && g.peer == Some(h.index)
                            && h.peer == Some(g.index)
                            && g.link_netnsid.is_some()
                    })
                    .map(|g| (sp, g))
            });
            if let Some((sp, g)) = end {
                fill(&mut i, sp, g);
            }
            inv.interfaces.push(i);
        }
        // Children and interfaces made inside guests (macvlan, ipoib, vlan, dummy, phys).
        for sp in &spaces {
            for l in sp.links.iter().filter(|l| ours(l)) {
                let alias = l.alias.as_deref().unwrap_or_default();
                let Some(owner) = marker::owner_of(alias) else {
                    continue; // a veth's guest end: found from its host end above
                };
                if sp.guest.is_host() && (l.is_kind("bridge") || l.is_kind("veth")) {
                    continue;
                }
                let mut i = Interface {
                    owner: owner.into(),
                    guest: sp.label.clone(),
                    ifname: l.name.clone(),
                    kind: if marker::field(alias, "phys").is_some() {
                        "phys".into()
                    } else {
                        l.kind.clone().unwrap_or_else(|| "device".into())
                    },
                    parent: marker::field(alias, "parent")
                        .or(marker::field(alias, "phys"))
                        .map(String::from),
                    parent_guest: marker::field(alias, "parent_in").map(String::from),
                    vlan: l.vlan_id,
                    ..Default::default()
                };
                if i.kind == "vlan" && i.parent.is_none() {
                    i.parent = l.peer.and_then(|p| sp.name_of(p));
                }
                fill(&mut i, sp, l);
                inv.interfaces.push(i);
            }
        }
        // A child on one of our VLAN sub-interfaces is in that VLAN.
        let vlans: Vec<(String, String, u16)> = inv
            .interfaces
            .iter()
            .filter(|i| i.kind == "vlan")
            .filter_map(|i| Some((i.guest.clone(), i.ifname.clone(), i.vlan?)))
            .collect();
        for i in inv.interfaces.iter_mut().filter(|i| i.kind != "vlan") {
            let on = i.parent_guest.clone().unwrap_or_else(|| "host".into());
            if let Some((_, _, v)) = vlans
                .iter()
                .find(|(g, n, _)| *g == on && Some(n) == i.parent.as_ref())
            {
                i.vlan = Some(*v);
            }
        }
        self.dhcp_clients(&mut inv, &spaces, only.is_some());
        inv.netns = guest::owned_netns()
            .into_iter()
            .map(|r| {
                let present = matches!(r.state(), Ok(guest::RecordState::Ours(_)));
                NetnsInfo {
                    name: r.name,
                    owner: r.owner,
                    present,
                }
            })
            .collect();
        inv.joined = join::records()
            .into_iter()
            .map(|r| JoinedInfo {
                present: host
                    .links
                    .iter()
                    .any(|l| l.name == r.ifname && l.index == r.index),
                ifname: r.ifname,
                owner: r.owner,
                bridge: r.bridge,
                ovs: r.ovs,
            })
            .collect();
        bridges(&mut inv, host, ovs.as_ref());
        routes(&mut inv, &spaces);
        Ok(inv)
    }

    /// The host, then every other network namespace holding a link of ours: named ones under
    /// /run/netns, then those only a process is in (containers), each dumped once.
    /// With `only`, the host and those guests alone.
    fn spaces(&self, only: Option<&[Guest]>, notes: &mut Vec<Note>) -> Result<Vec<Space>> {
        let mut seen = HashSet::from([self.host.id]);
        let mut found: Vec<(Guest, String)> = vec![(self.host.clone(), "host".into())];
        if let Some(guests) = only {
            for g in guests {
                if seen.insert(g.id) {
                    found.push((g.clone(), g.to_string()));
                }
            }
        }
        for name in guest::netns_names().into_iter().filter(|_| only.is_none()) {
            if let Ok(Some(g)) = Guest::open_netns(&name) {
                if seen.insert(g.id) {
                    found.push((g, format!("netns:{name}")));
                }
            }
        }
        let mut pids: Vec<i64> = match only {
            Some(_) => vec![],
            None => std::fs::read_dir("/proc")
                .map_err(|e| Error::io("listing /proc", e))?
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect(),
        };
        pids.sort();
        for pid in pids {
            let Some(id) = NsId::of_path(Path::new(&format!("/proc/{pid}/ns/net"))) else {
                continue;
            };
            if seen.insert(id) {
                // Pinned, then checked: the process may have moved or exited in between.
                match Guest::pid(pid) {
                    Ok(g) if g.id == id => found.push((g, format!("pid:{pid}"))),
                    _ => {}
                }
            }
        }
        let mut spaces = vec![];
        for (g, label) in found {
            let ns = match self.nl.ns(&g) {
                Ok(ns) => ns,
                Err(e) => {
                    notes.push(Note::general(format!("{label} not read: {e}")));
                    continue;
                }
            };
            let links = ns.links().unwrap_or_default();
            if !g.is_host() && !links.iter().any(ours) {
                drop(ns);
                self.nl.forget(&g);
                continue;
            }
            // A scoped read wants the host's links only (the host ends of the guests' veths).
            let (mut routes, mut addrs) = (vec![], vec![]);
            if !(g.is_host() && only.is_some()) {
                routes = ns.routes_all(false).unwrap_or_default();
                routes.extend(ns.routes_all(true).unwrap_or_default());
                addrs = ns.addrs(None).unwrap_or_default();
            }
            drop(ns);
            // A namespace only a process is in is named by the markers of what we put there.
            let label = if label.starts_with("pid:") {
                links
                    .iter()
                    .find_map(|l| marker::field(l.alias.as_deref()?, "guest").map(String::from))
                    .unwrap_or(label)
            } else {
                label
            };
            spaces.push(Space {
                guest: g,
                label,
                links,
                addrs,
                routes,
            });
        }
        // veth guest ends carry no guest label: their host ends do.
        let hosts: Vec<(u32, String)> = spaces[0]
            .links
            .iter()
            .filter(|l| ours(l) && l.is_kind("veth"))
            .filter_map(|l| Some((l.index, marker::field(l.alias.as_deref()?, "guest")?.into())))
            .collect();
        for sp in spaces.iter_mut().skip(1) {
            if !sp.label.starts_with("pid:") {
                continue;
            }
            if let Some((_, label)) = hosts.iter().find(|(hi, _)| {
                sp.links
                    .iter()
                    .any(|l| l.is_kind("veth") && l.peer == Some(*hi) && l.link_netnsid.is_some())
            }) {
                sp.label = label.clone();
            }
        }
        Ok(spaces)
    }

    /// DHCP clients and lease keepers, from their pid files
    /// (`/run/pipework/dhcp/OWNER/GUESTKEY.IFNAME.CLIENT.pid`), matched to interfaces by the
    /// namespace the guest key names and the interface name.
    fn dhcp_clients(&self, inv: &mut Inventory, spaces: &[Space], scoped: bool) {
        let root = Path::new(guest::STATE_DIR).join("dhcp");
        for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let owner = dir.file_name().to_string_lossy().into_owned();
            for f in std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let file = f.file_name().to_string_lossy().into_owned();
                let Some((rest, client)) =
                    file.strip_suffix(".pid").and_then(|s| s.rsplit_once('.'))
                else {
                    continue;
                };
                let pid = crate::dhcp::external::live_pid(&f.path());
                // Names may hold dots themselves: try every split of KEY.IFNAME.
                let hit = rest.match_indices('.').find_map(|(at, _)| {
                    let (key, ifname) = (&rest[..at], &rest[at + 1..]);
                    let id = if key.bytes().all(|b| b.is_ascii_digit()) {
                        NsId::of_path(Path::new(&format!("/proc/{key}/ns/net")))
                    } else {
                        NsId::of_path(&guest::netns_path(key))
                    }?;
                    let sp = spaces.iter().find(|sp| sp.guest.id == id)?;
                    inv.interfaces.iter().position(|i| {
                        i.owner == owner && i.guest == sp.label && i.ifname == ifname && i.present
                    })
                });
                match hit {
                    Some(n) => {
                        inv.interfaces[n].dhcp = Some(DhcpInfo {
                            client: client.into(),
                            pid,
                        })
                    }
                    // A scoped read sees few namespaces: the others' clients are not gone.
                    None if scoped => {}
                    None => inv.notes.push(Note {
                        owners: vec![owner.to_string()],
                        text: format!(
                            "DHCP {client} of {owner} ({}) serves an interface that is gone{}",
                            f.path().display(),
                            if pid.is_some() {
                                ""
                            } else {
                                ", and is not running"
                            }
                        ),
                    }),
                }
            }
        }
    }
}

/// The guest end's state, read from the kernel.
fn fill(i: &mut Interface, sp: &Space, l: &LinkState) {
    let alias = l.alias.as_deref().unwrap_or_default();
    i.guest = sp.label.clone();
    i.present = true;
    i.mac = l.mac_text();
    i.mtu = Some(l.mtu);
    i.up = l.up;
    i.carrier = l.lower_up;
    i.addresses = sp.addresses(l.index);
    i.declared = declared(alias);
    i.gateway = marker::field(alias, "gw")
        .filter(|g| *g != "-")
        .map(String::from);
    i.default_via = sp.default_via(l.index);
}

/// Bridges we made, bridges our owners registered on, and bridges our ports and joins are on.
fn bridges(inv: &mut Inventory, host: &Space, ovs: Option<&vsctl::Snapshot>) {
    let regs = shared::registrations();
    let mut names: Vec<(String, bool)> = vec![];
    let mut want = |name: &str, is_ovs: bool| {
        if !names.iter().any(|(n, _)| n == name) {
            names.push((name.to_string(), is_ovs));
        }
    };
    let ovs_bridge = |name: &str| ovs.is_some_and(|o| o.bridges.iter().any(|(b, _)| b == name));
    for l in host.links.iter().filter(|l| l.is_kind("bridge") && ours(l)) {
        want(&l.name, false);
    }
    for (b, ids) in ovs.map(|o| o.bridges.as_slice()).unwrap_or_default() {
        if ids.contains_key("pipework.owner") {
            want(b, true);
        }
    }
    for i in &inv.interfaces {
        if let Some(b) = &i.bridge {
            want(b, i.bridge_ovs);
        }
    }
    for j in &inv.joined {
        want(&j.bridge, j.ovs);
    }
    for (b, _, _) in &regs {
        want(b, ovs_bridge(b));
    }
    for (name, is_ovs) in names {
        let dev = host.links.iter().find(|l| l.name == name);
        let owner = if is_ovs {
            ovs.and_then(|o| o.bridges.iter().find(|(b, _)| *b == name))
                .and_then(|(_, ids)| ids.get("pipework.owner").cloned())
        } else {
            dev.and_then(|l| marker::owner_of(l.alias.as_deref()?).map(String::from))
        };
        if dev.is_none() && !is_ovs {
            inv.notes.push(Note {
                owners: regs
                    .iter()
                    .filter(|(b, _, _)| *b == name)
                    .map(|(_, o, _)| o.clone())
                    .collect(),
                text: format!(
                    "bridge {name} no longer exists, yet owners are registered on it (`pipework down --stale` drops them)"
                ),
            });
            continue;
        }
        let index = dev.map(|l| l.index).unwrap_or(0);
        let users = regs
            .iter()
            .filter(|(b, _, i)| *b == name && (*i == index || *i == 0 || index == 0))
            .map(|(_, o, _)| o.clone())
            .collect();
        inv.bridges.push(BridgeInfo {
            name,
            ovs: is_ovs,
            owner,
            users,
            mtu: dev.map(|l| l.mtu),
            up: dev.is_some_and(|l| l.up),
            vlan_filtering: dev.and_then(|l| l.vlan_filtering),
        });
    }
    inv.bridges.sort_by(|a, b| a.name.cmp(&b.name));
}

/// Routes we installed (our protocol number), in every namespace we looked at.
fn routes(inv: &mut Inventory, spaces: &[Space]) {
    for sp in spaces {
        let ns_owner = sp.guest.name().and_then(|n| {
            inv.netns
                .iter()
                .find(|r| r.name == n && r.present)
                .map(|r| r.owner.clone())
        });
        for r in sp
            .routes
            .iter()
            .filter(|r| r.proto == crate::net::ROUTE_PROTO)
        {
            let dev = r.dev.and_then(|d| sp.name_of(d));
            let owner = inv
                .interfaces
                .iter()
                .find(|i| i.guest == sp.label && Some(&i.ifname) == dev.as_ref())
                .map(|i| i.owner.clone())
                .or_else(|| ns_owner.clone());
            inv.routes.push(RouteInfo {
                owner,
                guest: sp.label.clone(),
                dst: r.dst.to_string(),
                via: r.via.map(|v| v.to_string()),
                dev,
                metric: r.metric,
                table: r.table,
                src: r.src.map(|s| s.to_string()),
                onlink: r.onlink,
            });
        }
    }
}

impl Inventory {
    /// Every owner something here belongs to.
    pub fn owners(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .interfaces
            .iter()
            .map(|i| i.owner.clone())
            .chain(self.bridges.iter().filter_map(|b| b.owner.clone()))
            .chain(self.bridges.iter().flat_map(|b| b.users.clone()))
            .chain(self.netns.iter().map(|n| n.owner.clone()))
            .chain(self.joined.iter().map(|j| j.owner.clone()))
            .chain(self.routes.iter().filter_map(|r| r.owner.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Only what belongs to `owner`, with the bridges its interfaces are on.
    pub fn of_owner(&self, owner: &str) -> Inventory {
        let o = Some(owner.to_string());
        let mut inv = Inventory {
            netns: self
                .netns
                .iter()
                .filter(|n| n.owner == owner)
                .cloned()
                .collect(),
            interfaces: self
                .interfaces
                .iter()
                .filter(|i| i.owner == owner)
                .cloned()
                .collect(),
            joined: self
                .joined
                .iter()
                .filter(|j| j.owner == owner)
                .cloned()
                .collect(),
            routes: self
                .routes
                .iter()
                .filter(|r| r.owner == o)
                .cloned()
                .collect(),
            notes: self
                .notes
                .iter()
                .filter(|n| n.concerns(&[owner.to_string()]))
                .cloned()
                .collect(),
            bridges: vec![],
        };
        inv.bridges = self
            .bridges
            .iter()
            .filter(|b| b.owner == o || b.users.iter().any(|u| u == owner) || inv.uses(&b.name))
            .cloned()
            .collect();
        inv
    }

    /// Only what is in one guest (`web`, `netns:web`, `container:web`, `pid:42`).
    pub fn of_guest(&self, guest: &str) -> Inventory {
        let is = |label: &str| {
            label == guest || label.split_once(':').is_some_and(|(_, name)| name == guest)
        };
        let mut inv = Inventory {
            netns: self
                .netns
                .iter()
                .filter(|n| is(&format!("netns:{}", n.name)))
                .cloned()
                .collect(),
            interfaces: self
                .interfaces
                .iter()
                .filter(|i| is(&i.guest))
                .cloned()
                .collect(),
            routes: self
                .routes
                .iter()
                .filter(|r| is(&r.guest))
                .cloned()
                .collect(),
            ..Default::default()
        };
        inv.bridges = self
            .bridges
            .iter()
            .filter(|b| inv.uses(&b.name))
            .cloned()
            .collect();
        let owners = inv.owners();
        inv.notes = self
            .notes
            .iter()
            .filter(|n| n.concerns(&owners))
            .cloned()
            .collect();
        inv
    }

    fn uses(&self, bridge: &str) -> bool {
        self.interfaces
            .iter()
            .any(|i| i.bridge.as_deref() == Some(bridge))
            || self.joined.iter().any(|j| j.bridge == bridge)
    }

    pub fn is_empty(&self) -> bool {
        self.bridges.is_empty()
            && self.netns.is_empty()
            && self.interfaces.is_empty()
            && self.joined.is_empty()
            && self.routes.is_empty()
    }
}
