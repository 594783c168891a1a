//! stage0 of the pod executor: configuration, trust, the image store,
//! fetching and pods on disk. stage1 is reached only through the
//! entrypoints of its image (see the `pod` crate for the contract).
//!
//! - [`config`]: directories, `--insecure-options`, `*.d` configuration.
//! - [`pgp`]: OpenPGP keys and detached signatures (sequoia).
//! - [`trust`]: the prefix-scoped trust store, rkt's on-disk layout.
//! - [`store`]: the crash-safe image store.
//! - [`fetch`]: images from files, URLs and appc names.
//! - [`pods`]: pods on disk: their states, locks and UUIDs.

pub mod config;
pub mod data_dir;
pub mod display;
pub mod fetch;
pub mod mds;
pub mod pgp;
pub mod pod_input;
pub mod pods;
pub mod prepare;
pub mod stage1_image;
pub mod store;
pub mod trust;
