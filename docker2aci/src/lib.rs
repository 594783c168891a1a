//! Docker and OCI images to App Container Images (ACIs).
//!
//! - [`source`]: an image's files, from an OCI layout directory or a tar
//!   archive read in place.
//! - [`image`]: finding the image (docker save, classic or current; OCI
//!   layouts and indexes) and its layers.
//! - [`layer`]: one layer's stream: digest checked, decompressed, names
//!   kept inside the root.
//! - [`squash`]: the layers squashed into one ACI.
//! - [`unsquashed`]: one ACI per layer (`--nosquash`).
//! - [`mapping`]: the image manifest from the image's configuration.
//! - [`registry`]: an image pulled from a registry into an OCI layout.
//! - [`convert`]: all of it, into an ACI file.

pub mod convert;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod mapping;
pub mod reference;
pub mod registry;
pub mod source;
pub mod squash;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unsquashed;

pub use convert::{Compression, Converted, Options, convert, convert_remote, image_id};
pub use error::Error;
pub use registry::RemoteOptions;
