//! HTB shaping: a root htb qdisc (1:), one root class (1:1) at the link's total rate, one leaf
//! class per `Class` (1:10, 1:11, … in order) and, for each class that selects traffic, one u32
//! filter per address family steering it there; unselected traffic goes to the class without a
//! selector (htb's default class).
//!
//! u32 rather than flower: the host kernels here have cls_u32 and not cls_flower, and u32 is what
//! people who write `tc … htb` by hand already read. netlink-packet-route encodes u32 selectors;
//! the htb options it has no type for are encoded here as sch_htb parses them, like netem and tbf.
//! Ports are matched at the fixed offset after a header without options (as `tc … match ip
//! dport` does).
//!
//! The layout is fixed so that what the kernel holds reads back as the same `Htb`: applying an
//! `Htb` already in force is a no-op, and the timeline can put back a shape it replaced.

use super::tc::{default_burst, nla, nlas, ratespec, tc_message, u32_at, u64_of, xmit_ticks};
use super::Ns;
use crate::error::{Error, Result};
use ipnetwork::IpNetwork;
use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST};
use netlink_packet_route::tc::{
    TcAttribute, TcFilterU32Option, TcHandle, TcMessage, TcOption, TcU32Key, TcU32Selector,
    TcU32SelectorFlags,
};
use netlink_packet_route::RouteNetlinkMessage;

const TCA_HTB_PARMS: u16 = 1;
const TCA_HTB_INIT: u16 = 2;
const TCA_HTB_RATE64: u16 = 6;
const TCA_HTB_CEIL64: u16 = 7;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;

/// The qdisc's major number; the root class is MAJOR:1, classes MAJOR:FIRST_CLASS onwards.
const MAJOR: u16 = 1;
const FIRST_CLASS: u16 = 0x10;

/// What to shape a link to.
#[derive(Clone, Debug, PartialEq)]
pub struct Htb {
    /// Bytes per second the link passes in all.
    pub rate: u64,
    /// In the order their selectors are tried; exactly one has no selector (the default).
    pub classes: Vec<Class>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    /// Guaranteed bytes per second.
    pub rate: u64,
    /// Bytes per second it may borrow up to when others are idle (at least `rate`).
    pub ceil: u64,
    /// 0 (first served) to 7.
    pub prio: u32,
    /// `None`: the default class, for whatever no other class selects.
    pub select: Option<Select>,
}

/// Which packets a class takes. Every field given must match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Select {
    pub dst: Option<IpNetwork>,
    pub src: Option<IpNetwork>,
    /// IP protocol number (6 tcp, 17 udp…).
    pub proto: Option<u8>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
}

impl Select {
    /// The address families it applies to (false: IPv4, true: IPv6): the addresses' family, or
    /// both when it names none.
    pub fn families(&self) -> Result<Vec<bool>> {
        let fams: Vec<bool> = [self.dst, self.src]
            .iter()
            .flatten()
            .map(|n| n.is_ipv6())
            .collect();
        match fams.as_slice() {
            [] => Ok(vec![false, true]),
            [a, rest @ ..] if rest.iter().all(|b| b == a) => Ok(vec![*a]),
            _ => Err(Error::invalid(
                "shape class",
                format!("{:?} / {:?}", self.dst, self.src),
                "dst and src must be the same address family",
            )),
        }
    }

    /// The u32 keys (host byte order; the crate writes them big-endian) for one family. Offsets
    /// are from the network header.
    fn keys(&self, v6: bool) -> Vec<TcU32Key> {
        let key = |off: i32, mask: u32, val: u32| {
            let mut k = TcU32Key::default();
            (k.off, k.mask, k.val) = (off, mask, val & mask);
            k
        };
        let mut out = vec![];
        if let Some(p) = self.proto {
            out.push(if v6 {
                key(4, 0x0000_ff00, (p as u32) << 8)
            } else {
                key(8, 0x00ff_0000, (p as u32) << 16)
            });
        }
        let (src_off, dst_off, ports_off) = if v6 { (8, 24, 40) } else { (12, 16, 20) };
        for (net, off) in [(self.src, src_off), (self.dst, dst_off)] {
            let Some(net) = net else { continue };
            for (i, (mask, val)) in words(net).into_iter().enumerate() {
                if mask != 0 {
                    out.push(key(off + 4 * i as i32, mask, val));
                }
            }
        }
        if self.sport.is_some() || self.dport.is_some() {
            let (mut mask, mut val) = (0, 0);
            if let Some(p) = self.sport {
                (mask, val) = (mask | 0xffff_0000, val | (p as u32) << 16);
            }
            if let Some(p) = self.dport {
                (mask, val) = (mask | 0xffff, val | p as u32);
            }
            out.push(key(ports_off, mask, val));
        }
        out
    }

    /// The selector `keys` made, or `None` for keys pipework does not write.
    fn from_keys(v6: bool, keys: &[TcU32Key]) -> Option<Select> {
        let mut s = Select::default();
        let (src_off, dst_off, ports_off) = if v6 { (8, 24, 40) } else { (12, 16, 20) };
        let width = if v6 { 4 } else { 1 };
        let addr = |off: i32, k: &TcU32Key, words: &mut Vec<(u32, u32)>| {
            let i = ((k.off - off) / 4) as usize;
            words.resize(width, (0, 0));
            *words.get_mut(i)? = (k.mask, k.val);
            Some(())
        };
        let (mut src, mut dst) = (vec![], vec![]);
        for k in keys {
            match (k.off, k.mask) {
                (4, 0x0000_ff00) if v6 => s.proto = Some((k.val >> 8) as u8),
                (8, 0x00ff_0000) if !v6 => s.proto = Some((k.val >> 16) as u8),
                (o, _) if o >= src_off && o < src_off + 4 * width as i32 => {
                    addr(src_off, k, &mut src)?
                }
                (o, _) if o >= dst_off && o < dst_off + 4 * width as i32 => {
                    addr(dst_off, k, &mut dst)?
                }
                (o, m) if o == ports_off => {
                    if m & 0xffff_0000 == 0xffff_0000 {
                        s.sport = Some((k.val >> 16) as u16);
                    }
                    if m & 0xffff == 0xffff {
                        s.dport = Some(k.val as u16);
                    }
                }
                _ => return None,
            }
        }
        s.src = (!src.is_empty()).then(|| network(v6, &src)).flatten();
        s.dst = (!dst.is_empty()).then(|| network(v6, &dst)).flatten();
        Some(s)
    }
}

/// A network as u32 words of (mask, value), most significant first.
fn words(net: IpNetwork) -> Vec<(u32, u32)> {
    let (bits, addr, width) = match net {
        IpNetwork::V4(n) => (n.prefix() as u32, u32::from(n.network()) as u128, 1),
        IpNetwork::V6(n) => (n.prefix() as u32, u128::from(n.network()), 4),
    };
    (0..width)
        .map(|i| {
            let shift = 32 * (width - 1 - i);
            let word = (addr >> shift) as u32;
            let in_word = bits.saturating_sub(32 * i as u32).min(32);
            let mask = if in_word == 0 {
                0
            } else {
                u32::MAX << (32 - in_word)
            };
            (mask, word & mask)
        })
        .collect()
}

/// The network `words` made; `None` when the mask is not a prefix.
fn network(v6: bool, w: &[(u32, u32)]) -> Option<IpNetwork> {
    let (mut mask, mut val) = (0u128, 0u128);
    for (m, v) in w {
        mask = (mask << 32) | *m as u128;
        val = (val << 32) | *v as u128;
    }
    let width = 32 * w.len() as u32;
    let prefix = (mask << (128 - width)).leading_ones();
    if mask.count_ones() != prefix {
        return None;
    }
    if v6 {
        ipnetwork::Ipv6Network::new(val.into(), prefix as u8)
            .ok()
            .map(IpNetwork::V6)
    } else {
        ipnetwork::Ipv4Network::new((val as u32).into(), prefix as u8)
            .ok()
            .map(IpNetwork::V4)
    }
}

/// A class's bucket at `rate`: the usual one (as `Tbf::new`), in psched ticks.
fn bucket_ticks(rate: u64) -> u32 {
    xmit_ticks(default_burst(rate), rate)
}

/// TCA_OPTIONS of a class: struct tc_htb_opt { rate, ceil; u32 buffer, cbuffer, quantum, level,
/// prio }, with the 64-bit rates beside it when they do not fit.
fn class_options(rate: u64, ceil: u64, prio: u32) -> Vec<u8> {
    let r32 = |r: u64| r.min(u32::MAX as u64) as u32;
    let mut p = ratespec(r32(rate));
    p.extend(ratespec(r32(ceil)));
    p.extend_from_slice(&bucket_ticks(rate).to_ne_bytes());
    p.extend_from_slice(&bucket_ticks(ceil).to_ne_bytes());
    // The kernel would take rate/10 and warn in its log when that falls outside 1000..200000.
    let quantum = (rate / 10).clamp(1000, 200_000) as u32;
    p.extend_from_slice(&quantum.to_ne_bytes());
    p.extend_from_slice(&0u32.to_ne_bytes());
    p.extend_from_slice(&prio.to_ne_bytes());
    let mut out = nla(TCA_HTB_PARMS, &p);
    if rate > u32::MAX as u64 {
        out.extend(nla(TCA_HTB_RATE64, &rate.to_ne_bytes()));
    }
    if ceil > u32::MAX as u64 {
        out.extend(nla(TCA_HTB_CEIL64, &ceil.to_ne_bytes()));
    }
    out
}

/// (rate, ceil, prio) from a class's TCA_OPTIONS.
fn decode_class(b: &[u8]) -> Option<(u64, u64, u32)> {
    let (mut rate, mut ceil, mut prio) = (None, None, 0);
    for (kind, v) in nlas(b) {
        match kind {
            TCA_HTB_PARMS => {
                rate = rate.or(Some(u32_at(v, 8)? as u64));
                ceil = ceil.or(Some(u32_at(v, 20)? as u64));
                prio = u32_at(v, 40)?;
            }
            TCA_HTB_RATE64 => rate = u64_of(v),
            TCA_HTB_CEIL64 => ceil = u64_of(v),
            _ => {}
        }
    }
    Some((rate?, ceil?, prio))
}

fn handle(minor: u16) -> TcHandle {
    TcHandle {
        major: MAJOR,
        minor,
    }
}

/// The raw TCA_OPTIONS payload of a kind netlink-packet-route does not parse (htb, netem, tbf).
pub(super) fn raw_options(attrs: &[TcAttribute]) -> Vec<u8> {
    use netlink_packet_core::Nla;
    attrs
        .iter()
        .find_map(|a| match a {
            TcAttribute::Options(o) => match o.as_slice() {
                [TcOption::Other(nla)] => {
                    let mut raw = vec![0; nla.value_len()];
                    nla.emit_value(&mut raw);
                    Some(raw)
                }
                _ => None,
            },
            _ => None,
        })
        .unwrap_or_default()
}

impl Htb {
    /// As JSON (see `Qdisc::to_json`).
    pub fn to_json(&self) -> serde_json::Value {
        let classes: Vec<serde_json::Value> = self
            .classes
            .iter()
            .map(|c| {
                let s = c.select.as_ref();
                serde_json::json!({
                    "rate": c.rate, "ceil": c.ceil, "prio": c.prio,
                    "select": s.is_some(),
                    "dst": s.and_then(|s| s.dst).map(|n| n.to_string()),
                    "src": s.and_then(|s| s.src).map(|n| n.to_string()),
                    "proto": s.and_then(|s| s.proto),
                    "sport": s.and_then(|s| s.sport),
                    "dport": s.and_then(|s| s.dport),
                })
            })
            .collect();
        serde_json::json!({"kind": "htb", "rate": self.rate, "classes": classes})
    }

    pub fn from_json(v: &serde_json::Value) -> Option<Htb> {
        let classes = v["classes"]
            .as_array()?
            .iter()
            .map(|c| {
                let net = |k: &str| c[k].as_str().and_then(|n| n.parse().ok());
                let small = |k: &str| c[k].as_u64().and_then(|p| u16::try_from(p).ok());
                Some(Class {
                    rate: c["rate"].as_u64()?,
                    ceil: c["ceil"].as_u64()?,
                    prio: u32::try_from(c["prio"].as_u64()?).ok()?,
                    select: c["select"].as_bool()?.then(|| Select {
                        dst: net("dst"),
                        src: net("src"),
                        proto: c["proto"].as_u64().and_then(|p| u8::try_from(p).ok()),
                        sport: small("sport"),
                        dport: small("dport"),
                    }),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Htb {
            rate: v["rate"].as_u64()?,
            classes,
        })
    }
}

impl Htb {
    /// Check what the kernel would refuse or misread, before anything is sent.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::invalid("shape", "classes", why));
        if self.rate == 0 {
            return Err(Error::invalid("shape", "rate", "must be above zero"));
        }
        if self.classes.len() > 0xffff - FIRST_CLASS as usize {
            return bad(format!("{} classes is too many", self.classes.len()));
        }
        let defaults = self.classes.iter().filter(|c| c.select.is_none()).count();
        if defaults != 1 {
            return bad(format!(
                "exactly one class must select nothing (the default class), not {defaults}"
            ));
        }
        for (i, c) in self.classes.iter().enumerate() {
            if c.rate == 0 || c.ceil < c.rate {
                return bad(format!(
                    "class {i}: rate must be above zero and ceil at least rate"
                ));
            }
            if c.prio > 7 {
                return bad(format!("class {i}: prio is 0 to 7, not {}", c.prio));
            }
            if let Some(s) = &c.select {
                s.families()?;
                if s == &Select::default() {
                    return bad(format!("class {i}: an empty selector"));
                }
                if (s.sport.is_some() || s.dport.is_some())
                    && !matches!(s.proto, Some(6 | 17 | 132))
                {
                    return bad(format!(
                        "class {i}: a port needs proto \"tcp\", \"udp\" or \"sctp\""
                    ));
                }
            }
        }
        Ok(())
    }

    fn default_minor(&self) -> u16 {
        let i = self.classes.iter().position(|c| c.select.is_none());
        FIRST_CLASS + i.unwrap_or(0) as u16
    }
}

impl Ns<'_> {
    /// Put `h` at the root of a link: a no-op when it is there already; otherwise what was there
    /// goes (with its classes and filters) and `h` is built. A failure part-way puts back what was
    /// there before.
    pub fn set_htb(&self, index: u32, ifname: &str, h: &Htb) -> Result<()> {
        h.validate()?;
        let before = self.root_qdisc(index, ifname)?;
        if let Some(b) = &before {
            if b.settings == Some(super::Qdisc::Htb(h.clone())) {
                self.log(&format!("htb on {ifname} already as asked"));
                return Ok(());
            }
            if b.kind == "htb" {
                // A replace would keep the old classes and filters.
                self.clear_qdisc(index, ifname)?;
            }
        }
        let built = self.build_htb(index, ifname, h);
        if built.is_err() {
            let back = before
                .and_then(|b| b.settings)
                .unwrap_or(super::Qdisc::Default);
            // Best effort: the error that matters is the one returned.
            let _ = self.set_root_qdisc(index, ifname, &back);
        }
        built
    }

    fn build_htb(&self, index: u32, ifname: &str, h: &Htb) -> Result<()> {
        let ack = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
        let send = |op: String, msg: RouteNetlinkMessage| {
            self.log(&op);
            self.request(msg, ack).map_err(|e| self.fail(&op, e))
        };
        // struct tc_htb_glob { version 3, rate2quantum 10, defcls, debug, direct_pkts }
        let mut glob = vec![];
        for f in [3u32, 10, h.default_minor() as u32, 0, 0] {
            glob.extend_from_slice(&f.to_ne_bytes());
        }
        let m = tc_message(
            index,
            TcHandle::ROOT,
            handle(0),
            "htb",
            nla(TCA_HTB_INIT, &glob),
        );
        send(
            format!("set root qdisc htb on {ifname}"),
            RouteNetlinkMessage::NewQueueDiscipline(m),
        )?;
        let class = |minor: u16, parent: TcHandle, opts: Vec<u8>| {
            send(
                format!("add htb class 1:{minor:x} on {ifname}"),
                RouteNetlinkMessage::NewTrafficClass(tc_message(
                    index,
                    parent,
                    handle(minor),
                    "htb",
                    opts,
                )),
            )
        };
        class(1, handle(0), class_options(h.rate, h.rate, 0))?;
        for (i, c) in h.classes.iter().enumerate() {
            let minor = FIRST_CLASS + i as u16;
            class(minor, handle(1), class_options(c.rate, c.ceil, c.prio))?;
            let Some(sel) = &c.select else { continue };
            for v6 in sel.families()? {
                let keys = sel.keys(v6);
                let mut s = TcU32Selector::default();
                s.flags = TcU32SelectorFlags::Terminal;
                s.nkeys = keys.len() as u8;
                s.keys = keys;
                let mut m = TcMessage::with_index(index as i32);
                m.header.parent = handle(0);
                // tcm_info: preference above, protocol (network byte order) below. A preference
                // per class and family keeps the classes' order.
                let pref = 1 + 2 * i as u32 + v6 as u32;
                let proto = if v6 { ETH_P_IPV6 } else { ETH_P_IP };
                m.header.info = (pref << 16) | proto.to_be() as u32;
                m.attributes.push(TcAttribute::Kind("u32".into()));
                m.attributes.push(TcAttribute::Options(vec![
                    TcOption::U32(TcFilterU32Option::ClassId(handle(minor))),
                    TcOption::U32(TcFilterU32Option::Selector(s)),
                ]));
                send(
                    format!(
                        "add u32 filter to 1:{minor:x} ({}) on {ifname}",
                        if v6 { "IPv6" } else { "IPv4" }
                    ),
                    RouteNetlinkMessage::NewTrafficFilter(m),
                )?;
            }
        }
        Ok(())
    }

    /// The `Htb` at the root of a link whose htb qdisc has the options `root_opts`; `None` when
    /// its classes and filters are not in the layout pipework builds.
    pub(super) fn read_htb(
        &self,
        index: u32,
        ifname: &str,
        root_opts: &[u8],
    ) -> Result<Option<Htb>> {
        use futures::TryStreamExt;
        let Some(defcls) = nlas(root_opts)
            .into_iter()
            .find(|(k, _)| *k == TCA_HTB_INIT)
            .and_then(|(_, v)| u32_at(v, 8))
        else {
            return Ok(None);
        };
        self.log(&format!("dump htb classes and filters of {ifname}"));
        let h = self.h.clone();
        let classes: Vec<TcMessage> = self
            .nl
            .block_on(h.traffic_class(index as i32).get().execute().try_collect())
            .map_err(|e| self.fail(&format!("dump classes of {ifname}"), e))?;
        let filters: Vec<TcMessage> = self
            .nl
            .block_on(h.traffic_filter(index as i32).get().execute().try_collect())
            .map_err(|e| self.fail(&format!("dump filters of {ifname}"), e))?;
        Ok(assemble(defcls, &classes, &filters))
    }
}

/// The `Htb` that classes and filters as dumped make, when they are in pipework's layout.
fn assemble(defcls: u32, classes: &[TcMessage], filters: &[TcMessage]) -> Option<Htb> {
    let mut root = None;
    let mut leaves = vec![];
    for c in classes {
        let (rate, ceil, prio) = decode_class(&raw_options(&c.attributes))?;
        match (c.header.handle, c.header.parent) {
            // The kernel reports a class without a parent class as under TC_H_ROOT.
            (h, p) if h == handle(1) && (p == TcHandle::ROOT || p == handle(0)) => {
                root = Some(rate)
            }
            (h, p) if h.major == MAJOR && p == handle(1) && h.minor >= FIRST_CLASS => {
                leaves.push((h.minor, rate, ceil, prio))
            }
            _ => return None,
        }
    }
    leaves.sort();
    // Classes numbered FIRST_CLASS, FIRST_CLASS+1, … with no gap.
    if leaves
        .iter()
        .enumerate()
        .any(|(i, l)| l.0 != FIRST_CLASS + i as u16)
    {
        return None;
    }
    // Per class: the selector of each family's filter.
    let mut sel: Vec<[Option<Select>; 2]> = vec![[None, None]; leaves.len()];
    for f in filters {
        let mut class = None;
        let mut selector = None;
        for a in &f.attributes {
            if let TcAttribute::Options(o) = a {
                for o in o {
                    match o {
                        TcOption::U32(TcFilterU32Option::ClassId(c)) => class = Some(*c),
                        TcOption::U32(TcFilterU32Option::Selector(s)) => selector = Some(s),
                        _ => {}
                    }
                }
            }
        }
        // The u32 hash tables themselves dump as filters with neither.
        let (Some(class), Some(selector)) = (class, selector) else {
            if class.is_some() || selector.is_some() {
                return None;
            }
            continue;
        };
        let v6 = match u16::from_be(f.header.info as u16) {
            ETH_P_IP => false,
            ETH_P_IPV6 => true,
            _ => return None,
        };
        let slot = sel.get_mut(class.minor.checked_sub(FIRST_CLASS)? as usize)?;
        if slot[v6 as usize].is_some() {
            return None;
        }
        slot[v6 as usize] = Some(Select::from_keys(v6, &selector.keys)?);
    }
    let classes = leaves
        .iter()
        .zip(sel)
        .map(|(&(minor, rate, ceil, prio), [v4, v6])| {
            let select = match (v4, v6) {
                (None, None) if minor as u32 == defcls & 0xffff => None,
                (Some(a), Some(b)) if a == b && a.dst.is_none() && a.src.is_none() => Some(a),
                (Some(a), None) if a.dst.is_some() || a.src.is_some() => Some(a),
                (None, Some(b)) if b.dst.is_some() || b.src.is_some() => Some(b),
                _ => return None,
            };
            Some(Class {
                rate,
                ceil,
                prio,
                select,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Htb {
        rate: root?,
        classes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNetwork {
        s.parse().unwrap()
    }

    #[test]
    fn selectors_read_back_as_written() {
        let cases = [
            Select {
                dst: Some(net("198.18.0.0/24")),
                proto: Some(6),
                dport: Some(5201),
                ..Default::default()
            },
            Select {
                src: Some(net("198.51.100.7/32")),
                dst: Some(net("0.0.0.0/0")),
                sport: Some(53),
                proto: Some(17),
                ..Default::default()
            },
            Select {
                dst: Some(net("fd00:1:2::/48")),
                src: Some(net("fd00::1/128")),
                ..Default::default()
            },
            Select {
                proto: Some(17),
                sport: Some(1),
                dport: Some(2),
                ..Default::default()
            },
        ];
        for s in cases {
            for v6 in s.families().unwrap() {
                let back = Select::from_keys(v6, &s.keys(v6)).unwrap();
                // A /0 selects everything: no key, so it reads back as absent.
                let mut want = s.clone();
                want.dst = want.dst.filter(|n| n.prefix() > 0);
                assert_eq!(back, want, "{v6}");
            }
        }
    }

    #[test]
    fn keys_are_where_tc_puts_them() {
        let s = Select {
            dst: Some(net("198.18.0.0/24")),
            proto: Some(6),
            dport: Some(80),
            ..Default::default()
        };
        let k: Vec<(i32, u32, u32)> = s
            .keys(false)
            .iter()
            .map(|k| (k.off, k.mask, k.val))
            .collect();
        // `tc filter … u32 match ip protocol 6 0xff match ip dst 198.18.0.0/24 match ip dport 80 0xffff`
        assert_eq!(
            k,
            vec![
                (8, 0x00ff_0000, 0x0006_0000),
                (16, 0xffff_ff00, 0xc612_0000),
                (20, 0x0000_ffff, 80)
            ]
        );
        let s6 = Select {
            dst: Some(net("fd00::/40")),
            ..Default::default()
        };
        let k: Vec<(i32, u32, u32)> = s6
            .keys(true)
            .iter()
            .map(|k| (k.off, k.mask, k.val))
            .collect();
        assert_eq!(k, vec![(24, u32::MAX, 0xfd00_0000), (28, 0xff00_0000, 0)]);
        assert!(Select {
            dst: Some(net("fd00::/8")),
            src: Some(net("198.18.0.1/32")),
            ..Default::default()
        }
        .families()
        .is_err());
    }

    #[test]
    fn validation() {
        let class = |select| Class {
            rate: 1000,
            ceil: 2000,
            prio: 0,
            select,
        };
        let port = Select {
            dport: Some(80),
            ..Default::default()
        };
        let ok = Htb {
            rate: 10_000,
            classes: vec![class(None)],
        };
        assert!(ok.validate().is_ok());
        let no_default = Htb {
            rate: 10_000,
            classes: vec![],
        };
        assert!(no_default.validate().is_err());
        let port_without_proto = Htb {
            rate: 10_000,
            classes: vec![class(Some(port)), class(None)],
        };
        assert!(port_without_proto.validate().is_err());
        let mut low_ceil = ok.clone();
        low_ceil.classes[0].ceil = 10;
        assert!(low_ceil.validate().is_err());
    }

    #[test]
    fn class_options_decode() {
        for (rate, ceil) in [(125_000, 250_000), (1_250_000_000, 10_000_000_000)] {
            assert_eq!(
                decode_class(&class_options(rate, ceil, 3)),
                Some((rate, ceil, 3))
            );
        }
    }
}
