//! Image labels, with the spec's os/arch whitelist.

use super::names::AcIdentifier;
use crate::schema::{Result, SchemaError, json};
use serde::{Serialize, Serializer};
use serde_json::Value;

/// The os/arch pairs the spec allows, in the reference's order.
pub const VALID_OS_ARCH: &[(&str, &[&str])] = &[
    ("darwin", &["x86_64", "i386"]),
    ("freebsd", &["amd64", "i386", "arm"]),
    (
        "linux",
        &[
            "amd64",
            "i386",
            "aarch64",
            "aarch64_be",
            "armv6l",
            "armv7l",
            "armv7b",
            "ppc64",
            "ppc64le",
            "s390x",
        ],
    ),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Label {
    pub name: AcIdentifier,
    pub value: String,
}

/// A list of labels: no duplicates, no `name` label, whitelisted os/arch.
/// `None` is the absent list (printed as `null`), as in the reference.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(pub Option<Vec<Label>>);

/// Checks an os/arch pair against the whitelist; either may be absent.
pub fn validate_os_arch(os: Option<&str>, arch: Option<&str>) -> Result<()> {
    let Some(os) = os else { return Ok(()) };
    let Some((_, archs)) = VALID_OS_ARCH.iter().find(|(o, _)| *o == os) else {
        let oses: Vec<&str> = VALID_OS_ARCH.iter().map(|(o, _)| *o).collect();
        return Err(SchemaError::new(format!(
            "bad os {} (must be one of: [{}])",
            json::quote(os),
            oses.join(" ")
        )));
    };
    match arch {
        Some(arch) if !archs.contains(&arch) => Err(SchemaError::new(format!(
            "bad arch {} for {os} (must be one of: [{}])",
            json::quote(arch),
            archs.join(" ")
        ))),
        _ => Ok(()),
    }
}

/// Maps appc os/arch labels to Go's GOOS, GOARCH and GOARM, as the
/// reference's `ToGoOSArch` does.
pub fn to_go_os_arch(os: &str, arch: &str) -> Result<(&'static str, &'static str, &'static str)> {
    Ok(match (os, arch) {
        ("linux", "amd64") => ("linux", "amd64", ""),
        ("linux", "i386") => ("linux", "386", ""),
        ("linux", "aarch64") => ("linux", "arm64", ""),
        ("linux", "armv6l") => ("linux", "arm", "6"),
        ("linux", "armv7l") => ("linux", "arm", "7"),
        ("linux", "ppc64") => ("linux", "ppc64", ""),
        ("linux", "ppc64le") => ("linux", "ppc64le", ""),
        ("linux", "s390x") => ("linux", "s390x", ""),
        ("freebsd", "amd64") => ("freebsd", "amd64", ""),
        ("freebsd", "i386") => ("freebsd", "386", ""),
        ("freebsd", "arm") => ("freebsd", "arm", "6"),
        _ => {
            return Err(SchemaError::new(format!(
                "unknown arch tuple: {} - {}",
                json::quote(os),
                json::quote(arch)
            )));
        }
    })
}

/// Go's GOOS, GOARCH and GOARM as appc os and arch labels: the inverse
/// of [`to_go_os_arch`] (GOARM only matters for arm).
pub fn from_go_os_arch(
    goos: &str,
    goarch: &str,
    goarm: &str,
) -> Result<(&'static str, &'static str)> {
    let goarm = if goarch == "arm" { goarm } else { "" };
    VALID_OS_ARCH
        .iter()
        .flat_map(|(os, archs)| archs.iter().map(move |arch| (*os, *arch)))
        .find(|(os, arch)| to_go_os_arch(os, arch).is_ok_and(|t| t == (goos, goarch, goarm)))
        .ok_or_else(|| {
            SchemaError::new(format!(
                "no appc os/arch for GOOS={goos} GOARCH={goarch}{}",
                if goarm.is_empty() {
                    String::new()
                } else {
                    format!(" GOARM={goarm}")
                }
            ))
        })
}

impl Labels {
    pub fn new(labels: Vec<Label>) -> Result<Self> {
        let l = Labels(Some(labels));
        l.validate()?;
        Ok(l)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Label> {
        self.0.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|l| l.name.as_str() == name)
            .map(|l| l.value.as_str())
    }

    fn validate(&self) -> Result<()> {
        let mut seen: Vec<&str> = Vec::new();
        for l in self.iter() {
            if l.name.as_str() == "name" {
                return Err(SchemaError::new(r#"invalid label name: "name""#));
            }
            if seen.contains(&l.name.as_str()) {
                return Err(SchemaError::new(format!(
                    "duplicate labels of name {}",
                    json::quote(l.name.as_str())
                )));
            }
            seen.push(l.name.as_str());
        }
        validate_os_arch(self.get("os"), self.get("arch"))
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let list = json::list(v, "labels", |item| {
            let o = json::Obj::new(item, "label")?;
            let name = match o.present("name") {
                Some(n) => AcIdentifier::from_value(n, "label name")?,
                None => AcIdentifier::empty(),
            };
            Ok(Label {
                name,
                value: o.string("value", "label value")?,
            })
        })?;
        let l = Labels(list);
        l.validate()?;
        Ok(l)
    }
}

impl Serialize for Labels {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Labels> {
        Labels::from_value(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn os_arch_whitelist() {
        assert!(
            parse(r#"[{"name":"os","value":"linux"},{"name":"arch","value":"amd64"}]"#).is_ok()
        );
        assert!(parse(r#"[{"name":"arch","value":"whatever"}]"#).is_ok());
        assert_eq!(
            parse(r#"[{"name":"os","value":"windows"}]"#)
                .unwrap_err()
                .to_string(),
            r#"bad os "windows" (must be one of: [darwin freebsd linux])"#
        );
        assert!(
            parse(r#"[{"name":"os","value":"darwin"},{"name":"arch","value":"amd64"}]"#).is_err()
        );
    }

    #[test]
    fn duplicates_and_reserved_names() {
        assert!(parse(r#"[{"name":"os","value":"linux"},{"name":"os","value":"linux"}]"#).is_err());
        assert!(parse(r#"[{"name":"name","value":"x"}]"#).is_err());
        assert!(parse("{}").is_err());
        assert_eq!(parse("null").unwrap(), Labels(None));
    }

    #[test]
    fn go_arch() {
        assert_eq!(
            to_go_os_arch("linux", "aarch64").unwrap(),
            ("linux", "arm64", "")
        );
        assert!(to_go_os_arch("linux", "armv7b").is_err());
        assert_eq!(
            from_go_os_arch("linux", "arm64", "").unwrap(),
            ("linux", "aarch64")
        );
        assert_eq!(
            from_go_os_arch("linux", "amd64", "7").unwrap(),
            ("linux", "amd64")
        );
        assert_eq!(
            from_go_os_arch("linux", "arm", "7").unwrap(),
            ("linux", "armv7l")
        );
        assert_eq!(
            from_go_os_arch("linux", "386", "").unwrap(),
            ("linux", "i386")
        );
        assert!(from_go_os_arch("linux", "mips", "").is_err());
    }
}
