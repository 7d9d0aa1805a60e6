//! Property tests over everything a user types (classic argv, addresses, MACs, VLANs, units, route,
//! rule and tc strings, names): whatever the input, no panic, and every rejection is a clear error
//! that names what was wrong. Inputs are built from the grammar's own words and mutated, so they
//! reach deep into the parsers instead of failing on the first character. In-process: these are
//! the parsers the binary runs before it touches the kernel.

use pipework::cli::classic::parse_classic;
use pipework::net::{parse_tc, RouteSpec, RuleSpec};
use pipework::parse;
use proptest::prelude::*;

/// Words of the grammars, some valid, some nearly so.
const WORDS: &[&str] = &[
    "br1",
    "ovs0",
    "dummy0",
    "eth0",
    "mac:02:42:ac:11:00:02",
    "--direct-phys",
    "--wait",
    "-i",
    "-l",
    "-a",
    "4",
    "6",
    "inet6",
    "web",
    "netns:web",
    "pid:1",
    "pid:x",
    "container:c",
    "lxc:l",
    "198.18.0.2/24",
    "198.18.0.2/24@198.18.0.1",
    "fd00::2/64@fd00::1",
    "0/0",
    "dhcp",
    "dhcp:-f",
    "udhcpc",
    "udhcpc-f",
    "dhclient:-6",
    "dhcpcd-f",
    "02:42:ac:11:00:02",
    "U:host",
    "@10",
    "@4095",
    "02:42:ac:11:00:02@8001",
    "route",
    "rule",
    "tc",
    "add",
    "del",
    "replace",
    "default",
    "via",
    "dev",
    "metric",
    "table",
    "from",
    "to",
    "priority",
    "10.0.0.0/8",
    "198.51.100.0/24",
    "qdisc",
    "root",
    "netem",
    "tbf",
    "delay",
    "100ms",
    "rate",
    "1mbit",
    "burst",
    "32kbit",
    "latency",
    "loss",
    "5%",
    "",
    "-",
    "@",
    "/",
    ":",
    "\u{202e}",
    " ",
    "999999999999999999999",
    "-1",
];

fn mutate(w: &str, how: u8, byte: u8) -> String {
    let mut s = w.to_string();
    match how % 6 {
        0 => {}
        1 => s.push(byte as char),
        2 => {
            s.pop();
        }
        3 => s.insert(0, byte as char),
        4 => s = s.repeat(3),
        _ => s = s.replace(|c: char| c.is_ascii_digit(), &((byte % 10).to_string())),
    }
    s
}

fn argv() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (0..WORDS.len(), any::<u8>(), any::<u8>()).prop_map(|(i, h, b)| mutate(WORDS[i], h, b)),
        0..8,
    )
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        argv().prop_map(|v| v.join(" ")),
        any::<String>(),
        "[0-9a-fA-F:./@%-]{0,40}",
    ]
}

/// A rejection must say something: a message that is not empty and not a Rust debug dump.
fn clear(e: &pipework::Error) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.trim().is_empty(), "empty error");
    prop_assert!(
        !m.contains("Error {") && !m.contains("panicked"),
        "unclear: {m}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsers_classic_argv_never_panic(args in argv()) {
        if let Err(e) = parse_classic(&args) { clear(&e)?; }
    }

    #[test]
    fn parsers_route_rule_tc_strings_never_panic(t in text()) {
        if let Err(e) = RouteSpec::parse(&t) { clear(&e)?; }
        if let Err(e) = RuleSpec::parse(&t) { clear(&e)?; }
        let words: Vec<String> = t.split_whitespace().map(String::from).collect();
        if let Err(e) = parse_tc(&words) { clear(&e)?; }
    }

    #[test]
    fn parsers_values_never_panic(t in text(), n in any::<i64>()) {
        for r in [
            parse::cidr(&t).map(|_| ()),
            parse::ip(&t).map(|_| ()),
            parse::mac(&t).map(|_| ()),
            parse::pkey(&t).map(|_| ()),
            parse::rate(&t).map(|_| ()),
            parse::size(&t).map(|_| ()),
            parse::duration(&t).map(|_| ()),
            parse::destination(&t, None).map(|_| ()),
            parse::vlan_id(n).map(|_| ()),
        ] {
            if let Err(e) = r { clear(&e)?; }
        }
    }

    /// An accepted name is one every later tool can read: no option look-alike, no white space,
    /// no control or invisible characters. A refused one says why and gives the rule.
    #[test]
    fn parsers_accepted_names_are_safe(t in prop_oneof![any::<String>(), text()]) {
        match parse::safe_name("name", &t) {
            Ok(()) => {
                prop_assert!(!t.is_empty() && !t.starts_with('-'));
                prop_assert!(!t.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/'));
                prop_assert!(!t.chars().any(|c| matches!(c as u32, 0x200B..=0x200F | 0x202A..=0x202E | 0x2066..=0x2069 | 0xFEFF)));
            }
            Err(e) => {
                clear(&e)?;
                prop_assert!(e.to_string().contains(parse::NAME_RULE));
            }
        }
        if let Ok(n) = parse::ifname(&t) {
            prop_assert!(n.len() <= 15 && !n.contains(':'));
            prop_assert!(parse::safe_name("name", &n).is_ok());
        }
    }
}
