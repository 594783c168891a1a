//! The `app` of an image or pod: what to run and how.

use super::environment::Environment;
use super::isolator::{self, Isolator};
use super::mount_point::MountPoint;
use super::port::Port;
use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventHandler {
    /// `None` is an absent exec, printed as `null`.
    pub exec: Option<Vec<String>>,
    pub name: String,
}

impl EventHandler {
    fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "eventHandler")?;
        let name = o.string("name", "eventHandler name")?;
        match name.as_str() {
            "pre-start" | "post-stop" => {}
            "" => return Err(SchemaError::new(r#"eventHandler "name" cannot be empty"#)),
            other => {
                return Err(SchemaError::new(format!(
                    r#"bad eventHandler "name": {}"#,
                    json::quote(other)
                )));
            }
        }
        let exec = match o.get("exec") {
            Some(e) => json::string_list(e, "eventHandler exec")?,
            None => None,
        };
        Ok(EventHandler { exec, name })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct App {
    /// The command and its arguments; `None` prints as `null`.
    pub exec: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub event_handlers: Vec<EventHandler>,
    pub user: String,
    pub group: String,
    #[serde(rename = "supplementaryGIDs", skip_serializing_if = "Vec::is_empty")]
    pub supplementary_gids: Vec<i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_directory: String,
    #[serde(skip_serializing_if = "Environment::is_empty")]
    pub environment: Environment,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub isolators: Vec<Isolator>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mount_points: Vec<MountPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub user_labels: BTreeMap<String, String>,
}

impl App {
    /// The app's own rules: user and group set, an absolute working
    /// directory, one handler per event, valid environment and isolators.
    pub fn validate(&self) -> Result<()> {
        if self.user.is_empty() {
            return Err(SchemaError::new("user is required"));
        }
        if self.group.is_empty() {
            return Err(SchemaError::new("group is required"));
        }
        if !self.working_directory.is_empty() && !self.working_directory.starts_with('/') {
            return Err(SchemaError::new(
                "workingDirectory must be an absolute path",
            ));
        }
        for (i, h) in self.event_handlers.iter().enumerate() {
            if self.event_handlers[..i].iter().any(|e| e.name == h.name) {
                return Err(SchemaError::new(format!(
                    "Only one eventHandler of name {} allowed",
                    json::quote(&h.name)
                )));
            }
        }
        self.environment.validate()?;
        isolator::validate_app_isolators(&self.isolators)
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "app")?;
        let list = |key: &str| o.get(key).filter(|v| !v.is_null());
        let app = App {
            exec: match o.get("exec") {
                Some(e) => json::string_list(e, "app exec")?,
                None => None,
            },
            event_handlers: match list("eventHandlers") {
                Some(l) => {
                    json::list(l, "eventHandlers", EventHandler::from_value)?.unwrap_or_default()
                }
                None => Vec::new(),
            },
            user: o.string("user", "app user")?,
            group: o.string("group", "app group")?,
            supplementary_gids: match list("supplementaryGIDs") {
                Some(l) => json::list(l, "supplementaryGIDs", |g| {
                    json::integer(g, "supplementary GID")
                })?
                .unwrap_or_default(),
                None => Vec::new(),
            },
            working_directory: o.string("workingDirectory", "app workingDirectory")?,
            environment: match list("environment") {
                Some(e) => Environment::from_value(e)?,
                None => Environment::default(),
            },
            isolators: match list("isolators") {
                Some(i) => isolator::list_from_value(i)?.unwrap_or_default(),
                None => Vec::new(),
            },
            mount_points: match list("mountPoints") {
                Some(m) => {
                    json::list(m, "mountPoints", MountPoint::from_value)?.unwrap_or_default()
                }
                None => Vec::new(),
            },
            ports: match list("ports") {
                Some(p) => json::list(p, "ports", Port::from_value)?.unwrap_or_default(),
                None => Vec::new(),
            },
            user_annotations: match list("userAnnotations") {
                Some(m) => json::string_map(m, "userAnnotations")?.unwrap_or_default(),
                None => BTreeMap::new(),
            },
            user_labels: match list("userLabels") {
                Some(m) => json::string_map(m, "userLabels")?.unwrap_or_default(),
                None => BTreeMap::new(),
            },
        };
        app.validate()?;
        Ok(app)
    }
}

impl<'de> serde::Deserialize<'de> for App {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        App::from_value(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(s: &str) -> Result<App> {
        App::from_value(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn required_fields() {
        assert_eq!(
            app(r#"{"exec":["/a"]}"#).unwrap_err().to_string(),
            "user is required"
        );
        assert_eq!(
            app(r#"{"exec":["/a"],"user":"0"}"#)
                .unwrap_err()
                .to_string(),
            "group is required"
        );
        assert!(app(r#"{"user":"0","group":"0"}"#).unwrap().exec.is_none());
        assert!(app(r#"{"exec":["/a"],"user":"0","group":"0","workingDirectory":"x"}"#).is_err());
    }

    #[test]
    fn round_trip_keeps_the_reference_shape() {
        let a =
            app(r#"{"Exec":["/a"],"User":"0","Group":"0","eventHandlers":[{"name":"pre-start"}]}"#)
                .unwrap();
        let out = serde_json::to_value(&a).unwrap();
        assert_eq!(
            out,
            serde_json::json!({"exec":["/a"],"user":"0","group":"0","eventHandlers":[{"exec":null,"name":"pre-start"}]})
        );
    }
}
