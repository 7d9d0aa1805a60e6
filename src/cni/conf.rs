//! What a runtime hands a CNI plugin: the `CNI_*` environment, and the network config on stdin.
//! Keys take the reference plugins' names wherever the concept is the same (`bridge`, `isGateway`,
//! `mtu`, `vlan`, `mac`, `ipam`; `master` + `mode`; …), so a conflist moves over by changing `type`.

use super::CniError;
use crate::driver::Declared;
use crate::parse;
use serde_json::Value;
use std::net::IpAddr;

/// The versions whose configs we read and whose results we write (CHECK needs 0.4.0 or later,
/// STATUS and GC 1.1.0).
pub const VERSIONS: &[&str] = &["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Status,
    Gc,
}

/// The runtime's environment (CNI spec, "Parameters").
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub container_id: Option<String>,
    pub netns: Option<String>,
    pub ifname: Option<String>,
    pub args: Option<String>,
    pub path: Option<String>,
}

impl Env {
    pub fn from_process() -> (Option<String>, Env) {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        (
            get("CNI_COMMAND"),
            Env {
                container_id: get("CNI_CONTAINERID"),
                netns: get("CNI_NETNS"),
                ifname: get("CNI_IFNAME"),
                args: get("CNI_ARGS"),
                path: get("CNI_PATH"),
            },
        )
    }

    /// A variable the verb cannot do without (error 4 when it is missing).
    pub fn need<'a>(&self, v: &'a Option<String>, name: &str) -> Result<&'a str, CniError> {
        v.as_deref()
            .ok_or_else(|| CniError::new(4, format!("{name} is not set; a CNI runtime sets it")))
    }

    /// `CNI_ARGS` as key/value pairs (`IgnoreUnknown=1;MAC=…`): only `MAC` means something here.
    pub fn arg(&self, key: &str) -> Option<String> {
        self.args.as_deref()?.split(';').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k.trim() == key).then(|| v.trim().to_string())
        })
    }
}

impl Command {
    pub fn parse(s: &str) -> Result<Command, CniError> {
        Ok(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "VERSION" => Command::Version,
            "STATUS" => Command::Status,
            "GC" => Command::Gc,
            other => {
                return Err(CniError::new(
                    4,
                    format!(
                        "CNI_COMMAND {other:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"
                    ),
                ))
            }
        })
    }
}

/// Where the guest's interface is joined to the host: the config key that named it, the name,
/// and for IPoIB the partition.
#[derive(Debug, Clone, PartialEq)]
pub struct HostSide {
    pub declared: Declared,
    pub name: String,
    /// `pkey` and `mode` of a child of `master`.
    pub child: crate::driver::Child,
}

#[derive(Debug, Clone)]
pub struct NetConf {
    pub version: String,
    pub name: String,
    pub host: HostSide,
    /// Linux bridge: the gateway address goes onto the bridge (`isGateway`), and the guest's
    /// default route through it (`isDefaultGateway`).
    pub is_gateway: bool,
    pub is_default_gateway: bool,
    pub mtu: Option<u32>,
    pub mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    /// The IPAM plugin's `type`, when addresses are delegated.
    pub ipam: Option<String>,
    /// A token-bucket rate limit on the guest's interface (what `tc(link, #{rate, …})` sets).
    pub rate: Option<crate::net::Tbf>,
    pub prev_result: Option<Value>,
    /// GC: the attachments that stay, (container ID, interface).
    pub valid_attachments: Option<Vec<(String, String)>>,
}

fn invalid(msg: impl std::fmt::Display) -> CniError {
    CniError::new(7, msg.to_string())
}

fn string(o: &Value, key: &str) -> Result<Option<String>, CniError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Err(invalid(format!("{key} must be a string, not {v}"))),
    }
}

fn boolean(o: &Value, key: &str) -> Result<bool, CniError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(invalid(format!("{key} must be true or false, not {v}"))),
    }
}

fn number(o: &Value, key: &str) -> Result<Option<i64>, CniError> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| invalid(format!("{key} must be a whole number, not {v}"))),
    }
}

/// Our own checks of a value speak our error type; in a config they are error 7.
fn checked<T>(r: crate::Result<T>) -> Result<T, CniError> {
    r.map_err(invalid)
}

/// The version a config asks for, if it is one we speak (error 1 otherwise).
pub fn version_of(conf: &Value) -> Result<String, CniError> {
    let v = string(conf, "cniVersion")?
        .ok_or_else(|| invalid("cniVersion is missing from the network config"))?;
    if !VERSIONS.contains(&v.as_str()) {
        return Err(CniError::new(
            1,
            format!(
                "CNI version {v} is not supported (pipework speaks {})",
                VERSIONS.join(", ")
            ),
        ));
    }
    Ok(v)
}

/// Whether `v` is at least `min` (both from VERSIONS or well-formed dotted numbers).
pub fn at_least(v: &str, min: &str) -> bool {
    let n = |s: &str| -> Vec<u32> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    n(v) >= n(min)
}

impl NetConf {
    pub fn parse(conf: &Value, env: &Env) -> Result<NetConf, CniError> {
        if !conf.is_object() {
            return Err(CniError::new(6, "the network config is not a JSON object"));
        }
        let version = version_of(conf)?;
        let name =
            string(conf, "name")?.ok_or_else(|| invalid("name (the network's name) is missing"))?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(invalid(format!(
                "network name {name:?} must be letters, digits, '_', '.' or '-'"
            )));
        }
        // Features of the reference plugins that pipework does not provide are refused by name
        // rather than ignored: a container silently without the NAT it was configured for is
        // worse than a clear error.
        for key in ["ipMasq", "hairpinMode", "promiscMode"] {
            if boolean(conf, key)? {
                return Err(CniError::new(2, format!("{key}: true is not supported by pipework (it makes no NAT or hairpin rules); leave it out or set it false")));
            }
        }
        let host = host_side(conf)?;
        let vlan = number(conf, "vlan")?
            .map(|v| checked(parse::vlan_id(v)))
            .transpose()?;
        let mtu = number(conf, "mtu")?
            .map(|v| checked(parse::mtu(v)))
            .transpose()?;
        // The MAC by precedence as the reference plugins take it: runtimeConfig (the "mac"
        // capability), then CNI_ARGS, then the config's own key.
        let runtime_mac = conf
            .get("runtimeConfig")
            .map(|r| string(r, "mac"))
            .transpose()?
            .flatten();
        let mac = runtime_mac
            .or_else(|| env.arg("MAC"))
            .or(string(conf, "mac")?)
            .map(|m| checked(parse::mac(&m)))
            .transpose()?;
        let ipam = match conf.get("ipam") {
            None | Some(Value::Null) => None,
            Some(i) if i.as_object().is_some_and(|o| o.is_empty()) => None,
            Some(i) => Some(
                string(i, "type")?
                    .ok_or_else(|| invalid("ipam needs a type (host-local, static, dhcp, …)"))?,
            ),
        };
        if let Some(t) = &ipam {
            if t.contains('/') || t.is_empty() {
                return Err(invalid(format!("ipam type {t:?} is not a plugin name")));
            }
        }
        let is_default_gateway = boolean(conf, "isDefaultGateway")?;
        let is_gateway = boolean(conf, "isGateway")? || is_default_gateway;
        if is_gateway && host.declared != Declared::Bridge {
            return Err(invalid(
                "isGateway and isDefaultGateway put an address on a Linux bridge; this network has none",
            ));
        }
        let rate = match conf.get("rate") {
            None | Some(Value::Null) => None,
            Some(Value::String(r)) => Some(crate::net::Tbf::new(
                checked(parse::rate(r))?,
                string(conf, "burst")?
                    .map(|b| checked(parse::size(&b)))
                    .transpose()?,
                string(conf, "latency")?
                    .map(|d| checked(parse::duration(&d)))
                    .transpose()?,
            )),
            Some(v) => {
                return Err(invalid(format!(
                    "rate must be a string like \"10mbit\", not {v}"
                )))
            }
        };
        let valid_attachments = match conf.get("cni.dev/valid-attachments") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| {
                        let id = string(v, "containerID")?;
                        let ifname = string(v, "ifname")?;
                        match (id, ifname) {
                            (Some(i), Some(f)) => Ok((i, f)),
                            _ => Err(invalid(
                                "each of cni.dev/valid-attachments needs containerID and ifname",
                            )),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(_) => return Err(invalid("cni.dev/valid-attachments must be a list")),
        };
        Ok(NetConf {
            version,
            name,
            host,
            is_gateway,
            is_default_gateway,
            mtu,
            mac,
            vlan,
            ipam,
            rate,
            prev_result: conf.get("prevResult").filter(|v| !v.is_null()).cloned(),
            valid_attachments,
        })
    }

    /// Whose objects an attachment's are: one owner per (network, container, interface), as the
    /// spec keys attachments, so DEL of one network leaves the container's others alone. Owners
    /// are at most 64 characters: long parts keep a readable head and a hash of the whole.
    pub fn owner(&self, container_id: &str, ifname: &str) -> String {
        format!(
            "cni:{}:{}:{ifname}",
            short(&self.name, 18),
            short(container_id, 24)
        )
    }

    /// The prefix every owner of this network starts with (GC).
    pub fn owner_prefix(&self) -> String {
        format!("cni:{}:", short(&self.name, 18))
    }
}

/// `s` if it fits in `max` and uses only owner characters (no ':'), else its head and a hash.
fn short(s: &str, max: usize) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if s.len() <= max && s.chars().all(safe) && !s.starts_with('-') {
        return s.to_string();
    }
    let head: String = s.chars().filter(|c| safe(*c)).take(max - 9).collect();
    let head = head.trim_start_matches('-');
    format!("{head}-{:08x}", parse::fnv1a(s.as_bytes()) as u32)
}

/// The one key of `bridge`, `ovs`, `master` a config uses (a reference bridge config names none:
/// its bridge is `cni0`).
fn host_side(conf: &Value) -> Result<HostSide, CniError> {
    let keys: Vec<(&str, String)> = ["bridge", "ovs", "master"]
        .iter()
        .filter_map(|k| string(conf, k).transpose().map(|v| v.map(|v| (*k, v))))
        .collect::<Result<_, _>>()?;
    let (key, name) = match keys.as_slice() {
        [] => ("bridge", "cni0".to_string()),
        [(k, n)] => (*k, n.clone()),
        more => {
            let names: Vec<&str> = more.iter().map(|(k, _)| *k).collect();
            return Err(invalid(format!(
                "name one host side, not {}",
                names.join(" and ")
            )));
        }
    };
    checked(parse::ifname(&name))?;
    let declared = match key {
        "bridge" => Declared::Bridge,
        "ovs" => Declared::Ovs,
        _ => Declared::Parent,
    };
    let pkey = match conf.get("pkey") {
        None | Some(Value::Null) => None,
        Some(_) if key != "master" => {
            return Err(invalid("pkey (an IPoIB partition) goes with master"))
        }
        Some(Value::String(p)) => Some(checked(parse::pkey(p))?),
        Some(v) => {
            return Err(invalid(format!(
                "pkey must be a hex string like \"8001\", not {v}"
            )))
        }
    };
    let macvlan_mode = match string(conf, "mode")? {
        None => None,
        Some(_) if key != "master" => {
            return Err(invalid("mode (a macvlan mode) goes with master"))
        }
        Some(m) => Some(checked(parse::macvlan_mode(&m))?),
    };
    Ok(HostSide {
        declared,
        name,
        child: crate::driver::Child { pkey, macvlan_mode },
    })
}

/// An address of a result (`ips[]`): the interface's address, its gateway, and which of the
/// result's interfaces it is on (an index into `interfaces[]`, when the result says).
#[derive(Debug, Clone, PartialEq)]
pub struct IpConfig {
    pub address: ipnetwork::IpNetwork,
    pub gateway: Option<IpAddr>,
    pub interface: Option<usize>,
}

/// A route of a result (`routes[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    pub dst: ipnetwork::IpNetwork,
    pub gw: Option<IpAddr>,
}

/// The parts of a result (an IPAM plugin's, or a prevResult) this plugin reads.
#[derive(Debug, Clone, Default)]
pub struct Addressing {
    pub ips: Vec<IpConfig>,
    pub routes: Vec<RouteConfig>,
    pub dns: Option<Value>,
}

/// The list a result holds under `key` (none: empty).
pub fn list<'a>(result: &'a Value, key: &str) -> &'a [Value] {
    result
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// An entry's network (`address` of an ips[] entry, `dst` of a route) and its optional gateway.
fn net_and_gateway(
    entry: &Value,
    (net, gw): (&str, &str),
) -> Result<(ipnetwork::IpNetwork, Option<IpAddr>), CniError> {
    let bad = |what: &str| CniError::new(6, format!("result: {what}: {entry}"));
    let network = entry
        .get(net)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(&format!("an entry without its {net} (network/prefix)")))?;
    let gateway = match entry.get(gw).and_then(Value::as_str) {
        None => None,
        Some(g) => Some(g.parse().map_err(|_| bad(gw))?),
    };
    Ok((network, gateway))
}

impl Addressing {
    pub fn parse(result: &Value) -> Result<Addressing, CniError> {
        let mut a = Addressing {
            dns: result.get("dns").filter(|d| !d.is_null()).cloned(),
            ..Default::default()
        };
        for ip in list(result, "ips") {
            let (address, gateway) = net_and_gateway(ip, ("address", "gateway"))?;
            let interface = ip["interface"].as_u64().map(|i| i as usize);
            a.ips.push(IpConfig {
                address,
                gateway,
                interface,
            });
        }
        for r in list(result, "routes") {
            let (dst, gw) = net_and_gateway(r, ("dst", "gw"))?;
            a.routes.push(RouteConfig { dst, gw });
        }
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conf(v: Value) -> Result<NetConf, CniError> {
        NetConf::parse(&v, &Env::default())
    }

    #[test]
    fn reference_bridge_keys() {
        let c = conf(
            json!({"cniVersion": "1.0.0", "name": "net1", "type": "pipework",
            "bridge": "cni9", "isDefaultGateway": true, "mtu": 1400, "vlan": 7,
            "ipam": {"type": "host-local", "subnet": "198.18.0.0/24"}}),
        )
        .unwrap();
        assert_eq!(c.host.declared, Declared::Bridge);
        assert_eq!(c.host.name, "cni9");
        assert!(c.is_gateway && c.is_default_gateway);
        assert_eq!((c.mtu, c.vlan), (Some(1400), Some(7)));
        assert_eq!(c.ipam.as_deref(), Some("host-local"));
        // No host key at all: the reference plugin's default bridge.
        let c = conf(json!({"cniVersion": "1.0.0", "name": "n"})).unwrap();
        assert_eq!(
            (c.host.declared, c.host.name.as_str()),
            (Declared::Bridge, "cni0")
        );
        let c = conf(json!({"cniVersion": "0.4.0", "name": "n", "master": "ib0", "pkey": "8001"}))
            .unwrap();
        assert_eq!(
            (c.host.declared, c.host.child.pkey),
            (Declared::Parent, Some(0x8001))
        );
        let c = conf(json!({"cniVersion": "1.0.0", "name": "n", "master": "e", "mode": "vepa"}))
            .unwrap();
        assert_eq!(
            c.host.child.macvlan_mode,
            Some(crate::net::MacVlanMode::Vepa)
        );
    }

    #[test]
    fn bad_configs_get_the_spec_codes() {
        for (v, code, says) in [
            (json!({"name": "n"}), 7, "cniVersion"),
            (
                json!({"cniVersion": "0.2.0", "name": "n"}),
                1,
                "not supported",
            ),
            (json!({"cniVersion": "1.0.0"}), 7, "name"),
            (json!({"cniVersion": "1.0.0", "name": "a b"}), 7, "letters"),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "bridge": "b", "ovs": "o"}),
                7,
                "one host side",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "ipMasq": true}),
                2,
                "ipMasq",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "master": "e", "mode": "vpea"}),
                7,
                "private, vepa or passthru",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "bridge": "b", "mode": "vepa"}),
                7,
                "goes with master",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "vlan": 5000}),
                7,
                "VLAN",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "mtu": "big"}),
                7,
                "whole number",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "mac": "zz"}),
                7,
                "MAC",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "ipam": {}}),
                0,
                "",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "ipam": {"subnet": "x"}}),
                7,
                "ipam needs a type",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "ovs": "o", "isGateway": true}),
                7,
                "Linux bridge",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "rate": "fast"}),
                7,
                "rate",
            ),
            (
                json!({"cniVersion": "1.0.0", "name": "n", "bridge": "averyveryverylongname"}),
                7,
                "15 bytes",
            ),
            (json!(["x"]), 6, "JSON object"),
        ] {
            match conf(v.clone()) {
                Ok(_) => assert_eq!(code, 0, "{v} was accepted"),
                Err(e) => {
                    assert_eq!(e.code, code, "{v}: {}", e.msg);
                    assert!(e.msg.contains(says), "{v}: {}", e.msg);
                }
            }
        }
    }

    #[test]
    fn owners_are_valid_distinct_and_stable() {
        let c = conf(json!({"cniVersion": "1.0.0", "name": "podman-network-with-a-long-name"}))
            .unwrap();
        let id = "3f2a1b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a";
        let o = c.owner(id, "eth0");
        crate::marker::validate_owner(&o).unwrap();
        assert!(o.len() <= 64 && o.starts_with(&c.owner_prefix()), "{o}");
        assert_eq!(o, c.owner(id, "eth0"));
        assert_ne!(o, c.owner(id, "eth1"));
        let other = format!("{}0", &id[..63]);
        assert_ne!(o, c.owner(&other, "eth0"), "IDs that differ at the end");
        let weird = c.owner("--x:y/z", "eth0");
        crate::marker::validate_owner(&weird).unwrap();
        assert_eq!(
            conf(json!({"cniVersion": "1.0.0", "name": "n"}))
                .unwrap()
                .owner("c1", "eth0"),
            "cni:n:c1:eth0"
        );
    }

    #[test]
    fn mac_precedence_and_args() {
        let env = Env {
            args: Some("IgnoreUnknown=1;MAC=02:00:00:00:00:02".into()),
            ..Default::default()
        };
        let c = NetConf::parse(
            &json!({"cniVersion": "1.0.0", "name": "n", "mac": "02:00:00:00:00:01"}),
            &env,
        )
        .unwrap();
        assert_eq!(c.mac, Some([2, 0, 0, 0, 0, 2]));
        let c = NetConf::parse(
            &json!({"cniVersion": "1.0.0", "name": "n", "runtimeConfig": {"mac": "02:00:00:00:00:03"}}),
            &env,
        )
        .unwrap();
        assert_eq!(c.mac, Some([2, 0, 0, 0, 0, 3]));
    }

    #[test]
    fn results_are_read_once_with_their_interfaces() {
        let a = Addressing::parse(&json!({
            "ips": [{"address": "198.18.0.2/24", "gateway": "198.18.0.1", "interface": 2},
                    {"address": "fd00::2/64"}],
            "routes": [{"dst": "0.0.0.0/0"}, {"dst": "198.51.100.0/24", "gw": "198.18.0.9"}],
            "dns": {"nameservers": ["198.51.100.53"]}}))
        .unwrap();
        assert_eq!(a.ips[0].interface, Some(2));
        assert_eq!(a.ips[0].gateway, Some("198.18.0.1".parse().unwrap()));
        assert_eq!((a.ips[1].interface, a.ips[1].gateway), (None, None));
        assert_eq!(a.routes[1].gw, Some("198.18.0.9".parse().unwrap()));
        assert!(a.dns.is_some());
        for (bad, says) in [
            (json!({"ips": [{"gateway": "198.18.0.1"}]}), "address"),
            (
                json!({"ips": [{"address": "198.18.0.2/24", "gateway": "x"}]}),
                "gateway",
            ),
            (json!({"routes": [{"gw": "198.18.0.1"}]}), "dst"),
            (json!({"routes": [{"dst": "0.0.0.0/0", "gw": "x"}]}), "gw"),
        ] {
            let e = Addressing::parse(&bad).unwrap_err();
            assert_eq!(e.code, 6, "{bad}");
            assert!(e.msg.contains(says), "{bad}: {}", e.msg);
        }
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(at_least("1.0.0", "0.4.0"));
        assert!(at_least("1.1.0", "1.1.0"));
        assert!(!at_least("0.3.1", "0.4.0"));
    }
}
