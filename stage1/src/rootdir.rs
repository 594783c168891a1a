//! Paths under a root that an image controls. Every path stage1 creates,
//! writes or mounts onto inside an app's root goes through [`RootDir`]:
//! it is resolved with `openat2(RESOLVE_IN_ROOT)`, so `..` and symlinks
//! (absolute or relative) stay inside the root, and the result is used
//! through its descriptor (`*at` calls, or `/proc/self/fd/N` for
//! mount(2)), never as a path joined on the host side.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, readlinkat};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, fstatat};
use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A directory that paths are resolved inside of.
pub struct RootDir {
    fd: OwnedFd,
    /// For messages only.
    path: PathBuf,
}

/// The path through which mount(2) reaches what `fd` refers to.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Mounts `source` (a file system type's source, or a path of ours for a
/// bind) on what `target` refers to. `what` names the target in errors.
pub fn mount_on(
    source: Option<&Path>,
    target: &OwnedFd,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    what: &str,
) -> Result<(), String> {
    mount(source, &fd_path(target), fstype, flags, data).map_err(|e| {
        let kind = fstype.map_or_else(
            || source.map_or("?".into(), |s| s.display().to_string()),
            str::to_string,
        );
        format!("mounting {kind} on {what}: {e}")
    })
}

/// Makes the mount at `target` and every mount below it read-only
/// (`mount_setattr` with `AT_RECURSIVE`): a bind of a host tree brings its
/// submounts (`/proc`, say, where sysctls are written), which a remount of
/// the top alone leaves writable. A kernel without it refuses the mount
/// rather than making it weaker.
pub fn make_read_only_below(target: &OwnedFd, what: &str) -> Result<(), String> {
    /// `struct mount_attr` of linux/mount.h.
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH | libc::AT_RECURSIVE;
    // SAFETY: the path is a NUL-terminated empty string and `attr` a live
    // struct of the size passed; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        return Err(format!("making {what} read-only with its submounts: {e}"));
    }
    Ok(())
}

impl RootDir {
    /// Opens `path` (a directory of stage1's own choosing) as a root.
    pub fn open(path: &Path) -> Result<RootDir, String> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Like [`RootDir::open`], for a directory reached from this root.
    pub fn sub(&self, rel: &str) -> Result<RootDir, String> {
        let fd = self
            .open_at(rel, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.err(rel, e))?;
        Ok(RootDir {
            fd,
            path: self.path.join(rel.trim_start_matches('/')),
        })
    }

    fn err(&self, rel: &str, e: Errno) -> String {
        format!("{} in {}: {e}", display(rel), self.path.display())
    }

    /// `openat2` of `rel` inside the root; magic links (`/proc/self/...`)
    /// are refused too.
    pub fn open_at(&self, rel: &str, flags: OFlag) -> nix::Result<OwnedFd> {
        let rel = rel.trim_start_matches('/');
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        nix::fcntl::openat2(&self.fd, if rel.is_empty() { "." } else { rel }, how)
    }

    /// An `O_PATH` descriptor of `rel`, which must exist.
    pub fn resolve(&self, rel: &str) -> Result<OwnedFd, String> {
        self.open_at(rel, OFlag::O_PATH)
            .map_err(|e| self.err(rel, e))
    }

    /// The directory `rel`, made (0755, like `mkdir -p`) where missing;
    /// an `O_PATH` descriptor of it.
    pub fn mkdir_all(&self, rel: &str) -> Result<OwnedFd, String> {
        self.make(rel, false)
    }

    /// The file `rel` (an empty 0644 file where missing, its directories
    /// made as by [`RootDir::mkdir_all`]); an `O_PATH` descriptor of it.
    pub fn make_file(&self, rel: &str) -> Result<OwnedFd, String> {
        self.make(rel, true)
    }

    /// Walks `rel` a component at a time as the kernel would inside the
    /// root (symlinks followed, absolute ones and `..` from the root's
    /// top staying in it), making what is missing.
    fn make(&self, rel: &str, file: bool) -> Result<OwnedFd, String> {
        let err = |e| self.err(rel, e);
        let mut pending: VecDeque<String> = components(rel);
        // Directories of the root, symlinks resolved: no symlink in here.
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                done.pop();
                continue;
            }
            let parent = self
                .open_at(&done.join("/"), OFlag::O_PATH | OFlag::O_DIRECTORY)
                .map_err(err)?;
            let last = pending.is_empty();
            match fstatat(&parent, part.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st)
                    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK =>
                {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(err(Errno::ELOOP));
                    }
                    let target = readlinkat(&parent, part.as_str()).map_err(err)?;
                    let target = target.to_string_lossy();
                    if target.starts_with('/') {
                        done.clear();
                    }
                    for c in components(&target).into_iter().rev() {
                        pending.push_front(c);
                    }
                    continue;
                }
                Ok(_) => {}
                // A name created here is never followed (it cannot be a
                // symlink put there in between: O_EXCL, mkdirat).
                Err(Errno::ENOENT) if last && file => {
                    let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC;
                    nix::fcntl::openat(
                        &parent,
                        part.as_str(),
                        flags,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map_err(err)?;
                }
                Err(Errno::ENOENT) => {
                    nix::sys::stat::mkdirat(
                        &parent,
                        part.as_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                    .map_err(err)?;
                }
                Err(e) => return Err(err(e)),
            }
            done.push(part);
        }
        let fd = self.open_at(&done.join("/"), OFlag::O_PATH).map_err(err)?;
        let mode = nix::sys::stat::fstat(&fd).map_err(err)?.st_mode;
        let is_dir = SFlag::from_bits_truncate(mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        match (file, is_dir) {
            (false, false) => Err(format!("{}: not a directory", self.describe(rel))),
            (true, true) => Err(format!("{}: is a directory", self.describe(rel))),
            _ => Ok(fd),
        }
    }

    /// Writes `text` as a new file `rel` (in an existing directory),
    /// unless something (even a dangling symlink) is already there.
    /// Returns whether it wrote.
    pub fn create_new(&self, rel: &str, text: &str) -> Result<bool, String> {
        let (dir, name) = split(rel);
        let parent = self
            .open_at(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.err(dir, e))?;
        let flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW;
        let fd = match nix::fcntl::openat(
            &parent,
            name,
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        ) {
            Ok(fd) => fd,
            Err(Errno::EEXIST) => return Ok(false),
            Err(e) => return Err(self.err(rel, e)),
        };
        let mut file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("{}: {e}", self.describe(rel)))?;
        Ok(true)
    }

    /// Writes `text` as the regular file `rel` (mode 0644, in an existing
    /// directory), replacing the contents of one that is there; a symlink
    /// there is left alone. Returns whether it wrote.
    pub fn replace_file(&self, rel: &str, text: &str) -> Result<bool, String> {
        let (dir, name) = split(rel);
        let parent = self
            .open_at(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.err(dir, e))?;
        let flags = OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_WRONLY | OFlag::O_NOFOLLOW;
        let mode = Mode::from_bits_truncate(0o644);
        let fd = match nix::fcntl::openat(&parent, name, flags | OFlag::O_CLOEXEC, mode) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) => return Ok(false),
            Err(e) => return Err(self.err(rel, e)),
        };
        nix::sys::stat::fchmod(&fd, mode).map_err(|e| self.err(rel, e))?;
        let mut file = std::fs::File::from(fd);
        std::io::Write::write_all(&mut file, text.as_bytes())
            .map_err(|e| format!("{}: {e}", self.describe(rel)))?;
        Ok(true)
    }

    /// Writes `text` as the regular file `rel` (in an existing
    /// directory), whatever the image had there: a symlink is removed,
    /// never followed.
    pub fn set_file(&self, rel: &str, text: &str) -> Result<(), String> {
        if self.replace_file(rel, text)? {
            return Ok(());
        }
        let (dir, name) = split(rel);
        let parent = self
            .open_at(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.err(dir, e))?;
        nix::unistd::unlinkat(&parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(|e| self.err(rel, e))?;
        if self.replace_file(rel, text)? {
            Ok(())
        } else {
            Err(format!("{}: replaced while written", self.describe(rel)))
        }
    }

    /// Makes `rel` (in an existing directory) a symlink to `target`,
    /// unless something is there already.
    pub fn symlink_new(&self, rel: &str, target: &str) -> Result<(), String> {
        let (dir, name) = split(rel);
        let parent = self
            .open_at(dir, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| self.err(dir, e))?;
        match nix::unistd::symlinkat(target, &parent, name) {
            Ok(()) | Err(Errno::EEXIST) => Ok(()),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    /// `rel` as the root's path shows it, for messages.
    pub fn describe(&self, rel: &str) -> String {
        format!("{} in {}", display(rel), self.path.display())
    }

    pub fn fd(&self) -> impl AsFd + '_ {
        &self.fd
    }
}

/// `rel`'s directory and last name.
fn split(rel: &str) -> (&str, &str) {
    let rel = rel.trim_start_matches('/');
    rel.rsplit_once('/').unwrap_or(("", rel))
}

/// The kernel's limit on symlinks followed in one lookup.
const MAX_SYMLINKS: usize = 40;

/// The names along `path`, without empty ones and ".".
fn components(path: &str) -> VecDeque<String> {
    path.split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .map(str::to_string)
        .collect()
}

fn display(rel: &str) -> String {
    format!("/{}", rel.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root() -> (tempfile::TempDir, tempfile::TempDir, RootDir) {
        let inside = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let r = RootDir::open(inside.path()).unwrap();
        (inside, outside, r)
    }

    #[test]
    fn absolute_and_dotdot_symlinks_stay_inside() {
        let (inside, outside, r) = root();
        symlink(outside.path(), inside.path().join("etc")).unwrap();
        symlink("../../../../..", inside.path().join("up")).unwrap();
        r.mkdir_all("etc/sub").unwrap();
        assert!(r.create_new("etc/hosts", "x").unwrap());
        r.make_file("up/tmp/file").unwrap();
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        // The absolute target was made inside the root instead.
        let made = inside
            .path()
            .join(outside.path().strip_prefix("/").unwrap());
        assert!(made.join("sub").is_dir() && made.join("hosts").is_file());
        assert!(inside.path().join("tmp/file").is_file());
    }

    #[test]
    fn dangling_and_looping_symlinks() {
        let (inside, outside, r) = root();
        symlink(outside.path().join("a/b"), inside.path().join("proc")).unwrap();
        symlink("../x/../../y", inside.path().join("rel")).unwrap();
        symlink("loop", inside.path().join("loop")).unwrap();
        r.mkdir_all("proc").unwrap();
        r.make_file("rel/f").unwrap();
        let made = inside
            .path()
            .join(outside.path().strip_prefix("/").unwrap());
        assert!(made.join("a/b").is_dir());
        assert!(inside.path().join("y/f").is_file());
        assert!(r.mkdir_all("loop/x").unwrap_err().contains("ELOOP"));
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_existing_entry_or_dangling_symlink_is_left_alone() {
        let (inside, outside, r) = root();
        std::fs::create_dir(inside.path().join("etc")).unwrap();
        let target = outside.path().join("hosts");
        symlink(&target, inside.path().join("etc/hosts")).unwrap();
        assert!(!r.create_new("etc/hosts", "x").unwrap());
        assert!(!target.exists());
    }

    #[test]
    fn files_are_replaced_and_links_made_but_symlinks_left_alone() {
        let (inside, outside, r) = root();
        std::fs::create_dir(inside.path().join("etc")).unwrap();
        std::fs::write(inside.path().join("etc/hostname"), "old-and-longer\n").unwrap();
        assert!(r.replace_file("etc/hostname", "pod\n").unwrap());
        assert_eq!(
            std::fs::read_to_string(inside.path().join("etc/hostname")).unwrap(),
            "pod\n"
        );
        let host_file = outside.path().join("name");
        std::fs::write(&host_file, "host").unwrap();
        symlink(&host_file, inside.path().join("etc/name")).unwrap();
        assert!(!r.replace_file("etc/name", "pod").unwrap());
        assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host");
        r.symlink_new("etc/mtab", "../proc/self/mounts").unwrap();
        r.symlink_new("etc/mtab", "elsewhere").unwrap();
        let link = std::fs::read_link(inside.path().join("etc/mtab")).unwrap();
        assert_eq!(link, std::path::Path::new("../proc/self/mounts"));
    }

    #[test]
    fn the_kind_of_an_existing_target_is_checked() {
        let (inside, _outside, r) = root();
        std::fs::write(inside.path().join("f"), "").unwrap();
        assert!(r.mkdir_all("f").unwrap_err().contains("not a directory"));
        std::fs::create_dir(inside.path().join("d")).unwrap();
        assert!(r.make_file("d").unwrap_err().contains("is a directory"));
    }

    #[test]
    fn magic_links_are_refused() {
        let (inside, _outside, r) = root();
        symlink("/proc/self/root", inside.path().join("escape")).unwrap();
        // Resolved in the root: /proc/self/root does not exist there.
        assert!(r.resolve("escape/etc").is_err());
    }
}
