//! The one thread that enters network namespaces. A socket stays bound to the namespace of the
//! thread that opens it, and `unshare` makes a namespace for the calling thread only; both must be
//! done by a thread that is *in* the namespace. Spawning a thread for each of them costs a clone,
//! a stack and a join per guest (two per attach into a namespace we also create); instead one
//! worker, started on first use, enters the namespace a job names, runs the job, and goes home
//! again before the next. Jobs are short (open a socket, make a namespace); a long wait inside a
//! guest (a TCP connect) keeps its own scoped thread (`Guest::run_inside`), so it cannot hold up
//! every other guest's socket.
//!
//! If the worker ever fails to get home, it retires instead of running a job in the wrong
//! namespace; the next job starts a new one.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use nix::sched::{setns, unshare, CloneFlags};

/// Where a job runs.
pub enum Where {
    /// An existing namespace, by its nsfs fd.
    Existing(Arc<OwnedFd>),
    /// A namespace made for this job (`unshare`); it lives on only if the job pins it (a bind
    /// mount, an fd, a socket).
    New,
}

type Job = Box<dyn FnOnce(std::io::Result<()>) + Send>;

static WORKER: Mutex<Option<Sender<(Where, Job)>>> = Mutex::new(None);

fn spawn() -> std::io::Result<Sender<(Where, Job)>> {
    let (tx, rx) = channel::<(Where, Job)>();
    // Opened here, by the spawning thread, whose namespace the worker inherits and returns to.
    let home = File::open("/proc/thread-self/ns/net")?;
    std::thread::Builder::new()
        .name("netns-hop".into())
        .spawn(move || serve(home, rx))?;
    Ok(tx)
}

fn serve(home: File, rx: Receiver<(Where, Job)>) {
    for (into, job) in rx {
        let entered = match &into {
            Where::Existing(fd) => setns(fd.as_fd(), CloneFlags::CLONE_NEWNET),
            Where::New => unshare(CloneFlags::CLONE_NEWNET),
        };
        let away = entered.is_ok() || matches!(into, Where::New);
        job(entered.map_err(std::io::Error::from));
        if away && setns(home.as_fd(), CloneFlags::CLONE_NEWNET).is_err() {
            return; // never run another job from the wrong namespace
        }
    }
}

/// A job handed to the worker; `wait` for its answer.
pub struct Pending<T>(Receiver<std::io::Result<T>>);

impl<T> Pending<T> {
    pub fn wait(self) -> std::io::Result<T> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the namespace worker stopped")))
    }
}

/// Start `f` inside `into` on the worker, without waiting for it.
pub fn start<T: Send + 'static>(
    into: Where,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Pending<T> {
    let (reply, answer) = channel();
    let job: Job = Box::new(move |entered| {
        let r = entered.and_then(|()| f());
        let _ = reply.send(r);
    });
    let mut worker = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    let mut job = Some((into, job));
    // Two tries: a retired worker's channel is closed; the second goes to a fresh one.
    for _ in 0..2 {
        let tx = match worker.as_ref() {
            Some(tx) => tx.clone(),
            None => match spawn() {
                Ok(tx) => {
                    *worker = Some(tx.clone());
                    tx
                }
                Err(e) => {
                    let (tx, rx) = channel();
                    let _ = tx.send(Err(e));
                    return Pending(rx);
                }
            },
        };
        match tx.send(job.take().expect("a job is sent once")) {
            Ok(()) => return Pending(answer),
            Err(back) => {
                job = Some(back.0);
                *worker = None;
            }
        }
    }
    Pending(answer) // its sender went with the job: wait() reports the worker stopped
}

/// Run `f` inside `into` on the worker and wait for it.
pub fn run<T: Send + 'static>(
    into: Where,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    start(into, f).wait()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn here() -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/thread-self/ns/net")
            .map(|m| m.ino())
            .unwrap_or(0)
    }

    #[test]
    fn jobs_run_where_told_and_the_worker_comes_home() {
        let home = here();
        // Without the privilege to make a namespace (a plain `cargo test`), the error comes back.
        match run(Where::New, || Ok(here())) {
            Ok(new) => assert_ne!(new, home, "a new namespace"),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}"),
        }
        let fd = Arc::new(OwnedFd::from(
            File::open("/proc/thread-self/ns/net").unwrap(),
        ));
        assert_eq!(run(Where::Existing(fd), || Ok(here())).unwrap(), home);
        // Many jobs in flight at once each get their answer.
        let pending: Vec<_> = (0..50u32)
            .map(|i| start(Where::New, move || Ok(i)))
            .collect();
        for (i, p) in pending.into_iter().enumerate() {
            match p.wait() {
                Ok(v) => assert_eq!(v as usize, i),
                Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
            }
        }
    }
}
