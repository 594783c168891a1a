//! The `name,key=value,...` strings of the command line (volumes, mount
//! points, ports, image names), parsed as the reference parses them, with
//! its messages for bad numbers and booleans.

use crate::schema::{Result, SchemaError, json};

/// Parameters in order of first appearance, each with all its values.
pub(crate) struct Params(Vec<(String, Vec<String>)>);

impl Params {
    /// Parses `first_key=` + `s`: comma-separated `key=value` pairs, the
    /// value being everything after the first `=`.
    pub(crate) fn parse(first_key: &str, s: &str) -> Result<Self> {
        let full = format!("{first_key}={s}");
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for part in full.split(',') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(SchemaError::new(format!(
                    "malformed string {} - has a label without a value: {part}",
                    json::quote(&full)
                )));
            };
            match out.iter_mut().find(|(key, _)| key == k) {
                Some((_, vals)) => vals.push(v.to_string()),
                None => out.push((k.to_string(), vec![v.to_string()])),
            }
        }
        Ok(Params(out))
    }

    /// Each key with its single value; a repeated key is an error.
    pub(crate) fn single(self) -> Result<Vec<(String, String)>> {
        self.0
            .into_iter()
            .map(|(k, mut vals)| {
                if vals.len() > 1 {
                    let quoted: Vec<String> = vals.iter().map(|v| json::quote(v)).collect();
                    return Err(SchemaError::new(format!(
                        "label {k} with multiple values [{}]",
                        quoted.join(" ")
                    )));
                }
                Ok((k, vals.pop().unwrap_or_default()))
            })
            .collect()
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Result<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(SchemaError::new(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            json::quote(s)
        ))),
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)`.
pub(crate) fn parse_u16(s: &str) -> Result<u16> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SchemaError::new(format!(
            "strconv.ParseUint: parsing {}: invalid syntax",
            json::quote(s)
        )));
    }
    s.parse().map_err(|_| {
        SchemaError::new(format!(
            "strconv.ParseUint: parsing {}: value out of range",
            json::quote(s)
        ))
    })
}

/// Go's `strconv.Atoi` for the ranges volumes use.
pub(crate) fn parse_int(s: &str) -> Result<i64> {
    s.parse().map_err(|_| {
        SchemaError::new(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            json::quote(s)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let p = Params::parse("name", "x,a=1,b=2=3")
            .unwrap()
            .single()
            .unwrap();
        assert_eq!(p[2], ("b".to_string(), "2=3".to_string()));
        assert!(Params::parse("name", "x,a").is_err());
        let e = Params::parse("name", "x,a=1,a=2")
            .unwrap()
            .single()
            .unwrap_err();
        assert_eq!(e.to_string(), r#"label a with multiple values ["1" "2"]"#);
        assert!(
            parse_u16("65536")
                .unwrap_err()
                .to_string()
                .contains("out of range")
        );
        assert!(parse_bool("maybe").is_err());
    }
}
