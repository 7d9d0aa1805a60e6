//! Interfaces made inside a guest (dummy, VLAN, macvlan, IPoIB), DHCP, with their option decoders.

use super::attach::attach_opts;
use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "dummy",
        ["guest: Guest", "name: &str", "opts: Map", "Link"],
        "Ensure a dummy interface inside a guest, up, with #{ip, mtu, mac}.",
        move |g: Guest, name: &str, o: Map| {
            let opts = local_opts("dummy", name.to_string(), &o)?;
            ss.dummy(&g, &opts).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, opts.ifname))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "dummy",
        ["guest: Guest", "name: &str", "Link"],
        "Ensure a dummy interface inside a guest, up.",
        move |g: Guest, name: &str| {
            let opts = local_opts("dummy", name.to_string(), &Map::new())?;
            ss.dummy(&g, &opts).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, opts.ifname))
        }
    );
    let ss = s.clone();
    reg!(engine, "vlan", ["parent: Link", "id: i64", "opts: Map", "Link"],
        "Ensure an 802.1Q sub-interface of a link (same guest), named PARENT.ID unless #{name}; also #{ip, mtu, mac}.",
        move |p: Link, id: i64, o: Map| vlan_impl(&ss, p, id, &o));
    let ss = s.clone();
    reg!(
        engine,
        "vlan",
        ["parent: Link", "id: i64", "Link"],
        "Ensure an 802.1Q sub-interface PARENT.ID of a link.",
        move |p: Link, id: i64| vlan_impl(&ss, p, id, &Map::new())
    );
    let ss = s.clone();
    reg!(
        engine,
        "vlan",
        ["parent: &str", "id: i64", "opts: Map", "Link"],
        "vlan(\"eth1\", 100, #{..}): the parent named as a host interface, as macvlan() and ipoib() take it.",
        move |p: &str, id: i64, o: Map| vlan_impl(&ss, Link::new(ss.host(), p.to_string()), id, &o)
    );
    let ss = s.clone();
    reg!(
        engine,
        "vlan",
        ["parent: &str", "id: i64", "Link"],
        "vlan(\"eth1\", 100): an 802.1Q sub-interface eth1.100 of a host interface.",
        move |p: &str, id: i64| vlan_impl(
            &ss,
            Link::new(ss.host(), p.to_string()),
            id,
            &Map::new()
        )
    );

    let ss = s.clone();
    reg!(engine, "dhcp", ["link: Link", "opts: Map", "Map"],
        "Lease an IPv4 address for a link and apply it (address, default route, DNS into the guest's own resolv.conf): #{timeout: \"10s\", hostname, gateway: true (the lease's router; an address overrides it, false installs none), dns: true, keep: true (a background process renews the lease until down())}; #{client: \"udhcpc\"|\"dhclient\"|\"dhcpcd\", keep, args} runs that installed client instead. Returns #{ip, server, router, dns, lease, resolv, keeper}.",
        move |l: Link, o: Map| dhcp_impl(&ss, &l, &o));
    let ss = s.clone();
    reg!(
        engine,
        "dhcp",
        ["link: Link", "Map"],
        "Lease an IPv4 address for a link with pipework's built-in DHCP client and apply it.",
        move |l: Link| dhcp_impl(&ss, &l, &Map::new())
    );
    // What veth()/macvlan() return leases directly: dhcp(veth(g, br)).
    let ss = s.clone();
    reg!(engine, "dhcp", ["attachment: Attachment", "opts: Map", "Map"],
        "Lease an address for the guest end of an attachment (what veth() returns), as dhcp(link, opts).",
        move |a: Attachment, o: Map| dhcp_impl(&ss, &attachment_link(&a), &o));
    let ss = s.clone();
    reg!(
        engine,
        "dhcp",
        ["attachment: Attachment", "Map"],
        "Lease an address for the guest end of an attachment (what veth() returns).",
        move |a: Attachment| dhcp_impl(&ss, &attachment_link(&a), &Map::new())
    );

    let ss = s.clone();
    reg!(
        engine,
        "wait",
        ["guest: Guest", "ifname: &str", "opts: Map", "Link"],
        "Wait (netlink monitor, no polling) until an interface exists in a guest and has carrier: #{timeout: \"10s\" (the default), carrier: true}.",
        move |g: Guest, name: &str, o: Map| {
            check_keys("wait", &o, &["timeout", "carrier"])?;
            let timeout = opt_str("wait", &o, "timeout")?
                .map(|t| parse::duration(&t))
                .transpose()
                .rhai()?
                .unwrap_or(Session::WAIT_DEFAULT);
            let carrier = opt_bool("wait", &o, "carrier")?.unwrap_or(true);
            ss.wait_link(&g, name, carrier, Some(timeout)).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, name.to_string()))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "wait",
        ["guest: Guest", "ifname: &str", "Link"],
        "Wait until an interface exists in a guest and has carrier (10 s at most).",
        move |g: Guest, name: &str| {
            ss.wait_link(&g, name, true, Some(Session::WAIT_DEFAULT))
                .rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, name.to_string()))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "arp",
        ["link: Link", "i64"],
        "Send a gratuitous ARP for every IPv4 address of a link (attaches already do this once); returns how many.",
        move |l: Link| ss.arp(&l.guest, &l.name).map(|n| n as i64).rhai()
    );
}

/// Options of interfaces made inside one guest (dummy, vlan): #{name, ip, mtu, mac}.
fn local_opts(func: &str, default_name: String, o: &Map) -> RhaiResult<AttachOpts> {
    check_keys(func, o, &["name", "ip", "mtu", "mac"])?;
    let mut m = o.clone();
    let name = opt_str(func, o, "name")?.unwrap_or(default_name);
    m.remove("name");
    m.insert("ifname".into(), name.into());
    attach_opts(func, &m)
}

fn vlan_impl(s: &Session, p: Link, id: i64, o: &Map) -> RhaiResult<Link> {
    let id = parse::vlan_id(id).rhai()?;
    let opts = local_opts("vlan", format!("{}.{id}", p.name), o)?;
    s.vlan(&p.guest, &p.name, id, &opts).rhai()?;
    Ok(Link::new(p.guest, opts.ifname))
}

fn dhcp_impl(s: &Session, l: &Link, o: &Map) -> RhaiResult<Map> {
    let f = "dhcp";
    check_keys(
        f,
        o,
        &[
            "timeout", "hostname", "gateway", "dns", "client", "keep", "args",
        ],
    )?;
    let mut m = Map::new();
    if let Some(client) = opt_str(f, o, "client")? {
        for k in ["timeout", "hostname", "gateway", "dns"] {
            if o.contains_key(k) {
                return err(format!(
                    "dhcp(): `{k}` is for the built-in client; {client} is configured by `args`"
                ));
            }
        }
        let e = crate::dhcp::external::External {
            client,
            keep: opt_bool(f, o, "keep")?.unwrap_or(false),
            args: opt_strs(f, o, "args")?,
        };
        crate::dhcp::external::check_installed(&e.client).rhai()?;
        let summary = s.dhcp_client(&l.guest, &l.name, &e).rhai()?;
        let ip = s
            .addrs(&l.guest, &l.name)
            .rhai()?
            .into_iter()
            .find(|a| a.is_ipv4())
            .map(|a| Dynamic::from(a.to_string()))
            .unwrap_or(Dynamic::UNIT);
        m.insert("ip".into(), ip);
        m.insert("client".into(), e.client.into());
        m.insert("summary".into(), summary.into());
        return Ok(m);
    }
    if o.contains_key("args") {
        return err("dhcp(): `args` needs `client` (the built-in client takes no arguments)");
    }
    let mut d = crate::dhcp::DhcpOpts {
        hostname: crate::dhcp::default_hostname(&l.guest),
        ..Default::default()
    };
    if let Some(t) = opt_str(f, o, "timeout")? {
        d.timeout = parse::duration(&t).rhai()?;
    }
    if let Some(h) = opt_str(f, o, "hostname")? {
        d.hostname = Some(h).filter(|h| !h.is_empty());
    }
    d.gateway = match o.get("gateway") {
        None => crate::dhcp::Gateway::Lease,
        Some(v) if v.is_bool() => match v.as_bool() {
            Ok(true) => crate::dhcp::Gateway::Lease,
            _ => crate::dhcp::Gateway::Off,
        },
        Some(v) if v.is_string() => {
            let ip = v.clone().into_string().unwrap_or_default();
            match parse::ip(&ip).rhai()? {
                std::net::IpAddr::V4(ip) => crate::dhcp::Gateway::Fixed(ip),
                std::net::IpAddr::V6(_) => {
                    return err("dhcp(): `gateway` must be an IPv4 address (the lease is IPv4)")
                }
            }
        }
        Some(v) => {
            return err(format!(
                "dhcp(): option `gateway` is the default router: an address, true (the lease's) or false (none), not {}",
                v.type_name()
            ))
        }
    };
    d.dns = opt_bool(f, o, "dns")?.unwrap_or(true);
    d.keep = opt_bool(f, o, "keep")?.unwrap_or(true);
    let r = s.dhcp(&l.guest, &l.name, &d).rhai()?;
    let opt_ip = |ip: Option<std::net::Ipv4Addr>| {
        ip.map(|i| Dynamic::from(i.to_string()))
            .unwrap_or(Dynamic::UNIT)
    };
    m.insert("ip".into(), r.lease.addr.to_string().into());
    m.insert("server".into(), r.lease.server.to_string().into());
    m.insert("router".into(), opt_ip(r.lease.router));
    m.insert(
        "dns".into(),
        strings(r.lease.dns.iter().map(|d| d.to_string())).into(),
    );
    m.insert("lease".into(), (r.lease.lease_secs as i64).into());
    m.insert(
        "resolv".into(),
        r.resolv.ok().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "keeper".into(),
        r.keeper
            .map(|p| Dynamic::from(p.display().to_string()))
            .unwrap_or(Dynamic::UNIT),
    );
    Ok(m)
}
