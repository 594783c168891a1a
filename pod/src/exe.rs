//! stage1 runs from a read-only mount of its executable. The pod's init
//! and the entering process are stage1 processes that a pod's apps can
//! see; an app allowed to trace them (CAP_SYS_PTRACE in its own
//! isolators) reaches the executable through `/proc/<pid>/exe`. Executed
//! through a private read-only bind mount of it, that link leads to a
//! file that cannot be written, truncated, chmod'ed or chown'ed (EROFS),
//! so a pod cannot plant code that the host runs next (runc's
//! CVE-2019-5736). The bind mount is detached (in no mount table) and
//! goes with the last process running from it; nothing is copied.

use nix::libc;
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

/// Whether the running executable sits on a read-only mount.
pub fn is_read_only() -> bool {
    nix::sys::statvfs::statvfs("/proc/self/exe")
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// A detached, read-only bind mount of the file `path`.
fn read_only_clone(path: &Path) -> Result<OwnedFd, String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| format!("{}: a NUL in the path", path.display()))?;
    let err = |what: &str| {
        format!(
            "{what} of {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        )
    };
    // SAFETY: open_tree takes a NUL-terminated path; it returns a new
    // descriptor, which is owned from here on.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c.as_ptr(),
            // Not close-on-exec: a script's interpreter opens it by
            // /dev/fd/N (stage1 closes what it inherits).
            libc::OPEN_TREE_CLONE,
        )
    };
    if fd < 0 {
        return Err(err("a private mount"));
    }
    // SAFETY: fd was just returned by open_tree and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: mount_setattr reads `attr` (of the size given) and the empty path.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    if r < 0 {
        return Err(err("a read-only mount"));
    }
    Ok(fd)
}

/// This process's environment, as execve takes it.
pub fn current_env() -> Vec<CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).ok()
        })
        .collect()
}

/// Executes the program `path` through a read-only mount of it, with
/// `argv` and `env`. Returns only on failure.
pub fn exec_read_only(path: &Path, argv: &[CString], env: &[CString]) -> String {
    let fd = match read_only_clone(path) {
        Ok(fd) => fd,
        Err(e) => return e,
    };
    let e = nix::unistd::execveat(&fd, c"", argv, env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .err()
        .unwrap_or(nix::errno::Errno::UnknownErrno);
    format!("cannot execute {}: {e}", path.display())
}

/// Re-executes this program from a read-only mount of itself unless it
/// already runs from one (as `rkt` starts it). Returns only on failure.
pub fn ensure_read_only() -> Result<(), String> {
    if is_read_only() {
        return Ok(());
    }
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(a.into_encoded_bytes()).map_err(|_| "a NUL in an argument".to_string())
        })
        .collect::<Result<_, _>>()?;
    Err(exec_read_only(
        Path::new("/proc/self/exe"),
        &argv,
        &current_env(),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_read_only_clone_refuses_writes() {
        if !nix::unistd::geteuid().is_root() {
            assert!(std::env::var_os("CI").is_none(), "needs root");
            appc::testing::skipped("not root: read-only executable");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("prog");
        std::fs::write(&file, "x").unwrap();
        let fd = super::read_only_clone(&file).unwrap();
        let through = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let e = std::fs::OpenOptions::new()
            .write(true)
            .open(&through)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(nix::libc::EROFS));
        assert_eq!(std::fs::read(&file).unwrap(), b"x");
    }
}
