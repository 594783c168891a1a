//! Volumes mounted into an app: `host` (a host path, bound, recursive by
//! default) and `empty` (a directory of the pod, shared by the apps that
//! mount it). Mount targets are created and opened inside the app's root
//! with `openat2(RESOLVE_IN_ROOT)` and mounted on through
//! `/proc/self/fd/N`, so a symlink in the image cannot redirect a mount
//! onto the host.

use crate::args::Args;
use crate::init::path_str;
use appc::schema::pod_manifest::RuntimeApp;
use appc::schema::types::Volume;
use appc::schema::types::volume::VolumeKind;
use nix::mount::{MsFlags, mount};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn resolve_flags() -> nix::fcntl::ResolveFlag {
    nix::fcntl::ResolveFlag::RESOLVE_IN_ROOT | nix::fcntl::ResolveFlag::RESOLVE_NO_MAGICLINKS
}

fn openat2_in(root: &OwnedFd, rel: &str, flags: nix::fcntl::OFlag) -> nix::Result<OwnedFd> {
    let how = nix::fcntl::OpenHow::new()
        .flags(flags | nix::fcntl::OFlag::O_CLOEXEC)
        .resolve(resolve_flags());
    nix::fcntl::openat2(root, if rel.is_empty() { "." } else { rel }, how)
}

/// Creates `target` (a directory, or a file for a file source) inside the
/// root, each missing directory 0755 root; returns an O_PATH descriptor.
fn make_target(root: &Path, target: &str, file: bool) -> Result<OwnedFd, String> {
    let rootfd = nix::fcntl::open(
        root,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| format!("{}: {e}", path_str(root)))?;
    let rel = target.trim_matches('/');
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let err = |e: nix::Error| format!("mount target {target}: {e}");
    for i in 0..parts.len() {
        let so_far = parts[..=i].join("/");
        let last = i + 1 == parts.len();
        if openat2_in(&rootfd, &so_far, nix::fcntl::OFlag::O_PATH).is_ok() {
            continue;
        }
        let parent = openat2_in(
            &rootfd,
            &parts[..i].join("/"),
            nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY,
        )
        .map_err(err)?;
        if last && file {
            let flags = nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CLOEXEC
                | nix::fcntl::OFlag::O_NOFOLLOW;
            nix::fcntl::openat(
                &parent,
                parts[i],
                flags,
                nix::sys::stat::Mode::from_bits_truncate(0o644),
            )
            .map_err(err)?;
        } else {
            match nix::sys::stat::mkdirat(
                &parent,
                parts[i],
                nix::sys::stat::Mode::from_bits_truncate(0o755),
            ) {
                Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                Err(e) => return Err(err(e)),
            }
        }
    }
    openat2_in(&rootfd, rel, nix::fcntl::OFlag::O_PATH).map_err(err)
}

/// The pod directory of an empty volume, created with its mode and owner.
fn empty_dir(args: &Args, v: &Volume) -> Result<PathBuf, String> {
    let dir = args.pod_dir.join("volumes").join(v.name.as_str());
    if !dir.exists() {
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
    Ok(dir)
}

/// Mounts the volumes `app` asks for into its root.
pub fn mount_all(
    args: &Args,
    volumes: &[Volume],
    app: &RuntimeApp,
    root: &Path,
) -> Result<(), String> {
    for m in &app.mounts {
        let v = volumes
            .iter()
            .find(|v| v.name == m.volume)
            .ok_or_else(|| format!("app {}: no volume {}", app.name, m.volume))?;
        let (source, recursive) = match v.kind() {
            VolumeKind::Host => (PathBuf::from(&v.source), v.recursive.unwrap_or(true)),
            VolumeKind::Empty => (empty_dir(args, v)?, false),
        };
        let is_file = std::fs::metadata(&source)
            .map_err(|e| format!("volume {}: {}: {e}", v.name, path_str(&source)))?
            .is_file();
        let target = make_target(root, &m.path, is_file)?;
        let through = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
        let mut flags = MsFlags::MS_BIND;
        if recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(Some(&source), &through, None::<&str>, flags, None::<&str>)
            .map_err(|e| format!("volume {} on {}: {e}", v.name, m.path))?;
        let read_only = app
            .app
            .as_ref()
            .and_then(|a| a.mount_points.iter().find(|p| p.name == m.volume))
            .is_some_and(|p| p.read_only)
            || v.read_only.unwrap_or(false);
        if read_only {
            // Remount the new mount (now at the target) read-only.
            let fd = make_target(root, &m.path, is_file)?;
            let at = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
            mount(
                None::<&str>,
                &at,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                None::<&str>,
            )
            .map_err(|e| format!("volume {} on {} read-only: {e}", v.name, m.path))?;
        }
    }
    Ok(())
}
