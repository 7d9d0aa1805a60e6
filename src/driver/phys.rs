//! Physical host interfaces: a macvlan child per guest (the classic `pipework eth2 web …`), or an
//! IPoIB child of an InfiniBand port. Handing the interface itself over is `direct`.

use super::Via;
use super::{configure_guest_end, AttachOpts, Attachment, Driver, End, Undo};
use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::marker;
use crate::net::{LinkChange, LinkState, Ns};
use crate::parse::fmt_mac;
use crate::session::{Created, Session};

/// The parent in its namespace `on` (the host, or a namespace playing one), checked; with a VLAN,
/// its 802.1Q sub-interface (ensured). `infiniband`: whether the parent must be an InfiniBand port
/// (IPoIB) or must not be (macvlan).
fn host_parent(
    s: &Session,
    on: &Guest,
    hns: &Ns,
    name: &str,
    vlan: Option<u16>,
    infiniband: bool,
) -> Result<LinkState> {
    let p = hns
        .link(name)?
        .ok_or_else(|| Error::not_found("host interface", name, Some(on.to_string())))?;
    if p.is_kind("bridge") {
        return Err(Error::Conflict(format!(
            "{name} is a bridge; attach with the bridge driver"
        )));
    }
    if p.infiniband != infiniband {
        return Err(Error::Conflict(if infiniband {
            format!("{name} is not an InfiniBand interface (IPoIB needs one); for Ethernet use macvlan() or a bridge")
        } else {
            format!("{name} is an InfiniBand interface: attach with ipoib(), not macvlan")
        }));
    }
    if !p.up {
        // Like the original: the parent must be up for its children to pass traffic.
        hns.set_link(
            p.index,
            name,
            &LinkChange {
                up: Some(true),
                ..Default::default()
            },
        )?;
    }
    match vlan {
        None => Ok(p),
        Some(vid) => {
            let sub = AttachOpts {
                ifname: crate::parse::ifname(&format!("{name}.{vid}"))?,
                ..Default::default()
            };
            s.vlan(on, name, vid, &sub)
        }
    }
}

pub struct Macvlan {
    pub parent: String,
    /// Where the parent lives: the host (None), or a namespace playing a host (nested labs, and
    /// tests that must not touch the real one).
    pub on: Option<Guest>,
    /// How children of one parent reach each other: bridge (the classic), private, vepa, passthru.
    pub mode: crate::net::MacVlanMode,
}

impl Macvlan {
    /// A bridge-mode child of a host interface, as the classic command line makes them.
    pub fn on_host(parent: &str) -> Macvlan {
        Macvlan {
            parent: parent.to_string(),
            on: None,
            mode: crate::net::MacVlanMode::Bridge,
        }
    }
}

impl Driver for Macvlan {
    fn describe(&self) -> String {
        let mode = match self.mode {
            crate::net::MacVlanMode::Bridge => String::new(),
            m => format!(" ({m:?} mode)").to_lowercase(),
        };
        match &self.on {
            Some(g) => format!("macvlan on {} in {g}{mode}", self.parent),
            None => format!("macvlan on {}{mode}", self.parent),
        }
    }

    /// The guest may be the parent's own namespace: that child is the host's "shim", the one way
    /// a host reaches its macvlan guests (a parent never talks to its own children).
    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        let on = self.on.clone().unwrap_or_else(|| s.host());
        let hns = s.nl.ns(&on)?;
        let parent = host_parent(s, &on, &hns, &self.parent, opts.vlan, false)?;
        attach_child(
            s,
            guest,
            opts,
            (&on, &parent),
            "macvlan",
            self.describe(),
            |gfd| {
                // Like the original, the child inherits the parent's MTU unless told otherwise.
                hns.add_macvlan(
                    &opts.ifname,
                    (parent.index, self.mode),
                    gfd,
                    opts.mac,
                    opts.mtu.or(Some(parent.mtu)),
                )
            },
        )
    }

    fn made_by(&self) -> Via {
        Via::Macvlan(self.parent.clone())
    }

    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>> {
        super::detach_guest_link(s, att)
    }
}

/// IPoIB: a child interface of an InfiniBand port, optionally in another partition (P_Key) — the
/// original's `pipework ib0 …` with the partition key where a VLAN id would go.
pub struct Ipoib {
    pub parent: String,
    pub pkey: Option<u16>,
    /// The namespace the parent is in when not the host's (one playing a host), as for macvlan.
    pub on: Option<Guest>,
}

impl Driver for Ipoib {
    fn describe(&self) -> String {
        match self.pkey {
            Some(p) => format!("ipoib on {} pkey 0x{p:04x}", self.parent),
            None => format!("ipoib on {}", self.parent),
        }
    }

    fn validate(&self, opts: &AttachOpts) -> Result<()> {
        if opts.mac.is_some() {
            return Err(Error::invalid(
                "option",
                "mac",
                "IPoIB interfaces have 20-byte InfiniBand hardware addresses; a MAC cannot be set",
            ));
        }
        if opts.vlan.is_some() {
            return Err(Error::invalid(
                "option",
                "vlan",
                "InfiniBand has no VLANs; partitions are chosen with a P_Key (`pkey`)",
            ));
        }
        opts.validate_common()
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        let on = self.on.clone().unwrap_or_else(|| s.host());
        if guest.id == on.id {
            return Err(Error::guest(
                guest,
                format!(
                    "{} is in this namespace already; an ipoib child of it here makes no sense",
                    self.parent
                ),
            ));
        }
        let hns = s.nl.ns(&on)?;
        let parent = host_parent(s, &on, &hns, &self.parent, None, true)?;
        attach_child(
            s,
            guest,
            opts,
            (&on, &parent),
            "ipoib",
            self.describe(),
            |gfd| hns.add_ipoib(&opts.ifname, parent.index, gfd, self.pkey, opts.mtu),
        )
    }

    fn made_by(&self) -> Via {
        Via::Ipoib(self.parent.clone(), self.pkey)
    }

    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>> {
        super::detach_guest_link(s, att)
    }
}

/// A child of a host interface (macvlan, ipoib) born inside the guest under its final name; a
/// re-run converges the existing child, anything else of that name is a clash.
fn attach_child(
    s: &Session,
    guest: &Guest,
    opts: &AttachOpts,
    (on, parent): (&Guest, &LinkState),
    kind: &str,
    via: String,
    create: impl FnOnce(&std::os::fd::OwnedFd) -> Result<()>,
) -> Result<Attachment> {
    let gns = s.nl.ns(guest)?;
    let mut att = Attachment::new(s, guest, opts, via, parent.name.clone());
    if let Some(g) = gns.link(&opts.ifname)? {
        if g.is_kind(kind) && g.peer == Some(parent.index) {
            configure_guest_end(&gns, &g, opts, End::Existing)?;
            att.created = false;
            att.mac = opts
                .mac
                .map(|m| fmt_mac(&m))
                .or(g.mac_text())
                .unwrap_or_default();
            return Ok(att);
        }
        return Err(Error::Conflict(format!(
            "interface {} already exists in {guest} and is not a {kind} on {}; pick another `ifname`",
            opts.ifname, parent.name
        )));
    }
    let label = guest.to_string();
    // Where the parent is, when not in the host (a namespace playing one): what `show` and `save`
    // need to name it again.
    let on_label = on.to_string();
    let mut fields = vec![("guest", label.as_str()), ("parent", parent.name.as_str())];
    if !on.is_host() {
        fields.push(("parent_in", &on_label));
    }
    let alias = marker::encode(&s.owner(), &fields);
    s.create_marked(
        &gns,
        guest,
        &opts.ifname,
        kind,
        || create(guest.fd()),
        || gns.set_alias(&opts.ifname, &alias),
    )?;
    let mut undo = Undo::new(s);
    undo.created_link(guest, &opts.ifname);
    let gl = gns.require(&opts.ifname)?;
    configure_guest_end(&gns, &gl, opts, End::Fresh)?;
    att.mac = gl.mac_text().unwrap_or_default();
    att.undo = vec![Created::Link {
        guest: guest.clone(),
        name: opts.ifname.clone(),
    }];
    undo.commit();
    Ok(att)
}
