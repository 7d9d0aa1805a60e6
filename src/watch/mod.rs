//! `pipework watch`: a foreground process that keeps containers' wiring alive across their life.
//! It follows Docker's events (bollard) and pipework's records: a container of ours that dies
//! loses its host side at once (veth host ends, OVS ports, DHCP clients and keepers — see
//! `Session::release_guest`); one that starts again gets its wiring back by replaying its records
//! through `run`'s own path (see `records`). When dockerd goes away it reconnects, and after every
//! (re)connection it reconciles the records with the containers as they are then, since events
//! of the time it was away are lost.
//!
//! Two threads: Docker's event stream is async (bollard, on a tokio runtime of its own), while the
//! plumbing is the synchronous core, whose netlink connections run their own runtime; the stream
//! hands events over a channel to the thread that plumbs, one at a time, in order.

pub mod records;

use crate::session::Session;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the event thread tells the plumbing thread.
enum Msg {
    /// (Re)connected; the containers that exist now, by ID: (name, running).
    Connected(HashMap<String, (String, bool)>),
    /// The daemon cannot be reached, or its stream ended (said once per outage).
    Lost(String),
    Event {
        action: String,
        id: String,
        name: String,
    },
}

/// Run until killed. Returns the exit code (only a setup failure returns).
pub fn run(verbose: bool) -> i32 {
    let endpoint = crate::containers::docker_endpoint();
    let (tx, rx) = mpsc::channel();
    let follow_at = endpoint.clone();
    let spawned = std::thread::Builder::new()
        .name("docker-events".into())
        .spawn(move || follow(&follow_at, tx));
    if let Err(e) = spawned {
        eprintln!("pipework: watch: cannot start the event thread: {e}");
        return 1;
    }
    if let Err(e) = records::enable() {
        eprintln!("pipework: watch: {e}");
        return 1;
    }
    say(&format!(
        "watching Docker at {endpoint} (records in {})",
        records::DIR
    ));
    let w = Watch { verbose };
    for msg in rx {
        match msg {
            Msg::Connected(now) => {
                say("connected; reconciling records with the containers there are now");
                w.reconcile(&now);
            }
            Msg::Lost(why) => say(&format!("Docker is not reachable ({why}); reconnecting")),
            Msg::Event { action, id, name } => w.event(&action, &id, &name),
        }
    }
    eprintln!("pipework: watch: the event thread ended");
    1
}

/// A line of the watch's log, stamped (stdout: what a service manager's journal collects).
fn say(what: &str) {
    println!("{} {what}", crate::cli::now_utc());
}

struct Watch {
    verbose: bool,
}

impl Watch {
    fn event(&self, action: &str, id: &str, name: &str) {
        if !records::has(id) {
            return;
        }
        match action {
            "start" => self.replay(id, name),
            "die" => self.release(id, name, false),
            // Its death came first, and released what it had.
            "destroy" => {
                records::drop_container(id);
                say(&format!(
                    "container {name} ({}) removed: records dropped",
                    short(id)
                ));
            }
            _ => {}
        }
    }

    /// Every container with records, as it is now: running ones get their wiring (a replay is a
    /// no-op where it is in place), stopped ones lose their host side, vanished ones their records.
    /// Running containers wired by pipework that have no records yet (wired before records were
    /// kept on this machine) are adopted: their wiring as it is now becomes their records.
    fn reconcile(&self, now: &HashMap<String, (String, bool)>) {
        self.adopt(now);
        for id in records::containers() {
            match now.get(&id) {
                Some((name, true)) => self.replay(&id, name),
                Some((name, false)) => self.release(&id, name, true),
                None => {
                    if let Some(name) = records::name_of(&id) {
                        self.release(&id, &name, true);
                    }
                    records::drop_container(&id);
                    say(&format!(
                        "container {} is gone: records dropped",
                        short(&id)
                    ));
                }
            }
        }
    }

    fn adopt(&self, now: &HashMap<String, (String, bool)>) {
        let unrecorded: Vec<(&String, &String)> = now
            .iter()
            .filter(|(id, (_, running))| *running && !records::has(id))
            .map(|(id, (name, _))| (id, name))
            .collect();
        if unrecorded.is_empty() {
            return;
        }
        let Some(s) = self.session() else { return };
        for (id, name) in unrecorded {
            // Found by ID, so a rename since cannot mislead; a container without anything of ours
            // gets no record (write finds no owner there).
            let Ok(g) = s.guest(&format!("container:{id}")) else {
                continue;
            };
            match records::write(&s, &g) {
                Ok(()) if records::has(id) => say(&format!(
                    "container {name} ({}): adopted its wiring as records ({})",
                    short(id),
                    owners(&records::of_container(id))
                )),
                Ok(()) => {}
                Err(e) => say(&format!("container {name}: records not written: {e}")),
            }
        }
    }

    fn session(&self) -> Option<Rc<Session>> {
        match Session::new(self.verbose) {
            Ok(s) => Some(Rc::new(s)),
            Err(e) => {
                say(&format!("cannot open a session: {e}"));
                None
            }
        }
    }

    /// The same wiring again: each owner's record run as a script, each in a session of its own
    /// (one owner's failure rolls back that owner's replay alone).
    fn replay(&self, id: &str, name: &str) {
        let t = Instant::now();
        let mut failed = vec![];
        let recs = records::of_container(id);
        for (owner, text) in &recs {
            let Some(s) = self.session() else { return };
            let label = format!("watch record {}/{owner}.rhai", short(id));
            if crate::cli::run_source(&s, text, &label, &[], false).is_err() {
                failed.push(owner.as_str());
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        if failed.is_empty() {
            say(&format!(
                "container {name} ({}) running: wiring of {} in place in {ms:.1} ms",
                short(id),
                owners(&recs)
            ));
        } else {
            say(&format!(
                "container {name} ({}): replay failed for {} (see above); rolled back",
                short(id),
                failed.join(", ")
            ));
        }
    }

    /// The container stopped: its host side goes now, its records stay for its return. `quiet`:
    /// say nothing when there was nothing left to release (a reconciliation's stopped containers).
    fn release(&self, id: &str, name: &str, quiet: bool) {
        let t = Instant::now();
        let Some(s) = self.session() else { return };
        // Marked with the name it had when it was wired (a rename since does not change markers).
        let wired_as = records::name_of(id).unwrap_or_else(|| name.to_string());
        match s.release_guest(&format!("container:{wired_as}")) {
            Ok(r) => {
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                let mut gone: Vec<String> = r.links;
                gone.extend(r.clients.iter().map(|c| format!("DHCP {c}")));
                if quiet && gone.is_empty() && r.errors.is_empty() {
                    return;
                }
                say(&format!(
                    "container {name} ({}) stopped: released {} in {ms:.1} ms",
                    short(id),
                    if gone.is_empty() {
                        "nothing (its namespace took it along)".to_string()
                    } else {
                        gone.join(", ")
                    }
                ));
                for e in r.errors {
                    say(&format!("container {name}: {e}"));
                }
            }
            Err(e) => say(&format!("container {name}: releasing its host side: {e}")),
        }
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn owners(recs: &[(String, String)]) -> String {
    recs.iter()
        .map(|(o, _)| o.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The event thread: connect, list, stream; on any failure wait a little and start over.
fn follow(endpoint: &str, tx: mpsc::Sender<Msg>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = tx.send(Msg::Lost(format!("no async runtime: {e}")));
            return;
        }
    };
    rt.block_on(async {
        let mut delay = Duration::from_millis(100);
        let mut down = false;
        loop {
            match stream(endpoint, &tx).await {
                // The plumbing thread is gone: so is the need for events.
                Ok(()) => return,
                Err(why) => {
                    if !down && tx.send(Msg::Lost(why)).is_err() {
                        return;
                    }
                    down = true;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                }
            }
        }
    })
}

/// One connection's life. Events are asked for from just before the listing, so nothing that
/// happens while the plumbing thread reconciles is missed (a repeated one is harmless: replay and
/// release are idempotent). Returns Err when the daemon is not reachable or the stream broke.
async fn stream(endpoint: &str, tx: &mpsc::Sender<Msg>) -> Result<(), String> {
    use bollard::query_parameters::{EventsOptionsBuilder, ListContainersOptionsBuilder};
    use futures::StreamExt;
    let docker = bollard::Docker::connect_with_host(endpoint).map_err(|e| e.to_string())?;
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let list = docker
        .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
        .await
        .map_err(|e| e.to_string())?;
    let now = list
        .into_iter()
        .filter_map(|c| {
            let name = c.names?.first()?.trim_start_matches('/').to_string();
            let running = c
                .state
                .is_some_and(|s| s.to_string().eq_ignore_ascii_case("running"));
            Some((c.id?, (name, running)))
        })
        .collect();
    if tx.send(Msg::Connected(now)).is_err() {
        return Ok(());
    }
    let filters = HashMap::from([
        ("type", vec!["container"]),
        ("event", vec!["start", "die", "destroy"]),
    ]);
    let opts = EventsOptionsBuilder::new()
        .since(&format!("{}.{:09}", since.as_secs(), since.subsec_nanos()))
        .filters(&filters)
        .build();
    let mut events = docker.events(Some(opts));
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| e.to_string())?;
        let actor = ev.actor.unwrap_or_default();
        let (Some(id), Some(action)) = (actor.id, ev.action) else {
            continue;
        };
        let name = actor
            .attributes
            .and_then(|a| a.get("name").cloned())
            .unwrap_or_default();
        if tx.send(Msg::Event { action, id, name }).is_err() {
            return Ok(());
        }
    }
    Err("the event stream ended".into())
}
