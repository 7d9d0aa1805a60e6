//! Scripted time: actions registered against a clock (`at`, `every`, `flap`) and played in time
//! order against absolute deadlines, so a late action does not push the ones after it (no drift).
//! What the timeline changes in the network (a link set down by a flap) is remembered until it is
//! put back: at the end of the play, on a failure, or on SIGINT/SIGTERM, every change still in
//! force is undone and listed. With `--timeline FILE` each event is one JSON line: when it was
//! planned, when it was applied, what changed.

mod clock;
pub mod plot;
mod probe;
pub mod ramp;

pub use clock::{sleep_until, Catch, Interrupt};
pub use probe::{ProbeSpec, Running, Sample};

use crate::error::{Error, Result};
use crate::guest::Guest;
use std::collections::BinaryHeap;
use std::io::Write;
use std::time::{Duration, Instant};

/// One thing to do at one moment of the play. `C` is what a script callback is to the front end
/// (a Rhai function pointer); the core only orders and times it.
pub enum Action<C> {
    /// A script's callback; `n` counts the calls of an `every` (0, 1, …), none for an `at`.
    Call { f: C, n: Option<i64> },
    /// Set a link down (`true`) or up (`false`): one edge of a flap.
    Link {
        guest: Guest,
        name: String,
        down: bool,
        /// Which end of the pair this is, for the record ("guest end of netns:a:eth1").
        which: String,
    },
    /// One step of a ramp: this profile at the root of the link.
    Qdisc {
        guest: Guest,
        name: String,
        q: crate::net::Qdisc,
        /// Step `.0` of `.1` (0 is the `from` end).
        step: (u32, u32),
    },
}

struct Entry<C> {
    at: Duration,
    seq: u64,
    action: Action<C>,
    /// For `every`: the period and the calls left after this one (None: until the limit).
    repeat: Option<(Duration, Option<i64>, Option<Duration>)>,
}

impl<C> PartialEq for Entry<C> {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl<C> Eq for Entry<C> {}
impl<C> PartialOrd for Entry<C> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<C> Ord for Entry<C> {
    // Reversed: BinaryHeap pops its greatest, and the earliest (then the first registered) goes
    // first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}

/// What the timeline changed and has not put back yet.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    LinkDown {
        guest: Guest,
        name: String,
    },
    /// A ramp replaced the root qdisc; `before` is what was there (the kernel's default, or a
    /// netem/tbf of the user's).
    Qdisc {
        guest: Guest,
        name: String,
        before: crate::net::Qdisc,
    },
}

impl Change {
    /// Which link it is about: one change per link and kind is kept, the first (what to go back to).
    fn target(&self) -> (u8, &Guest, &str) {
        match self {
            Change::LinkDown { guest, name } => (0, guest, name),
            Change::Qdisc { guest, name, .. } => (1, guest, name),
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::LinkDown { guest, name } => write!(f, "link {guest}:{name} set up again"),
            Change::Qdisc {
                guest,
                name,
                before: crate::net::Qdisc::Default,
            } => write!(f, "qdisc of {guest}:{name} back to the default"),
            Change::Qdisc { guest, name, .. } => {
                write!(f, "qdisc of {guest}:{name} back to what it was")
            }
        }
    }
}

/// One event of a play, as `--timeline` writes it.
pub struct Event<'a> {
    pub planned: Duration,
    pub applied: Duration,
    pub what: &'a str,
    pub detail: serde_json::Value,
}

pub struct Timeline<C> {
    queue: BinaryHeap<Entry<C>>,
    /// Probes for the next play.
    probes: Vec<ProbeSpec>,
    seq: u64,
    in_force: Vec<Change>,
    log: Option<std::io::BufWriter<std::fs::File>>,
    /// When the latest play started: what the record's times after it (a restore at the end of
    /// the run) are counted from.
    pub origin: Option<Instant>,
}

impl<C> Default for Timeline<C> {
    fn default() -> Self {
        Timeline {
            queue: BinaryHeap::new(),
            probes: vec![],
            seq: 0,
            in_force: vec![],
            log: None,
            origin: None,
        }
    }
}

/// What `every` was asked: stop after `count` calls, or once `until` has passed (both: whichever
/// comes first; neither: when the play's own limit ends it).
#[derive(Clone, Copy, Debug, Default)]
pub struct Every {
    pub count: Option<i64>,
    pub until: Option<Duration>,
}

impl<C> Timeline<C> {
    /// Write every event of later plays to `path`, one JSON object per line.
    pub fn log_to(&mut self, path: &std::path::Path) -> Result<()> {
        let f = std::fs::File::create(path)
            .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
        self.log = Some(std::io::BufWriter::new(f));
        Ok(())
    }

    pub fn pending(&self) -> bool {
        !self.queue.is_empty() || !self.probes.is_empty()
    }

    /// Probe `spec.dst` from `spec.guest` during the next play.
    pub fn probe(&mut self, spec: ProbeSpec) -> Result<()> {
        periodic("probe", spec.every, spec.count)?;
        self.probes.push(spec);
        Ok(())
    }

    /// The probes registered for the next play (handed over: a play runs them once).
    pub fn take_probes(&mut self) -> Vec<ProbeSpec> {
        std::mem::take(&mut self.probes)
    }

    fn push(
        &mut self,
        at: Duration,
        action: Action<C>,
        repeat: Option<(Duration, Option<i64>, Option<Duration>)>,
    ) {
        self.seq += 1;
        self.queue.push(Entry {
            at,
            seq: self.seq,
            action,
            repeat,
        });
    }

    /// `f` once, `at` after the play starts.
    pub fn at(&mut self, at: Duration, f: C) {
        self.push(at, Action::Call { f, n: None }, None);
    }

    /// `f(n)` every `period` from the play's start (the first call at `period`).
    pub fn every(&mut self, period: Duration, f: C, e: Every) -> Result<()> {
        periodic("every", period, e.count)?;
        if e.until.is_some_and(|u| u < period) {
            return Ok(()); // over before its first call
        }
        self.push(
            period,
            Action::Call { f, n: Some(0) },
            Some((period, e.count.map(|c| c - 1), e.until)),
        );
        Ok(())
    }

    /// A carrier flap of `name` in `guest`: down for `down`, up for `up`, `count` times, the first
    /// going down at `start`. `which` says which end this is, for the record.
    #[allow(clippy::too_many_arguments)]
    pub fn flap(
        &mut self,
        guest: &Guest,
        name: &str,
        which: &str,
        start: Duration,
        down: Duration,
        up: Duration,
        count: i64,
    ) -> Result<()> {
        if count < 1 {
            return Err(Error::invalid("flap", "count", "count must be at least 1"));
        }
        if down.is_zero() {
            return Err(Error::invalid(
                "flap",
                "down",
                "a flap must be down for some time",
            ));
        }
        let mut t = start;
        for _ in 0..count {
            for (edge, d) in [(true, down), (false, up)] {
                self.push(
                    t,
                    Action::Link {
                        guest: guest.clone(),
                        name: name.to_string(),
                        down: edge,
                        which: which.to_string(),
                    },
                    None,
                );
                t += d;
            }
        }
        Ok(())
    }

    /// Everything changed and not yet put back, in the order it was changed.
    pub fn in_force(&self) -> &[Change] {
        &self.in_force
    }

    /// Whether a change of this kind to this link is in force already.
    pub fn remembers(&self, c: &Change) -> bool {
        self.in_force.iter().any(|x| x.target() == c.target())
    }

    pub fn remember(&mut self, c: Change) {
        if !self.remembers(&c) {
            self.in_force.push(c);
        }
    }

    pub fn forget(&mut self, c: &Change) {
        self.in_force.retain(|x| x.target() != c.target());
    }

    /// A ramp of `name` in `guest` from `from` to `to` over `over` in `steps` steps, the first (the
    /// `from` profile) at `start`. Every step's profile is made now, so a bad pair is refused
    /// before anything plays.
    #[allow(clippy::too_many_arguments)]
    pub fn ramp(
        &mut self,
        guest: &Guest,
        name: &str,
        from: &crate::net::Qdisc,
        to: &crate::net::Qdisc,
        start: Duration,
        over: Duration,
        steps: u32,
    ) -> Result<()> {
        if steps < 1 {
            return Err(Error::invalid("ramp", "steps", "at least 1"));
        }
        let profiles = (0..=steps)
            .map(|i| ramp::between(from, to, i as f64 / steps as f64))
            .collect::<Result<Vec<_>>>()?;
        for (i, q) in profiles.into_iter().enumerate() {
            self.push(
                start + over.mul_f64(i as f64 / steps as f64),
                Action::Qdisc {
                    guest: guest.clone(),
                    name: name.to_string(),
                    q,
                    step: (i as u32, steps),
                },
                None,
            );
        }
        Ok(())
    }

    pub fn record(&mut self, e: &Event) {
        let Some(log) = self.log.as_mut() else { return };
        let mut line = serde_json::json!({
            "planned_ms": e.planned.as_secs_f64() * 1e3,
            "applied_ms": e.applied.as_secs_f64() * 1e3,
            "event": e.what,
        });
        if let (Some(m), serde_json::Value::Object(d)) = (line.as_object_mut(), &e.detail) {
            m.extend(d.clone());
        }
        let _ = writeln!(log, "{line}");
    }

    pub fn flush(&mut self) {
        if let Some(log) = self.log.as_mut() {
            let _ = log.flush();
        }
    }

    /// The next action, once its deadline (from `origin`) has come; None when the queue is empty
    /// or the next one lies beyond `limit`. Sleeps until then; an interrupt ends the wait with
    /// `Err(Interrupt)`.
    pub fn next(
        &mut self,
        origin: Instant,
        limit: Option<Duration>,
    ) -> std::result::Result<Option<(Duration, Action<C>)>, Interrupt>
    where
        C: Clone,
    {
        let Some(top) = self.queue.peek() else {
            return Ok(None);
        };
        if limit.is_some_and(|l| top.at > l) {
            return Ok(None);
        }
        clock::sleep_until(origin + top.at)?;
        let e = self.queue.pop().expect("peeked");
        if let (Some((period, left, until)), Action::Call { f, n }) = (e.repeat, &e.action) {
            let next = e.at + period;
            let more = left.is_none_or(|l| l > 0) && until.is_none_or(|u| next <= u);
            if more {
                self.push(
                    next,
                    Action::Call {
                        f: f.clone(),
                        n: n.map(|n| n + 1),
                    },
                    Some((period, left.map(|l| l - 1), until)),
                );
            }
        }
        Ok(Some((e.at, e.action)))
    }

    /// Drop whatever is still queued (a failed or interrupted play does not go on later).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.probes.clear();
    }
}

/// What `every` and `probe` both check: a period above zero, a count of at least one.
fn periodic(func: &'static str, period: Duration, count: Option<i64>) -> Result<()> {
    if period.is_zero() {
        return Err(Error::invalid(
            func,
            "every",
            "the period must be above zero",
        ));
    }
    if count.is_some_and(|c| c < 1) {
        return Err(Error::invalid(func, "count", "count must be at least 1"));
    }
    Ok(())
}

/// p50 and p99 of lateness, for the summary a play prints.
pub fn percentiles(v: &[Duration]) -> Option<(Duration, Duration)> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort();
    let at = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    Some((at(0.50), at(0.99)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_come_in_time_order_and_every_repeats_as_told() {
        let mut t: Timeline<&str> = Timeline::default();
        t.at(Duration::from_millis(30), "c");
        t.at(Duration::from_millis(10), "a");
        t.every(
            Duration::from_millis(10),
            "e",
            Every {
                count: Some(3),
                until: None,
            },
        )
        .unwrap();
        t.at(Duration::from_millis(10), "b");
        let origin = Instant::now();
        let mut seen = vec![];
        while let Some((at, a)) = t.next(origin, None).unwrap() {
            let Action::Call { f, n } = a else { panic!() };
            seen.push(format!("{}{f}{}", at.as_millis(), n.unwrap_or(-1)));
            assert!(origin.elapsed() >= at, "not before its deadline");
        }
        // Same moment: registration order (a, then the every's first call, then b).
        assert_eq!(seen, ["10a-1", "10e0", "10b-1", "20e1", "30c-1", "30e2"]);
    }

    #[test]
    fn a_limit_stops_the_play_and_until_stops_every() {
        let mut t: Timeline<&str> = Timeline::default();
        let e = Every {
            count: None,
            until: Some(Duration::from_millis(25)),
        };
        t.every(Duration::from_millis(10), "e", e).unwrap();
        t.at(Duration::from_millis(40), "late");
        let origin = Instant::now();
        let mut n = 0;
        while t
            .next(origin, Some(Duration::from_millis(35)))
            .unwrap()
            .is_some()
        {
            n += 1;
        }
        assert_eq!(n, 2, "10 and 20 ms; 30 is past until");
        assert!(t.pending(), "the action beyond the limit stays queued");
        assert!(t.every(Duration::ZERO, "x", Every::default()).is_err());
        assert!(t
            .every(
                Duration::from_millis(1),
                "x",
                Every {
                    count: Some(0),
                    until: None
                }
            )
            .is_err());
    }

    #[test]
    fn percentiles_of_lateness() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let (p50, p99) = percentiles(&v).unwrap();
        assert_eq!(p50, Duration::from_millis(51));
        assert_eq!(p99, Duration::from_millis(99));
        assert!(percentiles(&[]).is_none());
    }
}
