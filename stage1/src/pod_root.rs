//! The pod's own root. The init binds the pod's stage1 root
//! (`stage1/rootfs` in the pod directory) on itself in the pod's mount
//! namespace, mounts the apps' roots below it (`opt/stage2/<app>/rootfs`,
//! rkt's layout), makes it read-only but for the status directory
//! (`rkt/status`) and pivot_roots into it, detaching the host's root: from
//! then on no path of the init, nor of anything it starts, leads to the
//! host's file system. Each app then pivot_roots again, in a mount
//! namespace of its own, into its own root (see [`crate::exec`]).

use crate::init::path_str;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use pod::dir::STATUS;
use std::path::Path;

/// Binds the stage1 root on itself, so that the apps' roots, mounted
/// below it next, make one tree that can become the init's root.
pub fn bind(stage1_root: &Path) -> Result<(), String> {
    let p = path_str(stage1_root);
    mount(
        Some(p.as_str()),
        stage1_root,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("binding the pod's root {p}: {e}"))?;
    // Nothing here is run from the stage1 root itself.
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(None::<&str>, stage1_root, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("binding the pod's root {p}: {e}"))
}

/// Makes the stage1 root read-only but for its status directory, and
/// moves the calling process into it.
pub fn enter(stage1_root: &Path) -> Result<(), String> {
    let status = stage1_root.join(STATUS);
    std::fs::create_dir_all(&status).map_err(|e| format!("{}: {e}", path_str(&status)))?;
    let s = path_str(&status);
    mount(
        Some(s.as_str()),
        &status,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| format!("binding {s}: {e}"))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    mount(None::<&str>, stage1_root, None::<&str>, flags, None::<&str>)
        .map_err(|e| format!("making the pod's root read-only: {e}"))?;
    pivot_into(stage1_root)
}

/// Makes the mount at `dir` the root of this mount namespace and of the
/// calling process, and detaches the old root with every mount under it:
/// afterwards nothing outside `dir` can be reached by any path, `..` and
/// chroot() included.
pub fn pivot_into(dir: &Path) -> Result<(), String> {
    let err = |what: &str, e: nix::Error| format!("{what} {}: {e}", path_str(dir));
    nix::unistd::chdir(dir).map_err(|e| err("entering", e))?;
    // The old root is stacked on the new one at "."; unmounting "." then
    // takes it away (a put_old directory inside the new root is not needed).
    nix::unistd::pivot_root(".", ".").map_err(|e| err("pivot_root into", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| err("detaching the old root above", e))?;
    nix::unistd::chdir("/").map_err(|e| err("entering", e))
}
