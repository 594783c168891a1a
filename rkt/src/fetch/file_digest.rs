//! A file's SHA-512 as it is (compressed), taken while it is read for
//! something else: the key under which the store remembers which image a
//! file gave, so that a file already imported is recognised by one read,
//! without decompressing or extracting it again.

use sha2::{Digest, Sha512};
use std::io::{self, Read, Write};

/// The store's key for a file with this digest (a remote record's URL).
pub fn key(hex: &str) -> String {
    format!("file-sha512:{hex}")
}

fn hex(hasher: Sha512) -> String {
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads through, hashing what it reads.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha512,
}

impl<R: Read> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha512::new(),
        }
    }

    /// The hex digest of everything read, after reading the rest.
    pub fn finish(mut self) -> io::Result<String> {
        // Large reads: this is the whole cost of recognising a stored file.
        let mut buf = vec![0u8; 1 << 20];
        while self.read(&mut buf)? != 0 {}
        Ok(hex(self.hasher))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Copies `from` into `to`, returning the hex digest of what was copied.
pub fn copy(from: impl Read, mut to: impl Write) -> io::Result<String> {
    let mut reader = HashingReader::new(from);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        to.write_all(&buf[..n])?;
    }
    to.flush()?;
    reader.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_sha512() {
        let expected = hex(Sha512::new_with_prefix(b"abc"));
        assert!(expected.starts_with("ddaf35a193617aba"));
        let mut out = Vec::new();
        assert_eq!(copy(&b"abc"[..], &mut out).unwrap(), expected);
        assert_eq!(out, b"abc");
        let mut r = HashingReader::new(&b"abc"[..]);
        let mut first = [0u8; 1];
        r.read_exact(&mut first).unwrap();
        assert_eq!(r.finish().unwrap(), expected);
    }
}
