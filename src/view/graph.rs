//! `pipework graph`: the inventory as a picture — Graphviz DOT (`dot -Tsvg`) or Mermaid (renders
//! in GitHub and most Markdown viewers). Guests are boxes holding their interfaces; bridges and the
//! host interfaces children hang off are nodes of their own; an edge is a wire, labelled with the
//! host-side name and VLAN.

use super::host_side;
use crate::session::{Interface, Inventory};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Format {
    Dot,
    Mermaid,
}

/// A node: (id, label).
type Node = (String, String);

/// The picture's parts, whatever the notation.
struct Parts {
    /// (id, label, is an OVS bridge)
    bridges: Vec<(String, String, bool)>,
    /// Host-side interfaces children hang off or that joined a bridge: (id, label).
    parents: Vec<Node>,
    /// Guests: (id, label, their interfaces as (id, label)).
    guests: Vec<(String, String, Vec<Node>)>,
    /// (from, to, label)
    wires: Vec<(String, String, String)>,
}

fn interface_label(i: &Interface) -> Vec<String> {
    let mut l = vec![format!("{} ({})", i.ifname, i.kind)];
    l.extend(i.addresses.iter().cloned());
    if let Some(d) = &i.dhcp {
        l.push(format!("dhcp: {}", d.client));
    }
    if !i.present {
        l.push("guest end not found".into());
    }
    l
}

fn parts(inv: &Inventory) -> Parts {
    let mut p = Parts {
        bridges: vec![],
        parents: vec![],
        guests: vec![],
        wires: vec![],
    };
    let bridge_id = |name: &str| format!("b_{}", ident(name));
    for b in &inv.bridges {
        let mut label = format!("{} [{}]", b.name, if b.ovs { "ovs" } else { "linux" });
        if let Some(o) = &b.owner {
            label.push_str(&format!("\nowner {o}"));
        }
        p.bridges.push((bridge_id(&b.name), label, b.ovs));
    }
    let parent = |p: &mut Parts, name: &str, guest: Option<&str>| -> String {
        let where_ = guest.unwrap_or("host");
        let id = format!("p_{}_{}", ident(where_), ident(name));
        if !p.parents.iter().any(|(x, _)| *x == id) {
            p.parents.push((id.clone(), format!("{name}\n({where_})")));
        }
        id
    };
    for i in &inv.interfaces {
        let gid = format!("g_{}", ident(&i.guest));
        let iid = format!("i_{}_{}", ident(&i.guest), ident(&i.ifname));
        match p.guests.iter_mut().find(|(id, _, _)| *id == gid) {
            Some((_, _, ifs)) => ifs.push((iid.clone(), interface_label(i).join("\n"))),
            None => p.guests.push((
                gid,
                i.guest.clone(),
                vec![(iid.clone(), interface_label(i).join("\n"))],
            )),
        }
        let mut label = i.host_ifname.clone().unwrap_or_default();
        if let Some(v) = i.vlan {
            label = format!("{label} vlan {v}").trim().to_string();
        }
        if let Some(b) = &i.bridge {
            p.wires.push((iid, bridge_id(b), label));
        } else if let Some(par) = &i.parent {
            let pid = parent(&mut p, par, i.parent_guest.as_deref());
            p.wires.push((iid, pid, i.kind.clone()));
        } else if !host_side(i).is_empty() {
            // A veth with its host end on no bridge: the host end is the other side.
            let pid = parent(&mut p, i.host_ifname.as_deref().unwrap_or("?"), None);
            p.wires.push((iid, pid, String::new()));
        }
    }
    for j in &inv.joined {
        let pid = parent(&mut p, &j.ifname, None);
        p.wires.push((pid, bridge_id(&j.bridge), "joined".into()));
    }
    p
}

/// An identifier both notations take: letters, digits and underscores.
fn ident(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn dot_str(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn mermaid_str(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "#quot;").replace('\n', "<br/>"))
}

pub fn render(inv: &Inventory, format: Format) -> String {
    let p = parts(inv);
    let mut out = String::new();
    match format {
        Format::Dot => {
            out.push_str("graph pipework {\n  rankdir=LR;\n  node [fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n");
            for (id, label, ovs) in &p.bridges {
                let color = if *ovs { "lightsalmon" } else { "lightblue" };
                out.push_str(&format!(
                    "  {id} [shape=box, style=filled, fillcolor={color}, label={}];\n",
                    dot_str(label)
                ));
            }
            for (id, label) in &p.parents {
                out.push_str(&format!(
                    "  {id} [shape=box, style=rounded, label={}];\n",
                    dot_str(label)
                ));
            }
            for (id, label, ifs) in &p.guests {
                out.push_str(&format!(
                    "  subgraph cluster_{id} {{\n    label={};\n    style=rounded;\n",
                    dot_str(label)
                ));
                for (iid, il) in ifs {
                    out.push_str(&format!("    {iid} [shape=note, label={}];\n", dot_str(il)));
                }
                out.push_str("  }\n");
            }
            for (a, b, label) in &p.wires {
                out.push_str(&format!("  {a} -- {b} [label={}];\n", dot_str(label)));
            }
            out.push_str("}\n");
        }
        Format::Mermaid => {
            out.push_str("flowchart LR\n");
            for (id, label, _) in &p.bridges {
                out.push_str(&format!("  {id}[{}]\n", mermaid_str(label)));
            }
            for (id, label) in &p.parents {
                out.push_str(&format!("  {id}({})\n", mermaid_str(label)));
            }
            for (id, label, ifs) in &p.guests {
                out.push_str(&format!("  subgraph {id}[{}]\n", mermaid_str(label)));
                for (iid, il) in ifs {
                    out.push_str(&format!("    {iid}[{}]\n", mermaid_str(il)));
                }
                out.push_str("  end\n");
            }
            for (a, b, label) in &p.wires {
                if label.is_empty() {
                    out.push_str(&format!("  {a} --- {b}\n"));
                } else {
                    out.push_str(&format!("  {a} ---|{}| {b}\n", mermaid_str(label)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_has_every_wire() {
        let d = render(&crate::view::tests::sample(), Format::Dot);
        assert!(d.starts_with("graph pipework {"), "{d}");
        assert!(d.contains("subgraph cluster_g_netns_a"), "{d}");
        assert!(
            d.contains("i_netns_a_eth1 -- b_br_lab [label=\"veth1pla\"]"),
            "{d}"
        );
        assert!(
            d.contains("i_netns_a_eth2 -- b_ovs_lab [label=\"ovsport-a vlan 100\"]"),
            "{d}"
        );
        assert!(d.contains("i_container_web_eth1 -- b_br_lab"), "{d}");
        assert_eq!(d.matches(" -- ").count(), 3, "{d}");
    }

    #[test]
    fn mermaid_escapes_labels() {
        let m = render(&crate::view::tests::sample(), Format::Mermaid);
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(
            m.contains("b_br_lab[\"br-lab [linux]<br/>owner lab\"]"),
            "{m}"
        );
        assert!(
            m.contains("i_netns_a_eth2 ---|\"ovsport-a vlan 100\"| b_ovs_lab"),
            "{m}"
        );
        assert_eq!(m.matches("subgraph").count(), 2, "{m}");
    }
}
