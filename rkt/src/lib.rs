//! stage0 of the pod executor: configuration, trust, the image store and
//! fetching. Pods and stage1 come with later work.
//!
//! - [`config`]: directories, `--insecure-options`, `*.d` configuration.
//! - [`pgp`]: OpenPGP keys and detached signatures (sequoia).
//! - [`trust`]: the prefix-scoped trust store, rkt's on-disk layout.
//! - [`store`]: the crash-safe image store.
//! - [`fetch`]: images from files, URLs and appc names.

pub mod config;
pub mod data_dir;
pub mod display;
pub mod fetch;
pub mod pgp;
pub mod pod;
pub mod pod_input;
pub mod stage1_image;
pub mod store;
pub mod trust;
