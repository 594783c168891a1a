//! Meta discovery: from an image name to the URLs of its ACI, signature and
//! public keys.
//!
//! - [`app`]: the `name[:version][,label=value]` form users type.
//! - [`meta`]: `ac-discovery` and `ac-discovery-pubkeys` tags in a page.
//! - [`template`]: rendering `{name}`, `{version}`, `{os}`, `{ext}`...
//! - [`client`]: fetching `https://PREFIX?ac-discovery=1`, walking up the
//!   name until a page gives what is looked for.

pub mod app;
pub mod client;
pub mod meta;
pub mod template;

pub use app::AppName;
pub use client::{AciEndpoint, DiscoveryClient, DiscoveryError, FailedAttempt, Insecure};
