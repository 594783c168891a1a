//! fork(2), with the child started in a cgroup-v2 directory where the
//! kernel can (clone3's `CLONE_INTO_CGROUP`, Linux 5.7): the supervisor
//! starts the pod init in the pod's cgroup this way. A process moved by a
//! write to `cgroup.procs` instead takes the write side of the kernel's
//! cgroup threadgroup lock, which waits for an RCU grace period (15-20 ms
//! under emulation, milliseconds natively). Where clone3 or the flag is
//! refused (older kernels, a seccomp filter around rkt), it is an
//! ordinary fork and the child is moved by a write.
//!
//! The pod init starts only its first process this way (see
//! `PodCgroups::first_start`); the others join their cgroups by writing,
//! since from a cgroup directory held open `..` leads through the host's
//! hierarchy (see `PodCgroups::app_procs`).

use nix::unistd::{ForkResult, Pid, fork};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Not yet in libc's constants as a 64-bit flag (include/uapi/linux/sched.h).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Each side learns whether the child started in the directory asked for.
pub enum Forked {
    Child { in_cgroup: bool },
    Parent { child: Pid, in_cgroup: bool },
}

/// Forks, the child starting in the cgroup `cgroup` (a directory of the
/// unified hierarchy) when the kernel takes it.
///
/// # Safety
/// As `fork`: the caller is single-threaded. Unlike glibc's fork, no
/// atfork handlers run and glibc's record of the thread's id keeps the
/// parent's; neither matters to a single-threaded process whose child
/// execs or exits (glibc asks the kernel for the id where it signals
/// itself).
pub unsafe fn fork_into(cgroup: Option<BorrowedFd<'_>>) -> Result<Forked, String> {
    if let Some(dir) = cgroup {
        // SAFETY: clone_args is plain integers; zero is "unused" for each.
        let mut args: libc::clone_args = unsafe { std::mem::zeroed() };
        args.flags = CLONE_INTO_CGROUP;
        args.exit_signal = libc::SIGCHLD as u64;
        args.cgroup = dir.as_raw_fd() as u64;
        // SAFETY: without CLONE_VM or a stack, clone3 is fork: the child
        // goes on with a copy of this process's memory (see above).
        let r = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &mut args as *mut libc::clone_args,
                std::mem::size_of::<libc::clone_args>(),
            )
        };
        match r {
            0 => return Ok(Forked::Child { in_cgroup: true }),
            pid if pid > 0 => {
                return Ok(Forked::Parent {
                    child: Pid::from_raw(pid as i32),
                    in_cgroup: true,
                });
            }
            // Refused: an ordinary fork, and the child writes.
            _ => {}
        }
    }
    // SAFETY: as this function's own contract.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => Ok(Forked::Child { in_cgroup: false }),
        ForkResult::Parent { child } => Ok(Forked::Parent {
            child,
            in_cgroup: false,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::wait::{WaitStatus, waitpid};

    /// A child asked to start in a directory that is not a cgroup is
    /// still forked, as with fork, and both know it is not in one.
    #[test]
    fn falls_back_to_fork() {
        let dir = std::fs::File::open("/").unwrap();
        // SAFETY: the test's child only exits.
        match unsafe { fork_into(Some(std::os::fd::AsFd::as_fd(&dir))) }.unwrap() {
            Forked::Child { in_cgroup } => {
                // SAFETY: exits at once, without unwinding into the test harness.
                unsafe { libc::_exit(if in_cgroup { 1 } else { 7 }) }
            }
            Forked::Parent { child, in_cgroup } => {
                assert!(!in_cgroup);
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 7));
            }
        }
    }
}
