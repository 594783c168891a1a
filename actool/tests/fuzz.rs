//! Property-based fuzzing of the parsers and the archive validator: no
//! input may crash them, and what they accept must round-trip. CI runs the
//! default number of cases; run longer with e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p actool --test fuzz`.

use appc::aci::validate_archive;
use appc::discovery::AppName;
use appc::schema::types::{MountPoint, Port, Quantity, Volume};
use appc::schema::{ImageManifest, PodManifest};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Arbitrary JSON values, nested a few levels.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-zA-Z0-9/._~:-]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "ImageManifest",
            "PodManifest",
            "0.8.11",
            "0.0.0",
            "os",
            "arch",
            "linux",
            "amd64",
            "resource/cpu",
            "resource/memory",
            "os/linux/cpu-shares",
            "1Gi",
            "500m",
            "1e3",
            "sha512-abc",
            "/bin/sh",
            "created",
            "homepage",
            "pre-start",
            "empty",
            "host",
        ])
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "acKind",
        "acVersion",
        "name",
        "labels",
        "app",
        "annotations",
        "dependencies",
        "pathWhitelist",
        "apps",
        "volumes",
        "isolators",
        "ports",
        "value",
        "exec",
        "user",
        "group",
        "image",
        "id",
        "mounts",
        "kind",
        "source",
        "limit",
        "request",
        "default",
        "set",
        "errno",
        "port",
        "count",
        "hostIP",
        "mountPoints",
        "environment",
        "eventHandlers",
    ])
    .prop_map(str::to_owned)
}

/// A manifest skeleton with arbitrary values under some of its keys.
fn arb_manifest(kind: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec((key(), arb_json()), 0..8).prop_map(move |fields| {
        let mut m = json!({"acKind": kind, "acVersion": "0.8.11", "name": "example.com/x"});
        for (k, v) in fields {
            m[k] = v;
        }
        m.to_string()
    })
}

/// A small valid ACI (plain tar) to mutate.
fn valid_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let manifest = br#"{"acKind":"ImageManifest","acVersion":"0.8.11","name":"example.com/x"}"#;
    let mut add = |name: &str, kind: tar::EntryType, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o755);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("manifest", tar::EntryType::Regular, manifest);
    add("rootfs", tar::EntryType::Directory, b"");
    add("rootfs/bin", tar::EntryType::Directory, b"");
    add(
        "rootfs/bin/app",
        tar::EntryType::Regular,
        b"#!/bin/sh\necho hi\n",
    );
    b.into_inner().unwrap()
}

proptest! {
    // Failures are reported with their minimal input; no files are written.
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    /// What is accepted and prints (a nameless label or port parses but
    /// does not print, as in the reference) parses back and prints the same.
    #[test]
    fn image_manifests_never_crash_and_round_trip(text in arb_manifest("ImageManifest")) {
        if let Ok(out) = ImageManifest::from_json(&text).and_then(|m| m.to_json()) {
            prop_assert_eq!(ImageManifest::from_json(&out).unwrap().to_json().unwrap(), out);
        }
    }

    #[test]
    fn pod_manifests_never_crash_and_round_trip(text in arb_manifest("PodManifest")) {
        // Pods without image IDs parse but do not print, as in the reference.
        if let Ok(out) = PodManifest::from_json(&text).and_then(|m| m.to_json()) {
            prop_assert_eq!(PodManifest::from_json(&out).unwrap().to_json().unwrap(), out);
        }
    }

    #[test]
    fn arbitrary_text_never_crashes_the_manifest_parser(text in ".{0,200}") {
        let _ = ImageManifest::from_json(&text);
        let _ = PodManifest::from_json(&text);
    }

    #[test]
    fn quantities_never_crash(text in "[-+0-9.eEinumkKMGTP ]{0,24}") {
        if let Ok(q) = Quantity::parse(&text) {
            let (_, _) = (q.value(), q.milli_value());
            // The printed form parses back to the same amount.
            let again = Quantity::parse(&q.to_string()).unwrap();
            prop_assert_eq!(again.milli_value(), q.milli_value());
        }
    }

    #[test]
    fn command_line_forms_never_crash(text in "[a-zA-Z0-9,=:/._ -]{0,40}") {
        let _ = AppName::parse(&text);
        let _ = Volume::from_cli(&text);
        let _ = MountPoint::from_cli(&text);
        let _ = Port::from_cli(&text);
    }

    #[test]
    fn mutated_archives_never_crash_the_validator(
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..16),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
        gzip in any::<bool>(),
    ) {
        let mut bytes = valid_tar();
        for (i, b) in &flips {
            let i = i.index(bytes.len());
            bytes[i] ^= b;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        if gzip {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            bytes = enc.finish().unwrap();
        }
        let _ = validate_archive(&bytes[..], true);
        let _ = appc::aci::manifest_from_archive(&bytes[..]);
    }

    #[test]
    fn random_bytes_never_crash_the_validator(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let _ = validate_archive(&bytes[..], false);
    }
}
