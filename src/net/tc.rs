//! Traffic control. netlink-packet-route has neither netem nor tbf options, so their TCA_OPTIONS are
//! encoded here exactly as the kernel's sch_netem and sch_tbf parse them: netem for delay, jitter and
//! loss (its rate too, when combined with those), tbf for a plain rate limit — the usual bandwidth
//! shaper, and one that kernels without sch_netem have.

use super::Ns;
use crate::error::Result;
use futures::StreamExt;
use netlink_packet_core::{
    DefaultNla, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_packet_route::RouteNetlinkMessage;
use std::time::Duration;

pub(super) const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_RATE64: u16 = 14;
const TCA_NETEM_JITTER64: u16 = 11;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TC_LINKLAYER_ETHERNET: u8 = 1;

/// What to put at the root of an interface.
#[derive(Clone, Debug, PartialEq)]
pub enum Qdisc {
    /// The kernel's default (remove ours).
    Default,
    Netem(Netem),
    Tbf(Tbf),
    /// Classes with guaranteed and ceiling rates, traffic steered to them by filters.
    Htb(super::Htb),
}

impl Qdisc {
    /// As JSON, for a record that must bring it back (a killed run's journal): `from_json` reads
    /// it. Times in nanoseconds, rates in bytes per second.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let ns = |d: Option<Duration>| d.map(|d| d.as_nanos() as u64);
        match self {
            Qdisc::Default => json!({"kind": "default"}),
            Qdisc::Netem(n) => {
                json!({"kind": "netem", "delay": ns(n.delay), "jitter": ns(n.jitter),
                "loss": n.loss, "rate": n.rate, "limit": n.limit})
            }
            Qdisc::Tbf(t) => {
                json!({"kind": "tbf", "rate": t.rate, "burst": t.burst, "limit": t.limit})
            }
            Qdisc::Htb(h) => h.to_json(),
        }
    }

    pub fn from_json(v: &serde_json::Value) -> Option<Qdisc> {
        let u = |k: &str| v[k].as_u64();
        let d = |k: &str| u(k).map(Duration::from_nanos);
        Some(match v["kind"].as_str()? {
            "default" => Qdisc::Default,
            "netem" => Qdisc::Netem(Netem {
                delay: d("delay"),
                jitter: d("jitter"),
                loss: v["loss"].as_f64(),
                rate: u("rate"),
                limit: u("limit").and_then(|l| u32::try_from(l).ok()),
            }),
            "tbf" => Qdisc::Tbf(Tbf {
                rate: u("rate")?,
                burst: u32::try_from(u("burst")?).ok()?,
                limit: u32::try_from(u("limit")?).ok()?,
            }),
            "htb" => Qdisc::Htb(super::Htb::from_json(v)?),
            _ => return None,
        })
    }
}

/// A token-bucket rate limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Tbf {
    /// Bytes per second.
    pub rate: u64,
    /// Bucket size in bytes: how much may pass at line rate before the limit bites.
    pub burst: u32,
    /// Queue in bytes beyond the bucket; what does not fit is dropped.
    pub limit: u32,
}

impl Tbf {
    /// Defaults like common practice: a bucket of 20 ms at the rate (at least 16 KiB, so a full
    /// frame always fits), and a queue of `latency` at the rate (50 ms unless given).
    pub fn new(rate: u64, burst: Option<u32>, latency: Option<Duration>) -> Tbf {
        let burst = burst.unwrap_or_else(|| default_burst(rate));
        let lat = latency.unwrap_or(Duration::from_millis(50));
        let queued = (rate as f64 * lat.as_secs_f64()) as u64;
        Tbf {
            rate,
            burst,
            limit: (queued + burst as u64).min(u32::MAX as u64) as u32,
        }
    }

    /// The TCA_OPTIONS payload for sch_tbf.
    pub fn encode(&self) -> Vec<u8> {
        // struct tc_tbf_qopt { rate; peakrate; u32 limit; u32 buffer (ticks); u32 mtu; }
        let mut parms = ratespec(self.rate.min(u32::MAX as u64) as u32);
        parms.extend(vec![0u8; 12]); // no peak rate
        parms.extend_from_slice(&self.limit.to_ne_bytes());
        parms.extend_from_slice(&xmit_ticks(self.burst, self.rate).to_ne_bytes());
        parms.extend_from_slice(&0u32.to_ne_bytes());
        let mut out = nla(TCA_TBF_PARMS, &parms);
        if self.rate > u32::MAX as u64 {
            out.extend(nla(TCA_TBF_RATE64, &self.rate.to_ne_bytes()));
        }
        // The bucket in bytes (kernels >= 3.13), exact where the tick field rounds.
        out.extend(nla(TCA_TBF_BURST, &self.burst.to_ne_bytes()));
        out
    }
}

/// A netem impairment: delay (± jitter), random loss, rate limit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Netem {
    pub delay: Option<Duration>,
    pub jitter: Option<Duration>,
    /// Percent, 0..=100.
    pub loss: Option<f64>,
    /// Bytes per second.
    pub rate: Option<u64>,
    pub limit: Option<u32>,
}

/// struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; s16 cell_align; u16 mpu; u32
/// rate; } — an Ethernet link layer spares the kernel the legacy rate table.
pub(super) fn ratespec(rate: u32) -> Vec<u8> {
    let mut r = vec![0u8, TC_LINKLAYER_ETHERNET];
    r.extend_from_slice(&0u16.to_ne_bytes());
    r.extend_from_slice(&(-1i16).to_ne_bytes());
    r.extend_from_slice(&0u16.to_ne_bytes());
    r.extend_from_slice(&rate.to_ne_bytes());
    r
}

/// The usual bucket: 20 ms at the rate, and at least 16 KiB, so a full frame always fits.
pub(super) fn default_burst(rate: u64) -> u32 {
    (rate / 50).clamp(16 * 1024, u32::MAX as u64) as u32
}

/// How long `bytes` take at `rate` (bytes per second), in psched ticks: how tbf and htb hold a
/// bucket.
pub(super) fn xmit_ticks(bytes: u32, rate: u64) -> u32 {
    (bytes as f64 / rate as f64 * 1e6 * ticks_per_us()) as u32
}

/// A request for a qdisc or class of `kind` on interface `index`, its options as the kernel's
/// sch_KIND parses them.
pub(super) fn tc_message(
    index: u32,
    parent: TcHandle,
    handle: TcHandle,
    kind: &str,
    options: Vec<u8>,
) -> TcMessage {
    let mut m = TcMessage::with_index(index as i32);
    m.header.parent = parent;
    m.header.handle = handle;
    m.attributes.push(TcAttribute::Kind(kind.into()));
    m.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, options)));
    m
}

/// psched ticks per microsecond, from /proc/net/psched (the same source tc uses).
pub(super) fn ticks_per_us() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/net/psched") else {
        return 15.625;
    };
    let v: Vec<u32> = s
        .split_whitespace()
        .filter_map(|w| u32::from_str_radix(w, 16).ok())
        .collect();
    match v.as_slice() {
        [t2us, us2t, clock_res, ..] if *us2t != 0 => {
            let clock_factor = *clock_res as f64 / 1_000_000.0;
            *t2us as f64 / *us2t as f64 * clock_factor
        }
        _ => 15.625,
    }
}

pub(super) fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
    let len = 4 + payload.len();
    let mut v = Vec::with_capacity((len + 3) & !3);
    v.extend_from_slice(&(len as u16).to_ne_bytes());
    v.extend_from_slice(&kind.to_ne_bytes());
    v.extend_from_slice(payload);
    v.resize((len + 3) & !3, 0);
    v
}

/// A `tc` command line of the form the classic `pipework tc` passes through, as far as it can be
/// done natively: `qdisc add|replace|change dev IF root netem [delay T [JITTER]] [loss P%]
/// [rate R] [limit N]`, `… root tbf rate R burst SIZE (latency T | limit SIZE)`, or
/// `qdisc del dev IF root`. Returns the interface and what goes at its root.
pub fn parse_tc(args: &[String]) -> Result<(String, Qdisc)> {
    let text = args.join(" ");
    let bad = |why: &str| crate::error::Error::invalid("tc command", &text, why);
    let w: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let (verb, rest) = match w.as_slice() {
        ["qdisc", verb, rest @ ..] => (*verb, rest),
        _ => {
            return Err(bad(
                "only `qdisc …` commands are supported natively (netem, or del)",
            ))
        }
    };
    let (dev, rest) = match rest {
        ["dev", dev, "root", rest @ ..] => (crate::parse::ifname(dev)?, rest),
        _ => return Err(bad("expected `dev IFNAME root …`")),
    };
    match verb {
        "del" | "delete" if rest.is_empty() => return Ok((dev, Qdisc::Default)),
        "add" | "replace" | "change" => {}
        _ => return Err(bad("the verb must be add, replace, change or del")),
    }
    let rest = match rest {
        ["netem", rest @ ..] => rest,
        ["tbf", rest @ ..] => {
            return parse_tbf(rest)
                .map(|t| (dev, Qdisc::Tbf(t)))
                .map_err(|e| bad(&e))
        }
        _ => return Err(bad("only the netem and tbf qdiscs are supported natively")),
    };
    let mut n = Netem::default();
    let mut i = 0;
    let dur = |s: &str| crate::parse::duration(s);
    while i < rest.len() {
        let val = rest
            .get(i + 1)
            .copied()
            .ok_or_else(|| bad("an option is missing its value"))?;
        match rest[i] {
            "delay" | "latency" => {
                n.delay = Some(dur(val)?);
                // An optional jitter follows the delay directly.
                if let Some(j) = rest
                    .get(i + 2)
                    .filter(|j| j.chars().next().is_some_and(|c| c.is_ascii_digit()))
                {
                    n.jitter = Some(dur(j)?);
                    i += 1;
                }
            }
            "loss" => {
                let p: f64 = val
                    .trim_end_matches('%')
                    .parse()
                    .map_err(|_| bad("loss is a percentage like 1.5%"))?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(bad("loss is a percentage between 0 and 100"));
                }
                n.loss = Some(p);
            }
            "rate" => n.rate = Some(crate::parse::rate(val)?),
            "limit" => n.limit = Some(val.parse().map_err(|_| bad("limit is a packet count"))?),
            other => {
                return Err(bad(&format!(
                    "unsupported netem option {other:?} (delay, loss, rate, limit)"
                )))
            }
        }
        i += 2;
    }
    if n.is_empty() {
        return Err(bad("netem needs at least one of delay, loss, rate, limit"));
    }
    Ok((dev, Qdisc::Netem(n)))
}

/// `rate R burst SIZE (latency T | limit SIZE)`, as tc takes them (`buffer`/`maxburst` are burst).
fn parse_tbf(w: &[&str]) -> std::result::Result<Tbf, String> {
    let (mut rate, mut burst, mut latency, mut limit) = (None, None, None, None);
    let text = |e: crate::error::Error| e.to_string();
    for pair in w.chunks(2) {
        let [key, val] = pair else {
            return Err("an option is missing its value".into());
        };
        match *key {
            "rate" => rate = Some(crate::parse::rate(val).map_err(text)?),
            "burst" | "buffer" | "maxburst" => burst = Some(crate::parse::size(val).map_err(text)?),
            "latency" => latency = Some(crate::parse::duration(val).map_err(text)?),
            "limit" => limit = Some(crate::parse::size(val).map_err(text)?),
            other => {
                return Err(format!(
                    "unsupported tbf option {other:?} (rate, burst, latency, limit)"
                ))
            }
        }
    }
    let rate = rate.ok_or("tbf needs a rate")?;
    let mut t = Tbf::new(rate, burst, latency);
    if let Some(l) = limit {
        t.limit = l;
    }
    Ok(t)
}

impl Netem {
    pub fn is_empty(&self) -> bool {
        *self == Netem::default()
    }

    /// The TCA_OPTIONS payload for sch_netem.
    pub fn encode(&self) -> Vec<u8> {
        let tpu = ticks_per_us();
        let ticks =
            |d: Option<Duration>| d.map(|d| (d.as_micros() as f64 * tpu) as u32).unwrap_or(0);
        let loss = self
            .loss
            .map(|p| ((p / 100.0) * u32::MAX as f64).round() as u32)
            .unwrap_or(0);
        let mut out = vec![];
        // struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter } — all __u32.
        for f in [
            ticks(self.delay),
            self.limit.unwrap_or(1000),
            loss,
            0,
            0,
            ticks(self.jitter),
        ] {
            out.extend_from_slice(&f.to_ne_bytes());
        }
        // 64-bit nanosecond values override the tick fields on kernels that know them (>= 4.15).
        if let Some(d) = self.delay {
            out.extend(nla(
                TCA_NETEM_LATENCY64,
                &(d.as_nanos() as i64).to_ne_bytes(),
            ));
        }
        if let Some(j) = self.jitter {
            out.extend(nla(
                TCA_NETEM_JITTER64,
                &(j.as_nanos() as i64).to_ne_bytes(),
            ));
        }
        if let Some(r) = self.rate {
            // struct tc_netem_rate { __u32 rate; __s32 packet_overhead; __u32 cell_size; __s32 cell_overhead; }
            let mut p = vec![];
            p.extend_from_slice(&(r.min(u32::MAX as u64) as u32).to_ne_bytes());
            p.extend_from_slice(&[0u8; 12]);
            out.extend(nla(TCA_NETEM_RATE, &p));
        }
        out
    }
}

/// What is at the root of an interface, read back from the kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct RootQdisc {
    pub kind: String,
    /// The netem, tbf or htb settings, as `Qdisc` (with `Tbf::limit` the byte limit); `None` for
    /// other kinds (the kernel default: noqueue, pfifo_fast, fq_codel…) and for an htb not in
    /// the layout `shape()` builds.
    pub settings: Option<Qdisc>,
}

/// The nested attributes in a TCA_OPTIONS payload (kind, value).
pub(super) fn nlas(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = vec![];
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((kind, &b[4..len]));
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out
}

pub(super) fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

pub(super) fn u64_of(b: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(..8)?.try_into().ok()?))
}

/// sch_netem's options: the fixed struct, then attributes (64-bit times override the ticks).
fn decode_netem(b: &[u8]) -> Option<Netem> {
    let tpu = ticks_per_us();
    let ticks = |t: u32| Duration::from_micros((t as f64 / tpu).round() as u64);
    let (lat, limit, loss, jit) = (u32_at(b, 0)?, u32_at(b, 4)?, u32_at(b, 8)?, u32_at(b, 20)?);
    let mut n = Netem {
        delay: Some(ticks(lat)).filter(|d| !d.is_zero()),
        jitter: Some(ticks(jit)).filter(|d| !d.is_zero()),
        loss: Some(loss as f64 * 100.0 / u32::MAX as f64).filter(|l| *l > 0.0),
        rate: None,
        limit: Some(limit),
    };
    for (kind, v) in nlas(b.get(24..)?) {
        match kind {
            TCA_NETEM_LATENCY64 => {
                n.delay = u64_of(v).map(Duration::from_nanos).filter(|d| !d.is_zero())
            }
            TCA_NETEM_JITTER64 => {
                n.jitter = u64_of(v).map(Duration::from_nanos).filter(|d| !d.is_zero())
            }
            TCA_NETEM_RATE => n.rate = n.rate.or(u32_at(v, 0).map(u64::from)).filter(|r| *r > 0),
            TCA_NETEM_RATE64 => n.rate = u64_of(v),
            _ => {}
        }
    }
    Some(n)
}

/// sch_tbf's options: the rate from the parms (or RATE64), the bucket from TCA_TBF_BURST.
fn decode_tbf(b: &[u8]) -> Option<Tbf> {
    let mut t = Tbf {
        rate: 0,
        burst: 0,
        limit: 0,
    };
    let mut buffer_ticks = 0;
    for (kind, v) in nlas(b) {
        match kind {
            TCA_TBF_PARMS => {
                t.rate = u32_at(v, 8)? as u64;
                t.limit = u32_at(v, 24)?;
                buffer_ticks = u32_at(v, 28)?;
            }
            TCA_TBF_RATE64 => t.rate = u64_of(v)?,
            TCA_TBF_BURST => t.burst = u32_at(v, 0)?,
            _ => {}
        }
    }
    if t.burst == 0 && t.rate > 0 {
        // Older kernels report the bucket only as time at the rate.
        t.burst = (buffer_ticks as f64 / ticks_per_us() / 1e6 * t.rate as f64) as u32;
    }
    (t.rate > 0).then_some(t)
}

impl Ns<'_> {
    /// The root qdisc of a link and, for the kinds pipework sets, its settings.
    pub fn root_qdisc(&self, index: u32, ifname: &str) -> Result<Option<RootQdisc>> {
        use futures::TryStreamExt;
        self.log(&format!("dump qdiscs of {ifname}"));
        let msgs: Vec<TcMessage> = self
            .nl
            .block_on(
                self.h
                    .qdisc()
                    .get()
                    .index(index as i32)
                    .execute()
                    .try_collect(),
            )
            .map_err(|e| self.fail(&format!("dump qdiscs of {ifname}"), e))?;
        let Some(m) = msgs
            .iter()
            .find(|m| m.header.index == index as i32 && m.header.parent == TcHandle::ROOT)
        else {
            return Ok(None);
        };
        let kind = m
            .attributes
            .iter()
            .find_map(|a| match a {
                TcAttribute::Kind(k) => Some(k.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let raw = super::htb::raw_options(&m.attributes);
        let settings = match kind.as_str() {
            "netem" => decode_netem(&raw).map(Qdisc::Netem),
            "tbf" => decode_tbf(&raw).map(Qdisc::Tbf),
            "htb" => self.read_htb(index, ifname, &raw)?.map(Qdisc::Htb),
            _ => None,
        };
        Ok(Some(RootQdisc { kind, settings }))
    }

    /// `tc qdisc replace dev IF root …` — replacing makes re-runs converge instead of failing.
    pub fn set_root_qdisc(&self, index: u32, ifname: &str, q: &Qdisc) -> Result<()> {
        let (kind, options) = match q {
            Qdisc::Default => return self.clear_qdisc(index, ifname),
            Qdisc::Netem(n) => ("netem", n.encode()),
            Qdisc::Tbf(t) => ("tbf", t.encode()),
            Qdisc::Htb(h) => return self.set_htb(index, ifname, h),
        };
        let op = format!("set root qdisc {kind} on {ifname}");
        self.log(&op);
        let m = tc_message(index, TcHandle::ROOT, TcHandle::UNSPEC, kind, options);
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.request(RouteNetlinkMessage::NewQueueDiscipline(m), flags)
            .map_err(|e| {
                let err = self.fail(&op, e);
                if err.errno() == Some(libc::ENOENT) {
                    err.context(format!(
                        "the running kernel has no sch_{kind} (qdisc kind unknown)"
                    ))
                } else {
                    err
                }
            })
    }

    /// Remove the root qdisc (back to the kernel default). Absent is fine.
    pub fn clear_qdisc(&self, index: u32, ifname: &str) -> Result<()> {
        let op = format!("delete root qdisc on {ifname}");
        self.log(&op);
        let mut m = TcMessage::with_index(index as i32);
        m.header.parent = TcHandle::ROOT;
        match self
            .request(
                RouteNetlinkMessage::DelQueueDiscipline(m),
                NLM_F_REQUEST | NLM_F_ACK,
            )
            .map_err(|e| self.fail(&op, e))
        {
            // No qdisc of ours there: the default one cannot be deleted, which is what we want.
            Err(e) if matches!(e.errno(), Some(libc::ENOENT) | Some(libc::EINVAL)) => Ok(()),
            other => other,
        }
    }

    /// Send one request and wait for its acknowledgement.
    pub(super) fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> std::result::Result<(), rtnetlink::Error> {
        let mut req = NetlinkMessage::from(msg);
        req.header.flags = flags;
        let mut h = self.h.clone();
        self.nl.block_on(async move {
            let mut resp = h.request(req)?;
            while let Some(m) = resp.next().await {
                if let NetlinkPayload::Error(e) = m.payload {
                    return Err(rtnetlink::Error::NetlinkError(e));
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc_command_lines() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let (dev, q) = parse_tc(&a(
            "qdisc add dev eth1 root netem delay 100ms 10ms loss 1.5%",
        ))
        .unwrap();
        let Qdisc::Netem(n) = q else { panic!("{q:?}") };
        assert_eq!(dev, "eth1");
        assert_eq!(n.delay, Some(Duration::from_millis(100)));
        assert_eq!(n.jitter, Some(Duration::from_millis(10)));
        assert_eq!(n.loss, Some(1.5));
        let (_, q) = parse_tc(&a("qdisc del dev eth1 root")).unwrap();
        assert_eq!(q, Qdisc::Default);
        let (_, q) = parse_tc(&a(
            "qdisc add dev eth1 root tbf rate 1mbit burst 32kbit latency 400ms",
        ))
        .unwrap();
        assert_eq!(
            q,
            Qdisc::Tbf(Tbf {
                rate: 125_000,
                burst: 4096,
                limit: 50_000 + 4096
            })
        );
        assert!(
            parse_tc(&a("qdisc add dev eth1 root tbf burst 10kb")).is_err(),
            "rate is required"
        );
        assert!(parse_tc(&a("qdisc add dev eth1 root tbf rate 1mbit peakrate 2mbit")).is_err());
        assert!(parse_tc(&a("qdisc add dev eth1 root htb")).is_err());
        assert!(parse_tc(&a("filter add dev eth1")).is_err());
        assert!(parse_tc(&a("qdisc add dev eth1 root netem loss 150%")).is_err());
        assert!(parse_tc(&a("qdisc add dev eth1 root netem")).is_err());
    }

    #[test]
    fn qdiscs_read_back_from_json() {
        let htb = super::super::Htb {
            rate: 1_000_000,
            classes: vec![
                super::super::HtbClass {
                    rate: 1000,
                    ceil: 2000,
                    prio: 3,
                    select: Some(super::super::HtbSelect {
                        dst: Some("fd00:1::/64".parse().unwrap()),
                        proto: Some(6),
                        dport: Some(80),
                        ..Default::default()
                    }),
                },
                super::super::HtbClass {
                    rate: 5000,
                    ceil: 1_000_000,
                    prio: 0,
                    select: None,
                },
            ],
        };
        for q in [
            Qdisc::Default,
            Qdisc::Netem(Netem {
                delay: Some(Duration::from_micros(1500)),
                loss: Some(2.5),
                limit: Some(100),
                ..Default::default()
            }),
            Qdisc::Tbf(Tbf::new(125_000, None, None)),
            Qdisc::Htb(htb),
        ] {
            let text = q.to_json().to_string();
            assert!(!text.contains(char::is_whitespace), "{text}");
            let back = serde_json::from_str(&text).unwrap();
            assert_eq!(Qdisc::from_json(&back), Some(q));
        }
        assert_eq!(Qdisc::from_json(&serde_json::json!({"kind": "sfq"})), None);
    }

    #[test]
    fn netem_layout() {
        let n = Netem {
            delay: Some(Duration::from_millis(10)),
            loss: Some(100.0),
            ..Default::default()
        };
        let b = n.encode();
        // 24-byte qopt, then LATENCY64 (4 + 8 bytes).
        assert_eq!(b.len(), 24 + 12);
        let field = |i: usize| u32::from_ne_bytes(b[i * 4..i * 4 + 4].try_into().unwrap());
        assert_eq!(field(1), 1000, "default limit");
        assert_eq!(field(2), u32::MAX, "100% loss");
        assert_eq!(u16::from_ne_bytes([b[26], b[27]]), TCA_NETEM_LATENCY64);
        assert_eq!(
            i64::from_ne_bytes(b[28..36].try_into().unwrap()),
            10_000_000
        );
        assert!(Netem::default().is_empty());
    }

    #[test]
    fn decode_reads_back_what_encode_wrote() {
        let n = Netem {
            delay: Some(Duration::from_millis(40)),
            jitter: Some(Duration::from_micros(2500)),
            loss: Some(1.5),
            rate: Some(1_250_000),
            limit: Some(300),
        };
        let back = decode_netem(&n.encode()).unwrap();
        assert_eq!(
            (back.delay, back.jitter, back.rate, back.limit),
            (n.delay, n.jitter, n.rate, n.limit)
        );
        assert!((back.loss.unwrap() - 1.5).abs() < 1e-6);
        for rate in [125_000, 10_000_000_000] {
            let t = Tbf::new(rate, Some(32 * 1024), Some(Duration::from_millis(80)));
            assert_eq!(decode_tbf(&t.encode()), Some(t));
        }
        // A truncated payload is no settings, not a panic.
        assert_eq!(decode_netem(&[0u8; 10]), None);
        assert_eq!(decode_tbf(&[8, 0, 1, 0]), None);
    }

    #[test]
    fn tbf_layout() {
        let t = Tbf::new(125_000, None, None);
        assert_eq!(t.burst, 16 * 1024, "at least 16 KiB");
        assert_eq!(t.limit, 6250 + 16 * 1024, "50 ms of queue plus the bucket");
        let b = t.encode();
        // PARMS: 4-byte header + 36-byte tc_tbf_qopt; then BURST: 4 + 4.
        assert_eq!(u16::from_ne_bytes([b[2], b[3]]), TCA_TBF_PARMS);
        assert_eq!(u16::from_ne_bytes([b[0], b[1]]), 40);
        assert_eq!(b[5], TC_LINKLAYER_ETHERNET);
        assert_eq!(
            u32::from_ne_bytes(b[12..16].try_into().unwrap()),
            125_000,
            "rate"
        );
        assert_eq!(
            u32::from_ne_bytes(b[28..32].try_into().unwrap()),
            t.limit,
            "limit"
        );
        assert_eq!(u16::from_ne_bytes([b[42], b[43]]), TCA_TBF_BURST);
        assert_eq!(u32::from_ne_bytes(b[44..48].try_into().unwrap()), 16 * 1024);
        // Past 4 Gbit/s (u32 bytes/s) the 64-bit rate attribute carries it.
        let fast = Tbf::new(10_000_000_000, None, None).encode();
        assert_eq!(u16::from_ne_bytes([fast[42], fast[43]]), TCA_TBF_RATE64);
    }
}
