//! The pod's network namespace, pinned by a bind mount in `/run/netns`
//! (where `ip netns` finds it), so that the plugins, `rkt enter` and the
//! gc entrypoint reach it whatever becomes of the pod's processes.

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Where pod `uuid`'s namespace is pinned.
pub fn pin_path(uuid: &str) -> PathBuf {
    Path::new("/run/netns").join(format!("rkt-{uuid}"))
}

/// A new network namespace, pinned at `pin`, without this process
/// staying in it. (stage1's supervisor is single-threaded here, so its
/// own namespace can be switched and back.)
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
        .map_err(|e| err("pinning the network namespace at", &e));
        setns(&host, CloneFlags::CLONE_NEWNET)
            .map_err(|e| format!("back to the host's network namespace: {e}"))?;
        pinned
    })();
    if made.is_err() {
        let _ = std::fs::remove_file(pin);
    }
    made
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
