//! The pod's supervisor and init as the stop and enter entrypoints reach
//! them: through pidfds, never by a bare pid. The pids in the pod
//! directory are opened as pidfds, then checked to still be the pod's
//! (the pod's lock is held, so its supervisor lives; the init is that
//! supervisor's child; both pidfds still refer to live processes after
//! the check). Signals and `setns` then go through the pidfds: a pid
//! reused after the pod ended is never signalled nor entered.

use nix::errno::Errno;
use pod::PodDir;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// A process of the pod, held by a pidfd.
pub struct PodProcess {
    pidfd: OwnedFd,
    pid: i32,
}

/// The pod's supervisor and init, checked.
pub struct PodProcesses {
    pub supervisor: PodProcess,
    pub init: PodProcess,
}

fn read_pid(path: &Path) -> Result<i32, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    text.trim()
        .parse()
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("{file}: not a process id: {text:?}"))
}

fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags, no memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: a new descriptor the kernel just returned, owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The parent pid /proc gives for `pid`.
fn parent_of(pid: i32) -> Option<i32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Whether the pod directory's lock is held (by its supervisor).
fn locked(dir: &Path) -> Result<bool, String> {
    let f = File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    match f.try_lock_shared() {
        Ok(()) => Ok(false),
        Err(std::fs::TryLockError::WouldBlock) => Ok(true),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", dir.display())),
    }
}

impl PodProcesses {
    /// The processes of the running pod whose directory is `pod_dir`.
    pub fn of(pod_dir: &PodDir) -> Result<PodProcesses, String> {
        let gone = || "the pod is not running (its processes have ended)".to_string();
        let (supervisor_pid, init_pid) = (read_pid(&pod_dir.ppid())?, read_pid(&pod_dir.pid())?);
        let open = |pid| pidfd_open(pid).map_err(|_| gone());
        let supervisor = PodProcess {
            pidfd: open(supervisor_pid)?,
            pid: supervisor_pid,
        };
        let init = PodProcess {
            pidfd: open(init_pid)?,
            pid: init_pid,
        };
        // Held: the supervisor lives, so its pid is its own; the init's
        // parent read after both pidfds were opened, both still alive
        // after it was read: those pidfds are the pod's processes.
        let ours = locked(pod_dir.path())?
            && parent_of(init_pid) == Some(supervisor_pid)
            && supervisor.alive()
            && init.alive();
        if !ours {
            return Err(format!(
                "{} (pid {init_pid}) is not the pod's init: {}",
                pod_dir.pid().display(),
                gone()
            ));
        }
        Ok(PodProcesses { supervisor, init })
    }
}

impl PodProcess {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal` to this process (and no other, whatever its pid
    /// has become).
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> Result<(), String> {
        self.send(signal as i32)
            .map_err(|e| format!("signalling {}: {e}", self.pid))
    }

    fn alive(&self) -> bool {
        self.send(0).is_ok()
    }

    fn send(&self, signal: i32) -> Result<(), Errno> {
        // SAFETY: pidfd_send_signal with no siginfo (null) and no flags.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r != 0 {
            return Err(Errno::last());
        }
        Ok(())
    }

    /// Joins this process's namespaces `flags`, all at once (setns on a
    /// pidfd).
    pub fn join(&self, flags: nix::sched::CloneFlags) -> Result<(), String> {
        nix::sched::setns(&self.pidfd, flags)
            .map_err(|e| format!("joining the namespaces of {}: {e}", self.pid))
    }
}
