//! Validating an ACI while streaming it, and reading its manifest.
//!
//! The rules are the reference's, made strict where it is lax:
//! - exactly one `manifest` (a regular file holding a valid image manifest)
//!   and a `rootfs` directory entry; every other entry under `rootfs/`;
//! - names are cleaned lexically first (`./rootfs/x`, `rootfs/../rootfs/x`
//!   are `rootfs/x`); no name may appear twice;
//! - stricter than the reference: absolute names, names escaping the
//!   archive with `..`, top-level names that merely start with `rootfs`
//!   (`rootfsfoo`) and hard links to anything but an earlier entry under
//!   `rootfs/` are refused.

use super::AciError;
use super::filetype::{self, FileType};
use super::path::clean;
use super::sha512_reader::Sha512Reader;
use crate::schema::ImageManifest;
use crate::schema::types::Hash;
use std::collections::HashSet;
use std::io::Read;

/// The largest manifest accepted; real ones are a few kilobytes.
pub const MAX_MANIFEST: u64 = 16 << 20;

/// What validation learnt about an image.
#[derive(Debug)]
pub struct ArchiveInfo {
    pub file_type: FileType,
    pub manifest: ImageManifest,
    /// The image ID, when asked for.
    pub image_id: Option<Hash>,
}

pub(crate) fn display(name: &[u8]) -> String {
    crate::schema::json::quote(&String::from_utf8_lossy(name))
}

fn read_manifest<R: Read>(entry: &mut tar::Entry<'_, R>) -> Result<ImageManifest, AciError> {
    if !matches!(
        entry.header().entry_type(),
        tar::EntryType::Regular | tar::EntryType::Continuous
    ) {
        return Err(AciError::ManifestNotFile);
    }
    let mut buf = Vec::new();
    entry
        .take(MAX_MANIFEST + 1)
        .read_to_end(&mut buf)
        .map_err(AciError::Read)?;
    if buf.len() as u64 > MAX_MANIFEST {
        return Err(AciError::ManifestTooLarge);
    }
    let text = String::from_utf8(buf).map_err(|_| {
        AciError::Manifest(crate::schema::SchemaError::new("manifest is not UTF-8"))
    })?;
    ImageManifest::from_json(&text).map_err(AciError::Manifest)
}

/// Where an entry belongs, once its name is cleaned.
enum Place {
    Manifest,
    Rootfs,
    UnderRootfs,
}

fn place(name: &[u8], raw: &[u8]) -> Result<Place, AciError> {
    if name.first() == Some(&b'/') {
        return Err(AciError::AbsolutePath(display(raw)));
    }
    if name == b".." || name.starts_with(b"../") {
        return Err(AciError::EscapingPath(display(raw)));
    }
    match name {
        b"manifest" => Ok(Place::Manifest),
        b"rootfs" => Ok(Place::Rootfs),
        n if n.starts_with(b"rootfs/") => Ok(Place::UnderRootfs),
        _ => Err(AciError::UnrecognizedPath(display(name))),
    }
}

/// Something done with each `rootfs` entry (the directory itself has the
/// empty relative path) once it passed the layout checks.
pub(crate) trait Visit {
    fn visit<R: Read>(&mut self, rel: &[u8], entry: &mut tar::Entry<'_, R>)
    -> Result<(), AciError>;
}

/// Validation alone.
struct NoVisit;

impl Visit for NoVisit {
    fn visit<R: Read>(&mut self, _: &[u8], _: &mut tar::Entry<'_, R>) -> Result<(), AciError> {
        Ok(())
    }
}

/// Validates the ACI read from `r`, computing its image ID if `with_id`.
pub fn validate_archive<R: Read>(r: R, with_id: bool) -> Result<ArchiveInfo, AciError> {
    if with_id {
        return scan_archive(r, &mut NoVisit, None);
    }
    let (file_type, decoded) = filetype::decompress(r)?;
    let manifest = scan(decoded, &mut NoVisit)?;
    Ok(ArchiveInfo {
        file_type,
        manifest,
        image_id: None,
    })
}

/// Decompresses, hashes and scans `r`, visiting every rootfs entry.
pub(crate) fn scan_archive<R: Read>(
    r: R,
    visitor: &mut impl Visit,
    max_size: Option<u64>,
) -> Result<ArchiveInfo, AciError> {
    let (file_type, decoded) = filetype::decompress(r)?;
    let limited = SizeLimit {
        inner: decoded,
        left: max_size,
    };
    let mut hashing = Sha512Reader::new(limited);
    // Past the limit, whatever read it stopped: the entries or the rest.
    let too_large = |e: &AciError| match e {
        AciError::Read(io) | AciError::Extract { source: io, .. } => {
            io.kind() == std::io::ErrorKind::FileTooLarge
        }
        _ => false,
    };
    let limit_err = |e: AciError| match max_size {
        Some(limit) if too_large(&e) => AciError::TooLarge(limit),
        _ => e,
    };
    let manifest = scan(&mut hashing, visitor).map_err(limit_err)?;
    let digest = hashing
        .finish()
        .map_err(AciError::Read)
        .map_err(limit_err)?;
    let image_id = Some(Hash::from_sha512(&digest));
    Ok(ArchiveInfo {
        file_type,
        manifest,
        image_id,
    })
}

/// A decompressed stream that fails once it goes past its limit (a
/// decompression bomb stops there, not when the disk is full).
struct SizeLimit<R> {
    inner: R,
    left: Option<u64>,
}

impl<R: Read> Read for SizeLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(left) = self.left else {
            return self.inner.read(buf);
        };
        // One byte more than allowed tells a stream at the limit from one past it.
        let want = buf
            .len()
            .min(usize::try_from(left.saturating_add(1)).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > left {
            let kind = std::io::ErrorKind::FileTooLarge;
            return Err(std::io::Error::new(
                kind,
                "the image is larger than allowed",
            ));
        }
        self.left = Some(left - n as u64);
        Ok(n)
    }
}

/// Walks every entry, checking the layout and visiting the rootfs entries;
/// returns the manifest.
fn scan<R: Read>(r: R, visitor: &mut impl Visit) -> Result<ImageManifest, AciError> {
    let mut archive = tar::Archive::new(r);
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut manifest = None;
    let mut has_rootfs = false;
    let mut unrecognized: Option<AciError> = None;
    for entry in archive.entries().map_err(AciError::Read)? {
        let mut entry = entry.map_err(AciError::Read)?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let raw = entry.path_bytes().into_owned();
        let name = clean(&raw);
        if !seen.insert(name.clone()) {
            return Err(AciError::DuplicateEntry(
                String::from_utf8_lossy(&name).into(),
            ));
        }
        let placed = match place(&name, &raw) {
            Ok(p) => p,
            // The reference reports a missing manifest or rootfs before an
            // unrecognised name; keep scanning to know which applies.
            Err(e @ AciError::UnrecognizedPath(_)) => {
                unrecognized.get_or_insert(e);
                continue;
            }
            Err(e) => return Err(e),
        };
        match placed {
            Place::Manifest => manifest = Some(read_manifest(&mut entry)?),
            Place::Rootfs if kind.is_dir() => {
                has_rootfs = true;
                visitor.visit(b"", &mut entry)?;
            }
            Place::Rootfs => return Err(AciError::RootfsNotDirectory),
            Place::UnderRootfs => {
                if kind.is_hard_link() {
                    let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                    let cleaned = clean(&target);
                    if !cleaned.starts_with(b"rootfs/") || !seen.contains(&cleaned) {
                        return Err(AciError::BadHardLink {
                            name: display(&raw),
                            target: display(&target),
                        });
                    }
                }
                visitor.visit(&name[b"rootfs/".len()..], &mut entry)?;
            }
        }
    }
    let manifest = manifest.ok_or(AciError::NoManifest)?;
    if !has_rootfs {
        return Err(AciError::NoRootfs);
    }
    if let Some(e) = unrecognized {
        return Err(e);
    }
    Ok(manifest)
}

/// Reads the manifest of an ACI, stopping as soon as it is found. The rest
/// of the archive is not validated.
pub fn manifest_from_archive<R: Read>(r: R) -> Result<ImageManifest, AciError> {
    let (_, decoded) = filetype::decompress(r)?;
    let mut archive = tar::Archive::new(decoded);
    for entry in archive.entries().map_err(AciError::Read)? {
        let mut entry = entry.map_err(AciError::Read)?;
        if clean(&entry.path_bytes()) == b"manifest" {
            return read_manifest(&mut entry);
        }
    }
    Err(AciError::NoManifest)
}
