//! `actool build [--overwrite] [--compression=...] [--owner-root] DIR OUT`.

use crate::output::write_atomically;
use crate::{Failed, fail};
use appc::aci::{BuildOptions, Compression, build_aci};
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Overwrite the target file if it already exists
    #[arg(long)]
    overwrite: bool,
    /// Do not compress the produced ACI (same as --compression=none)
    #[arg(long)]
    no_compression: bool,
    /// Compression of the produced ACI
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "none", "bzip2", "xz"])]
    compression: String,
    /// Force ownership to root:root on all files
    #[arg(long)]
    owner_root: bool,
    /// The image layout: a directory with `manifest` and `rootfs/`
    directory: String,
    /// The ACI to write
    output: String,
}

/// `SOURCE_DATE_EPOCH`, when set: the latest modification time recorded.
fn source_date_epoch() -> Result<Option<u64>, String> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds")),
        Err(_) => Ok(None),
    }
}

pub fn run(args: Args) -> Result<(), Failed> {
    let compression = match (args.no_compression, args.compression.as_str()) {
        (true, _) | (_, "none") => Compression::None,
        (_, "bzip2") => Compression::Bzip2,
        (_, "xz") => Compression::Xz,
        _ => Compression::Gzip,
    };
    let mtime_clamp = source_date_epoch().map_err(|e| fail("build", e))?;
    let opts = BuildOptions {
        compression,
        owner_root: args.owner_root,
        mtime_clamp,
    };
    let layout = Path::new(&args.directory);
    write_atomically(Path::new(&args.output), args.overwrite, |out| {
        build_aci(layout, out, opts).map_err(|e| format!("{}: {e}", args.directory))
    })
    .map_err(|e| fail("build", e))
}
