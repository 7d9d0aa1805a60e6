//! What pipework needs from the kernel, said once and up front: without it every call would fail
//! on its first low-level refusal (`bind mount of /run/netns: EPERM`), which names the symptom,
//! not the cause.

use crate::error::{Error, Result};

/// The capabilities plumbing needs, with what each is for.
const NEEDED: &[(u32, &str, &str)] = &[
    (12, "CAP_NET_ADMIN", "links, addresses, routes, bridges"),
    (21, "CAP_SYS_ADMIN", "network namespaces"),
    (13, "CAP_NET_RAW", "ping, gratuitous ARP, DHCP"),
];

/// The effective capability set of this process, from /proc/self/status.
fn effective() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        })
        .unwrap_or(0)
}

/// Fail, before anything is touched, when the process lacks what plumbing needs; the message names
/// what is missing and how to run it.
pub fn require() -> Result<()> {
    let eff = effective();
    let missing: Vec<&(u32, &str, &str)> = NEEDED
        .iter()
        .filter(|(bit, _, _)| eff & (1 << bit) == 0)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list = missing
        .iter()
        .map(|(_, name, why)| format!("{name} ({why})"))
        .collect::<Vec<_>>()
        .join(", ");
    let caps = NEEDED
        .iter()
        .map(|(_, n, _)| n.to_lowercase())
        .collect::<Vec<_>>()
        .join(",");
    Err(Error::Privilege(format!(
        "not enough privilege: plumbing needs root or capabilities this process lacks: {list}; run it with sudo, or give the binary the capabilities: setcap {caps}+ep $(command -v pipework)"
    )))
}
