//! The reference's 27 archives: our verdict, image ID, manifest reading and
//! error message against the reference's answers in `expected.json`, and
//! `actool validate`'s exit status against the reference actool's.

use appc::aci::{manifest_from_archive, validate_archive};
use serde_json::Value;
use std::fs::File;

/// Archives where we knowingly answer differently, and why.
const DIVERGENCES: &[(&str, &str)] = &[(
    "quirk-rootfs-prefixed-toplevel.aci",
    "a top-level 'rootfsfoo' is not under rootfs/; the reference's prefix check accepts it by mistake, we refuse it",
)];

/// Archives both refuse, with a message of ours that is clearer or more
/// precise than the reference's.
const OWN_MESSAGES: &[(&str, &str)] = &[
    (
        "invalid-duplicate-manifest.aci",
        "duplicate file entry in archive: manifest",
    ),
    (
        "invalid-absolute-manifest.aci",
        "entry \"/manifest\" is an absolute path",
    ),
    ("invalid-empty-tar.aci", "unable to detect filetype"),
    ("invalid-not-an-archive.aci", "unable to detect filetype"),
    ("invalid-gzip-of-text.aci", "error reading archive"),
    (
        "invalid-manifest-json.aci",
        "image manifest validation failed: invalid JSON",
    ),
];

#[test]
fn reference_archives() {
    let Some(dir) = spec_tests::require_data_dir() else {
        return;
    };
    let dir = dir.join("aci-archives");
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let actool = spec_tests::actool_binary();
    let mut failures = Vec::new();
    for case in &expected {
        let file = case["File"].as_str().unwrap();
        let open = || File::open(dir.join(file)).unwrap();
        let ours = validate_archive(open(), true);
        if let Some((_, why)) = DIVERGENCES.iter().find(|(f, _)| *f == file) {
            eprintln!("{file}: deliberate divergence: {why}");
            assert!(
                ours.is_err() && case["ValidateArchiveOK"] == true,
                "{file}: divergence no longer holds"
            );
            continue;
        }
        let want_ok = case["ValidateArchiveOK"].as_bool().unwrap();
        match (&ours, want_ok) {
            (Ok(info), true) => {
                let id = info
                    .image_id
                    .as_ref()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                if id != case["ImageID"].as_str().unwrap() {
                    failures.push(format!(
                        "{file}: image ID {id}, reference {}",
                        case["ImageID"]
                    ));
                }
            }
            (Err(e), false) => {
                let msg = e.to_string();
                let reference = case["ValidateArchiveError"].as_str().unwrap();
                let agreed = match OWN_MESSAGES.iter().find(|(f, _)| *f == file) {
                    Some((_, ours)) => msg.starts_with(ours),
                    None => msg == reference,
                };
                if !agreed {
                    failures.push(format!("{file}: message {msg:?}, reference {reference:?}"));
                }
            }
            (Ok(_), false) => failures.push(format!("{file}: we accept, the reference refuses")),
            (Err(e), true) => {
                failures.push(format!("{file}: we refuse ({e}), the reference accepts"))
            }
        }
        let exit = std::process::Command::new(&actool)
            .arg("validate")
            .arg(dir.join(file))
            .output()
            .unwrap()
            .status
            .code();
        if exit != case["ActoolValidateExit"].as_i64().map(|c| c as i32) {
            failures.push(format!(
                "{file}: actool validate exited {exit:?}, reference {}",
                case["ActoolValidateExit"]
            ));
        }
        let manifest_ok = manifest_from_archive(open()).is_ok();
        if manifest_ok != case["ManifestFromImageOK"].as_bool().unwrap() {
            failures.push(format!(
                "{file}: manifest readable = {manifest_ok}, reference disagrees"
            ));
        }
    }
    eprintln!(
        "{} archives, {} disagreements",
        expected.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
