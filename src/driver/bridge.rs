//! Linux bridge: a veth pair (see `veth`), host end enslaved to the bridge at creation, an access
//! VLAN on a vlan_filtering bridge; the guest is announced once its port forwards.

use super::veth::{self, Port, Switch};
use super::{AttachOpts, Attachment, Driver, Via};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{LinkState, Ns};
use crate::session::Session;

pub struct LinuxBridge {
    pub name: String,
}

impl Driver for LinuxBridge {
    fn describe(&self) -> String {
        format!("bridge {}", self.name)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        veth::refuse_host(guest)?;
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

/// Teardown of an owner's bridge that still carries other guests' ports: it stays, handed to an
/// owner still using it, whose own `down()` removes it once it is empty — otherwise it would
/// outlive everyone as nobody's bridge. Returns the note to show, or None when it may go.
pub(crate) fn keep_shared(
    hns: &Ns,
    br: &crate::net::LinkState,
    links: &[crate::net::LinkState],
    owner: &str,
) -> Result<Option<String>> {
    let ports: Vec<_> = links
        .iter()
        .filter(|p| p.master == Some(br.index))
        .collect();
    if ports.is_empty() {
        return Ok(None);
    }
    let heir = ports
        .iter()
        .filter_map(|p| p.alias.as_deref().and_then(marker::owner_of))
        .find(|o| *o != owner)
        .map(String::from);
    Ok(Some(match heir {
        Some(h) => {
            hns.set_alias(&br.name, &marker::encode(&h, &[("from", owner)]))?;
            format!(
                "keeping bridge {} (other guests are still attached); it now belongs to {h}",
                br.name
            )
        }
        None => format!(
            "keeping bridge {} (other guests are still attached)",
            br.name
        ),
    }))
}
