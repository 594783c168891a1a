//! The image manifest of the converted image, mapped from the Docker/OCI
//! image configuration as the reference docker2aci maps it: exec is
//! Entrypoint + Cmd; user `""` → 0/0, `u` → u/u, `u:g`; ports named
//! `8080-tcp`; volumes as mount points `volume-<path>`; labels version,
//! os, arch (appc's names); `appc.io/docker/*` annotations; the image's
//! Docker labels as the app's userLabels.

use crate::error::{Result, bad};
use crate::image::{Image, strings};
use crate::reference::Reference;
use appc::schema::ImageManifest;
use appc::schema::image_manifest::Dependency;
use appc::schema::types::{AcIdentifier, AcName};
use serde_json::{Map, Value, json};

/// appc's os/arch labels for a Docker/OCI platform; `None` for an
/// architecture appc has no name for.
pub fn appc_arch(arch: &str, variant: Option<&str>) -> Option<&'static str> {
    Some(match (arch, variant) {
        ("amd64", _) => "amd64",
        ("386", _) => "i386",
        ("arm64", _) => "aarch64",
        ("arm", Some("v7")) => "armv7l",
        ("arm", Some("v6") | None) => "armv6l",
        ("ppc64", _) => "ppc64",
        ("ppc64le", _) => "ppc64le",
        ("s390x", _) => "s390x",
        _ => return None,
    })
}

/// The os and arch labels of an image configuration, in appc's names
/// (none for an os or arch appc does not name).
fn platform_labels(config: &Value) -> Vec<Value> {
    let mut labels = Vec::new();
    let os = config["os"].as_str().unwrap_or_default();
    if os == "linux" || os == "freebsd" {
        labels.push(json!({"name": "os", "value": os}));
        let arch = config["architecture"].as_str().unwrap_or_default();
        if let Some(a) = appc_arch(arch, config["variant"].as_str()) {
            labels.push(json!({"name": "arch", "value": a}));
        }
    }
    labels
}

/// `user[:group]` as appc's user and group.
fn user_group(user: &str) -> (String, String) {
    match user.split_once(':') {
        _ if user.is_empty() => ("0".into(), "0".into()),
        Some((u, g)) => (u.into(), g.into()),
        None => (user.into(), user.into()),
    }
}

fn ports(exposed: &Value) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for key in exposed.as_object().into_iter().flat_map(Map::keys) {
        let (number, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        let Ok(port) = number.parse::<u16>() else {
            bad!("image config: exposed port {key:?} is not a port number");
        };
        let name = AcName::sanitize(key).map_err(|e| crate::error::Error::Bad(e.to_string()))?;
        out.push(json!({"name": name, "protocol": proto, "port": port}));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(out)
}

fn mount_points(volumes: &Value) -> Result<Vec<Value>> {
    let mut paths: Vec<&String> = volumes
        .as_object()
        .into_iter()
        .flat_map(Map::keys)
        .collect();
    paths.sort();
    let mut out: Vec<Value> = Vec::new();
    for path in paths {
        let base = AcName::sanitize(&format!("volume/{}", path.trim_start_matches('/')))
            .map_err(|e| crate::error::Error::Bad(e.to_string()))?;
        let taken = |n: &str| out.iter().any(|m| m["name"] == n);
        let mut name = base.clone();
        let mut i = 1;
        while taken(&name) {
            name = format!("{base}-{i}");
            i += 1;
        }
        out.push(json!({"name": name, "path": path}));
    }
    out.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(out)
}

/// The manifest for `image` named `reference`; `original` is the name as
/// the user gave it (or as the source listed it).
pub fn manifest(image: &Image, reference: &Reference, original: &str) -> Result<ImageManifest> {
    let config = &image.config;
    let inner = &config["config"];
    let bad_name = |e: appc::schema::SchemaError| crate::error::Error::Bad(e.to_string());
    let name = AcIdentifier::sanitize(&reference.image_name()).map_err(bad_name)?;
    let mut labels = Vec::new();
    if let Some(tag) = &reference.tag {
        labels.push(json!({"name": "version", "value": tag}));
    }
    labels.extend(platform_labels(config));
    let mut annotations = Vec::new();
    let mut annotate = |name: &str, value: Option<String>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            annotations.push(json!({"name": name, "value": v}));
        }
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    annotate("author", text(&config["author"]));
    annotate("created", text(&config["created"]));
    annotate("appc.io/docker/originalname", Some(original.to_string()));
    annotate(
        "appc.io/docker/registryurl",
        Some(reference.registry.clone()),
    );
    annotate(
        "appc.io/docker/repository",
        Some(reference.repository.clone()),
    );
    annotate("appc.io/docker/imageid", image.image_id.clone());
    annotate("appc.io/docker/manifesthash", image.manifest_hash.clone());
    let entrypoint = strings(&inner["Entrypoint"]);
    let cmd = strings(&inner["Cmd"]);
    let as_json = |l: &[String]| (!l.is_empty()).then(|| Value::from(l.to_vec()).to_string());
    annotate("appc.io/docker/entrypoint", as_json(&entrypoint));
    annotate("appc.io/docker/cmd", as_json(&cmd));

    let mut manifest = json!({
        "acKind": "ImageManifest",
        "acVersion": appc::schema::AC_VERSION,
        "name": name,
        "labels": labels,
        "annotations": annotations,
    });
    if inner.is_object() {
        let exec: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        let (user, group) = user_group(inner["User"].as_str().unwrap_or_default());
        let mut env: Vec<(String, String)> = Vec::new();
        for kv in strings(&inner["Env"]) {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            match env.iter_mut().find(|(name, _)| name == k) {
                Some(e) => e.1 = v.to_string(),
                None => env.push((k.to_string(), v.to_string())),
            }
        }
        let mut app = json!({
            "exec": if exec.is_empty() { Value::Null } else { json!(exec) },
            "user": user,
            "group": group,
            "workingDirectory": inner["WorkingDir"].as_str().unwrap_or_default(),
            "environment": env.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
            "mountPoints": mount_points(&inner["Volumes"])?,
            "ports": ports(&inner["ExposedPorts"])?,
        });
        if let Some(l) = inner["Labels"].as_object().filter(|l| !l.is_empty()) {
            app["userLabels"] = json!(
                l.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), Value::from(v))))
                    .collect::<Map<String, Value>>()
            );
        }
        manifest["app"] = app;
    }
    let parsed = ImageManifest::from_value(&manifest)
        .and_then(|m| m.validate().map(|()| m))
        .map_err(|e| crate::error::Error::Bad(format!("the converted manifest: {e}")))?;
    Ok(parsed)
}

/// The manifest of lower layer `k`'s ACI (`--nosquash`): named for the
/// image and the layer, with the image's os/arch and the paths the image
/// has once the layer is applied.
pub fn layer_manifest(
    image: &Image,
    reference: &Reference,
    k: usize,
    whitelist: Vec<String>,
) -> Result<ImageManifest> {
    let layer = &image.layers[k];
    let id = layer
        .diff_id
        .as_deref()
        .or(layer.digest.as_deref())
        .map_or_else(|| format!("layer{k}"), |d| d.replacen(':', "-", 1));
    let bad_name = |e: appc::schema::SchemaError| crate::error::Error::Bad(e.to_string());
    let name =
        AcIdentifier::sanitize(&format!("{}-{id}", reference.image_name())).map_err(bad_name)?;
    let labels = platform_labels(&image.config);
    let manifest = json!({"acKind": "ImageManifest", "acVersion": appc::schema::AC_VERSION,
        "name": name, "labels": labels, "pathWhitelist": whitelist});
    ImageManifest::from_value(&manifest)
        .map_err(|e| crate::error::Error::Bad(format!("the converted manifest: {e}")))
}

/// A dependency on the image `m` describes, by name and labels.
pub fn dependency_on(m: &ImageManifest) -> Dependency {
    Dependency {
        image_name: m.name.clone(),
        image_id: None,
        labels: m.labels.clone(),
        size: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(config: Value) -> Image {
        Image {
            reference: None,
            config,
            image_id: Some(format!("sha256:{}", "1".repeat(64))),
            manifest_hash: None,
            layers: Vec::new(),
        }
    }

    #[test]
    fn maps_the_config_as_the_reference() {
        let img = image(
            json!({"os": "linux", "architecture": "arm64", "created": "2026-01-02T03:04:05Z",
            "config": {"Entrypoint": ["/bin/web"], "Cmd": ["--port", "80"], "User": "www",
                "Env": ["PATH=/bin", "A=1", "A=2", "broken"], "WorkingDir": "/srv",
                "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}, "/var/log": {}},
                "Labels": {"maintainer": "me"}}}),
        );
        let r = Reference::parse("web:2.0").unwrap();
        let m = manifest(&img, &r, "web:2.0").unwrap();
        let v: Value = serde_json::from_str(&m.to_json().unwrap()).unwrap();
        assert_eq!(v["name"], "registry-1.docker.io/library/web");
        assert_eq!(
            v["labels"],
            json!([{"name": "version", "value": "2.0"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": "aarch64"}])
        );
        let app = &v["app"];
        assert_eq!(app["exec"], json!(["/bin/web", "--port", "80"]));
        assert_eq!(
            (app["user"].as_str(), app["group"].as_str()),
            (Some("www"), Some("www"))
        );
        assert_eq!(
            app["environment"],
            json!([{"name": "PATH", "value": "/bin"}, {"name": "A", "value": "2"}])
        );
        assert_eq!(
            app["ports"],
            json!([{"name": "53-udp", "protocol": "udp", "port": 53, "count": 1, "socketActivated": false},
                   {"name": "80-tcp", "protocol": "tcp", "port": 80, "count": 1, "socketActivated": false}])
        );
        assert_eq!(
            app["mountPoints"],
            json!([{"name": "volume-data", "path": "/data"},
                   {"name": "volume-var-log", "path": "/var/log"}])
        );
        assert_eq!(app["userLabels"], json!({"maintainer": "me"}));
        let annotation = |n: &str| {
            v["annotations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == n)
                .map(|a| a["value"].clone())
        };
        assert_eq!(
            annotation("appc.io/docker/cmd"),
            Some(json!("[\"--port\",\"80\"]"))
        );
        assert_eq!(
            annotation("appc.io/docker/repository"),
            Some(json!("library/web"))
        );
        assert_eq!(annotation("created"), Some(json!("2026-01-02T03:04:05Z")));
    }

    #[test]
    fn users_and_groups() {
        assert_eq!(user_group(""), ("0".into(), "0".into()));
        assert_eq!(user_group("1000"), ("1000".into(), "1000".into()));
        assert_eq!(user_group("1000:50"), ("1000".into(), "50".into()));
    }
}
