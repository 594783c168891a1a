//! Shared by rkt's end-to-end tests: a private rkt environment (data and
//! configuration directories), GnuPG with the repository's test keys,
//! images built with the appc library, and raw archives for bad input.
#![allow(dead_code)] // each test binary uses part of this

pub mod https;
pub mod pods;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A private rkt: its own data dir, configuration dirs and GnuPG home.
pub struct Env {
    pub tmp: tempfile::TempDir,
    /// Environment variables every rkt command gets.
    pub vars: Vec<(String, PathBuf)>,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        for d in ["data", "etc", "lib", "gnupg"] {
            fs::create_dir_all(tmp.path().join(d)).unwrap();
        }
        let gnupg = tmp.path().join("gnupg");
        fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let env = Env {
            tmp,
            vars: Vec::new(),
        };
        for who in ["signer", "stranger"] {
            let key = repo().join(format!("keys/test-{who}.sec.asc"));
            let out = env.gpg().args(["--import"]).arg(&key).output().unwrap();
            assert!(
                out.status.success(),
                "gpg --import: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        env
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    pub fn gpg(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.path("gnupg")).args([
            "--batch",
            "--quiet",
            "--yes",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ]);
        c
    }

    /// Signs `file` with the test key `who` into `file.asc` (armored).
    pub fn sign(&self, file: &Path, who: &str) -> PathBuf {
        let asc = PathBuf::from(format!("{}.asc", file.display()));
        self.sign_to(file, who, &asc);
        asc
    }

    pub fn sign_to(&self, file: &Path, who: &str, asc: &Path) {
        self.detach_sign(file, who, asc, true);
    }

    /// Signs `file` with a binary (not armored) signature.
    pub fn sign_binary(&self, file: &Path, who: &str, sig: &Path) {
        self.detach_sign(file, who, sig, false);
    }

    fn detach_sign(&self, file: &Path, who: &str, out: &Path, armor: bool) {
        let mut gpg = self.gpg();
        if armor {
            gpg.arg("--armor");
        }
        let done = gpg
            .args([
                "--detach-sign",
                "--local-user",
                &format!("{who}@rkt-rs.test"),
                "--output",
            ])
            .arg(out)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "gpg --detach-sign: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    pub fn public_key(&self, who: &str) -> PathBuf {
        repo().join(format!("keys/test-{who}.pub.asc"))
    }

    pub fn rkt_command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rkt"));
        c.arg(format!("--dir={}", self.path("data").display()))
            .arg(format!("--local-config={}", self.path("etc").display()))
            .arg(format!("--system-config={}", self.path("lib").display()))
            .args(args)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c
    }

    pub fn rkt(&self, args: &[&str]) -> Output {
        self.rkt_command(args).output().expect("run rkt")
    }

    /// `rkt trust --prefix PREFIX` of the test key `who`, answering yes.
    pub fn trust(&self, prefix: &str, who: &str) {
        self.trust_key(prefix, &self.public_key(who));
    }

    /// `rkt trust --prefix PREFIX KEY_FILE`, answering yes.
    pub fn trust_key(&self, prefix: &str, key: &Path) {
        let out = self.rkt(&[
            "trust",
            "--skip-fingerprint-review",
            "--prefix",
            prefix,
            key.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Trusts the test key `who` as a root key.
    pub fn trust_root(&self, who: &str) {
        let key = self.public_key(who);
        let out = self.rkt(&[
            "trust",
            "--skip-fingerprint-review",
            "--root",
            key.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `rkt fetch ARGS`; the ID printed on success.
    pub fn fetch(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["fetch"];
        all.extend_from_slice(args);
        let out = self.rkt(&all);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(one_line_error(&out))
        }
    }

    /// A gzip ACI named `name` with `files` (path under rootfs, content)
    /// and extra manifest fields, at `self/<file>`.
    pub fn image(
        &self,
        file: &str,
        name: &str,
        version: &str,
        extra: serde_json::Value,
        files: &[(&str, &str)],
    ) -> PathBuf {
        let layout = self.path(&format!("layout-{file}"));
        let _ = fs::remove_dir_all(&layout);
        fs::create_dir_all(layout.join("rootfs")).unwrap();
        let mut manifest = serde_json::json!({
            "acKind": "ImageManifest", "acVersion": "0.8.11", "name": name,
            "labels": [{"name": "version", "value": version}, {"name": "os", "value": "linux"},
                       {"name": "arch", "value": rkt::fetch::host_arch()}],
        });
        if let serde_json::Value::Object(m) = extra {
            for (k, v) in m {
                manifest[k] = v;
            }
        }
        fs::write(layout.join("manifest"), manifest.to_string()).unwrap();
        for (path, content) in files {
            let p = layout.join("rootfs").join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        let out = self.path(file);
        let f = fs::File::create(&out).unwrap();
        appc::aci::build_aci(&layout, f, appc::aci::BuildOptions::default()).unwrap();
        out
    }
}

impl Drop for Env {
    /// GnuPG's agent, started by signing, goes with its home directory.
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.path("gnupg"))
            .args(["--kill", "all"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Stderr of a failed run, checked to be one line without a panic
/// (besides rkt's notes on where images come from, `image: ...`).
pub fn one_line_error(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let note = |l: &str| {
        ["image: using image from ", "image: fetching image from "]
            .iter()
            .any(|n| l.starts_with(n))
    };
    let lines: Vec<&str> = err.lines().filter(|l| !note(l)).collect();
    assert_eq!(out.status.code(), Some(254), "stderr: {err}");
    assert_eq!(lines.len(), 1, "not one line: {err:?}");
    assert!(!err.contains("panicked"), "{err}");
    lines[0].to_string()
}

pub use appc::testing::RawEntry;

/// An archive with `manifest`, a rootfs directory and `entries`, written
/// byte for byte (for malicious names).
pub fn raw_tar(manifest: &[u8], entries: &[RawEntry<'_>]) -> Vec<u8> {
    let base: [RawEntry<'_>; 2] = [
        ("manifest", tar::EntryType::Regular, manifest, ""),
        ("rootfs", tar::EntryType::Directory, b"", ""),
    ];
    let all: Vec<RawEntry<'_>> = base.iter().chain(entries).copied().collect();
    appc::testing::raw_tar(&all)
}

/// Mount points under `dir` (there must be none after a test).
pub fn mounts_under(dir: &Path) -> usize {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let d = dir.display().to_string();
    text.lines().filter(|l| l.contains(&d)).count()
}
