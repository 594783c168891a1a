//! Image names as users type them: `example.com/app:1.0.0,os=linux`. The
//! part after `:` is the `version` label.

use crate::schema::types::AcIdentifier;
use crate::schema::types::params::Params;
use crate::schema::{Result, SchemaError};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppName {
    pub name: AcIdentifier,
    pub labels: BTreeMap<AcIdentifier, String>,
}

impl AppName {
    pub fn parse(s: &str) -> Result<Self> {
        let first_comma = s.find(',');
        let first_colon = s.find(':');
        if let (Some(colon), Some(comma)) = (first_colon, first_comma)
            && colon > comma
        {
            return Err(SchemaError::new(
                "malformed app string - colon may appear only right after the app name",
            ));
        }
        if s.matches(':').count() > 1 {
            return Err(SchemaError::new(
                "malformed app string - colon may appear at most once",
            ));
        }
        let prepared = s.replacen(':', ",version=", 1);
        let mut name = String::new();
        let mut labels = BTreeMap::new();
        for (k, v) in Params::parse("name", &prepared)?.single()? {
            if k == "name" {
                name = v;
            } else {
                labels.insert(AcIdentifier::new(&k)?, v);
            }
        }
        Ok(AppName {
            name: AcIdentifier::new(&name)?,
            labels,
        })
    }

    /// The `version` label, if given.
    pub fn version(&self) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k.as_str() == "version")
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(v) = self.version() {
            write!(f, ":{v}")?;
        }
        for (k, v) in self.labels.iter().filter(|(k, _)| k.as_str() != "version") {
            write!(f, ",{k}={v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_strings() {
        let a = AppName::parse("example.com/app:1.0.0,os=linux,arch=amd64").unwrap();
        assert_eq!(a.version(), Some("1.0.0"));
        assert_eq!(a.to_string(), "example.com/app:1.0.0,arch=amd64,os=linux");
        assert!(AppName::parse("example.com/app,a=1:2").is_err());
        assert!(AppName::parse("example.com/app:1:2").is_err());
        assert_eq!(
            AppName::parse("example.com/app,name=foo")
                .unwrap_err()
                .to_string(),
            r#"label name with multiple values ["example.com/app" "foo"]"#
        );
    }
}
