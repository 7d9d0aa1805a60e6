//! The registered Rhai API: thin glue from script values to `Session` calls. Each function carries its
//! doc comment in the engine's metadata, which is what `pipework doc` and the REPL's `:doc` print.

use super::opts::{check_keys, err, opt_bool, opt_int, opt_str, opt_strs, RhaiResult};
use crate::driver::{AttachOpts, Attachment, LinuxBridge};
use crate::error::Error;
use crate::guest::Guest;
use crate::net::{LinkChange, LinkState, RouteOp, RouteSpec};
use crate::parse;
use crate::session::{Bridge, BridgeOpts, Session};
use rhai::{Array, Dynamic, Engine, EvalAltResult, FuncRegistration, Map, NativeCallContext, AST};
use std::rc::Rc;

/// An Open vSwitch bridge (a distinct type so `veth()` picks the OVS driver).
#[derive(Clone, Debug)]
pub struct OvsBr(pub String);

/// An interface inside a guest, looked up by name whenever it is used.
#[derive(Clone, Debug)]
pub struct Link {
    pub guest: Guest,
    pub name: String,
}

impl Link {
    pub fn new(guest: Guest, name: impl Into<String>) -> Link {
        Link {
            guest,
            name: name.into(),
        }
    }
}

/// A pipework error as Rhai sees it: a map a script's `catch (e)` can read — `e.kind` (see
/// `Error::kind`) and `e.message`; an uncaught one prints as its message with the script line.
fn rt(e: Error) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("kind".into(), e.kind().into());
    m.insert("message".into(), e.to_string().into());
    EvalAltResult::ErrorRuntime(m.into(), rhai::Position::NONE).into()
}

trait IntoRhai<T> {
    fn rhai(self) -> RhaiResult<T>;
}

impl<T> IntoRhai<T> for crate::error::Result<T> {
    fn rhai(self) -> RhaiResult<T> {
        self.map_err(rt)
    }
}

fn strings(v: impl IntoIterator<Item = String>) -> Array {
    v.into_iter().map(Dynamic::from).collect()
}

fn link_map(s: &LinkState, links: &[LinkState]) -> Map {
    let mut m = Map::new();
    m.insert("name".into(), s.name.clone().into());
    m.insert("index".into(), (s.index as i64).into());
    m.insert("kind".into(), s.kind.clone().unwrap_or_default().into());
    m.insert("mac".into(), s.mac_text().unwrap_or_default().into());
    m.insert("mtu".into(), (s.mtu as i64).into());
    m.insert("up".into(), s.up.into());
    m.insert("state".into(), s.oper.clone().into());
    let master = s
        .master
        .and_then(|i| links.iter().find(|l| l.index == i))
        .map(|l| l.name.clone());
    m.insert(
        "master".into(),
        master.map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m.insert(
        "alias".into(),
        s.alias.clone().map(Dynamic::from).unwrap_or(Dynamic::UNIT),
    );
    m
}

macro_rules! reg {
    ($engine:expr, $name:expr, [$($p:expr),*], $doc:expr, $f:expr) => {
        FuncRegistration::new($name)
            .with_params_info([$($p),*])
            .with_comments([concat!("/// ", $doc)])
            .register_into_engine($engine, $f);
    };
}

mod addresses;
mod attach;
mod exec;
mod guests;
mod links;
mod local;
mod qdisc;
mod recipes;
mod routes;
mod teardown;
pub mod time;

pub fn register(engine: &mut Engine, s: Rc<Session>) {
    engine.register_type_with_name::<Guest>("Guest");
    engine.register_type_with_name::<Bridge>("Bridge");
    engine.register_type_with_name::<Attachment>("Attachment");
    engine.register_type_with_name::<Link>("Link");

    guests::register(engine, &s);
    attach::register(engine, &s);
    links::register(engine, &s);
    local::register(engine, &s);
    qdisc::register(engine, &s);
    addresses::register(engine, &s);
    recipes::register(engine, &s);
    routes::register(engine, &s);
    exec::register(engine, &s);
    teardown::register(engine, &s);
    time::register(engine, &s);
}

/// The guest end of an attachment, as a script's Link.
fn attachment_link(a: &Attachment) -> Link {
    Link::new(a.guest.clone(), a.ifname.clone())
}

/// Apply a change to the link a script holds.
fn set(s: &Session, l: &Link, c: &LinkChange) -> RhaiResult<()> {
    s.set_link(&l.guest, &l.name, c).rhai()
}

fn link_text(s: &Session, l: &Link) -> String {
    let Ok(links) = s.links(&l.guest) else {
        return format!("{}:{} (unreadable)", l.guest, l.name);
    };
    let Some(me) = links.iter().find(|x| x.name == l.name) else {
        return format!("{}:{} (gone)", l.guest, l.name);
    };
    let addrs = s.addrs(&l.guest, &l.name).unwrap_or_default();
    let master = me
        .master
        .and_then(|i| links.iter().find(|x| x.index == i))
        .map(|x| format!(" master {}", x.name));
    format!(
        "{}:{} {} {} mtu {} {}{}{}",
        l.guest,
        l.name,
        me.kind.as_deref().unwrap_or("device"),
        me.mac_text().as_deref().unwrap_or("-"),
        me.mtu,
        if me.up { "UP" } else { "DOWN" },
        master.unwrap_or_default(),
        addrs.iter().map(|a| format!(" {a}")).collect::<String>()
    )
}

/// Human text for any script value, including our own types (used by the REPL and `-e`).
pub fn display(s: &Session, v: &Dynamic) -> String {
    if let Some(g) = v.clone().try_cast::<Guest>() {
        return g.to_string();
    }
    if let Some(b) = v.clone().try_cast::<Bridge>() {
        return format!("bridge {}", b.name);
    }
    if let Some(b) = v.clone().try_cast::<OvsBr>() {
        return format!("ovs bridge {}", b.0);
    }
    if let Some(a) = v.clone().try_cast::<Attachment>() {
        return a.to_string();
    }
    if let Some(l) = v.clone().try_cast::<Link>() {
        return link_text(s, &l);
    }
    if v.is_array() {
        let items: Vec<String> = v
            .clone()
            .into_array()
            .unwrap_or_default()
            .iter()
            .map(|x| display(s, x))
            .collect();
        if items.iter().map(|i| i.len()).sum::<usize>() > 60 {
            return format!("[\n  {}\n]", items.join(",\n  "));
        }
        return format!("[{}]", items.join(", "));
    }
    if v.is_string() {
        return format!("{v:?}");
    }
    v.to_string()
}
