//! `rkt trust`, `rkt fetch` of local files and `rkt image ...`, driven as a
//! user would, each test in its own data and configuration directories.

mod support;

use serde_json::json;
use std::fs;
use support::{Env, RawEntry, one_line_error, raw_tar};

const NAME: &str = "example.com/hello";

fn hello(env: &Env) -> std::path::PathBuf {
    env.image(
        "hello.aci",
        NAME,
        "1.0.0",
        json!({}),
        &[("etc/motd", "hi\n"), ("bin/app", "#!/bin/sh\n")],
    )
}

/// The store holds exactly `n` images and nothing half-done.
fn assert_store(env: &Env, n: usize) {
    let out = env.rkt(&["image", "list", "--no-legend"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), n);
    let cas = env.path("data/cas");
    for sub in ["images", "tree"] {
        assert_eq!(fs::read_dir(cas.join(sub)).unwrap().count(), n, "{sub}");
    }
    // rkt's blob layout: blob/sha512/<first two hex digits>/sha512-<hex>.
    let blobs: usize = fs::read_dir(cas.join("blob/sha512"))
        .unwrap()
        .map(|d| fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(blobs, n, "blobs");
    assert_eq!(
        fs::read_dir(cas.join("tmp")).unwrap().count(),
        0,
        "staging leftovers"
    );
}

#[test]
fn signed_images_from_trusted_keys_are_fetched_and_listed() {
    let env = Env::new();
    let aci = hello(&env);
    env.sign(&aci, "signer");
    let err = env.fetch(&[aci.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("no key is trusted for example.com/hello"),
        "{err}"
    );
    assert_store(&env, 0);

    // rkt trust asks; "no" (here: no answer) trusts nothing.
    let out = env.rkt(&[
        "trust",
        "--prefix",
        NAME,
        env.public_key("signer").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(254));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Are you sure you want to trust this key (yes/no)?"),
        "{err}"
    );
    assert!(err.contains("GPG key fingerprint is:"), "{err}");

    let mut trust = env.rkt_command(&[
        "trust",
        "--prefix",
        NAME,
        env.public_key("signer").to_str().unwrap(),
    ]);
    trust
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = trust.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"yes\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with("Added key for prefix \"example.com/hello\" at"),
        "{said}"
    );
    let key_dir = env.path("etc/trustedkeys/prefix.d/example.com/hello");
    let stored: Vec<_> = fs::read_dir(&key_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0]
            .to_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    let short = env.fetch(&[aci.to_str().unwrap()]).unwrap();
    assert!(short.starts_with("sha512-") && short.len() == 39, "{short}");
    let full = env.fetch(&["--full", aci.to_str().unwrap()]).unwrap();
    assert!(full.starts_with(&short) && full.len() == 135);
    assert_store(&env, 1);
    let list = String::from_utf8_lossy(&env.rkt(&["image", "list"]).stdout).to_string();
    assert!(
        list.starts_with("ID\tNAME\tSIZE\tIMPORT TIME\tLAST USED\n"),
        "{list}"
    );
    assert!(list.contains("example.com/hello:1.0.0"), "{list}");
    let listed: serde_json::Value =
        serde_json::from_slice(&env.rkt(&["image", "list", "--format=json"]).stdout).unwrap();
    assert_eq!(listed[0]["id"], full.as_str());
}

#[test]
fn bad_signatures_are_refused_and_store_nothing() {
    let env = Env::new();
    let aci = hello(&env);
    let path = aci.to_str().unwrap();
    env.trust("example.com/other", "signer");
    env.sign(&aci, "signer");
    let err = env.fetch(&[path]).unwrap_err();
    assert!(
        err.contains(
            "openpgp: signature made by unknown entity: no key is trusted for example.com/hello"
        ),
        "key for another prefix: {err}"
    );

    env.trust(NAME, "signer");
    let stranger = env.path("stranger.asc");
    env.sign_to(&aci, "stranger", &stranger);
    let err = env
        .fetch(&["--signature", stranger.to_str().unwrap(), path])
        .unwrap_err();
    assert!(
        err.contains("openpgp: signature made by unknown entity: key "),
        "{err}"
    );
    assert!(err.contains("is not trusted for this image"), "{err}");

    let other = env.path("other");
    fs::write(&other, "another file").unwrap();
    let other_sig = env.sign(&other, "signer");
    let err = env
        .fetch(&["--signature", other_sig.to_str().unwrap(), path])
        .unwrap_err();
    assert!(err.contains("does not match the image"), "{err}");

    let corrupt = env.path("corrupt.asc");
    fs::write(
        &corrupt,
        "-----BEGIN PGP SIGNATURE-----\n\nnot base64 at all\n-----END PGP SIGNATURE-----\n",
    )
    .unwrap();
    let err = env
        .fetch(&["--signature", corrupt.to_str().unwrap(), path])
        .unwrap_err();
    assert!(err.contains("not a valid OpenPGP signature"), "{err}");

    // Binary (not armored) signatures are accepted too.
    let binary = env.path("binary.sig");
    env.sign_binary(&aci, "signer", &binary);
    env.fetch(&["--signature", binary.to_str().unwrap(), path])
        .unwrap();
    assert!(env.rkt(&["image", "rm", NAME]).status.success());

    fs::remove_file(env.path("hello.aci.asc")).unwrap();
    let err = env.fetch(&[path]).unwrap_err();
    assert!(err.contains("error opening signature file"), "{err}");
    let err = one_line_error(&env.rkt(&["trust", env.public_key("signer").to_str().unwrap()]));
    assert!(err.contains("--prefix or --root is required"), "{err}");
    assert_store(&env, 0);

    // A root key applies to every name.
    env.trust_root("signer");
    env.sign(&aci, "signer");
    let other_name = env.image("other.aci", "example.org/anything", "1", json!({}), &[]);
    env.sign(&other_name, "signer");
    env.fetch(&[other_name.to_str().unwrap()]).unwrap();
    // And --insecure-options=image skips the check altogether.
    let unsigned = env.image("unsigned.aci", "example.net/unsigned", "1", json!({}), &[]);
    env.fetch(&["--insecure-options=image", unsigned.to_str().unwrap()])
        .unwrap();
    assert_store(&env, 2);
}

#[test]
fn hostile_archives_are_refused_with_one_line() {
    use tar::EntryType::{Block, Char, Link, Regular, Symlink};
    let env = Env::new();
    let manifest = br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/evil"}"#;
    let cases: Vec<(&str, Vec<RawEntry<'_>>, &str)> = vec![
        (
            "dotdot",
            vec![("rootfs/../../../tmp/owned", Regular, b"x", "")],
            "escapes the image",
        ),
        (
            "absolute",
            vec![("/etc/owned", Regular, b"x", "")],
            "absolute path",
        ),
        (
            "symlink-out",
            vec![("rootfs/a/link", Symlink, b"", "../../../../etc")],
            "outside the image",
        ),
        (
            "hardlink-out",
            vec![("rootfs/l", Link, b"", "../../etc/shadow")],
            "hard link",
        ),
        (
            "char-device",
            vec![("rootfs/dev/mem", Char, b"", "")],
            "device node",
        ),
        (
            "block-device",
            vec![("rootfs/dev/sda", Block, b"", "")],
            "device node",
        ),
    ];
    for (name, entries, needle) in cases {
        let file = env.path(&format!("{name}.aci"));
        fs::write(&file, raw_tar(manifest, &entries)).unwrap();
        let err = env
            .fetch(&["--insecure-options=image", file.to_str().unwrap()])
            .unwrap_err();
        assert!(err.contains(needle), "{name}: {err}");
    }
    let html = env.path("page.aci");
    fs::write(&html, "<html><body>Not an image</body></html>").unwrap();
    let err = env
        .fetch(&["--insecure-options=image", html.to_str().unwrap()])
        .unwrap_err();
    assert!(err.contains("unable to detect filetype"), "{err}");
    let good = hello(&env);
    let bytes = fs::read(&good).unwrap();
    let truncated = env.path("truncated.aci");
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let err = env
        .fetch(&["--insecure-options=image", truncated.to_str().unwrap()])
        .unwrap_err();
    assert!(err.contains("error reading archive"), "{err}");
    let err = env
        .fetch(&["--insecure-options=image", "/nonexistent/x.aci"])
        .unwrap_err();
    assert!(err.contains("/nonexistent/x.aci"), "{err}");
    assert!(!std::path::Path::new("/tmp/owned").exists());
    assert_store(&env, 0);
}

#[test]
fn dependencies_are_layered_beneath_and_whitelists_honoured() {
    let env = Env::new();
    let base = env.image(
        "base.aci",
        "example.com/base",
        "1",
        json!({}),
        &[
            ("etc/os-release", "base\n"),
            ("etc/motd", "base motd\n"),
            ("usr/lib/junk", "j"),
        ],
    );
    env.fetch(&["--insecure-options=image", base.to_str().unwrap()])
        .unwrap();
    let app = env.image(
        "app.aci",
        "example.com/app",
        "1",
        json!({
            "dependencies": [{"imageName": "example.com/base", "labels": [{"name": "version", "value": "1"}]}],
            "pathWhitelist": ["/etc/os-release", "/etc/motd", "/bin/app"]
        }),
        &[("etc/motd", "app motd\n"), ("bin/app", "#!/bin/sh\n")],
    );
    let id = env
        .fetch(&["--insecure-options=image", app.to_str().unwrap()])
        .unwrap();
    let target = env.path("rendered");
    let out = env.rkt(&["image", "render", &id, target.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_to_string(target.join("rootfs/etc/motd")).unwrap(),
        "app motd\n"
    );
    assert_eq!(
        fs::read_to_string(target.join("rootfs/etc/os-release")).unwrap(),
        "base\n"
    );
    assert!(
        !target.join("rootfs/usr/lib/junk").exists(),
        "pathWhitelist not honoured"
    );
    // The stored tree is rendered the same way.
    let tree = fs::read_dir(env.path("data/cas/tree"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with(id.trim())
        })
        .unwrap();
    assert_eq!(
        fs::read_to_string(tree.join("rootfs/etc/os-release")).unwrap(),
        "base\n"
    );

    let orphan = env.image(
        "orphan.aci",
        "example.com/orphan",
        "1",
        json!({"dependencies": [{"imageName": "example.com/missing"}]}),
        &[],
    );
    let err = env
        .fetch(&["--insecure-options=image", orphan.to_str().unwrap()])
        .unwrap_err();
    assert!(
        err.contains("dependency example.com/missing of example.com/orphan"),
        "{err}"
    );
    assert_store(&env, 2);
}

#[test]
fn concurrent_fetches_of_one_image_store_it_once() {
    let env = Env::new();
    let aci = hello(&env);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.rkt_command(&["--insecure-options=image", "fetch", aci.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let ids: Vec<String> = children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_store(&env, 1);
}

#[test]
fn a_fetch_killed_midway_leaves_nothing_that_is_used() {
    let env = Env::new();
    // Large enough that the fetch is still running when killed.
    let big: String = (0..4_000_000u64)
        .map(|i| char::from(b'a' + (i * 7919 % 26) as u8))
        .collect();
    let aci = env.image(
        "big.aci",
        "example.com/big",
        "1",
        json!({}),
        &[("data/a", &big), ("data/b", &big), ("data/c", &big)],
    );
    let path = aci.to_str().unwrap();
    for delay_ms in [5, 60, 150] {
        let mut child = env
            .rkt_command(&["--insecure-options=image", "fetch", path])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let out = env.rkt(&["image", "list", "--no-legend"]);
        assert!(out.status.success());
        let listed = String::from_utf8_lossy(&out.stdout).lines().count();
        assert!(listed <= 1);
    }
    // The next fetch that stages reclaims what the killed ones left.
    let other = hello(&env);
    env.fetch(&["--insecure-options=image", other.to_str().unwrap()])
        .unwrap();
    let left: Vec<_> = fs::read_dir(env.path("data/cas/tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "stale staging left: {left:?}");
    let id = env.fetch(&["--insecure-options=image", path]).unwrap();
    let out = env.rkt(&["image", "gc", "--grace-period=24h"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_store(&env, 2);
    let render = env.path("r");
    assert!(
        env.rkt(&["image", "extract", &id, render.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        fs::read_to_string(render.join("rootfs/data/c"))
            .unwrap()
            .len(),
        big.len()
    );
}

#[test]
fn image_commands() {
    let env = Env::new();
    let aci = hello(&env);
    let full = env
        .fetch(&["--full", "--insecure-options=image", aci.to_str().unwrap()])
        .unwrap();
    let short = &full[..19];

    let m: serde_json::Value =
        serde_json::from_slice(&env.rkt(&["image", "cat-manifest", short]).stdout).unwrap();
    assert_eq!(m["name"], NAME);
    let pretty = String::from_utf8_lossy(
        &env.rkt(&[
            "image",
            "cat-manifest",
            "--pretty-print",
            "example.com/hello:1.0.0",
        ])
        .stdout,
    )
    .to_string();
    assert!(pretty.starts_with("{\n    \"acKind\""), "{pretty}");

    let exported = env.path("exported.aci");
    assert!(
        env.rkt(&["image", "export", short, exported.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(fs::read(&exported).unwrap(), fs::read(&aci).unwrap());
    let again = env.rkt(&["image", "export", short, exported.to_str().unwrap()]);
    assert!(one_line_error(&again).contains("--overwrite"));

    let dir = env.path("extracted");
    assert!(
        env.rkt(&[
            "image",
            "extract",
            "--rootfs-only",
            short,
            dir.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert_eq!(fs::read_to_string(dir.join("etc/motd")).unwrap(), "hi\n");

    assert!(
        one_line_error(&env.rkt(&["image", "rm", "sha512-0000"]))
            .contains("no image IDs found matching \"sha512-0000\"")
    );
    assert!(
        one_line_error(&env.rkt(&["image", "cat-manifest", "example.com/none"]))
            .contains("no image example.com/none")
    );
    let gc = env.rkt(&["image", "gc"]);
    assert!(gc.status.success());
    assert_store(&env, 1);
    let gc = env.rkt(&["image", "gc", "--grace-period=0s"]);
    assert!(String::from_utf8_lossy(&gc.stdout).contains(&full));
    assert_store(&env, 0);
    assert!(
        one_line_error(&env.rkt(&["image", "gc", "--grace-period=soon"]))
            .contains("--grace-period")
    );
    assert!(
        one_line_error(&env.rkt(&["--insecure-options=bogus", "image", "list"])).contains("bogus")
    );
}

#[test]
fn config_is_merged_and_redacted() {
    let env = Env::new();
    for (dir, user) in [("lib", "system"), ("etc", "local")] {
        let d = env.path(&format!("{dir}/auth.d"));
        fs::create_dir_all(&d).unwrap();
        let body = json!({"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"], "type": "basic",
                          "credentials": {"user": user, "password": "secret"}});
        fs::write(d.join("a.json"), body.to_string()).unwrap();
    }
    let out = env.rkt(&["config"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("\"local\"") && !text.contains("\"system\""),
        "{text}"
    );
    assert!(!text.contains("secret"), "credentials leaked: {text}");
    // Indented by default, as rkt's; on one line with --pretty-print=false.
    assert!(text.starts_with("{\n  \"stage0\": ["), "{text}");
    let compact = env.rkt(&["config", "--pretty-print=false"]);
    let line = String::from_utf8_lossy(&compact.stdout);
    assert!(
        line.starts_with("{\"stage0\":[") && line.lines().count() == 1,
        "{line}"
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&line).unwrap(),
        serde_json::from_str::<serde_json::Value>(&text).unwrap()
    );
    fs::write(env.path("etc/auth.d/b.json"), "{not json").unwrap();
    assert!(one_line_error(&env.rkt(&["config"])).contains("b.json"));
}

#[test]
fn a_stored_file_is_recognised_without_extracting_it_again() {
    if !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "needs root");
        appc::testing::skipped("not root: stored-file recognition");
        return;
    }
    let env = Env::new();
    let aci = hello(&env);
    let path = aci.to_str().unwrap();
    env.sign(&aci, "signer");
    env.trust(NAME, "signer");
    let first = env.rkt(&["fetch", path]);
    assert!(first.status.success());
    let id = String::from_utf8_lossy(&first.stdout).trim().to_string();
    // With no staging possible (read-only), only a recognised file can be
    // fetched.
    let tmp = env.path("data/cas/tmp");
    let read_only = ReadOnlyBind::new(&tmp);
    for insecure in ["--insecure-options=none", "--insecure-options=image"] {
        let again = env.rkt(&[insecure, "fetch", path]);
        let err = String::from_utf8_lossy(&again.stderr);
        assert!(again.status.success(), "{insecure}: {err}");
        assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), id);
    }
    // Still checked: a bad signature is not let through by recognition.
    let other = env.image("other.aci", NAME, "2.0.0", json!({}), &[]);
    fs::copy(env.sign(&other, "signer"), format!("{path}.asc")).unwrap();
    let refused = env.rkt(&["fetch", path]);
    drop(read_only);
    assert_eq!(refused.status.code(), Some(254));
}

/// A directory bound read-only on itself, until dropped (even by a
/// failing assertion).
struct ReadOnlyBind(std::path::PathBuf);

impl ReadOnlyBind {
    fn new(dir: &std::path::Path) -> ReadOnlyBind {
        let bind = ReadOnlyBind(dir.to_path_buf());
        for opts in ["bind", "remount,bind,ro"] {
            let status = std::process::Command::new("mount")
                .args(["-o", opts])
                .arg(dir)
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success(), "mount -o {opts}");
        }
        bind
    }
}

impl Drop for ReadOnlyBind {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn images_given_by_id_come_from_the_store_only() {
    let env = Env::new();
    let aci = hello(&env);
    let id = env
        .fetch(&["--insecure-options=image", aci.to_str().unwrap()])
        .unwrap();
    let prefix = &id[..20];
    let again = env.rkt(&["fetch", prefix]);
    assert!(again.status.success());
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), id);
    // Never discovered: an unknown ID is a store miss, at once.
    let err = one_line_error(&env.rkt(&["fetch", "sha512-0123456789abcdef"]));
    assert!(err.contains("sha512-0123456789abcdef"), "{err}");
    let err = one_line_error(&env.rkt(&["fetch", "sha512-xyz"]));
    assert!(err.contains("hexadecimal"), "{err}");
}

#[test]
fn a_trusted_key_bound_with_sha1_verifies_but_sha1_signatures_do_not() {
    let env = Env::new();
    // A key as rkt's users made them years ago: SHA-1 self-signatures.
    let made = env
        .gpg()
        .args(["--cert-digest-algo", "SHA1", "--quick-gen-key"])
        .args(["Old Key <old@rkt-rs.test>", "rsa2048", "sign", "never"])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key = env.path("old.pub.asc");
    let exported = env
        .gpg()
        .args(["--armor", "--export", "--output"])
        .arg(&key)
        .arg("old@rkt-rs.test")
        .status()
        .unwrap();
    assert!(exported.success());
    env.trust_key(NAME, &key);
    let aci = hello(&env);
    let path = aci.to_str().unwrap();
    let sign = |digest: &str, out: &std::path::Path| {
        let signed = env
            .gpg()
            .args(["--armor", "--digest-algo", digest, "--detach-sign"])
            .args(["--local-user", "old@rkt-rs.test", "--output"])
            .arg(out)
            .arg(&aci)
            .status()
            .unwrap();
        assert!(signed.success());
    };
    // Its signature over the image uses SHA-256: accepted, and said once.
    sign("SHA256", &env.path("hello.aci.asc"));
    let out = env.rkt(&["fetch", path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert_eq!(
        err.matches("with SHA-1; accepted because you trusted it")
            .count(),
        1,
        "{err}"
    );
    // A signature over the image made with SHA-1 stays refused.
    let weak = env.path("weak.asc");
    sign("SHA1", &weak);
    let err = env
        .fetch(&["--no-store", "--signature", weak.to_str().unwrap(), path])
        .unwrap_err();
    assert!(err.contains("requiring collision resistance"), "{err}");
}
