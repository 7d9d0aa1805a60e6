//! Running things inside guests: programs, ping, gratuitous ARP, waiting for interfaces.

use super::*;

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    let ss = s.clone();
    reg!(engine, "exec", ["guest: Guest", "argv: Array", "Map"],
        "Run a program inside the guest's network namespace (argument vector, no shell): #{code, stdout, stderr}.",
        move |g: Guest, argv: Array| {
            let argv: Vec<String> = argv.into_iter().map(|a| a.to_string()).collect();
            Ok::<_, Box<EvalAltResult>>(exec_result(ss.exec(&g, &argv).rhai()?))
        });
    let ss = s.clone();
    reg!(engine, "exec", ["guest: Guest", "command: &str", "Map"],
        "Run a program inside the guest; the string is split on white space (no shell, no quoting).",
        move |g: Guest, c: &str| {
            let argv: Vec<String> = c.split_whitespace().map(String::from).collect();
            Ok::<_, Box<EvalAltResult>>(exec_result(ss.exec(&g, &argv).rhai()?))
        });
    reg!(engine, "ping", ["guest: Guest", "ip: &str", "bool"],
        "ICMP echo from inside a guest (native, no ping binary needed): true if a reply came within 1 s (3 tries).",
        |g: Guest, ip: &str| ping_impl(&g, ip, &Map::new()));
    reg!(
        engine,
        "ping",
        ["guest: Guest", "ip: &str", "opts: Map", "bool"],
        "ICMP echo with #{count, timeout}: true if any reply arrived.",
        |g: Guest, ip: &str, o: Map| ping_impl(&g, ip, &o)
    );
    reg!(
        engine,
        "tcp",
        ["guest: Guest", "ip: &str", "port: i64", "bool"],
        "Whether a TCP connection from inside the guest to ip:port is accepted within 1 s (a service listens there); refused or silent is false.",
        |g: Guest, ip: &str, port: i64| {
            let dst = parse::ip(ip).rhai()?;
            let Ok(port) = u16::try_from(port) else {
                return err(format!("tcp(): port {port} is not 0-65535"));
            };
            crate::ping::tcp_open(&g, dst, port, std::time::Duration::from_secs(1)).rhai()
        }
    );
}

fn exec_result(out: crate::session::ExecOutput) -> Map {
    let mut m = Map::new();
    m.insert("code".into(), (out.code as i64).into());
    m.insert("stdout".into(), out.stdout.into());
    m.insert("stderr".into(), out.stderr.into());
    m
}

fn ping_impl(g: &Guest, ip: &str, o: &Map) -> RhaiResult<bool> {
    check_keys("ping", o, &["count", "timeout"])?;
    let dst = parse::ip(ip).rhai()?;
    let count = opt_int("ping", o, "count")?.unwrap_or(3).clamp(1, 1000) as u32;
    let timeout = match opt_str("ping", o, "timeout")? {
        Some(t) => parse::duration(&t).rhai()?,
        None => std::time::Duration::from_secs(1),
    };
    // Default: succeed on the first reply (a fresh link may drop the very first packet while the
    // neighbour entry resolves); with an explicit count, send them all.
    if o.contains_key("count") {
        return Ok(crate::ping::ping(g, dst, count, timeout).rhai()?.ok());
    }
    for _ in 0..count {
        if crate::ping::ping(g, dst, 1, timeout).rhai()?.ok() {
            return Ok(true);
        }
    }
    Ok(false)
}
