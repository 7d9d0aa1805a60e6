//! Sysctls, the settings netlink cannot change: IPv6 on an interface is switched by
//! `/proc/sys/net/ipv6/conf/IF/disable_ipv6` only, and a namespace's forwarding by
//! `/proc/sys/net/ipv4/ip_forward` and `…/ipv6/conf/all/forwarding`. These files show the namespace
//! of the thread that opens them, so they are opened from inside the guest.

use super::Ns;
use crate::error::Result;

impl Ns<'_> {
    /// Make sure IPv6 is on for this one interface (the guest's other interfaces and its `all` /
    /// `default` settings stay as they are). Returns true when it had been disabled — Docker, for
    /// one, starts `--net=none` containers with `disable_ipv6=1`. A kernel without IPv6 has no
    /// such file; the address request then fails with its own message.
    pub fn enable_ipv6(&self, ifname: &str) -> Result<bool> {
        crate::parse::ifname(ifname)?;
        let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
        let flip = move || -> std::io::Result<bool> {
            let now = match std::fs::read_to_string(&path) {
                Ok(v) => v,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            };
            if now.trim() == "0" {
                return Ok(false);
            }
            // A fresh open: numeric sysctls take writes at offset 0 only (sysctl_writes_strict).
            std::fs::write(&path, b"0")?;
            Ok(true)
        };
        let on = self
            .guest
            .inside(&format!("enabling IPv6 on {ifname}"), flip)?;
        if on {
            self.log(&format!("enable IPv6 on {ifname} (it was disabled)"));
        }
        Ok(on)
    }

    /// Make the namespace a router (or stop it being one): IPv4 and IPv6 forwarding. Returns the
    /// files that changed. A kernel without IPv6 has no IPv6 file; it is skipped.
    pub fn set_forwarding(&self, on: bool) -> Result<Vec<&'static str>> {
        const FILES: [&str; 2] = [
            "/proc/sys/net/ipv4/ip_forward",
            "/proc/sys/net/ipv6/conf/all/forwarding",
        ];
        let want = if on { "1" } else { "0" };
        let flip = move || -> std::io::Result<Vec<&'static str>> {
            let mut changed = vec![];
            for f in FILES {
                match std::fs::read_to_string(f) {
                    Ok(v) if v.trim() == want => {}
                    Ok(_) => {
                        std::fs::write(f, want)?;
                        changed.push(f);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(changed)
        };
        let changed = self.guest.inside("setting forwarding", flip)?;
        for f in &changed {
            self.log(&format!("{f} = {want}"));
        }
        Ok(changed)
    }
}
