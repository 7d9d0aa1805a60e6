//! Open vSwitch, all of it: the driver (a veth pair whose host end becomes an OVS port, optionally an
//! access port of a VLAN: `tag`; guest end born inside the guest), bridges, and their teardown.
//! OVSDB is reached through `vsctl` (see there why not a Rust OVSDB client).

pub(crate) mod vsctl;

use vsctl as ovs;

use super::veth::{self, Port, Switch};
use super::{AttachOpts, Attachment, Driver, Via};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::net::{LinkState, Ns};
use crate::session::{Created, Removed, Session};

pub struct OvsBridge {
    pub name: String,
}

impl Driver for OvsBridge {
    fn describe(&self) -> String {
        format!("OVS bridge {}", self.name)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        veth::refuse_host(guest)?;
        if !ovs::is_bridge(&self.name) {
            return Err(Error::not_found("OVS bridge", &self.name, None));
        }
        // Like the original (and the Linux bridge): the pair inherits the bridge's MTU — the
        // bridge's internal interface carries it — unless told otherwise.
        let mtu =
            s.nl.ns(&s.host())?
                .link(&self.name)?
                .map(|l| l.mtu)
                .filter(|m| *m != 0);
        veth::attach(
            s,
            guest,
            opts,
            &On {
                name: &self.name,
                mtu,
            },
        )
    }

    fn made_by(&self) -> Via {
        Via::Ovs(self.name.clone())
    }

    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>> {
        let mut done = veth::detach(s, att, |port| {
            let _ = ovs::del_port(port);
        })?;
        done.insert(0, format!("ovs port {}", att.host_ifname));
        Ok(done)
    }
}

/// An OVS bridge as the veth attach sees it: the host end becomes a port after it is up.
struct On<'a> {
    name: &'a str,
    mtu: Option<u32>,
}

impl On<'_> {
    fn add_port(&self, port: &Port) -> Result<()> {
        let ids = [
            ("owner", port.owner),
            ("guest", port.guest),
            ("interface", port.host_if),
            ("bridge", self.name),
        ];
        ovs::add_port(self.name, port.host_if, port.vlan, &ids)
    }
}

impl Switch for On<'_> {
    fn describe(&self) -> String {
        format!("OVS bridge {}", self.name)
    }

    fn master(&self) -> Option<u32> {
        None
    }

    fn mtu(&self) -> Option<u32> {
        self.mtu
    }

    fn undo_extra(&self, host_if: &str) -> Vec<Created> {
        vec![Created::OvsPort(host_if.to_string())]
    }

    fn join(&self, _hns: &Ns, port: &Port) -> Result<()> {
        self.add_port(port)
    }

    fn leave(&self, host_if: &str) {
        let _ = ovs::del_port(host_if);
    }

    fn is_member(&self, _h: &LinkState) -> bool {
        true // add-port --may-exist converges it (or says which bridge has it)
    }

    fn rejoin(&self, _hns: &Ns, _h: &LinkState, port: &Port) -> Result<()> {
        self.add_port(port)?;
        if ovs::port_tag(port.host_if) != port.vlan {
            ovs::del_port(port.host_if)?;
            self.add_port(port)?;
        }
        Ok(())
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
