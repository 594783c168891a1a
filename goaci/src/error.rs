//! What goes wrong, each naming the thing that is wrong.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum GoaciError {
    #[error("no Go toolchain: {binary}: {source} (install golang-go, or give --go-binary)")]
    NoGo {
        binary: String,
        source: std::io::Error,
    },
    #[error("go {command}: {output}")]
    Go { command: String, output: String },
    #[error("the build failed:\n{0}")]
    Build(String),
    #[error("{0} is not a main package (package {1}): only a command can be an image")]
    NotMain(String, String),
    #[error("{pattern} matches no package")]
    NoPackage { pattern: String },
    #[error("{pattern} has several commands ({}); choose one with --use-binary", .names.join(", "))]
    SeveralBinaries { pattern: String, names: Vec<String> },
    #[error("--use-binary {wanted}: no such command among {}", .names.join(", "))]
    NoSuchBinary { wanted: String, names: Vec<String> },
    #[error("{0}")]
    Cgo(String),
    #[error("--asset {spec}: {why}")]
    Asset { spec: String, why: String },
    #[error("--port {0}: expected NAME:PROTOCOL:PORT (e.g. http:tcp:8080)")]
    Port(String),
    #[error("the image manifest: {0}")]
    Manifest(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Aci(#[from] appc::aci::AciError),
}

pub type Result<T> = std::result::Result<T, GoaciError>;

/// An I/O error at `path`.
pub fn at(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> GoaciError {
    let path = path.into();
    move |source| GoaciError::Io { path, source }
}
