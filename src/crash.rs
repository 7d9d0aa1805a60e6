//! Crash points: named instants inside multi-step operations where a test can have the process
//! killed outright (`PIPEWORK_CRASH_AT=point` or `point@N` for its N-th passage), to prove that what
//! a `kill -9` leaves there is found and finished by the next `down(owner)`.
//!
//! Why not the `fail` crate: its actions (panic, return, sleep, pause) all keep the process alive
//! or unwind it, running destructors — the rollback a real `kill -9` never gets. Here the process
//! sends itself SIGKILL, which nothing can catch. One environment read per process; an unset
//! variable costs a branch per point.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

static TARGET: OnceLock<Option<(String, u32)>> = OnceLock::new();
static PASSED: AtomicU32 = AtomicU32::new(0);

fn target() -> &'static Option<(String, u32)> {
    TARGET.get_or_init(|| {
        let v = std::env::var("PIPEWORK_CRASH_AT").ok()?;
        Some(match v.split_once('@') {
            Some((p, n)) => (p.to_string(), n.parse().unwrap_or(1).max(1)),
            None => (v, 1),
        })
    })
}

/// Die here, by SIGKILL, if this is the point (and passage) the environment names.
pub fn point(name: &str) {
    let Some((p, n)) = target() else { return };
    if p == name && PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
