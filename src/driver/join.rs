//! Host interfaces that join a bridge: a spare NIC or the LAN uplink made a port of a bridge
//! pipework manages, so guests on the bridge are on that LAN. The interface is not ours, so it
//! carries no marker; a record (`/run/pipework/joined/IFNAME`: owner, bridge, ifindex, whether it
//! was up) lets `down(owner)` take it out of the bridge and leave it as it was. On OVS the port row
//! carries the owner like our own ports, and deleting the row is all there is to undo.

use super::ovs::vsctl;
use crate::error::{Error, Result};
use crate::guest::STATE_DIR;
use crate::marker;
use crate::net::{LinkChange, LinkState, Ns};
use crate::session::Removed;
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(STATE_DIR).join("joined")
}

/// An interface that carries the host's default route or any global address would take the
/// host's connectivity with it into the bridge (a bridge port's addresses stop working): refused
/// unless the caller insists.
pub(crate) fn refuse_in_use(hns: &Ns, l: &LinkState, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    let default = [false, true].into_iter().any(|v6| {
        hns.routes(v6)
            .unwrap_or_default()
            .iter()
            .any(|r| r.dst.prefix() == 0 && r.dev == Some(l.index) && r.table == 254)
    });
    let addrs: Vec<_> = hns
        .addrs(Some(l.index))?
        .into_iter()
        .map(|(_, a)| a)
        .filter(|a| !crate::parse::is_link_local(a.ip()))
        .collect();
    if default || !addrs.is_empty() {
        return Err(Error::Conflict(format!(
            "{} {}: joining it to a bridge would cut the host off through it; pick another interface, or pass force: true if that is really meant",
            l.name,
            if default {
                "carries the host's default route".to_string()
            } else {
                format!(
                    "has the host's address{} {}",
                    if addrs.len() > 1 { "es" } else { "" },
                    addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", ")
                )
            }
        )));
    }
    Ok(())
}

/// Record that `owner` puts `l` into `bridge` (`ovs`: an OVS bridge), before it does. A record of
/// this very interface and bridge is a re-run's (an OVS port shows no kernel master) and is kept:
/// it holds the state from before the first join. Any other record is stale (a run killed before
/// it joined) and is replaced. Returns whether this is a new join.
pub(crate) fn record(l: &LinkState, bridge: &str, owner: &str, ovs: bool) -> Result<bool> {
    let f = dir().join(&l.name);
    if let Ok(text) = std::fs::read_to_string(&f) {
        let same = marker::field(&text, "bridge") == Some(bridge)
            && marker::field(&text, "index") == Some(l.index.to_string().as_str())
            && marker::field(&text, "owner") == Some(owner);
        if same {
            return Ok(false);
        }
    }
    std::fs::create_dir_all(dir())
        .map_err(|e| Error::io(format!("creating {}", dir().display()), e))?;
    let tmp = dir().join(format!(".{}.{}", l.name, std::process::id()));
    std::fs::write(
        &tmp,
        format!(
            "owner={owner} bridge={bridge} index={} up={} ovs={}\n",
            l.index, l.up as u8, ovs as u8
        ),
    )
    .and_then(|_| std::fs::rename(&tmp, &f))
    .map_err(|e| Error::io(format!("writing {}", f.display()), e))?;
    Ok(true)
}

/// How an interface joins.
#[derive(Clone, Debug, Default)]
pub struct JoinOpts {
    /// Also an interface that carries the host's default route or an address.
    pub force: bool,
    /// Its addresses and routes move to the bridge (and back when it leaves).
    pub take_addresses: bool,
}

/// Where the layer-3 state an interface handed to its bridge is kept (`.l3/IFNAME`: the kernel's
/// messages, see `net::L3`), until it leaves the bridge again.
fn l3_file(ifname: &str) -> PathBuf {
    dir().join(".l3").join(ifname)
}

/// Record `l`'s addresses and routes before they move. A record that exists already is a re-run's
/// or a killed run's: it holds the state from before the first move, and is kept.
pub(crate) fn record_l3(hns: &Ns, l: &LinkState) -> Result<()> {
    let f = l3_file(&l.name);
    if f.exists() {
        return Ok(());
    }
    let text = hns.l3_of(l.index)?.to_text();
    let d = dir().join(".l3");
    std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    let tmp = d.join(format!(".{}.{}", l.name, std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &f))
        .map_err(|e| Error::io(format!("writing {}", f.display()), e))
}

/// Move them: off the interface (now a port, where they no longer work), onto the bridge.
pub(crate) fn take_l3(hns: &Ns, l: &LinkState, br: &LinkState) -> Result<()> {
    let text = std::fs::read_to_string(l3_file(&l.name))
        .map_err(|e| Error::io(format!("reading {}", l3_file(&l.name).display()), e))?;
    let l3 = crate::net::L3::from_text(&text);
    let mut errs = hns.l3_del(l.index, &l.name, &l3);
    errs.extend(hns.l3_add(br.index, &br.name, &l3));
    // The host keeps its MAC on the LAN too: otherwise the bridge answers with the smallest of
    // its ports' MACs (a guest's, as they come and go), and when the uplink takes its addresses
    // back the LAN's neighbours hold a MAC that no longer answers until their caches expire.
    if let (Some(mac), true) = (l.mac, l.mac != br.mac) {
        let change = LinkChange {
            mac: Some(mac),
            ..Default::default()
        };
        if let Err(e) = hns.set_link(br.index, &br.name, &change) {
            errs.push(e.to_string());
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::Conflict(format!(
            "moving {}'s addresses and routes to {}: {}",
            l.name,
            br.name,
            errs.join("; ")
        )))
    }
}

/// Put them back where they came from (off the bridge, if it is still there). Returns what could
/// not be put back.
fn give_back_l3(hns: &Ns, l: &LinkState, bridge: &str) -> Vec<String> {
    let f = l3_file(&l.name);
    let Ok(text) = std::fs::read_to_string(&f) else {
        return vec![];
    };
    let l3 = crate::net::L3::from_text(&text);
    let mut errs = vec![];
    if let Some(br) = hns.link(bridge).ok().flatten() {
        errs.extend(hns.l3_del(br.index, bridge, &l3));
    }
    errs.extend(hns.l3_add(l.index, &l.name, &l3));
    if errs.is_empty() {
        let _ = std::fs::remove_file(&f);
        let _ = std::fs::remove_dir(dir().join(".l3"));
    }
    errs
}

/// A host interface joined to a bridge, as its record says.
#[derive(Clone, Debug)]
pub struct JoinRecord {
    pub ifname: String,
    pub owner: String,
    pub bridge: String,
    pub ovs: bool,
    /// The interface's ifindex when it joined (another interface by the name is not the one).
    pub index: u32,
}

/// Every join record (what `show` reads).
pub(crate) fn records() -> Vec<JoinRecord> {
    let mut v: Vec<JoinRecord> = std::fs::read_dir(dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let ifname = e.file_name().to_string_lossy().into_owned();
            if ifname.starts_with('.') {
                return None;
            }
            let text = std::fs::read_to_string(e.path()).ok()?;
            let field = |k| marker::field(&text, k).map(String::from);
            Some(JoinRecord {
                ifname,
                owner: field("owner")?,
                bridge: field("bridge")?,
                ovs: field("ovs").as_deref() == Some("1"),
                index: field("index")?.parse().ok()?,
            })
        })
        .collect();
    v.sort_by(|a, b| a.ifname.cmp(&b.ifname));
    v
}

/// Take one joined interface out of its Linux bridge again and back to its own state, if the
/// record is `owner`'s (any owner: None). Returns what was done.
pub(crate) fn release(hns: &Ns, ifname: &str, owner: Option<&str>) -> Option<String> {
    let f = dir().join(ifname);
    let text = std::fs::read_to_string(&f).ok()?;
    let field = |k| marker::field(&text, k);
    if owner.is_some_and(|o| Some(o) != field("owner")) {
        return None;
    }
    let _ = std::fs::remove_file(&f);
    let l = hns.link(ifname).ok()??;
    if Some(l.index.to_string().as_str()) != field("index") {
        return None; // another interface by that name now
    }
    let bridge = field("bridge")?;
    let was_down = field("up") == Some("0");
    if field("ovs") == Some("1") {
        // The port row goes with the owner's OVS teardown; the link's own state comes back here.
        if was_down && l.up {
            let down = LinkChange {
                up: Some(false),
                ..Default::default()
            };
            hns.set_link(l.index, ifname, &down).ok()?;
        }
        return Some(format!("{ifname} out of OVS bridge {bridge}"));
    }
    let br = hns.link(bridge).ok().flatten();
    let mut done = None;
    if br.is_some_and(|b| l.master == Some(b.index)) {
        let change = LinkChange {
            master: Some(None),
            up: was_down.then_some(false),
            ..Default::default()
        };
        hns.set_link(l.index, ifname, &change).ok()?;
        done = Some(format!("{ifname} out of bridge {bridge}"));
    }
    // Its addresses and routes, if it handed them to the bridge: back, even when it left the
    // bridge some other way.
    let l3_back = l3_file(ifname).exists();
    let errs = give_back_l3(hns, &l, bridge);
    if l3_back {
        let what = done.unwrap_or_else(|| format!("{ifname} (no longer a port of {bridge})"));
        done = Some(if errs.is_empty() {
            format!("{what}, its addresses and routes back on it")
        } else {
            format!("{what}; NOT put back: {}", errs.join("; "))
        });
    }
    done
}

/// Teardown: every interface `owner` joined to a Linux bridge leaves it (before the bridge's own
/// fate is decided, where it would count as a foreign port).
pub(crate) fn teardown_owned(hns: &Ns, owner: &str, removed: &mut Removed) {
    for e in std::fs::read_dir(dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if let Some(done) = release(hns, &name, Some(owner)) {
            removed.notes.push(format!("put {done} back as it was"));
        }
    }
}

/// The OVS side: the interface becomes a port whose row names the owner (and that it was joined,
/// not made), so the owner's teardown deletes the row and leaves the interface.
pub(crate) fn ovs_add(bridge: &str, ifname: &str, owner: &str) -> Result<()> {
    vsctl::add_port(
        bridge,
        ifname,
        None,
        &[("owner", owner), ("joined", "true"), ("bridge", bridge)],
    )
}
