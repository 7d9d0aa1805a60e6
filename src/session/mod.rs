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

mod guests;
mod inventory;
mod journal;
mod leases;
mod links;
mod routing;
mod teardown;

pub use guests::ExecOutput;
pub use inventory::{
    BridgeInfo, DhcpInfo, Interface, Inventory, JoinedInfo, NetnsInfo, Note, RouteInfo,
};
pub use leases::DhcpResult;
pub use links::{Bridge, BridgeOpts};

pub struct Session {
    /// The core's own: front ends reach the kernel only through Session's methods.
    pub(crate) nl: Netlink,
    owner: RefCell<String>,
    host: Guest,
    /// What this process created, in order, so a failed run can be rolled back as a whole.
    journal: RefCell<Vec<Created>>,
    /// What this process is about to make, on disk, for whoever finishes after a kill.
    intents: journal::Journal,
    /// Containers this session changed: their watch records are written again by `settle`.
    touched: RefCell<Vec<Guest>>,
    /// OVS bridges OVSDB confirmed to this session (`ovs_is_bridge`).
    ovs_known: RefCell<std::collections::HashSet<String>>,
}

#[derive(Clone, Debug)]
pub enum Created {
    /// A named namespace, with the identity it had at creation (a rollback must not delete a
    /// namespace someone made by the same name in the meantime).
    Netns(String, crate::guest::NsId),
    /// A bridge we made (Linux or OVS), held by `owner`: undone as that owner leaving it.
    Bridge {
        name: String,
        ovs: bool,
        owner: String,
    },
    /// `owner` registered as a user of a bridge that existed already.
    Uses {
        bridge: String,
        owner: String,
    },
    /// A port in an OVS bridge (its interface is a `Link` of its own).
    OvsPort(String),
    Link {
        guest: Guest,
        name: String,
    },
    /// A host interface of somebody else's joined to a Linux bridge (see `driver::join`).
    Joined(String),
    /// A host interface handed over to a guest itself (`driver::direct`), by its host name.
    Handed(String),
    /// A process left running (a DHCP lease keeper or client), by its pid file.
    Process(std::path::PathBuf),
    /// A namespace's own resolv.conf set aside before a lease wrote over it (its directory).
    Resolv {
        dir: std::path::PathBuf,
        owner: String,
    },
}

impl Created {
    /// Undo this one thing, by the room that made it. Returns what was removed, if anything was.
    fn undo(&self, s: &Session) -> Option<String> {
        match self {
            Created::Link { guest, name } => crate::driver::undo_link(s, guest, name),
            Created::OvsPort(name) => crate::driver::ovs::undo_port(name),
            Created::Joined(name) => {
                let hns = s.nl.ns(&s.host).ok()?;
                crate::driver::join::release(&hns, name, None)
            }
            Created::Bridge { name, ovs, owner } => {
                crate::driver::undo_bridge(s, name, *ovs, owner)
            }
            Created::Uses { bridge, owner } => {
                crate::driver::undo_use(bridge, owner);
                None
            }
            Created::Handed(name) => crate::driver::direct::undo(s, name),
            Created::Process(pidfile) => dhcp::undo_process(pidfile),
            Created::Resolv { dir, owner } => dhcp::resolv::restore(dir, Some(owner)),
            Created::Netns(name, id) => s.undo_netns(name, *id),
        }
    }
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
    /// What could not be removed, one error each; the teardown went on past every one of them.
    pub errors: Vec<String>,
}

impl Removed {
    fn failed(&mut self, r: Result<()>) {
        if let Err(e) = r {
            self.errors.push(e.to_string());
        }
    }
}

impl Session {
    pub fn new(verbose: bool) -> Result<Session> {
        Ok(Session {
            nl: Netlink::new(verbose)?,
            owner: RefCell::new("cli".into()),
            host: Guest::host()?,
            journal: RefCell::new(vec![]),
            intents: journal::Journal::default(),
            touched: RefCell::new(vec![]),
            ovs_known: RefCell::default(),
        })
    }

    /// Whether `name` is an OVS bridge, asking OVSDB (one query on its socket) only about a
    /// bridge this session has not been told of yet: an attach to a bridge `ovs()` just ensured
    /// asks nothing. Should the bridge vanish in between, adding the port fails and says so.
    pub(crate) fn ovs_is_bridge(&self, name: &str) -> bool {
        if self.ovs_known.borrow().contains(name) {
            return true;
        }
        let yes = crate::driver::ovs::vsctl::is_bridge(name);
        if yes {
            self.ovs_known.borrow_mut().insert(name.to_string());
        }
        yes
    }

    /// Whether Open vSwitch answers (its database server runs).
    pub fn ovs_running(&self) -> bool {
        crate::driver::ovs::vsctl::running()
    }

    /// The ports of an OVS bridge, as OVSDB lists them.
    pub fn ovs_ports(&self, bridge: &str) -> Result<Vec<String>> {
        crate::driver::ovs::vsctl::ports(bridge)
    }

    /// Note what this session learnt of an OVS bridge: it is there, or (false) it is gone.
    pub(crate) fn ovs_seen(&self, name: &str, there: bool) {
        let mut known = self.ovs_known.borrow_mut();
        if there {
            known.insert(name.to_string());
        } else {
            known.remove(name);
        }
    }

    /// Note that `g` is being changed, for its watch records (containers only: the others do
    /// not restart under another process).
    pub(crate) fn touch(&self, g: &Guest) {
        if matches!(g.kind, guest::GuestKind::Container { .. }) {
            let mut t = self.touched.borrow_mut();
            if !t.iter().any(|x| x.id == g.id) {
                t.push(g.clone());
            }
        }
    }

    /// The end of a run (or of a REPL line): write the watch records of the containers it
    /// changed, from what is wired in them now (see `watch::records`). Returns one warning per
    /// record that could not be written: the wiring itself is done and stays.
    pub fn settle(&self) -> Vec<String> {
        let touched: Vec<Guest> = self.touched.borrow_mut().drain(..).collect();
        // Nobody replays records on a machine that never ran watch: no run pays for them there.
        if !crate::watch::records::enabled() {
            return vec![];
        }
        touched
            .iter()
            .filter_map(|g| {
                crate::watch::records::write(self, g)
                    .err()
                    .map(|e| format!("watch record of {g} not written: {e}"))
            })
            .collect()
    }

    /// A guest went away (`watch` saw its container die): take away what pipework made for it on
    /// the host side, each driver its own; bridges and records stay for its return.
    pub fn release_guest(&self, label: &str) -> Result<Removed> {
        let mut removed = Removed::default();
        crate::driver::release_guest(self, label, &mut removed)?;
        Ok(removed)
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

    /// Attach a guest through a host-side driver; what it created goes into the journal.
    pub fn attach(
        &self,
        guest: &Guest,
        driver: &dyn Driver,
        opts: &AttachOpts,
    ) -> Result<Attachment> {
        self.touch(guest);
        let mut a = driver
            .validate(opts)
            .and_then(|_| driver.attach(self, guest, opts))
            .ctx(format!("attaching {guest} to {}", driver.describe()))?;
        if a.created {
            for c in &a.undo {
                self.record(c.clone());
            }
        }
        a.made_by = Some(driver.made_by());
        // Reported done only into a guest that is still there: the journal already holds what
        // this attach made, so the run's rollback takes it away with everything else.
        if !guest.alive() {
            return Err(Error::guest(
                guest,
                format!(
                    "went away during the attach to {} (its process exited)",
                    driver.describe()
                ),
            ));
        }
        Ok(a)
    }

    /// Take one attachment apart again, by the driver that made it (its guest interface and what
    /// joined it to the host side; shared bridges stay). Returns what was removed.
    pub fn detach(&self, att: &Attachment) -> Result<Vec<String>> {
        self.touch(&att.guest);
        let via = att.made_by.as_ref().ok_or_else(|| {
            Error::invalid(
                "attachment",
                &att.ifname,
                "was not made through Session::attach, so no driver is known for it",
            )
        })?;
        let driver = via.driver();
        driver.detach(self, att).ctx(format!(
            "detaching {}:{} from {}",
            att.guest, att.ifname, att.via
        ))
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

    /// `-v`: a line on stderr, stamped with the time since the session began.
    pub fn trace(&self, what: std::fmt::Arguments) {
        self.nl.trace(what)
    }
}
