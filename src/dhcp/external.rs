//! The classic forms `udhcpc`, `dhclient`, `dhcpcd` (and `-f`: keep the client running) run the
//! host's own client inside the guest's network namespace, like the original — but in a private
//! mount namespace where /etc/resolv.conf is a file of the guest's, so the client's script can never
//! rewrite the host's resolver. After a one-shot client exits, what it wrote is copied into the
//! guest's resolv.conf (resolv::write decides where that is, or that it must not be written).

use super::resolv;
use crate::error::{Error, Result};
use crate::guest::{Guest, STATE_DIR};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct External {
    /// udhcpc, dhclient or dhcpcd.
    pub client: String,
    /// Leave the client running to renew the lease (the `-f` forms).
    pub keep: bool,
    /// Extra arguments for the client (`udhcpc:-t 5`), split on white space like the original.
    pub args: Vec<String>,
}

pub const CLIENTS: [&str; 3] = ["udhcpc", "dhclient", "dhcpcd"];

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The client's program, or a message saying how to install it.
pub fn check_installed(client: &str) -> Result<PathBuf> {
    if !CLIENTS.contains(&client) {
        return Err(Error::invalid(
            "DHCP client",
            client,
            format!("must be one of {}", CLIENTS.join(", ")),
        ));
    }
    find_program(client).ok_or_else(|| {
        let package = match client {
            "dhclient" => "isc-dhcp-client",
            "dhcpcd" => "dhcpcd-base",
            _ => "udhcpc",
        };
        Error::external(
            format!("DHCP client {client}"),
            format!("not installed on this host (Debian: apt install {package}); `dhcp` uses pipework's built-in client instead"),
        )
    })
}

pub(crate) fn state_dir(owner: &str) -> PathBuf {
    Path::new(STATE_DIR).join("dhcp").join(owner)
}

fn argv(e: &External, prog: &Path, ifname: &str, hostname: &str, pidfile: &Path) -> Vec<String> {
    let prog = prog.display().to_string();
    let pidfile = pidfile.display().to_string();
    // IPv4 unless the caller asked for DHCPv6 (`dhclient:-6`): then ours would contradict theirs.
    let six = e.args.iter().any(|a| a == "-6");
    let mut v: Vec<String> = match e.client.as_str() {
        // -n: give up instead of retrying forever; without -q it forks to the background once bound.
        "udhcpc" => {
            let mut v = vec![prog, "-n".into(), "-i".into(), ifname.into()];
            v.extend(["-x".into(), format!("hostname:{hostname}")]);
            v.extend(["-p".into(), pidfile]);
            if !e.keep {
                v.push("-q".into());
            }
            v
        }
        // -1: one attempt, then exit 2; once bound, dhclient daemonizes and renews.
        "dhclient" => {
            let leases = pidfile.replace(".pid", ".leases");
            let mut v = vec![prog, "-1".into()];
            if !six {
                v.push("-4".into());
            }
            v.extend(["-pf".into(), pidfile, "-lf".into(), leases]);
            v
        }
        _ => {
            let mut v = vec![prog];
            if !six {
                v.push("-4".into());
            }
            v.extend(["-q".into(), "-h".into(), hostname.into()]);
            if !e.keep {
                v.push("-1".into());
            }
            v
        }
    };
    v.extend(e.args.iter().cloned());
    if e.client != "udhcpc" {
        v.push(ifname.into());
    }
    v
}

/// The process a pid file of ours names: its pid, whether its command is `client`'s, and whether
/// it was started for this very file. PIDs get reused, and the same client may be running for
/// someone else; ours has this pid file on its command line (udhcpc -p, dhclient -pf, the
/// keeper's `--pidfile`), which a stranger with a recycled PID has not.
fn process_of(pidfile: &Path, client: &str) -> Option<(i32, bool, bool)> {
    let pid = std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())?;
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ours = pidfile.as_os_str().as_encoded_bytes();
    let started_for_this_file = cmdline.split(|b| *b == 0).any(|arg| arg == ours);
    Some((pid, comm.trim() == client, started_for_this_file))
}

/// The command a pid file of ours belongs to (`<…>.<client>.pid`; `pipework`: a lease keeper,
/// this very binary), or None for a file that is not one of ours.
fn comm_of(p: &Path) -> Option<String> {
    let name = p.file_name()?.to_string_lossy().to_string();
    let client = name.strip_suffix(".pid")?.rsplit('.').next()?.to_string();
    match client.as_str() {
        "pipework" => Some(own_comm()),
        c if CLIENTS.contains(&c) => Some(client),
        _ => None,
    }
}

/// The live process behind one of our pid files, if it is still the one we started.
pub(crate) fn live_pid(pidfile: &Path) -> Option<i32> {
    let comm = comm_of(pidfile)?;
    let (pid, is_client, started_here) = process_of(pidfile, &comm)?;
    (is_client && started_here).then_some(pid)
}

fn kill_pidfile(pidfile: &Path, client: &str) {
    let Some((pid, is_client, started_for_this_file)) = process_of(pidfile, client) else {
        return;
    };
    if is_client && !started_for_this_file {
        eprintln!(
            "pipework: pid {pid} in {} is a {client} that pipework did not start for it (PID reused?); left it running",
            pidfile.display()
        );
    }
    if is_client && started_for_this_file {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
        // Return once it is really gone (or a zombie waiting for its reaper): callers go on to
        // remove the interface and namespace it was using.
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            if stat.is_empty() || state.starts_with('Z') {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_file(pidfile);
}

/// Run `e` for `ifname` in `guest` (interface up, no address needed). Returns a one-line summary.
pub fn run(
    guest: &Guest,
    ifname: &str,
    hostname: &str,
    owner: &str,
    e: &External,
) -> Result<String> {
    let prog = check_installed(&e.client)?;
    let dir = state_dir(owner);
    std::fs::create_dir_all(&dir)
        .map_err(|err| Error::io(format!("creating {}", dir.display()), err))?;
    let pidfile = dir.join(format!("{}.{ifname}.{}.pid", guest.key(), e.client));
    // The file the client sees as /etc/resolv.conf: for a named netns the guest's own (the file
    // `ip netns exec` shows it); otherwise a scratch file, copied into the container's own
    // resolv.conf after a one-shot client (a file of another mount namespace cannot be bind-mounted
    // into ours). Seeded with the host's resolver so a lease without DNS changes nothing.
    let seed = std::fs::read("/etc/resolv.conf").unwrap_or_default();
    let netns_file = match resolv::target(guest) {
        resolv::Target::NetnsFile(p) => Some(p),
        _ => None,
    };
    let src = netns_file
        .clone()
        .unwrap_or_else(|| dir.join(format!("{}.{ifname}.resolv.conf", guest.key())));
    if let Some(d) = src.parent() {
        std::fs::create_dir_all(d)
            .map_err(|err| Error::io(format!("creating {}", d.display()), err))?;
    }
    // The client's script writes the namespace's own file: the session kept the user's first
    // (Session::keep_resolv).
    if netns_file.is_none() || !src.exists() {
        std::fs::write(&src, &seed)
            .map_err(|err| Error::io(format!("writing {}", src.display()), err))?;
    }
    let before = std::fs::read(&src).unwrap_or_default();

    let argv = argv(e, &prog, ifname, hostname, &pidfile);
    let mut cmd = guest.command(&argv)?;
    let src_c = CString::new(src.as_os_str().as_bytes())
        .map_err(|_| Error::invalid("path", src.display(), "contains a NUL byte"))?;
    // SAFETY: only async-signal-safe syscalls between fork and exec; strings prepared before.
    unsafe {
        cmd.pre_exec(move || {
            let root = c"/";
            let target = c"/etc/resolv.conf";
            // A UTS namespace of its own too: client scripts set the hostname a lease names
            // (dhcpcd's 30-hostname hook, dhclient's), which would be the host's.
            if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS) != 0
                || libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                ) != 0
                || libc::mount(
                    src_c.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // stderr goes to a file, not a pipe: a client that daemonizes could hold a pipe open forever.
    let errlog = dir.join(format!("{}.{ifname}.{}.log", guest.key(), e.client));
    let errfile = std::fs::File::create(&errlog)
        .map_err(|err| Error::io(format!("creating {}", errlog.display()), err))?;
    let status = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(errfile)
        .status()
        .map_err(|err| Error::guest(guest, format!("running {}: {err}", argv[0])))?;
    if !status.success() {
        kill_pidfile(&pidfile, &e.client);
        // The client's own words say why (no server, bad option); keep them where the user can look.
        let log = std::fs::read_to_string(&errlog).unwrap_or_default();
        let why = log
            .lines()
            .find(|l| {
                ["nknown", "rror", "nvalid", "ail", "o such"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .or_else(|| log.lines().rev().find(|l| !l.trim().is_empty()))
            .map(|l| format!(": {}", l.trim()))
            .unwrap_or_default();
        return Err(Error::external(
            format!("DHCP client {}", e.client),
            format!(
                "found no lease on {ifname} in {guest} ({status}){why} (full output: {})",
                errlog.display()
            ),
        ));
    }
    let _ = std::fs::remove_file(&errlog);
    if !e.keep {
        // dhclient stays behind once bound; one-shot means the lease is all we wanted. Its
        // daemonized child writes the pid file a moment after the parent exits: wait for it.
        if e.client == "dhclient" {
            for _ in 0..200 {
                if std::fs::read_to_string(&pidfile).is_ok_and(|p| !p.trim().is_empty()) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        kill_pidfile(&pidfile, &e.client);
    }
    if e.keep {
        // The client daemonized once bound; the daemon writes the pid file a moment after the
        // parent exits. A warden then stops it when the guest goes (a client in the guest's
        // namespace would keep it, and the host end of its veth, alive).
        for _ in 0..200 {
            if live_pid(&pidfile).is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if live_pid(&pidfile).is_some() {
            super::warden::spawn(guest, &pidfile)?;
        }
    }
    let mut summary = format!("{} configured {ifname} in {guest}", e.client);
    if e.keep {
        summary.push_str(&format!(
            " and keeps running (pid file {})",
            pidfile.display()
        ));
    }
    let after = std::fs::read(&src).unwrap_or_default();
    if after != before {
        let wrote = match &netns_file {
            Some(p) => Ok(p.display().to_string()),
            None => resolv::write(guest, &String::from_utf8_lossy(&after), owner)?,
        };
        match wrote {
            Ok(path) => summary.push_str(&format!("; DNS written to {path}")),
            Err(why) => summary.push_str(&format!("; DNS not written: {why}")),
        }
        if e.keep && netns_file.is_none() {
            summary.push_str(" (renewals update only the client's copy)");
        }
    }
    if netns_file.is_none() && !e.keep {
        let _ = std::fs::remove_file(&src);
    }
    if !e.keep {
        // Nothing of a one-shot client needs finding later.
        let _ = std::fs::remove_file(pidfile.with_extension("leases"));
        let _ = std::fs::remove_dir(&dir);
    }
    Ok(summary)
}

/// The command name of this very binary (`pipework`, or whatever it was installed as): what a
/// lease keeper's /proc/PID/comm says.
pub(crate) fn own_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "pipework".into())
}

/// Stop the process behind one of our pid files (`<…>.<client>.pid`; `pipework` for a lease
/// keeper). Returns whether the file named a process kind we start.
pub fn stop_pidfile(p: &Path) -> bool {
    let Some(comm) = comm_of(p) else {
        return false;
    };
    kill_pidfile(p, &comm);
    true
}

/// Stop, for every owner, the clients and lease keepers serving a guest process that is gone (a
/// container that died: pid files are named by the guest's PID, `KEY.IFNAME.CLIENT.pid`). A client
/// inside the namespace would keep it, and with it the host end of the veth, alive; a keeper would
/// only notice at its next renewal. Named namespaces are not judged here. Returns the pid files.
pub fn stop_orphaned() -> Vec<String> {
    let mut stopped = vec![];
    let root = Path::new(STATE_DIR).join("dhcp");
    let host_ns = crate::guest::NsId::of_path(Path::new("/proc/self/ns/net"));
    for dir in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        for entry in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(key) = name
                .split('.')
                .next()
                .filter(|k| k.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let guest_ns = crate::guest::NsId::of_path(Path::new(&format!("/proc/{key}/ns/net")));
            // A recycled PID is another process: a client living in a namespace other than the
            // one the PID now has serves a guest that is gone.
            let client_ns = live_pid(&p).and_then(|pid| {
                crate::guest::NsId::of_path(Path::new(&format!("/proc/{pid}/ns/net")))
            });
            let orphan = guest_ns.is_none()
                || (client_ns.is_some() && client_ns != host_ns && client_ns != guest_ns);
            if orphan {
                stop_pidfile(&p);
                let _ = std::fs::remove_file(&p);
                stopped.push(name);
            }
        }
    }
    stopped
}

/// Stop the clients and lease keepers left running for `owner` (teardown). Returns their pid files.
pub fn stop_owned(owner: &str) -> Vec<String> {
    let dir = state_dir(owner);
    let mut stopped = vec![];
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if stop_pidfile(&p) {
            stopped.push(
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .to_string(),
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    stopped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(client: &str, keep: bool) -> External {
        External {
            client: client.into(),
            keep,
            args: vec!["-v".into()],
        }
    }

    #[test]
    fn client_argv() {
        let pf = Path::new("/run/pipework/dhcp/o/x.eth1.udhcpc.pid");
        let a = argv(
            &ext("udhcpc", false),
            Path::new("/usr/sbin/udhcpc"),
            "eth1",
            "web",
            pf,
        );
        assert_eq!(
            a.join(" "),
            "/usr/sbin/udhcpc -n -i eth1 -x hostname:web -p /run/pipework/dhcp/o/x.eth1.udhcpc.pid -q -v"
        );
        let a = argv(&ext("udhcpc", true), Path::new("udhcpc"), "eth1", "web", pf);
        assert!(
            !a.contains(&"-q".to_string()),
            "keep-running form must not quit"
        );
        let a = argv(
            &ext("dhclient", true),
            Path::new("dhclient"),
            "eth2",
            "web",
            Path::new("/d/x.pid"),
        );
        assert_eq!(
            a.join(" "),
            "dhclient -1 -4 -pf /d/x.pid -lf /d/x.leases -v eth2"
        );
        let a = argv(
            &ext("dhcpcd", false),
            Path::new("dhcpcd"),
            "eth1",
            "web",
            pf,
        );
        assert_eq!(a.join(" "), "dhcpcd -4 -q -h web -1 -v eth1");
        // dhclient:-6 asks for DHCPv6: no -4 of ours to contradict it.
        let mut six = ext("dhclient", false);
        six.args = vec!["-6".into()];
        let a = argv(
            &six,
            Path::new("dhclient"),
            "eth1",
            "web",
            Path::new("/d/x.pid"),
        );
        assert_eq!(
            a.join(" "),
            "dhclient -1 -pf /d/x.pid -lf /d/x.leases -6 eth1"
        );
    }
}
