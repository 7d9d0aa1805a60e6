//! Ends a kept host client (`udhcpc-f`, `dhclient-f`) when its guest goes. Those clients live in
//! the guest's network namespace, and a process in a namespace keeps it alive: a container that
//! dies would leave its namespace, the host end of its veth (and with it a bridge port) and the
//! client itself behind until somebody ran `down` or `watch` noticed. The built-in keeper avoids
//! this by holding nothing between renewals; a foreign client cannot be made to, so a small
//! detached pipework process stands beside it and stops it the moment the guest is gone.
//!
//! It waits on pidfds (the guest's process and the client), not on a timer, so a container's
//! death is seen at once; a named namespace has no process to wait on and is looked at every
//! couple of seconds. Like the keeper it holds no namespace fd, and it exits with its client.

use super::{external, keeper};
use crate::error::{Error, Result};
use crate::guest::{Guest, NsId};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The hidden first argument that turns the pipework binary into a warden.
pub const VERB: &str = "__dhcp-warden";

/// How often a warden without a guest process to wait on (a named namespace) looks again.
const RECHECK_MS: i32 = 2000;

/// The warden's own pid file beside the client's (`KEY.IF.warden.pipework.pid`: stopping an
/// owner's processes stops it like a keeper).
fn pidfile(client_pidfile: &Path) -> PathBuf {
    let name = client_pidfile
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .replace(".pid", ".warden.pipework.pid");
    client_pidfile.with_file_name(name)
}

/// Start a warden for the client behind `client_pidfile`, which serves `guest`.
pub fn spawn(guest: &Guest, client_pidfile: &Path) -> Result<PathBuf> {
    let pf = pidfile(client_pidfile);
    external::stop_pidfile(&pf);
    let exe = std::env::current_exe().map_err(|e| Error::io("locating our own binary", e))?;
    let args = [
        VERB.to_string(),
        "--pidfile".into(),
        pf.display().to_string(),
        format!("guest={}", guest.spec()),
        format!("ns={}:{}", guest.id.0, guest.id.1),
        format!("client={}", client_pidfile.display()),
    ];
    keeper::detach(exe, &args, &pf, "the DHCP client's warden")?;
    Ok(pf)
}

/// A pidfd for `pid` (readable once the process has exited), if the kernel gives one.
fn pidfd(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative return is a fresh fd nobody else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sleep until one of `fds` is readable (its process exited) or `ms` passed (-1: no limit).
fn wait_any(fds: &[&OwnedFd], ms: i32) {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|f| libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: polls is a valid array of pollfd of the given length.
    unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
}

fn watch(spec: &str, id: NsId, client_pf: &Path) {
    let guest_fd = match crate::guest::Spec::parse(spec) {
        Ok(crate::guest::Spec::Pid(p)) => i32::try_from(p).ok().and_then(pidfd),
        _ => None,
    };
    loop {
        let Some(client) = external::live_pid(client_pf) else {
            return; // the client ended (or was stopped): nothing left to guard
        };
        if keeper::reopen(spec, id).is_none() {
            external::stop_pidfile(client_pf);
            let _ = std::fs::remove_file(client_pf);
            let _ = std::fs::remove_file(client_pf.with_extension("leases"));
            return;
        }
        let client_fd = pidfd(client);
        let fds: Vec<&OwnedFd> = guest_fd.iter().chain(client_fd.iter()).collect();
        // With both processes to wait on, nothing else can change what we decide.
        let ms = if guest_fd.is_some() && client_fd.is_some() {
            -1
        } else {
            RECHECK_MS
        };
        wait_any(&fds, ms);
    }
}

/// Entry point of `pipework __dhcp-warden …` (arguments as `spawn` writes them).
pub fn main(args: &[String]) -> i32 {
    let parsed = (|| {
        let ["--pidfile", own, fields @ ..] =
            &args.iter().map(String::as_str).collect::<Vec<_>>()[..]
        else {
            return None;
        };
        let fields: std::collections::HashMap<&str, &str> =
            fields.iter().filter_map(|f| f.split_once('=')).collect();
        let (dev, ino) = fields.get("ns")?.split_once(':')?;
        let id = NsId(dev.parse().ok()?, ino.parse().ok()?);
        Some((
            PathBuf::from(own),
            fields.get("guest")?.to_string(),
            id,
            PathBuf::from(fields.get("client")?),
        ))
    })();
    let Some((own, spec, id, client_pf)) = parsed else {
        eprintln!("pipework: {VERB} is internal (started beside a kept DHCP client)");
        return 2;
    };
    watch(&spec, id, &client_pf);
    let mine =
        std::fs::read_to_string(&own).is_ok_and(|p| p.trim() == std::process::id().to_string());
    if mine {
        let _ = std::fs::remove_file(&own);
        if let Some(dir) = own.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wardens_pid_file_is_stopped_like_a_keepers() {
        let p = pidfile(Path::new("/run/pipework/dhcp/o/4242.eth1.udhcpc.pid"));
        assert_eq!(
            p,
            Path::new("/run/pipework/dhcp/o/4242.eth1.udhcpc.warden.pipework.pid")
        );
        // The first field is the guest's key (what stop_orphaned judges), the last names the
        // command (what stop_pidfile checks before a signal).
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with("4242."));
        assert!(name.ends_with(".pipework.pid"));
    }
}
