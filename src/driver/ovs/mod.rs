//! Open vSwitch, all of it: the driver (a veth pair whose host end becomes an OVS port, optionally an
//! access port of a VLAN: `tag`; guest end born inside the guest), bridges, and their teardown.
//! OVSDB is reached through `vsctl` (see there why not a Rust OVSDB client).

pub(crate) mod vsctl;

use vsctl as ovs;

use super::{configure_guest_end, host_ifname, AttachOpts, Attachment, Driver, Undo};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::VethSpec;
use crate::parse::fmt_mac;
use crate::session::{Created, Removed, Session};

pub struct OvsBridge {
    pub name: String,
}

impl Driver for OvsBridge {
    fn describe(&self) -> String {
        format!("OVS bridge {}", self.name)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        if guest.is_host() {
            return Err(Error::guest(
                guest,
                "the host is already on its bridges; attach a namespace or container",
            ));
        }
        if !ovs::is_bridge(&self.name) {
            return Err(Error::not_found("OVS bridge", &self.name, None));
        }
        let host = s.host();
        let hns = s.nl.ns(&host)?;
        let gns = s.nl.ns(guest)?;
        let (host_if, _) = host_ifname(opts, guest);
        let mut att = Attachment::new(s, guest, opts, self.describe(), host_if.clone());
        att.undo = vec![
            Created::Link {
                guest: host.clone(),
                name: host_if.clone(),
            },
            Created::OvsPort(host_if.clone()),
        ];
        let label = guest.to_string();
        let ids = [
            ("owner", att.owner.as_str()),
            ("guest", label.as_str()),
            ("interface", host_if.as_str()),
            ("bridge", self.name.as_str()),
        ];
        // Like the original (and our Linux bridge driver): the pair inherits the bridge's MTU — the
        // bridge's internal interface carries it — unless told otherwise.
        let bridge_mtu = hns.link(&self.name)?.map(|l| l.mtu).filter(|m| *m != 0);
        let created = hns.add_veth(&VethSpec {
            host_name: &host_if,
            host_master: None,
            peer_name: &opts.ifname,
            peer_ns: Some(guest.fd()),
            peer_mac: opts.mac,
            mtu: opts.mtu.or(bridge_mtu),
        });
        match created {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EEXIST) => {
                let (g, h) = (gns.link(&opts.ifname)?, hns.link(&host_if)?);
                return match (g, h) {
                    (Some(g), Some(h)) if g.is_kind("veth") && h.peer == Some(g.index) => {
                        // Re-run: converge port membership and tag, then the guest end.
                        ovs::add_port(&self.name, &host_if, opts.vlan, &ids)?;
                        if ovs::port_tag(&host_if) != opts.vlan {
                            ovs::del_port(&host_if)?;
                            ovs::add_port(&self.name, &host_if, opts.vlan, &ids)?;
                        }
                        configure_guest_end(&gns, &g, opts, false)?;
                        att.created = false;
                        att.mac = opts.mac.map(|m| fmt_mac(&m)).or(g.mac).unwrap_or_default();
                        Ok(att)
                    }
                    _ => Err(Error::Conflict(format!(
                        "{host_if} or {} already exists and is not pipework's link from {guest}; set `ifname`/`host_ifname`",
                        opts.ifname
                    ))),
                };
            }
            Err(e) => return Err(e),
        }
        let mut undo = Undo::new(s);
        undo.created_link(&host, &host_if);
        hns.finish_host_port(
            &host_if,
            &marker::encode(&s.owner(), &[("guest", &label), ("if", &opts.ifname)]),
        )?;
        ovs::add_port(&self.name, &host_if, opts.vlan, &ids)?;
        let rest = (|| {
            let gl = gns
                .link(&opts.ifname)?
                .ok_or_else(|| Error::not_found("interface", &opts.ifname, Some(label.clone())))?;
            configure_guest_end(&gns, &gl, opts, true)?;
            Ok(gl)
        })();
        match rest {
            Ok(gl) => {
                att.mac = gl.mac.unwrap_or_default();
                undo.commit();
                Ok(att)
            }
            Err(e) => {
                let _ = ovs::del_port(&host_if);
                Err(e)
            }
        }
    }
}

/// Rollback of a port a session added.
pub(crate) fn undo_port(name: &str) -> Option<String> {
    ovs::del_port(name).ok().map(|_| format!("ovs port {name}"))
}

/// Rollback of a bridge a session created, if nothing else joined it meanwhile.
pub(crate) fn undo_bridge(name: &str) -> Option<String> {
    ovs::del_bridge_if_empty(name)
        .unwrap_or(false)
        .then(|| format!("ovs bridge {name}"))
}

/// Teardown: ports marked as `owner`'s (their veth ends are gone by now), then its bridges once
/// nobody else's ports remain on them (otherwise handed over, like a Linux bridge).
pub(crate) fn teardown_owned(owner: &str, removed: &mut Removed) -> Result<()> {
    if !ovs::running() {
        return Ok(());
    }
    let (ports, bridges) = ovs::owned(owner);
    for p in ports {
        ovs::del_port(&p)?;
    }
    for b in bridges {
        if ovs::del_bridge_if_empty(&b)? {
            removed.links.push(b);
        } else {
            let heir = ovs::hand_over(&b, owner)?;
            removed.notes.push(format!(
                "keeping OVS bridge {b} (other guests are still attached){}",
                heir.map(|h| format!("; it now belongs to {h}"))
                    .unwrap_or_default()
            ));
        }
    }
    Ok(())
}
