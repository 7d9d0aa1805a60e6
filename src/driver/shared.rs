//! Bridges shared between owners. Any owner that asks for a bridge pipework made (`bridge()`,
//! `ovs_bridge()`, the classic command line) or attaches to one is registered as one of its users;
//! `down(owner)` takes the owner off, and the last user out removes the bridge. Counting ports
//! instead cannot work: an owner that has asked for the bridge but not attached yet has none, and
//! two owners leaving at once each see the other's port and both keep it (seen: 10 of 15 rounds).
//!
//! The registry is one file per user, `/run/pipework/bridges/NAME/OWNER`, holding the bridge's
//! ifindex (a bridge deleted by hand and made again is a new bridge with no users). Joining holds
//! the shared lock, leaving and the decision that follows hold the exclusive one (`lock::Topic::
//! Bridges`), so a bridge is never removed between another owner's look-up and its port.

use crate::error::{Error, Result};
use crate::guest::STATE_DIR;
use std::path::{Path, PathBuf};

fn dir(bridge: &str) -> PathBuf {
    Path::new(STATE_DIR).join("bridges").join(bridge)
}

/// Register `owner` as a user of the bridge `name` (kernel ifindex `index`). Returns whether it
/// is new. The caller holds a lock on `Topic::Bridges`.
pub(crate) fn register(name: &str, index: u32, owner: &str) -> Result<bool> {
    let d = dir(name);
    let f = d.join(owner);
    let content = format!("index={index}\n");
    if std::fs::read_to_string(&f).is_ok_and(|c| c == content) {
        return Ok(false);
    }
    std::fs::create_dir_all(&d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    // Whole or absent, whoever is killed while writing it.
    let tmp = d.join(format!(".{owner}.{}", std::process::id()));
    std::fs::write(&tmp, content)
        .and_then(|_| std::fs::rename(&tmp, &f))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", f.display()), e)
        })?;
    Ok(true)
}

/// Take `owner` off the bridge's users (the caller holds the exclusive lock).
pub(crate) fn unregister(name: &str, owner: &str) {
    let _ = std::fs::remove_file(dir(name).join(owner));
    let _ = std::fs::remove_dir(dir(name));
}

/// The bridge is gone: forget all its users.
pub(crate) fn forget(name: &str) {
    let _ = std::fs::remove_dir_all(dir(name));
}

/// Registrations of bridges that are gone (deleted outside pipework) or were replaced by a new
/// bridge of the same name: dropped (`down --stale`; the caller holds the exclusive lock).
/// `current(name)` gives the ifindex of the bridge by that name now, if there is one.
pub(crate) fn forget_gone(current: impl Fn(&str) -> Option<u32>) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(Path::new(STATE_DIR).join("bridges")) else {
        return vec![];
    };
    let mut dropped = vec![];
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match current(&name) {
            None => {
                forget(&name);
                dropped.push(name);
            }
            // Prunes the registrations of an earlier bridge by this name.
            Some(index) => {
                if users(&name, index).is_empty() {
                    forget(&name);
                }
            }
        }
    }
    dropped
}

/// Users of the bridge as it is now (registrations for an earlier bridge by this name are dropped).
fn users(name: &str, index: u32) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir(name)) else {
        return vec![];
    };
    let mut v = vec![];
    for e in rd.flatten() {
        let owner = e.file_name().to_string_lossy().into_owned();
        if owner.starts_with('.') {
            continue;
        }
        match std::fs::read_to_string(e.path()) {
            // Index 0: not known when registered (an OVS bridge whose device was not up yet).
            Ok(c)
                if c.trim() == format!("index={index}") || c.trim() == "index=0" || index == 0 =>
            {
                v.push(owner)
            }
            _ => {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    v.sort();
    v
}

/// Every registration as it is on disk, without pruning (what `show` reads): bridge name, owner,
/// the bridge's ifindex when the owner registered (0: not known then).
pub(crate) fn registrations() -> Vec<(String, String, u32)> {
    let mut v = vec![];
    for b in std::fs::read_dir(Path::new(STATE_DIR).join("bridges"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let bridge = b.file_name().to_string_lossy().into_owned();
        for e in std::fs::read_dir(b.path()).into_iter().flatten().flatten() {
            let owner = e.file_name().to_string_lossy().into_owned();
            if owner.starts_with('.') {
                continue;
            }
            let index = std::fs::read_to_string(e.path())
                .ok()
                .and_then(|c| c.trim().strip_prefix("index=")?.parse().ok())
                .unwrap_or(0);
            v.push((bridge.clone(), owner, index));
        }
    }
    v.sort();
    v
}

/// Bridges `owner` is registered on.
pub(crate) fn used_by(owner: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(Path::new(STATE_DIR).join("bridges")) else {
        return vec![];
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join(owner).exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// What is still on a bridge after the leaving owner's ports went.
pub(crate) struct Occupants {
    /// Owners still seen on the bridge: its marker's, and those of the pipework ports on it.
    pub owners: Vec<String>,
    /// Ports that carry no pipework marker (joined by hand, or by another tool).
    pub foreign: usize,
}

pub(crate) enum Verdict {
    /// Nobody uses it any more: remove it.
    Remove,
    /// Kept: another owner (the heir, who now holds it) or a port not ours still uses it.
    Keep { heir: Option<String>, why: String },
}

/// `owner` leaves the bridge `name`: is it the last user out? The caller holds the exclusive lock
/// and removes or hands over the bridge as told.
pub(crate) fn leave(name: &str, index: u32, owner: &str, occ: &Occupants) -> Verdict {
    unregister(name, owner);
    let mut others: Vec<String> = users(name, index);
    for o in &occ.owners {
        if o != owner && !others.contains(o) {
            others.push(o.clone());
        }
    }
    if others.is_empty() && occ.foreign == 0 {
        return Verdict::Remove;
    }
    let why = if others.is_empty() {
        format!(
            "{} port(s) not made by pipework are still attached",
            occ.foreign
        )
    } else {
        format!("still used by {}", others.join(", "))
    };
    Verdict::Keep {
        heir: others.into_iter().next(),
        why,
    }
}
