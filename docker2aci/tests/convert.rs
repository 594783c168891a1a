//! docker2aci end to end: images built by hand (every kind of entry,
//! whiteout and hard link), converted by the binary, unpacked with GNU
//! tar and compared file by file with what `umoci unpack` makes of the
//! same image; the same image as a docker save archive (current and
//! classic) and with every layer compression; and bad input.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::*;

/// The layers: a `/` entry first, files, owners, setuid, symlinks, a long
/// UTF-8 name, hard links (in one layer, across layers, and to a file
/// later replaced or whited out), file and directory whiteouts, an opaque
/// directory, a file replaced by a directory and back.
fn layers() -> Vec<Vec<u8>> {
    let long = format!("srv/{}-ünïcødé.txt", "long".repeat(40));
    let base = LayerBuilder::new()
        .raw("/", tar::EntryType::Directory, b"")
        .dir("bin")
        .file_as("bin/tool", b"#!/bin/sh\necho tool\n", 0o755, (0, 0))
        .hardlink("bin/tool-link", "bin/tool")
        .file_as("bin/su", b"setuid", 0o4755, (0, 0))
        .dir("etc")
        .file("etc/keep", b"keep")
        .file("etc/gone", b"gone")
        .dir("etc/dir-gone")
        .file("etc/dir-gone/a", b"a")
        .dir("opaque")
        .file("opaque/old", b"old")
        .dir_as("home/user", 0o700, (1000, 1000))
        .file_as("home/user/notes", b"mine", 0o600, (1000, 1000))
        .symlink("etc/link", "keep")
        .file("was-file", b"f")
        .dir("was-dir")
        .file("was-dir/x", b"x")
        .dir("srv")
        .file(&long, b"long name")
        .file("data/original", b"original")
        .build();
    let second = LayerBuilder::new()
        .raw("./", tar::EntryType::Directory, b"")
        .whiteout("etc/gone")
        .whiteout("etc/dir-gone")
        .dir("opaque")
        .opaque("opaque")
        .file("opaque/new", b"new")
        .dir("was-file")
        .file("was-file/inside", b"inside")
        .file("was-dir", b"now a file")
        .file("data/original", b"original")
        .hardlink("data/link-a", "data/original")
        .hardlink("data/link-b", "data/original")
        .build();
    let third = LayerBuilder::new()
        .file("data/original", b"replaced")
        .whiteout("bin/tool")
        .file("etc/keep", b"kept, changed")
        .build();
    vec![base, second, third]
}

fn config() -> Value {
    json!({"Entrypoint": ["/bin/tool"], "Cmd": ["--flag"], "Env": ["PATH=/bin", "MODE=test"],
           "WorkingDir": "/srv", "User": "1000:1000",
           "ExposedPorts": {"8080/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}},
           "Labels": {"maintainer": "tests"}})
}

fn converted_tree(aci: &Path, dir: &Path) -> std::collections::BTreeMap<String, Entry> {
    untar(aci, dir);
    let manifest = std::fs::read_to_string(dir.join("manifest")).unwrap();
    let m: Value = serde_json::from_str(&manifest).unwrap();
    assert_eq!(m["acKind"], "ImageManifest");
    tree(&dir.join("rootfs"))
}

fn convert(args: &[&str]) -> std::path::PathBuf {
    let out = docker2aci(args);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = text.lines().last().unwrap().trim().to_string();
    std::path::PathBuf::from(path)
}

#[test]
fn squashed_tree_matches_umoci_and_the_aci_is_valid() {
    if !is_root() || which("umoci").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "umoci or root missing: run scripts/setup.sh as root"
        );
        appc::testing::skipped("umoci or root missing: docker2aci's comparison with umoci");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("webapp");
    let image = Image::new(layers(), config());
    // umoci reads gzip and plain layers.
    oci_layout(&layout, &image, &[Zip::Gzip, Zip::None, Zip::Gzip], "2.0");
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let aci = convert(&[layout.to_str().unwrap(), "-o", out_dir.to_str().unwrap()]);
    assert_eq!(aci, out_dir.join("library-webapp-2.0.aci"));
    let ours = converted_tree(&aci, &tmp.path().join("ours"));

    let theirs = umoci_tree(
        &format!("{}:2.0", layout.display()),
        &tmp.path().join("bundle"),
    );
    let diff = differences(&ours, &theirs);
    assert!(diff.is_empty(), "{diff:#?}");
    assert!(ours.len() >= 20, "{ours:#?}");
    // What the layers say, checked directly too.
    assert!(!ours.contains_key("etc/gone") && !ours.contains_key("etc/dir-gone"));
    assert!(ours.contains_key("opaque/new") && !ours.contains_key("opaque/old"));
    assert_eq!(ours["bin/su"].mode, 0o4755);
    assert_eq!(ours["home/user/notes"].owner, (1000, 1000));
    assert_eq!(ours["data/link-a"].same_inode, ["data/link-b"]);
    assert_ne!(ours["data/link-a"].content, ours["data/original"].content);
    assert_eq!(ours["bin/tool-link"].kind, "file");
    assert_eq!(ours["was-dir"].kind, "file");
    assert_eq!(ours["was-file"].kind, "dir");

    // Valid for our appc library and for the reference actool.
    let f = std::fs::File::open(&aci).unwrap();
    let (_, decoded) = appc::aci::filetype::decompress(f).unwrap();
    appc::aci::validate_archive(decoded, false).unwrap();
    let reference = Path::new("/usr/bin/actool");
    assert!(
        reference.exists() || std::env::var_os("CI").is_none(),
        "appc-spec missing"
    );
    if reference.exists() {
        let o = std::process::Command::new(reference)
            .arg("validate")
            .arg(&aci)
            .output()
            .unwrap();
        assert!(o.status.success(), "reference actool: {}", stderr(&o));
    }
    // The manifest, mapped as the reference maps it.
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("ours/manifest")).unwrap())
            .unwrap();
    assert_eq!(m["name"], "registry-1.docker.io/library/webapp");
    assert_eq!(m["app"]["exec"], json!(["/bin/tool", "--flag"]));
    assert_eq!(m["app"]["user"], "1000");
    assert_eq!(m["app"]["workingDirectory"], "/srv");
    assert_eq!(m["app"]["ports"][0]["name"], "53-udp");
    assert_eq!(m["app"]["mountPoints"][0]["name"], "volume-data");
    assert_eq!(m["app"]["userLabels"]["maintainer"], "tests");
    let version = m["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "version");
    assert_eq!(version.unwrap()["value"], "2.0");
}

fn which(cmd: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join(cmd))
            .find(|p| p.is_file())
    })
}

#[test]
fn docker_save_archives_and_compressions_give_the_same_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let image = Image::new(layers(), config());
    let reference = {
        let layout = tmp.path().join("ref");
        oci_layout(&layout, &image, &[Zip::None], "1");
        let aci = convert(&[
            layout.to_str().unwrap(),
            "-o",
            tmp.path().join("ref.aci").to_str().unwrap(),
            "--compression",
            "none",
        ]);
        converted_tree(&aci, &tmp.path().join("ref-tree"))
    };
    let check = |what: &str, args: &[&str]| {
        let aci = convert(args);
        let got = converted_tree(&aci, &tmp.path().join(format!("{what}-tree")));
        assert_eq!(got, reference, "{what}");
        aci
    };
    for (name, zip) in [
        ("zstd", Zip::Zstd),
        ("bzip2", Zip::Bzip2),
        ("xz", Zip::Xz),
        ("gzip", Zip::Gzip),
    ] {
        let layout = tmp.path().join(name);
        oci_layout(&layout, &image, &[zip], "1");
        let out = tmp.path().join(format!("{name}.aci"));
        check(
            name,
            &[layout.to_str().unwrap(), "-o", out.to_str().unwrap()],
        );
    }
    // An OCI archive: the layout as a tar file.
    let oci_archive = tmp.path().join("oci-archive.tar");
    let tarred = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&oci_archive)
        .arg("-C")
        .arg(tmp.path().join("gzip"))
        .arg(".")
        .output()
        .unwrap();
    assert!(tarred.status.success());
    let out = tmp.path().join("oci-archive.aci");
    check(
        "oci-archive",
        &[oci_archive.to_str().unwrap(), "-o", out.to_str().unwrap()],
    );
    // docker save, current layout, two images: one must be chosen.
    let other = Image::new(
        vec![LayerBuilder::new().file("only", b"x").build()],
        json!({"Cmd": ["/only"]}),
    );
    let archive = tmp.path().join("saved.tar");
    docker_save(
        &archive,
        &[
            (&image, &["example.com/web:1.0", "example.com/web:latest"]),
            (&other, &["busybox:latest"]),
        ],
    );
    let refused = docker2aci(&[
        archive.to_str().unwrap(),
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let e = stderr(&refused);
    assert!(
        e.contains("several images; choose one with --image: example.com/web:1.0, busybox:latest"),
        "{e}"
    );
    let aci = check(
        "docker-save",
        &[
            archive.to_str().unwrap(),
            "--image",
            "example.com/web:1.0",
            "-o",
            tmp.path().to_str().unwrap(),
        ],
    );
    assert_eq!(aci, tmp.path().join("web-1.0.aci"));
    let bb = convert(&[
        archive.to_str().unwrap(),
        "--image",
        "busybox",
        "-o",
        tmp.path().to_str().unwrap(),
    ]);
    assert_eq!(bb, tmp.path().join("library-busybox-latest.aci"));
    // Classic docker save.
    let classic = tmp.path().join("classic.tar");
    docker_save_classic(&classic, &image, "example.com/old", "v1");
    let aci = check(
        "classic",
        &[
            classic.to_str().unwrap(),
            "-o",
            tmp.path().to_str().unwrap(),
        ],
    );
    assert_eq!(aci, tmp.path().join("old-v1.aci"));
}

/// Runs docker2aci on `input`, expecting a one-line error containing
/// `expect`, and no ACI (nor temporary file) left in the output directory.
/// Runs docker2aci on `input`, which it must refuse with one line holding
/// `expect`, writing nothing; returns that line.
fn refused(input: &Path, extra: &[&str], expect: &str) -> String {
    let out_dir = input.with_extension("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut args = vec![input.to_str().unwrap(), "-o", out_dir.to_str().unwrap()];
    args.extend(extra);
    let out = docker2aci(&args);
    let e = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{input:?}: {e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains(expect), "{input:?}: {e}");
    assert!(!e.contains("panicked"), "{e}");
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    e
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let good = Image::new(vec![LayerBuilder::new().file("a", b"a").build()], json!({}));

    // A layer blob missing, one corrupt, one not matching its digest.
    let layout = tmp.path().join("missing");
    oci_layout(&layout, &good, &[Zip::Gzip], "1");
    let blobs: Vec<_> = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let layer_blob = blobs
        .iter()
        .find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b]))
        .unwrap()
        .clone();
    std::fs::remove_file(&layer_blob).unwrap();
    refused(&layout, &[], "no blobs/sha256/");
    // The blob a symlink to a host file: refused unread, nothing of the
    // file quoted.
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, "root:$6$very-secret-hash:19000:0:99999:7:::\n").unwrap();
    std::os::unix::fs::symlink(&secret, &layer_blob).unwrap();
    let err = refused(&layout, &[], "is a symbolic link");
    assert!(!err.contains("very-secret"), "{err}");

    let layout = tmp.path().join("mismatch");
    oci_layout(&layout, &good, &[Zip::None], "1");
    for p in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let p = p.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        if data.len() > 512 && data[257..262] == *b"ustar" {
            let mut changed = data.clone();
            changed[512] ^= 1;
            std::fs::write(&p, changed).unwrap();
        }
    }
    refused(&layout, &[], "digest mismatch");

    let layout = tmp.path().join("corrupt");
    oci_layout(&layout, &good, &[Zip::Gzip], "1");
    for p in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let p = p.unwrap().path();
        let data = std::fs::read(&p).unwrap();
        if data.starts_with(&[0x1f, 0x8b]) {
            // Same digest name, garbage inside: the digest check fails first.
            let mut changed = data.clone();
            let n = changed.len();
            changed[n / 2] ^= 0xff;
            std::fs::write(&p, changed).unwrap();
        }
    }
    refused(&layout, &[], "layer blobs/sha256/");

    // Entries escaping the root; a hard link to nothing.
    for (name, layer, expect) in [
        (
            "escape",
            LayerBuilder::new()
                .raw("../../etc/evil", tar::EntryType::Regular, b"x")
                .build(),
            "escapes the root",
        ),
        (
            "dangling",
            LayerBuilder::new().hardlink("a", "nothing").build(),
            "not a file of the image",
        ),
        // A hard link whose target drives the terminal (retitles it,
        // clears it) and breaks the line: printed escaped, on one line.
        (
            "controls",
            LayerBuilder::new()
                .hardlink("a", "\x1b]2;owned\x07\x1b[2J\u{9b}\nnext")
                .build(),
            "not a file of the image",
        ),
    ] {
        let layout = tmp.path().join(name);
        oci_layout(
            &layout,
            &Image::new(vec![layer], json!({})),
            &[Zip::None],
            "1",
        );
        let err = refused(&layout, &[], expect);
        assert!(!err.contains(['\x1b', '\x07', '\u{9b}']), "{err:?}");
    }

    // Classic docker save: a layer its own parent (fails at once), a
    // layer ID naming a path.
    let id = "a".repeat(64);
    let looped = tmp.path().join("loop.tar");
    archive(
        &looped,
        &[
            (
                "repositories".into(),
                serde_json::to_vec(&json!({"x": {"latest": id}})).unwrap(),
            ),
            (
                format!("{id}/json"),
                serde_json::to_vec(&json!({"id": id, "parent": id})).unwrap(),
            ),
            (format!("{id}/layer.tar"), Vec::new()),
        ],
        &[],
    );
    let started = std::time::Instant::now();
    refused(&looped, &[], "parents loop");
    assert!(started.elapsed().as_secs() < 10);
    let bad_id = tmp.path().join("badid.tar");
    archive(
        &bad_id,
        &[(
            "repositories".into(),
            serde_json::to_vec(&json!({"x": {"latest": "../../etc/x"}})).unwrap(),
        )],
        &[],
    );
    refused(&bad_id, &[], "invalid layer ID");

    // An index without this machine's platform lists what it has.
    let layout = tmp.path().join("platforms");
    let mut desc = oci_manifest(&layout, &good, &[Zip::None]);
    desc["platform"] = json!({"os": "linux", "architecture": "riscv64"});
    let list = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]});
    let bytes = serde_json::to_vec(&list).unwrap();
    let hex = sha256(&bytes);
    std::fs::write(layout.join("blobs/sha256").join(&hex), &bytes).unwrap();
    write_index(
        &layout,
        vec![
            json!({"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"), "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "1"}}),
        ],
    );
    refused(
        &layout,
        &[],
        "(it has linux/riscv64); choose with --os/--arch",
    );
    let out = docker2aci(&[
        layout.to_str().unwrap(),
        "--arch",
        "riscv64",
        "-o",
        tmp.path().join("riscv.aci").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Not an image at all; not an image name.
    let junk = tmp.path().join("junk.tar");
    std::fs::write(&junk, b"not a tar file at all").unwrap();
    refused(&junk, &[], "junk.tar");
    let out = docker2aci(&["docker://Not/An:Image Name"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid image name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn nosquash_gives_one_aci_per_layer_with_dependencies() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("webapp");
    oci_layout(
        &layout,
        &Image::new(layers(), config()),
        &[Zip::Gzip],
        "2.0",
    );
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let o = docker2aci(&[
        "--nosquash",
        layout.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let listed: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    let base = out_dir.join("library-webapp-2.0");
    assert_eq!(
        listed,
        [
            format!("{}-layer0.aci", base.display()),
            format!("{}-layer1.aci", base.display()),
            format!("{}.aci", base.display())
        ]
    );
    let manifest = |i: usize| -> Value {
        let d = tmp.path().join(format!("m{i}"));
        untar(Path::new(&listed[i]), &d);
        serde_json::from_slice(&std::fs::read(d.join("manifest")).unwrap()).unwrap()
    };
    let (m0, m1, top) = (manifest(0), manifest(1), manifest(2));
    assert!(
        m0["name"]
            .as_str()
            .unwrap()
            .starts_with("registry-1.docker.io/library/webapp-sha256-")
    );
    assert!(m0.get("app").is_none());
    assert_eq!(top["name"], "registry-1.docker.io/library/webapp");
    assert_eq!(top["app"]["exec"], json!(["/bin/tool", "--flag"]));
    let deps: Vec<&Value> = top["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["imageName"])
        .collect();
    assert_eq!(deps, [&m0["name"], &m1["name"]]);
    // What a later layer removed is not in its whitelist.
    let white = |m: &Value| -> Vec<String> {
        m["pathWhitelist"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect()
    };
    assert!(white(&m0).contains(&"/etc/gone".to_string()));
    assert!(!white(&m1).contains(&"/etc/gone".to_string()));
    assert!(!white(&top).contains(&"/bin/tool".to_string()));
    assert!(white(&top).contains(&"/bin/tool-link".to_string()));
    // A layer holds its own files, whiteouts left out, its links kept.
    // (A link to another layer's file: rkt's docker_images test.)
    let t1 = tree(&tmp.path().join("m1/rootfs"));
    assert!(t1.keys().all(|k| !k.contains(".wh.")), "{:?}", t1.keys());
    assert!(t1.contains_key("opaque/new") && !t1.contains_key("etc/keep"));
    assert_eq!(t1["data/link-a"].content, sha256(b"original"));
    assert_eq!(
        t1["data/link-a"].same_inode,
        ["data/link-b", "data/original"]
    );
}
