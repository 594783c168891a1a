//! An app's environment variables.

use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentVariable {
    pub name: String,
    pub value: String,
}

/// Checks a variable name: `[A-Za-z_][A-Za-z_0-9.-]*`.
pub fn validate_env_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(SchemaError::new(
            "environment variable name must not be empty",
        ));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        return Err(SchemaError::new(format!(
            "environment variable does not have valid identifier {}",
            json::quote(name)
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Environment(pub Vec<EnvironmentVariable>);

impl Environment {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.value.as_str())
    }

    /// Sets `name`, keeping the variable's place if it exists.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        validate_env_name(name)?;
        match self.0.iter_mut().find(|e| e.name == name) {
            Some(e) => e.value = value.to_string(),
            None => self.0.push(EnvironmentVariable {
                name: name.into(),
                value: value.into(),
            }),
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<()> {
        let mut seen: Vec<&str> = Vec::new();
        for e in &self.0 {
            validate_env_name(&e.name)?;
            if seen.contains(&e.name.as_str()) {
                return Err(SchemaError::new(format!(
                    "duplicate environment variable of name {}",
                    json::quote(&e.name)
                )));
            }
            seen.push(&e.name);
        }
        Ok(())
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let list = json::list(v, "environment", |item| {
            let o = json::Obj::new(item, "environment variable")?;
            Ok(EnvironmentVariable {
                name: o.string("name", "environment variable name")?,
                value: o.string("value", "environment variable value")?,
            })
        })?;
        Ok(Environment(list.unwrap_or_default()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["DEBUG", "_0_DEBUG_0_", "DEBUG.0", "DEBUG-0", "a1"] {
            assert!(validate_env_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "0DEBUG", "VERBOSE|DEBUG", "-A", "A B", "A=B", "ÄB"] {
            assert!(validate_env_name(bad).is_err(), "{bad}");
        }
    }
}
