//! Scripted time (root): `at`/`every`/`flap`/`play` against real links. Effects are read by an
//! independent observer (`ip -ts monitor`), timing from the `--timeline` record, and an interrupted
//! play must leave the links as they were.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn timeline_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Run `src` as a script with `--timeline`, `flags` before the file and `params` after it, as
/// `<prefix>.rhai` so what it makes is the World's (its owner is the prefix). Returns the output and
/// where the record is.
fn run_recorded(
    w: &World,
    src: &str,
    flags: &[&str],
    params: &[String],
) -> (std::process::Output, std::path::PathBuf) {
    let log = w.dir().join("timeline.jsonl");
    let script = w.dir().join(format!("{}.rhai", w.prefix));
    std::fs::write(&script, src).unwrap();
    let mut args: Vec<&str> = vec!["run"];
    args.extend_from_slice(flags);
    args.extend([
        "--timeline",
        log.to_str().unwrap(),
        script.to_str().unwrap(),
    ]);
    args.extend(params.iter().map(String::as_str));
    (w.cmd(&args), log)
}

/// 200 actions 50 ms apart: each runs at its own deadline from the play's start, not 50 ms after
/// the one before, so lateness does not add up; the record has every one, in order.
#[test]
fn time_two_hundred_actions_keep_their_deadlines() {
    let w = World::new("tm");
    let (out, log) = run_recorded(
        &w,
        r#"
        let hits = [];
        every("50ms", |n| { hits.push(n); }, #{count: 200});
        let r = play();
        print(`p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, ${r.actions} actions`);
        "#,
        &[],
        &[],
    );
    let out = ok(&out);
    let lines = timeline_lines(&log);
    assert_eq!(lines.len(), 200, "{out}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["event"], "call");
        assert_eq!(l["n"], i as i64);
        let planned = l["planned_ms"].as_f64().unwrap();
        assert!((planned - 50.0 * (i + 1) as f64).abs() < 1e-6, "{l}");
        assert!(l["applied_ms"].as_f64().unwrap() >= planned, "early: {l}");
    }
    // No drift: the last action is late by about what any one is, not by 200 of them. (A 50 ms
    // sleep after each action would put it several hundred ms behind.)
    let last = &lines[199];
    let late = last["applied_ms"].as_f64().unwrap() - last["planned_ms"].as_f64().unwrap();
    assert!(late < 50.0, "the 200th action ran {late} ms late: {out}");
    println!("{out}");
}

/// A guest end flapped three times: an `ip monitor` in the host, started before, sees its host end
/// lose and regain carrier three times, each outage about as long as asked.
#[test]
fn time_flaps_seen_by_ip_monitor() {
    let w = World::new("tf");
    let (a, br) = (w.ns("a"), w.br());
    let host_end = format!("veth1pl{a}");
    let mon_out = w.dir().join("monitor.txt");
    let mut mon = Command::new("ip")
        .args(["-ts", "monitor", "link"])
        .stdout(std::fs::File::create(&mon_out).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip monitor");
    let out = w.script(
        r#"
        let x = veth(netns(params.a), bridge(params.br), #{ip: "198.18.61.2/24"});
        flap(x, #{down: "300ms", up: "400ms", count: 3, at: "100ms"});
        play();
        "#,
        &[&format!("a={a}"), &format!("br={br}")],
    );
    std::thread::sleep(Duration::from_millis(300));
    let _ = mon.kill();
    let _ = mon.wait();
    ok(&out);
    // "[2026-12-03T23:59:01.123456] 12: veth1pl…@if2: <NO-CARRIER,…,UP> … state LOWERLAYERDOWN"
    let text = std::fs::read_to_string(&mon_out).unwrap();
    let mut edges: Vec<(f64, bool)> = vec![];
    for l in text
        .lines()
        .filter(|l| l.contains(&format!(" {host_end}@")))
    {
        let Some(ts) = l.strip_prefix('[').and_then(|r| r.split(']').next()) else {
            continue;
        };
        let t = ts.rsplit('T').next().unwrap();
        let secs: f64 = t
            .split(':')
            .map(|p| p.parse::<f64>().unwrap())
            .fold(0.0, |acc, p| acc * 60.0 + p);
        let carrier = l.contains("LOWER_UP");
        if edges.last().map(|e| e.1) != Some(carrier) {
            edges.push((secs, carrier));
        }
    }
    // After the attach first brought carrier: down, up, down, up, down, up.
    let first = edges
        .iter()
        .position(|e| e.1)
        .unwrap_or_else(|| panic!("no carrier ever seen:\n{text}"));
    let flaps = &edges[first + 1..];
    assert_eq!(
        flaps.iter().map(|e| e.1).collect::<Vec<_>>(),
        [false, true, false, true, false, true],
        "{text}"
    );
    for pair in flaps.chunks(2) {
        let down_ms = (pair[1].0 - pair[0].0) * 1e3;
        assert!(
            (150.0..900.0).contains(&down_ms),
            "an outage of {down_ms} ms for a 300 ms flap:\n{text}"
        );
    }
    let l = link(Some(&a), "eth1").unwrap();
    assert!(
        l["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{l}"
    );
}

fn start_play(w: &World, src: &str, keep: bool, a: &str, br: &str) -> std::process::Child {
    let path = w.dir().join(format!("{}.rhai", w.prefix));
    std::fs::write(&path, src).unwrap();
    let mut args = vec!["run".to_string()];
    if keep {
        args.push("--keep".into());
    }
    args.push(path.to_str().unwrap().into());
    args.push(format!("a={a}"));
    args.push(format!("br={br}"));
    Command::new(bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Whether eth1 in `ns` is up; None while there is no such namespace or link yet.
fn is_up(ns: &str) -> Option<bool> {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "link", "show", "dev", "eth1"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let flags = text.split('<').nth(1)?.split('>').next()?.to_string();
    Some(flags.split(',').any(|f| f == "UP"))
}

/// SIGINT and SIGTERM in the middle of a play: the link the timeline set down comes up again
/// (said on stderr) before the process ends; without --keep the run's topology is rolled back.
#[test]
fn time_interrupt_puts_links_back() {
    let w = World::new("ti");
    let (a, br) = (w.ns("a"), w.br());
    let src = r#"
        let x = veth(netns(params.a), bridge(params.br), #{ip: "198.18.62.2/24"});
        flap(x, #{down: "60s", at: "300ms"});
        play();
    "#;
    for (sig, keep) in [(libc::SIGINT, true), (libc::SIGTERM, false)] {
        let child = start_play(&w, src, keep, &a, &br);
        let t0 = Instant::now();
        // Up first (attached; a new eth1 is down for a moment before that), then down: the flap,
        // 300 ms into the play.
        for want in [true, false] {
            while is_up(&a) != Some(want) {
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "eth1 never went {}",
                    if want { "up" } else { "down" }
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        unsafe { libc::kill(child.id() as i32, sig) };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "{err}");
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the play was not cut short"
        );
        let name = if sig == libc::SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        assert!(err.contains(&format!("interrupted by {name}")), "{err}");
        assert!(
            err.contains(&format!("link netns:{a}:eth1 set up again")),
            "{err}"
        );
        if keep {
            assert_eq!(is_up(&a), Some(true), "{err}");
            ok(&w.cmd(&["down", &w.prefix]));
        } else {
            assert!(link(None, &br).is_none(), "not rolled back: {err}");
            assert!(!netns_list().contains(&a), "not rolled back: {err}");
        }
    }
    // The World's own check (when it drops) finds nothing of ours left.
}

/// A flap of something that does not exist is refused when it is registered, before anything
/// plays; a bad option names itself.
#[test]
fn time_bad_input_is_refused_before_play() {
    let w = World::new("tb");
    let a = w.ns("a");
    netns_add(&a);
    let err = fails(&w.eval(&format!(
        "flap(link(netns({a:?}), \"nope0\"), #{{down: \"1s\"}}); play()"
    )));
    assert!(err.contains("nope0"), "{err}");
    // `lo` of a namespace `ip netns add` made is down; the refused flap below must not play
    // what an earlier, valid one registered in the same script.
    let err = fails(&w.eval(&format!(
        "flap(link(netns({a:?}), \"lo\"), #{{down: \"10ms\"}}); flap(link(netns({a:?}), \"lo\"), #{{dwon: \"1s\"}})"
    )));
    assert!(err.contains("dwon"), "{err}");
    let lo = link(Some(&a), "lo").unwrap();
    assert!(
        !lo["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "a failed script played its timeline: {lo}"
    );
    let err = fails(&w.eval("every(\"0ms\", |n| 1)"));
    assert!(err.contains("above zero"), "{err}");
    let err = fails(&w.eval("at(\"soon\", || 1)"));
    assert!(err.contains("soon"), "{err}");
    ip_ok(&["netns", "del", &a]);
}

/// A one-liner that only registers: its actions play when it ends.
#[test]
fn time_registered_actions_play_at_the_end() {
    let w = World::new("te");
    let out = ok(&w.eval("let t = []; at(\"20ms\", || print(\"late\")); every(\"10ms\", |n| print(`tick ${n}`), #{count: 2}); print(\"first\")"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["first", "tick 0", "late", "tick 1"], "{out}");
}

/// A probe across a flapping link: its echoes are lost while the link is down and answered while it
/// is up, which the record shows echo by echo.
#[test]
fn time_probes_see_the_flaps() {
    let w = World::new("tp");
    let (a, b, br) = (w.ns("a"), w.ns("b"), w.br());
    let (out, log) = run_recorded(
        &w,
        r#"
        let br = bridge(params.br);
        veth(netns(params.a), br, #{ip: "198.18.64.2/24"});
        let y = veth(netns(params.b), br, #{ip: "198.18.64.3/24"});
        probe(netns(params.a), "198.18.64.3", #{every: "40ms", "until": "1600ms"});
        flap(y, #{down: "400ms", up: "400ms", count: 2, at: "200ms"});
        let r = play();
        print(r.probes[0].loss_pct);
        "#,
        &[],
        &[format!("a={a}"), format!("b={b}"), format!("br={br}")],
    );
    let out = ok(&out);
    let lines = timeline_lines(&log);
    let at = |l: &serde_json::Value| l["applied_ms"].as_f64().unwrap();
    let flaps: Vec<f64> = lines
        .iter()
        .filter(|l| l["event"] == "flap")
        .map(at)
        .collect();
    assert_eq!(flaps.len(), 4, "{out}");
    let windows: Vec<(f64, f64)> = flaps.chunks(2).map(|p| (p[0], p[1])).collect();
    let probes: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "probe").collect();
    assert_eq!(probes.len(), 41, "every 40 ms from 0 to 1600 ms: {out}");
    for p in &probes {
        let t = at(p);
        let lost = p["lost"] == true;
        let inside = windows.iter().any(|(d, u)| t > d + 5.0 && t < u - 5.0);
        let clear = windows.iter().all(|(d, u)| t < d - 5.0 || t > u + 60.0);
        if inside {
            assert!(
                lost,
                "answered while the link was down: {p}\nflaps at {flaps:?}"
            );
        }
        if clear {
            assert!(!lost, "lost while the link was up: {p}\nflaps at {flaps:?}");
        }
    }
    let loss: f64 = out.trim().parse().unwrap();
    assert!(
        (30.0..70.0).contains(&loss),
        "loss {loss}% for 800 of 1600 ms down"
    );
    // The record drawn: docs/timeline-example.svg is a copy of this picture.
    let svg = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("timeline-example.svg");
    ok(&w.cmd(&["plot", log.to_str().unwrap(), "-o", svg.to_str().unwrap()]));
    let pic = std::fs::read_to_string(&svg).unwrap();
    assert!(pic.starts_with("<svg"), "{pic}");
    assert!(
        pic.contains(&format!("netns:{b}:eth1 down")),
        "no flap marked"
    );
    assert!(
        pic.contains(&format!("netns:{a} → 198.18.64.3")),
        "no probe legend"
    );
    // The same picture as PNG (docs/timeline-example.png is a copy).
    let png = svg.with_extension("png");
    ok(&w.cmd(&["plot", log.to_str().unwrap(), "-o", png.to_str().unwrap()]));
    let head = std::fs::read(&png).unwrap();
    assert_eq!(&head[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    // IHDR: width and height, big-endian, at 16 and 20.
    let be = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().unwrap());
    assert_eq!((be(16), be(20)), (1100, 700));
}

/// A tbf rate ramp on the host kernel: three steps in the record, each replacing the one qdisc, and
/// the default qdisc back after the run; a ramp between two kinds, or without `over`, is refused
/// before anything plays.
#[test]
fn time_ramp_steps_and_puts_the_qdisc_back() {
    let w = World::new("tr");
    let (a, br) = (w.ns("a"), w.br());
    let (out, log) = run_recorded(
        &w,
        r#"
        let x = veth(netns(params.a), bridge(params.br), #{ip: "198.18.65.2/24"});
        let l = link(netns(params.a), "eth1");
        ramp(l, #{from: #{rate: "1mbit"}, to: #{rate: "5mbit"}, over: "200ms", steps: 2});
        every("100ms", |n| {
            let q = qdisc(link(netns(params.a), "eth1"));
            print(`${n} ${q.kind} ${q.rate}`);
        }, #{count: 2});
        play();
        "#,
        &["--keep"],
        &[format!("a={a}"), format!("br={br}")],
    );
    let text = ok(&out);
    // Read back by the script while the ramp played: the tbf in force at each moment.
    assert!(text.contains("0 tbf 3mbit"), "{text}");
    assert!(text.contains("1 tbf 5mbit"), "{text}");
    let lines = timeline_lines(&log);
    let steps: Vec<i64> = lines
        .iter()
        .filter(|l| l["event"] == "ramp")
        .map(|l| l["rate_bit"].as_i64().unwrap())
        .collect();
    assert_eq!(steps, [1_000_000, 3_000_000, 5_000_000], "{lines:?}");
    // Put back at the end of the run, which the record dates from the play's start (after the last
    // step at 200 ms, not at 0).
    assert!(
        lines.iter().any(|l| l["event"] == "restore"
            && l["qdisc"] == "default"
            && l["applied_ms"].as_f64().unwrap() >= 200.0),
        "{lines:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(&format!("qdisc of netns:{a}:eth1 back to the default")),
        "{err}"
    );
    let q = tc_show(&a, &[], "qdisc", "eth1");
    assert!(!q.contains("tbf"), "tbf left after the run: {q}");
    let bad = fails(&w.eval(&format!(
        "ramp(link(netns({a:?}), \"eth1\"), #{{from: #{{rate: \"1mbit\"}}, to: #{{delay: \"10ms\"}}, over: \"1s\"}})"
    )));
    assert!(bad.contains("same kind"), "{bad}");
    let bad = fails(&w.eval(&format!(
        "ramp(link(netns({a:?}), \"eth1\"), #{{from: #{{rate: \"1mbit\"}}, to: #{{rate: \"2mbit\"}}}})"
    )));
    assert!(bad.contains("over"), "{bad}");
    ok(&w.cmd(&["down", &w.prefix]));
}

/// tc() and shape() called by a timeline action are the timeline's to undo, like its ramps: the
/// end of the run puts back what the link had before the first of them — here the user's own htb
/// shape, rebuilt class for class.
#[test]
fn time_shape_in_an_action_is_put_back() {
    let w = World::new("ts");
    let (a, br) = (w.ns("a"), w.br());
    let (out, log) = run_recorded(
        &w,
        r#"
        veth(netns(params.a), bridge(params.br), #{ip: "198.18.87.2/24"});
        let l = link(netns(params.a), "eth1");
        shape(l, #{rate: "30mbit", classes: [#{rate: "3mbit", proto: "udp", dport: 53}]});
        let mine = qdisc(l);
        at("0ms", || tc(link(netns(params.a), "eth1"), #{rate: "1mbit"}));
        at("100ms", || shape(link(netns(params.a), "eth1"), #{rate: "7mbit"}));
        at("200ms", || print(qdisc(link(netns(params.a), "eth1")).classes[0].ceil));
        play();
        "#,
        &["--keep"],
        &[format!("a={a}"), format!("br={br}")],
    );
    let text = ok(&out);
    assert!(
        text.contains("7mbit"),
        "the second action's shape was in force: {text}"
    );
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(&format!("qdisc of netns:{a}:eth1 back to what it was")),
        "{err}"
    );
    let restore: Vec<_> = timeline_lines(&log)
        .into_iter()
        .filter(|l| l["event"] == "restore")
        .collect();
    assert_eq!(restore.len(), 1, "{restore:?}");
    assert_eq!(restore[0]["qdisc"], "htb", "{restore:?}");
    assert_eq!(restore[0]["rate_bit"], 30_000_000, "{restore:?}");
    // tc's own view: the user's classes, filter included, are back.
    let classes = tc_show(&a, &[], "class", "eth1");
    assert!(classes.contains("rate 30Mbit"), "{classes}");
    assert!(
        classes.contains("class htb 1:10 parent 1:1 prio 0 rate 3Mbit"),
        "{classes}"
    );
    assert!(!classes.contains(" 7Mbit"), "{classes}");
    assert!(
        tc_show(&a, &[], "filter", "eth1").contains("match 00110000/00ff0000 at 8"),
        "udp filter back"
    );
    ok(&w.cmd(&["down", &w.prefix]));
}
