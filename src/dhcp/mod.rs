//! DHCPv4 for guests, without a client installed anywhere: pipework itself talks DHCP (messages
//! from dhcproto) over a packet socket opened inside the guest's namespace, then applies the lease
//! through the same netlink calls a script uses. DNS from the lease goes into the guest's own
//! resolv.conf (see `resolv`), never the host's.
//!
//! External clients (udhcpc, dhclient, dhcpcd) for users who need their behaviour are in `external`.

pub mod external;
mod frame;
pub mod keeper;
pub mod resolv;
pub mod warden;

use crate::error::{Error, Result};
use crate::guest::Guest;
use dhcproto::v4::{
    self, Decodable, Decoder, DhcpOption, Encodable, Encoder, Message, MessageType, OptionCode,
};
use ipnetwork::Ipv4Network;
use std::fmt;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Teardown, DHCP's part: the clients and lease keepers left running for `owner` (first: they
/// would fight the rest of the teardown), then the namespaces' own resolv.conf files come back.
pub(crate) fn teardown_owned(owner: &str, removed: &mut crate::session::Removed) {
    removed.clients = external::stop_owned(owner);
    removed.notes.extend(resolv::restore_owned(owner));
}

/// Rollback of a process a session left running (a lease keeper or a kept client).
pub(crate) fn undo_process(pidfile: &std::path::Path) -> Option<String> {
    external::stop_pidfile(pidfile).then(|| format!("process of {}", pidfile.display()))
}

/// The default route of a leased interface. `gateway` means the default router everywhere: an
/// address sets it, `false` means none; for DHCP, `true` (the default) takes the lease's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    Lease,
    Off,
    Fixed(Ipv4Addr),
}

impl Gateway {
    /// The router to install for a lease that names `router`.
    pub fn pick(self, router: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        match self {
            Gateway::Lease => router,
            Gateway::Off => None,
            Gateway::Fixed(ip) => Some(ip),
        }
    }
}

/// As the keeper's argument: `true`, `false` or the address.
impl std::fmt::Display for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Gateway::Lease => f.write_str("true"),
            Gateway::Off => f.write_str("false"),
            Gateway::Fixed(ip) => write!(f, "{ip}"),
        }
    }
}

impl std::str::FromStr for Gateway {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Ok(match s {
            "true" => Gateway::Lease,
            "false" => Gateway::Off,
            ip => Gateway::Fixed(ip.parse()?),
        })
    }
}

/// What the caller wants from the exchange.
#[derive(Clone, Debug)]
pub struct DhcpOpts {
    /// Give up after this long without a lease (covers every retransmission).
    pub timeout: Duration,
    /// Sent as option 12, like the original's `udhcpc -x hostname:GUEST`.
    pub hostname: Option<String>,
    /// Which default route the lease brings.
    pub gateway: Gateway,
    /// Write the lease's DNS servers into the guest's resolv.conf.
    pub dns: bool,
    /// Leave a keeper process renewing the lease (see `keeper`).
    pub keep: bool,
}

impl Default for DhcpOpts {
    fn default() -> Self {
        DhcpOpts {
            timeout: Duration::from_secs(10),
            hostname: None,
            gateway: Gateway::Lease,
            dns: true,
            keep: false,
        }
    }
}

/// A lease as the server acknowledged it.
#[derive(Clone, Debug, PartialEq)]
pub struct Lease {
    pub addr: Ipv4Network,
    pub server: Ipv4Addr,
    pub router: Option<Ipv4Addr>,
    pub dns: Vec<Ipv4Addr>,
    pub domain: Option<String>,
    pub search: Vec<String>,
    pub mtu: Option<u16>,
    /// Seconds; u32::MAX is "infinite" in DHCP.
    pub lease_secs: u32,
    /// Renewal (T1) and rebinding (T2) times in seconds, as the server set them or RFC 2131's
    /// defaults (1/2 and 7/8 of the lease).
    pub t1: u32,
    pub t2: u32,
}

impl fmt::Display for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} from {}", self.addr, self.server)?;
        if let Some(r) = self.router {
            write!(f, ", router {r}")?;
        }
        if !self.dns.is_empty() {
            let d: Vec<String> = self.dns.iter().map(|a| a.to_string()).collect();
            write!(f, ", dns {}", d.join(" "))?;
        }
        if self.lease_secs == u32::MAX {
            write!(f, ", infinite lease")
        } else {
            write!(f, ", lease {}s", self.lease_secs)
        }
    }
}

impl Lease {
    fn from_ack(m: &Message) -> Result<Lease> {
        let o = m.opts();
        let server = match o.get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => *s,
            _ => m.siaddr(),
        };
        // A server that sends no mask leaves us the classful default, as RFC 2131 clients do.
        let prefix = match o.get(OptionCode::SubnetMask) {
            Some(DhcpOption::SubnetMask(mask)) => {
                let bits = u32::from(*mask);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(Error::invalid(
                        "DHCP subnet mask",
                        mask,
                        format!("is not contiguous (server {server})"),
                    ));
                }
                bits.leading_ones() as u8
            }
            _ => match m.yiaddr().octets()[0] {
                0..=127 => 8,
                128..=191 => 16,
                _ => 24,
            },
        };
        let addr = Ipv4Network::new(m.yiaddr(), prefix)
            .map_err(|e| Error::invalid("DHCP lease", m.yiaddr(), e))?;
        let router = match o.get(OptionCode::Router) {
            Some(DhcpOption::Router(r)) => r.first().copied(),
            _ => None,
        };
        let dns = match o.get(OptionCode::DomainNameServer) {
            Some(DhcpOption::DomainNameServer(d)) => d.clone(),
            _ => vec![],
        };
        let domain = match o.get(OptionCode::DomainName) {
            Some(DhcpOption::DomainName(d)) if !d.trim().is_empty() => Some(d.trim().to_string()),
            _ => None,
        };
        let search = match o.get(OptionCode::DomainSearch) {
            Some(DhcpOption::DomainSearch(names)) => names
                .iter()
                .map(|n| n.to_string().trim_end_matches('.').to_string())
                .filter(|n| !n.is_empty())
                .collect(),
            _ => vec![],
        };
        let mtu = match o.get(OptionCode::InterfaceMtu) {
            Some(DhcpOption::InterfaceMtu(m)) if *m >= 68 => Some(*m),
            _ => None,
        };
        let lease_secs = match o.get(OptionCode::AddressLeaseTime) {
            Some(DhcpOption::AddressLeaseTime(t)) => *t,
            _ => u32::MAX,
        };
        let t2 = match o.get(OptionCode::Rebinding) {
            Some(DhcpOption::Rebinding(t)) if *t <= lease_secs => *t,
            _ => (lease_secs as u64 * 7 / 8) as u32,
        };
        let t1 = match o.get(OptionCode::Renewal) {
            Some(DhcpOption::Renewal(t)) if *t <= t2 => *t,
            _ => lease_secs / 2,
        };
        Ok(Lease {
            addr,
            server,
            router,
            dns,
            domain,
            search,
            mtu,
            lease_secs,
            t1,
            t2,
        })
    }
}

/// The name a guest introduces itself with (option 12): its netns or container name, reduced to
/// what a host name may contain.
pub fn default_hostname(g: &Guest) -> Option<String> {
    let name = match &g.kind {
        crate::guest::GuestKind::Netns(n) => n,
        crate::guest::GuestKind::Container { name, .. }
        | crate::guest::GuestKind::Lxc { name, .. } => name,
        _ => return None,
    };
    let h: String = name
        .trim_start_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let h = h.trim_matches('-').to_string();
    (!h.is_empty()).then_some(h)
}

const ETH_P_IP: u16 = libc::ETH_P_IP as u16;

fn packet_socket(ifindex: u32) -> std::io::Result<OwnedFd> {
    crate::net::packet::packet_socket(ETH_P_IP, Some(ifindex))
}

/// One conversation with the servers on one interface.
pub(crate) struct Client<'a> {
    sock: OwnedFd,
    ifindex: u32,
    mac: [u8; 6],
    xid: u32,
    opts: &'a DhcpOpts,
    started: Instant,
    label: String,
}

impl Client<'_> {
    fn request(&self, kind: MessageType, extra: &[DhcpOption]) -> Message {
        self.request_from(Ipv4Addr::UNSPECIFIED, kind, extra)
    }

    /// `ciaddr`: the address being renewed (RFC 2131 RENEWING/REBINDING), else unspecified.
    fn request_from(&self, ciaddr: Ipv4Addr, kind: MessageType, extra: &[DhcpOption]) -> Message {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new_with_id(self.xid, ciaddr, z, z, z, &self.mac);
        // Ask for broadcast replies: we have no address yet, and the packet socket sees them
        // whatever the guest's rp_filter or firewall says.
        m.set_flags(v4::Flags::default().set_broadcast());
        m.set_secs(self.started.elapsed().as_secs().min(u16::MAX as u64) as u16);
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(kind));
        let mut cid = vec![1u8];
        cid.extend_from_slice(&self.mac);
        o.insert(DhcpOption::ClientIdentifier(cid));
        o.insert(DhcpOption::MaxMessageSize(1500));
        o.insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::SubnetMask,
            OptionCode::Router,
            OptionCode::DomainNameServer,
            OptionCode::DomainName,
            OptionCode::DomainSearch,
            OptionCode::InterfaceMtu,
            OptionCode::AddressLeaseTime,
        ]));
        if let Some(h) = &self.opts.hostname {
            o.insert(DhcpOption::Hostname(h.clone()));
        }
        for e in extra {
            o.insert(e.clone());
        }
        m
    }

    fn send(&self, m: &Message) -> Result<()> {
        let mut payload = Vec::with_capacity(300);
        m.encode(&mut Encoder::new(&mut payload)).map_err(|e| {
            Error::invalid(
                "DHCP message",
                "(outgoing)",
                format!("cannot be encoded: {e}"),
            )
        })?;
        let pkt = frame::udp_ipv4(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST, 68, 67, &payload);
        let to = crate::net::packet::link_addr(ETH_P_IP, self.ifindex, [0xff; 6]);
        crate::net::packet::send_frame(&self.sock, &pkt, &to)
            .map_err(|e| Error::io(format!("sending DHCP on {}", self.label), e))?;
        Ok(())
    }

    /// The next reply to our transaction, or None when `until` passes first.
    fn recv(&self, until: Instant) -> Result<Option<Message>> {
        let mut buf = [0u8; 2048];
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let ready = crate::net::packet::readable(&self.sock, left)
                .map_err(|e| Error::io(format!("waiting for DHCP on {}", self.label), e))?;
            if !ready {
                continue;
            }
            // SAFETY: buffer valid for its length.
            let n = unsafe {
                libc::recv(
                    self.sock.as_raw_fd(),
                    buf.as_mut_ptr() as *mut _,
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                continue;
            }
            let Some(payload) = frame::udp_payload_to(&buf[..n as usize], 68) else {
                continue;
            };
            let Ok(m) = Message::decode(&mut Decoder::new(payload)) else {
                continue;
            };
            if m.opcode() == v4::Opcode::BootReply
                && m.xid() == self.xid
                && m.chaddr().get(..6) == Some(&self.mac[..])
            {
                return Ok(Some(m));
            }
        }
    }

    /// Send `m`, retransmitting with exponential back-off (1, 2, 4 … s, as RFC 2131 suggests),
    /// until a reply of one of the `want` types arrives or the overall deadline passes.
    fn exchange(
        &self,
        m: &Message,
        want: &[MessageType],
        deadline: Instant,
    ) -> Result<Option<Message>> {
        let mut wait = Duration::from_secs(1);
        while Instant::now() < deadline {
            self.send(m)?;
            let until = (Instant::now() + wait).min(deadline);
            while let Some(r) = self.recv(until)? {
                if let Some(t) = r.opts().msg_type() {
                    if want.contains(&t) {
                        return Ok(Some(r));
                    }
                }
            }
            wait = (wait * 2).min(Duration::from_secs(16));
        }
        Ok(None)
    }

    fn run(&self) -> Result<Lease> {
        let deadline = self.started + self.opts.timeout;
        let silent = || {
            Error::Timeout(format!(
                "no DHCP server answered on {} within {:?} (is a server on that segment, and is the host side up?)",
                self.label, self.opts.timeout
            ))
        };
        // A NAK sends us back to DISCOVER; a server that keeps refusing is bounded by the deadline.
        loop {
            let offer = self
                .exchange(
                    &self.request(MessageType::Discover, &[]),
                    &[MessageType::Offer],
                    deadline,
                )?
                .ok_or_else(silent)?;
            let server = match offer.opts().get(OptionCode::ServerIdentifier) {
                Some(DhcpOption::ServerIdentifier(s)) => *s,
                _ => offer.siaddr(),
            };
            let req = self.request(
                MessageType::Request,
                &[
                    DhcpOption::RequestedIpAddress(offer.yiaddr()),
                    DhcpOption::ServerIdentifier(server),
                ],
            );
            let reply = self
                .exchange(&req, &[MessageType::Ack, MessageType::Nak], deadline)?
                .ok_or_else(silent)?;
            if reply.opts().msg_type() == Some(MessageType::Ack) {
                return Lease::from_ack(&reply);
            }
            if Instant::now() >= deadline {
                return Err(Error::external(
                    format!("DHCP server {server}"),
                    format!("refused (NAK) the address it offered on {}", self.label),
                ));
            }
        }
    }
}

impl<'a> Client<'a> {
    /// A client for interface `ifindex` (MAC `mac`) inside `guest`, with a fresh transaction id.
    pub(crate) fn new(
        guest: &Guest,
        ifname: &str,
        ifindex: u32,
        mac: [u8; 6],
        opts: &'a DhcpOpts,
    ) -> Result<Client<'a>> {
        let label = format!("{ifname} in {guest}");
        let sock = guest.inside(&format!("opening a packet socket on {ifname}"), move || {
            packet_socket(ifindex)
        })?;
        let xid = {
            let z = Ipv4Addr::UNSPECIFIED;
            Message::new(z, z, z, z, &mac).xid()
        };
        Ok(Client {
            sock,
            ifindex,
            mac,
            xid,
            opts,
            started: Instant::now(),
            label,
        })
    }

    /// Extend `lease` (RENEWING with `server` set, REBINDING without): Some(Ok) on ACK,
    /// Some(Err) on NAK, None if nobody answered before `deadline`.
    pub(crate) fn renew(
        &self,
        lease: &Lease,
        deadline: Instant,
    ) -> Result<Option<std::result::Result<Lease, ()>>> {
        let m = self.request_from(lease.addr.ip(), MessageType::Request, &[]);
        Ok(
            match self.exchange(&m, &[MessageType::Ack, MessageType::Nak], deadline)? {
                None => None,
                Some(r) if r.opts().msg_type() == Some(MessageType::Ack) => {
                    Some(Ok(Lease::from_ack(&r)?))
                }
                Some(_) => Some(Err(())),
            },
        )
    }
}

/// Obtain a lease for interface `ifindex` (MAC `mac`) inside `guest`. The interface must be up.
pub fn acquire(
    guest: &Guest,
    ifname: &str,
    ifindex: u32,
    mac: [u8; 6],
    opts: &DhcpOpts,
) -> Result<Lease> {
    Client::new(guest, ifname, ifindex, mac, opts)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(opts: Vec<DhcpOption>) -> Message {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new(z, "198.18.0.50".parse().unwrap(), z, z, &[2, 0, 0, 0, 0, 1]);
        m.set_opcode(v4::Opcode::BootReply);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Ack));
        for o in opts {
            m.opts_mut().insert(o);
        }
        // Round-trip through the wire format, as a real reply would arrive.
        let mut buf = vec![];
        m.encode(&mut Encoder::new(&mut buf)).unwrap();
        Message::decode(&mut Decoder::new(&buf)).unwrap()
    }

    #[test]
    fn lease_from_ack() {
        let l = Lease::from_ack(&ack(vec![
            DhcpOption::SubnetMask("255.254.0.0".parse().unwrap()),
            DhcpOption::ServerIdentifier("198.18.0.1".parse().unwrap()),
            DhcpOption::Router(vec!["198.18.0.1".parse().unwrap()]),
            DhcpOption::DomainNameServer(vec![
                "198.18.0.53".parse().unwrap(),
                "198.18.0.54".parse().unwrap(),
            ]),
            DhcpOption::DomainName("lab.test".into()),
            DhcpOption::AddressLeaseTime(600),
        ]))
        .unwrap();
        assert_eq!(l.addr.to_string(), "198.18.0.50/15");
        assert_eq!(l.router, Some("198.18.0.1".parse().unwrap()));
        assert_eq!(l.dns.len(), 2);
        assert_eq!(l.domain.as_deref(), Some("lab.test"));
        assert_eq!(l.lease_secs, 600);
        assert_eq!(
            l.to_string(),
            "198.18.0.50/15 from 198.18.0.1, router 198.18.0.1, dns 198.18.0.53 198.18.0.54, lease 600s"
        );
    }

    #[test]
    fn lease_defaults_and_bad_mask() {
        let l = Lease::from_ack(&ack(vec![])).unwrap();
        assert_eq!(l.addr.prefix(), 24, "classful default for 198.x");
        assert_eq!(l.lease_secs, u32::MAX);
        assert!(l.router.is_none() && l.dns.is_empty());
        let bad = Lease::from_ack(&ack(vec![DhcpOption::SubnetMask(
            "255.0.255.0".parse().unwrap(),
        )]));
        assert!(bad.unwrap_err().to_string().contains("not contiguous"));
    }
}
