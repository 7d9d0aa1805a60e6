//! Scripted time in Rhai: `at`, `every`, `flap` register actions; `play` runs them (see
//! `crate::timeline`). The timeline of a run lives here, with the engine: its actions are script
//! callbacks. Whatever it still has in force when the run ends, fails or is interrupted is put back
//! by `finish`.

use super::*;
use crate::timeline::{Action, Change, Event, Every, Timeline};
use rhai::FnPtr;
use std::cell::RefCell;
use std::time::{Duration, Instant};

thread_local! {
    static TIMELINE: RefCell<Timeline<FnPtr>> = RefCell::new(Timeline::default());
    /// Inside a timeline action: a tc() or shape() it calls is the timeline's to undo.
    static IN_ACTION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Before a qdisc changes: when a timeline action changes it and the timeline does not yet hold
/// what was there first, remember that, for the end of the run to put back.
pub(super) fn before_qdisc_change(s: &Session, guest: &Guest, name: &str) -> RhaiResult<()> {
    if !IN_ACTION.get() {
        return Ok(());
    }
    remember_qdisc(s, guest, name)
}

fn remember_qdisc(s: &Session, guest: &Guest, name: &str) -> RhaiResult<()> {
    let probe = Change::Qdisc {
        guest: guest.clone(),
        name: name.to_string(),
        before: crate::net::Qdisc::Default,
    };
    if TIMELINE.with(|t| t.borrow().remembers(&probe)) {
        return Ok(());
    }
    let before = s
        .root_qdisc(guest, name)
        .rhai()?
        .and_then(|r| r.settings)
        .unwrap_or(crate::net::Qdisc::Default);
    remember(
        s,
        Change::Qdisc {
            guest: guest.clone(),
            name: name.to_string(),
            before,
        },
    )
}

/// The timeline now has `c` in force: journaled first, so a killed run's `down` puts it back.
fn remember(s: &Session, c: Change) -> RhaiResult<()> {
    s.timeline_in_force(&c).rhai()?;
    TIMELINE.with(|t| t.borrow_mut().remember(c));
    Ok(())
}

/// `c` is put back (or its link is gone): no longer in force, nor journaled.
fn forget(s: &Session, c: &Change) {
    TIMELINE.with(|t| t.borrow_mut().forget(c));
    s.timeline_undone(c);
}

/// `--timeline FILE`: write the events of this run's plays there, one JSON object per line.
pub fn log_to(path: &std::path::Path) -> crate::Result<()> {
    TIMELINE.with(|t| t.borrow_mut().log_to(path))
}

fn duration(func: &str, what: &str, v: &str) -> RhaiResult<Duration> {
    parse::duration(v).map_err(|e| rt(e.context(format!("{func}(): {what}"))))
}

fn opt_duration(func: &str, m: &Map, key: &str) -> RhaiResult<Option<Duration>> {
    opt_str(func, m, key)?
        .map(|v| duration(func, key, &v))
        .transpose()
}

/// A qdisc profile as the record shows it, on the link it was put on.
fn profile_on(q: &crate::net::Qdisc, guest: &Guest, name: &str) -> serde_json::Value {
    let mut v = crate::timeline::ramp::describe(q);
    v["link"] = format!("{guest}:{name}").into();
    v
}

fn json_change(c: &Change) -> serde_json::Value {
    match c {
        Change::LinkDown { guest, name } => {
            serde_json::json!({"link": format!("{guest}:{name}"), "state": "up", "restored": true})
        }
        Change::Qdisc {
            guest,
            name,
            before,
        } => {
            let mut v = profile_on(before, guest, name);
            v["restored"] = true.into();
            v
        }
    }
}

/// Put back everything the timeline still has in force, saying so on stderr; also drops what is
/// still queued. Called when a run ends (played or not), fails, or is interrupted. The record
/// counts its time from the start of the latest play.
pub fn restore(s: &Session) -> Vec<String> {
    let (changes, origin) = TIMELINE.with(|t| {
        let mut t = t.borrow_mut();
        t.clear();
        (t.in_force().to_vec(), t.origin)
    });
    let mut said = vec![];
    for c in changes.iter().rev() {
        match s.undo_timeline(c) {
            Ok(()) => {
                forget(s, c);
                TIMELINE.with(|t| {
                    let at = origin.map(|o| o.elapsed()).unwrap_or_default();
                    t.borrow_mut().record(&Event {
                        planned: at,
                        applied: at,
                        what: "restore",
                        detail: json_change(c),
                    });
                });
                said.push(c.to_string());
            }
            // Removed meanwhile (the script's own `down()`): nothing left to put back.
            Err(e) if e.kind() == "not_found" => forget(s, c),
            Err(e) => said.push(format!("{c}: FAILED: {e}")),
        }
    }
    TIMELINE.with(|t| t.borrow_mut().flush());
    said
}

/// The end of a run: actions registered and never played are played now (so a one-liner that only
/// registers works), then whatever is still in force is put back.
pub fn finish(engine: &Engine, ast: &AST, s: &Session) -> Result<(), Box<EvalAltResult>> {
    let pending = TIMELINE.with(|t| t.borrow().pending());
    let played = if pending {
        play_with(s, None, |f, n| {
            match n {
                Some(n) => f.call::<Dynamic>(engine, ast, (n,)),
                None => f.call::<Dynamic>(engine, ast, ()),
            }
            .map(|_| ())
        })
    } else {
        Ok(Map::new())
    };
    let restored = restore(s);
    if !restored.is_empty() {
        eprintln!("pipework: timeline: {}", restored.join("; "));
    }
    played.map(|_| ())
}

/// Play the queued actions (up to `limit` after the start); `call` runs a script callback. Returns
/// a summary map: #{actions, p50_ms, p99_ms, probes}.
fn play_with(
    s: &Session,
    limit: Option<Duration>,
    mut call: impl FnMut(&FnPtr, Option<i64>) -> Result<(), Box<EvalAltResult>>,
) -> RhaiResult<Map> {
    let specs = TIMELINE.with(|t| t.borrow_mut().take_probes());
    let actions = TIMELINE.with(|t| t.borrow().pending());
    if limit.is_none() && !actions && specs.iter().any(|p| p.end().is_none()) {
        return err(
            "play(): a probe without `count` or `until` needs actions to play alongside, or play(limit)",
        );
    }
    let _catch = crate::timeline::Catch::install();
    let origin = Instant::now();
    TIMELINE.with(|t| t.borrow_mut().origin = Some(origin));
    let has_probes = !specs.is_empty();
    let mut probes = Some(crate::timeline::Running::start(specs, origin).rhai()?);
    let mut late = vec![];
    // Probes stop with the play (all of them when it is cut short), and what they saw is recorded.
    let mut end_probes = |all: bool| -> Array {
        probes
            .take()
            .map(|p| record_probes(&p.specs.clone(), p.finish(all)))
            .unwrap_or_default()
    };
    let mut fail = |e: Box<EvalAltResult>| {
        end_probes(true);
        let restored = restore(s);
        if !restored.is_empty() {
            eprintln!("pipework: timeline stopped; {}", restored.join("; "));
        }
        e
    };
    loop {
        let next = TIMELINE.with(|t| t.borrow_mut().next(origin, limit));
        let (planned, action) = match next {
            Ok(Some(x)) => x,
            Ok(None) => break,
            Err(i) => return Err(fail(rt(Error::Interrupted(i.to_string())))),
        };
        let applied = origin.elapsed();
        late.push(applied.saturating_sub(planned));
        let (what, detail) = match &action {
            Action::Call { n, .. } => ("call", serde_json::json!({ "n": n })),
            Action::Qdisc {
                guest,
                name,
                q,
                step,
            } => {
                let mut d = profile_on(q, guest, name);
                d["step"] = step.0.into();
                d["steps"] = step.1.into();
                ("ramp", d)
            }
            Action::Link {
                guest,
                name,
                down,
                which,
            } => (
                "flap",
                serde_json::json!({
                    "link": format!("{guest}:{name}"),
                    "end": which,
                    "state": if *down { "down" } else { "up" },
                }),
            ),
        };
        TIMELINE.with(|t| {
            t.borrow_mut().record(&Event {
                planned,
                applied,
                what,
                detail,
            })
        });
        let done = match action {
            Action::Call { f, n } => {
                IN_ACTION.set(true);
                let r = call(&f, n);
                IN_ACTION.set(false);
                r
            }
            // What was there before the first step is what the end of the run puts back.
            Action::Qdisc { guest, name, q, .. } => {
                remember_qdisc(s, &guest, &name).and_then(|()| s.tc(&guest, &name, &q).rhai())
            }
            Action::Link {
                guest, name, down, ..
            } => {
                let change = LinkChange {
                    up: Some(!down),
                    ..Default::default()
                };
                let c = Change::LinkDown {
                    guest: guest.clone(),
                    name: name.clone(),
                };
                // Remembered before the change: a link set down and then lost track of would stay
                // down after the run.
                let noted = if down { remember(s, c.clone()) } else { Ok(()) };
                let r = noted.and_then(|()| s.set_link(&guest, &name, &change).rhai());
                if r.is_ok() && !down {
                    forget(s, &c);
                }
                r
            }
        };
        if let Err(e) = done {
            return Err(fail(e));
        }
        crate::crash::point("timeline-applied");
    }
    // With a limit, probes run to it; the play lasts that long.
    if let Some(l) = limit.filter(|_| has_probes) {
        if let Err(i) = crate::timeline::sleep_until(origin + l) {
            return Err(fail(rt(Error::Interrupted(i.to_string()))));
        }
    }
    let probed = end_probes(limit.is_some());
    TIMELINE.with(|t| t.borrow_mut().flush());
    let mut m = Map::new();
    m.insert("actions".into(), (late.len() as i64).into());
    m.insert("probes".into(), probed.into());
    if let Some((p50, p99)) = crate::timeline::percentiles(&late) {
        m.insert("p50_ms".into(), (p50.as_secs_f64() * 1e3).into());
        m.insert("p99_ms".into(), (p99.as_secs_f64() * 1e3).into());
    }
    Ok(m)
}

/// Write every probe sample to the record (in time order) and sum each probe up for the script:
/// #{guest, dst, sent, received, loss_pct, rtt_avg_ms, rtt_max_ms, samples}.
fn record_probes(
    specs: &[crate::timeline::ProbeSpec],
    mut samples: Vec<crate::timeline::Sample>,
) -> Array {
    samples.sort_by_key(|x| (x.planned, x.probe));
    TIMELINE.with(|t| {
        let mut t = t.borrow_mut();
        for x in &samples {
            let p = &specs[x.probe];
            let mut d = serde_json::json!({"guest": p.guest.to_string(), "dst": p.dst.to_string(), "seq": x.seq});
            match x.rtt {
                Some(r) => d["rtt_ms"] = (r.as_secs_f64() * 1e3).into(),
                None => d["lost"] = true.into(),
            }
            t.record(&Event {
                planned: x.planned,
                applied: x.sent,
                what: "probe",
                detail: d,
            });
        }
        t.flush();
    });
    specs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mine: Vec<_> = samples.iter().filter(|x| x.probe == i).collect();
            let rtts: Vec<f64> = mine
                .iter()
                .filter_map(|x| x.rtt.map(|r| r.as_secs_f64() * 1e3))
                .collect();
            let mut m = Map::new();
            m.insert("guest".into(), p.guest.to_string().into());
            m.insert("dst".into(), p.dst.to_string().into());
            m.insert("sent".into(), (mine.len() as i64).into());
            m.insert("received".into(), (rtts.len() as i64).into());
            let loss = if mine.is_empty() {
                0.0
            } else {
                100.0 * (mine.len() - rtts.len()) as f64 / mine.len() as f64
            };
            m.insert("loss_pct".into(), loss.into());
            // Each echo for the script itself: #{t_ms (planned), rtt_ms} or #{t_ms, lost: true}.
            let each: Array = mine
                .iter()
                .map(|x| {
                    let mut e = Map::new();
                    e.insert("t_ms".into(), (x.planned.as_secs_f64() * 1e3).into());
                    match x.rtt {
                        Some(r) => e.insert("rtt_ms".into(), (r.as_secs_f64() * 1e3).into()),
                        None => e.insert("lost".into(), true.into()),
                    };
                    Dynamic::from(e)
                })
                .collect();
            m.insert("samples".into(), each.into());
            if !rtts.is_empty() {
                m.insert(
                    "rtt_avg_ms".into(),
                    (rtts.iter().sum::<f64>() / rtts.len() as f64).into(),
                );
                m.insert(
                    "rtt_max_ms".into(),
                    rtts.iter().cloned().fold(0.0, f64::max).into(),
                );
            }
            Dynamic::from(m)
        })
        .collect()
}

/// A callback from inside a script's own `play()`: `every`'s take the call count, `at`'s nothing.
fn call_in(ctx: &NativeCallContext, f: &FnPtr, n: Option<i64>) -> Result<(), Box<EvalAltResult>> {
    match n {
        Some(n) => f.call_within_context::<Dynamic>(ctx, (n,)),
        None => f.call_within_context::<Dynamic>(ctx, ()),
    }
    .map(|_| ())
}

pub(super) fn register(engine: &mut Engine, s: &Rc<Session>) {
    reg!(
        engine,
        "ms",
        ["duration: &str", "f64"],
        "A duration as the timeline takes it (\"1.5s\", \"250ms\") in milliseconds, to compute with: ms(\"2s\") / 4.0.",
        |d: &str| duration("ms", "duration", d).map(|d| d.as_secs_f64() * 1e3)
    );
    reg!(
        engine,
        "at",
        ["when: &str", "f: FnPtr", "()"],
        "Register f() to run `when` (\"2s\", \"500ms\") after play() starts.",
        |when: &str, f: FnPtr| {
            let d = duration("at", "when", when)?;
            TIMELINE.with(|t| t.borrow_mut().at(d, f));
            Ok::<_, Box<EvalAltResult>>(())
        }
    );
    let every = |period: &str, f: FnPtr, o: Map| -> RhaiResult<()> {
        check_keys("every", &o, &["count", "until"])?;
        let d = duration("every", "period", period)?;
        let e = Every {
            count: opt_int("every", &o, "count")?,
            until: opt_duration("every", &o, "until")?,
        };
        TIMELINE.with(|t| t.borrow_mut().every(d, f, e)).rhai()
    };
    reg!(
        engine,
        "every",
        ["period: &str", "f: FnPtr", "opts: Map", "()"],
        "Register f(n) to run every `period` after play() starts (n = 0, 1, …), #{count, \"until\"} (Rhai reserves until: quote it); without either it runs until play's limit.",
        every
    );
    reg!(
        engine,
        "every",
        ["period: &str", "f: FnPtr", "()"],
        "every(period, f, #{}) until play's limit.",
        move |period: &str, f: FnPtr| every(period, f, Map::new())
    );
    let ss = s.clone();
    let host = s.host();
    let flap_link = move |l: Link, which: String, o: Map| -> RhaiResult<()> {
        check_keys("flap", &o, &["down", "up", "count", "at", "end"])?;
        let down = opt_duration("flap", &o, "down")?.unwrap_or(Duration::from_secs(1));
        let up = opt_duration("flap", &o, "up")?.unwrap_or(Duration::from_secs(1));
        let start = opt_duration("flap", &o, "at")?.unwrap_or_default();
        let count = opt_int("flap", &o, "count")?.unwrap_or(1);
        // Refused now, not half-way through the play.
        ss.link(&l.guest, &l.name).rhai()?;
        TIMELINE
            .with(|t| {
                t.borrow_mut()
                    .flap(&l.guest, &l.name, &which, start, down, up, count)
            })
            .rhai()
    };
    let f = flap_link.clone();
    reg!(
        engine,
        "flap",
        ["link: Link", "opts: Map", "()"],
        "Flap a link's carrier during play(): #{down: \"1s\", up: \"1s\", count: 1, at: \"0s\"}; the link goes down at `at`, stays down `down`, comes up for `up`, `count` times. Its peer sees the carrier go.",
        move |l: Link, o: Map| {
            let which = if l.guest.is_host() { "host end" } else { "guest end" };
            f(l, which.to_string(), o)
        }
    );
    let f = flap_link;
    reg!(
        engine,
        "flap",
        ["attachment: Attachment", "opts: Map", "()"],
        "Flap an attachment during play(), as flap(link, ..); #{end: \"guest\"} (default) sets the guest's interface down, #{end: \"host\"} the host end of its pair.",
        move |a: Attachment, o: Map| {
            let end = opt_str("flap", &o, "end")?.unwrap_or_else(|| "guest".into());
            let mut o = o;
            o.remove("end");
            match end.as_str() {
                "guest" => f(
                    Link::new(a.guest.clone(), a.ifname.clone()),
                    format!("guest end, peer of host:{}", a.host_ifname),
                    o,
                ),
                "host" => f(
                    Link::new(host.clone(), a.host_ifname.clone()),
                    format!("host end, peer of {}:{}", a.guest, a.ifname),
                    o,
                ),
                other => err(format!(
                    "flap(): end must be \"guest\" or \"host\", not {other:?}"
                )),
            }
        }
    );
    let probe = |g: Guest, ip: &str, o: Map| -> RhaiResult<()> {
        check_keys("probe", &o, &["every", "count", "until", "timeout"])?;
        let spec = crate::timeline::ProbeSpec {
            guest: g,
            dst: parse::ip(ip).rhai()?,
            every: opt_duration("probe", &o, "every")?.unwrap_or(Duration::from_millis(100)),
            count: opt_int("probe", &o, "count")?,
            until: opt_duration("probe", &o, "until")?,
            timeout: opt_duration("probe", &o, "timeout")?.unwrap_or(Duration::from_secs(1)),
        };
        TIMELINE.with(|t| t.borrow_mut().probe(spec)).rhai()
    };
    reg!(
        engine,
        "probe",
        ["guest: Guest", "ip: &str", "opts: Map", "()"],
        "Ping `ip` from inside the guest during play(): #{every: \"100ms\", count, until, timeout: \"1s\"}; a request goes out at every period whatever the replies do, and one without a reply within `timeout` is lost; each echo is recorded (--timeline) and play() returns each probe's #{sent, received, loss_pct, rtt_avg_ms, rtt_max_ms, samples: [#{t_ms, rtt_ms | lost}]}.",
        probe
    );
    reg!(
        engine,
        "probe",
        ["guest: Guest", "ip: &str", "()"],
        "probe(guest, ip, #{}): every 100 ms while play() runs.",
        move |g: Guest, ip: &str| probe(g, ip, Map::new())
    );
    let ss = s.clone();
    reg!(
        engine,
        "ramp",
        ["link: Link", "opts: Map", "()"],
        "Move a link's qdisc from one profile to another during play(): #{from: #{delay: \"10ms\"}, to: #{delay: \"200ms\", loss: \"5%\"}, over: \"30s\", steps: 10, at: \"0s\"}; the profiles are what tc() takes (netem, or tbf by rate), each step replaces the root qdisc; the end of the run puts back what was there.",
        move |l: Link, o: Map| {
            check_keys("ramp", &o, &["from", "to", "over", "steps", "at"])?;
            let end = |k: &str| -> RhaiResult<crate::net::Qdisc> {
                let m = o
                    .get(k)
                    .and_then(|v| v.clone().try_cast::<Map>())
                    .ok_or_else(|| rt(Error::invalid("ramp", k, "a map of what tc() takes is needed")))?;
                super::qdisc::qdisc(&m)
            };
            let (from, to) = (end("from")?, end("to")?);
            let over = opt_duration("ramp", &o, "over")?
                .ok_or_else(|| rt(Error::invalid("ramp", "over", "how long the ramp takes is needed")))?;
            let steps = opt_int("ramp", &o, "steps")?.unwrap_or(10);
            if !(1..=10_000).contains(&steps) {
                return err(format!("ramp(): steps must be 1 to 10000, not {steps}"));
            }
            let start = opt_duration("ramp", &o, "at")?.unwrap_or_default();
            ss.link(&l.guest, &l.name).rhai()?;
            TIMELINE
                .with(|t| {
                    t.borrow_mut()
                        .ramp(&l.guest, &l.name, &from, &to, start, over, steps as u32)
                })
                .rhai()
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "play",
        ["Map"],
        "Run the registered actions in time order against absolute deadlines; returns #{actions, p50_ms, p99_ms} (how late they ran). Ctrl-C or a failure puts back what the timeline changed.",
        move |ctx: NativeCallContext| {
            play_with(&ss, None, |f, n| call_in(&ctx, f, n))
        }
    );
    let ss = s.clone();
    reg!(
        engine,
        "play",
        ["limit: &str", "Map"],
        "play() up to `limit` after its start; later actions stay registered for the next play().",
        move |ctx: NativeCallContext, limit: &str| {
            let l = duration("play", "limit", limit)?;
            play_with(&ss, Some(l), |f, n| call_in(&ctx, f, n))
        }
    );
}
