//! Annotations: free-form name/value pairs, a few with checked values
//! (`created` is a date, `homepage` and `documentation` are http(s) URLs).

use super::{date::Date, names::AcIdentifier, url::Url};
use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub name: AcIdentifier,
    pub value: String,
}

/// `None` is the absent list, printed as `null` where the field is not
/// optional (pod manifests).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Annotations(pub Option<Vec<Annotation>>);

impl Annotations {
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.0.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|a| a.name.as_str() == name)
            .map(|a| a.value.as_str())
    }

    /// Sets `name` to `value`, replacing an existing annotation of that name.
    pub fn set(&mut self, name: AcIdentifier, value: String) -> Result<()> {
        let list = self.0.get_or_insert_with(Vec::new);
        match list.iter_mut().find(|a| a.name == name) {
            Some(a) => a.value = value,
            None => list.push(Annotation { name, value }),
        }
        self.validate()
    }

    pub fn validate(&self) -> Result<()> {
        let mut seen: Vec<&str> = Vec::new();
        for a in self.iter() {
            if seen.contains(&a.name.as_str()) {
                return Err(SchemaError::new(format!(
                    "duplicate annotations of name {}",
                    json::quote(a.name.as_str())
                )));
            }
            seen.push(a.name.as_str());
        }
        if let Some(c) = self.get("created") {
            Date::parse(c)?;
        }
        for key in ["homepage", "documentation"] {
            if let Some(u) = self.get(key) {
                Url::new(u)?;
            }
        }
        Ok(())
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let list = json::list(v, "annotations", |item| {
            let o = json::Obj::new(item, "annotation")?;
            let name = match o.present("name") {
                Some(n) => AcIdentifier::from_value(n, "annotation name")?,
                None => AcIdentifier::empty(),
            };
            Ok(Annotation {
                name,
                value: o.string("value", "annotation value")?,
            })
        })?;
        let a = Annotations(list);
        a.validate()?;
        Ok(a)
    }
}

impl Serialize for Annotations {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}
