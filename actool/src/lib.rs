//! The App Container (appc) specification, v0.8.11, as a library.
//!
//! - [`schema`]: the manifest types (image and pod manifests and everything
//!   inside them), validated on parse, serialised back with serde.
//! - [`aci`]: reading, validating and writing App Container Images.
//! - [`discovery`]: meta discovery of image and key locations from a name.
//! - [`printable`]: messages fit for the user's terminal.

pub mod aci;
pub mod discovery;
pub mod printable;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
