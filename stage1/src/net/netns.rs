//! The pod's network namespace, pinned by a bind mount in `/run/netns`
//! (where `ip netns` finds it), so that the plugins, `rkt enter` and the
//! gc entrypoint reach it whatever becomes of the pod's processes.

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where pod `uuid`'s namespace is pinned.
pub fn pin_path(uuid: &str) -> PathBuf {
    Path::new("/run/netns").join(format!("rkt-{uuid}"))
}

/// A new network namespace, pinned at `pin`, with its loopback up,
/// without this process staying in it. (stage1's supervisor is
/// single-threaded here, so its own namespace can be switched and back.)
pub fn create(pin: &Path) -> Result<(), String> {
    let err = |what: &str, e: &dyn std::fmt::Display| format!("{what} {}: {e}", pin.display());
    if let Some(dir) = pin.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err("making the directory of", &e))?;
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(pin)
        .map_err(|e| err("creating", &e))?;
    let made = (|| {
        let host =
            File::open("/proc/self/ns/net").map_err(|e| err("the host's namespace for", &e))?;
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| err("a network namespace for", &e))?;
        let pinned = mount(
            Some("/proc/self/ns/net"),
            pin,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| err("pinning the network namespace at", &e))
        .and_then(|()| loopback_up());
        setns(&host, CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("back to the host's network namespace: {e}"))?;
        pinned
    })();
    if made.is_err() {
        let _ = std::fs::remove_file(pin);
    }
    made
}

/// Brings up `lo` in this process's network namespace (the kernel gives
/// it 127.0.0.1 and ::1 as it goes up), as rkt did itself: one ioctl
/// rather than the loopback plugin's process.
fn loopback_up() -> Result<(), String> {
    let err = |what: &str| {
        format!(
            "bringing up lo: {what}: {}",
            std::io::Error::last_os_error()
        )
    };
    // SAFETY: plain socket and ioctl calls on a zeroed ifreq that names
    // "lo"; the descriptor is owned (and closed) right away.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(err("socket"));
        }
        let sock = OwnedFd::from_raw_fd(fd);
        let mut req: libc::ifreq = std::mem::zeroed();
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo") {
            *dst = *src as libc::c_char;
        }
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(err("SIOCGIFFLAGS"));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(err("SIOCSIFFLAGS"));
        }
    }
    Ok(())
}

/// Moves this process into the namespace pinned at `pin`.
pub fn enter(pin: &Path) -> Result<(), String> {
    let ns = File::open(pin).map_err(|e| format!("{}: {e}", pin.display()))?;
    setns(&ns, CloneFlags::CLONE_NEWNET).map_err(|e| format!("joining {}: {e}", pin.display()))
}

/// Unpins and removes `pin`; nothing there is no error.
pub fn remove(pin: &Path) -> Result<(), String> {
    match umount2(pin, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(format!("unpinning {}: {e}", pin.display())),
    }
    match std::fs::remove_file(pin) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", pin.display()))
        }
        _ => Ok(()),
    }
}
