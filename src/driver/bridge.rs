//! Linux bridge: a veth pair (see `veth`), host end enslaved to the bridge at creation, an access
//! VLAN on a vlan_filtering bridge; the guest is announced once its port forwards.

use super::veth::{self, Port, Switch};
use super::{shared, AttachOpts, Attachment, Driver, Via};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{LinkState, Ns};
use crate::session::{Removed, Session};

pub struct LinuxBridge {
    pub name: String,
}

impl Driver for LinuxBridge {
    fn describe(&self) -> String {
        format!("bridge {}", self.name)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        veth::refuse_host(guest)?;
        // Held through the attach: no `down` decides the bridge is unused in the meantime.
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        let br =
            s.nl.ns(&s.host())?
                .link(&self.name)?
                .ok_or_else(|| Error::not_found("bridge", &self.name, Some("host".into())))?;
        if !br.is_kind("bridge") {
            return Err(Error::Conflict(format!(
                "{} is a {} interface, not a bridge",
                self.name,
                br.kind.as_deref().unwrap_or("plain")
            )));
        }
        if opts.vlan.is_some() && br.vlan_filtering != Some(true) {
            return Err(Error::invalid(
                "option",
                "vlan",
                format!(
                    "bridge {} does not filter VLANs; create it with bridge({:?}, #{{vlan_filtering: true}}) or use an OVS bridge",
                    self.name, self.name
                ),
            ));
        }
        s.uses_bridge(&br, false)?;
        veth::attach(
            s,
            guest,
            opts,
            &On {
                name: &self.name,
                br,
            },
        )
    }

    fn made_by(&self) -> Via {
        Via::Bridge(self.name.clone())
    }

    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>> {
        veth::detach(s, att, |_| {})
    }
}

/// A Linux bridge as the veth attach sees it.
struct On<'a> {
    name: &'a str,
    br: LinkState,
}

impl Switch for On<'_> {
    fn describe(&self) -> String {
        format!("bridge {}", self.name)
    }

    fn master(&self) -> Option<u32> {
        Some(self.br.index)
    }

    fn mtu(&self) -> Option<u32> {
        Some(self.br.mtu).filter(|m| *m != 0)
    }

    fn join(&self, hns: &Ns, port: &Port) -> Result<()> {
        let Some(vid) = port.vlan else {
            return Ok(()); // enslaved at creation already
        };
        let l = hns.require(port.host_if)?;
        hns.bridge_access_vlan(l.index, port.host_if, vid)
    }

    fn is_member(&self, h: &LinkState) -> bool {
        h.master == Some(self.br.index)
    }

    fn rejoin(&self, hns: &Ns, h: &LinkState, port: &Port) -> Result<()> {
        match port.vlan {
            Some(vid) => hns.bridge_access_vlan(h.index, &h.name, vid),
            None => Ok(()),
        }
    }

    fn announces(&self) -> bool {
        self.br.up
    }
}

/// `owner` leaves the Linux bridge `br` (the caller holds the exclusive bridges lock): the last
/// user out removes it; otherwise it stays, handed to a remaining user when `owner` held it, so
/// it never outlives everyone as nobody's bridge. A bridge without our marker is never removed.
pub(crate) fn release(
    hns: &Ns,
    br: &LinkState,
    links: &[LinkState],
    owner: &str,
    removed: &mut Removed,
) -> Result<()> {
    let Some(holder) = br.owner() else {
        shared::unregister(&br.name, owner);
        return Ok(());
    };
    let ports: Vec<_> = links
        .iter()
        .filter(|p| p.master == Some(br.index))
        .collect();
    let mut owners: Vec<String> = vec![holder.to_string()];
    owners.extend(ports.iter().filter_map(|p| p.owner()).map(String::from));
    let occ = shared::Occupants {
        owners,
        foreign: ports.iter().filter(|p| p.owner().is_none()).count(),
    };
    match shared::leave(&br.name, br.index, owner, &occ) {
        shared::Verdict::Remove => match hns.del_link(br.index, &br.name) {
            Ok(()) => {
                shared::forget(&br.name);
                removed.links.push(br.name.clone());
            }
            Err(e) if e.errno() == Some(libc::ENODEV) => shared::forget(&br.name),
            Err(e) => return Err(e),
        },
        shared::Verdict::Keep { heir, why } if holder == owner => {
            let mut note = format!("keeping bridge {} ({why})", br.name);
            if let Some(h) = heir {
                hns.set_alias(&br.name, &marker::encode(&h, &[("from", owner)]))?;
                note.push_str(&format!("; it now belongs to {h}"));
            }
            removed.notes.push(note);
        }
        shared::Verdict::Keep { .. } => {}
    }
    Ok(())
}
