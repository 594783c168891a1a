//! Volumes mounted into an app: `host` (a host path, bound, recursive by
//! default) and `empty` (a directory of the pod, shared by the apps that
//! mount it). Mount targets are created and opened inside the app's root
//! by [`RootDir`], so a symlink in the image cannot redirect a mount onto
//! the host.

use crate::args::Args;
use crate::init::path_str;
use crate::rootdir::{RootDir, fd_path, make_read_only_below, mount_on};
use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::Volume;
use appc::schema::types::volume::VolumeKind;
use nix::mount::MsFlags;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The pod directory of an empty volume, created with its mode and owner;
/// whether it was created now.
fn empty_dir(args: &Args, v: &Volume) -> Result<(PathBuf, bool), String> {
    let dir = args.pod_dir.volume(v.name.as_str());
    let create = !dir.exists();
    if create {
        let mode = u32::from_str_radix(v.mode.as_deref().unwrap_or("0755"), 8)
            .map_err(|_| format!("volume {}: bad mode", v.name))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(mode)
            .create(&dir)
            .map_err(|e| format!("{}: {e}", path_str(&dir)))?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .map_err(|e| format!("{}: {e}", path_str(&dir)))?;
        let (uid, gid) = (v.uid.unwrap_or(0) as u32, v.gid.unwrap_or(0) as u32);
        nix::unistd::chown(
            &dir,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| format!("{}: {e}", path_str(&dir)))?;
    }
    Ok((dir, create))
}

/// Fills a new implicit volume with what the image has at `target` (a
/// directory, resolved inside the root), owner and mode included, as
/// Docker fills a new volume. Nothing runs in the app yet, so the tree
/// copied is the image's as extracted.
fn fill_from_image(root: &RootDir, target: &str, volume: &Path) -> Result<(), String> {
    let Ok(fd) = root.resolve(target) else {
        return Ok(());
    };
    let is_dir = nix::sys::stat::fstat(&fd).is_ok_and(|st| {
        nix::sys::stat::SFlag::from_bits_truncate(st.st_mode) & nix::sys::stat::SFlag::S_IFMT
            == nix::sys::stat::SFlag::S_IFDIR
    });
    if !is_dir {
        return Ok(());
    }
    crate::copy::tree(&fd_path(&fd), volume)
}

/// Mounts the volumes `app` asks for into its root.
pub fn mount_all(
    args: &Args,
    volumes: &[Volume],
    app: &RuntimeApp,
    root: &Path,
) -> Result<(), String> {
    let root = RootDir::open(root)?;
    let implicit = args.pod_dir.read_implicit_volumes();
    for m in &app.mounts {
        let v = volumes
            .iter()
            .find(|v| v.name == m.volume)
            .ok_or_else(|| format!("app {}: no volume {}", app.name, m.volume))?;
        let (source, recursive) = match v.kind() {
            VolumeKind::Host => (PathBuf::from(&v.source), v.recursive.unwrap_or(true)),
            VolumeKind::Empty => {
                let (dir, created) = empty_dir(args, v)?;
                if created && implicit.iter().any(|i| i == v.name.as_str()) {
                    fill_from_image(&root, &m.path, &dir)
                        .map_err(|e| format!("app {}: volume {}: {e}", app.name, v.name))?;
                }
                (dir, false)
            }
        };
        let is_file = std::fs::metadata(&source)
            .map_err(|e| format!("volume {}: {}: {e}", v.name, path_str(&source)))?
            .is_file();
        let make = |root: &RootDir| {
            if is_file {
                root.make_file(&m.path)
            } else {
                root.mkdir_all(&m.path)
            }
        };
        let what = |e: String| format!("app {}: volume {} mount target: {e}", app.name, v.name);
        let target = make(&root).map_err(what)?;
        let mut flags = MsFlags::MS_BIND;
        if recursive {
            flags |= MsFlags::MS_REC;
        }
        let at = format!("{} (volume {})", m.path, v.name);
        mount_on(Some(&source), &target, None, flags, None, &at)?;
        let read_only = app
            .app
            .as_ref()
            .and_then(|a| a.mount_points.iter().find(|p| p.name == m.volume))
            .is_some_and(|p| p.read_only)
            || v.read_only.unwrap_or(false);
        if read_only {
            // The new mount (now on top at the target) and all below it.
            let fd = root.resolve(&m.path)?;
            make_read_only_below(&fd, &at)?;
        }
    }
    Ok(())
}
