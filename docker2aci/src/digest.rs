//! Content digests (`sha256:<hex>`, `sha512:<hex>`): checking bytes read
//! against the digest an index, a manifest or a file name promised.

use crate::error::Result;
use crate::reference::check_digest;
use sha2::Digest as _;
use std::io::Read;

enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    fn new(digest: &str) -> Result<Self> {
        check_digest(digest)?;
        Ok(if digest.starts_with("sha256:") {
            Hasher::Sha256(sha2::Sha256::new())
        } else {
            Hasher::Sha512(sha2::Sha512::new())
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    fn hex(self) -> String {
        let bytes: Vec<u8> = match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        };
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Whether `data` has `digest`.
pub fn matches(data: &[u8], digest: &str) -> Result<bool> {
    let mut h = Hasher::new(digest)?;
    h.update(data);
    Ok(digest.split_once(':').map(|(_, hex)| hex) == Some(h.hex().as_str()))
}

/// The SHA-256 digest of `data`, `sha256:<hex>`.
pub fn sha256(data: &[u8]) -> String {
    let mut h = Hasher::Sha256(sha2::Sha256::new());
    h.update(data);
    format!("sha256:{}", h.hex())
}

/// A stream checked against `digest` as it is read: at its end, a
/// mismatch is an `InvalidData` error naming `what`.
pub struct Verified<R> {
    inner: R,
    hasher: Option<Hasher>,
    digest: String,
    what: String,
}

impl<R: Read> Verified<R> {
    pub fn new(inner: R, digest: &str, what: &str) -> Result<Self> {
        Ok(Verified {
            inner,
            hasher: Some(Hasher::new(digest)?),
            digest: digest.to_string(),
            what: what.to_string(),
        })
    }
}

impl<R: Read> Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            if let Some(h) = self.hasher.as_mut() {
                h.update(&buf[..n]);
            }
        } else if let Some(h) = self.hasher.take() {
            let got = h.hex();
            if self.digest.split_once(':').map(|(_, hex)| hex) != Some(got.as_str()) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}: digest mismatch (expected {}, read {}:{got})",
                        self.what,
                        self.digest,
                        self.digest.split(':').next().unwrap_or("sha256")
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_at_the_end() {
        let d = sha256(b"layer");
        assert!(matches(b"layer", &d).unwrap());
        let read = |data: &'static [u8]| {
            let mut v = Verified::new(data, &d, "blob x").unwrap();
            std::io::copy(&mut v, &mut std::io::sink()).map_err(|e| e.to_string())
        };
        assert_eq!(read(b"layer"), Ok(5));
        let e = read(b"other").unwrap_err();
        assert!(e.starts_with("blob x: digest mismatch"), "{e}");
        assert!(!matches(b"other", &d).unwrap());
    }
}
