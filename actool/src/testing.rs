//! Helpers for tests, of this crate and of the crates using it (feature
//! `testing`): archives written byte for byte, so that hostile names reach
//! a reader unchanged, a test certificate authority made with openssl, and
//! the report of a test that cannot run here.

use std::path::Path;
use std::process::Command;

/// Reports that the calling test cannot run here (`why`) and is skipped:
/// a line on stderr and one in the file `$TEST_SKIP_LOG`, which
/// scripts/test.sh counts, so a skip is never counted as a pass. The
/// caller returns right after; where the test must run (in CI), the
/// caller asserts that instead.
pub fn skipped(why: &str) {
    eprintln!("skipped: {why}");
    if let Some(log) = std::env::var_os("TEST_SKIP_LOG") {
        let line = format!("{}\n", why.replace('\n', " "));
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    }
}

/// A tar entry: name, type, data and link target, all taken as given.
pub type RawEntry<'a> = (&'a str, tar::EntryType, &'a [u8], &'a str);

/// A plain tar of `entries`, their names written byte for byte.
pub fn raw_tar(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_entry_type(*kind);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_mtime(1_000_000);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes, in `dir`, a CA (`ca.pem`) and a server certificate (`srv.pem`,
/// key `srv.key`) it signed, for `common_name` and the subject alternative
/// names `alt_names` (as openssl writes them: `DNS:x,IP:y`).
pub fn tls_certificates(dir: &Path, common_name: &str, alt_names: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let days = ["-days", "2"];
    let ca = [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=rkt-rs test CA",
    ];
    openssl(dir, &[&ca[..], &days].concat());
    let subject = format!("/CN={common_name}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
            "-subj", &subject,
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        format!("subjectAltName={alt_names}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    let sign = [
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-extfile",
        "ext.cnf",
    ];
    openssl(dir, &[&sign[..], &days].concat());
}
