//! DHCP for a guest's interface: the built-in client (lease applied like a static attach, kept
//! renewed) and the host's installed clients.

use super::*;

/// A lease applied to a guest, and where its DNS servers went (or why nowhere).
#[derive(Debug, Clone)]
pub struct DhcpResult {
    pub lease: Lease,
    pub resolv: std::result::Result<String, String>,
    /// Pid file of the process renewing the lease, if one was started.
    pub keeper: Option<std::path::PathBuf>,
}

impl Session {
    /// Bring an interface up and lease an IPv4 address for it with pipework's own DHCP client, then
    /// apply the lease like a static attach (address, MTU, default route via the lease's router) and
    /// put its DNS servers into the guest's resolv.conf — never the host's.
    pub fn dhcp(&self, guest: &Guest, ifname: &str, opts: &DhcpOpts) -> Result<DhcpResult> {
        self.touch(guest);
        let ns = self.nl.ns(guest)?;
        let l = self.link(guest, ifname)?;
        let mac = l
            .mac_bytes()
            .ok_or_else(|| Error::invalid("interface", ifname, "has no Ethernet MAC for DHCP"))?;
        let l = self.up_for_dhcp(guest, l)?;
        let lease = dhcp::acquire(guest, ifname, l.index, mac, opts)?;
        if opts.dns && !lease.dns.is_empty() {
            self.keep_resolv(guest)?;
        }
        let want = AttachOpts {
            ifname: ifname.into(),
            ips: vec![IpNetwork::V4(lease.addr)],
            gateway: opts.gateway.pick(lease.router).map(Into::into),
            mtu: lease.mtu.map(u32::from),
            ..Default::default()
        };
        crate::driver::configure_guest_end(&ns, &l, &want, crate::driver::End::Existing)
            .ctx(format!("applying the DHCP lease {lease}"))?;
        // The link was up before the address existed, so the kernel announced nothing: do it now.
        let _ = crate::net::arp::gratuitous(guest, l.index, mac, &[lease.addr.ip()]);
        let resolv = if opts.dns && !lease.dns.is_empty() {
            dhcp::resolv::write(guest, &dhcp::resolv::render(&lease, ifname), &self.owner())?
        } else {
            Err("the lease names no DNS server".into())
        };
        let keeper = if opts.keep && lease.lease_secs != u32::MAX {
            let pf = dhcp::keeper::spawn(guest, ifname, &lease, opts, &self.owner())?;
            self.record(Created::Process(pf.clone()));
            Some(pf)
        } else {
            None
        };
        Ok(DhcpResult {
            lease,
            resolv,
            keeper,
        })
    }

    /// Before a lease writes a named namespace's resolv.conf: set the user's own aside (once), and
    /// journal it, so a failed run puts it back with everything else it undoes.
    fn keep_resolv(&self, guest: &Guest) -> Result<()> {
        let dhcp::resolv::Target::NetnsFile(path) = dhcp::resolv::target(guest) else {
            return Ok(());
        };
        if let dhcp::resolv::Preserved::Now(note) = dhcp::resolv::preserve(&path, &self.owner())? {
            if let Some(note) = note {
                eprintln!("pipework: {note}");
            }
            let dir = path.parent().expect("resolv.conf has a directory");
            self.record(Created::Resolv {
                dir: dir.to_path_buf(),
                owner: self.owner(),
            });
        }
        Ok(())
    }

    /// A DHCP client talks through the link before it has an address: bring it up first.
    fn up_for_dhcp(&self, guest: &Guest, mut l: LinkState) -> Result<LinkState> {
        if !l.up {
            self.nl
                .ns(guest)?
                .set_link(l.index, &l.name, &crate::net::link_up())?;
            l.up = true;
        }
        Ok(l)
    }

    /// Run an installed DHCP client (udhcpc, dhclient, dhcpcd) for an interface, the classic way,
    /// with the host's resolv.conf out of its reach. Returns a one-line summary.
    pub fn dhcp_client(
        &self,
        guest: &Guest,
        ifname: &str,
        e: &dhcp::external::External,
    ) -> Result<String> {
        self.touch(guest);
        let l = self.up_for_dhcp(guest, self.link(guest, ifname)?)?;
        let hostname = dhcp::default_hostname(guest).unwrap_or_else(|| "pipework".into());
        self.keep_resolv(guest)?;
        let mut summary = dhcp::external::run(guest, ifname, &hostname, &self.owner(), e)?;
        if !e.keep {
            // Nobody renews a one-shot lease: keep the address (as udhcpc -q does) instead of
            // letting the kernel drop it silently when the lease time runs out.
            if self.nl.ns(guest)?.make_permanent(l.index, ifname)? > 0 {
                summary.push_str("; address kept past the lease time (nothing renews it)");
            }
        }
        Ok(summary)
    }
}
