//! CNI plugin mode: the binary run by a container runtime (podman, containerd, cri-o, Nomad) with
//! `CNI_COMMAND` in its environment and the network config on stdin — spec 1.0 and 1.1 (ADD, DEL,
//! CHECK, VERSION, STATUS, GC), and the 0.3/0.4 result shapes older runtimes ask for.
//!
//! A front end like the classic command line: the config's key (`bridge`, `ovs`, `master`) picks
//! the host side through `HostKind`, the wiring goes through `Session`, and everything it makes
//! carries an ownership marker for one owner per attachment (network, container, interface). DEL
//! is that owner's `down`, so it needs neither the namespace (gone already, often) nor the result
//! ADD printed.

mod conf;
mod ipam;

pub use conf::VERSIONS;
use conf::{Addressing, Command, Env, IpConfig, NetConf, RouteConfig};

use crate::driver::{AttachOpts, Declared, HostKind};
use crate::guest::Guest;
use crate::session::{BridgeOpts, Session};
use serde_json::{json, Value};
use std::io::Read;
use std::net::IpAddr;
use std::path::Path;

/// A CNI error: the spec's code (1-7, 11, 50: well known; 100 and up: ours, by `Error::kind`),
/// printed as the spec's error JSON on stdout.
#[derive(Debug, Clone, PartialEq)]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>) -> CniError {
        CniError {
            code,
            msg: msg.into(),
            details: String::new(),
        }
    }
}

/// Our error kinds as CNI codes. The spec's own where one means the same; the rest from 100 up,
/// one per kind, with the kind's name in `details` (docs/cni.md lists them).
impl From<crate::Error> for CniError {
    fn from(e: crate::Error) -> CniError {
        let kind = e.kind();
        let code = match kind {
            "invalid" => 7,
            "io" => 5,
            "timeout" => 11,
            "netlink" => 100,
            "conflict" => 101,
            "not_found" => 102,
            "external" => 103,
            "privilege" => 104,
            // guest; a CNI verb plays no timeline, so nothing here is "interrupted"
            _ => 105,
        };
        CniError {
            code,
            msg: e.to_string(),
            details: format!("pipework error kind: {kind}"),
        }
    }
}

/// Run as a CNI plugin; the process's exit code. Output is the result (or error) JSON on stdout.
pub fn main() -> i32 {
    let (command, env) = Env::from_process();
    let mut input = Vec::new();
    let read = std::io::stdin().read_to_end(&mut input);
    let res = match read {
        Ok(_) => run(command.as_deref(), &env, &input),
        Err(e) => Err(CniError::new(
            5,
            format!("reading the network config from stdin: {e}"),
        )),
    };
    match res {
        Ok(Some(v)) => {
            println!("{v}");
            0
        }
        Ok(None) => 0,
        Err(e) => {
            let version = serde_json::from_slice::<Value>(&input)
                .ok()
                .and_then(|c| conf::version_of(&c).ok())
                .unwrap_or_else(|| VERSIONS[VERSIONS.len() - 1].to_string());
            let mut out = json!({"cniVersion": version, "code": e.code, "msg": e.msg});
            if !e.details.is_empty() {
                out["details"] = e.details.clone().into();
            }
            println!("{out}");
            eprintln!("pipework (CNI): {}", e.msg);
            1
        }
    }
}

fn run(command: Option<&str>, env: &Env, input: &[u8]) -> Result<Option<Value>, CniError> {
    let command = Command::parse(
        command.ok_or_else(|| CniError::new(4, "CNI_COMMAND is not set; a CNI runtime sets it"))?,
    )?;
    let raw: Value = match serde_json::from_slice(input) {
        Ok(v) => v,
        // VERSION may come with nothing to read (an old runtime, a person trying it).
        Err(_) if command == Command::Version && input.iter().all(u8::is_ascii_whitespace) => {
            json!({})
        }
        Err(e) => {
            return Err(CniError::new(
                6,
                format!("the network config on stdin is not JSON: {e}"),
            ))
        }
    };
    if command == Command::Version {
        let asked = conf::version_of(&raw).unwrap_or_else(|_| VERSIONS[VERSIONS.len() - 1].into());
        return Ok(Some(
            json!({"cniVersion": asked, "supportedVersions": VERSIONS}),
        ));
    }
    let conf = NetConf::parse(&raw, env)?;
    let need_version = |min: &str, verb: &str| {
        if conf::at_least(&conf.version, min) {
            Ok(())
        } else {
            Err(CniError::new(
                1,
                format!(
                    "{verb} came with CNI {min}; this config is {}",
                    conf.version
                ),
            ))
        }
    };
    crate::privilege::require()?;
    let verbose = std::env::var_os("PIPEWORK_VERBOSE").is_some();
    let s = Session::new(verbose)?;
    match command {
        Command::Add => add(&s, env, &conf, input).map(Some),
        Command::Del => del(&s, env, &conf, input).map(|_| None),
        Command::Check => {
            need_version("0.4.0", "CHECK")?;
            check(&s, env, &conf, input).map(|_| None)
        }
        Command::Status => {
            need_version("1.1.0", "STATUS")?;
            status(&s, env, &conf, input).map(|_| None)
        }
        Command::Gc => {
            need_version("1.1.0", "GC")?;
            gc(&s, env, &conf, input).map(|_| None)
        }
        Command::Version => unreachable!("answered above"),
    }
}

/// CNI_CONTAINERID and CNI_IFNAME, checked (error 4): every verb on one attachment needs both.
fn attachment(env: &Env) -> Result<(&str, &str), CniError> {
    let id = env.need(&env.container_id, "CNI_CONTAINERID")?;
    let ifname = env.need(&env.ifname, "CNI_IFNAME")?;
    crate::parse::ifname(ifname).map_err(|e| CniError::new(4, format!("CNI_IFNAME: {e}")))?;
    Ok((id, ifname))
}

fn container_ns(env: &Env) -> Result<Guest, CniError> {
    let path = env.need(&env.netns, "CNI_NETNS")?;
    Guest::at_path(Path::new(path)).map_err(|e| CniError::new(3, format!("CNI_NETNS: {e}")))
}

fn add(s: &Session, env: &Env, conf: &NetConf, input: &[u8]) -> Result<Value, CniError> {
    let (id, ifname) = attachment(env)?;
    let guest = container_ns(env)?;
    s.set_owner(&conf.owner(id, ifname))?;
    // Everything that can be refused is refused before an address is taken from the pool.
    let kind = s.host_kind(&conf.host.name, conf.host.declared)?;
    let driver = kind
        .driver(&conf.host.name, conf.host.declared, conf.host.child)
        .ok_or_else(|| CniError::new(7, "a dummy interface is no host side for a network"))?;
    let opts = AttachOpts {
        ifname: ifname.to_string(),
        mac: conf.mac,
        mtu: conf.mtu,
        vlan: conf.vlan,
        ..Default::default()
    };
    driver.validate(&opts)?;
    let mut ipam_took = false;
    let made = wire(
        s,
        &guest,
        conf,
        (kind, driver.as_ref()),
        opts,
        (env, input),
        &mut ipam_took,
    );
    let (att, addressing) = match made {
        Ok(m) => m,
        Err(e) => {
            s.rollback();
            if let Some(plugin) = conf.ipam.as_ref().filter(|_| ipam_took) {
                // The addresses go back to the pool; should that fail too, the wiring error is
                // still the one to report.
                if let Err(back) = ipam::delegate(env, "DEL", plugin, input) {
                    eprintln!("pipework (CNI): giving the addresses back: {}", back.msg);
                }
            }
            return Err(e);
        }
    };
    let mut interfaces = vec![];
    if matches!(kind, HostKind::Bridge { .. } | HostKind::Ovs) {
        let host = s.host();
        for name in [&conf.host.name, &att.host_ifname] {
            let mac = s.link(&host, name).ok().and_then(|l| l.mac_text());
            interfaces.push(json!({"name": name, "mac": mac.unwrap_or_default()}));
        }
    }
    interfaces.push(json!({"name": ifname, "mac": att.mac, "sandbox": env.netns}));
    Ok(result(conf, interfaces, &addressing))
}

/// ADD's wiring, in the reference plugins' order: the host side and the container's interface
/// first, then the IPAM plugin (a DHCP one leases through that interface), then the addresses,
/// the gateway on the bridge, routes and rate. `ipam_took`: the IPAM plugin handed out addresses
/// (a failure after that must give them back).
fn wire(
    s: &Session,
    guest: &Guest,
    conf: &NetConf,
    (kind, driver): (HostKind, &dyn crate::driver::Driver),
    mut opts: AttachOpts,
    (env, input): (&Env, &[u8]),
    ipam_took: &mut bool,
) -> Result<(crate::driver::Attachment, Addressing), CniError> {
    match kind {
        HostKind::Bridge { create } => {
            // Shape a bridge only as it is made: one that exists (somebody's, or made by an
            // earlier ADD) keeps its MTU and VLAN filtering, as with the reference plugin.
            let b = BridgeOpts {
                mtu: conf.mtu.filter(|_| create),
                vlan_filtering: conf.vlan.filter(|_| create).map(|_| true),
            };
            s.bridge(&conf.host.name, &b)?;
        }
        HostKind::Ovs => {
            s.ovs_bridge(&conf.host.name)?;
        }
        _ => {}
    }
    let mut att = s.attach(guest, driver, &opts)?;
    let mut addressing = match &conf.ipam {
        Some(plugin) => {
            let r = ipam::delegate(env, "ADD", plugin, input)?;
            *ipam_took = true;
            let r = r.ok_or_else(|| {
                CniError::new(6, format!("IPAM plugin {plugin} printed no result"))
            })?;
            Addressing::parse(&r)?
        }
        None => Addressing::default(),
    };
    plan_gateways(conf, &mut addressing);
    if !addressing.ips.is_empty() {
        // The same attach again, now with its addresses: it converges the interface it made.
        opts.ips = addressing.ips.iter().map(|i| i.address).collect();
        driver.validate(&opts)?;
        att = s.attach(guest, driver, &opts)?;
    }
    if conf.is_gateway {
        for ip in &addressing.ips {
            let gw = ip.gateway.expect("plan_gateways gave every address one");
            let net = ipnetwork::IpNetwork::new(gw, ip.address.prefix())
                .expect("the prefix came from a valid network");
            s.addr_add(&s.host(), &conf.host.name, net)?;
        }
    }
    let ifname = opts.ifname.as_str();
    for r in &addressing.routes {
        s.route(guest, &route_spec(r, &addressing.ips, ifname))?;
    }
    if let Some(tbf) = &conf.rate {
        s.tc(guest, ifname, &crate::net::Qdisc::Tbf(tbf.clone()))?;
    }
    Ok((att, addressing))
}

/// The gateways a Linux bridge config asks for: with `isGateway`, every subnet's gateway (the
/// IPAM plugin's, or the subnet's first address, as the reference plugin picks it) goes onto the
/// bridge; with `isDefaultGateway`, the guest's default route of each family goes through it.
fn plan_gateways(conf: &NetConf, a: &mut Addressing) {
    if !conf.is_gateway {
        return;
    }
    for ip in &mut a.ips {
        if ip.gateway.is_none() {
            ip.gateway = first_host(ip.address);
        }
    }
    if conf.is_default_gateway {
        for ip in a.ips.clone() {
            let any = crate::parse::destination("default", Some(ip.address.ip()))
                .expect("default is a destination");
            if !a.routes.iter().any(|r| r.dst == any) {
                a.routes.push(RouteConfig {
                    dst: any,
                    gw: ip.gateway,
                });
            }
        }
    }
}

fn first_host(net: ipnetwork::IpNetwork) -> Option<IpAddr> {
    match net {
        ipnetwork::IpNetwork::V4(n) => n.nth(1).map(IpAddr::V4),
        ipnetwork::IpNetwork::V6(n) => Some(IpAddr::V6((u128::from(n.network()) + 1).into())),
    }
}

/// A route of the result as the guest gets it: through its `gw`, or through the gateway of the
/// guest's address of the same family, or on-link, as the reference plugins install them.
fn route_spec(r: &RouteConfig, ips: &[IpConfig], ifname: &str) -> crate::net::RouteSpec {
    let mut spec = crate::net::RouteSpec::new(crate::net::RouteOp::Replace, r.dst);
    spec.via = r.gw.or_else(|| {
        ips.iter()
            .filter(|i| i.address.is_ipv6() == r.dst.is_ipv6())
            .find_map(|i| i.gateway)
    });
    spec.dev = Some(ifname.to_string());
    spec
}

/// The result JSON in the shape `conf.version` asks for; a prevResult's contents come first
/// (chained after another plugin), ours after them.
fn result(conf: &NetConf, ours: Vec<Value>, a: &Addressing) -> Value {
    let prev = conf.prev_result.clone().unwrap_or_else(|| json!({}));
    let list = |k: &str| conf::list(&prev, k).to_vec();
    let mut interfaces = list("interfaces");
    interfaces.extend(ours);
    let guest_if = interfaces.len() - 1;
    let old_shape = !conf::at_least(&conf.version, "1.0.0");
    let mut ips = list("ips");
    for ip in &a.ips {
        let mut v = json!({"address": ip.address.to_string(), "interface": guest_if});
        if let Some(g) = ip.gateway {
            v["gateway"] = g.to_string().into();
        }
        if old_shape {
            v["version"] = if ip.address.is_ipv4() { "4" } else { "6" }.into();
        }
        ips.push(v);
    }
    let mut routes = list("routes");
    for r in &a.routes {
        let mut v = json!({"dst": r.dst.to_string()});
        if let Some(g) = r.gw {
            v["gw"] = g.to_string().into();
        }
        routes.push(v);
    }
    let mut out = json!({
        "cniVersion": conf.version,
        "interfaces": interfaces,
        "ips": ips,
        "routes": routes,
    });
    // An IPAM plugin with nothing to say of DNS still prints `"dns": {}`.
    let said = |d: &&Value| d.as_object().is_some_and(|o| !o.is_empty());
    if let Some(dns) = a
        .dns
        .as_ref()
        .filter(said)
        .or(prev.get("dns"))
        .or(a.dns.as_ref())
    {
        out["dns"] = dns.clone();
    }
    out
}

fn del(s: &Session, env: &Env, conf: &NetConf, input: &[u8]) -> Result<(), CniError> {
    let (id, ifname) = attachment(env)?;
    let owner = conf.owner(id, ifname);
    // The IPAM plugin first, while the interface is there (a DHCP one releases the lease through
    // it); should it fail, our side still goes, and its error is reported after: the runtime's
    // retry then finds only the addresses left to give back.
    let released = match &conf.ipam {
        Some(plugin) => ipam::delegate(env, "DEL", plugin, input).map(|_| ()),
        None => Ok(()),
    };
    // A child interface (macvlan, IPoIB) lives only in the container: removed there while the
    // namespace is; a veth goes with its host end below. A namespace already gone took its
    // interfaces with it, which is what DEL wants. Every step is tried; every failure is told.
    let mut errors = vec![];
    if let Some(g) = env
        .netns
        .as_deref()
        .and_then(|p| Guest::at_path(Path::new(p)).ok())
    {
        if let Ok(l) = s.link(&g, ifname) {
            let ours = l.owner() == Some(owner.as_str());
            if ours {
                if let Err(e) = s.del_link(&g, ifname) {
                    errors.push(e.to_string());
                }
            }
        }
    }
    errors.extend(s.down(&owner)?.errors);
    if !errors.is_empty() {
        return Err(CniError::new(5, errors.join("; ")));
    }
    released
}

fn check(s: &Session, env: &Env, conf: &NetConf, input: &[u8]) -> Result<(), CniError> {
    let (id, ifname) = attachment(env)?;
    let owner = conf.owner(id, ifname);
    let prev = conf
        .prev_result
        .as_ref()
        .ok_or_else(|| CniError::new(7, "CHECK needs the prevResult ADD printed"))?;
    if let Some(plugin) = &conf.ipam {
        ipam::delegate(env, "CHECK", plugin, input)?;
    }
    let guest = container_ns(env)?;
    let failed = |what: String| CniError::new(101, format!("CHECK: {what}"));
    let gl = s
        .link(&guest, ifname)
        .map_err(|_| failed(format!("{ifname} is not in the container")))?;
    let marked = |l: &crate::net::LinkState| l.owner() == Some(owner.as_str());
    match s.host_kind(&conf.host.name, conf.host.declared)? {
        HostKind::Bridge { .. } | HostKind::Ovs => {
            let host = s.host();
            let h = s
                .links(&host)?
                .into_iter()
                .find(|l| marked(l) && gl.peer == Some(l.index))
                .ok_or_else(|| {
                    failed(format!(
                        "{ifname}'s host end (a veth marked for {owner}) is gone"
                    ))
                })?;
            let member = if conf.host.declared == Declared::Bridge {
                h.master == Some(s.link(&host, &conf.host.name)?.index)
            } else {
                s.ovs_ports(&conf.host.name)?.contains(&h.name)
            };
            if !member {
                return Err(failed(format!(
                    "{} is not a port of {}",
                    h.name, conf.host.name
                )));
            }
        }
        _ if !marked(&gl) => {
            return Err(failed(format!(
                "{ifname} is not the interface pipework made for {owner}"
            )))
        }
        _ => {}
    }
    let prev_ifs = conf::list(prev, "interfaces");
    let idx = prev_ifs.iter().position(|i| {
        i.get("name").and_then(Value::as_str) == Some(ifname)
            && i.get("sandbox").and_then(Value::as_str) == env.netns.as_deref()
    });
    if let Some(mac) = idx
        .and_then(|i| prev_ifs[i].get("mac"))
        .and_then(Value::as_str)
    {
        if !mac.is_empty() && gl.mac_text().as_deref() != Some(&mac.to_ascii_lowercase()) {
            return Err(failed(format!(
                "{ifname} has MAC {:?}, not {mac}",
                gl.mac_text()
            )));
        }
    }
    let a = Addressing::parse(prev)?;
    let have = s.addrs(&guest, ifname)?;
    for ip in &a.ips {
        if ip.interface.is_some() && ip.interface != idx {
            continue;
        }
        if !have.contains(&ip.address) {
            return Err(failed(format!("{ifname} lacks {}", ip.address)));
        }
    }
    for r in &a.routes {
        let spec = route_spec(r, &a.ips, ifname);
        if !s.has_route(&guest, spec.dst, spec.via, ifname)? {
            return Err(failed(format!(
                "the route to {}{} is missing",
                r.dst,
                spec.via.map(|g| format!(" via {g}")).unwrap_or_default()
            )));
        }
    }
    Ok(())
}

/// STATUS: whether an ADD could succeed now — the host side it needs is there (OVS running; the
/// parent interface present), and the IPAM plugin says so too.
fn status(s: &Session, env: &Env, conf: &NetConf, input: &[u8]) -> Result<(), CniError> {
    let unavailable = |why: String| CniError::new(50, why);
    match conf.host.declared {
        Declared::Ovs if !s.ovs_running() => {
            return Err(unavailable(
                "Open vSwitch is not running (no answer from ovsdb-server)".into(),
            ))
        }
        Declared::Parent => {
            s.host_kind(&conf.host.name, conf.host.declared)
                .map_err(|e| unavailable(e.to_string()))?;
        }
        _ => {}
    }
    if let Some(plugin) = &conf.ipam {
        if ipam::speaks(env, plugin, "1.1.0") {
            ipam::delegate(env, "STATUS", plugin, input)?;
        }
    }
    Ok(())
}

/// GC: every attachment of this network whose (container, interface) the runtime no longer
/// lists is taken down, by owner.
fn gc(s: &Session, env: &Env, conf: &NetConf, input: &[u8]) -> Result<(), CniError> {
    let keep: std::collections::HashSet<String> = conf
        .valid_attachments
        .iter()
        .flatten()
        .map(|(id, ifname)| conf.owner(id, ifname))
        .collect();
    let prefix = conf.owner_prefix();
    let mut errors = vec![];
    for owner in s.owners()? {
        if owner.starts_with(&prefix) && !keep.contains(&owner) {
            match s.down(&owner) {
                Ok(r) => errors.extend(r.errors),
                Err(e) => errors.push(e.to_string()),
            }
        }
    }
    if let Some(plugin) = &conf.ipam {
        if ipam::speaks(env, plugin, "1.1.0") {
            ipam::delegate(env, "GC", plugin, input)?;
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CniError::new(5, errors.join("; ")))
    }
}
