//! The registered Rhai API: thin glue from script values to `Session` calls. Each function carries its
//! doc comment in the engine's metadata, which is what `pipework doc` and the REPL's `:doc` print.

use super::opts::{check_keys, err, opt_bool, opt_int, opt_str, opt_strs, RhaiResult};
use crate::driver::{AttachOpts, Attachment, LinuxBridge};
use crate::error::Error;
use crate::guest::Guest;
use crate::net::{LinkChange, LinkState, RouteOp, RouteSpec};
use crate::parse;
use crate::session::{Bridge, BridgeOpts, Session};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map};
use std::rc::Rc;

/// An Open vSwitch bridge (a distinct type so `veth()` picks the OVS driver).
#[derive(Clone, Debug)]
pub struct OvsBr(pub String);

/// An interface inside a guest, looked up by name whenever it is used.
#[derive(Clone, Debug)]
pub struct Link {
    pub guest: Guest,
    pub name: String,
}

fn rt(e: Error) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(e.to_string().into(), rhai::Position::NONE).into()
}

trait IntoRhai<T> {
    fn rhai(self) -> RhaiResult<T>;
}

impl<T> IntoRhai<T> for crate::error::Result<T> {
    fn rhai(self) -> RhaiResult<T> {
        self.map_err(rt)
    }
}

fn strings(v: impl IntoIterator<Item = String>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn link_map(s: &LinkState, links: &[LinkState]) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), s.name.clone().into());
    m.insert("index".into(), (s.index as i64).into());
    m.insert("kind".into(), s.kind.clone().unwrap_or_default().into());
    m.insert("mac".into(), s.mac.clone().unwrap_or_default().into());
    m.insert("mtu".into(), (s.mtu as i64).into());
    m.insert("up".into(), s.up.into());
    m.insert("state".into(), s.oper.clone().into());
    let master = s
        .master
        .and_then(|i| links.iter().find(|l| l.index == i))
        .map(|l| l.name.clone());
    m.insert(
        "master".into(),
        master.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "alias".into(),
        s.alias.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m
}

/// Parse `veth()` options into the core's AttachOpts.
pub fn attach_opts(func: &str, o: &Map) -> RhaiResult<AttachOpts> {
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
        ],
    )?;
    let mut a = AttachOpts::default();
    if let Some(n) = opt_str(func, o, "ifname")? {
        a.ifname = parse::ifname(&n).rhai()?;
    }
    if let Some(n) = opt_str(func, o, "host_ifname")? {
        a.host_ifname = Some(parse::ifname(&n).rhai()?);
    }
    for ip in opt_strs(func, o, "ip")? {
        a.ips.push(parse::cidr(&ip).rhai()?);
    }
    if let Some(g) = opt_str(func, o, "gateway")? {
        a.gateway = Some(parse::ip(&g).rhai()?);
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

/// Options of interfaces made inside one guest (dummy, vlan): #{name, ip, mtu, mac}.
fn local_opts(func: &str, default_name: String, o: &Map) -> RhaiResult<AttachOpts> {
    check_keys(func, o, &["name", "ip", "mtu", "mac"])?;
    let mut m = o.clone();
    let name = opt_str(func, o, "name")?.unwrap_or(default_name);
    m.remove("name");
    m.insert("ifname".into(), name.into());
    attach_opts(func, &m)
}

/// `tc()` options: delay/jitter/loss (and limit) make a netem impairment, which may include a
/// rate; a rate alone (with burst/latency) makes a tbf rate limit; `#{}` restores the default.
fn qdisc(o: &Map) -> RhaiResult<crate::net::Qdisc> {
    use crate::net::{Qdisc, Tbf};
    let f = "tc";
    check_keys(
        f,
        o,
        &[
            "delay", "jitter", "loss", "rate", "limit", "burst", "latency",
        ],
    )?;
    let impair = ["delay", "jitter", "loss", "limit"]
        .iter()
        .any(|k| o.contains_key(*k));
    let shape = ["burst", "latency"].iter().any(|k| o.contains_key(*k));
    if impair && shape {
        return err("tc(): burst and latency shape a plain rate limit (tbf); with delay, jitter, loss or limit (netem) give only rate");
    }
    if impair {
        return netem(o).map(Qdisc::Netem);
    }
    let Some(rate) = opt_str(f, o, "rate")? else {
        if shape {
            return err("tc(): burst and latency need a rate");
        }
        return Ok(Qdisc::Default);
    };
    let burst = match o.get("burst") {
        None => None,
        Some(v) if v.is_int() => Some(
            u32::try_from(v.as_int().unwrap_or(0))
                .ok()
                .filter(|b| *b > 0)
                .ok_or_else(|| rt(Error::invalid("burst", v, "must be 1 to 4294967295 bytes")))?,
        ),
        Some(_) => opt_str(f, o, "burst")?
            .map(|b| parse::size(&b))
            .transpose()
            .rhai()?,
    };
    let latency = opt_str(f, o, "latency")?
        .map(|d| parse::duration(&d))
        .transpose()
        .rhai()?;
    Ok(Qdisc::Tbf(Tbf::new(
        parse::rate(&rate).rhai()?,
        burst,
        latency,
    )))
}

fn netem(o: &Map) -> RhaiResult<crate::net::Netem> {
    let f = "tc";
    let dur = |k: &str| -> RhaiResult<Option<std::time::Duration>> {
        opt_str(f, o, k)?
            .map(|d| parse::duration(&d))
            .transpose()
            .rhai()
    };
    let loss = match o.get("loss") {
        None => None,
        Some(v) if v.is_float() || v.is_int() => {
            let p = v
                .as_float()
                .unwrap_or_else(|_| v.as_int().unwrap_or(0) as f64);
            if !(0.0..=100.0).contains(&p) {
                return err(format!(
                    "tc(): loss is a percentage between 0 and 100, not {p}"
                ));
            }
            Some(p)
        }
        Some(v) => {
            return err(format!(
                "tc(): loss must be a number (percent), not {}",
                v.type_name()
            ))
        }
    };
    Ok(crate::net::Netem {
        delay: dur("delay")?,
        jitter: dur("jitter")?,
        loss,
        rate: opt_str(f, o, "rate")?
            .map(|r| parse::rate(&r))
            .transpose()
            .rhai()?,
        limit: opt_int(f, o, "limit")?.map(|l| l.clamp(1, u32::MAX as i64) as u32),
    })
}

fn route_from_map(o: &Map) -> RhaiResult<RouteSpec> {
    let f = "route";
    check_keys(
        f,
        o,
        &["op", "to", "via", "dev", "metric", "table", "src", "onlink"],
    )?;
    let op = match opt_str(f, o, "op")?.as_deref() {
        None | Some("add") => RouteOp::Add,
        Some("del" | "delete") => RouteOp::Del,
        Some("replace") => RouteOp::Replace,
        Some(x) => {
            return err(format!(
                "route(): op must be add, del or replace, not {x:?}"
            ))
        }
    };
    let via = opt_str(f, o, "via")?
        .map(|v| parse::ip(&v))
        .transpose()
        .rhai()?;
    let src = opt_str(f, o, "src")?
        .map(|v| parse::ip(&v))
        .transpose()
        .rhai()?;
    let to = opt_str(f, o, "to")?.unwrap_or_else(|| "default".into());
    let mut spec = RouteSpec::new(op, parse::destination(&to, via.or(src)).rhai()?);
    spec.via = via;
    spec.src = src;
    spec.dev = opt_str(f, o, "dev")?
        .map(|d| parse::ifname(&d))
        .transpose()
        .rhai()?;
    spec.metric = opt_int(f, o, "metric")?.map(|m| m as u32);
    spec.table = opt_int(f, o, "table")?.map(|m| m as u32);
    spec.onlink = opt_bool(f, o, "onlink")?.unwrap_or(false);
    spec.check().rhai()?;
    Ok(spec)
}

fn exec_result(out: crate::session::ExecOutput) -> Map {
    let mut m = Map::new();
    m.insert("code".into(), (out.code as i64).into());
    m.insert("stdout".into(), out.stdout.into());
    m.insert("stderr".into(), out.stderr.into());
    m
}

macro_rules! reg {
    ($engine:expr, $name:expr, [$($p:expr),*], $doc:expr, $f:expr) => {
        FuncRegistration::new($name)
            .with_params_info([$($p),*])
            .with_comments([concat!("/// ", $doc)])
            .register_into_engine($engine, $f);
    };
}

pub fn register(engine: &mut Engine, s: Rc<Session>) {
    engine.register_type_with_name::<Guest>("Guest");
    engine.register_type_with_name::<Bridge>("Bridge");
    engine.register_type_with_name::<Attachment>("Attachment");
    engine.register_type_with_name::<Link>("Link");

    // ---- guests ------------------------------------------------------------------------------
    let ss = s.clone();
    reg!(engine, "netns", ["name: &str", "Guest"],
        "A named network namespace (/run/netns/NAME), created if missing and owned by the current owner.",
        move |name: &str| ss.netns(name).rhai());
    reg!(engine, "pid", ["pid: i64", "Guest"],
        "The network namespace of a running process, pinned now so PID reuse cannot redirect later calls.",
        |p: i64| Guest::pid(p).rhai());
    let ss = s.clone();
    reg!(
        engine,
        "guest",
        ["spec: &str", "Guest"],
        "A guest from text: \"netns:NAME\", \"pid:N\", \"container:NAME\", \"lxc:NAME\", \"host\", or a bare namespace name (created if missing).",
        move |spec: &str| ss.guest(spec).rhai()
    );
    engine.register_fn("guest", |g: Guest| g);
    let ss = s.clone();
    reg!(
        engine,
        "container",
        ["name: &str", "Guest"],
        "A running Docker/podman container by name or id (DOCKER_HOST, else the Docker or podman socket), pinned through its PID namespace fd.",
        move |name: &str| ss.container(name).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "lxc",
        ["name: &str", "Guest"],
        "A running LXC container by name (found through its cgroup, v1 or v2).",
        move |name: &str| ss.lxc(name).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "host",
        ["Guest"],
        "The namespace pipework runs in.",
        move || ss.host()
    );
    let ss = s.clone();
    reg!(
        engine,
        "delete",
        ["guest: Guest"],
        "Delete a named namespace (and every interface inside it).",
        move |g: Guest| ss.delete_netns(&g).rhai()
    );
    engine.register_fn("to_string", |g: &mut Guest| g.to_string());
    engine.register_fn("to_debug", |g: &mut Guest| g.to_string());
    engine.register_get("name", |g: &mut Guest| g.key());

    // ---- bridges -----------------------------------------------------------------------------
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
    engine.register_fn("to_string", |b: &mut Bridge| format!("bridge {}", b.name));
    engine.register_fn("to_debug", |b: &mut Bridge| format!("bridge {}", b.name));
    engine.register_get("name", |b: &mut Bridge| b.name.clone());

    // ---- veth attach -------------------------------------------------------------------------
    let ss = s.clone();
    reg!(engine, "veth", ["guest: Guest", "bridge: Bridge", "opts: Map", "Attachment"],
        "Attach a guest to a bridge with a veth pair: guest end `eth1` (or opts.ifname) with #{ip, gateway, mac, ifname, mtu, host_ifname}; re-running is a no-op; a failure removes what the call created.",
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
        "macvlan",
        ["guest: Guest", "parent: &str", "opts: Map", "Attachment"],
        "Attach a guest to a host interface with a macvlan child (bridge mode) born inside the guest: #{ip, gateway, mac, ifname, mtu, vlan}.",
        move |g: Guest, parent: &str, o: Map| {
            let opts = attach_opts("macvlan", &o)?;
            ss.attach(&g, &crate::driver::Macvlan { parent: parent.to_string() }, &opts).rhai()
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "ipoib",
        ["guest: Guest", "parent: &str", "opts: Map", "Attachment"],
        "Attach a guest to an InfiniBand port with an IPoIB child born inside the guest (named ib0 unless #{ifname}): #{ip, gateway, ifname, mtu, pkey: \"8001\"} (pkey: partition key in hex).",
        move |g: Guest, parent: &str, o: Map| {
            // Its own list, so a typo is answered with the keys ipoib() takes (mac and vlan are
            // accepted here only to be refused with the reason).
            check_keys("ipoib", &o, &["ip", "gateway", "ifname", "mtu", "pkey", "mac", "vlan"])?;
            let mut o = o;
            let pkey = match o.remove("pkey") {
                None => None,
                Some(v) if v.is_string() => Some(parse::pkey(&v.into_string().unwrap_or_default()).rhai()?),
                Some(v) => return err(format!("ipoib(): option `pkey` must be a hex string like \"8001\", not {}", v.type_name())),
            };
            if !o.contains_key("ifname") {
                o.insert("ifname".into(), "ib0".into());
            }
            let opts = attach_opts("ipoib", &o)?;
            let d = crate::driver::Ipoib { parent: parent.to_string(), pkey };
            ss.attach(&g, &d, &opts).rhai()
        }
    );
    engine.register_fn("to_string", |a: &mut Attachment| a.to_string());
    engine.register_fn("to_debug", |a: &mut Attachment| a.to_string());
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
    engine.register_get("link", |a: &mut Attachment| Link {
        guest: a.guest.clone(),
        name: a.ifname.clone(),
    });
    let ss = s.clone();
    engine.register_get("host_link", move |a: &mut Attachment| Link {
        guest: ss.host(),
        name: a.host_ifname.clone(),
    });

    // ---- links -------------------------------------------------------------------------------
    let ss = s.clone();
    reg!(
        engine,
        "link",
        ["guest: Guest", "name: &str", "Link"],
        "An existing interface inside a guest.",
        move |g: Guest, name: &str| {
            ss.link(&g, name).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: g,
                name: name.to_string(),
            })
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "links",
        ["guest: Guest", "Array"],
        "Every interface inside a guest, as Link objects.",
        move |g: Guest| {
            let v = ss.links(&g).rhai()?;
            Ok::<_, Box<EvalAltResult>>(
                v.into_iter()
                    .map(|l| {
                        Dynamic::from(Link {
                            guest: g.clone(),
                            name: l.name,
                        })
                    })
                    .collect::<Array>(),
            )
        }
    );
    let ss = s.clone();
    engine.register_fn("to_string", move |l: &mut Link| link_text(&ss, l));
    let ss = s.clone();
    engine.register_fn("to_debug", move |l: &mut Link| link_text(&ss, l));
    engine.register_get("name", |l: &mut Link| l.name.clone());
    engine.register_get("guest", |l: &mut Link| l.guest.clone());
    let ss = s.clone();
    reg!(
        engine,
        "info",
        ["link: Link", "Map"],
        "Kernel state of a link: #{name, index, kind, mac, mtu, up, state, master, alias}.",
        move |l: Link| {
            let all = ss.links(&l.guest).rhai()?;
            let me = all.iter().find(|x| x.name == l.name).ok_or_else(|| {
                rt(Error::not_found(
                    "interface",
                    &l.name,
                    Some(l.guest.to_string()),
                ))
            })?;
            Ok::<_, Box<EvalAltResult>>(link_map(me, &all))
        }
    );
    // Link state has its own verbs: `down` is teardown (`down()`, `down(owner)`) and `up` is what a
    // recipe's bring-up function is called; one word must not mean both.
    for (verb, up) in [("set_up", true), ("set_down", false)] {
        let ss = s.clone();
        let doc = if up {
            "/// Set a link up (like `ip link set dev IF up`)."
        } else {
            "/// Set a link down (like `ip link set dev IF down`); delete(l) removes it, down() tears a topology down."
        };
        FuncRegistration::new(verb)
            .with_params_info(["link: Link"])
            .with_comments([doc])
            .register_into_engine(engine, move |l: Link| {
                ss.set_link(
                    &l.guest,
                    &l.name,
                    &LinkChange {
                        up: Some(up),
                        ..Default::default()
                    },
                )
                .rhai()
            });
    }
    for (verb, instead) in [("up", "set_up"), ("down", "set_down")] {
        reg!(
            engine,
            verb,
            ["link: Link"],
            "Refused with a pointer: link state is set_up(l) / set_down(l); down() tears a topology down.",
            move |l: Link| Err::<(), _>(rt(Error::invalid(
                "call",
                format!("{verb}({})", l.name),
                format!(
                    "{verb}() is not a link operation: use {instead}(l) to set the link {verb}, delete(l) to remove it, down() or down(owner) to tear a whole topology down"
                ),
            )))
        );
    }
    let ss = s.clone();
    reg!(
        engine,
        "set_mtu",
        ["link: Link", "mtu: i64"],
        "Set a link's MTU.",
        move |l: Link, m: i64| {
            let mtu = parse::mtu(m).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    mtu: Some(mtu),
                    ..Default::default()
                },
            )
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "set_mac",
        ["link: Link", "mac: &str"],
        "Set a link's MAC address.",
        move |l: Link, m: &str| {
            let mac = parse::mac(m).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    mac: Some(mac),
                    ..Default::default()
                },
            )
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "rename",
        ["link: Link", "name: &str", "Link"],
        "Rename a link (it must be down for the kernel to allow it).",
        move |l: Link, n: &str| {
            let n = parse::ifname(n).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    name: Some(&n),
                    ..Default::default()
                },
            )?;
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: l.guest,
                name: n,
            })
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "move_to",
        ["link: Link", "guest: Guest", "Link"],
        "Move a link into another guest's namespace (it arrives down).",
        move |l: Link, g: Guest| {
            set(
                &ss,
                &l,
                &LinkChange {
                    netns: Some(g.fd()),
                    ..Default::default()
                },
            )?;
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: g,
                name: l.name,
            })
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "delete",
        ["link: Link"],
        "Delete a link (a veth takes its peer with it).",
        move |l: Link| ss.del_link(&l.guest, &l.name).rhai()
    );

    // ---- interfaces made inside a guest, and impairments ---------------------------------------
    let ss = s.clone();
    reg!(
        engine,
        "dummy",
        ["guest: Guest", "name: &str", "opts: Map", "Link"],
        "Ensure a dummy interface inside a guest, up, with #{ip, mtu, mac}.",
        move |g: Guest, name: &str, o: Map| {
            let opts = local_opts("dummy", name.to_string(), &o)?;
            ss.dummy(&g, &opts).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: g,
                name: opts.ifname,
            })
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
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: g,
                name: opts.ifname,
            })
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
    reg!(engine, "tc", ["link: Link", "opts: Map"],
        "Shape or impair a link: #{rate: \"10mbit\", burst: \"32kb\", latency: \"50ms\"} is a token-bucket rate limit (tbf); #{delay: \"50ms\", jitter: \"5ms\", loss: 1.5, rate, limit} is a netem impairment; #{} restores the default qdisc.",
        move |l: Link, o: Map| ss.tc(&l.guest, &l.name, &qdisc(&o)?).rhai());

    let ss = s.clone();
    reg!(engine, "dhcp", ["link: Link", "opts: Map", "Map"],
        "Lease an IPv4 address for a link and apply it (address, default route, DNS into the guest's own resolv.conf): #{timeout: \"10s\", hostname, gateway: true, dns: true, keep: true (a background process renews the lease until down())}; #{client: \"udhcpc\"|\"dhclient\"|\"dhcpcd\", keep, args} runs that installed client instead. Returns #{ip, server, router, dns, lease, resolv, keeper}.",
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
            Ok::<_, Box<EvalAltResult>>(Link { guest: g, name: name.to_string() })
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
            Ok::<_, Box<EvalAltResult>>(Link {
                guest: g,
                name: name.to_string(),
            })
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

    // ---- addresses ---------------------------------------------------------------------------
    let ss = s.clone();
    reg!(
        engine,
        "addr",
        ["link: Link", "cidr: &str", "bool"],
        "Add an address (IPv4 or IPv6, with prefix) to a link; false if it was already there.",
        move |l: Link, c: &str| ss
            .addr_add(&l.guest, &l.name, parse::cidr(c).rhai()?)
            .rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addr",
        ["guest: Guest", "ifname: &str", "cidr: &str", "bool"],
        "Add an address to the named interface of a guest.",
        move |g: Guest, i: &str, c: &str| ss.addr_add(&g, i, parse::cidr(c).rhai()?).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addr_del",
        ["link: Link", "cidr: &str"],
        "Remove an address from a link.",
        move |l: Link, c: &str| ss
            .addr_del(&l.guest, &l.name, parse::cidr(c).rhai()?)
            .rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addrs",
        ["link: Link", "Array"],
        "The addresses on a link, as strings with prefix.",
        move |l: Link| Ok::<_, Box<EvalAltResult>>(strings(
            ss.addrs(&l.guest, &l.name)
                .rhai()?
                .iter()
                .map(|a| a.to_string())
        ))
    );

    // ---- routes ------------------------------------------------------------------------------
    let ss = s.clone();
    reg!(engine, "route", ["guest: Guest", "spec: &str", "bool"],
        "Add/delete/replace a route, iproute2 style: \"add 10.0.0.0/8 via 198.18.0.254 dev eth1 metric 10\"; false if an identical route was already there.",
        move |g: Guest, t: &str| ss.route(&g, &RouteSpec::parse(t).rhai()?).rhai());
    let ss = s.clone();
    reg!(engine, "route", ["guest: Guest", "spec: Map", "bool"],
        "Structured route: #{op, to, via, dev, metric, table, src, onlink} (op defaults to add, to to default).",
        move |g: Guest, o: Map| ss.route(&g, &route_from_map(&o)?).rhai());
    let ss = s.clone();
    reg!(
        engine,
        "rule",
        ["guest: Guest", "spec: &str", "bool"],
        "Add/delete a policy routing rule, iproute2 style: \"add from 198.18.0.0/24 table 100 priority 100\"; false if it was already there.",
        move |g: Guest, t: &str| ss.rule(&g, &crate::net::RuleSpec::parse(t).rhai()?).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "routes",
        ["guest: Guest", "Array"],
        "The main-table routes of a guest, as strings.",
        move |g: Guest| Ok::<_, Box<EvalAltResult>>(strings(ss.routes(&g).rhai()?))
    );

    // ---- running things inside guests ---------------------------------------------------------
    let ss = s.clone();
    reg!(engine, "exec", ["guest: Guest", "argv: Array", "Map"],
        "Run a program inside the guest's network namespace (argument vector, no shell): #{code, stdout, stderr}.",
        move |g: Guest, argv: Array| {
            let argv: Vec<String> = argv.into_iter().map(|a| a.to_string()).collect();
            Ok::<_, Box<EvalAltResult>>(exec_result(ss.exec(&g, &argv).rhai()?))
        });
    let ss = s.clone();
    reg!(engine, "exec", ["guest: Guest", "command: &str", "Map"],
        "Run a program inside the guest; the string is split on white space (no shell, no quoting).",
        move |g: Guest, c: &str| {
            let argv: Vec<String> = c.split_whitespace().map(String::from).collect();
            Ok::<_, Box<EvalAltResult>>(exec_result(ss.exec(&g, &argv).rhai()?))
        });
    reg!(engine, "ping", ["guest: Guest", "ip: &str", "bool"],
        "ICMP echo from inside a guest (native, no ping binary needed): true if a reply came within 1 s (3 tries).",
        |g: Guest, ip: &str| ping_impl(&g, ip, &Map::new()));
    reg!(
        engine,
        "ping",
        ["guest: Guest", "ip: &str", "opts: Map", "bool"],
        "ICMP echo with #{count, timeout}: true if any reply arrived.",
        |g: Guest, ip: &str, o: Map| ping_impl(&g, ip, &o)
    );

    // ---- ownership and teardown ---------------------------------------------------------------
    let ss = s.clone();
    reg!(
        engine,
        "owner",
        ["name: &str"],
        "Set the owner recorded on everything created from now on.",
        move |o: &str| ss.set_owner(o).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "owner",
        ["String"],
        "The current owner.",
        move || ss.owner()
    );
    let ss = s.clone();
    reg!(engine, "down", ["Map"], "Remove everything the current owner created (links, bridges, namespaces, DHCP clients left running): #{links, netns, dhcp_clients}.",
        move || down_impl(&ss, &ss.owner()));
    let ss = s.clone();
    reg!(
        engine,
        "down",
        ["owner: &str", "Map"],
        "Remove everything a given owner created.",
        move |o: &str| down_impl(&ss, o)
    );
    reg!(
        engine,
        "sleep",
        ["duration: &str"],
        "Pause, e.g. sleep(\"250ms\").",
        |d: &str| {
            std::thread::sleep(parse::duration(d).rhai()?);
            Ok::<_, Box<EvalAltResult>>(())
        }
    );
}

/// The guest end of an attachment, as a script's Link.
fn attachment_link(a: &Attachment) -> Link {
    Link {
        guest: a.guest.clone(),
        name: a.ifname.clone(),
    }
}

/// Apply a change to the link a script holds.
fn set(s: &Session, l: &Link, c: &LinkChange) -> RhaiResult<()> {
    s.set_link(&l.guest, &l.name, c).rhai()
}

fn vlan_impl(s: &Session, p: Link, id: i64, o: &Map) -> RhaiResult<Link> {
    let id = parse::vlan_id(id).rhai()?;
    let opts = local_opts("vlan", format!("{}.{id}", p.name), o)?;
    s.vlan(&p.guest, &p.name, id, &opts).rhai()?;
    Ok(Link {
        guest: p.guest,
        name: opts.ifname,
    })
}

fn link_text(s: &Session, l: &Link) -> String {
    let Ok(links) = s.links(&l.guest) else {
        return format!("{}:{} (unreadable)", l.guest, l.name);
    };
    let Some(me) = links.iter().find(|x| x.name == l.name) else {
        return format!("{}:{} (gone)", l.guest, l.name);
    };
    let addrs = s.addrs(&l.guest, &l.name).unwrap_or_default();
    let master = me
        .master
        .and_then(|i| links.iter().find(|x| x.index == i))
        .map(|x| format!(" master {}", x.name));
    format!(
        "{}:{} {} {} mtu {} {}{}{}",
        l.guest,
        l.name,
        me.kind.as_deref().unwrap_or("device"),
        me.mac.as_deref().unwrap_or("-"),
        me.mtu,
        if me.up { "UP" } else { "DOWN" },
        master.unwrap_or_default(),
        addrs.iter().map(|a| format!(" {a}")).collect::<String>()
    )
}

fn ping_impl(g: &Guest, ip: &str, o: &Map) -> RhaiResult<bool> {
    check_keys("ping", o, &["count", "timeout"])?;
    let dst = parse::ip(ip).rhai()?;
    let count = opt_int("ping", o, "count")?.unwrap_or(3).clamp(1, 1000) as u32;
    let timeout = match opt_str("ping", o, "timeout")? {
        Some(t) => parse::duration(&t).rhai()?,
        None => std::time::Duration::from_secs(1),
    };
    // Default: succeed on the first reply (a fresh link may drop the very first packet while the
    // neighbour entry resolves); with an explicit count, send them all.
    if o.contains_key("count") {
        return Ok(crate::ping::ping(g, dst, count, timeout).rhai()?.ok());
    }
    for _ in 0..count {
        if crate::ping::ping(g, dst, 1, timeout).rhai()?.ok() {
            return Ok(true);
        }
    }
    Ok(false)
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
    d.gateway = opt_bool(f, o, "gateway")?.unwrap_or(true);
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

fn down_impl(s: &Session, owner: &str) -> RhaiResult<Map> {
    let r = s.down(owner).rhai()?;
    for note in &r.notes {
        eprintln!("pipework: {note}");
    }
    let mut m = Map::new();
    m.insert("links".into(), strings(r.links).into());
    m.insert("netns".into(), strings(r.netns).into());
    m.insert("dhcp_clients".into(), strings(r.clients).into());
    Ok(m)
}

/// Human text for any script value, including our own types (used by the REPL and `-e`).
pub fn display(s: &Session, v: &Dynamic) -> String {
    if let Some(g) = v.clone().try_cast::<Guest>() {
        return g.to_string();
    }
    if let Some(b) = v.clone().try_cast::<Bridge>() {
        return format!("bridge {}", b.name);
    }
    if let Some(b) = v.clone().try_cast::<OvsBr>() {
        return format!("ovs bridge {}", b.0);
    }
    if let Some(a) = v.clone().try_cast::<Attachment>() {
        return a.to_string();
    }
    if let Some(l) = v.clone().try_cast::<Link>() {
        return link_text(s, &l);
    }
    if v.is_array() {
        let items: Vec<String> = v
            .clone()
            .into_array()
            .unwrap_or_default()
            .iter()
            .map(|x| display(s, x))
            .collect();
        if items.iter().map(|i| i.len()).sum::<usize>() > 60 {
            return format!("[\n  {}\n]", items.join(",\n  "));
        }
        return format!("[{}]", items.join(", "));
    }
    if v.is_string() {
        return format!("{v:?}");
    }
    v.to_string()
}
