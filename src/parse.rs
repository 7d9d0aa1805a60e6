//! Validation of everything a user types, done before any kernel state changes so a typo never leaves
//! half a topology behind.

use crate::error::{Error, Result};
use ipnetwork::IpNetwork;
use std::net::IpAddr;

/// Linux IFNAMSIZ is 16 including the NUL.
pub const IFNAMSIZ_MAX: usize = 15;

pub fn ifname(name: &str) -> Result<String> {
    let why = if name.len() > IFNAMSIZ_MAX {
        "Linux limits interface names to 15 bytes".to_string()
    } else if name.contains(':') {
        "interface names cannot contain ':'".to_string()
    } else {
        return safe_name("interface name", name).map(|_| name.to_string());
    };
    Err(Error::invalid("interface name", name, why))
}

/// The rule every name we create or look up obeys (namespaces, bridges, OVS bridges, interfaces,
/// owners). The kernel accepts far more, but every tool that later reads the name — ip,
/// ovs-vsctl, brctl, shell scripts, our own classic argv — takes a leading '-' for an option,
/// splits on white space, and shows control and invisible formatting characters (a bidi
/// override makes `ip netns` listings lie) as nothing at all.
pub const NAME_RULE: &str = "a name must not be empty, '.' or '..', start with '-', or contain '/', white space, control characters or invisible formatting characters (bidi overrides, zero-width marks)";

pub fn safe_name(what: &'static str, name: &str) -> Result<()> {
    let bad = name
        .chars()
        .find(|c| *c == '/' || c.is_whitespace() || c.is_control() || is_format_char(*c));
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name == "." || name == ".." {
        "it is reserved".to_string()
    } else if name.starts_with('-') {
        "it starts with '-', which tools read as an option".to_string()
    } else if let Some(c) = bad {
        format!("it contains {c:?} (U+{:04X})", c as u32)
    } else {
        return Ok(());
    };
    Err(Error::invalid(what, name, format!("{why}; {NAME_RULE}")))
}

/// Unicode "format" characters (category Cf) and the other invisible ones that change how a name
/// reads without being seen: soft hyphen, bidi marks, embeddings, overrides and isolates,
/// zero-width space/joiners, word joiner and invisible operators, BOM, interlinear annotation,
/// tags, variation selectors.
fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x0600..=0x0605 | 0x06DD | 0x070F | 0x08E2 | 0x115F | 0x1160
        | 0x17B4 | 0x17B5 | 0x180B..=0x180F | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F | 0xFEFF | 0xFFA0 | 0xFFF9..=0xFFFB
        | 0x110BD | 0x110CD | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// An address with prefix, e.g. `198.18.0.1/24` or `fd00::1/64`. A bare address gets a host prefix.
pub fn cidr(s: &str) -> Result<IpNetwork> {
    let s = s.trim();
    let net: IpNetwork = s.parse().map_err(|e| {
        Error::invalid(
            "address",
            s,
            format!("expected ADDRESS/PREFIX like 198.18.0.1/24 or fd00::1/64 ({e})"),
        )
    })?;
    Ok(net)
}

/// An IPv6 link-local address (fe80::/10): valid on every link, part of no subnet a guest is given.
pub fn is_link_local(ip: IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local())
}

pub fn ip(s: &str) -> Result<IpAddr> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid("IP address", s, "expected an IPv4 or IPv6 address"))
}

/// A route destination: `default`, a CIDR, or a bare address (host route).
pub fn destination(s: &str, family_hint: Option<IpAddr>) -> Result<IpNetwork> {
    if s == "default" || s == "all" {
        let any: IpAddr = match family_hint {
            Some(IpAddr::V6(_)) => "::".parse().unwrap(),
            _ => "0.0.0.0".parse().unwrap(),
        };
        return Ok(IpNetwork::new(any, 0).expect("prefix 0 is valid"));
    }
    let net = cidr(s)?;
    // `10.1.2.3/8` as a route target is almost certainly a typo for 10.0.0.0/8; the kernel refuses it
    // with a bare EINVAL, so say it plainly here.
    if net.network() != net.ip() {
        return Err(Error::invalid(
            "route destination",
            s,
            format!(
                "host bits are set; did you mean {}/{}?",
                net.network(),
                net.prefix()
            ),
        ));
    }
    Ok(net)
}

pub fn unique_mac(seed: &str) -> [u8; 6] {
    use md5::{Digest, Md5};
    let d = Md5::digest(format!("{seed}\n").as_bytes());
    [0x02, d[0], d[1], d[2], d[3], d[4]]
}

/// A MAC address, or `U:<string>`: the stable MAC the original derives from a string (md5 of the
/// string plus newline, first five bytes, behind a locally administered 02), so a re-created
/// guest keeps its neighbours' ARP entries. The same rule in classic argv and in Rhai.
pub fn mac(s: &str) -> Result<[u8; 6]> {
    if let Some(seed) = s.strip_prefix("U:") {
        return Ok(unique_mac(seed));
    }
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || {
        Error::invalid(
            "MAC address",
            s,
            "expected six hex bytes like 02:42:ac:11:00:02, or U:<string> for a stable MAC derived from the string",
        )
    };
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad());
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if out[0] & 1 == 1 {
        return Err(Error::invalid(
            "MAC address",
            s,
            "multicast bit is set in the first byte; an interface needs a unicast MAC",
        ));
    }
    if out == [0; 6] {
        return Err(Error::invalid(
            "MAC address",
            s,
            "all-zero MAC is not usable",
        ));
    }
    Ok(out)
}

pub fn fmt_mac(m: &[u8]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn mtu(v: i64) -> Result<u32> {
    if (68..=65535).contains(&v) {
        Ok(v as u32)
    } else {
        Err(Error::invalid("MTU", v, "must be between 68 and 65535"))
    }
}

pub fn vlan_id(v: i64) -> Result<u16> {
    if (1..=4094).contains(&v) {
        Ok(v as u16)
    } else {
        Err(Error::invalid("VLAN id", v, "must be between 1 and 4094"))
    }
}

/// A macvlan mode by the name iproute2 and the CNI macvlan plugin give it.
pub fn macvlan_mode(s: &str) -> Result<crate::net::MacVlanMode> {
    use crate::net::MacVlanMode;
    Ok(match s {
        "bridge" => MacVlanMode::Bridge,
        "private" => MacVlanMode::Private,
        "vepa" => MacVlanMode::Vepa,
        "passthru" => MacVlanMode::Passthrough,
        _ => {
            return Err(Error::invalid(
                "macvlan mode",
                s,
                "use bridge (the default), private, vepa or passthru",
            ))
        }
    })
}

/// An InfiniBand partition key, in hex like iproute2 and the original pipework (`8001`, `0x8001`).
/// The kernel sets the full-membership bit itself; 0 and 0x8000 are not partitions.
pub fn pkey(s: &str) -> Result<u16> {
    let t = s.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    let v = u16::from_str_radix(hex, 16).map_err(|_| {
        Error::invalid(
            "IPoIB partition key",
            s,
            "must be 1 to 4 hex digits, like 8001",
        )
    })?;
    if v & 0x7fff == 0 {
        return Err(Error::invalid(
            "IPoIB partition key",
            s,
            "0x0000 and 0x8000 are reserved (invalid partition)",
        ));
    }
    Ok(v)
}

/// `10mbit` → `("10", "mbit")`: the number and the unit after it (empty when there is none).
fn split_unit(s: &str) -> (&str, &str) {
    let s = s.trim();
    s.split_at(s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len()))
}

/// Rates in tc's units: `10mbit`, `1gbit`, `500kbit`, `100bit`, or bytes per second `2mbps`, `100bps`.
/// Returns bytes per second.
pub fn rate(s: &str) -> Result<u64> {
    let t = s.to_ascii_lowercase();
    let (num, unit) = split_unit(&t);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::invalid("rate", s, "expected e.g. 10mbit, 1gbit, 500kbit or 2mbps"))?;
    let bits_per_sec = match unit {
        "bit" | "" => n,
        "kbit" => n * 1e3,
        "mbit" => n * 1e6,
        "gbit" => n * 1e9,
        "bps" => n * 8.0,
        "kbps" => n * 8e3,
        "mbps" => n * 8e6,
        "gbps" => n * 8e9,
        _ => {
            return Err(Error::invalid(
                "rate",
                s,
                "unit must be bit, kbit, mbit, gbit, bps, kbps, mbps or gbps",
            ))
        }
    };
    if !(8.0..=8e12).contains(&bits_per_sec) {
        return Err(Error::invalid("rate", s, "out of range"));
    }
    Ok((bits_per_sec / 8.0) as u64)
}

/// Sizes in tc's units: bytes (`1500`, `1500b`), `32k`/`32kb`, `1m`/`1mb` (powers of 1024), or bits
/// (`32kbit`, `1mbit`). Returns bytes.
pub fn size(s: &str) -> Result<u32> {
    let t = s.to_ascii_lowercase();
    let (num, unit) = split_unit(&t);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::invalid("size", s, "expected e.g. 1500, 32kb, 1mb or 32kbit"))?;
    let bytes = match unit {
        "" | "b" => n,
        "k" | "kb" => n * 1024.0,
        "m" | "mb" => n * 1024.0 * 1024.0,
        "g" | "gb" => n * 1024.0 * 1024.0 * 1024.0,
        "bit" => n / 8.0,
        "kbit" => n * 1024.0 / 8.0,
        "mbit" => n * 1024.0 * 1024.0 / 8.0,
        "gbit" => n * 1024.0 * 1024.0 * 1024.0 / 8.0,
        _ => {
            return Err(Error::invalid(
                "size",
                s,
                "unit must be b, kb, mb, gb, bit, kbit, mbit or gbit",
            ))
        }
    };
    if !(1.0..=u32::MAX as f64).contains(&bytes) {
        return Err(Error::invalid("size", s, "out of range"));
    }
    Ok(bytes as u32)
}

/// Durations like `5s`, `250ms`, `1m`, or a bare number of seconds.
pub fn duration(s: &str) -> Result<std::time::Duration> {
    let s = s.trim();
    let (num, unit) = match split_unit(s) {
        (n, "") => (n, "s"),
        nu => nu,
    };
    let n: f64 = num
        .parse()
        .map_err(|_| Error::invalid("duration", s, "expected e.g. 5s, 250ms, 1m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "us" => n / 1e6,
        _ => return Err(Error::invalid("duration", s, "unit must be us, ms, s or m")),
    };
    if !(0.0..=86400.0).contains(&secs) {
        return Err(Error::invalid(
            "duration",
            s,
            "must be between 0 and one day",
        ));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// The files iproute2 reads table names from (newer ones ship defaults under /usr).
const RT_TABLES: &[&str] = &[
    "/etc/iproute2/rt_tables",
    "/usr/share/iproute2/rt_tables",
    "/usr/lib/iproute2/rt_tables",
];

/// The tables iproute2 knows without its files.
const RT_BUILTIN: [(u32, &str); 4] = [
    (0, "unspec"),
    (253, "default"),
    (254, "main"),
    (255, "local"),
];

/// Every `NUMBER NAME` pair of the rt_tables files and their `.d/*.conf` drop-ins, first wins.
fn rt_table_names() -> Vec<(u32, String)> {
    let mut files: Vec<std::path::PathBuf> = vec![];
    for f in RT_TABLES {
        files.push(f.into());
        let mut d: Vec<_> = std::fs::read_dir(format!("{f}.d"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "conf"))
            .collect();
        d.sort();
        files.extend(d);
    }
    let mut out: Vec<(u32, String)> = RT_BUILTIN
        .iter()
        .map(|(n, s)| (*n, s.to_string()))
        .collect();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut w = line.split_whitespace();
            if let (Some(n), Some(name)) = (w.next(), w.next()) {
                let n = match n.strip_prefix("0x") {
                    Some(h) => u32::from_str_radix(h, 16).ok(),
                    None => n.parse().ok(),
                };
                if let Some(n) = n {
                    if !out.iter().any(|(_, o)| o == name) {
                        out.push((n, name.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// A routing table as iproute2 takes it: a number, or a name from rt_tables (`main`, `local`,
/// `default`, and whatever the admin named there).
pub fn route_table(v: &str) -> Result<u32> {
    if let Ok(n) = v.parse() {
        return Ok(n);
    }
    if let Some((n, _)) = RT_BUILTIN.iter().find(|(_, name)| *name == v) {
        return Ok(*n);
    }
    rt_table_names()
        .into_iter()
        .find(|(_, name)| name == v)
        .map(|(n, _)| n)
        .ok_or_else(|| {
            Error::invalid(
                "routing table",
                v,
                "neither a number nor a name in /etc/iproute2/rt_tables (or its rt_tables.d)",
            )
        })
}

/// The name iproute2 shows for a table number (the number itself when it has none). The files
/// are read only for a table outside the built-in ones: every rule logged and every route listed
/// names its table, and nearly all are main or local.
pub fn route_table_name(n: u32) -> String {
    if let Some((_, name)) = RT_BUILTIN.iter().find(|(t, _)| *t == n) {
        return name.to_string();
    }
    rt_table_names()
        .into_iter()
        .find(|(t, _)| *t == n)
        .map(|(_, name)| name)
        .unwrap_or_else(|| n.to_string())
}

/// 64-bit FNV-1a: a stable, dependency-free hash for deriving short interface names.
pub fn fnv1a(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifnames() {
        assert!(ifname("eth1").is_ok());
        assert!(ifname("a23456789012345").is_ok());
        let e = ifname("a234567890123456").unwrap_err().to_string();
        assert!(e.contains("15 bytes"), "{e}");
        assert!(ifname("").is_err());
        assert!(ifname("a/b").is_err());
        assert!(ifname("a b").is_err());
    }

    #[test]
    fn cidrs() {
        assert_eq!(cidr("198.18.0.1/24").unwrap().prefix(), 24);
        assert_eq!(cidr("198.18.0.1").unwrap().prefix(), 32);
        assert_eq!(cidr("fd00::1/64").unwrap().prefix(), 64);
        assert!(cidr("198.18.0.1/33").is_err());
        assert!(cidr("198.18.0.300/24").is_err());
        assert!(cidr("banana").is_err());
    }

    #[test]
    fn destinations() {
        assert_eq!(
            destination("default", None).unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            destination("default", Some("fd00::1".parse().unwrap()))
                .unwrap()
                .to_string(),
            "::/0"
        );
        assert!(destination("10.1.2.3/8", None)
            .unwrap_err()
            .to_string()
            .contains("10.0.0.0/8"));
    }

    #[test]
    fn macs() {
        assert_eq!(
            mac("02:42:AC:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert!(mac("02:42:ac:11:00").is_err());
        assert!(mac("02:42:ac:11:00:zz").is_err());
        assert!(mac("01:00:5e:00:00:01")
            .unwrap_err()
            .to_string()
            .contains("multicast"));
        assert!(mac("00:00:00:00:00:00").is_err());
        assert_eq!(fmt_mac(&[2, 0x42, 0xac, 0x11, 0, 2]), "02:42:ac:11:00:02");
    }

    #[test]
    fn sizes() {
        assert_eq!(size("1500").unwrap(), 1500);
        assert_eq!(size("32kb").unwrap(), 32 * 1024);
        assert_eq!(size("32kbit").unwrap(), 4096);
        assert_eq!(size("1mb").unwrap(), 1 << 20);
        assert!(size("0").is_err());
        assert!(size("12 parsecs").is_err());
    }

    #[test]
    fn pkeys() {
        assert_eq!(pkey("8001").unwrap(), 0x8001);
        assert_eq!(pkey("0x7fff").unwrap(), 0x7fff);
        assert!(pkey("8000").is_err());
        assert!(pkey("0").is_err());
        assert!(pkey("10000").is_err());
        assert!(pkey("zz").unwrap_err().to_string().contains("hex"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("250ms").unwrap().as_millis(), 250);
        assert_eq!(duration("2").unwrap().as_secs(), 2);
        assert_eq!(duration("1m").unwrap().as_secs(), 60);
        assert!(duration("5 parsecs").is_err());
        assert!(duration("-1s").is_err());
    }

    #[test]
    fn vlans_and_rates() {
        assert_eq!(vlan_id(10).unwrap(), 10);
        assert!(vlan_id(0).is_err());
        assert!(vlan_id(4095).is_err());
        assert_eq!(rate("10mbit").unwrap(), 1_250_000);
        assert_eq!(rate("2mbps").unwrap(), 2_000_000);
        assert!(rate("fast").is_err());
        assert!(rate("10furlongs").is_err());
    }

    #[test]
    fn mtus() {
        assert!(mtu(1500).is_ok());
        assert!(mtu(10).is_err());
        assert!(mtu(70000).is_err());
    }
}
