//! `rkt fetch` of plain `http://` URLs as rkt fetches them: the image flag
//! is enough, the signature is asked for first, and a signature the
//! server is still making (202 Accepted) is asked for again after the
//! image. A server on 127.0.0.1 of this test's own answers in turn.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use support::{Env, one_line_error};

/// One answer: its status, its body, and how much of the body is sent
/// before the connection is cut (all of it if None); with an ETag, and a
/// `Range: bytes=N-` asked for is honoured with 206.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: Vec<u8>,
    cut_at: Option<usize>,
    etag: Option<&'static str>,
}

fn answer(status: u16, body: Vec<u8>) -> Answer {
    Answer {
        status,
        body,
        cut_at: None,
        etag: None,
    }
}

/// Answers by path: each request takes the next answer of its path's
/// list, the last one repeating; records the paths asked for, each with
/// the Range it asked for, if any.
struct Server {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(answers: HashMap<String, Vec<Answer>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&asked);
        std::thread::spawn(move || {
            let mut answers = answers;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let path = line.split(' ').nth(1).unwrap_or_default().to_string();
                let mut header = String::new();
                let mut range: Option<usize> = None;
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    let lower = header.to_ascii_lowercase();
                    if let Some(r) = lower.strip_prefix("range: bytes=") {
                        range = r.trim().trim_end_matches('-').parse().ok();
                    }
                    header.clear();
                }
                let shown = match range {
                    Some(from) => format!("{path} from {from}"),
                    None => path.clone(),
                };
                log.lock().unwrap().push(shown);
                let a = match answers.get_mut(&path) {
                    Some(list) if list.len() > 1 => list.remove(0),
                    Some(list) => list[0].clone(),
                    None => answer(404, Vec::new()),
                };
                let etag = a.etag.map(|t| format!("ETag: {t}\r\n")).unwrap_or_default();
                let (status, body, extra) = match range {
                    Some(from) if a.etag.is_some() && a.status == 200 => (
                        206,
                        &a.body[from..],
                        format!(
                            "Content-Range: bytes {from}-{}/{}\r\n",
                            a.body.len() - 1,
                            a.body.len()
                        ),
                    ),
                    _ => (a.status, &a.body[..], String::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\n{etag}{extra}Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body[..a.cut_at.unwrap_or(body.len()).min(body.len())]);
            }
        });
        Server { port, asked }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn asked(&self) -> Vec<String> {
        std::mem::take(&mut *self.asked.lock().unwrap())
    }
}

/// Fails the test with rkt's stderr unless `out` succeeded.
fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn plain_http_images_with_signatures_first_and_deferred() {
    let env = Env::new();
    let name = "example.com/plain";
    let aci = env.image(
        "plain.aci",
        name,
        "1",
        serde_json::json!({}),
        &[("etc/motd", "hi")],
    );
    let asc = env.sign(&aci, "signer");
    env.trust(name, "signer");
    let (aci, asc) = (std::fs::read(aci).unwrap(), std::fs::read(asc).unwrap());
    let server = Server::start(HashMap::from([
        ("/plain.aci".into(), vec![answer(200, aci.clone())]),
        // Still being made at first.
        (
            "/plain.aci.asc".into(),
            vec![answer(202, Vec::new()), answer(200, asc)],
        ),
        ("/unsigned.aci".into(), vec![answer(200, aci.clone())]),
        ("/late.aci".into(), vec![answer(200, aci)]),
        ("/late.aci.asc".into(), vec![answer(202, Vec::new())]),
    ]));

    // The signature before the image, and again after it while deferred.
    let out = env.rkt(&["fetch", &server.url("/plain.aci")]);
    ok(&out);
    assert_eq!(
        server.asked(),
        ["/plain.aci.asc", "/plain.aci", "/plain.aci.asc"]
    );
    // No signature: refused in rkt's words before the image is downloaded.
    let err = one_line_error(&env.rkt(&["fetch", "--no-store", &server.url("/unsigned.aci")]));
    assert!(
        err.contains("error downloading the signature file"),
        "{err}"
    );
    assert_eq!(server.asked(), ["/unsigned.aci.asc"]);
    // Never ready: said so.
    let err = one_line_error(&env.rkt(&["fetch", &server.url("/late.aci")]));
    assert!(err.contains("202 Accepted"), "{err}");
    // --insecure-options=image alone fetches over plain HTTP, as rkt.
    let out = env.rkt(&[
        "--insecure-options=image",
        "fetch",
        &server.url("/unsigned.aci"),
    ]);
    ok(&out);
    assert_eq!(
        server.asked().last().map(String::as_str),
        Some("/unsigned.aci")
    );
}

#[test]
fn an_interrupted_download_is_resumed() {
    let env = Env::new();
    let aci = env.image(
        "big.aci",
        "example.com/big",
        "1",
        serde_json::json!({}),
        &[("data", &"x".repeat(300_000))],
    );
    let aci = std::fs::read(aci).unwrap();
    let half = aci.len() / 2;
    let whole = Answer {
        etag: Some("\"v1\""),
        ..answer(200, aci.clone())
    };
    let cut = Answer {
        cut_at: Some(half),
        ..whole.clone()
    };
    let server = Server::start(HashMap::from([("/big.aci".into(), vec![cut, whole])]));
    let url = server.url("/big.aci");
    let fetch = || env.rkt(&["--insecure-options=image", "fetch", &url]);
    let first = fetch();
    assert!(!first.status.success());
    assert!(one_line_error(&first).contains("truncated"));
    // The next fetch asks for the rest only, and the image is whole.
    let second = fetch();
    ok(&second);
    assert_eq!(
        server.asked(),
        ["/big.aci".to_string(), format!("/big.aci from {half}")]
    );
    let listed = env.rkt(&["image", "list", "--no-legend"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("example.com/big"));
    // Nothing of the download is left behind.
    let tmp: Vec<_> = std::fs::read_dir(env.path("data/cas/tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "{tmp:?}");
}
