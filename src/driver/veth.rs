//! The veth-pair attach every switch shares: the pair is created with its guest end born inside the
//! guest, the host end is marked, brought up and joined to the switch, the guest end configured; a
//! re-run converges what exists; a failure removes what this call made. A Linux bridge and an OVS
//! bridge differ only in the `Switch` they pass.

use super::{configure_guest_end, host_ifname, AttachOpts, Attachment, End, Undo};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{LinkState, Ns, VethSpec, Waited};
use crate::parse::fmt_mac;
use crate::session::{Created, Session};

/// How long a new port may take to forward before its guest is announced anyway. The kernel takes
/// well under a millisecond; a bridge running STP takes its forward delay (15 s by default), which
/// is not worth holding an attach for.
const PORT_FORWARDING_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Who a port belongs to, for the switch's own records (OVS external_ids).
pub(crate) struct Port<'a> {
    pub owner: &'a str,
    pub guest: &'a str,
    pub host_if: &'a str,
    pub vlan: Option<u16>,
    /// The guest as the original pipework's OVS keys name it, for tools that read those.
    pub kind: &'a crate::guest::GuestKind,
}

/// What makes one switch different from another for a veth-pair attach.
pub(crate) trait Switch {
    fn describe(&self) -> String;
    /// The kernel master the host end is created under (a Linux bridge), if any.
    fn master(&self) -> Option<u32>;
    /// The MTU a new pair inherits when the caller names none, like the original.
    fn mtu(&self) -> Option<u32>;
    /// Journal entries beyond the host link itself (OVS: its port).
    fn undo_extra(&self, _host_if: &str) -> Vec<Created> {
        vec![]
    }
    /// Make the host end (up, marked) a member: an OVS port with its tag, or an access VLAN.
    fn join(&self, hns: &Ns, port: &Port) -> Result<()>;
    /// Undo `join` after a later step failed (deleting the link does the rest).
    fn leave(&self, _host_if: &str) {}
    /// On a re-run: whether `h` is the host end of a pair onto this switch.
    fn is_member(&self, h: &LinkState) -> bool;
    /// On a re-run: converge the membership (tag, VLAN).
    fn rejoin(&self, hns: &Ns, h: &LinkState, port: &Port) -> Result<()>;
    /// Whether the guest is announced once its port forwards (a Linux bridge that is up).
    fn announces(&self) -> bool {
        false
    }
}

/// A switch's ports are for guests: the host reaches its bridges by their own interfaces.
pub(crate) fn refuse_host(guest: &Guest) -> Result<()> {
    if guest.is_host() {
        return Err(Error::guest(
            guest,
            "the host is already on its bridges; attach a namespace or container instead",
        ));
    }
    Ok(())
}

pub(crate) fn attach(
    s: &Session,
    guest: &Guest,
    opts: &AttachOpts,
    sw: &dyn Switch,
) -> Result<Attachment> {
    refuse_host(guest)?;
    let host = s.host();
    let hns = s.nl.ns(&host)?;
    // The guest's socket opens while the host makes the pair.
    s.nl.prefetch(guest);
    let (host_if, shortened) = host_ifname(opts, guest);
    let mut att = Attachment::new(s, guest, opts, sw.describe(), host_if.clone());
    att.undo = vec![Created::Link {
        guest: host.clone(),
        name: host_if.clone(),
    }];
    att.undo.extend(sw.undo_extra(&host_if));
    let label = guest.to_string();
    let owner = s.owner();
    let port = Port {
        owner: &owner,
        guest: &label,
        host_if: &host_if,
        vlan: opts.vlan,
        kind: &guest.kind,
    };
    // Optimistic create: the common case costs no look-ups; EEXIST means a re-run (or a clash),
    // which is examined only then.
    let alias = host_alias(&port, &opts.ifname);
    let created = s.create_marked(
        &hns,
        &host,
        &host_if,
        "veth",
        || {
            hns.add_veth(&VethSpec {
                host_name: &host_if,
                host_master: sw.master(),
                peer_name: &opts.ifname,
                peer_ns: Some(guest.fd()),
                peer_mac: opts.mac,
                mtu: opts.mtu.or(sw.mtu()),
            })
        },
        || hns.finish_host_port(&host_if, &alias),
    );
    match created {
        Ok(()) => {}
        Err(e) if e.errno() == Some(libc::EEXIST) => {
            return rerun(&hns, &s.nl.ns(guest)?, sw, &port, guest, opts, att, &alias);
        }
        Err(e) => return Err(e),
    }
    let gns = s.nl.ns(guest)?;
    // A namespace given by its path (a CNI runtime's) has no short name to expect in the classic one.
    if shortened && !matches!(guest.kind, crate::guest::GuestKind::Path(_)) {
        eprintln!(
            "note: host-side name v{}pl{} is over 15 bytes; using {host_if}",
            opts.ifname,
            guest.key()
        );
    }
    let mut undo = Undo::new(s);
    undo.created_link(&host, &host_if);
    sw.join(&hns, &port)?;
    let rest = (|| {
        let gl = gns.require(&opts.ifname)?;
        // Subscribed before the guest end comes up, so the port's switch to forwarding is seen.
        let mut monitor = if opts.announce && sw.announces() && opts.ips.iter().any(|n| n.is_ipv4())
        {
            Some(s.nl.link_monitor(&host)?)
        } else {
            None
        };
        let end = match monitor {
            Some(_) => End::FreshAnnouncedLater,
            None => End::Fresh,
        };
        configure_guest_end(&gns, &gl, opts, end)?;
        if let (Some(m), Some(mac)) = (monitor.as_mut(), opts.mac.or(gl.mac_bytes())) {
            // An announcement as the guest end comes up would die at the bridge, which enables
            // the port only later: announce once the port forwards, as the original's arping did
            // (after a fixed second; here, at once). configure_guest_end turned arp_notify on.
            if let Waited::TimedOut = m.port_forwarding(&host_if, PORT_FORWARDING_WAIT)? {
                eprintln!(
                    "note: {} did not enable port {host_if} within {PORT_FORWARDING_WAIT:?} (STP?); announcing {} anyway",
                    sw.describe(),
                    opts.ifname
                );
            }
            gns.announce(gl.index, &opts.ifname, mac)?;
        }
        Ok(gl)
    })();
    match rest {
        Ok(gl) => {
            att.mac = gl.mac_text().unwrap_or_default();
            undo.commit();
            Ok(att)
        }
        Err(e) => {
            sw.leave(&host_if);
            Err(e)
        }
    }
}

/// The host end's marker: whose, which guest and guest interface, and the VLAN the port is in
/// (a Linux bridge keeps it only in its VLAN table; `show` reads it here).
fn host_alias(port: &Port, ifname: &str) -> String {
    let vlan = port.vlan.map(|v| v.to_string());
    let mut fields = vec![("guest", port.guest), ("if", ifname)];
    if let Some(v) = &vlan {
        fields.push(("vlan", v));
    }
    marker::encode(port.owner, &fields)
}

/// Take a pair apart: the switch lets go of the host end, and deleting the host end removes the
/// guest end with it.
pub(crate) fn detach(
    s: &Session,
    att: &Attachment,
    sw_leave: impl FnOnce(&str),
) -> Result<Vec<String>> {
    sw_leave(&att.host_ifname);
    let hns = s.nl.ns(&s.host())?;
    let h = hns.require(&att.host_ifname)?;
    hns.del_link(h.index, &h.name)?;
    Ok(vec![
        format!("link {}", att.host_ifname),
        format!("{}:{}", att.guest, att.ifname),
    ])
}

/// Something by one of our names exists. Fine if it is the pair we made onto this very switch:
/// converge it to the options and report "already present"; otherwise explain the clash.
#[allow(clippy::too_many_arguments)]
fn rerun(
    hns: &Ns,
    gns: &Ns,
    sw: &dyn Switch,
    port: &Port,
    guest: &Guest,
    opts: &AttachOpts,
    mut att: Attachment,
    alias: &str,
) -> Result<Attachment> {
    let existing = gns.link(&opts.ifname)?;
    let host_end = hns.link(&att.host_ifname)?;
    match (existing, host_end) {
        (Some(g), Some(h)) if g.is_kind("veth") && h.peer == Some(g.index) && sw.is_member(&h) => {
            sw.rejoin(hns, &h, port)?;
            if h.alias.as_deref() != Some(alias) {
                hns.set_alias(&h.name, alias)?;
            }
            configure_guest_end(gns, &g, opts, End::Existing)?;
            att.created = false;
            att.mac = opts.mac.map(|m| fmt_mac(&m)).or(g.mac_text()).unwrap_or_default();
            Ok(att)
        }
        (Some(_), _) => Err(Error::Conflict(format!(
            "interface {} already exists in {guest} and is not pipework's link to {}; pick another `ifname`",
            opts.ifname,
            sw.describe()
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
