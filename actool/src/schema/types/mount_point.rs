//! Mount points: where an app wants a volume mounted.

use super::names::AcName;
use super::params::{Params, parse_bool};
use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    pub name: AcName,
    pub path: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl MountPoint {
    /// `name,path=/var/lib/x[,readOnly=BOOL]`.
    pub fn from_cli(s: &str) -> Result<Self> {
        let mut m = MountPoint {
            name: AcName::empty(),
            path: String::new(),
            read_only: false,
        };
        for (k, v) in Params::parse("name", s)?.single()? {
            match k.as_str() {
                "name" => m.name = AcName::new(&v)?,
                "path" => m.path = v,
                "readOnly" => m.read_only = parse_bool(&v)?,
                _ => {
                    return Err(SchemaError::new(format!(
                        "unknown mountpoint parameter {}",
                        json::quote(&k)
                    )));
                }
            }
        }
        if m.name.is_empty() {
            return Err(SchemaError::new("name must be set"));
        }
        if m.path.is_empty() {
            return Err(SchemaError::new("path must be set"));
        }
        Ok(m)
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "mount point")?;
        Ok(MountPoint {
            name: match o.present("name") {
                Some(n) => AcName::from_value(n, "mount point name")?,
                None => AcName::empty(),
            },
            path: o.string("path", "mount point path")?,
            read_only: o.bool("readOnly", "mount point readOnly")?,
        })
    }
}
