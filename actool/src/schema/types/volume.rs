//! Pod volumes: `host` (a directory of the host) or `empty` (a fresh one).

use super::names::AcName;
use super::params::{Params, parse_bool, parse_int};
use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;
use std::fmt;

const EMPTY_DEFAULT_MODE: &str = "0755";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeKind {
    Host,
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: AcName,
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<i64>,
}

impl Volume {
    /// The volume's kind; validation guarantees it is one of the two.
    pub fn kind(&self) -> VolumeKind {
        if self.kind == "host" {
            VolumeKind::Host
        } else {
            VolumeKind::Empty
        }
    }

    /// Fills in an empty volume's mode, uid and gid defaults, then checks.
    fn finish(mut self) -> Result<Self> {
        if self.kind == "empty" {
            self.mode.get_or_insert_with(|| EMPTY_DEFAULT_MODE.into());
            self.uid.get_or_insert(0);
            self.gid.get_or_insert(0);
        }
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<()> {
        let err = |m: &str| Err(SchemaError::new(m));
        if self.name.is_empty() {
            return err("name must be set");
        }
        match self.kind.as_str() {
            "empty" if !self.source.is_empty() => err("source for empty volume must be empty"),
            "empty" => Ok(()),
            "host" if self.source.is_empty() => err("source for host volume cannot be empty"),
            "host" if self.mode.is_some() => err("mode for host volume cannot be set"),
            "host" if self.uid.is_some() => err("uid for host volume cannot be set"),
            "host" if self.gid.is_some() => err("gid for host volume cannot be set"),
            "host" if !self.source.starts_with('/') => {
                err("source for host volume must be absolute path")
            }
            "host" => Ok(()),
            _ => err(r#"unrecognized volume kind: should be one of "empty", "host""#),
        }
    }

    /// `name,kind=host,source=/x[,readOnly=][,recursive=]` or
    /// `name,kind=empty[,mode=][,uid=][,gid=]`, as `rkt run --volume`.
    pub fn from_cli(s: &str) -> Result<Self> {
        let mut v = Volume {
            name: AcName::empty(),
            kind: String::new(),
            source: String::new(),
            read_only: None,
            recursive: None,
            mode: None,
            uid: None,
            gid: None,
        };
        for (k, val) in Params::parse("name", s)?.single()? {
            match k.as_str() {
                "name" => v.name = AcName::new(&val)?,
                "kind" => v.kind = val,
                "source" => v.source = val,
                "readOnly" => v.read_only = Some(parse_bool(&val)?),
                "recursive" => v.recursive = Some(parse_bool(&val)?),
                "mode" => v.mode = Some(val),
                "uid" => v.uid = Some(parse_int(&val)?),
                "gid" => v.gid = Some(parse_int(&val)?),
                _ => {
                    return Err(SchemaError::new(format!(
                        "unknown volume parameter {}",
                        json::quote(&k)
                    )));
                }
            }
        }
        v.finish()
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "volume")?;
        let int = |key: &str| o.present(key).map(|v| json::integer(v, key)).transpose();
        Volume {
            name: match o.present("name") {
                Some(n) => AcName::from_value(n, "volume name")?,
                None => AcName::empty(),
            },
            kind: o.string("kind", "volume kind")?,
            source: o.string("source", "volume source")?,
            read_only: o.opt_bool("readOnly", "volume readOnly")?,
            recursive: o.opt_bool("recursive", "volume recursive")?,
            mode: o
                .present("mode")
                .map(|m| json::string(m, "volume mode"))
                .transpose()?,
            uid: int("uid")?,
            gid: int("gid")?,
        }
        .finish()
    }
}

impl fmt::Display for Volume {
    /// The command-line form, leaving out defaults.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},kind={}", self.name, self.kind)?;
        if !self.source.is_empty() {
            write!(f, ",source={}", self.source)?;
        }
        if let Some(ro) = self.read_only {
            write!(f, ",readOnly={ro}")?;
        }
        if let Some(r) = self.recursive {
            write!(f, ",recursive={r}")?;
        }
        if self.kind == "empty" {
            if let Some(m) = self.mode.as_deref().filter(|&m| m != EMPTY_DEFAULT_MODE) {
                write!(f, ",mode={m}")?;
            }
            if let Some(u) = self.uid.filter(|&u| u != 0) {
                write!(f, ",uid={u}")?;
            }
            if let Some(g) = self.gid.filter(|&g| g != 0) {
                write!(f, ",gid={g}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes() {
        let v = Volume::from_cli("x,kind=empty,mode=0700,uid=1000,gid=1000").unwrap();
        assert_eq!(v.to_string(), "x,kind=empty,mode=0700,uid=1000,gid=1000");
        assert_eq!(
            Volume::from_cli("foobar,kind=empty")
                .unwrap()
                .mode
                .as_deref(),
            Some("0755")
        );
        assert_eq!(
            Volume::from_cli("foobar,kind=host,uid=3")
                .unwrap_err()
                .to_string(),
            "source for host volume cannot be empty"
        );
        assert!(Volume::from_cli("x,kind=host,source=relative").is_err());
        assert!(Volume::from_value(&serde_json::json!({"name":"v","kind":"tmpfs"})).is_err());
    }
}
