//! A plain-HTTP server on 127.0.0.1 serving fixed pages and recording the
//! request targets it was asked for, for discovery tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Debug)]
pub struct Page {
    pub status: u16,
    pub body: String,
    pub location: Option<String>,
}

pub struct PageServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

fn serve(stream: TcpStream, pages: &HashMap<String, Page>, requests: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Anything but an HTTP request (a TLS handshake) is dropped.
    let Some(target) = line.strip_prefix("GET ").and_then(|l| l.split(' ').next()) else {
        return;
    };
    requests.lock().unwrap().push(target.to_string());
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = target.split('?').next().unwrap_or("/");
    let page = pages.get(path).cloned().unwrap_or(Page {
        status: 404,
        body: String::new(),
        location: None,
    });
    let location = page
        .location
        .map(|l| format!("Location: {l}\r\n"))
        .unwrap_or_default();
    let response = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n{location}\r\n{}",
        page.status,
        page.body.len(),
        page.body
    );
    let _ = (&stream).write_all(response.as_bytes());
}

impl PageServer {
    /// Serves `pages` (by path) until the process ends; unknown paths 404.
    pub fn start(pages: HashMap<String, Page>) -> PageServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &pages, &recorded);
            }
        });
        PageServer { port, requests }
    }

    /// The request targets received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}
