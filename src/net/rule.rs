//! Policy routing rules, in the iproute2 text form the classic `pipework rule` passes through:
//! `add from 198.18.0.0/24 table 100 priority 100`, `del from … table …`.

use super::Ns;
use crate::error::{Error, Result};
use crate::parse;
use ipnetwork::IpNetwork;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    pub add: bool,
    pub from: Option<IpNetwork>,
    pub to: Option<IpNetwork>,
    pub table: Option<u32>,
    pub priority: Option<u32>,
    pub fwmark: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub v6: bool,
}

impl RuleSpec {
    pub fn parse(text: &str) -> Result<RuleSpec> {
        let bad = |why: String| Error::invalid("rule", text, why);
        let mut w = text.split_whitespace().peekable();
        let mut r = RuleSpec {
            add: true,
            from: None,
            to: None,
            table: None,
            priority: None,
            fwmark: None,
            iif: None,
            oif: None,
            v6: false,
        };
        match w.peek().copied() {
            Some("add") => {
                w.next();
            }
            Some("del" | "delete") => {
                r.add = false;
                w.next();
            }
            _ => return Err(bad("start with `add` or `del`".into())),
        }
        let num = |k: &str, v: Option<&str>| -> Result<u32> {
            let v = v.ok_or_else(|| bad(format!("`{k}` needs a value")))?;
            v.parse().map_err(|_| bad(format!("bad {k} {v:?}")))
        };
        while let Some(k) = w.next() {
            match k {
                "from" | "to" => {
                    let v = w
                        .next()
                        .ok_or_else(|| bad(format!("`{k}` needs a prefix")))?;
                    let net = if v == "all" {
                        None
                    } else {
                        Some(parse::cidr(v)?)
                    };
                    if k == "from" {
                        r.from = net;
                    } else {
                        r.to = net;
                    }
                }
                "table" | "lookup" => {
                    let v = w
                        .next()
                        .ok_or_else(|| bad(format!("`{k}` needs a value")))?;
                    r.table = Some(parse::route_table(v)?)
                }
                "priority" | "pref" | "preference" => r.priority = Some(num(k, w.next())?),
                "fwmark" => {
                    let v = w
                        .next()
                        .ok_or_else(|| bad("`fwmark` needs a value".into()))?;
                    let n = match v.strip_prefix("0x") {
                        Some(h) => u32::from_str_radix(h, 16),
                        None => v.parse(),
                    };
                    r.fwmark = Some(n.map_err(|_| bad(format!("bad fwmark {v:?}")))?);
                }
                "iif" | "dev" => {
                    r.iif = Some(parse::ifname(
                        w.next().ok_or_else(|| bad(format!("`{k}` needs a name")))?,
                    )?)
                }
                "oif" => {
                    r.oif = Some(parse::ifname(
                        w.next().ok_or_else(|| bad("`oif` needs a name".into()))?,
                    )?)
                }
                other => {
                    return Err(bad(format!(
                        "unknown word {other:?} (supported: from to table priority fwmark iif oif)"
                    )))
                }
            }
        }
        let fams: Vec<bool> = [r.from, r.to]
            .iter()
            .flatten()
            .map(|n| n.is_ipv6())
            .collect();
        if fams.windows(2).any(|p| p[0] != p[1]) {
            return Err(bad("from and to are different IP families".into()));
        }
        r.v6 = fams.first().copied().unwrap_or(false);
        if r.add && r.table.is_none() {
            return Err(bad("an added rule needs `table N`".into()));
        }
        Ok(r)
    }
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", if self.add { "add" } else { "del" })?;
        if let Some(n) = self.from {
            write!(f, " from {n}")?;
        }
        if let Some(n) = self.to {
            write!(f, " to {n}")?;
        }
        if let Some(m) = self.fwmark {
            write!(f, " fwmark {m:#x}")?;
        }
        if let Some(i) = &self.iif {
            write!(f, " iif {i}")?;
        }
        if let Some(o) = &self.oif {
            write!(f, " oif {o}")?;
        }
        if let Some(t) = self.table {
            write!(f, " table {}", parse::route_table_name(t))?;
        }
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        Ok(())
    }
}

impl Ns<'_> {
    /// Every rule of one family, as the specs `apply_rule` takes (`add` set), in priority order.
    pub fn rules(&self, v6: bool) -> Result<Vec<RuleSpec>> {
        use futures::TryStreamExt;
        use netlink_packet_route::rule::{RuleAction, RuleAttribute};
        self.log("dump rules");
        let ver = if v6 {
            rtnetlink::IpVersion::V6
        } else {
            rtnetlink::IpVersion::V4
        };
        let msgs: Vec<_> = self
            .nl
            .block_on(self.h.rule().get(ver).execute().try_collect())
            .map_err(|e| self.fail("dump rules", e))?;
        let mut out = vec![];
        for m in msgs {
            if m.header.action != RuleAction::ToTable {
                continue;
            }
            let mut r = RuleSpec {
                add: true,
                from: None,
                to: None,
                table: Some(m.header.table as u32),
                priority: Some(0),
                fwmark: None,
                iif: None,
                oif: None,
                v6,
            };
            for a in &m.attributes {
                match a {
                    RuleAttribute::Source(ip) => {
                        r.from = IpNetwork::new(*ip, m.header.src_len).ok()
                    }
                    RuleAttribute::Destination(ip) => {
                        r.to = IpNetwork::new(*ip, m.header.dst_len).ok()
                    }
                    RuleAttribute::Table(t) => r.table = Some(*t),
                    RuleAttribute::Priority(p) => r.priority = Some(*p),
                    RuleAttribute::FwMark(f) => r.fwmark = Some(*f),
                    RuleAttribute::Iifname(i) => r.iif = Some(i.clone()),
                    RuleAttribute::Oifname(o) => r.oif = Some(o.clone()),
                    _ => {}
                }
            }
            out.push(r);
        }
        out.sort_by_key(|r| r.priority);
        Ok(out)
    }

    /// Add or delete a rule. An identical rule already present makes `add` a no-op (false).
    pub fn apply_rule(&self, r: &RuleSpec) -> Result<bool> {
        let op = format!("rule {r}");
        self.log(&op);
        // rtnetlink's builder leaves the action unset (FR_ACT_UNSPEC): the kernel takes such a
        // rule, and then fails every lookup it matches with EINVAL. `ip rule add … table T`
        // means "look up T".
        let mut req = self
            .h
            .rule()
            .add()
            .action(netlink_packet_route::rule::RuleAction::ToTable);
        if let Some(t) = r.table {
            req = req.table_id(t);
        }
        if let Some(p) = r.priority {
            req = req.priority(p);
        }
        if let Some(m) = r.fwmark {
            req = req.fw_mark(m);
        }
        if let Some(i) = &r.iif {
            req = req.input_interface(i.clone());
        }
        if let Some(o) = &r.oif {
            req = req.output_interface(o.clone());
        }
        // The v4 and v6 request types differ only in their address type.
        macro_rules! finish {
            ($q:expr, $v:ident) => {{
                let mut q = $q;
                if let Some(IpNetwork::$v(n)) = r.from {
                    q = q.source_prefix(n.ip(), n.prefix());
                }
                if let Some(IpNetwork::$v(n)) = r.to {
                    q = q.destination_prefix(n.ip(), n.prefix());
                }
                if r.add {
                    self.nl.block_on(q.execute())
                } else {
                    let msg = q.message_mut().clone();
                    self.nl.block_on(self.h.rule().del(msg).execute())
                }
            }};
        }
        let res = if r.v6 {
            finish!(req.v6(), V6)
        } else {
            finish!(req.v4(), V4)
        };
        match res.map_err(|e| self.fail(&op, e)) {
            Ok(()) => Ok(true),
            Err(e) if r.add && e.errno() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        let r = RuleSpec::parse("add from 198.18.0.0/24 table 100 priority 100").unwrap();
        assert_eq!(
            (r.add, r.table, r.priority, r.v6),
            (true, Some(100), Some(100), false)
        );
        assert_eq!(
            r.to_string(),
            "add from 198.18.0.0/24 table 100 priority 100"
        );
        let r = RuleSpec::parse("del from fd00::/64 lookup main").unwrap();
        assert!(!r.add && r.v6 && r.table == Some(254));
        assert!(
            RuleSpec::parse("add from 198.18.0.0/24").is_err(),
            "table required"
        );
        assert!(RuleSpec::parse("from 1.2.3.0/24 table 5").is_err());
        assert!(RuleSpec::parse("add from 198.18.0.0/24 to fd00::/8 table 5").is_err());
        assert!(RuleSpec::parse("add from x table 5").is_err());
        assert!(RuleSpec::parse("add nat 1.2.3.4 table 5").is_err());
    }
}
