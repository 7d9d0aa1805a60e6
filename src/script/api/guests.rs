//! Guests: named namespaces, processes, containers, guests from text.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(engine, "netns", ["name: &str", "Guest"],
        "A named network namespace (/run/netns/NAME), created if missing and owned by the current owner.",
        move |name: &str| ss.netns(name).rhai());
    reg!(engine, "pid", ["pid: i64", "Guest"],
        "The network namespace of a running process, pinned now so PID reuse cannot redirect later calls.",
        |p: i64| Guest::pid(p).rhai());
    let ss = s.clone();
    reg!(
        engine,
        "guest",
        ["spec: &str", "Guest"],
        "A guest from text: \"netns:NAME\", \"pid:N\", \"container:NAME\", \"lxc:NAME\", \"host\", or a bare name, resolved as the classic command line does (a Docker/podman container, an LXC container, a named namespace) and created as a namespace only when nothing has that name (a note says so).",
        move |spec: &str| ss.guest(spec).rhai()
    );
    engine.register_fn("guest", |g: Guest| g);
    let ss = s.clone();
    reg!(
        engine,
        "container",
        ["name: &str", "Guest"],
        "A running Docker/podman container by name or id (DOCKER_HOST, else the Docker or podman socket), pinned through its PID namespace fd.",
        move |name: &str| ss.container(name).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "lxc",
        ["name: &str", "Guest"],
        "A running LXC container by name (found through its cgroup, v1 or v2).",
        move |name: &str| ss.lxc(name).rhai()
    );
    let ss = s.clone();
    reg!(
        engine,
        "host",
        ["Guest"],
        "The namespace pipework runs in.",
        move || ss.host()
    );
    let ss = s.clone();
    reg!(
        engine,
        "delete",
        ["guest: Guest"],
        "Delete a named namespace (and every interface inside it).",
        move |g: Guest| ss.delete_netns(&g).rhai()
    );
    engine.register_fn("to_string", |g: &mut Guest| g.to_string());
    engine.register_fn("to_debug", |g: &mut Guest| g.to_string());
    engine.register_get("name", |g: &mut Guest| g.key());
}
