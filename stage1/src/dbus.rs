//! A small client for the D-Bus system bus, enough for machined's calls:
//! EXTERNAL authentication, method calls whose arguments are strings,
//! byte arrays and u32s, and their replies (success, or the error's name
//! and message). In process, because busctl under the pod's start and
//! end is a process and a dynamic load each time.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;

const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// Replies bigger than this are not read (ours carry a path or an error).
const MAX_MESSAGE: usize = 1 << 20;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const NO_REPLY_EXPECTED: u8 = 1;

const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SIGNATURE: u8 = 8;

/// One argument of a method call.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Str(&'a str),
    Bytes(&'a [u8]),
    U32(u32),
}

impl Arg<'_> {
    fn signature(&self) -> &'static str {
        match self {
            Arg::Str(_) => "s",
            Arg::Bytes(_) => "ay",
            Arg::U32(_) => "u",
        }
    }
}

/// A method to call: who, where, what.
#[derive(Debug, Clone, Copy)]
pub struct Method<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
}

/// Connects to the system bus as this process's user and says Hello:
/// the calls go through the first half, their replies are read from the
/// second, so that one thread may wait for a reply while another calls.
pub fn system() -> Result<(Calls, Replies), String> {
    let fail = |e: std::io::Error| format!("{SYSTEM_BUS}: {e}");
    let stream = UnixStream::connect(SYSTEM_BUS).map_err(fail)?;
    let mut calls = Calls {
        writer: stream.try_clone().map_err(fail)?,
        serial: 0,
    };
    let mut replies = Replies {
        reader: BufReader::new(stream),
    };
    authenticate(&mut calls, &mut replies)?;
    // Every connection says Hello first; its reply (our unique name) is
    // not needed, and `Replies::reply` skips it.
    calls.call(
        Method {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
        },
        &[],
        false,
    )?;
    Ok((calls, replies))
}

fn authenticate(calls: &mut Calls, replies: &mut Replies) -> Result<(), String> {
    let uid: String = nix::unistd::geteuid()
        .as_raw()
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    calls.send(format!("\0AUTH EXTERNAL {uid}\r\n").as_bytes())?;
    let mut line = String::new();
    (&mut replies.reader)
        .take(4096)
        .read_line(&mut line)
        .map_err(|e| format!("the system bus: {e}"))?;
    if !line.starts_with("OK ") {
        return Err(format!("the system bus refused us: {}", line.trim()));
    }
    calls.send(b"BEGIN\r\n")
}

/// The calling half of a connection.
pub struct Calls {
    writer: UnixStream,
    serial: u32,
}

impl Calls {
    fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.writer
            .write_all(bytes)
            .map_err(|e| format!("writing to the system bus: {e}"))
    }

    /// Sends a method call and returns its serial; `want_reply` false
    /// tells the callee not to answer at all.
    pub fn call(&mut self, method: Method, args: &[Arg], want_reply: bool) -> Result<u32, String> {
        self.serial += 1;
        let message = encode_call(self.serial, method, args, want_reply);
        self.send(&message)?;
        Ok(self.serial)
    }
}

/// The reading half of a connection.
pub struct Replies {
    reader: BufReader<UnixStream>,
}

impl Replies {
    /// Waits for the reply to call `serial`: Ok, or the error's name and
    /// message. Other messages (signals, other replies) are skipped.
    pub fn reply(&mut self, serial: u32) -> Result<Result<(), String>, String> {
        loop {
            let message = self.read_message()?;
            if message.reply_serial != Some(serial) {
                continue;
            }
            match message.kind {
                METHOD_RETURN => return Ok(Ok(())),
                ERROR => return Ok(Err(message.error.unwrap_or_else(|| "an error".into()))),
                _ => {}
            }
        }
    }

    fn read_message(&mut self) -> Result<Reply, String> {
        let fail = |e: std::io::Error| format!("reading from the system bus: {e}");
        let mut fixed = [0u8; 16];
        self.reader.read_exact(&mut fixed).map_err(fail)?;
        let little = match fixed[0] {
            b'l' => true,
            b'B' => false,
            _ => return Err("the system bus sent a message we cannot read".into()),
        };
        let u32_at = |b: &[u8], at: usize| {
            let word = [b[at], b[at + 1], b[at + 2], b[at + 3]];
            if little {
                u32::from_le_bytes(word)
            } else {
                u32::from_be_bytes(word)
            }
        };
        let body_len = u32_at(&fixed, 4) as usize;
        let fields_len = u32_at(&fixed, 12) as usize;
        let header_len = (16 + fields_len).next_multiple_of(8);
        if header_len + body_len > MAX_MESSAGE {
            return Err("the system bus sent a message too big to read".into());
        }
        let mut rest = vec![0u8; header_len - 16 + body_len];
        self.reader.read_exact(&mut rest).map_err(fail)?;
        let mut message = fixed.to_vec();
        message.extend_from_slice(&rest);
        let mut reader = Reader {
            bytes: &message,
            at: 16,
            little,
        };
        Reply::parse(fixed[1], &mut reader, 16 + fields_len, header_len)
            .ok_or_else(|| "the system bus sent a malformed message".into())
    }
}

/// What is read of a message: its kind, the call it answers, an error's
/// name and message.
struct Reply {
    kind: u8,
    reply_serial: Option<u32>,
    error: Option<String>,
}

impl Reply {
    fn parse(kind: u8, r: &mut Reader, fields_end: usize, body_at: usize) -> Option<Reply> {
        let mut reply = Reply {
            kind,
            reply_serial: None,
            error: None,
        };
        let mut error_name = None;
        let mut signature = String::new();
        while r.at < fields_end {
            r.align(8);
            let code = r.byte()?;
            let sig = r.signature()?;
            let value = r.value(&sig)?;
            match (code, value) {
                (FIELD_REPLY_SERIAL, Value::U32(s)) => reply.reply_serial = Some(s),
                (FIELD_ERROR_NAME, Value::Str(s)) => error_name = Some(s),
                (FIELD_SIGNATURE, Value::Str(s)) => signature = s,
                _ => {}
            }
        }
        if kind == ERROR {
            r.at = body_at;
            // An error's first argument, when a string, is its message.
            let text = signature
                .starts_with('s')
                .then(|| r.value("s"))
                .flatten()
                .and_then(|v| match v {
                    Value::Str(s) => Some(s),
                    _ => None,
                });
            let name = error_name.unwrap_or_else(|| "an error".into());
            reply.error = Some(match text {
                Some(text) => format!("{name}: {text}"),
                None => name,
            });
        }
        Some(reply)
    }
}

enum Value {
    U32(u32),
    Str(String),
    Other,
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    little: bool,
}

impl Reader<'_> {
    fn align(&mut self, to: usize) {
        self.at = self.at.next_multiple_of(to);
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u32(&mut self) -> Option<u32> {
        self.align(4);
        let word: [u8; 4] = self.bytes.get(self.at..self.at + 4)?.try_into().ok()?;
        self.at += 4;
        Some(if self.little {
            u32::from_le_bytes(word)
        } else {
            u32::from_be_bytes(word)
        })
    }

    fn text(&mut self, len: usize) -> Option<String> {
        let text = self.bytes.get(self.at..self.at + len)?;
        self.at += len + 1;
        String::from_utf8(text.to_vec()).ok()
    }

    fn signature(&mut self) -> Option<String> {
        let len = self.byte()? as usize;
        self.text(len)
    }

    /// A header field's value: numbers and strings are read, anything
    /// else ends the parse (machined and the bus send nothing else).
    fn value(&mut self, sig: &str) -> Option<Value> {
        match sig {
            "u" => self.u32().map(Value::U32),
            "s" | "o" => {
                let len = self.u32()? as usize;
                self.text(len).map(Value::Str)
            }
            "g" => self.signature().map(Value::Str),
            "y" => self.byte().map(|_| Value::Other),
            _ => None,
        }
    }
}

/// The bytes of a method call (little-endian).
fn encode_call(serial: u32, method: Method, args: &[Arg], want_reply: bool) -> Vec<u8> {
    let mut body = Writer::default();
    for arg in args {
        match arg {
            Arg::Str(s) => body.string(s),
            Arg::Bytes(b) => {
                body.u32(b.len() as u32);
                body.bytes.extend_from_slice(b);
            }
            Arg::U32(n) => body.u32(*n),
        }
    }
    let signature: String = args.iter().map(Arg::signature).collect();

    let mut m = Writer::default();
    let flags = if want_reply { 0 } else { NO_REPLY_EXPECTED };
    m.bytes.extend_from_slice(&[b'l', METHOD_CALL, flags, 1]);
    m.u32(body.bytes.len() as u32);
    m.u32(serial);
    let fields_len_at = m.bytes.len();
    m.u32(0);
    m.align(8);
    let fields_start = m.bytes.len();
    m.field(FIELD_PATH, "o", |m| m.string(method.path));
    m.field(FIELD_DESTINATION, "s", |m| m.string(method.destination));
    m.field(FIELD_INTERFACE, "s", |m| m.string(method.interface));
    m.field(FIELD_MEMBER, "s", |m| m.string(method.member));
    if !signature.is_empty() {
        m.field(FIELD_SIGNATURE, "g", |m| m.signature(&signature));
    }
    let fields_len = (m.bytes.len() - fields_start) as u32;
    m.bytes[fields_len_at..fields_len_at + 4].copy_from_slice(&fields_len.to_le_bytes());
    m.align(8);
    m.bytes.extend_from_slice(&body.bytes);
    m.bytes
}

#[derive(Default)]
struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    fn align(&mut self, to: usize) {
        let len = self.bytes.len().next_multiple_of(to);
        self.bytes.resize(len, 0);
    }

    fn u32(&mut self, n: u32) {
        self.align(4);
        self.bytes.extend_from_slice(&n.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.bytes.push(s.len() as u8);
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
    }

    /// A header field: a struct of its code and a variant.
    fn field(&mut self, code: u8, sig: &str, value: impl FnOnce(&mut Writer)) {
        self.align(8);
        self.bytes.push(code);
        self.signature(sig);
        value(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METHOD: Method = Method {
        destination: "org.freedesktop.machine1",
        path: "/org/freedesktop/machine1",
        interface: "org.freedesktop.machine1.Manager",
        member: "UnregisterMachine",
    };

    #[test]
    fn a_call_is_laid_out_as_the_spec_says() {
        let m = encode_call(7, METHOD, &[Arg::Str("rkt-x")], false);
        assert_eq!(&m[..4], &[b'l', METHOD_CALL, NO_REPLY_EXPECTED, 1]);
        // The body: a string of 5 bytes, its nul, after its length.
        assert_eq!(u32::from_le_bytes(m[4..8].try_into().unwrap()), 10);
        assert_eq!(u32::from_le_bytes(m[8..12].try_into().unwrap()), 7);
        let fields_len = u32::from_le_bytes(m[12..16].try_into().unwrap()) as usize;
        let body_at = (16 + fields_len).next_multiple_of(8);
        assert_eq!(m.len(), body_at + 10);
        assert_eq!(&m[body_at..], b"\x05\0\0\0rkt-x\0");
        // The first field: the path, as an object path variant.
        assert_eq!(&m[16..20], &[FIELD_PATH, 1, b'o', 0]);
        assert_eq!(&m[24..24 + 25], METHOD.path.as_bytes());
    }

    #[test]
    fn a_byte_array_and_a_number_are_aligned() {
        let m = encode_call(
            1,
            METHOD,
            &[Arg::Bytes(&[1, 2, 3]), Arg::U32(0x01020304)],
            true,
        );
        assert_eq!(m[2], 0);
        let fields_len = u32::from_le_bytes(m[12..16].try_into().unwrap()) as usize;
        let body = &m[(16 + fields_len).next_multiple_of(8)..];
        assert_eq!(body, &[3, 0, 0, 0, 1, 2, 3, 0, 4, 3, 2, 1]);
        let text = String::from_utf8_lossy(&m);
        assert!(text.contains("ayu"), "{text:?}");
    }

    /// An error reply as a bus sends it, read back.
    #[test]
    fn an_error_reply_names_itself() {
        let mut w = Writer::default();
        w.bytes.extend_from_slice(&[b'l', ERROR, 1, 1]);
        let body_len_at = w.bytes.len();
        w.u32(0);
        w.u32(9);
        let fields_len_at = w.bytes.len();
        w.u32(0);
        w.align(8);
        let start = w.bytes.len();
        w.field(FIELD_ERROR_NAME, "s", |w| {
            w.string("org.freedesktop.DBus.Error.UnixProcessIdUnknown")
        });
        w.field(FIELD_REPLY_SERIAL, "u", |w| w.u32(3));
        w.field(FIELD_SIGNATURE, "g", |w| w.signature("s"));
        let fields_len = (w.bytes.len() - start) as u32;
        w.bytes[fields_len_at..fields_len_at + 4].copy_from_slice(&fields_len.to_le_bytes());
        w.align(8);
        let body_at = w.bytes.len();
        w.string("No such process");
        let body_len = (w.bytes.len() - body_at) as u32;
        w.bytes[body_len_at..body_len_at + 4].copy_from_slice(&body_len.to_le_bytes());

        let mut r = Reader {
            bytes: &w.bytes,
            at: 16,
            little: true,
        };
        let reply = Reply::parse(ERROR, &mut r, 16 + fields_len as usize, body_at).unwrap();
        assert_eq!(reply.reply_serial, Some(3));
        assert_eq!(
            reply.error.as_deref(),
            Some("org.freedesktop.DBus.Error.UnixProcessIdUnknown: No such process")
        );
    }

    #[test]
    fn a_truncated_message_is_not_read_past_its_end() {
        let m = encode_call(1, METHOD, &[], true);
        let mut r = Reader {
            bytes: &m[..30],
            at: 16,
            little: true,
        };
        assert!(Reply::parse(METHOD_RETURN, &mut r, 16 + 200, 216).is_none());
    }
}
