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

/// How a resolv.conf pipework wrote from a lease begins.
pub const HEADER: &str = "# written by pipework";

pub fn render(lease: &Lease, ifname: &str) -> String {
    let mut s = format!(
        "{HEADER} from the DHCP lease of {ifname} (server {})\n",
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
        GuestKind::Path(p) => {
            return Target::Skip(format!(
                "the namespace at {} comes with no filesystem pipework knows of",
                p.display()
            ))
        }
    };
    match (mnt_ns(&pid.to_string()), mnt_ns("self")) {
        (Some(theirs), Some(ours)) if theirs != ours => Target::ProcessRoot(pid),
        (Some(_), Some(_)) => Target::Skip(format!(
            "process {pid} shares the host's filesystem, so its resolv.conf is the host's"
        )),
        _ => Target::Skip(format!("process {pid} is gone")),
    }
}

/// Next to a named namespace's resolv.conf, what was there before pipework first wrote it: a
/// header line (`pipework owner=O had=yes|no`) and, with `had=yes`, the user's own file. Written
/// once, before the first lease; put back by `down(owner)` and when the namespace is deleted.
const KEPT: &str = "resolv.conf.pipework-kept";

/// What `preserve` did.
pub enum Preserved {
    /// Kept by an earlier lease: what is there now is pipework's.
    Already,
    /// Kept now (the note says so when the user had a file of their own).
    Now(Option<String>),
}

/// Keep the user's own `/etc/netns/NAME/resolv.conf` (or the fact that there was none) before
/// pipework or a DHCP client it runs writes over it.
pub fn preserve(path: &Path, owner: &str) -> Result<Preserved> {
    let dir = path.parent().expect("resolv.conf has a directory");
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let kept = dir.join(KEPT);
    if kept.exists() {
        return Ok(Preserved::Already);
    }
    let (body, note) = match std::fs::read(path) {
        Ok(b) => {
            let note = format!(
                "kept the namespace's own {} (put back by down({owner:?}))",
                path.display()
            );
            (Some(b), Some(note))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, None),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let mut rec = format!(
        "pipework owner={owner} had={}\n",
        if body.is_some() { "yes" } else { "no" }
    )
    .into_bytes();
    rec.extend(body.unwrap_or_default());
    let tmp = dir.join(format!(".{KEPT}.tmp"));
    std::fs::write(&tmp, &rec)
        .and_then(|_| std::fs::rename(&tmp, &kept))
        .map_err(|e| Error::io(format!("writing {}", kept.display()), e))?;
    Ok(Preserved::Now(note))
}

/// Put back what `preserve` kept in `dir` (`/etc/netns/NAME`), if `owner` kept it (any owner with
/// `None`). Returns a note of what was done.
pub fn restore(dir: &Path, owner: Option<&str>) -> Option<String> {
    let kept = dir.join(KEPT);
    let rec = std::fs::read(&kept).ok()?;
    let nl = rec.iter().position(|b| *b == b'\n').unwrap_or(rec.len());
    let header = String::from_utf8_lossy(&rec[..nl]).to_string();
    let who = crate::marker::owner_of(&header)?;
    if owner.is_some_and(|o| o != who) {
        return None;
    }
    let path = dir.join("resolv.conf");
    let note = if crate::marker::field(&header, "had") == Some("yes") {
        let body = rec.get(nl + 1..).unwrap_or_default();
        std::fs::write(&path, body).ok()?;
        format!("put back the namespace's own {}", path.display())
    } else {
        let _ = std::fs::remove_file(&path);
        format!(
            "removed {} (there was none before pipework)",
            path.display()
        )
    };
    let _ = std::fs::remove_file(&kept);
    let _ = std::fs::remove_dir(dir); // only if nothing else of the user's is in it
    Some(note)
}

/// Undo every namespace resolv.conf `owner` wrote (teardown). Returns notes.
pub fn restore_owned(owner: &str) -> Vec<String> {
    std::fs::read_dir("/etc/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|d| restore(&d.path(), Some(owner)))
        .collect()
}

/// Write `content` as the guest's resolv.conf. Returns where it went, or why it was not written.
pub fn write(
    guest: &Guest,
    content: &str,
    owner: &str,
) -> Result<std::result::Result<String, String>> {
    match target(guest) {
        Target::Skip(why) => Ok(Err(why)),
        Target::NetnsFile(p) => {
            // Normally kept already by the session before the lease; a lease keeper's later
            // lease may be the first to bring DNS servers.
            if let Preserved::Now(Some(note)) = preserve(&p, owner)? {
                eprintln!("pipework: {note}");
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
