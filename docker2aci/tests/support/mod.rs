//! Building Docker/OCI images by hand for the tests (layers entry by
//! entry, OCI layouts, docker save archives current and classic), and
//! comparing unpacked trees file by file.

#![allow(dead_code)]

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};

pub fn sha256(data: &[u8]) -> String {
    let h = Sha256::digest(data);
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// One layer, entry by entry, names taken as given.
pub struct LayerBuilder(tar::Builder<Vec<u8>>);

impl Default for LayerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerBuilder {
    pub fn new() -> Self {
        LayerBuilder(tar::Builder::new(Vec::new()))
    }

    fn header(kind: tar::EntryType, mode: u32, owner: (u64, u64)) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(owner.0);
        h.set_gid(owner.1);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h
    }

    /// An entry whose name is written raw (`/`, `./`, `../x`).
    pub fn raw(mut self, name: &str, kind: tar::EntryType, data: &[u8]) -> Self {
        let mut h = Self::header(kind, 0o755, (0, 0));
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        h.set_size(data.len() as u64);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    pub fn dir(self, path: &str) -> Self {
        self.dir_as(path, 0o755, (0, 0))
    }

    pub fn dir_as(mut self, path: &str, mode: u32, owner: (u64, u64)) -> Self {
        let mut h = Self::header(tar::EntryType::Directory, mode, owner);
        self.0.append_data(&mut h, path, std::io::empty()).unwrap();
        self
    }

    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_as(path, data, 0o644, (0, 0))
    }

    pub fn file_as(mut self, path: &str, data: &[u8], mode: u32, owner: (u64, u64)) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, mode, owner);
        h.set_size(data.len() as u64);
        self.0.append_data(&mut h, path, data).unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, (0, 0));
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn hardlink(mut self, path: &str, target: &str) -> Self {
        let mut h = Self::header(tar::EntryType::Link, 0o644, (0, 0));
        self.0.append_link(&mut h, path, target).unwrap();
        self
    }

    pub fn whiteout(self, path: &str) -> Self {
        let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
        let name = if dir.is_empty() {
            format!(".wh.{base}")
        } else {
            format!("{dir}/.wh.{base}")
        };
        self.file(&name, b"")
    }

    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    pub fn build(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Zip {
    None,
    Gzip,
    Zstd,
    Bzip2,
    Xz,
}

pub fn compress(tar: &[u8], zip: Zip) -> (Vec<u8>, &'static str) {
    match zip {
        Zip::None => (tar.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
        Zip::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(tar).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Zip::Zstd => (
            zstd::encode_all(tar, 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
        Zip::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(tar).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+bzip2",
            )
        }
        Zip::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(tar).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+xz",
            )
        }
    }
}

/// An image's pieces: its layers (uncompressed tars) and its config.
pub struct Image {
    pub layers: Vec<Vec<u8>>,
    pub config: Value,
}

impl Image {
    pub fn new(layers: Vec<Vec<u8>>, inner: Value) -> Self {
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| format!("sha256:{}", sha256(l)))
            .collect();
        let history: Vec<Value> = layers
            .iter()
            .enumerate()
            .map(|(i, _)| json!({"created": "2026-11-30T10:00:00Z", "created_by": format!("layer {i}")}))
            .collect();
        Image {
            config: json!({"architecture": host_arch(), "os": "linux",
                "created": "2026-11-30T10:00:00Z", "author": "tests",
                "config": inner, "rootfs": {"type": "layers", "diff_ids": diff_ids},
                "history": history}),
            layers,
        }
    }
}

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    }
}

fn blob(dir: &Path, data: &[u8]) -> (String, usize) {
    let hex = sha256(data);
    let p = dir.join("blobs/sha256");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join(&hex), data).unwrap();
    (format!("sha256:{hex}"), data.len())
}

/// Writes the image's manifest (and config and layers) as blobs of the
/// layout in `dir`; returns the manifest's descriptor.
pub fn oci_manifest(dir: &Path, image: &Image, zips: &[Zip]) -> Value {
    let mut layers = Vec::new();
    for (i, l) in image.layers.iter().enumerate() {
        let (data, media) = compress(l, zips[i % zips.len()]);
        let (digest, size) = blob(dir, &data);
        layers.push(json!({"mediaType": media, "digest": digest, "size": size}));
    }
    let config = serde_json::to_vec(&image.config).unwrap();
    let (cd, cs) = blob(dir, &config);
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": layers});
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let (md, ms) = blob(dir, &bytes);
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms})
}

/// An OCI layout in `dir` with `image` tagged `tag`.
pub fn oci_layout(dir: &Path, image: &Image, zips: &[Zip], tag: &str) {
    let mut desc = oci_manifest(dir, image, zips);
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    write_index(dir, vec![desc]);
}

pub fn write_index(dir: &Path, manifests: Vec<Value>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": manifests});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
}

/// A tar archive of `files` (name → data) and `links` (name → target).
pub fn archive(path: &Path, files: &[(String, Vec<u8>)], links: &[(String, String)]) {
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        b.append_link(&mut h, name, target).unwrap();
    }
    b.into_inner().unwrap();
}

/// `docker save` as current docker writes it: manifest.json, the config
/// by digest, layers as blobs and `<id>/layer.tar` symlinks to them.
pub fn docker_save(path: &Path, images: &[(&Image, &[&str])]) {
    let mut files = Vec::new();
    let mut links = Vec::new();
    let mut entries = Vec::new();
    for (image, tags) in images {
        let config = serde_json::to_vec(&image.config).unwrap();
        let config_name = format!("blobs/sha256/{}", sha256(&config));
        files.push((config_name.clone(), config));
        let mut layer_names = Vec::new();
        for l in &image.layers {
            let hex = sha256(l);
            files.push((format!("blobs/sha256/{hex}"), l.clone()));
            links.push((format!("{hex}/layer.tar"), format!("../blobs/sha256/{hex}")));
            layer_names.push(format!("{hex}/layer.tar"));
        }
        entries.push(json!({"Config": config_name, "RepoTags": tags, "Layers": layer_names}));
    }
    files.push((
        "manifest.json".into(),
        serde_json::to_vec(&Value::from(entries)).unwrap(),
    ));
    archive(path, &files, &links);
}

/// Classic `docker save`: `repositories`, one directory per layer with
/// its `json` (the parent chain) and `layer.tar`.
pub fn docker_save_classic(path: &Path, image: &Image, repo: &str, tag: &str) {
    let mut files = Vec::new();
    let mut parent: Option<String> = None;
    for (i, l) in image.layers.iter().enumerate() {
        let id = sha256(format!("layer-{i}-{}", sha256(l)).as_bytes());
        let mut json = json!({"id": id});
        if let Some(p) = &parent {
            json["parent"] = json!(p);
        }
        if i + 1 == image.layers.len() {
            for k in ["config", "architecture", "os", "created", "author"] {
                json[k] = image.config[k].clone();
            }
        }
        files.push((format!("{id}/json"), serde_json::to_vec(&json).unwrap()));
        files.push((format!("{id}/layer.tar"), l.clone()));
        files.push((format!("{id}/VERSION"), b"1.0".to_vec()));
        parent = Some(id);
    }
    let repos = json!({repo: {tag: parent.unwrap()}});
    files.push(("repositories".into(), serde_json::to_vec(&repos).unwrap()));
    archive(path, &files, &[]);
}

/// A file of a tree as compared: kind, mode, owner, content digest or
/// link target, and the other names of its inode.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: &'static str,
    pub mode: u32,
    pub owner: (u32, u32),
    pub content: String,
    pub same_inode: Vec<String>,
}

/// Every entry under `root`, by path.
pub fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes: HashMap<(u64, u64), Vec<String>> = HashMap::new();
    walk(root, root, &mut out, &mut inodes);
    for names in inodes.values() {
        for n in names {
            let mut others: Vec<String> = names.iter().filter(|o| *o != n).cloned().collect();
            others.sort();
            out.get_mut(n).unwrap().same_inode = others;
        }
    }
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Entry>,
    inodes: &mut HashMap<(u64, u64), Vec<String>>,
) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let (kind, content) = if ft.is_dir() {
            ("dir", String::new())
        } else if ft.is_symlink() {
            (
                "symlink",
                std::fs::read_link(&p).unwrap().display().to_string(),
            )
        } else if ft.is_file() {
            if m.nlink() > 1 {
                inodes
                    .entry((m.dev(), m.ino()))
                    .or_default()
                    .push(rel.clone());
            }
            ("file", sha256(&std::fs::read(&p).unwrap()))
        } else {
            ("special", format!("{:x}", m.rdev()))
        };
        out.insert(
            rel,
            Entry {
                kind,
                mode: m.mode() & 0o7777,
                owner: (m.uid(), m.gid()),
                content,
                same_inode: Vec::new(),
            },
        );
        if ft.is_dir() {
            walk(root, &p, out, inodes);
        }
    }
}

pub fn is_root() -> bool {
    nix_uid() == 0
}

fn nix_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
}

/// Runs docker2aci with `args`.
pub fn docker2aci(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docker2aci"))
        .args(args)
        .output()
        .unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Unpacks the ACI at `aci` into `dir` with GNU tar (owners kept).
pub fn untar(aci: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = Command::new("tar")
        .args(["-xf"])
        .arg(aci)
        .arg("-C")
        .arg(dir)
        .args(["--numeric-owner", "--same-permissions"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The rootfs `umoci unpack` makes of `image` (`LAYOUT:TAG`) in `bundle`.
pub fn umoci_tree(image: &str, bundle: &Path) -> BTreeMap<String, Entry> {
    let unpack = Command::new("umoci")
        .args(["unpack", "--image", image])
        .arg(bundle)
        .output()
        .unwrap();
    assert!(unpack.status.success(), "{}", stderr(&unpack));
    tree(&bundle.join("rootfs"))
}

/// The paths where two trees differ, each with both sides.
pub fn differences(
    ours: &BTreeMap<String, Entry>,
    theirs: &BTreeMap<String, Entry>,
) -> Vec<String> {
    ours.keys()
        .chain(theirs.keys())
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| format!("{k}: ours {:?} umoci {:?}", ours.get(k), theirs.get(k)))
        .collect()
}
