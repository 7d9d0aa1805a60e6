//! Queueing disciplines: `tc()` (netem, tbf, back to the default), `shape()` (htb classes and
//! filters) and `qdisc()` reading back what is there, in the form both take.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "qdisc",
        ["link: Link", "Map"],
        "What is at the root of a link, read from the kernel: #{kind} (\"noqueue\", \"fq_codel\"…), and for what tc() and shape() set the same keys they take: netem #{delay, jitter, loss, rate, limit}, tbf #{rate, burst, latency}, htb #{rate, classes}.",
        move |l: Link| {
            let q = ss.root_qdisc(&l.guest, &l.name).rhai()?;
            Ok::<_, Box<EvalAltResult>>(qdisc_map(q))
        }
    );
    let ss = s.clone();
    reg!(engine, "tc", ["link: Link", "opts: Map"],
        "Shape or impair a link: #{rate: \"10mbit\", burst: \"32kb\", latency: \"50ms\"} is a token-bucket rate limit (tbf); #{delay: \"50ms\", jitter: \"5ms\", loss: 1.5, rate, limit} is a netem impairment; #{} restores the default qdisc.",
        move |l: Link, o: Map| {
            let q = qdisc(&o)?;
            super::time::before_qdisc_change(&ss, &l.guest, &l.name)?;
            ss.tc(&l.guest, &l.name, &q).rhai()
        });
    let ss = s.clone();
    reg!(engine, "shape", ["link: Link", "opts: Map"],
        "Shape a link's outgoing traffic into htb classes: #{rate: \"100mbit\", classes: [#{rate: \"10mbit\", ceil: \"20mbit\", prio: 0, dst: \"198.18.0.0/24\", src, proto: \"tcp\", dport: 5201, sport}]}. A class takes the packets its selector keys all match (IPv4 or IPv6 by its addresses, both without); the first class in the list that matches wins; ceil defaults to rate. Unselected traffic goes to the class without a selector, or to one made with the rest of the rate (ceil: the link's rate). Applying the same shape again changes nothing; tc(link, #{}) removes it.",
        move |l: Link, o: Map| {
            let q = crate::net::Qdisc::Htb(htb(&o)?);
            super::time::before_qdisc_change(&ss, &l.guest, &l.name)?;
            ss.tc(&l.guest, &l.name, &q).rhai()
        });
}

/// `shape()` options (or `tc()`'s with `classes` or kind "htb").
fn htb(o: &Map) -> RhaiResult<crate::net::Htb> {
    use crate::net::{Htb, HtbClass, HtbSelect};
    let f = "shape";
    check_keys(f, o, &["rate", "classes", "kind"])?;
    if let Some(k) = opt_str(f, o, "kind")?.filter(|k| k != "htb") {
        return err(format!("shape(): makes an htb qdisc, not {k}"));
    }
    let rate = |m: &Map, key: &str| -> RhaiResult<Option<u64>> {
        opt_str(f, m, key)?
            .map(|r| parse::rate(&r))
            .transpose()
            .rhai()
    };
    let Some(total) = rate(o, "rate")? else {
        return err("shape(): rate (what the link passes in all, e.g. \"100mbit\") is needed");
    };
    let list = match o.get("classes") {
        None => vec![],
        Some(v) if v.is_array() => v.clone().into_array().unwrap_or_default(),
        Some(v) => {
            return err(format!(
                "shape(): classes must be an array of maps, not {}",
                v.type_name()
            ))
        }
    };
    let mut classes = vec![];
    for (i, c) in list.into_iter().enumerate() {
        let Some(c) = c.try_cast::<Map>() else {
            return err(format!("shape(): class {i} must be a map"));
        };
        let fc = format!("shape() class {i}");
        check_keys(
            &fc,
            &c,
            &[
                "rate", "ceil", "prio", "dst", "src", "proto", "dport", "sport",
            ],
        )?;
        let Some(r) = rate(&c, "rate")? else {
            return err(format!("{fc}: rate is needed"));
        };
        let net = |key: &str| -> RhaiResult<Option<ipnetwork::IpNetwork>> {
            Ok(opt_str(&fc, &c, key)?
                .map(|n| parse::destination(&n, None))
                .transpose()
                .rhai()?
                // A /0 selects every packet: the same as no key.
                .filter(|n| n.prefix() > 0))
        };
        let port = |key: &'static str| -> RhaiResult<Option<u16>> {
            opt_int(&fc, &c, key)?
                .map(|p| {
                    u16::try_from(p)
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| rt(Error::invalid(key, p, "a port is 1 to 65535")))
                })
                .transpose()
        };
        let proto = match c.get("proto") {
            None => None,
            Some(v) if v.is_int() => Some(
                u8::try_from(v.as_int().unwrap_or(-1))
                    .map_err(|_| rt(Error::invalid("proto", v, "a protocol number is 0 to 255")))?,
            ),
            Some(_) => {
                let p = opt_str(&fc, &c, "proto")?.unwrap_or_default();
                Some(proto_number(&p).ok_or_else(|| {
                    rt(Error::invalid(
                        "proto",
                        &p,
                        "tcp, udp, icmp, icmpv6, sctp, or a protocol number",
                    ))
                })?)
            }
        };
        let sel = HtbSelect {
            dst: net("dst")?,
            src: net("src")?,
            proto,
            sport: port("sport")?,
            dport: port("dport")?,
        };
        let prio = opt_int(&fc, &c, "prio")?.unwrap_or(0);
        if !(0..=7).contains(&prio) {
            return err(format!("{fc}: prio is 0 (served first) to 7, not {prio}"));
        }
        classes.push(HtbClass {
            rate: r,
            ceil: rate(&c, "ceil")?.unwrap_or(r),
            prio: prio as u32,
            select: (sel != HtbSelect::default()).then_some(sel),
        });
    }
    if classes.iter().all(|c| c.select.is_some()) {
        // The rest of the link's rate for what no class selects, borrowing up to all of it.
        let given: u64 = classes.iter().map(|c| c.rate).sum();
        classes.push(HtbClass {
            rate: total.saturating_sub(given).max(total / 100).max(1),
            ceil: total,
            prio: 0,
            select: None,
        });
    }
    let h = Htb {
        rate: total,
        classes,
    };
    h.validate().rhai()?;
    Ok(h)
}

const PROTOCOLS: [(&str, u8); 5] = [
    ("icmp", 1),
    ("tcp", 6),
    ("udp", 17),
    ("icmpv6", 58),
    ("sctp", 132),
];

fn proto_number(name: &str) -> Option<u8> {
    PROTOCOLS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, p)| *p)
        .or_else(|| name.parse().ok())
}

/// Bytes per second as tc writes a rate: the largest unit that divides it.
fn rate_text(r: u64) -> String {
    let bits = r * 8;
    match bits {
        b if b % 1_000_000_000 == 0 => format!("{}gbit", b / 1_000_000_000),
        b if b % 1_000_000 == 0 => format!("{}mbit", b / 1_000_000),
        b if b % 1_000 == 0 => format!("{}kbit", b / 1_000),
        b => format!("{b}bit"),
    }
}

fn htb_map(m: &mut Map, h: &crate::net::Htb) {
    m.insert("rate".into(), rate_text(h.rate).into());
    let classes: Array = h
        .classes
        .iter()
        .map(|c| {
            let mut cm = Map::new();
            cm.insert("rate".into(), rate_text(c.rate).into());
            cm.insert("ceil".into(), rate_text(c.ceil).into());
            cm.insert("prio".into(), (c.prio as i64).into());
            if let Some(s) = &c.select {
                for (k, n) in [("dst", s.dst), ("src", s.src)] {
                    if let Some(n) = n {
                        cm.insert(k.into(), n.to_string().into());
                    }
                }
                if let Some(p) = s.proto {
                    let name = PROTOCOLS.iter().find(|(_, n)| *n == p);
                    cm.insert(
                        "proto".into(),
                        name.map(|(t, _)| Dynamic::from(t.to_string()))
                            .unwrap_or_else(|| (p as i64).into()),
                    );
                }
                for (k, port) in [("sport", s.sport), ("dport", s.dport)] {
                    if let Some(port) = port {
                        cm.insert(k.into(), (port as i64).into());
                    }
                }
            }
            cm.into()
        })
        .collect();
    m.insert("classes".into(), classes.into());
}

/// `tc()` options: delay/jitter/loss (and limit) make a netem impairment, which may include a
/// rate; a rate alone (with burst/latency) makes a tbf rate limit; `#{}` restores the default.
pub(super) fn qdisc(o: &Map) -> RhaiResult<crate::net::Qdisc> {
    use crate::net::{Qdisc, Tbf};
    let f = "tc";
    if o.contains_key("classes") || opt_str(f, o, "kind")?.as_deref() == Some("htb") {
        return htb(o).map(Qdisc::Htb);
    }
    check_keys(
        f,
        o,
        &[
            "delay", "jitter", "loss", "rate", "limit", "burst", "latency", "kind",
        ],
    )?;
    // `kind` (what qdisc() reads back) only confirms what the other keys make.
    if let Some(kind) = opt_str(f, o, "kind")? {
        let mut rest = o.clone();
        rest.remove("kind");
        let q = qdisc(&rest)?;
        let made = match &q {
            Qdisc::Netem(_) => "netem",
            Qdisc::Tbf(_) => "tbf",
            Qdisc::Htb(_) => "htb",
            Qdisc::Default => "",
        };
        return match (made, kind.as_str()) {
            ("", "netem" | "tbf") => err(format!(
                "tc(): kind {kind:?} needs its settings (rate, or delay/jitter/loss)"
            )),
            ("", _) => Ok(q),
            (m, k) if m == k => Ok(q),
            (m, k) => err(format!("tc(): these settings make a {m} qdisc, not {k}")),
        };
    }
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

/// A root qdisc as the map tc() takes (with `kind`), so `tc(l, qdisc(l))` is a no-op.
fn qdisc_map(q: Option<crate::net::RootQdisc>) -> Map {
    use crate::net::Qdisc;
    let mut m = Map::new();
    let Some(q) = q else {
        m.insert("kind".into(), "none".into());
        return m;
    };
    let ms = |d: std::time::Duration| format!("{}ms", (d.as_secs_f64() * 1e6).round() / 1000.0);
    let rate = rate_text;
    m.insert("kind".into(), q.kind.clone().into());
    match q.settings {
        Some(Qdisc::Netem(n)) => {
            if let Some(d) = n.delay {
                m.insert("delay".into(), ms(d).into());
            }
            if let Some(j) = n.jitter {
                m.insert("jitter".into(), ms(j).into());
            }
            if let Some(l) = n.loss {
                // Percent, rounded to what the 32-bit probability holds.
                m.insert("loss".into(), ((l * 1e6).round() / 1e6).into());
            }
            if let Some(r) = n.rate {
                m.insert("rate".into(), rate(r).into());
            }
            if let Some(l) = n.limit {
                m.insert("limit".into(), (l as i64).into());
            }
        }
        Some(Qdisc::Tbf(t)) => {
            m.insert("rate".into(), rate(t.rate).into());
            m.insert("burst".into(), (t.burst as i64).into());
            let queued = t.limit.saturating_sub(t.burst) as f64 / t.rate as f64;
            m.insert(
                "latency".into(),
                ms(std::time::Duration::from_secs_f64(queued)).into(),
            );
        }
        Some(Qdisc::Htb(h)) => htb_map(&mut m, &h),
        _ => {}
    }
    m
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
