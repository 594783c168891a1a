//! Semantic versions (`acVersion`), parsed as the reference's semver
//! library does: `MAJOR.MINOR.PATCH[-PRERELEASE][+METADATA]`, numbers as
//! 64-bit integers (leading zeros allowed), and never all zero.

use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SemVer {
    pub major: i64,
    pub minor: i64,
    pub patch: i64,
    pub prerelease: String,
    pub metadata: String,
}

impl SemVer {
    pub fn new(s: &str) -> Result<Self> {
        let bad = || SchemaError::new("SemVer is bad");
        let (rest, metadata) = s.split_once('+').unwrap_or((s, ""));
        let (rest, prerelease) = rest.split_once('-').unwrap_or((rest, ""));
        let parts: Vec<&str> = rest.splitn(3, '.').collect();
        if parts.len() != 3 {
            return Err(bad());
        }
        let num = |p: &str| p.parse::<i64>().map_err(|_| bad());
        let v = SemVer {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: num(parts[2])?,
            prerelease: prerelease.to_string(),
            metadata: metadata.to_string(),
        };
        if v.is_zero() {
            return Err(SchemaError::new("SemVer cannot be zero"));
        }
        Ok(v)
    }

    /// The zero version, which a pod manifest without `acVersion` has.
    pub fn is_zero(&self) -> bool {
        *self == SemVer::default()
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        Self::new(&json::string(v, "acVersion")?)
    }
}

impl fmt::Display for SemVer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.prerelease.is_empty() {
            write!(f, "-{}", self.prerelease)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

impl Serialize for SemVer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.is_zero() {
            return Err(serde::ser::Error::custom("SemVer cannot be zero"));
        }
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_reference() {
        assert_eq!(SemVer::new("01.2.3").unwrap().to_string(), "1.2.3");
        assert_eq!(SemVer::new("1.2.3-").unwrap().to_string(), "1.2.3");
        let v = SemVer::new("1.0.0-beta+exp.sha.5114f85").unwrap();
        assert_eq!(
            (v.prerelease.as_str(), v.metadata.as_str()),
            ("beta", "exp.sha.5114f85")
        );
        for bad in [
            "1",
            "1.2.3.4",
            "v1.2.3",
            " 1.2.3",
            "1.2.-3",
            "99999999999999999999.0.0",
        ] {
            assert!(SemVer::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            SemVer::new("0.0.0").unwrap_err().to_string(),
            "SemVer cannot be zero"
        );
    }
}
