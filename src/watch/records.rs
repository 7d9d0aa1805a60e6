//! Watch records: what `pipework watch` replays when a container starts again. One file per
//! container and owner, `/var/lib/pipework/containers/ID/OWNER.rhai`, holding that owner's wiring
//! of the container as the script `pipework save` would write for it.
//!
//! Why a script under /var/lib: a container with a restart policy comes back after a reboot, when
//! /run is empty; a script replays through `run`'s own path (Rhai, then `Session`), so the second
//! attach is the first one again, and a user can read or edit what will be replayed. It is written
//! by the core at the end of every run that touched the container (classic argv, `-e`, `run`, each
//! REPL line alike), from the live inventory — what is there, so a rolled-back run writes nothing
//! new — and atomically (a temporary file renamed over the old one). `down OWNER` removes the
//! owner's records; a container Docker destroyed loses its directory when watch sees it go.

use crate::error::{Error, Result};
use crate::guest::{Guest, GuestKind};
use crate::session::Session;
use std::path::{Path, PathBuf};

pub const DIR: &str = "/var/lib/pipework/containers";

/// Whether records are kept on this machine: since `pipework watch` first ran (it makes the
/// directory, which outlives reboots and watch itself, so a watch that is down for a while still
/// finds what was wired meanwhile). Reading a container's whole wiring back at the end of every
/// run costs about a millisecond — a fifth of a classic attach — which a machine that never runs
/// watch should not pay; `mkdir -p` of the directory turns records on without watch.
pub fn enabled() -> bool {
    Path::new(DIR).is_dir()
}

/// Turn records on (watch, at its start).
pub fn enable() -> Result<()> {
    std::fs::create_dir_all(DIR).map_err(|e| Error::io(format!("creating {DIR}"), e))
}

/// The container's own directory (by its full ID, which survives restarts and renames).
pub fn dir_of(id: &str) -> PathBuf {
    Path::new(DIR).join(id)
}

/// Containers that have records, by ID.
pub fn containers() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(DIR)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| valid_id(n))
        .collect();
    v.sort();
    v
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether a container has records, without reading them (every event asks).
pub fn has(id: &str) -> bool {
    valid_id(id)
        && std::fs::read_dir(dir_of(id))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let n = e.file_name();
                let n = n.to_string_lossy();
                n.ends_with(".rhai") && !n.starts_with('.')
            })
}

/// A container's records: (owner, script text), by owner.
pub fn of_container(id: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir_of(id))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let owner = name.strip_suffix(".rhai")?.to_string();
            crate::marker::validate_owner(&owner).ok()?;
            Some((owner, std::fs::read_to_string(e.path()).ok()?))
        })
        .collect();
    v.sort();
    v
}

/// A record's first lines: what it is, in fields its first line can be read back by.
fn header(name: &str, id: &str, owner: &str) -> String {
    format!(
        "// pipework watch record: container={name} id={id} owner={owner}\n\
         // The owner's wiring of the container, replayed by `pipework watch` when it starts\n\
         // again; written by pipework at the end of each run that changed it."
    )
}

fn name_in(text: &str) -> Option<String> {
    crate::marker::field(text.lines().next()?, "container").map(String::from)
}

/// The name a container had when its records were written (their first line says).
pub fn name_of(id: &str) -> Option<String> {
    of_container(id)
        .into_iter()
        .find_map(|(_, text)| name_in(&text))
}

/// Forget a container (Docker removed it).
pub fn drop_container(id: &str) {
    if valid_id(id) {
        let _ = std::fs::remove_dir_all(dir_of(id));
    }
}

/// `down OWNER`: nothing of the owner is replayed any more. Returns the containers it had.
pub fn drop_owner(owner: &str) -> Vec<String> {
    let mut had = vec![];
    for id in containers() {
        if std::fs::remove_file(dir_of(&id).join(format!("{owner}.rhai"))).is_ok() {
            had.push(id.clone());
        }
        let _ = std::fs::remove_dir(dir_of(&id));
    }
    had
}

/// Write the records of one container from what is wired in it now: one per owner found there,
/// and none left for an owner that has nothing there any more.
pub(crate) fn write(s: &Session, g: &Guest) -> Result<()> {
    let GuestKind::Container { id, name, .. } = &g.kind else {
        return Ok(());
    };
    if !valid_id(id) {
        return Ok(());
    }
    // A container that died during the run keeps the records it had: they are what comes back.
    if !g.alive() {
        return Ok(());
    }
    let inv = s.inventory_of(std::slice::from_ref(g))?;
    let part = inv.of_guest(&g.to_string());
    let owners: Vec<String> = part
        .interfaces
        .iter()
        .map(|i| i.owner.clone())
        .chain(part.routes.iter().filter_map(|r| r.owner.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let dir = dir_of(id);
    let io = |what: &str, p: &Path, e| Error::io(format!("{what} {}", p.display()), e);
    if !owners.is_empty() {
        std::fs::create_dir_all(&dir).map_err(|e| io("creating", &dir, e))?;
    }
    for owner in &owners {
        let header = header(name, id, owner);
        let text = crate::view::save::owner_script(&part.of_owner(owner), owner, &header);
        let file = dir.join(format!("{owner}.rhai"));
        let tmp = dir.join(format!(".{owner}.rhai.{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &file).map_err(|e| io("renaming into", &file, e))?;
    }
    for (owner, _) in of_container(id) {
        if !owners.contains(&owner) {
            let _ = std::fs::remove_file(dir.join(format!("{owner}.rhai")));
        }
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_names_its_container() {
        let h = header("web-1", "0123abcd", "lab");
        assert_eq!(name_in(&h).as_deref(), Some("web-1"));
        assert!(h.lines().all(|l| l.starts_with("// ")));
    }

    #[test]
    fn only_ids_name_directories() {
        assert!(valid_id("5fa6084bc259aa4d"));
        for bad in ["", "..", "a/b", "a b", ".tmp"] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }
}
