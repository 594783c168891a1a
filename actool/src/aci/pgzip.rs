//! Gzip compression on all cores: the input is cut into fixed-size blocks,
//! each compressed as its own gzip member by a worker thread, and the
//! members are written in order. A multi-member gzip file is standard
//! (RFC 1952); gzip, Go's reader and ours read it as one stream. Output
//! depends only on the input, so builds stay reproducible.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

const BLOCK: usize = 1 << 20;

type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

pub struct ParallelGzWriter<W: Write> {
    out: W,
    block: Vec<u8>,
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    next_submit: u64,
    next_write: u64,
    finished: BTreeMap<u64, Vec<u8>>,
    max_in_flight: u64,
}

fn compress(block: &[u8], level: flate2::Compression) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(block.len() / 2), level);
    enc.write_all(block)?;
    enc.finish()
}

impl<W: Write> ParallelGzWriter<W> {
    pub fn new(out: W, level: flate2::Compression) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (jobs, job_rx) = channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done) = channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = job_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((seq, block))) = job else { break };
                        if done_tx.send((seq, compress(&block, level))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        ParallelGzWriter {
            out,
            block: Vec::with_capacity(BLOCK),
            jobs: Some(jobs),
            done,
            workers,
            next_submit: 0,
            next_write: 0,
            finished: BTreeMap::new(),
            max_in_flight: 2 * threads as u64 + 1,
        }
    }

    /// Receives one compressed block and writes every block now in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, data) = self
            .done
            .recv()
            .map_err(|_| io::Error::other("compression worker died"))?;
        self.finished.insert(seq, data?);
        while let Some(data) = self.finished.remove(&self.next_write) {
            self.out.write_all(&data)?;
            self.next_write += 1;
        }
        Ok(())
    }

    fn submit(&mut self) -> io::Result<()> {
        while self.next_submit - self.next_write >= self.max_in_flight {
            self.collect_one()?;
        }
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("writer is finished"))?;
        jobs.send((self.next_submit, block))
            .map_err(|_| io::Error::other("compression worker died"))?;
        self.next_submit += 1;
        Ok(())
    }

    /// Compresses what is left, writes everything, and returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.block.is_empty() || self.next_submit == 0 {
            self.submit()?;
        }
        while self.next_write < self.next_submit {
            self.collect_one()?;
        }
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for ParallelGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        if self.block.len() == BLOCK {
            self.submit()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn round_trips_through_a_multi_member_reader() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let mut w = ParallelGzWriter::new(Vec::new(), flate2::Compression::default());
        w.write_all(&data).unwrap();
        let gz = w.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn empty_input_is_a_valid_gzip() {
        let gz = ParallelGzWriter::new(Vec::new(), flate2::Compression::default())
            .finish()
            .unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
    }
}
