//! Routes, policy rules and forwarding, with the route-map decoder.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(engine, "route", ["guest: Guest", "spec: &str", "bool"],
        "Add/delete/replace a route, iproute2 style: \"add 10.0.0.0/8 via 198.18.0.254 dev eth1 metric 10\"; false if an identical route was already there.",
        move |g: Guest, t: &str| ss.route(&g, &RouteSpec::parse(t).rhai()?).rhai());
    let ss = s.clone();
    reg!(engine, "route", ["guest: Guest", "spec: Map", "bool"],
        "Structured route: #{op, to, via, dev, metric, table, src, onlink} (op defaults to add, to to default).",
        move |g: Guest, o: Map| ss.route(&g, &route_from_map(&o)?).rhai());
    let ss = s.clone();
    reg!(engine, "forward", ["guest: Guest", "bool"],
        "Make a guest a router: IPv4 and IPv6 forwarding on inside it (never in the host's own namespace); false if it already forwarded.",
        move |g: Guest| ss.forward(&g, true).rhai());
    let ss = s.clone();
    reg!(
        engine,
        "forward",
        ["guest: Guest", "on: bool", "bool"],
        "Forwarding on or off inside a guest; false if it already was so.",
        move |g: Guest, on: bool| ss.forward(&g, on).rhai()
    );
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
        "The main-table routes of a guest, each in the form route() takes after \"add \".",
        move |g: Guest| Ok::<_, Box<EvalAltResult>>(strings(ss.routes(&g).rhai()?))
    );
    let ss = s.clone();
    reg!(
        engine,
        "routes",
        ["guest: Guest", "table: &str", "Array"],
        "The routes of one table, named (rt_tables: \"main\", \"local\", the admin's names) or \"all\"; outside main each says `table NAME`.",
        move |g: Guest, t: &str| {
            let table = if t == "all" { None } else { Some(parse::route_table(t).rhai()?) };
            Ok::<_, Box<EvalAltResult>>(strings(ss.routes_of(&g, table).rhai()?))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "routes",
        ["guest: Guest", "table: i64", "Array"],
        "The routes of the table with that number.",
        move |g: Guest, t: i64| {
            let t = u32::try_from(t)
                .map_err(|_| format!("routes(): table {t} is not 0 to 4294967295"))?;
            Ok::<_, Box<EvalAltResult>>(strings(ss.routes_of(&g, Some(t)).rhai()?))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "rules",
        ["guest: Guest", "Array"],
        "The policy rules of a guest (IPv4 then IPv6, by priority), each in the form rule() takes after \"add \".",
        move |g: Guest| Ok::<_, Box<EvalAltResult>>(strings(ss.rules(&g).rhai()?))
    );
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
    spec.table = match o.get("table") {
        None => None,
        Some(v) if v.is_int() => Some(
            u32::try_from(v.as_int().unwrap_or(-1))
                .map_err(|_| format!("route(): table {v} is not 0 to 4294967295"))?,
        ),
        Some(_) => opt_str(f, o, "table")?
            .map(|t| parse::route_table(&t))
            .transpose()
            .rhai()?,
    };
    spec.onlink = opt_bool(f, o, "onlink")?.unwrap_or(false);
    spec.check().rhai()?;
    Ok(spec)
}
