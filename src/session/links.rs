//! Links: bridges (Linux and OVS) in the host, interfaces made inside one guest (dummy, VLAN), and
//! the plain link and address operations scripts use.

use super::*;

/// A Linux bridge in the host namespace.
#[derive(Clone, Debug)]
pub struct Bridge {
    pub name: String,
    pub created: bool,
}

#[derive(Default, Clone, Debug)]
pub struct BridgeOpts {
    pub mtu: Option<u32>,
    /// 802.1Q-aware bridge: ports can be put into VLANs (`veth(…, #{vlan: 10})`).
    pub vlan_filtering: Option<bool>,
}

impl Session {
    /// Ensure a Linux bridge exists in the host namespace, up, with the wanted MTU.
    pub fn bridge(&self, name: &str, opts: &BridgeOpts) -> Result<Bridge> {
        parse::ifname(name)?;
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        // Another process may create the same bridge between our look and our create: the
        // kernel's EEXIST then means "it is there", which is what we wanted — look again (and
        // take it as anyone else's existing bridge). Bounded, in case it keeps coming and going.
        let mut tries = 0;
        let (b, l) = loop {
            tries += 1;
            match self.ensure_bridge(name, opts) {
                Err(e) if e.errno() == Some(libc::EEXIST) && tries < 4 => continue,
                other => break other?,
            }
        };
        self.uses_bridge(&l, b.created)?;
        Ok(b)
    }

    /// Register the current owner as a user of a bridge pipework made (see `driver::shared`);
    /// the caller holds the bridges lock. A bridge without our marker needs no count: we never
    /// remove it.
    pub(crate) fn uses_bridge(&self, br: &LinkState, created: bool) -> Result<()> {
        if br.owner().is_none() {
            return Ok(());
        }
        let owner = self.owner();
        if crate::driver::shared::register(&br.name, br.index, &owner)? && !created {
            self.record(Created::Uses {
                bridge: br.name.clone(),
                owner,
            });
        }
        Ok(())
    }

    /// The bridge, and its link as the kernel shows it (what its users are registered against).
    fn ensure_bridge(&self, name: &str, opts: &BridgeOpts) -> Result<(Bridge, LinkState)> {
        let ns = self.nl.ns(&self.host)?;
        match ns.link(name)? {
            Some(l) if l.is_kind("bridge") => {
                let change = crate::net::LinkChange {
                    up: (!l.up).then_some(true),
                    mtu: opts.mtu.filter(|m| *m != l.mtu),
                    ..Default::default()
                };
                if change.up.is_some() || change.mtu.is_some() {
                    ns.set_link(l.index, name, &change)?;
                }
                if let Some(f) = opts.vlan_filtering.filter(|f| Some(*f) != l.vlan_filtering) {
                    ns.set_vlan_filtering(l.index, name, f)?;
                }
                let b = Bridge {
                    name: name.into(),
                    created: false,
                };
                Ok((b, l))
            }
            Some(l) => Err(Error::Conflict(format!(
                "{name} exists in the host but is a {} interface, not a bridge",
                l.kind.as_deref().unwrap_or("plain")
            ))),
            None => {
                let alias = marker::encode(&self.owner(), &[]);
                self.create_marked(
                    &ns,
                    &self.host,
                    name,
                    "bridge",
                    || ns.add_bridge(name, opts.mtu, opts.vlan_filtering.unwrap_or(false)),
                    || ns.set_alias(name, &alias),
                )?;
                self.record(Created::Bridge {
                    name: name.to_string(),
                    ovs: false,
                    owner: self.owner(),
                });
                let b = Bridge {
                    name: name.into(),
                    created: true,
                };
                Ok((b, ns.require(name)?))
            }
        }
    }

    /// What the host interface `name` is, and so which driver attaches through it.
    pub fn host_kind(
        &self,
        name: &str,
        declared: crate::driver::Declared,
    ) -> Result<crate::driver::HostKind> {
        let existing = self.nl.ns(&self.host)?.link(name)?;
        crate::driver::HostKind::of(existing.as_ref(), name, declared)
    }

    /// Attach through a host interface named by text, whatever its kind — decided as for the
    /// classic command line (`HostKind`): an existing Linux or OVS bridge, a `br*`/`ovs*` name to
    /// create, a physical interface (a macvlan child; `direct_phys`: the interface itself), an
    /// InfiniBand port (IPoIB).
    pub fn attach_through(
        &self,
        guest: &Guest,
        host_if: &str,
        direct_phys: bool,
        opts: &AttachOpts,
    ) -> Result<Attachment> {
        use crate::driver::HostKind;
        let declared = crate::driver::Declared::classic(direct_phys);
        let kind = self.host_kind(host_if, declared)?;
        let driver = kind
            .driver(host_if, declared, Default::default())
            .ok_or_else(|| {
                Error::invalid(
                "host interface",
                host_if,
                "a dummy* name makes an interface inside the guest, not an attachment: use dummy()",
            )
            })?;
        driver.validate(opts)?;
        match kind {
            HostKind::Bridge { create: true } => {
                self.bridge(host_if, &BridgeOpts::default()).map(|_| ())?
            }
            HostKind::Ovs => self.ovs_bridge(host_if).map(|_| ())?,
            _ => {}
        }
        self.attach(guest, driver.as_ref(), opts)
    }

    /// Ensure an Open vSwitch bridge (userspace datapath where the kernel has no OVS module).
    pub fn ovs_bridge(&self, name: &str) -> Result<Bridge> {
        parse::ifname(name)?;
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        // Always asked: `ovs()` ensures, also of a bridge removed behind this session's back.
        let created = crate::driver::ovs::vsctl::ensure_bridge(name, &self.owner())?;
        self.ovs_seen(name, true);
        let ns = self.nl.ns(&self.host)?;
        if created {
            self.record(Created::Bridge {
                name: name.to_string(),
                ovs: true,
                owner: self.owner(),
            });
            // Its interface comes up like a Linux bridge's.
            if let Some(l) = ns.link(name)? {
                if !l.up {
                    ns.set_link(l.index, name, &crate::net::link_up())?;
                }
            }
        }
        self.uses_ovs_bridge(name, ns.link(name)?.map(|l| l.index), created)?;
        Ok(Bridge {
            name: name.to_string(),
            created,
        })
    }

    /// Make an existing host interface (a spare NIC, the LAN uplink) a port of a bridge pipework
    /// manages (`ovs`: an OVS bridge), so the bridge's guests are on that interface's LAN. Refused
    /// for an interface that carries the host's default route or an address, unless `force`.
    /// Returns false when it already was a port of that bridge. `take_addresses`: its addresses
    /// and routes move to the (Linux) bridge, and come back when it leaves.
    pub fn join(
        &self,
        bridge: &str,
        ovs: bool,
        ifname: &str,
        how: &crate::driver::JoinOpts,
    ) -> Result<bool> {
        let force = how.force;
        let hns = self.nl.ns(&self.host)?;
        let l = hns.require(ifname)?;
        if l.owner().is_some() || l.is_kind("bridge") {
            return Err(Error::Conflict(format!(
                "{ifname} is {}; join() takes a host interface of your own (a NIC, an uplink)",
                if l.is_kind("bridge") {
                    "a bridge"
                } else {
                    "an interface pipework made"
                }
            )));
        }
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        let owner = self.owner();
        if ovs {
            if how.take_addresses {
                return Err(Error::invalid(
                    "join option",
                    "take_addresses",
                    "is for Linux bridges: an OVS bridge's addresses live on its internal port",
                ));
            }
            if !self.ovs_is_bridge(bridge) {
                return Err(Error::not_found("OVS bridge", bridge, None));
            }
            if l.master.is_some() {
                return Ok(false); // an OVS port already (the userspace datapath shows none)
            }
            crate::driver::join::refuse_in_use(&hns, &l, force)?;
            if !crate::driver::join::record(&l, bridge, &owner, true)? {
                return Ok(false); // joined by an earlier run of this owner
            }
            if let Err(e) = crate::driver::join::ovs_add(bridge, ifname, &owner) {
                crate::driver::join::release(&hns, ifname, None);
                return Err(e);
            }
            self.record(Created::OvsPort(ifname.to_string()));
            self.record(Created::Joined(ifname.to_string()));
            if !l.up {
                hns.set_link(l.index, ifname, &crate::net::link_up())?;
            }
            return Ok(true);
        }
        let br = hns
            .link(bridge)?
            .filter(|b| b.is_kind("bridge"))
            .ok_or_else(|| Error::not_found("bridge", bridge, Some("host".into())))?;
        match l.master {
            Some(m) if m == br.index => return Ok(false),
            Some(_) => {
                return Err(Error::Conflict(format!(
                    "{ifname} is already a port of another bridge"
                )))
            }
            None => {}
        }
        crate::driver::join::refuse_in_use(&hns, &l, force)?;
        // Recorded first: a kill before the change leaves a record `down` finds nothing to undo for.
        // A record a killed run left (the interface never joined) is replaced, or kept when it is
        // this owner's for this bridge: either way it holds the state from before.
        crate::driver::join::record(&l, bridge, &owner, false)?;
        // Their record too, before anything moves: a kill half-way leaves what `down` puts back.
        if how.take_addresses {
            crate::driver::join::record_l3(&hns, &l)?;
        }
        let change = crate::net::LinkChange {
            master: Some(Some(br.index)),
            up: Some(true),
            ..Default::default()
        };
        let moved = hns.set_link(l.index, ifname, &change).and_then(|_| {
            if how.take_addresses {
                crate::driver::join::take_l3(&hns, &l, &br)
            } else {
                Ok(())
            }
        });
        if let Err(e) = moved {
            crate::driver::join::release(&hns, ifname, None);
            return Err(e);
        }
        self.record(Created::Joined(ifname.to_string()));
        Ok(true)
    }

    /// Ensure a tunnel port (VXLAN or GRE) on a bridge of the host (`ovs`: an OVS bridge): the
    /// device in the host, on the switch (an access port of `vlan` when given: the tunnel
    /// carries that VLAN, untagged, under its VNI or key), its socket in `underlay` (the host when
    /// None) — so two namespaces playing hosts can each run a switch joined by tunnels over their
    /// own underlay. Returns the port and whether this call made it; a re-run finds its own port
    /// and changes nothing.
    pub fn tunnel_port(
        &self,
        bridge: &str,
        ovs: bool,
        v: &crate::net::TunnelSpec,
        underlay: Option<&Guest>,
        underlay_dev: Option<&str>,
        vlan: Option<u16>,
    ) -> Result<(LinkState, bool)> {
        crate::parse::ifname(v.name)?;
        if let crate::net::Tunnel::Vxlan { vni, .. } = v.kind {
            if !(1..=0xff_ffff).contains(&vni) {
                return Err(Error::invalid("VNI", vni, "must be 1 to 16777215"));
            }
        }
        if v.local.is_some_and(|l| l.is_ipv4() != v.remote.is_ipv4()) {
            return Err(Error::invalid(
                "tunnel local address",
                v.local.expect("checked"),
                "must be of the remote's family",
            ));
        }
        let kind = v.link_kind();
        if let Some(id) = vlan {
            crate::parse::vlan_id(id as i64)?;
        }
        let host = self.host();
        let hns = self.nl.ns(&host)?;
        let under = underlay.cloned().unwrap_or_else(|| host.clone());
        let uns = self.nl.ns(&under)?;
        let ctx = || format!("{kind} port {} on {bridge}", v.name);
        // The switch first: nothing is made for a bridge that is not there.
        let br = if ovs {
            if !self.ovs_is_bridge(bridge) {
                return Err(Error::not_found("OVS bridge", bridge, None));
            }
            None
        } else {
            Some(
                hns.link(bridge)?
                    .filter(|b| b.is_kind("bridge"))
                    .ok_or_else(|| Error::not_found("bridge", bridge, Some("host".into())))?,
            )
        };
        let owner = self.owner();
        let fresh = match hns.link(v.name)? {
            Some(l) if l.is_kind(kind) && l.owner() == Some(owner.as_str()) => false,
            Some(l) => {
                return Err(Error::Conflict(format!(
                    "{} already exists in the host as {}; pick another name",
                    v.name,
                    match l.owner() {
                        Some(o) => format!(
                            "a {} interface of owner {o}",
                            l.kind.as_deref().unwrap_or("plain")
                        ),
                        None => format!("a {} interface", l.kind.as_deref().unwrap_or("plain")),
                    }
                )))
            }
            None => {
                let mut spec = v.clone();
                spec.dev = match underlay_dev {
                    Some(d) => Some(uns.require(d)?.index),
                    None => None,
                };
                let alias = marker::encode(&owner, &[("guest", "host"), ("bridge", bridge)]);
                let into = (under.id != host.id).then(|| host.fd());
                // GRE is made in the underlay and moved (see `add_tunnel`).
                let via = matches!(v.kind, crate::net::Tunnel::Gre { .. }).then_some(&under);
                self.create_marked_via(
                    &hns,
                    &host,
                    via.filter(|u| u.id != host.id),
                    v.name,
                    kind,
                    || uns.add_tunnel(&spec, into),
                    // Up, marked, and without IPv6 addresses: a switch port needs none (its DAD and
                    // router solicitations would cross the tunnel to every guest).
                    || {
                        hns.addrgenmode_none(v.name)?;
                        hns.finish_host_port(v.name, &alias)
                    },
                )
                .ctx(ctx())?;
                self.record(Created::Link {
                    guest: host.clone(),
                    name: v.name.to_string(),
                });
                true
            }
        };
        let l = hns.require(v.name)?;
        let _lock = crate::lock::shared(crate::lock::Topic::Bridges)?;
        match &br {
            None => {
                let ids = [
                    ("owner", owner.as_str()),
                    ("bridge", bridge),
                    ("tunnel", kind),
                ];
                if fresh {
                    crate::driver::ovs::vsctl::add_port(bridge, v.name, vlan, &ids).ctx(ctx())?;
                    self.record(Created::OvsPort(v.name.to_string()));
                } else if crate::driver::ovs::vsctl::port_tag(v.name) != vlan {
                    // `add-port --may-exist` would keep the old tag without a word.
                    return Err(Error::Conflict(format!(
                        "{} already carries another VLAN on {bridge}; give this tunnel another name, or down() the owner first",
                        v.name
                    )));
                }
            }
            Some(br) => {
                if l.master != Some(br.index) {
                    hns.set_link(
                        l.index,
                        v.name,
                        &crate::net::LinkChange {
                            master: Some(Some(br.index)),
                            ..Default::default()
                        },
                    )?;
                }
                if let Some(id) = vlan {
                    hns.bridge_access_vlan(l.index, v.name, id).ctx(ctx())?;
                }
            }
        }
        if !l.up {
            hns.set_link(l.index, v.name, &crate::net::link_up())?;
        }
        Ok((hns.require(v.name)?, fresh))
    }

    /// Register the current owner as a user of an OVS bridge (the caller holds the bridges lock).
    /// Unlike a Linux bridge's, its marker costs a fork to read, so every OVS bridge is counted;
    /// leaving one pipework did not make removes nothing.
    pub(crate) fn uses_ovs_bridge(
        &self,
        name: &str,
        index: Option<u32>,
        created: bool,
    ) -> Result<()> {
        let owner = self.owner();
        if crate::driver::shared::register(name, index.unwrap_or(0), &owner)? && !created {
            self.record(Created::Uses {
                bridge: name.to_string(),
                owner,
            });
        }
        Ok(())
    }

    /// Ensure a dummy interface inside a guest, up, with the given addresses/MTU/MAC.
    pub fn dummy(&self, guest: &Guest, opts: &AttachOpts) -> Result<LinkState> {
        self.ensure_local_link(guest, opts, "dummy", None, |ns| ns.add_dummy(&opts.ifname))
    }

    /// Ensure an 802.1Q sub-interface of `parent` (inside the same guest) with VLAN id `id`.
    pub fn vlan(
        &self,
        guest: &Guest,
        parent: &str,
        id: u16,
        opts: &AttachOpts,
    ) -> Result<LinkState> {
        crate::parse::vlan_id(id as i64)?;
        let p = self.link(guest, parent)?;
        self.ensure_local_link(guest, opts, "vlan", Some(id), |ns| {
            ns.add_vlan(&opts.ifname, p.index, id)
        })
    }

    /// Shared "ensure" for interfaces created inside one namespace: create if missing (marked with
    /// the owner, rolled back if configuring it fails), accept if it exists in the wanted kind,
    /// then converge its state.
    fn ensure_local_link(
        &self,
        guest: &Guest,
        opts: &AttachOpts,
        kind: &str,
        vlan_id: Option<u16>,
        create: impl FnOnce(&crate::net::Ns) -> Result<()>,
    ) -> Result<LinkState> {
        opts.validate_common()?;
        self.touch(guest);
        let ns = self.nl.ns(guest)?;
        let name = &opts.ifname;
        let ctx = || format!("{kind} {name} in {guest}");
        let (l, fresh) = match ns.link(name)? {
            Some(l) if l.is_kind(kind) && (vlan_id.is_none() || l.vlan_id == vlan_id) => (l, false),
            Some(l) => {
                return Err(Error::Conflict(format!(
                    "{name} already exists in {guest} as a {} interface{}; pick another name",
                    l.kind.as_deref().unwrap_or("plain"),
                    l.vlan_id
                        .map(|v| format!(" with VLAN id {v}"))
                        .unwrap_or_default()
                )))
            }
            None => {
                let alias = marker::encode(&self.owner(), &[("guest", &guest.to_string())]);
                self.create_marked(
                    &ns,
                    guest,
                    name,
                    kind,
                    || create(&ns),
                    || ns.set_alias(name, &alias),
                )
                .ctx(ctx())?;
                match ns.require(name) {
                    Ok(l) => (l, true),
                    Err(e) => {
                        let _ = ns.del_link_by_name(name);
                        return Err(e.context(ctx()));
                    }
                }
            }
        };
        if let Err(e) = crate::driver::configure_guest_end(
            &ns,
            &l,
            opts,
            if fresh {
                crate::driver::End::Fresh
            } else {
                crate::driver::End::Existing
            },
        ) {
            if fresh {
                let _ = ns.del_link_by_name(name);
            }
            return Err(e.context(ctx()));
        }
        if fresh {
            self.record(Created::Link {
                guest: guest.clone(),
                name: name.clone(),
            });
        }
        ns.require(name)
    }

    /// Announce every IPv4 address of an interface with a gratuitous ARP. Returns how many.
    pub fn arp(&self, guest: &Guest, ifname: &str) -> Result<usize> {
        let l = self.link(guest, ifname)?;
        let mac = l.mac_bytes().ok_or_else(|| {
            Error::invalid("interface", ifname, "has no Ethernet MAC to announce from")
        })?;
        let v4: Vec<_> = self
            .addrs(guest, ifname)?
            .into_iter()
            .filter_map(|a| match a {
                IpNetwork::V4(v4) => Some(v4.ip()),
                IpNetwork::V6(_) => None,
            })
            .collect();
        crate::net::arp::gratuitous(guest, l.index, mac, &v4)?;
        Ok(v4.len())
    }

    /// How long a script's `wait` blocks when it names no timeout: a wait is never unbounded by
    /// accident. (The classic `--wait`, a container entrypoint waiting for the host, is the one
    /// deliberate exception: like the original it waits until told otherwise.)
    pub const WAIT_DEFAULT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Block until `ifname` exists in `guest` (and, with `carrier`, has carrier), at most `timeout`
    /// (`None`: until it does — the classic `--wait` only).
    pub fn wait_link(
        &self,
        guest: &Guest,
        ifname: &str,
        carrier: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<LinkState> {
        self.nl.wait_link(guest, ifname, carrier, timeout)
    }

    /// The classic `--wait`: until `ifname` in `guest` has carrier and the default route its
    /// pipework marker declares (see `Netlink::wait_configured`).
    pub fn wait_configured(
        &self,
        guest: &Guest,
        ifname: &str,
        timeout: Option<std::time::Duration>,
    ) -> Result<LinkState> {
        self.nl.wait_configured(guest, ifname, timeout)
    }

    pub fn link(&self, guest: &Guest, name: &str) -> Result<LinkState> {
        self.nl.ns(guest)?.require(name)
    }

    pub fn links(&self, guest: &Guest) -> Result<Vec<LinkState>> {
        self.nl.ns(guest)?.links()
    }

    pub fn addrs(&self, guest: &Guest, ifname: &str) -> Result<Vec<IpNetwork>> {
        let l = self.link(guest, ifname)?;
        Ok(self
            .nl
            .ns(guest)?
            .addrs(Some(l.index))?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    /// Add an address (no-op if present). Returns whether it was added.
    pub fn addr_add(&self, guest: &Guest, ifname: &str, net: IpNetwork) -> Result<bool> {
        self.touch(guest);
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.ensure_addr(l.index, ifname, net)
    }

    pub fn addr_del(&self, guest: &Guest, ifname: &str, net: IpNetwork) -> Result<()> {
        self.touch(guest);
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.del_addr(l.index, ifname, net)
    }

    pub fn set_link(
        &self,
        guest: &Guest,
        name: &str,
        change: &crate::net::LinkChange,
    ) -> Result<()> {
        self.touch(guest);
        let l = self.link(guest, name)?;
        self.nl.ns(guest)?.set_link(l.index, name, change)
    }

    pub fn del_link(&self, guest: &Guest, name: &str) -> Result<()> {
        self.touch(guest);
        let l = self.link(guest, name)?;
        self.nl.ns(guest)?.del_link(l.index, name)
    }
}
