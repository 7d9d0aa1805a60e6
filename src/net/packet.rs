//! Packets we build ourselves, for what has no socket API of its own: gratuitous ARP, DHCP before
//! the guest has an address, ICMP echo. The link-layer socket, its addresses, sending, the Internet
//! checksum (RFC 1071) and a bounded wait for a reply live here once for all of them.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

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

/// The Internet checksum over the concatenation of `chunks` (an odd final byte is padded with zero).
pub(crate) fn checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    let mut odd: Option<u8> = None;
    for c in chunks {
        for &b in c.iter() {
            match odd.take() {
                Some(hi) => sum += u16::from_be_bytes([hi, b]) as u32,
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += (hi as u32) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Wait until `fd` is readable, at most `left`. Ok(false) on time-out; EINTR counts as "not yet".
pub(crate) fn readable(fd: &impl AsRawFd, left: Duration) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(e)
        };
    }
    Ok(rc > 0)
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn checksum_matches_rfc1071_and_spans_chunks() {
        // RFC 1071's example words sum to 0xddf2; the checksum is its complement.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&[&data]), !0xddf2);
        // Split at an odd boundary, the result is the same.
        assert_eq!(checksum(&[&data[..3], &data[3..]]), !0xddf2);
        assert_eq!(checksum(&[&[0xab]]), !0xab00);
    }
}
