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

/// Answers by path: each request takes the next (status, body) of its
/// path's list, the last one repeating; records the paths asked for.
struct Server {
    port: u16,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(answers: HashMap<String, Vec<(u16, Vec<u8>)>>) -> Server {
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
                while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                    header.clear();
                }
                log.lock().unwrap().push(path.clone());
                let (status, body) = match answers.get_mut(&path) {
                    Some(list) if list.len() > 1 => list.remove(0),
                    Some(list) => list[0].clone(),
                    None => (404, Vec::new()),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
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
        ("/plain.aci".into(), vec![(200, aci.clone())]),
        // Still being made at first.
        ("/plain.aci.asc".into(), vec![(202, Vec::new()), (200, asc)]),
        ("/unsigned.aci".into(), vec![(200, aci.clone())]),
        ("/late.aci".into(), vec![(200, aci)]),
        ("/late.aci.asc".into(), vec![(202, Vec::new())]),
    ]));

    // The signature before the image, and again after it while deferred.
    let out = env.rkt(&["fetch", &server.url("/plain.aci")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.asked().last().map(String::as_str),
        Some("/unsigned.aci")
    );
}
