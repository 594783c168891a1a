//! http(s) URLs in annotations (`homepage`, `documentation`), checked and
//! printed as the reference does: the scheme decides, and the printed form
//! is the parsed one (lower-case scheme, empty authority dropped).

use crate::schema::{Result, SchemaError};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    /// `Some` when the URL has a `//` authority part.
    host: Option<String>,
    rest: String,
}

/// Splits off a URL scheme as RFC 3986 defines it: a letter, then letters,
/// digits, `+`, `-` or `.`, then `:`.
fn split_scheme(s: &str) -> Result<Option<(&str, &str)>> {
    for (i, c) in s.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(SchemaError::new("bad URL: missing protocol scheme")),
            ':' => return Ok(Some((&s[..i], &s[i + 1..]))),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

impl Url {
    pub fn new(s: &str) -> Result<Self> {
        if s.chars().any(|c| c.is_ascii_control()) {
            return Err(SchemaError::new(
                "bad URL: invalid control character in URL",
            ));
        }
        let Some((scheme, rest)) = split_scheme(s)? else {
            return Err(SchemaError::new("bad URL scheme, must be http/https"));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(SchemaError::new("bad URL scheme, must be http/https"));
        }
        let (host, rest) = match rest.strip_prefix("//") {
            Some(after) => {
                let end = after.find(['/', '?', '#']).unwrap_or(after.len());
                (Some(after[..end].to_string()), after[end..].to_string())
            }
            None => (None, rest.to_string()),
        };
        Ok(Url { scheme, host, rest })
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    pub fn host(&self) -> &str {
        self.host.as_deref().unwrap_or("")
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(host) = self.host.as_deref().filter(|h| !h.is_empty()) {
            write!(f, "//{host}")?;
        } else if self.host.is_some() && self.rest.starts_with('/') {
            // An empty authority before a path must stay, or the path would
            // read as an authority.
            f.write_str("//")?;
        }
        f.write_str(&self.rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Url::new("HTTP://example.com").unwrap().to_string(),
            "http://example.com"
        );
        assert_eq!(Url::new("https://").unwrap().to_string(), "https:");
        assert_eq!(Url::new("http:/x").unwrap().to_string(), "http:/x");
        assert_eq!(
            Url::new("http://yis.com/hello?goodbye=yes")
                .unwrap()
                .to_string(),
            "http://yis.com/hello?goodbye=yes"
        );
        for bad in [
            "ftp://example.com",
            "not a url",
            "//example.com",
            "example.com",
        ] {
            assert_eq!(
                Url::new(bad).unwrap_err().to_string(),
                "bad URL scheme, must be http/https"
            );
        }
    }
}
