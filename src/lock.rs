//! Locks between pipework processes: `flock(2)` on files under /run/pipework, the way CNI's
//! host-local IPAM and netavark serialise their shared state. A lock dies with its holder, so a
//! killed process never leaves one behind. Held only around short decisions (is this bridge still
//! used, is this namespace name free), never across a whole script.

use crate::error::{Error, Result};
use crate::guest::STATE_DIR;
use nix::fcntl::{Flock, FlockArg};
use std::path::Path;

pub struct Lock(#[allow(dead_code)] Flock<std::fs::File>);

/// What a lock guards; each is its own file, so unrelated work never waits on it.
#[derive(Clone, Copy)]
pub enum Topic {
    /// Creating named namespaces (the name check, placeholder and mount as one step).
    Netns,
    /// Shared bridges: who uses one, and whether the last user out removes it.
    Bridges,
}

impl Topic {
    fn file(self) -> &'static str {
        match self {
            Topic::Netns => "netns.lock",
            Topic::Bridges => "bridges.lock",
        }
    }
}

fn take(topic: Topic, how: FlockArg) -> Result<Lock> {
    let path = Path::new(STATE_DIR).join(topic.file());
    let open = || {
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
    };
    // The directory exists but on a machine's first run: make it only then.
    let f = open()
        .or_else(|e| match e.kind() {
            std::io::ErrorKind::NotFound => std::fs::create_dir_all(STATE_DIR).and_then(|_| open()),
            _ => Err(e),
        })
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    Flock::lock(f, how)
        .map(Lock)
        .map_err(|(_, e)| Error::io(format!("locking {}", path.display()), e.into()))
}

/// Many holders at once (attaches joining a bridge), none while an exclusive holder decides.
pub fn shared(topic: Topic) -> Result<Lock> {
    take(topic, FlockArg::LockShared)
}

pub fn exclusive(topic: Topic) -> Result<Lock> {
    take(topic, FlockArg::LockExclusive)
}
