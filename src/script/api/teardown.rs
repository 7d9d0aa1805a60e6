//! Ownership and teardown.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(
        engine,
        "owner",
        ["name: &str"],
        "Set the owner recorded on everything created from now on.",
        move |o: &str| ss.set_owner(o).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "owner",
        ["String"],
        "The current owner.",
        move || ss.owner()
    );
    let ss = s.clone();
    reg!(engine, "down", ["Map"], "Remove everything the current owner created (links, bridges, namespaces, DHCP clients left running): #{links, netns, dhcp_clients}.",
        move || down_impl(&ss, &ss.owner()));
    let ss = s.clone();
    reg!(
        engine,
        "down",
        ["owner: &str", "Map"],
        "Remove everything a given owner created.",
        move |o: &str| down_impl(&ss, o)
    );
    reg!(
        engine,
        "sleep",
        ["duration: &str"],
        "Pause, e.g. sleep(\"250ms\").",
        |d: &str| {
            std::thread::sleep(parse::duration(d).rhai()?);
            Ok::<_, Box<EvalAltResult>>(())
        }
    );
}

fn down_impl(s: &Session, owner: &str) -> RhaiResult<Map> {
    let r = s.down(owner).rhai()?;
    for note in &r.notes {
        eprintln!("pipework: {note}");
    }
    if !r.errors.is_empty() {
        return err(format!(
            "down({owner:?}) removed what it could, but {} step(s) failed: {}",
            r.errors.len(),
            r.errors.join("; ")
        ));
    }
    let mut m = Map::new();
    m.insert("links".into(), strings(r.links).into());
    m.insert("netns".into(), strings(r.netns).into());
    m.insert("dhcp_clients".into(), strings(r.clients).into());
    Ok(m)
}
