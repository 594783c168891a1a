//! The image manifest: what an ACI is and how to run it.

use super::json::{self, Obj};
use super::types::{AcIdentifier, AcKind, Annotations, App, Hash, Labels, SemVer};
use super::{Result, SchemaError};
use serde::Serialize;
use serde_json::Value;

/// Another image this one is layered on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub image_name: AcIdentifier,
    #[serde(rename = "imageID", skip_serializing_if = "Option::is_none")]
    pub image_id: Option<Hash>,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "is_zero")]
    pub size: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Dependency {
    fn from_value(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "dependency")?;
        let image_name = match o.present("imageName") {
            Some(n) => AcIdentifier::from_value(n, "imageName")?,
            None => return Err(SchemaError::new("imageName cannot be empty")),
        };
        Ok(Dependency {
            image_name,
            image_id: o
                .present("imageID")
                .map(|h| Hash::from_value(h, "imageID"))
                .transpose()?,
            labels: o
                .present("labels")
                .map(Labels::from_value)
                .transpose()?
                .unwrap_or_default(),
            size: o
                .present("size")
                .map_or(Ok(0), |s| json::integer(s, "dependency size"))?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub ac_kind: AcKind,
    pub ac_version: SemVer,
    pub name: AcIdentifier,
    #[serde(skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<App>,
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_whitelist: Vec<String>,
}

impl ImageManifest {
    /// A minimal manifest for `name` at the current spec version.
    pub fn new(name: AcIdentifier) -> Self {
        ImageManifest {
            ac_kind: AcKind::ImageManifest,
            ac_version: SemVer::new(super::AC_VERSION).expect("the spec version is valid"),
            name,
            labels: Labels::default(),
            app: None,
            annotations: Annotations::default(),
            dependencies: Vec::new(),
            path_whitelist: Vec::new(),
        }
    }

    /// Parses and validates a manifest from JSON text.
    pub fn from_json(text: &str) -> Result<Self> {
        Self::from_value(&json::parse(text)?)
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = Obj::new(v, "image manifest")?;
        let kind = o.get("acKind").map(AcKind::from_value).transpose()?;
        let version = o.get("acVersion").map(SemVer::from_value).transpose()?;
        let name = o
            .get("name")
            .map(|n| AcIdentifier::from_value(n, "name"))
            .transpose()?;
        let labels = o.present("labels").map(Labels::from_value).transpose()?;
        let app = o.present("app").map(App::from_value).transpose()?;
        let annotations = o
            .present("annotations")
            .map(Annotations::from_value)
            .transpose()?;
        let dependencies = match o.present("dependencies") {
            Some(d) => json::list(d, "dependencies", Dependency::from_value)?.unwrap_or_default(),
            None => Vec::new(),
        };
        let path_whitelist = match o.present("pathWhitelist") {
            Some(p) => json::string_list(p, "pathWhitelist")?.unwrap_or_default(),
            None => Vec::new(),
        };
        if kind != Some(AcKind::ImageManifest) {
            return Err(SchemaError::new(
                r#"missing or bad ACKind (must be "ImageManifest")"#,
            ));
        }
        let Some(ac_version) = version else {
            return Err(SchemaError::new("acVersion must be set"));
        };
        let Some(name) = name else {
            return Err(SchemaError::new("name must be set"));
        };
        Ok(ImageManifest {
            ac_kind: AcKind::ImageManifest,
            ac_version,
            name,
            labels: labels.unwrap_or_default(),
            app,
            annotations: annotations.unwrap_or_default(),
            dependencies,
            path_whitelist,
        })
    }

    /// Checks the rules that edits (such as `actool patch-manifest`) could
    /// break after parsing.
    pub fn validate(&self) -> Result<()> {
        if let Some(app) = &self.app {
            app.validate()?;
        }
        self.annotations.validate()
    }

    /// The manifest as compact JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| SchemaError::new(e.to_string()))
    }
}

impl<'de> serde::Deserialize<'de> for ImageManifest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        ImageManifest::from_value(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_fields() {
        let e = |s: &str| ImageManifest::from_json(s).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"name":"a"}"#),
            r#"missing or bad ACKind (must be "ImageManifest")"#
        );
        assert_eq!(
            e(r#"{"acKind":"ImageManifest","name":"a"}"#),
            "acVersion must be set"
        );
        assert_eq!(
            e(r#"{"acKind":"ImageManifest","acVersion":"0.8.11"}"#),
            "name must be set"
        );
        assert_eq!(
            e(r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"a","dependencies":[{}]}"#),
            "imageName cannot be empty"
        );
    }

    #[test]
    fn a_nameless_label_parses_but_does_not_print_as_in_the_reference() {
        let text = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"x","labels":[{"value":"a"}]}"#;
        let m = ImageManifest::from_json(text).unwrap();
        assert_eq!(
            m.to_json().unwrap_err().to_string(),
            "ACIdentifier cannot be empty"
        );
    }

    #[test]
    fn round_trip() {
        let text = r#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/test","labels":[{"name":"os","value":"linux"}],"app":{"exec":["/bin/sh"],"user":"0","group":"0"}}"#;
        let m = ImageManifest::from_json(text).unwrap();
        assert_eq!(m.to_json().unwrap(), text);
        let again: ImageManifest = serde_json::from_str(&m.to_json().unwrap()).unwrap();
        assert_eq!(again, m);
    }
}
