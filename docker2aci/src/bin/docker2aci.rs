//! `docker2aci`: converts a Docker or OCI image into an ACI.
//!
//!     docker2aci [--image NAME[:TAG]] [--compression gzip|none] [-o PATH]
//!                [--os OS --arch ARCH] FILE|DIR|docker://[REGISTRY/]NAME[:TAG|@DIGEST]
//!
//! Credentials for a registry come from `docker login`'s config.json.

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use docker2aci::image::Platform;
use docker2aci::{Compression, Options, RemoteOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "docker2aci",
    version,
    about = "Convert a Docker or OCI image (docker save archive, OCI archive, OCI layout or registry) into a squashed ACI"
)]
struct Cli {
    /// The image: a `docker save` archive, an OCI archive, an OCI layout
    /// directory, or docker://[REGISTRY/]NAME[:TAG|@DIGEST].
    input: String,
    /// Which image of the input, when it holds several (NAME[:TAG]).
    #[arg(long)]
    image: Option<String>,
    /// One ACI per layer (each depending on the ones below) rather than
    /// one squashed ACI.
    #[arg(long)]
    nosquash: bool,
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
    /// Accept any TLS certificate from the registry.
    #[arg(long)]
    insecure_skip_verify: bool,
    /// Use plain HTTP with a registry that does not speak HTTPS.
    #[arg(long)]
    insecure_allow_http: bool,
    /// Seconds a registry connection or read may wait.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
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
        squash: !cli.nosquash,
        max_size: None,
    };
    let done = match cli.input.strip_prefix("docker://") {
        Some(name) => {
            if opts.image.is_some() {
                bail!("--image chooses among the images of a file; give the name in docker://NAME[:TAG]");
            }
            let registry = docker2aci::reference::Reference::parse(name)?.registry;
            let remote = RemoteOptions {
                credentials: docker2aci::registry::docker_login(&registry),
                insecure_skip_verify: cli.insecure_skip_verify,
                allow_http: cli.insecure_allow_http,
                timeout: Duration::from_secs(cli.timeout),
            };
            docker2aci::convert_remote(name, &opts, &remote)
        }
        None => docker2aci::convert(&PathBuf::from(&cli.input), &opts),
    }
    .with_context(|| cli.input.clone())?;
    if cli.debug {
        eprintln!("converted {} as {}", cli.input, done.manifest.name.as_str());
    }
    println!("Generated ACI(s):");
    for aci in done.lower.iter().chain([&done.path]) {
        println!("{}", aci.display());
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!(
            "docker2aci: {}",
            appc::printable::one_line(&format!("{e:#}"))
        );
        std::process::exit(1);
    }
}
