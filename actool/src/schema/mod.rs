//! Schema types of the appc spec, validated when parsed.
//!
//! Decoding follows the reference implementation's (Go's) JSON rules where a
//! manifest in the wild may depend on them: object keys match fields
//! case-insensitively, unknown keys are ignored and the last of duplicated
//! keys wins. Every type checks its own invariants on parse, so a value of
//! one of these types is valid by construction; the few exceptions that the
//! reference also accepts (a port or mount without a name, a pod app
//! without an image ID) fail on serialisation, as they do in the reference.

pub mod image_manifest;
pub(crate) mod json;
pub mod pod_manifest;
pub mod types;

pub use image_manifest::ImageManifest;
pub use pod_manifest::PodManifest;

/// The version of the spec this library implements.
pub const AC_VERSION: &str = "0.8.11";

/// A manifest or one of its parts failed validation; the message says what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaError(pub(crate) String);

impl SchemaError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        SchemaError(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, SchemaError>;

/// Serialises with four-space indentation, as the reference prints
/// manifests.
pub fn to_json_pretty<T: serde::Serialize>(v: &T) -> Result<String> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)
        .map_err(|e| SchemaError::new(e.to_string()))?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}
