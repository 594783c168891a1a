//! The contract between rkt's two stages, written once for both: the files
//! of a pod's directory ([`PodDir`]), the name-resolution flags stage0
//! passes and stage1 turns into files ([`dns`]), the networks `--net`
//! chooses ([`net`]), what an app may do unless the user grants more
//! ([`privileges`]), and how stage1 is run from a read-only mount of its
//! executable ([`exe`]). stage0 never links stage1; it reaches it only by
//! executing the entrypoints its image annotates.

pub mod dir;
pub mod dns;
pub mod exe;
pub mod mds;
pub mod net;
pub mod privileges;

pub use dir::PodDir;

/// The `PATH` an app gets when its image sets none (as rkt's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
