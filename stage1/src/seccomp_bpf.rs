//! A seccomp filter as classic BPF: compiled by `seccompiler` (pure
//! Rust, Firecracker's) from syscall numbers and argument conditions,
//! loaded here with seccomp(2). (seccompiler's own loader would also set
//! no-new-privileges, which stays the app's choice.)
//!
//! Calls from another ABI than the native one (i386's `int 0x80`) kill
//! the process (seccompiler checks the architecture first); x32 calls on
//! x86_64, which share its architecture, are numbered apart and listed
//! apart (see [`x32`]).

use seccompiler::{SeccompAction, SeccompFilter, SeccompRule, TargetArch};
use std::collections::BTreeMap;

/// What a call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Allow,
    Errno(i32),
    KillProcess,
}

impl Action {
    fn seccompiler(self) -> SeccompAction {
        match self {
            Action::Allow => SeccompAction::Allow,
            Action::Errno(e) => SeccompAction::Errno(e as u32),
            Action::KillProcess => SeccompAction::KillProcess,
        }
    }
}

/// Syscall numbers and their rules (none: any call of it).
pub type Rules = BTreeMap<i64, Vec<SeccompRule>>;

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// x32 calls (x86_64's architecture, numbers with this bit set): the x32
/// number of each native one listed, and x32's own calls (512 to 547:
/// ptrace, process_vm_readv and the like among them), so that a listed
/// call is listed in both ABIs.
#[cfg(target_arch = "x86_64")]
pub fn x32(native: &[i64]) -> Vec<i64> {
    const X32_SYSCALL_BIT: i64 = 0x4000_0000;
    native
        .iter()
        .copied()
        .chain(512..=547)
        .map(|nr| nr | X32_SYSCALL_BIT)
        .collect()
}

#[cfg(not(target_arch = "x86_64"))]
pub fn x32(_: &[i64]) -> Vec<i64> {
    Vec::new()
}

/// The program: calls that match `rules` get `on_match`, every other
/// call `otherwise`.
pub fn compile(
    rules: Rules,
    on_match: Action,
    otherwise: Action,
) -> Result<Vec<libc::sock_filter>, String> {
    let filter = SeccompFilter::new(rules, otherwise.seccompiler(), on_match.seccompiler(), ARCH)
        .map_err(|e| format!("seccomp filter: {e}"))?;
    let program: seccompiler::BpfProgram = filter
        .try_into()
        .map_err(|e| format!("seccomp filter: {e}"))?;
    Ok(program
        .into_iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect())
}

/// Loads `program` as the calling thread's filter. Takes CAP_SYS_ADMIN
/// or no-new-privileges, as seccomp(2) has it.
pub fn load(program: &[libc::sock_filter]) -> Result<(), String> {
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
