//! Waiting for a deadline, and being told to stop. While a timeline plays, SIGINT and SIGTERM only
//! raise a flag (the default would kill the process with links left down and qdiscs in place);
//! the wait sees the flag within a few milliseconds and the play undoes what it changed.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The signal that asked the play to stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interrupt(pub i32);

impl std::fmt::Display for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            libc::SIGINT => "SIGINT",
            libc::SIGTERM => "SIGTERM",
            _ => "a signal",
        };
        write!(f, "interrupted by {name}")
    }
}

static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    CAUGHT.store(sig, Ordering::SeqCst);
}

/// Catch SIGINT and SIGTERM until the guard is dropped (then the previous dispositions return).
pub struct Catch {
    old: Vec<(nix::sys::signal::Signal, nix::sys::signal::SigAction)>,
}

impl Catch {
    pub fn install() -> Catch {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
        let act = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_RESTART,
            SigSet::empty(),
        );
        let mut old = vec![];
        for s in [Signal::SIGINT, Signal::SIGTERM] {
            // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
            if let Ok(prev) = unsafe { sigaction(s, &act) } {
                old.push((s, prev));
            }
        }
        Catch { old }
    }
}

impl Drop for Catch {
    fn drop(&mut self) {
        for (s, prev) in self.old.drain(..) {
            // SAFETY: restoring the disposition that was there before.
            let _ = unsafe { nix::sys::signal::sigaction(s, &prev) };
        }
    }
}

/// The signal caught since the last call, if any (reading it clears it).
fn interrupted() -> Option<Interrupt> {
    match CAUGHT.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Some(Interrupt(s)),
    }
}

/// The longest sleep between looks at the flag: how late a Ctrl-C may be noticed.
const SLICE: Duration = Duration::from_millis(20);

/// Sleep until `deadline` (at once if it has passed), unless a signal comes first.
pub fn sleep_until(deadline: Instant) -> Result<(), Interrupt> {
    loop {
        if let Some(i) = interrupted() {
            return Err(i);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}
