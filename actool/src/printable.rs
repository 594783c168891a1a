//! Messages fit for the user's terminal. An error may name what hostile
//! input holds (a path in an archive, a name in a manifest): printed as
//! is, its control characters would drive the terminal (escape sequences
//! that retitle it, move the cursor or rewrite what was printed before),
//! and its length would bury the message.

/// The most characters of one message; the rest is cut, and said so.
pub const MAX_CHARS: usize = 4096;

/// `text` on one line: a line break becomes a space, any other control
/// character its `\xNN` or `\u{NNNN}` escape, and past [`MAX_CHARS`] the
/// message is cut.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CHARS));
    for (n, c) in text.chars().enumerate() {
        if n == MAX_CHARS {
            out.push_str("… (cut)");
            break;
        }
        match c {
            '\n' => out.push(' '),
            c if (c as u32) < 0x100 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            // Unicode's own controls and the bidirectional overrides,
            // which reorder what follows them on screen.
            c if c.is_control()
                || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') =>
            {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_escaped_and_lines_joined() {
        assert_eq!(
            one_line("layer a: entry \x1b]0;owned\x07x\r: bad\nnext"),
            "layer a: entry \\x1b]0;owned\\x07x\\x0d: bad next"
        );
        assert_eq!(
            one_line("\u{9b}2J \u{202e}gpj.exe"),
            "\\x9b2J \\u{202e}gpj.exe"
        );
        assert_eq!(one_line("Äpfel: ok"), "Äpfel: ok");
    }

    #[test]
    fn a_long_message_is_cut() {
        let long = "x".repeat(MAX_CHARS * 3);
        let printed = one_line(&long);
        assert!(printed.ends_with("… (cut)"));
        assert_eq!(
            printed.chars().count(),
            MAX_CHARS + "… (cut)".chars().count()
        );
    }
}
