//! App Container Images: a tar archive (plain, gzip, bzip2 or xz) holding
//! `manifest` and `rootfs/`.
//!
//! - [`filetype`]: recognises the compression from magic bytes.
//! - [`archive`]: validates an ACI while streaming it, reads its manifest,
//!   computes its image ID (SHA-512 of the uncompressed tar).
//! - [`layout`]: validates an image layout directory.
//! - [`build`]: writes an ACI from a layout, reproducibly.
//! - [`pgzip`]: gzip on all cores, for writing ACIs.

pub mod archive;
pub mod build;
pub mod extract;
pub mod filetype;
pub mod layout;
mod path;
pub mod pgzip;
mod sha512_reader;

pub use archive::{ArchiveInfo, manifest_from_archive, validate_archive};
pub use build::{BuildOptions, Compression, build_aci};
pub use extract::{ExtractOptions, extract_archive};
pub use filetype::FileType;
pub use layout::validate_layout;

use crate::schema::SchemaError;

/// Why an image or layout is not a valid ACI, or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AciError {
    #[error("unable to detect filetype")]
    UnknownFileType,
    #[error("expands to more than {0} bytes, the most allowed (see the fetch limits)")]
    TooLarge(u64),
    #[error("holds more than {0} files, the most allowed (see the fetch limits)")]
    TooManyEntries(u64),
    #[error("error reading archive: {0}")]
    Read(std::io::Error),
    #[error("duplicate file entry in archive: {0}")]
    DuplicateEntry(String),
    #[error("rootfs is not a directory")]
    RootfsNotDirectory,
    #[error("manifest is not a regular file")]
    ManifestNotFile,
    #[error("manifest is larger than {} bytes", archive::MAX_MANIFEST)]
    ManifestTooLarge,
    #[error("no image manifest found in layout")]
    NoManifest,
    #[error("no rootfs found in layout")]
    NoRootfs,
    #[error("unrecognized file path in layout: {0}")]
    UnrecognizedPath(String),
    #[error("entry {0} is an absolute path")]
    AbsolutePath(String),
    #[error("entry {0} escapes the image")]
    EscapingPath(String),
    #[error("hard link {name} points to {target}, which is not an earlier entry under rootfs")]
    BadHardLink { name: String, target: String },
    #[error("image manifest validation failed: {0}")]
    Manifest(SchemaError),
    #[error("{path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("extracting {path}: {source}")]
    Extract {
        path: String,
        source: std::io::Error,
    },
    #[error("symlink {name} points to {target}, outside the image")]
    EscapingSymlink { name: String, target: String },
    #[error("device node {0} in the image")]
    DeviceNode(String),
    #[error("entry {name} has a type that images may not hold ({kind})")]
    UnsupportedEntry { name: String, kind: String },
}

impl AciError {
    pub fn file(path: &std::path::Path, source: std::io::Error) -> Self {
        AciError::File {
            path: path.display().to_string(),
            source,
        }
    }
}
