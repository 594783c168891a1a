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
use spec_tests::oracle::{Agreement, Case, check};

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
        match check(file, &Case::from_value(raw)) {
            Ok(Agreement { message_identical }) => {
                agree += 1;
                messages += message_identical as usize;
            }
            Err(why) => failures.push(why),
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

/// Whole manifests also go through `actool validate --type=manifest`: it
/// must accept exactly what the reference accepted. A document declaring
/// the other kind is skipped: the reference's `actool validate` (like ours)
/// picks the parser by `acKind`, while the oracle fed it to one parser.
#[test]
fn manifests_through_actool_validate() {
    let Some(dir) = spec_tests::require_data_dir() else {
        return;
    };
    let actool = spec_tests::actool_binary();
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (file, other_kind) in [
        ("image_manifest_json", "PodManifest"),
        ("pod_manifest_json", "ImageManifest"),
    ] {
        let text =
            std::fs::read_to_string(dir.join("oracle").join(format!("{file}.json"))).unwrap();
        let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
        for (i, raw) in cases.iter().enumerate() {
            let case = Case::from_value(raw);
            let declared = serde_json::from_str::<Value>(&case.input)
                .ok()
                .and_then(|v| v.get("acKind").cloned());
            if declared.as_ref().and_then(Value::as_str) == Some(other_kind) {
                continue;
            }
            let path = tmp.path().join(format!("{file}-{i}.json"));
            std::fs::write(&path, &case.input).unwrap();
            let out = std::process::Command::new(&actool)
                .args(["validate", "--type=manifest"])
                .arg(&path)
                .output()
                .unwrap();
            let expected = if case.ok { 0 } else { 1 };
            if out.status.code() != Some(expected) {
                failures.push(format!(
                    "{file} #{i}: exit {:?}, expected {expected}",
                    out.status.code()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
