//! Netlink plumbing: one rtnetlink connection per network namespace, opened *inside* that namespace by
//! the namespace worker (`hop`) and then used from the main thread (a netlink socket stays bound to the namespace it
//! was created in). Connections are cached by namespace identity.

pub mod arp;
mod htb;
pub(crate) mod l3;
mod link;
pub(crate) mod packet;
mod route;
mod rule;
mod sysctl;
mod tc;
mod wait;

pub use htb::{Class as HtbClass, Htb, Select as HtbSelect};
pub use l3::L3;
pub use link::{link_up, LinkChange, LinkState, MacVlanMode, Tunnel, TunnelSpec, VethSpec};
pub use route::{RouteOp, RouteSpec, RouteState, PROTO as ROUTE_PROTO};
pub use rule::RuleSpec;
pub use tc::{parse_tc, Netem, Qdisc, RootQdisc, Tbf};
pub use wait::{LinkMonitor, Waited};

use crate::error::{Error, Result};
use crate::guest::{Guest, NsId};
use futures::TryStreamExt;
use ipnetwork::IpNetwork;
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::Handle;
use std::cell::RefCell;
use std::collections::HashMap;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use tokio::runtime::Runtime;

/// How many namespaces keep an open connection at once. A script that wires a thousand guests
/// touches each for a moment; holding every connection to the end would cost each its socket and
/// buffers for nothing. The least recently used goes first; coming back to it opens a new one.
const MAX_CONNS: usize = 64;

/// The open connections, each with when it was last used.
#[derive(Default)]
struct Conns {
    by_ns: HashMap<NsId, (Handle, u64)>,
    tick: u64,
}

impl Conns {
    fn get(&mut self, id: &NsId) -> Option<Handle> {
        self.tick += 1;
        let now = self.tick;
        self.by_ns.get_mut(id).map(|(h, used)| {
            *used = now;
            h.clone()
        })
    }

    fn insert(&mut self, id: NsId, h: Handle) {
        self.tick += 1;
        self.by_ns.insert(id, (h, self.tick));
        if self.by_ns.len() > MAX_CONNS {
            // Dropping the handle ends its connection task, which closes the socket.
            let oldest = self
                .by_ns
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.by_ns.remove(&k);
            }
        }
    }
}

pub struct Netlink {
    rt: Runtime,
    conns: RefCell<Conns>,
    /// Sockets being opened inside a guest by the namespace worker (see `prefetch`).
    opening: RefCell<HashMap<NsId, crate::hop::Pending<OwnedFd>>>,
    pub verbose: bool,
    /// For `-v`: each logged operation carries the time since the session began.
    started: std::time::Instant,
}

/// A netlink connection bound to one namespace, with a label for messages ("host", "netns:web").
pub struct Ns<'a> {
    nl: &'a Netlink,
    h: Handle,
    /// The namespace itself, for the few settings netlink cannot reach (per-interface sysctls).
    guest: Guest,
    pub label: String,
}

impl Netlink {
    pub fn new(verbose: bool) -> Result<Netlink> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::io("starting the netlink runtime", e))?;
        Ok(Netlink {
            rt,
            conns: RefCell::new(Conns::default()),
            opening: RefCell::new(HashMap::new()),
            verbose,
            started: std::time::Instant::now(),
        })
    }

    /// `-v`: one line on stderr, stamped with the time since the session began.
    pub fn trace(&self, what: std::fmt::Arguments) {
        if self.verbose {
            eprintln!(
                "{:8.3} ms {what}",
                self.started.elapsed().as_secs_f64() * 1e3
            );
        }
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    pub fn ns(&self, guest: &Guest) -> Result<Ns<'_>> {
        let cached = self.conns.borrow_mut().get(&guest.id);
        let h = if let Some(h) = cached {
            h
        } else {
            let h = self.connect(guest)?;
            self.conns.borrow_mut().insert(guest.id, h.clone());
            h
        };
        Ok(Ns {
            nl: self,
            h,
            guest: guest.clone(),
            label: guest.to_string(),
        })
    }

    /// Start opening the socket of a guest's namespace on the namespace worker, so the caller can
    /// talk to the host meanwhile: an attach creates the veth pair while the guest's socket comes
    /// up, instead of one after the other.
    pub fn prefetch(&self, guest: &Guest) {
        if guest.is_host()
            || self.conns.borrow().by_ns.contains_key(&guest.id)
            || self.opening.borrow().contains_key(&guest.id)
        {
            return;
        }
        let ns = guest.fd_arc();
        let pending = crate::hop::start(crate::hop::Where::Existing(ns), || route_socket(0));
        self.opening.borrow_mut().insert(guest.id, pending);
    }

    /// Forget a cached connection (the namespace is going away).
    pub fn forget(&self, guest: &Guest) {
        self.conns.borrow_mut().by_ns.remove(&guest.id);
        self.opening.borrow_mut().remove(&guest.id);
    }

    fn connect(&self, guest: &Guest) -> Result<Handle> {
        let opening = self.opening.borrow_mut().remove(&guest.id);
        let fd: OwnedFd = match opening {
            Some(p) => p
                .wait()
                .map_err(|e| Error::io(format!("opening a netlink socket in {guest}"), e))?,
            None => guest.inside("opening a netlink socket", || route_socket(0))?,
        };
        self.attach_socket(fd)
    }

    /// Talk to `guest` through `fd`, a NETLINK_ROUTE socket opened inside it (while it was being
    /// made): cached like a connection `ns()` opens.
    pub fn adopt(&self, guest: &Guest, fd: OwnedFd) -> Result<Ns<'_>> {
        self.opening.borrow_mut().remove(&guest.id);
        let h = self.attach_socket(fd)?;
        self.conns.borrow_mut().insert(guest.id, h);
        self.ns(guest)
    }

    fn attach_socket(&self, fd: OwnedFd) -> Result<Handle> {
        let _enter = self.rt.enter();
        // SAFETY: we own this fd and hand it over; TokioSocket takes ownership.
        let sock = unsafe { netlink_sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) };
        let (conn, handle, _) = rtnetlink::from_socket(sock);
        self.rt.spawn(conn);
        Ok(handle)
    }
}

/// A NETLINK_ROUTE socket in the calling thread's namespace, subscribed to `groups` (0: none).
pub(crate) fn route_socket(groups: u32) -> std::io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let mut s = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)?;
    s.bind(&netlink_sys::SocketAddr::new(0, groups))?;
    s.set_ext_ack(true).ok();
    let fd = s.as_raw_fd();
    // The Socket would close the fd on drop; ownership moves to the OwnedFd instead.
    std::mem::forget(s);
    // SAFETY: fd is open and now owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Ns<'_> {
    fn log(&self, op: &str) {
        self.nl.trace(format_args!("netlink [{}] {op}", self.label));
    }

    /// The link `name`, which must exist: NotFound names it and this namespace otherwise.
    pub fn require(&self, name: &str) -> Result<LinkState> {
        self.link(name)?
            .ok_or_else(|| Error::not_found("interface", name, Some(self.label.clone())))
    }

    fn fail(&self, op: &str, e: rtnetlink::Error) -> Error {
        Error::netlink(op, &self.label, e)
    }

    /// Addresses on one interface (or all, with `None`), as (ifindex, address/prefix).
    pub fn addrs(&self, index: Option<u32>) -> Result<Vec<(u32, IpNetwork)>> {
        self.log(&format!(
            "dump addresses{}",
            index
                .map(|i| format!(" of ifindex {i}"))
                .unwrap_or_default()
        ));
        Ok(self
            .dump_addrs(index)?
            .iter()
            .filter_map(|m| {
                // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
                let ip = m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        AddressAttribute::Local(ip) => Some(*ip),
                        _ => None,
                    })
                    .or_else(|| {
                        m.attributes.iter().find_map(|a| match a {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    })?;
                Some((
                    m.header.index,
                    IpNetwork::new(ip, m.header.prefix_len).ok()?,
                ))
            })
            .collect())
    }

    /// The raw address messages, of one interface or of all.
    fn dump_addrs(&self, index: Option<u32>) -> Result<Vec<AddressMessage>> {
        let mut req = self.h.address().get();
        if let Some(i) = index {
            req = req.set_link_index_filter(i);
        }
        self.nl
            .block_on(req.execute().try_collect())
            .map_err(|e| self.fail("dump addresses", e))
    }

    pub fn add_addr(&self, index: u32, ifname: &str, net: IpNetwork) -> Result<()> {
        let op = format!("add address {net} to {ifname}");
        self.log(&op);
        let mut req = self.h.address().add(index, net.ip(), net.prefix());
        if net.is_ipv6() {
            // Guests on a private segment we just built: duplicate address detection only delays the
            // address by ~2 s and makes the first ping fail, so skip it like container runtimes do.
            req.message_mut().attributes.push(AddressAttribute::Flags(
                netlink_packet_route::address::AddressFlags::Nodad,
            ));
        }
        let msg = req.message_mut().clone();
        let err = match self.nl.block_on(req.execute()) {
            Ok(()) => return Ok(()),
            Err(e) => self.fail(&op, e),
        };
        if !(net.is_ipv6() && err.errno() == Some(libc::EACCES)) {
            return Err(err);
        }
        // IPv6 is off on this interface (Docker, for one, starts containers with disable_ipv6=1).
        // The caller asked for an IPv6 address on it: switch IPv6 on for this interface alone and
        // say so; the guest's other interfaces keep their setting. Costs nothing when IPv6 is on.
        if !self.enable_ipv6(ifname)? {
            return Err(err.context(
                "IPv6 is disabled in this guest and could not be enabled on the interface",
            ));
        }
        eprintln!(
            "note: IPv6 was disabled on {ifname} in {}; enabled it on {ifname} only (the guest's other interfaces are unchanged)",
            self.label
        );
        let mut retry = self.h.address().add(index, net.ip(), net.prefix());
        *retry.message_mut() = msg;
        self.nl
            .block_on(retry.execute())
            .map_err(|e| self.fail(&op, e))
    }

    pub fn del_addr(&self, index: u32, ifname: &str, net: IpNetwork) -> Result<()> {
        let op = format!("delete address {net} from {ifname}");
        self.log(&op);
        let mut msg = AddressMessage::default();
        msg.header.family = match net {
            IpNetwork::V4(_) => netlink_packet_route::AddressFamily::Inet,
            IpNetwork::V6(_) => netlink_packet_route::AddressFamily::Inet6,
        };
        msg.header.prefix_len = net.prefix();
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(net.ip()));
        msg.attributes.push(AddressAttribute::Address(net.ip()));
        self.nl
            .block_on(self.h.address().del(msg).execute())
            .map_err(|e| self.fail(&op, e))
    }

    /// Give the IPv4 addresses of interface `index` that carry a lease lifetime an infinite one:
    /// a one-shot DHCP client (dhclient) installs them with the lease's lifetime and is then gone,
    /// so the kernel would silently remove the address when the lease runs out. Returns how many.
    pub fn make_permanent(&self, index: u32, ifname: &str) -> Result<usize> {
        use netlink_packet_route::address::CacheInfo;
        let msgs = self.dump_addrs(Some(index))?;
        let mut n = 0;
        for m in msgs {
            let finite = m
                .attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::CacheInfo(c) if c.ifa_valid != u32::MAX));
            let ip = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(std::net::IpAddr::V4(ip)) => Some(*ip),
                _ => None,
            });
            let (Some(ip), true) = (ip, finite) else {
                continue;
            };
            let op = format!("make {ip}/{} on {ifname} permanent", m.header.prefix_len);
            self.log(&op);
            let mut req = self
                .h
                .address()
                .add(index, ip.into(), m.header.prefix_len)
                .replace();
            let mut forever = CacheInfo::default();
            forever.ifa_preferred = u32::MAX;
            forever.ifa_valid = u32::MAX;
            req.message_mut()
                .attributes
                .push(AddressAttribute::CacheInfo(forever));
            self.nl
                .block_on(req.execute())
                .map_err(|e| self.fail(&op, e))?;
            n += 1;
        }
        Ok(n)
    }

    /// Ensure semantics: adding an address that is already there is not an error.
    pub fn ensure_addr(&self, index: u32, ifname: &str, net: IpNetwork) -> Result<bool> {
        match self.add_addr(index, ifname, net) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
