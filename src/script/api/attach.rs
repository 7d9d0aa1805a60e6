//! Bridges (Linux and OVS) and attaching guests to them, with the attach option decoder.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "detach",
        ["attachment: Attachment", "Array"],
        "Take one attachment apart again (the guest's interface, its host end and OVS port; a moved physical interface goes home); shared bridges stay. Returns what was removed.",
        move |a: Attachment| ss.detach(&a).map(strings).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "bridge",
        ["name: &str", "Bridge"],
        "Ensure a Linux bridge exists in the host namespace and is up (no-op if it already does).",
        move |name: &str| ss.bridge(name, &BridgeOpts::default()).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "bridge",
        ["name: &str", "opts: Map", "Bridge"],
        "Ensure a Linux bridge with options #{mtu, vlan_filtering}.",
        move |name: &str, o: Map| {
            check_keys("bridge", &o, &["mtu", "vlan_filtering"])?;
            let mtu = opt_int("bridge", &o, "mtu")?
                .map(parse::mtu)
                .transpose()
                .rhai()?;
            let vlan_filtering = opt_bool("bridge", &o, "vlan_filtering")?;
            ss.bridge(
                name,
                &BridgeOpts {
                    mtu,
                    vlan_filtering,
                },
            )
            .rhai()
        }
    );
    engine.register_type_with_name::<OvsBr>("OvsBridge");
    let ss = s.clone();
    reg!(
        engine,
        "ovs",
        ["name: &str", "OvsBridge"],
        "Ensure an Open vSwitch bridge (userspace datapath where the kernel lacks the OVS module); attach with veth(guest, ovs(..), #{vlan: N, ..}).",
        move |name: &str| ss.ovs_bridge(name).map(|b| OvsBr(b.name)).rhai()
    );
    engine.register_fn("to_string", |b: &mut OvsBr| format!("ovs bridge {}", b.0));
    engine.register_fn("to_debug", |b: &mut OvsBr| format!("ovs bridge {}", b.0));
    engine.register_get("name", |b: &mut OvsBr| b.0.clone());
    let ss = s.clone();
    reg!(
        engine,
        "veth",
        ["guest: Guest", "bridge: OvsBridge", "opts: Map", "Attachment"],
        "Attach a guest to an OVS bridge with a veth pair; `vlan` makes the port an access port (tag).",
        move |g: Guest, b: OvsBr, o: Map| {
            let opts = attach_opts("veth", &o)?;
            ss.attach(&g, &crate::driver::OvsBridge { name: b.0 }, &opts).rhai()
        }
    );
    macro_rules! join_doc { () => { "Make an existing host interface (a spare NIC, the LAN uplink) a port of the bridge, so its guests are on that LAN; false if it already was. Refused for an interface with the host's default route or an address unless #{force: true}. #{take_addresses: true} (Linux bridges): the interface's addresses and routes move to the bridge, so the host keeps its own place on the LAN. down() puts it all back as it was." } }
    for ovs in [false, true] {
        let ss = s.clone();
        let f = move |bridge: String, ifname: &str, o: &Map| -> RhaiResult<bool> {
            check_keys("join", o, &["force", "take_addresses"])?;
            let how = crate::driver::JoinOpts {
                force: opt_bool("join", o, "force")?.unwrap_or(false),
                take_addresses: opt_bool("join", o, "take_addresses")?.unwrap_or(false),
            };
            ss.join(&bridge, ovs, ifname, &how).rhai()
        };
        if ovs {
            let g = f.clone();
            reg!(
                engine,
                "join",
                ["bridge: OvsBridge", "ifname: &str", "bool"],
                join_doc!(),
                move |b: OvsBr, i: &str| g(b.0, i, &Map::new())
            );
            reg!(
                engine,
                "join",
                ["bridge: OvsBridge", "ifname: &str", "opts: Map", "bool"],
                join_doc!(),
                move |b: OvsBr, i: &str, o: Map| f(b.0, i, &o)
            );
        } else {
            let g = f.clone();
            reg!(
                engine,
                "join",
                ["bridge: Bridge", "ifname: &str", "bool"],
                join_doc!(),
                move |b: Bridge, i: &str| g(b.name, i, &Map::new())
            );
            reg!(
                engine,
                "join",
                ["bridge: Bridge", "ifname: &str", "opts: Map", "bool"],
                join_doc!(),
                move |b: Bridge, i: &str, o: Map| f(b.name, i, &o)
            );
        }
    }
    macro_rules! tunnel_doc { () => { "underlay: a guest playing this host's network (the tunnel's socket lives there; default the host), dev (the underlay interface), vlan (the VLAN it carries: an access port, so the tunnel stands for that VLAN)}. Marked, rolled back on failure, removed by down(); a re-run changes nothing. Returns the tunnel's link." } }
    macro_rules! gre_doc { () => { concat!("A GRE tunnel port (gretap; ip6gretap for an IPv6 remote) on the switch, for joining switches across hosts: #{key (required: 0 to 4294967295; tunnels between the same two ends need different keys), remote (required: the other end's underlay address), local, name: \"gtKEY\", ", tunnel_doc!()) } }
    macro_rules! vxlan_doc { () => { concat!("A VXLAN tunnel port on the switch, for joining switches across hosts: #{vni (required), remote (required: the other end's underlay address), local, port: 4789, name: \"vxVNI\", ", tunnel_doc!()) } }
    for gre in [false, true] {
        for ovs in [false, true] {
            let ss = s.clone();
            let f = move |bridge: String, o: &Map| -> RhaiResult<Link> {
                let (f, what) = if gre {
                    ("gre", "gre option")
                } else {
                    ("vxlan", "vxlan option")
                };
                let (id_key, id_what) = if gre {
                    (
                        "key",
                        "a GRE key telling tunnels between the same ends apart, 0 to 4294967295",
                    )
                } else {
                    ("vni", "1 to 16777215")
                };
                check_keys(
                    f,
                    o,
                    &[
                        id_key, "remote", "local", "port", "name", "vlan", "underlay", "dev",
                    ],
                )?;
                let id = opt_int(f, o, id_key)?.ok_or_else(|| {
                    rt(Error::invalid(
                        what,
                        id_key,
                        format!("is required: {id_what}"),
                    ))
                })?;
                let id = u32::try_from(id)
                    .map_err(|_| rt(Error::invalid(id_key, id, format!("must be {id_what}"))))?;
                let remote = opt_str(f, o, "remote")?.ok_or_else(|| {
                    rt(Error::invalid(
                        what,
                        "remote",
                        "is required: the other tunnel end's underlay address",
                    ))
                })?;
                let remote = parse::ip(&remote).rhai()?;
                let local = opt_str(f, o, "local")?
                    .map(|l| parse::ip(&l))
                    .transpose()
                    .rhai()?;
                let port = opt_int(f, o, "port")?;
                let kind = if gre {
                    if port.is_some() {
                        return err("gre(): a GRE tunnel has no port (that is vxlan's UDP port)");
                    }
                    crate::net::Tunnel::Gre { key: id }
                } else {
                    let port = match port {
                        None => 4789,
                        Some(p) => u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| {
                            rt(Error::invalid("UDP port", p, "must be 1 to 65535"))
                        })?,
                    };
                    crate::net::Tunnel::Vxlan { vni: id, port }
                };
                let vlan = opt_int(f, o, "vlan")?
                    .map(parse::vlan_id)
                    .transpose()
                    .rhai()?;
                let name = opt_str(f, o, "name")?
                    .unwrap_or_else(|| format!("{}{id}", if gre { "gt" } else { "vx" }));
                let underlay = match o.get("underlay") {
                    None => None,
                    Some(v) => match v.clone().try_cast::<Guest>() {
                        Some(g) => Some(g),
                        None => match v.clone().into_string() {
                            // Must exist: a namespace made now would hold no underlay address,
                            // and the tunnel would carry nothing without a word.
                            Ok(spec) => Some(ss.guest_existing(&spec).rhai()?),
                            Err(_) => {
                                return err(format!("{f}(): `underlay` is a guest (netns(\"…\"), guest(\"…\")) or its spec"))
                            }
                        },
                    },
                };
                let dev = opt_str(f, o, "dev")?;
                let spec = crate::net::TunnelSpec {
                    name: &name,
                    kind,
                    remote,
                    local,
                    dev: None,
                };
                let (l, _) = ss
                    .tunnel_port(&bridge, ovs, &spec, underlay.as_ref(), dev.as_deref(), vlan)
                    .rhai()?;
                Ok(Link::new(ss.host(), l.name))
            };
            match (gre, ovs) {
                (true, true) => {
                    reg!(
                        engine,
                        "gre",
                        ["switch: OvsBridge", "opts: Map", "Link"],
                        gre_doc!(),
                        move |b: OvsBr, o: Map| f(b.0, &o)
                    );
                }
                (true, false) => {
                    reg!(
                        engine,
                        "gre",
                        ["switch: Bridge", "opts: Map", "Link"],
                        gre_doc!(),
                        move |b: Bridge, o: Map| f(b.name, &o)
                    );
                }
                (false, true) => {
                    reg!(
                        engine,
                        "vxlan",
                        ["switch: OvsBridge", "opts: Map", "Link"],
                        vxlan_doc!(),
                        move |b: OvsBr, o: Map| f(b.0, &o)
                    );
                }
                (false, false) => {
                    reg!(
                        engine,
                        "vxlan",
                        ["switch: Bridge", "opts: Map", "Link"],
                        vxlan_doc!(),
                        move |b: Bridge, o: Map| f(b.name, &o)
                    );
                }
            }
        }
    }
    engine.register_fn("to_string", |b: &mut Bridge| format!("bridge {}", b.name));
    engine.register_fn("to_debug", |b: &mut Bridge| format!("bridge {}", b.name));
    engine.register_get("name", |b: &mut Bridge| b.name.clone());

    let ss = s.clone();
    reg!(engine, "veth", ["guest: Guest", "bridge: Bridge", "opts: Map", "Attachment"],
        "Attach a guest to a bridge with a veth pair: guest end `eth1` (or opts.ifname) with #{ip, gateway, mac, ifname, mtu, host_ifname, announce}; the guest's IPv4 addresses are announced (gratuitous ARP) unless announce: false; re-running is a no-op; a failure removes what the call created.",
        move |g: Guest, b: Bridge, o: Map| {
            let opts = attach_opts("veth", &o)?;
            ss.attach(&g, &LinuxBridge { name: b.name }, &opts).rhai()
        });
    let ss = s.clone();
    reg!(
        engine,
        "veth",
        ["guest: Guest", "bridge: Bridge", "Attachment"],
        "Attach a guest to a bridge with default options (eth1, no address).",
        move |g: Guest, b: Bridge| ss
            .attach(&g, &LinuxBridge { name: b.name }, &AttachOpts::default())
            .rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "attach",
        ["guest: Guest", "host_if: &str", "opts: Map", "Attachment"],
        "Attach through a host interface by name, whatever its kind, decided as the classic command line does: an existing Linux or OVS bridge, a br*/ovs* name to create, a physical interface (macvlan child; #{direct_phys: true} hands the interface itself over), an InfiniBand port (IPoIB). Options as veth(), plus direct_phys.",
        move |g: Guest, host_if: &str, o: Map| {
            let mut o = o;
            let direct = match o.remove("direct_phys") {
                None => false,
                Some(v) => v.as_bool().map_err(|t| format!("attach(): option `direct_phys` must be true or false, not {t}"))?,
            };
            let opts = attach_opts("attach", &o)?;
            ss.attach_through(&g, host_if, direct, &opts).rhai()
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "macvlan",
        ["guest: Guest", "parent: &str", "opts: Map", "Attachment"],
        "Attach a guest to a host interface with a macvlan child born inside the guest: #{ip, gateway, mac, ifname, mtu, vlan, mode} (mode: bridge, the default, private, vepa or passthru).",
        move |g: Guest, parent: &str, o: Map| {
            let (mode, o) = macvlan_mode(&o)?;
            let opts = attach_opts("macvlan", &o)?;
            let d = crate::driver::Macvlan { mode, ..crate::driver::Macvlan::on_host(parent) };
            ss.attach(&g, &d, &opts).rhai()
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "macvlan",
        ["guest: Guest", "parent: Link", "opts: Map", "Attachment"],
        "The same on a parent inside another namespace (one playing a host: nested labs, tests): macvlan(g, link(netns(\"h\"), \"eth0\"), #{..}). With the parent's own namespace as the guest, the child is that host's shim, its way to reach its macvlan guests.",
        move |g: Guest, parent: Link, o: Map| {
            let (mode, o) = macvlan_mode(&o)?;
            let opts = attach_opts("macvlan", &o)?;
            let d = crate::driver::Macvlan { parent: parent.name.clone(), on: Some(parent.guest.clone()), mode };
            ss.attach(&g, &d, &opts).rhai()
        }
    );
    macro_rules! ipoib_doc { () => { "Attach a guest to an InfiniBand port with an IPoIB child born inside the guest (named ib0 unless #{ifname}): #{ip, gateway, ifname, mtu, pkey: \"8001\"} (pkey: partition key in hex). The parent is a host interface name, or link(ns, name) for one in a namespace playing a host." } }
    let ss = s.clone();
    reg!(
        engine,
        "ipoib",
        ["guest: Guest", "parent: &str", "opts: Map", "Attachment"],
        ipoib_doc!(),
        move |g: Guest, parent: &str, o: Map| ipoib_impl(&ss, g, parent, None, o)
    );
    let ss = s.clone();
    reg!(
        engine,
        "ipoib",
        ["guest: Guest", "parent: Link", "opts: Map", "Attachment"],
        ipoib_doc!(),
        move |g: Guest, p: Link, o: Map| ipoib_impl(&ss, g, &p.name, Some(p.guest.clone()), o)
    );
    let ss = s.clone();
    reg!(
        engine,
        "phys",
        ["guest: Guest", "host_if: &str", "opts: Map", "Attachment"],
        "Hand a host interface itself to a guest (the classic --direct-phys): #{ip, gateway, mac, ifname, mtu, vlan}. With vlan, the 802.1Q sub-interface IF.VID moves (made unless it exists); a wireless interface moves with its whole phy (needs iw). Marked and recorded: down(), a failed run's rollback and the guest's death all give it back under its own name.",
        move |g: Guest, host_if: &str, o: Map| {
            let opts = attach_opts("phys", &o)?;
            ss.attach(&g, &crate::driver::DirectPhys { phys: host_if.to_string() }, &opts).rhai()
        }
    );
    reg!(
        engine,
        "phys",
        ["guest: Guest", "host_if: &str", "Attachment"],
        "phys(guest, host_if, #{}) with no options (eth1, no address).",
        |ctx: NativeCallContext, g: Guest, h: &str| ctx
            .call_native_fn::<Attachment>("phys", (g, h.to_string(), Map::new()))
    );
    engine.register_fn("to_string", |a: &mut Attachment| a.to_string());
    engine.register_fn("to_debug", |a: &mut Attachment| a.to_string());
    // Every attach takes its options map as optional: the same call with none.
    reg!(
        engine,
        "veth",
        ["guest: Guest", "bridge: OvsBridge", "Attachment"],
        "veth(guest, ovs(..), #{}) with no options (eth1, no address).",
        |ctx: NativeCallContext, g: Guest, b: OvsBr| ctx
            .call_native_fn::<Attachment>("veth", (g, b, Map::new()))
    );
    reg!(
        engine,
        "macvlan",
        ["guest: Guest", "parent: &str", "Attachment"],
        "macvlan(guest, parent, #{}) with no options.",
        |ctx: NativeCallContext, g: Guest, p: &str| ctx
            .call_native_fn::<Attachment>("macvlan", (g, p.to_string(), Map::new()))
    );
    reg!(
        engine,
        "macvlan",
        ["guest: Guest", "parent: Link", "Attachment"],
        "macvlan(guest, link(ns, parent), #{}) with no options.",
        |ctx: NativeCallContext, g: Guest, p: Link| ctx
            .call_native_fn::<Attachment>("macvlan", (g, p, Map::new()))
    );
    reg!(
        engine,
        "ipoib",
        ["guest: Guest", "parent: &str", "Attachment"],
        "ipoib(guest, parent, #{}) with no options (ib0, the parent's partition).",
        |ctx: NativeCallContext, g: Guest, p: &str| ctx
            .call_native_fn::<Attachment>("ipoib", (g, p.to_string(), Map::new()))
    );
    reg!(
        engine,
        "ipoib",
        ["guest: Guest", "parent: Link", "Attachment"],
        "ipoib(guest, link(ns, parent), #{}) with no options.",
        |ctx: NativeCallContext, g: Guest, p: Link| ctx
            .call_native_fn::<Attachment>("ipoib", (g, p, Map::new()))
    );
    macro_rules! veth_named_doc { () => { "veth(guest, \"NAME\", #{..}): the bridge by name, found as the classic command line finds it (an existing Linux or OVS bridge; a missing br* name is created as a Linux bridge, ovs* as an OVS bridge). Anything else (a NIC) is refused: use macvlan() or attach()." } }
    let ss = s.clone();
    reg!(
        engine,
        "veth",
        ["guest: Guest", "bridge: &str", "opts: Map", "Attachment"],
        veth_named_doc!(),
        move |g: Guest, b: &str, o: Map| {
            let opts = attach_opts("veth", &o)?;
            veth_named(&ss, &g, b, &opts)
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "veth",
        ["guest: Guest", "bridge: &str", "Attachment"],
        veth_named_doc!(),
        move |g: Guest, b: &str| veth_named(&ss, &g, b, &AttachOpts::default())
    );
    reg!(
        engine,
        "attach",
        ["guest: Guest", "host_if: &str", "Attachment"],
        "attach(guest, host_if, #{}) with no options.",
        |ctx: NativeCallContext, g: Guest, h: &str| ctx
            .call_native_fn::<Attachment>("attach", (g, h.to_string(), Map::new()))
    );
    engine.register_get("guest", |a: &mut Attachment| a.guest.clone());
    engine.register_get("ifname", |a: &mut Attachment| a.ifname.clone());
    engine.register_get("host_ifname", |a: &mut Attachment| a.host_ifname.clone());
    engine.register_get("mac", |a: &mut Attachment| a.mac.clone());
    engine.register_get("created", |a: &mut Attachment| a.created);
    engine.register_get("ips", |a: &mut Attachment| {
        strings(a.ips.iter().map(|n| n.to_string()))
    });
    engine.register_get("ip", |a: &mut Attachment| {
        a.ips
            .first()
            .map(|n| Dynamic::from(n.ip().to_string()))
            .unwrap_or(Dynamic::UNIT)
    });
    engine.register_get("link", |a: &mut Attachment| {
        Link::new(a.guest.clone(), a.ifname.clone())
    });
    let ss = s.clone();
    engine.register_get("host_link", move |a: &mut Attachment| {
        Link::new(ss.host(), a.host_ifname.clone())
    });
}

fn ipoib_impl(
    s: &Session,
    g: Guest,
    parent: &str,
    on: Option<Guest>,
    o: Map,
) -> RhaiResult<Attachment> {
    // Its own list, so a typo is answered with the keys ipoib() takes (mac and vlan are accepted
    // here only to be refused with the reason).
    check_keys(
        "ipoib",
        &o,
        &["ip", "gateway", "ifname", "mtu", "pkey", "mac", "vlan"],
    )?;
    let mut o = o;
    let pkey = match o.remove("pkey") {
        None => None,
        Some(v) if v.is_string() => Some(parse::pkey(&v.into_string().unwrap_or_default()).rhai()?),
        Some(v) => {
            return err(format!(
                "ipoib(): option `pkey` must be a hex string like \"8001\", not {}",
                v.type_name()
            ))
        }
    };
    if !o.contains_key("ifname") {
        o.insert("ifname".into(), "ib0".into());
    }
    let opts = attach_opts("ipoib", &o)?;
    let d = crate::driver::Ipoib {
        parent: parent.to_string(),
        pkey,
        on,
    };
    s.attach(&g, &d, &opts).rhai()
}

/// A macvlan() map's `mode`, and the rest of the map for attach_opts.
fn macvlan_mode(o: &Map) -> RhaiResult<(crate::net::MacVlanMode, Map)> {
    let mut rest = o.clone();
    rest.remove("mode");
    let mode = match opt_str("macvlan", o, "mode")? {
        Some(m) => crate::parse::macvlan_mode(&m).rhai()?,
        None => crate::net::MacVlanMode::Bridge,
    };
    Ok((mode, rest))
}

/// A bridge named by a string: the same decision as classic argv, limited to bridges, so
/// `veth(g, "br0")` and `veth(g, bridge("br0"))` do one thing.
fn veth_named(s: &Session, g: &Guest, name: &str, opts: &AttachOpts) -> RhaiResult<Attachment> {
    use crate::driver::HostKind;
    match s.host_kind(name, crate::driver::Declared::ByName).rhai()? {
        HostKind::Bridge { .. } | HostKind::Ovs => s.attach_through(g, name, false, opts).rhai(),
        _ => err(format!(
            "veth(): {name} is not a bridge (nor a br*/ovs* name to create one); a host NIC takes macvlan({name:?}) or attach(), or make it a bridge port with join()"
        )),
    }
}

/// Parse `veth()` options into the core's AttachOpts.
pub(super) fn attach_opts(func: &str, o: &Map) -> RhaiResult<AttachOpts> {
    check_keys(
        func,
        o,
        &[
            "ip",
            "gateway",
            "mac",
            "ifname",
            "mtu",
            "host_ifname",
            "vlan",
            "announce",
        ],
    )?;
    let mut a = AttachOpts::default();
    if let Some(v) = opt_bool(func, o, "announce")? {
        a.announce = v;
    }
    if let Some(n) = opt_str(func, o, "ifname")? {
        a.ifname = parse::ifname(&n).rhai()?;
    }
    if let Some(n) = opt_str(func, o, "host_ifname")? {
        a.host_ifname = Some(parse::ifname(&n).rhai()?);
    }
    for ip in opt_strs(func, o, "ip")? {
        a.ips.push(parse::cidr(&ip).rhai()?);
    }
    // `gateway` is the default router wherever it appears: an address, or false for none (what
    // dhcp() takes too, where true means the lease's router).
    match o.get("gateway") {
        Some(v) if v.is_bool() => {
            if v.as_bool() == Ok(true) {
                return err(format!("{func}(): `gateway: true` means the lease's router, which only dhcp() has; give the router's address"));
            }
        }
        _ => {
            if let Some(g) = opt_str(func, o, "gateway")? {
                a.gateway = Some(parse::ip(&g).rhai()?);
            }
        }
    }
    if let Some(m) = opt_str(func, o, "mac")? {
        a.mac = Some(parse::mac(&m).rhai()?);
    }
    if let Some(m) = opt_int(func, o, "mtu")? {
        a.mtu = Some(parse::mtu(m).rhai()?);
    }
    if let Some(v) = opt_int(func, o, "vlan")? {
        a.vlan = Some(parse::vlan_id(v).rhai()?);
    }
    a.validate_common().rhai()?;
    Ok(a)
}
