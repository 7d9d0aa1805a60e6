//! Guests: named namespaces (created and recorded as ours), processes, containers, and running
//! programs inside them.

use super::*;

/// Result of running a program inside a guest.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    /// A named namespace, created (and marked as ours) if missing; its loopback is brought up.
    pub fn netns(&self, name: &str) -> Result<Guest> {
        if let Some(g) = Guest::open_netns(name)? {
            return Ok(g);
        }
        if self.nl.verbose {
            eprintln!("netns: create {name}");
        }
        let (g, made, sock) = Guest::create_netns(name, &self.owner())?;
        if !made {
            return Ok(g);
        }
        let setup = (|| {
            let ns = match sock {
                Some(sock) => self.nl.adopt(&g, sock)?,
                None => self.nl.ns(&g)?,
            };
            // The loopback is interface 1 in every namespace (LOOPBACK_IFINDEX): no look-up.
            ns.set_link(1, "lo", &crate::net::link_up())
        })();
        if let Err(e) = setup {
            self.nl.forget(&g);
            let _ = Guest::delete_netns(name);
            return Err(e.context(format!("creating netns {name}")));
        }
        self.record(Created::Netns(name.to_string(), g.id));
        Ok(g)
    }

    /// Resolve a guest from text, as recipes and the command line receive it: `netns:NAME`, `pid:N`,
    /// `container:NAME`, `lxc:NAME`, `host`, or a bare name — resolved as the classic command line
    /// resolves it (a container of that name, then an LXC one, then a named namespace), and only
    /// when none exists, a namespace created for it, which a note says. So `pipework run lamp
    /// web=apache` wires the `apache` container the original README's example starts.
    pub fn guest(&self, spec: &str) -> Result<Guest> {
        match guest::Spec::parse(spec)? {
            guest::Spec::Bare(n) => match self.find_bare(n)? {
                Ok(g) => Ok(g),
                Err(_) => {
                    let g = self.netns(n)?;
                    eprintln!(
                        "pipework: note: no container or namespace is named {n}: created network namespace {n}"
                    );
                    Ok(g)
                }
            },
            guest::Spec::Netns(n) => self.netns(n),
            guest::Spec::Pid(p) => Guest::pid(p),
            guest::Spec::Container(n) => self.container(n),
            guest::Spec::Lxc(n) => self.lxc(n),
            guest::Spec::Path(p) => Guest::at_path(std::path::Path::new(p)),
            guest::Spec::Host => Ok(self.host()),
        }
    }

    /// A Docker or podman container by name or id: Docker first, then podman.
    pub fn container(&self, name: &str) -> Result<Guest> {
        use crate::containers::Lookup;
        let docker = match crate::containers::docker(&self.nl, name)? {
            Lookup::Found(g) => return Ok(g),
            Lookup::Unknown(why) => why,
        };
        match crate::containers::podman(&self.nl, name)? {
            Lookup::Found(g) => Ok(g),
            Lookup::Unknown(why) => Err(Error::guest(
                format!("container:{name}"),
                format!("not found: {docker}; {why}"),
            )),
        }
    }

    /// An LXC container by name.
    pub fn lxc(&self, name: &str) -> Result<Guest> {
        match crate::containers::lxc(name)? {
            crate::containers::Lookup::Found(g) => Ok(g),
            crate::containers::Lookup::Unknown(why) => Err(Error::guest(
                format!("lxc:{name}"),
                format!("not found: {why}"),
            )),
        }
    }

    /// Resolve a guest that must already exist (the classic command line: a typo must not create a
    /// namespace). Explicit kinds (`netns:`, `pid:`, `container:`/`docker:`, `lxc:`) or, for a bare
    /// name, wherever it lives: Docker, then podman, then an LXC cgroup, then a named netns.
    pub fn guest_existing(&self, spec: &str) -> Result<Guest> {
        let g = self.find_existing(spec);
        if let Ok(g) = &g {
            self.nl.trace(format_args!("guest {spec} is {g}"));
        }
        g
    }

    fn find_existing(&self, spec: &str) -> Result<Guest> {
        match guest::Spec::parse(spec)? {
            guest::Spec::Netns(n) => {
                Guest::open_netns(n)?.ok_or_else(|| Error::not_found("network namespace", n, None))
            }
            // These kinds resolve only what exists anyway.
            guest::Spec::Pid(_)
            | guest::Spec::Container(_)
            | guest::Spec::Lxc(_)
            | guest::Spec::Path(_) => self.guest(spec),
            guest::Spec::Host => Ok(self.host()),
            guest::Spec::Bare(n) => self
                .find_bare(n)?
                .map_err(|why| Error::guest(spec, format!("not found: {why}"))),
        }
    }

    /// A bare name wherever it lives: Docker, then podman, then an LXC cgroup, then a named netns.
    /// The outer error is a lookup that failed (a frozen daemon); the inner one says where the
    /// name was looked for, in vain.
    fn find_bare(&self, spec: &str) -> Result<std::result::Result<Guest, String>> {
        use crate::containers::Lookup;
        // In order, each asked only when the one before does not know the name: Docker answers
        // the common case, and an LXC walk of the cgroup tree beside it (it was once run in
        // parallel) only competed with dockerd for the CPU (0.3 ms of a 5 ms attach here).
        let docker = match crate::containers::docker(&self.nl, spec)? {
            Lookup::Found(g) => return Ok(Ok(g)),
            Lookup::Unknown(why) => why,
        };
        let podman = match crate::containers::podman(&self.nl, spec)? {
            Lookup::Found(g) => return Ok(Ok(g)),
            Lookup::Unknown(why) => why,
        };
        let lxc = match crate::containers::lxc(spec)? {
            Lookup::Found(g) => return Ok(Ok(g)),
            Lookup::Unknown(why) => why,
        };
        Ok(match Guest::open_netns(spec) {
            Ok(Some(g)) => Ok(g),
            _ => Err(format!(
                "{docker}; {podman}; {lxc}; no named network namespace either"
            )),
        })
    }

    pub fn delete_netns(&self, g: &Guest) -> Result<()> {
        let name = g
            .name()
            .ok_or_else(|| Error::guest(g, "only named namespaces can be deleted"))?;
        self.nl.forget(g);
        Guest::delete_netns(name)?;
        self.journal
            .borrow_mut()
            .retain(|c| !matches!(c, Created::Netns(n, _) if n == name));
        Ok(())
    }

    /// Delete a namespace this session created — if it still is that namespace.
    pub(super) fn undo_netns(&self, name: &str, id: crate::guest::NsId) -> Option<String> {
        let g = Guest::open_netns(name)
            .ok()
            .flatten()
            .filter(|g| g.id == id)?;
        match self.delete_netns(&g) {
            Ok(()) => Some(format!("netns {name}")),
            Err(e) => {
                eprintln!("pipework: rollback: {e}");
                None
            }
        }
    }

    /// Run a program inside the guest's network namespace (argument vector, never a shell).
    pub fn exec(&self, guest: &Guest, argv: &[String]) -> Result<ExecOutput> {
        if self.nl.verbose {
            eprintln!("exec [{guest}] {argv:?}");
        }
        let out = guest
            .command(argv)?
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::guest(guest, format!("running {:?}: {e}", argv[0])))?;
        Ok(ExecOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}
