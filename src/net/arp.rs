//! Gratuitous ARP: after an IPv4 address is configured, announce it once (an ARP reply with sender =
//! target = our address, to broadcast) so neighbours update stale caches at once — what the original
//! did with `arping -c 1 -A`, minus its one-second wait.

use crate::error::{Error, Result};
use crate::guest::Guest;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An AF_PACKET datagram socket (link-layer header handled by the kernel) for one EtherType,
/// bound to `ifindex` when given, in the calling thread's namespace.
pub(crate) fn packet_socket(ethertype: u16, ifindex: Option<u32>) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); checked and owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            ethertype.to_be() as i32,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if let Some(i) = ifindex {
        let sll = link_addr(ethertype, i, [0; 6]);
        // SAFETY: valid sockaddr_ll of the stated size.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &sll as *const _ as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(fd)
}

/// A link-layer address: interface, EtherType and destination MAC.
pub(crate) fn link_addr(ethertype: u16, ifindex: u32, mac: [u8; 6]) -> libc::sockaddr_ll {
    // SAFETY: an all-zero sockaddr_ll is valid; fields set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ethertype.to_be();
    sll.sll_ifindex = ifindex as i32;
    sll.sll_halen = 6;
    sll.sll_addr[..6].copy_from_slice(&mac);
    sll
}

/// The 28-byte ARP payload of an announcement (op 2, sender = target = `ip`).
pub fn announcement(mac: [u8; 6], ip: Ipv4Addr) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&2u16.to_be_bytes()); // reply
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&ip.octets());
    p[18..24].copy_from_slice(&[0xff; 6]);
    p[24..28].copy_from_slice(&ip.octets());
    p
}

/// Send one announcement for each of `ips` out of interface `ifindex` inside `guest` (one socket).
pub fn gratuitous(guest: &Guest, ifindex: u32, mac: [u8; 6], ips: &[Ipv4Addr]) -> Result<()> {
    if ips.is_empty() {
        return Ok(());
    }
    let arp = libc::ETH_P_ARP as u16;
    let sock = guest.inside("opening an AF_PACKET socket", || packet_socket(arp, None))?;
    for ip in ips {
        send_frame(
            &sock,
            &announcement(mac, *ip),
            &link_addr(arp, ifindex, [0xff; 6]),
        )
        .map_err(|e| Error::io(format!("gratuitous ARP for {ip} in {guest}"), e))?;
    }
    Ok(())
}

/// Send one payload through a packet socket to a link-layer address, without blocking.
pub(crate) fn send_frame(
    sock: &OwnedFd,
    payload: &[u8],
    to: &libc::sockaddr_ll,
) -> std::io::Result<()> {
    // SAFETY: valid buffer and address for the given lengths.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            payload.as_ptr() as *const _,
            payload.len(),
            libc::MSG_DONTWAIT,
            to as *const _ as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn announcement_layout() {
        let p = super::announcement([2, 0, 0, 0, 0, 1], "198.18.0.2".parse().unwrap());
        assert_eq!(&p[..8], &[0, 1, 8, 0, 6, 4, 0, 2]);
        assert_eq!(&p[14..18], &[198, 18, 0, 2]);
        assert_eq!(&p[24..28], &[198, 18, 0, 2]);
        assert_eq!(&p[8..14], &[2, 0, 0, 0, 0, 1]);
    }
}
