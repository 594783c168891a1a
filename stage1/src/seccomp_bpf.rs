//! A seccomp filter as a classic BPF program, assembled here and loaded
//! with seccomp(2): a list of syscall numbers and what a listed and an
//! unlisted call get. libseccomp only names the syscalls (see
//! `crate::seccomp`). Its filter contexts probe the kernel and build the
//! program in code that ran for about 15 ms of every app's start under
//! emulation. This is a dozen instructions plus two per listed syscall.
//!
//! Calls from another ABI than the native one (i386's `int 0x80`, x32 on
//! x86_64) kill the process, as libseccomp's filters did with one
//! architecture.

use libc::sock_filter;

/// The kernel's audit architecture of the native syscall ABI
/// (include/uapi/linux/audit.h).
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// x32 calls have x86_64's audit architecture and this bit set.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `struct seccomp_data`: the syscall number, then the architecture.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

/// What a call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(i32),
    KillProcess,
}

impl Action {
    fn ret(self) -> u32 {
        match self {
            Action::Allow => libc::SECCOMP_RET_ALLOW,
            Action::Errno(e) => libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA),
            Action::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        }
    }
}

fn stmt(code: u32, k: u32) -> sock_filter {
    jump(code, k, 0, 0)
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

fn ret(action: Action) -> sock_filter {
    stmt(libc::BPF_RET | libc::BPF_K, action.ret())
}

/// The program: `listed` syscalls (native numbers) get `on_listed`,
/// every other call `otherwise`.
pub fn assemble(listed: &[u32], on_listed: Action, otherwise: Action) -> Vec<sock_filter> {
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let mut p = vec![
        stmt(load, ARCH_OFFSET),
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            AUDIT_ARCH,
            1,
            0,
        ),
        ret(Action::KillProcess),
        stmt(load, NR_OFFSET),
    ];
    #[cfg(target_arch = "x86_64")]
    p.extend([
        jump(
            libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
            X32_SYSCALL_BIT,
            0,
            1,
        ),
        ret(Action::KillProcess),
    ]);
    // Each test skips its own return when the number differs: no jump is
    // longer than one instruction, however long the list.
    for nr in listed {
        p.push(jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, *nr, 0, 1));
        p.push(ret(on_listed));
    }
    p.push(ret(otherwise));
    p
}

/// Loads `program` as the calling thread's filter. Takes CAP_SYS_ADMIN
/// or no-new-privileges, as seccomp(2) has it.
pub fn load(program: &[sock_filter]) -> Result<(), String> {
    let len = u16::try_from(program.len())
        .map_err(|_| format!("seccomp filter: {} instructions", program.len()))?;
    let prog = libc::sock_fprog {
        len,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies the program during the call; `prog`
    // points at `program`, alive until then.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    if r != 0 {
        return Err(format!(
            "loading the seccomp filter: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};

    /// Runs `body` in a child with `program` loaded (no-new-privileges
    /// first, so that it needs no capability) and returns how it ended.
    fn in_child(program: &[sock_filter], body: fn() -> i32) -> WaitStatus {
        // SAFETY: the child makes only raw syscalls and exits.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                // SAFETY: prctl and _exit take no memory of ours.
                unsafe {
                    if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                        || load(program).is_err()
                    {
                        libc::_exit(99);
                    }
                    libc::_exit(body())
                }
            }
            ForkResult::Parent { child } => waitpid(child, None).unwrap(),
        }
    }

    fn getppid_errno() -> i32 {
        // SAFETY: getppid takes no arguments.
        let r = unsafe { libc::syscall(libc::SYS_getppid) };
        if r == -1 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        } else {
            0
        }
    }

    #[test]
    fn listed_calls_get_their_action() {
        let nr = libc::SYS_getppid as u32;
        let p = assemble(&[nr], Action::Errno(libc::ENOSYS), Action::Allow);
        let status = in_child(&p, getppid_errno);
        assert!(matches!(status, WaitStatus::Exited(_, e) if e == libc::ENOSYS));

        let p = assemble(&[nr], Action::KillProcess, Action::Allow);
        let status = in_child(&p, getppid_errno);
        assert!(matches!(status, WaitStatus::Signaled(_, Signal::SIGSYS, _)));
    }

    #[test]
    fn unlisted_calls_get_the_other_action() {
        // Only the calls the child still makes are let through.
        let allowed = [libc::SYS_exit_group as u32, libc::SYS_exit as u32];
        let p = assemble(&allowed, Action::Allow, Action::Errno(libc::EPERM));
        let status = in_child(&p, getppid_errno);
        assert!(matches!(status, WaitStatus::Exited(_, e) if e == libc::EPERM));
    }

    #[test]
    fn long_lists_fit() {
        let listed: Vec<u32> = (0..450).collect();
        let p = assemble(&listed, Action::Allow, Action::KillProcess);
        assert!(p.len() < 1024, "{} instructions", p.len());
        assert!(p.iter().all(|i| i.jt <= 1 && i.jf <= 1));
    }
}
