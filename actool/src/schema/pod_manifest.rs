//! The pod manifest: the apps of a pod, their images, volumes and ports.

use super::json::{self, Obj};
use super::types::isolator;
use super::types::{
    AcIdentifier, AcKind, AcName, Annotations, App, ExposedPort, Hash, Isolator, Labels, SemVer,
    Volume,
};
use super::{Result, SchemaError};
use serde::{Serialize, Serializer};
use serde_json::Value;
use std::collections::BTreeMap;

/// The image an app of the pod runs, by ID.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeImage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<AcIdentifier>,
    /// Required to serialise, as in the reference.
    #[serde(serialize_with = "required_id")]
    pub id: Option<Hash>,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
}

fn required_id<S: Serializer>(id: &Option<Hash>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match id {
        Some(h) => h.serialize(s),
        None => Err(serde::ser::Error::custom("unexpected empty hash type")),
    }
}

/// A volume mounted into an app, by the volume's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mount {
    pub volume: AcName,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_volume: Option<Volume>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeApp {
    pub name: AcName,
    pub image: RuntimeImage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[serde(rename = "readOnlyRootFS", skip_serializing_if = "std::ops::Not::not")]
    pub read_only_root_fs: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
}

fn name_or_empty(o: &Obj<'_>, key: &str, what: &str) -> Result<AcName> {
    o.present(key)
        .map_or(Ok(AcName::empty()), |n| AcName::from_value(n, what))
}

impl RuntimeApp {
    fn from_value(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "pod app")?;
        let image = match o.present("image") {
            Some(i) => {
                let io = Obj::new(i, "pod app image")?;
                RuntimeImage {
                    name: io
                        .present("name")
                        .map(|n| AcIdentifier::from_value(n, "image name"))
                        .transpose()?,
                    id: io
                        .present("id")
                        .map(|h| Hash::from_value(h, "image id"))
                        .transpose()?,
                    labels: io
                        .present("labels")
                        .map(Labels::from_value)
                        .transpose()?
                        .unwrap_or_default(),
                }
            }
            None => RuntimeImage {
                name: None,
                id: None,
                labels: Labels::default(),
            },
        };
        let mounts = match o.present("mounts") {
            Some(m) => json::list(m, "mounts", |m| {
                let mo = Obj::new(m, "mount")?;
                Ok(Mount {
                    volume: name_or_empty(&mo, "volume", "mount volume")?,
                    path: mo.string("path", "mount path")?,
                    app_volume: mo
                        .present("appVolume")
                        .map(Volume::from_value)
                        .transpose()?,
                })
            })?
            .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(RuntimeApp {
            name: name_or_empty(&o, "name", "app name")?,
            image,
            app: o.present("app").map(App::from_value).transpose()?,
            read_only_root_fs: o.bool("readOnlyRootFS", "readOnlyRootFS")?,
            mounts,
            annotations: o
                .present("annotations")
                .map(Annotations::from_value)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodManifest {
    pub ac_version: SemVer,
    pub ac_kind: AcKind,
    /// `None` prints as `null`, as the reference prints an absent list.
    pub apps: Option<Vec<RuntimeApp>>,
    pub volumes: Option<Vec<Volume>>,
    pub isolators: Option<Vec<Isolator>>,
    pub annotations: Annotations,
    pub ports: Option<Vec<ExposedPort>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_labels: BTreeMap<String, String>,
}

impl PodManifest {
    pub fn from_json(text: &str) -> Result<Self> {
        Self::from_value(&json::parse(text)?)
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "pod manifest")?;
        let kind = o.get("acKind").map(AcKind::from_value).transpose()?;
        let ac_version = o
            .get("acVersion")
            .map(SemVer::from_value)
            .transpose()?
            .unwrap_or_default();
        let apps = match o.present("apps") {
            Some(a) => json::list(a, "apps", RuntimeApp::from_value)?,
            None => None,
        };
        for (i, app) in apps.iter().flatten().enumerate() {
            if apps.iter().flatten().take(i).any(|a| a.name == app.name) {
                return Err(SchemaError::new(format!(
                    "duplicate apps of name {}",
                    json::quote(app.name.as_str())
                )));
            }
        }
        let volumes = match o.present("volumes") {
            Some(v) => json::list(v, "volumes", Volume::from_value)?,
            None => None,
        };
        let isolators = match o.present("isolators") {
            Some(i) => isolator::list_from_value(i)?,
            None => None,
        };
        let annotations = o
            .present("annotations")
            .map(Annotations::from_value)
            .transpose()?;
        let ports = match o.present("ports") {
            Some(p) => json::list(p, "ports", ExposedPort::from_value)?,
            None => None,
        };
        let map = |key: &str| -> Result<BTreeMap<String, String>> {
            Ok(match o.present(key) {
                Some(m) => json::string_map(m, key)?.unwrap_or_default(),
                None => BTreeMap::new(),
            })
        };
        if kind != Some(AcKind::PodManifest) {
            return Err(SchemaError::new(
                r#"missing or bad ACKind (must be "PodManifest")"#,
            ));
        }
        for (i, vol) in volumes.iter().flatten().enumerate() {
            if volumes.iter().flatten().take(i).any(|v| v.name == vol.name) {
                return Err(SchemaError::new(format!(
                    "duplicate volume name {}",
                    json::quote(vol.name.as_str())
                )));
            }
        }
        Ok(PodManifest {
            ac_version,
            ac_kind: AcKind::PodManifest,
            apps,
            volumes,
            isolators,
            annotations: annotations.unwrap_or_default(),
            ports,
            user_annotations: map("userAnnotations")?,
            user_labels: map("userLabels")?,
        })
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| SchemaError::new(e.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for PodManifest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        PodManifest::from_value(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_lists_print_as_null() {
        let m =
            PodManifest::from_json(r#"{"acVersion":"0.8.11","acKind":"PodManifest","apps":[]}"#)
                .unwrap();
        let v: Value = serde_json::from_str(&m.to_json().unwrap()).unwrap();
        assert_eq!(v["apps"], serde_json::json!([]));
        assert!(v["volumes"].is_null());
    }

    #[test]
    fn duplicates_are_refused() {
        let dup_vol = r#"{"acVersion":"0.8.11","acKind":"PodManifest","volumes":[{"name":"v","kind":"empty"},{"name":"v","kind":"host","source":"/tmp"}]}"#;
        assert_eq!(
            PodManifest::from_json(dup_vol).unwrap_err().to_string(),
            r#"duplicate volume name "v""#
        );
    }

    #[test]
    fn an_app_without_image_id_does_not_serialise() {
        let m = PodManifest::from_json(
            r#"{"acVersion":"0.8.11","acKind":"PodManifest","apps":[{"name":"x"}]}"#,
        )
        .unwrap();
        assert!(m.to_json().is_err());
    }
}
