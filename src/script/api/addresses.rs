//! Addresses on links.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "addr",
        ["link: Link", "cidr: &str", "bool"],
        "Add an address (IPv4 or IPv6, with prefix) to a link; false if it was already there.",
        move |l: Link, c: &str| ss
            .addr_add(&l.guest, &l.name, parse::cidr(c).rhai()?)
            .rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addr",
        ["guest: Guest", "ifname: &str", "cidr: &str", "bool"],
        "Add an address to the named interface of a guest.",
        move |g: Guest, i: &str, c: &str| ss.addr_add(&g, i, parse::cidr(c).rhai()?).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addr_del",
        ["link: Link", "cidr: &str"],
        "Remove an address from a link.",
        move |l: Link, c: &str| ss
            .addr_del(&l.guest, &l.name, parse::cidr(c).rhai()?)
            .rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "addrs",
        ["link: Link", "Array"],
        "The addresses on a link, as strings with prefix.",
        move |l: Link| Ok::<_, Box<EvalAltResult>>(strings(
            ss.addrs(&l.guest, &l.name)
                .rhai()?
                .iter()
                .map(|a| a.to_string())
        ))
    );
}
