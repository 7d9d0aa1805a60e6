//! Traffic control. netlink-packet-route has no netem, so its TCA_OPTIONS are encoded here: a
//! `struct tc_netem_qopt` followed by nested attributes, exactly as the kernel's sch_netem parses them.

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

const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_RATE: u16 = 6;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;

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

/// psched ticks per microsecond, from /proc/net/psched (the same source tc uses).
fn ticks_per_us() -> f64 {
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

fn nla(kind: u16, payload: &[u8]) -> Vec<u8> {
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
/// [rate R] [limit N]`, or `qdisc del dev IF root`. Returns the interface and the impairment (empty
/// for delete).
pub fn parse_tc(args: &[String]) -> Result<(String, Netem)> {
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
        "del" | "delete" if rest.is_empty() => return Ok((dev, Netem::default())),
        "add" | "replace" | "change" => {}
        _ => return Err(bad("the verb must be add, replace, change or del")),
    }
    let rest = match rest {
        ["netem", rest @ ..] => rest,
        _ => return Err(bad("only the netem qdisc is supported natively")),
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
    Ok((dev, n))
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

impl Ns<'_> {
    /// `tc qdisc replace dev IF root netem …` — replacing makes re-runs converge instead of failing.
    pub fn set_netem(&self, index: u32, ifname: &str, n: &Netem) -> Result<()> {
        let op = format!("set root qdisc netem on {ifname}");
        self.log(&op);
        let mut m = TcMessage::with_index(index as i32);
        m.header.parent = TcHandle::ROOT;
        m.attributes.push(TcAttribute::Kind("netem".into()));
        m.attributes
            .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, n.encode())));
        let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        self.request(RouteNetlinkMessage::NewQueueDiscipline(m), flags)
            .map_err(|e| {
                let err = self.fail(&op, e);
                if err.errno() == Some(libc::ENOENT) {
                    err.context("the running kernel has no sch_netem (qdisc kind unknown)")
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
    fn request(
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
        let (dev, n) = parse_tc(&a(
            "qdisc add dev eth1 root netem delay 100ms 10ms loss 1.5%",
        ))
        .unwrap();
        assert_eq!(dev, "eth1");
        assert_eq!(n.delay, Some(Duration::from_millis(100)));
        assert_eq!(n.jitter, Some(Duration::from_millis(10)));
        assert_eq!(n.loss, Some(1.5));
        let (_, n) = parse_tc(&a("qdisc del dev eth1 root")).unwrap();
        assert!(n.is_empty());
        assert!(parse_tc(&a("qdisc add dev eth1 root tbf rate 1mbit")).is_err());
        assert!(parse_tc(&a("filter add dev eth1")).is_err());
        assert!(parse_tc(&a("qdisc add dev eth1 root netem loss 150%")).is_err());
        assert!(parse_tc(&a("qdisc add dev eth1 root netem")).is_err());
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
}
