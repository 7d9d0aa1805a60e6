//! IPv4 + UDP framing for DHCP over a packet socket: before the guest has an address, the IP stack
//! cannot be relied on to send from 0.0.0.0 or to deliver broadcast replies (rp_filter, firewalls),
//! so the client builds and reads the headers itself, as udhcpc does.

use crate::net::packet::checksum;
use std::net::Ipv4Addr;

/// An IPv4 packet carrying one UDP datagram.
pub fn udp_ipv4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let total = 20 + udp_len;
    let mut p = Vec::with_capacity(total);
    p.extend_from_slice(&[0x45, 0x10]); // v4, 20-byte header; TOS low delay like other clients
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 64, 17, 0, 0]); // id, frag, TTL, UDP, checksum (below)
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let ip_sum = checksum(&[&p[..20]]);
    p[10..12].copy_from_slice(&ip_sum.to_be_bytes());
    let mut udp = Vec::with_capacity(udp_len);
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp_len as u16).to_be_bytes());
    let sum = match checksum(&[&pseudo, &udp]) {
        0 => 0xffff, // 0 would mean "no checksum"
        s => s,
    };
    udp[6..8].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&udp);
    p
}

/// The payload of a UDP datagram to `dport` in an IPv4 packet, if that is what `pkt` is. Checksums
/// are not verified: on veth the kernel hands packet sockets replies whose UDP checksum is left for
/// offload, so a check would reject good replies.
pub fn udp_payload_to(pkt: &[u8], dport: u16) -> Option<&[u8]> {
    if pkt.len() < 28 || pkt[0] >> 4 != 4 || pkt[9] != 17 {
        return None;
    }
    let ihl = ((pkt[0] & 0x0f) as usize) * 4;
    let total = (u16::from_be_bytes([pkt[2], pkt[3]]) as usize).min(pkt.len());
    // Fragments never carry a whole DHCP reply we could use.
    if u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff != 0 {
        return None;
    }
    let udp = pkt.get(ihl..total)?;
    if udp.len() < 8 || u16::from_be_bytes([udp[2], udp[3]]) != dport {
        return None;
    }
    let len = (u16::from_be_bytes([udp[4], udp[5]]) as usize).clamp(8, udp.len());
    Some(&udp[8..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_checksums() {
        let p = udp_ipv4(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, 68, 67, b"hello");
        assert_eq!(p.len(), 20 + 8 + 5);
        // A correct header sums to zero (all ones before complement).
        assert_eq!(checksum(&[&p[..20]]), 0);
        let mut pseudo = vec![0, 0, 0, 0, 255, 255, 255, 255, 0, 17];
        pseudo.extend_from_slice(&13u16.to_be_bytes());
        assert_eq!(checksum(&[&pseudo, &p[20..]]), 0);
        assert_eq!(udp_payload_to(&p, 67), Some(&b"hello"[..]));
        assert_eq!(udp_payload_to(&p, 68), None, "wrong port");
        assert_eq!(udp_payload_to(&p[..10], 67), None, "truncated");
        let mut tcp = p.clone();
        tcp[9] = 6;
        assert_eq!(udp_payload_to(&tcp, 67), None, "not UDP");
    }

    #[test]
    fn odd_length_checksum() {
        // RFC 1071 example words plus an odd trailing byte padded with zero.
        assert_eq!(checksum(&[&[0x00, 0x01, 0xf2]]), !(0x0001u16 + 0xf200));
    }
}
