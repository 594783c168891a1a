//! actool: build, validate, inspect and patch App Container Images.
//!
//! Exit status: 0 success, 1 invalid input or failure, 2 usage error.

mod build;
mod cat_manifest;
mod discover;
mod output;
mod patch_manifest;
mod validate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "actool", version = appc::schema::AC_VERSION, about = "actool, the application container tool")]
struct Cli {
    /// Print verbose (debug) output
    #[arg(long, global = true)]
    debug: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an ACI from an Image Layout
    Build(build::Args),
    /// Print the manifest from an ACI
    CatManifest(cat_manifest::Args),
    /// Discover the download URLs for one or more app container images
    Discover(discover::Args),
    /// Copy an ACI and patch its manifest
    PatchManifest(Box<patch_manifest::Args>),
    /// Validate that one or more images or manifests meet the AppContainer specification
    Validate(validate::Args),
    /// Print the version and exit
    Version,
}

/// A failure already described to the user; the process exits with 1.
pub struct Failed;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(a) => build::run(a),
        Command::CatManifest(a) => cat_manifest::run(a),
        Command::Discover(a) => discover::run(a, cli.debug),
        Command::PatchManifest(a) => patch_manifest::run(*a),
        Command::Validate(a) => validate::run(a, cli.debug),
        Command::Version => {
            println!("actool version {}", appc::schema::AC_VERSION);
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}

/// Prints `context: error` on one line and reports failure.
pub fn fail(context: &str, err: impl std::fmt::Display) -> Failed {
    eprintln!(
        "{}",
        appc::printable::one_line(&format!("{context}: {err}"))
    );
    Failed
}
