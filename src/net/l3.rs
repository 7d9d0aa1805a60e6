//! A link's layer-3 state as the kernel's own messages: its addresses and the routes through it,
//! read from a dump, kept as bytes, and sent back as they were — onto the same link or another.
//! This is how an uplink's addresses and routes move to the bridge it joins and come back exactly
//! (broadcast, label, flags, lifetimes, metrics, protocol, scope: whatever the kernel said),
//! which rebuilding them field by field would not promise.

use super::Ns;
use crate::error::Result;
use netlink_packet_core::{Emitable, Parseable};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteType,
};
use std::net::IpAddr;

/// What moves with an interface's address configuration.
#[derive(Clone, Debug, Default)]
pub struct L3 {
    pub addrs: Vec<AddressMessage>,
    pub routes: Vec<RouteMessage>,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn bytes(m: &impl Emitable) -> Vec<u8> {
    let mut b = vec![0; m.buffer_len()];
    m.emit(&mut b);
    b
}

impl L3 {
    /// One line per message (`addr HEX`, `route HEX`), for a record file.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for a in &self.addrs {
            out.push_str(&format!("addr {}\n", hex(&bytes(a))));
        }
        for r in &self.routes {
            out.push_str(&format!("route {}\n", hex(&bytes(r))));
        }
        out
    }

    pub fn from_text(text: &str) -> L3 {
        let mut l3 = L3::default();
        for line in text.lines() {
            let Some((kind, h)) = line.split_once(' ') else {
                continue;
            };
            let Some(b) = unhex(h.trim()) else { continue };
            match kind {
                "addr" => l3.addrs.extend(AddressMessage::parse(b.as_slice()).ok()),
                "route" => l3.routes.extend(RouteMessage::parse(b.as_slice()).ok()),
                _ => {}
            }
        }
        l3
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty() && self.routes.is_empty()
    }
}

fn oif(r: &RouteMessage) -> Option<u32> {
    r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        _ => None,
    })
}

fn has_gateway(r: &RouteMessage) -> bool {
    r.attributes
        .iter()
        .any(|a| matches!(a, RouteAttribute::Gateway(_)))
}

/// The message again, for another link: its index, and only what a new address or route takes
/// (a dump also reports state the kernel keeps itself, such as a route's cache info).
fn address_for(m: &AddressMessage, index: u32) -> AddressMessage {
    let mut m = m.clone();
    m.header.index = index;
    m
}

fn route_for(m: &RouteMessage, index: u32) -> RouteMessage {
    let mut m = m.clone();
    m.header.flags &= RouteFlags::Onlink;
    m.attributes.retain(|a| {
        matches!(
            a,
            RouteAttribute::Destination(_)
                | RouteAttribute::Gateway(_)
                | RouteAttribute::Oif(_)
                | RouteAttribute::Priority(_)
                | RouteAttribute::Table(_)
                | RouteAttribute::PrefSource(_)
                | RouteAttribute::Metrics(_)
                | RouteAttribute::Preference(_)
        )
    });
    for a in m.attributes.iter_mut() {
        if let RouteAttribute::Oif(i) = a {
            *i = index;
        }
    }
    m
}

impl Ns<'_> {
    /// The addresses a host reaches the world by (global and site scope; not IPv6 link-local, which
    /// every link has its own of) and the routes through the link that are not the kernel's own
    /// (those come and go with the addresses) or a router's advertisement (re-learnt wherever the
    /// host listens).
    pub fn l3_of(&self, index: u32) -> Result<L3> {
        self.log(&format!("dump addresses and routes of ifindex {index}"));
        let addrs = self
            .dump_addrs(Some(index))?
            .into_iter()
            .filter(|m| m.header.index == index)
            .filter(|m| matches!(m.header.scope, AddressScope::Universe | AddressScope::Site))
            .filter(|m| {
                !m.attributes.iter().any(|a| match a {
                    AddressAttribute::Address(IpAddr::V6(ip)) => {
                        crate::parse::is_link_local(IpAddr::V6(*ip))
                    }
                    _ => false,
                })
            })
            .collect();
        let mut routes = vec![];
        for v6 in [false, true] {
            routes.extend(self.dump_routes(v6)?.into_iter().filter(|m| {
                m.header.kind == RouteType::Unicast
                    && oif(m) == Some(index)
                    && !matches!(m.header.protocol, RouteProtocol::Kernel | RouteProtocol::Ra)
            }));
        }
        // Routes through a gateway after those that make the gateway reachable.
        routes.sort_by_key(has_gateway);
        Ok(L3 { addrs, routes })
    }

    /// One request of a move: logged, sent, and its failure kept unless it is one of `fine`
    /// (the item is there already, or gone already).
    fn l3_step(
        &self,
        op: String,
        req: impl std::future::Future<Output = std::result::Result<(), rtnetlink::Error>>,
        fine: &[i32],
        errs: &mut Vec<String>,
    ) {
        self.log(&op);
        if let Err(e) = self.nl.block_on(req).map_err(|e| self.fail(&op, e)) {
            if !e.errno().is_some_and(|n| fine.contains(&n)) {
                errs.push(e.to_string());
            }
        }
    }

    /// Put `l3` on the link `index`; what is there already is kept. Returns one error per item
    /// that could not be added (the rest are added all the same).
    pub fn l3_add(&self, index: u32, ifname: &str, l3: &L3) -> Vec<String> {
        let mut errs = vec![];
        for a in &l3.addrs {
            let mut req = self.h.address().add(index, IpAddr::from([0, 0, 0, 0]), 0);
            *req.message_mut() = address_for(a, index);
            let op = format!("add address (moved) to {ifname}");
            self.l3_step(op, req.execute(), &[libc::EEXIST], &mut errs);
        }
        for r in &l3.routes {
            let req = self.h.route().add(route_for(r, index));
            let op = format!("add route (moved) via {ifname}");
            self.l3_step(op, req.execute(), &[libc::EEXIST], &mut errs);
        }
        errs
    }

    /// Take `l3` off the link `index` (routes first); what is not there is no error.
    pub fn l3_del(&self, index: u32, ifname: &str, l3: &L3) -> Vec<String> {
        let gone = [libc::ESRCH, libc::EADDRNOTAVAIL, libc::ENODEV, libc::ENOENT];
        let mut errs = vec![];
        for r in l3.routes.iter().rev() {
            let req = self.h.route().del(route_for(r, index));
            let op = format!("delete route (moved) via {ifname}");
            self.l3_step(op, req.execute(), &gone, &mut errs);
        }
        for a in &l3.addrs {
            let req = self.h.address().del(address_for(a, index));
            let op = format!("delete address (moved) from {ifname}");
            self.l3_step(op, req.execute(), &gone, &mut errs);
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_record() {
        let mut a = AddressMessage::default();
        a.header.prefix_len = 24;
        a.header.index = 7;
        a.attributes
            .push(AddressAttribute::Address(IpAddr::from([198, 18, 70, 2])));
        a.attributes.push(AddressAttribute::Label("up0".into()));
        let mut r = RouteMessage::default();
        r.attributes.push(RouteAttribute::Oif(7));
        r.attributes.push(RouteAttribute::Priority(100));
        let l3 = L3 {
            addrs: vec![a.clone()],
            routes: vec![r.clone()],
        };
        let back = L3::from_text(&l3.to_text());
        assert_eq!(back.addrs, vec![a]);
        assert_eq!(back.routes.len(), 1);
        assert_eq!(oif(&back.routes[0]), Some(7));
        assert_eq!(oif(&route_for(&back.routes[0], 9)), Some(9));
        assert!(L3::from_text("addr zz\nroute 0\n").is_empty());
    }
}
