//! Extracting an image's rootfs onto disk, safely and fast.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)` against the
//! target directory, so no entry, and no symlink planted by an earlier
//! entry, can make a write land outside it. Files are created with
//! `O_EXCL|O_NOFOLLOW` in a directory opened that way. Relative symlinks
//! that climb out of the tree and device nodes are refused (unless
//! allowed); hard links are made only to earlier entries of the tree.
//! Directory modes and times are applied last, so read-only directories in
//! the image do not stop their own contents from being written.

use super::AciError;
use super::archive::{ArchiveInfo, Visit, display, scan_archive};
use super::path::clean;
use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Decides from a path relative to rootfs whether the entry is extracted.
pub type EntryFilter<'a> = &'a dyn Fn(&[u8]) -> bool;

/// How to extract.
#[derive(Default)]
pub struct ExtractOptions<'a> {
    /// Give entries the owners recorded in the archive (needs root).
    pub preserve_owners: bool,
    /// Create device nodes; refused otherwise.
    pub allow_devices: bool,
    /// Leave entries that already exist alone (a lower layer beneath an
    /// upper one) instead of replacing them.
    pub keep_existing: bool,
    /// Extract only the entries this accepts (paths relative to rootfs).
    pub filter: Option<EntryFilter<'a>>,
    /// Refuse the archive once its decompressed stream passes this size.
    pub max_size: Option<u64>,
    /// Refuse the archive once it has extracted this many entries (each
    /// an inode of the file system it is extracted to).
    pub max_entries: Option<u64>,
}

fn os(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

fn split(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => (&rel[..i], &rel[i + 1..]),
        None => (b"", rel),
    }
}

fn err(rel: &[u8], e: impl Into<io::Error>) -> AciError {
    AciError::Extract {
        path: display(rel),
        source: e.into(),
    }
}

fn timestamps(mtime: u64) -> Timestamps {
    let t = Timespec {
        tv_sec: mtime as i64,
        tv_nsec: 0,
    };
    Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn ids(owner: (u32, u32)) -> (Option<rfs::Uid>, Option<rfs::Gid>) {
    (
        Some(rfs::Uid::from_raw(owner.0)),
        Some(rfs::Gid::from_raw(owner.1)),
    )
}

/// Opens directory `rel` inside `root`, creating what is missing.
fn open_dir(root: BorrowedFd<'_>, rel: &[u8]) -> Result<OwnedFd, AciError> {
    if rel.is_empty() {
        return root.try_clone_to_owned().map_err(|e| err(rel, e));
    }
    let how = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    match rfs::openat2(root, os(rel), how, Mode::empty(), resolve) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(err(rel, e)),
    }
    let (parent, name) = split(rel);
    let parent_fd = open_dir(root, parent)?;
    match rfs::mkdirat(&parent_fd, os(name), Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(err(rel, e)),
    }
    rfs::openat2(root, os(rel), how, Mode::empty(), resolve).map_err(|e| err(rel, e))
}

/// Makes room for `name` in `dir`: false if it exists and is to be kept.
fn make_room(
    dir: BorrowedFd<'_>,
    name: &[u8],
    rel: &[u8],
    keep_existing: bool,
) -> Result<bool, AciError> {
    let flags = match rfs::statat(dir, os(name), AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => return Ok(true),
        Err(e) => return Err(err(rel, e)),
        Ok(_) if keep_existing => return Ok(false),
        Ok(st) if rfs::FileType::from_raw_mode(st.st_mode) == rfs::FileType::Directory => {
            AtFlags::REMOVEDIR
        }
        Ok(_) => AtFlags::empty(),
    };
    rfs::unlinkat(dir, os(name), flags).map_err(|e| err(rel, e))?;
    Ok(true)
}

fn set_xattrs<R: Read>(fd: BorrowedFd<'_>, entry: &mut tar::Entry<'_, R>) {
    let Ok(Some(pax)) = entry.pax_extensions() else {
        return;
    };
    for record in pax.flatten() {
        let Ok(key) = record.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            // Best effort, as tar does: a file system without xattrs, or a
            // security namespace we may not write, leaves the file usable.
            let _ = rfs::fsetxattr(fd, name, record.value_bytes(), rfs::XattrFlags::empty());
        }
    }
}

/// A directory whose mode, owner and time are set once it is filled.
struct PendingDir {
    rel: Vec<u8>,
    mode: u32,
    mtime: u64,
    owner: Option<(u32, u32)>,
}

struct Extractor<'a> {
    root: OwnedFd,
    opts: &'a ExtractOptions<'a>,
    /// The directory the last entry was written into, by relative path.
    cached: Option<(Vec<u8>, OwnedFd)>,
    dirs: Vec<PendingDir>,
    /// Entries extracted so far.
    entries: u64,
}

impl Extractor<'_> {
    fn finish(self) -> Result<(), AciError> {
        let mut dirs = self.dirs;
        // Deepest first, so a parent's time is not changed afterwards.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.rel.len()));
        for d in dirs {
            let path = open_dir(self.root.as_fd(), &d.rel)?;
            // An O_PATH descriptor cannot be chmod-ed; reopen it for real.
            let how = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = rfs::openat(&path, ".", how, Mode::empty()).map_err(|e| err(&d.rel, e))?;
            if let Some(owner) = d.owner {
                let (u, g) = ids(owner);
                rfs::fchown(&fd, u, g).map_err(|e| err(&d.rel, e))?;
            }
            rfs::fchmod(&fd, Mode::from_bits_truncate(d.mode & 0o7777))
                .map_err(|e| err(&d.rel, e))?;
            rfs::futimens(&fd, &timestamps(d.mtime)).map_err(|e| err(&d.rel, e))?;
        }
        Ok(())
    }
}

impl Visit for Extractor<'_> {
    fn visit<R: Read>(
        &mut self,
        rel: &[u8],
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), AciError> {
        let Extractor {
            root,
            opts,
            cached,
            dirs,
            entries,
        } = self;
        if let Some(filter) = opts.filter
            && !rel.is_empty()
            && !filter(rel)
        {
            return Ok(());
        }
        *entries += 1;
        if let Some(max) = opts.max_entries
            && *entries > max
        {
            return Err(AciError::TooManyEntries(max));
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        let mode = header.mode().unwrap_or(0o644);
        let mtime = header.mtime().unwrap_or(0);
        let owner = if opts.preserve_owners {
            Some((
                header.uid().unwrap_or(0) as u32,
                header.gid().unwrap_or(0) as u32,
            ))
        } else {
            None
        };
        if kind.is_dir() {
            let dir = open_dir(root.as_fd(), rel)?;
            let how = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            if let Ok(fd) = rfs::openat(&dir, ".", how, Mode::empty()) {
                set_xattrs(fd.as_fd(), entry);
            }
            dirs.push(PendingDir {
                rel: rel.to_vec(),
                mode,
                mtime,
                owner,
            });
            return Ok(());
        }
        let (parent, name) = split(rel);
        if cached.as_ref().is_none_or(|(p, _)| p != parent) {
            *cached = Some((parent.to_vec(), open_dir(root.as_fd(), parent)?));
        }
        let dir = cached.as_ref().expect("just filled").1.as_fd();
        if !make_room(dir, name, rel, opts.keep_existing)? {
            return Ok(());
        }
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let how = OFlags::WRONLY
                    | OFlags::CREATE
                    | OFlags::EXCL
                    | OFlags::NOFOLLOW
                    | OFlags::CLOEXEC;
                let fd = rfs::openat(dir, os(name), how, Mode::from_bits_truncate(0o600))
                    .map_err(|e| err(rel, e))?;
                let mut file = File::from(fd);
                io::copy(entry, &mut file).map_err(AciError::Read)?;
                if let Some(owner) = owner {
                    let (u, g) = ids(owner);
                    rfs::fchown(&file, u, g).map_err(|e| err(rel, e))?;
                }
                rfs::fchmod(&file, Mode::from_bits_truncate(mode & 0o7777))
                    .map_err(|e| err(rel, e))?;
                set_xattrs(file.as_fd(), entry);
                rfs::futimens(&file, &timestamps(mtime)).map_err(|e| err(rel, e))?;
            }
            tar::EntryType::Symlink => {
                let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                if !target.starts_with(b"/") {
                    let joined = if parent.is_empty() {
                        target.clone()
                    } else {
                        [parent, b"/", &target].concat()
                    };
                    let resolved = clean(&joined);
                    if resolved == b".." || resolved.starts_with(b"../") {
                        return Err(AciError::EscapingSymlink {
                            name: display(rel),
                            target: display(&target),
                        });
                    }
                }
                rfs::symlinkat(os(&target), dir, os(name)).map_err(|e| err(rel, e))?;
                if let Some(owner) = owner {
                    let (u, g) = ids(owner);
                    rfs::chownat(dir, os(name), u, g, AtFlags::SYMLINK_NOFOLLOW)
                        .map_err(|e| err(rel, e))?;
                }
                rfs::utimensat(dir, os(name), &timestamps(mtime), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| err(rel, e))?;
            }
            tar::EntryType::Link => {
                // The scan checked the target is an earlier entry under rootfs/.
                let target = clean(&entry.link_name_bytes().unwrap_or_default());
                let target = target.strip_prefix(b"rootfs/").unwrap_or(&target);
                let (tparent, tname) = split(target);
                let tdir = open_dir(root.as_fd(), tparent)?;
                match rfs::linkat(&tdir, os(tname), dir, os(name), AtFlags::empty()) {
                    // The target was filtered out of this layer.
                    Err(Errno::NOENT) if opts.filter.is_some() => {}
                    other => other.map_err(|e| err(rel, e))?,
                }
            }
            tar::EntryType::Fifo => {
                let m = Mode::from_bits_truncate(mode & 0o7777);
                rfs::mknodat(dir, os(name), rfs::FileType::Fifo, m, 0).map_err(|e| err(rel, e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block if opts.allow_devices => {
                let ft = if kind == tar::EntryType::Char {
                    rfs::FileType::CharacterDevice
                } else {
                    rfs::FileType::BlockDevice
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                let m = Mode::from_bits_truncate(mode & 0o7777);
                rfs::mknodat(dir, os(name), ft, m, rfs::makedev(major, minor))
                    .map_err(|e| err(rel, e))?;
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(AciError::DeviceNode(display(rel)));
            }
            other => {
                return Err(AciError::UnsupportedEntry {
                    name: display(rel),
                    kind: format!("{other:?}"),
                });
            }
        }
        Ok(())
    }
}

/// Validates the ACI read from `r` and extracts its rootfs into `rootfs`
/// (an existing directory), computing the image ID on the way.
pub fn extract_archive<R: Read>(
    r: R,
    rootfs: &Path,
    opts: &ExtractOptions<'_>,
) -> Result<ArchiveInfo, AciError> {
    let root = rfs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| AciError::file(rootfs, e.into()))?;
    let mut ex = Extractor {
        root,
        opts,
        cached: None,
        dirs: Vec::new(),
        entries: 0,
    };
    let info = scan_archive(r, &mut ex, opts.max_size)?;
    ex.finish()?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{RawEntry, raw_tar};
    use std::fs;

    const MANIFEST: &[u8] =
        br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/x"}"#;

    /// A tar with the manifest, rootfs/ and `entries` (name, type, data, link).
    fn aci(entries: &[RawEntry<'_>]) -> Vec<u8> {
        let all = [
            ("manifest", tar::EntryType::Regular, MANIFEST, ""),
            ("rootfs", tar::EntryType::Directory, &b""[..], ""),
        ];
        let all: Vec<RawEntry<'_>> = all.iter().chain(entries).copied().collect();
        raw_tar(&all)
    }

    fn extract(
        bytes: &[u8],
        opts: &ExtractOptions<'_>,
    ) -> (tempfile::TempDir, Result<ArchiveInfo, AciError>) {
        let dir = tempfile::tempdir().unwrap();
        let r = extract_archive(bytes, dir.path(), opts);
        (dir, r)
    }

    #[test]
    fn extracts_files_links_and_dirs() {
        use tar::EntryType::*;
        let bytes = aci(&[
            ("rootfs/etc", Directory, b"", ""),
            ("rootfs/etc/hostname", Regular, b"pod\n", ""),
            ("rootfs/etc/alias", Link, b"", "rootfs/etc/hostname"),
            ("rootfs/bin/sh", Symlink, b"", "/bin/busybox"),
            ("rootfs/deep/er/file", Regular, b"x", ""),
        ]);
        let (dir, r) = extract(&bytes, &ExtractOptions::default());
        let info = r.unwrap();
        assert_eq!(info.manifest.name.as_str(), "example.com/x");
        assert!(info.image_id.is_some());
        let p = dir.path();
        assert_eq!(fs::read(p.join("etc/hostname")).unwrap(), b"pod\n");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(p.join("etc/alias")).unwrap().ino(),
            fs::metadata(p.join("etc/hostname")).unwrap().ino()
        );
        assert_eq!(
            fs::read_link(p.join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert_eq!(fs::read(p.join("deep/er/file")).unwrap(), b"x");
        assert_eq!(
            fs::metadata(p.join("etc/hostname")).unwrap().mtime(),
            1_000_000
        );
    }

    #[test]
    fn writes_through_planted_symlinks_stay_inside() {
        use tar::EntryType::*;
        // A link to / is the image's root, not the host's.
        let bytes = aci(&[
            ("rootfs/escape", Symlink, b"", "/"),
            ("rootfs/escape/etc/passwd", Regular, b"owned", ""),
        ]);
        let (dir, r) = extract(&bytes, &ExtractOptions::default());
        r.unwrap();
        assert_eq!(fs::read(dir.path().join("etc/passwd")).unwrap(), b"owned");

        // A link to a host directory that the image lacks: refused, and the
        // host directory is untouched.
        let outside = tempfile::tempdir().unwrap();
        let host = outside.path().to_str().unwrap().to_string();
        let bytes = aci(&[
            ("rootfs/escape", Symlink, b"", &host),
            ("rootfs/escape/victim", Regular, b"owned", ""),
        ]);
        let (_dir, r) = extract(&bytes, &ExtractOptions::default());
        assert!(matches!(r, Err(AciError::Extract { .. })), "{r:?}");
        assert!(
            !outside.path().join("victim").exists(),
            "a write escaped the root"
        );
    }

    #[test]
    fn refuses_escaping_symlinks_and_devices() {
        use tar::EntryType::*;
        let (_d, r) = extract(
            &aci(&[("rootfs/a/up", Symlink, b"", "../../../etc")]),
            &ExtractOptions::default(),
        );
        assert!(matches!(r, Err(AciError::EscapingSymlink { .. })), "{r:?}");
        let (_d, r) = extract(
            &aci(&[("rootfs/dev/sda", Block, b"", "")]),
            &ExtractOptions::default(),
        );
        assert!(matches!(r, Err(AciError::DeviceNode(_))), "{r:?}");
        // Relative links that stay inside are fine, at any depth.
        let (_d, r) = extract(
            &aci(&[("rootfs/a/b", Symlink, b"", "../c")]),
            &ExtractOptions::default(),
        );
        r.unwrap();
        let (_d, r) = extract(
            &aci(&[("rootfs/init", Symlink, b"", "stage1")]),
            &ExtractOptions::default(),
        );
        r.unwrap();
        let (_d, r) = extract(
            &aci(&[("rootfs/up", Symlink, b"", "..")]),
            &ExtractOptions::default(),
        );
        assert!(matches!(r, Err(AciError::EscapingSymlink { .. })), "{r:?}");
    }

    #[test]
    fn layers_keep_what_is_there_and_filter() {
        use tar::EntryType::*;
        let dir = tempfile::tempdir().unwrap();
        let upper = aci(&[("rootfs/app", Regular, b"upper", "")]);
        let lower = aci(&[
            ("rootfs/app", Regular, b"lower", ""),
            ("rootfs/lib", Regular, b"lib", ""),
            ("rootfs/junk", Regular, b"j", ""),
        ]);
        extract_archive(&upper[..], dir.path(), &ExtractOptions::default()).unwrap();
        let only_lib = |rel: &[u8]| rel == b"lib" || rel == b"app";
        let opts = ExtractOptions {
            keep_existing: true,
            filter: Some(&only_lib),
            ..Default::default()
        };
        extract_archive(&lower[..], dir.path(), &opts).unwrap();
        assert_eq!(fs::read(dir.path().join("app")).unwrap(), b"upper");
        assert_eq!(fs::read(dir.path().join("lib")).unwrap(), b"lib");
        assert!(!dir.path().join("junk").exists());
    }

    #[test]
    fn a_size_limit_stops_a_bomb_where_it_passes() {
        use tar::EntryType::*;
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0u8; 64 * 1024];
        let image = aci(&[("rootfs/big", Regular, &big, "")]);
        let within = ExtractOptions {
            max_size: Some(image.len() as u64),
            ..Default::default()
        };
        extract_archive(&image[..], dir.path(), &within).unwrap();
        let other = tempfile::tempdir().unwrap();
        let below = ExtractOptions {
            max_size: Some(16 * 1024),
            ..Default::default()
        };
        let e = extract_archive(&image[..], other.path(), &below).unwrap_err();
        assert!(matches!(e, AciError::TooLarge(16384)), "{e}");
    }
}
