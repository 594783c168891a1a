//! Every case of the reference's oracle files, through our library.
//!
//! Agreement means: the same verdict (accepted or refused), the same
//! recorded outputs, and the same error message, except where the message
//! comes from Go's JSON decoder (type and syntax errors, whose wording is
//! Go's own) or the reference crashed (we must return an error instead).
//! There are no deliberate divergences in these files: where the reference
//! crashes (an isolator without a value) we refuse the input, which agrees
//! with its verdict.

use serde_json::Value;
use spec_tests::oracle::{Case, evaluate};

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

fn run(file: &str) {
    let Some(dir) = spec_tests::require_data_dir() else {
        return;
    };
    let path = dir.join("oracle").join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cases: Vec<Value> = serde_json::from_str(&text).expect("oracle file is JSON");
    let (mut agree, mut messages) = (0, 0);
    let mut failures = Vec::new();
    for raw in &cases {
        let case = Case::from_value(raw);
        let ours = evaluate(file, &case);
        let verdict = ours.ok == case.ok;
        let output = case.output.is_null() || outputs_agree(&case.output, &ours.output);
        let message_applies = !case.ok && !case.panic && !go_decoder_message(&case.error);
        let message = !message_applies || ours.error == case.error;
        if message_applies && message {
            messages += 1;
        }
        if verdict && output && message {
            agree += 1;
        } else {
            failures.push(format!(
                "input {:?}\n  reference: ok={} error={:?} output={}\n  ours:      ok={} error={:?} output={}",
                case.input, case.ok, case.error, case.output, ours.ok, ours.error, ours.output
            ));
        }
    }
    eprintln!(
        "{file}: {} cases, {agree} agree, {messages} error messages identical",
        cases.len()
    );
    assert!(
        failures.is_empty(),
        "{file}: {} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

macro_rules! oracle_tests {
    ($($name:ident),* $(,)?) => {
        $( #[test] fn $name() { run(stringify!($name)); } )*
    };
}

oracle_tests!(
    acidentifier,
    acname,
    ackind_json,
    annotations_json,
    app_isolators_json,
    app_json,
    date_json,
    discovery_app_string,
    env_name,
    hash,
    image_manifest_json,
    isolator_json,
    labels_json,
    mountpoint_string,
    pod_manifest_json,
    port_string,
    quantity,
    semver_json,
    url_json,
    uuid,
    volume_json,
    volume_string,
);

/// Every oracle file has a test above.
#[test]
fn every_oracle_file_is_covered() {
    let Some(dir) = spec_tests::require_data_dir() else {
        return;
    };
    let covered = [
        "acidentifier",
        "acname",
        "ackind_json",
        "annotations_json",
        "app_isolators_json",
        "app_json",
        "date_json",
        "discovery_app_string",
        "env_name",
        "hash",
        "image_manifest_json",
        "isolator_json",
        "labels_json",
        "mountpoint_string",
        "pod_manifest_json",
        "port_string",
        "quantity",
        "semver_json",
        "url_json",
        "uuid",
        "volume_json",
        "volume_string",
    ];
    for entry in std::fs::read_dir(dir.join("oracle")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".json") {
            assert!(covered.contains(&stem), "oracle file {name} has no test");
        }
    }
}
