//! Gratuitous ARP: after an IPv4 address is configured, announce it once (an ARP reply with sender =
//! target = our address, to broadcast) so neighbours update stale caches at once — what the original
//! did with `arping -c 1 -A`, minus its one-second wait.

use super::packet::{link_addr, packet_socket, send_frame};
use crate::error::{Error, Result};
use crate::guest::Guest;
use std::net::Ipv4Addr;

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
    let sock = guest.inside("opening an AF_PACKET socket", move || {
        packet_socket(arp, None)
    })?;
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
