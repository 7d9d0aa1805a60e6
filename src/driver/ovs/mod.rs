//! Open vSwitch, all of it: the driver (a veth pair whose host end becomes an OVS port, optionally an
//! access port of a VLAN: `tag`; guest end born inside the guest), bridges, and their teardown.
//! OVSDB is reached through `vsctl`, and for the port an attach adds, `ovsdb` (see there why).

mod ovsdb;
pub(crate) mod vsctl;

use vsctl as ovs;

use super::veth::{self, Port, Switch};
use super::{shared, AttachOpts, Attachment, Driver, Via};
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
        // Held through the attach: no `down` decides the bridge is unused in the meantime.
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        if !s.ovs_is_bridge(&self.name) {
            return Err(Error::not_found("OVS bridge", &self.name, None));
        }
        // Like the original (and the Linux bridge): the pair inherits the bridge's MTU — the
        // bridge's internal interface carries it — unless told otherwise.
        let dev = s.nl.ns(&s.host())?.link(&self.name)?;
        s.uses_ovs_bridge(&self.name, dev.as_ref().map(|l| l.index), false)?;
        let mtu = dev.map(|l| l.mtu).filter(|m| *m != 0);
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
    /// Ours (`owner`, `guest`), then the original pipework's keys with its meanings
    /// (`interface`, `bridge`, `containerid`, `containername`, `nspid`, `vlan`): tools built on
    /// them keep working.
    fn add_port(&self, port: &Port) -> Result<()> {
        use crate::guest::GuestKind;
        let mut ids: Vec<(&str, String)> = vec![
            ("owner", port.owner.into()),
            ("guest", port.guest.into()),
            ("interface", port.host_if.into()),
            ("bridge", self.name.into()),
        ];
        match port.kind {
            GuestKind::Container { name, id, pid } => {
                ids.push(("containerid", id.clone()));
                // Docker's `.Name`, as the original read it.
                ids.push(("containername", format!("/{name}")));
                ids.push(("nspid", pid.to_string()));
            }
            GuestKind::Pid(pid) | GuestKind::Lxc { pid, .. } => {
                ids.push(("nspid", pid.to_string()))
            }
            GuestKind::Host | GuestKind::Netns(_) | GuestKind::Path(_) => {}
        }
        if let Some(v) = port.vlan {
            ids.push(("vlan", v.to_string()));
        }
        let ids: Vec<(&str, &str)> = ids.iter().map(|(k, v)| (*k, v.as_str())).collect();
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

/// `owner` leaves the OVS bridge `bridge` (exclusive bridges lock held), as for a Linux bridge:
/// the last user out removes it, otherwise a remaining user holds it from now on.
pub(crate) fn release(s: &Session, bridge: &str, owner: &str, removed: &mut Removed) -> Result<()> {
    let Some(holder) = ovs::bridge_owner(bridge)? else {
        shared::unregister(bridge, owner);
        return Ok(());
    };
    let index =
        s.nl.ns(&s.host())?
            .link(bridge)?
            .map(|l| l.index)
            .unwrap_or(0);
    let ports = ovs::ports(bridge)?;
    let marked = ovs::marked_ports(bridge)?;
    let mut owners = vec![holder.clone()];
    owners.extend(marked.iter().map(|(_, o)| o.clone()));
    let occ = shared::Occupants {
        owners,
        foreign: ports
            .iter()
            .filter(|p| !marked.iter().any(|(m, _)| m == *p))
            .count(),
    };
    match shared::leave(bridge, index, owner, &occ) {
        shared::Verdict::Remove => {
            ovs::del_bridge(bridge)?;
            s.ovs_seen(bridge, false);
            shared::forget(bridge);
            removed.links.push(bridge.to_string());
        }
        shared::Verdict::Keep { heir, why } if holder == owner => {
            let mut note = format!("keeping OVS bridge {bridge} ({why})");
            if let Some(h) = heir {
                ovs::set_bridge_owner(bridge, &h)?;
                note.push_str(&format!("; it now belongs to {h}"));
            }
            removed.notes.push(note);
        }
        shared::Verdict::Keep { .. } => {}
    }
    Ok(())
}

/// A guest went away: its ports go (those of ours marked for it, and those of ours whose kernel
/// device is gone, as a veth end goes with its namespace), the bridges stay for its return.
pub(crate) fn release_guest(label: &str, host_links: &[String], removed: &mut Removed) {
    if !ovs::running() {
        return;
    }
    let snap = match ovs::snapshot() {
        Ok(s) => s,
        Err(e) => return removed.errors.push(e.to_string()),
    };
    for (name, ids) in &snap.interfaces {
        let ours = ids.contains_key("pipework.owner");
        let of_guest = ids.get("pipework.guest").is_some_and(|g| g == label);
        let gone = !host_links.contains(name);
        if ours && (of_guest || gone) && snap.port_bridge.contains_key(name) {
            match ovs::del_port(name) {
                Ok(()) => removed.links.push(format!("OVS port {name}")),
                Err(e) => removed.errors.push(e.to_string()),
            }
        }
    }
}

/// Teardown: ports marked as `owner`'s (their veth ends are gone by now), then the owner leaves
/// the bridges it held or used (see `release`), decided under the exclusive bridges lock.
pub(crate) fn teardown_owned(s: &Session, owner: &str, removed: &mut Removed) -> Result<()> {
    if !ovs::running() {
        return Ok(());
    }
    let (ports, mut bridges) = ovs::owned(owner);
    for p in ports {
        if let Err(e) = ovs::del_port(&p) {
            removed.errors.push(e.to_string());
        }
    }
    let _lock = crate::lock::exclusive(crate::lock::Topic::Bridges)?;
    for b in shared::used_by(owner) {
        if !bridges.contains(&b) && ovs::is_bridge(&b) {
            bridges.push(b);
        }
    }
    for b in bridges {
        if let Err(e) = release(s, &b, owner, removed) {
            removed.errors.push(e.to_string());
        }
    }
    Ok(())
}
