//! The data directory (`--dir`, default `/var/lib/rkt`): made with rkt's
//! mode whatever the caller's umask, 0750, or 2750 owned by group `rkt`
//! where that group exists (so its members may read pods and images
//! without being root). rkt also runs with umask 022, so everything else
//! it creates is 0755 (directories) or 0644 (files) unless made otherwise
//! on purpose: pod directories 0750, extracted images with their own modes.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// The mode of the data directory and of pod directories.
pub const PRIVATE_DIR_MODE: u32 = 0o750;

/// The gid of group `rkt`, from the text of /etc/group.
fn rkt_group(etc_group: &str) -> Option<u32> {
    etc_group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"rkt"))
        .and_then(|f| f.get(2)?.parse().ok())
}

/// Makes `dir` (and its parents, 0755) if it does not exist yet.
pub fn ensure(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    match std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR_MODE)
        .create(dir)
    {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        other => other?,
    }
    let group = std::fs::read_to_string("/etc/group")
        .ok()
        .and_then(|t| rkt_group(&t));
    let mode = match group {
        Some(gid) => {
            std::os::unix::fs::chown(dir, None, Some(gid))?;
            0o2000 | PRIVATE_DIR_MODE
        }
        None => PRIVATE_DIR_MODE,
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Makes `dir` (and its parents) if need be, and gives it mode 0700: for
/// what images and apps made (stored trees, staging, pods' writable
/// layers), which the `rkt` group, allowed into the data directory, must
/// not reach: a setuid file there would be theirs to run. An existing
/// directory someone else owns is left as it is (rkt run as a member
/// reads the store, it does not own it).
pub fn ensure_root_only(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::metadata(dir)?;
    let mine = std::os::unix::fs::MetadataExt::uid(&meta) == rustix::process::geteuid().as_raw();
    if mine && meta.permissions().mode() & 0o7777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rkt_group_is_found_by_name() {
        let text = "root:x:0:\nrktx:x:5:\nrkt:x:998:alice\n";
        assert_eq!(rkt_group(text), Some(998));
        assert_eq!(rkt_group("root:x:0:\n"), None);
    }

    #[test]
    fn a_new_data_dir_is_private_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/data");
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let made = ensure(&dir);
        rustix::process::umask(old);
        made.unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert!(mode == 0o750 || mode == 0o2750, "{mode:o}");
        let parent = std::fs::metadata(tmp.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(parent & 0o777, 0o755);
    }
}
