//! Loading a cgroup device program and attaching it to a v2 cgroup, by
//! the bpf(2) system call (no library: two commands are all it takes).

use super::devices::Insn;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const BPF_PROG_LOAD: nix::libc::c_long = 5;
const BPF_PROG_ATTACH: nix::libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs attached above (systemd's, for a unit with a device policy)
/// keep running too: each must allow an access.
const BPF_F_ALLOW_MULTI: u32 = 2;

/// `union bpf_attr`, as bytes: each command reads its own fields from
/// the start, and the kernel requires the rest to be zero.
#[repr(C, align(8))]
struct Attr([u8; 128]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 128])
    }
    fn u32_at(&mut self, offset: usize, value: u32) -> &mut Attr {
        self.0[offset..offset + 4].copy_from_slice(&value.to_ne_bytes());
        self
    }
    fn u64_at(&mut self, offset: usize, value: u64) -> &mut Attr {
        self.0[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
        self
    }
}

fn bpf(cmd: nix::libc::c_long, attr: &Attr) -> std::io::Result<i64> {
    // SAFETY: attr is a bpf_attr of the size passed, and every pointer in
    // it points to memory that outlives the call.
    let r = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_bpf,
            cmd,
            attr as *const Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Attaches `prog` to the v2 cgroup `dir`, where it stays until the
/// cgroup is removed.
pub fn attach_device_program(dir: &Path, prog: &[Insn]) -> Result<(), String> {
    let license = c"Apache-2.0";
    let mut load = Attr::new();
    load.u32_at(0, BPF_PROG_TYPE_CGROUP_DEVICE)
        .u32_at(4, prog.len() as u32)
        .u64_at(8, prog.as_ptr() as u64)
        .u64_at(16, license.as_ptr() as u64);
    let fd = bpf(BPF_PROG_LOAD, &load).map_err(|e| format!("loading the device program: {e}"))?;
    // SAFETY: a new descriptor the kernel just returned, owned here.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let cgroup = std::fs::File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut attach = Attr::new();
    attach
        .u32_at(0, cgroup.as_raw_fd() as u32)
        .u32_at(4, prog_fd.as_raw_fd() as u32)
        .u32_at(8, BPF_CGROUP_DEVICE)
        .u32_at(12, BPF_F_ALLOW_MULTI);
    bpf(BPF_PROG_ATTACH, &attach)
        .map(drop)
        .map_err(|e| format!("{}: attaching the device program: {e}", dir.display()))
}
