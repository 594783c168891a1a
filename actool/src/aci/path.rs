//! Lexical path cleaning of archive entry names, as Go's `filepath.Clean`
//! (which the reference applies before judging an entry).

/// Removes empty and `.` elements and resolves `..` lexically. A rooted
/// path stays rooted; `..` that climbs above a relative start is kept.
pub(crate) fn clean(name: &[u8]) -> Vec<u8> {
    let rooted = name.first() == Some(&b'/');
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => match parts.last() {
                Some(&last) if last != b".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(part),
            },
            _ => parts.push(part),
        }
    }
    let mut out = Vec::with_capacity(name.len());
    if rooted {
        out.push(b'/');
    }
    out.extend_from_slice(&parts.join(&b'/'));
    if out.is_empty() {
        out.push(b'.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::clean;

    fn c(s: &str) -> String {
        String::from_utf8(clean(s.as_bytes())).unwrap()
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(c("./rootfs/x/"), "rootfs/x");
        assert_eq!(c("rootfs/../rootfs/x"), "rootfs/x");
        assert_eq!(c("rootfs/../../etc"), "../etc");
        assert_eq!(c("/../x"), "/x");
        assert_eq!(c("./"), ".");
        assert_eq!(c("a//b"), "a/b");
    }
}
