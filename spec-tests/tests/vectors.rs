//! Our own vectors for the important rules (`vectors/rules.json`), in the
//! oracle's format, run whether or not the reference's data is present.

use spec_tests::oracle::{Case, check};

#[test]
fn own_vectors() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/rules.json");
    let cases: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|raw| check(raw["file"].as_str().unwrap(), &Case::from_value(raw)).err())
        .collect();
    eprintln!(
        "{} own vectors, {} disagreements",
        cases.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
