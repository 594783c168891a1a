//! Finding the image to convert in a source: a `docker save` archive
//! (its `manifest.json`, or the classic `repositories` with one directory
//! per layer and a `parent` chain), or an OCI layout (`index.json`,
//! `blobs/`), choosing among several images by name and among platforms
//! by os/arch.

use crate::digest;
use crate::error::{Result, bad};
use crate::reference::{Reference, check_digest};
use crate::source::{Source, normalize};
use serde_json::{Value, json};
use std::collections::HashSet;

/// One image: its configuration and its layers, bottom first.
#[derive(Debug)]
pub struct Image {
    /// The name it was found under, when it has one.
    pub reference: Option<Reference>,
    /// The image configuration (`config`, `os`, `architecture`, ...).
    pub config: Value,
    /// `sha256:<hex>` of the configuration, or the classic top layer ID.
    pub image_id: Option<String>,
    /// The digest of the image manifest, where there is one.
    pub manifest_hash: Option<String>,
    pub layers: Vec<Layer>,
}

/// A layer: the member holding it and what its bytes must hash to.
#[derive(Debug, Clone)]
pub struct Layer {
    pub member: String,
    /// The digest of the member's bytes as stored (compressed or not).
    pub digest: Option<String>,
    /// The digest of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: Option<String>,
}

/// The os/arch to pick from an index or a manifest list.
#[derive(Debug, Clone)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    /// This machine's, in the OCI's (Go's) names.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" => "ppc64",
            other => other,
        };
        Platform {
            os: "linux".into(),
            arch: arch.into(),
            variant: None,
        }
    }

    /// How an index names a platform: `linux/arm64/v8`.
    pub fn describe(p: &Value) -> String {
        let mut s = format!(
            "{}/{}",
            p["os"].as_str().unwrap_or("?"),
            p["architecture"].as_str().unwrap_or("?")
        );
        if let Some(v) = p["variant"].as_str() {
            s += &format!("/{v}");
        }
        s
    }

    pub fn matches(&self, p: &Value) -> bool {
        p["os"] == self.os.as_str()
            && p["architecture"] == self.arch.as_str()
            && self
                .variant
                .as_ref()
                .is_none_or(|v| p["variant"] == v.as_str())
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Finds the image `wanted` names (any when the source holds only one).
pub fn find(src: &Source, wanted: Option<&str>, platform: &Platform) -> Result<Image> {
    let wanted = wanted.map(Reference::parse).transpose()?;
    if src.exists("manifest.json") {
        docker_save(src, wanted.as_ref())
    } else if src.exists("repositories") {
        classic(src, wanted.as_ref())
    } else if src.exists("index.json") {
        oci_layout(src, wanted.as_ref(), platform)
    } else {
        bad!(
            "{}: neither a docker save archive (manifest.json, repositories) nor an OCI layout (index.json)",
            src.describe()
        )
    }
}

/// Picks, among images named by `names`, the one `wanted` names; without
/// `wanted`, the only one. Returns its index and the name chosen.
fn choose(
    src: &Source,
    names: &[Vec<String>],
    wanted: Option<&Reference>,
) -> Result<(usize, Option<Reference>)> {
    match wanted {
        Some(w) => {
            for (i, ns) in names.iter().enumerate() {
                for n in ns {
                    if Reference::parse(n).is_ok_and(|r| same_image(&r, w)) {
                        return Ok((i, Some(w.clone())));
                    }
                }
            }
            bad!("{}: no image {w}; it has: {}", src.describe(), list(names))
        }
        None if names.len() == 1 => {
            Ok((0, names[0].first().and_then(|n| Reference::parse(n).ok())))
        }
        None if names.is_empty() => bad!("{}: no image in it", src.describe()),
        None => bad!(
            "{}: several images; choose one with --image: {}",
            src.describe(),
            list(names)
        ),
    }
}

fn same_image(a: &Reference, b: &Reference) -> bool {
    a.registry == b.registry && a.repository == b.repository && a.tag == b.tag
}

fn list(names: &[Vec<String>]) -> String {
    let all: Vec<&str> = names
        .iter()
        .map(|ns| ns.first().map_or("(unnamed)", String::as_str))
        .collect();
    all.join(", ")
}

/// The strings of a JSON list (anything else is none).
pub(crate) fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

/// `blobs/sha256/<hex>` (as docker ≥ 25 and OCI layouts name members),
/// or `<hex>.json` (older docker's configs): the digest the name promises.
fn digest_of_member(member: &str) -> Option<String> {
    let name = normalize(member)?;
    let d = match name.split('/').collect::<Vec<_>>()[..] {
        ["blobs", alg, hex] => format!("{alg}:{hex}"),
        [file] => format!("sha256:{}", file.strip_suffix(".json")?),
        _ => return None,
    };
    check_digest(&d).ok().map(|()| d)
}

/// Reads a JSON member and checks it against `digest` when one is known.
fn json_checked(src: &Source, member: &str, digest: Option<&str>) -> Result<Value> {
    let raw = src.bytes(member)?;
    if let Some(d) = digest
        && !digest::matches(&raw, d)?
    {
        bad!(
            "{}: {member}: digest mismatch (expected {d})",
            src.describe()
        );
    }
    src.parse(member, &raw)
}

fn docker_save(src: &Source, wanted: Option<&Reference>) -> Result<Image> {
    let manifest = src.json("manifest.json")?;
    let Some(entries) = manifest.as_array() else {
        bad!("{}: manifest.json is not a list of images", src.describe());
    };
    let names: Vec<Vec<String>> = entries.iter().map(|e| strings(&e["RepoTags"])).collect();
    let (i, reference) = choose(src, &names, wanted)?;
    let entry = &entries[i];
    let Some(config_member) = entry["Config"].as_str() else {
        bad!("{}: manifest.json: an image without Config", src.describe());
    };
    let image_id = digest_of_member(config_member);
    let config = json_checked(src, config_member, image_id.as_deref())?;
    let members = strings(&entry["Layers"]);
    let diff_ids = strings(&config["rootfs"]["diff_ids"]);
    if !diff_ids.is_empty() && diff_ids.len() != members.len() {
        bad!(
            "{}: the image has {} layers but its config lists {} diff_ids",
            src.describe(),
            members.len(),
            diff_ids.len()
        );
    }
    let layers = members
        .iter()
        .enumerate()
        .map(|(i, m)| Layer {
            member: m.clone(),
            digest: digest_of_member(m),
            diff_id: diff_ids.get(i).cloned(),
        })
        .collect();
    Ok(Image {
        reference,
        config,
        image_id,
        manifest_hash: None,
        layers,
    })
}

/// Classic `docker save`: `repositories` maps names to the top layer's
/// ID; each layer's `<id>/json` names its parent.
fn classic(src: &Source, wanted: Option<&Reference>) -> Result<Image> {
    let repos = src.json("repositories")?;
    let mut names = Vec::new();
    let mut tops = Vec::new();
    for (repo, tags) in repos.as_object().into_iter().flatten() {
        for (tag, id) in tags.as_object().into_iter().flatten() {
            names.push(vec![format!("{repo}:{tag}")]);
            tops.push(id.as_str().unwrap_or_default().to_string());
        }
    }
    let (i, reference) = choose(src, &names, wanted)?;
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let mut next = Some(tops[i].clone());
    let mut top_json = Value::Null;
    while let Some(id) = next {
        let valid = id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid {
            bad!("{}: invalid layer ID {id:?}", src.describe());
        }
        if !seen.insert(id.clone()) {
            bad!("{}: the layers' parents loop at layer {id}", src.describe());
        }
        let json = src.json(&format!("{id}/json"))?;
        next = json["parent"]
            .as_str()
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        if top_json.is_null() {
            top_json = json;
        }
        ids.push(id);
    }
    ids.reverse();
    let layers = ids
        .iter()
        .map(|id| Layer {
            member: format!("{id}/layer.tar"),
            digest: None,
            diff_id: None,
        })
        .collect();
    let config = json!({
        "config": top_json["config"],
        "architecture": top_json["architecture"],
        "os": top_json["os"],
        "created": top_json["created"],
        "author": top_json["author"],
        "comment": top_json["comment"],
    });
    Ok(Image {
        reference,
        config,
        image_id: Some(tops[i].clone()),
        manifest_hash: None,
        layers,
    })
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

fn blob_member(digest: &str) -> Result<String> {
    check_digest(digest)?;
    Ok(format!("blobs/{}", digest.replacen(':', "/", 1)))
}

fn descriptor_digest(src: &Source, d: &Value) -> Result<String> {
    match d["digest"].as_str() {
        Some(s) => {
            check_digest(s)?;
            Ok(s.to_string())
        }
        None => bad!("{}: a descriptor without a digest", src.describe()),
    }
}

/// An OCI layout: `index.json` names images by the
/// `org.opencontainers.image.ref.name` annotation (a tag, or a whole
/// reference); an entry may itself be an index of platforms.
fn oci_layout(src: &Source, wanted: Option<&Reference>, platform: &Platform) -> Result<Image> {
    let index = src.json("index.json")?;
    let descriptors: Vec<&Value> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    // A bare tag is named after the layout (its directory or file name).
    let stem = std::path::Path::new(&src.describe())
        .file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let names: Vec<Vec<String>> = descriptors
        .iter()
        .map(|d| {
            d["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .map(|n| {
                    if n.contains('/') || n.contains(':') {
                        n.to_string()
                    } else {
                        format!("{stem}:{n}")
                    }
                })
                .into_iter()
                .collect()
        })
        .collect();
    let (i, reference) = choose(src, &names, wanted)?;
    let mut descriptor = descriptors[i].clone();
    // Indexes (manifest lists) down to one image manifest, by platform.
    for _ in 0..4 {
        let media = descriptor["mediaType"].as_str().unwrap_or_default();
        if !INDEX_TYPES.contains(&media) {
            break;
        }
        let digest = descriptor_digest(src, &descriptor)?;
        let nested = json_checked(src, &blob_member(&digest)?, Some(&digest))?;
        let choices: Vec<&Value> = nested["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let Some(found) = choices.iter().find(|d| platform.matches(&d["platform"])) else {
            let have: Vec<String> = choices
                .iter()
                .map(|d| Platform::describe(&d["platform"]))
                .collect();
            bad!(
                "{}: no image for {platform} (it has {}); choose with --os/--arch",
                src.describe(),
                have.join(", ")
            );
        };
        descriptor = (*found).clone();
    }
    let manifest_digest = descriptor_digest(src, &descriptor)?;
    let manifest = json_checked(src, &blob_member(&manifest_digest)?, Some(&manifest_digest))?;
    let config_digest = descriptor_digest(src, &manifest["config"])?;
    let config = json_checked(src, &blob_member(&config_digest)?, Some(&config_digest))?;
    let diff_ids = strings(&config["rootfs"]["diff_ids"]);
    let mut layers = Vec::new();
    for (i, d) in manifest["layers"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let digest = descriptor_digest(src, d)?;
        layers.push(Layer {
            member: blob_member(&digest)?,
            digest: Some(digest),
            diff_id: diff_ids.get(i).cloned(),
        });
    }
    Ok(Image {
        reference,
        config,
        image_id: Some(config_digest),
        manifest_hash: Some(manifest_digest),
        layers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_give_digests() {
        let hex = "ab".repeat(32);
        assert_eq!(
            digest_of_member(&format!("blobs/sha256/{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(
            digest_of_member(&format!("{hex}.json")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(digest_of_member("abc/layer.tar"), None);
        assert_eq!(digest_of_member("../x.json"), None);
    }
}
