//! `docker2aci`: converts a Docker or OCI image into an ACI.
//!
//!     docker2aci [--image NAME[:TAG]] [--compression gzip|none] [-o PATH]
//!                [--os OS --arch ARCH] FILE|DIR

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use docker2aci::image::Platform;
use docker2aci::{Compression, Options};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "docker2aci",
    version,
    about = "Convert a Docker or OCI image (docker save archive, OCI archive or OCI layout) into a squashed ACI"
)]
struct Cli {
    /// The image: a `docker save` archive, an OCI archive, or an OCI
    /// layout directory.
    input: String,
    /// Which image of the input, when it holds several (NAME[:TAG]).
    #[arg(long)]
    image: Option<String>,
    /// The ACI's compression.
    #[arg(long, value_enum, default_value = "gzip")]
    compression: CompressionArg,
    /// Where to write the ACI (a file, or a directory for it).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The os to pick from an index (default: this machine's).
    #[arg(long)]
    os: Option<String>,
    /// The architecture to pick from an index, Go's name (amd64, arm64, arm, ...).
    #[arg(long)]
    arch: Option<String>,
    /// The architecture variant to pick (v7, v8, ...).
    #[arg(long)]
    variant: Option<String>,
    /// Print what is done.
    #[arg(long)]
    debug: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum CompressionArg {
    Gzip,
    None,
}

fn run(cli: Cli) -> Result<()> {
    if cli.input.starts_with("docker://") {
        bail!(
            "{}: registries are not supported yet; save the image to a file (docker save, skopeo copy) and convert that",
            cli.input
        );
    }
    let mut platform = Platform::host();
    if let Some(os) = cli.os {
        platform.os = os;
    }
    if let Some(arch) = cli.arch {
        platform.arch = arch;
    }
    platform.variant = cli.variant;
    let opts = Options {
        image: cli.image,
        platform,
        compression: match cli.compression {
            CompressionArg::Gzip => Compression::Gzip,
            CompressionArg::None => Compression::None,
        },
        output: cli.output,
    };
    let input = PathBuf::from(&cli.input);
    let done = docker2aci::convert(&input, &opts).with_context(|| cli.input.clone())?;
    if cli.debug {
        eprintln!("converted {} as {}", cli.input, done.manifest.name.as_str());
    }
    println!("Generated ACI(s):\n{}", done.path.display());
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("docker2aci: {e:#}");
        std::process::exit(1);
    }
}
