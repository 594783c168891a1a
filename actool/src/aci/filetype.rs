//! What kind of file an image is, from its first bytes.

use super::AciError;
use std::io::{BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Gzip,
    Bzip2,
    Xz,
    Tar,
}

/// How many bytes the decompressed stream is buffered by: tar reads small
/// headers, which would otherwise each cost a decompressor call.
const DECODED_BUFFER: usize = 256 * 1024;

/// Recognises the type from the start of a file (at least 262 bytes are
/// needed to see a tar's `ustar` magic).
pub fn detect(head: &[u8]) -> Option<FileType> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(FileType::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(FileType::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(FileType::Xz)
    } else if head.get(257..262) == Some(b"ustar") {
        Some(FileType::Tar)
    } else {
        None
    }
}

/// Detects the compression of `r` and returns the decompressed stream.
pub fn decompress<'a, R: Read + 'a>(mut r: R) -> Result<(FileType, Box<dyn Read + 'a>), AciError> {
    let mut head = Vec::with_capacity(512);
    (&mut r)
        .take(512)
        .read_to_end(&mut head)
        .map_err(AciError::Read)?;
    let kind = detect(&head).ok_or(AciError::UnknownFileType)?;
    let input = BufReader::with_capacity(1 << 20, std::io::Cursor::new(head).chain(r));
    let decoded: Box<dyn Read + 'a> = match kind {
        FileType::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
        FileType::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        FileType::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
        FileType::Tar => return Ok((kind, Box::new(input))),
    };
    Ok((
        kind,
        Box::new(BufReader::with_capacity(DECODED_BUFFER, decoded)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Some(FileType::Gzip));
        assert_eq!(detect(b"BZh91AY"), Some(FileType::Bzip2));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(detect(&tar), Some(FileType::Tar));
        assert_eq!(detect(&[0u8; 1024]), None);
        assert_eq!(detect(b"hello"), None);
    }

    #[test]
    fn decompresses_gzip_transparently() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"payload").unwrap();
        let gz = enc.finish().unwrap();
        let (kind, mut r) = decompress(&gz[..]).unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!((kind, out.as_str()), (FileType::Gzip, "payload"));
    }
}
