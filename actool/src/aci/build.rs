//! Writing an ACI from an image layout.
//!
//! Entries are written in sorted order with their modes, owners (or root
//! with `owner_root`), times (clamped to `mtime_clamp`, normally
//! `SOURCE_DATE_EPOCH`), symlinks, hard links (files sharing an inode are
//! stored once and linked), device nodes, FIFOs and extended attributes (as
//! PAX `SCHILY.xattr.*` records). The same tree gives the same bytes.

use super::AciError;
use super::layout::validate_layout;
use super::pgzip::ParallelGzWriter;
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
}

#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    pub compression: Compression,
    /// Record every file as owned by root:root.
    pub owner_root: bool,
    /// No entry gets a modification time later than this (Unix seconds).
    pub mtime_clamp: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            compression: Compression::Gzip,
            owner_root: false,
            mtime_clamp: None,
        }
    }
}

struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    opts: BuildOptions,
    /// (device, inode) of files with several links, to the first name.
    inodes: HashMap<(u64, u64), PathBuf>,
}

/// The extended attributes of `path` as PAX records; none where the file
/// system has none or does not support them.
fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names[..]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::lgetxattr(path, name, &mut value[..]) {
            value.truncate(len);
            out.push((format!("SCHILY.xattr.{name}"), value));
        }
    }
    out
}

impl<W: Write> TarWriter<W> {
    fn header(&self, meta: &fs::Metadata, kind: tar::EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(meta.mode() & 0o7777);
        let (uid, gid) = if self.opts.owner_root {
            (0, 0)
        } else {
            (meta.uid(), meta.gid())
        };
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        let mtime = meta.mtime().max(0) as u64;
        h.set_mtime(self.opts.mtime_clamp.map_or(mtime, |c| mtime.min(c)));
        h.set_size(0);
        h
    }

    fn append(&mut self, disk: &Path, name: &Path) -> Result<(), AciError> {
        let io_err = |e: io::Error| AciError::file(disk, e);
        let meta = fs::symlink_metadata(disk).map_err(io_err)?;
        let ft = meta.file_type();
        let pax = xattrs(disk);
        if !pax.is_empty() {
            let records = pax.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
            self.tar.append_pax_extensions(records).map_err(io_err)?;
        }
        if ft.is_dir() {
            let mut h = self.header(&meta, tar::EntryType::Directory);
            self.tar
                .append_data(&mut h, name, io::empty())
                .map_err(io_err)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(disk).map_err(io_err)?;
            let mut h = self.header(&meta, tar::EntryType::Symlink);
            self.tar
                .append_link(&mut h, name, &target)
                .map_err(io_err)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = self.inodes.get(&key) {
                    let mut h = self.header(&meta, tar::EntryType::Link);
                    let first = first.clone();
                    return self.tar.append_link(&mut h, name, &first).map_err(io_err);
                }
                self.inodes.insert(key, name.to_path_buf());
            }
            let mut h = self.header(&meta, tar::EntryType::Regular);
            h.set_size(meta.len());
            let file = File::open(disk).map_err(io_err)?;
            // A file that shrinks while it is read would corrupt the archive.
            self.tar
                .append_data(&mut h, name, file.take(meta.len()))
                .map_err(io_err)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else {
                tar::EntryType::Fifo
            };
            let mut h = self.header(&meta, kind);
            let rdev = meta.rdev();
            h.set_device_major(rustix::fs::major(rdev))
                .map_err(io_err)?;
            h.set_device_minor(rustix::fs::minor(rdev))
                .map_err(io_err)?;
            self.tar
                .append_data(&mut h, name, io::empty())
                .map_err(io_err)?;
        } else {
            // Sockets cannot be stored in a tar archive; they are runtime
            // objects, not image content.
            eprintln!("skipping socket {}", disk.display());
        }
        Ok(())
    }

    /// Appends `disk` as `name`, then its children in byte order.
    fn append_tree(&mut self, disk: &Path, name: &Path) -> Result<(), AciError> {
        self.append(disk, name)?;
        let is_dir = fs::symlink_metadata(disk)
            .map_err(|e| AciError::file(disk, e))?
            .is_dir();
        if !is_dir {
            return Ok(());
        }
        let mut children: Vec<_> = fs::read_dir(disk)
            .map_err(|e| AciError::file(disk, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| AciError::file(disk, e))?;
        children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for child in children {
            self.append_tree(&disk.join(&child), &name.join(&child))?;
        }
        Ok(())
    }
}

fn write_tar<W: Write>(layout: &Path, out: W, opts: BuildOptions) -> Result<W, AciError> {
    let mut w = TarWriter {
        tar: tar::Builder::new(out),
        opts,
        inodes: HashMap::new(),
    };
    w.append(&layout.join("manifest"), Path::new("manifest"))?;
    w.append_tree(&layout.join("rootfs"), Path::new("rootfs"))?;
    w.tar.into_inner().map_err(|e| AciError::file(layout, e))
}

/// Validates the layout in `layout`, then writes it as an ACI to `out`.
pub fn build_aci<W: Write>(layout: &Path, out: W, opts: BuildOptions) -> Result<W, AciError> {
    validate_layout(layout)?;
    let io_err = |e: io::Error| AciError::file(layout, e);
    let level = flate2::Compression::default();
    match opts.compression {
        Compression::None => write_tar(layout, out, opts),
        Compression::Gzip => write_tar(layout, ParallelGzWriter::new(out, level), opts)?
            .finish()
            .map_err(io_err),
        Compression::Bzip2 => {
            let enc = bzip2::write::BzEncoder::new(out, bzip2::Compression::default());
            write_tar(layout, enc, opts)?.finish().map_err(io_err)
        }
        Compression::Xz => {
            let enc = liblzma::write::XzEncoder::new(out, 6);
            write_tar(layout, enc, opts)?.finish().map_err(io_err)
        }
    }
}
