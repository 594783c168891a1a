//! Reading one layer: its bytes checked against their digest, its
//! compression (gzip, zstd, bzip2, xz or none) recognised by magic, and
//! its entries' names made relative and checked to stay inside the root.

use crate::digest::Verified;
use crate::error::{Error, Result, bad};
use crate::image::Layer;
use crate::source::Source;
use std::io::{BufRead, BufReader, Read};

/// The layer's uncompressed tar stream. A mismatch with the digest shows
/// as an error when the stream ends (read it to its end: [`drain`]).
pub fn open<'a>(src: &'a Source, layer: &Layer) -> Result<Box<dyn Read + 'a>> {
    let raw = src.open_member(&layer.member)?;
    let what = format!("layer {}", layer.member);
    let raw: Box<dyn Read + 'a> = match &layer.digest {
        Some(d) => Box::new(Verified::new(raw, d, &what)?),
        None => raw,
    };
    let mut input = BufReader::with_capacity(1 << 20, raw);
    let head = input.fill_buf().map_err(|e| Error::io(&what, e))?.to_vec();
    let decoded: Box<dyn Read + 'a> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(input))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(input).map_err(|e| Error::io(&what, e))?)
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(input))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input))
    } else {
        Box::new(input)
    };
    let decoded = BufReader::with_capacity(256 << 10, decoded);
    Ok(match (&layer.digest, &layer.diff_id) {
        (None, Some(diff_id)) => Box::new(Verified::new(decoded, diff_id, &what)?),
        _ => Box::new(decoded),
    })
}

/// Reads what the tar reader left (padding after the end marker), so
/// that the digest is checked.
pub fn drain(mut r: impl Read, member: &str) -> Result<()> {
    std::io::copy(&mut r, &mut std::io::sink())
        .map(|_| ())
        .map_err(|e| io_error(member, e))
}

/// A read error as the user should see it: a digest mismatch or a
/// corrupt stream is bad input.
pub fn io_error(member: &str, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
            // The tar reader's own messages quote header fields (input
            // bytes): ours say only what is wrong.
            Error::Bad(if e.to_string().contains("digest mismatch") {
                e.to_string()
            } else if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("layer {member}: corrupt: it ends early")
            } else {
                format!("layer {member}: corrupt: not a valid (compressed) tar stream")
            })
        }
        _ => Error::io(format!("layer {member}"), e),
    }
}

/// An entry's name inside the root: `./a//b/` → `a/b`, `/` → `` (the
/// root itself); a `..` component is refused.
pub fn entry_path(raw: &[u8], member: &str) -> Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => bad!(
                "layer {member}: entry {:?} escapes the root",
                String::from_utf8_lossy(raw)
            ),
            c => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(c);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths() {
        assert_eq!(entry_path(b"./a//b/", "l").unwrap(), b"a/b");
        assert_eq!(entry_path(b"/", "l").unwrap(), b"");
        assert_eq!(entry_path(b"./", "l").unwrap(), b"");
        assert_eq!(entry_path(b"/etc/passwd", "l").unwrap(), b"etc/passwd");
        assert!(entry_path(b"a/../../etc", "l").is_err());
    }
}
