//! Meta discovery: from an image name to the URLs of its ACI, signature and
//! public keys.
//!
//! - [`app`]: the `name[:version][,label=value]` form users type.

pub mod app;

pub use app::AppName;
