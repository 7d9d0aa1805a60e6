//! Routes, policy rules and queueing disciplines inside a guest.

use super::*;

impl Session {
    /// Add or delete a policy routing rule in a guest. Returns false when the rule was already there.
    pub fn rule(&self, guest: &Guest, spec: &crate::net::RuleSpec) -> Result<bool> {
        self.nl.ns(guest)?.apply_rule(spec)
    }

    /// Put a root qdisc on a link: netem impairment, tbf rate limit, or back to the kernel default.
    pub fn tc(&self, guest: &Guest, ifname: &str, q: &crate::net::Qdisc) -> Result<()> {
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.set_root_qdisc(l.index, ifname, q)
    }

    /// Forwarding on (or off) inside a guest, so it routes between its interfaces. Never in the
    /// host's own namespace: that is the machine's uplink policy, not a topology's. Returns
    /// whether anything changed.
    pub fn forward(&self, guest: &Guest, on: bool) -> Result<bool> {
        if guest.is_host() {
            return Err(Error::invalid(
                "guest",
                guest,
                "forwarding is set inside guests only, never in the host's own namespace",
            ));
        }
        self.touch(guest);
        Ok(!self.nl.ns(guest)?.set_forwarding(on)?.is_empty())
    }

    /// Apply a route in a guest. Returns false when the route was already there.
    pub fn route(&self, guest: &Guest, spec: &RouteSpec) -> Result<bool> {
        self.touch(guest);
        let ns = self.nl.ns(guest)?;
        let oif = match &spec.dev {
            Some(d) => Some(self.link(guest, d)?.index),
            None => None,
        };
        ns.apply_route(spec, oif)
    }

    /// Whether the guest's main table routes `dst` out of `dev` (through `via`, when given).
    pub fn has_route(
        &self,
        guest: &Guest,
        dst: IpNetwork,
        via: Option<std::net::IpAddr>,
        dev: &str,
    ) -> Result<bool> {
        let ns = self.nl.ns(guest)?;
        let l = ns.require(dev)?;
        Ok(ns
            .routes(dst.is_ipv6())?
            .iter()
            .any(|r| r.dst == dst && r.dev == Some(l.index) && (via.is_none() || r.via == via)))
    }

    /// The policy rules of a guest, both families, each in the form `rule()` takes after `add`.
    pub fn rules(&self, guest: &Guest) -> Result<Vec<String>> {
        let ns = self.nl.ns(guest)?;
        let mut out = vec![];
        for v6 in [false, true] {
            for r in ns.rules(v6)? {
                let text = r.to_string();
                out.push(text.strip_prefix("add ").unwrap_or(&text).to_string());
            }
        }
        Ok(out)
    }

    /// What is at the root of a guest's link.
    pub fn root_qdisc(&self, guest: &Guest, ifname: &str) -> Result<Option<crate::net::RootQdisc>> {
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.root_qdisc(l.index, ifname)
    }

    /// The main-table routes of a guest, in the form `route()` takes after `add`.
    pub fn routes(&self, guest: &Guest) -> Result<Vec<String>> {
        self.routes_of(guest, Some(254))
    }

    /// The routes of one table (`None`: every table; routes outside main name their table).
    pub fn routes_of(&self, guest: &Guest, table: Option<u32>) -> Result<Vec<String>> {
        let ns = self.nl.ns(guest)?;
        let links = ns.links()?;
        let name = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone());
        let mut out = vec![];
        for v6 in [false, true] {
            let routes = match table {
                Some(t) => ns.routes_in(v6, t)?,
                None => ns.routes_all(v6)?,
            };
            for r in routes {
                let mut s = if r.dst.prefix() == 0 {
                    "default".to_string()
                } else {
                    r.dst.to_string()
                };
                if let Some(g) = r.via {
                    s.push_str(&format!(" via {g}"));
                }
                if let Some(d) = r.dev.and_then(name) {
                    s.push_str(&format!(" dev {d}"));
                }
                if let Some(m) = r.metric {
                    s.push_str(&format!(" metric {m}"));
                }
                if r.table != 254 {
                    s.push_str(&format!(
                        " table {}",
                        crate::parse::route_table_name(r.table)
                    ));
                }
                out.push(s);
            }
        }
        Ok(out)
    }
}
