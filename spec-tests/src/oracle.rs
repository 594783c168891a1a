//! Runs one oracle case through our library and reports what the
//! reference's harness reported: accepted or not, the error, and the
//! normalised outputs it recorded.

use appc::discovery::AppName;
use appc::schema::types::environment::validate_env_name;
use appc::schema::types::isolator::Resource;
use appc::schema::types::labels::to_go_os_arch;
use appc::schema::types::{
    AcIdentifier, AcKind, AcName, Annotations, App, Date, Hash, Isolator, IsolatorValue, Labels,
    MountPoint, Port, Quantity, SemVer, Url, Uuid, Volume,
};
use appc::schema::{ImageManifest, PodManifest, SchemaError};
use serde::Serialize;
use serde_json::{Map, Value, json};

/// One case of an oracle file.
#[derive(Debug, Clone)]
pub struct Case {
    pub input: String,
    pub ok: bool,
    pub error: String,
    pub panic: bool,
    pub output: Value,
}

impl Case {
    pub fn from_value(v: &Value) -> Case {
        Case {
            input: v["input"].as_str().unwrap_or_default().to_string(),
            ok: v["ok"].as_bool().unwrap_or(false),
            error: v["error"].as_str().unwrap_or_default().to_string(),
            panic: v.get("panic").is_some_and(|p| !p.is_null()),
            output: v.get("output").cloned().unwrap_or(Value::Null),
        }
    }
}

/// What our implementation answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub ok: bool,
    pub error: String,
    pub output: Value,
}

fn answer<T, E: std::fmt::Display>(
    r: Result<T, E>,
    output: impl FnOnce(Option<&T>) -> Value,
) -> Answer {
    match r {
        Ok(t) => Answer {
            ok: true,
            error: String::new(),
            output: output(Some(&t)),
        },
        Err(e) => Answer {
            ok: false,
            error: e.to_string(),
            output: output(None),
        },
    }
}

/// Our error text, for comparison with the reference's.
fn text<T>(r: Result<T, SchemaError>) -> Result<T, String> {
    r.map_err(|e| e.to_string())
}

fn json_input(input: &str) -> Result<Value, String> {
    serde_json::from_str(input).map_err(|e| format!("invalid JSON: {e}"))
}

/// Decodes a JSON document with `f`.
fn decode<T>(input: &str, f: impl FnOnce(&Value) -> Result<T, SchemaError>) -> Result<T, String> {
    json_input(input).and_then(|v| text(f(&v)))
}

fn remarshal<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or_else(|e| Value::String(format!("MARSHAL ERROR: {e}")))
}

fn remarshaled<T: Serialize>(t: Option<&T>) -> Value {
    t.map_or(Value::Null, |t| json!({ "remarshaled": remarshal(t) }))
}

/// A JSON string document as the reference's string-based types read it:
/// `null` reads as the empty string.
fn json_string(input: &str) -> Result<String, String> {
    match json_input(input)? {
        Value::String(s) => Ok(s),
        Value::Null => Ok(String::new()),
        other => Err(format!("expected a JSON string, got {other}")),
    }
}

fn names(regex: (&str, bool), sanitized: Result<String, SchemaError>) -> Value {
    let mut m = Map::new();
    m.insert(regex.0.into(), Value::Bool(regex.1));
    match sanitized {
        Ok(s) => {
            m.insert("sanitized".into(), Value::String(s));
        }
        Err(e) => {
            m.insert("sanitized".into(), Value::String(String::new()));
            m.insert("sanitize_error".into(), Value::String(e.to_string()));
        }
    }
    Value::Object(m)
}

fn quantity_fields(m: &mut Map<String, Value>, prefix: &str, q: &Option<Quantity>) {
    if let Some(q) = q {
        m.insert(format!("{prefix}_string"), json!(q.to_string()));
        m.insert(format!("{prefix}_value"), json!(q.value()));
        m.insert(format!("{prefix}_milli"), json!(q.milli_value()));
    }
}

/// The reference's Go type name for an isolator value.
pub fn go_type(v: &IsolatorValue) -> &'static str {
    use IsolatorValue as I;
    match v {
        I::Cpu(_) => "*types.ResourceCPU",
        I::Memory(_) => "*types.ResourceMemory",
        I::BlockBandwidth(_) => "*types.ResourceBlockBandwidth",
        I::BlockIops(_) => "*types.ResourceBlockIOPS",
        I::NetworkBandwidth(_) => "*types.ResourceNetworkBandwidth",
        I::CapabilitiesRetain(_) => "*types.LinuxCapabilitiesRetainSet",
        I::CapabilitiesRemove(_) => "*types.LinuxCapabilitiesRevokeSet",
        I::SeccompRetain { .. } => "*types.LinuxSeccompRetainSet",
        I::SeccompRemove { .. } => "*types.LinuxSeccompRemoveSet",
        I::NoNewPrivileges(_) => "*types.LinuxNoNewPrivileges",
        I::SelinuxContext(_) => "*types.LinuxSELinuxContext",
        I::OomScoreAdj(_) => "*types.LinuxOOMScoreAdj",
        I::CpuShares(_) => "*types.LinuxCPUShares",
        I::Sysctl(_) => "*types.UnixSysctl",
    }
}

fn isolator_output(i: &Isolator) -> Value {
    let mut m = Map::new();
    m.insert("recognized".into(), json!(i.value().is_some()));
    m.insert(
        "value_type".into(),
        json!(i.value().map_or("<nil>", go_type)),
    );
    use IsolatorValue as I;
    if let Some(
        I::Cpu(r) | I::Memory(r) | I::BlockBandwidth(r) | I::BlockIops(r) | I::NetworkBandwidth(r),
    ) = i.value()
    {
        let Resource {
            default,
            request,
            limit,
        } = r;
        m.insert("default".into(), json!(default));
        quantity_fields(&mut m, "request", request);
        quantity_fields(&mut m, "limit", limit);
    }
    Value::Object(m)
}

/// Evaluates `case` of oracle file `file` (its name without `.json`).
pub fn evaluate(file: &str, case: &Case) -> Answer {
    let input = case.input.as_str();
    match file {
        "acidentifier" => answer(AcIdentifier::new(input), |_| {
            let r = (
                "matches_ValidACIdentifier_regex",
                AcIdentifier::matches_spec_regex(input),
            );
            names(r, AcIdentifier::sanitize(input))
        }),
        "acname" => answer(AcName::new(input), |_| {
            let r = (
                "matches_ValidACName_regex",
                AcName::matches_spec_regex(input),
            );
            names(r, AcName::sanitize(input))
        }),
        "ackind_json" => answer(decode(input, AcKind::from_value), |_| Value::Null),
        "semver_json" => answer(decode(input, SemVer::from_value), |v| {
            v.map_or(Value::Null, |v| {
                json!({"major": v.major, "minor": v.minor, "patch": v.patch,
                       "prerelease": v.prerelease, "metadata": v.metadata, "string": v.to_string()})
            })
        }),
        "hash" => answer(Hash::new(input), |h| {
            let mut m = json!({ "ShortHash": appc::schema::types::hash::short_hash(input) });
            if let Some(h) = h {
                m["string"] = json!(h.to_string());
            }
            m
        }),
        "uuid" => answer(Uuid::new(input), |u| {
            u.map_or(Value::Null, |u| {
                let e = if u.is_empty() {
                    "UUID cannot be empty"
                } else {
                    ""
                };
                json!({"json_unmarshal_error": e, "string": u.to_string()})
            })
        }),
        "date_json" => answer(
            json_string(input).and_then(|s| text(Date::parse(&s))),
            |d| d.map_or(Value::Null, |d| json!({ "string": d.to_string() })),
        ),
        "url_json" => answer(json_string(input).and_then(|s| text(Url::new(&s))), |u| {
            u.map_or(Value::Null, |u| json!({ "string": u.to_string() }))
        }),
        "labels_json" => answer(decode(input, Labels::from_value), |l| {
            l.map_or(Value::Null, |l| {
                let (os, arch) = (l.get("os").unwrap_or(""), l.get("arch").unwrap_or(""));
                let go = match to_go_os_arch(os, arch) {
                    Ok((a, b, c)) => json!([a, b, c, ""]),
                    Err(e) => json!(["", "", "", e.to_string()]),
                };
                json!({ "ToGoOSArch": go, "remarshaled": remarshal(l) })
            })
        }),
        "env_name" => answer(validate_env_name(input), |_| Value::Null),
        "annotations_json" => answer(decode(input, Annotations::from_value), remarshaled),
        "quantity" => answer(Quantity::parse(input), |q| {
            q.map_or(Value::Null, |q| {
                json!({"json": q.to_string(), "string": q.to_string(),
                       "value": q.value(), "milli_value": q.milli_value()})
            })
        }),
        "isolator_json" => answer(decode(input, Isolator::from_value), |i| {
            i.map_or(Value::Null, isolator_output)
        }),
        "app_isolators_json" => {
            let doc = case.output["app_doc"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            answer(decode(&doc, App::from_value), |_| json!({ "app_doc": doc }))
        }
        "app_json" => answer(decode(input, App::from_value), remarshaled),
        "image_manifest_json" => answer(ImageManifest::from_json(input), remarshaled),
        "pod_manifest_json" => answer(PodManifest::from_json(input), remarshaled),
        "volume_string" => answer(Volume::from_cli(input), volume_output),
        "volume_json" => answer(decode(input, Volume::from_value), volume_output),
        "mountpoint_string" => answer(MountPoint::from_cli(input), |m| {
            m.map_or(Value::Null, |m| json!({ "json": remarshal(m) }))
        }),
        "port_string" => answer(Port::from_cli(input), |p| {
            p.map_or(Value::Null, |p| json!({ "json": remarshal(p) }))
        }),
        "discovery_app_string" => answer(AppName::parse(input), |a| {
            a.map_or(Value::Null, |a| {
                let labels: Map<String, Value> = a
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                json!({ "name": a.name.to_string(), "labels": labels })
            })
        }),
        other => panic!("no evaluator for oracle file {other}"),
    }
}

fn volume_output(v: Option<&Volume>) -> Value {
    v.map_or(
        Value::Null,
        |v| json!({ "json": remarshal(v), "string": v.to_string() }),
    )
}

/// Messages whose wording belongs to Go's decoder, not to the spec.
fn go_decoder_message(msg: &str) -> bool {
    [
        "json: ",
        "invalid character",
        "unexpected end of JSON",
        "\nError at line",
        "encoding/hex",
    ]
    .iter()
    .any(|p| msg.starts_with(p))
}

fn outputs_agree(expected: &Value, ours: &Value) -> bool {
    match (expected, ours) {
        (Value::Object(e), Value::Object(o)) => {
            e.len() == o.len()
                && e.iter()
                    .all(|(k, v)| o.get(k).is_some_and(|ov| outputs_agree(v, ov)))
        }
        // The reference's serialisation errors name Go types; agreeing
        // means failing to serialise too.
        (Value::String(e), Value::String(o)) if e.starts_with("MARSHAL ERROR") => {
            o.starts_with("MARSHAL ERROR")
        }
        (Value::Array(e), Value::Array(o)) => {
            e.len() == o.len() && e.iter().zip(o).all(|(a, b)| outputs_agree(a, b))
        }
        (Value::Number(e), Value::Number(o)) => e.to_string() == o.to_string(),
        _ => expected == ours,
    }
}

/// How a case agreed.
pub struct Agreement {
    /// The case was refused and our message is the expected one word for
    /// word (false where messages are not compared).
    pub message_identical: bool,
}

/// Runs `case` and compares: the same verdict, the same recorded outputs,
/// and the same error message, except where the expected message comes
/// from Go's JSON decoder or the reference crashed (we must return an error
/// instead). On disagreement, says how.
pub fn check(file: &str, case: &Case) -> Result<Agreement, String> {
    let ours = evaluate(file, case);
    let verdict = ours.ok == case.ok;
    let output = case.output.is_null() || outputs_agree(&case.output, &ours.output);
    let message_applies = !case.ok && !case.panic && !go_decoder_message(&case.error);
    let message = !message_applies || ours.error == case.error;
    if verdict && output && message {
        return Ok(Agreement {
            message_identical: message_applies,
        });
    }
    Err(format!(
        "{file}: input {:?}\n  expected: ok={} error={:?} output={}\n  ours:     ok={} error={:?} output={}",
        case.input, case.ok, case.error, case.output, ours.ok, ours.error, ours.output
    ))
}
