//! The OVS calls on every OVS attach — is it a bridge, a port onto it — spoken to ovsdb-server directly, in
//! OVSDB's own JSON-RPC (RFC 7047) over its unix socket: one transaction, then the same wait
//! `ovs-vsctl` does (until ovs-vswitchd reports the configuration, `cur_cfg`, it was asked for) and
//! the same check (the interface got an OpenFlow port, not an error). It saves the fork and exec
//! of ovs-vsctl per port. Hand-written on serde_json because the Rust OVSDB crates are 0.0.x work
//! in progress. Whether a bridge exists is asked here too (every classic OVS attach asks it); making
//! and removing bridges and the other queries stay with `vsctl`, off the hot path.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// A connection to ovsdb-server.
struct Conn {
    out: UnixStream,
    input: serde_json::StreamDeserializer<'static, serde_json::de::IoRead<UnixStream>, Value>,
    next_id: u64,
    /// `cur_cfg` as the latest monitor message showed it.
    cur_cfg: Option<i64>,
    /// When the whole exchange must be over: every read waits only for what is left of it.
    deadline: Instant,
}

fn failed(what: impl std::fmt::Display) -> Error {
    Error::external("OVSDB", what)
}

impl Conn {
    fn open(sock: &std::path::Path, deadline: Instant) -> Result<Conn> {
        let s = UnixStream::connect(sock).map_err(|e| {
            Error::io(
                format!("connecting to ovsdb-server at {}", sock.display()),
                e,
            )
        })?;
        let left = deadline.saturating_duration_since(Instant::now());
        s.set_write_timeout(Some(left.max(Duration::from_millis(1))))
            .map_err(|e| Error::io("setting OVSDB socket time-outs", e))?;
        let r = s.try_clone().map_err(|e| Error::io("OVSDB socket", e))?;
        Ok(Conn {
            out: s,
            input: serde_json::Deserializer::from_reader(r).into_iter(),
            next_id: 0,
            cur_cfg: None,
            deadline,
        })
    }

    fn send(&mut self, msg: &Value) -> Result<()> {
        self.out
            .write_all(msg.to_string().as_bytes())
            .map_err(|e| Error::io("writing to ovsdb-server", e))
    }

    /// The next message; `Ok(None)` when the deadline came first.
    fn next(&mut self) -> Result<Option<Value>> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        self.out
            .set_read_timeout(Some(left))
            .map_err(|e| Error::io("setting the OVSDB read time-out", e))?;
        match self.input.next() {
            Some(Ok(v)) => Ok(Some(v)),
            Some(Err(e)) if e.is_io() => match e.io_error_kind() {
                Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => Ok(None),
                _ => Err(failed(format!("reading from ovsdb-server: {e}"))),
            },
            Some(Err(e)) => Err(failed(format!(
                "ovsdb-server sent something that is not JSON: {e}"
            ))),
            None => Err(failed("ovsdb-server closed the connection")),
        }
    }

    /// Answer what the server asks on its own (echo), and keep what monitors report.
    fn notice(&mut self, msg: &Value) -> Result<()> {
        match msg.get("method").and_then(Value::as_str) {
            Some("echo") => {
                let reply = json!({"id": msg["id"], "result": msg["params"], "error": null});
                self.send(&reply)
            }
            Some("update") => {
                self.saw(&msg["params"][1]);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Note `cur_cfg` from a monitor's table-updates.
    fn saw(&mut self, updates: &Value) {
        for row in updates["Open_vSwitch"]
            .as_object()
            .into_iter()
            .flat_map(|o| o.values())
        {
            if let Some(c) = row["new"]["cur_cfg"].as_i64() {
                self.cur_cfg = Some(c);
            }
        }
    }

    /// One request and its reply, before the deadline (`Ok(None)`: none came in time).
    fn call(&mut self, method: &str, params: Value) -> Result<Option<Value>> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        loop {
            let Some(msg) = self.next()? else {
                return Ok(None);
            };
            if msg.get("method").is_some() {
                self.notice(&msg)?;
                continue;
            }
            if msg["id"].as_u64() != Some(id) {
                continue;
            }
            if !msg["error"].is_null() {
                return Err(failed(format!("{method}: {}", msg["error"])));
            }
            return Ok(Some(msg["result"].clone()));
        }
    }
}

/// A transaction's outcome: every operation's result, or the first error in it.
fn committed(results: &Value) -> std::result::Result<&Vec<Value>, String> {
    let ops = results.as_array().ok_or("not a list of results")?;
    match ops
        .iter()
        .find(|r| r.get("error").is_some_and(|e| !e.is_null()))
    {
        Some(e) => Err(format!(
            "{}{}",
            e["error"].as_str().unwrap_or("error"),
            e["details"]
                .as_str()
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )),
        None => Ok(ops),
    }
}

/// Whether OVSDB has a bridge called `name`: one `select` on the Bridge table, what
/// `ovs-vsctl br-exists` asks, without its fork and exec.
pub fn bridge_exists(sock: &std::path::Path, timeout: Duration, name: &str) -> Result<bool> {
    let mut c = Conn::open(sock, Instant::now() + timeout)?;
    let select = json!({"op": "select", "table": "Bridge", "where": [["name", "==", name]],
        "columns": ["name"]});
    let Some(r) = c.call("transact", json!(["Open_vSwitch", select]))? else {
        return Err(Error::Timeout(format!(
            "ovsdb-server did not answer within {timeout:?} whether bridge {name} exists"
        )));
    };
    let ops = committed(&r).map_err(failed)?;
    Ok(ops
        .first()
        .and_then(|o| o["rows"].as_array())
        .is_some_and(|rows| !rows.is_empty()))
}

/// What `add_port` did.
pub enum Added {
    Done,
    /// A port by that name is in OVSDB already (a stale row, a re-run): `ovs-vsctl --may-exist`
    /// knows what to make of it.
    Exists,
}

/// Put `port` on `bridge` (access port of VLAN `tag`), with `ids` as the interface's
/// external_ids, and wait until ovs-vswitchd has it. On a time-out the port is taken back.
pub fn add_port(
    sock: &std::path::Path,
    timeout: Duration,
    bridge: &str,
    port: &str,
    tag: Option<u16>,
    ids: &[(String, String)],
) -> Result<Added> {
    let deadline = Instant::now() + timeout;
    let mut c = Conn::open(sock, deadline)?;
    let ids: Vec<Value> = ids.iter().map(|(k, v)| json!([k, v])).collect();
    let mut port_row = json!({"name": port, "interfaces": ["named-uuid", "iface"]});
    if let Some(t) = tag {
        port_row["tag"] = t.into();
    }
    let absent = |table: &str| {
        json!({"op": "wait", "table": table, "where": [["name", "==", port]], "columns": ["name"],
               "until": "==", "rows": [], "timeout": 0})
    };
    let txn = json!(["Open_vSwitch",
        {"op": "wait", "table": "Bridge", "where": [["name", "==", bridge]], "columns": ["name"],
         "until": "==", "rows": [{"name": bridge}], "timeout": 0},
        absent("Port"),
        absent("Interface"),
        {"op": "insert", "table": "Interface", "uuid-name": "iface",
         "row": {"name": port, "external_ids": ["map", ids]}},
        {"op": "insert", "table": "Port", "uuid-name": "port", "row": port_row},
        {"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
         "mutations": [["ports", "insert", ["set", [["named-uuid", "port"]]]]]},
        {"op": "mutate", "table": "Open_vSwitch", "where": [], "mutations": [["next_cfg", "+=", 1]]},
        {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]},
        {"op": "comment", "comment": format!("pipework: add port {port} to {bridge}")}
    ]);
    let no_answer = || {
        Error::Timeout(format!(
            "ovsdb-server did not answer within {} s",
            timeout.as_secs()
        ))
    };
    let res = c.call("transact", txn)?.ok_or_else(no_answer)?;
    let ops = match committed(&res) {
        Ok(ops) => ops,
        Err(e) if e.starts_with("timed out") => {
            // A `wait` failed: which one decides what to say.
            let bridge_there = res[0].get("error").is_none_or(Value::is_null);
            if !bridge_there {
                return Err(Error::not_found("OVS bridge", bridge, None));
            }
            return Ok(Added::Exists);
        }
        Err(e) => return Err(failed(format!("adding port {port} to {bridge}: {e}"))),
    };
    let port_uuid = ops[4]["uuid"].clone();
    let want = ops[7]["rows"][0]["next_cfg"]
        .as_i64()
        .ok_or_else(|| failed("no next_cfg in the reply"))?;
    // As ovs-vsctl waits: until ovs-vswitchd reports having applied that configuration.
    let monitor = json!(["Open_vSwitch", "cfg", {"Open_vSwitch": {"columns": ["cur_cfg"]}}]);
    let confirmed = match c.call("monitor", monitor)? {
        Some(initial) => {
            c.saw(&initial);
            loop {
                if c.cur_cfg.is_some_and(|cur| cur >= want) {
                    break true;
                }
                if Instant::now() >= deadline {
                    break false;
                }
                if let Some(msg) = c.next()? {
                    c.notice(&msg)?;
                }
            }
        }
        None => false,
    };
    let take_back = |c: &mut Conn, why: Error| -> Result<Added> {
        let undo = json!(["Open_vSwitch",
            {"op": "mutate", "table": "Bridge", "where": [["name", "==", bridge]],
             "mutations": [["ports", "delete", ["set", [port_uuid]]]]}]);
        // Its own short allowance: the attach's is spent.
        c.deadline = Instant::now() + Duration::from_secs(2);
        let _ = c.call("transact", undo);
        Err(why)
    };
    if !confirmed {
        return take_back(
            &mut c,
            Error::Timeout(format!(
                "ovs-vswitchd did not confirm port {port} on {bridge} within {} s (not responding?); the change was taken back",
                timeout.as_secs()
            )),
        );
    }
    // As ovs-vsctl checks: an interface ovs-vswitchd could not open has ofport -1 and says why.
    let check = json!(["Open_vSwitch",
        {"op": "select", "table": "Interface", "where": [["name", "==", port]],
         "columns": ["ofport", "error"]}]);
    let res = c.call("transact", check)?.ok_or_else(no_answer)?;
    let row = &res[0]["rows"][0];
    if row["ofport"].as_i64() == Some(-1) {
        let why = row["error"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        return take_back(
            &mut c,
            failed(format!(
                "ovs-vswitchd could not set up port {port} on {bridge}: {why}"
            )),
        );
    }
    Ok(Added::Done)
}
