//! Fetches are bounded: an endless body, a trickling one, a server that
//! goes quiet and a decompression bomb each end in one clear error, soon,
//! with nothing left in staging. The server runs on 127.0.0.1 and stops by
//! itself.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};
use support::{Env, one_line_error};

/// How the test server answers.
#[derive(Clone, Copy)]
enum Body {
    /// Zeros for ever, with no length.
    Endless,
    /// One byte every 200 ms.
    Trickle,
    /// Headers, then nothing.
    Silent,
}

/// Serves one request on 127.0.0.1 in a thread that ends within 30 s;
/// returns the URL.
fn serve(body: Body) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut req = [0u8; 4096];
        let _ = conn.read(&mut req);
        let _ =
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n");
        let stop = Instant::now() + Duration::from_secs(30);
        let chunk = vec![0u8; 64 * 1024];
        while Instant::now() < stop {
            let sent = match body {
                Body::Endless => conn.write_all(&chunk),
                Body::Trickle => {
                    std::thread::sleep(Duration::from_millis(200));
                    conn.write_all(b"\0")
                }
                Body::Silent => {
                    std::thread::sleep(Duration::from_millis(100));
                    Ok(())
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    format!("http://127.0.0.1:{port}/image.aci")
}

fn fetch_fails(env: &Env, limit: &str, url: &str) -> (String, Duration) {
    let t0 = Instant::now();
    let out = env.rkt(&["--insecure-options=image,http", limit, "fetch", url]);
    let took = t0.elapsed();
    let err = one_line_error(&out);
    let staging = std::fs::read_dir(env.path("data/cas/tmp")).unwrap().count();
    assert_eq!(staging, 0, "staging left after: {err}");
    (err, took)
}

#[test]
fn an_endless_body_stops_at_the_download_cap() {
    let env = Env::new();
    let (err, took) = fetch_fails(&env, "--max-download-size=2Mi", &serve(Body::Endless));
    assert!(err.contains("more than 2097152 bytes"), "{err}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[test]
fn a_trickle_stops_at_the_deadline() {
    let env = Env::new();
    let (err, took) = fetch_fails(&env, "--fetch-deadline=2s", &serve(Body::Trickle));
    assert!(err.contains("not downloaded within 2s"), "{err}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}

#[test]
fn a_silent_server_stops_at_the_idle_timeout() {
    let env = Env::new();
    let (err, took) = fetch_fails(&env, "--fetch-idle-timeout=1s", &serve(Body::Silent));
    assert!(err.contains("image.aci"), "{err}");
    assert!(took < Duration::from_secs(25), "{took:?}");
}

/// A gzip'ed ACI whose rootfs holds `size` bytes of zeros.
fn bomb(size: u64) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let manifest = br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/bomb"}"#;
    let mut add = |path: &str, data: &mut dyn Read, len: u64, kind: tar::EntryType| {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_size(len);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        tar.append(&h, data).unwrap();
    };
    add(
        "manifest",
        &mut &manifest[..],
        manifest.len() as u64,
        tar::EntryType::Regular,
    );
    add(
        "rootfs",
        &mut std::io::empty(),
        0,
        tar::EntryType::Directory,
    );
    add(
        "rootfs/zeros",
        &mut std::io::repeat(0).take(size),
        size,
        tar::EntryType::Regular,
    );
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn a_decompression_bomb_stops_at_the_extraction_cap() {
    let env = Env::new();
    let file = env.path("bomb.aci");
    std::fs::write(&file, bomb(256 << 20)).unwrap();
    let (err, _) = fetch_fails(&env, "--max-extracted-size=16Mi", file.to_str().unwrap());
    assert!(err.contains("more than 16777216 bytes"), "{err}");
    // The file system keeps its share free: all of it, here.
    let (err, _) = fetch_fails(&env, "--min-free-percent=99", file.to_str().unwrap());
    assert!(
        err.contains("bytes that leave 99% of the store's file system free (--min-free-percent"),
        "{err}"
    );
}

#[test]
fn limits_come_from_fetch_d_and_bad_ones_are_named() {
    let env = Env::new();
    let dir = env.path("etc/fetch.d");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = r#"{"rktKind": "fetch", "rktVersion": "v1", "maxDownloadSize": "1Mi"}"#;
    std::fs::write(dir.join("limits.json"), conf).unwrap();
    let (err, _) = fetch_fails(&env, "--debug", &serve(Body::Endless));
    assert!(err.contains("more than 1048576 bytes"), "{err}");
    let out = env.rkt(&["--max-download-size=lots", "image", "list"]);
    let err = one_line_error(&out);
    assert!(err.contains("--max-download-size"), "{err}");
}

/// A gzip'ed ACI whose rootfs holds `count` empty files.
fn many_files(count: usize) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let manifest = br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/many"}"#;
    let mut h = tar::Header::new_ustar();
    h.set_size(manifest.len() as u64);
    h.set_mode(0o644);
    tar.append_data(&mut h, "manifest", &manifest[..]).unwrap();
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    tar.append_data(&mut h, "rootfs", std::io::empty()).unwrap();
    for i in 0..count {
        let mut h = tar::Header::new_ustar();
        h.set_size(0);
        h.set_mode(0o644);
        tar.append_data(&mut h, format!("rootfs/f{i}"), std::io::empty())
            .unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

#[test]
fn the_free_share_holds_for_inodes_too() {
    if !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "this test needs root");
        appc::testing::skipped("not root: mounting a file system with few inodes");
        return;
    }
    let env = Env::new();
    // The store on a file system of 4000 inodes and plenty of bytes.
    let data = env.path("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m,nr_inodes=4000", "tmpfs"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(mounted.success());
    let unmount = || drop(std::process::Command::new("umount").arg(&data).status());
    let file = env.path("many.aci");
    std::fs::write(&file, many_files(3000)).unwrap();
    let out = env.rkt(&[
        "--insecure-options=image",
        "--min-free-percent=50",
        "fetch",
        file.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    let staging = std::fs::read_dir(data.join("cas/tmp")).map_or(0, |d| d.count());
    // Within the share, the same image is stored.
    let fits = env.rkt(&[
        "--insecure-options=image",
        "--min-free-percent=5",
        "fetch",
        file.to_str().unwrap(),
    ]);
    unmount();
    assert_eq!(out.status.code(), Some(254));
    assert!(err.contains("files that leave 50% of the inodes"), "{err}");
    assert_eq!(staging, 0, "staging left after: {err}");
    assert!(fits.status.success(), "{}", one_line_error(&fits));
}
