//! `acKind`: which manifest a document is.

use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcKind {
    ImageManifest,
    PodManifest,
}

impl AcKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AcKind::ImageManifest => "ImageManifest",
            AcKind::PodManifest => "PodManifest",
        }
    }

    pub fn new(s: &str) -> Result<Self> {
        match s {
            "ImageManifest" => Ok(AcKind::ImageManifest),
            "PodManifest" => Ok(AcKind::PodManifest),
            "" => Err(SchemaError::new("ACKind must be set")),
            other => Err(SchemaError::new(format!("bad ACKind: {other}"))),
        }
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        Self::new(&json::string(v, "acKind")?)
    }
}

impl Serialize for AcKind {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
