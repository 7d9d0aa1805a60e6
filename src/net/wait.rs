//! Waiting for an interface: subscribe to link notifications inside the guest first, then look at
//! the current state, then sleep on the notifications — no polling, no lost wake-up.

use super::{LinkState, Netlink};
use crate::error::{Error, Result};
use crate::guest::Guest;
use futures::StreamExt;
use netlink_packet_core::NetlinkPayload;
use netlink_packet_route::link::{LinkAttribute, LinkFlags};
use netlink_packet_route::RouteNetlinkMessage;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::time::{Duration, Instant};

const RTMGRP_LINK: u32 = 1;

fn monitor_socket() -> std::io::Result<OwnedFd> {
    super::route_socket(RTMGRP_LINK)
}

impl Netlink {
    /// Wait until `ifname` exists in `guest` (and, with `carrier`, has its carrier up).
    pub fn wait_link(
        &self,
        guest: &Guest,
        ifname: &str,
        carrier: bool,
        timeout: Option<Duration>,
    ) -> Result<LinkState> {
        let fd = if guest.is_host() {
            monitor_socket().map_err(|e| Error::io("opening a netlink monitor", e))?
        } else {
            guest.run_inside(monitor_socket)?
        };
        let (conn, _h, mut messages) = {
            let _enter = self.rt.enter();
            // SAFETY: we own the fd and hand it over.
            let sock = unsafe { netlink_sys::TokioSocket::from_raw_fd(fd.into_raw_fd()) };
            rtnetlink::from_socket(sock)
        };
        let task = self.rt.spawn(conn);
        let ready = |l: &LinkState| !carrier || l.lower_up;
        let deadline = timeout.map(|t| Instant::now() + t);
        let result = (|| {
            if let Some(l) = self.ns(guest)?.link(ifname)? {
                if ready(&l) {
                    return Ok(l);
                }
            }
            loop {
                let next = messages.next();
                let msg = match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        match self.block_on(async { tokio::time::timeout(left, next).await }) {
                            Ok(m) => m,
                            Err(_) => {
                                return Err(Error::guest(
                                    guest,
                                    format!(
                                        "timed out after {:?} waiting for {ifname}{}",
                                        timeout.unwrap_or_default(),
                                        if carrier {
                                            " to have carrier"
                                        } else {
                                            " to appear"
                                        }
                                    ),
                                ))
                            }
                        }
                    }
                    None => self.block_on(next),
                };
                let Some((m, _)) = msg else {
                    return Err(Error::guest(guest, "the netlink monitor closed"));
                };
                if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) = m.payload {
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
            }
        })();
        task.abort();
        result
    }
}
