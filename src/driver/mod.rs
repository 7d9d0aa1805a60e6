//! Host-side kinds behind one small trait, the way netavark puts bridge and macvlan behind its
//! `NetworkDriver`: validate the request, then attach a guest. Each kind lives in its own file and
//! owns both halves of its life — attach, and the rollback and teardown of what it made:
//! `bridge` (Linux bridge) and `ovs/` (Open vSwitch) share the veth-pair attach in `veth`; `phys`
//! holds macvlan, IPoIB and direct physical interfaces. `HostKind` decides, for every front end,
//! which kind a host interface is.

mod bridge;
pub(crate) mod direct;
pub(crate) mod join;
pub use join::JoinOpts;
pub(crate) mod ovs;
mod phys;
pub(crate) mod shared;
mod veth;

pub use bridge::LinuxBridge;
pub use direct::DirectPhys;
pub use ovs::OvsBridge;
pub use phys::{Ipoib, Macvlan};

use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{LinkChange, LinkState, Ns, RouteSpec};
use crate::parse;
use crate::session::{Created, Removed, Session};
use ipnetwork::IpNetwork;
use std::fmt;
use std::net::IpAddr;

/// What a host interface named on a classic command line (or, later, in a CNI config) is, which
/// decides the driver — in one place for every front end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HostKind {
    /// A Linux bridge; `create`: it does not exist yet and a `br*` name asks for one.
    Bridge {
        create: bool,
    },
    Ovs,
    Dummy,
    Phys,
    Ipoib,
}

/// What a front end declares about a host interface besides its name. The classic command line
/// and `attach()` declare nothing (`ByName`: the original's rules); a CNI config names the kind
/// by its key (`bridge`, `ovs`, `master`), which also lets a missing bridge have any name.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum Declared {
    #[default]
    ByName,
    /// `--direct-phys`: a physical interface, handed over itself.
    DirectPhys,
    /// A Linux bridge, created if missing whatever its name.
    Bridge,
    /// An Open vSwitch bridge, created if missing.
    Ovs,
    /// An existing interface that parents a child per guest: macvlan, or IPoIB on InfiniBand.
    Parent,
}

impl Declared {
    /// What the classic command line and `attach()` declare: the interface itself with
    /// `--direct-phys` (`#{direct_phys: true}`), else nothing beyond the name.
    pub fn classic(direct_phys: bool) -> Declared {
        if direct_phys {
            Declared::DirectPhys
        } else {
            Declared::ByName
        }
    }
}

impl HostKind {
    /// Decided as the original does, the kernel first (its link dump costs nothing extra): an
    /// existing bridge, or a br*/ovs*/dummy* name to create; any other existing interface is
    /// physical (InfiniBand ones get IPoIB). OVSDB (one query on its socket) is asked only about a
    /// device of the kind an OVS bridge shows as (a tap for the userspace datapath, "openvswitch"
    /// for the kernel one), or about a name nobody shows and no prefix claims. A declared kind
    /// must agree with what exists, and decides what a missing name becomes.
    pub fn of(existing: Option<&LinkState>, name: &str, declared: Declared) -> Result<HostKind> {
        let is_ovs = |l: &LinkState| {
            (l.is_kind("tun") || l.is_kind("openvswitch")) && ovs::vsctl::is_bridge(name)
        };
        let direct_phys = declared == Declared::DirectPhys;
        let found = match existing {
            Some(l) if l.is_kind("bridge") => HostKind::Bridge { create: false },
            Some(l) if is_ovs(l) => HostKind::Ovs,
            Some(l) if l.infiniband && !direct_phys => HostKind::Ipoib,
            Some(_) => HostKind::Phys,
            None => {
                return match declared {
                    Declared::Bridge => Ok(HostKind::Bridge { create: true }),
                    Declared::Ovs => Ok(HostKind::Ovs),
                    // Its driver looks further (a wireless phy has no interface in the host).
                    Declared::DirectPhys => Ok(HostKind::Phys),
                    Declared::Parent => {
                        Err(Error::not_found("host interface", name, Some("host".into())))
                    }
                    Declared::ByName if name.starts_with("br") => {
                        Ok(HostKind::Bridge { create: true })
                    }
                    Declared::ByName if name.starts_with("dummy") => Ok(HostKind::Dummy),
                    Declared::ByName if name.starts_with("ovs") => Ok(HostKind::Ovs),
                    Declared::ByName if ovs::vsctl::is_bridge(name) => Ok(HostKind::Ovs),
                    Declared::ByName => Err(Error::invalid(
                        "host interface",
                        name,
                        "does not exist, and only br* (Linux bridge), ovs* and dummy* names are created on demand",
                    )),
                };
            }
        };
        let agrees = match declared {
            Declared::ByName | Declared::DirectPhys => true,
            Declared::Bridge => matches!(found, HostKind::Bridge { .. }),
            Declared::Ovs => found == HostKind::Ovs,
            Declared::Parent => matches!(found, HostKind::Phys | HostKind::Ipoib),
        };
        if !agrees {
            let is = match found {
                HostKind::Bridge { .. } => "a Linux bridge",
                HostKind::Ovs => "an Open vSwitch bridge",
                _ => "not a bridge",
            };
            let wanted = match declared {
                Declared::Bridge => "a Linux bridge",
                Declared::Ovs => "an Open vSwitch bridge",
                _ => "an interface to parent macvlan or IPoIB children",
            };
            return Err(Error::Conflict(format!(
                "host interface {name} is {is}, and was named as {wanted}"
            )));
        }
        Ok(found)
    }

    /// The driver for a host interface of this kind, as `declared` for `of` (`DirectPhys`: hand a
    /// physical interface over instead of a macvlan child; `child`: how a child is made). None for
    /// `Dummy`, which makes an interface inside the guest instead of attaching through the host.
    pub fn driver(self, name: &str, declared: Declared, child: Child) -> Option<Box<dyn Driver>> {
        let name = name.to_string();
        let via = match self {
            HostKind::Bridge { .. } => Via::Bridge(name),
            HostKind::Ovs => Via::Ovs(name),
            HostKind::Ipoib => Via::Ipoib(name, child.pkey),
            HostKind::Phys if declared == Declared::DirectPhys => Via::DirectPhys(name),
            HostKind::Phys => match child.macvlan_mode {
                Some(mode) => {
                    return Some(Box::new(Macvlan {
                        mode,
                        ..Macvlan::on_host(&name)
                    }))
                }
                None => Via::Macvlan(name),
            },
            HostKind::Dummy => return None,
        };
        Some(via.driver())
    }
}

/// How a child of a host interface is made, when a front end says: an IPoIB partition, a
/// macvlan mode (bridge unless told).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Child {
    pub pkey: Option<u16>,
    pub macvlan_mode: Option<crate::net::MacVlanMode>,
}

pub trait Driver {
    /// "bridge br1", "ovs ovs0" — for messages.
    fn describe(&self) -> String;
    /// Reject requests this kind cannot honour, before anything is changed.
    fn validate(&self, opts: &AttachOpts) -> Result<()> {
        opts.validate_common()
    }
    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment>;
    /// Which kind this is, and through what: recorded on the attachment so it can be undone later
    /// by a process that never saw this driver.
    fn made_by(&self) -> Via;
    /// Take one attachment this kind made apart again: the guest's interface and whatever joined it
    /// to the host side (the host end of a pair and its OVS port; a moved interface goes home).
    /// Returns what was removed; shared things (a bridge, a VLAN sub-interface) stay for `down()`.
    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>>;
}

/// The kind of host side an attachment was made through (see `Driver::made_by`).
#[derive(Clone, Debug, PartialEq)]
pub enum Via {
    Bridge(String),
    Ovs(String),
    Macvlan(String),
    Ipoib(String, Option<u16>),
    DirectPhys(String),
}

impl Via {
    /// The driver of this kind: the one that made an attachment, to undo it, or a new one (the
    /// only place drivers are built from a name).
    pub fn driver(&self) -> Box<dyn Driver> {
        match self {
            Via::Bridge(n) => Box::new(LinuxBridge { name: n.clone() }),
            Via::Ovs(n) => Box::new(OvsBridge { name: n.clone() }),
            Via::Macvlan(p) => Box::new(Macvlan::on_host(p)),
            Via::Ipoib(p, pkey) => Box::new(Ipoib {
                parent: p.clone(),
                pkey: *pkey,
                on: None,
            }),
            Via::DirectPhys(p) => Box::new(DirectPhys { phys: p.clone() }),
        }
    }
}

/// `detach` for kinds whose guest interface is all there is of the attachment (macvlan, IPoIB).
pub(crate) fn detach_guest_link(s: &Session, att: &Attachment) -> Result<Vec<String>> {
    let gns = s.nl.ns(&att.guest)?;
    let l = gns.require(&att.ifname)?;
    gns.del_link(l.index, &l.name)?;
    Ok(vec![format!("{}:{}", att.guest, att.ifname)])
}

/// What the user asked for on the guest side of an attachment.
#[derive(Clone, Debug)]
pub struct AttachOpts {
    pub ifname: String,
    pub ips: Vec<IpNetwork>,
    pub gateway: Option<IpAddr>,
    pub mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
    pub host_ifname: Option<String>,
    /// Access VLAN: a PVID on a vlan_filtering Linux bridge, a tag on OVS, `parent.N` for macvlan.
    pub vlan: Option<u16>,
    /// Announce the guest's IPv4 addresses (gratuitous ARP) once it is up, so neighbours drop
    /// what they cached for those addresses. Every announcement is flooded to the whole segment:
    /// a topology built from nothing has no stale caches to correct, and at a thousand guests on
    /// one bridge the flood is most of what an attach costs the kernel.
    pub announce: bool,
}

impl Default for AttachOpts {
    fn default() -> Self {
        AttachOpts {
            ifname: "eth1".into(),
            ips: vec![],
            gateway: None,
            mac: None,
            mtu: None,
            host_ifname: None,
            vlan: None,
            announce: true,
        }
    }
}

impl AttachOpts {
    /// Checks every driver needs: names, and a gateway the guest can use — one of its own family
    /// that is not its own address. A gateway outside the guest's subnets is reached on-link, as
    /// the original does for failover-IP and /32 set-ups.
    pub fn validate_common(&self) -> Result<()> {
        parse::ifname(&self.ifname)?;
        if let Some(h) = &self.host_ifname {
            parse::ifname(h)?;
        }
        if let Some(gw) = self.gateway {
            let link_local_v6 = parse::is_link_local(gw);
            let family = self.ips.iter().any(|n| n.is_ipv4() == gw.is_ipv4());
            let why = if self.ips.iter().any(|n| n.ip() == gw) {
                Some("the gateway is the guest's own address".to_string())
            } else if !family && !link_local_v6 {
                Some(format!(
                    "a gateway needs an {} address on the interface (set `ip`)",
                    if gw.is_ipv4() { "IPv4" } else { "IPv6" }
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(Error::invalid("gateway", gw, why));
            }
        }
        Ok(())
    }
}

/// The result of an attach: both ends, for printing and for later operations.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub guest: Guest,
    pub ifname: String,
    pub host_ifname: String,
    pub via: String,
    pub ips: Vec<IpNetwork>,
    pub gateway: Option<IpAddr>,
    pub mac: String,
    pub owner: String,
    /// False when the attachment already existed in the wanted shape (re-run).
    pub created: bool,
    /// What undoes this attachment, in creation order, for the session's journal (empty: nothing
    /// may be deleted, e.g. a physical interface that was moved).
    pub undo: Vec<Created>,
    /// The kind that made it (set by `Session::attach`), so `Session::detach` can take it apart.
    pub made_by: Option<Via>,
}

impl Attachment {
    /// A new attachment as the options describe it; drivers fill in `mac` and `undo`.
    pub fn new(
        s: &Session,
        guest: &Guest,
        opts: &AttachOpts,
        via: String,
        host_ifname: String,
    ) -> Attachment {
        Attachment {
            guest: guest.clone(),
            ifname: opts.ifname.clone(),
            host_ifname,
            via,
            ips: opts.ips.clone(),
            gateway: opts.gateway,
            mac: String::new(),
            owner: s.owner(),
            created: true,
            undo: vec![],
            made_by: None,
        }
    }
}

impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} [{}", self.guest, self.ifname, self.mac)?;
        for ip in &self.ips {
            write!(f, " {ip}")?;
        }
        if let Some(g) = self.gateway {
            write!(f, " gw {g}")?;
        }
        write!(
            f,
            "] <-> host:{} on {} (owner {}{})",
            self.host_ifname,
            self.via,
            self.owner,
            if self.created {
                ""
            } else {
                ", already present"
            }
        )
    }
}

/// Host-side name for a guest's interface: `v<ifname>pl<guest>` like the original pipework, or, when
/// that exceeds 15 bytes, a short name derived deterministically from the same inputs.
pub fn host_ifname(opts: &AttachOpts, guest: &Guest) -> (String, bool) {
    if let Some(h) = &opts.host_ifname {
        return (h.clone(), false);
    }
    let classic = format!("v{}pl{}", opts.ifname, guest.key());
    if classic.len() <= parse::IFNAMSIZ_MAX {
        return (classic, false);
    }
    let h = parse::fnv1a(format!("{}/{}", guest.key(), opts.ifname).as_bytes());
    (format!("vpw{:012x}", h & 0xffff_ffff_ffff), true)
}

/// Delete a link a session created (rollback). Returns what was removed.
pub(crate) fn undo_link(s: &Session, guest: &Guest, name: &str) -> Option<String> {
    let ns = s.nl.ns(guest).ok()?;
    match ns.del_link_by_name(name) {
        Ok(()) => Some(format!("link {name}")),
        // A veth end disappears with its peer's namespace; that is fine.
        Err(e) if e.errno() == Some(libc::ENODEV) => None,
        Err(e) => {
            eprintln!("pipework: rollback: {e}");
            None
        }
    }
}

/// Rollback of a bridge a session made: its owner leaves it, so it goes unless another owner
/// started using it meanwhile.
pub(crate) fn undo_bridge(s: &Session, name: &str, ovs: bool, owner: &str) -> Option<String> {
    let mut r = Removed::default();
    let res = crate::lock::exclusive(crate::lock::Topic::Bridges).and_then(|_lock| {
        if ovs {
            ovs::release(s, name, owner, &mut r)
        } else {
            let ns = s.nl.ns(&s.host())?;
            let links = ns.links()?;
            match links.iter().find(|l| l.name == name && l.is_kind("bridge")) {
                Some(br) => bridge::release(&ns, br, &links, owner, &mut r),
                None => Ok(()),
            }
        }
    });
    if let Err(e) = res {
        eprintln!("pipework: rollback: {e}");
    }
    r.links
        .pop()
        .map(|b| format!("{} {b}", if ovs { "ovs bridge" } else { "bridge" }))
}

/// Rollback of a registration on a bridge that existed before the run.
pub(crate) fn undo_use(bridge: &str, owner: &str) {
    if let Ok(_lock) = crate::lock::exclusive(crate::lock::Topic::Bridges) {
        shared::unregister(bridge, owner);
    }
}

/// Teardown, host side: every host link marked with `owner` (veth host ends, VLAN sub-interfaces
/// made for macvlan), then the owner leaves the Linux bridges it held or used — the last user out
/// removes one (see `bridge::release`), decided under the exclusive bridges lock.
pub(crate) fn teardown_host_links(s: &Session, owner: &str, removed: &mut Removed) -> Result<()> {
    let ns = s.nl.ns(&s.host())?;
    let mut bridges = vec![];
    for l in ns.links()? {
        if l.owner() != Some(owner) {
            continue;
        }
        if l.is_kind("bridge") {
            bridges.push(l.name);
            continue;
        }
        // Somebody's NIC come back from a dead guest: direct::teardown_owned renames it, and one
        // without a record (lost with /run) is not ours to delete either.
        if direct::is_handed(&l) {
            continue;
        }
        match ns.del_link(l.index, &l.name) {
            Ok(()) => removed.links.push(l.name),
            // A veth end disappears with its peer's namespace; that is fine.
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => removed.errors.push(e.to_string()),
        }
    }
    // Interfaces of the host's own the owner put into bridges go back as they were, first: on
    // the bridge they would count as somebody's port.
    join::teardown_owned(&ns, owner, removed);
    for b in shared::used_by(owner) {
        if !bridges.contains(&b) {
            bridges.push(b);
        }
    }
    if bridges.is_empty() {
        return Ok(());
    }
    let _lock = crate::lock::exclusive(crate::lock::Topic::Bridges)?;
    let now = ns.links()?;
    for b in bridges {
        if let Some(br) = now.iter().find(|l| l.name == b && l.is_kind("bridge")) {
            if let Err(e) = bridge::release(&ns, br, &now, owner, removed) {
                removed.errors.push(e.to_string());
            }
        }
    }
    Ok(())
}

/// A guest went away (a container died): what pipework made for it on the host side goes — the
/// host ends of its veths (gone with its namespace, unless something still holds that), their OVS
/// ports, the DHCP clients and keepers that served it. Bridges, other guests and the owners'
/// records stay, so the same wiring can come back when the guest does.
pub(crate) fn release_guest(s: &Session, label: &str, removed: &mut Removed) -> Result<()> {
    removed.clients = crate::dhcp::external::stop_orphaned();
    direct::release_dead(s, removed);
    let ns = s.nl.ns(&s.host())?;
    for l in ns.links()? {
        let Some(alias) = l.alias.as_deref() else {
            continue;
        };
        if marker::owner_of(alias).is_none()
            || l.is_kind("bridge")
            || direct::is_handed(&l)
            || marker::field(alias, "guest") != Some(label)
        {
            continue;
        }
        match ns.del_link(l.index, &l.name) {
            Ok(()) => removed.links.push(l.name),
            Err(e) if e.errno() == Some(libc::ENODEV) => {}
            Err(e) => removed.errors.push(e.to_string()),
        }
    }
    let now: Vec<String> = ns.links()?.into_iter().map(|l| l.name).collect();
    ovs::release_guest(label, &now, removed);
    Ok(())
}

/// Reverses what a failing attach created, in reverse order, unless `commit()` was reached.
pub(crate) struct Undo<'a> {
    s: &'a Session,
    steps: Vec<(Guest, String)>,
}

impl<'a> Undo<'a> {
    pub fn new(s: &'a Session) -> Self {
        Undo { s, steps: vec![] }
    }

    /// Remember to delete this link if we fail later.
    pub fn created_link(&mut self, guest: &Guest, name: &str) {
        self.steps.push((guest.clone(), name.to_string()));
    }

    pub fn commit(mut self) {
        self.steps.clear();
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        for (g, name) in self.steps.drain(..).rev() {
            if self.s.nl.verbose {
                eprintln!("rollback: delete {name} in {g}");
            }
            if let Ok(ns) = self.s.nl.ns(&g) {
                let _ = ns.del_link_by_name(&name);
            }
        }
    }
}

/// A re-run: remove what the previous run declared on this link (its alias says) and this one
/// does not — addresses, the default route through a gateway — each with a note.
fn converge_declared(
    gns: &Ns,
    l: &LinkState,
    opts: &AttachOpts,
    before: Option<&str>,
) -> Result<()> {
    let Some(before) = before else { return Ok(()) };
    let listed = |k| {
        marker::field(before, k)
            .filter(|v| *v != "-" && *v != "*")
            .map(|v| v.split(',').map(String::from).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let mut promoting = false;
    let old_ips = listed("ips");
    // One dump of the link's addresses, and only when there is something to compare with it.
    let present: Vec<IpNetwork> = if old_ips.is_empty() {
        vec![]
    } else {
        gns.addrs(Some(l.index))?
            .into_iter()
            .map(|(_, a)| a)
            .collect()
    };
    for old in old_ips {
        let Ok(net) = parse::cidr(&old) else { continue };
        if opts.ips.contains(&net) {
            continue;
        }
        if present.contains(&net) {
            if net.is_ipv4() && !promoting {
                // Else removing a primary address takes its subnet's other addresses with it —
                // the one this run declares, and whatever somebody else added.
                let promote = LinkChange {
                    promote_secondaries: true,
                    ..Default::default()
                };
                gns.set_link(l.index, &l.name, &promote)?;
                promoting = true;
            }
            gns.del_addr(l.index, &l.name, net)?;
            eprintln!(
                "note: {}: removed {net}, which an earlier run set and this one no longer declares",
                l.name
            );
        }
    }
    for old in listed("gw") {
        let Ok(gw) = parse::ip(&old) else { continue };
        if opts.gateway == Some(gw) {
            continue;
        }
        let dst = parse::destination("default", Some(gw))?;
        let ours = gns
            .routes(gw.is_ipv6())?
            .into_iter()
            .any(|r| r.dst == dst && r.via == Some(gw) && r.dev == Some(l.index));
        if ours {
            let mut spec = RouteSpec::new(crate::net::RouteOp::Del, dst);
            spec.via = Some(gw);
            spec.dev = Some(l.name.clone());
            gns.apply_route(&spec, Some(l.index))?;
            eprintln!("note: {}: removed the default route via {gw}, which an earlier run set and this one no longer declares", l.name);
        }
    }
    Ok(())
}

/// What `configure_guest_end` may assume of the guest end.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum End {
    /// There before this call: converge what differs.
    Existing,
    /// Just created, so nothing on it can already be in place; the kernel announces its IPv4
    /// addresses as it comes up.
    Fresh,
    /// Just created behind a bridge port, which drops what the guest sends until the port
    /// forwards: the caller announces it once it does, and nothing is sent at link-up.
    FreshAnnouncedLater,
}

/// Bring the guest end to the wanted state: up, MAC, MTU, addresses, default gateway. Used for new
/// and re-run attachments alike, so re-running changes only what differs.
pub(crate) fn configure_guest_end(
    gns: &Ns,
    l: &LinkState,
    opts: &AttachOpts,
    end: End,
) -> Result<()> {
    let fresh = end != End::Existing;
    // Addresses go on while the link is still down, then one message brings it up with arp_notify:
    // the kernel announces the IPv4 addresses itself (gratuitous ARP) at that moment — no packet
    // socket, no fixed wait (the original spent a second in arping). Behind a bridge port that
    // announcement can die before the port forwards; veth::attach has it repeated once it does.
    for ip in &opts.ips {
        gns.ensure_addr(l.index, &l.name, *ip)?;
    }
    // What the script declares is recorded on the link itself (its alias), so a re-run can take
    // away what an earlier run set and this one no longer declares — and only that: addresses and
    // routes somebody else added stay.
    let declared = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(",")
        }
    };
    let ips = declared(opts.ips.iter().map(|n| n.to_string()).collect());
    let gw = declared(opts.gateway.iter().map(|g| g.to_string()).collect());
    let before = l.alias.as_deref().filter(|a| a.starts_with(marker::PREFIX));
    if !fresh {
        converge_declared(gns, l, opts, before)?;
    }
    let mut alias = marker::with_fields(before, &[("ips", ips), ("gw", gw.clone())]);
    if alias.len() > 255 {
        // IFALIASZ: too many addresses to list; a later run then converges nothing ("*").
        alias = marker::with_fields(before, &[("ips", "*".into()), ("gw", gw)]);
    }
    let alias = (Some(alias.as_str()) != l.alias.as_deref()).then_some(alias);
    let notify = opts.announce && !l.up && opts.ips.iter().any(|n| n.is_ipv4());
    if notify && end != End::FreshAnnouncedLater {
        // Its own message: the kernel applies IFLA_AF_SPEC after the UP flag within one request,
        // which would be too late for the announcement made at NETDEV_UP.
        let notify = LinkChange {
            arp_notify: true,
            ..Default::default()
        };
        gns.set_link(l.index, &l.name, &notify)?;
    }
    let change = LinkChange {
        up: (!l.up).then_some(true),
        mac: opts.mac.filter(|m| Some(*m) != l.mac),
        mtu: opts.mtu.filter(|m| *m != l.mtu),
        alias: alias.as_deref(),
        // Announced later: on with the link (after it came up, so nothing is sent now), ready for
        // the caller's announcement.
        arp_notify: notify && end == End::FreshAnnouncedLater,
        ..Default::default()
    };
    if change.up.is_some() || change.mac.is_some() || change.mtu.is_some() || change.alias.is_some()
    {
        gns.set_link(l.index, &l.name, &change)?;
    }
    if let Some(gw) = opts.gateway {
        let dst = parse::destination("default", Some(gw))?;
        let present = !fresh
            && gns
                .routes(gw.is_ipv6())?
                .iter()
                .any(|r| r.dst == dst && r.via == Some(gw) && r.dev == Some(l.index));
        if !present {
            let mut spec = RouteSpec::new(crate::net::RouteOp::Replace, dst);
            spec.via = Some(gw);
            spec.dev = Some(l.name.clone());
            // A gateway outside every subnet of the link (a /32 lease, a failover IP) is still
            // directly reachable on it: on-link, as the original's `GW/32 dev IF` route made it.
            spec.onlink = !parse::is_link_local(gw) && !opts.ips.iter().any(|n| n.contains(gw));
            gns.apply_route(&spec, Some(l.index))?;
        }
    }
    Ok(())
}
