//! Linux bridge: a veth pair, host end enslaved to the bridge, guest end born inside the guest.

use super::{configure_guest_end, host_ifname, AttachOpts, Attachment, Driver, Undo};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{Ns, VethSpec, Waited};
use crate::parse::fmt_mac;
use crate::session::{Created, Session};

/// How long a new port may take to forward before its guest is announced anyway. The kernel takes
/// well under a millisecond; a bridge running STP takes its forward delay (15 s by default), which
/// is not worth holding an attach for.
const PORT_FORWARDING_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

pub struct LinuxBridge {
    pub name: String,
}

impl Driver for LinuxBridge {
    fn describe(&self) -> String {
        format!("bridge {}", self.name)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        if guest.is_host() {
            return Err(Error::guest(
                guest,
                "the host is already on its bridges; attach a namespace or container instead",
            ));
        }
        let host = s.host();
        let hns = s.nl.ns(&host)?;
        let br = hns
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
        let gns = s.nl.ns(guest)?;
        let (host_if, shortened) = host_ifname(opts, guest);
        let mut att = Attachment::new(s, guest, opts, self.describe(), host_if.clone());
        att.undo = vec![Created::Link {
            guest: host.clone(),
            name: host_if.clone(),
        }];

        // Optimistic create: the common case costs no look-ups; EEXIST means a re-run (or a clash),
        // which is examined only then.
        let created = hns.add_veth(&VethSpec {
            host_name: &host_if,
            host_master: Some(br.index),
            peer_name: &opts.ifname,
            peer_ns: Some(guest.fd()),
            peer_mac: opts.mac,
            // Like the original pipework: the pair inherits the bridge's MTU unless told otherwise.
            mtu: opts.mtu.or(Some(br.mtu).filter(|m| *m != 0)),
        });
        match created {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EEXIST) => {
                return self.rerun(&hns, &gns, br.index, guest, opts, att);
            }
            Err(e) => return Err(e),
        }
        if shortened {
            eprintln!(
                "note: host-side name v{}pl{} is over 15 bytes; using {host_if}",
                opts.ifname,
                guest.key()
            );
        }
        let mut undo = Undo::new(s);
        undo.created_link(&host, &host_if);
        let guest_label = guest.to_string();
        hns.finish_host_port(
            &host_if,
            &marker::encode(&s.owner(), &[("guest", &guest_label), ("if", &opts.ifname)]),
        )?;
        if let Some(vid) = opts.vlan {
            let port = hns
                .link(&host_if)?
                .ok_or_else(|| Error::not_found("interface", &host_if, Some("host".into())))?;
            hns.bridge_access_vlan(port.index, &host_if, vid)?;
        }
        let gl = gns
            .link(&opts.ifname)?
            .ok_or_else(|| Error::not_found("interface", &opts.ifname, Some(guest_label)))?;
        // Subscribed before the guest end comes up, so the port's switch to forwarding is seen.
        let mut monitor = if br.up && opts.ips.iter().any(|n| n.is_ipv4()) {
            Some(s.nl.link_monitor(&host)?)
        } else {
            None
        };
        configure_guest_end(&gns, &gl, opts, true)?;
        let mac = opts.mac.or(gl.mac_bytes());
        if let (Some(m), Some(mac)) = (monitor.as_mut(), mac) {
            // The kernel's own announcement (arp_notify) went out when the guest end came up,
            // before the bridge had enabled the port, and died there. Announce again once the
            // port forwards, as the original's arping did (after a fixed second; here, at once).
            // configure_guest_end turned arp_notify on for the fresh link.
            if let Waited::TimedOut = m.port_forwarding(&host_if, PORT_FORWARDING_WAIT)? {
                eprintln!(
                    "note: bridge {} did not enable port {host_if} within {PORT_FORWARDING_WAIT:?} (STP?); announcing {} anyway",
                    self.name, opts.ifname
                );
            }
            gns.announce(gl.index, &opts.ifname, mac)?;
        }
        drop(monitor);
        att.mac = gl.mac.unwrap_or_default();
        undo.commit();
        Ok(att)
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

impl LinuxBridge {
    /// Something by one of our names exists. Fine if it is the pair we made onto this very bridge:
    /// converge it to the options and report "already present"; otherwise explain the clash.
    fn rerun(
        &self,
        hns: &Ns,
        gns: &Ns,
        br: u32,
        guest: &Guest,
        opts: &AttachOpts,
        mut att: Attachment,
    ) -> Result<Attachment> {
        let existing = gns.link(&opts.ifname)?;
        let host_end = hns.link(&att.host_ifname)?;
        match (existing, host_end) {
            (Some(g), Some(h)) if g.is_kind("veth") && h.master == Some(br) && h.peer == Some(g.index) => {
                configure_guest_end(gns, &g, opts, false)?;
                if let Some(vid) = opts.vlan {
                    hns.bridge_access_vlan(h.index, &h.name, vid)?;
                }
                att.created = false;
                att.mac = opts.mac.map(|m| fmt_mac(&m)).or(g.mac).unwrap_or_default();
                Ok(att)
            }
            (Some(_), _) => Err(Error::Conflict(format!(
                "interface {} already exists in {guest} and is not pipework's link to {}; pick another `ifname`",
                opts.ifname, self.name
            ))),
            (None, Some(h)) => Err(Error::Conflict(format!(
                "host interface {} already exists (index {}), attached to another guest; set `host_ifname`",
                att.host_ifname, h.index
            ))),
            (None, None) => Err(Error::Conflict(format!(
                "the kernel reports {} or {} as existing, but neither can be found; retry",
                att.host_ifname, opts.ifname
            ))),
        }
    }
}
