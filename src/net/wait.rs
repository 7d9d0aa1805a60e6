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
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

const RTMGRP_LINK: u32 = 1;
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

fn monitor_socket() -> std::io::Result<OwnedFd> {
    super::route_socket(RTMGRP_LINK)
}

/// A subscription to one namespace's link notifications; dropping it closes the socket.
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
            if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) = m.payload {
                return Ok(Some(l));
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
        let fd = guest.inside("opening a netlink monitor", monitor_socket)?;
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
        let mut mon = self.link_monitor(guest)?;
        let ready = |l: &LinkState| !carrier || l.lower_up;
        if let Some(l) = self.ns(guest)?.link(ifname)? {
            if ready(&l) {
                return Ok(l);
            }
        }
        // "No limit" is a deadline far enough away to never come.
        let deadline = Instant::now() + timeout.unwrap_or(Duration::from_secs(100 * 365 * 86400));
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
}
