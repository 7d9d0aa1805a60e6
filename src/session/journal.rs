//! The intent journal: before this process creates a link it cannot mark in the same kernel call
//! (RTM_NEWLINK ignores IFLA_IFALIAS, so the ownership marker is a second message), it writes down
//! what it is about to make; once the marker is on, it writes that the step is settled. A process
//! killed in between (kill -9, the OOM killer, its container stopped) leaves an unsettled intent
//! behind, and the next `down(owner)` or `pipework down --stale` removes what it names — if that
//! is still an unmarked link of the intended kind, in the very namespace it was made in.
//!
//! One append-only file per process and owner, `/run/pipework/journal/OWNER@PID.START`, each
//! record one `write(2)` (a kill cannot tear it). The file goes away when its process ends with
//! nothing unsettled; a journal whose process still runs is never touched (it is mid-work). The
//! files lie flat in one directory: a directory per owner, made and removed by every run, cost
//! half a millisecond of a 5 ms attach where /run is on a disk (its block freed and discarded
//! when the last file in it closed); `@` is not an owner character, so the name parses back.
//! Named namespaces need no entry here: their record is written before the name exists (see
//! `Guest::create_netns`); OVS ports and bridges are marked in the transaction that makes them.
//!
//! The timeline's changes are intents too, open while in force: a link a flap set down, a qdisc a
//! ramp (or an action's `tc()`/`shape()`) replaced, with what was there before. A run killed
//! mid-play leaves them open, and the next `down(owner)` puts them back — on links that are not
//! the owner's (a container's own interface) nothing else would.

use super::*;
use crate::guest::{NsId, STATE_DIR};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One owner's journal file of this process, and its intents not yet settled.
type OwnerFile = (PathBuf, std::fs::File, HashSet<String>);

#[derive(Default)]
pub(crate) struct Journal {
    files: RefCell<HashMap<String, OwnerFile>>,
}

fn dir() -> PathBuf {
    Path::new(STATE_DIR).join("journal")
}

/// The owner, pid and start time a journal file's name holds: `OWNER@PID.START`.
fn parse_name(file: &str) -> Option<(&str, u32, u64)> {
    let (owner, id) = file.rsplit_once('@')?;
    let (pid, start) = id.split_once('.')?;
    Some((owner, pid.parse().ok()?, start.parse().ok()?))
}

/// The kernel's start time of a process (clock ticks since boot): with the pid, an identity that a
/// recycled pid does not share.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22; the command name (field 2) may hold spaces and parentheses, so count from its end.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// An intent's text, which names the link and where it lives: `link guest=SPEC ns=DEV:INO
/// name=NAME kind=KIND` (no field holds whitespace: names and specs are validated).
fn link_key(guest: &Guest, name: &str, kind: &str) -> String {
    format!(
        "link guest={} ns={}:{} name={name} kind={kind}",
        guest.spec(),
        guest.id.0,
        guest.id.1
    )
}

impl Journal {
    fn append(&self, owner: &str, line: &str) -> Result<()> {
        let mut files = self.files.borrow_mut();
        if !files.contains_key(owner) {
            let pid = std::process::id();
            let d = dir();
            let path = d.join(format!("{owner}@{pid}.{}", start_time(pid).unwrap_or(0)));
            let open = || {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
            };
            // The directory is made once per boot (/run is emptied at boot).
            let f = open()
                .or_else(|_| {
                    std::fs::create_dir_all(&d)?;
                    open()
                })
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            files.insert(owner.to_string(), (path, f, HashSet::new()));
        }
        let (path, f, _) = files.get_mut(owner).expect("inserted above");
        f.write_all(line.as_bytes())
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    fn intend(&self, owner: &str, key: &str) -> Result<()> {
        self.append(owner, &format!("+ {key}\n"))?;
        if let Some((_, _, pending)) = self.files.borrow_mut().get_mut(owner) {
            pending.insert(key.to_string());
        }
        Ok(())
    }

    fn settle(&self, owner: &str, key: &str) {
        // Unwritten, the intent stays open: the next `down` then looks at a link that is marked
        // (or gone) and leaves it to the marker pass — the safe side.
        if self.append(owner, &format!("= {key}\n")).is_ok() {
            if let Some((_, _, pending)) = self.files.borrow_mut().get_mut(owner) {
                pending.remove(key);
            }
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        for (path, _, pending) in self.files.get_mut().values() {
            if pending.is_empty() {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// The intent a timeline change stands for: `timeline-link …` or `timeline-qdisc … before=JSON`.
fn timeline_key(c: &crate::timeline::Change) -> String {
    use crate::timeline::Change;
    let at = |kind: &str, guest: &Guest, name: &str| {
        format!(
            "{kind} guest={} ns={}:{} name={name}",
            guest.spec(),
            guest.id.0,
            guest.id.1
        )
    };
    match c {
        Change::LinkDown { guest, name } => at("timeline-link", guest, name),
        Change::Qdisc {
            guest,
            name,
            before,
        } => format!(
            "{} before={}",
            at("timeline-qdisc", guest, name),
            before.to_json()
        ),
    }
}

impl Session {
    /// A timeline change is in force: journaled until `timeline_undone`, so that a killed run's
    /// `down` puts it back.
    pub fn timeline_in_force(&self, c: &crate::timeline::Change) -> Result<()> {
        self.intents.intend(&self.owner(), &timeline_key(c))
    }

    /// The change is put back (or its link is gone).
    pub fn timeline_undone(&self, c: &crate::timeline::Change) {
        self.intents.settle(&self.owner(), &timeline_key(c));
    }

    /// Put a timeline change back: the link up, or the qdisc as it was before.
    pub fn undo_timeline(&self, c: &crate::timeline::Change) -> Result<()> {
        use crate::timeline::Change;
        match c {
            Change::LinkDown { guest, name } => self.set_link(guest, name, &crate::net::link_up()),
            Change::Qdisc {
                guest,
                name,
                before,
            } => self.tc(guest, name, before),
        }
    }

    /// Put back a timeline change a killed run left in force, if its link is still in the very
    /// namespace it was changed in. Returns what was done.
    fn finish_timeline(&self, key: &str) -> Option<String> {
        let field = |k: &str| marker::field(key, k);
        let (dev, ino) = field("ns")?.split_once(':')?;
        let id = NsId(dev.parse().ok()?, ino.parse().ok()?);
        let guest = self.guest_existing(field("guest")?).ok()?;
        if guest.id != id {
            return None; // that namespace is gone, and the change with it
        }
        let name = field("name")?.to_string();
        let c = if key.starts_with("timeline-link ") {
            crate::timeline::Change::LinkDown { guest, name }
        } else {
            let before: serde_json::Value = serde_json::from_str(field("before")?).ok()?;
            crate::timeline::Change::Qdisc {
                guest,
                name,
                before: crate::net::Qdisc::from_json(&before)?,
            }
        };
        self.undo_timeline(&c).ok()?;
        Some(c.to_string())
    }

    /// Create a link that carries our marker, with the intent journaled first: `create` makes it,
    /// `mark` puts the marker on (and whatever else goes in the same message). A failed marking
    /// deletes the link again. Only a kill between the two leaves an open intent.
    pub(crate) fn create_marked(
        &self,
        ns: &crate::net::Ns,
        guest: &Guest,
        name: &str,
        kind: &str,
        create: impl FnOnce() -> Result<()>,
        mark: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        self.create_marked_via(ns, guest, None, name, kind, create, mark)
    }

    /// `create_marked` for a link that `create` makes in `via` and moves into `guest` (a GRE
    /// tunnel, made in its underlay): a kill before the move leaves it in `via`, so the intent
    /// names both places.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_marked_via(
        &self,
        ns: &crate::net::Ns,
        guest: &Guest,
        via: Option<&Guest>,
        name: &str,
        kind: &str,
        create: impl FnOnce() -> Result<()>,
        mark: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let owner = self.owner();
        let mut keys = vec![link_key(guest, name, kind)];
        keys.extend(via.map(|v| link_key(v, name, kind)));
        for key in &keys {
            self.intents.intend(&owner, key)?;
        }
        let settle = || keys.iter().for_each(|k| self.intents.settle(&owner, k));
        if let Err(e) = create() {
            settle();
            return Err(e);
        }
        crate::crash::point("link-created");
        if let Err(e) = mark() {
            match ns.del_link_by_name(name) {
                Err(d) if d.errno() != Some(libc::ENODEV) => {}
                _ => settle(),
            }
            return Err(e);
        }
        settle();
        Ok(())
    }

    /// Finish what killed pipework processes left half-made for `owner` (every owner: None):
    /// links created but never marked are deleted; the journals go.
    pub(crate) fn finish_killed(&self, owner: Option<&str>, removed: &mut Removed) {
        let Ok(rd) = std::fs::read_dir(dir()) else {
            return;
        };
        for e in rd.flatten() {
            let file = e.file_name().to_string_lossy().into_owned();
            let Some((o, pid, start)) = parse_name(&file) else {
                continue;
            };
            if owner.is_some_and(|w| w != o) {
                continue;
            }
            if pid == std::process::id() || start_time(pid) == Some(start) {
                continue; // still running: its intents are mid-work, not left behind
            }
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            for key in open_intents(&text) {
                if key.starts_with("timeline-") {
                    if let Some(done) = self.finish_timeline(&key) {
                        removed
                            .notes
                            .push(format!("timeline of a killed run: {done}"));
                    }
                } else if let Some(done) = self.finish_link(&key) {
                    removed.links.push(done);
                }
            }
            removed.notes.push(format!(
                "finished what a killed pipework (pid {pid}) left half-made for {o}"
            ));
            let _ = std::fs::remove_file(e.path());
        }
    }

    /// Delete the link an open intent names, if it is still unmarked, of the intended kind, in
    /// the namespace it was made in. Returns what was removed.
    fn finish_link(&self, key: &str) -> Option<String> {
        let field = |k: &str| marker::field(key, k);
        let spec = field("guest")?;
        let (dev, ino) = field("ns")?.split_once(':')?;
        let id = NsId(dev.parse().ok()?, ino.parse().ok()?);
        let (name, kind) = (field("name")?, field("kind")?);
        let guest = match guest::Spec::parse(spec).ok()? {
            guest::Spec::Host => self.host(),
            guest::Spec::Netns(n) => Guest::open_netns(n).ok()??,
            guest::Spec::Pid(p) => Guest::pid(p).ok()?,
            _ => return None,
        };
        if guest.id != id {
            return None; // that namespace is gone, and the link with it
        }
        let ns = self.nl.ns(&guest).ok()?;
        let l = ns.link(name).ok()??;
        if l.alias.as_deref().is_some_and(|a| !a.is_empty()) || !l.is_kind(kind) {
            return None; // marked after all (the marker pass handles it), or not what we made
        }
        ns.del_link(l.index, name).ok()?;
        Some(if guest.is_host() {
            name.to_string()
        } else {
            format!("{guest}:{name}")
        })
    }
}

/// Intents written and never settled, in the order they were written.
fn open_intents(text: &str) -> Vec<String> {
    let mut open: Vec<String> = vec![];
    for line in text.lines() {
        if let Some(k) = line.strip_prefix("+ ") {
            open.push(k.to_string());
        } else if let Some(k) = line.strip_prefix("= ") {
            open.retain(|o| o != k);
        }
    }
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unsettled_intents_remain() {
        let t = "+ link a\n= link a\n+ link b\n+ link c\n= link c\n+ link a\n";
        assert_eq!(open_intents(t), vec!["link b", "link a"]);
        // A torn last line (impossible with one write per record, but cheap to survive).
        assert_eq!(open_intents("+ link a\n= li"), vec!["link a"]);
    }

    #[test]
    fn file_names_parse_back_whatever_the_owner() {
        assert_eq!(parse_name("lamp@12.345"), Some(("lamp", 12, 345)));
        // Owners may hold dots and colons; the last `@` splits.
        assert_eq!(parse_name("c:web.1@7.8"), Some(("c:web.1", 7, 8)));
        assert_eq!(parse_name("lamp"), None);
        assert_eq!(parse_name("lamp@x.1"), None);
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id();
        assert!(start_time(me).is_some());
        assert_eq!(start_time(me), start_time(me));
    }
}
