//! One error type for the whole tool. Every variant says *what* we were doing and *where* (which guest,
//! which interface, which netlink operation), so a user reading one line knows what to fix.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that can never work (bad CIDR, MAC, name, option key): detected before touching the kernel.
    #[error("invalid {what} {value:?}: {why}")]
    Invalid {
        what: &'static str,
        value: String,
        why: String,
    },

    /// The kernel refused a netlink request.
    #[error("{op} in {ns}: {}", errno_text(*.errno, .detail))]
    Netlink {
        op: String,
        ns: String,
        errno: Option<i32>,
        detail: String,
    },

    /// A guest (namespace, process, container) could not be resolved or used.
    #[error("guest {guest}: {msg}")]
    Guest { guest: String, msg: String },

    /// Something we expected to exist does not (bridge, interface, namespace).
    #[error("{what} {name:?} not found{}", in_ns(.ns))]
    NotFound {
        what: &'static str,
        name: String,
        ns: Option<String>,
    },

    /// The wanted object exists but in a shape we must not silently change.
    #[error("{0}")]
    Conflict(String),

    /// Something we waited for did not happen in time (an interface, a DHCP server, a port).
    #[error("{0}")]
    Timeout(String),

    /// The process lacks the privileges plumbing needs (root, or the capabilities named).
    #[error("{0}")]
    Privilege(String),

    /// The user stopped the run (SIGINT, SIGTERM) while a timeline played.
    #[error("{0}")]
    Interrupted(String),

    /// A program or service pipework drives (ovs-vsctl, a DHCP client, a DHCP server) failed or
    /// refused; the message carries its own words.
    #[error("{tool}: {msg}")]
    External { tool: String, msg: String },

    #[error("{ctx}: {source}")]
    Io {
        ctx: String,
        #[source]
        source: std::io::Error,
    },

    /// An error with an outer layer of context ("attaching web to br1: …").
    #[error("{ctx}: {source}")]
    Context {
        ctx: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The kind of failure, one word a script can tell apart (`catch (e) { if e.kind == "timeout" … }`):
    /// invalid, netlink, guest, not_found, conflict, timeout, privilege, interrupted, external, io.
    /// Context layers keep the kind of what they wrap.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid",
            Error::Netlink { .. } => "netlink",
            Error::Guest { .. } => "guest",
            Error::NotFound { .. } => "not_found",
            Error::Conflict(_) => "conflict",
            Error::Timeout(_) => "timeout",
            Error::Privilege(_) => "privilege",
            Error::Interrupted(_) => "interrupted",
            Error::External { .. } => "external",
            Error::Io { .. } => "io",
            Error::Context { source, .. } => source.kind(),
        }
    }

    pub fn external(tool: impl fmt::Display, msg: impl fmt::Display) -> Self {
        Error::External {
            tool: tool.to_string(),
            msg: msg.to_string(),
        }
    }
}

fn in_ns(ns: &Option<String>) -> String {
    ns.as_ref().map(|n| format!(" in {n}")).unwrap_or_default()
}

fn errno_text(errno: Option<i32>, detail: &str) -> String {
    let Some(e) = errno else {
        return detail.to_string();
    };
    let errno = nix::errno::Errno::from_raw(e);
    let hint = match errno {
        nix::errno::Errno::EPERM => " (pipework needs root / CAP_NET_ADMIN)",
        nix::errno::Errno::EOPNOTSUPP => {
            " (the running kernel lacks this feature; is the module loaded?)"
        }
        nix::errno::Errno::EEXIST => " (an object with that name already exists)",
        nix::errno::Errno::ENODEV => " (no such device)",
        nix::errno::Errno::ENETUNREACH => {
            " (the gateway is not on any connected subnet of that interface)"
        }
        _ => "",
    };
    format!("{} ({}){hint}", errno.desc(), errno)
}

impl Error {
    pub fn invalid(what: &'static str, value: impl fmt::Display, why: impl fmt::Display) -> Self {
        Error::Invalid {
            what,
            value: value.to_string(),
            why: why.to_string(),
        }
    }

    pub fn io(ctx: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            ctx: ctx.to_string(),
            source,
        }
    }

    pub fn guest(guest: impl fmt::Display, msg: impl fmt::Display) -> Self {
        Error::Guest {
            guest: guest.to_string(),
            msg: msg.to_string(),
        }
    }

    pub fn not_found(what: &'static str, name: impl fmt::Display, ns: Option<String>) -> Self {
        Error::NotFound {
            what,
            name: name.to_string(),
            ns,
        }
    }

    /// Netlink failure from rtnetlink, keeping the errno so callers can test for EEXIST/ENOENT.
    pub fn netlink(op: impl fmt::Display, ns: impl fmt::Display, err: rtnetlink::Error) -> Self {
        let (errno, detail) = match &err {
            rtnetlink::Error::NetlinkError(m) => (m.code.map(|c| -c.get()), String::new()),
            other => (None, other.to_string()),
        };
        Error::Netlink {
            op: op.to_string(),
            ns: ns.to_string(),
            errno,
            detail,
        }
    }

    pub fn context(self, ctx: impl fmt::Display) -> Self {
        Error::Context {
            ctx: ctx.to_string(),
            source: Box::new(self),
        }
    }

    /// The errno of the innermost netlink failure, if that is what this is.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Netlink { errno, .. } => *errno,
            Error::Context { source, .. } => source.errno(),
            Error::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// `.ctx("…")` on results, like anyhow's `context` but keeping our one error type.
pub trait ResultExt<T> {
    fn ctx(self, ctx: impl fmt::Display) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn ctx(self, ctx: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netlink_errors_explain_errno() {
        let e = Error::Netlink {
            op: "create veth vethA".into(),
            ns: "host".into(),
            errno: Some(libc::EEXIST),
            detail: String::new(),
        };
        let s = e.to_string();
        assert!(s.contains("create veth vethA in host"), "{s}");
        assert!(s.contains("EEXIST"), "{s}");
        assert!(s.contains("already exists"), "{s}");
        assert_eq!(e.context("attach").errno(), Some(libc::EEXIST));
    }
}
