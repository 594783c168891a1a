//! Signatures made by Go's OpenPGP library (acbuild, rkt's tooling, Go
//! signing servers) verify as GnuPG verifies them: Go gives an RSA
//! signature's MPI a bit count of eight times its byte length, even when
//! the value starts with zero bits.

mod support;

use std::fs;
use support::{Env, one_line_error};

const NAME: &str = "example.com/go-signed";

/// An RSA key made for the test in `env`'s GnuPG, trusted for NAME.
fn rsa_signer(env: &Env) {
    let made = env
        .gpg()
        .args([
            "--quick-gen-key",
            "rkt-rs go-style signer (TEST ONLY) <go@rkt-rs.test>",
            "rsa2048",
            "sign",
            "never",
        ])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let public = env
        .gpg()
        .args(["--armor", "--export", "go@rkt-rs.test"])
        .output()
        .unwrap();
    let key = env.path("go.pub.asc");
    fs::write(&key, &public.stdout).unwrap();
    env.trust_key(NAME, &key);
}

/// A binary signature of `file` whose RSA value has fewer than 2048 bits
/// (about every other one), then written as Go writes it: 2048.
fn go_style_signature(env: &Env, file: &std::path::Path) -> Vec<u8> {
    for n in 0..64 {
        let sig = env.path("go.sig");
        let done = env
            .gpg()
            .args(["--local-user", "go@rkt-rs.test", "--detach-sign"])
            // A different notation each time makes a different signature.
            .arg(format!("--sig-notation=try@rkt-rs.test={n}"))
            .arg("--output")
            .arg(&sig)
            .arg(file)
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        let mut bytes = fs::read(&sig).unwrap();
        // The packet ends with the one MPI: 2 bytes of bit count, 256 of value.
        let at = bytes.len() - 258;
        let bits = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
        if (2041..2048).contains(&bits) {
            bytes[at..at + 2].copy_from_slice(&2048u16.to_be_bytes());
            return bytes;
        }
    }
    panic!("no signature with a short value in 64 tries");
}

#[test]
fn go_style_rsa_signatures_verify() {
    let env = Env::new();
    rsa_signer(&env);
    let aci = env.image(
        "go.aci",
        NAME,
        "1.0.0",
        serde_json::json!({}),
        &[("a", "b")],
    );
    let sig = env.path("go-style.sig");
    fs::write(&sig, go_style_signature(&env, &aci)).unwrap();
    // GnuPG accepts it.
    let gpg = env
        .gpg()
        .arg("--verify")
        .arg(&sig)
        .arg(&aci)
        .output()
        .unwrap();
    assert!(
        gpg.status.success(),
        "{}",
        String::from_utf8_lossy(&gpg.stderr)
    );
    // And so do we, armored or not.
    let armored = env.path("go-style.asc");
    let dearmor = env
        .gpg()
        .arg("--enarmor")
        .arg("--output")
        .arg(&armored)
        .arg(&sig)
        .output()
        .unwrap();
    assert!(dearmor.status.success());
    for s in [&sig, &armored] {
        let out = env.fetch(&["--signature", s.to_str().unwrap(), aci.to_str().unwrap()]);
        assert!(out.is_ok(), "{}: {out:?}", s.display());
        assert!(env.rkt(&["image", "rm", NAME]).status.success());
    }
    // Verification is not weakened: another image with it is refused.
    let other = env.image(
        "other.aci",
        NAME,
        "1.0.0",
        serde_json::json!({}),
        &[("a", "c")],
    );
    let out = env.rkt(&[
        "fetch",
        "--signature",
        sig.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    let err = one_line_error(&out);
    assert!(err.contains("does not match"), "{err}");
}
