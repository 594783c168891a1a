//! Just enough HTTP/1.1 for the metadata service: requests with a
//! Content-Length body (or none), kept alive unless asked otherwise,
//! every part of them bounded; and responses with a body.

use std::io::{self, BufRead, Read, Write};

/// The bounds of one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The request line and headers together, in bytes.
    pub head: usize,
    pub body: usize,
}

#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The target's path, still percent-encoded.
    pub path: String,
    pub query: Option<String>,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether the client wants the connection kept after the response.
    pub keep_alive: bool,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// For 405: the methods the path takes.
    pub allow: Option<&'static str>,
}

pub const TEXT: &str = "text/plain; charset=utf-8";
pub const ASCII: &str = "text/plain; charset=us-ascii";
pub const JSON: &str = "application/json";

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            body: body.into(),
            allow: None,
        }
    }

    /// An error, its reason as a line of text.
    pub fn error(status: u16, reason: impl std::fmt::Display) -> Response {
        Response::new(status, TEXT, format!("{reason}\n"))
    }

    pub fn not_allowed(allow: &'static str) -> Response {
        Response {
            allow: Some(allow),
            ..Response::error(405, "method not allowed")
        }
    }
}

/// What makes a request unreadable; each has its status.
#[derive(Debug, thiserror::Error)]
pub enum BadRequest {
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error("request head too large")]
    HeadTooLarge,
    #[error("request body too large")]
    BodyTooLarge,
    #[error("transfer encodings are not supported; send a Content-Length")]
    Encoding,
    #[error("HTTP version not supported")]
    Version,
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl BadRequest {
    /// The response to send before closing, if any (none after an I/O
    /// error: the connection is gone or timed out).
    pub fn response(&self) -> Option<Response> {
        let status = match self {
            BadRequest::Malformed(_) => 400,
            BadRequest::HeadTooLarge => 431,
            BadRequest::BodyTooLarge => 413,
            BadRequest::Encoding => 501,
            BadRequest::Version => 505,
            BadRequest::Io(_) => return None,
        };
        Some(Response::error(status, self))
    }
}

/// Reads one line of the head, counting it against `left`.
fn line(r: &mut impl BufRead, left: &mut usize) -> Result<Option<String>, BadRequest> {
    let mut buf = Vec::new();
    let n = r.take(*left as u64 + 1).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if n > *left {
        return Err(BadRequest::HeadTooLarge);
    }
    *left -= n;
    if buf.pop() != Some(b'\n') {
        return Err(BadRequest::Malformed("a line without its end"));
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| BadRequest::Malformed("bytes that are not text"))
}

/// Reads the next request; None when the client closed the connection
/// between requests.
pub fn read_request(r: &mut impl BufRead, limits: Limits) -> Result<Option<Request>, BadRequest> {
    let mut left = limits.head;
    let mut first = line(r, &mut left)?;
    // A client may send empty lines between requests (RFC 9112, 2.2).
    while first.as_deref() == Some("") {
        first = line(r, &mut left)?;
    }
    let Some(first) = first else {
        return Ok(None);
    };
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest::Malformed("the request line"));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        v if v.starts_with("HTTP/") => return Err(BadRequest::Version),
        _ => return Err(BadRequest::Malformed("the request line")),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(BadRequest::Malformed("the method"));
    }
    if !target.starts_with('/') {
        return Err(BadRequest::Malformed("the target"));
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (target.to_string(), None),
    };
    let mut headers = Vec::new();
    loop {
        let Some(h) = line(r, &mut left)? else {
            return Err(BadRequest::Malformed("the connection closed in the head"));
        };
        if h.is_empty() {
            break;
        }
        let (name, value) = h
            .split_once(':')
            .ok_or(BadRequest::Malformed("a header line"))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(BadRequest::Malformed("a header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut request = Request {
        method: method.to_string(),
        path,
        query,
        headers,
        body: Vec::new(),
        keep_alive: false,
    };
    if request.header("transfer-encoding").is_some() {
        return Err(BadRequest::Encoding);
    }
    let mut lengths = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length");
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => 0,
        (Some((_, v)), None) => v
            .parse::<usize>()
            .map_err(|_| BadRequest::Malformed("Content-Length"))?,
        (Some(_), Some(_)) => return Err(BadRequest::Malformed("two Content-Length headers")),
    };
    if length > limits.body {
        return Err(BadRequest::BodyTooLarge);
    }
    request.body = vec![0; length];
    r.read_exact(&mut request.body)?;
    let connection = request
        .header("connection")
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    request.keep_alive = if http10 {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    };
    Ok(Some(request))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Writes `response` in one write (one packet for small ones).
pub fn write_response(w: &mut impl Write, response: &Response, keep_alive: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if let Some(allow) = response.allow {
        out.push_str(&format!("Allow: {allow}\r\n"));
    }
    if !keep_alive {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response.body);
    w.write_all(&bytes)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        head: 512,
        body: 64,
    };

    fn read(text: &str) -> Result<Option<Request>, BadRequest> {
        read_request(&mut text.as_bytes(), LIMITS)
    }

    #[test]
    fn a_request_with_a_body() {
        let r = read("POST /t/x?a=b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcNEXT")
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.method.as_str(), r.path.as_str(), r.query.as_deref()),
            ("POST", "/t/x", Some("a=b"))
        );
        assert_eq!(r.header("host"), Some("h"));
        assert_eq!(r.body, b"abc");
        assert!(r.keep_alive);
    }

    #[test]
    fn two_requests_on_one_connection() {
        let mut input: &[u8] =
            b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\nConnection: close\r\n\r\n";
        let a = read_request(&mut input, LIMITS).unwrap().unwrap();
        let b = read_request(&mut input, LIMITS).unwrap().unwrap();
        assert_eq!((a.path.as_str(), b.path.as_str()), ("/a", "/b"));
        assert!(!b.keep_alive);
        assert!(read_request(&mut input, LIMITS).unwrap().is_none());
    }

    #[test]
    fn what_is_refused_and_how() {
        let status = |text: &str| read(text).unwrap_err().response().map(|r| r.status);
        assert_eq!(status("GET /\r\n\r\n"), Some(400));
        assert_eq!(status("GET x HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status("get / HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status("GET / HTTP/2.0\r\n\r\n"), Some(505));
        assert_eq!(status("GET / HTTP/1.1\r\nbad header\r\n\r\n"), Some(400));
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n"),
            Some(413)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
            Some(400)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(501)
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(600));
        assert_eq!(status(&long), Some(431));
        // A body shorter than announced: the connection is closed.
        assert_eq!(
            status("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nab"),
            None
        );
    }

    #[test]
    fn a_response_as_written() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::new(200, ASCII, "x-y"), false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=us-ascii\r\n"));
        assert!(text.ends_with("Content-Length: 3\r\nConnection: close\r\n\r\nx-y"));
    }
}
