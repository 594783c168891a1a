//! Signatures as Go's OpenPGP library writes them. It gives an RSA
//! signature's MPI a bit count of eight times its byte length, so one whose
//! value starts with zero bits is, to the letter of RFC 4880, malformed;
//! GnuPG reads the number anyway and so do we: each v4 signature packet's
//! MPIs are rewritten in their canonical form (bit count of the value,
//! no leading zero bytes) before parsing. The numbers, and so what is
//! verified, are unchanged.

const SIGNATURE_TAG: u8 = 2;

/// The signature packets of `bytes` (binary OpenPGP) with canonical MPIs,
/// or `None` when nothing needed rewriting or the packets are not plain
/// enough to rewrite (they are then parsed as they are).
pub fn canonical(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut rest = bytes;
    while !rest.is_empty() {
        let (tag, header_len, body_len) = packet_header(rest)?;
        let end = header_len.checked_add(body_len)?;
        let body = rest.get(header_len..end)?;
        match (tag == SIGNATURE_TAG)
            .then(|| canonical_signature(body))
            .flatten()
        {
            Some(fixed) if fixed != body => {
                changed = true;
                out.push(0xc0 | SIGNATURE_TAG);
                push_length(&mut out, fixed.len());
                out.extend_from_slice(&fixed);
            }
            _ => out.extend_from_slice(&rest[..end]),
        }
        rest = &rest[end..];
    }
    changed.then_some(out)
}

/// (tag, header length, body length) of the packet `p` starts with;
/// `None` for partial or indeterminate lengths.
fn packet_header(p: &[u8]) -> Option<(u8, usize, usize)> {
    let first = *p.first()?;
    if first & 0x80 == 0 {
        return None;
    }
    let be = |b: &[u8]| b.iter().fold(0usize, |n, &x| (n << 8) | usize::from(x));
    if first & 0x40 != 0 {
        let tag = first & 0x3f;
        let l0 = *p.get(1)?;
        return match l0 {
            0..=191 => Some((tag, 2, usize::from(l0))),
            192..=223 => {
                let l1 = *p.get(2)?;
                Some((
                    tag,
                    3,
                    ((usize::from(l0) - 192) << 8) + usize::from(l1) + 192,
                ))
            }
            255 => Some((tag, 6, be(p.get(2..6)?))),
            _ => None,
        };
    }
    let tag = (first >> 2) & 0x0f;
    let len_bytes = match first & 3 {
        0 => 1,
        1 => 2,
        2 => 4,
        _ => return None,
    };
    Some((tag, 1 + len_bytes, be(p.get(1..1 + len_bytes)?)))
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=191 => out.push(len as u8),
        192..=8383 => {
            let l = len - 192;
            out.extend_from_slice(&[(l >> 8) as u8 + 192, l as u8]);
        }
        _ => {
            out.push(255);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// A v4 signature body with its MPIs canonical.
fn canonical_signature(body: &[u8]) -> Option<Vec<u8>> {
    if *body.first()? != 4 {
        return None;
    }
    let mpis = match *body.get(2)? {
        1 | 3 => 1,        // RSA
        17 | 19 | 22 => 2, // DSA, ECDSA, EdDSA
        _ => return None,
    };
    let u16_at = |i: usize| {
        Some(usize::from(u16::from_be_bytes([
            *body.get(i)?,
            *body.get(i + 1)?,
        ])))
    };
    let hashed = u16_at(4)?;
    let unhashed_at = 6 + hashed;
    let unhashed = u16_at(unhashed_at)?;
    // After the subpackets: two bytes of the digest, then the MPIs.
    let mut pos = unhashed_at + 2 + unhashed + 2;
    let mut out = body.get(..pos)?.to_vec();
    for _ in 0..mpis {
        let bits = u16_at(pos)?;
        let value = body.get(pos + 2..pos + 2 + bits.div_ceil(8))?;
        let value = &value[value.iter().position(|&b| b != 0).unwrap_or(value.len())..];
        let real_bits = value
            .first()
            .map_or(0, |&b| value.len() * 8 - b.leading_zeros() as usize);
        out.extend_from_slice(&(real_bits as u16).to_be_bytes());
        out.extend_from_slice(value);
        pos += 2 + bits.div_ceil(8);
    }
    if pos != body.len() {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v4 RSA signature packet (old-format header) whose one MPI is
    /// `value` with the bit count `bits`.
    fn rsa_packet(bits: u16, value: &[u8]) -> Vec<u8> {
        let mut body = vec![4, 0, 1, 8, 0, 3, 33, 1, 2, 0, 1, 7, 0xab, 0xcd];
        body.extend_from_slice(&bits.to_be_bytes());
        body.extend_from_slice(value);
        let mut p = vec![0x88, body.len() as u8];
        p.extend_from_slice(&body);
        p
    }

    #[test]
    fn go_style_counts_and_leading_zero_bytes_are_made_canonical() {
        // Go: 16 bits claimed for 0x01ff (9 bits).
        let fixed = canonical(&rsa_packet(16, &[0x01, 0xff])).unwrap();
        assert_eq!(fixed[0], 0xc2);
        assert_eq!(&fixed[2..], &rsa_packet(9, &[0x01, 0xff])[2..]);
        // A whole leading zero byte goes (the packet gets shorter).
        let fixed = canonical(&rsa_packet(24, &[0, 0x80, 1])).unwrap();
        assert_eq!(&fixed[2..], &rsa_packet(16, &[0x80, 1])[2..]);
        assert_eq!(usize::from(fixed[1]), fixed.len() - 2);
    }

    #[test]
    fn canonical_or_unknown_packets_are_left_alone() {
        assert_eq!(canonical(&rsa_packet(16, &[0x80, 1])), None);
        // Truncated, or a length past the end.
        let p = rsa_packet(16, &[0x01, 0xff]);
        assert_eq!(canonical(&p[..p.len() - 1]), None);
        assert_eq!(canonical(&[0x88, 200, 4]), None);
        // Not a packet at all (armor is taken off before).
        assert_eq!(canonical(b"-----BEGIN PGP SIGNATURE-----"), None);
    }

    #[test]
    fn lengths_round_trip() {
        for len in [0, 191, 192, 8383, 8384, 70000] {
            let mut out = vec![0xc2];
            push_length(&mut out, len);
            out.resize(out.len() + len, 0);
            assert_eq!(packet_header(&out), Some((2, out.len() - len, len)));
        }
    }
}
