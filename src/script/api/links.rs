//! Links a script holds: reading them, changing their state, MTU, MAC, name and namespace.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "link",
        ["guest: Guest", "name: &str", "Link"],
        "An existing interface inside a guest.",
        move |g: Guest, name: &str| {
            ss.link(&g, name).rhai()?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, name.to_string()))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "links",
        ["guest: Guest", "Array"],
        "Every interface inside a guest, as Link objects.",
        move |g: Guest| {
            let v = ss.links(&g).rhai()?;
            Ok::<_, Box<EvalAltResult>>(
                v.into_iter()
                    .map(|l| Dynamic::from(Link::new(g.clone(), l.name)))
                    .collect::<Array>(),
            )
        }
    );
    let ss = s.clone();
    engine.register_fn("to_string", move |l: &mut Link| link_text(&ss, l));
    let ss = s.clone();
    engine.register_fn("to_debug", move |l: &mut Link| link_text(&ss, l));
    engine.register_get("name", |l: &mut Link| l.name.clone());
    engine.register_get("guest", |l: &mut Link| l.guest.clone());
    let ss = s.clone();
    reg!(
        engine,
        "info",
        ["link: Link", "Map"],
        "Kernel state of a link: #{name, index, kind, mac, mtu, up, state, master, alias}.",
        move |l: Link| {
            let all = ss.links(&l.guest).rhai()?;
            let me = all.iter().find(|x| x.name == l.name).ok_or_else(|| {
                rt(Error::not_found(
                    "interface",
                    &l.name,
                    Some(l.guest.to_string()),
                ))
            })?;
            Ok::<_, Box<EvalAltResult>>(link_map(me, &all))
        }
    );
    // Link state has its own verbs: `down` is teardown (`down()`, `down(owner)`) and `up` is what a
    // recipe's bring-up function is called; one word must not mean both.
    for (verb, up) in [("set_up", true), ("set_down", false)] {
        let ss = s.clone();
        let doc = if up {
            "/// Set a link up (like `ip link set dev IF up`)."
        } else {
            "/// Set a link down (like `ip link set dev IF down`); delete(l) removes it, down() tears a topology down."
        };
        FuncRegistration::new(verb)
            .with_params_info(["link: Link"])
            .with_comments([doc])
            .register_into_engine(engine, move |l: Link| {
                ss.set_link(
                    &l.guest,
                    &l.name,
                    &LinkChange {
                        up: Some(up),
                        ..Default::default()
                    },
                )
                .rhai()
            });
    }
    for (verb, instead) in [("up", "set_up"), ("down", "set_down")] {
        reg!(
            engine,
            verb,
            ["link: Link"],
            "Refused with a pointer: link state is set_up(l) / set_down(l); down() tears a topology down.",
            move |l: Link| Err::<(), _>(rt(Error::invalid(
                "call",
                format!("{verb}({})", l.name),
                format!(
                    "{verb}() is not a link operation: use {instead}(l) to set the link {verb}, delete(l) to remove it, down() or down(owner) to tear a whole topology down"
                ),
            )))
        );
    }
    let ss = s.clone();
    reg!(
        engine,
        "set_mtu",
        ["link: Link", "mtu: i64"],
        "Set a link's MTU.",
        move |l: Link, m: i64| {
            let mtu = parse::mtu(m).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    mtu: Some(mtu),
                    ..Default::default()
                },
            )
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "set_mac",
        ["link: Link", "mac: &str"],
        "Set a link's MAC address.",
        move |l: Link, m: &str| {
            let mac = parse::mac(m).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    mac: Some(mac),
                    ..Default::default()
                },
            )
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "rename",
        ["link: Link", "name: &str", "Link"],
        "Rename a link (it must be down for the kernel to allow it).",
        move |l: Link, n: &str| {
            let n = parse::ifname(n).rhai()?;
            set(
                &ss,
                &l,
                &LinkChange {
                    name: Some(&n),
                    ..Default::default()
                },
            )?;
            Ok::<_, Box<EvalAltResult>>(Link::new(l.guest, n))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "move_to",
        ["link: Link", "guest: Guest", "Link"],
        "Move a link into another guest's namespace (it arrives down).",
        move |l: Link, g: Guest| {
            set(
                &ss,
                &l,
                &LinkChange {
                    netns: Some(g.fd()),
                    ..Default::default()
                },
            )?;
            Ok::<_, Box<EvalAltResult>>(Link::new(g, l.name))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "delete",
        ["link: Link"],
        "Delete a link (a veth takes its peer with it).",
        move |l: Link| ss.del_link(&l.guest, &l.name).rhai()
    );
}
