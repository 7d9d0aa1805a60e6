//! Waiting on the kernel: subscribe to link notifications first, then look at the current state, then
//! sleep on the notifications — no polling, no lost wake-up. Used to wait for an interface (`wait`)
//! and for a new bridge port to forward before announcing on it.

use super::{LinkState, Netlink};
use crate::error::{Error, Result};
use crate::guest::Guest;
use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload, Nla};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage, LinkProtoInfoBridge};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::time::{Duration, Instant};

const RTMGRP_LINK: u32 = 1;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
/// IFLA_BRPORT_STATE inside a bridge port's IFLA_PROTINFO, and its forwarding value.
const IFLA_BRPORT_STATE: u16 = 1;
const BR_STATE_FORWARDING: u8 = 3;

/// The value of a one-byte attribute the crate does not decode (it keeps those as raw NLAs).
fn nla_u8(n: &netlink_packet_core::DefaultNla) -> Option<u8> {
    let mut v = [0u8; 1];
    (n.value_len() == 1).then(|| {
        n.emit_value(&mut v);
        v[0]
    })
}

/// A subscription to one namespace's link (or route) notifications; dropping it closes the socket.
pub struct LinkMonitor<'a> {
    nl: &'a Netlink,
    task: tokio::task::JoinHandle<()>,
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, netlink_sys::SocketAddr)>,
}

impl Drop for LinkMonitor<'_> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How a bounded wait ended.
pub enum Waited<T> {
    Done(T),
    TimedOut,
}

impl LinkMonitor<'_> {
    /// The next link notification, or None once `deadline` has passed.
    fn next(&mut self, deadline: Instant) -> Result<Option<LinkMessage>> {
        loop {
            match self.next_any(deadline)? {
                None => return Ok(None),
                Some(RouteNetlinkMessage::NewLink(l)) => return Ok(Some(l)),
                Some(_) => {}
            }
        }
    }

    /// The next notification of any kind the socket subscribed to, or None once `deadline` has
    /// passed.
    fn next_any(&mut self, deadline: Instant) -> Result<Option<RouteNetlinkMessage>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = self.messages.next();
            let msg = match self
                .nl
                .block_on(async { tokio::time::timeout(left, next).await })
            {
                Ok(m) => m,
                Err(_) => return Ok(None),
            };
            let Some((m, _)) = msg else {
                return Err(Error::io(
                    "reading link notifications",
                    std::io::Error::other("the netlink monitor closed"),
                ));
            };
            if let NetlinkPayload::InnerMessage(inner) = m.payload {
                return Ok(Some(inner));
            }
        }
    }

    /// Wait until the bridge reports port `index` as forwarding. The kernel enables a new port
    /// only when it processes the port's carrier change (asynchronously, after the link came
    /// up); frames the guest sends before that are dropped at the bridge — a gratuitous ARP among
    /// them. Call after subscribing and before the change that brings the carrier up.
    pub fn port_forwarding(&mut self, port: &str, timeout: Duration) -> Result<Waited<()>> {
        let deadline = Instant::now() + timeout;
        while let Some(l) = self.next(deadline)? {
            let named = l
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::IfName(n) if n == port));
            if !named || l.header.interface_family != AddressFamily::Bridge {
                continue;
            }
            let forwarding = l.attributes.iter().any(|a| match a {
                LinkAttribute::ProtoInfoBridge(infos) => infos.iter().any(|i| {
                    matches!(i, LinkProtoInfoBridge::Other(n)
                        if n.kind() == IFLA_BRPORT_STATE && nla_u8(n) == Some(BR_STATE_FORWARDING))
                }),
                _ => false,
            });
            if forwarding {
                return Ok(Waited::Done(()));
            }
        }
        Ok(Waited::TimedOut)
    }
}

impl Netlink {
    /// Subscribe to link notifications in `guest`.
    pub fn link_monitor(&self, guest: &Guest) -> Result<LinkMonitor<'_>> {
        self.monitor(guest, RTMGRP_LINK)
    }

    fn monitor(&self, guest: &Guest, groups: u32) -> Result<LinkMonitor<'_>> {
        let fd = guest.inside("opening a netlink monitor", move || {
            super::route_socket(groups)
        })?;
        let (conn, _h, messages) = {
            let _enter = self.rt.enter();
            // SAFETY: we own the fd and hand it over.
            let sock = unsafe { netlink_sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) };
            rtnetlink::from_socket(sock)
        };
        let task = self.rt.spawn(conn);
        Ok(LinkMonitor {
            nl: self,
            task,
            messages,
        })
    }

    /// Wait until `ifname` exists in `guest` (and, with `carrier`, has its carrier up); `None`
    /// waits without limit (the classic `--wait`, a container entrypoint waiting for the host).
    pub fn wait_link(
        &self,
        guest: &Guest,
        ifname: &str,
        carrier: bool,
        timeout: Option<Duration>,
    ) -> Result<LinkState> {
        self.wait_link_until(guest, ifname, carrier, deadline(timeout), timeout)
    }

    fn wait_link_until(
        &self,
        guest: &Guest,
        ifname: &str,
        carrier: bool,
        deadline: Instant,
        timeout: Option<Duration>,
    ) -> Result<LinkState> {
        let mut mon = self.link_monitor(guest)?;
        let ready = |l: &LinkState| !carrier || l.lower_up;
        if let Some(l) = self.ns(guest)?.link(ifname)? {
            if ready(&l) {
                return Ok(l);
            }
        }
        while let Some(l) = mon.next(deadline)? {
            let named = l
                .attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::IfName(n) if n == ifname));
            if named && (!carrier || l.header.flags.contains(LinkFlags::LowerUp)) {
                if let Some(st) = self.ns(guest)?.link(ifname)? {
                    return Ok(st);
                }
            }
        }
        Err(Error::Timeout(format!(
            "{guest}: timed out after {:?} waiting for {ifname}{}",
            timeout.unwrap_or_default(),
            if carrier {
                " to have carrier"
            } else {
                " to appear"
            }
        )))
    }

    /// The classic `--wait`: until `ifname` has carrier (as the original waited on
    /// /sys/class/net/IF/carrier) and, when pipework's marker on it declares a gateway, the default
    /// route via that gateway is in place. The host can add that route only once the link is up,
    /// so carrier alone lets an entrypoint start a moment before its default route exists.
    pub fn wait_configured(
        &self,
        guest: &Guest,
        ifname: &str,
        timeout: Option<Duration>,
    ) -> Result<LinkState> {
        let deadline = deadline(timeout);
        let l = self.wait_link_until(guest, ifname, true, deadline, timeout)?;
        let Some(gw) = l
            .alias
            .as_deref()
            .filter(|a| crate::marker::is_ours(a))
            .and_then(|a| crate::marker::field(a, "gw"))
            .and_then(|g| g.parse::<std::net::IpAddr>().ok())
        else {
            return Ok(l);
        };
        let mut mon = self.monitor(guest, RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE)?;
        loop {
            let routed = self
                .ns(guest)?
                .routes(gw.is_ipv6())?
                .iter()
                .any(|r| r.dst.prefix() == 0 && r.via == Some(gw) && r.dev == Some(l.index));
            if routed {
                return Ok(l);
            }
            if mon.next_any(deadline)?.is_none() {
                return Err(Error::Timeout(format!(
                    "{guest}: timed out after {:?} waiting for the default route via {gw} on {ifname}",
                    timeout.unwrap_or_default()
                )));
            }
        }
    }
}

/// The instant a wait of `timeout` ends; "no limit" is a deadline far enough away to never come.
fn deadline(timeout: Option<Duration>) -> Instant {
    Instant::now() + timeout.unwrap_or(Duration::from_secs(100 * 365 * 86400))
}
