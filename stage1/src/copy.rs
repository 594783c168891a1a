//! A copy of an image's tree, for an app's root where overlayfs cannot be
//! used: owners, modes, times, symlinks, hard links, device nodes, FIFOs
//! and extended attributes are kept.

use nix::sys::stat::{Mode, SFlag, mknod};
use nix::sys::time::TimeSpec;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn err(p: &Path) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("copying {}: {e}", p.display())
}

fn errno(p: &Path) -> impl FnOnce(nix::errno::Errno) -> String + '_ {
    move |e| format!("copying {}: {e}", p.display())
}

/// Copies the tree at `from` into the (existing, empty) directory `to`.
pub fn tree(from: &Path, to: &Path) -> Result<(), String> {
    let mut links = HashMap::new();
    copy_dir(from, to, &mut links)?;
    attributes(from, to)
}

/// Owner, mode, extended attributes and times of `from`, onto `to`
/// (not following a symlink).
fn attributes(from: &Path, to: &Path) -> Result<(), String> {
    let m = fs::symlink_metadata(from).map_err(err(from))?;
    std::os::unix::fs::lchown(to, Some(m.uid()), Some(m.gid())).map_err(err(to))?;
    if !m.file_type().is_symlink() {
        // After the owner: chown clears the set-id bits.
        fs::set_permissions(to, m.permissions()).map_err(err(to))?;
        copy_xattrs(from, to)?;
    }
    let times = [
        TimeSpec::new(m.atime(), m.atime_nsec()),
        TimeSpec::new(m.mtime(), m.mtime_nsec()),
    ];
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        to,
        &times[0],
        &times[1],
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(errno(to))
}

/// Reads through `call` into a buffer sized by a first call with none.
fn sized(call: impl Fn(&mut [u8]) -> rustix::io::Result<usize>) -> rustix::io::Result<Vec<u8>> {
    let mut buf = vec![0; call(&mut [])?];
    let n = call(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

fn copy_xattrs(from: &Path, to: &Path) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let fail = |p: &Path, e: rustix::io::Errno| format!("copying {}: {e}", p.display());
    let names = match sized(|b| rustix::fs::llistxattr(from, b)) {
        Ok(n) => n,
        // No extended attributes where the tree lives.
        Err(rustix::io::Errno::OPNOTSUPP) => return Ok(()),
        Err(e) => return Err(fail(from, e)),
    };
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = std::ffi::OsStr::from_bytes(name);
        let value = sized(|b| rustix::fs::lgetxattr(from, name, b)).map_err(|e| fail(from, e))?;
        rustix::fs::lsetxattr(to, name, &value, rustix::fs::XattrFlags::empty())
            .map_err(|e| fail(to, e))?;
    }
    Ok(())
}

fn copy_dir(
    from: &Path,
    to: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
) -> Result<(), String> {
    for entry in fs::read_dir(from).map_err(err(from))? {
        let entry = entry.map_err(err(from))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let m = fs::symlink_metadata(&src).map_err(err(&src))?;
        let t = m.file_type();
        if t.is_dir() {
            fs::create_dir(&dst).map_err(err(&dst))?;
            copy_dir(&src, &dst, links)?;
        } else {
            if m.nlink() > 1 {
                if let Some(first) = links.get(&(m.dev(), m.ino())) {
                    fs::hard_link(first, &dst).map_err(err(&dst))?;
                    continue;
                }
                links.insert((m.dev(), m.ino()), dst.clone());
            }
            if t.is_symlink() {
                let target = fs::read_link(&src).map_err(err(&src))?;
                std::os::unix::fs::symlink(target, &dst).map_err(err(&dst))?;
            } else if t.is_file() {
                fs::copy(&src, &dst).map_err(err(&src))?;
            } else {
                let kind = if t.is_fifo() {
                    SFlag::S_IFIFO
                } else if t.is_char_device() {
                    SFlag::S_IFCHR
                } else if t.is_block_device() {
                    SFlag::S_IFBLK
                } else {
                    // Sockets are not part of an image.
                    continue;
                };
                mknod(&dst, kind, Mode::from_bits_truncate(0o600), m.rdev())
                    .map_err(errno(&dst))?;
            }
        }
        attributes(&src, &dst)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_copy_keeps_what_an_image_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let (from, to) = (tmp.path().join("from"), tmp.path().join("to"));
        fs::create_dir_all(from.join("bin")).unwrap();
        fs::create_dir(&to).unwrap();
        fs::write(from.join("bin/tool"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(from.join("bin/tool"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::hard_link(from.join("bin/tool"), from.join("bin/alias")).unwrap();
        std::os::unix::fs::symlink("tool", from.join("bin/link")).unwrap();
        nix::unistd::mkfifo(&from.join("fifo"), Mode::from_bits_truncate(0o640)).unwrap();
        fs::set_permissions(from.join("bin"), fs::Permissions::from_mode(0o700)).unwrap();

        tree(&from, &to).unwrap();

        let mode = |p: &str| {
            fs::symlink_metadata(to.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777
        };
        assert_eq!(
            fs::read_to_string(to.join("bin/tool")).unwrap(),
            "#!/bin/sh\n"
        );
        assert_eq!(mode("bin/tool"), 0o4755);
        assert_eq!(mode("bin"), 0o700);
        assert_eq!(mode("fifo"), 0o640);
        assert!(
            fs::symlink_metadata(to.join("fifo"))
                .unwrap()
                .file_type()
                .is_fifo()
        );
        assert_eq!(
            fs::read_link(to.join("bin/link")).unwrap(),
            Path::new("tool")
        );
        let ino = |p: &str| fs::metadata(to.join(p)).unwrap().ino();
        assert_eq!(ino("bin/tool"), ino("bin/alias"));
        let mtime = |root: &Path| fs::metadata(root.join("bin/tool")).unwrap().mtime_nsec();
        assert_eq!(mtime(&from), mtime(&to));
    }
}
