//! Go-compatible access to decoded JSON: case-insensitive keys, `null` as
//! "absent", and errors that name the field concerned.

use super::{Result, SchemaError};
use serde_json::{Map, Value};

/// Parses JSON text, turning syntax errors into one line with the position.
pub(crate) fn parse(text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| SchemaError::new(format!("invalid JSON: {e}")))
}

/// What kind of JSON value this is, in the words of an error message.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(what: &str, expected: &str, v: &Value) -> SchemaError {
    SchemaError::new(format!("{what}: expected {expected}, got {}", kind(v)))
}

/// An object whose fields are looked up as Go's decoder does.
pub(crate) struct Obj<'a>(&'a Map<String, Value>);

impl<'a> Obj<'a> {
    pub(crate) fn new(v: &'a Value, what: &str) -> Result<Self> {
        match v {
            Value::Object(m) => Ok(Obj(m)),
            other => Err(mismatch(what, "an object", other)),
        }
    }

    /// The value of field `name`: the last key equal to it ignoring ASCII
    /// case, as Go assigns every matching key in document order.
    pub(crate) fn get(&self, name: &str) -> Option<&'a Value> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The field's value unless it is absent or `null`.
    pub(crate) fn present(&self, name: &str) -> Option<&'a Value> {
        self.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, name: &str, what: &str) -> Result<String> {
        self.present(name)
            .map_or(Ok(String::new()), |v| string(v, what))
    }

    pub(crate) fn bool(&self, name: &str, what: &str) -> Result<bool> {
        self.present(name).map_or(Ok(false), |v| boolean(v, what))
    }

    pub(crate) fn opt_bool(&self, name: &str, what: &str) -> Result<Option<bool>> {
        self.present(name).map(|v| boolean(v, what)).transpose()
    }
}

pub(crate) fn string(v: &Value, what: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        other => Err(mismatch(what, "a string", other)),
    }
}

pub(crate) fn boolean(v: &Value, what: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        other => Err(mismatch(what, "a boolean", other)),
    }
}

/// An integer that fits `T`; floats, exponents and out-of-range numbers are
/// refused as Go refuses them.
pub(crate) fn integer<T: TryFrom<i128>>(v: &Value, what: &str) -> Result<T> {
    let Value::Number(n) = v else {
        return Err(mismatch(what, "an integer", v));
    };
    n.to_string()
        .parse::<i128>()
        .ok()
        .and_then(|i| T::try_from(i).ok())
        .ok_or_else(|| {
            SchemaError::new(format!(
                "{what}: number {n} is not an integer in the allowed range"
            ))
        })
}

/// An array, each element decoded by `f`; `null` is `None`.
pub(crate) fn list<T>(
    v: &Value,
    what: &str,
    mut f: impl FnMut(&Value) -> Result<T>,
) -> Result<Option<Vec<T>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items.iter().map(&mut f).collect::<Result<_>>().map(Some),
        other => Err(mismatch(what, "an array", other)),
    }
}

pub(crate) fn string_list(v: &Value, what: &str) -> Result<Option<Vec<String>>> {
    list(v, what, |e| match e {
        Value::String(s) => Ok(s.clone()),
        other => Err(mismatch(what, "an array of strings", other)),
    })
}

/// A JSON object of strings, as Go decodes into `map[string]string`.
pub(crate) fn string_map(
    v: &Value,
    what: &str,
) -> Result<Option<std::collections::BTreeMap<String, String>>> {
    match v {
        Value::Null => Ok(None),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                other => Err(mismatch(what, "an object of strings", other)),
            })
            .collect::<Result<_>>()
            .map(Some),
        other => Err(mismatch(what, "an object", other)),
    }
}

/// Quotes a string as Go's `%q` does for the printable text in manifests.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_case_insensitively_and_last_wins() {
        let v = parse(r#"{"name":"a","NAME":"b"}"#).unwrap();
        let o = Obj::new(&v, "x").unwrap();
        assert_eq!(o.string("name", "name").unwrap(), "b");
    }

    #[test]
    fn integers_refuse_fractions_and_overflow() {
        assert_eq!(integer::<i32>(&parse("12").unwrap(), "n").unwrap(), 12);
        assert!(integer::<i32>(&parse("1.5").unwrap(), "n").is_err());
        assert!(integer::<u16>(&parse("-1").unwrap(), "n").is_err());
        assert!(integer::<u8>(&parse("256").unwrap(), "n").is_err());
    }

    #[test]
    fn quote_escapes_like_go() {
        assert_eq!(quote("a\"b\n"), "\"a\\\"b\\n\"");
        assert_eq!(quote("ÄB"), "\"ÄB\"");
    }
}
