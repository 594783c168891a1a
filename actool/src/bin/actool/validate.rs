//! `actool validate [--type=TYPE] FILE...`: images, layouts and manifests.

use crate::{Failed, fail};
use appc::aci::{self, AciError};
use appc::schema::{ImageManifest, PodManifest, SchemaError};
use std::fs::File;
use std::io::Read;
use std::path::Path;

#[derive(clap::Args)]
pub struct Args {
    /// Type of file to validate; detected when unset
    #[arg(long = "type", value_parser = ["appimage", "layout", "manifest"])]
    kind: Option<String>,
    /// Files to validate
    #[arg(required = true)]
    files: Vec<String>,
}

enum Problem {
    Aci(AciError),
    Manifest(SchemaError),
    Other(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Aci(e) => write!(f, "error validating: {e}"),
            Problem::Manifest(e) => write!(f, "error validating: {e}"),
            Problem::Other(e) => f.write_str(e),
        }
    }
}

/// Validates a manifest file by its `acKind`.
fn validate_manifest(path: &Path) -> Result<&'static str, Problem> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| Problem::Other(format!("unable to read: {e}")))?;
    let kind = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("acKind").and_then(|k| k.as_str()).map(str::to_owned));
    match kind.as_deref() {
        Some("PodManifest") => PodManifest::from_json(&text).map(|_| "valid PodManifest"),
        _ => ImageManifest::from_json(&text).map(|_| "valid ImageManifest"),
    }
    .map_err(Problem::Manifest)
}

fn validate_image(path: &Path) -> Result<&'static str, Problem> {
    let f = File::open(path).map_err(|e| Problem::Other(format!("unable to open: {e}")))?;
    aci::validate_archive(f, false).map_err(Problem::Aci)?;
    Ok("valid app container image")
}

fn validate_one(path: &Path, kind: Option<&str>) -> Result<&'static str, Problem> {
    let meta =
        std::fs::metadata(path).map_err(|e| Problem::Other(format!("unable to access: {e}")))?;
    let kind = match kind {
        Some(k) => k,
        None if meta.is_dir() => "layout",
        None => {
            let mut head = Vec::new();
            File::open(path)
                .and_then(|f| f.take(512).read_to_end(&mut head))
                .map_err(|e| Problem::Other(format!("unable to read: {e}")))?;
            if aci::filetype::detect(&head).is_some() {
                "appimage"
            } else if head.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
                "manifest"
            } else {
                return Err(Problem::Other(
                    "unable to detect filetype (try --type)".into(),
                ));
            }
        }
    };
    match kind {
        "layout" => aci::validate_layout(path)
            .map(|_| "valid image layout")
            .map_err(Problem::Aci),
        "manifest" => validate_manifest(path),
        _ => validate_image(path),
    }
}

pub fn run(args: Args, debug: bool) -> Result<(), Failed> {
    let mut failed = false;
    for file in &args.files {
        match validate_one(Path::new(file), args.kind.as_deref()) {
            Ok(what) if debug => eprintln!("{file}: {what}"),
            Ok(_) => {}
            Err(p) => {
                fail(file, p);
                failed = true;
            }
        }
    }
    if failed { Err(Failed) } else { Ok(()) }
}
