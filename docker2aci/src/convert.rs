//! One conversion: find the image, map its manifest, squash its layers
//! into an ACI written beside its final name and renamed into place (a
//! failed conversion leaves no partial ACI).

use crate::error::{Error, Result};
use crate::image::{self, Platform};
use crate::reference::Reference;
use crate::registry::{self, RemoteOptions};
use crate::source::Source;
use crate::{mapping, squash, unsquashed};
use appc::aci::pgzip::ParallelGzWriter;
use std::io::{BufWriter, ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Which image of the source (`NAME[:TAG]`), when it holds several.
    pub image: Option<String>,
    /// The platform to pick from an index.
    pub platform: Platform,
    pub compression: Compression,
    /// One ACI (the default), or one per layer with dependencies.
    pub squash: bool,
    /// The ACI file, or a directory for it; the current directory and
    /// the reference's file name (`library-busybox-latest.aci`) by default.
    pub output: Option<PathBuf>,
    /// The most bytes each ACI's tar stream may have, refused as it is
    /// written once past (a small archive that expands without end stops
    /// there, not when the disk is full).
    pub max_size: Option<u64>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            image: None,
            platform: Platform::host(),
            compression: Compression::Gzip,
            squash: true,
            output: None,
            max_size: None,
        }
    }
}

/// What a conversion made.
#[derive(Debug)]
pub struct Converted {
    pub path: PathBuf,
    pub manifest: appc::schema::ImageManifest,
    /// With `--nosquash`, the lower layers' ACIs (bottom first), which
    /// the one at `path` depends on.
    pub lower: Vec<PathBuf>,
}

/// Converts the image in `input` (a docker save or OCI archive, or an
/// OCI layout directory) into a squashed ACI.
pub fn convert(input: &Path, opts: &Options) -> Result<Converted> {
    let src = Source::open(input)?;
    convert_source(&src, input, opts, opts.image.as_deref())
}

/// What identifies the image `opts` chooses in `input` without converting
/// it: the digest of its configuration (which names every layer's
/// content), or a classic archive's top layer ID.
pub fn image_id(input: &Path, opts: &Options) -> Result<Option<String>> {
    let src = Source::open(input)?;
    Ok(image::find(&src, opts.image.as_deref(), &opts.platform)?.image_id)
}

/// Pulls `reference` (`[REGISTRY/]NAME[:TAG|@DIGEST]`) from its registry
/// and converts it.
pub fn convert_remote(
    reference: &str,
    opts: &Options,
    remote: &RemoteOptions,
) -> Result<Converted> {
    let parsed = Reference::parse(reference)?;
    let tmp = tempfile::Builder::new()
        .prefix("docker2aci-")
        .tempdir()
        .map_err(|e| Error::io("a temporary directory", e))?;
    registry::pull(&parsed, &opts.platform, remote, tmp.path())?;
    let src = Source::open(tmp.path())?;
    let only = Options {
        image: None,
        ..opts.clone()
    };
    convert_source(&src, tmp.path(), &only, Some(reference))
}

/// `original` is the name as the user gave it, when they did.
fn convert_source(
    src: &Source,
    input: &Path,
    opts: &Options,
    original: Option<&str>,
) -> Result<Converted> {
    let image = image::find(src, opts.image.as_deref(), &opts.platform)?;
    let reference = match &image.reference {
        Some(r) => r.clone(),
        None => unnamed(input)?,
    };
    let original = original.map_or_else(|| reference.to_string(), str::to_string);
    let mut manifest = mapping::manifest(&image, &reference, &original)?;
    let path = match &opts.output {
        Some(p) if p.is_dir() => p.join(reference.file_name()),
        Some(p) => p.clone(),
        None => PathBuf::from(reference.file_name()),
    };
    let mut lower = Vec::new();
    if opts.squash || image.layers.is_empty() {
        let json = manifest_json(&manifest)?;
        write_aci(&path, opts, |out| {
            squash::write(src, &image.layers, json.as_bytes(), out).map(drop)
        })?;
    } else {
        let views = unsquashed::views(src, &image.layers)?;
        let last = views.len() - 1;
        let stem = path.with_extension("");
        for (k, view) in views.iter().enumerate() {
            let layer_manifest = if k == last {
                manifest.path_whitelist = view.whitelist.clone();
                manifest.clone()
            } else {
                let m = mapping::layer_manifest(&image, &reference, k, view.whitelist.clone())?;
                manifest.dependencies.push(mapping::dependency_on(&m));
                m
            };
            let json = manifest_json(&layer_manifest)?;
            let at = if k == last {
                path.clone()
            } else {
                PathBuf::from(format!("{}-layer{k}.aci", stem.display()))
            };
            write_aci(&at, opts, |out| {
                unsquashed::write_layer(src, &image.layers, k, view, json.as_bytes(), out).map(drop)
            })?;
            if k != last {
                lower.push(at);
            }
        }
    }
    Ok(Converted {
        path,
        lower,
        manifest,
    })
}

fn manifest_json(m: &appc::schema::ImageManifest) -> Result<String> {
    m.to_json()
        .map_err(|e| Error::Bad(format!("the converted manifest: {e}")))
}

/// Writes an ACI at `path`: into a temporary file beside it, renamed into
/// place once whole; its tar stream held to `opts.max_size`.
fn write_aci(
    path: &Path,
    opts: &Options,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".docker2aci-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(format!("a temporary file in {}", dir.display()), e))?;
    let werr = |e| Error::io(path.display(), e);
    let too_large = |e: Error| match (&e, opts.max_size) {
        (Error::Io { source, .. }, Some(max)) if source.kind() == ErrorKind::FileTooLarge => {
            Error::TooLarge(max)
        }
        _ => e,
    };
    let mut file = BufWriter::with_capacity(1 << 20, tmp.as_file());
    match opts.compression {
        Compression::None => body(&mut Capped::new(&mut file, opts.max_size)).map_err(too_large)?,
        Compression::Gzip => {
            let mut gz = ParallelGzWriter::new(&mut file, flate2::Compression::default());
            body(&mut Capped::new(&mut gz, opts.max_size)).map_err(too_large)?;
            gz.finish().map_err(werr)?;
        }
    }
    file.flush().map_err(werr)?;
    drop(file);
    // A temporary file is private; the ACI is not.
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644)).map_err(werr)?;
    tmp.persist(path).map_err(|e| werr(e.error))?;
    Ok(())
}

/// A writer that fails (FileTooLarge) rather than go past its limit.
struct Capped<W> {
    inner: W,
    left: Option<u64>,
}

impl<W: Write> Capped<W> {
    fn new(inner: W, max: Option<u64>) -> Self {
        Capped { inner, left: max }
    }
}

impl<W: Write> Write for Capped<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(left) = self.left {
            if buf.len() as u64 > left {
                return Err(std::io::Error::new(
                    ErrorKind::FileTooLarge,
                    "the image is larger than allowed",
                ));
            }
            let n = self.inner.write(buf)?;
            self.left = Some(left - n as u64);
            return Ok(n);
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A name for an image its source does not name: the file's, `latest`.
fn unnamed(input: &Path) -> Result<Reference> {
    let stem = input
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem.trim_matches('-');
    Reference::parse(if stem.is_empty() { "image" } else { stem })
}
