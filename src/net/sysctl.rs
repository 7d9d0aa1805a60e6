//! Per-interface sysctls, the one kind of setting netlink cannot change: IPv6 on an interface is
//! switched by `/proc/sys/net/ipv6/conf/IF/disable_ipv6` only. That file shows the namespace of the
//! thread that opens it, so it is opened from inside the guest.

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
}
