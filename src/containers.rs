//! Container runtimes: find the process whose network namespace is the container's, then pin that
//! namespace (an open fd) like any other guest. Docker and podman (its Docker-compatible socket)
//! through bollard; LXC through its cgroup, as the original pipework does.

use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::net::Netlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a container that is starting may take to get a PID (the original retried 3 × 1 s).
const START_WAIT: Duration = Duration::from_secs(3);

const DOCKER_SOCK: &str = "/var/run/docker.sock";
const PODMAN_SOCK: &str = "/run/podman/podman.sock";

/// Where we talk to Docker: DOCKER_HOST, else the Docker socket, else podman's.
pub fn docker_endpoint() -> String {
    if let Ok(h) = std::env::var("DOCKER_HOST") {
        return h;
    }
    for sock in [DOCKER_SOCK, PODMAN_SOCK] {
        if Path::new(sock).exists() {
            return format!("unix://{sock}");
        }
    }
    format!("unix://{DOCKER_SOCK}")
}

/// Outcome of asking a runtime about a name: found, not known there, or the runtime is unreachable.
pub enum Lookup {
    Found(Guest),
    Unknown(String),
}

/// How long the Docker/podman API may take to answer one request (`PIPEWORK_DOCKER_TIMEOUT`): a
/// frozen daemon must give a clear error, not a two-minute hang (the client library's default).
fn docker_timeout() -> Result<Duration> {
    match std::env::var("PIPEWORK_DOCKER_TIMEOUT") {
        Ok(t) => crate::parse::duration(&t),
        Err(_) => Ok(Duration::from_secs(5)),
    }
}

/// A Docker container by name or id (or podman's, when its socket is the endpoint).
pub fn docker(nl: &Netlink, name: &str) -> Result<Lookup> {
    api_lookup(nl, &docker_endpoint(), "Docker", name)
}

/// A podman container by name or id, when Docker did not know it: through podman's API socket
/// when it is there (and was not the Docker endpoint already), else `podman inspect` (rootful
/// storage, an argument vector) — most hosts run podman's service only on demand, if at all.
pub fn podman(nl: &Netlink, name: &str) -> Result<Lookup> {
    let endpoint = docker_endpoint();
    // A socket file left by a service that has exited answers nothing: then the CLI.
    let serving = std::os::unix::net::UnixStream::connect(PODMAN_SOCK).is_ok();
    if serving && endpoint != format!("unix://{PODMAN_SOCK}") {
        return api_lookup(nl, &format!("unix://{PODMAN_SOCK}"), "podman", name);
    }
    if endpoint.contains("podman") {
        return Ok(Lookup::Unknown("unknown to podman".into()));
    }
    podman_cli(nl, name)
}

/// Whether podman's rootful storage could hold a container by this name or id: `podman inspect`
/// costs ~85 ms, and a name that appears in none of the storage's container lists cannot be one
/// of its containers (podman still gives the answer whenever it might).
fn podman_may_know(name: &str) -> bool {
    let conf = std::fs::read_to_string("/etc/containers/storage.conf").unwrap_or_default();
    let root = conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("graphroot"))
        .filter_map(|r| r.trim_start().strip_prefix('='))
        .map(|r| r.trim().trim_matches('"').to_string())
        .next()
        .unwrap_or_else(|| "/var/lib/containers/storage".into());
    let Ok(rd) = std::fs::read_dir(&root) else {
        return false;
    };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-containers"))
        .any(|e| {
            std::fs::read_to_string(e.path().join("containers.json"))
                .is_ok_and(|j| j.contains(name))
        })
}

fn podman_cli(nl: &Netlink, name: &str) -> Result<Lookup> {
    if !podman_may_know(name) {
        return Ok(Lookup::Unknown("unknown to podman".into()));
    }
    let timeout = docker_timeout()?;
    nl.trace(format_args!("podman: inspect {name}"));
    let child = std::process::Command::new("podman")
        .args([
            "container",
            "inspect",
            "--format",
            "{{.State.Pid}} {{.State.Status}} {{.Id}} {{.Name}}",
            "--",
            name,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Lookup::Unknown("podman is not installed".into()))
        }
        Err(e) => return Err(Error::io("running podman inspect", e)),
    };
    let deadline = Instant::now() + timeout;
    while child
        .try_wait()
        .map_err(|e| Error::io("waiting for podman", e))?
        .is_none()
    {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Timeout(format!(
                "podman inspect {name} did not answer within {timeout:?} (PIPEWORK_DOCKER_TIMEOUT sets the bound)"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("reading podman inspect", e))?;
    nl.trace(format_args!("podman: answered about {name}"));
    let text = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = text.split_whitespace().collect();
    if !out.status.success() || f.len() < 4 {
        let err = String::from_utf8_lossy(&out.stderr);
        return Ok(Lookup::Unknown(format!(
            "unknown to podman ({})",
            err.trim().lines().last().unwrap_or("no such container")
        )));
    }
    match f[0].parse::<i64>() {
        Ok(pid) if pid > 0 => Ok(Lookup::Found(Guest::container(f[3], f[2], pid)?)),
        _ => Err(Error::guest(
            format!("container:{name}"),
            format!("is not running (podman status {}); start it first", f[1]),
        )),
    }
}

fn api_lookup(nl: &Netlink, endpoint: &str, runtime: &str, name: &str) -> Result<Lookup> {
    let timeout = docker_timeout()?;
    let frozen = || {
        Error::Timeout(format!(
            "{runtime} did not answer at {endpoint} within {timeout:?} (is the daemon frozen or overloaded? PIPEWORK_DOCKER_TIMEOUT sets the bound)"
        ))
    };
    let docker = match bollard::Docker::connect_with_host(endpoint) {
        Ok(d) => d.with_timeout(timeout),
        Err(e) => {
            return Ok(Lookup::Unknown(format!(
                "{runtime} is not reachable at {endpoint}: {e}"
            )))
        }
    };
    let deadline = Instant::now() + START_WAIT;
    nl.trace(format_args!("{runtime}: ask {endpoint} about {name}"));
    loop {
        let info = nl
            .block_on(async {
                tokio::time::timeout(timeout, docker.inspect_container(name, None)).await
            })
            .map_err(|_| frozen())?;
        nl.trace(format_args!("{runtime}: answered about {name}"));
        let info = match info {
            Ok(i) => i,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            }) => {
                return Ok(Lookup::Unknown(format!("unknown to {runtime} ({message})")));
            }
            Err(bollard::errors::Error::DockerResponseServerError { message, .. }) => {
                return Err(Error::guest(format!("container:{name}"), message));
            }
            Err(bollard::errors::Error::RequestTimeoutError) => return Err(frozen()),
            Err(e) => {
                return Ok(Lookup::Unknown(format!(
                    "{runtime} is not reachable at {endpoint}: {e}"
                )))
            }
        };
        let state = info.state.unwrap_or_default();
        let pid = state.pid.unwrap_or(0);
        let cname = info
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        let id = info.id.unwrap_or_default();
        if pid > 0 {
            let g = Guest::container(&cname, &id, pid)?;
            return Ok(Lookup::Found(g));
        }
        let running = state.running.unwrap_or(false) || state.restarting.unwrap_or(false);
        let status = state
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into());
        if !running && status != "created" || Instant::now() >= deadline {
            return Err(Error::guest(
                format!("container:{name}"),
                format!("is not running (status {status}); start it first"),
            ));
        }
        // Starting: the PID appears shortly.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// An LXC container by name: its cgroup (v1 devices hierarchy or v2), then the first task in it.
pub fn lxc(name: &str) -> Result<Lookup> {
    let matches = find_cgroups(name);
    let real: Vec<&PathBuf> = matches
        .iter()
        // LXC >= 3.1 also has a monitor cgroup of the same name.
        .filter(|p| !p.to_string_lossy().contains("lxc.monitor"))
        .collect();
    match real.as_slice() {
        [] => Ok(Lookup::Unknown(
            "no LXC container (cgroup) of that name".into(),
        )),
        [one] => {
            for f in ["cgroup.procs", "tasks"] {
                if let Ok(s) = std::fs::read_to_string(one.join(f)) {
                    if let Some(pid) = s.lines().find_map(|l| l.trim().parse::<i64>().ok()) {
                        return Ok(Lookup::Found(Guest::lxc(name, pid)?));
                    }
                }
            }
            Err(Error::guest(
                format!("lxc:{name}"),
                format!("cgroup {} has no process (stopped?)", one.display()),
            ))
        }
        many => Err(Error::guest(
            format!("lxc:{name}"),
            format!(
                "ambiguous: {} cgroups match ({})",
                many.len(),
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn cgroup_roots() -> Vec<PathBuf> {
    let Ok(mounts) = std::fs::read_to_string("/proc/self/mounts") else {
        return vec![];
    };
    let mut roots = vec![];
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        let (mnt, fstype, opts) = (f[1], f[2], f[3]);
        if fstype == "cgroup2" || (fstype == "cgroup" && opts.split(',').any(|o| o == "devices")) {
            roots.push(PathBuf::from(mnt));
        }
    }
    roots
}

/// Directories named NAME (or lxc.payload.NAME) in the cgroup hierarchies, a few levels deep.
fn find_cgroups(name: &str) -> Vec<PathBuf> {
    if name.is_empty() || name.contains('/') {
        return vec![];
    }
    let wanted = [name.to_string(), format!("lxc.payload.{name}")];
    let mut found = vec![];
    let mut stack: Vec<(PathBuf, u32)> = cgroup_roots().into_iter().map(|r| (r, 0)).collect();
    while let Some((dir, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let n = e.file_name().to_string_lossy().to_string();
            if wanted.contains(&n) {
                found.push(e.path());
            } else if depth < 4 {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found.sort();
    found.dedup();
    found
}
