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
    if br.is_some_and(|b| l.master == Some(b.index)) {
        let change = LinkChange {
            master: Some(None),
            up: was_down.then_some(false),
            ..Default::default()
        };
        hns.set_link(l.index, ifname, &change).ok()?;
        return Some(format!("{ifname} out of bridge {bridge}"));
    }
    None
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
