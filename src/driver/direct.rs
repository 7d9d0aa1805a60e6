//! A host interface handed to a guest itself (`--direct-phys`, `phys()`): a NIC, the 802.1Q
//! sub-interface `IF.VID` of one (the original's `@vlan` with `--direct-phys`), or a wireless
//! interface, which the kernel moves only with its whole phy (`iw phy PHY set netns …`, as the
//! original does).
//!
//! The interface is somebody else's: it must come home as it was, whatever happens to the guest.
//! A record (`/run/pipework/direct/NAME`: owner, guest and its namespace identity, the name it has
//! there, its phy) is written before the move, so `down(owner)`, a rollback, `down --stale` and
//! `watch` all find it. When the guest's namespace dies the kernel gives a physical device (and a
//! wiphy) back to the host under the name it had in the guest — `eth1`, or `devN` when that is
//! taken — still carrying our marker; teardown finds it by that marker and gives it its name back.
//! A VLAN sub-interface we made is deleted instead (the kernel deletes it with a dying namespace).

use super::{configure_guest_end, AttachOpts, Attachment, Driver, End, Via};
use crate::error::{Error, Result};
use crate::guest::{Guest, GuestKind, NsId, STATE_DIR};
use crate::marker;
use crate::net::{LinkChange, LinkState};
use crate::session::{Created, Removed, Session};
use std::path::{Path, PathBuf};

fn dir() -> PathBuf {
    Path::new(STATE_DIR).join("direct")
}

/// What is known of one handed-over interface (its record).
#[derive(Clone, Debug, PartialEq)]
pub struct Handed {
    /// Its name in the host (the record's file name): `eth3`, or `eth3.10` for a VLAN.
    pub name: String,
    pub owner: String,
    /// The guest as people read it (`container:web`) and as a process finds it again (`pid:N`).
    pub label: String,
    pub spec: String,
    pub ns: NsId,
    /// Its name in the guest.
    pub ifname: String,
    /// The wireless phy it moved with, if any, as iw selects it in any namespace: `phy#INDEX`.
    /// (By name, iw looks the phy up in /sys/class/ieee80211, which shows only the phys of the
    /// namespace sysfs was mounted in: the host's, so a phy in a guest is not found by name.)
    pub wiphy: Option<String>,
    /// A VLAN sub-interface pipework made for the hand-over: deleted, not given back.
    pub made: bool,
    /// The alias it had before ours went on (given back with it).
    pub was: Option<String>,
}

impl Handed {
    fn text(&self) -> String {
        format!(
            "owner={} label={} spec={} ns={}:{} ifname={} wiphy={} made={} was={}\n",
            self.owner,
            self.label,
            self.spec,
            self.ns.0,
            self.ns.1,
            self.ifname,
            self.wiphy.as_deref().unwrap_or("-"),
            self.made as u8,
            self.was
                .as_deref()
                .map(|w| crate::net::l3::hex(w.as_bytes()))
                .unwrap_or_else(|| "-".into())
        )
    }

    fn parse(name: &str, text: &str) -> Option<Handed> {
        let f = |k| marker::field(text, k);
        let (dev, ino) = f("ns")?.split_once(':')?;
        Some(Handed {
            name: name.to_string(),
            owner: f("owner")?.to_string(),
            label: f("label")?.to_string(),
            spec: f("spec")?.to_string(),
            ns: NsId(dev.parse().ok()?, ino.parse().ok()?),
            ifname: f("ifname")?.to_string(),
            wiphy: f("wiphy").filter(|w| *w != "-").map(String::from),
            made: f("made") == Some("1"),
            was: match f("was")? {
                "-" => None,
                w => Some(String::from_utf8(crate::net::l3::unhex(w)?).ok()?),
            },
        })
    }

    fn write(&self) -> Result<()> {
        std::fs::create_dir_all(dir())
            .map_err(|e| Error::io(format!("creating {}", dir().display()), e))?;
        let tmp = dir().join(format!(".{}.{}", self.name, std::process::id()));
        std::fs::write(&tmp, self.text())
            .and_then(|_| std::fs::rename(&tmp, dir().join(&self.name)))
            .map_err(|e| Error::io(format!("recording the hand-over of {}", self.name), e))
    }

    fn drop_record(&self) {
        let _ = std::fs::remove_file(dir().join(&self.name));
    }

    /// The marker the interface carries while it is handed over.
    /// `vlan`: the parent and tag of a VLAN sub-interface (what `save` writes again).
    fn alias(&self, vlan: Option<(&str, u16)>) -> String {
        let mut f = vec![("guest", self.label.clone()), ("phys", self.name.clone())];
        if let Some((parent, v)) = vlan {
            f.push(("parent", parent.to_string()));
            f.push(("vlan", v.to_string()));
        }
        if self.made {
            f.push(("made", "1".into()));
        }
        let fields: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        marker::encode(&self.owner, &fields)
    }
}

/// The record of the interface called `name` in the host, if it is handed over.
fn record(name: &str) -> Option<Handed> {
    Handed::parse(name, &std::fs::read_to_string(dir().join(name)).ok()?)
}

/// Every record, optionally only `owner`'s.
pub fn records(owner: Option<&str>) -> Vec<Handed> {
    let mut v: Vec<Handed> = std::fs::read_dir(dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return None;
            }
            Handed::parse(&name, &std::fs::read_to_string(e.path()).ok()?)
        })
        .filter(|h| owner.is_none_or(|o| h.owner == o))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The wireless phy behind host interface `name` (`phy0`), if it is a wireless one.
fn wiphy_of(name: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/phy80211/index"))
        .ok()
        .map(|s| format!("phy#{}", s.trim()))
}

/// `iw phy PHY set netns …` run in `from` (an argument vector, no shell).
fn iw_move(s: &Session, from: &Guest, phy: &str, to: &[String]) -> Result<()> {
    let iw = ["/usr/sbin/iw", "/sbin/iw", "/usr/bin/iw", "/bin/iw"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .ok_or_else(|| {
            Error::external(
                "iw",
                "not installed (Debian: apt install iw); a wireless interface moves only with its phy, which needs it",
            )
        })?;
    // `phy#N` is one word to iw; a record from before indexes were kept names the phy.
    let sel: &[&str] = if phy.starts_with("phy#") {
        &[phy]
    } else {
        &["phy", phy]
    };
    let mut argv: Vec<String> = std::iter::once(iw)
        .chain(sel.iter().copied())
        .chain(["set", "netns"])
        .map(|a| a.to_string())
        .collect();
    argv.extend(to.iter().cloned());
    s.trace(format_args!("run in {from}: {}", argv.join(" ")));
    let out = from
        .command(&argv)?
        .output()
        .map_err(|e| Error::io("running iw", e))?;
    if !out.status.success() {
        return Err(Error::external(
            "iw",
            format!(
                "`{}` failed in {from} ({}): {}",
                argv.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// Where `iw` sends a phy so that it lands in `guest`: a process of it, or its /run/netns name.
fn iw_target(guest: &Guest) -> Result<Vec<String>> {
    match &guest.kind {
        GuestKind::Pid(p) | GuestKind::Container { pid: p, .. } | GuestKind::Lxc { pid: p, .. } => {
            Ok(vec![p.to_string()])
        }
        GuestKind::Netns(n) => Ok(vec!["name".into(), n.clone()]),
        GuestKind::Host => Err(Error::guest(guest, "the interface is already in the host")),
        GuestKind::Path(_) => Err(Error::guest(
            guest,
            "iw moves a wireless phy only to a process or a named namespace",
        )),
    }
}

pub struct DirectPhys {
    pub phys: String,
}

impl Driver for DirectPhys {
    fn describe(&self) -> String {
        format!("direct physical interface {}", self.phys)
    }

    fn attach(&self, s: &Session, guest: &Guest, opts: &AttachOpts) -> Result<Attachment> {
        if guest.is_host() {
            return Err(Error::guest(guest, "the interface is already in the host"));
        }
        let host = s.host();
        let hns = s.nl.ns(&host)?;
        let gns = s.nl.ns(guest)?;
        // With a VLAN the sub-interface `IF.VID` is what moves (made here unless it exists).
        let name = match opts.vlan {
            Some(v) => crate::parse::ifname(&format!("{}.{v}", self.phys))?,
            None => self.phys.clone(),
        };
        let mut att = Attachment::new(s, guest, opts, self.describe(), name.clone());
        // Already handed over by an earlier run: converge it where it is.
        if let Some(h) = record(&name) {
            let there = (h.ns == guest.id)
                .then(|| gns.link(&h.ifname).ok().flatten())
                .flatten()
                .filter(|l| {
                    l.alias.as_deref().and_then(|a| marker::field(a, "phys")) == Some(&name)
                });
            if let (Some(g), true) = (there, h.ifname == opts.ifname) {
                configure_guest_end(&gns, &g, opts, End::Existing)?;
                att.created = false;
                att.mac = g.mac_text().unwrap_or_default();
                return Ok(att);
            }
            if hns.link(&name)?.is_none() {
                return Err(Error::Conflict(format!(
                    "{name} is handed over to {} as {} (owner {}); `down {}` gives it back first",
                    h.label, h.ifname, h.owner, h.owner
                )));
            }
            // A stale record (its guest gone, the interface home again): replaced below.
        }
        let parent = hns
            .link(&self.phys)?
            .ok_or_else(|| Error::not_found("host interface", &self.phys, Some("host".into())))?;
        if parent.is_kind("bridge") || parent.master.is_some() {
            return Err(Error::Conflict(format!(
                "{} is a bridge or a bridge port; it cannot be handed to a guest",
                self.phys
            )));
        }
        if gns.link(&opts.ifname)?.is_some() {
            return Err(Error::Conflict(format!(
                "interface {} already exists in {guest}",
                opts.ifname
            )));
        }
        let wiphy = wiphy_of(&self.phys);
        if wiphy.is_some() && opts.vlan.is_some() {
            return Err(Error::invalid(
                "option",
                "vlan",
                format!(
                    "{} is wireless: 802.1Q sub-interfaces of it cannot be handed over",
                    self.phys
                ),
            ));
        }
        let made = opts.vlan.is_some() && hns.link(&name)?.is_none();
        if let Some(vid) = opts.vlan {
            // Like the original: the parent up, the VLAN device made on it (marked, journaled).
            if !parent.up {
                hns.set_link(
                    parent.index,
                    &self.phys,
                    &LinkChange {
                        up: Some(true),
                        ..Default::default()
                    },
                )?;
            }
            let sub = AttachOpts {
                ifname: name.clone(),
                ..Default::default()
            };
            s.vlan(&host, &self.phys, vid, &sub)?;
        }
        let l = hns.require(&name)?;
        let h = Handed {
            name: name.clone(),
            owner: s.owner(),
            label: guest.to_string(),
            spec: guest.spec(),
            ns: guest.id,
            ifname: opts.ifname.clone(),
            wiphy: wiphy.clone(),
            made,
            was: l.alias.clone().filter(|a| !marker::is_ours(a)),
        };
        // The record first: from here on, whatever happens, teardown knows where it went.
        h.write()?;
        // The marker goes on in the host: it travels with the device.
        hns.set_link(
            l.index,
            &name,
            &LinkChange {
                alias: Some(&h.alias(opts.vlan.map(|v| (self.phys.as_str(), v)))),
                ..Default::default()
            },
        )?;
        let moved = match &wiphy {
            Some(phy) => iw_move(s, &host, phy, &iw_target(guest)?),
            None => hns.set_link(
                l.index,
                &name,
                &LinkChange {
                    netns: Some(guest.fd()),
                    ..Default::default()
                },
            ),
        };
        let result = moved.and_then(|()| {
            let ml = gns.require(&name)?;
            gns.set_link(
                ml.index,
                &name,
                &LinkChange {
                    name: Some(&opts.ifname),
                    ..Default::default()
                },
            )?;
            let gl = gns.require(&opts.ifname)?;
            configure_guest_end(&gns, &gl, opts, End::Fresh)?;
            Ok(gl)
        });
        match result {
            Ok(gl) => {
                att.mac = gl.mac_text().unwrap_or_default();
                att.undo = vec![Created::Handed(name)];
                Ok(att)
            }
            Err(e) => {
                // Home again now; a VLAN we made goes with the session's rollback.
                if let Err(back) = give_back(s, &h) {
                    return Err(e.context(format!("and giving {name} back failed too: {back}")));
                }
                Err(e)
            }
        }
    }

    fn made_by(&self) -> Via {
        Via::DirectPhys(self.phys.clone())
    }

    /// The interface goes back to the host under its own name, down, as it was before (a VLAN
    /// sub-interface pipework made is deleted).
    fn detach(&self, s: &Session, att: &Attachment) -> Result<Vec<String>> {
        let h = record(&att.host_ifname).ok_or_else(|| {
            Error::not_found(
                "hand-over record",
                &att.host_ifname,
                Some(att.guest.to_string()),
            )
        })?;
        Ok(vec![give_back(s, &h)?])
    }
}

/// Down first, then `name` if it has another: the kernel renames only a link that is down.
fn down_as(ns: &crate::net::Ns, l: &LinkState, name: &str) -> Result<()> {
    if l.up {
        let down = LinkChange {
            up: Some(false),
            ..Default::default()
        };
        ns.set_link(l.index, &l.name, &down)?;
    }
    if l.name != name {
        let rename = LinkChange {
            name: Some(name),
            ..Default::default()
        };
        ns.set_link(l.index, &l.name, &rename)?;
    }
    Ok(())
}

/// Give one handed-over interface back (or delete the VLAN we made), wherever it is now: still
/// in its guest, or already returned by the kernel under another name. Drops the record once
/// nothing of it is left elsewhere. Returns a line for the user.
pub fn give_back(s: &Session, h: &Handed) -> Result<String> {
    let host = s.host();
    let hns = s.nl.ns(&host)?;
    let ours = |l: &LinkState| {
        l.alias.as_deref().is_some_and(|a| {
            marker::owner_of(a) == Some(h.owner.as_str())
                && marker::field(a, "phys") == Some(&h.name)
        })
    };
    let guest = crate::dhcp::keeper::reopen(&h.spec, h.ns);
    // Still in its guest: a VLAN we made is deleted there, anything else comes home under its
    // own name (the host may have another by the guest-side name).
    let in_guest = match &guest {
        Some(g) => {
            let gns = s.nl.ns(g)?;
            gns.links()?
                .into_iter()
                .find(|l| ours(l))
                .map(|l| (g, gns, l))
        }
        None => None,
    };
    if let Some((g, gns, l)) = in_guest {
        if h.made {
            gns.del_link(l.index, &l.name)?;
            h.drop_record();
            return Ok(format!(
                "{}:{} (the VLAN interface {} pipework made, deleted)",
                h.label, l.name, h.name
            ));
        }
        down_as(&gns, &l, &h.name)?;
        match &h.wiphy {
            Some(phy) => iw_move(s, g, phy, &[std::process::id().to_string()])?,
            None => {
                let home = LinkChange {
                    netns: Some(host.fd()),
                    ..Default::default()
                };
                gns.set_link(l.index, &h.name, &home)?
            }
        }
    }
    let Some(l) = hns.links()?.into_iter().find(|l| ours(l)) else {
        h.drop_record();
        // A VLAN interface dies with its namespace; anything else vanishing is news.
        return Ok(if h.made && guest.is_none() {
            format!("{} (gone with its guest {})", h.name, h.label)
        } else {
            format!(
                "{}: not found in the host nor in {} (gone); dropped its record",
                h.name, h.label
            )
        });
    };
    if h.made {
        hns.del_link(l.index, &l.name)?;
        h.drop_record();
        return Ok(format!(
            "{} (the VLAN interface pipework made, deleted)",
            h.name
        ));
    }
    if l.name != h.name && hns.link(&h.name)?.is_some() {
        return Err(Error::Conflict(format!(
            "{} came back to the host as {}, and another interface is called {} now; left it as {}",
            h.name, l.name, h.name, l.name
        )));
    }
    down_as(&hns, &l, &h.name)?;
    hns.set_alias(&h.name, h.was.as_deref().unwrap_or(""))?;
    h.drop_record();
    Ok(if l.name != h.name && guest.is_none() {
        format!(
            "{} (came back from its dead guest {} as {}; renamed)",
            h.name, h.label, l.name
        )
    } else {
        format!("{} (back in the host from {})", h.name, h.label)
    })
}

/// `down(owner)`: every interface the owner was handed gets back home, each failure noted and
/// the others still done.
pub(crate) fn teardown_owned(s: &Session, owner: &str, removed: &mut Removed) {
    for h in records(Some(owner)) {
        match give_back(s, &h) {
            Ok(line) => removed.links.push(line),
            Err(e) => removed.errors.push(e.to_string()),
        }
    }
}

/// A guest went away (`watch`, `down --stale`): interfaces the kernel gave back from a dead
/// namespace get their names back; their records go, so a replay can hand them over again.
pub(crate) fn release_dead(s: &Session, removed: &mut Removed) {
    for h in records(None) {
        if crate::dhcp::keeper::reopen(&h.spec, h.ns).is_none() {
            match give_back(s, &h) {
                Ok(line) => removed.links.push(line),
                Err(e) => removed.errors.push(e.to_string()),
            }
        }
    }
}

/// A session's rollback: give `name` back if this session handed it over.
pub(crate) fn undo(s: &Session, name: &str) -> Option<String> {
    let h = record(name)?;
    give_back(s, &h)
        .map_err(|e| eprintln!("pipework: rollback: {e}"))
        .ok()
}

/// Whether a host link is a handed-over interface come home (by its marker): teardown of host
/// links leaves it to `give_back`, which renames rather than deletes.
pub(crate) fn is_handed(l: &LinkState) -> bool {
    l.alias.as_deref().is_some_and(|a| {
        marker::field(a, "phys").is_some() && marker::field(a, "made") != Some("1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_as_written() {
        let h = Handed {
            name: "eth3.10".into(),
            owner: "web".into(),
            label: "container:web".into(),
            spec: "pid:4242".into(),
            ns: NsId(4, 4026532000),
            ifname: "eth1".into(),
            wiphy: None,
            made: true,
            was: None,
        };
        assert_eq!(Handed::parse("eth3.10", &h.text()), Some(h.clone()));
        let w = Handed {
            wiphy: Some("phy#0".into()),
            made: false,
            was: Some("uplink to rack 3".into()),
            ..h
        };
        assert_eq!(Handed::parse("eth3.10", &w.text()), Some(w.clone()));
        let a = w.alias(None);
        assert_eq!(marker::owner_of(&a), Some("web"));
        assert_eq!(marker::field(&a, "phys"), Some("eth3.10"));
        assert_eq!(Handed::parse("x", "owner=a"), None);
    }
}
