//! `goaci [FLAGS] IMPORT_PATH[@VERSION] | DIR | PATTERN`: a Go command
//! into an ACI.

use anyhow::Context;
use appc::aci::Compression;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "goaci", about = "Build a Go command into an ACI", version)]
struct Args {
    /// a package directory (./cmd/server), a pattern (./cmd/...), or an
    /// import path, with @VERSION to fetch it as `go get` would
    input: String,
    /// write the ACI here (default: BINARY.aci)
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// the image's name (default: the import path, in lower case)
    #[arg(long)]
    name: Option<String>,
    /// an argument after the binary in the app's exec (repeatable)
    #[arg(long, allow_hyphen_values = true)]
    exec: Vec<String>,
    /// the command to take when the input builds several
    #[arg(long)]
    use_binary: Option<String>,
    /// SRC:DEST, a file or directory of the project copied into the
    /// image at DEST (<PROJPATH> in SRC is the project's directory)
    #[arg(long)]
    asset: Vec<String>,
    /// NAME:PROTOCOL:PORT, a port the app listens on (repeatable)
    #[arg(long)]
    port: Vec<String>,
    /// the app's user
    #[arg(long, default_value = "0")]
    user: String,
    /// the app's group
    #[arg(long, default_value = "0")]
    group: String,
    /// the Go toolchain to use
    #[arg(long, default_value = "go")]
    go_binary: String,
    /// keep the working directory (its path is printed)
    #[arg(long)]
    keep_tmp: bool,
    /// none, gzip, bzip2 or xz
    #[arg(long, default_value = "gzip")]
    compression: String,
}

fn run(args: Args) -> anyhow::Result<()> {
    let compression = match args.compression.as_str() {
        "none" => Compression::None,
        "gzip" => Compression::Gzip,
        "bzip2" => Compression::Bzip2,
        "xz" => Compression::Xz,
        other => anyhow::bail!("--compression {other:?}: none, gzip, bzip2 or xz"),
    };
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Some(
            v.trim()
                .parse::<u64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"))?,
        ),
        Err(_) => None,
    };
    let built = goaci::build::run(&goaci::build::Options {
        input: args.input,
        go_binary: args.go_binary,
        output: args.output,
        name: args.name,
        exec: args.exec,
        use_binary: args.use_binary,
        assets: args.asset,
        ports: args.port,
        user: args.user,
        group: args.group,
        keep_tmp: args.keep_tmp,
        compression,
        source_date_epoch,
    })?;
    if let Some(dir) = built.kept {
        eprintln!("Kept {}", dir.display());
    }
    println!("Wrote {}", built.aci.display());
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("goaci: {}", appc::printable::one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
