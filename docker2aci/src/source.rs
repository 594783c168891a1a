//! Where an image's files are read from: an OCI layout directory, or a
//! tar archive (`docker save`, an OCI archive) indexed once so that any
//! member (a layer, a config) is read in place, without unpacking.
//! Names inside are relative paths; a `..` or an absolute name is refused,
//! and links inside an archive are followed only within it.

use crate::error::{Error, Result, bad};
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// JSON documents (manifests, configs, indexes) larger than this are
/// refused rather than read into memory.
const MAX_JSON: u64 = 16 << 20;
/// How many links are followed inside an archive before giving up.
const MAX_LINKS: usize = 16;

enum Member {
    Data {
        offset: u64,
        size: u64,
    },
    /// A symbolic or hard link to another member (a path in the archive).
    Link(String),
}

/// An image's files (see the module's documentation).
pub struct Source(Inner);

enum Inner {
    Dir(PathBuf),
    Archive {
        path: PathBuf,
        file: File,
        members: HashMap<String, Member>,
    },
}

/// `a/./b/` → `a/b`; `None` for a name that leaves the top (`..`, `/`).
pub fn normalize(name: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => parts.push(c),
        }
    }
    if name.starts_with('/') {
        return None;
    }
    Some(parts.join("/"))
}

impl Source {
    /// A directory, or an archive (a plain tar) indexed here.
    pub fn open(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path.display(), e))?;
        if meta.is_dir() {
            return Ok(Source(Inner::Dir(path.to_path_buf())));
        }
        let file = File::open(path).map_err(|e| Error::io(path.display(), e))?;
        let mut head = [0u8; 6];
        let n = file.read_at(&mut head, 0).unwrap_or(0);
        if n >= 2
            && (head[..2] == [0x1f, 0x8b] || head[..3] == *b"BZh" || head[..2] == [0xfd, b'7'])
        {
            bad!(
                "{}: a compressed archive; decompress it first (docker save and OCI archives are plain tar files)",
                path.display()
            );
        }
        let members = index(&file).map_err(|e| match e {
            Error::Io { source, .. } => Error::Bad(format!(
                "{}: not a docker save or OCI archive (a tar file): {source}",
                path.display()
            )),
            e => e,
        })?;
        Ok(Source(Inner::Archive {
            path: path.to_path_buf(),
            file,
            members,
        }))
    }

    /// What the source is, for messages.
    pub fn describe(&self) -> String {
        match &self.0 {
            Inner::Dir(p) | Inner::Archive { path: p, .. } => p.display().to_string(),
        }
    }

    pub fn exists(&self, name: &str) -> bool {
        self.locate(name).is_ok()
    }

    /// Reads a (small) document whole.
    pub fn bytes(&self, name: &str) -> Result<Vec<u8>> {
        let mut text = Vec::new();
        self.open_member(name)?
            .take(MAX_JSON + 1)
            .read_to_end(&mut text)
            .map_err(|e| Error::io(format!("{}: {name}", self.describe()), e))?;
        if text.len() as u64 > MAX_JSON {
            bad!(
                "{}: {name} is larger than {MAX_JSON} bytes",
                self.describe()
            );
        }
        Ok(text)
    }

    /// Reads a JSON document.
    pub fn json(&self, name: &str) -> Result<serde_json::Value> {
        self.parse(name, &self.bytes(name)?)
    }

    /// Parses the JSON `text` of member `name`.
    pub fn parse(&self, name: &str, text: &[u8]) -> Result<serde_json::Value> {
        serde_json::from_slice(text)
            .map_err(|e| Error::Bad(format!("{}: {name}: {e}", self.describe())))
    }

    /// Opens a member for reading.
    pub fn open_member(&self, name: &str) -> Result<Box<dyn Read + Send + '_>> {
        match &self.0 {
            Inner::Dir(dir) => {
                let Some(rel) = normalize(name) else {
                    bad!("{}: invalid path {name:?}", self.describe());
                };
                Ok(Box::new(open_beneath(dir, &rel)?))
            }
            Inner::Archive { file, .. } => {
                let (offset, size) = self.locate(name)?;
                Ok(Box::new(Range {
                    file,
                    pos: offset,
                    end: offset + size,
                }))
            }
        }
    }

    /// (offset, size) of an archive member's data, links followed.
    fn locate(&self, name: &str) -> Result<(u64, u64)> {
        let Some(mut at) = normalize(name) else {
            bad!("{}: invalid path {name:?}", self.describe());
        };
        match &self.0 {
            Inner::Dir(dir) => open_beneath(dir, &at).map(|_| (0, 0)),
            Inner::Archive { members, .. } => {
                for _ in 0..MAX_LINKS {
                    match members.get(&at) {
                        Some(Member::Data { offset, size }) => return Ok((*offset, *size)),
                        Some(Member::Link(to)) => at = to.clone(),
                        None => bad!("{}: no {name} in the archive", self.describe()),
                    }
                }
                bad!("{}: {name}: too many links", self.describe())
            }
        }
    }
}

/// Opens the regular file `rel` of the layout directory `dir`, following
/// no symlink on the way: a layout whose blob (or any directory above
/// it) is a link, to `/etc/shadow` say, is refused without reading what
/// it points to; so is anything but a regular file (a FIFO would hang).
fn open_beneath(dir: &Path, rel: &str) -> Result<File> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let io = |e: rustix::io::Errno| Error::io(dir.join(rel).display(), e.into());
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open(dir, flags, Mode::empty()).map_err(io)?;
    let fd = rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    );
    let fd = match fd {
        Err(rustix::io::Errno::LOOP) => {
            bad!(
                "{}: {rel} is a symbolic link, which a layout may not use",
                dir.display()
            )
        }
        Err(rustix::io::Errno::NOENT) => bad!("{}: no {rel}", dir.display()),
        other => other.map_err(io)?,
    };
    let st = rustix::fs::fstat(&fd).map_err(io)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        bad!("{}: {rel} is not a regular file", dir.display());
    }
    Ok(File::from(fd))
}

/// The archive's members: regular files by where their data is, links by
/// the member they name (a symlink's target taken relative to its
/// directory; targets leaving the archive are dropped).
fn index(file: &File) -> Result<HashMap<String, Member>> {
    let mut members = HashMap::new();
    let mut archive = tar::Archive::new(file);
    let io = |e| Error::io("reading the archive", e);
    // Headers only: the members' data is skipped by seeking.
    for entry in archive.entries_with_seek().map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let Some(name) = normalize(&name) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let member = match (kind, link) {
            (tar::EntryType::Regular | tar::EntryType::Continuous, _) => Member::Data {
                offset: entry.raw_file_position(),
                size: entry.size(),
            },
            (tar::EntryType::Symlink, Some(to)) => {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                let joined = if to.starts_with('/') {
                    to.clone()
                } else {
                    format!("{dir}/{to}")
                };
                match resolve_dots(&joined) {
                    Some(to) => Member::Link(to),
                    None => continue,
                }
            }
            (tar::EntryType::Link, Some(to)) => match normalize(&to) {
                Some(to) => Member::Link(to),
                None => continue,
            },
            _ => continue,
        };
        members.insert(name, member);
    }
    Ok(members)
}

/// `a/b/../c` → `a/c`; `None` when it climbs above the top.
fn resolve_dots(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// A member's bytes, read in place.
struct Range<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Range<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = (self.end - self.pos).min(buf.len() as u64) as usize;
        if left == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..left], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive is truncated",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        assert_eq!(normalize("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(normalize("../etc/x"), None);
        assert_eq!(normalize("a/../../x"), None);
        assert_eq!(normalize("/etc"), None);
        assert_eq!(
            resolve_dots("blobs/sha256/../x").as_deref(),
            Some("blobs/x")
        );
        assert_eq!(resolve_dots("a/../../x"), None);
    }

    #[test]
    fn archive_members_are_read_in_place_through_links() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "blobs/sha256/abc", &b"hello"[..])
            .unwrap();
        for (name, to) in [
            ("layer/layer.tar", "../blobs/sha256/abc"),
            ("escape", "../../etc/passwd"),
        ] {
            let mut l = tar::Header::new_gnu();
            l.set_entry_type(tar::EntryType::Symlink);
            l.set_size(0);
            b.append_link(&mut l, name, to).unwrap();
        }
        b.into_inner().unwrap();
        let src = Source::open(&path).unwrap();
        let mut text = String::new();
        src.open_member("./layer/layer.tar")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello");
        assert!(!src.exists("escape"));
        assert!(src.open_member("../a.tar").is_err());
    }
}
