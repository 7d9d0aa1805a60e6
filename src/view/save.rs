//! `pipework save`: the live wiring as a Rhai script that makes it again — the owner, its bridges
//! with their options, its guests by their specs, every attach with its addresses, gateway, MAC,
//! MTU and VLAN, leases that were kept, routes we installed, interfaces that joined a bridge.
//! Written from the inventory (what is there now), so it saves what a topology became, not what
//! some script once asked for; running it where the wiring exists already is a no-op.

use super::route_text;
use crate::session::{Interface, Inventory};
use std::collections::BTreeMap;

/// A Rhai string literal.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

/// The expression that names a guest again, from its label.
fn guest_expr(label: &str) -> String {
    match label.split_once(':') {
        Some(("netns", n)) => format!("netns({})", lit(n)),
        Some(("container", n)) => format!("container({})", lit(n)),
        Some(("lxc", n)) => format!("lxc({})", lit(n)),
        Some(("pid", n)) if n.parse::<u32>().is_ok() => format!("pid({n})"),
        _ if label == "host" => "host()".into(),
        _ => format!("guest({})", lit(label)),
    }
}

/// `ip: ["a", "b"]`, the addresses option every plumbing call takes.
fn ip_opt(ips: &[String]) -> String {
    let list: Vec<String> = ips.iter().map(|a| lit(a)).collect();
    format!("ip: [{}]", list.join(", "))
}

fn var(prefix: &str, name: &str) -> String {
    let body: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{body}")
}

/// A host-side name pipework would pick again by itself (`vIFplKEY`, or the hashed `vpw…` form)
/// is left out, so a container that comes back under a new PID gets a name of its own.
fn generated_host_name(i: &Interface, host: &str) -> bool {
    host.starts_with(&format!("v{}pl", i.ifname))
        || (host.len() == 15
            && host.starts_with("vpw")
            && host[3..].bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The options map of an attach.
fn attach_opts(i: &Interface, leased: bool) -> String {
    let mut o: Vec<String> = vec![format!("ifname: {}", lit(&i.ifname))];
    let ips: Vec<String> = if leased {
        vec![]
    } else {
        i.declared.clone().unwrap_or_else(|| i.addresses.clone())
    };
    if !ips.is_empty() {
        o.push(ip_opt(&ips));
    }
    if let (Some(g), false) = (&i.gateway, leased) {
        o.push(format!("gateway: {}", lit(g)));
    }
    if let Some(m) = &i.mac {
        o.push(format!("mac: {}", lit(m)));
    }
    if let Some(m) = i.mtu {
        o.push(format!("mtu: {m}"));
    }
    if let (Some(v), true) = (
        i.vlan,
        i.bridge.is_some() || i.kind == "macvlan" || i.kind == "phys",
    ) {
        o.push(format!("vlan: {v}"));
    }
    if let Some(h) = i
        .host_ifname
        .as_deref()
        .filter(|h| !generated_host_name(i, h))
    {
        o.push(format!("host_ifname: {}", lit(h)));
    }
    format!("#{{{}}}", o.join(", "))
}

/// The script for everything in `inv` (an owner's part, or the whole machine's).
pub fn script(inv: &Inventory, stamp: &str) -> String {
    let mut out = format!(
        "// Saved by `pipework save` at {stamp}: the wiring as it was, as a script that makes it\n\
         // again (`pipework run FILE`). Running it where that wiring exists is a no-op.\n"
    );
    let owners = inv.owners();
    if owners.is_empty() {
        out.push_str("// (pipework has wired nothing here)\n");
    }
    for owner in owners {
        out.push_str(&format!("\nowner({});\n", lit(&owner)));
        owner_part(inv, &owner, &mut out);
    }
    for n in &inv.notes {
        out.push_str(&format!("// note: {n}\n"));
    }
    out
}

/// One owner's part alone, under a header of the caller's (`//` lines): a watch record. Other
/// owners that use the same bridges are not written, unlike in `script`, which saves them all.
pub fn owner_script(inv: &Inventory, owner: &str, header: &str) -> String {
    let mut out = format!("{header}\nowner({});\n", lit(owner));
    owner_part(inv, owner, &mut out);
    out
}

fn owner_part(inv: &Inventory, owner: &str, out: &mut String) {
    let ifs: Vec<&Interface> = inv.interfaces.iter().filter(|i| i.owner == owner).collect();
    // Bridges first: the ones this owner made with their options, the others it uses by name.
    let mut bridges: BTreeMap<String, String> = BTreeMap::new();
    for b in &inv.bridges {
        let made = b.owner.as_deref() == Some(owner);
        let used = b.users.iter().any(|u| u == owner)
            || ifs.iter().any(|i| i.bridge.as_deref() == Some(&b.name))
            || inv
                .joined
                .iter()
                .any(|j| j.owner == owner && j.bridge == b.name);
        if !made && !used {
            continue;
        }
        let v = var("br", &b.name);
        let call = if b.ovs {
            format!("ovs({})", lit(&b.name))
        } else {
            let mut o = vec![];
            if let (true, Some(m)) = (made, b.mtu) {
                o.push(format!("mtu: {m}"));
            }
            if made && b.vlan_filtering == Some(true) {
                o.push("vlan_filtering: true".into());
            }
            if o.is_empty() {
                format!("bridge({})", lit(&b.name))
            } else {
                format!("bridge({}, #{{{}}})", lit(&b.name), o.join(", "))
            }
        };
        let why = if made {
            ""
        } else {
            " // made by another owner, used here"
        };
        out.push_str(&format!("let {v} = {call};{why}\n"));
        bridges.insert(b.name.clone(), v);
    }
    // Guests: every namespace this owner made, and every guest it wired.
    let mut guests: BTreeMap<String, String> = BTreeMap::new();
    let mut guest = |label: &str, out: &mut String| -> String {
        if let Some(v) = guests.get(label) {
            return v.clone();
        }
        // `g_web`; `g_container_web` when a guest of another kind already took that name.
        let short = var("g", label.split_once(':').map_or(label, |(_, n)| n));
        let v = if guests.values().any(|x| *x == short) {
            var("g", label)
        } else {
            short
        };
        out.push_str(&format!("let {v} = {};\n", guest_expr(label)));
        guests.insert(label.to_string(), v.clone());
        v
    };
    for n in inv.netns.iter().filter(|n| n.owner == owner && n.present) {
        guest(&format!("netns:{}", n.name), out);
    }
    // VLAN sub-interfaces a macvlan attach made for itself come back with it (its `vlan` option).
    let by_macvlan = |v: &Interface| {
        ifs.iter().any(|m| {
            m.kind == "macvlan"
                && m.vlan == v.vlan
                && m.parent.as_deref() == Some(&v.ifname)
                && m.parent_guest.as_deref().unwrap_or("host") == v.guest
        })
    };
    for i in ifs.iter().filter(|i| i.present) {
        let leased = i.dhcp.is_some();
        let opts = attach_opts(i, leased);
        let call = match i.kind.as_str() {
            "veth" => match i.bridge.as_ref().and_then(|b| bridges.get(b)) {
                Some(b) => format!("veth({}, {b}, {opts})", guest(&i.guest, out)),
                None => {
                    out.push_str(&format!(
                        "// {}:{}: a veth whose host end is on no bridge; not saved\n",
                        i.guest, i.ifname
                    ));
                    continue;
                }
            },
            "macvlan" | "ipoib" => {
                let mut parent = i.parent.clone().unwrap_or_default();
                if let Some(v) = i.vlan.filter(|_| i.kind == "macvlan") {
                    if let Some(base) = parent.strip_suffix(&format!(".{v}")) {
                        parent = base.to_string();
                    }
                }
                let p = match &i.parent_guest {
                    Some(pg) => format!("link({}, {})", guest(pg, out), lit(&parent)),
                    None => lit(&parent),
                };
                format!("{}({}, {p}, {opts})", i.kind, guest(&i.guest, out))
            }
            "vlan" if by_macvlan(i) => continue,
            "vlan" => {
                let g = guest(&i.guest, out);
                let mut o = vec![format!("name: {}", lit(&i.ifname))];
                if let Some(ips) = i.declared.as_deref().filter(|v| !v.is_empty()) {
                    o.push(ip_opt(ips));
                }
                format!(
                    "vlan(link({g}, {}), {}, #{{{}}})",
                    lit(i.parent.as_deref().unwrap_or_default()),
                    i.vlan.unwrap_or_default(),
                    o.join(", ")
                )
            }
            "dummy" => {
                let g = guest(&i.guest, out);
                let mut o = vec![];
                if let Some(ips) = i.declared.as_deref().filter(|v| !v.is_empty()) {
                    o.push(ip_opt(ips));
                }
                if let Some(m) = i.mtu {
                    o.push(format!("mtu: {m}"));
                }
                if let Some(m) = &i.mac {
                    o.push(format!("mac: {}", lit(m)));
                }
                format!("dummy({g}, {}, #{{{}}})", lit(&i.ifname), o.join(", "))
            }
            "phys" => {
                let g = guest(&i.guest, out);
                format!(
                    "phys({g}, {}, {})",
                    lit(i.parent.as_deref().unwrap_or_default()),
                    attach_opts(i, leased)
                )
            }
            other => {
                out.push_str(&format!(
                    "// {}:{}: a {other} interface; pipework cannot make those again from a script\n",
                    i.guest, i.ifname
                ));
                continue;
            }
        };
        match &i.dhcp {
            Some(d) if d.client == "pipework" => {
                out.push_str(&format!("dhcp({call}, #{{keep: true}});\n"))
            }
            Some(d) => out.push_str(&format!(
                "dhcp({call}, #{{client: {}, keep: true}});\n",
                lit(&d.client)
            )),
            None => out.push_str(&format!("{call};\n")),
        }
    }
    for r in inv
        .routes
        .iter()
        .filter(|r| r.owner.as_deref() == Some(owner))
    {
        let on = ifs
            .iter()
            .find(|i| i.guest == r.guest && Some(&i.ifname) == r.dev.as_ref());
        // An attach's own gateway and a lease's routes come back with the attach and the lease.
        let default = r.dst == "0.0.0.0/0" || r.dst == "::/0";
        if on.is_some_and(|i| i.dhcp.is_some() || (default && i.gateway == r.via)) {
            continue;
        }
        let g = guest(&r.guest, out);
        out.push_str(&format!(
            "route({g}, {});\n",
            lit(&format!("add {}", route_text(r)))
        ));
    }
    for j in inv.joined.iter().filter(|j| j.owner == owner && j.present) {
        if let Some(b) = bridges.get(&j.bridge) {
            out.push_str(&format!("join({b}, {});\n", lit(&j.ifname)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_what_makes_it_again() {
        let s = script(&crate::view::tests::sample(), "T");
        let lab = &s[s.find("owner(\"lab\")").unwrap()..];
        assert!(
            lab.contains("let br_br_lab = bridge(\"br-lab\", #{mtu: 1500});"),
            "{s}"
        );
        assert!(lab.contains("let br_ovs_lab = ovs(\"ovs-lab\");"), "{s}");
        assert!(lab.contains("let g_a = netns(\"a\");"), "{s}");
        assert!(lab.contains(
            "veth(g_a, br_br_lab, #{ifname: \"eth1\", ip: [\"198.18.0.2/24\", \"fd00:18::2/64\"], gateway: \"198.18.0.1\", mac: \"02:00:00:00:00:01\", mtu: 1500});"
        ), "{s}");
        assert!(
            lab.contains("vlan: 100, host_ifname: \"ovsport-a\"});"),
            "{s}"
        );
        // The attach's own gateway is not a route of its own; the other route is.
        assert!(!lab.contains("route(g_a, \"add default"), "{s}");
        assert!(
            lab.contains("route(g_a, \"add 198.51.100.0/24 via 198.19.0.1 dev eth2 metric 10\");"),
            "{s}"
        );
        let dh = &s[s.find("owner(\"dh\")").unwrap()..s.find("owner(\"lab\")").unwrap()];
        assert!(
            dh.contains("let br_br_lab = bridge(\"br-lab\"); // made by another owner"),
            "{s}"
        );
        assert!(dh.contains("let g_web = container(\"web\");"), "{s}");
        assert!(dh.contains(
            "dhcp(veth(g_web, br_br_lab, #{ifname: \"eth1\", mac: \"02:00:00:00:00:03\", mtu: 1500}), #{keep: true});"
        ), "{s}");
    }

    #[test]
    fn guests_of_two_kinds_by_one_name_get_two_variables() {
        let mut inv = crate::view::tests::sample();
        let mut c = inv.interfaces[0].clone();
        c.guest = "container:a".into();
        c.host_ifname = Some("veth1pl99".into());
        inv.interfaces.push(c);
        let s = script(&inv, "T");
        assert!(s.contains("let g_a = netns(\"a\");"), "{s}");
        assert!(s.contains("let g_container_a = container(\"a\");"), "{s}");
        assert!(s.contains("veth(g_container_a, br_br_lab"), "{s}");
        assert_eq!(s.matches("veth(g_a, br_br_lab").count(), 1, "{s}");
    }

    #[test]
    fn saved_script_compiles() {
        let s = script(&crate::view::tests::sample(), "T");
        let mut engine = rhai::Engine::new();
        engine.set_strict_variables(false);
        engine.compile(&s).unwrap_or_else(|e| panic!("{e}\n{s}"));
    }
}
