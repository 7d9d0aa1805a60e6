//! Links: read them back into plain data, create bridges and veth pairs, change them, delete them.

use super::Ns;
use crate::error::Result;
use crate::parse::fmt_mac;
use futures::TryStreamExt;
use netlink_packet_core::DefaultNla;
pub use netlink_packet_route::link::MacVlanMode;
use netlink_packet_route::link::{
    AfSpecInet, AfSpecInet6, AfSpecUnspec, BridgeVlanInfoFlags, GreIOFlags, In6AddrGenMode,
    InfoBridge, InfoData, InfoKind, InfoVeth, InfoVlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};
use rtnetlink::{
    LinkBridge, LinkBridgeVlan, LinkDummy, LinkGre, LinkGre6, LinkMacVlan, LinkMessageBuilder,
    LinkUnspec, LinkVlan, LinkVxlan,
};
use std::os::fd::{AsRawFd, OwnedFd};

/// What the kernel says about one interface.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinkState {
    pub index: u32,
    pub name: String,
    pub kind: Option<String>,
    /// The Ethernet MAC (None for links without one, IPoIB among them).
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    /// ifindex of the bridge (or other controller) this link is enslaved to.
    pub master: Option<u32>,
    pub up: bool,
    pub lower_up: bool,
    pub oper: String,
    pub alias: Option<String>,
    /// For veth: the peer's ifindex (in `link_netnsid`'s namespace when that is set).
    pub peer: Option<u32>,
    pub link_netnsid: Option<i32>,
    /// Bridges: whether VLAN filtering is on.
    pub vlan_filtering: Option<bool>,
    /// 802.1Q sub-interfaces: the VLAN id.
    pub vlan_id: Option<u16>,
    /// An InfiniBand interface (ARPHRD_INFINIBAND): IPoIB children, not macvlan, hang off it.
    pub infiniband: bool,
}

/// A link request without the counters: the kernel then leaves out IFLA_STATS/STATS64 and the
/// per-family (IPv6, ICMPv6) statistics, which nothing here reads and which made up most of each
/// message — gathered per CPU by the kernel, parsed attribute by attribute here, on every dump.
fn lean(r: rtnetlink::LinkGetRequest) -> rtnetlink::LinkGetRequest {
    r.set_filter_mask(
        netlink_packet_route::AddressFamily::Unspec,
        vec![netlink_packet_route::link::LinkExtentMask::SkipStats],
    )
}

/// An Ethernet tunnel endpoint for joining switches across hosts (see `Ns::add_tunnel`).
#[derive(Clone, Debug)]
pub struct TunnelSpec<'a> {
    pub name: &'a str,
    pub kind: Tunnel,
    pub remote: std::net::IpAddr,
    pub local: Option<std::net::IpAddr>,
    /// The underlay interface (by index, in the underlay's namespace).
    pub dev: Option<u32>,
}

/// What carries the frames: VXLAN (UDP, a 24-bit network id) or GRE (gretap / ip6gretap, a
/// 32-bit key telling several tunnels between the same two ends apart).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tunnel {
    Vxlan { vni: u32, port: u16 },
    Gre { key: u32 },
}

impl TunnelSpec<'_> {
    /// The kernel's link kind for this tunnel, as a dump reports it.
    pub fn link_kind(&self) -> &'static str {
        match (self.kind, self.remote) {
            (Tunnel::Vxlan { .. }, _) => "vxlan",
            (Tunnel::Gre { .. }, std::net::IpAddr::V4(_)) => "gretap",
            (Tunnel::Gre { .. }, std::net::IpAddr::V6(_)) => "ip6gretap",
        }
    }
}

impl LinkState {
    fn from_msg(m: &LinkMessage) -> LinkState {
        let mut s = LinkState {
            index: m.header.index,
            up: m.header.flags.contains(LinkFlags::Up),
            lower_up: m.header.flags.contains(LinkFlags::LowerUp),
            infiniband: m.header.link_layer_type
                == netlink_packet_route::link::LinkLayerType::Infiniband,
            ..Default::default()
        };
        for a in &m.attributes {
            match a {
                LinkAttribute::IfName(n) => s.name = n.clone(),
                LinkAttribute::Address(a) if a.len() == 6 => {
                    s.mac = Some([a[0], a[1], a[2], a[3], a[4], a[5]])
                }
                LinkAttribute::Mtu(v) => s.mtu = *v,
                LinkAttribute::Controller(v) => s.master = Some(*v),
                LinkAttribute::IfAlias(v) => s.alias = Some(v.clone()),
                LinkAttribute::Link(v) => s.peer = Some(*v),
                LinkAttribute::LinkNetNsId(v) => s.link_netnsid = Some(*v),
                LinkAttribute::OperState(st) => s.oper = st.to_string(),
                LinkAttribute::LinkInfo(infos) => {
                    for i in infos {
                        match i {
                            LinkInfo::Kind(k) => s.kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::Bridge(b)) => {
                                for x in b {
                                    if let InfoBridge::VlanFiltering(f) = x {
                                        s.vlan_filtering = Some(*f);
                                    }
                                }
                            }
                            LinkInfo::Data(InfoData::Vlan(v)) => {
                                for x in v {
                                    if let InfoVlan::Id(id) = x {
                                        s.vlan_id = Some(*id);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        s
    }

    pub fn is_kind(&self, k: &str) -> bool {
        self.kind.as_deref() == Some(k)
    }

    /// The owner pipework's marker on this link names, if it carries one.
    pub fn owner(&self) -> Option<&str> {
        self.alias.as_deref().and_then(crate::marker::owner_of)
    }

    /// The Ethernet MAC as bytes (None for links without one, IPoIB among them).
    pub fn mac_bytes(&self) -> Option<[u8; 6]> {
        self.mac
    }

    /// The MAC as people write it (02:42:ac:11:00:02).
    pub fn mac_text(&self) -> Option<String> {
        self.mac.map(|m| fmt_mac(&m))
    }
}

/// Both ends of a veth pair in one request: the peer is born directly inside the guest namespace
/// with its final name, MAC and MTU, so there is no window where it sits in the host under a temp name.
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub host_master: Option<u32>,
    pub peer_name: &'a str,
    pub peer_ns: Option<&'a OwnedFd>,
    pub peer_mac: Option<[u8; 6]>,
    pub mtu: Option<u32>,
}

/// A partial change to one link; `None` fields are left alone.
#[derive(Default)]
pub struct LinkChange<'a> {
    pub up: Option<bool>,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub name: Option<&'a str>,
    pub master: Option<Option<u32>>,
    pub netns: Option<&'a OwnedFd>,
    pub alias: Option<&'a str>,
    /// Turn on the interface's IPv4 `arp_notify`: the kernel then announces the addresses with a
    /// gratuitous ARP whenever the link comes up or its MAC changes.
    pub arp_notify: bool,
    /// Turn on IPv4 `promote_secondaries`: removing an interface's primary address then promotes
    /// the next one of its subnet instead of deleting every secondary with it.
    pub promote_secondaries: bool,
}

impl Ns<'_> {
    pub fn links(&self) -> Result<Vec<LinkState>> {
        self.log("dump links");
        let msgs: Vec<LinkMessage> = self
            .nl
            .block_on(lean(self.h.link().get()).execute().try_collect())
            .map_err(|e| self.fail("dump links", e))?;
        Ok(msgs.iter().map(LinkState::from_msg).collect())
    }

    /// Look a link up by name; `Ok(None)` if there is none.
    pub fn link(&self, name: &str) -> Result<Option<LinkState>> {
        self.log(&format!("get link {name}"));
        let req = lean(self.h.link().get())
            .match_name(name.to_string())
            .execute();
        match self.nl.block_on(req.try_collect::<Vec<_>>()) {
            Ok(v) => Ok(v.first().map(LinkState::from_msg)),
            Err(e) => {
                let err = self.fail(&format!("get link {name}"), e);
                if err.errno() == Some(libc::ENODEV) {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    fn add_link(&self, op: &str, msg: LinkMessage) -> Result<()> {
        self.log(op);
        self.nl
            .block_on(self.h.link().add(msg).execute())
            .map_err(|e| self.fail(op, e))
    }

    pub fn add_bridge(&self, name: &str, mtu: Option<u32>, vlan_filtering: bool) -> Result<()> {
        let mut b = LinkBridge::new(name);
        if let Some(m) = mtu {
            b = b.mtu(m);
        }
        if vlan_filtering {
            b = b.vlan_filtering(true);
        }
        self.add_link(&format!("create bridge {name}"), b.build())
    }

    pub fn set_vlan_filtering(&self, index: u32, name: &str, on: bool) -> Result<()> {
        let op = format!("set bridge {name} vlan_filtering {}", on as u8);
        self.log(&op);
        // By index only: on kernels before 6.x an IFLA_IFNAME in a change message for an UP device
        // fails with EBUSY even when the name is unchanged.
        let msg = LinkMessageBuilder::<LinkBridge>::new_with_info_kind(InfoKind::Bridge)
            .index(index)
            .vlan_filtering(on)
            .build();
        self.nl
            .block_on(self.h.link().change(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    /// A macvlan child of `parent`, born directly inside the namespace `netns` under its final name
    /// — the parent stays where it is.
    pub fn add_macvlan(
        &self,
        name: &str,
        (parent, mode): (u32, MacVlanMode),
        netns: &OwnedFd,
        mac: Option<[u8; 6]>,
        mtu: Option<u32>,
    ) -> Result<()> {
        let mut b = LinkMacVlan::new(name, parent, mode).setns_by_fd(netns.as_raw_fd());
        if let Some(m) = mac {
            b = b.address(m.to_vec());
        }
        if let Some(m) = mtu {
            b = b.mtu(m);
        }
        self.add_link(
            &format!("create macvlan {name} on #{parent} (in guest)"),
            b.build(),
        )
    }

    /// An IPoIB child of the InfiniBand interface `parent` (partition `pkey`, else the parent's),
    /// born directly inside the namespace `netns` under its final name.
    pub fn add_ipoib(
        &self,
        name: &str,
        parent: u32,
        netns: &OwnedFd,
        pkey: Option<u16>,
        mtu: Option<u32>,
    ) -> Result<()> {
        self.add_link(
            &format!("create ipoib {name} on #{parent} (in guest)"),
            ipoib_msg(name, parent, netns.as_raw_fd(), pkey, mtu),
        )
    }

    pub fn add_dummy(&self, name: &str) -> Result<()> {
        self.add_link(
            &format!("create dummy {name}"),
            LinkDummy::new(name).build(),
        )
    }

    /// A tunnel device whose socket lives in this namespace (the underlay: where `remote` is
    /// routed), put in `into` when given, so a switch of the host carries it while its traffic
    /// leaves through a namespace playing the host's network. VXLAN is born there in one request
    /// (the kernel keeps its socket in the namespace that asked); a GRE device works in the
    /// namespace it is born in and keeps that one when moved, so it is made here, then moved
    /// (and deleted again if it cannot be).
    pub fn add_tunnel(&self, t: &TunnelSpec, into: Option<&OwnedFd>) -> Result<()> {
        use std::net::IpAddr;
        let what = format!("create {} {} remote {}", t.link_kind(), t.name, t.remote);
        let (vni, port) = match t.kind {
            Tunnel::Vxlan { vni, port } => (vni, port),
            Tunnel::Gre { key } => return self.add_gre(t, key, into, &what),
        };
        let mut b = LinkVxlan::new(t.name, vni).port(port);
        b = match t.remote {
            IpAddr::V4(a) => b.remote(a),
            IpAddr::V6(a) => b.remote6(a),
        };
        b = match t.local {
            Some(IpAddr::V4(a)) => b.local(a),
            Some(IpAddr::V6(a)) => b.local6(a),
            None => b,
        };
        if let Some(dev) = t.dev {
            b = b.dev(dev);
        }
        if let Some(fd) = into {
            b = b.setns_by_fd(fd.as_raw_fd());
        }
        self.add_link(&format!("{what} vni {vni} dstport {port}"), b.build())
    }

    fn add_gre(&self, t: &TunnelSpec, key: u32, into: Option<&OwnedFd>, what: &str) -> Result<()> {
        use std::net::IpAddr;
        // gretap and ip6gretap builders differ only in their address type.
        macro_rules! gre {
            ($b:expr, $remote:expr, $family:path) => {{
                let mut b = $b.remote($remote).ikey(key).okey(key);
                b = b.iflags(GreIOFlags::Key).oflags(GreIOFlags::Key);
                if let Some($family(l)) = t.local {
                    b = b.local(l);
                }
                if let Some(dev) = t.dev {
                    b = b.dev(dev);
                }
                b.build()
            }};
        }
        let msg = match t.remote {
            IpAddr::V4(r) => gre!(LinkGre::new_gretap(t.name), r, IpAddr::V4),
            IpAddr::V6(r) => gre!(LinkGre6::new_gretap6(t.name), r, IpAddr::V6),
        };
        self.add_link(&format!("{what} key {key}"), msg)?;
        let Some(fd) = into else { return Ok(()) };
        let moved = self.require(t.name).and_then(|l| {
            let to = LinkChange {
                netns: Some(fd),
                ..Default::default()
            };
            self.set_link(l.index, t.name, &to)
        });
        if moved.is_err() {
            let _ = self.del_link_by_name(t.name);
        }
        moved
    }

    /// 802.1Q sub-interface `name` on `parent` with VLAN id `id`, in this namespace.
    pub fn add_vlan(&self, name: &str, parent: u32, id: u16) -> Result<()> {
        self.add_link(
            &format!("create vlan {name} id {id} on #{parent}"),
            LinkVlan::new(name, parent, id).build(),
        )
    }

    /// Make `vid` the port's only VLAN: PVID, egress untagged (an access port), dropping the
    /// bridge's default VLAN 1 so the port sees nothing else.
    pub fn bridge_access_vlan(&self, port: u32, port_name: &str, vid: u16) -> Result<()> {
        let op = format!("bridge vlan add vid {vid} pvid untagged dev {port_name}");
        self.log(&op);
        let msg = LinkBridgeVlan::new(port)
            .vlan(
                vid,
                BridgeVlanInfoFlags::Pvid | BridgeVlanInfoFlags::Untagged,
            )
            .build();
        self.nl
            .block_on(self.h.link().set(msg).execute())
            .map_err(|e| self.fail(&op, e))?;
        if vid != 1 {
            let op = format!("bridge vlan del vid 1 dev {port_name}");
            self.log(&op);
            let msg = LinkBridgeVlan::new(port)
                .vlan(1, BridgeVlanInfoFlags::empty())
                .build();
            match self
                .nl
                .block_on(self.h.link().del_with_message(msg).execute())
                .map_err(|e| self.fail(&op, e))
            {
                Err(e) if e.errno() != Some(libc::ENOENT) => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Set the alias (our ownership marker) by interface name.
    pub fn set_alias(&self, name: &str, alias: &str) -> Result<()> {
        let op = format!("set link {name} alias {alias:?}");
        self.log(&op);
        let msg = LinkUnspec::new_with_name(name).alias(alias).build();
        self.nl
            .block_on(self.h.link().set(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    /// IPv6 address generation off, the link left as it is. A link with carrier from birth (a
    /// tunnel) needs this before it comes up: the kernel applies link flags before per-family
    /// settings, so in `finish_host_port`'s one message its link-local address would be made first.
    pub fn addrgenmode_none(&self, name: &str) -> Result<()> {
        self.set_port(name, None)
    }

    /// Mark a new bridge port as ours and bring it up, with IPv6 address generation off. A bridge
    /// port needs no addresses; left on, every new port's link-local DAD, router solicitations and
    /// MLD reports are flooded to all other ports, which makes attaching the N-th guest O(N) work
    /// for the whole kernel (measured: 1000 attaches went from ~10 s to a fraction with this).
    pub fn finish_host_port(&self, name: &str, alias: &str) -> Result<()> {
        self.set_port(name, Some(alias))
    }

    /// addrgenmode none, and with an alias also the alias and up, in one message.
    fn set_port(&self, name: &str, alias: Option<&str>) -> Result<()> {
        let mut b = LinkUnspec::new_with_name(name);
        let op = match alias {
            Some(a) => {
                b = b.alias(a).up();
                format!("set link {name} up addrgenmode none alias {a:?}")
            }
            None => format!("set link {name} addrgenmode none"),
        };
        self.log(&op);
        let msg = b
            .append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]))
            .build();
        self.nl
            .block_on(self.h.link().set(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    /// Have the kernel announce the link's IPv4 addresses again (gratuitous ARP, arp_notify must be
    /// on): setting the MAC it already has raises NETDEV_CHANGEADDR, and arp_notify answers that
    /// with an announcement. One netlink message instead of a packet socket, whose close waits for
    /// an RCU grace period (synchronize_net in packet_release) — ~15 ms, most of an attach.
    pub fn announce(&self, index: u32, name: &str, mac: [u8; 6]) -> Result<()> {
        let op = format!(
            "announce {name} (set its own address {} again)",
            fmt_mac(&mac)
        );
        self.log(&op);
        let msg = LinkUnspec::new_with_index(index)
            .address(mac.to_vec())
            .build();
        self.nl
            .block_on(self.h.link().set(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    pub fn del_link_by_name(&self, name: &str) -> Result<()> {
        let op = format!("delete link {name}");
        self.log(&op);
        let msg = LinkUnspec::new_with_name(name).build();
        self.nl
            .block_on(self.h.link().del_with_message(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    pub fn add_veth(&self, v: &VethSpec) -> Result<()> {
        // The peer cannot be created up: veth_open() fails with ENOTCONN until the pair is linked.
        let mut peer = LinkMessageBuilder::<LinkUnspec>::new().name(v.peer_name);
        if let Some(fd) = v.peer_ns {
            peer = peer.setns_by_fd(fd.as_raw_fd());
        }
        if let Some(mac) = v.peer_mac {
            peer = peer.address(mac.to_vec());
        }
        if let Some(m) = v.mtu {
            peer = peer.mtu(m);
        }
        // The host end is created down: `finish_host_port` marks it, turns off its IPv6 address
        // generation and brings it up in one message (see there for why).
        let mut host = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(v.host_name)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())));
        if let Some(br) = v.host_master {
            host = host.controller(br);
        }
        if let Some(m) = v.mtu {
            host = host.mtu(m);
        }
        // No IFLA_IFALIAS here: RTM_NEWLINK silently ignores it, so the ownership marker is set right
        // after with set_alias().
        self.add_link(
            &format!(
                "create veth {} (peer {} in guest)",
                v.host_name, v.peer_name
            ),
            host.build(),
        )
    }

    pub fn set_link(&self, index: u32, what: &str, c: &LinkChange) -> Result<()> {
        let mut b = LinkUnspec::new_with_index(index);
        let mut parts = vec![];
        match c.up {
            Some(true) => {
                b = b.up();
                parts.push("up".to_string());
            }
            Some(false) => {
                b = b.down();
                parts.push("down".to_string());
            }
            None => {}
        }
        if let Some(m) = c.mtu {
            b = b.mtu(m);
            parts.push(format!("mtu {m}"));
        }
        if let Some(mac) = c.mac {
            b = b.address(mac.to_vec());
            parts.push(format!("address {}", fmt_mac(&mac)));
        }
        if let Some(n) = c.name {
            b = b.name(n);
            parts.push(format!("name {n}"));
        }
        match c.master {
            Some(Some(m)) => {
                b = b.controller(m);
                parts.push(format!("master #{m}"));
            }
            Some(None) => {
                b = b.nocontroller();
                parts.push("nomaster".into());
            }
            None => {}
        }
        if let Some(fd) = c.netns {
            b = b.setns_by_fd(fd.as_raw_fd());
            parts.push("netns".into());
        }
        if let Some(a) = c.alias {
            b = b.alias(a);
            parts.push(format!("alias {a:?}"));
        }
        let mut conf = vec![];
        if c.arp_notify {
            conf.push(IPV4_DEVCONF_ARP_NOTIFY);
            parts.push("arp_notify 1".into());
        }
        if c.promote_secondaries {
            conf.push(IPV4_DEVCONF_PROMOTE_SECONDARIES);
            parts.push("promote_secondaries 1".into());
        }
        if !conf.is_empty() {
            b = b.append_extra_attribute(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet(
                vec![AfSpecInet::Other(DefaultNla::new(
                    IFLA_INET_CONF,
                    devconf_on(&conf),
                ))],
            )]));
        }
        let op = format!("set link {what} {}", parts.join(" "));
        self.log(&op);
        self.nl
            .block_on(self.h.link().set(b.build()).execute())
            .map_err(|e| self.fail(&op, e))
    }

    pub fn del_link(&self, index: u32, what: &str) -> Result<()> {
        let op = format!("delete link {what}");
        self.log(&op);
        self.nl
            .block_on(self.h.link().del(index).execute())
            .map_err(|e| self.fail(&op, e))
    }
}

const IFLA_INET_CONF: u16 = 1;
const IPV4_DEVCONF_PROMOTE_SECONDARIES: u16 = 20;
const IPV4_DEVCONF_ARP_NOTIFY: u16 = 22;

/// IFLA_INET_CONF with just the entries we turn on: the kernel applies each nested attribute by
/// its type, so nothing else of the interface's configuration is touched.
fn devconf_on(entries: &[u16]) -> Vec<u8> {
    let mut v = vec![];
    for id in entries {
        v.extend_from_slice(&8u16.to_ne_bytes());
        v.extend_from_slice(&id.to_ne_bytes());
        v.extend_from_slice(&1u32.to_ne_bytes());
    }
    v
}

/// The NEWLINK request of `add_ipoib` (separate so it can be checked without InfiniBand hardware).
pub fn ipoib_msg(
    name: &str,
    parent: u32,
    netns: std::os::fd::RawFd,
    pkey: Option<u16>,
    mtu: Option<u32>,
) -> LinkMessage {
    let mut b = rtnetlink::LinkIpoib::new(name)
        .link(parent)
        .setns_by_fd(netns);
    if let Some(p) = pkey {
        b = b.pkey(p);
    }
    if let Some(m) = mtu {
        b = b.mtu(m);
    }
    b.build()
}

pub fn link_up<'a>() -> LinkChange<'a> {
    LinkChange {
        up: Some(true),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{Emitable, Parseable};
    use netlink_packet_route::link::InfoIpoib;

    #[test]
    fn ipoib_request_carries_parent_namespace_and_pkey() {
        let m = ipoib_msg("ib0", 7, 42, Some(0x8001), Some(2044));
        // Through the wire format and back, as the kernel would read it.
        let mut buf = vec![0u8; m.buffer_len()];
        m.emit(&mut buf);
        let back = LinkMessage::parse(&buf[..]).unwrap();
        let a = &back.attributes;
        assert!(a.contains(&LinkAttribute::IfName("ib0".into())));
        assert!(a.contains(&LinkAttribute::Link(7)), "{a:?}");
        assert!(a.contains(&LinkAttribute::NetNsFd(42)), "{a:?}");
        assert!(a.contains(&LinkAttribute::Mtu(2044)), "{a:?}");
        let info = a
            .iter()
            .find_map(|x| match x {
                LinkAttribute::LinkInfo(i) => Some(i.clone()),
                _ => None,
            })
            .unwrap();
        assert!(info.contains(&LinkInfo::Kind(InfoKind::Ipoib)), "{info:?}");
        assert!(
            info.contains(&LinkInfo::Data(InfoData::Ipoib(vec![InfoIpoib::Pkey(
                0x8001
            )]))),
            "{info:?}"
        );
        // Without a partition key the child joins the parent's partition: no IFLA_IPOIB_PKEY.
        let m = ipoib_msg("ib0", 7, 42, None, None);
        assert!(!format!("{:?}", m.attributes).contains("Pkey"));
    }
}
