//! The image manifest of a Go command: its name, labels (version, os,
//! arch), app (exec, user, group, ports) and annotations, checked by the
//! appc library before it is written.

use crate::error::{GoaciError, Result};
use serde_json::{Value, json};

/// What the manifest says.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub version: String,
    pub os: String,
    pub arch: String,
    pub exec: Vec<String>,
    pub user: String,
    pub group: String,
    pub ports: Vec<Port>,
    pub annotations: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub protocol: String,
    pub port: u16,
}

/// `--port=NAME:PROTOCOL:PORT`.
pub fn parse_port(spec: &str) -> Result<Port> {
    let bad = || GoaciError::Port(spec.to_string());
    let mut parts = spec.split(':');
    let (Some(name), Some(protocol), Some(port), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(Port {
        name: name.to_string(),
        protocol: protocol.to_string(),
        port: port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?,
    })
}

/// An image name from an import path: lower case, as the reference goaci
/// made it; an error names what appc does not allow.
pub fn image_name(import_path: &str) -> Result<String> {
    let name = import_path.to_lowercase();
    appc::schema::types::AcIdentifier::new(&name).map_err(|e| {
        GoaciError::Manifest(format!(
            "{name:?} cannot be an image name ({e}); give --name"
        ))
    })?;
    Ok(name)
}

/// The manifest's JSON, validated by the appc library.
pub fn to_json(spec: &Spec) -> Result<String> {
    let ports: Vec<Value> = spec
        .ports
        .iter()
        .map(|p| json!({"name": p.name, "protocol": p.protocol, "port": p.port}))
        .collect();
    let annotations: Vec<Value> = spec
        .annotations
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    let mut app = json!({"exec": spec.exec, "user": spec.user, "group": spec.group});
    if !ports.is_empty() {
        app["ports"] = json!(ports);
    }
    let manifest = json!({
        "acKind": "ImageManifest",
        "acVersion": appc::schema::AC_VERSION,
        "name": spec.name,
        "labels": [
            {"name": "version", "value": spec.version},
            {"name": "os", "value": spec.os},
            {"name": "arch", "value": spec.arch}
        ],
        "app": app,
        "annotations": annotations
    });
    let text = serde_json::to_string_pretty(&manifest).expect("JSON values serialise");
    appc::schema::ImageManifest::from_json(&text)
        .map_err(|e| GoaciError::Manifest(e.to_string()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            name: "example.com/hello".into(),
            version: "v1.2.3".into(),
            os: "linux".into(),
            arch: "aarch64".into(),
            exec: vec!["/hello".into(), "--quiet".into()],
            user: "0".into(),
            group: "0".into(),
            ports: vec![parse_port("http:tcp:8080").unwrap()],
            annotations: vec![("created".into(), "1970-01-01T00:00:00Z".into())],
        }
    }

    #[test]
    fn a_valid_manifest() {
        let m: Value = serde_json::from_str(&to_json(&spec()).unwrap()).unwrap();
        assert_eq!(m["labels"][2], json!({"name": "arch", "value": "aarch64"}));
        assert_eq!(m["app"]["ports"][0]["port"], 8080);
        assert_eq!(m["annotations"][0]["value"], "1970-01-01T00:00:00Z");
        let mut bad = spec();
        bad.user = String::new();
        assert!(to_json(&bad).is_err());
    }

    #[test]
    fn ports_and_names() {
        assert!(parse_port("http:tcp").is_err());
        assert!(parse_port("http:tcp:0").is_err());
        assert!(parse_port("http:tcp:99999").is_err());
        assert_eq!(
            image_name("Example.com/Hello/cmd/srv").unwrap(),
            "example.com/hello/cmd/srv"
        );
        assert!(image_name("example.com/a b").is_err());
    }
}
