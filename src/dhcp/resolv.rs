//! DNS from a lease goes into the guest's own resolv.conf — never the host's. DHCP clients run
//! under `ip netns exec` have emptied host resolvers this way (the original pipework's udhcpc mode
//! among them); here the target is chosen by guest kind, and a guest that shares the host's
//! filesystem gets nothing written.

use super::Lease;
use crate::error::{Error, Result};
use crate::guest::{Guest, GuestKind};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where a guest's resolv.conf lives, or why we must not write one.
#[derive(Debug, PartialEq)]
pub enum Target {
    /// /etc/netns/NAME/resolv.conf: what `ip netns exec NAME` bind-mounts over /etc/resolv.conf.
    NetnsFile(PathBuf),
    /// /etc/resolv.conf inside the root of a process with its own mount namespace (container).
    ProcessRoot(u32),
    Skip(String),
}

pub fn render(lease: &Lease, ifname: &str) -> String {
    let mut s = format!(
        "# written by pipework from the DHCP lease of {ifname} (server {})\n",
        lease.server
    );
    let mut search: Vec<&str> = lease.domain.iter().map(|d| d.as_str()).collect();
    for d in &lease.search {
        if !search.contains(&d.as_str()) {
            search.push(d);
        }
    }
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for d in &lease.dns {
        s.push_str(&format!("nameserver {d}\n"));
    }
    s
}

fn mnt_ns(pid: &str) -> Option<(u64, u64)> {
    let m = std::fs::metadata(format!("/proc/{pid}/ns/mnt")).ok()?;
    Some((m.dev(), m.ino()))
}

pub fn target(guest: &Guest) -> Target {
    let pid = match &guest.kind {
        GuestKind::Host => return Target::Skip("the guest is the host itself".into()),
        GuestKind::Netns(name) => {
            return Target::NetnsFile(Path::new("/etc/netns").join(name).join("resolv.conf"))
        }
        GuestKind::Pid(p) => *p,
        GuestKind::Container { pid, .. } | GuestKind::Lxc { pid, .. } => *pid,
    };
    match (mnt_ns(&pid.to_string()), mnt_ns("self")) {
        (Some(theirs), Some(ours)) if theirs != ours => Target::ProcessRoot(pid),
        (Some(_), Some(_)) => Target::Skip(format!(
            "process {pid} shares the host's filesystem, so its resolv.conf is the host's"
        )),
        _ => Target::Skip(format!("process {pid} is gone")),
    }
}

/// Write `content` as the guest's resolv.conf. Returns where it went, or why it was not written.
pub fn write(guest: &Guest, content: &str) -> Result<std::result::Result<String, String>> {
    match target(guest) {
        Target::Skip(why) => Ok(Err(why)),
        Target::NetnsFile(p) => {
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
            }
            std::fs::write(&p, content)
                .map_err(|e| Error::io(format!("writing {}", p.display()), e))?;
            Ok(Ok(p.display().to_string()))
        }
        Target::ProcessRoot(pid) => {
            let fd = open_in_root(
                guest,
                pid,
                nix::fcntl::OFlag::O_WRONLY | nix::fcntl::OFlag::O_TRUNC,
            )?;
            let mut f = std::fs::File::from(fd);
            f.write_all(content.as_bytes())
                .map_err(|e| Error::guest(guest, format!("writing /etc/resolv.conf: {e}")))?;
            Ok(Ok(format!(
                "/etc/resolv.conf in {guest} (via /proc/{pid}/root)"
            )))
        }
    }
}

/// /etc/resolv.conf inside the root of process `pid` (created if missing), opened with `flags`.
/// Resolved inside that root: a symlinked /etc/resolv.conf (systemd-resolved images) must not lead
/// us out to the host's files.
pub fn open_in_root(guest: &Guest, pid: u32, flags: nix::fcntl::OFlag) -> Result<OwnedFd> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use nix::sys::stat::Mode;
    let root = format!("/proc/{pid}/root");
    let dir = std::fs::File::open(&root)
        .map_err(|e| Error::guest(guest, format!("opening {root}: {e}")))?;
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CREAT | OFlag::O_CLOEXEC)
        .mode(Mode::from_bits_truncate(0o644))
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(&dir, "etc/resolv.conf", how).map_err(|e| {
        Error::guest(
            guest,
            format!("opening /etc/resolv.conf in its filesystem: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_merges_domain_and_search() {
        let l = Lease {
            addr: "198.18.0.9/16".parse().unwrap(),
            server: "198.18.0.1".parse().unwrap(),
            router: None,
            dns: vec!["198.18.0.53".parse().unwrap()],
            domain: Some("lab.test".into()),
            search: vec!["lab.test".into(), "other.test".into()],
            mtu: None,
            lease_secs: 60,
            t1: 30,
            t2: 52,
        };
        assert_eq!(
            render(&l, "eth1"),
            "# written by pipework from the DHCP lease of eth1 (server 198.18.0.1)\n\
             search lab.test other.test\nnameserver 198.18.0.53\n"
        );
    }

    #[test]
    fn host_and_own_process_are_never_written() {
        let host = Guest::host().unwrap();
        assert!(matches!(target(&host), Target::Skip(_)));
        // Our own process shares our mount namespace: its resolv.conf is the host's.
        let me = Guest::pid(std::process::id() as i64).unwrap();
        assert!(matches!(target(&me), Target::Skip(w) if w.contains("shares the host")));
    }
}
