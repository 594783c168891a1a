//! goaci: a Go command into an ACI that runs as it is. The user's Go
//! toolchain builds it (modules, vendor directories, workspaces, GOPROXY
//! and GOFLAGS as they are), static unless it needs cgo, in which case
//! its shared libraries and loader go into the image too.
//!
//! - [`toolchain`]: `go env`, `go list`, `go build`, `go get`.
//! - [`build`]: one run, from the input to the ACI written by a rename.
//! - [`manifest`]: the image manifest (name, labels, app, annotations).
//! - [`assets`]: `--asset` files and directories of the project.
//! - [`libs`]: a cgo binary's libraries, as ldd lists them.

pub mod assets;
pub mod build;
pub mod error;
pub mod libs;
pub mod manifest;
pub mod toolchain;

pub use error::GoaciError;
