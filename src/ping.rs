//! ICMP echo from inside a guest, natively: recipes and tests can prove reachability without depending
//! on a `ping` binary being installed in the guest or on the host.

use crate::error::{Error, Result};
use crate::guest::Guest;
use crate::net::packet::checksum;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
pub struct PingStats {
    pub sent: u32,
    pub received: u32,
    pub rtts: Vec<Duration>,
}

impl PingStats {
    pub fn ok(&self) -> bool {
        self.received > 0
    }
    pub fn avg_ms(&self) -> f64 {
        if self.rtts.is_empty() {
            return 0.0;
        }
        self.rtts
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .sum::<f64>()
            / self.rtts.len() as f64
    }
}

fn raw_socket(v6: bool) -> std::io::Result<OwnedFd> {
    let (dom, proto) = if v6 {
        (libc::AF_INET6, libc::IPPROTO_ICMPV6)
    } else {
        (libc::AF_INET, libc::IPPROTO_ICMP)
    };
    // SAFETY: plain socket(2) call; the result is checked and owned immediately.
    let fd = unsafe { libc::socket(dom, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr(dst: IpAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: zeroed sockaddr_storage is a valid value; we fill the family-specific prefix.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match dst {
        IpAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as u16,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            unsafe { std::ptr::write(&mut ss as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// An ICMP echo socket inside a guest, aimed at one destination: `ping` sends a few through it, a
/// timeline probe one per period. The socket is opened once (in the guest's namespace) and can then
/// be used from any thread.
pub struct Echo {
    sock: OwnedFd,
    dst: IpAddr,
    ident: u16,
    /// Where the socket was opened, for messages.
    label: String,
}

/// What one echo request came to.
pub enum Reply {
    Rtt(Duration),
    /// No reply within the time-out, or the network was unreachable.
    Lost,
}

impl Echo {
    pub fn open(guest: &Guest, dst: IpAddr) -> Result<Echo> {
        let v6 = dst.is_ipv6();
        let sock = guest.inside("opening an ICMP socket", move || raw_socket(v6))?;
        let fd = sock.as_raw_fd();
        let ident = (std::process::id() as u16) ^ (fd as u16).rotate_left(8);
        Ok(Echo {
            sock,
            dst,
            ident,
            label: guest.to_string(),
        })
    }

    /// Send request `seq`. `Ok(false)`: the network is unreachable from here (the request is as
    /// good as lost; not an error of the tool).
    pub fn send(&self, seq: u16) -> Result<bool> {
        let (v6, dst, fd) = (self.dst.is_ipv6(), self.dst, self.sock.as_raw_fd());
        let (addr, alen) = sockaddr(dst);
        let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
        pkt.extend_from_slice(&self.ident.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(b"pipework-ping-payload-0123456789");
        if !v6 {
            let c = checksum(&[&pkt]);
            pkt[2..4].copy_from_slice(&c.to_be_bytes());
        } // the kernel fills the ICMPv6 checksum for raw ICMPv6 sockets
          // SAFETY: buffers and address are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                fd,
                pkt.as_ptr() as *const _,
                pkt.len(),
                0,
                &addr as *const _ as *const libc::sockaddr,
                alen,
            )
        };
        if n >= 0 {
            return Ok(true);
        }
        let e = std::io::Error::last_os_error();
        if matches!(
            e.raw_os_error(),
            Some(
                libc::ENETUNREACH
                    | libc::EHOSTUNREACH
                    | libc::ENETDOWN
                    | libc::EINVAL
                    | libc::ENOBUFS
            )
        ) {
            return Ok(false);
        }
        Err(Error::io(format!("ping {dst} from {}", self.label), e))
    }

    /// The next reply to any of our requests before `until`: its sequence number and when it came.
    pub fn recv(&self, until: Instant) -> Option<(u16, Instant)> {
        let v6 = self.dst.is_ipv6();
        let fd = self.sock.as_raw_fd();
        let mut buf = [0u8; 2048];
        loop {
            let left = until.checked_duration_since(Instant::now())?;
            if !crate::net::packet::readable(&fd, left).unwrap_or(false) {
                if Instant::now() >= until {
                    return None;
                }
                continue;
            }
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut flen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: the buffer and address are valid for the lengths given.
            let n = unsafe {
                libc::recvfrom(
                    fd,
                    buf.as_mut_ptr() as *mut _,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    &mut from as *mut _ as *mut libc::sockaddr,
                    &mut flen,
                )
            };
            let at = Instant::now();
            if n <= 0 {
                continue;
            }
            let data = &buf[..n as usize];
            // Raw IPv4 sockets deliver the IP header too; ICMPv6 ones do not.
            let icmp = if v6 {
                data
            } else {
                let ihl = ((data[0] & 0x0f) as usize) * 4;
                if data.len() < ihl + 8 || data[12..16] != dst_octets(self.dst)[..] {
                    continue;
                }
                &data[ihl..]
            };
            let reply_type = if v6 { 129 } else { 0 };
            if icmp.len() >= 8
                && icmp[0] == reply_type
                && u16::from_be_bytes([icmp[4], icmp[5]]) == self.ident
            {
                return Some((u16::from_be_bytes([icmp[6], icmp[7]]), at));
            }
        }
    }

    /// Send request `seq` and wait up to `timeout` for its reply.
    pub fn once(&self, seq: u16, timeout: Duration) -> Result<Reply> {
        let start = Instant::now();
        if !self.send(seq)? {
            std::thread::sleep(Duration::from_millis(20).min(timeout));
            return Ok(Reply::Lost);
        }
        while let Some((got, at)) = self.recv(start + timeout) {
            if got == seq {
                return Ok(Reply::Rtt(at - start));
            }
        }
        Ok(Reply::Lost)
    }
}

/// Send `count` echo requests from `guest` to `dst`, waiting up to `timeout` for each reply.
pub fn ping(guest: &Guest, dst: IpAddr, count: u32, timeout: Duration) -> Result<PingStats> {
    let echo = Echo::open(guest, dst)?;
    let mut stats = PingStats::default();
    for seq in 1..=count as u16 {
        stats.sent += 1;
        if let Reply::Rtt(rtt) = echo.once(seq, timeout)? {
            stats.received += 1;
            stats.rtts.push(rtt);
        }
    }
    Ok(stats)
}

fn dst_octets(dst: IpAddr) -> Vec<u8> {
    match dst {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// Whether a TCP connection from inside the guest to `dst:port` is accepted within `timeout`: a
/// service is listening there (a refusal or silence is false; anything else is an error).
pub fn tcp_open(g: &Guest, dst: IpAddr, port: u16, timeout: Duration) -> Result<bool> {
    let addr = std::net::SocketAddr::new(dst, port);
    g.run_inside(
        move || match std::net::TcpStream::connect_timeout(&addr, timeout) {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::HostUnreachable
                        | std::io::ErrorKind::NetworkUnreachable
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        },
    )
    .map_err(|e| e.context(format!("tcp connect to {addr}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn icmp_checksum() {
        // Echo request, id 1 seq 1, no payload: known checksum 0xf7fd.
        let pkt = [8u8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(crate::net::packet::checksum(&[&pkt]), 0xf7fd);
    }
}
