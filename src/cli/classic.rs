//! The classic pipework command line, parsed into a plain description. Dispatch turns it into the
//! same `Session` calls a script makes, so there is one implementation of every operation.
//!
//!   pipework <hostif> [-i cif] [-l localif] [-a 4|6] <guest> <ip>/<prefix>[@gateway] [mac][@vlan]
//!   pipework <hostif> [-i cif] [-l localif] <guest> dhcp[:opts]|udhcpc|dhclient|dhcpcd[-f][:opts] [mac][@vlan]
//!   pipework mac:<host-mac> …          pipework --direct-phys <phys> …
//!   pipework route|rule|tc <guest> <args…>
//!   pipework --wait [-i cif]

use crate::error::{Error, Result};
use crate::parse;
use ipnetwork::IpNetwork;
use std::net::IpAddr;

/// The original's grammar, as `--help` and every usage error show it.
macro_rules! grammar {
    () => {
        "\
Syntax (classic pipework command lines):
  pipework <hostif> [-i cif] [-l localif] [-a 4|6] <guest> <ip>/<prefix>[@gateway] [mac][@vlan]
  pipework <hostif> [-i cif] [-l localif] <guest> dhcp[:client-opts] [mac][@vlan]
  pipework <hostif> … <guest> udhcpc|dhclient|dhcpcd|udhcpc-f|dhclient-f[:client-opts] [mac][@vlan]
  pipework mac:<host-interface-mac> [-i cif] [-l localif] [-a 4|6] <guest> <ip>/<prefix>[@gw] [mac][@vlan]
  pipework --direct-phys <phys-if> [-i cif] <guest> <ip>/<prefix>[@gateway] [mac]
  pipework route <guest> <route-command>      (e.g. pipework route web add 10.0.0.0/8 via 192.168.1.254)
  pipework rule <guest> <rule-command>
  pipework tc <guest> <tc-command>
  pipework --wait [-i cif]

  <hostif>  br*: Linux bridge (created if missing); ovs*: Open vSwitch bridge; dummy*: dummy
            interface; an existing interface: bridge, OVS bridge, InfiniBand port (IPoIB, guest
            interface ib0) or physical (macvlan) as it is.
  <guest>   Docker/podman container name or id, LXC container, or a named netns (netns:NAME, pid:N).
  <ip>      0/0 configures the interface without an address.
  dhcp      pipework's own DHCP client; the lease is applied and kept renewed (PIPEWORK_DHCP_TIMEOUT,
            default 10s). dhcp:OPTS takes udhcpc's options that mean something to it: -f keep
            renewing (the default), -q one lease and no renewal (the original's plain dhcp),
            -x hostname:NAME or -H NAME, -T SECONDS. udhcpc, dhclient, dhcpcd: the host's client,
            once; -f: left running; :OPTS are passed to it (dhclient:-6 asks for DHCPv6).
            DNS from the lease goes into the guest's resolv.conf, never the host's.
  [mac]     a MAC address, or U:<string> for a stable MAC derived from the string.
  [@vlan]   VLAN tag (OVS bridges, physical interfaces); on an InfiniBand port, the partition key
            in hex (@8001)."
    };
}

/// The classic grammar, for the end of `--help` (and of `pipework` with no arguments).
pub const GRAMMAR: &str = grammar!();

pub const SYNTAX: &str = concat!(
    grammar!(),
    "\n\nScriptable verbs: pipework run FILE | repl | -e EXPR | down | show | graph | save | watch | check | doc | recipes | completions (pipework --help)."
);

#[derive(Clone, Debug, PartialEq)]
pub enum HostIf {
    Name(String),
    /// `mac:<addr>`: the host interface with that MAC.
    Mac(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Addr {
    /// `0/0`: interface without an address.
    None,
    Static {
        net: IpNetwork,
        gateway: Option<IpAddr>,
    },
    /// `dhcp`, `udhcpc`, `dhclient`, `dhcpcd`, with `-f` for keep-running and `:opts`.
    Dhcp {
        client: String,
        foreground: bool,
        opts: String,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attach {
    pub host: HostIf,
    pub direct_phys: bool,
    pub cif: Option<String>,
    pub lif: Option<String>,
    pub family: Option<u8>,
    pub guest: String,
    pub addr: Addr,
    pub mac: Option<[u8; 6]>,
    /// What follows `@` after the MAC: a VLAN id (decimal), or for an InfiniBand host interface a
    /// partition key (hex, like the original). Which one depends on the host interface, so it is
    /// checked at dispatch — still before anything is created.
    pub tag: Option<String>,
}

impl Attach {
    pub fn vlan(&self) -> Result<Option<u16>> {
        self.tag
            .as_deref()
            .map(|v| {
                let n: i64 = v
                    .parse()
                    .map_err(|_| Error::invalid("VLAN id", v, "must be a number"))?;
                parse::vlan_id(n)
            })
            .transpose()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Classic {
    Attach(Attach),
    Route { guest: String, args: Vec<String> },
    Rule { guest: String, args: Vec<String> },
    Tc { guest: String, args: Vec<String> },
    Wait { cif: String },
}

fn usage(why: impl std::fmt::Display) -> Error {
    Error::invalid("command line", why, SYNTAX)
}

pub fn parse_classic(args: &[String]) -> Result<Classic> {
    let mut a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    if a.is_empty() {
        return Err(usage("no arguments"));
    }
    if a[0] == "--wait" {
        let cif = match a.as_slice() {
            [_] => "eth1".to_string(),
            [_, "-i", c] => parse::ifname(c)?,
            _ => return Err(usage("--wait takes only [-i containerinterface]")),
        };
        return Ok(Classic::Wait { cif });
    }
    let direct_phys = a[0] == "--direct-phys";
    if direct_phys {
        a.remove(0);
    }
    let Some(hostif) = a.first().copied() else {
        return Err(usage("missing host interface"));
    };
    if matches!(hostif, "route" | "rule" | "tc") && !direct_phys {
        let (Some(guest), rest) = (a.get(1), a.get(2..).unwrap_or_default()) else {
            return Err(usage(format!(
                "`pipework {hostif}` needs a guest and a command"
            )));
        };
        if rest.is_empty() {
            return Err(usage(format!(
                "`pipework {hostif} {guest}` needs a command"
            )));
        }
        let guest = guest.to_string();
        let args = rest.iter().map(|s| s.to_string()).collect();
        return Ok(match hostif {
            "route" => Classic::Route { guest, args },
            "rule" => Classic::Rule { guest, args },
            _ => Classic::Tc { guest, args },
        });
    }
    let host = match hostif.strip_prefix("mac:") {
        Some(m) => {
            parse::mac(m)?;
            HostIf::Mac(m.to_ascii_lowercase())
        }
        None => HostIf::Name(parse::ifname(hostif)?),
    };
    // Options come in the original's fixed order: -i, then -l, then -a.
    let mut rest = &a[1..];
    let mut take = |flag: &str| -> Result<Option<String>> {
        if rest.first() == Some(&flag) {
            let v = rest
                .get(1)
                .ok_or_else(|| usage(format!("{flag} needs a value")))?;
            let v = v.to_string();
            rest = &rest[2..];
            Ok(Some(v))
        } else {
            Ok(None)
        }
    };
    let cif = take("-i")?.map(|c| parse::ifname(&c)).transpose()?;
    let lif = take("-l")?.map(|c| parse::ifname(&c)).transpose()?;
    let family = match take("-a")?.as_deref() {
        None => None,
        Some("4") | Some("inet") => Some(4),
        Some("6") | Some("inet6") => Some(6),
        Some(x) => return Err(usage(format!("-a takes 4 or 6, not {x:?}"))),
    };
    let (guest, ipspec, macspec) = match rest {
        [g, ip] => (*g, *ip, None),
        [g, ip, m] => (*g, *ip, Some(*m)),
        [] | [_] => return Err(usage("missing <guest> and <ip>/<prefix> (or dhcp)")),
        _ => {
            return Err(usage(format!(
                "unexpected extra arguments {:?}",
                &rest[3..]
            )))
        }
    };
    let addr = parse_addr(ipspec, family)?;
    let (mac, vlan) = match macspec {
        None => (None, None),
        Some(m) => {
            let (mac, vlan) = match m.split_once('@') {
                Some((m, v)) => (m, Some(v)),
                None => (m, None),
            };
            let mac = if mac.is_empty() {
                None
            } else {
                Some(parse::mac(mac)?)
            };
            if let Some(v) = vlan {
                if v.parse::<u16>().is_err() && parse::pkey(v).is_err() {
                    return Err(Error::invalid(
                        "VLAN id",
                        v,
                        "must be a number from 1 to 4094 (or, on an InfiniBand host interface, a hex partition key)",
                    ));
                }
            }
            (mac, vlan.map(String::from))
        }
    };
    Ok(Classic::Attach(Attach {
        host,
        direct_phys,
        cif,
        lif,
        family,
        guest: guest.to_string(),
        addr,
        mac,
        tag: vlan,
    }))
}

fn parse_addr(s: &str, family: Option<u8>) -> Result<Addr> {
    let (client_word, opts) = s.split_once(':').unwrap_or((s, ""));
    if matches!(
        client_word,
        "dhcp" | "udhcpc" | "udhcpc-f" | "dhclient" | "dhclient-f" | "dhcpcd" | "dhcpcd-f"
    ) {
        let foreground = client_word.ends_with("-f");
        return Ok(Addr::Dhcp {
            client: client_word.trim_end_matches("-f").to_string(),
            foreground,
            opts: opts.to_string(),
        });
    }
    if s == "0/0" {
        return Ok(Addr::None);
    }
    let (ip, gw) = match s.split_once('@') {
        Some((ip, gw)) => (ip, Some(parse::ip(gw)?)),
        None => (s, None),
    };
    if !ip.contains('/') {
        return Err(Error::invalid(
            "address",
            ip,
            format!("the address needs a prefix length; maybe you meant {ip}/24?"),
        ));
    }
    let net = parse::cidr(ip)?;
    let want_v6 = match family {
        Some(6) => true,
        Some(_) => false,
        None => net.is_ipv6(),
    };
    if net.is_ipv6() != want_v6 {
        return Err(Error::invalid(
            "address",
            ip,
            "does not match the -a address family",
        ));
    }
    if let Some(g) = gw {
        if g.is_ipv6() != net.is_ipv6() {
            return Err(Error::invalid(
                "gateway",
                g,
                "is not the same IP family as the address",
            ));
        }
    }
    Ok(Addr::Static { net, gateway: gw })
}

/// How a classic `dhcp…` address is obtained.
enum DhcpPlan {
    /// `dhcp`: pipework's own client (the original ran busybox udhcpc in a helper container).
    Native(crate::dhcp::DhcpOpts),
    /// `udhcpc`, `dhclient`, `dhcpcd`, `…-f`: the host's client, as the original did.
    External(crate::dhcp::external::External),
}

/// `dhcp[:OPTS]`: the original ran busybox udhcpc with OPTS, and `dhcp:-f` was its way to keep
/// renewing. Ours renews by default; the udhcpc options that mean something to the built-in
/// client keep their meaning: `-f` keep renewing, `-q` one lease and no renewal (the original's
/// plain `dhcp`), `-x hostname:NAME` / `-H NAME` the hostname sent, `-T SECONDS` per-try time, as
/// the total wait here. Any other option is refused and says where it would work (udhcpc:OPTS).
fn native_opts(copts: &str) -> Result<crate::dhcp::DhcpOpts> {
    let mut o = crate::dhcp::DhcpOpts {
        keep: true,
        ..Default::default()
    };
    if let Ok(t) = std::env::var("PIPEWORK_DHCP_TIMEOUT") {
        o.timeout = parse::duration(&t)?;
    }
    let refuse = |what: &str, why: &str| Error::invalid("DHCP option", what, why);
    let mut words = copts.split_whitespace();
    while let Some(w) = words.next() {
        let mut value = |name: &str| {
            words
                .next()
                .ok_or_else(|| refuse(w, &format!("needs a {name} after it")))
        };
        match w {
            "-f" | "--foreground" => o.keep = true,
            "-q" | "--quit" => o.keep = false,
            "-x" => {
                let v = value("hostname:NAME")?;
                o.hostname = Some(
                    v.strip_prefix("hostname:")
                        .ok_or_else(|| refuse(v, "the built-in client sends only hostname:NAME"))?
                        .to_string(),
                );
            }
            "-H" | "-h" | "--hostname" => o.hostname = Some(value("NAME")?.to_string()),
            "-T" | "--timeout" => {
                let v = value("number of seconds")?;
                o.timeout = parse::duration(&format!("{v}s"))?;
            }
            other => {
                return Err(refuse(
                    other,
                    "the built-in client (dhcp) understands -f, -q, -x hostname:NAME, -H NAME and -T SECONDS; for other udhcpc options use udhcpc:OPTS, which runs the host's udhcpc",
                ))
            }
        }
    }
    Ok(o)
}

fn dhcp_plan(client: &str, foreground: bool, copts: &str) -> Result<DhcpPlan> {
    if client == "dhcp" {
        return Ok(DhcpPlan::Native(native_opts(copts)?));
    }
    if client == "dhcpcd" && foreground {
        return Err(Error::invalid(
            "DHCP client",
            "dhcpcd-f",
            "is not a classic form (dhcpcd keeps its own pid files, so pipework could not stop it later); use udhcpc-f or dhclient-f",
        ));
    }
    let e = crate::dhcp::external::External {
        client: client.to_string(),
        keep: foreground,
        args: copts.split_whitespace().map(String::from).collect(),
    };
    crate::dhcp::external::check_installed(&e.client)?;
    Ok(DhcpPlan::External(e))
}

fn run_dhcp(
    s: &crate::session::Session,
    g: &crate::guest::Guest,
    ifname: &str,
    plan: &DhcpPlan,
) -> Result<()> {
    match plan {
        DhcpPlan::Native(o) => {
            let mut o = o.clone();
            if o.hostname.is_none() {
                o.hostname = crate::dhcp::default_hostname(g);
            }
            let r = s.dhcp(g, ifname, &o)?;
            let dns = match &r.resolv {
                Ok(path) => format!("DNS written to {path}"),
                Err(why) => format!("DNS not written: {why}"),
            };
            let keeper = r
                .keeper
                .map(|p| format!("; renewed in the background (pid file {})", p.display()))
                .unwrap_or_default();
            eprintln!(
                "pipework: {ifname} in {g}: leased {}; {dns}{keeper}",
                r.lease
            );
        }
        DhcpPlan::External(e) => {
            let summary = s.dhcp_client(g, ifname, e)?;
            eprintln!("pipework: {summary}");
        }
    }
    Ok(())
}

/// `route`/`rule`/`tc` in a form pipework does not speak itself (`show`, `flush`, named tables,
/// htb classes, filters…): the real iproute2 tool inside the guest's namespace with the same
/// argument vector, as the original ran it; its output and exit status are the command's, and a
/// line on stderr says which path ran.
fn passthrough(
    s: &crate::session::Session,
    g: &crate::guest::Guest,
    tool: &[&str],
    args: &[String],
    why: Error,
) -> Result<()> {
    let mut argv: Vec<String> = tool.iter().map(|t| t.to_string()).collect();
    argv.extend(args.iter().cloned());
    eprintln!(
        "pipework: ran `{}` inside {g} (not a form pipework plumbs itself: {why})",
        argv.join(" ")
    );
    let out = s.exec(g, &argv)?;
    out!("{}", out.stdout);
    eprint!("{}", out.stderr);
    if out.code == 0 {
        Ok(())
    } else {
        Err(Error::external(
            argv.join(" "),
            format!("exited with status {} in {g}", out.code),
        ))
    }
}

/// Run a parsed classic command through the same core calls scripts use.
pub fn run(cmd: Classic, verbose: bool) -> Result<()> {
    use crate::session::Session;
    // `--wait` runs inside a container as its entrypoint, without privileges: it only watches
    // its own links, which needs none.
    if !matches!(cmd, Classic::Wait { .. }) {
        crate::privilege::require()?;
    }
    let s = Session::new(verbose)?;
    let res = dispatch(&s, cmd);
    super::settle(&s);
    s.trace(format_args!("done"));
    res
}

fn dispatch(s: &crate::session::Session, cmd: Classic) -> Result<()> {
    use crate::driver::AttachOpts;
    use crate::session::BridgeOpts;
    match cmd {
        Classic::Route { guest, args } => {
            let g = s.guest_existing(&guest)?;
            match crate::net::RouteSpec::parse(&args.join(" ")) {
                Ok(spec) => s.route(&g, &spec).map(|_| ()),
                Err(why) => passthrough(s, &g, &["ip", "route"], &args, why),
            }
        }
        Classic::Rule { guest, args } => {
            let g = s.guest_existing(&guest)?;
            match crate::net::RuleSpec::parse(&args.join(" ")) {
                Ok(spec) => s.rule(&g, &spec).map(|_| ()),
                Err(why) => passthrough(s, &g, &["ip", "rule"], &args, why),
            }
        }
        Classic::Tc { guest, args } => {
            let g = s.guest_existing(&guest)?;
            match crate::net::parse_tc(&args) {
                Ok((dev, q)) => s.tc(&g, &dev, &q),
                Err(why) => passthrough(s, &g, &["tc"], &args, why),
            }
        }
        // Run inside the container (as its entrypoint, before the app): block until pipework, run
        // from the host, has plumbed the interface — like the original, existence is enough.
        Classic::Wait { cif } => {
            let timeout = std::env::var("PIPEWORK_WAIT_TIMEOUT")
                .ok()
                .map(|t| parse::duration(&t))
                .transpose()?;
            s.wait_configured(&s.host(), &cif, timeout).map(|_| ())
        }
        Classic::Attach(a) => {
            let host_name = match &a.host {
                HostIf::Name(n) => n.clone(),
                HostIf::Mac(m) => s
                    .links(&s.host())?
                    .into_iter()
                    .find(|l| l.mac_text().as_deref() == Some(m.as_str()))
                    .map(|l| l.name)
                    .ok_or_else(|| {
                        Error::not_found("host interface with MAC", m, Some("host".into()))
                    })?,
            };
            let mut opts = AttachOpts {
                ifname: a.cif.clone().unwrap_or_else(|| "eth1".into()),
                host_ifname: a.lif.clone(),
                mac: a.mac,
                ..Default::default()
            };
            match &a.addr {
                Addr::None => {}
                Addr::Static { net, gateway } => {
                    opts.ips.push(*net);
                    opts.gateway = *gateway;
                }
                Addr::Dhcp { .. } => {}
            }
            // Decided and checked before anything is created: bad client options change nothing.
            let dhcp = match &a.addr {
                Addr::Dhcp {
                    client,
                    foreground,
                    opts: copts,
                } => Some(dhcp_plan(client, *foreground, copts)?),
                _ => None,
            };
            let declared = crate::driver::Declared::classic(a.direct_phys);
            let kind = s.host_kind(&host_name, declared)?;
            // The original names IPoIB children ib0 unless told otherwise (the module is fussy), and
            // reads `@…` as their partition key.
            let mut pkey = None;
            if matches!(kind, HostKind::Ipoib) {
                if a.cif.is_none() {
                    opts.ifname = "ib0".into();
                }
                pkey = a.tag.as_deref().map(parse::pkey).transpose()?;
            } else {
                opts.vlan = a.vlan()?;
            }
            use crate::driver::HostKind;
            let child = crate::driver::Child {
                pkey,
                ..Default::default()
            };
            let driver = match kind.driver(&host_name, declared, child) {
                Some(d) => d,
                None => {
                    if dhcp.is_some() {
                        return Err(Error::invalid(
                            "address",
                            "dhcp",
                            "a dummy interface is on no segment a DHCP server could answer from",
                        ));
                    }
                    if opts.vlan.is_some() {
                        return Err(Error::invalid(
                            "option",
                            "vlan",
                            "a dummy interface carries no VLAN tag",
                        ));
                    }
                    opts.validate_common()?;
                    let g = s.guest_existing(&a.guest)?;
                    s.set_owner(&crate::marker::sanitize_owner(&a.guest))?;
                    return s.dummy(&g, &opts).map(|_| ()).inspect_err(|_| {
                        s.rollback();
                    });
                }
            };
            // Validate everything before creating anything, so bad input changes nothing.
            driver.validate(&opts)?;
            let g = s.guest_existing(&a.guest)?;
            s.set_owner(&crate::marker::sanitize_owner(&a.guest))?;
            let res = match kind {
                HostKind::Bridge { create: true } => {
                    s.bridge(&host_name, &BridgeOpts::default()).map(|_| ())
                }
                HostKind::Ovs => s.ovs_bridge(&host_name).map(|_| ()),
                _ => Ok(()),
            }
            .and_then(|_| s.attach(&g, driver.as_ref(), &opts))
            .and_then(|att| match &dhcp {
                None => Ok(()),
                Some(plan) => run_dhcp(s, &g, &att.ifname, plan),
            });
            match res {
                Ok(_) => Ok(()),
                Err(e) => {
                    s.rollback();
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Classic> {
        parse_classic(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    fn attach(s: &str) -> Attach {
        match p(s).unwrap() {
            Classic::Attach(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unique_mac_matches_the_original() {
        assert_eq!(
            parse::fmt_mac(&parse::unique_mac("myhost.foo.com")),
            "02:72:6c:cd:9b:8d"
        );
    }

    #[test]
    fn basic_forms() {
        let a = attach("br1 web 192.168.1.1/24@192.168.1.254");
        assert_eq!(a.host, HostIf::Name("br1".into()));
        assert_eq!(a.guest, "web");
        assert_eq!(
            a.addr,
            Addr::Static {
                net: "192.168.1.1/24".parse().unwrap(),
                gateway: Some("192.168.1.254".parse().unwrap())
            }
        );
        let a = attach("br1 -i eth2 -l vethweb -a 6 web fd00::5/64 02:00:00:00:00:05@10");
        assert_eq!(a.cif.as_deref(), Some("eth2"));
        assert_eq!(a.lif.as_deref(), Some("vethweb"));
        assert_eq!(a.family, Some(6));
        assert_eq!(a.mac, Some([2, 0, 0, 0, 0, 5]));
        assert_eq!(a.vlan().unwrap(), Some(10));
        let a = attach("ovs0 web 0/0 U:myhost.foo.com");
        assert_eq!(a.addr, Addr::None);
        assert_eq!(a.mac, Some(parse::unique_mac("myhost.foo.com")));
        let a = attach("mac:02:AA:bb:cc:dd:ee web 10.0.0.2/8");
        assert_eq!(a.host, HostIf::Mac("02:aa:bb:cc:dd:ee".into()));
        let a = attach("--direct-phys eth3 web 10.0.0.2/8");
        assert!(a.direct_phys);
        let a = attach("eth0 web 10.0.0.2/8 @7");
        assert_eq!((a.mac, a.vlan().unwrap()), (None, Some(7)));
        // The tag is read by the host interface's kind: decimal VLAN id, or hex IPoIB P_Key.
        let a = attach("ib0 web 10.0.0.2/8 @8001");
        assert_eq!(a.tag.as_deref(), Some("8001"));
        assert!(a.vlan().is_err());
        assert_eq!(parse::pkey(a.tag.as_deref().unwrap()).unwrap(), 0x8001);
    }

    /// `dhcp:OPTS` keeps the udhcpc options' meanings where the built-in client has one.
    #[test]
    fn dhcp_options_of_the_builtin_client() {
        let o = native_opts("").unwrap();
        assert!(o.keep && o.hostname.is_none());
        assert!(native_opts("-f").unwrap().keep);
        assert!(
            !native_opts("-q").unwrap().keep,
            "-q: one lease, the original's plain dhcp"
        );
        let o = native_opts("-q -x hostname:web1 -T 3").unwrap();
        assert_eq!(o.hostname.as_deref(), Some("web1"));
        assert_eq!(o.timeout, std::time::Duration::from_secs(3));
        assert_eq!(
            native_opts("-H db").unwrap().hostname.as_deref(),
            Some("db")
        );
        for (bad, says) in [
            ("-O staticroutes", "udhcpc:OPTS"),
            ("-x lease:60", "hostname:NAME"),
            ("-T", "needs a number of seconds"),
        ] {
            let e = native_opts(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn dhcp_forms() {
        for (arg, client, fg, opts) in [
            ("dhcp", "dhcp", false, ""),
            ("dhcp:-f", "dhcp", false, "-f"),
            ("udhcpc", "udhcpc", false, ""),
            ("udhcpc-f", "udhcpc", true, ""),
            ("dhclient-f:-v", "dhclient", true, "-v"),
            ("dhcpcd", "dhcpcd", false, ""),
        ] {
            let a = attach(&format!("br1 web {arg}"));
            assert_eq!(
                a.addr,
                Addr::Dhcp {
                    client: client.into(),
                    foreground: fg,
                    opts: opts.into()
                },
                "{arg}"
            );
        }
    }

    #[test]
    fn passthrough_and_wait() {
        assert_eq!(
            p("route web add 10.0.0.0/8 via 192.168.1.254").unwrap(),
            Classic::Route {
                guest: "web".into(),
                args: "add 10.0.0.0/8 via 192.168.1.254"
                    .split(' ')
                    .map(String::from)
                    .collect()
            }
        );
        assert!(matches!(
            p("tc web qdisc add dev eth1 root netem delay 10ms").unwrap(),
            Classic::Tc { .. }
        ));
        assert!(matches!(
            p("rule web add from 10.0.0.0/8 table 10").unwrap(),
            Classic::Rule { .. }
        ));
        assert_eq!(p("--wait").unwrap(), Classic::Wait { cif: "eth1".into() });
        assert_eq!(
            p("--wait -i eth3").unwrap(),
            Classic::Wait { cif: "eth3".into() }
        );
    }

    #[test]
    fn bad_input_explains_syntax() {
        for (bad, why) in [
            ("br1", "missing <guest>"),
            ("br1 web", "missing <guest>"),
            ("br1 web 10.0.0.2", "maybe you meant 10.0.0.2/24"),
            ("br1 web 10.0.0.2/33", "invalid address"),
            ("br1 web 10.0.0.2/24@fd00::1", "same IP family"),
            ("br1 web 10.0.0.2/24 zz:00:00:00:00:01", "invalid MAC"),
            ("br1 web 10.0.0.2/24 02:00:00:00:00:01@vlan5", "VLAN id"),
            ("br1 web 10.0.0.2/24 02:00:00:00:00:01@", "VLAN id"),
            ("br1 -a 5 web 10.0.0.2/24", "-a takes 4 or 6"),
            ("br1 -a 6 web 10.0.0.2/24", "address family"),
            ("br1 -i averyveryverylongname web 10.0.0.2/24", "15 bytes"),
            ("thisbridgenameistoolong web 10.0.0.2/24", "15 bytes"),
            (
                "br1 web 10.0.0.2/24 02:00:00:00:00:01 extra",
                "unexpected extra",
            ),
            ("route web", "needs a command"),
            ("--wait -x", "--wait takes only"),
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        // Usage errors carry the full syntax block.
        assert!(p("br1")
            .unwrap_err()
            .to_string()
            .contains("pipework route <guest>"));
    }
}
