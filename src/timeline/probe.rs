//! Probes: an ICMP echo from inside a guest every period while a timeline plays, each result kept
//! with when it was planned and when it went out. Each probe has a thread of its own, so a slow
//! reply never delays the timeline's actions (nor they the probe's clock).

use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::ping::Echo;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a script asked to probe.
#[derive(Clone, Debug)]
pub struct ProbeSpec {
    pub guest: Guest,
    pub dst: IpAddr,
    pub every: Duration,
    pub count: Option<i64>,
    pub until: Option<Duration>,
    /// How long a reply may take before its request counts as lost.
    pub timeout: Duration,
}

impl ProbeSpec {
    /// When its last echo is planned, if it has an end of its own.
    pub fn end(&self) -> Option<Duration> {
        let by_count = self.count.map(|c| self.every * (c.max(1) as u32 - 1));
        match (by_count, self.until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One echo of one probe.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Which probe (its index in registration order).
    pub probe: usize,
    pub seq: u64,
    pub planned: Duration,
    pub sent: Duration,
    pub rtt: Option<Duration>,
}

/// Probes running for one play; dropping it stops and joins them.
pub struct Running {
    /// Stop the probes that have no end of their own.
    stop: Arc<AtomicBool>,
    /// Stop them all (the play's limit, an interrupt, a failure).
    abort: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    rx: Receiver<Sample>,
    pub specs: Vec<ProbeSpec>,
}

impl Running {
    /// Open every probe's socket (a failure stops the play before it starts), then start them,
    /// their clocks at `origin`.
    pub fn start(specs: Vec<ProbeSpec>, origin: Instant) -> Result<Running> {
        let echoes = specs
            .iter()
            .map(|p| Echo::open(&p.guest, p.dst))
            .collect::<Result<Vec<_>>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let abort = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let mut threads = vec![];
        for (i, (echo, spec)) in echoes.into_iter().zip(specs.iter().cloned()).enumerate() {
            let (stop, abort, tx) = (stop.clone(), abort.clone(), tx.clone());
            let t = std::thread::Builder::new()
                .name(format!("probe-{i}"))
                .spawn(move || {
                    let halt = || {
                        abort.load(Ordering::SeqCst)
                            || (stop.load(Ordering::SeqCst) && spec.end().is_none())
                    };
                    probe(i, &echo, &spec, origin, &halt, &tx)
                })
                .map_err(|e| Error::io("starting a probe thread", e))?;
            threads.push(t);
        }
        Ok(Running {
            stop,
            abort,
            threads,
            rx,
            specs,
        })
    }

    /// Stop the probes: all of them (`all`), or only those without an end of their own, waiting
    /// for the others to reach theirs. Returns every sample.
    pub fn finish(mut self, all: bool) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        if all {
            self.abort.store(true, Ordering::SeqCst);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.rx.try_iter().collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.abort.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One probe's loop: a request at every deadline, replies matched as they come (a reply may come
/// after later requests went out: a delay longer than the period is measured, not lost), a request
/// without reply after `timeout` lost.
fn probe(
    i: usize,
    echo: &Echo,
    spec: &ProbeSpec,
    origin: Instant,
    halt: &dyn Fn() -> bool,
    tx: &Sender<Sample>,
) {
    let end = spec.end();
    // Requests in flight: seq → (k, planned, when sent).
    let mut out: std::collections::HashMap<u16, (u64, Duration, Instant)> = Default::default();
    let give = |k: u64, planned: Duration, sent: Instant, rtt: Option<Duration>| {
        let _ = tx.send(Sample {
            probe: i,
            seq: k,
            planned,
            sent: sent.duration_since(origin),
            rtt,
        });
    };
    // Wait for replies until `until`, then call what is older than the time-out lost.
    let listen = |out: &mut std::collections::HashMap<u16, (u64, Duration, Instant)>,
                  until: Instant| {
        while let Some((seq, at)) = echo.recv(until) {
            if let Some((k, planned, sent)) = out.remove(&seq) {
                give(k, planned, sent, Some(at - sent));
            }
        }
        let now = Instant::now();
        out.retain(|_, (k, planned, sent)| {
            let expired = now.duration_since(*sent) >= spec.timeout;
            if expired {
                give(*k, *planned, *sent, None);
            }
            !expired
        });
    };
    for k in 0u64.. {
        let planned = spec.every * k as u32;
        if end.is_some_and(|e| planned > e) || halt() {
            break;
        }
        // Replies until this request is due, looking at the stop flags every few milliseconds.
        loop {
            let due = origin + planned;
            if Instant::now() >= due {
                break;
            }
            listen(
                &mut out,
                due.min(Instant::now() + Duration::from_millis(10)),
            );
            if halt() {
                break;
            }
        }
        if halt() {
            break;
        }
        let sent = Instant::now();
        let seq = (k % 65536) as u16;
        match echo.send(seq) {
            Ok(true) => {
                out.insert(seq, (k, planned, sent));
            }
            Ok(false) | Err(_) => give(k, planned, sent, None),
        }
    }
    // The last replies: until each request in flight is answered or timed out.
    let last = Instant::now() + spec.timeout;
    while !out.is_empty() && Instant::now() < last {
        listen(
            &mut out,
            last.min(Instant::now() + Duration::from_millis(10)),
        );
    }
    for (k, planned, sent) in out.into_values() {
        give(k, planned, sent, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_ends_by_count_or_until_whichever_first() {
        let spec = |count, until| ProbeSpec {
            guest: Guest::host().unwrap(),
            dst: "198.18.0.1".parse().unwrap(),
            every: Duration::from_millis(100),
            count,
            until,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(spec(None, None).end(), None);
        assert_eq!(spec(Some(5), None).end(), Some(Duration::from_millis(400)));
        let until = Some(Duration::from_millis(250));
        assert_eq!(spec(None, until).end(), until);
        assert_eq!(spec(Some(2), until).end(), Some(Duration::from_millis(100)));
    }
}
