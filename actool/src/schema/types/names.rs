//! AC Identifier (image names, label and annotation names) and AC Name
//! (app, volume, port names).
//!
//! Validation is the reference's: allowed characters, and no separator at
//! either end. It is looser than the documented regular expression (it
//! accepts `a//b` and `a--b`); [`AcIdentifier::matches_spec_regex`] tells
//! whether a value also satisfies the regex.

use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Checks `s` against a character class and a set of separators that may
/// not start or end it, returning the reference's messages.
fn check(s: &str, what: &str, is_sep: fn(char) -> bool, chars_desc: &str) -> Result<()> {
    if s.is_empty() {
        return Err(SchemaError::new(format!("{what} cannot be empty")));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || is_sep(c))
    {
        return Err(SchemaError::new(format!(
            "{what} must contain only lower case alphanumeric characters plus {}",
            json::quote(chars_desc)
        )));
    }
    let first = s.chars().next().unwrap_or('a');
    let last = s.chars().last().unwrap_or('a');
    if is_sep(first) || is_sep(last) {
        return Err(SchemaError::new(format!(
            "{what} must start and end with only lower case alphanumeric characters"
        )));
    }
    Ok(())
}

/// `^[a-z0-9]+([SEP][a-z0-9]+)*$`: alphanumeric runs joined by single
/// separators.
fn matches_regex(s: &str, is_sep: fn(char) -> bool) -> bool {
    let mut prev_sep = true;
    for c in s.chars() {
        if is_sep(c) {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_sep = false;
        } else {
            return false;
        }
    }
    !prev_sep
}

/// Lower-cases, replaces invalid characters by `replacement` and trims
/// separators from both ends.
fn sanitize(s: &str, is_sep: fn(char) -> bool, replacement: char) -> Result<String> {
    let replaced: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || is_sep(c) {
                c
            } else {
                replacement
            }
        })
        .collect();
    let trimmed = replaced.trim_matches(is_sep);
    if trimmed.is_empty() {
        return Err(SchemaError::new(
            "must contain at least one valid character",
        ));
    }
    Ok(trimmed.to_string())
}

fn identifier_sep(c: char) -> bool {
    matches!(c, '-' | '.' | '_' | '~' | '/')
}

fn name_sep(c: char) -> bool {
    c == '-'
}

macro_rules! name_type {
    ($ty:ident, $what:literal) => {
        impl $ty {
            /// The empty value, which the reference lets a decoder leave
            /// behind when a field is absent; it fails to serialise.
            pub fn empty() -> Self {
                $ty(String::new())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            pub fn from_value(v: &Value, what: &str) -> Result<Self> {
                Self::new(&json::string(v, what)?)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = SchemaError;
            fn from_str(s: &str) -> Result<Self> {
                Self::new(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                if self.0.is_empty() {
                    return Err(serde::ser::Error::custom(concat!(
                        $what,
                        " cannot be empty"
                    )));
                }
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let v = Value::deserialize(d)?;
                Self::from_value(&v, $what).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An AC Identifier: `example.com/reduce-worker`, `os`, `version`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcIdentifier(String);

impl AcIdentifier {
    pub fn new(s: &str) -> Result<Self> {
        check(s, "ACIdentifier", identifier_sep, "-._~/")?;
        Ok(AcIdentifier(s.to_string()))
    }

    /// Whether the value also matches the spec's documented regex.
    pub fn matches_spec_regex(s: &str) -> bool {
        matches_regex(s, identifier_sep)
    }

    /// Turns arbitrary text into a valid identifier where possible.
    pub fn sanitize(s: &str) -> Result<String> {
        sanitize(s, identifier_sep, '_')
    }
}

name_type!(AcIdentifier, "ACIdentifier");

/// An AC Name: `reduce-worker`, `database`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcName(String);

impl AcName {
    pub fn new(s: &str) -> Result<Self> {
        check(s, "ACName", name_sep, "-")?;
        Ok(AcName(s.to_string()))
    }

    pub fn matches_spec_regex(s: &str) -> bool {
        matches_regex(s, name_sep)
    }

    pub fn sanitize(s: &str) -> Result<String> {
        sanitize(s, name_sep, '-')
    }
}

name_type!(AcName, "ACName");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(AcIdentifier::new("example.com/~bob/database").is_ok());
        assert!(!AcIdentifier::matches_spec_regex(
            "example.com/~bob/database"
        ));
        assert_eq!(
            AcIdentifier::new("").unwrap_err().to_string(),
            "ACIdentifier cannot be empty"
        );
        assert!(
            AcIdentifier::new("app/")
                .unwrap_err()
                .to_string()
                .contains("start and end")
        );
        assert!(
            AcIdentifier::new("BAR")
                .unwrap_err()
                .to_string()
                .contains("-._~/")
        );
        assert_eq!(
            AcIdentifier::sanitize("example.com:8080/foo").unwrap(),
            "example.com_8080/foo"
        );
        assert!(AcIdentifier::sanitize("é").is_err());
    }

    #[test]
    fn names() {
        assert!(AcName::new("a--b").is_ok());
        assert!(!AcName::matches_spec_regex("a--b"));
        assert!(AcName::new("example.com").is_err());
        assert_eq!(AcName::sanitize("-/.app..").unwrap(), "app");
        assert_eq!(
            AcName::sanitize("example/database-1.0.0").unwrap(),
            "example-database-1-0-0"
        );
    }

    #[test]
    fn empty_names_do_not_serialise() {
        assert!(serde_json::to_string(&AcName::empty()).is_err());
        assert_eq!(
            serde_json::to_string(&AcName::new("x").unwrap()).unwrap(),
            "\"x\""
        );
    }
}
