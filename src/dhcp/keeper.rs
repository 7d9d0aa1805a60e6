//! Keeps a built-in lease alive after pipework returns, as the original's `dhcp` mode did by
//! leaving busybox udhcpc running: a small detached pipework process renews at T1, rebinds at T2,
//! and starts over when the server refuses or the lease runs out.
//!
//! It holds nothing of the guest between renewals — no namespace fd, no socket — so a stopped
//! container's namespace is not kept alive by it; each renewal re-opens the guest and checks that
//! it is the same namespace (PIDs and names get reused), and the keeper exits once it is gone.

use super::{external, DhcpOpts, Lease};
use crate::error::{Error, Result};
use crate::guest::{Guest, NsId};
use crate::net::Netlink;
use ipnetwork::IpNetwork;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The hidden first argument that turns the pipework binary into a keeper.
pub const VERB: &str = "__dhcp-keep";

/// How a keeper finds its guest again: `netns:NAME`, `pid:N`, or `host`, plus the namespace identity.
/// The same namespace as when the lease was taken, or None (the guest is gone).
pub(crate) fn reopen(spec: &str, id: NsId) -> Option<Guest> {
    let g = match crate::guest::Spec::parse(spec).ok()? {
        crate::guest::Spec::Host => Guest::host().ok(),
        crate::guest::Spec::Netns(n) => Guest::open_netns(n).ok().flatten(),
        crate::guest::Spec::Pid(p) => Guest::pid(p).ok(),
        _ => None,
    }?;
    (g.id == id).then_some(g)
}

pub fn pidfile(guest: &Guest, ifname: &str, owner: &str) -> PathBuf {
    external::state_dir(owner).join(format!("{}.{ifname}.pipework.pid", guest.key()))
}

/// Start a keeper for `lease` on `ifname` in `guest`, replacing one left by an earlier run.
/// Returns its pid file (what `down(owner)` uses to stop it).
pub fn spawn(
    guest: &Guest,
    ifname: &str,
    lease: &Lease,
    opts: &DhcpOpts,
    owner: &str,
) -> Result<PathBuf> {
    let pf = pidfile(guest, ifname, owner);
    external::stop_pidfile(&pf);
    if let Some(dir) = pf.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating our own binary", e))?;
    // Named fields (`key=value`), so the two ends cannot disagree on positions; the pid file
    // stands alone after `--pidfile`, where stopping the keeper looks for it (see kill_pidfile).
    let args: Vec<String> = vec![
        VERB.into(),
        "--pidfile".into(),
        pf.display().to_string(),
        format!("guest={}", guest.spec()),
        format!("ns={}:{}", guest.id.0, guest.id.1),
        format!("if={ifname}"),
        format!("addr={}", lease.addr),
        format!("server={}", lease.server),
        format!("lease={}", lease.lease_secs),
        format!("t1={}", lease.t1),
        format!("t2={}", lease.t2),
        format!("hostname={}", opts.hostname.clone().unwrap_or_default()),
        format!("gateway={}", opts.gateway),
    ];
    detach(exe, &args, &pf, "the DHCP lease keeper")?;
    Ok(pf)
}

/// Start `exe ARGS` as a process of its own session (the user's terminal closing, SIGHUP, must
/// not end it) with nothing inherited, and write its pid to `pf` (what stopping it reads).
pub(crate) fn detach(
    exe: PathBuf,
    args: &[String],
    pf: &std::path::Path,
    what: &str,
) -> Result<()> {
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::io(format!("starting {what}"), e))?;
    std::fs::write(pf, child.id().to_string())
        .map_err(|e| Error::io(format!("writing {}", pf.display()), e))
}

struct Keeper {
    spec: String,
    id: NsId,
    ifname: String,
    opts: DhcpOpts,
    pidfile: PathBuf,
}

impl Keeper {
    /// Sleep until `t`, waking every few seconds to see whether the guest still exists.
    fn sleep_until(&self, t: Instant) -> bool {
        loop {
            let now = Instant::now();
            if now >= t {
                return reopen(&self.spec, self.id).is_some();
            }
            std::thread::sleep((t - now).min(Duration::from_secs(5)));
            if reopen(&self.spec, self.id).is_none() {
                return false;
            }
        }
    }

    /// The guest and our interface (index, MAC), if both still exist.
    fn target(&self) -> Option<(Guest, Netlink, u32, [u8; 6])> {
        let g = reopen(&self.spec, self.id)?;
        let nl = Netlink::new(false).ok()?;
        let l = nl.ns(&g).ok()?.link(&self.ifname).ok()??;
        let mac = l.mac_bytes()?;
        Some((g, nl, l.index, mac))
    }

    /// One renewal round: Some(new lease) to keep going, None when the guest or link is gone.
    fn renew(&self, lease: &Lease, bound: Instant) -> Option<(Lease, Instant)> {
        let (g, nl, index, mac) = self.target()?;
        let expiry = bound + Duration::from_secs(lease.lease_secs as u64);
        let client = super::Client::new(&g, &self.ifname, index, mac, &self.opts).ok()?;
        match client.renew(lease, expiry) {
            Ok(Some(Ok(new))) if new.addr == lease.addr => return Some((new, Instant::now())),
            // A local failure (socket, interface flapping): try again shortly; the lease clock
            // keeps running, so this cannot stretch the lease past its expiry.
            Err(_) if Instant::now() < expiry => {
                std::thread::sleep(Duration::from_secs(5));
                return Some((lease.clone(), bound));
            }
            _ => {}
        }
        // Refused, moved elsewhere, or expired: the address is no longer ours to use.
        let ns = nl.ns(&g).ok()?;
        let _ = ns.del_addr(index, &self.ifname, IpNetwork::V4(lease.addr));
        drop(nl);
        self.rebind_from_scratch()
    }

    /// DISCOVER again until a server answers (or the guest disappears), and apply what it gives.
    fn rebind_from_scratch(&self) -> Option<(Lease, Instant)> {
        loop {
            let (g, _nl, _, _) = self.target()?;
            let s = crate::session::Session::new(false).ok()?;
            // Acting for the owner that started us (our pid file lives in its state directory),
            // so anything this lease writes is that owner's to undo.
            if let Some(owner) = self.pidfile.parent().and_then(|d| d.file_name()) {
                let _ = s.set_owner(&owner.to_string_lossy());
            }
            let mut o = self.opts.clone();
            o.timeout = Duration::from_secs(60);
            o.keep = false;
            if let Ok(r) = s.dhcp(&g, &self.ifname, &o) {
                return Some((r.lease, Instant::now()));
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    fn run(&self, mut lease: Lease) {
        let mut bound = Instant::now();
        while lease.lease_secs != u32::MAX {
            if !self.sleep_until(bound + Duration::from_secs(lease.t1.max(1) as u64)) {
                return;
            }
            match self.renew(&lease, bound) {
                Some((l, b)) => (lease, bound) = (l, b),
                None => return,
            }
        }
    }
}

/// Entry point of `pipework __dhcp-keep …` (arguments as `spawn` writes them).
pub fn main(args: &[String]) -> i32 {
    let parsed = (|| -> Option<(Keeper, Lease)> {
        let ["--pidfile", pidfile, fields @ ..] =
            &args.iter().map(String::as_str).collect::<Vec<_>>()[..]
        else {
            return None;
        };
        let pidfile = pidfile.to_string();
        let fields: std::collections::HashMap<&str, &str> =
            fields.iter().filter_map(|f| f.split_once('=')).collect();
        let get = |k: &str| fields.get(k).copied();
        let (spec, id, ifname) = (get("guest")?, get("ns")?, get("if")?);
        let (addr, server, secs, t1, t2) = (
            get("addr")?,
            get("server")?,
            get("lease")?,
            get("t1")?,
            get("t2")?,
        );
        let (hostname, gateway) = (get("hostname")?, get("gateway")?);
        let (dev, ino) = id.split_once(':')?;
        let lease = Lease {
            addr: addr.parse().ok()?,
            server: server.parse().ok()?,
            router: None,
            dns: vec![],
            domain: None,
            search: vec![],
            mtu: None,
            lease_secs: secs.parse().ok()?,
            t1: t1.parse().ok()?,
            t2: t2.parse().ok()?,
        };
        let opts = DhcpOpts {
            hostname: Some(hostname.to_string()).filter(|h| !h.is_empty()),
            gateway: gateway.parse().ok()?,
            // The first lease wrote the guest's resolv.conf; a new lease after losing this one
            // rewrites it.
            dns: true,
            keep: false,
            ..Default::default()
        };
        Some((
            Keeper {
                spec: spec.to_string(),
                id: NsId(dev.parse().ok()?, ino.parse().ok()?),
                ifname: ifname.to_string(),
                opts,
                pidfile: pidfile.into(),
            },
            lease,
        ))
    })();
    match parsed {
        Some((k, lease)) => {
            k.run(lease);
            // The guest is gone: so is the need to find this keeper (unless a newer one took over).
            let mine = std::fs::read_to_string(&k.pidfile)
                .is_ok_and(|p| p.trim() == std::process::id().to_string());
            if mine {
                let _ = std::fs::remove_file(&k.pidfile);
                if let Some(dir) = k.pidfile.parent() {
                    let _ = std::fs::remove_dir(dir);
                }
            }
            0
        }
        None => {
            eprintln!("pipework: {VERB} is internal (started by dhcp to renew a lease)");
            2
        }
    }
}
