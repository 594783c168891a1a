//! Pod UUIDs: 32 hex digits, dashes anywhere ignored on input, printed in
//! the 8-4-4-4-12 form.

use crate::schema::{Result, SchemaError};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    pub fn new(s: &str) -> Result<Self> {
        let hex: String = s.chars().filter(|&c| c != '-').collect();
        if hex.len() != 32 {
            return Err(SchemaError::new("bad UUID length != 32"));
        }
        let mut out = [0u8; 16];
        let bytes = hex.as_bytes();
        for (i, pair) in bytes.chunks(2).enumerate() {
            let digit = |b: u8| {
                (b as char).to_digit(16).ok_or_else(|| {
                    SchemaError::new(format!("invalid hex digit {:?} in UUID", b as char))
                })
            };
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Ok(Uuid(out))
    }

    /// The all-zero UUID is not a valid pod UUID in a manifest.
    pub fn is_empty(&self) -> bool {
        self.0 == [0; 16]
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        let u = Uuid::new("6733C088A5074694AABFEDBE4FC5266F").unwrap();
        assert_eq!(u.to_string(), "6733c088-a507-4694-aabf-edbe4fc5266f");
        assert!(Uuid::new("asdf").is_err());
        assert!(Uuid::new("g733c088-a507-4694-aabf-edbe4fc5266f").is_err());
        assert!(
            Uuid::new("00000000-0000-0000-0000-000000000000")
                .unwrap()
                .is_empty()
        );
    }
}
