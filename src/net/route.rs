//! Routes: an iproute2-like text form (`add 10.0.0.0/8 via 198.18.0.254 dev eth1 metric 10`) and a
//! structured one share one spec type, so both reach the kernel the same way.

use super::Ns;
use crate::error::{Error, Result};
use crate::parse;
use futures::TryStreamExt;
use ipnetwork::IpNetwork;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::AddressFamily;
use rtnetlink::RouteMessageBuilder;
use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteOp {
    Add,
    Del,
    Replace,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteSpec {
    pub op: RouteOp,
    pub dst: IpNetwork,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub metric: Option<u32>,
    pub table: Option<u32>,
    pub src: Option<IpAddr>,
    pub onlink: bool,
}

impl RouteSpec {
    pub fn new(op: RouteOp, dst: IpNetwork) -> Self {
        RouteSpec {
            op,
            dst,
            via: None,
            dev: None,
            metric: None,
            table: None,
            src: None,
            onlink: false,
        }
    }

    /// Parse `[add|del|delete|replace] DEST [via GW] [dev IF] [metric N] [table N] [src IP] [onlink]`.
    pub fn parse(text: &str) -> Result<RouteSpec> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let bad = |why: String| Error::invalid("route", text, why);
        let mut it = words.iter().copied().peekable();
        let op = match it.peek().copied() {
            Some("add") => RouteOp::Add,
            Some("del" | "delete") => RouteOp::Del,
            Some("replace") => RouteOp::Replace,
            _ => RouteOp::Add,
        };
        if matches!(
            it.peek().copied(),
            Some("add" | "del" | "delete" | "replace")
        ) {
            it.next();
        }
        let dst_word = match it.next() {
            Some("to") => it.next(),
            w => w,
        }
        .ok_or_else(|| bad("missing destination (a CIDR or `default`)".into()))?;
        let mut via = None;
        let mut dev = None;
        let mut metric = None;
        let mut table = None;
        let mut src = None;
        let mut onlink = false;
        while let Some(w) = it.next() {
            let mut val = |k: &str| it.next().ok_or_else(|| bad(format!("`{k}` needs a value")));
            match w {
                "via" | "gw" => via = Some(parse::ip(val(w)?)?),
                "dev" => dev = Some(parse::ifname(val(w)?)?),
                "metric" | "priority" | "preference" => {
                    let v = val(w)?;
                    metric = Some(v.parse().map_err(|_| bad(format!("bad metric {v:?}")))?)
                }
                "table" => {
                    let v = val(w)?;
                    table = Some(parse::route_table(v)?)
                }
                "src" => src = Some(parse::ip(val(w)?)?),
                "onlink" => onlink = true,
                other => {
                    return Err(bad(format!(
                        "unknown word {other:?} (supported: via dev metric table src onlink)"
                    )))
                }
            }
        }
        let dst = parse::destination(dst_word, via.or(src))?;
        let spec = RouteSpec {
            op,
            dst,
            via,
            dev,
            metric,
            table,
            src,
            onlink,
        };
        spec.check()?;
        Ok(spec)
    }

    pub fn check(&self) -> Result<()> {
        let fam = |ip: &IpAddr| ip.is_ipv4();
        let v4 = self.dst.is_ipv4();
        if let Some(g) = &self.via {
            if fam(g) != v4 {
                return Err(Error::invalid(
                    "route",
                    self,
                    "gateway and destination are different IP families",
                ));
            }
        }
        if let Some(s) = &self.src {
            if fam(s) != v4 {
                return Err(Error::invalid(
                    "route",
                    self,
                    "src and destination are different IP families",
                ));
            }
        }
        if self.via.is_none() && self.dev.is_none() && self.op != RouteOp::Del {
            return Err(Error::invalid(
                "route",
                self,
                "needs `via GATEWAY` or `dev IFNAME`",
            ));
        }
        Ok(())
    }
}

impl fmt::Display for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            RouteOp::Add => "add",
            RouteOp::Del => "del",
            RouteOp::Replace => "replace",
        };
        write!(f, "{op} ")?;
        fmt_dst(f, &self.dst)?;
        if let Some(v) = self.via {
            write!(f, " via {v}")?;
        }
        if let Some(d) = &self.dev {
            write!(f, " dev {d}")?;
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        if let Some(t) = self.table {
            write!(f, " table {t}")?;
        }
        if let Some(s) = self.src {
            write!(f, " src {s}")?;
        }
        if self.onlink {
            write!(f, " onlink")?;
        }
        Ok(())
    }
}

fn fmt_dst(f: &mut fmt::Formatter<'_>, dst: &IpNetwork) -> fmt::Result {
    if dst.prefix() == 0 {
        write!(f, "default")
    } else {
        write!(f, "{dst}")
    }
}

/// The routing protocol number pipework's routes carry (`ip route show proto 112`): a route has no
/// alias to hold an owner, so this is its marker — what `show` and `save` tell ours apart by.
/// Not one of iproute2's registered numbers (/usr/share/iproute2/rt_protos).
pub const PROTO: u8 = 112;

/// A route as read back from the kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteState {
    pub dst: IpNetwork,
    pub via: Option<IpAddr>,
    pub dev: Option<u32>,
    pub metric: Option<u32>,
    pub table: u32,
    /// The routing protocol (who installed it): `PROTO` for ours.
    pub proto: u8,
    pub src: Option<IpAddr>,
    pub onlink: bool,
}

impl RouteState {
    fn from_msg(m: &RouteMessage) -> Option<RouteState> {
        let mut dst_ip: Option<IpAddr> = None;
        let mut s = RouteState {
            dst: IpNetwork::new(IpAddr::from([0, 0, 0, 0]), 0).ok()?,
            via: None,
            dev: None,
            metric: None,
            table: m.header.table as u32,
            proto: m.header.protocol.into(),
            src: None,
            onlink: m.header.flags.contains(RouteFlags::Onlink),
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(d) => dst_ip = route_ip(d),
                RouteAttribute::Gateway(g) => s.via = route_ip(g),
                RouteAttribute::Oif(i) => s.dev = Some(*i),
                RouteAttribute::Priority(p) => s.metric = Some(*p),
                RouteAttribute::Table(t) => s.table = *t,
                RouteAttribute::PrefSource(a) => s.src = route_ip(a),
                _ => {}
            }
        }
        let any = match m.header.address_family {
            AddressFamily::Inet6 => IpAddr::from([0u16; 8]),
            _ => IpAddr::from([0u8; 4]),
        };
        s.dst = IpNetwork::new(dst_ip.unwrap_or(any), m.header.destination_prefix_length).ok()?;
        Some(s)
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}

impl Ns<'_> {
    /// Unicast routes of the main table (what users mean by "the routes" of a guest).
    pub fn routes(&self, v6: bool) -> Result<Vec<RouteState>> {
        self.routes_in(v6, 254)
    }

    pub fn routes_in(&self, v6: bool, table: u32) -> Result<Vec<RouteState>> {
        Ok(self
            .routes_all(v6)?
            .into_iter()
            .filter(|r| r.table == table)
            .collect())
    }

    /// Unicast routes of every table.
    pub fn routes_all(&self, v6: bool) -> Result<Vec<RouteState>> {
        self.log(if v6 {
            "dump IPv6 routes"
        } else {
            "dump IPv4 routes"
        });
        Ok(self
            .dump_routes(v6)?
            .iter()
            .filter(|m| m.header.kind == RouteType::Unicast)
            .filter_map(RouteState::from_msg)
            .collect())
    }

    /// The raw route messages of one family, every table.
    pub(super) fn dump_routes(&self, v6: bool) -> Result<Vec<RouteMessage>> {
        let msg = if v6 {
            RouteMessageBuilder::<std::net::Ipv6Addr>::new().build()
        } else {
            RouteMessageBuilder::<std::net::Ipv4Addr>::new().build()
        };
        self.nl
            .block_on(self.h.route().get(msg).execute().try_collect())
            .map_err(|e| self.fail("dump routes", e))
    }

    /// Apply a route spec; `oif` is the resolved `dev`. Returns false when an add found the
    /// identical route already present (ensure semantics).
    pub fn apply_route(&self, r: &RouteSpec, oif: Option<u32>) -> Result<bool> {
        let op = format!("route {r}");
        self.log(&op);
        let mut b = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(r.dst.ip(), r.dst.prefix())
            .map_err(|e| Error::invalid("route", r, e))?;
        if let Some(g) = r.via {
            b = b.gateway(g).map_err(|e| Error::invalid("route", r, e))?;
        } else if r.op != RouteOp::Del {
            b = b.scope(RouteScope::Link);
        }
        if let Some(i) = oif {
            b = b.output_interface(i);
        }
        if let Some(m) = r.metric {
            b = b.priority(m);
        }
        if let Some(t) = r.table {
            b = b.table_id(t);
        }
        if let Some(s) = r.src {
            b = b
                .pref_source(s)
                .map_err(|e| Error::invalid("route", r, e))?;
        }
        if r.onlink {
            b = b.onlink();
        }
        // Ours are marked; a delete names no protocol (0 matches any), so it also removes a route
        // somebody added with `ip route` (proto boot) — the builder's default, static, would not.
        b = b.protocol(if r.op == RouteOp::Del {
            RouteProtocol::Unspec
        } else {
            RouteProtocol::Other(PROTO)
        });
        let msg = b.build();
        let res = match r.op {
            RouteOp::Add => self.nl.block_on(self.h.route().add(msg).execute()),
            RouteOp::Replace => self
                .nl
                .block_on(self.h.route().add(msg).replace().execute()),
            RouteOp::Del => self.nl.block_on(self.h.route().del(msg).execute()),
        };
        match res.map_err(|e| self.fail(&op, e)) {
            Ok(()) => Ok(true),
            Err(e) if r.op == RouteOp::Add && e.errno() == Some(libc::EEXIST) => {
                // Only a no-op if the existing route is the one asked for; otherwise say so.
                let same = self
                    .routes_in(r.dst.is_ipv6(), r.table.unwrap_or(254))?
                    .iter()
                    .any(|x| {
                        x.dst == r.dst
                            && x.via == r.via
                            && (oif.is_none() || x.dev == oif)
                            && (r.metric.is_none() || x.metric == r.metric)
                    });
                if same {
                    Ok(false)
                } else {
                    Err(e.context("a different route to that destination exists; use `replace`"))
                }
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let r = RouteSpec::parse("add 10.0.0.0/8 via 198.18.0.254").unwrap();
        assert_eq!(r.op, RouteOp::Add);
        assert_eq!(r.dst.to_string(), "10.0.0.0/8");
        assert_eq!(r.via, Some("198.18.0.254".parse().unwrap()));
        let r = RouteSpec::parse("default via fd00::1 dev eth1 metric 5").unwrap();
        assert_eq!(r.dst.to_string(), "::/0");
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        assert_eq!(r.metric, Some(5));
        assert_eq!(r.to_string(), "add default via fd00::1 dev eth1 metric 5");
        let r = RouteSpec::parse("del 198.51.100.0/24").unwrap();
        assert_eq!(r.op, RouteOp::Del);
        let r = RouteSpec::parse("replace 198.51.100.0/24 dev eth1 table main").unwrap();
        assert_eq!((r.op, r.table), (RouteOp::Replace, Some(254)));
    }

    #[test]
    fn parse_errors() {
        for bad in [
            "add",
            "add 10.0.0.0/8",
            "add 10.0.0.0/8 via",
            "add 10.0.0.0/8 via 1.2.3",
            "add 10.0.0.0/8 via fd00::1",
            "add 10.1.0.0/8 via 10.0.0.1",
            "add 10.0.0.0/8 bogus 1",
            "add 10.0.0.0/8 dev this-name-is-too-long",
        ] {
            assert!(RouteSpec::parse(bad).is_err(), "{bad} should fail");
        }
    }
}
