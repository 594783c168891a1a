//! End-to-end tests of the `actool` binary as a user drives it, with
//! cross-checks against the reference actool (`/usr/bin/actool`, Debian's
//! appc-spec) in both directions.

use appc::testing::{RawEntry, raw_tar};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn actool(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_actool"))
        .args(args)
        .output()
        .expect("run actool")
}

/// The reference actool, or `None` (skipping, except in CI) without it.
fn reference() -> Option<&'static str> {
    let path = "/usr/bin/actool";
    if Path::new(path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{path} is missing: run scripts/setup.sh"
    );
    appc::testing::skipped(&format!("{path} not installed: reference cross-check"));
    None
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example layout (busybox) in `dir/hello`.
fn hello_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("hello");
    let script = repo().join("scripts/make-hello-layout.sh");
    let st = Command::new("bash")
        .arg(script)
        .arg(&layout)
        .status()
        .unwrap();
    assert!(st.success(), "make-hello-layout.sh failed");
    layout
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The process failed with `code`, printed exactly one line on stderr
/// containing `needle`, and did not panic.
fn assert_one_line_error(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(needle), "{err:?} does not mention {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn our_images_pass_the_reference_and_theirs_pass_ours() {
    let Some(reference) = reference() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let ours = tmp.path().join("ours.aci");
    let theirs = tmp.path().join("theirs.aci");

    assert!(actool(&["build", s(&layout), s(&ours)]).status.success());
    let v = Command::new(reference)
        .args(["validate", s(&ours)])
        .output()
        .unwrap();
    assert!(
        v.status.success(),
        "reference refuses our ACI: {}",
        String::from_utf8_lossy(&v.stderr)
    );

    let b = Command::new(reference)
        .args(["build", s(&layout), s(&theirs)])
        .output()
        .unwrap();
    assert!(b.status.success());
    let out = actool(&["--debug", "validate", s(&theirs)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Both read the same manifest out of both images.
    let ours_m = actool(&["cat-manifest", s(&ours)]).stdout;
    let theirs_m = Command::new(reference)
        .args(["cat-manifest", s(&theirs)])
        .output()
        .unwrap()
        .stdout;
    let a: serde_json::Value = serde_json::from_slice(&ours_m).unwrap();
    let b: serde_json::Value = serde_json::from_slice(&theirs_m).unwrap();
    assert_eq!(a, b);
}

#[test]
fn build_refuses_to_overwrite_without_the_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let out = tmp.path().join("x.aci");
    assert!(actool(&["build", s(&layout), s(&out)]).status.success());
    let before = fs::read(&out).unwrap();
    assert_one_line_error(&actool(&["build", s(&layout), s(&out)]), 1, "--overwrite");
    assert_eq!(
        fs::read(&out).unwrap(),
        before,
        "the existing file was changed"
    );
    assert!(
        actool(&["build", "--overwrite", s(&layout), s(&out)])
            .status
            .success()
    );
}

#[test]
fn builds_are_reproducible_with_source_date_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let build = |name: &str| {
        let out = tmp.path().join(name);
        let st = Command::new(env!("CARGO_BIN_EXE_actool"))
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["build", s(&layout), s(&out)])
            .status()
            .unwrap();
        assert!(st.success());
        fs::read(out).unwrap()
    };
    let first = build("a.aci");
    // Touch the tree: times after SOURCE_DATE_EPOCH must not show.
    fs::write(layout.join("rootfs/etc/motd"), "hi\n").unwrap();
    fs::remove_file(layout.join("rootfs/etc/motd")).unwrap();
    assert_eq!(first, build("b.aci"));
}

/// One entry of an ACI: path, type, link target, device numbers, PAX keys.
struct Listed {
    path: String,
    kind: tar::EntryType,
    link: String,
    dev: (u32, u32),
    pax: Vec<String>,
}

fn entries(aci: &Path) -> Vec<Listed> {
    let f = fs::File::open(aci).unwrap();
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(f));
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let pax = match e.pax_extensions().unwrap() {
                Some(p) => p
                    .filter_map(|r| r.ok().and_then(|r| r.key().ok().map(str::to_owned)))
                    .collect(),
                None => Vec::new(),
            };
            let h = e.header();
            let dev = (
                h.device_major().ok().flatten().unwrap_or(0),
                h.device_minor().ok().flatten().unwrap_or(0),
            );
            let kind = h.entry_type();
            let link = e
                .link_name()
                .unwrap()
                .map(|l| l.display().to_string())
                .unwrap_or_default();
            Listed {
                path: e.path().unwrap().display().to_string(),
                kind,
                link,
                dev,
                pax,
            }
        })
        .collect()
}

#[test]
fn build_keeps_hard_links_symlinks_devices_fifos_and_xattrs() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let root = layout.join("rootfs");
    fs::write(root.join("data"), "shared").unwrap();
    fs::hard_link(root.join("data"), root.join("data-link")).unwrap();
    let is_root = fs::metadata("/proc/self").unwrap().uid() == 0;
    if is_root {
        let st = Command::new("mknod")
            .arg(root.join("null"))
            .args(["c", "1", "3"])
            .status()
            .unwrap();
        assert!(st.success());
    }
    assert!(
        Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    let flags = rustix::fs::XattrFlags::empty();
    let xattr = rustix::fs::setxattr(root.join("data").as_path(), "user.test", b"v", flags).is_ok();

    let aci = tmp.path().join("x.aci");
    assert!(actool(&["build", s(&layout), s(&aci)]).status.success());
    let list = entries(&aci);
    let find = |p: &str| {
        list.iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    assert_eq!(list[0].path, "manifest", "the manifest comes first");
    assert_eq!(find("rootfs/data").kind, tar::EntryType::Regular);
    let link = find("rootfs/data-link");
    assert_eq!(
        (link.kind, link.link.as_str()),
        (tar::EntryType::Link, "rootfs/data")
    );
    assert_eq!(find("rootfs/bin/sh").link, "busybox");
    assert_eq!(find("rootfs/fifo").kind, tar::EntryType::Fifo);
    if is_root {
        let null = find("rootfs/null");
        assert_eq!((null.kind, null.dev), (tar::EntryType::Char, (1, 3)));
    }
    if xattr {
        assert!(
            find("rootfs/data")
                .pax
                .contains(&"SCHILY.xattr.user.test".to_string())
        );
    }
    if let Some(reference) = reference() {
        let v = Command::new(reference)
            .args(["validate", s(&aci)])
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
    }
}

#[test]
fn compressions_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    for c in ["none", "gzip", "bzip2", "xz"] {
        let aci = tmp.path().join(format!("x-{c}.aci"));
        let flag = format!("--compression={c}");
        assert!(
            actool(&["build", &flag, s(&layout), s(&aci)])
                .status
                .success()
        );
        let out = actool(&["--debug", "validate", s(&aci)]);
        assert!(
            out.status.success(),
            "{c}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn cat_manifest(aci: &Path) -> serde_json::Value {
    serde_json::from_slice(&actool(&["cat-manifest", s(aci)]).stdout).unwrap()
}

#[test]
fn patch_manifest_changes_only_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let aci = tmp.path().join("in.aci");
    let patched = tmp.path().join("out.aci");
    assert!(actool(&["build", s(&layout), s(&aci)]).status.success());
    let out = actool(&[
        "patch-manifest",
        "--exec=/bin/echo patched",
        "--user=1000",
        "--group=1000",
        "--capability=CAP_NET_BIND_SERVICE",
        "--isolators=resource/memory,limit=64Mi",
        "--mounts=data,path=/data",
        "--ports=http,protocol=tcp,port=80",
        s(&aci),
        s(&patched),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = cat_manifest(&patched);
    assert_eq!(
        m["app"]["exec"],
        serde_json::json!(["/bin/echo", "patched"])
    );
    assert_eq!(m["app"]["user"], "1000");
    assert_eq!(m["app"]["isolators"].as_array().unwrap().len(), 2);
    assert_eq!(m["app"]["mountPoints"][0]["path"], "/data");
    let names = |p: &Path| {
        entries(p)
            .into_iter()
            .map(|e| (e.path, e.kind, e.link))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&aci), names(&patched));
    if let Some(reference) = reference() {
        let st = Command::new(reference)
            .args(["validate", s(&patched)])
            .status()
            .unwrap();
        assert!(st.success());
    }
    assert_one_line_error(
        &actool(&["patch-manifest", "--user=1", s(&aci)]),
        1,
        "--replace",
    );
    let n = tmp.path().join("n.aci");
    let bad = actool(&["patch-manifest", "--name=Bad Name", s(&aci), s(&n)]);
    assert_one_line_error(&bad, 1, "ACIdentifier");
    assert!(!n.exists());
    let renamed = actool(&[
        "patch-manifest",
        "--replace",
        "--name=example.com/renamed",
        s(&aci),
    ]);
    assert!(renamed.status.success());
    assert_eq!(cat_manifest(&aci)["name"], "example.com/renamed");
}

const MANIFEST: &[u8] =
    br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/x"}"#;

/// An archive with `manifest` text and a rootfs directory.
fn with_manifest(manifest: &[u8]) -> Vec<u8> {
    raw_tar(&[
        ("manifest", tar::EntryType::Regular, manifest, ""),
        ("rootfs", tar::EntryType::Directory, b"", ""),
    ])
}

#[test]
fn bad_images_get_one_clear_line_and_exit_1() {
    use tar::EntryType::{Directory as D, Link as L, Regular as R, Symlink as S};
    let tmp = tempfile::tempdir().unwrap();
    let base: [RawEntry<'static>; 2] = [("manifest", R, MANIFEST, ""), ("rootfs", D, b"", "")];
    let with = |extra: &[RawEntry<'static>]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        raw_tar(&all)
    };
    let layout = hello_layout(tmp.path());
    let good = tmp.path().join("good.aci");
    assert!(actool(&["build", s(&layout), s(&good)]).status.success());
    let good_gz = fs::read(&good).unwrap();
    let mut corrupt_gz = good_gz.clone();
    let mid = corrupt_gz.len() / 2;
    for b in &mut corrupt_gz[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let good_tar = with(&[("rootfs/a", R, b"hello", "")]);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated-gzip.aci", good_gz[..good_gz.len() / 2].to_vec(), "error reading archive"),
        ("corrupt-gzip.aci", corrupt_gz, "error reading archive"),
        ("short-tar.aci", good_tar[..good_tar.len() - 1500].to_vec(), "error reading archive"),
        ("empty.aci", Vec::new(), "unable to detect filetype"),
        ("escape-dotdot.aci", with(&[("rootfs/../../etc/passwd", R, b"x", "")]), "escapes the image"),
        ("absolute.aci", with(&[("/rootfs/etc/passwd", R, b"x", "")]), "absolute path"),
        ("hardlink-out.aci", with(&[("rootfs/l", L, b"", "../../etc/shadow")]), "hard link"),
        ("hardlink-manifest.aci", with(&[("rootfs/l", L, b"", "manifest")]), "hard link"),
        ("no-rootfs.aci", raw_tar(&[("manifest", R, MANIFEST, "")]), "no rootfs"),
        ("no-manifest.aci", raw_tar(&[("rootfs", D, b"", "")]), "no image manifest"),
        ("duplicate.aci", with(&[("rootfs/a", R, b"1", ""), ("rootfs/./a", R, b"2", "")]), "duplicate"),
        ("extra.aci", with(&[("etc", D, b"", "")]), "unrecognized file path"),
        (
            "rootfs-symlink.aci",
            raw_tar(&[("manifest", R, MANIFEST, ""), ("rootfs", S, b"", "/")]),
            "rootfs is not a directory",
        ),
        ("bad-json.aci", with_manifest(b"{\"acKind\":"), "invalid JSON"),
        ("bad-kind.aci", with_manifest(br#"{"acKind":"PodManifest","acVersion":"0.8.11","name":"a"}"#), "ACKind"),
        (
            "bad-name.aci",
            with_manifest(br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"Bad"}"#),
            "ACIdentifier",
        ),
        ("bad-semver.aci", with_manifest(br#"{"acKind":"ImageManifest","acVersion":"v1","name":"a"}"#), "SemVer"),
        (
            "bad-label.aci",
            with_manifest(
                br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","labels":[{"name":"os","value":"windows"}]}"#,
            ),
            "bad os",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = tmp.path().join(name);
        fs::write(&path, bytes).unwrap();
        let out = actool(&["validate", s(&path)]);
        assert_one_line_error(&out, 1, needle);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: error does not name the file");
        // Reading only the manifest must never crash either.
        let cat = actool(&["cat-manifest", s(&path)]);
        assert!(
            !String::from_utf8_lossy(&cat.stderr).contains("panicked"),
            "{name}"
        );
    }
}

#[test]
fn bad_layouts_and_manifests_are_refused_without_leftovers() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let layout = hello_layout(tmp.path());
    let target = out_dir.join("x.aci");

    fs::write(layout.join("manifest"), "{not json").unwrap();
    assert_one_line_error(
        &actool(&["build", s(&layout), s(&target)]),
        1,
        "invalid JSON",
    );
    fs::write(layout.join("manifest"), MANIFEST).unwrap();
    fs::write(layout.join("stray"), "x").unwrap();
    assert_one_line_error(
        &actool(&["build", s(&layout), s(&target)]),
        1,
        "unrecognized file path",
    );
    fs::remove_file(layout.join("stray")).unwrap();
    fs::remove_dir_all(layout.join("rootfs")).unwrap();
    assert_one_line_error(&actool(&["build", s(&layout), s(&target)]), 1, "no rootfs");
    assert_eq!(
        fs::read_dir(&out_dir).unwrap().count(),
        0,
        "a failed build left files behind"
    );

    let m = tmp.path().join("pod.json");
    let dup = r#"{"acKind":"PodManifest","acVersion":"0.8.11","apps":[{"name":"a"},{"name":"a"}]}"#;
    fs::write(&m, dup).unwrap();
    assert_one_line_error(&actool(&["validate", s(&m)]), 1, "duplicate apps");
    let no_value = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","app":{"exec":["/x"],"user":"0","group":"0","isolators":[{"name":"resource/cpu"}]}}"#;
    fs::write(&m, no_value).unwrap();
    assert_one_line_error(&actool(&["validate", s(&m)]), 1, "resource/cpu");
    assert_eq!(
        actool(&["validate"]).status.code(),
        Some(2),
        "a usage error exits 2"
    );
    assert_one_line_error(&actool(&["validate", "/nonexistent"]), 1, "/nonexistent");
}

#[test]
fn cat_manifest_pretty_prints_like_the_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = hello_layout(tmp.path());
    let aci = tmp.path().join("x.aci");
    assert!(actool(&["build", s(&layout), s(&aci)]).status.success());
    let out =
        String::from_utf8(actool(&["cat-manifest", "--pretty-print", s(&aci)]).stdout).unwrap();
    assert!(
        out.starts_with("{\n    \"acKind\": \"ImageManifest\""),
        "{out}"
    );
    if let Some(reference) = reference() {
        let theirs = Command::new(reference)
            .args(["cat-manifest", "--pretty-print", s(&aci)])
            .output()
            .unwrap();
        assert_eq!(
            out.trim_end(),
            String::from_utf8_lossy(&theirs.stdout).trim_end()
        );
    }
}

#[test]
fn discover_prints_endpoints_and_keys() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let page = "<meta name=\"ac-discovery\" content=\"127.0.0.1/app https://127.0.0.1/{name}-{version}.{ext}\">\
                    <meta name=\"ac-discovery-pubkeys\" content=\"127.0.0.1/app https://127.0.0.1/keys.asc\">";
        for stream in listener.incoming().flatten() {
            let mut buf = [0u8; 2048];
            let _ = (&stream).read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                page.len()
            );
            let _ = (&stream).write_all(format!("{head}{page}").as_bytes());
        }
    });
    let out = actool(&[
        "discover",
        "--insecure",
        "--port",
        &port,
        "127.0.0.1/app:1.0.0",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = "ACI: https://127.0.0.1/127.0.0.1/app-1.0.0.aci, ASC: https://127.0.0.1/127.0.0.1/app-1.0.0.aci.asc";
    assert!(text.contains(expected), "{text}");
    assert!(text.contains("Keys: https://127.0.0.1/keys.asc"), "{text}");
    let json = actool(&[
        "discover",
        "--json",
        "--insecure",
        "--port",
        &port,
        "127.0.0.1/app",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        v["ACIEndpoints"][0]["ACI"],
        "https://127.0.0.1/127.0.0.1/app-latest.aci"
    );
    // Without --insecure, plain HTTP is not used: discovery fails cleanly.
    assert_one_line_error(
        &actool(&["discover", "--port", &port, "127.0.0.1/app"]),
        1,
        "127.0.0.1/app",
    );
    assert_one_line_error(&actool(&["discover", "Bad Name"]), 1, "invalid app name");
}
