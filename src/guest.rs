//! Who we plumb into. Every guest is resolved once to an open network-namespace fd: after that, a PID
//! being reused or a namespace file being replaced cannot redirect us into someone else's network.

use crate::error::{Error, Result};
use nix::sched::{setns, CloneFlags};
use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const NETNS_RUN_DIR: &str = "/run/netns";
/// Where we record which named namespaces pipework created, and for whom (survives our own crash).
pub const STATE_DIR: &str = "/run/pipework";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GuestKind {
    /// The namespace pipework itself runs in.
    Host,
    /// A named namespace under /run/netns, as `ip netns` manages them.
    Netns(String),
    /// The namespace of a process, pinned at resolution time.
    Pid(u32),
    /// A Docker/podman container (pinned through its init process).
    Container { name: String, id: String, pid: u32 },
    /// An LXC container.
    Lxc { name: String, pid: u32 },
    /// A namespace named by its nsfs file, as a CNI runtime hands one over (`CNI_NETNS`): a bind
    /// mount anywhere, or `/proc/PID/ns/net`. The file is opened once; the fd is what we use.
    Path(PathBuf),
}

/// Identity of a network namespace: (device, inode) of its nsfs file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NsId(pub u64, pub u64);

impl NsId {
    /// The identity of the namespace a file names (`/proc/PID/ns/net`, `/run/netns/NAME`), if any.
    pub fn of_path(path: &Path) -> Option<NsId> {
        std::fs::metadata(path).ok().map(|m| NsId(m.dev(), m.ino()))
    }
}

#[derive(Clone)]
pub struct Guest {
    pub kind: GuestKind,
    ns: Arc<OwnedFd>,
    pub id: NsId,
}

impl fmt::Display for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            GuestKind::Host => write!(f, "host"),
            GuestKind::Netns(n) => write!(f, "netns:{n}"),
            GuestKind::Pid(p) => write!(f, "pid:{p}"),
            GuestKind::Container { name, .. } => write!(f, "container:{name}"),
            GuestKind::Lxc { name, .. } => write!(f, "lxc:{name}"),
            GuestKind::Path(p) => write!(f, "nspath:{}", p.display()),
        }
    }
}

impl fmt::Debug for Guest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for Guest {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

fn ns_id(file: &File) -> std::io::Result<NsId> {
    let m = file.metadata()?;
    Ok(NsId(m.dev(), m.ino()))
}

fn open_ns(path: &Path) -> std::io::Result<(OwnedFd, NsId)> {
    let f = File::open(path)?;
    let id = ns_id(&f)?;
    Ok((f.into(), id))
}

/// nsfs magic: a namespace file that is still bind-mounted, not a stale empty file.
const NSFS_MAGIC: i64 = 0x6e73_6673;

fn is_nsfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type().0 == NSFS_MAGIC)
        .unwrap_or(false)
}

/// A guest as text names it: the one grammar for scripts (`guest("…")`), the classic command line
/// and the lease keeper's own argv. A bare word is a named namespace in scripts; the classic
/// command line looks it up among LXC and Docker containers first, as the original does.
#[derive(Debug, PartialEq)]
pub enum Spec<'a> {
    Host,
    Netns(&'a str),
    Pid(i64),
    Container(&'a str),
    Lxc(&'a str),
    Path(&'a str),
    Bare(&'a str),
}

impl<'a> Spec<'a> {
    pub fn parse(spec: &'a str) -> Result<Spec<'a>> {
        Ok(match spec.split_once(':') {
            Some(("netns", n)) => Spec::Netns(n),
            Some(("pid", p)) => Spec::Pid(
                p.parse()
                    .map_err(|_| Error::invalid("guest", spec, "pid:N needs a number"))?,
            ),
            Some(("container" | "docker" | "podman", n)) => Spec::Container(n),
            Some(("lxc", n)) => Spec::Lxc(n),
            Some(("nspath", p)) => Spec::Path(p),
            Some((kind, _)) => {
                return Err(Error::invalid(
                    "guest",
                    spec,
                    format!("unknown kind {kind:?} (use netns:NAME, pid:N, container:NAME, lxc:NAME, nspath:FILE or host)"),
                ))
            }
            None if spec == "host" => Spec::Host,
            None => Spec::Bare(spec),
        })
    }
}

pub fn validate_netns_name(name: &str) -> Result<()> {
    if name.len() > 200 {
        return Err(Error::invalid(
            "namespace name",
            name,
            "is longer than 200 bytes",
        ));
    }
    crate::parse::safe_name("namespace name", name)
}

pub fn netns_path(name: &str) -> PathBuf {
    Path::new(NETNS_RUN_DIR).join(name)
}

impl Guest {
    pub fn host() -> Result<Guest> {
        let (fd, id) = open_ns(Path::new("/proc/thread-self/ns/net"))
            .map_err(|e| Error::io("opening our own network namespace", e))?;
        Ok(Guest {
            kind: GuestKind::Host,
            ns: Arc::new(fd),
            id,
        })
    }

    pub fn pid(pid: i64) -> Result<Guest> {
        let label = format!("pid:{pid}");
        if pid <= 0 || pid > i32::MAX as i64 {
            return Err(Error::guest(label, "a PID must be a positive number"));
        }
        let path = format!("/proc/{pid}/ns/net");
        let (fd, id) = open_ns(Path::new(&path)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::guest(
                &label,
                "no such process (has it exited? PIDs are resolved when the script runs)",
            ),
            _ => Error::guest(&label, format!("cannot open {path}: {e}")),
        })?;
        Ok(Guest {
            kind: GuestKind::Pid(pid as u32),
            ns: Arc::new(fd),
            id,
        })
    }

    pub fn container(name: &str, id: &str, pid: i64) -> Result<Guest> {
        let g = Guest::pid(pid).map_err(|e| Error::guest(format!("container:{name}"), e))?;
        Ok(Guest {
            kind: GuestKind::Container {
                name: name.to_string(),
                id: id.to_string(),
                pid: pid as u32,
            },
            ..g
        })
    }

    pub fn lxc(name: &str, pid: i64) -> Result<Guest> {
        let g = Guest::pid(pid).map_err(|e| Error::guest(format!("lxc:{name}"), e))?;
        Ok(Guest {
            kind: GuestKind::Lxc {
                name: name.to_string(),
                pid: pid as u32,
            },
            ..g
        })
    }

    /// The namespace whose nsfs file is at `path` (absolute): a CNI runtime's `CNI_NETNS`.
    pub fn at_path(path: &Path) -> Result<Guest> {
        let label = format!("nspath:{}", path.display());
        if !path.is_absolute() || path.to_string_lossy().contains(char::is_whitespace) {
            return Err(Error::guest(
                &label,
                "the path must be absolute, without whitespace",
            ));
        }
        if !is_nsfs(path) {
            return Err(Error::not_found("network namespace", path.display(), None));
        }
        let (fd, id) = open_ns(path).map_err(|e| Error::guest(&label, e))?;
        Ok(Guest {
            kind: GuestKind::Path(path.to_path_buf()),
            ns: Arc::new(fd),
            id,
        })
    }

    /// Open an existing named namespace; `Ok(None)` when there is none by that name.
    pub fn open_netns(name: &str) -> Result<Option<Guest>> {
        validate_netns_name(name)?;
        let path = netns_path(name);
        if !is_nsfs(&path) {
            return Ok(None);
        }
        let (fd, id) = open_ns(&path).map_err(|e| Error::guest(format!("netns:{name}"), e))?;
        Ok(Some(Guest {
            kind: GuestKind::Netns(name.to_string()),
            ns: Arc::new(fd),
            id,
        }))
    }

    /// Create a named namespace for `owner` the way `ip netns add` does: an nsfs bind mount under
    /// a shared /run/netns, so other mount namespaces (and `ip netns exec`) see it.
    ///
    /// Crash-safe by order: the namespace is made first and its record (owner and identity)
    /// written before the name exists, then the name's placeholder, then the mount. A kill at any
    /// point leaves a record that `down(owner)` follows: to nothing (the namespace died with its
    /// thread), to an unmounted placeholder (removed), or to the mounted namespace (deleted).
    /// Pipework processes make namespaces one at a time (a lock), so two of them asked for one
    /// name never mount twice onto it.
    /// Returns the namespace, whether this call made it (not another process just before), and
    /// then a NETLINK_ROUTE socket opened inside it while it was being made (None if that failed:
    /// the namespace stands, and is reached the usual way).
    pub fn create_netns(name: &str, owner: &str) -> Result<(Guest, bool, Option<OwnedFd>)> {
        validate_netns_name(name)?;
        let label = format!("netns:{name}");
        make_run_dir_shared().map_err(|e| Error::guest(&label, e))?;
        let _lock = crate::lock::exclusive(crate::lock::Topic::Netns)?;
        if let Some(g) = Guest::open_netns(name)? {
            return Ok((g, false, None)); // made by another process while we waited
        }
        let path = netns_path(name);
        let (o, p) = (owner.to_string(), path.clone());
        let n = name.to_string();
        // Made by the namespace worker, which enters it by unshare() and leaves it right after:
        // no thread of ours stays in the new namespace, and a kill before the bind mount leaves
        // nothing of it.
        let made = crate::hop::run(crate::hop::Where::New, move || {
            let fail = |what: &str, e: &dyn fmt::Display| {
                std::io::Error::other(format!("creating namespace: {what}: {e}"))
            };
            let me = "/proc/thread-self/ns/net";
            let m = std::fs::metadata(me).map_err(|e| fail(me, &e))?;
            if let Err(e) = mark_netns_owner(&n, &o, NsId(m.dev(), m.ino())) {
                return Ok(Err(e));
            }
            crate::crash::point("netns-recorded");
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(_) => {}
                // A stale file (its namespace unmounted) is reused rather than reported as
                // "exists"; a live namespace by this name is someone else's, made just now.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !is_nsfs(&p) => {}
                Err(e) => return Err(fail(&format!("creating {}", p.display()), &e)),
            }
            crate::crash::point("netns-placeholder");
            nix::mount::mount(
                Some(me),
                &p,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| fail("bind mount", &e))?;
            // The socket the session talks to it through, opened while we are in it anyway. The
            // namespace is made and mounted by now: a failure here must not unmake it.
            Ok(Ok(crate::net::route_socket(0).ok()))
        });
        let sock = match made.map_err(|e| Error::guest(&label, e)).and_then(|r| r) {
            Ok(sock) => sock,
            Err(e) => {
                // Only what this call made: a namespace that is there now is someone else's.
                if !is_nsfs(&path) {
                    let _ = std::fs::remove_file(&path);
                }
                let _ = std::fs::remove_file(owner_file(name));
                return Err(e);
            }
        };
        let g = Guest::open_netns(name)?
            .ok_or_else(|| Error::guest(label, "namespace vanished after creation"))?;
        Ok((g, true, sock))
    }

    pub fn delete_netns(name: &str) -> Result<()> {
        validate_netns_name(name)?;
        let path = netns_path(name);
        let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::guest(
                    format!("netns:{name}"),
                    format!("removing: {e}"),
                ))
            }
        }
        // Per-namespace resolver settings a DHCP lease put there die with the namespace; what the
        // user had there before comes back, and a file of the user's alone is left alone.
        let etc = Path::new("/etc/netns").join(name);
        if let Some(note) = crate::dhcp::resolv::restore(&etc, None) {
            eprintln!("pipework: netns {name}: {note}");
        } else if std::fs::read_to_string(etc.join("resolv.conf"))
            .is_ok_and(|c| c.starts_with(crate::dhcp::resolv::HEADER))
        {
            let _ = std::fs::remove_file(etc.join("resolv.conf"));
            let _ = std::fs::remove_dir(&etc);
        }
        let _ = std::fs::remove_file(owner_file(name));
        Ok(())
    }

    /// Whether the process a guest was found through still lives in the namespace we pinned. The
    /// pinned fd keeps the namespace itself alive after a container dies, so plumbing into it
    /// would "succeed" into nothing; named namespaces and the host do not die that way.
    pub fn alive(&self) -> bool {
        let pid = match &self.kind {
            GuestKind::Host | GuestKind::Netns(_) | GuestKind::Path(_) => return true,
            GuestKind::Pid(p) => *p,
            GuestKind::Container { pid, .. } | GuestKind::Lxc { pid, .. } => *pid,
        };
        // A dead process (a zombie too) has no namespace links; a recycled PID has another one.
        NsId::of_path(Path::new(&format!("/proc/{pid}/ns/net"))) == Some(self.id)
    }

    /// Text that names this very namespace again (a container by its process): what a process
    /// started for this guest, such as the lease keeper, is given.
    pub fn spec(&self) -> String {
        match &self.kind {
            GuestKind::Host => "host".into(),
            GuestKind::Netns(n) => format!("netns:{n}"),
            GuestKind::Pid(p) => format!("pid:{p}"),
            GuestKind::Container { pid, .. } | GuestKind::Lxc { pid, .. } => format!("pid:{pid}"),
            GuestKind::Path(p) => format!("nspath:{}", p.display()),
        }
    }

    pub fn name(&self) -> Option<&str> {
        match &self.kind {
            GuestKind::Netns(n) => Some(n),
            _ => None,
        }
    }

    /// A short stable token for this guest, used to derive host-side interface names.
    pub fn key(&self) -> String {
        match &self.kind {
            GuestKind::Host => "host".into(),
            GuestKind::Netns(n) => n.clone(),
            // Long: host-side names become a hash of it.
            GuestKind::Path(p) => p.display().to_string(),
            // Like the original: host-side names carry the container's PID.
            GuestKind::Pid(p)
            | GuestKind::Container { pid: p, .. }
            | GuestKind::Lxc { pid: p, .. } => p.to_string(),
        }
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.ns
    }

    /// The namespace fd, shared: for work that outlives this borrow (the namespace worker's).
    pub fn fd_arc(&self) -> Arc<OwnedFd> {
        self.ns.clone()
    }

    pub fn is_host(&self) -> bool {
        self.kind == GuestKind::Host
    }

    /// Run `f` in this guest's network namespace — on this thread for the host, else on the
    /// namespace worker (`hop`) — for what must be *created* inside it (a socket stays bound to the
    /// namespace it was opened in). `f` must be short: the worker serves every guest in turn.
    /// Failures read "{what} in {guest}: …".
    pub fn inside<T: Send + 'static>(
        &self,
        what: &str,
        f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> Result<T> {
        let r = if self.is_host() {
            f()
        } else {
            crate::hop::run(crate::hop::Where::Existing(self.ns.clone()), f)
        };
        r.map_err(|e| Error::io(format!("{what} in {self}"), e))
    }

    /// Run `f` on a short-lived helper thread that has joined this namespace, for what may take
    /// long (a connect with its time-out). The thread exits afterwards, so the namespace switch
    /// can never leak into the rest of the program.
    pub fn run_inside<T: Send>(&self, f: impl FnOnce() -> std::io::Result<T> + Send) -> Result<T> {
        let fd = self.ns.as_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                setns(fd, CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
                f()
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("helper thread panicked")))
        })
        .map_err(|e| Error::guest(self, e))
    }

    /// A Command that enters this namespace between fork and exec (no shell involved).
    pub fn command(&self, argv: &[String]) -> Result<std::process::Command> {
        use std::os::unix::process::CommandExt;
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| Error::invalid("command", "[]", "needs at least the program name"))?;
        let mut cmd = std::process::Command::new(prog);
        cmd.args(args);
        if !self.is_host() {
            let raw = self.ns.as_raw_fd();
            // SAFETY: setns is async-signal-safe; the fd stays open in the child until exec.
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setns(raw, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Ok(cmd)
    }
}

fn make_run_dir_shared() -> std::result::Result<(), String> {
    // Once per process: it stays a shared mount point once it is one.
    static DONE: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if DONE.get().is_some() {
        return Ok(());
    }
    share_run_dir()?;
    let _ = DONE.set(());
    Ok(())
}

fn share_run_dir() -> std::result::Result<(), String> {
    use nix::mount::{mount, MsFlags};
    std::fs::create_dir_all(NETNS_RUN_DIR).map_err(|e| format!("creating {NETNS_RUN_DIR}: {e}"))?;
    let flags = MsFlags::MS_SHARED | MsFlags::MS_REC;
    if mount(
        None::<&str>,
        NETNS_RUN_DIR,
        None::<&str>,
        flags,
        None::<&str>,
    )
    .is_ok()
    {
        return Ok(());
    }
    // Not a mount point yet: make it one (bind onto itself), then shared — as iproute2 does.
    mount(
        Some(NETNS_RUN_DIR),
        NETNS_RUN_DIR,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| format!("bind mount of {NETNS_RUN_DIR}: {e}"))?;
    mount(
        None::<&str>,
        NETNS_RUN_DIR,
        None::<&str>,
        flags,
        None::<&str>,
    )
    .map_err(|e| format!("making {NETNS_RUN_DIR} shared: {e}"))
}

fn owner_file(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join("netns").join(name)
}

/// What pipework knows of a namespace it created: for whom, and *which* namespace — the identity
/// of its nsfs file at creation. A name alone is not enough: a user who deletes our namespace and
/// makes their own by the same name must not lose it to our `down()`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetnsRecord {
    pub name: String,
    pub owner: String,
    /// None for a record written by an older pipework (owner only): it proves nothing.
    pub id: Option<NsId>,
}

/// How a record compares with what is mounted under /run/netns now.
#[derive(Debug, PartialEq)]
pub enum RecordState {
    /// The very namespace pipework created.
    Ours(Guest),
    /// Nothing by that name any more (deleted outside pipework).
    Gone,
    /// A namespace by that name exists but is not the one we created (or the record cannot tell).
    NotOurs,
    /// Only the name's placeholder, never mounted: a creation killed half-way.
    Unmounted,
}

impl NetnsRecord {
    fn parse(name: &str, text: &str) -> NetnsRecord {
        let field = |k: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
        };
        let id = match (field("dev").map(str::parse), field("ino").map(str::parse)) {
            (Some(Ok(d)), Some(Ok(i))) => Some(NsId(d, i)),
            _ => None,
        };
        let owner = match field("owner") {
            Some(o) => o.to_string(),
            // The older format: the owner alone.
            None => text.trim().to_string(),
        };
        NetnsRecord {
            name: name.to_string(),
            owner,
            id,
        }
    }

    pub fn state(&self) -> Result<RecordState> {
        Ok(match Guest::open_netns(&self.name)? {
            None if self.id.is_some() && netns_path(&self.name).is_file() => RecordState::Unmounted,
            None => RecordState::Gone,
            Some(g) if Some(g.id) == self.id => RecordState::Ours(g),
            Some(_) => RecordState::NotOurs,
        })
    }

    /// Forget this record (the namespace is gone, or was never ours to delete).
    pub fn drop_record(&self) {
        let _ = std::fs::remove_file(owner_file(&self.name));
    }
}

/// Record that pipework created this namespace (identity `id`) for `owner`, so `down(owner)` can
/// find it later. Written to a temporary file and renamed: a record is whole or absent, never empty.
pub fn mark_netns_owner(name: &str, owner: &str, id: NsId) -> Result<()> {
    let f = owner_file(name);
    let dir = f.parent().expect("a state file has a directory");
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, format!("owner={owner} dev={} ino={}\n", id.0, id.1))
        .and_then(|_| std::fs::rename(&tmp, &f))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("writing {}", f.display()), e)
        })
}

/// Records a killed pipework was writing (the temporary file before its rename) for `owner` (any
/// owner: None). Only called under the netns lock, which every writer holds: none is live.
pub fn drop_unfinished_records(owner: Option<&str>) {
    let dir = Path::new(STATE_DIR).join("netns");
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if !e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        let of = NetnsRecord::parse("", &text).owner;
        // Empty: killed before its first byte; nobody's, so anybody's to remove.
        if owner.is_none_or(|o| o == of) || text.is_empty() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Records of the named namespaces pipework created.
pub fn owned_netns() -> Vec<NetnsRecord> {
    let dir = Path::new(STATE_DIR).join("netns");
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec![];
    };
    let mut v: Vec<NetnsRecord> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                return None; // a record being written
            }
            let text = std::fs::read_to_string(e.path()).ok()?;
            Some(NetnsRecord::parse(&name, &text))
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// Every named namespace under /run/netns.
pub fn netns_names() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(NETNS_RUN_DIR) else {
        return vec![];
    };
    let mut v: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_guest_grammar() {
        assert_eq!(Spec::parse("host").unwrap(), Spec::Host);
        assert_eq!(Spec::parse("web").unwrap(), Spec::Bare("web"));
        assert_eq!(Spec::parse("netns:web").unwrap(), Spec::Netns("web"));
        assert_eq!(Spec::parse("pid:42").unwrap(), Spec::Pid(42));
        assert_eq!(Spec::parse("docker:c").unwrap(), Spec::Container("c"));
        assert_eq!(Spec::parse("lxc:l").unwrap(), Spec::Lxc("l"));
        assert_eq!(
            Spec::parse("nspath:/run/netns/cni-1").unwrap(),
            Spec::Path("/run/netns/cni-1")
        );
        assert!(Spec::parse("pid:x")
            .unwrap_err()
            .to_string()
            .contains("needs a number"));
        assert!(Spec::parse("vm:x")
            .unwrap_err()
            .to_string()
            .contains("unknown kind"));
    }

    #[test]
    fn records_bind_names_to_identities() {
        let r = NetnsRecord::parse("web", "owner=lamp dev=4 ino=4026532250\n");
        assert_eq!(r.owner, "lamp");
        assert_eq!(r.id, Some(NsId(4, 4026532250)));
        // An older record proves nothing about which namespace it meant.
        let old = NetnsRecord::parse("web", "lamp\n");
        assert_eq!((old.owner.as_str(), old.id), ("lamp", None));
    }
}
