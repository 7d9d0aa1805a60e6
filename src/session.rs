//! The plumbing core: one `Session` holds the netlink connections and the current owner, and offers
//! the operations every front end (classic argv, `-e`, `run`, REPL) reaches. Nothing here knows Rhai.

use crate::dhcp::{self, DhcpOpts, Lease};
use crate::driver::{AttachOpts, Attachment, Driver};
use crate::error::{Error, Result, ResultExt};
use crate::guest::{self, Guest};
use crate::marker;
use crate::net::{LinkState, Netlink, RouteSpec};
use crate::parse;
use ipnetwork::IpNetwork;
use std::cell::RefCell;

pub struct Session {
    /// The core's own: front ends reach the kernel only through Session's methods.
    pub(crate) nl: Netlink,
    owner: RefCell<String>,
    host: Guest,
    /// What this process created, in order, so a failed run can be rolled back as a whole.
    journal: RefCell<Vec<Created>>,
}

#[derive(Clone, Debug)]
pub enum Created {
    /// A named namespace, with the identity it had at creation (a rollback must not delete a
    /// namespace someone made by the same name in the meantime).
    Netns(String, crate::guest::NsId),
    Ovs(String),
    /// A port in an OVS bridge (its interface is a `Link` of its own).
    OvsPort(String),
    Link {
        guest: Guest,
        name: String,
    },
    /// A process left running (a DHCP lease keeper or client), by its pid file.
    Process(std::path::PathBuf),
}

impl Created {
    /// Undo this one thing, by the room that made it. Returns what was removed, if anything was.
    fn undo(&self, s: &Session) -> Option<String> {
        match self {
            Created::Link { guest, name } => crate::driver::undo_link(s, guest, name),
            Created::OvsPort(name) => crate::driver::ovs::undo_port(name),
            Created::Ovs(name) => crate::driver::ovs::undo_bridge(name),
            Created::Process(pidfile) => dhcp::undo_process(pidfile),
            Created::Netns(name, id) => s.undo_netns(name, *id),
        }
    }
}

/// A Linux bridge in the host namespace.
#[derive(Clone, Debug)]
pub struct Bridge {
    pub name: String,
    pub created: bool,
}

#[derive(Default, Clone, Debug)]
pub struct BridgeOpts {
    pub mtu: Option<u32>,
    /// 802.1Q-aware bridge: ports can be put into VLANs (`veth(…, #{vlan: 10})`).
    pub vlan_filtering: Option<bool>,
}

/// What `down()` removed, and what it has to say about what it left (the front end prints those).
#[derive(Default, Debug)]
pub struct Removed {
    pub links: Vec<String>,
    /// Pid files of DHCP clients that were stopped.
    pub clients: Vec<String>,
    pub netns: Vec<String>,
    /// Bridges kept for other owners, records dropped, files put back: one sentence each.
    pub notes: Vec<String>,
}

/// A lease applied to a guest, and where its DNS servers went (or why nowhere).
#[derive(Debug, Clone)]
pub struct DhcpResult {
    pub lease: Lease,
    pub resolv: std::result::Result<String, String>,
    /// Pid file of the process renewing the lease, if one was started.
    pub keeper: Option<std::path::PathBuf>,
}

/// Result of running a program inside a guest.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    pub fn new(verbose: bool) -> Result<Session> {
        Ok(Session {
            nl: Netlink::new(verbose)?,
            owner: RefCell::new("cli".into()),
            host: Guest::host()?,
            journal: RefCell::new(vec![]),
        })
    }

    pub fn owner(&self) -> String {
        self.owner.borrow().clone()
    }

    pub fn set_owner(&self, owner: &str) -> Result<()> {
        marker::validate_owner(owner)?;
        *self.owner.borrow_mut() = owner.to_string();
        Ok(())
    }

    pub fn host(&self) -> Guest {
        self.host.clone()
    }

    /// A named namespace, created (and marked as ours) if missing; its loopback is brought up.
    pub fn netns(&self, name: &str) -> Result<Guest> {
        if let Some(g) = Guest::open_netns(name)? {
            return Ok(g);
        }
        if self.nl.verbose {
            eprintln!("netns: create {name}");
        }
        let g = Guest::create_netns(name)?;
        let setup = guest::mark_netns_owner(name, &self.owner(), g.id).and_then(|_| {
            let ns = self.nl.ns(&g)?;
            let lo = ns
                .link("lo")?
                .ok_or_else(|| Error::not_found("interface", "lo", Some(g.to_string())))?;
            ns.set_link(lo.index, "lo", &crate::net::link_up())
        });
        if let Err(e) = setup {
            self.nl.forget(&g);
            let _ = Guest::delete_netns(name);
            return Err(e.context(format!("creating netns {name}")));
        }
        self.record(Created::Netns(name.to_string(), g.id));
        Ok(g)
    }

    /// Resolve a guest from text, as recipes and the command line receive it: `netns:NAME`, `pid:N`,
    /// `host`, or a bare name (a named namespace). Container runtimes extend this table.
    pub fn guest(&self, spec: &str) -> Result<Guest> {
        match spec.split_once(':') {
            Some(("netns", n)) => self.netns(n),
            Some(("pid", p)) => {
                let pid = p
                    .parse()
                    .map_err(|_| Error::invalid("guest", spec, "pid:N needs a number"))?;
                Guest::pid(pid)
            }
            Some(("container" | "docker" | "podman", n)) => self.container(n),
            Some(("lxc", n)) => self.lxc(n),
            Some((kind, _)) => Err(Error::invalid(
                "guest",
                spec,
                format!("unknown kind {kind:?} (use netns:NAME, pid:N, container:NAME, lxc:NAME or host)"),
            )),
            None if spec == "host" => Ok(self.host()),
            None => self.netns(spec),
        }
    }

    /// A Docker/podman container by name or id.
    pub fn container(&self, name: &str) -> Result<Guest> {
        match crate::containers::docker(&self.nl, name)? {
            crate::containers::Lookup::Found(g) => Ok(g),
            crate::containers::Lookup::Unknown(why) => Err(Error::guest(
                format!("container:{name}"),
                format!("not found: {why}"),
            )),
        }
    }

    /// An LXC container by name.
    pub fn lxc(&self, name: &str) -> Result<Guest> {
        match crate::containers::lxc(name)? {
            crate::containers::Lookup::Found(g) => Ok(g),
            crate::containers::Lookup::Unknown(why) => Err(Error::guest(
                format!("lxc:{name}"),
                format!("not found: {why}"),
            )),
        }
    }

    /// Resolve a guest that must already exist (the classic command line: a typo must not create a
    /// namespace). Explicit kinds (`netns:`, `pid:`, `container:`/`docker:`, `lxc:`) or, for a bare
    /// name, like the original: an LXC cgroup, then Docker/podman, then a named netns.
    pub fn guest_existing(&self, spec: &str) -> Result<Guest> {
        let g = self.find_existing(spec);
        if let Ok(g) = &g {
            self.nl.trace(format_args!("guest {spec} is {g}"));
        }
        g
    }

    fn find_existing(&self, spec: &str) -> Result<Guest> {
        match spec.split_once(':') {
            Some(("netns", n)) => {
                Guest::open_netns(n)?.ok_or_else(|| Error::not_found("network namespace", n, None))
            }
            // These kinds resolve only what exists anyway.
            Some(("pid" | "container" | "docker" | "podman" | "lxc", _)) => self.guest(spec),
            _ if spec == "host" => Ok(self.host()),
            _ => {
                use crate::containers::Lookup;
                // Both asked at once (the cgroup walk on a thread while Docker answers), the
                // answers taken in the original's order: LXC first, then Docker.
                let (lxc, docker) = std::thread::scope(|sc| {
                    let lxc = sc.spawn(|| crate::containers::lxc(spec));
                    let docker = crate::containers::docker(&self.nl, spec);
                    let lxc = lxc.join().unwrap_or_else(|_| {
                        Err(Error::guest(spec, "the LXC lookup thread panicked"))
                    });
                    (lxc, docker)
                });
                let lxc = match lxc? {
                    Lookup::Found(g) => return Ok(g),
                    Lookup::Unknown(why) => why,
                };
                let docker = match docker? {
                    Lookup::Found(g) => return Ok(g),
                    Lookup::Unknown(why) => why,
                };
                match Guest::open_netns(spec) {
                    Ok(Some(g)) => Ok(g),
                    _ => Err(Error::guest(
                        spec,
                        format!("not found: {docker}; {lxc}; no named network namespace either"),
                    )),
                }
            }
        }
    }

    pub fn delete_netns(&self, g: &Guest) -> Result<()> {
        let name = g
            .name()
            .ok_or_else(|| Error::guest(g, "only named namespaces can be deleted"))?;
        self.nl.forget(g);
        Guest::delete_netns(name)?;
        self.journal
            .borrow_mut()
            .retain(|c| !matches!(c, Created::Netns(n, _) if n == name));
        Ok(())
    }

    /// Ensure a Linux bridge exists in the host namespace, up, with the wanted MTU.
    pub fn bridge(&self, name: &str, opts: &BridgeOpts) -> Result<Bridge> {
        parse::ifname(name)?;
        let ns = self.nl.ns(&self.host)?;
        match ns.link(name)? {
            Some(l) if l.is_kind("bridge") => {
                let change = crate::net::LinkChange {
                    up: (!l.up).then_some(true),
                    mtu: opts.mtu.filter(|m| *m != l.mtu),
                    ..Default::default()
                };
                if change.up.is_some() || change.mtu.is_some() {
                    ns.set_link(l.index, name, &change)?;
                }
                if let Some(f) = opts.vlan_filtering.filter(|f| Some(*f) != l.vlan_filtering) {
                    ns.set_vlan_filtering(l.index, name, f)?;
                }
                Ok(Bridge {
                    name: name.into(),
                    created: false,
                })
            }
            Some(l) => Err(Error::Conflict(format!(
                "{name} exists in the host but is a {} interface, not a bridge",
                l.kind.as_deref().unwrap_or("plain")
            ))),
            None => {
                let alias = marker::encode(&self.owner(), &[]);
                ns.add_bridge(name, opts.mtu, opts.vlan_filtering.unwrap_or(false))?;
                if let Err(e) = ns.set_alias(name, &alias) {
                    let _ = ns.del_link_by_name(name);
                    return Err(e);
                }
                self.record(Created::Link {
                    guest: self.host(),
                    name: name.to_string(),
                });
                Ok(Bridge {
                    name: name.into(),
                    created: true,
                })
            }
        }
    }

    /// What the host interface `name` is, and so which driver attaches through it.
    pub fn host_kind(&self, name: &str, direct_phys: bool) -> Result<crate::driver::HostKind> {
        let existing = self.nl.ns(&self.host)?.link(name)?;
        crate::driver::HostKind::of(existing.as_ref(), name, direct_phys)
    }

    /// Ensure an Open vSwitch bridge (userspace datapath where the kernel has no OVS module).
    pub fn ovs_bridge(&self, name: &str) -> Result<Bridge> {
        parse::ifname(name)?;
        let created = crate::driver::ovs::vsctl::ensure_bridge(name, &self.owner())?;
        if created {
            self.record(Created::Ovs(name.to_string()));
            // Its interface comes up like a Linux bridge's.
            let ns = self.nl.ns(&self.host)?;
            if let Some(l) = ns.link(name)? {
                if !l.up {
                    ns.set_link(l.index, name, &crate::net::link_up())?;
                }
            }
        }
        Ok(Bridge {
            name: name.to_string(),
            created,
        })
    }

    /// Attach a guest through a host-side driver (bridge today; OVS, macvlan … slot in the same way).
    pub fn attach(
        &self,
        guest: &Guest,
        driver: &dyn Driver,
        opts: &AttachOpts,
    ) -> Result<Attachment> {
        let a = driver
            .validate(opts)
            .and_then(|_| driver.attach(self, guest, opts))
            .ctx(format!("attaching {guest} to {}", driver.describe()))?;
        if a.created {
            for c in &a.undo {
                self.record(c.clone());
            }
        }
        Ok(a)
    }

    fn record(&self, c: Created) {
        self.journal.borrow_mut().push(c);
    }

    /// Undo everything this session created, newest first (a failed `run` or `-e` leaves nothing).
    /// Objects that already existed before the run are never touched. Returns what was removed.
    pub fn rollback(&self) -> Vec<String> {
        let mut undone = vec![];
        let items: Vec<Created> = self.journal.borrow_mut().drain(..).rev().collect();
        for c in items {
            if let Some(done) = c.undo(self) {
                undone.push(done);
            }
        }
        undone
    }

    /// Delete a namespace this session created — if it still is that namespace.
    fn undo_netns(&self, name: &str, id: crate::guest::NsId) -> Option<String> {
        let g = Guest::open_netns(name)
            .ok()
            .flatten()
            .filter(|g| g.id == id)?;
        self.nl.forget(&g);
        drop(g);
        match Guest::delete_netns(name) {
            Ok(()) => Some(format!("netns {name}")),
            Err(e) => {
                eprintln!("pipework: rollback: {e}");
                None
            }
        }
    }

    /// Ensure a dummy interface inside a guest, up, with the given addresses/MTU/MAC.
    pub fn dummy(&self, guest: &Guest, opts: &AttachOpts) -> Result<LinkState> {
        self.ensure_local_link(guest, opts, "dummy", None, |ns| ns.add_dummy(&opts.ifname))
    }

    /// Ensure an 802.1Q sub-interface of `parent` (inside the same guest) with VLAN id `id`.
    pub fn vlan(
        &self,
        guest: &Guest,
        parent: &str,
        id: u16,
        opts: &AttachOpts,
    ) -> Result<LinkState> {
        crate::parse::vlan_id(id as i64)?;
        let p = self.link(guest, parent)?;
        self.ensure_local_link(guest, opts, "vlan", Some(id), |ns| {
            ns.add_vlan(&opts.ifname, p.index, id)
        })
    }

    /// Shared "ensure" for interfaces created inside one namespace: create if missing (marked with
    /// the owner, rolled back if configuring it fails), accept if it exists in the wanted kind,
    /// then converge its state.
    fn ensure_local_link(
        &self,
        guest: &Guest,
        opts: &AttachOpts,
        kind: &str,
        vlan_id: Option<u16>,
        create: impl FnOnce(&crate::net::Ns) -> Result<()>,
    ) -> Result<LinkState> {
        opts.validate_common()?;
        let ns = self.nl.ns(guest)?;
        let name = &opts.ifname;
        let ctx = || format!("{kind} {name} in {guest}");
        let (l, fresh) = match ns.link(name)? {
            Some(l) if l.is_kind(kind) && (vlan_id.is_none() || l.vlan_id == vlan_id) => (l, false),
            Some(l) => {
                return Err(Error::Conflict(format!(
                    "{name} already exists in {guest} as a {} interface{}; pick another name",
                    l.kind.as_deref().unwrap_or("plain"),
                    l.vlan_id
                        .map(|v| format!(" with VLAN id {v}"))
                        .unwrap_or_default()
                )))
            }
            None => {
                create(&ns).ctx(ctx())?;
                let res = ns
                    .set_alias(
                        name,
                        &marker::encode(&self.owner(), &[("guest", &guest.to_string())]),
                    )
                    .and_then(|_| {
                        ns.link(name)?.ok_or_else(|| {
                            Error::not_found("interface", name, Some(guest.to_string()))
                        })
                    });
                match res {
                    Ok(l) => (l, true),
                    Err(e) => {
                        let _ = ns.del_link_by_name(name);
                        return Err(e.context(ctx()));
                    }
                }
            }
        };
        if let Err(e) = crate::driver::configure_guest_end(&ns, &l, opts, fresh) {
            if fresh {
                let _ = ns.del_link_by_name(name);
            }
            return Err(e.context(ctx()));
        }
        if fresh {
            self.record(Created::Link {
                guest: guest.clone(),
                name: name.clone(),
            });
        }
        ns.link(name)?
            .ok_or_else(|| Error::not_found("interface", name, Some(guest.to_string())))
    }

    /// Add or delete a policy routing rule in a guest. Returns false when the rule was already there.
    pub fn rule(&self, guest: &Guest, spec: &crate::net::RuleSpec) -> Result<bool> {
        self.nl.ns(guest)?.apply_rule(spec)
    }

    /// Announce every IPv4 address of an interface with a gratuitous ARP. Returns how many.
    pub fn arp(&self, guest: &Guest, ifname: &str) -> Result<usize> {
        let l = self.link(guest, ifname)?;
        let mac = l.mac_bytes().ok_or_else(|| {
            Error::invalid("interface", ifname, "has no Ethernet MAC to announce from")
        })?;
        let v4: Vec<_> = self
            .addrs(guest, ifname)?
            .into_iter()
            .filter_map(|a| match a {
                IpNetwork::V4(v4) => Some(v4.ip()),
                IpNetwork::V6(_) => None,
            })
            .collect();
        crate::net::arp::gratuitous(guest, l.index, mac, &v4)?;
        Ok(v4.len())
    }

    /// How long a script's `wait` blocks when it names no timeout: a wait is never unbounded by
    /// accident. (The classic `--wait`, a container entrypoint waiting for the host, is the one
    /// deliberate exception: like the original it waits until told otherwise.)
    pub const WAIT_DEFAULT: std::time::Duration = std::time::Duration::from_secs(10);

    /// Block until `ifname` exists in `guest` (and, with `carrier`, has carrier), at most `timeout`
    /// (`None`: until it does — the classic `--wait` only).
    pub fn wait_link(
        &self,
        guest: &Guest,
        ifname: &str,
        carrier: bool,
        timeout: Option<std::time::Duration>,
    ) -> Result<LinkState> {
        self.nl.wait_link(guest, ifname, carrier, timeout)
    }

    /// `-v`: a line on stderr, stamped with the time since the session began.
    pub fn trace(&self, what: std::fmt::Arguments) {
        self.nl.trace(what)
    }

    /// Put a root qdisc on a link: netem impairment, tbf rate limit, or back to the kernel default.
    pub fn tc(&self, guest: &Guest, ifname: &str, q: &crate::net::Qdisc) -> Result<()> {
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.set_root_qdisc(l.index, ifname, q)
    }

    pub fn link(&self, guest: &Guest, name: &str) -> Result<LinkState> {
        self.nl
            .ns(guest)?
            .link(name)?
            .ok_or_else(|| Error::not_found("interface", name, Some(guest.to_string())))
    }

    pub fn links(&self, guest: &Guest) -> Result<Vec<LinkState>> {
        self.nl.ns(guest)?.links()
    }

    pub fn addrs(&self, guest: &Guest, ifname: &str) -> Result<Vec<IpNetwork>> {
        let l = self.link(guest, ifname)?;
        Ok(self
            .nl
            .ns(guest)?
            .addrs(Some(l.index))?
            .into_iter()
            .map(|(_, a)| a)
            .collect())
    }

    /// Add an address (no-op if present). Returns whether it was added.
    pub fn addr_add(&self, guest: &Guest, ifname: &str, net: IpNetwork) -> Result<bool> {
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.ensure_addr(l.index, ifname, net)
    }

    pub fn addr_del(&self, guest: &Guest, ifname: &str, net: IpNetwork) -> Result<()> {
        let l = self.link(guest, ifname)?;
        self.nl.ns(guest)?.del_addr(l.index, ifname, net)
    }

    pub fn set_link(
        &self,
        guest: &Guest,
        name: &str,
        change: &crate::net::LinkChange,
    ) -> Result<()> {
        let l = self.link(guest, name)?;
        self.nl.ns(guest)?.set_link(l.index, name, change)
    }

    pub fn del_link(&self, guest: &Guest, name: &str) -> Result<()> {
        let l = self.link(guest, name)?;
        self.nl.ns(guest)?.del_link(l.index, name)
    }

    /// Apply a route in a guest. Returns false when the route was already there.
    pub fn route(&self, guest: &Guest, spec: &RouteSpec) -> Result<bool> {
        let ns = self.nl.ns(guest)?;
        let oif = match &spec.dev {
            Some(d) => Some(self.link(guest, d)?.index),
            None => None,
        };
        ns.apply_route(spec, oif)
    }

    pub fn routes(&self, guest: &Guest) -> Result<Vec<String>> {
        let ns = self.nl.ns(guest)?;
        let links = ns.links()?;
        let name = |i: u32| links.iter().find(|l| l.index == i).map(|l| l.name.clone());
        let mut out = vec![];
        for v6 in [false, true] {
            for r in ns.routes(v6)? {
                let mut s = if r.dst.prefix() == 0 {
                    "default".to_string()
                } else {
                    r.dst.to_string()
                };
                if let Some(g) = r.via {
                    s.push_str(&format!(" via {g}"));
                }
                if let Some(d) = r.dev.and_then(name) {
                    s.push_str(&format!(" dev {d}"));
                }
                if let Some(m) = r.metric {
                    s.push_str(&format!(" metric {m}"));
                }
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Bring an interface up and lease an IPv4 address for it with pipework's own DHCP client, then
    /// apply the lease like a static attach (address, MTU, default route via the lease's router) and
    /// put its DNS servers into the guest's resolv.conf — never the host's.
    pub fn dhcp(&self, guest: &Guest, ifname: &str, opts: &DhcpOpts) -> Result<DhcpResult> {
        let ns = self.nl.ns(guest)?;
        let l = self.link(guest, ifname)?;
        let mac = l
            .mac_bytes()
            .ok_or_else(|| Error::invalid("interface", ifname, "has no Ethernet MAC for DHCP"))?;
        let l = self.up_for_dhcp(guest, l)?;
        let lease = dhcp::acquire(guest, ifname, l.index, mac, opts)?;
        let want = AttachOpts {
            ifname: ifname.into(),
            ips: vec![IpNetwork::V4(lease.addr)],
            gateway: lease.router.filter(|_| opts.gateway).map(Into::into),
            mtu: lease.mtu.map(u32::from),
            ..Default::default()
        };
        crate::driver::configure_guest_end(&ns, &l, &want, false)
            .ctx(format!("applying the DHCP lease {lease}"))?;
        // The link was up before the address existed, so the kernel announced nothing: do it now.
        let _ = crate::net::arp::gratuitous(guest, l.index, mac, &[lease.addr.ip()]);
        let resolv = if opts.dns && !lease.dns.is_empty() {
            dhcp::resolv::write(guest, &dhcp::resolv::render(&lease, ifname), &self.owner())?
        } else {
            Err("the lease names no DNS server".into())
        };
        let keeper = if opts.keep && lease.lease_secs != u32::MAX {
            let pf = dhcp::keeper::spawn(guest, ifname, &lease, opts, &self.owner())?;
            self.record(Created::Process(pf.clone()));
            Some(pf)
        } else {
            None
        };
        Ok(DhcpResult {
            lease,
            resolv,
            keeper,
        })
    }

    /// A DHCP client talks through the link before it has an address: bring it up first.
    fn up_for_dhcp(&self, guest: &Guest, mut l: LinkState) -> Result<LinkState> {
        if !l.up {
            self.nl
                .ns(guest)?
                .set_link(l.index, &l.name, &crate::net::link_up())?;
            l.up = true;
        }
        Ok(l)
    }

    /// Run an installed DHCP client (udhcpc, dhclient, dhcpcd) for an interface, the classic way,
    /// with the host's resolv.conf out of its reach. Returns a one-line summary.
    pub fn dhcp_client(
        &self,
        guest: &Guest,
        ifname: &str,
        e: &dhcp::external::External,
    ) -> Result<String> {
        let l = self.up_for_dhcp(guest, self.link(guest, ifname)?)?;
        let hostname = dhcp::default_hostname(guest).unwrap_or_else(|| "pipework".into());
        let mut summary = dhcp::external::run(guest, ifname, &hostname, &self.owner(), e)?;
        if !e.keep {
            // Nobody renews a one-shot lease: keep the address (as udhcpc -q does) instead of
            // letting the kernel drop it silently when the lease time runs out.
            if self.nl.ns(guest)?.make_permanent(l.index, ifname)? > 0 {
                summary.push_str("; address kept past the lease time (nothing renews it)");
            }
        }
        Ok(summary)
    }

    /// Run a program inside the guest's network namespace (argument vector, never a shell).
    pub fn exec(&self, guest: &Guest, argv: &[String]) -> Result<ExecOutput> {
        if self.nl.verbose {
            eprintln!("exec [{guest}] {argv:?}");
        }
        let out = guest
            .command(argv)?
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::guest(guest, format!("running {:?}: {e}", argv[0])))?;
        Ok(ExecOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Remove everything marked as created for `owner`: host-side links (veth ends, bridges), then
    /// the named namespaces we created for it.
    pub fn down(&self, owner: &str) -> Result<Removed> {
        marker::validate_owner(owner)?;
        let mut removed = Removed::default();
        // Each room removes what it made, in the order that keeps every step valid: DHCP clients
        // first (they would fight the teardown), host-side links and Linux bridges, OVS ports and
        // bridges, then links we made in other people's namespaces, then our namespaces.
        dhcp::teardown_owned(owner, &mut removed);
        crate::driver::teardown_host_links(self, owner, &mut removed)?;
        crate::driver::ovs::teardown_owned(owner, &mut removed)?;
        // Our namespaces, each checked against the identity it had when we created it: a name
        // now taken by someone else's namespace is left alone, a record of a namespace deleted
        // outside pipework is dropped — and neither is reported as removed.
        let mut ours = vec![];
        for rec in guest::owned_netns()
            .into_iter()
            .filter(|r| r.owner == owner)
        {
            match rec.state()? {
                guest::RecordState::Ours(g) => ours.push((rec, g)),
                guest::RecordState::Gone => {
                    removed.notes.push(format!(
                        "netns {} was already deleted outside pipework; dropped its record",
                        rec.name
                    ));
                    rec.drop_record();
                }
                guest::RecordState::NotOurs => {
                    removed.notes.push(format!(
                        "netns {} is not the namespace pipework created for {owner} ({}); left it alone and dropped the record",
                        rec.name,
                        if rec.id.is_some() {
                            "same name, another namespace"
                        } else {
                            "the record, from an older pipework, cannot prove which namespace it was"
                        }
                    ));
                    rec.drop_record();
                }
            }
        }
        // Links we made inside namespaces we do not own (vlan, dummy in someone else's netns).
        for name in guest::netns_names() {
            if ours.iter().any(|(r, _)| r.name == name) {
                continue;
            }
            let Ok(Some(g)) = Guest::open_netns(&name) else {
                continue;
            };
            let Ok(gns) = self.nl.ns(&g) else { continue };
            for l in gns.links().unwrap_or_default() {
                if l.alias.as_deref().and_then(marker::owner_of) == Some(owner)
                    && gns.del_link(l.index, &l.name).is_ok()
                {
                    removed.links.push(format!("{}:{}", g, l.name));
                }
            }
        }
        for (rec, g) in ours {
            self.nl.forget(&g);
            drop(g);
            Guest::delete_netns(&rec.name)?;
            removed.netns.push(rec.name);
        }
        Ok(removed)
    }
}
