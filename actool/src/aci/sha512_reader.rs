//! A reader that hashes what passes through it with SHA-512 on another
//! thread, so hashing runs beside decompression instead of after it.

use sha2::{Digest, Sha512};
use std::io::{self, Read};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

const CHUNK: usize = 1 << 20;

pub(crate) struct Sha512Reader<R> {
    inner: R,
    pending: Vec<u8>,
    tx: Option<SyncSender<Vec<u8>>>,
    hasher: Option<JoinHandle<Vec<u8>>>,
}

impl<R: Read> Sha512Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        let (tx, rx) = sync_channel::<Vec<u8>>(8);
        let hasher = std::thread::spawn(move || {
            let mut h = Sha512::new();
            for chunk in rx {
                h.update(&chunk);
            }
            h.finalize().to_vec()
        });
        Sha512Reader {
            inner,
            pending: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            hasher: Some(hasher),
        }
    }

    fn flush_pending(&mut self) {
        let chunk = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        if let Some(tx) = &self.tx {
            // The hasher only stops when we drop the sender.
            let _ = tx.send(chunk);
        }
    }

    /// Reads the rest of the stream, then returns the digest of all of it.
    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        io::copy(&mut self, &mut io::sink())?;
        self.flush_pending();
        self.tx = None;
        let hasher = self.hasher.take().expect("finish is called once");
        hasher
            .join()
            .map_err(|_| io::Error::other("hashing thread failed"))
    }
}

impl<R: Read> Read for Sha512Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pending.extend_from_slice(&buf[..n]);
        if self.pending.len() >= CHUNK {
            self.flush_pending();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_a_direct_hash() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = Sha512Reader::new(&data[..]);
        let mut first = [0u8; 1000];
        r.read_exact(&mut first).unwrap();
        assert_eq!(r.finish().unwrap(), Sha512::digest(&data).to_vec());
    }
}
