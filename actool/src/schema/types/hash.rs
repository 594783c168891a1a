//! Image IDs: `sha512-<hex>`.

use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// The length of the short form: `sha512-` and a quarter of a SHA-512 in hex.
const SHORT_LEN: usize = 7 + 32;

/// An image ID. Only `sha512` is recognised; the value is not checked for
/// being hex, as in the reference (IDs in manifests may be truncated).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash {
    value: String,
}

impl Hash {
    pub fn new(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('-').collect();
        let [typ, val] = parts[..] else {
            return Err(SchemaError::new("badly formatted hash string"));
        };
        match typ {
            "sha512" => {}
            "" => return Err(SchemaError::new("unexpected empty hash type")),
            other => return Err(SchemaError::new(format!("unrecognized hash type: {other}"))),
        }
        if val.is_empty() {
            return Err(SchemaError::new("unexpected empty hash value"));
        }
        Ok(Hash {
            value: s.to_string(),
        })
    }

    /// The ID of content whose SHA-512 digest is `digest`.
    pub fn from_sha512(digest: &[u8]) -> Self {
        let mut value = String::with_capacity(7 + digest.len() * 2);
        value.push_str("sha512-");
        for b in digest {
            value.push_str(&format!("{b:02x}"));
        }
        Hash { value }
    }

    /// The hex part after `sha512-`.
    pub fn hex(&self) -> &str {
        &self.value[7..]
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn from_value(v: &Value, what: &str) -> Result<Self> {
        Self::new(&json::string(v, what)?)
    }
}

/// The short form of an image ID string, as `rkt` and `actool` print it.
pub fn short_hash(s: &str) -> &str {
    s.get(..SHORT_LEN).unwrap_or(s)
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl Serialize for Hash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes() {
        assert!(Hash::new("sha512-abc").is_ok());
        assert_eq!(
            Hash::new("sha512-").unwrap_err().to_string(),
            "unexpected empty hash value"
        );
        assert_eq!(
            Hash::new("sha1-ab").unwrap_err().to_string(),
            "unrecognized hash type: sha1"
        );
        assert_eq!(
            Hash::new("a-b-c").unwrap_err().to_string(),
            "badly formatted hash string"
        );
        assert_eq!(short_hash("sha512-ab"), "sha512-ab");
        assert_eq!(short_hash(&"sha512-".repeat(20)).len(), 39);
        assert_eq!(Hash::from_sha512(&[0xab, 0x01]).as_str(), "sha512-ab01");
    }
}
