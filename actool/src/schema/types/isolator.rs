//! Isolators: resource limits and security settings for an app or a pod.
//!
//! An isolator keeps its value as written (`value_raw`, printed back
//! unchanged) and, for the kinds the spec defines, the decoded value. The
//! rules for a list of isolators (which kinds may repeat, which conflict)
//! apply to an app's list; a pod's list is checked per isolator only.

use super::names::AcIdentifier;
use super::quantity::Quantity;
use crate::schema::{Result, SchemaError, json};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

pub const RESOURCE_CPU: &str = "resource/cpu";
pub const RESOURCE_MEMORY: &str = "resource/memory";
pub const RESOURCE_BLOCK_BANDWIDTH: &str = "resource/block-bandwidth";
pub const RESOURCE_BLOCK_IOPS: &str = "resource/block-iops";
pub const RESOURCE_NETWORK_BANDWIDTH: &str = "resource/network-bandwidth";
pub const CAPABILITIES_RETAIN: &str = "os/linux/capabilities-retain-set";
pub const CAPABILITIES_REMOVE: &str = "os/linux/capabilities-remove-set";
pub const SECCOMP_RETAIN: &str = "os/linux/seccomp-retain-set";
pub const SECCOMP_REMOVE: &str = "os/linux/seccomp-remove-set";
pub const NO_NEW_PRIVILEGES: &str = "os/linux/no-new-privileges";
pub const SELINUX_CONTEXT: &str = "os/linux/selinux-context";
pub const OOM_SCORE_ADJ: &str = "os/linux/oom-score-adj";
pub const CPU_SHARES: &str = "os/linux/cpu-shares";
pub const SYSCTL: &str = "os/unix/sysctl";

/// Linux capability names, in the kernel's numbering (capability.h).
const LINUX_CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// The kernel's number for a capability name (`CAP_NET_ADMIN`).
pub fn linux_capability(name: &str) -> Option<u32> {
    LINUX_CAPABILITIES
        .iter()
        .position(|&c| c == name)
        .map(|i| i as u32)
}

/// A resource's request and limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub default: bool,
    pub request: Option<Quantity>,
    pub limit: Option<Quantity>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelinuxContext {
    pub user: String,
    pub role: String,
    pub typ: String,
    pub level: String,
}

/// The decoded value of an isolator of a kind the spec defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsolatorValue {
    Cpu(Resource),
    Memory(Resource),
    BlockBandwidth(Resource),
    BlockIops(Resource),
    NetworkBandwidth(Resource),
    CapabilitiesRetain(Vec<String>),
    CapabilitiesRemove(Vec<String>),
    SeccompRetain { set: Vec<String>, errno: String },
    SeccompRemove { set: Vec<String>, errno: String },
    NoNewPrivileges(bool),
    SelinuxContext(SelinuxContext),
    OomScoreAdj(i64),
    CpuShares(i64),
    Sysctl(BTreeMap<String, String>),
}

impl IsolatorValue {
    fn multiple_allowed(&self) -> bool {
        !matches!(
            self,
            IsolatorValue::SeccompRetain { .. }
                | IsolatorValue::SeccompRemove { .. }
                | IsolatorValue::SelinuxContext(_)
                | IsolatorValue::OomScoreAdj(_)
                | IsolatorValue::CpuShares(_)
                | IsolatorValue::Sysctl(_)
        )
    }

    fn conflicts(&self) -> &'static [&'static str] {
        match self {
            IsolatorValue::SeccompRetain { .. } => &[SECCOMP_REMOVE],
            IsolatorValue::SeccompRemove { .. } => &[SECCOMP_RETAIN],
            _ => &[],
        }
    }
}

/// A quantity as the reference decodes it: a string or a bare number,
/// trimmed; anything else fails to parse.
fn quantity(v: Option<&Value>) -> Result<Option<Quantity>> {
    let text = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Quantity::parse(text.trim()).map(Some)
}

fn resource(v: &Value, name: &str, default_must_be: bool) -> Result<Resource> {
    let o = json::Obj::new(v, name)?;
    let r = Resource {
        default: o.bool("default", "default")?,
        request: quantity(o.get("request"))?,
        limit: quantity(o.get("limit"))?,
    };
    if r.default != default_must_be {
        return Err(SchemaError::new(format!(
            "default must be {default_must_be}"
        )));
    }
    Ok(r)
}

fn set(o: &json::Obj<'_>, name: &str) -> Result<Vec<String>> {
    let set = match o.get("set") {
        Some(v) => json::string_list(v, &format!("{name} set"))?.unwrap_or_default(),
        None => Vec::new(),
    };
    if set.is_empty() {
        return Err(SchemaError::new("set must be non-empty"));
    }
    Ok(set)
}

fn seccomp(v: &Value, name: &str) -> Result<(Vec<String>, String)> {
    let o = json::Obj::new(v, name)?;
    let set = set(&o, name)?;
    let errno = o.string("errno", "errno")?;
    if !errno.is_empty() {
        if !errno.starts_with('E') {
            return Err(SchemaError::new(format!(
                "errno must start with an 'E' character, got {errno}"
            )));
        }
        if !errno
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(SchemaError::new(format!(
                "errno can only contain upper case or numeric characters, got {errno}"
            )));
        }
    }
    Ok((set, errno))
}

fn bounded(v: &Value, name: &str, min: i64, max: i64) -> Result<i64> {
    let n: i64 = json::integer(v, name)?;
    if n < min || n > max {
        return Err(SchemaError::new(format!(
            "{name} must be between {min} and {max}, got {n}"
        )));
    }
    Ok(n)
}

fn selinux(v: &Value) -> Result<SelinuxContext> {
    let o = json::Obj::new(v, SELINUX_CONTEXT)?;
    let ctx = SelinuxContext {
        user: o.string("user", "user")?,
        role: o.string("role", "role")?,
        typ: o.string("type", "type")?,
        level: o.string("level", "level")?,
    };
    for (what, val) in [("user", &ctx.user), ("role", &ctx.role), ("type", &ctx.typ)] {
        if val.is_empty() || val.contains(':') {
            return Err(SchemaError::new(format!(
                "invalid {what} value {}",
                json::quote(val)
            )));
        }
    }
    if ctx.level.is_empty() {
        return Err(SchemaError::new(r#"invalid level value """#));
    }
    Ok(ctx)
}

/// Decodes the value of a known isolator kind; `None` for other names.
fn decode(name: &str, v: &Value) -> Result<Option<IsolatorValue>> {
    use IsolatorValue as I;
    Ok(Some(match name {
        RESOURCE_CPU => I::Cpu(resource(v, name, false)?),
        RESOURCE_MEMORY => I::Memory(resource(v, name, false)?),
        RESOURCE_BLOCK_BANDWIDTH => I::BlockBandwidth(resource(v, name, true)?),
        RESOURCE_BLOCK_IOPS => I::BlockIops(resource(v, name, true)?),
        RESOURCE_NETWORK_BANDWIDTH => I::NetworkBandwidth(resource(v, name, true)?),
        CAPABILITIES_RETAIN => I::CapabilitiesRetain(set(&json::Obj::new(v, name)?, name)?),
        CAPABILITIES_REMOVE => I::CapabilitiesRemove(set(&json::Obj::new(v, name)?, name)?),
        SECCOMP_RETAIN => {
            let (set, errno) = seccomp(v, name)?;
            I::SeccompRetain { set, errno }
        }
        SECCOMP_REMOVE => {
            let (set, errno) = seccomp(v, name)?;
            I::SeccompRemove { set, errno }
        }
        NO_NEW_PRIVILEGES => match v {
            Value::Bool(b) => I::NoNewPrivileges(*b),
            other => {
                return Err(SchemaError::new(format!(
                    "{name}: expected a boolean, got {}",
                    json::kind(other)
                )));
            }
        },
        SELINUX_CONTEXT => I::SelinuxContext(selinux(v)?),
        OOM_SCORE_ADJ => I::OomScoreAdj(bounded(v, name, -1000, 1000)?),
        CPU_SHARES => I::CpuShares(bounded(v, name, 2, 262144)?),
        SYSCTL => I::Sysctl(json::string_map(v, name)?.unwrap_or_default()),
        _ => return Ok(None),
    }))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Isolator {
    pub name: AcIdentifier,
    #[serde(rename = "value")]
    pub value_raw: Option<Value>,
    #[serde(skip)]
    value: Option<IsolatorValue>,
}

impl Isolator {
    /// An isolator from its name and JSON value, checked as on parse.
    pub fn new(name: &str, value: Value) -> Result<Self> {
        let name = AcIdentifier::new(name)?;
        let decoded = if value.is_null() {
            None
        } else {
            decode(name.as_str(), &value)?
        };
        if decoded.is_none() && value.is_null() && is_known(name.as_str()) {
            return Err(missing_value(name.as_str()));
        }
        Ok(Isolator {
            name,
            value_raw: Some(value),
            value: decoded,
        })
    }

    /// The decoded value, for the kinds the spec defines.
    pub fn value(&self) -> Option<&IsolatorValue> {
        self.value.as_ref()
    }

    pub fn from_value(v: &Value) -> Result<Self> {
        let o = json::Obj::new(v, "isolator")?;
        let name = match o.present("name") {
            Some(n) => AcIdentifier::from_value(n, "isolator name")?,
            None => AcIdentifier::empty(),
        };
        let raw = o.present("value").cloned();
        let value = match &raw {
            Some(v) => decode(name.as_str(), v)?,
            // The reference crashes here; a known isolator needs a value.
            None if is_known(name.as_str()) => return Err(missing_value(name.as_str())),
            None => None,
        };
        Ok(Isolator {
            name,
            value_raw: raw,
            value,
        })
    }
}

fn is_known(name: &str) -> bool {
    decode(name, &Value::Null).is_err()
}

fn missing_value(name: &str) -> SchemaError {
    SchemaError::new(format!("isolator {name} has no value"))
}

/// Isolators of an app: each known, repeated only where allowed, and no two
/// that conflict.
pub fn validate_app_isolators(list: &[Isolator]) -> Result<()> {
    let mut seen: Vec<&str> = Vec::new();
    for i in list {
        let Some(v) = i.value() else {
            return Err(SchemaError::new("invalid isolator"));
        };
        let name = i.name.as_str();
        if seen.contains(&name) && !v.multiple_allowed() {
            return Err(SchemaError::new(format!(
                "isolators set contains too many instances of type {name}\""
            )));
        }
        if v.conflicts().iter().any(|c| seen.contains(c)) {
            return Err(SchemaError::new(
                "isolators set contains incompatible types",
            ));
        }
        seen.push(name);
    }
    Ok(())
}

pub fn list_from_value(v: &Value) -> Result<Option<Vec<Isolator>>> {
    json::list(v, "isolators", Isolator::from_value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> Result<Isolator> {
        Isolator::from_value(&serde_json::from_str(s).unwrap())
    }

    #[test]
    fn values() {
        let i = iso(r#"{"name":"resource/memory","value":{"limit":1000}}"#).unwrap();
        let Some(IsolatorValue::Memory(r)) = i.value() else {
            panic!()
        };
        assert_eq!(r.limit.as_ref().unwrap().to_string(), "1k");
        assert_eq!(
            iso(r#"{"name":"resource/memory","value":{"default":true}}"#)
                .unwrap_err()
                .to_string(),
            "default must be false"
        );
        assert!(iso(r#"{"name":"os/linux/cpu-shares","value":1.5}"#).is_err());
        assert_eq!(
            iso(r#"{"name":"os/linux/oom-score-adj","value":1001}"#)
                .unwrap_err()
                .to_string(),
            "os/linux/oom-score-adj must be between -1000 and 1000, got 1001"
        );
        assert!(
            iso(r#"{"name":"example.com/custom"}"#)
                .unwrap()
                .value()
                .is_none()
        );
    }

    #[test]
    fn missing_values_are_errors_not_crashes() {
        assert!(iso(r#"{"name":"resource/cpu"}"#).is_err());
        assert!(iso(r#"{"name":"os/linux/no-new-privileges","value":null}"#).is_err());
    }

    #[test]
    fn list_rules() {
        let l = |s: &str| {
            let v: Value = serde_json::from_str(s).unwrap();
            validate_app_isolators(&list_from_value(&v).unwrap().unwrap())
        };
        assert!(l(r#"[{"name":"resource/memory","value":{"limit":"1G"}},{"name":"resource/memory","value":{"limit":"2G"}}]"#).is_ok());
        assert!(l(r#"[{"name":"os/linux/cpu-shares","value":512},{"name":"os/linux/cpu-shares","value":1024}]"#).is_err());
        assert_eq!(
            l(r#"[{"name":"os/linux/seccomp-remove-set","value":{"set":["reboot"]}},{"name":"os/linux/seccomp-retain-set","value":{"set":["read"]}}]"#)
                .unwrap_err()
                .to_string(),
            "isolators set contains incompatible types"
        );
        assert!(l(r#"[{"name":"example.com/unknown","value":{}}]"#).is_err());
    }
}
